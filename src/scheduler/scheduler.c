/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler component: informer handlers keep the cache and the queue
 * current; one thread makes every decision; a pool of workers talks to the
 * API server (bindings and PodScheduled conditions). See README.md.
 */
#include <pthread.h>
#include <time.h>

#include "client/events.h"
#include "client/factory.h"
#include "client/informer.h"
#include "client/kclient.h"
#include "client/objects.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/timeutil.h"
#include "scheduler/cache.h"
#include "scheduler/queue.h"
#include "scheduler/scheduler.h"

#define STATS_PERIOD_USEC (10LL * 1000000)

/* Work for the API workers. */
struct job {
	struct job *next;
	bool bind; /* else a pods/status patch */
	char *key, *ns, *name, *uid, *node;
	char *body;
	size_t len;
};

struct scheduler {
	struct kclient *c;
	struct event_recorder *events;
	char *name;
	int nworkers;

	pthread_mutex_t mu;  /* everything below */
	pthread_cond_t wake; /* the decision loop: work or a change */
	pthread_cond_t work; /* the workers: a job */
	struct sched_cache cache;
	struct squeue queue;
	struct diagnosis diag;
	bool move_all; /* a change may let unschedulable pods fit */
	bool running, stop;
	struct job *jobs, *jobs_tail;
	pthread_t loop;
	pthread_t *workers;
	uint64_t n_bound, n_unschedulable, n_bind_errors;
};

/* ---- jobs ---- */

static void job_free(struct job *j)
{
	free(j->key);
	free(j->ns);
	free(j->name);
	free(j->uid);
	free(j->node);
	free(j->body);
	free(j);
}

static struct job *job_new(const struct qpod *qp, bool bind)
{
	struct job *j = xnew(struct job, 1);
	j->bind = bind;
	j->key = xstrdup(qp->key);
	j->ns = xstrdup(qp->pod.ns);
	j->name = xstrdup(qp->pod.name);
	j->uid = xstrdup(qp->pod.uid);
	return j;
}

/* Under s->mu. */
static void push_job(struct scheduler *s, struct job *j)
{
	if (s->jobs_tail)
		s->jobs_tail->next = j;
	else
		s->jobs = j;
	s->jobs_tail = j;
	pthread_cond_signal(&s->work);
}

