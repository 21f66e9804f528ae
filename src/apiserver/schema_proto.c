/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes protobuf request bodies: the envelope (k8s_protobuf_unwrap) and
 * decoding a message into the JSON a Go client would have sent
 * (schema_proto_decode).
 *
 * The decoder reads proto2 wire format against the type descriptions. Every
 * read is bounds-checked; nesting is limited to MAX_DEPTH messages. A
 * message field that occurs more than once is merged, as protobuf requires:
 * all its occurrences are decoded as one message. Object keys come out in
 * the order the .def file declares the fields, as Go's encoder writes them.
 */
#include "apiserver/schema.h"
#include <inttypes.h>
#include <stdarg.h>

#include "lib/strbuf.h"

/* Defined in schema_check.c: NULL when s is a valid quantity, else why not. */
const char *schema__quantity_error(const char *s, size_t n);

#define MAX_DEPTH	 64
#define MAX_FIELD_NUMBER 536870911

enum wire { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

/* ---- wire reading ---- */

struct pbuf {
	const uint8_t *p, *end;
};

struct seg {
	const uint8_t *p;
	size_t n;
};

struct pctx {
	char *err;
	bool err_placed; /* err names the field it happened in */
};

static int fail(struct pctx *c, const char *fmt, ...) _printf_(2, 3);
static int fail(struct pctx *c, const char *fmt, ...)
{
	if (c->err)
		return -EINVAL;
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	strbuf_addstr(&sb, "protobuf: ");
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	c->err = strbuf_detach(&sb, NULL);
	return -EINVAL;
}

static int read_varint(struct pctx *c, struct pbuf *b, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (b->p >= b->end)
			return fail(c, "truncated varint");
		uint8_t byte = *b->p++;
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return fail(c, "varint longer than 10 bytes");
}

static int read_fixed(struct pctx *c, struct pbuf *b, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	if ((size_t)(b->end - b->p) < n)
		return fail(c, "truncated fixed-size value");
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)b->p[i] << (8 * i);
	b->p += n;
	*ret = v;
	return 0;
}

static int read_len(struct pctx *c, struct pbuf *b, struct seg *ret)
{
	uint64_t n = 0;
	int r = read_varint(c, b, &n);
	if (r < 0)
		return r;
	if (n > (uint64_t)(b->end - b->p))
		return fail(c, "length %" PRIu64 " past the end of the message", n);
	ret->p = b->p;
	ret->n = (size_t)n;
	b->p += n;
	return 0;
}

static int read_key(struct pctx *c, struct pbuf *b, int *ret_num, int *ret_wt)
{
	uint64_t key = 0;
	int r = read_varint(c, b, &key);
	if (r < 0)
		return r;
	uint64_t num = key >> 3;
	int wt = (int)(key & 7);
	if (num == 0 || num > MAX_FIELD_NUMBER)
		return fail(c, "bad field number %" PRIu64, num);
	if (wt == 3 || wt == 4)
		return fail(c, "groups are not supported (field %" PRIu64 ")", num);
	if (wt != WT_VARINT && wt != WT_FIXED64 && wt != WT_LEN && wt != WT_FIXED32)
		return fail(c, "bad wire type %d (field %" PRIu64 ")", wt, num);
	*ret_num = (int)num;
	*ret_wt = wt;
	return 0;
}

static int skip_value(struct pctx *c, struct pbuf *b, int wt)
{
	uint64_t v = 0;
	struct seg s;
	switch (wt) {
	case WT_VARINT:
		return read_varint(c, b, &v);
	case WT_FIXED64:
		return read_fixed(c, b, 8, &v);
	case WT_FIXED32:
		return read_fixed(c, b, 4, &v);
	default:
		return read_len(c, b, &s);
	}
}

/* ---- JSON values ---- */

/* Valid UTF-8, with each byte of an invalid sequence replaced by U+FFFD as
 * Go's JSON encoder does. */
