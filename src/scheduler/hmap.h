/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An intrusive hash map keyed by strings, for the scheduler's tables (nodes
 * by name, pods by "ns/name", owners by uid): chained buckets, a power of
 * two of them, doubled when the map holds more entries than buckets. Embed
 * struct hmap_node in the entry; the map never allocates entries and keeps
 * only a pointer to each key, which must live as long as its entry is in
 * the map. Not thread-safe.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct hmap_node {
	struct hmap_node *next;
	uint64_t hash;
	const char *key;
};

struct hmap {
	struct hmap_node **buckets;
	size_t nbuckets; /* 0 or a power of two */
	size_t count;
};

#define hmap_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

void hmap_init(struct hmap *m);
/* Frees the buckets, not the entries (remove or free them first). */
void hmap_release(struct hmap *m);
uint64_t hmap_hash(const char *s);
struct hmap_node *hmap_get(const struct hmap *m, const char *key);
/* Insert n under key, which must not be in the map. */
void hmap_put(struct hmap *m, struct hmap_node *n, const char *key);
void hmap_remove(struct hmap *m, struct hmap_node *n);
/* Iteration in no particular order: first, then next until NULL. Removing
 * the current entry is allowed if next was taken before. */
struct hmap_node *hmap_first(const struct hmap *m);
struct hmap_node *hmap_next(const struct hmap *m, const struct hmap_node *n);
