/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>

#include "client/informer.h"
#include "client/kclient.h"
#include "lib/avl.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/random.h"
#include "lib/strbuf.h"

#define MAX_HANDLERS 8

struct entry {
	struct avl_node avl;
	struct cobj *obj;
};

struct informer {
	struct kclient *c;
	char *path;  /* collection path */
	char *query; /* "labelSelector=..&fieldSelector=.." or "" */
	char *plural;
	void *(*extract)(json_t *obj);
	void (*ext_free)(void *ext);
	int64_t resync_usec;

	struct informer_handlers h[MAX_HANDLERS];
	size_t nh;

	pthread_rwlock_t lock;
	struct avl_tree tree;
	_Atomic int64_t last_rv;

	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cond;
	bool synced;

	pthread_t thread;
	bool running;
	volatile bool stop;
	bool relist;
};

/* ---- objects ---- */

/* The watch event being delivered on this thread: its object and what it
 * was parsed into, for informer_event_json(). */
static __thread struct {
	const struct cobj *obj;
	json_t *json;
} delivering;

json_t *informer_event_json(const struct cobj *o)
{
	return o && delivering.obj == o ? delivering.json : NULL;
}

struct cobj *cobj_ref(struct cobj *o)
{
	if (o)
		atomic_fetch_add_explicit(&o->ref, 1, memory_order_relaxed);
	return o;
}

void cobj_unref(struct cobj *o)
{
	if (!o || atomic_fetch_sub_explicit(&o->ref, 1, memory_order_acq_rel) != 1)
		return;
	if (o->ext && o->from && o->from->ext_free)
		o->from->ext_free(o->ext);
	free(o->key);
	free(o->ns);
	free(o->name);
	free(o->uid);
	free(o->json);
	free(o);
}

json_t *cobj_parse(const struct cobj *o)
{
	return json_loadb(o->json, o->len, 0, NULL);
}

/* raw: obj's text as the server sent it (kept instead of serializing obj
 * again), or NULL. */
static struct cobj *cobj_new(struct informer *inf, json_t *obj, const char *raw, size_t raw_len)
{
	const char *name = json_get_str(obj, "metadata.name");
	const char *ns = json_get_str(obj, "metadata.namespace");
	const char *rv = json_get_str(obj, "metadata.resourceVersion");
	const char *uid = json_get_str(obj, "metadata.uid");
	if (!name)
		return NULL;
	struct cobj *o = xnew(struct cobj, 1);
	atomic_init(&o->ref, 1);
	o->ns = xstrdup(ns ? ns : "");
	o->name = xstrdup(name);
	o->uid = xstrdup(uid ? uid : "");
	o->key = ns && *ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
	o->rv = rv ? strtoll(rv, NULL, 10) : 0;
	if (raw) {
		o->json = xstrndup(raw, raw_len);
		o->len = raw_len;
	} else {
		o->json = json_dump_compact(obj, &o->len);
	}
	o->from = inf;
	if (inf->extract)
		o->ext = inf->extract(obj);
	return o;
}

static int entry_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct entry, avl)->obj->key);
}

/* ---- the cache ---- */

struct cobj *informer_get(struct informer *inf, const char *key)
{
	struct cobj *o = NULL;
	pthread_rwlock_rdlock(&inf->lock);
	struct avl_node *n = avl_find(&inf->tree, key);
	if (n)
		o = cobj_ref(avl_entry(n, struct entry, avl)->obj);
	pthread_rwlock_unlock(&inf->lock);
	return o;
}

void informer_foreach(struct informer *inf, const char *ns,
		      void (*fn)(struct cobj *obj, void *userdata), void *userdata)
{
	pthread_rwlock_rdlock(&inf->lock);
	struct avl_node *n;
	_cleanup_free_ char *prefix = ns ? xasprintf("%s/", ns) : NULL;
	size_t plen = prefix ? strlen(prefix) : 0;
	n = prefix ? avl_lower_bound(&inf->tree, prefix, 1) : avl_first(&inf->tree);
	for (; n; n = avl_next(n)) {
		struct cobj *o = avl_entry(n, struct entry, avl)->obj;
		if (prefix && strncmp(o->key, prefix, plen) != 0)
			break;
		fn(o, userdata);
	}
	pthread_rwlock_unlock(&inf->lock);
}

