/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node agent's pod status (status.c) from its per-pod state: phase,
 * conditions with stable transition times, container states (running,
 * terminated with Completed/Error/OOMKilled, waiting with CrashLoopBackOff
 * and lastState), init containers, and the restart rules behind them.
 */
#include "unit.h"

#include <jansson.h>

#include "kubelet/kubelet_internal.h"
#include "kubelet/prober.h"
#include "lib/json.h"

static int run_fail(void *ud, const char *id, char *const *argv, int timeout_s, int *ret_code,
		    char **ret_output)
{
	return -ENOSYS;
}

static void changed(void *ud, const char *uid, const char *ctr, enum probe_type t,
		    enum probe_result r, const char *msg)
{
}

struct fixture {
	struct kubelet k;
	struct kpod p;
	json_t *pod;
};

static void kinst_set(struct kinst *in, const char *id, bool exited, int code, bool oom)
{
	in->id = xstrdup(id);
	in->started = 1700000000LL * 1000000;
	in->exited = exited;
	in->exit_code = code;
	in->oom = oom;
	in->finished = exited ? in->started + 5000000 : 0;
}

static struct fixture *fixture_new(const char *pod_json, size_t ninit, size_t napps)
{
	struct fixture *f = xnew(struct fixture, 1);
	pthread_mutex_init(&f->k.mu, NULL);
	f->k.node_ip = xstrdup("10.250.0.1");
	f->k.pods_dir = xstrdup("/nonexistent/pods");
	struct probe_exec ex = { .run = run_fail };
	struct prober_callbacks cb = { .changed = changed };
	assert_int_equal(prober_new(&ex, &cb, &f->k.prober), 0);
	json_error_t jerr;
	f->pod = json_loads(pod_json, 0, &jerr);
	assert_non_null(f->pod);
	f->p.uid = xstrdup("uid-1");
	f->p.key = xstrdup("default/p");
	f->p.ns = xstrdup("default");
	f->p.name = xstrdup("p");
	f->p.pod_ip = xstrdup("10.42.0.7");
	f->p.sb_ready = true;
	f->p.start_time = 1700000000LL * 1000000;
	f->p.nctrs = ninit + napps;
	f->p.ninit = ninit;
	f->p.ctrs = xnew(struct kctr, ninit + napps);
	json_t *inits = json_get(f->pod, "spec.initContainers");
	json_t *apps = json_get(f->pod, "spec.containers");
	for (size_t i = 0; i < ninit + napps; i++) {
		struct kctr *c = &f->p.ctrs[i];
		c->init = i < ninit;
		json_t *spec = json_array_get(c->init ? inits : apps, c->init ? i : i - ninit);
		c->name = xstrdup(json_get_str(spec, "name"));
	}
	return f;
}

static void fixture_free(struct fixture *f)
{
	for (size_t i = 0; i < f->p.nctrs; i++) {
		struct kctr *c = &f->p.ctrs[i];
		free(c->name);
		free(c->cur.id);
		free(c->prev.id);
		free(c->reason);
		free(c->message);
		free(c->image_id);
	}
	free(f->p.ctrs);
	free(f->p.uid);
	free(f->p.key);
	free(f->p.ns);
	free(f->p.name);
	free(f->p.pod_ip);
	prober_free(f->k.prober);
	free(f->k.node_ip);
	free(f->k.pods_dir);
	pthread_mutex_destroy(&f->k.mu);
	json_decref(f->pod);
	free(f);
}

static const char *cond(json_t *st, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(st, "conditions"), i, c)
	{
		if (streq_ptr(json_get_str(c, "type"), type))
			return json_get_str(c, "status");
	}
	return NULL;
}

static json_t *ctr(json_t *st, const char *list, size_t i)
{
	return json_array_get(json_object_get(st, list), i);
}

#define ONE_POD(policy)                                                                    \
	"{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"uid-1\"},"      \
	"\"spec\":{\"restartPolicy\":\"" policy "\",\"containers\":[{\"name\":\"c\","      \
	"\"image\":\"busybox\"}]},\"status\":{\"conditions\":[{\"type\":\"PodScheduled\"," \
	"\"status\":\"True\",\"lastTransitionTime\":\"2023-01-01T00:00:00Z\"},"            \
	"{\"type\":\"Initialized\",\"status\":\"True\",\"lastTransitionTime\":"            \
	"\"2023-01-02T00:00:00Z\"}]}}"

