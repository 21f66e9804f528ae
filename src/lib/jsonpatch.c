/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 6902 JSON Patch and RFC 7386 JSON Merge Patch.
 *
 * json_patch_apply() works on a deep copy of the document and swaps it in
 * only when every operation succeeded. Values taken from the patch are deep
 * copied too, so the result never shares mutable nodes with the patch.
 *
 * Error classes (see jsonpatch.h): a malformed patch, a bad pointer, an
 * array index that is not a valid position for the operation, or a failed
 * "test" give -EINVAL; a path whose object key or parent container does not
 * exist gives -ENOENT.
 */
#include "lib/jsonpatch.h"
#include "lib/macro.h"
#include "lib/strbuf.h"

/* A decoded JSON pointer: tokens with ~0/~1 unescaped (may contain NULs). */
struct pointer {
	char **tok;
	size_t *len;
	size_t n;
};

static void pointer_release(struct pointer *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->tok[i]);
	free(p->tok);
	free(p->len);
	*p = (struct pointer){ 0 };
}

static int pointer_parse(const char *s, size_t slen, struct pointer *ret)
{
	struct pointer p = { 0 };
	size_t i = 0;

	if (slen > 0 && s[0] != '/')
		return -EINVAL;
	while (i < slen) {
		struct strbuf sb = STRBUF_INIT;
		strbuf_addstr(&sb, "");
		for (i++; i < slen && s[i] != '/'; i++) {
			if (s[i] == '~') {
				if (i + 1 >= slen || (s[i + 1] != '0' && s[i + 1] != '1')) {
					strbuf_release(&sb);
					pointer_release(&p);
					return -EINVAL;
				}
				strbuf_addch(&sb, s[++i] == '0' ? '~' : '/');
			} else {
				strbuf_addch(&sb, s[i]);
			}
		}
		p.tok = xrealloc(p.tok, (p.n + 1) * sizeof(*p.tok));
		p.len = xrealloc(p.len, (p.n + 1) * sizeof(*p.len));
		p.len[p.n] = sb.len;
		p.tok[p.n++] = strbuf_detach(&sb, NULL);
	}
	*ret = p;
	return 0;
}

