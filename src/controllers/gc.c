/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Garbage collector (Kubernetes' pkg/controller/garbagecollector): deletes
 * objects whose owners are gone, and carries out foreground and orphan
 * deletion. Theory of operation in README.md; in short:
 *
 * - Informers on every kind that may own or be owned keep a dependency
 *   graph (gc.h): the objects that have ownerReferences, and an index from
 *   owner uid to dependents. Handlers read the three metadata fields they
 *   need straight from the JSON bytes and skip events that change none.
 * - Two queues, as in Kubernetes: "attempt to delete" holds dependents to
 *   check (are their owners still there?) and owners being deleted in the
 *   foreground (are their blocking dependents gone?); "attempt to orphan"
 *   holds owners deleted with propagationPolicy=Orphan.
 * - An owner is looked up in the informer cache first; the cache can only
 *   lag, so an owner missing there is confirmed with a GET before anything
 *   is deleted. Owners confirmed absent are remembered (uids never come
 *   back).
 * - Writes: DELETE with uid and resourceVersion preconditions and the
 *   propagation policy Kubernetes would use; JSON patches whose "test"
 *   operations make removing owner references and finalizers atomic.
 */
#include <pthread.h>

#include "client/events.h"
#include "client/factory.h"
#include "client/informer.h"
#include "client/kclient.h"
#include "client/workqueue.h"
#include "controllers/controllers.h"
#include "controllers/gc.h"
#include "lib/json.h"
#include "lib/log.h"

/* The kinds watched: every served kind that can own or be owned. Events
 * are left out (high volume, never owners, expired by TTL), as are the
 * review kinds (not stored). */
static const struct gc_kind {
	const char *api_version, *group, *kind, *plural;
	bool namespaced;
} kinds[] = {
	{ "v1", "", "Pod", "pods", true },
	{ "apps/v1", "apps", "ReplicaSet", "replicasets", true },
	{ "apps/v1", "apps", "Deployment", "deployments", true },
	{ "v1", "", "Service", "services", true },
	{ "v1", "", "Endpoints", "endpoints", true },
	{ "discovery.k8s.io/v1", "discovery.k8s.io", "EndpointSlice", "endpointslices", true },
	{ "v1", "", "ConfigMap", "configmaps", true },
	{ "v1", "", "Secret", "secrets", true },
	{ "v1", "", "ServiceAccount", "serviceaccounts", true },
	{ "v1", "", "Node", "nodes", false },
	{ "v1", "", "Namespace", "namespaces", false },
	{ "coordination.k8s.io/v1", "coordination.k8s.io", "Lease", "leases", true },
};
#define NKINDS ARRAY_SIZE(kinds)

/* How many uids confirmed absent are remembered. */
#define ABSENT_MAX 8192

struct gc;

struct gc_watch {
	struct gc *g;
	int kind;
	struct informer *inf;
};

struct absent {
	struct avl_node avl;
	char *uid;
};

struct gc {
	struct controller_ctx ctx;
	struct gc_watch w[NKINDS];
	struct workqueue *attempt, *orphan;
	int workers;

	pthread_mutex_t mu;
	struct gc_graph graph;
	struct avl_tree absent;
	char *absent_ring[ABSENT_MAX];
	size_t absent_next;
};

static int kind_find(const char *api_version, const char *kind)
{
	char group[128];
	gc_api_group(api_version, group, sizeof(group));
	for (size_t i = 0; i < NKINDS; i++)
		if (streq(kinds[i].group, group) && streq_ptr(kinds[i].kind, kind))
			return (int)i;
	return -1;
}

/* ---- queue keys: "kind|ns|name|uid" ---- */

static void enqueue(struct workqueue *q, int kind, const char *ns, const char *name,
		    const char *uid)
{
	_cleanup_free_ char *key = xasprintf("%d|%s|%s|%s", kind, ns ? ns : "", name, uid);
	workqueue_add(q, key);
}

struct item {
	int kind;
	char *ns, *name, *uid;
	char *buf;
};

static int item_parse(const char *key, struct item *ret)
{
	char *buf = xstrdup(key);
	char *f[4];
	char *p = buf;
	for (int i = 0; i < 4; i++) {
		f[i] = p;
		p = i < 3 ? strchr(p, '|') : NULL;
		if (i < 3 && !p) {
			free(buf);
			return -EINVAL;
		}
		if (p)
			*p++ = 0;
	}
	int kind = atoi(f[0]);
	if (kind < 0 || kind >= (int)NKINDS) {
		free(buf);
		return -EINVAL;
	}
	*ret = (struct item){ kind, f[1], f[2], f[3], buf };
	return 0;
}

static char *cache_key(int kind, const char *ns, const char *name)
{
	return kinds[kind].namespaced ? xasprintf("%s/%s", ns, name) : xstrdup(name);
}

/* The cached object kind/ns/name if its uid is uid (a reference), or NULL. */
static struct cobj *cached(struct gc *g, int kind, const char *ns, const char *name,
			   const char *uid)
{
	_cleanup_free_ char *key = cache_key(kind, ns, name);
	struct cobj *o = informer_get(g->w[kind].inf, key);
	if (o && !streq(o->uid, uid)) {
		cobj_unref(o);
		return NULL;
	}
	return o;
}

/* ---- absent owners ---- */

static int absent_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct absent, avl)->uid);
}

