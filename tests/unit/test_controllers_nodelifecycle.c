/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "controllers/nodelifecycle.h"
#include "lib/json.h"
#include "lib/timeutil.h"

#define SEC 1000000LL
#define T0  (1800000000LL * SEC) /* some time in 2027 */

static json_t *load(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, 0, &err);
	if (!j)
		fail_msg("bad test JSON: %s: %s", err.text, text);
	return j;
}

/* ---- tolerations ---- */

static struct toleration tol(const char *key, const char *op, const char *value, const char *effect,
			     int64_t seconds)
{
	/* seconds < -1000: no tolerationSeconds */
	return (struct toleration){ (char *)key,    (char *)op,	     (char *)value,
				    (char *)effect, seconds > -1000, seconds };
}

static void test_tolerates(void **state)
{
	struct toleration t;
	/* Equal (or no operator) compares the value. */
	t = tol("k", "Equal", "v", "NoExecute", -9999);
	assert_true(toleration_tolerates(&t, "k", "v", "NoExecute"));
	assert_false(toleration_tolerates(&t, "k", "w", "NoExecute"));
	assert_false(toleration_tolerates(&t, "other", "v", "NoExecute"));
	assert_false(toleration_tolerates(&t, "k", "v", "NoSchedule"));
	t = tol("k", "", "v", "", -9999);
	assert_true(toleration_tolerates(&t, "k", "v", "NoSchedule"));
	assert_true(toleration_tolerates(&t, "k", "v", "NoExecute"));
	/* Exists ignores the value; an empty effect matches every effect. */
	t = tol("k", "Exists", "", "", -9999);
	assert_true(toleration_tolerates(&t, "k", "anything", "NoExecute"));
	assert_false(toleration_tolerates(&t, "j", "anything", "NoExecute"));
	/* Exists with no key tolerates everything. */
	t = tol("", "Exists", "", "", -9999);
	assert_true(toleration_tolerates(&t, "node.kubernetes.io/unreachable", "", "NoExecute"));
	t = tol("", "Exists", "", "NoSchedule", -9999);
	assert_false(toleration_tolerates(&t, "node.kubernetes.io/unreachable", "", "NoExecute"));
	/* An unknown operator tolerates nothing. */
	t = tol("k", "Gt", "1", "", -9999);
	assert_false(toleration_tolerates(&t, "k", "1", "NoExecute"));
	/* Equal with an empty value matches a taint with no value. */
	t = tol("k", "Equal", "", "NoExecute", -9999);
	assert_true(toleration_tolerates(&t, "k", "", "NoExecute"));
}

static void test_tolerations_parse(void **state)
{
	json_t *j = load("[{\"key\":\"a\",\"operator\":\"Exists\",\"effect\":\"NoExecute\","
			 "\"tolerationSeconds\":300},{\"key\":\"b\",\"value\":\"x\"}]");
	struct toleration *t;
	size_t n = tolerations_parse(j, &t);
	assert_int_equal(n, 2);
	assert_string_equal(t[0].key, "a");
	assert_string_equal(t[0].op, "Exists");
	assert_true(t[0].has_seconds);
	assert_int_equal(t[0].seconds, 300);
	assert_string_equal(t[1].op, "");
	assert_string_equal(t[1].value, "x");
	assert_false(t[1].has_seconds);
	tolerations_free(t, n);
	json_decref(j);
	assert_int_equal(tolerations_parse(NULL, &t), 0);
	assert_null(t);
}

static struct taint taint(const char *key, const char *effect, int64_t added)
{
	return (struct taint){ (char *)key, (char *)"", (char *)effect, added };
}

