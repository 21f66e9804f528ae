/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node agent's stream server end to end over real TLS on 127.0.0.1:
 * logs from fixture CRI log files (tail, since, timestamps, previous,
 * limit, follow until the container stops), exec and attach sessions over
 * WebSocket v5.channel.k8s.io driven by a client written here (processes
 * are local ones started by a fake runtime; attach talks to a fake conmon
 * over a SOCK_SEQPACKET pair), port forwarding over SPDY/3.1 to a server
 * listening inside a network namespace the test creates, and the
 * handshake and authentication failures.
 */
#include "unit.h"

#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "apiserver/certs.h"
#include "kubelet/server_internal.h"
#include "lib/json.h"
#include "lib/spdy.h"
#include "lib/strbuf.h"
#include "lib/websocket.h"
#include "oci_harness.h"
#include "runtime/oci.h"

static char tmpdir[] = "/tmp/c8s-stream-test.XXXXXX";
static struct certs certs, other_certs;
static struct stream_server *srv;
static char *log_path, *prev_log_path, *follow_path;
static volatile bool follow_running = true;
static char *netns_path;
static pid_t netns_child = -1;
static int server_port; /* the server tconn_open connects to */
static int netns_port;
static pthread_mutex_t resize_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned attach_cols, attach_rows;

/* ---- fake backend and runtime ---- */

static int fake_find(void *ud, const char *ns, const char *pod, const char *container,
		     struct stream_container *ret)
{
	if (!streq(ns, "ns") || !streq(pod, "pod"))
		return -ENOENT;
	*ret = (struct stream_container){ 0 };
	if (streq(container, "c") || streq(container, "tty")) {
		ret->container_id = xstrdup("cid-1");
		ret->log_path = xstrdup(log_path);
		ret->prev_log_path = xstrdup(prev_log_path);
		ret->running = true;
		ret->tty = streq(container, "tty");
		return 0;
	}
	if (streq(container, "follow")) {
		ret->container_id = xstrdup("cid-2");
		ret->log_path = xstrdup(follow_path);
		ret->running = follow_running;
		return 0;
	}
	if (streq(container, "stopped")) {
		ret->container_id = xstrdup("cid-3");
		ret->log_path = xstrdup(log_path);
		return 0;
	}
	return -ENOENT;
}

static int fake_netns(void *ud, const char *ns, const char *pod, char **ret)
{
	if (!streq(ns, "ns") || !streq(pod, "pod"))
		return -ENOENT;
	*ret = netns_path ? xstrdup(netns_path) : NULL;
	return 0;
}

static int fake_exec(void *ud, const struct stream_container *c, const char *const *argv, bool tty,
		     bool want_stdin, int *ret_pty, int stdio[3], pid_t *ret_pid, char **ret_err)
{
	if (streq(argv[0], "no-such-command")) {
		*ret_err = xstrdup("exec: \"no-such-command\": executable file not found in $PATH");
		return -ENOENT;
	}
	if (tty) {
		int master;
		pid_t pid = forkpty(&master, NULL, NULL, NULL);
		if (pid < 0)
			return -errno;
		if (pid == 0) {
			execvp(argv[0], (char *const *)argv);
			_exit(127);
		}
		fcntl(master, F_SETFD, FD_CLOEXEC);
		*ret_pty = master;
		*ret_pid = pid;
		return 0;
	}
	int p[3][2];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pipe2(p[i], O_CLOEXEC), 0);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (want_stdin)
			dup2(p[0][0], 0);
		else
			dup2(open("/dev/null", O_RDONLY), 0);
		dup2(p[1][1], 1);
		dup2(p[2][1], 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[0][0]);
	close(p[1][1]);
	close(p[2][1]);
	if (!want_stdin) {
		close(p[0][1]);
		p[0][1] = -1;
	}
	stdio[0] = p[0][1];
	stdio[1] = p[1][0];
	stdio[2] = p[2][0];
	*ret_pty = -1;
	*ret_pid = pid;
	return 0;
}

static int fake_wait(void *ud, pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int fake_resize(void *ud, int fd, unsigned short cols, unsigned short rows)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	return ioctl(fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

/* conmon, as far as attach goes: greets, echoes stdin on stdout, says bye
 * on stderr when stdin ends, then closes (the container exited). */
static void *fake_conmon(void *arg)
{
	int fd = (int)(intptr_t)arg;
	/* No assertions here: the session may be gone (send fails). */
	if (send(fd, "\2hello\n", 7, MSG_NOSIGNAL) == 7) {
		for (;;) {
			char buf[8193];
			buf[0] = 2;
			ssize_t n = recv(fd, buf + 1, sizeof(buf) - 1, 0);
			if (n <= 0 || send(fd, buf, (size_t)n + 1, MSG_NOSIGNAL) != n + 1)
				break;
		}
		(void)send(fd, "\3bye\n", 5, MSG_NOSIGNAL);
	}
	close(fd);
	return NULL;
}

static int fake_attach(void *ud, const struct stream_container *c, int *ret_fd, char **ret_err)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, fake_conmon, (void *)(intptr_t)sp[1]), 0);
	pthread_detach(t);
	*ret_fd = sp[0];
	return 0;
}

static int fake_attach_resize(void *ud, const struct stream_container *c, unsigned short cols,
			      unsigned short rows)
{
	pthread_mutex_lock(&resize_mu);
	attach_cols = cols;
	attach_rows = rows;
	pthread_mutex_unlock(&resize_mu);
	return 0;
}

/* ---- a TLS client ---- */

struct tconn {
	int fd;
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	struct strbuf in; /* received, not consumed: in.buf[pos..] */
	size_t pos;
};

static void tconn_open(struct tconn *c, const struct certs *as)
{
	*c = (struct tconn){ .fd = -1 };
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)server_port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(gnutls_certificate_allocate_credentials(&c->cred), 0);
	if (as) {
		gnutls_datum_t cert = { (unsigned char *)as->admin_cert_pem,
					(unsigned)strlen(as->admin_cert_pem) };
		gnutls_datum_t key = { (unsigned char *)as->admin_key_pem,
				       (unsigned)strlen(as->admin_key_pem) };
		assert_int_equal(
		    gnutls_certificate_set_x509_key_mem(c->cred, &cert, &key, GNUTLS_X509_FMT_PEM),
		    0);
	}
	assert_int_equal(gnutls_init(&c->s, GNUTLS_CLIENT), 0);
	gnutls_set_default_priority(c->s);
	gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, c->cred);
	gnutls_transport_set_int(c->s, c->fd);
	gnutls_handshake_set_timeout(c->s, 10000);
	int r;
	do
		r = gnutls_handshake(c->s);
	while (r < 0 && !gnutls_error_is_fatal(r));
	assert_int_equal(r, 0);
}

static void tconn_close(struct tconn *c)
{
	gnutls_bye(c->s, GNUTLS_SHUT_WR);
	gnutls_deinit(c->s);
	gnutls_certificate_free_credentials(c->cred);
	close(c->fd);
	strbuf_release(&c->in);
}

