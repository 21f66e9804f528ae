/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers for the per-kind files in this directory. */
#pragma once

#include <jansson.h>

#include "apiserver/meta.h"
#include "apiserver/resource.h"
#include "apiserver/status.h"
#include "lib/json.h"
#include "lib/macro.h"

#define STRV(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Table cells. */
void cell_str(json_t *cells, const char *s);
void cell_int(json_t *cells, int64_t v);
/* "5m", "3d2h" since metadata.creationTimestamp (or "<unknown>"). */
void cell_age(json_t *cells, json_t *obj, int64_t now_usec);
/* The age since an RFC 3339 time string into buf (>= 32 bytes). */
void format_age(const char *ts, int64_t now_usec, char *buf);
/* Labels as "k=v,k2=v2" (or "<none>"). */
char *format_labels(json_t *labels);
/* Comma-joined values of field `key` of each object in array (or of each string). */
char *join_field(json_t *array, const char *key);

/* A string field of obj at path, or "" (never NULL). */
const char *str_or_empty(json_t *obj, const char *path);
/* Set obj[key] = v only when absent. */
void default_str(json_t *obj, const char *key, const char *v);
void default_int(json_t *obj, const char *key, int64_t v);
void default_bool(json_t *obj, const char *key, bool v);

/* Validation helpers appending to fe. */
void validate_required_str(json_t *obj, const char *key, const char *path, struct field_errors *fe);
void validate_enum(json_t *obj, const char *key, const char *path, const char *const *allowed,
		   struct field_errors *fe);
void validate_port_number(json_t *v, const char *path, struct field_errors *fe);
void validate_nonnegative(json_t *obj, const char *key, const char *path, struct field_errors *fe);
/* A LabelSelector object (matchLabels, matchExpressions). */
void validate_label_selector(json_t *sel, const char *path, struct field_errors *fe);
/* Field is unchanged between obj and old (JSON equality); else Forbidden/immutable. */
void validate_immutable(json_t *obj, json_t *old, const char *path, struct field_errors *fe);

/* The core/v1 pod template machinery shared by pods, replicasets and deployments. */
void pod_spec_defaults(json_t *spec);
void pod_spec_validate(json_t *spec, const char *path, struct field_errors *fe);
void pod_template_validate(json_t *tmpl, const char *path, struct field_errors *fe);
