/* SPDX-License-Identifier: Apache-2.0 */
/* The pure logic of the ReplicaSet and Deployment controllers
 * (controllers/workload.h): template hashing and comparison, rollout step
 * arithmetic, proportional scaling, deletion ranking, revisions and
 * annotations, conditions, expectations and slow-start batches. */
#include <pthread.h>

#include "unit.h"

#include "controllers/workload.h"
#include "lib/json.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	if (!j)
		fail_msg("bad JSON in test: %s: %s", text, e.text);
	return j;
}

/* ---- templates ---- */

static const char *TMPL =
    "{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
    "\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1\",\"resources\":{}}],"
    "\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30}}";

static void test_hash_alphabet_and_stability(void **state)
{
	_cleanup_json_ json_t *t = J(TMPL);
	char h1[16], h2[16];
	workload_template_hash(t, NULL, h1);
	workload_template_hash(t, NULL, h2);
	assert_string_equal(h1, h2);
	assert_true(strlen(h1) >= 1 && strlen(h1) <= 10);
	/* Decimal digits mapped like Kubernetes' SafeEncodeString. */
	for (const char *p = h1; *p; p++)
		assert_non_null(strchr("456789bcdf", *p));

	/* Key order, and fields a typed client writes empty, do not matter. */
	_cleanup_json_ json_t *t2 =
	    J("{\"spec\":{\"terminationGracePeriodSeconds\":30,\"restartPolicy\":\"Always\","
	      "\"containers\":[{\"image\":\"nginx:1\",\"name\":\"nginx\"}]},"
	      "\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":\"web\"}}}");
	workload_template_hash(t2, NULL, h2);
	assert_string_equal(h1, h2);

	/* The pod-template-hash label itself is ignored. */
	_cleanup_json_ json_t *t3 = json_deep_copy(t);
	json_set_str(json_get(t3, "metadata.labels"), WL_HASH_LABEL, "abc");
	workload_template_hash(t3, NULL, h2);
	assert_string_equal(h1, h2);

	/* A different image, or a collision count, gives another hash. */
	_cleanup_json_ json_t *t4 = json_deep_copy(t);
	json_set_str(json_array_get(json_get(t4, "spec.containers"), 0), "image", "nginx:2");
	workload_template_hash(t4, NULL, h2);
	assert_string_not_equal(h1, h2);
	int32_t cc = 0, cc1 = 1;
	char h3[16];
	workload_template_hash(t, &cc, h2);
	workload_template_hash(t, &cc1, h3);
	assert_string_not_equal(h1, h2);
	assert_string_not_equal(h2, h3);
}

static void test_fnv_and_safe_encode(void **state)
{
	/* FNV-1a test vectors. */
	assert_int_equal(workload_fnv32a("", 0, WL_FNV32_OFFSET), 0x811c9dc5u);
	assert_int_equal(workload_fnv32a("a", 1, WL_FNV32_OFFSET), 0xe40c292cu);
	assert_int_equal(workload_fnv32a("foobar", 6, WL_FNV32_OFFSET), 0xbf9cf968u);
	char out[16];
	workload_safe_encode("0123456789", out);
	assert_string_equal(out, "456789bcdf");
}

static void test_template_equal_ignore_hash(void **state)
{
	_cleanup_json_ json_t *d = J(TMPL);
	_cleanup_json_ json_t *rs = json_deep_copy(d);
	json_set_str(json_get(rs, "metadata.labels"), WL_HASH_LABEL, "5d4b9d7f8c");
	assert_true(workload_template_equal(d, rs));
	/* What `kubectl rollout undo` sends back: the RS template without the
	 * hash label, re-encoded by a typed client. */
	_cleanup_json_ json_t *undo =
	    J("{\"metadata\":{\"creationTimestamp\":null,\"labels\":{\"app\":\"web\"}},"
	      "\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1\",\"resources\":{}"
	      "}],"
	      "\"restartPolicy\":\"Always\",\"terminationGracePeriodSeconds\":30}}");
	assert_true(workload_template_equal(undo, rs));
	/* A real difference is one. */
	json_set_int(json_get(undo, "spec"), "terminationGracePeriodSeconds", 5);
	assert_false(workload_template_equal(undo, rs));
	_cleanup_json_ json_t *lab = json_deep_copy(d);
	json_set_str(json_get(lab, "metadata.labels"), "tier", "x");
	assert_false(workload_template_equal(lab, d));
}

/* ---- int or percent ---- */

