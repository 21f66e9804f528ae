/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>

#include "apiserver/resource.h"
#include "apiserver/status.h"
#include "lib/json.h"
#include "lib/strbuf.h"

void field_errors_release(struct field_errors *fe)
{
	for (size_t i = 0; i < fe->n; i++) {
		free(fe->v[i].field);
		free(fe->v[i].message);
	}
	free(fe->v);
	fe->v = NULL;
	fe->n = fe->alloc = 0;
}

static void fe_add(struct field_errors *fe, const char *field, const char *reason, char *message)
{
	if (fe->n == fe->alloc) {
		fe->alloc = fe->alloc ? fe->alloc * 2 : 4;
		fe->v = xrealloc(fe->v, fe->alloc * sizeof(*fe->v));
	}
	fe->v[fe->n++] = (struct field_error){
		.field = xstrdup(field),
		.reason = reason,
		.message = message,
	};
}

/* Print a value the way Kubernetes' field errors do: strings quoted, numbers bare. */
static void add_value(struct strbuf *sb, json_t *value)
{
	if (!value) {
		strbuf_addstr(sb, "null");
	} else if (json_is_string(value)) {
		strbuf_add_json_str(sb, json_string_value(value));
	} else {
		_cleanup_free_ char *s = json_dump_compact(value, NULL);
		strbuf_addstr(sb, s);
	}
}

void fe_required(struct field_errors *fe, const char *field, const char *detail)
{
	char *msg = isempty(detail) ? xstrdup("Required value")
				    : xasprintf("Required value: %s", detail);
	fe_add(fe, field, "FieldValueRequired", msg);
}

void fe_invalid(struct field_errors *fe, const char *field, json_t *value, const char *detail)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "Invalid value: ");
	add_value(&sb, value);
	if (!isempty(detail))
		strbuf_addf(&sb, ": %s", detail);
	fe_add(fe, field, "FieldValueInvalid", strbuf_detach(&sb, NULL));
}

void fe_invalid_str(struct field_errors *fe, const char *field, const char *value,
		    const char *detail)
{
	_cleanup_json_ json_t *v = json_string(value ? value : "");
	fe_invalid(fe, field, v, detail);
}

void fe_not_supported(struct field_errors *fe, const char *field, json_t *value,
		      const char *const *allowed)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "Unsupported value: ");
	add_value(&sb, value);
	if (allowed && *allowed) {
		strbuf_addstr(&sb, ": supported values: ");
		for (const char *const *a = allowed; *a; a++) {
			if (a != allowed)
				strbuf_addstr(&sb, ", ");
			strbuf_add_json_str(&sb, *a);
		}
	}
	fe_add(fe, field, "FieldValueNotSupported", strbuf_detach(&sb, NULL));
}

void fe_duplicate(struct field_errors *fe, const char *field, json_t *value)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "Duplicate value: ");
	add_value(&sb, value);
	fe_add(fe, field, "FieldValueDuplicate", strbuf_detach(&sb, NULL));
}

void fe_too_long(struct field_errors *fe, const char *field, size_t max)
{
	fe_add(fe, field, "FieldValueTooLong",
	       xasprintf("Too long: may not be more than %zu bytes", max));
}

void fe_forbidden(struct field_errors *fe, const char *field, const char *detail)
{
	fe_add(fe, field, "FieldValueForbidden", xasprintf("Forbidden: %s", detail));
}

void fe_not_found(struct field_errors *fe, const char *field, json_t *value)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "Not found: ");
	add_value(&sb, value);
	fe_add(fe, field, "FieldValueNotFound", strbuf_detach(&sb, NULL));
}

char *fe_path(const char *base, const char *name)
{
	return isempty(base) ? xstrdup(name) : xasprintf("%s.%s", base, name);
}

char *fe_index(const char *base, size_t i)
{
	return xasprintf("%s[%zu]", base, i);
}

char *fe_key(const char *base, const char *key)
{
	return xasprintf("%s[%s]", base, key);
}

void api_error_release(struct api_error *e)
{
	free(e->message);
	json_decref(e->details);
	free(e->retry_after);
	*e = (struct api_error){ 0 };
}

static void api_error_vset(struct api_error *e, int code, const char *reason, const char *fmt,
			   va_list ap)
{
	api_error_release(e);
	e->code = code;
	e->reason = reason;
	if (vasprintf(&e->message, fmt, ap) < 0)
		abort();
}

