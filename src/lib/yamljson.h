/* SPDX-License-Identifier: Apache-2.0 */
/* YAML documents to JSON values (libyaml), for YAML request bodies and
 * kubeconfig files. */
#pragma once

#include <jansson.h>
#include <stddef.h>

/* Parse the first document of text. Scalars become strings, integers,
 * floats, booleans or null by the YAML 1.2 core schema (quoted scalars are
 * always strings). -EINVAL with *ret_err on a syntax error. */
int yaml_to_json(const char *text, size_t len, json_t **ret, char **ret_err);
