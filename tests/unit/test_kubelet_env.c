/* SPDX-License-Identifier: Apache-2.0 */
/* kubelet_env_resolve: order, expansion, valueFrom, envFrom, limits. */
#include "unit.h"

#include <jansson.h>

#include "kubelet/env.h"
#include "lib/json.h"

/* A lookup over {"configmaps": {"ns/name": obj}, "secrets": {...}}. */
static json_t *fake_get(void *ud, const char *resource, const char *ns, const char *name,
			char **ret_err)
{
	_cleanup_free_ char *key = xasprintf("%s/%s", ns, name);
	json_t *o = json_object_get(json_object_get(ud, resource), key);
	if (!o) {
		*ret_err = xasprintf("%s \"%s\" not found",
				     streq(resource, "secrets") ? "secret" : "configmap", name);
		return NULL;
	}
	return json_incref(o);
}

static json_t *objects(void)
{
	/* "czNjcjN0" is base64("s3cr3t"), "dXNlcg==" is "user". */
	return json_pack("{s:{s:{s:{s:s, s:s, s:s}}}, s:{s:{s:{s:s, s:s}}}}", "configmaps",
			 "ns1/cfg", "data", "color", "blue", "size", "10", "bad-name=x", "v",
			 "secrets", "ns1/sec", "data", "password", "czNjcjN0", "user", "dXNlcg==");
}

static json_t *pod_with(json_t *container)
{
	return json_pack("{s:{s:s, s:s, s:s, s:{s:s}, s:{s:s}}, s:{s:s, s:s, s:[o]}}", "metadata",
			 "name", "p1", "namespace", "ns1", "uid", "uid-1", "labels", "app", "web",
			 "annotations", "team", "a", "spec", "nodeName", "node-a",
			 "serviceAccountName", "sa1", "containers", container);
}

/* {"name": n, "value": v} */
static json_t *ev(const char *n, const char *v)
{
	return json_pack("{s:s, s:s}", "name", n, "value", v);
}

/* {"name": n, "valueFrom": {kind: {"name": obj, "key": key[, "optional": true]}}} */
static json_t *keyref(const char *n, const char *kind, const char *obj, const char *key,
		      bool optional)
{
	json_t *ref = json_pack("{s:s, s:s}", "name", obj, "key", key);
	if (optional)
		json_object_set_new(ref, "optional", json_true());
	return json_pack("{s:s, s:{s:o}}", "name", n, "valueFrom", kind, ref);
}

