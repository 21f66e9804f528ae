/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "lib/selector.h"

static json_t *parse_json(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
	if (!j)
		fail_msg("bad test JSON %s: %s", s, e.text);
	return j;
}

/* Packed labels from a JSON object literal. */
static char *packed(const char *labels_json)
{
	_cleanup_(json_decrefp) json_t *j = parse_json(labels_json);
	return packed_labels_from_json(j, NULL);
}

/* ---- parsing: valid selectors and their canonical string form ---------- */

#define K63 "k23456789012345678901234567890123456789012345678901234567890123"
#define V63 "v23456789012345678901234567890123456789012345678901234567890123"

static void test_parse_valid(void **state)
{
	static const struct {
		const char *in, *out;
		size_t n;
	} cases[] = {
		{ "", "", 0 },
		{ "   \t ", "", 0 },
		{ "x", "x", 1 },
		{ "!x", "!x", 1 },
		{ " ! x ", "!x", 1 },
		{ "x=y", "x=y", 1 },
		{ " x = y ", "x=y", 1 },
		{ "x\t==\ty", "x=y", 1 },
		{ "x!=y", "x!=y", 1 },
		{ "x=", "x=", 1 },
		{ "x==", "x=", 1 },
		{ "x!=", "x!=", 1 },
		{ "x=,y", "x=,y", 2 },
		{ "x in (b,a)", "x in (a,b)", 1 },
		{ "x in(a)", "x in (a)", 1 },
		{ "x notin ( a , b )", "x notin (a,b)", 1 },
		{ "x in (a,a,b)", "x in (a,b)", 1 },
		{ "x in (a,,b)", "x in (,a,b)", 1 },
		{ "x in (a,)", "x in (,a)", 1 },
		{ "x in (,)", "x in (,)", 1 },
		{ "x in (,,)", "x in (,)", 1 },
		{ "x in (in,notin)", "x in (in,notin)", 1 },
		{ "in=notin", "in=notin", 1 },
		{ "notin in (in)", "notin in (in)", 1 },
		{ "x>5", "x>5", 1 },
		{ "x < 10", "x<10", 1 },
		{ "x>007", "x>007", 1 },
		{ "tier in (a,b),app=web", "app=web,tier in (a,b)", 2 },
		{ "b=1,a=2,a!=3", "a=2,a!=3,b=1", 3 },
		{ "example.com/app=web", "example.com/app=web", 1 },
		{ "app.kubernetes.io/name in (nginx)", "app.kubernetes.io/name in (nginx)", 1 },
		{ "My_Key.x=My-Value_1.2", "My_Key.x=My-Value_1.2", 1 },
		{ K63 "=" V63, K63 "=" V63, 1 },
		{ "z=1,!y,x", "x,!y,z=1", 3 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct label_selector sel;
		char *err = NULL;
		int r = label_selector_parse(cases[i].in, &sel, &err);
		if (r != 0)
			fail_msg("\"%s\": unexpected error %s", cases[i].in, err);
		assert_null(err);
		assert_int_equal(sel.n, cases[i].n);
		assert_false(sel.match_nothing);
		_cleanup_free_ char *s = label_selector_to_string(&sel);
		if (!streq(s, cases[i].out))
			fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].in, s, cases[i].out);
		assert_int_equal(label_selector_is_everything(&sel), cases[i].n == 0);

		/* The string form parses back to itself. */
		struct label_selector again;
		assert_int_equal(label_selector_parse(s, &again, NULL), 0);
		_cleanup_free_ char *s2 = label_selector_to_string(&again);
		assert_string_equal(s, s2);
		label_selector_release(&again);
		label_selector_release(&sel);
	}

	struct label_selector sel;
	assert_int_equal(label_selector_parse(NULL, &sel, NULL), 0);
	assert_true(label_selector_is_everything(&sel));
	label_selector_release(&sel);
}

