/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SPDY/3.1 framing as a codec (draft-mbelshe-httpbis-spdy-00 and the 3.1
 * revision), the subset Kubernetes' spdystream speaks for `kubectl
 * port-forward` and `exec`: frame parsing and building, and the name/value
 * header blocks, zlib-compressed with the SPDY/3 dictionary as one
 * continuous stream per direction. No I/O and no policy.
 *
 * Frames (all integers big-endian):
 *   control: 1 bit C=1, 15-bit version (3), 16-bit type, 8-bit flags,
 *            24-bit length, then the payload
 *   data:    1 bit C=0, 31-bit stream id, 8-bit flags (FIN = 1), 24-bit
 *            length, then the data
 * Header block (before compression): u32 count, then per entry a u32
 * length + name (lower case) and a u32 length + value; a value may hold
 * several values separated by NUL bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <zlib.h>

struct strbuf;

#define SPDY_VERSION	   3
#define SPDY_FRAME_HEADER  8
#define SPDY_MAX_LENGTH	   0xffffff /* the 24-bit length field */
#define SPDY_MAX_STREAM_ID 0x7fffffff

enum spdy_type {
	SPDY_SYN_STREAM = 1,
	SPDY_SYN_REPLY = 2,
	SPDY_RST_STREAM = 3,
	SPDY_SETTINGS = 4,
	SPDY_PING = 6,
	SPDY_GOAWAY = 7,
	SPDY_HEADERS = 8,
	SPDY_WINDOW_UPDATE = 9,
};

enum spdy_flag {
	SPDY_FLAG_FIN = 0x01,
	SPDY_FLAG_UNIDIRECTIONAL = 0x02, /* SYN_STREAM */
};

enum spdy_rst_status {
	SPDY_PROTOCOL_ERROR = 1,
	SPDY_INVALID_STREAM = 2,
	SPDY_REFUSED_STREAM = 3,
	SPDY_UNSUPPORTED_VERSION = 4,
	SPDY_CANCEL = 5,
	SPDY_INTERNAL_ERROR = 6,
	SPDY_FLOW_CONTROL_ERROR = 7,
	SPDY_STREAM_IN_USE = 8,
	SPDY_STREAM_ALREADY_CLOSED = 9,
	SPDY_FRAME_TOO_LARGE = 11,
};

/* The SPDY/3 header compression dictionary (a protocol constant). */
extern const uint8_t spdy_dictionary[];
extern const size_t spdy_dictionary_len;

/* A parsed frame; pointers point into the buffer given to spdy_frame_parse. */
struct spdy_frame {
	bool control;
	uint16_t version; /* control frames */
	uint16_t type;	  /* control frames: enum spdy_type (others are kept, not decoded) */
	uint8_t flags;
	uint32_t length; /* of the payload */
	const uint8_t *payload;

	uint32_t stream_id; /* DATA, SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE */
	uint32_t assoc_id;  /* SYN_STREAM */
	uint8_t priority;   /* SYN_STREAM, 0 (highest) .. 7 */
	uint8_t slot;	    /* SYN_STREAM */
	uint32_t status;    /* RST_STREAM, GOAWAY */
	uint32_t ping_id;   /* PING */
	uint32_t last_good_stream_id; /* GOAWAY */
	uint32_t delta;		      /* WINDOW_UPDATE */
	/* DATA: the data; SYN_STREAM, SYN_REPLY, HEADERS: the compressed header block. */
	const uint8_t *data;
	size_t data_len;
};

/*
 * Parse the frame at the start of buf. Returns the number of bytes it takes
 * (>0), 0 when buf holds only part of it, -EMSGSIZE when its length exceeds
 * max_length (checked from the header alone, before the payload arrives),
 * or -EPROTO when it is malformed: a control frame of another version, or
 * a known control frame whose payload is too short for its fixed fields
 * (a stream id of 0 where one is required is reported to the caller as is).
 * Unknown control frame types parse (type and payload set) so callers can
 * skip them, as the protocol asks.
 */
ssize_t spdy_frame_parse(const void *buf, size_t len, size_t max_length, struct spdy_frame *ret);

/* ---- header blocks ---- */

struct spdy_header {
	char *name;  /* NUL-terminated */
	char *value; /* value_len bytes (may hold NUL separators) + a NUL */
	size_t value_len;
};

struct spdy_headers {
	struct spdy_header *v;
	size_t n, alloc;
};

void spdy_headers_add(struct spdy_headers *h, const char *name, const char *value);
void spdy_headers_addn(struct spdy_headers *h, const char *name, const void *value, size_t len);
/* The first value of name (case-insensitive), or NULL. */
const char *spdy_headers_get(const struct spdy_headers *h, const char *name);
void spdy_headers_release(struct spdy_headers *h);

/* Serialize and parse an uncompressed header block. Parsing fails with
 * -EPROTO on truncation, trailing bytes, an empty or upper-case name, or
 * more than max_entries entries. */
void spdy_headers_serialize(const struct spdy_headers *h, struct strbuf *out);
int spdy_headers_parse(const void *buf, size_t len, size_t max_entries, struct spdy_headers *ret);

/*
 * The compression contexts: one per direction of a connection, for its
 * whole life (every header block continues the same zlib stream).
 */
struct spdy_deflater {
	z_stream z;
	bool init;
};
struct spdy_inflater {
	z_stream z;
	bool init;
	size_t max_output; /* per header block */
};

int spdy_deflater_init(struct spdy_deflater *d);
void spdy_deflater_release(struct spdy_deflater *d);
int spdy_inflater_init(struct spdy_inflater *inf, size_t max_output);
void spdy_inflater_release(struct spdy_inflater *inf);

/* Compress a header block (ends with a sync flush), appending to out. */
int spdy_headers_compress(struct spdy_deflater *d, const struct spdy_headers *h,
			  struct strbuf *out);
/* Decompress and parse one header block. -EPROTO for corrupt data or a
 * wrong dictionary, -EMSGSIZE past max_output. */
int spdy_headers_decompress(struct spdy_inflater *inf, const void *block, size_t len,
			    struct spdy_headers *ret);

/* ---- building frames (appended to sb) ---- */

int spdy_append_syn_stream(struct strbuf *sb, struct spdy_deflater *d, uint32_t stream_id,
			   uint32_t assoc_id, uint8_t priority, uint8_t flags,
			   const struct spdy_headers *h);
int spdy_append_syn_reply(struct strbuf *sb, struct spdy_deflater *d, uint32_t stream_id,
			  uint8_t flags, const struct spdy_headers *h);
void spdy_append_rst_stream(struct strbuf *sb, uint32_t stream_id, uint32_t status);
void spdy_append_ping(struct strbuf *sb, uint32_t id);
void spdy_append_goaway(struct strbuf *sb, uint32_t last_good_stream_id, uint32_t status);
/* len <= SPDY_MAX_LENGTH. */
void spdy_append_data(struct strbuf *sb, uint32_t stream_id, uint8_t flags, const void *data,
		      size_t len);
