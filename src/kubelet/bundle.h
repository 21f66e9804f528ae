/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI bundle (config.json) of a container of a pod. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

struct bundle_opts {
	const json_t *pod, *container;
	const json_t
	    *image_config;		   /* the image config's "config" object (Env,
					      Entrypoint, Cmd, WorkingDir, User, StopSignal), may be NULL */
	char *const *env;		   /* from kubelet_env_resolve */
	const json_t *mounts;		   /* from container_mounts */
	const char *rootfs;		   /* from rootfs_mount */
	const char *netns, *utsns, *ipcns; /* sandbox namespace paths (struct sandbox) */
	const char *cgroups_path;	   /* e.g. "/c8s/<node>/pod<uid>/<ctr id>" (cgroupfs) */
	const char *hostname;		   /* pod name or spec.hostname */
	bool tty, stdin_open;
};

/* Write bundle_dir/config.json (OCI runtime spec 1.0): process (args from
 * command/args over Entrypoint/Cmd with $(VAR) expansion, env, cwd, user from
 * runAsUser/runAsGroup/supplementalGroups or the image User resolved in the
 * rootfs /etc/passwd and /etc/group, capabilities: containerd's default set
 * +add -drop, privileged = all caps and no seccomp/masked paths,
 * noNewPrivileges unless allowPrivilegeEscalation or privileged, rlimits
 * NOFILE, oomScoreAdj), root (readonly from readOnlyRootFilesystem),
 * hostname, mounts, linux.namespaces (network/uts/ipc paths joined, new pid
 * and mount (and cgroup) ns), linux.resources from resources.limits/requests
 * (memory limit, cpu shares from requests, cpu quota/period from limits, pids
 * limit), maskedPaths/readonlyPaths as containerd, cgroupsPath. */
int bundle_write(const char *bundle_dir, const struct bundle_opts *o, char **ret_err);
/* The image's stop signal (config StopSignal), default SIGTERM. */
int bundle_stop_signal(const json_t *image_config);