static void tconn_write(struct tconn *c, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = gnutls_record_send(c->s, p, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
}

/* Receive more into c->in: the byte count, 0 at EOF, -1 on timeout. */
static ssize_t tconn_fill(struct tconn *c, int timeout_ms)
{
	if (!gnutls_record_check_pending(c->s)) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (poll(&p, 1, timeout_ms) == 0)
			return -1;
	}
	char buf[16384];
	ssize_t n;
	do
		n = gnutls_record_recv(c->s, buf, sizeof(buf));
	while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	if (n < 0)
		return 0; /* a reset or a TLS error: end */
	strbuf_add(&c->in, buf, (size_t)n);
	return n;
}

static size_t avail(struct tconn *c)
{
	return c->in.len - c->pos;
}

/* A line (without CRLF), or NULL at EOF. */
static char *tconn_line(struct tconn *c)
{
	for (;;) {
		char *nl = c->in.buf ? memchr(c->in.buf + c->pos, '\n', avail(c)) : NULL;
		if (nl) {
			size_t len = (size_t)(nl - (c->in.buf + c->pos));
			char *line =
			    xstrndup(c->in.buf + c->pos, len && nl[-1] == '\r' ? len - 1 : len);
			c->pos += len + 1;
			return line;
		}
		if (tconn_fill(c, 10000) <= 0)
			return NULL;
	}
}

/* Send a request; read the status line and headers. */
static int request(struct tconn *c, const char *method, const char *path, const char *headers,
		   struct strbuf *ret_headers)
{
	_cleanup_free_ char *req = xasprintf("%s %s HTTP/1.1\r\nHost: node\r\n%s\r\n", method, path,
					     headers ? headers : "");
	tconn_write(c, req, strlen(req));
	_cleanup_free_ char *status = tconn_line(c);
	assert_non_null(status);
	int code = 0;
	assert_int_equal(sscanf(status, "HTTP/1.1 %d", &code), 1);
	for (;;) {
		_cleanup_free_ char *line = tconn_line(c);
		assert_non_null(line);
		if (!*line)
			break;
		if (ret_headers) {
			strbuf_addstr(ret_headers, line);
			strbuf_addch(ret_headers, '\n');
		}
	}
	return code;
}

/* The next piece of a chunked body: its size (0 at the end), -1 on timeout. */
static ssize_t next_chunk(struct tconn *c, struct strbuf *out, int timeout_ms)
{
	for (;;) {
		char *nl = c->in.buf ? memchr(c->in.buf + c->pos, '\n', avail(c)) : NULL;
		if (nl) {
			size_t size = strtoul(c->in.buf + c->pos, NULL, 16);
			size_t hl = (size_t)(nl - (c->in.buf + c->pos)) + 1;
			if (avail(c) >= hl + size + 2) {
				strbuf_add(out, c->in.buf + c->pos + hl, size);
				c->pos += hl + size + 2;
				return (ssize_t)size;
			}
		}
		ssize_t n = tconn_fill(c, timeout_ms);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
	}
}

static int get(const char *path, const struct certs *as, struct strbuf *body)
{
	struct tconn c;
	tconn_open(&c, as);
	_cleanup_strbuf_ struct strbuf h = STRBUF_INIT;
	int code = request(&c, "GET", path, NULL, &h);
	if (strstr(h.buf, "chunked")) {
		while (next_chunk(&c, body, 10000) > 0)
			;
	} else {
		const char *cl = strcasestr(h.buf, "content-length:");
		size_t len = cl ? strtoul(cl + 15, NULL, 10) : 0;
		while (avail(&c) < len)
			assert_true(tconn_fill(&c, 10000) > 0);
		strbuf_add(body, c.in.buf + c.pos, len);
	}
	tconn_close(&c);
	return code;
}

/* ---- fixtures ---- */

static void write_file(const char *path, const char *content, const char *mode)
{
	FILE *f = fopen(path, mode);
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static const char fixture[] = "2024-01-02T03:04:05.123456789Z stdout F first line\n"
			      "2024-01-02T03:04:06.5+00:00 stderr P part one, \n"
			      "2024-01-02T03:04:06.6+00:00 stderr P part two, \n"
			      "2024-01-02T03:04:06.700000000+00:00 stderr F end\n"
			      "not a CRI line\n"
			      "2024-01-02T04:04:07+01:00 stdout F \n"
			      "2024-01-02T03:04:08Z stdout F last line\n"
			      "2024-01-02T03:04:09Z stdout P incomplete, no newline";

static int setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	assert_non_null(mkdtemp(tmpdir));
	_cleanup_free_ char *tls = xasprintf("%s/tls", tmpdir);
	_cleanup_free_ char *tls2 = xasprintf("%s/tls-other", tmpdir);
	_cleanup_free_ char *err = NULL;
	assert_int_equal(certs_ensure(tls, NULL, &certs, &err), 0);
	assert_int_equal(certs_ensure(tls2, NULL, &other_certs, &err), 0);

	log_path = xasprintf("%s/c.log", tmpdir);
	prev_log_path = xasprintf("%s/c.prev.log", tmpdir);
	follow_path = xasprintf("%s/follow.log", tmpdir);
	write_file(log_path, fixture, "w");
	write_file(prev_log_path, "2024-01-01T00:00:00Z stdout F previous instance\n", "w");
	write_file(follow_path, "2024-01-02T03:04:05Z stdout F before\n", "w");

	static struct stream_backend backend = { .find_container = fake_find,
						 .pod_netns = fake_netns };
	static const struct stream_runtime_ops ops = {
		.exec = fake_exec,
		.exec_wait = fake_wait,
		.resize_pty = fake_resize,
		.attach = fake_attach,
		.attach_resize = fake_attach_resize,
	};
	struct stream_server_opts o = {
		.bind_address = "127.0.0.1",
		.port = 0,
		.cert_pem = certs.serving_cert_pem,
		.key_pem = certs.serving_key_pem,
		.client_ca_pem = certs.ca_cert_pem,
		.backend = &backend,
	};
	assert_int_equal(stream_server_start_with(&o, &ops, &srv), 0);
	assert_true(srv->port > 0);
	server_port = srv->port;
	return 0;
}

static int teardown(void **state)
{
	stream_server_stop(srv);
	if (netns_child > 0) {
		kill(netns_child, SIGKILL);
		waitpid(netns_child, NULL, 0);
	}
	certs_release(&certs);
	certs_release(&other_certs);
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	free(log_path);
	free(prev_log_path);
	free(follow_path);
	free(netns_path);
	return 0;
}

/* ---- logs ---- */

static void expect_log(const char *query, int code, const char *want)
{
	_cleanup_free_ char *path = xasprintf("/containerLogs/ns/pod/c%s", query);
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	assert_int_equal(get(path, &certs, &body), code);
	assert_string_equal(strbuf_str(&body), want);
}

