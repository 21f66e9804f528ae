/* SPDX-License-Identifier: Apache-2.0 */
/* Simulated nodes: see simulate.h for the theory of operation. */
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/utsname.h>
#include <time.h>

#include "client/informer.h"
#include "client/kclient.h"
#include "client/objects.h"
#include "client/workqueue.h"
#include "kubelet/simulate.h"
#include "lib/avl.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/names.h"
#include "lib/quantity.h"
#include "lib/random.h"
#include "lib/strbuf.h"
#include "lib/timeutil.h"

#define KUBELET_VERSION	       "v1.32.0"
#define RUNTIME_VERSION	       "c8s-sim://0.1"
#define LEASE_NS	       "kube-node-lease"
#define LEASE_DURATION_SECONDS 40
#define NODE_RANGE_BASE	       0xC6120000u /* 198.18.0.0/15 */
#define NODE_RANGE_SIZE	       (1u << 17)
#define POOL_MAX_SIZE	       (1u << 16)
#define STATS_EVERY_USEC       (10LL * 1000000)
#define TICK_MAX_USEC	       100000
#define WAIT_WARN_USEC	       (30LL * 1000000)
#define SMP		       "application/strategic-merge-patch+json"
#define MERGE		       "application/merge-patch+json"

void sim_opts_default(struct sim_opts *o)
{
	*o = (struct sim_opts){
		.nodes = 0,
		.cpu = "4",
		.memory = "16Gi",
		.pods = "110",
		.ephemeral_storage = "100Gi",
		.lease_renew_usec = 2LL * 1000000,
		.status_usec = 60LL * 1000000,
		.pod_workers = 32,
		.node_workers = 16,
	};
}

/* "NAME=DURATION" -> name (allocated) and usec. */
static int parse_fail_after(const char *s, char **ret_name, int64_t *ret_usec)
{
	const char *eq = strrchr(s, '=');
	int64_t us;
	if (!eq || eq == s)
		return -EINVAL;
	if (duration_parse(eq + 1, &us) < 0) {
		char *end;
		long n = strtol(eq + 1, &end, 10);
		if (!eq[1] || *end || n < 0)
			return -EINVAL;
		us = (int64_t)n * 1000000;
	}
	*ret_name = xstrndup(s, (size_t)(eq - s));
	*ret_usec = us;
	return 0;
}

int sim_opts_check(const struct sim_opts *o, char **ret_err)
{
	if (o->nodes <= 0 || o->nodes > 100000) {
		*ret_err = xasprintf("--simulate must be between 1 and 100000, not %d", o->nodes);
		return -EINVAL;
	}
	if (isempty(o->prefix)) {
		*ret_err = xstrdup("--node-name-prefix must not be empty");
		return -EINVAL;
	}
	_cleanup_free_ char *last = xasprintf("%s%d", o->prefix, o->nodes - 1);
	_cleanup_free_ char *first = xasprintf("%s0", o->prefix);
	_cleanup_free_ char *why = validate_dns1123_subdomain(last);
	if (!why)
		why = validate_dns1123_subdomain(first);
	if (why) {
		*ret_err = xasprintf("--node-name-prefix \"%s\" makes invalid node names: %s",
				     o->prefix, why);
		return -EINVAL;
	}
	const struct {
		const char *flag, *v;
	} qs[] = { { "node-cpu", o->cpu },
		   { "node-memory", o->memory },
		   { "node-pods", o->pods },
		   { "node-ephemeral-storage", o->ephemeral_storage } };
	for (size_t i = 0; i < ARRAY_SIZE(qs); i++) {
		if (isempty(qs[i].v) || !quantity_valid(qs[i].v)) {
			*ret_err = xasprintf("--%s: \"%s\" is not a quantity", qs[i].flag,
					     qs[i].v ? qs[i].v : "");
			return -EINVAL;
		}
	}
	for (const char **l = o->labels; l && *l; l++) {
		const char *eq = strchr(*l, '=');
		_cleanup_free_ char *k = eq ? xstrndup(*l, (size_t)(eq - *l)) : NULL;
		_cleanup_free_ char *bad = k ? validate_qualified_name(k) : NULL;
		if (!bad && eq)
			bad = validate_label_value(eq + 1);
		if (!eq || bad) {
			*ret_err = xasprintf("--node-labels: \"%s\" is not KEY=VALUE%s%s", *l,
					     bad ? ": " : "", bad ? bad : "");
			return -EINVAL;
		}
	}
	if (o->lease_renew_usec < 10000 || o->status_usec < 10000) {
		*ret_err = xstrdup(
		    "--lease-renew-interval and --node-status-interval must be at least 10ms");
		return -EINVAL;
	}
	if (o->pod_startup_usec < 0) {
		*ret_err = xstrdup("--pod-startup-delay must not be negative");
		return -EINVAL;
	}
	/* The client keeps 64 keep-alive connections; two are the watches. */
	if (o->pod_workers < 1 || o->node_workers < 1 || o->pod_workers + o->node_workers > 60) {
		*ret_err = xstrdup("--pod-workers and --node-workers must be at least 1 and "
				   "together at most 60");
		return -EINVAL;
	}
	for (const char **f = o->fail_after; f && *f; f++) {
		_cleanup_free_ char *name = NULL;
		int64_t us;
		if (parse_fail_after(*f, &name, &us) < 0) {
			*ret_err = xasprintf("--fail-node-after: \"%s\" is not NAME=DURATION", *f);
			return -EINVAL;
		}
		if (sim_node_index(o->prefix, o->nodes, name) < 0) {
			*ret_err = xasprintf(
			    "--fail-node-after: \"%s\" is not one of the simulated nodes", name);
			return -EINVAL;
		}
	}
	return 0;
}

int sim_node_index(const char *prefix, int n, const char *name)
{
	if (!name || !startswith(name, prefix))
		return -1;
	const char *p = name + strlen(prefix);
	if (!*p || (p[0] == '0' && p[1]))
		return -1;
	long idx = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		idx = idx * 10 + (*p - '0');
		if (idx >= n)
			return -1;
	}
	return (int)idx;
}

/* ---- pod IP pools ---- */

static int parse_ipv4_cidr(const char *cidr, uint32_t *ret_base, int *ret_bits)
{
	char addr[64];
	const char *slash = strchr(cidr, '/');
	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = 0;
	char *end;
	long bits = strtol(slash + 1, &end, 10);
	if (!slash[1] || *end)
		return -EINVAL;
	struct in_addr a;
	if (inet_pton(AF_INET, addr, &a) != 1) {
		struct in6_addr a6;
		return inet_pton(AF_INET6, addr, &a6) == 1 ? -EAFNOSUPPORT : -EINVAL;
	}
	if (bits < 0 || bits > 32)
		return -EINVAL;
	uint32_t mask = bits ? ~0u << (32 - bits) : 0;
	*ret_base = ntohl(a.s_addr) & mask;
	*ret_bits = (int)bits;
	return 0;
}

int ip_pool_init(struct ip_pool *p, const char *cidr)
{
	uint32_t base;
	int bits;
	int r = parse_ipv4_cidr(cidr, &base, &bits);
	if (r < 0)
		return r;
	if (bits > 30)
		return -EINVAL; /* no room for network, gateway, pods and broadcast */
	uint64_t size = 1ull << (32 - bits);
	*p = (struct ip_pool){
		.base = base,
		.size = (uint32_t)MIN(size, (uint64_t)POOL_MAX_SIZE),
		.next = 2,
	};
	p->bits = xcalloc(p->size / 8, 1);
	return 0;
}

void ip_pool_release(struct ip_pool *p)
{
	free(p->bits);
	*p = (struct ip_pool){ 0 };
}

/* Offsets handed out: 2 .. size-2 (the last of a whole CIDR is its broadcast). */
static bool usable(const struct ip_pool *p, uint32_t off)
{
	return off >= 2 && off + 1 < p->size;
}

bool ip_pool_contains(const struct ip_pool *p, uint32_t ip)
{
	return p->bits && ip - p->base < p->size && usable(p, ip - p->base);
}

static bool taken(const struct ip_pool *p, uint32_t off)
{
	return p->bits[off / 8] & (1u << (off % 8));
}