static struct job *bind_job(const struct qpod *qp, const char *node)
{
	struct job *j = job_new(qp, true);
	struct strbuf sb = STRBUF_INIT;
	j->node = xstrdup(node);
	strbuf_addstr(&sb, "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":");
	strbuf_add_json_str(&sb, qp->pod.name);
	strbuf_addstr(&sb, ",\"namespace\":");
	strbuf_add_json_str(&sb, qp->pod.ns);
	strbuf_addstr(&sb, ",\"uid\":");
	strbuf_add_json_str(&sb, qp->pod.uid);
	strbuf_addstr(&sb, "},\"target\":{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":");
	strbuf_add_json_str(&sb, node);
	strbuf_addstr(&sb, "}}");
	j->body = strbuf_detach(&sb, &j->len);
	return j;
}

/* PodScheduled=False, reason Unschedulable, as a strategic merge patch of
 * status.conditions (merged by type: the other conditions stay). */
static struct job *status_job(const struct qpod *qp, const char *msg)
{
	struct job *j = job_new(qp, false);
	const struct sched_pod *p = &qp->pod;
	char ts[32];
	if (streq_ptr(p->cond_status, "False") && p->cond_transition)
		snprintf(ts, sizeof(ts), "%s", p->cond_transition);
	else
		time_format_rfc3339((int64_t)now_usec_realtime(), ts);
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, "{\"status\":{\"conditions\":[{\"type\":\"PodScheduled\","
			   "\"status\":\"False\",\"lastProbeTime\":null,\"lastTransitionTime\":");
	strbuf_add_json_str(&sb, ts);
	strbuf_addstr(&sb, ",\"reason\":\"Unschedulable\",\"message\":");
	strbuf_add_json_str(&sb, msg);
	strbuf_addstr(&sb, "}]}}");
	j->body = strbuf_detach(&sb, &j->len);
	return j;
}

static void run_bind(struct scheduler *s, struct job *j)
{
	_cleanup_free_ char *path =
	    xasprintf("/api/v1/namespaces/%s/pods/%s/binding", j->ns, j->name);
	struct kresp r;
	int rc = kclient_do(s->c, "POST", path, j->body, j->len, NULL, &r);
	if (rc == 0 && r.code >= 200 && r.code < 300) {
		kresp_release(&r);
		log_v(3, "bound pod %s to node %s", j->key, j->node);
		event_record_ref(s->events, "v1", "Pod", j->ns, j->name, j->uid, "Normal",
				 "Scheduled", "Successfully assigned %s/%s to %s", j->ns, j->name,
				 j->node);
		return;
	}
	char buf[512];
	const char *why = kresp_message(&r, buf, sizeof(buf));
	log_v(2, "binding pod %s to node %s: %s", j->key, j->node, why);
	event_record_ref(s->events, "v1", "Pod", j->ns, j->name, j->uid, "Warning",
			 "FailedScheduling", "Binding rejected: %s", why);
	kresp_release(&r);

	pthread_mutex_lock(&s->mu);
	s->n_bind_errors++;
	if (cache_forget(&s->cache, j->key, j->uid))
		s->move_all = true;
	struct qpod *qp = squeue_get(&s->queue, j->key);
	if (qp && qp->state == Q_BINDING && streq(qp->pod.uid, j->uid))
		squeue_retry(&s->queue, qp, now_usec_monotonic());
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

static void run_status(struct scheduler *s, struct job *j)
{
	/* Only while the pod is still waiting: a pod being bound meanwhile
	 * (its back-off ended before this job's turn) must not get
	 * PodScheduled=False over the True its binding sets. */
	pthread_mutex_lock(&s->mu);
	struct qpod *qp = squeue_get(&s->queue, j->key);
	bool waiting = qp && streq(qp->pod.uid, j->uid) && qp->state != Q_BINDING;
	pthread_mutex_unlock(&s->mu);
	if (!waiting)
		return;
	_cleanup_free_ char *path =
	    xasprintf("/api/v1/namespaces/%s/pods/%s/status", j->ns, j->name);
	struct kresp r;
	int rc = kclient_do(s->c, "PATCH", path, j->body, j->len,
			    "application/strategic-merge-patch+json", &r);
	if (rc != 0 || r.code < 200 || r.code >= 300) {
		char buf[512];
		log_v(2, "setting PodScheduled of pod %s: %s", j->key,
		      kresp_message(&r, buf, sizeof(buf)));
	}
	kresp_release(&r);
}

static void *worker_main(void *arg)
{
	struct scheduler *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stop && !s->jobs)
			pthread_cond_wait(&s->work, &s->mu);
		if (s->stop)
			break;
		struct job *j = s->jobs;
		s->jobs = j->next;
		if (!s->jobs)
			s->jobs_tail = NULL;
		pthread_mutex_unlock(&s->mu);
		if (j->bind)
			run_bind(s, j);
		else
			run_status(s, j);
		job_free(j);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- the decision loop ---- */

/* Whether the pod's condition already says msg (or we already asked). */
static bool condition_current(const struct qpod *qp, const char *msg)
{
	const struct sched_pod *p = &qp->pod;
	if (qp->reported && streq(qp->reported, msg))
		return true;
	return streq_ptr(p->cond_status, "False") && streq_ptr(p->cond_reason, "Unschedulable") &&
	       streq_ptr(p->cond_message, msg);
}

/* Under s->mu. */
static void schedule_one(struct scheduler *s, struct qpod *qp, uint64_t now)
{
	struct snode *n = cache_find_node(&s->cache, &qp->pod, &s->diag);
	if (n) {
		cache_assume(&s->cache, qp->key, &qp->pod, n);
		squeue_binding(&s->queue, qp);
		push_job(s, bind_job(qp, n->name));
		s->n_bound++;
		log_v(4, "assumed pod %s on node %s", qp->key, n->name);
		return;
	}
	_cleanup_free_ char *msg =
	    diagnosis_message(&s->diag, cache_node_count(&s->cache), &qp->pod);
	squeue_unschedulable(&s->queue, qp, now);
	s->n_unschedulable++;
	log_v(3, "pod %s is unschedulable: %s", qp->key, msg);
	event_record_ref(s->events, "v1", "Pod", qp->pod.ns, qp->pod.name, qp->pod.uid, "Warning",
			 "FailedScheduling", "%s", msg);
	if (!condition_current(qp, msg)) {
		push_job(s, status_job(qp, msg));
		free(qp->reported);
		qp->reported = xstrdup(msg);
	}
}

static void wait_until(struct scheduler *s, uint64_t t)
{
	if (t == UINT64_MAX) {
		pthread_cond_wait(&s->wake, &s->mu);
		return;
	}
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000),
			       .tv_nsec = (long)(t % 1000000) * 1000 };
	pthread_cond_timedwait(&s->wake, &s->mu, &ts);
}

