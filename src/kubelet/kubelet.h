/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The real node agent (the kubelet of c8s): registers its Node, renews its
 * Lease, and runs the pods bound to it as containers (crun or runc under
 * conmon, in sandboxes with CNI networking). `c8s agent` and
 * `c8s server --with-agent` start it.
 */
#pragma once

#include <stdbool.h>

struct kclient;
struct kubelet;

struct kubelet_opts {
	const char *node_name;	    /* default: the host name */
	const char *data_dir;	    /* images, logs: /var/lib/c8s/agent */
	const char *root_dir;	    /* run state: /run/c8s/agent */
	const char *runtime;	    /* crun (default) or runc */
	const char *cluster_dns;    /* 10.43.0.10; "" for none */
	const char *cluster_domain; /* cluster.local */
	const char *node_ip;	    /* default: the first global IPv4 address */
	int stream_port;	    /* 10250 */
	const char *cni_bin_dir;    /* /usr/lib/cni */
	const char *cgroup_root;    /* /c8s */
	const char *const *insecure_registries;
	const char *client_ca_pem; /* the cluster CA (for the stream server) */
	int pod_workers;	   /* 8 */
};

void kubelet_opts_default(struct kubelet_opts *o);

/* Start everything (returns once started; work continues in threads). */
int kubelet_start(struct kclient *c, const struct kubelet_opts *o, struct kubelet **ret,
		  char **ret_err);
/* The node's name (the flag, or the host name). */
const char *kubelet_node_name(const struct kubelet *k);
/* Stop the threads; containers keep running under conmon. */
void kubelet_stop(struct kubelet *k);
