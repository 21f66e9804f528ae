/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The datastore interface. Only src/apiserver/ includes this header.
 *
 * The store is a revisioned key/value log, like etcd v3:
 *  - one global revision (int64, starts at 1 for the first write, never goes
 *    backwards, survives restarts); every successful write gets the next one;
 *  - each key has a create revision and a mod revision;
 *  - history is kept until compacted, so watchers can replay from any revision
 *    newer than the compacted one;
 *  - a write is reported done only after it is durable on disk; concurrent
 *    writes are committed together (group commit).
 *
 * Keys are plain strings (the API server uses "/registry/<resource>/<ns>/<name>").
 * Values are opaque bytes.
 *
 * Backends implement struct store_backend; store_open() picks one by URL:
 *   "sqlite:///path/to/state.db" or a bare path  -> embedded SQLite
 *   "etcd://host:port[,host:port][/prefix]" (or http://) -> etcd v3 (etcd.c)
 *
 * Errors are negative errno values:
 *   -EEXIST   create of a key that exists
 *   -ENOENT   update/delete/get of a key that does not exist
 *   -ESTALE   update/delete whose expected mod revision does not match
 *   -ERANGE   a revision that has been compacted (the API answers 410 Gone)
 *   -EIO      the backend failed (the API answers 500)
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "lib/macro.h"

struct store;

/* One version of one key. All memory is owned by the struct; store_kv_free frees it. */
struct store_kv {
	char *key;
	void *value;
	size_t value_len;
	int64_t create_rev;
	int64_t mod_rev;
};

struct store_kv_list {
	struct store_kv *items;
	size_t n;
	size_t alloc;
};

void store_kv_release(struct store_kv *kv);
void store_kv_free(struct store_kv *kv);
void store_kv_list_release(struct store_kv_list *l);

enum store_event_type {
	STORE_EVENT_PUT = 1,	/* create or update: value is the new value */
	STORE_EVENT_DELETE = 2, /* delete: value is the last value before deletion */
};

/* One change, as delivered to watchers. Memory belongs to the store; a watcher
 * that keeps anything copies it. */
struct store_event {
	enum store_event_type type;
	const char *key;
	const void *value;
	size_t value_len;
	int64_t rev;	    /* revision of this change (for delete: the deletion revision) */
	int64_t create_rev; /* create revision of the key */
	int64_t prev_rev;   /* mod revision of the previous version, 0 for a create */
	const void *origin; /* the writer's store_op.origin for live events of this
			     * process's writes; NULL for history and other writers */
};

/* ---- writes ---- */

enum store_op_type {
	STORE_OP_CREATE = 1, /* fails with -EEXIST if the key exists */
	STORE_OP_UPDATE = 2, /* fails with -ENOENT if missing, -ESTALE if mod_rev != expect_rev */
	STORE_OP_DELETE =
	    3, /* fails with -ENOENT if missing, -ESTALE if expect_rev != 0 and differs */
};

struct store_op;
typedef void (*store_op_done_fn)(struct store_op *op);

/*
 * A write request. The caller owns the struct and keeps it alive until done()
 * has been called. key and value are borrowed until done().
 */
struct store_op {
	enum store_op_type type;
	const char *key;
	const void *value; /* create, update */
	size_t value_len;
	int64_t expect_rev; /* update: required; delete: 0 = unconditional */
	const void *origin; /* opaque, handed to watchers in store_event.origin */

	/* Results, valid in done(): */
	int result;	    /* 0 or negative errno (see above) */
	int64_t rev;	    /* revision of the write */
	int64_t create_rev; /* create revision of the key */
	int64_t cur_rev;    /* on -ESTALE: the key's current mod revision */

	/* Called exactly once, from a store thread, after the write is durable
	 * (or has failed) and after every watcher has been given its event. */
	store_op_done_fn done;
	void *userdata;

	struct store_op *next; /* private to the backend */
};

/* ---- watch ---- */

/* Called from a store thread, in revision order, for every change after the
 * watch's start revision. The callback must not block for long and must not
 * call store writes synchronously (submitting is fine). */
typedef void (*store_watch_fn)(const struct store_event *ev, void *userdata);

struct store_watch;

/* ---- backend ---- */

struct store_backend {
	const char *name;
	int (*open)(const char *location, struct store **ret);
	void (*close)(struct store *s);

	/* Read the current version of key. -ENOENT if it does not exist. */
	int (*get)(struct store *s, const char *key, struct store_kv *ret);

	/* List keys starting with prefix, in key order, as of revision at_rev
	 * (0 = current). Only keys > start_after (if non-NULL) are returned, at
	 * most limit of them (0 = no limit). *ret_rev is set to the revision the
	 * list reflects. -ERANGE if at_rev is compacted or in the future. */
	int (*list)(struct store *s, const char *prefix, const char *start_after, int64_t at_rev,
		    size_t limit, struct store_kv_list *ret, int64_t *ret_rev);

	/* Queue a write; op->done is called when it is durable or failed. */
	void (*submit)(struct store *s, struct store_op *op);

	/* Deliver every change with revision > from_rev whose key starts with
	 * prefix: first the history still held (synchronously, from the calling
	 * thread, before watch returns), then live changes from the store thread.
	 * -ERANGE if from_rev < the compacted revision. No change is missed or
	 * delivered twice across the history/live boundary. */
	int (*watch)(struct store *s, const char *prefix, int64_t from_rev, store_watch_fn fn,
		     void *userdata, struct store_watch **ret);
	void (*unwatch)(struct store *s, struct store_watch *w);

	/* History between revisions: every change with from_rev < rev <= to_rev
	 * whose key starts with prefix, in order, via fn (synchronously).
	 * -ERANGE if from_rev < compacted revision. */
	int (*history)(struct store *s, const char *prefix, int64_t from_rev, int64_t to_rev,
		       store_watch_fn fn, void *userdata);

	/* Drop history at or below rev (the current version of every live key is
	 * always kept). */
	int (*compact)(struct store *s, int64_t rev);

	int64_t (*current_rev)(struct store *s);
	int64_t (*compacted_rev)(struct store *s);
};

struct store {
	const struct store_backend *backend;
};

/* Open a store by location (see top of file). */
int store_open(const char *location, struct store **ret);

static inline void store_close(struct store *s)
{
	if (s)
		s->backend->close(s);
}
static inline int store_get(struct store *s, const char *key, struct store_kv *ret)
{
	return s->backend->get(s, key, ret);
}
static inline int store_list(struct store *s, const char *prefix, const char *start_after,
			     int64_t at_rev, size_t limit, struct store_kv_list *ret,
			     int64_t *ret_rev)
{
	return s->backend->list(s, prefix, start_after, at_rev, limit, ret, ret_rev);
}
static inline void store_submit(struct store *s, struct store_op *op)
{
	s->backend->submit(s, op);
}
static inline int store_watch(struct store *s, const char *prefix, int64_t from_rev,
			      store_watch_fn fn, void *userdata, struct store_watch **ret)
{
	return s->backend->watch(s, prefix, from_rev, fn, userdata, ret);
}
static inline void store_unwatch(struct store *s, struct store_watch *w)
{
	s->backend->unwatch(s, w);
}
static inline int store_history(struct store *s, const char *prefix, int64_t from_rev,
				int64_t to_rev, store_watch_fn fn, void *userdata)
{
	return s->backend->history(s, prefix, from_rev, to_rev, fn, userdata);
}
static inline int store_compact(struct store *s, int64_t rev)
{
	return s->backend->compact(s, rev);
}
static inline int64_t store_current_rev(struct store *s)
{
	return s->backend->current_rev(s);
}
static inline int64_t store_compacted_rev(struct store *s)
{
	return s->backend->compacted_rev(s);
}

/* Submit op and wait until it is done; returns op->result. */
int store_exec(struct store *s, struct store_op *op);

extern const struct store_backend store_backend_sqlite;
extern const struct store_backend store_backend_etcd;
