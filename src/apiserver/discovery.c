/* SPDX-License-Identifier: Apache-2.0 */
/* API discovery (legacy and aggregated), generated from the resource table. */
#include "apiserver/apiserver.h"
#include "apiserver/http.h"
#include "apiserver/openapi.h"
#include "lib/json.h"

#define CT_DISCOVERY_V2 "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
#define CT_DISCOVERY_V2B1 \
	"application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

static const char *const verbs_create[] = { "create" };
static const char *const verbs_all[] = { "create", "delete", "deletecollection", "get",
					 "list",   "patch",  "update",		 "watch" };

struct subres {
	const char *name;
	unsigned flag;
	const char *group, *version, *kind;
	const char *const *verbs;
	size_t nverbs;
};

static const char *const verbs_gpu[] = { "get", "patch", "update" };
static const char *const verbs_update[] = { "update" };
static const char *const verbs_connect[] = { "create", "delete", "get", "patch", "update" };

static const struct subres subresources[] = {
	{ "binding", RES_BINDING, "", "v1", "Binding", verbs_create, 1 },
	{ "finalize", RES_FINALIZE, "", "v1", "Namespace", verbs_update, 1 },
	/* kind: <Kind>ProxyOptions (PodProxyOptions, ...), see proxy_kind() */
	{ "proxy", RES_PROXY, "", "v1", NULL, verbs_connect, 5 },
	{ "scale", RES_SCALE, "autoscaling", "v1", "Scale", verbs_gpu, 3 },
	{ "status", RES_STATUS, NULL, NULL, NULL, verbs_gpu, 3 },
};

/* The options kind of a proxy subresource (PodProxyOptions, ...), or NULL. */
static char *proxy_kind(const struct subres *s, const struct resource *res)
{
	return s->flag == RES_PROXY ? xasprintf("%sProxyOptions", res->kind) : NULL;
}

static json_t *strv_json(const char *const *v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *verbs_json(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* Resources of one group version, sorted by plural. */
static size_t gv_resources(const char *group, const char *version, const struct resource **out,
			   size_t max)
{
	size_t n = 0;
	for (const struct resource *const *r = resources_all; *r && n < max; r++)
		if (streq((*r)->group, group) && streq((*r)->version, version))
			out[n++] = *r;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(out[j - 1]->plural, out[j]->plural) > 0; j--) {
			const struct resource *t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

/* Distinct groups in table order ("" first). */
static size_t groups(const char **out, size_t max)
{
	size_t n = 0;
	for (const struct resource *const *r = resources_all; *r; r++) {
		bool seen = false;
		for (size_t i = 0; i < n; i++)
			seen = seen || streq(out[i], (*r)->group);
		if (!seen && n < max)
			out[n++] = (*r)->group;
	}
	return n;
}

static const char *group_version(const char *group)
{
	for (const struct resource *const *r = resources_all; *r; r++)
		if (streq((*r)->group, group))
			return (*r)->version;
	return "v1";
}

static json_t *response_kind(const char *g, const char *v, const char *k)
{
	return json_pack("{s:s, s:s, s:s}", "group", g, "version", v, "kind", k);
}

static json_t *resource_verbs(const struct resource *res)
{
	if (res->flags & RES_VIRTUAL)
		return verbs_json(verbs_create, 1);
	return verbs_json(verbs_all, ARRAY_SIZE(verbs_all));
}

static json_t *aggregated_resource(const struct resource *res)
{
	json_t *o = json_object();
	json_set_str(o, "resource", res->plural);
	json_object_set_new(o, "responseKind", response_kind(res->group, res->version, res->kind));
	json_set_str(o, "scope", res->namespaced ? "Namespaced" : "Cluster");
	json_set_str(o, "singularResource", res->singular);
	json_object_set_new(o, "verbs", resource_verbs(res));
	if (res->short_names)
		json_object_set_new(o, "shortNames", strv_json(res->short_names));
	if (res->categories)
		json_object_set_new(o, "categories", strv_json(res->categories));
	json_t *subs = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(subresources); i++) {
		const struct subres *s = &subresources[i];
		if (!(res->flags & s->flag))
			continue;
		json_t *so = json_object();
		json_set_str(so, "subresource", s->name);
		_cleanup_free_ char *pkind = proxy_kind(s, res);
		json_object_set_new(so, "responseKind",
				    pkind     ? response_kind(s->group, s->version, pkind)
				    : s->kind ? response_kind(s->group, s->version, s->kind)
					      : response_kind(res->group, res->version, res->kind));
		json_object_set_new(so, "verbs", verbs_json(s->verbs, s->nverbs));
		json_array_append_new(subs, so);
	}
	if (json_array_size(subs))
		json_object_set_new(o, "subresources", subs);
	else
		json_decref(subs);
	return o;
}

static json_t *aggregated_group(const char *group)
{
	const struct resource *rs[64];
	const char *version = group_version(group);
	size_t n = gv_resources(group, version, rs, ARRAY_SIZE(rs));
	json_t *resources = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(resources, aggregated_resource(rs[i]));
	json_t *v = json_pack("{s:s, s:o, s:s}", "version", version, "resources", resources,
			      "freshness", "Current");
	json_t *versions = json_array();
	json_array_append_new(versions, v);
	return json_pack("{s:{s:s}, s:o}", "metadata", "name", group, "versions", versions);
}

static void serve_aggregated(struct req *r, bool core)
{
	const char *gs[32];
	size_t n = groups(gs, ARRAY_SIZE(gs));
	json_t *items = json_array();
	for (size_t i = 0; i < n; i++) {
		if (core != (gs[i][0] == 0))
			continue;
		json_array_append_new(items, aggregated_group(gs[i]));
	}
	bool v2 = r->accept == ACCEPT_DISCOVERY_V2;
	json_t *list =
	    json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
		      v2 ? "apidiscovery.k8s.io/v2" : "apidiscovery.k8s.io/v2beta1", "metadata",
		      "items", items);
	size_t len;
	char *s = json_dump_compact(list, &len);
	json_decref(list);
	req_respond_buf(r, 200, s, len, v2 ? CT_DISCOVERY_V2 : CT_DISCOVERY_V2B1);
}

static json_t *group_json(const char *group)
{
	const char *version = group_version(group);
	_cleanup_free_ char *gv = xasprintf("%s/%s", group, version);
	json_t *v = json_pack("{s:s, s:s}", "groupVersion", gv, "version", version);
	json_t *versions = json_array();
	json_array_append(versions, v);
	return json_pack("{s:s, s:o, s:o}", "name", group, "versions", versions, "preferredVersion",
			 v);
}

static json_t *resource_list(const char *group, const char *version)
{
	const struct resource *rs[64];
	size_t n = gv_resources(group, version, rs, ARRAY_SIZE(rs));
	json_t *resources = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct resource *res = rs[i];
		json_t *o = json_object();
		json_set_str(o, "name", res->plural);
		json_set_str(o, "singularName", res->singular);
		json_object_set_new(o, "namespaced", json_boolean(res->namespaced));
		json_set_str(o, "kind", res->kind);
		json_object_set_new(o, "verbs", resource_verbs(res));
		if (res->short_names)
			json_object_set_new(o, "shortNames", strv_json(res->short_names));
		if (res->categories)
			json_object_set_new(o, "categories", strv_json(res->categories));
		json_array_append_new(resources, o);
		for (size_t k = 0; k < ARRAY_SIZE(subresources); k++) {
			const struct subres *s = &subresources[k];
			if (!(res->flags & s->flag))
				continue;
			_cleanup_free_ char *name = xasprintf("%s/%s", res->plural, s->name);
			json_t *so = json_object();
			json_set_str(so, "name", name);
			json_set_str(so, "singularName", "");
			json_object_set_new(so, "namespaced", json_boolean(res->namespaced));
			if (s->group && s->group[0])
				json_set_str(so, "group", s->group);
			if (s->version)
				json_set_str(so, "version", s->version);
			_cleanup_free_ char *pkind = proxy_kind(s, res);
			json_set_str(so, "kind", pkind ? pkind : s->kind ? s->kind : res->kind);
			json_object_set_new(so, "verbs", verbs_json(s->verbs, s->nverbs));
			json_array_append_new(resources, so);
		}
	}
	_cleanup_free_ char *gv = group[0] ? xasprintf("%s/%s", group, version) : xstrdup(version);
	return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
			 "groupVersion", gv, "resources", resources);
}

