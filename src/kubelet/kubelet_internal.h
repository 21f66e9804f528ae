/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node agent's internals, shared by kubelet.c (life cycle, informers,
 * exits, probes, streaming backend), node.c (Node and Lease), pods.c (the
 * per-pod sync) and status.c (pods/status).
 *
 * State kept per pod is small: identity, sandbox paths, pod IP and, per
 * container, the current and previous instance (runtime id, attempt,
 * times, exit). It is also written to <root-dir>/pods/<uid>/state.json so
 * that a restarted agent adopts what runs.
 */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kubelet/kubelet.h"
#include "lib/avl.h"
#include "net/cni.h"
#include "runtime/sandbox.h"

#define KUBELET_VERSION "v1.32.0"
#define BACKOFF_INITIAL (10LL * 1000000)
#define BACKOFF_MAX	(300LL * 1000000)

struct kclient;
struct informer;
struct workqueue;
struct event_recorder;
struct image_store;
struct oci_runtime;
struct prober;
struct stream_server;

struct kinst {
	char *id;	  /* runtime id; NULL: no instance */
	int attempt;	  /* 0, 1, ... */
	int64_t started;  /* realtime usec; 0 until started */
	int64_t finished; /* realtime usec when exited */
	bool exited;
	int exit_code;
	bool oom;
	char *log_path;
};

struct kctr {
	char *name;
	bool init;
	struct kinst cur, prev;
	int restart_count;
	int64_t backoff;	  /* next restart delay (usec) */
	int64_t pull_backoff;	  /* next image pull delay */
	uint64_t not_before;	  /* monotonic: no restart before (crash back-off) */
	uint64_t pull_not_before; /* monotonic: no pull before (image pull back-off) */
	uint64_t pull_failed_at;  /* monotonic: the last failed pull */
	uint64_t err_not_before;  /* monotonic: no new try after a create error before */
	bool backoff_set;	  /* not_before computed for the current exit */
	char *reason, *message;	  /* waiting reason (ErrImagePull, CrashLoopBackOff, ...) */
	char *image_id;		  /* resolved imageID */
	char *pull_err;		  /* the last failed pull's message */
	int stop_signal;
	uint64_t kill_deadline; /* monotonic: SIGKILL after; 0: not stopping */
	atomic_bool liveness_failed;
	bool tty;
};

struct kpod {
	struct avl_node by_key;
	char *key, *uid, *ns, *name;
	bool have_sb;
	struct sandbox sb;
	char *pod_ip;
	bool host_network;
	struct kctr *ctrs; /* init containers first */
	size_t nctrs, ninit;
	uint64_t status_hash;
	bool terminating;
	uint64_t term_deadline; /* monotonic */
	bool torn_down;		/* sandbox and network released (pod done) */
	bool failed_init;	/* an init container failed for good */
	int64_t start_time;	/* realtime usec */
	bool sb_ready;		/* sandbox + network ready */
	char *sb_error;		/* why not */
	bool adopted;		/* loaded from disk: check instances fully once */
};

struct kubelet {
	struct kubelet_opts o;
	char *node_name, *node_ip, *hostname;
	char *data_dir, *root_dir, *pods_dir, *logs_dir, *cni_dir, *images_dir, *oci_dir;
	struct kclient *c;
	struct informer *pods_inf;
	struct workqueue *podq;
	struct event_recorder *events;
	struct image_store *images;
	struct oci_runtime *rt;
	struct prober *prober;
	struct stream_server *stream;

	pthread_mutex_t mu; /* the pods tree and every kpod's instance ids */
	struct avl_tree pods;

	pthread_mutex_t cidr_mu;
	char *pod_cidr; /* spec.podCIDR once known */
	struct cni_config cni;

	/* node.c */
	pthread_t node_thread;
	bool node_running;
	pthread_mutex_t node_mu;
	pthread_cond_t node_cond;
	atomic_bool stopping;
	char boot_id[37];
	int64_t start_usec;

	/* exits and delays */
	pthread_t exits_thread;
	bool exits_running;
	int exits_fd;
	int stop_pipe[2];
};

/* netjob.c: a pod's CNI ADD in a helper thread. A job must be joined, once;
 * the join returns cni_add's result, *ret_ip or *ret_err (owned by the
 * caller) and the time the plugins took. */
struct netjob;
struct netjob *netjob_start(const struct cni_config *cfg, const char *pod_cidr, const char *uid,
			    const char *netns, json_t *port_mappings);
int netjob_join(struct netjob *j, char **ret_ip, char **ret_err, uint64_t *ret_usec);

/* kubelet.c */
struct kpod *kubelet_find_pod_locked(struct kubelet *k, const char *key);
struct kpod *kubelet_find_pod_uid_locked(struct kubelet *k, const char *uid);
void kpod_free(struct kpod *p);
int kpod_save(struct kubelet *k, struct kpod *p);
/* struct probe_exec's run: argv in a container through oci_exec. */
int kubelet_probe_exec(void *ud, const char *id, char *const *argv, int timeout_s, int *ret_code,
		       char **ret_output);
/* configmaps / secrets through the API (struct kubelet_lookup's get). */
json_t *kubelet_get_object(struct kubelet *k, const char *resource, const char *ns,
			   const char *name, char **ret_err);

/* node.c */
int node_start(struct kubelet *k);
void node_stop(struct kubelet *k);
char *node_pod_cidr(struct kubelet *k);

/* pods.c */
int pod_sync(const char *key, void *userdata);
/* Whether c's exited current instance is to be restarted (restartPolicy). */
bool kctr_wants_restart(json_t *pod, const struct kctr *c);
/* Adopt the pods recorded under <root-dir>/pods (before the informers start). */
void pods_adopt(struct kubelet *k);
/* Remove containers the runtime knows that no pod claims. */
void pods_remove_orphans(struct kubelet *k);

/* status.c */
/* The pod's status for pods/status (a new reference). */
json_t *pod_status_build(struct kubelet *k, struct kpod *p, json_t *pod);
/* Write it if it changed since the last write. */
int pod_status_update(struct kubelet *k, struct kpod *p, json_t *pod);
/* Refresh a running instance: exited? with which code? */
void kinst_refresh(struct kubelet *k, struct kinst *in);