int ip_pool_alloc(struct ip_pool *p, uint32_t *ret)
{
	uint32_t span = p->size - 3; /* usable offsets */
	if (!p->bits || p->used >= span)
		return -ENOSPC;
	uint32_t off = usable(p, p->next) ? p->next : 2;
	for (uint32_t i = 0; i < span; i++) {
		if (!taken(p, off)) {
			p->bits[off / 8] |= (uint8_t)(1u << (off % 8));
			p->used++;
			p->next = usable(p, off + 1) ? off + 1 : 2;
			*ret = p->base + off;
			return 0;
		}
		off = usable(p, off + 1) ? off + 1 : 2;
	}
	return -ENOSPC;
}

bool ip_pool_reserve(struct ip_pool *p, uint32_t ip)
{
	if (!ip_pool_contains(p, ip))
		return false;
	uint32_t off = ip - p->base;
	if (taken(p, off))
		return false;
	p->bits[off / 8] |= (uint8_t)(1u << (off % 8));
	p->used++;
	return true;
}

void ip_pool_return(struct ip_pool *p, uint32_t ip)
{
	if (!ip_pool_contains(p, ip))
		return;
	uint32_t off = ip - p->base;
	if (!taken(p, off))
		return;
	p->bits[off / 8] &= (uint8_t) ~(1u << (off % 8));
	p->used--;
}

static void ip_format(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
	struct in_addr a = { .s_addr = htonl(ip) };
	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

static uint32_t ip_parse(const char *s)
{
	struct in_addr a;
	if (isempty(s) || inet_pton(AF_INET, s, &a) != 1)
		return 0;
	return ntohl(a.s_addr);
}

/* ---- node addresses and identities ---- */

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

bool sim_ip_in_node_range(uint32_t ip)
{
	return ip - NODE_RANGE_BASE < NODE_RANGE_SIZE && (ip & 0xff) != 0 && (ip & 0xff) != 255;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int sim_plan_node_ips(const char *seed, size_t n, const uint32_t *keep, const uint32_t *used,
		      size_t nused, uint32_t *ret)
{
	uint32_t off = (uint32_t)(fnv1a(seed, 0xcbf29ce484222325ull) % NODE_RANGE_SIZE);
	uint32_t scanned = 0;
	/* Addresses kept are taken too, whatever used[] says. */
	_cleanup_free_ uint32_t *kept = xnew(uint32_t, n + 1);
	size_t nkept = 0;
	for (size_t i = 0; i < n; i++)
		if (keep && keep[i])
			kept[nkept++] = keep[i];
	qsort(kept, nkept, sizeof(*kept), cmp_u32);
	for (size_t i = 0; i < n; i++) {
		if (keep && keep[i]) {
			ret[i] = keep[i];
			continue;
		}
		for (;;) {
			if (scanned++ >= NODE_RANGE_SIZE)
				return -ENOSPC;
			uint32_t ip = NODE_RANGE_BASE + off;
			off = (off + 1) % NODE_RANGE_SIZE;
			if (!sim_ip_in_node_range(ip))
				continue;
			if (nused && bsearch(&ip, used, nused, sizeof(*used), cmp_u32))
				continue;
			if (nkept && bsearch(&ip, kept, nkept, sizeof(*kept), cmp_u32))
				continue;
			ret[i] = ip;
			break;
		}
	}
	return 0;
}

/* ---- pod status ---- */

static json_t *condition(const char *type, const char *status, const char *ts)
{
	return json_pack("{s:s, s:s, s:n, s:s}", "type", type, "status", status, "lastProbeTime",
			 "lastTransitionTime", ts);
}

static json_t *find_condition(json_t *pod, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_get(pod, "status.conditions"), i, c)
	{
		if (streq_ptr(json_get_str(c, "type"), type))
			return c;
	}
	return NULL;
}

bool sim_pod_gates_ready(json_t *pod, char **ret_why)
{
	size_t i;
	json_t *g;
	json_array_foreach(json_get(pod, "spec.readinessGates"), i, g)
	{
		const char *type = json_get_str(g, "conditionType");
		if (!type)
			continue;
		json_t *c = find_condition(pod, type);
		const char *st = json_get_str(c, "status");
		if (!c) {
			if (ret_why)
				*ret_why = xasprintf("corresponding condition of pod readiness "
						     "gate \"%s\" does not exist.",
						     type);
			return false;
		}
		if (!streq_ptr(st, "True")) {
			if (ret_why)
				*ret_why = xasprintf("the status of pod readiness gate \"%s\" is "
						     "not \"True\", but %s",
						     type, st ? st : "");
			return false;
		}
	}
	return true;
}

static json_t *container_status(json_t *c, const char *ts, bool completed)
{
	const char *name = json_get_str(c, "name");
	const char *image = json_get_str(c, "image");
	char hex[33];
	random_hex(hex, 32);
	_cleanup_free_ char *id = xasprintf("sim://%s", hex);
	_cleanup_free_ char *image_id = xasprintf("sim://%s", image ? image : "");
	json_t *state;
	if (completed)
		state = json_pack("{s:{s:i, s:s, s:s, s:s, s:s}}", "terminated", "exitCode", 0,
				  "reason", "Completed", "startedAt", ts, "finishedAt", ts,
				  "containerID", id);
	else
		state = json_pack("{s:{s:s}}", "running", "startedAt", ts);
	return json_pack("{s:s, s:o, s:{}, s:b, s:i, s:s, s:s, s:s, s:b}", "name", name ? name : "",
			 "state", state, "lastState", "ready", true, "restartCount", 0, "image",
			 image ? image : "", "imageID", image_id, "containerID", id, "started",
			 !completed);
}

json_t *sim_pod_running_patch(json_t *pod, const char *host_ip, const char *pod_ip,
			      int64_t now_usec)
{
	char ts[32];
	time_format_rfc3339(now_usec, ts);
	json_t *status = json_object();
	json_set_str(status, "phase", "Running");

	json_t *conds = json_array();
	json_array_append_new(conds, condition("PodReadyToStartContainers", "True", ts));
	json_array_append_new(conds, condition("Initialized", "True", ts));
	json_array_append_new(conds, condition("ContainersReady", "True", ts));
	_cleanup_free_ char *why = NULL;
	if (sim_pod_gates_ready(pod, &why)) {
		json_array_append_new(conds, condition("Ready", "True", ts));
	} else {
		json_t *c = condition("Ready", "False", ts);
		json_set_str(c, "reason", "ReadinessGatesNotReady");
		json_set_str(c, "message", why);
		json_array_append_new(conds, c);
	}
	/* The binding set PodScheduled (with its own transition time); a pod
	 * created with spec.nodeName has none yet. */
	if (!streq_ptr(json_get_str(find_condition(pod, "PodScheduled"), "status"), "True"))
		json_array_append_new(conds, condition("PodScheduled", "True", ts));
	json_object_set_new(status, "conditions", conds);

	json_set_str(status, "hostIP", host_ip);
	json_object_set_new(status, "hostIPs", json_pack("[{s:s}]", "ip", host_ip));
	json_set_str(status, "podIP", pod_ip);
	json_object_set_new(status, "podIPs", json_pack("[{s:s}]", "ip", pod_ip));
	const char *start = json_get_str(pod, "status.startTime");
	json_set_str(status, "startTime", start ? start : ts);

	size_t i;
	json_t *c;
	json_t *inits = json_get(pod, "spec.initContainers");
	if (json_array_size(inits)) {
		json_t *list = json_array();
		json_array_foreach(inits, i, c)
		{
			bool sidecar = streq_ptr(json_get_str(c, "restartPolicy"), "Always");
			json_array_append_new(list, container_status(c, ts, !sidecar));
		}
		json_object_set_new(status, "initContainerStatuses", list);
	}
	json_t *list = json_array();
	json_array_foreach(json_get(pod, "spec.containers"), i, c)
	    json_array_append_new(list, container_status(c, ts, false));
	json_object_set_new(status, "containerStatuses", list);
	return json_pack("{s:o}", "status", status);
}

/* ---- the simulator ---- */

struct sim_node {
	int idx;
	char *name;
	char ip[INET_ADDRSTRLEN];
	char machine_id[33];
	char system_uuid[37];
	atomic_bool registered; /* Node and Lease exist */
	atomic_bool failed;	/* simulated failure: no heartbeats, pods ignored */
	atomic_bool gone;	/* deleted by someone else: no longer simulated */
	atomic_bool want_full;	/* the next status report carries everything */
	atomic_bool rescan;	/* recovered: its pods need a look */

	pthread_mutex_t mu; /* the fields below */
	char *uid;
	int64_t ready_since; /* Ready's lastTransitionTime (realtime usec) */
	char *pod_cidr;
	bool has_pool;
	struct ip_pool pool;
	char **waiting; /* pod keys waiting for registration or the pod CIDR */
	size_t nwaiting, awaiting;
	uint64_t waiting_since; /* monotonic: when the first of them came */
	bool warned;		/* about pods waiting for a pod CIDR */
};

/* What the pod informer keeps of a pod, beside its JSON. */
struct sim_pod {
	char *node;
	char *pod_ip;
	bool deleting, terminal, running, has_gates, ready;
};

/* Per pod on one of our nodes: the IP it was given. Only the sync of that
 * key touches an entry's fields (the work queue never runs a key twice at
 * once); the tree is under states_mu. */
struct pod_state {
	struct avl_node avl;
	char *key;
	char *uid;
	struct sim_node *node;
	uint32_t ip;
	int64_t seen_usec; /* monotonic: first seen bound to this node */
};

struct delay_item {
	uint64_t due;
	char *key;
};

/* Keys to add to the pod queue later (a binary heap on due time: the work
 * queue's own delays scan every key, too slow for thousands). */
struct delayq {
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	struct delay_item *heap;
	size_t n, alloc;
	bool stop;
	pthread_t thread;
	bool running;
	struct workqueue *q;
};

struct stats {
	atomic_uint_fast64_t registered, leases, lease_errors, statuses, status_errors,
	    pods_started, pods_deleted, pod_errors;
};

struct fail_at {
	int idx;
	uint64_t at; /* monotonic */
};

struct simulator {
	struct kclient *c;
	struct sim_opts o;
	struct sim_node *nodes;
	int n;
	char kernel[65];
	char os_image[256];
	char boot_id[37];
	int64_t start_usec; /* realtime */
	json_t *capacity;
	json_t *labels;

	struct informer *pods_inf, *nodes_inf;
	struct workqueue *hbq, *podq;
	struct delayq dq;

	pthread_t ticker;
	bool ticker_running;
	pthread_mutex_t tick_mu;
	pthread_cond_t tick_cond; /* CLOCK_MONOTONIC */
	atomic_bool stopping;
	atomic_bool rescan; /* some node has rescan set */
	atomic_int error;   /* startup failed */

	pthread_mutex_t states_mu;
	struct avl_tree states;

	struct fail_at *fail_at;
	size_t nfail_at;

	uint64_t reg_start;
	atomic_int reg_done;
	struct stats st;
};

static struct sim_node *node_by_name(struct simulator *s, const char *name)
{
	int i = sim_node_index(s->o.prefix, s->n, name);
	return i < 0 ? NULL : &s->nodes[i];
}

static bool node_live(struct sim_node *nd)
{
	return atomic_load(&nd->registered) && !atomic_load(&nd->failed) && !atomic_load(&nd->gone);
}

static void cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static void timedwait_monotonic(pthread_cond_t *c, pthread_mutex_t *m, uint64_t usec)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(usec / 1000000);
	ts.tv_nsec += (long)(usec % 1000000) * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(c, m, &ts);
}