static void test_parse_structure(void **state)
{
	struct label_selector sel;
	assert_int_equal(label_selector_parse("b notin (y,x), a>3, !c, d", &sel, NULL), 0);
	assert_int_equal(sel.n, 4);
	assert_string_equal(sel.reqs[0].key, "a");
	assert_int_equal(sel.reqs[0].op, LABEL_OP_GT);
	assert_int_equal(sel.reqs[0].nvalues, 1);
	assert_string_equal(sel.reqs[0].values[0], "3");
	assert_null(sel.reqs[0].values[1]);
	assert_string_equal(sel.reqs[1].key, "b");
	assert_int_equal(sel.reqs[1].op, LABEL_OP_NOTIN);
	assert_int_equal(sel.reqs[1].nvalues, 2);
	assert_string_equal(sel.reqs[1].values[0], "x");
	assert_string_equal(sel.reqs[1].values[1], "y");
	assert_null(sel.reqs[1].values[2]);
	assert_string_equal(sel.reqs[2].key, "c");
	assert_int_equal(sel.reqs[2].op, LABEL_OP_NOT_EXISTS);
	assert_int_equal(sel.reqs[2].nvalues, 0);
	assert_non_null(sel.reqs[2].values);
	assert_null(sel.reqs[2].values[0]);
	assert_string_equal(sel.reqs[3].key, "d");
	assert_int_equal(sel.reqs[3].op, LABEL_OP_EXISTS);
	label_selector_release(&sel);
	/* release leaves an empty selector; releasing twice is harmless. */
	assert_null(sel.reqs);
	assert_int_equal(sel.n, 0);
	label_selector_release(&sel);
	label_selector_release(NULL);
}

/* ---- parsing: invalid selectors ----------------------------------------- */

static void test_parse_invalid(void **state)
{
	static const struct {
		const char *in, *msg; /* msg: a substring the error must contain */
	} cases[] = {
		/* key syntax */
		{ "-x=y", "invalid label key \"-x\"" },
		{ "x-=y", "invalid label key" },
		{ "Foo.com/x=y", "prefix part" },
		{ "/x=y", "prefix part must be non-empty" },
		{ "a/=y", "name part must be non-empty" },
		{ "a/b/c=d", "invalid label key" },
		{ "k" K63 "=y", "must be no more than 63 characters" },
		{ "x.y_z$=1", "invalid label key" },
		/* values */
		{ "x=-y", "invalid value \"-y\" for label key \"x\"" },
		{ "x=y_", "invalid value" },
		{ "x=a$b", "invalid value" },
		{ "x=v" V63, "must be no more than 63 characters" },
		{ "x in (a,-b)", "invalid value \"-b\"" },
		{ "x=a b", "found 'b', expected ',' or end of input" },
		{ "x=(a)", "found '(' after '=', expected a value" },
		{ "x = = y", "found '='" },
		/* parentheses */
		{ "x in (a,b", "missing ')'" },
		{ "x in (a", "missing ')'" },
		{ "x in (", "missing ')'" },
		{ "x in a", "expected '(' after 'in'" },
		{ "x notin", "found end of input, expected '(' after 'notin'" },
		{ "x in (a b)", "found 'b' in the value set" },
		{ "x in (a)(b)", "found '(', expected ',' or end of input" },
		{ "x in ((a))", "found '('" },
		{ "x=y)", "found ')', expected ',' or end of input" },
		{ "(x)", "found '(', expected a label key" },
		{ "x in (a))", "found ')'" },
		/* empty sets */
		{ "x in ()", "must not be empty" },
		{ "x notin ( )", "must not be empty" },
		/* operators */
		{ "x ~ y", "found '~' after label key \"x\", expected an operator" },
		{ "x y", "expected an operator" },
		{ "x>=5", "found '='" },
		{ "x=>5", "found '>'" },
		{ "x in", "expected '('" },
		{ "!x=y", "found '=' after '!x'" },
		{ "!x in (a)", "after '!x'" },
		{ "!", "found end of input, expected a label key" },
		{ "!!x", "found '!', expected a label key" },
		{ "x!y", "found '!'" },
		/* commas */
		{ "x=y,", "found end of input, expected a requirement after ','" },
		{ "x=y, ", "expected a requirement after ','" },
		{ "x,,y", "found ',', expected a requirement after ','" },
		{ ",x", "found ',', expected a label key" },
		{ ",", "expected a label key" },
		/* gt / lt */
		{ "x>abc", "must be an integer" },
		{ "x<", "must be an integer" },
		{ "x>1.5", "must be an integer" },
		{ "x>99999999999999999999", "must be an integer" },
		{ "x>-0", "invalid value" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct label_selector sel = { .n = 12345 };
		char *err = NULL;
		int r = label_selector_parse(cases[i].in, &sel, &err);
		if (r != -EINVAL)
			fail_msg("\"%s\": expected -EINVAL, got %d", cases[i].in, r);
		assert_non_null(err);
		if (!strstr(err, cases[i].msg))
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", cases[i].in, err,
				 cases[i].msg);
		/* the output is untouched on failure */
		assert_int_equal(sel.n, 12345);
		free(err);
		/* ret_err is optional */
		assert_int_equal(label_selector_parse(cases[i].in, &sel, NULL), -EINVAL);
	}

	/* The API server prefixes "unable to parse requirement: " itself. */
	struct label_selector sel;
	char *err = NULL;
	assert_int_equal(label_selector_parse("x in ()", &sel, &err), -EINVAL);
	assert_false(startswith(err, "unable to parse requirement"));
	free(err);
}

