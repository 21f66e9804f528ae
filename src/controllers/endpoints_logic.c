/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pure parts of the Endpoints and EndpointSlice controllers (endpoints.h):
 * port resolution, Endpoints subsets, slice endpoints and the slice
 * reconciliation plan, and the Service selector index.
 */
#include <arpa/inet.h>

#include "controllers/endpoints.h"
#include "lib/json.h"
#include "lib/selector.h"
#include "lib/strbuf.h"

static json_t *find_named_port(json_t *containers, const char *name, const char *proto,
			       bool sidecars_only)
{
	size_t i, k;
	json_t *c, *p;
	json_array_foreach(containers, i, c)
	{
		if (sidecars_only && !streq_ptr(json_get_str(c, "restartPolicy"), "Always"))
			continue;
		json_array_foreach(json_object_get(c, "ports"), k, p)
		{
			const char *pp = json_get_str(p, "protocol");
			if (streq_ptr(json_get_str(p, "name"), name) &&
			    streq(pp ? pp : "TCP", proto))
				return p;
		}
	}
	return NULL;
}

int ep_resolve_port(json_t *sp, json_t *pod)
{
	json_t *tp = json_object_get(sp, "targetPort");
	if (!tp || json_is_null(tp)) {
		json_int_t v = json_integer_value(json_object_get(sp, "port"));
		return v > 0 && v < 65536 ? (int)v : 0;
	}
	if (json_is_integer(tp)) {
		json_int_t v = json_integer_value(tp);
		if (v == 0)
			v = json_integer_value(json_object_get(sp, "port"));
		return v > 0 && v < 65536 ? (int)v : 0;
	}
	const char *name = json_string_value(tp);
	if (isempty(name))
		return 0;
	const char *proto = json_get_str(sp, "protocol");
	if (!proto)
		proto = "TCP";
	json_t *p = find_named_port(json_get(pod, "spec.containers"), name, proto, false);
	if (!p)
		p = find_named_port(json_get(pod, "spec.initContainers"), name, proto, true);
	json_int_t v = json_integer_value(json_object_get(p, "containerPort"));
	return v > 0 && v < 65536 ? (int)v : 0;
}

bool ep_service_headless(json_t *svc)
{
	return streq_ptr(json_get_str(svc, "spec.clusterIP"), "None");
}

bool ep_pod_eligible(json_t *pod, bool include_terminating)
{
	const char *ip = json_get_str(pod, "status.podIP");
	struct in_addr a;
	if (isempty(ip) || inet_pton(AF_INET, ip, &a) != 1)
		return false;
	const char *phase = json_get_str(pod, "status.phase");
	if (streq_ptr(phase, "Succeeded") || streq_ptr(phase, "Failed"))
		return false;
	if (!include_terminating && json_get(pod, "metadata.deletionTimestamp") &&
	    !json_is_null(json_get(pod, "metadata.deletionTimestamp")))
		return false;
	return true;
}

static bool pod_terminating(json_t *pod)
{
	json_t *d = json_get(pod, "metadata.deletionTimestamp");
	return d && !json_is_null(d);
}

bool ep_pod_ready(json_t *pod)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_get(pod, "status.conditions"), i, c)
	{
		if (streq_ptr(json_get_str(c, "type"), "Ready"))
			return streq_ptr(json_get_str(c, "status"), "True");
	}
	return false;
}

/* The pod's hostname when it is addressable under this Service. */
static const char *pod_hostname(json_t *svc, json_t *pod)
{
	const char *h = json_get_str(pod, "spec.hostname");
	if (isempty(h))
		return NULL;
	if (!streq_ptr(json_get_str(pod, "spec.subdomain"), json_get_str(svc, "metadata.name")) ||
	    !streq_ptr(json_get_str(pod, "metadata.namespace"),
		       json_get_str(svc, "metadata.namespace")))
		return NULL;
	return h;
}

static json_t *target_ref(json_t *pod)
{
	return json_pack("{s:s, s:s, s:s, s:s}", "kind", "Pod", "namespace",
			 str_or_empty_json(pod, "metadata.namespace"), "name",
			 str_or_empty_json(pod, "metadata.name"), "uid",
			 str_or_empty_json(pod, "metadata.uid"));
}

