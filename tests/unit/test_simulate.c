/* SPDX-License-Identifier: Apache-2.0 */
/* Simulated nodes: the pure parts (names, pod IP pools, node addresses,
 * the pod status a simulated kubelet reports, option checks). */
#include <arpa/inet.h>

#include "unit.h"

#include "kubelet/simulate.h"
#include "lib/json.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

static void test_node_index(void **state)
{
	assert_int_equal(sim_node_index("sim-a-", 10, "sim-a-0"), 0);
	assert_int_equal(sim_node_index("sim-a-", 10, "sim-a-9"), 9);
	assert_int_equal(sim_node_index("sim-a-", 10, "sim-a-10"), -1);
	assert_int_equal(sim_node_index("sim-a-", 11, "sim-a-10"), 10);
	assert_int_equal(sim_node_index("sim-a-", 10, "sim-a-01"), -1);
	assert_int_equal(sim_node_index("sim-a-", 10, "sim-a-"), -1);
	assert_int_equal(sim_node_index("sim-a-", 10, "sim-a-1x"), -1);
	assert_int_equal(sim_node_index("sim-a-", 10, "sim-b-1"), -1);
	assert_int_equal(sim_node_index("sim-a-", 10, "real-node"), -1);
	assert_int_equal(sim_node_index("sim-a-", 10, ""), -1);
	assert_int_equal(sim_node_index("sim-a-", 10, NULL), -1);
	/* no overflow on absurd names */
	assert_int_equal(sim_node_index("n", 5000, "n99999999999999999999999"), -1);
}

static void test_ip_pool_sequential(void **state)
{
	struct ip_pool p;
	uint32_t a;
	assert_int_equal(ip_pool_init(&p, "10.42.3.0/24"), 0);
	/* .0 (network) and .1 (gateway) are skipped */
	assert_int_equal(ip_pool_alloc(&p, &a), 0);
	assert_int_equal(a, ip("10.42.3.2"));
	assert_int_equal(ip_pool_alloc(&p, &a), 0);
	assert_int_equal(a, ip("10.42.3.3"));
	/* a released address is reused only after the others */
	ip_pool_return(&p, ip("10.42.3.2"));
	assert_int_equal(ip_pool_alloc(&p, &a), 0);
	assert_int_equal(a, ip("10.42.3.4"));
	/* exhaust: .2 .. .254 are usable (253 addresses, 2 held now), .255
	 * is broadcast; .2 comes last, after wrapping around */
	int n = 0;
	while (ip_pool_alloc(&p, &a) == 0) {
		assert_true(a != ip("10.42.3.255") && a != ip("10.42.3.0") && a != ip("10.42.3.1"));
		n++;
	}
	assert_int_equal(n, 251);
	assert_int_equal(a, ip("10.42.3.2"));
	assert_int_equal(p.used, 253);
	assert_int_equal(ip_pool_alloc(&p, &a), -ENOSPC);
	/* after a return, the freed one comes back */
	ip_pool_return(&p, ip("10.42.3.77"));
	assert_int_equal(ip_pool_alloc(&p, &a), 0);
	assert_int_equal(a, ip("10.42.3.77"));
	ip_pool_release(&p);
}

static void test_ip_pool_reserve(void **state)
{
	struct ip_pool p;
	uint32_t a;
	assert_int_equal(ip_pool_init(&p, "10.1.2.3/24"), 0); /* host bits ignored */
	assert_true(ip_pool_reserve(&p, ip("10.1.2.2")));
	assert_false(ip_pool_reserve(&p, ip("10.1.2.2"))); /* taken */
	assert_false(ip_pool_reserve(&p, ip("10.1.2.1"))); /* gateway */
	assert_false(ip_pool_reserve(&p, ip("10.1.3.5"))); /* outside */
	assert_true(ip_pool_contains(&p, ip("10.1.2.254")));
	assert_false(ip_pool_contains(&p, ip("10.1.2.255")));
	assert_int_equal(ip_pool_alloc(&p, &a), 0);
	assert_int_equal(a, ip("10.1.2.3"));
	/* returning an address outside or not taken is harmless */
	ip_pool_return(&p, ip("192.168.0.1"));
	ip_pool_return(&p, ip("10.1.2.100"));
	assert_int_equal(p.used, 2);
	ip_pool_release(&p);
}

