/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared informers: components in one process (the scheduler and the
 * controllers in `c8s server`) ask the factory for the resources they
 * watch, register their handlers, and the factory starts every informer
 * once. Pods and nodes carry their pod_info / node_info (objects.h).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct kclient;
struct informer;
struct informer_factory;

struct informer_factory *informer_factory_new(struct kclient *c);
/* The shared informer for a resource (created on first use). Handlers may
 * be added until informer_factory_start(). */
struct informer *informer_factory_get(struct informer_factory *f, const char *api_version,
				      const char *plural);
int informer_factory_start(struct informer_factory *f);
bool informer_factory_wait_synced(struct informer_factory *f, int64_t timeout_usec);
/* Stop every informer's thread (no handler runs afterwards). */
void informer_factory_stop(struct informer_factory *f);
void informer_factory_free(struct informer_factory *f);