static json_t *ep_address(json_t *svc, json_t *pod)
{
	json_t *a = json_pack("{s:s}", "ip", json_get_str(pod, "status.podIP"));
	const char *h = pod_hostname(svc, pod);
	if (h)
		json_set_str(a, "hostname", h);
	const char *node = json_get_str(pod, "spec.nodeName");
	if (!isempty(node))
		json_set_str(a, "nodeName", node);
	json_object_set_new(a, "targetRef", target_ref(pod));
	return a;
}

static char *canonical(json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	return s ? s : xstrdup("null");
}

/* The port of an Endpoints subset or an EndpointSlice for a Service port. */
static json_t *endpoint_port(json_t *sp, int port, bool name_always)
{
	const char *name = json_get_str(sp, "name");
	const char *proto = json_get_str(sp, "protocol");
	json_t *p = json_object();
	if (!isempty(name) || name_always)
		json_set_str(p, "name", name ? name : "");
	json_set_int(p, "port", port);
	json_set_str(p, "protocol", proto ? proto : "TCP");
	const char *ap = json_get_str(sp, "appProtocol");
	if (!isempty(ap))
		json_set_str(p, "appProtocol", ap);
	return p;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted keys of a JSON object (borrowed strings). */
static const char **sorted_keys(json_t *obj, size_t *ret_n)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = xnew(const char *, n + 1);
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		keys[i++] = k;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	*ret_n = n;
	return keys;
}

static void add_entry(json_t *byport, json_t *port, const char *addr_key, json_t *addr, bool ready)
{
	_cleanup_free_ char *pk = port ? canonical(port) : xstrdup("");
	json_t *e = json_object_get(byport, pk);
	if (!e) {
		e = json_pack("{s:O, s:{}}", "port", port ? port : json_null(), "addrs");
		json_object_set_new(byport, pk, e);
	}
	json_object_set_new(json_object_get(e, "addrs"), addr_key,
			    json_pack("{s:O, s:b}", "a", addr, "r", ready));
}

json_t *ep_build_subsets(json_t *svc, json_t *const *pods, size_t npods)
{
	bool publish = json_get_bool(svc, "spec.publishNotReadyAddresses", false);
	json_t *ports = json_get(svc, "spec.ports");
	bool portless = !json_array_size(ports) && ep_service_headless(svc);
	_cleanup_json_ json_t *byport = json_object();
	for (size_t i = 0; i < npods; i++) {
		json_t *pod = pods[i];
		if (!ep_pod_eligible(pod, false))
			continue;
		bool ready = publish || ep_pod_ready(pod);
		_cleanup_json_ json_t *addr = ep_address(svc, pod);
		_cleanup_free_ char *key = xasprintf("%s/%s", json_get_str(pod, "status.podIP"),
						     str_or_empty_json(pod, "metadata.uid"));
		if (portless)
			add_entry(byport, NULL, key, addr, ready);
		size_t k;
		json_t *sp;
		json_array_foreach(ports, k, sp)
		{
			int n = ep_resolve_port(sp, pod);
			if (!n)
				continue;
			_cleanup_json_ json_t *p = endpoint_port(sp, n, false);
			add_entry(byport, p, key, addr, ready);
		}
	}

	/* Ports reaching the same (address, readiness) set share a subset. */
	_cleanup_json_ json_t *groups = json_object();
	size_t nports;
	_cleanup_free_ const char **pkeys = sorted_keys(byport, &nports);
	for (size_t i = 0; i < nports; i++) {
		json_t *e = json_object_get(byport, pkeys[i]);
		json_t *addrs = json_object_get(e, "addrs");
		size_t naddrs;
		_cleanup_free_ const char **akeys = sorted_keys(addrs, &naddrs);
		struct strbuf sig = STRBUF_INIT;
		for (size_t k = 0; k < naddrs; k++) {
			bool r =
			    json_is_true(json_object_get(json_object_get(addrs, akeys[k]), "r"));
			strbuf_addf(&sig, "%s%c\n", akeys[k], r ? '+' : '-');
		}
		json_t *g = json_object_get(groups, strbuf_str(&sig));
		if (!g) {
			g = json_pack("{s:[], s:[], s:[]}", "addresses", "notReadyAddresses",
				      "ports");
			for (size_t k = 0; k < naddrs; k++) {
				json_t *ae = json_object_get(addrs, akeys[k]);
				bool r = json_is_true(json_object_get(ae, "r"));
				json_array_append(
				    json_object_get(g, r ? "addresses" : "notReadyAddresses"),
				    json_object_get(ae, "a"));
			}
			json_object_set_new(groups, strbuf_str(&sig), g);
		}
		strbuf_release(&sig);
		json_t *port = json_object_get(e, "port");
		if (!json_is_null(port))
			json_array_append(json_object_get(g, "ports"), port);
	}

	json_t *subsets = json_array();
	const char *k;
	json_t *g;
	json_object_foreach(groups, k, g)
	{
		json_t *s = json_object();
		static const char *const fields[] = { "addresses", "notReadyAddresses", "ports" };
		for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
			json_t *v = json_object_get(g, fields[i]);
			if (json_array_size(v))
				json_object_set(s, fields[i], v);
		}
		json_array_append_new(subsets, s);
	}
	return subsets;
}

