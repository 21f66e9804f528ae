/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "lib/jsonpatch.h"

static json_t *J(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
	if (!j)
		fail_msg("bad test JSON %s: %s", s, e.text);
	return j;
}

static char *dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static void assert_json_eq(const json_t *got, const char *want, const char *what)
{
	_cleanup_(json_decrefp) json_t *w = J(want);
	if (!json_equal((json_t *)got, w)) {
		_cleanup_free_ char *g = dump(got);
		fail_msg("%s: got %s, want %s", what, g, want);
	}
}

struct patch_case {
	const char *doc, *patch;
	const char *want; /* result, when err == 0 */
	int err;
	const char *msg; /* substring of the error */
};

static void run_patch_cases(const struct patch_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct patch_case *c = &cases[i];
		_cleanup_(json_decrefp) json_t *doc = J(c->doc);
		_cleanup_(json_decrefp) json_t *orig = json_deep_copy(doc);
		_cleanup_(json_decrefp) json_t *patch = J(c->patch);
		_cleanup_(json_decrefp) json_t *patch_orig = json_deep_copy(patch);
		json_t *before = doc;
		char *err = NULL;

		int r = json_patch_apply(&doc, patch, &err);
		if (r != c->err)
			fail_msg("case %zu %s on %s: got %d (%s), want %d", i, c->patch, c->doc, r,
				 err ? err : "no message", c->err);
		if (r == 0) {
			assert_null(err);
			assert_json_eq(doc, c->want, c->patch);
		} else {
			assert_non_null(err);
			if (!strstr(err, c->msg))
				fail_msg("case %zu %s: error \"%s\" lacks \"%s\"", i, c->patch, err,
					 c->msg);
			free(err);
			/* atomic: the very same document, unchanged */
			assert_ptr_equal(doc, before);
			assert_true(json_equal(doc, orig));
		}
		/* the patch itself is never modified */
		assert_true(json_equal(patch, patch_orig));
	}
}

/* RFC 6902 Appendix A, with our own documents. */
static void test_rfc6902_appendix(void **state)
{
	static const struct patch_case cases[] = {
		/* A.1 adding an object member */
		{ "{\"name\":\"web\"}", "[{\"op\":\"add\",\"path\":\"/port\",\"value\":80}]",
		  "{\"name\":\"web\",\"port\":80}" },
		/* A.2 adding an array element */
		{ "{\"ports\":[80,443]}", "[{\"op\":\"add\",\"path\":\"/ports/1\",\"value\":8080}]",
		  "{\"ports\":[80,8080,443]}" },
		/* A.3 removing an object member */
		{ "{\"name\":\"web\",\"port\":80}", "[{\"op\":\"remove\",\"path\":\"/port\"}]",
		  "{\"name\":\"web\"}" },
		/* A.4 removing an array element */
		{ "{\"ports\":[80,8080,443]}", "[{\"op\":\"remove\",\"path\":\"/ports/1\"}]",
		  "{\"ports\":[80,443]}" },
		/* A.5 replacing a value */
		{ "{\"image\":\"nginx:1.0\",\"replicas\":1}",
		  "[{\"op\":\"replace\",\"path\":\"/image\",\"value\":\"nginx:2.0\"}]",
		  "{\"image\":\"nginx:2.0\",\"replicas\":1}" },
		/* A.6 moving a value */
		{ "{\"spec\":{\"old\":{\"x\":1}},\"status\":{}}",
		  "[{\"op\":\"move\",\"from\":\"/spec/old\",\"path\":\"/status/new\"}]",
		  "{\"spec\":{},\"status\":{\"new\":{\"x\":1}}}" },
		/* A.7 moving an array element */
		{ "{\"l\":[\"a\",\"b\",\"c\",\"d\"]}",
		  "[{\"op\":\"move\",\"from\":\"/l/1\",\"path\":\"/l/3\"}]",
		  "{\"l\":[\"a\",\"c\",\"d\",\"b\"]}" },
		/* A.8 testing a value: success */
		{ "{\"v\":\"x\",\"l\":[1,\"two\",{\"k\":[]}]}",
		  "[{\"op\":\"test\",\"path\":\"/v\",\"value\":\"x\"},"
		  "{\"op\":\"test\",\"path\":\"/l\",\"value\":[1,\"two\",{\"k\":[]}]}]",
		  "{\"v\":\"x\",\"l\":[1,\"two\",{\"k\":[]}]}" },
		/* A.9 testing a value: error */
		{ "{\"v\":\"x\"}", "[{\"op\":\"test\",\"path\":\"/v\",\"value\":\"y\"}]", NULL,
		  -EINVAL, "test operation failed" },
		/* A.10 adding a nested member object */
		{ "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/meta\",\"value\":{\"labels\":{}}}]",
		  "{\"a\":1,\"meta\":{\"labels\":{}}}" },
		/* A.11 ignoring unrecognized elements */
		{ "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2,\"extra\":true}]",
		  "{\"a\":1,\"b\":2}" },
		/* A.12 adding to a nonexistent target */
		{ "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/x/y\",\"value\":2}]", NULL, -ENOENT,
		  "add operation does not apply: doc is missing path: /x/y" },
		/* A.13 invalid patch document */
		{ "{\"a\":1}", "[{\"path\":\"/b\",\"value\":2}]", NULL, -EINVAL, "\"op\"" },
		/* A.14 ~ escape ordering: "~01" is the key "~1", not "/" */
		{ "{\"/\":1,\"~1\":2}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":2}]",
		  "{\"/\":1,\"~1\":2}" },
		/* A.15 comparing strings and numbers */
		{ "{\"/\":1,\"~1\":2}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"2\"}]",
		  NULL, -EINVAL, "test operation failed" },
		/* A.16 adding an array value */
		{ "{\"l\":[\"a\"]}", "[{\"op\":\"add\",\"path\":\"/l/-\",\"value\":[\"b\",\"c\"]}]",
		  "{\"l\":[\"a\",[\"b\",\"c\"]]}" },
	};
	run_patch_cases(cases, ARRAY_SIZE(cases));
}

