/* SPDX-License-Identifier: Apache-2.0 */
/* Garbage collector internals: metadata scanning, the dependency graph and
 * the deletion decision (see gc.h). */
#include <jansson.h>

#include "controllers/gc.h"
#include "lib/json.h"
#include "lib/macro.h"

/* ---- scanning JSON bytes ---- */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at '"': returns the position after the closing quote, or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Returns the position after the value at p, or NULL if malformed. */
static const char *skip_value(const char *p, const char *end)
{
	if (p >= end)
		return NULL;
	if (*p == '"')
		return skip_string(p, end);
	if (*p == '{' || *p == '[') {
		int depth = 0;
		while (p < end) {
			char ch = *p;
			if (ch == '"') {
				p = skip_string(p, end);
				if (!p)
					return NULL;
				continue;
			}
			if (ch == '{' || ch == '[')
				depth++;
			else if (ch == '}' || ch == ']')
				depth--;
			p++;
			if (depth == 0)
				return p;
		}
		return NULL;
	}
	const char *s = p;
	while (p < end && !strchr(",}] \t\r\n", *p))
		p++;
	return p > s ? p : NULL;
}

/* Walk the members of the object at p; fn gets the raw key (no quotes) and
 * the value span. Returns 0 or -EINVAL. */
static int members(const char *p, const char *end,
		   void (*fn)(const char *key, size_t klen, const char *v, size_t vlen, void *ud),
		   void *ud)
{
	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return -EINVAL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	while (p < end) {
		if (*p != '"')
			return -EINVAL;
		const char *k = p + 1, *ke = skip_string(p, end);
		if (!ke)
			return -EINVAL;
		p = skip_ws(ke, end);
		if (p >= end || *p != ':')
			return -EINVAL;
		p = skip_ws(p + 1, end);
		const char *v = p, *ve = skip_value(p, end);
		if (!ve)
			return -EINVAL;
		fn(k, (size_t)(ke - 1 - k), v, (size_t)(ve - v), ud);
		p = skip_ws(ve, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			return 0;
		return -EINVAL;
	}
	return -EINVAL;
}

static bool key_is(const char *k, size_t klen, const char *want)
{
	return klen == strlen(want) && memcmp(k, want, klen) == 0;
}

static void meta_member(const char *k, size_t klen, const char *v, size_t vlen, void *ud)
{
	struct gc_meta *m = ud;
	bool null = vlen == 4 && memcmp(v, "null", 4) == 0;
	if (key_is(k, klen, "ownerReferences") && !null) {
		m->owners = v;
		m->owners_len = vlen;
	} else if (key_is(k, klen, "finalizers") && !null) {
		m->finalizers = v;
		m->finalizers_len = vlen;
	} else if (key_is(k, klen, "deletionTimestamp")) {
		m->deleting = !null;
	}
}

struct root_scan {
	struct gc_meta *m;
	int r;
};

static void root_member(const char *k, size_t klen, const char *v, size_t vlen, void *ud)
{
	struct root_scan *s = ud;
	if (key_is(k, klen, "metadata") && vlen && *v == '{')
		s->r = members(v, v + vlen, meta_member, s->m);
}

int gc_scan_meta(const char *json, size_t len, struct gc_meta *ret)
{
	struct gc_meta m = { 0 };
	struct root_scan s = { &m, 0 };
	int r = members(json, json + len, root_member, &s);
	if (r < 0 || s.r < 0)
		return -EINVAL;
	*ret = m;
	return 0;
}

static bool span_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

bool gc_meta_equal(const struct gc_meta *a, const struct gc_meta *b)
{
	return a->deleting == b->deleting &&
	       span_eq(a->owners, a->owners_len, b->owners, b->owners_len) &&
	       span_eq(a->finalizers, a->finalizers_len, b->finalizers, b->finalizers_len);
}

bool gc_meta_has_finalizer(const struct gc_meta *m, const char *finalizer)
{
	if (!m->finalizers_len)
		return false;
	_cleanup_json_ json_t *fin = json_loadb(m->finalizers, m->finalizers_len, 0, NULL);
	size_t i;
	json_t *f;
	json_array_foreach(fin, i, f)
	{
		if (streq_ptr(json_string_value(f), finalizer))
			return true;
	}
	return false;
}

/* ---- owner references ---- */

size_t gc_owners_parse(const char *text, size_t len, struct gc_owner **ret)
{
	*ret = NULL;
	if (!len)
		return 0;
	_cleanup_json_ json_t *refs = json_loadb(text, len, 0, NULL);
	size_t n = json_array_size(refs), k = 0, i;
	if (!n)
		return 0;
	struct gc_owner *o = xnew(struct gc_owner, n);
	json_t *r;
	json_array_foreach(refs, i, r)
	{
		const char *uid = json_get_str(r, "uid");
		if (isempty(uid))
			continue;
		o[k].uid = xstrdup(uid);
		o[k].api_version = xstrdup(str_or_empty_json(r, "apiVersion"));
		o[k].kind = xstrdup(str_or_empty_json(r, "kind"));
		o[k].name = xstrdup(str_or_empty_json(r, "name"));
		o[k].block = json_is_true(json_object_get(r, "blockOwnerDeletion"));
		o[k].controller = json_is_true(json_object_get(r, "controller"));
		k++;
	}
	if (!k) {
		free(o);
		return 0;
	}
	*ret = o;
	return k;
}

void gc_owners_free(struct gc_owner *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(o[i].api_version);
		free(o[i].kind);
		free(o[i].name);
		free(o[i].uid);
	}
	free(o);
}

