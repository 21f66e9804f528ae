/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service proxy a node agent runs: it watches Services and
 * EndpointSlices and keeps an nftables table ("c8s", family ip) in the
 * agent's network namespace in step with them, in the kube-proxy nftables
 * design (src/net/README.md, "Service proxy"). At start one transaction
 * replaces the table's contents (traffic keeps flowing across a restart);
 * after that each change rewrites only the changed Services' chains and map
 * elements, batched: a change is live within sync_min_ms plus the apply
 * time. A failed apply is logged with nft's message and retried as a full
 * sync with back-off.
 */
#pragma once

#include <stdbool.h>

struct kclient;
struct svc_proxy;

struct svc_proxy_opts {
	const char *node_name;	  /* for externalTrafficPolicy Local */
	char **node_ips;	  /* NULL-terminated; informative (NodePorts match every
				   * local address: fib daddr type local) */
	const char *cluster_cidr; /* 10.42.0.0/16: traffic from elsewhere is masqueraded */
	const char *service_cidr; /* 10.43.0.0/16 */
	const char *dns_ip;	  /* 10.43.0.10: never DNATed, the agent serves DNS there */
	int sync_min_ms;	  /* least time between two applies (batching) */
	const char *table;	  /* "c8s" */
	bool cleanup_on_stop;	  /* svc_proxy_stop deletes the table */
	const char *netns;	  /* optional: apply rules in this network namespace
				   * (a path like /run/netns/NAME), not the caller's */
};

/* Start the informers and the sync thread. Errors: bad options (-EINVAL,
 * with a log line), informer failures. */
int svc_proxy_start(struct kclient *kc, const struct svc_proxy_opts *o, struct svc_proxy **ret);
/* Stop the thread and informers; the rules stay (unless cleanup_on_stop). */
void svc_proxy_stop(struct svc_proxy *p);

/* Delete the proxy's table from the current network namespace (0 when it
 * is gone or was never there). */
int svc_proxy_cleanup(const char *table);

/* Counters, for tests and benchmarks. */
struct svc_proxy_stats {
	unsigned long full_syncs, partial_syncs, failures;
	unsigned long long last_sync_usec; /* duration of the last apply */
	bool synced;			   /* first full sync applied */
};
void svc_proxy_get_stats(struct svc_proxy *p, struct svc_proxy_stats *ret);

/* `c8s proxy-apply` (hidden debug subcommand, proxy_cli.c). */
int proxy_apply_main(int argc, char **argv);
