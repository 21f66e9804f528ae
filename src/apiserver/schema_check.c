/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Type checking and pruning of decoded JSON bodies (schema_check), and the
 * duplicate key scan for strict field validation (json_find_duplicate_keys).
 *
 * schema_check walks the JSON value and the type description together. It
 * follows what Go's encoding/json (as vendored by Kubernetes in
 * sigs.k8s.io/json) does when decoding into the generated structs, including
 * its error texts: the first type error wins, its context is the innermost
 * struct and the JSON names of the struct fields leading to the value (no
 * list indexes, no map keys), and values decoded by a type's own
 * UnmarshalJSON (Time, Duration, Quantity, IntOrString) report that
 * function's error. Unknown fields are reported with list indexes and map
 * keys, like the strict decoder does.
 */
#include "apiserver/schema.h"
#include "lib/strbuf.h"

const char *schema__quantity_error(const char *s, size_t n);

/* ---- small validators ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * resource.ParseQuantity's syntax: NULL when s is a valid quantity, else
 * its error text. Shared with schema_proto.c.
 */
const char *schema__quantity_error(const char *s, size_t n)
{
	static const char format_wrong[] = "quantities must match the regular expression "
					   "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
	static const char bad_suffix[] = "unable to parse quantity's suffix";
	static const char *const suffixes[] = { "n", "u",  "m",	 "k",  "M",  "G",  "T", "P",
						"E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei" };
	size_t i = 0;

	if (n == 0)
		return format_wrong;
	if (s[0] == '+' || s[0] == '-')
		i++;
	while (i < n && is_digit(s[i]))
		i++;
	if (i < n && s[i] == '.')
		for (i++; i < n && is_digit(s[i]); i++)
			;
	if (i == n)
		return NULL;

	size_t suf = i;
	while (i < n && s[i] && strchr("eEinumkKMGTP", s[i]))
		i++;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	while (i < n && is_digit(s[i]))
		i++;
	if (i < n)
		return format_wrong;

	const char *x = s + suf;
	size_t xn = n - suf;
	for (size_t k = 0; k < ARRAY_SIZE(suffixes); k++)
		if (strlen(suffixes[k]) == xn && memcmp(suffixes[k], x, xn) == 0)
			return NULL;
	if (xn > 1 && (x[0] == 'e' || x[0] == 'E')) {
		/* An exponent that strconv.ParseInt accepts. */
		size_t k = 1;
		bool neg = false;
		if (x[k] == '+' || x[k] == '-')
			neg = x[k++] == '-';
		if (k == xn)
			return bad_suffix;
		uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
		for (; k < xn; k++) {
			if (!is_digit(x[k]) || v > (limit - (uint64_t)(x[k] - '0')) / 10)
				return bad_suffix;
			v = v * 10 + (uint64_t)(x[k] - '0');
		}
		return NULL;
	}
	return bad_suffix;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static size_t skip_newlines(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/*
 * Check standard padded base64 as Go's base64.StdEncoding.Decode does (it
 * skips CR and LF). Returns -1 when valid, else the offset Go reports.
 */
static ssize_t base64_error_offset(const char *s, size_t n)
{
	size_t si = 0;
	for (;;) {
		for (int j = 0; j < 4; j++) {
			if (si == n)
				return j == 0 ? -1 : (ssize_t)(si - (size_t)j);
			unsigned char in = (unsigned char)s[si++];
			if (b64_value(in) >= 0)
				continue;
			if (in == '\n' || in == '\r') {
				j--;
				continue;
			}
			if (in != '=' || j < 2)
				return (ssize_t)(si - 1);
			if (j == 2) {
				si = skip_newlines(s, n, si);
				if (si == n)
					return (ssize_t)n;
				if (s[si] != '=')
					return (ssize_t)(si - 1);
				si++;
			}
			si = skip_newlines(s, n, si);
			return si < n ? (ssize_t)si : -1;
		}
	}
}

/* Go's time.quote: the string in double quotes, bytes outside printable
 * ASCII as \xNN. */
static void add_go_quoted(struct strbuf *sb, const char *s, size_t n)
{
	strbuf_addch(sb, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x80) {
			strbuf_addf(sb, "\\x%02x", c);
			continue;
		}
		if (c == '"' || c == '\\')
			strbuf_addch(sb, '\\');
		strbuf_addch(sb, (char)c);
	}
	strbuf_addch(sb, '"');
}

enum time_elem { TE_YEAR, TE_MONTH, TE_DAY, TE_HOUR, TE_MINUTE, TE_SECOND, TE_MICRO, TE_ZONE };

struct time_chunk {
	const char *prefix; /* literal text before the element */
	enum time_elem elem;
	const char *layout; /* the element as Go's layout spells it */
};

static const struct time_chunk rfc3339[] = {
	{ "", TE_YEAR, "2006" },   { "-", TE_MONTH, "01" },  { "-", TE_DAY, "02" },
	{ "T", TE_HOUR, "15" },	   { ":", TE_MINUTE, "04" }, { ":", TE_SECOND, "05" },
	{ "", TE_ZONE, "Z07:00" },
};
static const struct time_chunk rfc3339_micro[] = {
	{ "", TE_YEAR, "2006" },     { "-", TE_MONTH, "01" },	{ "-", TE_DAY, "02" },
	{ "T", TE_HOUR, "15" },	     { ":", TE_MINUTE, "04" },	{ ":", TE_SECOND, "05" },
	{ "", TE_MICRO, ".000000" }, { "", TE_ZONE, "Z07:00" },
};

/* One or two digits (exactly two when fixed), as Go's getnum. */
static bool getnum(const char **v, const char *end, bool fixed, int *ret)
{
	const char *s = *v;
	if (s >= end || !is_digit(s[0]))
		return false;
	if (s + 1 >= end || !is_digit(s[1])) {
		if (fixed)
			return false;
		*ret = s[0] - '0';
		*v = s + 1;
		return true;
	}
	*ret = (s[0] - '0') * 10 + (s[1] - '0');
	*v = s + 2;
	return true;
}

static bool is_leap(long year)
{
	return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

static int days_in(int month, long year)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/*
 * Parse s like Go's time.Parse with layout RFC 3339 (micro: RFC3339Micro,
 * "2006-01-02T15:04:05.000000Z07:00"). NULL when valid, else Go's error
 * text (malloc'd).
 */
static char *time_error(const char *s, size_t n, bool micro)
{
	const struct time_chunk *chunks = micro ? rfc3339_micro : rfc3339;
	size_t nchunks = micro ? ARRAY_SIZE(rfc3339_micro) : ARRAY_SIZE(rfc3339);
	const char *layout =
	    micro ? "2006-01-02T15:04:05.000000Z07:00" : "2006-01-02T15:04:05Z07:00";
	const char *v = s, *end = s + n;
	long year = 0;
	int month = 1, day = 1, x = 0;
	const char *range = NULL;
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "parsing time ");
	add_go_quoted(&sb, s, n);
	for (size_t i = 0; i < nchunks; i++) {
		const struct time_chunk *ch = &chunks[i];
		size_t plen = strlen(ch->prefix);
		const char *bad_at = v, *bad_as = NULL;

		if ((size_t)(end - v) < plen || memcmp(v, ch->prefix, plen) != 0) {
			bad_as = ch->prefix;
			goto bad;
		}
		v += plen;
		bad_at = v;
		bad_as = ch->layout;
		switch (ch->elem) {
		case TE_YEAR: {
			if (end - v < 4 || !is_digit(v[0]))
				goto bad;
			for (int k = 1; k < 4; k++)
				if (!is_digit(v[k]))
					goto bad;
			year = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 +
			       (v[3] - '0');
			v += 4;
			break;
		}
		case TE_MONTH:
			if (!getnum(&v, end, true, &month))
				goto bad;
			if (month < 1 || month > 12)
				range = "month";
			break;
		case TE_DAY:
			if (!getnum(&v, end, true, &day))
				goto bad;
			break;
		case TE_HOUR:
			if (!getnum(&v, end, false, &x))
				goto bad;
			if (x >= 24)
				range = "hour";
			break;
		case TE_MINUTE:
			if (!getnum(&v, end, true, &x))
				goto bad;
			if (x >= 60)
				range = "minute";
			break;
		case TE_SECOND:
			if (!getnum(&v, end, true, &x))
				goto bad;
			if (x >= 60) {
				range = "second";
				break;
			}
			/* Go accepts a fraction the layout does not mention. */
			if (!micro && end - v >= 2 && (v[0] == '.' || v[0] == ',') &&
			    is_digit(v[1]))
				for (v += 2; v < end && is_digit(*v); v++)
					;
			break;
		case TE_MICRO:
			if (end - v < 7 || (v[0] != '.' && v[0] != ','))
				goto bad;
			for (int k = 1; k < 7; k++)
				if (!is_digit(v[k]))
					goto bad;
			v += 7;
			break;
		case TE_ZONE: {
			if (v < end && *v == 'Z') {
				v++;
				break;
			}
			int hh, mm;
			const char *h = v + 1, *m = v + 4;
			if (end - v < 6 || v[3] != ':' || (v[0] != '+' && v[0] != '-') ||
			    !getnum(&h, v + 3, true, &hh) || !getnum(&m, v + 6, true, &mm))
				goto bad;
			v += 6;
			if (hh > 24)
				range = "time zone offset hour";
			if (mm > 60)
				range = "time zone offset minute";
			break;
		}
		}
		if (range) {
			strbuf_addf(&sb, ": %s out of range", range);
			return strbuf_detach(&sb, NULL);
		}
		continue;
	bad:
		strbuf_addstr(&sb, " as ");
		add_go_quoted(&sb, layout, strlen(layout));
		strbuf_addstr(&sb, ": cannot parse ");
		add_go_quoted(&sb, bad_at, (size_t)(end - bad_at));
		strbuf_addstr(&sb, " as ");
		add_go_quoted(&sb, bad_as, strlen(bad_as));
		return strbuf_detach(&sb, NULL);
	}
	if (v < end) {
		strbuf_addstr(&sb, ": extra text: ");
		add_go_quoted(&sb, v, (size_t)(end - v));
		return strbuf_detach(&sb, NULL);
	}
	if (day < 1 || day > days_in(month, year)) {
		strbuf_addstr(&sb, ": day out of range");
		return strbuf_detach(&sb, NULL);
	}
	strbuf_release(&sb);
	return NULL;
}

static char *duration_msg(const char *what, const char *unit, size_t unit_len, const char *s,
			  size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "time: %s", what);
	if (unit) {
		add_go_quoted(&sb, unit, unit_len);
		strbuf_addstr(&sb, " in duration ");
	}
	add_go_quoted(&sb, s, n);
	return strbuf_detach(&sb, NULL);
}

