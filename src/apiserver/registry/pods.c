/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Pod. */
#include "apiserver/registry/common.h"
#include "lib/strbuf.h"
#include "lib/timeutil.h"

static void pod_defaults(json_t *obj)
{
	pod_spec_defaults(json_object_get(obj, "spec"));
}

static bool has_resource(json_t *c, const char *kind, const char *name)
{
	return json_get(json_object_get(json_object_get(c, "resources"), kind), name) != NULL;
}

static const char *qos_class(json_t *spec)
{
	bool any = false, guaranteed = true;
	static const char *const lists[] = { "containers", "initContainers" };
	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *c;
		json_array_foreach(json_object_get(spec, lists[l]), i, c)
		{
			json_t *res = json_object_get(c, "resources");
			if (json_object_size(json_object_get(res, "requests")) ||
			    json_object_size(json_object_get(res, "limits")))
				any = true;
			static const char *const rs[] = { "cpu", "memory" };
			for (size_t k = 0; k < 2; k++) {
				json_t *lim = json_get(json_object_get(res, "limits"), rs[k]);
				json_t *req = json_get(json_object_get(res, "requests"), rs[k]);
				if (!has_resource(c, "limits", rs[k]) || (req && !json_equal(req, lim)))
					guaranteed = false;
			}
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}

static void pod_prepare_create(struct api_ctx *ctx, json_t *obj)
{
	json_t *status = json_object();
	json_set_str(status, "phase", "Pending");
	json_set_str(status, "qosClass", qos_class(json_object_get(obj, "spec")));
	json_object_set_new(obj, "status", status);
}

static void pod_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec");
	if (!json_is_object(spec)) {
		fe_required(fe, "spec", NULL);
		return;
	}
	pod_spec_validate(spec, "spec", fe);
	if (!old)
		return;
	/* Pods are mostly immutable: only images, activeDeadlineSeconds,
	 * added tolerations and scheduling gates may change. */
	_cleanup_json_ json_t *a = json_deep_copy(spec), *b = json_deep_copy(json_object_get(old, "spec"));
	static const char *const lists[] = { "containers", "initContainers" };
	for (size_t l = 0; l < 2; l++) {
		json_t *la = json_object_get(a, lists[l]), *lb = json_object_get(b, lists[l]);
		for (size_t i = 0; i < json_array_size(la) && i < json_array_size(lb); i++)
			json_object_set(json_array_get(la, i), "image",
					json_object_get(json_array_get(lb, i), "image"));
	}
	static const char *const mutable[] = { "activeDeadlineSeconds", "tolerations",
					       "schedulingGates",
					       "terminationGracePeriodSeconds" };
	for (size_t i = 0; i < ARRAY_SIZE(mutable); i++) {
		json_object_del(a, mutable[i]);
		json_object_del(b, mutable[i]);
	}
	if (!json_equal(a, b))
		fe_forbidden(fe, "spec",
			     "pod updates may not change fields other than `spec.containers[*].image`,"
			     "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
			     "`spec.tolerations` (only additions to existing tolerations),"
			     "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)");
}

static void pod_validate_status(struct api_ctx *ctx, json_t *obj, json_t *old,
				struct field_errors *fe)
{
	validate_enum(json_object_get(obj, "status"), "phase", "status",
		      STRV("Pending", "Running", "Succeeded", "Failed", "Unknown"), fe);
	const char *oldnode = json_get_str(old, "spec.nodeName");
	if (isempty(oldnode) && json_get_str(obj, "status.phase") &&
	    streq(json_get_str(obj, "status.phase"), "Running"))
		return; /* a kubelet may not run an unbound pod, but tolerate simulators */
}

/* Graceful deletion: a pod bound to a node is marked and its kubelet
 * finishes the deletion after stopping the containers. */
static bool pod_on_delete(struct api_ctx *ctx, json_t *obj, json_t *opts)
{
	json_t *meta = json_object_ensure(obj, "metadata");
	json_t *spec = json_object_get(obj, "spec");
	int64_t grace = json_get_int(spec, "terminationGracePeriodSeconds", 30);
	json_t *g = json_object_get(opts, "gracePeriodSeconds");
	if (json_is_integer(g))
		grace = json_integer_value(g);
	const char *phase = str_or_empty(obj, "status.phase");
	if (grace <= 0 || isempty(json_get_str(spec, "nodeName")) || streq(phase, "Succeeded") ||
	    streq(phase, "Failed"))
		return false;
	json_t *cur = json_object_get(meta, "deletionGracePeriodSeconds");
	if (json_object_get(meta, "deletionTimestamp") && cur && json_integer_value(cur) <= grace)
		return true;
	char ts[32];
	time_format_rfc3339(ctx->now_usec + grace * 1000000, ts);
	json_set_str(meta, "deletionTimestamp", ts);
	json_set_int(meta, "deletionGracePeriodSeconds", grace);
	return true;
}