/* ---- matching ------------------------------------------------------------ */

static void test_match_table(void **state)
{
	static const char labels_json[] =
	    "{\"app\":\"web\",\"tier\":\"frontend\",\"n\":\"5\",\"empty\":\"\","
	    "\"example.com/owner\":\"team-a\",\"big\":\"9223372036854775807\",\"word\":\"abc\"}";
	static const struct {
		const char *sel;
		bool want;
	} cases[] = {
		{ "", true },
		{ "app", true },
		{ "missing", false },
		{ "!app", false },
		{ "!missing", true },
		{ "app=web", true },
		{ "app==web", true },
		{ "app=db", false },
		{ "missing=web", false },
		{ "app!=web", false },
		{ "app!=db", true },
		{ "missing!=x", true }, /* != matches objects lacking the key */
		{ "empty=", true },
		{ "empty", true },
		{ "empty!=", false },
		{ "missing=", false },
		{ "app in (web,db)", true },
		{ "app in (db,cache)", false },
		{ "missing in (web)", false },
		{ "app notin (web,db)", false },
		{ "app notin (db)", true },
		{ "missing notin (web)", true }, /* notin matches objects lacking the key */
		{ "empty in (,x)", true },
		{ "empty notin (a,,b)", false },
		{ "n>4", true },
		{ "n>5", false },
		{ "n<6", true },
		{ "n<5", false },
		{ "n>0004", true },
		{ "missing>1", false },
		{ "missing<1", false },
		{ "word>1", false }, /* non-integer label never compares */
		{ "word<1", false },
		{ "big>9223372036854775806", true },
		{ "big<9223372036854775807", false },
		{ "example.com/owner=team-a", true },
		{ "owner=team-a", false },
		{ "app=web,tier=frontend", true },
		{ "app=web,tier=backend", false },
		{ "app=web,tier in (frontend),!missing,n>1,n<10", true },
		{ "app=web,!tier", false },
		{ "App=web", false }, /* keys are case sensitive */
		{ "app=Web", false },
	};
	_cleanup_free_ char *labels = packed(labels_json);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct label_selector sel;
		char *err = NULL;
		if (label_selector_parse(cases[i].sel, &sel, &err) != 0)
			fail_msg("\"%s\": %s", cases[i].sel, err);
		bool got = label_selector_matches(&sel, labels);
		if (got != cases[i].want)
			fail_msg("\"%s\": got %d, want %d", cases[i].sel, got, cases[i].want);
		label_selector_release(&sel);
	}
}

static void test_match_empty_labels(void **state)
{
	static const struct {
		const char *sel;
		bool want;
	} cases[] = {
		{ "", true },	  { "a", false },	 { "!a", true },	  { "a=b", false },
		{ "a!=b", true }, { "a in (b)", false }, { "a notin (b)", true }, { "a>1", false },
		{ "a<1", false },
	};
	_cleanup_free_ char *empty = packed("{}");

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct label_selector sel;
		assert_int_equal(label_selector_parse(cases[i].sel, &sel, NULL), 0);
		assert_int_equal(label_selector_matches(&sel, empty), cases[i].want);
		assert_int_equal(label_selector_matches(&sel, NULL), cases[i].want);
		label_selector_release(&sel);
	}
}

/* ---- metav1.LabelSelector ----------------------------------------------- */

