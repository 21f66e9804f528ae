/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 ConfigMap. */
#include "apiserver/registry/common.h"
#include "lib/names.h"

#define MAX_CONFIGMAP_BYTES (1024 * 1024)

static void cm_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *data = json_object_get(obj, "data"), *bin = json_object_get(obj, "binaryData");
	size_t total = 0;
	const char *k;
	json_t *v;
	json_object_foreach(data, k, v)
	{
		_cleanup_free_ char *m = validate_config_map_key(k);
		if (m) {
			_cleanup_free_ char *p = fe_key("data", k);
			fe_invalid_str(fe, p, k, m);
		}
		total += strlen(k) + json_string_length(v);
	}
	json_object_foreach(bin, k, v)
	{
		_cleanup_free_ char *m = validate_config_map_key(k);
		if (m) {
			_cleanup_free_ char *p = fe_key("binaryData", k);
			fe_invalid_str(fe, p, k, m);
		}
		if (json_object_get(data, k)) {
			_cleanup_free_ char *p = fe_key("data", k);
			fe_invalid_str(fe, p, k, "duplicate of key present in binaryData");
		}
		total += strlen(k) + json_string_length(v) * 3 / 4;
	}
	if (total > MAX_CONFIGMAP_BYTES)
		fe_too_long(fe, "", MAX_CONFIGMAP_BYTES);
	if (old && json_is_true(json_object_get(old, "immutable"))) {
		if (!json_equal(data, json_object_get(old, "data")) ||
		    !json_equal(bin, json_object_get(old, "binaryData")))
			fe_forbidden(fe, "data", "field is immutable when `immutable` is set");
		if (!json_is_true(json_object_get(obj, "immutable")))
			fe_forbidden(fe, "immutable", "field is immutable when `immutable` is set");
	}
}

static const struct table_column cm_columns[] = {
	{ "Name", "string", "name", "Name of the config map.", 0 },
	{ "Data", "integer", "", "Number of keys.", 0 },
	{ "Age", "string", "", "Time since the config map was created.", 0 },
};

static void cm_row(json_t *obj, json_t *cells, int64_t now)
{
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_int(cells, (int64_t)(json_object_size(json_object_get(obj, "data")) +
				  json_object_size(json_object_get(obj, "binaryData"))));
	cell_age(cells, obj, now);
}

const struct resource resource_configmaps = {
	RESOURCE_CORE_V1,
	.kind = "ConfigMap",
	.plural = "configmaps",
	.singular = "configmap",
	.namespaced = true,
	.short_names = STRV("cm"),
	.type_name = "ConfigMap",
	.validate = cm_validate,
	.columns = cm_columns,
	.ncolumns = ARRAY_SIZE(cm_columns),
	.row = cm_row,
};
