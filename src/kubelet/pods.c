/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One pod's sync (a work queue key "ns/name"; never two syncs of one key at
 * once): make the sandbox and its network, set up volumes and /etc files,
 * run the init containers in order, then the app containers, restart them
 * per restartPolicy with back-off, report status; on deletion stop the
 * containers (preStop, stop signal, grace, SIGKILL), release everything and
 * delete the pod for good.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include "client/events.h"
#include "client/informer.h"
#include "client/kclient.h"
#include "client/workqueue.h"
#include "kubelet/bundle.h"
#include "kubelet/env.h"
#include "kubelet/kubelet_internal.h"
#include "kubelet/lookup.h"
#include "kubelet/prober.h"
#include "kubelet/rootfs.h"
#include "kubelet/volumes.h"
#include "lib/base64.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/random.h"
#include "lib/timeutil.h"
#include "runtime/fsutil.h"
#include "runtime/image.h"
#include "runtime/oci.h"

#define RETRY_USEC (5LL * 1000000)

struct sync_ctx {
	struct kubelet *k;
	struct kpod *p;
	json_t *pod;
	uint64_t now;	    /* monotonic */
	uint64_t wake;	    /* monotonic: sync again then (0: no need) */
	bool changed;	    /* instances changed: save the state file */
	struct netjob *net; /* the sandbox's CNI ADD under way (net_wait) */
	bool net_failed;    /* it failed: nothing starts in this sync */
};

static void wake_at(struct sync_ctx *s, uint64_t at)
{
	if (!s->wake || at < s->wake)
		s->wake = at;
}

static void set_waiting(struct kctr *c, const char *reason, const char *msg)
{
	free(c->reason);
	free(c->message);
	c->reason = reason ? xstrdup(reason) : NULL;
	c->message = msg ? xstrdup(msg) : NULL;
}

static json_t *spec_of(json_t *pod, const struct kctr *c)
{
	size_t i;
	json_t *x;
	json_array_foreach(json_get(pod, c->init ? "spec.initContainers" : "spec.containers"), i, x)
	{
		if (streq_ptr(json_get_str(x, "name"), c->name))
			return x;
	}
	return NULL;
}

static char *pod_dir(struct kubelet *k, struct kpod *p)
{
	return xasprintf("%s/%s", k->pods_dir, p->uid);
}

static char *ctr_dir(struct kubelet *k, struct kpod *p, const char *name, int attempt)
{
	/* "." is not in container names: no clash with containers/NAME/
	 * (the termination message file, volumes.h). */
	return xasprintf("%s/%s/containers/%s.%d", k->pods_dir, p->uid, name, attempt);
}

static void event(struct sync_ctx *s, const char *type, const char *reason, const char *fmt, ...)
    _printf_(4, 5);
static void event(struct sync_ctx *s, const char *type, const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	event_record(s->k->events, s->pod, type, reason, "%s", msg ? msg : reason);
}

/* ---- lookups for the spec modules ---- */

static json_t *lookup_get(void *ud, const char *resource, const char *ns, const char *name,
			  char **ret_err)
{
	return kubelet_get_object(ud, resource, ns, name, ret_err);
}

/* ---- instances ---- */

void kinst_refresh(struct kubelet *k, struct kinst *in)
{
	if (!in->id || in->exited || !in->started)
		return;
	_cleanup_free_ char *exit_path = xasprintf("%s/exits/%s", k->oci_dir, in->id);
	if (access(exit_path, F_OK) != 0)
		return;
	struct oci_state st;
	if (oci_state(k->rt, in->id, &st) < 0 || st.status != OCI_STOPPED)
		return;
	pthread_mutex_lock(&k->mu);
	in->exited = true;
	in->exit_code = st.exit_code;
	in->oom = st.oom_killed;
	in->finished = st.finished_at ? st.finished_at : (int64_t)now_usec_realtime();
	pthread_mutex_unlock(&k->mu);
}

/* After an agent restart: a container whose conmon is gone without an
 * exit file is stopped (oci_state says so). */
static void kinst_check(struct kubelet *k, struct kinst *in)
{
	if (!in->id || in->exited || !in->started)
		return;
	struct oci_state st;
	int r = oci_state(k->rt, in->id, &st);
	if (r < 0 || st.status == OCI_STOPPED || st.status == OCI_UNKNOWN) {
		pthread_mutex_lock(&k->mu);
		in->exited = true;
		in->exit_code = r < 0 ? 255 : st.exit_code;
		in->oom = r < 0 ? false : st.oom_killed;
		in->finished =
		    r < 0 || !st.finished_at ? (int64_t)now_usec_realtime() : st.finished_at;
		pthread_mutex_unlock(&k->mu);
	}
}

static bool kinst_running(const struct kinst *in)
{
	return in->id && in->started && !in->exited;
}

/* Remove an instance from the runtime and its root filesystem (keeps the
 * log file unless drop_log). */
static void kinst_remove(struct kubelet *k, struct kpod *p, const char *name, struct kinst *in,
			 bool drop_log)
{
	if (!in->id)
		return;
	oci_delete(k->rt, in->id, true);
	_cleanup_free_ char *dir = ctr_dir(k, p, name, in->attempt);
	rootfs_unmount(dir);
	int r = rt_rm_rf(dir);
	if (r < 0)
		log_warn("cannot remove %s: %s", dir, strerror(-r));
	if (drop_log && in->log_path)
		unlink(in->log_path);
}

static void cgroups_remove(struct kubelet *k, struct kpod *p)
{
	_cleanup_free_ char *rel = xasprintf("%s/pod%s", k->o.cgroup_root, p->uid);
	DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *path = xasprintf("/sys/fs/cgroup/%s%s", de->d_name, rel);
		rmdir(path);
	}
	if (d)
		closedir(d);
	_cleanup_free_ char *v2 = xasprintf("/sys/fs/cgroup%s", rel);
	rmdir(v2);
}

