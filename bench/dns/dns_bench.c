/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DNS queries per second (a benchmark, not a test). A model of S Services
 * (ClusterIP, named port) and H headless ones with E endpoints each is
 * loaded into a dns_db; then
 *   1. answer path: dns_query_parse + dns_db_answer in a loop on one thread
 *      (the per-core ceiling, no sockets);
 *   2. server: dns_server_start_db on 127.0.0.1 with W UDP workers; C client
 *      threads keep a window of queries in flight (sendmmsg/recvmmsg) for
 *      D seconds; mixed names (A of services, headless, SRV, NXDOMAIN).
 * Prints a table and writes JSON (--json PATH).
 */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "lib/macro.h"
#include "net/dns.h"
#include "net/dns_db.h"
#include "net/dns_msg.h"

static int nsvc = 1000, nheadless = 100, neps = 10, workers = 1, clients = 1, seconds = 5;
static int window = 64;
static const char *json_path = "bench/results/dns.json";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t mkquery(uint8_t *buf, uint16_t id, const char *name, uint16_t type)
{
	size_t n = 12;
	memset(buf, 0, 12);
	buf[0] = (uint8_t)(id >> 8);
	buf[1] = (uint8_t)id;
	buf[2] = 1;
	buf[5] = 1;
	for (const char *p = name; *p;) {
		size_t l = strcspn(p, ".");
		buf[n++] = (uint8_t)l;
		memcpy(buf + n, p, l);
		n += l;
		p += l;
		if (*p == '.')
			p++;
	}
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = (uint8_t)type;
	buf[n++] = 0;
	buf[n++] = 1;
	return n;
}

#define NQ 1024
static uint8_t queries[NQ][300];
static size_t qlens[NQ];

static void load(struct dns_db *db)
{
	struct dns_port port = { .name = "http", .protocol = "tcp", .port = 80 };
	for (int i = 0; i < nsvc; i++) {
		char name[32], ips[32];
		snprintf(name, sizeof(name), "svc-%d", i);
		snprintf(ips, sizeof(ips), "10.43.%d.%d", 1 + i / 250, 1 + i % 250);
		struct dns_ip ip;
		dns_ip_parse(ips, &ip);
		dns_db_set_service(db, &(struct dns_service){ .ns = "bench",
							      .name = name,
							      .ips = &ip,
							      .nips = 1,
							      .ports = &port,
							      .nports = 1 });
	}
	for (int i = 0; i < nheadless; i++) {
		char name[32], sl[40];
		snprintf(name, sizeof(name), "hl-%d", i);
		snprintf(sl, sizeof(sl), "hl-%d-x", i);
		dns_db_set_service(
		    db, &(struct dns_service){ .ns = "bench", .name = name, .headless = true });
		struct dns_ip *ips = xnew(struct dns_ip, neps);
		struct dns_endpoint *eps = xnew(struct dns_endpoint, neps);
		for (int j = 0; j < neps; j++) {
			char s[32];
			snprintf(s, sizeof(s), "10.244.%d.%d", i % 250, 1 + j % 250);
			dns_ip_parse(s, &ips[j]);
			eps[j] = (struct dns_endpoint){ &ips[j], 1, NULL, true };
		}
		dns_db_set_slice(db, &(struct dns_slice){ .ns = "bench",
							  .name = sl,
							  .service = name,
							  .eps = eps,
							  .neps = (size_t)neps,
							  .ports = &port,
							  .nports = 1 });
		free(ips);
		free(eps);
	}
	for (int i = 0; i < NQ; i++) {
		char n[128];
		uint16_t type = DNS_T_A;
		switch (i % 8) {
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
			snprintf(n, sizeof(n), "svc-%d.bench.svc.cluster.local", (i * 7919) % nsvc);
			break;
		case 5:
			snprintf(n, sizeof(n), "hl-%d.bench.svc.cluster.local", i % nheadless);
			break;
		case 6:
			snprintf(n, sizeof(n), "_http._tcp.svc-%d.bench.svc.cluster.local",
				 i % nsvc);
			type = DNS_T_SRV;
			break;
		default:
			snprintf(n, sizeof(n), "nope-%d.bench.svc.cluster.local", i);
		}
		qlens[i] = mkquery(queries[i], (uint16_t)i, n, type);
	}
}

static double bench_answer_path(struct dns_db *db, double secs)
{
	uint8_t out[DNS_UDP_PLAIN];
	struct dns_query q;
	size_t len;
	unsigned long n = 0;
	double t0 = now_s(), t;
	do {
		for (int i = 0; i < 4096; i++, n++) {
			int k = (int)(n % NQ);
			if (dns_query_parse(queries[k], qlens[k], &q) == 0)
				dns_db_answer(db, &q, out, sizeof(out), &len, NULL);
		}
		t = now_s();
	} while (t - t0 < secs);
	return (double)n / (t - t0);
}

struct client {
	pthread_t thread;
	int port;
	unsigned long answered, lost;
	double secs;
};