/* Parse s like Go's time.ParseDuration. NULL when valid, else its error
 * text (malloc'd). */
static char *duration_error(const char *s, size_t n)
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
		{ "s", 1000000000 },
		{ "m", 60 * 1000000000ull },
		{ "h", 3600 * 1000000000ull },
	};
	const uint64_t top = 1ull << 63;
	const char *c = s, *end = s + n;
	uint64_t d = 0;
	bool neg = false;

	if (c < end && (*c == '-' || *c == '+'))
		neg = *c++ == '-';
	if (end - c == 1 && *c == '0')
		return NULL;
	if (c == end)
		return duration_msg("invalid duration ", NULL, 0, s, n);
	while (c < end) {
		uint64_t v = 0, f = 0;
		double scale = 1;
		bool overflow = false;

		if (!(*c == '.' || is_digit(*c)))
			return duration_msg("invalid duration ", NULL, 0, s, n);
		const char *start = c;
		for (; c < end && is_digit(*c); c++) {
			if (v > top / 10)
				return duration_msg("invalid duration ", NULL, 0, s, n);
			v = v * 10 + (uint64_t)(*c - '0');
			if (v > top)
				return duration_msg("invalid duration ", NULL, 0, s, n);
		}
		bool pre = c != start, post = false;
		if (c < end && *c == '.') {
			c++;
			const char *fstart = c;
			for (; c < end && is_digit(*c); c++) {
				if (overflow)
					continue;
				if (f > (top - 1) / 10) {
					overflow = true;
					continue;
				}
				uint64_t y = f * 10 + (uint64_t)(*c - '0');
				if (y > top) {
					overflow = true;
					continue;
				}
				f = y;
				scale *= 10;
			}
			post = c != fstart;
		}
		if (!pre && !post)
			return duration_msg("invalid duration ", NULL, 0, s, n);

		const char *u = c;
		while (c < end && *c != '.' && !is_digit(*c))
			c++;
		if (c == u)
			return duration_msg("missing unit in duration ", NULL, 0, s, n);
		uint64_t unit = 0;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++)
			if (strlen(units[i].name) == (size_t)(c - u) &&
			    memcmp(units[i].name, u, (size_t)(c - u)) == 0)
				unit = units[i].ns;
		if (!unit)
			return duration_msg("unknown unit ", u, (size_t)(c - u), s, n);
		if (v > top / unit)
			return duration_msg("invalid duration ", NULL, 0, s, n);
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > top)
				return duration_msg("invalid duration ", NULL, 0, s, n);
		}
		d += v;
		if (d > top)
			return duration_msg("invalid duration ", NULL, 0, s, n);
	}
	if (!neg && d > top - 1)
		return duration_msg("invalid duration ", NULL, 0, s, n);
	return NULL;
}

