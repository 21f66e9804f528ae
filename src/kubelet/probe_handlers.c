/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running one probe or lifecycle handler, as the kubelet does: httpGet (libcurl,
 * HTTPS without certificate checks, redirects followed only on the same host,
 * at most 10 KiB of body read), tcpSocket (a connect within the timeout), exec
 * (through struct probe_exec), sleep (hooks) and grpc (refused). Network
 * handlers connect from a socket created inside the pod's network namespace.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "kubelet/probe_internal.h"
#include "lib/macro.h"
#include "lib/strbuf.h"

#define PROBE_BODY_MAX	    (10 * 1024) /* the kubelet reads at most 10 KiB */
#define PROBE_OUTPUT_MAX    (10 * 1024) /* and keeps at most 10 KiB of exec output */
#define PROBE_MAX_REDIRECTS 10
#define PROBE_USER_AGENT    "kube-probe/1.32"

/* ---- parsing ---- */

static char *lower_errno(int err)
{
	char *s = xstrdup(strerror(err));
	if (s[0] && isupper((unsigned char)s[0]) && !(s[1] && isupper((unsigned char)s[1])))
		s[0] = (char)tolower((unsigned char)s[0]);
	return s;
}

/* The kubelet's extractPort: an int, or a name among the container's ports,
 * or (last resort) a number written as a string. */
static int resolve_port(const json_t *port, const json_t *container, int *ret_port, char **ret_err)
{
	long long v;
	if (json_is_integer(port)) {
		v = json_integer_value(port);
	} else if (json_is_string(port)) {
		const char *name = json_string_value(port);
		size_t i;
		json_t *cp;
		bool found = false;
		json_array_foreach(json_object_get(container, "ports"), i, cp)
		{
			const char *n = json_string_value(json_object_get(cp, "name"));
			if (n && streq(n, name)) {
				v = json_integer_value(json_object_get(cp, "containerPort"));
				found = true;
				break;
			}
		}
		if (!found) {
			char *end;
			errno = 0;
			v = strtoll(name, &end, 10);
			if (!*name || *end || errno) {
				*ret_err = xasprintf("port %s not found", name);
				return -EINVAL;
			}
		}
	} else {
		*ret_err = xstrdup("probe port must be a number or a port name");
		return -EINVAL;
	}
	if (v <= 0 || v >= 65536) {
		*ret_err = xasprintf("invalid port number: %lld", v);
		return -EINVAL;
	}
	*ret_port = (int)v;
	return 0;
}

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static int parse_http(const json_t *h, const json_t *container, struct probe_spec *s)
{
	const char *scheme = json_string_value(json_object_get(h, "scheme"));
	const char *host = json_string_value(json_object_get(h, "host"));
	const char *path = json_string_value(json_object_get(h, "path"));
	if (!scheme || streq(scheme, "HTTP"))
		s->https = false;
	else if (streq(scheme, "HTTPS"))
		s->https = true;
	else {
		s->error = xasprintf("unsupported httpGet scheme \"%s\"", scheme);
		return -EINVAL;
	}
	if (resolve_port(json_object_get(h, "port"), container, &s->port, &s->error) < 0)
		return -EINVAL;
	if (!isempty(host)) {
		if (has_crlf(host) || strpbrk(host, "/@ ")) {
			s->error = xasprintf("invalid httpGet host \"%s\"", host);
			return -EINVAL;
		}
		s->host = xstrdup(host);
	}
	if (isempty(path))
		s->path = xstrdup("/");
	else if (path[0] != '/')
		s->path = xasprintf("/%s", path);
	else
		s->path = xstrdup(path);
	for (char *c = s->path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			s->error = xasprintf("invalid httpGet path \"%s\"", path);
			return -EINVAL;
		}

	const json_t *hdrs = json_object_get(h, "httpHeaders");
	size_t n = json_array_size(hdrs), k = 0, i;
	json_t *e;
	bool ua = false, accept = false;
	s->headers = xnew(char *, n + 3);
	json_array_foreach(hdrs, i, e)
	{
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *value = json_string_value(json_object_get(e, "value"));
		if (isempty(name) || strpbrk(name, ":\r\n \t") || (value && has_crlf(value))) {
			s->error = xasprintf("invalid httpGet header \"%s\"", name ? name : "");
			return -EINVAL;
		}
		ua |= strcasecmp(name, "User-Agent") == 0;
		accept |= strcasecmp(name, "Accept") == 0;
		/* curl sends "Name;" as an empty header, drops "Name:" */
		s->headers[k++] =
		    isempty(value) ? xasprintf("%s;", name) : xasprintf("%s: %s", name, value);
	}
	if (!ua)
		s->headers[k++] = xstrdup("User-Agent: " PROBE_USER_AGENT);
	if (!accept)
		s->headers[k++] = xstrdup("Accept: */*");
	return 0;
}

