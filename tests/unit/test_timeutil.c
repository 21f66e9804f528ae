/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include <inttypes.h>

#include "lib/timeutil.h"

#define SEC    INT64_C(1000000)
#define MINUTE (60 * SEC)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)

static const struct {
	int64_t usec;
	const char *sec, *micro;
} times[] = {
	{ 0, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z" },
	{ 1136214245 * SEC, "2006-01-02T15:04:05Z", "2006-01-02T15:04:05.000000Z" },
	{ 1136214245 * SEC + 123456, "2006-01-02T15:04:05Z", "2006-01-02T15:04:05.123456Z" },
	{ 1136214245 * SEC + 999999, "2006-01-02T15:04:05Z", "2006-01-02T15:04:05.999999Z" },
	{ 1795921866 * SEC, "2026-11-29T03:11:06Z", "2026-11-29T03:11:06.000000Z" },
	{ 951782400 * SEC, "2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000000Z" },
	{ 1709208000 * SEC + 1, "2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000001Z" },
	{ 253402300799 * SEC, "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.000000Z" },
	{ -62135596800 * SEC, "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z" },
	{ -1, "1969-12-31T23:59:59Z", "1969-12-31T23:59:59.999999Z" },
	{ -14182940 * SEC + 500000, "1969-07-20T20:17:40Z", "1969-07-20T20:17:40.500000Z" },
};

static void test_format(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(times); i++) {
		char a[32], b[40];
		time_format_rfc3339(times[i].usec, a);
		time_format_rfc3339_micro(times[i].usec, b);
		assert_string_equal(a, times[i].sec);
		assert_string_equal(b, times[i].micro);

		/* both forms parse back; the seconds form loses the fraction */
		int64_t t;
		assert_int_equal(time_parse_rfc3339(b, &t), 0);
		assert_int_equal(t, times[i].usec);
		assert_int_equal(time_parse_rfc3339(a, &t), 0);
		assert_int_equal(t, times[i].usec - (times[i].usec % SEC + SEC) % SEC);
	}

	/* the extremes of the range still fit the documented buffers */
	char a[32], b[40];
	time_format_rfc3339(INT64_MAX, a);
	time_format_rfc3339_micro(INT64_MIN, b);
	assert_true(strlen(a) < 32);
	assert_true(strlen(b) < 40);
}

static void test_parse(void **state)
{
	static const struct {
		const char *s;
		int64_t usec;
	} ok[] = {
		{ "2006-01-02T15:04:05Z", 1136214245 * SEC },
		{ "2006-01-02t15:04:05z", 1136214245 * SEC },
		{ "2006-01-02T15:04:05+00:00", 1136214245 * SEC },
		{ "2006-01-02T15:04:05-00:00", 1136214245 * SEC },
		{ "2006-01-02T16:04:05+01:00", 1136214245 * SEC },
		{ "2006-01-02T10:34:05-04:30", 1136214245 * SEC },
		{ "2006-01-03T05:04:05+14:00", 1136214245 * SEC },
		{ "2006-01-02T15:04:05.1Z", 1136214245 * SEC + 100000 },
		{ "2006-01-02T15:04:05.123Z", 1136214245 * SEC + 123000 },
		{ "2006-01-02T15:04:05.123456Z", 1136214245 * SEC + 123456 },
		{ "2006-01-02T15:04:05.123456789Z", 1136214245 * SEC + 123456 },
		{ "2006-01-02T16:04:05.5+01:00", 1136214245 * SEC + 500000 },
		{ "2000-02-29T00:00:00Z", 951782400 * SEC },
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1970-01-01T00:59:59+01:00", -1 * SEC },
	};
	static const char *const bad[] = {
		"",
		"2006-01-02",
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05Z",
		"2006-01-02T15:04Z",
		"2006-1-02T15:04:05Z",
		"06-01-02T15:04:05Z",
		"2006-01-02T15:04:05.Z",
		"2006-01-02T15:04:05+0100",
		"2006-01-02T15:04:05+01",
		"2006-01-02T15:04:05+24:00",
		"2006-01-02T15:04:05+01:60",
		"2006-01-02T15:04:05ZZ",
		"2006-01-02T15:04:05Z ",
		" 2006-01-02T15:04:05Z",
		"2006-00-02T15:04:05Z",
		"2006-13-02T15:04:05Z",
		"2006-01-00T15:04:05Z",
		"2006-01-32T15:04:05Z",
		"2006-04-31T15:04:05Z",
		"2006-02-29T15:04:05Z",
		"1900-02-29T00:00:00Z",
		"2006-01-02T24:00:00Z",
		"2006-01-02T15:60:05Z",
		"2006-01-02T15:04:60Z",
		"2006-01-02T15:04:05.12a4Z",
		"2006-01-02T15:04:05,5Z",
		"2006-01-02T15:04:+5Z",
	};

	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		int64_t t = 0;
		if (time_parse_rfc3339(ok[i].s, &t) != 0)
			fail_msg("\"%s\" rejected", ok[i].s);
		if (t != ok[i].usec)
			fail_msg("\"%s\": got %" PRId64 ", want %" PRId64, ok[i].s, t, ok[i].usec);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int64_t t = 77;
		if (time_parse_rfc3339(bad[i], &t) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(t, 77);
	}
	int64_t t;
	assert_int_equal(time_parse_rfc3339(NULL, &t), -EINVAL);
}

