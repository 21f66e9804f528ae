/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `c8s cluster create|delete|list|load`: a local multi-node cluster on one
 * machine, like kind without Docker. Each node is a network namespace on a
 * lab bridge (cluster/lab.h) running one `c8s agent`; the first node also
 * runs `c8s server` on the embedded SQLite. What a cluster is made of is
 * recorded in <state-dir>/<name>/cluster.json before it is made, so that
 * `delete` removes it all even after a failed or interrupted create.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client/kclient.h"
#include "cluster/cluster.h"
#include "cluster/lab.h"
#include "cluster/procs.h"
#include "lib/flags.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/names.h"
#include "lib/timeutil.h"
#include "runtime/fsutil.h"
#include "runtime/image.h"

#define DEFAULT_STATE_DIR "/var/lib/c8s/clusters"
#define DEFAULT_RUN_DIR	  "/run/c8s/clusters"
#define API_PORT	  6443

struct cluster_opts {
	const char *name;
	int nodes;
	const char *state_dir;
	const char *run_dir;
	const char *kubeconfig;
	const char *runtime;
	const char *lb_cidr;
	int64_t wait_usec;
	const char **server_args;
	const char **agent_args;
	int verbosity;
};

/* ---- state ---- */

static char *cluster_dir(const struct cluster_opts *o)
{
	return xasprintf("%s/%s", o->state_dir, o->name);
}

static char *run_dir(const struct cluster_opts *o)
{
	return xasprintf("%s/%s", o->run_dir, o->name);
}

static char *state_path(const struct cluster_opts *o)
{
	return xasprintf("%s/%s/cluster.json", o->state_dir, o->name);
}

static int state_write(const struct cluster_opts *o, json_t *st)
{
	_cleanup_free_ char *path = state_path(o);
	_cleanup_free_ char *body = json_dumps(st, JSON_INDENT(1));
	return rt_write_file(path, body, strlen(body), 0600);
}

static json_t *state_read(const struct cluster_opts *o)
{
	_cleanup_free_ char *path = state_path(o);
	json_error_t jerr;
	return json_load_file(path, 0, &jerr);
}

static void node_name(const struct cluster_opts *o, int i, char *buf, size_t size)
{
	snprintf(buf, size, "%s-node-%d", o->name, i);
}

/* ---- talking to the cluster ---- */

static struct kclient *connect_cluster(const char *kubeconfig)
{
	struct kclient *kc = NULL;
	char *err = NULL;
	struct kclient_opts ko = { .kubeconfig = kubeconfig,
				   .user_agent = "c8s-cluster/v0.1",
				   .timeout_ms = 2000 };
	if (kclient_new(&ko, &kc, &err) < 0) {
		log_v(4, "cannot use %s yet: %s", kubeconfig, err ? err : "?");
		free(err);
		return NULL;
	}
	return kc;
}

static bool server_ready(const char *kubeconfig)
{
	if (access(kubeconfig, R_OK) < 0)
		return false;
	struct kclient *kc = connect_cluster(kubeconfig);
	if (!kc)
		return false;
	long code = 0;
	json_t *j = kclient_get(kc, "/readyz", &code);
	json_decref(j);
	kclient_free(kc);
	return code == 200;
}

static bool node_is_ready(json_t *node)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_get(node, "status.conditions"), i,
			   c) if (streq(str_or_empty_json(c, "type"),
					"Ready")) return streq(str_or_empty_json(c, "status"),
							       "True");
	return false;
}

/* How many of the cluster's nodes are Ready; with refs, how many are
 * Ready and list every ref in status.images. */