void probe_spec_parse(const json_t *handler, const json_t *container, bool lifecycle,
		      struct probe_spec *s)
{
	const json_t *v;
	*s = (struct probe_spec){ 0 };
	if (!json_is_object(handler)) {
		s->error = xstrdup("probe has no handler");
		return;
	}
	if ((v = json_object_get(handler, "exec"))) {
		const json_t *cmd = json_object_get(v, "command");
		size_t i, n = json_array_size(cmd);
		json_t *a;
		s->kind = PROBE_KIND_EXEC;
		if (n == 0) {
			s->error = xstrdup("exec handler has no command");
			return;
		}
		s->argv = xnew(char *, n + 1);
		json_array_foreach(cmd, i, a)
		{
			if (!json_is_string(a)) {
				s->error = xstrdup("exec command must be a list of strings");
				return;
			}
			s->argv[i] = xstrdup(json_string_value(a));
		}
	} else if ((v = json_object_get(handler, "httpGet"))) {
		s->kind = PROBE_KIND_HTTP;
		parse_http(v, container, s);
	} else if ((v = json_object_get(handler, "tcpSocket"))) {
		const char *host = json_string_value(json_object_get(v, "host"));
		s->kind = PROBE_KIND_TCP;
		if (lifecycle) {
			s->error = xstrdup("tcpSocket is not supported as a lifecycle handler");
			return;
		}
		if (resolve_port(json_object_get(v, "port"), container, &s->port, &s->error) < 0)
			return;
		if (!isempty(host))
			s->host = xstrdup(host);
	} else if ((v = json_object_get(handler, "grpc"))) {
		s->kind = PROBE_KIND_GRPC;
		s->error = xstrdup(lifecycle ? "grpc is not supported as a lifecycle handler"
					     : "grpc probes are not supported");
	} else if (lifecycle && (v = json_object_get(handler, "sleep"))) {
		json_t *sec = json_object_get(v, "seconds");
		s->kind = PROBE_KIND_SLEEP;
		if (!json_is_integer(sec) || json_integer_value(sec) < 0) {
			s->error = xstrdup("sleep action needs seconds >= 0");
			return;
		}
		s->sleep_s = json_integer_value(sec);
	} else {
		s->error =
		    xstrdup(lifecycle ? "lifecycle hook has no handler" : "probe has no handler");
	}
}

void probe_spec_release(struct probe_spec *s)
{
	if (!s)
		return;
	free(s->error);
	free(s->host);
	free(s->path);
	strv_freep(&s->headers);
	strv_freep(&s->argv);
	*s = (struct probe_spec){ 0 };
}

/* ---- sockets in a network namespace ---- */

struct nsock_req {
	const char *netns;
	int domain, type, protocol;
	int fd;
	int err;
	const char *what;
};

static void *nsock_thread(void *arg)
{
	struct nsock_req *q = arg;
	int nsfd = open(q->netns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		q->err = -errno;
		q->what = "open";
		return NULL;
	}
	/* Only this short-lived thread changes namespace; it exits right after. */
	if (setns(nsfd, CLONE_NEWNET) < 0) {
		q->err = -errno;
		q->what = "enter";
		close(nsfd);
		return NULL;
	}
	close(nsfd);
	q->fd = socket(q->domain, q->type | SOCK_CLOEXEC, q->protocol);
	if (q->fd < 0) {
		q->err = -errno;
		q->what = "socket in";
	}
	return NULL;
}

static bool same_netns(const char *netns, int *ret_err)
{
	struct stat a, b;
	if (stat(netns, &a) < 0) {
		*ret_err = -errno;
		return false;
	}
	if (stat("/proc/thread-self/ns/net", &b) < 0)
		return false;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int probe_netns_socket(const char *netns, int domain, int type, int protocol, char **ret_err)
{
	int err = 0, fd;
	if (isempty(netns) || same_netns(netns, &err)) {
		fd = socket(domain, type | SOCK_CLOEXEC, protocol);
		if (fd < 0) {
			err = -errno;
			*ret_err = xasprintf("socket: %s", strerror(-err));
			return err;
		}
		return fd;
	}
	if (err < 0) {
		*ret_err = xasprintf("network namespace \"%s\": %s", netns, strerror(-err));
		return err;
	}

	struct nsock_req q = {
		.netns = netns, .domain = domain, .type = type, .protocol = protocol, .fd = -1
	};
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&th, &attr, nsock_thread, &q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		*ret_err = xasprintf("network namespace \"%s\": thread: %s", netns, strerror(r));
		return -r;
	}
	pthread_join(th, NULL);
	if (q.err < 0) {
		*ret_err =
		    xasprintf("%s network namespace \"%s\": %s", q.what, netns, strerror(-q.err));
		return q.err;
	}
	return q.fd;
}