static bool absent_has(struct gc *g, const char *uid)
{
	pthread_mutex_lock(&g->mu);
	bool r = avl_find(&g->absent, uid) != NULL;
	pthread_mutex_unlock(&g->mu);
	return r;
}

static void absent_add(struct gc *g, const char *uid)
{
	pthread_mutex_lock(&g->mu);
	if (!avl_find(&g->absent, uid)) {
		char *old = g->absent_ring[g->absent_next];
		if (old) {
			struct avl_node *n = avl_find(&g->absent, old);
			struct absent *a = avl_entry(n, struct absent, avl);
			avl_remove(&g->absent, n);
			free(a->uid);
			free(a);
		}
		struct absent *a = xnew(struct absent, 1);
		a->uid = xstrdup(uid);
		avl_insert(&g->absent, a->uid, &a->avl);
		g->absent_ring[g->absent_next] = a->uid;
		g->absent_next = (g->absent_next + 1) % ABSENT_MAX;
	}
	pthread_mutex_unlock(&g->mu);
}

/* ---- informer handlers: keep the graph, queue work ---- */

struct collected {
	struct {
		int kind;
		char *ns, *name, *uid;
	} * v;
	size_t n;
};

static void collect(struct collected *c, int kind, const char *ns, const char *name,
		    const char *uid)
{
	c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n].kind = kind;
	c->v[c->n].ns = xstrdup(ns);
	c->v[c->n].name = xstrdup(name);
	c->v[c->n].uid = xstrdup(uid);
	c->n++;
}

static void collect_dep(struct gc_node *dep, bool block, void *ud)
{
	collect(ud, dep->kind, dep->ns, dep->name, dep->uid);
}

/* Owners of a namespaced object live in its namespace (or are
 * cluster-scoped); collect the ones of known kinds. */
static void collect_owners(struct collected *c, const char *ns, const struct gc_owner *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int k = kind_find(o[i].api_version, o[i].kind);
		if (k >= 0)
			collect(c, k, kinds[k].namespaced ? ns : "", o[i].name, o[i].uid);
	}
}

static void flush(struct collected *c, struct workqueue *q)
{
	for (size_t i = 0; i < c->n; i++) {
		enqueue(q, c->v[i].kind, c->v[i].ns, c->v[i].name, c->v[i].uid);
		free(c->v[i].ns);
		free(c->v[i].name);
		free(c->v[i].uid);
	}
	free(c->v);
	*c = (struct collected){ 0 };
}

/* Are all owners in the cache, none waiting for its dependents? Then a
 * new dependent needs no check. */
