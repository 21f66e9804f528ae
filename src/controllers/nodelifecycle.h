/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node lifecycle internals: the decisions of nodelifecycle.c as pure
 * functions (unit-tested without a server): which taints a node should carry
 * given its conditions, how a pod's tolerations delay its eviction from a
 * node with NoExecute taints, and in what state a zone is.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/objects.h"

#define TAINT_NOT_READY		  "node.kubernetes.io/not-ready"
#define TAINT_UNREACHABLE	  "node.kubernetes.io/unreachable"
#define TAINT_UNSCHEDULABLE	  "node.kubernetes.io/unschedulable"
#define TAINT_MEMORY_PRESSURE	  "node.kubernetes.io/memory-pressure"
#define TAINT_DISK_PRESSURE	  "node.kubernetes.io/disk-pressure"
#define TAINT_PID_PRESSURE	  "node.kubernetes.io/pid-pressure"
#define TAINT_NETWORK_UNAVAILABLE "node.kubernetes.io/network-unavailable"

/* The taints this controller manages, as bits. Any other taint on a node
 * is left alone. */
enum {
	NLT_NOT_READY_NS = 1u << 0,   /* not-ready:NoSchedule */
	NLT_UNREACHABLE_NS = 1u << 1, /* unreachable:NoSchedule */
	NLT_NOT_READY_NE = 1u << 2,   /* not-ready:NoExecute */
	NLT_UNREACHABLE_NE = 1u << 3, /* unreachable:NoExecute */
	NLT_UNSCHEDULABLE = 1u << 4,  /* unschedulable:NoSchedule */
	NLT_MEMORY = 1u << 5,	      /* memory-pressure:NoSchedule */
	NLT_DISK = 1u << 6,	      /* disk-pressure:NoSchedule */
	NLT_PID = 1u << 7,	      /* pid-pressure:NoSchedule */
	NLT_NETWORK = 1u << 8,	      /* network-unavailable:NoSchedule */
};
#define NLT_NOEXECUTE (NLT_NOT_READY_NE | NLT_UNREACHABLE_NE)
#define NLT_COUNT     9

/* Key and effect of a managed taint bit. */
const char *nl_taint_key(unsigned bit);
const char *nl_taint_effect(unsigned bit);

/* What the taint decisions look at in a node. */
struct nl_node_view {
	char ready; /* 'T', 'F', 'U'; 0 when there is no Ready condition */
	bool memory_pressure, disk_pressure, pid_pressure, network_unavailable;
	bool unschedulable;
};
void nl_node_view_from_json(json_t *node, struct nl_node_view *ret);

/* How NoExecute taints may change in the node's zone right now. */
enum nl_noexec_policy {
	NL_NOEXEC_ALLOW, /* add and remove as the conditions say */
	NL_NOEXEC_HOLD,	 /* add none; remove them only once the node is Ready */
	NL_NOEXEC_CLEAR, /* remove them all (every zone fully disrupted) */
};

/* The managed taints a node carries (bits), from spec.taints. */
unsigned nl_taints_present(json_t *taints);
unsigned nl_taints_present_info(const struct taint *taints, size_t n);
/* The managed taints it should carry. */
unsigned nl_taints_desired(const struct nl_node_view *v, enum nl_noexec_policy p, unsigned present);
/* spec.taints with the managed taints made to match desired (other taints
 * kept in place, new ones appended; NoExecute ones get timeAdded now_usec).
 * A new array, or NULL when nothing changes. */
json_t *nl_taints_reconcile(json_t *taints, unsigned desired, int64_t now_usec);

/* A node whose kubelet stopped reporting: set Ready, MemoryPressure,
 * DiskPressure and PIDPressure to Unknown (reason NodeStatusUnknown; a
 * condition never reported is added with reason NodeStatusNeverUpdated),
 * keeping lastHeartbeatTime. Returns whether anything changed. */
bool nl_conditions_mark_unknown(json_t *node, int64_t now_usec);

/* Pod tolerations. */
struct toleration {
	char *key, *op, *value, *effect;
	bool has_seconds;
	int64_t seconds;
};
/* Parse spec.tolerations; returns the count (*ret NULL when 0). */
size_t tolerations_parse(json_t *tolerations, struct toleration **ret);
void tolerations_free(struct toleration *t, size_t n);
/* Whether t tolerates the taint (Kubernetes' ToleratesTaint). */
bool toleration_tolerates(const struct toleration *t, const char *key, const char *value,
			  const char *effect);

#define NL_NEVER INT64_MAX
/* When a pod with these tolerations must leave a node with these taints
 * (realtime usec; only NoExecute taints count). A taint no toleration
 * tolerates evicts at once (returns 0). Otherwise each taint is tolerated
 * for the longest tolerationSeconds among the tolerations matching it
 * (forever if one of them has none; <= 0 means at once), counted from the
 * taint's added_usec; the pod leaves at the earliest of those times.
 * NL_NEVER when no NoExecute taint limits it. */
int64_t nl_eviction_time(const struct taint *taints, size_t ntaints, const struct toleration *tol,
			 size_t ntol);

/* Zone states (Kubernetes' ComputeZoneState with its default
 * --unhealthy-zone-threshold of 0.55). */
enum nl_zone_state {
	NL_ZONE_NORMAL,
	NL_ZONE_PARTIAL, /* more than 2 nodes and at least 55% not ready */
	NL_ZONE_FULL,	 /* no node ready */
};
enum nl_zone_state nl_zone_state(size_t ready, size_t not_ready);
