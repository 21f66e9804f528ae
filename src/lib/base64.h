/* SPDX-License-Identifier: Apache-2.0 */
/* Standard base64 (RFC 4648, with padding). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* malloc'd, NUL-terminated. */
char *base64_encode(const void *data, size_t len);
/* Decode; -EINVAL on bad input (whitespace is not accepted). malloc'd, NUL-terminated. */
int base64_decode(const char *s, size_t slen, void **ret, size_t *ret_len);
bool base64_valid(const char *s, size_t slen);
/* URL-safe alphabet without padding (continue tokens). */
char *base64url_encode(const void *data, size_t len);
int base64url_decode(const char *s, size_t slen, void **ret, size_t *ret_len);
