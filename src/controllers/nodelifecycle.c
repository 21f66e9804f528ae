/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node lifecycle (Kubernetes' pkg/controller/nodelifecycle, with its taint
 * eviction controller and the orphan part of the pod GC). Theory of
 * operation in README.md; in short:
 *
 * - Health. Informer handlers note, per node, the last time a heartbeat was
 *   seen on this machine's monotonic clock: a new lastHeartbeatTime in the
 *   Ready condition or a new renewTime in the node's Lease in
 *   kube-node-lease. Seeing a change, not the timestamps themselves, is
 *   what counts, so clock skew between nodes and server does not matter.
 * - One sweep per --node-monitor-period walks the node cache and that
 *   table: no API call. A node silent for --node-monitor-grace-period
 *   (--node-startup-grace-period while it has never reported Ready) is
 *   queued; so is a node whose managed taints differ from what its
 *   conditions call for. Zone states are computed here too.
 * - Node workers write only on transitions: the conditions to Unknown
 *   (nodes/status), then the taints (spec.taints), each a merge patch with a
 *   resourceVersion precondition.
 * - Pod workers handle the pods of nodes with NoExecute taints (taint
 *   eviction), mark the pods of not-ready nodes Ready=False, and delete
 *   pods bound to nodes that no longer exist.
 */
#include <pthread.h>

#include "client/events.h"
#include "client/factory.h"
#include "client/informer.h"
#include "client/kclient.h"
#include "client/objects.h"
#include "client/workqueue.h"
#include "controllers/controllers.h"
#include "controllers/nodelifecycle.h"
#include "lib/avl.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/selector.h"
#include "lib/strbuf.h"
#include "lib/timeutil.h"

#define LEASE_NS "kube-node-lease"
/* Kubernetes' pod GC waits this long before deleting the pods of a node
 * that is gone (its quarantine). */
#define ORPHAN_QUARANTINE_USEC (40LL * 1000000)
/* --large-cluster-size-threshold and --secondary-node-eviction-rate (0.01
 * node/s): a partially disrupted zone larger than this still gets one new
 * NoExecute taint per interval; a smaller one gets none. */
#define LARGE_CLUSTER_SIZE		 50
#define SECONDARY_EVICTION_INTERVAL_USEC (100LL * 1000000)

/* ---- controller state ---- */

/* A NoExecute taint that came without timeAdded, and when we first saw it. */
struct seen_taint {
	char *key, *value;
	int64_t usec;
};

struct health {
	struct avl_node avl;
	char *name;
	char *uid;
	bool has_node;		/* the Node exists (not only its Lease) */
	uint64_t probe;		/* monotonic usec of the last heartbeat seen */
	int64_t heartbeat_usec; /* Ready's lastHeartbeatTime, last seen */
	int64_t renew_usec;	/* the Lease's renewTime, last seen */
	struct nl_node_view view;
	char *zone;
	bool noexec;		      /* carries a NoExecute taint */
	enum nl_noexec_policy policy; /* from the last sweep */
	struct seen_taint *seen;
	size_t nseen;
};

/* Pods by node, key "node/ns/name" (node names hold no '/'). */
struct podref {
	struct avl_node avl;
	char *key;
	const char *pod; /* "ns/name", inside key */
	bool ready;
};

/* A deleted node, and when it went. */
struct gone {
	struct avl_node avl;
	char *name;
	int64_t usec;
};

struct zone {
	struct avl_node avl;
	char *name;
	size_t ready, not_ready;
	enum nl_zone_state state;
	uint64_t next_noexec; /* partial disruption: next NoExecute taint allowed (monotonic) */
};

/* A pod whose eviction is scheduled. */
struct scheduled {
	struct avl_node avl;
	char *key;
};

struct nlc {
	struct controller_ctx ctx;
	struct informer *nodes, *pods, *leases;
	struct workqueue *nodeq, *podq;
	int workers;

	pthread_mutex_t mu;
	struct avl_tree health, by_node, gone, zones, scheduled;
	bool all_disrupted;
	bool running;
	int64_t started_usec;

	pthread_t sweeper;
	bool sweeping;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cond;
	bool stop;
};

static int health_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct health, avl)->name);
}

static int podref_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct podref, avl)->key);
}

static int gone_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct gone, avl)->name);
}

static int zone_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct zone, avl)->name);
}

static int scheduled_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct scheduled, avl)->key);
}

static void seen_clear(struct health *h)
{
	for (size_t i = 0; i < h->nseen; i++) {
		free(h->seen[i].key);
		free(h->seen[i].value);
	}
	free(h->seen);
	h->seen = NULL;
	h->nseen = 0;
}

static void health_free(struct health *h)
{
	seen_clear(h);
	free(h->name);
	free(h->uid);
	free(h->zone);
	free(h);
}

static struct health *health_find(struct nlc *c, const char *name)
{
	struct avl_node *n = avl_find(&c->health, name);
	return n ? avl_entry(n, struct health, avl) : NULL;
}

