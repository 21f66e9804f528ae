/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Pod. */
#include "apiserver/apiserver.h"
#include "apiserver/registry/common.h"
#include "lib/strbuf.h"
#include "lib/timeutil.h"

/* Defaults that apply to Pods only, not to the templates in workloads. */
static void pod_defaults(json_t *obj)
{
	json_t *spec = json_object_ensure(obj, "spec");
	/* The ServiceAccount admission step names the default account. */
	if (isempty(json_get_str(spec, "serviceAccountName")) &&
	    isempty(json_get_str(spec, "serviceAccount")))
		json_set_str(spec, "serviceAccountName", "default");
	pod_spec_defaults(spec);
	default_bool(spec, "enableServiceLinks", true);
	static const char *const lists[] = { "containers", "initContainers" };
	bool host_net = json_is_true(json_object_get(spec, "hostNetwork"));
	for (size_t l = 0; l < 2; l++) {
		size_t i, j;
		json_t *c, *p;
		json_array_foreach(json_object_get(spec, lists[l]), i, c)
		{
			/* Limits without requests: requests default to the limits. */
			json_t *res = json_object_get(c, "resources");
			json_t *limits = json_object_get(res, "limits");
			if (json_is_object(limits)) {
				json_t *req = json_object_ensure(res, "requests");
				const char *k;
				json_t *v;
				json_object_foreach(limits, k, v)
				{
					if (!json_object_get(req, k))
						json_object_set(req, k, v);
				}
			}
			/* With the host's network, container ports are host ports. */
			if (!host_net)
				continue;
			json_array_foreach(json_object_get(c, "ports"), j, p)
			{
				if (!json_get_int(p, "hostPort", 0) &&
				    json_object_get(p, "containerPort"))
					json_object_set(p, "hostPort",
							json_object_get(p, "containerPort"));
			}
		}
	}
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
				if (!has_resource(c, "limits", rs[k]) ||
				    (req && !json_equal(req, lim)))
					guaranteed = false;
			}
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}

/* Kubernetes' DefaultTolerationSeconds admission: a pod that does not
 * tolerate the not-ready and unreachable NoExecute taints gets tolerations
 * for them with the server's default seconds, so the pods of a failed node
 * are evicted after that time. */
static void default_tolerations(struct api_ctx *ctx, json_t *spec)
{
	static const char *const keys[] = { "node.kubernetes.io/not-ready",
					    "node.kubernetes.io/unreachable" };
	int64_t secs[] = { ctx->srv ? ctx->srv->opts.default_not_ready_toleration_seconds : 300,
			   ctx->srv ? ctx->srv->opts.default_unreachable_toleration_seconds : 300 };
	json_t *tols = json_object_get(spec, "tolerations");
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		bool found = false;
		size_t i;
		json_t *t;
		json_array_foreach(tols, i, t)
		{
			const char *key = json_get_str(t, "key");
			const char *effect = json_get_str(t, "effect");
			bool exists_all =
			    isempty(key) && streq_ptr(json_get_str(t, "operator"), "Exists");
			if ((exists_all || streq_ptr(key, keys[k])) &&
			    (isempty(effect) || streq(effect, "NoExecute")))
				found = true;
		}
		if (found || secs[k] < 0)
			continue;
		if (!json_is_array(tols)) {
			tols = json_array();
			json_object_set_new(spec, "tolerations", tols);
		}
		json_array_append_new(tols, json_pack("{s:s, s:s, s:s, s:I}", "key", keys[k],
						      "operator", "Exists", "effect", "NoExecute",
						      "tolerationSeconds", (json_int_t)secs[k]));
	}
}

static void pod_prepare_create(struct api_ctx *ctx, json_t *obj)
{
	if (json_is_object(json_object_get(obj, "spec")))
		default_tolerations(ctx, json_object_get(obj, "spec"));
	json_t *status = json_object();
	json_set_str(status, "phase", "Pending");
	json_set_str(status, "qosClass", qos_class(json_object_get(obj, "spec")));
	json_object_set_new(obj, "status", status);
}

/* The only changes a pod update may make to its spec, as Kubernetes
 * lists them in its refusal. */
static const char pod_update_msg[] =
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
    "negative)";

static bool image_padded(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[n - 1] == ' ' ||
		     s[n - 1] == '\t' || s[n - 1] == '\n');
}

/* Container lists keep their length; only images change. False stops the
 * update checks (Kubernetes reports nothing more then). */
