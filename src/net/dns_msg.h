/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS messages (RFC 1035, EDNS0 from RFC 6891): parsing queries with strict
 * bounds checks and building answers with name compression.
 *
 * Parsing never reads outside [pkt, pkt + len): every length, pointer and
 * count is checked; compression pointers must point strictly backwards
 * (which rules out loops) and a name is at most 255 bytes of 127 labels.
 *
 * Building writes into a caller's buffer up to a limit (512 for plain UDP,
 * the EDNS size, 65535 for TCP). A record that does not fit is taken back
 * whole and the writer remembers that it overflowed: the caller then sets TC
 * (answer section) or just leaves the record out (additional section).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	DNS_HEADER_SIZE = 12,
	DNS_NAME_MAX = 255, /* wire bytes, with the root label */
	DNS_LABEL_MAX = 63,
	DNS_UDP_PLAIN = 512, /* UDP size without EDNS */
	DNS_EDNS_MAX = 1232, /* the largest UDP answer we send (DNS flag day 2020) */
	DNS_TCP_MAX = 65535,
};

enum dns_type {
	DNS_T_A = 1,
	DNS_T_NS = 2,
	DNS_T_CNAME = 5,
	DNS_T_SOA = 6,
	DNS_T_PTR = 12,
	DNS_T_MX = 15,
	DNS_T_TXT = 16,
	DNS_T_AAAA = 28,
	DNS_T_SRV = 33,
	DNS_T_OPT = 41,
	DNS_T_IXFR = 251,
	DNS_T_AXFR = 252,
	DNS_T_ANY = 255,
};

enum { DNS_C_IN = 1, DNS_C_ANY = 255 };

enum dns_rcode {
	DNS_R_NOERROR = 0,
	DNS_R_FORMERR = 1,
	DNS_R_SERVFAIL = 2,
	DNS_R_NXDOMAIN = 3,
	DNS_R_NOTIMP = 4,
	DNS_R_REFUSED = 5,
	DNS_R_BADVERS = 16, /* extended: needs OPT */
};

/* Header flag bits (the 16-bit word after the ID). */
enum {
	DNS_F_QR = 0x8000,
	DNS_F_AA = 0x0400,
	DNS_F_TC = 0x0200,
	DNS_F_RD = 0x0100,
	DNS_F_RA = 0x0080,
	DNS_F_AD = 0x0020,
	DNS_F_CD = 0x0010,
	DNS_OPCODE_MASK = 0x7800,
};

/* A name, uncompressed, in wire form (length-prefixed labels, ending with
 * the root label), with where each label starts. */
struct dns_name {
	uint8_t wire[DNS_NAME_MAX];
	uint8_t len; /* bytes in wire, the root label included (>= 1) */
	uint8_t nlabels;
	uint8_t off[DNS_NAME_MAX / 2 + 1];
};

/* Read the name at *pos (following compression pointers) and move *pos
 * past it. -EBADMSG when it is malformed, truncated, too long or loops. */
int dns_name_read(const uint8_t *pkt, size_t len, size_t *pos, struct dns_name *ret);
/* "a.b.c" or "a.b.c." to wire form; -EINVAL when a label is empty or too
 * long, or the name too long. "" and "." are the root. */
int dns_name_from_str(const char *s, struct dns_name *ret);
/* Dotted form (no trailing dot; "." for the root), bytes other than
 * [A-Za-z0-9-_] escaped as \DDD. Truncated to size. */
void dns_name_to_str(const struct dns_name *n, char *buf, size_t size);
/* Label i: its bytes and length. */
static inline const uint8_t *dns_name_label(const struct dns_name *n, unsigned i, uint8_t *ret_len)
{
	*ret_len = n->wire[n->off[i]];
	return n->wire + n->off[i] + 1;
}
/* Whether the last nlabels labels of n equal suffix (case-insensitive). */
bool dns_name_has_suffix(const struct dns_name *n, const struct dns_name *suffix);
bool dns_name_eq(const struct dns_name *a, const struct dns_name *b);

