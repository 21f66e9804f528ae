/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster DNS server. The agent runs one on every node, bound to the
 * cluster DNS address (10.43.0.10 on a dummy interface of the node's
 * namespace); `c8s dns` runs one alone, for tests.
 *
 * It answers names in the cluster domain from an in-memory index
 * (dns_db.h) kept current by informers on Services and EndpointSlices, and
 * forwards every other name to the upstream servers (the node's
 * /etc/resolv.conf nameservers) over UDP with a short timeout; without
 * upstreams those get SERVFAIL at once.
 *
 * Threads: N UDP workers, each with its own socket on the same address
 * (SO_REUSEPORT: the kernel spreads queries), reading and answering in
 * batches (recvmmsg/sendmmsg); one TCP thread (poll, many connections);
 * one forwarder thread that relays upstream answers and times out
 * forwarded queries. Malformed and oversized packets are dropped or get
 * FORMERR (dns_msg.h).
 */
#pragma once

#include <stdint.h>

struct kclient;
struct dns_db;
struct dns_server;

struct dns_opts {
	const char *bind_address;   /* "10.43.0.10", "127.0.0.1" */
	int port;		    /* 53; 0 picks a free port (dns_server_port) */
	const char *cluster_domain; /* default "cluster.local" */
	char **upstreams;	    /* "IP" or "IP:PORT", "[IPv6]:PORT"; NULL-terminated;
				     * may be NULL or empty */
	int ttl;		    /* seconds; default 5 */
	int threads;		    /* UDP workers; default 2 */
	int forward_timeout_ms;	    /* per upstream try; default 1500 */
};

/* Bind, start the informers (waiting at most 5 s for their first list)
 * and serve. -errno when the address cannot be bound or an upstream is
 * not an address. */
int dns_server_start(struct kclient *kc, const struct dns_opts *o, struct dns_server **ret);
/* The same without the API server: serve db, which the caller keeps
 * (and frees after dns_server_stop). For tests and benchmarks. */
int dns_server_start_db(struct dns_db *db, const struct dns_opts *o, struct dns_server **ret);
/* The bound port. */
int dns_server_port(const struct dns_server *s);
/* The index being served (to inspect it). */
struct dns_db *dns_server_db(struct dns_server *s);
void dns_server_stop(struct dns_server *s);

/* The nameserver lines of a resolv.conf (path NULL: /etc/resolv.conf), as
 * a NULL-terminated list (empty when the file is missing). */
char **dns_resolv_conf_nameservers(const char *path);

/* `c8s dns`: a standalone server (tests and debugging). */
int dns_main(int argc, char **argv);