static bool owners_all_cached(struct gc *g, const char *ns, const struct gc_owner *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int k = kind_find(o[i].api_version, o[i].kind);
		if (k < 0)
			continue;
		struct cobj *oc = cached(g, k, kinds[k].namespaced ? ns : "", o[i].name, o[i].uid);
		if (!oc)
			return false;
		struct gc_meta m;
		bool waiting = gc_scan_meta(oc->json, oc->len, &m) == 0 && m.deleting &&
			       gc_meta_has_finalizer(&m, GC_FINALIZER_FOREGROUND);
		cobj_unref(oc);
		if (waiting)
			return false;
	}
	return true;
}

static bool same_owners(const struct gc_owner *a, size_t na, const struct gc_owner *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!streq(a[i].uid, b[i].uid) || a[i].block != b[i].block)
			return false;
	return true;
}

static void observe(struct gc_watch *w, struct cobj *old, struct cobj *obj)
{
	struct gc *g = w->g;
	struct gc_meta m, om;
	if (gc_scan_meta(obj->json, obj->len, &m) < 0)
		return;
	if (old && gc_scan_meta(old->json, old->len, &om) == 0 && gc_meta_equal(&m, &om))
		return; /* nothing the collector looks at changed */

	struct gc_owner *owners;
	size_t n = gc_owners_parse(m.owners, m.owners_len, &owners);
	bool fg = m.deleting && gc_meta_has_finalizer(&m, GC_FINALIZER_FOREGROUND);
	bool orphan = m.deleting && gc_meta_has_finalizer(&m, GC_FINALIZER_ORPHAN);
	struct collected owners_gone = { 0 }, deps = { 0 };
	bool check_self = false;

	pthread_mutex_lock(&g->mu);
	struct gc_node *prev = gc_graph_find(&g->graph, obj->uid);
	if (prev) {
		/* Owners it no longer names may be waiting for it. */
		for (size_t i = 0; i < prev->nowners; i++) {
			bool kept = false;
			for (size_t k = 0; k < n && !kept; k++)
				kept = streq(prev->owners[i].uid, owners[k].uid);
			if (!kept)
				collect_owners(&owners_gone, obj->ns, &prev->owners[i], 1);
		}
		check_self = n && !same_owners(prev->owners, prev->nowners, owners, n);
	} else {
		check_self = n > 0;
	}
	if (fg)
		gc_graph_foreach_dependent(&g->graph, obj->uid, collect_dep, &deps);
	gc_graph_set(&g->graph, obj->uid, w->kind, obj->ns, obj->name, owners, n, fg);
	pthread_mutex_unlock(&g->mu);

	if (check_self && !m.deleting) {
		struct gc_owner *copy;
		size_t cn = gc_owners_parse(m.owners, m.owners_len, &copy);
		if (!owners_all_cached(g, obj->ns, copy, cn))
			enqueue(g->attempt, w->kind, obj->ns, obj->name, obj->uid);
		gc_owners_free(copy, cn);
	}
	if (fg) {
		enqueue(g->attempt, w->kind, obj->ns, obj->name, obj->uid);
		flush(&deps, g->attempt);
	}
	if (orphan)
		enqueue(g->orphan, w->kind, obj->ns, obj->name, obj->uid);
	flush(&owners_gone, g->attempt);
}

static void on_add(struct cobj *obj, void *ud)
{
	observe(ud, NULL, obj);
}

static void on_update(struct cobj *old, struct cobj *obj, void *ud)
{
	observe(ud, old, obj);
}

static void on_delete(struct cobj *obj, void *ud)
{
	struct gc_watch *w = ud;
	struct gc *g = w->g;
	struct collected deps = { 0 }, owners = { 0 };
	pthread_mutex_lock(&g->mu);
	/* Its dependents lost an owner; its owners may be waiting for it. */
	gc_graph_foreach_dependent(&g->graph, obj->uid, collect_dep, &deps);
	struct gc_node *d = gc_graph_find(&g->graph, obj->uid);
	if (d)
		collect_owners(&owners, obj->ns, d->owners, d->nowners);
	gc_graph_remove(&g->graph, obj->uid);
	pthread_mutex_unlock(&g->mu);
	if (deps.n)
		absent_add(g, obj->uid);
	flush(&deps, g->attempt);
	flush(&owners, g->attempt);
}