json_t *ep_labels(json_t *svc)
{
	json_t *l = json_get(svc, "metadata.labels");
	json_t *out = json_is_object(l) ? json_deep_copy(l) : json_object();
	if (ep_service_headless(svc))
		json_set_str(out, EP_LABEL_HEADLESS, "");
	else
		json_object_del(out, EP_LABEL_HEADLESS);
	return out;
}

/* ---- EndpointSlices ---- */

json_t *eps_endpoint(json_t *svc, json_t *pod)
{
	if (!ep_pod_eligible(pod, true))
		return NULL;
	bool publish = json_get_bool(svc, "spec.publishNotReadyAddresses", false);
	bool serving = publish || ep_pod_ready(pod);
	bool terminating = pod_terminating(pod);
	bool ready = publish || (serving && !terminating);
	json_t *e =
	    json_pack("{s:[s], s:{s:b, s:b, s:b}}", "addresses", json_get_str(pod, "status.podIP"),
		      "conditions", "ready", ready, "serving", serving, "terminating", terminating);
	const char *h = pod_hostname(svc, pod);
	if (h)
		json_set_str(e, "hostname", h);
	json_object_set_new(e, "targetRef", target_ref(pod));
	const char *node = json_get_str(pod, "spec.nodeName");
	if (!isempty(node))
		json_set_str(e, "nodeName", node);
	return e;
}

json_t *eps_ports(json_t *svc, json_t *pod)
{
	json_t *out = json_array();
	size_t i;
	json_t *sp;
	json_array_foreach(json_get(svc, "spec.ports"), i, sp)
	{
		int n = ep_resolve_port(sp, pod);
		if (n)
			json_array_append_new(out, endpoint_port(sp, n, true));
	}
	return out;
}

char *eps_endpoint_key(json_t *e)
{
	const char *ip = json_string_value(json_array_get(json_object_get(e, "addresses"), 0));
	return xasprintf("%s/%s", ip ? ip : "", str_or_empty_json(e, "targetRef.uid"));
}

char *eps_ports_key(json_t *ports)
{
	if (!json_array_size(ports))
		return xstrdup("[]");
	return canonical(ports);
}

/* What one slice (existing or to be made) holds in the plan. */
struct slot {
	json_t *slice; /* existing, or NULL */
	char *pkey;
	json_t *ports;
	json_t *eps;
	bool changed;
};

