/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network services every agent runs for its node, in the node's network
 * namespace: the pod network between nodes (podnet.h: routes, masquerade,
 * the c8s-svc link with the cluster DNS address), the service proxy
 * (proxy.h, nftables) and the cluster DNS server (dns.h) at the DNS address.
 */
#pragma once

#include <stdbool.h>

struct kclient;
struct node_net;

struct node_net_opts {
	const char *node_name;
	const char *cluster_cidr;   /* 10.42.0.0/16 */
	const char *service_cidr;   /* 10.43.0.0/16 */
	const char *cluster_dns;    /* 10.43.0.10; "" or NULL: no DNS server */
	const char *cluster_domain; /* cluster.local */
	const char *resolv_conf;    /* upstream resolvers for other names, like the
				     * kubelet's --resolv-conf; "" for none */
	bool disable_proxy;	    /* no service proxy (another one runs) */
	bool disable_dns;	    /* no DNS server */
};

int node_net_start(struct kclient *kc, const struct node_net_opts *o, struct node_net **ret,
		   char **ret_err);
/* Stop the watchers; routes and rules stay, so pods keep their network
 * across an agent restart. */
void node_net_stop(struct node_net *n);
