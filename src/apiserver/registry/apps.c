/* SPDX-License-Identifier: Apache-2.0 */
/* apps/v1 Deployment and ReplicaSet. */
#include "apiserver/registry/common.h"
#include "lib/selector.h"
#include "lib/strbuf.h"

static void template_defaults(json_t *spec)
{
	json_t *tmpl = json_object_ensure(spec, "template");
	pod_spec_defaults(json_object_ensure(tmpl, "spec"));
}

/* The selector, and the template it must select (shared by deployments
 * and replica sets, in Kubernetes' order). */
static void validate_selector_and_template(json_t *obj, struct field_errors *fe)
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
	struct label_selector ls;
	_cleanup_free_ char *err = NULL;
	if (json_is_object(sel) && label_selector_from_json(sel, &ls, &err) < 0) {
		fe_invalid(fe, "spec.selector", sel, "invalid label selector");
		return;
	}
	if (!json_is_object(sel)) {
		/* A missing selector selects nothing, so nothing matches either. */
		fe_invalid(fe, "spec.template.metadata.labels", json_get(tmpl, "metadata.labels"),
			   "`selector` does not match template `labels`");
	} else {
		size_t len;
		_cleanup_free_ char *packed =
		    packed_labels_from_json(json_get(tmpl, "metadata.labels"), &len);
		if (!label_selector_is_everything(&ls) && !label_selector_matches(&ls, packed))
			fe_invalid(fe, "spec.template.metadata.labels",
				   json_get(tmpl, "metadata.labels"),
				   "`selector` does not match template `labels`");
		label_selector_release(&ls);
	}
	pod_template_validate(tmpl, "spec.template", fe);
	json_t *rp = json_get(tmpl, "spec.restartPolicy");
	if (!streq_ptr(json_string_value(rp), "Always")) {
		_cleanup_json_ json_t *empty = json_string("");
		fe_not_supported(fe, "spec.template.spec.restartPolicy", rp ? rp : empty,
				 STRV("Always"));
	}
	if (json_get(tmpl, "spec.activeDeadlineSeconds"))
		fe_forbidden(fe, "spec.template.spec.activeDeadlineSeconds",
			     "activeDeadlineSeconds in ReplicaSet is not Supported");
}

/* apps/v1 selectors do not change after creation. */
static void validate_selector_update(json_t *obj, json_t *old, struct field_errors *fe)
{
	if (old)
		validate_immutable(obj, old, "spec.selector", fe);
}

static void validate_status_counts(json_t *status, const char *const *fields, size_t n,
				   const char *const *bounded, struct field_errors *fe)
{
	for (size_t i = 0; i < n; i++) {
		FE_PATHF(p, "status.%s", fields[i]);
		json_t *v = json_object_get(status, fields[i]);
		if (v && json_integer_value(v) < 0)
			fe_invalid(fe, p, v, "must be greater than or equal to 0");
	}
	int64_t replicas = json_get_int(status, "replicas", 0);
	for (const char *const *b = bounded; *b; b++) {
		json_t *v = json_object_get(status, *b);
		if (json_integer_value(v) > replicas) {
			FE_PATHF(p, "status.%s", *b);
			fe_invalid(fe, p, v, "cannot be greater than status.replicas");
		}
	}
	json_t *avail = json_object_get(status, "availableReplicas");
	if (json_integer_value(avail) > json_get_int(status, "readyReplicas", 0))
		fe_invalid(fe, "status.availableReplicas", avail,
			   "cannot be greater than readyReplicas");
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

/* An IntOrString holding a count or a percentage: its value, and whether
 * it is a well-formed percentage. */
static bool percent_value(json_t *v, int64_t *ret)
{
	const char *s = json_string_value(v);
	size_t n = s ? strlen(s) : 0;
	if (n < 2 || s[n - 1] != '%')
		return false;
	int64_t x = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (x < 100000000)
			x = x * 10 + (s[i] - '0');
	}
	*ret = x;
	return true;
}

static int64_t int_or_percent_value(json_t *v)
{
	int64_t x;
	if (percent_value(v, &x))
		return x;
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

static void validate_int_or_percent(json_t *v, const char *path, struct field_errors *fe)
{
	int64_t x;
	if (json_is_string(v)) {
		if (!percent_value(v, &x))
			fe_invalid(fe, path, v,
				   "a valid percent string must be a numeric string followed by an "
				   "ending '%' (e.g. '1%' or '93%')");
	} else if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			fe_invalid(fe, path, v, "must be greater than or equal to 0");
	} else if (v) {
		fe_invalid(fe, path, v, "must be an integer or percentage (e.g '5%')");
	}
}

