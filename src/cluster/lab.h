/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The network of a local cluster (`c8s cluster create`), made with
 * iproute2:
 *
 *   host namespace          lab namespace (no default route)       node namespaces
 *   c8s-NAME 172.30.K.1/24 <-veth-> host0 ─┐
 *                                          br0 ─ n0 <-veth-> eth0 172.30.K.10/24 (c8s-NAME-n0)
 *                                              ─ n1 <-veth-> eth0 172.30.K.11/24 (c8s-NAME-n1) ...
 *
 * The lab namespace is only a switch; the nodes have no default route
 * either. The host reaches the node addresses (API server, NodePorts)
 * through its own end of the link, and the LoadBalancer pool through a
 * route via the first node; it has no route to the pod or service networks.
 */
#pragma once

#include <stdbool.h>

#define LAB_MAX_NODES 64
#define LAB_NAME_MAX  11 /* "c8s-" + name must fit an interface name (15) */

struct lab {
	const char *name; /* cluster name */
	int subnet;	  /* K in 172.30.K.0/24 */
	int nodes;
};

/* Namespace and link names, and addresses (static buffers of the caller). */
void lab_netns_name(const struct lab *l, char *buf, size_t size);
void lab_node_netns_name(const struct lab *l, int i, char *buf, size_t size);
void lab_host_link_name(const struct lab *l, char *buf, size_t size);
void lab_node_ip(const struct lab *l, int i, char *buf, size_t size);
void lab_host_ip(const struct lab *l, char *buf, size_t size);

/* Is 172.30.K.0/24 free on this host (no route, no cluster using it)? */
bool lab_subnet_free(int subnet);

/* Create everything of the picture above; on failure, what was made is
 * left for lab_destroy(). */
int lab_create(const struct lab *l, char **ret_err);
/* Route a LoadBalancer pool from the host via the first node. */
int lab_route_add(const struct lab *l, const char *cidr, char **ret_err);
/* Remove the links, routes and namespaces; missing ones are fine. */
void lab_destroy(const struct lab *l, const char *lb_cidr);

/* Does a named network namespace exist? */
bool lab_netns_exists(const char *name);
