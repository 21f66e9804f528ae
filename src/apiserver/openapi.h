/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <jansson.h>

/* GET /openapi/v3: the index of group-version documents (a new reference). */
json_t *openapi_v3_root(void);
/* GET /openapi/v3/<path> for path "api/v1" or "apis/<group>/<version>";
 * NULL if not served. A new reference. */
json_t *openapi_v3_group_version(const char *path);
