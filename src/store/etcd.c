/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The etcd v3 backend: "etcd://host:port[,host:port...][/prefix]" (or http://).
 * Talks to etcd's JSON gateway under /v3/ with libcurl. etcd's revision is the
 * store revision. See README.md ("etcd backend").
 */
#include <assert.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/strbuf.h"
#include "store/store.h"

#define N_WORKERS 4
#define RETRY_MS  15000 /* how long a request keeps trying the endpoints */

struct etcd_store;

struct store_watch {
	char *prefix;
	size_t prefix_len;
	int64_t from_rev;
	store_watch_fn fn;
	void *userdata;
	bool cancelled;
	struct store_watch *prev, *next;
};

/* One event kept in the in-memory cache (keys without the etcd prefix). */
struct cached_event {
	struct store_event ev;
	char *key;
	void *value;
};

/* A write in flight: lets the watch thread attach origin to its event. */
struct inflight {
	struct store_op *op;
	char *ekey;  /* key in etcd */
	int64_t rev; /* 0 until etcd answered */
	bool answered;
	struct inflight *next;
};

struct etcd_store {
	struct store base;
	char **endpoints; /* "http://host:port" */
	size_t n_endpoints;
	atomic_size_t cur; /* endpoint that answered last */
	char *prefix;	   /* etcd key prefix, e.g. "/c8s" */

	pthread_mutex_t lock; /* queue, inflight, stopping */
	pthread_cond_t cond;
	struct store_op *head, **tail;
	struct inflight *inflight;
	bool stopping;
	pthread_t workers[N_WORKERS];
	unsigned n_workers;

	pthread_t watcher;
	bool watcher_started;

	/* Watchers and cache; the watch thread holds dispatch_lock while
	 * delivering. delivered_cond is signalled with lock held. */
	pthread_mutex_t dispatch_lock;
	pthread_cond_t delivered_cond; /* uses lock */
	struct store_watch *watchers;
	unsigned n_cancelled;
	struct cached_event *cache;
	size_t cache_n, cache_alloc;
	int64_t cache_start; /* cache holds every event with rev > cache_start */

	/* Idle curl handles for reads (each keeps its keep-alive connections). */
	pthread_mutex_t pool_lock;
	CURL *pool[8];
	unsigned n_pool;

	_Atomic int64_t delivered;
	_Atomic int64_t compacted;
	pthread_mutex_t compact_serial;
};

static __thread struct etcd_store *tls_dispatching;
static __thread bool tls_worker;

static struct etcd_store *to_etcd(struct store *s)
{
	assert(s && s->backend == &store_backend_etcd);
	return (struct etcd_store *)s;
}

/* ---- helpers ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static json_t *b64(const void *p, size_t n)
{
	_cleanup_free_ char *e = base64_encode(p, n);
	return json_string(e);
}

/* The smallest key greater than every key starting with p (etcd range_end);
 * "\0" (all keys) if there is none. */
static char *prefix_end(const char *p, size_t *ret_len)
{
	size_t n = strlen(p);
	char *e = xstrndup(p, n);

	while (n > 0) {
		if ((unsigned char)e[n - 1] < 0xff) {
			e[n - 1]++;
			*ret_len = n;
			return e;
		}
		n--;
	}
	e[0] = 0;
	*ret_len = 1;
	return e;
}

static json_t *b64_end(const char *p)
{
	size_t n;
	_cleanup_free_ char *e = prefix_end(p, &n);
	return b64(e, n);
}

static int64_t jint(json_t *o, const char *field)
{
	json_t *v = json_object_get(o, field);

	if (json_is_string(v))
		return strtoll(json_string_value(v), NULL, 10);
	if (json_is_integer(v))
		return json_integer_value(v);
	return 0;
}

/* Decode a base64 field; an absent field is empty. NUL-terminated. */
static int jbytes(json_t *o, const char *field, void **ret, size_t *ret_len)
{
	const char *s = json_string_value(json_object_get(o, field));
	void *p = NULL;
	size_t n = 0;
	char *q;

	if (s && base64_decode(s, strlen(s), &p, &n) < 0)
		return -EIO;
	q = xmalloc(n + 1);
	if (n)
		memcpy(q, p, n);
	q[n] = 0;
	free(p);
	*ret = q;
	*ret_len = n;
	return 0;
}

static char *ekey(struct etcd_store *s, const char *key)
{
	return xasprintf("%s%s", s->prefix, key);
}

/* ---- HTTP ---- */

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	strbuf_add(ud, ptr, size * nmemb);
	return size * nmemb;
}

/* POST req to /v3/<path>, trying every endpoint until one answers (for up to
 * RETRY_MS). 0 with *ret set on HTTP 200; -ERANGE for a compacted or future
 * revision; -EIO otherwise. */
