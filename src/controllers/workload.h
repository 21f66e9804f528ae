/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the ReplicaSet and Deployment controllers share (replicaset.c,
 * deployment.c; README.md in this directory explains how they work).
 *
 * workload.c holds the pure logic, unit-tested on its own: pod template
 * comparison and hashing, int-or-percent arithmetic, the rollout step
 * planner (the numbers Kubernetes' deployment controller computes for a
 * rolling update, a proportional scale and a Recreate), the ranking of pods
 * to delete, revision annotations, and Deployment conditions.
 * workload_client.c holds what talks to the API or runs threads:
 * expectations, the parsed ReplicaSet index, parallel and slow-start
 * batches, and requests with their error text.
 */
#pragma once

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/objects.h"
#include "lib/selector.h"

struct kclient;

#define WL_HASH_LABEL		"pod-template-hash"
#define WL_ANN_REVISION		"deployment.kubernetes.io/revision"
#define WL_ANN_REVISION_HISTORY "deployment.kubernetes.io/revision-history"
#define WL_ANN_DESIRED		"deployment.kubernetes.io/desired-replicas"
#define WL_ANN_MAX		"deployment.kubernetes.io/max-replicas"
#define WL_ANN_ROLLBACK_TO	"deprecated.deployment.rollback.to"
#define WL_ANN_LAST_APPLIED	"kubectl.kubernetes.io/last-applied-configuration"
#define WL_ANN_CHANGE_CAUSE	"kubernetes.io/change-cause"

/* At most this many pods are created or deleted by one ReplicaSet sync. */
#define WL_BURST_REPLICAS 500
/* Expectations not met within this time are given up (a lost event). */
#define WL_EXPECTATIONS_TTL_USEC (5LL * 60 * 1000000)
/* Longest revision-history annotation kept, in characters. */
#define WL_REV_HISTORY_MAX_CHARS 2000

/* ---- pod templates ---- */

/*
 * The canonical form of a pod template used to compare and hash templates:
 * the pod-template-hash label removed, null / "" / {} / [] values dropped
 * (a typed client writes some of them where another leaves the field out),
 * object keys sorted, compact. What `kubectl rollout undo` sends back as a
 * template compares equal to the ReplicaSet template it came from.
 * Returns a malloc'd string.
 */
char *workload_template_canonical(json_t *tmpl);
/* Equal ignoring the pod-template-hash label (Kubernetes' EqualIgnoreHash). */
bool workload_template_equal(json_t *a, json_t *b);
/*
 * The pod-template-hash of a template: FNV-1a (32 bit) of its canonical
 * form, then of collision_count (4 bytes little-endian) when not NULL,
 * written in decimal and each digit mapped into Kubernetes' alphabet
 * "bcdfghjklmnpqrstvwxz2456789" like its SafeEncodeString ("7c79c4bf97").
 * ret holds at most 10 characters and the NUL.
 */
void workload_template_hash(json_t *tmpl, const int32_t *collision_count, char ret[16]);
uint32_t workload_fnv32a(const void *p, size_t n, uint32_t h);
#define WL_FNV32_OFFSET 2166136261u
/* Map each character into the safe alphabet (out has strlen(s) + 1 bytes). */
void workload_safe_encode(const char *s, char *out);

/* Two packed label sets (lib/selector.h) are the same, in the same order. */
bool workload_labels_equal(const char *a, const char *b);
/* Every label of want is in have with the same value. */
bool workload_labels_superset(const char *have, const char *want);

/* ---- int or percent ---- */

/* An IntOrString against total: an integer as is, "N%" as N% of total,
 * rounded up or down. -EINVAL for anything else (ret untouched). */
int workload_scaled_value(json_t *v, int32_t total, bool round_up, int32_t *ret);
/* maxSurge (rounded up) and maxUnavailable (rounded down) of a rolling
 * update of desired replicas; when both come out zero, maxUnavailable is 1
 * (Kubernetes' ResolveFenceposts). Invalid values count as zero. */
void workload_fenceposts(json_t *max_surge, json_t *max_unavailable, int32_t desired,
			 int32_t *ret_surge, int32_t *ret_unavailable);

/* ---- rollout planning ---- */

