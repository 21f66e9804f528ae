/* SPDX-License-Identifier: Apache-2.0 */
/* `c8s agent`: flags, the API client, signals; the work is done by a mode
 * (only --simulate for now). */
#include <ctype.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include "client/kclient.h"
#include "kubelet/agent.h"
#include "kubelet/simulate.h"
#include "lib/flags.h"
#include "lib/log.h"

static const char usage[] =
    "Usage: c8s agent --simulate N (--kubeconfig FILE | --server URL --token TOKEN) [flags]\n"
    "\n"
    "Run the node agent. With --simulate N it registers N simulated nodes named\n"
    "PREFIX0..PREFIX(N-1) and plays their kubelets: it renews their leases, reports\n"
    "their status, reports the pods bound to them Running (with an IP from the\n"
    "node's pod CIDR) and finishes their graceful deletion. Nothing is run.\n"
    "\n"
    "Stopping the agent (SIGTERM, SIGINT) stops the heartbeats: the nodes fail.\n"
    "To fail one node of many: run one agent per node (--simulate 1) and stop it,\n"
    "or use --fail-node-after NAME=DURATION, or write \"fail NAME\" / \"recover NAME\"\n"
    "lines to the --control-file and send SIGUSR1.";

/* "sim-<hostname>-", the host name made a valid DNS label. */
static char *default_prefix(void)
{
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[strcspn(host, ".")] = 0; /* the short name */
	for (char *p = host; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!isalnum((unsigned char)*p))
			*p = '-';
	}
	host[40] = 0;
	return xasprintf("sim-%s-", host);
}

static void strv_free_const(const char **v)
{
	for (const char **p = v; p && *p; p++)
		free((char *)*p);
	free(v);
}

/* Wait for SIGTERM or SIGINT; SIGUSR1 applies the control file. */
static int wait_for_signals(const sigset_t *sigs, struct simulator *sim)
{
	for (;;) {
		int sig;
		if (sigwait(sigs, &sig) != 0)
			continue;
		if (sig == SIGUSR1) {
			simulator_control(sim);
			continue;
		}
		if (sig == SIGHUP)
			continue;
		return sig;
	}
}

struct agent_opts {
	const char *kubeconfig, *server, *token, *ca_file;
	int simulate; /* N, or -1 */
	int verbosity;
};

