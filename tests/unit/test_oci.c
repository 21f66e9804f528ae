/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI runtime driver against the real crun and runc under conmon, with
 * busybox containers. Every test runs once per runtime. Runs as root;
 * removes every container, conmon and directory it made.
 */
#include <dirent.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "unit.h"

#include "oci_harness.h"
#include "runtime/oci.h"

static char *tmp_dir;	/* /tmp/c8s-oci-XXXXXX */
static char *rootfs;	/* tmp_dir/rootfs */
static unsigned serial; /* unique container ids across runs and tests */

struct fixture {
	const char *runtime;
	char *state_dir;
	struct oci_runtime *rt;
};

static struct fixture fx_crun = { .runtime = "crun" };
static struct fixture fx_runc = { .runtime = "runc" };

static int group_setup(void **state)
{
	char tmpl[] = "/tmp/c8s-oci-XXXXXX";
	if (!mkdtemp(tmpl))
		return -1;
	tmp_dir = xstrdup(tmpl);
	rootfs = xasprintf("%s/rootfs", tmp_dir);
	return harness_make_rootfs(rootfs);
}

static int group_teardown(void **state)
{
	assert_int_equal(rt_rm_rf(tmp_dir), 0);
	free(rootfs);
	free(tmp_dir);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = *state;
	f->state_dir = xasprintf("%s/state-%s", tmp_dir, f->runtime);
	struct oci_runtime_opts o = { .runtime = f->runtime, .state_dir = f->state_dir };
	_cleanup_free_ char *err = NULL;
	int r = oci_runtime_new(&o, &f->rt, &err);
	if (r < 0)
		fprintf(stderr, "oci_runtime_new: %s\n", err);
	return r;
}

/* Remove whatever a test left behind (a failed assertion skips its own
 * cleanup): every container of this state dir, with its conmon. */
static struct oci_runtime *extra_rt; /* a test's own runtime handle */

