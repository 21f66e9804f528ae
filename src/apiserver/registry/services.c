/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Service: defaults, validation, cluster IP and node port
 * allocation (alloc.c), printing. */
#include <arpa/inet.h>

#include "apiserver/alloc.h"
#include "apiserver/apiserver.h"
#include "apiserver/registry/common.h"
#include "lib/names.h"
#include "lib/strbuf.h"

static bool type_is(json_t *spec, const char *t)
{
	return streq(str_or_empty(spec, "type"), t);
}

static bool wants_node_ports(json_t *spec)
{
	return type_is(spec, "NodePort") ||
	       (type_is(spec, "LoadBalancer") &&
		json_get_bool(spec, "allocateLoadBalancerNodePorts", true));
}

static void svc_defaults(json_t *obj)
{
	json_t *spec = json_object_ensure(obj, "spec");
	default_str(spec, "type", "ClusterIP");
	default_str(spec, "sessionAffinity", "None");
	bool external = type_is(spec, "ExternalName");
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		default_str(p, "protocol", "TCP");
		if (!json_object_get(p, "targetPort") && json_object_get(p, "port"))
			json_object_set(p, "targetPort", json_object_get(p, "port"));
	}
	if (!external) {
		default_str(spec, "internalTrafficPolicy", "Cluster");
		if (!json_object_get(spec, "ipFamilies"))
			json_object_set_new(spec, "ipFamilies", json_pack("[s]", "IPv4"));
		default_str(spec, "ipFamilyPolicy", "SingleStack");
	}
	if (type_is(spec, "NodePort") || type_is(spec, "LoadBalancer"))
		default_str(spec, "externalTrafficPolicy", "Cluster");
	if (type_is(spec, "LoadBalancer"))
		default_bool(spec, "allocateLoadBalancerNodePorts", true);
	if (streq(str_or_empty(spec, "sessionAffinity"), "ClientIP") &&
	    !json_object_get(spec, "sessionAffinityConfig"))
		json_object_set_new(spec, "sessionAffinityConfig",
				    json_pack("{s:{s:i}}", "clientIP", "timeoutSeconds", 10800));
	const char *ip = json_get_str(spec, "clusterIP");
	if (!isempty(ip) && !json_object_get(spec, "clusterIPs"))
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
	json_t *status = json_object_ensure(obj, "status");
	if (!json_object_get(status, "loadBalancer"))
		json_object_set_new(status, "loadBalancer", json_object());
}

static void svc_prepare_update(struct api_ctx *ctx, json_t *obj, json_t *old)
{
	/* An update that leaves out what was allocated keeps it. */
	json_t *spec = json_object_ensure(obj, "spec"), *ospec = json_object_get(old, "spec");
	if (isempty(json_get_str(spec, "clusterIP")) && !type_is(spec, "ExternalName") &&
	    !type_is(ospec, "ExternalName")) {
		json_t *ip = json_object_get(ospec, "clusterIP");
		if (ip)
			json_object_set(spec, "clusterIP", ip);
		json_t *ips = json_object_get(ospec, "clusterIPs");
		if (ips)
			json_object_set(spec, "clusterIPs", ips);
	}
	if (!wants_node_ports(spec))
		return;
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		if (json_get_int(p, "nodePort", 0))
			continue;
		size_t k;
		json_t *op;
		json_array_foreach(json_object_get(ospec, "ports"), k, op)
		{
			if (json_equal(json_object_get(op, "port"), json_object_get(p, "port")) &&
			    json_equal(json_object_get(op, "protocol"),
				       json_object_get(p, "protocol")) &&
			    json_get_int(op, "nodePort", 0))
				json_object_set(p, "nodePort", json_object_get(op, "nodePort"));
		}
	}
}

