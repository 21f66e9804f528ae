/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_bench: throughput, latency and memory benchmark of the c8s API server.
 *
 * N client threads, each with its own keep-alive TLS connection (one libcurl
 * easy handle per thread, client certificate auth, the server verified against
 * the cluster CA), create, get, list, update and delete ConfigMaps and Pods in
 * a fresh namespace. Two watches (one per resource), opened before the first
 * create, time every write to the arrival of its watch event. The server's RSS
 * and CPU time come from /proc/PID. Afterwards the same rows go into a scratch
 * SQLite file with the store's durability (WAL, synchronous=FULL): once with
 * one transaction per row from N writer threads, once with group commit (one
 * writer thread committing what N producers queue), so the reader sees how
 * far c8s is from its storage engine.
 *
 * bench/api/run builds this, starts a server and runs it; bench/README.md says
 * what each number means. Targets are informative: the exit status is 0
 * whether they pass or not, and non-zero only when the benchmark cannot run.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
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

/* jansson.h provides json_decrefp(). */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Targets printed next to the results (informative only). */
#define TARGET_CREATES_PER_S 5000.0
#define TARGET_GET_P99_MS    2.0
#define TARGET_IDLE_RSS_KB   (10 * 1024)

#define LIST_PAGE_SIZE	   500
#define SQLITE_MAX_BATCH   1000 /* what the c8s store's writer takes at most */
#define EVENT_WAIT_S	   30	/* bounded wait for the watch events of a phase */
#define FSYNC_PROBE_WRITES 200

/* ---- small helpers ---------------------------------------------------- */