/* The shortest text that reads back as the same double; whole numbers
 * without an exponent. */
static void format_real(char *buf, size_t size, double d)
{
	if (d > -1e15 && d < 1e15 && d == (double)(long long)d) {
		snprintf(buf, size, "%.0f", d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/* ---- schema_check ---- */

struct check {
	struct schema_report *rep;
	struct strbuf path;		     /* "spec.containers[0].image": for unknown fields */
	struct strbuf gopath;		     /* "spec.containers.image": Go's error context */
	const struct schema_type *in_struct; /* the struct holding the current field */
	unsigned depth;
	char **unknown;
	size_t nunknown, aunknown;
};

/* Typed nesting (free-form values are not walked) deeper than this is
 * refused, so a hostile body cannot exhaust a small thread stack. */
#define CHECK_MAX_DEPTH 256

static void add_go_type(struct strbuf *sb, const struct schema_ref *ref)
{
	static const char *const names[] = {
		[SK_STRING] = "string",
		[SK_INT32] = "int32",
		[SK_INT64] = "int64",
		[SK_BOOL] = "bool",
		[SK_DOUBLE] = "float64",
		[SK_BYTES] = "[]uint8",
		[SK_TIME] = "v1.Time",
		[SK_MICROTIME] = "v1.MicroTime",
		[SK_DURATION] = "v1.Duration",
		[SK_QUANTITY] = "resource.Quantity",
		[SK_INTORSTRING] = "intstr.IntOrString",
		[SK_FREEFORM] = "runtime.RawExtension",
	};
	switch (ref->kind) {
	case SK_STRUCT:
		strbuf_addstr(sb, ref->type->go_name);
		break;
	case SK_LIST:
		strbuf_addstr(sb, "[]");
		add_go_type(sb, ref->elem);
		break;
	case SK_MAP:
		strbuf_addstr(sb, "map[string]");
		add_go_type(sb, ref->elem);
		break;
	default:
		strbuf_addstr(sb, names[ref->kind]);
		break;
	}
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	default:
		return "null";
	}
}

static int check_fail(struct check *c, char *msg)
{
	free(c->rep->error);
	c->rep->error = msg;
	return -EINVAL;
}

/* Go's UnmarshalTypeError text; gotype NULL means the Go type of ref. */
static int type_error(struct check *c, const char *value, const struct schema_ref *ref,
		      const char *gotype)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "json: cannot unmarshal %s into Go ", value);
	if (c->in_struct) {
		const char *go = c->in_struct->go_name;
		const char *dot = strrchr(go, '.');
		strbuf_addf(&sb, "struct field %s.%s of type ", dot ? dot + 1 : go,
			    strbuf_str(&c->gopath));
	} else {
		strbuf_addstr(&sb, "value of type ");
	}
	if (gotype)
		strbuf_addstr(&sb, gotype);
	else
		add_go_type(&sb, ref);
	return check_fail(c, strbuf_detach(&sb, NULL));
}