static void validate_ports(json_t *spec, struct field_errors *fe)
{
	json_t *ports = json_object_get(spec, "ports");
	size_t n = json_array_size(ports), i;
	json_t *p;
	bool headless = streq(str_or_empty(spec, "clusterIP"), "None");
	if (n == 0 && !type_is(spec, "ExternalName") && !headless)
		fe_required(fe, "spec.ports", NULL);
	_cleanup_json_ json_t *names = json_object(), *seen = json_object();
	json_array_foreach(ports, i, p)
	{
		_cleanup_free_ char *pp = fe_index("spec.ports", i);
		_cleanup_free_ char *np = fe_path(pp, "name");
		const char *name = json_get_str(p, "name");
		if (n > 1 && isempty(name))
			fe_required(fe, np, NULL);
		if (!isempty(name)) {
			_cleanup_free_ char *m = validate_dns1123_label(name);
			if (m)
				fe_invalid_str(fe, np, name, m);
			if (json_object_get(names, name))
				fe_duplicate(fe, np, json_object_get(p, "name"));
			json_object_set_new(names, name, json_true());
		}
		_cleanup_free_ char *portp = fe_path(pp, "port");
		if (!json_object_get(p, "port"))
			fe_required(fe, portp, NULL);
		else
			validate_port_number(json_object_get(p, "port"), portp, fe);
		validate_enum(p, "protocol", pp, STRV("SCTP", "TCP", "UDP"), fe);
		json_t *tp = json_object_get(p, "targetPort");
		_cleanup_free_ char *tpp = fe_path(pp, "targetPort");
		if (json_is_integer(tp)) {
			validate_port_number(tp, tpp, fe);
		} else if (json_is_string(tp)) {
			_cleanup_free_ char *m = validate_port_name(json_string_value(tp));
			if (m)
				fe_invalid(fe, tpp, tp, m);
		}
		json_t *np2 = json_object_get(p, "nodePort");
		if (np2 && json_integer_value(np2) && !wants_node_ports(spec) &&
		    !type_is(spec, "LoadBalancer")) {
			_cleanup_free_ char *npp = fe_path(pp, "nodePort");
			fe_forbidden(fe, npp, "may not be used when `type` is 'ClusterIP'");
		}
		_cleanup_free_ char *key = xasprintf("%lld/%s", (long long)json_get_int(p, "port", 0),
						     str_or_empty(p, "protocol"));
		if (json_object_get(seen, key))
			fe_duplicate(fe, pp, json_pack("{s:O, s:O}", "port", json_object_get(p, "port"),
						       "protocol", json_object_get(p, "protocol")));
		json_object_set_new(seen, key, json_true());
	}
}

static void svc_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec");
	validate_enum(spec, "type", "spec", STRV("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"),
		      fe);
	validate_enum(spec, "sessionAffinity", "spec", STRV("ClientIP", "None"), fe);
	validate_enum(spec, "externalTrafficPolicy", "spec", STRV("Cluster", "Local"), fe);
	validate_enum(spec, "internalTrafficPolicy", "spec", STRV("Cluster", "Local"), fe);
	validate_ports(spec, fe);
	meta_validate_labels(json_object_get(spec, "selector"), "spec.selector", fe);
	if (type_is(spec, "ExternalName")) {
		const char *en = json_get_str(spec, "externalName");
		if (isempty(en)) {
			fe_required(fe, "spec.externalName", NULL);
		} else {
			_cleanup_free_ char *m = validate_dns1123_subdomain(en);
			if (m)
				fe_invalid_str(fe, "spec.externalName", en, m);
		}
	}
	const char *ip = json_get_str(spec, "clusterIP");
	struct in_addr in;
	if (!isempty(ip) && !streq(ip, "None") && inet_pton(AF_INET, ip, &in) != 1)
		fe_invalid_str(fe, "spec.clusterIP", ip, "must be a valid IP address, (e.g. 10.9.8.7)");
	if (old && !type_is(spec, "ExternalName") && !type_is(json_object_get(old, "spec"), "ExternalName")) {
		const char *oip = json_get_str(old, "spec.clusterIP");
		if (!isempty(oip) && !streq_ptr(ip, oip))
			fe_invalid_str(fe, "spec.clusterIP", ip ? ip : "", "field is immutable");
	}
}

