/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include <jansson.h>

#include "lib/names.h"
#include "lib/random.h"

/* A string of n copies of c, in a static ring of buffers. */
static const char *rep(char c, size_t n)
{
	static char bufs[8][600];
	static int next;
	char *b = bufs[next++ % 8];
	assert_true(n < sizeof(bufs[0]));
	memset(b, c, n);
	b[n] = 0;
	return b;
}

/* a + n1 copies of c1 + mid + n2 copies of c2 + z, in a static ring of buffers. */
static const char *mk2(const char *a, char c1, size_t n1, const char *mid, char c2, size_t n2,
		       const char *z)
{
	static char bufs[8][700];
	static int next;
	char *b = bufs[next++ % 8], *p = b;
	assert_true(strlen(a) + n1 + strlen(mid) + n2 + strlen(z) < sizeof(bufs[0]));
	p = stpcpy(p, a);
	memset(p, c1, n1);
	p = stpcpy(p + n1, mid);
	memset(p, c2, n2);
	strcpy(p + n2, z);
	return b;
}

/* a + n copies of c + z. */
static const char *cat3(const char *a, char c, size_t n, const char *z)
{
	return mk2(a, c, n, "", c, 0, z);
}

struct name_case {
	const char *s;
	const char *msg; /* NULL: valid; else a substring of the message */
};

static void run(const char *what, char *(*fn)(const char *), const struct name_case *cases,
		size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *m = fn(cases[i].s);
		if (!cases[i].msg && m)
			fail_msg("%s(\"%s\"): unexpected error: %s", what, cases[i].s, m);
		if (cases[i].msg && !m)
			fail_msg("%s(\"%s\"): accepted, want error \"%s\"", what, cases[i].s,
				 cases[i].msg);
		if (cases[i].msg && !strstr(m, cases[i].msg))
			fail_msg("%s(\"%s\"): error \"%s\" lacks \"%s\"", what, cases[i].s, m,
				 cases[i].msg);
		free(m);
	}
}

#define RUN(fn, cases) run(#fn, fn, cases, ARRAY_SIZE(cases))

static void test_dns1123_label(void **state)
{
	const struct name_case cases[] = {
		{ "a", NULL },
		{ "0", NULL },
		{ "my-name", NULL },
		{ "123-abc", NULL },
		{ "a--b", NULL },
		{ rep('a', 63), NULL },
		{ rep('a', 64), "must be no more than 63 characters" },
		{ cat3("a", '-', 61, "b"), NULL },
		{ "", "RFC 1123 label" },
		{ "-a", "RFC 1123 label" },
		{ "a-", "RFC 1123 label" },
		{ "A", "RFC 1123 label" },
		{ "a_b", "RFC 1123 label" },
		{ "a b", "RFC 1123 label" },
		{ "a.b", "must not contain dots" },
		{ "a/b", "'my-name'" },			    /* the message gives examples... */
		{ "a@b", "[a-z0-9]([-a-z0-9]*[a-z0-9])?" }, /* ...and the rule */
		{ NULL, "RFC 1123 label" },
	};
	RUN(validate_dns1123_label, cases);

	/* too long and badly formed: both reported */
	char *m = validate_dns1123_label(cat3("-", 'a', 70, ""));
	assert_non_null(strstr(m, "no more than 63"));
	assert_non_null(strstr(m, "RFC 1123 label"));
	free(m);
}

static void test_dns1123_subdomain(void **state)
{
	const struct name_case cases[] = {
		{ "a", NULL },
		{ "example.com", NULL },
		{ "a.b.c-d.e", NULL },
		{ "1.2.3.4", NULL },
		{ rep('a', 253), NULL },
		{ rep('a', 254), "must be no more than 253 characters" },
		/* labels longer than 63 are fine inside a subdomain, as upstream */
		{ mk2("", 'a', 100, ".", 'b', 152, ""), NULL },
		{ mk2("", 'a', 100, ".", 'b', 153, ""), "no more than 253" },
		{ "", "RFC 1123 subdomain" },
		{ ".a", "RFC 1123 subdomain" },
		{ "a.", "RFC 1123 subdomain" },
		{ "a..b", "RFC 1123 subdomain" },
		{ "a.-b", "RFC 1123 subdomain" },
		{ "a-.b", "RFC 1123 subdomain" },
		{ "Example.com", "RFC 1123 subdomain" },
		{ "a_b.com", "'example.com'" },
	};
	RUN(validate_dns1123_subdomain, cases);
}