static json_t *resref(const char *n, const char *res, const char *divisor)
{
	json_t *ref = json_pack("{s:s}", "resource", res);
	if (divisor)
		json_object_set_new(ref, "divisor", json_string(divisor));
	return json_pack("{s:s, s:{s:o}}", "name", n, "valueFrom", "resourceFieldRef", ref);
}

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (char **e = env; e && *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

static ssize_t env_index(char **env, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return (ssize_t)i;
	return -1;
}

static int resolve(json_t *container, const char *const *image_env, char ***env, char **err)
{
	_cleanup_json_ json_t *objs = objects();
	json_incref(container);
	_cleanup_json_ json_t *pod = pod_with(container);
	struct kubelet_lookup lk = { .ud = objs, .get = fake_get };
	return kubelet_env_resolve(pod, container, image_env, "10.0.0.5", "192.168.1.2", &lk, env,
				   err);
}

static void test_values_and_order(void **state)
{
	_cleanup_json_ json_t *c = json_pack(
	    "{s:s, s:[o, o, o, o, o]}", "name", "c", "env", ev("A", "one"), ev("B", "$(A)-two"),
	    ev("C", "$$(A) $(NOPE) $(B)"), ev("PATH", "/custom"), ev("A", "again"));
	const char *image_env[] = { "PATH=/usr/bin", "IMG=1", "A=image", NULL };
	_cleanup_strv_free_ char **env = NULL;
	_cleanup_free_ char *err = NULL;
	assert_int_equal(resolve(c, image_env, &env, &err), 0);
	assert_null(err);
	/* the pod's values replace the image's, in the image's position */
	assert_string_equal(env_get(env, "PATH"), "/custom");
	assert_string_equal(env_get(env, "IMG"), "1");
	assert_int_equal(env_index(env, "PATH"), 0);
	assert_int_equal(env_index(env, "IMG"), 1);
	/* $(VAR) expansion uses earlier variables; $$ escapes; unknown stays */
	assert_string_equal(env_get(env, "B"), "one-two");
	assert_string_equal(env_get(env, "C"), "$(A) $(NOPE) one-two");
	/* a later definition wins */
	assert_string_equal(env_get(env, "A"), "again");
	size_t n = 0;
	for (char **e = env; *e; e++)
		n++;
	assert_int_equal(n, 5);
}

static void test_field_refs(void **state)
{
	const char *paths[][2] = {
		{ "metadata.name", "p1" },
		{ "metadata.namespace", "ns1" },
		{ "metadata.uid", "uid-1" },
		{ "metadata.labels['app']", "web" },
		{ "metadata.annotations['team']", "a" },
		{ "spec.nodeName", "node-a" },
		{ "spec.serviceAccountName", "sa1" },
		{ "status.podIP", "10.0.0.5" },
		{ "status.hostIP", "192.168.1.2" },
		{ "metadata.labels['missing']", "" },
	};
	json_t *envs = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		_cleanup_free_ char *name = xasprintf("F%zu", i);
		json_array_append_new(envs,
				      json_pack("{s:s, s:{s:{s:s}}}", "name", name, "valueFrom",
						"fieldRef", "fieldPath", paths[i][0]));
	}
	_cleanup_json_ json_t *c = json_pack("{s:s, s:o}", "name", "c", "env", envs);
	_cleanup_strv_free_ char **env = NULL;
	_cleanup_free_ char *err = NULL;
	assert_int_equal(resolve(c, NULL, &env, &err), 0);
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		_cleanup_free_ char *name = xasprintf("F%zu", i);
		assert_string_equal(env_get(env, name), paths[i][1]);
	}

	_cleanup_json_ json_t *bad =
	    json_pack("{s:s, s:[{s:s, s:{s:{s:s}}}]}", "name", "c", "env", "name", "X", "valueFrom",
		      "fieldRef", "fieldPath", "spec.nope");
	_cleanup_strv_free_ char **env2 = NULL;
	_cleanup_free_ char *err2 = NULL;
	assert_int_equal(resolve(bad, NULL, &env2, &err2), -EINVAL);
	assert_non_null(strstr(err2, "spec.nope"));
	assert_null(env2);
}

static void test_key_refs(void **state)
{
	_cleanup_json_ json_t *c =
	    json_pack("{s:s, s:[o, o, o, o]}", "name", "c", "env",
		      keyref("COLOR", "configMapKeyRef", "cfg", "color", false),
		      keyref("PW", "secretKeyRef", "sec", "password", false),
		      keyref("OPT1", "configMapKeyRef", "nope", "x", true),
		      keyref("OPT2", "secretKeyRef", "sec", "nokey", true));
	_cleanup_strv_free_ char **env = NULL;
	_cleanup_free_ char *err = NULL;
	assert_int_equal(resolve(c, NULL, &env, &err), 0);
	assert_string_equal(env_get(env, "COLOR"), "blue");
	assert_string_equal(env_get(env, "PW"), "s3cr3t");
	assert_null(env_get(env, "OPT1"));
	assert_null(env_get(env, "OPT2"));

	struct {
		const char *ref, *name, *key, *msg;
		int r;
	} bad[] = {
		{ "configMapKeyRef", "nope", "x", "configmap \"nope\" not found", -ENOENT },
		{ "configMapKeyRef", "cfg", "x", "couldn't find key x in ConfigMap ns1/cfg",
		  -ENOENT },
		{ "secretKeyRef", "sec", "x", "couldn't find key x in Secret ns1/sec", -ENOENT },
		{ "secretKeyRef", "nope", "x", "secret \"nope\" not found", -ENOENT },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_json_ json_t *bc =
		    json_pack("{s:s, s:[o]}", "name", "c", "env",
			      keyref("V", bad[i].ref, bad[i].name, bad[i].key, false));
		_cleanup_strv_free_ char **e = NULL;
		_cleanup_free_ char *m = NULL;
		assert_int_equal(resolve(bc, NULL, &e, &m), bad[i].r);
		assert_string_equal(m, bad[i].msg);
	}
}

