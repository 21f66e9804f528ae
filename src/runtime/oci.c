/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The OCI runtime driver: crun or runc under conmon. See oci.h for the
 * interface and README.md ("Containers: conmon and the OCI runtime") for
 * the theory of operation. State on disk, under opts->state_dir:
 *   runtime/            the runtime's --root (one directory per container)
 *   exits/<id>          exit code, written by conmon (for inotify watchers)
 *   persist/<id>/       conmon's persist dir: exit, oom, conmon.pid, and
 *                       ours: bundle, started, cgroup
 *   attach/<id>         conmon's symlink to the bundle; attach/<id>/attach
 *                       is the attach socket (kept short for sun_path)
 */
#include "runtime/oci.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <termios.h>

#include "lib/json.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/strbuf.h"
#include "runtime/fsutil.h"
#include "runtime/ro_exe.h"
#include "runtime/spawn.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* Runtime CLI calls are quick; conmon's create includes the runtime's. */
#define RUNTIME_TIMEOUT_MS     (60 * 1000)
#define CREATE_TIMEOUT_MS      (120 * 1000)
#define CONMON_EXIT_TIMEOUT_MS (10 * 1000)
/* Unknown exit status (conmon died before recording one), as CRI-O. */
#define EXIT_CODE_UNKNOWN 255
/* Entries of an exec command line, NULL included. */
#define EXEC_ARGV_MAX 16

struct oci_runtime {
	char *runtime;		/* absolute path */
	char *ro_exe;		/* its read-only mount, run instead if made (ro_exe.h) */
	const char *const *env; /* the runtime's environment; NULL: PATH only */
	char *conmon;
	char *state_dir;
	char *root;	   /* the runtime's --root */
	char *exit_dir;	   /* conmon --exit-dir */
	char *persist_dir; /* parent of conmon's -0 dirs */
	char *attach_dir;  /* conmon --socket-dir-path */
	char *version;
	/* `RUNTIME exec --tty` honours --console-socket in the foreground
	 * (crun); otherwise the runtime proxies a pty we give it (runc). */
	bool console_socket;
	unsigned spawn_flags; /* SPAWN_CGROUP_V1_VIEW for crun on hybrid hosts */
};

static void set_err(char **ret_err, const char *fmt, ...) _printf_(2, 3);
static void set_err(char **ret_err, const char *fmt, ...)
{
	if (!ret_err)
		return;
	va_list ap;
	va_start(ap, fmt);
	struct strbuf sb = STRBUF_INIT;
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	free(*ret_err);
	*ret_err = strbuf_detach(&sb, NULL);
}

