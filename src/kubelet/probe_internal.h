/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by prober.c (scheduling) and probe_handlers.c (running one
 * handler), and visible to tests/unit/test_prober.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "kubelet/prober.h"

enum probe_kind {
	PROBE_KIND_NONE,
	PROBE_KIND_HTTP,
	PROBE_KIND_TCP,
	PROBE_KIND_EXEC,
	PROBE_KIND_GRPC,
	PROBE_KIND_SLEEP
};

/* A handler (probe or lifecycle hook) parsed once from its JSON, so that
 * periodic runs need no JSON and little allocation. */
struct probe_spec {
	enum probe_kind kind;
	char *error; /* the handler cannot run: each run fails with this message */
	char *host;  /* httpGet/tcpSocket host, NULL: the pod IP */
	int port;    /* resolved (named ports looked up in the container) */
	bool https;
	char *path;	 /* httpGet path, starts with '/' */
	char **headers;	 /* httpGet headers as "Name: value" (NULL-terminated) */
	char **argv;	 /* exec command (NULL-terminated) */
	int64_t sleep_s; /* sleep action */
};

/* Never fails: a bad handler gets spec->error. lifecycle: a hook handler
 * (sleep allowed, tcpSocket and grpc refused) rather than a probe. */
void probe_spec_parse(const json_t *handler, const json_t *container, bool lifecycle,
		      struct probe_spec *ret);
void probe_spec_release(struct probe_spec *s);
/* Run once: 0 on success (*ret_msg may hold a warning, else NULL), or a
 * negative errno with the failure message in *ret_msg. hook: an HTTP answer of
 * any status succeeds (as the kubelet's lifecycle handlers); timeout_s <= 0
 * means no timeout. */
int probe_spec_run(const struct probe_spec *s, const struct probe_target *t,
		   const struct probe_exec *ex, int timeout_s, bool hook, char **ret_msg);

/* A socket of the network namespace at netns (NULL/"": the caller's), made by
 * a short-lived thread that setns()es into it: no other thread ever changes
 * namespace. Returns the fd (O_CLOEXEC, plus flags in type) or a negative
 * errno with *ret_err. */
int probe_netns_socket(const char *netns, int domain, int type, int protocol, char **ret_err);

/* Test only: microseconds per "second" of initialDelaySeconds and
 * periodSeconds (timeouts are real seconds). Default 1000000. */
extern int64_t prober_second_usec;