static void test_env_from(void **state)
{
	_cleanup_json_ json_t *c =
	    json_pack("{s:s, s:[{s:{s:s}}, {s:s, s:{s:s}}, {s:{s:s, s:b}}], s:[{s:s, s:s}]}",
		      "name", "c", "envFrom", "configMapRef", "name", "cfg", /* */
		      "prefix", "S_", "secretRef", "name", "sec",	     /* */
		      "configMapRef", "name", "absent", "optional", 1,	     /* */
		      "env", "name", "size", "value", "$(size)0");
	_cleanup_strv_free_ char **env = NULL;
	_cleanup_free_ char *err = NULL;
	assert_int_equal(resolve(c, NULL, &env, &err), 0);
	assert_string_equal(env_get(env, "color"), "blue");
	assert_string_equal(env_get(env, "S_password"), "s3cr3t");
	assert_string_equal(env_get(env, "S_user"), "user");
	/* env overrides envFrom and can refer to it */
	assert_string_equal(env_get(env, "size"), "100");
	/* invalid names are skipped */
	assert_null(env_get(env, "bad-name"));
	for (char **e = env; *e; e++)
		assert_null(strstr(*e, "bad-name=x"));

	_cleanup_json_ json_t *c2 =
	    json_pack("{s:s, s:[{s:{s:s}}]}", "name", "c", "envFrom", "secretRef", "name", "gone");
	_cleanup_strv_free_ char **env2 = NULL;
	_cleanup_free_ char *err2 = NULL;
	assert_int_equal(resolve(c2, NULL, &env2, &err2), -ENOENT);
	assert_string_equal(err2, "secret \"gone\" not found");
}

static void test_resource_refs(void **state)
{
	_cleanup_json_ json_t *c = json_pack(
	    "{s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}}, s:[o, o, o, o, o]}", "name", "c", "resources",
	    "limits", "cpu", "1500m", "memory", "128Mi", "requests", "cpu", "250m", "memory",
	    "64Mi", "env", resref("LCPU", "limits.cpu", NULL), resref("LCPU_M", "limits.cpu", "1m"),
	    resref("RMEM", "requests.memory", NULL), resref("LMEM_MI", "limits.memory", "1Mi"),
	    resref("RCPU", "requests.cpu", NULL));
	_cleanup_strv_free_ char **env = NULL;
	_cleanup_free_ char *err = NULL;
	assert_int_equal(resolve(c, NULL, &env, &err), 0);
	assert_string_equal(env_get(env, "LCPU"), "2"); /* rounded up */
	assert_string_equal(env_get(env, "LCPU_M"), "1500");
	assert_string_equal(env_get(env, "RMEM"), "67108864");
	assert_string_equal(env_get(env, "LMEM_MI"), "128");
	assert_string_equal(env_get(env, "RCPU"), "1");

	/* no limit: the node's capacity */
	_cleanup_json_ json_t *c2 =
	    json_pack("{s:s, s:[o]}", "name", "c", "env", resref("L", "limits.cpu", NULL));
	_cleanup_strv_free_ char **env2 = NULL;
	_cleanup_free_ char *err2 = NULL;
	assert_int_equal(resolve(c2, NULL, &env2, &err2), 0);
	assert_int_equal(atol(env_get(env2, "L")), sysconf(_SC_NPROCESSORS_ONLN));

	_cleanup_json_ json_t *c3 =
	    json_pack("{s:s, s:[o]}", "name", "c", "env", resref("L", "limits.gpu", NULL));
	_cleanup_strv_free_ char **env3 = NULL;
	_cleanup_free_ char *err3 = NULL;
	assert_int_equal(resolve(c3, NULL, &env3, &err3), -EINVAL);
	assert_non_null(strstr(err3, "limits.gpu"));
}

static void test_bad_names(void **state)
{
	const char *names[] = { "", "A=B", "TAB\tX", "NL\n" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_json_ json_t *c =
		    json_pack("{s:s, s:[o]}", "name", "c", "env", ev(names[i], "v"));
		_cleanup_strv_free_ char **env = NULL;
		_cleanup_free_ char *err = NULL;
		assert_int_equal(resolve(c, NULL, &env, &err), -EINVAL);
		assert_non_null(strstr(err, "invalid environment variable name"));
	}
}

