/* SPDX-License-Identifier: Apache-2.0 */
/* Shared helpers for the per-kind files in this directory. */
#pragma once

#include <jansson.h>

#include "apiserver/meta.h"
#include "apiserver/resource.h"
#include "apiserver/status.h"
#include "lib/json.h"
#include "lib/macro.h"

#define STRV(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* A field path built printf-style, freed when the variable leaves scope:
 * FE_PATHF(p, "%s.ports[%zu].hostPort", base, i); */
#define FE_PATHF(var, ...) _cleanup_free_ char *var = xasprintf(__VA_ARGS__)

/* Table cells. */
void cell_str(json_t *cells, const char *s);
void cell_int(json_t *cells, int64_t v);
/* "5m", "3d2h" since metadata.creationTimestamp (or "<unknown>"). */
void cell_age(json_t *cells, json_t *obj, int64_t now_usec);
/* The age since an RFC 3339 time string into buf (>= 32 bytes). */
void format_age(const char *ts, int64_t now_usec, char *buf);
/* A duration as upstream's HumanDuration into buf (>= 32 bytes): "<invalid>"
 * two seconds or more in the future. */
void format_since(int64_t usec, char *buf);
/* Labels as "k=v,k2=v2" (or "<none>"). */
char *format_labels(json_t *labels);
/* Comma-joined values of field `key` of each object in array (or of each string). */
char *join_field(json_t *array, const char *key);

/* A string field of obj at path, or "" (never NULL). */
const char *str_or_empty(json_t *obj, const char *path);
/* Set obj[key] = v only when absent (or, for strings, empty: Go's zero value). */
void default_str(json_t *obj, const char *key, const char *v);
void default_int(json_t *obj, const char *key, int64_t v);
void default_bool(json_t *obj, const char *key, bool v);
/* Set obj[key] = v when absent or 0 (a non-pointer Go integer left at zero). */
void default_int_zero(json_t *obj, const char *key, int64_t v);
/* Whether obj[key] holds something other than Go's zero value (absent, null,
 * "", 0, false, {} or []): how Kubernetes tells a non-pointer field is set. */
bool field_is_set(json_t *obj, const char *key);

/*
 * Validation helpers appending to fe. Paths are the ones Kubernetes reports
 * ("spec.containers[0].ports[1].containerPort"); messages use the API's
 * stock phrases (Required value, Invalid value, ...) with our own details.
 */
/* Append src's errors to dst, leaving src empty. */
void field_errors_move(struct field_errors *dst, struct field_errors *src);

void validate_required_str(json_t *obj, const char *key, const char *path, struct field_errors *fe);
/* obj[key], when present, is one of allowed (else Unsupported value). */
void validate_enum(json_t *obj, const char *key, const char *path, const char *const *allowed,
		   struct field_errors *fe);
/* Like validate_enum, but absent or "" is Required value. */
void validate_enum_required(json_t *obj, const char *key, const char *path,
			    const char *const *allowed, struct field_errors *fe);
void validate_port_number(json_t *v, const char *path, struct field_errors *fe);
/* An IntOrString port: 1-65535, or an IANA service name. */
void validate_port_num_or_name(json_t *v, const char *path, struct field_errors *fe);
void validate_nonnegative(json_t *obj, const char *key, const char *path, struct field_errors *fe);
/* A LabelSelector object (matchLabels, matchExpressions). */
void validate_label_selector(json_t *sel, const char *path, struct field_errors *fe);
/* Field is unchanged between obj and old (JSON equality); else Invalid: field is immutable. */
void validate_immutable(json_t *obj, json_t *old, const char *path, struct field_errors *fe);
/* Same, comparing two values directly and reporting at path. */
void validate_immutable_value(json_t *value, json_t *old_value, const char *path,
			      struct field_errors *fe);

/* Run a lib/names.h rule over a string value and report Invalid at path.
 * Returns true when the value passes. */
bool validate_name_rule(char *(*rule)(const char *), const char *value, const char *path,
			struct field_errors *fe);
/* DNS-1123 label / subdomain, qualified name (e.g. label keys). */
bool validate_dns_label_at(const char *value, const char *path, struct field_errors *fe);
bool validate_dns_subdomain_at(const char *value, const char *path, struct field_errors *fe);
bool validate_qualified_name_at(const char *value, const char *path, struct field_errors *fe);
/* A map of labels the way Kubernetes reports it: bad keys and bad values
 * both under path. */
void validate_labels_at(json_t *labels, const char *path, struct field_errors *fe);
/* A map of annotations: keys are qualified names (case-insensitive), the
 * total size at most 256 KiB. */
void validate_annotations_at(json_t *annotations, const char *path, struct field_errors *fe);
/* A DNS-1123 subdomain that may also contain '_' (dnsConfig searches). */
char *validate_dns1123_subdomain_underscore(const char *s);

/* IP addresses and CIDRs. ip_family() is 4 or 6, or 0 when s is not an
 * address (IPv4 octets may have leading zeros, as Go's parser allowed). */
int ip_family(const char *s);
void validate_ip(const char *s, const char *path, struct field_errors *fe);
void validate_cidr(const char *s, const char *path, struct field_errors *fe);
/* Not unspecified, loopback, link-local or link-local multicast (endpoints,
 * external IPs). */
void validate_non_special_ip(const char *s, const char *path, struct field_errors *fe);
/* Several IPs (or CIDRs) in a list: at most one per family. */
bool ips_are_dual_stack(json_t *list, bool cidrs);

/* Quantities: compare a and b into *ret (<0, 0, >0); -EINVAL if either
 * does not parse. */
int quantity_cmp(const char *a, const char *b, int *ret);
bool quantity_negative(const char *q);
/* A resource quantity: parses, is not negative, and is whole where the
 * resource is counted in whole units (pods, extended resources). */
void validate_resource_quantity(const char *resource, json_t *q, const char *path,
				struct field_errors *fe);
/* Resource name classes, as Kubernetes' helpers define them. */
bool resource_is_hugepages(const char *name);
bool resource_is_native(const char *name);
bool resource_is_extended(const char *name);
bool resource_overcommit_allowed(const char *name);
/* A resource name: qualified, and standard unless it has a domain. */
bool validate_resource_name(const char *name, const char *path, struct field_errors *fe);

/* The core/v1 pod template machinery shared by pods, replicasets and deployments. */
struct pod_validate_opts {
	bool is_pod; /* the spec is a Pod's, not a template's */
};
/* Defaults every PodSpec gets (pods and templates alike). */
void pod_spec_defaults(json_t *spec);
/* Validate a PodSpec at path as part of a template. */
void pod_spec_validate(json_t *spec, const char *path, struct field_errors *fe);
void pod_spec_validate_opts(json_t *spec, const char *path, const struct pod_validate_opts *opts,
			    struct field_errors *fe);
/* A PodTemplateSpec at path: labels, annotations and the spec. */
void pod_template_validate(json_t *tmpl, const char *path, struct field_errors *fe);
/* Annotations with meaning for pods (mirror, deletion cost, seccomp,
 * AppArmor), reported under path ("metadata.annotations"). */
void pod_annotations_validate(json_t *annotations, json_t *spec, const char *path,
			      struct field_errors *fe);
/* Tolerations, as pods and pod updates check them. */
void pod_tolerations_validate(json_t *tolerations, const char *path, struct field_errors *fe);