static int nodes_ready(struct kclient *kc, const struct cluster_opts *o, int nodes,
		       char *const *refs)
{
	long code = 0;
	_cleanup_json_ json_t *list = kclient_get(kc, "/api/v1/nodes", &code);
	int ready = 0;
	size_t i;
	json_t *n;
	if (code != 200)
		return 0;
	json_array_foreach(json_get(list, "items"), i, n)
	{
		const char *name = str_or_empty_json(n, "metadata.name");
		bool ours = false;
		for (int k = 0; k < nodes && !ours; k++) {
			char want[128];
			node_name(o, k, want, sizeof(want));
			ours = streq(name, want);
		}
		if (!ours || !node_is_ready(n))
			continue;
		bool all = true;
		for (char *const *r = refs; r && *r && all; r++) {
			bool found = false;
			size_t a, b;
			json_t *img, *nm;
			json_array_foreach(json_get(n, "status.images"), a, img)
			    json_array_foreach(json_object_get(img, "names"), b,
					       nm) if (streq(json_string_value(nm) ?: "", *r))
				found = true;
			all = found;
		}
		if (all)
			ready++;
	}
	return ready;
}

/* ---- delete ---- */

static int do_delete(const struct cluster_opts *o, bool quiet)
{
	_cleanup_json_ json_t *st = state_read(o);
	_cleanup_free_ char *dir = cluster_dir(o);
	_cleanup_free_ char *rdir = run_dir(o);
	struct lab lab = { .name = o->name };
	size_t i;
	json_t *n;

	if (!st) {
		if (!quiet)
			fprintf(stderr,
				"c8s cluster delete: no cluster \"%s\" (no %s/cluster.json)\n",
				o->name, dir);
		return 1;
	}
	lab.subnet = (int)json_get_int(st, "subnet", -1);
	lab.nodes = (int)json_array_size(json_get(st, "nodes"));
	const char *lb = json_get_str(st, "loadBalancerCIDR");

	/* 1. the agents, then the server, by their recorded pids */
	json_array_foreach(json_get(st, "nodes"), i, n)
	{
		pid_t pid = (pid_t)json_get_int(n, "agentPID", 0);
		const char *marker = json_get_str(n, "dataDir");
		if (pid > 0 && marker)
			proc_stop(pid, marker, 10000);
	}
	pid_t spid = (pid_t)json_get_int(st, "serverPID", 0);
	const char *smarker = json_get_str(st, "serverDataDir");
	if (spid > 0 && smarker)
		proc_stop(spid, smarker, 10000);

	/* 2. whatever still runs in the nodes' and the pods' network
	 * namespaces: conmon, containers */
	char **nsnames = xnew(char *, LAB_MAX_NODES + 1);
	for (int k = 0; k < LAB_MAX_NODES; k++) {
		char name[64];
		lab_node_netns_name(&lab, k, name, sizeof(name));
		nsnames[k] = xstrdup(name);
	}
	int left = procs_kill_in_netns(nsnames, rdir, 10000);
	if (left)
		log_warn("%d processes of cluster %s would not die", left, o->name);
	strv_freep(&nsnames);

	/* 3. mounts (pod sandboxes, rootfs overlays, volumes), cgroups */
	char *dirs[] = { rdir, dir, NULL };
	mounts_remove_under(dirs);
	json_array_foreach(json_get(st, "nodes"), i, n)
	{
		_cleanup_free_ char *rel = xasprintf("c8s/%s", str_or_empty_json(n, "name"));
		cgroups_remove(rel);
	}
	cgroups_remove_if_empty("c8s");

	/* 4. links, routes, namespaces */
	if (lab.subnet >= 0)
		lab_destroy(&lab, lb);

	/* 5. directories (the kubeconfig too, if it was ours) */
	const char *kc = json_get_str(st, "kubeconfig");
	if (kc && !startswith(kc, dir))
		unlink(kc);
	int r1 = rt_rm_rf(rdir), r2 = rt_rm_rf(dir);
	if (r1 < 0 && r1 != -ENOENT)
		log_warn("cannot remove %s: %s", rdir, strerror(-r1));
	if (r2 < 0 && r2 != -ENOENT)
		log_warn("cannot remove %s: %s", dir, strerror(-r2));
	if (!quiet)
		printf("Deleted cluster \"%s\"\n", o->name);
	return 0;
}

/* ---- create ---- */

