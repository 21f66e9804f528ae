/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port forwarding over SPDY/3.1 (portforward.k8s.io), as kubectl drives
 * it: for every local connection it opens an error stream (and closes its
 * own side of it at once) and a data stream, both with the headers
 * streamtype, port and requestid. Each stream gets a SYN_REPLY. Once both
 * streams of a request are there, the agent connects to 127.0.0.1:port in
 * the pod's network namespace and relays bytes between the data stream and
 * that socket. A failure is written to the error stream; at the end both
 * streams get a FIN (kubectl waits for the error stream's). RST_STREAM
 * drops a pair; PINGs are echoed; SETTINGS and WINDOW_UPDATE are ignored
 * (spdystream does no flow control).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>

#include "kubelet/server_internal.h"
#include "lib/log.h"
#include "lib/spdy.h"
#include "lib/strbuf.h"

#define READ_CHUNK	  (32 * 1024)
#define MAX_FRAME	  (16 * 1024 * 1024)
#define MAX_HEADERS	  (64 * 1024)
#define MAX_PAIRS	  1024
#define PAIR_TIMEOUT_USEC (30ULL * 1000 * 1000) /* the kubelet's stream creation timeout */
#define TO_POD_HIGH_WATER (4 * 1024 * 1024)
/* Once the pod closed its side, how long the client may go on sending
 * before both streams are closed. After the client's FIN (a half-close)
 * the pod's answer is relayed until the pod closes too, however long it
 * takes: kubectl waits for it. */
#define LINGER_USEC (1000ULL * 1000)

struct pair {
	char *request_id;
	uint16_t port;
	bool bad_port;
	uint32_t error_id, data_id;
	uint64_t created;
	int fd; /* the pod socket */
	struct strbuf to_pod;
	size_t to_pod_pos;
	bool client_fin;       /* no more data from the client */
	bool pod_shut;	       /* we shut down the pod socket's write side */
	bool pod_eof;	       /* the pod closed its side: data stream FIN sent */
	bool finished;	       /* error stream FIN sent too */
	uint64_t linger_until; /* set when the pod ended first */
};

struct session {
	struct pf_session *p;
	struct stream_server *srv;
	int sock;
	struct strbuf in;
	size_t in_pos;
	struct spdy_inflater inf;
	struct spdy_deflater def;
	struct pair **pairs;
	size_t npairs;
	uint32_t last_stream_id;
	bool done;
};

/* ---- connecting inside the pod ---- */

struct connect_job {
	const char *netns;
	uint16_t port;
	int result;
};

static int connect_local(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons(port),
				     .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int r = -ECONNREFUSED;
	/* Like Go's dial of "localhost:port": IPv4 first, then IPv6. */
	for (int i = 0; i < 2; i++) {
		int fd = socket(i ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		const struct sockaddr *sa =
		    i ? (const struct sockaddr *)&sin6 : (const struct sockaddr *)&sin;
		socklen_t len = i ? sizeof(sin6) : sizeof(sin);
		if (connect(fd, sa, len) == 0)
			return fd;
		int e = -errno;
		close(fd);
		if (i == 0)
			r = e;
		if (e != -ECONNREFUSED && e != -EADDRNOTAVAIL && e != -EAFNOSUPPORT &&
		    e != -ENETUNREACH)
			return e;
	}
	return r;
}

static void *connect_thread(void *arg)
{
	struct connect_job *job = arg;
	if (job->netns) {
		int nsfd = open(job->netns, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0) {
			job->result = -errno;
			return NULL;
		}
		/* Only this thread moves; it ends right after. */
		int r = setns(nsfd, CLONE_NEWNET);
		int e = errno;
		close(nsfd);
		if (r < 0) {
			job->result = -e;
			return NULL;
		}
	}
	job->result = connect_local(job->port);
	return NULL;
}

int pf_connect_in_netns(const char *netns_path, uint16_t port)
{
	struct connect_job job = { netns_path, port, -EIO };
	pthread_t t;
	int r = pthread_create(&t, NULL, connect_thread, &job);
	if (r != 0)
		return -r;
	pthread_join(t, NULL);
	if (job.result >= 0) {
		int fl = fcntl(job.result, F_GETFL);
		if (fl >= 0)
			(void)fcntl(job.result, F_SETFL, fl | O_NONBLOCK);
	}
	return job.result;
}

/* ---- frames out ---- */

static void send_buf(struct session *s, struct strbuf *sb)
{
	if (!s->done && sb->len && stream_write_all(s->sock, sb->buf, sb->len) < 0)
		s->done = true;
	strbuf_reset(sb);
}

static void send_data(struct session *s, uint32_t id, uint8_t flags, const void *data, size_t len)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	spdy_append_data(&sb, id, flags, data, len);
	send_buf(s, &sb);
}

static void send_rst(struct session *s, uint32_t id, uint32_t status)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	spdy_append_rst_stream(&sb, id, status);
	send_buf(s, &sb);
}

