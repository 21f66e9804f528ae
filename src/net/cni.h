/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod networking through CNI plugins (Debian containernetworking-plugins in
 * /usr/lib/cni), invoked per the CNI 1.0 spec (CNI_COMMAND, CNI_CONTAINERID,
 * CNI_NETNS, CNI_IFNAME, CNI_PATH, config on stdin): a chain of bridge
 * (hairpin mode, a gateway on the bridge, IP masquerade) with host-local IPAM
 * over the node's pod CIDR, loopback, and portmap for hostPorts.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct cni_config {
	const char *plugin_dir; /* /usr/lib/cni */
	const char *state_dir;	/* host-local's data dir (per node) */
	const char *bridge;	/* "c8s0" */
	const char *pod_cidr;	/* the node's spec.podCIDR */
	int mtu;		/* 0: default */
	bool no_masquerade;	/* the node masquerades for the whole cluster
				 * CIDR itself (net/podnet.h): no per-pod rule */
};

/* Attach netns to the pod network as ifname ("eth0"); port_mappings is the
 * portmap runtimeConfig list [{hostPort, containerPort, protocol, hostIP}]
 * or NULL. *ret_ip is the pod's address. */
int cni_add(const struct cni_config *cfg, const char *container_id, const char *netns,
	    const char *ifname, json_t *port_mappings, char **ret_ip, char **ret_err);
/* Detach (idempotent, also when the netns is already gone). */
int cni_del(const struct cni_config *cfg, const char *container_id, const char *netns,
	    const char *ifname, json_t *port_mappings, char **ret_err);
