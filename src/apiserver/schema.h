/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The API types, described once as data.
 *
 * The .def files in src/apiserver/types/ describe every served type (see types/README.md
 * for the format). They are linked into the binary (symbol
 * c8s_embedded_types, all files concatenated, NUL-terminated) and parsed once
 * at start. The same description drives:
 *   - type checking and pruning of request bodies (schema_check),
 *   - strict field validation (unknown and duplicate fields),
 *   - protobuf decoding of request bodies (schema_proto_decode),
 *   - strategic merge patch keys, and the OpenAPI documents.
 */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "lib/macro.h"

enum schema_kind {
	SK_STRING = 1,
	SK_INT32,
	SK_INT64,
	SK_BOOL,
	SK_DOUBLE,
	SK_BYTES,	/* base64 string in JSON, bytes in protobuf */
	SK_TIME,	/* metav1.Time: RFC 3339 seconds; proto {1 seconds, 2 nanos} */
	SK_MICROTIME,	/* metav1.MicroTime: RFC 3339 microseconds; same proto */
	SK_DURATION,	/* metav1.Duration: "1m30s"; proto {1 int64 nanoseconds} */
	SK_QUANTITY,	/* resource.Quantity: string (numbers accepted); proto {1 string} */
	SK_INTORSTRING, /* intstr.IntOrString; proto {1 type, 2 intVal, 3 strVal} */
	SK_FREEFORM,	/* any JSON, kept as is; proto RawExtension {1 bytes raw} */
	SK_STRUCT,	/* a named type */
	SK_LIST,	/* []elem */
	SK_MAP,		/* map[string]elem */
};

enum schema_field_flag {
	SF_OPTIONAL = 1u << 0,	  /* "opt": a pointer in Go; present in protobuf even when zero */
	SF_REQUIRED = 1u << 1,	  /* "req" */
	SF_READONLY = 1u << 2,	  /* "ro": set by the system */
	SF_RETAIN_KEYS = 1u << 3, /* "retainkeys": strategic merge patch strategy retainKeys */
	SF_LIST_SET = 1u << 4,	  /* "set": x-kubernetes-list-type=set */
	SF_LIST_MAP = 1u << 5,	  /* "listmap=k1,k2": x-kubernetes-list-type=map */
	SF_LIST_ATOMIC = 1u << 6, /* "atomic" */
	SF_NO_PROTO = 1u << 7,	  /* field number "-": not in protobuf (apiVersion, kind) */
	SF_INLINE = 1u << 8,	  /* "inline": an embedded Go struct: one message in protobuf,
				   * merged into the parent in JSON (its fields are listed
				   * flattened in the parent with "-"); not a JSON field */
	SF_MERGE = 1u << 9,	  /* "merge": strategic merge patch merges this list of
				   * scalars as a set (patchStrategy=merge without a key) */
};

struct schema_type;

struct schema_ref {
	enum schema_kind kind;
	const struct schema_type *type; /* SK_STRUCT */
	const struct schema_ref *elem;	/* SK_LIST, SK_MAP */
};

struct schema_field {
	const char *name; /* JSON name */
	int proto;	  /* protobuf field number; 0 when SF_NO_PROTO */
	unsigned flags;
	struct schema_ref ref;
	const char *merge_key;	    /* strategic merge key for lists ("merge=name"), or NULL */
	const char *const *listmap; /* NULL-terminated keys for SF_LIST_MAP, or NULL */
	const char *const *enums;   /* NULL-terminated allowed values ("enum=A|B"), or NULL */
	const char *description;
};

struct schema_type {
	const char *name;	  /* unique name used in .def files, e.g. "PodSpec" */
	const char *openapi_name; /* e.g. "io.k8s.api.core.v1.PodSpec" */
	const char *go_name;	  /* for messages, e.g. "v1.PodSpec" */
	const char *description;
	const struct schema_field *fields;
	size_t nfields;
};

struct schema;

/* Parse .def text. -EINVAL with *ret_err "line N: message" on a syntax error
 * or an undefined type reference. */
int schema_parse(const char *text, struct schema **ret, char **ret_err);
void schema_free(struct schema *s);
/* The built-in schema from the embedded .def files; parsed on first use
 * (thread-safe); aborts with a message if they do not parse. */
const struct schema *schema_builtin(void);

const struct schema_type *schema_find_type(const struct schema *s, const char *name);
const struct schema_field *schema_field_by_name(const struct schema_type *t, const char *name);
const struct schema_field *schema_field_by_proto(const struct schema_type *t, int number);
/* Iterate all types: returns NULL past the end. */
const struct schema_type *schema_type_at(const struct schema *s, size_t i);

/*
 * Check and normalise a decoded JSON object against type t, as Go's typed
 * JSON decoding into Kubernetes structs would:
 *  - a value of the wrong JSON type is an error;
 *  - int32 values out of range, bad base64, bad times, bad quantities are errors;
 *  - JSON null for any field removes the field;
 *  - quantities given as numbers become strings;
 *  - fields the type does not have are removed and their paths listed in
 *    rep->unknown ("spec.foo", "spec.containers[0].bar").
 * Returns 0, or -EINVAL with rep->error set to a message like
 *   json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32
 */
struct schema_report {
	char *error;
	char **unknown;
	size_t nunknown;
};
int schema_check(const struct schema_type *t, json_t *obj, struct schema_report *rep);
void schema_report_release(struct schema_report *rep);

/*
 * Kubernetes protobuf bodies: the 4 bytes "k8s\0" then a runtime.Unknown
 * {1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType}.
 * The returned raw pointer points into buf.
 */
int k8s_protobuf_unwrap(const void *buf, size_t len, char **ret_api_version, char **ret_kind,
			const uint8_t **ret_raw, size_t *ret_raw_len);

/*
 * Decode a protobuf message of type t into JSON. Following the Go encoder,
 * non-optional scalar fields holding their zero value ("", 0, false) are
 * treated as unset and left out; optional (pointer) fields are kept when
 * present. A zero metav1.Time (seconds 0 or -62135596800, nanos 0) is left
 * out. Unknown field numbers are skipped. -EINVAL with *ret_err on malformed
 * input (truncated varint or length, wrong wire type for a known field).
 */
int schema_proto_decode(const struct schema_type *t, const uint8_t *buf, size_t len, json_t **ret,
			char **ret_err);

/*
 * Find object keys that occur more than once in the JSON text. *ret_paths
 * holds their paths ("metadata.name", "spec.containers[0].image"); caller
 * frees with strv. Returns 0 (also when there are none) or -EINVAL if the
 * text is not JSON.
 */
int json_find_duplicate_keys(const char *text, size_t len, char ***ret_paths, size_t *ret_n);