static int pick_subnet(const struct cluster_opts *o)
{
	bool used[256] = { false };
	/* Subnets of the other clusters (even stopped ones). */
	DIR *dd = opendir(o->state_dir);
	struct dirent *de;
	while (dd && (de = readdir(dd))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s/cluster.json", o->state_dir, de->d_name);
		json_error_t jerr;
		_cleanup_json_ json_t *st = json_load_file(p, 0, &jerr);
		int k = (int)json_get_int(st, "subnet", -1);
		if (k >= 0 && k < 256)
			used[k] = true;
	}
	if (dd)
		closedir(dd);
	for (int k = 200; k < 256; k++)
		if (!used[k] && lab_subnet_free(k))
			return k;
	return -1;
}

static const char *self_exe(void)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0)
		return "/proc/self/exe";
	path[n] = 0;
	return path;
}

/* argv of a component: base args, then the user's extra args. */
static const char **build_argv(const char *const *base, const char **extra)
{
	size_t n = 0, m = 0;
	while (base[n])
		n++;
	while (extra && extra[m])
		m++;
	const char **v = xnew(const char *, n + m + 1);
	memcpy(v, base, n * sizeof(*v));
	for (size_t i = 0; i < m; i++)
		v[n + i] = extra[i];
	return v;
}

/* The last lines of every log, before a failed create removes them. */
static void print_log_tails(const char *logs)
{
	DIR *d = logs ? opendir(logs) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s", logs, de->d_name);
		_cleanup_free_ char *body = NULL;
		size_t len = 0;
		if (rt_read_file(path, &body, &len) < 0 || !len)
			continue;
		const char *p = body + len;
		for (int lines = 0; p > body && lines < 9;)
			if (*--p == '\n' && p + 1 < body + len)
				lines++;
		fprintf(stderr, "--- %s (last lines)\n%s%s", de->d_name, p,
			body[len - 1] == '\n' ? "" : "\n");
	}
	if (d)
		closedir(d);
}

