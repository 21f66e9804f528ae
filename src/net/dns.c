/* SPDX-License-Identifier: Apache-2.0 */
/* The cluster DNS server: sockets, threads, forwarding, informers. See dns.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include "client/informer.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/random.h"
#include "net/dns.h"
#include "net/dns_db.h"
#include "net/dns_msg.h"

enum {
	BATCH = 16,
	RECV_SIZE = 4096, /* larger datagrams are dropped (no EDNS size above this) */
	PENDING = 4096,	  /* forwarded queries in flight */
	TCP_CONNS = 64,
	TCP_IDLE_MS = 10000,
	MAX_UPSTREAMS = 3,
};

struct pending {
	bool used;
	uint16_t id;	  /* the ID sent upstream */
	uint16_t orig_id; /* the client's */
	int client_fd;
	struct sockaddr_storage client;
	socklen_t clen;
	size_t limit;	   /* the client's UDP size */
	int tries;	   /* upstreams tried */
	uint64_t deadline; /* monotonic usec */
	uint8_t *query;	   /* as sent upstream (ID rewritten) */
	size_t qlen;
	size_t question_end; /* to check the answer's question */
	uint8_t *partial;    /* ExternalName: our answer (the CNAME), to complete */
	size_t plen;
};

struct worker {
	struct dns_server *s;
	pthread_t thread;
	int fd;
};

struct tcp_conn {
	int fd;
	uint64_t last;
	size_t have;
	uint8_t buf[2 + DNS_TCP_MAX];
};

struct dns_server {
	struct dns_db *db;
	bool own_db;
	struct informer *svc_inf, *slice_inf;
	int stop_fd;
	int port;

	struct worker *workers;
	int nworkers;

	int tcp_fd;
	pthread_t tcp_thread;
	bool tcp_started;

	struct sockaddr_storage up[MAX_UPSTREAMS];
	socklen_t uplen[MAX_UPSTREAMS];
	int nup;
	int fwd_fd;
	pthread_t fwd_thread;
	bool fwd_started;
	int try_ms;
	pthread_mutex_t fwd_lock;
	struct pending *pend;
	unsigned npend;

	atomic_ulong queries, dropped, forwarded, servfail;
};

/* "IP", "IP:PORT", "[IPv6]:PORT" -> socket address (default port 53). */
static int parse_hostport(const char *s, int default_port, struct sockaddr_storage *ret,
			  socklen_t *ret_len)
{
	char host[INET6_ADDRSTRLEN + 2];
	int port = default_port;
	const char *colon = strrchr(s, ':');
	memset(ret, 0, sizeof(*ret));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || (size_t)(end - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = 0;
		if (end[1] == ':')
			port = atoi(end + 2);
		else if (end[1])
			return -EINVAL;
	} else if (colon && strchr(s, ':') == colon) { /* exactly one ':': IPv4:port */
		if ((size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = 0;
		port = atoi(colon + 1);
	} else {
		if (strlen(s) >= sizeof(host))
			return -EINVAL;
		strcpy(host, s);
	}
	if (port <= 0 || port > 65535)
		return -EINVAL;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ret;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ret;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*a4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*a6);
		return 0;
	}
	return -EINVAL;
}

static int bind_socket(const struct sockaddr_storage *addr, socklen_t len, int type)
{
	_cleanup_close_ int fd = socket(addr->ss_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (type == SOCK_DGRAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)addr, len) < 0)
		return -errno;
	if (type == SOCK_STREAM && listen(fd, 128) < 0)
		return -errno;
	return TAKE_FD(fd);
}

static int sockaddr_port(int fd)
{
	struct sockaddr_storage a;
	socklen_t l = sizeof(a);
	if (getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return -errno;
	return a.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&a)->sin6_port)
				       : ntohs(((struct sockaddr_in *)&a)->sin_port);
}

/* ---- one query ---- */

enum { PROC_DROP = 0, PROC_FORWARD = -1, PROC_CHASE = -2 };