static void test_eviction_time(void **state)
{
	struct taint unreach = taint("node.kubernetes.io/unreachable", "NoExecute", T0);
	struct taint notready = taint("node.kubernetes.io/not-ready", "NoExecute", T0 + 2 * SEC);
	struct taint nosched = taint("node.kubernetes.io/unreachable", "NoSchedule", T0);
	struct toleration defaults[] = {
		tol("node.kubernetes.io/not-ready", "Exists", "", "NoExecute", 5),
		tol("node.kubernetes.io/unreachable", "Exists", "", "NoExecute", 5),
	};

	/* No NoExecute taint: never. */
	assert_true(nl_eviction_time(&nosched, 1, NULL, 0) == NL_NEVER);
	assert_true(nl_eviction_time(NULL, 0, NULL, 0) == NL_NEVER);
	/* Not tolerated: at once. */
	assert_int_equal(nl_eviction_time(&unreach, 1, NULL, 0), 0);
	struct toleration other = tol("example.com/x", "Exists", "", "", -9999);
	assert_int_equal(nl_eviction_time(&unreach, 1, &other, 1), 0);
	/* The default tolerations: 5 s after the taint was added. */
	assert_int_equal(nl_eviction_time(&unreach, 1, defaults, 2), T0 + 5 * SEC);
	/* Two taints: the earliest of their deadlines. */
	struct taint both[] = { notready, unreach };
	assert_int_equal(nl_eviction_time(both, 2, defaults, 2), T0 + 5 * SEC);
	/* One of them not tolerated: at once. */
	assert_int_equal(nl_eviction_time(both, 2, &defaults[1], 1), 0);
	/* Without tolerationSeconds: forever. */
	struct toleration forever =
	    tol("node.kubernetes.io/unreachable", "Exists", "", "NoExecute", -9999);
	assert_true(nl_eviction_time(&unreach, 1, &forever, 1) == NL_NEVER);
	/* Forever for one taint, 5 s for the other: 5 s. */
	struct toleration mixed[] = { forever, defaults[0] };
	assert_int_equal(nl_eviction_time(both, 2, mixed, 2), T0 + 7 * SEC);
	/* Several tolerations match one taint: the most permissive wins. */
	struct toleration several[] = {
		tol("node.kubernetes.io/unreachable", "Exists", "", "NoExecute", 5),
		tol("", "Exists", "", "", 60),
	};
	assert_int_equal(nl_eviction_time(&unreach, 1, several, 2), T0 + 60 * SEC);
	struct toleration and_forever[] = { several[0], tol("", "Exists", "", "", -9999) };
	assert_true(nl_eviction_time(&unreach, 1, and_forever, 2) == NL_NEVER);
	/* tolerationSeconds <= 0: at the time it was added. */
	struct toleration zero =
	    tol("node.kubernetes.io/unreachable", "Exists", "", "NoExecute", 0);
	assert_int_equal(nl_eviction_time(&unreach, 1, &zero, 1), T0);
	struct toleration neg =
	    tol("node.kubernetes.io/unreachable", "Exists", "", "NoExecute", -5);
	assert_int_equal(nl_eviction_time(&unreach, 1, &neg, 1), T0);
	/* A NoSchedule taint never evicts, whatever the tolerations. */
	struct taint mix[] = { nosched, unreach };
	assert_int_equal(nl_eviction_time(mix, 2, &defaults[1], 1), T0 + 5 * SEC);
	/* Values must match for Equal. */
	struct taint valued = { (char *)"example.com/x", (char *)"a", (char *)"NoExecute", T0 };
	struct toleration eq_b = tol("example.com/x", "Equal", "b", "NoExecute", 10);
	struct toleration eq_a = tol("example.com/x", "Equal", "a", "NoExecute", 10);
	assert_int_equal(nl_eviction_time(&valued, 1, &eq_b, 1), 0);
	assert_int_equal(nl_eviction_time(&valued, 1, &eq_a, 1), T0 + 10 * SEC);
}

/* ---- taints ---- */

static void test_desired(void **state)
{
	struct nl_node_view v = { .ready = 'T' };
	assert_int_equal(nl_taints_desired(&v, NL_NOEXEC_ALLOW, 0), 0);
	v.ready = 'U';
	assert_int_equal(nl_taints_desired(&v, NL_NOEXEC_ALLOW, 0),
			 NLT_UNREACHABLE_NS | NLT_UNREACHABLE_NE);
	v.ready = 'F';
	assert_int_equal(nl_taints_desired(&v, NL_NOEXEC_ALLOW, 0),
			 NLT_NOT_READY_NS | NLT_NOT_READY_NE);
	/* Swapping: unreachable gives way to not-ready. */
	assert_int_equal(nl_taints_desired(&v, NL_NOEXEC_ALLOW, NLT_UNREACHABLE_NE),
			 NLT_NOT_READY_NS | NLT_NOT_READY_NE);
	/* No Ready condition (a node still registering): nothing. */
	v.ready = 0;
	assert_int_equal(nl_taints_desired(&v, NL_NOEXEC_ALLOW, 0), 0);
	/* TaintNodesByCondition. */
	v = (struct nl_node_view){ .ready = 'T',
				   .memory_pressure = true,
				   .disk_pressure = true,
				   .pid_pressure = true,
				   .network_unavailable = true,
				   .unschedulable = true };
	assert_int_equal(nl_taints_desired(&v, NL_NOEXEC_ALLOW, 0),
			 NLT_MEMORY | NLT_DISK | NLT_PID | NLT_NETWORK | NLT_UNSCHEDULABLE);
}

