/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include <zlib.h>

#include "lib/spdy.h"
#include "lib/strbuf.h"

/*
 * Everything kubectl 1.32 sent on a `kubectl port-forward p 28772:80`
 * connection after the SPDY/3.1 upgrade, while curl fetched the forwarded
 * port twice: per connection an error stream (SYN_STREAM, then an empty
 * DATA with FIN: kubectl closes its side at once), a data stream with the
 * HTTP request, and a FIN on the data stream. Captured from the real
 * kubectl against a fake API server on 127.0.0.1 that answered the
 * WebSocket attempt with 400, the SPDY POST with 101, each SYN_STREAM with
 * a SYN_REPLY, and the requests with a small HTTP reply.
 */
static const uint8_t kubectl_port_forward[] = {
	0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x02, 0x25, 0x3a, 0x70, 0x3a, 0x2b,
	0x29, 0x4a, 0x4d, 0xcc, 0x85, 0x16, 0x25, 0xac, 0xa9, 0xa0, 0x80, 0x86, 0x14, 0xcb, 0x45,
	0xa0, 0x24, 0xcc, 0x64, 0x61, 0xc0, 0xc0, 0xc0, 0xc0, 0x59, 0x04, 0x89, 0xc4, 0x4c, 0x50,
	0xe2, 0x66, 0x34, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00,
	0x00, 0x00, 0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x03, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0xc2, 0xaa, 0x15, 0x54, 0x0a, 0x25, 0x12, 0xd2, 0x09, 0x00,
	0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x4f, 0x47, 0x45, 0x54,
	0x20, 0x2f, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e, 0x31, 0x0d, 0x0a, 0x48, 0x6f,
	0x73, 0x74, 0x3a, 0x20, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x32,
	0x38, 0x37, 0x37, 0x32, 0x0d, 0x0a, 0x55, 0x73, 0x65, 0x72, 0x2d, 0x41, 0x67, 0x65, 0x6e,
	0x74, 0x3a, 0x20, 0x63, 0x75, 0x72, 0x6c, 0x2f, 0x37, 0x2e, 0x38, 0x38, 0x2e, 0x31, 0x0d,
	0x0a, 0x41, 0x63, 0x63, 0x65, 0x70, 0x74, 0x3a, 0x20, 0x2a, 0x2f, 0x2a, 0x0d, 0x0a, 0x0d,
	0x0a, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x00, 0x80, 0x03, 0x00, 0x01, 0x00, 0x00,
	0x00, 0x14, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x22, 0xdf, 0x52,
	0x43, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00,
	0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x22, 0xdb, 0x52, 0x43, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00,
	0x00, 0x07, 0x00, 0x00, 0x00, 0x4f, 0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0x48, 0x54, 0x54,
	0x50, 0x2f, 0x31, 0x2e, 0x31, 0x0d, 0x0a, 0x48, 0x6f, 0x73, 0x74, 0x3a, 0x20, 0x31, 0x32,
	0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x32, 0x38, 0x37, 0x37, 0x32, 0x0d, 0x0a,
	0x55, 0x73, 0x65, 0x72, 0x2d, 0x41, 0x67, 0x65, 0x6e, 0x74, 0x3a, 0x20, 0x63, 0x75, 0x72,
	0x6c, 0x2f, 0x37, 0x2e, 0x38, 0x38, 0x2e, 0x31, 0x0d, 0x0a, 0x41, 0x63, 0x63, 0x65, 0x70,
	0x74, 0x3a, 0x20, 0x2a, 0x2f, 0x2a, 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x00, 0x00, 0x07, 0x01,
	0x00, 0x00, 0x00,
};