static void test_logs(void **state)
{
	expect_log("", 200, "first line\npart one, part two, end\n\nlast line\n");
	expect_log("?timestamps=true", 200,
		   "2024-01-02T03:04:05.123456789Z first line\n"
		   "2024-01-02T03:04:06.5Z part one, part two, end\n"
		   "2024-01-02T03:04:07Z \n"
		   "2024-01-02T03:04:08Z last line\n");
	expect_log("?tailLines=1", 200, "last line\n");
	expect_log("?tailLines=2", 200, "\nlast line\n");
	/* Lines of the file: the continuation and its end, the bad line. */
	expect_log("?tailLines=5", 200, "part two, end\n\nlast line\n");
	expect_log("?tailLines=0", 200, "");
	expect_log("?tailLines=100", 200, "first line\npart one, part two, end\n\nlast line\n");
	expect_log("?limitBytes=14", 200, "first line\npar");
	expect_log("?previous=true", 200, "previous instance\n");
	/* Everything in the fixture is older than a minute; a sinceTime in
	 * the middle keeps what follows it. */
	expect_log("?sinceSeconds=60", 200, "");
	expect_log("?sinceTime=2024-01-02T03:04:06.650Z", 200, "end\n\nlast line\n");
	expect_log(
	    "?tailLines=x", 400,
	    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	    "\"message\":\"invalid log options\",\"code\":400,\"reason\":\"BadRequest\"}");

	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	assert_int_equal(get("/containerLogs/ns/pod/stopped?previous=true", &certs, &body), 400);
	assert_non_null(
	    strstr(body.buf,
		   "previous terminated container \\\"stopped\\\" in pod \\\"pod\\\" not found"));
	strbuf_reset(&body);
	assert_int_equal(get("/containerLogs/ns/pod/nope", &certs, &body), 400);
	assert_non_null(strstr(body.buf, "is waiting to start: ContainerCreating"));
	strbuf_reset(&body);
	assert_int_equal(get("/containerLogs/ns/pod", &certs, &body), 404);
	strbuf_reset(&body);
	assert_int_equal(get("/healthz", &certs, &body), 200);
	assert_string_equal(body.buf, "ok");
}

static void test_cri_times(void **state)
{
	int64_t sec;
	int32_t nsec;
	char buf[40];
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z" },
		{ "2024-01-02T03:04:05.000000000Z", "2024-01-02T03:04:05Z" },
		{ "2024-01-02T03:04:05.100Z", "2024-01-02T03:04:05.1Z" },
		{ "2024-01-02T03:04:05.123456789+00:00", "2024-01-02T03:04:05.123456789Z" },
		{ "2024-01-02T03:04:05.1234567891Z", "2024-01-02T03:04:05.123456789Z" },
		{ "2024-01-02T00:30:00-01:30", "2024-01-02T02:00:00Z" },
		{ "2024-01-01T23:59:59.999999999+02:00", "2024-01-01T21:59:59.999999999Z" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		assert_int_equal(cri_time_parse(ok[i].in, strlen(ok[i].in), &sec, &nsec), 0);
		cri_time_format(sec, nsec, buf);
		assert_string_equal(buf, ok[i].out);
	}
	static const char *const bad[] = { "",
					   "2024-01-02",
					   "2024-01-02T03:04:05",
					   "2024-01-02T03:04:05.Z",
					   "2024-13-02T03:04:05Z",
					   "2024-01-02T03:04:05+0100",
					   "2024-01-02 03:04:05Z",
					   "2024-01-02T03:04:05Zx" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(cri_time_parse(bad[i], strlen(bad[i]), &sec, &nsec), -EINVAL);
}

static void test_logs_follow(void **state)
{
	struct tconn c;
	_cleanup_strbuf_ struct strbuf h = STRBUF_INIT, body = STRBUF_INIT;
	follow_running = true;
	tconn_open(&c, &certs);
	assert_int_equal(request(&c, "GET", "/containerLogs/ns/pod/follow?follow=true", NULL, &h),
			 200);
	assert_non_null(strcasestr(h.buf, "content-type: text/plain"));
	while (!strstr(strbuf_str(&body), "before\n"))
		assert_true(next_chunk(&c, &body, 5000) > 0);

	/* Lines appended arrive as they are written; a line is sent once its
	 * newline is there. */
	write_file(follow_path, "2024-01-02T03:04:06Z stdout F half", "a");
	assert_int_equal(next_chunk(&c, &body, 300), -1); /* nothing for a line in progress */
	write_file(follow_path, " line\n2024-01-02T03:04:06Z stdout F whole\n", "a");
	while (!strstr(strbuf_str(&body), "whole\n"))
		assert_true(next_chunk(&c, &body, 5000) > 0);
	assert_string_equal(strbuf_str(&body), "before\nhalf line\nwhole\n");

	/* The container stops: what it wrote last arrives, then the end. */
	write_file(follow_path, "2024-01-02T03:04:07Z stdout F last words\n", "a");
	follow_running = false;
	uint64_t deadline = now_usec_monotonic() + 10 * 1000000;
	ssize_t n;
	while ((n = next_chunk(&c, &body, 5000)) > 0)
		assert_true(now_usec_monotonic() < deadline);
	assert_int_equal(n, 0);
	assert_string_equal(strbuf_str(&body), "before\nhalf line\nwhole\nlast words\n");
	tconn_close(&c);
	follow_running = true;
}

static void test_auth(void **state)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	/* No certificate, and one from another CA. */
	assert_int_equal(get("/containerLogs/ns/pod/c", NULL, &body), 401);
	strbuf_reset(&body);
	assert_int_equal(get("/containerLogs/ns/pod/c", &other_certs, &body), 401);
	strbuf_reset(&body);
	assert_int_equal(get("/healthz", &other_certs, &body), 401);

	/* A user of the cluster CA that is neither the API server nor in
	 * system:masters (a node's own certificate) is not allowed. */
	static const char *const groups[] = { "system:nodes", NULL };
	struct certs node = certs;
	node.admin_cert_pem = node.admin_key_pem = NULL;
	assert_int_equal(certs_issue_client(&certs, "system:node:n9", groups, &node.admin_cert_pem,
					    &node.admin_key_pem),
			 0);
	strbuf_reset(&body);
	assert_int_equal(get("/containerLogs/ns/pod/c", &node, &body), 403);
	assert_non_null(
	    strstr(strbuf_str(&body),
		   "Forbidden (user=system:node:n9, verb=get, resource=nodes, subresource=proxy)"));
	free(node.admin_cert_pem);
	free(node.admin_key_pem);

	/* The API server's own identity is allowed without system:masters. */
	struct certs apisrv = certs;
	assert_int_equal(certs_issue_client(&certs, "system:kube-apiserver", NULL,
					    &apisrv.admin_cert_pem, &apisrv.admin_key_pem),
			 0);
	strbuf_reset(&body);
	assert_int_equal(get("/healthz", &apisrv, &body), 200);
	free(apisrv.admin_cert_pem);
	free(apisrv.admin_key_pem);
}

/* ---- WebSocket sessions ---- */

struct ws_result {
	struct strbuf out[3]; /* stdout, stderr, status (channels 1..3) */
	int close_code;
	bool closed;
	bool eof;
	int pongs;
};

static void ws_result_release(struct ws_result *r)
{
	for (int i = 0; i < 3; i++)
		strbuf_release(&r->out[i]);
}

static char *url_escape(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.')
			strbuf_addch(&sb, (char)*p);
		else
			strbuf_addf(&sb, "%%%02X", *p);
	}
	return strbuf_detach(&sb, NULL);
}

