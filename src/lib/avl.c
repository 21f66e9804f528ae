/* SPDX-License-Identifier: Apache-2.0 */
#include "lib/avl.h"

static inline int height(const struct avl_node *n)
{
	return n ? n->height : 0;
}

static inline void update_height(struct avl_node *n)
{
	int l = height(n->left), r = height(n->right);
	n->height = (l > r ? l : r) + 1;
}

void avl_init(struct avl_tree *t, avl_cmp_fn cmp)
{
	t->root = NULL;
	t->cmp = cmp;
	t->count = 0;
}

struct avl_node *avl_find(const struct avl_tree *t, const void *key)
{
	struct avl_node *n = t->root;
	while (n) {
		int c = t->cmp(key, n);
		if (c == 0)
			return n;
		n = c < 0 ? n->left : n->right;
	}
	return NULL;
}

struct avl_node *avl_lower_bound(const struct avl_tree *t, const void *key, int inclusive)
{
	struct avl_node *n = t->root, *best = NULL;
	while (n) {
		int c = t->cmp(key, n);
		if (c < 0 || (c == 0 && inclusive)) {
			best = n;
			n = n->left;
		} else {
			n = n->right;
		}
	}
	return best;
}

static void replace_child(struct avl_tree *t, struct avl_node *parent, struct avl_node *old,
			  struct avl_node *new)
{
	if (!parent)
		t->root = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
	if (new)
		new->parent = parent;
}

static struct avl_node *rotate_right(struct avl_tree *t, struct avl_node *n)
{
	struct avl_node *l = n->left;
	replace_child(t, n->parent, n, l);
	n->left = l->right;
	if (l->right)
		l->right->parent = n;
	l->right = n;
	n->parent = l;
	update_height(n);
	update_height(l);
	return l;
}

static struct avl_node *rotate_left(struct avl_tree *t, struct avl_node *n)
{
	struct avl_node *r = n->right;
	replace_child(t, n->parent, n, r);
	n->right = r->left;
	if (r->left)
		r->left->parent = n;
	r->left = n;
	n->parent = r;
	update_height(n);
	update_height(r);
	return r;
}

/* Walk up from n to the root, restoring heights and balance. */
static void rebalance(struct avl_tree *t, struct avl_node *n)
{
	while (n) {
		update_height(n);
		int bal = height(n->left) - height(n->right);
		if (bal > 1) {
			if (height(n->left->left) < height(n->left->right))
				rotate_left(t, n->left);
			n = rotate_right(t, n);
		} else if (bal < -1) {
			if (height(n->right->right) < height(n->right->left))
				rotate_right(t, n->right);
			n = rotate_left(t, n);
		}
		n = n->parent;
	}
}

struct avl_node *avl_insert(struct avl_tree *t, const void *key, struct avl_node *n)
{
	struct avl_node **link = &t->root, *parent = NULL;
	while (*link) {
		int c = t->cmp(key, *link);
		if (c == 0)
			return *link;
		parent = *link;
		link = c < 0 ? &(*link)->left : &(*link)->right;
	}
	n->left = n->right = NULL;
	n->parent = parent;
	n->height = 1;
	*link = n;
	t->count++;
	rebalance(t, parent);
	return NULL;
}

void avl_remove(struct avl_tree *t, struct avl_node *n)
{
	struct avl_node *fix;
	if (n->left && n->right) {
		/* Swap n with its successor s, which has no left child. */
		struct avl_node *s = n->right;
		while (s->left)
			s = s->left;
		struct avl_node *sp = s->parent, *sr = s->right;
		replace_child(t, n->parent, n, s);
		s->left = n->left;
		s->left->parent = s;
		if (sp == n) {
			fix = s;
		} else {
			sp->left = sr;
			if (sr)
				sr->parent = sp;
			s->right = n->right;
			s->right->parent = s;
			fix = sp;
		}
		s->height = n->height;
	} else {
		struct avl_node *child = n->left ? n->left : n->right;
		fix = n->parent;
		replace_child(t, n->parent, n, child);
	}
	t->count--;
	rebalance(t, fix);
}

struct avl_node *avl_first(const struct avl_tree *t)
{
	struct avl_node *n = t->root;
	while (n && n->left)
		n = n->left;
	return n;
}

struct avl_node *avl_next(const struct avl_node *n)
{
	if (n->right) {
		n = n->right;
		while (n->left)
			n = n->left;
		return (struct avl_node *)n;
	}
	while (n->parent && n->parent->right == n)
		n = n->parent;
	return n->parent;
}
