/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "lib/strbuf.h"
#include "lib/websocket.h"

/* RFC 6455 section 1.3. */
static void test_accept_key(void **state)
{
	char acc[WS_ACCEPT_LEN + 1];
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc), 0);
	assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

	/* Not the base64 of 16 bytes. */
	assert_int_equal(ws_accept_key("", acc), -EINVAL);
	assert_int_equal(ws_accept_key(NULL, acc), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ", acc), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=!", acc), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ===", acc), -EINVAL);

	char key[25];
	ws_client_key(key);
	assert_int_equal(strlen(key), 24);
	assert_int_equal(ws_accept_key(key, acc), 0);
}

static void test_token_list(void **state)
{
	assert_true(http_token_list_contains("Upgrade", "upgrade"));
	assert_true(http_token_list_contains("keep-alive, Upgrade", "upgrade"));
	assert_true(http_token_list_contains(" a ,b,  v5.channel.k8s.io ", "v5.channel.k8s.io"));
	assert_false(http_token_list_contains("Upgraded", "upgrade"));
	assert_false(http_token_list_contains("", "upgrade"));
	assert_false(http_token_list_contains(NULL, "upgrade"));
	assert_false(http_token_list_contains("v4.channel.k8s.io", "v5.channel.k8s.io"));
}

static struct ws_message next_ok(struct ws_reader *r)
{
	struct ws_message m = { 0 };
	assert_int_equal(ws_reader_next(r, &m), 1);
	return m;
}

