/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The components `c8s server` runs next to its API server, in the same
 * process but only through the API: the scheduler and the controller
 * manager, each elected leader through a Lease.
 */
#pragma once

#include "lib/flags.h"

struct components;

struct components_env {
	const char *server_url;	 /* https://127.0.0.1:6443, or http://localhost with: */
	const char *unix_socket; /* the API server's local listener */
	const char *ca_file;
	const char *token;    /* admin bearer token */
	const char *identity; /* leader election identity (host name + port) */
};

/* Flags `c8s server` also accepts for the components; NULL-terminated
 * (name == NULL). */
const struct flag *components_flags(void);
int components_start(const struct components_env *env, struct components **ret);
void components_stop(struct components *c);
