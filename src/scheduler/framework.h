/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler's decisions, without threads or I/O: what it keeps of a
 * pending pod (parsed once from its JSON), what it keeps of a node (its
 * Node fields plus aggregates of the pods bound or assumed there), the
 * filters and scores, and the FailedScheduling message. Kubernetes'
 * kube-scheduler plugins are the model; their names are given below.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "scheduler/hmap.h"

struct cobj;

/* What kube-scheduler assumes of a container without requests, for
 * scoring only (filters use the real requests). The scheduler applies it
 * to a pod's totals. */
#define DEFAULT_MILLI_CPU_REQUEST 100
#define DEFAULT_MEMORY_REQUEST	  (200LL * 1024 * 1024)

static inline int64_t nonzero_cpu(int64_t milli)
{
	return milli ? milli : DEFAULT_MILLI_CPU_REQUEST;
}

static inline int64_t nonzero_memory(int64_t bytes)
{
	return bytes ? bytes : DEFAULT_MEMORY_REQUEST;
}

#define TAINT_UNSCHEDULABLE "node.kubernetes.io/unschedulable"
#define TAINT_NOT_READY	    "node.kubernetes.io/not-ready"
#define TAINT_UNREACHABLE   "node.kubernetes.io/unreachable"

enum taint_effect {
	EFFECT_ALL = 0, /* a toleration without effect tolerates every effect */
	EFFECT_NO_SCHEDULE,
	EFFECT_PREFER_NO_SCHEDULE,
	EFFECT_NO_EXECUTE,
	EFFECT_UNKNOWN,
};

/* "" -> EFFECT_ALL, unknown strings -> EFFECT_UNKNOWN. */
enum taint_effect taint_effect_parse(const char *s);

struct sched_taint {
	const char *key, *value; /* borrowed from the Node's node_info */
	enum taint_effect effect;
};

enum toleration_op { TOL_EQUAL, TOL_EXISTS, TOL_INVALID };

struct sched_toleration {
	char *key; /* "" matches every key */
	char *value;
	enum toleration_op op;
	enum taint_effect effect;
};

enum { PROTO_TCP, PROTO_UDP, PROTO_SCTP };

/* A host port a pod takes: port, protocol and host IP (any_ip for "" and
 * 0.0.0.0, which conflict with every address). */
struct host_port {
	int32_t port;
	uint8_t proto;
	bool any_ip;
	uint8_t ip[16];
};

/* From a ContainerPort's hostPort, protocol ("" is TCP) and hostIP. False
 * when port is not a host port. */
bool host_port_make(int64_t port, const char *proto, const char *ip, struct host_port *ret);
bool host_port_equal(const struct host_port *a, const struct host_port *b);
bool host_ports_conflict(const struct host_port *a, const struct host_port *b);
/* The host ports of a pod's containers (malloc'd array, NULL when none). */
struct host_port *pod_host_ports(json_t *pod, size_t *ret_n);

/* A NodeSelectorRequirement of required node affinity. */
enum nsel_op {
	NSEL_IN,
	NSEL_NOT_IN,
	NSEL_EXISTS,
	NSEL_DOES_NOT_EXIST,
	NSEL_GT,
	NSEL_LT,
	NSEL_INVALID, /* an operator or operand Kubernetes rejects: matches nothing */
};

struct nsel_req {
	char *key;
	enum nsel_op op;
	char **values;
	size_t nvalues;
	int64_t num; /* the operand of Gt and Lt */
};

/* A NodeSelectorTerm: every expression (on labels) and every field (on
 * metadata.name) must hold; a term with neither matches no node. */
struct nsel_term {
	struct nsel_req *exprs;
	size_t nexprs;
	struct nsel_req *fields;
	size_t nfields;
};

bool nsel_term_matches(const struct nsel_term *t, const char *labels, const char *node_name);

/* A pending pod, as the scheduler decides on it. */
struct sched_pod {
	char *ns, *name, *uid;
	char *owner_uid;  /* the controller ownerReference's uid, or NULL */
	int64_t cpu, mem; /* requests: milli-cpu, bytes */
	int32_t priority;
	bool preempt_never;  /* spec.preemptionPolicy: Never */
	bool gated;	     /* spec.schedulingGates is not empty: not scheduled yet */
	char *node_selector; /* packed k\0v\0...\0, NULL when none */
	bool has_affinity;   /* required node affinity given: some term must match */
	struct nsel_term *terms;
	size_t nterms;
	struct sched_toleration *tols;
	size_t ntols;
	struct host_port *ports;
	size_t nports;
	/* The PodScheduled condition the pod has (NULL when none). */
	char *cond_status, *cond_reason, *cond_message, *cond_transition;
	/* Hash of the mutable fields that decide (tolerations, scheduling
	 * gates): a change re-queues an unschedulable pod. */
	uint64_t fingerprint;
};