static int mismatch(struct check *c, const json_t *v, const struct schema_ref *ref)
{
	return type_error(c, json_kind(v), ref, NULL);
}

/* An integer for an int32/int64 Go field; gotype overrides the type name. */
static int check_integer(struct check *c, const json_t *v, const struct schema_ref *ref, bool is32,
			 const char *gotype)
{
	char buf[64];
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (!is32 || (i >= INT32_MIN && i <= INT32_MAX))
			return 0;
		snprintf(buf, sizeof(buf), "number %" JSON_INTEGER_FORMAT, i);
		return type_error(c, buf, ref, gotype);
	}
	if (json_is_real(v)) {
		memcpy(buf, "number ", 7);
		format_real(buf + 7, sizeof(buf) - 7, json_real_value(v));
		return type_error(c, buf, ref, gotype);
	}
	return type_error(c, json_kind(v), ref, gotype);
}

static void path_add_key(struct strbuf *sb, const char *key, size_t n)
{
	if (sb->len)
		strbuf_addch(sb, '.');
	strbuf_add(sb, key, n);
}

static void add_unknown(struct check *c)
{
	if (c->nunknown + 1 >= c->aunknown) {
		c->aunknown = c->aunknown ? c->aunknown * 2 : 8;
		c->unknown = xrealloc(c->unknown, c->aunknown * sizeof(*c->unknown));
	}
	c->unknown[c->nunknown++] = xstrdup(strbuf_str(&c->path));
	c->unknown[c->nunknown] = NULL;
}

