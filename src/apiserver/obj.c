/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>

#include "apiserver/obj.h"
#include "apiserver/resource.h"
#include "lib/json.h"
#include "lib/selector.h"
#include "lib/strbuf.h"

/* Lay out one object: header, JSON (json_len bytes from two pieces), key,
 * labels and fields, in one allocation. */
static struct obj *obj_build(const struct resource *res, const char *key, json_t *json,
			     const char *j1, size_t l1, const char *j2, size_t l2, int64_t rev,
			     int64_t create_rev)
{
	size_t nf = resource_nfields(res);
	const char *fvals[16] = { 0 };
	size_t labels_len, key_len = strlen(key);
	struct strbuf sb = STRBUF_INIT;

	_cleanup_free_ char *labels =
	    packed_labels_from_json(json_get(json, "metadata.labels"), &labels_len);
	assert(nf <= ARRAY_SIZE(fvals));
	if (nf && res->get_fields)
		res->get_fields(json, fvals);
	size_t fields_len = 0;
	for (size_t i = 0; i < nf; i++)
		fields_len += (fvals[i] ? strlen(fvals[i]) : 0) + 1;

	strbuf_grow(&sb, offsetof(struct obj, data) + l1 + l2 + 1 + key_len + 1 + labels_len +
			     fields_len);
	sb.len = offsetof(struct obj, data); /* header space, filled below */
	strbuf_add(&sb, j1, l1);
	strbuf_add(&sb, j2, l2);
	size_t json_len = l1 + l2;
	strbuf_addch(&sb, 0);
	size_t key_off = sb.len - offsetof(struct obj, data);
	strbuf_add(&sb, key, key_len + 1);
	size_t labels_off = sb.len - offsetof(struct obj, data);
	strbuf_add(&sb, labels, labels_len);
	size_t fields_off = sb.len - offsetof(struct obj, data);
	for (size_t i = 0; i < nf; i++) {
		const char *v = fvals[i] ? fvals[i] : "";
		strbuf_add(&sb, v, strlen(v) + 1);
	}

	struct obj *o = (struct obj *)strbuf_detach(&sb, NULL);
	atomic_init(&o->ref, 1);
	o->len = (uint32_t)json_len;
	o->rev = rev;
	o->create_rev = create_rev;
	o->res = res;
	o->key_off = (uint32_t)key_off;
	const char *slash = res->namespaced ? strchr(key, '/') : NULL;
	o->ns_len = slash ? (uint32_t)(slash - key) : 0;
	o->labels_off = (uint32_t)labels_off;
	o->fields_off = (uint32_t)fields_off;
	return o;
}

struct obj *obj_new(const struct resource *res, const char *key, json_t *json, int64_t rev,
		    int64_t create_rev)
{
	char rv[24];
	snprintf(rv, sizeof(rv), "%lld", (long long)rev);
	json_set_str(json_object_ensure(json, "metadata"), "resourceVersion", rv);
	struct strbuf sb = STRBUF_INIT;
	json_dump_to_strbuf(json, &sb);
	struct obj *o = obj_build(res, key, json, sb.buf, sb.len, "", 0, rev, create_rev);
	strbuf_release(&sb);
	return o;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
		i++;
	return i;
}

/* Index just past the closing quote of the string starting at s[i]. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return n;
}

static size_t skip_value(const char *s, size_t n, size_t i)
{
	int depth = 0;
	for (; i < n; i++) {
		char c = s[i];
		if (c == '"') {
			i = skip_string(s, n, i) - 1;
			if (depth == 0)
				return i + 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 && (c == ',')) {
			return i;
		}
	}
	return n;
}

/* Offset just after the '{' opening the top-level "metadata" object, or 0. */
static size_t metadata_open(const char *s, size_t n)
{
	size_t i = skip_ws(s, n, 0);
	if (i >= n || s[i] != '{')
		return 0;
	i++;
	for (;;) {
		i = skip_ws(s, n, i);
		if (i >= n || s[i] != '"')
			return 0;
		size_t kstart = i + 1, kend = skip_string(s, n, i);
		bool is_meta = kend - kstart == 9 && memcmp(s + kstart, "metadata\"", 9) == 0;
		i = skip_ws(s, n, kend);
		if (i >= n || s[i] != ':')
			return 0;
		i = skip_ws(s, n, i + 1);
		if (is_meta)
			return i < n && s[i] == '{' ? i + 1 : 0;
		i = skip_ws(s, n, skip_value(s, n, i));
		if (i >= n || s[i] != ',')
			return 0;
		i++;
	}
}

