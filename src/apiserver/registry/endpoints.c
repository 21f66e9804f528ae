/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Endpoints and discovery.k8s.io/v1 EndpointSlice. */
#include "apiserver/registry/common.h"
#include "lib/names.h"
#include "lib/strbuf.h"

static void validate_endpoint_port(json_t *p, bool require_name, const char *path,
				   struct field_errors *fe)
{
	FE_PATHF(np, "%s.name", path);
	const char *name = str_or_empty(p, "name");
	if (require_name && !*name)
		fe_required(fe, np, NULL);
	else if (*name)
		validate_dns_label_at(name, np, fe);
	FE_PATHF(pp, "%s.port", path);
	json_t *port = json_object_get(p, "port");
	_cleanup_json_ json_t *zero = json_integer(0);
	validate_port_number(port ? port : zero, pp, fe);
	validate_enum_required(p, "protocol", path, STRV("SCTP", "TCP", "UDP"), fe);
	const char *ap = json_get_str(p, "appProtocol");
	if (ap) {
		FE_PATHF(app, "%s.appProtocol", path);
		validate_qualified_name_at(ap, app, fe);
	}
}

static void ep_defaults(json_t *obj)
{
	size_t i, k;
	json_t *s, *p;
	json_array_foreach(json_object_get(obj, "subsets"), i, s)
	{
		json_array_foreach(json_object_get(s, "ports"), k, p)
		{
			default_str(p, "protocol", "TCP");
		}
	}
}

static void validate_endpoint_address(json_t *a, const char *path, struct field_errors *fe)
{
	FE_PATHF(ipp, "%s.ip", path);
	const char *ip = str_or_empty(a, "ip");
	validate_ip(ip, ipp, fe);
	const char *host = json_get_str(a, "hostname");
	if (!isempty(host)) {
		FE_PATHF(hp, "%s.hostname", path);
		validate_dns_label_at(host, hp, fe);
	}
	json_t *node = json_object_get(a, "nodeName");
	if (node) {
		FE_PATHF(np, "%s.nodeName", path);
		validate_dns_subdomain_at(json_string_value(node), np, fe);
	}
	validate_non_special_ip(ip, ipp, fe);
}

static void ep_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	size_t i, k;
	json_t *s, *a;
	json_array_foreach(json_object_get(obj, "subsets"), i, s)
	{
		FE_PATHF(sp, "subsets[%zu]", i);
		json_t *ready = json_object_get(s, "addresses");
		json_t *not_ready = json_object_get(s, "notReadyAddresses");
		if (!json_array_size(ready) && !json_array_size(not_ready))
			fe_required(fe, sp, "must specify `addresses` or `notReadyAddresses`");
		json_array_foreach(ready, k, a)
		{
			FE_PATHF(ap, "%s.addresses[%zu]", sp, k);
			validate_endpoint_address(a, ap, fe);
		}
		json_array_foreach(not_ready, k, a)
		{
			FE_PATHF(ap, "%s.notReadyAddresses[%zu]", sp, k);
			validate_endpoint_address(a, ap, fe);
		}
		json_t *ports = json_object_get(s, "ports");
		json_array_foreach(ports, k, a)
		{
			FE_PATHF(pp, "%s.ports[%zu]", sp, k);
			validate_endpoint_port(a, json_array_size(ports) > 1, pp, fe);
		}
	}
}

static const struct table_column ep_columns[] = {
	{ "Name", "string", "name", "Name of the endpoints object.", 0 },
	{ "Endpoints", "string", "", "Ready addresses and ports.", 0 },
	{ "Age", "string", "", "Time since the endpoints object was created.", 0 },
};

/* ep_add: one "ip[:port]" of the ENDPOINTS column, the first 3 only. */
static void ep_add(struct strbuf *sb, size_t *shown, json_t *addr, json_t *port)
{
	const char *ip = str_or_empty(addr, "ip");
	if ((*shown)++ >= 3)
		return;
	if (sb->len)
		strbuf_addch(sb, ',');
	if (!port)
		strbuf_addstr(sb, ip);
	else if (strchr(ip, ':'))
		strbuf_addf(sb, "[%s]:%lld", ip, (long long)json_get_int(port, "port", 0));
	else
		strbuf_addf(sb, "%s:%lld", ip, (long long)json_get_int(port, "port", 0));
}

/* As upstream's formatEndpoints: per subset, each port with each ready
 * address; "<none>" only without subsets. */
