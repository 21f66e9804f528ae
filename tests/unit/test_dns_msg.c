/* SPDX-License-Identifier: Apache-2.0 */
/* DNS wire format: names, compression, query parsing (every malformed
 * case), the writer's limits and a random mutation loop. */
#include "unit.h"

#include <sys/socket.h>

#include "dns_harness.h"
#include "net/dns_db.h"
#include "net/dns_msg.h"

static void test_name_read_plain_and_compressed(void **state)
{
	/* header, then "www.example.com" at 12, then "mail" + pointer to example */
	uint8_t pkt[64] = { 0 };
	size_t n = 12;
	const uint8_t name1[] = { 3,   'w', 'w', 'w', 7,   'e', 'x', 'a', 'm',
				  'p', 'l', 'e', 3,   'c', 'o', 'm', 0 };
	memcpy(pkt + n, name1, sizeof(name1));
	n += sizeof(name1);
	size_t second = n;
	const uint8_t name2[] = { 4, 'M', 'a', 'I', 'l', 0xC0, 16 };
	memcpy(pkt + n, name2, sizeof(name2));
	n += sizeof(name2);

	struct dns_name nm;
	char s[300];
	size_t pos = 12;
	assert_int_equal(dns_name_read(pkt, n, &pos, &nm), 0);
	assert_int_equal(pos, second);
	dns_name_to_str(&nm, s, sizeof(s));
	assert_string_equal(s, "www.example.com");
	assert_int_equal(nm.nlabels, 3);
	pos = second;
	assert_int_equal(dns_name_read(pkt, n, &pos, &nm), 0);
	assert_int_equal(pos, n); /* just past the pointer */
	dns_name_to_str(&nm, s, sizeof(s));
	assert_string_equal(s, "MaIl.example.com");

	struct dns_name suffix;
	assert_int_equal(dns_name_from_str("EXAMPLE.com.", &suffix), 0);
	assert_true(dns_name_has_suffix(&nm, &suffix));
	assert_int_equal(dns_name_from_str("mail.example.com", &suffix), 0);
	assert_true(dns_name_eq(&nm, &suffix));
	assert_int_equal(dns_name_from_str("ample.com", &suffix), 0);
	assert_false(dns_name_has_suffix(&nm, &suffix));
}

static void test_name_read_malformed(void **state)
{
	struct dns_name nm;
	uint8_t pkt[600] = { 0 };
	size_t pos;

	/* a pointer to itself, and a forward pointer */
	pkt[12] = 0xC0;
	pkt[13] = 12;
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 14, &pos, &nm), -EBADMSG);
	pkt[13] = 14;
	pkt[14] = 0;
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 15, &pos, &nm), -EBADMSG);
	/* a two-pointer loop: 12 -> 14 is forward; 14 -> 12 then 12 -> 14 */
	pkt[12] = 1;
	pkt[13] = 'a';
	pkt[14] = 0xC0;
	pkt[15] = 12;
	pos = 14;
	assert_int_equal(dns_name_read(pkt, 16, &pos, &nm), -EBADMSG);
	/* a pointer into the header */
	pkt[12] = 0xC0;
	pkt[13] = 2;
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 14, &pos, &nm), -EBADMSG);
	/* a pointer cut in half */
	pkt[12] = 0xC0;
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 13, &pos, &nm), -EBADMSG);
	/* a label running past the end, a missing root */
	pkt[12] = 10;
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 15, &pos, &nm), -EBADMSG);
	pkt[12] = 1;
	pkt[13] = 'x';
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 14, &pos, &nm), -EBADMSG);
	/* extended label types 0x40 and 0x80 */
	pkt[12] = 0x41;
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 100, &pos, &nm), -EBADMSG);
	pkt[12] = 0x80;
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 100, &pos, &nm), -EBADMSG);
	/* longer than 255 bytes: 5 labels of 63 */
	for (int i = 0; i < 5; i++) {
		pkt[12 + i * 64] = 63;
		memset(pkt + 13 + i * 64, 'a', 63);
	}
	pkt[12 + 5 * 64] = 0;
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 13 + 5 * 64, &pos, &nm), -EBADMSG);
	/* exactly 255: 3 x 63 + 1 x 61 + root */
	pkt[12 + 3 * 64] = 61;
	pkt[12 + 3 * 64 + 62] = 0;
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 12 + 3 * 64 + 63, &pos, &nm), 0);
	assert_int_equal(nm.len, 255);
	/* 127 one-byte labels (254 bytes + root) */
	for (int i = 0; i < 127; i++) {
		pkt[12 + 2 * i] = 1;
		pkt[13 + 2 * i] = 'z';
	}
	pkt[12 + 254] = 0;
	pos = 12;
	assert_int_equal(dns_name_read(pkt, 12 + 255, &pos, &nm), 0);
	assert_int_equal(nm.nlabels, 127);
	/* from strings */
	assert_int_equal(dns_name_from_str("a..b", &nm), -EINVAL);
	char big[300];
	memset(big, 'a', 64);
	big[64] = 0;
	assert_int_equal(dns_name_from_str(big, &nm), -EINVAL);
	assert_int_equal(dns_name_from_str(".", &nm), 0);
	assert_int_equal(nm.nlabels, 0);
}