/* The simulation, until SIGTERM or SIGINT; returns the exit code. */
static int run_simulation(const struct agent_opts *ao, struct sim_opts *so)
{
	_cleanup_free_ char *prefix = NULL, *err = NULL;
	if (!so->prefix)
		so->prefix = prefix = default_prefix();
	so->nodes = ao->simulate;
	if (sim_opts_check(so, &err) < 0) {
		fprintf(stderr, "c8s agent: %s\n", err);
		return 2;
	}
	if (!ao->kubeconfig && !ao->server) {
		fprintf(stderr,
			"c8s agent: give --kubeconfig FILE, or --server URL and --token TOKEN\n");
		return 2;
	}
	struct kclient_opts ko = {
		.kubeconfig = ao->kubeconfig,
		.server = ao->kubeconfig ? NULL : ao->server,
		.token = ao->token,
		.ca_file = ao->ca_file,
		.user_agent = "c8s-agent/v0.1 (simulated)",
		.timeout_ms = 15000,
	};
	struct kclient *client = NULL;
	int r = kclient_new(&ko, &client, &err);
	if (r < 0) {
		log_error("%s", err);
		return 1;
	}

	/* Informer lists and pod syncs build and free many small JSON values:
	 * keep freed memory instead of giving it back and faulting it in
	 * again (a large share of the CPU time otherwise). */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_TOP_PAD, 16 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);

	/* Signals are taken by this thread only; every thread started from
	 * here on inherits the mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("c8s agent simulating %d node%s against %s", so->nodes, so->nodes == 1 ? "" : "s",
		 kclient_server(client));
	int ret = 0;
	struct simulator *sim = simulator_new(client, so);
	r = simulator_start(sim);
	if (r < 0) {
		log_error_errno(r, "cannot start the simulation");
		ret = 1;
	} else {
		int sig = wait_for_signals(&sigs, sim);
		r = simulator_error(sim);
		if (r < 0) {
			log_error_errno(r, "the simulation failed");
			ret = 1;
		} else {
			log_info("received %s; stopping (the simulated nodes stop renewing)",
				 strsignal(sig));
		}
	}
	simulator_free(sim);
	kclient_free(client);
	log_info("stopped");
	return ret;
}

int agent_main(int argc, char **argv)
{
	struct agent_opts ao = { .simulate = -1 };
	struct sim_opts so;
	sim_opts_default(&so);
	const struct flag flags[] = {
		{ "kubeconfig", FLAG_STRING, &ao.kubeconfig,
		  "Kubeconfig to reach the API server (the admin kubeconfig works)" },
		{ "server", FLAG_STRING, &ao.server, "API server URL, without a kubeconfig" },
		{ "token", FLAG_STRING, &ao.token, "Bearer token, with --server" },
		{ "certificate-authority", FLAG_STRING, &ao.ca_file,
		  "CA file to verify the server with --server (default: not verified)" },
		{ "simulate", FLAG_INT, &ao.simulate, "Simulate N nodes instead of running pods" },
		{ "node-name-prefix", FLAG_STRING, &so.prefix,
		  "Simulated node names are PREFIX0..PREFIX(N-1) (default sim-<hostname>-)" },
		{ "node-cpu", FLAG_STRING, &so.cpu,
		  "CPU capacity of each simulated node (default 4)" },
		{ "node-memory", FLAG_STRING, &so.memory,
		  "Memory capacity of each simulated node (default 16Gi)" },
		{ "node-pods", FLAG_STRING, &so.pods,
		  "Pod capacity of each simulated node (default 110)" },
		{ "node-ephemeral-storage", FLAG_STRING, &so.ephemeral_storage,
		  "Ephemeral storage capacity of each simulated node (default 100Gi)" },
		{ "node-labels", FLAG_STRV, &so.labels,
		  "Extra labels KEY=VALUE for the simulated nodes; repeatable or comma-separated" },
		{ "lease-renew-interval", FLAG_DURATION, &so.lease_renew_usec,
		  "How often each node's lease is renewed (default 2s; the lease lasts 40s)" },
		{ "node-status-interval", FLAG_DURATION, &so.status_usec,
		  "How often each node reports its status when nothing changed (default 1m; the "
		  "lease is the heartbeat)" },
		{ "pod-startup-delay", FLAG_DURATION, &so.pod_startup_usec,
		  "How long a pod bound to a simulated node takes to be Running (default 0)" },
		{ "pod-workers", FLAG_INT, &so.pod_workers,
		  "Concurrent pod status updates and deletions (default 32)" },
		{ "node-workers", FLAG_INT, &so.node_workers,
		  "Concurrent registrations, lease renewals and node status reports (default 16)" },
		{ "fail-node-after", FLAG_STRV, &so.fail_after,
		  "NAME=DURATION: stop the heartbeats of node NAME after DURATION, a node failure; "
		  "repeatable" },
		{ "control-file", FLAG_STRING, &so.control_file,
		  "On SIGUSR1, apply this file's lines \"fail NAME\" and \"recover NAME\"" },
		{ "v", FLAG_INT, &ao.verbosity, "Log verbosity (0-6; 1 logs rates every 10s)" },
		{ NULL },
	};
	int ret, r = flags_parse(flags, usage, argc, argv, NULL);
	if (r != 0) {
		ret = r > 0 ? 0 : 2;
	} else if (ao.simulate < 0) {
		fprintf(
		    stderr,
		    "c8s agent: the real node agent is not implemented yet; use --simulate N\n");
		ret = 2;
	} else {
		log_set_verbosity(ao.verbosity);
		ret = run_simulation(&ao, &so);
	}
	strv_free_const(so.labels);
	strv_free_const(so.fail_after);
	return ret;
}