/* ---- pairs ---- */

static void pair_free(struct pair *pr)
{
	if (!pr)
		return;
	if (pr->fd >= 0)
		close(pr->fd);
	free(pr->request_id);
	strbuf_release(&pr->to_pod);
	free(pr);
}

static void remove_pair(struct session *s, size_t i)
{
	pair_free(s->pairs[i]);
	s->pairs[i] = s->pairs[--s->npairs];
}

static struct pair *find_pair(struct session *s, const char *request_id)
{
	for (size_t i = 0; i < s->npairs; i++)
		if (streq(s->pairs[i]->request_id, request_id))
			return s->pairs[i];
	return NULL;
}

static struct pair *pair_of_stream(struct session *s, uint32_t id, size_t *ret_index)
{
	for (size_t i = 0; i < s->npairs; i++)
		if (s->pairs[i]->data_id == id || s->pairs[i]->error_id == id) {
			if (ret_index)
				*ret_index = i;
			return s->pairs[i];
		}
	return NULL;
}

/* End both streams of the pair (writing msg to the error stream first). */
static void finish_pair(struct session *s, struct pair *pr, const char *msg)
{
	if (pr->finished)
		return;
	if (msg && pr->error_id)
		send_data(s, pr->error_id, 0, msg, strlen(msg));
	if (pr->data_id && !pr->pod_eof)
		send_data(s, pr->data_id, SPDY_FLAG_FIN, NULL, 0);
	if (pr->error_id)
		send_data(s, pr->error_id, SPDY_FLAG_FIN, NULL, 0);
	pr->pod_eof = true;
	pr->finished = true;
	if (pr->fd >= 0) {
		close(pr->fd);
		pr->fd = -1;
	}
}

static void pair_fail(struct session *s, struct pair *pr, const char *fmt, ...) _printf_(3, 4);
static void pair_fail(struct session *s, struct pair *pr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	log_v(2, "port forward %s/%s: %s", s->p->ns, s->p->pod, msg);
	finish_pair(s, pr, msg);
}

/* Both streams are there: connect to the pod. */
static void pair_start(struct session *s, struct pair *pr)
{
	if (pr->bad_port) {
		pair_fail(s, pr, "invalid port in the request headers");
		return;
	}
	int fd = pf_connect_in_netns(s->p->netns_path, pr->port);
	if (fd < 0) {
		pair_fail(s, pr,
			  "error forwarding port %u to pod %s/%s: failed to connect to "
			  "localhost:%u inside the pod's network namespace: %s",
			  pr->port, s->p->ns, s->p->pod, pr->port, strerror(-fd));
		return;
	}
	pr->fd = fd;
	log_v(3, "port forward %s/%s: request %s connected to port %u", s->p->ns, s->p->pod,
	      pr->request_id, pr->port);
}

