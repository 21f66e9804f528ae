/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to src/runtime: image references and a client for the OCI
 * distribution API (GET manifests and blobs) over libcurl.
 *
 * A client serves one repository for one pull and keeps one curl handle,
 * so every request of the pull reuses the connection. Authentication is
 * negotiated on the first 401: Basic (with the credentials given) or Bearer
 * (a token fetched from the challenge's realm, with the credentials if
 * any); the answer is kept for the rest of the pull.
 *
 * Errors return a negative errno and a message: the registry's own
 * ("manifest unknown: manifest unknown", "unauthorized: authentication
 * required") when it sent one, else what failed.
 *   -ENOENT    manifest or blob unknown (HTTP 404)
 *   -EACCES    unauthorized or denied (HTTP 401, 403)
 *   -EBADMSG   content does not match its digest or size, or is malformed
 *   -ECONNREFUSED, -EHOSTUNREACH, -ETIMEDOUT, -EIO  transport failures
 *   -EPROTO    any other HTTP status
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/digest.h"

/* ---- references ---- */

struct image_name {
	char *domain; /* "docker.io", "127.0.0.1:5000" */
	char *path;   /* "library/busybox" */
	char *tag;    /* "latest"; NULL for a digest-only reference */
	char *digest; /* "sha256:<hex>" or NULL */
};

/* Parse and normalize as Docker does: "busybox" -> docker.io,
 * library/busybox, tag latest. -EINVAL if ref is not a valid reference. */
int image_name_parse(const char *ref, struct image_name *ret);
void image_name_release(struct image_name *n);
/* "domain/path[:tag][@digest]" */
char *image_name_format(const struct image_name *n);
/* "domain/path" */
char *image_name_repo(const struct image_name *n);

/* ---- manifests ---- */

#define MT_OCI_MANIFEST	   "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX	   "application/vnd.oci.image.index.v1+json"
#define MT_OCI_CONFIG	   "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER	   "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP  "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD  "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST	   "application/vnd.docker.distribution.manifest.list.v2+json"

/* ---- the client ---- */

struct registry_client;

struct registry_client_opts {
	const char *domain;   /* as in the reference: "docker.io", "127.0.0.1:5000" */
	const char *repo;     /* "library/busybox" */
	bool plain_http;      /* http:// instead of https:// */
	const char *username; /* NULL: anonymous */
	const char *password;
};

struct registry_client *registry_client_new(const struct registry_client_opts *o);
void registry_client_free(struct registry_client *c);

/*
 * GET /v2/<repo>/manifests/<reference> (a tag or a digest), accepting OCI
 * and Docker v2 manifests and indexes. The body's sha256 is checked against
 * the reference when it is a digest and against Docker-Content-Digest when
 * the registry sends one. *ret_media_type is the Content-Type (without
 * parameters), NULL if none was sent.
 */
int registry_get_manifest(struct registry_client *c, const char *reference, char **ret_body,
			  size_t *ret_len, char **ret_media_type, char ret_digest[DIGEST_BUF_LEN],
			  char **ret_err);

/* GET /v2/<repo>/blobs/<digest> into fd (at its current offset), hashing
 * while streaming; -EBADMSG if the content's digest or size (when size >= 0)
 * differs. The caller discards fd's content on failure. */
int registry_get_blob(struct registry_client *c, const char *digest, int64_t size, int fd,
		      char **ret_err);

/* Number of HTTP requests sent by all clients (for tests). */
uint64_t registry_requests_total(void);

/* image.c: how many callers wait for another's pull, download or unpack
 * of the same thing (for tests). */
struct image_store;
unsigned image_store_waiting(struct image_store *s);

/* ---- exposed for tests ---- */

struct registry_challenge {
	char *scheme; /* "basic", "bearer" (lower case) */
	char *realm;
	char *service;
	char *scope;
};

/* Parse a WWW-Authenticate header value. */
int registry_parse_challenge(const char *value, struct registry_challenge *ret);
void registry_challenge_release(struct registry_challenge *ch);
/* The message for an error answer: "<code>: <message>" per error (code
 * lower-cased, '_' as ' '), joined by "; "; else "HTTP <status>". */
char *registry_error_message(long status, const char *body, size_t len);
