/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Table-driven checks of the per-kind registry hooks (defaults, validate,
 * validate_status) on JSON literals, shared by the test_registry*.c
 * programs.
 *
 * Test JSON is written with single quotes, which stand for double quotes
 * (and backquotes, which stand for single quotes).
 * A case edits the kind's base object with a patch: a JSON array is an RFC
 * 6902 JSON Patch, an object an RFC 7386 merge patch. Expected errors are
 * "path=Reason" items separated by ';' (Reason without the FieldValue
 * prefix), optionally "path=Reason~text" to also require text in the
 * message. The errors must match as a multiset: nothing missing, nothing
 * extra. REGISTRY_TEST_VERBOSE=1 in the environment prints every case's
 * errors with their messages.
 */
#pragma once

#include "unit.h"

#include <jansson.h>

#include "apiserver/resource.h"
#include "apiserver/status.h"
#include "lib/json.h"
#include "lib/jsonpatch.h"
#include "lib/strbuf.h"

extern const struct resource resource_pods, resource_services, resource_namespaces, resource_nodes,
    resource_endpoints, resource_configmaps, resource_secrets, resource_serviceaccounts,
    resource_events, resource_deployments, resource_replicasets, resource_leases,
    resource_endpointslices, resource_events_v1;

/* Parse test JSON, single quotes standing for double quotes. */
static json_t *tj(const char *s)
{
	_cleanup_free_ char *q = xstrdup(s);
	for (char *p = q; *p; p++) {
		if (*p == '\'')
			*p = '"';
		else if (*p == '`')
			*p = '\'';
	}
	json_error_t e;
	json_t *j = json_loads(q, JSON_DECODE_ANY, &e);
	if (!j)
		fail_msg("bad test JSON (%s): %s", e.text, s);
	return j;
}

/* base with patch applied (a new reference). */
static json_t *patched(const char *base, const char *patch)
{
	json_t *doc = tj(base);
	if (!patch || !*patch)
		return doc;
	_cleanup_json_ json_t *p = tj(patch);
	if (json_is_array(p)) {
		_cleanup_free_ char *err = NULL;
		if (json_patch_apply(&doc, p, &err) < 0)
			fail_msg("test patch does not apply: %s: %s", err, patch);
		return doc;
	}
	json_t *m = json_merge_patch(doc, p);
	json_decref(doc);
	return m;
}

static const char *short_reason(const char *reason)
{
	return startswith(reason, "FieldValue") ? reason + strlen("FieldValue") : reason;
}

static char *describe_errors(const struct field_errors *fe)
{
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < fe->n; i++)
		strbuf_addf(&sb, "\n    %s=%s  (%s)", fe->v[i].field, short_reason(fe->v[i].reason),
			    fe->v[i].message);
	if (!fe->n)
		strbuf_addstr(&sb, "\n    (none)");
	return strbuf_detach(&sb, NULL);
}

