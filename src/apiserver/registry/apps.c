/* SPDX-License-Identifier: Apache-2.0 */
/* apps/v1 Deployment and ReplicaSet. */
#include "apiserver/registry/common.h"
#include "lib/selector.h"
#include "lib/strbuf.h"

static void template_defaults(json_t *spec)
{
	json_t *tmpl = json_object_get(spec, "template");
	if (json_is_object(tmpl))
		pod_spec_defaults(json_object_get(tmpl, "spec"));
}

/* The selector must select the template's labels, and may not change. */
static void validate_selector_and_template(json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec");
	json_t *sel = json_object_get(spec, "selector");
	json_t *tmpl = json_object_get(spec, "template");

	if (!json_is_object(sel)) {
		fe_required(fe, "spec.selector", NULL);
	} else {
		validate_label_selector(sel, "spec.selector", fe);
		if (!json_object_size(json_object_get(sel, "matchLabels")) &&
		    !json_array_size(json_object_get(sel, "matchExpressions")))
			fe_invalid(fe, "spec.selector", sel,
				   "empty selector is invalid for deployment");
	}
	if (!json_is_object(tmpl)) {
		fe_required(fe, "spec.template", NULL);
	} else {
		pod_template_validate(tmpl, "spec.template", fe);
		struct label_selector ls;
		_cleanup_free_ char *err = NULL;
		if (json_is_object(sel) && label_selector_from_json(sel, &ls, &err) == 0) {
			size_t len;
			_cleanup_free_ char *packed =
				packed_labels_from_json(json_get(tmpl, "metadata.labels"), &len);
			if (!label_selector_matches(&ls, packed))
				fe_invalid(fe, "spec.template.metadata.labels",
					   json_get(tmpl, "metadata.labels"),
					   "`selector` does not match template `labels`");
			label_selector_release(&ls);
		}
		const char *rp = json_get_str(tmpl, "spec.restartPolicy");
		if (rp && !streq(rp, "Always"))
			fe_not_supported(fe, "spec.template.spec.restartPolicy",
					 json_get(tmpl, "spec.restartPolicy"), STRV("Always"));
		json_t *ads = json_get(tmpl, "spec.activeDeadlineSeconds");
		if (ads)
			fe_forbidden(fe, "spec.template.spec.activeDeadlineSeconds",
				     "activeDeadlineSeconds in ReplicaSet is not Supported");
	}
	validate_nonnegative(spec, "replicas", "spec", fe);
	validate_nonnegative(spec, "minReadySeconds", "spec", fe);
	if (old)
		validate_immutable(obj, old, "spec.selector", fe);
}

static void workload_prepare_create(struct api_ctx *ctx, json_t *obj)
{
	json_object_set_new(obj, "status", json_object());
}

static char *containers_field(json_t *obj, const char *field)
{
	return join_field(json_get(obj, "spec.template.spec.containers"), field);
}

static char *selector_string(json_t *obj)
{
	struct label_selector ls;
	_cleanup_free_ char *err = NULL;
	if (label_selector_from_json(json_get(obj, "spec.selector"), &ls, &err) < 0)
		return xstrdup("<invalid>");
	char *s = label_selector_to_string(&ls);
	label_selector_release(&ls);
	if (!*s) {
		free(s);
		return xstrdup("<none>");
	}
	return s;
}

static void wide_cells(json_t *obj, json_t *cells)
{
	_cleanup_free_ char *names = containers_field(obj, "name");
	_cleanup_free_ char *images = containers_field(obj, "image");
	_cleanup_free_ char *sel = selector_string(obj);
	cell_str(cells, names);
	cell_str(cells, images);
	cell_str(cells, sel);
}

/* ---- Deployment ---- */

static void deploy_defaults(json_t *obj)
{
	json_t *spec = json_object_ensure(obj, "spec");
	default_int(spec, "replicas", 1);
	json_t *strategy = json_object_ensure(spec, "strategy");
	default_str(strategy, "type", "RollingUpdate");
	if (streq(str_or_empty(strategy, "type"), "RollingUpdate")) {
		json_t *ru = json_object_ensure(strategy, "rollingUpdate");
		if (!json_object_get(ru, "maxUnavailable"))
			json_set_str(ru, "maxUnavailable", "25%");
		if (!json_object_get(ru, "maxSurge"))
			json_set_str(ru, "maxSurge", "25%");
	}
	default_int(spec, "revisionHistoryLimit", 10);
	default_int(spec, "progressDeadlineSeconds", 600);
	template_defaults(spec);
}

static bool intorpercent_zero(json_t *v)
{
	if (!v)
		return false;
	if (json_is_integer(v))
		return json_integer_value(v) == 0;
	const char *s = json_string_value(v);
	return s && (streq(s, "0") || streq(s, "0%"));
}

static void validate_intorpercent(json_t *v, const char *path, struct field_errors *fe)
{
	if (!v)
		return;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			fe_invalid(fe, path, v, "must be greater than or equal to 0");
		return;
	}
	const char *s = json_string_value(v);
	size_t n = s ? strlen(s) : 0;
	char *end;
	long pct = n > 1 && s[n - 1] == '%' ? strtol(s, &end, 10) : -1;
	if (pct < 0 || end != s + n - 1)
		fe_invalid(fe, path, v, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%')");
	else if (pct > 100 && strstr(path, "maxUnavailable"))
		fe_invalid(fe, path, v, "must not be greater than 100%");
}

