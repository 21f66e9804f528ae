/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sched_bench: how fast c8s places pods on many simulated nodes, and what it
 * takes to hold a cluster at Kubernetes' scale limit.
 *
 * It runs against a `c8s server` whose nodes are played by `c8s agent
 * --simulate` processes (bench/scheduler/run starts them all) and follows
 * every pod of each wave from its create to Running:
 *
 *   backlog     pods created while the scheduler is held off (run keeps its
 *               leader lease taken), then let go: the scheduler's own rate;
 *   pods        bare pods created by many concurrent keep-alive clients (one
 *               libcurl multi handle) while the scheduler runs: the
 *               end-to-end rate and the create-to-bound latency;
 *   deployment  one Deployment of N replicas, from its create to
 *               readyReplicas == N;
 *   fill        more bare pods up to the scale target, then the hold checks
 *               with every pod in place: memory, database size, full and
 *               paged lists, GETs, node health, watch latency.
 *
 * A watch per wave (its own thread and a minimal JSON scanner) stamps each
 * pod when it first shows spec.nodeName and when it first shows phase
 * Running. CPU and memory of the server and the agents come from /proc.
 * The results of a run are printed and written as JSON; --combine merges
 * several runs (one per cluster size) into one file and prints them with the
 * targets. Targets are informative: the exit status is non-zero only when
 * the benchmark cannot run. bench/README.md says what each number means.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_     __attribute__((noreturn))
#define ELEMENTSOF(a)  (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Targets printed next to the results (informative only). */
#define TARGET_BOUND_PER_S 5000.0
#define TARGET_SCALE_PODS  150000
#define TARGET_SCALE_NODES 5000

#define HOLD_HOLDER	  "sched-bench-hold" /* run takes the scheduler's lease as this */
#define LIST_PAGE_SIZE	  500
#define PROBES		  20  /* pods created one by one during the hold */
#define HOLD_GETS	  200 /* single-pod GETs during the hold */
#define PAGED_LIST_MAX_S  60  /* the hold's paged list stops after this */
#define PROGRESS_EVERY_NS (5 * 1000000000LL)
#define MAX_AGENTS	  64

/* ---- small helpers ---------------------------------------------------- */

static _noreturn_ _printf_(1, 2) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("sched_bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE);
}

