/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to src/kubelet/{volumes,mounts,etcfiles}.c. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Whether path is the root of a mount (its device differs from its parent's). */
bool kvol_is_mountpoint(const char *path);
/* A path relative to a volume ("a/b"): not empty, not absolute, no ".."
 * component; NULL if fine, else a static reason. */
const char *kvol_bad_relpath(const char *p);
/* The pod's volume named name (spec.volumes[]), borrowed, or NULL. */
json_t *kvol_find(const json_t *pod, const char *name);
/* A volume's name fit for a directory: a non-empty name without '/', not
 * starting with '.' (DNS label). */
bool kvol_name_valid(const char *name);
/* Unmount everything mounted at path (stacked mounts too). */
void kvol_umount_all(const char *path);