static void test_from_json(void **state)
{
	static const struct {
		const char *json;
		const char *out; /* NULL: expect an error containing msg */
		const char *msg;
	} cases[] = {
		{ "{}", "", NULL },
		{ "{\"matchLabels\":{}}", "", NULL },
		{ "{\"matchLabels\":null,\"matchExpressions\":null}", "", NULL },
		{ "{\"matchExpressions\":[]}", "", NULL },
		{ "{\"matchLabels\":{\"b\":\"2\",\"a\":\"1\"}}", "a=1,b=2", NULL },
		{ "{\"matchLabels\":{\"a\":\"\"}}", "a=", NULL },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"In\",\"values\":[\"y\","
		  "\"x\"]}]}",
		  "t in (x,y)", NULL },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"NotIn\",\"values\":[\"x\"]}"
		  "]}",
		  "t notin (x)", NULL },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"Exists\"}]}", "t", NULL },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"Exists\",\"values\":[]}]}",
		  "t", NULL },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"DoesNotExist\"}]}", "!t",
		  NULL },
		{ "{\"matchLabels\":{\"z\":\"1\"},\"matchExpressions\":[{\"key\":\"a\","
		  "\"operator\":"
		  "\"Exists\"}]}",
		  "a,z=1", NULL },
		/* errors */
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"In\"}]}", NULL,
		  "matchExpressions[0].values: must be non-empty when operator is In" },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"NotIn\",\"values\":[]}]}",
		  NULL, "must be non-empty when operator is NotIn" },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"Exists\",\"values\":[\"x\"]"
		  "}"
		  "]}",
		  NULL, "must be empty when operator is Exists" },
		{ "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"},{\"key\":\"t\","
		  "\"operator\":\"DoesNotExist\",\"values\":[\"x\"]}]}",
		  NULL, "matchExpressions[1].values: must be empty when operator is DoesNotExist" },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"Gt\",\"values\":[\"1\"]}]}",
		  NULL, "\"Gt\" is not a valid label selector operator" },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"in\",\"values\":[\"1\"]}]}",
		  NULL, "\"in\" is not a valid" },
		{ "{\"matchExpressions\":[{\"key\":\"t\"}]}", NULL, "operator" },
		{ "{\"matchExpressions\":[{\"operator\":\"Exists\"}]}", NULL,
		  "name part must be non-empty" },
		{ "{\"matchExpressions\":[{\"key\":\"-t\",\"operator\":\"Exists\"}]}", NULL,
		  "invalid label key \"-t\"" },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"In\",\"values\":[\"-x\"]}]"
		  "}",
		  NULL, "invalid value \"-x\"" },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"In\",\"values\":[1]}]}",
		  NULL, "values[0]: must be a string" },
		{ "{\"matchExpressions\":[{\"key\":\"t\",\"operator\":\"In\",\"values\":\"x\"}]}",
		  NULL, "must be an array" },
		{ "{\"matchExpressions\":{}}", NULL, "matchExpressions: must be an array" },
		{ "{\"matchExpressions\":[\"x\"]}", NULL, "must be an object" },
		{ "{\"matchLabels\":{\"a\":1}}", NULL, "matchLabels[a]: must be a string" },
		{ "{\"matchLabels\":[]}", NULL, "matchLabels: must be an object" },
		{ "{\"matchLabels\":{\"a\":\"-\"}}", NULL, "invalid value \"-\"" },
		{ "{\"matchLabels\":{\"a b\":\"x\"}}", NULL, "invalid label key \"a b\"" },
		{ "[]", NULL, "must be a JSON object" },
		{ "\"app=web\"", NULL, "must be a JSON object" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_(json_decrefp) json_t *j = parse_json(cases[i].json);
		struct label_selector sel = { .n = 777 };
		char *err = NULL;
		int r = label_selector_from_json(j, &sel, &err);
		if (cases[i].out) {
			if (r != 0)
				fail_msg("%s: unexpected error %s", cases[i].json, err);
			_cleanup_free_ char *s = label_selector_to_string(&sel);
			if (!streq(s, cases[i].out))
				fail_msg("%s: got \"%s\", want \"%s\"", cases[i].json, s,
					 cases[i].out);
			assert_false(sel.match_nothing);
			assert_int_equal(label_selector_is_everything(&sel), !*cases[i].out);
			label_selector_release(&sel);
		} else {
			if (r != -EINVAL)
				fail_msg("%s: expected -EINVAL, got %d", cases[i].json, r);
			if (!strstr(err, cases[i].msg))
				fail_msg("%s: error \"%s\" lacks \"%s\"", cases[i].json, err,
					 cases[i].msg);
			assert_int_equal(sel.n, 777);
			free(err);
		}
	}
}

