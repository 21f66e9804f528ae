/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The embedded SQLite backend: a revision log in one table, one row per
 * revision, written by one thread with group commit. See README.md in this
 * directory for the theory of operation.
 */
#include <assert.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <sys/file.h>

#include "lib/log.h"
#include "lib/macro.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

#define MAX_BATCH	    1000 /* ops per write transaction */
#define MAX_IDLE_READERS    8	 /* read connections kept open when idle */
#define COMPACT_CHUNK	    1000 /* rows per compaction transaction */
#define BUSY_TIMEOUT_MS	    5000
#define SCHEMA_VERSION	    1
#define SQLITE_LOCATION_PFX "sqlite://"

static const char schema_sql[] = "CREATE TABLE IF NOT EXISTS kv ("
				 " id INTEGER PRIMARY KEY AUTOINCREMENT,"
				 " name TEXT NOT NULL,"
				 " created INTEGER NOT NULL,"
				 " deleted INTEGER NOT NULL,"
				 " create_revision INTEGER NOT NULL,"
				 " prev_revision INTEGER NOT NULL,"
				 " value BLOB NOT NULL);"
				 "CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id);"
				 "CREATE TABLE IF NOT EXISTS meta ("
				 " key TEXT PRIMARY KEY,"
				 " value INTEGER NOT NULL) WITHOUT ROWID;";

/* Statements of the write connection, used only by the writer thread. */
enum {
	W_BEGIN,
	W_COMMIT,
	W_ROLLBACK,
	W_LATEST,
	W_LATEST_VALUE,
	W_INSERT,
	W_COMPACT_BOUND,
	W_COMPACT_PREV,
	W_COMPACT_TOMB,
	W_COMPACT_META,
	_W_MAX
};

static const char *const writer_sql[_W_MAX] = {
	[W_BEGIN] = "BEGIN IMMEDIATE",
	[W_COMMIT] = "COMMIT",
	[W_ROLLBACK] = "ROLLBACK",
	[W_LATEST] = "SELECT id, deleted, create_revision FROM kv"
		     " WHERE name = ?1 ORDER BY id DESC LIMIT 1",
	[W_LATEST_VALUE] = "SELECT id, deleted, create_revision, value FROM kv"
			   " WHERE name = ?1 ORDER BY id DESC LIMIT 1",
	[W_INSERT] = "INSERT INTO kv (id, name, created, deleted, create_revision, prev_revision,"
		     " value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/* The upper end of the next compaction chunk: the chunk-th row after lo. */
	[W_COMPACT_BOUND] = "SELECT id FROM kv WHERE id > ?1 AND id <= ?2"
			    " ORDER BY id LIMIT 1 OFFSET ?3",
	/* Every row superseded by a row in (lo, hi]. */
	[W_COMPACT_PREV] = "DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv"
			   " WHERE id > ?1 AND id <= ?2 AND prev_revision > 0)",
	[W_COMPACT_TOMB] = "DELETE FROM kv WHERE deleted = 1 AND id > ?1 AND id <= ?2",
	[W_COMPACT_META] = "INSERT OR REPLACE INTO meta (key, value) VALUES ('compact_rev', ?1)",
};

/* Statements of a read connection. */
enum { R_BEGIN, R_END, R_SNAP, R_GET, R_LIST_GE, R_LIST_GT, R_HIST, _R_MAX };

/* Latest version <= ?3 of each key in [?1, ?2) (or (?1, ?2)), live keys only. */
#define LIST_SQL(cmp)                                                                      \
	"SELECT a.id, a.name, a.create_revision, a.value FROM kv AS a"                     \
	" WHERE a.name " cmp " ?1 AND a.name < ?2 AND a.id <= ?3 AND a.deleted = 0"        \
	" AND a.id = (SELECT MAX(b.id) FROM kv AS b WHERE b.name = a.name AND b.id <= ?3)" \
	" ORDER BY a.name LIMIT ?4"

static const char *const reader_sql[_R_MAX] = {
	[R_BEGIN] = "BEGIN",
	[R_END] = "COMMIT",
	/* Compacted and current revision, as seen by this read transaction. */
	[R_SNAP] = "SELECT (SELECT value FROM meta WHERE key = 'compact_rev'),"
		   " (SELECT seq FROM sqlite_sequence WHERE name = 'kv')",
	[R_GET] = "SELECT id, deleted, create_revision, value FROM kv"
		  " WHERE name = ?1 ORDER BY id DESC LIMIT 1",
	[R_LIST_GE] = LIST_SQL(">="),
	[R_LIST_GT] = LIST_SQL(">"),
	[R_HIST] = "SELECT id, name, created, deleted, create_revision, prev_revision, value"
		   " FROM kv WHERE id > ?1 AND id <= ?2 AND name >= ?3 AND name < ?4 ORDER BY id",
};

struct sqlite_store;

struct reader {
	struct sqlite_store *s;
	sqlite3 *db;
	sqlite3_stmt *st[_R_MAX];
	struct reader *next;
};