static _printf_(1, 2) void warn(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("sched_bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die("out of memory");
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		die("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

static char *_printf_(1, 2) xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		die("out of memory");
	return s;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double secs(int64_t ns)
{
	return (double)ns / 1e9;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static uint64_t xorshift64(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

/* A growable byte buffer, NUL-terminated once anything was added. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
};

static void buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap < b->len + len + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

static void buf_release(struct buf *b)
{
	free(b->p);
	*b = (struct buf){ 0 };
}

/* Samples in nanoseconds. */
struct samples {
	int64_t *v;
	size_t n;
	size_t cap;
};

static void samples_add(struct samples *s, int64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = ns;
}

static void samples_release(struct samples *s)
{
	free(s->v);
	*s = (struct samples){ 0 };
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in milliseconds. */
static double percentile_ms(const struct samples *s, double p)
{
	size_t rank = (size_t)(p * (double)s->n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return (double)s->v[rank - 1] / 1e6;
}

/* {n, p50_ms, p99_ms, max_ms, mean_ms}; sorts the samples. */
static json_t *samples_json(struct samples *s)
{
	double total = 0;

	if (!s->n)
		return json_pack("{s:i, s:n, s:n, s:n, s:n}", "n", 0, "p50_ms", "p99_ms", "max_ms",
				 "mean_ms");
	qsort(s->v, s->n, sizeof(*s->v), cmp_i64);
	for (size_t i = 0; i < s->n; i++)
		total += (double)s->v[i];
	return json_pack("{s:I, s:f, s:f, s:f, s:f}", "n", (json_int_t)s->n, "p50_ms",
			 percentile_ms(s, 0.50), "p99_ms", percentile_ms(s, 0.99), "max_ms",
			 (double)s->v[s->n - 1] / 1e6, "mean_ms", total / (double)s->n / 1e6);
}

/* A number from a JSON path "a.b.c"; NAN when absent or not a number. */
static double jnum(const json_t *o, const char *path)
{
	char key[128];
	const char *p = path;

	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (n >= sizeof(key))
			return NAN;
		memcpy(key, p, n);
		key[n] = '\0';
		o = json_object_get(o, key);
		p += n + (dot ? 1 : 0);
	}
	return o && json_is_number(o) ? json_number_value(o) : NAN;
}

static json_t *jpath(json_t *o, const char *path)
{
	char key[128];
	const char *p = path;

	while (o && *p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		o = json_object_get(o, key);
		p += n + (dot ? 1 : 0);
	}
	return o;
}

/* A real, or null for NAN and infinities (JSON has neither). */
static json_t *jreal(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* ---- /proc ------------------------------------------------------------ */

/* A "Key:  N kB" line of /proc/PID/status, in kB; -1 if unknown. */
static long proc_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			kb = strtol(line + klen + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* User plus system CPU seconds used so far by PID; -1 if unknown. */
static double proc_cpu_s(pid_t pid)
{
	char path[64], buf[2048];
	unsigned long long utime, stime;
	const char *p;
	size_t n;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name may hold spaces; fields count from after its ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	/* Skip fields 3 (state) to 13 (cmajflt); 14 and 15 are utime and stime. */
	for (int field = 3; field <= 13; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -1;
	}
	if (sscanf(p, " %llu %llu", &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* False once PID has exited (a zombie counts as exited). */
static bool proc_alive(pid_t pid)
{
	char path[64], buf[512];
	const char *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* CPU seconds every process on the machine used so far (from /proc/stat). */
static double machine_cpu_s(void)
{
	unsigned long long user, nice, sys, idle, iowait, irq, softirq, steal;
	FILE *f = fopen("/proc/stat", "re");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
		   &iowait, &irq, &softirq, &steal);
	fclose(f);
	if (n != 8)
		return -1;
	return (double)(user + nice + sys + irq + softirq + steal) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double load1(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "re");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static json_t *loadavg_json(void)
{
	double l[3] = { -1, -1, -1 };
	FILE *f = fopen("/proc/loadavg", "re");

	if (f) {
		if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3)
			l[0] = l[1] = l[2] = -1;
		fclose(f);
	}
	return json_pack("[f, f, f]", l[0], l[1], l[2]);
}

/* ---- the bench ------------------------------------------------------------ */

struct options {
	const char *server; /* https://127.0.0.1:PORT */
	const char *kubeconfig_dir;
	const char *data_dir; /* for the database size; default kubeconfig_dir */
	pid_t server_pid;
	pid_t agent_pids[MAX_AGENTS];
	int n_agents;
	int nodes;
	size_t backlog;
	size_t pods;
	size_t deployment;
	size_t scale_pods;
	int clients;
	double scale_time_limit_s; /* the fill stops creating after this */
	double stall_s;		   /* give up waiting after this long without progress */
	double node_timeout_s;
	const char *pod_cpu;
	const char *pod_memory;
	const char *json_path;
	const char *note;
	const char *per_pod_dir;
	bool combine;
};

/* What one pod went through, in CLOCK_MONOTONIC nanoseconds (0: not seen). */
struct pod {
	char *name;
	uint64_t hash;
	int64_t sent;	 /* our create request was sent */
	int64_t acked;	 /* its 201 arrived */
	int64_t added;	 /* the watch first showed it */
	int64_t bound;	 /* the watch first showed spec.nodeName */
	int64_t running; /* the watch first showed status.phase Running */
	char *node;
	long count; /* node tables: pods on the node */
};

/* Pods by name: an array and an open-addressing index into it. Pods are
 * added before a wave, or during it by the one thread that reads it. */
struct podtab {
	struct pod *v;
	size_t n, cap;
	uint32_t *slots; /* index + 1; 0: empty */
	size_t nslots;	 /* a power of two, at least twice n */
};

static uint64_t hash_name(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void podtab_rehash(struct podtab *t, size_t nslots)
{
	free(t->slots);
	t->slots = xcalloc(nslots, sizeof(*t->slots));
	t->nslots = nslots;
	for (size_t i = 0; i < t->n; i++) {
		size_t s = t->v[i].hash & (nslots - 1);

		while (t->slots[s])
			s = (s + 1) & (nslots - 1);
		t->slots[s] = (uint32_t)(i + 1);
	}
}

static struct pod *podtab_find(const struct podtab *t, const char *name, size_t len)
{
	uint64_t h;
	size_t s;

	if (!t->nslots)
		return NULL;
	h = hash_name(name, len);
	for (s = h & (t->nslots - 1); t->slots[s]; s = (s + 1) & (t->nslots - 1)) {
		struct pod *p = &t->v[t->slots[s] - 1];

		if (p->hash == h && strncmp(p->name, name, len) == 0 && !p->name[len])
			return p;
	}
	return NULL;
}

static struct pod *podtab_add(struct podtab *t, const char *name, size_t len)
{
	struct pod *p;

	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 1024;
		t->v = xrealloc(t->v, t->cap * sizeof(*t->v));
	}
	p = &t->v[t->n++];
	*p = (struct pod){ .name = xstrndup(name, len), .hash = hash_name(name, len) };
	if (2 * t->n > t->nslots)
		podtab_rehash(t, t->nslots ? 2 * t->nslots : 4096);
	else {
		size_t s = p->hash & (t->nslots - 1);

		while (t->slots[s])
			s = (s + 1) & (t->nslots - 1);
		t->slots[s] = (uint32_t)t->n;
	}
	return p;
}

static struct pod *podtab_get(struct podtab *t, const char *name, size_t len)
{
	struct pod *p = podtab_find(t, name, len);

	return p ? p : podtab_add(t, name, len);
}

static void podtab_release(struct podtab *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].node);
	}
	free(t->v);
	free(t->slots);
	*t = (struct podtab){ 0 };
}

enum wave_kind { WAVE_BACKLOG, WAVE_PODS, WAVE_DEPLOYMENT, WAVE_FILL, WAVE_MAX };
static const char *const wave_name[WAVE_MAX] = { "backlog", "pods", "deployment", "fill" };
static const char *const wave_ns[WAVE_MAX] = { "sb-backlog", "sb-pods", "sb-deploy", "sb-fill" };

/* CPU seconds at one moment. */
struct cpu_mark {
	int64_t t;
	double server, agents, self, machine;
};

struct client {
	CURL *curl;
	struct curl_slist *headers;
	struct buf body;
	bool discard; /* count the body's bytes only */
	size_t bytes;
	char errbuf[CURL_ERROR_SIZE];
};

/* One connection of the create pool. */
struct conn {
	CURL *e;
	struct buf body;
	struct pod *pod;
	char *req;
	char errbuf[CURL_ERROR_SIZE];
};

struct bench {
	struct options opt;
	char *ca, *cert, *key;
	char *server_version;
	struct client ctl; /* setup, polls and the hold's requests */

	/* the create pool: one multi handle whose connections last the run */
	CURLM *multi;
	struct conn *conns;
	struct curl_slist *post_headers;

	json_t *out; /* the run's results */
	json_t *waves;
	int64_t start_ns;
};

/* ---- HTTP ----------------------------------------------------------------- */

static size_t client_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct client *c = userdata;

	c->bytes += size * nmemb;
	if (!c->discard)
		buf_add(&c->body, data, size * nmemb);
	return size * nmemb;
}

static void curl_tls_setup(CURL *curl, const struct bench *b, struct curl_slist *headers,
			   char *errbuf)
{
	curl_easy_setopt(curl, CURLOPT_CAINFO, b->ca);
	curl_easy_setopt(curl, CURLOPT_SSLCERT, b->cert);
	curl_easy_setopt(curl, CURLOPT_SSLKEY, b->key);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
}

static struct curl_slist *json_headers(void)
{
	struct curl_slist *h = NULL;

	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Accept: application/json");
	/* Bodies over 1 KB would otherwise wait for a "100 Continue". */
	h = curl_slist_append(h, "Expect:");
	if (!h)
		die("out of memory");
	return h;
}

static void client_init(struct client *c, const struct bench *b)
{
	*c = (struct client){ 0 };
	c->curl = curl_easy_init();
	if (!c->curl)
		die("curl_easy_init failed");
	c->headers = json_headers();
	curl_tls_setup(c->curl, b, c->headers, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, client_write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(c->curl, CURLOPT_MAXCONNECTS, 1L);
}

static void client_release(struct client *c)
{
	if (c->curl)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	buf_release(&c->body);
	*c = (struct client){ 0 };
}

/* One request: the HTTP status, or -1 when it failed below HTTP (c->errbuf
 * says why). The body is in c->body, or only counted in c->bytes when
 * c->discard is set. */
static long client_request(struct client *c, const char *method, const char *url, const char *data)
{
	long status = 0;
	CURLcode r;

	buf_reset(&c->body);
	c->bytes = 0;
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	if (!data) {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "GET") == 0 ? NULL : method);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(data));
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "POST") == 0 ? NULL : method);
	}
	r = curl_easy_perform(c->curl);
	if (r != CURLE_OK) {
		if (!c->errbuf[0])
			snprintf(c->errbuf, sizeof(c->errbuf), "%s", curl_easy_strerror(r));
		return -1;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* A request on the control connection that must answer `want`; the parsed
 * body (a new reference) or NULL when it is not JSON. */
static json_t *ctl_json(struct bench *b, const char *method, const char *url, const char *data,
			long want)
{
	long status = client_request(&b->ctl, method, url, data);

	if (status < 0)
		die("%s %s: %s", method, url, b->ctl.errbuf);
	if (status != want)
		die("%s %s: HTTP %ld: %.300s", method, url, status,
		    b->ctl.body.p ? b->ctl.body.p : "");
	return json_loadb(b->ctl.body.p, b->ctl.body.len, 0, NULL);
}

static char *url_of(const struct bench *b, const char *path)
{
	return xasprintf("%s%s", b->opt.server, path);
}

/* The total number of objects a collection holds (from a one-item page),
 * and its resourceVersion. -1 if the server did not say. */
static long collection_count(struct bench *b, const char *path, uint64_t *ret_rv)
{
	_cleanup_free_ char *url = xasprintf("%s%s?limit=1", b->opt.server, path);
	_cleanup_json_ json_t *list = ctl_json(b, "GET", url, NULL, 200);
	json_t *meta = json_object_get(list, "metadata");
	const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
	json_t *remaining = json_object_get(meta, "remainingItemCount");
	size_t items = json_array_size(json_object_get(list, "items"));

	if (ret_rv)
		*ret_rv = rv ? strtoull(rv, NULL, 10) : 0;
	if (json_is_integer(remaining))
		return (long)json_integer_value(remaining) + (long)items;
	if (!json_object_get(meta, "continue") || items == 0)
		return (long)items;
	return -1;
}

/* The store's current revision, as a list reports it. */
static uint64_t store_revision(struct bench *b)
{
	uint64_t rv = 0;

	collection_count(b, "/api/v1/namespaces", &rv);
	return rv;
}

/* ---- a minimal scanner for watch events ------------------------------- */

/* Where the fields of a watch event that matter here are, in its line. */
struct evfields {
	const char *type, *name, *rv, *node, *phase;
	size_t type_len, name_len, rv_len, node_len, phase_len;
	long code; /* an ERROR event's Status code */
};

enum scan_ctx { SC_ROOT, SC_OBJECT, SC_META, SC_SPEC, SC_STATUS, SC_OTHER };

static const char *scan_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* p just after an opening quote: the closing quote, or NULL. */
static const char *scan_string_end(const char *p, const char *end)
{
	while (p < end) {
		if (*p == '\\')
			p += 2;
		else if (*p == '"')
			return p;
		else
			p++;
	}
	return NULL;
}

/* Past one value of any type; NULL if the text ends first. */
static const char *scan_skip(const char *p, const char *end)
{
	int depth = 0;

	if (p >= end)
		return NULL;
	if (*p == '"') {
		p = scan_string_end(p + 1, end);
		return p ? p + 1 : NULL;
	}
	if (*p != '{' && *p != '[') {
		while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n')
			p++;
		return p;
	}
	for (; p < end; p++) {
		if (*p == '"') {
			p = scan_string_end(p + 1, end);
			if (!p)
				return NULL;
		} else if (*p == '{' || *p == '[') {
			depth++;
		} else if ((*p == '}' || *p == ']') && --depth == 0) {
			return p + 1;
		}
	}
	return NULL;
}

static bool key_is(const char *k, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(k, want, len) == 0;
}

/* Scans the object at p (at its '{'), recording the fields of `f` that live
 * in it; past the object, or NULL if the text is not what was expected. */
static const char *scan_object(const char *p, const char *end, enum scan_ctx ctx,
			       struct evfields *f)
{
	for (p++;;) {
		const char *k, *kend, **want_p = NULL;
		size_t *want_len = NULL, klen;
		enum scan_ctx child = SC_OTHER;

		p = scan_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == '}')
			return p + 1;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p != '"')
			return NULL;
		k = p + 1;
		kend = scan_string_end(k, end);
		if (!kend)
			return NULL;
		klen = (size_t)(kend - k);
		p = scan_ws(kend + 1, end);
		if (p >= end || *p != ':')
			return NULL;
		p = scan_ws(p + 1, end);
		if (p >= end)
			return NULL;
		switch (ctx) {
		case SC_ROOT:
			if (key_is(k, klen, "type"))
				want_p = &f->type, want_len = &f->type_len;
			else if (key_is(k, klen, "object"))
				child = SC_OBJECT;
			break;
		case SC_OBJECT:
			if (key_is(k, klen, "metadata"))
				child = SC_META;
			else if (key_is(k, klen, "spec"))
				child = SC_SPEC;
			else if (key_is(k, klen, "status"))
				child = SC_STATUS;
			else if (key_is(k, klen, "code"))
				f->code = strtol(p, NULL, 10);
			break;
		case SC_META:
			if (key_is(k, klen, "name"))
				want_p = &f->name, want_len = &f->name_len;
			else if (key_is(k, klen, "resourceVersion"))
				want_p = &f->rv, want_len = &f->rv_len;
			break;
		case SC_SPEC:
			if (key_is(k, klen, "nodeName"))
				want_p = &f->node, want_len = &f->node_len;
			break;
		case SC_STATUS:
			if (key_is(k, klen, "phase"))
				want_p = &f->phase, want_len = &f->phase_len;
			break;
		case SC_OTHER:
			break;
		}
		if (want_p && *p == '"') {
			const char *s = p + 1, *e = scan_string_end(s, end);

			if (!e)
				return NULL;
			*want_p = s;
			*want_len = (size_t)(e - s);
			p = e + 1;
		} else if (child != SC_OTHER && *p == '{') {
			p = scan_object(p, end, child, f);
		} else {
			p = scan_skip(p, end);
		}
		if (!p)
			return NULL;
	}
}

static bool scan_event(const char *line, size_t len, struct evfields *f)
{
	const char *p = scan_ws(line, line + len);

	*f = (struct evfields){ 0 };
	return p < line + len && *p == '{' && scan_object(p, line + len, SC_ROOT, f);
}

/* ---- watches ---------------------------------------------------------- */

/* Follows the pods of one wave: stamps each pod of `tab` when it is first
 * seen, first bound and first Running. With `insert`, pods not in the table
 * are added (a Deployment's pods, whose names the server makes up); only the
 * watch thread then touches the table until it stops. */
struct watcher {
	struct bench *b;
	struct podtab *tab;
	bool insert;
	char *path; /* the collection, e.g. /api/v1/namespaces/NS/pods */
	pthread_t thread;
	CURL *curl;
	struct curl_slist *headers;
	struct buf line;
	uint64_t from_rv; /* the last resourceVersion seen; a reconnect resumes there */
	atomic_bool stop;
	atomic_bool established;
	int64_t established_ns;
	atomic_size_t added, bound, running;
	size_t events;
	size_t reconnects;
	bool gone; /* 410: the events it missed cannot be had */
	char errbuf[CURL_ERROR_SIZE];
};

static void watcher_event(struct watcher *w, const char *line, size_t len, int64_t at)
{
	struct evfields f;
	struct pod *p;

	if (!scan_event(line, len, &f) || !f.type)
		return;
	w->events++;
	if (f.rv)
		w->from_rv = strtoull(f.rv, NULL, 10);
	if (f.type_len == 5 && memcmp(f.type, "ERROR", 5) == 0) {
		warn("watch of %s: error event: %.*s", w->path, (int)len, line);
		if (f.code == 410)
			w->gone = true;
		return;
	}
	if (!f.name || (f.type_len == 7 && memcmp(f.type, "DELETED", 7) == 0) ||
	    (f.type_len == 8 && memcmp(f.type, "BOOKMARK", 8) == 0))
		return;
	p = w->insert ? podtab_get(w->tab, f.name, f.name_len)
		      : podtab_find(w->tab, f.name, f.name_len);
	if (!p)
		return;
	if (!p->added) {
		p->added = at;
		atomic_fetch_add(&w->added, 1);
	}
	if (f.node && f.node_len && !p->bound) {
		p->bound = at;
		p->node = xstrndup(f.node, f.node_len);
		atomic_fetch_add(&w->bound, 1);
	}
	if (f.phase && f.phase_len == 7 && memcmp(f.phase, "Running", 7) == 0 && !p->running) {
		p->running = at;
		atomic_fetch_add(&w->running, 1);
	}
}

static size_t watcher_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct watcher *w = userdata;
	int64_t at = now_ns(); /* every line this chunk completes arrived now */
	size_t n = size * nmemb, start = 0, from = w->line.len;

	if (atomic_load(&w->stop))
		return 0; /* aborts the transfer */
	buf_add(&w->line, data, n);
	for (size_t i = from; i < w->line.len; i++) {
		if (w->line.p[i] != '\n')
			continue;
		if (i > start)
			watcher_event(w, w->line.p + start, i - start, at);
		start = i + 1;
	}
	memmove(w->line.p, w->line.p + start, w->line.len - start);
	w->line.len -= start;
	return n;
}

static size_t watcher_header_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct watcher *w = userdata;
	size_t n = size * nmemb;

	/* The blank line after the headers: the server has registered the watch. */
	if (n == 2 && data[0] == '\r' && data[1] == '\n' && !atomic_load(&w->established)) {
		w->established_ns = now_ns();
		atomic_store(&w->established, true);
	}
	return n;
}

static int watcher_progress_cb(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
			       curl_off_t ultotal, curl_off_t ulnow)
{
	struct watcher *w = userdata;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return atomic_load(&w->stop) ? 1 : 0;
}

static void *watcher_main(void *arg)
{
	struct watcher *w = arg;

	while (!atomic_load(&w->stop) && !w->gone) {
		_cleanup_free_ char *url =
		    xasprintf("%s%s?watch=1&allowWatchBookmarks=true&resourceVersion=%" PRIu64,
			      w->b->opt.server, w->path, w->from_rv);
		long status = 0;
		CURLcode r;

		buf_reset(&w->line);
		curl_easy_setopt(w->curl, CURLOPT_URL, url);
		r = curl_easy_perform(w->curl);
		if (atomic_load(&w->stop))
			break;
		curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
		w->reconnects++;
		if (w->reconnects <= 3)
			warn("watch of %s ended (%s, HTTP %ld); resuming at %" PRIu64 "%s", w->path,
			     r == CURLE_OK ? "closed by the server" : w->errbuf, status, w->from_rv,
			     w->reconnects == 3 ? " (not reported again)" : "");
		sleep_ms(w->reconnects < 5 ? 100L << w->reconnects : 2000);
	}
	return NULL;
}

/* Starts a watch of `path` from resourceVersion rv and waits (bounded) until
 * the server has registered it. */
static void watcher_start(struct watcher *w, struct bench *b, const char *path, uint64_t rv,
			  struct podtab *tab, bool insert)
{
	int64_t deadline = now_ns() + 30 * 1000000000LL;

	*w = (struct watcher){ .b = b, .tab = tab, .insert = insert, .from_rv = rv };
	w->path = xstrdup(path);
	w->curl = curl_easy_init();
	if (!w->curl)
		die("curl_easy_init failed");
	w->headers = curl_slist_append(NULL, "Accept: application/json");
	curl_tls_setup(w->curl, b, w->headers, w->errbuf);
	curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, watcher_write_cb);
	curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->curl, CURLOPT_HEADERFUNCTION, watcher_header_cb);
	curl_easy_setopt(w->curl, CURLOPT_HEADERDATA, w);
	curl_easy_setopt(w->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(w->curl, CURLOPT_XFERINFOFUNCTION, watcher_progress_cb);
	curl_easy_setopt(w->curl, CURLOPT_XFERINFODATA, w);
	if (pthread_create(&w->thread, NULL, watcher_main, w) != 0)
		die("cannot start a watch thread");
	while (!atomic_load(&w->established)) {
		if (now_ns() > deadline)
			die("the watch of %s was not established within 30 s", path);
		sleep_ms(2);
	}
}

