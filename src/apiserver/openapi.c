/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenAPI v3 documents, generated from the type descriptions (schema.c)
 * and the resource table: one document per group version holding its
 * paths (with the fieldValidation parameter kubectl looks for) and the
 * schemas of every type its kinds reach, with the Kubernetes extensions
 * that strategic merge and server-side apply read.
 */
#include <pthread.h>

#include "apiserver/openapi.h"
#include "apiserver/resource.h"
#include "apiserver/schema.h"
#include "lib/json.h"

#define REF_PREFIX	 "#/components/schemas/"
#define QUANTITY_NAME	 "io.k8s.apimachinery.pkg.api.resource.Quantity"
#define INTORSTRING_NAME "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
#define TIME_NAME	 "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
#define MICROTIME_NAME	 "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"

static json_t *ref_to(const char *name)
{
	json_t *ref = json_pack("{s:s+}", "$ref", REF_PREFIX, name);
	return json_pack("{s:[o]}", "allOf", ref);
}

static json_t *ref_schema(const struct schema_ref *r, json_t *needed)
{
	switch (r->kind) {
	case SK_STRING:
		return json_pack("{s:s}", "type", "string");
	case SK_INT32:
		return json_pack("{s:s, s:s}", "type", "integer", "format", "int32");
	case SK_INT64:
		return json_pack("{s:s, s:s}", "type", "integer", "format", "int64");
	case SK_BOOL:
		return json_pack("{s:s}", "type", "boolean");
	case SK_DOUBLE:
		return json_pack("{s:s, s:s}", "type", "number", "format", "double");
	case SK_BYTES:
		return json_pack("{s:s, s:s}", "type", "string", "format", "byte");
	case SK_DURATION:
		return json_pack("{s:s}", "type", "string");
	case SK_TIME:
		return ref_to(TIME_NAME);
	case SK_MICROTIME:
		return ref_to(MICROTIME_NAME);
	case SK_QUANTITY:
		return ref_to(QUANTITY_NAME);
	case SK_INTORSTRING:
		return ref_to(INTORSTRING_NAME);
	case SK_FREEFORM:
		return json_pack("{s:s, s:b}", "type", "object",
				 "x-kubernetes-preserve-unknown-fields", 1);
	case SK_STRUCT:
		json_object_set_new(needed, r->type->openapi_name, json_true());
		return ref_to(r->type->openapi_name);
	case SK_LIST:
		return json_pack("{s:s, s:o}", "type", "array", "items",
				 ref_schema(r->elem, needed));
	case SK_MAP:
		return json_pack("{s:s, s:o}", "type", "object", "additionalProperties",
				 ref_schema(r->elem, needed));
	}
	return json_object();
}

static json_t *type_schema(const struct schema_type *t, json_t *needed)
{
	json_t *props = json_object(), *required = json_array();
	for (size_t i = 0; i < t->nfields; i++) {
		const struct schema_field *f = &t->fields[i];
		if (f->flags & SF_INLINE)
			continue; /* its fields are listed flattened */
		json_t *p = ref_schema(&f->ref, needed);
		if (f->description)
			json_set_str(p, "description", f->description);
		if (f->ref.kind == SK_STRUCT)
			json_object_set_new(p, "default", json_object());
		if (f->merge_key) {
			json_set_str(p, "x-kubernetes-patch-merge-key", f->merge_key);
			json_set_str(p, "x-kubernetes-patch-strategy",
				     (f->flags & SF_RETAIN_KEYS) ? "merge,retainKeys" : "merge");
		} else if (f->flags & SF_MERGE) {
			json_set_str(p, "x-kubernetes-patch-strategy", "merge");
		} else if (f->flags & SF_RETAIN_KEYS) {
			json_set_str(p, "x-kubernetes-patch-strategy", "retainKeys");
		}
		if (f->flags & SF_LIST_MAP) {
			json_set_str(p, "x-kubernetes-list-type", "map");
			json_t *keys = json_array();
			for (const char *const *k = f->listmap; k && *k; k++)
				json_array_append_new(keys, json_string(*k));
			json_object_set_new(p, "x-kubernetes-list-map-keys", keys);
		} else if (f->flags & SF_LIST_SET) {
			json_set_str(p, "x-kubernetes-list-type", "set");
		} else if (f->flags & SF_LIST_ATOMIC) {
			json_set_str(p, "x-kubernetes-list-type", "atomic");
		}
		if (f->enums) {
			json_t *e = json_array();
			for (const char *const *v = f->enums; *v; v++)
				json_array_append_new(e, json_string(*v));
			json_object_set_new(p, "enum", e);
		}
		json_object_set_new(props, f->name, p);
		if (f->flags & SF_REQUIRED)
			json_array_append_new(required, json_string(f->name));
	}
	json_t *s = json_pack("{s:s, s:o}", "type", "object", "properties", props);
	if (t->description)
		json_set_str(s, "description", t->description);
	if (json_array_size(required))
		json_object_set_new(s, "required", required);
	else
		json_decref(required);
	return s;
}

