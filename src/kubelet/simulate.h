/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simulated nodes (`c8s agent --simulate N`), like kubemark or kwok: one
 * process registers N Node objects and plays their kubelets over the API,
 * without running anything.
 *
 * Per node it renews a Lease in kube-node-lease (the heartbeat the node
 * lifecycle controller watches) and reports the node's status now and
 * then. For the pods bound to its nodes it reports them Running with an IP
 * out of the node's spec.podCIDR, and finishes their graceful deletion.
 * Stopping the process, or failing a node at run time, stops the
 * heartbeats: to the control plane that node has failed.
 *
 * Theory of operation:
 *  - One informer over the bound pods (spec.nodeName!=) and one over the
 *    simulated nodes (type=simulated): a watch per node would be thousands
 *    of watches. Handlers keep only this agent's nodes, found by name
 *    (PREFIX + index), and only enqueue keys.
 *  - Two work queues with their own workers: heartbeats (registration,
 *    lease renewal, node status) and pods (status, deletion). Pod bursts
 *    never delay a lease renewal.
 *  - A ticker thread spreads the renewals of the N nodes evenly over the
 *    renewal interval, and the status reports over theirs.
 *  - All requests go through one kclient: keep-alive connections shared by
 *    the workers.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct kclient;
struct simulator;

struct sim_opts {
	int nodes;	    /* N */
	const char *prefix; /* node names are PREFIX0..PREFIX(N-1) */
	const char *cpu, *memory, *pods, *ephemeral_storage; /* capacity */
	const char **labels;				     /* extra node labels, "k=v" */
	int64_t lease_renew_usec;			     /* lease renewal interval */
	int64_t status_usec;				     /* node status report interval */
	int64_t pod_startup_usec; /* delay before a pod is reported Running */
	int pod_workers, node_workers;
	const char **fail_after;  /* "NAME=DURATION": stop heartbeating NAME then */
	const char *control_file; /* read on simulator_control() */
};

/* Defaults: 4 cpus, 16Gi, 110 pods, 100Gi, renew every 2 s, status every
 * 1 min, no startup delay, 32 pod and 16 heartbeat workers (at most 60
 * together: the client keeps 64 connections). prefix stays
 * NULL (the caller picks "sim-<hostname>-"). */
void sim_opts_default(struct sim_opts *o);

/* Check the options; on failure returns -EINVAL with a message. */
int sim_opts_check(const struct sim_opts *o, char **ret_err);

struct simulator *simulator_new(struct kclient *c, const struct sim_opts *o);
/* Start the informers and a thread that, once they are synced, gives the
 * nodes their addresses, registers them and starts heartbeats and pod
 * handling. Returns at once. */
int simulator_start(struct simulator *s);
/* Startup continues in the background (waiting for the informers, giving
 * the nodes their addresses); if it fails, the process gets a SIGTERM and
 * this says why (a negative errno; 0 when all is well). */
int simulator_error(struct simulator *s);
/* Stop everything; no heartbeat is sent afterwards. */
void simulator_stop(struct simulator *s);
void simulator_free(struct simulator *s);

/* Fail a node (stop its heartbeats and ignore its pods) or bring it back.
 * Returns -ENOENT if name is not one of this simulator's nodes. */
int simulator_set_failed(struct simulator *s, const char *name, bool failed);
/* Apply the control file (sim_opts.control_file): one command per line,
 * "fail NAME" or "recover NAME"; '#' starts a comment. */
int simulator_control(struct simulator *s);

/* ---- building blocks, exposed for the unit tests ---- */

/* The index of name among PREFIX0..PREFIX(n-1) ("PREFIX007" is not one),
 * or -1. */
int sim_node_index(const char *prefix, int n, const char *name);

/* Pod IPs of one node: its pod CIDR (IPv4) handed out sequentially,
 * skipping the network address, the gateway (.1) and the broadcast
 * address, wrapping around to reuse released ones last. */
struct ip_pool {
	uint32_t base; /* network address, host order */
	uint32_t size; /* addresses covered (at most 65536) */
	uint32_t next; /* offset tried first */
	uint32_t used;
	uint8_t *bits;
};
/* -EINVAL for a malformed or too small CIDR, -EAFNOSUPPORT for IPv6. */
int ip_pool_init(struct ip_pool *p, const char *cidr);
void ip_pool_release(struct ip_pool *p);
/* The next free address (host order), or -ENOSPC. */
int ip_pool_alloc(struct ip_pool *p, uint32_t *ret);
/* Mark ip as taken (an address found on a running pod): false if it is
 * outside the pool or taken already. */
bool ip_pool_reserve(struct ip_pool *p, uint32_t ip);
void ip_pool_return(struct ip_pool *p, uint32_t ip);
bool ip_pool_contains(const struct ip_pool *p, uint32_t ip);

/* Fake node addresses in 198.18.0.0/15 (RFC 2544 benchmarking range,
 * never routed): ret[i] = keep[i] when keep[i] is non-zero, else the next
 * address not in used[] (sorted) from a start derived from seed, skipping
 * .0 and .255. -ENOSPC when the range is exhausted. */
int sim_plan_node_ips(const char *seed, size_t n, const uint32_t *keep, const uint32_t *used,
		      size_t nused, uint32_t *ret);
bool sim_ip_in_node_range(uint32_t ip);

/* The strategic merge patch for pods/status reporting pod Running on a
 * node with host_ip, with pod_ip: phase, conditions, IPs, start time and a
 * running status for every container (init containers completed, or
 * running when they are sidecars). */
json_t *sim_pod_running_patch(json_t *pod, const char *host_ip, const char *pod_ip,
			      int64_t now_usec);
/* Whether the pod's readiness gates (spec.readinessGates) are all True in
 * its status; *ret_why says which is not. */
bool sim_pod_gates_ready(json_t *pod, char **ret_why);
