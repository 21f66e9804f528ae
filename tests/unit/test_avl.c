/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "lib/avl.h"

struct item {
	struct avl_node node;
	int key;
};

static int cmp(const void *key, const struct avl_node *n)
{
	int k = *(const int *)key, v = avl_entry(n, struct item, node)->key;
	return (k > v) - (k < v);
}

static int check(const struct avl_node *n, const struct avl_node *parent)
{
	if (!n)
		return 0;
	assert_ptr_equal(n->parent, parent);
	int l = check(n->left, n), r = check(n->right, n);
	assert_true(l - r <= 1 && r - l <= 1);
	assert_int_equal(n->height, (l > r ? l : r) + 1);
	return n->height;
}

static void test_random_ops(void **state)
{
	enum { N = 2000 };
	struct item *items = xnew(struct item, N);
	bool present[N] = { false };
	struct avl_tree t;
	avl_init(&t, cmp);
	srand(42);
	for (int round = 0; round < 20000; round++) {
		int k = rand() % N;
		if (!present[k]) {
			items[k].key = k;
			assert_null(avl_insert(&t, &k, &items[k].node));
			present[k] = true;
		} else {
			assert_ptr_equal(avl_find(&t, &k), &items[k].node);
			avl_remove(&t, &items[k].node);
			present[k] = false;
		}
		if (round % 997 == 0)
			check(t.root, NULL);
	}
	check(t.root, NULL);
	/* In-order iteration matches the presence table. */
	size_t count = 0;
	int prev = -1;
	for (struct avl_node *n = avl_first(&t); n; n = avl_next(n)) {
		int k = avl_entry(n, struct item, node)->key;
		assert_true(k > prev);
		assert_true(present[k]);
		prev = k;
		count++;
	}
	assert_int_equal(count, t.count);
	/* lower_bound: first key > k and >= k. */
	for (int k = -1; k < N; k += 7) {
		struct avl_node *lb = avl_lower_bound(&t, &k, 0);
		int want = -1;
		for (int j = k + 1; j < N; j++)
			if (present[j]) {
				want = j;
				break;
			}
		if (want < 0)
			assert_null(lb);
		else
			assert_int_equal(avl_entry(lb, struct item, node)->key, want);
	}
	free(items);
}

static void test_duplicate_insert(void **state)
{
	struct avl_tree t;
	struct item a = { .key = 5 }, b = { .key = 5 };
	avl_init(&t, cmp);
	assert_null(avl_insert(&t, &a.key, &a.node));
	assert_ptr_equal(avl_insert(&t, &b.key, &b.node), &a.node);
	assert_int_equal(t.count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_ops),
		cmocka_unit_test(test_duplicate_insert),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
