/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Node. */
#include "apiserver/registry/common.h"
#include "lib/names.h"
#include "lib/strbuf.h"

static void node_defaults(json_t *obj)
{
	json_t *spec = json_object_get(obj, "spec");
	/* podCIDR is the first of podCIDRs; a client may set either. */
	json_t *cidrs = json_object_get(spec, "podCIDRs");
	if (json_array_size(cidrs)) {
		json_t *first = json_array_get(cidrs, 0);
		if (json_is_string(first))
			json_object_set(spec, "podCIDR", first);
	} else if (!isempty(json_get_str(spec, "podCIDR"))) {
		json_object_set_new(spec, "podCIDRs",
				    json_pack("[O]", json_object_get(spec, "podCIDR")));
	}
	/* Allocatable defaults to the capacity. */
	json_t *status = json_object_get(obj, "status");
	json_t *cap = json_object_get(status, "capacity");
	if (json_is_object(cap) && !json_object_get(status, "allocatable"))
		json_object_set_new(status, "allocatable", json_deep_copy(cap));
}

static void validate_taints(json_t *taints, struct field_errors *fe)
{
	static const char *const effects[] = { "NoSchedule", "PreferNoSchedule", "NoExecute",
					       NULL };
	_cleanup_json_ json_t *seen = json_object();
	size_t i;
	json_t *t;
	json_array_foreach(taints, i, t)
	{
		/* Kubernetes reports node taints under metadata.taints. */
		FE_PATHF(tp, "metadata.taints[%zu]", i);
		FE_PATHF(kp, "%s.key", tp);
		FE_PATHF(vp, "%s.value", tp);
		FE_PATHF(ep, "%s.effect", tp);
		const char *key = str_or_empty(t, "key");
		const char *value = str_or_empty(t, "value");
		const char *effect = str_or_empty(t, "effect");
		validate_qualified_name_at(key, kp, fe);
		_cleanup_free_ char *m = validate_label_value(value);
		if (m)
			fe_invalid_str(fe, vp, value, m);
		if (!*effect)
			fe_required(fe, ep, NULL);
		else if (!streq(effect, effects[0]) && !streq(effect, effects[1]) &&
			 !streq(effect, effects[2]))
			fe_not_supported(fe, ep, json_object_get(t, "effect"), effects);
		_cleanup_free_ char *k = xasprintf("%s\x1f%s", effect, key);
		if (json_object_get(seen, k)) {
			fe_duplicate(fe, tp, t);
			continue;
		}
		json_object_set_new(seen, k, json_true());
	}
}

static void validate_resources(json_t *status, const char *which, struct field_errors *fe)
{
	const char *k;
	json_t *q;
	json_object_foreach(json_object_get(status, which), k, q)
	{
		FE_PATHF(p, "status.%s.%s", which, k);
		validate_resource_quantity(k, q, p, fe);
	}
}

static void node_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec"), *ospec = json_object_get(old, "spec");
	json_t *status = json_object_get(obj, "status");
	size_t i, j;
	json_t *x, *y;
	validate_taints(json_object_get(spec, "taints"), fe);
	validate_resources(status, "capacity", fe);
	validate_resources(status, "allocatable", fe);
	json_t *cidrs = json_object_get(spec, "podCIDRs");
	json_array_foreach(cidrs, i, x)
	{
		FE_PATHF(p, "spec.podCIDRs[%zu]", i);
		validate_cidr(json_string_value(x), p, fe);
	}
	if (json_array_size(cidrs) > 1) {
		if (!ips_are_dual_stack(cidrs, true) || json_array_size(cidrs) > 2)
			fe_invalid(fe, "spec.podCIDRs", cidrs,
				   "may specify no more than one CIDR for each IP family");
		json_array_foreach(cidrs, i, x)
		{
			json_array_foreach(cidrs, j, y)
			{
				if (j >= i)
					break;
				if (json_equal(x, y)) {
					FE_PATHF(p, "spec.podCIDRs[%zu]", i);
					fe_duplicate(fe, p, x);
					break;
				}
			}
		}
	}
	if (!old)
		return;
	json_array_foreach(json_object_get(status, "addresses"), i, x)
	{
		json_array_foreach(json_object_get(status, "addresses"), j, y)
		{
			if (j >= i)
				break;
			if (json_equal(x, y)) {
				FE_PATHF(p, "status.addresses[%zu]", i);
				fe_duplicate(fe, p, x);
				break;
			}
		}
	}
	/* podCIDRs and providerID may be set once, then not changed. */
	json_t *ocidrs = json_object_get(ospec, "podCIDRs");
	if (json_array_size(ocidrs) && !json_equal(ocidrs, cidrs))
		fe_forbidden(fe, "spec.podCIDRs",
			     "node updates may not change podCIDR except from \"\" to valid");
	const char *opid = json_get_str(ospec, "providerID");
	if (!isempty(opid) && !streq_ptr(opid, json_get_str(spec, "providerID")))
		fe_forbidden(fe, "spec.providerID",
			     "node updates may not change providerID except from \"\" to valid");
	if (!streq(str_or_empty(spec, "externalID"), str_or_empty(ospec, "externalID")))
		fe_forbidden(fe, "spec.externalID", "may not be updated");
}

