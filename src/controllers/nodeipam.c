/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node IPAM (Kubernetes' nodeipam controller with the range allocator):
 * every Node without spec.podCIDR gets the next free node CIDR of
 * --node-cidr-mask-size bits out of --cluster-cidr, written with a merge
 * patch of spec.podCIDR and spec.podCIDRs.
 *
 * What is in use is learned from the Node informer: its handlers mark the
 * podCIDR of every node they see as used and free it when the node goes.
 * The initial list delivers every existing node before the workers start
 * (they start once the informers have synced), so the allocation is rebuilt
 * from the stored nodes before anything new is handed out.
 *
 * When the range is full the node gets a CIDRNotAvailable event and waits;
 * it is retried as soon as a node CIDR is freed.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <sys/socket.h>

#include "client/events.h"
#include "client/factory.h"
#include "client/informer.h"
#include "client/kclient.h"
#include "client/objects.h"
#include "client/workqueue.h"
#include "controllers/controllers.h"
#include "controllers/nodeipam.h"
#include "lib/avl.h"
#include "lib/json.h"
#include "lib/log.h"

/* ---- the CIDR set ---- */

static unsigned __int128 mask_of(int width, int bits)
{
	unsigned __int128 all =
	    width == 128 ? ~(unsigned __int128)0 : (((unsigned __int128)1 << 32) - 1);
	if (bits <= 0)
		return 0;
	if (bits >= width)
		return all;
	return all & ~((((unsigned __int128)1) << (width - bits)) - 1);
}

int cidr_parse(const char *cidr, int *ret_family, unsigned __int128 *ret_addr, int *ret_bits)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	if (!slash || slash == cidr || (size_t)(slash - cidr) >= sizeof(addr) || !slash[1])
		return -EINVAL;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = 0;
	char *end;
	errno = 0;
	long bits = strtol(slash + 1, &end, 10);
	if (*end || errno || slash[1] == '-' || slash[1] == '+')
		return -EINVAL;
	unsigned char buf[16];
	unsigned __int128 a = 0;
	int family;
	if (inet_pton(AF_INET, addr, buf) == 1) {
		if (bits > 32)
			return -EINVAL;
		family = AF_INET;
		for (int i = 0; i < 4; i++)
			a = (a << 8) | buf[i];
	} else if (inet_pton(AF_INET6, addr, buf) == 1) {
		if (bits > 128)
			return -EINVAL;
		family = AF_INET6;
		for (int i = 0; i < 16; i++)
			a = (a << 8) | buf[i];
	} else {
		return -EINVAL;
	}
	*ret_family = family;
	*ret_addr = a;
	*ret_bits = (int)bits;
	return 0;
}

static void format_cidr(const struct cidr_set *s, unsigned __int128 a, int bits, char *buf)
{
	unsigned char raw[16];
	char text[INET6_ADDRSTRLEN];
	int n = s->width / 8;
	for (int i = n - 1; i >= 0; i--) {
		raw[i] = (unsigned char)(a & 0xff);
		a >>= 8;
	}
	inet_ntop(s->family, raw, text, sizeof(text));
	snprintf(buf, CIDR_MAX, "%s/%d", text, bits);
}

int cidr_set_init(struct cidr_set *s, const char *cluster_cidr, int node_bits, char **ret_err)
{
	int family, bits;
	unsigned __int128 a;
	*s = (struct cidr_set){ 0 };
	if (cidr_parse(cluster_cidr, &family, &a, &bits) < 0) {
		*ret_err =
		    xasprintf("invalid cluster CIDR \"%s\"", cluster_cidr ? cluster_cidr : "");
		return -EINVAL;
	}
	int width = family == AF_INET ? 32 : 128;
	if (node_bits < bits || node_bits > width) {
		*ret_err = xasprintf("node CIDR mask size %d must be between the cluster prefix "
				     "length %d and %d",
				     node_bits, bits, width);
		return -EINVAL;
	}
	if (node_bits - bits > 16) {
		*ret_err = xasprintf("node CIDR mask size %d is too large for cluster CIDR %s: at "
				     "most 16 bits more than the cluster prefix",
				     node_bits, cluster_cidr);
		return -EINVAL;
	}
	s->family = family;
	s->width = width;
	s->cluster_bits = bits;
	s->node_bits = node_bits;
	s->base = a & mask_of(width, bits);
	s->max = (uint64_t)1 << (node_bits - bits);
	s->bitmap = xnew(uint8_t, (s->max + 7) / 8);
	return 0;
}

void cidr_set_release(struct cidr_set *s)
{
	free(s->bitmap);
	*s = (struct cidr_set){ 0 };
}

static bool bit_get(const struct cidr_set *s, uint64_t i)
{
	return s->bitmap[i / 8] & (1u << (i % 8));
}

static void bit_set(struct cidr_set *s, uint64_t i, bool v)
{
	if (bit_get(s, i) == v)
		return;
	if (v) {
		s->bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
		s->used++;
	} else {
		s->bitmap[i / 8] &= (uint8_t) ~(1u << (i % 8));
		s->used--;
	}
}

