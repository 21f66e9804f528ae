/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Events the API server records itself: a "Created" event for each new
 * object of the kinds marked RES_CREATION_EVENT (what `kubectl describe`
 * shows before any controller has acted), written by a background thread
 * so requests never wait for them; and the expiry of events older than
 * --event-ttl, as Kubernetes does.
 */
#include <unistd.h>

#include "apiserver/apiserver.h"
#include "apiserver/cache.h"
#include "apiserver/ops.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/timeutil.h"

#define QUEUE_MAX	    10000
#define SWEEP_INTERVAL_USEC (60LL * 1000000)

struct recorder {
	struct apiserver *srv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	json_t *queue; /* array of Event objects */
	bool stop;
	char host[64];
};

void recorder_created(struct apiserver *srv, const struct resource *res, json_t *obj,
		      const char *user)
{
	struct recorder *rec = srv->recorder;
	if (!rec || !(res->flags & RES_CREATION_EVENT))
		return;
	const char *name = json_get_str(obj, "metadata.name");
	const char *ns = json_get_str(obj, "metadata.namespace");
	char ts[32], evname[300];
	int64_t now = (int64_t)now_usec_realtime();
	time_format_rfc3339(now, ts);
	snprintf(evname, sizeof(evname), "%s.%llx", name ? name : "object",
		 (unsigned long long)now * 1000ULL);
	_cleanup_free_ char *msg =
	    xasprintf("Created %s %s%s%s by %s", res->singular, ns ? ns : "", ns ? "/" : "",
		      name ? name : "", user ? user : "unknown");
	json_t *ev = json_pack(
	    "{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:{s:s, s:s}, "
	    "s:s, s:s, s:i, s:s, s:s, s:s}",
	    "apiVersion", "v1", "kind", "Event", "metadata", "name", evname, "namespace",
	    ns ? ns : "default", "involvedObject", "apiVersion", res->api_version, "kind",
	    res->kind, "name", name ? name : "", "namespace", ns ? ns : "", "uid",
	    json_get_str(obj, "metadata.uid") ? json_get_str(obj, "metadata.uid") : "",
	    "resourceVersion",
	    json_get_str(obj, "metadata.resourceVersion")
		? json_get_str(obj, "metadata.resourceVersion")
		: "",
	    "reason", "Created", "message", msg, "source", "component", "c8s-apiserver", "host",
	    rec->host, "firstTimestamp", ts, "lastTimestamp", ts, "count", 1, "type", "Normal",
	    "reportingComponent", "c8s-apiserver", "reportingInstance", rec->host);
	if (!ev)
		return;
	if (!ns)
		json_object_del(json_object_get(ev, "involvedObject"), "namespace");
	pthread_mutex_lock(&rec->mu);
	if (json_array_size(rec->queue) < QUEUE_MAX) {
		json_array_append_new(rec->queue, ev);
		pthread_cond_signal(&rec->cond);
	} else {
		json_decref(ev);
	}
	pthread_mutex_unlock(&rec->mu);
}

/* Events written together: every create is submitted before the first
 * answer is awaited, so they share the store's group commits instead of
 * taking one commit (and fsync) each. */
#define IN_FLIGHT 256

struct ev_write {
	struct api_op op;
	char *ns;
	bool ready; /* the store answered: run the op again */
	struct ev_batch *batch;
};

struct ev_batch {
	pthread_mutex_t mu;
	pthread_cond_t cond;
};

static void ev_write_done(struct api_op *op)
{
	struct ev_write *w = op->userdata;
	pthread_mutex_lock(&w->batch->mu);
	w->ready = true;
	pthread_cond_broadcast(&w->batch->cond);
	pthread_mutex_unlock(&w->batch->mu);
}

static void ev_write_finish(struct ev_write *w, json_t *ev)
{
	if (w->op.err.code)
		log_v(3, "recording event %s: %s", json_get_str(ev, "metadata.name"),
		      w->op.err.message);
	api_op_release(&w->op);
	free(w->ns);
}