static _noreturn_ _printf_(1, 2) void die(const char *fmt, ...)
{
	va_list ap;

	fputs("api_bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAILURE);
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

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die("out of memory");
	return p;
}

static char *xmemdup(const void *data, size_t len)
{
	char *p = xrealloc(NULL, len + 1);

	memcpy(p, data, len);
	p[len] = '\0';
	return p;
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

/* Latency samples in nanoseconds. */
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

static void samples_merge(struct samples *dst, const struct samples *src)
{
	for (size_t i = 0; i < src->n; i++)
		samples_add(dst, src->v[i]);
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

/* p50/p99/max/mean of a sample set, in milliseconds. */
struct summary {
	size_t n;
	double p50;
	double p99;
	double max;
	double mean;
};

/* Nearest-rank percentile of sorted samples. */
static double percentile_ms(const struct samples *s, double p)
{
	size_t rank = (size_t)(p * (double)s->n + 0.999999);

	if (rank < 1)
		rank = 1;
	if (rank > s->n)
		rank = s->n;
	return (double)s->v[rank - 1] / 1e6;
}

static struct summary samples_summarize(struct samples *s)
{
	struct summary sum = { .n = s->n };
	double total = 0;

	if (!s->n)
		return sum;
	qsort(s->v, s->n, sizeof(*s->v), cmp_i64);
	for (size_t i = 0; i < s->n; i++)
		total += (double)s->v[i];
	sum.p50 = percentile_ms(s, 0.50);
	sum.p99 = percentile_ms(s, 0.99);
	sum.max = (double)s->v[s->n - 1] / 1e6;
	sum.mean = total / (double)s->n / 1e6;
	return sum;
}

/* ---- the model ---------------------------------------------------------- */

enum kind { KIND_CONFIGMAP, KIND_POD, KIND_MAX };
static const char *const kind_plural[KIND_MAX] = { "configmaps", "pods" };
static const char *const kind_prefix[KIND_MAX] = { "cm", "pod" };

/* VERB_GET_ONE is GET from one client alone: latency without queueing. */
enum verb { VERB_CREATE, VERB_GET, VERB_GET_ONE, VERB_LIST, VERB_UPDATE, VERB_DELETE, VERB_MAX };
static const char *const verb_name[VERB_MAX] = { "create", "get",    "get-1",
						 "list",   "update", "delete" };

/* Watch events we time, and the write that causes each. */
enum event { EV_ADDED, EV_MODIFIED, EV_DELETED, EV_MAX };
static const char *const event_name[EV_MAX] = { "ADDED", "MODIFIED", "DELETED" };
static const enum verb event_verb[EV_MAX] = { VERB_CREATE, VERB_UPDATE, VERB_DELETE };

enum rss_point { RSS_IDLE, RSS_OBJECTS, RSS_READS, RSS_DELETED, RSS_MAX };
static const char *const rss_key[RSS_MAX] = { "idle", "after_objects", "after_reads_updates",
					      "after_delete" };

struct options {
	const char *server; /* https://127.0.0.1:PORT */
	const char *kubeconfig_dir;
	pid_t server_pid; /* 0: not local, no RSS or CPU figures */
	int clients;
	size_t objects;
	double duration_s; /* > 0: the get, get-1 and list phases run this long each */
	size_t gets;
	size_t lists;
	const char *json_path;
	const char *sqlite_dir;
	double sqlite_max_s; /* cap on each SQLite variant */
	const char *namespace;
	const char *note; /* free text for the JSON, e.g. which build ran */
	bool no_sqlite;
};

/* A watch event as it arrived: its resourceVersion and when. */
struct seen {
	uint64_t rv;
	int64_t at_ns;
};

#define SEEN_MAX 4 /* events of one type kept per object */

/* Object i is a ConfigMap for even i and a Pod for odd i. A write is matched
 * to its watch event by the resourceVersion the write answered with, so that
 * writes of the server's own controllers to the same object do not count. */
struct object {
	uint64_t rv;  /* resourceVersion of our last write to it */
	char *stored; /* the object as the server returned it on create */
	size_t stored_len;
	int64_t sent_ns[EV_MAX];   /* just before the write request was sent */
	uint64_t write_rv[EV_MAX]; /* the revision that write made; 0: failed */
	/* written by the watch thread only, published by n_seen */
	struct seen seen[EV_MAX][SEEN_MAX];
	atomic_uint n_seen[EV_MAX];
	/* the newest revision the watch showed, whoever wrote it */
	_Atomic uint64_t watched_rv;
};

struct client {
	CURL *curl;
	struct curl_slist *headers;
	struct buf body;
	long connects; /* TLS connections this handle opened */
	char errbuf[CURL_ERROR_SIZE];
};

struct bench;

struct worker {
	struct bench *b;
	pthread_t thread;
	struct client client;
	uint64_t rng;
	struct samples lat[KIND_MAX];
	size_t errors[KIND_MAX];
	size_t conflicts; /* updates answered 409 and retried */
	/* list pagination state, and list latency by page: first, later */
	enum kind list_kind;
	char *list_continue;
	struct samples page_lat[2];
};

struct watcher {
	struct bench *b;
	enum kind kind;
	pthread_t thread;
	CURL *curl;
	struct curl_slist *headers;
	struct buf line;
	uint64_t from_rv; /* last resourceVersion seen; a reconnect resumes there */
	atomic_bool stop;
	atomic_bool established;
	atomic_size_t count[EV_MAX];
	size_t other;
	size_t overflow; /* events past SEEN_MAX for one object */
	size_t reconnects;
	char errbuf[CURL_ERROR_SIZE];
};

struct verb_result {
	bool ran;
	size_t ops[KIND_MAX + 1]; /* per kind, then all */
	size_t errors[KIND_MAX + 1];
	size_t conflicts;
	int64_t revisions; /* how far the store's revision moved; -1: unknown */
	struct summary lat[KIND_MAX + 1];
	struct summary page_lat[2]; /* list only: first pages, continued pages */
	double wall_s;
	double server_cpu_s;
	double client_cpu_s;
	double other_cpu_s; /* every other process on the machine */
};

struct watch_result {
	struct summary lat;
	size_t missing;	 /* writes whose event never came */
	size_t received; /* events of this type, ours or not */
};

struct sqlite_result {
	bool ran;
	const char *error; /* NULL: ok */
	size_t rows;
	double wall_s;
	double rate;
	struct summary lat; /* per-row wait until durable */
	uint64_t commits;
	size_t max_batch;
};

/* The server's memory at one point, in kB (-1: unknown). */
struct mem {
	long rss;  /* VmRSS, what the target is about */
	long anon; /* RssAnon: heap, stacks, the watch cache */
	long file; /* RssFile: mapped binary and shared libraries */
	long pss;  /* proportional: shared pages divided among their users */
	long threads;
};

struct bench {
	struct options opt;
	char *ca;
	char *cert;
	char *key;
	char *ns_url; /* SERVER/api/v1/namespaces/NS */
	char *server_version;
	size_t body_len[KIND_MAX];

	struct object *objects;
	struct worker *workers;
	struct watcher watchers[KIND_MAX];
	size_t connects_before; /* connections opened while warming up */

	/* the running phase */
	enum verb phase;
	atomic_size_t next;
	size_t phase_count; /* 0: until the deadline */
	int64_t deadline_ns;
	atomic_bool error_reported[VERB_MAX];

	/* results */
	struct verb_result verbs[VERB_MAX];
	struct watch_result watch[EV_MAX];
	struct mem mem[RSS_MAX];
	long hwm_kb;
	size_t list_page_items;
	double fsync_p50_ms;
	double fsync_p99_ms;
	struct sqlite_result sq_row;
	struct sqlite_result sq_group;
	char *sqlite_path;
};

/* ---- /proc ---------------------------------------------------------------- */

/* A "Key:  N kB" line of /proc/PID/FILE, in kB; -1 if unknown. */
static long proc_kb(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
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

static struct mem proc_mem(pid_t pid)
{
	return (struct mem){
		.rss = proc_kb(pid, "status", "VmRSS"),
		.anon = proc_kb(pid, "status", "RssAnon"),
		.file = proc_kb(pid, "status", "RssFile"),
		.pss = proc_kb(pid, "smaps_rollup", "Pss"),
		.threads = proc_kb(pid, "status", "Threads"),
	};
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

static double self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* ---- objects ---------------------------------------------------------- */

static enum kind object_kind(size_t i)
{
	return (enum kind)(i % KIND_MAX);
}

static void object_name(size_t i, char *out, size_t size)
{
	snprintf(out, size, "%s-%07zu", kind_prefix[object_kind(i)], i);
}

/* Index of the object a watch event names, or SIZE_MAX. */
static size_t object_index(const struct bench *b, enum kind k, const char *name)
{
	size_t plen = strlen(kind_prefix[k]);
	unsigned long long i;
	char *end;

	if (!name || strncmp(name, kind_prefix[k], plen) != 0 || name[plen] != '-')
		return SIZE_MAX;
	errno = 0;
	i = strtoull(name + plen + 1, &end, 10);
	if (errno || *end || i >= b->opt.objects || object_kind(i) != k)
		return SIZE_MAX;
	return (size_t)i;
}

/* ~0.5 KB: labels and a handful of settings. */
#define CONFIGMAP_JSON                                                                      \
	"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\"%s,"    \
	"\"labels\":{\"app.kubernetes.io/name\":\"bench\",\"app.kubernetes.io/component\":" \
	"\"config\",\"bench.c8s.io/shard\":\"%u\",\"bench.c8s.io/generation\":\"%d\"}},"    \
	"\"data\":{\"log_level\":\"info\",\"max_connections\":\"256\",\"timeout\":\"30s\"," \
	"\"feature_flags\":\"alpha=false,beta=true,gamma=false\","                          \
	"\"endpoint\":\"https://backend-%u.bench.svc.cluster.local:8443\","                 \
	"\"settings.yaml\":\"retries: 3\\nbackoff: exponential\\ncache_size: 512Mi\\n"      \
	"pool: %u\\n\"}}"

/* ~1 KB: labels, annotations, one container with image, ports, env and resources.
 * No nodeName: an unscheduled pod is deleted at once, with no grace period. */
#define POD_JSON                                                                                  \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"%s,"                \
	"\"labels\":{\"app.kubernetes.io/name\":\"bench\",\"app.kubernetes.io/component\":"       \
	"\"backend\",\"pod-template-hash\":\"7d9f8b6c5d\",\"bench.c8s.io/shard\":\"%u\","         \
	"\"bench.c8s.io/generation\":\"%d\"},\"annotations\":{\"bench.c8s.io/owner\":"            \
	"\"api_bench\",\"prometheus.io/scrape\":\"true\",\"prometheus.io/port\":\"9090\"}},"      \
	"\"spec\":{\"containers\":[{\"name\":\"backend\",\"image\":"                              \
	"\"registry.example.com/bench/backend:1.24.3\",\"command\":[\"/usr/local/bin/backend\"]," \
	"\"args\":[\"--listen=:8080\",\"--metrics=:9090\",\"--shard=%u\"],\"ports\":["            \
	"{\"name\":\"http\",\"containerPort\":8080,\"protocol\":\"TCP\"},"                        \
	"{\"name\":\"metrics\",\"containerPort\":9090,\"protocol\":\"TCP\"}],\"env\":["           \
	"{\"name\":\"SHARD\",\"value\":\"%u\"},{\"name\":\"LOG_LEVEL\",\"value\":\"info\"},"      \
	"{\"name\":\"GOMAXPROCS\",\"value\":\"2\"},"                                              \
	"{\"name\":\"CACHE_DIR\",\"value\":\"/var/cache/backend\"}],"                             \
	"\"resources\":{\"requests\":{\"cpu\":\"250m\",\"memory\":\"128Mi\"},"                    \
	"\"limits\":{\"cpu\":\"1\",\"memory\":\"256Mi\"}}}],\"restartPolicy\":\"Always\","        \
	"\"terminationGracePeriodSeconds\":30}}"

/* The JSON body of object i; rv != 0 adds metadata.resourceVersion (an update). */
static size_t object_body(size_t i, uint64_t rv, int generation, char *out, size_t size)
{
	unsigned shard = (unsigned)(i % 16);
	char name[32], rvfield[48] = "";
	int n;

	object_name(i, name, sizeof(name));
	if (rv)
		snprintf(rvfield, sizeof(rvfield), ",\"resourceVersion\":\"%" PRIu64 "\"", rv);
	if (object_kind(i) == KIND_CONFIGMAP)
		n = snprintf(out, size, CONFIGMAP_JSON, name, rvfield, shard, generation, shard,
			     (unsigned)i);
	else
		n = snprintf(out, size, POD_JSON, name, rvfield, shard, generation, shard, shard);
	if (n < 0 || (size_t)n >= size)
		die("object body of %zu does not fit in %zu bytes", i, size);
	return (size_t)n;
}

/* The first "resourceVersion" of a response body (metadata's); 0 if none. */
static uint64_t parse_rv(const char *body)
{
	static const char key[] = "\"resourceVersion\":\"";
	const char *p = body ? strstr(body, key) : NULL;

	return p ? strtoull(p + sizeof(key) - 1, NULL, 10) : 0;
}

/* ---- HTTP client -------------------------------------------------------- */

static size_t client_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct client *c = userdata;

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
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
}

static void client_init(struct client *c, const struct bench *b)
{
	*c = (struct client){ 0 };
	c->curl = curl_easy_init();
	if (!c->curl)
		die("curl_easy_init failed");
	c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
	c->headers = curl_slist_append(c->headers, "Accept: application/json");
	/* Bodies over 1 KB would otherwise wait for a "100 Continue". */
	c->headers = curl_slist_append(c->headers, "Expect:");
	if (!c->headers)
		die("out of memory");
	curl_tls_setup(c->curl, b, c->headers, c->errbuf);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, client_write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
	/* One connection per client, kept alive across every phase. */
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

/* One request on the client's connection: the HTTP status, or -1 when the
 * request failed below HTTP (c->errbuf says why). The body is in c->body. */
static long client_request(struct client *c, const char *method, const char *url, const char *data,
			   size_t len)
{
	long status = 0, connects = 0;
	CURLcode r;

	buf_reset(&c->body);
	c->errbuf[0] = '\0';
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	if (strcmp(method, "GET") == 0 || strcmp(method, "DELETE") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "GET") == 0 ? NULL : method);
	} else {
		curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)len);
		curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST,
				 strcmp(method, "POST") == 0 ? NULL : method);
	}
	r = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &connects);
	c->connects += connects;
	if (r != CURLE_OK) {
		if (!c->errbuf[0])
			snprintf(c->errbuf, sizeof(c->errbuf), "%s", curl_easy_strerror(r));
		return -1;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* ---- watches ------------------------------------------------------------ */

static void watcher_event(struct watcher *w, const char *line, size_t len, int64_t arrived)
{
	_cleanup_json_ json_t *ev = json_loadb(line, len, 0, NULL);
	const char *type, *name, *rv;
	json_t *meta;
	size_t i;
	int e;

	if (!ev) {
		w->other++;
		return;
	}
	type = json_string_value(json_object_get(ev, "type"));
	meta = json_object_get(json_object_get(ev, "object"), "metadata");
	name = json_string_value(json_object_get(meta, "name"));
	rv = json_string_value(json_object_get(meta, "resourceVersion"));
	if (!type) {
		w->other++;
		return;
	}
	if (strcmp(type, "ERROR") == 0) {
		fprintf(stderr, "api_bench: watch of %s: error event: %.*s\n", kind_plural[w->kind],
			(int)len, line);
		w->other++;
		return;
	}
	if (rv)
		w->from_rv = strtoull(rv, NULL, 10);
	for (e = 0; e < EV_MAX; e++)
		if (strcmp(type, event_name[e]) == 0)
			break;
	i = object_index(w->b, w->kind, name);
	if (e == EV_MAX || i == SIZE_MAX) {
		w->other++;
		return;
	}
	{
		struct object *o = &w->b->objects[i];
		unsigned n = atomic_load_explicit(&o->n_seen[e], memory_order_relaxed);
		uint64_t ev_rv = rv ? strtoull(rv, NULL, 10) : 0;

		if (ev_rv > atomic_load_explicit(&o->watched_rv, memory_order_relaxed))
			atomic_store_explicit(&o->watched_rv, ev_rv, memory_order_relaxed);
		if (n < SEEN_MAX) {
			o->seen[e][n] = (struct seen){ ev_rv, arrived };
			atomic_store_explicit(&o->n_seen[e], n + 1, memory_order_release);
		} else {
			w->overflow++;
		}
	}
	atomic_fetch_add(&w->count[e], 1);
}

static size_t watcher_write_cb(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct watcher *w = userdata;
	int64_t arrived = now_ns(); /* every line completed by this chunk arrived now */
	size_t n = size * nmemb, start = 0;

	if (atomic_load(&w->stop))
		return 0; /* aborts the transfer */
	buf_add(&w->line, data, n);
	for (size_t i = 0; i < w->line.len; i++) {
		if (w->line.p[i] != '\n')
			continue;
		if (i > start)
			watcher_event(w, w->line.p + start, i - start, arrived);
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
	if (n == 2 && data[0] == '\r' && data[1] == '\n')
		atomic_store(&w->established, true);
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

	while (!atomic_load(&w->stop)) {
		_cleanup_free_ char *url =
		    xasprintf("%s/%s?watch=1&resourceVersion=%" PRIu64, w->b->ns_url,
			      kind_plural[w->kind], w->from_rv);
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
			fprintf(stderr,
				"api_bench: watch of %s ended (%s, HTTP %ld); resuming at %" PRIu64
				"%s\n",
				kind_plural[w->kind],
				r == CURLE_OK ? "closed by server" : w->errbuf, status, w->from_rv,
				w->reconnects == 3 ? " (not reported again)" : "");
		sleep_ms(w->reconnects < 5 ? 100L << w->reconnects : 2000);
	}
	return NULL;
}

static void watcher_start(struct watcher *w, struct bench *b, enum kind k, uint64_t from_rv)
{
	w->b = b;
	w->kind = k;
	w->from_rv = from_rv;
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
	w->curl = NULL;
}

/* When the event of type e that carries our write's revision arrived; 0: not yet. */
static int64_t event_arrival(struct object *o, enum event e)
{
	unsigned n = atomic_load_explicit(&o->n_seen[e], memory_order_acquire);

	for (unsigned j = 0; j < n; j++)
		if (o->seen[e][j].rv == o->write_rv[e])
			return o->seen[e][j].at_ns;
	return 0;
}

/* Objects whose write of type e succeeded but whose event has not arrived. */
static size_t events_missing(struct bench *b, enum event e)
{
	size_t missing = 0;

	for (size_t i = 0; i < b->opt.objects; i++)
		if (b->objects[i].write_rv[e] && !event_arrival(&b->objects[i], e))
			missing++;
	return missing;
}

/* Bounded wait, after a phase, until every write of the phase has its event. */
static void wait_for_events(struct bench *b, enum event e)
{
	int64_t deadline = now_ns() + (int64_t)EVENT_WAIT_S * 1000000000;
	size_t missing;

	while ((missing = events_missing(b, e)) > 0) {
		if (now_ns() > deadline) {
			fprintf(stderr, "api_bench: %zu %s events still missing after %d s\n",
				missing, event_name[e], EVENT_WAIT_S);
			return;
		}
		sleep_ms(5);
	}
}

/* ---- operations ------------------------------------------------------- */

static void report_error(struct worker *w, enum verb v, const char *url, long status)
{
	struct bench *b = w->b;

	if (atomic_exchange(&b->error_reported[v], true))
		return; /* the first error of each verb is enough */
	if (status < 0)
		fprintf(stderr, "api_bench: %s %s: %s\n", verb_name[v], url, w->client.errbuf);
	else
		fprintf(stderr, "api_bench: %s %s: HTTP %ld: %.300s\n", verb_name[v], url, status,
			w->client.body.p ? w->client.body.p : "");
}

static void record(struct worker *w, enum verb v, enum kind k, const char *url, long status,
		   int64_t t0, int64_t t1)
{
	if (status >= 200 && status < 300) {
		samples_add(&w->lat[k], t1 - t0);
	} else {
		w->errors[k]++;
		report_error(w, v, url, status);
	}
}

static void op_create(struct worker *w, size_t i)
{
	struct object *o = &w->b->objects[i];
	enum kind k = object_kind(i);
	char body[4096], url[512];
	size_t len = object_body(i, 0, 1, body, sizeof(body));
	int64_t t0, t1;
	long status;

	snprintf(url, sizeof(url), "%s/%s", w->b->ns_url, kind_plural[k]);
	t0 = now_ns();
	o->sent_ns[EV_ADDED] = t0;
	status = client_request(&w->client, "POST", url, body, len);
	t1 = now_ns();
	record(w, VERB_CREATE, k, url, status, t0, t1);
	if (status == 201) {
		o->rv = parse_rv(w->client.body.p);
		o->write_rv[EV_ADDED] = o->rv;
		o->stored = xmemdup(w->client.body.p, w->client.body.len);
		o->stored_len = w->client.body.len;
	}
}

static void op_get(struct worker *w)
{
	size_t i = (size_t)(xorshift64(&w->rng) % w->b->opt.objects);
	enum kind k = object_kind(i);
	char name[32], url[512];
	int64_t t0, t1;
	long status;

	object_name(i, name, sizeof(name));
	snprintf(url, sizeof(url), "%s/%s/%s", w->b->ns_url, kind_plural[k], name);
	t0 = now_ns();
	status = client_request(&w->client, "GET", url, NULL, 0);
	t1 = now_ns();
	record(w, w->b->phase, k, url, status, t0, t1);
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
	return xmemdup(p, (size_t)(end - p));
}

/* One page of LIST_PAGE_SIZE; each client pages through one resource after
 * the other, following the continue tokens. */
static void op_list(struct worker *w)
{
	enum kind k = w->list_kind;
	int page = w->list_continue ? 1 : 0;
	char url[2048];
	int64_t t0, t1;
	long status;

	if (w->list_continue) {
		char *esc = curl_easy_escape(w->client.curl, w->list_continue, 0);

		snprintf(url, sizeof(url), "%s/%s?limit=%d&continue=%s", w->b->ns_url,
			 kind_plural[k], LIST_PAGE_SIZE, esc ? esc : "");
		curl_free(esc);
	} else {
		snprintf(url, sizeof(url), "%s/%s?limit=%d", w->b->ns_url, kind_plural[k],
			 LIST_PAGE_SIZE);
	}
	t0 = now_ns();
	status = client_request(&w->client, "GET", url, NULL, 0);
	t1 = now_ns();
	record(w, VERB_LIST, k, url, status, t0, t1);
	if (status == 200)
		samples_add(&w->page_lat[page], t1 - t0);
	free(w->list_continue);
	w->list_continue = status == 200 ? parse_continue(w->client.body.p) : NULL;
	if (!w->list_continue)
		w->list_kind = (enum kind)((k + 1) % KIND_MAX);
}

/* The body of an update: the object as the server last showed it (with
 * the fields it defaulted, which a PUT must carry) at resourceVersion rv, with
 * one label changed and, for a ConfigMap, one setting. NULL if base is not a
 * JSON object. */
static char *update_body(size_t i, const char *base, size_t base_len, uint64_t rv, size_t *ret_len)
{
	_cleanup_json_ json_t *obj = json_loadb(base, base_len, 0, NULL);
	json_t *meta = json_object_get(obj, "metadata"), *labels, *data;
	char rvs[24];
	char *body;

	if (!json_is_object(meta))
		return NULL;
	snprintf(rvs, sizeof(rvs), "%" PRIu64, rv);
	json_object_set_new(meta, "resourceVersion", json_string(rvs));
	labels = json_object_get(meta, "labels");
	if (!json_is_object(labels)) {
		labels = json_object();
		json_object_set_new(meta, "labels", labels);
	}
	json_object_set_new(labels, "bench.c8s.io/generation", json_string("2"));
	data = json_object_get(obj, "data");
	if (object_kind(i) == KIND_CONFIGMAP && json_is_object(data))
		json_object_set_new(data, "timeout", json_string("45s"));
	body = json_dumps(obj, JSON_COMPACT);
	if (!body)
		die("out of memory");
	*ret_len = strlen(body);
	return body;
}

/* A GET, modify, PUT cycle as clients do it, starting from the object as its
 * create returned it, at the newest resourceVersion known: ours, or a newer
 * one the watch showed when the server's own controllers wrote the object
 * (the scheduler marks pods it cannot place). On a conflict all the same, the
 * object is read again and the PUT retried. Only the successful PUT is timed;
 * building its body is not. */
static void op_update(struct worker *w, size_t i)
{
	struct object *o = &w->b->objects[i];
	enum kind k = object_kind(i);
	_cleanup_free_ char *base = NULL;
	uint64_t rv = o->rv, watched = atomic_load(&o->watched_rv);
	char name[32], url[512];
	size_t base_len = o->stored_len;
	int64_t t0 = 0, t1 = 0;
	long status = -1;

	if (!o->rv)
		return; /* its create failed */
	object_name(i, name, sizeof(name));
	snprintf(url, sizeof(url), "%s/%s/%s", w->b->ns_url, kind_plural[k], name);
	base = xmemdup(o->stored, o->stored_len);
	if (watched > rv)
		rv = watched;
	for (int attempt = 0; attempt < 5; attempt++) {
		size_t len;
		_cleanup_free_ char *body = update_body(i, base, base_len, rv, &len);

		if (!body)
			break;
		t0 = now_ns();
		o->sent_ns[EV_MODIFIED] = t0;
		status = client_request(&w->client, "PUT", url, body, len);
		t1 = now_ns();
		if (status != 409)
			break;
		w->conflicts++;
		if (client_request(&w->client, "GET", url, NULL, 0) != 200)
			break;
		free(base);
		base = xmemdup(w->client.body.p, w->client.body.len);
		base_len = w->client.body.len;
		rv = parse_rv(base);
	}
	record(w, VERB_UPDATE, k, url, status, t0, t1);
	if (status == 200) {
		o->rv = parse_rv(w->client.body.p);
		o->write_rv[EV_MODIFIED] = o->rv;
	}
}

static void op_delete(struct worker *w, size_t i)
{
	struct object *o = &w->b->objects[i];
	enum kind k = object_kind(i);
	char name[32], url[512];
	int64_t t0, t1;
	long status;

	if (!o->rv)
		return;
	object_name(i, name, sizeof(name));
	snprintf(url, sizeof(url), "%s/%s/%s", w->b->ns_url, kind_plural[k], name);
	t0 = now_ns();
	o->sent_ns[EV_DELETED] = t0;
	status = client_request(&w->client, "DELETE", url, NULL, 0);
	t1 = now_ns();
	record(w, VERB_DELETE, k, url, status, t0, t1);
	/* The answer is the object's last state at the tombstone's revision. */
	if (status >= 200 && status < 300)
		o->write_rv[EV_DELETED] = parse_rv(w->client.body.p);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;

	for (;;) {
		size_t i = atomic_fetch_add(&b->next, 1);

		if (b->phase_count && i >= b->phase_count)
			break;
		if (b->deadline_ns && now_ns() >= b->deadline_ns)
			break;
		switch (b->phase) {
		case VERB_CREATE:
			op_create(w, i);
			break;
		case VERB_GET:
		case VERB_GET_ONE:
			op_get(w);
			break;
		case VERB_LIST:
			op_list(w);
			break;
		case VERB_UPDATE:
			op_update(w, i);
			break;
		case VERB_DELETE:
			op_delete(w, i);
			break;
		case VERB_MAX:
			abort();
		}
	}
	return NULL;
}

/* The store's current revision, as a list reports it; -1 if unknown. */
static int64_t server_revision(struct bench *b)
{
	_cleanup_free_ char *url =
	    xasprintf("%s/%s?limit=1", b->ns_url, kind_plural[KIND_CONFIGMAP]);
	struct client *c = &b->workers[0].client;

	if (client_request(c, "GET", url, NULL, 0) != 200)
		return -1;
	return (int64_t)parse_rv(c->body.p);
}

/* Runs one verb on the first `clients` clients: `count` operations, or until
 * `duration_s` has passed when count is 0. */
static void run_phase(struct bench *b, enum verb v, int clients, size_t count, double duration_s)
{
	struct verb_result *res = &b->verbs[v];
	struct samples all = { 0 };
	double server_cpu0 = proc_cpu_s(b->opt.server_pid), client_cpu0 = self_cpu_s();
	double machine_cpu0 = machine_cpu_s();
	int64_t rev0 = server_revision(b), rev1;
	int64_t t0, t1;

	b->phase = v;
	atomic_store(&b->next, 0);
	b->phase_count = count;
	b->deadline_ns = count ? 0 : now_ns() + (int64_t)(duration_s * 1e9);
	for (int c = 0; c < clients; c++) {
		struct worker *w = &b->workers[c];

		for (int k = 0; k < KIND_MAX; k++) {
			w->lat[k].n = 0;
			w->errors[k] = 0;
		}
		w->page_lat[0].n = w->page_lat[1].n = 0;
		w->conflicts = 0;
	}
	t0 = now_ns();
	for (int c = 0; c < clients; c++)
		if (pthread_create(&b->workers[c].thread, NULL, worker_main, &b->workers[c]) != 0)
			die("cannot start client thread %d", c);
	for (int c = 0; c < clients; c++)
		pthread_join(b->workers[c].thread, NULL);
	t1 = now_ns();

	if (b->opt.server_pid > 0 && !proc_alive(b->opt.server_pid))
		die("the server (PID %d) exited during the %s phase", (int)b->opt.server_pid,
		    verb_name[v]);
	rev1 = server_revision(b);
	res->revisions = rev0 >= 0 && rev1 >= 0 ? rev1 - rev0 : -1;
	res->ran = true;
	res->wall_s = (double)(t1 - t0) / 1e9;
	res->conflicts = 0;
	for (int c = 0; c < clients; c++)
		res->conflicts += b->workers[c].conflicts;
	res->client_cpu_s = self_cpu_s() - client_cpu0;
	res->server_cpu_s = server_cpu0 < 0 ? -1 : proc_cpu_s(b->opt.server_pid) - server_cpu0;
	res->other_cpu_s = -1;
	if (machine_cpu0 >= 0 && res->server_cpu_s >= 0) {
		res->other_cpu_s =
		    machine_cpu_s() - machine_cpu0 - res->server_cpu_s - res->client_cpu_s;
		if (res->other_cpu_s < 0)
			res->other_cpu_s = 0;
	}
	for (int k = 0; k < KIND_MAX; k++) {
		struct samples per_kind = { 0 };

		res->errors[k] = 0;
		for (int c = 0; c < clients; c++) {
			samples_merge(&per_kind, &b->workers[c].lat[k]);
			res->errors[k] += b->workers[c].errors[k];
		}
		samples_merge(&all, &per_kind);
		res->ops[k] = per_kind.n;
		res->lat[k] = samples_summarize(&per_kind);
		res->errors[KIND_MAX] += res->errors[k];
		samples_release(&per_kind);
	}
	res->ops[KIND_MAX] = all.n;
	res->lat[KIND_MAX] = samples_summarize(&all);
	samples_release(&all);
	for (int p = 0; p < 2; p++) {
		struct samples pages = { 0 };

		for (int c = 0; c < clients; c++)
			samples_merge(&pages, &b->workers[c].page_lat[p]);
		res->page_lat[p] = samples_summarize(&pages);
		samples_release(&pages);
	}
	printf("  %-7s %8zu ops in %6.2f s\n", verb_name[v], res->ops[KIND_MAX], res->wall_s);
	fflush(stdout);
}

static void summarize_watch(struct bench *b)
{
	for (int e = 0; e < EV_MAX; e++) {
		struct samples s = { 0 };

		b->watch[e].missing = 0;
		for (size_t i = 0; i < b->opt.objects; i++) {
			struct object *o = &b->objects[i];
			int64_t at;

			if (!o->write_rv[e])
				continue;
			at = event_arrival(o, e);
			if (!at)
				b->watch[e].missing++;
			else
				samples_add(&s, at - o->sent_ns[e]);
		}
		b->watch[e].lat = samples_summarize(&s);
		samples_release(&s);
		b->watch[e].received = 0;
		for (int k = 0; k < KIND_MAX; k++)
			b->watch[e].received += atomic_load(&b->watchers[k].count[e]);
	}
}

/* ---- setup ---------------------------------------------------------------- */

/* A request from the first client, for setup; dies unless the status is `want`. */
static void setup_request(struct bench *b, const char *method, const char *url, const char *data,
			  long want)
{
	struct client *c = &b->workers[0].client;
	long status = client_request(c, method, url, data, data ? strlen(data) : 0);

	if (status < 0)
		die("%s %s: %s", method, url, c->errbuf);
	if (status != want)
		die("%s %s: HTTP %ld: %.300s", method, url, status, c->body.p ? c->body.p : "");
}

static uint64_t list_rv(struct bench *b, enum kind k)
{
	_cleanup_free_ char *url = xasprintf("%s/%s?limit=1", b->ns_url, kind_plural[k]);

	setup_request(b, "GET", url, NULL, 200);
	return parse_rv(b->workers[0].client.body.p);
}

static void setup(struct bench *b)
{
	_cleanup_free_ char *url = NULL, *ns = NULL;
	struct stat st;

	b->ca = xasprintf("%s/tls/ca.crt", b->opt.kubeconfig_dir);
	b->cert = xasprintf("%s/tls/admin.crt", b->opt.kubeconfig_dir);
	b->key = xasprintf("%s/tls/admin.key", b->opt.kubeconfig_dir);
	if (stat(b->ca, &st) < 0 || stat(b->cert, &st) < 0 || stat(b->key, &st) < 0)
		die("%s/tls/{ca.crt,admin.crt,admin.key} not found: give the server's --data-dir "
		    "as --kubeconfig-dir",
		    b->opt.kubeconfig_dir);
	b->ns_url = xasprintf("%s/api/v1/namespaces/%s", b->opt.server, b->opt.namespace);

	b->workers = xcalloc((size_t)b->opt.clients, sizeof(*b->workers));
	for (int c = 0; c < b->opt.clients; c++) {
		struct worker *w = &b->workers[c];

		w->b = b;
		w->rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(c + 1);
		w->list_kind = (enum kind)(c % KIND_MAX);
		client_init(&w->client, b);
	}

	url = xasprintf("%s/version", b->opt.server);
	setup_request(b, "GET", url, NULL, 200);
	{
		_cleanup_json_ json_t *v = json_loads(b->workers[0].client.body.p, 0, NULL);
		const char *gv = json_string_value(json_object_get(v, "gitVersion"));

		b->server_version = xstrdup(gv ? gv : "unknown");
	}

	free(url);
	url = xasprintf("%s/api/v1/namespaces", b->opt.server);
	ns =
	    xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"%s\","
		      "\"labels\":{\"bench.c8s.io/run\":\"api\"}}}",
		      b->opt.namespace);
	setup_request(b, "POST", url, ns, 201);

	/* Open every client's connection (the TLS handshake) before measuring. */
	for (int c = 0; c < b->opt.clients; c++) {
		struct client *cl = &b->workers[c].client;
		long status = client_request(cl, "GET", b->ns_url, NULL, 0);

		if (status != 200)
			die("client %d: GET %s: %s (HTTP %ld)", c, b->ns_url, cl->errbuf, status);
		b->connects_before += (size_t)cl->connects;
	}
}

static void teardown(struct bench *b)
{
	_cleanup_free_ char *url = xasprintf("%s", b->ns_url);
	struct client *c = &b->workers[0].client;
	long status = client_request(c, "DELETE", url, NULL, 0);

	if (status < 200 || status >= 300)
		fprintf(stderr, "api_bench: could not delete namespace %s: HTTP %ld %s\n",
			b->opt.namespace, status, c->errbuf);
}

/* How many items a page of LIST_PAGE_SIZE really holds (a sanity check). */
static size_t probe_list_page(struct bench *b)
{
	_cleanup_free_ char *url =
	    xasprintf("%s/%s?limit=%d", b->ns_url, kind_plural[KIND_POD], LIST_PAGE_SIZE);
	_cleanup_json_ json_t *list = NULL;

	setup_request(b, "GET", url, NULL, 200);
	list = json_loads(b->workers[0].client.body.p, 0, NULL);
	return json_array_size(json_object_get(list, "items"));
}

/* ---- the storage engine alone ------------------------------------------- */

struct sq_row {
	char *name;
	const char *value;
	size_t len;
};

struct sq_req {
	size_t row;
	bool done;
	int rc;
};

struct sq_ctx {
	const char *path;
	struct sq_row *rows;
	size_t n_rows;
	atomic_size_t next;
	int64_t deadline_ns;
	atomic_int failed; /* first SQLite error code, 0: none */
	pthread_mutex_t lock;
	struct samples lat; /* under lock */
	/* group commit */
	pthread_cond_t work;
	pthread_cond_t done;
	struct sq_req **queue;
	size_t queued;
	size_t queue_cap;
	bool closing;
	uint64_t commits;
	size_t max_batch;
};

/* The c8s store's schema (src/store/README.md). */
static const char sq_schema[] =
    "CREATE TABLE kv (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
    " created INTEGER NOT NULL, deleted INTEGER NOT NULL, create_revision INTEGER NOT NULL,"
    " prev_revision INTEGER NOT NULL, value BLOB NOT NULL);"
    "CREATE INDEX kv_name_id ON kv (name, id);";

static const char sq_insert[] = "INSERT INTO kv (name, created, deleted, create_revision,"
				" prev_revision, value) VALUES (?1, 1, 0, 0, 0, ?2)";

/* Waiting writers retry the lock every 20 µs rather than SQLite's default
 * back-off of whole milliseconds, which would understate the engine. */
static int sq_busy(void *arg, int tries)
{
	(void)arg, (void)tries;
	usleep(20);
	return 1;
}

/* A connection with the store's settings. journal_mode=WAL is persistent:
 * the connection that creates the file sets it, before any other opens. */
static sqlite3 *sq_open(struct sq_ctx *ctx, bool create)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(ctx->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		die("cannot open %s: %s", ctx->path, db ? sqlite3_errmsg(db) : "out of memory");
	sqlite3_busy_handler(db, sq_busy, NULL);
	if (create && sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
		die("%s: %s", ctx->path, sqlite3_errmsg(db));
	if (sqlite3_exec(db, "PRAGMA synchronous=FULL", NULL, NULL, NULL) != SQLITE_OK)
		die("%s: %s", ctx->path, sqlite3_errmsg(db));
	return db;
}

static sqlite3_stmt *sq_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		die("cannot prepare \"%s\": %s", sql, sqlite3_errmsg(db));
	return st;
}

static int sq_step(sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_BUSY)
		sqlite3_reset(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int sq_insert_row(sqlite3_stmt *ins, const struct sq_row *row)
{
	sqlite3_bind_text(ins, 1, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(ins, 2, row->value, (int)row->len, SQLITE_STATIC);
	return sq_step(ins);
}

static bool sq_take(struct sq_ctx *ctx, size_t *ret_row)
{
	size_t i;

	if (atomic_load(&ctx->failed) || now_ns() >= ctx->deadline_ns)
		return false;
	i = atomic_fetch_add(&ctx->next, 1);
	if (i >= ctx->n_rows)
		return false;
	*ret_row = i;
	return true;
}

static void sq_fail(struct sq_ctx *ctx, int rc)
{
	int zero = 0;

	atomic_compare_exchange_strong(&ctx->failed, &zero, rc);
}

/* Variant 1: every thread its own connection and one transaction per row. */
static void *sq_row_writer(void *arg)
{
	struct sq_ctx *ctx = arg;
	sqlite3 *db = sq_open(ctx, false);
	sqlite3_stmt *begin = sq_prepare(db, "BEGIN IMMEDIATE");
	sqlite3_stmt *commit = sq_prepare(db, "COMMIT");
	sqlite3_stmt *ins = sq_prepare(db, sq_insert);
	struct samples lat = { 0 };
	size_t row;

	while (sq_take(ctx, &row)) {
		int64_t t0 = now_ns();
		int rc = sq_step(begin);

		if (rc == SQLITE_OK)
			rc = sq_insert_row(ins, &ctx->rows[row]);
		if (rc == SQLITE_OK)
			rc = sq_step(commit);
		if (rc != SQLITE_OK) {
			sq_fail(ctx, rc);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			break;
		}
		samples_add(&lat, now_ns() - t0);
	}
	pthread_mutex_lock(&ctx->lock);
	samples_merge(&ctx->lat, &lat);
	pthread_mutex_unlock(&ctx->lock);
	samples_release(&lat);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return NULL;
}

/* Variant 2, the producers: queue a row, wait until it is durable, repeat. */
static void *sq_group_producer(void *arg)
{
	struct sq_ctx *ctx = arg;
	struct samples lat = { 0 };
	size_t row;

	while (sq_take(ctx, &row)) {
		struct sq_req req = { .row = row };
		int64_t t0 = now_ns();

		pthread_mutex_lock(&ctx->lock);
		if (ctx->queued == ctx->queue_cap) {
			ctx->queue_cap = ctx->queue_cap ? 2 * ctx->queue_cap : 64;
			ctx->queue = xrealloc(ctx->queue, ctx->queue_cap * sizeof(*ctx->queue));
		}
		ctx->queue[ctx->queued++] = &req;
		pthread_cond_signal(&ctx->work);
		while (!req.done)
			pthread_cond_wait(&ctx->done, &ctx->lock);
		pthread_mutex_unlock(&ctx->lock);
		if (req.rc != SQLITE_OK)
			break;
		samples_add(&lat, now_ns() - t0);
	}
	pthread_mutex_lock(&ctx->lock);
	samples_merge(&ctx->lat, &lat);
	pthread_mutex_unlock(&ctx->lock);
	samples_release(&lat);
	return NULL;
}

/* Variant 2, the writer: take what is queued (up to SQLITE_MAX_BATCH), insert
 * it in one transaction, commit once, wake the producers. */
static void *sq_group_writer(void *arg)
{
	struct sq_ctx *ctx = arg;
	sqlite3 *db = sq_open(ctx, false);
	sqlite3_stmt *begin = sq_prepare(db, "BEGIN IMMEDIATE");
	sqlite3_stmt *commit = sq_prepare(db, "COMMIT");
	sqlite3_stmt *ins = sq_prepare(db, sq_insert);
	struct sq_req **batch = xcalloc(SQLITE_MAX_BATCH, sizeof(*batch));

	for (;;) {
		size_t n;
		int rc;

		pthread_mutex_lock(&ctx->lock);
		while (!ctx->queued && !ctx->closing)
			pthread_cond_wait(&ctx->work, &ctx->lock);
		if (!ctx->queued) {
			pthread_mutex_unlock(&ctx->lock);
			break;
		}
		n = ctx->queued < SQLITE_MAX_BATCH ? ctx->queued : SQLITE_MAX_BATCH;
		memcpy(batch, ctx->queue, n * sizeof(*batch));
		memmove(ctx->queue, ctx->queue + n, (ctx->queued - n) * sizeof(*batch));
		ctx->queued -= n;
		pthread_mutex_unlock(&ctx->lock);

		rc = sq_step(begin);
		for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
			rc = sq_insert_row(ins, &ctx->rows[batch[i]->row]);
		if (rc == SQLITE_OK)
			rc = sq_step(commit);
		if (rc != SQLITE_OK) {
			sq_fail(ctx, rc);
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		}

		pthread_mutex_lock(&ctx->lock);
		for (size_t i = 0; i < n; i++) {
			batch[i]->rc = rc;
			batch[i]->done = true;
		}
		ctx->commits++;
		if (n > ctx->max_batch)
			ctx->max_batch = n;
		pthread_cond_broadcast(&ctx->done);
		pthread_mutex_unlock(&ctx->lock);
	}
	free(batch);
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	return NULL;
}

static void sq_remove(const char *path)
{
	const char *suffixes[] = { "", "-wal", "-shm", "-journal" };

	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		_cleanup_free_ char *p = xasprintf("%s%s", path, suffixes[i]);

		unlink(p);
	}
}

static void sq_run(struct bench *b, struct sq_row *rows, size_t n_rows, bool group,
		   struct sqlite_result *ret)
{
	_cleanup_free_ char *path = xasprintf("%s/%s.db", b->sqlite_path, group ? "group" : "row");
	struct sq_ctx ctx = { .path = path, .rows = rows, .n_rows = n_rows };
	pthread_t *threads = xcalloc((size_t)b->opt.clients, sizeof(*threads));
	pthread_t writer;
	sqlite3 *db;
	int64_t t0;

	pthread_mutex_init(&ctx.lock, NULL);
	pthread_cond_init(&ctx.work, NULL);
	pthread_cond_init(&ctx.done, NULL);
	sq_remove(path);
	db = sq_open(&ctx, true);
	if (sqlite3_exec(db, sq_schema, NULL, NULL, NULL) != SQLITE_OK)
		die("%s: %s", path, sqlite3_errmsg(db));
	sqlite3_close(db);

	t0 = now_ns();
	ctx.deadline_ns = t0 + (int64_t)(b->opt.sqlite_max_s * 1e9);
	if (group && pthread_create(&writer, NULL, sq_group_writer, &ctx) != 0)
		die("cannot start the SQLite writer thread");
	for (int c = 0; c < b->opt.clients; c++)
		if (pthread_create(&threads[c], NULL, group ? sq_group_producer : sq_row_writer,
				   &ctx) != 0)
			die("cannot start SQLite thread %d", c);
	for (int c = 0; c < b->opt.clients; c++)
		pthread_join(threads[c], NULL);
	if (group) {
		pthread_mutex_lock(&ctx.lock);
		ctx.closing = true;
		pthread_cond_signal(&ctx.work);
		pthread_mutex_unlock(&ctx.lock);
		pthread_join(writer, NULL);
	}

	ret->ran = true;
	ret->wall_s = (double)(now_ns() - t0) / 1e9;
	ret->lat = samples_summarize(&ctx.lat);
	ret->rows = ctx.lat.n;
	ret->rate = (double)ret->rows / ret->wall_s;
	ret->commits = group ? ctx.commits : ret->rows;
	ret->max_batch = group ? ctx.max_batch : 1;
	if (ctx.failed)
		ret->error = sqlite3_errstr(ctx.failed);

	samples_release(&ctx.lat);
	free(ctx.queue);
	free(threads);
	pthread_cond_destroy(&ctx.done);
	pthread_cond_destroy(&ctx.work);
	pthread_mutex_destroy(&ctx.lock);
	sq_remove(path);
}

/* p50 and p99 of a 4 KB overwrite plus fdatasync, in the SQLite directory. */
static void fsync_probe(struct bench *b)
{
	_cleanup_free_ char *path = xasprintf("%s/fsync.probe", b->sqlite_path);
	struct samples s = { 0 };
	char block[4096];
	struct summary sum;
	int fd;

	memset(block, 'x', sizeof(block));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die("cannot create %s: %s", path, strerror(errno));
	/* Allocate the blocks first, so the probe measures overwrites. */
	for (int i = 0; i < 16; i++)
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
			die("cannot write %s: %s", path, strerror(errno));
	fsync(fd);
	for (int i = 0; i < FSYNC_PROBE_WRITES; i++) {
		int64_t t0 = now_ns();

		if (pwrite(fd, block, sizeof(block), (off_t)(i % 16) * (off_t)sizeof(block)) !=
			(ssize_t)sizeof(block) ||
		    fdatasync(fd) < 0)
			die("cannot write %s: %s", path, strerror(errno));
		samples_add(&s, now_ns() - t0);
	}
	close(fd);
	unlink(path);
	sum = samples_summarize(&s);
	b->fsync_p50_ms = sum.p50;
	b->fsync_p99_ms = sum.p99;
	samples_release(&s);
}

static void run_sqlite(struct bench *b)
{
	_cleanup_free_ char *tmpl = xasprintf("%s/api_bench.XXXXXX", b->opt.sqlite_dir);
	struct sq_row *rows = xcalloc(b->opt.objects, sizeof(*rows));
	char body[4096];

	if (!mkdtemp(tmpl))
		die("cannot create a directory under %s: %s", b->opt.sqlite_dir, strerror(errno));
	b->sqlite_path = xstrdup(tmpl);

	/* The same rows c8s stored: the created objects as the server returned them. */
	for (size_t i = 0; i < b->opt.objects; i++) {
		struct object *o = &b->objects[i];
		char name[32];

		object_name(i, name, sizeof(name));
		rows[i].name = xasprintf("/registry/%s/%s/%s", kind_plural[object_kind(i)],
					 b->opt.namespace, name);
		if (!o->stored) {
			size_t len = object_body(i, 0, 1, body, sizeof(body));

			o->stored = xmemdup(body, len);
			o->stored_len = len;
		}
		rows[i].value = o->stored;
		rows[i].len = o->stored_len;
	}

	printf("  fdatasync probe\n");
	fflush(stdout);
	fsync_probe(b);
	printf("  sqlite, one transaction per row, %d writer threads\n", b->opt.clients);
	fflush(stdout);
	sq_run(b, rows, b->opt.objects, false, &b->sq_row);
	printf("  sqlite, group commit, %d producers and one writer\n", b->opt.clients);
	fflush(stdout);
	sq_run(b, rows, b->opt.objects, true, &b->sq_group);

	for (size_t i = 0; i < b->opt.objects; i++)
		free(rows[i].name);
	free(rows);
	rmdir(b->sqlite_path);
}

/* ---- report ------------------------------------------------------------- */

static double ops_per_s(const struct verb_result *r, int k)
{
	return r->wall_s > 0 ? (double)r->ops[k] / r->wall_s : 0;
}

static const char *mark(bool pass)
{
	return pass ? "PASS" : "FAIL";
}

struct target {
	const char *name;
	const char *unit;
	double want;
	bool at_least; /* value >= want passes; otherwise value < want passes */
	double got;
	bool known;
};

static size_t targets(const struct bench *b, struct target *t)
{
	const struct verb_result *c = &b->verbs[VERB_CREATE], *g = &b->verbs[VERB_GET];

	t[0] = (struct target){ "durable creates",	"/s",  TARGET_CREATES_PER_S, true,
				ops_per_s(c, KIND_MAX), c->ran };
	t[1] = (struct target){ "GET p99",
				"ms",
				TARGET_GET_P99_MS,
				false,
				g->lat[KIND_MAX].p99,
				g->ran && g->ops[KIND_MAX] };
	t[2] = (struct target){ "idle RSS",
				"MiB",
				TARGET_IDLE_RSS_KB / 1024.0,
				false,
				(double)b->mem[RSS_IDLE].rss / 1024.0,
				b->mem[RSS_IDLE].rss > 0 };
	return 3;
}

static bool target_pass(const struct target *t)
{
	return t->at_least ? t->got >= t->want : t->got < t->want;
}

static void print_mem(const char *what, const struct mem *m)
{
	if (m->rss < 0) {
		printf("  %-32s %9s\n", what, "n/a");
		return;
	}
	printf("  %-32s %6.1f", what, (double)m->rss / 1024.0);
	if (m->anon >= 0 && m->file >= 0)
		printf(" = %5.1f + %5.1f", (double)m->anon / 1024.0, (double)m->file / 1024.0);
	if (m->pss >= 0)
		printf(";  PSS %5.1f", (double)m->pss / 1024.0);
	printf("\n");
}

static void print_report(const struct bench *b)
{
	const struct verb_result *create = &b->verbs[VERB_CREATE];
	size_t connects = 0, requests = 0;
	struct target t[4];
	size_t n_targets;

	for (int c = 0; c < b->opt.clients; c++)
		connects += (size_t)b->workers[c].client.connects;
	for (int v = 0; v < VERB_MAX; v++)
		requests += b->verbs[v].ops[KIND_MAX] + b->verbs[v].errors[KIND_MAX];

	printf("\nc8s API benchmark: %s (%s), %d clients, %zu objects (%zu configmaps of %zu B, "
	       "%zu pods of %zu B as sent), %ld CPUs\n",
	       b->opt.server, b->server_version, b->opt.clients, b->opt.objects,
	       (b->opt.objects + 1) / 2, b->body_len[KIND_CONFIGMAP], b->opt.objects / 2,
	       b->body_len[KIND_POD], sysconf(_SC_NPROCESSORS_ONLN));
	printf("connections: %zu TLS connections opened for %zu measured requests (%zu while "
	       "warming up); list pages hold %zu items\n\n",
	       connects, requests, b->connects_before, b->list_page_items);

	printf("%-7s %-11s %8s %9s %8s %8s %8s %6s %10s %10s %6s %7s\n", "verb", "kind", "ops",
	       "ops/s", "p50 ms", "p99 ms", "max ms", "errors", "srv us/op", "cli us/op", "other",
	       "revs/op");
	for (int v = 0; v < VERB_MAX; v++) {
		const struct verb_result *r = &b->verbs[v];
		size_t n = r->ops[KIND_MAX];
		int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

		if (!r->ran)
			continue;
		for (int k = KIND_MAX; k >= 0; k--) {
			char srv[32] = "", cli[32] = "", other[32] = "", revs[32] = "";

			if (k == KIND_MAX && n) {
				if (r->server_cpu_s >= 0)
					snprintf(srv, sizeof(srv), "%.0f",
						 r->server_cpu_s * 1e6 / (double)n);
				snprintf(cli, sizeof(cli), "%.0f",
					 r->client_cpu_s * 1e6 / (double)n);
				if (r->other_cpu_s >= 0 && r->wall_s > 0)
					snprintf(other, sizeof(other), "%.0f%%",
						 100.0 * r->other_cpu_s / r->wall_s / ncpu);
				if (r->revisions >= 0)
					snprintf(revs, sizeof(revs), "%.2f",
						 (double)r->revisions / (double)n);
			}
			printf("%-7s %-11s %8zu %9.0f %8.2f %8.2f %8.2f %6zu %10s %10s %6s %7s\n",
			       k == KIND_MAX ? verb_name[v] : "",
			       k == KIND_MAX ? "all" : kind_plural[k], r->ops[k], ops_per_s(r, k),
			       r->lat[k].p50, r->lat[k].p99, r->lat[k].max, r->errors[k], srv, cli,
			       other, revs);
		}
		for (int p = 0; v == VERB_LIST && p < 2; p++)
			printf("%-7s %-11s %8zu %9s %8.2f %8.2f %8.2f\n", "",
			       p ? "next pages" : "first pages", r->page_lat[p].n, "",
			       r->page_lat[p].p50, r->page_lat[p].p99, r->page_lat[p].max);
	}
	printf("(srv, cli: CPU time of the server and of this client per operation; other: CPU "
	       "the rest of the machine used, in %% of all CPUs;\n revs/op: store revisions, i.e. "
	       "writes by anyone, per operation of the phase)\n");
	if (b->verbs[VERB_UPDATE].conflicts)
		printf("update: %zu conflicts (409) retried after a GET: the server's controllers "
		       "had written those objects\n",
		       b->verbs[VERB_UPDATE].conflicts);

	printf("\nwrite to watch event (from just before the request is sent to the event's "
	       "arrival)\n");
	for (int e = 0; e < EV_MAX; e++) {
		const struct watch_result *w = &b->watch[e];

		if (!b->verbs[event_verb[e]].ran)
			continue;
		printf("  %-8s after %-6s %8zu events  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms"
		       "  missing %zu\n",
		       event_name[e], verb_name[event_verb[e]], w->lat.n, w->lat.p50, w->lat.p99,
		       w->lat.max, w->missing);
	}

	printf("\nserver memory (PID %d), MiB: VmRSS = anonymous + binary and libraries; PSS\n",
	       (int)b->opt.server_pid);
	print_mem("idle, before the first request", &b->mem[RSS_IDLE]);
	print_mem("after creating the objects", &b->mem[RSS_OBJECTS]);
	print_mem("after gets, lists and updates", &b->mem[RSS_READS]);
	print_mem("after deleting them", &b->mem[RSS_DELETED]);
	if (b->hwm_kb >= 0)
		printf("  %-32s %6.1f\n", "peak (VmHWM)", (double)b->hwm_kb / 1024.0);
	if (b->mem[RSS_IDLE].threads >= 0)
		printf("  %-32s %6ld\n", "threads when idle", b->mem[RSS_IDLE].threads);

	if (b->sq_row.ran) {
		const struct sqlite_result *sr = &b->sq_row, *sg = &b->sq_group;

		printf("\nthe storage engine alone: the same %zu rows, SQLite %s, WAL, "
		       "synchronous=FULL, in %s\n",
		       b->opt.objects, sqlite3_libversion(), b->opt.sqlite_dir);
		printf("  %-42s p50 %7.2f ms  p99 %7.2f ms\n", "4 KB overwrite + fdatasync",
		       b->fsync_p50_ms, b->fsync_p99_ms);
		printf("  %-42s %8.0f inserts/s  p50 %7.2f ms  p99 %7.2f ms  (%zu rows)%s%s\n",
		       "one row per transaction, N writers", sr->rate, sr->lat.p50, sr->lat.p99,
		       sr->rows, sr->error ? "  error: " : "", sr->error ? sr->error : "");
		printf("  %-42s %8.0f inserts/s  p50 %7.2f ms  p99 %7.2f ms  (%zu rows, avg batch "
		       "%.1f, max %zu)%s%s\n",
		       "group commit, N producers, 1 writer", sg->rate, sg->lat.p50, sg->lat.p99,
		       sg->rows, sg->commits ? (double)sg->rows / (double)sg->commits : 0,
		       sg->max_batch, sg->error ? "  error: " : "", sg->error ? sg->error : "");
		if (create->ran && sg->rate > 0)
			printf(
			    "  %-42s %8.0f creates/s  = %.0f%% of SQLite group commit, %.1fx one "
			    "row per transaction\n",
			    "c8s durable creates (above)", ops_per_s(create, KIND_MAX),
			    100.0 * ops_per_s(create, KIND_MAX) / sg->rate,
			    sr->rate > 0 ? ops_per_s(create, KIND_MAX) / sr->rate : 0);
	}

	n_targets = targets(b, t);
	printf("\ntargets (informative; the exit status does not depend on them)\n");
	for (size_t i = 0; i < n_targets; i++) {
		char want[48];

		snprintf(want, sizeof(want), "%s %g %s", t[i].at_least ? ">=" : "<", t[i].want,
			 t[i].unit);
		if (!t[i].known) {
			printf("  [ -- ] %-16s %-14s not measured\n", t[i].name, want);
			continue;
		}
		printf("  [%s] %-16s %-14s got %.2f %s", mark(target_pass(&t[i])), t[i].name, want,
		       t[i].got, t[i].unit);
		if (!target_pass(&t[i]) && t[i].got > 0)
			printf("  (%.2fx %s the target)",
			       t[i].at_least ? t[i].want / t[i].got : t[i].got / t[i].want,
			       t[i].at_least ? "below" : "above");
		printf("\n");
	}
	fflush(stdout);
}

static json_t *json_summary(const struct summary *s)
{
	return json_pack("{s:I, s:f, s:f, s:f, s:f}", "n", (json_int_t)s->n, "p50_ms", s->p50,
			 "p99_ms", s->p99, "max_ms", s->max, "mean_ms", s->mean);
}

static json_t *json_sqlite(const struct sqlite_result *r)
{
	json_t *o =
	    json_pack("{s:I, s:f, s:f, s:o, s:I, s:I}", "rows", (json_int_t)r->rows, "seconds",
		      r->wall_s, "inserts_per_s", r->rate, "latency", json_summary(&r->lat),
		      "commits", (json_int_t)r->commits, "max_batch", (json_int_t)r->max_batch);

	json_object_set_new(o, "error", r->error ? json_string(r->error) : json_null());
	return o;
}

static json_t *json_mem(const struct mem *m)
{
	if (m->rss < 0)
		return json_null();
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "rss", (json_int_t)m->rss, "anon",
			 (json_int_t)m->anon, "file", (json_int_t)m->file, "pss",
			 (json_int_t)m->pss, "threads", (json_int_t)m->threads);
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

static void write_json(const struct bench *b)
{
	_cleanup_json_ json_t *root = json_object();
	json_t *verbs = json_object(), *watch = json_object(), *rss = json_object(),
	       *tgt = json_array();
	struct target t[4];
	size_t n_targets = targets(b, t);
	char stamp[32];
	struct utsname un;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	uname(&un);
	json_object_set_new(root, "benchmark", json_string("api"));
	json_object_set_new(root, "time", json_string(stamp));
	json_object_set_new(root, "note", b->opt.note ? json_string(b->opt.note) : json_null());
	json_object_set_new(root, "host",
			    json_pack("{s:s, s:s, s:I}", "hostname", un.nodename, "kernel",
				      un.release, "cpus",
				      (json_int_t)sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_set_new(root, "config",
			    json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:f, s:i, s:I, s:I}",
				      "server", b->opt.server, "server_version", b->server_version,
				      "namespace", b->opt.namespace, "clients", b->opt.clients,
				      "objects", (json_int_t)b->opt.objects, "configmap_bytes",
				      (json_int_t)b->body_len[KIND_CONFIGMAP], "pod_bytes",
				      (json_int_t)b->body_len[KIND_POD], "duration_s",
				      b->opt.duration_s, "list_limit", LIST_PAGE_SIZE,
				      "list_page_items", (json_int_t)b->list_page_items,
				      "server_pid", (json_int_t)b->opt.server_pid));

	for (int v = 0; v < VERB_MAX; v++) {
		const struct verb_result *r = &b->verbs[v];
		json_t *o;

		if (!r->ran)
			continue;
		o = json_pack("{s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "seconds", r->wall_s,
			      "ops_per_s", ops_per_s(r, KIND_MAX), "server_cpu_s", r->server_cpu_s,
			      "client_cpu_s", r->client_cpu_s, "other_cpu_s", r->other_cpu_s,
			      "store_revisions", (json_int_t)r->revisions, "conflicts_retried",
			      (json_int_t)r->conflicts);
		for (int k = KIND_MAX; k >= 0; k--)
			json_object_set_new(
			    o, k == KIND_MAX ? "all" : kind_plural[k],
			    json_pack("{s:I, s:I, s:f, s:o}", "ops", (json_int_t)r->ops[k],
				      "errors", (json_int_t)r->errors[k], "ops_per_s",
				      ops_per_s(r, k), "latency", json_summary(&r->lat[k])));
		if (v == VERB_LIST) {
			json_object_set_new(o, "first_pages", json_summary(&r->page_lat[0]));
			json_object_set_new(o, "next_pages", json_summary(&r->page_lat[1]));
		}
		json_object_set_new(verbs, verb_name[v], o);
	}
	json_object_set_new(root, "verbs", verbs);

	for (int e = 0; e < EV_MAX; e++)
		json_object_set_new(watch, event_name[e],
				    json_pack("{s:s, s:o, s:I, s:I}", "after",
					      verb_name[event_verb[e]], "latency",
					      json_summary(&b->watch[e].lat), "missing",
					      (json_int_t)b->watch[e].missing, "received",
					      (json_int_t)b->watch[e].received));
	json_object_set_new(root, "write_to_watch_event", watch);
	json_object_set_new(root, "watch_reconnects",
			    json_pack("{s:I, s:I}", kind_plural[KIND_CONFIGMAP],
				      (json_int_t)b->watchers[KIND_CONFIGMAP].reconnects,
				      kind_plural[KIND_POD],
				      (json_int_t)b->watchers[KIND_POD].reconnects));

	for (int p = 0; p < RSS_MAX; p++)
		json_object_set_new(rss, rss_key[p], json_mem(&b->mem[p]));
	json_object_set_new(rss, "peak", b->hwm_kb < 0 ? json_null() : json_integer(b->hwm_kb));
	json_object_set_new(root, "server_memory_kb", rss);

	if (b->sq_row.ran)
		json_object_set_new(
		    root, "sqlite",
		    json_pack("{s:s, s:s, s:{s:f, s:f}, s:o, s:o}", "version", sqlite3_libversion(),
			      "directory", b->opt.sqlite_dir, "fdatasync", "p50_ms",
			      b->fsync_p50_ms, "p99_ms", b->fsync_p99_ms, "one_row_per_transaction",
			      json_sqlite(&b->sq_row), "group_commit", json_sqlite(&b->sq_group)));

	for (size_t i = 0; i < n_targets; i++)
		json_array_append_new(
		    tgt,
		    json_pack("{s:s, s:s, s:s, s:f, s:o, s:o}", "name", t[i].name, "unit",
			      t[i].unit, "rule", t[i].at_least ? ">=" : "<", "target", t[i].want,
			      "value", t[i].known ? json_real(t[i].got) : json_null(), "pass",
			      t[i].known ? json_boolean(target_pass(&t[i])) : json_null()));
	json_object_set_new(root, "targets", tgt);

	mkdir_parents(b->opt.json_path);
	if (json_dump_file(root, b->opt.json_path, JSON_INDENT(2)) < 0)
		die("cannot write %s", b->opt.json_path);
	printf("\nresults written to %s\n", b->opt.json_path);
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs(
	    "Usage: api_bench --server URL --kubeconfig-dir DIR [options]\n"
	    "\n"
	    "Benchmark a running c8s API server (bench/api/run starts one for you).\n"
	    "\n"
	    "  --server URL           the server, e.g. https://127.0.0.1:6443\n"
	    "  --kubeconfig-dir DIR   the server's --data-dir: "
	    "DIR/tls/{ca.crt,admin.crt,admin.key}\n"
	    "  --server-pid PID       the server's PID, for RSS and CPU time (local servers only)\n"
	    "  --clients N            parallel clients, one TLS connection each (default 16)\n"
	    "  --objects N            objects created, half ConfigMaps, half Pods (default 10000)\n"
	    "  --gets N               GET requests (default: --objects)\n"
	    "  --lists N              LIST pages of 500 (default 200)\n"
	    "  --duration SECONDS     run the get and list phases this long each instead\n"
	    "  --namespace NAME       namespace to create and use (default api-bench-PID)\n"
	    "  --json PATH            JSON results (default bench/results/api.json)\n"
	    "  --sqlite-dir DIR       where the scratch SQLite files go (default $TMPDIR or /tmp)\n"
	    "  --sqlite-seconds S     cap on each SQLite variant (default 30)\n"
	    "  --no-sqlite            skip the storage-engine comparison\n"
	    "  --note TEXT            stored in the JSON (bench/api/run records the build)\n"
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
	if (errno || *end || end == s || v <= 0)
		die("%s: \"%s\" is not a positive number", opt, s);
	return v;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_SERVER = 256,
		OPT_KUBECONFIG_DIR,
		OPT_SERVER_PID,
		OPT_CLIENTS,
		OPT_OBJECTS,
		OPT_GETS,
		OPT_LISTS,
		OPT_DURATION,
		OPT_NAMESPACE,
		OPT_JSON,
		OPT_SQLITE_DIR,
		OPT_SQLITE_SECONDS,
		OPT_NO_SQLITE,
		OPT_NOTE,
		OPT_HELP,
	};
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "kubeconfig-dir", required_argument, NULL, OPT_KUBECONFIG_DIR },
		{ "server-pid", required_argument, NULL, OPT_SERVER_PID },
		{ "clients", required_argument, NULL, OPT_CLIENTS },
		{ "objects", required_argument, NULL, OPT_OBJECTS },
		{ "gets", required_argument, NULL, OPT_GETS },
		{ "lists", required_argument, NULL, OPT_LISTS },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "namespace", required_argument, NULL, OPT_NAMESPACE },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "sqlite-dir", required_argument, NULL, OPT_SQLITE_DIR },
		{ "sqlite-seconds", required_argument, NULL, OPT_SQLITE_SECONDS },
		{ "no-sqlite", no_argument, NULL, OPT_NO_SQLITE },
		{ "note", required_argument, NULL, OPT_NOTE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ 0 },
	};
	long gets = -1;
	int c;

	*o = (struct options){
		.clients = 16,
		.objects = 10000,
		.lists = 200,
		.json_path = "bench/results/api.json",
		.sqlite_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		.sqlite_max_s = 30,
	};
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SERVER:
			o->server = optarg;
			break;
		case OPT_KUBECONFIG_DIR:
			o->kubeconfig_dir = optarg;
			break;
		case OPT_SERVER_PID:
			o->server_pid = (pid_t)parse_long("--server-pid", optarg, 0, INT_MAX);
			break;
		case OPT_CLIENTS:
			o->clients = (int)parse_long("--clients", optarg, 1, 1024);
			break;
		case OPT_OBJECTS:
			o->objects = (size_t)parse_long("--objects", optarg, 2, 10000000);
			break;
		case OPT_GETS:
			gets = parse_long("--gets", optarg, 1, LONG_MAX);
			break;
		case OPT_LISTS:
			o->lists = (size_t)parse_long("--lists", optarg, 1, LONG_MAX);
			break;
		case OPT_DURATION:
			o->duration_s = parse_double("--duration", optarg);
			break;
		case OPT_NAMESPACE:
			o->namespace = optarg;
			break;
		case OPT_JSON:
			o->json_path = optarg;
			break;
		case OPT_SQLITE_DIR:
			o->sqlite_dir = optarg;
			break;
		case OPT_SQLITE_SECONDS:
			o->sqlite_max_s = parse_double("--sqlite-seconds", optarg);
			break;
		case OPT_NO_SQLITE:
			o->no_sqlite = true;
			break;
		case OPT_NOTE:
			o->note = optarg;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			exit(EXIT_FAILURE);
		}
	}
	if (optind < argc)
		die("unexpected argument \"%s\" (see --help)", argv[optind]);
	if (!o->server || !o->kubeconfig_dir)
		die("--server and --kubeconfig-dir are required; bench/api/run starts a server "
		    "and passes both");
	o->gets = gets > 0 ? (size_t)gets : o->objects;
}

