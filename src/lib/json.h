/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers over jansson. Paths are dotted ("metadata.name"); they do not
 * index into arrays. */
#pragma once

#include <jansson.h>

#include "lib/macro.h"

/* json_decrefp comes from jansson itself. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Borrowed reference to the value at path, or NULL. */
json_t *json_get(json_t *o, const char *path);
/* The string at path, or NULL if missing or not a string. Borrowed. */
const char *json_get_str(json_t *o, const char *path);
/* The string at path, or "" (never NULL). Borrowed. */
const char *str_or_empty_json(json_t *o, const char *path);
/* The integer at path, or def. */
int64_t json_get_int(json_t *o, const char *path, int64_t def);
bool json_get_bool(json_t *o, const char *path, bool def);
/* The object at key in o, created empty if missing or not an object. Borrowed. */
json_t *json_object_ensure(json_t *o, const char *key);
/* Set o[key] to a new string / integer (steals nothing). */
void json_set_str(json_t *o, const char *key, const char *v);
void json_set_int(json_t *o, const char *key, int64_t v);
/* Compact serialization in insertion order; never NULL. */
char *json_dump_compact(const json_t *o, size_t *ret_len);
/* Serialize into a strbuf-like growing buffer. */
struct strbuf;
void json_dump_to_strbuf(const json_t *o, struct strbuf *sb);
/* True when o is NULL, json null, "", 0, false, or an empty object/array. */
bool json_is_empty_value(const json_t *o);
/* Where the value of the top-level member key of the JSON object text s
 * (n bytes, already known to be valid JSON) is, as an offset and a length;
 * false if s is not an object or has no such member. Keys with escapes are
 * not matched. */
bool json_text_member(const char *s, size_t n, const char *key, size_t *ret_off, size_t *ret_len);