/* ---- delay queue ---- */

static void delayq_init(struct delayq *d, struct workqueue *q)
{
	*d = (struct delayq){ .q = q };
	pthread_mutex_init(&d->mu, NULL);
	cond_init_monotonic(&d->cond);
}

static void delayq_add(struct delayq *d, const char *key, uint64_t due)
{
	pthread_mutex_lock(&d->mu);
	if (d->n == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 64;
		d->heap = xrealloc(d->heap, d->alloc * sizeof(*d->heap));
	}
	size_t i = d->n++;
	while (i > 0 && d->heap[(i - 1) / 2].due > due) {
		d->heap[i] = d->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	d->heap[i] = (struct delay_item){ due, xstrdup(key) };
	if (i == 0)
		pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->mu);
}

static struct delay_item delayq_pop_locked(struct delayq *d)
{
	struct delay_item top = d->heap[0], last = d->heap[--d->n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= d->n)
			break;
		if (c + 1 < d->n && d->heap[c + 1].due < d->heap[c].due)
			c++;
		if (last.due <= d->heap[c].due)
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (d->n)
		d->heap[i] = last;
	return top;
}

static void *delayq_main(void *arg)
{
	struct delayq *d = arg;
	pthread_mutex_lock(&d->mu);
	while (!d->stop) {
		uint64_t now = now_usec_monotonic();
		if (d->n && d->heap[0].due <= now) {
			struct delay_item it = delayq_pop_locked(d);
			pthread_mutex_unlock(&d->mu);
			workqueue_add(d->q, it.key);
			free(it.key);
			pthread_mutex_lock(&d->mu);
			continue;
		}
		timedwait_monotonic(&d->cond, &d->mu, d->n ? d->heap[0].due - now : 1000000);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

static void delayq_stop(struct delayq *d)
{
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->mu);
	if (d->running)
		pthread_join(d->thread, NULL);
	d->running = false;
}

static void delayq_release(struct delayq *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->heap[i].key);
	free(d->heap);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cond);
}

/* ---- nodes: objects and bodies ---- */

static void node_init(struct simulator *s, struct sim_node *nd, int idx)
{
	nd->idx = idx;
	nd->name = xasprintf("%s%d", s->o.prefix, idx);
	uint64_t a = fnv1a(nd->name, 0xcbf29ce484222325ull);
	uint64_t b = fnv1a(nd->name, a ^ 0x9e3779b97f4a7c15ull);
	snprintf(nd->machine_id, sizeof(nd->machine_id), "%016llx%016llx", (unsigned long long)a,
		 (unsigned long long)b);
	snprintf(nd->system_uuid, sizeof(nd->system_uuid), "%08llx-%04llx-4%03llx-%04llx-%012llx",
		 (unsigned long long)(a >> 32), (unsigned long long)((a >> 16) & 0xffff),
		 (unsigned long long)(a & 0xfff),
		 (unsigned long long)(((b >> 48) & 0x3fff) | 0x8000),
		 (unsigned long long)(b & 0xffffffffffffull));
	pthread_mutex_init(&nd->mu, NULL);
	nd->pod_cidr = xstrdup("");
}

static void node_release(struct sim_node *nd)
{
	free(nd->name);
	free(nd->uid);
	free(nd->pod_cidr);
	if (nd->has_pool)
		ip_pool_release(&nd->pool);
	for (size_t i = 0; i < nd->nwaiting; i++)
		free(nd->waiting[i]);
	free(nd->waiting);
	pthread_mutex_destroy(&nd->mu);
}

static json_t *node_condition(const char *type, const char *status, const char *reason,
			      const char *message, const char *hb, const char *transition)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status,
			 "lastHeartbeatTime", hb, "lastTransitionTime", transition, "reason",
			 reason, "message", message);
}

/* {"status": ...}: conditions with a fresh heartbeat, and with full
 * everything else the kubelet reports. */
static json_t *node_status(struct simulator *s, struct sim_node *nd, bool full, int64_t now)
{
	char hb[32], since[32], ready[32];
	time_format_rfc3339(now, hb);
	time_format_rfc3339(s->start_usec, since);
	pthread_mutex_lock(&nd->mu);
	time_format_rfc3339(nd->ready_since, ready);
	pthread_mutex_unlock(&nd->mu);
	json_t *conds = json_array();
	json_array_append_new(
	    conds, node_condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
				  "kubelet has sufficient memory available", hb, since));
	json_array_append_new(conds,
			      node_condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
					     "kubelet has no disk pressure", hb, since));
	json_array_append_new(conds,
			      node_condition("PIDPressure", "False", "KubeletHasSufficientPID",
					     "kubelet has sufficient PID available", hb, since));
	json_array_append_new(conds, node_condition("Ready", "True", "KubeletReady",
						    "kubelet is posting ready status", hb, ready));
	json_t *status = json_object();
	if (full) {
		json_object_set(status, "capacity", s->capacity);
		json_object_set(status, "allocatable", s->capacity);
	}
	json_object_set_new(status, "conditions", conds);
	if (full) {
		json_object_set_new(status, "addresses",
				    json_pack("[{s:s, s:s}, {s:s, s:s}]", "type", "InternalIP",
					      "address", nd->ip, "type", "Hostname", "address",
					      nd->name));
		json_object_set_new(status, "daemonEndpoints",
				    json_pack("{s:{s:i}}", "kubeletEndpoint", "Port", 10250));
		json_object_set_new(
		    status, "nodeInfo",
		    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "machineID",
			      nd->machine_id, "systemUUID", nd->system_uuid, "bootID", s->boot_id,
			      "kernelVersion", s->kernel, "osImage", s->os_image,
			      "containerRuntimeVersion", RUNTIME_VERSION, "kubeletVersion",
			      KUBELET_VERSION, "kubeProxyVersion", KUBELET_VERSION,
			      "operatingSystem", "linux", "architecture", "amd64"));
	}
	return json_pack("{s:o}", "status", status);
}

