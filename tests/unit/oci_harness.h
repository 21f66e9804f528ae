/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helpers shared by the runtime tests (test_oci, test_sandbox, test_cni):
 * a busybox-static root filesystem, OCI bundles with a generated
 * config.json, bounded waits, and running a program inside a network
 * namespace. The tests run as root and clean up everything they make.
 */
#pragma once

#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "lib/macro.h"
#include "lib/strbuf.h"
#include "runtime/fsutil.h"

/* A root filesystem of busybox applets, as tests/images/build.sh makes. */
static inline int harness_make_rootfs(const char *dir)
{
	_cleanup_free_ char *cmd = xasprintf(
	    "set -e; r='%s'; mkdir -p \"$r/bin\" \"$r/etc\" \"$r/tmp\" \"$r/root\" \"$r/proc\" "
	    "\"$r/sys\" \"$r/dev\"; chmod 1777 \"$r/tmp\"; cp /bin/busybox \"$r/bin/busybox\"; "
	    "for a in $(/bin/busybox --list-full); do case $a in bin/busybox) continue;; esac; "
	    "mkdir -p \"$r/$(dirname $a)\"; ln -sf /bin/busybox \"$r/$a\"; done; "
	    "printf 'root:x:0:0:root:/root:/bin/sh\\n' >\"$r/etc/passwd\"; "
	    "printf 'root:x:0:\\n' >\"$r/etc/group\"; "
	    "printf '127.0.0.1 localhost\\n' >\"$r/etc/hosts\"; : >\"$r/etc/resolv.conf\"",
	    dir);
	return system(cmd) == 0 ? 0 : -EIO;
}

struct harness_config {
	const char *rootfs;	 /* absolute */
	const char *const *args; /* NULL-terminated */
	bool tty;
	int64_t memory_limit;		   /* bytes, 0: none */
	const char *hostname;		   /* only with a private UTS namespace */
	const char *netns, *utsns, *ipcns; /* join these (paths), else private */
};

static inline json_t *harness_config_json(const struct harness_config *c)
{
	json_t *args = json_array();
	for (const char *const *a = c->args; *a; a++)
		json_array_append_new(args, json_string(*a));
	const char *caps[] = { "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FOWNER",
			       "CAP_FSETID",  "CAP_KILL",	  "CAP_NET_BIND_SERVICE",
			       "CAP_NET_RAW", "CAP_SETGID",	  "CAP_SETUID",
			       "CAP_SETPCAP", "CAP_SYS_CHROOT",	  "CAP_AUDIT_WRITE" };
	json_t *capset = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
		json_array_append_new(capset, json_string(caps[i]));
	json_t *process = json_pack(
	    "{s:b, s:{s:i, s:i}, s:o, s:[s, s], s:s, s:{s:O, s:O, s:O}, s:b}", "terminal", c->tty,
	    "user", "uid", 0, "gid", 0, "args", args, "env", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	    "TERM=xterm", "cwd", "/", "capabilities", "bounding", capset, "effective", capset,
	    "permitted", capset, "noNewPrivileges", false);
	json_decref(capset);

	json_t *ns = json_array();
	const char *private_ns[] = { "pid", "mount" };
	for (size_t i = 0; i < ARRAY_SIZE(private_ns); i++)
		json_array_append_new(ns, json_pack("{s:s}", "type", private_ns[i]));
	struct {
		const char *type, *path;
	} shared[] = { { "network", c->netns }, { "uts", c->utsns }, { "ipc", c->ipcns } };
	for (size_t i = 0; i < ARRAY_SIZE(shared); i++)
		json_array_append_new(ns, shared[i].path
					      ? json_pack("{s:s, s:s}", "type", shared[i].type,
							  "path", shared[i].path)
					      : json_pack("{s:s}", "type", shared[i].type));

	json_t *linux_ =
	    json_pack("{s:o, s:[s, s, s], s:[s, s, s]}", "namespaces", ns, "maskedPaths",
		      "/proc/kcore", "/proc/timer_list", "/sys/firmware", "readonlyPaths",
		      "/proc/bus", "/proc/sys", "/proc/sysrq-trigger");
	if (c->memory_limit)
		json_object_set_new(
		    linux_, "resources",
		    json_pack("{s:{s:I}}", "memory", "limit", (json_int_t)c->memory_limit));

	json_t *mounts =
	    json_pack("[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:[s, s, s]},"
		      " {s:s, s:s, s:s, s:[s, s, s, s, s]}, {s:s, s:s, s:s, s:[s, s, s, s]},"
		      " {s:s, s:s, s:s, s:[s, s, s, s]}]",
		      "destination", "/proc", "type", "proc", "source", "proc", /* */
		      "destination", "/dev", "type", "tmpfs", "source", "tmpfs", "options",
		      "nosuid", "strictatime", "mode=755", /* */
		      "destination", "/dev/pts", "type", "devpts", "source", "devpts", "options",
		      "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", /* */
		      "destination", "/dev/shm", "type", "tmpfs", "source", "shm", "options",
		      "nosuid", "noexec", "nodev", "mode=1777", /* */
		      "destination", "/sys", "type", "sysfs", "source", "sysfs", "options",
		      "nosuid", "noexec", "nodev", "ro");

	json_t *cfg = json_pack("{s:s, s:o, s:{s:s, s:b}, s:o, s:o}", "ociVersion", "1.0.2",
				"process", process, "root", "path", c->rootfs, "readonly", false,
				"mounts", mounts, "linux", linux_);
	if (c->hostname)
		json_object_set_new(cfg, "hostname", json_string(c->hostname));
	return cfg;
}

/* dir/config.json from c; dir is created. */
static inline int harness_make_bundle(const char *dir, const struct harness_config *c)
{
	int r = rt_mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	json_t *cfg = harness_config_json(c);
	_cleanup_free_ char *path = xasprintf("%s/config.json", dir);
	r = json_dump_file(cfg, path, JSON_INDENT(1)) == 0 ? 0 : -EIO;
	json_decref(cfg);
	return r;
}

static inline uint64_t harness_now_ms(void)
{
	return now_usec_monotonic() / 1000;
}

static inline void harness_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Poll cond(arg) every 5 ms until it holds or timeout_ms passes. */
static inline bool harness_wait_for(bool (*cond)(void *), void *arg, int timeout_ms)
{
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		if (cond(arg))
			return true;
		if (harness_now_ms() >= deadline)
			return false;
		harness_sleep_ms(5);
	}
}

static inline char *harness_read(const char *path)
{
	char *s = NULL;
	if (rt_read_file(path, &s, NULL) < 0)
		return xstrdup("");
	return s;
}

/* Read from fd until needle appears, EOF, or timeout; all text read so
 * far in *sb. True when needle was seen. */
static inline bool harness_read_until(int fd, const char *needle, int timeout_ms, struct strbuf *sb)
{
	uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
	while (!strstr(strbuf_str(sb), needle)) {
		uint64_t now = harness_now_ms();
		if (now >= deadline)
			return false;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return strstr(strbuf_str(sb), needle) != NULL;
		strbuf_add(sb, buf, (size_t)n);
	}
	return true;
}

/* Run argv (absolute path) with its network namespace switched to the one
 * at netns_path; returns its exit code. Output goes to ours. */
static inline int harness_run_in_netns(const char *netns_path, const char *const *argv)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(netns_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			_exit(126);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0)
		return -errno;
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
