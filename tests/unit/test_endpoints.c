/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "controllers/endpoints.h"
#include "lib/json.h"

static json_t *parse(const char *s)
{
	json_error_t e;
	json_t *v = json_loads(s, 0, &e);
	if (!v)
		fail_msg("bad test JSON: %s: %s", e.text, s);
	return v;
}

/* A running pod: name, ip, ready, containers' ports JSON. */
static json_t *pod(const char *name, const char *ip, bool ready, const char *ports)
{
	char buf[2048];
	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"uid-%s\","
		 "\"labels\":{\"app\":\"web\"}},"
		 "\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"ports\":%s}]},"
		 "\"status\":{\"phase\":\"Running\",\"podIP\":\"%s\",\"conditions\":[{\"type\":"
		 "\"Ready\",\"status\":\"%s\"}]}}",
		 name, name, ports, ip, ready ? "True" : "False");
	return parse(buf);
}

static char *dump(json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

static void assert_json(json_t *v, const char *want)
{
	json_t *w = parse(want);
	if (!json_equal(v, w)) {
		char *got = dump(v);
		char *exp = dump(w);
		print_error("got:  %s\nwant: %s\n", got, exp);
		free(got);
		free(exp);
		json_decref(w);
		fail();
	}
	json_decref(w);
}

static void test_resolve_port(void **state)
{
	json_t *p = pod("a", "10.42.0.5", true,
			"[{\"name\":\"http\",\"containerPort\":8080},"
			"{\"name\":\"dns\",\"containerPort\":5353,\"protocol\":\"UDP\"}]");
	json_t *sp = parse("{\"port\":80,\"targetPort\":\"http\"}");
	assert_int_equal(ep_resolve_port(sp, p), 8080);
	json_decref(sp);
	/* The protocol must match too. */
	sp = parse("{\"port\":53,\"targetPort\":\"dns\",\"protocol\":\"TCP\"}");
	assert_int_equal(ep_resolve_port(sp, p), 0);
	json_decref(sp);
	sp = parse("{\"port\":53,\"targetPort\":\"dns\",\"protocol\":\"UDP\"}");
	assert_int_equal(ep_resolve_port(sp, p), 5353);
	json_decref(sp);
	sp = parse("{\"port\":80,\"targetPort\":\"missing\"}");
	assert_int_equal(ep_resolve_port(sp, p), 0);
	json_decref(sp);
	sp = parse("{\"port\":80,\"targetPort\":9090}");
	assert_int_equal(ep_resolve_port(sp, p), 9090);
	json_decref(sp);
	sp = parse("{\"port\":81}");
	assert_int_equal(ep_resolve_port(sp, p), 81);
	json_decref(sp);
	sp = parse("{\"port\":81,\"targetPort\":70000}");
	assert_int_equal(ep_resolve_port(sp, p), 0);
	json_decref(sp);
	json_decref(p);

	/* A sidecar (restartable init container) port counts; a plain init
	 * container's does not. */
	p = parse("{\"spec\":{\"containers\":[],\"initContainers\":["
		  "{\"name\":\"i\",\"ports\":[{\"name\":\"a\",\"containerPort\":1}]},"
		  "{\"name\":\"s\",\"restartPolicy\":\"Always\",\"ports\":[{\"name\":\"b\","
		  "\"containerPort\":2}]}]}}");
	sp = parse("{\"port\":80,\"targetPort\":\"a\"}");
	assert_int_equal(ep_resolve_port(sp, p), 0);
	json_decref(sp);
	sp = parse("{\"port\":80,\"targetPort\":\"b\"}");
	assert_int_equal(ep_resolve_port(sp, p), 2);
	json_decref(sp);
	json_decref(p);
}

static void test_subsets_ready_split(void **state)
{
	json_t *svc = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"},"
			    "\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80,"
			    "\"targetPort\":\"http\",\"protocol\":\"TCP\"}]}}");
	const char *ports = "[{\"name\":\"http\",\"containerPort\":8080}]";
	json_t *pods[] = {
		pod("b", "10.42.0.7", true, ports),
		pod("a", "10.42.0.6", false, ports),
		pod("c", "10.42.0.10", true, ports),
		/* no IP yet: not an endpoint */
		parse("{\"metadata\":{\"name\":\"d\",\"uid\":\"u\"},\"status\":{\"phase\":"
		      "\"Pending\"}}"),
	};
	json_t *s = ep_build_subsets(svc, pods, ARRAY_SIZE(pods));
	assert_json(s, "[{\"addresses\":["
		       "{\"ip\":\"10.42.0.10\",\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\","
		       "\"namespace\":\"ns\",\"name\":\"c\",\"uid\":\"uid-c\"}},"
		       "{\"ip\":\"10.42.0.7\",\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\","
		       "\"namespace\":\"ns\",\"name\":\"b\",\"uid\":\"uid-b\"}}],"
		       "\"notReadyAddresses\":["
		       "{\"ip\":\"10.42.0.6\",\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\","
		       "\"namespace\":\"ns\",\"name\":\"a\",\"uid\":\"uid-a\"}}],"
		       "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}]}]");
	json_decref(s);

	/* publishNotReadyAddresses: all ready. A terminating pod is gone. */
	json_object_set_new(json_object_get(svc, "spec"), "publishNotReadyAddresses", json_true());
	json_object_set_new(json_object_get(pods[2], "metadata"), "deletionTimestamp",
			    json_string("2026-01-01T00:00:00Z"));
	s = ep_build_subsets(svc, pods, ARRAY_SIZE(pods));
	assert_int_equal(json_array_size(s), 1);
	assert_int_equal(json_array_size(json_get(json_array_get(s, 0), "addresses")), 2);
	assert_null(json_get(json_array_get(s, 0), "notReadyAddresses"));
	json_decref(s);
	for (size_t i = 0; i < ARRAY_SIZE(pods); i++)
		json_decref(pods[i]);
	json_decref(svc);
}

