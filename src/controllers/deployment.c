/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Deployment controller: one ReplicaSet per pod template, rolled from
 * old to new with the RollingUpdate or Recreate strategy, scaled in
 * proportion, paused, cleaned up, and reported in the Deployment status
 * the way `kubectl rollout` reads it. How it works is in README.md;
 * Kubernetes' pkg/controller/deployment is the spec.
 */
#include <sys/types.h>

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

#define PROGRESSING	"Progressing"
#define AVAILABLE	"Available"
#define REPLICA_FAILURE "ReplicaFailure"

struct dctl {
	struct kclient *c;
	struct event_recorder *events;
	struct informer *d_inf, *rs_inf, *pod_inf;
	struct rs_index *idx;
	struct workqueue *q;
	int workers;
};

/* ---- handlers ---- */

static void d_enqueue(struct cobj *o, void *ud)
{
	struct dctl *c = ud;
	workqueue_add(c->q, o->key);
}

static void d_update(struct cobj *old, struct cobj *cur, void *ud)
{
	d_enqueue(cur, ud);
}

/* The Deployment a controller reference names, if it still is that one:
 * its key, or NULL. */
static char *resolve(struct dctl *c, const char *ns, const struct owner_ref *ref)
{
	if (!streq(ref->kind, "Deployment") || !startswith(ref->api_version, "apps/"))
		return NULL;
	char *key = xasprintf("%s/%s", ns, ref->name);
	struct cobj *d = informer_get(c->d_inf, key);
	bool ok = d && streq(d->uid, ref->uid);
	cobj_unref(d);
	if (!ok) {
		free(key);
		return NULL;
	}
	return key;
}

static void enqueue_owner(struct dctl *c, const struct rs_view *v)
{
	if (!v->has_controller)
		return;
	_cleanup_free_ char *key = resolve(c, v->ns, &v->controller);
	if (key)
		workqueue_add(c->q, key);
}

struct match_ctx {
	struct dctl *c;
	const char *labels;
};

static void enqueue_if_selects(struct cobj *o, void *ud)
{
	struct match_ctx *m = ud;
	_cleanup_json_ json_t *d = cobj_parse(o);
	struct label_selector sel;
	_cleanup_free_ char *err = NULL;
	json_t *js = json_get(d, "spec.selector");
	if (!json_object_size(json_object_get(js, "matchLabels")) &&
	    !json_array_size(json_object_get(js, "matchExpressions")))
		return;
	if (label_selector_from_json(js, &sel, &err) < 0)
		return;
	if (label_selector_matches(&sel, m->labels))
		workqueue_add(m->c->q, o->key);
	label_selector_release(&sel);
}

/* An orphan ReplicaSet: wake every Deployment that could adopt it. */
static void enqueue_matching(struct dctl *c, const struct rs_view *v)
{
	struct match_ctx m = { c, v->labels };
	informer_foreach(c->d_inf, v->ns, enqueue_if_selects, &m);
}

static void rs_add(struct cobj *o, void *ud)
{
	struct dctl *c = ud;
	_cleanup_json_ json_t *j = cobj_parse(o);
	if (!j)
		return;
	struct rs_view *v = rs_index_put_json(c->idx, j);
	if (v->has_controller)
		enqueue_owner(c, v);
	else if (!v->deleting)
		enqueue_matching(c, v);
	rs_view_unref(v);
}

static void rs_update(struct cobj *old, struct cobj *cur, void *ud)
{
	struct dctl *c = ud;
	if (old->rv == cur->rv)
		return;
	struct rs_view *before = rs_index_get(c->idx, old->key);
	_cleanup_json_ json_t *j = cobj_parse(cur);
	if (!j) {
		rs_view_unref(before);
		return;
	}
	struct rs_view *v = rs_index_put_json(c->idx, j);
	bool ref_changed = !before || before->has_controller != v->has_controller ||
			   (v->has_controller && !streq(before->controller.uid, v->controller.uid));
	if (ref_changed && before)
		enqueue_owner(c, before);
	if (v->has_controller)
		enqueue_owner(c, v);
	else if (ref_changed || !workload_labels_equal(before->labels, v->labels))
		enqueue_matching(c, v);
	rs_view_unref(before);
	rs_view_unref(v);
}

static void rs_delete(struct cobj *o, void *ud)
{
	struct dctl *c = ud;
	struct rs_view *v = rs_index_get(c->idx, o->key);
	rs_index_remove(c->idx, o->key);
	if (v)
		enqueue_owner(c, v);
	rs_view_unref(v);
}

/* A Recreate rollout waits for the old pods to be gone: wake it when one goes. */
static void pod_delete(struct cobj *pod, void *ud)
{
	struct dctl *c = ud;
	struct pod_info *pi = pod->ext;
	if (!pi || !pi->has_controller || !streq(pi->controller.kind, "ReplicaSet"))
		return;
	_cleanup_free_ char *rskey = xasprintf("%s/%s", pod->ns, pi->controller.name);
	struct rs_view *rs = rs_index_get(c->idx, rskey);
	if (!rs || !streq(rs->uid, pi->controller.uid) || !rs->has_controller) {
		rs_view_unref(rs);
		return;
	}
	_cleanup_free_ char *key = resolve(c, pod->ns, &rs->controller);
	rs_view_unref(rs);
	if (!key)
		return;
	struct cobj *d = informer_get(c->d_inf, key);
	_cleanup_json_ json_t *dj = d ? cobj_parse(d) : NULL;
	cobj_unref(d);
	if (streq(str_or_empty_json(dj, "spec.strategy.type"), "Recreate"))
		workqueue_add(c->q, key);
}

