/* SPDX-License-Identifier: Apache-2.0 */
/* DNS wire format: see dns_msg.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "net/dns_msg.h"

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void set16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

int dns_name_read(const uint8_t *pkt, size_t len, size_t *pos, struct dns_name *ret)
{
	size_t p = *pos, end = 0, floor = *pos;
	bool jumped = false;
	unsigned out = 0, nl = 0;

	for (;;) {
		if (p >= len)
			return -EBADMSG;
		uint8_t c = pkt[p];
		if ((c & 0xC0) == 0xC0) {
			if (p + 1 >= len)
				return -EBADMSG;
			size_t target = (size_t)(c & 0x3F) << 8 | pkt[p + 1];
			/* Strictly backwards from everything read so far (no
			 * loops), and never into the header. */
			if (target >= floor || target < DNS_HEADER_SIZE)
				return -EBADMSG;
			if (!jumped) {
				end = p + 2;
				jumped = true;
			}
			floor = target;
			p = target;
			continue;
		}
		if (c & 0xC0) /* 0x40 and 0x80: extended label types */
			return -EBADMSG;
		if (c == 0)
			break;
		if (p + 1 + c > len)
			return -EBADMSG;
		/* the label, its length byte and the root label must fit */
		if (out + 1 + c + 1 > DNS_NAME_MAX)
			return -EBADMSG;
		ret->off[nl++] = (uint8_t)out;
		ret->wire[out] = c;
		memcpy(ret->wire + out + 1, pkt + p + 1, c);
		out += 1 + c;
		p += 1 + c;
	}
	ret->wire[out++] = 0;
	ret->len = (uint8_t)out;
	ret->nlabels = (uint8_t)nl;
	*pos = jumped ? end : p + 1;
	return 0;
}

int dns_name_from_str(const char *s, struct dns_name *ret)
{
	unsigned out = 0, nl = 0;
	if (s[0] == 0 || (s[0] == '.' && s[1] == 0))
		goto done;
	for (const char *p = s; *p;) {
		size_t l = strcspn(p, ".");
		if (l == 0 || l > DNS_LABEL_MAX || out + 1 + l + 1 > DNS_NAME_MAX)
			return -EINVAL;
		ret->off[nl++] = (uint8_t)out;
		ret->wire[out] = (uint8_t)l;
		memcpy(ret->wire + out + 1, p, l);
		out += 1 + (unsigned)l;
		p += l;
		if (*p == '.')
			p++;
	}
done:
	ret->wire[out++] = 0;
	ret->len = (uint8_t)out;
	ret->nlabels = (uint8_t)nl;
	return 0;
}

void dns_name_to_str(const struct dns_name *n, char *buf, size_t size)
{
	size_t o = 0;
	if (size == 0)
		return;
	if (n->nlabels == 0) {
		snprintf(buf, size, ".");
		return;
	}
	for (unsigned i = 0; i < n->nlabels; i++) {
		uint8_t l;
		const uint8_t *b = dns_name_label(n, i, &l);
		if (i > 0 && o + 1 < size)
			buf[o++] = '.';
		for (unsigned j = 0; j < l; j++) {
			uint8_t c = b[j];
			bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				     (c >= '0' && c <= '9') || c == '-' || c == '_';
			if (plain) {
				if (o + 1 < size)
					buf[o++] = (char)c;
			} else if (o + 4 < size) {
				o += (size_t)snprintf(buf + o, size - o, "\\%03u", c);
			}
		}
	}
	buf[o < size ? o : size - 1] = 0;
}