/* Answer pkt into out (at most DNS_TCP_MAX for TCP, else the client's UDP
 * size). Returns the answer's length, PROC_DROP, PROC_FORWARD, or
 * PROC_CHASE: out holds *ret_plen bytes of answer ending in a CNAME to
 * *ret_target, to resolve upstream. */
static ssize_t process(struct dns_server *s, const uint8_t *pkt, size_t len, bool tcp,
		       struct dns_query *q, uint8_t *out, size_t *ret_limit,
		       struct dns_name *ret_target, size_t *ret_plen)
{
	atomic_fetch_add_explicit(&s->queries, 1, memory_order_relaxed);
	int r = dns_query_parse(pkt, len, q);
	if (r == -EBADMSG)
		goto drop;
	if (!tcp && len > (q->edns ? q->edns_size : DNS_UDP_PLAIN))
		goto drop; /* larger than the sender says it can take */
	size_t limit = tcp ? DNS_TCP_MAX : dns_query_udp_limit(q);
	*ret_limit = limit;
	if (r > 0)
		return (ssize_t)dns_build_error(q, r, out, limit);
	size_t n = 0;
	switch (dns_db_answer(s->db, q, out, limit, &n, s->nup ? ret_target : NULL)) {
	case DNS_ANSWERED:
		return (ssize_t)n;
	case DNS_CHASE:
		*ret_plen = n;
		return PROC_CHASE;
	case DNS_FORWARD:
		break;
	}
	if (s->nup == 0) {
		atomic_fetch_add_explicit(&s->servfail, 1, memory_order_relaxed);
		return (ssize_t)dns_build_error(q, DNS_R_SERVFAIL, out, limit);
	}
	return PROC_FORWARD;
drop:
	atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
	return PROC_DROP;
}

/* ---- forwarding ---- */

static void set_id(uint8_t *p, uint16_t id)
{
	p[0] = (uint8_t)(id >> 8);
	p[1] = (uint8_t)id;
}

static void send_upstream(struct dns_server *s, struct pending *p)
{
	int i = p->tries++ % s->nup;
	p->deadline = now_usec_monotonic() + (uint64_t)s->try_ms * 1000;
	sendto(s->fwd_fd, p->query, p->qlen, MSG_NOSIGNAL, (struct sockaddr *)&s->up[i],
	       s->uplen[i]);
	atomic_fetch_add_explicit(&s->forwarded, 1, memory_order_relaxed);
}

static void pending_release(struct dns_server *s, struct pending *p)
{
	free(p->query);
	free(p->partial);
	p->query = NULL;
	p->partial = NULL;
	p->used = false;
	s->npend--;
}

/* Queue a UDP query (pkt, with its question ending at question_end) for
 * the upstreams, answering the client's query orig_id (with partial
 * completed, when given); false when the table is full. */
static bool forward_udp(struct dns_server *s, const uint8_t *pkt, size_t len, size_t question_end,
			uint16_t orig_id, const uint8_t *partial, size_t plen, int client_fd,
			const struct sockaddr_storage *client, socklen_t clen, size_t limit)
{
	pthread_mutex_lock(&s->fwd_lock);
	struct pending *p = NULL;
	uint16_t id = 0;
	for (int tries = 0; tries < 16 && !p; tries++) {
		random_bytes(&id, sizeof(id));
		if (!s->pend[id % PENDING].used)
			p = &s->pend[id % PENDING];
	}
	if (!p) {
		pthread_mutex_unlock(&s->fwd_lock);
		return false;
	}
	*p = (struct pending){
		.used = true,
		.id = id,
		.orig_id = orig_id,
		.client_fd = client_fd,
		.clen = clen,
		.limit = limit,
		.query = xmemdup(pkt, len),
		.qlen = len,
		.question_end = question_end,
		.partial = partial ? xmemdup(partial, plen) : NULL,
		.plen = plen,
	};
	memcpy(&p->client, client, clen);
	set_id(p->query, id);
	s->npend++;
	send_upstream(s, p);
	pthread_mutex_unlock(&s->fwd_lock);
	return true;
}

