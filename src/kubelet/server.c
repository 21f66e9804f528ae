/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node agent's stream server (streaming.h): an HTTPS daemon of its own
 * on libmicrohttpd, one thread per connection (a follow of a log file may
 * block its thread; sessions are few), serving only clients that present a
 * certificate of the cluster CA. exec, attach and portForward upgrade the
 * connection; each upgraded session then runs in a thread of its own
 * (server_exec.c, server_portforward.c) while libmicrohttpd keeps relaying
 * TLS for it.
 */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "kubelet/server_internal.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/websocket.h"

#define WS_V5		      "v5.channel.k8s.io"
#define WS_V4		      "v4.channel.k8s.io"
#define PORT_FORWARD_PROTOCOL "portforward.k8s.io"
#define LIVENESS_CHECK_USEC   (1000 * 1000)
#define STOP_WAIT_USEC	      (10 * 1000 * 1000)

void stream_container_release(struct stream_container *c)
{
	if (!c)
		return;
	free(c->container_id);
	free(c->log_path);
	free(c->prev_log_path);
	*c = (struct stream_container){ 0 };
}

bool stream_parse_bool(const char *v)
{
	static const char *const yes[] = { "1", "t", "T", "true", "TRUE", "True" };
	for (size_t i = 0; v && i < ARRAY_SIZE(yes); i++)
		if (streq(v, yes[i]))
			return true;
	return false;
}

void stream_server_session_begin(struct stream_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->sessions++;
	pthread_mutex_unlock(&s->mu);
}

void stream_server_session_end(struct stream_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->sessions--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

int stream_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pf = { .fd = fd, .events = POLLOUT };
				if (poll(&pf, 1, 30 * 1000) <= 0)
					return -ETIMEDOUT;
				continue;
			}
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- requests ---- */

/* Per request: what an upgrade hands to its session, until it starts. */
struct request {
	struct stream_server *srv;
	struct ws_session *ws;
	struct pf_session *pf;
};

void ws_session_free(struct ws_session *w)
{
	if (!w)
		return;
	if (w->argv)
		for (char **a = w->argv; *a; a++)
			free(*a);
	free(w->argv);
	stream_container_release(&w->container);
	free(w->extra_in);
	free(w);
}

void pf_session_free(struct pf_session *p)
{
	if (!p)
		return;
	free(p->ns);
	free(p->pod);
	free(p->netns_path);
	free(p->extra_in);
	free(p);
}

static enum MHD_Result respond_status(struct MHD_Connection *conn, unsigned code,
				      const char *reason, const char *fmt, ...) _printf_(4, 5);
static enum MHD_Result respond_status(struct MHD_Connection *conn, unsigned code,
				      const char *reason, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	json_t *st =
	    json_pack("{s:s, s:s, s:{}, s:s, s:s, s:i}", "kind", "Status", "apiVersion", "v1",
		      "metadata", "status", "Failure", "message", msg, "code", (int)code);
	if (reason && *reason)
		json_set_str(st, "reason", reason);
	size_t len;
	char *body = json_dump_compact(st, &len);
	json_decref(st);
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer_with_free_callback(len, body, free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	enum MHD_Result r = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	log_v(3, "stream server: %u %s", code, msg);
	return r;
}

/* The client certificate verifies against the cluster CA (the trust list
 * libmicrohttpd was given) and allows client authentication. */
static bool client_verified(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!ci || !ci->tls_session)
		return false;
	gnutls_session_t sess = ci->tls_session;
	unsigned n = 0, status = 0;
	if (gnutls_certificate_type_get(sess) != GNUTLS_CRT_X509 ||
	    !gnutls_certificate_get_peers(sess, &n) || n == 0)
		return false;
	gnutls_typed_vdata_st purpose = { .type = GNUTLS_DT_KEY_PURPOSE_OID,
					  .data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT };
	if (gnutls_certificate_verify_peers(sess, &purpose, 1, &status) < 0)
		return false;
	return status == 0;
}