static void test_subsets_grouped_by_ports(void **state)
{
	json_t *svc = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"},"
			    "\"spec\":{\"ports\":["
			    "{\"name\":\"web\",\"port\":80,\"targetPort\":\"http\"},"
			    "{\"name\":\"metrics\",\"port\":9100,\"targetPort\":\"metrics\"}]}}");
	json_t *pods[] = {
		pod("a", "10.42.0.1", true,
		    "[{\"name\":\"http\",\"containerPort\":8080},{\"name\":\"metrics\","
		    "\"containerPort\":9100}]"),
		pod("b", "10.42.0.2", true, "[{\"name\":\"http\",\"containerPort\":8080}]"),
		pod("c", "10.42.0.3", true, "[{\"name\":\"http\",\"containerPort\":8081}]"),
		pod("z", "10.42.0.9", true, "[]"), /* has neither: in no subset */
	};
	json_t *s = ep_build_subsets(svc, pods, ARRAY_SIZE(pods));
	/* web/8080 reaches a and b; metrics/9100 only a; web/8081 only c:
	 * three port groups with different address sets. */
	assert_int_equal(json_array_size(s), 3);
	size_t i;
	json_t *sub;
	int seen = 0;
	json_array_foreach(s, i, sub)
	{
		json_t *ports = json_object_get(sub, "ports");
		json_t *addrs = json_object_get(sub, "addresses");
		assert_int_equal(json_array_size(ports), 1);
		int port = (int)json_get_int(json_array_get(ports, 0), "port", 0);
		if (port == 8080) {
			assert_int_equal(json_array_size(addrs), 2);
			assert_string_equal(json_get_str(json_array_get(addrs, 0), "ip"),
					    "10.42.0.1");
			assert_string_equal(json_get_str(json_array_get(addrs, 1), "ip"),
					    "10.42.0.2");
			seen |= 1;
		} else if (port == 9100) {
			assert_int_equal(json_array_size(addrs), 1);
			assert_string_equal(json_get_str(json_array_get(addrs, 0), "ip"),
					    "10.42.0.1");
			seen |= 2;
		} else {
			assert_int_equal(port, 8081);
			assert_string_equal(json_get_str(json_array_get(addrs, 0), "ip"),
					    "10.42.0.3");
			seen |= 4;
		}
	}
	assert_int_equal(seen, 7);
	json_decref(s);

	/* Ports reaching the same addresses share one subset. */
	json_t *two = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"},"
			    "\"spec\":{\"ports\":["
			    "{\"name\":\"b\",\"port\":81,\"targetPort\":81},"
			    "{\"name\":\"a\",\"port\":80,\"targetPort\":80}]}}");
	s = ep_build_subsets(two, pods, 2);
	assert_int_equal(json_array_size(s), 1);
	json_t *ports = json_get(json_array_get(s, 0), "ports");
	assert_int_equal(json_array_size(ports), 2);
	/* sorted */
	assert_string_equal(json_get_str(json_array_get(ports, 0), "name"), "a");
	json_decref(s);
	json_decref(two);
	for (i = 0; i < ARRAY_SIZE(pods); i++)
		json_decref(pods[i]);
	json_decref(svc);
}