static void test_scaled_values(void **state)
{
	int32_t v;
	_cleanup_json_ json_t *i3 = json_integer(3);
	_cleanup_json_ json_t *p25 = json_string("25%");
	_cleanup_json_ json_t *p0 = json_string("0%");
	_cleanup_json_ json_t *bad = json_string("25");
	_cleanup_json_ json_t *bad2 = json_string("x%");
	assert_int_equal(workload_scaled_value(i3, 10, true, &v), 0);
	assert_int_equal(v, 3);
	/* 25% of 10 = 2.5: surge rounds up, unavailable down. */
	assert_int_equal(workload_scaled_value(p25, 10, true, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(workload_scaled_value(p25, 10, false, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(workload_scaled_value(p25, 4, true, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(workload_scaled_value(p25, 3, false, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(workload_scaled_value(p0, 10, true, &v), 0);
	assert_int_equal(v, 0);
	v = 42;
	assert_int_equal(workload_scaled_value(bad, 10, true, &v), -EINVAL);
	assert_int_equal(workload_scaled_value(bad2, 10, true, &v), -EINVAL);
	assert_int_equal(workload_scaled_value(NULL, 10, true, &v), -EINVAL);
	assert_int_equal(v, 42);
}

static void test_fenceposts(void **state)
{
	int32_t s, u;
	_cleanup_json_ json_t *p25 = json_string("25%");
	_cleanup_json_ json_t *zero = json_integer(0);
	_cleanup_json_ json_t *zp = json_string("0%");
	_cleanup_json_ json_t *one = json_integer(1);
	workload_fenceposts(p25, p25, 3, &s, &u);
	assert_int_equal(s, 1);
	assert_int_equal(u, 0);
	workload_fenceposts(p25, p25, 10, &s, &u);
	assert_int_equal(s, 3);
	assert_int_equal(u, 2);
	/* Both zero: one pod may be unavailable, or nothing could move. */
	workload_fenceposts(zero, zp, 5, &s, &u);
	assert_int_equal(s, 0);
	assert_int_equal(u, 1);
	workload_fenceposts(zero, one, 5, &s, &u);
	assert_int_equal(s, 0);
	assert_int_equal(u, 1);

	struct rollout r;
	rollout_init(&r, 3, true, p25, p25, 0);
	assert_int_equal(r.max_surge, 1);
	assert_int_equal(r.max_unavailable, 0);
	/* maxUnavailable never exceeds replicas, and is 0 for 0 replicas. */
	_cleanup_json_ json_t *ten = json_integer(10);
	rollout_init(&r, 4, true, zero, ten, 0);
	assert_int_equal(r.max_unavailable, 4);
	rollout_init(&r, 0, true, p25, p25, 0);
	assert_int_equal(r.max_unavailable, 0);
	/* Recreate: neither. */
	rollout_init(&r, 4, false, p25, p25, 0);
	assert_int_equal(r.max_surge, 0);
	assert_int_equal(r.max_unavailable, 0);
}

/* ---- rolling update steps ---- */

static struct rollout mk_rollout(int32_t replicas, int32_t surge, int32_t unavailable)
{
	_cleanup_json_ json_t *s = json_integer(surge);
	_cleanup_json_ json_t *u = json_integer(unavailable);
	struct rollout r;
	rollout_init(&r, replicas, true, s, u, replicas);
	return r;
}

static void test_new_rs_replicas(void **state)
{
	struct rollout r = mk_rollout(10, 3, 2);
	struct rollout_rs old = { .name = "old", .replicas = 10, .available = 10 };
	struct rollout_rs nw = { .name = "new", .replicas = 0 };
	struct rollout_rs *all[] = { &old, &nw };
	/* 13 pods allowed, 10 exist: grow by 3. */
	assert_int_equal(rollout_new_rs_replicas(&r, all, 2, &nw), 3);
	/* At the limit: no growth. */
	nw.replicas = 3;
	assert_int_equal(rollout_new_rs_replicas(&r, all, 2, &nw), 3);
	/* Never beyond replicas. */
	old.replicas = 0;
	nw.replicas = 8;
	assert_int_equal(rollout_new_rs_replicas(&r, all, 2, &nw), 10);
	/* Recreate: all at once. */
	_cleanup_json_ json_t *q = json_string("25%");
	struct rollout rc;
	rollout_init(&rc, 10, false, q, q, 10);
	nw.replicas = 0;
	old.replicas = 10;
	assert_int_equal(rollout_new_rs_replicas(&rc, all, 2, &nw), 10);

	/* reconcile_new shrinks a new RS larger than replicas. */
	nw.replicas = 12;
	struct rollout_rs *olds[] = { &old };
	assert_true(rollout_reconcile_new(&r, &nw, olds, 1));
	assert_int_equal(nw.replicas, 10);
	assert_false(rollout_reconcile_new(&r, &nw, olds, 1));
}

static void test_reconcile_old(void **state)
{
	/* replicas 10, surge 3, unavailable 2: min available 8. */
	struct rollout r = mk_rollout(10, 3, 2);
	struct rollout_rs old = { .name = "old", .replicas = 10, .available = 10 };
	struct rollout_rs nw = { .name = "new", .replicas = 3, .available = 0 };
	struct rollout_rs *olds[] = { &old };
	/* 13 pods, 3 new unavailable: 13 - 8 - 3 = 2 may go. */
	assert_int_equal(rollout_reconcile_old(&r, &nw, olds, 1), 2);
	assert_int_equal(old.replicas, 8);

	/* Unavailable old pods go first, without counting against availability. */
	struct rollout_rs o2 = { .name = "o2", .creation_usec = 1, .replicas = 10, .available = 6 };
	struct rollout_rs n2 = { .name = "n2", .creation_usec = 2, .replicas = 3, .available = 3 };
	struct rollout_rs *olds2[] = { &o2 };
	/* 13 - 8 - 0 = 5 may go: 4 unhealthy, then available 9 - 8 = 1. */
	assert_int_equal(rollout_reconcile_old(&r, &n2, olds2, 1), 5);
	assert_int_equal(o2.replicas, 5);

	/* Nothing available to spare: nothing scaled down. */
	struct rollout_rs o3 = { .name = "o3", .replicas = 8, .available = 8 };
	struct rollout_rs n3 = { .name = "n3", .replicas = 5, .available = 0 };
	struct rollout_rs *olds3[] = { &o3 };
	assert_int_equal(rollout_reconcile_old(&r, &n3, olds3, 1), 0);
	assert_int_equal(o3.replicas, 8);

	/* Oldest first across several old ReplicaSets. */
	struct rollout_rs a = { .name = "a", .creation_usec = 1, .replicas = 2, .available = 2 };
	struct rollout_rs b = { .name = "b", .creation_usec = 2, .replicas = 4, .available = 4 };
	struct rollout_rs c = { .name = "c", .creation_usec = 3, .replicas = 4, .available = 4 };
	struct rollout_rs n4 = { .name = "n4", .creation_usec = 4, .replicas = 3, .available = 3 };
	struct rollout_rs *olds4[] = { &c, &b, &a };
	/* 13 pods, min 8: 5 go; available 13 - 8 = 5: a 2, b 3. */
	assert_int_equal(rollout_reconcile_old(&r, &n4, olds4, 3), 5);
	assert_int_equal(a.replicas, 0);
	assert_int_equal(b.replicas, 1);
	assert_int_equal(c.replicas, 4);
}

/* A whole rolling update against a simulated cluster, step by step. The
 * planner sees the ReplicaSets' status `lag` steps late (an informer behind
 * the cluster, ReplicaSet controllers slow to report); after each decision
 * the cluster reacts in the worst order: pods asked of the new ReplicaSet
 * are created at once, old pods are deleted only a step after their
 * ReplicaSet was scaled down, and new pods become ready a step after they
 * appear. At every point the pods that exist stay within replicas +
 * maxSurge and the available ones at least replicas - maxUnavailable, and
 * the rollout finishes. */
struct pods {
	int32_t old_pods, new_pods, new_ready; /* every old pod is ready */
};

#define MAX_LAG 4

static void simulate_rollout(int32_t replicas, const char *surge_s, const char *unavail_s, int lag)
{
	_cleanup_json_ json_t *su = surge_s[strlen(surge_s) - 1] == '%'
					? json_string(surge_s)
					: json_integer(atoi(surge_s));
	_cleanup_json_ json_t *un = unavail_s[strlen(unavail_s) - 1] == '%'
					? json_string(unavail_s)
					: json_integer(atoi(unavail_s));
	struct rollout r;
	rollout_init(&r, replicas, true, su, un, replicas);
	struct pods real = { replicas, 0, 0 }, hist[MAX_LAG];
	for (int i = 0; i < MAX_LAG; i++)
		hist[i] = real;
	struct rollout_rs old = { .name = "old", .creation_usec = 1, .replicas = replicas };
	struct rollout_rs nw = { .name = "new", .creation_usec = 2 };
	struct rollout_rs *olds[] = { &old };
	int32_t max_pods = replicas + r.max_surge, min_ready = replicas - r.max_unavailable;
	int32_t old_spec_before = replicas;
	for (int step = 0;; step++) {
		assert_true(step < 1000);
		if (nw.replicas == replicas && real.new_ready == replicas && real.old_pods == 0)
			break;
		struct pods seen = hist[step % lag];
		hist[step % lag] = real;
		old.current = old.available = seen.old_pods;
		nw.current = seen.new_pods;
		nw.available = seen.new_ready;
		if (!rollout_reconcile_new(&r, &nw, olds, 1))
			rollout_reconcile_old(&r, &nw, olds, 1);
		assert_true(old.replicas + nw.replicas <= max_pods);

		int32_t ready_before = real.new_ready;
		real.new_ready = real.new_pods;
		real.new_pods = nw.replicas;
		assert_true(real.old_pods + real.new_pods <= max_pods);
		real.old_pods = MIN(real.old_pods, old_spec_before);
		old_spec_before = old.replicas;
		assert_true(real.old_pods + ready_before >= min_ready);
	}
}

static void test_rolling_update_bounds(void **state)
{
	for (int lag = 1; lag <= MAX_LAG; lag++) {
		simulate_rollout(3, "25%", "25%", lag);
		simulate_rollout(3, "1", "0", lag);
		simulate_rollout(10, "25%", "25%", lag);
		simulate_rollout(10, "0", "3", lag);
		simulate_rollout(10, "3", "0", lag);
		simulate_rollout(7, "100%", "0%", lag);
		simulate_rollout(1, "0", "1", lag);
		simulate_rollout(100, "10%", "10%", lag);
	}
}

static void test_active_or_latest_and_saturation(void **state)
{
	struct rollout r = mk_rollout(5, 1, 1);
	struct rollout_rs a = { .name = "a", .creation_usec = 1, .replicas = 0 };
	struct rollout_rs b = { .name = "b", .creation_usec = 2, .replicas = 0 };
	struct rollout_rs nw = { .name = "n", .creation_usec = 3, .replicas = 3 };
	struct rollout_rs *olds[] = { &a, &b };
	assert_ptr_equal(rollout_active_or_latest(&nw, olds, 2), &nw);
	nw.replicas = 0;
	assert_ptr_equal(rollout_active_or_latest(&nw, olds, 2), &nw);
	assert_ptr_equal(rollout_active_or_latest(NULL, olds, 2), &b); /* newest */
	a.replicas = 1;
	nw.replicas = 1;
	assert_null(rollout_active_or_latest(&nw, olds, 2));

	struct rollout_rs s = {
		.name = "s", .replicas = 5, .available = 5, .has_desired = true, .desired = 5
	};
	assert_true(rollout_is_saturated(&r, &s));
	s.available = 4;
	assert_false(rollout_is_saturated(&r, &s));
	s.available = 5;
	s.has_desired = false;
	assert_false(rollout_is_saturated(&r, &s));
}

static void test_proportional_scale(void **state)
{
	/* Mid-rollout at 10 replicas (surge 3, so 13 allowed): old 8, new 5,
	 * both sized for 13. Scale the deployment to 20 (surge 5 at 25%:
	 * 25 allowed): 12 more spread in proportion, 8*25/13 ~ 15 and 5*25/13
	 * ~ 10. */
	_cleanup_json_ json_t *q = json_string("25%");
	struct rollout r;
	rollout_init(&r, 20, true, q, q, 13);
	struct rollout_rs old = {
		.name = "old", .creation_usec = 1, .replicas = 8, .has_max = true, .max = 13
	};
	struct rollout_rs nw = {
		.name = "new", .creation_usec = 2, .replicas = 5, .has_max = true, .max = 13
	};
	struct rollout_rs *olds[] = { &old };
	rollout_scale(&r, &nw, olds, 1);
	assert_int_equal(old.replicas + nw.replicas, 25);
	assert_int_equal(old.replicas, 15);
	assert_int_equal(nw.replicas, 10);
	assert_true(old.touch && nw.touch);

	/* And back down to 4 (surge 1: 5 allowed). */
	rollout_init(&r, 4, true, q, q, 25);
	old.max = nw.max = 25;
	rollout_scale(&r, &nw, olds, 1);
	assert_int_equal(old.replicas + nw.replicas, 5);
	assert_int_equal(old.replicas, 3);
	assert_int_equal(nw.replicas, 2);

	/* Scaling to zero empties every ReplicaSet. */
	rollout_init(&r, 0, true, q, q, 5);
	rollout_scale(&r, &nw, olds, 1);
	assert_int_equal(old.replicas, 0);
	assert_int_equal(nw.replicas, 0);

	/* A single active ReplicaSet just takes the new size. */
	struct rollout_rs only = { .name = "only", .replicas = 3 };
	struct rollout_rs idle = { .name = "idle", .replicas = 0 };
	struct rollout_rs *olds2[] = { &idle };
	rollout_init(&r, 7, true, q, q, 3);
	rollout_scale(&r, &only, olds2, 1);
	assert_int_equal(only.replicas, 7);
	assert_int_equal(idle.replicas, 0);

	/* Saturated new ReplicaSet: old ones go to zero. */
	struct rollout_rs sat = {
		.name = "sat", .replicas = 7, .available = 7, .has_desired = true, .desired = 7
	};
	struct rollout_rs left = { .name = "left", .replicas = 2 };
	struct rollout_rs *olds3[] = { &left };
	rollout_scale(&r, &sat, olds3, 1);
	assert_int_equal(left.replicas, 0);
	assert_int_equal(sat.replicas, 7);
}

static void test_proportion(void **state)
{
	_cleanup_json_ json_t *z = json_integer(0);
	struct rollout r;
	rollout_init(&r, 10, true, z, z, 5);
	struct rollout_rs rs = { .name = "x", .replicas = 2, .has_max = true, .max = 5 };
	/* 2 * 10 / 5 = 4: +2, capped by what is left to add. */
	assert_int_equal(rollout_proportion(&r, &rs, 5, 0), 2);
	assert_int_equal(rollout_proportion(&r, &rs, 5, 4), 1);
	assert_int_equal(rollout_proportion(&r, &rs, 5, 5), 0);
	/* No annotation: the deployment's status.replicas is the base. */
	rs.has_max = false;
	assert_int_equal(rollout_proportion(&r, &rs, 5, 0), 2);
	rs.replicas = 0;
	assert_int_equal(rollout_proportion(&r, &rs, 5, 0), 0);
}

/* ---- deletion ranking ---- */

static void test_pod_ranking(void **state)
{
	struct pod_rank p[] = {
		{ .name = "running-ready-old",
		  .assigned = true,
		  .phase = 2,
		  .ready = true,
		  .ready_usec = 100,
		  .creation_usec = 10 },
		{ .name = "unscheduled", .assigned = false, .phase = 0, .creation_usec = 50 },
		{ .name = "pending", .assigned = true, .phase = 0, .creation_usec = 50 },
		{ .name = "unknown", .assigned = true, .phase = 1, .creation_usec = 50 },
		{ .name = "running-notready",
		  .assigned = true,
		  .phase = 2,
		  .ready = false,
		  .creation_usec = 50 },
		{ .name = "running-ready-new",
		  .assigned = true,
		  .phase = 2,
		  .ready = true,
		  .ready_usec = 200,
		  .creation_usec = 20 },
		{ .name = "running-ready-restarts",
		  .assigned = true,
		  .phase = 2,
		  .ready = true,
		  .ready_usec = 100,
		  .restarts = 3,
		  .creation_usec = 5 },
		{ .name = "running-ready-crowded",
		  .assigned = true,
		  .phase = 2,
		  .ready = true,
		  .ready_usec = 50,
		  .colocated = 3,
		  .creation_usec = 1 },
	};
	qsort(p, ARRAY_SIZE(p), sizeof(p[0]), pod_rank_cmp);
	const char *want[] = {
		"unscheduled",
		"pending",
		"unknown",
		"running-notready",
		"running-ready-crowded",
		"running-ready-new",
		"running-ready-restarts",
		"running-ready-old",
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		assert_string_equal(p[i].name, want[i]);

	/* Equal otherwise: more restarts first, then newer first. */
	struct pod_rank q[] = {
		{ .name = "old", .assigned = true, .phase = 2, .creation_usec = 1 },
		{ .name = "new", .assigned = true, .phase = 2, .creation_usec = 9 },
		{ .name = "crashy",
		  .assigned = true,
		  .phase = 2,
		  .restarts = 2,
		  .creation_usec = 1 },
	};
	qsort(q, ARRAY_SIZE(q), sizeof(q[0]), pod_rank_cmp);
	assert_string_equal(q[0].name, "crashy");
	assert_string_equal(q[1].name, "new");
	assert_string_equal(q[2].name, "old");
	assert_int_equal(pod_rank_phase("Pending"), 0);
	assert_int_equal(pod_rank_phase("Unknown"), 1);
	assert_int_equal(pod_rank_phase("Running"), 2);
}

/* ---- revisions and annotations ---- */

static void test_revisions(void **state)
{
	_cleanup_json_ json_t *a = J("{\"deployment.kubernetes.io/revision\":\"7\"}");
	_cleanup_json_ json_t *b = J("{\"deployment.kubernetes.io/revision\":\"x\"}");
	_cleanup_json_ json_t *c = J("{}");
	assert_int_equal(workload_revision(a), 7);
	assert_int_equal(workload_revision(b), -1);
	assert_int_equal(workload_revision(c), 0);
	assert_int_equal(workload_revision(NULL), 0);
	int32_t v;
	_cleanup_json_ json_t *d = J("{\"deployment.kubernetes.io/desired-replicas\":\"3\"}");
	assert_true(workload_int_annotation(d, WL_ANN_DESIRED, &v));
	assert_int_equal(v, 3);
	assert_false(workload_int_annotation(d, WL_ANN_MAX, &v));
	assert_true(workload_annotation_skipped(WL_ANN_REVISION));
	assert_true(workload_annotation_skipped(WL_ANN_LAST_APPLIED));
	assert_false(workload_annotation_skipped(WL_ANN_CHANGE_CAUSE));
}

static void test_new_rs_annotations(void **state)
{
	_cleanup_json_ json_t *dann =
	    J("{\"kubernetes.io/change-cause\":\"v2\","
	      "\"deployment.kubernetes.io/revision\":\"1\","
	      "\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"}");
	/* A new ReplicaSet: copies, revision, replica annotations; no history. */
	_cleanup_json_ json_t *rs = json_object();
	assert_true(workload_set_new_rs_annotations(dann, rs, 2, false, 3, 4));
	_cleanup_json_ json_t *want = J("{\"kubernetes.io/change-cause\":\"v2\","
					"\"deployment.kubernetes.io/revision\":\"2\","
					"\"deployment.kubernetes.io/desired-replicas\":\"3\","
					"\"deployment.kubernetes.io/max-replicas\":\"4\"}");
	assert_true(json_equal(rs, want));
	/* Nothing to change the second time. */
	assert_false(workload_set_new_rs_annotations(dann, rs, 2, true, 0, 0));
	/* Never lowered. */
	assert_false(workload_set_new_rs_annotations(dann, rs, 1, true, 0, 0));
	assert_string_equal(json_string_value(json_object_get(rs, WL_ANN_REVISION)), "2");

	/* Rolled back to: the new revision, the old one in the history. */
	assert_true(workload_set_new_rs_annotations(dann, rs, 5, true, 0, 0));
	assert_string_equal(json_string_value(json_object_get(rs, WL_ANN_REVISION)), "5");
	assert_string_equal(json_string_value(json_object_get(rs, WL_ANN_REVISION_HISTORY)), "2");
	assert_true(workload_set_new_rs_annotations(dann, rs, 8, true, 0, 0));
	assert_string_equal(json_string_value(json_object_get(rs, WL_ANN_REVISION_HISTORY)), "2,5");
	/* Not a number: left alone. */
	_cleanup_json_ json_t *odd = J("{\"deployment.kubernetes.io/revision\":\"x\"}");
	_cleanup_json_ json_t *none = json_object();
	assert_false(workload_set_new_rs_annotations(none, odd, 3, true, 0, 0));
	assert_string_equal(json_string_value(json_object_get(odd, WL_ANN_REVISION)), "x");

	_cleanup_json_ json_t *r2 = json_object();
	assert_true(workload_set_replicas_annotations(r2, 5, 7));
	assert_false(workload_set_replicas_annotations(r2, 5, 7));
	assert_true(workload_set_replicas_annotations(r2, 5, 6));
}

/* ---- conditions ---- */

static void test_conditions(void **state)
{
	_cleanup_json_ json_t *st = json_object();
	assert_true(workload_condition_put(st, workload_condition_new("Progressing", "True",
								      "NewReplicaSetCreated", "m1",
								      1000000000000000LL, true)));
	json_t *c = workload_condition_get(st, "Progressing");
	assert_non_null(c);
	assert_string_equal(json_get_str(c, "lastUpdateTime"), "2001-09-09T01:46:40Z");
	/* Same status and reason: nothing changes, not even the time. */
	assert_false(workload_condition_put(
	    st, workload_condition_new("Progressing", "True", "NewReplicaSetCreated", "other",
				       2000000000000000LL, true)));
	assert_string_equal(json_get_str(workload_condition_get(st, "Progressing"), "message"),
			    "m1");
	/* Same status, new reason: the transition time stays. */
	assert_true(workload_condition_put(
	    st, workload_condition_new("Available", "True", "MinimumReplicasAvailable", "a",
				       1500000000000000LL, true)));
	assert_true(workload_condition_put(
	    st, workload_condition_new("Progressing", "True", "NewReplicaSetAvailable", "m2",
				       2000000000000000LL, true)));
	c = workload_condition_get(st, "Progressing");
	assert_string_equal(json_get_str(c, "lastTransitionTime"), "2001-09-09T01:46:40Z");
	assert_string_equal(json_get_str(c, "lastUpdateTime"), "2033-05-18T03:33:20Z");
	/* Replaced conditions move to the end. */
	assert_string_equal(
	    json_get_str(json_array_get(json_object_get(st, "conditions"), 1), "type"),
	    "Progressing");
	/* A status change moves the transition time too. */
	assert_true(workload_condition_put(
	    st, workload_condition_new("Progressing", "False", "ProgressDeadlineExceeded", "m3",
				       2100000000000000LL, true)));
	c = workload_condition_get(st, "Progressing");
	assert_string_equal(json_get_str(c, "lastTransitionTime"), "2036-07-18T13:20:00Z");
	/* ReplicaSet conditions have no lastUpdateTime. */
	json_t *rc =
	    workload_condition_new("ReplicaFailure", "True", "FailedCreate", "x", 0, false);
	assert_null(json_object_get(rc, "lastUpdateTime"));
	json_decref(rc);
	workload_condition_remove(st, "Progressing");
	workload_condition_remove(st, "Available");
	assert_null(json_object_get(st, "conditions"));
}

/* ---- expectations ---- */

static void test_expectations(void **state)
{
	struct expectations *e = expectations_new(WL_EXPECTATIONS_TTL_USEC);
	assert_true(expectations_satisfied(e, "ns/rs"));
	expectations_expect_creations(e, "ns/rs", 2);
	assert_false(expectations_satisfied(e, "ns/rs"));
	expectations_creation_observed(e, "ns/rs");
	assert_false(expectations_satisfied(e, "ns/rs"));
	expectations_creation_observed(e, "ns/rs");
	assert_true(expectations_satisfied(e, "ns/rs"));

	char *keys[] = { "ns/a", "ns/b" };
	expectations_expect_deletions(e, "ns/rs", keys, 2);
	assert_false(expectations_satisfied(e, "ns/rs"));
	/* A pod not expected, and the same pod twice, count once at most. */
	expectations_deletion_observed(e, "ns/rs", "ns/zzz");
	expectations_deletion_observed(e, "ns/rs", "ns/a");
	expectations_deletion_observed(e, "ns/rs", "ns/a");
	assert_false(expectations_satisfied(e, "ns/rs"));
	expectations_deletion_observed(e, "ns/rs", "ns/b");
	assert_true(expectations_satisfied(e, "ns/rs"));

	/* Creations that will never show up are lowered. */
	expectations_expect_creations(e, "ns/rs", 5);
	expectations_lower_creations(e, "ns/rs", 5);
	assert_true(expectations_satisfied(e, "ns/rs"));
	expectations_expect_creations(e, "ns/rs", 1);
	expectations_delete(e, "ns/rs");
	assert_true(expectations_satisfied(e, "ns/rs"));
	expectations_free(e);

	/* Expired expectations are given up. */
	e = expectations_new(1000);
	expectations_expect_creations(e, "ns/x", 1);
	usleep(5000);
	assert_true(expectations_satisfied(e, "ns/x"));
	expectations_free(e);
}

/* ---- slow start ---- */

struct calls {
	pthread_mutex_t mu;
	int n;
	int fail_at;
};

static int task(size_t i, void *ud)
{
	struct calls *c = ud;
	pthread_mutex_lock(&c->mu);
	c->n++;
	pthread_mutex_unlock(&c->mu);
	return (int)i == c->fail_at ? -EIO : 0;
}

static void test_slow_start(void **state)
{
	int err;
	struct calls c = { PTHREAD_MUTEX_INITIALIZER, 0, -1 };
	assert_int_equal(workload_slow_start(10, 1, task, &c, &err), 10);
	assert_int_equal(err, 0);
	assert_int_equal(c.n, 10);
	/* Batches 1, 2, 4, 3: a failure at item 3 stops after the third
	 * batch (items 3..6): 7 tried, 6 made. */
	c = (struct calls){ PTHREAD_MUTEX_INITIALIZER, 0, 3 };
	assert_int_equal(workload_slow_start(10, 1, task, &c, &err), 6);
	assert_int_equal(err, -EIO);
	assert_int_equal(c.n, 7);
	/* The first item failing stops everything. */
	c = (struct calls){ PTHREAD_MUTEX_INITIALIZER, 0, 0 };
	assert_int_equal(workload_slow_start(500, 1, task, &c, &err), 0);
	assert_int_equal(c.n, 1);
	c = (struct calls){ PTHREAD_MUTEX_INITIALIZER, 0, -1 };
	assert_int_equal(workload_slow_start(0, 1, task, &c, &err), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(workload_parallel(0, 100, task, &c, &err), 100);
	assert_int_equal(c.n, 100);
}

/* ---- ReplicaSet views and the index ---- */

static void test_rs_view_and_index(void **state)
{
	_cleanup_json_ json_t *rs =
	    J("{\"metadata\":{\"name\":\"web-abc\",\"namespace\":\"ns\",\"uid\":\"u1\","
	      "\"resourceVersion\":\"42\",\"generation\":3,"
	      "\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"abc\"},"
	      "\"annotations\":{\"deployment.kubernetes.io/revision\":\"4\","
	      "\"deployment.kubernetes.io/desired-replicas\":\"3\"},"
	      "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\","
	      "\"name\":\"web\",\"uid\":\"d1\",\"controller\":true}]},"
	      "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
	      "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\",\"pod-template-hash\":"
	      "\"abc\"}},"
	      "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}},"
	      "\"status\":{\"replicas\":2,\"readyReplicas\":1,\"availableReplicas\":1,"
	      "\"observedGeneration\":3,\"conditions\":[{\"type\":\"ReplicaFailure\","
	      "\"status\":\"True\",\"reason\":\"FailedCreate\",\"message\":\"quota\"}]}}");
	struct rs_index *x = rs_index_new();
	struct rs_view *v = rs_index_put_json(x, rs);
	assert_string_equal(v->key, "ns/web-abc");
	assert_int_equal(v->rv, 42);
	assert_int_equal(v->revision, 4);
	assert_true(v->has_desired);
	assert_false(v->has_max);
	assert_true(v->has_controller);
	assert_string_equal(v->controller.uid, "d1");
	assert_int_equal(v->replicas, 3);
	assert_int_equal(v->st_replicas, 2);
	assert_int_equal(v->st_available, 1);
	assert_non_null(v->failure);
	size_t len;
	_cleanup_json_ json_t *pl = J("{\"app\":\"web\"}");
	_cleanup_free_ char *pod = packed_labels_from_json(pl, &len);
	assert_true(label_selector_matches(&v->selector, pod));
	_cleanup_json_ json_t *tmpl =
	    J("{\"metadata\":{\"labels\":{\"app\":\"web\"}},"
	      "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}");
	_cleanup_free_ char *canon = workload_template_canonical(tmpl);
	assert_string_equal(v->tmpl_canonical, canon);
	rs_view_unref(v);

	struct rs_view **list;
	assert_int_equal(rs_index_list(x, "ns", &list), 1);
	rs_views_free(list, 1);
	assert_int_equal(rs_index_list(x, "n", &list), 0);
	rs_views_free(list, 0);
	v = rs_index_get(x, "ns/web-abc");
	assert_non_null(v);
	rs_view_unref(v);
	rs_index_remove(x, "ns/web-abc");
	assert_null(rs_index_get(x, "ns/web-abc"));
	rs_index_free(x);
}

static void test_labels(void **state)
{
	size_t len;
	_cleanup_json_ json_t *a = J("{\"app\":\"web\",\"tier\":\"fe\"}");
	_cleanup_json_ json_t *b = J("{\"app\":\"web\"}");
	_cleanup_free_ char *pa = packed_labels_from_json(a, &len);
	_cleanup_free_ char *pa2 = packed_labels_from_json(a, &len);
	_cleanup_free_ char *pb = packed_labels_from_json(b, &len);
	_cleanup_free_ char *pe = packed_labels_from_json(NULL, &len);
	assert_true(workload_labels_equal(pa, pa2));
	assert_false(workload_labels_equal(pa, pb));
	assert_false(workload_labels_equal(pb, pe));
	assert_true(workload_labels_equal(pe, pe));
	assert_true(workload_labels_superset(pa, pb));
	assert_false(workload_labels_superset(pb, pa));
	assert_true(workload_labels_superset(pb, pe));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_alphabet_and_stability),
		cmocka_unit_test(test_fnv_and_safe_encode),
		cmocka_unit_test(test_template_equal_ignore_hash),
		cmocka_unit_test(test_scaled_values),
		cmocka_unit_test(test_fenceposts),
		cmocka_unit_test(test_new_rs_replicas),
		cmocka_unit_test(test_reconcile_old),
		cmocka_unit_test(test_rolling_update_bounds),
		cmocka_unit_test(test_active_or_latest_and_saturation),
		cmocka_unit_test(test_proportional_scale),
		cmocka_unit_test(test_proportion),
		cmocka_unit_test(test_pod_ranking),
		cmocka_unit_test(test_revisions),
		cmocka_unit_test(test_new_rs_annotations),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_expectations),
		cmocka_unit_test(test_slow_start),
		cmocka_unit_test(test_rs_view_and_index),
		cmocka_unit_test(test_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