/* ---- one sync ---- */

struct dsync {
	struct dctl *ctl;
	const char *key;
	json_t *d;	   /* a copy of the cached deployment */
	json_t *status;	   /* d.status (borrowed); changed in place as decided */
	json_t *ann;	   /* d.metadata.annotations (borrowed) */
	json_t *ann_patch; /* annotations to write to the deployment */
	const char *ns, *name, *uid;
	char *path;
	char rv[24]; /* resourceVersion to write against */
	int64_t generation;
	int32_t replicas, min_ready;
	bool paused, deleting;
	struct rollout ro;
	int64_t history_limit; /* -1: keep every old ReplicaSet */
	int64_t deadline;      /* progressDeadlineSeconds, -1: none */
	struct label_selector sel;
	bool sel_ok;
	json_t *tmpl;
	char *tmpl_canonical;
	struct rs_view **rs; /* the ReplicaSets it owns */
	size_t nrs;
	ssize_t inew; /* the new one in rs, or -1 */
	int64_t now;
};

static void record(struct dsync *s, const char *type, const char *reason, const char *fmt, ...)
    _printf_(4, 5);
static void record(struct dsync *s, const char *type, const char *reason, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	event_record_ref(s->ctl->events, "apps/v1", "Deployment", s->ns, s->name, s->uid, type,
			 reason, "%s", msg);
}

static int32_t st_int(json_t *status, const char *key)
{
	return (int32_t)json_get_int(status, key, 0);
}

static bool has_deadline(const struct dsync *s)
{
	return s->deadline >= 0 && s->deadline != INT32_MAX;
}

static void took_rv(struct dsync *s, json_t *got)
{
	const char *rv = json_get_str(got, "metadata.resourceVersion");
	if (rv)
		snprintf(s->rv, sizeof(s->rv), "%s", rv);
}

/* Write the deployment: the annotations changed (a metadata patch), then
 * the status (the /status subresource). Both require the resourceVersion
 * the decisions were made on: a conflict means the cache was behind, and
 * the sync is retried. */
static int write_deployment(struct dsync *s)
{
	char err[512];
	int r;
	if (json_object_size(s->ann_patch)) {
		_cleanup_json_ json_t *patch =
		    json_pack("{s:{s:s, s:O}}", "metadata", "resourceVersion", s->rv, "annotations",
			      s->ann_patch);
		_cleanup_json_ json_t *got = NULL;
		r = workload_request(s->ctl->c, "PATCH", s->path, "application/merge-patch+json",
				     patch, &got, err, sizeof(err));
		if (r < 0) {
			log_v(2, "deployment %s: updating annotations: %s", s->key, err);
			return r;
		}
		took_rv(s, got);
		json_object_clear(s->ann_patch);
	}
	_cleanup_json_ json_t *body =
	    json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:O}", "apiVersion", "apps/v1", "kind",
		      "Deployment", "metadata", "name", s->name, "namespace", s->ns,
		      "resourceVersion", s->rv, "status", s->status);
	_cleanup_free_ char *path = xasprintf("%s/status", s->path);
	_cleanup_json_ json_t *got = NULL;
	r = workload_request(s->ctl->c, "PUT", path, NULL, body, &got, err, sizeof(err));
	if (r < 0) {
		log_v(2, "deployment %s: updating status: %s", s->key, err);
		return r;
	}
	took_rv(s, got);
	return 0;
}

/* Replace the status being decided on (takes st). */
static void set_status(struct dsync *s, json_t *st)
{
	json_object_set_new(s->d, "status", st);
	s->status = st;
}

static bool set_deployment_revision(struct dsync *s, const char *rev)
{
	if (isempty(rev) ||
	    streq_ptr(json_string_value(json_object_get(s->ann, WL_ANN_REVISION)), rev))
		return false;
	json_set_str(s->ann, WL_ANN_REVISION, rev);
	json_set_str(s->ann_patch, WL_ANN_REVISION, rev);
	return true;
}

static void replace_view(struct dsync *s, size_t i, json_t *obj)
{
	struct rs_view *v = rs_view_new(obj);
	rs_view_unref(s->rs[i]);
	s->rs[i] = v;
}

/* ---- finding its ReplicaSets ---- */