static void test_running(void **state)
{
	struct fixture *f = fixture_new(ONE_POD("Always"), 0, 1);
	kinst_set(&f->p.ctrs[0].cur, "abc", false, 0, false);
	f->p.ctrs[0].image_id = xstrdup("busybox@sha256:00");
	/* Not known to the prober yet: not ready. */
	_cleanup_json_ json_t *st0 = pod_status_build(&f->k, &f->p, f->pod);
	assert_string_equal(cond(st0, "Ready"), "False");
	/* Without probes, a started container is ready. */
	struct probe_target t = { .container_id = "abc" };
	assert_int_equal(prober_add(f->k.prober, "uid-1", "c",
				    json_array_get(json_get(f->pod, "spec.containers"), 0), &t, 1),
			 0);
	json_t *st = pod_status_build(&f->k, &f->p, f->pod);
	assert_string_equal(json_get_str(st, "phase"), "Running");
	assert_string_equal(json_get_str(st, "podIP"), "10.42.0.7");
	assert_string_equal(json_get_str(st, "hostIP"), "10.250.0.1");
	assert_string_equal(cond(st, "Ready"), "True");
	assert_string_equal(cond(st, "ContainersReady"), "True");
	assert_string_equal(cond(st, "Initialized"), "True");
	assert_string_equal(cond(st, "PodScheduled"), "True");
	json_t *c = ctr(st, "containerStatuses", 0);
	assert_non_null(json_get(c, "state.running.startedAt"));
	assert_string_equal(json_get_str(c, "containerID"), "c8s://abc");
	assert_string_equal(json_get_str(c, "imageID"), "busybox@sha256:00");
	assert_string_equal(json_get_str(c, "image"), "busybox");
	assert_true(json_get_bool(c, "ready", false));
	assert_true(json_get_bool(c, "started", false));
	/* Transition times of unchanged conditions stay. */
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(st, "conditions"), i, x)
	{
		if (streq(json_get_str(x, "type"), "Initialized"))
			assert_string_equal(json_get_str(x, "lastTransitionTime"),
					    "2023-01-02T00:00:00Z");
		if (streq(json_get_str(x, "type"), "PodScheduled"))
			assert_string_equal(json_get_str(x, "lastTransitionTime"),
					    "2023-01-01T00:00:00Z");
	}
	json_decref(st);
	fixture_free(f);
}

static void test_completed_and_failed(void **state)
{
	struct fixture *f = fixture_new(ONE_POD("Never"), 0, 1);
	kinst_set(&f->p.ctrs[0].cur, "abc", true, 0, false);
	json_t *st = pod_status_build(&f->k, &f->p, f->pod);
	assert_string_equal(json_get_str(st, "phase"), "Succeeded");
	json_t *c = ctr(st, "containerStatuses", 0);
	assert_string_equal(json_get_str(c, "state.terminated.reason"), "Completed");
	assert_int_equal(json_get_int(c, "state.terminated.exitCode", -1), 0);
	assert_string_equal(cond(st, "Ready"), "False");
	json_decref(st);

	f->p.ctrs[0].cur.exit_code = 137;
	f->p.ctrs[0].cur.oom = true;
	st = pod_status_build(&f->k, &f->p, f->pod);
	assert_string_equal(json_get_str(st, "phase"), "Failed");
	c = ctr(st, "containerStatuses", 0);
	assert_string_equal(json_get_str(c, "state.terminated.reason"), "OOMKilled");
	assert_int_equal(json_get_int(c, "state.terminated.exitCode", -1), 137);
	json_decref(st);

	f->p.ctrs[0].cur.exit_code = 2;
	f->p.ctrs[0].cur.oom = false;
	st = pod_status_build(&f->k, &f->p, f->pod);
	c = ctr(st, "containerStatuses", 0);
	assert_string_equal(json_get_str(c, "state.terminated.reason"), "Error");
	json_decref(st);
	fixture_free(f);
}

