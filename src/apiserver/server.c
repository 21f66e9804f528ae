/* SPDX-License-Identifier: Apache-2.0 */
/* `c8s server`: the API server with its datastore. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <malloc.h>
#include <net/if.h>
#include <signal.h>
#include <sys/stat.h>

#include <gnutls/crypto.h>

#include "apiserver/alloc.h"
#include "apiserver/apiserver.h"
#include "apiserver/cache.h"
#include "apiserver/http.h"
#include "apiserver/ops.h"
#include "apiserver/proxy.h"
#include "apiserver/schema.h"
#include "lib/flags.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/random.h"
#include "store/store.h"

static const char usage[] =
    "Usage: c8s server [flags]\n\n"
    "Run the c8s control plane: the Kubernetes API server over an embedded SQLite\n"
    "datastore. On first start it creates a cluster CA, a serving certificate and an\n"
    "admin kubeconfig.";

/* ---- files ---- */

static int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static char *read_file(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	char buf[256];
	if (!fgets(buf, sizeof(buf), f))
		return NULL;
	buf[strcspn(buf, "\r\n")] = 0;
	return xstrdup(buf);
}

static int write_secret_file(const char *path, const char *content)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t n = strlen(content);
	if (write(fd, content, n) != (ssize_t)n || fsync(fd) < 0)
		return -EIO;
	if (rename(tmp, path) < 0)
		return -errno;
	return 0;
}

/* The admin bearer token, created once (components in this process and
 * the agent join flow use tokens; kubectl uses the client certificate). */
static char *ensure_token(const char *dir, const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	char *tok = read_file(path);
	if (tok && strlen(tok) >= 32)
		return tok;
	free(tok);
	char hex[65];
	random_hex(hex, 64);
	_cleanup_free_ char *line = xasprintf("%s\n", hex);
	int r = write_secret_file(path, line);
	if (r < 0)
		log_error("cannot write %s: %s", path, strerror(-r));
	return xstrdup(hex);
}

static char *first_host_address(void)
{
	struct ifaddrs *ifa, *i;
	char buf[INET_ADDRSTRLEN];
	char *best = NULL;
	if (getifaddrs(&ifa) < 0)
		return xstrdup("127.0.0.1");
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (!(i->ifa_flags & IFF_UP))
			continue;
		inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf,
			  sizeof(buf));
		best = xstrdup(buf);
		break;
	}
	freeifaddrs(ifa);
	return best ? best : xstrdup("127.0.0.1");
}

/* ---- bootstrap objects ---- */

static int create_if_missing(struct apiserver *srv, const char *plural, const char *group,
			     const char *ns, json_t *obj)
{
	struct api_op op;
	const struct resource *res = resource_find(group, group[0] ? "v1" : "v1", plural);
	api_op_init(&op, srv, res, VERB_CREATE);
	op.ns = ns;
	op.body = obj;
	op.user = "system:apiserver";
	int r = api_op_run_sync(&op);
	if (r < 0 && op.err.code != 409) {
		log_error("cannot create %s %s: %s", plural, json_get_str(obj, "metadata.name"),
			  op.err.message);
		api_op_release(&op);
		return -EIO;
	}
	api_op_release(&op);
	return 0;
}

/* Create obj, or bring an existing one's fields in line with it (a merge
 * patch of the fields named in keep; unchanged objects are not written). */
static int ensure_fields(struct apiserver *srv, const char *plural, const char *group,
			 const char *ns, json_t *obj, const char *const *keep)
{
	_cleanup_json_ json_t *patch = json_object();
	for (size_t i = 0; keep[i]; i++)
		json_object_set(patch, keep[i], json_object_get(obj, keep[i]));
	const char *name = json_get_str(obj, "metadata.name");
	_cleanup_free_ char *name_copy = xstrdup(name ? name : "");
	struct api_op op;
	const struct resource *res = resource_find(group, "v1", plural);
	api_op_init(&op, srv, res, VERB_CREATE);
	op.ns = ns;
	op.body = obj;
	op.user = "system:apiserver";
	int r = api_op_run_sync(&op);
	bool exists = r < 0 && op.err.code == 409;
	if (r < 0 && !exists) {
		log_error("cannot create %s %s: %s", plural, name_copy, op.err.message);
		api_op_release(&op);
		return -EIO;
	}
	api_op_release(&op);
	if (!exists)
		return 0;
	api_op_init(&op, srv, res, VERB_PATCH);
	op.ns = ns;
	op.name = name_copy;
	op.patch_type = PATCH_MERGE;
	op.body = TAKE_PTR(patch);
	op.user = "system:apiserver";
	r = api_op_run_sync(&op);
	if (r < 0)
		log_error("cannot update %s %s: %s", plural, name_copy, op.err.message);
	api_op_release(&op);
	return r < 0 ? -EIO : 0;
}

