/* SPDX-License-Identifier: Apache-2.0 */
/* The pod network, the service proxy and DNS of one node. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/macro.h"
#include "net/dns.h"
#include "net/node_net.h"
#include "net/podnet.h"
#include "net/proxy.h"

struct node_net {
	struct podnet *podnet;
	struct svc_proxy *proxy;
	struct dns_server *dns;
};

int node_net_start(struct kclient *kc, const struct node_net_opts *o, struct node_net **ret,
		   char **ret_err)
{
	struct node_net *n = xnew(struct node_net, 1);
	const char *cluster_cidr = o->cluster_cidr ? o->cluster_cidr : "10.42.0.0/16";
	const char *service_cidr = o->service_cidr ? o->service_cidr : "10.43.0.0/16";
	const char *dns_ip = isempty(o->cluster_dns) || o->disable_dns ? NULL : o->cluster_dns;
	int r;

	struct podnet_opts po = { .node_name = o->node_name,
				  .cluster_cidr = cluster_cidr,
				  .service_cidr = service_cidr,
				  .dns_ip = dns_ip };
	r = podnet_start(kc, &po, &n->podnet);
	if (r < 0) {
		*ret_err = xasprintf("pod network: %s", strerror(-r));
		goto fail;
	}
	/* From here on a part that cannot start is logged and left out: the
	 * node still runs its pods. */
	if (!o->disable_proxy) {
		struct svc_proxy_opts so = { .node_name = o->node_name,
					     .cluster_cidr = cluster_cidr,
					     .service_cidr = service_cidr,
					     .dns_ip = o->cluster_dns,
					     .sync_min_ms = 10,
					     .table = "c8s" };
		r = svc_proxy_start(kc, &so, &n->proxy);
		if (r < 0)
			log_error("cannot start the service proxy: %s", strerror(-r));
	}
	if (dns_ip) {
		const char *rc = o->resolv_conf ? o->resolv_conf : "/etc/resolv.conf";
		_cleanup_strv_free_ char **upstreams = *rc ? dns_resolv_conf_nameservers(rc) : NULL;
		struct dns_opts d = { .bind_address = dns_ip,
				      .port = 53,
				      .cluster_domain = o->cluster_domain,
				      .upstreams = upstreams };
		r = dns_server_start(kc, &d, &n->dns);
		if (r < 0)
			log_error("cannot serve the cluster DNS on %s:53: %s", dns_ip,
				  strerror(-r));
	}
	log_info("node network: pod routes, %s, %s",
		 n->proxy ? "service proxy" : "no service proxy",
		 n->dns ? "cluster DNS" : "no DNS");
	*ret = n;
	return 0;
fail:
	node_net_stop(n);
	return r;
}

void node_net_stop(struct node_net *n)
{
	if (!n)
		return;
	if (n->dns)
		dns_server_stop(n->dns);
	if (n->proxy)
		svc_proxy_stop(n->proxy);
	podnet_stop(n->podnet);
	free(n);
}
