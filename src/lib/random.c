/* SPDX-License-Identifier: Apache-2.0 */
#include <sys/random.h>

#include "lib/macro.h"
#include "lib/random.h"

void random_bytes(void *p, size_t n)
{
	unsigned char *b = p;

	while (n > 0) {
		ssize_t r = getrandom(b, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* No entropy source at all: nothing sensible to return. */
			abort();
		}
		b += r;
		n -= (size_t)r;
	}
}

void random_uuid(char buf[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char u[16];
	size_t o = 0;

	random_bytes(u, sizeof(u));
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	for (size_t i = 0; i < sizeof(u); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf[o++] = '-';
		buf[o++] = hex[u[i] >> 4];
		buf[o++] = hex[u[i] & 15];
	}
	buf[o] = 0;
}

void random_name_suffix(char *buf, size_t n)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	const size_t nalpha = sizeof(alphabet) - 1;
	/* Largest multiple of nalpha that fits a byte: rejection keeps it uniform. */
	const unsigned limit = 256 - 256 % nalpha;
	unsigned char pool[64];
	size_t avail = 0, i = 0;

	while (i < n) {
		if (avail == 0) {
			random_bytes(pool, sizeof(pool));
			avail = sizeof(pool);
		}
		unsigned char b = pool[--avail];
		if (b < limit)
			buf[i++] = alphabet[b % nalpha];
	}
	buf[n] = 0;
}

void random_hex(char *buf, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char pool[32];
	size_t avail = 0;

	for (size_t i = 0; i < n; i++) {
		if (avail == 0) {
			random_bytes(pool, sizeof(pool));
			avail = sizeof(pool);
		}
		buf[i] = hex[pool[--avail] & 15];
	}
	buf[n] = 0;
}
