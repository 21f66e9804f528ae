/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stream server on the OCI runtime (runtime/oci.h): exec through
 * oci_exec (a pty or pipes), attach through conmon's attach socket,
 * resizes through the pty or conmon's control fifo.
 */
#include <fcntl.h>
#include <jansson.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "kubelet/server_internal.h"
#include "lib/json.h"
#include "runtime/oci.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * The container's own process settings (env, cwd, user), so that an exec
 * sees what the container sees (`kubectl exec P -- env` lists the
 * container's variables). They are in the bundle's config.json; the bundle
 * is the directory of conmon's control fifo. NULL when unreadable: the
 * exec then gets defaults.
 */
static json_t *container_process(struct oci_runtime *rt, const char *id)
{
	_cleanup_free_ char *ctl = oci_ctl_fifo(rt, id);
	if (!ctl)
		return NULL;
	char *slash = strrchr(ctl, '/');
	if (!slash)
		return NULL;
	*slash = 0;
	_cleanup_free_ char *config = xasprintf("%s/config.json", ctl);
	json_error_t jerr;
	_cleanup_json_ json_t *j = json_load_file(config, 0, &jerr);
	json_t *p = j ? json_object_get(j, "process") : NULL;
	return json_is_object(p) ? json_incref(p) : NULL;
}

static int ops_exec(void *ud, const struct stream_container *c, const char *const *argv, bool tty,
		    bool want_stdin, int *ret_pty, int ret_stdio[3], pid_t *ret_pid, char **ret_err)
{
	struct oci_runtime *rt = ud;
	_cleanup_json_ json_t *base = container_process(rt, c->container_id);
	json_t *args = json_array();
	for (const char *const *a = argv; *a; a++)
		json_array_append_new(args, json_string(*a));

	json_t *env = json_array();
	json_t *benv = base ? json_object_get(base, "env") : NULL;
	bool have_path = false, have_term = false;
	size_t i;
	json_t *v;
	json_array_foreach(benv, i, v)
	{
		const char *e = json_string_value(v);
		if (!e)
			continue;
		have_path = have_path || startswith(e, "PATH=");
		have_term = have_term || startswith(e, "TERM=");
		json_array_append(env, v);
	}
	if (!have_path)
		json_array_append_new(env, json_string(DEFAULT_PATH));
	if (tty && !have_term)
		json_array_append_new(env, json_string("TERM=xterm"));

	json_t *user = base ? json_object_get(base, "user") : NULL;
	const char *cwd = base ? json_get_str(base, "cwd") : NULL;
	_cleanup_json_ json_t *p = json_pack(
	    "{s:b, s:o, s:o, s:o, s:s}", "terminal", tty, "user",
	    json_is_object(user) ? json_incref(user) : json_pack("{s:i, s:i}", "uid", 0, "gid", 0),
	    "args", args, "env", env, "cwd", cwd ? cwd : "/");
	json_t *caps = base ? json_object_get(base, "capabilities") : NULL;
	if (json_is_object(caps))
		json_object_set(p, "capabilities", caps);
	_cleanup_free_ char *pj = json_dump_compact(p, NULL);
	return oci_exec(rt, c->container_id, pj, tty, want_stdin, ret_pty, ret_stdio, ret_pid,
			ret_err);
}

static int ops_exec_wait(void *ud, pid_t pid)
{
	return oci_exec_wait(pid);
}

static int ops_resize_pty(void *ud, int pty_fd, unsigned short cols, unsigned short rows)
{
	return oci_resize(pty_fd, cols, rows);
}

/* conmon's attach socket is a SOCK_SEQPACKET unix socket; its path may be
 * longer than sun_path holds, so connect through /proc/self/fd. */
static int ops_attach(void *ud, const struct stream_container *c, int *ret_fd, char **ret_err)
{
	struct oci_runtime *rt = ud;
	_cleanup_free_ char *path = oci_attach_socket(rt, c->container_id);
	if (!path)
		return -ENOENT;
	char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		int r = -errno;
		*ret_err = xasprintf("cannot open \"%s\": %s", dir, strerror(-r));
		return r;
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd,
		 slash ? slash + 1 : path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		*ret_err = xasprintf("cannot connect to \"%s\": %s", path, strerror(-r));
		return r;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* conmon's control fifo takes "1 HEIGHT WIDTH\n" to resize the terminal. */
static int ops_attach_resize(void *ud, const struct stream_container *c, unsigned short cols,
			     unsigned short rows)
{
	struct oci_runtime *rt = ud;
	_cleanup_free_ char *path = oci_ctl_fifo(rt, c->container_id);
	if (!path)
		return -ENOENT;
	_cleanup_close_ int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char msg[32];
	int n = snprintf(msg, sizeof(msg), "1 %u %u\n", rows, cols);
	return write(fd, msg, (size_t)n) == n ? 0 : -EIO;
}

int stream_server_start(const struct stream_server_opts *o, struct stream_server **ret)
{
	if (!o->runtime)
		return -EINVAL;
	struct stream_runtime_ops ops = {
		.exec = ops_exec,
		.exec_wait = ops_exec_wait,
		.resize_pty = ops_resize_pty,
		.attach = ops_attach,
		.attach_resize = ops_attach_resize,
		.userdata = o->runtime,
	};
	return stream_server_start_with(o, &ops, ret);
}