struct store_watch {
	char *prefix;
	size_t prefix_len;
	int64_t from_rev;
	store_watch_fn fn;
	void *userdata;
	bool cancelled; /* unwatched from a callback; freed when dispatch ends */
	struct store_watch *prev, *next;
};

struct compact_req {
	int64_t target;
	int result;
	bool done;
};

/* One op of the batch the writer is running. */
struct batch_item {
	struct store_op *op;
	struct store_event ev; /* valid when op->result == 0 */
	void *old_value;       /* delete: the last value, owned */
};

struct sqlite_store {
	struct store base;
	char *path;
	int lock_fd;

	/* Writer thread and the write connection it owns. */
	sqlite3 *wdb;
	sqlite3_stmt *wst[_W_MAX];
	pthread_t writer;
	bool writer_started;
	bool broken; /* a COMMIT failed: refuse writes until reopened */
	atomic_uint compact_chunk;
	struct batch_item *items;

	/* Queue, protected by lock; cond wakes the writer. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t compact_cond;
	struct store_op *head, **tail;
	struct compact_req *compact_req;
	bool stopping, writer_exited, hold;

	pthread_mutex_t compact_serial; /* one compaction at a time */

	/* Idle read connections. */
	pthread_mutex_t pool_lock;
	struct reader *idle;
	unsigned n_idle;

	/* Watchers; the writer holds dispatch_lock while delivering events. */
	pthread_mutex_t dispatch_lock;
	struct store_watch *watchers;
	unsigned n_cancelled;

	_Atomic int64_t rev;	   /* last committed revision */
	_Atomic int64_t delivered; /* last revision delivered to watchers */
	_Atomic int64_t compacted; /* compacted revision */

	atomic_uint fail_countdown;
	_Atomic uint64_t n_batches, n_commits, n_ops, max_batch, n_compact_chunks;
};

/* The store whose dispatch_lock this thread holds, if any. */
static __thread struct sqlite_store *tls_dispatching;

static struct sqlite_store *to_sqlite(struct store *s)
{
	assert(s && s->backend == &store_backend_sqlite);
	return (struct sqlite_store *)s;
}

/* ---- small helpers ---- */

/* A NUL-terminated copy of a value (the NUL is not counted in n). */
static void *dup_value(const void *p, size_t n)
{
	char *q = xmalloc(n + 1);

	if (n)
		memcpy(q, p, n);
	q[n] = 0;
	return q;
}

/* The smallest string greater than every string starting with prefix, or
 * NULL if there is none (empty prefix, or all bytes 0xff). */
static char *prefix_end(const char *prefix)
{
	size_t n = strlen(prefix);
	char *e;

	while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (n == 0)
		return NULL;
	e = xstrndup(prefix, n);
	e[n - 1] = (char)((unsigned char)e[n - 1] + 1);
	return e;
}

/* Bind an exclusive upper bound on name; NULL means none. A BLOB sorts after
 * every TEXT value in SQLite, so an empty blob bounds nothing. */
static int bind_upper(sqlite3_stmt *st, int idx, const char *end)
{
	if (end)
		return sqlite3_bind_text(st, idx, end, -1, SQLITE_STATIC);
	return sqlite3_bind_zeroblob(st, idx, 0);
}

/* Step a statement that returns no row we need, and reset it. */
static int step_reset(sqlite3_stmt *st)
{
	int r = sqlite3_step(st);

	sqlite3_reset(st);
	return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : -EIO;
}

static int prepare_all(sqlite3 *db, const char *const *sql, size_t n, sqlite3_stmt **ret)
{
	for (size_t i = 0; i < n; i++)
		if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ret[i], NULL) !=
		    SQLITE_OK)
			return -EIO;
	return 0;
}

static void finalize_all(sqlite3_stmt **st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_finalize(st[i]);
		st[i] = NULL;
	}
}

static int db_open(const char *path, bool create, sqlite3 **ret)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	sqlite3 *db = NULL;
	int r;

	r = sqlite3_open_v2(path, &db, flags, NULL);
	if (r != SQLITE_OK) {
		int e = db ? sqlite3_system_errno(db) : 0;
		sqlite3_close(db);
		return e > 0 ? -e : -EIO;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	*ret = db;
	return 0;
}

/* Run a one-row query at open time; a missing row or NULL reads as 0. */
static int db_query_int64(sqlite3 *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		*ret = sqlite3_column_int64(st, 0);
	else if (r == SQLITE_DONE)
		*ret = 0;
	sqlite3_finalize(st);
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : -EIO;
}

static int db_set_wal(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	bool wal = false;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(st, 0);
		wal = mode && streq(mode, "wal");
	}
	sqlite3_finalize(st);
	return wal ? 0 : -EOPNOTSUPP;
}

/* Make sure the directory entries of a freshly created database are durable. */
static int fsync_parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int fd = -1;

	if (!slash)
		dir = xstrdup(".");
	else
		dir = xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		return -errno;
	return 0;
}

