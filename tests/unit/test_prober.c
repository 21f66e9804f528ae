/* SPDX-License-Identifier: Apache-2.0 */
/* Probes and lifecycle handlers against a real HTTP server and TCP listeners
 * on loopback (the "pod netns" is /proc/self/ns/net), a fake exec, and one
 * real separate network namespace; the prober's thresholds, delays, startup
 * gating and removal while a probe runs. */
#include "unit.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "kubelet/probe_internal.h"
#include "kubelet/prober.h"

#define SELF_NETNS "/proc/self/ns/net"
#define UNIT_USEC  50000 /* one "second" of periods and delays in prober tests */

static int64_t mono(void)
{
	return (int64_t)now_usec_monotonic();
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Poll a condition for at most ms milliseconds. */
#define WAIT_UNTIL(cond, ms)                                \
	({                                                  \
		int64_t _end = mono() + (int64_t)(ms)*1000; \
		bool _ok;                                   \
		while (!(_ok = (cond)) && mono() < _end)    \
			msleep(5);                          \
		_ok;                                        \
	})

/* ---- a tiny HTTP server on 127.0.0.1 ---- */

static int http_port;
static int http_fd = -1;
static pthread_t http_thread;
static atomic_bool http_stop;
static atomic_int http_status = 200; /* what /status answers */
static atomic_int http_hits_ok;
static pthread_mutex_t http_lock = PTHREAD_MUTEX_INITIALIZER;
static char http_last_req[4096];

static void send_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		buf += w;
		n -= (size_t)w;
	}
}

static void respond(int fd, int status, const char *extra)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf),
			 "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n%s\r\nok",
			 status, extra ? extra : "");
	send_all(fd, buf, (size_t)n);
}

static void serve_one(int fd)
{
	char req[4096];
	size_t len = 0;
	while (len < sizeof(req) - 1) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		if (poll(&pfd, 1, 2000) <= 0)
			return;
		ssize_t r = read(fd, req + len, sizeof(req) - 1 - len);
		if (r <= 0)
			return;
		len += (size_t)r;
		req[len] = 0;
		if (req[0] == 0x16) /* a TLS ClientHello: hang up */
			return;
		if (strstr(req, "\r\n\r\n"))
			break;
	}
	pthread_mutex_lock(&http_lock);
	memcpy(http_last_req, req, len + 1);
	pthread_mutex_unlock(&http_lock);

	char path[256] = "";
	sscanf(req, "GET %255s", path);
	char loc[300];
	if (streq(path, "/ok")) {
		atomic_fetch_add(&http_hits_ok, 1);
		respond(fd, 200, NULL);
	} else if (streq(path, "/fail")) {
		respond(fd, 500, NULL);
	} else if (streq(path, "/status")) {
		respond(fd, atomic_load(&http_status), NULL);
	} else if (streq(path, "/slow")) {
		/* answer late, unless the client gives up first */
		for (int i = 0; i < 250 && !atomic_load(&http_stop); i++) {
			struct pollfd pfd = { fd, POLLIN, 0 };
			if (poll(&pfd, 1, 10) > 0)
				return;
		}
		respond(fd, 200, NULL);
	} else if (streq(path, "/redir-local")) {
		snprintf(loc, sizeof(loc), "Location: http://127.0.0.1:%d/ok\r\n", http_port);
		respond(fd, 302, loc);
	} else if (streq(path, "/redir-remote")) {
		/* another host (still loopback): the probe must not follow it */
		snprintf(loc, sizeof(loc), "Location: http://127.0.0.2:%d/fail\r\n", http_port);
		respond(fd, 302, loc);
	} else if (streq(path, "/redir-fail")) {
		respond(fd, 301, "Location: /fail\r\n");
	} else if (streq(path, "/loop")) {
		respond(fd, 302, "Location: /loop\r\n");
	} else if (streq(path, "/hdr")) {
		respond(fd, strstr(req, "\r\nX-Probe: yes\r\n") ? 200 : 400, NULL);
	} else if (streq(path, "/big")) {
		static char chunk[65536];
		const char *hdr = "HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\n\r\n";
		memset(chunk, 'x', sizeof(chunk));
		send_all(fd, hdr, strlen(hdr));
		for (int i = 0; i < 64; i++) {
			ssize_t w = send(fd, chunk, sizeof(chunk), MSG_NOSIGNAL);
			if (w <= 0)
				break;
		}
	} else {
		respond(fd, 404, NULL);
	}
}

