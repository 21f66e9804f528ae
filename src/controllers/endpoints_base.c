/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the Endpoints and EndpointSlice controllers share: Service and pod
 * handlers that keep the selector index and enqueue the Services a change
 * concerns (endpoints.h).
 */
#include "client/factory.h"
#include "client/informer.h"
#include "client/objects.h"
#include "client/workqueue.h"
#include "controllers/controllers.h"
#include "controllers/endpoints.h"
#include "lib/json.h"
#include "lib/timeutil.h"

void ep_base_enqueue(struct ep_base *b, const char *key)
{
	trigger_note(&b->trig, key, (int64_t)now_usec_realtime());
	workqueue_add(b->q, key);
}

static void svc_changed(struct cobj *obj, void *ud)
{
	struct ep_base *b = ud;
	_cleanup_json_ json_t *svc = cobj_parse(obj);
	if (svc)
		svc_index_set(&b->idx, obj->key, svc);
	ep_base_enqueue(b, obj->key);
}

static void svc_updated(struct cobj *old, struct cobj *obj, void *ud)
{
	if (old->rv == obj->rv)
		return; /* a resync */
	svc_changed(obj, ud);
}

static void svc_deleted(struct cobj *obj, void *ud)
{
	struct ep_base *b = ud;
	svc_index_remove(&b->idx, obj->key);
	ep_base_enqueue(b, obj->key);
}

static void enqueue_key(const char *key, void *ud)
{
	ep_base_enqueue(ud, key);
}

static void pod_added(struct cobj *obj, void *ud)
{
	struct ep_base *b = ud;
	const struct pod_info *pi = obj->ext;
	if (pi)
		svc_index_match(&b->idx, obj->ns, pi->labels, enqueue_key, b);
}

static bool packed_equal(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	for (;;) {
		size_t ka = strlen(a), kb = strlen(b);
		if (ka != kb || memcmp(a, b, ka))
			return false;
		if (!ka)
			return true;
		a += ka + 1;
		b += kb + 1;
		size_t va = strlen(a), vb = strlen(b);
		if (va != vb || memcmp(a, b, va))
			return false;
		a += va + 1;
		b += vb + 1;
	}
}

static void pod_updated(struct cobj *old, struct cobj *obj, void *ud)
{
	struct ep_base *b = ud;
	const struct pod_info *o = old->ext, *n = obj->ext;
	if (!o || !n)
		return;
	bool labels_same = packed_equal(o->labels, n->labels);
	if (labels_same && streq_ptr(o->pod_ip, n->pod_ip) && o->ready == n->ready &&
	    o->deleting == n->deleting && o->terminal == n->terminal &&
	    streq_ptr(o->node_name, n->node_name))
		return;
	svc_index_match(&b->idx, obj->ns, n->labels, enqueue_key, b);
	if (!labels_same)
		svc_index_match(&b->idx, obj->ns, o->labels, enqueue_key, b);
}

static void pod_deleted(struct cobj *obj, void *ud)
{
	pod_added(obj, ud);
}

void ep_base_init(struct ep_base *b, const struct controller_ctx *ctx, const char *name)
{
	b->ctx = ctx;
	b->workers = MAX(1, ctx->opts->workers);
	svc_index_init(&b->idx);
	trigger_times_init(&b->trig);
	b->q = workqueue_new(name);
	b->svcs = informer_factory_get(ctx->factory, "v1", "services");
	b->pods = informer_factory_get(ctx->factory, "v1", "pods");
	struct informer_handlers sh = { .on_add = svc_changed,
					.on_update = svc_updated,
					.on_delete = svc_deleted,
					.userdata = b };
	informer_add_handlers(b->svcs, &sh);
	struct informer_handlers ph = { .on_add = pod_added,
					.on_update = pod_updated,
					.on_delete = pod_deleted,
					.userdata = b };
	informer_add_handlers(b->pods, &ph);
}

void ep_base_release(struct ep_base *b)
{
	workqueue_free(b->q);
	svc_index_release(&b->idx);
	trigger_times_release(&b->trig);
}

struct pod_collect {
	json_t *selector;
	struct cobj **objs;
	size_t n, cap;
};

static void collect_pod(struct cobj *obj, void *ud)
{
	struct pod_collect *pc = ud;
	const struct pod_info *pi = obj->ext;
	if (!pi || isempty(pi->pod_ip) || pi->terminal)
		return;
	if (!ep_selector_matches(pc->selector, pi->labels))
		return;
	if (pc->n == pc->cap) {
		pc->cap = pc->cap ? pc->cap * 2 : 16;
		pc->objs = xrealloc(pc->objs, pc->cap * sizeof(*pc->objs));
	}
	pc->objs[pc->n++] = cobj_ref(obj);
}

static int cmp_cobj_key(const void *a, const void *b)
{
	return strcmp((*(struct cobj *const *)a)->key, (*(struct cobj *const *)b)->key);
}

json_t **ep_base_pods(struct ep_base *b, const char *ns, json_t *selector, size_t *ret_n)
{
	struct pod_collect pc = { .selector = selector };
	informer_foreach(b->pods, ns, collect_pod, &pc);
	if (pc.n > 1)
		qsort(pc.objs, pc.n, sizeof(*pc.objs), cmp_cobj_key);
	json_t **pods = xnew(json_t *, pc.n + 1);
	size_t n = 0;
	for (size_t i = 0; i < pc.n; i++) {
		json_t *p = cobj_parse(pc.objs[i]);
		if (p)
			pods[n++] = p;
		cobj_unref(pc.objs[i]);
	}
	free(pc.objs);
	*ret_n = n;
	return pods;
}

void ep_pods_free(json_t **pods, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(pods[i]);
	free(pods);
}

void ep_trigger_format(int64_t usec, char *buf)
{
	time_format_rfc3339_micro(usec ? usec : (int64_t)now_usec_realtime(), buf);
}