static void test_from_json_nothing_everything(void **state)
{
	_cleanup_free_ char *labels = packed("{\"a\":\"1\"}");
	_cleanup_free_ char *none = packed("{}");
	struct label_selector sel;

	/* NULL and JSON null select nothing */
	assert_int_equal(label_selector_from_json(NULL, &sel, NULL), 0);
	assert_true(sel.match_nothing);
	assert_false(label_selector_is_everything(&sel));
	assert_false(label_selector_matches(&sel, labels));
	assert_false(label_selector_matches(&sel, none));
	_cleanup_free_ char *s = label_selector_to_string(&sel);
	assert_string_equal(s, "");
	label_selector_release(&sel);

	_cleanup_(json_decrefp) json_t *jnull = json_null();
	assert_int_equal(label_selector_from_json(jnull, &sel, NULL), 0);
	assert_true(sel.match_nothing);
	assert_false(label_selector_matches(&sel, labels));
	label_selector_release(&sel);

	/* {} selects everything */
	_cleanup_(json_decrefp) json_t *empty = json_object();
	assert_int_equal(label_selector_from_json(empty, &sel, NULL), 0);
	assert_false(sel.match_nothing);
	assert_true(label_selector_is_everything(&sel));
	assert_true(label_selector_matches(&sel, labels));
	assert_true(label_selector_matches(&sel, none));
	label_selector_release(&sel);

	/* matchLabels + matchExpressions are ANDed */
	_cleanup_(json_decrefp) json_t *j =
	    parse_json("{\"matchLabels\":{\"a\":\"1\"},\"matchExpressions\":[{\"key\":\"b\","
		       "\"operator\":\"NotIn\",\"values\":[\"2\"]}]}");
	assert_int_equal(label_selector_from_json(j, &sel, NULL), 0);
	assert_true(label_selector_matches(&sel, labels));
	_cleanup_free_ char *l2 = packed("{\"a\":\"1\",\"b\":\"2\"}");
	assert_false(label_selector_matches(&sel, l2));
	assert_false(label_selector_matches(&sel, none));
	label_selector_release(&sel);
}

/* ---- packed labels -------------------------------------------------------- */

static void test_packed_labels(void **state)
{
	size_t len;
	_cleanup_(json_decrefp) json_t *j =
	    parse_json("{\"a\":\"1\",\"bb\":\"\",\"n\":5,\"\":\"x\",\"c\":\"33\"}");
	_cleanup_free_ char *p = packed_labels_from_json(j, &len);

	/* "a\0" "1\0" "bb\0" "\0" "c\0" "33\0" "\0"; non-strings and "" keys skipped */
	assert_int_equal(len, 2 + 2 + 3 + 1 + 2 + 3 + 1);
	assert_memory_equal(p, "a\0001\000bb\000\000c\00033\000", len);
	assert_string_equal(packed_labels_get(p, "a"), "1");
	assert_string_equal(packed_labels_get(p, "bb"), "");
	assert_string_equal(packed_labels_get(p, "c"), "33");
	assert_null(packed_labels_get(p, "n"));
	assert_null(packed_labels_get(p, "b"));
	assert_null(packed_labels_get(p, ""));
	assert_null(packed_labels_get(NULL, "a"));

	_cleanup_free_ char *e1 = packed_labels_from_json(NULL, &len);
	assert_int_equal(len, 1);
	assert_int_equal(e1[0], 0);
	_cleanup_(json_decrefp) json_t *arr = json_array();
	_cleanup_free_ char *e2 = packed_labels_from_json(arr, &len);
	assert_int_equal(len, 1);
	assert_null(packed_labels_get(e2, "a"));
}

/* ---- field selectors ------------------------------------------------------ */

struct fake_obj {
	const char *name, *ns, *phase;
};

static const char *fake_lookup(const void *obj, const char *field)
{
	const struct fake_obj *o = obj;
	if (streq(field, "metadata.name"))
		return o->name;
	if (streq(field, "metadata.namespace"))
		return o->ns;
	if (streq(field, "status.phase"))
		return o->phase;
	return NULL;
}

static void test_field_parse_valid(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		const char *field0, *value0;
		bool neq0;
	} cases[] = {
		{ "", 0, NULL, NULL, false },
		{ NULL, 0, NULL, NULL, false },
		{ "metadata.name=foo", 1, "metadata.name", "foo", false },
		{ "metadata.name==foo", 1, "metadata.name", "foo", false },
		{ "metadata.name!=foo", 1, "metadata.name", "foo", true },
		{ "involvedObject.namespace=", 1, "involvedObject.namespace", "", false },
		{ "a!=", 1, "a", "", true },
		{ "a=b\\,c", 1, "a", "b,c", false },
		{ "a=b\\=c", 1, "a", "b=c", false },
		{ "a=b\\\\c", 1, "a", "b\\c", false },
		{ "a=b\\!c", 1, "a", "b!c", false },
		{ "a=b!c", 1, "a", "b!c", false },
		{ "a=1,b!=2", 2, "a", "1", false },
		{ "a=1,,b=2,", 2, "a", "1", false },
		{ "a=x\\,y,b=2", 2, "a", "x,y", false },
		{ "a==", 1, "a", "", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct field_selector sel;
		char *err = NULL;
		int r = field_selector_parse(cases[i].in, &sel, &err);
		if (r != 0)
			fail_msg("\"%s\": unexpected error %s", cases[i].in, err);
		assert_int_equal(sel.n, cases[i].n);
		if (cases[i].n) {
			assert_string_equal(sel.reqs[0].field, cases[i].field0);
			assert_string_equal(sel.reqs[0].value, cases[i].value0);
			assert_int_equal(sel.reqs[0].neq, cases[i].neq0);
		}
		field_selector_release(&sel);
	}
}

