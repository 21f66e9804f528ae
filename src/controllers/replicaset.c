/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ReplicaSet controller: keeps spec.replicas active pods for every
 * ReplicaSet, built from its template, and reports them in its status.
 * How it works is in README.md; Kubernetes' pkg/controller/replicaset is
 * the spec.
 */
#include <pthread.h>

#include "client/events.h"
#include "client/factory.h"
#include "client/informer.h"
#include "client/kclient.h"
#include "client/workqueue.h"
#include "controllers/controllers.h"
#include "controllers/workload.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/timeutil.h"

struct rsctl {
	struct kclient *c;
	struct event_recorder *events;
	struct informer *rs_inf, *pod_inf;
	struct rs_index *idx;
	struct expectations *exp;
	struct workqueue *q;
	int workers;
};

/* ---- handlers: they only enqueue keys and keep the index ---- */

static void enqueue_key(struct rsctl *c, const char *key)
{
	workqueue_add(c->q, key);
}

/* The ReplicaSet a controller reference names, if it still is that one. */
static struct rs_view *resolve(struct rsctl *c, const char *ns, const struct owner_ref *ref)
{
	if (!streq(ref->kind, "ReplicaSet") || !startswith(ref->api_version, "apps/"))
		return NULL;
	_cleanup_free_ char *key = xasprintf("%s/%s", ns, ref->name);
	struct rs_view *v = rs_index_get(c->idx, key);
	if (v && !streq(v->uid, ref->uid)) {
		rs_view_unref(v);
		return NULL;
	}
	return v;
}

/* An orphan pod: wake every ReplicaSet that could adopt it. */
static void enqueue_matching(struct rsctl *c, struct cobj *pod)
{
	struct pod_info *pi = pod->ext;
	struct rs_view **v;
	size_t n = rs_index_list(c->idx, pod->ns, &v);
	for (size_t i = 0; i < n; i++)
		if (label_selector_matches(&v[i]->selector, pi->labels))
			enqueue_key(c, v[i]->key);
	rs_views_free(v, n);
}

static void pod_gone(struct rsctl *c, struct cobj *pod)
{
	struct pod_info *pi = pod->ext;
	if (!pi || !pi->has_controller)
		return;
	struct rs_view *rs = resolve(c, pod->ns, &pi->controller);
	if (!rs)
		return;
	expectations_deletion_observed(c->exp, rs->key, pod->key);
	enqueue_key(c, rs->key);
	rs_view_unref(rs);
}

static void pod_add(struct cobj *pod, void *ud)
{
	struct rsctl *c = ud;
	struct pod_info *pi = pod->ext;
	if (!pi)
		return;
	/* Seen for the first time already being deleted (say, after a
	 * restart): that is no creation. */
	if (pi->deleting) {
		pod_gone(c, pod);
		return;
	}
	if (!pi->has_controller) {
		enqueue_matching(c, pod);
		return;
	}
	struct rs_view *rs = resolve(c, pod->ns, &pi->controller);
	if (!rs)
		return;
	expectations_creation_observed(c->exp, rs->key);
	enqueue_key(c, rs->key);
	rs_view_unref(rs);
}

static bool same_controller(const struct pod_info *a, const struct pod_info *b)
{
	if (a->has_controller != b->has_controller)
		return false;
	return !a->has_controller || streq(a->controller.uid, b->controller.uid);
}

static void pod_update(struct cobj *old, struct cobj *cur, void *ud)
{
	struct rsctl *c = ud;
	struct pod_info *po = old->ext, *pc = cur->ext;
	if (!po || !pc || old->rv == cur->rv)
		return;
	bool labels_changed = !workload_labels_equal(po->labels, pc->labels);
	bool ref_changed = !same_controller(po, pc);
	/* Marked for deletion: for a ReplicaSet, that is the pod gone. */
	if (pc->deleting) {
		pod_gone(c, cur);
		if (ref_changed)
			pod_gone(c, old);
		return;
	}
	if (ref_changed && po->has_controller) {
		struct rs_view *rs = resolve(c, old->ns, &po->controller);
		if (rs)
			enqueue_key(c, rs->key);
		rs_view_unref(rs);
	}
	if (pc->has_controller) {
		struct rs_view *rs = resolve(c, cur->ns, &pc->controller);
		if (rs)
			enqueue_key(c, rs->key);
		rs_view_unref(rs);
		return;
	}
	if (labels_changed || ref_changed)
		enqueue_matching(c, cur);
}

