/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The REST client every c8s component uses to talk to the API server
 * (nothing but the API server touches the datastore).
 *
 * A client is built from a kubeconfig (client certificate or bearer token)
 * or from a server URL and token, optionally through a Unix socket (the
 * components running inside `c8s server`). Requests go over HTTP/1.1 keep-alive
 * connections (libcurl), one connection per calling thread, reused across
 * requests. All functions are thread-safe.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kclient;

struct kclient_opts {
	const char *kubeconfig;	 /* path; or: */
	const char *server;	 /* https://host:port */
	const char *token;	 /* bearer token */
	const char *ca_file;	 /* CA to verify the server (PEM file); NULL with
				  * server/token means: do not verify (join flows
				  * check the CA by hash first) */
	const char *user_agent;	 /* "c8s-scheduler/v0.1" */
	const char *unix_socket; /* connect to this Unix socket instead of the
				  * server URL's host (plain HTTP: the API
				  * server's local listener); server is then
				  * http://localhost */
	long timeout_ms;	 /* per request (not watches); default 30 s */
};

int kclient_new(const struct kclient_opts *opts, struct kclient **ret, char **ret_err);
void kclient_free(struct kclient *c);
const char *kclient_server(const struct kclient *c);

/* A response. body is NUL-terminated; json is parsed lazily by kresp_json. */
struct kresp {
	long code; /* HTTP status; 0 when the request could not be made */
	char *body;
	size_t len;
	char *error; /* transport error text when code == 0 */
};
void kresp_release(struct kresp *r);
/* Parse the body (a new reference, NULL if not JSON). */
json_t *kresp_json(const struct kresp *r);
/* The Status message of an error response, or the transport error. */
const char *kresp_message(const struct kresp *r, char *buf, size_t size);

/* method: GET POST PUT PATCH DELETE. path includes the query. body may be
 * NULL. content_type defaults to application/json (for PATCH pass the patch
 * type). Returns 0 when a response arrived (any status), -EIO otherwise. */
int kclient_do(struct kclient *c, const char *method, const char *path, const char *body,
	       size_t body_len, const char *content_type, struct kresp *ret);

/* Conveniences returning the parsed object (new reference) on 2xx, NULL
 * otherwise with *ret_code set (0 on transport failure). */
json_t *kclient_get(struct kclient *c, const char *path, long *ret_code);
json_t *kclient_post(struct kclient *c, const char *path, json_t *body, long *ret_code);
json_t *kclient_put(struct kclient *c, const char *path, json_t *body, long *ret_code);
json_t *kclient_patch(struct kclient *c, const char *path, const char *patch_type, json_t *patch,
		      long *ret_code);
/* DELETE with an optional DeleteOptions body; returns the status code. */
long kclient_delete(struct kclient *c, const char *path, json_t *options);

/*
 * Watch: GET path (which must include ?watch=1&resourceVersion=...). Calls
 * fn for each event ({"type":..., "object":...}, a borrowed reference, with
 * the text of its object as the server sent it, or NULL, 0) from
 * the calling thread until the stream ends, fn returns false, or *stop
 * becomes true (checked at least every second). Returns 0 when the stream
 * ended normally, -EIO on transport errors, or the HTTP status as a
 * positive number when the server refused the watch.
 */
typedef bool (*kwatch_fn)(json_t *event, const char *object, size_t object_len, void *userdata);
int kclient_watch(struct kclient *c, const char *path, kwatch_fn fn, void *userdata,
		  volatile bool *stop);

/* Path helpers: "/api/v1" or "/apis/apps/v1" + [namespaces/NS/] + plural [+ /name]. */
char *kpath(const char *api_version, const char *plural, const char *ns, const char *name);
/* Percent-encode for a query value. */
char *kquery_escape(const char *s);
