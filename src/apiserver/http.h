/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP side of the API server, on libmicrohttpd: one request at a time
 * per connection, a pool of worker threads each with its own epoll loop.
 * Writes suspend their connection until the store's group commit; watches
 * suspend theirs until events arrive (no thread per watch).
 */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>

#include "apiserver/ops.h"
#include "apiserver/router.h"
#include "lib/strbuf.h"

struct apiserver;
struct obj;
struct bg_collection;

enum accept_format {
	ACCEPT_JSON = 0,
	ACCEPT_TABLE,	       /* as=Table;g=meta.k8s.io */
	ACCEPT_DISCOVERY_V2,   /* as=APIGroupDiscoveryList;v=v2 */
	ACCEPT_DISCOVERY_V2B1, /* ...;v=v2beta1 */
};

struct conn_ctx {
	bool checked;
	char *user;
	char **groups;
};

struct req {
	struct apiserver *srv;
	struct MHD_Connection *conn;
	struct conn_ctx *cc;
	const char *method;
	char *path;
	struct route route;
	struct strbuf body;
	bool body_too_large;
	const char *user;
	enum accept_format accept;

	/* The answer, queued at the end of the current handler call. */
	struct MHD_Response *resp;
	unsigned code;

	/* An API operation that may wait for the store. */
	struct api_op op;
	bool op_active;
	pthread_mutex_t mu;
	bool completed;
	bool suspended;
	struct bg_collection *bg; /* a deletecollection on its own thread */

	/* A handler's own state across a suspension (proxy.c); ext_free is
	 * called with it when the request is freed. */
	void *ext;
	void (*ext_free)(void *ext);
};

int http_start(struct apiserver *srv);
/* A second listener, plain HTTP on a Unix socket at path (mode 0600): for
 * the components running in this process, which skip TLS and TCP. The same
 * handlers and authentication (bearer tokens) serve it. */
int http_start_local(struct apiserver *srv, const char *path);
void http_stop(struct apiserver *srv);

const char *req_query(struct req *r, const char *key);
const char *req_header(struct req *r, const char *key);

/* Set the answer. These take ownership of what they are given. */
void req_respond(struct req *r, unsigned code, struct MHD_Response *resp);
void req_respond_json(struct req *r, unsigned code, json_t *j);
void req_respond_buf(struct req *r, unsigned code, char *buf, size_t len, const char *content_type);
void req_respond_obj(struct req *r, unsigned code, struct obj *o);
void req_respond_error(struct req *r, const struct api_error *e);
void req_respond_status(struct req *r, int code, const char *reason, const char *fmt, ...)
    _printf_(4, 5);

/* watch.c */
struct watch_hub;
int watch_hub_start(struct apiserver *srv);
void watch_hub_stop(struct apiserver *srv);
/* End every watch stream (before the HTTP server stops). */
void watch_hub_end_all(struct apiserver *srv);
/* Start a watch on r's route (the response is set on r). */
void watch_serve(struct req *r, const struct obj_filter *filter_template);

/* discovery.c */
void discovery_serve(struct req *r);
void openapi_serve(struct req *r);

/* tables.c */
/* A meta.k8s.io/v1 Table for the objects (as stored); include is "None",
 * "Metadata" (default) or "Object". with_columns false leaves out the
 * column definitions (watch events after the first). */
json_t *table_build(const struct resource *res, struct obj *const *objs, size_t n,
		    const char *include, bool with_columns, int64_t now_usec);
/* Convert a stored object for a resource that shares storage (events.k8s.io). */
json_t *convert_from_storage(const struct resource *res, const struct obj *o);