/* One process at a time: the writer thread assumes it is the only writer. */
static int lock_store(const char *path, int *ret_fd)
{
	_cleanup_free_ char *lock_path = xasprintf("%s.lock", path);
	_cleanup_close_ int fd = -1;

	fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* ---- read connections ---- */

static void reader_free(struct reader *rd)
{
	if (!rd)
		return;
	finalize_all(rd->st, _R_MAX);
	sqlite3_close(rd->db);
	free(rd);
}

static int reader_new(struct sqlite_store *s, struct reader **ret)
{
	struct reader *rd = xnew(struct reader, 1);
	int r;

	rd->s = s;
	r = db_open(s->path, false, &rd->db);
	if (r < 0) {
		free(rd);
		return r;
	}
	if (sqlite3_exec(rd->db, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK ||
	    prepare_all(rd->db, reader_sql, _R_MAX, rd->st) < 0) {
		reader_free(rd);
		return -EIO;
	}
	*ret = rd;
	return 0;
}

static int reader_acquire(struct sqlite_store *s, struct reader **ret)
{
	struct reader *rd;

	pthread_mutex_lock(&s->pool_lock);
	rd = s->idle;
	if (rd) {
		s->idle = rd->next;
		s->n_idle--;
	}
	pthread_mutex_unlock(&s->pool_lock);
	if (!rd)
		return reader_new(s, ret);
	rd->next = NULL;
	*ret = rd;
	return 0;
}

/* Reset the connection (ending any read transaction) and put it back. */
static void reader_release(struct reader *rd)
{
	struct sqlite_store *s;

	if (!rd)
		return;
	s = rd->s;
	for (size_t i = 0; i < _R_MAX; i++)
		sqlite3_reset(rd->st[i]);
	if (!sqlite3_get_autocommit(rd->db) && step_reset(rd->st[R_END]) < 0) {
		reader_free(rd);
		return;
	}
	pthread_mutex_lock(&s->pool_lock);
	if (s->n_idle < MAX_IDLE_READERS) {
		rd->next = s->idle;
		s->idle = rd;
		s->n_idle++;
		rd = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	reader_free(rd);
}

static void reader_releasep(struct reader **rd)
{
	reader_release(*rd);
}

/* Start a read transaction; return the compacted and the current revision it sees. */
static int reader_begin(struct reader *rd, int64_t *ret_compacted, int64_t *ret_current)
{
	sqlite3_stmt *st = rd->st[R_SNAP];
	int r;

	if (step_reset(rd->st[R_BEGIN]) < 0)
		return -EIO;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		*ret_compacted = sqlite3_column_int64(st, 0);
		*ret_current = MAX(sqlite3_column_int64(st, 1), *ret_compacted);
	}
	sqlite3_reset(st);
	return r == SQLITE_ROW ? 0 : -EIO;
}

/* ---- watch dispatch ---- */

static struct sqlite_store *dispatch_lock(struct sqlite_store *s)
{
	struct sqlite_store *saved = tls_dispatching;

	pthread_mutex_lock(&s->dispatch_lock);
	tls_dispatching = s;
	return saved;
}

static void watch_unlink(struct sqlite_store *s, struct store_watch *w)
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

/* Free the watchers unwatched from callbacks, then release the lock. */
static void dispatch_unlock(struct sqlite_store *s, struct sqlite_store *saved)
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

static void notify(struct sqlite_store *s, const struct store_event *ev)
{
	for (struct store_watch *w = s->watchers; w; w = w->next)
		if (!w->cancelled && ev->rev > w->from_rev &&
		    strncmp(ev->key, w->prefix, w->prefix_len) == 0)
			w->fn(ev, w->userdata);
}

/* Replay the rows in (from_rev, to_rev] under prefix from one read snapshot.
 * -ERANGE if that snapshot has compacted past from_rev. */
static int replay(struct sqlite_store *s, const char *prefix, int64_t from_rev, int64_t to_rev,
		  store_watch_fn fn, void *userdata)
{
	_cleanup_(reader_releasep) struct reader *rd = NULL;
	_cleanup_free_ char *end = prefix_end(prefix);
	int64_t compacted, current;
	sqlite3_stmt *st;
	int r;

	r = reader_acquire(s, &rd);
	if (r < 0)
		return r;
	r = reader_begin(rd, &compacted, &current);
	if (r < 0)
		return r;
	if (from_rev < compacted)
		return -ERANGE;
	if (to_rev <= from_rev)
		return 0;

	st = rd->st[R_HIST];
	if (sqlite3_bind_int64(st, 1, from_rev) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, to_rev) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, prefix, -1, SQLITE_STATIC) != SQLITE_OK ||
	    bind_upper(st, 4, end) != SQLITE_OK)
		return -EIO;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_event ev = {
			.type = sqlite3_column_int(st, 3) ? STORE_EVENT_DELETE : STORE_EVENT_PUT,
			.key = (const char *)sqlite3_column_text(st, 1),
			.value = sqlite3_column_blob(st, 6),
			.value_len = (size_t)sqlite3_column_bytes(st, 6),
			.rev = sqlite3_column_int64(st, 0),
			.create_rev = sqlite3_column_int64(st, 4),
			.prev_rev = sqlite3_column_int64(st, 5),
		};
		fn(&ev, userdata);
	}
	sqlite3_reset(st);
	return r == SQLITE_DONE ? 0 : -EIO;
}

