/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forwarding pods/log, exec, attach and portforward to the node agents (see
 * proxy.h).
 *
 * A request is checked from the cache first (pod, container, phase, node).
 * Then its connection is suspended and a thread connects to the agent,
 * forwards the request and reads the answer's head. The thread hands the
 * answer to the request (struct req's ext slot) and resumes the connection:
 *   - 101 (an upgrade): the client gets the agent's 101; once
 *     libmicrohttpd passes the upgraded socket, the thread relays bytes
 *     between it and the agent's TLS connection until either side ends;
 *   - 200 for a log: the client gets a chunked answer whose reader
 *     callback drains a buffer the thread fills from the agent (the
 *     connection is suspended while the buffer is empty, as watches do);
 *   - anything else: the agent's answer as a Status.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "apiserver/apiserver.h"
#include "apiserver/cache.h"
#include "apiserver/certs.h"
#include "apiserver/http.h"
#include "apiserver/proxy.h"
#include "apiserver/proxy_target.h"
#include "apiserver/resource.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/websocket.h"

#define DIAL_TIMEOUT_MS 10000
#define HEAD_TIMEOUT_MS 30000
#define UPGRADE_WAIT_MS 30000
#define MAX_HEAD	(64 * 1024)
#define MAX_ERROR_BODY	(256 * 1024)
#define LOG_HIGH_WATER	(1024 * 1024)
#define RELAY_CHUNK	(32 * 1024)
#define STOP_WAIT_USEC	(5 * 1000 * 1000)

enum proxy_sub { PSUB_LOG, PSUB_EXEC, PSUB_ATTACH, PSUB_PORTFORWARD, PSUB_PROXY };

struct proxy {
	gnutls_certificate_credentials_t cred;	    /* with the client certificate, for agents */
	gnutls_certificate_credentials_t anon_cred; /* without, for https proxy targets */
	int stop_fd;				    /* eventfd: readable once stopping */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct proxy_ctx *active;
	unsigned nthreads;
	bool stopping;
};

struct proxy_ctx {
	struct proxy *px;
	struct MHD_Connection *conn;
	enum proxy_sub sub;
	bool upgrade;
	char *target; /* "host:port", for messages */
	char *host;
	int port;
	bool tls;	/* over TLS (the agents, https targets of the proxy) */
	bool anonymous; /* TLS without the API server's client certificate */
	bool head;	/* a HEAD request: the answer has no body */
	char *request;	/* the HTTP request for the agent (or proxy target) */
	char *prefix;	/* proxy: the client's path up to ".../proxy" (escaped) */
	size_t request_len;

	pthread_mutex_t mu;
	pthread_cond_t cond;
	unsigned refs;
	bool req_gone; /* the client's request ended */

	/* The answer, handed to the request when it is resumed. */
	struct MHD_Response *resp;
	unsigned code;

	/* The agent. */
	int fd;
	gnutls_session_t tls_session; /* NULL for plain TCP */
	struct strbuf in;	      /* read from the agent: in.buf[in_pos..] not consumed */
	size_t in_pos;

	/* After a 101: the client's side, from the upgrade callback. */
	int client_sock;
	struct MHD_UpgradeResponseHandle *urh;
	char *client_extra;
	size_t client_extra_len;

	/* A log: what the reader callback sends next. */
	struct strbuf out;
	size_t out_pos;
	bool finished, failed, suspended, resp_gone;

	struct proxy_ctx *next, *prev; /* in px->active */
};

/* ---- contexts ---- */

static struct proxy_ctx *ctx_ref(struct proxy_ctx *c)
{
	pthread_mutex_lock(&c->mu);
	c->refs++;
	pthread_mutex_unlock(&c->mu);
	return c;
}

static void ctx_unref(struct proxy_ctx *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	bool last = --c->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	if (c->resp)
		MHD_destroy_response(c->resp);
	if (c->tls_session)
		gnutls_deinit(c->tls_session);
	if (c->fd >= 0)
		close(c->fd);
	free(c->target);
	free(c->host);
	free(c->request);
	free(c->prefix);
	free(c->client_extra);
	strbuf_release(&c->in);
	strbuf_release(&c->out);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cond);
	free(c);
}

/* struct req's ext_free: the request is over. */
static void ctx_req_gone(void *ext)
{
	struct proxy_ctx *c = ext;
	pthread_mutex_lock(&c->mu);
	c->req_gone = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	ctx_unref(c);
}

/* ---- answers ---- */

static struct MHD_Response *json_response(json_t *j)
{
	size_t len;
	char *s = json_dump_compact(j, &len);
	json_decref(j);
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer_with_free_callback(len, s, free);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
	return resp;
}

static const char *reason_for(unsigned code)
{
	switch (code) {
	case 400:
		return "BadRequest";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "NotFound";
	case 405:
		return "MethodNotAllowed";
	case 409:
		return "Conflict";
	case 500:
		return "InternalError";
	case 503:
		return "ServiceUnavailable";
	case 504:
		return "Timeout";
	default:
		return "";
	}
}

static struct MHD_Response *status_response(int code, const char *reason, const char *msg)
{
	struct api_error e = { .code = code, .reason = reason, .message = (char *)msg };
	return json_response(api_error_status(&e));
}

/* Give the request its answer and resume it. */
static void deliver(struct proxy_ctx *c, unsigned code, struct MHD_Response *resp)
{
	pthread_mutex_lock(&c->mu);
	c->resp = resp;
	c->code = code;
	pthread_mutex_unlock(&c->mu);
	MHD_resume_connection(c->conn);
}

static void deliver_error(struct proxy_ctx *c, int code, const char *fmt, ...) _printf_(3, 4);
static void deliver_error(struct proxy_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	log_v(2, "proxy to %s: %s", c->target, msg);
	/* Kubernetes leaves the reason out for a node it cannot reach:
	 * kubectl prints "Error from server: error dialing backend: ...". */
	deliver(c, (unsigned)code,
		status_response(code, code == 500 ? "" : reason_for((unsigned)code), msg));
}