/* Compare fe with the expected list; fail with both listed on mismatch. */
static void expect_errors(const char *what, const struct field_errors *fe, const char *want)
{
	_cleanup_free_ bool *used = xcalloc(fe->n + 1, sizeof(bool));
	_cleanup_free_ char *w = xstrdup(want ? want : "");
	_cleanup_free_ char *missing = NULL;
	char *save = NULL;
	for (char *item = strtok_r(w, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
		while (*item == ' ')
			item++;
		if (!*item)
			continue;
		char *text = strchr(item, '~');
		if (text)
			*text++ = 0;
		char *eq = strrchr(item, '=');
		if (!eq)
			fail_msg("%s: bad expectation \"%s\"", what, item);
		*eq = 0;
		const char *reason = eq + 1;
		bool found = false;
		for (size_t i = 0; i < fe->n && !found; i++) {
			if (used[i] || !streq(fe->v[i].field, item) ||
			    !streq(short_reason(fe->v[i].reason), reason) ||
			    (text && !strstr(fe->v[i].message, text)))
				continue;
			used[i] = found = true;
		}
		if (!found && !missing)
			missing =
			    xasprintf("%s=%s%s%s", item, reason, text ? "~" : "", text ? text : "");
	}
	bool extra = false;
	for (size_t i = 0; i < fe->n; i++)
		extra = extra || !used[i];
	if (missing || extra) {
		_cleanup_free_ char *got = describe_errors(fe);
		fail_msg("%s:\n  want: %s\n  missing: %s\n  got:%s", what, want ? want : "",
			 missing ? missing : "-", got);
	}
}

/* V_SUBRESOURCE: an update through a subresource other than status
 * (namespaces/finalize): validate, without prepare_update. */
enum vmode { V_CREATE, V_UPDATE, V_STATUS, V_SUBRESOURCE };

struct vcase {
	const char *name;
	const char *patch;     /* edits the base object (NULL: the base as is) */
	const char *old_patch; /* updates: edits the base into the stored object */
	const char *want;      /* expected errors */
};

static struct api_ctx test_ctx(const struct resource *res)
{
	return (struct api_ctx){
		.res = res,
		.ns = res->namespaced ? "default" : NULL,
		.user = "tester",
		.now_usec = 1700000000LL * 1000000,
	};
}

/* Run one case the way the API server orders the hooks: defaults, then
 * prepare_create or prepare_update, then validation. */
static void run_vcase(const struct resource *res, const char *base, enum vmode mode,
		      const struct vcase *c)
{
	struct api_ctx ctx = test_ctx(res);
	_cleanup_json_ json_t *obj = patched(base, c->patch);
	_cleanup_json_ json_t *old = NULL;
	struct field_errors fe = { 0 };
	if (mode != V_CREATE) {
		old = patched(base, c->old_patch);
		if (res->defaults)
			res->defaults(old);
		if (mode == V_STATUS) {
			/* A status write keeps everything of the stored object
			 * but its status. */
			json_t *st = json_object_get(obj, "status");
			json_t *n = json_deep_copy(old);
			if (st)
				json_object_set(n, "status", st);
			else
				json_object_del(n, "status");
			json_decref(obj);
			obj = n;
		}
	}
	if (res->defaults)
		res->defaults(obj);
	if (mode == V_CREATE && res->prepare_create)
		res->prepare_create(&ctx, obj);
	if (mode == V_UPDATE && res->prepare_update)
		res->prepare_update(&ctx, obj, old);
	if (mode == V_STATUS) {
		assert_non_null(res->validate_status);
		res->validate_status(&ctx, obj, old, &fe);
	} else {
		assert_non_null(res->validate);
		res->validate(&ctx, obj, mode == V_CREATE ? NULL : old, &fe);
	}
	static const char *const modes[] = { "create", "update", "status", "subresource" };
	_cleanup_free_ char *what = xasprintf("%s %s \"%s\"", res->kind, modes[mode], c->name);
	if (getenv("REGISTRY_TEST_VERBOSE")) {
		_cleanup_free_ char *got = describe_errors(&fe);
		fprintf(stderr, "%s:%s\n", what, got);
	}
	expect_errors(what, &fe, c->want);
	field_errors_release(&fe);
}

static void run_vcases(const struct resource *res, const char *base, enum vmode mode,
		       const struct vcase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_vcase(res, base, mode, &cases[i]);
}

#define RUN_CASES(res, base, mode, cases) run_vcases(&(res), base, mode, cases, ARRAY_SIZE(cases))

/* The value at a path with array indexes: "spec.containers[0].name". */
static json_t *jpath(json_t *o, const char *path)
{
	const char *p = path;
	while (o && *p) {
		if (*p == '.') {
			p++;
			continue;
		}
		if (*p == '[') {
			char *end;
			unsigned long i = strtoul(p + 1, &end, 10);
			if (*end != ']')
				fail_msg("bad test path %s", path);
			o = json_array_get(o, i);
			p = end + 1;
			continue;
		}
		size_t n = strcspn(p, ".[");
		_cleanup_free_ char *key = xstrndup(p, n);
		o = json_object_get(o, key);
		p += n;
	}
	return o;
}

struct dcase {
	const char *name;
	const char *patch; /* edits the base object */
	const char *want;  /* "path=JSON;path=JSON", JSON "absent" for a missing field */
};

/* Apply defaults and compare the given fields. */
static void run_dcase(const struct resource *res, const char *base, const struct dcase *c)
{
	_cleanup_json_ json_t *obj = patched(base, c->patch);
	res->defaults(obj);
	_cleanup_free_ char *w = xstrdup(c->want);
	char *save = NULL;
	for (char *item = strtok_r(w, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
		while (*item == ' ')
			item++;
		char *eq = strchr(item, '=');
		if (!eq)
			fail_msg("%s defaults \"%s\": bad expectation %s", res->kind, c->name,
				 item);
		*eq = 0;
		json_t *got = jpath(obj, item);
		_cleanup_free_ char *gs =
		    got ? json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY) : xstrdup("absent");
		if (streq(eq + 1, "absent")) {
			if (got)
				fail_msg("%s defaults \"%s\": %s is %s, want it absent", res->kind,
					 c->name, item, gs);
			continue;
		}
		_cleanup_json_ json_t *want = tj(eq + 1);
		if (!got || !json_equal(got, want))
			fail_msg("%s defaults \"%s\": %s is %s, want %s", res->kind, c->name, item,
				 gs, eq + 1);
	}
}

static void run_dcases(const struct resource *res, const char *base, const struct dcase *cases,
		       size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_dcase(res, base, &cases[i]);
}

#define RUN_DEFAULTS(res, base, cases) run_dcases(&(res), base, cases, ARRAY_SIZE(cases))
