/* SPDX-License-Identifier: Apache-2.0 */
/* `c8s dns`: the cluster DNS server alone, for tests and debugging (the
 * agent runs the same server on every node). */
#include <pthread.h>
#include <signal.h>

#include "client/kclient.h"
#include "lib/flags.h"
#include "lib/log.h"
#include "net/dns.h"

static const char usage[] =
    "Usage: c8s dns --kubeconfig FILE [--bind ADDRESS] [--port PORT] [flags]\n"
    "\n"
    "Serve the cluster DNS names (Services, EndpointSlices, pods) of the cluster the\n"
    "kubeconfig names. Other names go to the --upstream servers (none by default:\n"
    "SERVFAIL). For tests and debugging; the node agent runs the same server.";

int dns_main(int argc, char **argv)
{
	const char *kubeconfig = NULL, *bind = "127.0.0.1", *domain = "cluster.local";
	const char *resolv = NULL;
	const char **upstreams = NULL;
	int port = 53, ttl = 5, threads = 2, verbosity = 0;
	const struct flag flags[] = {
		{ "kubeconfig", FLAG_STRING, &kubeconfig, "Kubeconfig to reach the API server" },
		{ "bind", FLAG_STRING, &bind, "Address to serve on (default 127.0.0.1)" },
		{ "port", FLAG_INT, &port, "UDP and TCP port (default 53; 0 picks one)" },
		{ "cluster-domain", FLAG_STRING, &domain,
		  "Cluster domain (default cluster.local)" },
		{ "upstream", FLAG_STRV, &upstreams,
		  "Server for names outside the cluster domain, IP[:PORT]; repeatable" },
		{ "resolv-conf", FLAG_STRING, &resolv,
		  "Take the upstream servers from this file's nameserver lines" },
		{ "ttl", FLAG_INT, &ttl, "TTL of the answers in seconds (default 5)" },
		{ "threads", FLAG_INT, &threads, "UDP worker threads (default 2)" },
		{ "v", FLAG_INT, &verbosity, "Log verbosity" },
		{ NULL },
	};
	int r = flags_parse(flags, usage, argc, argv, NULL);
	_cleanup_strv_free_ char **ups = NULL;
	if (r != 0)
		goto out;
	if (!kubeconfig) {
		fprintf(stderr, "c8s dns: --kubeconfig is required\n");
		r = -EINVAL;
		goto out;
	}
	log_set_verbosity(verbosity);
	if (resolv) {
		ups = dns_resolv_conf_nameservers(resolv);
	} else {
		size_t n = 0;
		for (const char **u = upstreams; u && *u; u++)
			n++;
		ups = xnew(char *, n + 1);
		for (size_t i = 0; i < n; i++)
			ups[i] = xstrdup(upstreams[i]);
	}

	_cleanup_free_ char *err = NULL;
	struct kclient *kc = NULL;
	struct kclient_opts ko = {
		.kubeconfig = kubeconfig,
		.user_agent = "c8s-dns/v0.1",
		.timeout_ms = 15000,
	};
	r = kclient_new(&ko, &kc, &err);
	if (r < 0) {
		fprintf(stderr, "c8s dns: %s\n", err ? err : "cannot make the API client");
		goto out;
	}
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct dns_opts o = {
		.bind_address = bind,
		.port = port,
		.cluster_domain = domain,
		.upstreams = ups,
		.ttl = ttl,
		.threads = threads,
	};
	struct dns_server *s = NULL;
	r = dns_server_start(kc, &o, &s);
	if (r == 0) {
		int sig;
		while (sigwait(&sigs, &sig) != 0)
			;
		log_info("dns: received %s; stopping", strsignal(sig));
		dns_server_stop(s);
	}
	kclient_free(kc);
out:
	for (const char **u = upstreams; u && *u; u++)
		free((char *)*u);
	free(upstreams);
	return r > 0 ? 0 : r < 0 ? 1 : 0;
}
