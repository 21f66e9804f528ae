/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 6455 framing (see websocket.h). */
#include <gnutls/crypto.h>
#include <strings.h>

#include "lib/base64.h"
#include "lib/macro.h"
#include "lib/random.h"
#include "lib/strbuf.h"
#include "lib/websocket.h"

int ws_accept_key(const char *key, char ret[WS_ACCEPT_LEN + 1])
{
	unsigned char digest[20];
	void *raw;
	size_t raw_len;

	if (!key || strlen(key) != 24 || base64_decode(key, 24, &raw, &raw_len) < 0)
		return -EINVAL;
	free(raw);
	if (raw_len != 16)
		return -EINVAL;

	char buf[24 + sizeof(WS_GUID)];
	memcpy(buf, key, 24);
	memcpy(buf + 24, WS_GUID, sizeof(WS_GUID));
	if (gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, 24 + sizeof(WS_GUID) - 1, digest) < 0)
		return -EIO;
	_cleanup_free_ char *b64 = base64_encode(digest, sizeof(digest));
	assert_se(strlen(b64) == WS_ACCEPT_LEN);
	memcpy(ret, b64, WS_ACCEPT_LEN + 1);
	return 0;
}

void ws_client_key(char ret[25])
{
	unsigned char nonce[16];
	random_bytes(nonce, sizeof(nonce));
	_cleanup_free_ char *b64 = base64_encode(nonce, sizeof(nonce));
	memcpy(ret, b64, 25);
}

bool http_token_list_contains(const char *value, const char *token)
{
	size_t tlen = strlen(token);

	if (!value)
		return false;
	for (const char *p = value; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *start = p;
		while (*p && *p != ',')
			p++;
		const char *end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - start) == tlen && strncasecmp(start, token, tlen) == 0)
			return true;
	}
	return false;
}

/* ---- frames ---- */

