/* SPDX-License-Identifier: Apache-2.0 */
/* The node agent's life cycle: directories, the image store, the OCI
 * runtime, the pod informer (spec.nodeName=NODE) feeding a work queue of
 * pod syncs (pods.c), the Node and its Lease (node.c), container exits
 * (inotify on conmon's exit directory), probes and the stream server. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "apiserver/certs.h"
#include "client/events.h"
#include "client/informer.h"
#include "client/kclient.h"
#include "client/workqueue.h"
#include "kubelet/kubelet_internal.h"
#include "kubelet/prober.h"
#include "kubelet/streaming.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/random.h"
#include "lib/strbuf.h"
#include "runtime/fsutil.h"
#include "runtime/image.h"
#include "runtime/oci.h"

void kubelet_opts_default(struct kubelet_opts *o)
{
	*o = (struct kubelet_opts){
		.data_dir = "/var/lib/c8s/agent",
		.root_dir = "/run/c8s/agent",
		.runtime = "crun",
		.cluster_dns = "10.43.0.10",
		.cluster_domain = "cluster.local",
		.stream_port = 10250,
		.cni_bin_dir = "/usr/lib/cni",
		.cgroup_root = "/c8s",
		.pod_workers = 8,
	};
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* ---- the pods tree ---- */

static int pod_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct kpod, by_key)->key);
}

struct kpod *kubelet_find_pod_locked(struct kubelet *k, const char *key)
{
	struct avl_node *n = avl_find(&k->pods, key);
	return n ? avl_entry(n, struct kpod, by_key) : NULL;
}

struct kpod *kubelet_find_pod_uid_locked(struct kubelet *k, const char *uid)
{
	for (struct avl_node *n = avl_first(&k->pods); n; n = avl_next(n)) {
		struct kpod *p = avl_entry(n, struct kpod, by_key);
		if (streq(p->uid, uid))
			return p;
	}
	return NULL;
}

static void kinst_release(struct kinst *in)
{
	free(in->id);
	free(in->log_path);
	*in = (struct kinst){ 0 };
}

void kpod_free(struct kpod *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nctrs; i++) {
		struct kctr *c = &p->ctrs[i];
		free(c->name);
		kinst_release(&c->cur);
		kinst_release(&c->prev);
		free(c->reason);
		free(c->message);
		free(c->image_id);
		free(c->pull_err);
	}
	free(p->ctrs);
	if (p->have_sb)
		sandbox_release(&p->sb);
	free(p->key);
	free(p->uid);
	free(p->ns);
	free(p->name);
	free(p->pod_ip);
	free(p->sb_error);
	free(p);
}

/* ---- state files ---- */

static json_t *kinst_json(const struct kinst *in)
{
	if (!in->id)
		return json_null();
	return json_pack("{s:s, s:i, s:I, s:I, s:b, s:i, s:b, s:s}", "id", in->id, "attempt",
			 in->attempt, "started", (json_int_t)in->started, "finished",
			 (json_int_t)in->finished, "exited", in->exited, "exitCode", in->exit_code,
			 "oom", in->oom, "log", in->log_path ? in->log_path : "");
}

static void kinst_load(json_t *j, struct kinst *in)
{
	const char *id = json_get_str(j, "id");
	if (!id)
		return;
	in->id = xstrdup(id);
	in->attempt = (int)json_get_int(j, "attempt", 0);
	in->started = json_get_int(j, "started", 0);
	in->finished = json_get_int(j, "finished", 0);
	in->exited = json_get_bool(j, "exited", false);
	in->exit_code = (int)json_get_int(j, "exitCode", 0);
	in->oom = json_get_bool(j, "oom", false);
	const char *log = json_get_str(j, "log");
	in->log_path = isempty(log) ? NULL : xstrdup(log);
}

