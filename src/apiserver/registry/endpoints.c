/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Endpoints and discovery.k8s.io/v1 EndpointSlice. */
#include <arpa/inet.h>

#include "apiserver/registry/common.h"
#include "lib/names.h"
#include "lib/strbuf.h"

static bool valid_ip(const char *s)
{
	unsigned char buf[16];
	return s && (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1);
}

static void validate_endpoint_ports(json_t *ports, const char *path, struct field_errors *fe)
{
	size_t i;
	json_t *p;
	json_array_foreach(ports, i, p)
	{
		_cleanup_free_ char *pp = fe_index(path, i);
		json_t *port = json_object_get(p, "port");
		if (port) {
			_cleanup_free_ char *portp = fe_path(pp, "port");
			validate_port_number(port, portp, fe);
		}
		validate_enum(p, "protocol", pp, STRV("SCTP", "TCP", "UDP"), fe);
	}
}

static void ep_defaults(json_t *obj)
{
	size_t i, k;
	json_t *s, *p;
	json_array_foreach(json_object_get(obj, "subsets"), i, s)
	{
		json_array_foreach(json_object_get(s, "ports"), k, p) default_str(p, "protocol", "TCP");
	}
}

static void ep_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	size_t i, k;
	json_t *s, *a;
	json_array_foreach(json_object_get(obj, "subsets"), i, s)
	{
		_cleanup_free_ char *sp = fe_index("subsets", i);
		static const char *const lists[] = { "addresses", "notReadyAddresses" };
		for (size_t l = 0; l < 2; l++) {
			json_array_foreach(json_object_get(s, lists[l]), k, a)
			{
				const char *ip = json_get_str(a, "ip");
				if (!valid_ip(ip)) {
					_cleanup_free_ char *base = fe_path(sp, lists[l]);
					_cleanup_free_ char *ap = fe_index(base, k);
					_cleanup_free_ char *ipp = fe_path(ap, "ip");
					fe_invalid_str(fe, ipp, ip, "must be a valid IP address");
				}
			}
		}
		_cleanup_free_ char *pp = fe_path(sp, "ports");
		validate_endpoint_ports(json_object_get(s, "ports"), pp, fe);
	}
}

static const struct table_column ep_columns[] = {
	{ "Name", "string", "name", "Name of the endpoints object.", 0 },
	{ "Endpoints", "string", "", "Ready addresses and ports.", 0 },
	{ "Age", "string", "", "Time since the endpoints object was created.", 0 },
};

static void ep_row(json_t *obj, json_t *cells, int64_t now)
{
	struct strbuf sb = STRBUF_INIT;
	size_t shown = 0, total = 0, i, k, j;
	json_t *s, *a, *p;
	json_array_foreach(json_object_get(obj, "subsets"), i, s)
	{
		json_t *ports = json_object_get(s, "ports");
		json_array_foreach(json_object_get(s, "addresses"), k, a)
		{
			size_t np = json_array_size(ports) ? json_array_size(ports) : 1;
			for (j = 0; j < np; j++) {
				total++;
				if (shown >= 3)
					continue;
				p = json_array_get(ports, j);
				if (sb.len)
					strbuf_addch(&sb, ',');
				if (p)
					strbuf_addf(&sb, "%s:%lld", str_or_empty(a, "ip"),
						    (long long)json_get_int(p, "port", 0));
				else
					strbuf_addstr(&sb, str_or_empty(a, "ip"));
				shown++;
			}
		}
	}
	if (total > shown)
		strbuf_addf(&sb, " + %zu more...", total - shown);
	if (!sb.len)
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

static bool dns_ok(const char *s)
{
	if (!s)
		return false;
	_cleanup_free_ char *m = validate_dns1123_subdomain(s);
	return !m;
}

static void eps_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	const char *at = json_get_str(obj, "addressType");
	if (isempty(at))
		fe_required(fe, "addressType", NULL);
	else
		validate_enum(obj, "addressType", "", STRV("IPv4", "IPv6", "FQDN"), fe);
	if (old)
		validate_immutable(obj, old, "addressType", fe);
	size_t i, k;
	json_t *e, *a;
	json_array_foreach(json_object_get(obj, "endpoints"), i, e)
	{
		_cleanup_free_ char *ep = fe_index("endpoints", i);
		json_t *addrs = json_object_get(e, "addresses");
		_cleanup_free_ char *ap = fe_path(ep, "addresses");
		if (json_array_size(addrs) == 0)
			fe_required(fe, ap, "must contain at least 1 address");
		json_array_foreach(addrs, k, a)
		{
			const char *s = json_string_value(a);
			bool ok = at && streq(at, "FQDN") ? dns_ok(s)
							    : valid_ip(s);
			if (!ok) {
				_cleanup_free_ char *p = fe_index(ap, k);
				fe_invalid(fe, p, a, "must be a valid address");
			}
		}
	}
	validate_endpoint_ports(json_object_get(obj, "ports"), "ports", fe);
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
