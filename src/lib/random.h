/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

/* Fill with cryptographically random bytes (getrandom). */
void random_bytes(void *p, size_t n);
/* A random RFC 4122 version 4 UUID, lower-case, 36 chars + NUL. */
void random_uuid(char buf[37]);
/* n random characters from Kubernetes' name alphabet "bcdfghjklmnpqrstvwxz2456789", NUL-terminated. */
void random_name_suffix(char *buf, size_t n);
/* n random lowercase hex characters, NUL-terminated (tokens). */
void random_hex(char *buf, size_t n);
