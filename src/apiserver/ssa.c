/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server-side apply: who owns which field, in metadata.managedFields.
 *
 * A field set (FieldsV1) is a trie of JSON objects whose keys name children:
 * "f:<field>" for struct fields and map keys, "k:<json of key fields>" for
 * items of lists keyed by merge keys, "v:<json value>" for items of sets,
 * and "." marking that a list item itself is owned. Leaves are {}.
 *
 * An apply by manager M of configuration C:
 *  1. computes S = fields(C);
 *  2. finds conflicts: leaves of S that another manager owns and whose live
 *     value differs from C's (409 unless force, which takes them over);
 *  3. removes from the object the fields M applied before but no longer
 *     applies and nobody else owns;
 *  4. merges C into the object (lists by their keys, atomic lists and
 *     scalars replaced) and records M's entry (operation Apply).
 * Other writes (operation Update) take over the fields they change, once an
 * object has managed fields at all.
 */
#include "apiserver/ssa.h"
#include "apiserver/schema.h"
#include "lib/json.h"
#include "lib/strbuf.h"
#include "lib/timeutil.h"

/* ---- computing field sets ---- */

static const char *list_key(const struct schema_field *f)
{
	if (!f)
		return NULL;
	if ((f->flags & SF_LIST_MAP) && f->listmap && f->listmap[0])
		return f->listmap[0];
	return f->merge_key;
}

static json_t *item_key(const struct schema_field *f, json_t *item)
{
	json_t *k = json_object();
	if ((f->flags & SF_LIST_MAP) && f->listmap) {
		for (const char *const *p = f->listmap; *p; p++) {
			json_t *v = json_object_get(item, *p);
			if (v)
				json_object_set(k, *p, v);
		}
	} else if (f->merge_key) {
		json_t *v = json_object_get(item, f->merge_key);
		if (v)
			json_object_set(k, f->merge_key, v);
	}
	return k;
}

static char *key_name(const char *prefix, json_t *v)
{
	_cleanup_free_ char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	return xasprintf("%s%s", prefix, s ? s : "null");
}

static void walk(json_t *value, const struct schema_ref *ref, const struct schema_field *field,
		 json_t *trie);

static void walk_struct(json_t *value, const struct schema_type *t, json_t *trie)
{
	const char *k;
	json_t *v;
	json_object_foreach(value, k, v)
	{
		const struct schema_field *f = t ? schema_field_by_name(t, k) : NULL;
		_cleanup_free_ char *name = xasprintf("f:%s", k);
		json_t *child = json_object();
		json_object_set_new(trie, name, child);
		if (f)
			walk(v, &f->ref, f, child);
	}
}

static void walk(json_t *value, const struct schema_ref *ref, const struct schema_field *field,
		 json_t *trie)
{
	if (!ref)
		return;
	switch (ref->kind) {
	case SK_STRUCT:
		if (json_is_object(value))
			walk_struct(value, ref->type, trie);
		return;
	case SK_MAP:
		if (json_is_object(value)) {
			const char *k;
			json_t *v;
			json_object_foreach(value, k, v)
			{
				_cleanup_free_ char *name = xasprintf("f:%s", k);
				json_t *child = json_object();
				json_object_set_new(trie, name, child);
				walk(v, ref->elem, NULL, child);
			}
		}
		return;
	case SK_LIST: {
		if (!json_is_array(value))
			return;
		const char *key = list_key(field);
		size_t i;
		json_t *item;
		if (key && ref->elem && ref->elem->kind == SK_STRUCT) {
			json_array_foreach(value, i, item)
			{
				_cleanup_json_ json_t *k = item_key(field, item);
				_cleanup_free_ char *name = key_name("k:", k);
				json_t *child = json_object();
				json_object_set_new(child, ".", json_object());
				json_object_set_new(trie, name, child);
				walk(item, ref->elem, NULL, child);
			}
		} else if (field && (field->flags & SF_LIST_SET)) {
			json_array_foreach(value, i, item)
			{
				_cleanup_free_ char *name = key_name("v:", item);
				json_object_set_new(trie, name, json_object());
			}
		}
		/* Atomic lists are leaves. */
		return;
	}
	default:
		return;
	}
}