static void flush_to_pod(struct session *s, struct pair *pr)
{
	while (pr->fd >= 0 && pr->to_pod_pos < pr->to_pod.len) {
		ssize_t n = send(pr->fd, pr->to_pod.buf + pr->to_pod_pos,
				 pr->to_pod.len - pr->to_pod_pos, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			pair_fail(s, pr, "error forwarding port %u to pod %s/%s: %s", pr->port,
				  s->p->ns, s->p->pod, strerror(errno));
			return;
		}
		pr->to_pod_pos += (size_t)n;
	}
	strbuf_reset(&pr->to_pod);
	pr->to_pod_pos = 0;
	if (pr->client_fin && pr->fd >= 0 && !pr->pod_shut) {
		(void)shutdown(pr->fd, SHUT_WR);
		pr->pod_shut = true;
	}
}

static void read_pod(struct session *s, struct pair *pr)
{
	char buf[READ_CHUNK];
	ssize_t n = recv(pr->fd, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		pair_fail(s, pr, "error forwarding port %u to pod %s/%s: %s", pr->port, s->p->ns,
			  s->p->pod, strerror(errno));
		return;
	}
	if (n == 0) {
		/* The pod closed its side: FIN the data stream. The client may
		 * still send (half-close) until its own FIN. */
		send_data(s, pr->data_id, SPDY_FLAG_FIN, NULL, 0);
		pr->pod_eof = true;
		if (pr->client_fin)
			finish_pair(s, pr, NULL);
		else if (!pr->linger_until)
			pr->linger_until = now_usec_monotonic() + LINGER_USEC;
		return;
	}
	send_data(s, pr->data_id, 0, buf, (size_t)n);
}

/* ---- frames in ---- */

static void on_syn_stream(struct session *s, const struct spdy_frame *f)
{
	struct spdy_headers h = { 0 };
	int r = spdy_headers_decompress(&s->inf, f->data, f->data_len, &h);
	if (r < 0) {
		/* The compression context is broken: nothing more can be read. */
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		spdy_append_goaway(&sb, s->last_stream_id, 1 /* PROTOCOL_ERROR */);
		send_buf(s, &sb);
		s->done = true;
		return;
	}
	uint32_t id = f->stream_id;
	if (id == 0 || !(id & 1) || id <= s->last_stream_id) {
		send_rst(s, id, SPDY_PROTOCOL_ERROR);
		spdy_headers_release(&h);
		return;
	}
	s->last_stream_id = id;

	const char *type = spdy_headers_get(&h, "streamtype");
	const char *port = spdy_headers_get(&h, "port");
	const char *reqid = spdy_headers_get(&h, "requestid");
	bool is_error = type && streq(type, "error");
	bool is_data = type && streq(type, "data");
	if (!is_error && !is_data) {
		send_rst(s, id, SPDY_PROTOCOL_ERROR);
		spdy_headers_release(&h);
		return;
	}
	/* Old clients send no requestid: pair a data stream with the error
	 * stream opened just before it, as the kubelet does. */
	char idbuf[16];
	if (!reqid) {
		snprintf(idbuf, sizeof(idbuf), "%u", is_error ? id : id - 2);
		reqid = idbuf;
	}

	struct pair *pr = find_pair(s, reqid);
	if (!pr) {
		if (s->npairs == MAX_PAIRS) {
			send_rst(s, id, SPDY_REFUSED_STREAM);
			spdy_headers_release(&h);
			return;
		}
		pr = xnew(struct pair, 1);
		pr->request_id = xstrdup(reqid);
		pr->fd = -1;
		pr->created = now_usec_monotonic();
		char *end;
		long pn = port ? strtol(port, &end, 10) : 0;
		pr->bad_port = !port || *end || pn < 1 || pn > 65535;
		pr->port = pr->bad_port ? 0 : (uint16_t)pn;
		s->pairs = xrealloc(s->pairs, (s->npairs + 1) * sizeof(*s->pairs));
		s->pairs[s->npairs++] = pr;
	}
	spdy_headers_release(&h);
	if ((is_error && pr->error_id) || (is_data && pr->data_id)) {
		send_rst(s, id, SPDY_PROTOCOL_ERROR);
		return;
	}
	if (is_error)
		pr->error_id = id;
	else
		pr->data_id = id;

	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	if (spdy_append_syn_reply(&sb, &s->def, id, 0, NULL) < 0) {
		s->done = true;
		return;
	}
	send_buf(s, &sb);
	if (pr->error_id && pr->data_id)
		pair_start(s, pr);
}

