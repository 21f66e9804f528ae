/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service proxy's model -> nftables layer: parsing Services and
 * EndpointSlices, the rendered ruleset for each feature, incremental
 * updates touching only the changed Service, and (as root) that the kernel
 * accepts the full and incremental transactions, in a network namespace
 * this test makes for itself (never the host's ruleset).
 */
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sched.h>

#include "unit.h"

#include "lib/json.h"
#include "lib/strbuf.h"
#include "net/proxy_nft.h"
#include "net/proxy_rules.h"

static struct proxy_service *svc(const char *json)
{
	json_error_t e;
	_cleanup_json_ json_t *j = json_loads(json, 0, &e);
	assert_non_null(j);
	struct proxy_service *s = NULL;
	_cleanup_free_ char *err = NULL;
	assert_int_equal(proxy_service_parse(j, &s, &err), 0);
	return s;
}

static struct proxy_slice *slice(const char *json)
{
	json_error_t e;
	_cleanup_json_ json_t *j = json_loads(json, 0, &e);
	assert_non_null(j);
	struct proxy_slice *s = NULL;
	_cleanup_free_ char *err = NULL;
	assert_int_equal(proxy_slice_parse(j, &s, &err), 0);
	assert_non_null(s);
	return s;
}

#define SVC(NAME, SPEC, STATUS)                                                          \
	"{\"metadata\":{\"namespace\":\"default\",\"name\":\"" NAME "\"},\"spec\":" SPEC \
	",\"status\":" STATUS "}"
#define SLICE(SVCNAME, PORTS, EPS)                                                        \
	"{\"metadata\":{\"namespace\":\"default\",\"name\":\"" SVCNAME "-x\",\"labels\":" \
	"{\"kubernetes.io/service-name\":\"" SVCNAME                                      \
	"\"}},\"addressType\":\"IPv4\",\"ports\":" PORTS ",\"endpoints\":" EPS "}"
#define EP(IP, NODE) \
	"{\"addresses\":[\"" IP "\"],\"conditions\":{\"ready\":true},\"nodeName\":\"" NODE "\"}"
#define EP_TERM(IP, NODE)                                                               \
	"{\"addresses\":[\"" IP "\"],\"conditions\":{\"ready\":false,\"serving\":true," \
	"\"terminating\":true},\"nodeName\":\"" NODE "\"}"

static void rules_init(struct proxy_rules *r)
{
	struct proxy_rules_config c = { .table = "c8s",
					.node_name = "n1",
					.cluster_cidr = "10.42.0.0/16",
					.dns_ip = "10.43.0.10" };
	_cleanup_free_ char *err = NULL;
	assert_int_equal(proxy_rules_init(r, &c, &err), 0);
}

/* Render one Service with one slice from scratch. */
static char *render1(struct proxy_rules *r, const char *svc_json, const char *slice_json)
{
	struct proxy_service *s = svc(svc_json);
	struct proxy_slice *sl = slice_json ? slice(slice_json) : NULL;
	const struct proxy_slice *v[1] = { sl };
	struct strbuf out = STRBUF_INIT;
	char key[128];
	snprintf(key, sizeof(key), "%s/%s", s->ns, s->name);
	proxy_rules_service(r, key, s, v, sl ? 1 : 0, &out);
	proxy_service_free(s);
	proxy_slice_free(sl);
	strbuf_addstr(&out, "");
	return strbuf_detach(&out, NULL);
}

#define HAS(text, s)                                                       \
	do {                                                               \
		if (!strstr((text), (s)))                                  \
			fail_msg("missing: %s\n--- in:\n%s", (s), (text)); \
	} while (0)
#define HASNT(text, s)                                                        \
	do {                                                                  \
		if (strstr((text), (s)))                                      \
			fail_msg("unexpected: %s\n--- in:\n%s", (s), (text)); \
	} while (0)

static const char WEB[] =
    SVC("web",
	"{\"type\":\"NodePort\",\"clusterIP\":\"10.43.0.20\",\"ports\":[{\"name\":"
	"\"http\",\"port\":80,\"protocol\":\"TCP\",\"nodePort\":30080}]}",
	"{}");
static const char WEB_EPS[] =
    SLICE("web", "[{\"name\":\"http\",\"port\":8080}]",
	  "[" EP("10.42.1.3", "n2") "," EP("10.42.1.2", "n1") "," EP_TERM("10.42.1.4", "n1") "]");

static void test_parse(void **state)
{
	struct proxy_service *s =
	    svc(SVC("lb",
		    "{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.43.0.5\","
		    "\"externalIPs\":[\"192.0.2.7\"],\"ports\":[{\"port\":53,"
		    "\"protocol\":\"UDP\",\"nodePort\":31000}],"
		    "\"sessionAffinity\":\"ClientIP\","
		    "\"externalTrafficPolicy\":\"Local\"}",
		    "{\"loadBalancer\":{\"ingress\":[{\"ip\":\"172.30.0.100\"},"
		    "{\"hostname\":\"x\"}]}}"));
	assert_string_equal(s->cluster_ip, "10.43.0.5");
	assert_int_equal(s->nexternal_ips, 2);
	assert_string_equal(s->external_ips[0], "192.0.2.7");
	assert_string_equal(s->external_ips[1], "172.30.0.100");
	assert_int_equal(s->ports[0].proto, PROXY_UDP);
	assert_int_equal(s->ports[0].node_port, 31000);
	assert_true(s->affinity);
	assert_int_equal(s->affinity_timeout, 10800); /* the default */
	assert_true(s->ext_local);
	proxy_service_free(s);

	s = svc(SVC("h", "{\"clusterIP\":\"None\",\"ports\":[{\"port\":80}]}", "{}"));
	assert_null(s->cluster_ip);
	proxy_service_free(s);
	s = svc(SVC("x", "{\"type\":\"ExternalName\",\"externalName\":\"a.example\"}", "{}"));
	assert_null(s->cluster_ip);
	proxy_service_free(s);
	/* a ClusterIP Service ignores nodePort */
	s = svc(SVC("c",
		    "{\"clusterIP\":\"10.43.0.9\",\"ports\":[{\"port\":1,\"nodePort\":30001}]}",
		    "{}"));
	assert_int_equal(s->ports[0].node_port, 0);
	proxy_service_free(s);

	/* Bad input: clear errors. */
	const char *bad[] = {
		SVC("b",
		    "{\"clusterIP\":\"10.43.0.9\",\"ports\":[{\"port\":80,\"protocol\":\"ICMP\"}]}",
		    "{}"),
		SVC("b", "{\"clusterIP\":\"10.43.0.9\",\"ports\":[{\"port\":70000}]}", "{}"),
		SVC("b", "{\"clusterIP\":\"10.43.0.9\",\"ports\":[{\"name\":\"a b\",\"port\":1}]}",
		    "{}"),
		SVC("B;drop", "{\"clusterIP\":\"10.43.0.9\"}", "{}"),
		SVC("b",
		    "{\"clusterIP\":\"10.43.0.9\",\"sessionAffinity\":\"ClientIP\","
		    "\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":0}}}",
		    "{}"),
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_json_ json_t *j = json_loads(bad[i], 0, NULL);
		_cleanup_free_ char *err = NULL;
		s = NULL;
		assert_int_equal(proxy_service_parse(j, &s, &err), -EINVAL);
		assert_null(s);
		assert_non_null(strstr(err, "service \"default/"));
	}

	struct proxy_slice *sl = slice(WEB_EPS);
	assert_string_equal(sl->service, "web");
	assert_int_equal(sl->neps, 3);
	assert_true(sl->eps[0].ready && sl->eps[0].serving && !sl->eps[0].terminating);
	assert_true(!sl->eps[2].ready && sl->eps[2].serving && sl->eps[2].terminating);
	assert_string_equal(sl->ports[0].name, "http");
	proxy_slice_free(sl);

	/* Not ours: IPv6, no service label. */
	const char *skip[] = {
		"{\"metadata\":{\"namespace\":\"d\",\"name\":\"s\",\"labels\":{\"kubernetes.io/"
		"service-name\":\"a\"}},\"addressType\":\"IPv6\"}",
		"{\"metadata\":{\"namespace\":\"d\",\"name\":\"s\"},\"addressType\":\"IPv4\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(skip); i++) {
		_cleanup_json_ json_t *j = json_loads(skip[i], 0, NULL);
		_cleanup_free_ char *err = NULL;
		sl = (void *)1;
		assert_int_equal(proxy_slice_parse(j, &sl, &err), 0);
		assert_null(sl);
	}
	_cleanup_json_ json_t *j =
	    json_loads(SLICE("web", "[]", "[{\"addresses\":[\"10.42.1.999\"]}]"), 0, NULL);
	_cleanup_free_ char *err = NULL;
	assert_int_equal(proxy_slice_parse(j, &sl, &err), -EINVAL);
	assert_non_null(strstr(err, "bad address"));
}