static struct health *health_get(struct nlc *c, const char *name)
{
	struct health *h = health_find(c, name);
	if (h)
		return h;
	h = xnew(struct health, 1);
	h->name = xstrdup(name);
	h->uid = xstrdup("");
	h->zone = xstrdup("");
	h->probe = now_usec_monotonic();
	avl_insert(&c->health, h->name, &h->avl);
	return h;
}

static int64_t grace_of(const struct nlc *c, const struct health *h)
{
	return h->view.ready ? c->ctx.opts->node_monitor_grace_period_usec
			     : c->ctx.opts->node_startup_grace_period_usec;
}

static bool expired(const struct nlc *c, const struct health *h, uint64_t now)
{
	return now > h->probe && (int64_t)(now - h->probe) > grace_of(c, h);
}

/* ---- pods by node ---- */

static char *podref_key(const char *node, const char *pod)
{
	return xasprintf("%s/%s", node, pod);
}

static void podref_put(struct nlc *c, const char *node, const char *pod, bool ready)
{
	_cleanup_free_ char *key = podref_key(node, pod);
	struct avl_node *n = avl_find(&c->by_node, key);
	if (n) {
		avl_entry(n, struct podref, avl)->ready = ready;
		return;
	}
	struct podref *p = xnew(struct podref, 1);
	p->key = TAKE_PTR(key);
	p->pod = p->key + strlen(node) + 1;
	p->ready = ready;
	avl_insert(&c->by_node, p->key, &p->avl);
}

static void podref_del(struct nlc *c, const char *node, const char *pod)
{
	_cleanup_free_ char *key = podref_key(node, pod);
	struct avl_node *n = avl_find(&c->by_node, key);
	if (!n)
		return;
	struct podref *p = avl_entry(n, struct podref, avl);
	avl_remove(&c->by_node, n);
	free(p->key);
	free(p);
}

/* Queue the pods on node (only the Ready ones if ready_only), after delay. */
static void enqueue_node_pods(struct nlc *c, const char *node, bool ready_only, int64_t delay)
{
	_cleanup_free_ char *prefix = xasprintf("%s/", node);
	size_t plen = strlen(prefix);
	for (struct avl_node *n = avl_lower_bound(&c->by_node, prefix, 1); n; n = avl_next(n)) {
		struct podref *p = avl_entry(n, struct podref, avl);
		if (strncmp(p->key, prefix, plen) != 0)
			break;
		if (ready_only && !p->ready)
			continue;
		workqueue_add_after(c->podq, p->pod, delay);
	}
}

/* ---- scheduled evictions ---- */

static void schedule(struct nlc *c, const char *key, int64_t delay)
{
	pthread_mutex_lock(&c->mu);
	if (!avl_find(&c->scheduled, key)) {
		struct scheduled *s = xnew(struct scheduled, 1);
		s->key = xstrdup(key);
		avl_insert(&c->scheduled, s->key, &s->avl);
	}
	pthread_mutex_unlock(&c->mu);
	workqueue_add_after(c->podq, key, delay);
}

/* Forget a scheduled eviction; true if there was one. */
static bool unschedule(struct nlc *c, const char *key)
{
	pthread_mutex_lock(&c->mu);
	struct avl_node *n = avl_find(&c->scheduled, key);
	if (n) {
		struct scheduled *s = avl_entry(n, struct scheduled, avl);
		avl_remove(&c->scheduled, n);
		free(s->key);
		free(s);
	}
	pthread_mutex_unlock(&c->mu);
	return n != NULL;
}

/* ---- informer handlers ---- */

static void node_event(struct nlc *c, const char *name, const char *reason, const char *fmt,
		       const char *arg)
{
	/* Like the kubelet and Kubernetes' node controller, node events name
	 * the node by its name as UID, which is what `kubectl describe node`
	 * looks for. */
	event_record_ref(c->ctx.events, "v1", "Node", "", name, name, "Normal", reason, fmt, name,
			 arg);
}

static bool noexec_differs(const struct node_info *a, const struct node_info *b)
{
	size_t na = 0, nb = 0;
	for (size_t i = 0; i < a->ntaints; i++)
		na += streq(a->taints[i].effect, "NoExecute");
	for (size_t i = 0; i < b->ntaints; i++)
		nb += streq(b->taints[i].effect, "NoExecute");
	if (na != nb)
		return true;
	for (size_t i = 0; i < b->ntaints; i++) {
		const struct taint *t = &b->taints[i];
		if (!streq(t->effect, "NoExecute"))
			continue;
		bool found = false;
		for (size_t k = 0; k < a->ntaints && !found; k++)
			found = streq(a->taints[k].effect, "NoExecute") &&
				streq(a->taints[k].key, t->key) &&
				streq(a->taints[k].value, t->value) &&
				a->taints[k].added_usec == t->added_usec;
		if (!found)
			return true;
	}
	return false;
}