static void test_headless_hostname(void **state)
{
	json_t *svc = parse("{\"metadata\":{\"name\":\"hl\",\"namespace\":\"ns\"},"
			    "\"spec\":{\"clusterIP\":\"None\"}}");
	json_t *p = pod("a", "10.42.0.1", true, "[]");
	json_t *spec = json_object_get(p, "spec");
	json_set_str(spec, "hostname", "alpha");
	json_set_str(spec, "subdomain", "hl");
	json_t *s = ep_build_subsets(svc, &p, 1);
	assert_json(s, "[{\"addresses\":[{\"ip\":\"10.42.0.1\",\"hostname\":\"alpha\","
		       "\"nodeName\":\"n1\",\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"ns\","
		       "\"name\":\"a\",\"uid\":\"uid-a\"}}]}]");
	json_decref(s);
	json_t *labels = ep_labels(svc);
	assert_json(labels, "{\"service.kubernetes.io/headless\":\"\"}");
	json_decref(labels);
	json_t *e = eps_endpoint(svc, p);
	assert_string_equal(json_get_str(e, "hostname"), "alpha");
	json_decref(e);
	/* Another subdomain: no hostname. */
	json_set_str(spec, "subdomain", "other");
	e = eps_endpoint(svc, p);
	assert_null(json_object_get(e, "hostname"));
	json_decref(e);
	json_decref(p);
	json_decref(svc);
}

static void test_slice_endpoint_conditions(void **state)
{
	json_t *svc = parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"},"
			    "\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":\"http\"}]}}");
	json_t *p = pod("a", "10.42.0.1", true, "[]");
	json_t *e = eps_endpoint(svc, p);
	assert_json(json_object_get(e, "conditions"),
		    "{\"ready\":true,\"serving\":true,\"terminating\":false}");
	json_decref(e);
	/* Terminating: still listed, serving but not ready. */
	json_object_set_new(json_object_get(p, "metadata"), "deletionTimestamp",
			    json_string("2026-01-01T00:00:00Z"));
	e = eps_endpoint(svc, p);
	assert_json(json_object_get(e, "conditions"),
		    "{\"ready\":false,\"serving\":true,\"terminating\":true}");
	json_decref(e);
	/* The pod lacks the named port: no ports, still an endpoint. */
	json_t *ports = eps_ports(svc, p);
	assert_int_equal(json_array_size(ports), 0);
	json_decref(ports);
	/* IPv6 pods are not in IPv4 slices. */
	json_set_str(json_object_get(p, "status"), "podIP", "fd00::1");
	assert_null(eps_endpoint(svc, p));
	json_decref(p);
	json_decref(svc);
}

/* n endpoints with ip 10.0.X.Y, all with port set "ports". */
static void make_desired(size_t n, size_t first, json_t **ret_eps, json_t **ret_ports)
{
	json_t *eps = json_array(), *ports = json_array();
	for (size_t i = first; i < first + n; i++) {
		char ip[32], uid[32];
		snprintf(ip, sizeof(ip), "10.0.%zu.%zu", i / 256, i % 256);
		snprintf(uid, sizeof(uid), "u%zu", i);
		json_array_append_new(eps,
				      json_pack("{s:[s], s:{s:b}, s:{s:s}}", "addresses", ip,
						"conditions", "ready", 1, "targetRef", "uid", uid));
		json_array_append_new(ports, json_pack("[{s:s, s:i, s:s}]", "name", "", "port", 80,
						       "protocol", "TCP"));
	}
	*ret_eps = eps;
	*ret_ports = ports;
}