/* ---- timing ---- */

static int64_t mono_usec(void)
{
	return (int64_t)now_usec_monotonic();
}

/* "10.42.0.5:8080" or "[fd00::5]:8080" */
static char *host_port(const char *host, int port)
{
	if (strchr(host, ':'))
		return xasprintf("[%s]:%d", host, port);
	return xasprintf("%s:%d", host, port);
}

/* ---- tcpSocket ---- */

static int resolve_host(const char *host, int port, struct sockaddr_storage *ss, socklen_t *ret_len,
			char **ret_msg)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*in6);
		return 0;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	int r = getaddrinfo(host, NULL, &hints, &res);
	if (r != 0 || !res) {
		*ret_msg = xasprintf("dial tcp: lookup %s: no such host", host);
		return -EHOSTUNREACH;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*ret_len = res->ai_addrlen;
	if (ss->ss_family == AF_INET)
		in4->sin_port = htons((uint16_t)port);
	else
		in6->sin6_port = htons((uint16_t)port);
	freeaddrinfo(res);
	return 0;
}

static int run_tcp(const struct probe_spec *s, const struct probe_target *t, int timeout_s,
		   char **ret_msg)
{
	const char *host = s->host ? s->host : t->pod_ip;
	struct sockaddr_storage ss;
	socklen_t slen;
	_cleanup_free_ char *hp = NULL, *err = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	if (isempty(host)) {
		*ret_msg = xstrdup("dial tcp: no pod IP to probe");
		return -EDESTADDRREQ;
	}
	hp = host_port(host, s->port);
	r = resolve_host(host, s->port, &ss, &slen, ret_msg);
	if (r < 0)
		return r;
	fd = probe_netns_socket(t->netns, ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0, &err);
	if (fd < 0) {
		*ret_msg = xasprintf("dial tcp %s: %s", hp, err);
		return fd;
	}
	if (connect(fd, (struct sockaddr *)&ss, slen) < 0) {
		if (errno != EINPROGRESS) {
			r = -errno;
			goto fail;
		}
		int64_t deadline = mono_usec() + (int64_t)(timeout_s > 0 ? timeout_s : 1) * 1000000;
		for (;;) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int64_t left = deadline - mono_usec();
			if (left <= 0) {
				*ret_msg = xasprintf("dial tcp %s: i/o timeout", hp);
				return -ETIMEDOUT;
			}
			r = poll(&pfd, 1, (int)((left + 999) / 1000));
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				r = -errno;
				goto fail;
			}
			if (r > 0)
				break;
		}
		int soerr = 0;
		socklen_t l = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
			soerr = errno;
		if (soerr) {
			r = -soerr;
			goto fail;
		}
	}
	return 0;
fail:;
	_cleanup_free_ char *e = lower_errno(-r);
	*ret_msg = xasprintf("dial tcp %s: connect: %s", hp, e);
	return r;
}

/* ---- httpGet ---- */

struct http_ctx {
	const char *netns;
	char *sock_err; /* why opening the socket failed */
	int sock_errno;
	size_t body;
	bool body_cut; /* we stopped reading at PROBE_BODY_MAX */
};

static curl_socket_t http_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct http_ctx *c = ud;
	char *err = NULL;
	int fd = probe_netns_socket(c->netns, addr->family, addr->socktype, addr->protocol, &err);
	if (fd < 0) {
		free(c->sock_err);
		c->sock_err = err;
		c->sock_errno = fd;
		return CURL_SOCKET_BAD;
	}
	return fd;
}

static size_t http_body(char *data, size_t size, size_t n, void *ud)
{
	struct http_ctx *c = ud;
	c->body += size * n;
	if (c->body > PROBE_BODY_MAX) {
		c->body_cut = true;
		return 0; /* stop the transfer: the status is all we need */
	}
	return size * n;
}

