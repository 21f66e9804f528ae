/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdarg.h>

#include "client/events.h"
#include "client/kclient.h"
#include "lib/avl.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/timeutil.h"

#define DEDUP_WINDOW_USEC (10LL * 60 * 1000000)
#define QUEUE_MAX	  20000

/* An event already written, by what identifies repeats of it. */
struct seen {
	struct avl_node avl;
	char *id;
	char *ns, *name;
	int64_t count;
	uint64_t last;
};

struct pending {
	json_t *event;
	char *id;
	struct pending *next;
};

struct event_recorder {
	struct kclient *c;
	char *component, *host;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct pending *head, *tail;
	size_t len;
	bool stop;
	pthread_t thread;
	struct avl_tree seen;
};

static int seen_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct seen, avl)->id);
}

static void seen_free(struct seen *s)
{
	free(s->id);
	free(s->ns);
	free(s->name);
	free(s);
}

static void prune(struct event_recorder *r, uint64_t now)
{
	struct avl_node *n = avl_first(&r->seen);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct seen *s = avl_entry(n, struct seen, avl);
		if (now - s->last > DEDUP_WINDOW_USEC) {
			avl_remove(&r->seen, n);
			seen_free(s);
		}
		n = next;
	}
}

static void write_one(struct event_recorder *r, struct pending *p)
{
	uint64_t now = now_usec_monotonic();
	struct avl_node *n = avl_find(&r->seen, p->id);
	char ts[32];
	time_format_rfc3339((int64_t)now_usec_realtime(), ts);
	if (n) {
		struct seen *s = avl_entry(n, struct seen, avl);
		s->count++;
		s->last = now;
		_cleanup_free_ char *path = kpath("v1", "events", s->ns, s->name);
		_cleanup_json_ json_t *patch =
		    json_pack("{s:I, s:s}", "count", (json_int_t)s->count, "lastTimestamp", ts);
		long code;
		json_t *res =
		    kclient_patch(r->c, path, "application/merge-patch+json", patch, &code);
		json_decref(res);
		if (code != 404 && code != 0)
			return;
		/* Expired or deleted: write a new one. */
		avl_remove(&r->seen, n);
		seen_free(s);
	}
	const char *ns = json_get_str(p->event, "metadata.namespace");
	_cleanup_free_ char *path = kpath("v1", "events", ns, NULL);
	size_t len;
	_cleanup_free_ char *body = json_dump_compact(p->event, &len);
	struct kresp resp;
	long code = kclient_do(r->c, "POST", path, body, len, NULL, &resp) == 0 ? resp.code : 0;
	kresp_release(&resp);
	if (code < 200 || code >= 300) {
		log_v(2, "recording event %s: HTTP %ld", json_get_str(p->event, "reason"), code);
		return;
	}
	/* The event has its name (no generateName): the answer, the same
	 * object, need not be parsed. */
	struct seen *s = xnew(struct seen, 1);
	s->id = xstrdup(p->id);
	s->ns = xstrdup(ns ? ns : "default");
	s->name = xstrdup(json_get_str(p->event, "metadata.name"));
	s->count = 1;
	s->last = now;
	avl_insert(&r->seen, s->id, &s->avl);
}

static void *recorder_main(void *arg)
{
	struct event_recorder *r = arg;
	uint64_t last_prune = now_usec_monotonic();
	pthread_mutex_lock(&r->mu);
	while (!r->stop || r->head) {
		while (!r->head && !r->stop)
			pthread_cond_wait(&r->cond, &r->mu);
		struct pending *list = r->head;
		r->head = r->tail = NULL;
		r->len = 0;
		pthread_mutex_unlock(&r->mu);
		while (list) {
			struct pending *next = list->next;
			write_one(r, list);
			json_decref(list->event);
			free(list->id);
			free(list);
			list = next;
		}
		uint64_t now = now_usec_monotonic();
		if (now - last_prune > 60 * 1000000ULL) {
			prune(r, now);
			last_prune = now;
		}
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct event_recorder *event_recorder_new(struct kclient *c, const char *component,
					  const char *host)
{
	struct event_recorder *r = xnew(struct event_recorder, 1);
	r->c = c;
	r->component = xstrdup(component);
	r->host = host ? xstrdup(host) : NULL;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cond, NULL);
	avl_init(&r->seen, seen_cmp);
	if (pthread_create(&r->thread, NULL, recorder_main, r) != 0)
		abort();
	return r;
}

void event_recorder_free(struct event_recorder *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	struct avl_node *n = avl_first(&r->seen);
	while (n) {
		struct avl_node *next = avl_next(n);
		avl_remove(&r->seen, n);
		seen_free(avl_entry(n, struct seen, avl));
		n = next;
	}
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cond);
	free(r->component);
	free(r->host);
	free(r);
}

static void vrecord(struct event_recorder *r, const char *api_version, const char *kind,
		    const char *ns, const char *name, const char *uid, const char *type,
		    const char *reason, const char *fmt, va_list ap)
{
	char msg[1024], ts[32], evname[320];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	int64_t now = (int64_t)now_usec_realtime();
	time_format_rfc3339(now, ts);
	snprintf(evname, sizeof(evname), "%s.%llx", name, (unsigned long long)now * 1000ULL);
	const char *evns = ns && *ns ? ns : "default";
	json_t *ev =
	    json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:s, s:s, s:{s:s}, "
		      "s:s, s:s, s:i, s:s, s:s}",
		      "apiVersion", "v1", "kind", "Event", "metadata", "name", evname, "namespace",
		      evns, "involvedObject", "apiVersion", api_version, "kind", kind, "name", name,
		      "uid", uid ? uid : "", "reason", reason, "message", msg, "source",
		      "component", r->component, "firstTimestamp", ts, "lastTimestamp", ts, "count",
		      1, "type", type, "reportingComponent", r->component);
	if (!ev)
		return;
	if (ns && *ns)
		json_set_str(json_object_get(ev, "involvedObject"), "namespace", ns);
	if (r->host) {
		json_set_str(json_object_get(ev, "source"), "host", r->host);
		json_set_str(ev, "reportingInstance", r->host);
	}
	struct pending *p = xnew(struct pending, 1);
	p->event = ev;
	p->id = xasprintf("%s/%s/%s/%s/%s/%s", kind, evns, name, type, reason, msg);
	pthread_mutex_lock(&r->mu);
	if (r->len >= QUEUE_MAX || r->stop) {
		pthread_mutex_unlock(&r->mu);
		json_decref(ev);
		free(p->id);
		free(p);
		return;
	}
	if (r->tail)
		r->tail->next = p;
	else
		r->head = p;
	r->tail = p;
	r->len++;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mu);
}

void event_record_ref(struct event_recorder *r, const char *api_version, const char *kind,
		      const char *ns, const char *name, const char *uid, const char *type,
		      const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrecord(r, api_version, kind, ns, name, uid, type, reason, fmt, ap);
	va_end(ap);
}

void event_record(struct event_recorder *r, json_t *obj, const char *type, const char *reason,
		  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vrecord(r, str_or_empty_json(obj, "apiVersion"), str_or_empty_json(obj, "kind"),
		str_or_empty_json(obj, "metadata.namespace"),
		str_or_empty_json(obj, "metadata.name"), str_or_empty_json(obj, "metadata.uid"),
		type, reason, fmt, ap);
	va_end(ap);
}
