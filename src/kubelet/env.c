/* SPDX-License-Identifier: Apache-2.0 */
/* A container's environment, resolved as the kubelet does (see env.h). */
#include "kubelet/env.h"

#include <ctype.h>
#include <inttypes.h>

#include "kubelet/kenv_internal.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/macro.h"
#include "lib/quantity.h"
#include "lib/strbuf.h"

#define ENV_MAX_BYTES (1024 * 1024)

/* An ordered map of variables: names in first-set order, last value wins. */
struct envmap {
	char **names, **values;
	size_t n, alloc;
};

static void envmap_release(struct envmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->names[i]);
		free(m->values[i]);
	}
	free(m->names);
	free(m->values);
	*m = (struct envmap){ 0 };
}

static ssize_t envmap_find(const struct envmap *m, const char *name, size_t nlen)
{
	for (size_t i = m->n; i-- > 0;)
		if (strlen(m->names[i]) == nlen && strncmp(m->names[i], name, nlen) == 0)
			return (ssize_t)i;
	return -1;
}

static void envmap_set(struct envmap *m, const char *name, size_t nlen, const char *value,
		       size_t vlen)
{
	ssize_t i = envmap_find(m, name, nlen);
	if (i >= 0) {
		free(m->values[i]);
		m->values[i] = xstrndup(value, vlen);
		return;
	}
	if (m->n == m->alloc) {
		m->alloc = m->alloc ? m->alloc * 2 : 16;
		m->names = xrealloc(m->names, m->alloc * sizeof(char *));
		m->values = xrealloc(m->values, m->alloc * sizeof(char *));
	}
	m->names[m->n] = xstrndup(name, nlen);
	m->values[m->n] = xstrndup(value, vlen);
	m->n++;
}

/* Expand $(VAR) from a lookup; $$ is a literal $; unknown references stay as
 * written (Kubernetes' expansion rules). */
char *kenv_expand(const char *s, const char *(*lookup)(void *ud, const char *name, size_t nlen),
		  void *ud, size_t max)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "");
	for (const char *p = s; *p;) {
		if (p[0] != '$' || !p[1]) {
			strbuf_addch(&sb, *p++);
			continue;
		}
		if (p[1] == '$') {
			strbuf_addch(&sb, '$');
			p += 2;
			continue;
		}
		if (p[1] == '(') {
			const char *end = strchr(p + 2, ')');
			if (!end) {
				strbuf_addstr(&sb, p);
				break;
			}
			const char *v = lookup(ud, p + 2, (size_t)(end - (p + 2)));
			if (v && max && strlen(v) > max)
				return NULL;
			if (v)
				strbuf_addstr(&sb, v);
			else
				strbuf_add(&sb, p, (size_t)(end + 1 - p));
			p = end + 1;
			if (max && sb.len > max)
				return NULL;
			continue;
		}
		strbuf_addch(&sb, *p++);
		if (max && sb.len > max)
			return NULL;
	}
	if (max && sb.len > max)
		return NULL;
	return strbuf_detach(&sb, NULL);
}

static const char *envmap_lookup(void *ud, const char *name, size_t nlen)
{
	struct envmap *m = ud;
	ssize_t i = envmap_find(m, name, nlen);
	return i >= 0 ? m->values[i] : NULL;
}

/* An environment variable name as Kubernetes 1.32 accepts it (relaxed
 * validation: printable ASCII without '='). */
bool kenv_name_valid(const char *name)
{
	if (isempty(name))
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '=' || !isprint((unsigned char)*p))
			return false;
	return true;
}

/* The value of key in a ConfigMap (data, then binaryData) or Secret (data,
 * base64) object; NULL if absent. */
static char *object_key(const json_t *obj, bool secret, const char *key, size_t *ret_len)
{
	json_t *data = json_object_get(obj, "data");
	const char *v = json_string_value(json_object_get(data, key));
	if (!secret) {
		if (v) {
			if (ret_len)
				*ret_len = strlen(v);
			return xstrdup(v);
		}
		data = json_object_get(obj, "binaryData");
		v = json_string_value(json_object_get(data, key));
	}
	if (!v)
		return NULL;
	void *out = NULL;
	size_t len = 0;
	if (base64_decode(v, strlen(v), &out, &len) < 0)
		return NULL;
	if (ret_len)
		*ret_len = len;
	return out;
}

char *kenv_object_key(const json_t *obj, bool secret, const char *key, size_t *ret_len)
{
	return object_key(obj, secret, key, ret_len);
}

static const char *kind_of(const char *resource)
{
	return streq(resource, "secrets") ? "Secret" : "ConfigMap";
}