static int cmp_view_created(const void *a, const void *b)
{
	const struct rs_view *x = *(struct rs_view *const *)a, *y = *(struct rs_view *const *)b;
	if (x->creation_usec != y->creation_usec)
		return x->creation_usec < y->creation_usec ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_view_revision(const void *a, const void *b)
{
	const struct rs_view *x = *(struct rs_view *const *)a, *y = *(struct rs_view *const *)b;
	int64_t rx = MAX(x->revision, 0), ry = MAX(y->revision, 0);
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return cmp_view_created(a, b);
}

/* Adoption needs the Deployment as the server has it now. */
static bool can_adopt(struct dsync *s, int *adoptable)
{
	if (*adoptable)
		return *adoptable > 0;
	_cleanup_json_ json_t *fresh = NULL;
	char err[256];
	int r = workload_request(s->ctl->c, "GET", s->path, NULL, NULL, &fresh, err, sizeof(err));
	*adoptable = r == 0 && streq(str_or_empty_json(fresh, "metadata.uid"), s->uid) &&
			     !json_get(fresh, "metadata.deletionTimestamp")
			 ? 1
			 : -1;
	return *adoptable > 0;
}

/* Kubernetes' ClaimReplicaSets: the ReplicaSets it controls that its
 * selector still matches, plus matching orphans it adopts; it lets go of
 * those it controls that no longer match. */
static int claim_replicasets(struct dsync *s)
{
	struct rs_view **all;
	size_t n = rs_index_list(s->ctl->idx, s->ns, &all);
	s->rs = xnew(struct rs_view *, n + 1);
	int result = 0, adoptable = 0;
	for (size_t i = 0; i < n; i++) {
		struct rs_view *v = all[i];
		bool match = s->sel_ok && label_selector_matches(&s->sel, v->labels);
		_cleanup_free_ char *path = kpath("apps/v1", "replicasets", s->ns, v->name);
		_cleanup_json_ json_t *got = NULL;
		char err[512];
		int r;
		if (v->has_controller) {
			if (!streq(v->controller.uid, s->uid))
				continue;
			if (match) {
				s->rs[s->nrs++] = rs_view_ref(v);
				continue;
			}
			if (s->deleting)
				continue;
			r = workload_release(s->ctl->c, path, v->uid, s->uid, NULL, err,
					     sizeof(err));
			if (r < 0 && r != -ENOENT) {
				log_v(2, "deployment %s: releasing %s: %s", s->key, v->name, err);
				result = r;
			}
			continue;
		}
		if (!match || s->deleting || v->deleting || !can_adopt(s, &adoptable))
			continue;
		_cleanup_json_ json_t *ref =
		    workload_controller_ref("apps/v1", "Deployment", s->name, s->uid);
		r = workload_adopt(s->ctl->c, path, v->uid, ref, &got, err, sizeof(err));
		if (r == 0 && got) {
			s->rs[s->nrs++] = rs_view_new(got);
		} else if (r < 0 && r != -ENOENT) {
			log_v(2, "deployment %s: adopting %s: %s", s->key, v->name, err);
			result = r;
		}
	}
	rs_views_free(all, n);
	qsort(s->rs, s->nrs, sizeof(*s->rs), cmp_view_created);
	s->inew = -1;
	return result;
}

/* The oldest ReplicaSet whose template is the deployment's. */
static ssize_t find_new(struct dsync *s)
{
	for (size_t i = 0; i < s->nrs; i++)
		if (streq(s->rs[i]->tmpl_canonical, s->tmpl_canonical))
			return (ssize_t)i;
	return -1;
}

static int64_t max_old_revision(struct dsync *s)
{
	int64_t max = 0;
	for (size_t i = 0; i < s->nrs; i++)
		if ((ssize_t)i != s->inew && s->rs[i]->revision > max)
			max = s->rs[i]->revision;
	return max;
}

/* ---- changing ReplicaSets ---- */

/* Kubernetes' scaleReplicaSet: set spec.replicas and the desired/max
 * replicas annotations; an event when the size changed. */
static int scale_rs(struct dsync *s, size_t i, int32_t to)
{
	struct rs_view *v = s->rs[i];
	int32_t desired = s->replicas, max = s->replicas + s->ro.max_surge;
	bool size = v->replicas != to;
	bool ann = !v->has_desired || v->desired != desired || !v->has_max || v->max != max;
	if (!size && !ann)
		return 0;
	char rv[24], d[16], m[16];
	snprintf(rv, sizeof(rv), "%lld", (long long)v->rv);
	snprintf(d, sizeof(d), "%d", desired);
	snprintf(m, sizeof(m), "%d", max);
	_cleanup_json_ json_t *patch =
	    json_pack("{s:{s:s, s:{s:s, s:s}}, s:{s:i}}", "metadata", "resourceVersion", rv,
		      "annotations", WL_ANN_DESIRED, d, WL_ANN_MAX, m, "spec", "replicas", to);
	_cleanup_free_ char *path = kpath("apps/v1", "replicasets", s->ns, v->name);
	_cleanup_json_ json_t *got = NULL;
	char err[512];
	int r = workload_request(s->ctl->c, "PATCH", path, "application/merge-patch+json", patch,
				 &got, err, sizeof(err));
	if (r < 0) {
		log_v(2, "deployment %s: scaling %s to %d: %s", s->key, v->name, to, err);
		return r;
	}
	int32_t from = v->replicas;
	if (got)
		replace_view(s, i, got);
	if (size) {
		log_v(2, "deployment %s: scaled %s %s to %d from %d", s->key,
		      from < to ? "up" : "down", s->rs[i]->name, to, from);
		record(s, "Normal", "ScalingReplicaSet", "Scaled %s replica set %s to %d from %d",
		       from < to ? "up" : "down", s->rs[i]->name, to, from);
	}
	return 0;
}

/* The planner's view of every ReplicaSet (plan[i] is rs[i]). */
struct plan {
	struct rollout_rs *r;
	struct rollout_rs **old; /* every old one */
	size_t nold;
	struct rollout_rs **active; /* old ones with replicas */
	size_t nactive;
	struct rollout_rs *new_rs;
};

static void plan_init(struct dsync *s, struct plan *p)
{
	p->r = xnew(struct rollout_rs, s->nrs + 1);
	p->old = xnew(struct rollout_rs *, s->nrs + 1);
	p->active = xnew(struct rollout_rs *, s->nrs + 1);
	p->nold = p->nactive = 0;
	p->new_rs = NULL;
	for (size_t i = 0; i < s->nrs; i++) {
		rs_view_rollout(s->rs[i], &p->r[i]);
		if ((ssize_t)i == s->inew) {
			p->new_rs = &p->r[i];
			continue;
		}
		p->old[p->nold++] = &p->r[i];
		if (p->r[i].replicas > 0)
			p->active[p->nactive++] = &p->r[i];
	}
}

static void plan_release(struct plan *p)
{
	free(p->r);
	free(p->old);
	free(p->active);
}

/* Write what the planner decided, scale-downs first so that the pod
 * count never goes over what was planned. */
static int plan_apply(struct dsync *s, struct plan *p)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < s->nrs; i++) {
			struct rollout_rs *x = &p->r[i];
			bool down = x->replicas < s->rs[i]->replicas;
			if (x->replicas == s->rs[i]->replicas && !x->touch)
				continue;
			if ((pass == 0) != down)
				continue;
			int r = scale_rs(s, i, x->replicas);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ---- the new ReplicaSet ---- */

/* Kubernetes' getNewReplicaSet: find the ReplicaSet with the deployment's
 * template and bring its revision up to date, or create it. */
static int get_new_rs(struct dsync *s, bool create)
{
	s->inew = find_new(s);
	int64_t new_rev = max_old_revision(s) + 1;
	char err[512];
	int r;

	if (s->inew >= 0) {
		struct rs_view *v = s->rs[s->inew];
		_cleanup_json_ json_t *ann = json_deep_copy(v->annotations);
		bool changed = workload_set_new_rs_annotations(s->ann, ann, new_rev, true, 0, 0);
		if (changed || v->min_ready_seconds != s->min_ready) {
			char rv[24];
			snprintf(rv, sizeof(rv), "%lld", (long long)v->rv);
			_cleanup_json_ json_t *patch =
			    json_pack("{s:{s:s, s:O}, s:{s:i}}", "metadata", "resourceVersion", rv,
				      "annotations", ann, "spec", "minReadySeconds", s->min_ready);
			_cleanup_free_ char *path = kpath("apps/v1", "replicasets", s->ns, v->name);
			_cleanup_json_ json_t *got = NULL;
			r = workload_request(s->ctl->c, "PATCH", path,
					     "application/merge-patch+json", patch, &got, err,
					     sizeof(err));
			if (r < 0) {
				log_v(2, "deployment %s: updating %s: %s", s->key, v->name, err);
				return r;
			}
			if (got)
				replace_view(s, (size_t)s->inew, got);
			return 0;
		}
		bool needs = set_deployment_revision(
		    s, json_string_value(json_object_get(v->annotations, WL_ANN_REVISION)));
		if (has_deadline(s) && !workload_condition_get(s->status, PROGRESSING)) {
			char msg[512];
			snprintf(msg, sizeof(msg), "Found new replica set \"%s\"", v->name);
			workload_condition_put(s->status,
					       workload_condition_new(PROGRESSING, "True",
								      "FoundNewReplicaSet", msg,
								      s->now, true));
			needs = true;
		}
		return needs ? write_deployment(s) : 0;
	}
	if (!create)
		return 0;

	/* Make it: "<deployment>-<hash>", the hash label on its selector,
	 * labels and template, the template otherwise as it is. */
	json_t *cc = json_object_get(s->status, "collisionCount");
	int32_t collisions = (int32_t)json_integer_value(cc);
	char hash[16];
	workload_template_hash(s->tmpl, json_is_integer(cc) ? &collisions : NULL, hash);
	_cleanup_free_ char *name = xasprintf("%s-%s", s->name, hash);
	_cleanup_json_ json_t *tmpl = json_deep_copy(s->tmpl);
	json_t *labels = json_object_ensure(json_object_ensure(tmpl, "metadata"), "labels");
	json_set_str(labels, WL_HASH_LABEL, hash);
	_cleanup_json_ json_t *sel = json_deep_copy(json_get(s->d, "spec.selector"));
	json_set_str(json_object_ensure(sel, "matchLabels"), WL_HASH_LABEL, hash);

	struct plan p;
	plan_init(s, &p);
	struct rollout_rs fresh = { .name = name, .creation_usec = INT64_MAX };
	struct rollout_rs **all = xnew(struct rollout_rs *, p.nold + 1);
	memcpy(all, p.old, p.nold * sizeof(*all));
	all[p.nold] = &fresh;
	int32_t replicas = rollout_new_rs_replicas(&s->ro, all, p.nold + 1, &fresh);
	free(all);
	plan_release(&p);

	json_t *ann = json_object();
	workload_set_new_rs_annotations(s->ann, ann, new_rev, false, s->replicas,
					s->replicas + s->ro.max_surge);
	json_t *refs = json_array();
	json_array_append_new(refs,
			      workload_controller_ref("apps/v1", "Deployment", s->name, s->uid));
	_cleanup_json_ json_t *rs = json_pack(
	    "{s:s, s:s, s:{s:s, s:s, s:O, s:o, s:o}, s:{s:i, s:i, s:O, s:O}}", "apiVersion",
	    "apps/v1", "kind", "ReplicaSet", "metadata", "name", name, "namespace", s->ns, "labels",
	    labels, "annotations", ann, "ownerReferences", refs, "spec", "replicas", replicas,
	    "minReadySeconds", s->min_ready, "selector", sel, "template", tmpl);
	_cleanup_free_ char *rspath = kpath("apps/v1", "replicasets", s->ns, NULL);
	_cleanup_json_ json_t *got = NULL;
	bool existed = false;
	r = workload_request(s->ctl->c, "POST", rspath, NULL, rs, &got, err, sizeof(err));
	if (r == -EEXIST) {
		/* Made by an earlier sync the cache has not shown yet, or a
		 * hash collision with another template. */
		_cleanup_free_ char *path = kpath("apps/v1", "replicasets", s->ns, name);
		char gerr[512];
		if (workload_request(s->ctl->c, "GET", path, NULL, NULL, &got, gerr, sizeof(gerr)) <
		    0)
			return -EAGAIN;
		struct owner_ref ref = { 0 };
		bool ours = owner_controller(got, &ref) && streq(ref.uid, s->uid) &&
			    workload_template_equal(json_get(got, "spec.template"), s->tmpl);
		owner_ref_release(&ref);
		if (!ours) {
			json_set_int(s->status, "collisionCount", (int64_t)collisions + 1);
			log_v(2, "deployment %s: hash collision on %s, collisionCount now %d",
			      s->key, name, collisions + 1);
			write_deployment(s);
			return -EEXIST;
		}
		existed = true;
		r = 0;
	} else if (workload_ns_terminating(r, err)) {
		return r;
	} else if (r < 0) {
		char msg[1024];
		snprintf(msg, sizeof(msg), "Failed to create new replica set \"%s\": %s", name,
			 err);
		if (has_deadline(s)) {
			workload_condition_put(s->status,
					       workload_condition_new(PROGRESSING, "False",
								      "ReplicaSetCreateError", msg,
								      s->now, true));
			write_deployment(s);
		}
		record(s, "Warning", "ReplicaSetCreateError", "%s", msg);
		return r;
	}
	if (!got)
		return -EPROTO;
	s->rs = xrealloc(s->rs, (s->nrs + 1) * sizeof(*s->rs));
	s->rs[s->nrs] = rs_view_new(got);
	s->inew = (ssize_t)s->nrs++;
	if (!existed && replicas > 0)
		record(s, "Normal", "ScalingReplicaSet", "Scaled up replica set %s to %d", name,
		       replicas);
	char rev[24];
	snprintf(rev, sizeof(rev), "%lld", (long long)new_rev);
	bool needs = set_deployment_revision(s, rev);
	if (!existed && has_deadline(s)) {
		char msg[512];
		snprintf(msg, sizeof(msg), "Created new replica set \"%s\"", name);
		workload_condition_put(s->status, workload_condition_new(PROGRESSING, "True",
									 "NewReplicaSetCreated",
									 msg, s->now, true));
		needs = true;
	}
	return needs ? write_deployment(s) : 0;
}

/* ---- status ---- */

/* Kubernetes' calculateStatus: counts from the ReplicaSets' status, and
 * the Available condition. A new object. */
static json_t *calc_status(struct dsync *s)
{
	int64_t replicas = 0, ready = 0, available = 0, spec_total = 0, updated = 0;
	for (size_t i = 0; i < s->nrs; i++) {
		replicas += s->rs[i]->st_replicas;
		ready += s->rs[i]->st_ready;
		available += s->rs[i]->st_available;
		spec_total += s->rs[i]->replicas;
	}
	if (s->inew >= 0)
		updated = s->rs[s->inew]->st_replicas;
	int64_t unavailable = MAX(spec_total - available, 0);
	json_t *st = json_object();
	if (s->generation)
		json_set_int(st, "observedGeneration", s->generation);
	if (replicas)
		json_set_int(st, "replicas", replicas);
	if (updated)
		json_set_int(st, "updatedReplicas", updated);
	if (ready)
		json_set_int(st, "readyReplicas", ready);
	if (available)
		json_set_int(st, "availableReplicas", available);
	if (unavailable)
		json_set_int(st, "unavailableReplicas", unavailable);
	json_t *conds = json_object_get(s->status, "conditions");
	if (json_array_size(conds))
		json_object_set_new(st, "conditions", json_deep_copy(conds));
	json_t *cc = json_object_get(s->status, "collisionCount");
	if (cc)
		json_object_set(st, "collisionCount", cc);
	if (available >= s->replicas - s->ro.max_unavailable)
		workload_condition_put(
		    st,
		    workload_condition_new(AVAILABLE, "True", "MinimumReplicasAvailable",
					   "Deployment has minimum availability.", s->now, true));
	else
		workload_condition_put(
		    st, workload_condition_new(AVAILABLE, "False", "MinimumReplicasUnavailable",
					       "Deployment does not have minimum availability.",
					       s->now, true));
	return st;
}

/* Every replica updated and available, and this generation observed. */
static bool deployment_complete(struct dsync *s, json_t *st)
{
	return st_int(st, "updatedReplicas") == s->replicas &&
	       st_int(st, "replicas") == s->replicas &&
	       st_int(st, "availableReplicas") == s->replicas &&
	       json_get_int(st, "observedGeneration", 0) >= s->generation;
}

/* More updated, fewer old, more ready or more available than before. */
static bool deployment_progressing(json_t *old, json_t *cur)
{
	int32_t old_old = st_int(old, "replicas") - st_int(old, "updatedReplicas");
	int32_t new_old = st_int(cur, "replicas") - st_int(cur, "updatedReplicas");
	return st_int(cur, "updatedReplicas") > st_int(old, "updatedReplicas") ||
	       new_old < old_old || st_int(cur, "readyReplicas") > st_int(old, "readyReplicas") ||
	       st_int(cur, "availableReplicas") > st_int(old, "availableReplicas");
}

static int64_t cond_time(json_t *cond, const char *key)
{
	const char *s = json_string_value(json_object_get(cond, key));
	int64_t t;
	return s && time_parse_rfc3339(s, &t) == 0 ? t : 0;
}

static bool deployment_timed_out(struct dsync *s, json_t *st)
{
	if (!has_deadline(s))
		return false;
	json_t *c = workload_condition_get(st, PROGRESSING);
	if (!c)
		return false;
	const char *reason = json_string_value(json_object_get(c, "reason"));
	if (streq_ptr(reason, "NewReplicaSetAvailable"))
		return false;
	if (streq_ptr(reason, "ProgressDeadlineExceeded"))
		return true;
	return cond_time(c, "lastUpdateTime") + s->deadline * 1000000 < s->now;
}

/* Kubernetes' syncDeploymentStatus. */
static int sync_status(struct dsync *s)
{
	json_t *st = calc_status(s);
	if (json_equal(st, s->status)) {
		json_decref(st);
		return 0;
	}
	set_status(s, st);
	return write_deployment(s);
}

/* When the status does not change, come back when the progress deadline
 * could pass. */
static void requeue_stuck(struct dsync *s, json_t *st)
{
	json_t *cur = workload_condition_get(s->status, PROGRESSING);
	if (!has_deadline(s) || !cur)
		return;
	if (deployment_complete(s, st) ||
	    streq_ptr(json_string_value(json_object_get(cur, "reason")),
		      "ProgressDeadlineExceeded"))
		return;
	int64_t after = cond_time(cur, "lastUpdateTime") + s->deadline * 1000000 - s->now;
	workqueue_add_after(s->ctl->q, s->key, MAX(after, 0) + 1000000);
}

/* Kubernetes' syncRolloutStatus: the status with the Progressing
 * condition (and ReplicaFailure from the ReplicaSets). */
static int sync_rollout_status(struct dsync *s)
{
	_cleanup_json_ json_t *st = calc_status(s);
	if (!has_deadline(s))
		workload_condition_remove(st, PROGRESSING);
	json_t *cur = workload_condition_get(s->status, PROGRESSING);
	const char *cur_reason = json_string_value(json_object_get(cur, "reason"));
	bool complete = st_int(st, "replicas") == st_int(st, "updatedReplicas") &&
			streq_ptr(cur_reason, "NewReplicaSetAvailable");
	const char *what = s->inew >= 0 ? "ReplicaSet" : "Deployment";
	const char *who = s->inew >= 0 ? s->rs[s->inew]->name : s->name;
	char msg[512];
	if (has_deadline(s) && !complete) {
		if (deployment_complete(s, st)) {
			snprintf(msg, sizeof(msg), "%s \"%s\" has successfully progressed.", what,
				 who);
			workload_condition_put(st, workload_condition_new(PROGRESSING, "True",
									  "NewReplicaSetAvailable",
									  msg, s->now, true));
		} else if (deployment_progressing(s->status, st)) {
			snprintf(msg, sizeof(msg), "%s \"%s\" is progressing.", what, who);
			json_t *c = workload_condition_new(PROGRESSING, "True", "ReplicaSetUpdated",
							   msg, s->now, true);
			/* Progress moves lastUpdateTime (the deadline counts from
			 * it); lastTransitionTime stays while it stays True. */
			if (cur &&
			    streq_ptr(json_string_value(json_object_get(cur, "status")), "True"))
				json_object_set(c, "lastTransitionTime",
						json_object_get(cur, "lastTransitionTime"));
			workload_condition_remove(st, PROGRESSING);
			workload_condition_put(st, c);
		} else if (deployment_timed_out(s, st)) {
			snprintf(msg, sizeof(msg), "%s \"%s\" has timed out progressing.", what,
				 who);
			workload_condition_put(st,
					       workload_condition_new(PROGRESSING, "False",
								      "ProgressDeadlineExceeded",
								      msg, s->now, true));
		}
	}

	/* A ReplicaSet that cannot make pods: the new one's failure first. */
	json_t *failure = s->inew >= 0 ? s->rs[s->inew]->failure : NULL;
	for (size_t i = 0; !failure && i < s->nrs; i++)
		failure = s->rs[i]->failure;
	if (failure) {
		const char *ltt = str_or_empty_json(failure, "lastTransitionTime");
		json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", REPLICA_FAILURE,
				      "status", str_or_empty_json(failure, "status"),
				      "lastUpdateTime", ltt, "lastTransitionTime", ltt, "reason",
				      str_or_empty_json(failure, "reason"), "message",
				      str_or_empty_json(failure, "message"));
		workload_condition_put(st, c);
	} else {
		workload_condition_remove(st, REPLICA_FAILURE);
	}

	if (json_equal(st, s->status)) {
		requeue_stuck(s, st);
		return 0;
	}
	set_status(s, json_incref(st));
	return write_deployment(s);
}

