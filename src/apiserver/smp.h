/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strategic merge patch: a JSON merge patch that merges lists of objects by
 * their merge key (from the type description) and honours the directives
 * $patch (replace, delete, merge), $retainKeys, $setElementOrder/<list> and
 * $deleteFromPrimitiveList/<list>.
 */
#pragma once

#include <jansson.h>

struct schema_type;

/* Apply patch to base (neither is modified); *ret is a new reference.
 * t may be NULL (then lists are replaced, as in a merge patch).
 * -EINVAL with *ret_err when the patch is malformed. */
int smp_apply(const struct schema_type *t, json_t *base, json_t *patch, json_t **ret,
	      char **ret_err);