/* What Go leaves in a list slot for a JSON null: the element's zero value.
 * NULL keeps the null (Go encodes those zero values as null). */
static json_t *zero_value(const struct schema_ref *ref)
{
	switch (ref->kind) {
	case SK_STRING:
		return json_string("");
	case SK_INT32:
	case SK_INT64:
	case SK_DOUBLE:
	case SK_INTORSTRING:
		return json_integer(0);
	case SK_BOOL:
		return json_false();
	case SK_QUANTITY:
		return json_string("0");
	case SK_DURATION:
		return json_string("0s");
	case SK_STRUCT:
		return json_object();
	default:
		return NULL;
	}
}

static int check_value(struct check *c, const struct schema_ref *ref, json_t *v, json_t **ret_new);

static int check_struct(struct check *c, const struct schema_type *t, json_t *obj)
{
	const char *key;
	size_t klen;
	json_t *v;
	void *tmp;
	int r = 0;

	json_object_keylen_foreach_safe(obj, tmp, key, klen, v)
	{
		const struct schema_field *f =
		    strlen(key) == klen ? schema_field_by_name(t, key) : NULL;
		size_t plen = c->path.len;
		path_add_key(&c->path, key, klen);
		if (!f) {
			add_unknown(c);
			json_object_deln(obj, key, klen);
		} else if (json_is_null(v)) {
			json_object_deln(obj, key, klen);
		} else {
			size_t glen = c->gopath.len;
			const struct schema_type *saved = c->in_struct;
			json_t *nv = NULL;
			path_add_key(&c->gopath, key, klen);
			c->in_struct = t;
			r = check_value(c, &f->ref, v, &nv);
			c->in_struct = saved;
			strbuf_setlen(&c->gopath, glen);
			if (nv)
				json_object_setn_new_nocheck(obj, key, klen, nv);
		}
		strbuf_setlen(&c->path, plen);
		if (r < 0)
			return r;
	}
	return 0;
}

static int check_list(struct check *c, const struct schema_ref *elem, json_t *arr)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		size_t plen = c->path.len;
		json_t *nv = NULL;
		int r = 0;
		strbuf_addf(&c->path, "[%zu]", i);
		if (json_is_null(v))
			nv = zero_value(elem);
		else
			r = check_value(c, elem, v, &nv);
		strbuf_setlen(&c->path, plen);
		if (r < 0)
			return r;
		if (nv)
			json_array_set_new(arr, i, nv);
	}
	return 0;
}

static int check_map(struct check *c, const struct schema_ref *elem, json_t *obj)
{
	const char *key;
	size_t klen;
	json_t *v;
	void *tmp;

	json_object_keylen_foreach_safe(obj, tmp, key, klen, v)
	{
		if (json_is_null(v)) {
			json_object_deln(obj, key, klen);
			continue;
		}
		size_t plen = c->path.len;
		json_t *nv = NULL;
		path_add_key(&c->path, key, klen);
		int r = check_value(c, elem, v, &nv);
		strbuf_setlen(&c->path, plen);
		if (r < 0)
			return r;
		if (nv)
			json_object_setn_new_nocheck(obj, key, klen, nv);
	}
	return 0;
}

static int check_quantity(struct check *c, json_t *v, json_t **ret_new)
{
	char buf[64];
	const char *err;

	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		*ret_new = json_string(buf);
		return 0;
	}
	if (json_is_real(v)) {
		format_real(buf, sizeof(buf), json_real_value(v));
		err = schema__quantity_error(buf, strlen(buf));
		if (err)
			return check_fail(c, xstrdup(err));
		*ret_new = json_string(buf);
		return 0;
	}
	if (!json_is_string(v))
		/* Go hands the raw JSON text to ParseQuantity, which rejects it. */
		return check_fail(c, xstrdup(schema__quantity_error("", 0)));

	const char *s = json_string_value(v), *end = s + json_string_length(v);
	while (s < end && strchr(" \t\n\v\f\r", *s) && *s)
		s++;
	while (end > s && end[-1] && strchr(" \t\n\v\f\r", end[-1]))
		end--;
	err = schema__quantity_error(s, (size_t)(end - s));
	if (err)
		return check_fail(c, xstrdup(err));
	if ((size_t)(end - s) != json_string_length(v))
		*ret_new = json_stringn(s, (size_t)(end - s));
	return 0;
}