int kpod_save(struct kubelet *k, struct kpod *p)
{
	json_t *ctrs = json_array();
	pthread_mutex_lock(&k->mu);
	for (size_t i = 0; i < p->nctrs; i++) {
		struct kctr *c = &p->ctrs[i];
		json_array_append_new(ctrs,
				      json_pack("{s:s, s:b, s:i, s:I, s:s, s:o, s:o}", "name",
						c->name, "init", c->init, "restartCount",
						c->restart_count, "backoff", (json_int_t)c->backoff,
						"imageID", c->image_id ? c->image_id : "", "cur",
						kinst_json(&c->cur), "prev", kinst_json(&c->prev)));
	}
	pthread_mutex_unlock(&k->mu);
	_cleanup_json_ json_t *j =
	    json_pack("{s:s, s:s, s:s, s:b, s:I, s:b, s:o}", "key", p->key, "uid", p->uid, "podIP",
		      p->pod_ip ? p->pod_ip : "", "hostNetwork", p->host_network, "startTime",
		      (json_int_t)p->start_time, "tornDown", p->torn_down, "containers", ctrs);
	_cleanup_free_ char *dir = xasprintf("%s/%s", k->pods_dir, p->uid);
	rt_mkdir_p(dir, 0750);
	_cleanup_free_ char *path = xasprintf("%s/state.json", dir);
	size_t len;
	_cleanup_free_ char *text = json_dump_compact(j, &len);
	int r = rt_write_file(path, text, len, 0600);
	if (r < 0)
		log_warn("cannot write %s: %s", path, strerror(-r));
	return r;
}

/* A pod as recorded in its state file (NULL if unreadable). */
static struct kpod *kpod_load(const char *path)
{
	json_error_t jerr;
	_cleanup_json_ json_t *j = json_load_file(path, 0, &jerr);
	const char *key = json_get_str(j, "key"), *uid = json_get_str(j, "uid");
	if (!key || !uid || !strchr(key, '/'))
		return NULL;
	struct kpod *p = xnew(struct kpod, 1);
	p->key = xstrdup(key);
	p->uid = xstrdup(uid);
	const char *slash = strchr(key, '/');
	p->ns = xstrndup(key, (size_t)(slash - key));
	p->name = xstrdup(slash + 1);
	const char *ip = json_get_str(j, "podIP");
	p->pod_ip = isempty(ip) ? NULL : xstrdup(ip);
	p->host_network = json_get_bool(j, "hostNetwork", false);
	p->start_time = json_get_int(j, "startTime", 0);
	p->torn_down = json_get_bool(j, "tornDown", false);
	p->adopted = true;
	json_t *ctrs = json_object_get(j, "containers");
	p->nctrs = json_array_size(ctrs);
	p->ctrs = xnew(struct kctr, p->nctrs + 1);
	size_t i;
	json_t *c;
	json_array_foreach(ctrs, i, c)
	{
		struct kctr *kc = &p->ctrs[i];
		kc->name = xstrdup(str_or_empty_json(c, "name"));
		kc->init = json_get_bool(c, "init", false);
		if (kc->init)
			p->ninit++;
		kc->restart_count = (int)json_get_int(c, "restartCount", 0);
		kc->backoff = json_get_int(c, "backoff", 0);
		const char *iid = json_get_str(c, "imageID");
		kc->image_id = isempty(iid) ? NULL : xstrdup(iid);
		kinst_load(json_object_get(c, "cur"), &kc->cur);
		kinst_load(json_object_get(c, "prev"), &kc->prev);
	}
	return p;
}

void pods_adopt(struct kubelet *k)
{
	_cleanup_(closedirp) DIR *d = opendir(k->pods_dir);
	struct dirent *de;
	size_t n = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *path = xasprintf("%s/%s/state.json", k->pods_dir, de->d_name);
		struct kpod *p = kpod_load(path);
		if (!p)
			continue;
		if (sandbox_open(k->root_dir, p->uid, &p->sb) == 0)
			p->have_sb = true;
		pthread_mutex_lock(&k->mu);
		if (avl_insert(&k->pods, p->key, &p->by_key)) { /* a duplicate */
			pthread_mutex_unlock(&k->mu);
			kpod_free(p);
			continue;
		}
		pthread_mutex_unlock(&k->mu);
		n++;
	}
	if (n)
		log_info("adopted %zu pod%s from %s", n, n == 1 ? "" : "s", k->pods_dir);
}