/* ---- writes ---- */

static char *object_path(int kind, const char *ns, const char *name)
{
	return kpath(kinds[kind].api_version, kinds[kind].plural,
		     kinds[kind].namespaced ? ns : NULL, name);
}

static int write_result(long code, const char *what, const struct item *it)
{
	if ((code >= 200 && code < 300) || code == 404)
		return 0;
	log_v(1, "gc: %s %s %s/%s: %ld", what, kinds[it->kind].kind, it->ns, it->name, code);
	return -EAGAIN;
}

/* Replace metadata.<field> (old: its current value, checked by the patch)
 * with value, or remove it when value is empty. */
static int patch_metadata(struct gc *g, const struct item *it, const char *field, json_t *old,
			  json_t *value)
{
	_cleanup_free_ char *fpath = xasprintf("/metadata/%s", field);
	json_t *ops =
	    json_pack("[{s:s, s:s, s:s}]", "op", "test", "path", "/metadata/uid", "value", it->uid);
	json_array_append_new(
	    ops, json_pack("{s:s, s:s, s:O}", "op", "test", "path", fpath, "value", old));
	if (json_array_size(value))
		json_array_append_new(ops, json_pack("{s:s, s:s, s:O}", "op", "replace", "path",
						     fpath, "value", value));
	else
		json_array_append_new(ops, json_pack("{s:s, s:s}", "op", "remove", "path", fpath));
	_cleanup_json_ json_t *opsp = ops;
	_cleanup_free_ char *path = object_path(it->kind, it->ns, it->name);
	long code;
	_cleanup_json_ json_t *res =
	    kclient_patch(g->ctx.client, path, "application/json-patch+json", ops, &code);
	return res ? 0 : write_result(code, "patching", it);
}

/* obj's ownerReferences with the references to uids in drop removed (drop
 * NULL: none), and blockOwnerDeletion cleared if unblock. */
static json_t *rewrite_refs(json_t *refs, bool (*drop)(const char *uid, void *ud), void *ud,
			    bool unblock)
{
	json_t *out = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(refs, i, r)
	{
		if (drop && drop(json_get_str(r, "uid"), ud))
			continue;
		json_t *c = json_deep_copy(r);
		if (unblock && json_object_get(c, "blockOwnerDeletion"))
			json_object_set_new(c, "blockOwnerDeletion", json_false());
		json_array_append_new(out, c);
	}
	return out;
}

static int patch_refs(struct gc *g, const struct item *it, json_t *obj,
		      bool (*drop)(const char *uid, void *ud), void *ud, bool unblock)
{
	json_t *refs = json_get(obj, "metadata.ownerReferences");
	_cleanup_json_ json_t *nrefs = rewrite_refs(refs, drop, ud, unblock);
	if (json_equal(refs, nrefs))
		return 0;
	return patch_metadata(g, it, "ownerReferences", refs, nrefs);
}

static int remove_finalizer(struct gc *g, const struct item *it, json_t *obj, const char *fin)
{
	json_t *old = json_get(obj, "metadata.finalizers");
	_cleanup_json_ json_t *nf = json_array();
	size_t i;
	json_t *f;
	json_array_foreach(old, i, f)
	{
		if (!streq_ptr(json_string_value(f), fin))
			json_array_append(nf, f);
	}
	if (json_array_size(nf) == json_array_size(old))
		return 0;
	int r = patch_metadata(g, it, "finalizers", old, nf);
	if (r == 0)
		log_v(1, "gc: removed finalizer %s from %s %s%s%s", fin, kinds[it->kind].kind,
		      it->ns, *it->ns ? "/" : "", it->name);
	return r;
}