static void *client_thread(void *arg)
{
	struct client *c = arg;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)c->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	connect(fd, (struct sockaddr *)&a, sizeof(a));
	int sz = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	enum { B = 32 };
	struct mmsghdr m[B];
	struct iovec iov[B];
	static _Thread_local uint8_t rbuf[B][1500];
	unsigned long sent = 0, got = 0, next = (unsigned long)random();
	int inflight = 0;
	double t0 = now_s(), end = t0 + c->secs;
	while (now_s() < end) {
		int k = 0;
		while (inflight + k < window && k < B) {
			int qi = (int)(next++ % NQ);
			iov[k] = (struct iovec){ queries[qi], qlens[qi] };
			m[k].msg_hdr = (struct msghdr){ .msg_iov = &iov[k], .msg_iovlen = 1 };
			k++;
		}
		if (k) {
			int s = sendmmsg(fd, m, (unsigned)k, 0);
			if (s > 0) {
				inflight += s;
				sent += (unsigned long)s;
			}
		}
		struct pollfd pf = { fd, POLLIN, 0 };
		if (poll(&pf, 1, 100) <= 0) {
			inflight = 0; /* count the window as lost and refill */
			continue;
		}
		for (int i = 0; i < B; i++) {
			iov[i] = (struct iovec){ rbuf[i], sizeof(rbuf[i]) };
			m[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int r = recvmmsg(fd, m, B, MSG_DONTWAIT, NULL);
		if (r > 0) {
			got += (unsigned long)r;
			inflight -= r;
			if (inflight < 0)
				inflight = 0;
		}
	}
	c->secs = now_s() - t0;
	c->answered = got;
	c->lost = sent > got ? sent - got : 0;
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";
		if (streq(argv[i], "--services"))
			nsvc = atoi(v), i++;
		else if (streq(argv[i], "--headless"))
			nheadless = atoi(v), i++;
		else if (streq(argv[i], "--endpoints"))
			neps = atoi(v), i++;
		else if (streq(argv[i], "--workers"))
			workers = atoi(v), i++;
		else if (streq(argv[i], "--clients"))
			clients = atoi(v), i++;
		else if (streq(argv[i], "--seconds"))
			seconds = atoi(v), i++;
		else if (streq(argv[i], "--window"))
			window = atoi(v), i++;
		else if (streq(argv[i], "--json"))
			json_path = v, i++;
		else {
			fprintf(stderr,
				"usage: dns_bench [--services N] [--headless N] [--endpoints N] "
				"[--workers N] [--clients N] [--seconds N] [--window N] [--json "
				"PATH]\n");
			return 2;
		}
	}
	if (nsvc < 1 || nheadless < 1 || neps < 1 || clients < 1 || clients > 64 || seconds < 1) {
		fprintf(stderr, "dns_bench: bad option value\n");
		return 2;
	}
	struct dns_db *db = dns_db_new("cluster.local", 5);
	double t0 = now_s();
	load(db);
	double load_s = now_s() - t0;
	double path_qps = bench_answer_path(db, 2.0);

	struct dns_server *srv = NULL;
	struct dns_opts o = { .bind_address = "127.0.0.1", .port = 0, .threads = workers };
	if (dns_server_start_db(db, &o, &srv) < 0) {
		fprintf(stderr, "dns_bench: cannot start the server\n");
		return 1;
	}
	struct client cl[64];
	for (int i = 0; i < clients; i++) {
		cl[i] = (struct client){ .port = dns_server_port(srv), .secs = seconds };
		pthread_create(&cl[i].thread, NULL, client_thread, &cl[i]);
	}
	unsigned long answered = 0, lost = 0;
	double secs = 0;
	for (int i = 0; i < clients; i++) {
		pthread_join(cl[i].thread, NULL);
		answered += cl[i].answered;
		lost += cl[i].lost;
		secs = cl[i].secs > secs ? cl[i].secs : secs;
	}
	dns_server_stop(srv);
	dns_db_free(db);
	double qps = (double)answered / secs;

	printf("DNS benchmark: %d services + %d headless x %d endpoints\n", nsvc, nheadless, neps);
	printf("  %-44s %12.0f ms\n", "index build", load_s * 1000);
	printf("  %-44s %12.0f q/s\n", "answer path (parse + answer, 1 thread)", path_qps);
	printf("  %-44s %12.0f q/s  (%d worker%s, %d client%s, %lu lost)\n",
	       "UDP server on 127.0.0.1", qps, workers, workers == 1 ? "" : "s", clients,
	       clients == 1 ? "" : "s", lost);
	FILE *f = fopen(json_path, "w");
	if (f) {
		fprintf(f,
			"{\"services\":%d,\"headless\":%d,\"endpoints\":%d,\"workers\":%d,"
			"\"clients\":%d,\"seconds\":%.2f,\"index_build_ms\":%.1f,"
			"\"answer_path_qps\":%.0f,\"udp_qps\":%.0f,\"udp_answered\":%lu,"
			"\"udp_lost\":%lu}\n",
			nsvc, nheadless, neps, workers, clients, secs, load_s * 1000, path_qps, qps,
			answered, lost);
		fclose(f);
		printf("  JSON: %s\n", json_path);
	}
	return 0;
}