void eps_reconcile(json_t *endpoints, json_t *ports, json_t *const *slices, size_t nslices,
		   size_t max, struct eps_plan *ret)
{
	size_t n = json_array_size(endpoints);
	if (max == 0)
		max = EPS_MAX_ENDPOINTS;
	_cleanup_json_ json_t *want = json_object();
	char **pk = xnew(char *, n + 1);
	char **canon = xnew(char *, n + 1);
	bool *placed = xnew(bool, n + 1);
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(endpoints, i);
		_cleanup_free_ char *k = eps_endpoint_key(e);
		if (!json_object_get(want, k))
			json_object_set_new(want, k, json_integer((json_int_t)i));
		else
			placed[i] = true; /* a duplicate: ignore */
		pk[i] = eps_ports_key(json_array_get(ports, i));
		canon[i] = canonical(e);
	}

	struct slot *slots = xnew(struct slot, nslices + n + 1);
	size_t nslots = 0;
	for (size_t s = 0; s < nslices; s++) {
		struct slot *sl = &slots[nslots++];
		json_t *sports = json_object_get(slices[s], "ports");
		sl->slice = slices[s];
		sl->pkey = eps_ports_key(sports);
		sl->ports = json_is_array(sports) ? json_incref(sports) : json_array();
		sl->eps = json_array();
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(slices[s], "endpoints"), i, e)
		{
			_cleanup_free_ char *k = eps_endpoint_key(e);
			json_t *idx = json_object_get(want, k);
			size_t d = idx ? (size_t)json_integer_value(idx) : 0;
			if (!idx || placed[d] || !streq(pk[d], sl->pkey) ||
			    json_array_size(sl->eps) >= max) {
				sl->changed = true;
				continue;
			}
			placed[d] = true;
			json_array_append(sl->eps, json_array_get(endpoints, d));
			_cleanup_free_ char *c = canonical(e);
			if (!streq(c, canon[d]))
				sl->changed = true;
		}
	}
	for (size_t d = 0; d < n; d++) {
		if (placed[d])
			continue;
		struct slot *to = NULL;
		for (size_t s = 0; s < nslots && !to; s++)
			if (streq(slots[s].pkey, pk[d]) && json_array_size(slots[s].eps) < max)
				to = &slots[s];
		if (!to) {
			to = &slots[nslots++];
			to->pkey = xstrdup(pk[d]);
			json_t *p = json_array_get(ports, d);
			to->ports = json_is_array(p) ? json_incref(p) : json_array();
			to->eps = json_array();
		}
		json_array_append(to->eps, json_array_get(endpoints, d));
		to->changed = true;
	}

	ret->a = xnew(struct eps_action, nslots + 1);
	ret->n = 0;
	bool have_placeholder = false;
	if (n == 0 && nslots == 0) {
		ret->a[ret->n++] =
		    (struct eps_action){ EPS_CREATE, NULL, json_array(), json_array() };
		have_placeholder = true;
	}
	for (size_t s = 0; s < nslots; s++) {
		struct slot *sl = &slots[s];
		struct eps_action *a = &ret->a[ret->n++];
		*a = (struct eps_action){ EPS_KEEP, sl->slice, NULL, NULL };
		if (n == 0 && !have_placeholder && sl->slice) {
			/* No endpoints: one empty slice stays, without ports. */
			have_placeholder = true;
			bool empty = !json_array_size(json_object_get(sl->slice, "endpoints")) &&
				     !json_array_size(json_object_get(sl->slice, "ports"));
			a->op = empty ? EPS_KEEP : EPS_UPDATE;
			a->ports = json_array();
			a->endpoints = json_array();
		} else if (!json_array_size(sl->eps)) {
			a->op = EPS_DELETE;
		} else {
			a->op = !sl->slice ? EPS_CREATE : sl->changed ? EPS_UPDATE : EPS_KEEP;
			a->ports = json_incref(sl->ports);
			a->endpoints = json_incref(sl->eps);
		}
	}
	for (size_t s = 0; s < nslots; s++) {
		free(slots[s].pkey);
		json_decref(slots[s].ports);
		json_decref(slots[s].eps);
	}
	free(slots);
	for (size_t i = 0; i < n; i++) {
		free(pk[i]);
		free(canon[i]);
	}
	free(pk);
	free(canon);
	free(placed);
}

void eps_plan_release(struct eps_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		json_decref(p->a[i].ports);
		json_decref(p->a[i].endpoints);
	}
	free(p->a);
	*p = (struct eps_plan){ 0 };
}

/* ---- Service selector index ---- */

struct svc_entry {
	struct avl_node avl;
	char *key;
	json_t *selector;
};

static int entry_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct svc_entry, avl)->key);
}

void svc_index_init(struct svc_index *x)
{
	pthread_mutex_init(&x->mu, NULL);
	avl_init(&x->tree, entry_cmp);
}

static void entry_free(struct svc_entry *e)
{
	free(e->key);
	json_decref(e->selector);
	free(e);
}