/* Fetch an object, caching nothing (the core's lookup is a cache). */
static int lookup_obj(const struct kubelet_lookup *lk, const char *resource, const char *ns,
		      const char *name, json_t **ret, char **ret_err)
{
	if (!lk || !lk->get) {
		*ret_err = xasprintf("cannot read %s %s/%s: no API access", resource, ns, name);
		return -ENOTSUP;
	}
	char *err = NULL;
	json_t *o = lk->get(lk->ud, resource, ns, name, &err);
	if (!o) {
		if (err)
			*ret_err = err;
		else
			*ret_err =
			    xasprintf("%s \"%s\" not found",
				      streq(resource, "secrets") ? "secret" : "configmap", name);
		return -ENOENT;
	}
	*ret = o;
	return 0;
}

static const char *label_or_annotation(json_t *pod, const char *path, const char *expr)
{
	/* expr is like labels['k'] or annotations["k"] after "metadata." */
	const char *open = strchr(expr, '[');
	size_t plen = (size_t)(open - expr);
	const char *k = open + 2;
	size_t klen = strlen(k);
	if (klen < 2)
		return NULL;
	_cleanup_free_ char *key = xstrndup(k, klen - 2);
	_cleanup_free_ char *field = xstrndup(expr, plen);
	(void)path;
	json_t *m = json_object_get(json_object_get(pod, "metadata"), field);
	return json_string_value(json_object_get(m, key));
}

static bool is_pod_ip_path(const char *path)
{
	return streq(path, "status.podIP") || streq(path, "status.podIPs");
}

bool kubelet_env_needs_pod_ip(const json_t *pod)
{
	static const char *const lists[] = { "spec.initContainers", "spec.containers" };
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i, e;
		json_t *c, *env;
		json_array_foreach(json_get((json_t *)pod, lists[l]), i, c)
		{
			json_array_foreach(json_object_get(c, "env"), e, env)
			{
				const char *f = json_get_str(env, "valueFrom.fieldRef.fieldPath");
				if (f && is_pod_ip_path(f))
					return true;
			}
		}
	}
	return false;
}

int kenv_field_ref(const json_t *pod_c, const char *path, const char *pod_ip, const char *host_ip,
		   char **ret, char **ret_err)
{
	json_t *pod = (json_t *)pod_c;
	if (isempty(path)) {
		*ret_err = xstrdup("fieldRef without fieldPath");
		return -EINVAL;
	}
	const char *v = NULL;
	if (streq(path, "metadata.name") || streq(path, "metadata.namespace") ||
	    streq(path, "metadata.uid") || streq(path, "spec.nodeName") ||
	    streq(path, "spec.serviceAccountName"))
		v = str_or_empty_json(pod, path);
	else if (is_pod_ip_path(path))
		v = pod_ip ? pod_ip : str_or_empty_json(pod, "status.podIP");
	else if (streq(path, "status.hostIP") || streq(path, "status.hostIPs"))
		v = host_ip ? host_ip : str_or_empty_json(pod, "status.hostIP");
	else if ((startswith(path, "metadata.labels[") ||
		  startswith(path, "metadata.annotations[")) &&
		 strlen(path) > strlen("metadata.labels[''") && (path[strlen(path) - 1] == ']') &&
		 (strchr(path, '[')[1] == '\'' || strchr(path, '[')[1] == '"')) {
		v = label_or_annotation(pod, path, path + strlen("metadata."));
		if (!v)
			v = "";
	} else {
		*ret_err = xasprintf("unsupported fieldRef fieldPath \"%s\"", path);
		return -EINVAL;
	}
	*ret = xstrdup(v);
	return 0;
}

static int64_t machine_cpus_milli(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return (n > 0 ? n : 1) * 1000;
}

int64_t kenv_machine_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	return pages > 0 && psz > 0 ? (int64_t)pages * psz : 0;
}

int kenv_resource_value(const json_t *c, const char *kind, const char *name, bool milli,
			int64_t *ret)
{
	json_t *q = json_object_get(json_object_get(json_object_get(c, "resources"), kind), name);
	const char *s = json_string_value(q);
	if (!s) {
		if (json_is_integer(q)) {
			*ret = json_integer_value(q) * (milli ? 1000 : 1);
			return 0;
		}
		return -ENOENT;
	}
	return milli ? quantity_parse_milli(s, ret) : quantity_parse(s, ret);
}