/* ---- cleanup ---- */

/* Delete old ReplicaSets beyond revisionHistoryLimit, oldest revision
 * first, if they are empty and their controller has caught up. */
static int cleanup(struct dsync *s)
{
	if (s->history_limit < 0)
		return 0;
	struct rs_view **old = xnew(struct rs_view *, s->nrs + 1);
	size_t n = 0;
	for (size_t i = 0; i < s->nrs; i++)
		if ((ssize_t)i != s->inew && !s->rs[i]->deleting)
			old[n++] = s->rs[i];
	int64_t diff = (int64_t)n - s->history_limit;
	int result = 0;
	if (diff > 0) {
		qsort(old, n, sizeof(*old), cmp_view_revision);
		for (int64_t i = 0; i < diff; i++) {
			struct rs_view *v = old[i];
			if (v->st_replicas != 0 || v->replicas != 0 ||
			    v->generation > v->st_observed_generation || v->deleting)
				continue;
			log_v(2, "deployment %s: deleting old replica set %s (revision %lld)",
			      s->key, v->name, (long long)v->revision);
			_cleanup_free_ char *path = kpath("apps/v1", "replicasets", s->ns, v->name);
			char err[512];
			int r = workload_request(s->ctl->c, "DELETE", path, NULL, NULL, NULL, err,
						 sizeof(err));
			if (r < 0 && r != -ENOENT) {
				log_v(2, "deployment %s: deleting %s: %s", s->key, v->name, err);
				result = r;
				break;
			}
		}
	}
	free(old);
	return result;
}