/* Open a session: the 101 and its headers are checked. */
static void ws_open(struct tconn *c, struct ws_reader *rd, const char *path, const char *proto)
{
	char key[25], want[WS_ACCEPT_LEN + 1];
	ws_client_key(key);
	assert_int_equal(ws_accept_key(key, want), 0);
	_cleanup_free_ char *hdrs =
	    xasprintf("Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
		      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Protocol: %s\r\n",
		      key, proto ? proto : "v5.channel.k8s.io");
	_cleanup_strbuf_ struct strbuf h = STRBUF_INIT;
	tconn_open(c, &certs);
	assert_int_equal(request(c, "GET", path, hdrs, &h), 101);
	_cleanup_free_ char *acc = xasprintf("Sec-WebSocket-Accept: %s\n", want);
	assert_non_null(strcasestr(h.buf, acc));
	assert_non_null(strcasestr(h.buf, proto ? "Sec-WebSocket-Protocol: v4.channel.k8s.io"
						: "Sec-WebSocket-Protocol: v5.channel.k8s.io"));
	assert_non_null(strcasestr(h.buf, "upgrade: websocket"));
	ws_reader_init(rd, false, 1 << 20);
	if (avail(c))
		ws_reader_feed(rd, c->in.buf + c->pos, avail(c));
	c->pos = c->in.len;
}

static void ws_send(struct tconn *c, unsigned op, const void *data, size_t len)
{
	static const uint8_t mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	ws_frame_append(&sb, op, true, data, len, mask);
	tconn_write(c, sb.buf, sb.len);
}

static void ws_send_channel(struct tconn *c, uint8_t ch, const char *data)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	strbuf_addch(&sb, (char)ch);
	strbuf_addstr(&sb, data);
	ws_send(c, WS_OP_BINARY, sb.buf, sb.len);
}

/* Read messages into r until the server's Close (answered), the end of the
 * connection, or until stop_at appears on stdout. */
static void ws_collect(struct tconn *c, struct ws_reader *rd, struct ws_result *r,
		       const char *stop_at)
{
	uint64_t deadline = now_usec_monotonic() + 20 * 1000000;
	for (;;) {
		struct ws_message m;
		int k;
		while ((k = ws_reader_next(rd, &m)) > 0) {
			if (m.opcode == WS_OP_CLOSE) {
				uint16_t code;
				assert_int_equal(ws_close_parse(m.data, m.len, &code, NULL, NULL),
						 0);
				r->close_code = code;
				r->closed = true;
				static const uint8_t mask[4] = { 1, 2, 3, 4 };
				_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
				ws_close_append(&sb, code, NULL, mask);
				tconn_write(c, sb.buf, sb.len);
				return;
			}
			if (m.opcode == WS_OP_PONG) {
				r->pongs++;
				continue;
			}
			assert_int_equal(m.opcode, WS_OP_BINARY);
			assert_true(m.len >= 1);
			assert_true(m.data[0] >= 1 && m.data[0] <= 3);
			strbuf_add(&r->out[m.data[0] - 1], m.data + 1, m.len - 1);
			if (stop_at && strstr(strbuf_str(&r->out[0]), stop_at))
				return;
		}
		assert_int_equal(k, 0);
		assert_true(now_usec_monotonic() < deadline);
		size_t before = c->in.len;
		ssize_t n = tconn_fill(c, 1000);
		if (n == 0) {
			r->eof = true;
			return;
		}
		if (n > 0) {
			ws_reader_feed(rd, c->in.buf + before, (size_t)n);
			c->pos = c->in.len;
		}
	}
}

static char *exec_path(const char *container, const char *const *argv, const char *flags)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "/exec/ns/pod/%s?", container);
	for (const char *const *a = argv; *a; a++) {
		_cleanup_free_ char *e = url_escape(*a);
		strbuf_addf(&sb, "command=%s&", e);
	}
	strbuf_addstr(&sb, flags);
	return strbuf_detach(&sb, NULL);
}

static void run_exec(const char *const *argv, const char *flags, const char *stdin_data,
		     struct ws_result *r)
{
	struct tconn c;
	struct ws_reader rd;
	_cleanup_free_ char *path = exec_path("c", argv, flags);
	ws_open(&c, &rd, path, NULL);
	if (stdin_data) {
		ws_send_channel(&c, 0, stdin_data);
		ws_send(&c, WS_OP_BINARY, "\xff\x00", 2); /* v5: close stdin */
	}
	ws_collect(&c, &rd, r, NULL);
	ws_reader_release(&rd);
	tconn_close(&c);
}

static void expect_status_success(struct ws_result *r)
{
	assert_string_equal(strbuf_str(&r->out[2]), "{\"metadata\":{},\"status\":\"Success\"}");
	assert_true(r->closed);
	assert_int_equal(r->close_code, 1000);
}

static void test_exec(void **state)
{
	struct ws_result r = { 0 };
	static const char *const argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	run_exec(argv, "stdout=true&stderr=true", NULL, &r);
	assert_string_equal(strbuf_str(&r.out[0]), "out\n");
	assert_string_equal(strbuf_str(&r.out[1]), "err\n");
	_cleanup_json_ json_t *st = json_loads(strbuf_str(&r.out[2]), 0, NULL);
	assert_non_null(st);
	assert_string_equal(json_string_value(json_object_get(st, "status")), "Failure");
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "NonZeroExitCode");
	json_t *cause =
	    json_array_get(json_object_get(json_object_get(st, "details"), "causes"), 0);
	assert_string_equal(json_string_value(json_object_get(cause, "reason")), "ExitCode");
	assert_string_equal(json_string_value(json_object_get(cause, "message")), "3");
	assert_true(r.closed);
	assert_int_equal(r.close_code, 1000);
	ws_result_release(&r);

	/* stdin, closed by the client (v5), reaches the process. */
	static const char *const cat[] = { "cat", NULL };
	r = (struct ws_result){ 0 };
	run_exec(cat, "stdin=true&stdout=true&stderr=true", "hi there\n", &r);
	assert_string_equal(strbuf_str(&r.out[0]), "hi there\n");
	assert_string_equal(strbuf_str(&r.out[1]), "");
	expect_status_success(&r);
	ws_result_release(&r);

	/* Lots of output, all of it before the status. */
	static const char *const seq[] = { "seq", "1", "100000", NULL };
	r = (struct ws_result){ 0 };
	run_exec(seq, "stdout=true", NULL, &r);
	assert_int_equal(r.out[0].len, 588895);
	assert_memory_equal(r.out[0].buf + r.out[0].len - 7, "100000\n", 7);
	expect_status_success(&r);
	ws_result_release(&r);

	/* The process cannot start. */
	static const char *const nope[] = { "no-such-command", NULL };
	r = (struct ws_result){ 0 };
	run_exec(nope, "stdout=true", NULL, &r);
	_cleanup_json_ json_t *st2 = json_loads(strbuf_str(&r.out[2]), 0, NULL);
	assert_non_null(st2);
	assert_string_equal(json_string_value(json_object_get(st2, "reason")), "InternalError");
	assert_non_null(strstr(json_string_value(json_object_get(st2, "message")),
			       "executable file not found"));
	assert_true(r.closed);
	ws_result_release(&r);
}

