/* SPDX-License-Identifier: Apache-2.0 */
/* The API server process: options and shared state. */
#pragma once

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "apiserver/certs.h"
#include "lib/macro.h"

struct store;
struct cache;
struct MHD_Daemon;
struct watch_hub;
struct allocators;
struct recorder;
struct proxy;
struct resource;

struct apiserver_opts {
	const char *data_dir;
	const char *bind_address;
	int secure_port;
	const char **tls_sans; /* NULL-terminated */
	const char *write_kubeconfig;
	const char *datastore; /* store location; default sqlite under data_dir */
	int64_t compaction_interval_usec;
	int threads;
	size_t max_body;
	const char *service_cidr;
	const char *service_node_port_range;
	const char *advertise_address;
	const char *cluster_dns; /* ClusterIP of kube-system/kube-dns */
	int64_t event_ttl_usec;
	int64_t default_not_ready_toleration_seconds;
	int64_t default_unreachable_toleration_seconds;
};

struct apiserver {
	struct apiserver_opts opts;
	struct store *store;
	struct cache *cache;
	struct certs certs;
	char *admin_token;
	char *node_token;	 /* the full join token: K10<ca sha256>::node:<secret> */
	char *node_token_secret; /* its secret part */
	char *server_url;
	struct MHD_Daemon *mhd;
	struct MHD_Daemon *mhd_local; /* plain HTTP on local_socket, or NULL */
	char *local_socket;	      /* <data-dir>/api.sock: this process's components */
	struct watch_hub *hub;
	struct allocators *alloc;
	struct recorder *recorder;
	struct proxy *proxy; /* connections to node agents (proxy.c) */
	pthread_t compactor;
	pthread_t nsdeleter;
	pthread_mutex_t bg_mu;
	pthread_cond_t bg_cond;
	bool stopping;
	bool ns_dirty;
	uint64_t start_usec;
};

/* What `c8s server` runs beside the API server (see src/components.h);
 * the API server itself knows nothing of them. */
struct flag;
struct server_env {
	const char *server_url;
	const char *unix_socket; /* plain HTTP local listener (server_url is then
				  * http://localhost), or NULL */
	const char *ca_file;
	const char *token;
	const char *identity;
};
struct server_hooks {
	const struct flag *extra_flags; /* NULL-terminated table, or NULL */
	int (*start)(const struct server_env *env, void **ret);
	void (*stop)(void *state);
};

int apiserver_main(int argc, char **argv, const struct server_hooks *hooks);

/* Wake the namespace deleter (a namespace entered Terminating). */
void apiserver_kick_namespaces(struct apiserver *srv);
void nsdeleter_start(struct apiserver *srv);
/* Events the API server records itself (recorder.c). */
int recorder_start(struct apiserver *srv);
void recorder_stop(struct apiserver *srv);
void recorder_created(struct apiserver *srv, const struct resource *res, json_t *obj,
		      const char *user);
/* After srv->stopping is set and bg_cond broadcast. */
void nsdeleter_stop(struct apiserver *srv);