/* ---- the agent connection ---- */

static int dial(struct proxy_ctx *c, char **ret_err)
{
	char port[16];
	snprintf(port, sizeof(port), "%d", c->port);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int g = getaddrinfo(c->host, port, &hints, &ai);
	if (g != 0) {
		*ret_err =
		    xasprintf("dial tcp %s: lookup %s: %s", c->target, c->host, gai_strerror(g));
		return -EHOSTUNREACH;
	}
	int r = -ECONNREFUSED;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			r = -errno;
			close(fd);
			continue;
		}
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int n = poll(&p, 1, DIAL_TIMEOUT_MS);
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (n == 0)
			soerr = ETIMEDOUT;
		else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
			soerr = errno;
		if (soerr) {
			r = -soerr;
			close(fd);
			continue;
		}
		int fl = fcntl(fd, F_GETFL);
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
		c->fd = fd;
		r = 0;
		break;
	}
	freeaddrinfo(ai);
	if (r < 0) {
		/* Go's wording, as Kubernetes reports it. */
		char e[128];
		snprintf(e, sizeof(e), "%s", strerror(-r));
		e[0] = (char)(e[0] >= 'A' && e[0] <= 'Z' ? e[0] - 'A' + 'a' : e[0]);
		*ret_err = xasprintf("dial tcp %s: connect: %s", c->target, e);
		return r;
	}

	if (!c->tls)
		return 0;
	int t;
	if ((t = gnutls_init(&c->tls_session, GNUTLS_CLIENT)) >= 0 &&
	    (t = gnutls_set_default_priority(c->tls_session)) >= 0 &&
	    (t = gnutls_credentials_set(c->tls_session, GNUTLS_CRD_CERTIFICATE,
					c->anonymous ? c->px->anon_cred : c->px->cred)) >= 0) {
		gnutls_transport_set_int(c->tls_session, c->fd);
		gnutls_handshake_set_timeout(c->tls_session, DIAL_TIMEOUT_MS);
		do
			t = gnutls_handshake(c->tls_session);
		while (t < 0 && !gnutls_error_is_fatal(t));
	}
	if (t < 0) {
		*ret_err = xasprintf("tls handshake with %s: %s", c->target, gnutls_strerror(t));
		return -EPROTO;
	}
	return 0;
}

