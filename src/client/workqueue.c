/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>

#include "client/workqueue.h"
#include "lib/avl.h"
#include "lib/log.h"
#include "lib/macro.h"

#define BACKOFF_BASE_USEC 5000LL
#define BACKOFF_MAX_USEC (1000LL * 1000000)

/* Per-key state, kept while the key is queued, processing, waiting or
 * backing off. */
struct item {
	struct avl_node by_key;
	char *key;
	bool queued;     /* in the FIFO */
	bool processing; /* a worker has it */
	bool dirty;      /* added while processing: queue again after */
	uint64_t due;    /* waiting until this time (0 = not waiting) */
	unsigned failures;
	struct item *next; /* FIFO link */
};

struct workqueue {
	char *name;
	pthread_mutex_t mu;
	pthread_cond_t cond;       /* workers wait here */
	pthread_cond_t timer_cond; /* the timer waits here */
	struct avl_tree items;
	struct item *head, *tail;
	size_t len;
	bool shutting_down;
	pthread_t *workers;
	int nworkers;
	workqueue_sync_fn sync;
	void *userdata;
	pthread_t timer;
	bool timer_running;
};

static int item_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct item, by_key)->key);
}

static struct item *get_item(struct workqueue *q, const char *key, bool create)
{
	struct avl_node *n = avl_find(&q->items, key);
	if (n)
		return avl_entry(n, struct item, by_key);
	if (!create)
		return NULL;
	struct item *it = xnew(struct item, 1);
	it->key = xstrdup(key);
	avl_insert(&q->items, it->key, &it->by_key);
	return it;
}

static void drop_if_idle(struct workqueue *q, struct item *it)
{
	if (it->queued || it->processing || it->due || it->failures)
		return;
	avl_remove(&q->items, &it->by_key);
	free(it->key);
	free(it);
}

static void push_locked(struct workqueue *q, struct item *it)
{
	if (it->queued)
		return;
	if (it->processing) {
		it->dirty = true;
		return;
	}
	it->queued = true;
	it->due = 0;
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->len++;
	pthread_cond_signal(&q->cond);
}

struct workqueue *workqueue_new(const char *name)
{
	struct workqueue *q = xnew(struct workqueue, 1);
	q->name = xstrdup(name);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cond, NULL);
	pthread_cond_init(&q->timer_cond, NULL);
	avl_init(&q->items, item_cmp);
	return q;
}

void workqueue_add(struct workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	if (!q->shutting_down)
		push_locked(q, get_item(q, key, true));
	pthread_mutex_unlock(&q->mu);
}

void workqueue_add_after(struct workqueue *q, const char *key, int64_t delay_usec)
{
	if (delay_usec <= 0) {
		workqueue_add(q, key);
		return;
	}
	pthread_mutex_lock(&q->mu);
	if (!q->shutting_down) {
		struct item *it = get_item(q, key, true);
		uint64_t due = now_usec_monotonic() + (uint64_t)delay_usec;
		if (!it->queued && (!it->due || due < it->due))
			it->due = due;
		pthread_cond_signal(&q->timer_cond);
	}
	pthread_mutex_unlock(&q->mu);
}

void workqueue_add_rate_limited(struct workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	struct item *it = get_item(q, key, true);
	unsigned f = it->failures++;
	pthread_mutex_unlock(&q->mu);
	int64_t d = BACKOFF_BASE_USEC << MIN(f, 30u);
	workqueue_add_after(q, key, MIN(d, BACKOFF_MAX_USEC));
}

void workqueue_forget(struct workqueue *q, const char *key)
{
	pthread_mutex_lock(&q->mu);
	struct item *it = get_item(q, key, false);
	if (it) {
		it->failures = 0;
		drop_if_idle(q, it);
	}
	pthread_mutex_unlock(&q->mu);
}

size_t workqueue_len(struct workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	size_t n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* Move waiting keys whose time has come into the FIFO; returns the next due time. */
static uint64_t promote_due_locked(struct workqueue *q)
{
	uint64_t now = now_usec_monotonic(), next = 0;
	for (struct avl_node *n = avl_first(&q->items); n; n = avl_next(n)) {
		struct item *it = avl_entry(n, struct item, by_key);
		if (!it->due || it->queued)
			continue;
		if (it->due <= now) {
			it->due = 0;
			push_locked(q, it);
		} else if (!next || it->due < next) {
			next = it->due;
		}
	}
	return next;
}

static void *timer_main(void *arg)
{
	struct workqueue *q = arg;
	pthread_mutex_lock(&q->mu);
	while (!q->shutting_down) {
		uint64_t next = promote_due_locked(q);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t wait = next ? next - MIN(next, now_usec_monotonic()) : 1000000;
		wait = MIN(wait, 1000000);
		ts.tv_sec += (time_t)(wait / 1000000);
		ts.tv_nsec += (long)(wait % 1000000) * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&q->timer_cond, &q->mu, &ts);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

static void *worker_main(void *arg)
{
	struct workqueue *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->head && !q->shutting_down)
			pthread_cond_wait(&q->cond, &q->mu);
		if (q->shutting_down)
			break;
		struct item *it = q->head;
		q->head = it->next;
		if (!q->head)
			q->tail = NULL;
		q->len--;
		it->queued = false;
		it->processing = true;
		_cleanup_free_ char *key = xstrdup(it->key);
		pthread_mutex_unlock(&q->mu);

		int r = q->sync(key, q->userdata);

		pthread_mutex_lock(&q->mu);
		it = get_item(q, key, true);
		it->processing = false;
		if (r < 0) {
			unsigned f = it->failures++;
			int64_t d = MIN(BACKOFF_BASE_USEC << MIN(f, 30u), BACKOFF_MAX_USEC);
			if (!it->dirty) {
				it->due = now_usec_monotonic() + (uint64_t)d;
				pthread_cond_signal(&q->timer_cond);
			}
			log_v(4, "%s: %s failed, retrying in %lld ms", q->name, key, (long long)d / 1000);
		} else {
			it->failures = 0;
		}
		if (it->dirty) {
			it->dirty = false;
			push_locked(q, it);
		}
		drop_if_idle(q, it);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int workqueue_run(struct workqueue *q, int workers, workqueue_sync_fn sync, void *userdata)
{
	q->sync = sync;
	q->userdata = userdata;
	q->workers = xnew(pthread_t, (size_t)workers);
	for (int i = 0; i < workers; i++) {
		int r = pthread_create(&q->workers[i], NULL, worker_main, q);
		if (r)
			return -r;
		q->nworkers++;
	}
	int r = pthread_create(&q->timer, NULL, timer_main, q);
	if (r)
		return -r;
	q->timer_running = true;
	return 0;
}

void workqueue_shutdown(struct workqueue *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutting_down = true;
	pthread_cond_broadcast(&q->cond);
	pthread_cond_broadcast(&q->timer_cond);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->nworkers; i++)
		pthread_join(q->workers[i], NULL);
	q->nworkers = 0;
	if (q->timer_running)
		pthread_join(q->timer, NULL);
	q->timer_running = false;
}

void workqueue_free(struct workqueue *q)
{
	if (!q)
		return;
	workqueue_shutdown(q);
	struct avl_node *n = avl_first(&q->items);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct item *it = avl_entry(n, struct item, by_key);
		avl_remove(&q->items, n);
		free(it->key);
		free(it);
		n = next;
	}
	free(q->workers);
	free(q->name);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	pthread_cond_destroy(&q->timer_cond);
	free(q);
}
