/* SPDX-License-Identifier: Apache-2.0 */
/* coordination.k8s.io/v1 Lease: node heartbeats and leader election. */
#include "apiserver/registry/common.h"

static void lease_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec");
	json_t *d = json_object_get(spec, "leaseDurationSeconds");
	if (d && json_integer_value(d) <= 0)
		fe_invalid(fe, "spec.leaseDurationSeconds", d, "must be greater than 0");
	validate_nonnegative(spec, "leaseTransitions", "spec", fe);
	json_t *strategy = json_object_get(spec, "strategy");
	if (strategy && !streq_ptr(json_string_value(strategy), "OldestEmulationVersion"))
		fe_not_supported(fe, "spec.strategy", strategy, STRV("OldestEmulationVersion"));
	if (!isempty(json_get_str(spec, "preferredHolder")) && isempty(json_string_value(strategy)))
		fe_forbidden(fe, "spec.preferredHolder",
			     "may only be specified if `strategy` is defined");
}

static const struct table_column lease_columns[] = {
	{ "Name", "string", "name", "Name of the lease.", 0 },
	{ "Holder", "string", "", "Who holds the lease.", 0 },
	{ "Age", "string", "", "Time since the lease was created.", 0 },
};

static void lease_row(json_t *obj, json_t *cells, int64_t now)
{
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_str(cells, str_or_empty(obj, "spec.holderIdentity"));
	cell_age(cells, obj, now);
}

const struct resource resource_leases = {
	RESOURCE_GV("coordination.k8s.io", "v1"),
	.kind = "Lease",
	.plural = "leases",
	.singular = "lease",
	.namespaced = true,
	.type_name = "Lease",
	.validate = lease_validate,
	.columns = lease_columns,
	.ncolumns = ARRAY_SIZE(lease_columns),
	.row = lease_row,
};