/* Remember when NoExecute taints without timeAdded were first seen. */
static void update_seen_locked(struct health *h, const struct node_info *ni, int64_t now)
{
	struct seen_taint *seen = NULL;
	size_t nseen = 0;
	for (size_t i = 0; i < ni->ntaints; i++) {
		const struct taint *t = &ni->taints[i];
		if (!streq(t->effect, "NoExecute") || t->added_usec)
			continue;
		int64_t when = now;
		for (size_t k = 0; k < h->nseen; k++)
			if (streq(h->seen[k].key, t->key) && streq(h->seen[k].value, t->value))
				when = h->seen[k].usec;
		seen = xrealloc(seen, (nseen + 1) * sizeof(*seen));
		seen[nseen++] = (struct seen_taint){ xstrdup(t->key), xstrdup(t->value), when };
	}
	seen_clear(h);
	h->seen = seen;
	h->nseen = nseen;
}

static char *zone_of(const struct node_info *ni)
{
	const char *zone = packed_labels_get(ni->labels, "topology.kubernetes.io/zone");
	const char *region = packed_labels_get(ni->labels, "topology.kubernetes.io/region");
	if (!zone)
		zone = packed_labels_get(ni->labels, "failure-domain.beta.kubernetes.io/zone");
	if (!region)
		region = packed_labels_get(ni->labels, "failure-domain.beta.kubernetes.io/region");
	return xasprintf("%s:%s", region ? region : "", zone ? zone : "");
}

static void node_seen(struct nlc *c, struct cobj *old, struct cobj *obj)
{
	const struct node_info *ni = obj->ext, *oi = old ? old->ext : NULL;
	_cleanup_json_ json_t *node = cobj_parse(obj);
	struct nl_node_view view;
	nl_node_view_from_json(node, &view);
	int64_t created = 0;
	const char *cs = json_get_str(node, "metadata.creationTimestamp");
	if (cs)
		time_parse_rfc3339(cs, &created);
	uint64_t now = now_usec_monotonic();
	int64_t now_real = (int64_t)now_usec_realtime();
	bool registered = false, not_ready = false;

	pthread_mutex_lock(&c->mu);
	struct health *h = health_get(c, obj->name);
	if (!h->has_node) {
		registered = true;
		h->has_node = true;
		/* A node that has never reported gets its startup grace from its
		 * creation; anything else from now. */
		if (!view.ready && created && created < now_real) {
			uint64_t at = now - MIN(now, (uint64_t)(now_real - created));
			if (!h->renew_usec)
				h->probe = at;
		} else {
			h->probe = now;
		}
		h->heartbeat_usec = ni->ready_heartbeat_usec;
	} else if (ni->ready_heartbeat_usec != h->heartbeat_usec) {
		h->heartbeat_usec = ni->ready_heartbeat_usec;
		h->probe = now;
	}
	free(h->uid);
	h->uid = xstrdup(obj->uid);
	free(h->zone);
	h->zone = zone_of(ni);
	h->view = view;
	h->noexec = false;
	for (size_t i = 0; i < ni->ntaints; i++)
		h->noexec |= streq(ni->taints[i].effect, "NoExecute");
	update_seen_locked(h, ni, now_real);

	struct avl_node *g = avl_find(&c->gone, obj->name);
	if (g) {
		struct gone *gn = avl_entry(g, struct gone, avl);
		avl_remove(&c->gone, g);
		free(gn->name);
		free(gn);
	}
	not_ready = oi && streq(oi->ready, "True") && !streq(ni->ready, "True");
	/* Its pods need a look when its NoExecute taints change (eviction) or
	 * it stops being Ready (Ready=False on them). */
	if (oi ? noexec_differs(oi, ni) || not_ready : h->noexec)
		enqueue_node_pods(c, obj->name, false, 0);
	bool running = c->running;
	pthread_mutex_unlock(&c->mu);

	if (!running)
		return;
	if (registered && !old)
		node_event(c, obj->name, "RegisteredNode",
			   "Node %s event: Registered Node %s in Controller", obj->name);
	if (not_ready) {
		log_info("nodelifecycle: node %s is not ready (Ready=%s)", obj->name,
			 isempty(ni->ready) ? "missing" : ni->ready);
		event_record_ref(c->ctx.events, "v1", "Node", "", obj->name, obj->name, "Normal",
				 "NodeNotReady", "Node %s status is now: NodeNotReady", obj->name);
	}
}

static void node_add(struct cobj *obj, void *ud)
{
	node_seen(ud, NULL, obj);
}

static void node_update(struct cobj *old, struct cobj *obj, void *ud)
{
	node_seen(ud, old, obj);
}

static void node_delete(struct cobj *obj, void *ud)
{
	struct nlc *c = ud;
	pthread_mutex_lock(&c->mu);
	struct health *h = health_find(c, obj->name);
	if (h) {
		avl_remove(&c->health, &h->avl);
		health_free(h);
	}
	if (!avl_find(&c->gone, obj->name)) {
		struct gone *g = xnew(struct gone, 1);
		g->name = xstrdup(obj->name);
		g->usec = (int64_t)now_usec_realtime();
		avl_insert(&c->gone, g->name, &g->avl);
	}
	/* Its pods are deleted once the quarantine is over. */
	enqueue_node_pods(c, obj->name, false, ORPHAN_QUARANTINE_USEC);
	bool running = c->running;
	pthread_mutex_unlock(&c->mu);
	if (running)
		node_event(c, obj->name, "RemovingNode",
			   "Node %s event: Removing Node %s from Controller", obj->name);
}

