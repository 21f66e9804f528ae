/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>

#include "apiserver/cache.h"
#include "apiserver/resource.h"
#include "lib/json.h"
#include "lib/log.h"
#include "store/store.h"

#define RING_CAPACITY 1024

struct cache_event {
	enum watch_type type;
	struct obj *obj;
	struct obj *prev;
};

struct node {
	struct avl_node avl;
	struct obj *obj;
};

struct watcher {
	struct rcache *rc;
	struct watcher *prev, *next;
	struct obj_filter filter;
	pthread_mutex_t mu;
	struct watch_item *q;
	size_t head, len, cap, max_queue;
	bool ended;
	watcher_wake_fn wake;
	void *userdata;
};

struct rcache {
	const struct resource *res;
	char *prefix; /* "/registry/<storage>/" */
	size_t prefix_len;
	pthread_rwlock_t lock;
	struct avl_tree tree;
	struct cache_event ring[RING_CAPACITY];
	size_t ring_head, ring_len;
	int64_t ring_floor;
	struct watcher *watchers;
};

struct cache {
	struct store *store;
	struct store_watch *sw;
	struct rcache *rcs;
	size_t nrcs;
	_Atomic int64_t rev;
};

const char *watch_type_name(enum watch_type t)
{
	switch (t) {
	case WATCH_ADDED:
		return "ADDED";
	case WATCH_MODIFIED:
		return "MODIFIED";
	case WATCH_DELETED:
		return "DELETED";
	case WATCH_BOOKMARK:
		return "BOOKMARK";
	case WATCH_ERROR:
		return "ERROR";
	}
	return "ERROR";
}

static int node_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, obj_key(avl_entry(n, struct node, avl)->obj));
}

static struct rcache *rcache_for(struct cache *c, const struct resource *res)
{
	res = resource_storage(res);
	for (size_t i = 0; i < c->nrcs; i++)
		if (c->rcs[i].res == res)
			return &c->rcs[i];
	return NULL;
}

static struct rcache *rcache_for_key(struct cache *c, const char *key, const char **ret_rest)
{
	for (size_t i = 0; i < c->nrcs; i++) {
		struct rcache *rc = &c->rcs[i];
		if (strncmp(key, rc->prefix, rc->prefix_len) == 0) {
			*ret_rest = key + rc->prefix_len;
			return rc;
		}
	}
	return NULL;
}

int64_t cache_rev(struct cache *c)
{
	return atomic_load(&c->rev);
}

/* ---- watchers ---- */

static void watcher_push_locked(struct watcher *w, enum watch_type type, struct obj *o, int64_t rev)
{
	if (w->ended)
		return;
	if (w->len >= w->max_queue) {
		log_v(2, "watch of %s fell %zu events behind; ending it", w->rc->res->plural,
		      w->len);
		w->ended = true;
		return;
	}
	if (w->len == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 16;
		struct watch_item *nq = xnew(struct watch_item, ncap);
		for (size_t i = 0; i < w->len; i++)
			nq[i] = w->q[(w->head + i) % w->cap];
		free(w->q);
		w->q = nq;
		w->head = 0;
		w->cap = ncap;
	}
	w->q[(w->head + w->len) % w->cap] = (struct watch_item){
		.type = type,
		.obj = obj_ref(o),
		.rev = rev,
	};
	w->len++;
}

/* Decide what a watcher sees of one change, given the object before it. */
static bool watcher_offer_locked(struct watcher *w, enum watch_type type, struct obj *o,
				 struct obj *prev)
{
	bool cur = obj_filter_match(&w->filter, o);
	if (type == WATCH_DELETED) {
		if (!cur && !(prev && obj_filter_match(&w->filter, prev)))
			return false;
		watcher_push_locked(w, WATCH_DELETED, o, o->rev);
		return true;
	}
	bool old = prev && obj_filter_match(&w->filter, prev);
	if (cur)
		watcher_push_locked(w, old ? WATCH_MODIFIED : WATCH_ADDED, o, o->rev);
	else if (old)
		watcher_push_locked(w, WATCH_DELETED, o, o->rev);
	else
		return false;
	return true;
}

