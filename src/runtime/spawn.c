/* SPDX-License-Identifier: Apache-2.0 */
#include "runtime/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>

#include "lib/macro.h"

const char spawn_default_path[] =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#define CGROUP_UNIFIED "/sys/fs/cgroup/unified"
#define INPUT_MAX      (1024 * 1024)

/* In the child: report errno to the parent and die. Only system calls. */
static _spawn_child_ _noreturn_ void child_fail(int errfd)
{
	int e = errno;
	ssize_t _unused_ n = write(errfd, &e, sizeof(e));
	_exit(127);
}

/* Sanitizers' interceptors want room; a child needs little else. */
#define CHILD_STACK (256 * 1024)

pid_t spawn_vfork(int (*fn)(void *), void *arg)
{
	void *stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -errno;
	/* No signal handler of the agent may run in the child. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = clone(fn, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
	int clone_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	munmap(stack, CHILD_STACK);
	return pid < 0 ? -clone_errno : pid;
}

struct child_args {
	const struct spawn_opts *o;
	const int *src;
	int nfds, errfd;
	const char *const *env;
};

/* The clone()d child (a struct child_args). */
static _spawn_child_ int child_exec(void *arg)
{
	const struct child_args *ca = arg;
	const struct spawn_opts *o = ca->o;
	const int *src = ca->src;
	int nfds = ca->nfds, errfd = ca->errfd;
	const char *const *env = ca->env;

	/* Keep the error pipe out of the range of fds we are about to fill. */
	errfd = fcntl(errfd, F_DUPFD_CLOEXEC, nfds);
	if (errfd < 0)
		_exit(127);

	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &dfl, NULL); /* EINVAL for libc-reserved ones */

	if ((o->flags & (SPAWN_SETSID | SPAWN_CTTY)) && setsid() < 0)
		child_fail(errfd);

	if (o->flags & SPAWN_CGROUP_V1_VIEW) {
		if (unshare(CLONE_NEWNS) < 0)
			child_fail(errfd);
		/* Receive the agent's later mounts and unmounts, send none back. */
		if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
			child_fail(errfd);
		if (umount2(CGROUP_UNIFIED, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			child_fail(errfd);
	}

	if (o->cwd && chdir(o->cwd) < 0)
		child_fail(errfd);

	/* Move every source above the targets, then put them in place. */
	int tmp[3 + SPAWN_MAX_EXTRA_FDS];
	for (int i = 0; i < nfds; i++) {
		tmp[i] = fcntl(src[i], F_DUPFD_CLOEXEC, nfds);
		if (tmp[i] < 0)
			child_fail(errfd);
	}
	for (int i = 0; i < nfds; i++)
		if (dup2(tmp[i], i) < 0)
			child_fail(errfd);

	if ((o->flags & SPAWN_CTTY) && ioctl(0, TIOCSCTTY, 0) < 0)
		child_fail(errfd);

	/* Whatever the agent opened without O_CLOEXEC does not leak. */
	if (close_range(nfds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		child_fail(errfd);

	sigset_t none;
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		child_fail(errfd);

	execve(o->argv[0], (char *const *)o->argv, (char *const *)env);
	child_fail(errfd);
}

int spawn_start(const struct spawn_opts *o, pid_t *ret_pid)
{
	static const char *const default_env[] = { spawn_default_path, NULL };
	int src[3 + SPAWN_MAX_EXTRA_FDS];
	int nfds = 3 + (int)o->n_extra_fds;

	assert_se(o->n_extra_fds <= SPAWN_MAX_EXTRA_FDS);
	assert_se(o->argv && o->argv[0] && o->argv[0][0] == '/');

	_cleanup_close_ int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return -errno;
	for (int i = 0; i < 3; i++)
		src[i] = o->stdio[i] >= 0 ? o->stdio[i] : devnull;
	for (size_t i = 0; i < o->n_extra_fds; i++)
		src[3 + i] = o->extra_fds[i];

	int errpipe[2];
	if (pipe2(errpipe, O_CLOEXEC) < 0)
		return -errno;
	_cleanup_close_ int err_r = errpipe[0];
	_cleanup_close_ int err_w = errpipe[1];

	struct child_args ca = { o, src, nfds, err_w, o->env ? o->env : default_env };
	pid_t pid = spawn_vfork(child_exec, &ca);
	if (pid < 0)
		return pid;

	close(TAKE_FD(err_w));
	int child_errno = 0;
	ssize_t n;
	do
		n = read(err_r, &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	if (n == sizeof(child_errno)) {
		(void)spawn_wait(pid);
		return child_errno > 0 ? -child_errno : -EIO;
	}
	*ret_pid = pid;
	return 0;
}

int spawn_wait(pid_t pid)
{
	int status;
	pid_t r;
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -EIO;
}

static int64_t remaining_ms(uint64_t deadline)
{
	if (!deadline)
		return -1;
	uint64_t now = now_usec_monotonic();
	return now >= deadline ? 0 : (int64_t)((deadline - now) / 1000 + 1);
}

int spawn_run(const struct spawn_opts *o, const void *input, size_t input_len, struct strbuf *out,
	      struct strbuf *err, int timeout_ms)
{
	int in_p[2] = { -1, -1 }, out_p[2], err_p[2];

	if (input_len > INPUT_MAX)
		return -E2BIG;
	/* All input goes into the pipe before the child exists: no SIGPIPE
	 * can reach the agent, and the child sees EOF after it. */
	if (input) {
		if (pipe2(in_p, O_CLOEXEC) < 0)
			return -errno;
		if (input_len > 65536 && fcntl(in_p[1], F_SETPIPE_SZ, (int)input_len) < 0) {
			int r = -errno;
			close(in_p[0]);
			close(in_p[1]);
			return r;
		}
		size_t off = 0;
		while (off < input_len) {
			ssize_t w = write(in_p[1], (const char *)input + off, input_len - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				int r = -errno;
				close(in_p[0]);
				close(in_p[1]);
				return r;
			}
			off += (size_t)w;
		}
		close(in_p[1]);
	}
	_cleanup_close_ int in_r = in_p[0];
	if (pipe2(out_p, O_CLOEXEC) < 0)
		return -errno;
	_cleanup_close_ int out_r = out_p[0];
	_cleanup_close_ int out_w = out_p[1];
	if (pipe2(err_p, O_CLOEXEC) < 0)
		return -errno;
	_cleanup_close_ int err_r = err_p[0];
	_cleanup_close_ int err_w = err_p[1];

	struct spawn_opts so = *o;
	so.stdio[0] = in_r;
	so.stdio[1] = out_w;
	so.stdio[2] = err_w;
	pid_t pid;
	int r = spawn_start(&so, &pid);
	if (r < 0)
		return r;
	close(TAKE_FD(in_r));
	close(TAKE_FD(out_w));
	close(TAKE_FD(err_w));

	uint64_t deadline = timeout_ms > 0 ? now_usec_monotonic() + (uint64_t)timeout_ms * 1000 : 0;
	struct strbuf *sinks[2] = { out, err };
	struct pollfd pfd[2] = { { .fd = out_r, .events = POLLIN },
				 { .fd = err_r, .events = POLLIN } };
	bool timed_out = false;
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		int64_t left = remaining_ms(deadline);
		if (left == 0) {
			timed_out = true;
			break;
		}
		int n = poll(pfd, 2, (int)MIN(left, (int64_t)INT32_MAX));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			char buf[8192];
			ssize_t got = read(pfd[i].fd, buf, sizeof(buf));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				pfd[i].fd = -1;
				continue;
			}
			if (sinks[i])
				strbuf_add(sinks[i], buf, (size_t)got);
		}
	}
	if (timed_out || r < 0)
		(void)kill(pid, SIGKILL);
	int code = spawn_wait(pid);
	if (timed_out)
		return -ETIMEDOUT;
	return r < 0 ? r : code;
}

int spawn_wait_gone(pid_t pid, int timeout_ms)
{
	_cleanup_close_ int pfd = pidfd_open(pid, 0);
	if (pfd < 0)
		return errno == ESRCH ? 0 : -errno;
	struct pollfd p = { .fd = pfd, .events = POLLIN };
	uint64_t deadline = now_usec_monotonic() + (uint64_t)timeout_ms * 1000;
	for (;;) {
		int64_t left = remaining_ms(deadline);
		int n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}
