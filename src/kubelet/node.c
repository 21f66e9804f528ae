/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's Node: registration with what the machine has, the Lease
 * renewed every 2 s (the heartbeat), the status every minute, and the
 * node's spec.podCIDR once the node IPAM controller has set it. */
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <time.h>

#include <sys/stat.h>

#include "client/informer.h"
#include "client/kclient.h"
#include "client/workqueue.h"
#include "kubelet/kubelet_internal.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/timeutil.h"
#include "runtime/image.h"
#include "runtime/oci.h"

#define LEASE_NS	       "kube-node-lease"
#define LEASE_DURATION_SECONDS 40
#define LEASE_RENEW_USEC       (2LL * 1000000)
#define STATUS_EVERY_USEC      (60LL * 1000000)
#define MERGE		       "application/merge-patch+json"
#define SMP		       "application/strategic-merge-patch+json"

static void read_os_image(char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen("/etc/os-release", "re");
	char line[256];
	snprintf(buf, size, "Linux");
	while (f && fgets(line, sizeof(line), f)) {
		if (!startswith(line, "PRETTY_NAME="))
			continue;
		char *v = line + strlen("PRETTY_NAME=");
		v[strcspn(v, "\r\n")] = 0;
		size_t n = strlen(v);
		if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
			v[n - 1] = 0;
			v++;
		}
		size_t len = MIN(strlen(v), size - 1);
		memcpy(buf, v, len);
		buf[len] = 0;
	}
}

static void read_machine_id(char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen("/etc/machine-id", "re");
	buf[0] = 0;
	if (f && fgets(buf, (int)size, f))
		buf[strcspn(buf, "\r\n")] = 0;
}

static json_t *capacity(struct kubelet *k)
{
	char cpu[16], mem[32], eph[32];
	snprintf(cpu, sizeof(cpu), "%ld", sysconf(_SC_NPROCESSORS_ONLN));
	struct sysinfo si;
	long long memk = 0;
	if (sysinfo(&si) == 0)
		memk = (long long)si.totalram * si.mem_unit / 1024;
	snprintf(mem, sizeof(mem), "%lldKi", memk);
	struct statvfs sv;
	long long ephk = 0;
	if (statvfs(k->data_dir, &sv) == 0)
		ephk = (long long)sv.f_blocks * (long long)sv.f_frsize / 1024;
	snprintf(eph, sizeof(eph), "%lldKi", ephk);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "cpu", cpu, "ephemeral-storage", eph,
			 "hugepages-1Gi", "0", "hugepages-2Mi", "0", "memory", mem, "pods", "110");
}

static json_t *condition(const char *type, const char *status, const char *reason,
			 const char *message, const char *hb, const char *since)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status,
			 "lastHeartbeatTime", hb, "lastTransitionTime", since, "reason", reason,
			 "message", message);
}

/* Memory, disk and PID pressure from the machine (thresholds like the
 * kubelet's default hard eviction: memory.available<100Mi,
 * nodefs.available<10%, pids within 5% of the maximum). */
static void pressures(struct kubelet *k, bool *mem, bool *disk, bool *pid)
{
	*mem = *disk = *pid = false;
	struct sysinfo si;
	if (sysinfo(&si) == 0) {
		long long avail = (long long)(si.freeram + si.bufferram) * si.mem_unit;
		*mem = avail < 100LL * 1024 * 1024;
		long long maxpid = 0;
		_cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
		if (f && fscanf(f, "%lld", &maxpid) == 1 && maxpid > 0)
			*pid = si.procs > maxpid * 95 / 100;
	}
	struct statvfs sv;
	if (statvfs(k->data_dir, &sv) == 0 && sv.f_blocks)
		*disk = sv.f_bavail * 10 < sv.f_blocks;
}