static void watcher_stop(struct watcher *w)
{
	if (!w->curl)
		return;
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL); /* the progress callback sees stop within ~1 s */
	curl_easy_cleanup(w->curl);
	curl_slist_free_all(w->headers);
	buf_release(&w->line);
	free(w->path);
	w->curl = NULL;
}

/* ---- usage ------------------------------------------------------------ */

static struct cpu_mark cpu_mark(const struct bench *b)
{
	struct cpu_mark m = { .t = now_ns(), .self = self_cpu_s(), .machine = machine_cpu_s() };

	m.server = proc_cpu_s(b->opt.server_pid);
	for (int i = 0; i < b->opt.n_agents; i++) {
		double c = proc_cpu_s(b->opt.agent_pids[i]);

		if (c > 0)
			m.agents += c;
	}
	return m;
}

/* {wall_s, server_cpu_s, agents_cpu_s, client_cpu_s, other_cpu_s, other_pct} */
static json_t *cpu_json(const struct cpu_mark *a, const struct cpu_mark *z)
{
	double wall = secs(z->t - a->t), server = z->server - a->server;
	double agents = z->agents - a->agents, self = z->self - a->self;
	double other = z->machine - a->machine - server - agents - self;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (other < 0)
		other = 0;
	return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f}", "wall_s", wall, "server_cpu_s", server,
			 "agents_cpu_s", agents, "client_cpu_s", self, "other_cpu_s", other,
			 "other_pct", wall > 0 ? 100.0 * other / wall / (double)cpus : 0.0);
}

/* {server: {rss_kb, hwm_kb, threads}, agents: {rss_kb, hwm_kb}} (agents summed) */
static json_t *mem_json(const struct bench *b)
{
	long rss = 0, hwm = 0;

	for (int i = 0; i < b->opt.n_agents; i++) {
		long r = proc_kb(b->opt.agent_pids[i], "VmRSS");
		long h = proc_kb(b->opt.agent_pids[i], "VmHWM");

		rss += r > 0 ? r : 0;
		hwm += h > 0 ? h : 0;
	}
	return json_pack("{s:{s:I, s:I, s:I}, s:{s:I, s:I}}", "server", "rss_kb",
			 (json_int_t)proc_kb(b->opt.server_pid, "VmRSS"), "hwm_kb",
			 (json_int_t)proc_kb(b->opt.server_pid, "VmHWM"), "threads",
			 (json_int_t)proc_kb(b->opt.server_pid, "Threads"), "agents", "rss_kb",
			 (json_int_t)rss, "hwm_kb", (json_int_t)hwm);
}

static void check_alive(const struct bench *b, const char *during)
{
	if (b->opt.server_pid > 0 && !proc_alive(b->opt.server_pid))
		die("the server (PID %d) exited during %s", (int)b->opt.server_pid, during);
	for (int i = 0; i < b->opt.n_agents; i++)
		if (!proc_alive(b->opt.agent_pids[i]))
			die("agent PID %d exited during %s", (int)b->opt.agent_pids[i], during);
}

/* ---- creating pods -------------------------------------------------------- */

/* 50m and 64Mi by default: 30 pods fill 1.5 of a simulated node's 4 cpus. */
#define POD_JSON                                                                               \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"labels\":{"   \
	"\"app\":\"sched-bench\",\"wave\":\"%s\"}},\"spec\":{\"containers\":[{\"name\":"       \
	"\"app\",\"image\":\"registry.example.com/sched-bench/app:1.0\",\"resources\":{"       \
	"\"requests\":{\"cpu\":\"%s\",\"memory\":\"%s\"}}}],\"terminationGracePeriodSeconds\"" \
	":0}}"

static void pool_init(struct bench *b)
{
	b->multi = curl_multi_init();
	if (!b->multi)
		die("curl_multi_init failed");
	/* One keep-alive connection per client, kept in the multi handle's pool
	 * across requests and waves. */
	curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)b->opt.clients);
	curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)b->opt.clients);
	b->post_headers = json_headers();
	b->conns = xcalloc((size_t)b->opt.clients, sizeof(*b->conns));
	for (int i = 0; i < b->opt.clients; i++) {
		struct conn *c = &b->conns[i];

		c->e = curl_easy_init();
		if (!c->e)
			die("curl_easy_init failed");
		curl_tls_setup(c->e, b, b->post_headers, c->errbuf);
		curl_easy_setopt(c->e, CURLOPT_PRIVATE, c);
		curl_easy_setopt(c->e, CURLOPT_TIMEOUT, 120L);
	}
}

static size_t conn_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct conn *c = userdata;

	buf_add(&c->body, data, size * nmemb);
	return size * nmemb;
}

static void pool_release(struct bench *b)
{
	for (int i = 0; b->conns && i < b->opt.clients; i++) {
		curl_easy_cleanup(b->conns[i].e);
		buf_release(&b->conns[i].body);
		free(b->conns[i].req);
	}
	free(b->conns);
	if (b->multi)
		curl_multi_cleanup(b->multi);
	curl_slist_free_all(b->post_headers);
}

struct create_result {
	size_t created, errors;
	char *first_error;
	struct samples lat;
	int64_t first_sent, last_acked;
	bool stopped; /* the deadline stopped it before every pod was sent */
};

static void conn_start(struct bench *b, struct conn *c, struct pod *p, const char *url,
		       const char *wave)
{
	free(c->req);
	c->req = xasprintf(POD_JSON, p->name, wave, b->opt.pod_cpu, b->opt.pod_memory);
	c->pod = p;
	buf_reset(&c->body);
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->e, CURLOPT_URL, url);
	curl_easy_setopt(c->e, CURLOPT_POSTFIELDS, c->req);
	curl_easy_setopt(c->e, CURLOPT_POSTFIELDSIZE, (long)strlen(c->req));
	curl_easy_setopt(c->e, CURLOPT_WRITEFUNCTION, conn_write_cb);
	curl_easy_setopt(c->e, CURLOPT_WRITEDATA, c);
	p->sent = now_ns();
	if (curl_multi_add_handle(b->multi, c->e) != CURLM_OK)
		die("curl_multi_add_handle failed");
}

/* Creates the pods tab->v[from..to) in namespace ns, with every connection
 * of the pool busy, until all are sent or `deadline` (0: none) passes.
 * `watch` is only read, for the progress lines. */
static void create_pods(struct bench *b, struct podtab *tab, size_t from, size_t to, const char *ns,
			const char *wave, int64_t deadline, struct watcher *watch,
			struct create_result *res)
{
	_cleanup_free_ char *url = xasprintf("%s/api/v1/namespaces/%s/pods", b->opt.server, ns);
	size_t next = from, active = 0;
	int64_t last_print = now_ns();

	*res = (struct create_result){ 0 };
	res->first_sent = now_ns();
	for (int i = 0; i < b->opt.clients && next < to; i++, active++)
		conn_start(b, &b->conns[i], &tab->v[next++], url, wave);
	while (active > 0) {
		int still, left;
		CURLMsg *msg;

		curl_multi_perform(b->multi, &still);
		while ((msg = curl_multi_info_read(b->multi, &left))) {
			struct conn *c;
			long status = -1;
			int64_t t1 = now_ns();

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			if (msg->data.result == CURLE_OK)
				curl_easy_getinfo(c->e, CURLINFO_RESPONSE_CODE, &status);
			curl_multi_remove_handle(b->multi, c->e);
			active--;
			if (status == 201) {
				c->pod->acked = t1;
				res->created++;
				res->last_acked = t1;
				samples_add(&res->lat, t1 - c->pod->sent);
			} else {
				res->errors++;
				if (!res->first_error)
					res->first_error =
					    status < 0
						? xasprintf("POST %s: %s", url,
							    c->errbuf[0] ? c->errbuf
									 : curl_easy_strerror(
									       msg->data.result))
						: xasprintf("POST %s: HTTP %ld: %.300s", url,
							    status, c->body.p ? c->body.p : "");
			}
			if (next < to && (!deadline || t1 < deadline)) {
				conn_start(b, c, &tab->v[next++], url, wave);
				active++;
			}
		}
		if (active > 0)
			curl_multi_poll(b->multi, NULL, 0, 100, NULL);
		if (now_ns() - last_print >= PROGRESS_EVERY_NS) {
			last_print = now_ns();
			printf("    %-10s %zu/%zu created, %zu bound, %zu Running (load %.2f)\n",
			       wave, res->created, to - from, atomic_load(&watch->bound),
			       atomic_load(&watch->running), load1());
			fflush(stdout);
			check_alive(b, wave);
		}
	}
	res->stopped = next < to;
	if (res->first_error)
		warn("%s: %zu creates failed; the first: %s", wave, res->errors, res->first_error);
}

/* ---- waiting ------------------------------------------------------------ */

/* Waits until `expect` pods of the watch are bound and Running, giving up
 * after stall_s without progress. An extra condition (a Deployment's
 * readiness) may be polled by `poll`, which returns true once it holds. */
static void wait_wave(struct bench *b, const char *wave, struct watcher *w, size_t expect,
		      bool (*poll)(struct bench *, void *), void *ud)
{
	int64_t last_progress = now_ns(), last_print = now_ns(), last_poll = 0;
	size_t last = SIZE_MAX;
	bool polled = !poll;

	for (;;) {
		size_t bound = atomic_load(&w->bound), running = atomic_load(&w->running);
		int64_t t = now_ns();

		if (poll && !polled && t - last_poll > 200 * 1000000LL) {
			last_poll = t;
			polled = poll(b, ud);
		}
		if (bound >= expect && running >= expect && polled)
			return;
		if (bound + running != last) {
			last = bound + running;
			last_progress = t;
		}
		if (secs(t - last_progress) > b->opt.stall_s) {
			warn("%s: no progress for %.0f s: %zu of %zu bound, %zu Running; going on",
			     wave, b->opt.stall_s, bound, expect, running);
			return;
		}
		if (w->gone) {
			warn("%s: the watch was answered 410 Gone: its numbers are incomplete",
			     wave);
			return;
		}
		if (t - last_print >= PROGRESS_EVERY_NS) {
			last_print = t;
			printf("    %-10s %zu/%zu bound, %zu Running (load %.2f)\n", wave, bound,
			       expect, running, load1());
			fflush(stdout);
			check_alive(b, wave);
		}
		sleep_ms(10);
	}
}

/* ---- analysing a wave ----------------------------------------------------- */