static bool id_claimed_locked(struct kubelet *k, const char *id)
{
	for (struct avl_node *n = avl_first(&k->pods); n; n = avl_next(n)) {
		struct kpod *p = avl_entry(n, struct kpod, by_key);
		for (size_t i = 0; i < p->nctrs; i++)
			if (streq_ptr(p->ctrs[i].cur.id, id) || streq_ptr(p->ctrs[i].prev.id, id))
				return true;
	}
	return false;
}

void pods_remove_orphans(struct kubelet *k)
{
	char **ids = NULL;
	if (oci_list(k->rt, &ids) < 0)
		return;
	for (char **id = ids; id && *id; id++) {
		pthread_mutex_lock(&k->mu);
		bool claimed = id_claimed_locked(k, *id);
		pthread_mutex_unlock(&k->mu);
		if (!claimed) {
			log_info("removing container %s that no pod claims", *id);
			oci_delete(k->rt, *id, true);
		}
	}
	strv_freep(&ids);
}

/* ---- lookups ---- */

json_t *kubelet_get_object(struct kubelet *k, const char *resource, const char *ns,
			   const char *name, char **ret_err)
{
	_cleanup_free_ char *path = kpath("v1", resource, ns, name);
	long code = 0;
	json_t *o = kclient_get(k->c, path, &code);
	if (o)
		return o;
	if (ret_err) {
		/* "configmaps" -> "configmap" */
		_cleanup_free_ char *kind = xstrndup(resource, strlen(resource) - 1);
		*ret_err = code == 404
			       ? xasprintf("%s \"%s\" not found", kind, name)
			       : xasprintf("cannot get %s \"%s\": HTTP %ld", kind, name, code);
	}
	return NULL;
}

/* ---- container exits: conmon writes <state>/exits/<id> ---- */

static void enqueue_for_id(struct kubelet *k, const char *id)
{
	pthread_mutex_lock(&k->mu);
	for (struct avl_node *n = avl_first(&k->pods); n; n = avl_next(n)) {
		struct kpod *p = avl_entry(n, struct kpod, by_key);
		for (size_t i = 0; i < p->nctrs; i++) {
			if (streq_ptr(p->ctrs[i].cur.id, id)) {
				workqueue_add(k->podq, p->key);
				goto out;
			}
		}
	}
out:
	pthread_mutex_unlock(&k->mu);
}

static void *exits_main(void *arg)
{
	struct kubelet *k = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		struct pollfd pfd[2] = { { k->exits_fd, POLLIN, 0 },
					 { k->stop_pipe[0], POLLIN, 0 } };
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		ssize_t n = read(k->exits_fd, buf, sizeof(buf));
		if (n <= 0)
			continue;
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			if (ev->len && ev->name[0] != '.')
				enqueue_for_id(k, ev->name);
			p += sizeof(*ev) + ev->len;
		}
	}
	return NULL;
}

/* ---- informer handlers ---- */

static void pod_added(struct cobj *o, void *ud)
{
	struct kubelet *k = ud;
	workqueue_add(k->podq, o->key);
}

static void pod_updated(struct cobj *old, struct cobj *o, void *ud)
{
	struct kubelet *k = ud;
	workqueue_add(k->podq, o->key);
}

static void pod_deleted(struct cobj *o, void *ud)
{
	struct kubelet *k = ud;
	workqueue_add(k->podq, o->key);
}

/* ---- probes: exec through the runtime, results into the queue ---- */