static void *http_main(void *arg)
{
	while (!atomic_load(&http_stop)) {
		struct pollfd pfd = { http_fd, POLLIN, 0 };
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		int c = accept4(http_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve_one(c);
		shutdown(c, SHUT_WR);
		close(c);
	}
	return NULL;
}

static int listen_loopback(int backlog, int *ret_port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*ret_port = ntohs(a.sin_port);
	return fd;
}

/* A loopback port with nothing listening. */
static int closed_port(void)
{
	int port, fd = listen_loopback(1, &port);
	close(fd);
	return port;
}

static int setup_server(void **state)
{
	http_fd = listen_loopback(64, &http_port);
	atomic_store(&http_stop, false);
	return pthread_create(&http_thread, NULL, http_main, NULL);
}

static int teardown_server(void **state)
{
	atomic_store(&http_stop, true);
	pthread_join(http_thread, NULL);
	close(http_fd);
	return 0;
}

/* ---- a fake exec: behaviour by argv[0] ---- */

enum fake_mode { FAKE_OK, FAKE_FAIL, FAKE_TIMEOUT, FAKE_BLOCK, FAKE_FLAKY };

struct fake_cmd {
	const char *tag;
	atomic_int mode;
	atomic_int calls;
	atomic_int running;
	_Atomic int64_t first_call;
	int ok_after; /* FAKE_FLAKY: fail this many calls, then succeed */
};

static struct fake_cmd fake_cmds[32];
static char fake_last_ctr[64];

static struct fake_cmd *fake(const char *tag, int mode)
{
	for (size_t i = 0; i < ARRAY_SIZE(fake_cmds); i++) {
		struct fake_cmd *f = &fake_cmds[i];
		if (!f->tag || streq(f->tag, tag)) {
			f->tag = tag;
			atomic_store(&f->mode, mode);
			atomic_store(&f->calls, 0);
			atomic_store(&f->first_call, 0);
			f->ok_after = 0;
			return f;
		}
	}
	fail_msg("too many fake commands");
	return NULL;
}

static int fake_run(void *ud, const char *container_id, char *const *argv, int timeout_s,
		    int *ret_code, char **ret_output)
{
	struct fake_cmd *f = NULL;
	snprintf(fake_last_ctr, sizeof(fake_last_ctr), "%s", container_id);
	for (size_t i = 0; i < ARRAY_SIZE(fake_cmds); i++)
		if (fake_cmds[i].tag && streq(fake_cmds[i].tag, argv[0]))
			f = &fake_cmds[i];
	if (!f) {
		*ret_code = 127;
		*ret_output = xstrdup("not found");
		return 0;
	}
	int n = atomic_fetch_add(&f->calls, 1) + 1;
	int64_t zero = 0;
	atomic_compare_exchange_strong(&f->first_call, &zero, mono());
	switch (atomic_load(&f->mode)) {
	case FAKE_OK:
		*ret_code = 0;
		*ret_output = xstrdup("");
		return 0;
	case FAKE_FAIL:
		*ret_code = 1;
		*ret_output = xstrdup("boom\n");
		return 0;
	case FAKE_TIMEOUT:
		return -ETIMEDOUT;
	case FAKE_BLOCK:
		atomic_store(&f->running, 1);
		msleep(1000);
		atomic_store(&f->running, 0);
		*ret_code = 0;
		return 0;
	case FAKE_FLAKY:
		*ret_code = n > f->ok_after ? 0 : 1;
		*ret_output = xstrdup(n > f->ok_after ? "" : "not yet");
		return 0;
	}
	return -EINVAL;
}

static const struct probe_exec fake_exec = { .run = fake_run };

/* ---- callback recorder ---- */

struct event {
	char ctr[32];
	enum probe_type type;
	enum probe_result result;
	bool failed;
	char msg[128];
	int64_t at;
};

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct event events[256];
static int nevents;
static struct prober *reentrant_prober; /* remove the container from its callback */
static atomic_int slow_callback_ms;	/* make callbacks take this long */
static atomic_int in_callback;

static void on_changed(void *ud, const char *pod_uid, const char *container, enum probe_type type,
		       enum probe_result result, const char *msg)
{
	pthread_mutex_lock(&ev_lock);
	if (nevents < (int)ARRAY_SIZE(events)) {
		struct event *e = &events[nevents++];
		snprintf(e->ctr, sizeof(e->ctr), "%s", container);
		e->type = type;
		e->result = result;
		e->failed = msg != NULL;
		snprintf(e->msg, sizeof(e->msg), "%s", msg ? msg : "");
		e->at = mono();
	}
	pthread_mutex_unlock(&ev_lock);
	if (atomic_load(&slow_callback_ms) > 0) {
		atomic_store(&in_callback, 1);
		msleep(atomic_load(&slow_callback_ms));
		atomic_store(&in_callback, 0);
	}
	if (reentrant_prober && result == PROBE_FAILURE)
		prober_remove(reentrant_prober, pod_uid, container);
}

static const struct prober_callbacks recorder = { .changed = on_changed };

static void events_reset(void)
{
	pthread_mutex_lock(&ev_lock);
	nevents = 0;
	pthread_mutex_unlock(&ev_lock);
}

static int events_count(const char *ctr, int type, int result)
{
	int n = 0;
	pthread_mutex_lock(&ev_lock);
	for (int i = 0; i < nevents; i++)
		if ((!ctr || streq(events[i].ctr, ctr)) &&
		    (type < 0 || (int)events[i].type == type) &&
		    (result < 0 || (int)events[i].result == result))
			n++;
	pthread_mutex_unlock(&ev_lock);
	return n;
}

static struct event event_at(int i)
{
	pthread_mutex_lock(&ev_lock);
	struct event e = events[i];
	pthread_mutex_unlock(&ev_lock);
	return e;
}

/* ---- helpers ---- */

static json_t *js(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_error_t err;
	json_t *j = json_loads(buf, 0, &err);
	if (!j)
		fail_msg("bad json %s: %s", buf, err.text);
	return j;
}

static enum probe_result run_probe(const char *probe_json, const json_t *ctr, const char *netns,
				   int timeout_s, char **ret_msg)
{
	json_t *probe = js("%s", probe_json);
	struct probe_target t = {
		.netns = netns, .pod_ip = "127.0.0.1", .container_id = "cid-1", .container = ctr
	};
	enum probe_result r = probe_run_once(probe, &t, &fake_exec, timeout_s, ret_msg);
	json_decref(probe);
	return r;
}

static void expect_http(const char *path, enum probe_result want, const char *msg_part)
{
	char probe[256];
	char *msg = NULL;
	snprintf(probe, sizeof(probe), "{\"httpGet\":{\"path\":\"%s\",\"port\":%d}}", path,
		 http_port);
	enum probe_result r = run_probe(probe, NULL, SELF_NETNS, 2, &msg);
	if (r != want || (msg_part && (!msg || !strstr(msg, msg_part))) || (!msg_part && msg))
		fail_msg("%s: result %d (want %d), msg \"%s\" (want \"%s\")", path, r, want,
			 msg ? msg : "(null)", msg_part ? msg_part : "(null)");
	free(msg);
}

/* ---- one-shot probes ---- */

static void test_http_status(void **state)
{
	expect_http("/ok", PROBE_SUCCESS, NULL);
	expect_http("/fail", PROBE_FAILURE, "HTTP probe failed with statuscode: 500");
	expect_http("/nothing", PROBE_FAILURE, "HTTP probe failed with statuscode: 404");
	/* path without a leading slash, and the default headers */
	char *msg = NULL;
	char probe[128];
	snprintf(probe, sizeof(probe), "{\"httpGet\":{\"path\":\"ok\",\"port\":%d}}", http_port);
	assert_int_equal(run_probe(probe, NULL, SELF_NETNS, 2, &msg), PROBE_SUCCESS);
	assert_null(msg);
	pthread_mutex_lock(&http_lock);
	assert_non_null(strstr(http_last_req, "GET /ok HTTP/1.1\r\n"));
	assert_non_null(strstr(http_last_req, "\r\nUser-Agent: kube-probe/1.32\r\n"));
	assert_non_null(strstr(http_last_req, "\r\nAccept: */*\r\n"));
	assert_non_null(strstr(http_last_req, "\r\nHost: 127.0.0.1:"));
	pthread_mutex_unlock(&http_lock);
	/* explicit host and scheme */
	snprintf(probe, sizeof(probe),
		 "{\"httpGet\":{\"host\":\"127.0.0.1\",\"scheme\":\"HTTP\",\"path\":\"/"
		 "ok\",\"port\":%d}}",
		 http_port);
	struct probe_target t = { .netns = SELF_NETNS }; /* no pod IP: host given */
	json_t *p = js("%s", probe);
	assert_int_equal(probe_run_once(p, &t, NULL, 1, &msg), PROBE_SUCCESS);
	json_decref(p);
	/* no host at all */
	p = js("{\"httpGet\":{\"path\":\"/ok\",\"port\":%d}}", http_port);
	assert_int_equal(probe_run_once(p, &t, NULL, 1, &msg), PROBE_FAILURE);
	assert_non_null(strstr(msg, "no pod IP"));
	free(msg);
	json_decref(p);
}

static void test_http_refused_and_timeout(void **state)
{
	char probe[256], want[256];
	char *msg = NULL;
	int port = closed_port();
	snprintf(probe, sizeof(probe), "{\"httpGet\":{\"path\":\"/healthz\",\"port\":%d}}", port);
	snprintf(want, sizeof(want),
		 "Get \"http://127.0.0.1:%d/healthz\": dial tcp 127.0.0.1:%d: connect: connection "
		 "refused",
		 port, port);
	assert_int_equal(run_probe(probe, NULL, SELF_NETNS, 1, &msg), PROBE_FAILURE);
	assert_string_equal(msg, want);
	free(msg);

	int64_t t0 = mono();
	snprintf(probe, sizeof(probe), "{\"httpGet\":{\"path\":\"/slow\",\"port\":%d}}", http_port);
	assert_int_equal(run_probe(probe, NULL, SELF_NETNS, 1, &msg), PROBE_FAILURE);
	int64_t took = mono() - t0;
	snprintf(want, sizeof(want),
		 "Get \"http://127.0.0.1:%d/slow\": context deadline exceeded (Client.Timeout "
		 "exceeded while awaiting headers)",
		 http_port);
	assert_string_equal(msg, want);
	assert_true(took >= 900000 && took < 2000000);
	free(msg);

	/* HTTPS against a plain HTTP server: a clear TLS failure, no hang */
	snprintf(probe, sizeof(probe),
		 "{\"httpGet\":{\"scheme\":\"HTTPS\",\"path\":\"/ok\",\"port\":%d}}", http_port);
	assert_int_equal(run_probe(probe, NULL, SELF_NETNS, 2, &msg), PROBE_FAILURE);
	assert_true(startswith(msg, "Get \"https://127.0.0.1:"));
	free(msg);
	snprintf(probe, sizeof(probe),
		 "{\"httpGet\":{\"scheme\":\"FTP\",\"path\":\"/ok\",\"port\":%d}}", http_port);
	assert_int_equal(run_probe(probe, NULL, SELF_NETNS, 2, &msg), PROBE_FAILURE);
	assert_string_equal(msg, "unsupported httpGet scheme \"FTP\"");
	free(msg);
}

static void test_http_redirects_and_body(void **state)
{
	int before = atomic_load(&http_hits_ok);
	expect_http("/redir-local", PROBE_SUCCESS, NULL);
	assert_int_equal(atomic_load(&http_hits_ok), before + 1); /* followed to /ok */
	expect_http("/redir-remote", PROBE_SUCCESS, "Probe terminated redirects");
	expect_http("/redir-fail", PROBE_FAILURE, "HTTP probe failed with statuscode: 500");
	expect_http("/loop", PROBE_FAILURE, "stopped after 10 redirects");
	/* 4 MiB of body: read only the first KiBs, succeed quickly */
	int64_t t0 = mono();
	expect_http("/big", PROBE_SUCCESS, NULL);
	assert_true(mono() - t0 < 1500000);
}

/* ---- an HTTPS server with a throwaway self-signed certificate ---- */

struct tls_server {
	int fd, port;
	atomic_bool stop;
	atomic_int served;
	pthread_t th;
	gnutls_certificate_credentials_t cred;
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
};

static void *tls_main(void *arg)
{
	struct tls_server *t = arg;
	while (!atomic_load(&t->stop)) {
		struct pollfd pfd = { t->fd, POLLIN, 0 };
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		int c = accept4(t->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		gnutls_session_t s;
		gnutls_init(&s, GNUTLS_SERVER);
		gnutls_set_default_priority(s);
		gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred);
		gnutls_transport_set_int(s, c);
		gnutls_handshake_set_timeout(s, 2000);
		int r;
		do
			r = gnutls_handshake(s);
		while (r < 0 && !gnutls_error_is_fatal(r));
		if (r >= 0) {
			char req[2048];
			size_t len = 0;
			while (len < sizeof(req) - 1) {
				ssize_t n = gnutls_record_recv(s, req + len, sizeof(req) - 1 - len);
				if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
					continue;
				if (n <= 0)
					break;
				len += (size_t)n;
				req[len] = 0;
				if (strstr(req, "\r\n\r\n"))
					break;
			}
			const char *resp = strstr(req, "GET /ok ")
					       ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
					       : "HTTP/1.1 418 No\r\nContent-Length: 0\r\n\r\n";
			atomic_fetch_add(&t->served, 1);
			gnutls_record_send(s, resp, strlen(resp));
			gnutls_bye(s, GNUTLS_SHUT_WR);
		}
		gnutls_deinit(s);
		close(c);
	}
	return NULL;
}

static void tls_start(struct tls_server *t)
{
	unsigned char serial = 1;
	time_t now = time(NULL);
	assert_int_equal(gnutls_x509_privkey_init(&t->key), 0);
	assert_int_equal(
	    gnutls_x509_privkey_generate(t->key, GNUTLS_PK_ECDSA,
					 GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
	    0);
	assert_int_equal(gnutls_x509_crt_init(&t->crt), 0);
	gnutls_x509_crt_set_version(t->crt, 3);
	gnutls_x509_crt_set_serial(t->crt, &serial, 1);
	gnutls_x509_crt_set_activation_time(t->crt, now - 3600);
	gnutls_x509_crt_set_expiration_time(t->crt, now + 3600);
	gnutls_x509_crt_set_dn_by_oid(t->crt, GNUTLS_OID_X520_COMMON_NAME, 0, "probe-test", 10);
	assert_int_equal(gnutls_x509_crt_set_key(t->crt, t->key), 0);
	assert_int_equal(gnutls_x509_crt_sign2(t->crt, t->crt, t->key, GNUTLS_DIG_SHA256, 0), 0);
	assert_int_equal(gnutls_certificate_allocate_credentials(&t->cred), 0);
	assert_int_equal(gnutls_certificate_set_x509_key(t->cred, &t->crt, 1, t->key), 0);
	t->fd = listen_loopback(16, &t->port);
	atomic_store(&t->stop, false);
	assert_int_equal(pthread_create(&t->th, NULL, tls_main, t), 0);
}

static void tls_stop(struct tls_server *t)
{
	atomic_store(&t->stop, true);
	pthread_join(t->th, NULL);
	close(t->fd);
	gnutls_certificate_free_credentials(t->cred);
	gnutls_x509_crt_deinit(t->crt);
	gnutls_x509_privkey_deinit(t->key);
}

static void test_https(void **state)
{
	struct tls_server t = { 0 };
	char probe[256];
	char *msg = NULL;
	tls_start(&t);
	/* self-signed: certificates are not verified, as the kubelet */
	snprintf(probe, sizeof(probe),
		 "{\"httpGet\":{\"scheme\":\"HTTPS\",\"path\":\"/ok\",\"port\":%d}}", t.port);
	enum probe_result r1 = run_probe(probe, NULL, SELF_NETNS, 3, &msg);
	char *m1 = msg;
	snprintf(probe, sizeof(probe),
		 "{\"httpGet\":{\"scheme\":\"HTTPS\",\"path\":\"/teapot\",\"port\":%d}}", t.port);
	enum probe_result r2 = run_probe(probe, NULL, SELF_NETNS, 3, &msg);
	char *m2 = msg;
	int served = atomic_load(&t.served);
	tls_stop(&t);
	if (r1 != PROBE_SUCCESS || r2 != PROBE_FAILURE || served != 2)
		fail_msg("https: %d (%s), %d (%s), served %d", r1, m1 ? m1 : "", r2, m2 ? m2 : "",
			 served);
	assert_null(m1);
	assert_string_equal(m2, "HTTP probe failed with statuscode: 418");
	free(m2);
}

static void test_http_headers_named_ports(void **state)
{
	char probe[512];
	char *msg = NULL;
	json_t *ctr = js("{\"name\":\"c\",\"ports\":[{\"name\":\"metrics\",\"containerPort\":1},"
			 "{\"name\":\"web\",\"containerPort\":%d}]}",
			 http_port);
	snprintf(probe, sizeof(probe),
		 "{\"httpGet\":{\"path\":\"/hdr\",\"port\":\"web\",\"httpHeaders\":"
		 "[{\"name\":\"X-Probe\",\"value\":\"yes\"},{\"name\":\"User-Agent\",\"value\":"
		 "\"mine\"}]}}");
	assert_int_equal(run_probe(probe, ctr, SELF_NETNS, 2, &msg), PROBE_SUCCESS);
	assert_null(msg);
	pthread_mutex_lock(&http_lock);
	assert_non_null(strstr(http_last_req, "\r\nUser-Agent: mine\r\n"));
	assert_null(strstr(http_last_req, "kube-probe"));
	pthread_mutex_unlock(&http_lock);

	snprintf(probe, sizeof(probe), "{\"httpGet\":{\"path\":\"/hdr\",\"port\":\"web\"}}");
	assert_int_equal(run_probe(probe, ctr, SELF_NETNS, 2, &msg), PROBE_FAILURE);
	assert_string_equal(msg, "HTTP probe failed with statuscode: 400");
	free(msg);

	/* unknown name; a number written as a string; out of range */
	assert_int_equal(run_probe("{\"httpGet\":{\"path\":\"/ok\",\"port\":\"nope\"}}", ctr,
				   SELF_NETNS, 2, &msg),
			 PROBE_FAILURE);
	assert_string_equal(msg, "port nope not found");
	free(msg);
	snprintf(probe, sizeof(probe), "{\"httpGet\":{\"path\":\"/ok\",\"port\":\"%d\"}}",
		 http_port);
	assert_int_equal(run_probe(probe, ctr, SELF_NETNS, 2, &msg), PROBE_SUCCESS);
	assert_int_equal(run_probe("{\"tcpSocket\":{\"port\":70000}}", ctr, SELF_NETNS, 2, &msg),
			 PROBE_FAILURE);
	assert_string_equal(msg, "invalid port number: 70000");
	free(msg);
	/* header injection is refused */
	assert_int_equal(
	    run_probe("{\"httpGet\":{\"path\":\"/ok\",\"port\":\"web\",\"httpHeaders\":"
		      "[{\"name\":\"X\",\"value\":\"a\\r\\nEvil: 1\"}]}}",
		      ctr, SELF_NETNS, 2, &msg),
	    PROBE_FAILURE);
	assert_non_null(strstr(msg, "invalid httpGet header"));
	free(msg);
	json_decref(ctr);
}

static void test_tcp(void **state)
{
	char probe[128], want[128];
	char *msg = NULL;
	snprintf(probe, sizeof(probe), "{\"tcpSocket\":{\"port\":%d}}", http_port);
	assert_int_equal(run_probe(probe, NULL, SELF_NETNS, 1, &msg), PROBE_SUCCESS);
	assert_null(msg);

	int port = closed_port();
	snprintf(probe, sizeof(probe), "{\"tcpSocket\":{\"host\":\"127.0.0.1\",\"port\":%d}}",
		 port);
	assert_int_equal(run_probe(probe, NULL, SELF_NETNS, 1, &msg), PROBE_FAILURE);
	snprintf(want, sizeof(want), "dial tcp 127.0.0.1:%d: connect: connection refused", port);
	assert_string_equal(msg, want);
	free(msg);

	/* A listener whose accept queue is full drops SYNs: the connect times out. */
	int lport, lfd = listen_loopback(0, &lport);
	int fillers[3];
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)lport) };
	for (int i = 0; i < 3; i++) {
		fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		(void)connect(fillers[i], (struct sockaddr *)&a, sizeof(a));
	}
	msleep(100);
	snprintf(probe, sizeof(probe), "{\"tcpSocket\":{\"port\":%d}}", lport);
	int64_t t0 = mono();
	assert_int_equal(run_probe(probe, NULL, SELF_NETNS, 1, &msg), PROBE_FAILURE);
	int64_t took = mono() - t0;
	snprintf(want, sizeof(want), "dial tcp 127.0.0.1:%d: i/o timeout", lport);
	assert_string_equal(msg, want);
	assert_true(took >= 900000 && took < 2000000);
	free(msg);
	for (int i = 0; i < 3; i++)
		close(fillers[i]);
	close(lfd);

	/* a bad netns path */
	assert_int_equal(run_probe(probe, NULL, "/nonexistent/netns", 1, &msg), PROBE_FAILURE);
	assert_non_null(strstr(msg, "network namespace \"/nonexistent/netns\""));
	free(msg);
}