/* ---- the strategies ---- */

/* Scaling or paused: resize proportionally, no rollout progress. */
static int sync_scale(struct dsync *s)
{
	int r = get_new_rs(s, false);
	if (r < 0)
		return r;
	struct plan p;
	plan_init(s, &p);
	rollout_scale(&s->ro, p.new_rs, p.old, p.nold);
	r = plan_apply(s, &p);
	plan_release(&p);
	if (r < 0)
		return r;
	if (s->paused && (r = cleanup(s)) < 0)
		return r;
	return sync_status(s);
}

/* A scaling event: an active ReplicaSet was sized for another
 * spec.replicas than the deployment's now. */
static int is_scaling_event(struct dsync *s, bool *ret)
{
	int r = get_new_rs(s, false);
	if (r < 0)
		return r;
	*ret = false;
	for (size_t i = 0; i < s->nrs; i++)
		if (s->rs[i]->replicas > 0 && s->rs[i]->has_desired &&
		    s->rs[i]->desired != s->replicas)
			*ret = true;
	return 0;
}

static int rollout_rolling(struct dsync *s)
{
	int r = get_new_rs(s, true);
	if (r < 0)
		return r;
	struct plan p;
	plan_init(s, &p);
	if (rollout_reconcile_new(&s->ro, p.new_rs, p.old, p.nold)) {
		r = plan_apply(s, &p);
		plan_release(&p);
		return r < 0 ? r : sync_rollout_status(s);
	}
	if (rollout_reconcile_old(&s->ro, p.new_rs, p.active, p.nactive) > 0) {
		r = plan_apply(s, &p);
		plan_release(&p);
		return r < 0 ? r : sync_rollout_status(s);
	}
	plan_release(&p);
	if (deployment_complete(s, s->status) && (r = cleanup(s)) < 0)
		return r;
	return sync_rollout_status(s);
}

