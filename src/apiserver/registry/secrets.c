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

/* data[key] must hold a JSON document (docker configuration secrets). */
static void require_json_key(json_t *data, const char *key, struct field_errors *fe)
{
	FE_PATHF(p, "data[%s]", key);
	json_t *v = json_object_get(data, key);
	if (!v) {
		fe_required(fe, p, NULL);
		return;
	}
	void *raw = NULL;
	size_t len = 0;
	const char *s = str_or_empty_json(v, "");
	json_error_t err;
	json_t *doc = NULL;
	if (base64_decode(s, strlen(s), &raw, &len) == 0)
		doc = json_loadb(raw, len, 0, &err);
	else
		snprintf(err.text, sizeof(err.text), "illegal base64 data");
	if (!json_is_object(doc)) {
		_cleanup_free_ char *m =
		    xasprintf("%s", doc ? "the content must be a JSON object" : err.text);
		fe_invalid_str(fe, p, "<secret contents redacted>", m);
	}
	json_decref(doc);
	free(raw);
}

static void secret_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *data = json_object_get(obj, "data");
	size_t total = 0;
	const char *k;
	json_t *v;
	json_object_foreach(data, k, v)
	{
		FE_PATHF(p, "data[%s]", k);
		validate_name_rule(validate_config_map_key, k, p, fe);
		total += decoded_len(v);
	}
	if (total > MAX_SECRET_BYTES)
		fe_too_long(fe, "data", MAX_SECRET_BYTES);
	const char *type = str_or_empty(obj, "type");
	if (streq(type, "kubernetes.io/service-account-token")) {
		json_t *ann = json_get(obj, "metadata.annotations");
		if (isempty(json_string_value(
			json_object_get(ann, "kubernetes.io/service-account.name"))))
			fe_required(fe, "metadata.annotations[kubernetes.io/service-account.name]",
				    NULL);
	} else if (streq(type, "kubernetes.io/dockercfg")) {
		require_json_key(data, ".dockercfg", fe);
	} else if (streq(type, "kubernetes.io/dockerconfigjson")) {
		require_json_key(data, ".dockerconfigjson", fe);
	} else if (streq(type, "kubernetes.io/basic-auth")) {
		/* Either may be empty, but one of them must be there. */
		if (!json_object_get(data, "username") && !json_object_get(data, "password")) {
			fe_required(fe, "data[username]", NULL);
			fe_required(fe, "data[password]", NULL);
		}
	} else if (streq(type, "kubernetes.io/ssh-auth")) {
		if (!json_string_length(json_object_get(data, "ssh-privatekey")))
			fe_required(fe, "data[ssh-privatekey]", NULL);
	} else if (streq(type, "kubernetes.io/tls")) {
		if (!json_object_get(data, "tls.crt"))
			fe_required(fe, "data[tls.crt]", NULL);
		if (!json_object_get(data, "tls.key"))
			fe_required(fe, "data[tls.key]", NULL);
	}
	if (!old)
		return;
	validate_immutable(obj, old, "type", fe);
	if (json_is_true(json_object_get(old, "immutable"))) {
		if (!json_is_true(json_object_get(obj, "immutable")))
			fe_forbidden(fe, "immutable", "field is immutable when `immutable` is set");
		json_t *od = json_object_get(old, "data");
		if (!((!json_object_size(data) && !json_object_size(od)) || json_equal(data, od)))
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