static int cmp_node(const void *a, const void *b)
{
	long x = ((const struct pod *)a)->count, y = ((const struct pod *)b)->count;

	return (x > y) - (x < y);
}

/* The per-pod analysis of a wave. origin(p) is when the pod's clock starts:
 * its create request, or (Deployment) its first appearance, or (backlog)
 * the scheduler's release. */
static void analyse_wave(struct bench *b, json_t *o, struct podtab *tab, int64_t t0,
			 int64_t release, size_t target, const char *csv_name)
{
	struct samples to_bound = { 0 }, to_running = { 0 }, bound_at = { 0 };
	size_t n = 0, bound = 0, running = 0, seconds, max_backlog = 0;
	int64_t last_created = 0, last_bound = 0, last_running = 0, first_bound = 0;
	size_t *c_created, *c_bound, *c_running;
	struct podtab nodes = { 0 };
	json_t *timeline = json_array();
	double peak = 0;
	FILE *csv = NULL;

	if (b->opt.per_pod_dir && csv_name) {
		_cleanup_free_ char *path = xasprintf("%s/%s.csv", b->opt.per_pod_dir, csv_name);

		csv = fopen(path, "we");
		if (!csv)
			warn("cannot write %s: %s", path, strerror(errno));
		else
			fputs("name,sent_ms,acked_ms,added_ms,bound_ms,running_ms,node\n", csv);
	}
	for (size_t i = 0; i < tab->n; i++) {
		struct pod *p = &tab->v[i];
		int64_t created = p->acked ? p->acked : p->added;
		int64_t origin = release ? release : p->sent ? p->sent : p->added;

		if (!created && !p->bound)
			continue; /* never made */
		n++;
		if (created > last_created)
			last_created = created;
		if (p->bound) {
			bound++;
			samples_add(&bound_at, p->bound - t0);
			if (p->bound > last_bound)
				last_bound = p->bound;
			if (!first_bound || p->bound < first_bound)
				first_bound = p->bound;
			if (origin)
				samples_add(&to_bound, p->bound - origin);
			if (p->node)
				podtab_get(&nodes, p->node, strlen(p->node))->count++;
		}
		if (p->running) {
			running++;
			if (p->running > last_running)
				last_running = p->running;
			if (origin)
				samples_add(&to_running, p->running - origin);
		}
		if (csv)
			fprintf(csv, "%s,%.3f,%.3f,%.3f,%.3f,%.3f,%s\n", p->name,
				p->sent ? (double)(p->sent - t0) / 1e6 : NAN,
				p->acked ? (double)(p->acked - t0) / 1e6 : NAN,
				p->added ? (double)(p->added - t0) / 1e6 : NAN,
				p->bound ? (double)(p->bound - t0) / 1e6 : NAN,
				p->running ? (double)(p->running - t0) / 1e6 : NAN,
				p->node ? p->node : "");
	}
	if (csv)
		fclose(csv);

	/* Per-second buckets from t0: the timeline, the peak rate, the backlog. */
	seconds = (size_t)(secs((last_running > last_bound ? last_running : last_bound) - t0)) + 2;
	if (seconds > 100000)
		seconds = 100000;
	c_created = xcalloc(seconds, sizeof(size_t));
	c_bound = xcalloc(seconds, sizeof(size_t));
	c_running = xcalloc(seconds, sizeof(size_t));
	for (size_t i = 0; i < tab->n; i++) {
		struct pod *p = &tab->v[i];
		int64_t created = p->acked ? p->acked : p->added;
		const int64_t at[3] = { created, p->bound, p->running };
		size_t *const into[3] = { c_created, c_bound, c_running };

		for (int k = 0; k < 3; k++) {
			size_t s;

			if (!at[k])
				continue;
			s = at[k] < t0 ? 0 : (size_t)((at[k] - t0) / 1000000000LL);
			into[k][s < seconds ? s : seconds - 1]++;
		}
	}
	for (size_t s = 0, cc = 0, cb = 0, cr = 0; s < seconds; s++) {
		cc += c_created[s];
		cb += c_bound[s];
		cr += c_running[s];
		if ((double)c_bound[s] > peak)
			peak = (double)c_bound[s];
		if (cc > cb && cc - cb > max_backlog)
			max_backlog = cc - cb;
		json_array_append_new(timeline,
				      json_pack("[I, I, I, I]", (json_int_t)s + 1, (json_int_t)cc,
						(json_int_t)cb, (json_int_t)cr));
	}
	free(c_created);
	free(c_bound);
	free(c_running);

	/* Sustained rate: the middle 80% of the bindings. */
	{
		double sustained = NAN;

		if (bound_at.n >= 10) {
			size_t lo = bound_at.n / 10, hi = bound_at.n - 1 - bound_at.n / 10;
			int64_t span;

			qsort(bound_at.v, bound_at.n, sizeof(*bound_at.v), cmp_i64);
			span = bound_at.v[hi] - bound_at.v[lo];
			if (span > 0)
				sustained = (double)(hi - lo) / secs(span);
		}
		json_object_set_new(o, "sustained_bound_per_s", jreal(sustained));
	}
	qsort(nodes.v, nodes.n, sizeof(*nodes.v), cmp_node);

	json_object_set_new(o, "target", json_integer((json_int_t)target));
	json_object_set_new(o, "pods", json_integer((json_int_t)n));
	json_object_set_new(o, "bound", json_integer((json_int_t)bound));
	json_object_set_new(o, "running", json_integer((json_int_t)running));
	json_object_set_new(o, "all_created_s",
			    last_created && n ? jreal(secs(last_created - t0)) : json_null());
	json_object_set_new(o, "all_bound_s",
			    bound == n && n ? jreal(secs(last_bound - t0)) : json_null());
	json_object_set_new(o, "all_running_s",
			    running == n && n ? jreal(secs(last_running - t0)) : json_null());
	json_object_set_new(o, "last_bound_s",
			    last_bound ? jreal(secs(last_bound - t0)) : json_null());
	json_object_set_new(o, "first_bound_s",
			    first_bound ? jreal(secs(first_bound - t0)) : json_null());
	json_object_set_new(o, "bound_per_s",
			    last_bound > t0 ? jreal((double)bound / secs(last_bound - t0))
					    : json_null());
	/* From the first binding on: the scheduler's rate once it has work. */
	json_object_set_new(o, "binding_per_s",
			    last_bound > first_bound && bound > 1
				? jreal((double)(bound - 1) / secs(last_bound - first_bound))
				: json_null());
	json_object_set_new(o, "running_per_s",
			    last_running > t0 ? jreal((double)running / secs(last_running - t0))
					      : json_null());
	json_object_set_new(o, "peak_bound_per_s", json_real(peak));
	json_object_set_new(o, "max_unbound", json_integer((json_int_t)max_backlog));
	json_object_set_new(o, "to_bound", samples_json(&to_bound));
	json_object_set_new(o, "to_running", samples_json(&to_running));
	json_object_set_new(o, "pods_per_node",
			    json_pack("{s:I, s:I, s:I}", "nodes", (json_int_t)nodes.n, "min",
				      (json_int_t)(nodes.n ? nodes.v[0].count : 0), "max",
				      (json_int_t)(nodes.n ? nodes.v[nodes.n - 1].count : 0)));
	json_object_set_new(o, "timeline", timeline);
	samples_release(&to_bound);
	samples_release(&to_running);
	samples_release(&bound_at);
	podtab_release(&nodes);
}

static void create_namespace(struct bench *b, const char *ns)
{
	_cleanup_free_ char *url = url_of(b, "/api/v1/namespaces");
	_cleanup_free_ char *body = xasprintf(
	    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\"}}", ns);
	long status = client_request(&b->ctl, "POST", url, body);

	if (status != 201 && status != 409)
		die("POST %s: HTTP %ld: %.300s", url, status, b->ctl.body.p ? b->ctl.body.p : "");
}

static void fill_names(struct podtab *tab, const char *prefix, size_t from, size_t count)
{
	char name[64];

	for (size_t i = from; i < from + count; i++) {
		int n = snprintf(name, sizeof(name), "%s-%07zu", prefix, i);

		podtab_add(tab, name, (size_t)n);
	}
}

/* A wave of bare pods: create `count` of them in the wave's namespace, wait
 * until they are bound and Running. Backlog: the scheduler is held off
 * while they are created and let go afterwards. */
static void run_bare_wave(struct bench *b, enum wave_kind k, size_t count, double time_limit_s,
			  json_t **ret_wave, struct podtab *ret_tab)
{
	const char *ns = wave_ns[k];
	_cleanup_free_ char *path = xasprintf("/api/v1/namespaces/%s/pods", ns);
	json_t *o = json_object(), *mem_before;
	struct create_result cr;
	struct watcher w;
	struct cpu_mark m0, m1, mr = { 0 };
	uint64_t rv, rev0;
	int64_t release = 0, t0;

	printf("  %s: %zu pods in namespace %s\n", wave_name[k], count, ns);
	fflush(stdout);
	create_namespace(b, ns);
	fill_names(ret_tab, wave_name[k], 0, count);
	collection_count(b, path, &rv);
	watcher_start(&w, b, path, rv, ret_tab, false);
	json_object_set_new(o, "load_average_start", loadavg_json());
	mem_before = mem_json(b);
	rev0 = store_revision(b);
	m0 = cpu_mark(b);
	create_pods(b, ret_tab, 0, count, ns, wave_name[k],
		    time_limit_s > 0 ? now_ns() + (int64_t)(time_limit_s * 1e9) : 0, &w, &cr);
	t0 = cr.first_sent;
	json_object_set_new(o, "create",
			    json_pack("{s:I, s:I, s:f, s:f, s:o, s:b, s:s?}", "created",
				      (json_int_t)cr.created, "errors", (json_int_t)cr.errors,
				      "seconds", secs(cr.last_acked - cr.first_sent), "per_s",
				      cr.last_acked > cr.first_sent
					  ? (double)cr.created / secs(cr.last_acked - cr.first_sent)
					  : 0.0,
				      "latency", samples_json(&cr.lat), "stopped_by_time_limit",
				      cr.stopped, "first_error", cr.first_error));
	if (k == WAVE_BACKLOG) {
		/* Every pod is in the scheduler's informer before it is let go. */
		for (int64_t until = now_ns() + 60 * 1000000000LL;
		     atomic_load(&w.added) < cr.created && now_ns() < until;)
			sleep_ms(10);
		if (atomic_load(&w.bound) > 0)
			warn("backlog: %zu pods were bound while the scheduler was held off",
			     atomic_load(&w.bound));
		{
			_cleanup_free_ char *url =
			    url_of(b, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
				      "kube-scheduler");
			_cleanup_json_ json_t *lease = ctl_json(b, "GET", url, NULL, 200);
			_cleanup_free_ char *body = NULL;
			json_t *spec = json_object_get(lease, "spec");

			json_object_set_new(spec, "holderIdentity", json_string(""));
			body = json_dumps(lease, JSON_COMPACT);
			mr = cpu_mark(b);
			release = now_ns();
			json_decref(ctl_json(b, "PUT", url, body, 200));
			printf("    backlog    %zu pods pending; scheduler let go after %.1f s\n",
			       cr.created, secs(release - t0));
			fflush(stdout);
		}
		t0 = release;
	}
	samples_release(&cr.lat);
	free(cr.first_error);
	wait_wave(b, wave_name[k], &w, cr.created, NULL, NULL);
	m1 = cpu_mark(b);
	watcher_stop(&w);
	json_object_set_new(o, "load_average_end", loadavg_json());
	json_object_set_new(o, "cpu", cpu_json(&m0, &m1));
	if (release) {
		/* Creating the backlog, and binding it (with the agents' status updates). */
		json_object_set_new(o, "cpu_creating", cpu_json(&m0, &mr));
		json_object_set_new(o, "cpu_binding", cpu_json(&mr, &m1));
	}
	json_object_set_new(o, "store_revisions",
			    json_integer((json_int_t)(store_revision(b) - rev0)));
	json_object_set_new(o, "memory_before", mem_before);
	json_object_set_new(o, "memory_after", mem_json(b));
	json_object_set_new(o, "watch_reconnects", json_integer((json_int_t)w.reconnects));
	json_object_set_new(
	    o, "clock_starts",
	    json_string(k == WAVE_BACKLOG ? "scheduler let go" : "first create sent"));
	analyse_wave(b, o, ret_tab, t0, release, count, wave_name[k]);
	*ret_wave = o;
}

