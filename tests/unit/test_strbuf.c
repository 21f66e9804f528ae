/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "lib/strbuf.h"

static void test_add_and_detach(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "hello");
	strbuf_addch(&sb, ' ');
	strbuf_addf(&sb, "%s-%d", "world", 42);
	assert_string_equal(strbuf_str(&sb), "hello world-42");
	assert_int_equal(sb.len, 14);
	size_t len;
	_cleanup_free_ char *s = strbuf_detach(&sb, &len);
	assert_int_equal(len, 14);
	assert_null(sb.buf);
	assert_string_equal(s, "hello world-42");
}

static void test_json_escape(void **state)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_add_json_str(&sb, "a\"b\\c\n\x01");
	assert_string_equal(strbuf_str(&sb), "\"a\\\"b\\\\c\\n\\u0001\"");
}

static void test_long_format(void **state)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	strbuf_addf(&sb, "<%s>", big);
	assert_int_equal(sb.len, sizeof(big) + 1);
	assert_int_equal(sb.buf[0], '<');
	assert_int_equal(sb.buf[sb.len - 1], '>');
}

static void test_empty_is_string(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_grow(&sb, 100);
	assert_string_equal(sb.buf, "");
	_cleanup_free_ char *s = strbuf_detach(&sb, NULL);
	assert_string_equal(s, "");
	struct strbuf sb2 = STRBUF_INIT;
	_cleanup_free_ char *s2 = strbuf_detach(&sb2, NULL);
	assert_string_equal(s2, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_detach),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_long_format),
		cmocka_unit_test(test_empty_is_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