static void deploy_validate(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe)
{
	json_t *spec = json_object_get(obj, "spec");
	validate_nonnegative(spec, "replicas", "spec", fe);
	validate_selector_and_template(obj, fe);

	json_t *strategy = json_object_get(spec, "strategy");
	const char *type = str_or_empty(strategy, "type");
	json_t *ru = json_object_get(strategy, "rollingUpdate");
	if (streq(type, "Recreate")) {
		if (ru)
			fe_forbidden(fe, "spec.strategy.rollingUpdate",
				     "may not be specified when strategy `type` is 'Recreate'");
	} else if (streq(type, "RollingUpdate")) {
		if (!ru) {
			fe_required(fe, "spec.strategy.rollingUpdate",
				    "this should be defaulted and never be nil");
		} else {
			json_t *mu = json_object_get(ru, "maxUnavailable"),
			       *ms = json_object_get(ru, "maxSurge");
			validate_int_or_percent(mu, "spec.strategy.rollingUpdate.maxUnavailable",
						fe);
			validate_int_or_percent(ms, "spec.strategy.rollingUpdate.maxSurge", fe);
			if (int_or_percent_value(mu) == 0 && int_or_percent_value(ms) == 0)
				fe_invalid(fe, "spec.strategy.rollingUpdate.maxUnavailable", mu,
					   "may not be 0 when `maxSurge` is 0");
			int64_t pct;
			if (percent_value(mu, &pct) && pct > 100)
				fe_invalid(fe, "spec.strategy.rollingUpdate.maxUnavailable", mu,
					   "must not be greater than 100%");
		}
	} else {
		fe_not_supported(fe, "spec.strategy", strategy, STRV("Recreate", "RollingUpdate"));
	}
	validate_nonnegative(spec, "minReadySeconds", "spec", fe);
	validate_nonnegative(spec, "revisionHistoryLimit", "spec", fe);
	json_t *pd = json_object_get(spec, "progressDeadlineSeconds");
	if (pd) {
		validate_nonnegative(spec, "progressDeadlineSeconds", "spec", fe);
		if (json_integer_value(pd) <= json_get_int(spec, "minReadySeconds", 0))
			fe_invalid(fe, "spec.progressDeadlineSeconds", pd,
				   "must be greater than minReadySeconds");
	}
	validate_selector_update(obj, old, fe);
}

static void deploy_validate_status(struct api_ctx *ctx, json_t *obj, json_t *old,
				   struct field_errors *fe)
{
	static const char *const fields[] = { "observedGeneration", "replicas",
					      "updatedReplicas",    "readyReplicas",
					      "availableReplicas",  "unavailableReplicas",
					      "collisionCount" };
	json_t *status = json_object_get(obj, "status");
	validate_status_counts(status, fields, ARRAY_SIZE(fields),
			       STRV("updatedReplicas", "readyReplicas", "availableReplicas"), fe);
	json_t *cc = json_object_get(status, "collisionCount");
	json_t *occ = json_get(old, "status.collisionCount");
	if (occ && (!cc || json_integer_value(cc) < json_integer_value(occ))) {
		_cleanup_json_ json_t *v = json_integer(json_integer_value(cc));
		fe_invalid(fe, "status.collisionCount", v, "cannot be decremented");
	}
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
	.flags = RES_STATUS | RES_SCALE | RES_GENERATION | RES_CREATION_EVENT,
	.defaults = deploy_defaults,
	.prepare_create = workload_prepare_create,
	.validate = deploy_validate,
	.validate_status = deploy_validate_status,
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
	json_t *spec = json_object_get(obj, "spec");
	validate_nonnegative(spec, "replicas", "spec", fe);
	validate_nonnegative(spec, "minReadySeconds", "spec", fe);
	validate_selector_and_template(obj, fe);
	validate_selector_update(obj, old, fe);
}

static void rs_validate_status(struct api_ctx *ctx, json_t *obj, json_t *old,
			       struct field_errors *fe)
{
	static const char *const fields[] = { "replicas", "fullyLabeledReplicas", "readyReplicas",
					      "availableReplicas", "observedGeneration" };
	validate_status_counts(json_object_get(obj, "status"), fields, ARRAY_SIZE(fields),
			       STRV("fullyLabeledReplicas", "readyReplicas", "availableReplicas"),
			       fe);
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
	.flags = RES_STATUS | RES_SCALE | RES_GENERATION | RES_CREATION_EVENT,
	.defaults = rs_defaults,
	.prepare_create = workload_prepare_create,
	.validate = rs_validate,
	.validate_status = rs_validate_status,
	.columns = rs_columns,
	.ncolumns = ARRAY_SIZE(rs_columns),
	.row = rs_row,
};