/* Every threshold of HumanDuration, on both sides. */
static void test_human_duration(void **state)
{
	static const struct {
		int64_t usec;
		const char *want;
	} cases[] = {
		{ INT64_MIN, "0s" },
		{ -5 * SEC, "0s" },
		{ -1, "0s" },
		{ 0, "0s" },
		{ SEC - 1, "0s" },
		{ SEC, "1s" },
		{ 45 * SEC, "45s" },
		{ 2 * MINUTE - 1, "119s" },
		/* 2m: minutes and seconds */
		{ 2 * MINUTE, "2m" },
		{ 2 * MINUTE + SEC, "2m1s" },
		{ 5 * MINUTE + 30 * SEC, "5m30s" },
		{ 10 * MINUTE - 1, "9m59s" },
		/* 10m: minutes only */
		{ 10 * MINUTE, "10m" },
		{ 10 * MINUTE + 59 * SEC, "10m" },
		{ 95 * MINUTE, "95m" },
		{ 3 * HOUR - 1, "179m" },
		/* 3h: hours and minutes */
		{ 3 * HOUR, "3h" },
		{ 3 * HOUR + MINUTE, "3h1m" },
		{ 5 * HOUR + 30 * MINUTE + 59 * SEC, "5h30m" },
		{ 8 * HOUR - 1, "7h59m" },
		/* 8h: hours only */
		{ 8 * HOUR, "8h" },
		{ 8 * HOUR + 59 * MINUTE, "8h" },
		{ 30 * HOUR, "30h" },
		{ 48 * HOUR - 1, "47h" },
		/* 48h: days and hours */
		{ 48 * HOUR, "2d" },
		{ 49 * HOUR, "2d1h" },
		{ 3 * DAY + 5 * HOUR, "3d5h" },
		{ 8 * DAY - 1, "7d23h" },
		/* 8d: days only */
		{ 8 * DAY, "8d" },
		{ 8 * DAY + 23 * HOUR, "8d" },
		{ 300 * DAY, "300d" },
		{ 2 * 365 * DAY - 1, "729d" },
		/* 2y: years and days */
		{ 2 * 365 * DAY, "2y" },
		{ 2 * 365 * DAY + DAY, "2y1d" },
		{ 2 * 365 * DAY + 100 * DAY, "2y100d" },
		{ 3 * 365 * DAY, "3y" },
		{ 8 * 365 * DAY - 1, "7y364d" },
		/* 8y: years only */
		{ 8 * 365 * DAY, "8y" },
		{ 8 * 365 * DAY + 200 * DAY, "8y" },
		{ 100 * 365 * DAY, "100y" },
		{ INT64_MAX, "292471y" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char buf[32];
		human_duration(cases[i].usec, buf);
		if (!streq(buf, cases[i].want))
			fail_msg("%" PRId64 "us: got \"%s\", want \"%s\"", cases[i].usec, buf,
				 cases[i].want);
	}
}

static void test_duration_parse(void **state)
{
	static const struct {
		const char *s;
		int err;
		int64_t usec;
	} cases[] = {
		{ "0", 0, 0 },
		{ "-0", 0, 0 },
		{ "+0", 0, 0 },
		{ "0s", 0, 0 },
		{ "5s", 0, 5 * SEC },
		{ "+5s", 0, 5 * SEC },
		{ "-5s", 0, -5 * SEC },
		{ "1m30s", 0, 90 * SEC },
		{ "500ms", 0, 500000 },
		{ "2h", 0, 2 * HOUR },
		{ "1.5h", 0, 90 * MINUTE },
		{ "-1.5h", 0, -90 * MINUTE },
		{ "1.5s", 0, 1500000 },
		{ ".5s", 0, 500000 },
		{ "1.s", 0, SEC },
		{ "1us", 0, 1 },
		{ "1\xc2\xb5s", 0, 1 },
		{ "1\xce\xbcs", 0, 1 },
		{ "1ns", 0, 0 },
		{ "1500ns", 0, 1 },
		{ "-1500ns", 0, -1 },
		{ "1h2m3s4ms5us6ns", 0, HOUR + 2 * MINUTE + 3 * SEC + 4000 + 5 },
		{ "3m3m", 0, 6 * MINUTE },
		{ "0.000001s", 0, 1 },
		{ "1.0000000000000000000000001h", 0, HOUR },
		{ "2562047h47m16.854775807s", 0, INT64_C(9223372036854775) },
		{ "-2562047h47m16.854775808s", 0, -INT64_C(9223372036854775) },
		{ "2562047h47m16.854775808s", -ERANGE, 0 },
		{ "2562048h", -ERANGE, 0 },
		{ "99999999999999999999s", -ERANGE, 0 },
		{ "", -EINVAL, 0 },
		{ "-", -EINVAL, 0 },
		{ "+", -EINVAL, 0 },
		{ "1", -EINVAL, 0 },
		{ "00", -EINVAL, 0 },
		{ "1.5", -EINVAL, 0 },
		{ "s", -EINVAL, 0 },
		{ ".s", -EINVAL, 0 },
		{ "1x", -EINVAL, 0 },
		{ "1sm", -EINVAL, 0 },
		{ "1S", -EINVAL, 0 },
		{ "1 s", -EINVAL, 0 },
		{ " 1s", -EINVAL, 0 },
		{ "1s ", -EINVAL, 0 },
		{ "1h-1m", -EINVAL, 0 },
		{ "--1s", -EINVAL, 0 },
		{ "1d", -EINVAL, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t v = 31337;
		int r = duration_parse(cases[i].s, &v);
		if (r != cases[i].err)
			fail_msg("\"%s\": got %d, want %d", cases[i].s, r, cases[i].err);
		if (r == 0 && v != cases[i].usec)
			fail_msg("\"%s\": got %" PRId64 ", want %" PRId64, cases[i].s, v,
				 cases[i].usec);
		if (r != 0)
			assert_int_equal(v, 31337);
	}
	int64_t v;
	assert_int_equal(duration_parse(NULL, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_human_duration),
		cmocka_unit_test(test_duration_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