static bool from_upstream(struct dns_server *s, const struct sockaddr_storage *a)
{
	for (int i = 0; i < s->nup; i++) {
		const struct sockaddr_storage *u = &s->up[i];
		if (u->ss_family != a->ss_family)
			continue;
		if (a->ss_family == AF_INET) {
			const struct sockaddr_in *x = (const void *)u, *y = (const void *)a;
			if (x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr)
				return true;
		} else {
			const struct sockaddr_in6 *x = (const void *)u, *y = (const void *)a;
			if (x->sin6_port == y->sin6_port &&
			    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0)
				return true;
		}
	}
	return false;
}

static void fwd_receive(struct dns_server *s)
{
	uint8_t buf[RECV_SIZE];
	for (;;) {
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(s->fwd_fd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if (n < DNS_HEADER_SIZE || !from_upstream(s, &from))
			continue;
		uint16_t id = (uint16_t)(buf[0] << 8 | buf[1]);
		pthread_mutex_lock(&s->fwd_lock);
		struct pending *p = &s->pend[id % PENDING];
		/* the same ID and the same question, byte for byte */
		if (!p->used || p->id != id || (size_t)n < p->question_end ||
		    memcmp(buf + 4, p->query + 4, 2) != 0 ||
		    memcmp(buf + DNS_HEADER_SIZE, p->query + DNS_HEADER_SIZE,
			   p->question_end - DNS_HEADER_SIZE) != 0) {
			pthread_mutex_unlock(&s->fwd_lock);
			continue;
		}
		size_t len = (size_t)n;
		const uint8_t *reply = buf;
		uint8_t done[DNS_EDNS_MAX];
		if (p->partial) {
			/* our CNAME, then the target's records */
			memcpy(done, p->partial, p->plen);
			len = dns_splice_answers(done, p->plen, p->limit, buf, len);
			if (!len)
				len = p->plen;
			reply = done;
		} else {
			set_id(buf, p->orig_id);
			if (len > p->limit)
				len = dns_truncate(buf, len, p->limit);
		}
		if (len)
			sendto(p->client_fd, reply, len, MSG_NOSIGNAL,
			       (struct sockaddr *)&p->client, p->clen);
		pending_release(s, p);
		pthread_mutex_unlock(&s->fwd_lock);
	}
}

static void fwd_expire(struct dns_server *s)
{
	uint64_t now = now_usec_monotonic();
	pthread_mutex_lock(&s->fwd_lock);
	for (unsigned i = 0; i < PENDING && s->npend; i++) {
		struct pending *p = &s->pend[i];
		if (!p->used || p->deadline > now)
			continue;
		if (p->tries < s->nup && p->tries < 2) {
			send_upstream(s, p);
			continue;
		}
		struct dns_query q;
		uint8_t out[DNS_UDP_PLAIN];
		if (p->partial) { /* the CNAME alone */
			sendto(p->client_fd, p->partial, p->plen, MSG_NOSIGNAL,
			       (struct sockaddr *)&p->client, p->clen);
		} else if (dns_query_parse(p->query, p->qlen, &q) == 0) {
			q.id = p->orig_id;
			size_t n = dns_build_error(&q, DNS_R_SERVFAIL, out, sizeof(out));
			sendto(p->client_fd, out, n, MSG_NOSIGNAL, (struct sockaddr *)&p->client,
			       p->clen);
		}
		atomic_fetch_add_explicit(&s->servfail, 1, memory_order_relaxed);
		pending_release(s, p);
	}
	pthread_mutex_unlock(&s->fwd_lock);
}

static void *fwd_thread(void *arg)
{
	struct dns_server *s = arg;
	for (;;) {
		struct pollfd pf[2] = { { s->fwd_fd, POLLIN, 0 }, { s->stop_fd, POLLIN, 0 } };
		int r = poll(pf, 2, 50);
		if (r < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		if (pf[0].revents & POLLIN)
			fwd_receive(s);
		fwd_expire(s);
	}
	return NULL;
}

/* For TCP: ask the upstreams and wait (the TCP thread is blocked that
 * long). The answer's length in resp, or -1. */
static ssize_t ask_sync(struct dns_server *s, const uint8_t *pkt, size_t len, uint8_t *resp,
			size_t cap)
{
	for (int i = 0; i < s->nup && i < 2; i++) {
		_cleanup_close_ int fd =
		    socket(s->up[i].ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&s->up[i], s->uplen[i]) < 0)
			continue;
		if (send(fd, pkt, len, MSG_NOSIGNAL) < 0)
			continue;
		atomic_fetch_add_explicit(&s->forwarded, 1, memory_order_relaxed);
		uint64_t deadline = now_usec_monotonic() + (uint64_t)s->try_ms * 1000;
		for (;;) {
			uint64_t now = now_usec_monotonic();
			if (now >= deadline)
				break;
			struct pollfd pf = { fd, POLLIN, 0 };
			if (poll(&pf, 1, (int)((deadline - now) / 1000) + 1) <= 0)
				continue;
			ssize_t n = recv(fd, resp, cap, 0);
			if (n >= DNS_HEADER_SIZE && resp[0] == pkt[0] && resp[1] == pkt[1] &&
			    (resp[2] & 0x80))
				return n;
		}
	}
	return -1;
}

static ssize_t forward_sync(struct dns_server *s, const uint8_t *pkt, size_t len,
			    const struct dns_query *q, uint8_t *out, size_t limit)
{
	ssize_t n = ask_sync(s, pkt, len, out, MIN(limit, (size_t)RECV_SIZE));
	if (n > 0)
		return n;
	atomic_fetch_add_explicit(&s->servfail, 1, memory_order_relaxed);
	return (ssize_t)dns_build_error(q, DNS_R_SERVFAIL, out, limit);
}

/* For TCP: complete the partial answer in out (plen bytes) with the
 * records of target asked upstream. */
static ssize_t chase_sync(struct dns_server *s, const struct dns_query *q,
			  const struct dns_name *target, uint8_t *out, size_t plen, size_t limit)
{
	uint8_t query[DNS_UDP_PLAIN], resp[RECV_SIZE];
	uint16_t id;
	random_bytes(&id, sizeof(id));
	size_t qlen = dns_build_query(query, id, target, q->qtype, DNS_EDNS_MAX);
	ssize_t n = ask_sync(s, query, qlen, resp, sizeof(resp));
	if (n > 0) {
		size_t l = dns_splice_answers(out, plen, limit, resp, (size_t)n);
		if (l)
			return (ssize_t)l;
	}
	return (ssize_t)plen;
}

/* ---- UDP ---- */

static void *udp_thread(void *arg)
{
	struct worker *wk = arg;
	struct dns_server *s = wk->s;
	/* On the heap, not in thread-local storage: static TLS is made (and
	 * zeroed) in every thread of the process, the API server's too. */
	_cleanup_free_ uint8_t(*in)[RECV_SIZE] = xmalloc(BATCH * sizeof(*in));
	_cleanup_free_ uint8_t(*out)[DNS_EDNS_MAX] = xmalloc(BATCH * sizeof(*out));
	struct sockaddr_storage from[BATCH];
	struct iovec iov[BATCH], oiov[BATCH];
	struct mmsghdr msgs[BATCH], replies[BATCH];
	struct dns_query q;

	for (;;) {
		struct pollfd pf[2] = { { wk->fd, POLLIN, 0 }, { s->stop_fd, POLLIN, 0 } };
		int r = poll(pf, 2, -1);
		if (r < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			break;
		if (!(pf[0].revents & POLLIN))
			continue;
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ in[i], RECV_SIZE };
			msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &from[i],
				.msg_namelen = sizeof(from[i]),
				.msg_iov = &iov[i],
				.msg_iovlen = 1,
			};
			msgs[i].msg_len = 0;
		}
		int n = recvmmsg(wk->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		int nr = 0;
		for (int i = 0; i < n; i++) {
			size_t limit = DNS_UDP_PLAIN, plen = 0;
			struct dns_name target;
			if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				atomic_fetch_add_explicit(&s->queries, 1, memory_order_relaxed);
				atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
				continue;
			}
			ssize_t len = process(s, in[i], msgs[i].msg_len, false, &q, out[nr], &limit,
					      &target, &plen);
			if (len == PROC_FORWARD) {
				if (!forward_udp(s, in[i], msgs[i].msg_len, q.question_end, q.id,
						 NULL, 0, wk->fd, &from[i],
						 msgs[i].msg_hdr.msg_namelen, limit))
					len = (ssize_t)dns_build_error(&q, DNS_R_SERVFAIL, out[nr],
								       limit);
			} else if (len == PROC_CHASE) {
				uint8_t cq[DNS_UDP_PLAIN];
				size_t cl = dns_build_query(cq, 0, &target, q.qtype, DNS_EDNS_MAX);
				len = forward_udp(s, cq, cl, DNS_HEADER_SIZE + target.len + 4, q.id,
						  out[nr], plen, wk->fd, &from[i],
						  msgs[i].msg_hdr.msg_namelen, limit)
					  ? PROC_DROP
					  : (ssize_t)plen;
			}
			if (len <= 0)
				continue;
			oiov[nr] = (struct iovec){ out[nr], (size_t)len };
			replies[nr].msg_hdr = (struct msghdr){
				.msg_name = &from[i],
				.msg_namelen = msgs[i].msg_hdr.msg_namelen,
				.msg_iov = &oiov[nr],
				.msg_iovlen = 1,
			};
			nr++;
		}
		for (int sent = 0; sent < nr;) {
			int k =
			    sendmmsg(wk->fd, replies + sent, (unsigned)(nr - sent), MSG_NOSIGNAL);
			if (k <= 0) {
				if (k < 0 && errno == EAGAIN) {
					struct pollfd w = { wk->fd, POLLOUT, 0 };
					poll(&w, 1, 100);
					continue;
				}
				sent++; /* skip the one that failed (e.g. unreachable) */
				continue;
			}
			sent += k;
		}
	}
	return NULL;
}