static void test_ip_pool_sizes(void **state)
{
	struct ip_pool p;
	uint32_t a;
	assert_int_equal(ip_pool_init(&p, "10.0.0.0/30"), 0);
	assert_int_equal(ip_pool_alloc(&p, &a), 0);
	assert_int_equal(a, ip("10.0.0.2"));
	assert_int_equal(ip_pool_alloc(&p, &a), -ENOSPC);
	ip_pool_release(&p);
	/* big CIDRs are capped, not refused */
	assert_int_equal(ip_pool_init(&p, "10.0.0.0/8"), 0);
	assert_int_equal(p.size, 65536);
	assert_int_equal(ip_pool_alloc(&p, &a), 0);
	assert_int_equal(a, ip("10.0.0.2"));
	ip_pool_release(&p);
	assert_int_equal(ip_pool_init(&p, "10.0.0.0/31"), -EINVAL);
	assert_int_equal(ip_pool_init(&p, "10.0.0.0"), -EINVAL);
	assert_int_equal(ip_pool_init(&p, "10.0.0.0/33"), -EINVAL);
	assert_int_equal(ip_pool_init(&p, "10.0.0/24"), -EINVAL);
	assert_int_equal(ip_pool_init(&p, "10.0.0.0/"), -EINVAL);
	assert_int_equal(ip_pool_init(&p, "fd00::/64"), -EAFNOSUPPORT);
}

static void test_plan_node_ips(void **state)
{
	uint32_t out[300];
	assert_int_equal(sim_plan_node_ips("sim-a-", 300, NULL, NULL, 0, out), 0);
	for (int i = 0; i < 300; i++) {
		assert_true(sim_ip_in_node_range(out[i]));
		for (int j = 0; j < i; j++)
			assert_true(out[i] != out[j]);
	}
	/* the same seed gives the same addresses */
	uint32_t again[300];
	assert_int_equal(sim_plan_node_ips("sim-a-", 300, NULL, NULL, 0, again), 0);
	assert_memory_equal(out, again, sizeof(out));
	/* addresses in use are avoided; kept ones are kept */
	uint32_t used[2] = { out[1], out[2] };
	uint32_t keep[3] = { 0, 0, out[0] };
	uint32_t got[3];
	assert_int_equal(sim_plan_node_ips("sim-a-", 3, keep, used, 2, got), 0);
	assert_int_equal(got[2], out[0]);
	for (int i = 0; i < 2; i++) {
		assert_true(got[i] != out[0] && got[i] != out[1] && got[i] != out[2]);
		assert_true(sim_ip_in_node_range(got[i]));
	}
	assert_true(got[0] != got[1]);
	assert_true(sim_ip_in_node_range(ip("198.18.0.1")));
	assert_true(sim_ip_in_node_range(ip("198.19.255.254")));
	assert_false(sim_ip_in_node_range(ip("198.18.0.0")));
	assert_false(sim_ip_in_node_range(ip("198.18.3.255")));
	assert_false(sim_ip_in_node_range(ip("198.20.0.1")));
	assert_false(sim_ip_in_node_range(ip("10.0.0.1")));
}

static json_t *load(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	if (!j)
		fail_msg("bad test JSON: %s", e.text);
	return j;
}

static json_t *condition(json_t *status, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(status, "conditions"), i, c)
	{
		if (streq(json_string_value(json_object_get(c, "type")), type))
			return c;
	}
	return NULL;
}

