/* SPDX-License-Identifier: Apache-2.0 */
#include "scheduler/queue.h"
#include "lib/macro.h"

/* ---- binary heaps of qpods ---- */

static void heap_set(struct qheap *h, size_t i, struct qpod *p)
{
	h->v[i] = p;
	p->heap_idx = i;
}

static void heap_up(struct qheap *h, size_t i)
{
	struct qpod *p = h->v[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!h->less(p, h->v[parent]))
			break;
		heap_set(h, i, h->v[parent]);
		i = parent;
	}
	heap_set(h, i, p);
}

static void heap_down(struct qheap *h, size_t i)
{
	struct qpod *p = h->v[i];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct qpod *best = p;
		if (l < h->n && h->less(h->v[l], best)) {
			m = l;
			best = h->v[l];
		}
		if (r < h->n && h->less(h->v[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(h, i, h->v[m]);
		i = m;
	}
	heap_set(h, i, p);
}

static void heap_push(struct qheap *h, struct qpod *p)
{
	if (h->n == h->alloc) {
		h->alloc = h->alloc ? h->alloc * 2 : 64;
		h->v = xrealloc(h->v, h->alloc * sizeof(*h->v));
	}
	heap_set(h, h->n++, p);
	heap_up(h, h->n - 1);
}

static void heap_remove(struct qheap *h, struct qpod *p)
{
	size_t i = p->heap_idx;
	assert_se(i < h->n && h->v[i] == p);
	struct qpod *last = h->v[--h->n];
	if (last == p)
		return;
	heap_set(h, i, last);
	heap_down(h, i);
	heap_up(h, last->heap_idx);
}

static struct qpod *heap_top(const struct qheap *h)
{
	return h->n ? h->v[0] : NULL;
}

static bool active_less(const struct qpod *a, const struct qpod *b)
{
	if (a->pod.priority != b->pod.priority)
		return a->pod.priority > b->pod.priority;
	return a->seq < b->seq;
}

static bool backoff_less(const struct qpod *a, const struct qpod *b)
{
	return a->backoff_until < b->backoff_until;
}

/* ---- the queue ---- */

void squeue_init(struct squeue *q)
{
	*q = (struct squeue){ 0 };
	hmap_init(&q->pods);
	q->active.less = active_less;
	q->backoff.less = backoff_less;
	q->initial_backoff = 1000000;
	q->max_backoff = 10000000;
	q->max_unschedulable = 60000000;
}

static void unlink_pod(struct squeue *q, struct qpod *qp)
{
	switch (qp->state) {
	case Q_ACTIVE:
		heap_remove(&q->active, qp);
		break;
	case Q_BACKOFF:
		heap_remove(&q->backoff, qp);
		break;
	case Q_UNSCHEDULABLE:
		if (qp->prev)
			qp->prev->next = qp->next;
		else
			q->unsched_head = qp->next;
		if (qp->next)
			qp->next->prev = qp->prev;
		else
			q->unsched_tail = qp->prev;
		qp->prev = qp->next = NULL;
		q->nunsched--;
		break;
	case Q_POPPED:
	case Q_BINDING:
		break;
	}
	qp->state = Q_POPPED;
}

static void to_active(struct squeue *q, struct qpod *qp)
{
	qp->state = Q_ACTIVE;
	qp->seq = q->seq++;
	heap_push(&q->active, qp);
}

static void to_backoff(struct squeue *q, struct qpod *qp)
{
	qp->state = Q_BACKOFF;
	heap_push(&q->backoff, qp);
}

/* Active, or backoff while its back-off lasts. */
static void requeue(struct squeue *q, struct qpod *qp, uint64_t now)
{
	if (qp->backoff_until > now)
		to_backoff(q, qp);
	else
		to_active(q, qp);
}

static void free_pod(struct qpod *qp)
{
	sched_pod_release(&qp->pod);
	free(qp->key);
	free(qp->reported);
	free(qp);
}

void squeue_release(struct squeue *q)
{
	struct hmap_node *h, *next;
	for (h = hmap_first(&q->pods); h; h = next) {
		next = hmap_next(&q->pods, h);
		struct qpod *qp = hmap_entry(h, struct qpod, hn);
		hmap_remove(&q->pods, h);
		free_pod(qp);
	}
	hmap_release(&q->pods);
	free(q->active.v);
	free(q->backoff.v);
	*q = (struct squeue){ 0 };
}

struct qpod *squeue_get(const struct squeue *q, const char *key)
{
	struct hmap_node *h = hmap_get(&q->pods, key);
	return h ? hmap_entry(h, struct qpod, hn) : NULL;
}

struct qpod *squeue_add(struct squeue *q, const char *key, struct sched_pod *p)
{
	struct qpod *qp = xnew(struct qpod, 1);
	qp->key = xstrdup(key);
	qp->pod = *p;
	*p = (struct sched_pod){ 0 };
	hmap_put(&q->pods, &qp->hn, qp->key);
	to_active(q, qp);
	return qp;
}

void squeue_update(struct squeue *q, struct qpod *qp, struct sched_pod *p, uint64_t now)
{
	bool changed = p->fingerprint != qp->pod.fingerprint;
	bool heaped = qp->state == Q_ACTIVE;
	/* The priority orders the active heap: take it out while it changes. */
	if (heaped)
		heap_remove(&q->active, qp);
	sched_pod_release(&qp->pod);
	qp->pod = *p;
	*p = (struct sched_pod){ 0 };
	if (heaped)
		heap_push(&q->active, qp);
	else if (changed && qp->state == Q_UNSCHEDULABLE) {
		unlink_pod(q, qp);
		requeue(q, qp, now);
	}
}

void squeue_delete(struct squeue *q, struct qpod *qp)
{
	unlink_pod(q, qp);
	hmap_remove(&q->pods, &qp->hn);
	free_pod(qp);
}

static void after_attempt(struct squeue *q, struct qpod *qp, uint64_t now)
{
	uint64_t d = q->initial_backoff;
	for (int i = 1; i < qp->attempts && d < q->max_backoff; i++)
		d *= 2;
	qp->backoff_until = now + MIN(d, q->max_backoff);
}

struct qpod *squeue_pop(struct squeue *q, uint64_t now)
{
	struct qpod *qp;
	while ((qp = heap_top(&q->backoff)) && qp->backoff_until <= now) {
		heap_remove(&q->backoff, qp);
		to_active(q, qp);
	}
	while ((qp = q->unsched_head) && qp->unschedulable_since + q->max_unschedulable <= now) {
		unlink_pod(q, qp);
		requeue(q, qp, now);
	}
	qp = heap_top(&q->active);
	if (qp)
		unlink_pod(q, qp);
	return qp;
}

void squeue_unschedulable(struct squeue *q, struct qpod *qp, uint64_t now)
{
	unlink_pod(q, qp);
	qp->attempts++;
	after_attempt(q, qp, now);
	qp->state = Q_UNSCHEDULABLE;
	qp->unschedulable_since = now;
	qp->next = NULL;
	qp->prev = q->unsched_tail;
	if (q->unsched_tail)
		q->unsched_tail->next = qp;
	else
		q->unsched_head = qp;
	q->unsched_tail = qp;
	q->nunsched++;
}

void squeue_retry(struct squeue *q, struct qpod *qp, uint64_t now)
{
	unlink_pod(q, qp);
	qp->attempts++;
	after_attempt(q, qp, now);
	to_backoff(q, qp);
}

void squeue_binding(struct squeue *q, struct qpod *qp)
{
	unlink_pod(q, qp);
	qp->state = Q_BINDING;
}

void squeue_move_all(struct squeue *q, uint64_t now)
{
	struct qpod *qp;
	while ((qp = q->unsched_head)) {
		unlink_pod(q, qp);
		requeue(q, qp, now);
	}
}

uint64_t squeue_next_time(const struct squeue *q)
{
	if (q->active.n)
		return 0;
	uint64_t t = UINT64_MAX;
	if (q->backoff.n)
		t = q->backoff.v[0]->backoff_until;
	if (q->unsched_head)
		t = MIN(t, q->unsched_head->unschedulable_since + q->max_unschedulable);
	return t;
}

size_t squeue_len(const struct squeue *q, enum qstate state)
{
	switch (state) {
	case Q_ACTIVE:
		return q->active.n;
	case Q_BACKOFF:
		return q->backoff.n;
	case Q_UNSCHEDULABLE:
		return q->nunsched;
	case Q_POPPED:
	case Q_BINDING:
		break;
	}
	size_t n = 0;
	for (struct hmap_node *h = hmap_first(&q->pods); h; h = hmap_next(&q->pods, h))
		n += hmap_entry(h, struct qpod, hn)->state == state;
	return n;
}