/* A terminal: resizes apply, stderr is merged, pings are answered while the
 * process runs, and the session outlives a short read deadline. */
static void test_exec_tty(void **state)
{
	struct tconn c;
	struct ws_reader rd;
	struct ws_result r = { 0 };
	static const char *const argv[] = {
		"sh", "-c", "read x; stty size; echo \"got $x\"; echo oops >&2; exit 0", NULL
	};
	_cleanup_free_ char *path = exec_path("tty", argv, "stdin=true&stdout=true&tty=true");
	ws_open(&c, &rd, path, NULL);
	ws_send_channel(&c, 4, "{\"Width\":123,\"Height\":45}");
	ws_send(&c, WS_OP_PING, "p1", 2);
	ws_send(&c, WS_OP_PING, "p2", 2);
	ws_send_channel(&c, 0, "hello\r");
	ws_collect(&c, &rd, &r, NULL);
	assert_int_equal(r.pongs, 2);
	assert_non_null(strstr(strbuf_str(&r.out[0]), "45 123"));
	assert_non_null(strstr(strbuf_str(&r.out[0]), "got hello"));
	assert_non_null(strstr(strbuf_str(&r.out[0]), "oops"));
	assert_string_equal(strbuf_str(&r.out[1]), "");
	expect_status_success(&r);
	ws_result_release(&r);
	ws_reader_release(&rd);
	tconn_close(&c);
}

/* The client closes first: the server answers the Close and ends. */
static void test_exec_client_close(void **state)
{
	struct tconn c;
	struct ws_reader rd;
	struct ws_result r = { 0 };
	/* cat ends when the session closes its stdin. */
	static const char *const argv[] = { "sh", "-c", "echo ready; exec cat", NULL };
	_cleanup_free_ char *path = exec_path("c", argv, "stdin=true&stdout=true");
	ws_open(&c, &rd, path, NULL);
	ws_collect(&c, &rd, &r, "ready\n");
	static const uint8_t mask[4] = { 9, 9, 9, 9 };
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	ws_close_append(&sb, WS_CLOSE_NORMAL, NULL, mask);
	tconn_write(&c, sb.buf, sb.len);
	ws_collect(&c, &rd, &r, NULL);
	assert_true(r.closed);
	assert_int_equal(r.close_code, 1000);
	assert_string_equal(strbuf_str(&r.out[2]), ""); /* no status after a client close */
	ws_result_release(&r);
	ws_reader_release(&rd);
	tconn_close(&c);
}

static void test_attach(void **state)
{
	struct tconn c;
	struct ws_reader rd;
	struct ws_result r = { 0 };
	ws_open(&c, &rd, "/attach/ns/pod/c?stdin=true&stdout=true&stderr=true", NULL);
	ws_collect(&c, &rd, &r, "hello\n");
	ws_send_channel(&c, 0, "ping\n");
	ws_collect(&c, &rd, &r, "ping\n");
	ws_send(&c, WS_OP_BINARY, "\xff\x00", 2);
	ws_collect(&c, &rd, &r, NULL);
	assert_string_equal(strbuf_str(&r.out[0]), "hello\nping\n");
	assert_string_equal(strbuf_str(&r.out[1]), "bye\n");
	expect_status_success(&r);
	ws_result_release(&r);
	ws_reader_release(&rd);
	tconn_close(&c);

	/* A terminal's resize goes to conmon's control fifo; v4 works too. */
	r = (struct ws_result){ 0 };
	ws_open(&c, &rd, "/attach/ns/pod/tty?stdin=true&stdout=true&tty=true", "v4.channel.k8s.io");
	ws_send_channel(&c, 4, "{\"Width\":80,\"Height\":24}");
	ws_collect(&c, &rd, &r, "hello\n");
	pthread_mutex_lock(&resize_mu);
	assert_int_equal(attach_cols, 80);
	assert_int_equal(attach_rows, 24);
	pthread_mutex_unlock(&resize_mu);
	ws_result_release(&r);
	ws_reader_release(&rd);
	tconn_close(&c);
}

static void expect_refused(const char *method, const char *path, const char *headers, int code,
			   const char *msg)
{
	struct tconn c;
	_cleanup_strbuf_ struct strbuf h = STRBUF_INIT;
	tconn_open(&c, &certs);
	assert_int_equal(request(&c, method, path, headers, &h), code);
	const char *cl = strcasestr(h.buf, "content-length:");
	assert_non_null(cl);
	size_t len = strtoul(cl + 15, NULL, 10);
	while (avail(&c) < len)
		assert_true(tconn_fill(&c, 5000) > 0);
	_cleanup_free_ char *body = xstrndup(c.in.buf + c.pos, len);
	if (!strstr(body, msg))
		fail_msg("%s: %s", path, body);
	tconn_close(&c);
}

static void test_handshake_errors(void **state)
{
	static const char ws[] = "Connection: Upgrade\r\nUpgrade: websocket\r\n"
				 "Sec-WebSocket-Version: 13\r\n"
				 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
	static const char spdy[] = "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
				   "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n";
	_cleanup_free_ char *v5 = xasprintf("%sSec-WebSocket-Protocol: v5.channel.k8s.io\r\n", ws);
	_cleanup_free_ char *v1 = xasprintf("%sSec-WebSocket-Protocol: channel.k8s.io\r\n", ws);

	expect_refused("GET", "/exec/ns/pod/nope?command=sh&stdout=1", v5, 404,
		       "container not found (\\\"nope\\\")");
	expect_refused("GET", "/exec/ns/pod/stopped?command=sh&stdout=1", v5, 400,
		       "is not running");
	expect_refused("POST", "/exec/ns/pod/c?command=sh&stdout=1", spdy, 400,
		       "exec over SPDY is not supported");
	expect_refused("GET", "/exec/ns/pod/c?command=sh&stdout=1", NULL, 400,
		       "missing upgrade headers");
	expect_refused("GET", "/exec/ns/pod/c?command=sh&stdout=1", v1, 400, "subprotocol");
	expect_refused("GET", "/exec/ns/pod/c?stdout=1", v5, 400,
		       "you must specify at least one command");
	expect_refused("GET", "/exec/ns/pod/c?command=sh", v5, 400,
		       "at least 1 of stdin, stdout, stderr");
	expect_refused("GET", "/portForward/ns/pod", v5, 400, "over WebSocket is not supported");
	expect_refused("POST", "/portForward/ns/nope",
		       "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
		       "X-Stream-Protocol-Version: portforward.k8s.io\r\n",
		       404, "not found");
	expect_refused("POST", "/portForward/ns/pod", spdy, 403, "unable to negotiate protocol");
	expect_refused("GET", "/nothing/here", NULL, 404, "could not find");
}

/* ---- port forwarding ---- */

/* A child in a network namespace of its own (loopback up) serving HTTP on
 * 127.0.0.1:port: it answers "pong <request line>" and closes. */