static int etcd_call(struct etcd_store *s, CURL *h, const char *path, json_t *req, json_t **ret)
{
	_cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
	int64_t deadline = now_ms() + RETRY_MS;
	size_t start = atomic_load(&s->cur);
	int attempt = 0;

	for (;;) {
		size_t i = (start + (size_t)attempt) % s->n_endpoints;
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		_cleanup_free_ char *url = xasprintf("%s/v3/%s", s->endpoints[i], path);
		long code = 0;
		CURLcode cr;
		json_t *resp;

		curl_easy_reset(h);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_cb);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &sb);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		cr = curl_easy_perform(h);
		if (cr == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		resp = cr == CURLE_OK ? json_loadb(sb.buf ? sb.buf : "", sb.len, 0, NULL) : NULL;
		if (code == 200 && resp) {
			atomic_store(&s->cur, i);
			*ret = resp;
			return 0;
		}
		if (resp) {
			const char *msg = json_string_value(json_object_get(resp, "error"));
			if (!msg)
				msg = json_string_value(json_object_get(resp, "message"));
			if (msg && (strstr(msg, "compacted") || strstr(msg, "future revision"))) {
				json_decref(resp);
				return -ERANGE;
			}
			log_v(2, "etcd %s on %s: HTTP %ld %s", path, s->endpoints[i], code,
			      msg ? msg : "");
			json_decref(resp);
		} else
			log_v(2, "etcd %s on %s: %s (HTTP %ld)", path, s->endpoints[i],
			      curl_easy_strerror(cr), code);
		attempt++;
		if (now_ms() > deadline) {
			log_error("etcd %s failed on every endpoint", path);
			return -EIO;
		}
		if (attempt % (int)s->n_endpoints == 0)
			sleep_ms(200);
	}
}

static int kv_from_json(struct etcd_store *s, json_t *kv, struct store_kv *ret)
{
	void *key;
	size_t klen, plen = strlen(s->prefix);
	int r;

	r = jbytes(kv, "key", &key, &klen);
	if (r < 0)
		return r;
	if (klen < plen) {
		free(key);
		return -EIO;
	}
	ret->key = xstrdup((char *)key + plen);
	free(key);
	r = jbytes(kv, "value", &ret->value, &ret->value_len);
	if (r < 0) {
		store_kv_release(ret);
		return r;
	}
	ret->create_rev = jint(kv, "create_revision");
	ret->mod_rev = jint(kv, "mod_revision");
	return 0;
}

static CURL *easy_new(void)
{
	CURL *h = curl_easy_init();
	if (!h)
		abort();
	return h;
}

/* ---- reads ---- */

static CURL *handle_get(struct etcd_store *s)
{
	CURL *h = NULL;

	pthread_mutex_lock(&s->pool_lock);
	if (s->n_pool > 0)
		h = s->pool[--s->n_pool];
	pthread_mutex_unlock(&s->pool_lock);
	return h ? h : easy_new();
}