int kenv_resource_ref(const json_t *pod, const json_t *container, const json_t *ref, char **ret,
		      char **ret_err)
{
	const char *res = json_string_value(json_object_get(ref, "resource"));
	const char *cname = json_string_value(json_object_get(ref, "containerName"));
	const json_t *c = container;
	if (!isempty(cname)) {
		c = NULL;
		const char *lists[] = { "containers", "initContainers" };
		for (size_t l = 0; l < ARRAY_SIZE(lists) && !c; l++) {
			json_t *arr = json_object_get(json_object_get(pod, "spec"), lists[l]);
			size_t i;
			json_t *x;
			json_array_foreach(
			    arr, i, x) if (streq_ptr(json_string_value(json_object_get(x, "name")),
						     cname)) c = x;
		}
		if (!c) {
			*ret_err = xasprintf("resourceFieldRef: container \"%s\" not found", cname);
			return -EINVAL;
		}
	}
	if (isempty(res)) {
		*ret_err = xstrdup("resourceFieldRef without resource");
		return -EINVAL;
	}
	bool cpu;
	const char *kind, *name;
	if (streq(res, "limits.cpu") || streq(res, "requests.cpu"))
		cpu = true;
	else if (streq(res, "limits.memory") || streq(res, "requests.memory") ||
		 streq(res, "limits.ephemeral-storage") || streq(res, "requests.ephemeral-storage"))
		cpu = false;
	else {
		*ret_err = xasprintf("unsupported resourceFieldRef resource \"%s\"", res);
		return -EINVAL;
	}
	kind = startswith(res, "limits.") ? "limits" : "requests";
	name = strchr(res, '.') + 1;

	int64_t v;
	int r = kenv_resource_value(c, kind, name, cpu, &v);
	if (r == -ENOENT && streq(kind, "requests"))
		r = kenv_resource_value(c, "limits", name, cpu, &v);
	if (r == -ENOENT) {
		/* Unset: a limit defaults to the node's allocatable; a request to 0. */
		if (streq(kind, "limits"))
			v = cpu			    ? machine_cpus_milli()
			    : streq(name, "memory") ? kenv_machine_memory()
						    : 0;
		else
			v = 0;
	} else if (r < 0) {
		*ret_err = xasprintf("resourceFieldRef \"%s\": invalid quantity", res);
		return -EINVAL;
	}

	int64_t div = cpu ? 1000 : 1;
	const char *ds = json_string_value(json_object_get(ref, "divisor"));
	if (!isempty(ds)) {
		r = cpu ? quantity_parse_milli(ds, &div) : quantity_parse(ds, &div);
		if (r < 0 || div <= 0) {
			*ret_err =
			    xasprintf("resourceFieldRef \"%s\": invalid divisor \"%s\"", res, ds);
			return -EINVAL;
		}
	}
	int64_t out = v / div + (v % div ? 1 : 0);
	*ret = xasprintf("%" PRId64, out);
	return 0;
}

static int env_from(const json_t *pod, const json_t *from, const struct kubelet_lookup *lk,
		    struct envmap *m, char **ret_err)
{
	const char *ns = json_get_str((json_t *)pod, "metadata.namespace");
	if (isempty(ns))
		ns = "default";
	const char *prefix = json_string_value(json_object_get(from, "prefix"));
	json_t *ref = json_object_get(from, "configMapRef");
	const char *resource = "configmaps";
	if (!ref) {
		ref = json_object_get(from, "secretRef");
		resource = "secrets";
	}
	if (!ref)
		return 0;
	const char *name = json_string_value(json_object_get(ref, "name"));
	bool optional = json_is_true(json_object_get(ref, "optional"));
	if (isempty(name)) {
		*ret_err = xasprintf("envFrom %s without name", kind_of(resource));
		return -EINVAL;
	}
	_cleanup_json_ json_t *obj = NULL;
	_cleanup_free_ char *err = NULL;
	int r = lookup_obj(lk, resource, ns, name, &obj, &err);
	if (r < 0) {
		if (optional && r == -ENOENT)
			return 0;
		*ret_err = TAKE_PTR(err);
		return r;
	}
	bool secret = streq(resource, "secrets");
	json_t *data = json_object_get(obj, "data");
	const char *key;
	json_t *v;
	json_object_foreach(data, key, v)
	{
		_cleanup_free_ char *full = xasprintf("%s%s", prefix ? prefix : "", key);
		if (!kenv_name_valid(full))
			continue; /* the kubelet skips invalid names (with an event) */
		size_t len = 0;
		_cleanup_free_ char *val = object_key(obj, secret, key, &len);
		if (!val)
			continue;
		envmap_set(m, full, strlen(full), val, strlen(val));
	}
	return 0;
}

static int key_ref(const json_t *pod, const json_t *ref, const char *resource,
		   const struct kubelet_lookup *lk, char **ret, char **ret_err)
{
	const char *ns = json_get_str((json_t *)pod, "metadata.namespace");
	if (isempty(ns))
		ns = "default";
	const char *name = json_string_value(json_object_get(ref, "name"));
	const char *key = json_string_value(json_object_get(ref, "key"));
	bool optional = json_is_true(json_object_get(ref, "optional"));
	if (isempty(name) || isempty(key)) {
		*ret_err = xasprintf("%sKeyRef needs a name and a key",
				     streq(resource, "secrets") ? "secret" : "configMap");
		return -EINVAL;
	}
	_cleanup_json_ json_t *obj = NULL;
	_cleanup_free_ char *err = NULL;
	int r = lookup_obj(lk, resource, ns, name, &obj, &err);
	if (r < 0) {
		if (optional && r == -ENOENT)
			return 1;
		*ret_err = TAKE_PTR(err);
		return r;
	}
	char *v = object_key(obj, streq(resource, "secrets"), key, NULL);
	if (!v) {
		if (optional)
			return 1;
		*ret_err =
		    xasprintf("couldn't find key %s in %s %s/%s", key, kind_of(resource), ns, name);
		return -ENOENT;
	}
	*ret = v;
	return 0;
}