/* A ReplicaSet as the planner sees it. The planner only writes replicas
 * (the new spec.replicas) and touch (pass it through a scale even if its
 * size is unchanged, so its desired/max-replicas annotations are updated). */
struct rollout_rs {
	const char *name;
	int64_t creation_usec;
	int32_t replicas;  /* spec.replicas */
	int32_t current;   /* status.replicas: active pods it had when last counted */
	int32_t available; /* status.availableReplicas */
	bool has_desired;  /* annotation desired-replicas present and valid */
	int32_t desired;
	bool has_max; /* annotation max-replicas present and valid */
	int32_t max;
	bool touch;
};

/* The deployment as the planner sees it. */
struct rollout {
	int32_t replicas;	 /* spec.replicas */
	bool rolling;		 /* RollingUpdate; else Recreate */
	int32_t max_surge;	 /* 0 unless rolling */
	int32_t max_unavailable; /* 0 unless rolling and replicas > 0; at most replicas */
	int32_t status_replicas; /* status.replicas */
};

/* Fill r from the deployment's spec (strategy type and rollingUpdate
 * fields as JSON) and status.replicas. */
void rollout_init(struct rollout *r, int32_t replicas, bool rolling, json_t *max_surge,
		  json_t *max_unavailable, int32_t status_replicas);

/* Sort by creation, oldest first (ties by name). */
int rollout_rs_cmp_created(const void *a, const void *b);
/* Sum of spec.replicas / status.availableReplicas over rs (NULLs skipped). */
int32_t rollout_sum_replicas(struct rollout_rs *const *rs, size_t n);
int32_t rollout_sum_available(struct rollout_rs *const *rs, size_t n);
/* Sum of the pods each may have: the larger of spec and status.replicas. */
int32_t rollout_sum_pods(struct rollout_rs *const *rs, size_t n);

/* The size the new ReplicaSet may have now: with a rolling update, grow
 * within replicas + maxSurge pods in all; with Recreate, replicas
 * (Kubernetes' NewRSNewReplicas). all includes new_rs. Unlike Kubernetes,
 * which counts spec.replicas only, a ReplicaSet scaled down whose status
 * still shows more pods counts those: the new pods are only asked for once
 * the old ones are on their way out, so the pods that exist never exceed
 * replicas + maxSurge. */
int32_t rollout_new_rs_replicas(const struct rollout *r, struct rollout_rs *const *all, size_t n,
				const struct rollout_rs *new_rs);
/* Rolling update, step 1: scale the new ReplicaSet toward its size. True
 * when its replicas changed. old are every old ReplicaSet. */
bool rollout_reconcile_new(const struct rollout *r, struct rollout_rs *new_rs,
			   struct rollout_rs *const *old, size_t nold);
/* Rolling update, step 2: scale old ReplicaSets down, first their
 * unavailable pods, then available ones, keeping at least replicas -
 * maxUnavailable available counting the new ReplicaSet's unavailable
 * ones. Old ones are taken oldest first (the array is sorted). Returns how
 * many replicas were taken away. new_rs may be NULL. A ReplicaSet counts
 * at most spec.replicas available pods: its status may still count pods
 * an earlier step removed (Kubernetes trusts the status; with pods that
 * become ready fast that removes too many). */
int32_t rollout_reconcile_old(const struct rollout *r, struct rollout_rs *new_rs,
			      struct rollout_rs **old, size_t nold);
/* The only active (replicas > 0) ReplicaSet, or the newest if none is
 * active; NULL when several are active (Kubernetes' FindActiveOrLatest).
 * Sorts old, newest first. */
struct rollout_rs *rollout_active_or_latest(struct rollout_rs *new_rs, struct rollout_rs **old,
					    size_t nold);
/* The new ReplicaSet has every replica, all available. */
bool rollout_is_saturated(const struct rollout *r, const struct rollout_rs *new_rs);
/* A scaling event or a paused deployment: resize the ReplicaSets, in
 * proportion to their sizes when several are active during a rolling
 * update (Kubernetes' scale()). Sorts old. */
void rollout_scale(const struct rollout *r, struct rollout_rs *new_rs, struct rollout_rs **old,
		   size_t nold);