struct obj *obj_new_spliced(const struct resource *res, const char *key, json_t *json,
			    const char *bytes, size_t len, int64_t rev, int64_t create_rev)
{
	size_t at = metadata_open(bytes, len);
	if (!at)
		return NULL;
	char piece[64];
	size_t after = skip_ws(bytes, len, at);
	bool empty = after < len && bytes[after] == '}';
	int pl = snprintf(piece, sizeof(piece), "\"resourceVersion\":\"%lld\"%s", (long long)rev,
			  empty ? "" : ",");
	/* Three pieces: up to '{', the revision, the rest. */
	struct strbuf sb = STRBUF_INIT;
	strbuf_grow(&sb, len + (size_t)pl);
	strbuf_add(&sb, bytes, at);
	strbuf_add(&sb, piece, (size_t)pl);
	struct obj *o =
	    obj_build(res, key, json, sb.buf, sb.len, bytes + at, len - at, rev, create_rev);
	strbuf_release(&sb);
	return o;
}

struct obj *obj_new_from_bytes(const struct resource *res, const char *key, const void *bytes,
			       size_t len, int64_t rev, int64_t create_rev)
{
	_cleanup_json_ json_t *j = json_loadb(bytes, len, 0, NULL);
	if (!json_is_object(j))
		return NULL;
	return obj_new(res, key, j, rev, create_rev);
}

struct obj *obj_ref(struct obj *o)
{
	if (o)
		atomic_fetch_add_explicit(&o->ref, 1, memory_order_relaxed);
	return o;
}

void obj_unref(struct obj *o)
{
	if (o && atomic_fetch_sub_explicit(&o->ref, 1, memory_order_acq_rel) == 1)
		free(o);
}

bool obj_ns_eq(const struct obj *o, const char *ns)
{
	return strlen(ns) == o->ns_len && memcmp(obj_key(o), ns, o->ns_len) == 0;
}

const char *obj_name(const struct obj *o)
{
	return obj_key(o) + (o->ns_len ? o->ns_len + 1 : 0);
}

const char *obj_field(const struct obj *o, size_t i)
{
	const char *p = o->data + o->fields_off;
	while (i--)
		p += strlen(p) + 1;
	return p;
}

json_t *obj_parse(const struct obj *o)
{
	return json_loadb(o->data, o->len, 0, NULL);
}

static const char *lookup_field(const void *ud, const char *field)
{
	const struct obj *o = ud;
	if (streq(field, "metadata.name"))
		return obj_name(o);
	if (streq(field, "metadata.namespace")) {
		/* ns is not NUL-terminated inside the key; namespaced objects
		 * also keep it as a field when the resource lists it. */
		static __thread char buf[64];
		size_t n = MIN(o->ns_len, sizeof(buf) - 1);
		memcpy(buf, obj_key(o), n);
		buf[n] = 0;
		return buf;
	}
	int i = resource_field_index(o->res, field);
	return i < 0 ? NULL : obj_field(o, (size_t)i);
}

bool obj_filter_match(const struct obj_filter *f, const struct obj *o)
{
	if (f->ns && o->res->namespaced && !obj_ns_eq(o, f->ns))
		return false;
	if (f->name && !streq(obj_name(o), f->name))
		return false;
	if (f->labels && !label_selector_matches(f->labels, obj_labels(o)))
		return false;
	if (f->fields && !field_selector_matches(f->fields, lookup_field, o))
		return false;
	return true;
}
