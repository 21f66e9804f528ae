/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API server's cache of every stored object (a "watch cache").
 *
 * At start it lists everything from the store, then watches the store from
 * that revision; the store calls back from its writer thread for every
 * committed change, before the write is acknowledged, so a client that got
 * its answer reads its own write here. All reads (get, list, watch) are
 * served from memory. Per storage resource: an ordered tree keyed by
 * "namespace/name" (or "name"), a ring of recent events for watch replay,
 * and the list of watchers. Older history is read back from the store.
 */
#pragma once

#include <pthread.h>
#include <stdint.h>

#include "apiserver/obj.h"
#include "lib/avl.h"

struct store;
struct resource;
struct cache;
struct watcher;

enum watch_type {
	WATCH_ADDED = 1,
	WATCH_MODIFIED,
	WATCH_DELETED,
	WATCH_BOOKMARK,
	WATCH_ERROR,
};

const char *watch_type_name(enum watch_type t);

int cache_open(struct store *store, struct cache **ret);
void cache_close(struct cache *c);
/* The newest revision the cache reflects. */
int64_t cache_rev(struct cache *c);

/* Current object under key ("ns/name" or "name"), a new reference, or NULL. */
struct obj *cache_get(struct cache *c, const struct resource *res, const char *key);

struct obj_list {
	struct obj **items;
	size_t n, alloc;
	int64_t rev;		/* the revision the list reflects */
	char *next_key;		/* set when limit cut the list: the last key returned */
	size_t remaining;	/* matches after next_key (when cut) */
	bool remaining_unknown; /* cut without counting what follows */
};
void obj_list_release(struct obj_list *l);

/* List objects matching f in key order, starting after start_after (if not
 * NULL), at most limit (0 = all). */
void cache_list(struct cache *c, const struct resource *res, const struct obj_filter *f,
		const char *start_after, size_t limit, struct obj_list *ret);
/* The same from the store as of revision rev (for continue tokens of an
 * older list). -ERANGE if compacted. */
int cache_list_at(struct cache *c, const struct resource *res, const struct obj_filter *f,
		  const char *start_after, size_t limit, int64_t rev, struct obj_list *ret);

/* ---- watchers ---- */

struct watch_item {
	enum watch_type type;
	struct obj *obj; /* NULL for BOOKMARK and ERROR */
	int64_t rev;
};

/* Called after items were queued on w (or it ended), from the store thread
 * or the registering thread, possibly with cache locks held: it must only
 * wake the reader, never call back into the cache. */
typedef void (*watcher_wake_fn)(struct watcher *w, void *userdata);

struct watcher_opts {
	const struct resource *res; /* storage resource */
	struct obj_filter filter;
	int64_t from_rev;  /* 0: send the current state as ADDED first */
	bool send_initial; /* from_rev == 0 semantics */
	size_t max_queue;  /* a watcher that falls this far behind is ended */
	watcher_wake_fn wake;
	void *userdata;
};

/*
 * Register a watcher. Replays what it needs (initial state, or events after
 * from_rev from the ring or the store). -ERANGE when from_rev is older than
 * the store keeps (the client gets 410 Gone).
 */
int cache_watch(struct cache *c, const struct watcher_opts *opts, struct watcher **ret);
/* Unregister and free. Safe from any thread except inside wake(). */
void cache_unwatch(struct cache *c, struct watcher *w);
/* Take up to max queued items (moved to out; caller unrefs their objs).
 * Returns the number taken. *ret_ended is set once the watcher was ended by
 * the cache (overflow or shutdown). */
size_t watcher_take(struct watcher *w, struct watch_item *out, size_t max, bool *ret_ended);
/* Queue a BOOKMARK at the cache's current revision. */
void watcher_bookmark(struct cache *c, struct watcher *w);
