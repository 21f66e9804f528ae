/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <ctype.h>

#include "client/objects.h"
#include "lib/json.h"
#include "lib/selector.h"
#include "lib/strbuf.h"
#include "scheduler/framework.h"

/* ---- parsing a pending pod ---- */

enum taint_effect taint_effect_parse(const char *s)
{
	if (isempty(s))
		return EFFECT_ALL;
	if (streq(s, "NoSchedule"))
		return EFFECT_NO_SCHEDULE;
	if (streq(s, "PreferNoSchedule"))
		return EFFECT_PREFER_NO_SCHEDULE;
	if (streq(s, "NoExecute"))
		return EFFECT_NO_EXECUTE;
	return EFFECT_UNKNOWN;
}

static bool parse_int64(const char *s, int64_t *ret)
{
	char *end;
	if (isempty(s))
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || isspace((unsigned char)*s))
		return false;
	*ret = v;
	return true;
}

bool host_port_make(int64_t port, const char *proto, const char *ip, struct host_port *ret)
{
	if (port <= 0 || port > 65535)
		return false;
	*ret = (struct host_port){ .port = (int32_t)port, .proto = PROTO_TCP };
	if (streq_ptr(proto, "UDP"))
		ret->proto = PROTO_UDP;
	else if (streq_ptr(proto, "SCTP"))
		ret->proto = PROTO_SCTP;
	struct in_addr a4;
	if (isempty(ip) || streq(ip, "0.0.0.0")) {
		ret->any_ip = true;
	} else if (inet_pton(AF_INET, ip, &a4) == 1) {
		/* v4-mapped, so that one form compares */
		ret->ip[10] = ret->ip[11] = 0xff;
		memcpy(ret->ip + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, ip, ret->ip) != 1) {
		ret->any_ip = true; /* not an address: be safe, take them all */
	}
	return true;
}

bool host_port_equal(const struct host_port *a, const struct host_port *b)
{
	return a->port == b->port && a->proto == b->proto && a->any_ip == b->any_ip &&
	       (a->any_ip || memcmp(a->ip, b->ip, 16) == 0);
}

/* Like kube-scheduler's HostPortInfo: the same port and protocol conflict
 * when either side binds every address or both bind the same one. */
bool host_ports_conflict(const struct host_port *a, const struct host_port *b)
{
	if (a->port != b->port || a->proto != b->proto)
		return false;
	return a->any_ip || b->any_ip || memcmp(a->ip, b->ip, 16) == 0;
}

/* Append the host ports of one container to *v. */
static void container_host_ports(json_t *c, struct host_port **v, size_t *n)
{
	struct host_port hp;
	size_t i;
	json_t *port;
	json_array_foreach(json_object_get(c, "ports"), i, port)
	{
		if (!host_port_make(json_get_int(port, "hostPort", 0),
				    json_get_str(port, "protocol"), json_get_str(port, "hostIP"),
				    &hp))
			continue;
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = hp;
	}
}

struct host_port *pod_host_ports(json_t *pod, size_t *ret_n)
{
	struct host_port *v = NULL;
	size_t n = 0, i;
	json_t *c;
	json_array_foreach(json_get(pod, "spec.containers"), i, c) container_host_ports(c, &v, &n);
	*ret_n = n;
	return v;
}

static enum nsel_op nsel_op_parse(const char *s)
{
	static const char *const names[] = { "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt" };
	for (size_t i = 0; s && i < ARRAY_SIZE(names); i++)
		if (streq(s, names[i]))
			return (enum nsel_op)i;
	return NSEL_INVALID;
}

/* A requirement, checked as Kubernetes' label requirements are: In and
 * NotIn need values, Exists and DoesNotExist none, Gt and Lt one integer;
 * fields may only be metadata.name with In or NotIn. */
