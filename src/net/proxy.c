/* SPDX-License-Identifier: Apache-2.0 */
/* The node's service proxy: informers -> proxy_rules -> libnftables
 * (proxy.h). */
#include "net/proxy.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>

#include "client/informer.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "net/proxy_nft.h"
#include "net/proxy_rules.h"

#define BACKOFF_MIN_USEC (500 * 1000ULL)
#define BACKOFF_MAX_USEC (30 * 1000 * 1000ULL)

struct dirty {
	struct avl_node node;
	char *key;
};

struct svc_proxy {
	struct informer *svcs, *slices;
	struct proxy_rules rules;
	char *table;
	char *netns;
	uint64_t min_usec;
	bool cleanup;

	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	bool stop, need_full;
	struct avl_tree dirty; /* struct dirty by key */
	struct svc_proxy_stats stats;
};

static int cmp_dirty(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct dirty, node)->key);
}

static void dirty_clear(struct avl_tree *t)
{
	struct avl_node *n;
	while ((n = avl_first(t))) {
		struct dirty *d = avl_entry(n, struct dirty, node);
		avl_remove(t, n);
		free(d->key);
		free(d);
	}
}

/* Caller holds p->mu. */
static void mark_dirty_locked(struct svc_proxy *p, char *key)
{
	struct dirty *d = xnew(struct dirty, 1);
	d->key = key;
	if (avl_insert(&p->dirty, d->key, &d->node)) {
		free(d->key);
		free(d);
	}
}

static void mark_dirty(struct svc_proxy *p, char *key)
{
	pthread_mutex_lock(&p->mu);
	mark_dirty_locked(p, key);
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

/* ---- informers ---- */

static void *svc_extract(json_t *obj)
{
	struct proxy_service *s = NULL;
	_cleanup_free_ char *err = NULL;
	if (proxy_service_parse(obj, &s, &err) < 0) {
		log_warn("service proxy: ignoring %s", err);
		return NULL;
	}
	return s;
}

static void svc_ext_free(void *ext)
{
	proxy_service_free(ext);
}

static void *slice_extract(json_t *obj)
{
	struct proxy_slice *s = NULL;
	_cleanup_free_ char *err = NULL;
	if (proxy_slice_parse(obj, &s, &err) < 0) {
		log_warn("service proxy: ignoring %s", err);
		return NULL;
	}
	return s;
}

static void slice_ext_free(void *ext)
{
	proxy_slice_free(ext);
}

static void on_svc_add(struct cobj *o, void *userdata)
{
	mark_dirty(userdata, xstrdup(o->key));
}
static void on_svc_update(struct cobj *old, struct cobj *o, void *userdata)
{
	if (old && old->json && o->json && old->len == o->len &&
	    memcmp(old->json, o->json, o->len) == 0)
		return; /* a resync: nothing changed */
	mark_dirty(userdata, xstrdup(o->key));
}

static void slice_dirty(struct svc_proxy *p, struct cobj *o)
{
	const struct proxy_slice *s = o ? o->ext : NULL;
	if (s)
		mark_dirty(p, xasprintf("%s/%s", s->ns, s->service));
}
static void on_slice_add(struct cobj *o, void *userdata)
{
	slice_dirty(userdata, o);
}
static void on_slice_update(struct cobj *old, struct cobj *o, void *userdata)
{
	if (old && old->json && o->json && old->len == o->len &&
	    memcmp(old->json, o->json, o->len) == 0)
		return;
	slice_dirty(userdata, old);
	slice_dirty(userdata, o);
}

/* ---- sync ---- */

/* One Service of a sync and its slices (references held). */
struct group {
	struct avl_node node;
	char *key;
	struct cobj *svc;
	struct cobj **slices;
	size_t n, alloc;
};

static int cmp_group(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct group, node)->key);
}

static void group_add(struct avl_tree *t, const char *key, struct cobj *svc)
{
	struct group *g = xnew(struct group, 1);
	g->key = xstrdup(key);
	g->svc = svc;
	if (avl_insert(t, g->key, &g->node)) {
		cobj_unref(svc);
		free(g->key);
		free(g);
	}
}

static void add_svc_group(struct cobj *o, void *userdata)
{
	group_add(userdata, o->key, cobj_ref(o));
}

static void add_slice_to_group(struct cobj *o, void *userdata)
{
	const struct proxy_slice *s = o->ext;
	if (!s)
		return;
	char key[160];
	snprintf(key, sizeof(key), "%s/%s", s->ns, s->service);
	struct avl_node *n = avl_find(userdata, key);
	if (!n)
		return;
	struct group *g = avl_entry(n, struct group, node);
	if (g->n == g->alloc) {
		g->alloc = g->alloc ? 2 * g->alloc : 4;
		g->slices = xrealloc(g->slices, g->alloc * sizeof(*g->slices));
	}
	g->slices[g->n++] = cobj_ref(o);
}