/* ---- TCP ---- */

static void tcp_close(struct tcp_conn **c)
{
	close((*c)->fd);
	free(*c);
	*c = NULL;
}

static bool tcp_write_all(int fd, const uint8_t *p, size_t n)
{
	uint64_t deadline = now_usec_monotonic() + 2000000;
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k > 0) {
			p += k;
			n -= (size_t)k;
			continue;
		}
		if (k < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		if (now_usec_monotonic() > deadline)
			return false;
		struct pollfd pf = { fd, POLLOUT, 0 };
		poll(&pf, 1, 100);
	}
	return true;
}

/* Read what is there; answer every complete message. false: close. */
static bool tcp_serve(struct dns_server *s, struct tcp_conn *c, uint8_t *out)
{
	ssize_t k = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, MSG_DONTWAIT);
	if (k == 0)
		return false;
	if (k < 0)
		return errno == EAGAIN || errno == EINTR;
	c->have += (size_t)k;
	c->last = now_usec_monotonic();
	for (;;) {
		if (c->have < 2)
			return true;
		size_t mlen = (size_t)c->buf[0] << 8 | c->buf[1];
		if (mlen < DNS_HEADER_SIZE)
			return false;
		if (c->have < 2 + mlen)
			return true;
		struct dns_query q;
		size_t limit = DNS_TCP_MAX, plen = 0;
		struct dns_name target;
		ssize_t n = process(s, c->buf + 2, mlen, true, &q, out + 2, &limit, &target, &plen);
		if (n == PROC_FORWARD)
			n = forward_sync(s, c->buf + 2, mlen, &q, out + 2, DNS_TCP_MAX);
		else if (n == PROC_CHASE)
			n = chase_sync(s, &q, &target, out + 2, plen, DNS_TCP_MAX);
		if (n > 0) {
			out[0] = (uint8_t)(n >> 8);
			out[1] = (uint8_t)n;
			if (!tcp_write_all(c->fd, out, 2 + (size_t)n))
				return false;
		} else {
			return false; /* malformed: the stream cannot be trusted */
		}
		memmove(c->buf, c->buf + 2 + mlen, c->have - 2 - mlen);
		c->have -= 2 + mlen;
	}
}