static void add_utf8_lossy(struct strbuf *sb, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = p[i];
		size_t len = 0;
		uint8_t lo = 0x80, hi = 0xbf;
		if (c < 0x80)
			len = 1;
		else if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		}
		bool ok = len > 0 && i + len <= n;
		for (size_t k = 1; ok && k < len; k++) {
			uint8_t cc = p[i + k];
			ok = k == 1 ? cc >= lo && cc <= hi : cc >= 0x80 && cc <= 0xbf;
		}
		if (ok) {
			strbuf_add(sb, p + i, len);
			i += len;
		} else {
			strbuf_add(sb, "\xef\xbf\xbd", 3);
			i++;
		}
	}
}

/*
 * A JSON string from protobuf string bytes. Go would keep a NUL byte, but C
 * code reading the value would see a shorter string than the one stored, so
 * NUL is refused here as it is in JSON bodies (jansson's default).
 */
static int string_value(struct pctx *c, const uint8_t *p, size_t n, json_t **ret)
{
	if (memchr(p, 0, n))
		return fail(c, "string contains a NUL byte");
	json_t *s = json_stringn((const char *)p, n);
	if (!s) {
		struct strbuf sb = STRBUF_INIT;
		add_utf8_lossy(&sb, p, n);
		s = json_stringn_nocheck(strbuf_str(&sb), sb.len);
		strbuf_release(&sb);
	}
	*ret = s;
	return 0;
}

static void base64_add(struct strbuf *sb, const uint8_t *p, size_t n)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	strbuf_grow(sb, (n + 2) / 3 * 4);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = { alphabet[v >> 18], alphabet[(v >> 12) & 63],
			      i + 1 < n ? alphabet[(v >> 6) & 63] : '=',
			      i + 2 < n ? alphabet[v & 63] : '=' };
		strbuf_add(sb, q, 4);
	}
}

static json_t *bytes_value(const uint8_t *p, size_t n)
{
	struct strbuf sb = STRBUF_INIT;
	base64_add(&sb, p, n);
	json_t *s = json_stringn_nocheck(strbuf_str(&sb), sb.len);
	strbuf_release(&sb);
	return s;
}

/* RFC 3339 in UTC, as Go formats time.RFC3339 and RFC3339Micro. */
static json_t *time_value(int64_t sec, int32_t micros, bool micro)
{
	int64_t days = sec / 86400, rem = sec % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	/* Civil date from days since 1970-01-01 (proleptic Gregorian). */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t day = doy - (153 * mp + 2) / 5 + 1;
	int64_t month = mp < 10 ? mp + 3 : mp - 9;
	int64_t year = yoe + era * 400 + (month <= 2);

	char buf[64];
	int n = snprintf(buf, sizeof(buf),
			 "%s%04" PRId64 "-%02" PRId64 "-%02" PRId64 "T%02" PRId64 ":%02" PRId64
			 ":%02" PRId64,
			 year < 0 ? "-" : "", year < 0 ? -year : year, month, day, rem / 3600,
			 rem / 60 % 60, rem % 60);
	if (micro)
		snprintf(buf + n, sizeof(buf) - (size_t)n, ".%06" PRId32 "Z", micros);
	else
		snprintf(buf + n, sizeof(buf) - (size_t)n, "Z");
	return json_string(buf);
}

