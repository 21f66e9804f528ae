/* SPDX-License-Identifier: Apache-2.0 */
#include "apiserver/smp.h"
#include "apiserver/schema.h"
#include "lib/json.h"
#include "lib/jsonpatch.h"

#define SET_ORDER_PREFIX	"$setElementOrder/"
#define DELETE_PRIMITIVE_PREFIX "$deleteFromPrimitiveList/"

static int merge_object(const struct schema_type *t, json_t *base, json_t *patch, char **err);

/* Remove directive keys from a value copied in from a patch. */
static json_t *strip_directives(json_t *v)
{
	if (json_is_object(v)) {
		json_t *out = json_object();
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x)
		{
			if (k[0] == '$')
				continue;
			json_object_set_new(out, k, strip_directives(x));
		}
		return out;
	}
	if (json_is_array(v)) {
		json_t *out = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(v, i, x)
		{
			if (json_is_object(x) && json_is_string(json_object_get(x, "$patch")))
				continue;
			json_array_append_new(out, strip_directives(x));
		}
		return out;
	}
	return json_incref(v);
}

static const struct schema_type *elem_struct(const struct schema_field *f)
{
	if (!f)
		return NULL;
	const struct schema_ref *r = &f->ref;
	if ((r->kind == SK_LIST || r->kind == SK_MAP) && r->elem && r->elem->kind == SK_STRUCT)
		return r->elem->type;
	return r->kind == SK_STRUCT ? r->type : NULL;
}

static ssize_t find_by_key(json_t *list, const char *key, json_t *value)
{
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x)
	{
		if (json_is_object(x) && json_equal(json_object_get(x, key), value))
			return (ssize_t)i;
	}
	return -1;
}

static int merge_list(const struct schema_field *f, json_t *base, json_t *patch, json_t **ret,
		      char **err)
{
	const char *key = f->merge_key;
	const struct schema_type *et = elem_struct(f);
	size_t i;
	json_t *item;

	/* {"$patch":"replace"} anywhere in the list replaces it wholesale. */
	json_array_foreach(patch, i, item)
	{
		if (json_is_object(item) &&
		    streq_ptr(json_string_value(json_object_get(item, "$patch")), "replace")) {
			*ret = strip_directives(patch);
			return 0;
		}
	}
	json_t *out = json_is_array(base) ? json_deep_copy(base) : json_array();
	json_array_foreach(patch, i, item)
	{
		if (!json_is_object(item)) {
			/* A primitive list with a merge strategy: union. */
			bool present = false;
			size_t j;
			json_t *x;
			json_array_foreach(out, j, x) present = present || json_equal(x, item);
			if (!present)
				json_array_append(out, item);
			continue;
		}
		json_t *kv = key ? json_object_get(item, key) : NULL;
		const char *directive = json_string_value(json_object_get(item, "$patch"));
		if (!key) {
			json_decref(out);
			*err = xasprintf("%s is a list of values, not of objects", f->name);
			return -EINVAL;
		}
		if (!kv) {
			json_decref(out);
			*err = xasprintf("map: %s does not contain declared merge key: %s", f->name,
					 key);
			return -EINVAL;
		}
		ssize_t at = find_by_key(out, key, kv);
		if (streq_ptr(directive, "delete")) {
			while (at >= 0) {
				json_array_remove(out, (size_t)at);
				at = find_by_key(out, key, kv);
			}
			continue;
		}
		if (directive && !streq(directive, "merge")) {
			json_decref(out);
			*err = xasprintf("unknown patch type: %s in map: %s", directive, f->name);
			return -EINVAL;
		}
		if (at < 0) {
			json_array_append_new(out, strip_directives(item));
			continue;
		}
		json_t *target = json_array_get(out, (size_t)at);
		int r = merge_object(et, target, item, err);
		if (r < 0) {
			json_decref(out);
			return r;
		}
	}
	*ret = out;
	return 0;
}

/* Reorder list items to follow order (a list of key objects or values);
 * items the order does not name keep their relative place at the end. */
static void set_order(json_t *list, json_t *order, const char *key)
{
	if (!json_is_array(list) || !json_is_array(order))
		return;
	json_t *sorted = json_array();
	json_t *rest = json_deep_copy(list);
	size_t i;
	json_t *o;
	json_array_foreach(order, i, o)
	{
		json_t *want = key && json_is_object(o) ? json_object_get(o, key) : o;
		size_t j;
		json_t *x;
		json_array_foreach(rest, j, x)
		{
			json_t *have = key && json_is_object(x) ? json_object_get(x, key) : x;
			if (json_equal(have, want)) {
				json_array_append(sorted, x);
				json_array_remove(rest, j);
				break;
			}
		}
	}
	json_array_extend(sorted, rest);
	json_decref(rest);
	json_array_clear(list);
	json_array_extend(list, sorted);
	json_decref(sorted);
}