static void test_exec_grpc(void **state)
{
	char *msg = NULL;
	fake("ok", FAKE_OK);
	fake("bad", FAKE_FAIL);
	fake("slow", FAKE_TIMEOUT);
	assert_int_equal(run_probe("{\"exec\":{\"command\":[\"ok\",\"x\"]}}", NULL, NULL, 1, &msg),
			 PROBE_SUCCESS);
	assert_null(msg);
	assert_string_equal(fake_last_ctr, "cid-1");
	assert_int_equal(run_probe("{\"exec\":{\"command\":[\"bad\"]}}", NULL, NULL, 1, &msg),
			 PROBE_FAILURE);
	assert_string_equal(msg, "boom\n");
	free(msg);
	assert_int_equal(
	    run_probe("{\"exec\":{\"command\":[\"slow\",\"a b\"]}}", NULL, NULL, 1, &msg),
	    PROBE_FAILURE);
	assert_string_equal(msg, "command \"slow a b\" timed out");
	free(msg);
	assert_int_equal(run_probe("{\"exec\":{\"command\":[]}}", NULL, NULL, 1, &msg),
			 PROBE_FAILURE);
	assert_string_equal(msg, "exec handler has no command");
	free(msg);
	assert_int_equal(run_probe("{\"grpc\":{\"port\":9000}}", NULL, NULL, 1, &msg),
			 PROBE_FAILURE);
	assert_string_equal(msg, "grpc probes are not supported");
	free(msg);
	assert_int_equal(run_probe("{\"periodSeconds\":3}", NULL, NULL, 1, &msg), PROBE_FAILURE);
	assert_string_equal(msg, "probe has no handler");
	free(msg);
	/* no exec backend */
	json_t *p = js("{\"exec\":{\"command\":[\"ok\"]}}");
	struct probe_target t = { .container_id = "c" };
	assert_int_equal(probe_run_once(p, &t, NULL, 1, &msg), PROBE_FAILURE);
	assert_non_null(msg);
	free(msg);
	json_decref(p);
}