static int agent_send(struct proxy_ctx *c, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n;
		if (!c->tls_session) {
			n = send(c->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -EIO;
			p += n;
			len -= (size_t)n;
			continue;
		}
		n = gnutls_record_send(c->tls_session, p, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read more from the agent: the byte count, 0 at its end, -ETIMEDOUT, -EIO.
 * timeout_ms < 0 waits as long as it takes. */
static ssize_t agent_fill(struct proxy_ctx *c, int timeout_ms)
{
	if (timeout_ms >= 0 && !(c->tls_session && gnutls_record_check_pending(c->tls_session))) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		int n = poll(&p, 1, timeout_ms);
		if (n == 0)
			return -ETIMEDOUT;
	}
	char buf[16384];
	ssize_t n;
	if (!c->tls_session) {
		do
			n = recv(c->fd, buf, sizeof(buf), 0);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -EIO;
	} else {
		do
			n = gnutls_record_recv(c->tls_session, buf, sizeof(buf));
		while (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	}
	if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
		return 0;
	if (n < 0)
		return -EIO;
	if (c->in_pos == c->in.len) {
		strbuf_reset(&c->in);
		c->in_pos = 0;
	}
	strbuf_add(&c->in, buf, (size_t)n);
	return n;
}

static size_t agent_avail(struct proxy_ctx *c)
{
	return c->in.len - c->in_pos;
}

/* A CRLF-terminated line from the agent (without the CRLF). */
static int agent_line(struct proxy_ctx *c, int timeout_ms, struct strbuf *line)
{
	for (;;) {
		char *p = c->in.buf ? c->in.buf + c->in_pos : NULL;
		char *nl = p ? memchr(p, '\n', agent_avail(c)) : NULL;
		if (nl) {
			size_t len = (size_t)(nl - p);
			strbuf_reset(line);
			strbuf_add(line, p, len && nl[-1] == '\r' ? len - 1 : len);
			c->in_pos += len + 1;
			return 0;
		}
		if (agent_avail(c) > MAX_HEAD)
			return -EMSGSIZE;
		ssize_t n = agent_fill(c, timeout_ms);
		if (n <= 0)
			return n == 0 ? -EPIPE : (int)n;
	}
}

struct head {
	unsigned code;
	struct strbuf headers; /* "Name: value\n" lines */
};

static const char *head_get(const struct head *h, const char *name, size_t *ret_len)
{
	size_t nl = strlen(name);
	for (const char *p = strbuf_str(&h->headers); *p;) {
		const char *eol = strchr(p, '\n');
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			*ret_len = (size_t)(eol - v);
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

static char *head_dup(const struct head *h, const char *name)
{
	size_t len;
	const char *v = head_get(h, name, &len);
	return v ? xstrndup(v, len) : NULL;
}

static int read_head(struct proxy_ctx *c, struct head *h)
{
	_cleanup_strbuf_ struct strbuf line = STRBUF_INIT;
	int r = agent_line(c, HEAD_TIMEOUT_MS, &line);
	if (r < 0)
		return r;
	unsigned code;
	if (sscanf(strbuf_str(&line), "HTTP/1.%*u %u", &code) != 1)
		return -EBADMSG;
	h->code = code;
	for (;;) {
		r = agent_line(c, HEAD_TIMEOUT_MS, &line);
		if (r < 0)
			return r;
		if (!line.len)
			return 0;
		if (h->headers.len + line.len > MAX_HEAD)
			return -EMSGSIZE;
		strbuf_add(&h->headers, line.buf, line.len);
		strbuf_addch(&h->headers, '\n');
	}
}

/*
 * The body of an answer, piece by piece: chunked, with a length, or until
 * the agent closes. sink() gets each piece; it returns < 0 to stop.
 * timeout_ms applies to each read (-1: none).
 */
static int read_body(struct proxy_ctx *c, const struct head *h, int timeout_ms,
		     int (*sink)(struct proxy_ctx *c, const char *data, size_t len, void *ud),
		     void *ud)
{
	_cleanup_free_ char *te = head_dup(h, "Transfer-Encoding");
	_cleanup_free_ char *cl = head_dup(h, "Content-Length");
	bool chunked = te && http_token_list_contains(te, "chunked");
	int64_t left = cl && !chunked ? strtoll(cl, NULL, 10) : -1;
	_cleanup_strbuf_ struct strbuf line = STRBUF_INIT;
	int r;

	for (;;) {
		if (chunked) {
			r = agent_line(c, timeout_ms, &line);
			if (r < 0)
				return r;
			char *end;
			unsigned long long size = strtoull(strbuf_str(&line), &end, 16);
			if (end == line.buf)
				return -EBADMSG;
			if (size == 0) {
				/* Trailers, up to the empty line. */
				do
					r = agent_line(c, timeout_ms, &line);
				while (r == 0 && line.len);
				return r == -EPIPE ? 0 : r;
			}
			left = (int64_t)size;
		}
		while (left != 0) {
			if (!agent_avail(c)) {
				ssize_t n = agent_fill(c, timeout_ms);
				if (n < 0)
					return (int)n;
				if (n == 0)
					return left < 0 ? 0 : -EPIPE; /* read-to-close ends here */
			}
			size_t take = agent_avail(c);
			if (left > 0 && (int64_t)take > left)
				take = (size_t)left;
			r = sink(c, c->in.buf + c->in_pos, take, ud);
			c->in_pos += take;
			if (r < 0)
				return r;
			if (left > 0)
				left -= (int64_t)take;
		}
		if (!chunked)
			return 0;
		r = agent_line(c, timeout_ms, &line); /* the CRLF after the chunk */
		if (r < 0)
			return r;
	}
}

static int sink_buffer(struct proxy_ctx *c, const char *data, size_t len, void *ud)
{
	struct strbuf *sb = ud;
	if (sb->len + len > MAX_ERROR_BODY)
		return -EMSGSIZE;
	strbuf_add(sb, data, len);
	return 0;
}

/* ---- logs ---- */

static ssize_t log_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct proxy_ctx *c = cls;
	pthread_mutex_lock(&c->mu);
	if (c->out_pos < c->out.len) {
		size_t n = MIN(max, c->out.len - c->out_pos);
		memcpy(buf, c->out.buf + c->out_pos, n);
		c->out_pos += n;
		if (c->out_pos == c->out.len) {
			strbuf_reset(&c->out);
			c->out_pos = 0;
		}
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->mu);
		return (ssize_t)n;
	}
	if (c->finished) {
		bool failed = c->failed;
		pthread_mutex_unlock(&c->mu);
		return failed ? MHD_CONTENT_READER_END_WITH_ERROR
			      : MHD_CONTENT_READER_END_OF_STREAM;
	}
	c->suspended = true;
	MHD_suspend_connection(c->conn);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

static void log_response_free(void *cls)
{
	struct proxy_ctx *c = cls;
	pthread_mutex_lock(&c->mu);
	c->resp_gone = true;
	/* Wake the thread, also out of a read from the agent. */
	if (c->fd >= 0)
		(void)shutdown(c->fd, SHUT_RDWR);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	ctx_unref(c);
}

/* Hand data to the reader callback (waiting while it has plenty). */
static int sink_log(struct proxy_ctx *c, const char *data, size_t len, void *ud)
{
	pthread_mutex_lock(&c->mu);
	while (!c->resp_gone && c->out.len - c->out_pos > LOG_HIGH_WATER)
		pthread_cond_wait(&c->cond, &c->mu);
	if (c->resp_gone) {
		pthread_mutex_unlock(&c->mu);
		return -ECANCELED;
	}
	strbuf_add(&c->out, data, len);
	bool resume = c->suspended;
	c->suspended = false;
	pthread_mutex_unlock(&c->mu);
	if (resume)
		MHD_resume_connection(c->conn);
	return 0;
}

/* Headers that describe one connection, not the answer (RFC 9110 7.6.1),
 * and the framing libmicrohttpd sets itself. */
static bool hop_by_hop(const char *name, size_t len)
{
	static const char *const names[] = {
		"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "TE",
		"Trailer",    "Upgrade",    "Content-Length",	"Proxy-Authenticate"
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == len && strncasecmp(name, names[i], len) == 0)
			return true;
	return false;
}

/* What follows prefix at the start of s, or NULL. */
static const char *after_prefix(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncasecmp(s, prefix, n) == 0 ? s + n : NULL;
}

/*
 * A redirect to the target itself, pointed back through the proxy (as
 * Kubernetes rewrites them): "/x" or "http://TARGET/x" becomes
 * "PREFIX/x". NULL when value leads elsewhere.
 */
static char *rewrite_location(const struct proxy_ctx *c, const char *value)
{
	if (!c->prefix)
		return NULL;
	const char *path = NULL;
	if (value[0] == '/' && value[1] != '/') {
		path = value;
	} else {
		const char *rest = after_prefix(value, "http://");
		if (!rest)
			rest = after_prefix(value, "https://");
		size_t tl = strlen(c->target);
		if (rest && strncasecmp(rest, c->target, tl) == 0 &&
		    (rest[tl] == '/' || rest[tl] == 0 || rest[tl] == '?'))
			path = rest[tl] == '/' ? rest + tl : "/";
	}
	return path ? xasprintf("%s%s", c->prefix, path) : NULL;
}

/* The target's end-to-end headers, onto the client's answer. */
static void copy_answer_headers(const struct proxy_ctx *c, struct MHD_Response *resp,
				const struct head *h)
{
	for (const char *p = strbuf_str(&h->headers); *p;) {
		const char *eol = strchr(p, '\n');
		if (!eol)
			break;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon && colon > p && !hop_by_hop(p, (size_t)(colon - p))) {
			_cleanup_free_ char *name = xstrndup(p, (size_t)(colon - p));
			const char *v = colon + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			_cleanup_free_ char *value = xstrndup(v, (size_t)(eol - v));
			_cleanup_free_ char *moved =
			    strcasecmp(name, "Location") == 0 ? rewrite_location(c, value) : NULL;
			MHD_add_response_header(resp, name, moved ? moved : value);
		}
		p = eol + 1;
	}
}

/*
 * Stream the answer's body to the client: a log (200, text), or anything a
 * proxy target answers, with its status code and headers. The client's
 * answer has the target's length when it gave one, else it is chunked.
 */
static void stream_answer(struct proxy_ctx *c, const struct head *h)
{
	bool proxy = c->sub == PSUB_PROXY;
	bool no_body = proxy && (c->head || h->code < 200 || h->code == 204 || h->code == 304);
	uint64_t size = MHD_SIZE_UNKNOWN;
	if (proxy) {
		_cleanup_free_ char *te = head_dup(h, "Transfer-Encoding");
		_cleanup_free_ char *cl = head_dup(h, "Content-Length");
		if (cl && !(te && http_token_list_contains(te, "chunked")))
			size = strtoull(cl, NULL, 10);
		if (no_body && !c->head)
			size = 0;
	}
	struct MHD_Response *resp = MHD_create_response_from_callback(
	    size, 32 * 1024, log_reader, ctx_ref(c), log_response_free);
	if (proxy) {
		copy_answer_headers(c, resp, h);
	} else {
		_cleanup_free_ char *ct = head_dup(h, "Content-Type");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ct ? ct : "text/plain");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache, private");
	}
	if (no_body) {
		pthread_mutex_lock(&c->mu);
		c->finished = true;
		pthread_mutex_unlock(&c->mu);
	}
	deliver(c, proxy ? h->code : 200, resp);
	if (no_body)
		return;

	int r = read_body(c, h, -1, sink_log, NULL);
	pthread_mutex_lock(&c->mu);
	c->finished = true;
	c->failed = r < 0 && r != -ECANCELED;
	bool resume = c->suspended;
	c->suspended = false;
	pthread_mutex_unlock(&c->mu);
	if (resume)
		MHD_resume_connection(c->conn);
}

/* ---- upgrades ---- */

static void upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
		     size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct proxy_ctx *c = cls;
	pthread_mutex_lock(&c->mu);
	c->client_sock = sock;
	c->urh = urh;
	if (extra_in_size) {
		c->client_extra = xmemdup(extra_in, extra_in_size);
		c->client_extra_len = extra_in_size;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

static int client_send(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };
			if (poll(&pf, 1, 60 * 1000) <= 0)
				return -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The client's bytes to the agent, on a thread of its own: each direction
 * blocks only on its own writes, so a peer that is busy writing while its
 * input is full (both ways at once: port-forward of an echo) cannot
 * deadlock the relay. GnuTLS allows one thread sending and another
 * receiving on a session.
 */
static void *relay_to_agent(void *arg)
{
	struct proxy_ctx *c = arg;
	int sock = c->client_sock;
	char buf[RELAY_CHUNK];
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = sock, .events = POLLIN },
			{ .fd = c->px->stop_fd, .events = POLLIN },
		};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		ssize_t n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0 || agent_send(c, buf, (size_t)n) < 0)
			break;
	}
	/* Wake the other direction out of its read from the agent. */
	(void)shutdown(c->fd, SHUT_RDWR);
	return NULL;
}