static const struct schema_type *type_by_openapi_name(const struct schema *sc, const char *name)
{
	for (size_t i = 0;; i++) {
		const struct schema_type *t = schema_type_at(sc, i);
		if (!t)
			return NULL;
		if (streq(t->openapi_name, name))
			return t;
	}
}

static json_t *param(const char *name, const char *in, bool required)
{
	return json_pack("{s:s, s:s, s:b, s:{s:s}}", "name", name, "in", in, "required", required,
			 "schema", "type", "string");
}

static json_t *operation(const struct resource *res, const char *action, const char *type_ref,
			 bool write)
{
	json_t *params = json_array();
	if (write) {
		json_array_append_new(params, param("dryRun", "query", false));
		json_array_append_new(params, param("fieldManager", "query", false));
		json_array_append_new(params, param("fieldValidation", "query", false));
	}
	json_t *op = json_pack(
	    "{s:s, s:o, s:{s:s, s:s, s:s}, s:o, s:{s:{s:s, s:{s:{s:o}}}}}", "x-kubernetes-action",
	    action, "parameters", params, "x-kubernetes-group-version-kind", "group", res->group,
	    "version", res->version, "kind", res->kind, "tags", json_array(), "responses", "200",
	    "description", "OK", "content", "application/json", "schema", ref_to(type_ref));
	return op;
}

static char *collection_path(const struct resource *res)
{
	const char *base = res->group[0] ? "/apis/" : "/api";
	_cleanup_free_ char *gv = res->group[0] ? xasprintf("%s/%s", res->group, res->version)
						: xasprintf("/%s", res->version);
	return xasprintf("%s%s%s/%s", base, gv, res->namespaced ? "/namespaces/{namespace}" : "",
			 res->plural);
}

