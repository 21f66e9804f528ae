/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdatomic.h>

#include "unit.h"

#include "client/workqueue.h"

struct rec {
	pthread_mutex_t mu;
	char seen[64][32];
	int n;
	atomic_int running;
	atomic_int max_running;
	atomic_int fail_left;
	int64_t block_usec;
};

static int sync_fn(const char *key, void *ud)
{
	struct rec *r = ud;
	int now = atomic_fetch_add(&r->running, 1) + 1;
	int m = atomic_load(&r->max_running);
	while (now > m && !atomic_compare_exchange_weak(&r->max_running, &m, now))
		;
	if (r->block_usec)
		usleep((useconds_t)r->block_usec);
	pthread_mutex_lock(&r->mu);
	if (r->n < 64)
		snprintf(r->seen[r->n++], 32, "%s", key);
	pthread_mutex_unlock(&r->mu);
	atomic_fetch_sub(&r->running, 1);
	if (atomic_load(&r->fail_left) > 0) {
		atomic_fetch_sub(&r->fail_left, 1);
		return -1;
	}
	return 0;
}

static int count(struct rec *r, const char *key)
{
	int c = 0;
	pthread_mutex_lock(&r->mu);
	for (int i = 0; i < r->n; i++)
		c += strcmp(r->seen[i], key) == 0;
	pthread_mutex_unlock(&r->mu);
	return c;
}

static void wait_count(struct rec *r, const char *key, int want, int64_t timeout_usec)
{
	for (int64_t t = 0; t < timeout_usec && count(r, key) < want; t += 1000)
		usleep(1000);
}

static void test_dedup(void **state)
{
	struct rec r = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct workqueue *q = workqueue_new("test");
	/* Added three times before any worker runs: processed once. */
	workqueue_add(q, "a");
	workqueue_add(q, "a");
	workqueue_add(q, "a");
	workqueue_add(q, "b");
	assert_int_equal(workqueue_len(q), 2);
	workqueue_run(q, 2, sync_fn, &r);
	wait_count(&r, "b", 1, 2000000);
	usleep(20000);
	assert_int_equal(count(&r, "a"), 1);
	assert_int_equal(count(&r, "b"), 1);
	workqueue_free(q);
}

static void test_exclusive_and_dirty(void **state)
{
	struct rec r = { .mu = PTHREAD_MUTEX_INITIALIZER, .block_usec = 50000 };
	struct workqueue *q = workqueue_new("test");
	workqueue_run(q, 4, sync_fn, &r);
	workqueue_add(q, "k");
	usleep(10000); /* k is being processed */
	workqueue_add(q, "k");
	workqueue_add(q, "k");
	wait_count(&r, "k", 2, 2000000);
	usleep(100000);
	/* Never two at once; added again while processing: exactly once more. */
	assert_int_equal(atomic_load(&r.max_running), 1);
	assert_int_equal(count(&r, "k"), 2);
	workqueue_free(q);
}

static void test_retry_backoff(void **state)
{
	struct rec r = { .mu = PTHREAD_MUTEX_INITIALIZER };
	atomic_store(&r.fail_left, 3);
	struct workqueue *q = workqueue_new("test");
	workqueue_run(q, 1, sync_fn, &r);
	uint64_t start = now_usec_monotonic();
	workqueue_add(q, "x");
	wait_count(&r, "x", 4, 3000000);
	uint64_t took = now_usec_monotonic() - start;
	/* 3 failures back off 5 + 10 + 20 ms before the 4th, successful try. */
	assert_int_equal(count(&r, "x"), 4);
	assert_true(took >= 35000);
	assert_true(took < 2000000);
	workqueue_free(q);
}

static void test_add_after(void **state)
{
	struct rec r = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct workqueue *q = workqueue_new("test");
	workqueue_run(q, 1, sync_fn, &r);
	uint64_t start = now_usec_monotonic();
	workqueue_add_after(q, "later", 100000);
	usleep(50000);
	assert_int_equal(count(&r, "later"), 0);
	wait_count(&r, "later", 1, 2000000);
	assert_int_equal(count(&r, "later"), 1);
	assert_true(now_usec_monotonic() - start >= 100000);
	workqueue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_exclusive_and_dirty),
		cmocka_unit_test(test_retry_backoff),
		cmocka_unit_test(test_add_after),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