static void log_stats(struct scheduler *s, uint64_t *last, uint64_t *last_sum, uint64_t now)
{
	uint64_t sum = s->n_bound + s->n_unschedulable + s->n_bind_errors;
	if (now - *last < STATS_PERIOD_USEC || sum == *last_sum)
		return;
	log_v(1,
	      "scheduler: %llu pods assumed, %llu unschedulable attempts, %llu binding errors; "
	      "%zu nodes; queue: %zu active, %zu backing off, %zu unschedulable",
	      (unsigned long long)s->n_bound, (unsigned long long)s->n_unschedulable,
	      (unsigned long long)s->n_bind_errors, cache_node_count(&s->cache),
	      squeue_len(&s->queue, Q_ACTIVE), squeue_len(&s->queue, Q_BACKOFF),
	      squeue_len(&s->queue, Q_UNSCHEDULABLE));
	*last = now;
	*last_sum = sum;
}

static void *loop_main(void *arg)
{
	struct scheduler *s = arg;
	uint64_t last_stats = now_usec_monotonic(), last_sum = 0;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		uint64_t now = now_usec_monotonic();
		if (s->move_all) {
			s->move_all = false;
			squeue_move_all(&s->queue, now);
		}
		log_stats(s, &last_stats, &last_sum, now);
		struct qpod *qp = squeue_pop(&s->queue, now);
		if (!qp) {
			uint64_t t = squeue_next_time(&s->queue);
			if (log_enabled(1))
				t = MIN(t, now + STATS_PERIOD_USEC);
			wait_until(s, t);
			continue;
		}
		schedule_one(s, qp, now);
		/* Let the informers' handlers in between decisions. */
		pthread_mutex_unlock(&s->mu);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- informer handlers ---- */

static void kick(struct scheduler *s)
{
	pthread_cond_signal(&s->wake);
}

/* The pod is gone (deleted, terminal): under s->mu. */
static void forget_pod(struct scheduler *s, const char *key)
{
	if (cache_remove_pod(&s->cache, key))
		s->move_all = true;
	struct qpod *qp = squeue_get(&s->queue, key);
	if (qp)
		squeue_delete(&s->queue, qp);
}

static void pod_bound(struct scheduler *s, struct cobj *obj, const struct pod_info *pi)
{
	pthread_mutex_lock(&s->mu);
	struct spod *sp = cache_get_pod(&s->cache, obj->key);
	struct qpod *qp = squeue_get(&s->queue, obj->key);
	if (qp)
		squeue_delete(&s->queue, qp);
	if (sp && streq(sp->uid, obj->uid) && streq(sp->node->name, pi->node_name)) {
		/* Known: a status update, or the binding we assumed arriving. */
		sp->assumed = false;
		pthread_mutex_unlock(&s->mu);
		return;
	}
	pthread_mutex_unlock(&s->mu);

	/* New to the cache: the informer's record has host ports without
	 * protocol and address, so read them from the object. */
	_cleanup_free_ struct host_port *ports = NULL;
	size_t nports = 0;
	if (pi->nhost_ports > 0) {
		_cleanup_json_ json_t *j = cobj_parse(obj);
		ports = pod_host_ports(j, &nports);
	}
	pthread_mutex_lock(&s->mu);
	if (cache_add_bound_pod(&s->cache, obj->key, obj->uid, pi->node_name, pi->req_cpu_milli,
				pi->req_memory, pi->has_controller ? pi->controller.uid : NULL,
				ports, nports)) {
		s->move_all = true;
		kick(s);
	}
	pthread_mutex_unlock(&s->mu);
}

static void pod_pending(struct scheduler *s, struct cobj *obj)
{
	struct sched_pod p;
	json_t *ev = informer_event_json(obj);
	_cleanup_json_ json_t *j = ev ? json_incref(ev) : cobj_parse(obj);
	if (!j)
		return;
	sched_pod_parse(j, &p);

	pthread_mutex_lock(&s->mu);
	struct qpod *qp = squeue_get(&s->queue, obj->key);
	if (qp && !streq(qp->pod.uid, p.uid)) {
		/* A new pod of that name: whatever we had is stale. */
		forget_pod(s, obj->key);
		qp = NULL;
	}
	if (p.gated) {
		if (qp)
			squeue_delete(&s->queue, qp);
	} else if (!qp) {
		squeue_add(&s->queue, obj->key, &p);
		kick(s);
	} else {
		squeue_update(&s->queue, qp, &p, now_usec_monotonic());
		if (qp->state == Q_ACTIVE || qp->state == Q_BACKOFF)
			kick(s);
	}
	pthread_mutex_unlock(&s->mu);
	sched_pod_release(&p);
}

static void pod_changed(struct scheduler *s, struct cobj *obj)
{
	const struct pod_info *pi = obj->ext;
	if (!pi)
		return;
	if (!isempty(pi->node_name)) {
		if (!pi->terminal) {
			pod_bound(s, obj, pi);
			return;
		}
		/* Succeeded or Failed: it no longer takes resources. */
		pthread_mutex_lock(&s->mu);
		forget_pod(s, obj->key);
		if (s->move_all)
			kick(s);
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (!pi->deleting && !pi->terminal && streq(pi->scheduler_name, s->name)) {
		pod_pending(s, obj);
		return;
	}
	/* Not (or no longer) ours to schedule. An assumption stays until its
	 * binding's answer or the pod's deletion settles it. */
	pthread_mutex_lock(&s->mu);
	struct qpod *qp = squeue_get(&s->queue, obj->key);
	if (qp)
		squeue_delete(&s->queue, qp);
	pthread_mutex_unlock(&s->mu);
}

static void on_pod_add(struct cobj *obj, void *ud)
{
	pod_changed(ud, obj);
}

static void on_pod_update(struct cobj *old, struct cobj *obj, void *ud)
{
	struct scheduler *s = ud;
	if (old && !streq(old->uid, obj->uid)) {
		pthread_mutex_lock(&s->mu);
		forget_pod(s, old->key);
		pthread_mutex_unlock(&s->mu);
	}
	pod_changed(s, obj);
}

static void on_pod_delete(struct cobj *obj, void *ud)
{
	struct scheduler *s = ud;
	pthread_mutex_lock(&s->mu);
	forget_pod(s, obj->key);
	if (s->move_all)
		kick(s);
	pthread_mutex_unlock(&s->mu);
}

static void on_node_set(struct scheduler *s, struct cobj *obj)
{
	const struct node_info *ni = obj->ext;
	if (!ni)
		return;
	pthread_mutex_lock(&s->mu);
	if (cache_set_node(&s->cache, obj->name, ni, obj)) {
		s->move_all = true;
		kick(s);
	}
	pthread_mutex_unlock(&s->mu);
}

static void on_node_add(struct cobj *obj, void *ud)
{
	on_node_set(ud, obj);
}

static void on_node_update(struct cobj *old, struct cobj *obj, void *ud)
{
	on_node_set(ud, obj);
}

static void on_node_delete(struct cobj *obj, void *ud)
{
	struct scheduler *s = ud;
	pthread_mutex_lock(&s->mu);
	cache_remove_node(&s->cache, obj->name);
	pthread_mutex_unlock(&s->mu);
}

/* ---- life cycle ---- */

struct scheduler *scheduler_new(struct kclient *c, struct informer_factory *f,
				struct event_recorder *events, const struct scheduler_opts *o)
{
	struct scheduler *s = xnew(struct scheduler, 1);
	s->c = c;
	s->events = events;
	s->name = xstrdup(o && o->name ? o->name : "default-scheduler");
	s->nworkers = o && o->bind_workers > 0 ? o->bind_workers : 16;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->work, NULL);
	cache_init(&s->cache);
	squeue_init(&s->queue);

	struct informer_handlers ph = { .on_add = on_pod_add,
					.on_update = on_pod_update,
					.on_delete = on_pod_delete,
					.userdata = s };
	informer_add_handlers(informer_factory_get(f, "v1", "pods"), &ph);
	struct informer_handlers nh = { .on_add = on_node_add,
					.on_update = on_node_update,
					.on_delete = on_node_delete,
					.userdata = s };
	informer_add_handlers(informer_factory_get(f, "v1", "nodes"), &nh);
	return s;
}

int scheduler_run(struct scheduler *s)
{
	pthread_mutex_lock(&s->mu);
	if (s->running) {
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
	s->running = true;
	s->workers = xnew(pthread_t, (size_t)s->nworkers);
	if (pthread_create(&s->loop, NULL, loop_main, s) != 0)
		abort();
	for (int i = 0; i < s->nworkers; i++)
		if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0)
			abort();
	log_v(1, "scheduler %s: running with %d binding workers, %zu nodes, %zu pods pending",
	      s->name, s->nworkers, cache_node_count(&s->cache), s->queue.pods.count);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void scheduler_free(struct scheduler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->wake);
	pthread_cond_broadcast(&s->work);
	bool running = s->running;
	pthread_mutex_unlock(&s->mu);
	if (running) {
		pthread_join(s->loop, NULL);
		for (int i = 0; i < s->nworkers; i++)
			pthread_join(s->workers[i], NULL);
	}
	while (s->jobs) {
		struct job *j = s->jobs;
		s->jobs = j->next;
		job_free(j);
	}
	free(s->workers);
	squeue_release(&s->queue);
	cache_release(&s->cache);
	diagnosis_release(&s->diag);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->work);
	free(s->name);
	free(s);
}