/* status.images: the stored images by their names. */
static json_t *images(struct kubelet *k)
{
	json_t *list = json_array();
	struct image **imgs = NULL;
	size_t n = 0;
	if (image_list(k->images, &imgs, &n) < 0)
		return list;
	for (size_t i = 0; i < n; i++) {
		json_t *names = json_array();
		if (imgs[i]->repo_digest)
			json_array_append_new(names, json_string(imgs[i]->repo_digest));
		if (imgs[i]->ref && !streq_ptr(imgs[i]->ref, imgs[i]->repo_digest))
			json_array_append_new(names, json_string(imgs[i]->ref));
		json_array_append_new(list, json_pack("{s:o, s:I}", "names", names, "sizeBytes",
						      (json_int_t)imgs[i]->size));
		image_free(imgs[i]);
	}
	free(imgs);
	return list;
}

static json_t *node_status(struct kubelet *k, bool full)
{
	char hb[32], since[32];
	time_format_rfc3339((int64_t)now_usec_realtime(), hb);
	time_format_rfc3339(k->start_usec, since);
	bool mem, disk, pid;
	pressures(k, &mem, &disk, &pid);
	json_t *conds = json_array();
	json_array_append_new(
	    conds, mem ? condition("MemoryPressure", "True", "KubeletHasInsufficientMemory",
				   "kubelet has insufficient memory available", hb, since)
		       : condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
				   "kubelet has sufficient memory available", hb, since));
	json_array_append_new(conds,
			      disk ? condition("DiskPressure", "True", "KubeletHasDiskPressure",
					       "kubelet has disk pressure", hb, since)
				   : condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
					       "kubelet has no disk pressure", hb, since));
	json_array_append_new(conds,
			      pid ? condition("PIDPressure", "True", "KubeletHasInsufficientPID",
					      "kubelet has insufficient PID available", hb, since)
				  : condition("PIDPressure", "False", "KubeletHasSufficientPID",
					      "kubelet has sufficient PID available", hb, since));
	json_array_append_new(conds, condition("Ready", "True", "KubeletReady",
					       "kubelet is posting ready status", hb, since));
	json_t *st = json_object();
	json_object_set_new(st, "conditions", conds);
	if (full) {
		json_t *cap = capacity(k);
		json_object_set(st, "capacity", cap);
		json_object_set_new(st, "allocatable", cap);
		json_object_set_new(st, "addresses",
				    json_pack("[{s:s, s:s}, {s:s, s:s}]", "type", "InternalIP",
					      "address", k->node_ip, "type", "Hostname", "address",
					      k->hostname));
		json_object_set_new(
		    st, "daemonEndpoints",
		    json_pack("{s:{s:i}}", "kubeletEndpoint", "Port", k->o.stream_port));
		struct utsname u;
		char os[200], mid[64];
		read_os_image(os, sizeof(os));
		read_machine_id(mid, sizeof(mid));
		uname(&u);
		json_object_set_new(st, "images", images(k));
		json_object_set_new(st, "nodeInfo",
				    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
					      "machineID", mid, "systemUUID", mid, "bootID",
					      k->boot_id, "kernelVersion", u.release, "osImage", os,
					      "containerRuntimeVersion", oci_runtime_version(k->rt),
					      "kubeletVersion", KUBELET_VERSION, "kubeProxyVersion",
					      KUBELET_VERSION, "operatingSystem", "linux",
					      "architecture", "amd64"));
	}
	return json_pack("{s:o}", "status", st);
}

static json_t *labels(struct kubelet *k)
{
	_cleanup_free_ char *host = xstrndup(k->node_name, 63);
	return json_pack("{s:s, s:s, s:s, s:s, s:s}", "beta.kubernetes.io/arch", "amd64",
			 "beta.kubernetes.io/os", "linux", "kubernetes.io/arch", "amd64",
			 "kubernetes.io/os", "linux", "kubernetes.io/hostname", host);
}