static void handle_put(struct etcd_store *s, CURL *h)
{
	pthread_mutex_lock(&s->pool_lock);
	if (s->n_pool < ARRAY_SIZE(s->pool)) {
		s->pool[s->n_pool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	if (h)
		curl_easy_cleanup(h);
}

static int etcd_get(struct store *st, const char *key, struct store_kv *ret)
{
	struct etcd_store *s = to_etcd(st);
	_cleanup_free_ char *k = ekey(s, key);
	json_t *req = json_pack("{s:o}", "key", b64(k, strlen(k))), *resp = NULL, *kvs;
	CURL *h = handle_get(s);
	int r;

	r = etcd_call(s, h, "kv/range", req, &resp);
	handle_put(s, h);
	json_decref(req);
	if (r < 0)
		return r;
	kvs = json_object_get(resp, "kvs");
	if (json_array_size(kvs) == 0)
		r = -ENOENT;
	else
		r = kv_from_json(s, json_array_get(kvs, 0), ret);
	json_decref(resp);
	return r;
}

static int etcd_list(struct store *st, const char *prefix, const char *start_after, int64_t at_rev,
		     size_t limit, struct store_kv_list *ret, int64_t *ret_rev)
{
	struct etcd_store *s = to_etcd(st);
	_cleanup_free_ char *full = ekey(s, prefix ? prefix : "");
	_cleanup_strbuf_ struct strbuf from = STRBUF_INIT;
	json_t *req, *resp = NULL, *kvs, *kv;
	CURL *h;
	size_t i;
	int r;

	if (at_rev < 0)
		return -EINVAL;
	if (at_rev > 0 && at_rev < atomic_load(&s->compacted))
		return -ERANGE;
	strbuf_addstr(&from, full);
	if (start_after && strcmp(s->prefix, full) <= 0) {
		_cleanup_free_ char *sa = ekey(s, start_after);
		if (strcmp(sa, full) >= 0) {
			strbuf_reset(&from);
			strbuf_addstr(&from, sa);
			strbuf_addch(&from, 0); /* the next key after start_after */
		}
	}
	req = json_pack("{s:o,s:o}", "key", b64(from.buf, from.len), "range_end", b64_end(full));
	if (at_rev > 0)
		json_object_set_new(req, "revision", json_sprintf("%lld", (long long)at_rev));
	if (limit > 0)
		json_object_set_new(req, "limit", json_sprintf("%zu", limit));
	h = handle_get(s);
	r = etcd_call(s, h, "kv/range", req, &resp);
	handle_put(s, h);
	json_decref(req);
	if (r < 0)
		return r;
	kvs = json_object_get(resp, "kvs");
	json_array_foreach(kvs, i, kv)
	{
		struct store_kv item = { 0 };
		r = kv_from_json(s, kv, &item);
		if (r < 0)
			break;
		if (ret->n == ret->alloc) {
			ret->alloc = ret->alloc ? ret->alloc * 2 : 16;
			ret->items = xrealloc(ret->items, ret->alloc * sizeof(*ret->items));
		}
		ret->items[ret->n++] = item;
	}
	if (ret_rev)
		*ret_rev = at_rev > 0 ? at_rev : jint(json_object_get(resp, "header"), "revision");
	json_decref(resp);
	if (r < 0)
		store_kv_list_release(ret);
	return r;
}

/* ---- writes ---- */

static json_t *compare(const char *target, const char *result, const char *field, int64_t v,
		       const char *k)
{
	return json_pack("{s:s,s:s,s:o,s:o}", "target", target, "result", result, "key",
			 b64(k, strlen(k)), field, json_sprintf("%lld", (long long)v));
}

static json_t *op_txn(struct store_op *op, const char *k)
{
	json_t *cmp = json_array(), *succ = json_array(), *fail = json_array();
	json_t *kb = b64(k, strlen(k));

	if (op->type == STORE_OP_CREATE)
		json_array_append_new(cmp, compare("CREATE", "EQUAL", "create_revision", 0, k));
	else {
		json_array_append_new(cmp, compare("CREATE", "GREATER", "create_revision", 0, k));
		if (op->type == STORE_OP_UPDATE || op->expect_rev != 0)
			json_array_append_new(
			    cmp, compare("MOD", "EQUAL", "mod_revision", op->expect_rev, k));
	}
	if (op->type == STORE_OP_DELETE)
		json_array_append_new(succ, json_pack("{s:{s:O,s:b}}", "request_delete_range",
						      "key", kb, "prev_kv", true));
	else
		json_array_append_new(succ, json_pack("{s:{s:O,s:o,s:b}}", "request_put", "key", kb,
						      "value", b64(op->value, op->value_len),
						      "prev_kv", op->type != STORE_OP_CREATE));
	json_array_append_new(fail, json_pack("{s:{s:O}}", "request_range", "key", kb));
	json_decref(kb);
	return json_pack("{s:o,s:o,s:o}", "compare", cmp, "success", succ, "failure", fail);
}

/* Fill op's results from the txn answer. */
static void op_result(struct store_op *op, json_t *resp)
{
	json_t *r0 = json_array_get(json_object_get(resp, "responses"), 0);
	int64_t rev = jint(json_object_get(resp, "header"), "revision");

	if (json_is_true(json_object_get(resp, "succeeded"))) {
		json_t *prev;
		op->result = 0;
		op->rev = rev;
		if (op->type == STORE_OP_CREATE)
			op->create_rev = rev;
		else {
			json_t *sub = json_object_get(r0, op->type == STORE_OP_DELETE
							      ? "response_delete_range"
							      : "response_put");
			prev = json_object_get(sub, "prev_kv");
			if (!prev)
				prev = json_array_get(json_object_get(sub, "prev_kvs"), 0);
			op->create_rev = jint(prev, "create_revision");
		}
		return;
	}
	json_t *kv =
	    json_array_get(json_object_get(json_object_get(r0, "response_range"), "kvs"), 0);
	/* A create fails only when the key exists (or existed at compare time:
	 * a concurrent delete may have removed it since; still a conflict). */
	if (op->type == STORE_OP_CREATE)
		op->result = -EEXIST;
	else if (!kv)
		op->result = -ENOENT;
	else {
		op->result = -ESTALE;
		op->cur_rev = jint(kv, "mod_revision");
	}
}

static void inflight_remove(struct etcd_store *s, struct inflight *f)
{
	for (struct inflight **p = &s->inflight; *p; p = &(*p)->next)
		if (*p == f) {
			*p = f->next;
			break;
		}
}

static void run_op(struct etcd_store *s, CURL *h, struct store_op *op)
{
	struct inflight f = { .op = op, .ekey = ekey(s, op->key) };
	json_t *req = NULL, *resp = NULL;
	int r;

	if ((op->type != STORE_OP_DELETE && !op->value && op->value_len) ||
	    (op->type == STORE_OP_UPDATE && op->expect_rev <= 0) || isempty(op->key)) {
		op->result = -EINVAL;
		goto done;
	}
	pthread_mutex_lock(&s->lock);
	f.next = s->inflight;
	s->inflight = &f;
	pthread_mutex_unlock(&s->lock);

	req = op_txn(op, f.ekey);
	r = etcd_call(s, h, "kv/txn", req, &resp);
	if (r < 0)
		op->result = r == -ERANGE ? -EIO : r;
	else
		op_result(op, resp);

	pthread_mutex_lock(&s->lock);
	f.answered = true;
	f.rev = op->result == 0 ? op->rev : 0;
	pthread_cond_broadcast(&s->delivered_cond);
	/* done() only once watchers have had the event. */
	while (op->result == 0 && atomic_load(&s->delivered) < op->rev && !s->stopping)
		pthread_cond_wait(&s->delivered_cond, &s->lock);
	inflight_remove(s, &f);
	pthread_mutex_unlock(&s->lock);
done:
	json_decref(req);
	json_decref(resp);
	free(f.ekey);
	op->done(op);
}

static void *worker_main(void *arg)
{
	struct etcd_store *s = arg;
	CURL *h = easy_new();

	tls_worker = true;
	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct store_op *op = s->head;
		if (!op) {
			if (s->stopping)
				break;
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		s->head = op->next;
		if (!s->head)
			s->tail = &s->head;
		pthread_mutex_unlock(&s->lock);
		if (s->stopping) {
			op->result = -ESHUTDOWN;
			op->done(op);
		} else
			run_op(s, h, op);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	curl_easy_cleanup(h);
	return NULL;
}

static void etcd_submit(struct store *st, struct store_op *op)
{
	struct etcd_store *s = to_etcd(st);
	bool stopping;

	assert(op && op->done);
	op->next = NULL;
	pthread_mutex_lock(&s->lock);
	stopping = s->stopping;
	if (!stopping) {
		*s->tail = op;
		s->tail = &op->next;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (stopping) {
		op->result = -ESHUTDOWN;
		op->done(op);
	}
}

/* ---- events ---- */

/* Parse one etcd watch event into ce (keys stripped of the prefix). */
static int event_from_json(struct etcd_store *s, json_t *e, struct cached_event *ce)
{
	json_t *kv = json_object_get(e, "kv"), *prev = json_object_get(e, "prev_kv");
	const char *type = json_string_value(json_object_get(e, "type"));
	bool del = type && strcmp(type, "DELETE") == 0;
	struct store_kv k = { 0 };
	int r;

	r = kv_from_json(s, kv, &k);
	if (r < 0)
		return r;
	*ce = (struct cached_event){ .key = k.key };
	ce->ev.type = del ? STORE_EVENT_DELETE : STORE_EVENT_PUT;
	ce->ev.rev = k.mod_rev;
	ce->ev.prev_rev = prev ? jint(prev, "mod_revision") : 0;
	if (del) {
		free(k.value);
		ce->ev.create_rev = jint(prev, "create_revision");
		r = jbytes(prev, "value", &ce->value, &ce->ev.value_len);
		if (r < 0) {
			free(ce->key);
			return r;
		}
	} else {
		ce->value = k.value;
		ce->ev.value_len = k.value_len;
		ce->ev.create_rev = k.create_rev;
		if (k.create_rev == k.mod_rev)
			ce->ev.prev_rev = 0;
	}
	ce->ev.key = ce->key;
	ce->ev.value = ce->value;
	return 0;
}

static struct etcd_store *dispatch_lock(struct etcd_store *s)
{
	struct etcd_store *saved = tls_dispatching;
	pthread_mutex_lock(&s->dispatch_lock);
	tls_dispatching = s;
	return saved;
}

static void watch_unlink(struct etcd_store *s, struct store_watch *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		s->watchers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w->prefix);
	free(w);
}

static void dispatch_unlock(struct etcd_store *s, struct etcd_store *saved)
{
	if (s->n_cancelled > 0) {
		struct store_watch *w = s->watchers, *next;
		for (; w; w = next) {
			next = w->next;
			if (w->cancelled)
				watch_unlink(s, w);
		}
		s->n_cancelled = 0;
	}
	tls_dispatching = saved;
	pthread_mutex_unlock(&s->dispatch_lock);
}

/* The origin of the event at rev for ekey, waiting (briefly) for in-flight
 * writes of that key whose answer has not arrived yet. */
static const void *find_origin(struct etcd_store *s, const char *k, int64_t rev)
{
	int64_t deadline = now_ms() + 2000;
	const void *origin = NULL;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		bool waiting = false;
		for (struct inflight *f = s->inflight; f; f = f->next) {
			if (strcmp(f->ekey, k) != 0)
				continue;
			if (f->answered && f->rev == rev)
				origin = f->op->origin;
			else if (!f->answered)
				waiting = true;
		}
		if (origin || !waiting || now_ms() > deadline || s->stopping)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->delivered_cond, &s->lock, &ts);
	}
	pthread_mutex_unlock(&s->lock);
	return origin;
}

static void deliver(struct etcd_store *s, struct cached_event *ce, const char *k)
{
	struct etcd_store *saved;
	int64_t rev = ce->ev.rev;

	ce->ev.origin = find_origin(s, k, rev);
	saved = dispatch_lock(s);
	for (struct store_watch *w = s->watchers; w; w = w->next)
		if (!w->cancelled && rev > w->from_rev &&
		    strncmp(ce->ev.key, w->prefix, w->prefix_len) == 0)
			w->fn(&ce->ev, w->userdata);
	ce->ev.origin = NULL;
	if (s->cache_n == s->cache_alloc) {
		s->cache_alloc = s->cache_alloc ? s->cache_alloc * 2 : 256;
		s->cache = xrealloc(s->cache, s->cache_alloc * sizeof(*s->cache));
	}
	s->cache[s->cache_n++] = *ce;
	s->cache[s->cache_n - 1].ev.key = s->cache[s->cache_n - 1].key;
	s->cache[s->cache_n - 1].ev.value = s->cache[s->cache_n - 1].value;
	dispatch_unlock(s, saved);

	pthread_mutex_lock(&s->lock);
	if (rev > atomic_load(&s->delivered))
		atomic_store(&s->delivered, rev);
	pthread_cond_broadcast(&s->delivered_cond);
	pthread_mutex_unlock(&s->lock);
}

/* A streaming watch: parses one JSON object per line. */
struct stream {
	struct etcd_store *s;
	struct strbuf buf;
	int64_t last;	 /* last revision handled */
	int64_t stop_at; /* history: stop once an event reaches it (0: never) */
	int64_t idle_ms; /* history: stop when quiet for this long after created */
	int64_t last_data;
	bool created, compacted, done;
	store_watch_fn fn; /* history: deliver here; NULL: live delivery */
	void *userdata;
	int error;
};

static void stream_line(struct stream *st, const char *line, size_t n)
{
	json_t *j = json_loadb(line, n, 0, NULL), *res, *evs, *e;
	size_t i;

	if (!j)
		return;
	res = json_object_get(j, "result");
	if (!res) {
		st->error = -EIO;
		st->done = true;
		json_decref(j);
		return;
	}
	if (json_is_true(json_object_get(res, "created")))
		st->created = true;
	if (json_is_true(json_object_get(res, "canceled")))
		st->done = true; /* reconnect (or fail the history read) */
	if (jint(res, "compact_revision") > 0) {
		st->compacted = true;
		st->done = true;
	}
	evs = json_object_get(res, "events");
	json_array_foreach(evs, i, e)
	{
		struct cached_event ce;
		const char *kb =
		    json_string_value(json_object_get(json_object_get(e, "kv"), "key"));
		void *k = NULL;
		size_t kl;

		if (!kb || event_from_json(st->s, e, &ce) < 0)
			continue;
		if (ce.ev.rev < st->last || (st->stop_at && ce.ev.rev > st->stop_at)) {
			free(ce.key);
			free(ce.value);
			if (st->stop_at && ce.ev.rev > st->stop_at)
				st->done = true;
			continue;
		}
		st->last = ce.ev.rev;
		if (st->fn) {
			st->fn(&ce.ev, st->userdata);
			free(ce.key);
			free(ce.value);
		} else {
			base64_decode(kb, strlen(kb), &k, &kl);
			deliver(st->s, &ce, k);
			free(k);
		}
		if (st->stop_at && ce.ev.rev >= st->stop_at)
			st->done = true;
	}
	json_decref(j);
}

static size_t stream_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct stream *st = ud;
	size_t n = size * nmemb, start = 0;

	st->last_data = now_ms();
	strbuf_add(&st->buf, ptr, n);
	for (size_t i = 0; i < st->buf.len && !st->done; i++)
		if (st->buf.buf[i] == '\n') {
			stream_line(st, st->buf.buf + start, i - start);
			start = i + 1;
		}
	if (start > 0) {
		memmove(st->buf.buf, st->buf.buf + start, st->buf.len - start);
		strbuf_setlen(&st->buf, st->buf.len - start);
	}
	return st->done ? 0 : n;
}