/* The share of a proportional scale that goes to rs (GetProportion). */
int32_t rollout_proportion(const struct rollout *r, const struct rollout_rs *rs, int32_t to_add,
			   int32_t added);

/* ---- which pods to delete first ---- */

struct pod_rank {
	const char *name;
	bool assigned; /* has a node */
	int phase;     /* pod_rank_phase() */
	bool ready;
	int64_t ready_usec; /* when it became ready (0: unknown) */
	int32_t colocated;  /* active pods of related ReplicaSets on its node */
	int32_t restarts;
	int64_t creation_usec;
	void *data; /* the caller's */
};

/* Pending 0 < Unknown 1 < Running 2 (others 0). */
int pod_rank_phase(const char *phase);
/* qsort order: the pod to delete first sorts first. Unscheduled before
 * scheduled; Pending before Unknown before Running; not ready before
 * ready; more pods of the same owner on its node first; ready for less
 * time first; more restarts first; newer before older; then by name. */
int pod_rank_cmp(const void *a, const void *b);

/* ---- revisions and annotations ---- */

/* The deployment.kubernetes.io/revision annotation as a number, 0 when
 * missing; -1 when present but not a number. */
int64_t workload_revision(json_t *annotations);
/* An annotation holding an int32 (desired-replicas, max-replicas). */
bool workload_int_annotation(json_t *annotations, const char *key, int32_t *ret);
/* Whether an annotation is one a Deployment does not copy to its ReplicaSets. */
bool workload_annotation_skipped(const char *key);
/*
 * Kubernetes' SetNewReplicaSetAnnotations on the new ReplicaSet's
 * annotations (an object, modified): copy the deployment's annotations but
 * the skipped ones, raise the revision to new_revision (remembering the
 * one it replaces in revision-history, for rollbacks), and when the
 * ReplicaSet is being created set desired-replicas and max-replicas.
 * Returns whether anything changed.
 */
bool workload_set_new_rs_annotations(json_t *deploy_ann, json_t *rs_ann, int64_t new_revision,
				     bool exists, int32_t desired, int32_t max);
/* Set desired-replicas and max-replicas; true when they changed. */
bool workload_set_replicas_annotations(json_t *rs_ann, int32_t desired, int32_t max);

/* ---- conditions (status.conditions lists) ---- */

/* The condition of that type in status, or NULL (borrowed). */
json_t *workload_condition_get(json_t *status, const char *type);
void workload_condition_remove(json_t *status, const char *type);
/* A new condition {type, status, [lastUpdateTime], lastTransitionTime,
 * reason, message} stamped now_usec. with_update_time adds lastUpdateTime
 * (Deployment conditions; ReplicaSet ones have none). */
json_t *workload_condition_new(const char *type, const char *cstatus, const char *reason,
			       const char *message, int64_t now_usec, bool with_update_time);
/*
 * Kubernetes' SetDeploymentCondition (takes cond): nothing happens when a
 * condition of that type already has that status and reason; otherwise
 * cond replaces it (moved to the end of the list), keeping the old
 * lastTransitionTime when only the reason changed. Returns whether status
 * changed.
 */
bool workload_condition_put(json_t *status, json_t *cond);

/* ---- expectations ---- */

/*
 * What a ReplicaSet sync has asked for and not yet seen in the informer:
 * creations (a count) and deletions (pod keys). Until both are met, or
 * the ttl passes, the ReplicaSet is not resized again, so that a pod just
 * created but not yet in the cache is never created twice.
 */
struct expectations;
struct expectations *expectations_new(int64_t ttl_usec);
void expectations_free(struct expectations *e);
void expectations_expect_creations(struct expectations *e, const char *key, int n);
void expectations_expect_deletions(struct expectations *e, const char *key, char *const *pod_keys,
				   size_t n);
/* n creations will never be observed (they failed or were not tried). */
void expectations_lower_creations(struct expectations *e, const char *key, int n);
void expectations_creation_observed(struct expectations *e, const char *key);
/* Counts only if pod_key was expected to go (each key once). */
void expectations_deletion_observed(struct expectations *e, const char *key, const char *pod_key);
bool expectations_satisfied(struct expectations *e, const char *key);
void expectations_delete(struct expectations *e, const char *key);

