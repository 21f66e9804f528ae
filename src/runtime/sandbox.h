/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod sandboxes: the network, UTS and IPC namespaces a pod's containers
 * share, created by the agent (no pause container). Each namespace is kept
 * alive by a bind mount of its nsfs file under <run-dir>/ns/<pod uid>/;
 * containers join them through config.json's linux.namespaces paths. The
 * UTS namespace's hostname is the pod's hostname.
 */
#pragma once

struct sandbox {
	char *dir;   /* <run-dir>/ns/<pod uid> */
	char *netns; /* <dir>/net */
	char *utsns; /* <dir>/uts */
	char *ipcns; /* <dir>/ipc */
};

int sandbox_create(const char *run_dir, const char *pod_uid, const char *hostname,
		   struct sandbox *ret, char **ret_err);
/* Whether the sandbox of pod_uid exists (after an agent restart). */
int sandbox_open(const char *run_dir, const char *pod_uid, struct sandbox *ret);
/* Unmount and remove the namespaces (safe to repeat). */
int sandbox_destroy(struct sandbox *sb);
void sandbox_release(struct sandbox *sb);
