/* SPDX-License-Identifier: Apache-2.0 */
/* Cluster DNS answers on a model of Services and EndpointSlices (no API
 * server), the objects' JSON extraction, and the server over loopback
 * (UDP, TCP, malformed packets, forwarding to a fake upstream on
 * 127.0.0.1). No packet leaves loopback. */
#include "unit.h"

#include <poll.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>

#include "dns_harness.h"
#include "net/dns.h"
#include "net/dns_db.h"

static struct dns_ip ip(const char *s)
{
	struct dns_ip r;
	assert_true(dns_ip_parse(s, &r));
	return r;
}

static void add_model(struct dns_db *db)
{
	struct dns_ip kips[] = { ip("10.43.0.1") };
	struct dns_port kp[] = { { "https", "tcp", 443 } };
	dns_db_set_service(db, &(struct dns_service){ .ns = "default",
						      .name = "kubernetes",
						      .ips = kips,
						      .nips = 1,
						      .ports = kp,
						      .nports = 1 });
	struct dns_ip wips[] = { ip("10.43.5.5") };
	struct dns_port wp[] = { { "http", "tcp", 80 }, { "", "tcp", 8080 }, { "dns", "udp", 53 } };
	dns_db_set_service(
	    db, &(struct dns_service){
		    .ns = "ns1", .name = "web", .ips = wips, .nips = 1, .ports = wp, .nports = 3 });
	struct dns_port hp[] = { { "http", "tcp", 80 } };
	dns_db_set_service(
	    db, &(struct dns_service){
		    .ns = "ns1", .name = "hl", .headless = true, .ports = hp, .nports = 1 });
	struct dns_ip a5[] = { ip("10.244.1.5") }, a6[] = { ip("10.244.1.6") },
		      a7[] = { ip("10.244.1.7") };
	struct dns_endpoint eps[] = {
		{ a5, 1, "web-0", true },
		{ a6, 1, NULL, true },
		{ a7, 1, "web-2", false },
	};
	struct dns_port sp[] = { { "http", "tcp", 8080 } };
	dns_db_set_slice(db, &(struct dns_slice){ .ns = "ns1",
						  .name = "hl-abc",
						  .service = "hl",
						  .eps = eps,
						  .neps = 3,
						  .ports = sp,
						  .nports = 1 });
	dns_db_set_service(db, &(struct dns_service){ .ns = "ns1",
						      .name = "ext",
						      .external_name = "www.example.com" });
	dns_db_set_service(
	    db, &(struct dns_service){
		    .ns = "ns1", .name = "alias", .external_name = "web.ns1.svc.cluster.local" });
	dns_db_set_service(db,
			   &(struct dns_service){ .ns = "ns1", .name = "empty", .headless = true });
}

/* Ask db; returns the result and parses the answer into t. */
static enum dns_result ask(struct dns_db *db, const char *name, uint16_t type, size_t limit,
			   struct tmsg *t)
{
	uint8_t q[600], out[DNS_TCP_MAX];
	struct dns_query p;
	size_t n = mkquery(q, 42, name, type, 0), len = 0;
	assert_int_equal(dns_query_parse(q, n, &p), 0);
	enum dns_result r = dns_db_answer(db, &p, out, limit, &len, NULL);
	if (r == DNS_ANSWERED) {
		assert_true(len <= limit);
		assert_int_equal(tparse(out, len, t), 0);
		assert_int_equal(t->id, 42);
		assert_true(t->flags & DNS_F_QR);
	}
	return r;
}

static bool has(const struct tmsg *t, int section, uint16_t type, const char *data)
{
	for (int i = 0; i < t->n[section + 1]; i++)
		if (t->rr[section][i].type == type && streq(t->rr[section][i].data, data))
			return true;
	return false;
}

static void assert_negative(const struct tmsg *t, int rcode)
{
	assert_int_equal(t->rcode, rcode);
	assert_int_equal(t->n[1], 0);
	assert_int_equal(t->n[2], 1);
	assert_int_equal(t->rr[1][0].type, DNS_T_SOA);
	assert_string_equal(t->rr[1][0].name, "cluster.local");
	assert_string_equal(t->rr[1][0].data, "ns.dns.cluster.local");
}