/* Fields not tracked: identity and system metadata, and status unless the
 * write is to the status subresource. */
static void strip(json_t *set, bool status)
{
	json_object_del(set, "f:apiVersion");
	json_object_del(set, "f:kind");
	json_t *meta = json_object_get(set, "f:metadata");
	static const char *const sys[] = { "f:name",	      "f:namespace",
					   "f:uid",	      "f:resourceVersion",
					   "f:generation",    "f:creationTimestamp",
					   "f:managedFields", "f:deletionTimestamp",
					   "f:selfLink",      "f:deletionGracePeriodSeconds" };
	for (size_t i = 0; i < ARRAY_SIZE(sys); i++)
		json_object_del(meta, sys[i]);
	if (meta && json_object_size(meta) == 0)
		json_object_del(set, "f:metadata");
	if (status) {
		json_t *st = json_incref(json_object_get(set, "f:status"));
		json_object_clear(set);
		if (st)
			json_object_set_new(set, "f:status", st);
	} else {
		json_object_del(set, "f:status");
	}
}

json_t *ssa_fieldset(const struct schema_type *t, json_t *obj, bool status)
{
	json_t *set = json_object();
	walk_struct(obj, t, set);
	strip(set, status);
	return set;
}

/* ---- trie operations ---- */

static bool is_leaf(json_t *node)
{
	return json_object_size(node) == 0;
}

/* Every leaf path of set, as arrays of keys. "." entries count as leaves. */
static void leaves(json_t *set, json_t *prefix, json_t *out)
{
	const char *k;
	json_t *v;
	json_object_foreach(set, k, v)
	{
		json_t *path = json_copy(prefix);
		json_array_append_new(path, json_string(k));
		if (is_leaf(v))
			json_array_append_new(out, path);
		else {
			leaves(v, path, out);
			json_decref(path);
		}
	}
}

static bool contains(json_t *set, json_t *path)
{
	size_t i;
	json_t *k;
	json_t *node = set;
	json_array_foreach(path, i, k)
	{
		node = json_object_get(node, json_string_value(k));
		if (!node)
			return false;
	}
	return true;
}

static void add_path(json_t *set, json_t *path)
{
	size_t i;
	json_t *k;
	json_t *node = set;
	json_array_foreach(path, i, k)
	{
		json_t *child = json_object_get(node, json_string_value(k));
		if (!child) {
			child = json_object();
			json_object_set_new(node, json_string_value(k), child);
		}
		node = child;
	}
}

/* Remove path from set, pruning parents that become empty. */
static void remove_path(json_t *set, json_t *path, size_t depth)
{
	const char *k = json_string_value(json_array_get(path, depth));
	json_t *child = json_object_get(set, k);
	if (!child)
		return;
	if (depth + 1 == json_array_size(path)) {
		json_object_del(set, k);
		return;
	}
	remove_path(child, path, depth + 1);
	if (json_object_size(child) == 0)
		json_object_del(set, k);
}

/* ---- values at paths ---- */

static json_t *find_item(json_t *list, const char *pk)
{
	size_t i;
	json_t *item;
	const char *kind = pk;
	_cleanup_json_ json_t *want = json_loads(pk + 2, JSON_DECODE_ANY, NULL);
	if (!want)
		return NULL;
	json_array_foreach(list, i, item)
	{
		if (kind[0] == 'v') {
			if (json_equal(item, want))
				return item;
			continue;
		}
		const char *wk;
		json_t *wv;
		bool match = json_is_object(item);
		json_object_foreach(want, wk, wv) match =
		    match && json_equal(json_object_get(item, wk), wv);
		if (match)
			return item;
	}
	return NULL;
}

/* The value at path in obj (borrowed), or NULL. A path ending in "." names
 * the list item itself. */
