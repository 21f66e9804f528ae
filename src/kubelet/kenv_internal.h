/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to src/kubelet/{env,volumes,bundle}.c: the pieces of environment
 * resolution the downward API volume and the bundle share. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Expand $(VAR) through lookup (NULL: unknown, kept as written); "$$" is "$".
 * NULL if the result would exceed max bytes (0: no limit). */
char *kenv_expand(const char *s, const char *(*lookup)(void *ud, const char *name, size_t nlen),
		  void *ud, size_t max);
/* A valid environment variable name (printable ASCII, no '='). */
bool kenv_name_valid(const char *name);
/* The value of key in a ConfigMap (data, binaryData) or a Secret (data,
 * base64-decoded), malloc'd and NUL-terminated, or NULL. */
char *kenv_object_key(const json_t *obj, bool secret, const char *key, size_t *ret_len);
/* A downward API fieldRef path's value (env form: labels['k'], annotations['k']). */
int kenv_field_ref(const json_t *pod, const char *path, const char *pod_ip, const char *host_ip,
		   char **ret, char **ret_err);
/* A resourceFieldRef's value ({containerName, resource, divisor}). */
int kenv_resource_ref(const json_t *pod, const json_t *container, const json_t *ref, char **ret,
		      char **ret_err);
/* A quantity in the container's resources.<kind>.<name> (cpu in milli-units
 * with milli): 0, or -ENOENT when unset, or a parse error. */
int kenv_resource_value(const json_t *c, const char *kind, const char *name, bool milli,
			int64_t *ret);
/* The machine's memory in bytes (0 if unknown). */
int64_t kenv_machine_memory(void);