static json_t *node_labels(struct simulator *s, struct sim_node *nd)
{
	json_t *l = json_deep_copy(s->labels);
	/* A label value is at most 63 characters; a node name may be longer. */
	_cleanup_free_ char *host = xstrndup(nd->name, 63);
	json_set_str(l, "kubernetes.io/hostname", host);
	return l;
}

static json_t *node_object(struct simulator *s, struct sim_node *nd, int64_t now)
{
	json_t *node = node_status(s, nd, true, now);
	json_set_str(node, "apiVersion", "v1");
	json_set_str(node, "kind", "Node");
	json_object_set_new(node, "metadata",
			    json_pack("{s:s, s:o, s:{s:s}}", "name", nd->name, "labels",
				      node_labels(s, nd), "annotations",
				      "node.alpha.kubernetes.io/ttl", "0"));
	return node;
}

static int request(struct simulator *s, const char *method, const char *path, json_t *body,
		   const char *ct, struct kresp *ret)
{
	size_t len = 0;
	_cleanup_free_ char *text = body ? json_dump_compact(body, &len) : NULL;
	int r = kclient_do(s->c, method, path, text, len, ct, ret);
	if (r < 0)
		ret->code = 0;
	return r;
}

static void log_failure(int level, const char *what, const char *name, struct kresp *r)
{
	char buf[256];
	log_v(level, "%s %s: %s", what, name, kresp_message(r, buf, sizeof(buf)));
}

/* Take the uid from a Node in a response. */
static void node_take_uid(struct sim_node *nd, struct kresp *r)
{
	_cleanup_json_ json_t *j = kresp_json(r);
	const char *uid = json_get_str(j, "metadata.uid");
	if (!uid)
		return;
	pthread_mutex_lock(&nd->mu);
	free(nd->uid);
	nd->uid = xstrdup(uid);
	pthread_mutex_unlock(&nd->mu);
}

static char *lease_path(struct sim_node *nd)
{
	return xasprintf("/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases/%s",
			 nd->name);
}

static int lease_create(struct simulator *s, struct sim_node *nd, const char *renew)
{
	json_t *meta = json_pack("{s:s, s:s}", "name", nd->name, "namespace", LEASE_NS);
	pthread_mutex_lock(&nd->mu);
	if (nd->uid)
		json_object_set_new(meta, "ownerReferences",
				    json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion", "v1", "kind",
					      "Node", "name", nd->name, "uid", nd->uid));
	pthread_mutex_unlock(&nd->mu);
	_cleanup_json_ json_t *lease =
	    json_pack("{s:s, s:s, s:o, s:{s:s, s:i, s:s}}", "apiVersion", "coordination.k8s.io/v1",
		      "kind", "Lease", "metadata", meta, "spec", "holderIdentity", nd->name,
		      "leaseDurationSeconds", LEASE_DURATION_SECONDS, "renewTime", renew);
	struct kresp r;
	request(s, "POST", "/apis/coordination.k8s.io/v1/namespaces/" LEASE_NS "/leases", lease,
		NULL, &r);
	long code = r.code;
	if (code != 201 && code != 409)
		log_failure(1, "creating the lease of", nd->name, &r);
	kresp_release(&r);
	return code == 201 ? 0 : code == 409 ? -EEXIST : -EIO;
}

/* Renew (or create) the node's lease. */
static int lease_renew(struct simulator *s, struct sim_node *nd)
{
	char renew[40];
	time_format_rfc3339_micro((int64_t)now_usec_realtime(), renew);
	_cleanup_free_ char *path = lease_path(nd);
	char body[512];
	int len = snprintf(body, sizeof(body),
			   "{\"spec\":{\"holderIdentity\":\"%s\",\"leaseDurationSeconds\":%d,"
			   "\"renewTime\":\"%s\"}}",
			   nd->name, LEASE_DURATION_SECONDS, renew);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct kresp r;
		kclient_do(s->c, "PATCH", path, body, (size_t)len, MERGE, &r);
		long code = r.code;
		if (code == 200) {
			kresp_release(&r);
			atomic_fetch_add(&s->st.leases, 1);
			return 0;
		}
		if (code != 404) {
			log_failure(2, "renewing the lease of", nd->name, &r);
			kresp_release(&r);
			break;
		}
		kresp_release(&r);
		int rr = lease_create(s, nd, renew);
		if (rr == 0) {
			atomic_fetch_add(&s->st.leases, 1);
			return 0;
		}
		if (rr != -EEXIST)
			break;
	}
	atomic_fetch_add(&s->st.lease_errors, 1);
	return -EIO;
}

static void node_flush_waiting(struct simulator *s, struct sim_node *nd)
{
	pthread_mutex_lock(&nd->mu);
	char **w = TAKE_PTR(nd->waiting);
	size_t n = nd->nwaiting;
	nd->nwaiting = nd->awaiting = 0;
	pthread_mutex_unlock(&nd->mu);
	for (size_t i = 0; i < n; i++) {
		workqueue_add(s->podq, w[i]);
		free(w[i]);
	}
	free(w);
}

static int node_register(struct simulator *s, struct sim_node *nd)
{
	int64_t now = (int64_t)now_usec_realtime();
	pthread_mutex_lock(&nd->mu);
	nd->ready_since = now;
	pthread_mutex_unlock(&nd->mu);
	_cleanup_json_ json_t *node = node_object(s, nd, now);
	struct kresp r;
	request(s, "POST", "/api/v1/nodes", node, NULL, &r);
	if (r.code == 201) {
		node_take_uid(nd, &r);
		kresp_release(&r);
	} else if (r.code == 409) {
		/* It exists (an earlier run): take it over, as a restarted
		 * kubelet does. */
		kresp_release(&r);
		_cleanup_free_ char *path = xasprintf("/api/v1/nodes/%s", nd->name);
		_cleanup_json_ json_t *meta =
		    json_pack("{s:{s:o, s:O}}", "metadata", "labels", node_labels(s, nd),
			      "annotations", json_get(node, "metadata.annotations"));
		request(s, "PATCH", path, meta, MERGE, &r);
		if (r.code != 200) {
			log_failure(1, "updating node", nd->name, &r);
			kresp_release(&r);
			return -EIO;
		}
		node_take_uid(nd, &r);
		kresp_release(&r);
		_cleanup_free_ char *spath = xasprintf("/api/v1/nodes/%s/status", nd->name);
		_cleanup_json_ json_t *st = node_status(s, nd, true, now);
		request(s, "PATCH", spath, st, SMP, &r);
		if (r.code != 200) {
			log_failure(1, "updating the status of node", nd->name, &r);
			kresp_release(&r);
			return -EIO;
		}
		kresp_release(&r);
	} else {
		log_failure(1, "registering node", nd->name, &r);
		kresp_release(&r);
		return -EIO;
	}
	if (lease_renew(s, nd) < 0)
		return -EIO;
	atomic_store(&nd->registered, true);
	atomic_fetch_add(&s->st.registered, 1);
	node_flush_waiting(s, nd);
	int done = atomic_fetch_add(&s->reg_done, 1) + 1;
	log_v(2, "registered node %s (%s)", nd->name, nd->ip);
	if (done == s->n)
		log_info("registered %d node%s in %.3f s", s->n, s->n == 1 ? "" : "s",
			 (double)(now_usec_monotonic() - s->reg_start) / 1e6);
	return 0;
}

static int node_report_status(struct simulator *s, struct sim_node *nd)
{
	bool full = atomic_exchange(&nd->want_full, false);
	_cleanup_json_ json_t *st = node_status(s, nd, full, (int64_t)now_usec_realtime());
	_cleanup_free_ char *path = xasprintf("/api/v1/nodes/%s/status", nd->name);
	struct kresp r;
	request(s, "PATCH", path, st, SMP, &r);
	long code = r.code;
	if (code == 200) {
		atomic_fetch_add(&s->st.statuses, 1);
	} else if (code == 404) {
		if (!atomic_exchange(&nd->gone, true))
			log_warn("node %s was deleted; no longer simulating it", nd->name);
	} else {
		log_failure(2, "reporting the status of node", nd->name, &r);
		atomic_fetch_add(&s->st.status_errors, 1);
		if (full)
			atomic_store(&nd->want_full, true);
	}
	kresp_release(&r);
	return 0;
}