static int check_value(struct check *c, const struct schema_ref *ref, json_t *v, json_t **ret_new)
{
	char *msg;
	int r;

	switch (ref->kind) {
	case SK_STRING:
		return json_is_string(v) ? 0 : mismatch(c, v, ref);
	case SK_INT32:
	case SK_INT64:
		return check_integer(c, v, ref, ref->kind == SK_INT32, NULL);
	case SK_BOOL:
		return json_is_boolean(v) ? 0 : mismatch(c, v, ref);
	case SK_DOUBLE:
		return json_is_number(v) ? 0 : mismatch(c, v, ref);
	case SK_BYTES: {
		if (!json_is_string(v))
			return mismatch(c, v, ref);
		ssize_t off = base64_error_offset(json_string_value(v), json_string_length(v));
		if (off >= 0)
			return check_fail(c,
					  xasprintf("illegal base64 data at input byte %zd", off));
		return 0;
	}
	case SK_TIME:
	case SK_MICROTIME:
		/* metav1.Time.UnmarshalJSON decodes a Go string first. */
		if (!json_is_string(v))
			return type_error(c, json_kind(v), ref, "string");
		msg = time_error(json_string_value(v), json_string_length(v),
				 ref->kind == SK_MICROTIME);
		return msg ? check_fail(c, msg) : 0;
	case SK_DURATION:
		if (!json_is_string(v))
			return type_error(c, json_kind(v), ref, "string");
		msg = duration_error(json_string_value(v), json_string_length(v));
		return msg ? check_fail(c, msg) : 0;
	case SK_QUANTITY:
		return check_quantity(c, v, ret_new);
	case SK_INTORSTRING:
		/* IntOrString.UnmarshalJSON decodes a string or an int32. */
		if (json_is_string(v))
			return 0;
		return check_integer(c, v, ref, true, "int32");
	case SK_FREEFORM:
		return 0;
	case SK_STRUCT:
	case SK_LIST:
	case SK_MAP:
		if (ref->kind == SK_LIST ? !json_is_array(v) : !json_is_object(v))
			return mismatch(c, v, ref);
		if (c->depth == CHECK_MAX_DEPTH)
			return check_fail(c, xasprintf("json: nesting deeper than %d levels at %s",
						       CHECK_MAX_DEPTH, strbuf_str(&c->path)));
		c->depth++;
		if (ref->kind == SK_STRUCT)
			r = check_struct(c, ref->type, v);
		else if (ref->kind == SK_LIST)
			r = check_list(c, ref->elem, v);
		else
			r = check_map(c, ref->elem, v);
		c->depth--;
		return r;
	}
	return mismatch(c, v, ref);
}

int schema_check(const struct schema_type *t, json_t *obj, struct schema_report *rep)
{
	struct schema_report discard = { 0 };
	if (!rep)
		rep = &discard;
	struct check c = { .rep = rep };
	struct schema_ref ref = { .kind = SK_STRUCT, .type = t };
	int r;

	if (!json_is_object(obj))
		r = mismatch(&c, obj, &ref);
	else
		r = check_struct(&c, t, obj);

	if (c.nunknown) {
		size_t n = rep->nunknown + c.nunknown;
		rep->unknown = xrealloc(rep->unknown, (n + 1) * sizeof(*rep->unknown));
		memcpy(rep->unknown + rep->nunknown, c.unknown, c.nunknown * sizeof(*c.unknown));
		rep->unknown[n] = NULL;
		rep->nunknown = n;
	}
	free(c.unknown);
	strbuf_release(&c.path);
	strbuf_release(&c.gopath);
	schema_report_release(&discard);
	return r;
}

void schema_report_release(struct schema_report *rep)
{
	if (!rep)
		return;
	free(rep->error);
	for (size_t i = 0; i < rep->nunknown; i++)
		free(rep->unknown[i]);
	free(rep->unknown);
	*rep = (struct schema_report){ 0 };
}

/* ---- duplicate keys ---- */

/*
 * A single pass over the text with an explicit stack (no recursion). The
 * keys of every open object are kept, decoded, in one buffer; when an object
 * closes its keys are compared (sorted when there are many) and dropped.
 * Found duplicates are sorted by text position at the end, so they come out
 * in the order a decoder would meet them.
 */

struct dup_key {
	size_t off, len; /* in keybuf */
	size_t pos;	 /* position in the text */
};

struct dup_found {
	size_t pos;
	char *path;
};

struct dup_frame {
	bool object;
	size_t path_len; /* path length of the container itself */
	size_t first_key;
	size_t index; /* arrays */
};

struct dup_scan {
	const char *s, *end;
	const char *p;
	struct strbuf path;
	struct strbuf keybuf;
	struct dup_key *keys;
	size_t nkeys, akeys;
	struct dup_frame *stack;
	size_t depth, adepth;
	struct dup_found *found;
	size_t nfound, afound;
	uint32_t *order;
	size_t aorder;
};

