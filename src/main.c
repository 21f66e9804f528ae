/* SPDX-License-Identifier: Apache-2.0 */
/* c8s: one binary, one subcommand per component. */
#include "apiserver/apiserver.h"
#include "cluster/cluster.h"
#include "components.h"
#include "kubelet/agent.h"
#include "lib/log.h"
#include "net/dns.h"
#include "net/proxy.h"

/* What `c8s server` runs beside the API server: the components, and with
 * --with-agent a node agent. */
struct in_process {
	struct components *components;
	void *agent;
};

static int start_components(const struct server_env *env, void **ret)
{
	struct components_env ce = {
		.server_url = env->server_url,
		.unix_socket = env->unix_socket,
		.ca_file = env->ca_file,
		.token = env->token,
		.identity = env->identity,
	};
	struct in_process *ip = xnew(struct in_process, 1);
	int r = components_start(&ce, &ip->components);
	if (r >= 0 && agent_embedded_start(env->server_url, env->unix_socket, env->ca_file,
					   env->token, &ip->agent) < 0)
		log_error("could not start the node agent");
	*ret = ip;
	return r;
}

static void stop_components(void *state)
{
	struct in_process *ip = state;
	agent_embedded_stop(ip->agent);
	if (ip->components)
		components_stop(ip->components);
	free(ip);
}

/* The components' flags and the in-process agent's. */
static const struct flag *server_extra_flags(void)
{
	static struct flag all[64];
	size_t n = 0;
	for (const struct flag *f = components_flags(); f->name && n < 40; f++)
		all[n++] = *f;
	for (const struct flag *f = agent_embedded_flags(); f->name && n < 63; f++)
		all[n++] = *f;
	all[n] = (struct flag){ NULL };
	return all;
}

static const char usage[] =
    "c8s - a Kubernetes-compatible container orchestrator in one small binary\n"
    "\n"
    "Usage: c8s <command> [flags]\n"
    "\n"
    "Commands:\n"
    "  server    run the control plane (API server and datastore)\n"
    "  agent     run the node agent (or simulated nodes, --simulate N)\n"
    "  cluster   create, delete or load a local multi-node cluster\n"
    "  version   print the version\n"
    "\n"
    "Run 'c8s <command> --help' for the flags of a command.\n";

int main(int argc, char **argv)
{
	if (argc < 2 || streq(argv[1], "help") || streq(argv[1], "--help") ||
	    streq(argv[1], "-h")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	if (streq(cmd, "server")) {
		struct server_hooks hooks = {
			.extra_flags = server_extra_flags(),
			.start = start_components,
			.stop = stop_components,
		};
		return apiserver_main(argc - 1, argv + 1, &hooks);
	}
	if (streq(cmd, "agent"))
		return agent_main(argc - 1, argv + 1);
	if (streq(cmd, "cluster"))
		return cluster_main(argc - 1, argv + 1);
	if (streq(cmd, "proxy-apply")) /* hidden: tests and benchmarks */
		return proxy_apply_main(argc - 1, argv + 1);
	if (streq(cmd, "dns")) /* hidden: the cluster DNS server alone (tests) */
		return dns_main(argc - 1, argv + 1);
	if (streq(cmd, "version") || streq(cmd, "--version")) {
		printf("c8s version v0.1.0 (Kubernetes API v1.32)\n");
		return 0;
	}
	fprintf(stderr, "c8s: unknown command \"%s\"\n\n%s", cmd, usage);
	return 2;
}