/* RFC 6901 array index: "0" or [1-9][0-9]*. */
static bool parse_index(const char *t, size_t n, size_t *ret)
{
	size_t v = 0;

	if (n == 0 || (n > 1 && t[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return false;
		if (v > (SIZE_MAX - 9) / 10)
			return false;
		v = v * 10 + (size_t)(t[i] - '0');
	}
	*ret = v;
	return true;
}

/* The child of c named by token i, or NULL. */
static json_t *child(json_t *c, const struct pointer *p, size_t i)
{
	size_t idx;

	if (json_is_object(c))
		return json_object_getn(c, p->tok[i], p->len[i]);
	if (json_is_array(c) && parse_index(p->tok[i], p->len[i], &idx))
		return json_array_get(c, idx);
	return NULL;
}

/* The container holding the last token of p, or NULL if the path to it does
 * not exist. p must have at least one token. */
static json_t *resolve_parent(json_t *doc, const struct pointer *p)
{
	for (size_t i = 0; doc && i + 1 < p->n; i++)
		doc = child(doc, p, i);
	return doc;
}

static json_t *resolve(json_t *doc, const struct pointer *p)
{
	if (p->n == 0)
		return doc;
	json_t *parent = resolve_parent(doc, p);
	return parent ? child(parent, p, p->n - 1) : NULL;
}

/* Deep equality where numbers compare by value (1 equals 1.0), as they do
 * in JSON itself. */
static bool values_equal(json_t *a, json_t *b)
{
	if (json_is_number(a) && json_is_number(b) && json_typeof(a) != json_typeof(b))
		return json_number_value(a) == json_number_value(b);
	if (json_typeof(a) != json_typeof(b))
		return false;
	if (json_is_object(a)) {
		const char *key;
		size_t key_len;
		json_t *va;
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_keylen_foreach(a, key, key_len, va)
		{
			json_t *vb = json_object_getn(b, key, key_len);
			if (!vb || !values_equal(va, vb))
				return false;
		}
		return true;
	}
	if (json_is_array(a)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!values_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	return json_equal(a, b);
}

struct op_ctx {
	const char *name; /* "add", "remove", ... */
	char **err;
};

static _printf_(3, 4) int fail(const struct op_ctx *c, int r, const char *fmt, ...)
{
	va_list ap;
	struct strbuf sb = STRBUF_INIT;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	*c->err = strbuf_detach(&sb, NULL);
	return r;
}

/* Put value (stolen) at p. Object keys are created or overwritten; array
 * positions insert, "-" appends. what names the path in messages. */
static int put(const struct op_ctx *c, json_t **doc, const struct pointer *p, json_t *value,
	       const char *what, const char *path)
{
	size_t idx;

	if (p->n == 0) {
		json_decref(*doc);
		*doc = value;
		return 0;
	}
	json_t *parent = resolve_parent(*doc, p);
	const char *t = p->tok[p->n - 1];
	size_t tlen = p->len[p->n - 1];
	if (json_is_object(parent)) {
		json_object_setn_new(parent, t, tlen, value);
		return 0;
	}
	if (json_is_array(parent)) {
		size_t size = json_array_size(parent);
		if (tlen == 1 && t[0] == '-') {
			json_array_append_new(parent, value);
			return 0;
		}
		if (!parse_index(t, tlen, &idx) || idx > size) {
			json_decref(value);
			return fail(c, -EINVAL,
				    "%s operation does not apply: invalid array index for an array "
				    "of %zu elements: %s",
				    c->name, size, path);
		}
		json_array_insert_new(parent, idx, value);
		return 0;
	}
	json_decref(value);
	return fail(c, -ENOENT, "%s operation does not apply: doc is missing %s: %s", c->name, what,
		    path);
}

/* Remove the value at p, handing it to *ret_value (new reference) if asked. */
static int take(const struct op_ctx *c, json_t *doc, const struct pointer *p, json_t **ret_value,
		const char *what, const char *path)
{
	size_t idx;

	if (p->n == 0)
		return fail(c, -EINVAL, "%s operation does not apply: cannot remove the document",
			    c->name);
	json_t *parent = resolve_parent(doc, p);
	const char *t = p->tok[p->n - 1];
	size_t tlen = p->len[p->n - 1];
	if (json_is_object(parent)) {
		json_t *v = json_object_getn(parent, t, tlen);
		if (v) {
			if (ret_value)
				*ret_value = json_incref(v);
			json_object_deln(parent, t, tlen);
			return 0;
		}
	} else if (json_is_array(parent)) {
		size_t size = json_array_size(parent);
		if (!parse_index(t, tlen, &idx) || idx >= size)
			return fail(c, -EINVAL,
				    "%s operation does not apply: invalid array index for an array "
				    "of %zu elements: %s",
				    c->name, size, path);
		if (ret_value)
			*ret_value = json_incref(json_array_get(parent, idx));
		json_array_remove(parent, idx);
		return 0;
	}
	return fail(c, -ENOENT, "%s operation does not apply: doc is missing %s: %s", c->name, what,
		    path);
}

/* Pointer-valued member of an operation ("path" or "from"). */
static int op_pointer(const struct op_ctx *c, json_t *op, const char *member, struct pointer *ret,
		      const char **ret_str)
{
	json_t *j = json_object_get(op, member);
	if (!json_is_string(j))
		return fail(c, -EINVAL, "%s operation is missing a string \"%s\"", c->name, member);
	*ret_str = json_string_value(j);
	if (pointer_parse(json_string_value(j), json_string_length(j), ret) < 0)
		return fail(c, -EINVAL, "%s operation has an invalid JSON pointer in \"%s\": %s",
			    c->name, member, json_string_value(j));
	return 0;
}

/* True when a is a proper prefix of b (b lies inside the value a names). */
static bool pointer_is_proper_prefix(const struct pointer *a, const struct pointer *b)
{
	if (a->n >= b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->len[i] != b->len[i] || memcmp(a->tok[i], b->tok[i], a->len[i]))
			return false;
	return true;
}

static bool pointer_equal(const struct pointer *a, const struct pointer *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->len[i] != b->len[i] || memcmp(a->tok[i], b->tok[i], a->len[i]))
			return false;
	return true;
}

static int apply_one(json_t **doc, json_t *op, size_t idx, char **ret_err)
{
	_cleanup_(pointer_release) struct pointer path = { 0 }, from = { 0 };
	struct op_ctx c = { .name = "patch", .err = ret_err };
	const char *path_str = NULL, *from_str = NULL;
	int r;

	if (!json_is_object(op))
		return fail(&c, -EINVAL, "invalid patch: operation %zu is not a JSON object", idx);
	const char *name = json_string_value(json_object_get(op, "op"));
	if (!name)
		return fail(&c, -EINVAL, "invalid patch: operation %zu has no string \"op\"", idx);
	if (!streq(name, "add") && !streq(name, "remove") && !streq(name, "replace") &&
	    !streq(name, "move") && !streq(name, "copy") && !streq(name, "test"))
		return fail(&c, -EINVAL, "invalid patch: operation %zu has unknown op \"%s\"", idx,
			    name);
	c.name = name;

	r = op_pointer(&c, op, "path", &path, &path_str);
	if (r < 0)
		return r;

	json_t *value = NULL;
	if (streq(name, "add") || streq(name, "replace") || streq(name, "test")) {
		value = json_object_get(op, "value");
		if (!value)
			return fail(&c, -EINVAL, "%s operation is missing \"value\"", name);
	}
	if (streq(name, "move") || streq(name, "copy")) {
		r = op_pointer(&c, op, "from", &from, &from_str);
		if (r < 0)
			return r;
	}

	if (streq(name, "add"))
		return put(&c, doc, &path, json_deep_copy(value), "path", path_str);

	if (streq(name, "remove"))
		return take(&c, *doc, &path, NULL, "path", path_str);

	if (streq(name, "replace")) {
		size_t i;
		if (path.n == 0) {
			json_decref(*doc);
			*doc = json_deep_copy(value);
			return 0;
		}
		/* Replace in place, so an object keeps its key order. */
		json_t *parent = resolve_parent(*doc, &path);
		const char *t = path.tok[path.n - 1];
		size_t tlen = path.len[path.n - 1];
		if (json_is_object(parent)) {
			if (!json_object_getn(parent, t, tlen))
				return fail(
				    &c, -ENOENT,
				    "replace operation does not apply: doc is missing key: %s",
				    path_str);
			json_object_setn_new(parent, t, tlen, json_deep_copy(value));
			return 0;
		}
		if (json_is_array(parent)) {
			if (!parse_index(t, tlen, &i) || i >= json_array_size(parent))
				return fail(&c, -EINVAL,
					    "replace operation does not apply: invalid array index "
					    "for an array of %zu elements: %s",
					    json_array_size(parent), path_str);
			json_array_set_new(parent, i, json_deep_copy(value));
			return 0;
		}
		return fail(&c, -ENOENT,
			    "replace operation does not apply: doc is missing path: %s", path_str);
	}

	if (streq(name, "test")) {
		json_t *cur = resolve(*doc, &path);
		if (!cur)
			return fail(&c, -EINVAL, "test operation failed: doc is missing path: %s",
				    path_str);
		if (!values_equal(cur, value))
			return fail(&c, -EINVAL, "test operation failed: value at %s differs",
				    path_str);
		return 0;
	}

	if (streq(name, "copy")) {
		json_t *v = resolve(*doc, &from);
		if (!v)
			return fail(&c, -ENOENT,
				    "copy operation does not apply: doc is missing from path: %s",
				    from_str);
		return put(&c, doc, &path, json_deep_copy(v), "destination path", path_str);
	}

	/* move */
	if (pointer_is_proper_prefix(&from, &path))
		return fail(&c, -EINVAL,
			    "move operation does not apply: cannot move %s into its own child %s",
			    from_str, path_str);
	if (!resolve(*doc, &from))
		return fail(&c, -ENOENT,
			    "move operation does not apply: doc is missing from path: %s",
			    from_str);
	if (pointer_equal(&from, &path))
		return 0;
	json_t *moved = NULL;
	r = take(&c, *doc, &from, &moved, "from path", from_str);
	if (r < 0)
		return r;
	return put(&c, doc, &path, moved, "destination path", path_str);
}

int json_patch_apply(json_t **doc, json_t *patch, char **ret_err)
{
	_cleanup_free_ char *err = NULL;
	int r = 0;

	if (!json_is_array(patch)) {
		err = xstrdup("invalid patch: a JSON patch must be an array of operations");
		r = -EINVAL;
		goto out;
	}
	json_t *work = *doc ? json_deep_copy(*doc) : NULL;
	for (size_t i = 0; i < json_array_size(patch); i++) {
		r = apply_one(&work, json_array_get(patch, i), i, &err);
		if (r < 0)
			break;
	}
	if (r < 0) {
		json_decref(work);
		goto out;
	}
	json_decref(*doc);
	*doc = work;
out:
	if (r < 0 && ret_err)
		*ret_err = TAKE_PTR(err);
	return r;
}

/* Merge patch into t, which the caller owns exclusively. */
static void merge_into(json_t *t, json_t *patch)
{
	const char *key;
	size_t key_len;
	json_t *v;

	json_object_keylen_foreach(patch, key, key_len, v)
	{
		if (json_is_null(v)) {
			json_object_deln(t, key, key_len);
		} else if (json_is_object(v)) {
			json_t *cur = json_object_getn(t, key, key_len);
			if (!json_is_object(cur)) {
				cur = json_object();
				json_object_setn_new(t, key, key_len, cur);
			}
			merge_into(cur, v);
		} else {
			json_object_setn_new(t, key, key_len, json_deep_copy(v));
		}
	}
}

json_t *json_merge_patch(json_t *target, json_t *patch)
{
	if (!patch)
		return target ? json_deep_copy(target) : json_null();
	if (!json_is_object(patch))
		return json_deep_copy(patch);
	json_t *result = json_is_object(target) ? json_deep_copy(target) : json_object();
	merge_into(result, patch);
	return result;
}
