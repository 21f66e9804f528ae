/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service proxy's model and its nftables rendering, with no I/O: what
 * a Service and an EndpointSlice mean to the proxy (parsed once from their
 * JSON), and the nft commands that bring the table from what was last
 * rendered for a Service to what the model says now. The table layout is
 * described in src/net/README.md ("Service proxy").
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/avl.h"

struct strbuf;

enum proxy_proto { PROXY_TCP, PROXY_UDP, PROXY_SCTP };

struct proxy_svc_port {
	char *name; /* "" when unnamed */
	int proto;  /* enum proxy_proto */
	int port;
	int node_port; /* 0: none */
};

struct proxy_service {
	char *ns, *name;
	/* NULL: nothing to proxy (headless, ExternalName, no cluster IP). */
	char *cluster_ip;
	/* spec.externalIPs and status.loadBalancer.ingress[].ip. */
	char **external_ips;
	size_t nexternal_ips;
	struct proxy_svc_port *ports;
	size_t nports;
	bool affinity;	      /* sessionAffinity ClientIP */
	int affinity_timeout; /* seconds */
	bool ext_local;	      /* externalTrafficPolicy Local */
	bool int_local;	      /* internalTrafficPolicy Local */
};

struct proxy_slice_port {
	char *name; /* "" when unnamed */
	int proto;
	int port;
};

struct proxy_endpoint {
	char *ip;
	char *node; /* "" when unknown */
	bool ready, serving, terminating;
};

struct proxy_slice {
	char *ns, *service; /* label kubernetes.io/service-name */
	struct proxy_slice_port *ports;
	size_t nports;
	struct proxy_endpoint *eps;
	size_t neps;
};

/* Parse a v1 Service / a discovery.k8s.io/v1 EndpointSlice. Anything the
 * proxy cannot use safely (a bad address, port or name) is an error with a
 * message; an EndpointSlice that is not IPv4 or has no service-name label
 * parses to NULL with 0 (nothing to do). */
int proxy_service_parse(json_t *svc, struct proxy_service **ret, char **ret_err);
void proxy_service_free(struct proxy_service *s);
int proxy_slice_parse(json_t *slice, struct proxy_slice **ret, char **ret_err);
void proxy_slice_free(struct proxy_slice *s);

struct proxy_rules_config {
	const char *table;	  /* "c8s" (family ip) */
	const char *node_name;	  /* for externalTrafficPolicy Local */
	const char *cluster_cidr; /* pod network: traffic from elsewhere is masqueraded */
	const char *dns_ip;	  /* never DNATed nor rejected */
};

/* What was rendered last, per Service: the state incremental updates diff
 * against. */
struct proxy_rules {
	char *table;
	char *node_name;
	char *cluster_cidr;
	char *dns_ip;
	struct avl_tree services; /* struct proxy_rendered by "ns/name" */
	struct avl_tree claims;	  /* map element keys -> owning Service */
};

int proxy_rules_init(struct proxy_rules *r, const struct proxy_rules_config *cfg, char **ret_err);
void proxy_rules_release(struct proxy_rules *r);

/* Start a full sync: commands that atomically replace the whole table with
 * its base chains and maps (no Service); forgets every rendered Service, so
 * that proxy_rules_service() then renders each one from scratch. Apply the
 * result and every Service's commands in one transaction. */
void proxy_rules_full_begin(struct proxy_rules *r, struct strbuf *out);

/* Append the commands that bring Service key ("ns/name") from its last
 * rendering to svc with the given slices (svc NULL: the Service is gone,
 * remove its rules). Only that Service's chains, sets and map elements are
 * touched, and only those whose content changed. Returns true if anything
 * was appended. */
bool proxy_rules_service(struct proxy_rules *r, const char *key, const struct proxy_service *svc,
			 const struct proxy_slice *const *slices, size_t nslices,
			 struct strbuf *out);

/* Forget all rendered state (after a failed apply: the next sync must be a
 * full one). */
void proxy_rules_forget(struct proxy_rules *r);

/* Number of Services with rules rendered. */
size_t proxy_rules_count(const struct proxy_rules *r);

/* Commands deleting the whole table (idempotent). */
void proxy_rules_delete_table(const char *table, struct strbuf *out);