static void test_dictionary(void **state)
{
	/* The length of the SPDY/3 dictionary and its Adler-32, which a zlib
	 * stream names in its header (kubectl's starts 78 f9 e3 c6 a7 c2). */
	assert_int_equal(spdy_dictionary_len, 1423);
	uLong a = adler32(0L, Z_NULL, 0);
	a = adler32(a, spdy_dictionary, (uInt)spdy_dictionary_len);
	assert_int_equal(a, 0xe3c6a7c2);
	assert_memory_equal(spdy_dictionary, "\0\0\0\7options\0\0\0\4head", 19);
	assert_memory_equal(spdy_dictionary + 1416, ",enq=0.", 7);
	assert_memory_equal(kubectl_port_forward + 18, "\x78\xf9\xe3\xc6\xa7\xc2", 6);
}

static void expect_stream_headers(const struct spdy_headers *h, const char *type, const char *reqid)
{
	assert_int_equal(h->n, 3);
	assert_string_equal(spdy_headers_get(h, "streamtype"), type);
	assert_string_equal(spdy_headers_get(h, "port"), "80");
	assert_string_equal(spdy_headers_get(h, "requestid"), reqid);
	/* Header names are matched case-insensitively. */
	assert_string_equal(spdy_headers_get(h, "RequestID"), reqid);
	assert_null(spdy_headers_get(h, "nope"));
}

/* Decode the whole capture as the agent does: one inflater for the
 * connection, every frame in order. */
static void test_kubectl_capture(void **state)
{
	struct spdy_inflater inf;
	const uint8_t *p = kubectl_port_forward;
	size_t left = sizeof(kubectl_port_forward);
	struct strbuf log = STRBUF_INIT;

	assert_int_equal(spdy_inflater_init(&inf, 64 * 1024), 0);
	while (left) {
		struct spdy_frame f;
		ssize_t n = spdy_frame_parse(p, left, 1 << 20, &f);
		assert_true(n > 0);
		if (f.control) {
			assert_int_equal(f.version, 3);
			assert_int_equal(f.type, SPDY_SYN_STREAM);
			assert_int_equal(f.flags, 0);
			assert_int_equal(f.assoc_id, 0);
			assert_int_equal(f.priority, 0);
			struct spdy_headers h;
			assert_int_equal(spdy_headers_decompress(&inf, f.data, f.data_len, &h), 0);
			strbuf_addf(&log, "SYN %u %s %s|", f.stream_id,
				    spdy_headers_get(&h, "streamtype"),
				    spdy_headers_get(&h, "requestid"));
			expect_stream_headers(&h, spdy_headers_get(&h, "streamtype"),
					      spdy_headers_get(&h, "requestid"));
			spdy_headers_release(&h);
		} else {
			strbuf_addf(&log, "DATA %u %u %zu|", f.stream_id, f.flags, f.data_len);
			if (f.data_len)
				assert_memory_equal(f.data, "GET / HTTP/1.1\r\n", 16);
		}
		p += n;
		left -= (size_t)n;
	}
	assert_string_equal(strbuf_str(&log),
			    "SYN 1 error 0|DATA 1 1 0|SYN 3 data 0|DATA 3 0 79|DATA 3 1 0|"
			    "SYN 5 error 1|DATA 5 1 0|SYN 7 data 1|DATA 7 0 79|DATA 7 1 0|");
	strbuf_release(&log);
	spdy_inflater_release(&inf);
}

/* Our encoder's output decodes with our decoder, over one continuous zlib
 * stream per direction, including values with NUL separators and binary. */