static int bootstrap(struct apiserver *srv)
{
	static const char *const namespaces[] = { "default", "kube-system", "kube-public",
						  "kube-node-lease" };
	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
		json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind",
				       "Namespace", "metadata", "name", namespaces[i]);
		if (create_if_missing(srv, "namespaces", "", NULL, ns) < 0)
			return -EIO;
	}
	char ip[16];
	alloc_nth_ip(srv->alloc, 1, ip);
	json_t *svc =
	    json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}, s:{s:s, s:s, s:[{s:s, s:i, s:s, s:i}]}}",
		      "apiVersion", "v1", "kind", "Service", "metadata", "name", "kubernetes",
		      "labels", "component", "apiserver", "provider", "kubernetes", "spec", "type",
		      "ClusterIP", "clusterIP", ip, "ports", "name", "https", "port", 443,
		      "protocol", "TCP", "targetPort", srv->opts.secure_port);
	if (create_if_missing(srv, "services", "", "default", svc) < 0)
		return -EIO;
	json_t *ep =
	    json_pack("{s:s, s:s, s:{s:s}, s:[{s:[{s:s}], s:[{s:s, s:i, s:s}]}]}", "apiVersion",
		      "v1", "kind", "Endpoints", "metadata", "name", "kubernetes", "subsets",
		      "addresses", "ip", srv->opts.advertise_address, "ports", "name", "https",
		      "port", srv->opts.secure_port, "protocol", "TCP");
	if (ensure_fields(srv, "endpoints", "", "default", ep,
			  (const char *const[]){ "subsets", NULL }) < 0)
		return -EIO;
	json_t *eps = json_pack(
	    "{s:s, s:s, s:{s:s, s:{s:s}}, s:s, s:[{s:[s], s:{s:b}}], s:[{s:s, s:i, s:s}]}",
	    "apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice", "metadata", "name",
	    "kubernetes", "labels", "kubernetes.io/service-name", "kubernetes", "addressType",
	    "IPv4", "endpoints", "addresses", srv->opts.advertise_address, "conditions", "ready", 1,
	    "ports", "name", "https", "port", srv->opts.secure_port, "protocol", "TCP");
	if (ensure_fields(srv, "endpointslices", "discovery.k8s.io", "default", eps,
			  (const char *const[]){ "endpoints", "ports", NULL }) < 0)
		return -EIO;
	/* The cluster DNS Service: every agent answers DNS on its address
	 * itself, so it has no selector (and no endpoints). Not fatal: the
	 * address may lie outside a --service-cidr given without it. */
	if (isempty(srv->opts.cluster_dns))
		return 0;
	json_t *dns = json_pack(
	    "{s:s, s:s, s:{s:s, s:{s:s, s:s, s:s}}, s:{s:s, s:s, s:[{s:s, s:i, s:s, s:i}, "
	    "{s:s, s:i, s:s, s:i}]}}",
	    "apiVersion", "v1", "kind", "Service", "metadata", "name", "kube-dns", "labels",
	    "k8s-app", "kube-dns", "kubernetes.io/cluster-service", "true", "kubernetes.io/name",
	    "CoreDNS", "spec", "type", "ClusterIP", "clusterIP", srv->opts.cluster_dns, "ports",
	    "name", "dns", "port", 53, "protocol", "UDP", "targetPort", 53, "name", "dns-tcp",
	    "port", 53, "protocol", "TCP", "targetPort", 53);
	create_if_missing(srv, "services", "", "kube-system", dns);
	return 0;
}

/* ---- background: compaction ---- */

static bool bg_wait(struct apiserver *srv, int64_t usec)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ns = ts.tv_nsec + (usec % 1000000) * 1000;
	ts.tv_sec += usec / 1000000 + ns / 1000000000;
	ts.tv_nsec = ns % 1000000000;
	pthread_mutex_lock(&srv->bg_mu);
	if (!srv->stopping)
		pthread_cond_timedwait(&srv->bg_cond, &srv->bg_mu, &ts);
	bool stop = srv->stopping;
	pthread_mutex_unlock(&srv->bg_mu);
	return !stop;
}