/*
 * Who may use the API once authenticated: the API server (CN
 * system:kube-apiserver) and members of system:masters, as the kubelet's
 * authorizer allows them nodes/proxy. Any other user of the cluster CA (an
 * agent's own node certificate, say) is refused. Returns the user name (CN)
 * in *ret_user either way.
 */
static bool client_authorized(struct MHD_Connection *conn, char **ret_user)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	unsigned n = 0;
	const gnutls_datum_t *peers =
	    ci && ci->tls_session ? gnutls_certificate_get_peers(ci->tls_session, &n) : NULL;
	*ret_user = NULL;
	if (!peers || n == 0)
		return false;
	gnutls_x509_crt_t crt;
	if (gnutls_x509_crt_init(&crt) < 0)
		return false;
	bool ok = false;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) >= 0) {
		char buf[256];
		size_t len = sizeof(buf);
		if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf,
						  &len) >= 0) {
			*ret_user = xstrdup(buf);
			ok = streq(buf, "system:kube-apiserver");
		}
		for (unsigned i = 0; !ok; i++) {
			len = sizeof(buf);
			if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, i,
							  0, buf, &len) < 0)
				break;
			ok = streq(buf, "system:masters");
		}
	}
	gnutls_x509_crt_deinit(crt);
	return ok;
}

/* Split "/a/b/c" into at most max segments; returns how many. */
static size_t split_path(char *path, char **seg, size_t max)
{
	size_t n = 0;
	char *save = NULL;
	for (char *p = strtok_r(path, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (n == max)
			return max + 1;
		seg[n++] = p;
	}
	return n;
}

/* ---- /containerLogs ---- */

struct log_request {
	struct stream_server *srv;
	struct log_stream *ls;
	bool follow;
	bool finishing;
	int conn_fd;
	char *ns, *pod, *container, *container_id;
	uint64_t next_check;
};

static void log_request_free(void *cls)
{
	struct log_request *lr = cls;
	log_stream_free(lr->ls);
	free(lr->ns);
	free(lr->pod);
	free(lr->container);
	free(lr->container_id);
	free(lr);
}

/* Whether the container instance being followed still runs. */
static bool still_running(struct log_request *lr)
{
	struct stream_container c = { 0 };
	const struct stream_backend *b = &lr->srv->backend;
	if (b->find_container(b->userdata, lr->ns, lr->pod, lr->container, &c) < 0)
		return false;
	bool same = c.running && streq_ptr(c.container_id, lr->container_id);
	stream_container_release(&c);
	return same;
}

static ssize_t log_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct log_request *lr = cls;

	for (;;) {
		ssize_t n = log_stream_read(lr->ls, buf, max);
		if (n > 0)
			return n;
		if (n < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (!lr->follow || lr->finishing || log_stream_done(lr->ls))
			return MHD_CONTENT_READER_END_OF_STREAM;

		int wfd = log_stream_watch_fd(lr->ls);
		struct pollfd p[3] = {
			{ .fd = lr->srv->stop_fd, .events = POLLIN },
			{ .fd = lr->conn_fd, .events = POLLRDHUP },
			{ .fd = wfd, .events = POLLIN },
		};
		int timeout = wfd >= 0 ? 1000 : 200;
		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (p[0].revents)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (p[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
			return MHD_CONTENT_READER_END_WITH_ERROR; /* the client went away */
		if (p[2].revents)
			log_stream_watch_ack(lr->ls);
		uint64_t now = now_usec_monotonic();
		if (now >= lr->next_check) {
			lr->next_check = now + LIVENESS_CHECK_USEC;
			/* Once it stopped, read what is left, then end. */
			if (!still_running(lr))
				lr->finishing = true;
		}
	}
}

static int64_t query_int(struct MHD_Connection *conn, const char *key, int64_t def)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
	if (isempty(v))
		return def;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *end)
		return INT64_MIN;
	return n;
}

static bool query_bool(struct MHD_Connection *conn, const char *key)
{
	return stream_parse_bool(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key));
}