static json_t *value_at(json_t *obj, json_t *path)
{
	size_t i;
	json_t *k;
	json_t *node = obj;
	json_array_foreach(path, i, k)
	{
		const char *s = json_string_value(k);
		if (!node)
			return NULL;
		if (streq(s, "."))
			return node;
		if (s[0] == 'f')
			node = json_object_get(node, s + 2);
		else
			node = find_item(node, s);
	}
	return node;
}

/* Delete the value at path from obj. */
static void delete_at(json_t *obj, json_t *path)
{
	size_t n = json_array_size(path);
	if (n == 0)
		return;
	const char *last = json_string_value(json_array_get(path, n - 1));
	size_t plen = n - 1;
	if (streq(last, ".")) {
		/* Remove the list item named by the element before ".". */
		if (n < 2)
			return;
		last = json_string_value(json_array_get(path, n - 2));
		plen = n - 2;
	}
	json_t *parent_path = json_array();
	for (size_t i = 0; i < plen; i++)
		json_array_append(parent_path, json_array_get(path, i));
	json_t *parent = value_at(obj, parent_path);
	json_decref(parent_path);
	if (!parent)
		return;
	if (last[0] == 'f' && json_is_object(parent)) {
		json_object_del(parent, last + 2);
	} else if (json_is_array(parent)) {
		json_t *item = find_item(parent, last);
		size_t i;
		json_t *x;
		json_array_foreach(parent, i, x)
		{
			if (x == item) {
				json_array_remove(parent, i);
				break;
			}
		}
	}
}

/* ".spec.template.spec.containers[name=\"web\"].image" */
static char *path_string(json_t *path)
{
	struct strbuf sb = STRBUF_INIT;
	size_t i;
	json_t *k;
	json_array_foreach(path, i, k)
	{
		const char *s = json_string_value(k);
		if (streq(s, "."))
			continue;
		if (s[0] == 'f') {
			strbuf_addf(&sb, ".%s", s + 2);
		} else if (s[0] == 'k') {
			_cleanup_json_ json_t *kv = json_loads(s + 2, 0, NULL);
			strbuf_addch(&sb, '[');
			const char *kk;
			json_t *vv;
			bool first = true;
			json_object_foreach(kv, kk, vv)
			{
				_cleanup_free_ char *val =
				    json_dumps(vv, JSON_ENCODE_ANY | JSON_COMPACT);
				strbuf_addf(&sb, "%s%s=%s", first ? "" : ",", kk, val);
				first = false;
			}
			strbuf_addch(&sb, ']');
		} else {
			strbuf_addf(&sb, "[=%s]", s + 2);
		}
	}
	strbuf_grow(&sb, 0);
	return strbuf_detach(&sb, NULL);
}

/* ---- merging an applied configuration ---- */

static void merge(json_t *live, json_t *cfg, const struct schema_type *t);

static void merge_value(json_t *parent, const char *key, json_t *cfg, const struct schema_field *f)
{
	json_t *cur = json_object_get(parent, key);
	if (json_is_object(cfg) && json_is_object(cur) && f &&
	    (f->ref.kind == SK_STRUCT || f->ref.kind == SK_MAP)) {
		if (f->ref.kind == SK_STRUCT) {
			merge(cur, cfg, f->ref.type);
		} else {
			const char *mk;
			json_t *mv;
			json_object_foreach(cfg, mk, mv)
			{
				const struct schema_type *et =
				    f->ref.elem && f->ref.elem->kind == SK_STRUCT
					? f->ref.elem->type
					: NULL;
				json_t *mc = json_object_get(cur, mk);
				if (et && json_is_object(mc) && json_is_object(mv))
					merge(mc, mv, et);
				else
					json_object_set(cur, mk, mv);
			}
		}
		return;
	}
	const char *lk = list_key(f);
	if (json_is_array(cfg) && json_is_array(cur) && lk && f->ref.elem &&
	    f->ref.elem->kind == SK_STRUCT) {
		size_t i;
		json_t *item;
		json_array_foreach(cfg, i, item)
		{
			_cleanup_json_ json_t *k = item_key(f, item);
			_cleanup_free_ char *name = key_name("k:", k);
			json_t *found = find_item(cur, name);
			if (found && json_is_object(item))
				merge(found, item, f->ref.elem->type);
			else
				json_array_append_new(cur, json_deep_copy(item));
		}
		return;
	}
	if (json_is_array(cfg) && json_is_array(cur) && f && (f->flags & SF_LIST_SET)) {
		size_t i, j;
		json_t *item, *x;
		json_array_foreach(cfg, i, item)
		{
			bool have = false;
			json_array_foreach(cur, j, x) have = have || json_equal(x, item);
			if (!have)
				json_array_append(cur, item);
		}
		return;
	}
	json_object_set_new(parent, key, json_deep_copy(cfg));
}

