/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "lib/json.h"

static void expect_member(const char *text, const char *key, const char *want)
{
	size_t off, len;
	assert_true(json_text_member(text, strlen(text), key, &off, &len));
	assert_int_equal(len, strlen(want));
	assert_memory_equal(text + off, want, len);
}

static void test_member_found(void **state)
{
	const char *ev = "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a}\\\"b\"},"
			 "\"spec\":[1,{\"x\":\"]\"}]}}";
	expect_member(ev, "type", "\"ADDED\"");
	expect_member(ev, "object",
		      "{\"metadata\":{\"name\":\"a}\\\"b\"},\"spec\":[1,{\"x\":\"]\"}]}");
	expect_member(" { \"a\" : 12 , \"b\" : true } ", "a", "12");
	expect_member(" { \"a\" : 12 , \"b\" : true } ", "b", "true");
	expect_member("{\"a\":null}", "a", "null");
	expect_member("{\"a\":[]}", "a", "[]");
}

static void test_member_absent(void **state)
{
	size_t off, len;
	const char *t = "{\"objects\":{},\"xobject\":1,\"nested\":{\"object\":2}}";
	assert_false(json_text_member(t, strlen(t), "object", &off, &len));
	assert_false(json_text_member("[1,2]", 5, "object", &off, &len));
	assert_false(json_text_member("", 0, "object", &off, &len));
	assert_false(json_text_member("{}", 2, "object", &off, &len));
	/* Cut short: never reads past n. */
	const char *cut = "{\"a\":1,\"object\":{\"b\":2}}";
	assert_false(json_text_member(cut, 10, "object", &off, &len));
	assert_false(json_text_member(cut, 20, "object", &off, &len));
	assert_false(json_text_member(cut, strlen(cut) - 1, "object", &off, &len));
	assert_true(json_text_member(cut, strlen(cut), "object", &off, &len));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_member_found),
		cmocka_unit_test(test_member_absent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
