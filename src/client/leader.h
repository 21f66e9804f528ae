/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Leader election through a coordination.k8s.io/v1 Lease, as Kubernetes'
 * controller manager and scheduler do it: the holder renews the lease
 * every retry period; others take it over once it has not been renewed for
 * its duration.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct kclient;
struct leader_elector;

struct leader_opts {
	const char *ns;       /* "kube-system" */
	const char *name;     /* the lease */
	const char *identity; /* this candidate */
	int64_t lease_duration_usec; /* default 15 s */
	int64_t retry_usec;          /* default 2 s */
	void (*started_leading)(void *userdata);
	void (*stopped_leading)(void *userdata);
	void *userdata;
};

struct leader_elector *leader_start(struct kclient *c, const struct leader_opts *opts);
bool leader_is_leader(struct leader_elector *le);
/* Stop; releases the lease if held. */
void leader_stop(struct leader_elector *le);