/* ---- the Deployment ----------------------------------------------------- */

struct deploy_poll {
	char *url;
	size_t replicas;
	int64_t ready_at;
	long ready, available, updated;
};

static bool deployment_ready(struct bench *b, void *ud)
{
	struct deploy_poll *d = ud;
	_cleanup_json_ json_t *dep = NULL;

	if (client_request(&b->ctl, "GET", d->url, NULL) != 200)
		return false;
	dep = json_loadb(b->ctl.body.p, b->ctl.body.len, 0, NULL);
	d->ready = (long)jnum(dep, "status.readyReplicas");
	d->available = (long)jnum(dep, "status.availableReplicas");
	d->updated = (long)jnum(dep, "status.updatedReplicas");
	if (d->ready >= (long)d->replicas && !d->ready_at)
		d->ready_at = now_ns();
	return d->ready_at != 0;
}

#define DEPLOYMENT_JSON                                                                       \
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"         \
	"\"sched-bench\"},\"spec\":{\"replicas\":%zu,\"selector\":{\"matchLabels\":{\"app\":" \
	"\"sched-bench-deploy\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":"           \
	"\"sched-bench-deploy\"}},\"spec\":{\"containers\":[{\"name\":\"app\",\"image\":"     \
	"\"registry.example.com/sched-bench/app:1.0\",\"resources\":{\"requests\":{\"cpu\":"  \
	"\"%s\",\"memory\":\"%s\"}}}],\"terminationGracePeriodSeconds\":0}}}}"

static json_t *run_deployment(struct bench *b, size_t replicas)
{
	const char *ns = wave_ns[WAVE_DEPLOYMENT];
	_cleanup_free_ char *path = xasprintf("/api/v1/namespaces/%s/pods", ns);
	_cleanup_free_ char *coll =
	    xasprintf("%s/apis/apps/v1/namespaces/%s/deployments", b->opt.server, ns);
	_cleanup_free_ char *body =
	    xasprintf(DEPLOYMENT_JSON, replicas, b->opt.pod_cpu, b->opt.pod_memory);
	struct deploy_poll d = { .replicas = replicas };
	json_t *o = json_object(), *mem_before;
	struct podtab tab = { 0 };
	struct watcher w;
	struct cpu_mark m0, m1;
	uint64_t rv, rev0;
	int64_t t0;
	long status;

	printf("  deployment: %zu replicas in namespace %s\n", replicas, ns);
	fflush(stdout);
	create_namespace(b, ns);
	d.url = xasprintf("%s/sched-bench", coll);
	collection_count(b, path, &rv);
	watcher_start(&w, b, path, rv, &tab, true);
	json_object_set_new(o, "load_average_start", loadavg_json());
	mem_before = mem_json(b);
	rev0 = store_revision(b);
	m0 = cpu_mark(b);
	t0 = now_ns();
	status = client_request(&b->ctl, "POST", coll, body);
	if (status != 201)
		die("POST %s: HTTP %ld: %.300s", coll, status, b->ctl.body.p ? b->ctl.body.p : "");
	wait_wave(b, "deployment", &w, replicas, deployment_ready, &d);
	m1 = cpu_mark(b);
	watcher_stop(&w);
	json_object_set_new(o, "load_average_end", loadavg_json());
	json_object_set_new(o, "replicas", json_integer((json_int_t)replicas));
	json_object_set_new(o, "ready_replicas", json_integer(d.ready));
	json_object_set_new(o, "available_replicas", json_integer(d.available));
	json_object_set_new(o, "all_ready_s",
			    d.ready_at ? json_real(secs(d.ready_at - t0)) : json_null());
	json_object_set_new(o, "cpu", cpu_json(&m0, &m1));
	json_object_set_new(o, "store_revisions",
			    json_integer((json_int_t)(store_revision(b) - rev0)));
	json_object_set_new(o, "memory_before", mem_before);
	json_object_set_new(o, "memory_after", mem_json(b));
	json_object_set_new(o, "watch_reconnects", json_integer((json_int_t)w.reconnects));
	json_object_set_new(o, "clock_starts", json_string("Deployment create sent"));
	analyse_wave(b, o, &tab, t0, 0, replicas, "deployment");
	podtab_release(&tab);
	free(d.url);
	return o;
}

/* ---- the hold ------------------------------------------------------------- */

/* Sizes of the files in DATA_DIR/db, and their total. */
static json_t *db_json(const struct bench *b, long long *ret_total)
{
	_cleanup_free_ char *dir = xasprintf("%s/db", b->opt.data_dir);
	json_t *files = json_object();
	long long total = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d) {
		*ret_total = -1;
		json_decref(files);
		return json_null();
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		json_object_set_new(files, de->d_name, json_integer((json_int_t)st.st_size));
		total += st.st_size;
	}
	closedir(d);
	*ret_total = total;
	return json_pack("{s:I, s:o}", "total_bytes", (json_int_t)total, "files", files);
}

static size_t count_substr(const char *s, size_t len, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	const char *p = s, *end = s + len;

	while (p < end && (p = memmem(p, (size_t)(end - p), needle, nl))) {
		n++;
		p += nl;
	}
	return n;
}

/* The "continue" token of a list response, or NULL on its last page. */
static char *parse_continue(const char *body)
{
	static const char key[] = "\"continue\":\"";
	const char *items = body ? strstr(body, "\"items\":") : NULL;
	const char *p = body ? strstr(body, key) : NULL;
	const char *end;

	/* The list's metadata comes before its items. */
	if (!p || (items && p > items))
		return NULL;
	p += sizeof(key) - 1;
	end = strchr(p, '"');
	if (!end || end == p)
		return NULL;
	return xstrndup(p, (size_t)(end - p));
}

/* The checks of a cluster holding every pod: answers to lists, GETs and
 * watches, the nodes' health, memory and the database on disk. */
static json_t *run_hold(struct bench *b, struct podtab *names, json_t *before, size_t target)
{
	json_t *o = json_object(), *lists = json_array();
	struct samples first_page = { 0 }, pages = { 0 }, gets = { 0 }, p_added = { 0 },
		       p_bound = { 0 }, p_running = { 0 };
	long long db_total = 0;
	uint64_t rv, rng = 0x9e3779b97f4a7c15ULL;
	long pods_total, status;
	size_t probe_missing = 0, items = 0, n_pages = 0;
	struct podtab probes = { 0 };
	struct watcher w;
	int64_t t, t_all;
	bool ok = true, complete = false;

	printf("  hold: checks with every pod in place\n");
	fflush(stdout);
	pods_total = collection_count(b, "/api/v1/pods", &rv);
	json_object_set_new(o, "pods", json_integer(pods_total));
	json_object_set_new(o, "target", json_integer((json_int_t)target));
	json_object_set_new(o, "load_average", loadavg_json());
	json_object_set_new(o, "memory", mem_json(b));
	json_object_set_new(o, "db", db_json(b, &db_total));

	/* Full lists, all namespaces, as an informer's first list does it. */
	b->ctl.discard = true;
	for (int i = 0; i < 3; i++) {
		_cleanup_free_ char *url = url_of(b, "/api/v1/pods");

		t = now_ns();
		status = client_request(&b->ctl, "GET", url, NULL);
		t = now_ns() - t;
		if (status != 200) {
			warn("hold: full list of pods: HTTP %ld %s", status, b->ctl.errbuf);
			ok = false;
		}
		json_array_append_new(lists, json_pack("{s:I, s:f, s:I}", "status",
						       (json_int_t)status, "seconds", secs(t),
						       "bytes", (json_int_t)b->ctl.bytes));
	}
	b->ctl.discard = false;
	json_object_set_new(o, "full_list", lists);

	/* Pages of 500, following continue tokens, as kubectl --chunk-size does;
	 * at most PAGED_LIST_MAX_S. */
	t_all = now_ns();
	for (char *cont = NULL;;) {
		_cleanup_free_ char *esc = cont ? curl_easy_escape(b->ctl.curl, cont, 0) : NULL;
		_cleanup_free_ char *url =
		    cont ? xasprintf("%s/api/v1/pods?limit=%d&continue=%s", b->opt.server,
				     LIST_PAGE_SIZE, esc)
			 : xasprintf("%s/api/v1/pods?limit=%d", b->opt.server, LIST_PAGE_SIZE);
		bool first = !cont;

		free(cont);
		t = now_ns();
		status = client_request(&b->ctl, "GET", url, NULL);
		samples_add(first ? &first_page : &pages, now_ns() - t);
		if (status != 200) {
			warn("hold: paged list: HTTP %ld %s", status, b->ctl.errbuf);
			ok = false;
			break;
		}
		n_pages++;
		items += count_substr(b->ctl.body.p, b->ctl.body.len, "\"kind\":\"Pod\"");
		cont = parse_continue(b->ctl.body.p);
		if (!cont) {
			complete = true;
			break;
		}
		if (secs(now_ns() - t_all) > PAGED_LIST_MAX_S) {
			free(cont);
			break;
		}
	}
	json_object_set_new(
	    o, "paged_list",
	    json_pack("{s:f, s:I, s:I, s:b, s:o, s:o}", "seconds", secs(now_ns() - t_all), "pages",
		      (json_int_t)n_pages, "items", (json_int_t)items, "complete", complete,
		      "first_page", samples_json(&first_page), "next_pages", samples_json(&pages)));
	if (!complete && ok)
		warn("hold: the paged list stopped after %d s: %zu of %ld pods in %zu pages",
		     PAGED_LIST_MAX_S, items, pods_total, n_pages);

	/* Nodes: how many are still Ready, and how long their list takes. */
	{
		_cleanup_free_ char *url = url_of(b, "/api/v1/nodes");
		_cleanup_json_ json_t *list = NULL;
		size_t ready = 0, i;
		json_t *node;

		t = now_ns();
		status = client_request(&b->ctl, "GET", url, NULL);
		t = now_ns() - t;
		list = status == 200 ? json_loadb(b->ctl.body.p, b->ctl.body.len, 0, NULL) : NULL;
		json_array_foreach(json_object_get(list, "items"), i, node)
		{
			size_t j;
			json_t *c;

			json_array_foreach(jpath(node, "status.conditions"), j, c)
			{
				const char *type = json_string_value(json_object_get(c, "type"));
				const char *st = json_string_value(json_object_get(c, "status"));

				if (type && st && !strcmp(type, "Ready") && !strcmp(st, "True"))
					ready++;
			}
		}
		json_object_set_new(
		    o, "nodes",
		    json_pack("{s:I, s:I, s:f, s:I}", "total",
			      (json_int_t)json_array_size(json_object_get(list, "items")), "ready",
			      (json_int_t)ready, "list_seconds", secs(t), "list_bytes",
			      (json_int_t)b->ctl.bytes));
		if ((int)ready < b->opt.nodes)
			warn("hold: only %zu of %d nodes are Ready", ready, b->opt.nodes);
	}

	/* GETs of single pods. */
	for (int i = 0, tries = 0; i < HOLD_GETS && names->n && tries < 100 * HOLD_GETS; tries++) {
		struct pod *p = &names->v[xorshift64(&rng) % names->n];
		_cleanup_free_ char *url = NULL;
		const char *ns = NULL;

		if (!p->acked)
			continue;
		i++;
		for (int k = 0; k < WAVE_MAX; k++)
			if (!strncmp(p->name, wave_name[k], strlen(wave_name[k])))
				ns = wave_ns[k];
		url = xasprintf("%s/api/v1/namespaces/%s/pods/%s", b->opt.server, ns ? ns : "x",
				p->name);
		t = now_ns();
		status = client_request(&b->ctl, "GET", url, NULL);
		if (status == 200)
			samples_add(&gets, now_ns() - t);
	}
	json_object_set_new(o, "get_latency", samples_json(&gets));

	/* A new watch over every pod, then pods created one at a time: how soon
	 * each shows up on it, is bound and Running. */
	create_namespace(b, "sb-probe");
	fill_names(&probes, "probe", 0, PROBES);
	collection_count(b, "/api/v1/pods", &rv);
	t = now_ns();
	watcher_start(&w, b, "/api/v1/pods", rv, &probes, false);
	json_object_set_new(o, "watch_open_ms", json_real((double)(w.established_ns - t) / 1e6));
	for (size_t i = 0; i < probes.n; i++) {
		struct pod *p = &probes.v[i];
		_cleanup_free_ char *url = url_of(b, "/api/v1/namespaces/sb-probe/pods");
		_cleanup_free_ char *body =
		    xasprintf(POD_JSON, p->name, "probe", b->opt.pod_cpu, b->opt.pod_memory);
		int64_t until;

		p->sent = now_ns();
		status = client_request(&b->ctl, "POST", url, body);
		if (status != 201) {
			warn("hold: probe %s: HTTP %ld %s", p->name, status, b->ctl.errbuf);
			probe_missing++;
			continue;
		}
		for (until = now_ns() + 30 * 1000000000LL; !p->running && now_ns() < until;)
			sleep_ms(1);
		if (!p->added || !p->bound || !p->running)
			probe_missing++;
	}
	watcher_stop(&w);
	for (size_t i = 0; i < probes.n; i++) {
		struct pod *p = &probes.v[i];

		if (p->added)
			samples_add(&p_added, p->added - p->sent);
		if (p->bound)
			samples_add(&p_bound, p->bound - p->sent);
		if (p->running)
			samples_add(&p_running, p->running - p->sent);
	}
	json_object_set_new(o, "probe",
			    json_pack("{s:I, s:I, s:o, s:o, s:o}", "pods", (json_int_t)probes.n,
				      "missing", (json_int_t)probe_missing, "to_watch_event",
				      samples_json(&p_added), "to_bound", samples_json(&p_bound),
				      "to_running", samples_json(&p_running)));
	if (probe_missing)
		ok = false;
	json_object_set_new(o, "answers", json_boolean(ok));

	/* Below the target: a straight line from before the fill to now. */
	{
		double pods0 = jnum(before, "pods"), rss0 = jnum(before, "memory.server.rss_kb");
		double db0 = jnum(before, "db.total_bytes");
		double rss1 = jnum(o, "memory.server.rss_kb"), db1 = (double)db_total;
		double added = (double)pods_total - pods0;
		json_t *l0 = json_array_get(json_object_get(o, "full_list"), 0);
		bool extrapolated = pods_total < (long)target;

		json_object_set_new(o, "extrapolated", json_boolean(extrapolated));
		if (added > 0) {
			double rss_pp = (rss1 - rss0) * 1024.0 / added, db_pp = (db1 - db0) / added;
			double more = (double)target - (double)pods_total;

			json_object_set_new(o, "per_pod",
					    json_pack("{s:f, s:f, s:f}", "server_rss_bytes", rss_pp,
						      "db_bytes", db_pp, "measured_over_pods",
						      added));
			if (extrapolated)
				json_object_set_new(
				    o, "extrapolation",
				    json_pack("{s:s, s:I, s:f, s:f, s:f}", "note",
					      "a straight line from the fill's start to its end, "
					      "not measured",
					      "pods", (json_int_t)target, "server_rss_kb",
					      rss1 + rss_pp * more / 1024.0, "db_bytes",
					      db1 + db_pp * more, "full_list_s",
					      jnum(l0, "seconds") * (double)target /
						  (double)pods_total));
		}
	}
	samples_release(&first_page);
	samples_release(&pages);
	samples_release(&gets);
	samples_release(&p_added);
	samples_release(&p_bound);
	samples_release(&p_running);
	podtab_release(&probes);
	return o;
}