const char *gc_api_group(const char *api_version, char *buf, size_t size)
{
	const char *slash = api_version ? strchr(api_version, '/') : NULL;
	size_t n = slash ? (size_t)(slash - api_version) : 0;
	if (n >= size)
		n = size - 1;
	memcpy(buf, api_version ? api_version : "", n);
	buf[n] = 0;
	return buf;
}

/* ---- the graph ---- */

struct edge {
	struct avl_node avl;
	char *key; /* "owner-uid/dependent-uid" */
	struct gc_node *dep;
	bool block;
};

static int node_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct gc_node, avl)->uid);
}

static int edge_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct edge, avl)->key);
}

void gc_graph_init(struct gc_graph *g)
{
	avl_init(&g->nodes, node_cmp);
	avl_init(&g->edges, edge_cmp);
}

struct gc_node *gc_graph_find(const struct gc_graph *g, const char *uid)
{
	struct avl_node *n = avl_find(&g->nodes, uid);
	return n ? avl_entry(n, struct gc_node, avl) : NULL;
}

static void edges_del(struct gc_graph *g, struct gc_node *d)
{
	for (size_t i = 0; i < d->nowners; i++) {
		_cleanup_free_ char *key = xasprintf("%s/%s", d->owners[i].uid, d->uid);
		struct avl_node *n = avl_find(&g->edges, key);
		if (!n)
			continue;
		struct edge *e = avl_entry(n, struct edge, avl);
		avl_remove(&g->edges, n);
		free(e->key);
		free(e);
	}
}

static void edges_add(struct gc_graph *g, struct gc_node *d)
{
	for (size_t i = 0; i < d->nowners; i++) {
		char *key = xasprintf("%s/%s", d->owners[i].uid, d->uid);
		struct avl_node *n = avl_find(&g->edges, key);
		if (n) {
			/* The same owner twice: blocking if either reference is. */
			avl_entry(n, struct edge, avl)->block |= d->owners[i].block;
			free(key);
			continue;
		}
		struct edge *e = xnew(struct edge, 1);
		e->key = key;
		e->dep = d;
		e->block = d->owners[i].block;
		avl_insert(&g->edges, e->key, &e->avl);
	}
}

static void node_free(struct gc_node *d)
{
	gc_owners_free(d->owners, d->nowners);
	free(d->uid);
	free(d->ns);
	free(d->name);
	free(d);
}

