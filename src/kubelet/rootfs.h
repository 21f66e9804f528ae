/* SPDX-License-Identifier: Apache-2.0 */
/* A container's root file system: overlayfs over the image's layers. */
#pragma once

/* Mount an overlayfs at ctr_dir/rootfs from the image's lower dirs (as
 * image_prepare() returns them, top first) with ctr_dir/upper and
 * ctr_dir/work; idempotent (already mounted: 0). */
int rootfs_mount(const char *ctr_dir, char *const *lowerdirs, char **ret_rootfs, char **ret_err);
int rootfs_unmount(const char *ctr_dir);