static int stream_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct stream *st = ud;
	(void)a, (void)b, (void)c, (void)d;
	if (st->done)
		return 1;
	if (!st->fn) {
		bool stop;
		pthread_mutex_lock(&st->s->lock);
		stop = st->s->stopping;
		pthread_mutex_unlock(&st->s->lock);
		return stop;
	}
	if (st->created && st->idle_ms && now_ms() - st->last_data > st->idle_ms) {
		st->done = true;
		return 1;
	}
	return 0;
}

/* One watch connection from st->last + 1 until it ends. */
static void stream_run(struct stream *st, CURL *h, const char *endpoint)
{
	struct etcd_store *s = st->s;
	_cleanup_free_ char *url = xasprintf("%s/v3/watch", endpoint);
	json_t *req = json_pack("{s:{s:o,s:o,s:o,s:b}}", "create_request", "key",
				b64(s->prefix, strlen(s->prefix)), "range_end", b64_end(s->prefix),
				"start_revision", json_sprintf("%lld", (long long)(st->last + 1)),
				"prev_kv", true);
	_cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);

	json_decref(req);
	st->created = false;
	st->last_data = now_ms();
	strbuf_reset(&st->buf);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, st);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, stream_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, st);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* A dead peer: no byte for 30 s (etcd sends nothing while idle, so
	 * the live stream relies on TCP keepalive instead). */
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 2L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 1L);
	curl_easy_perform(h);
}