static json_t *build_gv(const char *group, const char *version)
{
	const struct schema *sc = schema_builtin();
	json_t *paths = json_object(), *schemas = json_object(), *needed = json_object();
	bool any = false;

	for (const struct resource *const *rp = resources_all; *rp; rp++) {
		const struct resource *res = *rp;
		if (!streq(res->group, group) || !streq(res->version, version) || !res->type_name)
			continue;
		const struct schema_type *t = schema_find_type(sc, res->type_name);
		if (!t)
			continue;
		any = true;
		json_object_set_new(needed, t->openapi_name, json_true());
		_cleanup_free_ char *coll = collection_path(res);
		_cleanup_free_ char *item = xasprintf("%s/{name}", coll);
		json_t *cp = json_object(), *ip = json_object();
		json_object_set_new(cp, "get", operation(res, "list", t->openapi_name, false));
		json_object_set_new(cp, "post", operation(res, "post", t->openapi_name, true));
		json_object_set_new(ip, "get", operation(res, "get", t->openapi_name, false));
		json_object_set_new(ip, "put", operation(res, "put", t->openapi_name, true));
		json_t *patch = operation(res, "patch", t->openapi_name, true);
		json_array_append_new(json_object_get(patch, "parameters"),
				      param("force", "query", false));
		json_object_set_new(ip, "patch", patch);
		json_object_set_new(ip, "delete", operation(res, "delete", t->openapi_name, false));
		json_object_set_new(paths, coll, cp);
		json_object_set_new(paths, item, ip);
		if (res->flags & RES_STATUS) {
			_cleanup_free_ char *sp = xasprintf("%s/status", item);
			json_t *o = json_object();
			json_object_set_new(o, "get",
					    operation(res, "get", t->openapi_name, false));
			json_object_set_new(o, "put", operation(res, "put", t->openapi_name, true));
			json_object_set_new(o, "patch",
					    operation(res, "patch", t->openapi_name, true));
			json_object_set_new(paths, sp, o);
		}
	}
	if (!any) {
		json_decref(paths);
		json_decref(schemas);
		json_decref(needed);
		return NULL;
	}

	/* Every type the kinds reach, transitively. */
	for (;;) {
		bool added = false;
		const char *name;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(needed, tmp, name, v)
		{
			if (json_object_get(schemas, name))
				continue;
			const struct schema_type *t = type_by_openapi_name(sc, name);
			if (!t) {
				json_object_set_new(schemas, name, json_object());
				continue;
			}
			json_object_set_new(schemas, name, type_schema(t, needed));
			added = true;
		}
		if (!added)
			break;
	}
	json_decref(needed);

	/* Kinds carry their group, version and kind. */
	for (const struct resource *const *rp = resources_all; *rp; rp++) {
		const struct resource *res = *rp;
		const struct schema_type *t =
		    res->type_name ? schema_find_type(sc, res->type_name) : NULL;
		json_t *s = t ? json_object_get(schemas, t->openapi_name) : NULL;
		if (!s)
			continue;
		json_object_set_new(s, "x-kubernetes-group-version-kind",
				    json_pack("[{s:s, s:s, s:s}]", "group", res->group, "version",
					      res->version, "kind", res->kind));
	}
	json_object_set_new(schemas, QUANTITY_NAME,
			    json_pack("{s:s, s:s}", "type", "string", "description",
				      "A fixed-point amount such as 100m, 1.5 or 128Mi."));
	json_object_set_new(schemas, INTORSTRING_NAME,
			    json_pack("{s:s, s:s, s:s}", "type", "string", "format",
				      "int-or-string", "description",
				      "Either an integer or a string."));
	json_object_set_new(schemas, TIME_NAME,
			    json_pack("{s:s, s:s, s:s}", "type", "string", "format", "date-time",
				      "description", "A time in RFC 3339 form, in seconds."));
	json_object_set_new(schemas, MICROTIME_NAME,
			    json_pack("{s:s, s:s, s:s}", "type", "string", "format", "date-time",
				      "description", "A time in RFC 3339 form, in microseconds."));

	return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info", "title",
			 "Kubernetes", "version", "v1.32.0", "paths", paths, "components",
			 "schemas", schemas);
}

struct gv_doc {
	char *path; /* "api/v1", "apis/apps/v1" */
	json_t *doc;
	char hash[17];
};

static struct gv_doc *docs;
static size_t ndocs;
static pthread_once_t docs_once = PTHREAD_ONCE_INIT;

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void build_docs(void)
{
	for (const struct resource *const *rp = resources_all; *rp; rp++) {
		const struct resource *res = *rp;
		_cleanup_free_ char *path = res->group[0]
						? xasprintf("apis/%s/%s", res->group, res->version)
						: xasprintf("api/%s", res->version);
		bool seen = false;
		for (size_t i = 0; i < ndocs; i++)
			seen = seen || streq(docs[i].path, path);
		if (seen)
			continue;
		json_t *doc = build_gv(res->group, res->version);
		if (!doc)
			continue;
		docs = xrealloc(docs, (ndocs + 1) * sizeof(*docs));
		_cleanup_free_ char *s = json_dump_compact(doc, NULL);
		docs[ndocs].path = TAKE_PTR(path);
		docs[ndocs].doc = doc;
		snprintf(docs[ndocs].hash, sizeof(docs[ndocs].hash), "%016llX",
			 (unsigned long long)fnv1a(s));
		ndocs++;
	}
}

json_t *openapi_v3_root(void)
{
	pthread_once(&docs_once, build_docs);
	json_t *paths = json_object();
	for (size_t i = 0; i < ndocs; i++) {
		_cleanup_free_ char *url =
		    xasprintf("/openapi/v3/%s?hash=%s", docs[i].path, docs[i].hash);
		json_object_set_new(paths, docs[i].path,
				    json_pack("{s:s}", "serverRelativeURL", url));
	}
	return json_pack("{s:o}", "paths", paths);
}

json_t *openapi_v3_group_version(const char *path)
{
	pthread_once(&docs_once, build_docs);
	for (size_t i = 0; i < ndocs; i++)
		if (path && streq(docs[i].path, path))
			return json_incref(docs[i].doc);
	return NULL;
}