static void *tcp_thread(void *arg)
{
	struct dns_server *s = arg;
	struct tcp_conn *conns[TCP_CONNS] = { 0 };
	uint8_t *out = xmalloc(2 + DNS_TCP_MAX);
	for (;;) {
		struct pollfd pf[2 + TCP_CONNS];
		int map[2 + TCP_CONNS], n = 0;
		pf[n++] = (struct pollfd){ s->stop_fd, POLLIN, 0 };
		pf[n++] = (struct pollfd){ s->tcp_fd, POLLIN, 0 };
		for (int i = 0; i < TCP_CONNS; i++) {
			if (conns[i]) {
				map[n] = i;
				pf[n++] = (struct pollfd){ conns[i]->fd, POLLIN, 0 };
			}
		}
		int r = poll(pf, (nfds_t)n, 1000);
		if (r < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		if (pf[1].revents & POLLIN) {
			int fd = accept4(s->tcp_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd >= 0) {
				int slot = -1;
				for (int i = 0; i < TCP_CONNS && slot < 0; i++)
					if (!conns[i])
						slot = i;
				if (slot < 0) {
					close(fd); /* too many: the client retries */
				} else {
					conns[slot] = xnew(struct tcp_conn, 1);
					conns[slot]->fd = fd;
					conns[slot]->last = now_usec_monotonic();
				}
			}
		}
		for (int j = 2; j < n; j++) {
			int i = map[j];
			if (pf[j].revents && conns[i] && !tcp_serve(s, conns[i], out))
				tcp_close(&conns[i]);
		}
		uint64_t now = now_usec_monotonic();
		for (int i = 0; i < TCP_CONNS; i++)
			if (conns[i] && now - conns[i]->last > (uint64_t)TCP_IDLE_MS * 1000)
				tcp_close(&conns[i]);
	}
	for (int i = 0; i < TCP_CONNS; i++)
		if (conns[i])
			tcp_close(&conns[i]);
	free(out);
	return NULL;
}

/* ---- start and stop ---- */

static int server_open(struct dns_server *s, const struct dns_opts *o)
{
	struct sockaddr_storage addr;
	socklen_t alen;
	int r = parse_hostport(o->bind_address ? o->bind_address : "0.0.0.0", 53, &addr, &alen);
	if (r < 0)
		return log_error_errno(r, "dns: bad bind address \"%s\"", o->bind_address);
	if (o->port < 0 || o->port > 65535)
		return log_error_errno(-EINVAL, "dns: bad port %d", o->port);
	if (addr.ss_family == AF_INET)
		((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)o->port);
	else
		((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)o->port);

	for (char **u = o->upstreams; u && *u; u++) {
		if (s->nup == MAX_UPSTREAMS)
			break;
		r = parse_hostport(*u, 53, &s->up[s->nup], &s->uplen[s->nup]);
		if (r < 0)
			return log_error_errno(r, "dns: bad upstream \"%s\"", *u);
		s->nup++;
	}

	s->nworkers = o->threads > 0 ? o->threads : 2;
	s->workers = xnew(struct worker, s->nworkers);
	for (int i = 0; i < s->nworkers; i++)
		s->workers[i].fd = -1;
	/* TCP first: with port 0 it picks the port the UDP sockets share */
	s->tcp_fd = bind_socket(&addr, alen, SOCK_STREAM);
	if (s->tcp_fd < 0)
		return log_error_errno(s->tcp_fd, "dns: cannot listen on TCP %s port %d",
				       o->bind_address, o->port);
	s->port = sockaddr_port(s->tcp_fd);
	if (addr.ss_family == AF_INET)
		((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)s->port);
	else
		((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)s->port);
	for (int i = 0; i < s->nworkers; i++) {
		s->workers[i].s = s;
		s->workers[i].fd = bind_socket(&addr, alen, SOCK_DGRAM);
		if (s->workers[i].fd < 0)
			return log_error_errno(s->workers[i].fd, "dns: cannot bind UDP %s port %d",
					       o->bind_address, s->port);
	}
	if (s->nup) {
		s->fwd_fd =
		    socket(s->up[0].ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s->fwd_fd < 0)
			return log_error_errno(-errno, "dns: cannot open the forwarding socket");
	}
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0)
		return log_error_errno(-errno, "dns: eventfd");

	for (int i = 0; i < s->nworkers; i++) {
		r = -pthread_create(&s->workers[i].thread, NULL, udp_thread, &s->workers[i]);
		if (r < 0)
			return log_error_errno(r, "dns: cannot start a worker");
	}
	r = -pthread_create(&s->tcp_thread, NULL, tcp_thread, s);
	if (r < 0)
		return log_error_errno(r, "dns: cannot start the TCP thread");
	s->tcp_started = true;
	if (s->nup) {
		r = -pthread_create(&s->fwd_thread, NULL, fwd_thread, s);
		if (r < 0)
			return log_error_errno(r, "dns: cannot start the forwarder");
		s->fwd_started = true;
	}
	return 0;
}