/* Go's time.Duration.String: "1h2m3.5s", "1.5ms", "0s". */
static json_t *duration_value(int64_t d)
{
	char buf[40];
	char *w = buf + sizeof(buf);
	uint64_t u = d < 0 ? -(uint64_t)d : (uint64_t)d;

	*--w = 0;
	if (u < 1000000000) {
		/* Below a second: the largest unit that keeps an integer part. */
		int prec;
		const char *unit;
		if (u == 0)
			return json_string("0s");
		if (u < 1000) {
			prec = 0;
			unit = "ns";
		} else if (u < 1000000) {
			prec = 3;
			unit = "\xc2\xb5s";
		} else {
			prec = 6;
			unit = "ms";
		}
		size_t ul = strlen(unit);
		w -= ul;
		memcpy(w, unit, ul);
		/* Fraction digits without trailing zeros. */
		bool printed = false;
		for (int i = 0; i < prec; i++) {
			unsigned digit = (unsigned)(u % 10);
			printed = printed || digit != 0;
			if (printed)
				*--w = (char)('0' + digit);
			u /= 10;
		}
		if (printed)
			*--w = '.';
		do {
			*--w = (char)('0' + u % 10);
			u /= 10;
		} while (u);
	} else {
		*--w = 's';
		bool printed = false;
		for (int i = 0; i < 9; i++) {
			unsigned digit = (unsigned)(u % 10);
			printed = printed || digit != 0;
			if (printed)
				*--w = (char)('0' + digit);
			u /= 10;
		}
		if (printed)
			*--w = '.';
		/* u is whole seconds now. */
		uint64_t secs = u % 60;
		do {
			*--w = (char)('0' + secs % 10);
			secs /= 10;
		} while (secs);
		u /= 60;
		if (u > 0) {
			*--w = 'm';
			uint64_t mins = u % 60;
			do {
				*--w = (char)('0' + mins % 10);
				mins /= 10;
			} while (mins);
			u /= 60;
			if (u > 0) {
				*--w = 'h';
				do {
					*--w = (char)('0' + u % 10);
					u /= 10;
				} while (u);
			}
		}
	}
	if (d < 0)
		*--w = '-';
	return json_string(w);
}

/* ---- messages ---- */

static bool is_message_kind(enum schema_kind k)
{
	switch (k) {
	case SK_TIME:
	case SK_MICROTIME:
	case SK_DURATION:
	case SK_QUANTITY:
	case SK_INTORSTRING:
	case SK_FREEFORM:
	case SK_STRUCT:
	case SK_LIST: /* only as an element of a list or map: a wrapper message */
	case SK_MAP:
		return true;
	default:
		return false;
	}
}

static int scalar_wire_type(enum schema_kind k)
{
	switch (k) {
	case SK_INT32:
	case SK_INT64:
	case SK_BOOL:
		return WT_VARINT;
	case SK_DOUBLE:
		return WT_FIXED64;
	default:
		return WT_LEN;
	}
}

static const char *wire_name(int wt)
{
	switch (wt) {
	case WT_VARINT:
		return "varint";
	case WT_FIXED64:
		return "fixed64";
	case WT_FIXED32:
		return "fixed32";
	default:
		return "length-delimited";
	}
}

/* Decode one scalar of kind k (wire type already checked). */
static int decode_scalar(struct pctx *c, enum schema_kind k, struct pbuf *b, json_t **ret,
			 bool *ret_zero)
{
	uint64_t v = 0;
	struct seg s;
	int r;

	switch (k) {
	case SK_STRING:
	case SK_BYTES:
		r = read_len(c, b, &s);
		if (r < 0)
			return r;
		*ret_zero = s.n == 0;
		if (k == SK_STRING)
			return string_value(c, s.p, s.n, ret);
		*ret = bytes_value(s.p, s.n);
		return 0;
	case SK_DOUBLE: {
		r = read_fixed(c, b, 8, &v);
		if (r < 0)
			return r;
		double d;
		memcpy(&d, &v, sizeof(d));
		*ret = json_real(d);
		if (!*ret)
			return fail(c, "double value is not a number");
		*ret_zero = d == 0;
		return 0;
	}
	default:
		r = read_varint(c, b, &v);
		if (r < 0)
			return r;
		if (k == SK_BOOL)
			*ret = json_boolean(v != 0);
		else if (k == SK_INT32)
			*ret = json_integer((int32_t)(uint32_t)v);
		else
			*ret = json_integer((json_int_t)(int64_t)v);
		*ret_zero = v == 0 || (k == SK_INT32 && (uint32_t)v == 0);
		return 0;
	}
}