static void test_header_round_trip(void **state)
{
	struct spdy_deflater d;
	struct spdy_inflater inf;
	assert_int_equal(spdy_deflater_init(&d), 0);
	assert_int_equal(spdy_inflater_init(&inf, 64 * 1024), 0);

	for (int round = 0; round < 50; round++) {
		struct spdy_headers h = { 0 }, got;
		struct strbuf block = STRBUF_INIT;
		char v[64];
		snprintf(v, sizeof(v), "%d", round);
		spdy_headers_add(&h, "streamtype", round & 1 ? "data" : "error");
		spdy_headers_add(&h, "Port", "8080");
		spdy_headers_add(&h, "requestid", v);
		spdy_headers_addn(&h, "multi", "a\0b", 3);
		char big[2000];
		for (size_t i = 0; i < sizeof(big); i++)
			big[i] = (char)(i * 31 + (size_t)round);
		spdy_headers_addn(&h, "binary", big, (size_t)round * 40);
		assert_int_equal(spdy_headers_compress(&d, &h, &block), 0);
		assert_int_equal(spdy_headers_decompress(&inf, block.buf, block.len, &got), 0);
		assert_int_equal(got.n, 5);
		assert_string_equal(got.v[0].name, "streamtype");
		assert_string_equal(got.v[1].name, "port"); /* lower-cased */
		assert_string_equal(spdy_headers_get(&got, "requestid"), v);
		assert_int_equal(got.v[3].value_len, 3);
		assert_memory_equal(got.v[3].value, "a\0b", 3);
		assert_int_equal(got.v[4].value_len, (size_t)round * 40);
		assert_memory_equal(got.v[4].value, big, (size_t)round * 40);
		spdy_headers_release(&got);
		spdy_headers_release(&h);
		strbuf_release(&block);
	}
	spdy_deflater_release(&d);
	spdy_inflater_release(&inf);
}

/* What the agent sends (SYN_REPLY with an empty block) is what zlib with the
 * dictionary reads, as Go's compress/zlib.NewReaderDict does in spdystream. */
static void test_reply_readable_by_zlib(void **state)
{
	struct spdy_deflater d;
	struct strbuf sb = STRBUF_INIT;
	assert_int_equal(spdy_deflater_init(&d), 0);
	assert_int_equal(spdy_append_syn_reply(&sb, &d, 3, 0, NULL), 0);
	struct spdy_headers h = { 0 };
	spdy_headers_add(&h, "x", "y");
	assert_int_equal(spdy_append_syn_reply(&sb, &d, 5, SPDY_FLAG_FIN, &h), 0);
	spdy_headers_release(&h);

	struct spdy_frame f1, f2;
	ssize_t n1 = spdy_frame_parse(sb.buf, sb.len, 1 << 20, &f1);
	assert_true(n1 > 0);
	ssize_t n2 = spdy_frame_parse(sb.buf + n1, sb.len - (size_t)n1, 1 << 20, &f2);
	assert_int_equal((size_t)(n1 + n2), sb.len);
	assert_true(f1.control);
	assert_int_equal(f1.type, SPDY_SYN_REPLY);
	assert_int_equal(f1.stream_id, 3);
	assert_int_equal(f2.stream_id, 5);
	assert_int_equal(f2.flags, SPDY_FLAG_FIN);

	z_stream z = { 0 };
	uint8_t out[256];
	assert_int_equal(inflateInit(&z), Z_OK);
	z.next_in = (Bytef *)f1.data;
	z.avail_in = (uInt)f1.data_len;
	z.next_out = out;
	z.avail_out = sizeof(out);
	assert_int_equal(inflate(&z, Z_SYNC_FLUSH), Z_NEED_DICT);
	assert_int_equal(z.adler, 0xe3c6a7c2);
	assert_int_equal(inflateSetDictionary(&z, spdy_dictionary, (uInt)spdy_dictionary_len),
			 Z_OK);
	assert_int_equal(inflate(&z, Z_SYNC_FLUSH), Z_OK);
	assert_int_equal(z.avail_in, 0);
	assert_int_equal(sizeof(out) - z.avail_out, 4);
	assert_memory_equal(out, "\0\0\0\0", 4);
	z.next_in = (Bytef *)f2.data;
	z.avail_in = (uInt)f2.data_len;
	z.next_out = out;
	z.avail_out = sizeof(out);
	assert_int_equal(inflate(&z, Z_SYNC_FLUSH), Z_OK);
	assert_int_equal(sizeof(out) - z.avail_out, 14);
	assert_memory_equal(out, "\0\0\0\1\0\0\0\1x\0\0\0\1y", 14);
	inflateEnd(&z);
	spdy_deflater_release(&d);
	strbuf_release(&sb);
}