struct dns_query {
	uint16_t id;
	uint16_t flags;
	bool have_question; /* qname/qtype/qclass are valid */
	struct dns_name qname;
	uint16_t qtype, qclass;
	size_t question_end; /* offset just past the question */
	bool edns;
	uint16_t edns_size; /* the requester's UDP size (at least 512) */
	uint8_t edns_version;
	bool edns_do;
};

/* Parse a query.
 *  0           a well-formed standard query of one question;
 *  -EBADMSG    not worth an answer (no complete header, or a response);
 *  an rcode    answer with it (FORMERR, NOTIMP, BADVERS): the header fields,
 *              and the question and EDNS fields when they could be read,
 *              are filled in. */
int dns_query_parse(const uint8_t *pkt, size_t len, struct dns_query *ret);

/* The UDP size an answer to q may use. */
size_t dns_query_udp_limit(const struct dns_query *q);

/* ---- building ---- */

enum { DNS_COMP_MAX = 64 };

struct dns_writer {
	uint8_t *buf;
	size_t limit;	/* never write past this */
	size_t reserve; /* bytes kept for OPT at the end */
	size_t len;
	bool edns;
	bool overflow;	    /* a record was left out for lack of room */
	uint16_t counts[4]; /* question, answer, authority, additional */
	struct {
		uint32_t hash;
		uint16_t off;
	} comp[DNS_COMP_MAX];
	unsigned ncomp;
};

enum dns_section { DNS_S_QUESTION, DNS_S_ANSWER, DNS_S_AUTHORITY, DNS_S_ADDITIONAL };

/* Start a response to q (header and question) in buf of size limit (at
 * least 512). rcode in the low 4 bits; the rest goes in OPT (dns_finish). */
void dns_writer_start(struct dns_writer *w, uint8_t *buf, size_t limit, const struct dns_query *q,
		      uint16_t extra_flags);
/* A record: owner, type, class IN, ttl, rdata built by the helpers below.
 * Each returns false (and writes nothing) when the record does not fit. */
bool dns_put_addr(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		  uint32_t ttl, int family, const void *addr);
bool dns_put_name_rr(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		     uint16_t type, uint32_t ttl, const struct dns_name *target);
bool dns_put_srv(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		 uint32_t ttl, uint16_t prio, uint16_t weight, uint16_t port,
		 const struct dns_name *target);
bool dns_put_txt(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		 uint32_t ttl, const char *text);
bool dns_put_soa(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		 uint32_t ttl, const struct dns_name *mname, const struct dns_name *rname,
		 uint32_t serial, uint32_t refresh, uint32_t retry, uint32_t expire,
		 uint32_t minimum);
/* A record with raw RDATA (names in it written as they are). */
bool dns_put_raw(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		 uint16_t type, uint16_t class, uint32_t ttl, const uint8_t *rdata, size_t rdlen);
/* Set the rcode (extended rcodes go into OPT), add OPT when the query had
 * EDNS, set TC when asked, and write the counts. Returns the length. */
size_t dns_finish(struct dns_writer *w, int rcode, bool tc);

/* A complete error answer (header, question when parsed, OPT when the query
 * had it) to q; returns its length (0 when limit < 512). */
size_t dns_build_error(const struct dns_query *q, int rcode, uint8_t *buf, size_t limit);

/* Shorten an answer (from an upstream) that does not fit limit: header and
 * question kept, every record dropped, TC set. Returns the new length, or
 * 0 when even that does not fit or the message is malformed. */
size_t dns_truncate(uint8_t *msg, size_t len, size_t limit);

/* A recursive query (RD) for name/qtype, with an OPT of edns_size when non-zero;
 * returns its length (buf: at least 512 bytes). */
size_t dns_build_query(uint8_t *buf, uint16_t id, const struct dns_name *name, uint16_t qtype,
		       uint16_t edns_size);

/* Append the answer records of an upstream answer (up, uplen) to the
 * complete answer in buf (len bytes, which must hold no authority records),
 * within limit: names are decompressed, records that do not fit are left
 * out and set TC, the upstream's rcode replaces ours. Returns the new
 * length, or 0 when the upstream answer is malformed (buf unchanged). */
size_t dns_splice_answers(uint8_t *buf, size_t len, size_t limit, const uint8_t *up, size_t uplen);