int kubelet_probe_exec(void *ud, const char *id, char *const *argv, int timeout_s, int *ret_code,
		       char **ret_output)
{
	struct kubelet *k = ud;
	_cleanup_json_ json_t *args = json_array();
	for (char *const *a = argv; a && *a; a++)
		json_array_append_new(args, json_string(*a));
	_cleanup_json_ json_t *proc = json_pack(
	    "{s:b, s:O, s:s, s:[s], s:{s:i, s:i}}", "terminal", false, "args", args, "cwd", "/",
	    "env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "user",
	    "uid", 0, "gid", 0);
	_cleanup_free_ char *pj = json_dump_compact(proc, NULL);
	int stdio[3] = { -1, -1, -1 };
	pid_t pid;
	_cleanup_free_ char *err = NULL;
	int r = oci_exec(k->rt, id, pj, false, false, NULL, stdio, &pid, &err);
	if (r < 0) {
		if (ret_output)
			*ret_output = TAKE_PTR(err);
		return r;
	}
	struct strbuf out;
	strbuf_init(&out, 256);
	uint64_t deadline = now_usec_monotonic() + (uint64_t)MAX(timeout_s, 1) * 1000000;
	bool timed_out = false;
	int open_fds = 2;
	while (open_fds > 0) {
		struct pollfd pfd[2] = { { stdio[1], POLLIN, 0 }, { stdio[2], POLLIN, 0 } };
		uint64_t now = now_usec_monotonic();
		if (now >= deadline) {
			timed_out = true;
			break;
		}
		int pr = poll(pfd, 2, (int)((deadline - now) / 1000) + 1);
		if (pr < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			char b[1024];
			ssize_t n = read(pfd[i].fd, b, sizeof(b));
			if (n > 0) {
				if (out.len < 10240)
					strbuf_add(&out, b, (size_t)n);
			} else {
				close(stdio[i + 1]);
				stdio[i + 1] = -1;
				open_fds--;
			}
		}
	}
	if (timed_out)
		kill(pid, SIGKILL);
	int code = oci_exec_wait(pid);
	for (int i = 0; i < 3; i++)
		if (stdio[i] >= 0)
			close(stdio[i]);
	if (ret_output)
		*ret_output = strbuf_detach(&out, NULL);
	else
		strbuf_release(&out);
	if (timed_out)
		return -ETIMEDOUT;
	*ret_code = code;
	return 0;
}

static const char *probe_name(enum probe_type t)
{
	return t == PROBE_LIVENESS ? "Liveness" : t == PROBE_READINESS ? "Readiness" : "Startup";
}

static void probe_changed(void *ud, const char *uid, const char *ctr, enum probe_type type,
			  enum probe_result result, const char *msg)
{
	struct kubelet *k = ud;
	pthread_mutex_lock(&k->mu);
	struct kpod *p = kubelet_find_pod_uid_locked(k, uid);
	if (!p) {
		pthread_mutex_unlock(&k->mu);
		return;
	}
	if (result == PROBE_FAILURE) {
		event_record_ref(k->events, "v1", "Pod", p->ns, p->name, p->uid, "Warning",
				 "Unhealthy", "%s probe failed: %s", probe_name(type),
				 msg ? msg : "");
		if (type == PROBE_LIVENESS || type == PROBE_STARTUP) {
			for (size_t i = 0; i < p->nctrs; i++)
				if (streq(p->ctrs[i].name, ctr))
					atomic_store(&p->ctrs[i].liveness_failed, true);
		}
	}
	workqueue_add(k->podq, p->key);
	pthread_mutex_unlock(&k->mu);
}

/* ---- the stream server's view of our containers ---- */

static int backend_find(void *ud, const char *ns, const char *pod, const char *container,
			struct stream_container *ret)
{
	struct kubelet *k = ud;
	_cleanup_free_ char *key = xasprintf("%s/%s", ns, pod);
	int r = -ENOENT;
	pthread_mutex_lock(&k->mu);
	struct kpod *p = kubelet_find_pod_locked(k, key);
	for (size_t i = 0; p && i < p->nctrs; i++) {
		struct kctr *c = &p->ctrs[i];
		if (!streq(c->name, container) || !c->cur.id)
			continue;
		*ret = (struct stream_container){ 0 };
		ret->container_id = xstrdup(c->cur.id);
		ret->log_path = c->cur.log_path ? xstrdup(c->cur.log_path) : NULL;
		ret->prev_log_path = c->prev.log_path ? xstrdup(c->prev.log_path) : NULL;
		_cleanup_free_ char *exit_path = xasprintf("%s/exits/%s", k->oci_dir, c->cur.id);
		ret->running = !c->cur.exited && access(exit_path, F_OK) != 0;
		ret->tty = c->tty;
		r = 0;
		break;
	}
	pthread_mutex_unlock(&k->mu);
	return r;
}