size_t informer_count(struct informer *inf)
{
	pthread_rwlock_rdlock(&inf->lock);
	size_t n = inf->tree.count;
	pthread_rwlock_unlock(&inf->lock);
	return n;
}

int64_t informer_last_rv(const struct informer *inf)
{
	return atomic_load(&inf->last_rv);
}

bool informer_synced(const struct informer *inf)
{
	return inf->synced;
}

bool informer_wait_synced(struct informer *inf, int64_t timeout_usec)
{
	pthread_mutex_lock(&inf->sync_mu);
	uint64_t deadline = now_usec_monotonic() + (uint64_t)timeout_usec;
	while (!inf->synced && !inf->stop) {
		if (timeout_usec && now_usec_monotonic() >= deadline)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&inf->sync_cond, &inf->sync_mu, &ts);
	}
	bool s = inf->synced;
	pthread_mutex_unlock(&inf->sync_mu);
	return s;
}

/* Put o in the cache; returns the object it replaced (a reference) or NULL. */
static struct cobj *cache_put(struct informer *inf, struct cobj *o)
{
	struct cobj *old = NULL;
	pthread_rwlock_wrlock(&inf->lock);
	struct avl_node *n = avl_find(&inf->tree, o->key);
	if (n) {
		struct entry *e = avl_entry(n, struct entry, avl);
		old = e->obj;
		e->obj = cobj_ref(o);
	} else {
		struct entry *e = xnew(struct entry, 1);
		e->obj = cobj_ref(o);
		avl_insert(&inf->tree, o->key, &e->avl);
	}
	pthread_rwlock_unlock(&inf->lock);
	return old;
}

static struct cobj *cache_remove(struct informer *inf, const char *key)
{
	struct cobj *old = NULL;
	pthread_rwlock_wrlock(&inf->lock);
	struct avl_node *n = avl_find(&inf->tree, key);
	if (n) {
		struct entry *e = avl_entry(n, struct entry, avl);
		old = e->obj;
		avl_remove(&inf->tree, n);
		free(e);
	}
	pthread_rwlock_unlock(&inf->lock);
	return old;
}

static void notify_add(struct informer *inf, struct cobj *o)
{
	for (size_t i = 0; i < inf->nh; i++)
		if (inf->h[i].on_add)
			inf->h[i].on_add(o, inf->h[i].userdata);
}

static void notify_update(struct informer *inf, struct cobj *old, struct cobj *o)
{
	for (size_t i = 0; i < inf->nh; i++)
		if (inf->h[i].on_update)
			inf->h[i].on_update(old, o, inf->h[i].userdata);
}

static void notify_delete(struct informer *inf, struct cobj *o)
{
	for (size_t i = 0; i < inf->nh; i++)
		if (inf->h[i].on_delete)
			inf->h[i].on_delete(o, inf->h[i].userdata);
}

/* ---- list and watch ---- */

static char *url(struct informer *inf, const char *extra)
{
	bool q = inf->query[0] || extra[0];
	return xasprintf("%s%s%s%s%s", inf->path, q ? "?" : "", inf->query,
			 inf->query[0] && extra[0] ? "&" : "", extra);
}