/* Reserve the cluster IP and node ports obj needs that old does not hold. */
static int svc_allocate(struct api_ctx *ctx, json_t *obj, json_t *old, struct api_error *err)
{
	struct allocators *a = ctx->srv->alloc;
	json_t *spec = json_object_ensure(obj, "spec"), *ospec = json_object_get(old, "spec");
	const char *ip = json_get_str(spec, "clusterIP");
	const char *oip = json_get_str(ospec, "clusterIP");
	char out[16];
	bool got_ip = false;

	if (!type_is(spec, "ExternalName") && !streq_ptr(ip, "None") &&
	    !(ip && oip && streq(ip, oip))) {
		int r = alloc_ip(a, ip, out);
		if (r < 0) {
			struct field_errors fe = { 0 };
			_cleanup_free_ char *m =
				r == -EEXIST ? xasprintf("failed to allocate IP %s: provided IP is already allocated", ip)
				: r == -ERANGE ? xasprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s",
							   ip, ip, alloc_cidr(a))
					       : xstrdup("failed to allocate a serviceIP: range is full");
			fe_invalid_str(&fe, "spec.clusterIPs", ip ? ip : "", m);
			api_error_invalid(err, ctx->res, json_get_str(obj, "metadata.name"), &fe);
			field_errors_release(&fe);
			return r;
		}
		json_set_str(spec, "clusterIP", out);
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", out));
		got_ip = true;
	}
	if (!wants_node_ports(spec))
		return 0;
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		int want = (int)json_get_int(p, "nodePort", 0), got;
		bool held = false;
		size_t k;
		json_t *op;
		json_array_foreach(json_object_get(ospec, "ports"), k, op) held =
			held || (want && json_get_int(op, "nodePort", 0) == want);
		if (held)
			continue;
		int r = alloc_port(a, want, &got);
		if (r < 0) {
			/* Give back what this call took. */
			for (size_t j = 0; j < i; j++) {
				json_t *q = json_array_get(json_object_get(spec, "ports"), j);
				int np = (int)json_get_int(q, "nodePort", 0);
				bool oheld = false;
				json_array_foreach(json_object_get(ospec, "ports"), k, op) oheld =
					oheld || json_get_int(op, "nodePort", 0) == np;
				if (!oheld)
					alloc_release_port(a, np);
			}
			if (got_ip)
				alloc_release_ip(a, json_get_str(spec, "clusterIP"));
			struct field_errors fe = { 0 };
			_cleanup_free_ char *path = fe_index("spec.ports", i);
			_cleanup_free_ char *npath = fe_path(path, "nodePort");
			int mn, mx;
			alloc_port_range(a, &mn, &mx);
			_cleanup_free_ char *m =
				r == -EEXIST ? xstrdup("provided port is already allocated")
				: r == -ERANGE ? xasprintf("provided port is not in the valid range. The range of valid ports is %d-%d", mn, mx)
					       : xstrdup("range is full");
			fe_invalid(&fe, npath, json_object_get(p, "nodePort"), m);
			api_error_invalid(err, ctx->res, json_get_str(obj, "metadata.name"), &fe);
			field_errors_release(&fe);
			return r;
		}
		json_set_int(p, "nodePort", got);
	}
	return 0;
}

/* Give back what obj holds and new_obj does not. */
static void svc_release(struct api_ctx *ctx, json_t *obj, json_t *new_obj)
{
	struct allocators *a = ctx->srv->alloc;
	const char *ip = json_get_str(obj, "spec.clusterIP");
	const char *nip = json_get_str(new_obj, "spec.clusterIP");
	if (!isempty(ip) && !streq(ip, "None") && !streq_ptr(ip, nip))
		alloc_release_ip(a, ip);
	size_t i, k;
	json_t *p, *np;
	json_array_foreach(json_get(obj, "spec.ports"), i, p)
	{
		int port = (int)json_get_int(p, "nodePort", 0);
		if (!port)
			continue;
		bool kept = false;
		json_array_foreach(json_get(new_obj, "spec.ports"), k, np) kept =
			kept || json_get_int(np, "nodePort", 0) == port;
		if (!kept)
			alloc_release_port(a, port);
	}
}