static void watcher_offer(struct watcher *w, enum watch_type type, struct obj *o, struct obj *prev)
{
	pthread_mutex_lock(&w->mu);
	bool queued = watcher_offer_locked(w, type, o, prev);
	bool ended = w->ended;
	pthread_mutex_unlock(&w->mu);
	if (queued || ended)
		w->wake(w, w->userdata);
}

size_t watcher_take(struct watcher *w, struct watch_item *out, size_t max, bool *ret_ended)
{
	size_t n = 0;
	pthread_mutex_lock(&w->mu);
	while (n < max && w->len) {
		out[n++] = w->q[w->head];
		w->head = (w->head + 1) % w->cap;
		w->len--;
	}
	*ret_ended = w->ended && w->len == 0;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void watcher_bookmark(struct cache *c, struct watcher *w)
{
	pthread_mutex_lock(&w->mu);
	watcher_push_locked(w, WATCH_BOOKMARK, NULL, cache_rev(c));
	pthread_mutex_unlock(&w->mu);
	w->wake(w, w->userdata);
}

static void watcher_free(struct watcher *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->len; i++)
		obj_unref(w->q[(w->head + i) % w->cap].obj);
	free(w->q);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

struct history_ctx {
	struct watcher *w;
	struct rcache *rc;
};

static void history_event(const struct store_event *ev, void *userdata)
{
	struct history_ctx *h = userdata;
	const char *key = ev->key + h->rc->prefix_len;
	_cleanup_obj_ struct obj *o =
	    obj_new_from_bytes(h->rc->res, key, ev->value, ev->value_len, ev->rev, ev->create_rev);
	if (!o)
		return;
	/* The previous version is not at hand: report creations as ADDED and
	 * later versions as MODIFIED when they match. */
	enum watch_type t = ev->type == STORE_EVENT_DELETE ? WATCH_DELETED
			    : ev->prev_rev == 0		   ? WATCH_ADDED
							   : WATCH_MODIFIED;
	if (obj_filter_match(&h->w->filter, o))
		watcher_push_locked(h->w, t, o, o->rev);
}

int cache_watch(struct cache *c, const struct watcher_opts *opts, struct watcher **ret)
{
	struct rcache *rc = rcache_for(c, opts->res);
	int r = 0;

	if (!rc)
		return -ENOENT;
	struct watcher *w = xnew(struct watcher, 1);
	w->rc = rc;
	w->filter = opts->filter;
	pthread_mutex_init(&w->mu, NULL);
	w->max_queue = opts->max_queue ? opts->max_queue : 10000;
	w->wake = opts->wake;
	w->userdata = opts->userdata;

	pthread_rwlock_wrlock(&rc->lock);
	pthread_mutex_lock(&w->mu);
	int64_t now = cache_rev(c);
	if (opts->send_initial) {
		w->max_queue += rc->tree.count;
		for (struct avl_node *n = avl_first(&rc->tree); n; n = avl_next(n)) {
			struct obj *o = avl_entry(n, struct node, avl)->obj;
			if (obj_filter_match(&w->filter, o))
				watcher_push_locked(w, WATCH_ADDED, o, o->rev);
		}
	} else if (opts->from_rev < store_compacted_rev(c->store)) {
		/* History at and below the compacted revision is gone. */
		r = -ERANGE;
	} else if (opts->from_rev < now) {
		if (opts->from_rev >= rc->ring_floor) {
			for (size_t i = 0; i < rc->ring_len; i++) {
				struct cache_event *e =
				    &rc->ring[(rc->ring_head + i) % RING_CAPACITY];
				if (e->obj->rev > opts->from_rev)
					watcher_offer_locked(w, e->type, e->obj, e->prev);
			}
		} else {
			struct history_ctx h = { .w = w, .rc = rc };
			r = store_history(c->store, rc->prefix, opts->from_rev, now, history_event,
					  &h);
		}
	}
	pthread_mutex_unlock(&w->mu);
	if (r >= 0) {
		w->next = rc->watchers;
		if (rc->watchers)
			rc->watchers->prev = w;
		rc->watchers = w;
	}
	pthread_rwlock_unlock(&rc->lock);
	if (r < 0) {
		watcher_free(w);
		return r;
	}
	*ret = w;
	return 0;
}

void cache_unwatch(struct cache *c, struct watcher *w)
{
	if (!w)
		return;
	struct rcache *rc = w->rc;
	pthread_rwlock_wrlock(&rc->lock);
	if (w->prev)
		w->prev->next = w->next;
	else
		rc->watchers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	pthread_rwlock_unlock(&rc->lock);
	watcher_free(w);
}

/* ---- applying store changes ---- */

static void ring_push(struct rcache *rc, enum watch_type type, struct obj *o, struct obj *prev)
{
	if (rc->ring_len == RING_CAPACITY) {
		struct cache_event *old = &rc->ring[rc->ring_head];
		rc->ring_floor = old->obj->rev;
		obj_unref(old->obj);
		obj_unref(old->prev);
		rc->ring_head = (rc->ring_head + 1) % RING_CAPACITY;
		rc->ring_len--;
	}
	rc->ring[(rc->ring_head + rc->ring_len) % RING_CAPACITY] = (struct cache_event){
		.type = type,
		.obj = obj_ref(o),
		.prev = obj_ref(prev),
	};
	rc->ring_len++;
}

static void on_store_event(const struct store_event *ev, void *userdata)
{
	struct cache *c = userdata;
	const char *key;
	struct rcache *rc = rcache_for_key(c, ev->key, &key);

	if (!rc) {
		atomic_store(&c->rev, ev->rev);
		return;
	}
	/* Our own writes come with the object they serialized: splice the
	 * revision into the bytes instead of parsing them again. */
	struct obj *built = NULL;
	if (ev->origin && ev->type == STORE_EVENT_PUT)
		built = obj_new_spliced(rc->res, key, (json_t *)ev->origin, ev->value,
					ev->value_len, ev->rev, ev->create_rev);
	if (!built)
		built = obj_new_from_bytes(rc->res, key, ev->value, ev->value_len, ev->rev,
					   ev->create_rev);
	_cleanup_obj_ struct obj *o = built;
	if (!o) {
		log_error("store holds a value under %s that is not a JSON object; skipped",
			  ev->key);
		atomic_store(&c->rev, ev->rev);
		return;
	}

	pthread_rwlock_wrlock(&rc->lock);
	struct avl_node *an = avl_find(&rc->tree, key);
	struct node *n = an ? avl_entry(an, struct node, avl) : NULL;
	_cleanup_obj_ struct obj *prev = n ? obj_ref(n->obj) : NULL;
	enum watch_type type;

	if (ev->type == STORE_EVENT_DELETE) {
		type = WATCH_DELETED;
		if (n) {
			avl_remove(&rc->tree, &n->avl);
			obj_unref(n->obj);
			free(n);
		}
	} else if (n) {
		type = WATCH_MODIFIED;
		obj_unref(n->obj);
		n->obj = obj_ref(o);
	} else {
		type = WATCH_ADDED;
		n = xnew(struct node, 1);
		n->obj = obj_ref(o);
		avl_insert(&rc->tree, obj_key(o), &n->avl);
	}
	ring_push(rc, type, o, prev);
	for (struct watcher *w = rc->watchers; w; w = w->next)
		watcher_offer(w, type, o, prev);
	atomic_store(&c->rev, ev->rev);
	pthread_rwlock_unlock(&rc->lock);
}

/* ---- reads ---- */

struct obj *cache_get(struct cache *c, const struct resource *res, const char *key)
{
	struct rcache *rc = rcache_for(c, res);
	struct obj *o = NULL;
	if (!rc)
		return NULL;
	pthread_rwlock_rdlock(&rc->lock);
	struct avl_node *n = avl_find(&rc->tree, key);
	if (n)
		o = obj_ref(avl_entry(n, struct node, avl)->obj);
	pthread_rwlock_unlock(&rc->lock);
	return o;
}

void obj_list_release(struct obj_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		obj_unref(l->items[i]);
	free(l->items);
	free(l->next_key);
	*l = (struct obj_list){ 0 };
}

static void obj_list_push(struct obj_list *l, struct obj *o)
{
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 64;
		l->items = xrealloc(l->items, l->alloc * sizeof(*l->items));
	}
	l->items[l->n++] = obj_ref(o);
}

