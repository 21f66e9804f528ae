/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod sandboxes without a pause container: a short-lived helper process
 * unshares the network, UTS and IPC namespaces, sets the hostname, brings
 * loopback up and bind-mounts its /proc/self/ns/{net,uts,ipc} onto files
 * under <run-dir>/ns/<pod uid>/; then it exits and the bind mounts keep
 * the namespaces alive. See README.md ("Pod sandboxes").
 */
#include "runtime/sandbox.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "lib/macro.h"
#include "runtime/fsutil.h"
#include "runtime/spawn.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static const char *const kinds[] = { "net", "uts", "ipc" };

static void set_err(char **ret_err, char *msg)
{
	if (ret_err) {
		free(*ret_err);
		*ret_err = msg;
	} else {
		free(msg);
	}
}

static bool uid_valid(const char *uid)
{
	if (isempty(uid) || strlen(uid) > 128 || streq(uid, ".") || streq(uid, ".."))
		return false;
	return !strchr(uid, '/');
}

static bool is_nsfs(const char *path)
{
	struct statfs sfs;
	return statfs(path, &sfs) == 0 && sfs.f_type == NSFS_MAGIC;
}

static void sandbox_fill(struct sandbox *sb, const char *dir)
{
	sb->dir = xstrdup(dir);
	sb->netns = xasprintf("%s/net", dir);
	sb->utsns = xasprintf("%s/uts", dir);
	sb->ipcns = xasprintf("%s/ipc", dir);
}

void sandbox_release(struct sandbox *sb)
{
	if (!sb)
		return;
	free(sb->dir);
	free(sb->netns);
	free(sb->utsns);
	free(sb->ipcns);
	*sb = (struct sandbox){ 0 };
}

/* Unmount (every layer) and remove one namespace file. Removing the file
 * also detaches copies of the mount in other mount namespaces (those of
 * conmon and the runtime, see oci.c), so nothing keeps the namespace. */
static int drop_ns_file(const char *path)
{
	int r = 0;
	for (int i = 0; i < 16; i++) {
		if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
			if (errno != EINVAL && errno != ENOENT)
				r = -errno;
			break;
		}
	}
	if (unlink(path) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int sandbox_destroy(struct sandbox *sb)
{
	if (!sb || !sb->dir)
		return 0;
	int r = 0;
	const char *files[] = { sb->netns, sb->utsns, sb->ipcns };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		int q = drop_ns_file(files[i]);
		if (q < 0 && r == 0)
			r = q;
	}
	if (rmdir(sb->dir) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int sandbox_open(const char *run_dir, const char *pod_uid, struct sandbox *ret)
{
	if (!uid_valid(pod_uid))
		return -EINVAL;
	_cleanup_free_ char *dir = xasprintf("%s/ns/%s", run_dir, pod_uid);
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, kinds[i]);
		if (!is_nsfs(p))
			return -ENOENT;
	}
	sandbox_fill(ret, dir);
	return 0;
}

/* In the helper: what failed, and errno. */
struct child_error {
	int step;
	int err;
};

enum { STEP_UNSHARE, STEP_HOSTNAME, STEP_LOOPBACK, STEP_MOUNT };
static const char *const step_names[] = { "unshare namespaces", "set the hostname",
					  "bring loopback up", "bind-mount the namespaces" };

static _spawn_child_ _noreturn_ void child_fail(int fd, int step)
{
	struct child_error e = { step, errno };
	ssize_t _unused_ n = write(fd, &e, sizeof(e));
	_exit(1);
}

struct child_args {
	int errfd;
	const char *hostname;
	const char *const *paths; /* net, uts, ipc */
};

/* Only system calls from here: the child shares the agent's memory
 * (spawn_vfork). arg: a struct child_args. */