static int decode_message(struct pctx *c, const struct schema_ref *ref, const struct seg *segs,
			  size_t nsegs, int depth, json_t **ret);

/* A field's value while its message is read: the JSON so far, and for
 * message fields every occurrence, decoded together at the end. */
struct slot {
	json_t *val;
	struct seg *segs;
	size_t nsegs, asegs;
	struct seg seg0;
};

static void slot_add_seg(struct slot *sl, struct seg s)
{
	if (sl->nsegs == 0) {
		sl->seg0 = s;
		sl->segs = &sl->seg0;
		sl->nsegs = 1;
		return;
	}
	if (sl->segs == &sl->seg0) {
		sl->asegs = 4;
		sl->segs = xnew(struct seg, sl->asegs);
		sl->segs[0] = sl->seg0;
	} else if (sl->nsegs == sl->asegs) {
		sl->asegs *= 2;
		sl->segs = xrealloc(sl->segs, sl->asegs * sizeof(*sl->segs));
	}
	sl->segs[sl->nsegs++] = s;
}

static void slot_release(struct slot *sl)
{
	json_decref(sl->val);
	if (sl->segs != &sl->seg0)
		free(sl->segs);
}

static int decode_map_entry(struct pctx *c, const struct schema_ref *elem, struct seg entry,
			    int depth, json_t *obj)
{
	struct pbuf b = { entry.p, entry.p + entry.n };
	struct seg key = { (const uint8_t *)"", 0 }, value = { (const uint8_t *)"", 0 };
	json_t *v = NULL;
	bool zero;
	int num, wt, r = 0;

	while (b.p < b.end) {
		r = read_key(c, &b, &num, &wt);
		if (r < 0)
			goto out;
		if (num == 1 && wt == WT_LEN) {
			r = read_len(c, &b, &key);
		} else if (num == 2 && is_message_kind(elem->kind)) {
			if (wt != WT_LEN) {
				r = fail(c, "map value has wire type %s", wire_name(wt));
				goto out;
			}
			r = read_len(c, &b, &value);
		} else if (num == 2) {
			if (wt != scalar_wire_type(elem->kind)) {
				r = fail(c, "map value has wire type %s", wire_name(wt));
				goto out;
			}
			json_decref(v);
			v = NULL;
			r = decode_scalar(c, elem->kind, &b, &v, &zero);
		} else if (num == 1) {
			r = fail(c, "map key has wire type %s", wire_name(wt));
		} else {
			r = skip_value(c, &b, wt);
		}
		if (r < 0)
			goto out;
	}
	/* A missing value is the zero value: an empty message decodes to it. */
	if (is_message_kind(elem->kind)) {
		r = decode_message(c, elem, &value, 1, depth + 1, &v);
		if (r < 0)
			goto out;
		if (!v)
			v = json_null();
	} else if (!v) {
		switch (elem->kind) {
		case SK_STRING:
		case SK_BYTES:
			v = json_string("");
			break;
		case SK_BOOL:
			v = json_false();
			break;
		case SK_DOUBLE:
			v = json_real(0);
			break;
		default:
			v = json_integer(0);
			break;
		}
	}

	if (memchr(key.p, 0, key.n)) {
		r = fail(c, "map key contains a NUL byte");
		goto out;
	}
	size_t i = 0;
	while (i < key.n && key.p[i] < 0x80)
		i++;
	if (i == key.n) {
		json_object_setn_new_nocheck(obj, (const char *)key.p, key.n, v);
	} else {
		struct strbuf sb = STRBUF_INIT;
		add_utf8_lossy(&sb, key.p, key.n);
		json_object_setn_new_nocheck(obj, strbuf_str(&sb), sb.len, v);
		strbuf_release(&sb);
	}
	return 0;
out:
	json_decref(v);
	return r;
}