static int backend_netns(void *ud, const char *ns, const char *pod, char **ret_path)
{
	struct kubelet *k = ud;
	_cleanup_free_ char *key = xasprintf("%s/%s", ns, pod);
	int r = -ENOENT;
	pthread_mutex_lock(&k->mu);
	struct kpod *p = kubelet_find_pod_locked(k, key);
	if (p && p->have_sb && !p->host_network) {
		*ret_path = xstrdup(p->sb.netns);
		r = 0;
	} else if (p && p->host_network) {
		*ret_path = xstrdup("/proc/self/ns/net");
		r = 0;
	}
	pthread_mutex_unlock(&k->mu);
	return r;
}

static struct stream_backend backend = {
	.find_container = backend_find,
	.pod_netns = backend_netns,
};

/* ---- start and stop ---- */

static char *default_node_ip(void)
{
	struct ifaddrs *ifa = NULL;
	char buf[INET_ADDRSTRLEN];
	char *ret = NULL;
	if (getifaddrs(&ifa) < 0)
		return xstrdup("127.0.0.1");
	for (struct ifaddrs *i = ifa; i && !ret; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		if (startswith(i->ifa_name, "c8s") || startswith(i->ifa_name, "veth") ||
		    startswith(i->ifa_name, "cni"))
			continue;
		struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		ret = xstrdup(buf);
	}
	freeifaddrs(ifa);
	return ret ? ret : xstrdup("127.0.0.1");
}