/* Release the pod's runtime resources: containers, root filesystems,
 * network, sandbox, volumes, cgroups. The state file stays unless
 * forget. */
static void pod_release(struct kubelet *k, struct kpod *p, bool forget)
{
	prober_remove_pod(k->prober, p->uid);
	for (size_t i = 0; i < p->nctrs; i++) {
		kinst_remove(k, p, p->ctrs[i].name, &p->ctrs[i].cur, forget);
		kinst_remove(k, p, p->ctrs[i].name, &p->ctrs[i].prev, forget);
	}
	if (!p->host_network && p->pod_ip) {
		_cleanup_free_ char *cidr = node_pod_cidr(k);
		struct cni_config cfg = k->cni;
		cfg.pod_cidr = cidr ? cidr : "10.42.0.0/24";
		_cleanup_free_ char *err = NULL;
		if (cni_del(&cfg, p->uid, p->have_sb ? p->sb.netns : "", "eth0", NULL, &err) < 0)
			log_warn("pod %s: CNI DEL: %s", p->key, err ? err : "failed");
	}
	struct sandbox sb;
	if (!p->have_sb && sandbox_open(k->root_dir, p->uid, &sb) == 0) {
		p->sb = sb;
		p->have_sb = true;
	}
	if (p->have_sb) {
		sandbox_destroy(&p->sb);
		pthread_mutex_lock(&k->mu);
		sandbox_release(&p->sb);
		p->have_sb = false;
		pthread_mutex_unlock(&k->mu);
	}
	_cleanup_free_ char *dir = pod_dir(k, p);
	pod_volumes_teardown(dir);
	cgroups_remove(k, p);
	p->sb_ready = false;
	if (forget) {
		int r = rt_rm_rf(dir);
		if (r < 0)
			log_warn("cannot remove %s: %s", dir, strerror(-r));
		_cleanup_free_ char *logs =
		    xasprintf("%s/%s_%s_%s", k->logs_dir, p->ns, p->name, p->uid);
		rt_rm_rf(logs);
	}
}

static void pod_forget(struct kubelet *k, struct kpod *p)
{
	pthread_mutex_lock(&k->mu);
	avl_remove(&k->pods, &p->by_key);
	pthread_mutex_unlock(&k->mu);
	kpod_free(p);
}

/* ---- a new pod ---- */

static void add_ctrs(struct kpod *p, json_t *list, bool init, json_t *statuses)
{
	size_t i;
	json_t *c;
	json_array_foreach(list, i, c)
	{
		struct kctr *kc = &p->ctrs[p->nctrs++];
		kc->name = xstrdup(str_or_empty_json(c, "name"));
		kc->init = init;
		kc->tty = json_get_bool(c, "tty", false);
		kc->stop_signal = SIGTERM;
		/* Instances lost (a reboot): the new one counts as a restart. */
		size_t j;
		json_t *st;
		json_array_foreach(statuses, j, st)
		{
			if (streq_ptr(json_get_str(st, "name"), kc->name) &&
			    !isempty(json_get_str(st, "containerID")))
				kc->restart_count = (int)json_get_int(st, "restartCount", 0) + 1;
		}
	}
	if (init)
		p->ninit = p->nctrs;
}

static struct kpod *pod_new(struct kubelet *k, const char *key, json_t *pod)
{
	struct kpod *p = xnew(struct kpod, 1);
	p->key = xstrdup(key);
	p->uid = xstrdup(str_or_empty_json(pod, "metadata.uid"));
	p->ns = xstrdup(str_or_empty_json(pod, "metadata.namespace"));
	p->name = xstrdup(str_or_empty_json(pod, "metadata.name"));
	p->host_network = json_get_bool(pod, "spec.hostNetwork", false);
	json_t *inits = json_get(pod, "spec.initContainers");
	json_t *ctrs = json_get(pod, "spec.containers");
	p->ctrs = xnew(struct kctr, json_array_size(inits) + json_array_size(ctrs) + 1);
	add_ctrs(p, inits, true, json_get(pod, "status.initContainerStatuses"));
	add_ctrs(p, ctrs, false, json_get(pod, "status.containerStatuses"));
	int64_t st = 0;
	const char *ts = json_get_str(pod, "status.startTime");
	if (!ts || time_parse_rfc3339(ts, &st) < 0)
		st = (int64_t)now_usec_realtime();
	p->start_time = st;
	return p;
}

/* ---- sandbox and network ---- */

static json_t *port_mappings(json_t *pod)
{
	json_t *list = NULL;
	size_t i, j;
	json_t *c, *port;
	json_array_foreach(json_get(pod, "spec.containers"), i, c)
	{
		json_array_foreach(json_get(c, "ports"), j, port)
		{
			int64_t hp = json_get_int(port, "hostPort", 0);
			if (hp <= 0)
				continue;
			if (!list)
				list = json_array();
			const char *proto = json_get_str(port, "protocol");
			json_t *m = json_pack("{s:I, s:I, s:s}", "hostPort", (json_int_t)hp,
					      "containerPort",
					      (json_int_t)json_get_int(port, "containerPort", 0),
					      "protocol", proto ? proto : "TCP");
			const char *hip = json_get_str(port, "hostIP");
			if (!isempty(hip))
				json_set_str(m, "hostIP", hip);
			json_array_append_new(list, m);
		}
	}
	return list;
}

/* The pod's address, once CNI gave it (ip is taken). */
static void set_pod_ip(struct sync_ctx *s, char *ip, uint64_t cni_usec, bool parallel)
{
	struct kpod *p = s->p;
	pthread_mutex_lock(&s->k->mu);
	free(p->pod_ip);
	p->pod_ip = ip;
	pthread_mutex_unlock(&s->k->mu);
	s->changed = true;
	log_v(1, "pod %s: sandbox ready, IP %s (CNI %.1f ms%s)", p->key, ip,
	      (double)cni_usec / 1000, parallel ? ", in parallel" : "");
}