static void start_netns_server(void)
{
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	netns_port = 20000 + (int)(getpid() % 20000);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		char ok = 0;
		if (unshare(CLONE_NEWNET) == 0) {
			int s = socket(AF_INET, SOCK_DGRAM, 0);
			struct ifreq ifr = { 0 };
			strcpy(ifr.ifr_name, "lo");
			ioctl(s, SIOCGIFFLAGS, &ifr);
			ifr.ifr_flags |= IFF_UP;
			if (ioctl(s, SIOCSIFFLAGS, &ifr) == 0)
				ok = 1;
		}
		int l = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_port = htons((uint16_t)netns_port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		if (bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 8) < 0)
			_exit(1);
		if (write(ready[1], &ok, 1) != 1)
			_exit(1);
		for (;;) {
			int c = accept(l, NULL, NULL);
			if (c < 0)
				continue;
			char buf[4096];
			ssize_t n = read(c, buf, sizeof(buf) - 1);
			buf[n > 0 ? n : 0] = 0;
			buf[strcspn(buf, "\r\n")] = 0;
			if (strncmp(buf, "slow", 4) == 0)
				usleep(1500 * 1000); /* answers after the client's FIN */
			char out[4200];
			int len = snprintf(out, sizeof(out), "pong %s\n", buf);
			if (write(c, out, (size_t)len) < 0)
				_exit(1);
			close(c);
		}
	}
	close(ready[1]);
	char ok = 0;
	assert_int_equal(read(ready[0], &ok, 1), 1);
	close(ready[0]);
	netns_child = pid;
	if (ok)
		netns_path = xasprintf("/proc/%d/ns/net", (int)pid);
	else
		print_message("no network namespace (not root?): forwarding in ours\n");
}

struct spdy_client {
	struct tconn c;
	struct spdy_deflater def;
	struct spdy_inflater inf;
};

static void spdy_open(struct spdy_client *sc)
{
	_cleanup_strbuf_ struct strbuf h = STRBUF_INIT;
	tconn_open(&sc->c, &certs);
	assert_int_equal(request(&sc->c, "POST", "/portForward/ns/pod",
				 "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
				 "X-Stream-Protocol-Version: portforward.k8s.io\r\n",
				 &h),
			 101);
	assert_non_null(strcasestr(h.buf, "x-stream-protocol-version: portforward.k8s.io"));
	assert_non_null(strcasestr(h.buf, "upgrade: SPDY/3.1"));
	assert_int_equal(spdy_deflater_init(&sc->def), 0);
	assert_int_equal(spdy_inflater_init(&sc->inf, 65536), 0);
}

static void spdy_close(struct spdy_client *sc)
{
	spdy_deflater_release(&sc->def);
	spdy_inflater_release(&sc->inf);
	tconn_close(&sc->c);
}

static void spdy_syn(struct spdy_client *sc, uint32_t id, const char *type, int port,
		     const char *reqid)
{
	struct spdy_headers h = { 0 };
	char p[16];
	snprintf(p, sizeof(p), "%d", port);
	spdy_headers_add(&h, "streamtype", type);
	spdy_headers_add(&h, "port", p);
	spdy_headers_add(&h, "requestid", reqid);
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	assert_int_equal(spdy_append_syn_stream(&sb, &sc->def, id, 0, 0, 0, &h), 0);
	spdy_headers_release(&h);
	tconn_write(&sc->c, sb.buf, sb.len);
}

static void spdy_data(struct spdy_client *sc, uint32_t id, uint8_t flags, const char *data)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	spdy_append_data(&sb, id, flags, data, data ? strlen(data) : 0);
	tconn_write(&sc->c, sb.buf, sb.len);
}

/* Read frames into a log like "REPLY 1|DATA 3 pong...|FIN 3|" until want
 * appears in it. */
static void spdy_until(struct spdy_client *sc, struct strbuf *log, const char *want)
{
	uint64_t deadline = now_usec_monotonic() + 15 * 1000000;
	while (!strstr(strbuf_str(log), want)) {
		struct spdy_frame f;
		ssize_t k = spdy_frame_parse(sc->c.in.buf ? sc->c.in.buf + sc->c.pos : "",
					     avail(&sc->c), 1 << 20, &f);
		assert_true(k >= 0);
		if (k == 0) {
			if (now_usec_monotonic() > deadline)
				fail_msg("waiting for \"%s\", got \"%s\"", want, strbuf_str(log));
			assert_true(tconn_fill(&sc->c, 1000) != 0);
			continue;
		}
		if (!f.control) {
			if (f.data_len)
				strbuf_addf(log, "DATA %u %.*s|", f.stream_id, (int)f.data_len,
					    (const char *)f.data);
			if (f.flags & SPDY_FLAG_FIN)
				strbuf_addf(log, "FIN %u|", f.stream_id);
		} else if (f.type == SPDY_SYN_REPLY) {
			struct spdy_headers h;
			assert_int_equal(spdy_headers_decompress(&sc->inf, f.data, f.data_len, &h),
					 0);
			spdy_headers_release(&h);
			strbuf_addf(log, "REPLY %u|", f.stream_id);
		} else if (f.type == SPDY_PING) {
			strbuf_addf(log, "PING %u|", f.ping_id);
		} else if (f.type == SPDY_RST_STREAM) {
			strbuf_addf(log, "RST %u %u|", f.stream_id, f.status);
		} else {
			strbuf_addf(log, "CONTROL %u|", f.type);
		}
		sc->c.pos += (size_t)k;
	}
}

static void test_port_forward(void **state)
{
	start_netns_server();
	struct spdy_client sc;
	_cleanup_strbuf_ struct strbuf log = STRBUF_INIT;
	spdy_open(&sc);

	/* As kubectl does it: error stream, its FIN, data stream, request. */
	spdy_syn(&sc, 1, "error", netns_port, "0");
	spdy_data(&sc, 1, SPDY_FLAG_FIN, NULL);
	spdy_syn(&sc, 3, "data", netns_port, "0");
	spdy_data(&sc, 3, 0, "GET / HTTP/1.0\r\n\r\n");
	spdy_until(&sc, &log, "FIN 1|");
	assert_string_equal(strbuf_str(&log),
			    "REPLY 1|REPLY 3|DATA 3 pong GET / HTTP/1.0\n|FIN 3|FIN 1|");

	/* A PING is echoed. */
	strbuf_reset(&log);
	_cleanup_strbuf_ struct strbuf ping = STRBUF_INIT;
	spdy_append_ping(&ping, 77);
	tconn_write(&sc.c, ping.buf, ping.len);
	spdy_until(&sc, &log, "PING 77|");

	/* Two requests at once on the same connection. */
	strbuf_reset(&log);
	spdy_syn(&sc, 5, "error", netns_port, "1");
	spdy_syn(&sc, 7, "error", netns_port, "2");
	spdy_syn(&sc, 9, "data", netns_port, "2");
	spdy_syn(&sc, 11, "data", netns_port, "1");
	spdy_data(&sc, 11, SPDY_FLAG_FIN, "one\n");
	spdy_data(&sc, 9, SPDY_FLAG_FIN, "two\n");
	spdy_until(&sc, &log, "FIN 5|");
	spdy_until(&sc, &log, "FIN 7|");
	assert_non_null(strstr(log.buf, "DATA 11 pong one\n|"));
	assert_non_null(strstr(log.buf, "DATA 9 pong two\n|"));

	/* A port nothing listens on: the reason on the error stream. */
	strbuf_reset(&log);
	spdy_syn(&sc, 13, "error", 1, "3");
	spdy_syn(&sc, 15, "data", 1, "3");
	spdy_until(&sc, &log, "FIN 13|");
	assert_non_null(strstr(log.buf, "DATA 13 error forwarding port 1 to pod ns/pod"));
	assert_non_null(strstr(log.buf, "Connection refused"));
	assert_non_null(strstr(log.buf, "FIN 15|"));

	/* A reset stream is dropped; the session goes on. */
	strbuf_reset(&log);
	spdy_syn(&sc, 17, "error", netns_port, "4");
	_cleanup_strbuf_ struct strbuf rst = STRBUF_INIT;
	spdy_append_rst_stream(&rst, 17, SPDY_CANCEL);
	tconn_write(&sc.c, rst.buf, rst.len);
	spdy_append_ping(&ping, 78);
	tconn_write(&sc.c, ping.buf + ping.len - 12, 12);
	spdy_until(&sc, &log, "PING 78|");
	assert_string_equal(strbuf_str(&log), "REPLY 17|PING 78|");

	/* After the client's half-close, the pod's answer still comes, even
	 * a slow one. */
	strbuf_reset(&log);
	spdy_syn(&sc, 19, "error", netns_port, "5");
	spdy_data(&sc, 19, SPDY_FLAG_FIN, NULL);
	spdy_syn(&sc, 21, "data", netns_port, "5");
	spdy_data(&sc, 21, SPDY_FLAG_FIN, "slow\n");
	spdy_until(&sc, &log, "FIN 19|");
	assert_string_equal(strbuf_str(&log),
			    "REPLY 19|REPLY 21|DATA 21 pong slow\n|FIN 21|FIN 19|");
	spdy_close(&sc);
}

