/* SPDX-License-Identifier: Apache-2.0 */
#include "scheduler/cache.h"
#include "client/informer.h"
#include "client/objects.h"
#include "lib/macro.h"
#include "lib/random.h"

static const char no_labels[] = "";

void cache_init(struct sched_cache *c)
{
	*c = (struct sched_cache){ 0 };
	hmap_init(&c->nodes);
	hmap_init(&c->pods);
	hmap_init(&c->owners);
	random_bytes(&c->rng, sizeof(c->rng));
	c->rng |= 1;
}

static uint64_t next_random(struct sched_cache *c)
{
	/* xorshift64* */
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return c->rng * 2685821657736338717ULL;
}

/* ---- owners ---- */

static struct owner *owner_ref(struct sched_cache *c, const char *uid)
{
	if (!uid)
		return NULL;
	struct hmap_node *h = hmap_get(&c->owners, uid);
	struct owner *o;
	if (h) {
		o = hmap_entry(h, struct owner, hn);
	} else {
		o = xnew(struct owner, 1);
		o->uid = xstrdup(uid);
		hmap_put(&c->owners, &o->hn, o->uid);
	}
	o->refs++;
	return o;
}

static void owner_unref(struct sched_cache *c, struct owner *o)
{
	if (!o || --o->refs > 0)
		return;
	hmap_remove(&c->owners, &o->hn);
	free(o->uid);
	free(o);
}

struct owner *cache_find_owner(const struct sched_cache *c, const char *uid)
{
	struct hmap_node *h = uid ? hmap_get(&c->owners, uid) : NULL;
	return h ? hmap_entry(h, struct owner, hn) : NULL;
}

/* ---- nodes ---- */

struct snode *cache_get_node(const struct sched_cache *c, const char *name)
{
	struct hmap_node *h = hmap_get(&c->nodes, name);
	return h ? hmap_entry(h, struct snode, hn) : NULL;
}

static struct snode *node_new(struct sched_cache *c, const char *name)
{
	struct snode *n = xnew(struct snode, 1);
	n->name = xstrdup(name);
	n->labels = no_labels;
	hmap_put(&c->nodes, &n->hn, n->name);
	return n;
}

static void node_free(struct sched_cache *c, struct snode *n)
{
	hmap_remove(&c->nodes, &n->hn);
	cobj_unref(n->obj);
	free(n->taints);
	free(n->ports);
	free(n->owners);
	free(n->name);
	free(n);
}

static void list_add(struct sched_cache *c, struct snode *n)
{
	if (c->nlist == c->alist) {
		c->alist = c->alist ? c->alist * 2 : 64;
		c->list = xrealloc(c->list, c->alist * sizeof(*c->list));
	}
	n->idx = c->nlist;
	c->list[c->nlist++] = n;
}

static void list_remove(struct sched_cache *c, struct snode *n)
{
	struct snode *last = c->list[--c->nlist];
	c->list[n->idx] = last;
	last->idx = n->idx;
}

static size_t packed_len(const char *p)
{
	const char *s = p;
	while (*s) {
		s += strlen(s) + 1; /* key */
		s += strlen(s) + 1; /* value */
	}
	return (size_t)(s - p);
}

static bool taints_equal(const struct snode *n, const struct node_info *ni)
{
	if (n->ntaints != ni->ntaints)
		return false;
	for (size_t i = 0; i < ni->ntaints; i++) {
		const struct taint *t = &ni->taints[i];
		if (!streq(n->taints[i].key, t->key) || !streq(n->taints[i].value, t->value) ||
		    n->taints[i].effect != taint_effect_parse(t->effect))
			return false;
	}
	return true;
}

bool cache_set_node(struct sched_cache *c, const char *name, const struct node_info *ni,
		    struct cobj *obj)
{
	struct snode *n = cache_get_node(c, name);
	bool ready = streq_ptr(ni->ready, "True");
	const char *labels = ni->labels ? ni->labels : no_labels;
	bool helps;

	if (!n)
		n = node_new(c, name);
	if (!n->present) {
		n->present = true;
		list_add(c, n);
		helps = true;
	} else {
		size_t ll = packed_len(labels);
		helps = (ready && !n->ready) || (n->unschedulable && !ni->unschedulable) ||
			ni->alloc_cpu_milli > n->alloc_cpu || ni->alloc_memory > n->alloc_mem ||
			ni->alloc_pods > n->alloc_pods || ll != packed_len(n->labels) ||
			memcmp(labels, n->labels, ll) != 0 || !taints_equal(n, ni);
	}
	n->ready = ready;
	n->ready_unknown = streq_ptr(ni->ready, "Unknown");
	n->unschedulable = ni->unschedulable;
	n->alloc_cpu = ni->alloc_cpu_milli;
	n->alloc_mem = ni->alloc_memory;
	n->alloc_pods = ni->alloc_pods;
	n->labels = labels;
	if (ni->ntaints != n->ntaints) {
		free(n->taints);
		n->taints = ni->ntaints ? xnew(struct sched_taint, ni->ntaints) : NULL;
		n->ntaints = ni->ntaints;
	}
	for (size_t i = 0; i < ni->ntaints; i++)
		n->taints[i] = (struct sched_taint){ ni->taints[i].key, ni->taints[i].value,
						     taint_effect_parse(ni->taints[i].effect) };
	/* The new object first: labels and taints point into it. */
	cobj_ref(obj);
	cobj_unref(n->obj);
	n->obj = obj;
	return helps;
}