/* /etc/hosts, /etc/hostname, /etc/resolv.conf of the pod, as of now. */
static int write_etc_files(struct sync_ctx *s, char **ret_err)
{
	struct kubelet *k = s->k;
	_cleanup_free_ char *dir = pod_dir(k, s->p);
	return pod_write_etc_files(dir, s->pod, s->p->pod_ip, k->o.cluster_dns, k->o.cluster_domain,
				   ret_err);
}

/*
 * The network in parallel: a new pod's CNI ADD (tens of milliseconds of
 * plugin processes) runs in a helper thread (netjob.c) while its first
 * containers are made; start_ctr joins it before `runtime start`, so no
 * container process runs before the pod has its address. Pods whose
 * environment needs the address attach the network first.
 */
static int ensure_sandbox(struct sync_ctx *s, char **ret_err)
{
	struct kubelet *k = s->k;
	struct kpod *p = s->p;
	bool created = false;
	if (!p->have_sb) {
		struct sandbox sb;
		int r = sandbox_open(k->root_dir, p->uid, &sb);
		if (r < 0) {
			const char *host = json_get_str(s->pod, "spec.hostname");
			/* hostNetwork pods see the node's host name. */
			_cleanup_free_ char *h = xstrndup(p->host_network ? k->hostname
							  : isempty(host) ? p->name
									  : host,
							  63);
			uint64_t t0 = now_usec_monotonic();
			r = sandbox_create(k->root_dir, p->uid, h, &sb, ret_err);
			if (r < 0)
				return r;
			created = true;
			log_v(2, "pod %s: namespaces made in %.1f ms", p->key,
			      (double)(now_usec_monotonic() - t0) / 1000);
		}
		pthread_mutex_lock(&k->mu);
		p->sb = sb;
		p->have_sb = true;
		pthread_mutex_unlock(&k->mu);
	}
	if (p->host_network) {
		if (!p->pod_ip) {
			pthread_mutex_lock(&k->mu);
			p->pod_ip = xstrdup(k->node_ip);
			pthread_mutex_unlock(&k->mu);
			s->changed = true;
		}
		return 0;
	}
	if (p->pod_ip && !created)
		return 0;
	_cleanup_free_ char *cidr = node_pod_cidr(k);
	if (!cidr) {
		*ret_err = xstrdup("waiting for the node's pod CIDR");
		return -EAGAIN;
	}
	struct cni_config cfg = k->cni;
	cfg.pod_cidr = cidr;
	_cleanup_json_ json_t *pm = port_mappings(s->pod);
	if (!p->pod_ip && !kubelet_env_needs_pod_ip(s->pod)) {
		s->net = netjob_start(&cfg, cidr, p->uid, p->sb.netns, pm);
		return 0;
	}
	char *ip = NULL;
	uint64_t t0 = now_usec_monotonic();
	if (p->pod_ip) /* a new sandbox for an old pod: its address goes first */
		cni_del(&cfg, p->uid, "", "eth0", pm, NULL);
	int r = cni_add(&cfg, p->uid, p->sb.netns, "eth0", pm, &ip, ret_err);
	if (r < 0)
		return r;
	set_pod_ip(s, ip, now_usec_monotonic() - t0, false);
	return 0;
}

/* Join the network job, if one runs: 0 once the pod has its address (and
 * /etc/hosts names it). On failure the sandbox is not ready: the event, and
 * a retry later. */
static int net_wait(struct sync_ctx *s)
{
	struct kpod *p = s->p;
	if (s->net_failed)
		return -EAGAIN;
	if (!s->net)
		return 0;
	_cleanup_free_ char *ip = NULL, *err = NULL;
	uint64_t usec;
	int r = netjob_join(TAKE_PTR(s->net), &ip, &err, &usec);
	if (r < 0) {
		if (!streq_ptr(p->sb_error, err))
			event(s, "Warning", "FailedCreatePodSandBox",
			      "Failed to create pod sandbox: %s", err);
		free(p->sb_error);
		p->sb_error = TAKE_PTR(err);
		p->sb_ready = false;
		s->net_failed = true;
		wake_at(s, s->now + RETRY_USEC);
		return r;
	}
	set_pod_ip(s, TAKE_PTR(ip), usec, true);
	r = write_etc_files(s, &err);
	if (r < 0) {
		log_warn("pod %s: %s", p->key, err);
		wake_at(s, s->now + RETRY_USEC);
	}
	return r;
}

/* ---- images ---- */

/* Registry credentials from the pod's imagePullSecrets
 * (kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg). */
struct auths {
	struct registry_auth *a;
	size_t n;
	char **strs;
	size_t nstrs;
};

static const char *keep(struct auths *au, char *s)
{
	au->strs = xrealloc(au->strs, (au->nstrs + 1) * sizeof(char *));
	au->strs[au->nstrs++] = s;
	return s;
}

static void auths_release(struct auths *au)
{
	for (size_t i = 0; i < au->nstrs; i++)
		free(au->strs[i]);
	free(au->strs);
	free(au->a);
}

static void auths_add_cfg(struct auths *au, json_t *cfg)
{
	const char *host;
	json_t *e;
	json_object_foreach(cfg, host, e)
	{
		const char *user = json_get_str(e, "username");
		const char *pass = json_get_str(e, "password");
		_cleanup_free_ char *dec = NULL;
		const char *auth = json_get_str(e, "auth");
		if ((!user || !pass) && auth) {
			void *d = NULL;
			size_t dl = 0;
			if (base64_decode(auth, strlen(auth), &d, &dl) == 0) {
				dec = xstrndup(d, dl);
				free(d);
				char *colon = strchr(dec, ':');
				if (colon) {
					*colon = 0;
					user = dec;
					pass = colon + 1;
				}
			}
		}
		if (!user || !pass)
			continue;
		au->a = xrealloc(au->a, (au->n + 1) * sizeof(*au->a));
		au->a[au->n++] = (struct registry_auth){
			.registry = keep(au, xstrdup(host)),
			.username = keep(au, xstrdup(user)),
			.password = keep(au, xstrdup(pass)),
		};
	}
}

