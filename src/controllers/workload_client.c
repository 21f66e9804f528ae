/* SPDX-License-Identifier: Apache-2.0 */
/* Expectations, the ReplicaSet index, parallel batches and API requests
 * shared by the ReplicaSet and Deployment controllers (workload.h). */
#include <pthread.h>

#include "client/kclient.h"
#include "controllers/workload.h"
#include "lib/avl.h"
#include "lib/json.h"
#include "lib/strbuf.h"
#include "lib/timeutil.h"

/* ---- expectations ---- */

struct pending_key {
	struct avl_node avl;
	char *key;
};

struct expectation {
	struct avl_node avl;
	char *key;
	int64_t add, del;
	uint64_t stamp;
	struct avl_tree deletes; /* pod keys expected to go */
};

struct expectations {
	pthread_mutex_t mu;
	struct avl_tree by_key;
	int64_t ttl_usec;
};

static int expectation_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct expectation, avl)->key);
}

static int pending_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct pending_key, avl)->key);
}

static void clear_deletes(struct expectation *x)
{
	struct avl_node *n = avl_first(&x->deletes);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct pending_key *p = avl_entry(n, struct pending_key, avl);
		avl_remove(&x->deletes, n);
		free(p->key);
		free(p);
		n = next;
	}
}

static void expectation_free(struct expectation *x)
{
	clear_deletes(x);
	free(x->key);
	free(x);
}

struct expectations *expectations_new(int64_t ttl_usec)
{
	struct expectations *e = xnew(struct expectations, 1);
	pthread_mutex_init(&e->mu, NULL);
	avl_init(&e->by_key, expectation_cmp);
	e->ttl_usec = ttl_usec;
	return e;
}

