/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stored object as the API server's cache keeps it: its serialized JSON
 * (with metadata.resourceVersion filled in) plus the few fields used to
 * filter it (namespace, name, packed labels, the resource's selectable
 * fields), all in one allocation. Objects are immutable once built and
 * reference-counted; one object is shared by the cache, every watcher queue
 * and every response that sends it.
 */
#pragma once

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lib/macro.h"

struct resource;
struct label_selector;
struct field_selector;

struct obj {
	atomic_uint ref;
	uint32_t len; /* JSON length */
	int64_t rev;
	int64_t create_rev;
	const struct resource *res; /* the storage resource */
	uint32_t key_off, ns_len, labels_off, fields_off;
	char data[]; /* JSON \0 key \0 labels... \0 field0 \0 field1 \0 ... */
};

/* Build from a decoded object: sets metadata.resourceVersion to rev in json
 * (modifies it) and serializes it. key is "ns/name" or "name". */
struct obj *obj_new(const struct resource *res, const char *key, json_t *json, int64_t rev,
		    int64_t create_rev);
/* Build from bytes that are this object serialized WITHOUT a
 * metadata.resourceVersion (as the API server stores them): the revision is
 * spliced into the text, json only supplies the indexed fields. NULL if the
 * bytes are not an object with a metadata object. */
struct obj *obj_new_spliced(const struct resource *res, const char *key, json_t *json,
			    const char *bytes, size_t len, int64_t rev, int64_t create_rev);
/* Parse bytes as stored, then obj_new. NULL if they are not a JSON object. */
struct obj *obj_new_from_bytes(const struct resource *res, const char *key, const void *bytes,
			       size_t len, int64_t rev, int64_t create_rev);
struct obj *obj_ref(struct obj *o);
void obj_unref(struct obj *o);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct obj *, obj_unref)
#define _cleanup_obj_ _cleanup_(obj_unrefp)

static inline const char *obj_json(const struct obj *o)
{
	return o->data;
}
static inline const char *obj_key(const struct obj *o)
{
	return o->data + o->key_off;
}
/* Namespace ("" for cluster-scoped objects); not NUL-terminated at ns_len,
 * use obj_ns_eq(). */
bool obj_ns_eq(const struct obj *o, const char *ns);
const char *obj_name(const struct obj *o);
static inline const char *obj_labels(const struct obj *o)
{
	return o->data + o->labels_off;
}
/* Value of the resource's i-th selectable field ("" when absent). */
const char *obj_field(const struct obj *o, size_t i);
/* Parse the JSON back (a new reference). */
json_t *obj_parse(const struct obj *o);

/* What a list or watch asks for. */
struct obj_filter {
	const char *ns;	  /* NULL: all namespaces */
	const char *name; /* NULL: any */
	const struct label_selector *labels;
	const struct field_selector *fields;
};

bool obj_filter_match(const struct obj_filter *f, const struct obj *o);
