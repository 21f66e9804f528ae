/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler: binds pods that have no node (and name this scheduler)
 * to a node that can run them, through pods/binding.
 *
 * Filters: node Ready and schedulable (not cordoned), resources (cpu,
 * memory, pod count against allocatable minus what is bound), nodeSelector,
 * required node affinity, taints and tolerations (NoSchedule, NoExecute),
 * host port conflicts. Scores: least requested, and spreading the pods of
 * one owner over nodes. Pods that fit nowhere stay Pending with a
 * FailedScheduling event and the PodScheduled=False condition, and are
 * tried again when nodes or pods change.
 */
#pragma once

#include <stdbool.h>

struct kclient;
struct informer_factory;
struct event_recorder;
struct scheduler;

struct scheduler_opts {
	const char *name; /* schedulerName it serves: "default-scheduler" */
	int bind_workers; /* concurrent binding requests (default 16) */
};

/* Register with the factory's pod and node informers (before it starts). */
struct scheduler *scheduler_new(struct kclient *c, struct informer_factory *f,
				struct event_recorder *events, const struct scheduler_opts *o);
/* Start scheduling (after the factory synced). Returns at once; the
 * scheduler runs on its own threads. Calling it again does nothing. */
int scheduler_run(struct scheduler *s);
/* Stop and free. The factory's informers must be stopped first: their
 * handlers use the scheduler. */
void scheduler_free(struct scheduler *s);