static bool id_valid(const char *id)
{
	if (isempty(id) || strlen(id) > 128 || id[0] == '.' || id[0] == '-')
		return false;
	for (const char *p = id; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		      ('0' <= *p && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return false;
	return true;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Append the NULL-terminated arguments to argv (of cap entries, which
 * keeps room for the final NULL); the new count. */
static size_t argv_push(const char **argv, size_t n, size_t cap, ...)
{
	va_list ap;
	va_start(ap, cap);
	for (const char *a; (a = va_arg(ap, const char *));) {
		assert_se(n + 1 < cap);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	return n;
}

/* The absolute path of a program: name itself if it is a path, else the
 * first executable of that name in PATH. NULL if not found. */
static char *find_program(const char *name)
{
	if (strchr(name, '/')) {
		char *p = realpath(name, NULL);
		if (!p)
			return NULL;
		char *q = xstrdup(p); /* xalloc'd memory for our frees */
		free(p);
		return q;
	}
	const char *path = spawn_default_path + strlen("PATH=");
	while (*path) {
		size_t n = strcspn(path, ":");
		_cleanup_free_ char *p = xasprintf("%.*s/%s", (int)n, path, name);
		if (access(p, X_OK) == 0)
			return TAKE_PTR(p);
		path += n;
		if (*path == ':')
			path++;
	}
	return NULL;
}

/* The last line of a runtime's stderr, without runc's logrus decoration. */
static char *runtime_message(const char *stderr_text)
{
	_cleanup_free_ char *s = xstrdup(stderr_text ? stderr_text : "");
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		s[--n] = 0;
	char *line = strrchr(s, '\n');
	line = line ? line + 1 : s;
	char *msg = strstr(line, "msg=\"");
	if (msg) {
		msg += 5;
		struct strbuf sb = STRBUF_INIT;
		for (char *p = msg; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			strbuf_addch(&sb, *p);
		}
		return strbuf_detach(&sb, NULL);
	}
	return xstrdup(line);
}

/* The path the runtime is run from. */
static const char *runtime_exe(const struct oci_runtime *rt)
{
	return rt->ro_exe ? rt->ro_exe : rt->runtime;
}

/* Run `RUNTIME --root ROOT args...`; the exit code or negative errno.
 * On a non-zero exit, *ret_msg (if non-NULL) is the runtime's message. */
static int runtime_run(struct oci_runtime *rt, const char *const *args, struct strbuf *out,
		       char **ret_msg)
{
	const char *argv[16];
	size_t n = 0;
	argv[n++] = runtime_exe(rt);
	argv[n++] = "--root";
	argv[n++] = rt->root;
	for (; *args; args++) {
		assert_se(n < ARRAY_SIZE(argv) - 1);
		argv[n++] = *args;
	}
	argv[n] = NULL;
	struct spawn_opts so = { .argv = argv, .env = rt->env, .flags = rt->spawn_flags };
	_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;
	int r = spawn_run(&so, NULL, 0, out, &err, RUNTIME_TIMEOUT_MS);
	if (r != 0 && ret_msg)
		*ret_msg = r < 0 ? xasprintf("%s: %s", rt->runtime, strerror(-r))
				 : runtime_message(strbuf_str(&err));
	return r;
}

static char *ctr_root(struct oci_runtime *rt, const char *id)
{
	return xasprintf("%s/%s", rt->root, id);
}

static char *ctr_persist(struct oci_runtime *rt, const char *id, const char *file)
{
	return file ? xasprintf("%s/%s/%s", rt->persist_dir, id, file)
		    : xasprintf("%s/%s", rt->persist_dir, id);
}

static bool runtime_knows(struct oci_runtime *rt, const char *id)
{
	_cleanup_free_ char *d = ctr_root(rt, id);
	return is_dir(d);
}

static bool hybrid_cgroups(void)
{
	struct statfs sfs;
	if (statfs("/sys/fs/cgroup", &sfs) < 0 || sfs.f_type == CGROUP2_SUPER_MAGIC)
		return false;
	return statfs("/sys/fs/cgroup/unified", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

void oci_runtime_free(struct oci_runtime *rt)
{
	if (!rt)
		return;
	if (rt->ro_exe)
		ro_exe_unmount(rt->ro_exe);
	free(rt->ro_exe);
	free(rt->runtime);
	free(rt->conmon);
	free(rt->state_dir);
	free(rt->root);
	free(rt->exit_dir);
	free(rt->persist_dir);
	free(rt->attach_dir);
	free(rt->version);
	free(rt);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct oci_runtime *, oci_runtime_free)

int oci_runtime_new(const struct oci_runtime_opts *opts, struct oci_runtime **ret, char **ret_err)
{
	if (isempty(opts->state_dir) || opts->state_dir[0] != '/') {
		set_err(ret_err, "runtime state directory must be an absolute path");
		return -EINVAL;
	}
	_cleanup_(oci_runtime_freep) struct oci_runtime *rt = xnew(struct oci_runtime, 1);
	const char *name = isempty(opts->runtime) ? "crun" : opts->runtime;
	rt->runtime = find_program(name);
	if (!rt->runtime || access(rt->runtime, X_OK) < 0) {
		set_err(ret_err, "OCI runtime \"%s\" not found", name);
		return -ENOENT;
	}
	const char *conmon = isempty(opts->conmon) ? "/usr/bin/conmon" : opts->conmon;
	rt->conmon = find_program(conmon);
	if (!rt->conmon || access(rt->conmon, X_OK) < 0) {
		set_err(ret_err, "conmon \"%s\" not found", conmon);
		return -ENOENT;
	}
	const char *base = strrchr(rt->runtime, '/') + 1;
	bool is_crun = startswith(base, "crun");
	rt->console_socket = is_crun;
	if (is_crun && hybrid_cgroups())
		rt->spawn_flags = SPAWN_CGROUP_V1_VIEW;

	rt->state_dir = xstrdup(opts->state_dir);
	rt->root = xasprintf("%s/runtime", rt->state_dir);
	rt->exit_dir = xasprintf("%s/exits", rt->state_dir);
	rt->persist_dir = xasprintf("%s/persist", rt->state_dir);
	rt->attach_dir = xasprintf("%s/attach", rt->state_dir);
	_cleanup_free_ char *bin = xasprintf("%s/bin", rt->state_dir);
	const char *dirs[] = { rt->state_dir,	rt->root,	rt->exit_dir,
			       rt->persist_dir, rt->attach_dir, bin };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int r = rt_mkdir_p(dirs[i], 0700);
		if (r < 0) {
			set_err(ret_err, "failed to create \"%s\": %s", dirs[i], strerror(-r));
			return r;
		}
	}

	/* One program start per runtime call instead of two (ro_exe.h);
	 * without the privilege to mount, the runtime copies itself. */
	_cleanup_free_ char *ro = xasprintf("%s/%s", bin, base);
	_cleanup_free_ char *roerr = NULL;
	if (ro_exe_mount(rt->runtime, ro, &roerr) == 0) {
		static const char *const ro_env[] = { spawn_default_path, RO_EXE_ENV, NULL };
		rt->ro_exe = TAKE_PTR(ro);
		rt->env = ro_env;
	} else {
		log_v(1, "OCI runtime %s runs from its own path: %s", rt->runtime, roerr);
	}

	/* Also proves that the private mount namespace can be made. */
	const char *argv[] = { runtime_exe(rt), "--version", NULL };
	struct spawn_opts so = { .argv = argv, .env = rt->env, .flags = rt->spawn_flags };
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;
	int r = spawn_run(&so, NULL, 0, &out, &err, RUNTIME_TIMEOUT_MS);
	if (r != 0) {
		if (r < 0)
			set_err(ret_err, "failed to run \"%s --version\": %s", rt->runtime,
				strerror(-r));
		else
			set_err(ret_err, "\"%s --version\" failed: %s", rt->runtime,
				strbuf_str(&err));
		return r < 0 ? r : -EIO;
	}
	const char *v = strbuf_str(&out);
	rt->version = xstrndup(v, strcspn(v, "\n"));
	*ret = TAKE_PTR(rt);
	return 0;
}

const char *oci_runtime_version(struct oci_runtime *rt)
{
	return rt->version;
}

/* conmon's pid for a container, if that process is still its conmon. */
static pid_t conmon_pid(struct oci_runtime *rt, const char *id)
{
	_cleanup_free_ char *pidfile = ctr_persist(rt, id, "conmon.pid");
	_cleanup_free_ char *s = NULL;
	if (rt_read_file(pidfile, &s, NULL) < 0)
		return 0;
	pid_t pid = (pid_t)strtol(s, NULL, 10);
	if (pid <= 0)
		return 0;
	/* Guard against pid reuse: its command line names our persist dir. */
	_cleanup_free_ char *cmdline_path = xasprintf("/proc/%d/cmdline", (int)pid);
	_cleanup_free_ char *cmdline = NULL;
	size_t len;
	if (rt_read_file(cmdline_path, &cmdline, &len) < 0)
		return 0;
	_cleanup_free_ char *pdir = ctr_persist(rt, id, NULL);
	for (size_t off = 0; off < len; off += strlen(cmdline + off) + 1)
		if (streq(cmdline + off, pdir))
			return pid;
	return 0;
}

/* Read a line from fd until '\n' or EOF, at most timeout_ms. */
static int read_line_timeout(int fd, int timeout_ms, struct strbuf *sb)
{
	uint64_t deadline = now_usec_monotonic() + (uint64_t)timeout_ms * 1000;
	for (;;) {
		uint64_t now = now_usec_monotonic();
		if (now >= deadline)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, (int)((deadline - now) / 1000 + 1));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		char buf[512];
		ssize_t got = read(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return 0;
		strbuf_add(sb, buf, (size_t)got);
		if (memchr(buf, '\n', (size_t)got))
			return 0;
	}
}

static void drain_fd(int fd, struct strbuf *sb, int timeout_ms)
{
	(void)read_line_timeout(fd, timeout_ms, sb);
	(void)fcntl(fd, F_SETFL, O_NONBLOCK);
	char buf[4096];
	ssize_t got;
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		strbuf_add(sb, buf, (size_t)got);
}

/* Tear down what a failed create left (best effort). */
static void create_cleanup(struct oci_runtime *rt, const char *id)
{
	if (runtime_knows(rt, id)) {
		const char *args[] = { "delete", "--force", id, NULL };
		(void)runtime_run(rt, args, NULL, NULL);
	}
	pid_t cpid = conmon_pid(rt, id);
	if (cpid > 0 && spawn_wait_gone(cpid, CONMON_EXIT_TIMEOUT_MS) == -ETIMEDOUT)
		(void)kill(cpid, SIGKILL);
	_cleanup_free_ char *pdir = ctr_persist(rt, id, NULL);
	(void)rt_rm_rf(pdir);
	_cleanup_free_ char *exitfile = xasprintf("%s/%s", rt->exit_dir, id);
	(void)unlink(exitfile);
}

/* Keep the container's cgroup membership: after it exits, its memory
 * cgroup still tells whether the kernel OOM-killed something in it. */
static void record_cgroup(struct oci_runtime *rt, const char *id, pid_t pid)
{
	_cleanup_free_ char *src = xasprintf("/proc/%d/cgroup", (int)pid);
	_cleanup_free_ char *data = NULL;
	size_t len;
	if (rt_read_file(src, &data, &len) < 0)
		return;
	_cleanup_free_ char *dst = ctr_persist(rt, id, "cgroup");
	(void)rt_write_file(dst, data, len, 0600);
}

int oci_create(struct oci_runtime *rt, const struct oci_create_opts *o, pid_t *ret_pid,
	       char **ret_err)
{
	if (!id_valid(o->id)) {
		set_err(ret_err, "invalid container id \"%s\"", o->id ? o->id : "");
		return -EINVAL;
	}
	if (isempty(o->bundle) || o->bundle[0] != '/' || isempty(o->log_path)) {
		set_err(ret_err,
			"container %s: bundle must be an absolute path and a log path given",
			o->id);
		return -EINVAL;
	}
	if (runtime_knows(rt, o->id)) {
		set_err(ret_err, "container %s already exists", o->id);
		return -EEXIST;
	}

	_cleanup_free_ char *pdir = ctr_persist(rt, o->id, NULL);
	int r = rt_rm_rf(pdir); /* leftovers of a failed attempt */
	if (r >= 0 && mkdir(pdir, 0700) < 0)
		r = -errno;
	_cleanup_free_ char *bundle_file = ctr_persist(rt, o->id, "bundle");
	if (r >= 0)
		r = rt_write_file(bundle_file, o->bundle, strlen(o->bundle), 0600);
	if (r < 0) {
		set_err(ret_err, "container %s: failed to prepare \"%s\": %s", o->id, pdir,
			strerror(-r));
		return r;
	}
	_cleanup_free_ char *exitfile = xasprintf("%s/%s", rt->exit_dir, o->id);
	(void)unlink(exitfile);

	_cleanup_free_ char *pidfile = xasprintf("%s/pidfile", o->bundle);
	_cleanup_free_ char *conmon_pidfile = ctr_persist(rt, o->id, "conmon.pid");
	_cleanup_free_ char *log = xasprintf("k8s-file:%s", o->log_path);
	_cleanup_free_ char *root_arg = xasprintf("--root=%s", rt->root);
	const char *argv[40];
	size_t n = argv_push(argv, 0, ARRAY_SIZE(argv), rt->conmon, "--api-version", "1", "-c",
			     o->id, "-u", o->id, "-n", o->id, "-r", runtime_exe(rt),
			     "--runtime-arg", root_arg, "-b", o->bundle, "-p", pidfile, "-P",
			     conmon_pidfile, "-l", log, "--exit-dir", rt->exit_dir, "-0", pdir,
			     "--socket-dir-path", rt->attach_dir, "--log-level", "error", NULL);
	if (o->tty)
		n = argv_push(argv, n, ARRAY_SIZE(argv), "-t", NULL);
	/* Kubernetes' default is stdinOnce=false: stdin outlives an attach. */
	if (o->stdin)
		n = argv_push(argv, n, ARRAY_SIZE(argv), "-i", "--leave-stdin-open", NULL);
	/* conmon passes its environment on to the runtime. */
	const char *env[] = { spawn_default_path, "_OCI_SYNCPIPE=3", rt->ro_exe ? RO_EXE_ENV : NULL,
			      NULL };

	int sync_p[2], err_p[2];
	if (pipe2(sync_p, O_CLOEXEC) < 0) {
		r = -errno;
		set_err(ret_err, "container %s: pipe: %s", o->id, strerror(-r));
		return r;
	}
	_cleanup_close_ int sync_r = sync_p[0];
	_cleanup_close_ int sync_w = sync_p[1];
	if (pipe2(err_p, O_CLOEXEC) < 0) {
		r = -errno;
		set_err(ret_err, "container %s: pipe: %s", o->id, strerror(-r));
		return r;
	}
	_cleanup_close_ int err_r = err_p[0];
	_cleanup_close_ int err_w = err_p[1];

	/* conmon forks itself into the background (a new session, reparented
	 * to init) and its first process exits at once: we reap that one, and
	 * the monitor outlives us. cwd: conmon drops an "oom" file there. */
	struct spawn_opts so = {
		.argv = argv,
		.env = env,
		.stdio = { -1, -1, err_w },
		.extra_fds = &sync_w,
		.n_extra_fds = 1,
		.cwd = pdir,
		.flags = SPAWN_SETSID | rt->spawn_flags,
	};
	pid_t pid;
	r = spawn_start(&so, &pid);
	if (r < 0) {
		set_err(ret_err, "container %s: failed to start conmon: %s", o->id, strerror(-r));
		create_cleanup(rt, o->id);
		return r;
	}
	close(TAKE_FD(sync_w));
	close(TAKE_FD(err_w));
	int code = spawn_wait(pid);
	_cleanup_strbuf_ struct strbuf sync = STRBUF_INIT;
	if (code == 0)
		r = read_line_timeout(sync_r, CREATE_TIMEOUT_MS, &sync);
	if (code != 0 || r < 0 || sync.len == 0) {
		_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;
		drain_fd(err_r, &err, 1000);
		_cleanup_free_ char *msg = runtime_message(strbuf_str(&err));
		if (r == -ETIMEDOUT)
			set_err(ret_err, "container %s: conmon did not report within %d s", o->id,
				CREATE_TIMEOUT_MS / 1000);
		else
			set_err(ret_err, "container %s: conmon failed%s%s", o->id,
				*msg ? ": " : " without a message", msg);
		create_cleanup(rt, o->id);
		return r < 0 ? r : -EIO;
	}

	json_error_t jerr;
	_cleanup_json_ json_t *j = json_loads(strbuf_str(&sync), JSON_DISABLE_EOF_CHECK, &jerr);
	json_int_t cpid = j ? json_integer_value(json_object_get(j, "data")) : 0;
	if (cpid <= 0) {
		const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
		_cleanup_free_ char *msg = runtime_message(m ? m : strbuf_str(&sync));
		set_err(ret_err, "container %s: create failed: %s", o->id, msg);
		create_cleanup(rt, o->id);
		return -EIO;
	}
	record_cgroup(rt, o->id, (pid_t)cpid);
	*ret_pid = (pid_t)cpid;
	return 0;
}

int oci_start(struct oci_runtime *rt, const char *id, char **ret_err)
{
	if (!id_valid(id)) {
		set_err(ret_err, "invalid container id");
		return -EINVAL;
	}
	const char *args[] = { "start", id, NULL };
	_cleanup_free_ char *msg = NULL;
	int r = runtime_run(rt, args, NULL, &msg);
	if (r != 0) {
		set_err(ret_err, "container %s: start failed: %s", id, msg ? msg : "");
		return r < 0 ? r : (runtime_knows(rt, id) ? -EIO : -ENOENT);
	}
	_cleanup_free_ char *started = ctr_persist(rt, id, "started");
	_cleanup_free_ char *now = xasprintf("%llu", (unsigned long long)now_usec_realtime());
	(void)rt_write_file(started, now, strlen(now), 0600);
	return 0;
}

int oci_kill(struct oci_runtime *rt, const char *id, int sig)
{
	if (!id_valid(id))
		return -EINVAL;
	if (!runtime_knows(rt, id))
		return -ENOENT;
	char signum[16];
	snprintf(signum, sizeof(signum), "%d", sig);
	const char *args[] = { "kill", id, signum, NULL };
	int r = runtime_run(rt, args, NULL, NULL);
	if (r == 0)
		return 0;
	/* Killing a container that has stopped already is not an error. */
	struct oci_state st;
	int q = oci_state(rt, id, &st);
	if (q < 0)
		return q;
	if (st.status == OCI_STOPPED)
		return 0;
	return r < 0 ? r : -EIO;
}

/* Files conmon leaves in the bundle, and its attach symlink. */
static void remove_conmon_files(struct oci_runtime *rt, const char *id)
{
	_cleanup_free_ char *bundle_file = ctr_persist(rt, id, "bundle");
	_cleanup_free_ char *bundle = NULL;
	if (rt_read_file(bundle_file, &bundle, NULL) == 0) {
		const char *names[] = { "attach", "ctl", "winsz", "pidfile", "oom" };
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			_cleanup_free_ char *p = xasprintf("%s/%s", bundle, names[i]);
			(void)unlink(p);
		}
	}
	_cleanup_free_ char *link = xasprintf("%s/%s", rt->attach_dir, id);
	(void)unlink(link);
}

int oci_delete(struct oci_runtime *rt, const char *id, bool force)
{
	if (!id_valid(id))
		return -EINVAL;
	if (runtime_knows(rt, id)) {
		const char *args[] = { "delete", force ? "--force" : id, force ? id : NULL, NULL };
		int r = runtime_run(rt, args, NULL, NULL);
		if (r != 0 && runtime_knows(rt, id)) {
			if (r < 0)
				return r;
			struct oci_state st;
			if (!force && oci_state(rt, id, &st) == 0 && st.status != OCI_STOPPED)
				return -EBUSY;
			return -EIO;
		}
	}
	/* conmon records the exit and leaves; wait so that it writes nothing
	 * into the directories we remove. */
	pid_t cpid = conmon_pid(rt, id);
	if (cpid > 0 && spawn_wait_gone(cpid, CONMON_EXIT_TIMEOUT_MS) == -ETIMEDOUT &&
	    conmon_pid(rt, id) == cpid)
		(void)kill(cpid, SIGKILL);
	remove_conmon_files(rt, id);
	_cleanup_free_ char *exitfile = xasprintf("%s/%s", rt->exit_dir, id);
	(void)unlink(exitfile);
	_cleanup_free_ char *pdir = ctr_persist(rt, id, NULL);
	return rt_rm_rf(pdir);
}

static int64_t read_int_file(const char *path, int64_t def)
{
	_cleanup_free_ char *s = NULL;
	if (rt_read_file(path, &s, NULL) < 0)
		return def;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s)
		return def;
	return v;
}

/* "oom_kill N" in a cgroup's memory.oom_control (v1) or memory.events (v2). */
static bool cgroup_oom_killed(struct oci_runtime *rt, const char *id)
{
	_cleanup_free_ char *file = ctr_persist(rt, id, "cgroup");
	_cleanup_free_ char *data = NULL;
	if (rt_read_file(file, &data, NULL) < 0)
		return false;
	struct statfs sfs;
	bool v2 = statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
	_cleanup_free_ char *path = NULL;
	for (char *line = data; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		char *ctrls = strchr(line, ':');
		char *cg = ctrls ? strchr(ctrls + 1, ':') : NULL;
		if (cg) {
			*cg++ = 0;
			ctrls++;
			if (v2 && streq(line, "0") && *ctrls == 0) {
				path = xasprintf("/sys/fs/cgroup%s/memory.events", cg);
				break;
			}
			if (!v2) {
				_cleanup_free_ char *list = xasprintf(",%s,", ctrls);
				if (strstr(list, ",memory,")) {
					path = xasprintf(
					    "/sys/fs/cgroup/memory%s/memory.oom_control", cg);
					break;
				}
			}
		}
		line = next;
	}
	_cleanup_free_ char *stats = NULL;
	if (!path || rt_read_file(path, &stats, NULL) < 0)
		return false;
	for (char *p = stats; (p = strstr(p, "oom_kill ")); p++)
		if ((p == stats || p[-1] == '\n') && strtoll(p + 9, NULL, 10) > 0)
			return true;
	return false;
}

static int64_t mtime_usec(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	return (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
}

/* The exit conmon recorded: 1 if there is one, 0 if not yet. */
static int exit_state(struct oci_runtime *rt, const char *id, struct oci_state *st)
{
	_cleanup_free_ char *exitfile = ctr_persist(rt, id, "exit");
	int64_t code = read_int_file(exitfile, INT64_MIN);
	if (code == INT64_MIN)
		return 0;
	st->status = OCI_STOPPED;
	st->exit_code = (int)code;
	st->finished_at = mtime_usec(exitfile);
	_cleanup_free_ char *oomfile = ctr_persist(rt, id, "oom");
	st->oom_killed = access(oomfile, F_OK) == 0 || cgroup_oom_killed(rt, id);
	return 1;
}

int oci_state(struct oci_runtime *rt, const char *id, struct oci_state *ret)
{
	if (!id_valid(id))
		return -EINVAL;
	_cleanup_free_ char *pdir = ctr_persist(rt, id, NULL);
	bool known = runtime_knows(rt, id);
	if (!known && !is_dir(pdir))
		return -ENOENT;

	struct oci_state st = { 0 };
	_cleanup_free_ char *started = ctr_persist(rt, id, "started");
	st.started_at = read_int_file(started, 0);
	if (exit_state(rt, id, &st)) {
		*ret = st;
		return 0;
	}
	if (!known)
		return -ENOENT;

	const char *args[] = { "state", id, NULL };
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	int r = runtime_run(rt, args, &out, NULL);
	if (r != 0)
		return runtime_knows(rt, id) ? (r < 0 ? r : -EIO) : -ENOENT;
	json_error_t jerr;
	_cleanup_json_ json_t *j = json_loads(strbuf_str(&out), 0, &jerr);
	const char *status = j ? json_get_str(j, "status") : NULL;
	if (!status)
		return -EBADMSG;
	st.pid = (pid_t)json_get_int(j, "pid", 0);
	if (streq(status, "created")) {
		st.status = OCI_CREATED;
	} else if (streq(status, "running") || streq(status, "paused") ||
		   streq(status, "pausing")) {
		st.status = OCI_RUNNING;
	} else if (streq(status, "stopped")) {
		/* The process is gone; conmon may still be draining its output
		 * before it writes the exit file: running until then. */
		if (!exit_state(rt, id, &st)) {
			if (conmon_pid(rt, id) > 0) {
				st.status = OCI_RUNNING;
			} else if (!exit_state(rt, id, &st)) {
				/* conmon died without recording the exit. */
				st.status = OCI_STOPPED;
				st.exit_code = EXIT_CODE_UNKNOWN;
				st.oom_killed = cgroup_oom_killed(rt, id);
			}
		}
	} else {
		st.status = OCI_UNKNOWN;
	}
	*ret = st;
	return 0;
}

int oci_list(struct oci_runtime *rt, char ***ret_ids)
{
	DIR *d = opendir(rt->root);
	if (!d)
		return -errno;
	size_t n = 0, alloc = 8;
	char **ids = xnew(char *, alloc);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !id_valid(de->d_name))
			continue;
		_cleanup_free_ char *p = ctr_root(rt, de->d_name);
		if (!is_dir(p))
			continue;
		if (n + 1 >= alloc) {
			alloc *= 2;
			ids = xrealloc(ids, alloc * sizeof(char *));
		}
		ids[n++] = xstrdup(de->d_name);
	}
	ids[n] = NULL;
	closedir(d);
	*ret_ids = ids;
	return 0;
}

/* The process spec with "terminal" matching the request, in a memfd the
 * runtime reads as /proc/self/fd/3. */
static int process_memfd(const char *process_json, bool tty, int *ret_fd, char **ret_err)
{
	json_error_t jerr;
	_cleanup_json_ json_t *p = json_loads(process_json, 0, &jerr);
	if (!p || !json_is_object(p)) {
		set_err(ret_err, "exec: process is not a JSON object: %s", jerr.text);
		return -EINVAL;
	}
	json_object_set_new(p, "terminal", json_boolean(tty));
	_cleanup_free_ char *data = json_dumps(p, JSON_COMPACT);
	_cleanup_close_ int fd = memfd_create("oci-process", MFD_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		set_err(ret_err, "exec: memfd: %s", strerror(-r));
		return r;
	}
	size_t len = strlen(data), off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int r = -errno;
			set_err(ret_err, "exec: memfd: %s", strerror(-r));
			return r;
		}
		off += (size_t)w;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static _Atomic unsigned console_counter;

/* Receive one fd over a connected unix socket. */
static int recv_fd(int sock)
{
	char data[256];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cm.buf,
			      .msg_controllen = sizeof(cm.buf) };
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EBADMSG;
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* crun: `exec --tty --console-socket` in the foreground sends the
 * container-side pty master to us and waits for the process. */
static int exec_console_socket(struct oci_runtime *rt, const char **argv, size_t argc,
			       const char *id, int procfd, int *ret_fd, pid_t *ret_pid,
			       char **ret_err)
{
	/* A dot: never a container id, so never one of conmon's symlinks. */
	char name[64];
	snprintf(name, sizeof(name), ".exec-%d-%u", (int)getpid(),
		 atomic_fetch_add(&console_counter, 1));
	_cleanup_free_ char *path = xasprintf("%s/%s", rt->attach_dir, name);
	_cleanup_free_ char *arg = xstrdup(path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	/* A long state directory does not fit in sun_path: go through an fd
	 * of the directory (the runtime reaches it through our /proc). */
	_cleanup_close_ int dirfd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		dirfd = open(rt->attach_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return -errno;
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd, name);
		free(arg);
		arg = xasprintf("/proc/%d/fd/%d/%s", (int)getpid(), dirfd, name);
	} else {
		memcpy(sa.sun_path, path, strlen(path) + 1);
	}
	_cleanup_close_ int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	(void)unlink(path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		int r = -errno;
		set_err(ret_err, "exec: console socket \"%s\": %s", path, strerror(-r));
		(void)unlink(path);
		return r;
	}
	argv_push(argv, argc, EXEC_ARGV_MAX, "--console-socket", arg, id, NULL);
	/* The runtime's own errors go to a file it can always write to. */
	_cleanup_close_ int errfd = memfd_create("oci-exec-err", MFD_CLOEXEC);
	if (errfd < 0) {
		int r = -errno;
		(void)unlink(path);
		return r;
	}
	struct spawn_opts so = { .argv = argv,
				 .env = rt->env,
				 .stdio = { -1, -1, errfd },
				 .extra_fds = &procfd,
				 .n_extra_fds = 1,
				 .flags = rt->spawn_flags };
	pid_t pid;
	int r = spawn_start(&so, &pid);
	if (r < 0) {
		(void)unlink(path);
		set_err(ret_err, "exec: failed to run %s: %s", rt->runtime, strerror(-r));
		return r;
	}
	_cleanup_close_ int pidfd = pidfd_open(pid, 0);
	struct pollfd p[2] = { { .fd = lfd, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
	int master = -ETIMEDOUT;
	uint64_t deadline = now_usec_monotonic() + (uint64_t)RUNTIME_TIMEOUT_MS * 1000;
	for (;;) {
		uint64_t now = now_usec_monotonic();
		if (now >= deadline)
			break;
		int n = poll(p, pidfd >= 0 ? 2 : 1, (int)((deadline - now) / 1000 + 1));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			master = -errno;
			break;
		}
		if (p[0].revents) {
			_cleanup_close_ int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			master = c < 0 ? -errno : recv_fd(c);
			break;
		}
		if (n > 0 && p[1].revents) {
			master = -EIO; /* the runtime exited without sending a terminal */
			break;
		}
	}
	(void)unlink(path);
	if (master < 0) {
		if (master != -EIO)
			(void)kill(pid, SIGKILL);
		int code = spawn_wait(pid);
		_cleanup_strbuf_ struct strbuf err = STRBUF_INIT;
		char buf[4096];
		ssize_t got;
		while ((got = pread(errfd, buf, sizeof(buf), (off_t)err.len)) > 0)
			strbuf_add(&err, buf, (size_t)got);
		_cleanup_free_ char *msg = runtime_message(strbuf_str(&err));
		set_err(ret_err, "exec failed (exit %d): %s", code, *msg ? msg : strerror(-master));
		return master;
	}
	*ret_fd = master;
	*ret_pid = pid;
	return 0;
}

/* runc proxies the container's terminal through its own stdio when it
 * runs in the foreground: give it a pty of ours as controlling terminal. */
static int exec_proxy_pty(struct oci_runtime *rt, const char **argv, int procfd, int *ret_fd,
			  pid_t *ret_pid, char **ret_err)
{
	_cleanup_close_ int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		int r = -errno;
		set_err(ret_err, "exec: pty: %s", strerror(-r));
		return r;
	}
	char name[128];
	if (ptsname_r(master, name, sizeof(name)) != 0) {
		int r = -errno;
		set_err(ret_err, "exec: pty: %s", strerror(-r));
		return r;
	}
	_cleanup_close_ int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		int r = -errno;
		set_err(ret_err, "exec: \"%s\": %s", name, strerror(-r));
		return r;
	}
	struct spawn_opts so = { .argv = argv,
				 .env = rt->env,
				 .stdio = { slave, slave, slave },
				 .extra_fds = &procfd,
				 .n_extra_fds = 1,
				 .flags = SPAWN_CTTY | rt->spawn_flags };
	pid_t pid;
	int r = spawn_start(&so, &pid);
	if (r < 0) {
		set_err(ret_err, "exec: failed to run %s: %s", rt->runtime, strerror(-r));
		return r;
	}
	*ret_fd = TAKE_FD(master);
	*ret_pid = pid;
	return 0;
}

static int exec_pipes(struct oci_runtime *rt, const char **argv, int procfd, bool want_stdin,
		      int ret_stdio[3], pid_t *ret_pid, char **ret_err)
{
	int fds[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	int r = 0;
	for (int i = 0; i < 3 && r == 0; i++)
		if ((i > 0 || want_stdin) && pipe2(fds[i], O_CLOEXEC) < 0)
			r = -errno;
	pid_t pid;
	if (r == 0) {
		struct spawn_opts so = { .argv = argv,
					 .env = rt->env,
					 .stdio = { fds[0][0], fds[1][1], fds[2][1] },
					 .extra_fds = &procfd,
					 .n_extra_fds = 1,
					 .flags = rt->spawn_flags };
		r = spawn_start(&so, &pid);
	}
	/* Ours: stdin's write end, stdout's and stderr's read ends. */
	int keep[3] = { fds[0][1], fds[1][0], fds[2][0] };
	int theirs[3] = { fds[0][0], fds[1][1], fds[2][1] };
	for (int i = 0; i < 3; i++)
		if (theirs[i] >= 0)
			close(theirs[i]);
	if (r < 0) {
		for (int i = 0; i < 3; i++)
			if (keep[i] >= 0)
				close(keep[i]);
		set_err(ret_err, "exec: failed to run %s: %s", rt->runtime, strerror(-r));
		return r;
	}
	for (int i = 0; i < 3; i++)
		ret_stdio[i] = keep[i];
	*ret_pid = pid;
	return 0;
}

int oci_exec(struct oci_runtime *rt, const char *id, const char *process_json, bool tty,
	     bool want_stdin, int *ret_fd, int ret_stdio[3], pid_t *ret_pid, char **ret_err)
{
	if (!id_valid(id)) {
		set_err(ret_err, "invalid container id");
		return -EINVAL;
	}
	if (tty ? !ret_fd : !ret_stdio) {
		set_err(ret_err, "exec: nowhere to return the %s", tty ? "terminal" : "pipes");
		return -EINVAL;
	}
	if (!runtime_knows(rt, id)) {
		set_err(ret_err, "container %s not found", id);
		return -ENOENT;
	}
	_cleanup_close_ int procfd = -1;
	int r = process_memfd(process_json, tty, &procfd, ret_err);
	if (r < 0)
		return r;
	/* In the foreground, the runtime exits with the process's status. */
	const char *argv[EXEC_ARGV_MAX];
	size_t n = argv_push(argv, 0, ARRAY_SIZE(argv), runtime_exe(rt), "--root", rt->root, "exec",
			     "--process", "/proc/self/fd/3", tty ? "--tty" : NULL, NULL);
	if (tty && rt->console_socket) {
		r = exec_console_socket(rt, argv, n, id, procfd, ret_fd, ret_pid, ret_err);
		if (r == 0 && ret_stdio)
			ret_stdio[0] = ret_stdio[1] = ret_stdio[2] = -1;
		return r;
	}
	n = argv_push(argv, n, ARRAY_SIZE(argv), id, NULL);
	if (tty) {
		r = exec_proxy_pty(rt, argv, procfd, ret_fd, ret_pid, ret_err);
		if (r == 0 && ret_stdio)
			ret_stdio[0] = ret_stdio[1] = ret_stdio[2] = -1;
		return r;
	}
	r = exec_pipes(rt, argv, procfd, want_stdin, ret_stdio, ret_pid, ret_err);
	if (r == 0 && ret_fd)
		*ret_fd = -1;
	return r;
}

int oci_exec_wait(pid_t pid)
{
	return spawn_wait(pid);
}

int oci_resize(int pty_fd, unsigned short cols, unsigned short rows)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	return ioctl(pty_fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

char *oci_attach_socket(struct oci_runtime *rt, const char *id)
{
	return xasprintf("%s/%s/attach", rt->attach_dir, id);
}

char *oci_ctl_fifo(struct oci_runtime *rt, const char *id)
{
	if (!id_valid(id))
		return NULL;
	_cleanup_free_ char *bundle_file = ctr_persist(rt, id, "bundle");
	_cleanup_free_ char *bundle = NULL;
	if (rt_read_file(bundle_file, &bundle, NULL) < 0)
		return NULL;
	return xasprintf("%s/ctl", bundle);
}