static int do_create(const struct cluster_opts *o)
{
	_cleanup_free_ char *dir = cluster_dir(o);
	_cleanup_free_ char *rdir = run_dir(o);
	_cleanup_free_ char *sdir = NULL, *logs = NULL, *kubeconfig = NULL, *token = NULL;
	_cleanup_free_ char *server_url = NULL;
	_cleanup_json_ json_t *st = NULL;
	struct lab lab = { .name = o->name, .nodes = o->nodes };
	char *err = NULL;
	int64_t t0 = (int64_t)now_usec_monotonic();
	int r;

	_cleanup_free_ char *spath = state_path(o);
	if (access(spath, F_OK) == 0) {
		fprintf(stderr,
			"c8s cluster create: cluster \"%s\" already exists (c8s cluster delete "
			"--name %s)\n",
			o->name, o->name);
		return 1;
	}
	lab.subnet = pick_subnet(o);
	if (lab.subnet < 0) {
		fprintf(stderr, "c8s cluster create: no free lab subnet in 172.30.200-255.0/24\n");
		return 1;
	}
	char lab_ns[64];
	lab_netns_name(&lab, lab_ns, sizeof(lab_ns));
	if (lab_netns_exists(lab_ns)) {
		fprintf(stderr,
			"c8s cluster create: network namespace %s exists but no cluster.json: "
			"remove it with `ip netns del %s`\n",
			lab_ns, lab_ns);
		return 1;
	}

	sdir = xasprintf("%s/server", dir);
	logs = xasprintf("%s/logs", dir);
	kubeconfig = o->kubeconfig ? xstrdup(o->kubeconfig) : xasprintf("%s/kubeconfig", dir);
	if ((r = rt_mkdir_p(logs, 0700)) < 0 || (r = rt_mkdir_p(sdir, 0700)) < 0 ||
	    (r = rt_mkdir_p(rdir, 0700)) < 0) {
		fprintf(stderr, "c8s cluster create: cannot create %s: %s\n", dir, strerror(-r));
		return 1;
	}

	char server_ip[32], host_ip[32];
	lab_node_ip(&lab, 0, server_ip, sizeof(server_ip));
	lab_host_ip(&lab, host_ip, sizeof(host_ip));
	server_url = xasprintf("https://%s:%d", server_ip, API_PORT);

	/* The plan, written before anything is made. */
	st = json_pack("{s:s, s:i, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:[]}", "name", o->name,
		       "subnet", lab.subnet, "serverPID", 0, "serverDataDir", sdir, "server",
		       server_url, "hostIP", host_ip, "kubeconfig", kubeconfig, "runDir", rdir,
		       "loadBalancerCIDR", o->lb_cidr, "nodes");
	for (int i = 0; i < o->nodes; i++) {
		char name[128], ip[32], ns[64];
		node_name(o, i, name, sizeof(name));
		lab_node_ip(&lab, i, ip, sizeof(ip));
		lab_node_netns_name(&lab, i, ns, sizeof(ns));
		_cleanup_free_ char *ddir = xasprintf("%s/%s", dir, name);
		_cleanup_free_ char *ndir = xasprintf("%s/%s", rdir, name);
		json_array_append_new(json_get(st, "nodes"),
				      json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "name", name,
						"ip", ip, "netns", ns, "dataDir", ddir, "rootDir",
						ndir, "agentPID", 0));
	}
	if ((r = state_write(o, st)) < 0) {
		fprintf(stderr, "c8s cluster create: cannot write %s: %s\n", spath, strerror(-r));
		return 1;
	}

	/* The network. */
	if (lab_create(&lab, &err) < 0)
		goto fail;

	/* The server, on the first node. */
	{
		char ns0[64];
		lab_node_netns_name(&lab, 0, ns0, sizeof(ns0));
		char port[16], verb[16];
		snprintf(port, sizeof(port), "%d", API_PORT);
		snprintf(verb, sizeof(verb), "%d", o->verbosity);
		const char *base[] = { self_exe(),
				       "server",
				       "--data-dir",
				       sdir,
				       "--bind-address",
				       server_ip,
				       "--secure-port",
				       port,
				       "--tls-san",
				       server_ip,
				       "--write-kubeconfig",
				       kubeconfig,
				       "--service-lb-cidr",
				       o->lb_cidr,
				       "-v",
				       verb,
				       NULL };
		_cleanup_free_ const char **argv = build_argv(base, o->server_args);
		_cleanup_free_ char *log = xasprintf("%s/server.log", logs);
		pid_t pid;
		unlink(kubeconfig);
		if (proc_start_in_netns(ns0, argv, log, &pid, &err) < 0)
			goto fail;
		json_object_set_new(st, "serverPID", json_integer(pid));
		state_write(o, st);
	}

	/* Wait for it, then read the join token it wrote. */
	int64_t deadline = t0 + o->wait_usec;
	while (!server_ready(kubeconfig)) {
		if ((int64_t)now_usec_monotonic() > deadline) {
			err = xasprintf("the API server did not become ready; see %s/server.log",
					logs);
			goto fail;
		}
		pid_t spid = (pid_t)json_get_int(st, "serverPID", 0);
		if (kill(spid, 0) < 0 && errno == ESRCH) {
			err = xasprintf("the API server exited; see %s/server.log", logs);
			goto fail;
		}
		usleep(20000);
	}
	{
		_cleanup_free_ char *tpath = xasprintf("%s/node-token", sdir);
		size_t len;
		r = rt_read_file(tpath, &token, &len);
		if (r < 0) {
			err = xasprintf("cannot read the join token %s: %s", tpath, strerror(-r));
			goto fail;
		}
		token[strcspn(token, "\r\n")] = 0;
	}

	/* One agent per node. */
	{
		size_t i;
		json_t *n;
		char verb[16];
		snprintf(verb, sizeof(verb), "%d", o->verbosity);
		json_array_foreach(json_get(st, "nodes"), i, n)
		{
			const char *ddir = json_get_str(n, "dataDir");
			_cleanup_free_ char *cgroot = xasprintf("/c8s/%s", json_get_str(n, "name"));
			const char *ndir = json_get_str(n, "rootDir");
			if ((r = rt_mkdir_p(ddir, 0700)) < 0 || (r = rt_mkdir_p(ndir, 0700)) < 0) {
				err = xasprintf("cannot create %s: %s", ddir, strerror(-r));
				goto fail;
			}
			const char *base[] = { self_exe(), "agent", "--server", server_url,
					       "--token", token, "--node-name",
					       json_get_str(n, "name"), "--node-ip",
					       json_get_str(n, "ip"), "--data-dir", ddir,
					       "--root-dir", ndir, "--runtime", o->runtime,
					       "--cgroup-root", cgroot,
					       /* no upstream resolvers in the lab */
					       "--resolv-conf=", "-v", verb, NULL };
			_cleanup_free_ const char **argv = build_argv(base, o->agent_args);
			_cleanup_free_ char *log =
			    xasprintf("%s/%s.log", logs, json_get_str(n, "name"));
			pid_t pid;
			if (proc_start_in_netns(json_get_str(n, "netns"), argv, log, &pid, &err) <
			    0)
				goto fail;
			json_object_set_new(n, "agentPID", json_integer(pid));
		}
		state_write(o, st);
	}

	/* Every node Ready. */
	{
		struct kclient *kc = connect_cluster(kubeconfig);
		int ready = 0;
		while (kc && (ready = nodes_ready(kc, o, o->nodes, NULL)) < o->nodes) {
			if ((int64_t)now_usec_monotonic() > deadline)
				break;
			usleep(20000);
		}
		kclient_free(kc);
		if (ready < o->nodes) {
			err =
			    xasprintf("%d of %d nodes Ready before the timeout; see the logs in %s",
				      ready, o->nodes, logs);
			goto fail;
		}
	}
	if (lab_route_add(&lab, o->lb_cidr, &err) < 0)
		goto fail;

	double secs = (double)((int64_t)now_usec_monotonic() - t0) / 1e6;
	printf("Cluster \"%s\": %d node%s Ready in %.2f s (API server %s)\n", o->name, o->nodes,
	       o->nodes == 1 ? "" : "s", secs, server_url);
	printf("kubeconfig: %s\n\n  export KUBECONFIG=%s\n  kubectl get nodes\n", kubeconfig,
	       kubeconfig);
	return 0;