static void deploy_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec");
	validate_selector_and_template(obj, old, fe);
	json_t *strategy = json_object_get(spec, "strategy");
	validate_enum(strategy, "type", "spec.strategy", STRV("Recreate", "RollingUpdate"), fe);
	json_t *ru = json_object_get(strategy, "rollingUpdate");
	if (streq(str_or_empty(strategy, "type"), "Recreate") && ru)
		fe_forbidden(fe, "spec.strategy.rollingUpdate",
			     "may not be specified when strategy `type` is 'Recreate'");
	if (ru) {
		validate_intorpercent(json_object_get(ru, "maxUnavailable"),
				      "spec.strategy.rollingUpdate.maxUnavailable", fe);
		validate_intorpercent(json_object_get(ru, "maxSurge"),
				      "spec.strategy.rollingUpdate.maxSurge", fe);
		if (intorpercent_zero(json_object_get(ru, "maxUnavailable")) &&
		    intorpercent_zero(json_object_get(ru, "maxSurge")))
			fe_invalid(fe, "spec.strategy.rollingUpdate.maxUnavailable",
				   json_object_get(ru, "maxUnavailable"),
				   "may not be 0 when `maxSurge` is 0");
	}
	validate_nonnegative(spec, "revisionHistoryLimit", "spec", fe);
	json_t *pd = json_object_get(spec, "progressDeadlineSeconds");
	if (pd && json_integer_value(pd) <= json_get_int(spec, "minReadySeconds", 0))
		fe_invalid(fe, "spec.progressDeadlineSeconds", pd,
			   "must be greater than minReadySeconds");
}

static const struct table_column deploy_columns[] = {
	{ "Name", "string", "name", "Name of the deployment.", 0 },
	{ "Ready", "string", "", "Ready replicas out of desired replicas.", 0 },
	{ "Up-to-date", "integer", "", "Replicas running the current template.", 0 },
	{ "Available", "integer", "", "Replicas available to users.", 0 },
	{ "Age", "string", "", "Time since the deployment was created.", 0 },
	{ "Containers", "string", "", "Names of the template's containers.", 1 },
	{ "Images", "string", "", "Images of the template's containers.", 1 },
	{ "Selector", "string", "", "The labels that pick the deployment's pods.", 1 },
};

static void deploy_row(json_t *obj, json_t *cells, int64_t now)
{
	char ready[48];
	snprintf(ready, sizeof(ready), "%lld/%lld",
		 (long long)json_get_int(obj, "status.readyReplicas", 0),
		 (long long)json_get_int(obj, "spec.replicas", 0));
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_str(cells, ready);
	cell_int(cells, json_get_int(obj, "status.updatedReplicas", 0));
	cell_int(cells, json_get_int(obj, "status.availableReplicas", 0));
	cell_age(cells, obj, now);
	wide_cells(obj, cells);
}

const struct resource resource_deployments = {
	RESOURCE_GV("apps", "v1"),
	.kind = "Deployment",
	.plural = "deployments",
	.singular = "deployment",
	.namespaced = true,
	.short_names = STRV("deploy"),
	.categories = STRV("all"),
	.type_name = "Deployment",
	.flags = RES_STATUS | RES_SCALE | RES_GENERATION,
	.defaults = deploy_defaults,
	.prepare_create = workload_prepare_create,
	.validate = deploy_validate,
	.columns = deploy_columns,
	.ncolumns = ARRAY_SIZE(deploy_columns),
	.row = deploy_row,
};

/* ---- ReplicaSet ---- */

static void rs_defaults(json_t *obj)
{
	json_t *spec = json_object_ensure(obj, "spec");
	default_int(spec, "replicas", 1);
	template_defaults(spec);
}

static void rs_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	validate_selector_and_template(obj, old, fe);
}

static const struct table_column rs_columns[] = {
	{ "Name", "string", "name", "Name of the replica set.", 0 },
	{ "Desired", "integer", "", "Replicas wanted.", 0 },
	{ "Current", "integer", "", "Replicas that exist.", 0 },
	{ "Ready", "integer", "", "Replicas that are ready.", 0 },
	{ "Age", "string", "", "Time since the replica set was created.", 0 },
	{ "Containers", "string", "", "Names of the template's containers.", 1 },
	{ "Images", "string", "", "Images of the template's containers.", 1 },
	{ "Selector", "string", "", "The labels that pick the replica set's pods.", 1 },
};

static void rs_row(json_t *obj, json_t *cells, int64_t now)
{
	cell_str(cells, json_get_str(obj, "metadata.name"));
	cell_int(cells, json_get_int(obj, "spec.replicas", 0));
	cell_int(cells, json_get_int(obj, "status.replicas", 0));
	cell_int(cells, json_get_int(obj, "status.readyReplicas", 0));
	cell_age(cells, obj, now);
	wide_cells(obj, cells);
}

const struct resource resource_replicasets = {
	RESOURCE_GV("apps", "v1"),
	.kind = "ReplicaSet",
	.plural = "replicasets",
	.singular = "replicaset",
	.namespaced = true,
	.short_names = STRV("rs"),
	.categories = STRV("all"),
	.type_name = "ReplicaSet",
	.flags = RES_STATUS | RES_SCALE | RES_GENERATION,
	.defaults = rs_defaults,
	.prepare_create = workload_prepare_create,
	.validate = rs_validate,
	.columns = rs_columns,
	.ncolumns = ARRAY_SIZE(rs_columns),
	.row = rs_row,
};
