/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pod network between nodes, run by every agent (like flannel's
 * host-gw backend): a route to each other node's spec.podCIDR via that
 * node's InternalIP, kept in step with the Node objects; and masquerade for
 * traffic from pods to anything outside the cluster CIDR (pod-to-pod
 * traffic keeps its addresses, across nodes too). It also makes the dummy
 * interface c8s-svc that holds the cluster DNS address (where the agent's
 * DNS server listens) and routes the service CIDR, so that traffic the node
 * itself sends to a ClusterIP finds a route before the service proxy's
 * DNAT (a node namespace may have no default route).
 */
#pragma once

struct kclient;
struct podnet;

struct podnet_opts {
	const char *node_name;	  /* this node: no route to itself */
	const char *cluster_cidr; /* 10.42.0.0/16 */
	const char *service_cidr; /* 10.43.0.0/16 */
	const char *dns_ip;	  /* 10.43.0.10, or NULL */
};

int podnet_start(struct kclient *kc, const struct podnet_opts *o, struct podnet **ret);
/* Stop watching; routes and the masquerade rule stay (pods keep working
 * across an agent restart). */
void podnet_stop(struct podnet *p);