static void test_lifecycle_handlers(void **state)
{
	struct probe_target t = { .netns = SELF_NETNS,
				  .pod_ip = "127.0.0.1",
				  .container_id = "cid" };
	char *msg = NULL;
	json_t *h;

	fake("hook", FAKE_OK);
	fake("badhook", FAKE_FAIL);
	h = js("{\"exec\":{\"command\":[\"hook\"]}}");
	assert_int_equal(probe_handler_run(h, &t, &fake_exec, 5, &msg), 0);
	assert_null(msg);
	json_decref(h);
	h = js("{\"exec\":{\"command\":[\"badhook\",\"arg\"]}}");
	assert_int_equal(probe_handler_run(h, &t, &fake_exec, 5, &msg), -EIO);
	assert_string_equal(msg, "command 'badhook arg' exited with 1: boom\n");
	free(msg);
	json_decref(h);
	/* HTTP hooks: any answer is fine; no answer is not */
	h = js("{\"httpGet\":{\"path\":\"/fail\",\"port\":%d}}", http_port);
	assert_int_equal(probe_handler_run(h, &t, &fake_exec, 5, &msg), 0);
	assert_null(msg);
	json_decref(h);
	h = js("{\"httpGet\":{\"path\":\"/x\",\"port\":%d}}", closed_port());
	assert_int_equal(probe_handler_run(h, &t, &fake_exec, 5, &msg), -ECONNREFUSED);
	assert_non_null(strstr(msg, "connection refused"));
	free(msg);
	json_decref(h);
	/* sleep, bounded by the timeout */
	h = js("{\"sleep\":{\"seconds\":30}}");
	int64_t t0 = mono();
	assert_int_equal(probe_handler_run(h, &t, &fake_exec, 1, &msg), 0);
	assert_true(mono() - t0 >= 1000000 && mono() - t0 < 2000000);
	json_decref(h);
	h = js("{\"sleep\":{\"seconds\":0}}");
	assert_int_equal(probe_handler_run(h, &t, &fake_exec, 1, &msg), 0);
	json_decref(h);
	h = js("{\"sleep\":{}}");
	assert_int_equal(probe_handler_run(h, &t, &fake_exec, 1, &msg), -EINVAL);
	free(msg);
	json_decref(h);
	/* not lifecycle handlers */
	h = js("{\"tcpSocket\":{\"port\":80}}");
	assert_int_equal(probe_handler_run(h, &t, &fake_exec, 1, &msg), -EINVAL);
	assert_string_equal(msg, "tcpSocket is not supported as a lifecycle handler");
	free(msg);
	json_decref(h);
	h = js("{}");
	assert_int_equal(probe_handler_run(h, &t, &fake_exec, 1, &msg), -EINVAL);
	free(msg);
	json_decref(h);
	/* sleep is not a probe */
	assert_int_equal(run_probe("{\"sleep\":{\"seconds\":1}}", NULL, NULL, 1, &msg),
			 PROBE_FAILURE);
	free(msg);
}

