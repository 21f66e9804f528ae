/* SPDX-License-Identifier: Apache-2.0 */
/* Checking request bodies against the API type descriptions. */
#include "apiserver/ops.h"
#include "apiserver/schema.h"
#include "lib/json.h"
#include "lib/strbuf.h"

struct expect {
	const char *type;
	const char *kind;
	const char *api_version;
};

static struct expect expected(const struct api_op *op)
{
	switch (op->sub) {
	case SUB_SCALE:
		return (struct expect){ "Scale", "Scale", "autoscaling/v1" };
	case SUB_BINDING:
		return (struct expect){ "Binding", "Binding", "v1" };
	default:
		return (struct expect){ op->res->type_name, op->res->kind, op->res->api_version };
	}
}

static int check_fields(struct api_op *op, const struct expect *want, json_t *obj,
			const char *raw, size_t raw_len)
{
	const struct schema_type *t = schema_find_type(schema_builtin(), want->type);
	struct schema_report rep = { 0 };
	_cleanup_strv_free_ char **dups = NULL;
	size_t ndups = 0;

	if (!t) {
		api_error_internal(&op->err, "no type description for %s", want->type);
		return -EINVAL;
	}
	if (schema_check(t, obj, &rep) < 0) {
		api_error_bad_request(&op->err, "%s in version \"%s\" cannot be handled as a %s: %s",
				      want->kind, op->res->version, want->kind, rep.error);
		schema_report_release(&rep);
		return -EINVAL;
	}
	if (raw && op->fv != FV_IGNORE)
		json_find_duplicate_keys(raw, raw_len, &dups, &ndups);
	if (op->fv == FV_STRICT && (rep.nunknown || ndups)) {
		struct strbuf sb = STRBUF_INIT;
		strbuf_addf(&sb, "%s in version \"%s\" cannot be handled as a %s: strict decoding error: ",
			    want->kind, op->res->version, want->kind);
		for (size_t i = 0; i < rep.nunknown; i++)
			strbuf_addf(&sb, "%sunknown field \"%s\"", i ? ", " : "", rep.unknown[i]);
		for (size_t i = 0; i < ndups; i++)
			strbuf_addf(&sb, "%sduplicate field \"%s\"", (i || rep.nunknown) ? ", " : "",
				    dups[i]);
		api_error_bad_request(&op->err, "%s", strbuf_str(&sb));
		strbuf_release(&sb);
		schema_report_release(&rep);
		return -EINVAL;
	}
	if (op->fv == FV_WARN) {
		for (size_t i = 0; i < rep.nunknown; i++)
			api_op_warn(op, "unknown field \"%s\"", rep.unknown[i]);
		for (size_t i = 0; i < ndups; i++)
			api_op_warn(op, "duplicate field \"%s\"", dups[i]);
	}
	schema_report_release(&rep);
	return 0;
}

int api_op_check_body(struct api_op *op, json_t *body, const char *raw, size_t raw_len)
{
	struct expect want = expected(op);

	if (!json_is_object(body)) {
		api_error_bad_request(&op->err, "the request body must be a JSON object");
		return -EINVAL;
	}
	const char *kind = json_string_value(json_object_get(body, "kind"));
	const char *av = json_string_value(json_object_get(body, "apiVersion"));
	if (!isempty(av) && !streq(av, want.api_version)) {
		api_error_bad_request(&op->err,
				      "the API version in the data (%s) does not match the expected API version (%s)",
				      av, want.api_version);
		return -EINVAL;
	}
	if (!isempty(kind) && !streq(kind, want.kind)) {
		api_error_bad_request(&op->err,
				      "%s in version \"%s\" cannot be handled as a %s: the kind in the data (%s) does not match the expected kind (%s)",
				      kind, av ? av : want.api_version, want.kind, kind, want.kind);
		return -EINVAL;
	}
	json_set_str(body, "kind", want.kind);
	json_set_str(body, "apiVersion", want.api_version);
	if (check_fields(op, &want, body, raw, raw_len) < 0)
		return -EINVAL;
	return 0;
}

int api_op_check_patched(struct api_op *op, json_t *obj)
{
	const struct resource *st = resource_storage(op->res);
	struct expect want = { st->type_name, st->kind, st->api_version };
	return check_fields(op, &want, obj, NULL, 0);
}