static void ep_row(json_t *obj, json_t *cells, int64_t now)
{
	struct strbuf sb = STRBUF_INIT;
	size_t shown = 0, i, k, j;
	json_t *s, *a, *p, *subsets = json_object_get(obj, "subsets");
	json_array_foreach(subsets, i, s)
	{
		json_t *ports = json_object_get(s, "ports");
		json_t *addrs = json_object_get(s, "addresses");
		if (!json_array_size(ports)) {
			json_array_foreach(addrs, k, a) ep_add(&sb, &shown, a, NULL);
			continue;
		}
		json_array_foreach(ports, j, p) json_array_foreach(addrs, k, a)
		    ep_add(&sb, &shown, a, p);
	}
	if (shown > 3)
		strbuf_addf(&sb, " + %zu more...", shown - 3);
	if (!json_array_size(subsets))
		strbuf_addstr(&sb, "<none>");
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_str(cells, strbuf_str(&sb));
	cell_age(cells, obj, now);
	strbuf_release(&sb);
}

const struct resource resource_endpoints = {
	RESOURCE_CORE_V1,
	.kind = "Endpoints",
	.plural = "endpoints",
	.singular = "endpoints",
	.namespaced = true,
	.short_names = STRV("ep"),
	.type_name = "Endpoints",
	.defaults = ep_defaults,
	.validate = ep_validate,
	.columns = ep_columns,
	.ncolumns = ARRAY_SIZE(ep_columns),
	.row = ep_row,
};

/* ---- EndpointSlice ---- */

static void eps_defaults(json_t *obj)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(obj, "ports"), i, p)
	{
		default_str(p, "protocol", "TCP");
		if (!json_object_get(p, "name"))
			json_set_str(p, "name", "");
	}
}

/* A DNS name with at least two labels; a trailing dot is allowed. */
static void validate_fqdn(const char *name, const char *path, struct field_errors *fe)
{
	size_t n = strlen(name);
	if (n == 0) {
		fe_required(fe, path, NULL);
		return;
	}
	_cleanup_free_ char *s = xstrndup(name, name[n - 1] == '.' ? n - 1 : n);
	if (!validate_dns_subdomain_at(s, path, fe))
		return;
	if (!strchr(s, '.')) {
		fe_invalid_str(fe, path, s,
			       "should be a domain with at least two segments separated by dots");
		return;
	}
	for (char *save = NULL, *label = strtok_r(s, ".", &save); label;
	     label = strtok_r(NULL, ".", &save)) {
		_cleanup_free_ char *m = validate_dns1123_label(label);
		if (m) {
			fe_invalid_str(fe, path, label, m);
			return;
		}
	}
}