static enum MHD_Result serve_logs(struct stream_server *s, struct MHD_Connection *conn,
				  const char *ns, const char *pod, const char *container)
{
	struct log_opts o = { .tail_lines = -1, .limit_bytes = -1 };
	bool previous = query_bool(conn, "previous");
	bool follow = query_bool(conn, "follow");
	o.timestamps = query_bool(conn, "timestamps");
	o.tail_lines = query_int(conn, "tailLines", -1);
	o.limit_bytes = query_int(conn, "limitBytes", -1);
	int64_t since = query_int(conn, "sinceSeconds", 0);
	if (o.tail_lines == INT64_MIN || o.limit_bytes == INT64_MIN || since == INT64_MIN ||
	    since < 0)
		return respond_status(conn, 400, "BadRequest", "invalid log options");
	if (since > 0)
		o.since_usec = (int64_t)now_usec_realtime() - since * 1000000;
	const char *since_time =
	    MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "sinceTime");
	if (!isempty(since_time)) {
		int64_t sec;
		int32_t nsec;
		if (cri_time_parse(since_time, strlen(since_time), &sec, &nsec) < 0)
			return respond_status(conn, 400, "BadRequest", "invalid sinceTime \"%s\"",
					      since_time);
		o.since_usec = sec * 1000000 + nsec / 1000;
	}

	struct stream_container c = { 0 };
	int r = s->backend.find_container(s->backend.userdata, ns, pod, container, &c);
	if (r < 0)
		return respond_status(
		    conn, 400, "BadRequest",
		    "container \"%s\" in pod \"%s\" is waiting to start: ContainerCreating",
		    container, pod);
	const char *path = previous ? c.prev_log_path : c.log_path;
	if (!path) {
		stream_container_release(&c);
		if (previous)
			return respond_status(
			    conn, 400, "BadRequest",
			    "previous terminated container \"%s\" in pod \"%s\" not found",
			    container, pod);
		return respond_status(conn, 400, "BadRequest",
				      "container \"%s\" in pod \"%s\" has no log", container, pod);
	}
	struct log_stream *ls;
	r = log_stream_open(path, &o, &ls);
	if (r < 0) {
		enum MHD_Result res =
		    respond_status(conn, 500, "InternalError",
				   "failed to open log of container \"%s\" in pod \"%s\": %s",
				   container, pod, strerror(-r));
		stream_container_release(&c);
		return res;
	}

	struct log_request *lr = xnew(struct log_request, 1);
	lr->srv = s;
	lr->ls = ls;
	lr->follow = follow && !previous && c.running;
	lr->ns = xstrdup(ns);
	lr->pod = xstrdup(pod);
	lr->container = xstrdup(container);
	lr->container_id = c.container_id ? xstrdup(c.container_id) : NULL;
	lr->next_check = now_usec_monotonic() + LIVENESS_CHECK_USEC;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	lr->conn_fd = ci ? ci->connect_fd : -1;
	stream_container_release(&c);

	struct MHD_Response *resp = MHD_create_response_from_callback(
	    MHD_SIZE_UNKNOWN, 32 * 1024, log_reader, lr, log_request_free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
	enum MHD_Result res = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return res;
}

/* ---- upgrades ---- */

struct strv_collect {
	const char *key;
	struct strbuf *sb;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct strv_collect *c = cls;
	if (key && value && strcasecmp(key, c->key) == 0) {
		if (c->sb->len)
			strbuf_addch(c->sb, ',');
		strbuf_addstr(c->sb, value);
	}
	return MHD_YES;
}

/* Every value of a header (they may repeat), joined with commas. */
static char *header_all(struct MHD_Connection *conn, const char *key)
{
	struct strbuf sb = STRBUF_INIT;
	struct strv_collect c = { key, &sb };
	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &c);
	return strbuf_detach(&sb, NULL);
}

struct argv_collect {
	char **v;
	size_t n;
};

static enum MHD_Result collect_command(void *cls, enum MHD_ValueKind kind, const char *key,
				       const char *value)
{
	struct argv_collect *a = cls;
	if (key && streq(key, "command")) {
		a->v = xrealloc(a->v, (a->n + 2) * sizeof(char *));
		a->v[a->n++] = xstrdup(value ? value : "");
		a->v[a->n] = NULL;
	}
	return MHD_YES;
}

