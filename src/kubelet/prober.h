/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Container probes (liveness, readiness, startup) and lifecycle hook handlers,
 * as the kubelet runs them: httpGet, tcpSocket and exec (grpc is refused with a
 * clear failure). Network probes connect from inside the pod's network
 * namespace. The prober runs every probe from one thread with a timer heap.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum probe_type { PROBE_LIVENESS, PROBE_READINESS, PROBE_STARTUP };
enum probe_result { PROBE_UNKNOWN = 0, PROBE_SUCCESS, PROBE_FAILURE };

struct probe_exec {
	void *ud;
	/* Run argv in the container with a timeout; 0 and the exit code in
	 * *ret_code, or a negative errno. The core implements it with oci_exec. */
	int (*run)(void *ud, const char *container_id, char *const *argv, int timeout_s,
		   int *ret_code, char **ret_output);
};

struct probe_target {
	const char *netns;	  /* pod network namespace path */
	const char *pod_ip;	  /* default host for httpGet/tcpSocket */
	const char *container_id; /* for exec */
	const json_t *container;  /* for named ports */
};

/* Run one handler once (probe: httpGet, tcpSocket, exec, grpc unsupported ->
 * failure with a message; timeout_s). Also used for lifecycle hooks
 * postStart/preStop (httpGet, exec, sleep) with probe_handler_run. */
enum probe_result probe_run_once(const json_t *probe, const struct probe_target *t,
				 const struct probe_exec *ex, int timeout_s, char **ret_msg);
/* probe_run_once: *ret_msg is the failure message (Kubernetes' wording, e.g.
 * "HTTP probe failed with statuscode: 500", or the exec command's output),
 * or NULL on success (or a warning such as "Probe terminated redirects..."),
 * caller frees. timeout_s <= 0: 1. Both block (up to timeout_s): call them
 * off the event loop.
 * probe_handler_run: 0, or a negative errno with *ret_msg (-ETIMEDOUT on
 * timeout); an HTTP answer of any status succeeds (as the kubelet's
 * handlers); sleep lasts MIN(seconds, timeout_s); timeout_s <= 0: none. */
int probe_handler_run(const json_t *handler, const struct probe_target *t,
		      const struct probe_exec *ex, int timeout_s, char **ret_msg);

struct prober;

/* Called (from the prober's thread) when a container's thresholded result
 * changes, and on each failure with its message (for Unhealthy events).
 * result is always the thresholded result (what prober_get returns now);
 * msg is non-NULL exactly when this run failed (so liveness with
 * failureThreshold 3 calls (SUCCESS, msg), (SUCCESS, msg), (FAILURE, msg);
 * then that probe holds until the next prober_add). msg is the raw message:
 * the core prefixes "Liveness probe failed: ". Callbacks run on the prober's
 * worker threads (at most 4: several may run at once) and may call prober_*.
 * Once prober_remove/_remove_pod/_add (replacing) returns, no callback about
 * the old instance runs any more: these wait for one in progress (unless
 * called from a callback), so never call them holding a lock that changed()
 * takes. */
struct prober_callbacks {
	void *ud;
	void (*changed)(void *ud, const char *pod_uid, const char *container, enum probe_type,
			enum probe_result result, const char *msg);
};

int prober_new(const struct probe_exec *ex, const struct prober_callbacks *cb, struct prober **ret);
/* Stops the workers, waiting for probes in flight (up to their timeouts). */
void prober_free(struct prober *p);

/* Start probing a container instance (started_at: monotonic usec when it
 * started); replaces a previous instance of the same container. Probes
 * honour initialDelaySeconds, periodSeconds, timeoutSeconds,
 * successThreshold, failureThreshold; liveness and readiness wait until
 * startup succeeded. Readiness starts as FAILURE (not ready) when a readiness
 * probe exists; a container without a probe of that type is SUCCESS. */
int prober_add(struct prober *p, const char *pod_uid, const char *container_name,
	       const json_t *container, const struct probe_target *t, int64_t started_at);
void prober_remove(struct prober *p, const char *pod_uid, const char *container_name);
void prober_remove_pod(struct prober *p, const char *pod_uid);
enum probe_result prober_get(struct prober *p, const char *pod_uid, const char *container_name,
			     enum probe_type type);
