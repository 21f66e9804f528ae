/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Controllers: each keeps one kind of object the way its spec says. They
 * follow Kubernetes' pattern: informer handlers only enqueue keys
 * ("ns/name"); workers call one sync function per key that re-reads the
 * informer cache and reconciles idempotently through the API; failures are
 * retried with back-off (client/workqueue.h).
 *
 * The controller manager (manager.c) runs them in `c8s server` once this
 * process holds the controller-manager Lease (several servers: one leader).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct kclient;
struct informer_factory;
struct event_recorder;

struct controller_opts {
	int workers; /* per controller (default 4) */
	/* Node lifecycle (Kubernetes' flag names). */
	int64_t node_monitor_period_usec;	/* --node-monitor-period, default 1s */
	int64_t node_monitor_grace_period_usec; /* --node-monitor-grace-period, default 8s */
	int64_t node_startup_grace_period_usec; /* --node-startup-grace-period, default 30s */
	/* Node IPAM. */
	const char *cluster_cidr; /* --cluster-cidr, default 10.42.0.0/16 */
	int node_cidr_mask_size;  /* --node-cidr-mask-size, default 24 */
	/* ServiceLB: LoadBalancer addresses (IPv4, at most a /16). */
	const char *service_lb_cidr; /* --service-lb-cidr, default 10.44.0.0/24 */
};

struct controller_ctx {
	struct kclient *client;
	struct informer_factory *factory;
	struct event_recorder *events;
	const struct controller_opts *opts;
};

struct controller_ops {
	const char *name;
	/* Get the informers it needs from the factory and add handlers
	 * (before the factory starts). Returns its state, or NULL on error. */
	void *(*init)(struct controller_ctx *ctx);
	/* Informers are synced: start the workers. */
	int (*run)(void *state);
	/* Stop the workers and free the state. */
	void (*stop)(void *state);
};

extern const struct controller_ops replicaset_controller;
extern const struct controller_ops deployment_controller;
extern const struct controller_ops nodelifecycle_controller;
extern const struct controller_ops garbage_collector;
extern const struct controller_ops nodeipam_controller;
extern const struct controller_ops endpoints_controller;
extern const struct controller_ops endpointslice_controller;
extern const struct controller_ops servicelb_controller;

/* Default options. */
void controller_opts_default(struct controller_opts *o);

struct controller_manager;
/* Create every controller over the factory (handlers registered now). */
struct controller_manager *controller_manager_new(struct controller_ctx *ctx);
/* Start them (call after the factory has started and synced). */
int controller_manager_run(struct controller_manager *m);
void controller_manager_free(struct controller_manager *m);
