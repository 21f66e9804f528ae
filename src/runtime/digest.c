/* SPDX-License-Identifier: Apache-2.0 */
#include "runtime/digest.h"

#include "lib/macro.h"

void sha256_init(struct sha256 *s)
{
	/* Fails only on out-of-memory (or a FIPS policy forbidding SHA-256). */
	assert_se(gnutls_hash_init(&s->h, GNUTLS_DIG_SHA256) == 0);
}

void sha256_update(struct sha256 *s, const void *p, size_t n)
{
	if (n)
		assert_se(gnutls_hash(s->h, p, n) == 0);
}

static void hex_digest(const unsigned char *raw, char ret[DIGEST_BUF_LEN])
{
	static const char hex[] = "0123456789abcdef";

	memcpy(ret, "sha256:", 7);
	for (size_t i = 0; i < DIGEST_HEX_LEN / 2; i++) {
		ret[7 + 2 * i] = hex[raw[i] >> 4];
		ret[7 + 2 * i + 1] = hex[raw[i] & 15];
	}
	ret[DIGEST_BUF_LEN - 1] = 0;
}

void sha256_final(struct sha256 *s, char ret[DIGEST_BUF_LEN])
{
	unsigned char raw[DIGEST_HEX_LEN / 2];

	gnutls_hash_deinit(s->h, raw);
	s->h = NULL;
	hex_digest(raw, ret);
}

void sha256_release(struct sha256 *s)
{
	if (s->h)
		gnutls_hash_deinit(s->h, NULL);
	s->h = NULL;
}

void sha256_digest(const void *p, size_t n, char ret[DIGEST_BUF_LEN])
{
	unsigned char raw[DIGEST_HEX_LEN / 2];

	assert_se(gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, raw) == 0);
	hex_digest(raw, ret);
}

bool digest_valid(const char *d)
{
	if (!d || !startswith(d, "sha256:") || strlen(d) != DIGEST_BUF_LEN - 1)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

void digest_chain_ids(char *const *diff_ids, size_t n, char (*ret)[DIGEST_BUF_LEN])
{
	for (size_t i = 0; i < n; i++) {
		if (i == 0) {
			snprintf(ret[0], DIGEST_BUF_LEN, "%s", diff_ids[0]);
			continue;
		}
		char buf[2 * DIGEST_BUF_LEN];
		int len = snprintf(buf, sizeof(buf), "%s %s", ret[i - 1], diff_ids[i]);
		sha256_digest(buf, (size_t)len, ret[i]);
	}
}