static void test_desired_policies(void **state)
{
	struct nl_node_view v = { .ready = 'U' };
	/* HOLD: no new NoExecute taint, NoSchedule ones still follow. */
	assert_int_equal(nl_taints_desired(&v, NL_NOEXEC_HOLD, 0), NLT_UNREACHABLE_NS);
	/* HOLD keeps the NoExecute taints there are, even the "wrong" one... */
	assert_int_equal(nl_taints_desired(&v, NL_NOEXEC_HOLD, NLT_NOT_READY_NE),
			 NLT_UNREACHABLE_NS | NLT_NOT_READY_NE);
	/* ...until the node is Ready again. */
	v.ready = 'T';
	assert_int_equal(nl_taints_desired(&v, NL_NOEXEC_HOLD, NLT_UNREACHABLE_NE), 0);
	/* CLEAR removes them. */
	v.ready = 'U';
	assert_int_equal(nl_taints_desired(&v, NL_NOEXEC_CLEAR, NLT_UNREACHABLE_NE),
			 NLT_UNREACHABLE_NS);
}

static void test_present(void **state)
{
	json_t *t =
	    load("[{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":\"NoExecute\"},"
		 "{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":\"NoSchedule\"},"
		 "{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":\"PreferNoSchedule\"},"
		 "{\"key\":\"example.com/x\",\"effect\":\"NoExecute\"}]");
	assert_int_equal(nl_taints_present(t), NLT_UNREACHABLE_NE | NLT_UNREACHABLE_NS);
	json_decref(t);
	assert_int_equal(nl_taints_present(NULL), 0);
	struct taint info[] = { taint("node.kubernetes.io/not-ready", "NoSchedule", 0),
				taint("node.kubernetes.io/unschedulable", "NoSchedule", 0) };
	assert_int_equal(nl_taints_present_info(info, 2), NLT_NOT_READY_NS | NLT_UNSCHEDULABLE);
	assert_string_equal(nl_taint_key(NLT_PID), "node.kubernetes.io/pid-pressure");
	assert_string_equal(nl_taint_effect(NLT_UNREACHABLE_NE), "NoExecute");
	assert_null(nl_taint_key(1u << NLT_COUNT));
}

static void test_reconcile(void **state)
{
	json_t *t =
	    load("[{\"key\":\"example.com/mine\",\"value\":\"v\",\"effect\":\"NoSchedule\"},"
		 "{\"key\":\"node.kubernetes.io/not-ready\",\"effect\":\"NoExecute\","
		 "\"timeAdded\":\"2027-01-01T00:00:00Z\"}]");
	/* Nothing to change. */
	assert_null(nl_taints_reconcile(t, NLT_NOT_READY_NE, T0));
	/* Swap not-ready for unreachable (both effects): others stay first. */
	json_t *n = nl_taints_reconcile(t, NLT_UNREACHABLE_NE | NLT_UNREACHABLE_NS, T0);
	assert_non_null(n);
	char ts[32];
	time_format_rfc3339(T0, ts);
	assert_int_equal(json_array_size(n), 3);
	assert_string_equal(json_get_str(json_array_get(n, 0), "key"), "example.com/mine");
	assert_string_equal(json_get_str(json_array_get(n, 1), "key"),
			    "node.kubernetes.io/unreachable");
	assert_string_equal(json_get_str(json_array_get(n, 1), "effect"), "NoSchedule");
	assert_null(json_get_str(json_array_get(n, 1), "timeAdded"));
	assert_string_equal(json_get_str(json_array_get(n, 2), "effect"), "NoExecute");
	assert_string_equal(json_get_str(json_array_get(n, 2), "timeAdded"), ts);
	json_decref(n);
	/* Remove all managed ones. */
	n = nl_taints_reconcile(t, 0, T0);
	assert_int_equal(json_array_size(n), 1);
	json_decref(n);
	json_decref(t);
	/* Duplicates of a managed taint are collapsed. */
	t = load("[{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":\"NoExecute\"},"
		 "{\"key\":\"node.kubernetes.io/unreachable\",\"effect\":\"NoExecute\"}]");
	n = nl_taints_reconcile(t, NLT_UNREACHABLE_NE, T0);
	assert_int_equal(json_array_size(n), 1);
	json_decref(n);
	json_decref(t);
	/* From no taints at all. */
	n = nl_taints_reconcile(NULL, NLT_UNSCHEDULABLE, T0);
	assert_int_equal(json_array_size(n), 1);
	assert_string_equal(json_get_str(json_array_get(n, 0), "key"),
			    "node.kubernetes.io/unschedulable");
	json_decref(n);
}

/* ---- conditions ---- */

static const char *cond(json_t *node, const char *type, const char *field)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_get(node, "status.conditions"), i, c)
	{
		if (streq_ptr(json_get_str(c, "type"), type))
			return json_get_str(c, field);
	}
	return NULL;
}