/* ---- the prober ---- */

static struct prober *new_prober(void)
{
	struct prober *p = NULL;
	prober_second_usec = UNIT_USEC;
	events_reset();
	reentrant_prober = NULL;
	assert_int_equal(prober_new(&fake_exec, &recorder, &p), 0);
	return p;
}

static void add(struct prober *p, const char *pod, const char *name, const char *ctr_json,
		int64_t started_at)
{
	json_t *c = js("%s", ctr_json);
	struct probe_target t = { .netns = SELF_NETNS,
				  .pod_ip = "127.0.0.1",
				  .container_id = name };
	assert_int_equal(prober_add(p, pod, name, c, &t, started_at), 0);
	json_decref(c);
}

static void test_prober_liveness_threshold(void **state)
{
	struct prober *p = new_prober();
	struct fake_cmd *f = fake("live", FAKE_FAIL);
	add(p, "pod1", "app",
	    "{\"livenessProbe\":{\"exec\":{\"command\":[\"live\"]},\"periodSeconds\":1,"
	    "\"failureThreshold\":3}}",
	    mono());
	assert_int_equal(prober_get(p, "pod1", "app", PROBE_LIVENESS), PROBE_SUCCESS);
	assert_int_equal(prober_get(p, "pod1", "app", PROBE_READINESS), PROBE_SUCCESS);
	assert_int_equal(prober_get(p, "pod1", "app", PROBE_STARTUP), PROBE_SUCCESS);
	assert_true(WAIT_UNTIL(events_count("app", PROBE_LIVENESS, PROBE_FAILURE) == 1, 5000));
	/* two failures below the threshold, then the third flips the result */
	assert_int_equal(events_count("app", PROBE_LIVENESS, -1), 3);
	for (int i = 0; i < 3; i++) {
		struct event e = event_at(i);
		assert_true(e.failed);
		assert_string_equal(e.msg, "boom\n");
		assert_int_equal(e.result, i < 2 ? PROBE_SUCCESS : PROBE_FAILURE);
	}
	assert_int_equal(prober_get(p, "pod1", "app", PROBE_LIVENESS), PROBE_FAILURE);
	/* periods are about one unit apart */
	struct event e0 = event_at(0), e2 = event_at(2);
	assert_true(e2.at - e0.at >= 2 * UNIT_USEC - 20000);
	/* on hold until a new instance */
	int calls = atomic_load(&f->calls);
	msleep(10 * UNIT_USEC / 1000);
	assert_int_equal(atomic_load(&f->calls), calls);
	assert_int_equal(calls, 3);

	/* the restarted container: probing resumes, result reset */
	atomic_store(&f->mode, FAKE_OK);
	add(p, "pod1", "app",
	    "{\"livenessProbe\":{\"exec\":{\"command\":[\"live\"]},\"periodSeconds\":1,"
	    "\"failureThreshold\":3}}",
	    mono());
	assert_int_equal(prober_get(p, "pod1", "app", PROBE_LIVENESS), PROBE_SUCCESS);
	assert_true(WAIT_UNTIL(atomic_load(&f->calls) >= calls + 3, 5000));
	assert_int_equal(events_count("app", PROBE_LIVENESS, -1), 3); /* no new event */
	prober_free(p);
}

