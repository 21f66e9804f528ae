/* SPDX-License-Identifier: Apache-2.0 */
/* pods/status from what the agent knows: phase, conditions, container
 * statuses, IPs, start time; written only when it changed. */
#include "client/kclient.h"
#include "kubelet/kubelet_internal.h"
#include "kubelet/prober.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/timeutil.h"

#define MERGE "application/merge-patch+json"

static void ts(int64_t usec, char buf[32])
{
	time_format_rfc3339(usec, buf);
}

static json_t *terminated(const struct kinst *in)
{
	char a[32], b[32];
	ts(in->started, a);
	ts(in->finished, b);
	const char *reason = in->oom ? "OOMKilled" : in->exit_code == 0 ? "Completed" : "Error";
	_cleanup_free_ char *cid = xasprintf("c8s://%s", in->id);
	return json_pack("{s:{s:i, s:s, s:s, s:s, s:s}}", "terminated", "exitCode", in->exit_code,
			 "reason", reason, "startedAt", a, "finishedAt", b, "containerID", cid);
}

static bool running(const struct kinst *in)
{
	return in->id && in->started && !in->exited;
}

static bool init_done(const struct kctr *c)
{
	return c->cur.id && c->cur.exited && c->cur.exit_code == 0;
}

static json_t *spec_image(json_t *pod, const struct kctr *c)
{
	size_t i;
	json_t *x;
	json_array_foreach(json_get(pod, c->init ? "spec.initContainers" : "spec.containers"), i, x)
	{
		if (streq_ptr(json_get_str(x, "name"), c->name))
			return json_object_get(x, "image");
	}
	return NULL;
}

static json_t *ctr_status(struct kubelet *k, struct kpod *p, json_t *pod, struct kctr *c,
			  bool inits_done, bool *ret_ready)
{
	json_t *state, *last = NULL;
	bool ready = false, started = false;
	if (running(&c->cur)) {
		char a[32];
		ts(c->cur.started, a);
		state = json_pack("{s:{s:s}}", "running", "startedAt", a);
		started = prober_get(k->prober, p->uid, c->name, PROBE_STARTUP) != PROBE_FAILURE;
		ready = c->init ? false
				: started && prober_get(k->prober, p->uid, c->name,
							PROBE_READINESS) == PROBE_SUCCESS;
		if (c->prev.id && c->prev.exited)
			last = terminated(&c->prev);
	} else if (c->cur.id && c->cur.started && c->cur.exited &&
		   !(c->reason && kctr_wants_restart(pod, c))) {
		state = terminated(&c->cur);
		/* The container's termination message (terminationMessagePath). */
		_cleanup_free_ char *tl =
		    xasprintf("%s/%s/containers/%s/termination-log", k->pods_dir, p->uid, c->name);
		char msg[4097];
		_cleanup_fclose_ FILE *f = fopen(tl, "re");
		size_t n = f ? fread(msg, 1, sizeof(msg) - 1, f) : 0;
		msg[n] = 0;
		json_t *js = n ? json_stringn(msg, n) : NULL; /* NULL: not UTF-8 */
		if (js)
			json_object_set_new(json_object_get(state, "terminated"), "message", js);
		if (c->prev.id && c->prev.exited)
			last = terminated(&c->prev);
		ready = false;
	} else {
		const char *reason = c->reason;
		if (!reason)
			reason = !c->init && !inits_done ? "PodInitializing" : "ContainerCreating";
		state = json_pack("{s:{s:s}}", "waiting", "reason", reason);
		const char *msg = c->message ? c->message : !c->reason ? p->sb_error : NULL;
		if (msg)
			json_set_str(json_object_get(state, "waiting"), "message", msg);
		if (c->cur.id && c->cur.exited)
			last = terminated(&c->cur);
		else if (c->prev.id && c->prev.exited)
			last = terminated(&c->prev);
	}
	json_t *img = spec_image(pod, c);
	json_t *st = json_pack("{s:s, s:o, s:o, s:b, s:i, s:O, s:s, s:b}", "name", c->name, "state",
			       state, "lastState", last ? last : json_object(), "ready", ready,
			       "restartCount", c->restart_count, "image", img ? img : json_null(),
			       "imageID", c->image_id ? c->image_id : "", "started", started);
	if (c->cur.id && c->cur.started) {
		_cleanup_free_ char *cid = xasprintf("c8s://%s", c->cur.id);
		json_set_str(st, "containerID", cid);
	}
	*ret_ready = ready;
	return st;
}

static json_t *find_condition(json_t *pod, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_get(pod, "status.conditions"), i, c)
	{
		if (streq_ptr(json_get_str(c, "type"), type))
			return c;
	}
	return NULL;
}

static void add_condition(json_t *list, json_t *pod, const char *type, bool ok, const char *reason,
			  const char *message)
{
	const char *status = ok ? "True" : "False";
	json_t *old = find_condition(pod, type);
	char now[32];
	ts((int64_t)now_usec_realtime(), now);
	const char *since = streq_ptr(json_get_str(old, "status"), status)
				? json_get_str(old, "lastTransitionTime")
				: NULL;
	json_t *c = json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status", status,
			      "lastProbeTime", "lastTransitionTime", since ? since : now);
	if (!ok && reason)
		json_set_str(c, "reason", reason);
	if (!ok && message)
		json_set_str(c, "message", message);
	json_array_append_new(list, c);
}

