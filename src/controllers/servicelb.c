/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ServiceLB: the load balancer of a cluster with no cloud. Every Service
 * of type LoadBalancer (without a spec.loadBalancerClass, which names
 * another implementation) gets one address out of --service-lb-cidr
 * (default 10.44.0.0/24), written to status.loadBalancer.ingress[0].ip
 * (kubectl's EXTERNAL-IP); the service proxy on every node answers on it.
 * spec.loadBalancerIP is honoured when it lies in the pool and is free.
 * The address is given back when the Service is deleted or stops being a
 * LoadBalancer (its status is then cleared).
 *
 * What is in use is learned from the Services themselves: the handlers
 * claim the ingress address of every LoadBalancer Service they see, and the
 * initial list delivers them all before the workers start, so a restarted
 * controller hands out nothing that is taken.
 */
#include <arpa/inet.h>
#include <pthread.h>

#include "client/events.h"
#include "client/factory.h"
#include "client/informer.h"
#include "client/kclient.h"
#include "client/workqueue.h"
#include "controllers/controllers.h"
#include "controllers/nodeipam.h"
#include "lib/avl.h"
#include "lib/json.h"
#include "lib/log.h"

struct lease {
	struct avl_node by_ip, by_key;
	char ip[INET_ADDRSTRLEN];
	char *key;
};

struct slb {
	struct controller_ctx ctx;
	struct informer *svcs;
	struct workqueue *q;
	int workers;
	pthread_mutex_t mu;
	struct cidr_set set;
	uint32_t base, mask;
	struct avl_tree by_ip, by_key;
};

static int ip_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct lease, by_ip)->ip);
}

static int key_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct lease, by_key)->key);
}

static bool in_pool(const struct slb *c, const char *ip)
{
	struct in_addr a;
	if (!ip || inet_pton(AF_INET, ip, &a) != 1)
		return false;
	return (ntohl(a.s_addr) & c->mask) == c->base;
}

static struct lease *lease_of_key(struct slb *c, const char *key)
{
	struct avl_node *n = avl_find(&c->by_key, key);
	return n ? avl_entry(n, struct lease, by_key) : NULL;
}

static struct lease *lease_of_ip(struct slb *c, const char *ip)
{
	struct avl_node *n = avl_find(&c->by_ip, ip);
	return n ? avl_entry(n, struct lease, by_ip) : NULL;
}

static void release_locked(struct slb *c, const char *key)
{
	struct lease *l = lease_of_key(c, key);
	if (!l)
		return;
	_cleanup_free_ char *cidr = xasprintf("%s/32", l->ip);
	cidr_set_vacate(&c->set, cidr);
	log_v(1, "servicelb: released %s of %s", l->ip, key);
	avl_remove(&c->by_ip, &l->by_ip);
	avl_remove(&c->by_key, &l->by_key);
	free(l->key);
	free(l);
}

/* Give ip to key (key must hold nothing). False when ip is taken. */
static bool claim_locked(struct slb *c, const char *key, const char *ip)
{
	struct lease *o = lease_of_ip(c, ip);
	if (o)
		return streq(o->key, key);
	release_locked(c, key);
	_cleanup_free_ char *cidr = xasprintf("%s/32", ip);
	if (cidr_set_occupy(&c->set, cidr) < 0)
		return false;
	struct lease *l = xnew(struct lease, 1);
	snprintf(l->ip, sizeof(l->ip), "%s", ip);
	l->key = xstrdup(key);
	avl_insert(&c->by_ip, l->ip, &l->by_ip);
	avl_insert(&c->by_key, l->key, &l->by_key);
	return true;
}

static bool is_lb(json_t *svc)
{
	return streq_ptr(json_get_str(svc, "spec.type"), "LoadBalancer") &&
	       isempty(json_get_str(svc, "spec.loadBalancerClass"));
}

