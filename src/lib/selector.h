/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes label selectors and field selectors.
 *
 * Label selector syntax (comma-separated requirements, all must hold):
 *   k=v  k==v  k!=v  k in (a,b)  k notin (a,b)  k  !k  k>5  k<5 (gt/lt: integers)
 * Whitespace around tokens is allowed. Keys must be qualified names, values
 * valid label values (see lib/names.h); violations are parse errors.
 * "k!=v" and "k notin (..)" also match objects without label k.
 *
 * Field selector syntax: comma-separated "field=value", "field==value",
 * "field!=value"; a backslash escapes ',', '=', '!' and '\' inside values;
 * values may be empty ("involvedObject.namespace=").
 *
 * Labels are given to the matcher as "packed labels": one buffer holding
 * key\0value\0key\0value\0...\0 (an empty key ends it), which is how the API
 * server's cache keeps them.
 */
#pragma once

#include <jansson.h>

#include "lib/macro.h"

enum label_op {
	LABEL_OP_EQ = 1,
	LABEL_OP_NEQ,
	LABEL_OP_IN,
	LABEL_OP_NOTIN,
	LABEL_OP_EXISTS,
	LABEL_OP_NOT_EXISTS,
	LABEL_OP_GT,
	LABEL_OP_LT,
};

struct label_req {
	char *key;
	enum label_op op;
	char **values; /* NULL-terminated; one value for EQ/NEQ/GT/LT */
	size_t nvalues;
};

struct label_selector {
	struct label_req *reqs;
	size_t n;
	bool match_nothing; /* a LabelSelector that selects nothing (JSON null) */
};

/* Parse s (NULL or "" = everything). On error returns -EINVAL and sets
 * *ret_err to a message naming the offending part (caller frees). */
int label_selector_parse(const char *s, struct label_selector *ret, char **ret_err);
/* Build from a metav1.LabelSelector JSON object {matchLabels, matchExpressions}
 * (operators In, NotIn, Exists, DoesNotExist). NULL or JSON null selects
 * nothing; {} selects everything. */
int label_selector_from_json(json_t *sel, struct label_selector *ret, char **ret_err);
void label_selector_release(struct label_selector *sel);
bool label_selector_is_everything(const struct label_selector *sel);
/* String form, e.g. "app=web,tier in (a,b)" (used for Scale status.selector). */
char *label_selector_to_string(const struct label_selector *sel);
bool label_selector_matches(const struct label_selector *sel, const char *packed_labels);

/* Packed labels from a JSON object of string values (NULL -> empty). The
 * result is malloc'd; *ret_len includes the final terminator. */
char *packed_labels_from_json(json_t *labels, size_t *ret_len);
/* Value of key in packed labels, or NULL. */
const char *packed_labels_get(const char *packed, const char *key);

struct field_req {
	char *field;
	char *value;
	bool neq;
};

struct field_selector {
	struct field_req *reqs;
	size_t n;
};

int field_selector_parse(const char *s, struct field_selector *ret, char **ret_err);
void field_selector_release(struct field_selector *sel);
/* lookup returns the value of a field for the object, or NULL if the object
 * has no such field (a missing field compares as ""). */
typedef const char *(*field_lookup_fn)(const void *obj, const char *field);
bool field_selector_matches(const struct field_selector *sel, field_lookup_fn lookup,
			    const void *obj);
/* The value required for field by an "=" term, or NULL (used for indexes). */
const char *field_selector_required_value(const struct field_selector *sel, const char *field);
