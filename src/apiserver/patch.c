/* SPDX-License-Identifier: Apache-2.0 */
#include "apiserver/patch.h"
#include "apiserver/ops.h"
#include "apiserver/schema.h"
#include "apiserver/smp.h"
#include "apiserver/ssa.h"
#include "lib/json.h"
#include "lib/jsonpatch.h"

static bool is_operation_list(json_t *patch)
{
	size_t i;
	json_t *o;
	if (!json_is_array(patch))
		return false;
	json_array_foreach(patch, i, o)
	{
		if (!json_is_object(o))
			return false;
	}
	return true;
}

json_t *patch_apply(struct api_op *op, json_t *base, json_t *patch)
{
	_cleanup_free_ char *err = NULL;
	const struct resource *res = resource_storage(op->res);

	switch (op->patch_type) {
	case PATCH_JSON: {
		json_t *doc = json_incref(base);
		int r = json_patch_apply(&doc, patch, &err);
		if (r < 0) {
			/* As upstream: a body that is not a list of operations
			 * is a bad request; an operation that fails (a missing
			 * path, a failed test) is unprocessable. */
			json_decref(doc);
			if (is_operation_list(patch))
				api_error_set(&op->err, 422, "Invalid", "%s", err);
			else
				api_error_bad_request(&op->err, "%s", err);
			return NULL;
		}
		return doc;
	}
	case PATCH_APPLY: {
		const struct schema_type *t = schema_find_type(schema_builtin(), res->type_name);
		_cleanup_json_ json_t *config = json_deep_copy(patch);
		if (api_op_check_body(op, config, NULL, 0) < 0)
			return NULL;
		json_t *out = NULL;
		struct ssa_request req = {
			.manager = op->field_manager,
			.api_version = res->api_version,
			.subresource = op->sub == SUB_STATUS ? "status" : NULL,
			.force = op->force,
			.now_usec = (int64_t)now_usec_realtime(),
		};
		if (ssa_apply(t, base, config, &req, &out, &op->err) < 0)
			return NULL;
		return out;
	}
	case PATCH_MERGE:
		if (!json_is_object(patch)) {
			api_error_bad_request(&op->err, "the patch must be a JSON object");
			return NULL;
		}
		return json_merge_patch(base, patch);
	case PATCH_STRATEGIC: {
		if (!json_is_object(patch)) {
			api_error_bad_request(&op->err, "the patch must be a JSON object");
			return NULL;
		}
		const struct schema_type *t =
		    op->sub == SUB_SCALE ? schema_find_type(schema_builtin(), "Scale")
					 : schema_find_type(schema_builtin(), res->type_name);
		json_t *out = NULL;
		if (smp_apply(t, base, patch, &out, &err) < 0) {
			api_error_bad_request(&op->err, "%s", err ? err : "invalid patch");
			return NULL;
		}
		return out;
	}
	case PATCH_NONE:
		break;
	}
	api_error_set(&op->err, 415, "UnsupportedMediaType", "unsupported patch type");
	return NULL;
}

int patch_apply_create(struct api_op *op)
{
	const struct resource *res = resource_storage(op->res);
	const struct schema_type *t = schema_find_type(schema_builtin(), res->type_name);
	json_t *config = op->body;

	/* The apply configuration becomes the object, owned by its manager. */
	if (api_op_check_body(op, config, NULL, 0) < 0)
		return OP_DONE;
	const char *name = json_get_str(config, "metadata.name");
	if (!isempty(name) && !streq(name, op->name)) {
		api_error_bad_request(
		    &op->err, "the name of the object (%s) does not match the name on the URL (%s)",
		    name, op->name);
		return OP_DONE;
	}
	json_t *out = NULL;
	struct ssa_request req = {
		.manager = op->field_manager,
		.api_version = res->api_version,
		.force = op->force,
		.now_usec = (int64_t)now_usec_realtime(),
	};
	if (ssa_apply(t, NULL, config, &req, &out, &op->err) < 0)
		return OP_DONE;
	json_set_str(json_object_ensure(out, "metadata"), "name", op->name);
	json_decref(op->body);
	op->body = out;
	op->verb = VERB_CREATE;
	op->patch_type = PATCH_NONE;
	return api_op_run(op);
}