static void test_query_parse(void **state)
{
	uint8_t q[600];
	struct dns_query p;
	size_t n = mkquery(q, 0x1234, "web.NS.svc.cluster.local", DNS_T_A, 0);
	assert_int_equal(dns_query_parse(q, n, &p), 0);
	assert_int_equal(p.id, 0x1234);
	assert_int_equal(p.qtype, DNS_T_A);
	assert_int_equal(p.qclass, DNS_C_IN);
	assert_false(p.edns);
	assert_int_equal(dns_query_udp_limit(&p), 512);
	assert_int_equal(p.question_end, n);

	n = mkquery(q, 1, "a.b", DNS_T_AAAA, 4096);
	assert_int_equal(dns_query_parse(q, n, &p), 0);
	assert_true(p.edns);
	assert_int_equal(p.edns_size, 4096);
	assert_int_equal(dns_query_udp_limit(&p), DNS_EDNS_MAX);
	/* EDNS sizes below 512 count as 512 */
	n = mkquery(q, 1, "a.b", DNS_T_A, 100);
	assert_int_equal(dns_query_parse(q, n, &p), 0);
	assert_int_equal(dns_query_udp_limit(&p), 512);
}

static void test_query_malformed(void **state)
{
	uint8_t q[600];
	struct dns_query p;
	size_t n = mkquery(q, 7, "x.example", DNS_T_A, 0);

	/* no complete header: dropped */
	for (size_t l = 0; l < 12; l++)
		assert_int_equal(dns_query_parse(q, l, &p), -EBADMSG);
	/* a response: dropped */
	q[2] |= 0x80;
	assert_int_equal(dns_query_parse(q, n, &p), -EBADMSG);
	q[2] &= 0x7F;
	/* the question cut anywhere: FORMERR, ID kept */
	for (size_t l = 12; l < n; l++) {
		assert_int_equal(dns_query_parse(q, l, &p), DNS_R_FORMERR);
		assert_int_equal(p.id, 7);
	}
	/* QDCOUNT 0 and 2 */
	q[5] = 0;
	assert_int_equal(dns_query_parse(q, n, &p), DNS_R_FORMERR);
	q[5] = 2;
	assert_int_equal(dns_query_parse(q, n, &p), DNS_R_FORMERR);
	q[5] = 1;
	/* trailing bytes */
	q[n] = 0;
	assert_int_equal(dns_query_parse(q, n + 1, &p), DNS_R_FORMERR);
	/* an answer count with nothing behind it */
	q[7] = 1;
	assert_int_equal(dns_query_parse(q, n, &p), DNS_R_FORMERR);
	q[7] = 0;
	/* opcode STATUS (2): NOTIMP, question read */
	q[2] = 0x10;
	assert_int_equal(dns_query_parse(q, n, &p), DNS_R_NOTIMP);
	assert_true(p.have_question);
	q[2] = 0x01;
	/* QTYPE OPT */
	q[n - 3] = 41;
	assert_int_equal(dns_query_parse(q, n, &p), DNS_R_FORMERR);
	q[n - 3] = 1;

	/* two OPT records */
	n = mkquery(q, 8, "x.example", DNS_T_A, 1232);
	memcpy(q + n, q + n - 11, 11);
	q[11] = 2;
	assert_int_equal(dns_query_parse(q, n + 11, &p), DNS_R_FORMERR);
	/* OPT owned by a name other than the root */
	n = mkquery(q, 8, "x.example", DNS_T_A, 0);
	const uint8_t badopt[] = { 1, 'a', 0, 0, 41, 4, 0, 0, 0, 0, 0, 0, 0 };
	memcpy(q + n, badopt, sizeof(badopt));
	q[11] = 1;
	assert_int_equal(dns_query_parse(q, n + sizeof(badopt), &p), DNS_R_FORMERR);
	/* EDNS version 1: BADVERS */
	n = mkquery(q, 9, "x.example", DNS_T_A, 1232);
	q[n - 11 + 6] = 1;
	assert_int_equal(dns_query_parse(q, n, &p), DNS_R_BADVERS);
	assert_true(p.edns);
	/* an additional record whose RDLENGTH runs past the end */
	n = mkquery(q, 9, "x.example", DNS_T_A, 1232);
	q[n - 1] = 50;
	assert_int_equal(dns_query_parse(q, n, &p), DNS_R_FORMERR);
	/* a compression loop in the question */
	n = mkquery(q, 9, "x", DNS_T_A, 0);
	q[12] = 0xC0;
	q[13] = 12;
	assert_int_equal(dns_query_parse(q, n, &p), DNS_R_FORMERR);
}

