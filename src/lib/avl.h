/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An intrusive AVL tree with parent links, for ordered maps with range scans.
 * Embed struct avl_node in your struct; the tree never allocates. Keys are
 * compared by a callback between a search key and a node.
 */
#pragma once

#include <stddef.h>

struct avl_node {
	struct avl_node *left, *right, *parent;
	int height;
};

typedef int (*avl_cmp_fn)(const void *key, const struct avl_node *node);

struct avl_tree {
	struct avl_node *root;
	avl_cmp_fn cmp;
	size_t count;
};

#define avl_entry(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

void avl_init(struct avl_tree *t, avl_cmp_fn cmp);
/* Find the node equal to key, or NULL. */
struct avl_node *avl_find(const struct avl_tree *t, const void *key);
/* First node whose key is > key (or >= key when inclusive), or NULL. */
struct avl_node *avl_lower_bound(const struct avl_tree *t, const void *key, int inclusive);
/* Insert n under key; returns the existing node (and inserts nothing) if key is present. */
struct avl_node *avl_insert(struct avl_tree *t, const void *key, struct avl_node *n);
void avl_remove(struct avl_tree *t, struct avl_node *n);
struct avl_node *avl_first(const struct avl_tree *t);
struct avl_node *avl_next(const struct avl_node *n);