static int env_var(const json_t *pod, const json_t *container, const json_t *e, const char *pod_ip,
		   const char *host_ip, const struct kubelet_lookup *lk, struct envmap *m,
		   char **ret_err)
{
	const char *name = json_string_value(json_object_get(e, "name"));
	if (!kenv_name_valid(name)) {
		*ret_err = xasprintf("invalid environment variable name \"%s\"", name ? name : "");
		return -EINVAL;
	}
	json_t *from = json_object_get(e, "valueFrom");
	_cleanup_free_ char *val = NULL;
	int r = 0;
	if (!from) {
		const char *v = json_string_value(json_object_get(e, "value"));
		val = kenv_expand(v ? v : "", envmap_lookup, m, ENV_MAX_BYTES);
		if (!val) {
			*ret_err = xasprintf("the environment of container \"%s\" is over the "
					     "limit of %d bytes (variable \"%s\" expands to more)",
					     str_or_empty_json((json_t *)container, "name"),
					     ENV_MAX_BYTES, name);
			return -E2BIG;
		}
	} else if (json_object_get(from, "fieldRef")) {
		r = kenv_field_ref(pod,
				   json_get_str(json_object_get(from, "fieldRef"), "fieldPath"),
				   pod_ip, host_ip, &val, ret_err);
	} else if (json_object_get(from, "resourceFieldRef")) {
		r = kenv_resource_ref(pod, container, json_object_get(from, "resourceFieldRef"),
				      &val, ret_err);
	} else if (json_object_get(from, "configMapKeyRef")) {
		r = key_ref(pod, json_object_get(from, "configMapKeyRef"), "configmaps", lk, &val,
			    ret_err);
	} else if (json_object_get(from, "secretKeyRef")) {
		r = key_ref(pod, json_object_get(from, "secretKeyRef"), "secrets", lk, &val,
			    ret_err);
	} else {
		*ret_err = xasprintf("environment variable \"%s\": unsupported valueFrom", name);
		return -EINVAL;
	}
	if (r < 0)
		return r;
	if (r == 1) /* optional and absent: not set */
		return 0;
	envmap_set(m, name, strlen(name), val, strlen(val));
	return 0;
}

int kubelet_env_resolve(const json_t *pod, const json_t *container, const char *const *image_env,
			const char *pod_ip, const char *host_ip, const struct kubelet_lookup *lk,
			char ***ret_env, char **ret_err)
{
	_cleanup_(envmap_release) struct envmap kube = { 0 };
	_cleanup_(envmap_release) struct envmap all = { 0 };
	const char *cname = json_string_value(json_object_get(container, "name"));
	char *err = NULL;
	int r;

	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(container, "envFrom"), i, x)
	{
		r = env_from(pod, x, lk, &kube, &err);
		if (r < 0)
			goto fail;
	}
	json_array_foreach(json_object_get(container, "env"), i, x)
	{
		r = env_var(pod, container, x, pod_ip, host_ip, lk, &kube, &err);
		if (r < 0)
			goto fail;
	}

	/* The image's environment first, then the pod's, replacing same names. */
	for (const char *const *e = image_env; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || eq == *e)
			continue;
		envmap_set(&all, *e, (size_t)(eq - *e), eq + 1, strlen(eq + 1));
	}
	for (size_t k = 0; k < kube.n; k++)
		envmap_set(&all, kube.names[k], strlen(kube.names[k]), kube.values[k],
			   strlen(kube.values[k]));

	size_t total = 0;
	for (size_t k = 0; k < all.n; k++)
		total += strlen(all.names[k]) + strlen(all.values[k]) + 2;
	if (total > ENV_MAX_BYTES) {
		err = xasprintf("the environment of container \"%s\" is %zu bytes, over the limit "
				"of %d bytes",
				cname ? cname : "", total, ENV_MAX_BYTES);
		r = -E2BIG;
		goto fail;
	}

	char **v = xnew(char *, all.n + 1);
	for (size_t k = 0; k < all.n; k++)
		v[k] = xasprintf("%s=%s", all.names[k], all.values[k]);
	*ret_env = v;
	return 0;
fail:
	if (ret_err)
		*ret_err = err;
	else
		free(err);
	return r;
}