void cache_remove_node(struct sched_cache *c, const char *name)
{
	struct snode *n = cache_get_node(c, name);
	if (!n || !n->present)
		return;
	list_remove(c, n);
	n->present = false;
	n->labels = no_labels;
	free(n->taints);
	n->taints = NULL;
	n->ntaints = 0;
	n->ready = false;
	n->alloc_cpu = n->alloc_mem = n->alloc_pods = 0;
	cobj_unref(n->obj);
	n->obj = NULL;
	if (n->npods == 0)
		node_free(c, n);
}

/* ---- per-node aggregates ---- */

static void port_add(struct snode *n, const struct host_port *hp)
{
	for (size_t i = 0; i < n->nports; i++) {
		if (host_port_equal(&n->ports[i].hp, hp)) {
			n->ports[i].count++;
			return;
		}
	}
	if (n->nports == n->aports) {
		n->aports = n->aports ? n->aports * 2 : 4;
		n->ports = xrealloc(n->ports, n->aports * sizeof(*n->ports));
	}
	n->ports[n->nports++] = (struct port_use){ *hp, 1 };
}

static void port_del(struct snode *n, const struct host_port *hp)
{
	for (size_t i = 0; i < n->nports; i++) {
		if (host_port_equal(&n->ports[i].hp, hp)) {
			if (--n->ports[i].count == 0)
				n->ports[i] = n->ports[--n->nports];
			return;
		}
	}
}

static void owner_add(struct snode *n, const struct owner *o)
{
	for (size_t i = 0; i < n->nowners; i++) {
		if (n->owners[i].owner == o) {
			n->owners[i].count++;
			return;
		}
	}
	if (n->nowners == n->aowners) {
		n->aowners = n->aowners ? n->aowners * 2 : 4;
		n->owners = xrealloc(n->owners, n->aowners * sizeof(*n->owners));
	}
	n->owners[n->nowners++] = (struct owner_count){ o, 1 };
}

static void owner_del(struct snode *n, const struct owner *o)
{
	for (size_t i = 0; i < n->nowners; i++) {
		if (n->owners[i].owner == o) {
			if (--n->owners[i].count == 0)
				n->owners[i] = n->owners[--n->nowners];
			return;
		}
	}
}

static void account(struct spod *sp, int sign)
{
	struct snode *n = sp->node;
	n->req_cpu += sign * sp->cpu;
	n->req_mem += sign * sp->mem;
	n->nz_cpu += sign * nonzero_cpu(sp->cpu);
	n->nz_mem += sign * nonzero_memory(sp->mem);
	n->npods += sign;
	for (size_t i = 0; i < sp->nports; i++) {
		if (sign > 0)
			port_add(n, &sp->ports[i]);
		else
			port_del(n, &sp->ports[i]);
	}
	if (sp->owner) {
		if (sign > 0)
			owner_add(n, sp->owner);
		else
			owner_del(n, sp->owner);
	}
}

/* ---- pods ---- */

struct spod *cache_get_pod(const struct sched_cache *c, const char *key)
{
	struct hmap_node *h = hmap_get(&c->pods, key);
	return h ? hmap_entry(h, struct spod, hn) : NULL;
}

static void spod_add(struct sched_cache *c, const char *key, const char *uid, struct snode *n,
		     int64_t cpu, int64_t mem, const char *owner_uid, const struct host_port *ports,
		     size_t nports, bool assumed)
{
	struct spod *sp = xnew(struct spod, 1);
	sp->key = xstrdup(key);
	sp->uid = xstrdup(uid);
	sp->node = n;
	sp->cpu = cpu;
	sp->mem = mem;
	sp->owner = owner_ref(c, owner_uid);
	if (nports) {
		sp->ports = xmemdup(ports, nports * sizeof(*ports));
		sp->nports = nports;
	}
	sp->assumed = assumed;
	hmap_put(&c->pods, &sp->hn, sp->key);
	account(sp, +1);
}

static void spod_remove(struct sched_cache *c, struct spod *sp)
{
	struct snode *n = sp->node;
	account(sp, -1);
	hmap_remove(&c->pods, &sp->hn);
	owner_unref(c, sp->owner);
	free(sp->key);
	free(sp->uid);
	free(sp->ports);
	free(sp);
	if (!n->present && n->npods == 0)
		node_free(c, n);
}