/* ---- the writer thread ---- */

/* The latest live version of key: id 0 if the key does not exist. */
struct latest {
	int64_t id;
	int64_t create_rev;
	void *value; /* only if asked for */
	size_t value_len;
};

static int latest_live(struct sqlite_store *s, const char *key, bool want_value, struct latest *ret)
{
	sqlite3_stmt *st = s->wst[want_value ? W_LATEST_VALUE : W_LATEST];
	struct latest l = { 0 };
	int r;

	if (sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
		return -EIO;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW && sqlite3_column_int(st, 1) == 0) {
		l.id = sqlite3_column_int64(st, 0);
		l.create_rev = sqlite3_column_int64(st, 2);
		if (want_value) {
			const void *v = sqlite3_column_blob(st, 3);
			l.value_len = (size_t)sqlite3_column_bytes(st, 3);
			l.value = dup_value(v, l.value_len);
		}
	}
	sqlite3_reset(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return -EIO;
	*ret = l;
	return 0;
}

static int insert_row(struct sqlite_store *s, const struct store_event *ev, bool created)
{
	sqlite3_stmt *st = s->wst[W_INSERT];
	unsigned n = atomic_load(&s->fail_countdown);

	/* Test hook: fail the n-th insert. */
	while (n > 0 && !atomic_compare_exchange_weak(&s->fail_countdown, &n, n - 1))
		;
	if (n == 1)
		return -EIO;

	if (sqlite3_bind_int64(st, 1, ev->rev) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, ev->key, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 3, created) != SQLITE_OK ||
	    sqlite3_bind_int(st, 4, ev->type == STORE_EVENT_DELETE) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 5, ev->create_rev) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 6, ev->prev_rev) != SQLITE_OK ||
	    sqlite3_bind_blob64(st, 7, ev->value ? ev->value : "", ev->value_len, SQLITE_STATIC) !=
		SQLITE_OK) {
		sqlite3_reset(st);
		return -EIO;
	}
	return step_reset(st);
}

/* The op cannot be applied: record why. Not a batch failure. */
static int op_reject(struct store_op *op, int error, int64_t cur_rev)
{
	op->result = error;
	op->cur_rev = cur_rev;
	return 0;
}

/* Check one op against the key's latest row and insert its row with revision
 * *next_rev. Returns 0 whether or not the op succeeded (see op->result), or
 * -EIO if SQLite failed and the whole batch must be rolled back. */
static int apply_op(struct sqlite_store *s, struct batch_item *it, int64_t *next_rev)
{
	struct store_op *op = it->op;
	bool is_delete = op->type == STORE_OP_DELETE;
	_cleanup_free_ void *old_value = NULL;
	struct latest l;
	int r;

	if (!op->key || (op->type != STORE_OP_CREATE && op->type != STORE_OP_UPDATE && !is_delete))
		return op_reject(op, -EINVAL, 0);
	r = latest_live(s, op->key, is_delete, &l);
	if (r < 0)
		return r;
	old_value = l.value;

	it->ev = (struct store_event){
		.type = is_delete ? STORE_EVENT_DELETE : STORE_EVENT_PUT,
		.key = op->key,
		.value = op->value,
		.value_len = op->value_len,
		.rev = *next_rev,
		.create_rev = l.id ? l.create_rev : *next_rev,
		.prev_rev = l.id,
		.origin = op->origin,
	};
	if (op->type == STORE_OP_CREATE) {
		if (l.id)
			return op_reject(op, -EEXIST, l.id);
	} else {
		if (!l.id)
			return op_reject(op, -ENOENT, 0);
		if ((op->expect_rev || !is_delete) && op->expect_rev != l.id)
			return op_reject(op, -ESTALE, l.id);
	}
	if (is_delete) {
		it->ev.value = l.value;
		it->ev.value_len = l.value_len;
	}

	r = insert_row(s, &it->ev, op->type == STORE_OP_CREATE);
	if (r < 0)
		return r;
	it->old_value = TAKE_PTR(old_value);
	op->result = 0;
	op->rev = it->ev.rev;
	op->create_rev = it->ev.create_rev;
	op->cur_rev = it->ev.rev;
	(*next_rev)++;
	return 0;
}

/* Apply every op in one transaction. On success the committed revision is
 * published; on a SQLite failure every op fails with -EIO. */
static void batch_apply(struct sqlite_store *s, size_t n)
{
	int64_t next_rev = atomic_load(&s->rev) + 1;
	int r = s->broken ? -EIO : step_reset(s->wst[W_BEGIN]);

	for (size_t i = 0; i < n && r == 0; i++)
		r = apply_op(s, &s->items[i], &next_rev);
	if (r == 0) {
		r = step_reset(s->wst[W_COMMIT]);
		if (r < 0) {
			/* Whether the data reached the disk is unknown (a failed
			 * fsync may not be retried): stop writing until reopened. */
			log_error("store %s: commit failed: %s; refusing writes until restarted",
				  s->path, sqlite3_errmsg(s->wdb));
			s->broken = true;
		}
	}
	if (r == 0) {
		atomic_store(&s->rev, next_rev - 1);
		atomic_fetch_add(&s->n_commits, 1);
		return;
	}

	if (!sqlite3_get_autocommit(s->wdb) && step_reset(s->wst[W_ROLLBACK]) < 0)
		s->broken = true;
	for (size_t i = 0; i < n; i++) {
		struct store_op *op = s->items[i].op;
		op->result = -EIO;
		op->rev = op->create_rev = op->cur_rev = 0;
	}
}