/* Old pods still there (even terminating) keep a Recreate from starting
 * the new ones. */
struct old_pods {
	struct dsync *s;
	bool running;
};

static void check_old_pod(struct cobj *o, void *ud)
{
	struct old_pods *op = ud;
	struct pod_info *pi = o->ext;
	if (op->running || !pi || !pi->has_controller || pi->terminal)
		return;
	for (size_t i = 0; i < op->s->nrs; i++)
		if ((ssize_t)i != op->s->inew && streq(op->s->rs[i]->uid, pi->controller.uid))
			op->running = true;
}

static bool old_pods_running(struct dsync *s)
{
	for (size_t i = 0; i < s->nrs; i++)
		if ((ssize_t)i != s->inew && s->rs[i]->st_replicas > 0)
			return true;
	struct old_pods op = { s, false };
	informer_foreach(s->ctl->pod_inf, s->ns, check_old_pod, &op);
	return op.running;
}

static int rollout_recreate(struct dsync *s)
{
	int r = get_new_rs(s, false);
	if (r < 0)
		return r;
	bool scaled = false;
	for (size_t i = 0; i < s->nrs; i++) {
		if ((ssize_t)i == s->inew || s->rs[i]->replicas == 0)
			continue;
		if ((r = scale_rs(s, i, 0)) < 0)
			return r;
		scaled = true;
	}
	if (scaled || old_pods_running(s))
		return sync_rollout_status(s);
	if (s->inew < 0 && (r = get_new_rs(s, true)) < 0)
		return r;
	if (s->inew >= 0 && s->rs[s->inew]->replicas != s->replicas &&
	    (r = scale_rs(s, (size_t)s->inew, s->replicas)) < 0)
		return r;
	if (deployment_complete(s, s->status) && (r = cleanup(s)) < 0)
		return r;
	return sync_rollout_status(s);
}

