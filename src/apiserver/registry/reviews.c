/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Create-only review resources, answered from the request's credentials
 * and never stored: authentication.k8s.io/v1 SelfSubjectReview (`kubectl
 * auth whoami`), authorization.k8s.io/v1 SelfSubjectAccessReview
 * (`kubectl auth can-i`) and SelfSubjectRulesReview (`kubectl auth can-i
 * --list`). Every authenticated user may do everything in
 * c8s (there is no RBAC yet), and the access review says so.
 */
#include "apiserver/registry/common.h"

static json_t *groups_json(struct api_ctx *ctx)
{
	json_t *g = json_array();
	for (const char *const *p = ctx->groups; p && *p; p++)
		json_array_append_new(g, json_string(*p));
	json_array_append_new(g, json_string("system:authenticated"));
	return g;
}

static int whoami(struct api_ctx *ctx, json_t *body, json_t **ret, struct api_error *err)
{
	json_t *r = json_object();
	json_set_str(r, "kind", "SelfSubjectReview");
	json_set_str(r, "apiVersion", "authentication.k8s.io/v1");
	json_t *meta = json_object_get(body, "metadata");
	json_object_set_new(r, "metadata", meta ? json_deep_copy(meta) : json_object());
	json_object_set_new(r, "status",
			    json_pack("{s:{s:s, s:o}}", "userInfo", "username",
				      ctx->user ? ctx->user : "system:anonymous", "groups",
				      groups_json(ctx)));
	*ret = r;
	return 0;
}

static int can_i(struct api_ctx *ctx, json_t *body, json_t **ret, struct api_error *err)
{
	json_t *spec = json_object_get(body, "spec");
	if (!json_object_get(spec, "resourceAttributes") &&
	    !json_object_get(spec, "nonResourceAttributes")) {
		struct field_errors fe = { 0 };
		fe_required(
		    &fe, "spec.resourceAttributes",
		    "exactly one of nonResourceAttributes or resourceAttributes must be specified");
		api_error_invalid(err, ctx->res, "", &fe);
		field_errors_release(&fe);
		return -EINVAL;
	}
	json_t *r = json_deep_copy(body);
	json_set_str(r, "kind", "SelfSubjectAccessReview");
	json_set_str(r, "apiVersion", "authorization.k8s.io/v1");
	if (!json_object_get(r, "metadata"))
		json_object_set_new(r, "metadata", json_object());
	json_object_set_new(
	    r, "status",
	    json_pack("{s:b, s:s}", "allowed", 1, "reason", "c8s allows every authenticated user"));
	*ret = r;
	return 0;
}

/* The rules the user has in spec.namespace: everything. */
static int rules(struct api_ctx *ctx, json_t *body, json_t **ret, struct api_error *err)
{
	json_t *r = json_deep_copy(body);
	json_set_str(r, "kind", "SelfSubjectRulesReview");
	json_set_str(r, "apiVersion", "authorization.k8s.io/v1");
	if (!json_object_get(r, "metadata"))
		json_object_set_new(r, "metadata", json_object());
	json_object_set_new(r, "status",
			    json_pack("{s:[{s:[s], s:[s], s:[s]}], s:[{s:[s], s:[s]}], s:b}",
				      "resourceRules", "verbs", "*", "apiGroups", "*", "resources",
				      "*", "nonResourceRules", "verbs", "*", "nonResourceURLs", "*",
				      "incomplete", 0));
	*ret = r;
	return 0;
}

const struct resource resource_selfsubjectreviews = {
	RESOURCE_GV("authentication.k8s.io", "v1"),
	.kind = "SelfSubjectReview",
	.plural = "selfsubjectreviews",
	.singular = "selfsubjectreview",
	.namespaced = false,
	.flags = RES_VIRTUAL,
	.create_virtual = whoami,
};

const struct resource resource_selfsubjectaccessreviews = {
	RESOURCE_GV("authorization.k8s.io", "v1"),
	.kind = "SelfSubjectAccessReview",
	.plural = "selfsubjectaccessreviews",
	.singular = "selfsubjectaccessreview",
	.namespaced = false,
	.flags = RES_VIRTUAL,
	.create_virtual = can_i,
};

const struct resource resource_selfsubjectrulesreviews = {
	RESOURCE_GV("authorization.k8s.io", "v1"),
	.kind = "SelfSubjectRulesReview",
	.plural = "selfsubjectrulesreviews",
	.singular = "selfsubjectrulesreview",
	.namespaced = false,
	.flags = RES_VIRTUAL,
	.create_virtual = rules,
};