static void test_crash_loop(void **state)
{
	struct fixture *f = fixture_new(ONE_POD("Always"), 0, 1);
	struct kctr *c0 = &f->p.ctrs[0];
	kinst_set(&c0->cur, "second", true, 3, false);
	kinst_set(&c0->prev, "first", true, 3, false);
	c0->restart_count = 1;
	c0->reason = xstrdup("CrashLoopBackOff");
	c0->message = xstrdup("back-off 10s restarting failed container=c pod=p_default(uid-1)");
	assert_true(kctr_wants_restart(f->pod, c0));
	json_t *st = pod_status_build(&f->k, &f->p, f->pod);
	assert_string_equal(json_get_str(st, "phase"), "Running");
	json_t *c = ctr(st, "containerStatuses", 0);
	assert_string_equal(json_get_str(c, "state.waiting.reason"), "CrashLoopBackOff");
	assert_string_equal(json_get_str(c, "lastState.terminated.reason"), "Error");
	assert_int_equal(json_get_int(c, "lastState.terminated.exitCode", -1), 3);
	assert_string_equal(json_get_str(c, "lastState.terminated.containerID"), "c8s://second");
	assert_int_equal(json_get_int(c, "restartCount", -1), 1);
	assert_false(json_get_bool(c, "ready", true));
	assert_string_equal(cond(st, "Ready"), "False");
	json_decref(st);
	fixture_free(f);
}

static void test_restart_rules(void **state)
{
	struct fixture *f = fixture_new(ONE_POD("OnFailure"), 0, 1);
	struct kctr *c0 = &f->p.ctrs[0];
	kinst_set(&c0->cur, "x", true, 0, false);
	assert_false(kctr_wants_restart(f->pod, c0));
	c0->cur.exit_code = 1;
	assert_true(kctr_wants_restart(f->pod, c0));
	fixture_free(f);
	f = fixture_new(ONE_POD("Never"), 0, 1);
	kinst_set(&f->p.ctrs[0].cur, "x", true, 1, false);
	assert_false(kctr_wants_restart(f->pod, &f->p.ctrs[0]));
	fixture_free(f);
}

static void test_init_containers(void **state)
{
	const char *pod =
	    "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"uid\":\"uid-1\"},"
	    "\"spec\":{\"restartPolicy\":\"Never\",\"initContainers\":[{\"name\":\"i1\","
	    "\"image\":\"busybox\"},{\"name\":\"i2\",\"image\":\"busybox\"}],"
	    "\"containers\":[{\"name\":\"app\",\"image\":\"busybox\"}]}}";
	struct fixture *f = fixture_new(pod, 2, 1);
	kinst_set(&f->p.ctrs[0].cur, "i1", true, 0, false);
	kinst_set(&f->p.ctrs[1].cur, "i2", false, 0, false);
	json_t *st = pod_status_build(&f->k, &f->p, f->pod);
	assert_string_equal(json_get_str(st, "phase"), "Pending");
	assert_string_equal(cond(st, "Initialized"), "False");
	assert_string_equal(
	    json_get_str(ctr(st, "initContainerStatuses", 0), "state.terminated.reason"),
	    "Completed");
	assert_non_null(json_get(ctr(st, "initContainerStatuses", 1), "state.running"));
	assert_string_equal(json_get_str(ctr(st, "containerStatuses", 0), "state.waiting.reason"),
			    "PodInitializing");
	json_decref(st);
	/* An init container that fails with restartPolicy Never fails the pod. */
	f->p.ctrs[1].cur.exited = true;
	f->p.ctrs[1].cur.exit_code = 1;
	f->p.failed_init = true;
	st = pod_status_build(&f->k, &f->p, f->pod);
	assert_string_equal(json_get_str(st, "phase"), "Failed");
	json_decref(st);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_running),		cmocka_unit_test(test_completed_and_failed),
		cmocka_unit_test(test_crash_loop),	cmocka_unit_test(test_restart_rules),
		cmocka_unit_test(test_init_containers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