static void relay(struct proxy_ctx *c)
{
	/* Wait for libmicrohttpd to pass the upgraded socket (it has sent our
	 * 101 by then), unless the client left first. */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += UPGRADE_WAIT_MS / 1000;
	pthread_mutex_lock(&c->mu);
	while (c->client_sock < 0 && !c->req_gone)
		if (pthread_cond_timedwait(&c->cond, &c->mu, &ts) == ETIMEDOUT)
			break;
	int sock = c->client_sock;
	pthread_mutex_unlock(&c->mu);
	if (sock < 0)
		return;

	bool ok = true;
	if (c->client_extra_len)
		ok = agent_send(c, c->client_extra, c->client_extra_len) == 0;
	if (ok && agent_avail(c)) {
		ok = client_send(sock, c->in.buf + c->in_pos, agent_avail(c)) == 0;
		c->in_pos = c->in.len;
	}
	pthread_t t;
	bool threaded = ok && pthread_create(&t, NULL, relay_to_agent, c) == 0;
	/* The agent's bytes to the client, here. */
	char buf[RELAY_CHUNK];
	while (threaded) {
		if (!gnutls_record_check_pending(c->tls_session)) {
			struct pollfd p[2] = {
				{ .fd = c->fd, .events = POLLIN },
				{ .fd = c->px->stop_fd, .events = POLLIN },
			};
			if (poll(p, 2, -1) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			if (p[1].revents)
				break;
		}
		ssize_t n;
		do
			n = gnutls_record_recv(c->tls_session, buf, sizeof(buf));
		while (n == GNUTLS_E_INTERRUPTED);
		if (n == GNUTLS_E_AGAIN)
			continue;
		if (n <= 0 || client_send(sock, buf, (size_t)n) < 0)
			break;
	}
	/* Wake the other direction out of its read from the client. */
	(void)shutdown(sock, SHUT_RDWR);
	if (threaded)
		pthread_join(t, NULL);
	MHD_upgrade_action(c->urh, MHD_UPGRADE_ACTION_CLOSE);
}

/* ---- the thread ---- */

static void relay_error(struct proxy_ctx *c, const struct head *h)
{
	_cleanup_strbuf_ struct strbuf body = STRBUF_INIT;
	int r = read_body(c, h, HEAD_TIMEOUT_MS, sink_buffer, &body);
	_cleanup_free_ char *ct = head_dup(h, "Content-Type");
	if (r == 0 && ct && startswith(ct, "application/json")) {
		json_error_t jerr;
		json_t *j = json_loadb(body.buf ? body.buf : "", body.len, 0, &jerr);
		if (j && streq_ptr(json_get_str(j, "kind"), "Status")) {
			deliver(c, h->code, json_response(j));
			return;
		}
		json_decref(j);
	}
	/* Text, as the kubelet writes its errors. */
	size_t len = body.len;
	while (len &&
	       (body.buf[len - 1] == '\n' || body.buf[len - 1] == '\r' || body.buf[len - 1] == ' '))
		len--;
	_cleanup_free_ char *msg = len ? xstrndup(body.buf, len)
				       : xasprintf("the server responded with the status code %u "
						   "but did not return more information",
						   h->code);
	unsigned code = h->code >= 400 && h->code < 600 ? h->code : 500;
	deliver(c, code, status_response((int)code, reason_for(code), msg));
}

static void serve_upgrade(struct proxy_ctx *c, const struct head *h)
{
	static const char *const copy[] = { "Upgrade", "Sec-WebSocket-Accept",
					    "Sec-WebSocket-Protocol", "X-Stream-Protocol-Version" };
	/* libmicrohttpd adds "Connection: Upgrade" itself. */
	struct MHD_Response *resp = MHD_create_response_for_upgrade(upgraded, c);
	for (size_t i = 0; i < ARRAY_SIZE(copy); i++) {
		_cleanup_free_ char *v = head_dup(h, copy[i]);
		if (v)
			MHD_add_response_header(resp, copy[i], v);
	}
	deliver(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
	relay(c);
}

static void proxy_register(struct proxy *px, struct proxy_ctx *c)
{
	pthread_mutex_lock(&px->mu);
	c->next = px->active;
	if (px->active)
		px->active->prev = c;
	px->active = c;
	px->nthreads++;
	pthread_mutex_unlock(&px->mu);
}

static void proxy_unregister(struct proxy *px, struct proxy_ctx *c)
{
	pthread_mutex_lock(&px->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		px->active = c->next;
	if (c->next)
		c->next->prev = c->prev;
	px->nthreads--;
	pthread_cond_broadcast(&px->cond);
	pthread_mutex_unlock(&px->mu);
}

static void *ctx_main(void *arg)
{
	struct proxy_ctx *c = arg;
	struct proxy *px = c->px;
	_cleanup_free_ char *err = NULL;
	struct head h = { 0 };

	/* Kubernetes' words: the proxy subresources answer 503 "error trying
	 * to reach service", the node subresources 500 "error dialing backend". */
	bool proxy = c->sub == PSUB_PROXY;
	int fail_code = proxy ? 503 : 500;
	const char *fail_what = proxy ? "error trying to reach service" : "error dialing backend";
	if (dial(c, &err) < 0) {
		deliver_error(c, fail_code, "%s: %s", fail_what, err);
		goto out;
	}
	if (agent_send(c, c->request, c->request_len) < 0) {
		deliver_error(c, fail_code, "%s: error sending the request to %s", fail_what,
			      c->target);
		goto out;
	}
	int r = read_head(c, &h);
	if (r < 0) {
		deliver_error(c, fail_code, "%s: error reading the answer of %s: %s", fail_what,
			      c->target, r == -ETIMEDOUT ? "timeout" : strerror(-r));
		goto out;
	}
	log_v(3, "proxy to %s: %u", c->target, h.code);
	if (c->upgrade && h.code == 101)
		serve_upgrade(c, &h);
	else if (proxy || (c->sub == PSUB_LOG && h.code == 200))
		stream_answer(c, &h);
	else
		relay_error(c, &h);
out:
	strbuf_release(&h.headers);
	if (c->tls_session)
		gnutls_bye(c->tls_session, GNUTLS_SHUT_WR);
	proxy_unregister(px, c);
	ctx_unref(c);
	return NULL;
}

/* ---- checking the request ---- */

static enum proxy_sub sub_of(const char *sub)
{
	if (streq(sub, "log"))
		return PSUB_LOG;
	if (streq(sub, "exec"))
		return PSUB_EXEC;
	if (streq(sub, "attach"))
		return PSUB_ATTACH;
	if (streq(sub, "proxy"))
		return PSUB_PROXY;
	return PSUB_PORTFORWARD;
}

bool proxy_handles(const struct req *r)
{
	const struct resource *res = r->route.res;
	const char *sub = r->route.sub;
	if (!res || !sub || !r->route.name || !isempty(res->group))
		return false;
	if (streq(sub, "proxy"))
		return streq(res->plural, "pods") || streq(res->plural, "services") ||
		       streq(res->plural, "nodes");
	if (r->route.rest || !streq(res->plural, "pods"))
		return false;
	return streq(sub, "log") || streq(sub, "exec") || streq(sub, "attach") ||
	       streq(sub, "portforward");
}

static void add_names(json_t *list, struct strbuf *names, size_t *n)
{
	size_t i;
	json_t *c;
	json_array_foreach(list, i, c)
	{
		const char *name = json_get_str(c, "name");
		if (!name)
			continue;
		if ((*n)++)
			strbuf_addch(names, ' ');
		strbuf_addstr(names, name);
	}
}

/* Kubernetes' validateContainer: the container asked for, or the only one. */
static char *pick_container(json_t *pod, const char *name, const char *container,
			    struct api_error *err)
{
	json_t *spec = json_object_get(pod, "spec");
	json_t *lists[] = { json_object_get(spec, "initContainers"),
			    json_object_get(spec, "containers"),
			    json_object_get(spec, "ephemeralContainers") };
	if (isempty(container)) {
		json_t *main = lists[1];
		size_t n = json_array_size(main);
		if (n == 1)
			return xstrdup(str_or_empty_json(json_array_get(main, 0), "name"));
		if (n == 0) {
			api_error_bad_request(err, "a container name must be specified for pod %s",
					      name);
			return NULL;
		}
		_cleanup_strbuf_ struct strbuf names = STRBUF_INIT;
		size_t k = 0;
		for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
			add_names(lists[i], &names, &k);
		api_error_bad_request(
		    err, "a container name must be specified for pod %s, choose one of: [%s]", name,
		    strbuf_str(&names));
		return NULL;
	}
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		size_t i;
		json_t *c;
		json_array_foreach(
		    lists[l], i,
		    c) if (streq_ptr(json_get_str(c, "name"), container)) return xstrdup(container);
	}
	api_error_bad_request(err, "container %s is not valid for pod %s", container, name);
	return NULL;
}

/* ---- building the agent's request ---- */

static void add_escaped(struct strbuf *sb, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			strbuf_addch(sb, (char)*p);
		else
			strbuf_addf(sb, "%%%02X", *p);
	}
}

struct query_copy {
	struct strbuf *sb;
	enum proxy_sub sub;
	size_t n;
};

static enum MHD_Result copy_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	static const char *const log_keys[] = { "follow",	"previous",  "timestamps",
						"sinceSeconds", "sinceTime", "tailLines",
						"limitBytes" };
	static const char *const stream_keys[] = { "stdin", "stdout", "stderr", "tty" };
	struct query_copy *q = cls;
	bool keep = false;
	if (!key)
		return MHD_YES;
	if (q->sub == PSUB_LOG) {
		for (size_t i = 0; i < ARRAY_SIZE(log_keys); i++)
			keep = keep || streq(key, log_keys[i]);
	} else if (q->sub == PSUB_EXEC || q->sub == PSUB_ATTACH) {
		for (size_t i = 0; i < ARRAY_SIZE(stream_keys); i++)
			keep = keep || streq(key, stream_keys[i]);
		keep = keep || (q->sub == PSUB_EXEC && streq(key, "command"));
	} else {
		keep = streq(key, "ports");
	}
	if (!keep)
		return MHD_YES;
	strbuf_addch(q->sb, q->n++ ? '&' : '?');
	add_escaped(q->sb, key);
	strbuf_addch(q->sb, '=');
	add_escaped(q->sb, value ? value : "");
	return MHD_YES;
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	static const char *const keys[] = { "Upgrade",
					    "Sec-WebSocket-Key",
					    "Sec-WebSocket-Version",
					    "Sec-WebSocket-Protocol",
					    "X-Stream-Protocol-Version",
					    "User-Agent" };
	struct strbuf *sb = cls;
	if (!key || !value || strpbrk(value, "\r\n"))
		return MHD_YES;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcasecmp(key, keys[i]) == 0)
			strbuf_addf(sb, "%s: %s\r\n", keys[i], value);
	return MHD_YES;
}

