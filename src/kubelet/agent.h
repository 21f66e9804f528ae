/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `c8s agent`: the node agent (kubelet.h), or simulated nodes (--simulate N,
 * see simulate.h); both share the command line, the client and the signal
 * handling. `c8s server --with-agent` runs one agent in the server process.
 */
#pragma once

#include "lib/flags.h"

int agent_main(int argc, char **argv);

/* Flags `c8s server` accepts for an agent in its process (--with-agent, ...);
 * NULL-terminated. */
const struct flag *agent_embedded_flags(void);
/* Start the agent if --with-agent was given (*ret stays NULL otherwise). */
int agent_embedded_start(const char *server_url, const char *unix_socket, const char *ca_file,
			 const char *token, void **ret);
void agent_embedded_stop(void *state);
