/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watch streams. A watch is a chunked HTTP response whose reader callback
 * drains the watcher's queue (cache.c); when the queue is empty the
 * connection is suspended, and the cache's wake callback resumes it. One
 * hub thread ends watches at their timeout and sends bookmarks.
 */
#include <pthread.h>

#include "apiserver/apiserver.h"
#include "apiserver/cache.h"
#include "apiserver/http.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/selector.h"

#define BOOKMARK_INTERVAL_USEC (60ULL * 1000000)
#define TAKE_BATCH 64

struct watch_stream {
	struct apiserver *srv;
	struct MHD_Connection *conn;
	const struct resource *res; /* as addressed */
	struct watcher *w;
	struct label_selector ls;
	struct field_selector fs;
	char *ns;
	char *name;

	pthread_mutex_t mu;
	bool suspended;
	bool pending;
	bool timed_out;
	bool bookmark_due;

	bool table;
	bool table_columns_sent;
	char *include;
	bool bookmarks;
	bool initial_end_bookmark;
	bool error_only;

	struct strbuf out;
	size_t out_pos;
	bool finished;

	uint64_t deadline;
	uint64_t next_bookmark;
	struct watch_stream *hub_prev, *hub_next;
};

struct watch_hub {
	struct apiserver *srv;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop;
	struct watch_stream *streams;
};

static void wake(struct watcher *w, void *userdata)
{
	struct watch_stream *ws = userdata;
	pthread_mutex_lock(&ws->mu);
	ws->pending = true;
	bool resume = ws->suspended;
	ws->suspended = false;
	pthread_mutex_unlock(&ws->mu);
	if (resume)
		MHD_resume_connection(ws->conn);
}

static void add_bookmark(struct watch_stream *ws, int64_t rev, bool initial_end)
{
	strbuf_addf(&ws->out,
		    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%lld\"",
		    ws->res->kind, ws->res->api_version, (long long)rev);
	if (initial_end)
		strbuf_addstr(&ws->out, ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}");
	strbuf_addstr(&ws->out, "}}}\n");
}

static void add_item(struct watch_stream *ws, const struct watch_item *it)
{
	if (it->type == WATCH_BOOKMARK) {
		add_bookmark(ws, it->rev, false);
		return;
	}
	strbuf_addf(&ws->out, "{\"type\":\"%s\",\"object\":", watch_type_name(it->type));
	if (ws->table) {
		struct obj *o = it->obj;
		_cleanup_json_ json_t *t = table_build(ws->res, &o, 1, ws->include,
						       !ws->table_columns_sent,
						       (int64_t)now_usec_realtime());
		ws->table_columns_sent = true;
		char rv[24];
		snprintf(rv, sizeof(rv), "%lld", (long long)it->rev);
		json_set_str(json_object_ensure(t, "metadata"), "resourceVersion", rv);
		json_dump_to_strbuf(t, &ws->out);
	} else if (resource_storage(ws->res) != ws->res) {
		_cleanup_json_ json_t *c = convert_from_storage(ws->res, it->obj);
		json_dump_to_strbuf(c, &ws->out);
	} else {
		strbuf_add(&ws->out, obj_json(it->obj), it->obj->len);
	}
	strbuf_addstr(&ws->out, "}\n");
}

static void add_gone(struct watch_stream *ws, const char *msg)
{
	struct api_error e = { .code = 410, .reason = "Expired", .message = (char *)msg };
	_cleanup_json_ json_t *st = api_error_status(&e);
	strbuf_addstr(&ws->out, "{\"type\":\"ERROR\",\"object\":");
	json_dump_to_strbuf(st, &ws->out);
	strbuf_addstr(&ws->out, "}\n");
}