/* ---- a real container (crun under conmon), through the OCI runtime ---- */

struct real {
	struct oci_runtime *rt;
	char *dir;
	char *ids[2];
	char *logs[2];
};

static struct real real;

static int real_find(void *ud, const char *ns, const char *pod, const char *container,
		     struct stream_container *ret)
{
	int i = streq(container, "main") ? 0 : streq(container, "tty") ? 1 : -1;
	if (i < 0 || !real.ids[i])
		return -ENOENT;
	*ret = (struct stream_container){ .container_id = xstrdup(real.ids[i]),
					  .log_path = xstrdup(real.logs[i]),
					  .running = true,
					  .tty = i == 1 };
	return 0;
}

/* A busybox container with GREETING in its environment. */
static void real_run(int i, const char *name, const char *script, bool tty)
{
	const char *args[] = { "sh", "-c", script, NULL };
	_cleanup_free_ char *rootfs = xasprintf("%s/rootfs", real.dir);
	struct harness_config cfg = { .rootfs = rootfs, .args = args, .tty = tty };
	real.ids[i] = xasprintf("stream-%d-%s", (int)getpid(), name);
	_cleanup_free_ char *bundle = xasprintf("%s/%s", real.dir, name);
	real.logs[i] = xasprintf("%s/%s.log", real.dir, name);
	assert_int_equal(harness_make_bundle(bundle, &cfg), 0);
	_cleanup_free_ char *config = xasprintf("%s/config.json", bundle);
	json_t *j = json_load_file(config, 0, NULL);
	json_array_append_new(json_get(j, "process.env"),
			      json_string("GREETING=hello from the spec"));
	json_object_set_new(json_object_get(j, "process"), "cwd", json_string("/tmp"));
	assert_int_equal(json_dump_file(j, config, 0), 0);
	json_decref(j);
	struct oci_create_opts o = { .id = real.ids[i],
				     .bundle = bundle,
				     .log_path = real.logs[i],
				     .tty = tty,
				     .stdin = true };
	_cleanup_free_ char *err = NULL;
	pid_t pid;
	if (oci_create(real.rt, &o, &pid, &err) < 0 || oci_start(real.rt, real.ids[i], &err) < 0)
		fail_msg("container %s: %s", name, err);
}

static void real_cleanup(void)
{
	for (int i = 0; i < 2; i++) {
		if (real.ids[i])
			(void)oci_delete(real.rt, real.ids[i], true);
		free(real.ids[i]);
		free(real.logs[i]);
	}
	oci_runtime_free(real.rt);
	if (real.dir)
		(void)rt_rm_rf(real.dir);
	free(real.dir);
	real = (struct real){ 0 };
}

static bool log_has(void *needle)
{
	_cleanup_free_ char *log = harness_read(real.logs[0]);
	return strstr(log, needle) != NULL;
}

static void test_real_container(void **state)
{
	if (geteuid() != 0)
		skip();
	char tmpl[] = "/tmp/c8s-stream-oci.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	real.dir = xstrdup(tmpl);
	_cleanup_free_ char *rootfs = xasprintf("%s/rootfs", real.dir);
	_cleanup_free_ char *state_dir = xasprintf("%s/state", real.dir);
	assert_int_equal(harness_make_rootfs(rootfs), 0);
	struct oci_runtime_opts ro = { .runtime = "crun", .state_dir = state_dir };
	_cleanup_free_ char *err = NULL;
	if (oci_runtime_new(&ro, &real.rt, &err) < 0) {
		print_message("no OCI runtime: %s\n", err);
		real_cleanup();
		skip();
	}
	real_run(0, "main", "echo started; while read l; do echo \"got:$l\"; done", false);
	real_run(1, "tty", "while read l; do stty size; done", true);

	static struct stream_backend backend = { .find_container = real_find };
	struct stream_server_opts o = {
		.bind_address = "127.0.0.1",
		.cert_pem = certs.serving_cert_pem,
		.key_pem = certs.serving_key_pem,
		.client_ca_pem = certs.ca_cert_pem,
		.runtime = real.rt,
		.backend = &backend,
	};
	struct stream_server *oci_srv;
	assert_int_equal(stream_server_start(&o, &oci_srv), 0);
	server_port = oci_srv->port;

	/* conmon's CRI log, read back. */
	assert_true(harness_wait_for(log_has, "started", 10000));
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	assert_int_equal(get("/containerLogs/ns/pod/main?timestamps=true", &certs, &body), 200);
	if (!strstr(body.buf, "Z started\n"))
		fail_msg("log: \"%s\"", body.buf);

	/* exec: the container's environment and working directory. */
	struct ws_result r = { 0 };
	struct tconn c;
	struct ws_reader rd;
	static const char *const env[] = { "sh", "-c", "echo \"$GREETING in $(pwd)\"; exit 3",
					   NULL };
	_cleanup_free_ char *path = exec_path("main", env, "stdout=true&stderr=true");
	ws_open(&c, &rd, path, NULL);
	ws_collect(&c, &rd, &r, NULL);
	assert_string_equal(strbuf_str(&r.out[0]), "hello from the spec in /tmp\n");
	assert_non_null(strstr(strbuf_str(&r.out[2]), "\"message\":\"3\""));
	ws_result_release(&r);
	ws_reader_release(&rd);
	tconn_close(&c);

	/* exec with a terminal, resized. */
	r = (struct ws_result){ 0 };
	static const char *const size[] = { "sh", "-c", "read x; stty size", NULL };
	free(path);
	path = exec_path("main", size, "stdin=true&stdout=true&tty=true");
	ws_open(&c, &rd, path, NULL);
	ws_send_channel(&c, 4, "{\"Width\":91,\"Height\":17}");
	ws_send_channel(&c, 0, "go\r");
	ws_collect(&c, &rd, &r, NULL);
	assert_non_null(strstr(strbuf_str(&r.out[0]), "17 91"));
	expect_status_success(&r);
	ws_result_release(&r);
	ws_reader_release(&rd);
	tconn_close(&c);

	/* attach through conmon's socket. */
	r = (struct ws_result){ 0 };
	ws_open(&c, &rd, "/attach/ns/pod/main?stdin=true&stdout=true&stderr=true", NULL);
	ws_send_channel(&c, 0, "hello\n");
	ws_collect(&c, &rd, &r, "got:hello\n");
	ws_result_release(&r);
	ws_reader_release(&rd);
	tconn_close(&c);

	/* attach to a terminal: the resize goes through conmon's fifo. */
	r = (struct ws_result){ 0 };
	ws_open(&c, &rd, "/attach/ns/pod/tty?stdin=true&stdout=true&tty=true", NULL);
	ws_send_channel(&c, 4, "{\"Width\":77,\"Height\":33}");
	for (int i = 0; i < 50 && !strstr(strbuf_str(&r.out[0]), "33 77"); i++) {
		ws_send_channel(&c, 0, "go\r");
		ws_collect(&c, &rd, &r, "\n");
		harness_sleep_ms(100);
	}
	assert_non_null(strstr(strbuf_str(&r.out[0]), "33 77"));
	ws_result_release(&r);
	ws_reader_release(&rd);
	tconn_close(&c);

	stream_server_stop(oci_srv);
	server_port = srv->port;
	real_cleanup();
}

