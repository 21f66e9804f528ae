/* SPDX-License-Identifier: Apache-2.0 */
/* Request paths of the Kubernetes API, parsed. */
#pragma once

#include "lib/macro.h"

struct resource;

enum route_kind {
	R_NOT_FOUND = 0,
	R_ROOT,		 /* / */
	R_VERSION,	 /* /version */
	R_HEALTH,	 /* /healthz /livez /readyz (and their sub-checks) */
	R_API,		 /* /api */
	R_APIS,		 /* /apis */
	R_API_GROUP,	 /* /apis/<group> */
	R_GROUP_VERSION, /* /api/v1, /apis/<group>/<version> */
	R_RESOURCE,	 /* .../[namespaces/<ns>/]<resource>[/<name>[/<sub>[/<rest>]]] */
	R_OPENAPI_V2,	 /* /openapi/v2 */
	R_OPENAPI_V3,	 /* /openapi/v3 */
	R_OPENAPI_V3_GV, /* /openapi/v3/api/v1, /openapi/v3/apis/<group>/<version> */
	R_CACERTS,	 /* /cacerts: the cluster CA, for agents joining with a token */
};

struct route {
	enum route_kind kind;
	char *group;
	char *version;
	const struct resource *res;
	char *ns;
	char *name;
	char *sub;
	char *rest;	   /* what follows the subresource (proxy paths), or NULL */
	bool legacy_watch; /* /api/v1/watch/... */
};

/* Parse path (already percent-decoded, without the query). Never fails:
 * unknown paths give R_NOT_FOUND. */
void route_parse(const char *path, struct route *ret);
void route_release(struct route *r);
