/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The etcd backend (src/store/etcd.c) against a real single-member etcd
 * started here on free loopback ports in a temporary directory, stopped by
 * PID. Skipped when /usr/bin/etcd is absent.
 */
#include "unit.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "store/store.h"

#define ETCD_BIN "/usr/bin/etcd"

static pid_t etcd_pid;
static char etcd_dir[64];
static char *etcd_url;
static unsigned prefix_seq;

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		abort();
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int cport, pport;

static pid_t start_etcd(void)
{
	_cleanup_free_ char *curl = xasprintf("http://127.0.0.1:%d", cport);
	_cleanup_free_ char *purl = xasprintf("http://127.0.0.1:%d", pport);
	_cleanup_free_ char *cluster = xasprintf("t=%s", purl);
	_cleanup_free_ char *data = xasprintf("%s/data", etcd_dir);
	pid_t pid = fork();

	if (pid == 0) {
		_cleanup_free_ char *log = xasprintf("%s/etcd.log", etcd_dir);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(ETCD_BIN, ETCD_BIN, "--name", "t", "--data-dir", data, "--listen-client-urls",
		      curl, "--advertise-client-urls", curl, "--listen-peer-urls", purl,
		      "--initial-advertise-peer-urls", purl, "--initial-cluster", cluster,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int group_setup(void **state)
{
	if (access(ETCD_BIN, X_OK) != 0)
		return 0;
	cport = free_port();
	pport = free_port();
	strcpy(etcd_dir, "/tmp/c8s-etcd-test-XXXXXX");
	if (!mkdtemp(etcd_dir))
		return -1;
	etcd_pid = start_etcd();
	if (etcd_pid < 0)
		return -1;
	etcd_url = xasprintf("etcd://127.0.0.1:%d", cport);
	return 0;
}

static int group_teardown(void **state)
{
	if (etcd_pid > 0) {
		kill(etcd_pid, SIGTERM);
		waitpid(etcd_pid, NULL, 0);
		_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", etcd_dir);
		if (system(cmd) != 0)
			return -1;
	}
	free(etcd_url);
	return 0;
}

/* Each test gets its own key prefix in the same etcd. */
static int setup(void **state)
{
	struct store *s = NULL;
	_cleanup_free_ char *loc = NULL;

	if (!etcd_url)
		return 0;
	loc = xasprintf("%s/t%d-%u", etcd_url, (int)getpid(), prefix_seq++);
	if (store_open(loc, &s) < 0)
		return -1;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	store_close(*state);
	return 0;
}

#define NEED_ETCD()             \
	do {                    \
		if (!etcd_url)  \
			skip(); \
	} while (0)

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

static void assert_get(struct store *s, const char *key, const char *value, int64_t mod_rev,
		       int64_t create_rev)
{
	struct store_kv kv = { 0 };

	assert_int_equal(store_get(s, key, &kv), 0);
	assert_string_equal(kv.key, key);
	assert_int_equal(kv.value_len, strlen(value));
	assert_string_equal((const char *)kv.value, value);
	assert_int_equal(kv.mod_rev, mod_rev);
	assert_int_equal(kv.create_rev, create_rev);
	store_kv_release(&kv);
}

static void test_crud(void **state)
{
	struct store *s = *state;
	struct store_op op, op2;
	struct store_kv kv = { 0 };

	NEED_ETCD();
	assert_int_equal(store_get(s, "/a", &kv), -ENOENT);
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/a", "v1", 0, &op), 0);
	assert_true(op.rev > 0);
	assert_int_equal(op.create_rev, op.rev);
	assert_get(s, "/a", "v1", op.rev, op.rev);
	assert_true(store_current_rev(s) >= op.rev);
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/a", "x", 0, NULL), -EEXIST);

	/* update-if-revision */
	assert_int_equal(do_op(s, STORE_OP_UPDATE, "/a", "v2", op.rev, &op2), 0);
	assert_true(op2.rev > op.rev);
	assert_int_equal(op2.create_rev, op.rev);
	assert_get(s, "/a", "v2", op2.rev, op.rev);
	assert_int_equal(do_op(s, STORE_OP_UPDATE, "/a", "v3", op.rev, &op), -ESTALE);
	assert_int_equal(op.cur_rev, op2.rev);
	assert_int_equal(do_op(s, STORE_OP_UPDATE, "/nope", "v", 5, NULL), -ENOENT);

	/* delete-if-revision */
	assert_int_equal(do_op(s, STORE_OP_DELETE, "/a", NULL, op2.rev - 1, &op), -ESTALE);
	assert_int_equal(op.cur_rev, op2.rev);
	assert_int_equal(do_op(s, STORE_OP_DELETE, "/a", NULL, op2.rev, &op), 0);
	assert_true(op.rev > op2.rev);
	assert_int_equal(store_get(s, "/a", &kv), -ENOENT);
	assert_int_equal(do_op(s, STORE_OP_DELETE, "/a", NULL, 0, NULL), -ENOENT);
	/* unconditional delete, and a key re-created after deletion */
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/a", "again", 0, &op), 0);
	assert_int_equal(op.create_rev, op.rev);
	assert_int_equal(do_op(s, STORE_OP_DELETE, "/a", NULL, 0, NULL), 0);
}

static void test_list(void **state)
{
	struct store *s = *state;
	struct store_kv_list l = { 0 };
	struct store_op op;
	int64_t rev, r1;

	NEED_ETCD();
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/p/b", "B", 0, &op), 0);
	r1 = op.rev;
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/p/a", "A", 0, NULL), 0);
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/p/c", "C", 0, NULL), 0);
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/q/x", "X", 0, NULL), 0);

	assert_int_equal(store_list(s, "/p/", NULL, 0, 0, &l, &rev), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.items[0].key, "/p/a");
	assert_string_equal(l.items[2].key, "/p/c");
	assert_string_equal((char *)l.items[1].value, "B");
	assert_true(rev >= op.rev);
	store_kv_list_release(&l);

	/* paging */
	assert_int_equal(store_list(s, "/p/", "/p/a", 0, 1, &l, &rev), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].key, "/p/b");
	store_kv_list_release(&l);

	/* at an old revision */
	assert_int_equal(store_list(s, "/p/", NULL, r1, 0, &l, &rev), 0);
	assert_int_equal(rev, r1);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.items[0].key, "/p/b");
	store_kv_list_release(&l);

	/* a future revision */
	assert_int_equal(store_list(s, "/p/", NULL, store_current_rev(s) + 1000, 0, &l, &rev),
			 -ERANGE);
}

struct collector {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct store_event evs[16];
	char keys[16][32], values[16][32];
	const void *origins[16];
	size_t n;
};

static void collect(const struct store_event *ev, void *ud)
{
	struct collector *c = ud;

	pthread_mutex_lock(&c->lock);
	if (c->n < 16) {
		c->evs[c->n] = *ev;
		snprintf(c->keys[c->n], 32, "%s", ev->key);
		snprintf(c->values[c->n], 32, "%.*s", (int)ev->value_len, (const char *)ev->value);
		c->origins[c->n] = ev->origin;
		c->n++;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void test_watch(void **state)
{
	struct store *s = *state;
	struct collector c = { .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER };
	struct collector h = c;
	struct store_watch *w;
	struct store_op op = {
		.type = STORE_OP_CREATE, .key = "/w/1", .value = "one", .value_len = 3
	};
	int64_t r0 = store_current_rev(s), r1, r2, r3;
	int marker;

	NEED_ETCD();
	assert_int_equal(store_watch(s, "/w/", r0, collect, &c, &w), 0);

	op.origin = &marker;
	assert_int_equal(store_exec(s, &op), 0);
	r1 = op.rev;
	/* done() comes after the watcher got the event, with our origin */
	pthread_mutex_lock(&c.lock);
	assert_int_equal(c.n, 1);
	pthread_mutex_unlock(&c.lock);
	assert_ptr_equal(c.origins[0], &marker);

	assert_int_equal(do_op(s, STORE_OP_UPDATE, "/w/1", "two", r1, &op), 0);
	r2 = op.rev;
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/other", "z", 0, NULL), 0);
	assert_int_equal(do_op(s, STORE_OP_DELETE, "/w/1", NULL, r2, &op), 0);
	r3 = op.rev;

	pthread_mutex_lock(&c.lock);
	assert_int_equal(c.n, 3);
	pthread_mutex_unlock(&c.lock);
	assert_int_equal(c.evs[0].type, STORE_EVENT_PUT);
	assert_int_equal(c.evs[0].rev, r1);
	assert_int_equal(c.evs[0].create_rev, r1);
	assert_int_equal(c.evs[0].prev_rev, 0);
	assert_string_equal(c.values[0], "one");
	assert_int_equal(c.evs[1].rev, r2);
	assert_int_equal(c.evs[1].prev_rev, r1);
	assert_null(c.origins[1]);
	assert_string_equal(c.values[1], "two");
	/* a delete carries the last value */
	assert_int_equal(c.evs[2].type, STORE_EVENT_DELETE);
	assert_int_equal(c.evs[2].rev, r3);
	assert_int_equal(c.evs[2].create_rev, r1);
	assert_int_equal(c.evs[2].prev_rev, r2);
	assert_string_equal(c.keys[2], "/w/1");
	assert_string_equal(c.values[2], "two");
	store_unwatch(s, w);

	/* history and a watch from an old revision replay the same */
	assert_int_equal(store_history(s, "/w/", r1, r3, collect, &h), 0);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.evs[0].rev, r2);
	assert_int_equal(h.evs[1].rev, r3);
	assert_string_equal(h.values[1], "two");
	h.n = 0;
	assert_int_equal(store_watch(s, "/w/", r0, collect, &h, &w), 0);
	assert_int_equal(h.n, 3); /* synchronously, before watch returned */
	assert_null(h.origins[0]);
	store_unwatch(s, w);
}

static void test_compact(void **state)
{
	struct store *s = *state;
	struct store_kv_list l = { 0 };
	struct store_watch *w;
	struct collector c = { .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER };
	struct store_op op;
	int64_t r1, r2, rev;

	NEED_ETCD();
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/c/a", "1", 0, &op), 0);
	r1 = op.rev;
	assert_int_equal(do_op(s, STORE_OP_UPDATE, "/c/a", "2", r1, &op), 0);
	r2 = op.rev;
	assert_int_equal(store_compact(s, r2), 0);
	assert_int_equal(store_compacted_rev(s), r2);
	assert_int_equal(store_list(s, "/c/", NULL, r1, 0, &l, &rev), -ERANGE);
	assert_int_equal(store_watch(s, "/c/", r1, collect, &c, &w), -ERANGE);
	assert_int_equal(store_history(s, "/c/", r1, r2, collect, &c), -ERANGE);
	/* the current version survives */
	assert_get(s, "/c/a", "2", r2, r1);
	assert_int_equal(store_list(s, "/c/", NULL, r2, 0, &l, &rev), 0);
	assert_int_equal(l.n, 1);
	store_kv_list_release(&l);
	/* compacting again is harmless; the future is refused */
	assert_int_equal(store_compact(s, r1), 0);
	assert_int_equal(store_compact(s, store_current_rev(s) + 100), -ERANGE);

	/* a second store over the same etcd and prefix sees the compaction */
	assert_int_equal(store_watch(s, "/c/", r2, collect, &c, &w), 0);
	store_unwatch(s, w);
}

struct concurrent {
	struct store_op ops[32];
	char keys[32][16];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned done;
};

static void conc_done(struct store_op *op)
{
	struct concurrent *k = op->userdata;

	pthread_mutex_lock(&k->lock);
	k->done++;
	pthread_cond_broadcast(&k->cond);
	pthread_mutex_unlock(&k->lock);
}

static void test_concurrent(void **state)
{
	struct store *s = *state;
	struct concurrent k = { .lock = PTHREAD_MUTEX_INITIALIZER,
				.cond = PTHREAD_COND_INITIALIZER };
	struct store_kv_list l = { 0 };
	int64_t rev;

	NEED_ETCD();
	for (int i = 0; i < 32; i++) {
		snprintf(k.keys[i], sizeof(k.keys[i]), "/n/%02d", i);
		k.ops[i] = (struct store_op){ .type = STORE_OP_CREATE,
					      .key = k.keys[i],
					      .value = "v",
					      .value_len = 1,
					      .done = conc_done,
					      .userdata = &k };
		store_submit(s, &k.ops[i]);
	}
	pthread_mutex_lock(&k.lock);
	while (k.done < 32)
		pthread_cond_wait(&k.cond, &k.lock);
	pthread_mutex_unlock(&k.lock);
	for (int i = 0; i < 32; i++)
		assert_int_equal(k.ops[i].result, 0);
	assert_int_equal(store_list(s, "/n/", NULL, 0, 0, &l, &rev), 0);
	assert_int_equal(l.n, 32);
	store_kv_list_release(&l);
}

static void test_second_store(void **state)
{
	struct store *s = *state, *s2 = NULL;
	struct store_kv kv = { 0 };
	struct store_op op;
	_cleanup_free_ char *loc = NULL;

	NEED_ETCD();
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/shared", "x", 0, &op), 0);
	/* a bad location is an error, not a crash */
	assert_int_equal(store_open("etcd://,", &s2), -EINVAL);
	loc = xasprintf("%s/t%d-%u", etcd_url, (int)getpid(), prefix_seq - 1);
	assert_int_equal(store_open(loc, &s2), 0);
	assert_int_equal(store_get(s2, "/shared", &kv), 0);
	assert_int_equal(kv.mod_rev, op.rev);
	store_kv_release(&kv);
	assert_int_equal(do_op(s2, STORE_OP_CREATE, "/shared", "y", 0, NULL), -EEXIST);
	/* history older than s2's cache comes from etcd itself */
	struct collector h = { .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER };
	assert_int_equal(store_history(s2, "/", op.rev - 1, op.rev, collect, &h), 0);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.keys[0], "/shared");
	assert_int_equal(h.evs[0].rev, op.rev);
	store_close(s2);
}

/* etcd goes away and comes back: a write submitted meanwhile is retried,
 * and the watch stream reconnects and resumes without loss or duplicates. */
static void test_restart(void **state)
{
	struct store *s = *state;
	struct collector c = { .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER };
	struct store_watch *w;
	struct store_op op;
	int64_t r1;

	NEED_ETCD();
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/r/1", "a", 0, &op), 0);
	r1 = op.rev;
	assert_int_equal(store_watch(s, "/r/", r1 - 1, collect, &c, &w), 0);
	kill(etcd_pid, SIGKILL);
	waitpid(etcd_pid, NULL, 0);
	usleep(300 * 1000);
	etcd_pid = start_etcd();
	assert_true(etcd_pid > 0);
	assert_int_equal(do_op(s, STORE_OP_CREATE, "/r/2", "b", 0, &op), 0);
	assert_int_equal(do_op(s, STORE_OP_UPDATE, "/r/2", "c", op.rev, &op), 0);
	pthread_mutex_lock(&c.lock);
	assert_int_equal(c.n, 3);
	pthread_mutex_unlock(&c.lock);
	assert_int_equal(c.evs[0].rev, r1);
	assert_string_equal(c.keys[1], "/r/2");
	assert_int_equal(c.evs[2].rev, op.rev);
	assert_string_equal(c.values[2], "c");
	store_unwatch(s, w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_compact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
