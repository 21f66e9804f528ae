/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The prober: every probe of every container on one timer heap, served by a
 * small pool of worker threads (started on demand, at most PROBER_THREADS) that
 * take the earliest due probe, run it without the lock, then apply the
 * kubelet's rules under the lock:
 *   - nothing runs before started_at + initialDelaySeconds, then every
 *     periodSeconds;
 *   - a result counts once it repeats successThreshold / failureThreshold
 *     times in a row;
 *   - liveness and readiness run only once startup succeeded; startup stops
 *     after its success;
 *   - a liveness or startup failure puts that probe on hold until the next
 *     prober_add of the container (a new instance);
 *   - readiness starts as FAILURE, liveness as SUCCESS, startup as UNKNOWN (a
 *     missing probe is SUCCESS).
 * A container entry is reference-counted: prober_remove unlinks it and the
 * worker still running one of its probes drops the last reference.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "kubelet/probe_internal.h"
#include "lib/macro.h"

#define PROBER_THREADS 4
#define PROBER_BUCKETS 256

int64_t prober_second_usec = 1000000;

struct pctr;

struct pjob {
	struct pctr *ctr;
	enum probe_type type;
	struct probe_spec spec;
	int64_t delay, period; /* usec */
	int timeout_s, success_thr, failure_thr;
	int64_t due;
	int heap_idx; /* -1: not scheduled */
	bool running, on_hold;
	enum probe_result last;
	int run;
};

struct pctr {
	struct pctr *next; /* hash chain */
	char *pod_uid, *name, *netns, *pod_ip, *container_id;
	int64_t started_at;
	struct pjob *jobs[3];
	enum probe_result result[3];
	unsigned refs, in_callback;
	bool removed;
};

struct prober {
	pthread_mutex_t lock;
	pthread_cond_t wake, cb_done;
	struct probe_exec ex;
	struct prober_callbacks cb;
	struct pctr *buckets[PROBER_BUCKETS];
	struct pjob **heap;
	size_t nheap, aheap;
	pthread_t threads[PROBER_THREADS];
	unsigned nthreads, idle;
	bool stop;
};

static __thread struct prober *current_prober;

static const char *const probe_keys[3] = {
	[PROBE_LIVENESS] = "livenessProbe",
	[PROBE_READINESS] = "readinessProbe",
	[PROBE_STARTUP] = "startupProbe",
};

/* ---- timer heap ---- */

static void heap_set(struct prober *p, size_t i, struct pjob *j)
{
	p->heap[i] = j;
	j->heap_idx = (int)i;
}

static void heap_up(struct prober *p, size_t i)
{
	struct pjob *j = p->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (p->heap[parent]->due <= j->due)
			break;
		heap_set(p, i, p->heap[parent]);
		i = parent;
	}
	heap_set(p, i, j);
}

static void heap_down(struct prober *p, size_t i)
{
	struct pjob *j = p->heap[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= p->nheap)
			break;
		if (c + 1 < p->nheap && p->heap[c + 1]->due < p->heap[c]->due)
			c++;
		if (j->due <= p->heap[c]->due)
			break;
		heap_set(p, i, p->heap[c]);
		i = c;
	}
	heap_set(p, i, j);
}

static void heap_push(struct prober *p, struct pjob *j)
{
	if (p->nheap == p->aheap) {
		p->aheap = p->aheap ? 2 * p->aheap : 16;
		p->heap = xrealloc(p->heap, p->aheap * sizeof(*p->heap));
	}
	heap_set(p, p->nheap++, j);
	heap_up(p, p->nheap - 1);
}

static void heap_remove(struct prober *p, struct pjob *j)
{
	size_t i = (size_t)j->heap_idx;
	j->heap_idx = -1;
	struct pjob *last = p->heap[--p->nheap];
	if (last == j)
		return;
	heap_set(p, i, last);
	heap_up(p, i);
	heap_down(p, (size_t)last->heap_idx);
}

