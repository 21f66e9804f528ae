/* SPDX-License-Identifier: Apache-2.0 */
/* core/v1 Secret. stringData is folded into data (base64) on every write. */
#include "apiserver/registry/common.h"
#include "lib/base64.h"
#include "lib/names.h"

#define MAX_SECRET_BYTES (1024 * 1024)

static void secret_defaults(json_t *obj)
{
	default_str(obj, "type", "Opaque");
	json_t *sd = json_object_get(obj, "stringData");
	if (!json_is_object(sd))
		return;
	json_t *data = json_object_ensure(obj, "data");
	const char *k;
	json_t *v;
	json_object_foreach(sd, k, v)
	{
		const char *s = json_string_value(v);
		if (!s)
			continue;
		_cleanup_free_ char *b = base64_encode(s, strlen(s));
		json_set_str(data, k, b);
	}
	json_object_del(obj, "stringData");
}

static void secret_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *data = json_object_get(obj, "data");
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
		total += json_string_length(v) * 3 / 4;
	}
	if (total > MAX_SECRET_BYTES)
		fe_too_long(fe, "data", MAX_SECRET_BYTES);
	const char *type = str_or_empty(obj, "type");
	if (streq(type, "kubernetes.io/tls")) {
		if (!json_object_get(data, "tls.crt"))
			fe_required(fe, "data[tls.crt]", NULL);
		if (!json_object_get(data, "tls.key"))
			fe_required(fe, "data[tls.key]", NULL);
	} else if (streq(type, "kubernetes.io/dockerconfigjson")) {
		if (!json_object_get(data, ".dockerconfigjson"))
			fe_required(fe, "data[.dockerconfigjson]", NULL);
	} else if (streq(type, "kubernetes.io/basic-auth")) {
		if (!json_object_get(data, "username") && !json_object_get(data, "password"))
			fe_required(fe, "data[username]", "either username or password is required");
	}
	if (old) {
		validate_immutable(obj, old, "type", fe);
		if (json_is_true(json_object_get(old, "immutable")) &&
		    !json_equal(data, json_object_get(old, "data")))
			fe_forbidden(fe, "data", "field is immutable when `immutable` is set");
	}
}

static void secret_get_fields(json_t *obj, const char **v)
{
	v[0] = json_get_str(obj, "type");
}

static const struct table_column secret_columns[] = {
	{ "Name", "string", "name", "Name of the secret.", 0 },
	{ "Type", "string", "", "The type of secret.", 0 },
	{ "Data", "integer", "", "Number of keys.", 0 },
	{ "Age", "string", "", "Time since the secret was created.", 0 },
};

static void secret_row(json_t *obj, json_t *cells, int64_t now)
{
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_str(cells, str_or_empty(obj, "type"));
	cell_int(cells, (int64_t)json_object_size(json_object_get(obj, "data")));
	cell_age(cells, obj, now);
}

const struct resource resource_secrets = {
	RESOURCE_CORE_V1,
	.kind = "Secret",
	.plural = "secrets",
	.singular = "secret",
	.namespaced = true,
	.type_name = "Secret",
	.fields = STRV("type"),
	.get_fields = secret_get_fields,
	.defaults = secret_defaults,
	.validate = secret_validate,
	.columns = secret_columns,
	.ncolumns = ARRAY_SIZE(secret_columns),
	.row = secret_row,
};