/* ---- nodes ------------------------------------------------------------- */

/* Waits (bounded) until the cluster has the expected number of Ready nodes. */
static json_t *wait_nodes(struct bench *b)
{
	int64_t t0 = now_ns(), deadline = t0 + (int64_t)(b->opt.node_timeout_s * 1e9);
	int64_t registered = 0, last_print = t0;
	long count = 0;
	size_t ready = 0;

	printf("  nodes: waiting for %d\n", b->opt.nodes);
	fflush(stdout);
	for (;;) {
		count = collection_count(b, "/api/v1/nodes", NULL);
		if (count >= b->opt.nodes) {
			registered = now_ns();
			break;
		}
		if (now_ns() > deadline)
			die("only %ld of %d nodes registered after %.0f s", count, b->opt.nodes,
			    b->opt.node_timeout_s);
		if (now_ns() - last_print >= PROGRESS_EVERY_NS) {
			last_print = now_ns();
			printf("    nodes      %ld/%d registered (load %.2f)\n", count,
			       b->opt.nodes, load1());
			fflush(stdout);
		}
		check_alive(b, "node registration");
		sleep_ms(500);
	}
	for (;;) {
		_cleanup_free_ char *url = url_of(b, "/api/v1/nodes");
		_cleanup_json_ json_t *list = ctl_json(b, "GET", url, NULL, 200);
		json_t *node;
		size_t i;

		ready = 0;
		json_array_foreach(json_object_get(list, "items"), i, node)
		{
			size_t j;
			json_t *c;

			json_array_foreach(jpath(node, "status.conditions"), j, c)
			{
				const char *type = json_string_value(json_object_get(c, "type"));
				const char *st = json_string_value(json_object_get(c, "status"));

				if (type && st && !strcmp(type, "Ready") && !strcmp(st, "True"))
					ready++;
			}
		}
		if ((int)ready >= b->opt.nodes)
			break;
		if (now_ns() > deadline)
			die("only %zu of %d nodes Ready after %.0f s", ready, b->opt.nodes,
			    b->opt.node_timeout_s);
		check_alive(b, "node registration");
		sleep_ms(1000);
	}
	printf("    nodes      %zu Ready, %.1f s after the agents started\n", ready,
	       secs(now_ns() - b->start_ns));
	fflush(stdout);
	return json_pack("{s:I, s:I, s:f, s:f}", "registered", (json_int_t)count, "ready",
			 (json_int_t)ready, "registered_s", secs(registered - b->start_ns),
			 "ready_s", secs(now_ns() - b->start_ns));
}