static void test_prober_readiness(void **state)
{
	struct prober *p = new_prober();
	struct fake_cmd *f = fake("ready", FAKE_OK);
	add(p, "pod2", "web",
	    "{\"readinessProbe\":{\"exec\":{\"command\":[\"ready\"]},\"periodSeconds\":1,"
	    "\"successThreshold\":2,\"failureThreshold\":1}}",
	    mono());
	add(p, "pod2", "sidecar", "{\"name\":\"sidecar\"}", mono());
	assert_int_equal(prober_get(p, "pod2", "web", PROBE_READINESS), PROBE_FAILURE);
	assert_int_equal(prober_get(p, "pod2", "sidecar", PROBE_READINESS), PROBE_SUCCESS);
	assert_int_equal(prober_get(p, "pod2", "nope", PROBE_READINESS), PROBE_UNKNOWN);
	assert_true(
	    WAIT_UNTIL(prober_get(p, "pod2", "web", PROBE_READINESS) == PROBE_SUCCESS, 5000));
	assert_true(atomic_load(&f->calls) >= 2);
	assert_int_equal(events_count("web", PROBE_READINESS, PROBE_SUCCESS), 1);
	struct event e = event_at(0);
	assert_false(e.failed);
	/* failureThreshold 1: the first failure flips it */
	atomic_store(&f->mode, FAKE_FAIL);
	assert_true(WAIT_UNTIL(events_count("web", PROBE_READINESS, PROBE_FAILURE) >= 1, 5000));
	assert_int_equal(prober_get(p, "pod2", "web", PROBE_READINESS), PROBE_FAILURE);
	/* readiness keeps probing (no hold) and reports each failure */
	assert_true(WAIT_UNTIL(events_count("web", PROBE_READINESS, PROBE_FAILURE) >= 3, 5000));
	atomic_store(&f->mode, FAKE_OK);
	assert_true(
	    WAIT_UNTIL(prober_get(p, "pod2", "web", PROBE_READINESS) == PROBE_SUCCESS, 5000));
	prober_remove_pod(p, "pod2");
	assert_int_equal(prober_get(p, "pod2", "web", PROBE_READINESS), PROBE_UNKNOWN);
	assert_int_equal(prober_get(p, "pod2", "sidecar", PROBE_READINESS), PROBE_UNKNOWN);
	prober_free(p);
}

static void test_prober_initial_delay(void **state)
{
	struct prober *p = new_prober();
	struct fake_cmd *f = fake("delayed", FAKE_OK);
	struct fake_cmd *g = fake("late", FAKE_OK);
	int64_t start = mono();
	add(p, "pod3", "a",
	    "{\"readinessProbe\":{\"exec\":{\"command\":[\"delayed\"]},\"periodSeconds\":1,"
	    "\"initialDelaySeconds\":10}}",
	    start);
	/* started long ago: the delay has passed already */
	add(p, "pod3", "b",
	    "{\"readinessProbe\":{\"exec\":{\"command\":[\"late\"]},\"periodSeconds\":100,"
	    "\"initialDelaySeconds\":40}}",
	    start - 100 * UNIT_USEC);
	assert_true(WAIT_UNTIL(atomic_load(&g->calls) == 1, 2000));
	assert_true(atomic_load(&g->first_call) - start < 20 * UNIT_USEC);
	assert_true(WAIT_UNTIL(atomic_load(&f->calls) >= 1, 5000));
	assert_true(atomic_load(&f->first_call) - start >= 10 * UNIT_USEC);
	assert_true(WAIT_UNTIL(prober_get(p, "pod3", "a", PROBE_READINESS) == PROBE_SUCCESS, 2000));
	prober_free(p);
}