static void groups_clear(struct avl_tree *t)
{
	struct avl_node *n;
	while ((n = avl_first(t))) {
		struct group *g = avl_entry(n, struct group, node);
		avl_remove(t, n);
		cobj_unref(g->svc);
		for (size_t i = 0; i < g->n; i++)
			cobj_unref(g->slices[i]);
		free(g->slices);
		free(g->key);
		free(g);
	}
}

/* Render and apply one batch: every Service (full) or the dirty ones. */
static int sync_once(struct svc_proxy *p, struct proxy_nft *nft, bool full, struct avl_tree *keys)
{
	struct avl_tree groups;
	avl_init(&groups, cmp_group);
	if (full)
		informer_foreach(p->svcs, NULL, add_svc_group, &groups);
	for (struct avl_node *n = avl_first(keys); n; n = avl_next(n)) {
		const char *key = avl_entry(n, struct dirty, node)->key;
		group_add(&groups, key, informer_get(p->svcs, key));
	}
	informer_foreach(p->slices, NULL, add_slice_to_group, &groups);

	_cleanup_strbuf_ struct strbuf cmds = STRBUF_INIT;
	if (full)
		proxy_rules_full_begin(&p->rules, &cmds);
	const struct proxy_slice **exts = NULL;
	size_t nchanged = 0;
	for (struct avl_node *n = avl_first(&groups); n; n = avl_next(n)) {
		struct group *g = avl_entry(n, struct group, node);
		exts = xrealloc(exts, (g->n + 1) * sizeof(*exts));
		for (size_t i = 0; i < g->n; i++)
			exts[i] = g->slices[i]->ext;
		if (proxy_rules_service(&p->rules, g->key, g->svc ? g->svc->ext : NULL, exts, g->n,
					&cmds))
			nchanged++;
	}
	free(exts);
	size_t ngroups = groups.count;
	groups_clear(&groups);
	if (!cmds.len)
		return 0;

	uint64_t t0 = now_usec_monotonic();
	_cleanup_free_ char *err = NULL;
	int r = proxy_nft_run(nft, strbuf_str(&cmds), &err);
	uint64_t dt = now_usec_monotonic() - t0;
	if (r < 0) {
		log_error("service proxy: applying %s sync of %zu services to table %s failed: %s",
			  full ? "a full" : "a partial", ngroups, p->table, err);
		proxy_rules_forget(&p->rules);
		return r;
	}
	log_v(full ? 0 : 3,
	      "service proxy: %s sync, %zu services (%zu changed), %zu bytes, %.1f ms",
	      full ? "full" : "partial", ngroups, nchanged, cmds.len, dt / 1000.0);
	pthread_mutex_lock(&p->mu);
	p->stats.last_sync_usec = dt;
	if (full) {
		p->stats.full_syncs++;
		p->stats.synced = true;
	} else {
		p->stats.partial_syncs++;
	}
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static void timed_wait_locked(struct svc_proxy *p, uint64_t until_usec)
{
	struct timespec ts = { .tv_sec = until_usec / 1000000,
			       .tv_nsec = (until_usec % 1000000) * 1000 };
	pthread_cond_timedwait(&p->cond, &p->mu, &ts);
}

static void *sync_thread(void *arg)
{
	struct svc_proxy *p = arg;
	if (p->netns) {
		/* Only this thread moves: the informers stay where the API is. */
		int fd = open(p->netns, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			log_error("service proxy: entering network namespace %s: %m", p->netns);
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		close(fd);
	}
	/* Opened here: the netlink socket belongs to this thread's namespace. */
	struct proxy_nft *nft = proxy_nft_new();

	while (!(informer_synced(p->svcs) && informer_synced(p->slices))) {
		pthread_mutex_lock(&p->mu);
		if (!p->stop)
			timed_wait_locked(p, now_usec_monotonic() + 100 * 1000);
		bool stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			goto out;
	}

	uint64_t next = 0, backoff = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && !p->need_full && !p->dirty.count)
			pthread_cond_wait(&p->cond, &p->mu);
		if (p->stop)
			break;
		uint64_t now = now_usec_monotonic();
		if (now < next) {
			timed_wait_locked(p, next);
			continue;
		}
		bool full = p->need_full;
		p->need_full = false;
		struct avl_tree keys = p->dirty;
		avl_init(&p->dirty, cmp_dirty);
		pthread_mutex_unlock(&p->mu);

		int r = sync_once(p, nft, full, &keys);
		dirty_clear(&keys);

		pthread_mutex_lock(&p->mu);
		now = now_usec_monotonic();
		if (r < 0) {
			p->stats.failures++;
			p->need_full = true;
			backoff = backoff ? MIN(2 * backoff, BACKOFF_MAX_USEC) : BACKOFF_MIN_USEC;
			next = now + backoff;
		} else {
			backoff = 0;
			next = now + p->min_usec;
		}
	}
	pthread_mutex_unlock(&p->mu);
out:
	proxy_nft_free(nft);
	if (p->cleanup)
		(void)svc_proxy_cleanup(p->table); /* logs its failure */
	return NULL;
}