/* Host bits of a node CIDR: the shift from an index to an address. */
static int node_shift(const struct cidr_set *s)
{
	return s->width - s->node_bits;
}

int cidr_set_allocate(struct cidr_set *s, char *buf)
{
	if (s->used >= s->max)
		return -ENOSPC;
	for (uint64_t k = 0; k < s->max; k++) {
		uint64_t i = (s->next + k) % s->max;
		if (bit_get(s, i))
			continue;
		bit_set(s, i, true);
		s->next = (i + 1) % s->max;
		int sh = node_shift(s);
		unsigned __int128 off = sh >= 128 ? 0 : (unsigned __int128)i << sh;
		format_cidr(s, s->base + off, s->node_bits, buf);
		return 0;
	}
	return -ENOSPC;
}

/* The range of node CIDR indices cidr overlaps. */
static int index_range(const struct cidr_set *s, const char *cidr, uint64_t *ret_first,
		       uint64_t *ret_last)
{
	int family, bits;
	unsigned __int128 a;
	if (cidr_parse(cidr, &family, &a, &bits) < 0 || family != s->family)
		return -EINVAL;
	/* The overlap of cidr with the cluster CIDR. */
	int outer = MIN(bits, s->cluster_bits);
	if ((a & mask_of(s->width, outer)) != (s->base & mask_of(s->width, outer)))
		return -ERANGE;
	if (bits <= s->cluster_bits) {
		*ret_first = 0;
		*ret_last = s->max - 1;
		return 0;
	}
	int sh = node_shift(s);
	unsigned __int128 start = (a & mask_of(s->width, bits)) - s->base;
	uint64_t first = sh >= 128 ? 0 : (uint64_t)(start >> sh);
	uint64_t count = bits >= s->node_bits ? 1 : (uint64_t)1 << (s->node_bits - bits);
	*ret_first = first;
	*ret_last = first + count - 1;
	return 0;
}

static int mark(struct cidr_set *s, const char *cidr, bool used)
{
	uint64_t first, last;
	int r = index_range(s, cidr, &first, &last);
	if (r < 0)
		return r;
	for (uint64_t i = first; i <= last && i < s->max; i++)
		bit_set(s, i, used);
	return 0;
}

int cidr_set_occupy(struct cidr_set *s, const char *cidr)
{
	return mark(s, cidr, true);
}

int cidr_set_vacate(struct cidr_set *s, const char *cidr)
{
	return mark(s, cidr, false);
}

/* ---- the controller ---- */

/* A node waiting for a CIDR to be freed. */
struct waiter {
	struct avl_node avl;
	char *name;
};

struct ipam {
	struct controller_ctx ctx;
	struct informer *nodes;
	struct workqueue *q;
	int workers;

	pthread_mutex_t mu;
	struct cidr_set set;
	/* Nodes that found the range full: retried when a CIDR is freed. */
	struct avl_tree waiting;
	bool full_logged;
};

static int waiter_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct waiter, avl)->name);
}

static void occupy_locked(struct ipam *c, const char *node, const char *cidr)
{
	int r = cidr_set_occupy(&c->set, cidr);
	if (r == -ERANGE)
		log_v(2, "nodeipam: node %s has pod CIDR %s outside the cluster CIDR", node, cidr);
	else if (r < 0)
		log_warn("nodeipam: node %s has an invalid pod CIDR \"%s\"", node, cidr);
}

static void wake_waiting_locked(struct ipam *c)
{
	struct avl_node *n = avl_first(&c->waiting);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct waiter *w = avl_entry(n, struct waiter, avl);
		workqueue_add(c->q, w->name);
		avl_remove(&c->waiting, n);
		free(w->name);
		free(w);
		n = next;
	}
	c->full_logged = false;
}

static void on_add(struct cobj *obj, void *ud)
{
	struct ipam *c = ud;
	const struct node_info *ni = obj->ext;
	if (isempty(ni->pod_cidr)) {
		workqueue_add(c->q, obj->name);
		return;
	}
	pthread_mutex_lock(&c->mu);
	occupy_locked(c, obj->name, ni->pod_cidr);
	pthread_mutex_unlock(&c->mu);
}

static void on_update(struct cobj *old, struct cobj *obj, void *ud)
{
	struct ipam *c = ud;
	const struct node_info *oi = old->ext, *ni = obj->ext;
	if (isempty(ni->pod_cidr)) {
		workqueue_add(c->q, obj->name);
		return;
	}
	if (streq(ni->pod_cidr, oi->pod_cidr))
		return;
	pthread_mutex_lock(&c->mu);
	occupy_locked(c, obj->name, ni->pod_cidr);
	pthread_mutex_unlock(&c->mu);
}