static void *watcher_main(void *arg)
{
	struct etcd_store *s = arg;
	struct stream st = { .s = s, .buf = STRBUF_INIT };
	CURL *h = easy_new();
	size_t i = atomic_load(&s->cur);

	st.last = s->cache_start;
	for (;;) {
		bool stop;
		stream_run(&st, h, s->endpoints[i % s->n_endpoints]);
		pthread_mutex_lock(&s->lock);
		stop = s->stopping;
		pthread_mutex_unlock(&s->lock);
		if (stop)
			break;
		if (st.compacted) {
			log_error("etcd watch: revision %lld was compacted before it was seen; "
				  "some events are lost",
				  (long long)st.last + 1);
			st.last = atomic_load(&s->compacted);
			st.compacted = false;
		}
		st.done = false;
		st.error = 0;
		i++; /* reconnect, resuming after the last revision seen */
		sleep_ms(100);
	}
	strbuf_release(&st.buf);
	curl_easy_cleanup(h);
	return NULL;
}

/* ---- history and watch ---- */

/* Events in (from, to] from etcd itself (older than the cache). */
static int remote_history(struct etcd_store *s, int64_t from, int64_t to, store_watch_fn fn,
			  void *userdata)
{
	struct stream st = {
		.s = s, .buf = STRBUF_INIT, .last = from, .stop_at = to, .idle_ms = 1500
	};
	CURL *h = easy_new();
	int r = 0;

	st.fn = fn;
	st.userdata = userdata;
	for (size_t i = 0; i < s->n_endpoints && !st.done; i++) {
		stream_run(&st, h, s->endpoints[(atomic_load(&s->cur) + i) % s->n_endpoints]);
		if (st.compacted)
			r = -ERANGE;
		if (st.created)
			break;
	}
	if (!st.created && r == 0)
		r = -EIO;
	strbuf_release(&st.buf);
	curl_easy_cleanup(h);
	return r;
}