static void lease_seen(struct cobj *obj, void *ud)
{
	struct nlc *c = ud;
	if (!streq(obj->ns, LEASE_NS))
		return;
	_cleanup_json_ json_t *lease = cobj_parse(obj);
	const char *rt = json_get_str(lease, "spec.renewTime");
	int64_t renew = 0;
	if (!rt || time_parse_rfc3339(rt, &renew) < 0 || !renew)
		return;
	pthread_mutex_lock(&c->mu);
	struct health *h = health_get(c, obj->name);
	if (renew != h->renew_usec) {
		h->renew_usec = renew;
		h->probe = now_usec_monotonic();
	}
	pthread_mutex_unlock(&c->mu);
}

static void lease_update(struct cobj *old, struct cobj *obj, void *ud)
{
	lease_seen(obj, ud);
}

static void lease_delete(struct cobj *obj, void *ud)
{
	struct nlc *c = ud;
	if (!streq(obj->ns, LEASE_NS))
		return;
	pthread_mutex_lock(&c->mu);
	struct health *h = health_find(c, obj->name);
	if (h && !h->has_node) {
		avl_remove(&c->health, &h->avl);
		health_free(h);
	}
	pthread_mutex_unlock(&c->mu);
}

/* Does this pod need a look now? (called with mu held) */
static void pod_check_locked(struct nlc *c, struct cobj *obj, const struct pod_info *pi)
{
	if (isempty(pi->node_name) || pi->terminal)
		return;
	struct health *h = health_find(c, pi->node_name);
	if (!h || !h->has_node) {
		workqueue_add(c->podq, obj->key); /* maybe orphaned */
		return;
	}
	if (h->noexec || (pi->ready && h->view.ready && h->view.ready != 'T'))
		workqueue_add(c->podq, obj->key);
}

static void pod_add(struct cobj *obj, void *ud)
{
	struct nlc *c = ud;
	const struct pod_info *pi = obj->ext;
	if (isempty(pi->node_name))
		return;
	pthread_mutex_lock(&c->mu);
	podref_put(c, pi->node_name, obj->key, pi->ready);
	pod_check_locked(c, obj, pi);
	pthread_mutex_unlock(&c->mu);
}

static void pod_update(struct cobj *old, struct cobj *obj, void *ud)
{
	struct nlc *c = ud;
	const struct pod_info *oi = old->ext, *pi = obj->ext;
	if (isempty(pi->node_name) && isempty(oi->node_name))
		return;
	pthread_mutex_lock(&c->mu);
	if (!isempty(oi->node_name) && !streq(oi->node_name, pi->node_name))
		podref_del(c, oi->node_name, old->key);
	if (!isempty(pi->node_name))
		podref_put(c, pi->node_name, obj->key, pi->ready);
	pod_check_locked(c, obj, pi);
	pthread_mutex_unlock(&c->mu);
}

static void pod_delete(struct cobj *obj, void *ud)
{
	struct nlc *c = ud;
	const struct pod_info *pi = obj->ext;
	if (!isempty(pi->node_name)) {
		pthread_mutex_lock(&c->mu);
		podref_del(c, pi->node_name, obj->key);
		pthread_mutex_unlock(&c->mu);
	}
	unschedule(c, obj->key);
}

/* ---- node workers: conditions and taints ---- */

static json_t *patch_node(struct nlc *c, const char *name, const char *sub, json_t *patch,
			  long *ret_code)
{
	_cleanup_free_ char *base = kpath("v1", "nodes", NULL, name);
	_cleanup_free_ char *path = sub ? xasprintf("%s/%s", base, sub) : xstrdup(base);
	return kclient_patch(c->ctx.client, path, "application/merge-patch+json", patch, ret_code);
}

static int patch_result(long code)
{
	/* 404: the node is gone; anything else is retried with back-off. */
	return code == 404 ? 0 : -EAGAIN;
}

static char *taint_names(unsigned bits)
{
	struct strbuf sb = STRBUF_INIT;
	for (int k = 0; k < NLT_COUNT; k++) {
		if (!(bits & (1u << k)))
			continue;
		strbuf_addf(&sb, "%s%s:%s", sb.len ? ", " : "", nl_taint_key(1u << k),
			    nl_taint_effect(1u << k));
	}
	return sb.len ? strbuf_detach(&sb, NULL) : xstrdup("");
}