static void start_thread(void *(*fn)(void *), void *arg, struct stream_server *s)
{
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	stream_server_session_begin(s);
	if (pthread_create(&t, &attr, fn, arg) != 0) {
		/* The session cleans up after itself: run it here (it sees
		 * the connection and ends at once when it cannot proceed). */
		log_error("stream server: cannot start a session thread");
		fn(arg);
	}
	pthread_attr_destroy(&attr);
}

static void ws_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
			size_t extra_in_size, MHD_socket sock,
			struct MHD_UpgradeResponseHandle *urh)
{
	struct request *rq = con_cls;
	struct ws_session *w = TAKE_PTR(rq->ws);
	w->sock = sock;
	w->urh = urh;
	if (extra_in_size) {
		w->extra_in = xmemdup(extra_in, extra_in_size);
		w->extra_len = extra_in_size;
	}
	start_thread(ws_session_main, w, rq->srv);
}

static void pf_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
			size_t extra_in_size, MHD_socket sock,
			struct MHD_UpgradeResponseHandle *urh)
{
	struct request *rq = con_cls;
	struct pf_session *p = TAKE_PTR(rq->pf);
	p->sock = sock;
	p->urh = urh;
	if (extra_in_size) {
		p->extra_in = xmemdup(extra_in, extra_in_size);
		p->extra_len = extra_in_size;
	}
	start_thread(pf_session_main, p, rq->srv);
}

static const char *header(struct MHD_Connection *conn, const char *key)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, key);
}

static bool is_spdy_upgrade(struct MHD_Connection *conn)
{
	return http_token_list_contains(header(conn, MHD_HTTP_HEADER_UPGRADE), "SPDY/3.1");
}

static bool is_websocket_upgrade(struct MHD_Connection *conn)
{
	return http_token_list_contains(header(conn, MHD_HTTP_HEADER_UPGRADE), "websocket") &&
	       http_token_list_contains(header(conn, MHD_HTTP_HEADER_CONNECTION), "upgrade");
}

static enum MHD_Result serve_exec_attach(struct request *rq, struct MHD_Connection *conn,
					 enum ws_session_kind kind, const char *ns, const char *pod,
					 const char *container)
{
	struct stream_server *s = rq->srv;
	struct stream_container c = { 0 };
	const char *what = kind == WS_SESSION_EXEC ? "exec" : "attach";

	int r = s->backend.find_container(s->backend.userdata, ns, pod, container, &c);
	if (r < 0)
		return respond_status(conn, 404, "NotFound", "container not found (\"%s\")",
				      container);
	if (!c.running) {
		stream_container_release(&c);
		return respond_status(conn, 400, "BadRequest",
				      "container \"%s\" in pod \"%s\" is not running", container,
				      pod);
	}
	if (!is_websocket_upgrade(conn)) {
		stream_container_release(&c);
		if (is_spdy_upgrade(conn))
			return respond_status(conn, 400, "BadRequest",
					      "%s over SPDY is not supported by this node: use a "
					      "client that speaks WebSocket (%s)",
					      what, WS_V5);
		return respond_status(conn, 400, "BadRequest",
				      "unable to upgrade: missing upgrade headers in request");
	}

	_cleanup_free_ char *protos = header_all(conn, "Sec-WebSocket-Protocol");
	const char *proto = http_token_list_contains(protos, WS_V5)   ? WS_V5
			    : http_token_list_contains(protos, WS_V4) ? WS_V4
								      : NULL;
	char accept[WS_ACCEPT_LEN + 1];
	const char *version = header(conn, "Sec-WebSocket-Version");
	if (!version || !streq(version, "13") ||
	    ws_accept_key(header(conn, "Sec-WebSocket-Key"), accept) < 0 || !proto) {
		stream_container_release(&c);
		return respond_status(conn, 400, "BadRequest",
				      "unable to upgrade: the WebSocket handshake needs version "
				      "13, a key, and the subprotocol %s or %s",
				      WS_V5, WS_V4);
	}

	struct ws_session *w = xnew(struct ws_session, 1);
	w->srv = s;
	w->kind = kind;
	w->v5 = proto == (const char *)WS_V5;
	w->tty = query_bool(conn, "tty");
	w->want_stdin = query_bool(conn, "stdin");
	w->want_stdout = query_bool(conn, "stdout");
	/* A terminal merges stderr into stdout. */
	w->want_stderr = query_bool(conn, "stderr") && !w->tty;
	w->container = c;
	w->sock = -1;
	if (kind == WS_SESSION_EXEC) {
		struct argv_collect a = { 0 };
		MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_command, &a);
		w->argv = a.v;
		if (!a.n) {
			ws_session_free(w);
			return respond_status(
			    conn, 400, "BadRequest",
			    "you must specify at least one command for the container");
		}
	}
	if (!w->want_stdin && !w->want_stdout && !w->want_stderr) {
		ws_session_free(w);
		return respond_status(conn, 400, "BadRequest",
				      "you must specify at least 1 of stdin, stdout, stderr");
	}

	/* libmicrohttpd adds "Connection: Upgrade" itself. */
	struct MHD_Response *resp = MHD_create_response_for_upgrade(ws_upgraded, NULL);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
	MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
	MHD_add_response_header(resp, "Sec-WebSocket-Protocol", proto);
	rq->ws = w;
	enum MHD_Result res = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	return res;
}

