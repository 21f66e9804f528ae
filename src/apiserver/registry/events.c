/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Event (the storage version) and events.k8s.io/v1 Event, which
 * reads and writes the same objects under other field names. */
#include "apiserver/registry/common.h"
#include "lib/strbuf.h"

static const char *const event_fields[] = {
	"involvedObject.kind",
	"involvedObject.namespace",
	"involvedObject.name",
	"involvedObject.uid",
	"involvedObject.apiVersion",
	"involvedObject.resourceVersion",
	"involvedObject.fieldPath",
	"reason",
	"reportingComponent",
	"source",
	"type",
	NULL,
};

static void event_get_fields(json_t *obj, const char **v)
{
	for (size_t i = 0; i < 7; i++)
		v[i] = json_get_str(obj, event_fields[i]);
	v[7] = json_get_str(obj, "reason");
	v[8] = json_get_str(obj, "reportingComponent");
	v[9] = json_get_str(obj, "source.component");
	v[10] = json_get_str(obj, "type");
}

/*
 * The rules every Event write meets, whichever API group it came through.
 * (Kubernetes holds events.k8s.io/v1 writes to stricter ones: eventTime
 * required, the deprecated fields unset, most fields immutable; those need
 * to know the group a request used, which validation is not told.)
 */
static void event_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	const char *ns = str_or_empty(obj, "metadata.namespace");
	const char *ins = str_or_empty(obj, "involvedObject.namespace");
	bool has_event_time = !isempty(json_get_str(obj, "eventTime"));
	if (!has_event_time) {
		/* Old-style events: the namespaces agree (an event about a
		 * cluster-scoped object may live in "default"). */
		if ((!*ins && *ns && !streq(ns, "default")) || (*ins && !streq(ins, ns)))
			fe_invalid_str(fe, "involvedObject.namespace", ins,
				       "does not match event.namespace");
	} else {
		if (!*ins && !streq(ns, "default") && !streq(ns, "kube-system"))
			fe_invalid_str(fe, "involvedObject.namespace", ins,
				       "does not match event.namespace");
		const char *rc = str_or_empty(obj, "reportingComponent");
		if (!*rc)
			fe_required(fe, "reportingComponent", NULL);
		validate_qualified_name_at(rc, "reportingComponent", fe);
		static const struct {
			const char *key;
			size_t max;
			bool required;
		} limits[] = {
			{ "reportingInstance", 128, true },
			{ "action", 128, true },
			{ "reason", 128, true },
			{ "message", 1024, false },
		};
		for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
			const char *v = str_or_empty(obj, limits[i].key);
			if (limits[i].required && !*v)
				fe_required(fe, limits[i].key, NULL);
			if (strlen(v) > limits[i].max) {
				_cleanup_free_ char *m =
				    xasprintf("can have at most %zu characters", limits[i].max);
				fe_invalid_str(fe, limits[i].key, "", m);
			}
		}
	}
	validate_dns_subdomain_at(ns, "namespace", fe);
}

static const struct table_column event_columns[] = {
	{ "Last Seen", "string", "", "Time since the event was last seen.", 0 },
	{ "Type", "string", "", "Normal or Warning.", 0 },
	{ "Reason", "string", "", "Short machine-readable reason.", 0 },
	{ "Object", "string", "", "The object the event is about.", 0 },
	{ "Subobject", "string", "", "The part of the object the event is about.", 1 },
	{ "Source", "string", "", "The component that reported the event.", 1 },
	{ "Message", "string", "", "A human-readable description.", 0 },
	{ "First Seen", "string", "", "Time since the event was first seen.", 1 },
	{ "Count", "string", "", "How many times the event occurred.", 1 },
	{ "Name", "string", "name", "Name of the event object.", 1 },
};

