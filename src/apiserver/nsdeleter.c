/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The namespace deleter: a namespace being deleted (Terminating) is emptied
 * of every namespaced object, then its "kubernetes" finalizer is removed
 * through /finalize and the store drops it. Runs in the API server, through
 * the same operations clients use.
 */
#include "apiserver/apiserver.h"
#include "apiserver/cache.h"
#include "apiserver/ops.h"
#include "lib/json.h"
#include "lib/log.h"

static size_t count_in(struct apiserver *srv, const struct resource *res, const char *ns)
{
	struct obj_filter f = { .ns = ns };
	struct obj_list l;
	cache_list(srv->cache, res, &f, NULL, 0, &l);
	size_t n = l.n;
	obj_list_release(&l);
	return n;
}

/* Returns true when the namespace is empty and was finalized. */
static bool empty_namespace(struct apiserver *srv, const char *ns)
{
	size_t remaining = 0;
	for (const struct resource *const *rp = resources_all; *rp; rp++) {
		const struct resource *res = *rp;
		if (!res->namespaced || resource_storage(res) != res || (res->flags & RES_VIRTUAL))
			continue;
		if (count_in(srv, res, ns) == 0)
			continue;
		struct api_op op;
		api_op_init(&op, srv, res, VERB_DELETECOLLECTION);
		op.ns = ns;
		op.filter.ns = ns;
		op.user = "system:namespace-controller";
		op.body = json_object();
		if (api_op_run_sync(&op) < 0)
			log_v(2, "emptying namespace %s of %s: %s", ns, res->plural, op.err.message);
		api_op_release(&op);
		remaining += count_in(srv, res, ns);
	}
	if (remaining) {
		log_v(2, "namespace %s still holds %zu objects", ns, remaining);
		return false;
	}

	const struct resource *nsres = resource_find("", "v1", "namespaces");
	_cleanup_obj_ struct obj *o = cache_get(srv->cache, nsres, ns);
	if (!o)
		return true;
	_cleanup_json_ json_t *j = obj_parse(o);
	json_t *fin = json_array();
	size_t i;
	json_t *f;
	json_array_foreach(json_get(j, "spec.finalizers"), i, f)
	{
		if (!streq_ptr(json_string_value(f), "kubernetes"))
			json_array_append(fin, f);
	}
	struct api_op op;
	api_op_init(&op, srv, nsres, VERB_UPDATE);
	op.sub = SUB_FINALIZE;
	op.name = ns;
	op.user = "system:namespace-controller";
	op.body = json_pack("{s:s, s:s, s:{s:s}, s:{s:o}}", "apiVersion", "v1", "kind", "Namespace",
			    "metadata", "name", ns, "spec", "finalizers", fin);
	int r = api_op_run_sync(&op);
	if (r < 0 && op.err.code != 404)
		log_error("finalizing namespace %s: %s", ns, op.err.message);
	else
		log_v(1, "namespace %s deleted", ns);
	api_op_release(&op);
	return r == 0;
}

static bool sweep(struct apiserver *srv)
{
	const struct resource *nsres = resource_find("", "v1", "namespaces");
	struct obj_filter all = { 0 };
	struct obj_list l;
	bool pending = false;
	cache_list(srv->cache, nsres, &all, NULL, 0, &l);
	for (size_t i = 0; i < l.n; i++) {
		_cleanup_json_ json_t *j = obj_parse(l.items[i]);
		if (!json_get_str(j, "metadata.deletionTimestamp"))
			continue;
		if (!empty_namespace(srv, obj_name(l.items[i])))
			pending = true;
	}
	obj_list_release(&l);
	return pending;
}

static void *nsdeleter_main(void *arg)
{
	struct apiserver *srv = arg;
	bool pending = true; /* a restart may find namespaces half deleted */
	for (;;) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += pending ? 1 : 30;
		pthread_mutex_lock(&srv->bg_mu);
		while (!srv->stopping && !srv->ns_dirty && !pending) {
			if (pthread_cond_timedwait(&srv->bg_cond, &srv->bg_mu, &ts) == ETIMEDOUT)
				break;
		}
		if (pending && !srv->ns_dirty && !srv->stopping)
			pthread_cond_timedwait(&srv->bg_cond, &srv->bg_mu, &ts);
		bool stop = srv->stopping;
		srv->ns_dirty = false;
		pthread_mutex_unlock(&srv->bg_mu);
		if (stop)
			break;
		pending = sweep(srv);
	}
	return NULL;
}

void apiserver_kick_namespaces(struct apiserver *srv)
{
	pthread_mutex_lock(&srv->bg_mu);
	srv->ns_dirty = true;
	pthread_cond_broadcast(&srv->bg_cond);
	pthread_mutex_unlock(&srv->bg_mu);
}

void nsdeleter_start(struct apiserver *srv)
{
	pthread_create(&srv->nsdeleter, NULL, nsdeleter_main, srv);
}

void nsdeleter_stop(struct apiserver *srv)
{
	pthread_join(srv->nsdeleter, NULL);
}