static void pull_secrets(struct kubelet *k, json_t *pod, struct auths *au)
{
	size_t i;
	json_t *ref;
	const char *ns = json_get_str(pod, "metadata.namespace");
	json_array_foreach(json_get(pod, "spec.imagePullSecrets"), i, ref)
	{
		const char *name = json_get_str(ref, "name");
		if (isempty(name))
			continue;
		_cleanup_free_ char *err = NULL;
		_cleanup_json_ json_t *sec = kubelet_get_object(k, "secrets", ns, name, &err);
		if (!sec) {
			log_warn("image pull secret %s/%s: %s", ns, name, err);
			continue;
		}
		const char *keys[] = { ".dockerconfigjson", ".dockercfg" };
		for (size_t j = 0; j < 2; j++) {
			json_t *v = json_object_get(json_object_get(sec, "data"), keys[j]);
			const char *b64 = json_string_value(v);
			void *d = NULL;
			size_t dl = 0;
			if (!b64 || base64_decode(b64, strlen(b64), &d, &dl) < 0)
				continue;
			json_error_t jerr;
			_cleanup_json_ json_t *cfg = json_loadb(d, dl, 0, &jerr);
			free(d);
			auths_add_cfg(au, j == 0 ? json_object_get(cfg, "auths") : cfg);
		}
	}
}

/* The container's image, pulled per imagePullPolicy. On failure *reason
 * is ErrImagePull, ImagePullBackOff, ErrImageNeverPull or InvalidImageName. */
static int ensure_image(struct sync_ctx *s, json_t *cspec, struct kctr *c, struct image **ret,
			const char **reason, char **msg)
{
	struct kubelet *k = s->k;
	const char *image = json_get_str(cspec, "image");
	_cleanup_free_ char *ref = image ? image_ref_normalize(image) : NULL;
	if (!ref) {
		*reason = "InvalidImageName";
		*msg =
		    xasprintf("Failed to apply default image tag \"%s\": invalid reference format",
			      image ? image : "");
		event(s, "Warning", "InspectFailed", "%s", *msg);
		return -EINVAL;
	}
	const char *policy = json_get_str(cspec, "imagePullPolicy");
	if (!policy) {
		const char *tail = strrchr(ref, '/');
		policy = strstr(tail ? tail : ref, ":latest") || !strchr(tail ? tail : ref, ':')
			     ? "Always"
			     : "IfNotPresent";
	}
	if (!streq(policy, "Always") && image_get(k->images, ref, ret) == 0) {
		if (!c->image_id)
			event(s, "Normal", "Pulled",
			      "Container image \"%s\" already present on machine", image);
		return 0;
	}
	if (streq(policy, "Never")) {
		*reason = "ErrImageNeverPull";
		*msg = xasprintf("Container image \"%s\" is not present with pull policy of Never",
				 image);
		event(s, "Warning", "ErrImageNeverPull", "%s", *msg);
		return -ENOENT;
	}
	if (c->pull_not_before > s->now && s->now < c->pull_failed_at + 3000000) {
		/* ErrImagePull stays a moment before the back-off shows. */
		*reason = c->reason && streq(c->reason, "ErrImagePull") ? "ErrImagePull"
									: "ImagePullBackOff";
		*msg = xstrdup(c->message ? c->message : "");
		wake_at(s, c->pull_failed_at + 3000000);
		return -EAGAIN;
	}
	if (c->pull_not_before > s->now) {
		*reason = "ImagePullBackOff";
		event(s, "Normal", "BackOff", "Back-off pulling image \"%s\"", image);
		*msg = xasprintf("Back-off pulling image \"%s\": ErrImagePull: %s", image,
				 c->pull_err ? c->pull_err : "");
		wake_at(s, c->pull_not_before);
		return -EAGAIN;
	}
	event(s, "Normal", "Pulling", "Pulling image \"%s\"", image);
	struct auths au = { 0 };
	pull_secrets(k, s->pod, &au);
	_cleanup_free_ char *err = NULL;
	uint64_t t0 = now_usec_monotonic();
	int r = image_pull(k->images, ref, au.a, au.n, ret, &err);
	auths_release(&au);
	if (r < 0) {
		/* Policy Always with the image present and the registry out
		 * of reach: the kubelet fails too; so do we. */
		*reason = "ErrImagePull";
		*msg = xasprintf("failed to pull and unpack image \"%s\": %s", image,
				 err ? err : strerror(-r));
		free(c->pull_err);
		c->pull_err = xstrdup(*msg);
		event(s, "Warning", "Failed", "Failed to pull image \"%s\": %s", image,
		      err ? err : strerror(-r));
		event(s, "Warning", "Failed", "Error: ErrImagePull");
		c->pull_backoff =
		    c->pull_backoff ? MIN(c->pull_backoff * 2, BACKOFF_MAX) : BACKOFF_INITIAL;
		c->pull_not_before = s->now + (uint64_t)c->pull_backoff;
		c->pull_failed_at = s->now;
		wake_at(s, c->pull_not_before);
		return r;
	}
	c->pull_backoff = 0;
	c->pull_not_before = 0;
	event(s, "Normal", "Pulled", "Successfully pulled image \"%s\" in %.3fs", image,
	      (double)(now_usec_monotonic() - t0) / 1e6);
	return 0;
}

/* ---- starting a container ---- */

static int grace_seconds(json_t *pod)
{
	json_t *g = json_get(pod, "metadata.deletionGracePeriodSeconds");
	if (json_is_integer(g))
		return (int)MAX(json_integer_value(g), 0);
	return (int)MAX(json_get_int(pod, "spec.terminationGracePeriodSeconds", 30), 0);
}