struct prefix_filter {
	const char *prefix;
	size_t n;
	store_watch_fn fn;
	void *ud;
};

static void prefix_filter_cb(const struct store_event *ev, void *ud)
{
	struct prefix_filter *f = ud;
	if (strncmp(ev->key, f->prefix, f->n) == 0)
		f->fn(ev, f->ud);
}

/* Replay (from, to] under prefix: from the cache if it reaches back far
 * enough, else from etcd. Caller holds dispatch_lock if live is true. */
static int replay(struct etcd_store *s, const char *prefix, int64_t from, int64_t to,
		  store_watch_fn fn, void *userdata)
{
	struct prefix_filter f = { prefix, strlen(prefix), fn, userdata };

	if (from < atomic_load(&s->compacted))
		return -ERANGE;
	if (to <= from)
		return 0;
	if (from < s->cache_start) {
		int r = remote_history(s, from, MIN(to, s->cache_start), prefix_filter_cb, &f);
		if (r < 0)
			return r;
		from = s->cache_start;
	}
	for (size_t i = 0; i < s->cache_n; i++) {
		const struct store_event *ev = &s->cache[i].ev;
		if (ev->rev > from && ev->rev <= to)
			prefix_filter_cb(ev, &f);
	}
	return 0;
}

static int etcd_history(struct store *st, const char *prefix, int64_t from_rev, int64_t to_rev,
			store_watch_fn fn, void *userdata)
{
	struct etcd_store *s = to_etcd(st);
	struct etcd_store *saved;
	int r;

	if (tls_dispatching == s)
		return replay(s, prefix ? prefix : "", from_rev, to_rev, fn, userdata);
	saved = dispatch_lock(s);
	r = replay(s, prefix ? prefix : "", from_rev, to_rev, fn, userdata);
	dispatch_unlock(s, saved);
	return r;
}