/* Heartbeat queue keys: R<i> register, L<i> renew the lease, S<i> report status. */
static int heartbeat_sync(const char *key, void *userdata)
{
	struct simulator *s = userdata;
	char *end;
	long i = strtol(key + 1, &end, 10);
	if (*end || i < 0 || i >= s->n)
		return 0;
	struct sim_node *nd = &s->nodes[i];
	switch (key[0]) {
	case 'R':
		return atomic_load(&nd->registered) ? 0 : node_register(s, nd);
	case 'L':
		if (node_live(nd))
			lease_renew(s, nd);
		return 0;
	case 'S':
		if (node_live(nd))
			node_report_status(s, nd);
		return 0;
	}
	return 0;
}

static void hb_add(struct simulator *s, char kind, int idx)
{
	char key[16];
	snprintf(key, sizeof(key), "%c%d", kind, idx);
	workqueue_add(s->hbq, key);
}

/* ---- pods ---- */

static void *sim_pod_extract(json_t *pod)
{
	struct sim_pod *p = xnew(struct sim_pod, 1);
	const char *phase = json_get_str(pod, "status.phase");
	p->node = xstrdup(str_or_empty_json(pod, "spec.nodeName"));
	p->pod_ip = xstrdup(str_or_empty_json(pod, "status.podIP"));
	p->deleting = json_get(pod, "metadata.deletionTimestamp") != NULL;
	p->terminal = streq_ptr(phase, "Succeeded") || streq_ptr(phase, "Failed");
	p->running = streq_ptr(phase, "Running");
	p->has_gates = json_array_size(json_get(pod, "spec.readinessGates")) > 0;
	p->ready = streq_ptr(json_get_str(find_condition(pod, "Ready"), "status"), "True");
	return p;
}

static void sim_pod_free(void *ptr)
{
	struct sim_pod *p = ptr;
	if (!p)
		return;
	free(p->node);
	free(p->pod_ip);
	free(p);
}

static int state_cmp(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct pod_state, avl)->key);
}

static void state_free(struct pod_state *st)
{
	free(st->key);
	free(st->uid);
	free(st);
}

static void give_back_ip(struct sim_node *nd, uint32_t ip)
{
	if (!ip)
		return;
	pthread_mutex_lock(&nd->mu);
	if (nd->has_pool)
		ip_pool_return(&nd->pool, ip);
	pthread_mutex_unlock(&nd->mu);
}

/* The pod is gone (or no longer ours): give its IP back. */
static void pod_forget(struct simulator *s, const char *key)
{
	pthread_mutex_lock(&s->states_mu);
	struct avl_node *n = avl_find(&s->states, key);
	struct pod_state *st = n ? avl_entry(n, struct pod_state, avl) : NULL;
	if (st)
		avl_remove(&s->states, n);
	pthread_mutex_unlock(&s->states_mu);
	if (!st)
		return;
	give_back_ip(st->node, st->ip);
	state_free(st);
}

/* The state of key for the pod with uid on nd, made if new; a pod that
 * was replaced (same name, new uid) starts over. */
static struct pod_state *pod_state(struct simulator *s, const char *key, const char *uid,
				   struct sim_node *nd)
{
	uint32_t stale_ip = 0;
	struct sim_node *stale_node = NULL;
	pthread_mutex_lock(&s->states_mu);
	struct avl_node *n = avl_find(&s->states, key);
	struct pod_state *st = n ? avl_entry(n, struct pod_state, avl) : NULL;
	if (st && (!streq(st->uid, uid) || st->node != nd)) {
		stale_ip = st->ip;
		stale_node = st->node;
		free(st->uid);
		st->uid = xstrdup(uid);
		st->node = nd;
		st->ip = 0;
		st->seen_usec = (int64_t)now_usec_monotonic();
	}
	if (!st) {
		st = xnew(struct pod_state, 1);
		st->key = xstrdup(key);
		st->uid = xstrdup(uid);
		st->node = nd;
		st->seen_usec = (int64_t)now_usec_monotonic();
		avl_insert(&s->states, st->key, &st->avl);
	}
	pthread_mutex_unlock(&s->states_mu);
	if (stale_node)
		give_back_ip(stale_node, stale_ip);
	return st;
}

static char *pod_path(struct cobj *o, const char *sub)
{
	return xasprintf("/api/v1/namespaces/%s/pods/%s%s", o->ns, o->name, sub);
}

/* A kubelet finishes a graceful deletion once the containers are stopped;
 * ours stop at once. */
static int pod_finish_deletion(struct simulator *s, struct cobj *o)
{
	_cleanup_free_ char *path = pod_path(o, "");
	_cleanup_json_ json_t *opts =
	    json_pack("{s:s, s:s, s:i, s:{s:s}}", "apiVersion", "v1", "kind", "DeleteOptions",
		      "gracePeriodSeconds", 0, "preconditions", "uid", o->uid);
	struct kresp r;
	request(s, "DELETE", path, opts, NULL, &r);
	long code = r.code;
	if (code == 200 || code == 202) {
		atomic_fetch_add(&s->st.pods_deleted, 1);
		log_v(3, "deleted pod %s", o->key);
	} else if (code != 404 && code != 409) {
		log_failure(2, "deleting pod", o->key, &r);
		atomic_fetch_add(&s->st.pod_errors, 1);
	}
	kresp_release(&r);
	return code == 0 || code >= 500 || code == 429 ? -EIO : 0;
}

/* A running pod with readiness gates: Ready follows the gates. */
static int pod_sync_gates(struct simulator *s, struct cobj *o, struct sim_pod *p)
{
	_cleanup_json_ json_t *pod = cobj_parse(o);
	_cleanup_free_ char *why = NULL;
	bool ready = sim_pod_gates_ready(pod, &why);
	if (!pod || ready == p->ready)
		return 0;
	char ts[32];
	time_format_rfc3339((int64_t)now_usec_realtime(), ts);
	json_t *c = condition("Ready", ready ? "True" : "False", ts);
	if (ready) {
		json_object_set_new(c, "reason", json_null());
		json_object_set_new(c, "message", json_null());
	} else {
		json_set_str(c, "reason", "ReadinessGatesNotReady");
		json_set_str(c, "message", why);
	}
	_cleanup_json_ json_t *patch = json_pack("{s:{s:[o]}}", "status", "conditions", c);
	_cleanup_free_ char *path = pod_path(o, "/status");
	struct kresp r;
	request(s, "PATCH", path, patch, SMP, &r);
	long code = r.code;
	if (code != 200 && code != 404)
		log_failure(2, "updating readiness of pod", o->key, &r);
	kresp_release(&r);
	return code == 0 || code >= 500 || code == 409 || code == 429 ? -EIO : 0;
}