/* List everything and reconcile the cache with it. */
static int relist(struct informer *inf)
{
	_cleanup_free_ char *u = url(inf, "resourceVersion=0");
	long code;
	_cleanup_json_ json_t *list = kclient_get(inf->c, u, &code);
	if (!list) {
		log_v(1, "listing %s: %s", inf->plural, code ? "error status" : "no answer");
		return -EIO;
	}
	const char *rv = json_get_str(list, "metadata.resourceVersion");

	/* Everything in the cache not in the list was deleted meanwhile. */
	struct avl_tree seen;
	avl_init(&seen, entry_cmp);
	size_t i;
	json_t *item;
	json_t *items = json_object_get(list, "items");
	struct cobj **fresh = xnew(struct cobj *, json_array_size(items) + 1);
	size_t nfresh = 0;
	json_array_foreach(items, i, item)
	{
		struct cobj *o = cobj_new(inf, item, NULL, 0);
		if (o)
			fresh[nfresh++] = o;
	}
	struct entry *marks = xnew(struct entry, nfresh + 1);
	for (i = 0; i < nfresh; i++) {
		marks[i].obj = fresh[i];
		avl_insert(&seen, fresh[i]->key, &marks[i].avl);
	}
	/* Collect deletions. */
	size_t ndel = 0, adel = 16;
	struct cobj **dels = xnew(struct cobj *, adel);
	pthread_rwlock_rdlock(&inf->lock);
	for (struct avl_node *n = avl_first(&inf->tree); n; n = avl_next(n)) {
		struct cobj *o = avl_entry(n, struct entry, avl)->obj;
		if (!avl_find(&seen, o->key)) {
			if (ndel == adel)
				dels = xrealloc(dels, (adel *= 2) * sizeof(*dels));
			dels[ndel++] = cobj_ref(o);
		}
	}
	pthread_rwlock_unlock(&inf->lock);
	for (i = 0; i < ndel; i++) {
		struct cobj *old = cache_remove(inf, dels[i]->key);
		if (old)
			notify_delete(inf, old);
		cobj_unref(old);
		cobj_unref(dels[i]);
	}
	free(dels);
	for (i = 0; i < nfresh; i++) {
		struct cobj *old = cache_put(inf, fresh[i]);
		if (!old)
			notify_add(inf, fresh[i]);
		else if (old->rv != fresh[i]->rv)
			notify_update(inf, old, fresh[i]);
		cobj_unref(old);
		cobj_unref(fresh[i]);
	}
	free(fresh);
	free(marks);
	atomic_store(&inf->last_rv, rv ? strtoll(rv, NULL, 10) : 0);

	pthread_mutex_lock(&inf->sync_mu);
	inf->synced = true;
	pthread_cond_broadcast(&inf->sync_cond);
	pthread_mutex_unlock(&inf->sync_mu);
	return 0;
}

static bool on_event(json_t *ev, const char *raw, size_t raw_len, void *userdata)
{
	struct informer *inf = userdata;
	const char *type = json_get_str(ev, "type");
	json_t *obj = json_object_get(ev, "object");
	if (!type || !obj)
		return true;
	if (streq(type, "ERROR")) {
		int64_t code = json_get_int(obj, "code", 0);
		log_v(2, "watch of %s: %lld %s", inf->plural, (long long)code,
		      json_get_str(obj, "message"));
		inf->relist = true;
		return false;
	}
	const char *rv = json_get_str(obj, "metadata.resourceVersion");
	int64_t rev = rv ? strtoll(rv, NULL, 10) : 0;
	if (streq(type, "BOOKMARK")) {
		if (rev)
			atomic_store(&inf->last_rv, rev);
		return true;
	}
	struct cobj *o = cobj_new(inf, obj, raw, raw_len);
	if (!o)
		return true;
	delivering.obj = o;
	delivering.json = obj;
	if (streq(type, "DELETED")) {
		struct cobj *old = cache_remove(inf, o->key);
		notify_delete(inf, old ? old : o);
		cobj_unref(old);
	} else {
		struct cobj *old = cache_put(inf, o);
		if (old)
			notify_update(inf, old, o);
		else
			notify_add(inf, o);
		cobj_unref(old);
	}
	delivering.obj = NULL;
	delivering.json = NULL;
	cobj_unref(o);
	if (rev)
		atomic_store(&inf->last_rv, rev);
	return !inf->stop;
}

static void sleep_usec(struct informer *inf, int64_t usec)
{
	while (usec > 0 && !inf->stop) {
		int64_t step = MIN(usec, 100000);
		usleep((useconds_t)step);
		usec -= step;
	}
}