static struct probe_target target_of(struct kpod *p, const char *id, json_t *cspec)
{
	return (struct probe_target){
		.netns = p->have_sb && !p->host_network ? p->sb.netns : NULL,
		.pod_ip = p->pod_ip,
		.container_id = id,
		.container = cspec,
	};
}

static struct probe_exec exec_for(struct kubelet *k);

/* Create and start a new instance of c. On failure c's waiting reason and
 * message say why. */
static int start_ctr(struct sync_ctx *s, struct kctr *c, json_t *cspec)
{
	struct kubelet *k = s->k;
	struct kpod *p = s->p;
	struct image *img = NULL;
	const char *reason = NULL;
	_cleanup_free_ char *msg = NULL, *err = NULL;
	if (c->err_not_before > s->now) {
		wake_at(s, c->err_not_before);
		return -EAGAIN;
	}
	int r = ensure_image(s, cspec, c, &img, &reason, &msg);
	if (r < 0) {
		set_waiting(c, reason, msg);
		return r;
	}
	free(c->image_id);
	c->image_id = xstrdup(img->repo_digest ? img->repo_digest : img->id);

	int attempt = c->cur.id ? c->cur.attempt + 1 : c->prev.id ? c->prev.attempt + 1 : 0;
	attempt = MAX(attempt, c->restart_count);
	_cleanup_free_ char *dir = ctr_dir(k, p, c->name, attempt);
	_cleanup_free_ char *pdir = pod_dir(k, p);
	_cleanup_strv_free_ char **lower = NULL, **env = NULL;
	_cleanup_free_ char *rootfs = NULL;
	_cleanup_json_ json_t *mounts = NULL;
	_cleanup_free_ char *cg = NULL, *host = NULL, *logdir = NULL;
	_cleanup_free_ const char **ienv = NULL;
	const char *fail_reason = "CreateContainerError";

	uint64_t t_begin = now_usec_monotonic(), t_bundle = 0, t_create = 0;
	rt_rm_rf(dir);
	r = image_prepare(k->images, img, &lower, &err);
	if (r < 0)
		goto fail;
	r = rt_mkdir_p(dir, 0700);
	if (r < 0) {
		err = xasprintf("cannot create %s: %s", dir, strerror(-r));
		goto fail;
	}
	r = rootfs_mount(dir, lower, &rootfs, &err);
	if (r < 0)
		goto fail;
	struct kubelet_lookup lk = { .ud = k, .get = lookup_get };
	const char *const *image_env = NULL;
	json_t *ie = json_object_get(img->config, "Env");
	if (json_array_size(ie)) {
		ienv = xnew(const char *, json_array_size(ie) + 1);
		size_t i;
		json_t *v;
		json_array_foreach(ie, i, v) ienv[i] = json_string_value(v);
		image_env = ienv;
	}
	r = kubelet_env_resolve(s->pod, cspec, image_env, p->pod_ip, k->node_ip, &lk, &env, &err);
	if (r < 0) {
		fail_reason = "CreateContainerConfigError";
		goto fail;
	}
	r = container_mounts(pdir, s->pod, cspec, &mounts, &err);
	if (r < 0) {
		fail_reason = "CreateContainerConfigError";
		goto fail;
	}
	char id[65];
	random_hex(id, 64);
	cg = xasprintf("%s/pod%s/%s", k->o.cgroup_root, p->uid, id);
	host = xstrndup(p->host_network ? k->hostname
			: isempty(json_get_str(s->pod, "spec.hostname"))
			    ? p->name
			    : json_get_str(s->pod, "spec.hostname"),
			63);
	struct bundle_opts bo = {
		.pod = s->pod,
		.container = cspec,
		.image_config = img->config,
		.env = env,
		.mounts = mounts,
		.rootfs = rootfs,
		.netns = p->host_network ? NULL : p->sb.netns,
		.utsns = p->sb.utsns,
		.ipcns = p->sb.ipcns,
		.cgroups_path = cg,
		.hostname = host,
		.tty = json_get_bool(cspec, "tty", false),
		.stdin_open = json_get_bool(cspec, "stdin", false),
	};
	r = bundle_write(dir, &bo, &err);
	if (r < 0)
		goto fail;
	c->stop_signal = bundle_stop_signal(img->config);
	logdir = xasprintf("%s/%s_%s_%s/%s", k->logs_dir, p->ns, p->name, p->uid, c->name);
	rt_mkdir_p(logdir, 0755);
	char *log_path = xasprintf("%s/%d.log", logdir, attempt);
	unlink(log_path);
	struct oci_create_opts co = {
		.id = id,
		.bundle = dir,
		.log_path = log_path,
		.tty = bo.tty,
		.stdin = bo.stdin_open,
	};
	pid_t pid;
	t_bundle = now_usec_monotonic();
	r = oci_create(k->rt, &co, &pid, &err);
	if (r < 0) {
		free(log_path);
		goto fail;
	}
	if (net_wait(s) < 0) {
		/* No network: the container goes, and the pod waits for its
		 * sandbox (no container error). */
		free(log_path);
		oci_delete(k->rt, id, true);
		r = -EAGAIN;
		goto discard;
	}
	/* The new instance replaces the current one, which becomes the
	 * previous (its log stays for --previous). */
	pthread_mutex_lock(&k->mu);
	struct kinst old_prev = c->prev;
	c->prev = c->cur;
	c->cur = (struct kinst){ .id = xstrdup(id), .attempt = attempt, .log_path = log_path };
	pthread_mutex_unlock(&k->mu);
	kinst_remove(k, p, c->name, &old_prev, true);
	free(old_prev.id);
	free(old_prev.log_path);
	if (c->prev.id) {
		/* The previous instance's runtime state and rootfs go; its log stays. */
		oci_delete(k->rt, c->prev.id, true);
		_cleanup_free_ char *pd = ctr_dir(k, p, c->name, c->prev.attempt);
		rootfs_unmount(pd);
		rt_rm_rf(pd);
	}
	s->changed = true;
	event(s, "Normal", "Created", "Created container %s", c->name);
	t_create = now_usec_monotonic();
	r = oci_start(k->rt, id, &err);
	if (r < 0) {
		pthread_mutex_lock(&k->mu);
		c->cur.started = (int64_t)now_usec_realtime();
		c->cur.exited = true;
		c->cur.exit_code = 128;
		c->cur.finished = c->cur.started;
		pthread_mutex_unlock(&k->mu);
		fail_reason = "RunContainerError";
		goto fail;
	}
	pthread_mutex_lock(&k->mu);
	c->cur.started = (int64_t)now_usec_realtime();
	pthread_mutex_unlock(&k->mu);
	atomic_store(&c->liveness_failed, false);
	c->backoff_set = false;
	c->not_before = 0;
	c->err_not_before = 0;
	set_waiting(c, NULL, NULL);
	event(s, "Normal", "Started", "Started container %s", c->name);
	uint64_t t_end = now_usec_monotonic();
	log_v(2,
	      "pod %s container %s: started in %.1f ms (rootfs and bundle %.1f, create %.1f, "
	      "start %.1f)",
	      p->key, c->name, (double)(t_end - t_begin) / 1000,
	      (double)(t_bundle - t_begin) / 1000, (double)(t_create - t_bundle) / 1000,
	      (double)(t_end - t_create) / 1000);
	struct probe_target t = target_of(p, id, cspec);
	prober_add(k->prober, p->uid, c->name, cspec, &t, (int64_t)now_usec_monotonic());

	json_t *post = json_get(cspec, "lifecycle.postStart");
	if (post) {
		struct probe_exec ex = exec_for(k);
		_cleanup_free_ char *hmsg = NULL;
		if (probe_handler_run(post, &t, &ex, 30, &hmsg) < 0) {
			event(s, "Warning", "FailedPostStartHook", "PostStartHook failed: %s",
			      hmsg ? hmsg : "");
			event(s, "Normal", "Killing", "FailedPostStartHook: stopping container %s",
			      c->name);
			oci_kill(k->rt, id, SIGKILL);
		}
	}
	image_free(img);
	return 0;
fail:
	if (!err)
		err = xstrdup(strerror(-r));
	set_waiting(c, fail_reason, err);
	event(s, "Warning", "Failed", "Error: %s", err);
	log_warn("pod %s container %s: %s: %s", p->key, c->name, fail_reason, err);
	c->err_not_before = s->now + RETRY_USEC;
	wake_at(s, c->err_not_before);
discard:
	image_free(img);
	if (!c->cur.id || c->cur.attempt != attempt) {
		rootfs_unmount(dir);
		rt_rm_rf(dir);
	}
	return r;
}