fail:
	fprintf(stderr, "c8s cluster create: %s\n", err ? err : "failed");
	free(err);
	print_log_tails(logs);
	fprintf(stderr, "c8s cluster create: removing what was made\n");
	do_delete(o, true);
	return 1;
}

/* ---- list, load ---- */

static int do_list(const struct cluster_opts *o)
{
	DIR *d = opendir(o->state_dir);
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		struct cluster_opts c = *o;
		c.name = de->d_name;
		_cleanup_json_ json_t *st = state_read(&c);
		if (!st)
			continue;
		pid_t spid = (pid_t)json_get_int(st, "serverPID", 0);
		printf("%-16s %2zu nodes  %-26s %s\n", de->d_name,
		       json_array_size(json_get(st, "nodes")), str_or_empty_json(st, "server"),
		       proc_matches(spid, str_or_empty_json(st, "serverDataDir")) ? "running"
										  : "stopped");
		n++;
	}
	if (d)
		closedir(d);
	if (!n)
		printf("No clusters\n");
	return 0;
}

/* The ref names an archive gives its images, as the agents will name them:
 * import it into a throw-away store. */
static int archive_refs(const char *tmpdir, const char *path, char ***ret_refs, char **ret_err)
{
	struct image_store *s = NULL;
	int r = image_store_open(tmpdir, NULL, &s);
	if (r < 0) {
		*ret_err = xasprintf("cannot open an image store in %s: %s", tmpdir, strerror(-r));
		return r;
	}
	r = image_import(s, path, ret_refs, ret_err);
	image_store_close(s);
	return r;
}

