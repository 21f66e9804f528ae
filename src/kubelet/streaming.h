/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node agent's own HTTPS API, as the kubelet's: the API server forwards
 * `kubectl logs`, `exec`, `attach` and `port-forward` here (upgrading the
 * connection for the last three) and nothing else may call it: clients must
 * present a certificate of the cluster CA.
 *   GET  /containerLogs/NS/POD/CONTAINER?follow=&tailLines=&sinceSeconds=&timestamps=&previous=
 *   GET  /exec/NS/POD/CONTAINER?command=..&stdin=&stdout=&stderr=&tty=   (WebSocket
 * v5.channel.k8s.io) GET  /attach/NS/POD/CONTAINER?stdin=&stdout=&stderr=&tty= (WebSocket
 * v5.channel.k8s.io) POST /portForward/NS/POD                                             (SPDY/3.1
 * portforward.k8s.io) The kubelet core tells the server where a pod's containers are through this
 * backend.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct oci_runtime;

struct stream_container {
	char *container_id;  /* runtime id */
	char *log_path;	     /* CRI log of the current instance */
	char *prev_log_path; /* CRI log of the previous instance, or NULL */
	bool running;
	bool tty; /* container has a terminal (attach) */
};

struct stream_backend {
	void *userdata;
	/* Find a container of a pod on this node: 0, or -ENOENT. */
	int (*find_container)(void *ud, const char *ns, const char *pod, const char *container,
			      struct stream_container *ret);
	/* The path of the pod's network namespace, for port forwarding. */
	int (*pod_netns)(void *ud, const char *ns, const char *pod, char **ret_path);
};

void stream_container_release(struct stream_container *c);

struct stream_server;

struct stream_server_opts {
	const char *bind_address;	/* node address */
	int port;			/* 10250 */
	const char *cert_pem, *key_pem; /* serving certificate */
	const char *client_ca_pem;	/* the cluster CA: only its clients get in */
	struct oci_runtime *runtime;
	const struct stream_backend *backend;
};

int stream_server_start(const struct stream_server_opts *o, struct stream_server **ret);
void stream_server_stop(struct stream_server *s);
