/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node's image store, under <data-dir>/images:
 *   blobs/sha256/<hex>     content store: manifests, configs, layer blobs,
 *                          each verified against its digest before it is kept
 *   layers/<chain id>/     unpacked layers (overlayfs lower directories)
 *   refs.json              image references -> manifest digest
 *   *.tar                  docker-archive / oci-archive files imported at start
 * Pulls speak the OCI distribution API over libcurl: anonymous, HTTP basic
 * and bearer-token auth; manifest lists and OCI indexes resolved to
 * linux/amd64. Registries on loopback addresses (and any listed as
 * insecure) are spoken to over plain HTTP.
 * All functions are thread-safe; a given image is pulled once at a time.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct image_store;

struct image {
	char *ref;	   /* normalized reference it was looked up by */
	char *id;	   /* "sha256:<hex of the config blob>" */
	char *repo_digest; /* "<registry>/<repo>@sha256:<manifest hex>" */
	json_t *config;	   /* the image config's "config" object (Env, Entrypoint, Cmd,
			    * WorkingDir, User, StopSignal, ExposedPorts, Labels) */
	size_t nlayers;
	char **diff_ids; /* uncompressed layer digests, bottom first */
	int64_t size;	 /* compressed bytes of the layers */
};

struct registry_auth {
	const char *registry; /* "127.0.0.1:5000", "docker.io" */
	const char *username;
	const char *password;
};

int image_store_open(const char *dir, const char *const *insecure_registries,
		     struct image_store **ret);
void image_store_close(struct image_store *s);

/* "busybox" -> "docker.io/library/busybox:latest"; keeps digests. */
char *image_ref_normalize(const char *ref);

/* The stored image ref names; -ENOENT if absent. */
int image_get(struct image_store *s, const char *ref, struct image **ret);
/* Pull ref (always contacting the registry). Errors carry the registry's
 * message in *ret_err ("manifest unknown", "unauthorized: ..."). */
int image_pull(struct image_store *s, const char *ref, const struct registry_auth *auths,
	       size_t nauths, struct image **ret, char **ret_err);
/* Import a docker-archive or oci-archive; *ret_refs lists what it named. */
int image_import(struct image_store *s, const char *path, char ***ret_refs, char **ret_err);
/* Import every *.tar in dir (errors are logged and skipped). */
int image_import_dir(struct image_store *s, const char *dir);
/* Unpack (once, cached) the image's layers; *ret_lowerdirs lists them top
 * layer first, as overlayfs lowerdir wants, NULL-terminated. */
int image_prepare(struct image_store *s, const struct image *img, char ***ret_lowerdirs,
		  char **ret_err);
void image_free(struct image *img);
/* Every image stored (for node status .images). */
int image_list(struct image_store *s, struct image ***ret, size_t *ret_n);