static void delete_all(struct oci_runtime *rt)
{
	_cleanup_strv_free_ char **ids = NULL;
	if (rt && oci_list(rt, &ids) == 0)
		for (char **id = ids; *id; id++)
			(void)oci_delete(rt, *id, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	delete_all(f->rt);
	delete_all(extra_rt);
	oci_runtime_free(extra_rt);
	extra_rt = NULL;
	oci_runtime_free(f->rt);
	f->rt = NULL;
	free(f->state_dir);
	return 0;
}

struct ctr {
	char *id;
	char *bundle;
	char *log;
};

static void ctr_release(struct ctr *c)
{
	free(c->id);
	free(c->bundle);
	free(c->log);
}

static void ctr_make(struct ctr *c, const char *name, struct harness_config *cfg)
{
	c->id = xasprintf("t%d-%u-%s", (int)getpid(), ++serial, name);
	c->bundle = xasprintf("%s/bundles/%s", tmp_dir, c->id);
	c->log = xasprintf("%s/bundles/%s.log", tmp_dir, c->id);
	cfg->rootfs = rootfs;
	assert_int_equal(harness_make_bundle(c->bundle, cfg), 0);
}

static void ctr_run(struct fixture *f, struct ctr *c, bool tty, bool stdin_open)
{
	struct oci_create_opts o = { .id = c->id,
				     .bundle = c->bundle,
				     .log_path = c->log,
				     .tty = tty,
				     .stdin = stdin_open };
	_cleanup_free_ char *err = NULL;
	pid_t pid = 0;
	int r = oci_create(f->rt, &o, &pid, &err);
	if (r < 0)
		fail_msg("oci_create %s: %s", c->id, err);
	assert_true(pid > 0);
	struct oci_state st;
	assert_int_equal(oci_state(f->rt, c->id, &st), 0);
	assert_int_equal(st.status, OCI_CREATED);
	r = oci_start(f->rt, c->id, &err);
	if (r < 0)
		fail_msg("oci_start %s: %s", c->id, err);
}

struct wait_arg {
	struct fixture *f;
	const char *id;
	enum oci_status status;
	struct oci_state st;
};

static bool state_is(void *p)
{
	struct wait_arg *w = p;
	return oci_state(w->f->rt, w->id, &w->st) == 0 && w->st.status == w->status;
}

static struct oci_state wait_status(struct fixture *f, const char *id, enum oci_status status)
{
	struct wait_arg w = { .f = f, .id = id, .status = status };
	if (!harness_wait_for(state_is, &w, 20000))
		fail_msg("container %s did not reach status %d (is %d)", id, status, w.st.status);
	return w.st;
}

static void assert_deleted(struct fixture *f, const char *id)
{
	assert_int_equal(oci_delete(f->rt, id, false), 0);
	struct oci_state st;
	assert_int_equal(oci_state(f->rt, id, &st), -ENOENT);
	_cleanup_strv_free_ char **ids = NULL;
	assert_int_equal(oci_list(f->rt, &ids), 0);
	for (char **i = ids; *i; i++)
		assert_string_not_equal(*i, id);
}

static void test_echo(void **state)
{
	struct fixture *f = *state;
	const char *args[] = { "echo", "hello", NULL };
	struct harness_config cfg = { .args = args };
	struct ctr c = { 0 };
	ctr_make(&c, "echo", &cfg);

	uint64_t t0 = now_usec_monotonic();
	ctr_run(f, &c, false, false);
	struct oci_state st = wait_status(f, c.id, OCI_STOPPED);
	uint64_t t1 = now_usec_monotonic();
	printf("# %s: create+start+exit of `echo hello`: %.1f ms\n", f->runtime,
	       (double)(t1 - t0) / 1000.0);
	assert_int_equal(st.exit_code, 0);
	assert_false(st.oom_killed);
	assert_true(st.started_at > 0);
	assert_true(st.finished_at >= st.started_at - 1000000);

	/* CRI log: "TIMESTAMP stdout F hello". */
	_cleanup_free_ char *log = harness_read(c.log);
	if (!strstr(log, " stdout F hello\n"))
		fail_msg("log of %s: \"%s\"", c.id, log);

	assert_deleted(f, c.id);
	ctr_release(&c);
}

static void test_exit_code(void **state)
{
	struct fixture *f = *state;
	const char *args[] = { "sh", "-c", "echo oops >&2; exit 3", NULL };
	struct harness_config cfg = { .args = args };
	struct ctr c = { 0 };
	ctr_make(&c, "exit3", &cfg);
	ctr_run(f, &c, false, false);
	struct oci_state st = wait_status(f, c.id, OCI_STOPPED);
	assert_int_equal(st.exit_code, 3);
	assert_false(st.oom_killed);
	_cleanup_free_ char *log = harness_read(c.log);
	assert_non_null(strstr(log, " stderr F oops\n"));
	/* Killing a stopped container is fine; deleting it twice too. */
	assert_int_equal(oci_kill(f->rt, c.id, SIGTERM), 0);
	assert_deleted(f, c.id);
	assert_int_equal(oci_delete(f->rt, c.id, false), 0);
	ctr_release(&c);
}

static void test_oom(void **state)
{
	struct fixture *f = *state;
	/* dd's 64 MiB buffer does not fit in 16 MiB. */
	const char *args[] = { "dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=4", NULL };
	struct harness_config cfg = { .args = args, .memory_limit = 16 << 20 };
	struct ctr c = { 0 };
	ctr_make(&c, "oom", &cfg);
	ctr_run(f, &c, false, false);
	struct oci_state st = wait_status(f, c.id, OCI_STOPPED);
	assert_int_equal(st.exit_code, 137);
	assert_true(st.oom_killed);
	assert_deleted(f, c.id);
	ctr_release(&c);
}

static void test_kill(void **state)
{
	struct fixture *f = *state;
	/* PID 1 of a namespace only gets signals it handles. */
	const char *args[] = { "sh", "-c", "trap 'exit 143' TERM; while :; do sleep 0.05; done",
			       NULL };
	struct harness_config cfg = { .args = args };
	struct ctr c = { 0 };
	ctr_make(&c, "kill", &cfg);
	ctr_run(f, &c, false, false);
	struct oci_state st = wait_status(f, c.id, OCI_RUNNING);
	assert_true(st.pid > 0);
	/* A running container is not deleted without force. */
	assert_int_equal(oci_delete(f->rt, c.id, false), -EBUSY);
	assert_int_equal(oci_kill(f->rt, c.id, SIGTERM), 0);
	st = wait_status(f, c.id, OCI_STOPPED);
	assert_int_equal(st.exit_code, 143);
	assert_deleted(f, c.id);
	ctr_release(&c);
}

static pid_t ppid_of(pid_t pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *s = harness_read(path);
	const char *p = strrchr(s, ')');
	int ppid = 0;
	if (p)
		sscanf(p + 2, "%*c %d", &ppid);
	return ppid;
}

/* Running or sleeping, not gone or a zombie waiting for its reaper. */
static bool alive(pid_t pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *s = harness_read(path);
	const char *p = strrchr(s, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* The container and its conmon outlive the process that made them; a new
 * runtime handle (an agent restart) finds it running and lists it. */
static void test_survives_restart(void **state)
{
	struct fixture *f = *state;
	const char *args[] = { "sleep", "1000", NULL };
	struct harness_config cfg = { .args = args };
	struct ctr c = { 0 };
	ctr_make(&c, "restart", &cfg);

	pid_t child = fork();
	if (child == 0) {
		struct oci_runtime *rt;
		struct oci_runtime_opts o = { .runtime = f->runtime, .state_dir = f->state_dir };
		pid_t pid;
		struct oci_create_opts co = { .id = c.id, .bundle = c.bundle, .log_path = c.log };
		/* An fd opened without O_CLOEXEC must not reach conmon. */
		_cleanup_free_ char *marker = xasprintf("%s/marker", tmp_dir);
		int mfd = open(marker, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
		if (mfd < 0 || fcntl(mfd, F_DUPFD, 100) < 0) /* above the fds conmon gets */
			_exit(1);
		if (oci_runtime_new(&o, &rt, NULL) < 0 || oci_create(rt, &co, &pid, NULL) < 0 ||
		    oci_start(rt, c.id, NULL) < 0)
			_exit(1);
		oci_runtime_free(rt);
		_exit(0);
	}
	assert_true(child > 0);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	oci_runtime_free(f->rt);
	struct oci_runtime_opts o = { .runtime = f->runtime, .state_dir = f->state_dir };
	assert_int_equal(oci_runtime_new(&o, &f->rt, NULL), 0);
	struct oci_state st;
	assert_int_equal(oci_state(f->rt, c.id, &st), 0);
	assert_int_equal(st.status, OCI_RUNNING);
	assert_int_equal(kill(st.pid, 0), 0);

	/* conmon is nobody's child here: neither ours nor the dead creator's. */
	_cleanup_free_ char *pidfile = xasprintf("%s/persist/%s/conmon.pid", f->state_dir, c.id);
	_cleanup_free_ char *cpid_s = harness_read(pidfile);
	pid_t cpid = (pid_t)atoi(cpid_s);
	assert_true(cpid > 0);
	assert_true(alive(cpid));
	assert_int_not_equal(ppid_of(cpid), getpid());
	assert_int_not_equal(ppid_of(cpid), child);
	assert_int_equal(ppid_of(st.pid), cpid); /* conmon reaps the container */
	_cleanup_free_ char *fddir = xasprintf("/proc/%d/fd", (int)cpid);
	DIR *d = opendir(fddir);
	assert_non_null(d);
	for (struct dirent *de; (de = readdir(d));) {
		_cleanup_free_ char *link = xasprintf("%s/%s", fddir, de->d_name);
		char target[PATH_MAX] = { 0 };
		if (readlink(link, target, sizeof(target) - 1) > 0 && strstr(target, "marker"))
			fail_msg("conmon inherited fd %s -> %s", de->d_name, target);
	}
	closedir(d);

	_cleanup_strv_free_ char **ids = NULL;
	assert_int_equal(oci_list(f->rt, &ids), 0);
	bool found = false;
	for (char **i = ids; *i; i++)
		found |= streq(*i, c.id);
	assert_true(found);

	assert_int_equal(oci_delete(f->rt, c.id, true), 0);
	assert_int_equal(oci_state(f->rt, c.id, &st), -ENOENT);
	assert_false(alive(cpid)); /* conmon has left */
	ctr_release(&c);
}

static const char *sleeper_args[] = { "sleep", "1000", NULL };

static void test_exec_pipes(void **state)
{
	struct fixture *f = *state;
	struct harness_config cfg = { .args = sleeper_args };
	struct ctr c = { 0 };
	ctr_make(&c, "exec", &cfg);
	ctr_run(f, &c, false, false);
	wait_status(f, c.id, OCI_RUNNING);

	const char *cat = "{\"args\":[\"cat\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\"],"
			  "\"user\":{\"uid\":0,\"gid\":0}}";
	int fd = -2, io[3] = { -2, -2, -2 };
	pid_t pid;
	_cleanup_free_ char *err = NULL;
	uint64_t t0 = now_usec_monotonic();
	if (oci_exec(f->rt, c.id, cat, false, true, &fd, io, &pid, &err) < 0)
		fail_msg("exec: %s", err);
	assert_int_equal(fd, -1);
	assert_true(io[0] >= 0 && io[1] >= 0 && io[2] >= 0);
	assert_true(fcntl(io[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(write(io[0], "x", 1), 1);
	close(io[0]);
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	assert_true(harness_read_until(io[1], "x", 10000, &out));
	assert_int_equal(oci_exec_wait(pid), 0);
	printf("# %s: exec cat round trip: %.1f ms\n", f->runtime,
	       (double)(now_usec_monotonic() - t0) / 1000.0);
	assert_string_equal(strbuf_str(&out), "x");
	close(io[1]);
	close(io[2]);

	const char *exit5 = "{\"args\":[\"sh\",\"-c\",\"echo e >&2; exit 5\"],\"cwd\":\"/\","
			    "\"env\":[\"PATH=/bin\"],\"user\":{\"uid\":0,\"gid\":0}}";
	assert_int_equal(oci_exec(f->rt, c.id, exit5, false, false, NULL, io, &pid, &err), 0);
	assert_int_equal(io[0], -1);
	_cleanup_strbuf_ struct strbuf e = STRBUF_INIT;
	assert_true(harness_read_until(io[2], "e\n", 10000, &e));
	assert_int_equal(oci_exec_wait(pid), 5);
	close(io[1]);
	close(io[2]);

	assert_int_equal(oci_delete(f->rt, c.id, true), 0);
	ctr_release(&c);
}

static void test_exec_tty(void **state)
{
	struct fixture *f = *state;
	struct harness_config cfg = { .args = sleeper_args };
	struct ctr c = { 0 };
	ctr_make(&c, "exectty", &cfg);
	ctr_run(f, &c, false, false);
	wait_status(f, c.id, OCI_RUNNING);

	const char *sh = "{\"args\":[\"sh\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\",\"TERM=xterm\"],"
			 "\"user\":{\"uid\":0,\"gid\":0}}";
	int fd = -1;
	pid_t pid;
	_cleanup_free_ char *err = NULL;
	if (oci_exec(f->rt, c.id, sh, true, true, &fd, NULL, &pid, &err) < 0)
		fail_msg("exec: %s", err);
	assert_true(fd >= 0);
	assert_true(isatty(fd));
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	assert_true(harness_read_until(fd, "# ", 10000, &out)); /* the prompt */

	assert_int_equal(oci_resize(fd, 100, 40), 0);
	const char *cmd = "stty size\n";
	assert_int_equal(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	if (!harness_read_until(fd, "40 100", 10000, &out))
		fail_msg("no size in \"%s\"", strbuf_str(&out));

	cmd = "exit 7\n";
	assert_int_equal(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	assert_int_equal(oci_exec_wait(pid), 7);
	close(fd);

	/* An exec into a container that does not exist fails up front. */
	assert_int_equal(oci_exec(f->rt, "no-such", sh, true, true, &fd, NULL, &pid, &err),
			 -ENOENT);
	assert_int_equal(oci_delete(f->rt, c.id, true), 0);
	ctr_release(&c);
}

static int attach_connect(struct fixture *f, const char *id)
{
	_cleanup_free_ char *path = oci_attach_socket(f->rt, id);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return s;
}

/* Read attach packets until text shows up on the given stream. */
static bool attach_read_until(int s, int stream, const char *needle, struct strbuf *sb,
			      int timeout_ms)
{
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	while (!strstr(strbuf_str(sb), needle)) {
		uint64_t now = harness_now_ms();
		if (now >= deadline)
			return false;
		struct pollfd p = { .fd = s, .events = POLLIN };
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		char buf[8192];
		ssize_t n = recv(s, buf, sizeof(buf), 0);
		if (n <= 0)
			return false;
		if (buf[0] == stream)
			strbuf_add(sb, buf + 1, (size_t)n - 1);
	}
	return true;
}

static void test_attach(void **state)
{
	struct fixture *f = *state;
	const char *args[] = { "sh", "-c", "while read l; do echo got:$l; done", NULL };
	struct harness_config cfg = { .args = args };
	struct ctr c = { 0 };
	ctr_make(&c, "attach", &cfg);
	ctr_run(f, &c, false, true);
	wait_status(f, c.id, OCI_RUNNING);

	int s = attach_connect(f, c.id);
	const char *line = "hello\n";
	assert_int_equal(send(s, line, strlen(line), MSG_NOSIGNAL), (ssize_t)strlen(line));
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	assert_true(attach_read_until(s, 2, "got:hello\n", &out, 10000));
	close(s);

	/* stdin stays open for the next attach. */
	s = attach_connect(f, c.id);
	line = "again\n";
	assert_int_equal(send(s, line, strlen(line), MSG_NOSIGNAL), (ssize_t)strlen(line));
	strbuf_reset(&out);
	assert_true(attach_read_until(s, 2, "got:again\n", &out, 10000));
	close(s);

	_cleanup_free_ char *log = harness_read(c.log);
	assert_non_null(strstr(log, " stdout F got:hello\n"));
	assert_int_equal(oci_delete(f->rt, c.id, true), 0);
	ctr_release(&c);
}

/* A container with a terminal: conmon's control fifo resizes it. */
static void test_tty_resize(void **state)
{
	struct fixture *f = *state;
	const char *args[] = { "sh", "-c", "while read l; do stty size; done", NULL };
	struct harness_config cfg = { .args = args, .tty = true };
	struct ctr c = { 0 };
	ctr_make(&c, "tty", &cfg);
	ctr_run(f, &c, true, true);
	wait_status(f, c.id, OCI_RUNNING);

	_cleanup_free_ char *ctl = oci_ctl_fifo(f->rt, c.id);
	assert_non_null(ctl);
	int fd = open(ctl, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	const char *msg = "1 33 77\n";
	assert_int_equal(write(fd, msg, strlen(msg)), (ssize_t)strlen(msg));
	close(fd);

	/* conmon applies the resize asynchronously: ask until it shows. */
	int s = attach_connect(f, c.id);
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	bool seen = false;
	for (int i = 0; i < 50 && !seen; i++) {
		assert_int_equal(send(s, "go\n", 3, MSG_NOSIGNAL), 3);
		seen = attach_read_until(s, 2, "33 77", &out, 200);
	}
	if (!seen)
		fail_msg("tty output: \"%s\"", strbuf_str(&out));
	close(s);
	assert_int_equal(oci_delete(f->rt, c.id, true), 0);
	ctr_release(&c);
}

/* State directories too long for sun_path: the console socket of a tty
 * exec (crun) is reached through /proc/PID/fd. */
static void test_long_state_dir(void **state)
{
	struct fixture *f = *state;
	char pad[101];
	memset(pad, 'd', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	_cleanup_free_ char *dir = xasprintf("%s/%s", f->state_dir, pad);
	struct oci_runtime_opts o = { .runtime = f->runtime, .state_dir = dir };
	assert_int_equal(oci_runtime_new(&o, &extra_rt, NULL), 0);
	struct oci_runtime *rt = extra_rt;
	struct harness_config cfg = { .args = sleeper_args };
	struct ctr c = { 0 };
	ctr_make(&c, "long", &cfg);
	struct oci_create_opts co = { .id = c.id, .bundle = c.bundle, .log_path = c.log };
	pid_t pid;
	_cleanup_free_ char *err = NULL;
	if (oci_create(rt, &co, &pid, &err) < 0 || oci_start(rt, c.id, &err) < 0)
		fail_msg("%s: %s", c.id, err);
	const char *p = "{\"args\":[\"sh\",\"-c\",\"echo hi; exit 4\"],\"cwd\":\"/\","
			"\"env\":[\"PATH=/bin\"],\"user\":{\"uid\":0,\"gid\":0}}";
	int fd;
	if (oci_exec(rt, c.id, p, true, false, &fd, NULL, &pid, &err) < 0)
		fail_msg("exec: %s", err);
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	if (!harness_read_until(fd, "hi", 10000, &out))
		fail_msg("exec output: \"%s\"", strbuf_str(&out));
	assert_int_equal(oci_exec_wait(pid), 4);
	close(fd);
	assert_int_equal(oci_delete(rt, c.id, true), 0);
	ctr_release(&c);
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	struct oci_state st;
	assert_int_equal(oci_state(f->rt, "missing", &st), -ENOENT);
	assert_int_equal(oci_state(f->rt, "../x", &st), -EINVAL);
	assert_int_equal(oci_kill(f->rt, "missing", SIGTERM), -ENOENT);
	assert_int_equal(oci_delete(f->rt, "missing", true), 0);

	/* A broken bundle: the runtime's message comes back. */
	const char *args[] = { "/no/such/program", NULL };
	struct harness_config cfg = { .args = args };
	struct ctr c = { 0 };
	ctr_make(&c, "bad", &cfg);
	_cleanup_free_ char *cfgpath = xasprintf("%s/config.json", c.bundle);
	assert_int_equal(rt_write_file(cfgpath, "{}", 2, 0644), 0);
	struct oci_create_opts o = { .id = c.id, .bundle = c.bundle, .log_path = c.log };
	pid_t pid;
	_cleanup_free_ char *err = NULL;
	assert_true(oci_create(f->rt, &o, &pid, &err) < 0);
	assert_non_null(err);
	printf("# %s: create of a broken bundle: %s\n", f->runtime, err);
	assert_int_equal(oci_state(f->rt, c.id, &st), -ENOENT);
	_cleanup_strv_free_ char **ids = NULL;
	assert_int_equal(oci_list(f->rt, &ids), 0);
	assert_null(ids[0]);
	ctr_release(&c);

	/* A container created but never started is deleted without force,
	 * and its conmon goes. */
	const char *sleep_args[] = { "sleep", "1000", NULL };
	struct harness_config scfg = { .args = sleep_args };
	struct ctr s = { 0 };
	ctr_make(&s, "created", &scfg);
	struct oci_create_opts so = { .id = s.id, .bundle = s.bundle, .log_path = s.log };
	if (oci_create(f->rt, &so, &pid, &err) < 0)
		fail_msg("create: %s", err);
	_cleanup_free_ char *pidfile = xasprintf("%s/persist/%s/conmon.pid", f->state_dir, s.id);
	_cleanup_free_ char *cpid_s = harness_read(pidfile);
	pid_t cpid = (pid_t)atoi(cpid_s);
	assert_true(alive(cpid));
	assert_int_equal(oci_state(f->rt, s.id, &st), 0);
	assert_int_equal(st.status, OCI_CREATED);
	assert_int_equal(oci_delete(f->rt, s.id, false), 0);
	assert_int_equal(oci_state(f->rt, s.id, &st), -ENOENT);
	assert_false(alive(cpid));
	ctr_release(&s);

	struct oci_runtime *rt;
	struct oci_runtime_opts bad = { .runtime = "no-such-runtime", .state_dir = f->state_dir };
	_cleanup_free_ char *err2 = NULL;
	assert_int_equal(oci_runtime_new(&bad, &rt, &err2), -ENOENT);
	assert_non_null(strstr(err2, "no-such-runtime"));
}

#define T(fn, fx) cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &fx)
#define RUNTIME_TESTS(fx)                                                               \
	T(test_echo, fx), T(test_exit_code, fx), T(test_oom, fx), T(test_kill, fx),     \
	    T(test_survives_restart, fx), T(test_exec_pipes, fx), T(test_exec_tty, fx), \
	    T(test_attach, fx), T(test_tty_resize, fx), T(test_long_state_dir, fx),     \
	    T(test_errors, fx)

int main(void)
{
	const struct CMUnitTest tests[] = { RUNTIME_TESTS(fx_crun), RUNTIME_TESTS(fx_runc) };
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