static void test_dns1035_label(void **state)
{
	const struct name_case cases[] = {
		{ "a", NULL },
		{ "my-name", NULL },
		{ "abc-123", NULL },
		{ rep('a', 63), NULL },
		{ rep('a', 64), "must be no more than 63 characters" },
		{ "1abc", "DNS-1035 label" },
		{ "0", "must begin with a letter" },
		{ "", "DNS-1035 label" },
		{ "-a", "DNS-1035 label" },
		{ "a-", "DNS-1035 label" },
		{ "a.b", "DNS-1035 label" },
		{ "aB", "DNS-1035 label" },
	};
	RUN(validate_dns1035_label, cases);
}

static void test_qualified_name(void **state)
{
	const struct name_case cases[] = {
		{ "a", NULL },
		{ "A", NULL },
		{ "MyName", NULL },
		{ "my.name", NULL },
		{ "123-abc", NULL },
		{ "a_b", NULL },
		{ "a-_.b", NULL },
		{ "example.com/MyName", NULL },
		{ "app.kubernetes.io/name", NULL },
		{ "k8s.io/a", NULL },
		{ rep('a', 63), NULL },
		{ rep('a', 64), "name part must be no more than 63 characters" },
		{ cat3("", 'p', 253, "/n"), NULL },
		{ cat3("", 'p', 254, "/n"), "prefix part must be no more than 253 characters" },
		{ cat3("p/", 'n', 63, ""), NULL },
		{ cat3("p/", 'n', 64, ""), "name part must be no more than 63 characters" },
		{ "", "name part must be non-empty" },
		{ "/a", "prefix part must be non-empty" },
		{ "a/", "name part must be non-empty" },
		{ "a/b/c", "optional DNS subdomain prefix" },
		{ "Example.com/a", "prefix part: a lowercase RFC 1123 subdomain" },
		{ "-a", "name part may contain only" },
		{ "a-", "name part" },
		{ "_a", "name part" },
		{ "a b", "name part" },
		{ "a$", "regex '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'" },
	};
	RUN(validate_qualified_name, cases);
}

static void test_label_value(void **state)
{
	const struct name_case cases[] = {
		{ "", NULL },
		{ NULL, NULL },
		{ "a", NULL },
		{ "MyValue", NULL },
		{ "my_value", NULL },
		{ "12345", NULL },
		{ "a.b-c_d", NULL },
		{ rep('v', 63), NULL },
		{ rep('v', 64), "must be no more than 63 characters" },
		{ "-a", "label value" },
		{ "a-", "label value" },
		{ ".", "label value" },
		{ "a/b", "label value" },
		{ "a b", "label value" },
		{ "é", "label value" },
	};
	RUN(validate_label_value, cases);
}

static void test_env_var_name(void **state)
{
	const struct name_case cases[] = {
		{ "A", NULL },
		{ "MY_ENV", NULL },
		{ "my.env-name", NULL },
		{ "MY_ENV.NAME", NULL },
		{ "MyEnvName1", NULL },
		{ "_", NULL },
		{ "-a", NULL },
		{ ".a", NULL },
		{ "a..b", NULL },
		{ "", "environment variable name" },
		{ "1A", "must not begin with a digit" },
		{ "A B", "environment variable name" },
		{ "A=B", "environment variable name" },
		{ "A$", "environment variable name" },
		{ ".", "must not be '.'" },
		{ "..", "must not be '..'" },
		{ "..a", "must not start with '..'" },
	};
	RUN(validate_env_var_name, cases);
}

static void test_port_name(void **state)
{
	const struct name_case cases[] = {
		{ "http", NULL },
		{ "h", NULL },
		{ "web-8080", NULL },
		{ "8080-web", NULL },
		{ "a-b-c", NULL },
		{ rep('p', 15), NULL },
		{ rep('p', 16), "must be no more than 15 characters" },
		{ "", "at least one letter" },
		{ "8080", "must contain at least one letter (a-z)" },
		{ "HTTP", "only lower-case letters" },
		{ "http_alt", "only lower-case letters" },
		{ "a--b", "must not contain two hyphens in a row" },
		{ "-http", "must not begin or end with '-'" },
		{ "http-", "must not begin or end with '-'" },
		{ "-", "at least one letter" },
	};
	RUN(validate_port_name, cases);
}