static int delete_object(struct gc *g, const struct item *it, json_t *obj, const char *policy)
{
	_cleanup_free_ char *path = object_path(it->kind, it->ns, it->name);
	_cleanup_json_ json_t *opts =
	    json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
		      "propagationPolicy", policy, "preconditions", "uid", it->uid,
		      "resourceVersion", str_or_empty_json(obj, "metadata.resourceVersion"));
	long code = kclient_delete(g->ctx.client, path, opts);
	if (code >= 200 && code < 300)
		log_v(1, "gc: deleted %s %s%s%s (%s)", kinds[it->kind].kind, it->ns,
		      *it->ns ? "/" : "", it->name, policy);
	return write_result(code, "deleting", it);
}

/* ---- attempt to delete ---- */

/* The state of the owner a reference names, for a dependent in ns (""
 * when cluster-scoped). Returns 0 or -EAGAIN (could not tell). */
static int owner_state(struct gc *g, const struct gc_owner *o, const char *ns, bool namespaced,
		       enum gc_owner_state *ret)
{
	int k = kind_find(o->api_version, o->kind);
	if (k < 0) {
		/* A kind c8s does not serve or watch: it cannot be checked, so
		 * it is trusted. */
		log_v(4, "gc: owner %s %s of unknown kind: treated as present", o->kind, o->name);
		*ret = GC_OWNER_SOLID;
		return 0;
	}
	if (kinds[k].namespaced && !namespaced) {
		/* A cluster-scoped object cannot have a namespaced owner. */
		*ret = GC_OWNER_DANGLING;
		return 0;
	}
	if (absent_has(g, o->uid)) {
		*ret = GC_OWNER_DANGLING;
		return 0;
	}
	const char *ons = kinds[k].namespaced ? ns : "";
	struct cobj *oc = cached(g, k, ons, o->name, o->uid);
	if (oc) {
		struct gc_meta m;
		bool waiting = gc_scan_meta(oc->json, oc->len, &m) == 0 && m.deleting &&
			       gc_meta_has_finalizer(&m, GC_FINALIZER_FOREGROUND);
		cobj_unref(oc);
		*ret = waiting ? GC_OWNER_WAITING : GC_OWNER_SOLID;
		return 0;
	}
	/* Not in the cache, which may lag: ask the server. */
	_cleanup_free_ char *path = object_path(k, ons, o->name);
	long code;
	_cleanup_json_ json_t *live = kclient_get(g->ctx.client, path, &code);
	if (!live && code != 404)
		return -EAGAIN;
	if (!live || !streq_ptr(json_get_str(live, "metadata.uid"), o->uid)) {
		absent_add(g, o->uid);
		*ret = GC_OWNER_DANGLING;
		return 0;
	}
	bool waiting = false;
	size_t i;
	json_t *f;
	if (json_get(live, "metadata.deletionTimestamp"))
		json_array_foreach(json_get(live, "metadata.finalizers"), i, f) waiting |=
		    streq_ptr(json_string_value(f), GC_FINALIZER_FOREGROUND);
	*ret = waiting ? GC_OWNER_WAITING : GC_OWNER_SOLID;
	return 0;
}

struct blocking {
	struct collected deps;
	bool waiting; /* some blocking dependent remains */
};

static void collect_blocking(struct gc_node *dep, bool block, void *ud)
{
	struct blocking *b = ud;
	if (!block)
		return;
	b->waiting = true;
	if (!dep->deleting_dependents)
		collect(&b->deps, dep->kind, dep->ns, dep->name, dep->uid);
}

/* An owner deleted in the foreground: once no dependent blocks it, drop the
 * foregroundDeletion finalizer (and the API server deletes it). */
static int process_deleting_dependents(struct gc *g, const struct item *it, json_t *obj)
{
	struct blocking b = { 0 };
	pthread_mutex_lock(&g->mu);
	gc_graph_foreach_dependent(&g->graph, it->uid, collect_blocking, &b);
	pthread_mutex_unlock(&g->mu);
	if (!b.waiting)
		return remove_finalizer(g, it, obj, GC_FINALIZER_FOREGROUND);
	/* Make sure each is on its way; their deletions requeue us. */
	flush(&b.deps, g->attempt);
	return 0;
}

struct drop_set {
	const struct gc_owner *owners;
	const bool *remove;
	size_t n;
};