static void test_base_and_clusterip(void **state)
{
	struct proxy_rules r;
	rules_init(&r);
	_cleanup_strbuf_ struct strbuf base = STRBUF_INIT;
	proxy_rules_full_begin(&r, &base);
	const char *b = strbuf_str(&base);
	HAS(b, "add table ip c8s\ndelete table ip c8s\nadd table ip c8s\n");
	HAS(b, "add map ip c8s service-ips { type ipv4_addr . inet_proto . inet_service : verdict "
	       "; }");
	HAS(b, "add rule ip c8s services ip daddr . meta l4proto . th dport vmap @service-ips");
	HAS(b,
	    "add rule ip c8s services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . "
	    "th dport vmap @service-nodeports");
	HAS(b, "type nat hook prerouting priority -100");
	HAS(b, "type nat hook output priority -100");
	HAS(b, "masquerade fully-random");
	HAS(b, "add rule ip c8s reject-chain meta l4proto tcp reject with tcp reset");
	HAS(b, "reject with icmp type port-unreachable");

	_cleanup_free_ char *t = render1(&r, WEB, WEB_EPS);
	/* ClusterIP dispatch, random over the two ready endpoints, not the
	 * terminating one. */
	HAS(t, "add element ip c8s service-ips { 10.43.0.20 . tcp . 80 : goto "
	       "service-default/web/tcp/80 }");
	HAS(t, "add rule ip c8s service-default/web/tcp/80 ip saddr != 10.42.0.0/16 jump "
	       "mark-for-masquerade\n");
	HAS(t, "add rule ip c8s service-default/web/tcp/80 meta l4proto tcp dnat ip to numgen "
	       "random mod 2 map { 0 : 10.42.1.2 . 8080, 1 : 10.42.1.3 . 8080 }\n");
	HASNT(t, "10.42.1.4");
	/* Hairpin: the Service's own backends calling it are masqueraded. */
	HAS(t, "add rule ip c8s service-default/web/tcp/80 ip saddr { 10.42.1.2, 10.42.1.3 } jump "
	       "mark-for-masquerade\n");
	/* Without affinity, no chain per endpoint. */
	HASNT(t, "endpoint-");
	/* NodePort, policy Cluster: masquerade, then the cluster-wide chain. */
	HAS(t, "add element ip c8s service-nodeports { tcp . 30080 : goto "
	       "external-default/web/tcp/80 }");
	HAS(t, "add rule ip c8s external-default/web/tcp/80 jump mark-for-masquerade\n"
	       "add rule ip c8s external-default/web/tcp/80 goto service-default/web/tcp/80\n");
	HASNT(t, "affinity");
	assert_int_equal(proxy_rules_count(&r), 1);
	proxy_rules_release(&r);
}

