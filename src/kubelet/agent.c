/* SPDX-License-Identifier: Apache-2.0 */
/* `c8s agent`: flags, the API client, signals; the work is done by a mode:
 * the real node agent (kubelet.h) or simulated nodes (--simulate N). */
#include <ctype.h>
#include <gnutls/crypto.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include "client/kclient.h"
#include "kubelet/agent.h"
#include "kubelet/kubelet.h"
#include "kubelet/simulate.h"
#include "lib/base64.h"
#include "lib/flags.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/yamljson.h"
#include "net/node_net.h"
#include "runtime/fsutil.h"

static const char usage[] =
    "Usage: c8s agent (--kubeconfig FILE | --server URL --token TOKEN) [flags]\n"
    "\n"
    "Run the node agent: register this machine as a Node and run the pods bound\n"
    "to it as containers (crun or runc under conmon). --token takes the join token\n"
    "the server writes to <server data dir>/node-token (K10<CA hash>::node:<secret>);\n"
    "the agent fetches the cluster CA from the server and checks it against the hash.\n"
    "\n"
    "With --simulate N it registers N simulated nodes named\n"
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
	struct kubelet_opts ko;
	const char **insecure;
	struct node_net_opts nn;
};

/* The node's network services (pod routes, service proxy, DNS) beside a
 * started kubelet. */
static int start_node_net(struct kclient *c, struct kubelet *k, const struct kubelet_opts *ko,
			  struct node_net_opts *nn, struct node_net **ret)
{
	_cleanup_free_ char *err = NULL;
	nn->node_name = kubelet_node_name(k);
	nn->cluster_dns = ko->cluster_dns;
	nn->cluster_domain = ko->cluster_domain;
	int r = node_net_start(c, nn, ret, &err);
	if (r < 0)
		log_error("cannot start the node's network services: %s", err ? err : strerror(-r));
	return r;
}

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

/* ---- the real agent ---- */

/* The cluster CA of a kubeconfig (certificate-authority-data or
 * certificate-authority), PEM; NULL if it has none. */
static char *kubeconfig_ca(const char *path, char **ret_err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = rt_read_file(path, &text, &len);
	if (r < 0) {
		*ret_err = xasprintf("cannot read %s: %s", path, strerror(-r));
		return NULL;
	}
	_cleanup_json_ json_t *kc = NULL;
	if (yaml_to_json(text, len, &kc, ret_err) < 0)
		return NULL;
	const char *cur = json_get_str(kc, "current-context");
	const char *cluster = NULL;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(kc, "contexts"), i, e)
	{
		if (!cur || streq_ptr(json_get_str(e, "name"), cur)) {
			cluster = json_get_str(e, "context.cluster");
			break;
		}
	}
	json_array_foreach(json_object_get(kc, "clusters"), i, e)
	{
		if (cluster && !streq_ptr(json_get_str(e, "name"), cluster))
			continue;
		const char *data = json_get_str(e, "cluster.certificate-authority-data");
		const char *file = json_get_str(e, "cluster.certificate-authority");
		if (data) {
			void *d = NULL;
			size_t dl = 0;
			if (base64_decode(data, strlen(data), &d, &dl) < 0) {
				*ret_err = xstrdup("certificate-authority-data is not base64");
				return NULL;
			}
			char *pem = xstrndup(d, dl);
			free(d);
			return pem;
		}
		if (file) {
			char *pem = NULL;
			if (rt_read_file(file, &pem, NULL) < 0) {
				*ret_err = xasprintf("cannot read %s", file);
				return NULL;
			}
			return pem;
		}
		break;
	}
	return NULL;
}

/* With a K10 join token: fetch /cacerts without verification, check its
 * sha256 against the token's hash, keep it in ca_path. */