static void eps_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	static const char *const types[] = { "FQDN", "IPv4", "IPv6", NULL };
	static const char *const types_update[] = { "FQDN", "IP", "IPv4", "IPv6", NULL };
	const char *at = str_or_empty(obj, "addressType");
	const char *const *allowed = old ? types_update : types;
	if (!*at) {
		fe_required(fe, "addressType", NULL);
	} else {
		bool ok = false;
		for (const char *const *t = allowed; *t; t++)
			ok = ok || streq(at, *t);
		if (!ok)
			fe_not_supported(fe, "addressType", json_object_get(obj, "addressType"),
					 allowed);
	}
	size_t i, k;
	json_t *e, *a;
	json_array_foreach(json_object_get(obj, "endpoints"), i, e)
	{
		FE_PATHF(ep, "endpoints[%zu]", i);
		FE_PATHF(ap, "%s.addresses", ep);
		json_t *addrs = json_object_get(e, "addresses");
		if (json_array_size(addrs) == 0)
			fe_required(fe, ap, "must contain at least 1 address");
		json_array_foreach(addrs, k, a)
		{
			FE_PATHF(p, "%s[%zu]", ap, k);
			const char *s = str_or_empty_json(a, "");
			int fam = ip_family(s);
			if (streq(at, "IPv4") || streq(at, "IPv6")) {
				if ((streq(at, "IPv4") && fam != 4) ||
				    (streq(at, "IPv6") && fam != 6))
					fe_invalid_str(fe, p, s,
						       streq(at, "IPv4")
							   ? "must be a valid IPv4 address"
							   : "must be a valid IPv6 address");
				validate_non_special_ip(s, p, fe);
			} else if (streq(at, "IP")) {
				validate_ip(s, p, fe);
			} else if (streq(at, "FQDN")) {
				validate_fqdn(s, p, fe);
			}
		}
		FE_PATHF(tp, "%s.deprecatedTopology", ep);
		validate_labels_at(json_object_get(e, "deprecatedTopology"), tp, fe);
		const char *host = json_get_str(e, "hostname");
		if (host) {
			FE_PATHF(hp, "%s.hostname", ep);
			validate_dns_label_at(host, hp, fe);
		}
		const char *node = json_get_str(e, "nodeName");
		if (node) {
			FE_PATHF(np, "%s.nodeName", ep);
			validate_dns_subdomain_at(node, np, fe);
		}
	}
	_cleanup_json_ json_t *names = json_object();
	json_array_foreach(json_object_get(obj, "ports"), i, a)
	{
		FE_PATHF(pp, "ports[%zu]", i);
		FE_PATHF(np, "%s.name", pp);
		const char *name = str_or_empty(a, "name");
		if (*name)
			validate_dns_label_at(name, np, fe);
		if (json_object_get(names, name)) {
			_cleanup_json_ json_t *v = json_string(name);
			fe_duplicate(fe, np, v);
		} else {
			json_object_set_new(names, name, json_true());
		}
		json_t *port = json_object_get(a, "port");
		if (port) {
			FE_PATHF(portp, "%s.port", pp);
			validate_port_number(port, portp, fe);
		}
		validate_enum_required(a, "protocol", pp, STRV("SCTP", "TCP", "UDP"), fe);
		const char *ap = json_get_str(a, "appProtocol");
		if (ap) {
			FE_PATHF(app, "%s.appProtocol", pp);
			validate_qualified_name_at(ap, app, fe);
		}
	}
	if (old)
		validate_immutable(obj, old, "addressType", fe);
}

static void eps_get_fields(json_t *obj, const char **v)
{
	v[0] = json_get_str(obj, "addressType");
}

static const struct table_column eps_columns[] = {
	{ "Name", "string", "name", "Name of the endpoint slice.", 0 },
	{ "AddressType", "string", "", "The type of the addresses.", 0 },
	{ "Ports", "string", "", "The ports of the endpoints.", 0 },
	{ "Endpoints", "string", "", "The endpoint addresses.", 0 },
	{ "Age", "string", "", "Time since the endpoint slice was created.", 0 },
};

static void eps_row(json_t *obj, json_t *cells, int64_t now)
{
	struct strbuf ports = STRBUF_INIT, addrs = STRBUF_INIT;
	size_t i, k, shown = 0, total = 0;
	json_t *p, *e, *a;
	json_array_foreach(json_object_get(obj, "ports"), i, p)
	{
		if (ports.len)
			strbuf_addch(&ports, ',');
		strbuf_addf(&ports, "%lld", (long long)json_get_int(p, "port", 0));
	}
	if (!ports.len)
		strbuf_addstr(&ports, "<unset>");
	json_array_foreach(json_object_get(obj, "endpoints"), i, e)
	{
		json_array_foreach(json_object_get(e, "addresses"), k, a)
		{
			total++;
			if (shown >= 3)
				continue;
			if (addrs.len)
				strbuf_addch(&addrs, ',');
			strbuf_addstr(&addrs, json_string_value(a) ? json_string_value(a) : "");
			shown++;
		}
	}
	if (total > shown)
		strbuf_addf(&addrs, " + %zu more...", total - shown);
	if (!addrs.len)
		strbuf_addstr(&addrs, "<unset>");
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_str(cells, str_or_empty(obj, "addressType"));
	cell_str(cells, strbuf_str(&ports));
	cell_str(cells, strbuf_str(&addrs));
	cell_age(cells, obj, now);
	strbuf_release(&ports);
	strbuf_release(&addrs);
}

const struct resource resource_endpointslices = {
	RESOURCE_GV("discovery.k8s.io", "v1"),
	.kind = "EndpointSlice",
	.plural = "endpointslices",
	.singular = "endpointslice",
	.namespaced = true,
	.type_name = "EndpointSlice",
	.fields = STRV("addressType"),
	.get_fields = eps_get_fields,
	.defaults = eps_defaults,
	.validate = eps_validate,
	.columns = eps_columns,
	.ncolumns = ARRAY_SIZE(eps_columns),
	.row = eps_row,
};