static char *build_request(struct req *r, enum proxy_sub sub, bool upgrade, const char *ns,
			   const char *pod, const char *container, const char *target)
{
	struct strbuf sb = STRBUF_INIT;
	static const char *const paths[] = { "containerLogs", "exec", "attach", "portForward" };
	strbuf_addf(&sb, "%s /%s/", r->method, paths[sub]);
	add_escaped(&sb, ns);
	strbuf_addch(&sb, '/');
	add_escaped(&sb, pod);
	if (container) {
		strbuf_addch(&sb, '/');
		add_escaped(&sb, container);
	}
	struct query_copy q = { &sb, sub, 0 };
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, copy_arg, &q);
	strbuf_addf(&sb, " HTTP/1.1\r\nHost: %s\r\n", target);
	if (upgrade) {
		strbuf_addstr(&sb, "Connection: Upgrade\r\n");
		MHD_get_connection_values(r->conn, MHD_HEADER_KIND, copy_header, &sb);
	} else {
		strbuf_addstr(&sb, "Connection: close\r\n");
		const char *ua = req_header(r, MHD_HTTP_HEADER_USER_AGENT);
		if (ua && !strpbrk(ua, "\r\n"))
			strbuf_addf(&sb, "User-Agent: %s\r\n", ua);
	}
	if (streq(r->method, "POST"))
		strbuf_addstr(&sb, "Content-Length: 0\r\n");
	strbuf_addstr(&sb, "\r\n");
	return strbuf_detach(&sb, NULL);
}