static void test_field_parse_invalid(void **state)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "foo", "'foo'" },
		{ "a=b,foo", "'foo'" },
		{ "metadata.name", "expected 'field=value'" },
		{ "a!b", "'a!b'" },
		{ "=x", "missing the field name" },
		{ "!=x", "missing the field name" },
		{ "a=b=c", "'=' in a value must be escaped" },
		{ "a===", "'=' in a value must be escaped" }, /* "==" then a bare "=" */
		{ "a=b\\x", "invalid escape sequence '\\x'" },
		{ "a=b\\", "lone '\\'" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct field_selector sel = { .n = 99 };
		char *err = NULL;
		assert_int_equal(field_selector_parse(cases[i].in, &sel, &err), -EINVAL);
		assert_non_null(err);
		if (!strstr(err, cases[i].msg))
			fail_msg("\"%s\": error \"%s\" lacks \"%s\"", cases[i].in, err,
				 cases[i].msg);
		assert_int_equal(sel.n, 99);
		free(err);
		assert_int_equal(field_selector_parse(cases[i].in, &sel, NULL), -EINVAL);
	}
}

static void test_field_match(void **state)
{
	static const struct fake_obj pod = { "web-1", "default", "Running" };
	static const struct fake_obj nophase = { "web-2", "default", NULL };
	static const struct {
		const char *sel;
		bool pod, nophase;
	} cases[] = {
		{ "", true, true },
		{ "metadata.name=web-1", true, false },
		{ "metadata.name!=web-1", false, true },
		{ "metadata.namespace=default,metadata.name=web-2", false, true },
		{ "status.phase=Running", true, false },
		{ "status.phase!=Running", false, true },
		{ "status.phase=", false, true }, /* a missing field compares as "" */
		{ "status.phase!=", true, false },
		{ "spec.nodeName=", true, true },
		{ "spec.nodeName!=", false, false },
		{ "metadata.namespace==default", true, true },
		{ "metadata.namespace=kube-system", false, false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct field_selector sel;
		assert_int_equal(field_selector_parse(cases[i].sel, &sel, NULL), 0);
		if (field_selector_matches(&sel, fake_lookup, &pod) != cases[i].pod ||
		    field_selector_matches(&sel, fake_lookup, &nophase) != cases[i].nophase)
			fail_msg("\"%s\": wrong match", cases[i].sel);
		field_selector_release(&sel);
	}
	assert_true(field_selector_matches(NULL, fake_lookup, &pod));
}

static void test_field_required_value(void **state)
{
	struct field_selector sel;
	assert_int_equal(field_selector_parse("metadata.name!=a,spec.nodeName=node-1,"
					      "metadata.name==b",
					      &sel, NULL),
			 0);
	assert_string_equal(field_selector_required_value(&sel, "metadata.name"), "b");
	assert_string_equal(field_selector_required_value(&sel, "spec.nodeName"), "node-1");
	assert_null(field_selector_required_value(&sel, "metadata.namespace"));
	field_selector_release(&sel);
	assert_null(sel.reqs);
	field_selector_release(&sel);

	assert_int_equal(field_selector_parse("spec.nodeName=", &sel, NULL), 0);
	assert_string_equal(field_selector_required_value(&sel, "spec.nodeName"), "");
	field_selector_release(&sel);
	assert_null(field_selector_required_value(NULL, "x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_structure),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_match_empty_labels),
		cmocka_unit_test(test_from_json),
		cmocka_unit_test(test_from_json_nothing_everything),
		cmocka_unit_test(test_packed_labels),
		cmocka_unit_test(test_field_parse_valid),
		cmocka_unit_test(test_field_parse_invalid),
		cmocka_unit_test(test_field_match),
		cmocka_unit_test(test_field_required_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