static void test_prober_startup_gating(void **state)
{
	struct prober *p = new_prober();
	struct fake_cmd *s = fake("start", FAKE_FLAKY);
	s->ok_after = 3;
	struct fake_cmd *l = fake("alive", FAKE_OK);
	struct fake_cmd *r = fake("rdy", FAKE_OK);
	add(p, "pod4", "app",
	    "{\"startupProbe\":{\"exec\":{\"command\":[\"start\"]},\"periodSeconds\":1,"
	    "\"failureThreshold\":5},"
	    "\"livenessProbe\":{\"exec\":{\"command\":[\"alive\"]},\"periodSeconds\":1},"
	    "\"readinessProbe\":{\"exec\":{\"command\":[\"rdy\"]},\"periodSeconds\":1}}",
	    mono());
	assert_int_equal(prober_get(p, "pod4", "app", PROBE_STARTUP), PROBE_UNKNOWN);
	assert_int_equal(prober_get(p, "pod4", "app", PROBE_READINESS), PROBE_FAILURE);
	assert_int_equal(prober_get(p, "pod4", "app", PROBE_LIVENESS), PROBE_SUCCESS);
	assert_true(WAIT_UNTIL(prober_get(p, "pod4", "app", PROBE_STARTUP) == PROBE_SUCCESS, 5000));
	assert_int_equal(atomic_load(&s->calls), 4);
	/* three startup failures reported (below threshold), then success */
	assert_int_equal(events_count("app", PROBE_STARTUP, PROBE_UNKNOWN), 3);
	assert_true(
	    WAIT_UNTIL(prober_get(p, "pod4", "app", PROBE_READINESS) == PROBE_SUCCESS, 5000));
	/* neither liveness nor readiness ran before startup succeeded */
	int64_t started = 0;
	for (int i = 0; i < nevents; i++) {
		struct event e = event_at(i);
		if (e.type == PROBE_STARTUP && e.result == PROBE_SUCCESS)
			started = e.at;
	}
	assert_true(started > 0);
	assert_true(WAIT_UNTIL(atomic_load(&l->calls) >= 1, 2000));
	assert_true(atomic_load(&l->first_call) >= started - 5000);
	assert_true(atomic_load(&r->first_call) >= started - 5000);
	/* startup stops probing once it succeeded */
	int sc = atomic_load(&s->calls);
	msleep(5 * UNIT_USEC / 1000);
	assert_int_equal(atomic_load(&s->calls), sc);

	/* startup never succeeds: FAILURE at its threshold, liveness never runs */
	struct fake_cmd *s2 = fake("nostart", FAKE_FAIL);
	struct fake_cmd *l2 = fake("alive2", FAKE_OK);
	add(p, "pod4", "stuck",
	    "{\"startupProbe\":{\"exec\":{\"command\":[\"nostart\"]},\"periodSeconds\":1,"
	    "\"failureThreshold\":2},"
	    "\"livenessProbe\":{\"exec\":{\"command\":[\"alive2\"]},\"periodSeconds\":1}}",
	    mono());
	assert_true(
	    WAIT_UNTIL(prober_get(p, "pod4", "stuck", PROBE_STARTUP) == PROBE_FAILURE, 5000));
	msleep(5 * UNIT_USEC / 1000);
	assert_int_equal(atomic_load(&s2->calls), 2);
	assert_int_equal(atomic_load(&l2->calls), 0);
	prober_free(p);
}

static void test_prober_http_named_port(void **state)
{
	struct prober *p = new_prober();
	atomic_store(&http_status, 200);
	char ctr[512];
	snprintf(ctr, sizeof(ctr),
		 "{\"ports\":[{\"name\":\"http\",\"containerPort\":%d}],"
		 "\"readinessProbe\":{\"httpGet\":{\"path\":\"/status\",\"port\":\"http\"},"
		 "\"periodSeconds\":1,\"failureThreshold\":2},"
		 "\"livenessProbe\":{\"tcpSocket\":{\"port\":\"http\"},\"periodSeconds\":1}}",
		 http_port);
	add(p, "pod5", "web", ctr, mono());
	assert_true(
	    WAIT_UNTIL(prober_get(p, "pod5", "web", PROBE_READINESS) == PROBE_SUCCESS, 5000));
	atomic_store(&http_status, 503);
	assert_true(
	    WAIT_UNTIL(prober_get(p, "pod5", "web", PROBE_READINESS) == PROBE_FAILURE, 5000));
	/* the first failure came with the message and left it ready */
	bool seen_below = false;
	for (int i = 0; i < nevents; i++) {
		struct event e = event_at(i);
		if (e.type == PROBE_READINESS && e.failed) {
			assert_string_equal(e.msg, "HTTP probe failed with statuscode: 503");
			seen_below |= e.result == PROBE_SUCCESS;
		}
	}
	assert_true(seen_below);
	assert_int_equal(events_count("web", PROBE_LIVENESS, -1), 0); /* tcp fine all along */
	atomic_store(&http_status, 200);
	assert_true(
	    WAIT_UNTIL(prober_get(p, "pod5", "web", PROBE_READINESS) == PROBE_SUCCESS, 5000));
	prober_free(p);
}

static void test_prober_remove_while_running(void **state)
{
	struct prober *p = new_prober();
	struct fake_cmd *f = fake("block", FAKE_BLOCK);
	add(p, "pod6", "a",
	    "{\"readinessProbe\":{\"exec\":{\"command\":[\"block\"]},\"periodSeconds\":1}}",
	    mono());
	assert_true(WAIT_UNTIL(atomic_load(&f->running) == 1, 3000));
	int64_t t0 = mono();
	prober_remove(p, "pod6", "a");
	assert_true(mono() - t0 < 500000); /* does not wait for the probe */
	assert_int_equal(prober_get(p, "pod6", "a", PROBE_READINESS), PROBE_UNKNOWN);
	int n = nevents;
	assert_true(WAIT_UNTIL(atomic_load(&f->running) == 0, 3000));
	msleep(100);
	assert_int_equal(nevents, n); /* its result was dropped */
	int calls = atomic_load(&f->calls);
	msleep(4 * UNIT_USEC / 1000);
	assert_int_equal(atomic_load(&f->calls), calls);

	/* remove waits for a callback in progress; none comes after it */
	fake("flap", FAKE_FAIL);
	atomic_store(&slow_callback_ms, 300);
	add(p, "pod6", "c",
	    "{\"livenessProbe\":{\"exec\":{\"command\":[\"flap\"]},\"periodSeconds\":1,"
	    "\"failureThreshold\":100}}",
	    mono());
	assert_true(WAIT_UNTIL(atomic_load(&in_callback) == 1, 3000));
	prober_remove(p, "pod6", "c");
	assert_int_equal(atomic_load(&in_callback), 0);
	atomic_store(&slow_callback_ms, 0);
	n = events_count("c", -1, -1);
	msleep(5 * UNIT_USEC / 1000);
	assert_int_equal(events_count("c", -1, -1), n);

	/* a callback that removes its own container does not deadlock */
	fake("dies", FAKE_FAIL);
	reentrant_prober = p;
	add(p, "pod6", "b",
	    "{\"livenessProbe\":{\"exec\":{\"command\":[\"dies\"]},\"periodSeconds\":1,"
	    "\"failureThreshold\":1}}",
	    mono());
	assert_true(WAIT_UNTIL(prober_get(p, "pod6", "b", PROBE_LIVENESS) == PROBE_UNKNOWN, 5000));
	assert_int_equal(events_count("b", PROBE_LIVENESS, PROBE_FAILURE), 1);
	reentrant_prober = NULL;

	/* many containers, replaced and removed while probes run, then freed while running */
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "c%d", i);
		add(p, "pod7", name,
		    "{\"readinessProbe\":{\"exec\":{\"command\":[\"block\"]},\"periodSeconds\":1},"
		    "\"livenessProbe\":{\"exec\":{\"command\":[\"ok\"]},\"periodSeconds\":1}}",
		    mono());
	}
	fake("ok", FAKE_OK);
	msleep(150);
	for (int i = 0; i < 20; i += 2) {
		char name[16];
		snprintf(name, sizeof(name), "c%d", i);
		add(p, "pod7", name, "{\"readinessProbe\":{\"exec\":{\"command\":[\"ok\"]}}}",
		    mono());
	}
	prober_remove(p, "pod7", "c1");
	assert_true(WAIT_UNTIL(atomic_load(&f->running) == 1, 3000));
	prober_free(p); /* waits for running probes; ASan checks nothing leaks */
}