void cache_list(struct cache *c, const struct resource *res, const struct obj_filter *f,
		const char *start_after, size_t limit, struct obj_list *ret)
{
	struct rcache *rc = rcache_for(c, res);
	_cleanup_free_ char *ns_prefix = NULL;
	struct avl_node *n;

	*ret = (struct obj_list){ 0 };
	if (!rc)
		return;
	if (f->ns && res->namespaced)
		ns_prefix = xasprintf("%s/", f->ns);

	pthread_rwlock_rdlock(&rc->lock);
	ret->rev = cache_rev(c);
	if (f->name && !f->labels && !f->fields && !start_after) {
		/* A single object: no scan. */
		_cleanup_free_ char *key =
		    ns_prefix ? xasprintf("%s%s", ns_prefix, f->name) : xstrdup(f->name);
		n = avl_find(&rc->tree, key);
		if (n && obj_filter_match(f, avl_entry(n, struct node, avl)->obj))
			obj_list_push(ret, avl_entry(n, struct node, avl)->obj);
		pthread_rwlock_unlock(&rc->lock);
		return;
	}
	if (start_after && (!ns_prefix || strcmp(start_after, ns_prefix) >= 0))
		n = avl_lower_bound(&rc->tree, start_after, 0);
	else if (ns_prefix)
		n = avl_lower_bound(&rc->tree, ns_prefix, 1);
	else
		n = avl_first(&rc->tree);
	size_t plen = ns_prefix ? strlen(ns_prefix) : 0;
	for (; n; n = avl_next(n)) {
		struct obj *o = avl_entry(n, struct node, avl)->obj;
		if (ns_prefix && strncmp(obj_key(o), ns_prefix, plen) != 0)
			break;
		if (!obj_filter_match(f, o))
			continue;
		if (limit && ret->n == limit) {
			if (!ret->next_key)
				ret->next_key = xstrdup(obj_key(ret->items[ret->n - 1]));
			ret->remaining++;
			continue;
		}
		obj_list_push(ret, o);
	}
	pthread_rwlock_unlock(&rc->lock);
}