static void on_data(struct session *s, const struct spdy_frame *f)
{
	size_t idx;
	struct pair *pr = pair_of_stream(s, f->stream_id, &idx);
	if (!pr)
		return; /* a stream that ended or was reset */
	if (f->stream_id == pr->error_id)
		return; /* kubectl only ever closes its side of it */
	if (pr->client_fin)
		return;
	if (f->data_len && !pr->finished)
		strbuf_add(&pr->to_pod, f->data, f->data_len);
	if (f->flags & SPDY_FLAG_FIN)
		pr->client_fin = true;
	flush_to_pod(s, pr);
	if (pr->client_fin && pr->pod_eof)
		finish_pair(s, pr, NULL);
}

static void on_frame(struct session *s, const struct spdy_frame *f)
{
	if (!f->control) {
		on_data(s, f);
		return;
	}
	switch (f->type) {
	case SPDY_SYN_STREAM:
		on_syn_stream(s, f);
		return;
	case SPDY_RST_STREAM: {
		size_t idx;
		struct pair *pr = pair_of_stream(s, f->stream_id, &idx);
		if (pr)
			remove_pair(s, idx);
		return;
	}
	case SPDY_PING: {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		spdy_append_ping(&sb, f->ping_id);
		send_buf(s, &sb);
		return;
	}
	case SPDY_GOAWAY:
		s->done = true;
		return;
	case SPDY_HEADERS:
		/* Keep the decompression context in step. */
		if (f->data_len) {
			struct spdy_headers h;
			if (spdy_headers_decompress(&s->inf, f->data, f->data_len, &h) == 0)
				spdy_headers_release(&h);
			else
				s->done = true;
		}
		return;
	default:
		return; /* SETTINGS, WINDOW_UPDATE, NOOP, unknown */
	}
}

static void read_socket(struct session *s)
{
	strbuf_grow(&s->in, READ_CHUNK);
	ssize_t n = read(s->sock, s->in.buf + s->in.len, READ_CHUNK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		s->done = true;
		return;
	}
	s->in.len += (size_t)n;
	for (;;) {
		struct spdy_frame f;
		ssize_t k =
		    spdy_frame_parse(s->in.buf + s->in_pos, s->in.len - s->in_pos, MAX_FRAME, &f);
		if (k < 0) {
			_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
			spdy_append_goaway(&sb, s->last_stream_id, 1 /* PROTOCOL_ERROR */);
			send_buf(s, &sb);
			s->done = true;
			return;
		}
		if (k == 0)
			break;
		on_frame(s, &f);
		s->in_pos += (size_t)k;
		if (s->done)
			return;
	}
	memmove(s->in.buf, s->in.buf + s->in_pos, s->in.len - s->in_pos);
	s->in.len -= s->in_pos;
	s->in_pos = 0;
}

/* Pairs that are over, or waited too long for their second stream. */
static void reap(struct session *s)
{
	uint64_t now = now_usec_monotonic();
	for (size_t i = 0; i < s->npairs;) {
		struct pair *pr = s->pairs[i];
		bool half = !pr->error_id || !pr->data_id;
		if (half && now - pr->created > PAIR_TIMEOUT_USEC) {
			send_rst(s, pr->error_id ? pr->error_id : pr->data_id, SPDY_CANCEL);
			remove_pair(s, i);
			continue;
		}
		if (!pr->finished && pr->linger_until && now >= pr->linger_until)
			finish_pair(s, pr, NULL);
		if (pr->finished) {
			remove_pair(s, i);
			continue;
		}
		i++;
	}
}

