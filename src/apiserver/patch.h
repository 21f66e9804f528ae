/* SPDX-License-Identifier: Apache-2.0 */
/* PATCH bodies: JSON patch, merge patch, strategic merge patch, apply. */
#pragma once

#include <jansson.h>

struct api_op;

/* Apply the op's patch to base (not modified). A new reference, or NULL with
 * op->err set (400 for a malformed patch, 422 when it does not apply). */
json_t *patch_apply(struct api_op *op, json_t *base, json_t *patch);
/* Server-side apply to a missing object: create it from the patch. */
int patch_apply_create(struct api_op *op);