static void schedule(struct prober *p, struct pjob *j, int64_t due)
{
	j->due = due;
	if (j->heap_idx >= 0) {
		heap_up(p, (size_t)j->heap_idx);
		heap_down(p, (size_t)j->heap_idx);
	} else {
		heap_push(p, j);
	}
	if (p->heap[0] == j)
		pthread_cond_signal(&p->wake);
}

/* ---- containers ---- */

static unsigned bucket_of(const char *pod_uid, const char *name)
{
	uint32_t h = 2166136261u;
	for (const char *s = pod_uid; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *s = name; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % PROBER_BUCKETS;
}

static struct pctr **find_slot(struct prober *p, const char *pod_uid, const char *name)
{
	struct pctr **pp = &p->buckets[bucket_of(pod_uid, name)];
	for (; *pp; pp = &(*pp)->next)
		if (streq((*pp)->pod_uid, pod_uid) && streq((*pp)->name, name))
			return pp;
	return pp;
}

static void ctr_unref(struct pctr *c)
{
	if (--c->refs > 0)
		return;
	for (int i = 0; i < 3; i++) {
		if (c->jobs[i]) {
			probe_spec_release(&c->jobs[i]->spec);
			free(c->jobs[i]);
		}
	}
	free(c->pod_uid);
	free(c->name);
	free(c->netns);
	free(c->pod_ip);
	free(c->container_id);
	free(c);
}

/* Unlink c (its slot is *pp) and drop the table's reference. Unless called
 * from a callback, waits for callbacks about c in progress, so that none
 * runs after prober_remove returns. */
static void remove_locked(struct prober *p, struct pctr **pp)
{
	struct pctr *c = *pp;
	*pp = c->next;
	c->next = NULL;
	c->removed = true;
	for (int i = 0; i < 3; i++)
		if (c->jobs[i] && c->jobs[i]->heap_idx >= 0)
			heap_remove(p, c->jobs[i]);
	while (c->in_callback > 0 && current_prober != p)
		pthread_cond_wait(&p->cb_done, &p->lock);
	ctr_unref(c);
}

/* ---- workers ---- */

static void *worker(void *arg);

static int spawn_locked(struct prober *p)
{
	sigset_t all, old;
	pthread_attr_t attr;
	int r;
	if (p->nthreads >= PROBER_THREADS)
		return 0;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1024 * 1024);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&p->threads[p->nthreads], &attr, worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0)
		return -r;
	p->nthreads++;
	return 0;
}

static void job_started(struct prober *p, struct pctr *c, int64_t now)
{
	/* startup succeeded: liveness and readiness begin */
	for (int t = 0; t < 3; t++) {
		struct pjob *j = c->jobs[t];
		if (!j || t == PROBE_STARTUP || j->on_hold || j->heap_idx >= 0 || j->running)
			continue;
		schedule(p, j, MAX(now, c->started_at + j->delay));
	}
}

static void finish_job(struct prober *p, struct pjob *j, int r, char *msg)
{
	struct pctr *c = j->ctr;
	enum probe_result raw = r < 0 ? PROBE_FAILURE : PROBE_SUCCESS;
	enum probe_result old = c->result[j->type], res = old;
	int64_t now = (int64_t)now_usec_monotonic();

	if (raw == j->last) {
		j->run++;
	} else {
		j->last = raw;
		j->run = 1;
	}
	if ((raw == PROBE_FAILURE && j->run >= j->failure_thr) ||
	    (raw == PROBE_SUCCESS && j->run >= j->success_thr))
		res = raw;
	c->result[j->type] = res;

	if (res == PROBE_FAILURE && raw == PROBE_FAILURE &&
	    (j->type == PROBE_LIVENESS || j->type == PROBE_STARTUP)) {
		/* the container will be restarted: stop until a new instance */
		j->on_hold = true;
		j->run = 0;
	} else if (j->type == PROBE_STARTUP && res == PROBE_SUCCESS) {
		job_started(p, c, now);
	} else {
		int64_t due = j->due + j->period;
		schedule(p, j, due > now ? due : now);
	}

	if ((res != old || raw == PROBE_FAILURE) && p->cb.changed) {
		c->in_callback++;
		pthread_mutex_unlock(&p->lock);
		p->cb.changed(p->cb.ud, c->pod_uid, c->name, j->type, res,
			      raw == PROBE_FAILURE ? (msg ? msg : "") : NULL);
		pthread_mutex_lock(&p->lock);
		c->in_callback--;
		pthread_cond_broadcast(&p->cb_done);
	}
}