static void test_patch_ops(void **state)
{
	static const struct patch_case cases[] = {
		/* add */
		{ "{}", "[]", "{}" },
		{ "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":2}]", "{\"a\":2}" },
		{ "{\"a\":[]}", "[{\"op\":\"add\",\"path\":\"/a/0\",\"value\":1}]", "{\"a\":[1]}" },
		{ "{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/2\",\"value\":3}]",
		  "{\"a\":[1,2,3]}" }, /* index == size appends */
		{ "{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/0\",\"value\":0}]",
		  "{\"a\":[0,1,2]}" },
		{ "{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/-\",\"value\":3}]",
		  "{\"a\":[1,2,3]}" },
		{ "{\"a\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/a/3\",\"value\":3}]", NULL,
		  -EINVAL, "invalid array index for an array of 2 elements: /a/3" },
		{ "{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/01\",\"value\":3}]", NULL, -EINVAL,
		  "invalid array index" },
		{ "{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/-1\",\"value\":3}]", NULL, -EINVAL,
		  "invalid array index" },
		{ "{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/x\",\"value\":3}]", NULL, -EINVAL,
		  "invalid array index" },
		{ "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a/b\",\"value\":3}]", NULL, -ENOENT,
		  "doc is missing path: /a/b" }, /* scalar parent */
		{ "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":[1]}]", "[1]" },
		{ "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/\",\"value\":2}]",
		  "{\"a\":1,\"\":2}" },
		{ "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":null}]",
		  "{\"a\":1,\"b\":null}" },
		{ "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\"}]", NULL, -EINVAL,
		  "add operation is missing \"value\"" },
		{ "{\"a/b\":1,\"m~n\":2}",
		  "[{\"op\":\"add\",\"path\":\"/a~1b\",\"value\":3},{\"op\":\"add\",\"path\":\"/"
		  "m~0n\","
		  "\"value\":4}]",
		  "{\"a/b\":3,\"m~n\":4}" },
		{ "{\"l\":[{\"x\":[1]}]}", "[{\"op\":\"add\",\"path\":\"/l/0/x/-\",\"value\":2}]",
		  "{\"l\":[{\"x\":[1,2]}]}" },
		{ "{\"l\":[]}", "[{\"op\":\"add\",\"path\":\"/l/-/x\",\"value\":2}]", NULL, -ENOENT,
		  "doc is missing path" },

		/* remove */
		{ "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/x\"}]", NULL, -ENOENT,
		  "remove operation does not apply: doc is missing path: /x" },
		{ "{\"a\":{}}", "[{\"op\":\"remove\",\"path\":\"/a/b/c\"}]", NULL, -ENOENT,
		  "doc is missing path: /a/b/c" },
		{ "{\"a\":[1]}", "[{\"op\":\"remove\",\"path\":\"/a/1\"}]", NULL, -EINVAL,
		  "invalid array index" },
		{ "{\"a\":[1]}", "[{\"op\":\"remove\",\"path\":\"/a/-\"}]", NULL, -EINVAL,
		  "invalid array index" },
		{ "{\"a\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/a/0\"}]", "{\"a\":[2]}" },
		{ "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"\"}]", NULL, -EINVAL,
		  "cannot remove the document" },
		{ "{\"\":1,\"a\":2}", "[{\"op\":\"remove\",\"path\":\"/\"}]", "{\"a\":2}" },

		/* replace */
		{ "{\"spec\":{}}", "[{\"op\":\"replace\",\"path\":\"/spec/foo\",\"value\":1}]",
		  NULL, -ENOENT,
		  "replace operation does not apply: doc is missing key: /spec/foo" },
		{ "{}", "[{\"op\":\"replace\",\"path\":\"/spec/foo\",\"value\":1}]", NULL, -ENOENT,
		  "replace operation does not apply: doc is missing path: /spec/foo" },
		{ "{\"a\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/a/1\",\"value\":9}]",
		  "{\"a\":[1,9]}" },
		{ "{\"a\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/a/2\",\"value\":9}]", NULL,
		  -EINVAL, "invalid array index" },
		{ "{\"a\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/a/-\",\"value\":9}]", NULL,
		  -EINVAL, "invalid array index" },
		{ "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"b\":2}}]",
		  "{\"b\":2}" },
		{ "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\"}]", NULL, -EINVAL,
		  "replace operation is missing \"value\"" },

		/* move */
		{ "{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b\"}]", "{\"b\":1}" },
		{ "{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a\"}]", "{\"a\":1}" },
		{ "{\"a\":1,\"b\":2}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b\"}]",
		  "{\"b\":1}" },
		{ "{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/c\"}]",
		  NULL, -EINVAL, "into its own child" },
		{ "{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a/b\",\"path\":\"/a\"}]",
		  "{\"a\":1}" },
		{ "{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/x\",\"path\":\"/b\"}]", NULL, -ENOENT,
		  "move operation does not apply: doc is missing from path: /x" },
		{ "{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/x/y\"}]", NULL,
		  -ENOENT, "move operation does not apply: doc is missing destination path: /x/y" },
		{ "{\"a\":1}", "[{\"op\":\"move\",\"path\":\"/b\"}]", NULL, -EINVAL,
		  "move operation is missing a string \"from\"" },
		{ "{\"l\":[1,2,3]}", "[{\"op\":\"move\",\"from\":\"/l/0\",\"path\":\"/l/-\"}]",
		  "{\"l\":[2,3,1]}" },
		{ "{\"l\":[1,2,3]}", "[{\"op\":\"move\",\"from\":\"/l/2\",\"path\":\"/l/0\"}]",
		  "{\"l\":[3,1,2]}" },
		{ "{\"l\":[1,2,3]}", "[{\"op\":\"move\",\"from\":\"/l/0\",\"path\":\"/l/3\"}]",
		  NULL, -EINVAL, "invalid array index" }, /* evaluated after the removal */

		/* copy */
		{ "{\"a\":{\"x\":[1]}}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b\"}]",
		  "{\"a\":{\"x\":[1]},\"b\":{\"x\":[1]}}" },
		{ "{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"\",\"path\":\"/b\"}]",
		  "{\"a\":1,\"b\":{\"a\":1}}" },
		{ "{\"l\":[\"x\"]}", "[{\"op\":\"copy\",\"from\":\"/l/0\",\"path\":\"/l/0\"}]",
		  "{\"l\":[\"x\",\"x\"]}" },
		{ "{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/x\",\"path\":\"/b\"}]", NULL, -ENOENT,
		  "copy operation does not apply: doc is missing from path: /x" },
		{ "{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/x/y\"}]", NULL,
		  -ENOENT, "copy operation does not apply: doc is missing destination path: /x/y" },

		/* test */
		{ "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1.0}]", "{\"a\":1}" },
		{ "{\"a\":1.5}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1.5}]",
		  "{\"a\":1.5}" },
		{ "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]", NULL, -EINVAL,
		  "test operation failed: value at /a differs" },
		{ "{\"a\":{\"x\":1,\"y\":[true,null]}}",
		  "[{\"op\":\"test\",\"path\":\"/a\",\"value\":{\"y\":[true,null],\"x\":1}}]",
		  "{\"a\":{\"x\":1,\"y\":[true,null]}}" },
		{ "{\"a\":{\"x\":1}}",
		  "[{\"op\":\"test\",\"path\":\"/a\",\"value\":{\"x\":1,\"y\":2}}]", NULL, -EINVAL,
		  "differs" },
		{ "{\"a\":[1,2]}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":[2,1]}]", NULL,
		  -EINVAL, "differs" },
		{ "{\"a\":null}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":null}]",
		  "{\"a\":null}" },
		{ "{}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":null}]", NULL, -EINVAL,
		  "test operation failed: doc is missing path: /a" },
		{ "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"\",\"value\":{\"a\":1}}]",
		  "{\"a\":1}" },
		{ "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\"}]", NULL, -EINVAL,
		  "test operation is missing \"value\"" },

		/* malformed */
		{ "{}", "{}", NULL, -EINVAL, "must be an array" },
		{ "{}", "[1]", NULL, -EINVAL, "operation 0 is not a JSON object" },
		{ "{}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", NULL, -EINVAL,
		  "unknown op \"frob\"" },
		{ "{}", "[{\"op\":1,\"path\":\"/a\"}]", NULL, -EINVAL, "no string \"op\"" },
		{ "{}", "[{\"op\":\"add\",\"value\":1}]", NULL, -EINVAL,
		  "add operation is missing a string \"path\"" },
		{ "{}", "[{\"op\":\"add\",\"path\":\"a\",\"value\":1}]", NULL, -EINVAL,
		  "invalid JSON pointer in \"path\": a" },
		{ "{}", "[{\"op\":\"add\",\"path\":\"/a~2\",\"value\":1}]", NULL, -EINVAL,
		  "invalid JSON pointer" },
		{ "{}", "[{\"op\":\"add\",\"path\":\"/a~\",\"value\":1}]", NULL, -EINVAL,
		  "invalid JSON pointer" },
		{ "{\"a\":1}", "[{\"op\":\"copy\",\"from\":\"a\",\"path\":\"/b\"}]", NULL, -EINVAL,
		  "invalid JSON pointer in \"from\"" },
	};
	run_patch_cases(cases, ARRAY_SIZE(cases));
}