static void pod_delete(struct cobj *pod, void *ud)
{
	pod_gone(ud, pod);
}

static void rs_add(struct cobj *o, void *ud)
{
	struct rsctl *c = ud;
	_cleanup_json_ json_t *j = cobj_parse(o);
	if (j)
		rs_view_unref(rs_index_put_json(c->idx, j));
	enqueue_key(c, o->key);
}

static void rs_update(struct cobj *old, struct cobj *cur, void *ud)
{
	rs_add(cur, ud);
}

static void rs_delete(struct cobj *o, void *ud)
{
	struct rsctl *c = ud;
	rs_index_remove(c->idx, o->key);
	expectations_delete(c->exp, o->key);
	enqueue_key(c, o->key);
}

/* ---- one sync ---- */

struct rs_pod {
	struct cobj *o;
	struct pod_info *pi;
};

struct rss {
	struct rsctl *c;
	const char *key;
	json_t *rs;
	const char *ns, *name, *uid;
	char *path; /* the ReplicaSet */
	char *pods_path;
	int64_t generation;
	int32_t replicas, min_ready;
	bool deleting;
	struct label_selector sel;
	bool sel_ok;
	char *tmpl_labels;
	struct owner_ref controller; /* the ReplicaSet's own controller */
	bool has_controller;

	struct rs_pod *pods; /* every pod in the namespace */
	size_t npods, cap;
	struct rs_pod **mine; /* active pods it owns (after adoption and release) */
	size_t nmine;

	int adoptable; /* 0 not asked, 1 yes, -1 no */
	json_t *pod_body;
	struct rs_pod **doomed;
	pthread_mutex_t mu;
	char err[512]; /* the first error from creating or deleting */
	int64_t now;
};

static void collect(struct cobj *o, void *ud)
{
	struct rss *s = ud;
	if (!o->ext)
		return;
	if (s->npods == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->pods = xrealloc(s->pods, s->cap * sizeof(*s->pods));
	}
	s->pods[s->npods++] = (struct rs_pod){ cobj_ref(o), o->ext };
}

static void rss_release(struct rss *s)
{
	for (size_t i = 0; i < s->npods; i++)
		cobj_unref(s->pods[i].o);
	free(s->pods);
	free(s->mine);
	free(s->doomed);
	json_decref(s->pod_body);
	json_decref(s->rs);
	if (s->sel_ok)
		label_selector_release(&s->sel);
	free(s->tmpl_labels);
	free(s->path);
	free(s->pods_path);
	owner_ref_release(&s->controller);
	pthread_mutex_destroy(&s->mu);
}