/* ---- a real separate network namespace ---- */

static void child_serve(int ctl_w, int stop_r)
{
	if (unshare(CLONE_NEWNET) < 0) {
		int z = 0;
		(void)!write(ctl_w, &z, sizeof(z));
		_exit(1);
	}
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		_exit(2);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		_exit(3);
	close(s);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &l) < 0)
		_exit(4);
	int port = ntohs(a.sin_port);
	(void)!write(ctl_w, &port, sizeof(port));
	for (;;) {
		struct pollfd pfd[2] = { { lfd, POLLIN, 0 }, { stop_r, POLLIN, 0 } };
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents)
			_exit(0);
		int c = accept(lfd, NULL, NULL);
		if (c < 0)
			continue;
		char buf[2048];
		struct pollfd cp = { c, POLLIN, 0 };
		if (poll(&cp, 1, 1000) > 0 && read(c, buf, sizeof(buf)) > 0) {
			const char *resp = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
			(void)!write(c, resp, strlen(resp));
		}
		close(c);
	}
}

static void test_separate_netns(void **state)
{
	int ctl[2], stop[2];
	assert_int_equal(pipe2(ctl, O_CLOEXEC), 0);
	assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ctl[0]);
		close(stop[1]);
		child_serve(ctl[1], stop[0]);
		_exit(0);
	}
	close(ctl[1]);
	close(stop[0]);
	int port = 0;
	assert_int_equal(read(ctl[0], &port, sizeof(port)), (ssize_t)sizeof(port));
	close(ctl[0]);
	if (port == 0) {
		close(stop[1]);
		waitpid(pid, NULL, 0);
		skip(); /* no CAP_SYS_ADMIN */
	}
	char nspath[] = "/tmp/c8s-test-prober-netns-XXXXXX";
	int fd = mkstemp(nspath);
	assert_true(fd >= 0);
	close(fd);
	char src[64];
	snprintf(src, sizeof(src), "/proc/%d/ns/net", (int)pid);
	int mr = mount(src, nspath, NULL, MS_BIND, NULL);

	if (mr == 0) {
		char probe[256];
		char *msg = NULL;
		/* reachable only inside the namespace */
		snprintf(probe, sizeof(probe), "{\"httpGet\":{\"path\":\"/\",\"port\":%d}}", port);
		enum probe_result r1 = run_probe(probe, NULL, nspath, 2, &msg);
		char *m1 = msg;
		snprintf(probe, sizeof(probe), "{\"tcpSocket\":{\"port\":%d}}", port);
		enum probe_result r2 = run_probe(probe, NULL, nspath, 2, &msg);
		char *m2 = msg;
		/* nothing listens on that port in our own namespace (a free port
		 * of the child's namespace; check it is free here first) */
		int hfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
					 .sin_port = htons((uint16_t)port) };
		bool free_here = bind(hfd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(hfd);
		enum probe_result r3 = run_probe(probe, NULL, SELF_NETNS, 1, &msg);
		char *m3 = msg;

		/* and through the prober */
		struct prober *p = new_prober();
		char ctr[256];
		snprintf(ctr, sizeof(ctr),
			 "{\"readinessProbe\":{\"httpGet\":{\"path\":\"/\",\"port\":%d},"
			 "\"periodSeconds\":1}}",
			 port);
		json_t *c = js("%s", ctr);
		struct probe_target t = { .netns = nspath, .pod_ip = "127.0.0.1" };
		assert_int_equal(prober_add(p, "podns", "web", c, &t, mono()), 0);
		json_decref(c);
		bool ready = WAIT_UNTIL(
		    prober_get(p, "podns", "web", PROBE_READINESS) == PROBE_SUCCESS, 5000);
		prober_free(p);

		umount2(nspath, MNT_DETACH);
		unlink(nspath);
		close(stop[1]);
		waitpid(pid, NULL, 0);
		if (r1 != PROBE_SUCCESS || r2 != PROBE_SUCCESS ||
		    (free_here && r3 != PROBE_FAILURE))
			fail_msg("netns probes: http %d (%s) tcp %d (%s) host %d (%s)", r1,
				 m1 ? m1 : "", r2, m2 ? m2 : "", r3, m3 ? m3 : "");
		free(m1);
		free(m2);
		free(m3);
		assert_true(ready);
	} else {
		int e = errno;
		unlink(nspath);
		close(stop[1]);
		waitpid(pid, NULL, 0);
		if (e == EPERM)
			skip();
		fail_msg("bind mount of %s: %s", src, strerror(e));
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_status),
		cmocka_unit_test(test_http_refused_and_timeout),
		cmocka_unit_test(test_http_redirects_and_body),
		cmocka_unit_test(test_https),
		cmocka_unit_test(test_http_headers_named_ports),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_exec_grpc),
		cmocka_unit_test(test_lifecycle_handlers),
		cmocka_unit_test(test_prober_liveness_threshold),
		cmocka_unit_test(test_prober_readiness),
		cmocka_unit_test(test_prober_initial_delay),
		cmocka_unit_test(test_prober_startup_gating),
		cmocka_unit_test(test_prober_http_named_port),
		cmocka_unit_test(test_prober_remove_while_running),
		cmocka_unit_test(test_separate_netns),
	};
	return cmocka_run_group_tests(tests, setup_server, teardown_server);
}