static enum MHD_Result serve_port_forward(struct request *rq, struct MHD_Connection *conn,
					  const char *ns, const char *pod)
{
	struct stream_server *s = rq->srv;

	if (!is_spdy_upgrade(conn))
		return respond_status(
		    conn, 400, "BadRequest",
		    is_websocket_upgrade(conn)
			? "port forwarding over WebSocket is not supported by this node: use "
			  "SPDY/3.1"
			: "unable to upgrade: missing upgrade headers in request");
	_cleanup_free_ char *versions = header_all(conn, "X-Stream-Protocol-Version");
	if (!http_token_list_contains(versions, PORT_FORWARD_PROTOCOL))
		return respond_status(conn, 403, "Forbidden",
				      "unable to upgrade: unable to negotiate protocol: client "
				      "supports %s, server supports [%s]",
				      versions, PORT_FORWARD_PROTOCOL);
	char *netns = NULL;
	if (s->backend.pod_netns) {
		int r = s->backend.pod_netns(s->backend.userdata, ns, pod, &netns);
		if (r < 0)
			return respond_status(
			    conn, 404, "NotFound",
			    "pod \"%s\" not found in namespace \"%s\" on this node", pod, ns);
	}
	struct pf_session *p = xnew(struct pf_session, 1);
	p->srv = s;
	p->ns = xstrdup(ns);
	p->pod = xstrdup(pod);
	p->netns_path = netns;
	p->sock = -1;

	struct MHD_Response *resp = MHD_create_response_for_upgrade(pf_upgraded, NULL);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "SPDY/3.1");
	MHD_add_response_header(resp, "X-Stream-Protocol-Version", PORT_FORWARD_PROTOCOL);
	rq->pf = p;
	enum MHD_Result res = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	MHD_destroy_response(resp);
	return res;
}

/* ---- libmicrohttpd callbacks ---- */