static void test_service_records(void **state)
{
	struct dns_db *db = dns_db_new("cluster.local", 5);
	add_model(db);
	struct tmsg t;
	assert_int_equal(ask(db, "kubernetes.default.svc.cluster.local", DNS_T_A, 512, &t),
			 DNS_ANSWERED);
	assert_int_equal(t.rcode, 0);
	assert_true(t.flags & DNS_F_AA);
	assert_int_equal(t.n[1], 1);
	assert_string_equal(t.rr[0][0].data, "10.43.0.1");
	assert_int_equal(t.rr[0][0].ttl, 5);

	/* case-insensitive, the answer in the query's case */
	assert_int_equal(ask(db, "WEB.Ns1.SVC.cluster.LOCAL", DNS_T_A, 512, &t), DNS_ANSWERED);
	assert_int_equal(t.n[1], 1);
	assert_string_equal(t.rr[0][0].name, "WEB.Ns1.SVC.cluster.LOCAL");
	assert_string_equal(t.rr[0][0].data, "10.43.5.5");

	/* an existing name, another type: NODATA with the SOA */
	ask(db, "web.ns1.svc.cluster.local", DNS_T_AAAA, 512, &t);
	assert_negative(&t, DNS_R_NOERROR);
	ask(db, "web.ns1.svc.cluster.local", DNS_T_MX, 512, &t);
	assert_negative(&t, DNS_R_NOERROR);
	/* unknown names in the zone: NXDOMAIN with the SOA */
	ask(db, "nope.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	ask(db, "web.ns2.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	ask(db, "a.b.c.d.e.web.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	ask(db, "foo.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	/* a namespace with services, and the structural names: NODATA */
	ask(db, "ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NOERROR);
	ask(db, "nosuchns.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	ask(db, "svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NOERROR);
	/* the apex SOA, the schema version */
	ask(db, "cluster.local", DNS_T_SOA, 512, &t);
	assert_int_equal(t.n[1], 1);
	assert_int_equal(t.rr[0][0].type, DNS_T_SOA);
	ask(db, "dns-version.cluster.local", DNS_T_TXT, 512, &t);
	assert_true(has(&t, 0, DNS_T_TXT, "1.1.0"));

	/* SRV for named ports only, with the address in the additional section */
	ask(db, "_http._tcp.web.ns1.svc.cluster.local", DNS_T_SRV, 512, &t);
	assert_int_equal(t.rcode, 0);
	assert_int_equal(t.n[1], 1);
	assert_string_equal(t.rr[0][0].data, "0 100 80 web.ns1.svc.cluster.local");
	assert_true(has(&t, 2, DNS_T_A, "10.43.5.5"));
	ask(db, "_dns._udp.web.ns1.svc.cluster.local", DNS_T_SRV, 512, &t);
	assert_string_equal(t.rr[0][0].data, "0 100 53 web.ns1.svc.cluster.local");
	ask(db, "_http._udp.web.ns1.svc.cluster.local", DNS_T_SRV, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	ask(db, "_http._tcp.web.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NOERROR);
	ask(db, "_tcp.web.ns1.svc.cluster.local", DNS_T_SRV, 512, &t);
	assert_negative(&t, DNS_R_NOERROR);
	ask(db, "_sctp.web.ns1.svc.cluster.local", DNS_T_SRV, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);

	/* PTR of a cluster IP */
	ask(db, "5.5.43.10.in-addr.arpa", DNS_T_PTR, 512, &t);
	assert_int_equal(t.n[1], 1);
	assert_string_equal(t.rr[0][0].data, "web.ns1.svc.cluster.local");
	/* unknown addresses and other names are not ours */
	assert_int_equal(ask(db, "9.9.43.10.in-addr.arpa", DNS_T_PTR, 512, &t), DNS_FORWARD);
	assert_int_equal(ask(db, "www.example.com", DNS_T_A, 512, &t), DNS_FORWARD);
	assert_int_equal(ask(db, "cluster.local.example.com", DNS_T_A, 512, &t), DNS_FORWARD);
	dns_db_free(db);
}

static void test_headless_externalname_pods(void **state)
{
	struct dns_db *db = dns_db_new("cluster.local.", 5);
	add_model(db);
	struct tmsg t;
	/* headless: the ready endpoints only */
	ask(db, "hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_int_equal(t.rcode, 0);
	assert_int_equal(t.n[1], 2);
	assert_true(has(&t, 0, DNS_T_A, "10.244.1.5"));
	assert_true(has(&t, 0, DNS_T_A, "10.244.1.6"));
	/* by host name, and by the dashed address when there is none */
	ask(db, "web-0.hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_int_equal(t.n[1], 1);
	assert_string_equal(t.rr[0][0].data, "10.244.1.5");
	ask(db, "10-244-1-6.hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_string_equal(t.rr[0][0].data, "10.244.1.6");
	ask(db, "web-2.hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	/* SRV: one per ready endpoint, the slice's port, targets' addresses */
	ask(db, "_http._tcp.hl.ns1.svc.cluster.local", DNS_T_SRV, 512, &t);
	assert_int_equal(t.n[1], 2);
	assert_true(has(&t, 0, DNS_T_SRV, "0 50 8080 web-0.hl.ns1.svc.cluster.local"));
	assert_true(has(&t, 0, DNS_T_SRV, "0 50 8080 10-244-1-6.hl.ns1.svc.cluster.local"));
	assert_true(has(&t, 2, DNS_T_A, "10.244.1.5"));
	assert_true(has(&t, 2, DNS_T_A, "10.244.1.6"));
	/* PTR of an endpoint */
	ask(db, "5.1.244.10.in-addr.arpa", DNS_T_PTR, 512, &t);
	assert_string_equal(t.rr[0][0].data, "web-0.hl.ns1.svc.cluster.local");
	/* headless without ready endpoints: NXDOMAIN (the specification) */
	ask(db, "empty.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);

	/* ExternalName: a CNAME; inside the zone it is followed */
	ask(db, "ext.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_int_equal(t.rcode, 0);
	assert_int_equal(t.n[1], 1);
	assert_int_equal(t.rr[0][0].type, DNS_T_CNAME);
	assert_string_equal(t.rr[0][0].data, "www.example.com");
	ask(db, "alias.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_int_equal(t.n[1], 2);
	assert_string_equal(t.rr[0][0].data, "web.ns1.svc.cluster.local");
	assert_string_equal(t.rr[0][1].name, "web.ns1.svc.cluster.local");
	assert_string_equal(t.rr[0][1].data, "10.43.5.5");
	/* with somewhere to ask, the target outside the zone is left to the server */
	{
		uint8_t q[600], out[600];
		struct dns_query p;
		struct dns_name target;
		char tn[300];
		size_t n = mkquery(q, 1, "ext.ns1.svc.cluster.local", DNS_T_A, 0), len = 0;
		assert_int_equal(dns_query_parse(q, n, &p), 0);
		assert_int_equal(dns_db_answer(db, &p, out, 512, &len, &target), DNS_CHASE);
		dns_name_to_str(&target, tn, sizeof(tn));
		assert_string_equal(tn, "www.example.com");
		assert_int_equal(tparse(out, len, &t), 0);
		assert_int_equal(t.rr[0][0].type, DNS_T_CNAME);
		/* asked for the CNAME itself: nothing to chase */
		n = mkquery(q, 1, "ext.ns1.svc.cluster.local", DNS_T_CNAME, 0);
		assert_int_equal(dns_query_parse(q, n, &p), 0);
		assert_int_equal(dns_db_answer(db, &p, out, 512, &len, &target), DNS_ANSWERED);
		/* in-zone targets are followed here */
		n = mkquery(q, 1, "alias.ns1.svc.cluster.local", DNS_T_A, 0);
		assert_int_equal(dns_query_parse(q, n, &p), 0);
		assert_int_equal(dns_db_answer(db, &p, out, 512, &len, &target), DNS_ANSWERED);
	}
	ask(db, "x.ext.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);

	/* pods: A-B-C-D.NS.pod.ZONE */
	ask(db, "10-244-3-9.anyns.pod.cluster.local", DNS_T_A, 512, &t);
	assert_int_equal(t.n[1], 1);
	assert_string_equal(t.rr[0][0].data, "10.244.3.9");
	ask(db, "10-244-3-9.anyns.pod.cluster.local", DNS_T_AAAA, 512, &t);
	assert_negative(&t, DNS_R_NOERROR);
	ask(db, "10-244-3-999.anyns.pod.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	ask(db, "10-244-3.anyns.pod.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	ask(db, "x.10-244-3-9.anyns.pod.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	dns_db_free(db);
}

static void test_updates(void **state)
{
	struct dns_db *db = dns_db_new("cluster.local", 5);
	add_model(db);
	struct tmsg t;
	assert_int_equal(dns_db_service_count(db), 6);
	/* the endpoint web-2 becomes ready; web-0 goes */
	struct dns_ip a6[] = { ip("10.244.1.6") }, a7[] = { ip("10.244.1.7") };
	struct dns_endpoint eps[] = { { a6, 1, NULL, true }, { a7, 1, "web-2", true } };
	struct dns_port sp[] = { { "http", "tcp", 8080 } };
	dns_db_set_slice(db, &(struct dns_slice){ .ns = "ns1",
						  .name = "hl-abc",
						  .service = "hl",
						  .eps = eps,
						  .neps = 2,
						  .ports = sp,
						  .nports = 1 });
	ask(db, "web-2.hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_string_equal(t.rr[0][0].data, "10.244.1.7");
	ask(db, "web-0.hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	assert_int_equal(ask(db, "5.1.244.10.in-addr.arpa", DNS_T_PTR, 512, &t), DNS_FORWARD);
	/* a second slice of the same service adds to it */
	struct dns_ip a8[] = { ip("10.244.2.8") };
	struct dns_endpoint eps2[] = { { a8, 1, "web-3", true } };
	dns_db_set_slice(db, &(struct dns_slice){ .ns = "ns1",
						  .name = "hl-def",
						  .service = "hl",
						  .eps = eps2,
						  .neps = 1,
						  .ports = sp,
						  .nports = 1 });
	ask(db, "hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_int_equal(t.n[1], 3);
	/* the slice deleted */
	dns_db_del_slice(db, "ns1", "hl-def");
	ask(db, "hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_int_equal(t.n[1], 2);
	/* the cluster IP changed: new A and PTR, old PTR gone */
	struct dns_ip nip[] = { ip("10.43.9.9") };
	dns_db_set_service(
	    db, &(struct dns_service){ .ns = "ns1", .name = "web", .ips = nip, .nips = 1 });
	ask(db, "web.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_string_equal(t.rr[0][0].data, "10.43.9.9");
	assert_int_equal(ask(db, "5.5.43.10.in-addr.arpa", DNS_T_PTR, 512, &t), DNS_FORWARD);
	ask(db, "9.9.43.10.in-addr.arpa", DNS_T_PTR, 512, &t);
	assert_string_equal(t.rr[0][0].data, "web.ns1.svc.cluster.local");
	/* the named ports went with the update */
	ask(db, "_http._tcp.web.ns1.svc.cluster.local", DNS_T_SRV, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	/* deleted: NXDOMAIN; the alias to it now answers only its CNAME */
	dns_db_del_service(db, "ns1", "web");
	ask(db, "web.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	assert_int_equal(ask(db, "9.9.43.10.in-addr.arpa", DNS_T_PTR, 512, &t), DNS_FORWARD);
	ask(db, "alias.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_int_equal(t.n[1], 1);
	/* a service deleted while its slice stays: gone; back again: served */
	dns_db_del_service(db, "ns1", "hl");
	ask(db, "hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	dns_db_set_service(db,
			   &(struct dns_service){ .ns = "ns1", .name = "hl", .headless = true });
	ask(db, "hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_int_equal(t.n[1], 2);
	/* a slice relabelled to another service moves */
	dns_db_set_slice(db, &(struct dns_slice){ .ns = "ns1",
						  .name = "hl-abc",
						  .service = "empty",
						  .eps = eps,
						  .neps = 2,
						  .ports = sp,
						  .nports = 1 });
	ask(db, "hl.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_negative(&t, DNS_R_NXDOMAIN);
	ask(db, "empty.ns1.svc.cluster.local", DNS_T_A, 512, &t);
	assert_int_equal(t.n[1], 2);
	dns_db_free(db);
}

static void test_truncation(void **state)
{
	struct dns_db *db = dns_db_new("cluster.local", 5);
	struct dns_endpoint eps[200];
	struct dns_ip addrs[200];
	char names[200][16];
	for (int i = 0; i < 200; i++) {
		char s[32];
		snprintf(s, sizeof(s), "10.244.%d.%d", i / 100, i % 100 + 1);
		addrs[i] = ip(s);
		snprintf(names[i], sizeof(names[i]), "pod-%d", i);
		eps[i] = (struct dns_endpoint){ &addrs[i], 1, names[i], true };
	}
	struct dns_port sp[] = { { "http", "tcp", 80 } };
	dns_db_set_service(db,
			   &(struct dns_service){ .ns = "big", .name = "hl", .headless = true });
	dns_db_set_slice(db, &(struct dns_slice){ .ns = "big",
						  .name = "hl-1",
						  .service = "hl",
						  .eps = eps,
						  .neps = 200,
						  .ports = sp,
						  .nports = 1 });
	struct tmsg t;
	ask(db, "hl.big.svc.cluster.local", DNS_T_A, 512, &t);
	assert_true(t.flags & DNS_F_TC);
	assert_true(t.n[1] > 10 && t.n[1] < 200);
	ask(db, "hl.big.svc.cluster.local", DNS_T_A, DNS_TCP_MAX, &t);
	assert_false(t.flags & DNS_F_TC);
	assert_int_equal(t.n[1], 200);
	/* SRV: the additional section is cut without TC when the answers fit */
	ask(db, "_http._tcp.hl.big.svc.cluster.local", DNS_T_SRV, DNS_TCP_MAX, &t);
	assert_int_equal(t.n[1], 200);
	assert_int_equal(t.n[3], 200);
	ask(db, "_http._tcp.hl.big.svc.cluster.local", DNS_T_SRV, 512, &t);
	assert_true(t.flags & DNS_F_TC);
	dns_db_free(db);
}

static void test_from_json(void **state)
{
	json_t *svc = json_loads(
	    "{\"metadata\":{\"name\":\"Web\",\"namespace\":\"ns1\"},\"spec\":{\"type\":"
	    "\"ClusterIP\",\"clusterIP\":\"10.43.1.2\",\"clusterIPs\":[\"10.43.1.2\"],"
	    "\"ports\":[{\"name\":\"http\",\"port\":80},{\"name\":\"q\",\"protocol\":\"UDP\","
	    "\"port\":53},{\"port\":9}]}}",
	    0, NULL);
	struct dns_service *s = dns_service_from_json(svc);
	assert_non_null(s);
	assert_string_equal(s->name, "web");
	assert_int_equal(s->nips, 1);
	assert_false(s->headless);
	assert_int_equal(s->nports, 3);
	assert_string_equal(s->ports[0].protocol, "tcp");
	assert_string_equal(s->ports[1].protocol, "udp");
	assert_string_equal(s->ports[2].name, "");
	dns_service_free(s);
	json_decref(svc);

	svc = json_loads("{\"metadata\":{\"name\":\"h\",\"namespace\":\"n\"},\"spec\":{"
			 "\"clusterIP\":\"None\",\"clusterIPs\":[\"None\"]}}",
			 0, NULL);
	s = dns_service_from_json(svc);
	assert_true(s->headless);
	assert_int_equal(s->nips, 0);
	dns_service_free(s);
	json_decref(svc);
	svc = json_loads("{\"metadata\":{\"name\":\"e\",\"namespace\":\"n\"},\"spec\":{\"type\":"
			 "\"ExternalName\",\"externalName\":\"db.example.org\"}}",
			 0, NULL);
	s = dns_service_from_json(svc);
	assert_string_equal(s->external_name, "db.example.org");
	dns_service_free(s);
	json_decref(svc);
	svc = json_loads("{\"metadata\":{}}", 0, NULL);
	assert_null(dns_service_from_json(svc));
	json_decref(svc);

	json_t *sl = json_loads(
	    "{\"metadata\":{\"name\":\"h-x\",\"namespace\":\"n\",\"labels\":{\"kubernetes.io/"
	    "service-name\":\"h\"}},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":["
	    "\"10.1.0.1\"],\"conditions\":{\"ready\":true},\"hostname\":\"a\"},{\"addresses\":["
	    "\"10.1.0.2\"],\"conditions\":{\"ready\":false}},{\"addresses\":[\"10.1.0.3\","
	    "\"bogus\"]}],\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}",
	    0, NULL);
	struct dns_slice *d = dns_slice_from_json(sl);
	assert_non_null(d);
	assert_string_equal(d->service, "h");
	assert_int_equal(d->neps, 3);
	assert_true(d->eps[0].ready);
	assert_string_equal(d->eps[0].hostname, "a");
	assert_false(d->eps[1].ready);
	assert_null(d->eps[1].hostname);
	assert_true(d->eps[2].ready); /* unset means ready */
	assert_int_equal(d->eps[2].naddrs, 1);
	assert_int_equal(d->ports[0].port, 8080);
	dns_slice_free(d);
	json_decref(sl);
}

/* ---- the server over loopback ---- */

static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static int sock_port(int fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);
	getsockname(fd, (struct sockaddr *)&a, &l);
	return ntohs(a.sin_port);
}

/* Send q to 127.0.0.1:port and wait up to ms for an answer; its length or 0. */
static size_t udp_ask(int fd, int port, const uint8_t *q, size_t n, uint8_t *out, int ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(sendto(fd, q, n, 0, (struct sockaddr *)&a, sizeof(a)), (ssize_t)n);
	struct pollfd pf = { fd, POLLIN, 0 };
	if (poll(&pf, 1, ms) <= 0)
		return 0;
	ssize_t k = recv(fd, out, 65535, 0);
	return k > 0 ? (size_t)k : 0;
}

static void test_server_udp_tcp(void **state)
{
	struct dns_db *db = dns_db_new("cluster.local", 5);
	add_model(db);
	struct dns_server *srv = NULL;
	struct dns_opts o = { .bind_address = "127.0.0.1", .port = 0, .threads = 2 };
	assert_int_equal(dns_server_start_db(db, &o, &srv), 0);
	int port = dns_server_port(srv);
	assert_true(port > 0);
	int fd = udp_socket();
	uint8_t q[1024], out[65536];
	struct tmsg t;

	size_t n = mkquery(q, 77, "web.ns1.svc.cluster.local", DNS_T_A, 0);
	size_t len = udp_ask(fd, port, q, n, out, 5000);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.id, 77);
	assert_string_equal(t.rr[0][0].data, "10.43.5.5");

	/* outside the zone without upstreams: SERVFAIL at once */
	n = mkquery(q, 78, "www.example.com", DNS_T_A, 0);
	uint64_t t0 = now_usec_monotonic();
	len = udp_ask(fd, port, q, n, out, 5000);
	assert_true(now_usec_monotonic() - t0 < 1000000);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.rcode, DNS_R_SERVFAIL);

	/* garbage, a response, an oversized query: no answer; still serving */
	assert_int_equal(udp_ask(fd, port, (const uint8_t *)"hello", 5, out, 200), 0);
	n = mkquery(q, 79, "web.ns1.svc.cluster.local", DNS_T_A, 0);
	q[2] |= 0x80;
	assert_int_equal(udp_ask(fd, port, q, n, out, 200), 0);
	n = mkquery(q, 80, "web.ns1.svc.cluster.local", DNS_T_A, 0);
	memset(q + n, 0, 600);
	assert_int_equal(udp_ask(fd, port, q, n + 600, out, 200), 0);
	/* malformed but with a header: FORMERR */
	n = mkquery(q, 81, "web.ns1.svc.cluster.local", DNS_T_A, 0);
	len = udp_ask(fd, port, q, n - 3, out, 5000);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.rcode, DNS_R_FORMERR);
	assert_int_equal(t.id, 81);

	/* TCP: length-prefixed, two queries on one connection, then 200 A
	 * records that would not fit in UDP */
	struct dns_ip addrs[200];
	struct dns_endpoint eps[200];
	for (int i = 0; i < 200; i++) {
		char s[32];
		snprintf(s, sizeof(s), "10.245.%d.%d", i / 100, i % 100 + 1);
		addrs[i] = ip(s);
		eps[i] = (struct dns_endpoint){ &addrs[i], 1, NULL, true };
	}
	dns_db_set_service(db,
			   &(struct dns_service){ .ns = "big", .name = "hl", .headless = true });
	dns_db_set_slice(
	    db, &(struct dns_slice){
		    .ns = "big", .name = "hl-1", .service = "hl", .eps = eps, .neps = 200 });
	int tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(tfd, (struct sockaddr *)&a, sizeof(a)), 0);
	uint8_t tq[1200];
	size_t n1 = mkquery(tq + 2, 90, "kubernetes.default.svc.cluster.local", DNS_T_A, 0);
	tq[0] = 0;
	tq[1] = (uint8_t)n1;
	size_t n2 = mkquery(tq + 4 + n1, 91, "hl.big.svc.cluster.local", DNS_T_A, 0);
	tq[2 + n1] = 0;
	tq[3 + n1] = (uint8_t)n2;
	assert_int_equal(send(tfd, tq, 4 + n1 + n2, 0), (ssize_t)(4 + n1 + n2));
	for (int k = 0; k < 2; k++) {
		uint8_t lb[2];
		assert_int_equal(recv(tfd, lb, 2, MSG_WAITALL), 2);
		size_t ml = (size_t)lb[0] << 8 | lb[1];
		assert_int_equal(recv(tfd, out, ml, MSG_WAITALL), (ssize_t)ml);
		assert_int_equal(tparse(out, ml, &t), 0);
		assert_int_equal(t.id, 90 + k);
		assert_int_equal(t.n[1], k == 0 ? 1 : 200);
		assert_false(t.flags & DNS_F_TC);
	}
	close(tfd);
	/* the same over UDP: truncated */
	n = mkquery(q, 92, "hl.big.svc.cluster.local", DNS_T_A, 0);
	len = udp_ask(fd, port, q, n, out, 5000);
	assert_true(len <= 512);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_true(t.flags & DNS_F_TC);

	close(fd);
	dns_server_stop(srv);
	dns_db_free(db);
}

/* A fake upstream on 127.0.0.1: answers queries for "answer.me" with
 * 192.0.2.1 and ignores everything else. */
struct fake_upstream {
	int fd;
	volatile bool stop;
	int seen;
	pthread_t thread;
};

static void *upstream_thread(void *arg)
{
	struct fake_upstream *u = arg;
	while (!u->stop) {
		struct pollfd pf = { u->fd, POLLIN, 0 };
		if (poll(&pf, 1, 50) <= 0)
			continue;
		uint8_t b[1024];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(u->fd, b, sizeof(b), 0, (struct sockaddr *)&from, &fl);
		if (n < 12)
			continue;
		__atomic_add_fetch(&u->seen, 1, __ATOMIC_SEQ_CST);
		struct dns_query q;
		if (dns_query_parse(b, (size_t)n, &q) != 0)
			continue;
		char name[300];
		dns_name_to_str(&q.qname, name, sizeof(name));
		if (strcasecmp(name, "answer.me") != 0)
			continue;
		uint8_t out[600];
		struct dns_writer w;
		dns_writer_start(&w, out, sizeof(out), &q, DNS_F_RA);
		uint8_t a[4] = { 192, 0, 2, 1 };
		dns_put_addr(&w, DNS_S_ANSWER, &q.qname, 60, AF_INET, a);
		size_t len = dns_finish(&w, 0, false);
		sendto(u->fd, out, len, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void test_server_forwarding(void **state)
{
	struct fake_upstream u = { .fd = udp_socket() };
	pthread_create(&u.thread, NULL, upstream_thread, &u);
	char up[64];
	snprintf(up, sizeof(up), "127.0.0.1:%d", sock_port(u.fd));
	char *ups[] = { up, NULL };
	struct dns_db *db = dns_db_new("cluster.local", 5);
	add_model(db);
	struct dns_server *srv = NULL;
	struct dns_opts o = { .bind_address = "127.0.0.1",
			      .upstreams = ups,
			      .threads = 1,
			      .forward_timeout_ms = 200 };
	assert_int_equal(dns_server_start_db(db, &o, &srv), 0);
	int port = dns_server_port(srv);
	int fd = udp_socket();
	uint8_t q[600], out[65536];
	struct tmsg t;

	size_t n = mkquery(q, 0x4242, "Answer.Me", DNS_T_A, 0);
	size_t len = udp_ask(fd, port, q, n, out, 5000);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.id, 0x4242);
	assert_int_equal(t.rcode, 0);
	assert_string_equal(t.rr[0][0].data, "192.0.2.1");
	/* cluster names are not forwarded */
	int seen = __atomic_load_n(&u.seen, __ATOMIC_SEQ_CST);
	n = mkquery(q, 5, "web.ns1.svc.cluster.local", DNS_T_A, 0);
	len = udp_ask(fd, port, q, n, out, 5000);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(__atomic_load_n(&u.seen, __ATOMIC_SEQ_CST), seen);
	/* an upstream that does not answer: SERVFAIL after the timeout */
	n = mkquery(q, 6, "silent.example", DNS_T_A, 0);
	uint64_t t0 = now_usec_monotonic();
	len = udp_ask(fd, port, q, n, out, 5000);
	uint64_t took = now_usec_monotonic() - t0;
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.id, 6);
	assert_int_equal(t.rcode, DNS_R_SERVFAIL);
	assert_true(took >= 150000 && took < 3000000);
	/* an ExternalName to a name outside: the CNAME, then the upstream's
	 * records for the target */
	dns_db_set_service(
	    db, &(struct dns_service){ .ns = "ns1", .name = "far", .external_name = "answer.me" });
	dns_db_set_service(db, &(struct dns_service){ .ns = "ns1",
						      .name = "mute",
						      .external_name = "silent.example" });
	n = mkquery(q, 8, "Far.ns1.svc.cluster.local", DNS_T_A, 1232);
	len = udp_ask(fd, port, q, n, out, 5000);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.id, 8);
	assert_int_equal(t.rcode, 0);
	assert_int_equal(t.n[1], 2);
	assert_string_equal(t.rr[0][0].name, "Far.ns1.svc.cluster.local");
	assert_string_equal(t.rr[0][0].data, "answer.me");
	assert_int_equal(t.rr[0][1].type, DNS_T_A);
	assert_string_equal(t.rr[0][1].data, "192.0.2.1");
	assert_int_equal(t.rr[2][0].type, DNS_T_OPT);
	/* the target's upstream does not answer: the CNAME alone */
	n = mkquery(q, 9, "mute.ns1.svc.cluster.local", DNS_T_A, 0);
	len = udp_ask(fd, port, q, n, out, 5000);
	assert_int_equal(tparse(out, len, &t), 0);
	assert_int_equal(t.id, 9);
	assert_int_equal(t.n[1], 1);
	assert_string_equal(t.rr[0][0].data, "silent.example");

	/* over TCP the forward is made synchronously */
	int tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(tfd, (struct sockaddr *)&a, sizeof(a)), 0);
	n = mkquery(q + 2, 7, "answer.me", DNS_T_A, 0);
	q[0] = 0;
	q[1] = (uint8_t)n;
	assert_int_equal(send(tfd, q, n + 2, 0), (ssize_t)n + 2);
	uint8_t lb[2];
	assert_int_equal(recv(tfd, lb, 2, MSG_WAITALL), 2);
	size_t ml = (size_t)lb[0] << 8 | lb[1];
	assert_int_equal(recv(tfd, out, ml, MSG_WAITALL), (ssize_t)ml);
	assert_int_equal(tparse(out, ml, &t), 0);
	assert_string_equal(t.rr[0][0].data, "192.0.2.1");
	n = mkquery(q + 2, 10, "far.ns1.svc.cluster.local", DNS_T_A, 0);
	q[0] = 0;
	q[1] = (uint8_t)n;
	assert_int_equal(send(tfd, q, n + 2, 0), (ssize_t)n + 2);
	assert_int_equal(recv(tfd, lb, 2, MSG_WAITALL), 2);
	ml = (size_t)lb[0] << 8 | lb[1];
	assert_int_equal(recv(tfd, out, ml, MSG_WAITALL), (ssize_t)ml);
	assert_int_equal(tparse(out, ml, &t), 0);
	assert_int_equal(t.n[1], 2);
	assert_string_equal(t.rr[0][1].data, "192.0.2.1");
	close(tfd);

	close(fd);
	dns_server_stop(srv);
	dns_db_free(db);
	u.stop = true;
	pthread_join(u.thread, NULL);
	close(u.fd);
}

static void test_server_bad_options(void **state)
{
	struct dns_db *db = dns_db_new("cluster.local", 5);
	struct dns_server *srv = NULL;
	assert_int_equal(
	    dns_server_start_db(db, &(struct dns_opts){ .bind_address = "nowhere" }, &srv),
	    -EINVAL);
	char *ups[] = { "300.1.1.1", NULL };
	assert_int_equal(
	    dns_server_start_db(
		db, &(struct dns_opts){ .bind_address = "127.0.0.1", .upstreams = ups }, &srv),
	    -EINVAL);
	assert_int_equal(
	    dns_server_start_db(
		db, &(struct dns_opts){ .bind_address = "127.0.0.1", .port = 70000 }, &srv),
	    -EINVAL);
	/* a port some other socket holds */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(
	    dns_server_start_db(
		db, &(struct dns_opts){ .bind_address = "127.0.0.1", .port = sock_port(fd) }, &srv),
	    -EADDRINUSE);
	assert_null(srv);
	close(fd);
	dns_db_free(db);
}

static void test_resolv_conf(void **state)
{
	char path[] = "/tmp/test-dns-resolv.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "# comment\nsearch a.b\nnameserver 192.0.2.53\nnameserver  ::1 # x\n"
			   "nameserverx 1.1.1.1\nnameserver bogus\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char **v = dns_resolv_conf_nameservers(path);
	assert_string_equal(v[0], "192.0.2.53");
	assert_string_equal(v[1], "[::1]:53");
	assert_null(v[2]);
	strv_freep(&v);
	unlink(path);
	v = dns_resolv_conf_nameservers("/nonexistent/resolv.conf");
	assert_null(v[0]);
	strv_freep(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_service_records),
		cmocka_unit_test(test_headless_externalname_pods),
		cmocka_unit_test(test_updates),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_from_json),
		cmocka_unit_test(test_server_udp_tcp),
		cmocka_unit_test(test_server_forwarding),
		cmocka_unit_test(test_server_bad_options),
		cmocka_unit_test(test_resolv_conf),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
