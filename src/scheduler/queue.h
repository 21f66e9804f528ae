/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduling queue, after kube-scheduler's: pending pods wait in one
 * of three places.
 *
 *   active         ready to be tried, highest spec.priority first, then in
 *                  the order they arrived;
 *   backoff        tried and failed recently: they wait out a back-off that
 *                  doubles with each attempt (1 s to 10 s) before going
 *                  back to active;
 *   unschedulable  no node fitted: they wait for a change in the cluster
 *                  that may let them fit (squeue_move_all, then through
 *                  backoff if their back-off has not expired), or at most
 *                  max_unschedulable.
 *
 * A pod taken by squeue_pop() is out of all three until the caller says
 * how its attempt ended. Times are monotonic microseconds. Not
 * thread-safe.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "scheduler/framework.h"
#include "scheduler/hmap.h"

enum qstate {
	Q_ACTIVE,
	Q_BACKOFF,
	Q_UNSCHEDULABLE,
	Q_POPPED,  /* being scheduled */
	Q_BINDING, /* assumed on a node; the binding is in flight or not seen yet */
};

struct qpod {
	struct hmap_node hn;
	char *key; /* "ns/name" */
	struct sched_pod pod;
	enum qstate state;
	size_t heap_idx;
	uint64_t seq;
	int attempts;
	uint64_t backoff_until;
	uint64_t unschedulable_since;
	struct qpod *prev, *next; /* in the unschedulable list */
	char *reported;		  /* the message last put in its PodScheduled condition */
};

struct qheap {
	struct qpod **v;
	size_t n, alloc;
	bool (*less)(const struct qpod *a, const struct qpod *b);
};

struct squeue {
	struct hmap pods; /* key -> qpod, in any state */
	struct qheap active, backoff;
	struct qpod *unsched_head, *unsched_tail;
	size_t nunsched;
	uint64_t seq;
	uint64_t initial_backoff, max_backoff, max_unschedulable;
};

void squeue_init(struct squeue *q);
/* Frees every pod. */
void squeue_release(struct squeue *q);
struct qpod *squeue_get(const struct squeue *q, const char *key);
/* A new pending pod; takes p's contents. It goes to active. */
struct qpod *squeue_add(struct squeue *q, const char *key, struct sched_pod *p);
/* The pod changed: takes p's contents. An unschedulable pod whose
 * decisive fields changed goes back to active (or backoff). */
void squeue_update(struct squeue *q, struct qpod *qp, struct sched_pod *p, uint64_t now);
/* Unlink and free. */
void squeue_delete(struct squeue *q, struct qpod *qp);
/* The next pod to try, or NULL. Moves expired back-offs to active and
 * unschedulable pods that waited max_unschedulable to active first. */
struct qpod *squeue_pop(struct squeue *q, uint64_t now);
/* A popped pod fitted nowhere. */
void squeue_unschedulable(struct squeue *q, struct qpod *qp, uint64_t now);
/* A popped or binding pod failed for another reason (its binding): retry after back-off. */
void squeue_retry(struct squeue *q, struct qpod *qp, uint64_t now);
/* A popped pod was assumed on a node. */
void squeue_binding(struct squeue *q, struct qpod *qp);
/* Something changed that may let unschedulable pods fit. */
void squeue_move_all(struct squeue *q, uint64_t now);
/* When squeue_pop() may next have something without a new event: 0 when
 * there is something now, UINT64_MAX when only an event can. */
uint64_t squeue_next_time(const struct squeue *q);
size_t squeue_len(const struct squeue *q, enum qstate state);