static char *join_ca(const char *server, const char *token, const char *ca_path, char **ret_err)
{
	if (!startswith(token, "K10") || strlen(token) < 3 + 64 + 2 ||
	    !startswith(token + 3 + 64, "::")) {
		*ret_err =
		    xstrdup("--token is not a join token (K10<CA hash>::node:<secret>); give "
			    "--certificate-authority with a bare token");
		return NULL;
	}
	struct kclient_opts o = { .server = server, .user_agent = "c8s-agent/v0.1" };
	struct kclient *c = NULL;
	if (kclient_new(&o, &c, ret_err) < 0)
		return NULL;
	struct kresp r;
	int rr = kclient_do(c, "GET", "/cacerts", NULL, 0, NULL, &r);
	kclient_free(c);
	if (rr < 0 || r.code != 200) {
		char buf[256];
		*ret_err = xasprintf("cannot fetch the cluster CA from %s/cacerts: %s", server,
				     kresp_message(&r, buf, sizeof(buf)));
		kresp_release(&r);
		return NULL;
	}
	unsigned char digest[32];
	char hex[65];
	gnutls_hash_fast(GNUTLS_DIG_SHA256, r.body, r.len, digest);
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	if (strncasecmp(hex, token + 3, 64) != 0) {
		*ret_err =
		    xasprintf("the CA served by %s does not match the join token's hash", server);
		kresp_release(&r);
		return NULL;
	}
	char *pem = xstrndup(r.body, r.len);
	kresp_release(&r);
	int w = rt_write_file(ca_path, pem, strlen(pem), 0644);
	if (w < 0) {
		*ret_err = xasprintf("cannot write %s: %s", ca_path, strerror(-w));
		free(pem);
		return NULL;
	}
	return pem;
}

static int run_agent(struct agent_opts *ao)
{
	if (!ao->kubeconfig && !(ao->server && ao->token)) {
		fprintf(stderr,
			"c8s agent: give --kubeconfig FILE, or --server URL and --token TOKEN\n");
		return 2;
	}
	if (!streq(ao->ko.runtime, "crun") && !streq(ao->ko.runtime, "runc") &&
	    ao->ko.runtime[0] != '/') {
		fprintf(stderr, "c8s agent: --runtime must be crun, runc or a path\n");
		return 2;
	}
	if (ao->ko.stream_port < 0 || ao->ko.stream_port > 65535 || ao->ko.pod_workers < 1 ||
	    ao->ko.pod_workers > 50) {
		fprintf(stderr,
			"c8s agent: --stream-port must be 0-65535 and --pod-workers 1-50\n");
		return 2;
	}
	ao->ko.insecure_registries = (const char *const *)ao->insecure;
	int r = rt_mkdir_p(ao->ko.data_dir, 0700);
	if (r < 0) {
		fprintf(stderr, "c8s agent: cannot create %s: %s\n", ao->ko.data_dir, strerror(-r));
		return 1;
	}
	_cleanup_free_ char *err = NULL, *ca_pem = NULL;
	_cleanup_free_ char *ca_path = xasprintf("%s/server-ca.crt", ao->ko.data_dir);
	const char *ca_file = ao->ca_file;
	if (ao->kubeconfig) {
		ca_pem = kubeconfig_ca(ao->kubeconfig, &err);
		if (!ca_pem && err) {
			fprintf(stderr, "c8s agent: %s\n", err);
			return 1;
		}
	} else if (ao->ca_file) {
		if (rt_read_file(ao->ca_file, &ca_pem, NULL) < 0) {
			fprintf(stderr, "c8s agent: cannot read %s\n", ao->ca_file);
			return 1;
		}
	} else {
		ca_pem = join_ca(ao->server, ao->token, ca_path, &err);
		if (!ca_pem) {
			fprintf(stderr, "c8s agent: %s\n", err);
			return 1;
		}
		ca_file = ca_path;
	}
	struct kclient_opts ko = {
		.kubeconfig = ao->kubeconfig,
		.server = ao->kubeconfig ? NULL : ao->server,
		.token = ao->token,
		.ca_file = ca_file,
		.user_agent = "c8s-agent/v0.1",
		.timeout_ms = 15000,
	};
	struct kclient *client = NULL;
	r = kclient_new(&ko, &client, &err);
	if (r < 0) {
		log_error("%s", err);
		return 1;
	}
	ao->ko.client_ca_pem = ca_pem;
	/* Few threads allocate at once: one malloc arena keeps the idle RSS
	 * small (a node agent should cost the node little). */
	mallopt(M_ARENA_MAX, 1);

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct kubelet *k = NULL;
	free(err);
	err = NULL;
	r = kubelet_start(client, &ao->ko, &k, &err);
	if (r < 0) {
		log_error("cannot start the node agent: %s", err ? err : strerror(-r));
		kclient_free(client);
		return 1;
	}
	struct node_net *net = NULL;
	if (start_node_net(client, k, &ao->ko, &ao->nn, &net) < 0) {
		kubelet_stop(k);
		kclient_free(client);
		return 1;
	}
	int sig;
	do {
		if (sigwait(&sigs, &sig) != 0)
			sig = SIGHUP;
	} while (sig == SIGHUP);
	log_info("received %s; stopping (containers keep running)", strsignal(sig));
	node_net_stop(net);
	kubelet_stop(k);
	kclient_free(client);
	log_info("stopped");
	return 0;
}