static long send(struct kubelet *k, const char *method, const char *path, json_t *body,
		 const char *ct, json_t **ret)
{
	size_t len = 0;
	_cleanup_free_ char *text = body ? json_dump_compact(body, &len) : NULL;
	struct kresp r;
	if (kclient_do(k->c, method, path, text, len, ct, &r) < 0)
		r.code = 0;
	long code = r.code;
	if (ret)
		*ret = code / 100 == 2 ? kresp_json(&r) : NULL;
	if (code / 100 != 2 && code != 404 && code != 409) {
		char buf[256];
		log_warn("%s %s: %s", method, path, kresp_message(&r, buf, sizeof(buf)));
	}
	kresp_release(&r);
	return code;
}

static void take_cidr(struct kubelet *k, json_t *node)
{
	const char *cidr = json_get_str(node, "spec.podCIDR");
	if (isempty(cidr))
		return;
	pthread_mutex_lock(&k->cidr_mu);
	bool was = k->pod_cidr != NULL;
	if (!was)
		k->pod_cidr = xstrdup(cidr);
	pthread_mutex_unlock(&k->cidr_mu);
	if (!was) {
		log_info("node %s has pod CIDR %s", k->node_name, cidr);
		/* Pods waiting for the network go on. */
		pthread_mutex_lock(&k->mu);
		for (struct avl_node *n = avl_first(&k->pods); n; n = avl_next(n))
			workqueue_add(k->podq, avl_entry(n, struct kpod, by_key)->key);
		pthread_mutex_unlock(&k->mu);
	}
}

char *node_pod_cidr(struct kubelet *k)
{
	pthread_mutex_lock(&k->cidr_mu);
	char *c = k->pod_cidr ? xstrdup(k->pod_cidr) : NULL;
	pthread_mutex_unlock(&k->cidr_mu);
	return c;
}

static int node_register(struct kubelet *k, char **ret_uid)
{
	_cleanup_json_ json_t *node = node_status(k, true);
	json_set_str(node, "apiVersion", "v1");
	json_set_str(node, "kind", "Node");
	json_object_set_new(node, "metadata",
			    json_pack("{s:s, s:o, s:{s:s}}", "name", k->node_name, "labels",
				      labels(k), "annotations", "node.alpha.kubernetes.io/ttl",
				      "0"));
	json_t *resp = NULL;
	long code = send(k, "POST", "/api/v1/nodes", node, NULL, &resp);
	_cleanup_free_ char *path = xasprintf("/api/v1/nodes/%s", k->node_name);
	if (code == 409) {
		/* Registered before: take it over, as a restarted kubelet does. */
		_cleanup_json_ json_t *meta =
		    json_pack("{s:{s:o}}", "metadata", "labels", labels(k));
		code = send(k, "PATCH", path, meta, MERGE, NULL);
		if (code != 200)
			return -EIO;
		_cleanup_free_ char *spath = xasprintf("%s/status", path);
		_cleanup_json_ json_t *st = node_status(k, true);
		code = send(k, "PATCH", spath, st, SMP, &resp);
	}
	if (code / 100 != 2) {
		json_decref(resp);
		return -EIO;
	}
	*ret_uid = xstrdup(str_or_empty_json(resp, "metadata.uid"));
	take_cidr(k, resp);
	json_decref(resp);
	log_info("registered node %s (%s)", k->node_name, k->node_ip);
	return 0;
}