void expectations_free(struct expectations *e)
{
	if (!e)
		return;
	struct avl_node *n = avl_first(&e->by_key);
	while (n) {
		struct avl_node *next = avl_next(n);
		avl_remove(&e->by_key, n);
		expectation_free(avl_entry(n, struct expectation, avl));
		n = next;
	}
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static struct expectation *find(struct expectations *e, const char *key, bool create)
{
	struct avl_node *n = avl_find(&e->by_key, key);
	if (n)
		return avl_entry(n, struct expectation, avl);
	if (!create)
		return NULL;
	struct expectation *x = xnew(struct expectation, 1);
	x->key = xstrdup(key);
	avl_init(&x->deletes, pending_cmp);
	avl_insert(&e->by_key, x->key, &x->avl);
	return x;
}

/* Replace what key expects (a sync only sets expectations once the
 * previous ones are met or expired). */
static struct expectation *reset(struct expectations *e, const char *key)
{
	struct expectation *x = find(e, key, true);
	clear_deletes(x);
	x->add = x->del = 0;
	x->stamp = now_usec_monotonic();
	return x;
}

void expectations_expect_creations(struct expectations *e, const char *key, int n)
{
	pthread_mutex_lock(&e->mu);
	reset(e, key)->add = n;
	pthread_mutex_unlock(&e->mu);
}

void expectations_expect_deletions(struct expectations *e, const char *key, char *const *pod_keys,
				   size_t n)
{
	pthread_mutex_lock(&e->mu);
	struct expectation *x = reset(e, key);
	for (size_t i = 0; i < n; i++) {
		struct pending_key *p = xnew(struct pending_key, 1);
		p->key = xstrdup(pod_keys[i]);
		if (avl_insert(&x->deletes, p->key, &p->avl)) {
			free(p->key);
			free(p);
			continue;
		}
		x->del++;
	}
	pthread_mutex_unlock(&e->mu);
}

void expectations_lower_creations(struct expectations *e, const char *key, int n)
{
	pthread_mutex_lock(&e->mu);
	struct expectation *x = find(e, key, false);
	if (x)
		x->add -= n;
	pthread_mutex_unlock(&e->mu);
}

void expectations_creation_observed(struct expectations *e, const char *key)
{
	expectations_lower_creations(e, key, 1);
}

void expectations_deletion_observed(struct expectations *e, const char *key, const char *pod_key)
{
	pthread_mutex_lock(&e->mu);
	struct expectation *x = find(e, key, false);
	struct avl_node *n = x ? avl_find(&x->deletes, pod_key) : NULL;
	if (n) {
		struct pending_key *p = avl_entry(n, struct pending_key, avl);
		avl_remove(&x->deletes, n);
		free(p->key);
		free(p);
		x->del--;
	}
	pthread_mutex_unlock(&e->mu);
}

bool expectations_satisfied(struct expectations *e, const char *key)
{
	pthread_mutex_lock(&e->mu);
	struct expectation *x = find(e, key, false);
	bool ok = !x || (x->add <= 0 && x->del <= 0) ||
		  now_usec_monotonic() - x->stamp > (uint64_t)e->ttl_usec;
	pthread_mutex_unlock(&e->mu);
	return ok;
}

void expectations_delete(struct expectations *e, const char *key)
{
	pthread_mutex_lock(&e->mu);
	struct expectation *x = find(e, key, false);
	if (x) {
		avl_remove(&e->by_key, &x->avl);
		expectation_free(x);
	}
	pthread_mutex_unlock(&e->mu);
}

/* ---- ReplicaSet views ---- */

static int64_t time_at(json_t *obj, const char *path)
{
	const char *s = json_get_str(obj, path);
	int64_t t;
	return s && time_parse_rfc3339(s, &t) == 0 ? t : 0;
}

static int32_t get_i32(json_t *obj, const char *path, int32_t def)
{
	int64_t v = json_get_int(obj, path, def);
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

struct rs_view *rs_view_new(json_t *rs)
{
	struct rs_view *v = xnew(struct rs_view, 1);
	size_t len;
	atomic_init(&v->ref, 1);
	v->ns = xstrdup(str_or_empty_json(rs, "metadata.namespace"));
	v->name = xstrdup(str_or_empty_json(rs, "metadata.name"));
	v->uid = xstrdup(str_or_empty_json(rs, "metadata.uid"));
	v->key = xasprintf("%s/%s", v->ns, v->name);
	const char *rv = json_get_str(rs, "metadata.resourceVersion");
	v->rv = rv ? strtoll(rv, NULL, 10) : 0;
	v->generation = json_get_int(rs, "metadata.generation", 0);
	v->creation_usec = time_at(rs, "metadata.creationTimestamp");
	v->deleting = json_get(rs, "metadata.deletionTimestamp") != NULL;
	v->has_controller = owner_controller(rs, &v->controller);
	v->labels = packed_labels_from_json(json_get(rs, "metadata.labels"), &len);

	/* A ReplicaSet with an empty or invalid selector selects nothing. */
	json_t *sel = json_get(rs, "spec.selector");
	_cleanup_free_ char *err = NULL;
	if (!json_object_size(json_object_get(sel, "matchLabels")) &&
	    !json_array_size(json_object_get(sel, "matchExpressions")))
		v->selector = (struct label_selector){ .match_nothing = true };
	else if (label_selector_from_json(sel, &v->selector, &err) < 0)
		v->selector = (struct label_selector){ .match_nothing = true };

	v->tmpl_labels =
	    packed_labels_from_json(json_get(rs, "spec.template.metadata.labels"), &len);
	v->replicas = get_i32(rs, "spec.replicas", 1);
	v->min_ready_seconds = get_i32(rs, "spec.minReadySeconds", 0);
	json_t *ann = json_get(rs, "metadata.annotations");
	v->annotations = json_is_object(ann) ? json_deep_copy(ann) : json_object();
	v->revision = workload_revision(v->annotations);
	v->has_desired = workload_int_annotation(v->annotations, WL_ANN_DESIRED, &v->desired);
	v->has_max = workload_int_annotation(v->annotations, WL_ANN_MAX, &v->max);
	v->tmpl_canonical = workload_template_canonical(json_get(rs, "spec.template"));
	json_t *st = json_object_get(rs, "status");
	v->st_replicas = get_i32(st, "replicas", 0);
	v->st_fully_labeled = get_i32(st, "fullyLabeledReplicas", 0);
	v->st_ready = get_i32(st, "readyReplicas", 0);
	v->st_available = get_i32(st, "availableReplicas", 0);
	v->st_observed_generation = json_get_int(st, "observedGeneration", 0);
	json_t *f = workload_condition_get(st, "ReplicaFailure");
	v->failure = f ? json_deep_copy(f) : NULL;
	return v;
}

struct rs_view *rs_view_ref(struct rs_view *v)
{
	if (v)
		atomic_fetch_add_explicit(&v->ref, 1, memory_order_relaxed);
	return v;
}

void rs_view_unref(struct rs_view *v)
{
	if (!v || atomic_fetch_sub_explicit(&v->ref, 1, memory_order_acq_rel) != 1)
		return;
	free(v->key);
	free(v->ns);
	free(v->name);
	free(v->uid);
	owner_ref_release(&v->controller);
	free(v->labels);
	label_selector_release(&v->selector);
	free(v->tmpl_labels);
	json_decref(v->annotations);
	free(v->tmpl_canonical);
	json_decref(v->failure);
	free(v);
}

void rs_view_rollout(const struct rs_view *v, struct rollout_rs *ret)
{
	*ret = (struct rollout_rs){
		.name = v->name,
		.creation_usec = v->creation_usec,
		.replicas = v->replicas,
		.current = v->st_replicas,
		.available = v->st_available,
		.has_desired = v->has_desired,
		.desired = v->desired,
		.has_max = v->has_max,
		.max = v->max,
	};
}

/* ---- the index ---- */

struct index_entry {
	struct avl_node avl;
	struct rs_view *v;
};

struct rs_index {
	pthread_rwlock_t lock;
	struct avl_tree tree;
};

static int index_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct index_entry, avl)->v->key);
}