static void test_view(void **state)
{
	json_t *n = load("{\"spec\":{\"unschedulable\":true},\"status\":{\"conditions\":["
			 "{\"type\":\"Ready\",\"status\":\"False\"},"
			 "{\"type\":\"MemoryPressure\",\"status\":\"True\"},"
			 "{\"type\":\"DiskPressure\",\"status\":\"False\"},"
			 "{\"type\":\"NetworkUnavailable\",\"status\":\"True\"}]}}");
	struct nl_node_view v;
	nl_node_view_from_json(n, &v);
	assert_int_equal(v.ready, 'F');
	assert_true(v.memory_pressure);
	assert_false(v.disk_pressure);
	assert_false(v.pid_pressure);
	assert_true(v.network_unavailable);
	assert_true(v.unschedulable);
	json_decref(n);
	n = load("{\"status\":{\"conditions\":[{\"type\":\"Ready\"}]}}");
	nl_node_view_from_json(n, &v);
	assert_int_equal(v.ready, 'U');
	json_decref(n);
	n = load("{}");
	nl_node_view_from_json(n, &v);
	assert_int_equal(v.ready, 0);
	json_decref(n);
}

static void test_mark_unknown(void **state)
{
	json_t *n = load(
	    "{\"metadata\":{\"creationTimestamp\":\"2027-01-01T00:00:00Z\"},\"status\":{"
	    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\","
	    "\"lastHeartbeatTime\":\"2027-01-02T00:00:00Z\","
	    "\"lastTransitionTime\":\"2027-01-01T00:00:00Z\"},"
	    "{\"type\":\"MemoryPressure\",\"status\":\"False\"},"
	    "{\"type\":\"NetworkUnavailable\",\"status\":\"False\"}]}}");
	char ts[32];
	time_format_rfc3339(T0, ts);
	assert_true(nl_conditions_mark_unknown(n, T0));
	assert_string_equal(cond(n, "Ready", "status"), "Unknown");
	assert_string_equal(cond(n, "Ready", "reason"), "NodeStatusUnknown");
	assert_string_equal(cond(n, "Ready", "message"), "Kubelet stopped posting node status.");
	assert_string_equal(cond(n, "Ready", "lastHeartbeatTime"), "2027-01-02T00:00:00Z");
	assert_string_equal(cond(n, "Ready", "lastTransitionTime"), ts);
	assert_string_equal(cond(n, "MemoryPressure", "status"), "Unknown");
	/* Conditions the kubelet never posted are added. */
	assert_string_equal(cond(n, "DiskPressure", "status"), "Unknown");
	assert_string_equal(cond(n, "DiskPressure", "reason"), "NodeStatusNeverUpdated");
	assert_string_equal(cond(n, "PIDPressure", "message"), "Kubelet never posted node status.");
	assert_string_equal(cond(n, "PIDPressure", "lastHeartbeatTime"), "2027-01-01T00:00:00Z");
	/* Others are left alone. */
	assert_string_equal(cond(n, "NetworkUnavailable", "status"), "False");
	/* Twice: nothing more changes. */
	assert_false(nl_conditions_mark_unknown(n, T0 + SEC));
	assert_string_equal(cond(n, "Ready", "lastTransitionTime"), ts);
	json_decref(n);
	/* A node with no status at all. */
	n = load("{\"metadata\":{}}");
	assert_true(nl_conditions_mark_unknown(n, T0));
	assert_int_equal(json_array_size(json_get(n, "status.conditions")), 4);
	json_decref(n);
}

/* ---- zones ---- */

static void test_zone_state(void **state)
{
	assert_int_equal(nl_zone_state(0, 0), NL_ZONE_NORMAL);
	assert_int_equal(nl_zone_state(3, 0), NL_ZONE_NORMAL);
	assert_int_equal(nl_zone_state(0, 1), NL_ZONE_FULL);
	assert_int_equal(nl_zone_state(0, 50), NL_ZONE_FULL);
	/* Two failures are never a disruption, whatever the fraction. */
	assert_int_equal(nl_zone_state(1, 2), NL_ZONE_NORMAL);
	/* Three out of five: 60% >= 55%. */
	assert_int_equal(nl_zone_state(2, 3), NL_ZONE_PARTIAL);
	/* Three out of six: 50%. */
	assert_int_equal(nl_zone_state(3, 3), NL_ZONE_NORMAL);
	assert_int_equal(nl_zone_state(45, 55), NL_ZONE_PARTIAL);
	assert_int_equal(nl_zone_state(46, 54), NL_ZONE_NORMAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tolerates),	 cmocka_unit_test(test_tolerations_parse),
		cmocka_unit_test(test_eviction_time),	 cmocka_unit_test(test_desired),
		cmocka_unit_test(test_desired_policies), cmocka_unit_test(test_present),
		cmocka_unit_test(test_reconcile),	 cmocka_unit_test(test_view),
		cmocka_unit_test(test_mark_unknown),	 cmocka_unit_test(test_zone_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