static size_t count_op(const struct eps_plan *p, enum eps_op op)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->a[i].op == op;
	return n;
}

/* Existing slices made from a plan's CREATE/UPDATE/KEEP results. */
static size_t slices_from_plan(const struct eps_plan *p, json_t **out)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++) {
		if (p->a[i].op == EPS_DELETE)
			continue;
		char name[16];
		snprintf(name, sizeof(name), "s%zu", n);
		/* Copies, as a server would give back. */
		out[n++] = json_pack("{s:{s:s}, s:o, s:o}", "metadata", "name", name, "ports",
				     json_deep_copy(p->a[i].ports), "endpoints",
				     json_deep_copy(p->a[i].endpoints));
	}
	return n;
}

static void test_reconcile_split_and_churn(void **state)
{
	json_t *eps, *ports;
	make_desired(250, 0, &eps, &ports);
	struct eps_plan plan;
	eps_reconcile(eps, ports, NULL, 0, 100, &plan);
	assert_int_equal(plan.n, 3);
	assert_int_equal(count_op(&plan, EPS_CREATE), 3);
	assert_int_equal(json_array_size(plan.a[0].endpoints), 100);
	assert_int_equal(json_array_size(plan.a[2].endpoints), 50);
	json_t *slices[8];
	size_t ns = slices_from_plan(&plan, slices);
	eps_plan_release(&plan);

	/* The same again: nothing to write. */
	eps_reconcile(eps, ports, slices, ns, 100, &plan);
	assert_int_equal(count_op(&plan, EPS_KEEP), 3);
	assert_int_equal(plan.n, 3);
	eps_plan_release(&plan);

	/* One endpoint changes (unready): only its slice is updated. */
	json_t *e = json_array_get(eps, 120);
	json_object_set_new(json_object_get(e, "conditions"), "ready", json_false());
	eps_reconcile(eps, ports, slices, ns, 100, &plan);
	assert_int_equal(count_op(&plan, EPS_UPDATE), 1);
	assert_int_equal(count_op(&plan, EPS_KEEP), 2);
	assert_ptr_equal(plan.a[1].slice, slices[1]);
	assert_int_equal(plan.a[1].op, EPS_UPDATE);
	eps_plan_release(&plan);

	/* Scale down to the first 30: the first slice is updated, the
	 * others deleted. A new endpoint fills the room left. */
	json_t *few, *fewports;
	make_desired(30, 0, &few, &fewports);
	json_t *extra, *extraports;
	make_desired(1, 900, &extra, &extraports);
	json_array_extend(few, extra);
	json_array_extend(fewports, extraports);
	eps_reconcile(few, fewports, slices, ns, 100, &plan);
	assert_int_equal(plan.a[0].op, EPS_UPDATE);
	assert_int_equal(json_array_size(plan.a[0].endpoints), 31);
	assert_int_equal(plan.a[1].op, EPS_DELETE);
	assert_int_equal(plan.a[2].op, EPS_DELETE);
	assert_int_equal(plan.n, 3);
	eps_plan_release(&plan);

	/* Nothing left: one empty slice stays (without ports). */
	json_t *none = json_array(), *noports = json_array();
	eps_reconcile(none, noports, slices, ns, 100, &plan);
	assert_int_equal(plan.a[0].op, EPS_UPDATE);
	assert_int_equal(json_array_size(plan.a[0].endpoints), 0);
	assert_int_equal(json_array_size(plan.a[0].ports), 0);
	assert_int_equal(count_op(&plan, EPS_DELETE), 2);
	eps_plan_release(&plan);
	/* ... and is made when there are no slices at all. */
	eps_reconcile(none, noports, NULL, 0, 100, &plan);
	assert_int_equal(plan.n, 1);
	assert_int_equal(plan.a[0].op, EPS_CREATE);
	eps_plan_release(&plan);

	for (size_t i = 0; i < ns; i++)
		json_decref(slices[i]);
	json_decref(none);
	json_decref(noports);
	json_decref(few);
	json_decref(fewports);
	json_decref(extra);
	json_decref(extraports);
	json_decref(eps);
	json_decref(ports);
}

