/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include <inttypes.h>

#include "lib/quantity.h"

struct qcase {
	const char *s;
	int err;
	int64_t want;
};

static void test_parse_milli(void **state)
{
	static const struct qcase cases[] = {
		{ "0", 0, 0 },
		{ "-0", 0, 0 },
		{ "0.0", 0, 0 },
		{ "000", 0, 0 },
		{ "0m", 0, 0 },
		{ "0Ki", 0, 0 },
		{ "0e100000", 0, 0 },
		{ "1", 0, 1000 },
		{ "+1", 0, 1000 },
		{ "-1", 0, -1000 },
		{ "000001", 0, 1000 },
		{ "100m", 0, 100 },
		{ "1m", 0, 1 },
		{ "0.1", 0, 100 },
		{ ".5", 0, 500 },
		{ "+.5", 0, 500 },
		{ "1.", 0, 1000 },
		{ "1.5", 0, 1500 },
		{ "2.25", 0, 2250 },
		/* rounding up, away from zero */
		{ "0.0001", 0, 1 },
		{ "-0.0001", 0, -1 },
		{ "0.1m", 0, 1 },
		{ "1.0001", 0, 1001 },
		{ "1.0000", 0, 1000 },
		{ "1n", 0, 1 },
		{ "1u", 0, 1 },
		{ "1000u", 0, 1 },
		{ "1001u", 0, 2 },
		{ "999999n", 0, 1 },
		{ "1000000n", 0, 1 },
		{ "1000001n", 0, 2 },
		{ "0.000000000000000000000000000001", 0, 1 },
		{ "1e-100000000000", 0, 1 },
		/* decimal suffixes */
		{ "1k", 0, 1000000 },
		{ "1M", 0, INT64_C(1000000000) },
		{ "1G", 0, INT64_C(1000000000000) },
		{ "1T", 0, INT64_C(1000000000000000) },
		{ "1P", 0, INT64_C(1000000000000000000) },
		{ "9P", 0, INT64_C(9000000000000000000) },
		{ "10P", -ERANGE, 0 },
		{ "1E", -ERANGE, 0 },
		/* binary suffixes */
		{ "1Ki", 0, 1024000 },
		{ "1Mi", 0, INT64_C(1048576000) },
		{ "1.5Gi", 0, INT64_C(1610612736000) },
		{ "1Ti", 0, INT64_C(1099511627776000) },
		{ "1Pi", 0, INT64_C(1125899906842624000) },
		{ "1Ei", -ERANGE, 0 },
		/* exponents */
		{ "1e3", 0, 1000000 },
		{ "1E3", 0, 1000000 },
		{ "1e+3", 0, 1000000 },
		{ "1e-3", 0, 1 },
		{ "1E-2", 0, 10 },
		{ "1.5e1", 0, 15000 },
		{ "15e-1", 0, 1500 },
		{ "1e15", 0, INT64_C(1000000000000000000) },
		{ "1e16", -ERANGE, 0 },
		{ "1e100000000000", -ERANGE, 0 },
		/* int64 boundaries */
		{ "9223372036854775807m", 0, INT64_MAX },
		{ "9223372036854775808m", -ERANGE, 0 },
		{ "-9223372036854775808m", 0, INT64_MIN },
		{ "-9223372036854775809m", -ERANGE, 0 },
		{ "9223372036854775.807", 0, INT64_MAX },
		{ "9223372036854775.8071", -ERANGE, 0 }, /* rounds up past the limit */
		{ "99999999999999999999999999", -ERANGE, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t v = 424242;
		int r = quantity_parse_milli(cases[i].s, &v);
		if (r != cases[i].err)
			fail_msg("\"%s\": got %d, want %d", cases[i].s, r, cases[i].err);
		if (r == 0 && v != cases[i].want)
			fail_msg("\"%s\": got %" PRId64 ", want %" PRId64, cases[i].s, v,
				 cases[i].want);
		if (r != 0)
			assert_int_equal(v, 424242);
		assert_true(quantity_valid(cases[i].s));
	}
}

static void test_parse_units(void **state)
{
	static const struct qcase cases[] = {
		{ "1", 0, 1 },
		{ "128974848", 0, 128974848 },
		{ "129e6", 0, 129000000 },
		{ "129M", 0, 129000000 },
		{ "123Mi", 0, 128974848 },
		{ "1Gi", 0, INT64_C(1073741824) },
		{ "1k", 0, 1000 },
		{ "1Ki", 0, 1024 },
		{ "0.5Ki", 0, 512 },
		{ "0.3Ki", 0, 308 },  /* 307.2 */
		{ "1.1Ki", 0, 1127 }, /* 1126.4 */
		{ "1500m", 0, 2 },
		{ "1000m", 0, 1 },
		{ "100m", 0, 1 },
		{ "-100m", 0, -1 },
		{ "-1500m", 0, -2 },
		{ "12e-1", 0, 2 },
		{ "1n", 0, 1 },
		{ "1E", 0, INT64_C(1000000000000000000) },
		{ "9.223372036854775807E", 0, INT64_MAX },
		{ "9.223372036854775808E", -ERANGE, 0 },
		{ "1Ei", 0, INT64_C(1152921504606846976) },
		{ "7Ei", 0, INT64_C(8070450532247928832) },
		{ "7.99999999999999999Ei", 0, INT64_C(9223372036854775797) },
		{ "8Ei", -ERANGE, 0 },
		{ "-8Ei", 0, INT64_MIN },
		{ "16Ei", -ERANGE, 0 },
		{ "1e18", 0, INT64_C(1000000000000000000) },
		{ "1e19", -ERANGE, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t v = 0;
		int r = quantity_parse(cases[i].s, &v);
		if (r != cases[i].err)
			fail_msg("\"%s\": got %d, want %d", cases[i].s, r, cases[i].err);
		if (r == 0 && v != cases[i].want)
			fail_msg("\"%s\": got %" PRId64 ", want %" PRId64, cases[i].s, v,
				 cases[i].want);
	}
}

static void test_long_fraction(void **state)
{
	/* longer than any on-stack buffer: "1.000...0001" */
	char s[260] = "1.";
	memset(s + 2, '0', 200);
	s[202] = '1';
	s[203] = 0;
	int64_t v;
	assert_int_equal(quantity_parse_milli(s, &v), 0);
	assert_int_equal(v, 1001);
	assert_int_equal(quantity_parse(s, &v), 0);
	assert_int_equal(v, 2);

	/* and a long exact integer with trailing zeros after the point */
	char t[260] = "12.";
	memset(t + 3, '0', 250);
	t[253] = 'K';
	t[254] = 'i';
	t[255] = 0;
	assert_int_equal(quantity_parse(t, &v), 0);
	assert_int_equal(v, 12288);
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		"",	 " 1",	  "1 ",	  "1.2.3", "Mi",   "1Mb",    "1.1.M",	"1+1.0M",
		"0.1mi", "0.1am", "aoeu", ".5i",   "1i",   "-3.01i", "-3.01e-", "1e",
		"1e1.5", "1ki",	  "1KI",  "1K",	   "--1",  "+-1",    ".",	"-",
		"+",	 "1e+",	  "e3",	  "1Gi2",  "1 Gi", "0x10",   "1,5",	"1m1",
		"1Ee3",	 "1e3m",  "Ki",	  "1\n",   "1mm",  "1.5.",   "١",	"1e-3.",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t v = 7;
		if (quantity_valid(bad[i]))
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(quantity_parse(bad[i], &v), -EINVAL);
		assert_int_equal(quantity_parse_milli(bad[i], &v), -EINVAL);
		assert_int_equal(v, 7);
	}
	assert_false(quantity_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_milli),
		cmocka_unit_test(test_parse_units),
		cmocka_unit_test(test_long_fraction),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