struct rs_index *rs_index_new(void)
{
	struct rs_index *x = xnew(struct rs_index, 1);
	pthread_rwlock_init(&x->lock, NULL);
	avl_init(&x->tree, index_cmp);
	return x;
}

void rs_index_free(struct rs_index *x)
{
	if (!x)
		return;
	struct avl_node *n = avl_first(&x->tree);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct index_entry *e = avl_entry(n, struct index_entry, avl);
		avl_remove(&x->tree, n);
		rs_view_unref(e->v);
		free(e);
		n = next;
	}
	pthread_rwlock_destroy(&x->lock);
	free(x);
}

struct rs_view *rs_index_put_json(struct rs_index *x, json_t *obj)
{
	struct rs_view *v = rs_view_new(obj), *old = NULL;
	pthread_rwlock_wrlock(&x->lock);
	struct avl_node *n = avl_find(&x->tree, v->key);
	if (n) {
		struct index_entry *e = avl_entry(n, struct index_entry, avl);
		old = e->v;
		e->v = rs_view_ref(v);
	} else {
		struct index_entry *e = xnew(struct index_entry, 1);
		e->v = rs_view_ref(v);
		avl_insert(&x->tree, v->key, &e->avl);
	}
	pthread_rwlock_unlock(&x->lock);
	rs_view_unref(old);
	return v;
}

void rs_index_remove(struct rs_index *x, const char *key)
{
	struct index_entry *e = NULL;
	pthread_rwlock_wrlock(&x->lock);
	struct avl_node *n = avl_find(&x->tree, key);
	if (n) {
		e = avl_entry(n, struct index_entry, avl);
		avl_remove(&x->tree, n);
	}
	pthread_rwlock_unlock(&x->lock);
	if (e) {
		rs_view_unref(e->v);
		free(e);
	}
}

struct rs_view *rs_index_get(struct rs_index *x, const char *key)
{
	struct rs_view *v = NULL;
	pthread_rwlock_rdlock(&x->lock);
	struct avl_node *n = avl_find(&x->tree, key);
	if (n)
		v = rs_view_ref(avl_entry(n, struct index_entry, avl)->v);
	pthread_rwlock_unlock(&x->lock);
	return v;
}

size_t rs_index_list(struct rs_index *x, const char *ns, struct rs_view ***ret)
{
	_cleanup_free_ char *prefix = xasprintf("%s/", ns);
	size_t plen = strlen(prefix), n = 0, cap = 8;
	struct rs_view **out = xnew(struct rs_view *, cap);
	pthread_rwlock_rdlock(&x->lock);
	for (struct avl_node *a = avl_lower_bound(&x->tree, prefix, 1); a; a = avl_next(a)) {
		struct rs_view *v = avl_entry(a, struct index_entry, avl)->v;
		if (strncmp(v->key, prefix, plen) != 0)
			break;
		if (n == cap)
			out = xrealloc(out, (cap *= 2) * sizeof(*out));
		out[n++] = rs_view_ref(v);
	}
	pthread_rwlock_unlock(&x->lock);
	*ret = out;
	return n;
}

void rs_views_free(struct rs_view **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		rs_view_unref(v[i]);
	free(v);
}

/* ---- parallel batches ---- */

#define MAX_THREADS 16

struct batch {
	workload_task_fn fn;
	void *userdata;
	size_t end;
	atomic_size_t next;
	atomic_size_t ok;
	atomic_int err;
};