static const char *const pod_fields[] = {
	"spec.nodeName",	  "spec.restartPolicy", "spec.schedulerName",
	"spec.serviceAccountName", "spec.hostNetwork",	 "status.phase",
	"status.podIP",		  "status.nominatedNodeName", NULL,
};

static void pod_get_fields(json_t *obj, const char **v)
{
	v[0] = json_get_str(obj, "spec.nodeName");
	v[1] = json_get_str(obj, "spec.restartPolicy");
	v[2] = json_get_str(obj, "spec.schedulerName");
	v[3] = json_get_str(obj, "spec.serviceAccountName");
	v[4] = json_get_bool(obj, "spec.hostNetwork", false) ? "true" : "false";
	v[5] = json_get_str(obj, "status.phase");
	v[6] = json_get_str(obj, "status.podIP");
	v[7] = json_get_str(obj, "status.nominatedNodeName");
}

static const struct table_column pod_columns[] = {
	{ "Name", "string", "name", "Name of the pod.", 0 },
	{ "Ready", "string", "", "Ready containers out of all containers.", 0 },
	{ "Status", "string", "", "The aggregate state of the containers.", 0 },
	{ "Restarts", "string", "", "Container restarts, and how long ago the last was.", 0 },
	{ "Age", "string", "", "Time since the pod was created.", 0 },
	{ "IP", "string", "", "The pod's IP address.", 1 },
	{ "Node", "string", "", "The node the pod is bound to.", 1 },
	{ "Nominated Node", "string", "", "The node the scheduler nominated, if preempting.", 1 },
	{ "Readiness Gates", "string", "", "Readiness gates that are true out of all.", 1 },
};

/* The STATUS column, the way kubectl computes it. */
static void pod_reason(json_t *obj, struct strbuf *reason, int *ready, int64_t *restarts,
		       int64_t *last_restart)
{
	json_t *status = json_object_get(obj, "status");
	strbuf_addstr(reason, str_or_empty(status, "phase"));
	if (json_get_str(status, "reason")) {
		strbuf_reset(reason);
		strbuf_addstr(reason, json_get_str(status, "reason"));
	}
	size_t i;
	json_t *cs;
	bool initializing = false;
	json_t *inits = json_object_get(status, "initContainerStatuses");
	size_t ninit = json_array_size(json_get(obj, "spec.initContainers"));
	json_array_foreach(inits, i, cs)
	{
		*restarts += json_get_int(cs, "restartCount", 0);
		json_t *term = json_get(cs, "state.terminated");
		json_t *wait = json_get(cs, "state.waiting");
		if (term && json_get_int(term, "exitCode", 0) == 0)
			continue;
		strbuf_reset(reason);
		if (term) {
			const char *r = json_get_str(term, "reason");
			if (!isempty(r))
				strbuf_addf(reason, "Init:%s", r);
			else if (json_get_int(term, "signal", 0))
				strbuf_addf(reason, "Init:Signal:%lld",
					    (long long)json_get_int(term, "signal", 0));
			else
				strbuf_addf(reason, "Init:ExitCode:%lld",
					    (long long)json_get_int(term, "exitCode", 0));
		} else if (wait && !isempty(json_get_str(wait, "reason")) &&
			   !streq(json_get_str(wait, "reason"), "PodInitializing")) {
			strbuf_addf(reason, "Init:%s", json_get_str(wait, "reason"));
		} else {
			strbuf_addf(reason, "Init:%zu/%zu", i, ninit);
		}
		initializing = true;
		break;
	}
	if (!initializing) {
		bool running = false;
		json_t *list = json_object_get(status, "containerStatuses");
		for (size_t k = json_array_size(list); k-- > 0;) {
			cs = json_array_get(list, k);
			*restarts += json_get_int(cs, "restartCount", 0);
			const char *ft = json_get_str(cs, "lastState.terminated.finishedAt");
			int64_t t;
			if (ft && time_parse_rfc3339(ft, &t) == 0 && t > *last_restart)
				*last_restart = t;
			json_t *wait = json_get(cs, "state.waiting");
			json_t *term = json_get(cs, "state.terminated");
			if (wait && !isempty(json_get_str(wait, "reason"))) {
				strbuf_reset(reason);
				strbuf_addstr(reason, json_get_str(wait, "reason"));
			} else if (term && !isempty(json_get_str(term, "reason"))) {
				strbuf_reset(reason);
				strbuf_addstr(reason, json_get_str(term, "reason"));
			} else if (term) {
				strbuf_reset(reason);
				if (json_get_int(term, "signal", 0))
					strbuf_addf(reason, "Signal:%lld",
						    (long long)json_get_int(term, "signal", 0));
				else
					strbuf_addf(reason, "ExitCode:%lld",
						    (long long)json_get_int(term, "exitCode", 0));
			} else if (json_get(cs, "state.running") &&
				   json_is_true(json_object_get(cs, "ready"))) {
				running = true;
				(*ready)++;
			}
		}
		if (streq(strbuf_str(reason), "Completed") && running) {
			bool pod_ready = false;
			json_t *c;
			json_array_foreach(json_object_get(status, "conditions"), i, c)
			{
				if (streq_ptr(json_get_str(c, "type"), "Ready") &&
				    streq_ptr(json_get_str(c, "status"), "True"))
					pod_ready = true;
			}
			strbuf_reset(reason);
			strbuf_addstr(reason, pod_ready ? "Running" : "NotReady");
		}
	}
	if (json_get_str(obj, "metadata.deletionTimestamp")) {
		strbuf_reset(reason);
		strbuf_addstr(reason, streq_ptr(json_get_str(status, "reason"), "NodeLost")
					      ? "Unknown"
					      : "Terminating");
	}
}