int main(int argc, char **argv)
{
	struct bench b = { 0 };
	_cleanup_free_ char *ns = NULL;
	char body[4096];

	parse_options(argc, argv, &b.opt);
	if (!b.opt.namespace)
		b.opt.namespace = ns = xasprintf("api-bench-%d", (int)getpid());
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		die("curl_global_init failed");
	for (int k = 0; k < KIND_MAX; k++)
		b.body_len[k] = object_body((size_t)k, 0, 1, body, sizeof(body));
	b.objects = xcalloc(b.opt.objects, sizeof(*b.objects));
	for (int p = 0; p < RSS_MAX; p++)
		b.mem[p] = (struct mem){ -1, -1, -1, -1, -1 };

	/* Before anything else touches the server. */
	b.mem[RSS_IDLE] = proc_mem(b.opt.server_pid);

	setup(&b);
	printf("api_bench: %s, namespace %s, %d clients, %zu objects\n", b.opt.server,
	       b.opt.namespace, b.opt.clients, b.opt.objects);
	fflush(stdout);

	/* The watches start before the first create and are registered (headers
	 * received) before it is sent. A resourceVersion makes them lossless even
	 * if a server sends its headers late. */
	for (int k = 0; k < KIND_MAX; k++)
		watcher_start(&b.watchers[k], &b, (enum kind)k, list_rv(&b, (enum kind)k));
	for (int k = 0, waited = 0; k < KIND_MAX && waited < 5000; waited += 5) {
		if (atomic_load(&b.watchers[k].established))
			k++;
		else
			sleep_ms(5);
	}

	run_phase(&b, VERB_CREATE, b.opt.clients, b.opt.objects, 0);
	wait_for_events(&b, EV_ADDED);
	b.mem[RSS_OBJECTS] = proc_mem(b.opt.server_pid);

	if (b.opt.duration_s > 0) {
		run_phase(&b, VERB_GET, b.opt.clients, 0, b.opt.duration_s);
		run_phase(&b, VERB_GET_ONE, 1, 0, b.opt.duration_s);
		b.list_page_items = probe_list_page(&b);
		run_phase(&b, VERB_LIST, b.opt.clients, 0, b.opt.duration_s);
	} else {
		run_phase(&b, VERB_GET, b.opt.clients, b.opt.gets, 0);
		run_phase(&b, VERB_GET_ONE, 1, b.opt.gets / 4 + 1, 0);
		b.list_page_items = probe_list_page(&b);
		run_phase(&b, VERB_LIST, b.opt.clients, b.opt.lists, 0);
	}
	run_phase(&b, VERB_UPDATE, b.opt.clients, b.opt.objects, 0);
	wait_for_events(&b, EV_MODIFIED);
	b.mem[RSS_READS] = proc_mem(b.opt.server_pid);

	run_phase(&b, VERB_DELETE, b.opt.clients, b.opt.objects, 0);
	wait_for_events(&b, EV_DELETED);
	b.mem[RSS_DELETED] = proc_mem(b.opt.server_pid);
	b.hwm_kb = proc_kb(b.opt.server_pid, "status", "VmHWM");

	for (int k = 0; k < KIND_MAX; k++)
		watcher_stop(&b.watchers[k]);
	summarize_watch(&b);
	teardown(&b);

	if (!b.opt.no_sqlite)
		run_sqlite(&b);

	print_report(&b);
	write_json(&b);

	for (int c = 0; c < b.opt.clients; c++) {
		struct worker *w = &b.workers[c];

		client_release(&w->client);
		free(w->list_continue);
		for (int k = 0; k < KIND_MAX; k++)
			samples_release(&w->lat[k]);
		samples_release(&w->page_lat[0]);
		samples_release(&w->page_lat[1]);
	}
	for (size_t i = 0; i < b.opt.objects; i++)
		free(b.objects[i].stored);
	free(b.objects);
	free(b.workers);
	free(b.ca);
	free(b.cert);
	free(b.key);
	free(b.ns_url);
	free(b.server_version);
	free(b.sqlite_path);
	curl_global_cleanup();
	return EXIT_SUCCESS;
}
