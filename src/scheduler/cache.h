/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler's cache: every node (by name) with the aggregates of the
 * pods on it, and every pod that takes resources on a node, either bound
 * (the informer shows spec.nodeName) or assumed (this scheduler chose the
 * node and the binding is in flight or not yet seen). Aggregates change
 * incrementally with each pod added or removed; nothing is recomputed.
 *
 * A pod may name a node the cache has no Node object for (the node is
 * gone or not listed yet): such a node is kept, not present, so that its
 * pods stay accounted for, and is freed with its last pod.
 *
 * cache_find_node() is one scheduling decision. Not thread-safe: the
 * scheduler serializes every call under its lock.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scheduler/framework.h"
#include "scheduler/hmap.h"

struct node_info;
struct cobj;

/* A controller uid, interned so that nodes count pods per owner by pointer. */
struct owner {
	struct hmap_node hn;
	char *uid;
	size_t refs;
};

/* A pod holding resources on a node. */
struct spod {
	struct hmap_node hn;
	char *key; /* "ns/name" */
	char *uid;
	struct snode *node;
	int64_t cpu, mem;
	struct owner *owner;
	struct host_port *ports;
	size_t nports;
	bool assumed; /* placed by us; the informer has not shown it bound yet */
};

struct sched_cache {
	struct hmap nodes;   /* name -> snode, present or not */
	struct snode **list; /* present nodes, searched in turn */
	size_t nlist, alist;
	struct hmap pods;   /* "ns/name" -> spod */
	struct hmap owners; /* uid -> owner */
	size_t next_start;  /* where the next search starts in list */
	uint64_t rng;
	/* percentageOfNodesToScore: 0 is kube-scheduler's adaptive default. */
	int percentage;
	/* scratch space of cache_find_node */
	struct snode **feasible;
	int32_t *owned, *tainted;
	size_t afeasible;
};

void cache_init(struct sched_cache *c);
void cache_release(struct sched_cache *c);

/* A Node was added or changed; obj (may be NULL) holds ni and is
 * referenced while the cache uses it. Returns true when the change may let
 * a pod fit that did not: a new node, more allocatable, a new Ready, an
 * uncordon, a change of labels or taints. A heartbeat returns false. */
bool cache_set_node(struct sched_cache *c, const char *name, const struct node_info *ni,
		    struct cobj *obj);
void cache_remove_node(struct sched_cache *c, const char *name);
struct snode *cache_get_node(const struct sched_cache *c, const char *name);
static inline size_t cache_node_count(const struct sched_cache *c)
{
	return c->nlist;
}

struct spod *cache_get_pod(const struct sched_cache *c, const char *key);
/* The informer shows the pod bound to node (and not terminal). Replaces
 * what the cache had for key (an assumption, or an older pod of that
 * name). Returns true when that freed resources on some node. */
bool cache_add_bound_pod(struct sched_cache *c, const char *key, const char *uid, const char *node,
			 int64_t cpu, int64_t mem, const char *owner_uid,
			 const struct host_port *ports, size_t nports);
/* The pod is gone or terminal. Returns true when it held resources. */
bool cache_remove_pod(struct sched_cache *c, const char *key);
/* Account p on n before its binding is seen. */
void cache_assume(struct sched_cache *c, const char *key, const struct sched_pod *p,
		  struct snode *n);
/* Its binding failed: undo the assumption of key if it still stands (same
 * uid, not yet seen bound). Returns true if it did. */
bool cache_forget(struct sched_cache *c, const char *key, const char *uid);

struct owner *cache_find_owner(const struct sched_cache *c, const char *uid);

/* How many feasible nodes to find before scoring, out of n (kube-scheduler's
 * numFeasibleNodesToFind: all below 100 nodes; else a percentage, adaptive
 * from 50% down to 5% at 5,625 nodes, but at least 100 nodes). */
size_t cache_nodes_to_find(size_t n, int percentage);

/* One scheduling decision: filter nodes, starting where the last search
 * stopped, until enough feasible ones are found; score those and pick the
 * best, breaking ties at random. NULL when no node fits: then diag (if not
 * NULL) says why, for every node. */
struct snode *cache_find_node(struct sched_cache *c, const struct sched_pod *p,
			      struct diagnosis *diag);