static void nsel_req_parse(json_t *j, bool field, struct nsel_req *r)
{
	size_t i;
	json_t *v;
	r->key = xstrdup(str_or_empty_json(j, "key"));
	r->op = nsel_op_parse(json_get_str(j, "operator"));
	json_t *values = json_object_get(j, "values");
	r->values = xnew(char *, json_array_size(values) + 1);
	json_array_foreach(values, i, v)
	{
		if (json_is_string(v))
			r->values[r->nvalues++] = xstrdup(json_string_value(v));
	}
	switch (r->op) {
	case NSEL_IN:
	case NSEL_NOT_IN:
		if (!r->nvalues)
			r->op = NSEL_INVALID;
		break;
	case NSEL_EXISTS:
	case NSEL_DOES_NOT_EXIST:
		if (r->nvalues)
			r->op = NSEL_INVALID;
		break;
	case NSEL_GT:
	case NSEL_LT:
		if (r->nvalues != 1 || !parse_int64(r->values[0], &r->num))
			r->op = NSEL_INVALID;
		break;
	case NSEL_INVALID:
		break;
	}
	if (field &&
	    (!streq(r->key, "metadata.name") || (r->op != NSEL_IN && r->op != NSEL_NOT_IN)))
		r->op = NSEL_INVALID;
}

static void nsel_req_release(struct nsel_req *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
}

static struct nsel_req *nsel_reqs_parse(json_t *arr, bool field, size_t *ret_n)
{
	size_t n = json_array_size(arr), i;
	json_t *x;
	*ret_n = n;
	if (!n)
		return NULL;
	struct nsel_req *v = xnew(struct nsel_req, n);
	json_array_foreach(arr, i, x) nsel_req_parse(x, field, &v[i]);
	return v;
}

static bool has_value(const struct nsel_req *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (streq(r->values[i], v))
			return true;
	return false;
}

/* v is the label's (or field's) value, NULL when the node has none. */
static bool nsel_req_matches(const struct nsel_req *r, const char *v)
{
	int64_t x;
	switch (r->op) {
	case NSEL_IN:
		return v && has_value(r, v);
	case NSEL_NOT_IN:
		return !v || !has_value(r, v);
	case NSEL_EXISTS:
		return v != NULL;
	case NSEL_DOES_NOT_EXIST:
		return v == NULL;
	case NSEL_GT:
		return v && parse_int64(v, &x) && x > r->num;
	case NSEL_LT:
		return v && parse_int64(v, &x) && x < r->num;
	case NSEL_INVALID:
		break;
	}
	return false;
}

bool nsel_term_matches(const struct nsel_term *t, const char *labels, const char *node_name)
{
	if (!t->nexprs && !t->nfields)
		return false;
	for (size_t i = 0; i < t->nexprs; i++)
		if (!nsel_req_matches(&t->exprs[i], packed_labels_get(labels, t->exprs[i].key)))
			return false;
	for (size_t i = 0; i < t->nfields; i++)
		if (!nsel_req_matches(&t->fields[i], node_name))
			return false;
	return true;
}

static char *dup_str(json_t *o, const char *path)
{
	const char *s = json_get_str(o, path);
	return s ? xstrdup(s) : NULL;
}

static uint64_t hash_json(json_t *j, uint64_t h)
{
	if (!j)
		return h;
	_cleanup_free_ char *s = json_dump_compact(j, NULL);
	return (h * 31) ^ hmap_hash(s);
}

