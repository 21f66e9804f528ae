/* SPDX-License-Identifier: Apache-2.0 */
#include "apiserver/meta.h"
#include "lib/json.h"
#include "lib/names.h"
#include "lib/random.h"
#include "lib/timeutil.h"

void meta_prepare_create(struct api_ctx *ctx, json_t *obj)
{
	json_t *meta = json_object_ensure(obj, "metadata");
	char uid[37], ts[32];

	random_uuid(uid);
	time_format_rfc3339(ctx->now_usec, ts);
	json_set_str(meta, "uid", uid);
	json_set_str(meta, "creationTimestamp", ts);
	json_object_del(meta, "resourceVersion");
	json_object_del(meta, "deletionTimestamp");
	json_object_del(meta, "deletionGracePeriodSeconds");
	json_object_del(meta, "selfLink");
	if (ctx->res->flags & RES_GENERATION)
		json_set_int(meta, "generation", 1);
	else
		json_object_del(meta, "generation");
	json_set_str(obj, "apiVersion", ctx->res->api_version);
	json_set_str(obj, "kind", ctx->res->kind);
}

static void carry(json_t *meta, json_t *old_meta, const char *field)
{
	json_t *v = json_object_get(old_meta, field);
	if (v)
		json_object_set(meta, field, v);
	else
		json_object_del(meta, field);
}

void meta_prepare_update(struct api_ctx *ctx, json_t *obj, json_t *old)
{
	json_t *meta = json_object_ensure(obj, "metadata");
	json_t *old_meta = json_object_get(old, "metadata");
	static const char *const fixed[] = {
		"name",		     "namespace",		   "uid",
		"creationTimestamp", "deletionTimestamp",	   "deletionGracePeriodSeconds",
		"generation",
	};
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		carry(meta, old_meta, fixed[i]);
	json_object_del(meta, "selfLink");
	json_set_str(obj, "apiVersion", ctx->res->api_version);
	json_set_str(obj, "kind", ctx->res->kind);
}

void meta_validate_name(enum name_rule rule, const char *name, const char *field,
			struct field_errors *fe)
{
	_cleanup_free_ char *msg = NULL;
	if (isempty(name)) {
		fe_required(fe, field, "name or generateName is required");
		return;
	}
	switch (rule) {
	case NAME_DNS1123_SUBDOMAIN:
		msg = validate_dns1123_subdomain(name);
		break;
	case NAME_DNS1123_LABEL:
		msg = validate_dns1123_label(name);
		break;
	case NAME_DNS1035_LABEL:
		msg = validate_dns1035_label(name);
		break;
	case NAME_PATH_SEGMENT:
		if (streq(name, ".") || streq(name, ".."))
			msg = xasprintf("may not be '%s'", name);
		else if (strchr(name, '/') || strchr(name, '%'))
			msg = xstrdup("may not contain '/' or '%'");
		break;
	}
	if (msg)
		fe_invalid_str(fe, field, name, msg);
}

void meta_validate_labels(json_t *labels, const char *field, struct field_errors *fe)
{
	const char *k;
	json_t *v;
	if (!labels)
		return;
	if (!json_is_object(labels)) {
		fe_invalid(fe, field, labels, "must be a map of strings");
		return;
	}
	json_object_foreach(labels, k, v)
	{
		_cleanup_free_ char *km = validate_qualified_name(k);
		if (km) {
			fe_invalid_str(fe, field, k, km);
			continue;
		}
		if (!json_is_string(v)) {
			_cleanup_free_ char *p = fe_key(field, k);
			fe_invalid(fe, p, v, "must be a string");
			continue;
		}
		_cleanup_free_ char *vm = validate_label_value(json_string_value(v));
		if (vm) {
			_cleanup_free_ char *p = fe_key(field, k);
			fe_invalid(fe, p, v, vm);
		}
	}
}

static void validate_annotations(json_t *ann, struct field_errors *fe)
{
	const char *k;
	json_t *v;
	if (!ann)
		return;
	json_object_foreach(ann, k, v)
	{
		_cleanup_free_ char *lower = xstrdup(k);
		for (char *p = lower; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		_cleanup_free_ char *km = validate_qualified_name(lower);
		if (km)
			fe_invalid_str(fe, "metadata.annotations", k, km);
	}
	_cleanup_free_ char *sm = validate_annotations_size(ann);
	if (sm)
		fe_too_long(fe, "metadata.annotations", 256 * 1024);
}

static void validate_owner_refs(json_t *refs, struct field_errors *fe)
{
	size_t i, controllers = 0;
	json_t *r;
	json_array_foreach(refs, i, r)
	{
		_cleanup_free_ char *base = fe_index("metadata.ownerReferences", i);
		static const char *const req[] = { "apiVersion", "kind", "name", "uid" };
		for (size_t k = 0; k < ARRAY_SIZE(req); k++) {
			if (isempty(json_string_value(json_object_get(r, req[k])))) {
				_cleanup_free_ char *p = fe_path(base, req[k]);
				fe_required(fe, p, NULL);
			}
		}
		if (json_is_true(json_object_get(r, "controller")))
			controllers++;
	}
	if (controllers > 1)
		fe_invalid(fe, "metadata.ownerReferences", refs,
			   "Only one reference can have Controller set to true");
}

void meta_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = json_string_value(json_object_get(meta, "name"));

	if (!old)
		meta_validate_name(ctx->res->name_rule, name, "metadata.name", fe);
	meta_validate_labels(json_object_get(meta, "labels"), "metadata.labels", fe);
	validate_annotations(json_object_get(meta, "annotations"), fe);
	validate_owner_refs(json_object_get(meta, "ownerReferences"), fe);

	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(meta, "finalizers"), i, f)
	{
		_cleanup_free_ char *p = fe_index("metadata.finalizers", i);
		_cleanup_free_ char *m = validate_qualified_name(json_string_value(f));
		if (m)
			fe_invalid(fe, p, f, m);
	}
	if (old && json_object_get(json_object_get(old, "metadata"), "deletionTimestamp")) {
		/* Once deleting, finalizers may be removed but not added. */
		json_t *old_fin = json_get(old, "metadata.finalizers");
		json_array_foreach(json_object_get(meta, "finalizers"), i, f)
		{
			bool found = false;
			size_t j;
			json_t *of;
			json_array_foreach(old_fin, j, of) found = found || json_equal(f, of);
			if (!found) {
				fe_forbidden(fe, "metadata.finalizers",
					     "no new finalizers can be added if the object is being deleted");
				break;
			}
		}
	}
}