void api_error_set(struct api_error *e, int code, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	api_error_vset(e, code, reason, fmt, ap);
	va_end(ap);
}

char *resource_qualified_name(const struct resource *res)
{
	if (!res)
		return xstrdup("unknown");
	if (isempty(res->group))
		return xstrdup(res->plural);
	return xasprintf("%s.%s", res->plural, res->group);
}

static json_t *details_for(const struct resource *res, const char *name, bool use_kind)
{
	json_t *d = json_object();
	if (!isempty(name))
		json_set_str(d, "name", name);
	if (res) {
		if (!isempty(res->group))
			json_set_str(d, "group", res->group);
		json_set_str(d, "kind", use_kind ? res->kind : res->plural);
	}
	return d;
}

void api_error_not_found(struct api_error *e, const struct resource *res, const char *name)
{
	_cleanup_free_ char *q = resource_qualified_name(res);
	api_error_set(e, 404, "NotFound", "%s \"%s\" not found", q, name ? name : "");
	e->details = details_for(res, name, false);
}

void api_error_already_exists(struct api_error *e, const struct resource *res, const char *name)
{
	_cleanup_free_ char *q = resource_qualified_name(res);
	api_error_set(e, 409, "AlreadyExists", "%s \"%s\" already exists", q, name);
	e->details = details_for(res, name, false);
}

void api_error_conflict(struct api_error *e, const struct resource *res, const char *name,
			const char *why)
{
	_cleanup_free_ char *q = resource_qualified_name(res);
	api_error_set(e, 409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": %s", q,
		      name, why ? why
				: "the object has been modified; please apply your changes to the "
				  "latest version and try again");
	e->details = details_for(res, name, false);
}

void api_error_invalid(struct api_error *e, const struct resource *res, const char *name,
		       const struct field_errors *fe)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *causes = json_array();

	strbuf_addf(&sb, "%s \"%s\" is invalid: ", res ? res->kind : "Object", name ? name : "");
	if (fe->n > 1)
		strbuf_addch(&sb, '[');
	for (size_t i = 0; i < fe->n; i++) {
		if (i)
			strbuf_addstr(&sb, ", ");
		strbuf_addf(&sb, "%s: %s", fe->v[i].field, fe->v[i].message);
		json_t *c = json_object();
		json_set_str(c, "reason", fe->v[i].reason);
		json_set_str(c, "message", fe->v[i].message);
		json_set_str(c, "field", fe->v[i].field);
		json_array_append_new(causes, c);
	}
	if (fe->n > 1)
		strbuf_addch(&sb, ']');
	api_error_release(e);
	e->code = 422;
	e->reason = "Invalid";
	e->message = strbuf_detach(&sb, NULL);
	e->details = details_for(res, name, true);
	json_object_set_new(e->details, "causes", causes);
}

void api_error_bad_request(struct api_error *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	api_error_vset(e, 400, "BadRequest", fmt, ap);
	va_end(ap);
}

void api_error_internal(struct api_error *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	api_error_vset(e, 500, "InternalError", fmt, ap);
	va_end(ap);
}

void api_error_gone(struct api_error *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	api_error_vset(e, 410, "Expired", fmt, ap);
	va_end(ap);
}

void api_error_forbidden(struct api_error *e, const struct resource *res, const char *name,
			 const char *why)
{
	_cleanup_free_ char *q = resource_qualified_name(res);
	api_error_set(e, 403, "Forbidden", "%s \"%s\" is forbidden: %s", q, name ? name : "", why);
	e->details = details_for(res, name, false);
}

void api_error_method_not_allowed(struct api_error *e)
{
	api_error_set(e, 405, "MethodNotAllowed",
		      "the server does not allow this method on the requested resource");
}

json_t *api_error_status(const struct api_error *e)
{
	json_t *s = json_object();
	json_set_str(s, "kind", "Status");
	json_set_str(s, "apiVersion", "v1");
	json_object_set_new(s, "metadata", json_object());
	json_set_str(s, "status", "Failure");
	json_set_str(s, "message", e->message ? e->message : "");
	if (e->reason && *e->reason)
		json_set_str(s, "reason", e->reason);
	if (e->details)
		json_object_set(s, "details", e->details);
	json_set_int(s, "code", e->code);
	return s;
}

json_t *status_success(void)
{
	json_t *s = json_object();
	json_set_str(s, "kind", "Status");
	json_set_str(s, "apiVersion", "v1");
	json_object_set_new(s, "metadata", json_object());
	json_set_str(s, "status", "Success");
	return s;
}
