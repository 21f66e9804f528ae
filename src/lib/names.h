/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Syntax rules for Kubernetes names, labels and annotations.
 * Each validate_* returns NULL when valid, else a malloc'd message (caller
 * frees) stating the rule that was broken, e.g.
 *   "must be no more than 63 characters"
 *   "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')"
 */
#pragma once

#include <jansson.h>

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 chars. (Namespaces) */
char *validate_dns1123_label(const char *s);
/* RFC 1123 subdomain: dot-separated labels, at most 253 chars. (Most object names) */
char *validate_dns1123_subdomain(const char *s);
/* RFC 1035 label: [a-z]([-a-z0-9]*[a-z0-9])?, at most 63 chars. (Service names) */
char *validate_dns1035_label(const char *s);
/* Qualified name: [prefix/]name, prefix a DNS subdomain (<=253), name
 * ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] at most 63 chars. (Label and annotation keys) */
char *validate_qualified_name(const char *s);
/* Label value: empty, or at most 63 chars matching
 * (([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]). */
char *validate_label_value(const char *s);
/* C identifier-like env var name: [-._a-zA-Z][-._a-zA-Z0-9]* */
char *validate_env_var_name(const char *s);
/* IANA service name (named ports): at most 15 chars, [a-z0-9-], at least one
 * letter, no leading/trailing/double hyphen. */
char *validate_port_name(const char *s);
/* ConfigMap/Secret key: [-._a-zA-Z0-9]+, at most 253 chars, not "." or "..". */
char *validate_config_map_key(const char *s);
/* Total size of annotations (sum of key and value lengths) must be at most
 * 256 KiB; returns NULL or a message. */
char *validate_annotations_size(json_t *annotations);