void gc_graph_remove(struct gc_graph *g, const char *uid)
{
	struct gc_node *d = gc_graph_find(g, uid);
	if (!d)
		return;
	edges_del(g, d);
	avl_remove(&g->nodes, &d->avl);
	node_free(d);
}

void gc_graph_set(struct gc_graph *g, const char *uid, int kind, const char *ns, const char *name,
		  struct gc_owner *owners, size_t nowners, bool deleting_dependents)
{
	if (!nowners) {
		gc_graph_remove(g, uid);
		gc_owners_free(owners, nowners);
		return;
	}
	struct gc_node *d = gc_graph_find(g, uid);
	if (d) {
		edges_del(g, d);
		gc_owners_free(d->owners, d->nowners);
	} else {
		d = xnew(struct gc_node, 1);
		d->uid = xstrdup(uid);
		d->kind = kind;
		d->ns = xstrdup(ns ? ns : "");
		d->name = xstrdup(name);
		avl_insert(&g->nodes, d->uid, &d->avl);
	}
	d->owners = owners;
	d->nowners = nowners;
	d->deleting_dependents = deleting_dependents;
	edges_add(g, d);
}

void gc_graph_foreach_dependent(const struct gc_graph *g, const char *owner_uid,
				void (*fn)(struct gc_node *dep, bool block, void *ud), void *ud)
{
	_cleanup_free_ char *prefix = xasprintf("%s/", owner_uid);
	size_t plen = strlen(prefix);
	for (struct avl_node *n = avl_lower_bound(&g->edges, prefix, 1); n; n = avl_next(n)) {
		struct edge *e = avl_entry(n, struct edge, avl);
		if (strncmp(e->key, prefix, plen) != 0)
			break;
		fn(e->dep, e->block, ud);
	}
}

static void count_one(struct gc_node *dep, bool block, void *ud)
{
	(*(size_t *)ud)++;
}

size_t gc_graph_count_dependents(const struct gc_graph *g, const char *owner_uid)
{
	size_t n = 0;
	gc_graph_foreach_dependent(g, owner_uid, count_one, &n);
	return n;
}

void gc_graph_release(struct gc_graph *g)
{
	struct avl_node *n = avl_first(&g->edges);
	while (n) {
		struct avl_node *next = avl_next(n);
		struct edge *e = avl_entry(n, struct edge, avl);
		avl_remove(&g->edges, n);
		free(e->key);
		free(e);
		n = next;
	}
	n = avl_first(&g->nodes);
	while (n) {
		struct avl_node *next = avl_next(n);
		avl_remove(&g->nodes, n);
		node_free(avl_entry(n, struct gc_node, avl));
		n = next;
	}
}

/* ---- the decision ---- */

void gc_decide(const enum gc_owner_state *st, size_t n, bool has_dependents,
	       bool dependent_deleting, bool own_orphan, bool own_foreground, bool *remove,
	       struct gc_decision *ret)
{
	size_t solid = 0, dangling = 0, waiting = 0;
	for (size_t i = 0; i < n; i++) {
		solid += st[i] == GC_OWNER_SOLID;
		dangling += st[i] == GC_OWNER_DANGLING;
		waiting += st[i] == GC_OWNER_WAITING;
	}
	*ret = (struct gc_decision){ GC_KEEP, NULL, false };
	if (!n)
		return;
	if (solid) {
		/* It stays; references to owners that are gone, or that wait
		 * for their dependents to go, are dropped so that they are not
		 * held up by it. */
		if (!dangling && !waiting)
			return;
		for (size_t i = 0; i < n; i++)
			remove[i] = st[i] != GC_OWNER_SOLID;
		ret->action = GC_REMOVE_REFS;
		return;
	}
	ret->action = GC_DELETE;
	if (waiting && has_dependents) {
		/* An owner waits for it, and it has dependents of its own: delete
		 * it in the foreground too. If one of its dependents is itself
		 * waiting (a cycle, perhaps), stop blocking the owners first. */
		ret->unblock = dependent_deleting;
		ret->policy = "Foreground";
		return;
	}
	ret->policy = own_orphan ? "Orphan" : own_foreground ? "Foreground" : "Background";
}
