/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The EndpointSlice controller (Kubernetes' pkg/controller/endpointslice):
 * for every Service with a selector, discovery.k8s.io/v1 EndpointSlices
 * labelled kubernetes.io/service-name and managed-by
 * endpointslice-controller.k8s.io, owned by the Service, holding its pods
 * (IPv4, at most 100 a slice, one port set a slice). eps_reconcile
 * (endpoints_logic.c) decides what to write so that endpoints stay where
 * they are and slices are updated in place.
 *
 * It watches only the slices it manages (a label selector), through its
 * own informer whose per-object struct is the Service name, so finding a
 * Service's slices parses nothing else.
 */
#include <pthread.h>

#include "client/informer.h"
#include "client/kclient.h"
#include "client/workqueue.h"
#include "controllers/controllers.h"
#include "controllers/endpoints.h"
#include "lib/json.h"
#include "lib/log.h"

struct epsc {
	struct controller_ctx ctx;
	struct ep_base base;
	struct informer *slices;
	/* What this controller wrote and its slice informer may not show yet
	 * (Kubernetes' endpointSliceTracker): Service key -> {slice name:
	 * [resourceVersion or -1 when deleted, when written]}. A sync waits
	 * until the cache has caught up, so it never acts on slices it does
	 * not know it made. */
	pthread_mutex_t mu;
	json_t *written;
};

#define STALE_GIVE_UP_USEC (10LL * 1000000)

static void track(struct epsc *c, const char *svc_key, const char *slice, int64_t rv)
{
	pthread_mutex_lock(&c->mu);
	json_t *m = json_object_get(c->written, svc_key);
	if (!m) {
		m = json_object();
		json_object_set_new(c->written, svc_key, m);
	}
	json_object_set_new(m, slice,
			    json_pack("[I, I]", (json_int_t)rv, (json_int_t)now_usec_monotonic()));
	pthread_mutex_unlock(&c->mu);
}

/* Whether the slice cache shows everything written for svc_key. */
static bool cache_current(struct epsc *c, const char *ns, const char *svc_key)
{
	bool ok = true;
	int64_t now = (int64_t)now_usec_monotonic();
	pthread_mutex_lock(&c->mu);
	json_t *m = json_object_get(c->written, svc_key);
	const char *name;
	json_t *v, *tmp;
	json_object_foreach_safe(m, tmp, name, v)
	{
		int64_t rv = json_integer_value(json_array_get(v, 0));
		int64_t at = json_integer_value(json_array_get(v, 1));
		_cleanup_free_ char *key = xasprintf("%s/%s", ns, name);
		struct cobj *o = informer_get(c->slices, key);
		/* Gone from a cache that has seen our write's revision: it
		 * was deleted since, which is as current as it gets. */
		bool seen = rv < 0 ? !o : o ? o->rv >= rv : informer_last_rv(c->slices) >= rv;
		if (o)
			cobj_unref(o);
		if (seen || now - at > STALE_GIVE_UP_USEC)
			json_object_del(m, name);
		else
			ok = false;
	}
	if (m && !json_object_size(m))
		json_object_del(c->written, svc_key);
	pthread_mutex_unlock(&c->mu);
	return ok;
}

struct slice_ext {
	char *service;
};

static void *slice_extract(json_t *obj)
{
	struct slice_ext *x = xnew(struct slice_ext, 1);
	const char *svc = json_string_value(
	    json_object_get(json_get(obj, "metadata.labels"), EPS_LABEL_SERVICE_NAME));
	x->service = xstrdup(svc ? svc : "");
	return x;
}

static void slice_ext_free(void *p)
{
	struct slice_ext *x = p;
	if (!x)
		return;
	free(x->service);
	free(x);
}

struct slice_collect {
	const char *service;
	struct cobj **objs;
	size_t n, cap;
};

static void collect_slice(struct cobj *obj, void *ud)
{
	struct slice_collect *sc = ud;
	const struct slice_ext *x = obj->ext;
	if (!x || !streq(x->service, sc->service))
		return;
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 4;
		sc->objs = xrealloc(sc->objs, sc->cap * sizeof(*sc->objs));
	}
	sc->objs[sc->n++] = cobj_ref(obj);
}

static bool owned_by(json_t *slice, const char *uid)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_get(slice, "metadata.ownerReferences"), i, r)
	{
		if (streq_ptr(json_get_str(r, "uid"), uid) &&
		    streq_ptr(json_get_str(r, "kind"), "Service"))
			return true;
	}
	return false;
}

static int delete_slice(struct epsc *c, json_t *slice)
{
	const char *ns = json_get_str(slice, "metadata.namespace");
	const char *name = json_get_str(slice, "metadata.name");
	_cleanup_free_ char *path = kpath("discovery.k8s.io/v1", "endpointslices", ns, name);
	long code = kclient_delete(c->ctx.client, path, NULL);
	if (code == 200 || code == 202 || code == 404) {
		log_v(2, "endpointslice: deleted %s/%s", ns, name);
		return 0;
	}
	log_v(1, "endpointslice: deleting %s/%s: HTTP %ld", ns, name, code);
	return -EAGAIN;
}