/* Read one occurrence of field f into its slot. */
static int decode_field(struct pctx *c, const struct schema_field *f, struct slot *sl, int wt,
			struct pbuf *b, int depth)
{
	const struct schema_ref *ref = &f->ref;
	json_t *v = NULL;
	struct seg s;
	bool zero;
	int r;

	if (ref->kind == SK_LIST) {
		const struct schema_ref *elem = ref->elem;
		int ewt = is_message_kind(elem->kind) ? WT_LEN : scalar_wire_type(elem->kind);
		if (!sl->val)
			sl->val = json_array();
		if (wt == WT_LEN && ewt != WT_LEN) {
			/* Packed repeated scalars. */
			r = read_len(c, b, &s);
			if (r < 0)
				return r;
			struct pbuf pb = { s.p, s.p + s.n };
			while (pb.p < pb.end) {
				r = decode_scalar(c, elem->kind, &pb, &v, &zero);
				if (r < 0)
					return r;
				json_array_append_new(sl->val, v);
			}
			return 0;
		}
		if (wt != ewt)
			return fail(c, "wire type %s for a list of %s", wire_name(wt),
				    wire_name(ewt));
		if (!is_message_kind(elem->kind)) {
			r = decode_scalar(c, elem->kind, b, &v, &zero);
			if (r < 0)
				return r;
		} else {
			r = read_len(c, b, &s);
			if (r < 0)
				return r;
			r = decode_message(c, elem, &s, 1, depth + 1, &v);
			if (r < 0)
				return r;
			if (!v)
				v = json_null();
		}
		json_array_append_new(sl->val, v);
		return 0;
	}

	if (ref->kind == SK_MAP) {
		if (wt != WT_LEN)
			return fail(c, "wire type %s for a map", wire_name(wt));
		r = read_len(c, b, &s);
		if (r < 0)
			return r;
		if (!sl->val)
			sl->val = json_object();
		return decode_map_entry(c, ref->elem, s, depth, sl->val);
	}

	if (is_message_kind(ref->kind)) {
		if (wt != WT_LEN)
			return fail(c, "wire type %s for a message", wire_name(wt));
		r = read_len(c, b, &s);
		if (r < 0)
			return r;
		slot_add_seg(sl, s);
		return 0;
	}

	if (wt != scalar_wire_type(ref->kind))
		return fail(c, "wire type %s for a %s", wire_name(wt),
			    wire_name(scalar_wire_type(ref->kind)));
	r = decode_scalar(c, ref->kind, b, &v, &zero);
	if (r < 0)
		return r;
	json_decref(sl->val);
	sl->val = v;
	if (zero && !(f->flags & SF_OPTIONAL)) {
		/* A Go value field holding its zero value: omitted. */
		json_decref(sl->val);
		sl->val = NULL;
	}
	return 0;
}

static void place_error(struct pctx *c, const char *type_name, const char *field)
{
	if (!c->err || c->err_placed)
		return;
	char *e = xasprintf("%s (in %s.%s)", c->err, type_name, field);
	free(c->err);
	c->err = e;
	c->err_placed = true;
}