static bool drop_marked(const char *uid, void *ud)
{
	const struct drop_set *d = ud;
	for (size_t i = 0; i < d->n; i++)
		if (d->remove[i] && streq_ptr(d->owners[i].uid, uid))
			return true;
	return false;
}

static bool dependent_deleting(struct gc *g, const char *uid)
{
	struct collected deps = { 0 };
	bool any = false;
	pthread_mutex_lock(&g->mu);
	gc_graph_foreach_dependent(&g->graph, uid, collect_dep, &deps);
	for (size_t i = 0; i < deps.n; i++) {
		struct gc_node *d = gc_graph_find(&g->graph, deps.v[i].uid);
		any |= d && d->deleting_dependents;
		free(deps.v[i].ns);
		free(deps.v[i].name);
		free(deps.v[i].uid);
	}
	pthread_mutex_unlock(&g->mu);
	free(deps.v);
	return any;
}

static int attempt_to_delete(struct gc *g, const struct item *it)
{
	struct cobj *oc = cached(g, it->kind, it->ns, it->name, it->uid);
	if (!oc)
		return 0; /* gone (or replaced by another of that name) */
	struct gc_meta m;
	int r = gc_scan_meta(oc->json, oc->len, &m);
	if (r < 0) {
		cobj_unref(oc);
		return 0;
	}
	_cleanup_json_ json_t *obj = NULL;
	if (m.deleting) {
		if (gc_meta_has_finalizer(&m, GC_FINALIZER_FOREGROUND)) {
			obj = cobj_parse(oc);
			r = obj ? process_deleting_dependents(g, it, obj) : 0;
		}
		cobj_unref(oc);
		return r;
	}
	struct gc_owner *owners;
	size_t n = gc_owners_parse(m.owners, m.owners_len, &owners);
	bool own_orphan = gc_meta_has_finalizer(&m, GC_FINALIZER_ORPHAN);
	bool own_fg = gc_meta_has_finalizer(&m, GC_FINALIZER_FOREGROUND);
	if (n)
		obj = cobj_parse(oc);
	cobj_unref(oc);
	if (!n || !obj) {
		gc_owners_free(owners, n);
		return 0;
	}

	enum gc_owner_state *st = xnew(enum gc_owner_state, n);
	bool *remove = xnew(bool, n);
	for (size_t i = 0; i < n && r == 0; i++)
		r = owner_state(g, &owners[i], it->ns, kinds[it->kind].namespaced, &st[i]);
	if (r < 0)
		goto out;
	pthread_mutex_lock(&g->mu);
	bool has_deps = gc_graph_count_dependents(&g->graph, it->uid) > 0;
	pthread_mutex_unlock(&g->mu);
	bool dep_deleting = has_deps && dependent_deleting(g, it->uid);
	struct gc_decision d;
	gc_decide(st, n, has_deps, dep_deleting, own_orphan, own_fg, remove, &d);
	switch (d.action) {
	case GC_KEEP:
		break;
	case GC_REMOVE_REFS: {
		struct drop_set ds = { owners, remove, n };
		r = patch_refs(g, it, obj, drop_marked, &ds, false);
		if (r == 0)
			log_v(1,
			      "gc: dropped references to owners that are gone or being deleted "
			      "from %s %s/%s",
			      kinds[it->kind].kind, it->ns, it->name);
		break;
	}
	case GC_DELETE:
		if (d.unblock) {
			r = patch_refs(g, it, obj, NULL, NULL, true);
			if (r < 0)
				break;
		}
		r = delete_object(g, it, obj, d.policy);
		break;
	}
out:
	free(st);
	free(remove);
	gc_owners_free(owners, n);
	return r;
}

static int sync_attempt(const char *key, void *ud)
{
	struct item it;
	if (item_parse(key, &it) < 0)
		return 0;
	int r = attempt_to_delete(ud, &it);
	free(it.buf);
	return r;
}

/* ---- attempt to orphan ---- */

static bool drop_uid(const char *uid, void *ud)
{
	return streq_ptr(uid, ud);
}

/* Remove the references to owner from each of its dependents, then the
 * orphan finalizer from the owner. */