static void pod_row(json_t *obj, json_t *cells, int64_t now)
{
	struct strbuf reason = STRBUF_INIT;
	int ready = 0;
	int64_t restarts = 0, last = 0;
	pod_reason(obj, &reason, &ready, &restarts, &last);
	size_t total = json_array_size(json_get(obj, "spec.containers"));
	char readys[32], rs[64];
	snprintf(readys, sizeof(readys), "%d/%zu", ready, total);
	if (restarts && last) {
		char ago[32];
		human_duration(now - last, ago);
		snprintf(rs, sizeof(rs), "%lld (%s ago)", (long long)restarts, ago);
	} else {
		snprintf(rs, sizeof(rs), "%lld", (long long)restarts);
	}
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_str(cells, readys);
	cell_str(cells, strbuf_str(&reason));
	cell_str(cells, rs);
	cell_age(cells, obj, now);
	const char *ip = json_get_str(obj, "status.podIP");
	const char *node = json_get_str(obj, "spec.nodeName");
	const char *nom = json_get_str(obj, "status.nominatedNodeName");
	cell_str(cells, isempty(ip) ? "<none>" : ip);
	cell_str(cells, isempty(node) ? "<none>" : node);
	cell_str(cells, isempty(nom) ? "<none>" : nom);
	json_t *gates = json_get(obj, "spec.readinessGates");
	if (json_array_size(gates) == 0) {
		cell_str(cells, "<none>");
	} else {
		size_t trues = 0, i, k;
		json_t *gate, *c;
		json_array_foreach(gates, i, gate)
		{
			json_array_foreach(json_get(obj, "status.conditions"), k, c)
			{
				if (streq_ptr(json_get_str(c, "type"), json_get_str(gate, "conditionType")) &&
				    streq_ptr(json_get_str(c, "status"), "True"))
					trues++;
			}
		}
		char g[32];
		snprintf(g, sizeof(g), "%zu/%zu", trues, json_array_size(gates));
		cell_str(cells, g);
	}
	strbuf_release(&reason);
}

const struct resource resource_pods = {
	RESOURCE_CORE_V1,
	.kind = "Pod",
	.plural = "pods",
	.singular = "pod",
	.namespaced = true,
	.short_names = STRV("po"),
	.categories = STRV("all"),
	.type_name = "Pod",
	.flags = RES_STATUS | RES_BINDING | RES_GRACEFUL,
	.fields = pod_fields,
	.get_fields = pod_get_fields,
	.defaults = pod_defaults,
	.prepare_create = pod_prepare_create,
	.validate = pod_validate,
	.validate_status = pod_validate_status,
	.on_delete = pod_on_delete,
	.columns = pod_columns,
	.ncolumns = ARRAY_SIZE(pod_columns),
	.row = pod_row,
};
