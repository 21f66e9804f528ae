/* SPDX-License-Identifier: Apache-2.0 */
/* Daemons in network namespaces, and the clean-up of what they leave. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/procs.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "runtime/spawn.h"

static inline void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

int proc_start_in_netns(const char *netns, const char *const *argv, const char *log_path,
			pid_t *ret_pid, char **ret_err)
{
	_cleanup_free_ char *nspath = xasprintf("/run/netns/%s", netns);
	_cleanup_close_ int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		*ret_err = xasprintf("open %s: %s", nspath, strerror(errno));
		return -errno;
	}
	_cleanup_close_ int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		*ret_err = xasprintf("open %s: %s", log_path, strerror(errno));
		return -errno;
	}
	int pipefd[2];
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		*ret_err = xasprintf("pipe: %s", strerror(errno));
		return -errno;
	}

	/* A first child joins the namespace and forks the daemon, whose pid it
	 * reports, so that the daemon is nobody's child here (no zombie when
	 * `cluster create` stays around, and reparented to init when it ends). */
	pid_t mid = fork();
	if (mid < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		*ret_err = xasprintf("fork: %s", strerror(e));
		return -e;
	}
	if (mid == 0) {
		close(pipefd[0]);
		if (setns(nsfd, CLONE_NEWNET) < 0)
			_exit(100);
		pid_t d = fork();
		if (d < 0)
			_exit(101);
		if (d == 0) {
			sigset_t all;
			sigemptyset(&all);
			sigprocmask(SIG_SETMASK, &all, NULL);
			for (int s = 1; s < NSIG; s++)
				signal(s, SIG_DFL);
			setsid();
			int devnull = open("/dev/null", O_RDONLY);
			if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(logfd, 1) < 0 ||
			    dup2(logfd, 2) < 0)
				_exit(102);
			close(pipefd[1]);
			execv(argv[0], (char *const *)argv);
			_exit(127);
		}
		ssize_t w = write(pipefd[1], &d, sizeof(d));
		_exit(w == sizeof(d) ? 0 : 103);
	}
	close(pipefd[1]);
	pid_t d = -1;
	ssize_t n;
	do
		n = read(pipefd[0], &d, sizeof(d));
	while (n < 0 && errno == EINTR);
	close(pipefd[0]);
	int st = 0;
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(d) || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		*ret_err = xasprintf("cannot start %s in network namespace %s (status %d)", argv[0],
				     netns, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -EIO;
	}
	*ret_pid = d;
	return 0;
}

bool proc_matches(pid_t pid, const char *marker)
{
	char path[64], buf[8192];
	if (pid <= 1)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false; /* a zombie has an empty command line */
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 0)
			buf[i] = ' ';
	buf[n] = 0;
	return strstr(buf, marker) != NULL;
}

void proc_stop(pid_t pid, const char *marker, int timeout_ms)
{
	if (!proc_matches(pid, marker))
		return;
	kill(pid, SIGTERM);
	if (spawn_wait_gone(pid, timeout_ms) == 0)
		return;
	if (proc_matches(pid, marker)) {
		log_warn("pid %d did not stop after SIGTERM; killing it", (int)pid);
		kill(pid, SIGKILL);
		(void)spawn_wait_gone(pid, 2000);
	}
}

/* ---- network namespaces ---- */

struct ns_set {
	ino_t ino[4096];
	dev_t dev[4096];
	size_t n;
};

static void ns_set_add_path(struct ns_set *s, const char *path)
{
	struct stat st;
	if (s->n < ARRAY_SIZE(s->ino) && stat(path, &st) == 0) {
		s->ino[s->n] = st.st_ino;
		s->dev[s->n] = st.st_dev;
		s->n++;
	}
}

static bool ns_set_has(const struct ns_set *s, const struct stat *st)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->ino[i] == st->st_ino && s->dev[i] == st->st_dev)
			return true;
	return false;
}

/* Mount points of /proc/self/mountinfo at or under dir (decoded), with
 * their file system type; the caller frees both vectors. */
