/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What components keep of the objects they watch: a small struct per pod
 * and per node, extracted once when the object arrives (informer.h), so
 * the scheduler and controllers decide without parsing JSON again. The
 * full object stays available as its JSON bytes (cobj_parse).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct owner_ref {
	char *api_version, *kind, *name, *uid;
};

struct pod_info {
	char *node_name;      /* "" when unscheduled */
	char *scheduler_name; /* spec.schedulerName */
	char *phase;          /* status.phase */
	char *reason;         /* status.reason */
	char *pod_ip;
	bool deleting;        /* metadata.deletionTimestamp is set */
	int64_t deletion_usec;
	int64_t creation_usec;
	bool ready;           /* Ready condition True */
	int64_t ready_since_usec;
	bool has_controller;
	struct owner_ref controller; /* the controller ownerReference */
	char *labels;         /* packed: k\0v\0...\0 (lib/selector.h) */
	int64_t req_cpu_milli; /* effective requests (max of sum and init containers) */
	int64_t req_memory;
	int32_t host_ports[8];
	int nhost_ports;
	int32_t restarts;
	bool terminal; /* phase Succeeded or Failed */
};

struct taint {
	char *key, *value, *effect;
	int64_t added_usec;
};

struct node_info {
	char *ready;          /* "True", "False", "Unknown" or "" */
	int64_t ready_transition_usec;
	int64_t ready_heartbeat_usec;
	bool unschedulable;
	int64_t alloc_cpu_milli, alloc_memory, alloc_pods;
	struct taint *taints;
	size_t ntaints;
	char *labels;         /* packed */
	char *pod_cidr;
	char *internal_ip;
};

/* informer_opts.extract / ext_free for pods and nodes. */
void *pod_info_extract(json_t *pod);
void pod_info_free(void *p);
void *node_info_extract(json_t *node);
void node_info_free(void *p);

/* The controller ownerReference of obj, or false. */
bool owner_controller(json_t *obj, struct owner_ref *ret);
void owner_ref_release(struct owner_ref *o);

/* Resource requests of a pod spec: sum over containers, at least the
 * largest init container (cpu in milli-units, memory in bytes). */
void pod_requests(json_t *spec, int64_t *ret_cpu_milli, int64_t *ret_memory);