static int etcd_watch(struct store *st, const char *prefix, int64_t from_rev, store_watch_fn fn,
		      void *userdata, struct store_watch **ret)
{
	struct etcd_store *s = to_etcd(st);
	struct etcd_store *saved;
	struct store_watch *w;
	int r;

	if (from_rev < 0 || !fn || !ret)
		return -EINVAL;
	if (tls_dispatching == s)
		return -EDEADLK;
	prefix = prefix ? prefix : "";
	if (from_rev < atomic_load(&s->compacted))
		return -ERANGE;

	w = xnew(struct store_watch, 1);
	w->prefix = xstrdup(prefix);
	w->prefix_len = strlen(prefix);
	w->from_rev = from_rev;
	w->fn = fn;
	w->userdata = userdata;

	saved = dispatch_lock(s);
	r = replay(s, prefix, from_rev, atomic_load(&s->delivered), fn, userdata);
	if (r == 0) {
		w->from_rev = MAX(from_rev, atomic_load(&s->delivered));
		w->next = s->watchers;
		if (w->next)
			w->next->prev = w;
		s->watchers = w;
	}
	dispatch_unlock(s, saved);
	if (r < 0) {
		free(w->prefix);
		free(w);
		return r;
	}
	*ret = w;
	return 0;
}

static void etcd_unwatch(struct store *st, struct store_watch *w)
{
	struct etcd_store *s = to_etcd(st);

	if (!w)
		return;
	if (tls_dispatching == s) {
		if (!w->cancelled) {
			w->cancelled = true;
			s->n_cancelled++;
		}
		return;
	}
	pthread_mutex_lock(&s->dispatch_lock);
	watch_unlink(s, w);
	pthread_mutex_unlock(&s->dispatch_lock);
}

/* ---- compaction ---- */

static int etcd_compact(struct store *st, int64_t rev)
{
	struct etcd_store *s = to_etcd(st);
	struct etcd_store *saved;
	json_t *req, *resp = NULL;
	CURL *h;
	int r = 0;

	if (rev < 0)
		return -EINVAL;
	if (tls_dispatching == s || tls_worker)
		return -EDEADLK;
	pthread_mutex_lock(&s->compact_serial);
	if (rev > atomic_load(&s->delivered))
		r = -ERANGE;
	else if (rev > atomic_load(&s->compacted)) {
		req = json_pack("{s:o,s:b}", "revision", json_sprintf("%lld", (long long)rev),
				"physical", true);
		h = handle_get(s);
		r = etcd_call(s, h, "kv/compaction", req, &resp);
		handle_put(s, h);
		json_decref(req);
		json_decref(resp);
		if (r == -ERANGE) /* compacted already by another server */
			r = 0;
		if (r == 0) {
			size_t keep = 0;
			atomic_store(&s->compacted, rev);
			saved = dispatch_lock(s);
			for (size_t i = 0; i < s->cache_n; i++) {
				if (s->cache[i].ev.rev <= rev) {
					free(s->cache[i].key);
					free(s->cache[i].value);
				} else
					s->cache[keep++] = s->cache[i];
			}
			s->cache_n = keep;
			s->cache_start = MAX(s->cache_start, rev);
			dispatch_unlock(s, saved);
		}
	}
	pthread_mutex_unlock(&s->compact_serial);
	return r;
}

static int64_t etcd_current_rev(struct store *st)
{
	return atomic_load(&to_etcd(st)->delivered);
}

static int64_t etcd_compacted_rev(struct store *st)
{
	return atomic_load(&to_etcd(st)->compacted);
}

/* ---- open/close ---- */

/* Whether a range at rev is still readable (1), compacted (0), or error. */
static int readable(struct etcd_store *s, CURL *h, int64_t rev)
{
	json_t *req = json_pack("{s:o,s:o,s:s}", "key", b64("\0", 1), "revision",
				json_sprintf("%lld", (long long)rev), "limit", "1");
	json_t *resp = NULL;
	int r = etcd_call(s, h, "kv/range", req, &resp);

	json_decref(req);
	json_decref(resp);
	return r == 0 ? 1 : r == -ERANGE ? 0 : r;
}

/* The current and compacted revisions (binary search for the oldest
 * readable revision; 0 if nothing was ever compacted). */