void discovery_serve(struct req *r)
{
	bool aggregated = r->accept == ACCEPT_DISCOVERY_V2 || r->accept == ACCEPT_DISCOVERY_V2B1;
	if (!streq(r->method, "GET")) {
		req_respond_status(
		    r, 405, "MethodNotAllowed",
		    "the server does not allow this method on the requested resource");
		return;
	}
	switch (r->route.kind) {
	case R_ROOT: {
		json_t *paths = json_array();
		const char *fixed[] = { "/api",	       "/api/v1", "/apis",
					"/healthz",    "/livez",  "/openapi/v2",
					"/openapi/v3", "/readyz", "/version" };
		for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
			json_array_append_new(paths, json_string(fixed[i]));
		const char *gs[32];
		size_t n = groups(gs, ARRAY_SIZE(gs));
		for (size_t i = 0; i < n; i++) {
			if (!gs[i][0])
				continue;
			json_array_append_new(paths, json_sprintf("/apis/%s", gs[i]));
			json_array_append_new(
			    paths, json_sprintf("/apis/%s/%s", gs[i], group_version(gs[i])));
		}
		req_respond_json(r, 200, json_pack("{s:o}", "paths", paths));
		return;
	}
	case R_API:
		if (aggregated) {
			serve_aggregated(r, true);
			return;
		}
		req_respond_json(r, 200,
				 json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions",
					   "versions", "v1", "serverAddressByClientCIDRs",
					   "clientCIDR", "0.0.0.0/0", "serverAddress",
					   r->srv->server_url + strlen("https://")));
		return;
	case R_APIS: {
		if (aggregated) {
			serve_aggregated(r, false);
			return;
		}
		const char *gs[32];
		size_t n = groups(gs, ARRAY_SIZE(gs));
		json_t *list = json_array();
		for (size_t i = 0; i < n; i++)
			if (gs[i][0])
				json_array_append_new(list, group_json(gs[i]));
		req_respond_json(r, 200,
				 json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion",
					   "v1", "groups", list));
		return;
	}
	case R_API_GROUP: {
		json_t *g = group_json(r->route.group);
		json_set_str(g, "kind", "APIGroup");
		json_set_str(g, "apiVersion", "v1");
		req_respond_json(r, 200, g);
		return;
	}
	case R_GROUP_VERSION:
		req_respond_json(r, 200, resource_list(r->route.group, r->route.version));
		return;
	default:
		break;
	}
	req_respond_status(r, 404, "NotFound", "the server could not find the requested resource");
}

void openapi_serve(struct req *r)
{
	if (r->route.kind == R_OPENAPI_V2) {
		req_respond_status(r, 404, "NotFound",
				   "the server could not find the requested resource");
		return;
	}
	json_t *doc = r->route.kind == R_OPENAPI_V3 ? openapi_v3_root()
						    : openapi_v3_group_version(r->route.rest);
	if (!doc) {
		req_respond_status(r, 404, "NotFound",
				   "the server could not find the requested resource");
		return;
	}
	req_respond_json(r, 200, doc);
}