static int copy_file(const char *from, const char *to)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-load", to);
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	_cleanup_close_ int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	char buf[1 << 16];
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0) {
				unlink(tmp);
				return -errno;
			}
			off += w;
		}
	if (n < 0 || fsync(out) < 0) {
		int e = -errno;
		unlink(tmp);
		return e;
	}
	if (rename(tmp, to) < 0)
		return -errno;
	return 0;
}

static int do_load(const struct cluster_opts *o, char **archives)
{
	_cleanup_json_ json_t *st = state_read(o);
	_cleanup_free_ char *dir = cluster_dir(o);
	_cleanup_strv_free_ char **all_refs = NULL;
	size_t nrefs = 0;
	int r;

	if (!st) {
		fprintf(stderr, "c8s cluster load: no cluster \"%s\"\n", o->name);
		return 1;
	}
	if (!archives || !archives[0]) {
		fprintf(stderr, "c8s cluster load: name at least one image archive\n");
		return 2;
	}
	for (char **a = archives; *a; a++) {
		_cleanup_free_ char *tmp = xasprintf("%s/load-tmp", dir);
		char *err = NULL;
		char **refs = NULL;
		rt_rm_rf(tmp);
		r = archive_refs(tmp, *a, &refs, &err);
		rt_rm_rf(tmp);
		if (r < 0) {
			fprintf(stderr, "c8s cluster load: %s: %s\n", *a, err ? err : strerror(-r));
			free(err);
			return 1;
		}
		for (char **p = refs; p && *p; p++) {
			all_refs = xrealloc(all_refs, (nrefs + 2) * sizeof(char *));
			all_refs[nrefs++] = *p;
			all_refs[nrefs] = NULL;
		}
		free(refs);

		const char *base = strrchr(*a, '/') ? strrchr(*a, '/') + 1 : *a;
		size_t i;
		json_t *n;
		json_array_foreach(json_get(st, "nodes"), i, n)
		{
			_cleanup_free_ char *idir =
			    xasprintf("%s/images", json_get_str(n, "dataDir"));
			_cleanup_free_ char *to = xasprintf(
			    "%s/%s%s", idir, base,
			    strlen(base) > 4 && streq(base + strlen(base) - 4, ".tar") ? ""
										       : ".tar");
			if ((r = rt_mkdir_p(idir, 0700)) < 0 || (r = copy_file(*a, to)) < 0) {
				fprintf(stderr, "c8s cluster load: copying %s to %s: %s\n", *a, to,
					strerror(-r));
				return 1;
			}
		}
	}

	int nodes = (int)json_array_size(json_get(st, "nodes"));
	struct kclient *kc = connect_cluster(json_get_str(st, "kubeconfig"));
	int64_t deadline = (int64_t)now_usec_monotonic() + o->wait_usec;
	int have = 0;
	while (kc && (have = nodes_ready(kc, o, nodes, all_refs)) < nodes &&
	       (int64_t)now_usec_monotonic() < deadline)
		usleep(50000);
	kclient_free(kc);
	if (have < nodes) {
		fprintf(stderr,
			"c8s cluster load: %d of %d nodes show the images before the timeout\n",
			have, nodes);
		return 1;
	}
	for (size_t i = 0; i < nrefs; i++)
		printf("Image \"%s\" loaded on %d node%s\n", all_refs[i], nodes,
		       nodes == 1 ? "" : "s");
	return 0;
}

/* ---- main ---- */

static const char usage[] =
    "Usage: c8s cluster create [--name NAME] [--nodes N] [flags]\n"
    "       c8s cluster delete [--name NAME]\n"
    "       c8s cluster load [--name NAME] ARCHIVE...\n"
    "       c8s cluster list\n"
    "\n"
    "A local multi-node cluster on this machine, like kind without Docker: a lab\n"
    "network namespace with no default route, one network namespace per node on a\n"
    "lab bridge, `c8s server` (embedded SQLite) on the first node and `c8s agent`\n"
    "on every node. This machine reaches the nodes' addresses (172.30.K.0/24: the\n"
    "API server, NodePorts) through the link c8s-NAME, and the LoadBalancer pool\n"
    "through a route via the first node. `load` copies docker-archive or\n"
    "oci-archive tarballs to every node and waits until each node lists them.";