static struct dns_server *server_new(const struct dns_opts *o)
{
	struct dns_server *s = xnew(struct dns_server, 1);
	s->stop_fd = s->tcp_fd = s->fwd_fd = -1;
	s->try_ms = o->forward_timeout_ms > 0 ? o->forward_timeout_ms : 1500;
	pthread_mutex_init(&s->fwd_lock, NULL);
	s->pend = xnew(struct pending, PENDING);
	return s;
}

void dns_server_stop(struct dns_server *s)
{
	if (!s)
		return;
	if (s->svc_inf)
		informer_signal_stop(s->svc_inf);
	if (s->slice_inf)
		informer_signal_stop(s->slice_inf);
	if (s->stop_fd >= 0) {
		uint64_t one = 1;
		if (write(s->stop_fd, &one, sizeof(one)) < 0)
			log_warn("dns: cannot signal the threads to stop");
	}
	for (int i = 0; i < s->nworkers; i++) {
		if (s->workers[i].thread)
			pthread_join(s->workers[i].thread, NULL);
		if (s->workers[i].fd >= 0)
			close(s->workers[i].fd);
	}
	if (s->tcp_started)
		pthread_join(s->tcp_thread, NULL);
	if (s->fwd_started)
		pthread_join(s->fwd_thread, NULL);
	informer_free(s->svc_inf);
	informer_free(s->slice_inf);
	log_v(1, "dns: stopped after %lu queries (%lu dropped, %lu forwarded, %lu SERVFAIL)",
	      (unsigned long)s->queries, (unsigned long)s->dropped, (unsigned long)s->forwarded,
	      (unsigned long)s->servfail);
	for (unsigned i = 0; i < PENDING; i++)
		free(s->pend[i].query);
	free(s->pend);
	free(s->workers);
	if (s->tcp_fd >= 0)
		close(s->tcp_fd);
	if (s->fwd_fd >= 0)
		close(s->fwd_fd);
	if (s->stop_fd >= 0)
		close(s->stop_fd);
	pthread_mutex_destroy(&s->fwd_lock);
	if (s->own_db)
		dns_db_free(s->db);
	free(s);
}

