/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Garbage collector internals (gc_graph.c), pure and unit-tested:
 *
 * - gc_scan_meta reads, straight from an object's JSON bytes, the three
 *   metadata fields the collector decides on (ownerReferences, finalizers,
 *   deletionTimestamp) without parsing the whole object: most informer
 *   events (status updates) change none of them and cost a scan only.
 * - struct gc_graph is the dependency graph: every object that has owners,
 *   and an index from owner uid to its dependents.
 * - gc_decide is Kubernetes' attemptToDeleteItem decision for a dependent
 *   whose owners have been classified.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "lib/avl.h"

/* Spans of metadata fields inside an object's JSON (pointers into it; len
 * 0 when the field is missing). */
struct gc_meta {
	const char *owners;
	size_t owners_len;
	const char *finalizers;
	size_t finalizers_len;
	bool deleting; /* deletionTimestamp is set */
};

/* Returns 0, or -EINVAL if json is not a JSON object. */
int gc_scan_meta(const char *json, size_t len, struct gc_meta *ret);
/* Whether two scans say the same (byte for byte). */
bool gc_meta_equal(const struct gc_meta *a, const struct gc_meta *b);
/* Whether the finalizers span names finalizer. */
bool gc_meta_has_finalizer(const struct gc_meta *m, const char *finalizer);

#define GC_FINALIZER_FOREGROUND "foregroundDeletion"
#define GC_FINALIZER_ORPHAN	"orphan"

struct gc_owner {
	char *api_version, *kind, *name, *uid;
	bool block; /* blockOwnerDeletion */
	bool controller;
};
/* Parse an ownerReferences span (entries without a uid are skipped).
 * Returns the count; *ret is NULL when 0. */
size_t gc_owners_parse(const char *text, size_t len, struct gc_owner **ret);
void gc_owners_free(struct gc_owner *o, size_t n);
/* The API group of an apiVersion ("apps/v1" -> "apps", "v1" -> ""), in buf. */
const char *gc_api_group(const char *api_version, char *buf, size_t size);

/* A graph node: an object with owners. */
struct gc_node {
	struct avl_node avl;
	char *uid;
	int kind; /* the caller's kind index */
	char *ns, *name;
	struct gc_owner *owners;
	size_t nowners;
	bool deleting_dependents; /* deleting, with the foregroundDeletion finalizer */
};

struct gc_graph {
	struct avl_tree nodes; /* by uid */
	struct avl_tree edges; /* "owner-uid/dependent-uid" */
};

void gc_graph_init(struct gc_graph *g);
void gc_graph_release(struct gc_graph *g);
/* Record what the object uid says about its owners (taking owners). No
 * owners removes it. */
void gc_graph_set(struct gc_graph *g, const char *uid, int kind, const char *ns, const char *name,
		  struct gc_owner *owners, size_t nowners, bool deleting_dependents);
void gc_graph_remove(struct gc_graph *g, const char *uid);
struct gc_node *gc_graph_find(const struct gc_graph *g, const char *uid);
/* Call fn for each dependent of owner_uid, with the blockOwnerDeletion of
 * its reference to that owner. fn must not change the graph. */
void gc_graph_foreach_dependent(const struct gc_graph *g, const char *owner_uid,
				void (*fn)(struct gc_node *dep, bool block, void *ud), void *ud);
size_t gc_graph_count_dependents(const struct gc_graph *g, const char *owner_uid);

/* What an owner reference points at. */
enum gc_owner_state {
	GC_OWNER_SOLID,	   /* exists and is not waiting for its dependents */
	GC_OWNER_DANGLING, /* does not exist (or another object has its name) */
	GC_OWNER_WAITING,  /* being deleted in the foreground */
};

enum gc_action {
	GC_KEEP,	/* a solid owner and nothing to tidy */
	GC_REMOVE_REFS, /* a solid owner: drop the references marked in remove[] */
	GC_DELETE,	/* no solid owner: delete with policy */
};

struct gc_decision {
	enum gc_action action;
	const char *policy; /* "Background", "Foreground" or "Orphan" */
	bool unblock;	    /* first set blockOwnerDeletion=false on its references */
};

/* Decide for a dependent (not being deleted) with n owners in states st.
 * has_dependents: it owns something itself; dependent_deleting: one of
 * those is itself deleting in the foreground (a possible cycle). own_orphan
 * and own_foreground: its own finalizers, which choose the propagation of
 * its deletion. remove (n entries) is filled for GC_REMOVE_REFS. */
void gc_decide(const enum gc_owner_state *st, size_t n, bool has_dependents,
	       bool dependent_deleting, bool own_orphan, bool own_foreground, bool *remove,
	       struct gc_decision *ret);