/* Report the pod Running. */
static int pod_start(struct simulator *s, struct cobj *o, struct sim_node *nd, struct pod_state *st)
{
	_cleanup_json_ json_t *pod = cobj_parse(o);
	if (!pod)
		return 0;
	bool host_net = json_get_bool(pod, "spec.hostNetwork", false);
	char pod_ip[INET_ADDRSTRLEN];
	pthread_mutex_lock(&nd->mu);
	if (!atomic_load(&nd->registered) || (!host_net && !nd->has_pool)) {
		/* Wait for registration, or for the pod CIDR (IPAM). */
		bool listed = false;
		for (size_t i = 0; i < nd->nwaiting && !listed; i++)
			listed = streq(nd->waiting[i], o->key);
		if (!listed && nd->nwaiting == nd->awaiting) {
			nd->awaiting = nd->awaiting ? 2 * nd->awaiting : 8;
			nd->waiting = xrealloc(nd->waiting, nd->awaiting * sizeof(char *));
		}
		if (!listed && !nd->nwaiting)
			nd->waiting_since = now_usec_monotonic();
		if (!listed)
			nd->waiting[nd->nwaiting++] = xstrdup(o->key);
		pthread_mutex_unlock(&nd->mu);
		log_v(4, "pod %s waits for node %s %s", o->key, nd->name,
		      atomic_load(&nd->registered) ? "to get a pod CIDR" : "to register");
		return 0;
	}
	if (host_net) {
		snprintf(pod_ip, sizeof(pod_ip), "%s", nd->ip);
	} else {
		if (!st->ip && ip_pool_alloc(&nd->pool, &st->ip) < 0) {
			pthread_mutex_unlock(&nd->mu);
			log_warn("node %s has no pod IP left in %s for pod %s; retrying", nd->name,
				 nd->pod_cidr, o->key);
			delayq_add(&s->dq, o->key, now_usec_monotonic() + 5000000);
			return 0;
		}
		ip_format(st->ip, pod_ip);
	}
	pthread_mutex_unlock(&nd->mu);

	_cleanup_json_ json_t *patch =
	    sim_pod_running_patch(pod, nd->ip, pod_ip, (int64_t)now_usec_realtime());
	_cleanup_free_ char *path = pod_path(o, "/status");
	struct kresp r;
	request(s, "PATCH", path, patch, SMP, &r);
	long code = r.code;
	if (code == 200) {
		atomic_fetch_add(&s->st.pods_started, 1);
		log_v(3, "pod %s runs on %s with IP %s", o->key, nd->name, pod_ip);
	} else if (code == 422) {
		/* Refused: retrying would not help; the next change retries. */
		char buf[256];
		log_warn("reporting the status of pod %s: %s", o->key,
			 kresp_message(&r, buf, sizeof(buf)));
		atomic_fetch_add(&s->st.pod_errors, 1);
	} else if (code != 404) {
		log_failure(2, "reporting the status of pod", o->key, &r);
		atomic_fetch_add(&s->st.pod_errors, 1);
	}
	kresp_release(&r);
	if (code == 404)
		pod_forget(s, o->key);
	return code == 200 || code == 404 || code == 422 ? 0 : -EIO;
}

static void cobj_unrefp(struct cobj **o)
{
	cobj_unref(*o);
}

static int pod_sync(const char *key, void *userdata)
{
	struct simulator *s = userdata;
	_cleanup_(cobj_unrefp) struct cobj *o = informer_get(s->pods_inf, key);
	struct sim_pod *p = o ? o->ext : NULL;
	struct sim_node *nd = p ? node_by_name(s, p->node) : NULL;
	if (!nd) {
		pod_forget(s, key);
		return 0;
	}
	if (atomic_load(&nd->failed) || atomic_load(&nd->gone))
		return 0; /* a dead kubelet does nothing */
	if (p->deleting)
		return pod_finish_deletion(s, o);
	if (p->terminal) {
		pod_forget(s, key);
		return 0;
	}
	struct pod_state *st = pod_state(s, key, o->uid, nd);
	if (p->running && !isempty(p->pod_ip))
		return p->has_gates ? pod_sync_gates(s, o, p) : 0;
	uint64_t due = (uint64_t)(st->seen_usec + s->o.pod_startup_usec);
	if (s->o.pod_startup_usec && now_usec_monotonic() < due) {
		delayq_add(&s->dq, key, due);
		return 0;
	}
	return pod_start(s, o, nd, st);
}

/* Whether a change to a pod on our node needs its sync. */
static bool pod_needs_sync(const struct sim_pod *p)
{
	if (p->deleting || p->terminal)
		return true;
	if (p->running && !isempty(p->pod_ip))
		return p->has_gates;
	return true;
}

static void pod_added(struct cobj *o, void *userdata)
{
	struct simulator *s = userdata;
	struct sim_pod *p = o->ext;
	if (p && node_by_name(s, p->node) && pod_needs_sync(p))
		workqueue_add(s->podq, o->key);
}

static void pod_updated(struct cobj *old, struct cobj *o, void *userdata)
{
	pod_added(o, userdata);
}

static void pod_deleted(struct cobj *o, void *userdata)
{
	struct simulator *s = userdata;
	struct sim_pod *p = o->ext;
	if (p && node_by_name(s, p->node))
		workqueue_add(s->podq, o->key);
}

struct rescan {
	struct simulator *s;
	uint8_t *nodes; /* per node index: 1 when its pods are wanted */
};

static void enqueue_if_on(struct cobj *o, void *userdata)
{
	struct rescan *rs = userdata;
	struct sim_pod *p = o->ext;
	int i = p ? sim_node_index(rs->s->o.prefix, rs->s->n, p->node) : -1;
	if (i >= 0 && rs->nodes[i])
		workqueue_add(rs->s->podq, o->key);
}

/* Queue the pods of the nodes that recovered: one pass over the pods for
 * any number of nodes. */
static void rescan_pods(struct simulator *s)
{
	if (!atomic_exchange(&s->rescan, false))
		return;
	struct rescan rs = { s, xcalloc((size_t)s->n, 1) };
	for (int i = 0; i < s->n; i++)
		rs.nodes[i] = atomic_exchange(&s->nodes[i].rescan, false);
	informer_foreach(s->pods_inf, NULL, enqueue_if_on, &rs);
	free(rs.nodes);
}

/* Before the pod workers start: pods already running on our nodes (from an
 * earlier run) keep their IPs. */
static void adopt_pod(struct cobj *o, void *userdata)
{
	struct simulator *s = userdata;
	struct sim_pod *p = o->ext;
	struct sim_node *nd = p ? node_by_name(s, p->node) : NULL;
	if (!nd || !p->running || p->deleting || isempty(p->pod_ip))
		return;
	struct pod_state *st = pod_state(s, o->key, o->uid, nd);
	uint32_t ip = ip_parse(p->pod_ip);
	pthread_mutex_lock(&nd->mu);
	if (nd->has_pool && ip_pool_reserve(&nd->pool, ip))
		st->ip = ip;
	pthread_mutex_unlock(&nd->mu);
}

/* ---- node informer ---- */

static void node_set_cidr(struct simulator *s, struct sim_node *nd, const char *cidr)
{
	pthread_mutex_lock(&nd->mu);
	if (streq(nd->pod_cidr, cidr)) {
		pthread_mutex_unlock(&nd->mu);
		return;
	}
	free(nd->pod_cidr);
	nd->pod_cidr = xstrdup(cidr);
	if (nd->has_pool) {
		pthread_mutex_unlock(&nd->mu);
		log_warn("node %s: pod CIDR changed to %s; keeping the old one", nd->name, cidr);
		return;
	}
	int r = ip_pool_init(&nd->pool, cidr);
	nd->has_pool = r == 0;
	pthread_mutex_unlock(&nd->mu);
	if (r < 0) {
		log_error("node %s: cannot use pod CIDR %s: %s", nd->name, cidr,
			  r == -EAFNOSUPPORT ? "only IPv4 is simulated" : "invalid or too small");
		return;
	}
	log_v(2, "node %s has pod CIDR %s", nd->name, cidr);
	node_flush_waiting(s, nd);
}

static void node_seen(struct cobj *o, void *userdata)
{
	struct simulator *s = userdata;
	struct sim_node *nd = node_by_name(s, o->name);
	struct node_info *ni = o->ext;
	if (!nd || !ni || atomic_load(&nd->gone))
		return;
	if (!isempty(ni->pod_cidr))
		node_set_cidr(s, nd, ni->pod_cidr);
	/* Marked not ready (by the node lifecycle controller) while we are
	 * alive: report at once, with a new transition time. */
	if (node_live(nd) && !streq(ni->ready, "True") && !atomic_exchange(&nd->want_full, true)) {
		pthread_mutex_lock(&nd->mu);
		nd->ready_since = (int64_t)now_usec_realtime();
		pthread_mutex_unlock(&nd->mu);
		log_v(1, "node %s is %s on the server; reporting Ready", nd->name,
		      isempty(ni->ready) ? "without a Ready condition" : ni->ready);
		hb_add(s, 'S', nd->idx);
	}
}

static void node_updated(struct cobj *old, struct cobj *o, void *userdata)
{
	node_seen(o, userdata);
}

/* Deleted, or no longer labelled type=simulated: a status report tells
 * (a 404 marks the node gone). */
static void node_deleted(struct cobj *o, void *userdata)
{
	struct simulator *s = userdata;
	struct sim_node *nd = node_by_name(s, o->name);
	if (nd && node_live(nd))
		hb_add(s, 'S', nd->idx);
}

/* ---- failures ---- */