static void test_huge_env(void **state)
{
	/* one value just over 1 MiB */
	size_t n = 1024 * 1024 + 10;
	_cleanup_free_ char *big = xmalloc(n + 1);
	memset(big, 'x', n);
	big[n] = 0;
	_cleanup_json_ json_t *c = json_pack("{s:s, s:[o]}", "name", "big", "env", ev("BIG", big));
	_cleanup_strv_free_ char **env = NULL;
	_cleanup_free_ char *err = NULL;
	assert_int_equal(resolve(c, NULL, &env, &err), -E2BIG);
	assert_null(env);
	assert_non_null(strstr(err, "container \"big\""));
	assert_non_null(strstr(err, "over the limit"));

	/* many values that add up to over 1 MiB; through $(VAR) doubling too */
	json_t *envs = json_array();
	json_array_append_new(envs, ev("V0", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
	for (int i = 1; i < 64; i++) {
		_cleanup_free_ char *name = xasprintf("V%d", i);
		_cleanup_free_ char *val = xasprintf("$(V%d)$(V%d)", i - 1, i - 1);
		json_array_append_new(envs, ev(name, val));
	}
	_cleanup_json_ json_t *c2 = json_pack("{s:s, s:o}", "name", "c", "env", envs);
	_cleanup_strv_free_ char **env2 = NULL;
	_cleanup_free_ char *err2 = NULL;
	/* 2^63 copies if nothing stopped it: refused as soon as one is over 1 MiB */
	assert_int_equal(resolve(c2, NULL, &env2, &err2), -E2BIG);
	assert_non_null(strstr(err2, "over the limit"));

	/* several values, each fine, over 1 MiB together (the image's count) */
	_cleanup_free_ char *part = xmalloc(400 * 1024 + 1);
	memset(part, 'z', 400 * 1024);
	part[400 * 1024] = 0;
	_cleanup_free_ char *img_var = xasprintf("IMG=%s", part);
	const char *image_env[] = { img_var, NULL };
	_cleanup_json_ json_t *c4 =
	    json_pack("{s:s, s:[o, o]}", "name", "c", "env", ev("P1", part), ev("P2", part));
	_cleanup_json_ json_t *objs4 = objects();
	json_incref(c4);
	_cleanup_json_ json_t *pod4 = pod_with(c4);
	struct kubelet_lookup lk4 = { .ud = objs4, .get = fake_get };
	_cleanup_strv_free_ char **env4 = NULL;
	_cleanup_free_ char *err4 = NULL;
	assert_int_equal(kubelet_env_resolve(pod4, c4, image_env, NULL, NULL, &lk4, &env4, &err4),
			 -E2BIG);
	assert_non_null(strstr(err4, "over the limit"));
	_cleanup_strv_free_ char **env5 = NULL;
	_cleanup_free_ char *err5 = NULL;
	assert_int_equal(kubelet_env_resolve(pod4, c4, NULL, NULL, NULL, &lk4, &env5, &err5), 0);

	/* just under the limit is fine */
	_cleanup_free_ char *ok = xmalloc(512 * 1024 + 1);
	memset(ok, 'y', 512 * 1024);
	ok[512 * 1024] = 0;
	_cleanup_json_ json_t *c3 = json_pack("{s:s, s:[o]}", "name", "c", "env", ev("OK", ok));
	_cleanup_strv_free_ char **env3 = NULL;
	_cleanup_free_ char *err3 = NULL;
	assert_int_equal(resolve(c3, NULL, &env3, &err3), 0);
	assert_int_equal(strlen(env_get(env3, "OK")), 512 * 1024);
}

static void test_no_lookup(void **state)
{
	_cleanup_json_ json_t *c = json_pack("{s:s, s:[o]}", "name", "c", "env",
					     keyref("V", "configMapKeyRef", "cfg", "color", false));
	json_incref(c);
	_cleanup_json_ json_t *pod = pod_with(c);
	_cleanup_strv_free_ char **env = NULL;
	_cleanup_free_ char *err = NULL;
	assert_true(kubelet_env_resolve(pod, c, NULL, NULL, NULL, NULL, &env, &err) < 0);
	assert_non_null(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_and_order), cmocka_unit_test(test_field_refs),
		cmocka_unit_test(test_key_refs),	 cmocka_unit_test(test_env_from),
		cmocka_unit_test(test_resource_refs),	 cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_huge_env),	 cmocka_unit_test(test_no_lookup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