static void test_frames(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct spdy_deflater d;
	struct spdy_inflater inf;
	struct spdy_frame f;
	assert_int_equal(spdy_deflater_init(&d), 0);
	assert_int_equal(spdy_inflater_init(&inf, 4096), 0);

	struct spdy_headers h = { 0 };
	spdy_headers_add(&h, "streamtype", "data");
	assert_int_equal(spdy_append_syn_stream(&sb, &d, 7, 3, 5, SPDY_FLAG_FIN, &h), 0);
	spdy_headers_release(&h);
	ssize_t n = spdy_frame_parse(sb.buf, sb.len, 1 << 20, &f);
	assert_int_equal((size_t)n, sb.len);
	assert_true(f.control);
	assert_int_equal(f.version, 3);
	assert_int_equal(f.type, SPDY_SYN_STREAM);
	assert_int_equal(f.flags, SPDY_FLAG_FIN);
	assert_int_equal(f.stream_id, 7);
	assert_int_equal(f.assoc_id, 3);
	assert_int_equal(f.priority, 5);
	assert_int_equal(spdy_headers_decompress(&inf, f.data, f.data_len, &h), 0);
	assert_string_equal(spdy_headers_get(&h, "streamtype"), "data");
	spdy_headers_release(&h);

	strbuf_reset(&sb);
	spdy_append_rst_stream(&sb, 9, SPDY_CANCEL);
	assert_int_equal(sb.len, 16);
	assert_memory_equal(sb.buf, "\x80\x03\x00\x03\x00\x00\x00\x08\0\0\0\x09\0\0\0\x05", 16);
	assert_int_equal(spdy_frame_parse(sb.buf, sb.len, 1 << 20, &f), 16);
	assert_int_equal(f.type, SPDY_RST_STREAM);
	assert_int_equal(f.stream_id, 9);
	assert_int_equal(f.status, SPDY_CANCEL);

	strbuf_reset(&sb);
	spdy_append_ping(&sb, 0x01020304);
	assert_memory_equal(sb.buf, "\x80\x03\x00\x06\x00\x00\x00\x04\x01\x02\x03\x04", 12);
	assert_int_equal(spdy_frame_parse(sb.buf, sb.len, 1 << 20, &f), 12);
	assert_int_equal(f.type, SPDY_PING);
	assert_int_equal(f.ping_id, 0x01020304);

	strbuf_reset(&sb);
	spdy_append_goaway(&sb, 11, 0);
	assert_int_equal(spdy_frame_parse(sb.buf, sb.len, 1 << 20, &f), 16);
	assert_int_equal(f.type, SPDY_GOAWAY);
	assert_int_equal(f.last_good_stream_id, 11);
	assert_int_equal(f.status, 0);

	strbuf_reset(&sb);
	spdy_append_data(&sb, 3, SPDY_FLAG_FIN, "hello", 5);
	assert_memory_equal(sb.buf, "\0\0\0\x03\x01\0\0\x05hello", 13);
	assert_int_equal(spdy_frame_parse(sb.buf, sb.len, 1 << 20, &f), 13);
	assert_false(f.control);
	assert_int_equal(f.stream_id, 3);
	assert_int_equal(f.flags, SPDY_FLAG_FIN);
	assert_int_equal(f.data_len, 5);
	assert_memory_equal(f.data, "hello", 5);

	/* SETTINGS and WINDOW_UPDATE as spdystream may send them; an unknown
	 * control type parses so that it can be skipped. */
	static const uint8_t settings[] = { 0x80, 3, 0, 4, 0, 0, 0, 12, 0, 0,
					    0,	  1, 0, 0, 0, 7, 0, 1,	0, 0 };
	assert_int_equal(spdy_frame_parse(settings, sizeof(settings), 1 << 20, &f), 20);
	assert_int_equal(f.type, SPDY_SETTINGS);
	static const uint8_t wu[] = { 0x80, 3, 0, 9, 0, 0, 0, 8, 0, 0, 0, 5, 0, 1, 0, 0 };
	assert_int_equal(spdy_frame_parse(wu, sizeof(wu), 1 << 20, &f), 16);
	assert_int_equal(f.type, SPDY_WINDOW_UPDATE);
	assert_int_equal(f.stream_id, 5);
	assert_int_equal(f.delta, 65536);
	static const uint8_t unknown[] = { 0x80, 3, 0, 0x42, 0, 0, 0, 2, 9, 9 };
	assert_int_equal(spdy_frame_parse(unknown, sizeof(unknown), 1 << 20, &f), 10);
	assert_int_equal(f.type, 0x42);

	/* Malformed: another version, fixed fields cut short, too long. */
	static const uint8_t v2[] = { 0x80, 2, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1 };
	assert_int_equal(spdy_frame_parse(v2, sizeof(v2), 1 << 20, &f), -EPROTO);
	static const uint8_t shortrst[] = { 0x80, 3, 0, 3, 0, 0, 0, 4, 0, 0, 0, 1 };
	assert_int_equal(spdy_frame_parse(shortrst, sizeof(shortrst), 1 << 20, &f), -EPROTO);
	static const uint8_t shortsyn[] = { 0x80, 3, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1 };
	assert_int_equal(spdy_frame_parse(shortsyn, sizeof(shortsyn), 1 << 20, &f), -EPROTO);
	static const uint8_t huge[] = { 0, 0, 0, 1, 0, 0xff, 0xff, 0xff };
	assert_int_equal(spdy_frame_parse(huge, sizeof(huge), 1 << 20, &f), -EMSGSIZE);

	spdy_deflater_release(&d);
	spdy_inflater_release(&inf);
	strbuf_release(&sb);
}