void sched_pod_parse(json_t *pod, struct sched_pod *ret)
{
	struct sched_pod *p = ret;
	json_t *spec = json_object_get(pod, "spec");
	size_t i, len;
	json_t *x;

	*p = (struct sched_pod){ 0 };
	p->ns = xstrdup(str_or_empty_json(pod, "metadata.namespace"));
	p->name = xstrdup(str_or_empty_json(pod, "metadata.name"));
	p->uid = xstrdup(str_or_empty_json(pod, "metadata.uid"));
	struct owner_ref o;
	if (owner_controller(pod, &o)) {
		p->owner_uid = isempty(o.uid) ? NULL : xstrdup(o.uid);
		owner_ref_release(&o);
	}
	pod_requests(spec, &p->cpu, &p->mem);
	p->priority = (int32_t)json_get_int(spec, "priority", 0);
	p->preempt_never = streq_ptr(json_get_str(spec, "preemptionPolicy"), "Never");
	p->gated = json_array_size(json_object_get(spec, "schedulingGates")) > 0;

	json_t *sel = json_object_get(spec, "nodeSelector");
	if (json_object_size(sel) > 0)
		p->node_selector = packed_labels_from_json(sel, &len);

	json_t *req =
	    json_get(spec, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
	if (json_is_object(req)) {
		p->has_affinity = true;
		json_t *terms = json_object_get(req, "nodeSelectorTerms");
		p->nterms = json_array_size(terms);
		p->terms = xnew(struct nsel_term, p->nterms ? p->nterms : 1);
		json_array_foreach(terms, i, x)
		{
			struct nsel_term *t = &p->terms[i];
			t->exprs = nsel_reqs_parse(json_object_get(x, "matchExpressions"), false,
						   &t->nexprs);
			t->fields =
			    nsel_reqs_parse(json_object_get(x, "matchFields"), true, &t->nfields);
		}
	}

	json_t *tols = json_object_get(spec, "tolerations");
	p->ntols = json_array_size(tols);
	p->tols = xnew(struct sched_toleration, p->ntols ? p->ntols : 1);
	json_array_foreach(tols, i, x)
	{
		struct sched_toleration *t = &p->tols[i];
		const char *op = json_get_str(x, "operator");
		t->key = xstrdup(str_or_empty_json(x, "key"));
		t->value = xstrdup(str_or_empty_json(x, "value"));
		t->op = isempty(op) || streq(op, "Equal") ? TOL_EQUAL
			: streq(op, "Exists")		  ? TOL_EXISTS
							  : TOL_INVALID;
		t->effect = taint_effect_parse(json_get_str(x, "effect"));
	}

	p->ports = pod_host_ports(pod, &p->nports);

	json_array_foreach(json_get(pod, "status.conditions"), i, x)
	{
		if (!streq_ptr(json_get_str(x, "type"), "PodScheduled"))
			continue;
		p->cond_status = dup_str(x, "status");
		p->cond_reason = dup_str(x, "reason");
		p->cond_message = dup_str(x, "message");
		p->cond_transition = dup_str(x, "lastTransitionTime");
		break;
	}
	p->fingerprint = hash_json(json_object_get(spec, "schedulingGates"),
				   hash_json(tols, 1469598103934665603ULL));
}

void sched_pod_release(struct sched_pod *p)
{
	if (!p)
		return;
	free(p->ns);
	free(p->name);
	free(p->uid);
	free(p->owner_uid);
	free(p->node_selector);
	for (size_t i = 0; i < p->nterms; i++) {
		for (size_t k = 0; k < p->terms[i].nexprs; k++)
			nsel_req_release(&p->terms[i].exprs[k]);
		for (size_t k = 0; k < p->terms[i].nfields; k++)
			nsel_req_release(&p->terms[i].fields[k]);
		free(p->terms[i].exprs);
		free(p->terms[i].fields);
	}
	free(p->terms);
	for (size_t i = 0; i < p->ntols; i++) {
		free(p->tols[i].key);
		free(p->tols[i].value);
	}
	free(p->tols);
	free(p->ports);
	free(p->cond_status);
	free(p->cond_reason);
	free(p->cond_message);
	free(p->cond_transition);
	*p = (struct sched_pod){ 0 };
}

/* ---- filters ---- */

/* Kubernetes' Toleration.ToleratesTaint. */
static bool toleration_matches(const struct sched_toleration *t, const char *key, const char *value,
			       enum taint_effect effect)
{
	if (t->effect != EFFECT_ALL && t->effect != effect)
		return false;
	if (*t->key && !streq(t->key, key))
		return false;
	switch (t->op) {
	case TOL_EXISTS:
		return true;
	case TOL_EQUAL:
		return streq(t->value, value);
	case TOL_INVALID:
		break;
	}
	return false;
}

bool pod_tolerates(const struct sched_pod *p, const char *key, const char *value,
		   enum taint_effect effect)
{
	for (size_t i = 0; i < p->ntols; i++)
		if (toleration_matches(&p->tols[i], key, value, effect))
			return true;
	return false;
}

static bool selector_matches(const char *want, const char *labels)
{
	while (*want) {
		const char *k = want;
		const char *v = k + strlen(k) + 1;
		const char *have = packed_labels_get(labels, k);
		if (!have || !streq(have, v))
			return false;
		want = v + strlen(v) + 1;
	}
	return true;
}

static bool affinity_matches(const struct sched_pod *p, const struct snode *n)
{
	if (p->node_selector && !selector_matches(p->node_selector, n->labels))
		return false;
	if (!p->has_affinity)
		return true;
	for (size_t i = 0; i < p->nterms; i++)
		if (nsel_term_matches(&p->terms[i], n->labels, n->name))
			return true;
	return false;
}

static bool ports_free(const struct sched_pod *p, const struct snode *n)
{
	for (size_t i = 0; i < p->nports; i++)
		for (size_t k = 0; k < n->nports; k++)
			if (host_ports_conflict(&p->ports[i], &n->ports[k].hp))
				return false;
	return true;
}

struct fit sched_filter(const struct sched_pod *p, const struct snode *n)
{
	struct fit f = { FIT_OK, 0, 0 };

	if (n->unschedulable && !pod_tolerates(p, TAINT_UNSCHEDULABLE, "", EFFECT_NO_SCHEDULE)) {
		f.code = FIT_UNSCHEDULABLE;
		return f;
	}
	for (size_t i = 0; i < n->ntaints; i++) {
		const struct sched_taint *t = &n->taints[i];
		if (t->effect != EFFECT_NO_SCHEDULE && t->effect != EFFECT_NO_EXECUTE)
			continue;
		if (!pod_tolerates(p, t->key, t->value, t->effect)) {
			f.code = FIT_TAINT;
			f.taint = (uint32_t)i;
			return f;
		}
	}
	/* kube-scheduler leaves readiness to the not-ready and unreachable
	 * taints the node lifecycle controller adds; a pod that tolerates
	 * those may also go to a node that is not (yet) tainted. */
	if (!n->ready && !pod_tolerates(p, n->ready_unknown ? TAINT_UNREACHABLE : TAINT_NOT_READY,
					"", EFFECT_NO_SCHEDULE)) {
		f.code = FIT_NOT_READY;
		return f;
	}
	if (!affinity_matches(p, n)) {
		f.code = FIT_AFFINITY;
		return f;
	}
	if (p->nports && n->nports && !ports_free(p, n)) {
		f.code = FIT_PORTS;
		return f;
	}
	if (n->npods + 1 > n->alloc_pods)
		f.res |= FIT_NO_PODS;
	if (p->cpu > 0 && p->cpu > n->alloc_cpu - n->req_cpu)
		f.res |= FIT_NO_CPU;
	if (p->mem > 0 && p->mem > n->alloc_mem - n->req_mem)
		f.res |= FIT_NO_MEMORY;
	if (f.res)
		f.code = FIT_RESOURCES;
	return f;
}

/* ---- scores ---- */

static int64_t free_share(int64_t requested, int64_t capacity)
{
	if (capacity <= 0 || requested > capacity)
		return 0;
	return (capacity - requested) * 100 / capacity;
}

int64_t score_least_requested(const struct sched_pod *p, const struct snode *n)
{
	return (free_share(n->nz_cpu + nonzero_cpu(p->cpu), n->alloc_cpu) +
		free_share(n->nz_mem + nonzero_memory(p->mem), n->alloc_mem)) /
	       2;
}

int32_t owner_count_on(const struct snode *n, const struct owner *owner)
{
	if (!owner)
		return 0;
	for (size_t i = 0; i < n->nowners; i++)
		if (n->owners[i].owner == owner)
			return n->owners[i].count;
	return 0;
}

int32_t prefer_no_schedule_count(const struct sched_pod *p, const struct snode *n)
{
	int32_t c = 0;
	for (size_t i = 0; i < n->ntaints; i++) {
		const struct sched_taint *t = &n->taints[i];
		if (t->effect == EFFECT_PREFER_NO_SCHEDULE &&
		    !pod_tolerates(p, t->key, t->value, t->effect))
			c++;
	}
	return c;
}

int64_t score_fewer_is_better(int64_t v, int64_t max)
{
	if (max <= 0)
		return 100;
	return 100 - v * 100 / max;
}

/* ---- the FailedScheduling message ---- */

void diagnosis_reset(struct diagnosis *d)
{
	memset(d->count, 0, sizeof(d->count));
	d->ntaints = 0;
	d->unresolvable = d->resolvable = 0;
}

void diagnosis_release(struct diagnosis *d)
{
	free(d->taints);
	*d = (struct diagnosis){ 0 };
}

static void add_taint(struct diagnosis *d, const struct sched_taint *t)
{
	for (size_t i = 0; i < d->ntaints; i++) {
		if (streq(d->taints[i].key, t->key) && streq(d->taints[i].value, t->value)) {
			d->taints[i].count++;
			return;
		}
	}
	if (d->ntaints == d->ataints) {
		d->ataints = d->ataints ? d->ataints * 2 : 8;
		d->taints = xrealloc(d->taints, d->ataints * sizeof(*d->taints));
	}
	d->taints[d->ntaints++] = (struct diag_taint){ t->key, t->value, 1 };
}

void diagnosis_add(struct diagnosis *d, const struct snode *n, struct fit f)
{
	switch (f.code) {
	case FIT_OK:
		return;
	case FIT_UNSCHEDULABLE:
		d->count[DIAG_UNSCHEDULABLE]++;
		break;
	case FIT_TAINT:
		add_taint(d, &n->taints[f.taint]);
		break;
	case FIT_NOT_READY:
		d->count[DIAG_NOT_READY]++;
		break;
	case FIT_AFFINITY:
		d->count[DIAG_AFFINITY]++;
		break;
	case FIT_PORTS:
		d->count[DIAG_PORTS]++;
		break;
	case FIT_RESOURCES:
		if (f.res & FIT_NO_PODS)
			d->count[DIAG_PODS]++;
		if (f.res & FIT_NO_CPU)
			d->count[DIAG_CPU]++;
		if (f.res & FIT_NO_MEMORY)
			d->count[DIAG_MEMORY]++;
		break;
	}
	/* What kube-scheduler calls UnschedulableAndUnresolvable: removing
	 * pods from the node would not help. */
	if (f.code == FIT_PORTS || f.code == FIT_RESOURCES)
		d->resolvable++;
	else
		d->unresolvable++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ", "-joined "<count> <reason>" entries, sorted as strings (as Go's
 * sort.Strings orders kube-scheduler's histogram). */
static void add_histogram(struct strbuf *sb, char **entries, size_t n)
{
	qsort(entries, n, sizeof(*entries), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addstr(sb, ", ");
		strbuf_addstr(sb, entries[i]);
		free(entries[i]);
	}
}

char *diagnosis_message(const struct diagnosis *d, size_t nnodes, const struct sched_pod *p)
{
	static const char *const reasons[DIAG_N] = {
		[DIAG_UNSCHEDULABLE] = "node(s) were unschedulable",
		[DIAG_NOT_READY] = "node(s) were not ready",
		[DIAG_AFFINITY] = "node(s) didn't match Pod's node affinity/selector",
		[DIAG_PORTS] = "node(s) didn't have free ports for the requested pod ports",
		[DIAG_PODS] = "Too many pods",
		[DIAG_CPU] = "Insufficient cpu",
		[DIAG_MEMORY] = "Insufficient memory",
	};
	if (nnodes == 0)
		return xstrdup("no nodes available to schedule pods");

	struct strbuf sb = STRBUF_INIT;
	char **e = xnew(char *, DIAG_N + d->ntaints + 2);
	size_t n = 0;
	strbuf_addf(&sb, "0/%zu nodes are available", nnodes);
	for (size_t i = 0; i < DIAG_N; i++)
		if (d->count[i])
			e[n++] = xasprintf("%zu %s", d->count[i], reasons[i]);
	for (size_t i = 0; i < d->ntaints; i++)
		e[n++] = xasprintf("%zu node(s) had untolerated taint {%s: %s}", d->taints[i].count,
				   d->taints[i].key, d->taints[i].value);
	if (n) {
		strbuf_addstr(&sb, ": ");
		add_histogram(&sb, e, n);
	}
	strbuf_addstr(&sb, ".");

	/* There is no preemption yet; say what kube-scheduler's would find
	 * when no pod has a lower priority. */
	if (p && p->preempt_never) {
		strbuf_addstr(&sb, " preemption: not eligible due to preemptionPolicy=Never.");
	} else {
		n = 0;
		if (d->unresolvable)
			e[n++] = xasprintf("%zu Preemption is not helpful for scheduling",
					   d->unresolvable);
		if (d->resolvable)
			e[n++] = xasprintf("%zu No preemption victims found for incoming pod",
					   d->resolvable);
		if (n) {
			strbuf_addf(&sb, " preemption: 0/%zu nodes are available: ", nnodes);
			add_histogram(&sb, e, n);
			strbuf_addstr(&sb, ".");
		}
	}
	free(e);
	return strbuf_detach(&sb, NULL);
}