/* Paused and resumed show in the Progressing condition, so that the
 * time spent paused does not count against the progress deadline. */
static int check_paused(struct dsync *s)
{
	if (!has_deadline(s))
		return 0;
	json_t *c = workload_condition_get(s->status, PROGRESSING);
	const char *reason = json_string_value(json_object_get(c, "reason"));
	if (streq_ptr(reason, "ProgressDeadlineExceeded"))
		return 0;
	bool paused_cond = streq_ptr(reason, "DeploymentPaused");
	if (s->paused && !paused_cond)
		workload_condition_put(
		    s->status, workload_condition_new(PROGRESSING, "Unknown", "DeploymentPaused",
						      "Deployment is paused", s->now, true));
	else if (!s->paused && paused_cond)
		workload_condition_put(
		    s->status, workload_condition_new(PROGRESSING, "Unknown", "DeploymentResumed",
						      "Deployment is resumed", s->now, true));
	else
		return 0;
	return write_deployment(s);
}

/* ---- the sync ---- */

static void dsync_release(struct dsync *s)
{
	rs_views_free(s->rs, s->nrs);
	if (s->sel_ok)
		label_selector_release(&s->sel);
	free(s->tmpl_canonical);
	free(s->path);
	json_decref(s->ann_patch);
	json_decref(s->d);
}