void svc_index_release(struct svc_index *x)
{
	struct avl_node *n = avl_first(&x->tree);
	while (n) {
		struct avl_node *next = avl_next(n);
		avl_remove(&x->tree, n);
		entry_free(avl_entry(n, struct svc_entry, avl));
		n = next;
	}
	pthread_mutex_destroy(&x->mu);
}

void svc_index_remove(struct svc_index *x, const char *key)
{
	pthread_mutex_lock(&x->mu);
	struct avl_node *n = avl_find(&x->tree, key);
	if (n) {
		avl_remove(&x->tree, n);
		entry_free(avl_entry(n, struct svc_entry, avl));
	}
	pthread_mutex_unlock(&x->mu);
}

void svc_index_set(struct svc_index *x, const char *key, json_t *svc)
{
	json_t *sel = json_get(svc, "spec.selector");
	if (!json_object_size(sel)) {
		svc_index_remove(x, key);
		return;
	}
	pthread_mutex_lock(&x->mu);
	struct avl_node *n = avl_find(&x->tree, key);
	if (n) {
		struct svc_entry *e = avl_entry(n, struct svc_entry, avl);
		json_decref(e->selector);
		e->selector = json_deep_copy(sel);
	} else {
		struct svc_entry *e = xnew(struct svc_entry, 1);
		e->key = xstrdup(key);
		e->selector = json_deep_copy(sel);
		avl_insert(&x->tree, e->key, &e->avl);
	}
	pthread_mutex_unlock(&x->mu);
}

bool ep_selector_matches(json_t *selector, const char *packed_labels)
{
	if (!json_object_size(selector))
		return false;
	const char *k;
	json_t *v;
	json_object_foreach(selector, k, v)
	{
		const char *have = packed_labels ? packed_labels_get(packed_labels, k) : NULL;
		if (!have || !streq_ptr(have, json_string_value(v)))
			return false;
	}
	return true;
}

void svc_index_match(struct svc_index *x, const char *ns, const char *packed_labels,
		     void (*fn)(const char *key, void *ud), void *ud)
{
	_cleanup_free_ char *prefix = xasprintf("%s/", ns);
	size_t plen = strlen(prefix);
	pthread_mutex_lock(&x->mu);
	for (struct avl_node *n = avl_lower_bound(&x->tree, prefix, 1); n; n = avl_next(n)) {
		struct svc_entry *e = avl_entry(n, struct svc_entry, avl);
		if (strncmp(e->key, prefix, plen) != 0)
			break;
		if (ep_selector_matches(e->selector, packed_labels))
			fn(e->key, ud);
	}
	pthread_mutex_unlock(&x->mu);
}

/* ---- change trigger times ---- */

struct trigger {
	struct avl_node avl;
	char *key;
	int64_t usec;
};

static int trigger_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct trigger, avl)->key);
}

void trigger_times_init(struct trigger_times *t)
{
	pthread_mutex_init(&t->mu, NULL);
	avl_init(&t->tree, trigger_cmp);
}

void trigger_times_release(struct trigger_times *t)
{
	struct avl_node *n = avl_first(&t->tree);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct trigger *g = avl_entry(n, struct trigger, avl);
		avl_remove(&t->tree, n);
		free(g->key);
		free(g);
		n = next;
	}
	pthread_mutex_destroy(&t->mu);
}

void trigger_note(struct trigger_times *t, const char *key, int64_t usec)
{
	pthread_mutex_lock(&t->mu);
	struct avl_node *n = avl_find(&t->tree, key);
	if (n) {
		struct trigger *g = avl_entry(n, struct trigger, avl);
		if (usec < g->usec)
			g->usec = usec;
	} else {
		struct trigger *g = xnew(struct trigger, 1);
		g->key = xstrdup(key);
		g->usec = usec;
		avl_insert(&t->tree, g->key, &g->avl);
	}
	pthread_mutex_unlock(&t->mu);
}

int64_t trigger_take(struct trigger_times *t, const char *key)
{
	int64_t usec = 0;
	pthread_mutex_lock(&t->mu);
	struct avl_node *n = avl_find(&t->tree, key);
	if (n) {
		struct trigger *g = avl_entry(n, struct trigger, avl);
		usec = g->usec;
		avl_remove(&t->tree, n);
		free(g->key);
		free(g);
	}
	pthread_mutex_unlock(&t->mu);
	return usec;
}