/* Fill ws->out with the next events; false when there is nothing now. */
static bool refill(struct watch_stream *ws)
{
	struct watch_item items[TAKE_BATCH];
	bool ended = false;

	strbuf_reset(&ws->out);
	ws->out_pos = 0;
	if (ws->error_only) {
		ws->finished = true;
		return false;
	}
	size_t n = watcher_take(ws->w, items, TAKE_BATCH, &ended);
	for (size_t i = 0; i < n; i++) {
		add_item(ws, &items[i]);
		obj_unref(items[i].obj);
	}
	if (n == 0 && ws->initial_end_bookmark) {
		ws->initial_end_bookmark = false;
		add_bookmark(ws, cache_rev(ws->srv->cache), true);
	}
	pthread_mutex_lock(&ws->mu);
	bool bm = ws->bookmark_due, to = ws->timed_out;
	ws->bookmark_due = false;
	pthread_mutex_unlock(&ws->mu);
	if (bm && ws->out.len == 0)
		add_bookmark(ws, cache_rev(ws->srv->cache), false);
	if (ws->out.len)
		return true;
	if (ended || to)
		ws->finished = true;
	return false;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct watch_stream *ws = cls;

	for (;;) {
		if (ws->out_pos < ws->out.len) {
			size_t n = MIN(max, ws->out.len - ws->out_pos);
			memcpy(buf, ws->out.buf + ws->out_pos, n);
			ws->out_pos += n;
			return (ssize_t)n;
		}
		if (ws->finished)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (refill(ws))
			continue;
		if (ws->finished)
			return MHD_CONTENT_READER_END_OF_STREAM;
		pthread_mutex_lock(&ws->mu);
		if (ws->pending || ws->timed_out || ws->bookmark_due) {
			ws->pending = false;
			pthread_mutex_unlock(&ws->mu);
			continue;
		}
		ws->suspended = true;
		MHD_suspend_connection(ws->conn);
		pthread_mutex_unlock(&ws->mu);
		return 0;
	}
}

static void hub_add(struct watch_hub *hub, struct watch_stream *ws)
{
	pthread_mutex_lock(&hub->mu);
	ws->hub_next = hub->streams;
	if (hub->streams)
		hub->streams->hub_prev = ws;
	hub->streams = ws;
	pthread_mutex_unlock(&hub->mu);
}

static void hub_remove(struct watch_hub *hub, struct watch_stream *ws)
{
	pthread_mutex_lock(&hub->mu);
	if (ws->hub_prev)
		ws->hub_prev->hub_next = ws->hub_next;
	else if (hub->streams == ws)
		hub->streams = ws->hub_next;
	if (ws->hub_next)
		ws->hub_next->hub_prev = ws->hub_prev;
	pthread_mutex_unlock(&hub->mu);
}

static void stream_free(void *cls)
{
	struct watch_stream *ws = cls;
	if (!ws)
		return;
	if (!ws->error_only)
		hub_remove(ws->srv->hub, ws);
	cache_unwatch(ws->srv->cache, ws->w);
	label_selector_release(&ws->ls);
	field_selector_release(&ws->fs);
	strbuf_release(&ws->out);
	free(ws->ns);
	free(ws->name);
	free(ws->include);
	pthread_mutex_destroy(&ws->mu);
	free(ws);
}

void watch_serve(struct req *r, const struct obj_filter *unused)
{
	struct watch_stream *ws = xnew(struct watch_stream, 1);
	_cleanup_free_ char *msg = NULL;
	const char *lsel = req_query(r, "labelSelector");
	const char *fsel = req_query(r, "fieldSelector");
	const struct resource *res = r->route.res;

	ws->srv = r->srv;
	ws->conn = r->conn;
	ws->res = res;
	pthread_mutex_init(&ws->mu, NULL);
	if (label_selector_parse(lsel, &ws->ls, &msg) < 0) {
		req_respond_status(r, 400, "BadRequest", "unable to parse requirement: %s",
				   msg ? msg : lsel);
		stream_free(ws);
		return;
	}
	if (field_selector_parse(fsel, &ws->fs, &msg) < 0) {
		req_respond_status(r, 400, "BadRequest", "%s", msg ? msg : "invalid field selector");
		ws->error_only = true;
		stream_free(ws);
		return;
	}
	for (size_t i = 0; i < ws->fs.n; i++) {
		const char *f = ws->fs.reqs[i].field;
		if (!streq(f, "metadata.name") && !streq(f, "metadata.namespace") &&
		    resource_field_index(resource_storage(res), f) < 0) {
			req_respond_status(r, 400, "BadRequest", "field label not supported: %s", f);
			ws->error_only = true;
			stream_free(ws);
			return;
		}
	}
	ws->ns = r->route.ns ? xstrdup(r->route.ns) : NULL;
	ws->name = r->route.name ? xstrdup(r->route.name) : NULL;
	ws->table = r->accept == ACCEPT_TABLE;
	const char *inc = req_query(r, "includeObject");
	ws->include = inc ? xstrdup(inc) : NULL;
	const char *abm = req_query(r, "allowWatchBookmarks");
	ws->bookmarks = abm && (streq(abm, "true") || streq(abm, "True") || streq(abm, "1"));

	const char *rvq = req_query(r, "resourceVersion");
	const char *sie = req_query(r, "sendInitialEvents");
	int64_t rev = isempty(rvq) ? 0 : strtoll(rvq, NULL, 10);
	bool send_initial = rev == 0 || (sie && streq(sie, "true"));
	ws->initial_end_bookmark = sie && streq(sie, "true") && ws->bookmarks;

	struct watcher_opts wo = {
		.res = res,
		.filter = { .ns = ws->ns,
			    .name = ws->name,
			    .labels = ws->ls.n || ws->ls.match_nothing ? &ws->ls : NULL,
			    .fields = ws->fs.n ? &ws->fs : NULL },
		.from_rev = rev,
		.send_initial = send_initial,
		.wake = wake,
		.userdata = ws,
	};
	int rr = cache_watch(r->srv->cache, &wo, &ws->w);
	if (rr == -ERANGE) {
		ws->error_only = true;
		_cleanup_free_ char *m =
			xasprintf("too old resource version: %lld (%lld)", (long long)rev,
				  (long long)cache_rev(r->srv->cache));
		add_gone(ws, m);
	} else if (rr < 0) {
		req_respond_status(r, 500, "InternalError", "cannot watch: %s", strerror(-rr));
		ws->error_only = true;
		stream_free(ws);
		return;
	}

	uint64_t now = now_usec_monotonic();
	const char *ts = req_query(r, "timeoutSeconds");
	int64_t timeout = ts && *ts ? strtoll(ts, NULL, 10) : 0;
	if (timeout <= 0)
		timeout = 1800 + (int64_t)(now % 1800); /* 30 to 60 minutes, like Kubernetes */
	ws->deadline = now + (uint64_t)timeout * 1000000ULL;
	ws->next_bookmark = now + BOOKMARK_INTERVAL_USEC;
	if (!ws->error_only)
		hub_add(r->srv->hub, ws);

	struct MHD_Response *resp =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, reader, ws, stream_free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
	req_respond(r, 200, resp);
}