static void merge(json_t *live, json_t *cfg, const struct schema_type *t)
{
	const char *k;
	json_t *v;
	json_object_foreach(cfg, k, v)
	{
		if (json_is_null(v)) {
			json_object_del(live, k);
			continue;
		}
		merge_value(live, k, v, t ? schema_field_by_name(t, k) : NULL);
	}
}

/* ---- managedFields entries ---- */

static json_t *entry_find(json_t *mf, const char *manager, const char *operation,
			  const char *subresource)
{
	size_t i;
	json_t *e;
	json_array_foreach(mf, i, e)
	{
		if (streq_ptr(json_get_str(e, "manager"), manager) &&
		    streq_ptr(json_get_str(e, "operation"), operation) &&
		    streq(json_get_str(e, "subresource") ? json_get_str(e, "subresource") : "",
			  subresource ? subresource : ""))
			return e;
	}
	return NULL;
}

static json_t *entry_set(json_t *e)
{
	json_t *s = json_object_get(e, "fieldsV1");
	if (!json_is_object(s)) {
		s = json_object();
		json_object_set_new(e, "fieldsV1", s);
	}
	return s;
}

static json_t *entry_new(json_t *mf, const char *manager, const char *operation,
			 const char *api_version, const char *subresource, int64_t now)
{
	char ts[32];
	time_format_rfc3339(now, ts);
	json_t *e = json_object();
	json_set_str(e, "manager", manager);
	json_set_str(e, "operation", operation);
	json_set_str(e, "apiVersion", api_version);
	json_set_str(e, "time", ts);
	json_set_str(e, "fieldsType", "FieldsV1");
	json_object_set_new(e, "fieldsV1", json_object());
	if (subresource && *subresource)
		json_set_str(e, "subresource", subresource);
	json_array_append_new(mf, e);
	return e;
}

static void entry_touch(json_t *e, int64_t now, const char *api_version)
{
	char ts[32];
	time_format_rfc3339(now, ts);
	json_set_str(e, "time", ts);
	json_set_str(e, "apiVersion", api_version);
}

static void drop_empty(json_t *mf)
{
	for (size_t i = json_array_size(mf); i-- > 0;) {
		json_t *e = json_array_get(mf, i);
		if (json_object_size(json_object_get(e, "fieldsV1")) == 0)
			json_array_remove(mf, i);
	}
}

static json_t *managed_fields(json_t *obj)
{
	json_t *meta = json_object_ensure(obj, "metadata");
	json_t *mf = json_object_get(meta, "managedFields");
	if (!json_is_array(mf)) {
		mf = json_array();
		json_object_set_new(meta, "managedFields", mf);
	}
	return mf;
}

/* ---- conflicts ---- */

/* One field another manager owns that an apply would change. */
struct conflict {
	char *who;  /* the manager as upstream prints it */
	char *sort; /* orders managers as upstream does (by their identity) */
	char *path; /* ".data.color" */
};

/* How upstream names a manager in conflict messages: "name", its
 * subresource if any, and for an updater the API version it used. */
static char *manager_display(json_t *e)
{
	const char *m = json_get_str(e, "manager"), *sub = json_get_str(e, "subresource");
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "\"%s\"", m ? m : "");
	if (!isempty(sub))
		strbuf_addf(&sb, " with subresource \"%s\"", sub);
	if (streq_ptr(json_get_str(e, "operation"), "Update")) {
		const char *v = json_get_str(e, "apiVersion");
		strbuf_addf(&sb, " using %s", v ? v : "");
	}
	return strbuf_detach(&sb, NULL);
}