static void *worker(void *arg)
{
	struct prober *p = arg;
	current_prober = p;
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		if (p->nheap == 0) {
			p->idle++;
			pthread_cond_wait(&p->wake, &p->lock);
			p->idle--;
			continue;
		}
		struct pjob *j = p->heap[0];
		int64_t now = (int64_t)now_usec_monotonic();
		if (j->due > now) {
			struct timespec ts = { .tv_sec = j->due / 1000000,
					       .tv_nsec = (j->due % 1000000) * 1000 };
			p->idle++;
			pthread_cond_timedwait(&p->wake, &p->lock, &ts);
			p->idle--;
			continue;
		}
		heap_remove(p, j);
		j->running = true;
		struct pctr *c = j->ctr;
		c->refs++;
		/* More due work than free hands: grow the pool (bounded). */
		if (p->idle == 0 && p->nheap > 0 && p->heap[0]->due <= now + 100000)
			(void)spawn_locked(p);
		else if (p->idle > 0 && p->nheap > 0)
			pthread_cond_signal(&p->wake);
		struct probe_target t = { .netns = c->netns,
					  .pod_ip = c->pod_ip,
					  .container_id = c->container_id };
		pthread_mutex_unlock(&p->lock);

		char *msg = NULL;
		int r = probe_spec_run(&j->spec, &t, &p->ex, j->timeout_s, false, &msg);

		pthread_mutex_lock(&p->lock);
		j->running = false;
		if (!c->removed)
			finish_job(p, j, r, msg);
		free(msg);
		ctr_unref(c);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- public ---- */

int prober_new(const struct probe_exec *ex, const struct prober_callbacks *cb, struct prober **ret)
{
	struct prober *p = xnew(struct prober, 1);
	pthread_condattr_t ca;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_cond_init(&p->cb_done, NULL);
	pthread_condattr_destroy(&ca);
	if (ex)
		p->ex = *ex;
	if (cb)
		p->cb = *cb;
	*ret = p;
	return 0;
}

void prober_free(struct prober *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->wake);
	unsigned nthreads = p->nthreads; /* no worker spawns once stop is set */
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_lock(&p->lock);
	for (size_t b = 0; b < PROBER_BUCKETS; b++)
		while (p->buckets[b])
			remove_locked(p, &p->buckets[b]);
	pthread_mutex_unlock(&p->lock);
	free(p->heap);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	pthread_cond_destroy(&p->cb_done);
	free(p);
}

static int64_t probe_int(const json_t *probe, const char *key, int64_t def, int64_t min)
{
	const json_t *v = json_object_get(probe, key);
	int64_t n = json_is_integer(v) ? json_integer_value(v) : def;
	if (n < min)
		n = min;
	if (n > 86400 * 365)
		n = 86400 * 365;
	return n;
}

static struct pjob *job_new(struct pctr *c, enum probe_type type, const json_t *probe,
			    const json_t *container)
{
	struct pjob *j = xnew(struct pjob, 1);
	j->ctr = c;
	j->type = type;
	j->heap_idx = -1;
	probe_spec_parse(probe, container, false, &j->spec);
	j->delay = probe_int(probe, "initialDelaySeconds", 0, 0) * prober_second_usec;
	j->period = probe_int(probe, "periodSeconds", 10, 1) * prober_second_usec;
	j->timeout_s = (int)probe_int(probe, "timeoutSeconds", 1, 1);
	j->success_thr =
	    type == PROBE_READINESS ? (int)probe_int(probe, "successThreshold", 1, 1) : 1;
	j->failure_thr = (int)probe_int(probe, "failureThreshold", 3, 1);
	return j;
}