static void test_error_answers(void **state)
{
	uint8_t q[600], out[600];
	struct dns_query p;
	struct tmsg t;
	size_t n = mkquery(q, 0xBEEF, "x.example", DNS_T_A, 1232);
	q[n - 11 + 6] = 1; /* version 1 */
	assert_int_equal(dns_query_parse(q, n, &p), DNS_R_BADVERS);
	size_t len = dns_build_error(&p, DNS_R_BADVERS, out, 512);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.id, 0xBEEF);
	assert_true(t.flags & DNS_F_QR);
	assert_true(t.flags & DNS_F_RD);
	assert_int_equal(t.rcode, 0); /* 16: low bits 0, high bits in OPT */
	assert_int_equal(t.n[3], 1);
	assert_int_equal(t.rr[2][0].type, DNS_T_OPT);
	assert_int_equal(out[len - 11 + 5], 1); /* extended rcode 16 >> 4 */
	assert_string_equal(t.qname, "x.example");

	/* FORMERR for a cut question: header only */
	n = mkquery(q, 3, "x.example", DNS_T_A, 0);
	assert_int_equal(dns_query_parse(q, n - 2, &p), DNS_R_FORMERR);
	len = dns_build_error(&p, DNS_R_FORMERR, out, 512);
	assert_int_equal(len, 12);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.rcode, DNS_R_FORMERR);
	assert_int_equal(t.n[0], 0);
}