static void test_config_map_key(void **state)
{
	const struct name_case cases[] = {
		{ "key.name", NULL },
		{ "KEY_NAME", NULL },
		{ "key-name", NULL },
		{ ".dotfile", NULL },
		{ "a..b", NULL },
		{ "1", NULL },
		{ rep('k', 253), NULL },
		{ rep('k', 254), "must be no more than 253 characters" },
		{ "", "config key" },
		{ "a/b", "config key" },
		{ "a b", "config key" },
		{ ".", "must not be '.'" },
		{ "..", "must not be '..'" },
		{ "..data", "must not start with '..'" },
	};
	RUN(validate_config_map_key, cases);
}

static void test_annotations_size(void **state)
{
	const size_t limit = 256 * 1024;
	json_t *a = json_object();
	char *big = xmalloc(limit + 1);

	assert_null(validate_annotations_size(NULL));
	assert_null(validate_annotations_size(a));

	/* key "k" (1) + value (limit - 1) == limit: allowed */
	memset(big, 'x', limit - 1);
	big[limit - 1] = 0;
	json_object_set_new(a, "k", json_string(big));
	assert_null(validate_annotations_size(a));

	/* one byte more, spread over a second key: rejected */
	json_object_set_new(a, "z", json_string(""));
	char *m = validate_annotations_size(a);
	assert_non_null(m);
	assert_non_null(strstr(m, "262144"));
	free(m);

	/* non-string values count only their keys */
	json_object_del(a, "z");
	json_object_set_new(a, "", json_integer(1));
	assert_null(validate_annotations_size(a));

	json_t *arr = json_array();
	assert_null(validate_annotations_size(arr));
	json_decref(arr);
	json_decref(a);
	free(big);
}

/* ---- random (no better home: it feeds name generation) ------------------ */

static void test_random_uuid(void **state)
{
	char a[37], b[37];

	for (int n = 0; n < 200; n++) {
		random_uuid(a);
		assert_int_equal(strlen(a), 36);
		for (int i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(a[i], '-');
			else
				assert_non_null(strchr("0123456789abcdef", a[i]));
		}
		assert_int_equal(a[14], '4');
		assert_non_null(strchr("89ab", a[19]));
	}
	random_uuid(b);
	assert_string_not_equal(a, b);
}

static void test_random_name_suffix(void **state)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	char buf[64];
	int seen[256] = { 0 };

	for (int n = 0; n < 400; n++) {
		random_name_suffix(buf, 5);
		assert_int_equal(strlen(buf), 5);
		for (int i = 0; i < 5; i++) {
			assert_non_null(strchr(alphabet, buf[i]));
			seen[(unsigned char)buf[i]]++;
		}
		/* a generated suffix makes a valid name */
		char name[80];
		snprintf(name, sizeof(name), "web-%s", buf);
		char *m = validate_dns1123_label(name);
		assert_null(m);
	}
	/* 2000 draws over 27 letters: every letter shows up */
	for (const char *c = alphabet; *c; c++)
		assert_true(seen[(unsigned char)*c] > 0);

	random_name_suffix(buf, 0);
	assert_string_equal(buf, "");
	random_name_suffix(buf, 63);
	assert_int_equal(strlen(buf), 63);
}

static void test_random_hex(void **state)
{
	char buf[80], other[80];

	random_hex(buf, 0);
	assert_string_equal(buf, "");
	random_hex(buf, 1);
	assert_int_equal(strlen(buf), 1);
	random_hex(buf, 64);
	assert_int_equal(strlen(buf), 64);
	for (int i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", buf[i]));
	random_hex(other, 64);
	assert_string_not_equal(buf, other);

	unsigned char bytes[33] = { 0 };
	random_bytes(bytes, 32);
	random_bytes(bytes, 0);
	assert_int_equal(bytes[32], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dns1123_label),	   cmocka_unit_test(test_dns1123_subdomain),
		cmocka_unit_test(test_dns1035_label),	   cmocka_unit_test(test_qualified_name),
		cmocka_unit_test(test_label_value),	   cmocka_unit_test(test_env_var_name),
		cmocka_unit_test(test_port_name),	   cmocka_unit_test(test_config_map_key),
		cmocka_unit_test(test_annotations_size),   cmocka_unit_test(test_random_uuid),
		cmocka_unit_test(test_random_name_suffix), cmocka_unit_test(test_random_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