static _spawn_child_ int sandbox_child(void *arg)
{
	const struct child_args *ca = arg;
	int errfd = ca->errfd;
	const char *hostname = ca->hostname;
	const char *const *paths = ca->paths;

	if (unshare(CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC) < 0)
		child_fail(errfd, STEP_UNSHARE);
	if (sethostname(hostname, strlen(hostname)) < 0)
		child_fail(errfd, STEP_HOSTNAME);

	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	memcpy(ifr.ifr_name, "lo", 3);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		child_fail(errfd, STEP_LOOPBACK);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		child_fail(errfd, STEP_LOOPBACK);

	static const char *const self[] = { "/proc/self/ns/net", "/proc/self/ns/uts",
					    "/proc/self/ns/ipc" };
	for (int i = 0; i < 3; i++)
		if (mount(self[i], paths[i], NULL, MS_BIND, NULL) < 0)
			child_fail(errfd, STEP_MOUNT);
	_exit(0);
}

int sandbox_create(const char *run_dir, const char *pod_uid, const char *hostname,
		   struct sandbox *ret, char **ret_err)
{
	if (!uid_valid(pod_uid)) {
		set_err(ret_err, xasprintf("invalid pod uid \"%s\"", pod_uid ? pod_uid : ""));
		return -EINVAL;
	}
	if (isempty(run_dir) || run_dir[0] != '/') {
		set_err(ret_err, xstrdup("sandbox run directory must be an absolute path"));
		return -EINVAL;
	}
	if (isempty(hostname) || strlen(hostname) > 64) {
		set_err(ret_err, xasprintf("pod %s: invalid hostname \"%s\"", pod_uid,
					   hostname ? hostname : ""));
		return -EINVAL;
	}
	struct sandbox sb = { 0 };
	_cleanup_free_ char *dir = xasprintf("%s/ns/%s", run_dir, pod_uid);
	sandbox_fill(&sb, dir);

	struct sandbox existing;
	if (sandbox_open(run_dir, pod_uid, &existing) == 0) {
		sandbox_release(&existing);
		sandbox_release(&sb);
		set_err(ret_err, xasprintf("pod %s: sandbox \"%s\" exists", pod_uid, dir));
		return -EEXIST;
	}
	/* A half-made sandbox of an earlier attempt goes first. */
	(void)sandbox_destroy(&sb);

	int r = rt_mkdir_p(dir, 0755);
	const char *paths[3] = { sb.netns, sb.utsns, sb.ipcns };
	for (int i = 0; i < 3 && r == 0; i++) {
		int fd = open(paths[i], O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0444);
		if (fd < 0)
			r = -errno;
		else
			close(fd);
	}
	if (r < 0) {
		set_err(ret_err, xasprintf("pod %s: failed to prepare \"%s\": %s", pod_uid, dir,
					   strerror(-r)));
		(void)sandbox_destroy(&sb);
		sandbox_release(&sb);
		return r;
	}

	int errpipe[2];
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		r = -errno;
		set_err(ret_err, xasprintf("pod %s: pipe: %s", pod_uid, strerror(-r)));
		(void)sandbox_destroy(&sb);
		sandbox_release(&sb);
		return r;
	}
	_cleanup_close_ int err_r = errpipe[0];
	_cleanup_close_ int err_w = errpipe[1];
	struct child_args ca = { err_w, hostname, paths };
	pid_t pid = spawn_vfork(sandbox_child, &ca);
	close(TAKE_FD(err_w));
	if (pid < 0) {
		set_err(ret_err, xasprintf("pod %s: clone: %s", pod_uid, strerror(-pid)));
		(void)sandbox_destroy(&sb);
		sandbox_release(&sb);
		return pid;
	}
	struct child_error ce = { 0 };
	ssize_t n;
	do
		n = read(err_r, &ce, sizeof(ce));
	while (n < 0 && errno == EINTR);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n == sizeof(ce) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		r = n == sizeof(ce) && ce.err > 0 ? -ce.err : -EIO;
		set_err(ret_err,
			xasprintf("pod %s: failed to %s: %s", pod_uid,
				  n == sizeof(ce) ? step_names[ce.step] : "make the sandbox",
				  strerror(-r)));
		(void)sandbox_destroy(&sb);
		sandbox_release(&sb);
		return r;
	}
	*ret = sb;
	return 0;
}