static int conflict_cmp(const void *a, const void *b)
{
	const struct conflict *x = a, *y = b;
	int r = strcmp(x->sort, y->sort);
	return r ? r : strcmp(x->path, y->path);
}

/* The 409 for conflicts: one line for a single conflict, else the paths
 * grouped under each manager, as upstream's apply conflict error. */
static void conflict_error(struct conflict *c, size_t n, struct api_error *err)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *causes = json_array();
	qsort(c, n, sizeof(*c), conflict_cmp);
	if (n == 1) {
		strbuf_addf(&sb, "Apply failed with 1 conflict: conflict with %s: %s", c[0].who,
			    c[0].path);
	} else {
		strbuf_addf(&sb, "Apply failed with %zu conflicts: ", n);
		for (size_t i = 0; i < n; i++) {
			if (i == 0 || !streq(c[i].sort, c[i - 1].sort))
				strbuf_addf(&sb, "%sconflicts with %s:", i ? "\n" : "", c[i].who);
			strbuf_addf(&sb, "\n- %s", c[i].path);
		}
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *msg = xasprintf("conflict with %s", c[i].who);
		json_array_append_new(causes,
				      json_pack("{s:s, s:s, s:s}", "reason", "FieldManagerConflict",
						"message", msg, "field", c[i].path));
	}
	api_error_set(err, 409, "Conflict", "%s", strbuf_str(&sb));
	err->details = json_pack("{s:o}", "causes", causes);
	strbuf_release(&sb);
}

int ssa_apply(const struct schema_type *t, json_t *live, json_t *config,
	      const struct ssa_request *req, json_t **ret, struct api_error *err)
{
	bool status = req->subresource && streq(req->subresource, "status");
	_cleanup_json_ json_t *obj = live ? json_deep_copy(live) : json_object();
	_cleanup_json_ json_t *applied = ssa_fieldset(t, config, status);
	_cleanup_json_ json_t *applied_leaves = json_array();
	_cleanup_json_ json_t *root = json_array();
	leaves(applied, root, applied_leaves);
	json_t *mf = managed_fields(obj);

	/* Conflicts: fields another manager owns whose value the merged
	 * configuration changes (or adds). A list item itself never
	 * conflicts: applying never removes another manager's items. */
	_cleanup_json_ json_t *merged = json_deep_copy(obj);
	merge(merged, config, t);
	json_t *conflicts = json_array();
	size_t nconf = 0, i, j;
	json_t *e, *path;
	json_array_foreach(mf, i, e)
	{
		if (streq_ptr(json_get_str(e, "manager"), req->manager) &&
		    streq_ptr(json_get_str(e, "operation"), "Apply"))
			continue;
		json_t *set = entry_set(e);
		json_array_foreach(applied_leaves, j, path)
		{
			const char *last =
			    json_string_value(json_array_get(path, json_array_size(path) - 1));
			if (streq(last, ".") || !contains(set, path))
				continue;
			json_t *lv = value_at(obj, path), *mv = value_at(merged, path);
			if (lv && mv && json_equal(lv, mv))
				continue;
			json_array_append_new(conflicts,
					      json_pack("{s:O, s:O}", "entry", e, "path", path));
		}
	}
	nconf = json_array_size(conflicts);
	if (nconf && !req->force) {
		struct conflict *c = xcalloc(nconf, sizeof(*c));
		json_array_foreach(conflicts, i, e)
		{
			json_t *entry = json_object_get(e, "entry");
			c[i].who = manager_display(entry);
			c[i].sort = xasprintf("%s\n%s\n%s", str_or_empty_json(entry, "manager"),
					      str_or_empty_json(entry, "operation"), c[i].who);
			c[i].path = path_string(json_object_get(e, "path"));
		}
		conflict_error(c, nconf, err);
		for (i = 0; i < nconf; i++) {
			free(c[i].who);
			free(c[i].sort);
			free(c[i].path);
		}
		free(c);
		json_decref(conflicts);
		return -EBUSY;
	}
	/* Forced: the fields move to this manager. */
	json_array_foreach(conflicts, i, e)
	{
		remove_path(entry_set(json_object_get(e, "entry")), json_object_get(e, "path"), 0);
	}
	json_decref(conflicts);

	/* Fields this manager applied before but not now, owned by nobody else,
	 * are removed from the object. */
	json_t *mine = entry_find(mf, req->manager, "Apply", req->subresource);
	if (mine) {
		_cleanup_json_ json_t *prev_leaves = json_array();
		_cleanup_json_ json_t *r2 = json_array();
		leaves(entry_set(mine), r2, prev_leaves);
		json_array_foreach(prev_leaves, i, path)
		{
			if (contains(applied, path))
				continue;
			bool shared = false;
			json_array_foreach(mf, j, e) shared =
			    shared || (e != mine && contains(entry_set(e), path));
			if (!shared)
				delete_at(obj, path);
		}
	}

	merge(obj, config, t);

	mf = managed_fields(obj);
	mine = entry_find(mf, req->manager, "Apply", req->subresource);
	if (!mine) {
		mine = entry_new(mf, req->manager, "Apply", req->api_version, req->subresource,
				 req->now_usec);
		json_object_set(mine, "fieldsV1", applied);
	} else {
		/* An apply that changes nothing, not even ownership, leaves the
		 * entry's time alone, so that nothing is written (as upstream). */
		json_object_set(mine, "fieldsV1", applied);
		json_set_str(mine, "apiVersion", req->api_version);
		_cleanup_json_ json_t *probe = json_deep_copy(obj);
		drop_empty(json_get(probe, "metadata.managedFields"));
		if (!live || !json_equal(probe, live))
			entry_touch(mine, req->now_usec, req->api_version);
	}
	drop_empty(mf);
	*ret = TAKE_PTR(obj);
	return 0;
}