/* ---- ReplicaSets, parsed once ---- */

/* What the controllers read of a ReplicaSet, extracted when it arrives.
 * Immutable once made; reference-counted. */
struct rs_view {
	atomic_uint ref;
	char *key, *ns, *name, *uid;
	int64_t rv, generation, creation_usec;
	bool deleting;
	bool has_controller;
	struct owner_ref controller;
	char *labels;			/* packed */
	struct label_selector selector; /* selects nothing when invalid */
	char *tmpl_labels;		/* packed template labels */
	int32_t replicas;		/* spec.replicas */
	int32_t min_ready_seconds;
	int64_t revision; /* workload_revision() */
	bool has_desired, has_max;
	int32_t desired, max;
	json_t *annotations;  /* an object (maybe empty) */
	char *tmpl_canonical; /* workload_template_canonical() of spec.template */
	int32_t st_replicas, st_fully_labeled, st_ready, st_available;
	int64_t st_observed_generation;
	json_t *failure; /* its ReplicaFailure condition, or NULL */
};

struct rs_view *rs_view_new(json_t *rs);
struct rs_view *rs_view_ref(struct rs_view *v);
void rs_view_unref(struct rs_view *v);
/* Fill a planner record from a view. */
void rs_view_rollout(const struct rs_view *v, struct rollout_rs *ret);

/* ReplicaSets by "ns/name", kept up to date from informer handlers. */
struct rs_index;
struct rs_index *rs_index_new(void);
void rs_index_free(struct rs_index *x);
/* Parse obj and store it under its key (replacing what was there);
 * returns a new reference to the view. */
struct rs_view *rs_index_put_json(struct rs_index *x, json_t *obj);
void rs_index_remove(struct rs_index *x, const char *key);
/* A new reference, or NULL. */
struct rs_view *rs_index_get(struct rs_index *x, const char *key);
/* New references to every view in namespace ns; returns the count and a
 * malloc'd array (free with rs_views_free). */
size_t rs_index_list(struct rs_index *x, const char *ns, struct rs_view ***ret);
void rs_views_free(struct rs_view **v, size_t n);

/* ---- running requests ---- */

/* fn(i) for one item; 0 or a negative errno. */
typedef int (*workload_task_fn)(size_t i, void *userdata);
/* Run fn for i in [start, start + n) on up to 16 threads at once. Returns
 * how many succeeded; *ret_err is the first error (0 if none). */
size_t workload_parallel(size_t start, size_t n, workload_task_fn fn, void *userdata, int *ret_err);
/* Kubernetes' slowStartBatch: batches of 1, 2, 4, ... (at most what is
 * left) run in parallel, stopping after the first batch with an error.
 * Returns how many succeeded; *ret_err as above. */
size_t workload_slow_start(size_t count, size_t initial, workload_task_fn fn, void *userdata,
			   int *ret_err);

/* One API call with a JSON body (may be NULL). 0 on 2xx with *ret set to
 * the parsed reply when ret is not NULL; otherwise -ENOENT (404), -EEXIST
 * (409), -EACCES (403), -EINVAL (400, 422), -EIO (no answer) or -EPROTO,
 * and err holds the server's message. */
int workload_request(struct kclient *c, const char *method, const char *path,
		     const char *content_type, json_t *body, json_t **ret, char *err,
		     size_t errsize);
/* A 403 telling that the namespace is being deleted. */
bool workload_ns_terminating(int r, const char *err);
/* A controller ownerReference {apiVersion, kind, name, uid, controller,
 * blockOwnerDeletion} (new reference). */
json_t *workload_controller_ref(const char *api_version, const char *kind, const char *name,
				const char *uid);
/* Adopt (add ref as the controller) or release (remove the reference
 * with owner_uid) an object through a strategic merge patch that requires
 * the object's uid. On success *ret (optional) is the patched object. */
int workload_adopt(struct kclient *c, const char *path, const char *obj_uid, json_t *ref,
		   json_t **ret, char *err, size_t errsize);
int workload_release(struct kclient *c, const char *path, const char *obj_uid,
		     const char *owner_uid, json_t **ret, char *err, size_t errsize);