static int sync_node(const char *name, void *ud)
{
	struct nlc *c = ud;
	struct cobj *obj = informer_get(c->nodes, name);
	if (!obj)
		return 0;
	json_t *node = cobj_parse(obj);
	cobj_unref(obj);
	if (!node)
		return 0;
	_cleanup_json_ json_t *nodep = node;

	uint64_t now = now_usec_monotonic();
	int64_t now_real = (int64_t)now_usec_realtime();
	pthread_mutex_lock(&c->mu);
	struct health *h = health_find(c, name);
	bool silent = h && expired(c, h, now);
	int64_t silent_for = h ? (int64_t)(now - MIN(now, h->probe)) : 0;
	enum nl_noexec_policy policy = h ? h->policy : NL_NOEXEC_HOLD;
	pthread_mutex_unlock(&c->mu);

	if (silent) {
		_cleanup_json_ json_t *updated = json_deep_copy(node);
		if (nl_conditions_mark_unknown(updated, now_real)) {
			_cleanup_json_ json_t *patch =
			    json_pack("{s:{s:s}, s:{s:O}}", "metadata", "resourceVersion",
				      str_or_empty_json(node, "metadata.resourceVersion"), "status",
				      "conditions", json_get(updated, "status.conditions"));
			long code;
			json_t *res = patch_node(c, name, "status", patch, &code);
			if (!res)
				return patch_result(code);
			log_info(
			    "nodelifecycle: node %s: no heartbeat for %llds, its conditions are "
			    "now Unknown",
			    name, (long long)(silent_for / 1000000));
			json_decref(nodep);
			nodep = node = res;
		}
	}

	struct nl_node_view view;
	nl_node_view_from_json(node, &view);
	json_t *taints = json_get(node, "spec.taints");
	unsigned present = nl_taints_present(taints);
	unsigned desired = nl_taints_desired(&view, policy, present);
	if (desired == present)
		return 0;
	_cleanup_json_ json_t *nt = nl_taints_reconcile(taints, desired, now_real);
	if (!nt)
		return 0;
	_cleanup_json_ json_t *patch =
	    json_pack("{s:{s:s}, s:{s:O}}", "metadata", "resourceVersion",
		      str_or_empty_json(node, "metadata.resourceVersion"), "spec", "taints", nt);
	long code;
	_cleanup_json_ json_t *res = patch_node(c, name, NULL, patch, &code);
	if (!res)
		return patch_result(code);
	_cleanup_free_ char *added = taint_names(desired & ~present);
	_cleanup_free_ char *removed = taint_names(present & ~desired);
	log_info("nodelifecycle: node %s: taints%s%s%s%s", name, *added ? " added " : "", added,
		 *removed ? " removed " : "", removed);
	return 0;
}

/* ---- pod workers: eviction, Ready=False, orphans ---- */

static int delete_pod(struct nlc *c, const char *ns, const char *name, const char *uid, bool force)
{
	_cleanup_free_ char *path = kpath("v1", "pods", ns, name);
	_cleanup_json_ json_t *opts = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
						"DeleteOptions", "preconditions", "uid", uid);
	if (force)
		json_object_set_new(opts, "gracePeriodSeconds", json_integer(0));
	long code = kclient_delete(c->ctx.client, path, opts);
	/* 404: gone already; 409: the uid differs, another pod of that name. */
	if ((code >= 200 && code < 300) || code == 404 || code == 409)
		return 0;
	log_v(1, "nodelifecycle: deleting pod %s/%s: %ld", ns, name, code);
	return -EAGAIN;
}

static int mark_not_ready(struct nlc *c, json_t *pod, const char *node, const char *node_ready)
{
	char now[32];
	time_format_rfc3339((int64_t)now_usec_realtime(), now);
	_cleanup_json_ json_t *conds = json_deep_copy(json_get(pod, "status.conditions"));
	bool lost = !streq(node_ready, "False");
	_cleanup_free_ char *msg =
	    xasprintf(lost ? "Node %s is unreachable" : "Node %s is not ready", node);
	size_t i;
	json_t *cond;
	bool changed = false;
	json_array_foreach(conds, i, cond)
	{
		const char *type = json_get_str(cond, "type");
		if (!streq_ptr(type, "Ready") && !streq_ptr(type, "ContainersReady"))
			continue;
		if (streq_ptr(json_get_str(cond, "status"), "False"))
			continue;
		json_set_str(cond, "status", "False");
		json_set_str(cond, "reason", lost ? "NodeLost" : "NodeNotReady");
		json_set_str(cond, "message", msg);
		json_set_str(cond, "lastTransitionTime", now);
		json_object_del(cond, "lastProbeTime");
		changed = true;
	}
	if (!changed)
		return 0;
	_cleanup_json_ json_t *patch = json_pack(
	    "{s:{s:s}, s:{s:O}}", "metadata", "resourceVersion",
	    str_or_empty_json(pod, "metadata.resourceVersion"), "status", "conditions", conds);
	const char *ns = str_or_empty_json(pod, "metadata.namespace");
	const char *name = str_or_empty_json(pod, "metadata.name");
	_cleanup_free_ char *base = kpath("v1", "pods", ns, name);
	_cleanup_free_ char *path = xasprintf("%s/status", base);
	long code;
	_cleanup_json_ json_t *res =
	    kclient_patch(c->ctx.client, path, "application/merge-patch+json", patch, &code);
	if (!res)
		return code == 404 ? 0 : -EAGAIN;
	log_v(2, "nodelifecycle: pod %s/%s marked not ready (node %s)", ns, name, node);
	return 0;
}

