/* SPDX-License-Identifier: Apache-2.0 */
/* How the kubelet's modules read API objects (configmaps, secrets): the
 * core implements it with its informer caches or GETs. */
#pragma once

#include <jansson.h>

struct kubelet_lookup {
	void *ud;
	/* A new reference to the object, or NULL with *ret_err set (-ENOENT: not
	 * found). resource: "configmaps" or "secrets". */
	json_t *(*get)(void *ud, const char *resource, const char *ns, const char *name,
		       char **ret_err);
};
