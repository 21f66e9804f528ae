/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 ServiceAccount. */
#include "apiserver/registry/common.h"

static const struct table_column sa_columns[] = {
	{ "Name", "string", "name", "Name of the service account.", 0 },
	{ "Secrets", "integer", "", "Number of secrets listed.", 0 },
	{ "Age", "string", "", "Time since the service account was created.", 0 },
};

static void sa_row(json_t *obj, json_t *cells, int64_t now)
{
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_int(cells, (int64_t)json_array_size(json_object_get(obj, "secrets")));
	cell_age(cells, obj, now);
}

const struct resource resource_serviceaccounts = {
	RESOURCE_CORE_V1,
	.kind = "ServiceAccount",
	.plural = "serviceaccounts",
	.singular = "serviceaccount",
	.namespaced = true,
	.short_names = STRV("sa"),
	.type_name = "ServiceAccount",
	.columns = sa_columns,
	.ncolumns = ARRAY_SIZE(sa_columns),
	.row = sa_row,
};
