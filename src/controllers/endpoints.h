/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the Endpoints and EndpointSlice controllers compute, as pure
 * functions over parsed objects (unit-tested in tests/unit/test_endpoints.c),
 * and the Service selector index both controllers use to map a pod to the
 * Services selecting it.
 *
 * The spec is Kubernetes' pkg/controller/endpoint and
 * pkg/controller/endpointslice (with staging/.../endpointslice/util).
 */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "lib/avl.h"

#define EPS_LABEL_SERVICE_NAME "kubernetes.io/service-name"
#define EPS_LABEL_MANAGED_BY   "endpointslice.kubernetes.io/managed-by"
#define EPS_MANAGER	       "endpointslice-controller.k8s.io"
#define EP_LABEL_HEADLESS      "service.kubernetes.io/headless"
#define EP_ANNOTATION_TRIGGER  "endpoints.kubernetes.io/last-change-trigger-time"
#define EPS_MAX_ENDPOINTS      100

/* The container port a Service port reaches on a pod: targetPort as a
 * number (or the port itself when targetPort is unset), or a named
 * targetPort looked up among the pod's containers' (and restartable init
 * containers') ports with the same protocol. Returns 0 when the pod has no
 * such port. */
int ep_resolve_port(json_t *svc_port, json_t *pod);

/* Whether the Service is headless (clusterIP None). */
bool ep_service_headless(json_t *svc);

/* Whether a pod is an endpoint at all: it has an IPv4 podIP, is not
 * Succeeded or Failed, and (unless include_terminating) is not being
 * deleted. */
bool ep_pod_eligible(json_t *pod, bool include_terminating);

/* The Ready condition of a pod is True. */
bool ep_pod_ready(json_t *pod);

/* The subsets of the Endpoints of svc over pods (the pods its selector
 * matches, in any order): one subset per group of ports reaching the same
 * addresses, addresses split into ready and not ready, sorted. New
 * reference; an empty array when nothing is left. */
json_t *ep_build_subsets(json_t *svc, json_t *const *pods, size_t npods);

/* The labels Endpoints and EndpointSlices of svc carry besides their own:
 * the Service's labels, plus service.kubernetes.io/headless for headless
 * Services. New reference. */
json_t *ep_labels(json_t *svc);

/* ---- EndpointSlices ---- */

/* The endpoint of a pod in svc's slices (addresses, conditions, hostname,
 * nodeName, targetRef), or NULL when the pod is not one. New reference. */
json_t *eps_endpoint(json_t *svc, json_t *pod);
/* The slice ports of a pod (the Service ports it has, resolved). New. */
json_t *eps_ports(json_t *svc, json_t *pod);

/* The identity of an endpoint across slices: address and pod uid. */
char *eps_endpoint_key(json_t *endpoint);
/* Canonical text of a ports array (the slice's port set). */
char *eps_ports_key(json_t *ports);

enum eps_op { EPS_CREATE, EPS_UPDATE, EPS_DELETE, EPS_KEEP };

struct eps_action {
	enum eps_op op;
	json_t *slice;	   /* the existing slice (borrowed), NULL for CREATE */
	json_t *ports;	   /* the slice's ports (new reference) */
	json_t *endpoints; /* its endpoints (new reference), NULL for DELETE */
};

struct eps_plan {
	struct eps_action *a;
	size_t n;
};

/*
 * Reconcile: desired endpoints of a Service (each paired with its ports,
 * arrays of the same length) against its existing slices. Endpoints stay
 * in the slice that holds them (updated in place when they changed), new
 * ones fill slices with room before new slices are made, slices left empty
 * are deleted, at most max endpoints a slice. With no endpoints at all one
 * empty slice is kept (or made). Every existing slice gets exactly one
 * action (KEEP when nothing of its endpoints or ports changes).
 */
void eps_reconcile(json_t *endpoints, json_t *ports, json_t *const *slices, size_t nslices,
		   size_t max, struct eps_plan *ret);
void eps_plan_release(struct eps_plan *p);

/* ---- Service selector index ---- */

struct svc_index {
	pthread_mutex_t mu;
	struct avl_tree tree; /* struct svc_entry by "ns/name" */
};

void svc_index_init(struct svc_index *x);
void svc_index_release(struct svc_index *x);
/* Record the selector of a Service (parsed object); no selector removes it. */
void svc_index_set(struct svc_index *x, const char *key, json_t *svc);
void svc_index_remove(struct svc_index *x, const char *key);
/* Call fn with the key of every Service in ns whose selector matches the
 * packed labels (lib/selector.h). fn runs under the index lock. */
void svc_index_match(struct svc_index *x, const char *ns, const char *packed_labels,
		     void (*fn)(const char *key, void *ud), void *ud);
/* Whether a Service's selector (a JSON map) matches packed labels. */
bool ep_selector_matches(json_t *selector, const char *packed_labels);

/* ---- change trigger times ----
 * Per Service key, the time of the first change not yet written out (the
 * endpoints.kubernetes.io/last-change-trigger-time annotation). */
struct trigger_times {
	pthread_mutex_t mu;
	struct avl_tree tree;
};
void trigger_times_init(struct trigger_times *t);
void trigger_times_release(struct trigger_times *t);
/* Note a change at usec (realtime) unless an earlier one is pending. */
void trigger_note(struct trigger_times *t, const char *key, int64_t usec);
/* The pending change time of key (0 if none), forgotten. */
int64_t trigger_take(struct trigger_times *t, const char *key);

/* ---- what both controllers share (endpoints_base.c) ----
 * The Service and pod informers with handlers that keep the selector
 * index and enqueue the key of every Service a change concerns. */
struct controller_ctx;
struct informer;
struct workqueue;

struct ep_base {
	const struct controller_ctx *ctx;
	struct informer *svcs, *pods;
	struct workqueue *q;
	struct svc_index idx;
	struct trigger_times trig;
	int workers;
};

void ep_base_init(struct ep_base *b, const struct controller_ctx *ctx, const char *name);
void ep_base_release(struct ep_base *b);
/* Queue a Service key, noting now as its change time. */
void ep_base_enqueue(struct ep_base *b, const char *key);
/* The parsed pods of ns that selector matches, ordered by name; free with
 * ep_pods_free. */
json_t **ep_base_pods(struct ep_base *b, const char *ns, json_t *selector, size_t *ret_n);
void ep_pods_free(json_t **pods, size_t n);
/* Format a trigger time (0: now) as the annotation value (buf >= 40). */
void ep_trigger_format(int64_t usec, char *buf);