int cluster_main(int argc, char **argv)
{
	struct cluster_opts o = {
		.name = "c8s",
		.nodes = 1,
		.state_dir = DEFAULT_STATE_DIR,
		.run_dir = DEFAULT_RUN_DIR,
		.runtime = "crun",
		.lb_cidr = "10.44.0.0/24",
		.wait_usec = 60LL * 1000000,
	};
	const struct flag flags[] = {
		{ "name", FLAG_STRING, &o.name,
		  "Cluster name, a DNS label of at most 11 characters (default c8s)" },
		{ "nodes", FLAG_INT, &o.nodes,
		  "create: number of nodes (default 1; the first also runs the server)" },
		{ "kubeconfig", FLAG_STRING, &o.kubeconfig,
		  "create: where to write the admin kubeconfig (default "
		  "<state-dir>/NAME/kubeconfig)" },
		{ "state-dir", FLAG_STRING, &o.state_dir,
		  "Where clusters keep their data (default " DEFAULT_STATE_DIR ")" },
		{ "run-dir", FLAG_STRING, &o.run_dir,
		  "Where clusters keep their run state (default " DEFAULT_RUN_DIR ")" },
		{ "runtime", FLAG_STRING, &o.runtime,
		  "create: OCI runtime of the agents, crun or runc (default crun)" },
		{ "lb-cidr", FLAG_STRING, &o.lb_cidr,
		  "create: LoadBalancer address pool (default 10.44.0.0/24)" },
		{ "wait", FLAG_DURATION, &o.wait_usec,
		  "How long to wait for the nodes (default 60s)" },
		{ "server-arg", FLAG_STRV, &o.server_args,
		  "create: an extra flag for the server (repeatable)" },
		{ "agent-arg", FLAG_STRV, &o.agent_args,
		  "create: an extra flag for every agent (repeatable)" },
		{ "v", FLAG_INT, &o.verbosity,
		  "Log verbosity (0-6), also of the server and agents" },
		{ 0 },
	};
	char **args = NULL;
	int r = flags_parse(flags, usage, argc, argv, &args);
	if (r != 0) {
		free(args);
		return r > 0 ? 0 : 2;
	}
	log_set_verbosity(o.verbosity);
	_cleanup_free_ char **argsp = args;
	const char *cmd = args && args[0] ? args[0] : NULL;
	_cleanup_free_ char *bad_name = NULL;
	int ret = 2;

	if (!cmd) {
		flags_usage(stderr, usage, flags);
		goto out;
	}
	bad_name = validate_dns1123_label(o.name);
	if (bad_name || strlen(o.name) > LAB_NAME_MAX) {
		fprintf(stderr,
			"c8s cluster: invalid name \"%s\": a DNS label of at most %d characters\n",
			o.name, LAB_NAME_MAX);
		goto out;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "c8s cluster: must run as root (network namespaces, mounts)\n");
		ret = 1;
		goto out;
	}
	if (streq(cmd, "create")) {
		if (o.nodes < 1 || o.nodes > LAB_MAX_NODES) {
			fprintf(stderr, "c8s cluster create: --nodes must be 1 to %d\n",
				LAB_MAX_NODES);
			goto out;
		}
		ret = do_create(&o);
	} else if (streq(cmd, "delete"))
		ret = do_delete(&o, false);
	else if (streq(cmd, "list"))
		ret = do_list(&o);
	else if (streq(cmd, "load"))
		ret = do_load(&o, args + 1);
	else
		fprintf(stderr, "c8s cluster: unknown command \"%s\"\n\n%s\n", cmd, usage);
out:
	strv_freep((char ***)&o.server_args);
	strv_freep((char ***)&o.agent_args);
	return ret;
}