int cache_list_at(struct cache *c, const struct resource *res, const struct obj_filter *f,
		  const char *start_after, size_t limit, int64_t rev, struct obj_list *ret)
{
	struct rcache *rc = rcache_for(c, res);
	struct store_kv_list kvs = { 0 };
	_cleanup_free_ char *prefix = NULL, *start = NULL;
	int64_t got_rev;
	int r;

	*ret = (struct obj_list){ 0 };
	if (!rc)
		return -ENOENT;
	prefix =
	    f->ns && res->namespaced ? xasprintf("%s%s/", rc->prefix, f->ns) : xstrdup(rc->prefix);
	if (start_after)
		start = xasprintf("%s%s", rc->prefix, start_after);
	/* With a limit, read the store in chunks until one more match than the
	 * limit shows the list is cut; what follows is then not counted. */
	size_t chunk = limit ? MAX(limit + 1, (size_t)256) : 0;
	for (;;) {
		r = store_list(c->store, prefix, start, rev, chunk, &kvs, &got_rev);
		if (r < 0) {
			obj_list_release(ret);
			return r;
		}
		ret->rev = got_rev;
		rev = got_rev;
		for (size_t i = 0; i < kvs.n; i++) {
			_cleanup_obj_ struct obj *o = obj_new_from_bytes(
			    rc->res, kvs.items[i].key + rc->prefix_len, kvs.items[i].value,
			    kvs.items[i].value_len, kvs.items[i].mod_rev, kvs.items[i].create_rev);
			if (!o || !obj_filter_match(f, o))
				continue;
			if (limit && ret->n == limit) {
				if (!ret->next_key)
					ret->next_key = xstrdup(obj_key(ret->items[ret->n - 1]));
				ret->remaining++;
				continue;
			}
			obj_list_push(ret, o);
		}
		bool more = chunk && kvs.n == chunk;
		if (ret->next_key) {
			/* Cut: the count is exact only if the store had no more. */
			ret->remaining_unknown = more;
			store_kv_list_release(&kvs);
			return 0;
		}
		if (more) {
			free(start);
			start = xstrdup(kvs.items[kvs.n - 1].key);
		}
		store_kv_list_release(&kvs);
		if (!more)
			return 0;
	}
}