static void dsync_load(struct dsync *s)
{
	json_t *d = s->d, *spec = json_object_get(d, "spec");
	s->ns = str_or_empty_json(d, "metadata.namespace");
	s->name = str_or_empty_json(d, "metadata.name");
	s->uid = str_or_empty_json(d, "metadata.uid");
	s->path = kpath("apps/v1", "deployments", s->ns, s->name);
	snprintf(s->rv, sizeof(s->rv), "%s", str_or_empty_json(d, "metadata.resourceVersion"));
	s->generation = json_get_int(d, "metadata.generation", 0);
	s->deleting = json_get(d, "metadata.deletionTimestamp") != NULL;
	s->replicas = (int32_t)json_get_int(spec, "replicas", 1);
	s->paused = json_get_bool(spec, "paused", false);
	s->min_ready = (int32_t)json_get_int(spec, "minReadySeconds", 0);
	s->history_limit = json_get_int(spec, "revisionHistoryLimit", -1);
	s->deadline = json_get_int(spec, "progressDeadlineSeconds", -1);
	json_t *meta = json_object_ensure(d, "metadata");
	s->ann = json_object_ensure(meta, "annotations");
	s->ann_patch = json_object();
	json_t *st = json_object_get(d, "status");
	if (!json_is_object(st)) {
		st = json_object();
		json_object_set_new(d, "status", st);
	}
	s->status = st;
	json_t *strategy = json_object_get(spec, "strategy");
	bool rolling = !streq(str_or_empty_json(strategy, "type"), "Recreate");
	json_t *ru = json_object_get(strategy, "rollingUpdate");
	_cleanup_json_ json_t *quarter = json_string("25%");
	json_t *surge = json_object_get(ru, "maxSurge"),
	       *unavail = json_object_get(ru, "maxUnavailable");
	rollout_init(&s->ro, s->replicas, rolling, surge ? surge : quarter,
		     unavail ? unavail : quarter, st_int(st, "replicas"));
	s->tmpl = json_object_get(spec, "template");
	s->tmpl_canonical = workload_template_canonical(s->tmpl);
	json_t *sel = json_object_get(spec, "selector");
	_cleanup_free_ char *err = NULL;
	s->sel_ok = (json_object_size(json_object_get(sel, "matchLabels")) ||
		     json_array_size(json_object_get(sel, "matchExpressions"))) &&
		    label_selector_from_json(sel, &s->sel, &err) == 0;
	s->inew = -1;
}

static int deploy_sync(const char *key, void *ud)
{
	struct dctl *c = ud;
	struct cobj *o = informer_get(c->d_inf, key);
	if (!o)
		return 0; /* its ReplicaSets go with it (garbage collector) */
	struct dsync s = { .ctl = c, .key = key, .now = (int64_t)now_usec_realtime() };
	s.d = cobj_parse(o);
	cobj_unref(o);
	if (!s.d)
		return 0;
	dsync_load(&s);
	int r;

	if (!s.sel_ok) {
		record(&s, "Warning", "SelectingAll",
		       "This deployment is selecting all pods. A non-empty selector is required.");
		r = 0;
		if (json_get_int(s.status, "observedGeneration", 0) < s.generation) {
			json_set_int(s.status, "observedGeneration", s.generation);
			r = write_deployment(&s);
		}
		goto out;
	}
	if ((r = claim_replicasets(&s)) < 0)
		goto out;
	if (s.deleting) {
		r = get_new_rs(&s, false);
		if (r >= 0)
			r = sync_status(&s);
		goto out;
	}
	if ((r = check_paused(&s)) < 0)
		goto out;
	if (s.paused) {
		r = sync_scale(&s);
		goto out;
	}
	bool scaling;
	if ((r = is_scaling_event(&s, &scaling)) < 0)
		goto out;
	if (scaling)
		r = sync_scale(&s);
	else if (s.ro.rolling)
		r = rollout_rolling(&s);
	else
		r = rollout_recreate(&s);
out:
	if (r < 0)
		log_v(2, "deployment %s: sync failed: %s", key, strerror(-r));
	dsync_release(&s);
	return r < 0 ? r : 0;
}

/* ---- life cycle ---- */

static void *deploy_init(struct controller_ctx *ctx)
{
	struct dctl *c = xnew(struct dctl, 1);
	c->c = ctx->client;
	c->events = event_recorder_new(ctx->client, "deployment-controller", NULL);
	c->workers = ctx->opts && ctx->opts->workers > 0 ? ctx->opts->workers : 4;
	c->idx = rs_index_new();
	c->q = workqueue_new("deployment");
	c->d_inf = informer_factory_get(ctx->factory, "apps/v1", "deployments");
	c->rs_inf = informer_factory_get(ctx->factory, "apps/v1", "replicasets");
	c->pod_inf = informer_factory_get(ctx->factory, "v1", "pods");
	informer_add_handlers(c->d_inf, &(struct informer_handlers){
					    .on_add = d_enqueue,
					    .on_update = d_update,
					    .on_delete = d_enqueue,
					    .userdata = c,
					});
	informer_add_handlers(c->rs_inf, &(struct informer_handlers){
					     .on_add = rs_add,
					     .on_update = rs_update,
					     .on_delete = rs_delete,
					     .userdata = c,
					 });
	informer_add_handlers(c->pod_inf, &(struct informer_handlers){
					      .on_delete = pod_delete,
					      .userdata = c,
					  });
	return c;
}

static int deploy_run(void *state)
{
	struct dctl *c = state;
	return workqueue_run(c->q, c->workers, deploy_sync, c);
}

static void deploy_stop(void *state)
{
	struct dctl *c = state;
	if (!c)
		return;
	workqueue_free(c->q);
	rs_index_free(c->idx);
	event_recorder_free(c->events);
	free(c);
}

const struct controller_ops deployment_controller = { "deployment", deploy_init, deploy_run,
						      deploy_stop };