/* Operations apply in order; a late failure undoes the earlier ones. */
static void test_patch_sequence_and_atomicity(void **state)
{
	static const struct patch_case cases[] = {
		{ "{\"spec\":{\"replicas\":1}}",
		  "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":1},"
		  "{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":3},"
		  "{\"op\":\"add\",\"path\":\"/spec/paused\",\"value\":true},"
		  "{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":3}]",
		  "{\"spec\":{\"replicas\":3,\"paused\":true}}" },
		{ "{\"spec\":{\"replicas\":1}}",
		  "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":3},"
		  "{\"op\":\"remove\",\"path\":\"/spec\"},"
		  "{\"op\":\"remove\",\"path\":\"/spec\"}]",
		  NULL, -ENOENT, "remove operation does not apply: doc is missing path: /spec" },
		{ "{\"a\":1}",
		  "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2},"
		  "{\"op\":\"test\",\"path\":\"/b\",\"value\":3}]",
		  NULL, -EINVAL, "test operation failed" },
		{ "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":5},{\"op\":\"bogus\"}]",
		  NULL, -EINVAL, "unknown op" },
		/* values added earlier can be patched further */
		{ "{}",
		  "[{\"op\":\"add\",\"path\":\"/m\",\"value\":{\"l\":[]}},"
		  "{\"op\":\"add\",\"path\":\"/m/l/-\",\"value\":1},"
		  "{\"op\":\"copy\",\"from\":\"/m\",\"path\":\"/n\"},"
		  "{\"op\":\"add\",\"path\":\"/n/l/0\",\"value\":0}]",
		  "{\"m\":{\"l\":[1]},\"n\":{\"l\":[0,1]}}" },
	};
	run_patch_cases(cases, ARRAY_SIZE(cases));
}

