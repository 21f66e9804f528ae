/* SPDX-License-Identifier: Apache-2.0 */
/* ObjectMeta: what the system sets, what may not change, what is valid. */
#pragma once

#include <jansson.h>

#include "apiserver/resource.h"

/* Set uid, creationTimestamp, generation; clear deletion fields. */
void meta_prepare_create(struct api_ctx *ctx, json_t *obj);
/* Carry over from old what an update may not change (uid, name, namespace,
 * creationTimestamp, generation, deletion fields, kind, apiVersion). */
void meta_prepare_update(struct api_ctx *ctx, json_t *obj, json_t *old);
/* Validate metadata: name by the resource's rule, labels, annotations,
 * ownerReferences, finalizers. old is NULL on create. */
void meta_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe);
/* Validate a name by rule; appends to fe under field. */
void meta_validate_name(enum name_rule rule, const char *name, const char *field,
			struct field_errors *fe);
/* Validate a map of labels (e.g. a selector's matchLabels) under field. */
void meta_validate_labels(json_t *labels, const char *field, struct field_errors *fe);