static void test_fallback_and_noendpoints(void **state)
{
	struct proxy_rules r;
	rules_init(&r);
	/* Only a serving, terminating endpoint: used (like kube-proxy). */
	_cleanup_free_ char *t =
	    render1(&r, SVC("t", "{\"clusterIP\":\"10.43.0.30\",\"ports\":[{\"port\":80}]}", "{}"),
		    SLICE("t", "[{\"port\":80}]", "[" EP_TERM("10.42.1.9", "n2") "]"));
	HAS(t, "add rule ip c8s service-default/t/tcp/80 meta l4proto tcp dnat to 10.42.1.9:80\n");

	/* No endpoints at all: rejected, for the cluster IP, the LB address and
	 * the node port; nothing DNATed. */
	_cleanup_free_ char *e = render1(
	    &r,
	    SVC("e",
		"{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.43.0.31\",\"ports\":[{\"port\":53,"
		"\"protocol\":\"UDP\",\"nodePort\":30053}]}",
		"{\"loadBalancer\":{\"ingress\":[{\"ip\":\"172.30.0.100\"}]}}"),
	    NULL);
	HAS(e, "add element ip c8s no-endpoint-services { 10.43.0.31 . udp . 53 : goto "
	       "reject-chain }");
	HAS(e, "add element ip c8s no-endpoint-services { 172.30.0.100 . udp . 53 : goto "
	       "reject-chain }");
	HAS(e, "add element ip c8s no-endpoint-nodeports { udp . 30053 : goto reject-chain }");
	HASNT(e, "add chain");
	HASNT(e, "service-ips");

	/* A not-ready endpoint only: rejected too. */
	_cleanup_free_ char *n =
	    render1(&r, SVC("n", "{\"clusterIP\":\"10.43.0.32\",\"ports\":[{\"port\":80}]}", "{}"),
		    SLICE("n", "[{\"port\":80}]",
			  "[{\"addresses\":[\"10.42.1.8\"],\"conditions\":{\"ready\":false}}]"));
	HAS(n, "no-endpoint-services { 10.43.0.32 . tcp . 80 : goto reject-chain }");

	/* Headless, ExternalName and the DNS address: nothing at all. */
	_cleanup_free_ char *h =
	    render1(&r, SVC("h", "{\"clusterIP\":\"None\",\"ports\":[{\"port\":80}]}", "{}"),
		    SLICE("h", "[{\"port\":80}]", "[" EP("10.42.1.2", "n1") "]"));
	assert_string_equal(h, "");
	_cleanup_free_ char *x = render1(
	    &r, SVC("x", "{\"type\":\"ExternalName\",\"externalName\":\"a.example\"}", "{}"), NULL);
	assert_string_equal(x, "");
	_cleanup_free_ char *d = render1(
	    &r,
	    SVC("dns",
		"{\"clusterIP\":\"10.43.0.10\",\"ports\":[{\"port\":53,\"protocol\":\"UDP\"}]}",
		"{}"),
	    SLICE("dns", "[{\"port\":53,\"protocol\":\"UDP\"}]", "[" EP("10.42.1.2", "n1") "]"));
	HASNT(d, "10.43.0.10");
	HASNT(d, "no-endpoint");
	proxy_rules_release(&r);
}

