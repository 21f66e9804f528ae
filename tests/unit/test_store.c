/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "store/sqlite_internal.h"
#include "store/store.h"

/* ---- fixture: a fresh directory and store per test ---- */

struct fixture {
	char dir[64];
	char *path;
	struct store *s;
};

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int setup(void **state)
{
	struct fixture *f = xnew(struct fixture, 1);

	strcpy(f->dir, "/tmp/c8s-store-test-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/state.db", f->dir);
	if (store_open(f->path, &f->s) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->s);
	rm_rf(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(store_open(f->path, &f->s), 0);
}

/* ---- helpers ---- */

static int do_op(struct store *s, enum store_op_type type, const char *key, const char *value,
		 int64_t expect_rev, struct store_op *ret)
{
	struct store_op op = {
		.type = type,
		.key = key,
		.value = value,
		.value_len = value ? strlen(value) : 0,
		.expect_rev = expect_rev,
	};
	int r = store_exec(s, &op);

	if (ret)
		*ret = op;
	return r;
}

static int64_t create(struct store *s, const char *key, const char *value)
{
	struct store_op op;

	assert_int_equal(do_op(s, STORE_OP_CREATE, key, value, 0, &op), 0);
	return op.rev;
}

static int64_t update(struct store *s, const char *key, const char *value, int64_t expect)
{
	struct store_op op;

	assert_int_equal(do_op(s, STORE_OP_UPDATE, key, value, expect, &op), 0);
	return op.rev;
}

static int64_t delete_key(struct store *s, const char *key, int64_t expect)
{
	struct store_op op;

	assert_int_equal(do_op(s, STORE_OP_DELETE, key, NULL, expect, &op), 0);
	return op.rev;
}

static void assert_get(struct store *s, const char *key, const char *value, int64_t mod_rev,
		       int64_t create_rev)
{
	struct store_kv kv = { 0 };

	assert_int_equal(store_get(s, key, &kv), 0);
	assert_string_equal(kv.key, key);
	assert_int_equal(kv.value_len, strlen(value));
	assert_string_equal((const char *)kv.value, value); /* NUL-terminated */
	assert_int_equal(kv.mod_rev, mod_rev);
	assert_int_equal(kv.create_rev, create_rev);
	store_kv_release(&kv);
}

/* Events copied out of callbacks. */
struct ev_copy {
	enum store_event_type type;
	char *key;
	char *value;
	int64_t rev, create_rev, prev_rev;
};

struct collector {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct ev_copy *evs;
	size_t n, alloc;
	int64_t last_rev;
	bool out_of_order;
};

#define COLLECTOR_INIT                                                              \
	{                                                                           \
		.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER \
	}

static void collect(const struct store_event *ev, void *userdata)
{
	struct collector *c = userdata;

	pthread_mutex_lock(&c->lock);
	if (c->n == c->alloc) {
		c->alloc = c->alloc ? c->alloc * 2 : 64;
		c->evs = xrealloc(c->evs, c->alloc * sizeof(*c->evs));
	}
	c->evs[c->n++] = (struct ev_copy){
		.type = ev->type,
		.key = xstrdup(ev->key),
		.value = xmemdup(ev->value ? ev->value : "", ev->value_len),
		.rev = ev->rev,
		.create_rev = ev->create_rev,
		.prev_rev = ev->prev_rev,
	};
	if (ev->rev <= c->last_rev)
		c->out_of_order = true;
	c->last_rev = ev->rev;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Wait (bounded) until the collector has seen revision rev. */
static bool collector_wait(struct collector *c, int64_t rev)
{
	uint64_t deadline = now_usec_realtime() + 20 * 1000000ULL;
	struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000),
			       .tv_nsec = (long)(deadline % 1000000) * 1000 };
	bool ok;

	pthread_mutex_lock(&c->lock);
	while (c->last_rev < rev && pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0)
		;
	ok = c->last_rev >= rev;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

static void collector_release(struct collector *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->evs[i].key);
		free(c->evs[i].value);
	}
	free(c->evs);
	c->evs = NULL;
	c->n = c->alloc = 0;
}

static void assert_event(const struct ev_copy *e, enum store_event_type type, const char *key,
			 const char *value, int64_t rev, int64_t create_rev, int64_t prev_rev)
{
	assert_int_equal(e->type, type);
	assert_string_equal(e->key, key);
	assert_string_equal(e->value, value);
	assert_int_equal(e->rev, rev);
	assert_int_equal(e->create_rev, create_rev);
	assert_int_equal(e->prev_rev, prev_rev);
}

/* Ops submitted without waiting, completed through a counter. */
struct pending {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned done;
};

