/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Applying nft commands through libnftables: one buffer is one netlink
 * batch, so it applies entirely or not at all. Not thread-safe: one
 * context per thread.
 */
#pragma once

struct proxy_nft;

struct proxy_nft *proxy_nft_new(void);
void proxy_nft_free(struct proxy_nft *n);
/* Run cmds (nft syntax, one command a line) in one transaction, in the
 * calling thread's network namespace. On failure returns -EINVAL and
 * nft's message in *ret_err (the caller frees it). */
int proxy_nft_run(struct proxy_nft *n, const char *cmds, char **ret_err);