static bool labels_eq(const uint8_t *a, const uint8_t *b, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

bool dns_name_has_suffix(const struct dns_name *n, const struct dns_name *suffix)
{
	if (suffix->nlabels > n->nlabels || suffix->len > n->len)
		return false;
	if (suffix->nlabels == 0)
		return true;
	unsigned start = n->off[n->nlabels - suffix->nlabels];
	return n->len - start == suffix->len &&
	       labels_eq(n->wire + start, suffix->wire, suffix->len);
}

bool dns_name_eq(const struct dns_name *a, const struct dns_name *b)
{
	return a->len == b->len && labels_eq(a->wire, b->wire, a->len);
}

/* Skip a resource record at *pos; its type in *ret_type. */
static int skip_rr(const uint8_t *pkt, size_t len, size_t *pos, struct dns_name *name,
		   uint16_t *ret_type, uint16_t *ret_class, uint32_t *ret_ttl, uint16_t *ret_rdlen)
{
	int r = dns_name_read(pkt, len, pos, name);
	if (r < 0)
		return r;
	if (len - *pos < 10)
		return -EBADMSG;
	const uint8_t *p = pkt + *pos;
	*ret_type = get16(p);
	*ret_class = get16(p + 2);
	*ret_ttl = (uint32_t)get16(p + 4) << 16 | get16(p + 6);
	*ret_rdlen = get16(p + 8);
	*pos += 10;
	if (len - *pos < *ret_rdlen)
		return -EBADMSG;
	*pos += *ret_rdlen;
	return 0;
}

int dns_query_parse(const uint8_t *pkt, size_t len, struct dns_query *ret)
{
	ret->id = ret->flags = 0;
	ret->have_question = false;
	ret->qname.len = 1;
	ret->qname.nlabels = 0;
	ret->qname.wire[0] = 0;
	ret->qtype = ret->qclass = 0;
	ret->question_end = 0;
	ret->edns = false;
	ret->edns_size = DNS_UDP_PLAIN;
	ret->edns_version = 0;
	ret->edns_do = false;
	if (len < DNS_HEADER_SIZE)
		return -EBADMSG;
	ret->id = get16(pkt);
	ret->flags = get16(pkt + 2);
	if (ret->flags & DNS_F_QR)
		return -EBADMSG; /* never answer an answer */
	unsigned qd = get16(pkt + 4), an = get16(pkt + 6), ns = get16(pkt + 8),
		 ar = get16(pkt + 10);
	unsigned opcode = (ret->flags & DNS_OPCODE_MASK) >> 11;
	if (qd != 1)
		return opcode != 0 ? DNS_R_NOTIMP : DNS_R_FORMERR;

	size_t pos = DNS_HEADER_SIZE;
	if (dns_name_read(pkt, len, &pos, &ret->qname) < 0 || len - pos < 4)
		return DNS_R_FORMERR;
	ret->qtype = get16(pkt + pos);
	ret->qclass = get16(pkt + pos + 2);
	pos += 4;
	ret->question_end = pos;
	ret->have_question = true;
	if (opcode != 0)
		return DNS_R_NOTIMP;
	if (ret->qtype == DNS_T_OPT)
		return DNS_R_FORMERR;

	struct dns_name name;
	uint16_t type, class, rdlen;
	uint32_t ttl;
	for (unsigned i = 0; i < an + ns; i++)
		if (skip_rr(pkt, len, &pos, &name, &type, &class, &ttl, &rdlen) < 0)
			return DNS_R_FORMERR;
	for (unsigned i = 0; i < ar; i++) {
		if (skip_rr(pkt, len, &pos, &name, &type, &class, &ttl, &rdlen) < 0)
			return DNS_R_FORMERR;
		if (type != DNS_T_OPT)
			continue;
		/* one OPT, owned by the root (RFC 6891 6.1.1) */
		if (ret->edns || name.nlabels != 0)
			return DNS_R_FORMERR;
		ret->edns = true;
		ret->edns_size = class < DNS_UDP_PLAIN ? DNS_UDP_PLAIN : class;
		ret->edns_version = (uint8_t)(ttl >> 16);
		ret->edns_do = (ttl & 0x8000) != 0;
	}
	if (pos != len)
		return DNS_R_FORMERR; /* trailing bytes */
	if (ret->edns && ret->edns_version != 0)
		return DNS_R_BADVERS;
	return 0;
}

size_t dns_query_udp_limit(const struct dns_query *q)
{
	if (!q->edns)
		return DNS_UDP_PLAIN;
	return q->edns_size > DNS_EDNS_MAX ? DNS_EDNS_MAX : q->edns_size;
}

/* ---- building ---- */

static bool put(struct dns_writer *w, const void *p, size_t n)
{
	if (w->len + n > w->limit - w->reserve)
		return false;
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return true;
}

static bool put16(struct dns_writer *w, uint16_t v)
{
	uint8_t b[2];
	set16(b, v);
	return put(w, b, 2);
}

static bool put32(struct dns_writer *w, uint32_t v)
{
	return put16(w, (uint16_t)(v >> 16)) && put16(w, (uint16_t)v);
}

static uint32_t suffix_hash(const uint8_t *wire)
{
	uint32_t h = 2166136261u;
	for (const uint8_t *p = wire; *p; p += 1 + *p)
		for (unsigned i = 0; i <= *p; i++)
			h = (h ^ lower(p[i])) * 16777619u;
	return h;
}

/* Whether the name written at off (maybe compressed: we wrote it) equals
 * the uncompressed wire name. */
static bool written_eq(const struct dns_writer *w, size_t off, const uint8_t *wire)
{
	for (int hops = 0; hops < 128;) {
		uint8_t c = w->buf[off];
		if ((c & 0xC0) == 0xC0) {
			off = (size_t)(c & 0x3F) << 8 | w->buf[off + 1];
			hops++;
			continue;
		}
		if (c != *wire)
			return false;
		if (c == 0)
			return true;
		if (!labels_eq(w->buf + off + 1, wire + 1, c))
			return false;
		off += 1 + c;
		wire += 1 + c;
	}
	return false;
}

static bool put_name(struct dns_writer *w, const struct dns_name *n, bool compress)
{
	uint32_t hashes[DNS_NAME_MAX / 2 + 1];
	uint16_t offs[DNS_NAME_MAX / 2 + 1];
	unsigned nnew = 0, i;

	for (i = 0; i < n->nlabels; i++) {
		const uint8_t *suffix = n->wire + n->off[i];
		uint32_t h = suffix_hash(suffix);
		if (compress) {
			for (unsigned j = 0; j < w->ncomp; j++) {
				if (w->comp[j].hash == h && written_eq(w, w->comp[j].off, suffix)) {
					if (!put16(w, 0xC000 | w->comp[j].off))
						return false;
					goto registered;
				}
			}
		}
		if (w->len < 0x3FFF) {
			hashes[nnew] = h;
			offs[nnew++] = (uint16_t)w->len;
		}
		if (!put(w, suffix, 1 + suffix[0]))
			return false;
	}
	if (!put(w, "", 1))
		return false;
registered:
	for (unsigned k = 0; k < nnew && w->ncomp < DNS_COMP_MAX; k++) {
		w->comp[w->ncomp].hash = hashes[k];
		w->comp[w->ncomp++].off = offs[k];
	}
	return true;
}

void dns_writer_start(struct dns_writer *w, uint8_t *buf, size_t limit, const struct dns_query *q,
		      uint16_t extra_flags)
{
	*w = (struct dns_writer){ .buf = buf, .limit = limit };
	w->edns = q->edns;
	w->reserve = q->edns ? 11 : 0;
	uint8_t h[DNS_HEADER_SIZE] = { 0 };
	set16(h, q->id);
	set16(h + 2, (uint16_t)(DNS_F_QR | (q->flags & (DNS_OPCODE_MASK | DNS_F_RD | DNS_F_CD)) |
				extra_flags));
	put(w, h, sizeof(h));
	if (q->have_question) {
		size_t mark = w->len;
		if (put_name(w, &q->qname, false) && put16(w, q->qtype) && put16(w, q->qclass)) {
			w->counts[DNS_S_QUESTION] = 1;
		} else {
			w->len = mark;
			w->ncomp = 0;
		}
	}
}

/* Owner, type, class, TTL and a place for RDLENGTH; returns its offset or 0. */
static size_t rr_begin(struct dns_writer *w, const struct dns_name *owner, uint16_t type,
		       uint32_t ttl)
{
	if (!put_name(w, owner, true) || !put16(w, type) || !put16(w, DNS_C_IN) || !put32(w, ttl) ||
	    !put16(w, 0))
		return 0;
	return w->len - 2;
}

static bool rr_end(struct dns_writer *w, enum dns_section s, size_t rdlen_at)
{
	set16(w->buf + rdlen_at, (uint16_t)(w->len - rdlen_at - 2));
	w->counts[s]++;
	return true;
}

static bool rr_fail(struct dns_writer *w, size_t mark, unsigned ncomp)
{
	w->len = mark;
	w->ncomp = ncomp;
	w->overflow = true;
	return false;
}

bool dns_put_addr(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		  uint32_t ttl, int family, const void *addr)
{
	size_t mark = w->len, at;
	unsigned ncomp = w->ncomp;
	at = rr_begin(w, owner, family == AF_INET6 ? DNS_T_AAAA : DNS_T_A, ttl);
	if (!at || !put(w, addr, family == AF_INET6 ? 16 : 4))
		return rr_fail(w, mark, ncomp);
	return rr_end(w, s, at);
}

bool dns_put_name_rr(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		     uint16_t type, uint32_t ttl, const struct dns_name *target)
{
	size_t mark = w->len, at;
	unsigned ncomp = w->ncomp;
	at = rr_begin(w, owner, type, ttl);
	if (!at || !put_name(w, target, true))
		return rr_fail(w, mark, ncomp);
	return rr_end(w, s, at);
}

bool dns_put_srv(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		 uint32_t ttl, uint16_t prio, uint16_t weight, uint16_t port,
		 const struct dns_name *target)
{
	size_t mark = w->len, at;
	unsigned ncomp = w->ncomp;
	at = rr_begin(w, owner, DNS_T_SRV, ttl);
	/* RFC 2782: the target is not compressed */
	if (!at || !put16(w, prio) || !put16(w, weight) || !put16(w, port) ||
	    !put_name(w, target, false))
		return rr_fail(w, mark, ncomp);
	return rr_end(w, s, at);
}

bool dns_put_txt(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		 uint32_t ttl, const char *text)
{
	size_t mark = w->len, at, l = strlen(text);
	unsigned ncomp = w->ncomp;
	uint8_t lb = (uint8_t)(l > 255 ? 255 : l);
	at = rr_begin(w, owner, DNS_T_TXT, ttl);
	if (!at || !put(w, &lb, 1) || !put(w, text, lb))
		return rr_fail(w, mark, ncomp);
	return rr_end(w, s, at);
}

bool dns_put_soa(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		 uint32_t ttl, const struct dns_name *mname, const struct dns_name *rname,
		 uint32_t serial, uint32_t refresh, uint32_t retry, uint32_t expire,
		 uint32_t minimum)
{
	size_t mark = w->len, at;
	unsigned ncomp = w->ncomp;
	at = rr_begin(w, owner, DNS_T_SOA, ttl);
	if (!at || !put_name(w, mname, true) || !put_name(w, rname, true) || !put32(w, serial) ||
	    !put32(w, refresh) || !put32(w, retry) || !put32(w, expire) || !put32(w, minimum))
		return rr_fail(w, mark, ncomp);
	return rr_end(w, s, at);
}

bool dns_put_raw(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
		 uint16_t type, uint16_t class, uint32_t ttl, const uint8_t *rdata, size_t rdlen)
{
	size_t mark = w->len;
	unsigned ncomp = w->ncomp;
	if (!put_name(w, owner, true) || !put16(w, type) || !put16(w, class) || !put32(w, ttl) ||
	    rdlen > 0xFFFF || !put16(w, (uint16_t)rdlen) || !put(w, rdata, rdlen))
		return rr_fail(w, mark, ncomp);
	w->counts[s]++;
	return true;
}

size_t dns_finish(struct dns_writer *w, int rcode, bool tc)
{
	uint16_t flags = get16(w->buf + 2);
	flags = (uint16_t)((flags & ~0x000F) | (rcode & 0x0F));
	if (tc)
		flags |= DNS_F_TC;
	set16(w->buf + 2, flags);
	if (w->edns) {
		/* the OPT record: root owner, our UDP size, extended rcode */
		uint8_t opt[11] = { 0 };
		set16(opt + 1, DNS_T_OPT);
		set16(opt + 3, DNS_EDNS_MAX);
		opt[5] = (uint8_t)(rcode >> 4);
		w->reserve = 0;
		if (put(w, opt, sizeof(opt)))
			w->counts[DNS_S_ADDITIONAL]++;
	}
	for (int i = 0; i < 4; i++)
		set16(w->buf + 4 + 2 * i, w->counts[i]);
	return w->len;
}

size_t dns_build_error(const struct dns_query *q, int rcode, uint8_t *buf, size_t limit)
{
	struct dns_writer w;
	if (limit < DNS_UDP_PLAIN)
		return 0;
	dns_writer_start(&w, buf, limit, q, 0);
	return dns_finish(&w, rcode, false);
}

size_t dns_truncate(uint8_t *msg, size_t len, size_t limit)
{
	if (len < DNS_HEADER_SIZE)
		return 0;
	unsigned qd = get16(msg + 4);
	size_t pos = DNS_HEADER_SIZE;
	struct dns_name n;
	for (unsigned i = 0; i < qd; i++) {
		if (dns_name_read(msg, len, &pos, &n) < 0 || len - pos < 4)
			return 0;
		pos += 4;
	}
	if (pos > limit)
		return 0;
	set16(msg + 2, get16(msg + 2) | DNS_F_TC);
	memset(msg + 6, 0, 6);
	return pos;
}

size_t dns_build_query(uint8_t *buf, uint16_t id, const struct dns_name *name, uint16_t qtype,
		       uint16_t edns_size)
{
	memset(buf, 0, DNS_HEADER_SIZE);
	set16(buf, id);
	set16(buf + 2, DNS_F_RD);
	set16(buf + 4, 1);
	size_t n = DNS_HEADER_SIZE;
	memcpy(buf + n, name->wire, name->len);
	n += name->len;
	set16(buf + n, qtype);
	set16(buf + n + 2, DNS_C_IN);
	n += 4;
	if (edns_size) {
		set16(buf + 10, 1);
		memset(buf + n, 0, 11);
		set16(buf + n + 1, DNS_T_OPT);
		set16(buf + n + 3, edns_size);
		n += 11;
	}
	return n;
}

/* RDATA of type at rd (rdlen bytes) in msg with its names decompressed,
 * into out (size DNS_TCP_MAX is enough). -EBADMSG when malformed. */
static int rdata_expand(const uint8_t *msg, size_t rd, size_t rdlen, uint16_t type, uint8_t *out,
			size_t *ret_len)
{
	size_t fixed_before = 0, fixed_after = 0, names = 1;
	switch (type) {
	case DNS_T_CNAME:
	case DNS_T_NS:
	case DNS_T_PTR:
	case 39: /* DNAME */
		break;
	case DNS_T_MX:
		fixed_before = 2;
		break;
	case DNS_T_SRV:
		fixed_before = 6;
		break;
	case DNS_T_SOA:
		names = 2;
		fixed_after = 20;
		break;
	default:
		memcpy(out, msg + rd, rdlen);
		*ret_len = rdlen;
		return 0;
	}
	size_t end = rd + rdlen, pos = rd + fixed_before, o = fixed_before;
	if (fixed_before > rdlen)
		return -EBADMSG;
	memcpy(out, msg + rd, fixed_before);
	for (size_t i = 0; i < names; i++) {
		struct dns_name n;
		if (dns_name_read(msg, end, &pos, &n) < 0)
			return -EBADMSG;
		memcpy(out + o, n.wire, n.len);
		o += n.len;
	}
	if (end - pos != fixed_after)
		return -EBADMSG;
	memcpy(out + o, msg + pos, fixed_after);
	*ret_len = o + fixed_after;
	return 0;
}

size_t dns_splice_answers(uint8_t *buf, size_t len, size_t limit, const uint8_t *up, size_t uplen)
{
	struct dns_name n;
	size_t pos = DNS_HEADER_SIZE, upos = DNS_HEADER_SIZE;
	if (len < DNS_HEADER_SIZE || uplen < DNS_HEADER_SIZE || limit > DNS_TCP_MAX ||
	    get16(buf + 8) != 0)
		return 0;
	/* where our answer section ends, and what follows it (OPT) */
	for (unsigned i = 0, qd = get16(buf + 4); i < qd; i++) {
		if (dns_name_read(buf, len, &pos, &n) < 0 || len - pos < 4)
			return 0;
		pos += 4;
	}
	for (unsigned i = 0, an = get16(buf + 6); i < an; i++) {
		if (dns_name_read(buf, len, &pos, &n) < 0 || len - pos < 10 ||
		    len - pos - 10 < get16(buf + pos + 8))
			return 0;
		pos += 10 + get16(buf + pos + 8);
	}
	size_t tail_len = len - pos;
	uint8_t tail[512];
	if (tail_len > sizeof(tail))
		return 0;
	memcpy(tail, buf + pos, tail_len);
	/* the upstream's answer records */
	for (unsigned i = 0, qd = get16(up + 4); i < qd; i++) {
		if (dns_name_read(up, uplen, &upos, &n) < 0 || uplen - upos < 4)
			return 0;
		upos += 4;
	}
	/* built in a copy: buf stays as it is when the upstream's is malformed */
	/* On the stack (only DNS threads come here), not in thread-local
	 * storage, which every thread of the process would carry. */
	uint8_t work[DNS_TCP_MAX];
	memcpy(work, buf, pos);
	struct dns_writer w = { .buf = work, .limit = limit, .reserve = tail_len, .len = pos };
	for (int i = 0; i < 4; i++)
		w.counts[i] = get16(buf + 4 + 2 * i);
	uint8_t rdata[DNS_TCP_MAX];
	bool tc = false;
	for (unsigned i = 0, an = get16(up + 6); i < an; i++) {
		if (dns_name_read(up, uplen, &upos, &n) < 0 || uplen - upos < 10)
			return 0;
		uint16_t type = get16(up + upos), class = get16(up + upos + 2);
		uint32_t ttl = (uint32_t)get16(up + upos + 4) << 16 | get16(up + upos + 6);
		size_t rdlen = get16(up + upos + 8), rlen;
		upos += 10;
		if (uplen - upos < rdlen || rdata_expand(up, upos, rdlen, type, rdata, &rlen) < 0)
			return 0;
		upos += rdlen;
		if (!tc && !dns_put_raw(&w, DNS_S_ANSWER, &n, type, class, ttl, rdata, rlen))
			tc = true;
	}
	memcpy(work + w.len, tail, tail_len);
	w.len += tail_len;
	uint16_t flags = get16(work + 2);
	flags = (uint16_t)((flags & ~0x000F) | (get16(up + 2) & 0x000F));
	if (tc)
		flags |= DNS_F_TC;
	set16(work + 2, flags);
	set16(work + 6, w.counts[DNS_S_ANSWER]);
	memcpy(buf, work, w.len);
	return w.len;
}