static void *informer_main(void *arg)
{
	struct informer *inf = arg;
	int64_t backoff = 200000;
	inf->relist = true;
	while (!inf->stop) {
		if (inf->relist) {
			if (relist(inf) < 0) {
				sleep_usec(inf, backoff);
				backoff = MIN(backoff * 2, 5000000);
				continue;
			}
			inf->relist = false;
		}
		unsigned jitter;
		random_bytes(&jitter, sizeof(jitter));
		char extra[128];
		snprintf(extra, sizeof(extra),
			 "watch=1&allowWatchBookmarks=true&resourceVersion=%lld&timeoutSeconds=%u",
			 (long long)atomic_load(&inf->last_rv), 300 + jitter % 300);
		_cleanup_free_ char *u = url(inf, extra);
		int r = kclient_watch(inf->c, u, on_event, inf, &inf->stop);
		if (inf->stop)
			break;
		if (r == 410)
			inf->relist = true;
		if (r != 0 && !inf->relist) {
			/* The server went away: try again, resuming where we were. */
			sleep_usec(inf, backoff);
			backoff = MIN(backoff * 2, 5000000);
			if (r > 0)
				inf->relist = true;
		} else if (r == 0) {
			backoff = 200000;
		}
	}
	return NULL;
}

/* ---- life cycle ---- */

int informer_new(struct kclient *c, const struct informer_opts *opts, struct informer **ret)
{
	struct informer *inf = xnew(struct informer, 1);
	inf->c = c;
	inf->path = kpath(opts->api_version, opts->plural, opts->ns, NULL);
	inf->plural = xstrdup(opts->plural);
	struct strbuf q = STRBUF_INIT;
	if (opts->label_selector && *opts->label_selector) {
		_cleanup_free_ char *e = kquery_escape(opts->label_selector);
		strbuf_addf(&q, "labelSelector=%s", e);
	}
	if (opts->field_selector && *opts->field_selector) {
		_cleanup_free_ char *e = kquery_escape(opts->field_selector);
		strbuf_addf(&q, "%sfieldSelector=%s", q.len ? "&" : "", e);
	}
	strbuf_grow(&q, 0);
	inf->query = strbuf_detach(&q, NULL);
	inf->extract = opts->extract;
	inf->ext_free = opts->ext_free;
	inf->resync_usec = opts->resync_usec;
	pthread_rwlock_init(&inf->lock, NULL);
	pthread_mutex_init(&inf->sync_mu, NULL);
	pthread_cond_init(&inf->sync_cond, NULL);
	avl_init(&inf->tree, entry_cmp);
	*ret = inf;
	return 0;
}

void informer_add_handlers(struct informer *inf, const struct informer_handlers *h)
{
	assert_se(inf->nh < MAX_HANDLERS && !inf->running);
	inf->h[inf->nh++] = *h;
}

int informer_start(struct informer *inf)
{
	int r = pthread_create(&inf->thread, NULL, informer_main, inf);
	if (r)
		return -r;
	inf->running = true;
	return 0;
}

void informer_signal_stop(struct informer *inf)
{
	if (inf)
		inf->stop = true;
}

void informer_stop(struct informer *inf)
{
	if (!inf || !inf->running)
		return;
	inf->stop = true;
	pthread_join(inf->thread, NULL);
	inf->running = false;
}

void informer_free(struct informer *inf)
{
	if (!inf)
		return;
	informer_stop(inf);
	struct avl_node *n = avl_first(&inf->tree);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct entry *e = avl_entry(n, struct entry, avl);
		avl_remove(&inf->tree, n);
		cobj_unref(e->obj);
		free(e);
		n = next;
	}
	pthread_rwlock_destroy(&inf->lock);
	pthread_mutex_destroy(&inf->sync_mu);
	pthread_cond_destroy(&inf->sync_cond);
	free(inf->path);
	free(inf->query);
	free(inf->plural);
	free(inf);
}
