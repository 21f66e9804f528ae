/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 4648 base64: the standard alphabet with padding, and the URL-safe
 * alphabet without it. Decoding is strict about length and padding but, like
 * Go's default decoders, does not insist that unused trailing bits be zero. */
#include "lib/base64.h"
#include "lib/macro.h"

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *encode(const void *data, size_t len, const char *alphabet, bool pad)
{
	const unsigned char *in = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1);
	size_t o = 0, i = 0;

	for (; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = 0;
	return out;
}

char *base64_encode(const void *data, size_t len)
{
	return encode(data, len, std_alphabet, true);
}

char *base64url_encode(const void *data, size_t len)
{
	return encode(data, len, url_alphabet, false);
}

static int sextet(char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/* Decodes into out (may be NULL to only validate); returns the decoded
 * length or -EINVAL. */
static ssize_t decode(const char *s, size_t slen, bool url, unsigned char *out)
{
	size_t n = slen, o = 0;

	if (!url) {
		if (slen % 4)
			return -EINVAL;
		/* At most two '=' and only at the very end. */
		if (n > 0 && s[n - 1] == '=')
			n--;
		if (n > 0 && s[n - 1] == '=' && n == slen - 1)
			n--;
	}
	if (n % 4 == 1)
		return -EINVAL;
	/* Padding is only allowed to complete a final partial group. */
	if (!url && n != slen && n % 4 == 0)
		return -EINVAL;

	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = sextet(s[i], url);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (out)
				out[o] = (unsigned char)(acc >> bits);
			o++;
			acc &= (1u << bits) - 1;
		}
	}
	return (ssize_t)o;
}

static int decode_alloc(const char *s, size_t slen, bool url, void **ret, size_t *ret_len)
{
	ssize_t n = decode(s, slen, url, NULL);
	if (n < 0)
		return (int)n;
	unsigned char *out = xmalloc((size_t)n + 1);
	decode(s, slen, url, out);
	out[n] = 0;
	*ret = out;
	if (ret_len)
		*ret_len = (size_t)n;
	return 0;
}

int base64_decode(const char *s, size_t slen, void **ret, size_t *ret_len)
{
	return decode_alloc(s, slen, false, ret, ret_len);
}

int base64url_decode(const char *s, size_t slen, void **ret, size_t *ret_len)
{
	return decode_alloc(s, slen, true, ret, ret_len);
}

bool base64_valid(const char *s, size_t slen)
{
	return decode(s, slen, false, NULL) >= 0;
}
