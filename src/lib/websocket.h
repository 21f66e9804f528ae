/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The WebSocket protocol (RFC 6455) as a codec: the opening handshake's
 * accept key, frame headers, masking, and a reader that turns a byte stream
 * into whole messages (reassembling fragments) and control frames. No I/O
 * and no policy: the caller reads and writes its socket, and decides what a
 * text frame or an unexpected close means for its own subprotocol.
 *
 * Servers receive masked frames and send unmasked ones; clients do the
 * opposite (RFC 6455 section 5.1). Extensions are not supported, so the RSV
 * bits must be zero.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf;

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* The longest frame header: 2 bytes, a 64-bit length and a mask key. */
#define WS_MAX_HEADER 14
/* Sec-WebSocket-Accept is the base64 of a SHA-1: 28 characters. */
#define WS_ACCEPT_LEN 28
/* Control frames carry at most 125 bytes. */
#define WS_MAX_CONTROL 125

enum ws_opcode {
	WS_OP_CONTINUATION = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL_ERROR = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_NO_STATUS = 1005, /* never sent: "the close frame had no code" */
	WS_CLOSE_ABNORMAL = 1006,  /* never sent: "no close frame at all" */
	WS_CLOSE_INVALID_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL_ERROR = 1011,
};

static inline bool ws_opcode_is_control(unsigned op)
{
	return op >= 0x8;
}

/*
 * Sec-WebSocket-Accept for a client's Sec-WebSocket-Key: base64(SHA-1(key +
 * WS_GUID)). The key must be the base64 of 16 bytes (24 characters), as RFC
 * 6455 section 4.1 requires; -EINVAL otherwise. ret gets WS_ACCEPT_LEN
 * characters and a NUL.
 */
int ws_accept_key(const char *key, char ret[WS_ACCEPT_LEN + 1]);

/* A fresh Sec-WebSocket-Key (for clients and tests): 24 characters + NUL. */
void ws_client_key(char ret[25]);

/*
 * Whether an HTTP header value that is a comma-separated list of tokens
 * (Connection, Upgrade, Sec-WebSocket-Protocol) contains token, compared
 * case-insensitively, ignoring surrounding spaces. NULL value: false.
 */
bool http_token_list_contains(const char *value, const char *token);

struct ws_frame_header {
	bool fin;
	unsigned rsv; /* the three RSV bits, 0..7 */
	unsigned opcode;
	bool masked;
	uint8_t mask[4];
	uint64_t payload_len;
	size_t header_len; /* bytes the header took */
};

/*
 * Parse the frame header at the start of buf. Returns the header length (>0)
 * and fills *ret, 0 when buf holds only part of a header, or -EPROTO for a
 * header no endpoint may send: a reserved opcode, RSV bits set, a control
 * frame that is fragmented or longer than 125 bytes, or a 64-bit length with
 * its top bit set.
 */
int ws_frame_header_parse(const void *buf, size_t len, struct ws_frame_header *ret);

/*
 * Encode a frame header into out (WS_MAX_HEADER bytes) and return its
 * length. The length uses the shortest form (7, 16 or 64 bits). mask is the
 * client's 4-byte masking key, or NULL for an unmasked (server) frame.
 */
size_t ws_frame_header_encode(uint8_t out[WS_MAX_HEADER], bool fin, unsigned opcode,
			      uint64_t payload_len, const uint8_t *mask);

/*
 * XOR data with the masking key, as for the payload bytes from offset on
 * (offset is the position of data[0] in the frame's payload). Masking twice
 * unmasks.
 */
void ws_mask(void *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* Append a whole frame (header and payload, masked when mask != NULL). */
void ws_frame_append(struct strbuf *sb, unsigned opcode, bool fin, const void *payload, size_t len,
		     const uint8_t *mask);
/* Append a close frame with a status code and an optional reason (cut to
 * fit the 125-byte control frame limit). code 0 sends an empty close. */
void ws_close_append(struct strbuf *sb, uint16_t code, const char *reason, const uint8_t *mask);

/*
 * The payload of a close frame: *ret_code is its status code, or
 * WS_CLOSE_NO_STATUS when the payload is empty; the reason points into
 * payload. -EPROTO for a one-byte payload or a code no endpoint may send.
 */
int ws_close_parse(const void *payload, size_t len, uint16_t *ret_code, const char **ret_reason,
		   size_t *ret_reason_len);

/*
 * A reader: feed it bytes as they arrive, take messages out.
 *   ws_reader_init(&r, true, 16 << 20);      (a server: frames must be masked)
 *   ws_reader_feed(&r, buf, n);
 *   while ((k = ws_reader_next(&r, &m)) > 0) ... m.opcode, m.data, m.len ...
 *   if (k < 0) ... close the connection with 1002 (-EPROTO) or 1009 (-EMSGSIZE)
 * A data message (text or binary) is returned once all its fragments have
 * arrived; control frames (close, ping, pong) are returned as soon as they
 * are complete, also between the fragments of a message. m.data stays valid
 * until the next call to ws_reader_feed or ws_reader_next.
 */
struct ws_reader {
	bool expect_masked; /* true for a server */
	size_t max_message;
	/* Bytes received and not yet consumed: in[in_pos..in_len). */
	uint8_t *in;
	size_t in_pos, in_len, in_alloc;
	/* A fragmented message being assembled. */
	uint8_t *msg;
	size_t msg_len, msg_alloc;
	unsigned msg_opcode; /* 0 when no message is in progress */
	bool msg_returned;   /* msg was handed out: start afresh on the next call */
	/* The last control frame returned (unmasked copy). */
	uint8_t control[WS_MAX_CONTROL];
	int error; /* the first error, returned ever after */
};

struct ws_message {
	unsigned opcode; /* WS_OP_TEXT, BINARY, CLOSE, PING or PONG */
	const uint8_t *data;
	size_t len;
};

void ws_reader_init(struct ws_reader *r, bool expect_masked, size_t max_message);
void ws_reader_release(struct ws_reader *r);
void ws_reader_feed(struct ws_reader *r, const void *data, size_t len);
/*
 * 1 with *ret set, 0 when more bytes are needed, -EPROTO on a protocol
 * violation (masking wrong for the role, a continuation without a message,
 * a new data frame inside a fragmented message, a bad header), -EMSGSIZE
 * when a message would exceed max_message. After an error the reader only
 * returns that error again.
 */
int ws_reader_next(struct ws_reader *r, struct ws_message *ret);
