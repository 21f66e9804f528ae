/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Namespace. Deleting one marks it Terminating; the API server's
 * namespace deleter (nsdeleter.c) empties it, then removes the "kubernetes"
 * finalizer through /finalize, and the namespace is gone. */
#include "apiserver/apiserver.h"
#include "apiserver/registry/common.h"
#include "lib/timeutil.h"

static void ns_defaults(json_t *obj)
{
	json_t *status = json_object_ensure(obj, "status");
	default_str(status, "phase", "Active");
	const char *name = json_get_str(obj, "metadata.name");
	if (!isempty(name))
		json_set_str(json_object_ensure(json_object_ensure(obj, "metadata"), "labels"),
			     "kubernetes.io/metadata.name", name);
}

static void ns_prepare_create(struct api_ctx *ctx, json_t *obj)
{
	json_t *spec = json_object_ensure(obj, "spec");
	json_object_set_new(spec, "finalizers", json_pack("[s]", "kubernetes"));
	json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
}

static void ns_prepare_update(struct api_ctx *ctx, json_t *obj, json_t *old)
{
	/* spec.finalizers change only through /finalize. */
	json_t *fin = json_get(old, "spec.finalizers");
	json_t *spec = json_object_ensure(obj, "spec");
	if (fin)
		json_object_set(spec, "finalizers", fin);
	else
		json_object_del(spec, "finalizers");
}

/* A finalizer name: qualified, and one of Kubernetes' own unless it has
 * a domain prefix. */
static void validate_finalizer(const char *f, const char *path, struct field_errors *fe)
{
	validate_qualified_name_at(f, path, fe);
	if (!strchr(f, '/') && !streq(f, "kubernetes") && !streq(f, "orphan") &&
	    !streq(f, "foregroundDeletion"))
		fe_invalid_str(
		    fe, path, f,
		    "name is neither a standard finalizer name nor is it fully qualified");
}

static void ns_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_get(obj, "spec.finalizers"), i, f)
	{
		FE_PATHF(p, "spec.finalizers[%zu]", i);
		validate_finalizer(str_or_empty_json(f, ""), p, fe);
	}
	if (old && json_get_str(old, "metadata.deletionTimestamp") &&
	    json_array_size(json_get(obj, "spec.finalizers")) >
		json_array_size(json_get(old, "spec.finalizers")))
		fe_forbidden(fe, "spec.finalizers",
			     "no new finalizers can be added if the object is being deleted");
}

static void ns_validate_status(struct api_ctx *ctx, json_t *obj, json_t *old,
			       struct field_errors *fe)
{
	json_t *phase = json_get(obj, "status.phase");
	bool deleting = json_get_str(obj, "metadata.deletionTimestamp") != NULL;
	/* Kubernetes spells this path "status.Phase". */
	if (!deleting && !streq_ptr(json_string_value(phase), "Active"))
		fe_invalid(fe, "status.Phase", phase,
			   "may only be 'Active' if `deletionTimestamp` is empty");
	if (deleting && !streq_ptr(json_string_value(phase), "Terminating"))
		fe_invalid(fe, "status.Phase", phase,
			   "may only be 'Terminating' if `deletionTimestamp` is not empty");
}

static bool ns_on_delete(struct api_ctx *ctx, json_t *obj, json_t *opts)
{
	json_set_str(json_object_ensure(obj, "status"), "phase", "Terminating");
	return json_array_size(json_get(obj, "spec.finalizers")) > 0;
}

static bool ns_is_finalized(json_t *obj)
{
	return json_array_size(json_get(obj, "spec.finalizers")) == 0;
}

static void ns_after_delete(struct api_ctx *ctx, json_t *obj, bool removed)
{
	if (!removed)
		apiserver_kick_namespaces(ctx->srv);
}

static void ns_get_fields(json_t *obj, const char **v)
{
	v[0] = json_get_str(obj, "status.phase");
}

static const struct table_column ns_columns[] = {
	{ "Name", "string", "name", "Name of the namespace.", 0 },
	{ "Status", "string", "", "The lifecycle phase of the namespace.", 0 },
	{ "Age", "string", "", "Time since the namespace was created.", 0 },
};

static void ns_row(json_t *obj, json_t *cells, int64_t now)
{
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_str(cells, str_or_empty(obj, "status.phase"));
	cell_age(cells, obj, now);
}

const struct resource resource_namespaces = {
	RESOURCE_CORE_V1,
	.kind = "Namespace",
	.plural = "namespaces",
	.singular = "namespace",
	.namespaced = false,
	.short_names = STRV("ns"),
	.type_name = "Namespace",
	.flags = RES_STATUS | RES_FINALIZE | RES_CREATION_EVENT,
	.name_rule = NAME_DNS1123_LABEL,
	.fields = STRV("status.phase"),
	.get_fields = ns_get_fields,
	.defaults = ns_defaults,
	.prepare_create = ns_prepare_create,
	.prepare_update = ns_prepare_update,
	.validate = ns_validate,
	.validate_status = ns_validate_status,
	.on_delete = ns_on_delete,
	.is_finalized = ns_is_finalized,
	.after_delete = ns_after_delete,
	.columns = ns_columns,
	.ncolumns = ARRAY_SIZE(ns_columns),
	.row = ns_row,
};