/* Every prefix of the capture parses as "need more" at the cut, and
 * nothing before it fails. */
static void test_truncation(void **state)
{
	for (size_t cut = 0; cut <= sizeof(kubectl_port_forward); cut++) {
		const uint8_t *p = kubectl_port_forward;
		size_t left = cut;
		struct spdy_frame f;
		ssize_t n;
		while ((n = spdy_frame_parse(p, left, 1 << 20, &f)) > 0) {
			p += n;
			left -= (size_t)n;
		}
		assert_int_equal(n, 0);
		if (cut == sizeof(kubectl_port_forward))
			assert_int_equal(left, 0);
	}
}

static void test_bad_header_blocks(void **state)
{
	struct spdy_headers h;
	/* Truncated counts, lengths and values; trailing bytes; upper-case,
	 * empty or NUL-holding names; too many entries. */
	static const struct {
		const char *buf;
		size_t len;
	} bad[] = {
		{ "", 0 },
		{ "\0\0\0", 3 },
		{ "\0\0\0\1", 4 },
		{ "\0\0\0\1\0\0\0\2a", 9 },
		{ "\0\0\0\1\0\0\0\1a\0\0\0", 12 },
		{ "\0\0\0\1\0\0\0\1a\0\0\0\2b", 14 },
		{ "\0\0\0\1\0\0\0\1a\0\0\0\1bX", 15 },
		{ "\0\0\0\1\0\0\0\1A\0\0\0\1b", 14 },
		{ "\0\0\0\1\0\0\0\0\0\0\0\1b", 13 },
		{ "\0\0\0\1\0\0\0\2a\0\0\0\0\1b", 15 },
		{ "\0\0\xff\xff", 4 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(spdy_headers_parse(bad[i].buf, bad[i].len, 100, &h), -EPROTO);
	assert_int_equal(spdy_headers_parse("\0\0\0\1\0\0\0\1a\0\0\0\1b", 14, 100, &h), 0);
	assert_string_equal(spdy_headers_get(&h, "a"), "b");
	spdy_headers_release(&h);
	assert_int_equal(spdy_headers_parse("\0\0\0\0", 4, 100, &h), 0);
	assert_int_equal(h.n, 0);
	spdy_headers_release(&h);

	/* A header block without the dictionary, or garbage, fails cleanly. */
	struct spdy_inflater inf;
	assert_int_equal(spdy_inflater_init(&inf, 4096), 0);
	assert_int_equal(spdy_headers_decompress(&inf, "garbage!", 8, &h), -EPROTO);
	spdy_inflater_release(&inf);

	uint8_t plain[64];
	uLongf plen = sizeof(plain);
	assert_int_equal(compress(plain, &plen, (const Bytef *)"\0\0\0\0", 4), Z_OK);
	assert_int_equal(spdy_inflater_init(&inf, 4096), 0);
	assert_int_equal(spdy_headers_decompress(&inf, plain, plen, &h),
			 0); /* no dictionary needed */
	assert_int_equal(h.n, 0);
	spdy_headers_release(&h);
	spdy_inflater_release(&inf);

	/* A bomb: a small block that inflates past the limit. */
	struct spdy_deflater d;
	struct strbuf block = STRBUF_INIT;
	struct spdy_headers big = { 0 };
	char *zeros = xcalloc(1, 100000);
	spdy_headers_addn(&big, "z", zeros, 100000);
	free(zeros);
	assert_int_equal(spdy_deflater_init(&d), 0);
	assert_int_equal(spdy_headers_compress(&d, &big, &block), 0);
	assert_true(block.len < 1000);
	assert_int_equal(spdy_inflater_init(&inf, 4096), 0);
	assert_int_equal(spdy_headers_decompress(&inf, block.buf, block.len, &h), -EMSGSIZE);
	spdy_inflater_release(&inf);
	spdy_deflater_release(&d);
	spdy_headers_release(&big);
	strbuf_release(&block);
}

/* Random bytes into the frame parser and the decompressor: errors, never
 * crashes or reads out of bounds (under ASan). */
static void test_noise(void **state)
{
	unsigned seed = 4242;
	for (int round = 0; round < 3000; round++) {
		uint8_t buf[96];
		size_t len = (size_t)(rand_r(&seed) % sizeof(buf));
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		if (round & 1 && len >= 4) {
			buf[0] = 0x80; /* mostly control frames of version 3 */
			buf[1] = 3;
			buf[2] = 0;
			buf[3] = (uint8_t)(rand_r(&seed) % 10);
		}
		struct spdy_frame f;
		ssize_t n = spdy_frame_parse(buf, len, 64, &f);
		assert_true(n >= 0 || n == -EPROTO || n == -EMSGSIZE);
		if (n > 0)
			assert_true((size_t)n <= len);

		struct spdy_inflater inf;
		struct spdy_headers h;
		assert_int_equal(spdy_inflater_init(&inf, 4096), 0);
		/* Flip bytes of a valid capture's first header block. */
		uint8_t blk[61 - 10];
		memcpy(blk, kubectl_port_forward + 18, sizeof(blk));
		blk[rand_r(&seed) % sizeof(blk)] ^= (uint8_t)(1 + rand_r(&seed) % 255);
		if (spdy_headers_decompress(&inf, blk, sizeof(blk), &h) == 0)
			spdy_headers_release(&h);
		spdy_inflater_release(&inf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dictionary),
		cmocka_unit_test(test_kubectl_capture),
		cmocka_unit_test(test_header_round_trip),
		cmocka_unit_test(test_reply_readable_by_zlib),
		cmocka_unit_test(test_frames),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_bad_header_blocks),
		cmocka_unit_test(test_noise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
