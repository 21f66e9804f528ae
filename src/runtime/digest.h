/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Content digests for the image store: streaming SHA-256 (GnuTLS) and the
 * "sha256:<64 lowercase hex>" form OCI uses. Only sha256 is supported; it
 * is the only algorithm registries and image tools produce in practice.
 *
 * Also the few unpack.c internals that image.c needs and that unpack.h
 * (a fixed interface) does not carry; see src/runtime/README.md.
 */
#pragma once

#include <gnutls/crypto.h>
#include <stdbool.h>
#include <stddef.h>

#define DIGEST_HEX_LEN 64
/* "sha256:" + hex + NUL */
#define DIGEST_BUF_LEN (7 + DIGEST_HEX_LEN + 1)

struct sha256 {
	gnutls_hash_hd_t h;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
/* Write "sha256:<hex>" into ret and release the state. */
void sha256_final(struct sha256 *s, char ret[DIGEST_BUF_LEN]);
/* Release the state without output (safe after sha256_final). */
void sha256_release(struct sha256 *s);
/* One shot: "sha256:<hex>" of p[0..n). */
void sha256_digest(const void *p, size_t n, char ret[DIGEST_BUF_LEN]);

/* True for "sha256:" followed by exactly 64 lowercase hex digits. */
bool digest_valid(const char *d);
/* The hex part of a valid digest. */
static inline const char *digest_hex(const char *d)
{
	return d + 7;
}

/* OCI chain IDs: chain[0] = diff[0], chain[i] = sha256(chain[i-1] + " " +
 * diff[i]). ret must hold n DIGEST_BUF_LEN buffers. */
void digest_chain_ids(char *const *diff_ids, size_t n, char (*ret)[DIGEST_BUF_LEN]);

/* ---- unpack.c internals used by image.c ---- */

/* layer_unpack() that also returns the digest of the uncompressed stream
 * (the layer's diff ID), computed while unpacking. ret_diff_id may be NULL. */
int layer_unpack_digest(int fd, const char *dir, char ret_diff_id[DIGEST_BUF_LEN], char **ret_err);
/* Remove name under dirfd recursively, never following symlinks; 0 if absent. */
int unpack_rm_rf_at(int dirfd, const char *name);