/* A session left open ends when the server stops (run last). */
static void test_stop_with_sessions(void **state)
{
	struct tconn c;
	struct ws_reader rd;
	struct ws_result r = { 0 };
	static const char *const argv[] = { "sh", "-c", "echo ready; exec cat", NULL };
	_cleanup_free_ char *path = exec_path("c", argv, "stdin=true&stdout=true");
	ws_open(&c, &rd, path, NULL);
	ws_collect(&c, &rd, &r, "ready\n");
	uint64_t t0 = now_usec_monotonic();
	stream_server_stop(srv);
	srv = NULL;
	assert_true(now_usec_monotonic() - t0 < 5 * 1000000);
	ws_collect(&c, &rd, &r, NULL);
	assert_true(r.eof || (r.closed && r.close_code == WS_CLOSE_GOING_AWAY));
	ws_result_release(&r);
	ws_reader_release(&rd);
	tconn_close(&c);
}

/* ---- a stub agent for end-to-end tests ----
 *
 *   test_stream_server serve CA_FILE PORT DIR
 * serves the stream API on 127.0.0.1:PORT to clients of the CA in CA_FILE,
 * until SIGTERM, for any pod: logs from DIR/NS_POD_CONTAINER.log
 * (DIR/NS_POD_CONTAINER.prev.log for the previous instance; the container
 * counts as stopped once DIR/NS_POD_CONTAINER.stopped exists), exec runs
 * commands on this host, attach talks to a fake conmon (greets, echoes),
 * port forwarding connects to 127.0.0.1 here. tests/e2e/streaming.bats
 * drives kubectl through the API server to it.
 */
static char *serve_dir;

static char *serve_path(const char *ns, const char *pod, const char *container, const char *ext)
{
	return xasprintf("%s/%s_%s_%s%s", serve_dir, ns, pod, container, ext);
}

static int serve_find(void *ud, const char *ns, const char *pod, const char *container,
		      struct stream_container *ret)
{
	*ret = (struct stream_container){ 0 };
	ret->log_path = serve_path(ns, pod, container, ".log");
	_cleanup_free_ char *prev = serve_path(ns, pod, container, ".prev.log");
	_cleanup_free_ char *stopped = serve_path(ns, pod, container, ".stopped");
	if (access(prev, F_OK) == 0)
		ret->prev_log_path = TAKE_PTR(prev);
	ret->running = access(stopped, F_OK) != 0;
	ret->container_id = xasprintf("%s-%s-%s", ns, pod, container);
	return 0;
}

static int serve_netns(void *ud, const char *ns, const char *pod, char **ret)
{
	*ret = NULL;
	return 0;
}

static int serve_main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s serve CA_FILE PORT DIR\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	serve_dir = argv[4];
	_cleanup_free_ char *ca = NULL;
	FILE *f = fopen(argv[2], "re");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	size_t cap = 0;
	ssize_t n = getdelim(&ca, &cap, 0, f);
	fclose(f);
	if (n <= 0)
		return 1;
	_cleanup_free_ char *tls = xasprintf("%s/tls", serve_dir), *err = NULL;
	if (certs_ensure(tls, NULL, &certs, &err) < 0) {
		fprintf(stderr, "certificates: %s\n", err);
		return 1;
	}
	static struct stream_backend backend = { .find_container = serve_find,
						 .pod_netns = serve_netns };
	static const struct stream_runtime_ops ops = {
		.exec = fake_exec,
		.exec_wait = fake_wait,
		.resize_pty = fake_resize,
		.attach = fake_attach,
		.attach_resize = fake_attach_resize,
	};
	struct stream_server_opts o = {
		.bind_address = "127.0.0.1",
		.port = atoi(argv[3]),
		.cert_pem = certs.serving_cert_pem,
		.key_pem = certs.serving_key_pem,
		.client_ca_pem = ca,
		.backend = &backend,
	};
	int r = stream_server_start_with(&o, &ops, &srv);
	if (r < 0) {
		fprintf(stderr, "cannot serve on port %s: %s\n", argv[3], strerror(-r));
		return 1;
	}
	fprintf(stderr, "stub agent serving on 127.0.0.1:%d\n", srv->port);
	int sig;
	sigwait(&sigs, &sig);
	stream_server_stop(srv);
	certs_release(&certs);
	return 0;
}

/* Tests talk to the fake-backed server unless they say otherwise. */
static int per_test(void **state)
{
	if (srv)
		server_port = srv->port;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && streq(argv[1], "serve"))
		return serve_main(argc, argv);

	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_cri_times, per_test),
		cmocka_unit_test_setup(test_logs, per_test),
		cmocka_unit_test_setup(test_logs_follow, per_test),
		cmocka_unit_test_setup(test_auth, per_test),
		cmocka_unit_test_setup(test_exec, per_test),
		cmocka_unit_test_setup(test_exec_tty, per_test),
		cmocka_unit_test_setup(test_exec_client_close, per_test),
		cmocka_unit_test_setup(test_attach, per_test),
		cmocka_unit_test_setup(test_handshake_errors, per_test),
		cmocka_unit_test_setup(test_port_forward, per_test),
		cmocka_unit_test_setup(test_real_container, per_test),
		cmocka_unit_test_setup(test_stop_with_sessions, per_test),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