/* ---- life cycle ---- */

static size_t count_storage_resources(void)
{
	size_t n = 0;
	for (const struct resource *const *r = resources_all; *r; r++)
		if (resource_storage(*r) == *r && !((*r)->flags & RES_VIRTUAL))
			n++;
	return n;
}

int cache_open(struct store *store, struct cache **ret)
{
	struct cache *c = xnew(struct cache, 1);
	struct store_kv_list kvs = { 0 };
	int64_t rev;
	int r;

	c->store = store;
	c->nrcs = count_storage_resources();
	c->rcs = xnew(struct rcache, c->nrcs);
	size_t i = 0;
	for (const struct resource *const *rp = resources_all; *rp; rp++) {
		if (resource_storage(*rp) != *rp || ((*rp)->flags & RES_VIRTUAL))
			continue;
		struct rcache *rc = &c->rcs[i++];
		pthread_rwlockattr_t attr;
		pthread_rwlockattr_init(&attr);
		pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&rc->lock, &attr);
		pthread_rwlockattr_destroy(&attr);
		rc->res = *rp;
		rc->prefix =
		    xasprintf("/registry/%s/", (*rp)->storage ? (*rp)->storage : (*rp)->plural);
		rc->prefix_len = strlen(rc->prefix);
		avl_init(&rc->tree, node_cmp);
	}

	r = store_list(store, "/registry/", NULL, 0, 0, &kvs, &rev);
	if (r < 0) {
		cache_close(c);
		return r;
	}
	for (size_t k = 0; k < kvs.n; k++) {
		const char *key;
		struct rcache *rc = rcache_for_key(c, kvs.items[k].key, &key);
		if (!rc)
			continue;
		struct obj *o =
		    obj_new_from_bytes(rc->res, key, kvs.items[k].value, kvs.items[k].value_len,
				       kvs.items[k].mod_rev, kvs.items[k].create_rev);
		if (!o) {
			log_error("store holds a value under %s that is not a JSON object; skipped",
				  kvs.items[k].key);
			continue;
		}
		struct node *n = xnew(struct node, 1);
		n->obj = o;
		if (avl_insert(&rc->tree, obj_key(o), &n->avl)) {
			obj_unref(o);
			free(n);
		}
	}
	store_kv_list_release(&kvs);
	atomic_store(&c->rev, rev);
	for (size_t k = 0; k < c->nrcs; k++)
		c->rcs[k].ring_floor = rev;
	log_v(1, "cache loaded at revision %lld", (long long)rev);

	r = store_watch(store, "/registry/", rev, on_store_event, c, &c->sw);
	if (r < 0) {
		cache_close(c);
		return r;
	}
	*ret = c;
	return 0;
}

void cache_close(struct cache *c)
{
	if (!c)
		return;
	if (c->sw)
		store_unwatch(c->store, c->sw);
	for (size_t i = 0; i < c->nrcs; i++) {
		struct rcache *rc = &c->rcs[i];
		struct avl_node *n = avl_first(&rc->tree);
		while (n) {
			struct avl_node *next = avl_next(n);
			struct node *nd = avl_entry(n, struct node, avl);
			avl_remove(&rc->tree, n);
			obj_unref(nd->obj);
			free(nd);
			n = next;
		}
		for (size_t k = 0; k < rc->ring_len; k++) {
			struct cache_event *e = &rc->ring[(rc->ring_head + k) % RING_CAPACITY];
			obj_unref(e->obj);
			obj_unref(e->prev);
		}
		pthread_rwlock_destroy(&rc->lock);
		free(rc->prefix);
	}
	free(c->rcs);
	free(c);
}
