/* SPDX-License-Identifier: Apache-2.0 */
/* The scheduler's filters, scores, FailedScheduling message, cache
 * accounting and queue, on hand-built nodes and pods (no server). */
#include <stdarg.h>

#include "unit.h"

#include "client/objects.h"
#include "lib/selector.h"
#include "scheduler/cache.h"
#include "scheduler/framework.h"
#include "scheduler/queue.h"

/* JSON from a printf format written with single quotes. */
static json_t *jsonf(const char *fmt, ...) _printf_(1, 2);
static json_t *jsonf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *s = NULL;
	assert_true(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	for (char *p = s; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_error_t err;
	json_t *j = json_loads(s, 0, &err);
	if (!j)
		fail_msg("bad test JSON: %s: %s", err.text, s);
	return j;
}

/* A cache with nodes whose node_info the test keeps alive. */
struct fixture {
	struct sched_cache c;
	struct node_info *infos[256];
	size_t ninfos;
};

static void fx_init(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	cache_init(&fx->c);
}

static void fx_release(struct fixture *fx)
{
	cache_release(&fx->c);
	for (size_t i = 0; i < fx->ninfos; i++)
		node_info_free(fx->infos[i]);
}

/* A node: name, cpu, memory, pods, then extra fields of the Node as JSON
 * members of metadata, spec and status ("" for none). */
static struct snode *fx_node_full(struct fixture *fx, const char *name, const char *cpu,
				  const char *mem, const char *pods, const char *meta,
				  const char *spec, const char *ready)
{
	_cleanup_(json_decrefp) json_t *j = jsonf(
	    "{'metadata':{'name':'%s'%s%s},'spec':{%s},'status':{'conditions':[{'type':'Ready',"
	    "'status':'%s'}],'allocatable':{'cpu':'%s','memory':'%s','pods':'%s'}}}",
	    name, *meta ? "," : "", meta, spec, ready, cpu, mem, pods);
	struct node_info *ni = node_info_extract(j);
	assert_true(fx->ninfos < ARRAY_SIZE(fx->infos));
	fx->infos[fx->ninfos++] = ni;
	cache_set_node(&fx->c, name, ni, NULL);
	return cache_get_node(&fx->c, name);
}

static struct snode *fx_node(struct fixture *fx, const char *name)
{
	return fx_node_full(fx, name, "4", "8Gi", "110", "", "", "True");
}

/* A pending pod from the JSON of its spec members (and optional extra
 * metadata members). */
static void pod_full(struct sched_pod *p, const char *name, const char *meta, const char *spec)
{
	bool own = strstr(spec, "'containers'") != NULL;
	_cleanup_(json_decrefp) json_t *j =
	    jsonf("{'metadata':{'name':'%s','namespace':'ns','uid':'uid-%s'%s%s},'spec':{%s%s%s}}",
		  name, name, *meta ? "," : "", meta, spec, *spec && !own ? "," : "",
		  own ? "" : "'containers':[{'name':'c','image':'i'}]");
	sched_pod_parse(j, p);
}

static void pod(struct sched_pod *p, const char *spec)
{
	pod_full(p, "p", "", spec);
}

/* A pod with requests. */
static void pod_req(struct sched_pod *p, const char *name, const char *cpu, const char *mem,
		    const char *meta)
{
	_cleanup_(json_decrefp) json_t *j =
	    jsonf("{'metadata':{'name':'%s','namespace':'ns','uid':'uid-%s'%s%s},'spec':{"
		  "'containers':[{'name':'c','image':'i','resources':{'requests':{'cpu':'%s','"
		  "memory':'%s'}}}]}}",
		  name, name, *meta ? "," : "", meta, cpu, mem);
	sched_pod_parse(j, p);
}

static const char *fit_name(struct fit f)
{
	static const char *const names[] = { "ok",	 "unschedulable", "taint",    "not-ready",
					     "affinity", "ports",	  "resources" };
	return names[f.code];
}

#define assert_fit(p, n, want) assert_string_equal(fit_name(sched_filter(p, n)), want)

/* ---- parsing ---- */

static void test_parse_pod(void **state)
{
	struct sched_pod p;
	_cleanup_(json_decrefp) json_t *j =
	    jsonf("{'metadata':{'name':'web-1','namespace':'prod','uid':'u1',"
		  "'ownerReferences':[{'apiVersion':'apps/"
		  "v1','kind':'ReplicaSet','name':'web','uid':'rs1','controller':true}]},"
		  "'spec':{'priority':7,'preemptionPolicy':'Never','nodeSelector':{'disk':'ssd'},"
		  "'schedulingGates':[{'name':'wait'}],"
		  "'tolerations':[{'key':'k','operator':'Exists','effect':'NoSchedule'},{'key':'a',"
		  "'value':'b'}],"
		  "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':{'"
		  "nodeSelectorTerms':["
		  "{'matchExpressions':[{'key':'zone','operator':'In','values':['a','b']},{'key':'"
		  "gen','operator':'Gt','values':['3']}]},"
		  "{'matchFields':[{'key':'metadata.name','operator':'In','values':['n9']}]}]}}},"
		  "'containers':[{'name':'a','image':'i','resources':{'requests':{'cpu':'250m','"
		  "memory':'64Mi'}},"
		  "'ports':[{'containerPort':80,'hostPort':8080},{'containerPort':53,'hostPort':53,"
		  "'protocol':'UDP','hostIP':'10.0.0.1'},{'containerPort':9}]},"
		  "{'name':'b','image':'i','resources':{'limits':{'cpu':'1'}}}]},"
		  "'status':{'conditions':[{'type':'PodScheduled','status':'False','reason':'"
		  "Unschedulable',"
		  "'message':'m','lastTransitionTime':'2026-01-01T00:00:00Z'}]}}");
	sched_pod_parse(j, &p);
	assert_string_equal(p.ns, "prod");
	assert_string_equal(p.name, "web-1");
	assert_string_equal(p.uid, "u1");
	assert_string_equal(p.owner_uid, "rs1");
	assert_int_equal(p.cpu, 1250);
	assert_int_equal(p.mem, 64 * 1024 * 1024);
	assert_int_equal(p.priority, 7);
	assert_true(p.preempt_never);
	assert_true(p.gated);
	assert_string_equal(packed_labels_get(p.node_selector, "disk"), "ssd");
	assert_true(p.has_affinity);
	assert_int_equal(p.nterms, 2);
	assert_int_equal(p.terms[0].nexprs, 2);
	assert_int_equal(p.terms[0].exprs[1].op, NSEL_GT);
	assert_int_equal(p.terms[0].exprs[1].num, 3);
	assert_int_equal(p.terms[1].nfields, 1);
	assert_int_equal(p.terms[1].fields[0].op, NSEL_IN);
	assert_int_equal(p.ntols, 2);
	assert_int_equal(p.tols[0].op, TOL_EXISTS);
	assert_int_equal(p.tols[0].effect, EFFECT_NO_SCHEDULE);
	assert_int_equal(p.tols[1].op, TOL_EQUAL);
	assert_int_equal(p.tols[1].effect, EFFECT_ALL);
	assert_int_equal(p.nports, 2);
	assert_int_equal(p.ports[0].port, 8080);
	assert_int_equal(p.ports[0].proto, PROTO_TCP);
	assert_true(p.ports[0].any_ip);
	assert_int_equal(p.ports[1].port, 53);
	assert_int_equal(p.ports[1].proto, PROTO_UDP);
	assert_false(p.ports[1].any_ip);
	assert_string_equal(p.cond_status, "False");
	assert_string_equal(p.cond_message, "m");
	assert_string_equal(p.cond_transition, "2026-01-01T00:00:00Z");

	/* The fingerprint follows tolerations and gates only. */
	struct sched_pod q;
	json_object_set_new(json_object_get(j, "metadata"), "labels", jsonf("{'x':'y'}"));
	sched_pod_parse(j, &q);
	assert_true(q.fingerprint == p.fingerprint);
	sched_pod_release(&q);
	json_array_append_new(json_object_get(json_object_get(j, "spec"), "tolerations"),
			      jsonf("{'operator':'Exists'}"));
	sched_pod_parse(j, &q);
	assert_true(q.fingerprint != p.fingerprint);
	sched_pod_release(&q);
	sched_pod_release(&p);
}

/* ---- filters ---- */

static void test_filter_unschedulable(void **state)
{
	struct fixture fx;
	struct sched_pod p, tol;
	fx_init(&fx);
	struct snode *n =
	    fx_node_full(&fx, "n", "4", "8Gi", "110", "", "'unschedulable':true", "True");
	pod(&p, "");
	pod(&tol, "'tolerations':[{'key':'node.kubernetes.io/"
		  "unschedulable','operator':'Exists','effect':'NoSchedule'}]");
	assert_fit(&p, n, "unschedulable");
	assert_fit(&tol, n, "ok");
	sched_pod_release(&p);
	sched_pod_release(&tol);
	fx_release(&fx);
}

static void test_filter_taints(void **state)
{
	struct fixture fx;
	struct sched_pod p;
	fx_init(&fx);
	struct snode *ns =
	    fx_node_full(&fx, "ns", "4", "8Gi", "110", "",
			 "'taints':[{'key':'soft','value':'x','effect':'PreferNoSchedule'},"
			 "{'key':'gpu','value':'true','effect':'NoSchedule'}]",
			 "True");
	struct snode *ne = fx_node_full(&fx, "ne", "4", "8Gi", "110", "",
					"'taints':[{'key':'evict','effect':'NoExecute'}]", "True");
	struct snode *soft = fx_node_full(
	    &fx, "soft", "4", "8Gi", "110", "",
	    "'taints':[{'key':'soft','value':'x','effect':'PreferNoSchedule'}]", "True");

	pod(&p, "");
	struct fit f = sched_filter(&p, ns);
	assert_int_equal(f.code, FIT_TAINT);
	assert_int_equal(f.taint, 1); /* PreferNoSchedule does not filter */
	assert_fit(&p, ne, "taint");
	assert_fit(&p, soft, "ok");
	sched_pod_release(&p);

	/* Equal needs the value; the effect must match when given. */
	pod(&p, "'tolerations':[{'key':'gpu','operator':'Equal','value':'true','effect':'"
		"NoSchedule'}]");
	assert_fit(&p, ns, "ok");
	sched_pod_release(&p);
	pod(&p, "'tolerations':[{'key':'gpu','value':'false'}]");
	assert_fit(&p, ns, "taint");
	sched_pod_release(&p);
	pod(&p, "'tolerations':[{'key':'gpu','operator':'Exists','effect':'NoExecute'}]");
	assert_fit(&p, ns, "taint");
	sched_pod_release(&p);
	pod(&p, "'tolerations':[{'key':'gpu','operator':'Exists'}]");
	assert_fit(&p, ns, "ok");
	assert_fit(&p, ne, "taint");
	sched_pod_release(&p);
	/* An empty key with Exists tolerates everything. */
	pod(&p, "'tolerations':[{'operator':'Exists'}]");
	assert_fit(&p, ns, "ok");
	assert_fit(&p, ne, "ok");
	sched_pod_release(&p);
	/* An unknown operator tolerates nothing. */
	pod(&p, "'tolerations':[{'key':'gpu','operator':'Like'}]");
	assert_fit(&p, ns, "taint");
	sched_pod_release(&p);
	fx_release(&fx);
}

static void test_filter_not_ready(void **state)
{
	struct fixture fx;
	struct sched_pod p;
	fx_init(&fx);
	struct snode *nf = fx_node_full(&fx, "f", "4", "8Gi", "110", "", "", "False");
	struct snode *nu = fx_node_full(&fx, "u", "4", "8Gi", "110", "", "", "Unknown");
	pod(&p, "");
	assert_fit(&p, nf, "not-ready");
	assert_fit(&p, nu, "not-ready");
	sched_pod_release(&p);
	/* The NoExecute tolerations every pod gets by default do not count. */
	pod(&p, "'tolerations':[{'key':'node.kubernetes.io/"
		"not-ready','operator':'Exists','effect':'NoExecute','tolerationSeconds':300}]");
	assert_fit(&p, nf, "not-ready");
	sched_pod_release(&p);
	pod(&p, "'tolerations':[{'key':'node.kubernetes.io/"
		"not-ready','operator':'Exists','effect':'NoSchedule'}]");
	assert_fit(&p, nf, "ok");
	assert_fit(&p, nu, "not-ready");
	sched_pod_release(&p);
	pod(&p, "'tolerations':[{'key':'node.kubernetes.io/unreachable','operator':'Exists'}]");
	assert_fit(&p, nu, "ok");
	sched_pod_release(&p);
	fx_release(&fx);
}

static void test_filter_affinity(void **state)
{
	struct fixture fx;
	struct sched_pod p;
	fx_init(&fx);
	struct snode *a = fx_node_full(&fx, "a", "4", "8Gi", "110",
				       "'labels':{'zone':'z1','disk':'ssd','gen':'5'}", "", "True");
	struct snode *b = fx_node_full(&fx, "b", "4", "8Gi", "110",
				       "'labels':{'zone':'z2','gen':'x'}", "", "True");
	struct snode *c = fx_node_full(&fx, "c", "4", "8Gi", "110", "", "", "True");

	pod(&p, "'nodeSelector':{'disk':'ssd','zone':'z1'}");
	assert_fit(&p, a, "ok");
	assert_fit(&p, b, "affinity");
	assert_fit(&p, c, "affinity");
	sched_pod_release(&p);

	static const struct {
		const char *exprs;
		const char *want; /* for a, b, c */
	} cases[] = {
		{ "{'key':'zone','operator':'In','values':['z1','z3']}", "ok affinity affinity" },
		{ "{'key':'zone','operator':'NotIn','values':['z1']}", "affinity ok ok" },
		{ "{'key':'disk','operator':'Exists'}", "ok affinity affinity" },
		{ "{'key':'disk','operator':'DoesNotExist'}", "affinity ok ok" },
		{ "{'key':'gen','operator':'Gt','values':['4']}", "ok affinity affinity" },
		{ "{'key':'gen','operator':'Lt','values':['5']}", "affinity affinity affinity" },
		{ "{'key':'gen','operator':'Lt','values':['6']}", "ok affinity affinity" },
		/* invalid requirements match nothing */
		{ "{'key':'gen','operator':'Gt','values':['four']}", "affinity affinity affinity" },
		{ "{'key':'zone','operator':'In','values':[]}", "affinity affinity affinity" },
		{ "{'key':'disk','operator':'Exists','values':['ssd']}",
		  "affinity affinity affinity" },
		{ "{'key':'zone','operator':'Near','values':['z1']}",
		  "affinity affinity affinity" },
		/* expressions of a term are ANDed */
		{ "{'key':'zone','operator':'In','values':['z1','z2']},{'key':'disk','operator':'"
		  "DoesNotExist'}",
		  "affinity ok affinity" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *spec = xasprintf(
		    "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
		    "{'nodeSelectorTerms':[{'matchExpressions':[%s]}]}}}",
		    cases[i].exprs);
		pod(&p, spec);
		_cleanup_free_ char *got =
		    xasprintf("%s %s %s", fit_name(sched_filter(&p, a)),
			      fit_name(sched_filter(&p, b)), fit_name(sched_filter(&p, c)));
		if (!streq(got, cases[i].want))
			fail_msg("%s: got %s, want %s", cases[i].exprs, got, cases[i].want);
		sched_pod_release(&p);
	}

	/* Terms are ORed; matchFields names the node; an empty term matches nothing. */
	pod(&p, "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
		"{'nodeSelectorTerms':[{'matchFields':[{'key':'metadata.name','operator':'In','"
		"values':['c']}]},"
		"{'matchExpressions':[{'key':'zone','operator':'In','values':['z2']}]},{}]}}}");
	assert_fit(&p, a, "affinity");
	assert_fit(&p, b, "ok");
	assert_fit(&p, c, "ok");
	sched_pod_release(&p);
	pod(&p, "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
		"{'nodeSelectorTerms':[{'matchFields':[{'key':'metadata.name','operator':'NotIn','"
		"values':['c']}]}]}}}");
	assert_fit(&p, a, "ok");
	assert_fit(&p, c, "affinity");
	sched_pod_release(&p);
	pod(&p, "'affinity':{'nodeAffinity':{'requiredDuringSchedulingIgnoredDuringExecution':"
		"{'nodeSelectorTerms':[{'matchFields':[{'key':'metadata.uid','operator':'In','"
		"values':['c']}]}]}}}");
	assert_fit(&p, c, "affinity");
	sched_pod_release(&p);
	/* nodeSelector and affinity must both hold. */
	pod(&p,
	    "'nodeSelector':{'zone':'z2'},'affinity':{'nodeAffinity':{'"
	    "requiredDuringSchedulingIgnoredDuringExecution':"
	    "{'nodeSelectorTerms':[{'matchExpressions':[{'key':'gen','operator':'Exists'}]}]}}}");
	assert_fit(&p, a, "affinity");
	assert_fit(&p, b, "ok");
	sched_pod_release(&p);
	/* Only preferred affinity: no constraint. */
	pod(&p, "'affinity':{'nodeAffinity':{'preferredDuringSchedulingIgnoredDuringExecution':"
		"[{'weight':1,'preference':{'matchExpressions':[{'key':'zone','operator':'In','"
		"values':['z9']}]}}]}}");
	assert_fit(&p, c, "ok");
	sched_pod_release(&p);
	fx_release(&fx);
}

static void test_host_ports(void **state)
{
	struct host_port a, b;
	assert_false(host_port_make(0, NULL, NULL, &a));
	assert_true(host_port_make(80, NULL, NULL, &a));
	assert_true(host_port_make(80, "TCP", "0.0.0.0", &b));
	assert_true(host_port_equal(&a, &b));
	assert_true(host_ports_conflict(&a, &b));
	assert_true(host_port_make(80, "UDP", NULL, &b));
	assert_false(host_ports_conflict(&a, &b)); /* other protocol */
	assert_true(host_port_make(81, "TCP", NULL, &b));
	assert_false(host_ports_conflict(&a, &b)); /* other port */
	assert_true(host_port_make(80, "TCP", "10.0.0.1", &b));
	assert_true(host_ports_conflict(&a, &b)); /* every address vs one */
	assert_true(host_port_make(80, "TCP", "10.0.0.2", &a));
	assert_false(host_ports_conflict(&a, &b)); /* two different addresses */
	assert_true(host_port_make(80, "TCP", "10.0.0.1", &a));
	assert_true(host_ports_conflict(&a, &b));
	assert_true(host_port_make(80, "TCP", "::1", &a));
	assert_false(host_ports_conflict(&a, &b));

	struct fixture fx;
	struct sched_pod p, q, r;
	fx_init(&fx);
	struct snode *n = fx_node(&fx, "n");
	pod_full(&p, "p", "",
		 "'containers':[{'name':'c','image':'i','ports':[{'containerPort':80,'hostPort':"
		 "8080,'hostIP':'10.0.0.1'}]}]");
	pod_full(&q, "q", "",
		 "'containers':[{'name':'c','image':'i','ports':[{'containerPort':80,'hostPort':"
		 "8080}]}]");
	pod_full(&r, "r", "",
		 "'containers':[{'name':'c','image':'i','ports':[{'containerPort':80,'hostPort':"
		 "8080,'protocol':'UDP'}]}]");
	assert_fit(&q, n, "ok");
	cache_assume(&fx.c, "ns/p", &p, n);
	assert_fit(&q, n, "ports");
	assert_fit(&r, n, "ok");
	cache_remove_pod(&fx.c, "ns/p");
	assert_int_equal(n->nports, 0);
	assert_fit(&q, n, "ok");
	/* a bound pod's ports, from its JSON */
	_cleanup_(json_decrefp) json_t *j =
	    jsonf("{'spec':{'containers':[{'ports':[{'containerPort':1,'hostPort':8080,'protocol':'"
		  "UDP'}]}]}}");
	size_t np;
	_cleanup_free_ struct host_port *ports = pod_host_ports(j, &np);
	cache_add_bound_pod(&fx.c, "ns/x", "ux", "n", 0, 0, NULL, ports, np);
	assert_fit(&q, n, "ok");
	assert_fit(&r, n, "ports");
	sched_pod_release(&p);
	sched_pod_release(&q);
	sched_pod_release(&r);
	fx_release(&fx);
}

static void test_filter_resources(void **state)
{
	struct fixture fx;
	struct sched_pod p, big, none;
	fx_init(&fx);
	struct snode *n = fx_node_full(&fx, "n", "1", "1Gi", "3", "", "", "True");
	pod_req(&p, "p", "400m", "256Mi", "");
	pod_req(&big, "big", "2", "2Gi", "");
	pod(&none, "");
	struct fit f = sched_filter(&big, n);
	assert_int_equal(f.code, FIT_RESOURCES);
	assert_int_equal(f.res, FIT_NO_CPU | FIT_NO_MEMORY);

	/* Two assumed pods: 800m of 1 cpu left 200m. */
	assert_fit(&p, n, "ok");
	cache_assume(&fx.c, "ns/a", &p, n);
	assert_fit(&p, n, "ok");
	cache_assume(&fx.c, "ns/b", &p, n);
	f = sched_filter(&p, n);
	assert_int_equal(f.code, FIT_RESOURCES);
	assert_int_equal(f.res, FIT_NO_CPU);
	assert_int_equal(n->req_cpu, 800);
	assert_int_equal(n->req_mem, 512 * 1024 * 1024);
	assert_int_equal(n->npods, 2);

	/* A pod without requests only needs a pod slot. */
	assert_fit(&none, n, "ok");
	cache_assume(&fx.c, "ns/c", &none, n);
	f = sched_filter(&none, n);
	assert_int_equal(f.code, FIT_RESOURCES);
	assert_int_equal(f.res, FIT_NO_PODS);
	f = sched_filter(&p, n);
	assert_int_equal(f.res, FIT_NO_PODS | FIT_NO_CPU);

	/* Forgetting frees. */
	assert_true(cache_forget(&fx.c, "ns/b", "uid-p"));
	assert_false(cache_forget(&fx.c, "ns/b", "uid-p"));
	assert_fit(&p, n, "ok");
	assert_int_equal(n->npods, 2);
	sched_pod_release(&p);
	sched_pod_release(&big);
	sched_pod_release(&none);
	fx_release(&fx);
}

/* ---- cache accounting ---- */

static void test_cache_assume_and_bind(void **state)
{
	struct fixture fx;
	struct sched_pod p;
	fx_init(&fx);
	struct snode *a = fx_node(&fx, "a");
	struct snode *b = fx_node(&fx, "b");
	pod_req(&p, "p", "1", "1Gi",
		"'ownerReferences':[{'apiVersion':'v1','kind':'ReplicaSet','name':'rs','uid':'o1','"
		"controller':true}]");
	cache_assume(&fx.c, "ns/p", &p, a);
	const struct owner *o = cache_find_owner(&fx.c, "o1");
	assert_non_null(o);
	assert_int_equal(owner_count_on(a, o), 1);
	assert_true(cache_get_pod(&fx.c, "ns/p")->assumed);

	/* The informer shows the binding: nothing moves. */
	assert_false(
	    cache_add_bound_pod(&fx.c, "ns/p", "uid-p", "a", 1000, 1 << 30, "o1", NULL, 0));
	assert_false(cache_get_pod(&fx.c, "ns/p")->assumed);
	assert_int_equal(a->req_cpu, 1000);
	assert_int_equal(a->npods, 1);
	/* A failed binding answer afterwards changes nothing. */
	assert_false(cache_forget(&fx.c, "ns/p", "uid-p"));
	assert_int_equal(a->npods, 1);

	/* Bound elsewhere than assumed: moves, and frees a. */
	cache_assume(&fx.c, "ns/q", &p, a);
	assert_int_equal(a->npods, 2);
	assert_true(cache_add_bound_pod(&fx.c, "ns/q", "uid-p", "b", 1000, 1 << 30, "o1", NULL, 0));
	assert_int_equal(a->npods, 1);
	assert_int_equal(b->npods, 1);
	assert_int_equal(owner_count_on(b, o), 1);
	assert_int_equal(b->nz_cpu, 1000);

	/* Removal, and the owner goes with its last pod. */
	assert_true(cache_remove_pod(&fx.c, "ns/p"));
	assert_true(cache_remove_pod(&fx.c, "ns/q"));
	assert_false(cache_remove_pod(&fx.c, "ns/q"));
	assert_null(cache_find_owner(&fx.c, "o1"));
	assert_int_equal(a->npods + b->npods + a->req_cpu + b->req_mem + a->nz_mem + a->nowners, 0);

	/* A pod on a node not (yet) known keeps a hidden node; the Node
	 * arriving makes it schedulable with that usage. */
	cache_add_bound_pod(&fx.c, "ns/g", "ug", "ghost", 3500, 0, NULL, NULL, 0);
	assert_int_equal(cache_node_count(&fx.c), 2);
	struct snode *g = fx_node(&fx, "ghost");
	assert_int_equal(cache_node_count(&fx.c), 3);
	assert_int_equal(g->req_cpu, 3500);
	assert_fit(&p, g, "resources");
	/* The Node deleted: the hidden node stays while its pod does. */
	cache_remove_node(&fx.c, "ghost");
	assert_int_equal(cache_node_count(&fx.c), 2);
	assert_non_null(cache_get_node(&fx.c, "ghost"));
	cache_remove_pod(&fx.c, "ns/g");
	assert_null(cache_get_node(&fx.c, "ghost"));
	sched_pod_release(&p);
	fx_release(&fx);
}

static void test_node_changes(void **state)
{
	struct fixture fx;
	fx_init(&fx);
	/* new */
	assert_non_null(
	    fx_node_full(&fx, "n", "4", "8Gi", "110", "", "'unschedulable':true", "False"));
	struct node_info *ni;
	_cleanup_(json_decrefp) json_t *j = NULL;
#define CHANGE(want, meta, spec, ready, cpu)                                                  \
	do {                                                                                  \
		json_decref(j);                                                               \
		j = jsonf(                                                                    \
		    "{'metadata':{'name':'n'%s},'spec':{%s},'status':{'conditions':[{'type':" \
		    "'Ready','status':'%s','lastHeartbeatTime':'2026-01-01T00:00:%02dZ'}],"   \
		    "'allocatable':{'cpu':'%s','memory':'8Gi','pods':'110'}}}",               \
		    meta, spec, ready, (int)fx.ninfos, cpu);                                  \
		ni = node_info_extract(j);                                                    \
		fx.infos[fx.ninfos++] = ni;                                                   \
		assert_int_equal(cache_set_node(&fx.c, "n", ni, NULL), want);                 \
	} while (0)
	CHANGE(false, "", "'unschedulable':true", "False", "4"); /* heartbeat */
	CHANGE(true, "", "'unschedulable':true", "True", "4");	 /* ready */
	CHANGE(false, "", "'unschedulable':true", "False", "4"); /* not ready */
	CHANGE(true, "", "", "False", "4");			 /* uncordoned */
	CHANGE(false, "", "", "False", "2");			 /* less cpu */
	CHANGE(true, "", "", "False", "3");			 /* more cpu */
	CHANGE(true, ",'labels':{'a':'b'}", "", "False", "3");
	CHANGE(false, ",'labels':{'a':'b'}", "", "False", "3");
	CHANGE(true, ",'labels':{'a':'c'}", "", "False", "3");
	CHANGE(true, ",'labels':{'a':'c'}", "'taints':[{'key':'k','effect':'NoSchedule'}]", "False",
	       "3");
	CHANGE(false, ",'labels':{'a':'c'}", "'taints':[{'key':'k','effect':'NoSchedule'}]",
	       "False", "3");
	CHANGE(true, ",'labels':{'a':'c'}", "", "False", "3");
#undef CHANGE
	assert_int_equal(cache_node_count(&fx.c), 1);
	fx_release(&fx);
}

/* ---- scores and picking ---- */

static void test_scores(void **state)
{
	struct fixture fx;
	struct sched_pod p, q, tol;
	fx_init(&fx);
	struct snode *n = fx_node_full(&fx, "n", "4", "8Gi", "110", "",
				       "'taints':[{'key':'a','effect':'PreferNoSchedule'},{'key':'"
				       "b','effect':'PreferNoSchedule'}]",
				       "True");
	pod_req(&p, "p", "1", "2Gi", "");
	/* (4-1)/4 = 75 for cpu, (8-2)/8 = 75 for memory */
	assert_int_equal(score_least_requested(&p, n), 75);
	cache_assume(&fx.c, "ns/x", &p, n);
	/* cpu 2 of 4 used: 50; memory 4 of 8: 50 */
	assert_int_equal(score_least_requested(&p, n), 50);
	/* Without requests a pod counts as 100m and 200Mi for scoring. */
	pod(&q, "");
	assert_int_equal(score_least_requested(&q, n),
			 ((4000 - 1100) * 100 / 4000 + (8192 - 2048 - 200) * 100 / 8192) / 2);
	assert_int_equal(prefer_no_schedule_count(&q, n), 2);
	pod(&tol, "'tolerations':[{'key':'a','operator':'Exists','effect':'PreferNoSchedule'}]");
	assert_int_equal(prefer_no_schedule_count(&tol, n), 1);
	assert_int_equal(score_fewer_is_better(0, 0), 100);
	assert_int_equal(score_fewer_is_better(1, 2), 50);
	assert_int_equal(score_fewer_is_better(2, 2), 0);
	sched_pod_release(&p);
	sched_pod_release(&q);
	sched_pod_release(&tol);
	fx_release(&fx);
}

/* Place pod as the scheduler would: decide, then assume. */
static struct snode *place(struct fixture *fx, const char *key, const struct sched_pod *p)
{
	struct snode *n = cache_find_node(&fx->c, p, NULL);
	if (n)
		cache_assume(&fx->c, key, p, n);
	return n;
}

static void test_spread_owner(void **state)
{
	/* Six pods of one owner over three equal nodes end two per node,
	 * whatever the random tie breaks. */
	for (int round = 0; round < 50; round++) {
		struct fixture fx;
		fx_init(&fx);
		struct snode *nodes[3] = { fx_node(&fx, "a"), fx_node(&fx, "b"),
					   fx_node(&fx, "c") };
		for (int i = 0; i < 6; i++) {
			struct sched_pod p;
			char name[16], key[32];
			snprintf(name, sizeof(name), "p%d", i);
			snprintf(key, sizeof(key), "ns/%s", name);
			pod_req(&p, name, "100m", "128Mi",
				"'ownerReferences':[{'apiVersion':'apps/"
				"v1','kind':'ReplicaSet','name':'rs','uid':'rs-uid','controller':"
				"true}]");
			assert_non_null(place(&fx, key, &p));
			sched_pod_release(&p);
		}
		for (int i = 0; i < 3; i++)
			assert_int_equal(nodes[i]->npods, 2);
		fx_release(&fx);
	}
}

static void test_least_requested_wins(void **state)
{
	struct fixture fx;
	struct sched_pod p;
	fx_init(&fx);
	fx_node_full(&fx, "small", "2", "4Gi", "110", "", "", "True");
	struct snode *big = fx_node_full(&fx, "big", "16", "64Gi", "110", "", "", "True");
	fx_node_full(&fx, "busy", "16", "64Gi", "110", "", "", "True");
	cache_add_bound_pod(&fx.c, "ns/hog", "h", "busy", 12000, 48LL << 30, NULL, NULL, 0);
	pod_req(&p, "p", "500m", "512Mi", "");
	for (int i = 0; i < 10; i++)
		assert_ptr_equal(cache_find_node(&fx.c, &p, NULL), big);
	sched_pod_release(&p);

	/* An untolerated PreferNoSchedule taint (weight 3) outweighs free
	 * resources (weight 1): small (81 + 200 + 300) beats big (97 + 200 + 0). */
	fx_node_full(&fx, "big", "16", "64Gi", "110", "",
		     "'taints':[{'key':'k','effect':'PreferNoSchedule'}]", "True");
	pod_req(&p, "p", "500m", "512Mi", "");
	struct snode *n = cache_find_node(&fx.c, &p, NULL);
	assert_string_equal(n->name, "small");
	sched_pod_release(&p);
	fx_release(&fx);
}

static void test_ties_are_random(void **state)
{
	struct fixture fx;
	struct sched_pod p;
	int hits[4] = { 0 };
	fx_init(&fx);
	struct snode *nodes[4] = { fx_node(&fx, "a"), fx_node(&fx, "b"), fx_node(&fx, "c"),
				   fx_node(&fx, "d") };
	pod(&p, "");
	for (int i = 0; i < 400; i++) {
		struct snode *n = cache_find_node(&fx.c, &p, NULL);
		for (int k = 0; k < 4; k++)
			hits[k] += n == nodes[k];
	}
	for (int k = 0; k < 4; k++)
		assert_true(hits[k] > 40);
	sched_pod_release(&p);
	fx_release(&fx);
}

static void test_nodes_to_find(void **state)
{
	assert_int_equal(cache_nodes_to_find(0, 0), 0);
	assert_int_equal(cache_nodes_to_find(50, 0), 50);
	assert_int_equal(cache_nodes_to_find(99, 0), 99);
	assert_int_equal(cache_nodes_to_find(100, 0), 100);  /* 49%, at least 100 */
	assert_int_equal(cache_nodes_to_find(1000, 0), 420); /* 50 - 8 = 42% */
	assert_int_equal(cache_nodes_to_find(5000, 0), 500); /* 50 - 40 = 10% */
	assert_int_equal(cache_nodes_to_find(6000, 0), 300); /* 5% */
	assert_int_equal(cache_nodes_to_find(1000, 5), 100);
	assert_int_equal(cache_nodes_to_find(1000, 100), 1000);
}

static void test_sampling_rotates(void **state)
{
	struct fixture fx;
	struct sched_pod p;
	fx_init(&fx);
	for (int i = 0; i < 200; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%03d", i);
		fx_node(&fx, name);
	}
	/* 200 nodes: 48% -> 100 feasible found, then scored */
	pod(&p, "");
	cache_find_node(&fx.c, &p, NULL);
	assert_int_equal(fx.c.next_start, 100);
	cache_find_node(&fx.c, &p, NULL);
	assert_int_equal(fx.c.next_start, 0);
	sched_pod_release(&p);
	/* None fits: every node is examined, and the reasons counted. */
	struct diagnosis d = { 0 };
	pod_req(&p, "p", "64", "1Gi", "");
	assert_null(cache_find_node(&fx.c, &p, &d));
	assert_int_equal(d.count[DIAG_CPU], 200);
	assert_int_equal(fx.c.next_start, 0);
	diagnosis_release(&d);
	sched_pod_release(&p);
	fx_release(&fx);
}

/* ---- the FailedScheduling message ---- */

static char *why(struct fixture *fx, const struct sched_pod *p)
{
	struct diagnosis d = { 0 };
	assert_null(cache_find_node(&fx->c, p, &d));
	char *m = diagnosis_message(&d, cache_node_count(&fx->c), p);
	diagnosis_release(&d);
	return m;
}

static void test_message(void **state)
{
	struct fixture fx;
	struct sched_pod p;
	fx_init(&fx);
	pod_req(&p, "p", "3", "1Gi", "");
	_cleanup_free_ char *m0 = why(&fx, &p);
	assert_string_equal(m0, "no nodes available to schedule pods");

	fx_node_full(&fx, "cordoned", "4", "8Gi", "110", "", "'unschedulable':true", "True");
	fx_node_full(&fx, "small1", "2", "8Gi", "110", "", "", "True");
	fx_node_full(&fx, "small2", "2", "8Gi", "110", "", "", "True");
	_cleanup_free_ char *m1 = why(&fx, &p);
	assert_string_equal(
	    m1, "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu. "
		"preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
		"2 No preemption victims found for incoming pod.");

	fx_node_full(&fx, "tainted", "8", "8Gi", "110", "",
		     "'taints':[{'key':'dedicated','value':'gpu','effect':'NoSchedule'}]", "True");
	fx_node_full(&fx, "tainted2", "8", "8Gi", "110", "",
		     "'taints':[{'key':'node.kubernetes.io/not-ready','effect':'NoExecute'}]",
		     "True");
	fx_node_full(&fx, "down", "8", "8Gi", "110", "", "", "False");
	fx_node_full(&fx, "full", "8", "512Mi", "0", "'labels':{'disk':'ssd'}", "", "True");
	fx_node_full(&fx, "other", "8", "8Gi", "110", "'labels':{'disk':'hdd'}", "", "True");
	sched_pod_release(&p);
	pod_full(&p, "p", "",
		 "'nodeSelector':{'disk':'ssd'},'containers':[{'name':'c','image':'i',"
		 "'resources':{'requests':{'cpu':'3','memory':'1Gi'}}}]");
	_cleanup_free_ char *m2 = why(&fx, &p);
	assert_string_equal(
	    m2,
	    "0/8 nodes are available: 1 Insufficient memory, 1 Too many pods, "
	    "1 node(s) had untolerated taint {dedicated: gpu}, "
	    "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
	    "1 node(s) were not ready, 1 node(s) were unschedulable, "
	    "3 node(s) didn't match Pod's node affinity/selector. "
	    "preemption: 0/8 nodes are available: 1 No preemption victims found for incoming pod, "
	    "7 Preemption is not helpful for scheduling.");
	sched_pod_release(&p);

	/* Counts sort as strings, as kube-scheduler's do: "10 ..." before "2 ...". */
	fx_release(&fx);
	fx_init(&fx);
	for (int i = 0; i < 13; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		if (i < 11)
			fx_node_full(&fx, name, "1", "8Gi", "110", "", "", "True");
		else
			fx_node_full(&fx, name, "8", "8Gi", "110", "", "'unschedulable':true",
				     "True");
	}
	pod_full(
	    &p, "p", "",
	    "'preemptionPolicy':'Never','containers':[{'name':'c','image':'i',"
	    "'resources':{'requests':{'cpu':'2'}},'ports':[{'containerPort':1,'hostPort':80}]}]");
	cache_add_bound_pod(&fx.c, "ns/web", "w", "n0", 0, 0, NULL, p.ports, p.nports);
	_cleanup_free_ char *m3 = why(&fx, &p);
	assert_string_equal(m3, "0/13 nodes are available: 1 node(s) didn't have free ports for "
				"the requested pod ports, "
				"10 Insufficient cpu, 2 node(s) were unschedulable. "
				"preemption: not eligible due to preemptionPolicy=Never.");
	sched_pod_release(&p);
	fx_release(&fx);
}

/* ---- the queue ---- */

static struct qpod *qadd(struct squeue *q, const char *name, int prio)
{
	struct sched_pod p;
	char spec[64], key[64];
	snprintf(spec, sizeof(spec), "'priority':%d", prio);
	snprintf(key, sizeof(key), "ns/%s", name);
	pod_full(&p, name, "", spec);
	return squeue_add(q, key, &p);
}

static void test_queue(void **state)
{
	struct squeue q;
	squeue_init(&q);
	uint64_t t = 1000000000;
	qadd(&q, "a", 0);
	qadd(&q, "b", 0);
	qadd(&q, "c", 5);
	assert_int_equal(squeue_next_time(&q), 0);
	/* priority first, then arrival */
	struct qpod *c = squeue_pop(&q, t);
	assert_string_equal(c->key, "ns/c");
	struct qpod *a = squeue_pop(&q, t);
	assert_string_equal(a->key, "ns/a");
	struct qpod *b = squeue_pop(&q, t);
	assert_string_equal(b->key, "ns/b");
	assert_null(squeue_pop(&q, t));
	assert_int_equal(squeue_next_time(&q), UINT64_MAX);

	/* Unschedulable: waits for an event, and its back-off. */
	squeue_unschedulable(&q, a, t);
	squeue_binding(&q, c);
	assert_int_equal(squeue_len(&q, Q_UNSCHEDULABLE), 1);
	assert_int_equal(squeue_len(&q, Q_BINDING), 1);
	assert_null(squeue_pop(&q, t + 5000000));
	squeue_move_all(&q, t + 500000); /* within the 1 s back-off */
	assert_int_equal(squeue_len(&q, Q_BACKOFF), 1);
	assert_int_equal(squeue_next_time(&q), t + 1000000);
	assert_null(squeue_pop(&q, t + 999999));
	assert_ptr_equal(squeue_pop(&q, t + 1000000), a);

	/* Back-off doubles per attempt up to 10 s. */
	squeue_unschedulable(&q, a, t); /* attempt 2: 2 s */
	squeue_move_all(&q, t);
	assert_null(squeue_pop(&q, t + 1999999));
	assert_ptr_equal(squeue_pop(&q, t + 2000000), a);
	for (int i = 0; i < 6; i++) {
		squeue_retry(&q, a, t);
		assert_ptr_equal(squeue_pop(&q, t + 10000000), a);
	}
	squeue_retry(&q, a, t);
	assert_int_equal(squeue_next_time(&q), t + 10000000);
	assert_ptr_equal(squeue_pop(&q, t + 10000000), a);

	/* Without any event, unschedulable pods are retried after a while. */
	squeue_unschedulable(&q, b, t);
	assert_int_equal(squeue_next_time(&q), t + q.max_unschedulable);
	assert_null(squeue_pop(&q, t + q.max_unschedulable - 1));
	assert_ptr_equal(squeue_pop(&q, t + q.max_unschedulable), b);

	/* A pod update that changes tolerations brings it back; a status
	 * update does not. */
	squeue_unschedulable(&q, b, t);
	struct sched_pod p;
	pod_full(&p, "b", "", "'priority':0");
	squeue_update(&q, b, &p, t + 20000000);
	assert_int_equal(b->state, Q_UNSCHEDULABLE);
	pod_full(&p, "b", "", "'priority':0,'tolerations':[{'operator':'Exists'}]");
	squeue_update(&q, b, &p, t + 20000000);
	assert_int_equal(b->state, Q_ACTIVE);

	/* A priority change reorders the active heap. */
	pod_full(&p, "a", "", "'priority':9");
	squeue_retry(&q, a, t);
	squeue_move_all(&q, t);
	assert_ptr_equal(squeue_pop(&q, t + 20000000), b);
	squeue_unschedulable(&q, b, t);
	squeue_move_all(&q, t + 20000000);
	struct qpod *d = qadd(&q, "d", 3);
	squeue_update(&q, a, &p, t);
	assert_ptr_equal(squeue_pop(&q, t + 30000000), a);
	assert_ptr_equal(squeue_pop(&q, t + 30000000), d);
	assert_ptr_equal(squeue_pop(&q, t + 30000000), b);

	squeue_delete(&q, a);
	assert_null(squeue_get(&q, "ns/a"));
	assert_non_null(squeue_get(&q, "ns/b"));
	squeue_release(&q);
}

static void test_hmap(void **state)
{
	struct ent {
		struct hmap_node hn;
		char key[16];
	};
	struct hmap m;
	struct ent *e = xnew(struct ent, 1000);
	hmap_init(&m);
	for (int i = 0; i < 1000; i++) {
		snprintf(e[i].key, sizeof(e[i].key), "k%d", i);
		hmap_put(&m, &e[i].hn, e[i].key);
	}
	assert_int_equal(m.count, 1000);
	for (int i = 0; i < 1000; i += 2)
		hmap_remove(&m, &e[i].hn);
	for (int i = 0; i < 1000; i++) {
		struct hmap_node *h = hmap_get(&m, e[i].key);
		if (i % 2)
			assert_ptr_equal(h, &e[i].hn);
		else
			assert_null(h);
	}
	size_t n = 0;
	for (struct hmap_node *h = hmap_first(&m); h; h = hmap_next(&m, h))
		n++;
	assert_int_equal(n, 500);
	hmap_release(&m);
	free(e);
}

/* Decisions per second on a large cluster (printed; set
 * C8S_SCHED_BENCH=1, and run the build/rel flavour for real numbers). */
static void test_decision_rate(void **state)
{
	if (!getenv("C8S_SCHED_BENCH"))
		skip();
	static const int node_counts[] = { 100, 1000, 5000 };
	for (size_t k = 0; k < ARRAY_SIZE(node_counts); k++) {
		struct fixture *fx = xnew(struct fixture, 1);
		struct node_info **infos = xnew(struct node_info *, (size_t)node_counts[k]);
		fx_init(fx);
		for (int i = 0; i < node_counts[k]; i++) {
			char name[32];
			snprintf(name, sizeof(name), "node-%05d", i);
			_cleanup_(json_decrefp) json_t *j =
			    jsonf("{'metadata':{'name':'%s','labels':{'kubernetes.io/"
				  "hostname':'%s','zone':'z%d'}},"
				  "'status':{'conditions':[{'type':'Ready','status':'True'}],"
				  "'allocatable':{'cpu':'32','memory':'128Gi','pods':'110'}}}",
				  name, name, i % 3);
			infos[i] = node_info_extract(j);
			cache_set_node(&fx->c, name, infos[i], NULL);
		}
		int npods = MIN(20000, node_counts[k] * 100);
		struct sched_pod p;
		pod_req(&p, "p", "100m", "128Mi",
			"'ownerReferences':[{'apiVersion':'apps/"
			"v1','kind':'ReplicaSet','name':'rs','uid':'rs-uid','controller':true}]");
		uint64_t t0 = now_usec_monotonic();
		for (int i = 0; i < npods; i++) {
			char key[32];
			snprintf(key, sizeof(key), "ns/p%d", i);
			free(p.uid);
			p.uid = xstrdup(key);
			assert_non_null(place(fx, key, &p));
		}
		uint64_t dt = now_usec_monotonic() - t0;
		print_message("%d nodes: %d decisions in %.3f s: %.0f pods/s, %.1f us/pod\n",
			      node_counts[k], npods, dt / 1e6, npods / (dt / 1e6),
			      (double)dt / npods);
		sched_pod_release(&p);
		fx_release(fx);
		for (int i = 0; i < node_counts[k]; i++)
			node_info_free(infos[i]);
		free(infos);
		free(fx);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_pod),
		cmocka_unit_test(test_filter_unschedulable),
		cmocka_unit_test(test_filter_taints),
		cmocka_unit_test(test_filter_not_ready),
		cmocka_unit_test(test_filter_affinity),
		cmocka_unit_test(test_host_ports),
		cmocka_unit_test(test_filter_resources),
		cmocka_unit_test(test_cache_assume_and_bind),
		cmocka_unit_test(test_node_changes),
		cmocka_unit_test(test_scores),
		cmocka_unit_test(test_spread_owner),
		cmocka_unit_test(test_least_requested_wins),
		cmocka_unit_test(test_ties_are_random),
		cmocka_unit_test(test_nodes_to_find),
		cmocka_unit_test(test_sampling_rotates),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_hmap),
		cmocka_unit_test(test_decision_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