static void svc_get_fields(json_t *obj, const char **v)
{
	v[0] = json_get_str(obj, "spec.clusterIP");
	v[1] = json_get_str(obj, "spec.type");
}

static const struct table_column svc_columns[] = {
	{ "Name", "string", "name", "Name of the service.", 0 },
	{ "Type", "string", "", "How the service is exposed.", 0 },
	{ "Cluster-IP", "string", "", "The service's address inside the cluster.", 0 },
	{ "External-IP", "string", "", "Addresses the service is reachable at from outside.", 0 },
	{ "Port(s)", "string", "", "The service's ports.", 0 },
	{ "Age", "string", "", "Time since the service was created.", 0 },
	{ "Selector", "string", "", "The labels that pick the service's pods.", 1 },
};

static void svc_row(json_t *obj, json_t *cells, int64_t now)
{
	json_t *spec = json_object_get(obj, "spec");
	const char *type = str_or_empty(spec, "type");
	json_t *ips = json_object_get(spec, "clusterIPs");
	const char *cip = json_string_value(json_array_get(ips, 0));
	if (isempty(cip))
		cip = json_get_str(spec, "clusterIP");
	struct strbuf ext = STRBUF_INIT, ports = STRBUF_INIT;
	if (streq(type, "ExternalName")) {
		strbuf_addstr(&ext, str_or_empty(spec, "externalName"));
	} else {
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(spec, "externalIPs"), i, x)
		{
			if (ext.len)
				strbuf_addch(&ext, ',');
			strbuf_addstr(&ext, json_string_value(x));
		}
		if (streq(type, "LoadBalancer")) {
			json_array_foreach(json_get(obj, "status.loadBalancer.ingress"), i, x)
			{
				const char *v = json_get_str(x, "ip");
				if (isempty(v))
					v = json_get_str(x, "hostname");
				if (isempty(v))
					continue;
				if (ext.len)
					strbuf_addch(&ext, ',');
				strbuf_addstr(&ext, v);
			}
			if (!ext.len)
				strbuf_addstr(&ext, "<pending>");
		}
	}
	if (!ext.len)
		strbuf_addstr(&ext, "<none>");
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(spec, "ports"), i, p)
	{
		if (ports.len)
			strbuf_addch(&ports, ',');
		int64_t np = json_get_int(p, "nodePort", 0);
		if (np)
			strbuf_addf(&ports, "%lld:%lld/%s", (long long)json_get_int(p, "port", 0),
				    (long long)np, str_or_empty(p, "protocol"));
		else
			strbuf_addf(&ports, "%lld/%s", (long long)json_get_int(p, "port", 0),
				    str_or_empty(p, "protocol"));
	}
	if (!ports.len)
		strbuf_addstr(&ports, "<none>");
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_str(cells, type);
	cell_str(cells, isempty(cip) ? "<none>" : cip);
	cell_str(cells, strbuf_str(&ext));
	cell_str(cells, strbuf_str(&ports));
	cell_age(cells, obj, now);
	json_t *sel = json_object_get(spec, "selector");
	_cleanup_free_ char *s = format_labels(sel);
	cell_str(cells, s);
	strbuf_release(&ext);
	strbuf_release(&ports);
}

const struct resource resource_services = {
	RESOURCE_CORE_V1,
	.kind = "Service",
	.plural = "services",
	.singular = "service",
	.namespaced = true,
	.short_names = STRV("svc"),
	.categories = STRV("all"),
	.type_name = "Service",
	.flags = RES_STATUS,
	.name_rule = NAME_DNS1035_LABEL,
	.fields = STRV("spec.clusterIP", "spec.type"),
	.get_fields = svc_get_fields,
	.defaults = svc_defaults,
	.prepare_update = svc_prepare_update,
	.validate = svc_validate,
	.allocate = svc_allocate,
	.release = svc_release,
	.columns = svc_columns,
	.ncolumns = ARRAY_SIZE(svc_columns),
	.row = svc_row,
};