int dns_server_start_db(struct dns_db *db, const struct dns_opts *o, struct dns_server **ret)
{
	struct dns_server *s = server_new(o);
	s->db = db;
	int r = server_open(s, o);
	if (r < 0) {
		dns_server_stop(s);
		return r;
	}
	*ret = s;
	return 0;
}

int dns_server_port(const struct dns_server *s)
{
	return s->port;
}

struct dns_db *dns_server_db(struct dns_server *s)
{
	return s->db;
}

/* ---- informers ---- */

static void *svc_extract(json_t *obj)
{
	return dns_service_from_json(obj);
}

static void *slice_extract(json_t *obj)
{
	return dns_slice_from_json(obj);
}

static void svc_add(struct cobj *o, void *ud)
{
	if (o->ext)
		dns_db_set_service(ud, o->ext);
}

static void svc_update(struct cobj *old, struct cobj *o, void *ud)
{
	if (o->ext)
		dns_db_set_service(ud, o->ext);
	else
		dns_db_del_service(ud, old->ns, old->name);
}

static void svc_delete(struct cobj *o, void *ud)
{
	dns_db_del_service(ud, o->ns, o->name);
}

static void slice_add(struct cobj *o, void *ud)
{
	if (o->ext)
		dns_db_set_slice(ud, o->ext);
}