/* Values from the patch are copied: later edits to either side stay apart. */
static void test_patch_no_aliasing(void **state)
{
	_cleanup_(json_decrefp) json_t *doc = J("{}");
	_cleanup_(json_decrefp) json_t *patch =
	    J("[{\"op\":\"add\",\"path\":\"/m\",\"value\":{\"k\":\"v\"}}]");

	assert_int_equal(json_patch_apply(&doc, patch, NULL), 0);
	json_object_set_new(json_object_get(doc, "m"), "k", json_string("changed"));
	json_t *pv = json_object_get(json_array_get(patch, 0), "value");
	assert_string_equal(json_string_value(json_object_get(pv, "k")), "v");

	/* ret_err is optional on failure too */
	_cleanup_(json_decrefp) json_t *bad = J("[{\"op\":\"remove\",\"path\":\"/zz\"}]");
	assert_int_equal(json_patch_apply(&doc, bad, NULL), -ENOENT);

	/* key order of objects survives replace */
	_cleanup_(json_decrefp) json_t *o = J("{\"a\":1,\"b\":2,\"c\":3}");
	_cleanup_(json_decrefp) json_t *rp =
	    J("[{\"op\":\"replace\",\"path\":\"/a\",\"value\":9}]");
	assert_int_equal(json_patch_apply(&o, rp, NULL), 0);
	_cleanup_free_ char *s = json_dumps(o, JSON_COMPACT);
	assert_string_equal(s, "{\"a\":9,\"b\":2,\"c\":3}");
}