static void set_failed(struct simulator *s, struct sim_node *nd, bool failed)
{
	if (atomic_exchange(&nd->failed, failed) == failed)
		return;
	if (failed) {
		log_info("node %s failed: no more heartbeats, its pods are ignored", nd->name);
		return;
	}
	log_info("node %s recovered", nd->name);
	pthread_mutex_lock(&nd->mu);
	nd->ready_since = (int64_t)now_usec_realtime();
	pthread_mutex_unlock(&nd->mu);
	atomic_store(&nd->want_full, true);
	hb_add(s, 'L', nd->idx);
	hb_add(s, 'S', nd->idx);
	atomic_store(&nd->rescan, true);
	pthread_mutex_lock(&s->tick_mu);
	atomic_store(&s->rescan, true);
	pthread_cond_signal(&s->tick_cond);
	pthread_mutex_unlock(&s->tick_mu);
}

int simulator_error(struct simulator *s)
{
	return atomic_load(&s->error);
}

int simulator_set_failed(struct simulator *s, const char *name, bool failed)
{
	struct sim_node *nd = node_by_name(s, name);
	if (!nd)
		return -ENOENT;
	set_failed(s, nd, failed);
	return 0;
}

int simulator_control(struct simulator *s)
{
	if (!s->o.control_file) {
		log_warn("SIGUSR1 without --control-file: nothing to do");
		return -EINVAL;
	}
	_cleanup_fclose_ FILE *f = fopen(s->o.control_file, "re");
	if (!f) {
		int r = -errno;
		log_error("cannot read control file %s: %s", s->o.control_file, strerror(errno));
		return r;
	}
	char line[512];
	int ret = 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		p[strcspn(p, "#\r\n")] = 0;
		char verb[16], name[300];
		if (!*p || sscanf(p, "%15s %299s", verb, name) != 2) {
			if (*p) {
				log_error("control file: cannot parse \"%s\"", p);
				ret = -EINVAL;
			}
			continue;
		}
		bool fail = streq(verb, "fail");
		if (!fail && !streq(verb, "recover")) {
			log_error("control file: unknown command \"%s\" (fail or recover)", verb);
			ret = -EINVAL;
			continue;
		}
		if (simulator_set_failed(s, name, fail) < 0) {
			log_error("control file: \"%s\" is not one of the simulated nodes", name);
			ret = -ENOENT;
		}
	}
	return ret;
}

/* ---- the ticker ---- */

/* A renewal wheel: node i is due at round + i * interval / n. */
struct wheel {
	char kind;
	int64_t interval;
	uint64_t round;
	int cursor;
};

static uint64_t wheel_due(const struct wheel *w, int n, int i)
{
	return w->round + (uint64_t)((__int128)w->interval * i / n);
}

/* Queue what is due; returns when the next one is. */
static uint64_t wheel_turn(struct simulator *s, struct wheel *w, uint64_t now)
{
	for (;;) {
		while (w->cursor < s->n && wheel_due(w, s->n, w->cursor) <= now) {
			if (node_live(&s->nodes[w->cursor]))
				hb_add(s, w->kind, w->cursor);
			w->cursor++;
		}
		if (w->cursor < s->n)
			return wheel_due(w, s->n, w->cursor);
		w->cursor = 0;
		w->round += (uint64_t)w->interval;
		if (w->round + (uint64_t)w->interval < now)
			w->round = now; /* fell behind (stopped, overloaded): no burst */
	}
}

static bool stopping(struct simulator *s)
{
	return atomic_load(&s->stopping);
}

/* Pods waiting long for a pod CIDR usually mean the IPAM controller ran
 * out (--cluster-cidr too small for the nodes): say so, once per node. */
static void warn_waiting(struct simulator *s, uint64_t now)
{
	size_t nodes = 0, pods = 0;
	const char *first = NULL;
	for (int i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->nodes[i];
		pthread_mutex_lock(&nd->mu);
		if (nd->nwaiting && !nd->has_pool && !nd->warned && atomic_load(&nd->registered) &&
		    now - nd->waiting_since > WAIT_WARN_USEC) {
			nd->warned = true;
			nodes++;
			pods += nd->nwaiting;
			if (!first)
				first = nd->name;
		}
		pthread_mutex_unlock(&nd->mu);
	}
	if (nodes)
		log_warn(
		    "%zu pod%s on %zu node%s (%s%s) wait for a pod CIDR since more than %llds: "
		    "is the IPAM controller's --cluster-cidr large enough for all nodes?",
		    pods, pods == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s", first,
		    nodes > 1 ? ", ..." : "", (long long)(WAIT_WARN_USEC / 1000000));
}

static void print_stats(struct simulator *s, struct stats *last, uint64_t *last_at, uint64_t now)
{
	double dt = (double)(now - *last_at) / 1e6;
#define RATE(f) ((double)(atomic_load(&s->st.f) - atomic_load(&last->f)) / dt)
	log_info("nodes %d/%d registered; per second: %.1f lease renewals, %.1f node statuses, "
		 "%.1f pods started, %.1f pods deleted; errors: %llu lease, %llu status, %llu pod; "
		 "queues: %zu heartbeat, %zu pod",
		 atomic_load(&s->reg_done), s->n, RATE(leases), RATE(statuses), RATE(pods_started),
		 RATE(pods_deleted), (unsigned long long)atomic_load(&s->st.lease_errors),
		 (unsigned long long)atomic_load(&s->st.status_errors),
		 (unsigned long long)atomic_load(&s->st.pod_errors), workqueue_len(s->hbq),
		 workqueue_len(s->podq));
#undef RATE
#define COPY(f) atomic_store(&last->f, atomic_load(&s->st.f))
	COPY(registered);
	COPY(leases);
	COPY(lease_errors);
	COPY(statuses);
	COPY(status_errors);
	COPY(pods_started);
	COPY(pods_deleted);
	COPY(pod_errors);
#undef COPY
	*last_at = now;
}

/* The nodes' addresses in our range: ours are kept, others' avoided. */
struct addr_scan {
	struct simulator *s;
	uint32_t *keep; /* per node index */
	uint32_t *used;
	size_t nused, aused;
};

static void scan_address(struct cobj *o, void *userdata)
{
	struct addr_scan *a = userdata;
	struct node_info *ni = o->ext;
	uint32_t ip = ni ? ip_parse(ni->internal_ip) : 0;
	if (!sim_ip_in_node_range(ip))
		return;
	int i = sim_node_index(a->s->o.prefix, a->s->n, o->name);
	if (i >= 0) {
		a->keep[i] = ip;
		return;
	}
	if (a->nused == a->aused) {
		a->aused = a->aused ? 2 * a->aused : 64;
		a->used = xrealloc(a->used, a->aused * sizeof(uint32_t));
	}
	a->used[a->nused++] = ip;
}

/* Startup, in the ticker thread so that the caller can take signals:
 * wait for the informers, give the nodes their addresses, adopt running
 * pods, then start the workers and registration. */
static int startup(struct simulator *s)
{
	while (!informer_wait_synced(s->nodes_inf, 100000) ||
	       !informer_wait_synced(s->pods_inf, 100000)) {
		if (stopping(s))
			return -ECANCELED;
	}
	struct addr_scan a = { s, xnew(uint32_t, (size_t)s->n), NULL, 0, 0 };
	_cleanup_free_ uint32_t *ips = xnew(uint32_t, (size_t)s->n);
	informer_foreach(s->nodes_inf, NULL, scan_address, &a);
	_cleanup_free_ uint32_t *keep = a.keep, *used = a.used;
	size_t nused = a.nused;
	if (nused)
		qsort(used, nused, sizeof(*used), cmp_u32);
	if (sim_plan_node_ips(s->o.prefix, (size_t)s->n, keep, used, nused, ips) < 0) {
		log_error("no free simulated node addresses left in 198.18.0.0/15");
		return -ENOSPC;
	}
	for (int i = 0; i < s->n; i++)
		ip_format(ips[i], s->nodes[i].ip);
	informer_foreach(s->pods_inf, NULL, adopt_pod, s);

	int r = workqueue_run(s->hbq, s->o.node_workers, heartbeat_sync, s);
	if (r >= 0)
		r = workqueue_run(s->podq, s->o.pod_workers, pod_sync, s);
	if (r < 0)
		return log_error_errno(r, "cannot start workers");
	if (pthread_create(&s->dq.thread, NULL, delayq_main, &s->dq) == 0)
		s->dq.running = true;
	s->reg_start = now_usec_monotonic();
	for (int i = 0; i < s->n; i++)
		hb_add(s, 'R', i);
	log_info("simulating %d node%s %s0..%s%d (%s .. %s); %zu pods in the cluster", s->n,
		 s->n == 1 ? "" : "s", s->o.prefix, s->o.prefix, s->n - 1, s->nodes[0].ip,
		 s->nodes[s->n - 1].ip, informer_count(s->pods_inf));
	return 0;
}