static void slice_update(struct cobj *old, struct cobj *o, void *ud)
{
	if (o->ext)
		dns_db_set_slice(ud, o->ext);
	else
		dns_db_del_slice(ud, old->ns, old->name);
}

static void slice_delete(struct cobj *o, void *ud)
{
	dns_db_del_slice(ud, o->ns, o->name);
}

int dns_server_start(struct kclient *kc, const struct dns_opts *o, struct dns_server **ret)
{
	struct dns_server *s = server_new(o);
	s->db = dns_db_new(o->cluster_domain, o->ttl > 0 ? (uint32_t)o->ttl : 5);
	s->own_db = true;
	int r = server_open(s, o);
	if (r < 0)
		goto fail;

	struct informer_opts so = {
		.api_version = "v1",
		.plural = "services",
		.extract = svc_extract,
		.ext_free = dns_service_free_v,
	};
	struct informer_opts lo = {
		.api_version = "discovery.k8s.io/v1",
		.plural = "endpointslices",
		.label_selector = "kubernetes.io/service-name",
		.extract = slice_extract,
		.ext_free = dns_slice_free_v,
	};
	r = informer_new(kc, &so, &s->svc_inf);
	if (r < 0)
		goto fail;
	r = informer_new(kc, &lo, &s->slice_inf);
	if (r < 0)
		goto fail;
	informer_add_handlers(
	    s->svc_inf, &(struct informer_handlers){ svc_add, svc_update, svc_delete, s->db });
	informer_add_handlers(s->slice_inf, &(struct informer_handlers){ slice_add, slice_update,
									 slice_delete, s->db });
	r = informer_start(s->svc_inf);
	if (r >= 0)
		r = informer_start(s->slice_inf);
	if (r < 0)
		goto fail;
	if (!informer_wait_synced(s->svc_inf, 5000000) ||
	    !informer_wait_synced(s->slice_inf, 5000000))
		log_warn("dns: services and endpoint slices not listed yet; serving what is known");
	log_info("dns: serving %s on %s port %d (%zu services, %d upstreams)",
		 o->cluster_domain ? o->cluster_domain : "cluster.local",
		 o->bind_address ? o->bind_address : "0.0.0.0", s->port,
		 dns_db_service_count(s->db), s->nup);
	*ret = s;
	return 0;
fail:
	dns_server_stop(s);
	return r;
}

char **dns_resolv_conf_nameservers(const char *path)
{
	char **v = xnew(char *, 1);
	size_t n = 0;
	_cleanup_fclose_ FILE *f = fopen(path ? path : "/etc/resolv.conf", "re");
	if (!f)
		return v;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");
		if (!startswith(p, "nameserver"))
			continue;
		p += strlen("nameserver");
		if (*p != ' ' && *p != '\t')
			continue;
		p += strspn(p, " \t");
		p[strcspn(p, " \t\r\n#;")] = 0;
		struct dns_ip ip;
		if (!*p || !dns_ip_parse(p, &ip))
			continue;
		v = xrealloc(v, (n + 2) * sizeof(*v));
		if (ip.family == AF_INET6)
			v[n++] = xasprintf("[%s]:53", p);
		else
			v[n++] = xstrdup(p);
		v[n] = NULL;
	}
	return v;
}
