/* SPDX-License-Identifier: Apache-2.0 */
#include "lib/json.h"
#include "lib/strbuf.h"

json_t *json_get(json_t *o, const char *path)
{
	char part[256];
	const char *p = path;

	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(part) || !json_is_object(o))
			return NULL;
		memcpy(part, p, n);
		part[n] = 0;
		o = json_object_get(o, part);
		p += n + (dot ? 1 : 0);
	}
	return o;
}

const char *json_get_str(json_t *o, const char *path)
{
	json_t *v = json_get(o, path);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *str_or_empty_json(json_t *o, const char *path)
{
	const char *s = json_get_str(o, path);
	return s ? s : "";
}

int64_t json_get_int(json_t *o, const char *path, int64_t def)
{
	json_t *v = json_get(o, path);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

bool json_get_bool(json_t *o, const char *path, bool def)
{
	json_t *v = json_get(o, path);
	return json_is_boolean(v) ? json_is_true(v) : def;
}

json_t *json_object_ensure(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_object(v))
		return v;
	v = json_object();
	json_object_set_new(o, key, v);
	return v;
}

void json_set_str(json_t *o, const char *key, const char *v)
{
	json_object_set_new(o, key, json_string(v));
}

void json_set_int(json_t *o, const char *key, int64_t v)
{
	json_object_set_new(o, key, json_integer(v));
}

void json_dump_to_strbuf(const json_t *o, struct strbuf *sb)
{
	/* Straight into the buffer; a second pass only when it was too small. */
	strbuf_grow(sb, 1024);
	size_t avail = sb->alloc - sb->len - 1;
	size_t need = json_dumpb(o, sb->buf + sb->len, avail, JSON_COMPACT | JSON_ENCODE_ANY);
	if (need > avail) {
		strbuf_grow(sb, need);
		need = json_dumpb(o, sb->buf + sb->len, need, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	sb->len += need;
	sb->buf[sb->len] = 0;
}

char *json_dump_compact(const json_t *o, size_t *ret_len)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_grow(&sb, 512);
	json_dump_to_strbuf(o, &sb);
	return strbuf_detach(&sb, ret_len);
}

bool json_is_empty_value(const json_t *o)
{
	if (!o || json_is_null(o) || json_is_false(o))
		return true;
	if (json_is_string(o))
		return json_string_length(o) == 0;
	if (json_is_integer(o))
		return json_integer_value(o) == 0;
	if (json_is_real(o))
		return json_real_value(o) == 0;
	if (json_is_object(o))
		return json_object_size(o) == 0;
	if (json_is_array(o))
		return json_array_size(o) == 0;
	return false;
}

/* ---- scanning JSON text without parsing it ---- */

static size_t text_skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'))
		i++;
	return i;
}

/* Index just past the string starting at s[i] (a quote). */
static size_t text_skip_string(const char *s, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			return i + 1;
	}
	return n;
}

/* Index just past the value starting at s[i]. */
static size_t text_skip_value(const char *s, size_t n, size_t i)
{
	if (i < n && s[i] == '"')
		return text_skip_string(s, n, i);
	int depth = 0;
	for (; i < n; i++) {
		char c = s[i];
		if (c == '"') {
			i = text_skip_string(s, n, i) - 1;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (depth == 0)
				return i;
			if (--depth == 0)
				return i + 1;
		} else if (depth == 0 &&
			   (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r')) {
			return i;
		}
	}
	return n;
}

bool json_text_member(const char *s, size_t n, const char *key, size_t *ret_off, size_t *ret_len)
{
	size_t klen = strlen(key);
	size_t i = text_skip_ws(s, n, 0);
	if (i >= n || s[i] != '{')
		return false;
	for (i++;;) {
		i = text_skip_ws(s, n, i);
		if (i >= n || s[i] != '"')
			return false;
		size_t kstart = i + 1, kend = text_skip_string(s, n, i);
		bool match = kend - kstart == klen + 1 && memcmp(s + kstart, key, klen) == 0;
		i = text_skip_ws(s, n, kend);
		if (i >= n || s[i] != ':')
			return false;
		i = text_skip_ws(s, n, i + 1);
		size_t end = text_skip_value(s, n, i);
		size_t next = text_skip_ws(s, n, end);
		/* A value ends where the object goes on or closes. */
		if (end <= i || next >= n || (s[next] != ',' && s[next] != '}'))
			return false;
		if (match) {
			*ret_off = i;
			*ret_len = end - i;
			return true;
		}
		if (s[next] != ',')
			return false;
		i = next + 1;
	}
}