static int probe(struct etcd_store *s, int64_t *ret_cur, int64_t *ret_compacted)
{
	json_t *req = json_pack("{s:o,s:s}", "key", b64("\0", 1), "limit", "1"), *resp = NULL;
	CURL *h = handle_get(s);
	int64_t lo, hi;
	int r;

	r = etcd_call(s, h, "kv/range", req, &resp);
	json_decref(req);
	if (r < 0)
		goto out;
	*ret_cur = jint(json_object_get(resp, "header"), "revision");
	json_decref(resp);
	/* invariant: lo unreadable or 0, hi readable */
	lo = 0;
	hi = *ret_cur;
	r = readable(s, h, 1);
	if (r < 0)
		goto out;
	if (r == 1 || hi <= 1) {
		*ret_compacted = 0;
		r = 0;
		goto out;
	}
	lo = 1;
	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		r = readable(s, h, mid);
		if (r < 0)
			goto out;
		if (r)
			hi = mid;
		else
			lo = mid;
	}
	*ret_compacted = hi;
	r = 0;
out:
	handle_put(s, h);
	return r;
}

/* "etcd://h1:p1,h2:p2/prefix" -> endpoints and prefix (default "/c8s"). */
static int parse_location(struct etcd_store *s, const char *location)
{
	const char *rest = strstr(location, "://") + 3;
	const char *slash = strchr(rest, '/');
	_cleanup_free_ char *hosts = slash ? xstrndup(rest, (size_t)(slash - rest)) : xstrdup(rest);
	char *save = NULL;

	s->prefix = xstrdup(slash && slash[1] ? slash : "/c8s");
	if (s->prefix[strlen(s->prefix) - 1] == '/')
		s->prefix[strlen(s->prefix) - 1] = 0;
	for (char *t = strtok_r(hosts, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!*t || strpbrk(t, " \t?#@"))
			return -EINVAL;
		s->endpoints = xrealloc(s->endpoints, (s->n_endpoints + 1) * sizeof(char *));
		s->endpoints[s->n_endpoints++] = xasprintf("http://%s", t);
	}
	return s->n_endpoints > 0 ? 0 : -EINVAL;
}

static void etcd_store_free(struct etcd_store *s)
{
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_cond_broadcast(&s->delivered_cond);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i], NULL);
	if (s->watcher_started)
		pthread_join(s->watcher, NULL);
	while (s->watchers)
		watch_unlink(s, s->watchers);
	for (size_t i = 0; i < s->cache_n; i++) {
		free(s->cache[i].key);
		free(s->cache[i].value);
	}
	free(s->cache);
	for (unsigned i = 0; i < s->n_pool; i++)
		curl_easy_cleanup(s->pool[i]);
	for (size_t i = 0; i < s->n_endpoints; i++)
		free(s->endpoints[i]);
	free(s->endpoints);
	free(s->prefix);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->dispatch_lock);
	pthread_mutex_destroy(&s->compact_serial);
	pthread_mutex_destroy(&s->pool_lock);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->delivered_cond);
	free(s);
}

static int etcd_open(const char *location, struct store **ret)
{
	struct etcd_store *s = xnew(struct etcd_store, 1);
	int64_t cur = 0, compacted = 0;
	int r;

	s->base.backend = &store_backend_etcd;
	s->tail = &s->head;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->dispatch_lock, NULL);
	pthread_mutex_init(&s->compact_serial, NULL);
	pthread_mutex_init(&s->pool_lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_cond_init(&s->delivered_cond, NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	r = parse_location(s, location);
	if (r < 0)
		goto fail;
	r = probe(s, &cur, &compacted);
	if (r < 0)
		goto fail;
	atomic_store(&s->delivered, cur);
	atomic_store(&s->compacted, compacted);
	s->cache_start = cur;

	if (pthread_create(&s->watcher, NULL, watcher_main, s) != 0) {
		r = -EAGAIN;
		goto fail;
	}
	s->watcher_started = true;
	for (; s->n_workers < N_WORKERS; s->n_workers++)
		if (pthread_create(&s->workers[s->n_workers], NULL, worker_main, s) != 0) {
			r = -EAGAIN;
			goto fail;
		}
	log_info("etcd datastore: %zu endpoint(s), prefix %s, revision %lld", s->n_endpoints,
		 s->prefix, (long long)cur);
	*ret = &s->base;
	return 0;
fail:
	etcd_store_free(s);
	return r;
}

static void etcd_close(struct store *st)
{
	etcd_store_free(to_etcd(st));
}

const struct store_backend store_backend_etcd = {
	.name = "etcd",
	.open = etcd_open,
	.close = etcd_close,
	.get = etcd_get,
	.list = etcd_list,
	.submit = etcd_submit,
	.watch = etcd_watch,
	.unwatch = etcd_unwatch,
	.history = etcd_history,
	.compact = etcd_compact,
	.current_rev = etcd_current_rev,
	.compacted_rev = etcd_compacted_rev,
};