static int decode_struct(struct pctx *c, const struct schema_type *t, const struct seg *segs,
			 size_t nsegs, int depth, json_t **ret)
{
	struct slot *slots = xnew(struct slot, t->nfields ? t->nfields : 1);
	int r = 0;

	for (size_t i = 0; i < nsegs && r >= 0; i++) {
		struct pbuf b = { segs[i].p, segs[i].p + segs[i].n };
		while (b.p < b.end) {
			int num, wt;
			r = read_key(c, &b, &num, &wt);
			if (r < 0)
				break;
			const struct schema_field *f = schema_field_by_proto(t, num);
			if (!f) {
				r = skip_value(c, &b, wt);
				if (r < 0)
					break;
				continue;
			}
			r = decode_field(c, f, &slots[f - t->fields], wt, &b, depth);
			if (r < 0) {
				place_error(c, t->go_name, f->name);
				break;
			}
		}
	}

	for (size_t i = 0; i < t->nfields && r >= 0; i++) {
		struct slot *sl = &slots[i];
		if (!sl->nsegs)
			continue;
		r = decode_message(c, &t->fields[i].ref, sl->segs, sl->nsegs, depth + 1, &sl->val);
		if (r < 0)
			place_error(c, t->go_name, t->fields[i].name);
	}

	json_t *obj = NULL;
	if (r >= 0) {
		obj = json_object();
		for (size_t i = 0; i < t->nfields; i++) {
			json_t *v = slots[i].val;
			if (!v || json_is_null(v))
				continue;
			if (t->fields[i].flags & SF_INLINE) {
				/* An embedded struct: its fields belong to this object. */
				if (json_is_object(v))
					json_object_update(obj, v);
				continue;
			}
			json_object_set_new_nocheck(obj, t->fields[i].name, v);
			slots[i].val = NULL;
		}
	}
	for (size_t i = 0; i < t->nfields; i++)
		slot_release(&slots[i]);
	free(slots);
	if (r >= 0)
		*ret = obj;
	return r;
}

/* Iterate the fields of the segments of a small well-known message. */
struct msg_iter {
	const struct seg *segs;
	size_t nsegs, i;
	struct pbuf b;
};

static int msg_next(struct pctx *c, struct msg_iter *it, int *ret_num, int *ret_wt)
{
	while (it->b.p >= it->b.end) {
		if (it->i == it->nsegs)
			return 0;
		it->b = (struct pbuf){ it->segs[it->i].p, it->segs[it->i].p + it->segs[it->i].n };
		it->i++;
	}
	int r = read_key(c, &it->b, ret_num, ret_wt);
	return r < 0 ? r : 1;
}

static int msg_varint(struct pctx *c, struct msg_iter *it, int wt, uint64_t *ret)
{
	if (wt != WT_VARINT)
		return fail(c, "wire type %s for a varint", wire_name(wt));
	return read_varint(c, &it->b, ret);
}

static int msg_bytes(struct pctx *c, struct msg_iter *it, int wt, struct seg *ret)
{
	if (wt != WT_LEN)
		return fail(c, "wire type %s for a string", wire_name(wt));
	return read_len(c, &it->b, ret);
}

