/* SPDX-License-Identifier: Apache-2.0 */
/* Routes to the other nodes' pod CIDRs, and masquerade out of the cluster. */
#include <errno.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/informer.h"
#include "client/objects.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "net/iproute.h"
#include "net/podnet.h"

struct route {
	char *cidr, *via;
};

struct podnet {
	char *node_name;
	char *cluster_cidr;
	struct informer *nodes;
	pthread_mutex_t mu;
	struct route *routes; /* what we installed */
	size_t nroutes;
};

struct want {
	struct podnet *p;
	struct route *r;
	size_t n;
};

static void collect(struct cobj *o, void *userdata)
{
	struct want *w = userdata;
	const struct node_info *ni = o->ext;
	if (!ni || streq(o->name, w->p->node_name) || isempty(ni->pod_cidr) ||
	    isempty(ni->internal_ip))
		return;
	w->r = xrealloc(w->r, (w->n + 1) * sizeof(*w->r));
	w->r[w->n].cidr = xstrdup(ni->pod_cidr);
	w->r[w->n].via = xstrdup(ni->internal_ip);
	w->n++;
}

static const struct route *find(const struct route *v, size_t n, const char *cidr)
{
	for (size_t i = 0; i < n; i++)
		if (streq(v[i].cidr, cidr))
			return &v[i];
	return NULL;
}

static void routes_free(struct route *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].cidr);
		free(v[i].via);
	}
	free(v);
}

/* Make the routes what the nodes say. */
static void sync_routes(struct podnet *p)
{
	struct want w = { .p = p };
	informer_foreach(p->nodes, NULL, collect, &w);

	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < w.n; i++) {
		const struct route *have = find(p->routes, p->nroutes, w.r[i].cidr);
		if (have && streq(have->via, w.r[i].via))
			continue;
		char *err = NULL;
		if (net_ip(&err, "route replace %s via %s", w.r[i].cidr, w.r[i].via) < 0) {
			log_warn("pod network: %s", err);
			free(err);
			/* Not recorded: tried again on the next change. */
			free(w.r[i].cidr);
			w.r[i].cidr = xstrdup("");
		} else
			log_v(2, "pod network: route %s via %s", w.r[i].cidr, w.r[i].via);
	}
	for (size_t i = 0; i < p->nroutes; i++) {
		if (find(w.r, w.n, p->routes[i].cidr))
			continue;
		char *err = NULL;
		if (net_ip(&err, "route del %s via %s", p->routes[i].cidr, p->routes[i].via) < 0) {
			log_v(2, "pod network: %s", err);
			free(err);
		} else
			log_v(2, "pod network: route %s removed", p->routes[i].cidr);
	}
	routes_free(p->routes, p->nroutes);
	p->routes = w.r;
	p->nroutes = w.n;
	pthread_mutex_unlock(&p->mu);
}

static void on_add(struct cobj *o, void *ud)
{
	sync_routes(ud);
}

static void on_update(struct cobj *old, struct cobj *o, void *ud)
{
	const struct node_info *a = old->ext, *b = o->ext;
	if (a && b && streq(a->pod_cidr ?: "", b->pod_cidr ?: "") &&
	    streq(a->internal_ip ?: "", b->internal_ip ?: ""))
		return;
	sync_routes(ud);
}

static void on_delete(struct cobj *o, void *ud)
{
	sync_routes(ud);
}

/* Pods' traffic to anything outside the cluster CIDR leaves with the
 * node's address; replaced as a whole, so a restart never doubles it. */
static int masquerade_install(const char *cluster_cidr)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft)
		return -ENOMEM;
	nft_ctx_buffer_error(nft);
	_cleanup_free_ char *cmd =
	    xasprintf("table ip c8s-podnet\n"
		      "delete table ip c8s-podnet\n"
		      "table ip c8s-podnet {\n"
		      "  chain postrouting {\n"
		      "    type nat hook postrouting priority srcnat; policy accept;\n"
		      "    ip saddr %s ip daddr != %s masquerade\n"
		      "  }\n"
		      "}\n",
		      cluster_cidr, cluster_cidr);
	int r = nft_run_cmd_from_buffer(nft, cmd);
	if (r != 0)
		log_warn("pod network: cannot install the masquerade rule: %s",
			 nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
	return r ? -EIO : 0;
}

/* The dummy link c8s-svc with the DNS address, and the service CIDR
 * routed to it. */
static void service_link_install(const char *service_cidr, const char *dns_ip)
{
	char *err = NULL;
	/* A dummy link; a bridge without ports where the kernel has no dummy
	 * driver (its address is local and its routes are used all the same). */
	if (net_ip(NULL, "link show c8s-svc") < 0 &&
	    net_ip(NULL, "link add c8s-svc type dummy") < 0 &&
	    net_ip(&err, "link add c8s-svc type bridge") < 0)
		goto fail;
	if (net_ip(&err, "link set c8s-svc up") < 0)
		goto fail;
	if (dns_ip && net_ip(&err, "addr replace %s/32 dev c8s-svc", dns_ip) < 0)
		goto fail;
	if (service_cidr && net_ip(&err, "route replace %s dev c8s-svc", service_cidr) < 0)
		goto fail;
	return;
fail:
	log_warn("pod network: %s", err);
	free(err);
}

int podnet_start(struct kclient *kc, const struct podnet_opts *o, struct podnet **ret)
{
	struct podnet *p = xnew(struct podnet, 1);
	int r;

	p->node_name = xstrdup(o->node_name);
	p->cluster_cidr = xstrdup(o->cluster_cidr ? o->cluster_cidr : "10.42.0.0/16");
	pthread_mutex_init(&p->mu, NULL);
	(void)masquerade_install(p->cluster_cidr);
	service_link_install(o->service_cidr ? o->service_cidr : "10.43.0.0/16", o->dns_ip);

	struct informer_opts io = { .api_version = "v1",
				    .plural = "nodes",
				    .extract = node_info_extract,
				    .ext_free = node_info_free };
	r = informer_new(kc, &io, &p->nodes);
	if (r < 0) {
		podnet_stop(p);
		return r;
	}
	struct informer_handlers h = {
		.on_add = on_add, .on_update = on_update, .on_delete = on_delete, .userdata = p
	};
	informer_add_handlers(p->nodes, &h);
	r = informer_start(p->nodes);
	if (r < 0) {
		podnet_stop(p);
		return r;
	}
	*ret = p;
	return 0;
}

void podnet_stop(struct podnet *p)
{
	if (!p)
		return;
	if (p->nodes) {
		informer_stop(p->nodes);
		informer_free(p->nodes);
	}
	routes_free(p->routes, p->nroutes);
	pthread_mutex_destroy(&p->mu);
	free(p->node_name);
	free(p->cluster_cidr);
	free(p);
}