/* ---- hub ---- */

static void *hub_main(void *arg)
{
	struct watch_hub *hub = arg;
	pthread_mutex_lock(&hub->mu);
	while (!hub->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&hub->cond, &hub->mu, &ts);
		uint64_t now = now_usec_monotonic();
		for (struct watch_stream *ws = hub->streams; ws; ws = ws->hub_next) {
			bool poke = false;
			pthread_mutex_lock(&ws->mu);
			if (now >= ws->deadline && !ws->timed_out) {
				ws->timed_out = true;
				poke = true;
			}
			if (ws->bookmarks && now >= ws->next_bookmark) {
				ws->next_bookmark = now + BOOKMARK_INTERVAL_USEC;
				ws->bookmark_due = true;
				poke = true;
			}
			bool resume = poke && ws->suspended;
			if (resume)
				ws->suspended = false;
			pthread_mutex_unlock(&ws->mu);
			if (resume)
				MHD_resume_connection(ws->conn);
		}
	}
	pthread_mutex_unlock(&hub->mu);
	return NULL;
}

void watch_hub_end_all(struct apiserver *srv)
{
	struct watch_hub *hub = srv->hub;
	if (!hub)
		return;
	pthread_mutex_lock(&hub->mu);
	for (struct watch_stream *ws = hub->streams; ws; ws = ws->hub_next) {
		pthread_mutex_lock(&ws->mu);
		ws->timed_out = true;
		bool resume = ws->suspended;
		ws->suspended = false;
		pthread_mutex_unlock(&ws->mu);
		if (resume)
			MHD_resume_connection(ws->conn);
	}
	pthread_mutex_unlock(&hub->mu);
	/* Give the streams a moment to send their last chunk. */
	usleep(100 * 1000);
}

int watch_hub_start(struct apiserver *srv)
{
	struct watch_hub *hub = xnew(struct watch_hub, 1);
	hub->srv = srv;
	pthread_mutex_init(&hub->mu, NULL);
	pthread_cond_init(&hub->cond, NULL);
	srv->hub = hub;
	int r = pthread_create(&hub->thread, NULL, hub_main, hub);
	if (r != 0) {
		srv->hub = NULL;
		free(hub);
		return -r;
	}
	return 0;
}

void watch_hub_stop(struct apiserver *srv)
{
	struct watch_hub *hub = srv->hub;
	if (!hub)
		return;
	pthread_mutex_lock(&hub->mu);
	hub->stop = true;
	pthread_cond_signal(&hub->cond);
	pthread_mutex_unlock(&hub->mu);
	pthread_join(hub->thread, NULL);
	pthread_mutex_destroy(&hub->mu);
	pthread_cond_destroy(&hub->cond);
	free(hub);
	srv->hub = NULL;
}