static enum MHD_Result dispatch(struct request *rq, struct MHD_Connection *conn, const char *url,
				const char *method)
{
	_cleanup_free_ char *path = xstrdup(url);
	char *seg[5];
	size_t n = split_path(path, seg, 4);
	bool get = streq(method, "GET"), post = streq(method, "POST");

	if (n == 1 && streq(seg[0], "healthz")) {
		struct MHD_Response *resp =
		    MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
		enum MHD_Result r = MHD_queue_response(conn, 200, resp);
		MHD_destroy_response(resp);
		return r;
	}
	if (n == 4 && streq(seg[0], "containerLogs")) {
		if (!get)
			return respond_status(conn, 405, "MethodNotAllowed", "method not allowed");
		return serve_logs(rq->srv, conn, seg[1], seg[2], seg[3]);
	}
	if (n == 4 && (streq(seg[0], "exec") || streq(seg[0], "attach"))) {
		if (!get && !post)
			return respond_status(conn, 405, "MethodNotAllowed", "method not allowed");
		return serve_exec_attach(
		    rq, conn, streq(seg[0], "exec") ? WS_SESSION_EXEC : WS_SESSION_ATTACH, seg[1],
		    seg[2], seg[3]);
	}
	if (n == 3 && streq(seg[0], "portForward")) {
		if (!get && !post)
			return respond_status(conn, 405, "MethodNotAllowed", "method not allowed");
		return serve_port_forward(rq, conn, seg[1], seg[2]);
	}
	return respond_status(conn, 404, "NotFound",
			      "the server could not find the requested resource");
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	struct stream_server *s = cls;
	struct request *rq = *con_cls;

	if (!rq) {
		rq = xnew(struct request, 1);
		rq->srv = s;
		*con_cls = rq;
		if (!client_verified(conn))
			return respond_status(conn, 401, "Unauthorized", "Unauthorized");
		_cleanup_free_ char *user = NULL;
		if (!client_authorized(conn, &user))
			return respond_status(
			    conn, 403, "Forbidden",
			    "Forbidden (user=%s, verb=%s, resource=nodes, subresource=proxy)",
			    user ? user : "", streq(method, "GET") ? "get" : "create");
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* no request here has a body */
		return MHD_YES;
	}
	log_v(4, "stream server: %s %s", method, url);
	return dispatch(rq, conn, url, method);
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;
	if (!rq)
		return;
	/* An upgrade that never happened (the client left first). */
	ws_session_free(rq->ws);
	pf_session_free(rq->pf);
	free(rq);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	size_t n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = 0;
	log_v(2, "stream server: %s", buf);
}

int stream_server_start_with(const struct stream_server_opts *o,
			     const struct stream_runtime_ops *ops, struct stream_server **ret)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_POLL | MHD_USE_TLS | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG;
	const char *addr = o->bind_address ? o->bind_address : "0.0.0.0";

	if (!o->cert_pem || !o->key_pem || !o->client_ca_pem || !o->backend ||
	    !o->backend->find_container || o->port < 0 || o->port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)o->port);
	} else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)o->port);
		flags |= MHD_USE_IPv6;
	} else {
		return -EINVAL;
	}

	struct stream_server *s = xnew(struct stream_server, 1);
	s->cert_pem = xstrdup(o->cert_pem);
	s->key_pem = xstrdup(o->key_pem);
	s->ca_pem = xstrdup(o->client_ca_pem);
	s->backend = *o->backend;
	s->ops = *ops;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		int r = -errno;
		stream_server_stop(s);
		return r;
	}

	s->mhd = MHD_start_daemon(
	    flags, (uint16_t)o->port, NULL, NULL, access_handler, s, MHD_OPTION_EXTERNAL_LOGGER,
	    mhd_log, NULL, MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_HTTPS_MEM_KEY, s->key_pem,
	    MHD_OPTION_HTTPS_MEM_CERT, s->cert_pem, MHD_OPTION_HTTPS_MEM_TRUST, s->ca_pem,
	    MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1",
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)0, MHD_OPTION_END);
	if (!s->mhd) {
		stream_server_stop(s);
		return -EADDRINUSE;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : o->port;
	*ret = s;
	return 0;
}

void stream_server_stop(struct stream_server *s)
{
	if (!s)
		return;
	if (s->stop_fd >= 0) {
		uint64_t one = 1;
		if (write(s->stop_fd, &one, sizeof(one)) < 0)
			log_warn("stream server: cannot signal the sessions to stop");
	}
	/* Upgraded connections must be closed before the daemon stops. */
	pthread_mutex_lock(&s->mu);
	uint64_t deadline = now_usec_monotonic() + STOP_WAIT_USEC;
	while (s->sessions && now_usec_monotonic() < deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cond, &s->mu, &ts);
	}
	bool left = s->sessions != 0;
	pthread_mutex_unlock(&s->mu);
	if (left) {
		/* Leaking beats freeing what a stuck session still uses. */
		log_error("stream server: sessions did not end; not stopping the daemon");
		return;
	}
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s->cert_pem);
	free(s->key_pem);
	free(s->ca_pem);
	free(s);
}