static bool validate_container_updates(json_t *now, json_t *before, const char *path,
				       struct field_errors *fe)
{
	if (json_array_size(now) != json_array_size(before)) {
		fe_forbidden(fe, path, "pod updates may not add or remove containers");
		return false;
	}
	size_t i;
	json_t *c;
	json_array_foreach(now, i, c)
	{
		FE_PATHF(p, "%s[%zu].image", path, i);
		const char *img = json_get_str(c, "image");
		if (isempty(img))
			fe_required(fe, p, NULL);
		if (image_padded(img))
			fe_invalid_str(fe, p, img, "must not have leading or trailing whitespace");
	}
	return true;
}

/* A toleration equals another but for tolerationSeconds. */
static bool toleration_same(json_t *a, json_t *b)
{
	_cleanup_json_ json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
	json_object_del(x, "tolerationSeconds");
	json_object_del(y, "tolerationSeconds");
	return json_equal(x, y);
}

static void validate_pod_update(json_t *spec, json_t *ospec, struct field_errors *fe)
{
	if (!validate_container_updates(json_object_get(spec, "containers"),
					json_object_get(ospec, "containers"), "spec.containers",
					fe))
		return;
	if (!validate_container_updates(json_object_get(spec, "initContainers"),
					json_object_get(ospec, "initContainers"),
					"spec.initContainers", fe))
		return;

	/* activeDeadlineSeconds: set once, then only lowered. */
	json_t *ads = json_object_get(spec, "activeDeadlineSeconds");
	json_t *oads = json_object_get(ospec, "activeDeadlineSeconds");
	if (ads) {
		if (json_integer_value(ads) < 0 || json_integer_value(ads) > 2147483647) {
			fe_invalid(fe, "spec.activeDeadlineSeconds", ads,
				   "must be between 0 and 2147483647, inclusive");
			return;
		}
		if (oads && json_integer_value(oads) < json_integer_value(ads)) {
			fe_invalid(fe, "spec.activeDeadlineSeconds", ads,
				   "must be less than or equal to previous value");
			return;
		}
	} else if (oads) {
		fe_invalid(fe, "spec.activeDeadlineSeconds", NULL,
			   "must not update from a positive integer to nil value");
	}

	/* Tolerations: existing ones stay (their tolerationSeconds may change). */
	size_t i, j;
	json_t *t, *n;
	json_array_foreach(json_object_get(ospec, "tolerations"), i, t)
	{
		bool found = false;
		json_array_foreach(json_object_get(spec, "tolerations"), j, n)
		{
			found = found || toleration_same(t, n);
		}
		if (!found) {
			fe_forbidden(
			    fe, "spec.tolerations",
			    "existing toleration can not be modified except its tolerationSeconds");
			break;
		}
	}

	/* Scheduling gates may only be removed. */
	json_array_foreach(json_object_get(spec, "schedulingGates"), i, t)
	{
		bool old = false;
		json_array_foreach(json_object_get(ospec, "schedulingGates"), j, n)
		{
			old = old || streq_ptr(json_get_str(n, "name"), json_get_str(t, "name"));
		}
		if (!old) {
			FE_PATHF(p, "spec.schedulingGates[%zu].name", i);
			_cleanup_free_ char *m = xasprintf(
			    "only deletion is allowed, but found new scheduling gate '%s'",
			    str_or_empty(t, "name"));
			fe_forbidden(fe, p, m);
		}
	}

	if (json_equal(spec, ospec))
		return;
	/* Everything else must be as it was: compare with the allowed
	 * changes undone. */
	_cleanup_json_ json_t *a = json_deep_copy(spec);
	static const char *const lists[] = { "containers", "initContainers" };
	for (size_t l = 0; l < 2; l++) {
		json_t *la = json_object_get(a, lists[l]), *lb = json_object_get(ospec, lists[l]);
		for (i = 0; i < json_array_size(la); i++) {
			json_t *img = json_object_get(json_array_get(lb, i), "image");
			if (img)
				json_object_set(json_array_get(la, i), "image", img);
			else
				json_object_del(json_array_get(la, i), "image");
		}
	}
	static const char *const carried[] = { "activeDeadlineSeconds", "schedulingGates",
					       "tolerations" };
	for (i = 0; i < ARRAY_SIZE(carried); i++) {
		json_t *v = json_object_get(ospec, carried[i]);
		if (v)
			json_object_set(a, carried[i], v);
		else
			json_object_del(a, carried[i]);
	}
	json_t *og = json_object_get(ospec, "terminationGracePeriodSeconds");
	if (og && json_integer_value(og) < 0 &&
	    json_integer_value(json_object_get(a, "terminationGracePeriodSeconds")) == 1)
		json_object_set(a, "terminationGracePeriodSeconds", og);
	/* A gated pod may gain node selector labels (not lose or change them). */
	if (json_array_size(json_object_get(ospec, "schedulingGates")) > 0) {
		json_t *ns = json_object_get(a, "nodeSelector"),
		       *ons = json_object_get(ospec, "nodeSelector");
		if (!json_equal(ns, ons)) {
			const char *k;
			json_t *v;
			bool only_added = true;
			json_object_foreach(ons, k, v)
			{
				only_added = only_added && json_equal(v, json_object_get(ns, k));
			}
			if (!only_added)
				fe_invalid(fe, "spec.nodeSelector", ns,
					   "only additions to spec.nodeSelector are allowed (no "
					   "mutations or deletions)");
			if (ons)
				json_object_set(a, "nodeSelector", ons);
			else
				json_object_del(a, "nodeSelector");
		}
	}
	if (!json_equal(a, ospec))
		fe_forbidden(fe, "spec", pod_update_msg);
}