static char *lower(const char *s)
{
	char *r = xstrdup(s ? s : "");
	for (char *p = r; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return r;
}

static void event_row(json_t *obj, json_t *cells, int64_t now)
{
	char last[32], first[32];
	const char *lt = json_get_str(obj, "lastTimestamp");
	if (isempty(lt))
		lt = json_get_str(obj, "eventTime");
	if (isempty(lt))
		lt = json_get_str(obj, "metadata.creationTimestamp");
	const char *ft = json_get_str(obj, "firstTimestamp");
	if (isempty(ft))
		ft = json_get_str(obj, "eventTime");
	if (isempty(ft))
		ft = json_get_str(obj, "metadata.creationTimestamp");
	format_age(lt, now, last);
	format_age(ft, now, first);
	_cleanup_free_ char *kind = lower(json_get_str(obj, "involvedObject.kind"));
	_cleanup_free_ char *object =
	    xasprintf("%s/%s", kind, str_or_empty(obj, "involvedObject.name"));
	struct strbuf src = STRBUF_INIT;
	strbuf_addstr(&src, str_or_empty(obj, "source.component"));
	if (isempty(strbuf_str(&src)))
		strbuf_addstr(&src, str_or_empty(obj, "reportingComponent"));
	const char *host = json_get_str(obj, "source.host");
	if (!isempty(host))
		strbuf_addf(&src, ", %s", host);
	int64_t count = json_get_int(obj, "count", 0);
	if (count == 0)
		count = json_get_int(obj, "series.count", 1);
	char cnt[24];
	snprintf(cnt, sizeof(cnt), "%lld", (long long)count);

	cell_str(cells, last);
	cell_str(cells, str_or_empty(obj, "type"));
	cell_str(cells, str_or_empty(obj, "reason"));
	cell_str(cells, object);
	cell_str(cells, str_or_empty(obj, "involvedObject.fieldPath"));
	cell_str(cells, strbuf_str(&src));
	cell_str(cells, str_or_empty(obj, "message"));
	cell_str(cells, first);
	cell_str(cells, cnt);
	cell_str(cells, json_get_str(obj, "metadata.name"));
	strbuf_release(&src);
}

const struct resource resource_events = {
	RESOURCE_CORE_V1,	    .kind = "Event",	      .plural = "events",
	.singular = "event",	    .namespaced = true,	      .short_names = STRV("ev"),
	.type_name = "Event",	    .fields = event_fields,   .get_fields = event_get_fields,
	.validate = event_validate, .columns = event_columns, .ncolumns = ARRAY_SIZE(event_columns),
	.row = event_row,
};

/* ---- events.k8s.io/v1 ---- */

struct rename {
	const char *core, *v1;
};

static const struct rename renames[] = {
	{ "involvedObject", "regarding" },
	{ "message", "note" },
	{ "reportingComponent", "reportingController" },
	{ "source", "deprecatedSource" },
	{ "firstTimestamp", "deprecatedFirstTimestamp" },
	{ "lastTimestamp", "deprecatedLastTimestamp" },
	{ "count", "deprecatedCount" },
};

static json_t *convert(json_t *obj, bool to_core)
{
	json_t *out = json_deep_copy(obj);
	for (size_t i = 0; i < ARRAY_SIZE(renames); i++) {
		const char *from = to_core ? renames[i].v1 : renames[i].core;
		const char *to = to_core ? renames[i].core : renames[i].v1;
		json_t *v = json_object_get(out, from);
		if (v) {
			json_object_set(out, to, v);
			json_object_del(out, from);
		}
	}
	json_set_str(out, "apiVersion", to_core ? "v1" : "events.k8s.io/v1");
	json_set_str(out, "kind", "Event");
	return out;
}

static json_t *events_v1_to_storage(json_t *obj)
{
	return convert(obj, true);
}

static json_t *events_v1_from_storage(json_t *obj)
{
	return convert(obj, false);
}

static void events_v1_row(json_t *obj, json_t *cells, int64_t now)
{
	_cleanup_json_ json_t *core = convert(obj, true);
	event_row(core, cells, now);
}

const struct resource resource_events_v1 = {
	RESOURCE_GV("events.k8s.io", "v1"),
	.kind = "Event",
	.plural = "events",
	.singular = "event",
	.namespaced = true,
	.short_names = STRV("ev"),
	.type_name = "EventsV1Event",
	.storage_of = &resource_events,
	.to_storage = events_v1_to_storage,
	.from_storage = events_v1_from_storage,
	.fields = event_fields,
	.get_fields = event_get_fields,
	.validate = event_validate,
	.columns = event_columns,
	.ncolumns = ARRAY_SIZE(event_columns),
	.row = events_v1_row,
};