/* The pod's node does not exist: delete the pod once the node has been
 * gone for the quarantine. */
static int sync_orphan(struct nlc *c, struct cobj *pod, const struct pod_info *pi)
{
	int64_t now = (int64_t)now_usec_realtime();
	pthread_mutex_lock(&c->mu);
	struct avl_node *g = avl_find(&c->gone, pi->node_name);
	int64_t since = g ? avl_entry(g, struct gone, avl)->usec : c->started_usec;
	pthread_mutex_unlock(&c->mu);
	if (now - since < ORPHAN_QUARANTINE_USEC) {
		workqueue_add_after(c->podq, pod->key,
				    since + ORPHAN_QUARANTINE_USEC - now + 100000);
		return 0;
	}
	log_info("nodelifecycle: deleting pod %s bound to node %s, which does not exist", pod->key,
		 pi->node_name);
	return delete_pod(c, pod->ns, pod->name, pod->uid, true);
}

static int sync_pod(const char *key, void *ud)
{
	struct nlc *c = ud;
	struct cobj *pod = informer_get(c->pods, key);
	if (!pod) {
		unschedule(c, key);
		return 0;
	}
	const struct pod_info *pi = pod->ext;
	if (isempty(pi->node_name) || pi->terminal) {
		unschedule(c, key);
		cobj_unref(pod);
		return 0;
	}
	struct cobj *nobj = informer_get(c->nodes, pi->node_name);
	if (!nobj) {
		int r = sync_orphan(c, pod, pi);
		cobj_unref(pod);
		return r;
	}
	const struct node_info *ni = nobj->ext;
	bool node_ready = streq(ni->ready, "True");
	int64_t now = (int64_t)now_usec_realtime();
	int r = 0;

	/* The node's NoExecute taints, with when they were added. */
	struct taint *ne = xnew(struct taint, ni->ntaints + 1);
	size_t nne = 0;
	pthread_mutex_lock(&c->mu);
	struct health *h = health_find(c, nobj->name);
	for (size_t i = 0; i < ni->ntaints; i++) {
		if (!streq(ni->taints[i].effect, "NoExecute"))
			continue;
		ne[nne] = ni->taints[i];
		for (size_t k = 0; !ne[nne].added_usec && h && k < h->nseen; k++)
			if (streq(h->seen[k].key, ne[nne].key) &&
			    streq(h->seen[k].value, ne[nne].value))
				ne[nne].added_usec = h->seen[k].usec;
		if (!ne[nne].added_usec)
			ne[nne].added_usec = now;
		nne++;
	}
	pthread_mutex_unlock(&c->mu);

	_cleanup_json_ json_t *j = NULL;
	int64_t when = NL_NEVER;
	if (nne) {
		j = cobj_parse(pod);
		struct toleration *tol;
		size_t ntol = tolerations_parse(json_get(j, "spec.tolerations"), &tol);
		when = nl_eviction_time(ne, nne, tol, ntol);
		tolerations_free(tol, ntol);
	}
	free(ne);

	if (when != NL_NEVER && now >= when) {
		/* A pod on a node that is not Ready cannot be stopped by its
		 * kubelet: force the deletion so that it is replaced at once.
		 * On a Ready node (someone else's NoExecute taint) it is deleted
		 * gracefully, and a pod already terminating is left to finish. */
		bool force = !node_ready;
		unschedule(c, key);
		if (!pi->deleting || force) {
			log_info("nodelifecycle: evicting pod %s from node %s%s", key, nobj->name,
				 force ? " (forced: the node is not ready)" : "");
			event_record_ref(c->ctx.events, "v1", "Pod", pod->ns, pod->name, pod->uid,
					 "Normal", "TaintManagerEviction",
					 "Marking for deletion Pod %s", key);
			r = delete_pod(c, pod->ns, pod->name, pod->uid, force);
		}
		goto out;
	}
	if (when != NL_NEVER) {
		schedule(c, key, when - now);
	} else if (unschedule(c, key)) {
		event_record_ref(c->ctx.events, "v1", "Pod", pod->ns, pod->name, pod->uid, "Normal",
				 "TaintManagerEviction", "Cancelling deletion of Pod %s", key);
	}

	if (!node_ready && !isempty(ni->ready) && pi->ready && !pi->deleting) {
		if (!j)
			j = cobj_parse(pod);
		if (j)
			r = mark_not_ready(c, j, nobj->name, ni->ready);
	}
out:
	cobj_unref(nobj);
	cobj_unref(pod);
	return r;
}

/* ---- the sweep ---- */

struct snapshot {
	struct cobj **v;
	size_t n, alloc;
};

static void snap_add(struct cobj *obj, void *ud)
{
	struct snapshot *s = ud;
	if (s->n == s->alloc) {
		s->alloc = s->alloc ? s->alloc * 2 : 64;
		s->v = xrealloc(s->v, s->alloc * sizeof(*s->v));
	}
	s->v[s->n++] = cobj_ref(obj);
}