/* A context for r, to connect to host:port (taken). */
static struct proxy_ctx *ctx_new(struct req *r, enum proxy_sub sub, char *host, int port)
{
	struct proxy_ctx *c = xnew(struct proxy_ctx, 1);
	c->px = r->srv->proxy;
	c->conn = r->conn;
	c->sub = sub;
	c->fd = -1;
	c->client_sock = -1;
	c->refs = 2; /* the request's (ext) and the thread's */
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->target =
	    strchr(host, ':') ? xasprintf("[%s]:%d", host, port) : xasprintf("%s:%d", host, port);
	c->host = host;
	c->port = port;
	return c;
}

/* Suspend r and start the thread that connects and answers. */
static void ctx_start(struct req *r, struct proxy_ctx *c)
{
	struct proxy *px = c->px;
	r->ext = c;
	r->ext_free = ctx_req_gone;

	pthread_mutex_lock(&px->mu);
	bool stopping = px->stopping;
	pthread_mutex_unlock(&px->mu);
	if (stopping) {
		ctx_unref(c);
		req_respond_status(r, 503, "ServiceUnavailable", "the API server is shutting down");
		return;
	}
	proxy_register(px, c);
	/* Suspend first: the thread resumes the connection when it has the
	 * answer. */
	MHD_suspend_connection(r->conn);
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, ctx_main, c) != 0) {
		proxy_unregister(px, c);
		ctx_unref(c);
		deliver(c, 503,
			status_response(503, "ServiceUnavailable",
					"cannot start a thread for the request"));
	}
	pthread_attr_destroy(&attr);
}

/* ---- the proxy subresources ---- */

/* Path characters sent as they are (RFC 3986 pchar and "/"). */
static void add_path_escaped(struct strbuf *sb, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~/:@!$&'()*+,;=", *p))
			strbuf_addch(sb, (char)*p);
		else
			strbuf_addf(sb, "%%%02X", *p);
	}
}

