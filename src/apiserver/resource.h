/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One description per served resource (struct resource), defined in
 * src/apiserver/registry/<plural>.c together with everything that kind does
 * differently: defaulting, validation, system-managed fields, selectable
 * fields and printed columns. The generic machinery in src/apiserver/
 * (handlers.c, cache.c, watch.c) knows nothing about any particular kind.
 */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "apiserver/status.h"
#include "lib/macro.h"

struct apiserver;

enum resource_flag {
	RES_STATUS = 1u << 0,	      /* has a /status subresource */
	RES_SCALE = 1u << 1,	      /* has a /scale subresource (spec.replicas) */
	RES_GENERATION = 1u << 2,     /* metadata.generation bumped on spec changes */
	RES_GRACEFUL = 1u << 3,	      /* graceful deletion (pods) */
	RES_BINDING = 1u << 4,	      /* pods/binding */
	RES_FINALIZE = 1u << 5,	      /* namespaces/finalize */
	RES_VIRTUAL = 1u << 6,	      /* create-only, not stored (reviews); see create_virtual */
	RES_CREATION_EVENT = 1u << 7, /* the server records an Event when one is created */
	RES_PROXY = 1u << 8,	      /* <kind>/proxy (proxy.c): discovery lists it */
};

struct api_ctx {
	struct apiserver *srv;
	const struct resource *res;
	const char *ns;
	const char *user;
	const char *const *groups; /* the user's groups, NULL-terminated (may be NULL) */
	int64_t now_usec;	   /* wall clock of the request */
	bool dry_run;
};

struct table_column {
	const char *name;
	const char *type;   /* string, integer, number, boolean, date */
	const char *format; /* "name" for the name column, else "" */
	const char *description;
	int priority; /* 0 always shown, 1 only with -o wide */
};

enum name_rule {
	NAME_DNS1123_SUBDOMAIN = 0, /* most kinds */
	NAME_DNS1123_LABEL,	    /* namespaces */
	NAME_DNS1035_LABEL,	    /* services */
	NAME_PATH_SEGMENT,	    /* anything that fits in a URL path segment */
};

struct resource {
	/* Identity, as served and as discovery reports it. */
	const char *group; /* "" for the core group */
	const char *version;
	const char *api_version; /* "v1", "apps/v1" (use RESOURCE_CORE_V1 or RESOURCE_GV) */
	const char *kind;
	const char *plural;
	const char *singular;
	bool namespaced;
	const char *const *short_names; /* NULL-terminated or NULL */
	const char *const *categories;
	const char *type_name; /* the schema type (src/apiserver/types/ *.def files) */
	unsigned flags;
	enum name_rule name_rule;

	/* Storage: objects live under /registry/<storage or plural>/. Two
	 * resources may share storage (core/v1 and events.k8s.io/v1 events):
	 * the one that is not the storage version points at the other with
	 * storage_of and converts with these two functions. */
	const char *storage;
	const struct resource *storage_of;
	json_t *(*to_storage)(json_t *obj);   /* new reference */
	json_t *(*from_storage)(json_t *obj); /* new reference */

	/* Field selectors: metadata.name and metadata.namespace always work;
	 * these are the extra ones. fields() stores borrowed values from obj
	 * into values[i] for fields[i] (NULL when absent). */
	const char *const *fields;
	void (*get_fields)(json_t *obj, const char **values);

	/* Lifecycle hooks, all optional. */
	void (*defaults)(json_t *obj);
	/* On create: reset what clients may not set (e.g. status). */
	void (*prepare_create)(struct api_ctx *ctx, json_t *obj);
	/* On update of the main resource: carry over what it may not change
	 * (e.g. status). old is the stored object. */
	void (*prepare_update)(struct api_ctx *ctx, json_t *obj, json_t *old);
	/* old is NULL on create. Append problems to fe. */
	void (*validate)(struct api_ctx *ctx, json_t *obj, json_t *old, struct field_errors *fe);
	/* Status subresource updates: validate the new status. */
	void (*validate_status)(struct api_ctx *ctx, json_t *obj, json_t *old,
				struct field_errors *fe);
	/* Allocate what the object needs from the cluster before it is
	 * stored (service IPs and node ports). Non-zero return fails the
	 * request with err. release() gives back what obj holds when it is
	 * deleted, or when a create fails after allocate(). */
	int (*allocate)(struct api_ctx *ctx, json_t *obj, json_t *old, struct api_error *err);
	void (*release)(struct api_ctx *ctx, json_t *obj, json_t *new_obj);
	/* Deletion. on_delete() may turn a delete into an update of obj
	 * (graceful pod deletion, a namespace entering Terminating): it
	 * changes obj and returns true. opts is the DeleteOptions (or NULL).
	 * is_finalized() adds a kind's own condition to "no finalizers left"
	 * before an object marked for deletion is removed. after_delete() is
	 * told when a delete request has been committed. */
	bool (*on_delete)(struct api_ctx *ctx, json_t *obj, json_t *opts);
	bool (*is_finalized)(json_t *obj);
	void (*after_delete)(struct api_ctx *ctx, json_t *obj, bool removed);

	/* RES_VIRTUAL resources: answer a create (body already parsed). */
	int (*create_virtual)(struct api_ctx *ctx, json_t *body, json_t **ret,
			      struct api_error *err);

	/* Server-side printing (Table): columns and one row's cells. */
	const struct table_column *columns;
	size_t ncolumns;
	void (*row)(json_t *obj, json_t *cells, int64_t now_usec);
};

#define RESOURCE_CORE_V1  .group = "", .version = "v1", .api_version = "v1"
#define RESOURCE_GV(g, v) .group = g, .version = v, .api_version = g "/" v

/* All served resources, in discovery order; NULL-terminated. */
extern const struct resource *const resources_all[];
const struct resource *resource_find(const char *group, const char *version, const char *plural);
const struct resource *resource_find_kind(const char *group, const char *kind);
/* The resource that owns the storage of res (itself unless shared). */
const struct resource *resource_storage(const struct resource *res);
size_t resource_nfields(const struct resource *res);
int resource_field_index(const struct resource *res, const char *field);