static bool opcode_known(unsigned op)
{
	return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

int ws_frame_header_parse(const void *buf, size_t len, struct ws_frame_header *ret)
{
	const uint8_t *p = buf;
	struct ws_frame_header h = { 0 };
	size_t need = 2;

	if (len < 2)
		return 0;
	h.fin = p[0] & 0x80;
	h.rsv = (p[0] >> 4) & 7;
	h.opcode = p[0] & 0x0f;
	h.masked = p[1] & 0x80;
	uint64_t l = p[1] & 0x7f;
	if (h.rsv || !opcode_known(h.opcode))
		return -EPROTO;
	if (l == 126)
		need += 2;
	else if (l == 127)
		need += 8;
	if (h.masked)
		need += 4;
	if (len < need)
		return 0;
	if (l == 126) {
		l = (uint64_t)p[2] << 8 | p[3];
	} else if (l == 127) {
		l = 0;
		for (int i = 0; i < 8; i++)
			l = l << 8 | p[2 + i];
		if (l >> 63)
			return -EPROTO;
	}
	if (ws_opcode_is_control(h.opcode) && (!h.fin || l > WS_MAX_CONTROL))
		return -EPROTO;
	if (h.masked)
		memcpy(h.mask, p + need - 4, 4);
	h.payload_len = l;
	h.header_len = need;
	*ret = h;
	return (int)need;
}

size_t ws_frame_header_encode(uint8_t out[WS_MAX_HEADER], bool fin, unsigned opcode,
			      uint64_t payload_len, const uint8_t *mask)
{
	size_t n = 2;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	out[1] = mask ? 0x80 : 0;
	if (payload_len < 126) {
		out[1] |= (uint8_t)payload_len;
	} else if (payload_len <= 0xffff) {
		out[1] |= 126;
		out[2] = (uint8_t)(payload_len >> 8);
		out[3] = (uint8_t)payload_len;
		n = 4;
	} else {
		out[1] |= 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
		n = 10;
	}
	if (mask) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void ws_mask(void *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
	uint8_t *p = data;
	for (size_t i = 0; i < len; i++)
		p[i] ^= mask[(offset + i) & 3];
}

void ws_frame_append(struct strbuf *sb, unsigned opcode, bool fin, const void *payload, size_t len,
		     const uint8_t *mask)
{
	uint8_t h[WS_MAX_HEADER];
	size_t hl = ws_frame_header_encode(h, fin, opcode, len, mask);
	strbuf_add(sb, h, hl);
	size_t at = sb->len;
	if (len)
		strbuf_add(sb, payload, len);
	if (mask)
		ws_mask(sb->buf + at, len, mask, 0);
}

void ws_close_append(struct strbuf *sb, uint16_t code, const char *reason, const uint8_t *mask)
{
	uint8_t p[WS_MAX_CONTROL];
	size_t n = 0;

	if (code) {
		p[0] = (uint8_t)(code >> 8);
		p[1] = (uint8_t)code;
		n = 2;
		if (reason) {
			size_t rl = MIN(strlen(reason), sizeof(p) - 2);
			memcpy(p + 2, reason, rl);
			n += rl;
		}
	}
	ws_frame_append(sb, WS_OP_CLOSE, true, p, n, mask);
}

/* Codes an endpoint may put on the wire (RFC 6455 section 7.4). */
static bool close_code_valid(uint16_t c)
{
	if (c >= 3000 && c <= 4999)
		return true;
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011);
}

int ws_close_parse(const void *payload, size_t len, uint16_t *ret_code, const char **ret_reason,
		   size_t *ret_reason_len)
{
	const uint8_t *p = payload;
	uint16_t code = WS_CLOSE_NO_STATUS;
	const char *reason = "";
	size_t rl = 0;

	if (len == 1)
		return -EPROTO;
	if (len >= 2) {
		code = (uint16_t)(p[0] << 8 | p[1]);
		if (!close_code_valid(code))
			return -EPROTO;
		reason = (const char *)p + 2;
		rl = len - 2;
	}
	if (ret_code)
		*ret_code = code;
	if (ret_reason)
		*ret_reason = reason;
	if (ret_reason_len)
		*ret_reason_len = rl;
	return 0;
}

/* ---- reader ---- */

void ws_reader_init(struct ws_reader *r, bool expect_masked, size_t max_message)
{
	*r = (struct ws_reader){ .expect_masked = expect_masked, .max_message = max_message };
}

void ws_reader_release(struct ws_reader *r)
{
	free(r->in);
	free(r->msg);
	*r = (struct ws_reader){ 0 };
}

static void reserve(uint8_t **buf, size_t *alloc, size_t need)
{
	if (need <= *alloc)
		return;
	size_t n = *alloc ? *alloc : 4096;
	while (n < need)
		n *= 2;
	*buf = xrealloc(*buf, n);
	*alloc = n;
}

void ws_reader_feed(struct ws_reader *r, const void *data, size_t len)
{
	if (!len)
		return;
	if (r->in_pos) {
		memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
		r->in_len -= r->in_pos;
		r->in_pos = 0;
	}
	reserve(&r->in, &r->in_alloc, r->in_len + len);
	memcpy(r->in + r->in_len, data, len);
	r->in_len += len;
}

static int fail(struct ws_reader *r, int err)
{
	r->error = err;
	return err;
}

int ws_reader_next(struct ws_reader *r, struct ws_message *ret)
{
	if (r->error)
		return r->error;
	if (r->msg_returned) {
		r->msg_returned = false;
		r->msg_len = 0;
		r->msg_opcode = 0;
	}
	for (;;) {
		struct ws_frame_header h;
		uint8_t *p = r->in + r->in_pos;
		size_t avail = r->in_len - r->in_pos;
		int k = ws_frame_header_parse(p, avail, &h);
		if (k < 0)
			return fail(r, k);
		if (k == 0)
			return 0;
		if (h.masked != r->expect_masked)
			return fail(r, -EPROTO);
		bool control = ws_opcode_is_control(h.opcode);
		if (!control) {
			if (h.opcode == WS_OP_CONTINUATION && !r->msg_opcode)
				return fail(r, -EPROTO);
			if (h.opcode != WS_OP_CONTINUATION && r->msg_opcode)
				return fail(r, -EPROTO);
			if (h.payload_len > r->max_message ||
			    r->msg_len + h.payload_len > r->max_message)
				return fail(r, -EMSGSIZE);
		}
		if (avail - h.header_len < h.payload_len)
			return 0;

		uint8_t *payload = p + h.header_len;
		size_t plen = (size_t)h.payload_len;
		if (h.masked)
			ws_mask(payload, plen, h.mask, 0);
		r->in_pos += h.header_len + plen;

		if (control) {
			memcpy(r->control, payload, plen);
			*ret = (struct ws_message){ h.opcode, r->control, plen };
			return 1;
		}
		if (h.opcode != WS_OP_CONTINUATION && h.fin) {
			/* An unfragmented message: hand out the bytes in place. */
			*ret = (struct ws_message){ h.opcode, payload, plen };
			return 1;
		}
		if (h.opcode != WS_OP_CONTINUATION)
			r->msg_opcode = h.opcode;
		reserve(&r->msg, &r->msg_alloc, r->msg_len + plen + 1);
		memcpy(r->msg + r->msg_len, payload, plen);
		r->msg_len += plen;
		if (h.fin) {
			*ret = (struct ws_message){ r->msg_opcode, r->msg, r->msg_len };
			r->msg_returned = true;
			return 1;
		}
	}
}
