/* SPDX-License-Identifier: Apache-2.0 */
#include "apiserver/router.h"
#include "apiserver/resource.h"

#define MAX_SEGMENTS 16

static size_t split(char *path, char **seg)
{
	size_t n = 0;
	for (char *p = strtok_r(path, "/", &path); p && n < MAX_SEGMENTS;
	     p = strtok_r(NULL, "/", &path))
		seg[n++] = p;
	return n;
}

static char *join(char **seg, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += strlen(seg[i]) + 1;
	char *s = xmalloc(len + 1), *p = s;
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = '/';
		size_t l = strlen(seg[i]);
		memcpy(p, seg[i], l);
		p += l;
	}
	*p = 0;
	return s;
}

static bool group_version_served(const char *group, const char *version)
{
	for (const struct resource *const *r = resources_all; *r; r++)
		if (streq((*r)->group, group) && streq((*r)->version, version))
			return true;
	return false;
}

static void parse_resource(struct route *r, char **seg, size_t n)
{
	const struct resource *res;
	size_t i = 0;

	if (n && streq(seg[0], "watch")) {
		r->legacy_watch = true;
		i++;
	}
	if (n - i >= 3 && streq(seg[i], "namespaces")) {
		res = resource_find(r->group, r->version, seg[i + 2]);
		if (res && res->namespaced) {
			r->ns = xstrdup(seg[i + 1]);
			i += 2;
		}
	}
	if (i >= n)
		return;
	res = resource_find(r->group, r->version, seg[i]);
	if (!res)
		return;
	if (res->namespaced && !r->ns && n - i > 1)
		return; /* a namespaced object needs its namespace in the path */
	r->res = res;
	if (n - i > 1)
		r->name = xstrdup(seg[i + 1]);
	if (n - i > 2)
		r->sub = xstrdup(seg[i + 2]);
	if (n - i > 3)
		r->rest = join(seg + i + 3, n - i - 3);
	r->kind = R_RESOURCE;
}

void route_parse(const char *path, struct route *ret)
{
	_cleanup_free_ char *copy = xstrdup(path);
	char *seg[MAX_SEGMENTS];
	size_t n = split(copy, seg);

	*ret = (struct route){ 0 };
	if (n == 0) {
		ret->kind = R_ROOT;
		return;
	}
	if (streq(seg[0], "cacerts") && n == 1) {
		ret->kind = R_CACERTS;
		return;
	}
	if (streq(seg[0], "version") && n == 1) {
		ret->kind = R_VERSION;
		return;
	}
	if (streq(seg[0], "healthz") || streq(seg[0], "livez") || streq(seg[0], "readyz")) {
		ret->kind = R_HEALTH;
		return;
	}
	if (streq(seg[0], "openapi")) {
		if (n == 2 && streq(seg[1], "v2"))
			ret->kind = R_OPENAPI_V2;
		else if (n == 2 && streq(seg[1], "v3"))
			ret->kind = R_OPENAPI_V3;
		else if (n >= 3 && streq(seg[1], "v3")) {
			ret->kind = R_OPENAPI_V3_GV;
			ret->rest = join(seg + 2, n - 2);
		}
		return;
	}
	if (streq(seg[0], "api")) {
		if (n == 1) {
			ret->kind = R_API;
			return;
		}
		if (!group_version_served("", seg[1]))
			return;
		ret->group = xstrdup("");
		ret->version = xstrdup(seg[1]);
		if (n == 2)
			ret->kind = R_GROUP_VERSION;
		else
			parse_resource(ret, seg + 2, n - 2);
		return;
	}
	if (streq(seg[0], "apis")) {
		if (n == 1) {
			ret->kind = R_APIS;
			return;
		}
		ret->group = xstrdup(seg[1]);
		if (n == 2) {
			for (const struct resource *const *r = resources_all; *r; r++)
				if (streq((*r)->group, seg[1]))
					ret->kind = R_API_GROUP;
			return;
		}
		if (!group_version_served(seg[1], seg[2]))
			return;
		ret->version = xstrdup(seg[2]);
		if (n == 3)
			ret->kind = R_GROUP_VERSION;
		else
			parse_resource(ret, seg + 3, n - 3);
	}
}

void route_release(struct route *r)
{
	free(r->group);
	free(r->version);
	free(r->ns);
	free(r->name);
	free(r->sub);
	free(r->rest);
	*r = (struct route){ 0 };
}