/* How long poll may sleep: until the next linger deadline, at most 1 s. */
static int poll_timeout(struct session *s)
{
	uint64_t now = now_usec_monotonic(), next = now + 1000 * 1000;
	for (size_t i = 0; i < s->npairs; i++)
		if (s->pairs[i]->linger_until && s->pairs[i]->linger_until < next)
			next = s->pairs[i]->linger_until;
	return next <= now ? 0 : (int)((next - now + 999) / 1000);
}

static void run(struct session *s)
{
	_cleanup_free_ struct pollfd *p = NULL;
	size_t alloc = 0;

	while (!s->done) {
		size_t n = 2 + s->npairs;
		if (n > alloc) {
			alloc = n * 2;
			p = xrealloc(p, alloc * sizeof(*p));
		}
		bool backlog = false;
		for (size_t i = 0; i < s->npairs; i++) {
			struct pair *pr = s->pairs[i];
			bool pending = pr->to_pod_pos < pr->to_pod.len;
			backlog = backlog || pr->to_pod.len > TO_POD_HIGH_WATER;
			p[2 + i] = (struct pollfd){
				.fd = pr->fd,
				.events =
				    (short)((pr->pod_eof ? 0 : POLLIN) | (pending ? POLLOUT : 0)),
			};
		}
		p[0] = (struct pollfd){ .fd = backlog ? -1 : s->sock, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = s->srv->stop_fd, .events = POLLIN };
		if (poll(p, n, poll_timeout(s)) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[1].revents)
			return;
		/* Pod sockets first: only frames from the client (below) and
		 * reap() add or remove pairs. */
		for (size_t i = 0; i < n - 2 && !s->done; i++) {
			struct pair *pr = s->pairs[i];
			short rev = p[2 + i].revents;
			if (pr->fd < 0 || !rev)
				continue;
			if (rev & POLLOUT)
				flush_to_pod(s, pr);
			if (pr->fd >= 0 && rev & (POLLIN | POLLHUP | POLLERR) && !pr->pod_eof)
				read_pod(s, pr);
		}
		if (p[0].revents && !s->done)
			read_socket(s);
		reap(s);
	}
}

void *pf_session_main(void *arg)
{
	struct pf_session *p = arg;
	struct stream_server *srv = p->srv;
	struct session s = { .p = p, .srv = srv, .sock = p->sock };

	int fl = fcntl(s.sock, F_GETFL);
	if (fl >= 0)
		(void)fcntl(s.sock, F_SETFL, fl & ~O_NONBLOCK);
	if (spdy_inflater_init(&s.inf, MAX_HEADERS) < 0 || spdy_deflater_init(&s.def) < 0) {
		s.done = true;
	} else if (p->extra_len) {
		strbuf_add(&s.in, p->extra_in, p->extra_len);
		for (;;) {
			struct spdy_frame f;
			ssize_t k = spdy_frame_parse(s.in.buf + s.in_pos, s.in.len - s.in_pos,
						     MAX_FRAME, &f);
			if (k <= 0) {
				s.done = k < 0;
				break;
			}
			on_frame(&s, &f);
			s.in_pos += (size_t)k;
		}
		memmove(s.in.buf, s.in.buf + s.in_pos, s.in.len - s.in_pos);
		s.in.len -= s.in_pos;
		s.in_pos = 0;
	}
	log_v(3, "port forward %s/%s: session started", p->ns, p->pod);
	run(&s);
	if (!s.done) {
		/* Stopping: tell the client. */
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		spdy_append_goaway(&sb, s.last_stream_id, 0);
		send_buf(&s, &sb);
	}
	log_v(3, "port forward %s/%s: session ended", p->ns, p->pod);

	for (size_t i = 0; i < s.npairs; i++)
		pair_free(s.pairs[i]);
	free(s.pairs);
	strbuf_release(&s.in);
	spdy_inflater_release(&s.inf);
	spdy_deflater_release(&s.def);
	MHD_upgrade_action(p->urh, MHD_UPGRADE_ACTION_CLOSE);
	pf_session_free(p);
	stream_server_session_end(srv);
	return NULL;
}