static void test_affinity_local_sctp(void **state)
{
	struct proxy_rules r;
	rules_init(&r);
	_cleanup_free_ char *a =
	    render1(&r,
		    SVC("s",
			"{\"clusterIP\":\"10.43.0.21\",\"ports\":[{\"port\":80}],"
			"\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":{"
			"\"timeoutSeconds\":60}}}",
			"{}"),
		    SLICE("s", "[{\"port\":8080}]",
			  "[" EP("10.42.1.2", "n1") "," EP("10.42.1.3", "n2") "]"));
	HAS(a, "add set ip c8s affinity-default/s/tcp/80__10.42.1.2/8080 { type ipv4_addr ; flags "
	       "dynamic,timeout ; timeout 60s ; }");
	HAS(a, "add rule ip c8s service-default/s/tcp/80 ip saddr @affinity-default/s/tcp/"
	       "80__10.42.1.3/8080 goto endpoint-default/s/tcp/80__10.42.1.3/8080\n");
	HAS(a, "add rule ip c8s endpoint-default/s/tcp/80__10.42.1.2/8080 update "
	       "@affinity-default/s/tcp/80__10.42.1.2/8080 { ip saddr }\n");
	/* affinity rules come before the random pick */
	assert_true(strstr(a, "ip saddr @affinity-") < strstr(a, "numgen random"));

	/* externalTrafficPolicy Local: pods and the node go cluster-wide;
	 * others only to this node's endpoints (n1), not masqueraded. */
	_cleanup_free_ char *l = render1(
	    &r,
	    SVC("l",
		"{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.43.0.40\",\"ports\":[{\"port\":80,"
		"\"nodePort\":30040}],\"externalTrafficPolicy\":\"Local\"}",
		"{\"loadBalancer\":{\"ingress\":[{\"ip\":\"172.30.0.101\"}]}}"),
	    SLICE("l", "[{\"port\":8080}]",
		  "[" EP("10.42.1.2", "n1") "," EP("10.42.2.2", "n2") "]"));
	HAS(l, "add rule ip c8s external-default/l/tcp/80 ip saddr 10.42.0.0/16 goto "
	       "service-default/l/tcp/80\n"
	       "add rule ip c8s external-default/l/tcp/80 fib saddr type local jump "
	       "mark-for-masquerade\n"
	       "add rule ip c8s external-default/l/tcp/80 fib saddr type local goto "
	       "service-default/l/tcp/80\n"
	       "add rule ip c8s external-default/l/tcp/80 goto local-default/l/tcp/80\n");
	HAS(l, "add rule ip c8s local-default/l/tcp/80 meta l4proto tcp dnat to 10.42.1.2:8080\n");
	HAS(l, "numgen random mod 2"); /* the cluster-wide chain still has both */
	HAS(l, "add element ip c8s service-ips { 172.30.0.101 . tcp . 80 : goto "
	       "external-default/l/tcp/80 }");
	HAS(l, "add element ip c8s service-nodeports { tcp . 30040 : goto "
	       "external-default/l/tcp/80 }");
	HASNT(l, "add rule ip c8s local-default/l/tcp/80 jump mark-for-masquerade");

	/* Local with no endpoint on this node: external traffic dropped. */
	_cleanup_free_ char *d = render1(
	    &r,
	    SVC("d",
		"{\"type\":\"NodePort\",\"clusterIP\":\"10.43.0.41\",\"ports\":[{\"port\":80,"
		"\"nodePort\":30041}],\"externalTrafficPolicy\":\"Local\"}",
		"{}"),
	    SLICE("d", "[{\"port\":8080}]", "[" EP("10.42.2.2", "n2") "]"));
	HAS(d, "add rule ip c8s external-default/d/tcp/80 drop\n");
	HASNT(d, "local-default/d");

	/* SCTP, and a port matched by name and protocol. */
	_cleanup_free_ char *s = render1(
	    &r,
	    SVC("sc",
		"{\"clusterIP\":\"10.43.0.50\",\"ports\":[{\"name\":\"a\",\"port\":9,\"protocol\":"
		"\"SCTP\"},{\"name\":\"b\",\"port\":9,\"protocol\":\"UDP\"}]}",
		"{}"),
	    SLICE("sc",
		  "[{\"name\":\"a\",\"port\":99,\"protocol\":\"SCTP\"},{\"name\":\"b\",\"port\":98,"
		  "\"protocol\":\"UDP\"}]",
		  "[" EP("10.42.1.2", "n1") "]"));
	HAS(s, "add element ip c8s service-ips { 10.43.0.50 . sctp . 9 : goto "
	       "service-default/sc/sctp/9 }");
	HAS(s, "meta l4proto sctp dnat to 10.42.1.2:99\n");
	HAS(s, "meta l4proto udp dnat to 10.42.1.2:98\n");
	proxy_rules_release(&r);
}

/* A three-Service model kept by the test, rendered fully, then changed. */
struct model {
	struct proxy_service *s[3];
	struct proxy_slice *sl[3];
};

static void model_render(struct proxy_rules *r, struct model *m, int i, struct strbuf *out)
{
	static const char *const keys[] = { "default/web", "default/s", "default/t" };
	const struct proxy_slice *v[1] = { m->sl[i] };
	proxy_rules_service(r, keys[i], m->s[i], v, m->sl[i] ? 1 : 0, out);
}

static void model_release(struct model *m)
{
	for (int i = 0; i < 3; i++) {
		proxy_service_free(m->s[i]);
		proxy_slice_free(m->sl[i]);
	}
}

static const char S_AFF[] = SVC("s",
				"{\"clusterIP\":\"10.43.0.21\",\"ports\":[{\"port\":80}],"
				"\"sessionAffinity\":\"ClientIP\"}",
				"{}");
static const char S_EPS[] = SLICE("s", "[{\"port\":8080}]", "[" EP("10.42.1.2", "n1") "]");
static const char T[] = SVC("t", "{\"clusterIP\":\"10.43.0.30\",\"ports\":[{\"port\":80}]}", "{}");

static void model_init(struct model *m)
{
	m->s[0] = svc(WEB);
	m->sl[0] = slice(WEB_EPS);
	m->s[1] = svc(S_AFF);
	m->sl[1] = slice(S_EPS);
	m->s[2] = svc(T);
	m->sl[2] = NULL;
}

static void full(struct proxy_rules *r, struct model *m, struct strbuf *out)
{
	proxy_rules_full_begin(r, out);
	for (int i = 0; i < 3; i++)
		model_render(r, m, i, out);
}

static void test_incremental(void **state)
{
	struct proxy_rules r;
	rules_init(&r);
	struct model m;
	model_init(&m);
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	full(&r, &m, &out);
	assert_int_equal(proxy_rules_count(&r), 3);

	/* Nothing changed: nothing to do. */
	strbuf_reset(&out);
	for (int i = 0; i < 3; i++)
		assert_false(({
			model_render(&r, &m, i, &out);
			out.len > 0;
		}));

	/* web gets a third ready endpoint: only web's chains and elements. */
	proxy_slice_free(m.sl[0]);
	m.sl[0] = slice(SLICE(
	    "web", "[{\"name\":\"http\",\"port\":8080}]",
	    "[" EP("10.42.1.3", "n2") "," EP("10.42.1.2", "n1") "," EP("10.42.1.5", "n2") "]"));
	strbuf_reset(&out);
	model_render(&r, &m, 0, &out);
	const char *t = strbuf_str(&out);
	assert_string_equal(
	    t, "flush chain ip c8s service-default/web/tcp/80\n"
	       "add rule ip c8s service-default/web/tcp/80 ip saddr != 10.42.0.0/16 "
	       "jump mark-for-masquerade\n"
	       "add rule ip c8s service-default/web/tcp/80 ip saddr { 10.42.1.2, "
	       "10.42.1.3, 10.42.1.5 } jump mark-for-masquerade\n"
	       "add rule ip c8s service-default/web/tcp/80 meta l4proto tcp dnat ip to "
	       "numgen random mod 3 map { 0 : 10.42.1.2 . 8080, 1 : 10.42.1.3 . 8080, "
	       "2 : 10.42.1.5 . 8080 }\n");

	/* t gets its first endpoint: from reject to DNAT. */
	m.sl[2] = slice(SLICE("t", "[{\"port\":80}]", "[" EP("10.42.1.7", "n1") "]"));
	strbuf_reset(&out);
	model_render(&r, &m, 2, &out);
	t = strbuf_str(&out);
	HAS(t, "delete element ip c8s no-endpoint-services { 10.43.0.30 . tcp . 80 }\n");
	HAS(t, "add element ip c8s service-ips { 10.43.0.30 . tcp . 80 : goto "
	       "service-default/t/tcp/80 }\n");
	HASNT(t, "web");
	HASNT(t, "default/s/");
	HASNT(t, "table");

	/* s's affinity timeout changes: the set is replaced, its chains
	 * rewritten after a flush. */
	proxy_service_free(m.s[1]);
	m.s[1] =
	    svc(SVC("s",
		    "{\"clusterIP\":\"10.43.0.21\",\"ports\":[{\"port\":80}],"
		    "\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":{"
		    "\"timeoutSeconds\":30}}}",
		    "{}"));
	strbuf_reset(&out);
	model_render(&r, &m, 1, &out);
	t = strbuf_str(&out);
	const char *flush =
	    strstr(t, "flush chain ip c8s endpoint-default/s/tcp/80__10.42.1.2/8080");
	const char *del =
	    strstr(t, "delete set ip c8s affinity-default/s/tcp/80__10.42.1.2/8080\n");
	const char *add = strstr(t, "add set ip c8s affinity-default/s/tcp/80__10.42.1.2/8080 { "
				    "type ipv4_addr ; flags dynamic,timeout ; timeout 30s ; }");
	const char *rule =
	    strstr(t, "add rule ip c8s endpoint-default/s/tcp/80__10.42.1.2/8080 update");
	assert_true(flush && del && add && rule);
	assert_true(flush < del && del < add && add < rule);
	HASNT(t, "web");

	/* s is deleted: everything of it goes, references first. */
	proxy_service_free(m.s[1]);
	m.s[1] = NULL;
	strbuf_reset(&out);
	model_render(&r, &m, 1, &out);
	t = strbuf_str(&out);
	assert_string_equal(t, "flush chain ip c8s endpoint-default/s/tcp/80__10.42.1.2/8080\n"
			       "flush chain ip c8s service-default/s/tcp/80\n"
			       "delete set ip c8s affinity-default/s/tcp/80__10.42.1.2/8080\n"
			       "delete element ip c8s service-ips { 10.43.0.21 . tcp . 80 }\n"
			       "delete chain ip c8s endpoint-default/s/tcp/80__10.42.1.2/8080\n"
			       "delete chain ip c8s service-default/s/tcp/80\n");
	assert_int_equal(proxy_rules_count(&r), 2);
	model_release(&m);
	proxy_rules_release(&r);
}

static void test_claims(void **state)
{
	struct proxy_rules r;
	rules_init(&r);
	/* Two Services claiming the same address and port (invalid, but it
	 * must not break the transaction): the first keeps it. */
	_cleanup_free_ char *a = render1(
	    &r, SVC("a", "{\"clusterIP\":\"10.43.0.60\",\"ports\":[{\"port\":80}]}", "{}"), NULL);
	HAS(a, "10.43.0.60 . tcp . 80");
	_cleanup_free_ char *b = render1(
	    &r,
	    SVC("b",
		"{\"clusterIP\":\"10.43.0.61\",\"externalIPs\":[\"10.43.0.60\"],\"ports\":[{"
		"\"port\":80}]}",
		"{}"),
	    NULL);
	HAS(b, "10.43.0.61 . tcp . 80");
	HASNT(b, "10.43.0.60");
	/* a goes away: its key is free again. */
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	proxy_rules_service(&r, "default/a", NULL, NULL, 0, &out);
	HAS(strbuf_str(&out),
	    "delete element ip c8s no-endpoint-services { 10.43.0.60 . tcp . 80 }");
	_cleanup_free_ char *c = render1(
	    &r, SVC("c", "{\"clusterIP\":\"10.43.0.60\",\"ports\":[{\"port\":80}]}", "{}"), NULL);
	HAS(c, "10.43.0.60 . tcp . 80");
	proxy_rules_release(&r);

	struct proxy_rules_config bad = { .table = "c8s; flush ruleset" };
	_cleanup_free_ char *err = NULL;
	assert_int_equal(proxy_rules_init(&r, &bad, &err), -EINVAL);
	struct proxy_rules_config bad2 = { .table = "c8s", .cluster_cidr = "10.42.0.0/33" };
	free(err);
	err = NULL;
	assert_int_equal(proxy_rules_init(&r, &bad2, &err), -EINVAL);
	assert_non_null(strstr(err, "cluster CIDR"));
}

/* ---- root: the kernel accepts it (in a private network namespace) ---- */

static char *nft_list(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	assert_int_equal(nft_run_cmd_from_buffer(ctx, "list table ip c8s"), 0);
	char *s = xstrdup(nft_ctx_get_output_buffer(ctx));
	nft_ctx_free(ctx);
	return s;
}

static void run_ok(struct proxy_nft *n, struct strbuf *cmds)
{
	_cleanup_free_ char *err = NULL;
	if (proxy_nft_run(n, strbuf_str(cmds), &err) < 0)
		fail_msg("nft: %s\n--- commands:\n%s", err, strbuf_str(cmds));
	strbuf_reset(cmds);
}

static void test_kernel(void **state)
{
	if (geteuid() != 0)
		skip();
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	assert_true(home >= 0);
	if (unshare(CLONE_NEWNET) < 0) {
		close(home);
		skip();
	}
	struct proxy_nft *n = proxy_nft_new();
	struct proxy_rules r;
	rules_init(&r);
	struct model m;
	model_init(&m);
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	full(&r, &m, &out);
	run_ok(n, &out);
	/* A second full sync replaces the table in place. */
	full(&r, &m, &out);
	run_ok(n, &out);
	/* UDP and SCTP endpoints, affinity, Local policy with a LB address. */
	struct proxy_service *u = svc(SVC(
	    "u",
	    "{\"type\":\"LoadBalancer\",\"clusterIP\":\"10.43.0.70\",\"ports\":[{\"name\":\"a\","
	    "\"port\":53,\"protocol\":\"UDP\",\"nodePort\":30053},{\"name\":\"b\",\"port\":9,"
	    "\"protocol\":\"SCTP\",\"nodePort\":30009}],\"sessionAffinity\":\"ClientIP\","
	    "\"externalTrafficPolicy\":\"Local\"}",
	    "{\"loadBalancer\":{\"ingress\":[{\"ip\":\"10.45.0.1\"}]}}"));
	struct proxy_slice *us = slice(SLICE(
	    "u",
	    "[{\"name\":\"a\",\"port\":5353,\"protocol\":\"UDP\"},{\"name\":\"b\",\"port\":99,"
	    "\"protocol\":\"SCTP\"}]",
	    "[" EP("10.42.1.2", "n1") "," EP("10.42.2.2", "n2") "]"));
	const struct proxy_slice *uv[1] = { us };
	proxy_rules_service(&r, "default/u", u, uv, 1, &out);
	run_ok(n, &out);
	proxy_rules_service(&r, "default/u", NULL, NULL, 0, &out);
	run_ok(n, &out);
	proxy_service_free(u);
	proxy_slice_free(us);

	_cleanup_free_ char *l1 = nft_list();
	HAS(l1, "10.42.1.3 . 8080");
	HAS(l1, "chain endpoint-default/s/tcp/80__10.42.1.2/8080");
	HAS(l1, "10.43.0.30 . tcp . 80 : goto reject-chain");

	/* The incremental steps of test_incremental, each one transaction. */
	proxy_slice_free(m.sl[0]);
	m.sl[0] = slice(SLICE("web", "[{\"name\":\"http\",\"port\":8080}]",
			      "[" EP("10.42.1.3", "n2") "," EP("10.42.1.5", "n2") "]"));
	model_render(&r, &m, 0, &out);
	run_ok(n, &out);
	m.sl[2] = slice(SLICE("t", "[{\"port\":80}]", "[" EP("10.42.1.7", "n1") "]"));
	model_render(&r, &m, 2, &out);
	run_ok(n, &out);
	proxy_service_free(m.s[1]);
	m.s[1] =
	    svc(SVC("s",
		    "{\"clusterIP\":\"10.43.0.21\",\"ports\":[{\"port\":80}],"
		    "\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":{"
		    "\"timeoutSeconds\":30}}}",
		    "{}"));
	model_render(&r, &m, 1, &out);
	run_ok(n, &out);
	_cleanup_free_ char *l2 = nft_list();
	HASNT(l2, "10.42.1.2 . 8080"); /* web's removed endpoint */
	HAS(l2, "numgen random mod 2 map { 0 : 10.42.1.3 . 8080, 1 : 10.42.1.5 . 8080 }");
	HAS(l2, "10.43.0.30 . tcp . 80 : goto service-default/t/tcp/80");
	HAS(l2, "timeout 30s");
	/* web loses its endpoints (reject), s and t are deleted. */
	proxy_slice_free(m.sl[0]);
	m.sl[0] = NULL;
	model_render(&r, &m, 0, &out);
	proxy_service_free(m.s[1]);
	m.s[1] = NULL;
	model_render(&r, &m, 1, &out);
	proxy_service_free(m.s[2]);
	m.s[2] = NULL;
	model_render(&r, &m, 2, &out);
	run_ok(n, &out);
	_cleanup_free_ char *l3 = nft_list();
	HASNT(l3, "chain endpoint-");
	HASNT(l3, "set affinity-");
	HASNT(l3, "default/s/");
	HAS(l3, "10.43.0.20 . tcp . 80 : goto reject-chain");
	HAS(l3, "tcp . 30080 : goto reject-chain");

	/* A bad transaction fails as a whole with nft's message. */
	_cleanup_free_ char *err = NULL;
	assert_int_equal(proxy_nft_run(n, "add rule ip c8s no-such-chain accept\n", &err), -EINVAL);
	assert_non_null(strstr(err, "No such file or directory"));

	proxy_rules_delete_table("c8s", &out);
	run_ok(n, &out);
	proxy_rules_delete_table("c8s", &out); /* idempotent */
	run_ok(n, &out);

	model_release(&m);
	proxy_rules_release(&r);
	proxy_nft_free(n);
	assert_int_equal(setns(home, CLONE_NEWNET), 0);
	close(home);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_base_and_clusterip),
		cmocka_unit_test(test_fallback_and_noendpoints),
		cmocka_unit_test(test_affinity_local_sctp),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