/* ---- probes' exec ---- */

static int exec_run(void *ud, const char *id, char *const *argv, int timeout_s, int *ret_code,
		    char **ret_output);

static struct probe_exec exec_for(struct kubelet *k)
{
	return (struct probe_exec){ .ud = k, .run = exec_run };
}

static int exec_run(void *ud, const char *id, char *const *argv, int timeout_s, int *ret_code,
		    char **ret_output)
{
	return kubelet_probe_exec(ud, id, argv, timeout_s, ret_code, ret_output);
}

/* ---- stopping ---- */

static void stop_ctr(struct sync_ctx *s, struct kctr *c, json_t *cspec, int grace, bool run_prestop)
{
	struct kubelet *k = s->k;
	if (!kinst_running(&c->cur) || c->kill_deadline)
		return;
	uint64_t t0 = now_usec_monotonic();
	json_t *pre = cspec ? json_get(cspec, "lifecycle.preStop") : NULL;
	if (run_prestop && pre && grace > 0) {
		struct probe_target t = target_of(s->p, c->cur.id, cspec);
		struct probe_exec ex = exec_for(k);
		_cleanup_free_ char *hmsg = NULL;
		if (probe_handler_run(pre, &t, &ex, grace, &hmsg) < 0)
			event(s, "Warning", "FailedPreStopHook", "PreStopHook failed: %s",
			      hmsg ? hmsg : "");
	}
	uint64_t spent = now_usec_monotonic() - t0;
	int64_t left = (int64_t)grace * 1000000 - (int64_t)spent;
	if (left < 0)
		left = 0;
	oci_kill(k->rt, c->cur.id, left > 0 ? c->stop_signal : SIGKILL);
	c->kill_deadline = now_usec_monotonic() + (uint64_t)left;
	if (!c->kill_deadline)
		c->kill_deadline = 1;
	wake_at(s, c->kill_deadline);
}

/* SIGKILL what outlived its grace period. */
static void enforce_deadlines(struct sync_ctx *s)
{
	for (size_t i = 0; i < s->p->nctrs; i++) {
		struct kctr *c = &s->p->ctrs[i];
		if (!c->kill_deadline)
			continue;
		if (!kinst_running(&c->cur)) {
			c->kill_deadline = 0;
			continue;
		}
		if (c->kill_deadline <= s->now) {
			oci_kill(s->k->rt, c->cur.id, SIGKILL);
			wake_at(s, s->now + 1000000);
		} else {
			wake_at(s, c->kill_deadline);
		}
	}
}