static void test_writer_compression_case_and_limits(void **state)
{
	uint8_t q[600], out[DNS_TCP_MAX];
	struct dns_query p;
	struct dns_writer w;
	struct tmsg t;
	size_t n = mkquery(q, 5, "Web.Ns1.svc.Cluster.Local", DNS_T_SRV, 0);
	assert_int_equal(dns_query_parse(q, n, &p), 0);
	dns_writer_start(&w, out, 512, &p, DNS_F_AA);
	struct dns_name target, other;
	assert_int_equal(dns_name_from_str("web.ns1.svc.cluster.local", &target), 0);
	assert_int_equal(dns_name_from_str("x.svc.cluster.local", &other), 0);
	uint8_t ip[4] = { 10, 0, 0, 1 };
	assert_true(dns_put_addr(&w, DNS_S_ANSWER, &p.qname, 30, AF_INET, ip));
	/* owner compressed to the question: 2 + 10 + 4 bytes */
	assert_int_equal(w.len, n + 16);
	assert_int_equal(out[n], 0xC0);
	assert_int_equal(out[n + 1], 12);
	size_t before = w.len;
	assert_true(dns_put_name_rr(&w, DNS_S_ANSWER, &other, DNS_T_CNAME, 30, &target));
	/* "x" + pointer, and the CNAME target is one pointer */
	assert_int_equal(w.len, before + 2 + 2 + 10 + 2);
	before = w.len;
	assert_true(dns_put_srv(&w, DNS_S_ANSWER, &p.qname, 30, 0, 100, 80, &target));
	/* the SRV target is written in full (RFC 2782) */
	assert_int_equal(w.len, before + 2 + 10 + 6 + target.len);
	size_t len = dns_finish(&w, DNS_R_NOERROR, false);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.n[1], 3);
	/* the answer echoes the question's case */
	assert_string_equal(t.rr[0][0].name, "Web.Ns1.svc.Cluster.Local");
	assert_string_equal(t.rr[0][1].data, "Web.Ns1.svc.Cluster.Local");
	assert_string_equal(t.rr[0][2].data, "0 100 80 web.ns1.svc.cluster.local");

	/* fill 512 bytes: the record that does not fit is taken back whole */
	dns_writer_start(&w, out, 512, &p, 0);
	int added = 0;
	while (dns_put_addr(&w, DNS_S_ANSWER, &p.qname, 30, AF_INET, ip))
		added++;
	assert_true(w.overflow);
	assert_true(w.len <= 512);
	len = dns_finish(&w, DNS_R_NOERROR, w.overflow);
	assert_true(len <= 512);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.n[1], added);
	assert_true(t.flags & DNS_F_TC);

	/* with EDNS the OPT record always fits after the records */
	n = mkquery(q, 6, "a.b", DNS_T_A, 600);
	assert_int_equal(dns_query_parse(q, n, &p), 0);
	dns_writer_start(&w, out, dns_query_udp_limit(&p), &p, 0);
	while (dns_put_addr(&w, DNS_S_ANSWER, &p.qname, 30, AF_INET, ip))
		;
	len = dns_finish(&w, DNS_R_NOERROR, true);
	assert_true(len <= 600);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.rr[2][0].type, DNS_T_OPT);
	assert_string_equal(t.rr[2][0].data, "1232");
}

static void test_truncate(void **state)
{
	uint8_t q[600], out[2048];
	struct dns_query p;
	struct dns_writer w;
	size_t n = mkquery(q, 5, "big.example", DNS_T_A, 0);
	assert_int_equal(dns_query_parse(q, n, &p), 0);
	dns_writer_start(&w, out, sizeof(out), &p, 0);
	uint8_t ip[4] = { 1, 2, 3, 4 };
	for (int i = 0; i < 100; i++)
		dns_put_addr(&w, DNS_S_ANSWER, &p.qname, 30, AF_INET, ip);
	size_t len = dns_finish(&w, DNS_R_NOERROR, false);
	assert_true(len > 512);
	size_t t = dns_truncate(out, len, 512);
	assert_int_equal(t, n);
	struct tmsg m;
	assert_int_equal(tparse(out, t, &m), 0);
	assert_true(m.flags & DNS_F_TC);
	assert_int_equal(m.n[1], 0);
	assert_string_equal(m.qname, "big.example");
	assert_int_equal(dns_truncate(out, 5, 512), 0);
}

/* Header, question and records hold together (whatever the RDATA says). */
static bool well_formed(const uint8_t *m, size_t len)
{
	struct dns_name n;
	size_t pos = 12;
	if (len < 12)
		return false;
	unsigned qd = tget16(m + 4), rr = tget16(m + 6) + tget16(m + 8) + tget16(m + 10);
	for (unsigned i = 0; i < qd; i++) {
		if (dns_name_read(m, len, &pos, &n) < 0 || len - pos < 4)
			return false;
		pos += 4;
	}
	for (unsigned i = 0; i < rr; i++) {
		if (dns_name_read(m, len, &pos, &n) < 0 || len - pos < 10)
			return false;
		size_t rdlen = tget16(m + pos + 8);
		pos += 10;
		if (len - pos < rdlen)
			return false;
		pos += rdlen;
	}
	return pos == len;
}