/* Hand the events of the batch to the watchers, in revision order. */
static void batch_deliver(struct sqlite_store *s, size_t n)
{
	struct sqlite_store *saved = dispatch_lock(s);
	int64_t last = 0;

	for (size_t i = 0; i < n; i++) {
		if (s->items[i].op->result != 0)
			continue;
		notify(s, &s->items[i].ev);
		last = s->items[i].ev.rev;
	}
	if (last)
		atomic_store(&s->delivered, last);
	dispatch_unlock(s, saved);
}

static void run_batch(struct sqlite_store *s, struct store_op *ops)
{
	uint64_t n = 0;

	for (struct store_op *op = ops; op; op = op->next) {
		op->result = 0;
		op->rev = op->create_rev = op->cur_rev = 0;
		s->items[n++] = (struct batch_item){ .op = op };
	}
	atomic_fetch_add(&s->n_batches, 1);
	atomic_fetch_add(&s->n_ops, n);
	if (n > atomic_load(&s->max_batch))
		atomic_store(&s->max_batch, n);

	batch_apply(s, n);
	batch_deliver(s, n);

	/* done() may free the op: touch nothing of it afterwards. */
	for (size_t i = 0; i < n; i++) {
		struct batch_item *it = &s->items[i];
		it->op->done(it->op);
		free(it->old_value);
		*it = (struct batch_item){ 0 };
	}
}

/* Compact one chunk of at most compact_chunk rows above the compacted
 * revision, towards target, in its own transaction. */
static int compact_chunk(struct sqlite_store *s, int64_t target, bool *ret_finished)
{
	int64_t lo = atomic_load(&s->compacted), hi = target;
	sqlite3_stmt *st;
	int r;

	if (s->broken)
		return -EIO;
	if (lo >= target) {
		*ret_finished = true;
		return 0;
	}

	st = s->wst[W_COMPACT_BOUND];
	if (sqlite3_bind_int64(st, 1, lo) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, target) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 3, (int64_t)atomic_load(&s->compact_chunk) - 1) != SQLITE_OK)
		return -EIO;
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		hi = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return -EIO;

	if (sqlite3_bind_int64(s->wst[W_COMPACT_PREV], 1, lo) != SQLITE_OK ||
	    sqlite3_bind_int64(s->wst[W_COMPACT_PREV], 2, hi) != SQLITE_OK ||
	    sqlite3_bind_int64(s->wst[W_COMPACT_TOMB], 1, lo) != SQLITE_OK ||
	    sqlite3_bind_int64(s->wst[W_COMPACT_TOMB], 2, hi) != SQLITE_OK ||
	    sqlite3_bind_int64(s->wst[W_COMPACT_META], 1, hi) != SQLITE_OK)
		return -EIO;

	r = step_reset(s->wst[W_BEGIN]);
	if (r == 0)
		r = step_reset(s->wst[W_COMPACT_PREV]);
	if (r == 0)
		r = step_reset(s->wst[W_COMPACT_TOMB]);
	if (r == 0)
		r = step_reset(s->wst[W_COMPACT_META]);
	if (r == 0 && step_reset(s->wst[W_COMMIT]) < 0) {
		log_error("store %s: commit failed: %s; refusing writes until restarted", s->path,
			  sqlite3_errmsg(s->wdb));
		s->broken = true;
		r = -EIO;
	}
	if (r < 0) {
		if (!sqlite3_get_autocommit(s->wdb) && step_reset(s->wst[W_ROLLBACK]) < 0)
			s->broken = true;
		return r;
	}
	atomic_store(&s->compacted, hi);
	atomic_fetch_add(&s->n_compact_chunks, 1);
	*ret_finished = hi >= target;
	return 0;
}

static void compact_step(struct sqlite_store *s, struct compact_req *req)
{
	bool finished = false;
	int r = compact_chunk(s, req->target, &finished);

	if (r == 0 && !finished)
		return;
	pthread_mutex_lock(&s->lock);
	s->compact_req = NULL;
	req->result = r;
	req->done = true;
	pthread_cond_broadcast(&s->compact_cond);
	pthread_mutex_unlock(&s->lock);
}

/* Detach up to MAX_BATCH ops from the queue. Called with s->lock held. */
static struct store_op *queue_take(struct sqlite_store *s)
{
	struct store_op *head = s->head, *last = NULL, *op = head;
	size_t n = 0;

	if (!head || s->hold)
		return NULL;
	while (op && n < MAX_BATCH) {
		last = op;
		op = op->next;
		n++;
	}
	s->head = op;
	if (!op)
		s->tail = &s->head;
	last->next = NULL;
	return head;
}