bool cache_add_bound_pod(struct sched_cache *c, const char *key, const char *uid, const char *node,
			 int64_t cpu, int64_t mem, const char *owner_uid,
			 const struct host_port *ports, size_t nports)
{
	struct spod *sp = cache_get_pod(c, key);
	bool freed = false;
	if (sp) {
		if (streq(sp->uid, uid) && streq(sp->node->name, node)) {
			sp->assumed = false;
			return false;
		}
		spod_remove(c, sp);
		freed = true;
	}
	struct snode *n = cache_get_node(c, node);
	if (!n)
		n = node_new(c, node);
	spod_add(c, key, uid, n, cpu, mem, owner_uid, ports, nports, false);
	return freed;
}

bool cache_remove_pod(struct sched_cache *c, const char *key)
{
	struct spod *sp = cache_get_pod(c, key);
	if (!sp)
		return false;
	spod_remove(c, sp);
	return true;
}

void cache_assume(struct sched_cache *c, const char *key, const struct sched_pod *p,
		  struct snode *n)
{
	cache_remove_pod(c, key);
	spod_add(c, key, p->uid, n, p->cpu, p->mem, p->owner_uid, p->ports, p->nports, true);
}

bool cache_forget(struct sched_cache *c, const char *key, const char *uid)
{
	struct spod *sp = cache_get_pod(c, key);
	if (!sp || !sp->assumed || !streq(sp->uid, uid))
		return false;
	spod_remove(c, sp);
	return true;
}

void cache_release(struct sched_cache *c)
{
	struct hmap_node *h, *next;
	for (h = hmap_first(&c->pods); h; h = next) {
		next = hmap_next(&c->pods, h);
		spod_remove(c, hmap_entry(h, struct spod, hn));
	}
	for (h = hmap_first(&c->nodes); h; h = next) {
		next = hmap_next(&c->nodes, h);
		node_free(c, hmap_entry(h, struct snode, hn));
	}
	hmap_release(&c->pods);
	hmap_release(&c->nodes);
	hmap_release(&c->owners);
	free(c->list);
	free(c->feasible);
	free(c->owned);
	free(c->tainted);
	*c = (struct sched_cache){ 0 };
}

/* ---- one decision ---- */

size_t cache_nodes_to_find(size_t n, int percentage)
{
	if (n < 100 || percentage >= 100)
		return n;
	size_t pct;
	if (percentage > 0) {
		pct = (size_t)percentage;
	} else {
		size_t drop = n / 125;
		pct = drop >= 45 ? 5 : 50 - drop;
	}
	size_t k = n * pct / 100;
	return k < 100 ? 100 : k;
}

struct snode *cache_find_node(struct sched_cache *c, const struct sched_pod *p,
			      struct diagnosis *diag)
{
	size_t total = c->nlist;
	if (diag)
		diagnosis_reset(diag);
	if (!total)
		return NULL;
	if (c->afeasible < total) {
		c->afeasible = c->alist;
		c->feasible = xrealloc(c->feasible, c->afeasible * sizeof(*c->feasible));
		c->owned = xrealloc(c->owned, c->afeasible * sizeof(*c->owned));
		c->tainted = xrealloc(c->tainted, c->afeasible * sizeof(*c->tainted));
	}

	/* Filter. */
	size_t want = cache_nodes_to_find(total, c->percentage);
	size_t start = c->next_start % total, seen = 0, nf = 0;
	while (seen < total && nf < want) {
		size_t i = start + seen++;
		struct snode *n = c->list[i >= total ? i - total : i];
		struct fit f = sched_filter(p, n);
		if (f.code == FIT_OK)
			c->feasible[nf++] = n;
		else if (diag)
			diagnosis_add(diag, n, f);
	}
	c->next_start = (start + seen) % total;
	if (nf <= 1)
		return nf ? c->feasible[0] : NULL;

	/* Score: the counts first, for the normalizations. */
	const struct owner *owner = cache_find_owner(c, p->owner_uid);
	int32_t max_owned = 0, max_tainted = 0;
	for (size_t i = 0; i < nf; i++) {
		c->owned[i] = owner_count_on(c->feasible[i], owner);
		c->tainted[i] =
		    c->feasible[i]->ntaints ? prefer_no_schedule_count(p, c->feasible[i]) : 0;
		max_owned = MAX(max_owned, c->owned[i]);
		max_tainted = MAX(max_tainted, c->tainted[i]);
	}
	struct snode *best = NULL;
	int64_t best_score = -1;
	uint64_t ties = 0;
	for (size_t i = 0; i < nf; i++) {
		int64_t s = WEIGHT_RESOURCES * score_least_requested(p, c->feasible[i]) +
			    WEIGHT_SPREAD * score_fewer_is_better(c->owned[i], max_owned) +
			    WEIGHT_TAINTS * score_fewer_is_better(c->tainted[i], max_tainted);
		if (s > best_score) {
			best_score = s;
			best = c->feasible[i];
			ties = 1;
		} else if (s == best_score && next_random(c) % ++ties == 0) {
			best = c->feasible[i];
		}
	}
	return best;
}
