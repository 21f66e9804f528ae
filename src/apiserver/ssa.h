/* SPDX-License-Identifier: Apache-2.0 */
/* Server-side apply and field ownership (metadata.managedFields). */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "apiserver/status.h"

struct schema_type;

struct ssa_request {
	const char *manager;
	const char *api_version;
	const char *subresource; /* NULL or "status" */
	bool force;
	int64_t now_usec;
};

/* The field set (FieldsV1) of obj of type t: the main resource's fields, or
 * only status when status is true. A new reference. */
json_t *ssa_fieldset(const struct schema_type *t, json_t *obj, bool status);

/* Apply config over live (NULL to create). On success *ret is the new
 * object with managedFields updated; on conflict (without force) returns
 * -EBUSY with err set to a 409 Conflict naming the fields and managers. */
int ssa_apply(const struct schema_type *t, json_t *live, json_t *config,
	      const struct ssa_request *req, json_t **ret, struct api_error *err);

/* Record a non-apply write (operation Update) of obj over old: the manager
 * takes the fields it changed. Only objects that already have managed
 * fields are tracked; the stored managedFields cannot be overwritten by a
 * client's update. */
void ssa_track_update(const struct schema_type *t, json_t *old, json_t *obj,
		      const struct ssa_request *req);
