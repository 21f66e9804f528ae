/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running OCI bundles with crun (or runc) under conmon, so that containers
 * outlive the agent: conmon holds the container's stdio, writes its output
 * in the CRI log format, and records its exit code.
 *
 * crun refuses the hybrid cgroup layout of some hosts: oci_runtime_new()
 * detects such a host once; each crun or conmon call then runs in its own
 * private mount namespace (a slave of the agent's) with
 * /sys/fs/cgroup/unified unmounted (see ../shared/reference/machine.md).
 * The agent itself stays in the host mount namespace, so sandboxes and
 * rootfs mounts outlive an agent restart.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct oci_runtime;

struct oci_runtime_opts {
	const char *runtime;   /* "crun" (default) or "runc", or a path */
	const char *conmon;    /* path, default /usr/bin/conmon */
	const char *state_dir; /* run state: <root-dir>/containers */
};

int oci_runtime_new(const struct oci_runtime_opts *opts, struct oci_runtime **ret, char **ret_err);
void oci_runtime_free(struct oci_runtime *rt);
/* "crun version 1.8.1" style string for node status. */
const char *oci_runtime_version(struct oci_runtime *rt);

struct oci_create_opts {
	const char *id;	      /* container id (unique on the node) */
	const char *bundle;   /* directory holding config.json (rootfs path inside) */
	const char *log_path; /* CRI log file */
	bool tty;	      /* config.json's process.terminal */
	bool stdin;	      /* keep stdin open for attach */
};

/* Create the container (conmon + runtime create); *ret_pid is its init pid. */
int oci_create(struct oci_runtime *rt, const struct oci_create_opts *o, pid_t *ret_pid,
	       char **ret_err);
int oci_start(struct oci_runtime *rt, const char *id, char **ret_err);
int oci_kill(struct oci_runtime *rt, const char *id, int sig);
/* Remove the container's runtime state (force: kill first). */
int oci_delete(struct oci_runtime *rt, const char *id, bool force);

enum oci_status { OCI_UNKNOWN = 0, OCI_CREATED, OCI_RUNNING, OCI_STOPPED };

struct oci_state {
	enum oci_status status;
	pid_t pid;
	int exit_code;	    /* when stopped */
	bool oom_killed;    /* when stopped by the OOM killer */
	int64_t started_at; /* usec realtime, 0 if unknown */
	int64_t finished_at;
};

int oci_state(struct oci_runtime *rt, const char *id, struct oci_state *ret);
/* Every container id the runtime knows (for adoption after a restart). */
int oci_list(struct oci_runtime *rt, char ***ret_ids);

/*
 * Run a process in a running container (exec). process_json is an OCI
 * "process" object. With tty, *ret_fd is the pty master (read/write both
 * ways); else ret_stdio[0..2] are pipes (stdin write end, stdout and stderr
 * read ends; -1 for those not asked). *ret_pid can be waited on with
 * oci_exec_wait.
 */
int oci_exec(struct oci_runtime *rt, const char *id, const char *process_json, bool tty,
	     bool want_stdin, int *ret_fd, int ret_stdio[3], pid_t *ret_pid, char **ret_err);
/* Wait for an exec'd process; returns its exit code (128+signal if killed). */
int oci_exec_wait(pid_t pid);
/* Resize the exec's or the container's terminal. */
int oci_resize(int pty_fd, unsigned short cols, unsigned short rows);

/* conmon's attach socket for a container (stdin/stdout/stderr of the
 * container's main process), and its control fifo for resizes. */
char *oci_attach_socket(struct oci_runtime *rt, const char *id);
char *oci_ctl_fifo(struct oci_runtime *rt, const char *id);
