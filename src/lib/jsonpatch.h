/* SPDX-License-Identifier: Apache-2.0 */
/* JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) over jansson. */
#pragma once

#include <jansson.h>

/*
 * Apply an RFC 6902 patch (a JSON array of operations: add, remove, replace,
 * move, copy, test) to *doc in place. Operations apply in order and the
 * patch is atomic: on any failure *doc is left unchanged.
 * Returns 0, or:
 *   -EINVAL  the patch is malformed (not an array, unknown op, missing
 *            "path"/"value"/"from", bad JSON pointer, bad array index) or a
 *            "test" failed                               (API: 400 BadRequest)
 *   -ENOENT  a path that must exist does not            (API: 422)
 * and sets *ret_err to a message such as
 *   "replace operation does not apply: doc is missing key: /spec/foo".
 * JSON pointers use ~0 and ~1 escapes; "-" appends to an array.
 */
int json_patch_apply(json_t **doc, json_t *patch, char **ret_err);

/* RFC 7386: returns the merged document (a new reference); target and patch
 * are not modified. null values delete keys; non-object patch replaces. */
json_t *json_merge_patch(json_t *target, json_t *patch);
