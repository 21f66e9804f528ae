/* SPDX-License-Identifier: Apache-2.0 */
/*
 * API operations on stored objects: the generic registry (what Kubernetes
 * calls genericregistry.Store). HTTP handlers and the API server's own
 * background tasks both use it.
 *
 * An operation is a small state machine because a write waits for the
 * store's group commit: api_op_run() either finishes (OP_DONE: op->err or
 * op->result is set) or submits a write and returns OP_PENDING; the store
 * then calls op->on_done() from its thread exactly once, after which the
 * owner calls api_op_run() again (from its own thread) to continue.
 */
#pragma once

#include <jansson.h>

#include "apiserver/obj.h"
#include "apiserver/resource.h"
#include "apiserver/status.h"
#include "store/store.h"

struct apiserver;

enum api_verb {
	VERB_GET = 1,
	VERB_LIST,
	VERB_WATCH,
	VERB_CREATE,
	VERB_UPDATE,
	VERB_PATCH,
	VERB_DELETE,
	VERB_DELETECOLLECTION,
};

enum patch_type {
	PATCH_NONE = 0,
	PATCH_JSON,      /* application/json-patch+json */
	PATCH_MERGE,     /* application/merge-patch+json */
	PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
	PATCH_APPLY,     /* application/apply-patch+yaml */
};

enum field_validation {
	FV_WARN = 0, /* the default */
	FV_IGNORE,
	FV_STRICT,
};

enum op_subresource {
	SUB_NONE = 0,
	SUB_STATUS,
	SUB_SCALE,
	SUB_FINALIZE,
	SUB_BINDING,
};

enum { OP_DONE = 0, OP_PENDING = 1 };

struct api_op {
	/* Inputs. */
	struct apiserver *srv;
	const struct resource *res;
	enum api_verb verb;
	enum op_subresource sub;
	const char *ns;
	const char *name;
	json_t *body; /* owned: object, patch document, or DeleteOptions */
	enum patch_type patch_type;
	enum field_validation fv;
	bool dry_run;
	bool force;
	const char *field_manager;
	const char *user;
	const char *user_agent;
	struct obj_filter filter; /* deletecollection */

	/* Results. */
	struct api_error err;
	int code;            /* HTTP status of a successful result */
	json_t *result;      /* the object to answer with, or */
	struct obj *result_obj;
	char **warnings;     /* NULL-terminated, or NULL */
	size_t nwarnings;

	/* Completion of a submitted write. */
	void (*on_done)(struct api_op *op);
	void *userdata;

	/* Private. */
	int state;
	int attempts;
	bool generated_name;
	bool has_precondition;
	bool delete_instead;
	struct store_op sop;
	char *key;
	char *store_key;
	char *value;
	json_t *pending;   /* object being written */
	json_t *old;       /* stored object the write replaces */
	struct obj *cur;   /* its cached form */
};

void api_op_init(struct api_op *op, struct apiserver *srv, const struct resource *res,
		 enum api_verb verb);
void api_op_release(struct api_op *op);
int api_op_run(struct api_op *op);
/* Run to completion, waiting for the store; 0 or -1 (op->err set). */
int api_op_run_sync(struct api_op *op);
void api_op_warn(struct api_op *op, const char *fmt, ...) _printf_(2, 3);

/* The field manager of a write: the fieldManager parameter, else the
 * client's User-Agent product name. */
const char *api_op_manager(const struct api_op *op);

/* Key of an object inside its resource: "ns/name" or "name". */
char *object_key(const struct resource *res, const char *ns, const char *name);
/* Full store key: "/registry/<storage>/<key>". */
char *store_key(const struct resource *res, const char *ns, const char *name);

/*
 * Check a decoded request body against the resource's type: kind and
 * apiVersion, JSON types (schema_check), unknown fields per fv (Strict: an
 * error; Warn: warnings on op; Ignore: dropped silently), duplicate fields
 * (given the raw text; NULL to skip). Converts to the storage version.
 * On error sets op->err (400) and returns -EINVAL.
 */
int api_op_check_body(struct api_op *op, json_t *body, const char *raw, size_t raw_len);
/* The same type check for an object produced by a patch (storage version). */
int api_op_check_patched(struct api_op *op, json_t *obj);
