/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Processes, mounts and cgroups of a local cluster: starting the server and
 * the agents as daemons inside a node's network namespace, and removing
 * everything they left when the cluster is deleted.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* Start argv (argv[0] absolute) as a daemon (own session, stdin /dev/null,
 * stdout and stderr appended to log_path) inside the named network
 * namespace; the rest of its namespaces are ours. */
int proc_start_in_netns(const char *netns, const char *const *argv, const char *log_path,
			pid_t *ret_pid, char **ret_err);

/* Is pid alive and is its command line holding marker (so a reused pid is
 * never signalled)? */
bool proc_matches(pid_t pid, const char *marker);

/* SIGTERM, wait up to timeout_ms, then SIGKILL; only if proc_matches(). */
void proc_stop(pid_t pid, const char *marker, int timeout_ms);

/* Kill (SIGKILL) every process whose network namespace is one of the named
 * namespaces or one bind-mounted under dir (pod sandboxes); repeat until
 * none is left or timeout_ms passed. Returns how many were left. */
int procs_kill_in_netns(char *const *netns_names, const char *dir, int timeout_ms);

/* Unmount every mount point at or below each dir (deepest first). */
void mounts_remove_under(char *const *dirs);

/* Remove the cgroup directories named rel (e.g. "c8s/NODE") in every
 * mounted cgroup hierarchy, depth first. */
void cgroups_remove(const char *rel);

/* Remove the cgroup directory rel in every hierarchy where it is empty. */
void cgroups_remove_if_empty(const char *rel);