json_t *pod_status_build(struct kubelet *k, struct kpod *p, json_t *pod)
{
	json_t *st = json_object();
	bool inits_done = true;
	for (size_t i = 0; i < p->ninit; i++)
		inits_done = inits_done && init_done(&p->ctrs[i]);

	json_t *ics = json_array(), *cs = json_array();
	int nrun = 0, nwait = 0, nsucc = 0, nfail = 0, nrestart = 0;
	struct strbuf unready;
	strbuf_init(&unready, 64);
	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < p->nctrs; i++) {
		struct kctr *c = &p->ctrs[i];
		bool ready;
		json_t *one = ctr_status(k, p, pod, c, inits_done, &ready);
		json_array_append_new(c->init ? ics : cs, one);
		if (c->init)
			continue;
		if (!ready) {
			if (unready.len)
				strbuf_addch(&unready, ' ');
			strbuf_addstr(&unready, c->name);
		}
		if (running(&c->cur))
			nrun++;
		else if (!c->cur.id || !c->cur.started)
			nwait++;
		else if (kctr_wants_restart(pod, c))
			nrestart++;
		else if (c->cur.exit_code == 0)
			nsucc++;
		else
			nfail++;
	}
	pthread_mutex_unlock(&k->mu);
	size_t napps = p->nctrs - p->ninit;

	const char *phase;
	if (p->failed_init)
		phase = "Failed";
	else if (!inits_done)
		phase = "Pending";
	else if (nrun > 0 || nrestart > 0)
		phase = "Running";
	else if (nwait > 0)
		phase = "Pending";
	else if (napps && nfail == 0 && (size_t)nsucc == napps)
		phase = "Succeeded";
	else if (napps)
		phase = "Failed";
	else
		phase = "Pending";
	json_set_str(st, "phase", phase);
	bool done = streq(phase, "Succeeded") || streq(phase, "Failed");

	json_t *conds = json_array();
	json_t *sched = find_condition(pod, "PodScheduled");
	if (sched)
		json_array_append(conds, sched);
	else
		add_condition(conds, pod, "PodScheduled", true, NULL, NULL);
	add_condition(conds, pod, "PodReadyToStartContainers", p->sb_ready && !p->torn_down, NULL,
		      NULL);
	{
		struct strbuf pend;
		strbuf_init(&pend, 32);
		for (size_t i = 0; i < p->ninit; i++) {
			if (!init_done(&p->ctrs[i])) {
				if (pend.len)
					strbuf_addch(&pend, ' ');
				strbuf_addstr(&pend, p->ctrs[i].name);
			}
		}
		_cleanup_free_ char *msg =
		    xasprintf("containers with incomplete status: [%s]", strbuf_str(&pend));
		add_condition(conds, pod, "Initialized", inits_done || done,
			      "ContainersNotInitialized", msg);
		strbuf_release(&pend);
	}
	bool all_ready = unready.len == 0 && napps > 0 && !done;
	_cleanup_free_ char *umsg =
	    xasprintf("containers with unready status: [%s]", strbuf_str(&unready));
	strbuf_release(&unready);
	const char *ureason = done ? "PodCompleted" : "ContainersNotReady";
	add_condition(conds, pod, "ContainersReady", all_ready, ureason, done ? NULL : umsg);
	/* Readiness gates: Ready needs them True too. */
	bool gates = true;
	size_t i;
	json_t *g;
	json_array_foreach(json_get(pod, "spec.readinessGates"), i, g)
	{
		json_t *c = find_condition(pod, json_get_str(g, "conditionType"));
		if (!streq_ptr(json_get_str(c, "status"), "True"))
			gates = false;
	}
	add_condition(conds, pod, "Ready", all_ready && gates,
		      !all_ready ? ureason : "ReadinessGatesNotReady",
		      done	   ? NULL
		      : !all_ready ? umsg
				   : "readiness gates not ready");
	/* Conditions others own stay. */
	json_t *c;
	json_array_foreach(json_get(pod, "status.conditions"), i, c)
	{
		const char *t = json_get_str(c, "type");
		if (!streq_ptr(t, "PodScheduled") && !streq_ptr(t, "PodReadyToStartContainers") &&
		    !streq_ptr(t, "Initialized") && !streq_ptr(t, "ContainersReady") &&
		    !streq_ptr(t, "Ready"))
			json_array_append(conds, c);
	}
	json_object_set_new(st, "conditions", conds);

	json_set_str(st, "hostIP", k->node_ip);
	json_object_set_new(st, "hostIPs", json_pack("[{s:s}]", "ip", k->node_ip));
	if (p->pod_ip) {
		json_set_str(st, "podIP", p->pod_ip);
		json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", p->pod_ip));
	}
	char start[32];
	ts(p->start_time, start);
	json_set_str(st, "startTime", start);
	if (json_array_size(ics))
		json_object_set_new(st, "initContainerStatuses", ics);
	else
		json_decref(ics);
	json_object_set_new(st, "containerStatuses", cs);
	return st;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

int pod_status_update(struct kubelet *k, struct kpod *p, json_t *pod)
{
	_cleanup_json_ json_t *st = pod_status_build(k, p, pod);
	_cleanup_json_ json_t *patch = json_pack("{s:O}", "status", st);
	size_t len;
	_cleanup_free_ char *body = json_dump_compact(patch, &len);
	uint64_t h = fnv1a(body);
	if (h == p->status_hash)
		return 0;
	_cleanup_free_ char *base = kpath("v1", "pods", p->ns, p->name);
	_cleanup_free_ char *path = xasprintf("%s/status", base);
	struct kresp r;
	if (kclient_do(k->c, "PATCH", path, body, len, MERGE, &r) < 0)
		r.code = 0;
	int ret = 0;
	if (r.code == 200) {
		p->status_hash = h;
	} else if (r.code != 404) {
		char buf[256];
		log_warn("pod %s: cannot update status: %s", p->key,
			 kresp_message(&r, buf, sizeof(buf)));
		ret = -EIO;
	}
	kresp_release(&r);
	return ret;
}