static void test_splice(void **state)
{
	uint8_t q[600], ours[1232], up[600];
	struct dns_query p;
	struct dns_writer w;
	struct tmsg t;
	/* our answer: ext.ns.svc.cluster.local CNAME www.example.com, with OPT */
	size_t n = mkquery(q, 0x77, "Ext.ns.svc.cluster.local", DNS_T_A, 1232);
	assert_int_equal(dns_query_parse(q, n, &p), 0);
	dns_writer_start(&w, ours, 1232, &p, DNS_F_AA);
	struct dns_name target, mx;
	dns_name_from_str("www.example.com", &target);
	dns_name_from_str("mail.example.com", &mx);
	dns_put_name_rr(&w, DNS_S_ANSWER, &p.qname, DNS_T_CNAME, 5, &target);
	size_t len = dns_finish(&w, 0, false);
	/* the upstream's, compressed: www.example.com CNAME web.example.com, A */
	size_t ul = dns_build_query(up, 0x1111, &target, DNS_T_A, 0);
	struct dns_query uq;
	assert_int_equal(dns_query_parse(up, ul, &uq), 0);
	dns_writer_start(&w, up, sizeof(up), &uq, DNS_F_RA);
	dns_put_name_rr(&w, DNS_S_ANSWER, &uq.qname, DNS_T_CNAME, 300, &mx);
	uint8_t a[4] = { 192, 0, 2, 7 };
	dns_put_addr(&w, DNS_S_ANSWER, &mx, 300, AF_INET, a);
	ul = dns_finish(&w, 0, false);
	assert_true(ul < 80); /* compressed */
	uint8_t orig[1232];
	memcpy(orig, ours, len);

	size_t sl = dns_splice_answers(ours, len, 1232, up, ul);
	assert_true(sl > len);
	assert_int_equal(tparse(ours, sl, &t), 0);
	assert_int_equal(t.id, 0x77);
	assert_int_equal(t.n[1], 3);
	assert_string_equal(t.rr[0][0].data, "www.example.com");
	assert_string_equal(t.rr[0][1].name, "www.example.com");
	assert_string_equal(t.rr[0][1].data, "mail.example.com");
	assert_string_equal(t.rr[0][2].name, "mail.example.com");
	assert_string_equal(t.rr[0][2].data, "192.0.2.7");
	assert_int_equal(t.n[3], 1); /* OPT kept at the end */
	assert_int_equal(t.rr[2][0].type, DNS_T_OPT);

	/* an upstream NXDOMAIN becomes ours; a malformed one changes nothing */
	up[3] = (uint8_t)((up[3] & 0xF0) | DNS_R_NXDOMAIN);
	memcpy(ours, orig, len);
	sl = dns_splice_answers(ours, len, 1232, up, ul);
	assert_int_equal(tparse(ours, sl, &t), 0);
	assert_int_equal(t.rcode, DNS_R_NXDOMAIN);
	for (size_t cut = 12; cut < ul; cut++) {
		uint8_t copy[1232];
		memcpy(copy, orig, len);
		size_t r = dns_splice_answers(copy, len, 1232, up, cut);
		if (r == 0)
			assert_memory_equal(copy, orig, len);
		else
			assert_int_equal(tparse(copy, r, &t), 0);
	}
	/* random mutations of the upstream's answer */
	unsigned seed = 99;
	for (int it = 0; it < 50000; it++) {
		uint8_t m[600], copy[1232];
		memcpy(m, up, ul);
		for (int k = 0; k < 1 + it % 3; k++)
			m[12 + (size_t)rand_r(&seed) % (ul - 12)] = (uint8_t)rand_r(&seed);
		memcpy(copy, orig, len);
		size_t r = dns_splice_answers(copy, len, 1232, m, ul);
		if (r == 0) {
			assert_memory_equal(copy, orig, len);
		} else {
			assert_true(r <= 1232);
			assert_true(well_formed(copy, r));
		}
	}
	/* does not fit: TC, what fits kept */
	memcpy(ours, orig, len);
	sl = dns_splice_answers(ours, len, len + 20, up, ul);
	assert_int_equal(tparse(ours, sl, &t), 0);
	assert_true(t.flags & DNS_F_TC);
	assert_true(sl <= len + 20);
}