static void test_reconcile_port_sets(void **state)
{
	/* Two port sets: two slices; an endpoint whose ports change moves. */
	json_t *eps, *ports;
	make_desired(3, 0, &eps, &ports);
	json_array_set_new(
	    ports, 2, json_pack("[{s:s, s:i, s:s}]", "name", "", "port", 81, "protocol", "TCP"));
	struct eps_plan plan;
	eps_reconcile(eps, ports, NULL, 0, 100, &plan);
	assert_int_equal(plan.n, 2);
	assert_int_equal(json_array_size(plan.a[0].endpoints), 2);
	assert_int_equal(json_array_size(plan.a[1].endpoints), 1);
	json_t *slices[4];
	size_t ns = slices_from_plan(&plan, slices);
	eps_plan_release(&plan);

	json_array_set_new(
	    ports, 2, json_pack("[{s:s, s:i, s:s}]", "name", "", "port", 80, "protocol", "TCP"));
	eps_reconcile(eps, ports, slices, ns, 100, &plan);
	assert_int_equal(plan.a[0].op, EPS_UPDATE);
	assert_int_equal(json_array_size(plan.a[0].endpoints), 3);
	assert_int_equal(plan.a[1].op, EPS_DELETE);
	eps_plan_release(&plan);
	for (size_t i = 0; i < ns; i++)
		json_decref(slices[i]);
	json_decref(eps);
	json_decref(ports);
}

static void count_key(const char *key, void *ud)
{
	(*(int *)ud)++;
}

static void test_svc_index(void **state)
{
	struct svc_index x;
	svc_index_init(&x);
	json_t *a = parse("{\"spec\":{\"selector\":{\"app\":\"web\"}}}");
	json_t *b = parse("{\"spec\":{\"selector\":{\"app\":\"web\",\"tier\":\"fe\"}}}");
	json_t *none = parse("{\"spec\":{}}");
	svc_index_set(&x, "ns/a", a);
	svc_index_set(&x, "ns/b", b);
	svc_index_set(&x, "ns/c", none);
	svc_index_set(&x, "ns2/a", a);
	int n = 0;
	svc_index_match(&x, "ns", "app\0web\0\0", count_key, &n);
	assert_int_equal(n, 1);
	n = 0;
	svc_index_match(&x, "ns", "app\0web\0tier\0fe\0\0", count_key, &n);
	assert_int_equal(n, 2);
	svc_index_remove(&x, "ns/a");
	n = 0;
	svc_index_match(&x, "ns", "app\0web\0tier\0fe\0\0", count_key, &n);
	assert_int_equal(n, 1);
	svc_index_release(&x);
	json_decref(a);
	json_decref(b);
	json_decref(none);
}

static void test_trigger_times(void **state)
{
	struct trigger_times t;
	trigger_times_init(&t);
	trigger_note(&t, "ns/a", 200);
	trigger_note(&t, "ns/a", 100);
	trigger_note(&t, "ns/a", 300);
	assert_int_equal(trigger_take(&t, "ns/a"), 100);
	assert_int_equal(trigger_take(&t, "ns/a"), 0);
	trigger_note(&t, "ns/b", 5);
	trigger_times_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolve_port),
		cmocka_unit_test(test_subsets_ready_split),
		cmocka_unit_test(test_subsets_grouped_by_ports),
		cmocka_unit_test(test_headless_hostname),
		cmocka_unit_test(test_slice_endpoint_conditions),
		cmocka_unit_test(test_reconcile_split_and_churn),
		cmocka_unit_test(test_reconcile_port_sets),
		cmocka_unit_test(test_svc_index),
		cmocka_unit_test(test_trigger_times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
