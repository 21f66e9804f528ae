/* SPDX-License-Identifier: Apache-2.0 */
/* A container's environment, resolved as the kubelet does. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "kubelet/lookup.h"

/* The container's environment as "K=V" strings (NULL-terminated vector):
 * image env, then envFrom (prefix, optional), then env (value with $(VAR)
 * expansion, valueFrom configMapKeyRef/secretKeyRef (optional), fieldRef:
 * metadata.name/namespace/uid/labels['k']/annotations['k'], spec.nodeName,
 * spec.serviceAccountName, status.podIP(s), status.hostIP(s);
 * resourceFieldRef limits/requests cpu/memory with divisor). More than 1 MiB
 * in all is refused. */
int kubelet_env_resolve(const json_t *pod, const json_t *container, const char *const *image_env,
			const char *pod_ip, const char *host_ip, const struct kubelet_lookup *lk,
			char ***ret_env, char **ret_err);

/* Whether some container's env (init containers included) takes the pod's
 * IP (fieldRef status.podIP or status.podIPs): it must be known first. */
bool kubelet_env_needs_pod_ip(const json_t *pod);