static int decode_time(struct pctx *c, struct msg_iter *it, bool micro, json_t **ret)
{
	int64_t sec = 0;
	int32_t nanos = 0;
	uint64_t v = 0;
	int num, wt, r;

	while ((r = msg_next(c, it, &num, &wt)) > 0) {
		if (num == 1 || num == 2) {
			r = msg_varint(c, it, wt, &v);
			if (num == 1)
				sec = (int64_t)v;
			else
				nanos = (int32_t)(uint32_t)v;
		} else {
			r = skip_value(c, &it->b, wt);
		}
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	/* An empty message (what Go sends for the zero time) is unset. */
	bool zero = sec == 0 && nanos == 0;
	int32_t micros = 0;
	if (micro) {
		/* MicroTime keeps microseconds; nanos may be out of range. */
		int64_t carry = nanos / 1000000000;
		nanos %= 1000000000;
		if (nanos < 0) {
			nanos += 1000000000;
			carry--;
		}
		if (__builtin_add_overflow(sec, carry, &sec))
			return fail(c, "time out of range");
		micros = nanos / 1000;
	}
	/* metav1.Time keeps whole seconds only. Go's zero time is 0001-01-01. */
	if (zero || (sec == -62135596800 && micros == 0)) {
		*ret = json_null();
		return 0;
	}
	*ret = time_value(sec, micros, micro);
	return 0;
}

static int decode_duration(struct pctx *c, struct msg_iter *it, json_t **ret)
{
	uint64_t d = 0;
	int num, wt, r;

	while ((r = msg_next(c, it, &num, &wt)) > 0) {
		r = num == 1 ? msg_varint(c, it, wt, &d) : skip_value(c, &it->b, wt);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	*ret = duration_value((int64_t)d);
	return 0;
}

static int decode_quantity(struct pctx *c, struct msg_iter *it, json_t **ret)
{
	struct seg s = { (const uint8_t *)"0", 1 };
	int num, wt, r;

	while ((r = msg_next(c, it, &num, &wt)) > 0) {
		r = num == 1 ? msg_bytes(c, it, wt, &s) : skip_value(c, &it->b, wt);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	const char *err = schema__quantity_error((const char *)s.p, s.n);
	if (err)
		return fail(c, "%s", err);
	*ret = json_stringn((const char *)s.p, s.n);
	return 0;
}

static int decode_intorstring(struct pctx *c, struct msg_iter *it, json_t **ret)
{
	uint64_t type = 0, ival = 0;
	struct seg sval = { (const uint8_t *)"", 0 };
	int num, wt, r;

	while ((r = msg_next(c, it, &num, &wt)) > 0) {
		if (num == 1)
			r = msg_varint(c, it, wt, &type);
		else if (num == 2)
			r = msg_varint(c, it, wt, &ival);
		else if (num == 3)
			r = msg_bytes(c, it, wt, &sval);
		else
			r = skip_value(c, &it->b, wt);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (type == 0)
		*ret = json_integer((int32_t)(uint32_t)ival);
	else if (type == 1)
		return string_value(c, sval.p, sval.n, ret);
	else
		return fail(c, "IntOrString type %" PRIu64 " is neither 0 (int) nor 1 (string)",
			    type);
	return 0;
}

static int decode_raw_extension(struct pctx *c, struct msg_iter *it, json_t **ret)
{
	struct seg raw = { NULL, 0 };
	int num, wt, r;

	while ((r = msg_next(c, it, &num, &wt)) > 0) {
		r = num == 1 ? msg_bytes(c, it, wt, &raw) : skip_value(c, &it->b, wt);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (raw.n == 0) {
		*ret = json_null();
		return 0;
	}
	json_error_t jerr;
	json_t *v = json_loadb((const char *)raw.p, raw.n, JSON_DECODE_ANY, &jerr);
	*ret = v ? v : bytes_value(raw.p, raw.n);
	return 0;
}

/* A list or map inside a list or map travels in a message {1 repeated}. */
static int decode_wrapped(struct pctx *c, const struct schema_ref *ref, struct msg_iter *it,
			  int depth, json_t **ret)
{
	const struct schema_field f = { .name = "items", .proto = 1, .ref = *ref };
	struct slot sl = { 0 };
	int num, wt, r;

	while ((r = msg_next(c, it, &num, &wt)) > 0) {
		r = num == 1 ? decode_field(c, &f, &sl, wt, &it->b, depth)
			     : skip_value(c, &it->b, wt);
		if (r < 0)
			break;
	}
	if (r >= 0 && !sl.val)
		sl.val = ref->kind == SK_LIST ? json_array() : json_object();
	if (r >= 0)
		*ret = TAKE_PTR(sl.val);
	slot_release(&sl);
	return r;
}

/* Decode a message-kind value from all its occurrences. *ret is replaced;
 * json null means "unset" (a zero time, an empty RawExtension). */
static int decode_message(struct pctx *c, const struct schema_ref *ref, const struct seg *segs,
			  size_t nsegs, int depth, json_t **ret)
{
	struct msg_iter it = { .segs = segs, .nsegs = nsegs };
	json_t *v = NULL;
	int r;

	if (depth > MAX_DEPTH)
		return fail(c, "messages nested more than %d deep", MAX_DEPTH);
	switch (ref->kind) {
	case SK_STRUCT:
		r = decode_struct(c, ref->type, segs, nsegs, depth, &v);
		break;
	case SK_TIME:
	case SK_MICROTIME:
		r = decode_time(c, &it, ref->kind == SK_MICROTIME, &v);
		break;
	case SK_DURATION:
		r = decode_duration(c, &it, &v);
		break;
	case SK_QUANTITY:
		r = decode_quantity(c, &it, &v);
		break;
	case SK_INTORSTRING:
		r = decode_intorstring(c, &it, &v);
		break;
	case SK_FREEFORM:
		r = decode_raw_extension(c, &it, &v);
		break;
	case SK_LIST:
	case SK_MAP:
		r = decode_wrapped(c, ref, &it, depth, &v);
		break;
	default:
		return fail(c, "not a message");
	}
	if (r < 0)
		return r;
	json_decref(*ret);
	*ret = v;
	return 0;
}

int schema_proto_decode(const struct schema_type *t, const uint8_t *buf, size_t len, json_t **ret,
			char **ret_err)
{
	struct pctx c = { 0 };
	struct seg s = { buf ? buf : (const uint8_t *)"", buf ? len : 0 };
	json_t *obj = NULL;

	int r = decode_struct(&c, t, &s, 1, 0, &obj);
	if (r < 0) {
		if (ret_err)
			*ret_err = TAKE_PTR(c.err);
		free(c.err);
		return r;
	}
	*ret = obj;
	return 0;
}

/* ---- envelope ---- */

static int envelope_string(struct seg s, char **ret)
{
	if (memchr(s.p, 0, s.n))
		return -EINVAL;
	free(*ret);
	*ret = xstrndup((const char *)s.p, s.n);
	return 0;
}

int k8s_protobuf_unwrap(const void *buf, size_t len, char **ret_api_version, char **ret_kind,
			const uint8_t **ret_raw, size_t *ret_raw_len)
{
	struct pctx c = { 0 };
	_cleanup_free_ char *api_version = NULL, *kind = NULL;
	struct seg raw = { NULL, 0 }, encoding = { NULL, 0 }, s;
	int num, wt, r = 0;

	if (!buf || len < 4 || memcmp(buf, "k8s\0", 4) != 0)
		return -EINVAL;
	struct pbuf b = { (const uint8_t *)buf + 4, (const uint8_t *)buf + len };
	while (b.p < b.end && r >= 0) {
		r = read_key(&c, &b, &num, &wt);
		if (r < 0)
			break;
		if (num < 1 || num > 4) {
			r = skip_value(&c, &b, wt);
			continue;
		}
		if (wt != WT_LEN) {
			r = -EINVAL;
			break;
		}
		r = read_len(&c, &b, &s);
		if (r < 0)
			break;
		if (num == 2)
			raw = s;
		else if (num == 3)
			encoding = s;
		else if (num == 1) {
			/* TypeMeta {1 apiVersion, 2 kind}; repeated occurrences merge. */
			struct pbuf tb = { s.p, s.p + s.n };
			while (tb.p < tb.end && r >= 0) {
				struct seg v;
				r = read_key(&c, &tb, &num, &wt);
				if (r < 0)
					break;
				if (num != 1 && num != 2) {
					r = skip_value(&c, &tb, wt);
					continue;
				}
				if (wt != WT_LEN) {
					r = -EINVAL;
					break;
				}
				r = read_len(&c, &tb, &v);
				if (r >= 0)
					r = envelope_string(v, num == 1 ? &api_version : &kind);
			}
		}
	}
	free(c.err);
	if (r < 0)
		return -EINVAL;
	if (encoding.n)
		return -EOPNOTSUPP;

	if (ret_api_version)
		*ret_api_version = api_version ? TAKE_PTR(api_version) : xstrdup("");
	if (ret_kind)
		*ret_kind = kind ? TAKE_PTR(kind) : xstrdup("");
	if (ret_raw)
		*ret_raw = raw.p;
	if (ret_raw_len)
		*ret_raw_len = raw.n;
	return 0;
}