/* ---- in the server process (c8s server --with-agent) ---- */

static struct {
	bool enabled;
	struct kubelet_opts ko;
	const char **insecure;
	struct node_net_opts nn;
	bool set;
} emb;

const struct flag *agent_embedded_flags(void)
{
	static struct flag flags[20];
	if (!emb.set) {
		kubelet_opts_default(&emb.ko);
		emb.set = true;
	}
	size_t n = 0;
	flags[n++] =
	    (struct flag){ "with-agent", FLAG_BOOL, &emb.enabled,
			   "Also run a node agent in this process (a one-machine cluster)" };
	flags[n++] = (struct flag){ "node-name", FLAG_STRING, &emb.ko.node_name,
				    "With --with-agent: the node's name (default: the host name)" };
	flags[n++] = (struct flag){ "node-ip", FLAG_STRING, &emb.ko.node_ip,
				    "With --with-agent: the node's address" };
	flags[n++] =
	    (struct flag){ "agent-data-dir", FLAG_STRING, &emb.ko.data_dir,
			   "With --with-agent: the agent's data (default /var/lib/c8s/agent)" };
	flags[n++] =
	    (struct flag){ "agent-root-dir", FLAG_STRING, &emb.ko.root_dir,
			   "With --with-agent: the agent's run state (default /run/c8s/agent)" };
	flags[n++] = (struct flag){ "runtime", FLAG_STRING, &emb.ko.runtime,
				    "With --with-agent: crun (default) or runc" };
	flags[n++] = (struct flag){ "stream-port", FLAG_INT, &emb.ko.stream_port,
				    "With --with-agent: the agent's HTTPS port (default 10250)" };
	flags[n++] =
	    (struct flag){ "cluster-dns", FLAG_STRING, &emb.ko.cluster_dns,
			   "With --with-agent: the pods' DNS server (default 10.43.0.10)" };
	flags[n++] =
	    (struct flag){ "insecure-registry", FLAG_STRV, &emb.insecure,
			   "With --with-agent: HOST:PORT spoken to over plain HTTP; repeatable" };
	flags[n++] = (struct flag){ "cgroup-root", FLAG_STRING, &emb.ko.cgroup_root,
				    "With --with-agent: parent cgroup of the pods (default /c8s)" };
	flags[n++] = (struct flag){ "resolv-conf", FLAG_STRING, &emb.nn.resolv_conf,
				    "With --with-agent: upstream resolvers of the cluster DNS "
				    "(default /etc/resolv.conf; \"\" for none)" };
	flags[n++] = (struct flag){ "disable-service-proxy", FLAG_BOOL, &emb.nn.disable_proxy,
				    "With --with-agent: no service proxy on this node" };
	flags[n++] = (struct flag){ "disable-dns", FLAG_BOOL, &emb.nn.disable_dns,
				    "With --with-agent: no cluster DNS server on this node" };
	flags[n] = (struct flag){ NULL };
	return flags;
}

struct embedded {
	struct kclient *c;
	struct kubelet *k;
	struct node_net *net;
	char *ca_pem;
};

int agent_embedded_start(const char *server_url, const char *unix_socket, const char *ca_file,
			 const char *token, void **ret)
{
	*ret = NULL;
	if (!emb.enabled)
		return 0;
	struct embedded *e = xnew(struct embedded, 1);
	_cleanup_free_ char *err = NULL;
	if (rt_read_file(ca_file, &e->ca_pem, NULL) < 0)
		e->ca_pem = NULL;
	struct kclient_opts ko = { .server = server_url,
				   .unix_socket = unix_socket,
				   .token = token,
				   .ca_file = ca_file,
				   .user_agent = "c8s-agent/v0.1",
				   .timeout_ms = 15000 };
	int r = kclient_new(&ko, &e->c, &err);
	if (r >= 0) {
		emb.ko.client_ca_pem = e->ca_pem;
		emb.ko.insecure_registries = (const char *const *)emb.insecure;
		r = kubelet_start(e->c, &emb.ko, &e->k, &err);
		if (r >= 0)
			r = start_node_net(e->c, e->k, &emb.ko, &emb.nn, &e->net);
	}
	if (r < 0) {
		log_error("cannot start the node agent: %s", err ? err : strerror(-r));
		agent_embedded_stop(e);
		return r;
	}
	*ret = e;
	return 0;
}

