/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 3339 times, HumanDuration and Go duration strings.
 *
 * Calendar conversion is done here with the proleptic Gregorian day-count
 * formulas rather than gmtime/timegm, so results do not depend on TZ or on
 * the range of time_t helpers.
 */
#include <inttypes.h>

#include "lib/macro.h"
#include "lib/timeutil.h"

#define USEC_PER_SEC  INT64_C(1000000)
#define USEC_PER_MIN  (60 * USEC_PER_SEC)
#define USEC_PER_HOUR (60 * USEC_PER_MIN)

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1-12). */
static int64_t days_from_date(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = floor_div(y, 400);
	int64_t yoe = y - era * 400;				       /* [0, 399] */
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;	       /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

static void date_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d)
{
	z += 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int d = (int)(doy - (153 * mp + 2) / 5 + 1);
	int m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*ret_y = yoe + era * 400 + (m <= 2);
	*ret_m = m;
	*ret_d = d;
}

static void format(int64_t usec, char *buf, size_t size, bool micro)
{
	int64_t secs = usec / USEC_PER_SEC;
	int64_t frac = usec % USEC_PER_SEC;
	if (frac < 0) {
		frac += USEC_PER_SEC;
		secs--;
	}
	int64_t days = floor_div(secs, 86400);
	int64_t sod = secs - days * 86400;
	int64_t y;
	int m, d;
	char tmp[128];
	int n;

	date_from_days(days, &y, &m, &d);
	/* Years fit six digits and a sign over the whole int64 usec range, so
	 * the result always fits size; tmp only keeps the compiler's length
	 * analysis honest. */
	n = snprintf(tmp, sizeof(tmp), "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d", y, m, d,
		     (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	if (micro)
		n += snprintf(tmp + n, sizeof(tmp) - (size_t)n, ".%06d", (int)frac);
	tmp[n++] = 'Z';
	tmp[n] = 0;
	memcpy(buf, tmp, MIN((size_t)n + 1, size));
	buf[size - 1] = 0;
}

void time_format_rfc3339(int64_t usec, char *buf)
{
	format(usec, buf, 32, false);
}

void time_format_rfc3339_micro(int64_t usec, char *buf)
{
	format(usec, buf, 40, true);
}

/* Exactly n digits at *p. */
static bool take_digits(const char **p, int n, int *ret)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

static bool take_char(const char **p, char c)
{
	if (**p != c)
		return false;
	(*p)++;
	return true;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

int time_parse_rfc3339(const char *s, int64_t *ret_usec)
{
	int y, mo, d, h, mi, sec, oh, om;
	int64_t frac = 0, offset = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	if (!take_digits(&p, 4, &y) || !take_char(&p, '-') || !take_digits(&p, 2, &mo) ||
	    !take_char(&p, '-') || !take_digits(&p, 2, &d))
		return -EINVAL;
	if (!take_char(&p, 'T') && !take_char(&p, 't'))
		return -EINVAL;
	if (!take_digits(&p, 2, &h) || !take_char(&p, ':') || !take_digits(&p, 2, &mi) ||
	    !take_char(&p, ':') || !take_digits(&p, 2, &sec))
		return -EINVAL;
	if (take_char(&p, '.')) {
		/* Keep microseconds; further digits are truncated. */
		int n = 0;
		for (; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 6)
				frac = frac * 10 + (*p - '0');
		if (n == 0)
			return -EINVAL;
		for (; n < 6; n++)
			frac *= 10;
	}
	if (take_char(&p, 'Z') || take_char(&p, 'z')) {
		offset = 0;
	} else if (*p == '+' || *p == '-') {
		bool neg = *p++ == '-';
		if (!take_digits(&p, 2, &oh) || !take_char(&p, ':') || !take_digits(&p, 2, &om))
			return -EINVAL;
		if (oh > 23 || om > 59)
			return -EINVAL;
		offset = (oh * 3600 + om * 60) * (neg ? -1 : 1);
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return -EINVAL;

	int64_t secs = days_from_date(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	*ret_usec = secs * USEC_PER_SEC + frac;
	return 0;
}

void human_duration(int64_t usec, char *buf)
{
	const size_t size = 32;

	if (usec < 0) {
		snprintf(buf, size, "0s");
		return;
	}
	int64_t secs = usec / USEC_PER_SEC;
	int64_t mins = usec / USEC_PER_MIN;
	int64_t hours = usec / USEC_PER_HOUR;
	int64_t days = hours / 24;

	if (secs < 2 * 60)
		snprintf(buf, size, "%" PRId64 "s", secs);
	else if (mins < 10 && secs % 60)
		snprintf(buf, size, "%" PRId64 "m%" PRId64 "s", mins, secs % 60);
	else if (mins < 3 * 60)
		snprintf(buf, size, "%" PRId64 "m", mins);
	else if (hours < 8 && mins % 60)
		snprintf(buf, size, "%" PRId64 "h%" PRId64 "m", hours, mins % 60);
	else if (hours < 48)
		snprintf(buf, size, "%" PRId64 "h", hours);
	else if (hours < 8 * 24 && hours % 24)
		snprintf(buf, size, "%" PRId64 "d%" PRId64 "h", days, hours % 24);
	else if (hours < 2 * 365 * 24)
		snprintf(buf, size, "%" PRId64 "d", days);
	else if (hours < 8 * 365 * 24 && days % 365)
		snprintf(buf, size, "%" PRId64 "y%" PRId64 "d", days / 365, days % 365);
	else
		snprintf(buf, size, "%" PRId64 "y", days / 365);
}

/* Go's ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0". */
int duration_parse(const char *s, int64_t *ret_usec)
{
	static const struct {
		const char *name;
		uint64_t ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "\xc2\xb5s", 1000 }, /* U+00B5 micro sign */
		{ "\xce\xbcs", 1000 }, /* U+03BC Greek mu */
		{ "ms", 1000000 },
		{ "s", 1000000000ULL },
		{ "m", 60 * 1000000000ULL },
		{ "h", 3600 * 1000000000ULL },
	};
	const uint64_t limit_pos = INT64_MAX, limit_neg = (uint64_t)INT64_MAX + 1;
	bool neg = false;
	uint64_t total = 0;

	if (!s)
		return -EINVAL;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (streq(s, "0")) {
		*ret_usec = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	uint64_t limit = neg ? limit_neg : limit_pos;

	while (*s) {
		uint64_t whole = 0, frac = 0, scale = 1;
		bool digits = false, overflow = false;

		if (!(*s >= '0' && *s <= '9') && *s != '.')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			digits = true;
			if (whole > (limit - 9) / 10)
				overflow = true;
			else
				whole = whole * 10 + (uint64_t)(*s - '0');
		}
		if (*s == '.') {
			s++;
			for (; *s >= '0' && *s <= '9'; s++) {
				digits = true;
				/* Digits beyond ~18 cannot change a nanosecond count. */
				if (scale < UINT64_C(1000000000000000000)) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
			}
		}
		if (!digits)
			return -EINVAL;
		const char *u = s;
		while (*s && *s != '.' && !(*s >= '0' && *s <= '9'))
			s++;
		size_t ulen = (size_t)(s - u);
		if (ulen == 0)
			return -EINVAL;
		size_t i;
		for (i = 0; i < ARRAY_SIZE(units); i++)
			if (strlen(units[i].name) == ulen && !memcmp(units[i].name, u, ulen))
				break;
		if (i == ARRAY_SIZE(units))
			return -EINVAL;
		if (overflow)
			return -ERANGE;

		unsigned __int128 v = (unsigned __int128)whole * units[i].ns;
		v += (unsigned __int128)frac * units[i].ns / scale;
		v += total;
		if (v > limit)
			return -ERANGE;
		total = (uint64_t)v;
	}
	/* Nanoseconds to microseconds, truncating toward zero. */
	int64_t us = (int64_t)(total / 1000);
	*ret_usec = neg ? -us : us;
	return 0;
}