static void *compactor_main(void *arg)
{
	struct apiserver *srv = arg;
	int64_t prev = store_current_rev(srv->store);
	while (bg_wait(srv, srv->opts.compaction_interval_usec)) {
		int64_t now = store_current_rev(srv->store);
		if (prev > store_compacted_rev(srv->store)) {
			int r = store_compact(srv->store, prev);
			if (r < 0)
				log_error("compaction to revision %lld failed: %s", (long long)prev,
					  strerror(-r));
			else
				log_v(2, "compacted history up to revision %lld", (long long)prev);
		}
		/* Give back what freed objects left in the heap. */
		malloc_trim(0);
		prev = now;
	}
	return NULL;
}

/* ---- server ---- */

static volatile sig_atomic_t dummy;

int apiserver_main(int argc, char **argv, const struct server_hooks *hooks)
{
	struct apiserver srv_ = { 0 }, *srv = &srv_;
	int verbosity = 0;
	const char **tls_sans = NULL;
	int r;

	/* Many threads, few of them busy: two malloc arenas hold the heap
	 * instead of one per thread that ever allocated. */
	mallopt(M_ARENA_MAX, 2);
	srv->opts = (struct apiserver_opts){
		.data_dir = "/var/lib/c8s",
		.bind_address = "0.0.0.0",
		.secure_port = 6443,
		.compaction_interval_usec = 5LL * 60 * 1000000,
		.threads = 4,
		.max_body = 3 * 1024 * 1024,
		.service_cidr = "10.43.0.0/16",
		.service_node_port_range = "30000-32767",
		.cluster_dns = "10.43.0.10",
		.event_ttl_usec = 3600LL * 1000000,
		.default_not_ready_toleration_seconds = 5,
		.default_unreachable_toleration_seconds = 5,
	};
	int not_ready_tol = 5, unreachable_tol = 5;
	const struct flag flags[] = {
		{ "data-dir", FLAG_STRING, &srv->opts.data_dir,
		  "Directory for the datastore, certificates and credentials (default "
		  "/var/lib/c8s)" },
		{ "bind-address", FLAG_STRING, &srv->opts.bind_address,
		  "Address to serve HTTPS on (default 0.0.0.0)" },
		{ "secure-port", FLAG_INT, &srv->opts.secure_port,
		  "Port to serve HTTPS on (default 6443)" },
		{ "tls-san", FLAG_STRV, &tls_sans,
		  "Extra subject alternative names (IPs or DNS names) for the serving certificate; "
		  "repeatable" },
		{ "write-kubeconfig", FLAG_STRING, &srv->opts.write_kubeconfig,
		  "Where to write the admin kubeconfig (default <data-dir>/admin.kubeconfig)" },
		{ "datastore-endpoint", FLAG_STRING, &srv->opts.datastore,
		  "Datastore location: sqlite://PATH or etcd://HOST:PORT[,HOST:PORT...][/PREFIX] "
		  "(default sqlite://<data-dir>/db/state.db)" },
		{ "etcd-compaction-interval", FLAG_DURATION, &srv->opts.compaction_interval_usec,
		  "How often old revisions are compacted away (default 5m)" },
		{ "threads", FLAG_INT, &srv->opts.threads, "HTTP worker threads (default 4)" },
		{ "service-cluster-ip-range", FLAG_STRING, &srv->opts.service_cidr,
		  "CIDR for Service cluster IPs (default 10.43.0.0/16)" },
		{ "service-cidr", FLAG_STRING, &srv->opts.service_cidr,
		  "Alias of --service-cluster-ip-range" },
		{ "service-node-port-range", FLAG_STRING, &srv->opts.service_node_port_range,
		  "Port range for NodePort Services (default 30000-32767)" },
		{ "cluster-dns", FLAG_STRING, &srv->opts.cluster_dns,
		  "ClusterIP of the kube-system/kube-dns Service made at start (default "
		  "10.43.0.10)" },
		{ "advertise-address", FLAG_STRING, &srv->opts.advertise_address,
		  "Address published in the kubernetes Service's endpoints (default: the host's "
		  "first address)" },
		{ "event-ttl", FLAG_DURATION, &srv->opts.event_ttl_usec,
		  "How long events are kept (default 1h)" },
		{ "default-not-ready-toleration-seconds", FLAG_INT, &not_ready_tol,
		  "Toleration seconds for node.kubernetes.io/not-ready:NoExecute added to pods "
		  "without one (default 5)" },
		{ "default-unreachable-toleration-seconds", FLAG_INT, &unreachable_tol,
		  "Toleration seconds for node.kubernetes.io/unreachable:NoExecute added to pods "
		  "without one (default 5)" },
		{ "v", FLAG_INT, &verbosity, "Log verbosity (0-6)" },
		{ NULL },
	};
	/* The components' flags are accepted here too. */
	size_t nown = ARRAY_SIZE(flags) - 1, nextra = 0;
	while (hooks && hooks->extra_flags && hooks->extra_flags[nextra].name)
		nextra++;
	_cleanup_free_ struct flag *all = xnew(struct flag, nown + nextra + 1);
	memcpy(all, flags, nown * sizeof(*all));
	if (nextra)
		memcpy(all + nown, hooks->extra_flags, nextra * sizeof(*all));
	r = flags_parse(all, usage, argc, argv, NULL);
	if (r != 0)
		return r > 0 ? 0 : 2;
	log_set_verbosity(verbosity);
	srv->opts.default_not_ready_toleration_seconds = not_ready_tol;
	srv->opts.default_unreachable_toleration_seconds = unreachable_tol;
	srv->opts.tls_sans = tls_sans;
	srv->start_usec = now_usec_realtime();
	pthread_mutex_init(&srv->bg_mu, NULL);
	pthread_cond_init(&srv->bg_cond, NULL);
	_cleanup_free_ char *advertise = NULL;
	if (!srv->opts.advertise_address) {
		advertise = first_host_address();
		srv->opts.advertise_address = advertise;
	}

	/* Validate the schema early: a broken build fails here, loudly. */
	schema_builtin();

	r = mkdir_p(srv->opts.data_dir, 0700);
	if (r < 0) {
		log_error("cannot create data directory %s: %s", srv->opts.data_dir, strerror(-r));
		return 1;
	}
	_cleanup_free_ char *tls_dir = xasprintf("%s/tls", srv->opts.data_dir);
	_cleanup_free_ char *db_dir = xasprintf("%s/db", srv->opts.data_dir);
	_cleanup_free_ char *cred_dir = xasprintf("%s/cred", srv->opts.data_dir);
	mkdir_p(db_dir, 0700);
	mkdir_p(cred_dir, 0700);
	_cleanup_free_ char *err = NULL;
	r = certs_ensure(tls_dir, (const char *const *)srv->opts.tls_sans, &srv->certs, &err);
	if (r < 0) {
		log_error("cannot set up certificates in %s: %s", tls_dir,
			  err ? err : strerror(-r));
		return 1;
	}
	r = proxy_open(&srv->certs, &srv->proxy);
	if (r < 0)
		log_error("cannot issue the client certificate for node agents: %s (logs, exec and "
			  "port-forward will fail)",
			  strerror(-r));
	srv->admin_token = ensure_token(cred_dir, "admin-token");
	srv->node_token_secret = ensure_token(cred_dir, "node-token-secret");
	{
		/* Agents join with this (like k3s): the CA's hash lets them trust
		 * the CA they fetch from /cacerts before they have it. */
		unsigned char digest[32];
		char hex[65];
		gnutls_hash_fast(GNUTLS_DIG_SHA256, srv->certs.ca_cert_pem,
				 strlen(srv->certs.ca_cert_pem), digest);
		for (size_t i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", digest[i]);
		srv->node_token = xasprintf("K10%s::node:%s", hex, srv->node_token_secret);
		_cleanup_free_ char *path = xasprintf("%s/node-token", srv->opts.data_dir);
		_cleanup_free_ char *line = xasprintf("%s\n", srv->node_token);
		r = write_secret_file(path, line);
		if (r < 0)
			log_error("cannot write %s: %s", path, strerror(-r));
	}

	const char *host =
	    streq(srv->opts.bind_address, "0.0.0.0") || streq(srv->opts.bind_address, "::")
		? "127.0.0.1"
		: srv->opts.bind_address;
	srv->server_url = strchr(host, ':')
			      ? xasprintf("https://[%s]:%d", host, srv->opts.secure_port)
			      : xasprintf("https://%s:%d", host, srv->opts.secure_port);
	_cleanup_free_ char *kc_default = xasprintf("%s/admin.kubeconfig", srv->opts.data_dir);
	const char *kc = srv->opts.write_kubeconfig ? srv->opts.write_kubeconfig : kc_default;
	r = kubeconfig_write(kc, "c8s", srv->server_url, srv->certs.ca_cert_pem,
			     srv->certs.admin_cert_pem, srv->certs.admin_key_pem, NULL);
	if (r < 0) {
		log_error("cannot write kubeconfig %s: %s", kc, strerror(-r));
		return 1;
	}

	_cleanup_free_ char *db_default = xasprintf("sqlite://%s/state.db", db_dir);
	const char *loc = srv->opts.datastore ? srv->opts.datastore : db_default;
	r = store_open(loc, &srv->store);
	if (r < 0) {
		log_error("cannot open datastore %s: %s", loc,
			  r == -EBUSY ? "it is in use by another c8s server" : strerror(-r));
		return 1;
	}
	r = cache_open(srv->store, &srv->cache);
	if (r < 0) {
		log_error("cannot load the datastore into memory: %s", strerror(-r));
		store_close(srv->store);
		return 1;
	}
	int pmin = 30000, pmax = 32767;
	if (sscanf(srv->opts.service_node_port_range, "%d-%d", &pmin, &pmax) != 2) {
		log_error("--service-node-port-range must look like 30000-32767");
		return 2;
	}
	r = alloc_open(srv->opts.service_cidr, pmin, pmax, srv->cache, &srv->alloc);
	if (r < 0) {
		log_error("invalid --service-cluster-ip-range %s or node port range",
			  srv->opts.service_cidr);
		return 2;
	}
	if (bootstrap(srv) < 0)
		return 1;

	/* Signals are taken synchronously by this thread; every other thread
	 * inherits the mask. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (watch_hub_start(srv) < 0 || http_start(srv) < 0)
		return 1;
	/* The components in this process talk to the API over a Unix socket
	 * in the data directory, in plain HTTP: TLS and TCP on loopback cost
	 * more CPU than the requests they carry. */
	_cleanup_free_ char *sock = xasprintf("%s/api.sock", srv->opts.data_dir);
	r = http_start_local(srv, sock);
	if (r < 0)
		log_v(1, "no local listener on %s (%s): components use %s", sock, strerror(-r),
		      srv->server_url);
	pthread_create(&srv->compactor, NULL, compactor_main, srv);
	nsdeleter_start(srv);
	recorder_start(srv);

	void *components = NULL;
	if (hooks && hooks->start) {
		char hostname[64] = "c8s";
		gethostname(hostname, sizeof(hostname) - 1);
		_cleanup_free_ char *identity = xasprintf("%s_%d", hostname, getpid());
		_cleanup_free_ char *ca_file = xasprintf("%s/ca.crt", tls_dir);
		struct server_env env = {
			.server_url = srv->local_socket ? "http://localhost" : srv->server_url,
			.unix_socket = srv->local_socket,
			.ca_file = ca_file,
			.token = srv->admin_token,
			.identity = identity,
		};
		if (hooks->start(&env, &components) < 0)
			log_error("could not start the scheduler and controllers");
	}

	log_info("c8s API server listening on %s:%d (datastore %s, revision %lld)",
		 srv->opts.bind_address, srv->opts.secure_port, loc,
		 (long long)store_current_rev(srv->store));
	log_info("admin kubeconfig: %s  (export KUBECONFIG=%s)", kc, kc);
	log_info(
	    "node join token: %s/node-token  (c8s agent --server %s --token $(cat %s/node-token))",
	    srv->opts.data_dir, srv->server_url, srv->opts.data_dir);

	int sig;
	do {
		sigwait(&sigs, &sig);
	} while (sig == SIGHUP);
	log_info("received %s, shutting down", strsignal(sig));
	if (hooks && hooks->stop && components)
		hooks->stop(components);

	pthread_mutex_lock(&srv->bg_mu);
	srv->stopping = true;
	pthread_cond_broadcast(&srv->bg_cond);
	pthread_mutex_unlock(&srv->bg_mu);
	pthread_join(srv->compactor, NULL);
	nsdeleter_stop(srv);
	recorder_stop(srv);
	watch_hub_end_all(srv);
	proxy_close(srv->proxy);
	http_stop(srv);
	watch_hub_stop(srv);
	cache_close(srv->cache);
	store_close(srv->store);
	alloc_close(srv->alloc);
	certs_release(&srv->certs);
	free(srv->admin_token);
	free(srv->node_token);
	free(srv->node_token_secret);
	free(srv->server_url);
	if (tls_sans) {
		for (const char **s = tls_sans; *s; s++)
			free((char *)*s);
		free(tls_sans);
	}
	log_info("stopped");
	(void)dummy;
	return 0;
}
