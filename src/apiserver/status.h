/* SPDX-License-Identifier: Apache-2.0 */
/*
 * API errors. An api_error maps one-to-one onto a Kubernetes Status object
 * (code, reason, message, details with causes). Field errors collect
 * validation failures the way Kubernetes reports them (422 Invalid).
 */
#pragma once

#include <jansson.h>

#include "lib/macro.h"

struct resource;

struct field_error {
	char *field;        /* "spec.containers[0].name" */
	const char *reason; /* "FieldValueRequired", "FieldValueInvalid", ... */
	char *message;      /* "Required value", "Invalid value: \"x\": detail", ... */
};

struct field_errors {
	struct field_error *v;
	size_t n, alloc;
};

void field_errors_release(struct field_errors *fe);
void fe_required(struct field_errors *fe, const char *field, const char *detail);
/* value is the offending JSON value (printed Kubernetes-style), may be NULL. */
void fe_invalid(struct field_errors *fe, const char *field, json_t *value, const char *detail);
void fe_invalid_str(struct field_errors *fe, const char *field, const char *value,
		    const char *detail);
void fe_not_supported(struct field_errors *fe, const char *field, json_t *value,
		      const char *const *allowed);
void fe_duplicate(struct field_errors *fe, const char *field, json_t *value);
void fe_too_long(struct field_errors *fe, const char *field, size_t max);
void fe_forbidden(struct field_errors *fe, const char *field, const char *detail);
void fe_not_found(struct field_errors *fe, const char *field, json_t *value);
/* Path helpers: returns a malloc'd "base.name" / "base[i]" / "base[key]". */
char *fe_path(const char *base, const char *name);
char *fe_index(const char *base, size_t i);
char *fe_key(const char *base, const char *key);

struct api_error {
	int code;           /* HTTP status; 0 = no error */
	const char *reason; /* StatusReason: NotFound, AlreadyExists, Conflict, Invalid, ... */
	char *message;
	json_t *details; /* StatusDetails or NULL */
	char *retry_after;
};

void api_error_release(struct api_error *e);
void api_error_set(struct api_error *e, int code, const char *reason, const char *fmt, ...)
	_printf_(4, 5);
/* Kubernetes' standard errors. res may be NULL when unknown. */
void api_error_not_found(struct api_error *e, const struct resource *res, const char *name);
void api_error_already_exists(struct api_error *e, const struct resource *res, const char *name);
void api_error_conflict(struct api_error *e, const struct resource *res, const char *name,
			const char *why);
void api_error_invalid(struct api_error *e, const struct resource *res, const char *name,
		       const struct field_errors *fe);
void api_error_bad_request(struct api_error *e, const char *fmt, ...) _printf_(2, 3);
void api_error_internal(struct api_error *e, const char *fmt, ...) _printf_(2, 3);
void api_error_gone(struct api_error *e, const char *fmt, ...) _printf_(2, 3);
void api_error_forbidden(struct api_error *e, const struct resource *res, const char *name,
			 const char *why);
void api_error_method_not_allowed(struct api_error *e);
/* The Status object for e (a new reference). */
json_t *api_error_status(const struct api_error *e);
json_t *status_success(void);
/* "pods" or "deployments.apps" */
char *resource_qualified_name(const struct resource *res);