static struct zone *zone_get(struct nlc *c, const char *name)
{
	struct avl_node *n = avl_find(&c->zones, name);
	if (n)
		return avl_entry(n, struct zone, avl);
	struct zone *z = xnew(struct zone, 1);
	z->name = xstrdup(name);
	avl_insert(&c->zones, z->name, &z->avl);
	return z;
}

static const char *zone_state_name(enum nl_zone_state s)
{
	return s == NL_ZONE_FULL      ? "FullDisruption"
	       : s == NL_ZONE_PARTIAL ? "PartialDisruption"
				      : "Normal";
}

static void sweep(struct nlc *c)
{
	struct snapshot snap = { 0 };
	uint64_t start = now_usec_monotonic();
	informer_foreach(c->nodes, NULL, snap_add, &snap);
	uint64_t now = now_usec_monotonic();

	pthread_mutex_lock(&c->mu);
	for (struct avl_node *n = avl_first(&c->zones); n; n = avl_next(n)) {
		struct zone *z = avl_entry(n, struct zone, avl);
		z->ready = z->not_ready = 0;
	}
	for (size_t i = 0; i < snap.n; i++) {
		struct health *h = health_get(c, snap.v[i]->name);
		bool silent = expired(c, h, now);
		/* A node still starting (no Ready condition yet, within its
		 * startup grace) is neither healthy nor failed: not counted. */
		if (!h->view.ready && !silent)
			continue;
		struct zone *z = zone_get(c, h->zone);
		if (h->view.ready == 'T' && !silent)
			z->ready++;
		else
			z->not_ready++;
	}
	bool all_full = snap.n > 0;
	struct avl_node *n = avl_first(&c->zones);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct zone *z = avl_entry(n, struct zone, avl);
		if (!z->ready && !z->not_ready) {
			avl_remove(&c->zones, n);
			free(z->name);
			free(z);
			n = next;
			continue;
		}
		enum nl_zone_state st = nl_zone_state(z->ready, z->not_ready);
		if (st != z->state)
			log_info(
			    "nodelifecycle: zone \"%s\" is now in state %s (%zu ready, %zu not "
			    "ready)",
			    z->name, zone_state_name(st), z->ready, z->not_ready);
		z->state = st;
		all_full &= st == NL_ZONE_FULL;
		n = next;
	}
	if (all_full && !c->all_disrupted) {
		log_warn("nodelifecycle: no node is ready: entering full disruption mode, "
			 "NoExecute taints are removed and nothing is evicted");
		c->all_disrupted = true;
	} else if (!all_full && c->all_disrupted) {
		/* Like Kubernetes: every node gets a fresh grace period to report. */
		log_info("nodelifecycle: nodes are ready again: leaving full disruption mode");
		c->all_disrupted = false;
		for (struct avl_node *x = avl_first(&c->health); x; x = avl_next(x))
			avl_entry(x, struct health, avl)->probe = now;
	}

	/* Deleted nodes are remembered until their pods' quarantine is long over. */
	int64_t now_real = (int64_t)now_usec_realtime();
	n = avl_first(&c->gone);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct gone *g = avl_entry(n, struct gone, avl);
		if (now_real - g->usec > 4 * ORPHAN_QUARANTINE_USEC) {
			avl_remove(&c->gone, n);
			free(g->name);
			free(g);
		}
		n = next;
	}

	for (size_t i = 0; i < snap.n; i++) {
		const struct node_info *ni = snap.v[i]->ext;
		struct health *h = health_get(c, snap.v[i]->name);
		struct zone *z = zone_get(c, h->zone);
		bool silent = expired(c, h, now);
		struct nl_node_view v = h->view;
		if (silent)
			v.ready = 'U';
		unsigned present = nl_taints_present_info(ni->taints, ni->ntaints);
		enum nl_noexec_policy p;
		if (c->all_disrupted) {
			p = NL_NOEXEC_CLEAR;
		} else if (z->state == NL_ZONE_NORMAL) {
			p = NL_NOEXEC_ALLOW;
		} else if (z->state == NL_ZONE_PARTIAL &&
			   z->ready + z->not_ready > LARGE_CLUSTER_SIZE &&
			   (nl_taints_desired(&v, NL_NOEXEC_ALLOW, present) & ~present &
			    NLT_NOEXECUTE) &&
			   now >= z->next_noexec) {
			p = NL_NOEXEC_ALLOW;
			z->next_noexec = now + SECONDARY_EVICTION_INTERVAL_USEC;
		} else {
			p = NL_NOEXEC_HOLD;
		}
		h->policy = p;
		unsigned desired = nl_taints_desired(&v, p, present);
		if ((silent && h->view.ready != 'U') || desired != present)
			workqueue_add(c->nodeq, h->name);
		if (v.ready == 'U')
			enqueue_node_pods(c, h->name, true, 0);
	}
	pthread_mutex_unlock(&c->mu);

	for (size_t i = 0; i < snap.n; i++)
		cobj_unref(snap.v[i]);
	free(snap.v);
	uint64_t took = now_usec_monotonic() - start;
	if (took > 100000)
		log_warn("nodelifecycle: sweeping %zu nodes took %llu ms", snap.n,
			 (unsigned long long)(took / 1000));
	else
		log_v(4, "nodelifecycle: swept %zu nodes in %llu us", snap.n,
		      (unsigned long long)took);
}