static void pod_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec");
	json_t *ospec = json_object_get(old, "spec");
	struct pod_validate_opts opts = { .is_pod = true };
	pod_annotations_validate(json_get(obj, "metadata.annotations"), spec,
				 "metadata.annotations", fe);
	pod_spec_validate_opts(spec, "spec", &opts, fe);
	if (!old) {
		if (json_array_size(json_object_get(spec, "ephemeralContainers")))
			fe_forbidden(fe, "spec.ephemeralContainers", "cannot be set on create");
		if (!isempty(json_get_str(spec, "nodeName")) &&
		    json_array_size(json_object_get(spec, "schedulingGates")))
			fe_forbidden(fe, "spec.nodeName",
				     "cannot be set until all schedulingGates have been cleared");
		return;
	}
	/* The mirror pod annotation may be neither added nor removed. */
	json_t *ann = json_get(obj, "metadata.annotations");
	json_t *oann = json_get(old, "metadata.annotations");
	static const char mirror[] = "kubernetes.io/config.mirror";
	json_t *m = json_object_get(ann, mirror), *om = json_object_get(oann, mirror);
	if (om && !json_equal(m, om))
		fe_forbidden(fe, "metadata.annotations[kubernetes.io/config.mirror]",
			     "may not remove or update mirror pod annotation");
	else if (m && !om)
		fe_forbidden(fe, "metadata.annotations[kubernetes.io/config.mirror]",
			     "may not add mirror pod annotation");
	validate_pod_update(spec, ospec, fe);
}

/* A container that has terminated stays terminated, unless the pod
 * restarts containers (Always, or OnFailure after a failure). */
static void validate_state_transitions(json_t *now, json_t *before, const char *restart_policy,
				       json_t *restartable, const char *path,
				       struct field_errors *fe)
{
	if (streq_ptr(restart_policy, "Always"))
		return;
	size_t i, j;
	json_t *o, *n;
	json_array_foreach(before, i, o)
	{
		json_t *term = json_get(o, "state.terminated");
		if (!term)
			continue;
		if (json_get_int(term, "exitCode", 0) != 0 &&
		    streq_ptr(restart_policy, "OnFailure"))
			continue;
		const char *name = json_get_str(o, "name");
		if (json_object_get(restartable, str_or_empty(o, "name")))
			continue;
		json_array_foreach(now, j, n)
		{
			if (streq_ptr(json_get_str(n, "name"), name) &&
			    !json_get(n, "state.terminated")) {
				FE_PATHF(p, "%s[%zu].state", path, i);
				fe_forbidden(fe, p,
					     "may not be transitioned to non-terminated state");
			}
		}
	}
}

