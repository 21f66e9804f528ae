/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server's side of the pod subresources that live on the nodes:
 *   GET  pods/NAME/log          streamed from the agent's /containerLogs
 *   GET  pods/NAME/exec         WebSocket (v5.channel.k8s.io) upgrade, relayed
 *   POST pods/NAME/exec         SPDY upgrade (kubectl's fallback), relayed
 *   GET|POST pods/NAME/attach   the same on /attach
 *   POST pods/NAME/portforward  SPDY/3.1 upgrade, relayed; the WebSocket
 *                               attempt (GET) is refused with 400 so that
 *                               kubectl falls back to SPDY
 *   ANY  pods/ID/proxy/PATH, services/ID/proxy/PATH, nodes/ID/proxy/PATH
 *                               forwarded to the pod, a ready endpoint of the
 *                               service, or the node's agent (proxy_target.h),
 *                               and the answer streamed back as it comes
 * The API server checks the request (pod, container, phase), finds the pod's
 * node and the agent's address (status.addresses, InternalIP first, and
 * status.daemonEndpoints.kubeletEndpoint.Port, 10250 by default), connects
 * over TLS with a client certificate of the cluster CA, and forwards the
 * request. For an upgrade it answers the client with the agent's 101 and
 * then only relays bytes both ways: the agent speaks the protocol. The
 * agent's serving certificate is not verified (like Kubernetes without
 * --kubelet-certificate-authority).
 *
 * Each forwarded request gets a thread (there are few): it connects while
 * the client's connection is suspended, and then streams the log or relays
 * the upgraded connection.
 */
#pragma once

#include <stdbool.h>

struct certs;
struct req;
struct proxy;

/* Issue the API server's client certificate for the agents (CN
 * system:kube-apiserver, O system:masters) and set up TLS. */
int proxy_open(const struct certs *c, struct proxy **ret);
/* End every relay and log stream (before the HTTP server stops), then free. */
void proxy_close(struct proxy *p);

/* Whether r is a request for one of the subresources above. */
bool proxy_handles(const struct req *r);
/* Serve it (called again for the same request once it is resumed). */
void proxy_serve(struct req *r);