static enum MHD_Result copy_any_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct query_copy *q = cls;
	if (!key)
		return MHD_YES;
	strbuf_addch(q->sb, q->n++ ? '&' : '?');
	add_escaped(q->sb, key);
	if (value) {
		strbuf_addch(q->sb, '=');
		add_escaped(q->sb, value);
	}
	return MHD_YES;
}

static enum MHD_Result copy_proxy_header(void *cls, enum MHD_ValueKind kind, const char *key,
					 const char *value)
{
	/* The client's credentials are for the API server only (Kubernetes
	 * drops them after authentication). */
	static const char *const drop[] = { "Host", "Authorization", "Expect" };
	struct strbuf *sb = cls;
	if (!key || !value || strpbrk(key, "\r\n:") || strpbrk(value, "\r\n") ||
	    hop_by_hop(key, strlen(key)))
		return MHD_YES;
	for (size_t i = 0; i < ARRAY_SIZE(drop); i++)
		if (strcasecmp(key, drop[i]) == 0)
			return MHD_YES;
	strbuf_addf(sb, "%s: %s\r\n", key, value);
	return MHD_YES;
}

/* What follows ".../NAME/proxy" in the request path: "/" at least; and
 * what comes before, with it, escaped, in *ret_prefix. */
static const char *proxy_rest(const struct req *r, char **ret_prefix)
{
	_cleanup_free_ char *marker =
	    xasprintf("/%s/%s/proxy", r->route.res->plural, r->route.name);
	const char *p = strstr(r->path, marker);
	struct strbuf sb = STRBUF_INIT;
	_cleanup_free_ char *upto =
	    p ? xstrndup(r->path, (size_t)(p - r->path) + strlen(marker)) : NULL;
	add_path_escaped(&sb, upto ? upto : r->path);
	*ret_prefix = strbuf_detach(&sb, NULL);
	if (!p)
		return "/";
	p += strlen(marker);
	return *p == '/' ? p : "/";
}

static char *build_proxy_request(struct req *r, const char *target, char **ret_prefix,
				 size_t *ret_len)
{
	struct strbuf sb = STRBUF_INIT;
	strbuf_addf(&sb, "%s ", r->method);
	add_path_escaped(&sb, proxy_rest(r, ret_prefix));
	struct query_copy q = { &sb, PSUB_PROXY, 0 };
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, copy_any_arg, &q);
	strbuf_addf(&sb, " HTTP/1.1\r\nHost: %s\r\n", target);
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, copy_proxy_header, &sb);
	strbuf_addstr(&sb, "Connection: close\r\n");
	if (r->body.len || streq(r->method, "POST") || streq(r->method, "PUT") ||
	    streq(r->method, "PATCH"))
		strbuf_addf(&sb, "Content-Length: %zu\r\n", r->body.len);
	strbuf_addstr(&sb, "\r\n");
	if (r->body.len)
		strbuf_add(&sb, r->body.buf, r->body.len);
	return strbuf_detach(&sb, ret_len);
}

static void serve_proxy(struct req *r)
{
	static const char *const methods[] = { "GET",	"HEAD",	  "POST",   "PUT",
					       "PATCH", "DELETE", "OPTIONS" };
	struct api_error err = { 0 };
	bool allowed = false;
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		allowed = allowed || streq(r->method, methods[i]);
	if (!allowed) {
		req_respond_status(
		    r, 405, "MethodNotAllowed",
		    "the server does not allow this method on the requested resource");
		return;
	}
	struct proxy_target t;
	if (proxy_target_resolve(r->srv, r->route.res, r->route.ns, r->route.name, &t, &err) < 0) {
		req_respond_error(r, &err);
		api_error_release(&err);
		return;
	}
	struct proxy_ctx *c = ctx_new(r, PSUB_PROXY, TAKE_PTR(t.host), t.port);
	c->tls = t.tls;
	c->head = streq(r->method, "HEAD");
	c->request = build_proxy_request(r, c->target, &c->prefix, &c->request_len);
	if (!t.agent) {
		/* Only the agents get the API server's client certificate. */
		c->anonymous = true;
	}
	log_v(3, "proxy %s %s to %s", r->method, r->path, c->target);
	ctx_start(r, c);
}

/* ---- serving ---- */

static void respond_ready(struct req *r, struct proxy_ctx *c)
{
	pthread_mutex_lock(&c->mu);
	struct MHD_Response *resp = TAKE_PTR(c->resp);
	unsigned code = c->code;
	pthread_mutex_unlock(&c->mu);
	if (!resp) {
		req_respond_status(r, 500, "InternalError", "the node agent did not answer");
		return;
	}
	req_respond(r, code, resp);
}

static const char *phase_of(json_t *pod)
{
	const char *p = json_get_str(pod, "status.phase");
	return isempty(p) ? "Pending" : p;
}