static void pending_done(struct store_op *op)
{
	struct pending *p = op->userdata;

	pthread_mutex_lock(&p->lock);
	p->done++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void pending_wait(struct pending *p, unsigned n)
{
	pthread_mutex_lock(&p->lock);
	while (p->done < n)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

static size_t count_rows(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	size_t n;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM kv", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/* ---- tests ---- */

static void test_open_locations(void **state)
{
	struct fixture *f = *state;
	struct store *s = NULL;
	char cwd[4096];

	/* The fixture holds the lock on its store. */
	assert_int_equal(store_open(f->path, &s), -EBUSY);
	{
		_cleanup_free_ char *url = xasprintf("sqlite://%s", f->path);
		assert_int_equal(store_open(url, &s), -EBUSY);
	}

	{
		_cleanup_free_ char *url = xasprintf("sqlite://%s/abs.db", f->dir);
		assert_int_equal(store_open(url, &s), 0);
		assert_int_equal(store_current_rev(s), 0);
		assert_int_equal(store_compacted_rev(s), 0);
		store_close(s);
	}
	{
		_cleanup_free_ char *p = xasprintf("%s/abs.db", f->dir);
		assert_int_equal(access(p, F_OK), 0);
	}

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	assert_int_equal(store_open("sqlite://rel.db", &s), 0);
	store_close(s);
	assert_int_equal(access("rel.db", F_OK), 0);
	assert_int_equal(chdir(cwd), 0);

	assert_int_equal(store_open("etcd://", &s), -EINVAL); /* etcd.c: no endpoint */
	assert_int_equal(store_open("foo://bar", &s), -EPROTONOSUPPORT);
	assert_int_equal(store_open("sqlite://", &s), -EINVAL);
	assert_int_equal(store_open("", &s), -EINVAL);
	assert_int_equal(store_open("/nonexistent-c8s-dir/x.db", &s), -ENOENT);
}

static void test_create_get(void **state)
{
	struct fixture *f = *state;
	struct store_kv kv = { 0 };
	struct store_op op;

	assert_int_equal(store_get(f->s, "/registry/pods/ns/a", &kv), -ENOENT);
	assert_int_equal(do_op(f->s, STORE_OP_CREATE, "/registry/pods/ns/a", "v1", 0, &op), 0);
	assert_int_equal(op.rev, 1);
	assert_int_equal(op.create_rev, 1);
	assert_int_equal(store_current_rev(f->s), 1);
	assert_get(f->s, "/registry/pods/ns/a", "v1", 1, 1);

	/* An empty value is a value. */
	assert_int_equal(create(f->s, "/empty", NULL), 2);
	assert_int_equal(store_get(f->s, "/empty", &kv), 0);
	assert_int_equal(kv.value_len, 0);
	assert_non_null(kv.value);
	store_kv_release(&kv);

	/* Arbitrary bytes survive. */
	char bin[300];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)i;
	struct store_op b = {
		.type = STORE_OP_CREATE, .key = "/bin", .value = bin, .value_len = sizeof(bin)
	};
	assert_int_equal(store_exec(f->s, &b), 0);
	struct store_kv *heap = xnew(struct store_kv, 1);
	assert_int_equal(store_get(f->s, "/bin", heap), 0);
	assert_int_equal(heap->value_len, sizeof(bin));
	assert_memory_equal(heap->value, bin, sizeof(bin));
	store_kv_free(heap);
}

static void test_create_exists(void **state)
{
	struct fixture *f = *state;
	struct store_op op;

	assert_int_equal(create(f->s, "/a", "1"), 1);
	assert_int_equal(do_op(f->s, STORE_OP_CREATE, "/a", "2", 0, &op), -EEXIST);
	assert_int_equal(op.cur_rev, 1);
	/* A failed op consumes no revision. */
	assert_int_equal(store_current_rev(f->s), 1);
	assert_int_equal(create(f->s, "/b", "1"), 2);
	assert_get(f->s, "/a", "1", 1, 1);
}

static void test_update_delete(void **state)
{
	struct fixture *f = *state;
	struct store_kv kv = { 0 };
	struct store_op op;

	assert_int_equal(create(f->s, "/k", "v1"), 1);
	assert_int_equal(do_op(f->s, STORE_OP_UPDATE, "/k", "v2", 1, &op), 0);
	assert_int_equal(op.rev, 2);
	assert_int_equal(op.create_rev, 1);
	assert_get(f->s, "/k", "v2", 2, 1);

	/* Stale expectations. */
	assert_int_equal(do_op(f->s, STORE_OP_UPDATE, "/k", "v3", 1, &op), -ESTALE);
	assert_int_equal(op.cur_rev, 2);
	assert_int_equal(do_op(f->s, STORE_OP_UPDATE, "/k", "v3", 0, &op), -ESTALE);
	assert_int_equal(do_op(f->s, STORE_OP_DELETE, "/k", NULL, 1, &op), -ESTALE);
	assert_int_equal(op.cur_rev, 2);

	/* Missing keys. */
	assert_int_equal(do_op(f->s, STORE_OP_UPDATE, "/missing", "x", 1, &op), -ENOENT);
	assert_int_equal(do_op(f->s, STORE_OP_DELETE, "/missing", NULL, 0, &op), -ENOENT);
	assert_int_equal(store_current_rev(f->s), 2);

	/* Conditional delete, then the key is gone. */
	assert_int_equal(delete_key(f->s, "/k", 2), 3);
	assert_int_equal(store_get(f->s, "/k", &kv), -ENOENT);
	assert_int_equal(do_op(f->s, STORE_OP_UPDATE, "/k", "v3", 3, &op), -ENOENT);
	assert_int_equal(do_op(f->s, STORE_OP_DELETE, "/k", NULL, 0, &op), -ENOENT);

	/* Re-created: a new create revision. Then an unconditional delete. */
	assert_int_equal(do_op(f->s, STORE_OP_CREATE, "/k", "again", 0, &op), 0);
	assert_int_equal(op.rev, 4);
	assert_int_equal(op.create_rev, 4);
	assert_get(f->s, "/k", "again", 4, 4);
	assert_int_equal(delete_key(f->s, "/k", 0), 5);
	assert_int_equal(store_current_rev(f->s), 5);
}

static void assert_list(struct store *s, const char *prefix, const char *start_after,
			int64_t at_rev, size_t limit, const char *const *keys,
			const char *const *values, int64_t expect_rev)
{
	struct store_kv_list l = { 0 };
	int64_t rev = -1;
	size_t n = 0;

	assert_int_equal(store_list(s, prefix, start_after, at_rev, limit, &l, &rev), 0);
	while (keys[n])
		n++;
	assert_int_equal(l.n, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(l.items[i].key, keys[i]);
		assert_string_equal((const char *)l.items[i].value, values[i]);
	}
	assert_int_equal(rev, expect_rev);
	store_kv_list_release(&l);
}

#define STRV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE	  ((const char *const[]){ NULL })

static void test_list(void **state)
{
	struct fixture *f = *state;
	struct store_kv_list l = { 0 };
	int64_t rev;

	for (int i = 1; i <= 5; i++) {
		char key[16], value[16];
		snprintf(key, sizeof(key), "/a/%d", i);
		snprintf(value, sizeof(value), "v%d", i);
		create(f->s, key, value); /* revisions 1..5 */
	}
	create(f->s, "/ab", "x");  /* 6: not under "/a/" */
	create(f->s, "/b/1", "b"); /* 7 */
	assert_int_equal(update(f->s, "/a/2", "v2b", 2), 8);
	assert_int_equal(delete_key(f->s, "/a/3", 0), 9);

	assert_list(f->s, "/a/", NULL, 0, 0, STRV("/a/1", "/a/2", "/a/4", "/a/5"),
		    STRV("v1", "v2b", "v4", "v5"), 9);
	assert_int_equal(store_list(f->s, "/a/", NULL, 0, 0, &l, &rev), 0);
	assert_int_equal(l.items[1].mod_rev, 8);
	assert_int_equal(l.items[1].create_rev, 2);
	store_kv_list_release(&l);

	/* Pages. */
	assert_list(f->s, "/a/", NULL, 0, 2, STRV("/a/1", "/a/2"), STRV("v1", "v2b"), 9);
	assert_list(f->s, "/a/", "/a/2", 0, 2, STRV("/a/4", "/a/5"), STRV("v4", "v5"), 9);
	assert_list(f->s, "/a/", "/a/5", 0, 2, NONE, NONE, 9);
	assert_list(f->s, "/a/", "/", 0, 1, STRV("/a/1"), STRV("v1"), 9);

	/* As of older revisions. */
	assert_list(f->s, "/a/", NULL, 7, 0, STRV("/a/1", "/a/2", "/a/3", "/a/4", "/a/5"),
		    STRV("v1", "v2", "v3", "v4", "v5"), 7);
	assert_list(f->s, "/a/", NULL, 8, 0, STRV("/a/1", "/a/2", "/a/3", "/a/4", "/a/5"),
		    STRV("v1", "v2b", "v3", "v4", "v5"), 8);
	assert_list(f->s, "/a/", "/a/1", 3, 0, STRV("/a/2", "/a/3"), STRV("v2", "v3"), 3);
	assert_int_equal(store_list(f->s, "/a/", NULL, 10, 0, &l, &rev), -ERANGE);

	/* Everything, and prefixes that end in 0xff. */
	assert_list(f->s, "", NULL, 0, 0, STRV("/a/1", "/a/2", "/a/4", "/a/5", "/ab", "/b/1"),
		    STRV("v1", "v2b", "v4", "v5", "x", "b"), 9);
	create(f->s, "/x\xff", "1");
	create(f->s, "/x\xff\x01", "2");
	create(f->s, "/y", "3");
	assert_list(f->s, "/x\xff", NULL, 0, 0, STRV("/x\xff", "/x\xff\x01"), STRV("1", "2"), 12);
	assert_list(f->s, "/nothing/", NULL, 0, 0, NONE, NONE, 12);
}

static void test_history(void **state)
{
	struct fixture *f = *state;
	struct collector c = COLLECTOR_INIT;

	create(f->s, "/a/x", "1");    /* 1 */
	create(f->s, "/b/y", "1");    /* 2 */
	update(f->s, "/a/x", "2", 1); /* 3 */
	delete_key(f->s, "/a/x", 3);  /* 4 */
	create(f->s, "/a/x", "new");  /* 5 */
	update(f->s, "/b/y", "2", 2); /* 6 */

	assert_int_equal(store_history(f->s, "/a/", 0, 100, collect, &c), 0);
	assert_int_equal(c.n, 4);
	assert_event(&c.evs[0], STORE_EVENT_PUT, "/a/x", "1", 1, 1, 0);
	assert_event(&c.evs[1], STORE_EVENT_PUT, "/a/x", "2", 3, 1, 1);
	assert_event(&c.evs[2], STORE_EVENT_DELETE, "/a/x", "2", 4, 1, 3);
	assert_event(&c.evs[3], STORE_EVENT_PUT, "/a/x", "new", 5, 5, 0);
	collector_release(&c);

	/* (from, to] bounds. */
	c.last_rev = 0;
	assert_int_equal(store_history(f->s, "", 2, 5, collect, &c), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.evs[0].rev, 3);
	assert_int_equal(c.evs[2].rev, 5);
	collector_release(&c);
	assert_int_equal(store_history(f->s, "", 6, 6, collect, &c), 0);
	assert_int_equal(c.n, 0);
}

/* Reads from a watch callback must work (they use another connection). */
struct reading_watcher {
	struct collector c;
	struct store *s;
	int get_result;
	int watch_result;
};

static void reading_cb(const struct store_event *ev, void *userdata)
{
	struct reading_watcher *rw = userdata;
	struct store_kv kv = { 0 };
	struct store_watch *w = NULL;

	rw->get_result = store_get(rw->s, ev->key, &kv);
	store_kv_release(&kv);
	rw->watch_result = store_watch(rw->s, "", 0, reading_cb, rw, &w);
	collect(ev, &rw->c);
}

static void test_watch_live(void **state)
{
	struct fixture *f = *state;
	struct reading_watcher rw = { .c = COLLECTOR_INIT, .s = f->s };
	struct collector future = COLLECTOR_INIT;
	struct store_watch *w = NULL, *wf = NULL;

	create(f->s, "/a/old", "1"); /* 1: before the watch, not replayed */
	assert_int_equal(store_watch(f->s, "/a/", 1, reading_cb, &rw, &w), 0);
	assert_int_equal(rw.c.n, 0);
	assert_int_equal(store_watch(f->s, "/a/", 4, collect, &future, &wf), 0);

	create(f->s, "/a/x", "1"); /* 2 */
	/* done() comes after the watchers got the event: no waiting needed. */
	assert_int_equal(rw.c.n, 1);
	assert_int_equal(rw.get_result, 0);
	assert_int_equal(rw.watch_result, -EDEADLK);
	create(f->s, "/b/y", "1");    /* 3: other prefix */
	update(f->s, "/a/x", "2", 2); /* 4 */
	delete_key(f->s, "/a/x", 0);  /* 5 */
	assert_int_equal(rw.c.n, 3);
	assert_event(&rw.c.evs[0], STORE_EVENT_PUT, "/a/x", "1", 2, 2, 0);
	assert_event(&rw.c.evs[1], STORE_EVENT_PUT, "/a/x", "2", 4, 2, 2);
	assert_event(&rw.c.evs[2], STORE_EVENT_DELETE, "/a/x", "2", 5, 2, 4);
	assert_int_equal(rw.get_result, -ENOENT);

	/* A watch from a future revision starts after it. */
	assert_int_equal(future.n, 1);
	assert_int_equal(future.evs[0].rev, 5);

	store_unwatch(f->s, w);
	store_unwatch(f->s, wf);
	create(f->s, "/a/z", "1");
	assert_int_equal(rw.c.n, 3);
	collector_release(&rw.c);
	collector_release(&future);
}

/* A watcher that unwatches itself from its own callback. */
struct self_unwatch {
	struct store *s;
	struct store_watch *w;
	int calls;
};

static void self_unwatch_cb(const struct store_event *ev, void *userdata)
{
	struct self_unwatch *su = userdata;

	if (++su->calls == 2)
		store_unwatch(su->s, su->w);
}

static void test_unwatch(void **state)
{
	struct fixture *f = *state;
	struct self_unwatch su = { .s = f->s };
	struct collector c = COLLECTOR_INIT;
	struct store_watch *w = NULL;
	struct pending p = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	struct store_op ops[5];

	assert_int_equal(store_watch(f->s, "", 0, self_unwatch_cb, &su, &su.w), 0);
	assert_int_equal(store_watch(f->s, "", 0, collect, &c, &w), 0);

	/* Five events in one batch: the self-unwatching watcher sees two. */
	sqlite_store_hold(f->s, true);
	for (int i = 0; i < 5; i++) {
		char *key = xasprintf("/k/%d", i);
		ops[i] = (struct store_op){ .type = STORE_OP_CREATE,
					    .key = key,
					    .value = "v",
					    .value_len = 1,
					    .done = pending_done,
					    .userdata = &p };
		store_submit(f->s, &ops[i]);
	}
	sqlite_store_hold(f->s, false);
	pending_wait(&p, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(ops[i].result, 0);
		free((char *)ops[i].key);
	}
	assert_int_equal(su.calls, 2);
	assert_int_equal(c.n, 5);

	/* Unwatched from this thread: nothing more arrives. */
	store_unwatch(f->s, w);
	create(f->s, "/after", "1");
	assert_int_equal(c.n, 5);
	assert_int_equal(su.calls, 2);
	collector_release(&c);
}

/* A write that commits while watch() is replaying history must be delivered
 * exactly once: the history callback has another thread write and waits
 * (bounded) for it to be acknowledged. */
struct boundary {
	struct collector c;
	struct store *s;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go, written;
	int64_t written_rev;
};

static void *boundary_writer_main(void *arg)
{
	struct boundary *b = arg;
	struct store_op op = {
		.type = STORE_OP_CREATE, .key = "/w/racing", .value = "r", .value_len = 1
	};

	pthread_mutex_lock(&b->lock);
	while (!b->go)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
	if (store_exec(b->s, &op) != 0)
		abort();
	pthread_mutex_lock(&b->lock);
	b->written = true;
	b->written_rev = op.rev;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

static void boundary_cb(const struct store_event *ev, void *userdata)
{
	struct boundary *b = userdata;
	struct timespec ts;

	collect(ev, &b->c);
	if (ev->rev != 3)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	pthread_mutex_lock(&b->lock);
	b->go = true;
	pthread_cond_broadcast(&b->cond);
	while (!b->written && pthread_cond_timedwait(&b->cond, &b->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&b->lock);
}

static void test_watch_boundary(void **state)
{
	struct fixture *f = *state;
	struct boundary b = { .c = COLLECTOR_INIT,
			      .s = f->s,
			      .lock = PTHREAD_MUTEX_INITIALIZER,
			      .cond = PTHREAD_COND_INITIALIZER };
	struct store_watch *w = NULL;
	pthread_t tid;

	create(f->s, "/w/1", "1");
	create(f->s, "/w/2", "2");
	create(f->s, "/w/3", "3");
	assert_int_equal(pthread_create(&tid, NULL, boundary_writer_main, &b), 0);
	assert_int_equal(store_watch(f->s, "/w/", 0, boundary_cb, &b, &w), 0);
	pthread_join(tid, NULL);
	assert_int_equal(b.written_rev, 4);
	assert_true(collector_wait(&b.c, 4));
	store_unwatch(f->s, w);
	assert_int_equal(b.c.n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(b.c.evs[i].rev, (int64_t)i + 1);
	assert_false(b.c.out_of_order);
	collector_release(&b.c);
}

/* ---- watch racing with writers ---- */

#define RACE_WRITERS  4
#define RACE_OPS      600
#define RACE_WATCHERS 6
#define RACE_MAX_REVS (RACE_WRITERS * RACE_OPS)

struct race {
	struct store *s;
	pthread_mutex_t lock;
	bool watched_rev[RACE_MAX_REVS + 1]; /* revisions of writes under /r/ */
	int64_t max_rev;
};

struct race_writer {
	struct race *race;
	int id;
};

/* Runs off the main thread: cmocka asserts are not usable here. */
static void *race_writer_main(void *arg)
{
	struct race_writer *rw = arg;
	struct race *race = rw->race;
	int64_t revs[2][8] = { { 0 } };

	for (int i = 0; i < RACE_OPS; i++) {
		/* Mostly /r/ keys, some outside the watched prefix. */
		bool watched = i % 5 != 0;
		int64_t *prev = &revs[watched][i % 8];
		char key[64];
		struct store_op op;

		snprintf(key, sizeof(key), "%s/%d/%d", watched ? "/r" : "/o", rw->id, i % 8);
		if (do_op(race->s, *prev ? STORE_OP_UPDATE : STORE_OP_CREATE, key, "v", *prev,
			  &op) != 0 ||
		    op.rev > RACE_MAX_REVS)
			abort();
		*prev = op.rev;
		pthread_mutex_lock(&race->lock);
		race->watched_rev[op.rev] = watched;
		race->max_rev = MAX(race->max_rev, op.rev);
		pthread_mutex_unlock(&race->lock);
	}
	return NULL;
}

static void test_watch_race(void **state)
{
	struct fixture *f = *state;
	struct race *race = xnew(struct race, 1);
	struct race_writer rws[RACE_WRITERS];
	pthread_t threads[RACE_WRITERS];
	struct collector cs[RACE_WATCHERS];
	struct store_watch *ws[RACE_WATCHERS];
	int64_t from[RACE_WATCHERS];

	race->s = f->s;
	pthread_mutex_init(&race->lock, NULL);
	for (int i = 0; i < RACE_WRITERS; i++) {
		rws[i] = (struct race_writer){ .race = race, .id = i };
		assert_int_equal(pthread_create(&threads[i], NULL, race_writer_main, &rws[i]), 0);
	}

	/* Start watchers at various points while the writers run, each from a
	 * revision somewhat behind the current one. */
	for (int i = 0; i < RACE_WATCHERS; i++) {
		int64_t target = (int64_t)(i + 1) * RACE_MAX_REVS / (RACE_WATCHERS + 2);
		while (store_current_rev(f->s) < target)
			usleep(200);
		cs[i] = (struct collector)COLLECTOR_INIT;
		from[i] = MAX(store_current_rev(f->s) - 37 * i, 0);
		assert_int_equal(store_watch(f->s, "/r/", from[i], collect, &cs[i], &ws[i]), 0);
	}
	for (int i = 0; i < RACE_WRITERS; i++)
		pthread_join(threads[i], NULL);

	int64_t last_watched = 0;
	for (int64_t r = 1; r <= race->max_rev; r++)
		if (race->watched_rev[r])
			last_watched = r;
	assert_int_equal(race->max_rev, store_current_rev(f->s));

	for (int i = 0; i < RACE_WATCHERS; i++) {
		size_t j = 0;
		assert_true(collector_wait(&cs[i], last_watched));
		store_unwatch(f->s, ws[i]);
		assert_false(cs[i].out_of_order);
		/* Exactly the /r/ revisions after from[i]: no gap, no duplicate. */
		for (int64_t r = from[i] + 1; r <= race->max_rev; r++) {
			if (!race->watched_rev[r])
				continue;
			assert_true(j < cs[i].n);
			assert_int_equal(cs[i].evs[j].rev, r);
			assert_true(startswith(cs[i].evs[j].key, "/r/"));
			j++;
		}
		assert_int_equal(j, cs[i].n);
		collector_release(&cs[i]);
	}
	pthread_mutex_destroy(&race->lock);
	free(race);
}

/* ---- batches ---- */

static void test_batch_semantics(void **state)
{
	struct fixture *f = *state;
	struct pending p = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	struct sqlite_store_stats before, after;
	int64_t base;

	create(f->s, "/pre", "x");
	base = store_current_rev(f->s);
	sqlite_store_get_stats(f->s, &before);

	/* Later ops of a batch see the earlier ones; failed ops take no revision. */
	struct store_op ops[] = {
		{ .type = STORE_OP_CREATE, .key = "/k", .value = "1", .value_len = 1 },
		{ .type = STORE_OP_UPDATE,
		  .key = "/k",
		  .value = "2",
		  .value_len = 1,
		  .expect_rev = base + 1 },
		{ .type = STORE_OP_CREATE, .key = "/k", .value = "3", .value_len = 1 },
		{ .type = STORE_OP_DELETE, .key = "/k", .expect_rev = base + 2 },
		{ .type = STORE_OP_CREATE, .key = "/k2", .value = "4", .value_len = 1 },
		{ .type = STORE_OP_CREATE, .key = "/k2", .value = "5", .value_len = 1 },
		{ .type = STORE_OP_UPDATE,
		  .key = "/k",
		  .value = "6",
		  .value_len = 1,
		  .expect_rev = base + 3 },
		{ .type = STORE_OP_CREATE, .key = "/k", .value = "7", .value_len = 1 },
	};
	const int expect_result[] = { 0, 0, -EEXIST, 0, 0, -EEXIST, -ENOENT, 0 };
	const int64_t expect_rev[] = { base + 1, base + 2, 0, base + 3, base + 4, 0, 0, base + 5 };

	sqlite_store_hold(f->s, true);
	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		ops[i].done = pending_done;
		ops[i].userdata = &p;
		store_submit(f->s, &ops[i]);
	}
	sqlite_store_hold(f->s, false);
	pending_wait(&p, ARRAY_SIZE(ops));

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
		assert_int_equal(ops[i].result, expect_result[i]);
		assert_int_equal(ops[i].rev, expect_rev[i]);
	}
	assert_int_equal(ops[2].cur_rev, base + 2);
	assert_int_equal(ops[7].create_rev, base + 5);
	assert_int_equal(store_current_rev(f->s), base + 5);
	assert_get(f->s, "/k", "7", base + 5, base + 5);

	sqlite_store_get_stats(f->s, &after);
	assert_int_equal(after.batches - before.batches, 1);
	assert_int_equal(after.commits - before.commits, 1);
	assert_int_equal(after.ops - before.ops, ARRAY_SIZE(ops));
}

static void test_batch_failure(void **state)
{
	struct fixture *f = *state;
	struct pending p = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	struct collector c = COLLECTOR_INIT;
	struct store_watch *w = NULL;
	struct store_kv kv = { 0 };
	struct store_op ops[3];
	int64_t base;

	create(f->s, "/pre", "x");
	base = store_current_rev(f->s);
	assert_int_equal(store_watch(f->s, "", base, collect, &c, &w), 0);

	/* The second insert of the batch fails: nothing of the batch stays. */
	sqlite_store_hold(f->s, true);
	sqlite_store_inject_failure(f->s, 2);
	for (int i = 0; i < 3; i++) {
		ops[i] = (struct store_op){ .type = STORE_OP_CREATE,
					    .key = i == 0   ? "/a"
						   : i == 1 ? "/b"
							    : "/c",
					    .value = "v",
					    .value_len = 1,
					    .done = pending_done,
					    .userdata = &p };
		store_submit(f->s, &ops[i]);
	}
	sqlite_store_hold(f->s, false);
	pending_wait(&p, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ops[i].result, -EIO);
		assert_int_equal(ops[i].rev, 0);
	}
	assert_int_equal(store_current_rev(f->s), base);
	assert_int_equal(store_get(f->s, "/a", &kv), -ENOENT);
	assert_int_equal(c.n, 0);

	/* The store goes on. */
	assert_int_equal(create(f->s, "/a", "v"), base + 1);
	assert_int_equal(c.n, 1);
	store_unwatch(f->s, w);
	collector_release(&c);
}

/* ---- compaction ---- */

static void test_compact(void **state)
{
	struct fixture *f = *state;
	struct collector c = COLLECTOR_INIT;
	struct sqlite_store_stats stats;
	struct store_watch *w = NULL;
	struct store_kv_list l = { 0 };
	struct store_kv kv = { 0 };
	int64_t rev;

	create(f->s, "/k/a", "a1");    /* 1 */
	update(f->s, "/k/a", "a2", 1); /* 2 */
	update(f->s, "/k/a", "a3", 2); /* 3 */
	create(f->s, "/k/b", "b1");    /* 4 */
	delete_key(f->s, "/k/b", 4);   /* 5 */
	create(f->s, "/k/c", "c1");    /* 6 */
	update(f->s, "/k/a", "a7", 3); /* 7 */
	create(f->s, "/k/d", "d1");    /* 8 */
	assert_int_equal(count_rows(f->path), 8);

	sqlite_store_set_compact_chunk(f->s, 2);
	assert_int_equal(store_compact(f->s, 9), -ERANGE); /* future */
	assert_int_equal(store_compact(f->s, 6), 0);
	assert_int_equal(store_compacted_rev(f->s), 6);
	sqlite_store_get_stats(f->s, &stats);
	assert_int_equal(stats.compact_chunks, 3);
	/* Left: a@3 (current as of 6), a@7, c@6, d@8. */
	assert_int_equal(count_rows(f->path), 4);
	assert_int_equal(store_compact(f->s, 6), 0);
	assert_int_equal(store_compact(f->s, 2), 0);
	assert_int_equal(store_compacted_rev(f->s), 6);

	/* Below the compacted revision: gone. */
	assert_int_equal(store_list(f->s, "/k/", NULL, 5, 0, &l, &rev), -ERANGE);
	assert_int_equal(store_history(f->s, "/k/", 5, 8, collect, &c), -ERANGE);
	assert_int_equal(store_watch(f->s, "/k/", 5, collect, &c, &w), -ERANGE);
	assert_int_equal(c.n, 0);

	/* At and above it: intact. */
	assert_list(f->s, "/k/", NULL, 6, 0, STRV("/k/a", "/k/c"), STRV("a3", "c1"), 6);
	assert_list(f->s, "/k/", NULL, 0, 0, STRV("/k/a", "/k/c", "/k/d"), STRV("a7", "c1", "d1"),
		    8);
	assert_get(f->s, "/k/a", "a7", 7, 1);
	assert_get(f->s, "/k/c", "c1", 6, 6);
	assert_int_equal(store_get(f->s, "/k/b", &kv), -ENOENT);
	assert_int_equal(store_history(f->s, "/k/", 6, 8, collect, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.evs[0].rev, 7);
	assert_int_equal(c.evs[1].rev, 8);
	collector_release(&c);
	c.last_rev = 0;
	assert_int_equal(store_watch(f->s, "/k/", 6, collect, &c, &w), 0);
	assert_int_equal(c.n, 2);

	/* Writes go on, and the watch sees them. */
	assert_int_equal(update(f->s, "/k/a", "a9", 7), 9);
	assert_int_equal(create(f->s, "/k/b", "b10"), 10);
	assert_int_equal(c.n, 4);
	store_unwatch(f->s, w);
	collector_release(&c);

	/* Compacting everything keeps the live keys. */
	assert_int_equal(store_compact(f->s, 10), 0);
	assert_int_equal(count_rows(f->path), 4);
	assert_list(f->s, "/k/", NULL, 0, 0, STRV("/k/a", "/k/b", "/k/c", "/k/d"),
		    STRV("a9", "b10", "c1", "d1"), 10);
}

/* Reads at or above the compacted revision race with compaction and must
 * answer either exactly or -ERANGE, never with rows missing. One writer
 * updates CR_KEYS keys round-robin, so revision r is update (r-1)/CR_KEYS of
 * key (r-1)%CR_KEYS and the state at any revision is known. */
#define CR_KEYS 8
#define CR_OPS	1200

struct compact_race {
	struct store *s;
	atomic_bool writing;
	atomic_int compactions;
};

static void *cr_writer_main(void *arg)
{
	struct compact_race *cr = arg;

	for (int r = 1; r <= CR_OPS; r++) {
		int k = (r - 1) % CR_KEYS, j = (r - 1) / CR_KEYS;
		char key[32], value[32];
		struct store_op op;

		snprintf(key, sizeof(key), "/cr/%d", k);
		snprintf(value, sizeof(value), "%d", j);
		if (do_op(cr->s, j ? STORE_OP_UPDATE : STORE_OP_CREATE, key, value,
			  j ? r - CR_KEYS : 0, &op) != 0 ||
		    op.rev != r)
			abort();
	}
	atomic_store(&cr->writing, false);
	return NULL;
}

static void *cr_compactor_main(void *arg)
{
	struct compact_race *cr = arg;

	while (atomic_load(&cr->writing)) {
		int64_t target = store_current_rev(cr->s) - 3;
		if (target > store_compacted_rev(cr->s)) {
			if (store_compact(cr->s, target) != 0)
				abort();
			atomic_fetch_add(&cr->compactions, 1);
		}
		usleep(500);
	}
	return NULL;
}

static void cr_check_event(const struct store_event *ev, void *userdata)
{
	int64_t *next = userdata;
	int64_t r = ev->rev, k = (r - 1) % CR_KEYS, j = (r - 1) / CR_KEYS;
	char key[32], value[32];

	snprintf(key, sizeof(key), "/cr/%" PRId64, k);
	snprintf(value, sizeof(value), "%" PRId64, j);
	if (r != *next || !streq(ev->key, key) || ev->value_len != strlen(value) ||
	    memcmp(ev->value, value, ev->value_len) != 0 || ev->prev_rev != (j ? r - CR_KEYS : 0))
		abort();
	(*next)++;
}

static void test_compact_race(void **state)
{
	struct fixture *f = *state;
	struct compact_race cr = { .s = f->s, .writing = true };
	unsigned ok = 0, gone = 0;
	pthread_t writer, compactor;

	sqlite_store_set_compact_chunk(f->s, 3);
	assert_int_equal(pthread_create(&writer, NULL, cr_writer_main, &cr), 0);
	assert_int_equal(pthread_create(&compactor, NULL, cr_compactor_main, &cr), 0);

	while (atomic_load(&cr.writing)) {
		int64_t at = store_compacted_rev(f->s) + 1, rev = 0, next = at + 1;
		struct store_kv_list l = { 0 };
		int r;

		if (at < CR_KEYS || at > store_current_rev(f->s))
			continue;
		r = store_list(f->s, "/cr/", NULL, at, 0, &l, &rev);
		if (r == -ERANGE) {
			gone++;
			continue;
		}
		assert_int_equal(r, 0);
		assert_int_equal(rev, at);
		assert_int_equal(l.n, CR_KEYS);
		for (int k = 0; k < CR_KEYS; k++) {
			int64_t j = (at - 1 - k) / CR_KEYS, mod = j * CR_KEYS + k + 1;
			char value[32];
			snprintf(value, sizeof(value), "%" PRId64, j);
			assert_int_equal(l.items[k].mod_rev, mod);
			assert_string_equal((const char *)l.items[k].value, value);
		}
		store_kv_list_release(&l);

		r = store_history(f->s, "/cr/", at, at + 20, cr_check_event, &next);
		if (r == -ERANGE)
			gone++;
		else
			assert_int_equal(r, 0);
		ok++;
	}
	pthread_join(writer, NULL);
	pthread_join(compactor, NULL);
	print_message("  %u reads checked, %u answered -ERANGE, %d compactions\n", ok, gone,
		      atomic_load(&cr.compactions));
	assert_true(ok > 0);
	assert_true(atomic_load(&cr.compactions) > 0);
}

static void test_reopen(void **state)
{
	struct fixture *f = *state;

	create(f->s, "/a", "1");
	create(f->s, "/b", "1");
	reopen(f);
	assert_int_equal(store_current_rev(f->s), 2);
	assert_get(f->s, "/b", "1", 2, 2);
	assert_int_equal(create(f->s, "/c", "1"), 3);

	/* Compact away the newest rows (a delete and what it deleted). */
	delete_key(f->s, "/a", 0);			/* 4 */
	assert_int_equal(delete_key(f->s, "/c", 3), 5); /* 5 */
	assert_int_equal(store_compact(f->s, 5), 0);
	assert_int_equal(count_rows(f->path), 1); /* only /b@2 */
	reopen(f);
	assert_int_equal(store_current_rev(f->s), 5);
	assert_int_equal(store_compacted_rev(f->s), 5);
	assert_list(f->s, "", NULL, 0, 0, STRV("/b"), STRV("1"), 5);
	assert_int_equal(create(f->s, "/a", "again"), 6);
	reopen(f);
	assert_int_equal(store_current_rev(f->s), 6);
	assert_get(f->s, "/a", "again", 6, 6);
}

/* ---- group commit and throughput ---- */

#define GC_THREADS    16
#define GC_VALUE_SIZE 1024

struct gc_thread {
	struct store *s;
	int id;
	int ops;
	int64_t *revs;
};

static void *gc_thread_main(void *arg)
{
	struct gc_thread *t = arg;
	char value[GC_VALUE_SIZE];

	memset(value, 'a' + t->id % 26, sizeof(value));
	for (int i = 0; i < t->ops; i++) {
		char key[64];
		struct store_op op = { .type = STORE_OP_CREATE,
				       .key = key,
				       .value = value,
				       .value_len = sizeof(value) };
		snprintf(key, sizeof(key), "/registry/bench/t%02d/%06d", t->id, i);
		if (store_exec(t->s, &op) != 0)
			abort();
		t->revs[i] = op.rev;
	}
	return NULL;
}

static int cmp_int64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static void test_group_commit(void **state)
{
	struct fixture *f = *state;
	const char *env = getenv("C8S_STORE_BENCH_OPS");
	int per_thread = env ? atoi(env) : 200;
	int total = per_thread * GC_THREADS;
	struct gc_thread threads[GC_THREADS];
	pthread_t tids[GC_THREADS];
	_cleanup_free_ int64_t *revs = xnew(int64_t, (size_t)total);
	struct sqlite_store_stats stats;
	uint64_t start, elapsed;

	start = now_usec_monotonic();
	for (int i = 0; i < GC_THREADS; i++) {
		threads[i] = (struct gc_thread){
			.s = f->s, .id = i, .ops = per_thread, .revs = revs + (size_t)i * per_thread
		};
		assert_int_equal(pthread_create(&tids[i], NULL, gc_thread_main, &threads[i]), 0);
	}
	for (int i = 0; i < GC_THREADS; i++)
		pthread_join(tids[i], NULL);
	elapsed = now_usec_monotonic() - start;

	sqlite_store_get_stats(f->s, &stats);
	print_message("  %d durable creates of %d bytes from %d threads in %.3f s: %.0f/s, "
		      "%" PRIu64 " commits, average batch %.1f, largest %" PRIu64 "\n",
		      total, GC_VALUE_SIZE, GC_THREADS, (double)elapsed / 1e6,
		      total / ((double)elapsed / 1e6), stats.commits,
		      (double)stats.ops / (double)stats.batches, stats.max_batch);

	/* Every write got its own revision, 1..total. */
	qsort(revs, (size_t)total, sizeof(*revs), cmp_int64);
	for (int i = 0; i < total; i++)
		assert_int_equal(revs[i], i + 1);
	assert_int_equal(stats.ops, total);
	/* Concurrent writers shared commits. */
	assert_true(stats.commits < stats.ops / 2);
	assert_true(stats.max_batch > 1);
}

/* ---- crash safety ---- */

#define CRASH_THREADS 16

struct ack {
	int32_t thread;
	int32_t index;
	int64_t rev;
};

struct crash_thread {
	struct store *s;
	int id;
	int pipe_fd;
};

static void crash_key(char *buf, size_t size, int thread, int index)
{
	snprintf(buf, size, "/crash/%02d/%07d", thread, index);
}

static void *crash_thread_main(void *arg)
{
	struct crash_thread *t = arg;
	char value[GC_VALUE_SIZE];

	memset(value, 'x', sizeof(value));
	for (int i = 0;; i++) {
		char key[64];
		struct store_op op = { .type = STORE_OP_CREATE,
				       .key = key,
				       .value = value,
				       .value_len = sizeof(value) };
		crash_key(key, sizeof(key), t->id, i);
		if (store_exec(t->s, &op) != 0)
			_exit(3);
		struct ack a = { .thread = t->id, .index = i, .rev = op.rev };
		if (write(t->pipe_fd, &a, sizeof(a)) != sizeof(a))
			_exit(4);
	}
	return NULL;
}

static _noreturn_ void crash_child(const char *path, int pipe_fd)
{
	struct crash_thread threads[CRASH_THREADS];
	pthread_t tid;
	struct store *s;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	alarm(60);
	if (store_open(path, &s) < 0)
		_exit(2);
	for (int i = 0; i < CRASH_THREADS; i++) {
		threads[i] = (struct crash_thread){ .s = s, .id = i, .pipe_fd = pipe_fd };
		if (pthread_create(&tid, NULL, crash_thread_main, &threads[i]) != 0)
			_exit(5);
	}
	for (;;)
		pause();
}

static void test_crash(void **state)
{
	struct fixture *f = *state;
	size_t n = 0, alloc = 4096;
	_cleanup_free_ struct ack *acks = xnew(struct ack, alloc);
	int64_t max_rev = 0;
	int fds[2], status;
	pid_t pid;

	/* The child owns the store while it runs. */
	store_close(f->s);
	f->s = NULL;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		crash_child(f->path, fds[1]);
	}
	close(fds[1]);

	/* Kill it once it has acknowledged a few thousand writes (a little
	 * randomness moves the point of death around). */
	srand((unsigned)getpid());
	size_t kill_after = 2000 + (size_t)(rand() % 1000);
	bool killed = false;
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		int r = poll(&pfd, 1, 30000);
		assert_true(r > 0); /* bounded: the child must make progress */
		struct ack a;
		ssize_t k = read(fds[0], &a, sizeof(a));
		if (k == 0)
			break; /* every writer of the pipe is gone */
		assert_int_equal(k, sizeof(a));
		if (n == alloc) {
			alloc *= 2;
			acks = xrealloc(acks, alloc * sizeof(*acks));
		}
		acks[n++] = a;
		if (!killed && n >= kill_after) {
			assert_int_equal(kill(pid, SIGKILL), 0);
			killed = true;
		}
	}
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* Everything acknowledged survived. */
	assert_int_equal(store_open(f->path, &f->s), 0);
	for (size_t i = 0; i < n; i++) {
		char key[64];
		struct store_kv kv = { 0 };
		crash_key(key, sizeof(key), acks[i].thread, acks[i].index);
		assert_int_equal(store_get(f->s, key, &kv), 0);
		assert_int_equal(kv.mod_rev, acks[i].rev);
		assert_int_equal(kv.value_len, GC_VALUE_SIZE);
		store_kv_release(&kv);
		max_rev = MAX(max_rev, acks[i].rev);
	}
	assert_true(store_current_rev(f->s) >= max_rev);
	print_message("  %zu acknowledged writes before SIGKILL, all present; revision %" PRId64
		      " >= %" PRId64 "\n",
		      n, store_current_rev(f->s), max_rev);

	/* And the store goes on from there. */
	int64_t rev = create(f->s, "/after-crash", "1");
	assert_int_equal(rev, store_current_rev(f->s));
	assert_true(rev > max_rev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_locations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_boundary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_semantics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