static void refresh_all(struct sync_ctx *s)
{
	struct kpod *p = s->p;
	for (size_t i = 0; i < p->nctrs; i++) {
		struct kctr *c = &p->ctrs[i];
		struct kinst *in = &c->cur;
		bool was = kinst_running(in);
		if (p->adopted)
			kinst_check(s->k, in);
		else
			kinst_refresh(s->k, in);
		if (was && !kinst_running(in)) {
			s->changed = true;
			prober_remove(s->k->prober, p->uid, c->name);
		} else if (p->adopted && kinst_running(in)) {
			/* Probes start again for what an earlier agent started. */
			json_t *cspec = spec_of(s->pod, c);
			if (cspec) {
				struct probe_target t = target_of(p, in->id, cspec);
				prober_add(s->k->prober, p->uid, c->name, cspec, &t,
					   (int64_t)now_usec_monotonic());
			}
		}
	}
	p->adopted = false;
}

/* ---- deletion ---- */

static void delete_final(struct kubelet *k, const char *ns, const char *name, const char *uid)
{
	_cleanup_free_ char *path = kpath("v1", "pods", ns, name);
	_cleanup_json_ json_t *opts =
	    json_pack("{s:s, s:s, s:i, s:{s:s}}", "kind", "DeleteOptions", "apiVersion", "v1",
		      "gracePeriodSeconds", 0, "preconditions", "uid", uid);
	long code = kclient_delete(k->c, path, opts);
	if (code / 100 != 2 && code != 404 && code != 409)
		log_warn("cannot delete pod %s/%s: HTTP %ld", ns, name, code);
}

static int pod_terminate(struct sync_ctx *s)
{
	struct kubelet *k = s->k;
	struct kpod *p = s->p;
	int grace = grace_seconds(s->pod);
	if (!p->terminating) {
		p->terminating = true;
		p->term_deadline = s->now + (uint64_t)grace * 1000000;
		/* App containers first get their preStop hooks, then the signal. */
		for (size_t i = 0; i < p->nctrs; i++) {
			struct kctr *c = &p->ctrs[i];
			if (!kinst_running(&c->cur))
				continue;
			event(s, "Normal", "Killing", "Stopping container %s", c->name);
			stop_ctr(s, c, spec_of(s->pod, c), grace, true);
		}
	}
	refresh_all(s);
	bool running = false;
	for (size_t i = 0; i < p->nctrs; i++) {
		struct kctr *c = &p->ctrs[i];
		if (!kinst_running(&c->cur))
			continue;
		running = true;
		if (!c->kill_deadline) /* started meanwhile */
			stop_ctr(s, c, NULL, 0, false);
		if (s->now >= p->term_deadline)
			c->kill_deadline = MIN(c->kill_deadline, s->now);
	}
	enforce_deadlines(s);
	if (running) {
		wake_at(s, s->now + 2000000);
		return 0;
	}
	/* Release first: the API server may delete a terminating pod on the
	 * status update already. */
	pod_release(k, p, true);
	pod_status_update(k, p, s->pod);
	delete_final(k, p->ns, p->name, p->uid);
	log_info("pod %s deleted", p->key);
	pod_forget(k, p);
	s->p = NULL;
	return 0;
}

/* ---- running ---- */

static const char *restart_policy(json_t *pod)
{
	const char *r = json_get_str(pod, "spec.restartPolicy");
	return r ? r : "Always";
}

/* Whether an exited instance should be restarted. */
bool kctr_wants_restart(json_t *pod, const struct kctr *c)
{
	const char *pol = restart_policy(pod);
	if (c->init)
		return c->cur.exit_code != 0 && !streq(pol, "Never");
	if (streq(pol, "Always"))
		return true;
	if (streq(pol, "OnFailure"))
		return c->cur.exit_code != 0;
	return false;
}

/* Start c now or after its back-off. 0 if it runs (or is being started). */
static int restart_with_backoff(struct sync_ctx *s, struct kctr *c, json_t *cspec)
{
	struct kpod *p = s->p;
	if (!c->backoff_set) {
		c->backoff_set = true;
		int64_t ran = c->cur.finished - c->cur.started;
		if (ran >= 600LL * 1000000)
			c->backoff = 0;
		int64_t since_exit = (int64_t)now_usec_realtime() - c->cur.finished;
		int64_t delay = c->backoff - MAX(since_exit, 0);
		c->not_before = s->now + (uint64_t)MAX(delay, 0);
		c->backoff = c->backoff ? MIN(c->backoff * 2, BACKOFF_MAX) : BACKOFF_INITIAL;
		s->changed = true;
	}
	if (c->not_before > s->now) {
		_cleanup_free_ char *msg = xasprintf(
		    "back-off %llds restarting failed container=%s pod=%s_%s(%s)",
		    (long long)((c->backoff / 2 ? c->backoff / 2 : BACKOFF_INITIAL) / 1000000),
		    c->name, p->name, p->ns, p->uid);
		if (!streq_ptr(c->reason, "CrashLoopBackOff"))
			event(s, "Warning", "BackOff",
			      "Back-off restarting failed container %s in pod %s_%s(%s)", c->name,
			      p->name, p->ns, p->uid);
		set_waiting(c, "CrashLoopBackOff", msg);
		wake_at(s, c->not_before);
		return -EAGAIN;
	}
	int r = start_ctr(s, c, cspec);
	if (r == 0) {
		c->restart_count++;
		s->changed = true;
	}
	return r;
}

/* Init containers in order; true when all have succeeded. */
static bool run_inits(struct sync_ctx *s)
{
	struct kpod *p = s->p;
	for (size_t i = 0; i < p->ninit; i++) {
		struct kctr *c = &p->ctrs[i];
		json_t *cspec = spec_of(s->pod, c);
		if (!cspec)
			continue;
		if (c->cur.id && c->cur.exited && c->cur.exit_code == 0)
			continue;
		if (kinst_running(&c->cur))
			return false;
		if (!c->cur.id || !c->cur.started) {
			start_ctr(s, c, cspec);
			return false;
		}
		/* failed */
		if (!kctr_wants_restart(s->pod, c)) {
			p->failed_init = true;
			return false;
		}
		restart_with_backoff(s, c, cspec);
		return false;
	}
	return true;
}