/* Labels, owner and annotation of a slice of svc. */
static void set_meta(json_t *meta, json_t *svc, json_t *labels, const char *trigger)
{
	json_object_set(meta, "labels", labels);
	json_object_set_new(meta, "ownerReferences",
			    json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", "v1",
				      "kind", "Service", "name",
				      str_or_empty_json(svc, "metadata.name"), "uid",
				      str_or_empty_json(svc, "metadata.uid"), "controller", 1,
				      "blockOwnerDeletion", 1));
	json_t *ann = json_object_ensure(meta, "annotations");
	json_set_str(ann, EP_ANNOTATION_TRIGGER, trigger);
}

static int apply(struct epsc *c, json_t *svc, json_t *labels, const char *trigger,
		 const struct eps_action *a)
{
	const char *ns = json_get_str(svc, "metadata.namespace");
	const char *name = json_get_str(svc, "metadata.name");
	long code;
	_cleanup_json_ json_t *res = NULL;
	_cleanup_free_ char *svc_key = xasprintf("%s/%s", ns, name);
	if (a->op == EPS_DELETE) {
		int r = delete_slice(c, a->slice);
		if (r == 0)
			track(c, svc_key, json_get_str(a->slice, "metadata.name"), -1);
		return r;
	}
	if (a->op == EPS_CREATE) {
		_cleanup_free_ char *gen = xasprintf("%s-", name);
		_cleanup_json_ json_t *obj = json_pack(
		    "{s:s, s:s, s:{s:s, s:s}, s:s, s:O, s:O}", "apiVersion", "discovery.k8s.io/v1",
		    "kind", "EndpointSlice", "metadata", "generateName", gen, "namespace", ns,
		    "addressType", "IPv4", "endpoints", a->endpoints, "ports", a->ports);
		set_meta(json_object_get(obj, "metadata"), svc, labels, trigger);
		_cleanup_free_ char *path =
		    kpath("discovery.k8s.io/v1", "endpointslices", ns, NULL);
		res = kclient_post(c->ctx.client, path, obj, &code);
		if (!res && code != 404) {
			log_v(1, "endpointslice: creating a slice of %s/%s: HTTP %ld", ns, name,
			      code);
			return -EAGAIN;
		}
		if (res)
			track(
			    c, svc_key, json_get_str(res, "metadata.name"),
			    strtoll(str_or_empty_json(res, "metadata.resourceVersion"), NULL, 10));
		log_v(2, "endpointslice: created %s/%s (%zu endpoints)", ns,
		      res ? json_get_str(res, "metadata.name") : "?",
		      json_array_size(a->endpoints));
		return 0;
	}
	/* UPDATE, or KEEP whose labels or owner are not as they should be. */
	json_t *meta = json_object_get(a->slice, "metadata");
	if (a->op == EPS_KEEP && json_equal(json_object_get(meta, "labels"), labels) &&
	    owned_by(a->slice, str_or_empty_json(svc, "metadata.uid")) &&
	    json_array_size(json_object_get(meta, "ownerReferences")) == 1)
		return 0;
	_cleanup_json_ json_t *obj = json_deep_copy(a->slice);
	json_object_set(obj, "endpoints", a->endpoints);
	json_object_set(obj, "ports", a->ports);
	set_meta(json_object_get(obj, "metadata"), svc, labels, trigger);
	const char *sname = json_get_str(obj, "metadata.name");
	_cleanup_free_ char *path = kpath("discovery.k8s.io/v1", "endpointslices", ns, sname);
	res = kclient_put(c->ctx.client, path, obj, &code);
	if (!res && code != 404) {
		log_v(code == 409 ? 3 : 1, "endpointslice: updating %s/%s: HTTP %ld", ns, sname,
		      code);
		return -EAGAIN;
	}
	if (res)
		track(c, svc_key, sname,
		      strtoll(str_or_empty_json(res, "metadata.resourceVersion"), NULL, 10));
	log_v(2, "endpointslice: updated %s/%s (%zu endpoints)", ns, sname,
	      json_array_size(a->endpoints));
	return 0;
}

