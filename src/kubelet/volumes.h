/* SPDX-License-Identifier: Apache-2.0 */
/* A pod's volumes and the mounts of its containers. */
#pragma once

#include <jansson.h>

#include "kubelet/lookup.h"

/* pod_dir is <root-dir>/pods/<pod uid>. Create or refresh every volume of the
 * pod under pod_dir/volumes/<name> (emptyDir, medium Memory as tmpfs with
 * sizeLimit; configMap and secret with items, defaultMode, optional, updated
 * atomically through a ..data symlink like the kubelet; downwardAPI; hostPath
 * with its type checks: nothing is created for hostPath). Idempotent: called on
 * every pod sync. */
int pod_volumes_setup(const char *pod_dir, const json_t *pod, const char *pod_ip,
		      const struct kubelet_lookup *lk, char **ret_err);
/* Unmount and remove everything under pod_dir/volumes (not hostPaths' targets). */
int pod_volumes_teardown(const char *pod_dir);
/* The OCI "mounts" entries for the container's volumeMounts (readOnly,
 * subPath / subPathExpr resolved safely: no escape through .. or symlinks,
 * refused with a clear error), plus /etc/hosts, /etc/hostname,
 * /etc/resolv.conf from pod_dir/etc-* and the default /proc /dev /dev/pts
 * /dev/shm /dev/mqueue /sys mounts; /dev/termination-log. */
int container_mounts(const char *pod_dir, const json_t *pod, const json_t *container,
		     json_t **ret_mounts, char **ret_err);
/* Write pod_dir/etc-hosts, etc-hostname, etc-resolv.conf. dnsPolicy
 * ClusterFirst with cluster_dns set: "nameserver <cluster_dns>", search
 * "<ns>.svc.<domain> svc.<domain> <domain>", "options ndots:5"; Default or no
 * cluster_dns: copy the host's /etc/resolv.conf; None: dnsConfig only;
 * dnsConfig merged. hosts: localhost lines, the pod IP with its hostname
 * (and hostname.subdomain.ns.svc.domain when subdomain is set), hostAliases. */
int pod_write_etc_files(const char *pod_dir, const json_t *pod, const char *pod_ip,
			const char *cluster_dns, const char *cluster_domain, char **ret_err);