void proxy_serve(struct req *r)
{
	struct apiserver *srv = r->srv;
	struct proxy *px = srv->proxy;
	struct api_error err = { 0 };
	enum proxy_sub sub = sub_of(r->route.sub);
	const char *m = r->method;
	const char *name = r->route.name, *ns = r->route.ns;

	if (r->ext) {
		/* Resumed: the thread left the answer. */
		if (r->ext_free == ctx_req_gone)
			respond_ready(r, r->ext);
		else
			req_respond_status(r, 500, "InternalError", "unexpected request state");
		return;
	}
	if (sub == PSUB_LOG	? !streq(m, "GET")
	    : sub == PSUB_PROXY ? false
				: !streq(m, "GET") && !streq(m, "POST")) {
		req_respond_status(
		    r, 405, "MethodNotAllowed",
		    "the server does not allow this method on the requested resource");
		return;
	}
	if (!px) {
		req_respond_status(r, 503, "ServiceUnavailable",
				   "the API server cannot connect to node agents");
		return;
	}
	if (sub == PSUB_PROXY) {
		serve_proxy(r);
		return;
	}

	const struct resource *pods = r->route.res;
	_cleanup_free_ char *key = xasprintf("%s/%s", ns ? ns : "", name);
	_cleanup_obj_ struct obj *o = cache_get(srv->cache, pods, key);
	_cleanup_json_ json_t *pod = o ? json_loadb(obj_json(o), o->len, 0, NULL) : NULL;
	_cleanup_free_ char *container = NULL, *host = NULL;
	int port;
	if (!pod) {
		api_error_not_found(&err, pods, name);
		goto fail;
	}
	if (sub != PSUB_PORTFORWARD) {
		container = pick_container(pod, name, req_query(r, "container"), &err);
		if (!container)
			goto fail;
	}
	const char *node = json_get_str(pod, "spec.nodeName");
	if (isempty(node)) {
		if (sub == PSUB_LOG) {
			/* Kubernetes streams nothing for a pod not yet scheduled. */
			req_respond_buf(r, 200, xstrdup(""), 0, "text/plain");
			return;
		}
		api_error_bad_request(&err, "pod %s does not have a host assigned", name);
		goto fail;
	}
	const char *phase = phase_of(pod);
	bool completed = streq(phase, "Succeeded") || streq(phase, "Failed");
	if (sub == PSUB_EXEC && !streq(phase, "Running")) {
		if (completed)
			api_error_bad_request(
			    &err,
			    "cannot exec into a container in a completed pod; current phase is %s",
			    phase);
		else
			api_error_bad_request(&err, "pod %s is not running; current phase is %s",
					      name, phase);
		goto fail;
	}
	if (sub == PSUB_ATTACH && !streq(phase, "Running")) {
		if (completed)
			api_error_bad_request(
			    &err,
			    "cannot attach a container in a completed pod; current phase is %s",
			    phase);
		else
			api_error_bad_request(&err, "pod %s is not running; current phase is %s",
					      name, phase);
		goto fail;
	}
	if (sub == PSUB_PORTFORWARD && !streq(phase, "Running")) {
		api_error_bad_request(
		    &err, "unable to forward port because pod is not running. Current status=%s",
		    phase);
		goto fail;
	}

	const char *upg = req_header(r, MHD_HTTP_HEADER_UPGRADE);
	bool websocket = http_token_list_contains(upg, "websocket");
	bool spdy = http_token_list_contains(upg, "SPDY/3.1");
	bool upgrade = sub != PSUB_LOG && (websocket || spdy);
	if (sub != PSUB_LOG && !upgrade) {
		api_error_bad_request(&err, "Upgrade request required");
		goto fail;
	}
	if (sub == PSUB_PORTFORWARD && websocket) {
		/* kubectl falls back to SPDY/3.1, which the agents speak. */
		api_error_bad_request(
		    &err, "port forwarding over WebSocket is not supported: use SPDY/3.1");
		goto fail;
	}

	if (proxy_node_address(srv, node, &host, &port, &err) < 0)
		goto fail;

	struct proxy_ctx *c = ctx_new(r, sub, TAKE_PTR(host), port);
	c->upgrade = upgrade;
	c->tls = true;
	c->request = build_request(r, sub, upgrade, ns ? ns : "", name, container, c->target);
	c->request_len = strlen(c->request);
	ctx_start(r, c);
	return;

fail:
	req_respond_error(r, &err);
	api_error_release(&err);
}

/* ---- setup ---- */

int proxy_open(const struct certs *certs, struct proxy **ret)
{
	static const char *const groups[] = { "system:masters", NULL };
	_cleanup_free_ char *cert = NULL, *key = NULL;
	int r = certs_issue_client(certs, "system:kube-apiserver", groups, &cert, &key);
	if (r < 0)
		return r;
	struct proxy *px = xnew(struct proxy, 1);
	px->stop_fd = -1;
	pthread_mutex_init(&px->mu, NULL);
	pthread_cond_init(&px->cond, NULL);
	gnutls_datum_t c = { (unsigned char *)cert, (unsigned)strlen(cert) };
	gnutls_datum_t k = { (unsigned char *)key, (unsigned)strlen(key) };
	if (gnutls_certificate_allocate_credentials(&px->cred) < 0 ||
	    gnutls_certificate_allocate_credentials(&px->anon_cred) < 0 ||
	    gnutls_certificate_set_x509_key_mem(px->cred, &c, &k, GNUTLS_X509_FMT_PEM) < 0 ||
	    (px->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		explicit_bzero(key, strlen(key));
		proxy_close(px);
		return -EIO;
	}
	explicit_bzero(key, strlen(key));
	*ret = px;
	return 0;
}

void proxy_close(struct proxy *px)
{
	if (!px)
		return;
	pthread_mutex_lock(&px->mu);
	px->stopping = true;
	if (px->stop_fd >= 0) {
		uint64_t one = 1;
		if (write(px->stop_fd, &one, sizeof(one)) < 0)
			log_warn("proxy: cannot signal the relays to stop");
	}
	/* Log streams wait in reads from their agent: cut those. */
	for (struct proxy_ctx *c = px->active; c; c = c->next) {
		pthread_mutex_lock(&c->mu);
		if (c->fd >= 0 && (c->sub == PSUB_LOG || c->sub == PSUB_PROXY))
			(void)shutdown(c->fd, SHUT_RDWR);
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->mu);
	}
	uint64_t deadline = now_usec_monotonic() + STOP_WAIT_USEC;
	while (px->nthreads && now_usec_monotonic() < deadline) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&px->cond, &px->mu, &ts);
	}
	bool left = px->nthreads != 0;
	pthread_mutex_unlock(&px->mu);
	if (left) {
		/* A thread still uses the credentials: leave them. */
		log_warn("proxy: %u connections to node agents did not end", px->nthreads);
		return;
	}
	if (px->cred)
		gnutls_certificate_free_credentials(px->cred);
	if (px->anon_cred)
		gnutls_certificate_free_credentials(px->anon_cred);
	if (px->stop_fd >= 0)
		close(px->stop_fd);
	pthread_mutex_destroy(&px->mu);
	pthread_cond_destroy(&px->cond);
	free(px);
}
