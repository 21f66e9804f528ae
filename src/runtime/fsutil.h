/* SPDX-License-Identifier: Apache-2.0 */
/* Small file helpers for the runtime layer (internal to src/runtime and
 * src/net; depends on src/lib only). All return negative errno. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p with mode for the directories it creates. */
int rt_mkdir_p(const char *path, mode_t mode);
/* rm -rf that never crosses into another filesystem (a mount below path
 * fails with -EXDEV instead of being emptied). Missing path: 0. */
int rt_rm_rf(const char *path);
/* The whole (small) file, NUL-terminated, into *ret; *ret_len if non-NULL. */
int rt_read_file(const char *path, char **ret, size_t *ret_len);
/* All of p to fd (retrying short writes and EINTR). */
int rt_write_all(int fd, const void *p, size_t n);
/* Write data to path atomically (temporary file, fsync-less rename). */
int rt_write_file(const char *path, const char *data, size_t len, mode_t mode);
/* Replace the content of the existing file path in place, keeping its inode
 * (what a bind mount of the file shows); not atomic for readers. */
int rt_rewrite_file(const char *path, const char *data, size_t len);