static void write_events(struct apiserver *srv, json_t *events, size_t from, size_t n)
{
	struct ev_batch b = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };
	struct ev_write *ws = xnew(struct ev_write, n);
	const struct resource *res = resource_find("", "v1", "events");
	for (size_t i = 0; i < n; i++) {
		struct ev_write *w = &ws[i];
		json_t *ev = json_array_get(events, from + i);
		api_op_init(&w->op, srv, res, VERB_CREATE);
		w->ns = xstrdup(str_or_empty_json(ev, "metadata.namespace"));
		w->batch = &b;
		w->op.ns = w->ns;
		w->op.body = json_incref(ev);
		w->op.user = "system:apiserver";
		w->op.on_done = ev_write_done;
		w->op.userdata = w;
	}
	/* Submit them all, then move each along as the store answers. */
	size_t left = n;
	bool *done = xnew(bool, n);
	for (size_t i = 0; i < n; i++) {
		if (api_op_run(&ws[i].op) == OP_DONE) {
			ev_write_finish(&ws[i], json_array_get(events, from + i));
			done[i] = true;
			left--;
		}
	}
	while (left) {
		pthread_mutex_lock(&b.mu);
		bool any = false;
		while (!any) {
			for (size_t i = 0; i < n && !any; i++)
				any = !done[i] && ws[i].ready;
			if (!any)
				pthread_cond_wait(&b.cond, &b.mu);
		}
		pthread_mutex_unlock(&b.mu);
		for (size_t i = 0; i < n; i++) {
			pthread_mutex_lock(&b.mu);
			bool ready = !done[i] && ws[i].ready;
			ws[i].ready = false;
			pthread_mutex_unlock(&b.mu);
			if (!ready)
				continue;
			if (api_op_run(&ws[i].op) == OP_DONE) {
				ev_write_finish(&ws[i], json_array_get(events, from + i));
				done[i] = true;
				left--;
			}
		}
	}
	free(done);
	free(ws);
}

static void sweep(struct apiserver *srv)
{
	const struct resource *res = resource_find("", "v1", "events");
	struct obj_filter all = { 0 };
	struct obj_list l;
	int64_t cutoff = (int64_t)now_usec_realtime() - srv->opts.event_ttl_usec;
	cache_list(srv->cache, res, &all, NULL, 0, &l);
	size_t expired = 0;
	for (size_t i = 0; i < l.n && !srv->stopping; i++) {
		_cleanup_json_ json_t *ev = obj_parse(l.items[i]);
		const char *last = json_get_str(ev, "lastTimestamp");
		if (isempty(last))
			last = json_get_str(ev, "eventTime");
		if (isempty(last))
			last = json_get_str(ev, "metadata.creationTimestamp");
		int64_t t;
		if (!last || time_parse_rfc3339(last, &t) < 0 || t >= cutoff)
			continue;
		struct api_op op;
		api_op_init(&op, srv, res, VERB_DELETE);
		_cleanup_free_ char *ns = xstrndup(obj_key(l.items[i]), l.items[i]->ns_len);
		op.ns = ns;
		op.name = obj_name(l.items[i]);
		op.user = "system:apiserver";
		if (api_op_run_sync(&op) == 0)
			expired++;
		api_op_release(&op);
	}
	obj_list_release(&l);
	if (expired)
		log_v(2, "expired %zu events older than the event TTL", expired);
}

static void *recorder_main(void *arg)
{
	struct recorder *rec = arg;
	uint64_t next_sweep = now_usec_monotonic() + SWEEP_INTERVAL_USEC;
	pthread_mutex_lock(&rec->mu);
	while (!rec->stop) {
		if (json_array_size(rec->queue) == 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 5;
			pthread_cond_timedwait(&rec->cond, &rec->mu, &ts);
		}
		json_t *batch = rec->queue;
		rec->queue = json_array();
		pthread_mutex_unlock(&rec->mu);
		for (size_t i = 0; i < json_array_size(batch); i += IN_FLIGHT)
			write_events(rec->srv, batch, i,
				     MIN((size_t)IN_FLIGHT, json_array_size(batch) - i));
		json_decref(batch);
		if (now_usec_monotonic() >= next_sweep) {
			sweep(rec->srv);
			next_sweep = now_usec_monotonic() + SWEEP_INTERVAL_USEC;
		}
		pthread_mutex_lock(&rec->mu);
	}
	pthread_mutex_unlock(&rec->mu);
	return NULL;
}

int recorder_start(struct apiserver *srv)
{
	struct recorder *rec = xnew(struct recorder, 1);
	rec->srv = srv;
	pthread_mutex_init(&rec->mu, NULL);
	pthread_cond_init(&rec->cond, NULL);
	rec->queue = json_array();
	if (gethostname(rec->host, sizeof(rec->host) - 1) < 0)
		strcpy(rec->host, "localhost");
	srv->recorder = rec;
	int r = pthread_create(&rec->thread, NULL, recorder_main, rec);
	if (r) {
		srv->recorder = NULL;
		json_decref(rec->queue);
		free(rec);
		return -r;
	}
	return 0;
}

void recorder_stop(struct apiserver *srv)
{
	struct recorder *rec = srv->recorder;
	if (!rec)
		return;
	pthread_mutex_lock(&rec->mu);
	rec->stop = true;
	pthread_cond_signal(&rec->cond);
	pthread_mutex_unlock(&rec->mu);
	pthread_join(rec->thread, NULL);
	srv->recorder = NULL;
	json_decref(rec->queue);
	pthread_mutex_destroy(&rec->mu);
	pthread_cond_destroy(&rec->cond);
	free(rec);
}