static void test_pod_running_patch(void **state)
{
	_cleanup_json_ json_t *pod =
	    load("{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\"},"
		 "\"spec\":{\"nodeName\":\"n0\","
		 "\"initContainers\":[{\"name\":\"init\",\"image\":\"busybox\"},"
		 "{\"name\":\"side\",\"image\":\"envoy\",\"restartPolicy\":\"Always\"}],"
		 "\"containers\":[{\"name\":\"a\",\"image\":\"nginx:1.25\"},{\"name\":\"b\","
		 "\"image\":\"redis\"}]},"
		 "\"status\":{\"phase\":\"Pending\",\"qosClass\":\"BestEffort\","
		 "\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\","
		 "\"lastTransitionTime\":\"2026-01-01T00:00:00Z\"}]}}");
	_cleanup_json_ json_t *patch =
	    sim_pod_running_patch(pod, "198.18.0.5", "10.42.0.2", 1700000000LL * 1000000);
	json_t *st = json_object_get(patch, "status");
	assert_non_null(st);
	assert_int_equal(json_object_size(patch), 1);
	assert_string_equal(json_get_str(st, "phase"), "Running");
	assert_string_equal(json_get_str(st, "hostIP"), "198.18.0.5");
	assert_string_equal(json_get_str(st, "podIP"), "10.42.0.2");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(st, "podIPs"), 0), "ip")),
			    "10.42.0.2");
	assert_string_equal(json_string_value(json_object_get(
				json_array_get(json_object_get(st, "hostIPs"), 0), "ip")),
			    "198.18.0.5");
	assert_string_equal(json_get_str(st, "startTime"), "2023-11-14T22:13:20Z");
	/* the QoS class is left alone (it is immutable) */
	assert_null(json_object_get(st, "qosClass"));
	const char *types[] = { "PodReadyToStartContainers", "Initialized", "ContainersReady",
				"Ready" };
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		json_t *c = condition(st, types[i]);
		assert_non_null(c);
		assert_string_equal(json_get_str(c, "status"), "True");
		assert_string_equal(json_get_str(c, "lastTransitionTime"), "2023-11-14T22:13:20Z");
	}
	/* PodScheduled was set by the binding: not repeated (its time stays) */
	assert_null(condition(st, "PodScheduled"));

	json_t *cs = json_object_get(st, "containerStatuses");
	assert_int_equal(json_array_size(cs), 2);
	json_t *a = json_array_get(cs, 0);
	assert_string_equal(json_get_str(a, "name"), "a");
	assert_string_equal(json_get_str(a, "image"), "nginx:1.25");
	assert_string_equal(json_get_str(a, "imageID"), "sim://nginx:1.25");
	assert_true(startswith(json_get_str(a, "containerID"), "sim://"));
	assert_true(strlen(json_get_str(a, "containerID")) > strlen("sim://") + 8);
	assert_true(json_get_bool(a, "ready", false));
	assert_true(json_get_bool(a, "started", false));
	assert_int_equal(json_get_int(a, "restartCount", -1), 0);
	assert_string_equal(json_get_str(a, "state.running.startedAt"), "2023-11-14T22:13:20Z");
	assert_string_equal(json_get_str(json_array_get(cs, 1), "name"), "b");
	assert_string_not_equal(json_get_str(a, "containerID"),
				json_get_str(json_array_get(cs, 1), "containerID"));

	json_t *ics = json_object_get(st, "initContainerStatuses");
	assert_int_equal(json_array_size(ics), 2);
	json_t *init = json_array_get(ics, 0);
	assert_int_equal(json_get_int(init, "state.terminated.exitCode", -1), 0);
	assert_string_equal(json_get_str(init, "state.terminated.reason"), "Completed");
	assert_false(json_get_bool(init, "started", true));
	json_t *side = json_array_get(ics, 1);
	assert_non_null(json_get(side, "state.running"));
	assert_true(json_get_bool(side, "started", false));
}

static void test_pod_running_patch_unbound_scheduled(void **state)
{
	/* created with spec.nodeName: no PodScheduled yet, and a startTime
	 * already reported is kept */
	_cleanup_json_ json_t *pod = load(
	    "{\"spec\":{\"nodeName\":\"n0\",\"containers\":[{\"name\":\"a\",\"image\":\"x\"}]},"
	    "\"status\":{\"startTime\":\"2020-01-01T00:00:00Z\"}}");
	_cleanup_json_ json_t *patch = sim_pod_running_patch(pod, "198.18.0.5", "198.18.0.5", 0);
	json_t *st = json_object_get(patch, "status");
	json_t *c = condition(st, "PodScheduled");
	assert_non_null(c);
	assert_string_equal(json_get_str(c, "status"), "True");
	assert_string_equal(json_get_str(st, "startTime"), "2020-01-01T00:00:00Z");
	assert_null(json_object_get(st, "initContainerStatuses"));
}