static char *default_node_name(void)
{
	char host[256] = "";
	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	for (char *p = host; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	return xstrdup(host);
}

static int start_stream_server(struct kubelet *k, char **ret_err)
{
	if (!k->o.client_ca_pem || k->o.stream_port <= 0) {
		log_warn(
		    "no cluster CA known: the stream server (logs, exec, port-forward) is off");
		return 0;
	}
	/* A serving certificate of our own (the API server does not verify
	 * it, like Kubernetes without --kubelet-certificate-authority). */
	_cleanup_free_ char *tls = xasprintf("%s/tls", k->data_dir);
	const char *sans[] = { k->node_ip, NULL };
	struct certs certs = { 0 };
	_cleanup_free_ char *err = NULL;
	int r = certs_ensure(tls, sans, &certs, &err);
	if (r < 0) {
		*ret_err = xasprintf("cannot make the stream server's certificate in %s: %s", tls,
				     err ? err : strerror(-r));
		return r;
	}
	backend.userdata = k;
	struct stream_server_opts so = {
		.bind_address = k->node_ip,
		.port = k->o.stream_port,
		.cert_pem = certs.serving_cert_pem,
		.key_pem = certs.serving_key_pem,
		.client_ca_pem = k->o.client_ca_pem,
		.runtime = k->rt,
		.backend = &backend,
	};
	r = stream_server_start(&so, &k->stream);
	certs_release(&certs);
	if (r < 0) {
		*ret_err = xasprintf("cannot start the stream server on %s:%d: %s", k->node_ip,
				     k->o.stream_port, strerror(-r));
		return r;
	}
	log_info("stream server listening on %s:%d", k->node_ip, k->o.stream_port);
	return 0;
}

static int make_dirs(struct kubelet *k, char **ret_err)
{
	const char *dirs[] = { k->data_dir, k->root_dir,   k->pods_dir, k->logs_dir,
			       k->cni_dir,  k->images_dir, k->oci_dir };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int r = rt_mkdir_p(dirs[i], 0700);
		if (r < 0) {
			*ret_err = xasprintf("cannot create %s: %s", dirs[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

int kubelet_start(struct kclient *c, const struct kubelet_opts *o, struct kubelet **ret,
		  char **ret_err)
{
	struct kubelet *k = xnew(struct kubelet, 1);
	_cleanup_free_ char *exits = NULL, *sel = NULL;
	k->o = *o;
	k->c = c;
	k->exits_fd = -1;
	k->stop_pipe[0] = k->stop_pipe[1] = -1;
	k->node_name = o->node_name ? xstrdup(o->node_name) : default_node_name();
	k->hostname = default_node_name();
	k->node_ip = o->node_ip ? xstrdup(o->node_ip) : default_node_ip();
	k->data_dir = xstrdup(o->data_dir);
	k->root_dir = xstrdup(o->root_dir);
	k->pods_dir = xasprintf("%s/pods", o->root_dir);
	k->oci_dir = xasprintf("%s/containers", o->root_dir);
	k->cni_dir = xasprintf("%s/cni", o->root_dir);
	k->logs_dir = xasprintf("%s/logs", o->data_dir);
	k->images_dir = xasprintf("%s/images", o->data_dir);
	k->start_usec = (int64_t)now_usec_realtime();
	random_uuid(k->boot_id);
	{
		_cleanup_free_ char *bid = NULL;
		if (rt_read_file("/proc/sys/kernel/random/boot_id", &bid, NULL) == 0) {
			bid[strcspn(bid, "\n")] = 0;
			snprintf(k->boot_id, sizeof(k->boot_id), "%s", bid);
		}
	}
	pthread_mutex_init(&k->mu, NULL);
	pthread_mutex_init(&k->cidr_mu, NULL);
	pthread_mutex_init(&k->node_mu, NULL);
	pthread_cond_init(&k->node_cond, NULL);
	avl_init(&k->pods, pod_cmp);
	k->cni = (struct cni_config){
		.plugin_dir = o->cni_bin_dir,
		.state_dir = k->cni_dir,
		.bridge = "c8s0",
		/* the agent's pod network masquerades for the cluster CIDR */
		.no_masquerade = true,
	};

	int r = make_dirs(k, ret_err);
	if (r < 0)
		goto fail;
	r = image_store_open(k->images_dir, o->insecure_registries, &k->images);
	if (r < 0) {
		*ret_err =
		    xasprintf("cannot open the image store %s: %s", k->images_dir, strerror(-r));
		goto fail;
	}
	image_import_dir(k->images, k->images_dir);
	struct oci_runtime_opts ro = { .runtime = o->runtime, .state_dir = k->oci_dir };
	r = oci_runtime_new(&ro, &k->rt, ret_err);
	if (r < 0)
		goto fail;
	if (pipe2(k->stop_pipe, O_CLOEXEC) < 0) {
		r = -errno;
		*ret_err = xasprintf("pipe: %s", strerror(-r));
		goto fail;
	}
	exits = xasprintf("%s/exits", k->oci_dir);
	rt_mkdir_p(exits, 0700);
	k->exits_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (k->exits_fd < 0 ||
	    inotify_add_watch(k->exits_fd, exits, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
		r = -errno;
		*ret_err = xasprintf("cannot watch %s: %s", exits, strerror(-r));
		goto fail;
	}

	k->events = event_recorder_new(c, "kubelet", k->node_name);
	k->podq = workqueue_new("kubelet-pods");
	struct probe_exec pe = { .ud = k, .run = kubelet_probe_exec };
	struct prober_callbacks pcb = { .ud = k, .changed = probe_changed };
	r = prober_new(&pe, &pcb, &k->prober);
	if (r < 0) {
		*ret_err = xasprintf("cannot start the prober: %s", strerror(-r));
		goto fail;
	}

	pods_adopt(k);
	pods_remove_orphans(k);

	sel = xasprintf("spec.nodeName=%s", k->node_name);
	struct informer_opts po = {
		.api_version = "v1",
		.plural = "pods",
		.field_selector = sel,
		.resync_usec = 30LL * 1000000,
	};
	r = informer_new(c, &po, &k->pods_inf);
	if (r < 0) {
		*ret_err = xasprintf("cannot make the pod informer: %s", strerror(-r));
		goto fail;
	}
	informer_add_handlers(k->pods_inf, &(struct informer_handlers){
					       .on_add = pod_added,
					       .on_update = pod_updated,
					       .on_delete = pod_deleted,
					       .userdata = k,
					   });
	r = start_stream_server(k, ret_err);
	if (r < 0)
		goto fail;
	r = node_start(k);
	if (r < 0) {
		*ret_err = xasprintf("cannot start the node thread: %s", strerror(-r));
		goto fail;
	}
	r = informer_start(k->pods_inf);
	if (r < 0) {
		*ret_err = xasprintf("cannot start the pod informer: %s", strerror(-r));
		goto fail;
	}
	/* Adopted pods are synced even if the API no longer has them. */
	pthread_mutex_lock(&k->mu);
	for (struct avl_node *n = avl_first(&k->pods); n; n = avl_next(n))
		workqueue_add(k->podq, avl_entry(n, struct kpod, by_key)->key);
	pthread_mutex_unlock(&k->mu);
	if (!informer_wait_synced(k->pods_inf, 30LL * 1000000))
		log_warn("the pod informer did not sync in 30 s; continuing");
	r = workqueue_run(k->podq, MAX(o->pod_workers, 1), pod_sync, k);
	if (r < 0) {
		*ret_err = xasprintf("cannot start the pod workers: %s", strerror(-r));
		goto fail;
	}
	r = pthread_create(&k->exits_thread, NULL, exits_main, k);
	if (r) {
		r = -r;
		*ret_err = xasprintf("cannot start the exit watcher: %s", strerror(-r));
		goto fail;
	}
	k->exits_running = true;
	log_info("node agent %s running (%s, root %s, data %s)", k->node_name,
		 oci_runtime_version(k->rt), k->root_dir, k->data_dir);
	*ret = k;
	return 0;
fail:
	kubelet_stop(k);
	return r < 0 ? r : -EIO;
}

void kubelet_stop(struct kubelet *k)
{
	if (!k)
		return;
	node_stop(k);
	if (k->exits_running) {
		if (write(k->stop_pipe[1], "x", 1) < 0)
			log_warn("cannot stop the exit watcher: %s", strerror(errno));
		pthread_join(k->exits_thread, NULL);
	}
	if (k->pods_inf)
		informer_stop(k->pods_inf);
	if (k->podq)
		workqueue_shutdown(k->podq);
	if (k->stream)
		stream_server_stop(k->stream);
	prober_free(k->prober);
	informer_free(k->pods_inf);
	workqueue_free(k->podq);
	event_recorder_free(k->events);
	struct avl_node *n = avl_first(&k->pods);
	while (n) {
		struct avl_node *next = avl_next(n);
		avl_remove(&k->pods, n);
		kpod_free(avl_entry(n, struct kpod, by_key));
		n = next;
	}
	if (k->rt)
		oci_runtime_free(k->rt);
	if (k->images)
		image_store_close(k->images);
	if (k->exits_fd >= 0)
		close(k->exits_fd);
	for (int i = 0; i < 2; i++)
		if (k->stop_pipe[i] >= 0)
			close(k->stop_pipe[i]);
	free(k->pod_cidr);
	free(k->node_name);
	free(k->hostname);
	free(k->node_ip);
	free(k->data_dir);
	free(k->root_dir);
	free(k->pods_dir);
	free(k->oci_dir);
	free(k->cni_dir);
	free(k->logs_dir);
	free(k->images_dir);
	pthread_mutex_destroy(&k->mu);
	pthread_mutex_destroy(&k->cidr_mu);
	pthread_mutex_destroy(&k->node_mu);
	pthread_cond_destroy(&k->node_cond);
	free(k);
}

const char *kubelet_node_name(const struct kubelet *k)
{
	return k->node_name;
}