static void svc_seen(struct cobj *obj, void *ud)
{
	struct slb *c = ud;
	_cleanup_json_ json_t *svc = cobj_parse(obj);
	if (svc && is_lb(svc)) {
		size_t i;
		json_t *in;
		pthread_mutex_lock(&c->mu);
		json_array_foreach(json_get(svc, "status.loadBalancer.ingress"), i, in)
		{
			const char *ip = json_get_str(in, "ip");
			if (in_pool(c, ip) && !lease_of_key(c, obj->key))
				claim_locked(c, obj->key, ip);
		}
		pthread_mutex_unlock(&c->mu);
	}
	workqueue_add(c->q, obj->key);
}

static void svc_updated(struct cobj *old, struct cobj *obj, void *ud)
{
	if (old->rv != obj->rv)
		svc_seen(obj, ud);
}

static void svc_deleted(struct cobj *obj, void *ud)
{
	struct slb *c = ud;
	pthread_mutex_lock(&c->mu);
	release_locked(c, obj->key);
	pthread_mutex_unlock(&c->mu);
}

static int patch_status(struct slb *c, const char *ns, const char *name, const char *ip)
{
	_cleanup_free_ char *base = kpath("v1", "services", ns, name);
	_cleanup_free_ char *path = xasprintf("%s/status", base);
	_cleanup_json_ json_t *patch =
	    ip ? json_pack("{s:{s:{s:[{s:s, s:s}]}}}", "status", "loadBalancer", "ingress", "ip",
			   ip, "ipMode", "VIP")
	       : json_pack("{s:{s:{s:n}}}", "status", "loadBalancer", "ingress");
	long code;
	_cleanup_json_ json_t *res =
	    kclient_patch(c->ctx.client, path, "application/merge-patch+json", patch, &code);
	if (res)
		return 0;
	return code == 404 ? -ENOENT : -EAGAIN;
}

