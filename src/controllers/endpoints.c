/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Endpoints controller (Kubernetes' pkg/controller/endpoint): for
 * every Service with a selector, a core/v1 Endpoints of the same name
 * listing the pods the selector matches (endpoints_logic.c computes the
 * subsets), written only when its subsets or labels change, deleted with
 * the Service. Services without a selector are left alone: their
 * Endpoints belong to whoever wrote them.
 */
#include "controllers/endpoints.h"
#include "client/factory.h"
#include "client/informer.h"
#include "client/kclient.h"
#include "client/workqueue.h"
#include "controllers/controllers.h"
#include "lib/json.h"
#include "lib/log.h"

struct epc {
	struct controller_ctx ctx;
	struct ep_base base;
	struct informer *eps;
};

static bool same_json(json_t *a, json_t *b, json_t *empty)
{
	return json_equal(a ? a : empty, b ? b : empty);
}

static int delete_endpoints(struct epc *c, const char *ns, const char *name)
{
	_cleanup_free_ char *key = xasprintf("%s/%s", ns, name);
	struct cobj *o = informer_get(c->eps, key);
	if (!o)
		return 0;
	cobj_unref(o);
	_cleanup_free_ char *path = kpath("v1", "endpoints", ns, name);
	long code = kclient_delete(c->ctx.client, path, NULL);
	if (code == 200 || code == 202 || code == 404) {
		log_v(2, "endpoints: deleted %s", key);
		return 0;
	}
	log_v(1, "endpoints: deleting %s: HTTP %ld", key, code);
	return -EAGAIN;
}

static int sync_service(const char *key, void *ud)
{
	struct epc *c = ud;
	int64_t trigger = trigger_take(&c->base.trig, key);
	_cleanup_free_ char *ns = xstrdup(key);
	char *slash = strchr(ns, '/');
	if (!slash)
		return 0;
	*slash = 0;
	const char *name = slash + 1;

	struct cobj *so = informer_get(c->base.svcs, key);
	if (!so)
		return delete_endpoints(c, ns, name);
	_cleanup_json_ json_t *svc = cobj_parse(so);
	cobj_unref(so);
	if (!svc)
		return 0;
	json_t *selector = json_get(svc, "spec.selector");
	if (!json_object_size(selector))
		return 0;

	size_t npods;
	json_t **pods = ep_base_pods(&c->base, ns, selector, &npods);
	_cleanup_json_ json_t *subsets = ep_build_subsets(svc, pods, npods);
	ep_pods_free(pods, npods);
	_cleanup_json_ json_t *labels = ep_labels(svc);

	_cleanup_json_ json_t *old = NULL;
	struct cobj *eo = informer_get(c->eps, key);
	if (eo) {
		old = cobj_parse(eo);
		cobj_unref(eo);
	}
	_cleanup_json_ json_t *empty_arr = json_array(), *empty_obj = json_object();
	if (old && same_json(json_object_get(old, "subsets"), subsets, empty_arr) &&
	    same_json(json_get(old, "metadata.labels"), labels, empty_obj))
		return 0;

	_cleanup_json_ json_t *obj =
	    json_pack("{s:s, s:s, s:{s:s, s:s, s:O}}", "apiVersion", "v1", "kind", "Endpoints",
		      "metadata", "name", name, "namespace", ns, "labels", labels);
	json_t *meta = json_object_get(obj, "metadata");
	json_t *ann = json_get(old, "metadata.annotations");
	ann = json_is_object(ann) ? json_deep_copy(ann) : json_object();
	char ts[48];
	ep_trigger_format(trigger, ts);
	json_set_str(ann, EP_ANNOTATION_TRIGGER, ts);
	json_object_set_new(meta, "annotations", ann);
	if (json_array_size(subsets))
		json_object_set(obj, "subsets", subsets);

	long code;
	_cleanup_json_ json_t *res = NULL;
	if (old) {
		json_object_set(meta, "resourceVersion", json_get(old, "metadata.resourceVersion"));
		_cleanup_free_ char *path = kpath("v1", "endpoints", ns, name);
		res = kclient_put(c->ctx.client, path, obj, &code);
	} else {
		_cleanup_free_ char *path = kpath("v1", "endpoints", ns, NULL);
		res = kclient_post(c->ctx.client, path, obj, &code);
	}
	if (res) {
		log_v(2, "endpoints: %s %s (%zu subsets)", old ? "updated" : "created", key,
		      json_array_size(subsets));
		return 0;
	}
	if (code == 404 && !old)
		return 0; /* the namespace is gone */
	/* A conflict: the cache is behind; retry (with the change time kept). */
	trigger_note(&c->base.trig, key, trigger ? trigger : (int64_t)now_usec_realtime());
	log_v(code == 409 ? 3 : 1, "endpoints: writing %s: HTTP %ld", key, code);
	return -EAGAIN;
}

static void eps_deleted(struct cobj *obj, void *ud)
{
	struct epc *c = ud;
	struct cobj *so = informer_get(c->base.svcs, obj->key);
	if (so) {
		cobj_unref(so);
		ep_base_enqueue(&c->base, obj->key);
	}
}

static void *epc_init(struct controller_ctx *ctx)
{
	struct epc *c = xnew(struct epc, 1);
	c->ctx = *ctx;
	ep_base_init(&c->base, &c->ctx, "endpoint");
	c->eps = informer_factory_get(ctx->factory, "v1", "endpoints");
	struct informer_handlers h = { .on_delete = eps_deleted, .userdata = c };
	informer_add_handlers(c->eps, &h);
	return c;
}

static int epc_run(void *state)
{
	struct epc *c = state;
	return workqueue_run(c->base.q, c->base.workers, sync_service, c);
}

static void epc_stop(void *state)
{
	struct epc *c = state;
	ep_base_release(&c->base);
	free(c);
}

const struct controller_ops endpoints_controller = { "endpoint", epc_init, epc_run, epc_stop };