/* Random mutations of valid queries through the parser and the whole
 * answer path: nothing read or written out of bounds (ASan), every answer
 * within its limit and well-formed. */
static void test_fuzz(void **state)
{
	struct dns_db *db = dns_db_new("cluster.local", 5);
	struct dns_ip ips[1];
	dns_ip_parse("10.43.0.7", &ips[0]);
	struct dns_port port = { .name = "http", .protocol = "tcp", .port = 80 };
	struct dns_service svc = {
		.ns = "default", .name = "web", .ips = ips, .nips = 1, .ports = &port, .nports = 1
	};
	dns_db_set_service(db, &svc);
	const char *names[] = { "web.default.svc.cluster.local",
				"_http._tcp.web.default.svc.cluster.local",
				"7.0.43.10.in-addr.arpa", "a.b.c.example.org",
				"10-0-0-1.x.pod.cluster.local" };
	uint16_t types[] = { DNS_T_A, DNS_T_SRV, DNS_T_PTR, DNS_T_ANY, DNS_T_AAAA };
	unsigned seed = 12345;
	uint8_t q[700], out[DNS_EDNS_MAX];
	struct dns_query p;
	struct tmsg t;
	int ok = 0, errors = 0, dropped = 0;
	for (int it = 0; it < 200000; it++) {
		size_t n = mkquery(q, (uint16_t)it, names[it % 5], types[(it / 5) % 5],
				   (it & 8) ? 1232 : 0);
		int muts = 1 + rand_r(&seed) % 4;
		for (int k = 0; k < muts && n > 0; k++) {
			switch (rand_r(&seed) % 5) {
			case 0: /* flip a bit */
				q[rand_r(&seed) % n] ^= (uint8_t)(1u << (rand_r(&seed) % 8));
				break;
			case 1: /* a random byte */
				q[rand_r(&seed) % n] = (uint8_t)rand_r(&seed);
				break;
			case 2: /* cut */
				n = (size_t)rand_r(&seed) % (n + 1);
				break;
			case 3: /* a compression pointer somewhere */
				if (n >= 14) {
					size_t at = 12 + (size_t)rand_r(&seed) % (n - 13);
					q[at] = (uint8_t)(0xC0 | (rand_r(&seed) & 1));
					q[at + 1] = (uint8_t)rand_r(&seed);
				}
				break;
			case 4: /* garbage appended */
				if (n + 16 < sizeof(q)) {
					for (int j = 0; j < 16; j++)
						q[n + (size_t)j] = (uint8_t)rand_r(&seed);
					n += 16;
				}
				break;
			}
		}
		int r = dns_query_parse(q, n, &p);
		size_t limit = DNS_UDP_PLAIN, len = 0;
		if (r == -EBADMSG) {
			dropped++;
			continue;
		}
		limit = dns_query_udp_limit(&p);
		if (r > 0) {
			len = dns_build_error(&p, r, out, limit);
			errors++;
		} else if (dns_db_answer(db, &p, out, limit, &len, NULL) == DNS_FORWARD) {
			continue;
		}
		ok++;
		assert_true(len >= 12 && len <= limit);
		assert_int_equal(tparse(out, len, &t), 0);
		assert_int_equal(t.id, p.id);
	}
	printf("fuzz: %d answered, %d of them errors, %d dropped\n", ok, errors, dropped);
	assert_true(ok > 1000 && errors > 1000 && dropped > 100);
	dns_db_free(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_read_plain_and_compressed),
		cmocka_unit_test(test_name_read_malformed),
		cmocka_unit_test(test_query_parse),
		cmocka_unit_test(test_query_malformed),
		cmocka_unit_test(test_error_answers),
		cmocka_unit_test(test_writer_compression_case_and_limits),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_splice),
		cmocka_unit_test(test_fuzz),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