static int sync_service(const char *key, void *ud)
{
	struct slb *c = ud;
	_cleanup_free_ char *ns = xstrdup(key);
	char *slash = strchr(ns, '/');
	if (!slash)
		return 0;
	*slash = 0;
	const char *name = slash + 1;

	struct cobj *so = informer_get(c->svcs, key);
	_cleanup_json_ json_t *svc = so ? cobj_parse(so) : NULL;
	if (so)
		cobj_unref(so);
	if (!svc) {
		pthread_mutex_lock(&c->mu);
		release_locked(c, key);
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	json_t *ingress = json_get(svc, "status.loadBalancer.ingress");
	if (!is_lb(svc)) {
		pthread_mutex_lock(&c->mu);
		release_locked(c, key);
		pthread_mutex_unlock(&c->mu);
		/* Clear an address of ours left in its status. */
		bool ours = false;
		size_t i;
		json_t *in;
		json_array_foreach(ingress, i, in)
		{
			ours |= in_pool(c, json_get_str(in, "ip"));
		}
		if (!ours || !isempty(json_get_str(svc, "spec.loadBalancerClass")))
			return 0;
		int r = patch_status(c, ns, name, NULL);
		return r == -ENOENT ? 0 : r;
	}

	const char *want = json_get_str(svc, "spec.loadBalancerIP");
	char ip[CIDR_MAX] = "";
	const char *problem = NULL;
	pthread_mutex_lock(&c->mu);
	struct lease *held = lease_of_key(c, key);
	if (!isempty(want)) {
		if (!in_pool(c, want))
			problem = "is not in the load balancer address pool";
		else if (!claim_locked(c, key, want))
			problem = "is in use by another Service";
		else
			snprintf(ip, sizeof(ip), "%s", want);
	} else if (held) {
		snprintf(ip, sizeof(ip), "%s", held->ip);
	} else {
		char cidr[CIDR_MAX];
		if (cidr_set_allocate(&c->set, cidr) == 0) {
			char *s = strchr(cidr, '/');
			if (s)
				*s = 0;
			cidr_set_vacate(&c->set, cidr); /* claim_locked takes it */
			claim_locked(c, key, cidr);
			snprintf(ip, sizeof(ip), "%s", cidr);
			log_v(1, "servicelb: %s gets %s", key, ip);
		} else {
			problem = "";
		}
	}
	pthread_mutex_unlock(&c->mu);

	if (problem) {
		if (*problem)
			event_record_ref(c->ctx.events, "v1", "Service", ns, name,
					 str_or_empty_json(svc, "metadata.uid"), "Warning",
					 "AllocationFailed", "loadBalancerIP %s %s", want, problem);
		else
			event_record_ref(c->ctx.events, "v1", "Service", ns, name,
					 str_or_empty_json(svc, "metadata.uid"), "Warning",
					 "AllocationFailed", "no address left in pool %s",
					 c->ctx.opts->service_lb_cidr);
		/* Try again later: the address may be freed. */
		workqueue_add_after(c->q, key, 10LL * 1000000);
		return 0;
	}
	if (json_array_size(ingress) == 1 &&
	    streq_ptr(json_get_str(json_array_get(ingress, 0), "ip"), ip))
		return 0;
	int r = patch_status(c, ns, name, ip);
	if (r == -ENOENT) {
		pthread_mutex_lock(&c->mu);
		release_locked(c, key);
		pthread_mutex_unlock(&c->mu);
		return 0;
	}
	if (r < 0) {
		log_v(1, "servicelb: writing the status of %s failed", key);
		return r;
	}
	event_record_ref(c->ctx.events, "v1", "Service", ns, name,
			 str_or_empty_json(svc, "metadata.uid"), "Normal", "EnsuredLoadBalancer",
			 "Ensured load balancer with address %s", ip);
	return 0;
}

static void occupy_addr(struct cidr_set *set, uint32_t addr)
{
	char text[INET_ADDRSTRLEN], cidr[CIDR_MAX];
	struct in_addr x = { .s_addr = htonl(addr) };
	inet_ntop(AF_INET, &x, text, sizeof(text));
	snprintf(cidr, sizeof(cidr), "%s/32", text);
	cidr_set_occupy(set, cidr);
}

static void *slb_init(struct controller_ctx *ctx)
{
	struct slb *c = xnew(struct slb, 1);
	const char *pool = ctx->opts->service_lb_cidr;
	int family, bits;
	unsigned __int128 a;
	_cleanup_free_ char *err = NULL;
	if (cidr_parse(pool, &family, &a, &bits) < 0 || family != AF_INET) {
		log_error("servicelb: invalid --service-lb-cidr \"%s\": an IPv4 CIDR is needed",
			  pool ? pool : "");
		free(c);
		return NULL;
	}
	if (cidr_set_init(&c->set, pool, 32, &err) < 0) {
		log_error("servicelb: --service-lb-cidr: %s", err);
		free(c);
		return NULL;
	}
	c->mask = bits ? ~(uint32_t)0 << (32 - bits) : 0;
	c->base = (uint32_t)a & c->mask;
	if (bits <= 30) {
		/* Neither the network nor the broadcast address. */
		occupy_addr(&c->set, c->base);
		occupy_addr(&c->set, c->base | ~c->mask);
	}
	c->ctx = *ctx;
	c->workers = MAX(1, MIN(ctx->opts->workers, 2));
	pthread_mutex_init(&c->mu, NULL);
	avl_init(&c->by_ip, ip_cmp);
	avl_init(&c->by_key, key_cmp);
	c->q = workqueue_new("servicelb");
	c->svcs = informer_factory_get(ctx->factory, "v1", "services");
	struct informer_handlers h = { .on_add = svc_seen,
				       .on_update = svc_updated,
				       .on_delete = svc_deleted,
				       .userdata = c };
	informer_add_handlers(c->svcs, &h);
	return c;
}

static int slb_run(void *state)
{
	struct slb *c = state;
	pthread_mutex_lock(&c->mu);
	log_v(1, "servicelb: %zu addresses of %s in use", c->by_ip.count,
	      c->ctx.opts->service_lb_cidr);
	pthread_mutex_unlock(&c->mu);
	return workqueue_run(c->q, c->workers, sync_service, c);
}

static void slb_stop(void *state)
{
	struct slb *c = state;
	workqueue_free(c->q);
	struct avl_node *n = avl_first(&c->by_key);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct lease *l = avl_entry(n, struct lease, by_key);
		free(l->key);
		free(l);
		n = next;
	}
	cidr_set_release(&c->set);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const struct controller_ops servicelb_controller = { "servicelb", slb_init, slb_run, slb_stop };