static void dup_ws(struct dup_scan *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
		d->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int read_hex4(const char *p, const char *end, unsigned *ret)
{
	unsigned v = 0;
	if (end - p < 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return -EINVAL;
		v = v * 16 + (unsigned)h;
	}
	*ret = v;
	return 0;
}

static void add_utf8(struct strbuf *sb, unsigned cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	strbuf_add(sb, b, n);
}

/* Scan a string at d->p (a '"'); decode it into out when out is set. */
static int dup_string(struct dup_scan *d, struct strbuf *out)
{
	const char *p = d->p + 1;
	for (;;) {
		const char *run = p;
		while (p < d->end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
			p++;
		if (out)
			strbuf_add(out, run, (size_t)(p - run));
		if (p >= d->end || (unsigned char)*p < 0x20)
			return -EINVAL;
		if (*p == '"')
			break;
		if (++p >= d->end)
			return -EINVAL;
		char e = *p++;
		unsigned cp;
		switch (e) {
		case '"':
		case '\\':
		case '/':
			cp = (unsigned char)e;
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u': {
			if (read_hex4(p, d->end, &cp) < 0)
				return -EINVAL;
			p += 4;
			unsigned lo;
			if (cp >= 0xd800 && cp < 0xdc00 && d->end - p >= 6 && p[0] == '\\' &&
			    p[1] == 'u' && read_hex4(p + 2, d->end, &lo) == 0 && lo >= 0xdc00 &&
			    lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			break;
		}
		default:
			return -EINVAL;
		}
		if (out)
			add_utf8(out, cp);
	}
	d->p = p + 1;
	return 0;
}

static int dup_literal(struct dup_scan *d)
{
	const char *start = d->p;
	while (d->p < d->end && (is_digit(*d->p) || strchr("+-.eEtrufalsn", *d->p)) && *d->p)
		d->p++;
	return d->p == start ? -EINVAL : 0;
}

static void dup_push(struct dup_scan *d, bool object)
{
	if (d->depth == d->adepth) {
		d->adepth = d->adepth ? d->adepth * 2 : 16;
		d->stack = xrealloc(d->stack, d->adepth * sizeof(*d->stack));
	}
	d->stack[d->depth++] = (struct dup_frame){
		.object = object,
		.path_len = d->path.len,
		.first_key = d->nkeys,
	};
}

static int cmp_keys(const void *a, const void *b, void *arg)
{
	const struct dup_scan *d = arg;
	const struct dup_key *x = &d->keys[*(const uint32_t *)a],
			     *y = &d->keys[*(const uint32_t *)b];
	size_t n = MIN(x->len, y->len);
	int c = memcmp(d->keybuf.buf + x->off, d->keybuf.buf + y->off, n);
	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

static bool key_eq(const struct dup_scan *d, const struct dup_key *x, const struct dup_key *y)
{
	return x->len == y->len &&
	       memcmp(d->keybuf.buf + x->off, d->keybuf.buf + y->off, x->len) == 0;
}

static void dup_report(struct dup_scan *d, const struct dup_key *k)
{
	if (d->nfound == d->afound) {
		d->afound = d->afound ? d->afound * 2 : 8;
		d->found = xrealloc(d->found, d->afound * sizeof(*d->found));
	}
	struct strbuf sb = STRBUF_INIT;
	strbuf_add(&sb, d->path.buf, d->path.len);
	path_add_key(&sb, d->keybuf.buf + k->off, k->len);
	d->found[d->nfound++] = (struct dup_found){ k->pos, strbuf_detach(&sb, NULL) };
}

/* The object on top of the stack closes: report its repeated keys. */
static void dup_close_object(struct dup_scan *d)
{
	const struct dup_frame *fr = &d->stack[d->depth - 1];
	size_t first = fr->first_key, n = d->nkeys - first;

	strbuf_setlen(&d->path, fr->path_len);
	if (n < 2) {
		/* nothing to compare */
	} else if (n <= 16) {
		/* For each key, report it at its second occurrence only. */
		for (size_t i = first + 1; i < d->nkeys; i++) {
			size_t seen = 0;
			for (size_t j = first; j < i && seen < 2; j++)
				seen += key_eq(d, &d->keys[j], &d->keys[i]);
			if (seen == 1)
				dup_report(d, &d->keys[i]);
		}
	} else {
		if (n > d->aorder) {
			d->aorder = n;
			d->order = xrealloc(d->order, n * sizeof(*d->order));
		}
		for (size_t i = 0; i < n; i++)
			d->order[i] = (uint32_t)(first + i);
		qsort_r(d->order, n, sizeof(*d->order), cmp_keys, d);
		for (size_t i = 1; i < n; i++)
			if (key_eq(d, &d->keys[d->order[i - 1]], &d->keys[d->order[i]]) &&
			    (i < 2 || !key_eq(d, &d->keys[d->order[i - 2]], &d->keys[d->order[i]])))
				dup_report(d, &d->keys[d->order[i]]);
	}
	if (n)
		strbuf_setlen(&d->keybuf, d->keys[first].off);
	d->nkeys = first;
}

static int dup_scan_text(struct dup_scan *d)
{
	int r;

	for (;;) {
		/* A value. */
		dup_ws(d);
		if (d->p >= d->end)
			return -EINVAL;
		if (*d->p == '{') {
			d->p++;
			dup_push(d, true);
			dup_ws(d);
			if (d->p < d->end && *d->p == '}') {
				d->p++;
				d->depth--;
				goto after_value;
			}
			goto key;
		}
		if (*d->p == '[') {
			d->p++;
			dup_push(d, false);
			dup_ws(d);
			if (d->p < d->end && *d->p == ']') {
				d->p++;
				d->depth--;
				goto after_value;
			}
			strbuf_addstr(&d->path, "[0]");
			continue;
		}
		r = *d->p == '"' ? dup_string(d, NULL) : dup_literal(d);
		if (r < 0)
			return r;

	after_value:
		for (;;) {
			if (!d->depth) {
				dup_ws(d);
				return d->p == d->end ? 0 : -EINVAL;
			}
			struct dup_frame *fr = &d->stack[d->depth - 1];
			dup_ws(d);
			if (d->p >= d->end)
				return -EINVAL;
			char ch = *d->p++;
			if (fr->object && ch == '}') {
				dup_close_object(d);
				d->depth--;
				continue;
			}
			if (!fr->object && ch == ']') {
				strbuf_setlen(&d->path, fr->path_len);
				d->depth--;
				continue;
			}
			if (ch != ',')
				return -EINVAL;
			if (fr->object)
				goto key;
			strbuf_setlen(&d->path, fr->path_len);
			strbuf_addf(&d->path, "[%zu]", ++fr->index);
			break;
		}
		continue;

	key:
		dup_ws(d);
		if (d->p >= d->end || *d->p != '"')
			return -EINVAL;
		{
			struct dup_frame *fr = &d->stack[d->depth - 1];
			if (d->nkeys == d->akeys) {
				d->akeys = d->akeys ? d->akeys * 2 : 64;
				d->keys = xrealloc(d->keys, d->akeys * sizeof(*d->keys));
			}
			struct dup_key *k = &d->keys[d->nkeys];
			k->off = d->keybuf.len;
			k->pos = (size_t)(d->p - d->s);
			r = dup_string(d, &d->keybuf);
			if (r < 0)
				return r;
			k->len = d->keybuf.len - k->off;
			d->nkeys++;
			strbuf_setlen(&d->path, fr->path_len);
			path_add_key(&d->path, d->keybuf.buf + k->off, k->len);
		}
		dup_ws(d);
		if (d->p >= d->end || *d->p != ':')
			return -EINVAL;
		d->p++;
	}
}

static int cmp_found(const void *a, const void *b)
{
	const struct dup_found *x = a, *y = b;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

int json_find_duplicate_keys(const char *text, size_t len, char ***ret_paths, size_t *ret_n)
{
	struct dup_scan d = { .s = text, .end = text + len, .p = text };
	strbuf_grow(&d.path, 64);
	strbuf_reset(&d.path);
	strbuf_grow(&d.keybuf, 256);
	strbuf_reset(&d.keybuf);
	int r = dup_scan_text(&d);

	if (r >= 0) {
		if (d.nfound > 1)
			qsort(d.found, d.nfound, sizeof(*d.found), cmp_found);
		char **paths = xnew(char *, d.nfound + 1);
		for (size_t i = 0; i < d.nfound; i++)
			paths[i] = d.found[i].path;
		*ret_paths = paths;
		*ret_n = d.nfound;
	} else {
		for (size_t i = 0; i < d.nfound; i++)
			free(d.found[i].path);
	}
	free(d.found);
	free(d.keys);
	free(d.stack);
	free(d.order);
	strbuf_release(&d.path);
	strbuf_release(&d.keybuf);
	return r;
}