static size_t mounts_under(const char *dir, char ***ret_points, char ***ret_types)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0, n = 0, alloc = 0, dl = strlen(dir);
	char **points = NULL, **types = NULL;

	while (f && getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX], fstype[64];
		/* id parent maj:min root mountpoint opts ... - fstype source superopts */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(dash + 3, "%63s", fstype) != 1)
			continue;
		/* Decode \040 style escapes. */
		char dec[PATH_MAX];
		size_t j = 0;
		for (size_t i = 0; mp[i] && j < sizeof(dec) - 1; i++) {
			if (mp[i] == '\\' && mp[i + 1] >= '0' && mp[i + 1] <= '7' && mp[i + 2] &&
			    mp[i + 3]) {
				dec[j++] = (char)(((mp[i + 1] - '0') << 6) |
						  ((mp[i + 2] - '0') << 3) | (mp[i + 3] - '0'));
				i += 3;
			} else
				dec[j++] = mp[i];
		}
		dec[j] = 0;
		if (strncmp(dec, dir, dl) != 0 || (dec[dl] != 0 && dec[dl] != '/'))
			continue;
		if (n + 2 > alloc) {
			alloc = alloc ? alloc * 2 : 16;
			points = xrealloc(points, alloc * sizeof(char *));
			types = xrealloc(types, alloc * sizeof(char *));
		}
		points[n] = xstrdup(dec);
		types[n] = xstrdup(fstype);
		n++;
		points[n] = types[n] = NULL;
	}
	free(line);
	*ret_points = points;
	*ret_types = types;
	return n;
}

static void strv_free(char **v)
{
	strv_freep(&v);
}

int procs_kill_in_netns(char *const *netns_names, const char *dir, int timeout_ms)
{
	struct ns_set *set = xnew(struct ns_set, 1);
	for (char *const *p = netns_names; p && *p; p++) {
		_cleanup_free_ char *path = xasprintf("/run/netns/%s", *p);
		ns_set_add_path(set, path);
	}
	if (dir) {
		char **points = NULL, **types = NULL;
		size_t n = mounts_under(dir, &points, &types);
		for (size_t i = 0; i < n; i++)
			if (streq(types[i], "nsfs"))
				ns_set_add_path(set, points[i]);
		strv_free(points);
		strv_free(types);
	}

	int left = 0;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		left = 0;
		_cleanup_(closedirp) DIR *d = opendir("/proc");
		struct dirent *de;
		pid_t self = getpid();
		while (d && (de = readdir(d))) {
			char *end;
			long pid = strtol(de->d_name, &end, 10);
			if (*end || pid <= 1 || pid == self)
				continue;
			char path[64];
			struct stat st;
			snprintf(path, sizeof(path), "/proc/%ld/ns/net", pid);
			if (stat(path, &st) < 0 || !ns_set_has(set, &st))
				continue;
			left++;
			kill((pid_t)pid, SIGKILL);
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (!left || ms >= timeout_ms)
			break;
		usleep(50000);
	}
	free(set);
	return left;
}

void mounts_remove_under(char *const *dirs)
{
	for (char *const *d = dirs; d && *d; d++) {
		/* Several passes: unmounting a parent may reveal nothing new, but
		 * stacked mounts on one point need one umount each. */
		for (int pass = 0; pass < 8; pass++) {
			char **points = NULL, **types = NULL;
			size_t n = mounts_under(*d, &points, &types);
			for (size_t i = n; i-- > 0;)
				if (umount2(points[i], MNT_DETACH) < 0 && errno != EINVAL &&
				    errno != ENOENT)
					log_warn("umount %s: %s", points[i], strerror(errno));
			strv_free(points);
			strv_free(types);
			if (!n)
				break;
		}
	}
}

static void rmdir_tree(const char *path, int depth)
{
	if (depth > 16)
		return;
	_cleanup_(closedirp) DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		_cleanup_free_ char *sub = xasprintf("%s/%s", path, de->d_name);
		rmdir_tree(sub, depth + 1);
	}
	if (rmdir(path) < 0 && errno != ENOENT)
		log_warn("rmdir %s: %s", path, strerror(errno));
}

void cgroups_remove(const char *rel)
{
	_cleanup_(closedirp) DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *path = xasprintf("/sys/fs/cgroup/%s/%s", de->d_name, rel);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			rmdir_tree(path, 0);
	}
	/* A pure cgroup v2 host: the tree itself. */
	_cleanup_free_ char *v2 = xasprintf("/sys/fs/cgroup/%s", rel);
	struct stat st;
	if (stat(v2, &st) == 0 && S_ISDIR(st.st_mode))
		rmdir_tree(v2, 0);
}

void cgroups_remove_if_empty(const char *rel)
{
	_cleanup_(closedirp) DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *path = xasprintf("/sys/fs/cgroup/%s/%s", de->d_name, rel);
		(void)rmdir(path); /* fails, as it should, while another cluster uses it */
	}
}