int prober_add(struct prober *p, const char *pod_uid, const char *container_name,
	       const json_t *container, const struct probe_target *t, int64_t started_at)
{
	if (!p || isempty(pod_uid) || isempty(container_name) || !t)
		return -EINVAL;
	struct pctr *c = xnew(struct pctr, 1);
	c->refs = 1;
	c->pod_uid = xstrdup(pod_uid);
	c->name = xstrdup(container_name);
	c->netns = t->netns ? xstrdup(t->netns) : NULL;
	c->pod_ip = t->pod_ip ? xstrdup(t->pod_ip) : NULL;
	c->container_id = t->container_id ? xstrdup(t->container_id) : NULL;
	c->started_at = started_at;
	for (int type = 0; type < 3; type++) {
		const json_t *probe = json_object_get(container, probe_keys[type]);
		if (json_is_object(probe))
			c->jobs[type] = job_new(c, type, probe, container);
	}
	c->result[PROBE_LIVENESS] = PROBE_SUCCESS;
	c->result[PROBE_READINESS] = c->jobs[PROBE_READINESS] ? PROBE_FAILURE : PROBE_SUCCESS;
	c->result[PROBE_STARTUP] = c->jobs[PROBE_STARTUP] ? PROBE_UNKNOWN : PROBE_SUCCESS;

	pthread_mutex_lock(&p->lock);
	struct pctr **pp;
	/* remove_locked may drop the lock: look again until the slot is free */
	while (*(pp = find_slot(p, pod_uid, container_name)))
		remove_locked(p, pp);
	*pp = c;
	int64_t now = (int64_t)now_usec_monotonic();
	if (c->jobs[PROBE_STARTUP])
		schedule(p, c->jobs[PROBE_STARTUP],
			 MAX(now, started_at + c->jobs[PROBE_STARTUP]->delay));
	else
		job_started(p, c, now);
	int r = 0;
	if (p->nheap > 0 && p->nthreads == 0)
		r = spawn_locked(p);
	if (r < 0)
		remove_locked(p, find_slot(p, pod_uid, container_name));
	pthread_mutex_unlock(&p->lock);
	return r;
}

void prober_remove(struct prober *p, const char *pod_uid, const char *container_name)
{
	if (!p || !pod_uid || !container_name)
		return;
	pthread_mutex_lock(&p->lock);
	struct pctr **pp = find_slot(p, pod_uid, container_name);
	if (*pp)
		remove_locked(p, pp);
	pthread_mutex_unlock(&p->lock);
}

void prober_remove_pod(struct prober *p, const char *pod_uid)
{
	if (!p || !pod_uid)
		return;
	pthread_mutex_lock(&p->lock);
	for (size_t b = 0; b < PROBER_BUCKETS; b++) {
		struct pctr **pp = &p->buckets[b];
		while (*pp) {
			if (streq((*pp)->pod_uid, pod_uid)) {
				remove_locked(p, pp);
				pp = &p->buckets[b]; /* the lock may have been dropped */
			} else {
				pp = &(*pp)->next;
			}
		}
	}
	pthread_mutex_unlock(&p->lock);
}

enum probe_result prober_get(struct prober *p, const char *pod_uid, const char *container_name,
			     enum probe_type type)
{
	enum probe_result r = PROBE_UNKNOWN;
	if (!p || !pod_uid || !container_name || (unsigned)type > PROBE_STARTUP)
		return PROBE_UNKNOWN;
	pthread_mutex_lock(&p->lock);
	struct pctr *c = *find_slot(p, pod_uid, container_name);
	if (c)
		r = c->result[type];
	pthread_mutex_unlock(&p->lock);
	return r;
}