static bool writer_has_work(struct sqlite_store *s)
{
	return (s->head && !s->hold) || s->compact_req;
}

static void *writer_main(void *arg)
{
	struct sqlite_store *s = arg;

	for (;;) {
		struct compact_req *req;
		struct store_op *ops;

		pthread_mutex_lock(&s->lock);
		while (!s->stopping && !writer_has_work(s))
			pthread_cond_wait(&s->cond, &s->lock);
		if (!writer_has_work(s)) {
			/* Stopping, and the queue is drained. */
			s->writer_exited = true;
			pthread_mutex_unlock(&s->lock);
			return NULL;
		}
		ops = queue_take(s);
		req = s->compact_req;
		pthread_mutex_unlock(&s->lock);

		/* At most one batch and one compaction chunk per round, so a
		 * long compaction never holds writes back for long. */
		if (ops)
			run_batch(s, ops);
		if (req)
			compact_step(s, req);
	}
}

static int writer_start(struct sqlite_store *s)
{
	sigset_t all, saved;
	int r;

	/* The writer never handles signals. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	r = pthread_create(&s->writer, NULL, writer_main, s);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (r != 0)
		return -r;
	pthread_setname_np(s->writer, "c8s-store");
	s->writer_started = true;
	return 0;
}

static void writer_stop(struct sqlite_store *s)
{
	if (!s->writer_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	s->hold = false;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->writer, NULL);
	s->writer_started = false;
}

static bool on_writer_thread(struct sqlite_store *s)
{
	return s->writer_started && pthread_equal(pthread_self(), s->writer);
}

/* ---- open and close ---- */

static int writer_db_open(struct sqlite_store *s)
{
	int64_t version, seq, compacted;
	_cleanup_free_ char *sql = NULL;
	int r;

	r = db_open(s->path, true, &s->wdb);
	if (r < 0)
		return r;
	r = db_set_wal(s->wdb);
	if (r < 0)
		return r;
	if (sqlite3_exec(s->wdb, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;

	r = db_query_int64(s->wdb, "PRAGMA user_version", &version);
	if (r < 0)
		return r;
	if (version > SCHEMA_VERSION)
		return -EPROTO; /* written by a newer c8s */
	sql = xasprintf("BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;", schema_sql,
			SCHEMA_VERSION);
	if (sqlite3_exec(s->wdb, sql, NULL, NULL, NULL) != SQLITE_OK)
		return -EIO;

	/* sqlite_sequence remembers the highest id ever used, even once
	 * compaction has deleted those rows. */
	r = db_query_int64(s->wdb, "SELECT seq FROM sqlite_sequence WHERE name = 'kv'", &seq);
	if (r < 0)
		return r;
	r = db_query_int64(s->wdb, "SELECT value FROM meta WHERE key = 'compact_rev'", &compacted);
	if (r < 0)
		return r;
	atomic_store(&s->compacted, compacted);
	atomic_store(&s->rev, MAX(seq, compacted));
	atomic_store(&s->delivered, MAX(seq, compacted));

	return prepare_all(s->wdb, writer_sql, _W_MAX, s->wst);
}

static void sqlite_store_free(struct sqlite_store *s)
{
	struct store_watch *w;

	if (!s)
		return;
	writer_stop(s);

	while (s->idle) {
		struct reader *rd = s->idle;
		s->idle = rd->next;
		reader_free(rd);
	}
	finalize_all(s->wst, _W_MAX);
	/* Closing the last connection checkpoints the WAL into the database. */
	sqlite3_close(s->wdb);

	while ((w = s->watchers))
		watch_unlink(s, w);

	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_cond_destroy(&s->compact_cond);
	pthread_mutex_destroy(&s->compact_serial);
	pthread_mutex_destroy(&s->pool_lock);
	pthread_mutex_destroy(&s->dispatch_lock);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->items);
	free(s->path);
	free(s);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct sqlite_store *, sqlite_store_free);

static int sqlite_open(const char *location, struct store **ret)
{
	_cleanup_(sqlite_store_freep) struct sqlite_store *s = NULL;
	const char *path = location;
	struct reader *rd = NULL;
	int r;

	if (!location || !ret)
		return -EINVAL;
	if (startswith(path, SQLITE_LOCATION_PFX))
		path += strlen(SQLITE_LOCATION_PFX);
	if (isempty(path))
		return -EINVAL;

	s = xnew(struct sqlite_store, 1);
	s->base.backend = &store_backend_sqlite;
	s->path = xstrdup(path);
	s->lock_fd = -1;
	s->tail = &s->head;
	s->compact_chunk = COMPACT_CHUNK;
	s->items = xnew(struct batch_item, MAX_BATCH);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_cond_init(&s->compact_cond, NULL);
	pthread_mutex_init(&s->compact_serial, NULL);
	pthread_mutex_init(&s->pool_lock, NULL);
	pthread_mutex_init(&s->dispatch_lock, NULL);

	r = lock_store(s->path, &s->lock_fd);
	if (r < 0)
		return r;
	r = writer_db_open(s);
	if (r < 0)
		return r;
	r = fsync_parent_dir(s->path);
	if (r < 0)
		return r;
	/* Open one read connection now, so that a broken setup fails here. */
	r = reader_acquire(s, &rd);
	if (r < 0)
		return r;
	reader_release(rd);
	r = writer_start(s);
	if (r < 0)
		return r;

	log_v(1, "store %s: opened at revision %" PRId64 ", compacted %" PRId64, s->path,
	      atomic_load(&s->rev), atomic_load(&s->compacted));
	*ret = &TAKE_PTR(s)->base;
	return 0;
}

static void sqlite_close(struct store *st)
{
	sqlite_store_free(to_sqlite(st));
}

/* ---- reads ---- */

static int sqlite_get(struct store *st, const char *key, struct store_kv *ret)
{
	struct sqlite_store *s = to_sqlite(st);
	_cleanup_(reader_releasep) struct reader *rd = NULL;
	sqlite3_stmt *q;
	int r;

	if (!key || !ret)
		return -EINVAL;
	r = reader_acquire(s, &rd);
	if (r < 0)
		return r;
	q = rd->st[R_GET];
	if (sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC) != SQLITE_OK)
		return -EIO;
	r = sqlite3_step(q);
	if (r == SQLITE_DONE || (r == SQLITE_ROW && sqlite3_column_int(q, 1) != 0))
		return -ENOENT;
	if (r != SQLITE_ROW)
		return -EIO;

	const void *v = sqlite3_column_blob(q, 3);
	size_t len = (size_t)sqlite3_column_bytes(q, 3);
	*ret = (struct store_kv){
		.key = xstrdup(key),
		.value = dup_value(v, len),
		.value_len = len,
		.create_rev = sqlite3_column_int64(q, 2),
		.mod_rev = sqlite3_column_int64(q, 0),
	};
	return 0;
}

static void kv_list_append(struct store_kv_list *l, sqlite3_stmt *q)
{
	const void *v;
	size_t len;

	if (l->n == l->alloc) {
		l->alloc = l->alloc ? l->alloc * 2 : 16;
		l->items = xrealloc(l->items, l->alloc * sizeof(*l->items));
	}
	v = sqlite3_column_blob(q, 3);
	len = (size_t)sqlite3_column_bytes(q, 3);
	l->items[l->n++] = (struct store_kv){
		.key = dup_value(sqlite3_column_text(q, 1), (size_t)sqlite3_column_bytes(q, 1)),
		.value = dup_value(v, len),
		.value_len = len,
		.create_rev = sqlite3_column_int64(q, 2),
		.mod_rev = sqlite3_column_int64(q, 0),
	};
}

static int sqlite_list(struct store *st, const char *prefix, const char *start_after,
		       int64_t at_rev, size_t limit, struct store_kv_list *ret, int64_t *ret_rev)
{
	struct sqlite_store *s = to_sqlite(st);
	_cleanup_(store_kv_list_release) struct store_kv_list l = { 0 };
	_cleanup_(reader_releasep) struct reader *rd = NULL;
	_cleanup_free_ char *end = NULL;
	int64_t compacted, current, rev;
	const char *lo;
	bool after;
	sqlite3_stmt *q;
	int r;

	if (at_rev < 0 || !ret)
		return -EINVAL;
	prefix = prefix ? prefix : "";
	end = prefix_end(prefix);
	/* Start at the prefix, or just after start_after if that is further. */
	after = start_after && strcmp(start_after, prefix) >= 0;
	lo = after ? start_after : prefix;

	r = reader_acquire(s, &rd);
	if (r < 0)
		return r;
	r = reader_begin(rd, &compacted, &current);
	if (r < 0)
		return r;
	rev = at_rev ? at_rev : current;
	if (rev < compacted || rev > current)
		return -ERANGE;

	q = rd->st[after ? R_LIST_GT : R_LIST_GE];
	if (sqlite3_bind_text(q, 1, lo, -1, SQLITE_STATIC) != SQLITE_OK ||
	    bind_upper(q, 2, end) != SQLITE_OK || sqlite3_bind_int64(q, 3, rev) != SQLITE_OK ||
	    sqlite3_bind_int64(q, 4, limit ? (int64_t)MIN(limit, (size_t)INT64_MAX) : -1) !=
		SQLITE_OK)
		return -EIO;
	while ((r = sqlite3_step(q)) == SQLITE_ROW)
		kv_list_append(&l, q);
	if (r != SQLITE_DONE)
		return -EIO;

	*ret = l;
	l = (struct store_kv_list){ 0 };
	if (ret_rev)
		*ret_rev = rev;
	return 0;
}

static int sqlite_history(struct store *st, const char *prefix, int64_t from_rev, int64_t to_rev,
			  store_watch_fn fn, void *userdata)
{
	struct sqlite_store *s = to_sqlite(st);

	if (from_rev < 0 || !fn)
		return -EINVAL;
	return replay(s, prefix ? prefix : "", from_rev, to_rev, fn, userdata);
}

/* ---- writes ---- */

static void sqlite_submit(struct store *st, struct store_op *op)
{
	struct sqlite_store *s = to_sqlite(st);
	bool exited;

	assert(op && op->done);
	op->next = NULL;
	pthread_mutex_lock(&s->lock);
	exited = s->writer_exited;
	if (!exited) {
		*s->tail = op;
		s->tail = &op->next;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);

	if (exited) { /* submitted while the store was closing */
		op->result = -ESHUTDOWN;
		op->done(op);
	}
}

static int sqlite_compact(struct store *st, int64_t rev)
{
	struct sqlite_store *s = to_sqlite(st);
	struct compact_req req = { .target = rev };

	if (rev < 0)
		return -EINVAL;
	if (on_writer_thread(s) || tls_dispatching == s)
		return -EDEADLK;

	pthread_mutex_lock(&s->compact_serial);
	if (rev > atomic_load(&s->rev))
		req.result = -ERANGE;
	else if (rev > atomic_load(&s->compacted)) {
		pthread_mutex_lock(&s->lock);
		if (s->writer_exited)
			req.result = -ESHUTDOWN;
		else {
			s->compact_req = &req;
			pthread_cond_signal(&s->cond);
			while (!req.done)
				pthread_cond_wait(&s->compact_cond, &s->lock);
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&s->compact_serial);
	return req.result;
}

/* ---- watch ---- */

static int sqlite_watch(struct store *st, const char *prefix, int64_t from_rev, store_watch_fn fn,
			void *userdata, struct store_watch **ret)
{
	struct sqlite_store *s = to_sqlite(st);
	struct sqlite_store *saved;
	struct store_watch *w;
	int64_t caught_up, delivered;
	int r = 0;

	if (from_rev < 0 || !fn || !ret)
		return -EINVAL;
	if (tls_dispatching == s)
		return -EDEADLK; /* from a watch callback of this store */
	prefix = prefix ? prefix : "";
	if (from_rev < atomic_load(&s->compacted))
		return -ERANGE;

	/* Most of the history without the dispatch lock, so the writer is
	 * not held back by a long replay... */
	caught_up = atomic_load(&s->delivered);
	if (from_rev < caught_up) {
		r = replay(s, prefix, from_rev, caught_up, fn, userdata);
		if (r < 0)
			return r;
	}
	caught_up = MAX(caught_up, from_rev);

	/* ...then the rest with the writer stopped at a delivery boundary, and
	 * register before it delivers the next revision. */
	w = xnew(struct store_watch, 1);
	w->prefix = xstrdup(prefix);
	w->prefix_len = strlen(prefix);
	w->from_rev = from_rev;
	w->fn = fn;
	w->userdata = userdata;

	saved = dispatch_lock(s);
	delivered = atomic_load(&s->delivered);
	if (caught_up < delivered)
		r = replay(s, prefix, caught_up, delivered, fn, userdata);
	if (r == 0) {
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

static void sqlite_unwatch(struct store *st, struct store_watch *w)
{
	struct sqlite_store *s = to_sqlite(st);

	if (!w)
		return;
	if (tls_dispatching == s) {
		/* From a callback: the lock is ours and the list is being
		 * walked; dispatch_unlock() frees it. */
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

static int64_t sqlite_current_rev(struct store *st)
{
	return atomic_load(&to_sqlite(st)->rev);
}

static int64_t sqlite_compacted_rev(struct store *st)
{
	return atomic_load(&to_sqlite(st)->compacted);
}

const struct store_backend store_backend_sqlite = {
	.name = "sqlite",
	.open = sqlite_open,
	.close = sqlite_close,
	.get = sqlite_get,
	.list = sqlite_list,
	.submit = sqlite_submit,
	.watch = sqlite_watch,
	.unwatch = sqlite_unwatch,
	.history = sqlite_history,
	.compact = sqlite_compact,
	.current_rev = sqlite_current_rev,
	.compacted_rev = sqlite_compacted_rev,
};

/* ---- test hooks (sqlite_internal.h) ---- */

void sqlite_store_get_stats(struct store *st, struct sqlite_store_stats *ret)
{
	struct sqlite_store *s = to_sqlite(st);

	*ret = (struct sqlite_store_stats){
		.batches = atomic_load(&s->n_batches),
		.commits = atomic_load(&s->n_commits),
		.ops = atomic_load(&s->n_ops),
		.max_batch = atomic_load(&s->max_batch),
		.compact_chunks = atomic_load(&s->n_compact_chunks),
	};
}

void sqlite_store_hold(struct store *st, bool hold)
{
	struct sqlite_store *s = to_sqlite(st);

	pthread_mutex_lock(&s->lock);
	s->hold = hold;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void sqlite_store_inject_failure(struct store *st, unsigned n)
{
	atomic_store(&to_sqlite(st)->fail_countdown, n);
}

void sqlite_store_set_compact_chunk(struct store *st, unsigned rows)
{
	atomic_store(&to_sqlite(st)->compact_chunk, rows ? rows : COMPACT_CHUNK);
}
