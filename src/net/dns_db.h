/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cluster DNS data: what the DNS server knows of Services and
 * EndpointSlices, indexed by name, and the answers it gives (the Kubernetes
 * DNS specification, schema 1.1.0). No sockets and no API client here: the
 * server (dns.h) feeds it from informers, the unit tests from a model.
 *
 * Index: one entry per Service ("ns/name"), rebuilt whenever the Service or
 * one of its slices changes: the addresses its name answers with, its
 * endpoints' host names (sorted, for binary search) and its SRV records;
 * a reverse map IP -> names for PTR. Lookups take a read lock, updates a
 * (writer-preferring) write lock for the few microseconds of a rebuild.
 */
#pragma once

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/dns_msg.h"

struct dns_ip {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
};
/* Parse an IPv4 or IPv6 address; false if it is neither. */
bool dns_ip_parse(const char *s, struct dns_ip *ret);

struct dns_port {
	char *name;	/* "" for an unnamed port */
	char *protocol; /* "tcp", "udp", "sctp" (lower case) */
	int port;
};

/* What DNS needs of a Service. */
struct dns_service {
	char *ns, *name;
	bool headless;	     /* spec.clusterIP "None" */
	char *external_name; /* type ExternalName: the CNAME target, else NULL */
	struct dns_ip *ips;  /* spec.clusterIPs (or clusterIP) */
	size_t nips;
	struct dns_port *ports;
	size_t nports;
};

struct dns_endpoint {
	struct dns_ip *addrs;
	size_t naddrs;
	char *hostname; /* NULL when unset */
	bool ready;	/* conditions.ready (unset means true) */
};

/* What DNS needs of an EndpointSlice. */
struct dns_slice {
	char *ns, *name;
	char *service; /* label kubernetes.io/service-name ("" when missing) */
	struct dns_endpoint *eps;
	size_t neps;
	struct dns_port *ports;
	size_t nports;
};

/* From API objects; NULL when obj is not a usable Service / slice (no
 * name). The informers' extract functions. */
struct dns_service *dns_service_from_json(json_t *obj);
struct dns_slice *dns_slice_from_json(json_t *obj);
void dns_service_free(struct dns_service *s);
void dns_slice_free(struct dns_slice *s);
/* Wrappers with void * for informer_opts.ext_free. */
void dns_service_free_v(void *s);
void dns_slice_free_v(void *s);

struct dns_db;

struct dns_db *dns_db_new(const char *zone, uint32_t ttl);
void dns_db_free(struct dns_db *db);

/* Add or replace (by ns/name); the db keeps a copy. */
void dns_db_set_service(struct dns_db *db, const struct dns_service *s);
void dns_db_del_service(struct dns_db *db, const char *ns, const char *name);
void dns_db_set_slice(struct dns_db *db, const struct dns_slice *s);
void dns_db_del_slice(struct dns_db *db, const char *ns, const char *name);
size_t dns_db_service_count(struct dns_db *db);

enum dns_result {
	DNS_ANSWERED, /* the answer is in out */
	DNS_FORWARD,  /* not ours: ask the upstream servers */
	DNS_CHASE,    /* the answer in out ends in a CNAME (ExternalName) to *ret_target,
		       * outside the zone: the target's records may be asked upstream and
		       * appended (dns_splice_answers); out alone is a valid answer */
};

/* Answer q (parsed from a query) into out, at most limit bytes. With
 * ret_target NULL, DNS_CHASE is never returned. */
enum dns_result dns_db_answer(struct dns_db *db, const struct dns_query *q, uint8_t *out,
			      size_t limit, size_t *ret_len, struct dns_name *ret_target);