static void *sweeper_main(void *arg)
{
	struct nlc *c = arg;
	int64_t period = MAX(c->ctx.opts->node_monitor_period_usec, 10000);
	pthread_mutex_lock(&c->stop_mu);
	while (!c->stop) {
		pthread_mutex_unlock(&c->stop_mu);
		sweep(c);
		pthread_mutex_lock(&c->stop_mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(period / 1000000);
		ts.tv_nsec += (long)(period % 1000000) * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (!c->stop)
			pthread_cond_timedwait(&c->stop_cond, &c->stop_mu, &ts);
	}
	pthread_mutex_unlock(&c->stop_mu);
	return NULL;
}

/* ---- life cycle ---- */

static void *nlc_init(struct controller_ctx *ctx)
{
	struct nlc *c = xnew(struct nlc, 1);
	c->ctx = *ctx;
	c->workers = MAX(ctx->opts->workers, 1);
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->stop_mu, NULL);
	pthread_cond_init(&c->stop_cond, NULL);
	avl_init(&c->health, health_cmp);
	avl_init(&c->by_node, podref_cmp);
	avl_init(&c->gone, gone_cmp);
	avl_init(&c->zones, zone_cmp);
	avl_init(&c->scheduled, scheduled_cmp);
	c->nodeq = workqueue_new("nodelifecycle");
	c->podq = workqueue_new("tainteviction");
	c->nodes = informer_factory_get(ctx->factory, "v1", "nodes");
	c->pods = informer_factory_get(ctx->factory, "v1", "pods");
	c->leases = informer_factory_get(ctx->factory, "coordination.k8s.io/v1", "leases");
	informer_add_handlers(c->nodes, &(struct informer_handlers){ .on_add = node_add,
								     .on_update = node_update,
								     .on_delete = node_delete,
								     .userdata = c });
	informer_add_handlers(c->pods, &(struct informer_handlers){ .on_add = pod_add,
								    .on_update = pod_update,
								    .on_delete = pod_delete,
								    .userdata = c });
	informer_add_handlers(c->leases, &(struct informer_handlers){ .on_add = lease_seen,
								      .on_update = lease_update,
								      .on_delete = lease_delete,
								      .userdata = c });
	return c;
}

static int nlc_run(void *state)
{
	struct nlc *c = state;
	pthread_mutex_lock(&c->mu);
	c->running = true;
	c->started_usec = (int64_t)now_usec_realtime();
	pthread_mutex_unlock(&c->mu);
	int r = workqueue_run(c->nodeq, c->workers, sync_node, c);
	if (r < 0)
		return r;
	r = workqueue_run(c->podq, c->workers, sync_pod, c);
	if (r < 0)
		return r;
	r = pthread_create(&c->sweeper, NULL, sweeper_main, c);
	if (r)
		return -r;
	c->sweeping = true;
	return 0;
}

static void free_tree(struct avl_tree *t, void (*fn)(struct avl_node *n))
{
	struct avl_node *n = avl_first(t);
	while (n) {
		struct avl_node *next = avl_next(n);
		avl_remove(t, n);
		fn(n);
		n = next;
	}
}

static void free_health_node(struct avl_node *n)
{
	health_free(avl_entry(n, struct health, avl));
}

static void free_podref_node(struct avl_node *n)
{
	struct podref *p = avl_entry(n, struct podref, avl);
	free(p->key);
	free(p);
}

static void free_gone_node(struct avl_node *n)
{
	struct gone *g = avl_entry(n, struct gone, avl);
	free(g->name);
	free(g);
}

static void free_zone_node(struct avl_node *n)
{
	struct zone *z = avl_entry(n, struct zone, avl);
	free(z->name);
	free(z);
}

static void free_scheduled_node(struct avl_node *n)
{
	struct scheduled *s = avl_entry(n, struct scheduled, avl);
	free(s->key);
	free(s);
}

static void nlc_stop(void *state)
{
	struct nlc *c = state;
	if (c->sweeping) {
		pthread_mutex_lock(&c->stop_mu);
		c->stop = true;
		pthread_cond_broadcast(&c->stop_cond);
		pthread_mutex_unlock(&c->stop_mu);
		pthread_join(c->sweeper, NULL);
	}
	workqueue_free(c->nodeq);
	workqueue_free(c->podq);
	free_tree(&c->health, free_health_node);
	free_tree(&c->by_node, free_podref_node);
	free_tree(&c->gone, free_gone_node);
	free_tree(&c->zones, free_zone_node);
	free_tree(&c->scheduled, free_scheduled_node);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->stop_mu);
	pthread_cond_destroy(&c->stop_cond);
	free(c);
}

const struct controller_ops nodelifecycle_controller = { "nodelifecycle", nlc_init, nlc_run,
							 nlc_stop };