static void on_delete(struct cobj *obj, void *ud)
{
	struct ipam *c = ud;
	const struct node_info *ni = obj->ext;
	if (isempty(ni->pod_cidr))
		return;
	pthread_mutex_lock(&c->mu);
	if (cidr_set_vacate(&c->set, ni->pod_cidr) == 0) {
		log_v(2, "nodeipam: released %s of deleted node %s", ni->pod_cidr, obj->name);
		wake_waiting_locked(c);
	}
	pthread_mutex_unlock(&c->mu);
}

static int sync_node(const char *name, void *ud)
{
	struct ipam *c = ud;
	struct cobj *obj = informer_get(c->nodes, name);
	if (!obj)
		return 0;
	const struct node_info *ni = obj->ext;
	bool has = !isempty(ni->pod_cidr);
	_cleanup_free_ char *uid = xstrdup(obj->uid);
	cobj_unref(obj);
	if (has)
		return 0;

	char cidr[CIDR_MAX];
	pthread_mutex_lock(&c->mu);
	int r = cidr_set_allocate(&c->set, cidr);
	bool first_full = false, new_waiter = false;
	if (r == -ENOSPC) {
		first_full = !c->full_logged;
		c->full_logged = true;
		if (!avl_find(&c->waiting, name)) {
			struct waiter *w = xnew(struct waiter, 1);
			w->name = xstrdup(name);
			avl_insert(&c->waiting, w->name, &w->avl);
			new_waiter = true;
		}
	}
	pthread_mutex_unlock(&c->mu);
	if (r == -ENOSPC) {
		if (first_full)
			log_warn(
			    "nodeipam: no pod CIDR left in %s (node %s and others wait for one)",
			    c->ctx.opts->cluster_cidr, name);
		else
			log_v(2, "nodeipam: no pod CIDR left for node %s", name);
		if (new_waiter)
			event_record_ref(c->ctx.events, "v1", "Node", "", name, name, "Normal",
					 "CIDRNotAvailable",
					 "Node %s status is now: CIDRNotAvailable", name);
		return 0; /* retried when a CIDR is freed */
	}

	_cleanup_free_ char *path = kpath("v1", "nodes", NULL, name);
	_cleanup_json_ json_t *patch = json_pack("{s:{s:s}, s:{s:s, s:[s]}}", "metadata", "uid",
						 uid, "spec", "podCIDR", cidr, "podCIDRs", cidr);
	long code;
	_cleanup_json_ json_t *res =
	    kclient_patch(c->ctx.client, path, "application/merge-patch+json", patch, &code);
	if (res) {
		log_v(1, "nodeipam: node %s gets pod CIDR %s", name, cidr);
		return 0;
	}
	/* Not written (the node is gone, or got a CIDR meanwhile): give it
	 * back. Without an answer the write may have happened: keep the CIDR
	 * taken rather than risk giving it to two nodes. */
	if (code != 0) {
		pthread_mutex_lock(&c->mu);
		cidr_set_vacate(&c->set, cidr);
		pthread_mutex_unlock(&c->mu);
	}
	if (code == 404)
		return 0;
	log_v(1, "nodeipam: assigning %s to node %s: %ld", cidr, name, code);
	return -EAGAIN;
}

static void *ipam_init(struct controller_ctx *ctx)
{
	struct ipam *c = xnew(struct ipam, 1);
	_cleanup_free_ char *err = NULL;
	if (cidr_set_init(&c->set, ctx->opts->cluster_cidr, ctx->opts->node_cidr_mask_size, &err) <
	    0) {
		log_error("nodeipam: %s", err);
		free(c);
		return NULL;
	}
	c->ctx = *ctx;
	c->workers = MAX(1, MIN(ctx->opts->workers, 4));
	pthread_mutex_init(&c->mu, NULL);
	avl_init(&c->waiting, waiter_cmp);
	c->q = workqueue_new("nodeipam");
	c->nodes = informer_factory_get(ctx->factory, "v1", "nodes");
	struct informer_handlers h = {
		.on_add = on_add, .on_update = on_update, .on_delete = on_delete, .userdata = c
	};
	informer_add_handlers(c->nodes, &h);
	return c;
}

static int ipam_run(void *state)
{
	struct ipam *c = state;
	pthread_mutex_lock(&c->mu);
	log_v(1, "nodeipam: %llu of %llu node CIDRs in %s in use", (unsigned long long)c->set.used,
	      (unsigned long long)c->set.max, c->ctx.opts->cluster_cidr);
	pthread_mutex_unlock(&c->mu);
	return workqueue_run(c->q, c->workers, sync_node, c);
}

static void ipam_stop(void *state)
{
	struct ipam *c = state;
	workqueue_free(c->q);
	struct avl_node *n = avl_first(&c->waiting);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct waiter *w = avl_entry(n, struct waiter, avl);
		avl_remove(&c->waiting, n);
		free(w->name);
		free(w);
		n = next;
	}
	cidr_set_release(&c->set);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const struct controller_ops nodeipam_controller = { "nodeipam", ipam_init, ipam_run, ipam_stop };