/* True when the scheduler's lease is held by bench/scheduler/run. */
static bool scheduler_held(struct bench *b)
{
	_cleanup_free_ char *url =
	    url_of(b, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/kube-scheduler");
	_cleanup_json_ json_t *lease = NULL;
	const char *holder;

	if (client_request(&b->ctl, "GET", url, NULL) != 200)
		return false;
	lease = json_loadb(b->ctl.body.p, b->ctl.body.len, 0, NULL);
	holder = json_string_value(jpath(lease, "spec.holderIdentity"));
	return holder && !strcmp(holder, HOLD_HOLDER);
}

/* ---- report -------------------------------------------------------------- */

static void fmt_num(char *out, size_t size, double v, int decimals)
{
	if (isfinite(v))
		snprintf(out, size, "%.*f", decimals, v);
	else
		snprintf(out, size, "-");
}

static double mib(double kb)
{
	return kb / 1024.0;
}

static void print_wave_header(void)
{
	printf("  %-6s %-10s %7s %8s %8s %8s %8s %9s %9s %9s %9s %9s %8s\n", "nodes", "wave",
	       "pods", "create/s", "bound/s", "sustain", "peak/s", "all bound", "all Run",
	       "bound p50", "bound p99", "Run p99", "unbound");
	printf("  %-6s %-10s %7s %8s %8s %8s %8s %9s %9s %9s %9s %9s %8s\n", "", "", "", "", "", "",
	       "", "s", "s", "ms", "ms", "ms", "max");
}

static void print_wave_row(const json_t *run, const char *wave, const json_t *o)
{
	char c[7][24];

	fmt_num(c[0], sizeof(c[0]), jnum(o, "create.per_s"), 0);
	fmt_num(c[1], sizeof(c[1]),
		!strcmp(wave, "backlog") ? jnum(o, "binding_per_s") : jnum(o, "bound_per_s"), 0);
	fmt_num(c[2], sizeof(c[2]), jnum(o, "sustained_bound_per_s"), 0);
	fmt_num(c[3], sizeof(c[3]), jnum(o, "all_bound_s"), 1);
	fmt_num(c[4], sizeof(c[4]), jnum(o, "all_running_s"), 1);
	fmt_num(c[5], sizeof(c[5]), jnum(o, "to_bound.p50_ms"), 0);
	fmt_num(c[6], sizeof(c[6]), jnum(o, "to_bound.p99_ms"), 0);
	printf("  %-6.0f %-10s %7.0f %8s %8s %8s %8.0f %9s %9s %9s %9s", jnum(run, "config.nodes"),
	       wave, jnum(o, "pods"), c[0], c[1], c[2], jnum(o, "peak_bound_per_s"), c[3], c[4],
	       c[5], c[6]);
	fmt_num(c[0], sizeof(c[0]), jnum(o, "to_running.p99_ms"), 0);
	printf(" %9s %8.0f\n", c[0], jnum(o, "max_unbound"));
}

static void print_usage_row(const json_t *run, const char *wave, const json_t *o)
{
	double pods = jnum(o, "pods");

	printf("  %-6.0f %-10s %7.1f %7.1f %7.1f %7.1f %5.0f%% %7.2f %7.2f %6.1f %8.0f %8.0f %8.0f "
	       "%8.0f %6.2f\n",
	       jnum(run, "config.nodes"), wave, jnum(o, "cpu.wall_s"), jnum(o, "cpu.server_cpu_s"),
	       jnum(o, "cpu.agents_cpu_s"), jnum(o, "cpu.client_cpu_s"), jnum(o, "cpu.other_pct"),
	       1000 * jnum(o, "cpu.server_cpu_s") / pods, 1000 * jnum(o, "cpu.agents_cpu_s") / pods,
	       jnum(o, "store_revisions") / pods, mib(jnum(o, "memory_after.server.rss_kb")),
	       mib(jnum(o, "memory_after.server.hwm_kb")),
	       mib(jnum(o, "memory_after.agents.rss_kb")),
	       mib(jnum(o, "memory_after.agents.hwm_kb")),
	       jnum(json_array_get(json_object_get(o, "load_average_end"), 0), ""));
	if (json_object_get((json_t *)o, "cpu_binding"))
		printf("  %-6s %-10s %7.1f %7.1f %7.1f %7.1f %5.0f%% %7.2f %7.2f\n", "",
		       "  binding", jnum(o, "cpu_binding.wall_s"),
		       jnum(o, "cpu_binding.server_cpu_s"), jnum(o, "cpu_binding.agents_cpu_s"),
		       jnum(o, "cpu_binding.client_cpu_s"), jnum(o, "cpu_binding.other_pct"),
		       1000 * jnum(o, "cpu_binding.server_cpu_s") / pods,
		       1000 * jnum(o, "cpu_binding.agents_cpu_s") / pods);
}

static void print_hold(const json_t *run, const json_t *h)
{
	json_t *files = jpath((json_t *)h, "db.files");
	const char *k;
	json_t *v;

	printf("\n  hold: %.0f pods on %.0f nodes (target %.0f)%s\n", jnum(h, "pods"),
	       jnum(h, "nodes.total"), jnum(h, "target"),
	       json_is_true(json_object_get(h, "extrapolated")) ? " - target NOT reached" : "");
	printf("    server      RSS %.0f MiB, peak (VmHWM) %.0f MiB, %.0f threads; agents RSS %.0f "
	       "MiB\n",
	       mib(jnum(h, "memory.server.rss_kb")), mib(jnum(h, "memory.server.hwm_kb")),
	       jnum(h, "memory.server.threads"), mib(jnum(h, "memory.agents.rss_kb")));
	printf("    database    %.1f MiB on disk:", jnum(h, "db.total_bytes") / 1048576.0);
	json_object_foreach(files, k, v)
	    printf(" %s %.1f MiB", k, (double)json_integer_value(v) / 1048576.0);
	printf("\n");
	printf("    per pod     %.0f bytes of server RSS, %.0f bytes of database (over %.0f pods "
	       "added)\n",
	       jnum(h, "per_pod.server_rss_bytes"), jnum(h, "per_pod.db_bytes"),
	       jnum(h, "per_pod.measured_over_pods"));
	{
		json_t *l = json_object_get((json_t *)h, "full_list");
		size_t i;

		printf("    full list   of all pods:");
		json_array_foreach(l, i, v) printf(" %.2f s", jnum(v, "seconds"));
		printf(" (%.0f MiB each)\n", jnum(json_array_get(l, 0), "bytes") / 1048576.0);
	}
	printf("    paged list  %.0f pages of %d, %.0f items in %.2f s%s: first page %.1f ms, next "
	       "pages p50 %.1f ms, max %.1f ms\n",
	       jnum(h, "paged_list.pages"), LIST_PAGE_SIZE, jnum(h, "paged_list.items"),
	       jnum(h, "paged_list.seconds"),
	       json_is_true(jpath((json_t *)h, "paged_list.complete")) ? ""
								       : " (stopped: time limit)",
	       jnum(h, "paged_list.first_page.p50_ms"), jnum(h, "paged_list.next_pages.p50_ms"),
	       jnum(h, "paged_list.next_pages.max_ms"));
	printf("    nodes       %.0f of %.0f Ready; their list takes %.2f s\n",
	       jnum(h, "nodes.ready"), jnum(h, "nodes.total"), jnum(h, "nodes.list_seconds"));
	printf("    GET pod     p50 %.2f ms, p99 %.2f ms\n", jnum(h, "get_latency.p50_ms"),
	       jnum(h, "get_latency.p99_ms"));
	printf("    watch       a new watch of all pods opens in %.1f ms; %.0f pods created one "
	       "by one: event p50 %.1f ms / max %.1f ms, bound p50 %.1f ms, Running p50 %.1f ms "
	       "(max %.1f), %.0f missing\n",
	       jnum(h, "watch_open_ms"), jnum(h, "probe.pods"),
	       jnum(h, "probe.to_watch_event.p50_ms"), jnum(h, "probe.to_watch_event.max_ms"),
	       jnum(h, "probe.to_bound.p50_ms"), jnum(h, "probe.to_running.p50_ms"),
	       jnum(h, "probe.to_running.max_ms"), jnum(h, "probe.missing"));
	if (json_object_get((json_t *)h, "extrapolation"))
		printf("    EXTRAPOLATED to %.0f pods (a straight line, not measured): server RSS "
		       "~%.0f MiB, database ~%.0f MiB, full list ~%.1f s\n",
		       jnum(h, "extrapolation.pods"), mib(jnum(h, "extrapolation.server_rss_kb")),
		       jnum(h, "extrapolation.db_bytes") / 1048576.0,
		       jnum(h, "extrapolation.full_list_s"));
	(void)run;
}

/* The targets over one or more runs. */
static json_t *targets_json(json_t *runs)
{
	json_t *t = json_array(), *run;
	size_t i;
	bool held = false, hold_ran = false;
	double best_hold = 0;

	json_array_foreach(runs, i, run)
	{
		static const struct {
			const char *wave, *field, *what;
		} rates[] = {
			{ "backlog", "binding_per_s", "scheduler rate, backlog" },
			{ "pods", "bound_per_s", "bound/s end to end, pods" },
		};
		json_t *h = jpath(run, "waves.fill.hold");

		for (size_t r = 0; r < ELEMENTSOF(rates); r++) {
			json_t *w = jpath(json_object_get(run, "waves"), rates[r].wave);
			double v = jnum(w, rates[r].field);
			_cleanup_free_ char *name = NULL;

			if (!w)
				continue;
			name =
			    xasprintf("%s, %.0f nodes", rates[r].what, jnum(run, "config.nodes"));
			json_array_append_new(
			    t, json_pack("{s:s, s:s, s:s, s:f, s:o, s:o}", "name", name, "unit",
					 "pods/s", "rule", ">=", "target", TARGET_BOUND_PER_S,
					 "value", jreal(v), "pass",
					 isfinite(v) ? json_boolean(v >= TARGET_BOUND_PER_S)
						     : json_null()));
		}
		if (h) {
			double pods = jnum(h, "pods"), nodes = jnum(h, "nodes.total");

			hold_ran = true;
			if (pods > best_hold)
				best_hold = pods;
			if (pods >= TARGET_SCALE_PODS && nodes >= TARGET_SCALE_NODES &&
			    jnum(h, "nodes.ready") >= TARGET_SCALE_NODES &&
			    json_is_true(json_object_get(h, "answers")))
				held = true;
		}
	}
	if (hold_ran)
		json_array_append_new(
		    t, json_pack("{s:s, s:s, s:s, s:f, s:f, s:b}", "name",
				 "pods held on 5,000 nodes", "unit", "pods", "rule", ">=", "target",
				 (double)TARGET_SCALE_PODS, "value", best_hold, "pass", held));
	return t;
}

static void print_targets(json_t *t)
{
	json_t *x;
	size_t i;

	printf("\n  targets (informative):\n");
	json_array_foreach(t, i, x)
	{
		json_t *pass = json_object_get(x, "pass");
		const char *mark = json_is_true(pass)	 ? " ok "
				   : json_is_false(pass) ? "MISS"
							 : " -- ";
		double v = jnum(x, "value"), want = jnum(x, "target");

		printf("  [%s] %-40s %s %.0f %-6s got %.0f", mark,
		       json_string_value(json_object_get(x, "name")),
		       json_string_value(json_object_get(x, "rule")), want,
		       json_string_value(json_object_get(x, "unit")), v);
		if (json_is_false(pass) && v > 0)
			printf("  (%.1fx below)", want / v);
		printf("\n");
	}
}

static void print_runs(json_t *runs, json_t *targets)
{
	json_t *run, *w;
	const char *k;
	size_t i;

	printf("\n");
	print_wave_header();
	json_array_foreach(runs, i, run) json_object_foreach(json_object_get(run, "waves"), k, w)
	    print_wave_row(run, k, w);
	printf("\n  %-6s %-10s %7s %7s %7s %7s %6s %7s %7s %6s %8s %8s %8s %8s %6s\n", "nodes",
	       "wave", "wall", "srv cpu", "agt cpu", "cli cpu", "other", "srv cpu", "agt cpu",
	       "revs", "srv RSS", "srv HWM", "agt RSS", "agt HWM", "load");
	printf("  %-6s %-10s %7s %7s %7s %7s %6s %7s %7s %6s %8s %8s %8s %8s\n", "", "", "s", "s",
	       "s", "s", "", "ms/pod", "ms/pod", "/pod", "MiB", "MiB", "MiB", "MiB");
	json_array_foreach(runs, i, run) json_object_foreach(json_object_get(run, "waves"), k, w)
	    print_usage_row(run, k, w);
	json_array_foreach(runs, i, run)
	{
		json_t *h = jpath(run, "waves.fill.hold");

		if (h)
			print_hold(run, h);
	}
	print_targets(targets);
}

static void mkdir_parents(const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			die("cannot create %s: %s", p, strerror(errno));
		*s = '/';
	}
}

static void write_json(json_t *root, const char *path)
{
	mkdir_parents(path);
	if (json_dump_file(root, path, JSON_INDENT(1)) < 0)
		die("cannot write %s", path);
}

static json_t *host_json(void)
{
	struct utsname un;

	uname(&un);
	return json_pack("{s:s, s:s, s:I}", "hostname", un.nodename, "kernel", un.release, "cpus",
			 (json_int_t)sysconf(_SC_NPROCESSORS_ONLN));
}

