/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unpacking image layers (libarchive): tar, optionally gzip or zstd
 * compressed, into a directory used as an overlayfs layer.
 *  - OCI whiteouts become overlayfs ones: ".wh.NAME" a 0/0 character
 *    device NAME, ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its
 *    directory;
 *  - no entry may land outside dir: absolute paths, "..", and paths that
 *    traverse a symlink (the layer's own or any) are refused, as are hard
 *    links to outside; device nodes other than whiteouts are skipped;
 *  - ownership, modes, times and xattrs are kept.
 * On refusal the whole layer fails with -EPERM and a message naming the
 * entry.
 */
#pragma once

int layer_unpack(int fd, const char *dir, char **ret_err);
