/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Work queues of string keys ("ns/name"), as controllers use them: a key
 * is queued at most once; a key being processed is not handed to a second
 * worker, and if it is added again meanwhile it is processed again after.
 * Failed keys are retried with per-key exponential back-off (5 ms doubling
 * to 1000 s, like client-go's default), reset by workqueue_forget().
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct workqueue;

/* sync returns 0 on success (the key's back-off is forgotten) or a
 * negative value to retry it with back-off. */
typedef int (*workqueue_sync_fn)(const char *key, void *userdata);

struct workqueue *workqueue_new(const char *name);
void workqueue_free(struct workqueue *q);
void workqueue_add(struct workqueue *q, const char *key);
void workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_usec);
void workqueue_add_rate_limited(struct workqueue *q, const char *key);
void workqueue_forget(struct workqueue *q, const char *key);
size_t workqueue_len(struct workqueue *q);
/* Start n worker threads calling sync for each key. */
int workqueue_run(struct workqueue *q, int workers, workqueue_sync_fn sync, void *userdata);
/* Stop taking new keys, let running syncs finish, join the workers. */
void workqueue_shutdown(struct workqueue *q);