static int merge_object(const struct schema_type *t, json_t *base, json_t *patch, char **err)
{
	const char *k;
	json_t *v;
	const char *directive = json_string_value(json_object_get(patch, "$patch"));

	if (streq_ptr(directive, "replace")) {
		json_object_clear(base);
		json_t *s = strip_directives(patch);
		json_object_update(base, s);
		json_decref(s);
		return 0;
	}
	if (directive && !streq(directive, "merge") && !streq(directive, "delete")) {
		*err = xasprintf("unknown patch type: %s", directive);
		return -EINVAL;
	}

	json_t *retain = json_object_get(patch, "$retainKeys");
	if (retain) {
		if (!json_is_array(retain)) {
			*err = xstrdup("$retainKeys must be a list of field names");
			return -EINVAL;
		}
		void *tmp;
		json_object_foreach_safe(base, tmp, k, v)
		{
			bool keep = false;
			size_t i;
			json_t *r;
			json_array_foreach(retain, i, r) keep =
			    keep || streq_ptr(json_string_value(r), k);
			if (!keep)
				json_object_del(base, k);
		}
	}

	json_object_foreach(patch, k, v)
	{
		if (k[0] == '$') {
			if (startswith(k, DELETE_PRIMITIVE_PREFIX)) {
				json_t *list =
				    json_object_get(base, k + strlen(DELETE_PRIMITIVE_PREFIX));
				size_t i;
				json_t *d;
				json_array_foreach(v, i, d)
				{
					size_t j;
					json_t *x;
					json_array_foreach(list, j, x)
					{
						if (json_equal(x, d)) {
							json_array_remove(list, j);
							j--;
						}
					}
				}
			}
			continue;
		}
		const struct schema_field *f = t ? schema_field_by_name(t, k) : NULL;
		json_t *cur = json_object_get(base, k);
		if (json_is_null(v)) {
			json_object_del(base, k);
			continue;
		}
		if (json_is_object(v) &&
		    streq_ptr(json_string_value(json_object_get(v, "$patch")), "delete")) {
			json_object_del(base, k);
			continue;
		}
		if (json_is_object(v) && json_is_object(cur)) {
			const struct schema_type *sub = NULL;
			if (f && f->ref.kind == SK_STRUCT)
				sub = f->ref.type;
			if (f && f->ref.kind == SK_MAP) {
				/* map[T]: merge per key, values of T, unless the
				 * patch replaces the whole map. */
				const char *md = json_string_value(json_object_get(v, "$patch"));
				if (streq_ptr(md, "replace")) {
					json_object_set_new(base, k, strip_directives(v));
					continue;
				}
				if (md && !streq(md, "merge")) {
					*err = xasprintf("unknown patch type: %s", md);
					return -EINVAL;
				}
				const char *mk;
				json_t *mv;
				json_object_foreach(v, mk, mv)
				{
					if (mk[0] == '$')
						continue;
					if (json_is_null(mv)) {
						json_object_del(cur, mk);
					} else if (json_is_object(mv) &&
						   json_is_object(json_object_get(cur, mk))) {
						int r =
						    merge_object(elem_struct(f),
								 json_object_get(cur, mk), mv, err);
						if (r < 0)
							return r;
					} else {
						json_object_set_new(cur, mk, strip_directives(mv));
					}
				}
				continue;
			}
			if (f && f->ref.kind == SK_FREEFORM) {
				json_t *merged = json_merge_patch(cur, v);
				json_object_set_new(base, k, merged);
				continue;
			}
			int r = merge_object(sub, cur, v, err);
			if (r < 0)
				return r;
			continue;
		}
		if (json_is_array(v) && f && f->ref.kind == SK_LIST &&
		    (f->merge_key || (f->flags & SF_MERGE))) {
			json_t *merged;
			int r = merge_list(f, cur, v, &merged, err);
			if (r < 0)
				return r;
			json_object_set_new(base, k, merged);
			continue;
		}
		json_object_set_new(base, k, strip_directives(v));
	}

	/* Orders last, once the lists hold their final items. */
	json_object_foreach(patch, k, v)
	{
		if (!startswith(k, SET_ORDER_PREFIX))
			continue;
		const char *list = k + strlen(SET_ORDER_PREFIX);
		const struct schema_field *f = t ? schema_field_by_name(t, list) : NULL;
		set_order(json_object_get(base, list), v, f ? f->merge_key : NULL);
	}
	return 0;
}

int smp_apply(const struct schema_type *t, json_t *base, json_t *patch, json_t **ret,
	      char **ret_err)
{
	json_t *out = json_is_object(base) ? json_deep_copy(base) : json_object();
	if (!json_is_object(patch)) {
		json_decref(out);
		*ret_err = xstrdup("the patch must be a JSON object");
		return -EINVAL;
	}
	if (streq_ptr(json_string_value(json_object_get(patch, "$patch")), "delete")) {
		json_decref(out);
		*ret_err = xstrdup("a patch may not delete the whole object");
		return -EINVAL;
	}
	int r = merge_object(t, out, patch, ret_err);
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}
