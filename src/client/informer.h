/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Informers: list-then-watch one resource into a local cache and tell
 * handlers about every change. A watch that ends is resumed from the last
 * resourceVersion seen; a 410 Gone (or any failure to resume) relists and
 * delivers the difference as adds, updates and deletes.
 *
 * The cache keeps, per object, its serialized JSON and a small struct the
 * owner extracts from it once (the fields it indexes and decides on): not
 * a parsed JSON tree. Objects are immutable and reference-counted; a
 * handler or a lookup that keeps one takes a reference.
 */
#pragma once

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct kclient;
struct informer;

struct cobj {
	atomic_uint ref;
	char *key; /* "ns/name" or "name" */
	char *ns;  /* "" for cluster-scoped */
	char *name;
	char *uid;
	int64_t rv;
	char *json; /* the object as the server sent it */
	size_t len;
	void *ext; /* what the informer's extract() made of it, or NULL */
	const struct informer *from;
};

struct cobj *cobj_ref(struct cobj *o);
void cobj_unref(struct cobj *o);
/* Parse the JSON (a new reference). */
json_t *cobj_parse(const struct cobj *o);
/* In a handler called for a watch event, the object that event brought
 * (o, the new one) already parsed: borrowed, read-only, valid until the
 * handler returns. NULL for any other object, and for relists. */
json_t *informer_event_json(const struct cobj *o);

struct informer_handlers {
	void (*on_add)(struct cobj *obj, void *userdata);
	void (*on_update)(struct cobj *old, struct cobj *obj, void *userdata);
	void (*on_delete)(struct cobj *obj, void *userdata);
	void *userdata;
};

struct informer_opts {
	const char *api_version;    /* "v1", "apps/v1" */
	const char *plural;	    /* "pods" */
	const char *ns;		    /* NULL: all namespaces */
	const char *label_selector; /* optional */
	const char *field_selector; /* optional */
	/* Build the per-object struct from the parsed object (may be NULL). */
	void *(*extract)(json_t *obj);
	void (*ext_free)(void *ext);
	/* Call on_update for every object this often (0: never). */
	int64_t resync_usec;
};

int informer_new(struct kclient *c, const struct informer_opts *opts, struct informer **ret);
/* Handlers must be added before informer_start(). */
void informer_add_handlers(struct informer *inf, const struct informer_handlers *h);
/* Start the list/watch thread. */
int informer_start(struct informer *inf);
/* Block until the first list has been delivered, or timeout (usec; 0 = forever). */
bool informer_wait_synced(struct informer *inf, int64_t timeout_usec);
bool informer_synced(const struct informer *inf);
/* Ask the thread to stop without waiting (informer_stop waits). */
void informer_signal_stop(struct informer *inf);
void informer_stop(struct informer *inf);
void informer_free(struct informer *inf);

/* A new reference to the cached object under key, or NULL. */
struct cobj *informer_get(struct informer *inf, const char *key);
/* Call fn for every cached object (under a read lock: fn must not block
 * or call back into this informer's writers). ns NULL: all. */
void informer_foreach(struct informer *inf, const char *ns,
		      void (*fn)(struct cobj *obj, void *userdata), void *userdata);
size_t informer_count(struct informer *inf);
/* The resourceVersion of the last event processed. */
int64_t informer_last_rv(const struct informer *inf);