static void *batch_main(void *arg)
{
	struct batch *b = arg;
	for (;;) {
		size_t i = atomic_fetch_add(&b->next, 1);
		if (i >= b->end)
			break;
		int r = b->fn(i, b->userdata);
		if (r >= 0) {
			atomic_fetch_add(&b->ok, 1);
		} else {
			int zero = 0;
			atomic_compare_exchange_strong(&b->err, &zero, r);
		}
	}
	return NULL;
}

size_t workload_parallel(size_t start, size_t n, workload_task_fn fn, void *userdata, int *ret_err)
{
	struct batch b = { .fn = fn, .userdata = userdata, .end = start + n };
	atomic_init(&b.next, start);
	atomic_init(&b.ok, 0);
	atomic_init(&b.err, 0);
	size_t nthreads = MIN(n, (size_t)MAX_THREADS);
	pthread_t th[MAX_THREADS];
	size_t started = 0;
	/* The calling thread works too. */
	for (size_t i = 1; i < nthreads; i++) {
		if (pthread_create(&th[started], NULL, batch_main, &b) != 0)
			break;
		started++;
	}
	batch_main(&b);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	*ret_err = atomic_load(&b.err);
	return atomic_load(&b.ok);
}

size_t workload_slow_start(size_t count, size_t initial, workload_task_fn fn, void *userdata,
			   int *ret_err)
{
	size_t done = 0, ok = 0, batch = MIN(count, MAX(initial, (size_t)1));
	*ret_err = 0;
	while (batch > 0) {
		int err;
		ok += workload_parallel(done, batch, fn, userdata, &err);
		done += batch;
		if (err) {
			*ret_err = err;
			break;
		}
		batch = MIN(2 * batch, count - done);
	}
	return ok;
}

/* ---- requests ---- */

int workload_request(struct kclient *c, const char *method, const char *path,
		     const char *content_type, json_t *body, json_t **ret, char *err,
		     size_t errsize)
{
	_cleanup_free_ char *s = body ? json_dump_compact(body, NULL) : NULL;
	struct kresp resp;
	if (err && errsize)
		err[0] = 0;
	if (kclient_do(c, method, path, s, s ? strlen(s) : 0, content_type, &resp) < 0) {
		if (err)
			snprintf(err, errsize, "%s", resp.error ? resp.error : "request failed");
		kresp_release(&resp);
		return -EIO;
	}
	long code = resp.code;
	int r = 0;
	if (code >= 200 && code < 300) {
		if (ret)
			*ret = kresp_json(&resp);
	} else {
		_cleanup_json_ json_t *st = kresp_json(&resp);
		const char *msg = json_get_str(st, "message");
		if (err)
			snprintf(err, errsize, "%s", msg ? msg : resp.body ? resp.body : "");
		r = code == 404			 ? -ENOENT
		    : code == 409		 ? -EEXIST
		    : code == 403		 ? -EACCES
		    : code == 400 || code == 422 ? -EINVAL
						 : -EPROTO;
	}
	kresp_release(&resp);
	return r;
}

bool workload_ns_terminating(int r, const char *err)
{
	return r == -EACCES && err && strstr(err, "being terminated");
}

json_t *workload_controller_ref(const char *api_version, const char *kind, const char *name,
				const char *uid)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion", api_version, "kind", kind,
			 "name", name, "uid", uid, "controller", 1, "blockOwnerDeletion", 1);
}

int workload_adopt(struct kclient *c, const char *path, const char *obj_uid, json_t *ref,
		   json_t **ret, char *err, size_t errsize)
{
	_cleanup_json_ json_t *patch =
	    json_pack("{s:{s:[O], s:s}}", "metadata", "ownerReferences", ref, "uid", obj_uid);
	return workload_request(c, "PATCH", path, "application/strategic-merge-patch+json", patch,
				ret, err, errsize);
}

int workload_release(struct kclient *c, const char *path, const char *obj_uid,
		     const char *owner_uid, json_t **ret, char *err, size_t errsize)
{
	_cleanup_json_ json_t *patch =
	    json_pack("{s:{s:[{s:s, s:s}], s:s}}", "metadata", "ownerReferences", "$patch",
		      "delete", "uid", owner_uid, "uid", obj_uid);
	return workload_request(c, "PATCH", path, "application/strategic-merge-patch+json", patch,
				ret, err, errsize);
}