static void validate_pod_ips(json_t *list, const char *path, struct field_errors *fe)
{
	size_t i, j;
	json_t *x, *y;
	json_array_foreach(list, i, x)
	{
		FE_PATHF(p, "%s[%zu]", path, i);
		validate_ip(json_get_str(x, "ip"), p, fe);
	}
	if (json_array_size(list) <= 1)
		return;
	_cleanup_json_ json_t *ips = json_array();
	json_array_foreach(list, i, x)
	{
		json_array_append(ips, json_object_get(x, "ip"));
	}
	if (!ips_are_dual_stack(ips, false) || json_array_size(list) > 2)
		fe_invalid(fe, path, list, "may specify no more than one IP for each IP family");
	json_array_foreach(list, i, x)
	{
		json_array_foreach(list, j, y)
		{
			if (j >= i)
				break;
			if (json_equal(json_object_get(x, "ip"), json_object_get(y, "ip"))) {
				FE_PATHF(p, "%s[%zu]", path, i);
				fe_duplicate(fe, p, x);
				break;
			}
		}
	}
}

static void pod_validate_status(struct api_ctx *ctx, json_t *obj, json_t *old,
				struct field_errors *fe)
{
	json_t *status = json_object_get(obj, "status"), *ostatus = json_object_get(old, "status");
	json_t *spec = json_object_get(obj, "spec");
	validate_enum(status, "phase", "status",
		      STRV("Pending", "Running", "Succeeded", "Failed", "Unknown"), fe);
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(status, "conditions"), i, c)
	{
		const char *t = str_or_empty(c, "type");
		if (streq(t, "PodScheduled") || streq(t, "Ready") || streq(t, "Initialized"))
			continue;
		/* Kubernetes reports custom conditions under metadata, as "Type". */
		FE_PATHF(p, "metadata.conditions[%zu].Type", i);
		validate_qualified_name_at(t, p, fe);
	}
	if (!streq(str_or_empty(spec, "nodeName"), str_or_empty(old, "spec.nodeName")))
		fe_forbidden(fe, "status.nodeName", "may not be changed directly");
	const char *nom = json_get_str(status, "nominatedNodeName");
	if (!isempty(nom) && !streq_ptr(nom, json_get_str(ostatus, "nominatedNodeName")))
		validate_dns_subdomain_at(nom, "status.nominatedNodeName", fe);
	/* The QoS class is fixed at creation. A writer that leaves it out keeps it. */
	json_t *qos = json_object_get(status, "qosClass"),
	       *oqos = json_object_get(ostatus, "qosClass");
	if (qos && oqos && !json_equal(qos, oqos))
		fe_invalid(fe, "status.qosClass", qos, "field is immutable");
	const char *rp = json_get_str(old, "spec.restartPolicy");
	_cleanup_json_ json_t *none = json_object(), *sidecars = json_object();
	json_array_foreach(json_get(old, "spec.initContainers"), i, c)
	{
		if (streq_ptr(json_get_str(c, "restartPolicy"), "Always"))
			json_object_set_new(sidecars, str_or_empty(c, "name"), json_true());
	}
	validate_state_transitions(json_object_get(status, "containerStatuses"),
				   json_object_get(ostatus, "containerStatuses"), rp, none,
				   "status.containerStatuses", fe);
	validate_state_transitions(json_object_get(status, "initContainerStatuses"),
				   json_object_get(ostatus, "initContainerStatuses"), rp, sidecars,
				   "status.initContainerStatuses", fe);
	validate_state_transitions(json_object_get(status, "ephemeralContainerStatuses"),
				   json_object_get(ostatus, "ephemeralContainerStatuses"), "Never",
				   none, "status.ephemeralContainerStatuses", fe);
	validate_pod_ips(json_object_get(status, "podIPs"), "status.podIPs", fe);
	json_t *hips = json_object_get(status, "hostIPs");
	if (json_array_size(hips)) {
		const char *h0 = json_get_str(json_array_get(hips, 0), "ip");
		if (!streq_ptr(h0, json_get_str(status, "hostIP"))) {
			_cleanup_json_ json_t *v = json_string(h0 ? h0 : "");
			fe_invalid(fe, "status.hostIPs[0].ip", v, "must be equal to `hostIP`");
		}
		validate_pod_ips(hips, "status.hostIPs", fe);
	}
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
	"spec.nodeName",
	"spec.restartPolicy",
	"spec.schedulerName",
	"spec.serviceAccountName",
	"spec.hostNetwork",
	"status.phase",
	"status.podIP",
	"status.nominatedNodeName",
	NULL,
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
		format_since(now - last, ago);
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
				if (streq_ptr(json_get_str(c, "type"),
					      json_get_str(gate, "conditionType")) &&
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
	.flags = RES_STATUS | RES_BINDING | RES_GRACEFUL | RES_CREATION_EVENT | RES_PROXY,
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