/* RFC 6455 section 5.7 examples. */
static void test_rfc_examples(void **state)
{
	static const uint8_t unmasked[] = { 0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	static const uint8_t masked[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					  0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	static const uint8_t frag[] = { 0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f };
	static const uint8_t ping[] = { 0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f };
	static const uint8_t pong[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	struct ws_reader r;
	struct ws_message m;

	/* A client reads unmasked frames. */
	ws_reader_init(&r, false, 1 << 20);
	ws_reader_feed(&r, unmasked, sizeof(unmasked));
	m = next_ok(&r);
	assert_int_equal(m.opcode, WS_OP_TEXT);
	assert_int_equal(m.len, 5);
	assert_memory_equal(m.data, "Hello", 5);
	assert_int_equal(ws_reader_next(&r, &m), 0);

	ws_reader_feed(&r, frag, sizeof(frag));
	m = next_ok(&r);
	assert_int_equal(m.opcode, WS_OP_TEXT);
	assert_int_equal(m.len, 5);
	assert_memory_equal(m.data, "Hello", 5);

	ws_reader_feed(&r, ping, sizeof(ping));
	m = next_ok(&r);
	assert_int_equal(m.opcode, WS_OP_PING);
	assert_memory_equal(m.data, "Hello", 5);
	assert_int_equal(ws_reader_next(&r, &m), 0);

	/* A masked frame is a protocol error for a client, and stays one. */
	ws_reader_feed(&r, masked, sizeof(masked));
	assert_int_equal(ws_reader_next(&r, &m), -EPROTO);
	assert_int_equal(ws_reader_next(&r, &m), -EPROTO);
	ws_reader_release(&r);

	/* A server reads masked frames and rejects unmasked ones. */
	ws_reader_init(&r, true, 1 << 20);
	ws_reader_feed(&r, masked, sizeof(masked));
	m = next_ok(&r);
	assert_int_equal(m.opcode, WS_OP_TEXT);
	assert_memory_equal(m.data, "Hello", 5);
	ws_reader_feed(&r, pong, sizeof(pong));
	m = next_ok(&r);
	assert_int_equal(m.opcode, WS_OP_PONG);
	assert_memory_equal(m.data, "Hello", 5);
	ws_reader_feed(&r, unmasked, sizeof(unmasked));
	assert_int_equal(ws_reader_next(&r, &m), -EPROTO);
	ws_reader_release(&r);

	/* The encoder produces the same bytes. */
	struct strbuf sb = STRBUF_INIT;
	ws_frame_append(&sb, WS_OP_TEXT, true, "Hello", 5, NULL);
	assert_int_equal(sb.len, sizeof(unmasked));
	assert_memory_equal(sb.buf, unmasked, sizeof(unmasked));
	strbuf_reset(&sb);
	ws_frame_append(&sb, WS_OP_TEXT, true, "Hello", 5, key);
	assert_int_equal(sb.len, sizeof(masked));
	assert_memory_equal(sb.buf, masked, sizeof(masked));
	strbuf_reset(&sb);
	ws_frame_append(&sb, WS_OP_TEXT, false, "Hel", 3, NULL);
	ws_frame_append(&sb, WS_OP_CONTINUATION, true, "lo", 2, NULL);
	assert_int_equal(sb.len, sizeof(frag));
	assert_memory_equal(sb.buf, frag, sizeof(frag));
	strbuf_release(&sb);
}

/* 7-, 16- and 64-bit lengths, at their boundaries. */
static void test_lengths(void **state)
{
	static const struct {
		uint64_t len;
		size_t header;
	} cases[] = {
		{ 0, 2 },   { 125, 2 },	  { 126, 4 },	 { 127, 4 },
		{ 256, 4 }, { 65535, 4 }, { 65536, 10 }, { 70000, 10 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint8_t h[WS_MAX_HEADER];
		static const uint8_t key[4] = { 1, 2, 3, 4 };
		size_t n = ws_frame_header_encode(h, true, WS_OP_BINARY, cases[i].len, NULL);
		assert_int_equal(n, cases[i].header);
		struct ws_frame_header fh;
		assert_int_equal(ws_frame_header_parse(h, n, &fh), (int)n);
		assert_int_equal(fh.payload_len, cases[i].len);
		assert_true(fh.fin);
		assert_false(fh.masked);
		assert_int_equal(fh.opcode, WS_OP_BINARY);
		/* Any shorter prefix needs more bytes. */
		for (size_t k = 0; k < n; k++)
			assert_int_equal(ws_frame_header_parse(h, k, &fh), 0);

		n = ws_frame_header_encode(h, false, WS_OP_TEXT, cases[i].len, key);
		assert_int_equal(n, cases[i].header + 4);
		assert_int_equal(ws_frame_header_parse(h, n, &fh), (int)n);
		assert_true(fh.masked);
		assert_false(fh.fin);
		assert_memory_equal(fh.mask, key, 4);
		assert_int_equal(fh.payload_len, cases[i].len);
	}

	/* RFC 6455 5.7: 256 bytes and 64 KiB, unmasked binary. */
	static const uint8_t h256[] = { 0x82, 0x7e, 0x01, 0x00 };
	static const uint8_t h64k[] = { 0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0 };
	uint8_t h[WS_MAX_HEADER];
	assert_int_equal(ws_frame_header_encode(h, true, WS_OP_BINARY, 256, NULL), 4);
	assert_memory_equal(h, h256, 4);
	assert_int_equal(ws_frame_header_encode(h, true, WS_OP_BINARY, 65536, NULL), 10);
	assert_memory_equal(h, h64k, 10);

	/* A whole 64 KiB message through the reader, fed a byte at a time at
	 * the start and in big pieces after. */
	struct strbuf sb = STRBUF_INIT;
	size_t big = 70000;
	uint8_t *payload = xmalloc(big);
	for (size_t i = 0; i < big; i++)
		payload[i] = (uint8_t)(i * 7);
	static const uint8_t key[4] = { 0xde, 0xad, 0xbe, 0xef };
	ws_frame_append(&sb, WS_OP_BINARY, true, payload, big, key);
	struct ws_reader r;
	struct ws_message m;
	ws_reader_init(&r, true, 1 << 20);
	size_t off = 0;
	for (; off < 20; off++) {
		ws_reader_feed(&r, sb.buf + off, 1);
		assert_int_equal(ws_reader_next(&r, &m), 0);
	}
	ws_reader_feed(&r, sb.buf + off, 30000);
	assert_int_equal(ws_reader_next(&r, &m), 0);
	off += 30000;
	ws_reader_feed(&r, sb.buf + off, sb.len - off);
	m = next_ok(&r);
	assert_int_equal(m.opcode, WS_OP_BINARY);
	assert_int_equal(m.len, big);
	assert_memory_equal(m.data, payload, big);
	ws_reader_release(&r);
	free(payload);
	strbuf_release(&sb);
}

static void test_masking(void **state)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t data[11] = "Hello worl";
	uint8_t copy[11];
	memcpy(copy, data, sizeof(data));
	ws_mask(data, 10, key, 0);
	assert_memory_not_equal(data, copy, 10);
	/* Masking in two pieces at an offset equals masking at once. */
	ws_mask(data, 3, key, 0);
	ws_mask(data + 3, 7, key, 3);
	assert_memory_equal(data, copy, 10);
	static const uint8_t hello_masked[] = { 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	memcpy(data, "Hello", 5);
	ws_mask(data, 5, key, 0);
	assert_memory_equal(data, hello_masked, 5);
}

/* Control frames in the middle of a fragmented message, masked as a
 * client sends them. */
static void test_fragmentation(void **state)
{
	static const uint8_t key[4] = { 9, 8, 7, 6 };
	struct strbuf sb = STRBUF_INIT;
	ws_frame_append(&sb, WS_OP_BINARY, false,
			"\x01"
			"ab",
			3, key);
	ws_frame_append(&sb, WS_OP_PING, true, "p1", 2, key);
	ws_frame_append(&sb, WS_OP_CONTINUATION, false, "cd", 2, key);
	ws_frame_append(&sb, WS_OP_CONTINUATION, false, "", 0, key);
	ws_frame_append(&sb, WS_OP_PONG, true, "", 0, key);
	ws_frame_append(&sb, WS_OP_CONTINUATION, true, "ef", 2, key);
	ws_frame_append(&sb, WS_OP_BINARY, true,
			"\x00"
			"x",
			2, key);
	ws_close_append(&sb, WS_CLOSE_NORMAL, "bye", key);

	/* Byte by byte and all at once give the same messages. */
	for (int mode = 0; mode < 2; mode++) {
		struct ws_reader r;
		struct ws_message m;
		struct strbuf seen = STRBUF_INIT;
		ws_reader_init(&r, true, 1024);
		for (size_t i = 0; i < sb.len; i++) {
			size_t n = mode ? sb.len : 1;
			ws_reader_feed(&r, sb.buf + i, n);
			i += n - 1;
			int k;
			while ((k = ws_reader_next(&r, &m)) > 0) {
				strbuf_addf(&seen, "%u:", m.opcode);
				strbuf_add(&seen, m.data, m.len);
				strbuf_addch(&seen, '|');
			}
			assert_int_equal(k, 0);
		}
		assert_int_equal(seen.len, 32);
		assert_memory_equal(seen.buf,
				    "9:p1|10:|2:\x01"
				    "abcdef|2:\x00"
				    "x|8:\x03\xe8"
				    "bye|",
				    32);
		strbuf_release(&seen);
		ws_reader_release(&r);
	}
	strbuf_release(&sb);
}

static void test_protocol_errors(void **state)
{
	static const uint8_t key[4] = { 1, 1, 1, 1 };
	struct ws_frame_header h;
	struct ws_message m;
	struct ws_reader r;

	/* Reserved opcodes, RSV bits, long or fragmented control frames, a
	 * 64-bit length with the top bit set. */
	static const uint8_t bad[][10] = {
		{ 0x83, 0x00 },
		{ 0x8b, 0x00 },
		{ 0xc2, 0x00 },
		{ 0x92, 0x00 },
		{ 0x09, 0x00 },
		{ 0x89, 0x7e, 0x00, 0x7e },
		{ 0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(ws_frame_header_parse(bad[i], sizeof(bad[i]), &h), -EPROTO);

	/* A continuation with no message in progress. */
	struct strbuf sb = STRBUF_INIT;
	ws_frame_append(&sb, WS_OP_CONTINUATION, true, "x", 1, key);
	ws_reader_init(&r, true, 1024);
	ws_reader_feed(&r, sb.buf, sb.len);
	assert_int_equal(ws_reader_next(&r, &m), -EPROTO);
	ws_reader_release(&r);

	/* A new data frame inside a fragmented message. */
	strbuf_reset(&sb);
	ws_frame_append(&sb, WS_OP_TEXT, false, "x", 1, key);
	ws_frame_append(&sb, WS_OP_BINARY, true, "y", 1, key);
	ws_reader_init(&r, true, 1024);
	ws_reader_feed(&r, sb.buf, sb.len);
	assert_int_equal(ws_reader_next(&r, &m), -EPROTO);
	ws_reader_release(&r);

	/* Too big, as a single frame (refused from its header alone) and as
	 * fragments adding up. */
	strbuf_reset(&sb);
	uint8_t hdr[WS_MAX_HEADER];
	size_t hl = ws_frame_header_encode(hdr, true, WS_OP_BINARY, 1ull << 40, key);
	ws_reader_init(&r, true, 1024);
	ws_reader_feed(&r, hdr, hl);
	assert_int_equal(ws_reader_next(&r, &m), -EMSGSIZE);
	ws_reader_release(&r);
	char chunk[600] = { 0 };
	ws_frame_append(&sb, WS_OP_BINARY, false, chunk, sizeof(chunk), key);
	ws_frame_append(&sb, WS_OP_CONTINUATION, true, chunk, sizeof(chunk), key);
	ws_reader_init(&r, true, 1024);
	ws_reader_feed(&r, sb.buf, sb.len);
	assert_int_equal(ws_reader_next(&r, &m), -EMSGSIZE);
	ws_reader_release(&r);
	strbuf_release(&sb);
}

static void test_close_payload(void **state)
{
	uint16_t code;
	const char *reason;
	size_t rl;
	struct strbuf sb = STRBUF_INIT;

	ws_close_append(&sb, WS_CLOSE_NORMAL, NULL, NULL);
	assert_int_equal(sb.len, 4);
	assert_memory_equal(sb.buf, "\x88\x02\x03\xe8", 4);
	assert_int_equal(ws_close_parse(sb.buf + 2, 2, &code, &reason, &rl), 0);
	assert_int_equal(code, 1000);
	assert_int_equal(rl, 0);

	assert_int_equal(ws_close_parse("", 0, &code, &reason, &rl), 0);
	assert_int_equal(code, WS_CLOSE_NO_STATUS);
	assert_int_equal(ws_close_parse("\x03", 1, &code, NULL, NULL), -EPROTO);
	assert_int_equal(ws_close_parse("\x03\xed", 2, &code, NULL, NULL), -EPROTO); /* 1005 */
	assert_int_equal(ws_close_parse("\x03\xee", 2, &code, NULL, NULL), -EPROTO); /* 1006 */
	assert_int_equal(ws_close_parse("\x0f\xa0", 2, &code, NULL, NULL), 0);	     /* 4000 */

	/* A long reason is cut so the frame stays a valid control frame. */
	strbuf_reset(&sb);
	char longr[300];
	memset(longr, 'r', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = 0;
	ws_close_append(&sb, WS_CLOSE_INTERNAL_ERROR, longr, NULL);
	struct ws_frame_header h;
	assert_int_equal(ws_frame_header_parse(sb.buf, sb.len, &h), 2);
	assert_int_equal(h.payload_len, WS_MAX_CONTROL);
	assert_int_equal(ws_close_parse(sb.buf + 2, WS_MAX_CONTROL, &code, &reason, &rl), 0);
	assert_int_equal(code, 1011);
	assert_int_equal(rl, WS_MAX_CONTROL - 2);
	strbuf_release(&sb);
}

/* Every truncation of a valid stream asks for more; random bytes never
 * crash the reader. */
static void test_truncation_and_noise(void **state)
{
	static const uint8_t key[4] = { 5, 6, 7, 8 };
	struct strbuf sb = STRBUF_INIT;
	ws_frame_append(&sb, WS_OP_BINARY, false, "\x01hello", 6, key);
	ws_frame_append(&sb, WS_OP_PING, true, "x", 1, key);
	ws_frame_append(&sb, WS_OP_CONTINUATION, true, "world", 5, key);
	char big[300];
	memset(big, 'z', sizeof(big));
	ws_frame_append(&sb, WS_OP_BINARY, true, big, sizeof(big), key);

	for (size_t cut = 0; cut < sb.len; cut++) {
		struct ws_reader r;
		struct ws_message m;
		int n = 0, k;
		ws_reader_init(&r, true, 4096);
		ws_reader_feed(&r, sb.buf, cut);
		while ((k = ws_reader_next(&r, &m)) > 0)
			n++;
		assert_int_equal(k, 0);
		assert_true(n <= 2);
		ws_reader_release(&r);
	}

	unsigned seed = 12345;
	for (int round = 0; round < 2000; round++) {
		uint8_t noise[64];
		size_t len = (size_t)(rand_r(&seed) % sizeof(noise));
		for (size_t i = 0; i < len; i++)
			noise[i] = (uint8_t)rand_r(&seed);
		struct ws_reader r;
		struct ws_message m;
		int k;
		ws_reader_init(&r, round & 1, 4096);
		ws_reader_feed(&r, noise, len);
		while ((k = ws_reader_next(&r, &m)) > 0)
			assert_true(m.len <= 4096);
		assert_true(k == 0 || k == -EPROTO || k == -EMSGSIZE);
		ws_reader_release(&r);
	}
	strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_token_list),
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_masking),
		cmocka_unit_test(test_fragmentation),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_close_payload),
		cmocka_unit_test(test_truncation_and_noise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