static int lease_renew(struct kubelet *k, const char *node_uid)
{
	char renew[40];
	time_format_rfc3339_micro((int64_t)now_usec_realtime(), renew);
	_cleanup_free_ char *path = xasprintf(
	    "/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases/%s", k->node_name);
	_cleanup_json_ json_t *spec =
	    json_pack("{s:{s:s, s:i, s:s}}", "spec", "holderIdentity", k->node_name,
		      "leaseDurationSeconds", LEASE_DURATION_SECONDS, "renewTime", renew);
	long code = send(k, "PATCH", path, spec, MERGE, NULL);
	if (code == 200)
		return 0;
	if (code != 404)
		return -EIO;
	_cleanup_json_ json_t *lease =
	    json_pack("{s:s, s:s, s:{s:s, s:s, s:[{s:s, s:s, s:s, s:s}]}, s:O}", "apiVersion",
		      "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", k->node_name,
		      "namespace", LEASE_NS, "ownerReferences", "apiVersion", "v1", "kind", "Node",
		      "name", k->node_name, "uid", node_uid, "spec", json_object_get(spec, "spec"));
	code = send(k, "POST", "/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases", lease,
		    NULL, NULL);
	return code == 201 || code == 409 ? 0 : -EIO;
}

static void wait_usec(struct kubelet *k, int64_t usec)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(usec / 1000000);
	ts.tv_nsec += (long)(usec % 1000000) * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&k->node_mu);
	if (!atomic_load(&k->stopping))
		pthread_cond_timedwait(&k->node_cond, &k->node_mu, &ts);
	pthread_mutex_unlock(&k->node_mu);
}

/* Has the images directory changed since *mtime (updated)? */
static bool images_changed(struct kubelet *k, struct timespec *mtime)
{
	struct stat st;
	if (stat(k->images_dir, &st) < 0)
		return false;
	if (st.st_mtim.tv_sec == mtime->tv_sec && st.st_mtim.tv_nsec == mtime->tv_nsec)
		return false;
	*mtime = st.st_mtim;
	return true;
}

static void *node_main(void *arg)
{
	struct kubelet *k = arg;
	_cleanup_free_ char *uid = NULL;
	int64_t backoff = 500000;
	while (!atomic_load(&k->stopping) && node_register(k, &uid) < 0) {
		log_warn("cannot register node %s; retrying", k->node_name);
		wait_usec(k, backoff);
		backoff = MIN(backoff * 2, 10LL * 1000000);
	}
	uint64_t last_status = now_usec_monotonic();
	_cleanup_free_ char *path = xasprintf("/api/v1/nodes/%s", k->node_name);
	_cleanup_free_ char *spath = xasprintf("/api/v1/nodes/%s/status", k->node_name);
	struct timespec images_mtime = { 0 };
	images_changed(k, &images_mtime); /* imported at start */
	while (!atomic_load(&k->stopping)) {
		lease_renew(k, uid);
		/* Archives copied into the images directory while running
		 * (`c8s cluster load`): import them, report them at once. */
		if (images_changed(k, &images_mtime)) {
			image_import_dir(k->images, k->images_dir);
			last_status = 0;
		}
		if (!k->pod_cidr) {
			long code;
			_cleanup_json_ json_t *n = kclient_get(k->c, path, &code);
			if (n)
				take_cidr(k, n);
		}
		uint64_t now = now_usec_monotonic();
		if ((int64_t)(now - last_status) >= STATUS_EVERY_USEC) {
			_cleanup_json_ json_t *st = node_status(k, true);
			long code = send(k, "PATCH", spath, st, SMP, NULL);
			if (code == 404) {
				/* Deleted: register again. */
				free(uid);
				uid = NULL;
				if (node_register(k, &uid) < 0)
					uid = xstrdup("");
			}
			last_status = now;
		}
		wait_usec(k, k->pod_cidr ? LEASE_RENEW_USEC : 500000);
	}
	return NULL;
}

int node_start(struct kubelet *k)
{
	int r = pthread_create(&k->node_thread, NULL, node_main, k);
	if (r)
		return -r;
	k->node_running = true;
	return 0;
}

void node_stop(struct kubelet *k)
{
	pthread_mutex_lock(&k->node_mu);
	atomic_store(&k->stopping, true);
	pthread_cond_broadcast(&k->node_cond);
	pthread_mutex_unlock(&k->node_mu);
	if (k->node_running)
		pthread_join(k->node_thread, NULL);
	k->node_running = false;
}