static void *ticker_main(void *arg)
{
	struct simulator *s = arg;
	int r = startup(s);
	if (r < 0) {
		if (r != -ECANCELED) {
			/* The caller waits for a signal: end it with one. */
			atomic_store(&s->error, r);
			kill(getpid(), SIGTERM);
		}
		return NULL;
	}
	uint64_t now = now_usec_monotonic();
	/* The first renewals come one interval after registration. */
	struct wheel lease = { 'L', s->o.lease_renew_usec, now + (uint64_t)s->o.lease_renew_usec,
			       0 };
	struct wheel status = { 'S', s->o.status_usec, now + (uint64_t)s->o.status_usec, 0 };
	struct stats last = { 0 };
	uint64_t last_at = now, last_warn = now;
	pthread_mutex_lock(&s->tick_mu);
	while (!stopping(s)) {
		pthread_mutex_unlock(&s->tick_mu);
		now = now_usec_monotonic();
		uint64_t next = MIN(wheel_turn(s, &lease, now), wheel_turn(s, &status, now));
		for (size_t i = 0; i < s->nfail_at; i++) {
			if (s->fail_at[i].at && s->fail_at[i].at <= now) {
				s->fail_at[i].at = 0;
				set_failed(s, &s->nodes[s->fail_at[i].idx], true);
			}
		}
		rescan_pods(s);
		if (now - last_warn >= STATS_EVERY_USEC) {
			warn_waiting(s, now);
			last_warn = now;
		}
		if (log_enabled(1) && now - last_at >= STATS_EVERY_USEC)
			print_stats(s, &last, &last_at, now);
		pthread_mutex_lock(&s->tick_mu);
		if (!stopping(s) && !atomic_load(&s->rescan) && next > now)
			timedwait_monotonic(&s->tick_cond, &s->tick_mu,
					    MIN(next - now, TICK_MAX_USEC));
	}
	pthread_mutex_unlock(&s->tick_mu);
	return NULL;
}

/* ---- life cycle ---- */

static void read_os_image(char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen("/etc/os-release", "re");
	char line[256];
	const char *name = "Linux";
	char pretty[200] = "";
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
		size_t len = MIN(strlen(v), sizeof(pretty) - 1);
		memcpy(pretty, v, len);
		pretty[len] = 0;
		name = pretty;
	}
	snprintf(buf, size, "%s (simulated)", name);
}

struct simulator *simulator_new(struct kclient *c, const struct sim_opts *o)
{
	struct simulator *s = xnew(struct simulator, 1);
	s->c = c;
	s->o = *o;
	s->n = o->nodes;
	s->start_usec = (int64_t)now_usec_realtime();
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(s->kernel, sizeof(s->kernel), "%s", u.release);
	read_os_image(s->os_image, sizeof(s->os_image));
	random_uuid(s->boot_id);
	s->capacity = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "cpu", o->cpu,
				"ephemeral-storage", o->ephemeral_storage, "hugepages-1Gi", "0",
				"hugepages-2Mi", "0", "memory", o->memory, "pods", o->pods);
	/* Extra labels first: the fixed ones win (the node informer selects
	 * type=simulated). */
	s->labels = json_object();
	for (const char **l = o->labels; l && *l; l++) {
		const char *eq = strchr(*l, '=');
		if (!eq)
			continue;
		_cleanup_free_ char *k = xstrndup(*l, (size_t)(eq - *l));
		json_set_str(s->labels, k, eq + 1);
	}
	json_set_str(s->labels, "beta.kubernetes.io/arch", "amd64");
	json_set_str(s->labels, "beta.kubernetes.io/os", "linux");
	json_set_str(s->labels, "kubernetes.io/arch", "amd64");
	json_set_str(s->labels, "kubernetes.io/os", "linux");
	json_set_str(s->labels, "type", "simulated");
	s->nodes = xnew(struct sim_node, (size_t)s->n);
	for (int i = 0; i < s->n; i++)
		node_init(s, &s->nodes[i], i);
	for (const char **f = o->fail_after; f && *f; f++) {
		_cleanup_free_ char *name = NULL;
		int64_t us;
		int idx;
		if (parse_fail_after(*f, &name, &us) < 0 ||
		    (idx = sim_node_index(o->prefix, o->nodes, name)) < 0)
			continue;
		s->fail_at = xrealloc(s->fail_at, (s->nfail_at + 1) * sizeof(*s->fail_at));
		s->fail_at[s->nfail_at++] =
		    (struct fail_at){ idx, now_usec_monotonic() + (uint64_t)MAX(us, 1) };
	}
	pthread_mutex_init(&s->states_mu, NULL);
	avl_init(&s->states, state_cmp);
	pthread_mutex_init(&s->tick_mu, NULL);
	cond_init_monotonic(&s->tick_cond);

	s->hbq = workqueue_new("sim-heartbeats");
	s->podq = workqueue_new("sim-pods");
	delayq_init(&s->dq, s->podq);

	/* Only bound pods matter; and only simulated nodes (an informer
	 * without any selector would also do, but this keeps the caches small). */
	struct informer_opts po = {
		.api_version = "v1",
		.plural = "pods",
		.field_selector = "spec.nodeName!=",
		.extract = sim_pod_extract,
		.ext_free = sim_pod_free,
	};
	informer_new(c, &po, &s->pods_inf);
	informer_add_handlers(s->pods_inf, &(struct informer_handlers){
					       .on_add = pod_added,
					       .on_update = pod_updated,
					       .on_delete = pod_deleted,
					       .userdata = s,
					   });
	struct informer_opts no = {
		.api_version = "v1",
		.plural = "nodes",
		.label_selector = "type=simulated",
		.extract = node_info_extract,
		.ext_free = node_info_free,
	};
	informer_new(c, &no, &s->nodes_inf);
	informer_add_handlers(s->nodes_inf, &(struct informer_handlers){
						.on_add = node_seen,
						.on_update = node_updated,
						.on_delete = node_deleted,
						.userdata = s,
					    });
	return s;
}

int simulator_start(struct simulator *s)
{
	int r = informer_start(s->nodes_inf);
	if (r >= 0)
		r = informer_start(s->pods_inf);
	if (r < 0)
		return r;
	r = pthread_create(&s->ticker, NULL, ticker_main, s);
	if (r)
		return -r;
	s->ticker_running = true;
	return 0;
}

void simulator_stop(struct simulator *s)
{
	pthread_mutex_lock(&s->tick_mu);
	atomic_store(&s->stopping, true);
	pthread_cond_signal(&s->tick_cond);
	pthread_mutex_unlock(&s->tick_mu);
	if (s->ticker_running)
		pthread_join(s->ticker, NULL);
	s->ticker_running = false;
	/* No heartbeat from here on: mark every node failed, so that a
	 * renewal still queued does nothing. */
	for (int i = 0; i < s->n; i++)
		atomic_store(&s->nodes[i].failed, true);
	informer_stop(s->pods_inf);
	informer_stop(s->nodes_inf);
	delayq_stop(&s->dq);
	workqueue_shutdown(s->hbq);
	workqueue_shutdown(s->podq);
}

void simulator_free(struct simulator *s)
{
	if (!s)
		return;
	simulator_stop(s);
	informer_free(s->pods_inf);
	informer_free(s->nodes_inf);
	workqueue_free(s->hbq);
	workqueue_free(s->podq);
	delayq_release(&s->dq);
	struct avl_node *n = avl_first(&s->states);
	while (n) {
		struct avl_node *next = avl_next(n);
		avl_remove(&s->states, n);
		state_free(avl_entry(n, struct pod_state, avl));
		n = next;
	}
	for (int i = 0; i < s->n; i++)
		node_release(&s->nodes[i]);
	free(s->nodes);
	free(s->fail_at);
	json_decref(s->capacity);
	json_decref(s->labels);
	pthread_mutex_destroy(&s->states_mu);
	pthread_mutex_destroy(&s->tick_mu);
	pthread_cond_destroy(&s->tick_cond);
	free(s);
}
