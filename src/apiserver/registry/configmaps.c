/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 ConfigMap. */
#include "apiserver/registry/common.h"
#include "lib/names.h"

#define MAX_CONFIGMAP_BYTES (1024 * 1024)

/* Bytes a base64 string decodes to. */
static size_t decoded_len(json_t *v)
{
	size_t n = json_string_length(v);
	const char *s = json_string_value(v);
	size_t pad = 0;
	while (pad < 2 && n > pad && s[n - 1 - pad] == '=')
		pad++;
	return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) - pad;
}

/* Maps compare equal when both are empty, present or not. */
static bool map_equal(json_t *a, json_t *b)
{
	return (!json_object_size(a) && !json_object_size(b)) || json_equal(a, b);
}

static void cm_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *data = json_object_get(obj, "data"), *bin = json_object_get(obj, "binaryData");
	size_t total = 0;
	const char *k;
	json_t *v;
	json_object_foreach(data, k, v)
	{
		FE_PATHF(p, "data[%s]", k);
		validate_name_rule(validate_config_map_key, k, p, fe);
		if (json_object_get(bin, k))
			fe_invalid_str(fe, p, k, "duplicate of key present in binaryData");
		total += json_string_length(v);
	}
	json_object_foreach(bin, k, v)
	{
		FE_PATHF(p, "binaryData[%s]", k);
		validate_name_rule(validate_config_map_key, k, p, fe);
		total += decoded_len(v);
	}
	if (total > MAX_CONFIGMAP_BYTES)
		fe_too_long(fe, "", MAX_CONFIGMAP_BYTES);
	if (old && json_is_true(json_object_get(old, "immutable"))) {
		if (!json_is_true(json_object_get(obj, "immutable")))
			fe_forbidden(fe, "immutable", "field is immutable when `immutable` is set");
		if (!map_equal(data, json_object_get(old, "data")))
			fe_forbidden(fe, "data", "field is immutable when `immutable` is set");
		if (!map_equal(bin, json_object_get(old, "binaryData")))
			fe_forbidden(fe, "binaryData",
				     "field is immutable when `immutable` is set");
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