static int attempt_to_orphan(struct gc *g, const struct item *it)
{
	struct cobj *oc = cached(g, it->kind, it->ns, it->name, it->uid);
	if (!oc)
		return 0;
	struct gc_meta m;
	bool todo = gc_scan_meta(oc->json, oc->len, &m) == 0 && m.deleting &&
		    gc_meta_has_finalizer(&m, GC_FINALIZER_ORPHAN);
	_cleanup_json_ json_t *owner = todo ? cobj_parse(oc) : NULL;
	cobj_unref(oc);
	if (!owner)
		return 0;

	struct collected deps = { 0 };
	pthread_mutex_lock(&g->mu);
	gc_graph_foreach_dependent(&g->graph, it->uid, collect_dep, &deps);
	pthread_mutex_unlock(&g->mu);
	int r = 0;
	for (size_t i = 0; i < deps.n; i++) {
		struct item dep = { deps.v[i].kind, deps.v[i].ns, deps.v[i].name, deps.v[i].uid,
				    NULL };
		struct cobj *dc = cached(g, dep.kind, dep.ns, dep.name, dep.uid);
		_cleanup_json_ json_t *dj = dc ? cobj_parse(dc) : NULL;
		cobj_unref(dc);
		if (dj && patch_refs(g, &dep, dj, drop_uid, it->uid, false) < 0)
			r = -EAGAIN;
		else if (dj)
			log_v(1, "gc: orphaned %s %s/%s", kinds[dep.kind].kind, dep.ns, dep.name);
		free(deps.v[i].ns);
		free(deps.v[i].name);
		free(deps.v[i].uid);
	}
	free(deps.v);
	if (r < 0)
		return r;
	return remove_finalizer(g, it, owner, GC_FINALIZER_ORPHAN);
}

static int sync_orphan(const char *key, void *ud)
{
	struct item it;
	if (item_parse(key, &it) < 0)
		return 0;
	int r = attempt_to_orphan(ud, &it);
	free(it.buf);
	return r;
}

/* ---- life cycle ---- */

static void *gc_init(struct controller_ctx *ctx)
{
	struct gc *g = xnew(struct gc, 1);
	g->ctx = *ctx;
	g->workers = MAX(ctx->opts->workers, 1);
	pthread_mutex_init(&g->mu, NULL);
	gc_graph_init(&g->graph);
	avl_init(&g->absent, absent_cmp);
	g->attempt = workqueue_new("garbagecollector_attempt_to_delete");
	g->orphan = workqueue_new("garbagecollector_attempt_to_orphan");
	for (size_t i = 0; i < NKINDS; i++) {
		g->w[i].g = g;
		g->w[i].kind = (int)i;
		g->w[i].inf =
		    informer_factory_get(ctx->factory, kinds[i].api_version, kinds[i].plural);
		informer_add_handlers(g->w[i].inf,
				      &(struct informer_handlers){ .on_add = on_add,
								   .on_update = on_update,
								   .on_delete = on_delete,
								   .userdata = &g->w[i] });
	}
	return g;
}

static int gc_run(void *state)
{
	struct gc *g = state;
	pthread_mutex_lock(&g->mu);
	log_v(1, "gc: %zu objects with owners", g->graph.nodes.count);
	pthread_mutex_unlock(&g->mu);
	int r = workqueue_run(g->attempt, g->workers, sync_attempt, g);
	if (r < 0)
		return r;
	return workqueue_run(g->orphan, g->workers, sync_orphan, g);
}

static void gc_stop(void *state)
{
	struct gc *g = state;
	workqueue_free(g->attempt);
	workqueue_free(g->orphan);
	gc_graph_release(&g->graph);
	struct avl_node *n = avl_first(&g->absent);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct absent *a = avl_entry(n, struct absent, avl);
		avl_remove(&g->absent, n);
		free(a->uid);
		free(a);
		n = next;
	}
	pthread_mutex_destroy(&g->mu);
	free(g);
}

const struct controller_ops garbage_collector = { "gc", gc_init, gc_run, gc_stop };
