/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>

#include "apiserver/obj.h"
#include "apiserver/resource.h"
#include "lib/json.h"
#include "lib/selector.h"
#include "lib/strbuf.h"

struct obj *obj_new(const struct resource *res, const char *key, json_t *json, int64_t rev,
		    int64_t create_rev)
{
	char rv[24];
	size_t nf = resource_nfields(res);
	const char *fvals[16] = { 0 };
	size_t labels_len, key_len = strlen(key);
	struct strbuf sb = STRBUF_INIT;

	snprintf(rv, sizeof(rv), "%lld", (long long)rev);
	json_set_str(json_object_ensure(json, "metadata"), "resourceVersion", rv);
	_cleanup_free_ char *labels =
		packed_labels_from_json(json_get(json, "metadata.labels"), &labels_len);
	assert(nf <= ARRAY_SIZE(fvals));
	if (nf && res->get_fields)
		res->get_fields(json, fvals);

	strbuf_grow(&sb, 1024);
	strbuf_add(&sb, "", 0);
	sb.len = offsetof(struct obj, data); /* header space, filled below */
	json_dump_to_strbuf(json, &sb);
	size_t json_len = sb.len - offsetof(struct obj, data);
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