void ssa_track_update(const struct schema_type *t, json_t *old, json_t *obj,
		      const struct ssa_request *req)
{
	json_t *old_mf = json_get(old, "metadata.managedFields");
	if (json_array_size(old_mf) == 0) {
		json_object_del(json_object_get(obj, "metadata"), "managedFields");
		return;
	}
	bool status = req->subresource && streq(req->subresource, "status");
	/* The stored ownership is authoritative; a client cannot rewrite it
	 * with an update. */
	json_t *mf = json_deep_copy(old_mf);
	json_object_set_new(json_object_ensure(obj, "metadata"), "managedFields", mf);

	_cleanup_json_ json_t *new_set = ssa_fieldset(t, obj, status);
	_cleanup_json_ json_t *old_set = ssa_fieldset(t, old, status);
	_cleanup_json_ json_t *new_leaves = json_array(), *old_leaves = json_array();
	_cleanup_json_ json_t *r1 = json_array(), *r2 = json_array();
	leaves(new_set, r1, new_leaves);
	leaves(old_set, r2, old_leaves);

	json_t *changed = json_array();
	size_t i, j;
	json_t *path, *e;
	json_array_foreach(new_leaves, i, path)
	{
		json_t *a = value_at(obj, path), *b = value_at(old, path);
		if (!b || !json_equal(a, b))
			json_array_append(changed, path);
	}
	/* Removed fields are owned by nobody. */
	json_array_foreach(old_leaves, i, path)
	{
		if (contains(new_set, path))
			continue;
		json_array_foreach(mf, j, e) remove_path(entry_set(e), path, 0);
	}
	if (json_array_size(changed)) {
		json_array_foreach(changed, i, path)
		{
			json_array_foreach(mf, j, e) remove_path(entry_set(e), path, 0);
		}
		json_t *mine = entry_find(mf, req->manager, "Update", req->subresource);
		if (!mine)
			mine = entry_new(mf, req->manager, "Update", req->api_version,
					 req->subresource, req->now_usec);
		else
			entry_touch(mine, req->now_usec, req->api_version);
		json_array_foreach(changed, i, path) add_path(entry_set(mine), path);
	}
	json_decref(changed);
	drop_empty(mf);
}