static void test_readiness_gates(void **state)
{
	_cleanup_json_ json_t *pod =
	    load("{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"x\"}],"
		 "\"readinessGates\":[{\"conditionType\":\"example.com/lb\"}]},\"status\":{}}");
	_cleanup_free_ char *why = NULL;
	assert_false(sim_pod_gates_ready(pod, &why));
	assert_string_equal(
	    why,
	    "corresponding condition of pod readiness gate \"example.com/lb\" does not exist.");
	_cleanup_json_ json_t *patch = sim_pod_running_patch(pod, "198.18.0.5", "10.0.0.2", 0);
	json_t *ready = condition(json_object_get(patch, "status"), "Ready");
	assert_string_equal(json_get_str(ready, "status"), "False");
	assert_string_equal(json_get_str(ready, "reason"), "ReadinessGatesNotReady");
	json_t *cr = condition(json_object_get(patch, "status"), "ContainersReady");
	assert_string_equal(json_get_str(cr, "status"), "True");

	json_object_set_new(json_object_get(pod, "status"), "conditions",
			    load("[{\"type\":\"example.com/lb\",\"status\":\"False\"}]"));
	free(why);
	why = NULL;
	assert_false(sim_pod_gates_ready(pod, &why));
	assert_string_equal(
	    why, "the status of pod readiness gate \"example.com/lb\" is not \"True\", but False");
	json_object_set_new(json_object_get(pod, "status"), "conditions",
			    load("[{\"type\":\"example.com/lb\",\"status\":\"True\"}]"));
	assert_true(sim_pod_gates_ready(pod, NULL));
}

static void check_opts_fail(struct sim_opts *o, const char *want)
{
	_cleanup_free_ char *err = NULL;
	assert_int_equal(sim_opts_check(o, &err), -EINVAL);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}

static void test_opts(void **state)
{
	struct sim_opts o;
	sim_opts_default(&o);
	o.nodes = 3;
	o.prefix = "sim-x-";
	_cleanup_free_ char *err = NULL;
	assert_int_equal(sim_opts_check(&o, &err), 0);

	o.nodes = 0;
	check_opts_fail(&o, "--simulate");
	o.nodes = 3;
	o.prefix = "Sim_X-";
	check_opts_fail(&o, "invalid node names");
	o.prefix = "sim-x-";
	o.memory = "lots";
	check_opts_fail(&o, "--node-memory");
	o.memory = "16Gi";
	const char *labels[] = { "zone=a", "bad label=x", NULL };
	o.labels = labels;
	check_opts_fail(&o, "bad label=x");
	labels[1] = NULL;
	assert_int_equal(sim_opts_check(&o, &err), 0);
	const char *fails[] = { "sim-x-2=10s", NULL };
	o.fail_after = fails;
	assert_int_equal(sim_opts_check(&o, &err), 0);
	fails[0] = "sim-x-3=10s";
	check_opts_fail(&o, "not one of the simulated nodes");
	fails[0] = "sim-x-1";
	check_opts_fail(&o, "NAME=DURATION");
	fails[0] = "sim-x-1=5";
	assert_int_equal(sim_opts_check(&o, &err), 0);
	o.pod_workers = 50;
	check_opts_fail(&o, "at most 60");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_index),
		cmocka_unit_test(test_ip_pool_sequential),
		cmocka_unit_test(test_ip_pool_reserve),
		cmocka_unit_test(test_ip_pool_sizes),
		cmocka_unit_test(test_plan_node_ips),
		cmocka_unit_test(test_pod_running_patch),
		cmocka_unit_test(test_pod_running_patch_unbound_scheduled),
		cmocka_unit_test(test_readiness_gates),
		cmocka_unit_test(test_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