/* Bring the slices of svc (its managed ones, parsed) in line with its pods. */
static int sync_slices(struct epsc *c, json_t *svc, const char *ns, const char *name,
		       json_t **slices, size_t nslices, int64_t trigger)
{
	int r = 0;
	json_t *selector = json_get(svc, "spec.selector");
	/* Slices of an earlier Service of the same name are not ours. */
	const char *uid = str_or_empty_json(svc, "metadata.uid");
	size_t nowned = 0;
	for (size_t i = 0; i < nslices; i++) {
		if (owned_by(slices[i], uid)) {
			json_t *t = slices[nowned];
			slices[nowned++] = slices[i];
			slices[i] = t;
		} else if (delete_slice(c, slices[i]) < 0) {
			r = -EAGAIN;
		}
	}

	size_t npods;
	json_t **pods = ep_base_pods(&c->base, ns, selector, &npods);
	_cleanup_json_ json_t *endpoints = json_array(), *ports = json_array();
	for (size_t i = 0; i < npods; i++) {
		json_t *e = eps_endpoint(svc, pods[i]);
		if (!e)
			continue;
		json_array_append_new(endpoints, e);
		json_array_append_new(ports, eps_ports(svc, pods[i]));
	}
	ep_pods_free(pods, npods);

	_cleanup_json_ json_t *labels = ep_labels(svc);
	json_set_str(labels, EPS_LABEL_SERVICE_NAME, name);
	json_set_str(labels, EPS_LABEL_MANAGED_BY, EPS_MANAGER);
	char ts[48];
	ep_trigger_format(trigger, ts);

	struct eps_plan plan;
	eps_reconcile(endpoints, ports, slices, nowned, EPS_MAX_ENDPOINTS, &plan);
	/* Deletions last, so that an endpoint moving between slices is
	 * never missing from all of them. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < plan.n; i++)
			if ((plan.a[i].op == EPS_DELETE) == (pass == 1) &&
			    apply(c, svc, labels, ts, &plan.a[i]) < 0)
				r = -EAGAIN;
	eps_plan_release(&plan);
	return r;
}

static int sync_service(const char *key, void *ud)
{
	struct epsc *c = ud;
	int64_t trigger = trigger_take(&c->base.trig, key);
	_cleanup_free_ char *ns = xstrdup(key);
	char *slash = strchr(ns, '/');
	if (!slash)
		return 0;
	*slash = 0;
	const char *name = slash + 1;

	if (!cache_current(c, ns, key)) {
		/* Our own writes are not in the cache yet: look again soon. */
		trigger_note(&c->base.trig, key, trigger ? trigger : (int64_t)now_usec_realtime());
		workqueue_add_after(c->base.q, key, 100000);
		return 0;
	}
	struct slice_collect sc = { .service = name };
	informer_foreach(c->slices, ns, collect_slice, &sc);
	json_t **slices = xnew(json_t *, sc.n + 1);
	size_t nslices = 0;
	for (size_t i = 0; i < sc.n; i++) {
		json_t *s = cobj_parse(sc.objs[i]);
		if (s)
			slices[nslices++] = s;
		cobj_unref(sc.objs[i]);
	}
	free(sc.objs);

	int r = 0;
	struct cobj *so = informer_get(c->base.svcs, key);
	_cleanup_json_ json_t *svc = so ? cobj_parse(so) : NULL;
	if (so)
		cobj_unref(so);
	json_t *selector = json_get(svc, "spec.selector");
	if (!svc || !json_object_size(selector)) {
		/* Gone (the garbage collector would delete them too), or no
		 * selector any more: its managed slices go. */
		for (size_t i = 0; i < nslices; i++)
			if (delete_slice(c, slices[i]) < 0)
				r = -EAGAIN;
	} else {
		r = sync_slices(c, svc, ns, name, slices, nslices, trigger);
	}

	for (size_t i = 0; i < nslices; i++)
		json_decref(slices[i]);
	free(slices);
	if (r < 0)
		trigger_note(&c->base.trig, key, trigger ? trigger : (int64_t)now_usec_realtime());
	return r;
}

static void slice_deleted(struct cobj *obj, void *ud)
{
	struct epsc *c = ud;
	const struct slice_ext *x = obj->ext;
	if (!x || isempty(x->service))
		return;
	_cleanup_free_ char *key = xasprintf("%s/%s", obj->ns, x->service);
	struct cobj *so = informer_get(c->base.svcs, key);
	if (so) {
		cobj_unref(so);
		ep_base_enqueue(&c->base, key);
	}
}

static void *epsc_init(struct controller_ctx *ctx)
{
	struct epsc *c = xnew(struct epsc, 1);
	c->ctx = *ctx;
	pthread_mutex_init(&c->mu, NULL);
	c->written = json_object();
	struct informer_opts io = {
		.api_version = "discovery.k8s.io/v1",
		.plural = "endpointslices",
		.label_selector = EPS_LABEL_MANAGED_BY "=" EPS_MANAGER,
		.extract = slice_extract,
		.ext_free = slice_ext_free,
	};
	if (informer_new(ctx->client, &io, &c->slices) < 0) {
		json_decref(c->written);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return NULL;
	}
	ep_base_init(&c->base, &c->ctx, "endpointslice");
	struct informer_handlers h = { .on_delete = slice_deleted, .userdata = c };
	informer_add_handlers(c->slices, &h);
	return c;
}

static int epsc_run(void *state)
{
	struct epsc *c = state;
	int r = informer_start(c->slices);
	if (r < 0)
		return r;
	if (!informer_wait_synced(c->slices, 30LL * 1000000))
		log_error("endpointslice: slices did not sync in 30 s; continuing");
	return workqueue_run(c->base.q, c->base.workers, sync_service, c);
}

static void epsc_stop(void *state)
{
	struct epsc *c = state;
	informer_stop(c->slices);
	ep_base_release(&c->base);
	informer_free(c->slices);
	json_decref(c->written);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const struct controller_ops endpointslice_controller = { "endpointslice", epsc_init, epsc_run,
							 epsc_stop };