static char *stamp(void)
{
	char s[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(s);
}

/* Prints runs and their targets, with a header naming the load. */
static void report(json_t *runs)
{
	_cleanup_json_ json_t *targets = targets_json(runs);
	json_t *run;
	size_t i;

	json_array_foreach(runs, i, run)
	{
		json_t *l0 = json_object_get(run, "load_average_start");

		printf(
		    "\nrun %zu: %.0f nodes (%.0f agent%s), %.0f clients, pod requests %s/%s; load "
		    "average at its start %.2f %.2f %.2f on %.0f CPUs\n",
		    i + 1, jnum(run, "config.nodes"), jnum(run, "config.agents"),
		    jnum(run, "config.agents") == 1 ? "" : "s", jnum(run, "config.clients"),
		    json_string_value(jpath(run, "config.pod_cpu")),
		    json_string_value(jpath(run, "config.pod_memory")),
		    jnum(json_array_get(l0, 0), ""), jnum(json_array_get(l0, 1), ""),
		    jnum(json_array_get(l0, 2), ""), jnum(run, "host.cpus"));
		printf("  nodes Ready %.1f s after the agents started; %s\n",
		       jnum(run, "nodes.ready_s"),
		       json_string_value(json_object_get(run, "note"))
			   ? json_string_value(json_object_get(run, "note"))
			   : "");
	}
	print_runs(runs, targets);
	fflush(stdout);
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs(
	    "Usage: sched_bench --server URL --kubeconfig-dir DIR --nodes N [options]\n"
	    "       sched_bench --combine --json OUT RUN.json...\n"
	    "\n"
	    "Benchmark the scheduler of a running c8s server whose nodes are simulated\n"
	    "(bench/scheduler/run starts the server and the agents for you).\n"
	    "\n"
	    "  --server URL           the server, e.g. https://127.0.0.1:6443\n"
	    "  --kubeconfig-dir DIR   the server's --data-dir: "
	    "DIR/tls/{ca.crt,admin.crt,admin.key}\n"
	    "  --data-dir DIR         where DIR/db is, for its size (default: --kubeconfig-dir)\n"
	    "  --server-pid PID       the server's PID, for memory and CPU (local servers only)\n"
	    "  --agent-pid PID        an agent's PID; repeatable\n"
	    "  --nodes N              wait for N Ready nodes first\n"
	    "  --backlog N            pods created while the scheduler is held off (default 0;\n"
	    "                         needs the lease held by " HOLD_HOLDER ")\n"
	    "  --pods N               bare pods created while the scheduler runs (default 30000)\n"
	    "  --deployment N         replicas of one Deployment (default 10000; 0: none)\n"
	    "  --scale-pods N         fill the cluster up to N pods, then the hold checks (0: "
	    "none)\n"
	    "  --scale-time-limit S   stop creating fill pods after S seconds (default 1200)\n"
	    "  --clients N            concurrent create connections (default 64)\n"
	    "  --stall-timeout S      stop waiting after S seconds without progress (default 120)\n"
	    "  --node-timeout S       wait at most S seconds for the nodes (default 600)\n"
	    "  --pod-cpu Q, --pod-memory Q  each pod's requests (default 50m, 64Mi)\n"
	    "  --per-pod-dir DIR      write DIR/<wave>.csv, one line per pod\n"
	    "  --json PATH            JSON results (default bench/results/scheduler.json)\n"
	    "  --note TEXT            stored in the JSON (run records the build)\n"
	    "  --combine              merge RUN.json files into --json and print them\n"
	    "  --help\n",
	    f);
}

static long parse_long(const char *opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		die("%s: \"%s\" is not a number from %ld to %ld", opt, s, min, max);
	return v;
}

static double parse_double(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || end == s || v < 0)
		die("%s: \"%s\" is not a number of seconds", opt, s);
	return v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_SERVER = 256,
		OPT_KUBECONFIG_DIR,
		OPT_DATA_DIR,
		OPT_SERVER_PID,
		OPT_AGENT_PID,
		OPT_NODES,
		OPT_BACKLOG,
		OPT_PODS,
		OPT_DEPLOYMENT,
		OPT_SCALE_PODS,
		OPT_SCALE_TIME_LIMIT,
		OPT_CLIENTS,
		OPT_STALL,
		OPT_NODE_TIMEOUT,
		OPT_POD_CPU,
		OPT_POD_MEMORY,
		OPT_PER_POD_DIR,
		OPT_JSON,
		OPT_NOTE,
		OPT_COMBINE,
		OPT_HELP,
	};
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "kubeconfig-dir", required_argument, NULL, OPT_KUBECONFIG_DIR },
		{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
		{ "server-pid", required_argument, NULL, OPT_SERVER_PID },
		{ "agent-pid", required_argument, NULL, OPT_AGENT_PID },
		{ "nodes", required_argument, NULL, OPT_NODES },
		{ "backlog", required_argument, NULL, OPT_BACKLOG },
		{ "pods", required_argument, NULL, OPT_PODS },
		{ "deployment", required_argument, NULL, OPT_DEPLOYMENT },
		{ "scale-pods", required_argument, NULL, OPT_SCALE_PODS },
		{ "scale-time-limit", required_argument, NULL, OPT_SCALE_TIME_LIMIT },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "stall-timeout", required_argument, NULL, OPT_STALL },
		{ "node-timeout", required_argument, NULL, OPT_NODE_TIMEOUT },
		{ "pod-cpu", required_argument, NULL, OPT_POD_CPU },
		{ "pod-memory", required_argument, NULL, OPT_POD_MEMORY },
		{ "per-pod-dir", required_argument, NULL, OPT_PER_POD_DIR },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "note", required_argument, NULL, OPT_NOTE },
		{ "combine", no_argument, NULL, OPT_COMBINE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	int c;

	*o = (struct options){
		.pods = 30000,
		.deployment = 10000,
		.clients = 64,
		.scale_time_limit_s = 1200,
		.stall_s = 120,
		.node_timeout_s = 600,
		.pod_cpu = "50m",
		.pod_memory = "64Mi",
		.json_path = "bench/results/scheduler.json",
	};
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SERVER:
			o->server = optarg;
			break;
		case OPT_KUBECONFIG_DIR:
			o->kubeconfig_dir = optarg;
			break;
		case OPT_DATA_DIR:
			o->data_dir = optarg;
			break;
		case OPT_SERVER_PID:
			o->server_pid = (pid_t)parse_long("--server-pid", optarg, 0, INT_MAX);
			break;
		case OPT_AGENT_PID:
			if (o->n_agents == MAX_AGENTS)
				die("--agent-pid: at most %d agents", MAX_AGENTS);
			o->agent_pids[o->n_agents++] =
			    (pid_t)parse_long("--agent-pid", optarg, 1, INT_MAX);
			break;
		case OPT_NODES:
			o->nodes = (int)parse_long("--nodes", optarg, 1, 100000);
			break;
		case OPT_BACKLOG:
			o->backlog = (size_t)parse_long("--backlog", optarg, 0, 10000000);
			break;
		case OPT_PODS:
			o->pods = (size_t)parse_long("--pods", optarg, 0, 10000000);
			break;
		case OPT_DEPLOYMENT:
			o->deployment = (size_t)parse_long("--deployment", optarg, 0, 10000000);
			break;
		case OPT_SCALE_PODS:
			o->scale_pods = (size_t)parse_long("--scale-pods", optarg, 0, 10000000);
			break;
		case OPT_SCALE_TIME_LIMIT:
			o->scale_time_limit_s = parse_double("--scale-time-limit", optarg);
			break;
		case OPT_CLIENTS:
			o->clients = (int)parse_long("--clients", optarg, 1, 1024);
			break;
		case OPT_STALL:
			o->stall_s = parse_double("--stall-timeout", optarg);
			break;
		case OPT_NODE_TIMEOUT:
			o->node_timeout_s = parse_double("--node-timeout", optarg);
			break;
		case OPT_POD_CPU:
			o->pod_cpu = optarg;
			break;
		case OPT_POD_MEMORY:
			o->pod_memory = optarg;
			break;
		case OPT_PER_POD_DIR:
			o->per_pod_dir = optarg;
			break;
		case OPT_JSON:
			o->json_path = optarg;
			break;
		case OPT_NOTE:
			o->note = optarg;
			break;
		case OPT_COMBINE:
			o->combine = true;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			exit(EXIT_FAILURE);
		}
	}
	if (o->combine)
		return;
	if (optind < argc)
		die("unexpected argument \"%s\" (see --help)", argv[optind]);
	if (!o->server || !o->kubeconfig_dir || !o->nodes)
		die("--server, --kubeconfig-dir and --nodes are required; bench/scheduler/run "
		    "starts a server and agents and passes them");
	if (!o->data_dir)
		o->data_dir = o->kubeconfig_dir;
}

/* --combine: runs written by separate invocations, in one file. */
static int combine(const struct options *o, int argc, char **argv)
{
	_cleanup_json_ json_t *root = json_object();
	json_t *runs = json_array();
	_cleanup_free_ char *now = stamp();

	for (int i = optind; i < argc; i++) {
		json_error_t err;
		json_t *run = json_load_file(argv[i], 0, &err);

		if (!run)
			die("%s: %s", argv[i], err.text);
		json_array_append_new(runs, run);
	}
	if (!json_array_size(runs))
		die("--combine: no runs given");
	json_object_set_new(root, "benchmark", json_string("scheduler"));
	json_object_set_new(root, "time", json_string(now));
	json_object_set_new(root, "host", host_json());
	json_object_set_new(root, "runs", runs);
	/* One run was printed as it ended; several get a summary. */
	if (json_array_size(runs) > 1) {
		printf("\n==== bench/scheduler: every run ====\n");
		report(runs);
	}
	json_object_set_new(root, "targets", targets_json(runs));
	write_json(root, o->json_path);
	printf("\nresults written to %s\n", o->json_path);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	struct podtab tabs[WAVE_MAX] = { { 0 } };
	_cleanup_free_ char *now = NULL;
	json_t *waves;
	struct stat st;

	parse_options(argc, argv, &b.opt);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		die("curl_global_init failed");
	if (b.opt.combine)
		return combine(&b.opt, argc, argv);

	b.start_ns = now_ns();
	b.ca = xasprintf("%s/tls/ca.crt", b.opt.kubeconfig_dir);
	b.cert = xasprintf("%s/tls/admin.crt", b.opt.kubeconfig_dir);
	b.key = xasprintf("%s/tls/admin.key", b.opt.kubeconfig_dir);
	if (stat(b.ca, &st) < 0 || stat(b.cert, &st) < 0 || stat(b.key, &st) < 0)
		die("%s/tls/{ca.crt,admin.crt,admin.key} not found: give the server's --data-dir "
		    "as --kubeconfig-dir",
		    b.opt.kubeconfig_dir);
	client_init(&b.ctl, &b);
	pool_init(&b);

	b.out = json_object();
	now = stamp();
	json_object_set_new(b.out, "benchmark", json_string("scheduler"));
	json_object_set_new(b.out, "time", json_string(now));
	json_object_set_new(b.out, "note", b.opt.note ? json_string(b.opt.note) : json_null());
	json_object_set_new(b.out, "host", host_json());
	json_object_set_new(b.out, "load_average_start", loadavg_json());
	{
		_cleanup_free_ char *url = url_of(&b, "/version");
		_cleanup_json_ json_t *v = ctl_json(&b, "GET", url, NULL, 200);
		const char *gv = json_string_value(json_object_get(v, "gitVersion"));

		json_object_set_new(
		    b.out, "config",
		    json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I, s:i, s:s, s:s, s:f, "
			      "s:I}",
			      "server", b.opt.server, "server_version", gv ? gv : "unknown",
			      "nodes", b.opt.nodes, "agents", b.opt.n_agents, "backlog",
			      (json_int_t)b.opt.backlog, "pods", (json_int_t)b.opt.pods,
			      "deployment", (json_int_t)b.opt.deployment, "scale_pods",
			      (json_int_t)b.opt.scale_pods, "clients", b.opt.clients, "pod_cpu",
			      b.opt.pod_cpu, "pod_memory", b.opt.pod_memory, "scale_time_limit_s",
			      b.opt.scale_time_limit_s, "server_pid",
			      (json_int_t)b.opt.server_pid));
	}
	printf("sched_bench: %s, %d nodes, %d clients\n", b.opt.server, b.opt.nodes, b.opt.clients);
	fflush(stdout);

	json_object_set_new(b.out, "nodes", wait_nodes(&b));
	json_object_set_new(b.out, "memory_idle", mem_json(&b));
	waves = json_object();
	json_object_set_new(b.out, "waves", waves);

	if (b.opt.backlog) {
		if (scheduler_held(&b)) {
			json_t *o;

			run_bare_wave(&b, WAVE_BACKLOG, b.opt.backlog, 0, &o, &tabs[WAVE_BACKLOG]);
			json_object_set_new(waves, "backlog", o);
		} else {
			warn("backlog: skipped: the scheduler's lease is not held by %s "
			     "(bench/scheduler/run holds it)",
			     HOLD_HOLDER);
		}
	} else if (scheduler_held(&b)) {
		die("the scheduler's lease is held by %s but --backlog is 0", HOLD_HOLDER);
	}
	if (b.opt.pods) {
		json_t *o;

		run_bare_wave(&b, WAVE_PODS, b.opt.pods, 0, &o, &tabs[WAVE_PODS]);
		json_object_set_new(waves, "pods", o);
	}
	if (b.opt.deployment)
		json_object_set_new(waves, "deployment", run_deployment(&b, b.opt.deployment));
	if (b.opt.scale_pods) {
		json_t *before = json_object(), *o = NULL;
		long long db_total;
		long have = collection_count(&b, "/api/v1/pods", NULL);

		json_object_set_new(before, "pods", json_integer(have));
		json_object_set_new(before, "memory", mem_json(&b));
		json_object_set_new(before, "db", db_json(&b, &db_total));
		if (have >= 0 && (size_t)have < b.opt.scale_pods) {
			run_bare_wave(&b, WAVE_FILL, b.opt.scale_pods - (size_t)have,
				      b.opt.scale_time_limit_s, &o, &tabs[WAVE_FILL]);
		} else {
			o = json_object();
			json_object_set_new(o, "pods", json_integer(0));
		}
		json_object_set_new(o, "before", before);
		json_object_set_new(
		    o, "hold",
		    run_hold(&b, tabs[WAVE_FILL].n ? &tabs[WAVE_FILL] : &tabs[WAVE_PODS], before,
			     b.opt.scale_pods));
		json_object_set_new(waves, "fill", o);
	}
	json_object_set_new(b.out, "load_average_end", loadavg_json());
	json_object_set_new(b.out, "memory_end", mem_json(&b));
	json_object_set_new(b.out, "seconds", json_real(secs(now_ns() - b.start_ns)));

	{
		_cleanup_json_ json_t *runs = json_pack("[O]", b.out);

		report(runs);
		json_object_set_new(b.out, "targets", targets_json(runs));
	}
	write_json(b.out, b.opt.json_path);
	printf("\nresults written to %s\n", b.opt.json_path);

	for (int k = 0; k < WAVE_MAX; k++)
		podtab_release(&tabs[k]);
	json_decref(b.out);
	pool_release(&b);
	client_release(&b.ctl);
	free(b.ca);
	free(b.cert);
	free(b.key);
	curl_global_cleanup();
	return EXIT_SUCCESS;
}
