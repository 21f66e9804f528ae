/* SPDX-License-Identifier: Apache-2.0 */
/* c8s: one binary, one subcommand per component. */
#include "apiserver/apiserver.h"
#include "cluster/cluster.h"
#include "components.h"
#include "kubelet/agent.h"
#include "lib/log.h"
#include "net/dns.h"
#include "net/proxy.h"

static int start_components(const struct server_env *env, void **ret)
{
	struct components_env ce = {
		.server_url = env->server_url,
		.unix_socket = env->unix_socket,
		.ca_file = env->ca_file,
		.token = env->token,
		.identity = env->identity,
	};
	return components_start(&ce, (struct components **)ret);
}

static void stop_components(void *state)
{
	components_stop(state);
}

static const char usage[] =
	"c8s - a Kubernetes-compatible container orchestrator in one small binary\n"
	"\n"
	"Usage: c8s <command> [flags]\n"
	"\n"
	"Commands:\n"
	"  server    run the control plane (API server and datastore)\n"
	"  agent     run the node agent (for now: simulated nodes, --simulate N)\n"
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
			.extra_flags = components_flags(),
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
