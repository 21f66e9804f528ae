/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where the API server's proxy subresources lead (proxy.c does the
 * forwarding). The object name in the path may carry a scheme and a port,
 * as Kubernetes' SplitSchemeNamePort reads it: NAME, NAME:PORT or
 * SCHEME:NAME:PORT with SCHEME http or https (empty: http).
 *   pods/ID/proxy      the pod's status.podIP and PORT (or the first
 *                      declared container port, or none)
 *   services/ID/proxy  a ready address of the service's Endpoints (or,
 *                      without an Endpoints object, its EndpointSlices),
 *                      chosen at random, on the endpoint port whose name
 *                      matches the service port PORT names (by name, or by
 *                      number through the service's ports)
 *   nodes/ID/proxy     the node's agent (its address and kubelet port, over
 *                      TLS with the API server's client certificate) when
 *                      PORT is empty or the kubelet port; else the node's
 *                      address and PORT
 * As in Kubernetes, the pod and endpoint addresses are connected to
 * directly; loopback addresses are allowed (single-machine clusters).
 */
#pragma once

#include <stdbool.h>

struct apiserver;
struct api_error;
struct resource;

struct proxy_target {
	char *host;
	int port;
	bool tls;   /* https, or the agent */
	bool agent; /* the node agent: present the API server's client certificate */
};

void proxy_target_release(struct proxy_target *t);

/* Resolve res ("pods", "services" or "nodes") object id in ns. 0, or a
 * negative errno with err set to the Status the client gets. */
int proxy_target_resolve(struct apiserver *srv, const struct resource *res, const char *ns,
			 const char *id, struct proxy_target *ret, struct api_error *err);

/* The agent's address on a node: InternalIP, else ExternalIP, else
 * Hostname, and status.daemonEndpoints.kubeletEndpoint.Port (10250 when
 * unset). */
int proxy_node_address(struct apiserver *srv, const char *node, char **ret_host, int *ret_port,
		       struct api_error *err);