void sched_pod_parse(json_t *pod, struct sched_pod *ret);
void sched_pod_release(struct sched_pod *p);
bool pod_tolerates(const struct sched_pod *p, const char *key, const char *value,
		   enum taint_effect effect);

struct owner; /* an interned controller uid (cache.h) */

struct port_use {
	struct host_port hp;
	int32_t count;
};

struct owner_count {
	const struct owner *owner;
	int32_t count;
};

/* A node as the scheduler sees it. */
struct snode {
	struct hmap_node hn;
	char *name;
	bool present;	    /* a Node object exists; else only pods name it */
	size_t idx;	    /* position in the cache's node list when present */
	struct cobj *obj;   /* the Node, keeping labels and taint strings alive */
	bool ready;	    /* Ready condition True */
	bool ready_unknown; /* Ready condition Unknown (unreachable) */
	bool unschedulable; /* spec.unschedulable (cordoned) */
	int64_t alloc_cpu, alloc_mem, alloc_pods;
	const char *labels; /* packed */
	struct sched_taint *taints;
	size_t ntaints;
	/* The pods bound or assumed here. */
	int64_t req_cpu, req_mem; /* requests */
	int64_t nz_cpu, nz_mem;	  /* requests with defaults for zero, for scoring */
	int64_t npods;
	struct port_use *ports;
	size_t nports, aports;
	struct owner_count *owners;
	size_t nowners, aowners;
};

/* Why a node does not fit a pod: the first filter that fails, in
 * kube-scheduler's order (NodeUnschedulable, TaintToleration, node
 * readiness, NodeAffinity, NodePorts, NodeResourcesFit). */
enum fit_code {
	FIT_OK = 0,
	FIT_UNSCHEDULABLE,
	FIT_TAINT,
	FIT_NOT_READY,
	FIT_AFFINITY,
	FIT_PORTS,
	FIT_RESOURCES,
};

/* FIT_RESOURCES names every resource short. */
enum { FIT_NO_PODS = 1, FIT_NO_CPU = 2, FIT_NO_MEMORY = 4 };

struct fit {
	uint8_t code;
	uint8_t res;	/* FIT_NO_* for FIT_RESOURCES */
	uint32_t taint; /* index of the untolerated taint for FIT_TAINT */
};

struct fit sched_filter(const struct sched_pod *p, const struct snode *n);

/* Scores, each 0..100 before weighting. */
/* NodeResourcesFit, LeastAllocated: free share of cpu and memory once the
 * pod is there, averaged. */
int64_t score_least_requested(const struct sched_pod *p, const struct snode *n);
/* Pods of owner on n (assumed ones included). */
int32_t owner_count_on(const struct snode *n, const struct owner *owner);
/* Untolerated PreferNoSchedule taints of n. */
int32_t prefer_no_schedule_count(const struct sched_pod *p, const struct snode *n);
/* Normalize v of max to 0..100, fewer is better (kube-scheduler's
 * DefaultNormalizeScore, reversed). */
int64_t score_fewer_is_better(int64_t v, int64_t max);

#define WEIGHT_RESOURCES 1
#define WEIGHT_SPREAD	 2
#define WEIGHT_TAINTS	 3

/* Why a pod fits nowhere: how many nodes failed for each reason. */
struct diag_taint {
	const char *key, *value; /* borrowed from the nodes, valid while they are */
	size_t count;
};

enum {
	DIAG_UNSCHEDULABLE,
	DIAG_NOT_READY,
	DIAG_AFFINITY,
	DIAG_PORTS,
	DIAG_PODS,
	DIAG_CPU,
	DIAG_MEMORY,
	DIAG_N,
};

struct diagnosis {
	size_t count[DIAG_N];
	struct diag_taint *taints;
	size_t ntaints, ataints;
	size_t unresolvable; /* nodes that preemption could not help */
	size_t resolvable;
};

void diagnosis_reset(struct diagnosis *d);
void diagnosis_release(struct diagnosis *d);
void diagnosis_add(struct diagnosis *d, const struct snode *n, struct fit f);
/* The FailedScheduling message for nnodes nodes, as kube-scheduler words it:
 * "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient
 * cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for
 * scheduling, 2 No preemption victims found for incoming pod." */
char *diagnosis_message(const struct diagnosis *d, size_t nnodes, const struct sched_pod *p);