void agent_embedded_stop(void *p)
{
	struct embedded *e = p;
	if (!e)
		return;
	node_net_stop(e->net);
	kubelet_stop(e->k);
	kclient_free(e->c);
	free(e->ca_pem);
	free(e);
}

int agent_main(int argc, char **argv)
{
	struct agent_opts ao = { .simulate = -1 };
	kubelet_opts_default(&ao.ko);
	struct sim_opts so;
	sim_opts_default(&so);
	const struct flag flags[] = {
		{ "kubeconfig", FLAG_STRING, &ao.kubeconfig,
		  "Kubeconfig to reach the API server (the admin kubeconfig works)" },
		{ "server", FLAG_STRING, &ao.server, "API server URL, without a kubeconfig" },
		{ "token", FLAG_STRING, &ao.token, "Bearer token, with --server" },
		{ "certificate-authority", FLAG_STRING, &ao.ca_file,
		  "CA file to verify the server with --server (default: not verified)" },
		{ "node-name", FLAG_STRING, &ao.ko.node_name,
		  "The node's name (default: the host name)" },
		{ "data-dir", FLAG_STRING, &ao.ko.data_dir,
		  "Images, logs and certificates (default /var/lib/c8s/agent)" },
		{ "root-dir", FLAG_STRING, &ao.ko.root_dir,
		  "Run state: pods, containers, sandboxes (default /run/c8s/agent)" },
		{ "runtime", FLAG_STRING, &ao.ko.runtime, "OCI runtime: crun (default) or runc" },
		{ "cluster-dns", FLAG_STRING, &ao.ko.cluster_dns,
		  "The pods' DNS server (default 10.43.0.10; \"\" for the host's resolv.conf)" },
		{ "cluster-domain", FLAG_STRING, &ao.ko.cluster_domain,
		  "The cluster's DNS domain (default cluster.local)" },
		{ "node-ip", FLAG_STRING, &ao.ko.node_ip,
		  "The node's address (default: the first global IPv4 address)" },
		{ "stream-port", FLAG_INT, &ao.ko.stream_port,
		  "HTTPS port for logs, exec, attach and port-forward (default 10250)" },
		{ "cni-bin-dir", FLAG_STRING, &ao.ko.cni_bin_dir,
		  "CNI plugins (default /usr/lib/cni)" },
		{ "cgroup-root", FLAG_STRING, &ao.ko.cgroup_root,
		  "Parent cgroup of the pods (default /c8s)" },
		{ "cluster-cidr", FLAG_STRING, &ao.nn.cluster_cidr,
		  "The pod network of the cluster (default 10.42.0.0/16)" },
		{ "service-cidr", FLAG_STRING, &ao.nn.service_cidr,
		  "The Service network of the cluster (default 10.43.0.0/16)" },
		{ "resolv-conf", FLAG_STRING, &ao.nn.resolv_conf,
		  "Upstream resolvers of the cluster DNS (default /etc/resolv.conf; \"\" for "
		  "none)" },
		{ "disable-service-proxy", FLAG_BOOL, &ao.nn.disable_proxy,
		  "No service proxy on this node" },
		{ "disable-dns", FLAG_BOOL, &ao.nn.disable_dns,
		  "No cluster DNS server on this node" },
		{ "insecure-registry", FLAG_STRV, &ao.insecure,
		  "HOST:PORT of a registry spoken to over plain HTTP; repeatable" },
		{ "pod-workers", FLAG_INT, &ao.ko.pod_workers, "Pods synced at once (default 8)" },
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
		log_set_verbosity(ao.verbosity);
		ret = run_agent(&ao);
	} else {
		log_set_verbosity(ao.verbosity);
		ret = run_simulation(&ao, &so);
	}
	strv_free_const(so.labels);
	strv_free_const(so.fail_after);
	strv_free_const(ao.insecure);
	return ret;
}