static void node_get_fields(json_t *obj, const char **v)
{
	json_t *u = json_get(obj, "spec.unschedulable");
	v[0] = json_is_true(u) ? "true" : "false";
}

static const struct table_column node_columns[] = {
	{ "Name", "string", "name", "Name of the node.", 0 },
	{ "Status", "string", "", "Whether the node is ready, and scheduling state.", 0 },
	{ "Roles", "string", "", "The roles of the node.", 0 },
	{ "Age", "string", "", "Time since the node was registered.", 0 },
	{ "Version", "string", "", "Kubelet version reported by the node.", 0 },
	{ "Internal-IP", "string", "", "The node's internal address.", 1 },
	{ "External-IP", "string", "", "The node's external address.", 1 },
	{ "OS-Image", "string", "", "The node's operating system image.", 1 },
	{ "Kernel-Version", "string", "", "The node's kernel version.", 1 },
	{ "Container-Runtime", "string", "", "The node's container runtime.", 1 },
};

static const char *address_of(json_t *obj, const char *type)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_get(obj, "status.addresses"), i, a)
	{
		if (streq_ptr(json_get_str(a, "type"), type))
			return json_get_str(a, "address");
	}
	return "<none>";
}

static void node_row(json_t *obj, json_t *cells, int64_t now)
{
	struct strbuf status = STRBUF_INIT, roles = STRBUF_INIT;
	const char *ready = NULL;
	size_t i;
	json_t *c;
	json_array_foreach(json_get(obj, "status.conditions"), i, c)
	{
		if (streq_ptr(json_get_str(c, "type"), "Ready"))
			ready = json_get_str(c, "status");
	}
	strbuf_addstr(&status, !ready ? "Unknown" : streq(ready, "True") ? "Ready" : "NotReady");
	if (json_get_bool(obj, "spec.unschedulable", false))
		strbuf_addstr(&status, ",SchedulingDisabled");
	const char *k;
	json_t *v;
	json_object_foreach(json_get(obj, "metadata.labels"), k, v)
	{
		const char *role = NULL;
		if (startswith(k, "node-role.kubernetes.io/"))
			role = k + strlen("node-role.kubernetes.io/");
		else if (streq(k, "kubernetes.io/role"))
			role = json_string_value(v);
		if (isempty(role))
			continue;
		if (roles.len)
			strbuf_addch(&roles, ',');
		strbuf_addstr(&roles, role);
	}
	if (!roles.len)
		strbuf_addstr(&roles, "<none>");
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_str(cells, strbuf_str(&status));
	cell_str(cells, strbuf_str(&roles));
	cell_age(cells, obj, now);
	cell_str(cells, str_or_empty(obj, "status.nodeInfo.kubeletVersion"));
	cell_str(cells, address_of(obj, "InternalIP"));
	cell_str(cells, address_of(obj, "ExternalIP"));
	const char *os = json_get_str(obj, "status.nodeInfo.osImage");
	const char *kv = json_get_str(obj, "status.nodeInfo.kernelVersion");
	const char *rt = json_get_str(obj, "status.nodeInfo.containerRuntimeVersion");
	cell_str(cells, isempty(os) ? "<unknown>" : os);
	cell_str(cells, isempty(kv) ? "<unknown>" : kv);
	cell_str(cells, isempty(rt) ? "<unknown>" : rt);
	strbuf_release(&status);
	strbuf_release(&roles);
}

const struct resource resource_nodes = {
	RESOURCE_CORE_V1,
	.kind = "Node",
	.plural = "nodes",
	.singular = "node",
	.namespaced = false,
	.short_names = STRV("no"),
	.type_name = "Node",
	.flags = RES_STATUS | RES_CREATION_EVENT | RES_PROXY,
	.fields = STRV("spec.unschedulable"),
	.get_fields = node_get_fields,
	.defaults = node_defaults,
	.validate = node_validate,
	.validate_status = node_validate,
	.columns = node_columns,
	.ncolumns = ARRAY_SIZE(node_columns),
	.row = node_row,
};