/* ---- start / stop ---- */

static void svc_proxy_free(struct svc_proxy *p)
{
	if (!p)
		return;
	informer_free(p->svcs);
	informer_free(p->slices);
	proxy_rules_release(&p->rules);
	dirty_clear(&p->dirty);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	free(p->table);
	free(p->netns);
	free(p);
}

int svc_proxy_start(struct kclient *kc, const struct svc_proxy_opts *o, struct svc_proxy **ret)
{
	struct svc_proxy *p = xnew(struct svc_proxy, 1);
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	avl_init(&p->dirty, cmp_dirty);
	p->need_full = true;
	p->min_usec = o->sync_min_ms > 0 ? (uint64_t)o->sync_min_ms * 1000 : 0;
	p->cleanup = o->cleanup_on_stop;
	p->netns = o->netns ? xstrdup(o->netns) : NULL;

	struct proxy_rules_config rc = {
		.table = o->table ? o->table : "c8s",
		.node_name = o->node_name,
		.cluster_cidr = o->cluster_cidr,
		.dns_ip = o->dns_ip,
	};
	_cleanup_free_ char *err = NULL;
	int r = proxy_rules_init(&p->rules, &rc, &err);
	if (r < 0) {
		log_error("service proxy: %s", err);
		svc_proxy_free(p);
		return r;
	}
	p->table = xstrdup(p->rules.table);

	struct informer_opts so = { .api_version = "v1",
				    .plural = "services",
				    .extract = svc_extract,
				    .ext_free = svc_ext_free };
	struct informer_opts eo = { .api_version = "discovery.k8s.io/v1",
				    .plural = "endpointslices",
				    .extract = slice_extract,
				    .ext_free = slice_ext_free };
	r = informer_new(kc, &so, &p->svcs);
	if (r >= 0)
		r = informer_new(kc, &eo, &p->slices);
	if (r < 0) {
		log_error_errno(r, "service proxy: creating informers");
		svc_proxy_free(p);
		return r;
	}
	struct informer_handlers sh = { .on_add = on_svc_add,
					.on_update = on_svc_update,
					.on_delete = on_svc_add,
					.userdata = p };
	struct informer_handlers eh = { .on_add = on_slice_add,
					.on_update = on_slice_update,
					.on_delete = on_slice_add,
					.userdata = p };
	informer_add_handlers(p->svcs, &sh);
	informer_add_handlers(p->slices, &eh);
	if ((r = informer_start(p->svcs)) < 0 || (r = informer_start(p->slices)) < 0) {
		log_error_errno(r, "service proxy: starting informers");
		svc_proxy_free(p);
		return r;
	}
	r = -pthread_create(&p->thread, NULL, sync_thread, p);
	if (r < 0) {
		log_error_errno(r, "service proxy: starting the sync thread");
		svc_proxy_free(p);
		return r;
	}
	p->running = true;
	size_t nips = 0;
	for (char **ip = o->node_ips; ip && *ip; ip++)
		nips++;
	log_info(
	    "service proxy: node %s (%zu addresses), table ip %s, pods %s, services %s, DNS %s",
	    o->node_name ? o->node_name : "?", nips, p->table,
	    o->cluster_cidr ? o->cluster_cidr : "(any)",
	    o->service_cidr ? o->service_cidr : "(unset)", o->dns_ip ? o->dns_ip : "(none)");
	*ret = p;
	return 0;
}

void svc_proxy_stop(struct svc_proxy *p)
{
	if (!p)
		return;
	if (p->running) {
		pthread_mutex_lock(&p->mu);
		p->stop = true;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	informer_stop(p->svcs);
	informer_stop(p->slices);
	svc_proxy_free(p);
}

int svc_proxy_cleanup(const char *table)
{
	_cleanup_strbuf_ struct strbuf cmds = STRBUF_INIT;
	proxy_rules_delete_table(table, &cmds);
	struct proxy_nft *nft = proxy_nft_new();
	_cleanup_free_ char *err = NULL;
	int r = proxy_nft_run(nft, strbuf_str(&cmds), &err);
	proxy_nft_free(nft);
	if (r < 0)
		log_error("service proxy: deleting table ip %s: %s", table, err);
	return r;
}

void svc_proxy_get_stats(struct svc_proxy *p, struct svc_proxy_stats *ret)
{
	pthread_mutex_lock(&p->mu);
	*ret = p->stats;
	pthread_mutex_unlock(&p->mu);
}
