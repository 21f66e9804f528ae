/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Node. */
#include <arpa/inet.h>

#include "apiserver/registry/common.h"
#include "lib/strbuf.h"

static bool valid_cidr(const char *s)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return false;
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = 0;
	unsigned char buf[16];
	char *end;
	long bits = strtol(slash + 1, &end, 10);
	if (*end || slash[1] == 0)
		return false;
	if (inet_pton(AF_INET, addr, buf) == 1)
		return bits >= 0 && bits <= 32;
	if (inet_pton(AF_INET6, addr, buf) == 1)
		return bits >= 0 && bits <= 128;
	return false;
}

static void node_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec");
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(spec, "taints"), i, t)
	{
		_cleanup_free_ char *tp = fe_index("spec.taints", i);
		validate_required_str(t, "key", tp, fe);
		if (!json_object_get(t, "effect")) {
			_cleanup_free_ char *ep = fe_path(tp, "effect");
			fe_required(fe, ep, NULL);
		}
		validate_enum(t, "effect", tp, STRV("NoSchedule", "PreferNoSchedule", "NoExecute"), fe);
	}
	const char *cidr = json_get_str(spec, "podCIDR");
	if (!isempty(cidr) && !valid_cidr(cidr))
		fe_invalid_str(fe, "spec.podCIDR", cidr, "must be a valid CIDR");
	json_array_foreach(json_object_get(spec, "podCIDRs"), i, t)
	{
		if (!json_is_string(t) || !valid_cidr(json_string_value(t))) {
			_cleanup_free_ char *p = fe_index("spec.podCIDRs", i);
			fe_invalid(fe, p, t, "must be a valid CIDR");
		}
	}
	if (old) {
		/* podCIDR may be set once, then not changed. */
		const char *oc = json_get_str(old, "spec.podCIDR");
		if (!isempty(oc) && !streq_ptr(oc, cidr))
			fe_forbidden(fe, "spec.podCIDR", "node updates may not change podCIDR except from \"\" to valid");
	}
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
	.flags = RES_STATUS,
	.fields = STRV("spec.unschedulable"),
	.get_fields = node_get_fields,
	.validate = node_validate,
	.columns = node_columns,
	.ncolumns = ARRAY_SIZE(node_columns),
	.row = node_row,
};
