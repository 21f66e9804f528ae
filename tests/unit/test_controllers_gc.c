/* SPDX-License-Identifier: Apache-2.0 */
#include "unit.h"

#include "controllers/gc.h"

static bool span_is(const char *p, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(p, want, len) == 0;
}

static void scan(const char *json, struct gc_meta *m)
{
	assert_int_equal(gc_scan_meta(json, strlen(json), m), 0);
}

/* ---- scanning ---- */

static void test_scan_fields(void **state)
{
	const char *j =
	    "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"uid\":\"u1\","
	    "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
	    "\"name\":\"rs\",\"uid\":\"o1\",\"controller\":true,\"blockOwnerDeletion\":true}],"
	    "\"finalizers\":[\"foregroundDeletion\"],"
	    "\"deletionTimestamp\":\"2027-01-01T00:00:00Z\"},\"spec\":{}}";
	struct gc_meta m;
	scan(j, &m);
	assert_true(span_is(m.owners, m.owners_len,
			    "[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\","
			    "\"uid\":\"o1\",\"controller\":true,\"blockOwnerDeletion\":true}]"));
	assert_true(span_is(m.finalizers, m.finalizers_len, "[\"foregroundDeletion\"]"));
	assert_true(m.deleting);
	assert_true(gc_meta_has_finalizer(&m, GC_FINALIZER_FOREGROUND));
	assert_false(gc_meta_has_finalizer(&m, GC_FINALIZER_ORPHAN));
}

static void test_scan_only_top_metadata(void **state)
{
	/* ownerReferences in a pod template's metadata, or a key named like
	 * one in labels, annotations or strings, is not the object's. */
	const char *j =
	    "{ \"spec\" : {\"template\":{\"metadata\":{\"ownerReferences\":[{\"uid\":"
	    "\"x\"}]}}}, \"metadata\" : { \"annotations\":{\"ownerReferences\":\"[]\","
	    "\"a\":\"\\\"finalizers\\\":[\\\"orphan\\\"]}\"},\"labels\":{\"deletionTimestamp\":"
	    "\"x\"}, \"name\" : \"d\" } }";
	struct gc_meta m;
	scan(j, &m);
	assert_int_equal(m.owners_len, 0);
	assert_int_equal(m.finalizers_len, 0);
	assert_false(m.deleting);
	assert_false(gc_meta_has_finalizer(&m, GC_FINALIZER_ORPHAN));
}