static char *url_host(const char *url)
{
	CURLU *u = curl_url();
	char *h = NULL, *ret = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
		ret = xstrdup(h);
	curl_free(h);
	curl_url_cleanup(u);
	return ret;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int run_http(const struct probe_spec *s, const struct probe_target *t, int timeout_s,
		    bool hook, char **ret_msg)
{
	const char *host = s->host ? s->host : t->pod_ip;
	_cleanup_free_ char *hp = NULL, *url = NULL, *first_host = NULL;
	struct curl_slist *hdrs = NULL;
	struct http_ctx c = { .netns = t->netns };
	char errbuf[CURL_ERROR_SIZE];
	long status = 0;
	int r = 0;
	CURL *h;

	if (isempty(host)) {
		*ret_msg = xstrdup("httpGet: no pod IP to probe");
		return -EDESTADDRREQ;
	}
	pthread_once(&curl_once, curl_init_once);
	hp = host_port(host, s->port);
	url = xasprintf("%s://%s%s", s->https ? "https" : "http", hp, s->path);
	first_host = url_host(url);
	h = curl_easy_init();
	if (!h) {
		*ret_msg = xstrdup("httpGet: cannot create a curl handle");
		return -ENOMEM;
	}
	for (char **p = s->headers; p && *p; p++) {
		struct curl_slist *n = curl_slist_append(hdrs, *p);
		if (!n) {
			r = -ENOMEM;
			*ret_msg = xstrdup("httpGet: out of memory");
			goto out;
		}
		hdrs = n;
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, http_open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &c);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (timeout_s > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_s * 1000L);
	int64_t deadline = mono_usec() + (int64_t)timeout_s * 1000000;

	for (int redirects = 0;; redirects++) {
		errbuf[0] = 0;
		c.body = 0;
		c.body_cut = false;
		curl_easy_setopt(h, CURLOPT_URL, url);
		CURLcode cr = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (cr == CURLE_WRITE_ERROR && c.body_cut && status > 0)
			cr = CURLE_OK;
		if (cr != CURLE_OK) {
			long oserr = 0;
			curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
			if (cr == CURLE_OPERATION_TIMEDOUT) {
				*ret_msg =
				    xasprintf("Get \"%s\": context deadline exceeded "
					      "(Client.Timeout exceeded while awaiting headers)",
					      url);
				r = -ETIMEDOUT;
			} else if (c.sock_err) {
				*ret_msg =
				    xasprintf("Get \"%s\": dial tcp %s: %s", url, hp, c.sock_err);
				r = c.sock_errno;
			} else if (cr == CURLE_COULDNT_CONNECT && oserr > 0) {
				_cleanup_free_ char *e = lower_errno((int)oserr);
				_cleanup_free_ char *chost = NULL;
				char *eff = NULL;
				curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
				long cport = 0;
				curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &cport);
				char *cip = NULL;
				curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &cip);
				chost = !isempty(cip) && cport > 0 ? host_port(cip, (int)cport)
								   : xstrdup(hp);
				*ret_msg = xasprintf("Get \"%s\": dial tcp %s: connect: %s", url,
						     chost, e);
				r = -(int)oserr;
			} else if (cr == CURLE_COULDNT_RESOLVE_HOST) {
				_cleanup_free_ char *uh = url_host(url);
				*ret_msg =
				    xasprintf("Get \"%s\": dial tcp: lookup %s: no such host", url,
					      uh ? uh : host);
				r = -EHOSTUNREACH;
			} else {
				*ret_msg = xasprintf("Get \"%s\": %s", url,
						     errbuf[0] ? errbuf : curl_easy_strerror(cr));
				r = -EIO;
			}
			goto out;
		}
		if (status < 300 || status >= 400)
			break;
		char *loc = NULL;
		curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
		if (isempty(loc))
			break;
		_cleanup_free_ char *lhost = url_host(loc);
		if (!lhost || !first_host || strcasecmp(lhost, first_host) != 0) {
			/* Like the kubelet: a redirect to another host ends the probe,
			 * which succeeds with a warning. */
			*ret_msg =
			    xasprintf("Probe terminated redirects, Response status: %ld", status);
			goto out;
		}
		if (redirects + 1 >= PROBE_MAX_REDIRECTS) {
			*ret_msg = xasprintf("Get \"%s\": stopped after %d redirects", loc,
					     PROBE_MAX_REDIRECTS);
			r = -ELOOP;
			goto out;
		}
		free(url);
		url = xstrdup(loc);
		if (timeout_s > 0) {
			int64_t left = deadline - mono_usec();
			if (left <= 0) {
				*ret_msg =
				    xasprintf("Get \"%s\": context deadline exceeded "
					      "(Client.Timeout exceeded while awaiting headers)",
					      url);
				r = -ETIMEDOUT;
				goto out;
			}
			curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)MAX(left / 1000, 1));
		}
	}
	if (!hook && (status < 200 || status >= 400)) {
		*ret_msg = xasprintf("HTTP probe failed with statuscode: %ld", status);
		r = -EIO;
	}
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	free(c.sock_err);
	return r;
}

