/* SPDX-License-Identifier: Apache-2.0 */
/* DNS test helpers: build queries and read answers independently of
 * src/net/dns_msg.c's writer (only dns_name_read is shared). */
#pragma once

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net/dns_msg.h"

/* A query for name/type (dotted), with an OPT of edns_size when non-zero.
 * Returns its length. */
static inline size_t mkquery(uint8_t *buf, uint16_t id, const char *name, uint16_t type,
			     uint16_t edns_size)
{
	size_t n = 0;
	buf[n++] = (uint8_t)(id >> 8);
	buf[n++] = (uint8_t)id;
	buf[n++] = 0x01; /* RD */
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = 1; /* QDCOUNT */
	memset(buf + n, 0, 6);
	if (edns_size)
		buf[11] = 1; /* ARCOUNT */
	n += 6;
	const char *p = name;
	while (*p) {
		size_t l = strcspn(p, ".");
		buf[n++] = (uint8_t)l;
		memcpy(buf + n, p, l);
		n += l;
		p += l;
		if (*p == '.')
			p++;
	}
	buf[n++] = 0;
	buf[n++] = (uint8_t)(type >> 8);
	buf[n++] = (uint8_t)type;
	buf[n++] = 0;
	buf[n++] = 1; /* IN */
	if (edns_size) {
		uint8_t opt[11] = { 0, 0, 41, (uint8_t)(edns_size >> 8), (uint8_t)edns_size };
		memcpy(buf + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	return n;
}

struct trr {
	char name[300];
	uint16_t type;
	uint32_t ttl;
	char data[300]; /* A/AAAA: address; CNAME/PTR/NS: name; SRV: "P W PORT TARGET";
			 * TXT: text; SOA: mname; OPT: "size" */
};

struct tmsg {
	uint16_t id, flags;
	int rcode;
	char qname[300];
	uint16_t qtype;
	int n[4];
	struct trr rr[3][256];
};

static inline uint16_t tget16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Parse an answer; -1 when malformed. */
static inline int tparse(const uint8_t *m, size_t len, struct tmsg *t)
{
	memset(t, 0, sizeof(*t));
	if (len < 12)
		return -1;
	t->id = tget16(m);
	t->flags = tget16(m + 2);
	t->rcode = t->flags & 0xF;
	for (int i = 0; i < 4; i++)
		t->n[i] = tget16(m + 4 + 2 * i);
	size_t pos = 12;
	struct dns_name nm;
	for (int i = 0; i < t->n[0]; i++) {
		if (dns_name_read(m, len, &pos, &nm) < 0 || len - pos < 4)
			return -1;
		dns_name_to_str(&nm, t->qname, sizeof(t->qname));
		t->qtype = tget16(m + pos);
		pos += 4;
	}
	for (int s = 0; s < 3; s++) {
		for (int i = 0; i < t->n[s + 1]; i++) {
			struct trr *r = &t->rr[s][i < 256 ? i : 255];
			if (dns_name_read(m, len, &pos, &nm) < 0 || len - pos < 10)
				return -1;
			dns_name_to_str(&nm, r->name, sizeof(r->name));
			r->type = tget16(m + pos);
			r->ttl = (uint32_t)tget16(m + pos + 4) << 16 | tget16(m + pos + 6);
			size_t rdlen = tget16(m + pos + 8);
			pos += 10;
			if (len - pos < rdlen)
				return -1;
			size_t rd = pos, p2 = pos;
			switch (r->type) {
			case 1:
				if (rdlen != 4)
					return -1;
				inet_ntop(AF_INET, m + rd, r->data, sizeof(r->data));
				break;
			case 28:
				if (rdlen != 16)
					return -1;
				inet_ntop(AF_INET6, m + rd, r->data, sizeof(r->data));
				break;
			case 2:
			case 5:
			case 6:
			case 12:
				if (dns_name_read(m, rd + rdlen, &p2, &nm) < 0)
					return -1;
				dns_name_to_str(&nm, r->data, sizeof(r->data));
				break;
			case 33: {
				if (rdlen < 7)
					return -1;
				p2 = rd + 6;
				if (dns_name_read(m, rd + rdlen, &p2, &nm) < 0)
					return -1;
				char tn[260];
				dns_name_to_str(&nm, tn, sizeof(tn));
				snprintf(r->data, sizeof(r->data), "%u %u %u %s", tget16(m + rd),
					 tget16(m + rd + 2), tget16(m + rd + 4), tn);
				break;
			}
			case 16:
				if (rdlen < 1 || m[rd] + 1u > rdlen)
					return -1;
				snprintf(r->data, sizeof(r->data), "%.*s", m[rd],
					 (const char *)m + rd + 1);
				break;
			case 41:
				snprintf(r->data, sizeof(r->data), "%u", tget16(m + pos - 8));
				break;
			}
			pos += rdlen;
		}
	}
	return pos == len ? 0 : -1;
}