static void test_scan_nulls_and_garbage(void **state)
{
	struct gc_meta m;
	scan("{\"metadata\":{\"ownerReferences\":null,\"finalizers\":null,"
	     "\"deletionTimestamp\":null}}",
	     &m);
	assert_int_equal(m.owners_len, 0);
	assert_int_equal(m.finalizers_len, 0);
	assert_false(m.deleting);
	scan("{}", &m);
	assert_int_equal(m.owners_len, 0);
	scan("{\"metadata\":{}}", &m);
	assert_int_equal(m.owners_len, 0);
	/* Numbers, literals, nested arrays and escapes are skipped. */
	scan("{\"a\":[1,-2.5e3,[true,false,null],{\"b\":\"}]\\\\\"}],\"metadata\":{\"x\":1,"
	     "\"finalizers\":[\"orphan\"]}}",
	     &m);
	assert_true(gc_meta_has_finalizer(&m, GC_FINALIZER_ORPHAN));
	static const char *const bad[] = {
		"",
		"[]",
		"{",
		"{\"metadata\"}",
		"{\"a\":}",
		"{\"metadata\":{\"x\"",
		"{\"a\":\"unterminated}",
		"{\"a\":1 \"b\":2}",
		"{\"a\":[1,2}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(gc_scan_meta(bad[i], strlen(bad[i]), &m), -EINVAL);
}

static void test_meta_equal(void **state)
{
	struct gc_meta a, b;
	scan("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\"}]},\"status\":{\"phase\":\"A\"}}",
	     &a);
	scan("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\"}]},\"status\":{\"phase\":\"B\"}}",
	     &b);
	assert_true(gc_meta_equal(&a, &b));
	scan("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"2\"}]}}", &b);
	assert_false(gc_meta_equal(&a, &b));
	scan("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\"}],\"deletionTimestamp\":\"t\"}}",
	     &b);
	assert_false(gc_meta_equal(&a, &b));
	scan("{\"metadata\":{\"ownerReferences\":[{\"uid\":\"1\"}],\"finalizers\":[\"x\"]}}", &b);
	assert_false(gc_meta_equal(&a, &b));
}

static void test_owners_parse(void **state)
{
	const char *refs = "[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\","
			   "\"uid\":\"o1\",\"controller\":true,\"blockOwnerDeletion\":true},"
			   "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"cm\"},"
			   "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"cm2\","
			   "\"uid\":\"o2\"}]";
	struct gc_owner *o;
	size_t n = gc_owners_parse(refs, strlen(refs), &o);
	assert_int_equal(n, 2); /* the one without a uid is skipped */
	assert_string_equal(o[0].uid, "o1");
	assert_string_equal(o[0].kind, "ReplicaSet");
	assert_true(o[0].block);
	assert_true(o[0].controller);
	assert_string_equal(o[1].name, "cm2");
	assert_false(o[1].block);
	gc_owners_free(o, n);
	assert_int_equal(gc_owners_parse(NULL, 0, &o), 0);
	assert_null(o);
	assert_int_equal(gc_owners_parse("[]", 2, &o), 0);
	char g[64];
	assert_string_equal(gc_api_group("apps/v1", g, sizeof(g)), "apps");
	assert_string_equal(gc_api_group("v1", g, sizeof(g)), "");
	assert_string_equal(gc_api_group("discovery.k8s.io/v1", g, sizeof(g)), "discovery.k8s.io");
}

/* ---- the graph ---- */

static struct gc_owner *owners(size_t n, const char *const *uids, const bool *block)
{
	struct gc_owner *o = xnew(struct gc_owner, n);
	for (size_t i = 0; i < n; i++) {
		o[i].uid = xstrdup(uids[i]);
		o[i].api_version = xstrdup("v1");
		o[i].kind = xstrdup("ConfigMap");
		o[i].name = xstrdup(uids[i]);
		o[i].block = block ? block[i] : false;
	}
	return o;
}

struct seen {
	char names[8][16];
	bool block[8];
	size_t n;
};

static void record(struct gc_node *dep, bool block, void *ud)
{
	struct seen *s = ud;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", dep->name);
	s->block[s->n++] = block;
}

static void test_graph(void **state)
{
	struct gc_graph g;
	gc_graph_init(&g);
	/* deployment d <- rs r1, r2 <- pods p1 (r1), p2 (r1 and r2) */
	gc_graph_set(&g, "r1", 1, "ns", "r1", owners(1, (const char *[]){ "d" }, NULL), 1, false);
	gc_graph_set(&g, "r2", 1, "ns", "r2", owners(1, (const char *[]){ "d" }, NULL), 1, false);
	gc_graph_set(&g, "p1", 0, "ns", "p1",
		     owners(1, (const char *[]){ "r1" }, (const bool[]){ true }), 1, false);
	gc_graph_set(&g, "p2", 0, "ns", "p2",
		     owners(2, (const char *[]){ "r1", "r2" }, (const bool[]){ false, true }), 2,
		     false);
	assert_int_equal(gc_graph_count_dependents(&g, "d"), 2);
	assert_int_equal(gc_graph_count_dependents(&g, "r1"), 2);
	assert_int_equal(gc_graph_count_dependents(&g, "r2"), 1);
	assert_int_equal(gc_graph_count_dependents(&g, "p1"), 0);
	assert_int_equal(gc_graph_count_dependents(&g, "nobody"), 0);

	struct seen s = { 0 };
	gc_graph_foreach_dependent(&g, "r1", record, &s);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.names[0], "p1");
	assert_true(s.block[0]);
	assert_string_equal(s.names[1], "p2");
	assert_false(s.block[1]);

	/* p2 loses its reference to r1. */
	gc_graph_set(&g, "p2", 0, "ns", "p2",
		     owners(1, (const char *[]){ "r2" }, (const bool[]){ true }), 1, true);
	assert_int_equal(gc_graph_count_dependents(&g, "r1"), 1);
	assert_true(gc_graph_find(&g, "p2")->deleting_dependents);
	/* A uid that prefixes another is not confused with it. */
	gc_graph_set(&g, "x", 0, "ns", "x", owners(1, (const char *[]){ "r" }, NULL), 1, false);
	assert_int_equal(gc_graph_count_dependents(&g, "r"), 1);
	assert_int_equal(gc_graph_count_dependents(&g, "r1"), 1);

	/* No owners left: out of the graph. */
	gc_graph_set(&g, "p1", 0, "ns", "p1", NULL, 0, false);
	assert_null(gc_graph_find(&g, "p1"));
	assert_int_equal(gc_graph_count_dependents(&g, "r1"), 0);
	gc_graph_remove(&g, "r2");
	gc_graph_remove(&g, "r2");
	assert_int_equal(gc_graph_count_dependents(&g, "d"), 1);
	assert_int_equal(g.nodes.count, 3);

	/* The same owner twice: one edge, blocking if either is. */
	gc_graph_set(&g, "y", 0, "ns", "y",
		     owners(2, (const char *[]){ "o", "o" }, (const bool[]){ false, true }), 2,
		     false);
	memset(&s, 0, sizeof(s));
	gc_graph_foreach_dependent(&g, "o", record, &s);
	assert_int_equal(s.n, 1);
	assert_true(s.block[0]);
	gc_graph_remove(&g, "y");
	assert_int_equal(gc_graph_count_dependents(&g, "o"), 0);
	gc_graph_release(&g);
}

