/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting helper programs (the OCI runtime, conmon, CNI plugins) from a
 * threaded agent. Internal to src/runtime and src/net; depends on src/lib
 * only, so it can move there when another component needs it.
 *
 * The child is made with clone(CLONE_VM | CLONE_VFORK), as posix_spawn
 * does: no copy of the agent's page tables (a fork of a busy agent costs
 * milliseconds), and the caller's thread waits until the child has called
 * execve() or exited. The child runs only system calls until execve(): it resets
 * every signal disposition and the signal mask (the agent may block or
 * ignore signals), places the requested fds at 0, 1, 2, 3, ... and marks
 * every other fd close-on-exec, so nothing of the agent leaks into
 * long-lived children such as conmon. An exec failure comes back as the
 * child's errno through a close-on-exec pipe.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/strbuf.h"

enum {
	/* Start a new session (detach from the agent's terminal and signals). */
	SPAWN_SETSID = 1 << 0,
	/* stdin is a terminal: make it the controlling terminal (implies SETSID). */
	SPAWN_CTTY = 1 << 1,
	/*
	 * Run in a private mount namespace (a slave of the agent's) in which
	 * /sys/fs/cgroup/unified is unmounted, so that on a hybrid cgroup host
	 * the program sees pure cgroup v1. crun needs this (it refuses hybrid
	 * hosts); see src/runtime/README.md.
	 */
	SPAWN_CGROUP_V1_VIEW = 1 << 2,
};

#define SPAWN_MAX_EXTRA_FDS 4

struct spawn_opts {
	const char *const *argv; /* argv[0] is an absolute path */
	const char *const *env;	 /* the whole environment; NULL: PATH only */
	int stdio[3];		 /* fds for 0, 1, 2; -1: /dev/null */
	const int *extra_fds;	 /* become fds 3, 4, ... in the child */
	size_t n_extra_fds;	 /* at most SPAWN_MAX_EXTRA_FDS */
	const char *cwd;	 /* working directory; NULL: the agent's */
	unsigned flags;
};

/* The PATH given to children when no environment is passed. */
extern const char spawn_default_path[];

/* Run fn(arg) in a child that shares the caller's memory, on a stack of
 * its own, with every signal blocked; the caller's thread resumes once the
 * child has exec'd or exited. fn must only make system calls and must end
 * in execve() or _exit(). The child's pid (to reap), or negative errno. */
pid_t spawn_vfork(int (*fn)(void *), void *arg);

/* For the functions such a child runs: AddressSanitizer's bookkeeping of
 * noreturn calls assumes the stack of the thread it knows, not the child's. */
#define _spawn_child_ __attribute__((no_sanitize_address))

/* Start a program; *ret_pid is its pid (the caller must reap it).
 * Negative errno on failure, including the child's execve() errno. */
int spawn_start(const struct spawn_opts *o, pid_t *ret_pid);

/* Wait for a child: its exit code, 128+signal if killed, or negative errno. */
int spawn_wait(pid_t pid);

/*
 * Run a program to completion. input (may be NULL) is its stdin (at most
 * 1 MiB); stdout and stderr are collected into out and err (either may be
 * NULL to discard). o->stdio is ignored. timeout_ms <= 0 waits forever;
 * on timeout the child is killed and -ETIMEDOUT returned. Returns the exit
 * code as spawn_wait() does.
 */
int spawn_run(const struct spawn_opts *o, const void *input, size_t input_len, struct strbuf *out,
	      struct strbuf *err, int timeout_ms);

/* Wait up to timeout_ms for a process that is not our child to exit
 * (pidfd). 0 when it is gone, -ETIMEDOUT, or negative errno. */
int spawn_wait_gone(pid_t pid, int timeout_ms);