/* ---- exec ---- */

static char *quote_argv(char *const *argv)
{
	struct strbuf sb = STRBUF_INIT;
	for (char *const *a = argv; *a; a++) {
		if (a != argv)
			strbuf_addch(&sb, ' ');
		strbuf_addstr(&sb, *a);
	}
	return strbuf_detach(&sb, NULL);
}

static int run_exec(const struct probe_spec *s, const struct probe_target *t,
		    const struct probe_exec *ex, int timeout_s, bool hook, char **ret_msg)
{
	_cleanup_free_ char *output = NULL, *cmd = NULL;
	int code = -1, r;

	if (!ex || !ex->run) {
		*ret_msg = xstrdup("exec handlers are not available");
		return -ENOTSUP;
	}
	if (isempty(t->container_id)) {
		*ret_msg = xstrdup("exec: no container to run in");
		return -ESRCH;
	}
	r = ex->run(ex->ud, t->container_id, s->argv, timeout_s, &code, &output);
	if (output && strlen(output) > PROBE_OUTPUT_MAX)
		output[PROBE_OUTPUT_MAX] = 0;
	cmd = quote_argv(s->argv);
	if (r == -ETIMEDOUT) {
		*ret_msg = xasprintf("command \"%s\" timed out", cmd);
		return r;
	}
	if (r < 0) {
		*ret_msg =
		    output && *output
			? xasprintf("command \"%s\" failed: %s: %s", cmd, strerror(-r), output)
			: xasprintf("command \"%s\" failed: %s", cmd, strerror(-r));
		return r;
	}
	if (code != 0) {
		if (hook)
			*ret_msg = xasprintf("command '%s' exited with %d: %s", cmd, code,
					     output ? output : "");
		else
			/* As the kubelet: the command's output is the message. */
			*ret_msg = output ? TAKE_PTR(output) : xstrdup("");
		return -EIO;
	}
	return 0;
}

/* ---- sleep ---- */

static int run_sleep(const struct probe_spec *s, int timeout_s)
{
	int64_t us = s->sleep_s * 1000000;
	if (timeout_s > 0 && us > (int64_t)timeout_s * 1000000)
		us = (int64_t)timeout_s * 1000000;
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

/* ---- entry points ---- */

int probe_spec_run(const struct probe_spec *s, const struct probe_target *t,
		   const struct probe_exec *ex, int timeout_s, bool hook, char **ret_msg)
{
	*ret_msg = NULL;
	if (s->error) {
		*ret_msg = xstrdup(s->error);
		return -EINVAL;
	}
	switch (s->kind) {
	case PROBE_KIND_HTTP:
		return run_http(s, t, timeout_s, hook, ret_msg);
	case PROBE_KIND_TCP:
		return run_tcp(s, t, timeout_s, ret_msg);
	case PROBE_KIND_EXEC:
		return run_exec(s, t, ex, timeout_s, hook, ret_msg);
	case PROBE_KIND_SLEEP:
		return run_sleep(s, timeout_s);
	default:
		*ret_msg = xstrdup("probe has no handler");
		return -EINVAL;
	}
}

enum probe_result probe_run_once(const json_t *probe, const struct probe_target *t,
				 const struct probe_exec *ex, int timeout_s, char **ret_msg)
{
	struct probe_spec s;
	char *msg = NULL;
	probe_spec_parse(probe, t ? t->container : NULL, false, &s);
	int r = probe_spec_run(&s, t ? t : &(struct probe_target){ 0 }, ex,
			       timeout_s > 0 ? timeout_s : 1, false, &msg);
	probe_spec_release(&s);
	if (ret_msg)
		*ret_msg = msg;
	else
		free(msg);
	return r < 0 ? PROBE_FAILURE : PROBE_SUCCESS;
}

int probe_handler_run(const json_t *handler, const struct probe_target *t,
		      const struct probe_exec *ex, int timeout_s, char **ret_msg)
{
	struct probe_spec s;
	char *msg = NULL;
	probe_spec_parse(handler, t ? t->container : NULL, true, &s);
	int r = probe_spec_run(&s, t ? t : &(struct probe_target){ 0 }, ex, timeout_s, true, &msg);
	probe_spec_release(&s);
	if (r >= 0) {
		free(msg);
		msg = NULL;
	}
	if (ret_msg)
		*ret_msg = msg;
	else
		free(msg);
	return r;
}
