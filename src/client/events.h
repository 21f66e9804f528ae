/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Event recording for components: core/v1 Events about an object, written
 * in the background. The same (object, type, reason, message) within ten
 * minutes is counted on one Event (count, lastTimestamp) instead of making
 * a new one, as client-go's recorder does.
 */
#pragma once

#include <jansson.h>

#include "lib/macro.h"

struct kclient;
struct event_recorder;

/* component: source.component ("default-scheduler", "kubelet", ...); host:
 * source.host (may be NULL). */
struct event_recorder *event_recorder_new(struct kclient *c, const char *component,
					  const char *host);
void event_recorder_free(struct event_recorder *r);

/* About obj (needs apiVersion, kind, metadata.name/namespace/uid). type is
 * "Normal" or "Warning". */
void event_record(struct event_recorder *r, json_t *obj, const char *type, const char *reason,
		  const char *fmt, ...) _printf_(5, 6);
/* The same, naming the object without a parsed JSON. ns "" for cluster-scoped. */
void event_record_ref(struct event_recorder *r, const char *api_version, const char *kind,
		      const char *ns, const char *name, const char *uid, const char *type,
		      const char *reason, const char *fmt, ...) _printf_(9, 10);