/* ---- the decision ---- */

#define S GC_OWNER_SOLID
#define D GC_OWNER_DANGLING
#define W GC_OWNER_WAITING

static void decide(const enum gc_owner_state *st, size_t n, bool has_deps, bool dep_deleting,
		   bool orphan, bool fg, bool *remove, struct gc_decision *d)
{
	gc_decide(st, n, has_deps, dep_deleting, orphan, fg, remove, d);
}

static void test_decide(void **state)
{
	struct gc_decision d;
	bool rm[3];

	/* No owners: nothing to do. */
	decide(NULL, 0, false, false, false, false, rm, &d);
	assert_int_equal(d.action, GC_KEEP);
	/* A live owner. */
	decide((enum gc_owner_state[]){ S }, 1, false, false, false, false, rm, &d);
	assert_int_equal(d.action, GC_KEEP);
	/* Owner gone: background deletion. */
	decide((enum gc_owner_state[]){ D }, 1, false, false, false, false, rm, &d);
	assert_int_equal(d.action, GC_DELETE);
	assert_string_equal(d.policy, "Background");
	assert_false(d.unblock);
	/* Its own finalizers choose the propagation. */
	decide((enum gc_owner_state[]){ D }, 1, true, false, true, false, rm, &d);
	assert_string_equal(d.policy, "Orphan");
	decide((enum gc_owner_state[]){ D }, 1, true, false, false, true, rm, &d);
	assert_string_equal(d.policy, "Foreground");
	/* All owners gone. */
	decide((enum gc_owner_state[]){ D, D }, 2, false, false, false, false, rm, &d);
	assert_int_equal(d.action, GC_DELETE);
	/* One owner left: drop the dangling and waiting references only. */
	decide((enum gc_owner_state[]){ D, S, W }, 3, false, false, false, false, rm, &d);
	assert_int_equal(d.action, GC_REMOVE_REFS);
	assert_true(rm[0]);
	assert_false(rm[1]);
	assert_true(rm[2]);
	/* Owner deleted in the foreground, no dependents of its own: delete
	 * (the owner waits for it to be gone). */
	decide((enum gc_owner_state[]){ W }, 1, false, false, false, false, rm, &d);
	assert_int_equal(d.action, GC_DELETE);
	assert_string_equal(d.policy, "Background");
	/* With dependents of its own: foreground too. */
	decide((enum gc_owner_state[]){ W }, 1, true, false, false, false, rm, &d);
	assert_int_equal(d.action, GC_DELETE);
	assert_string_equal(d.policy, "Foreground");
	assert_false(d.unblock);
	/* ...and one of those is itself waiting: unblock first. */
	decide((enum gc_owner_state[]){ W, D }, 2, true, true, false, false, rm, &d);
	assert_string_equal(d.policy, "Foreground");
	assert_true(d.unblock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_fields),
		cmocka_unit_test(test_scan_only_top_metadata),
		cmocka_unit_test(test_scan_nulls_and_garbage),
		cmocka_unit_test(test_meta_equal),
		cmocka_unit_test(test_owners_parse),
		cmocka_unit_test(test_graph),
		cmocka_unit_test(test_decide),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