static void run_apps(struct sync_ctx *s)
{
	struct kpod *p = s->p;
	int grace = grace_seconds(s->pod);
	for (size_t i = p->ninit; i < p->nctrs; i++) {
		struct kctr *c = &p->ctrs[i];
		json_t *cspec = spec_of(s->pod, c);
		if (!cspec)
			continue;
		if (kinst_running(&c->cur)) {
			if (atomic_load(&c->liveness_failed) && !c->kill_deadline) {
				event(s, "Normal", "Killing",
				      "Container %s failed liveness probe, will be restarted",
				      c->name);
				stop_ctr(s, c, cspec, grace, true);
			}
			continue;
		}
		if (!c->cur.id || !c->cur.started) {
			start_ctr(s, c, cspec);
			continue;
		}
		bool killed_for_liveness = atomic_load(&c->liveness_failed);
		if (kctr_wants_restart(s->pod, c) ||
		    (killed_for_liveness && !streq(restart_policy(s->pod), "Never")))
			restart_with_backoff(s, c, cspec);
	}
}

/* Whether the pod has finished: nothing runs and nothing will restart. */
static bool pod_finished(struct sync_ctx *s)
{
	struct kpod *p = s->p;
	if (p->failed_init)
		return true;
	if (p->nctrs == p->ninit)
		return false;
	for (size_t i = p->ninit; i < p->nctrs; i++) {
		struct kctr *c = &p->ctrs[i];
		if (!c->cur.id || !c->cur.started || kinst_running(&c->cur))
			return false;
		if (kctr_wants_restart(s->pod, c))
			return false;
	}
	return true;
}

static int pod_run(struct sync_ctx *s)
{
	struct kubelet *k = s->k;
	struct kpod *p = s->p;
	refresh_all(s);
	enforce_deadlines(s);
	if (p->torn_down) {
		pod_status_update(k, p, s->pod);
		return 0;
	}
	_cleanup_free_ char *err = NULL;
	int r = ensure_sandbox(s, &err);
	if (r >= 0) {
		_cleanup_free_ char *dir = pod_dir(k, p);
		r = write_etc_files(s, &err);
		if (r >= 0) {
			struct kubelet_lookup lk = { .ud = k, .get = lookup_get };
			r = pod_volumes_setup(dir, s->pod, p->pod_ip, &lk, &err);
			if (r < 0 && !streq_ptr(p->sb_error, err))
				event(s, "Warning", "FailedMount", "MountVolume.SetUp failed: %s",
				      err);
		}
	} else if (r != -EAGAIN && !streq_ptr(p->sb_error, err)) {
		event(s, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: %s",
		      err ? err : strerror(-r));
	}
	if (r < 0) {
		(void)net_wait(s);
		free(p->sb_error);
		p->sb_error = err ? xstrdup(err) : xstrdup(strerror(-r));
		p->sb_ready = false;
		wake_at(s, s->now + (r == -EAGAIN ? 1000000 : RETRY_USEC));
		pod_status_update(k, p, s->pod);
		return 0;
	}
	free(p->sb_error);
	p->sb_error = NULL;
	p->sb_ready = true;
	if (s->changed) {
		kpod_save(k, p);
		s->changed = false;
	}
	if (run_inits(s))
		run_apps(s);
	(void)net_wait(s); /* when no container got as far as starting */
	if (s->changed)
		kpod_save(k, p);
	s->changed = false;
	pod_status_update(k, p, s->pod);
	if (pod_finished(s)) {
		/* Done for good: release the runtime (logs and records stay). */
		pod_release(k, p, false);
		p->torn_down = true;
		kpod_save(k, p);
	}
	return 0;
}

int pod_sync(const char *key, void *userdata)
{
	struct kubelet *k = userdata;
	struct cobj *o = informer_get(k->pods_inf, key);
	_cleanup_json_ json_t *pod = o ? cobj_parse(o) : NULL;
	if (o)
		cobj_unref(o);
	pthread_mutex_lock(&k->mu);
	struct kpod *p = kubelet_find_pod_locked(k, key);
	pthread_mutex_unlock(&k->mu);
	const char *uid = json_get_str(pod, "metadata.uid");
	if (p && (!pod || !streq_ptr(p->uid, uid))) {
		/* Gone from the API (or replaced by a namesake): stop at once. */
		log_info("pod %s (%s) is gone; removing its containers", key, p->uid);
		pod_release(k, p, true);
		pod_forget(k, p);
		p = NULL;
	}
	if (!pod)
		return 0;
	if (!json_object_get(pod, "kind")) {
		json_set_str(pod, "apiVersion", "v1");
		json_set_str(pod, "kind", "Pod");
	}
	bool deleting = json_get(pod, "metadata.deletionTimestamp") != NULL;
	const char *phase = json_get_str(pod, "status.phase");
	bool terminal = streq_ptr(phase, "Succeeded") || streq_ptr(phase, "Failed");
	if (!p) {
		if (terminal) {
			/* Finished before we knew it (an earlier agent): nothing runs. */
			if (deleting)
				delete_final(k, json_get_str(pod, "metadata.namespace"),
					     json_get_str(pod, "metadata.name"), uid);
			return 0;
		}
		p = pod_new(k, key, pod);
		log_v(2, "pod %s: new, uid %s", key, p->uid);
		pthread_mutex_lock(&k->mu);
		avl_insert(&k->pods, p->key, &p->by_key);
		pthread_mutex_unlock(&k->mu);
		kpod_save(k, p);
	}
	struct sync_ctx s = { .k = k, .p = p, .pod = pod, .now = now_usec_monotonic() };
	int r = deleting ? pod_terminate(&s) : pod_run(&s);
	if (s.wake) {
		uint64_t now = now_usec_monotonic();
		workqueue_add_after(k->podq, key, s.wake > now ? (int64_t)(s.wake - now) : 0);
	}
	return r;
}