static void set_err(struct rss *s, const char *fmt, ...) _printf_(2, 3);
static void set_err(struct rss *s, const char *fmt, ...)
{
	pthread_mutex_lock(&s->mu);
	if (!s->err[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->err, sizeof(s->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&s->mu);
}

static void record(struct rss *s, const char *type, const char *reason, const char *fmt, ...)
    _printf_(4, 5);
static void record(struct rss *s, const char *type, const char *reason, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	event_record_ref(s->c->events, "apps/v1", "ReplicaSet", s->ns, s->name, s->uid, type,
			 reason, "%s", msg);
}

/* Adoption needs the ReplicaSet as the server has it now, not as cached:
 * it may have been deleted (and recreated) meanwhile. */
static bool can_adopt(struct rss *s)
{
	if (s->adoptable)
		return s->adoptable > 0;
	_cleanup_json_ json_t *fresh = NULL;
	char err[256];
	int r = workload_request(s->c->c, "GET", s->path, NULL, NULL, &fresh, err, sizeof(err));
	s->adoptable = r == 0 && streq(str_or_empty_json(fresh, "metadata.uid"), s->uid) &&
			       !json_get(fresh, "metadata.deletionTimestamp")
			   ? 1
			   : -1;
	return s->adoptable > 0;
}

/* Take the orphans its selector matches and let go of the pods it owns
 * that it no longer matches, like Kubernetes' ClaimPods. Only active
 * pods (not terminal, not being deleted) are claimed. */
static int claim_pods(struct rss *s)
{
	s->mine = xnew(struct rs_pod *, s->npods + 1);
	int result = 0;
	for (size_t i = 0; i < s->npods; i++) {
		struct rs_pod *p = &s->pods[i];
		if (p->pi->terminal || p->pi->deleting)
			continue;
		bool match = s->sel_ok && label_selector_matches(&s->sel, p->pi->labels);
		_cleanup_free_ char *path = NULL;
		char err[512];
		if (p->pi->has_controller) {
			if (!streq(p->pi->controller.uid, s->uid))
				continue;
			if (match) {
				s->mine[s->nmine++] = p;
				continue;
			}
			if (s->deleting)
				continue;
			path = kpath("v1", "pods", s->ns, p->o->name);
			int r = workload_release(s->c->c, path, p->o->uid, s->uid, NULL, err,
						 sizeof(err));
			if (r < 0 && r != -ENOENT) {
				log_v(2, "replicaset %s: releasing pod %s: %s", s->key, p->o->name,
				      err);
				result = r;
			}
			continue;
		}
		if (!match || s->deleting || !can_adopt(s))
			continue;
		path = kpath("v1", "pods", s->ns, p->o->name);
		_cleanup_json_ json_t *ref =
		    workload_controller_ref("apps/v1", "ReplicaSet", s->name, s->uid);
		int r = workload_adopt(s->c->c, path, p->o->uid, ref, NULL, err, sizeof(err));
		if (r == 0) {
			s->mine[s->nmine++] = p;
		} else if (r != -ENOENT) {
			log_v(2, "replicaset %s: adopting pod %s: %s", s->key, p->o->name, err);
			result = r;
		}
	}
	return result;
}

/* The pod its template makes (Kubernetes' GetPodFromTemplate). */
static json_t *pod_from_template(struct rss *s)
{
	json_t *tmpl = json_get(s->rs, "spec.template");
	json_t *tmeta = json_object_get(tmpl, "metadata");
	json_t *meta = json_object();
	_cleanup_free_ char *prefix = xasprintf("%s-", s->name);
	json_set_str(meta, "generateName", prefix);
	json_set_str(meta, "namespace", s->ns);
	static const char *const copy[] = { "labels", "annotations", "finalizers" };
	for (size_t i = 0; i < ARRAY_SIZE(copy); i++) {
		json_t *v = json_object_get(tmeta, copy[i]);
		if (v && !json_is_empty_value(v))
			json_object_set_new(meta, copy[i], json_deep_copy(v));
	}
	json_t *refs = json_array();
	json_array_append_new(refs,
			      workload_controller_ref("apps/v1", "ReplicaSet", s->name, s->uid));
	json_object_set_new(meta, "ownerReferences", refs);
	json_t *spec = json_object_get(tmpl, "spec");
	return json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
			 meta, "spec", spec ? json_deep_copy(spec) : json_object());
}

static int create_one(size_t i, void *ud)
{
	struct rss *s = ud;
	char err[512];
	_cleanup_json_ json_t *created = NULL;
	int r = workload_request(s->c->c, "POST", s->pods_path, NULL, s->pod_body, &created, err,
				 sizeof(err));
	if (r == 0) {
		record(s, "Normal", "SuccessfulCreate", "Created pod: %s",
		       str_or_empty_json(created, "metadata.name"));
		return 0;
	}
	if (workload_ns_terminating(r, err)) {
		/* Nothing more will be created there; not a failure to report. */
		expectations_lower_creations(s->c->exp, s->key, 1);
		return 0;
	}
	record(s, "Warning", "FailedCreate", "Error creating: %s", err);
	set_err(s, "%s", err);
	return r;
}

static int delete_one(size_t i, void *ud)
{
	struct rss *s = ud;
	struct rs_pod *p = s->doomed[i];
	char err[512];
	_cleanup_free_ char *path = kpath("v1", "pods", s->ns, p->o->name);
	int r = workload_request(s->c->c, "DELETE", path, NULL, NULL, NULL, err, sizeof(err));
	if (r == 0) {
		record(s, "Normal", "SuccessfulDelete", "Deleted pod: %s", p->o->name);
		return 0;
	}
	/* The informer will not see this deletion happen. */
	expectations_deletion_observed(s->c->exp, s->key, p->o->key);
	if (r == -ENOENT)
		return 0;
	record(s, "Warning", "FailedDelete", "Error deleting: %s", err);
	set_err(s, "%s", err);
	return r;
}

/* Rank the pods it owns for deletion: pods on nodes crowded with pods of
 * the same owner (this ReplicaSet and those sharing its controller) go
 * first among equals. */
static struct pod_rank *rank_pods(struct rss *s)
{
	struct rs_view **all;
	size_t nall = rs_index_list(s->c->idx, s->ns, &all);
	const char **uids = xnew(const char *, nall + 1);
	size_t nuids = 0;
	uids[nuids++] = s->uid;
	for (size_t i = 0; i < nall && s->has_controller; i++)
		if (all[i]->has_controller && streq(all[i]->controller.uid, s->controller.uid) &&
		    !streq(all[i]->uid, s->uid))
			uids[nuids++] = all[i]->uid;

	struct node_count {
		const char *node;
		int32_t n;
	} *nodes = xnew(struct node_count, s->npods + 1);
	size_t nnodes = 0;
	for (size_t i = 0; i < s->npods; i++) {
		struct pod_info *pi = s->pods[i].pi;
		if (pi->terminal || pi->deleting || !pi->has_controller)
			continue;
		bool related = false;
		for (size_t k = 0; k < nuids && !related; k++)
			related = streq(pi->controller.uid, uids[k]);
		if (!related)
			continue;
		size_t k;
		for (k = 0; k < nnodes; k++)
			if (streq(nodes[k].node, pi->node_name))
				break;
		if (k == nnodes)
			nodes[nnodes++] = (struct node_count){ pi->node_name, 0 };
		nodes[k].n++;
	}

	struct pod_rank *ranks = xnew(struct pod_rank, s->nmine + 1);
	for (size_t i = 0; i < s->nmine; i++) {
		struct pod_info *pi = s->mine[i]->pi;
		int32_t colocated = 0;
		for (size_t k = 0; k < nnodes; k++)
			if (streq(nodes[k].node, pi->node_name))
				colocated = nodes[k].n;
		ranks[i] = (struct pod_rank){
			.name = s->mine[i]->o->name,
			.assigned = !isempty(pi->node_name),
			.phase = pod_rank_phase(pi->phase),
			.ready = pi->ready,
			.ready_usec = pi->ready_since_usec,
			.colocated = colocated,
			.restarts = pi->restarts,
			.creation_usec = pi->creation_usec,
			.data = s->mine[i],
		};
	}
	qsort(ranks, s->nmine, sizeof(*ranks), pod_rank_cmp);
	free(nodes);
	free(uids);
	rs_views_free(all, nall);
	return ranks;
}

/* Create or delete pods toward spec.replicas. Returns 0, or a negative
 * errno with s->err saying what failed. */
static int manage_replicas(struct rss *s, int *ret_diff)
{
	int64_t diff = (int64_t)s->nmine - s->replicas;
	*ret_diff = (int)MAX(MIN(diff, INT32_MAX), INT32_MIN);
	if (diff < 0) {
		size_t n = (size_t)MIN(-diff, WL_BURST_REPLICAS);
		s->pod_body = pod_from_template(s);
		expectations_expect_creations(s->c->exp, s->key, (int)n);
		log_v(2, "replicaset %s: too few replicas (%zu, want %d), creating %zu", s->key,
		      s->nmine, s->replicas, n);
		int err;
		size_t ok = workload_slow_start(n, 1, create_one, s, &err);
		if (ok < n) {
			/* Those not made (failed or never tried) will not be seen. */
			expectations_lower_creations(s->c->exp, s->key, (int)(n - ok));
		}
		return err;
	}
	if (diff > 0) {
		size_t n = (size_t)MIN(diff, WL_BURST_REPLICAS);
		struct pod_rank *ranks = rank_pods(s);
		s->doomed = xnew(struct rs_pod *, n);
		char **keys = xnew(char *, n);
		for (size_t i = 0; i < n; i++) {
			s->doomed[i] = ranks[i].data;
			keys[i] = s->doomed[i]->o->key;
		}
		free(ranks);
		expectations_expect_deletions(s->c->exp, s->key, keys, n);
		free(keys);
		log_v(2, "replicaset %s: too many replicas (%zu, want %d), deleting %zu", s->key,
		      s->nmine, s->replicas, n);
		int err;
		workload_parallel(0, n, delete_one, s, &err);
		return err;
	}
	return 0;
}

/* Compute the status; write it if it changed. *ret_next_usec is when a
 * ready pod becomes available (minReadySeconds), or 0. */
static int update_status(struct rss *s, int manage_err, int diff, int64_t *ret_next_usec)
{
	int32_t fully = 0, ready = 0, available = 0;
	int64_t next = 0, min_ready = (int64_t)s->min_ready * 1000000;
	for (size_t i = 0; i < s->nmine; i++) {
		struct pod_info *pi = s->mine[i]->pi;
		if (workload_labels_superset(pi->labels, s->tmpl_labels))
			fully++;
		if (!pi->ready)
			continue;
		ready++;
		if (min_ready == 0 ||
		    (pi->ready_since_usec && pi->ready_since_usec + min_ready < s->now)) {
			available++;
		} else if (pi->ready_since_usec) {
			int64_t at = pi->ready_since_usec + min_ready;
			if (!next || at < next)
				next = at;
		}
	}
	*ret_next_usec = next;

	json_t *cur = json_object_get(s->rs, "status");
	_cleanup_json_ json_t *st = json_object();
	json_set_int(st, "replicas", (int64_t)s->nmine);
	if (fully)
		json_set_int(st, "fullyLabeledReplicas", fully);
	if (ready)
		json_set_int(st, "readyReplicas", ready);
	if (available)
		json_set_int(st, "availableReplicas", available);
	if (s->generation)
		json_set_int(st, "observedGeneration", s->generation);
	json_t *conds = json_object_get(cur, "conditions");
	if (json_array_size(conds))
		json_object_set_new(st, "conditions", json_deep_copy(conds));
	json_t *failure = workload_condition_get(st, "ReplicaFailure");
	if (manage_err && !failure) {
		workload_condition_put(
		    st, workload_condition_new("ReplicaFailure", "True",
					       diff < 0 ? "FailedCreate" : "FailedDelete", s->err,
					       s->now, false));
	} else if (!manage_err && failure) {
		workload_condition_remove(st, "ReplicaFailure");
	}
	if (json_equal(st, cur))
		return 0;

	_cleanup_json_ json_t *body =
	    json_pack("{s:s, s:s, s:{s:s, s:s}, s:O}", "apiVersion", "apps/v1", "kind",
		      "ReplicaSet", "metadata", "name", s->name, "namespace", s->ns, "status", st);
	_cleanup_free_ char *path = xasprintf("%s/status", s->path);
	char err[512];
	int r = workload_request(s->c->c, "PUT", path, NULL, body, NULL, err, sizeof(err));
	if (r < 0 && r != -ENOENT) {
		log_v(2, "replicaset %s: updating status: %s", s->key, err);
		return r;
	}
	return 0;
}

static int rs_sync(const char *key, void *ud)
{
	struct rsctl *c = ud;
	struct cobj *o = informer_get(c->rs_inf, key);
	if (!o) {
		expectations_delete(c->exp, key);
		return 0;
	}
	struct rss s = { .c = c, .key = key, .now = (int64_t)now_usec_realtime() };
	pthread_mutex_init(&s.mu, NULL);
	s.rs = cobj_parse(o);
	cobj_unref(o);
	if (!s.rs) {
		rss_release(&s);
		return 0;
	}
	s.ns = str_or_empty_json(s.rs, "metadata.namespace");
	s.name = str_or_empty_json(s.rs, "metadata.name");
	s.uid = str_or_empty_json(s.rs, "metadata.uid");
	s.path = kpath("apps/v1", "replicasets", s.ns, s.name);
	s.pods_path = kpath("v1", "pods", s.ns, NULL);
	s.generation = json_get_int(s.rs, "metadata.generation", 0);
	s.replicas = (int32_t)json_get_int(s.rs, "spec.replicas", 1);
	s.min_ready = (int32_t)json_get_int(s.rs, "spec.minReadySeconds", 0);
	s.deleting = json_get(s.rs, "metadata.deletionTimestamp") != NULL;
	s.has_controller = owner_controller(s.rs, &s.controller);
	size_t len;
	s.tmpl_labels =
	    packed_labels_from_json(json_get(s.rs, "spec.template.metadata.labels"), &len);
	_cleanup_free_ char *serr = NULL;
	json_t *sel = json_get(s.rs, "spec.selector");
	s.sel_ok = (json_object_size(json_object_get(sel, "matchLabels")) ||
		    json_array_size(json_object_get(sel, "matchExpressions"))) &&
		   label_selector_from_json(sel, &s.sel, &serr) == 0;
	if (!s.sel_ok)
		log_v(2, "replicaset %s: invalid selector: %s", key, serr ? serr : "empty");

	/* Asked before looking at the pods: what is in the cache afterwards
	 * includes everything the expectations wait for. */
	bool need_sync = expectations_satisfied(c->exp, key);
	informer_foreach(c->pod_inf, s.ns, collect, &s);
	int r = claim_pods(&s);
	int manage_err = 0, diff = 0;
	if (need_sync && !s.deleting && s.sel_ok)
		manage_err = manage_replicas(&s, &diff);
	int64_t next = 0;
	int ur = update_status(&s, manage_err, diff, &next);
	if (!manage_err && next)
		workqueue_add_after(c->q, key, next - s.now + 100000);
	if (manage_err)
		log_v(2, "replicaset %s: %s", key, s.err);
	rss_release(&s);
	return manage_err ? manage_err : ur < 0 ? ur : r;
}

/* ---- life cycle ---- */

static void *rs_init(struct controller_ctx *ctx)
{
	struct rsctl *c = xnew(struct rsctl, 1);
	c->c = ctx->client;
	c->events = event_recorder_new(ctx->client, "replicaset-controller", NULL);
	c->workers = ctx->opts && ctx->opts->workers > 0 ? ctx->opts->workers : 4;
	c->idx = rs_index_new();
	c->exp = expectations_new(WL_EXPECTATIONS_TTL_USEC);
	c->q = workqueue_new("replicaset");
	c->rs_inf = informer_factory_get(ctx->factory, "apps/v1", "replicasets");
	c->pod_inf = informer_factory_get(ctx->factory, "v1", "pods");
	informer_add_handlers(c->rs_inf, &(struct informer_handlers){
					     .on_add = rs_add,
					     .on_update = rs_update,
					     .on_delete = rs_delete,
					     .userdata = c,
					 });
	informer_add_handlers(c->pod_inf, &(struct informer_handlers){
					      .on_add = pod_add,
					      .on_update = pod_update,
					      .on_delete = pod_delete,
					      .userdata = c,
					  });
	return c;
}

static int rs_run(void *state)
{
	struct rsctl *c = state;
	return workqueue_run(c->q, c->workers, rs_sync, c);
}

static void rs_stop(void *state)
{
	struct rsctl *c = state;
	if (!c)
		return;
	workqueue_free(c->q);
	expectations_free(c->exp);
	rs_index_free(c->idx);
	event_recorder_free(c->events);
	free(c);
}

const struct controller_ops replicaset_controller = { "replicaset", rs_init, rs_run, rs_stop };
