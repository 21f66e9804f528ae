/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Resource quantities.
 *
 * The value is computed exactly, in decimal: the digits of the number are
 * multiplied by 2^binary-exponent as a digit string, then shifted by the
 * decimal exponent (suffix, exponent form, requested scale and fraction
 * length). Anything left after the decimal point rounds the magnitude up,
 * as Kubernetes' Value() and MilliValue() do (away from zero: "-1.5" -> -2).
 */
#include "lib/quantity.h"
#include "lib/macro.h"

/* Exponents beyond this are clamped: the result is 0, out of range, or a
 * fraction that rounds up to 1, whatever the exact value. */
#define EXP_CLAMP 100000

struct qnum {
	bool neg;
	const char *digits; /* integer digits followed (after ".") by fraction digits */
	size_t int_len, frac_len;
	const char *frac;
	int bin_exp;	 /* 2^bin_exp */
	int64_t dec_exp; /* 10^dec_exp */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int parse_suffix(const char *s, struct qnum *q)
{
	static const struct {
		const char *name;
		int bin, dec;
	} table[] = {
		{ "", 0, 0 },	 { "n", 0, -9 },  { "u", 0, -6 },  { "m", 0, -3 },
		{ "k", 0, 3 },	 { "M", 0, 6 },	  { "G", 0, 9 },   { "T", 0, 12 },
		{ "P", 0, 15 },	 { "E", 0, 18 },  { "Ki", 10, 0 }, { "Mi", 20, 0 },
		{ "Gi", 30, 0 }, { "Ti", 40, 0 }, { "Pi", 50, 0 }, { "Ei", 60, 0 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		if (streq(s, table[i].name)) {
			q->bin_exp = table[i].bin;
			q->dec_exp = table[i].dec;
			return 0;
		}
	}
	/* Exponent form: e3, E-2, e+6. */
	if (*s != 'e' && *s != 'E')
		return -EINVAL;
	s++;
	bool neg = false;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!is_digit(*s))
		return -EINVAL;
	int64_t e = 0;
	for (; is_digit(*s); s++)
		if (e < EXP_CLAMP)
			e = e * 10 + (*s - '0');
	if (*s)
		return -EINVAL;
	q->bin_exp = 0;
	q->dec_exp = neg ? -MIN(e, EXP_CLAMP) : MIN(e, EXP_CLAMP);
	return 0;
}

static int parse_number(const char *s, struct qnum *ret)
{
	struct qnum q = { 0 };

	if (!s)
		return -EINVAL;
	if (*s == '+' || *s == '-')
		q.neg = *s++ == '-';
	q.digits = s;
	while (is_digit(*s))
		s++;
	q.int_len = (size_t)(s - q.digits);
	q.frac = s;
	if (*s == '.') {
		q.frac = ++s;
		while (is_digit(*s))
			s++;
		q.frac_len = (size_t)(s - q.frac);
	}
	if (q.int_len + q.frac_len == 0)
		return -EINVAL;
	if (parse_suffix(s, &q) < 0)
		return -EINVAL;
	*ret = q;
	return 0;
}

bool quantity_valid(const char *s)
{
	struct qnum q;
	return parse_number(s, &q) == 0;
}

/* Multiply the big-endian decimal digits d[*start..end) by 2^e in place,
 * growing towards the front. */
static void mul_pow2(unsigned char *d, size_t *start, size_t end, int e)
{
	while (e > 0) {
		int step = MIN(e, 30);
		uint64_t f = 1ULL << step, carry = 0;
		for (size_t i = end; i-- > *start;) {
			uint64_t x = d[i] * f + carry;
			d[i] = (unsigned char)(x % 10);
			carry = x / 10;
		}
		while (carry) {
			d[--*start] = (unsigned char)(carry % 10);
			carry /= 10;
		}
		e -= step;
	}
}

/* ceil(|value| * 10^scale) as a signed result, or -ERANGE. */
static int evaluate(const struct qnum *q, int scale, int64_t *ret)
{
	size_t total = q->int_len + q->frac_len;
	/* 2^60 < 10^19: room for the growth of mul_pow2. */
	size_t cap = total + 20;
	unsigned char small[128];
	_cleanup_free_ unsigned char *big = NULL;
	unsigned char *d = small;
	size_t start = 20, end = 20;

	if (cap > sizeof(small))
		d = big = xmalloc(cap);
	for (size_t i = 0; i < q->int_len; i++)
		d[end++] = (unsigned char)(q->digits[i] - '0');
	for (size_t i = 0; i < q->frac_len; i++)
		d[end++] = (unsigned char)(q->frac[i] - '0');
	int64_t e = q->dec_exp + scale - (int64_t)q->frac_len;

	while (start < end && d[start] == 0)
		start++;
	if (start == end) {
		*ret = 0;
		return 0;
	}
	mul_pow2(d, &start, end, q->bin_exp);
	while (d[end - 1] == 0) {
		end--;
		e++;
	}

	/* Now |value| = digits * 10^e, with no leading or trailing zeros. */
	size_t len = end - start;
	bool round_up = false;
	if (e < 0) {
		/* The last digit is non-zero, so something is after the point. */
		round_up = true;
		size_t drop = (uint64_t)-e >= len ? len : (size_t)-e;
		end -= drop;
		len -= drop;
		e = 0;
	}
	if (len + (uint64_t)e > 19)
		return -ERANGE;

	unsigned __int128 v = 0;
	for (size_t i = start; i < end; i++)
		v = v * 10 + d[i];
	for (int64_t i = 0; i < e; i++)
		v *= 10;
	v += round_up;

	unsigned __int128 limit = q->neg ? (unsigned __int128)INT64_MAX + 1 : INT64_MAX;
	if (v > limit)
		return -ERANGE;
	*ret = q->neg ? (int64_t)(0 - (uint64_t)v) : (int64_t)v;
	return 0;
}

int quantity_parse_milli(const char *s, int64_t *ret)
{
	struct qnum q;
	if (parse_number(s, &q) < 0)
		return -EINVAL;
	return evaluate(&q, 3, ret);
}

int quantity_parse(const char *s, int64_t *ret)
{
	struct qnum q;
	if (parse_number(s, &q) < 0)
		return -EINVAL;
	return evaluate(&q, 0, ret);
}