/* RFC 7386 Appendix A, plus the worked example of section 3. */
static void test_merge_patch_rfc7386(void **state)
{
	static const struct {
		const char *target, *patch, *want;
	} cases[] = {
		{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
		{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
		{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
		{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
		{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
		{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
		  "{\"a\":{\"b\":\"d\"}}" },
		{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
		{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
		{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
		{ "{\"a\":\"foo\"}", "null", "null" },
		{ "{\"a\":\"foo\"}", "\"bar\"", "\"bar\"" },
		{ "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
		{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
		{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
		/* section 3 */
		{ "{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\",\"familyName\":"
		  "\"Doe\"},\"tags\":[\"example\",\"sample\"],\"content\":\"This will be "
		  "unchanged\"}",
		  "{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\",\"author\":{"
		  "\"familyName\":null},\"tags\":[\"example\"]}",
		  "{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},\"tags\":[\"example\"]"
		  ","
		  "\"content\":\"This will be unchanged\",\"phoneNumber\":\"+01-123-456-7890\"}" },
		/* our own: Kubernetes-shaped */
		{ "{\"metadata\":{\"labels\":{\"a\":\"1\",\"b\":\"2\"}},\"spec\":{\"replicas\":1}}",
		  "{\"metadata\":{\"labels\":{\"a\":null,\"c\":\"3\"}},\"spec\":{\"replicas\":2}}",
		  "{\"metadata\":{\"labels\":{\"b\":\"2\",\"c\":\"3\"}},\"spec\":{\"replicas\":2}"
		  "}" },
		{ "{\"spec\":5}", "{\"spec\":{\"x\":null,\"y\":{\"z\":null}}}",
		  "{\"spec\":{\"y\":{}}}" },
		{ "{\"a\":1}", "{}", "{\"a\":1}" },
		{ "{\"l\":[{\"a\":null}]}", "{\"m\":[{\"a\":null}]}",
		  "{\"l\":[{\"a\":null}],\"m\":[{\"a\":null}]}" }, /* nulls inside arrays stay */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_(json_decrefp) json_t *t = J(cases[i].target);
		_cleanup_(json_decrefp) json_t *p = J(cases[i].patch);
		_cleanup_(json_decrefp) json_t *t0 = json_deep_copy(t);
		_cleanup_(json_decrefp) json_t *p0 = json_deep_copy(p);
		_cleanup_(json_decrefp) json_t *r = json_merge_patch(t, p);
		assert_non_null(r);
		assert_json_eq(r, cases[i].want, cases[i].patch);
		/* neither input is modified */
		assert_true(json_equal(t, t0));
		assert_true(json_equal(p, p0));
	}
}

static void test_merge_patch_ownership(void **state)
{
	_cleanup_(json_decrefp) json_t *t = J("{\"a\":{\"b\":1}}");
	_cleanup_(json_decrefp) json_t *p = J("{\"c\":{\"d\":[1]}}");
	_cleanup_(json_decrefp) json_t *r = json_merge_patch(t, p);

	/* the result shares nothing mutable with its inputs */
	json_object_set_new(json_object_get(r, "a"), "b", json_integer(2));
	json_array_append_new(json_object_get(json_object_get(r, "c"), "d"), json_integer(2));
	assert_json_eq(t, "{\"a\":{\"b\":1}}", "target");
	assert_json_eq(p, "{\"c\":{\"d\":[1]}}", "patch");

	/* missing target: as if absent */
	_cleanup_(json_decrefp) json_t *r2 = json_merge_patch(NULL, p);
	assert_json_eq(r2, "{\"c\":{\"d\":[1]}}", "NULL target");
	_cleanup_(json_decrefp) json_t *r3 = json_merge_patch(t, NULL);
	assert_json_eq(r3, "{\"a\":{\"b\":1}}", "NULL patch");
	assert_ptr_not_equal(r3, t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6902_appendix),
		cmocka_unit_test(test_patch_ops),
		cmocka_unit_test(test_patch_sequence_and_atomicity),
		cmocka_unit_test(test_patch_no_aliasing),
		cmocka_unit_test(test_merge_patch_rfc7386),
		cmocka_unit_test(test_merge_patch_ownership),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
