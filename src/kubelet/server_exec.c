/* SPDX-License-Identifier: Apache-2.0 */
/*
 * exec and attach sessions over WebSocket, subprotocol v5.channel.k8s.io
 * (or v4): every message is binary and starts with its channel, 0 stdin,
 * 1 stdout, 2 stderr, 3 the final Status, 4 terminal resizes ({"Width":W,
 * "Height":H}), 255 (v5) "close stream N" (FF 00 ends stdin). The session
 * ends with a Status on channel 3 and a Close frame; pings are answered.
 *
 * One thread per session polls the socket, the process's descriptors (a
 * pty master, or the stdio pipes, or conmon's attach socket), a pipe that
 * tells the process's exit code (from a small waiter thread) and the
 * server's stop descriptor.
 */
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include "kubelet/server_internal.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/websocket.h"

enum {
	CH_STDIN = 0,
	CH_STDOUT = 1,
	CH_STDERR = 2,
	CH_ERROR = 3,
	CH_RESIZE = 4,
	CH_CLOSE = 255,
};

#define MAX_MESSAGE	 (16 * 1024 * 1024)
#define READ_CHUNK	 (32 * 1024)
#define ATTACH_PACKET	 (8192 + 1) /* conmon's STDIO_BUF_SIZE plus the pipe byte */
#define STDIN_HIGH_WATER (4 * 1024 * 1024)
#define CLOSE_WAIT_MS	 2000

struct session {
	struct ws_session *w;
	struct stream_server *srv;
	const struct stream_runtime_ops *ops;
	int sock;
	struct ws_reader rd;

	int pty;     /* exec with a terminal */
	int in;	     /* exec: stdin pipe */
	int out;     /* exec: stdout pipe */
	int err;     /* exec: stderr pipe */
	int attach;  /* attach: conmon's socket */
	int exit_fd; /* exec: the exit code arrives here */

	struct strbuf stdin_buf;
	size_t stdin_pos;
	bool stdin_eof;

	bool exited;
	int exit_code;
	bool done;	  /* stop polling: finish */
	bool peer_closed; /* the client sent Close, or the socket ended */
};

/* ---- sending ---- */

static int send_frame(struct session *s, unsigned opcode, const void *data, size_t len)
{
	_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
	ws_frame_append(&sb, opcode, true, data, len, NULL);
	return stream_write_all(s->sock, sb.buf, sb.len);
}

static int send_channel(struct session *s, uint8_t ch, const void *data, size_t len)
{
	uint8_t h[WS_MAX_HEADER + 1];
	size_t hl = ws_frame_header_encode(h, true, WS_OP_BINARY, len + 1, NULL);
	h[hl++] = ch;
	int r = stream_write_all(s->sock, h, hl);
	if (r == 0 && len)
		r = stream_write_all(s->sock, data, len);
	return r;
}

static void send_status(struct session *s, json_t *status)
{
	size_t len;
	_cleanup_free_ char *j = json_dump_compact(status, &len);
	json_decref(status);
	(void)send_channel(s, CH_ERROR, j, len);
}

static char *argv_string(char **argv)
{
	struct strbuf sb = STRBUF_INIT;
	for (char **a = argv; a && *a; a++) {
		if (a != argv)
			strbuf_addch(&sb, ' ');
		strbuf_addstr(&sb, *a);
	}
	return strbuf_detach(&sb, NULL);
}

static json_t *status_success(void)
{
	return json_pack("{s:{}, s:s}", "metadata", "status", "Success");
}

static json_t *status_exit_code(char **argv, int code)
{
	_cleanup_free_ char *cmd = argv_string(argv);
	_cleanup_free_ char *msg = xasprintf(
	    "command terminated with non-zero exit code: command '%s' exited with %d", cmd, code);
	char num[16];
	snprintf(num, sizeof(num), "%d", code);
	return json_pack("{s:{}, s:s, s:s, s:s, s:{s:[{s:s, s:s}]}}", "metadata", "status",
			 "Failure", "message", msg, "reason", "NonZeroExitCode", "details",
			 "causes", "reason", "ExitCode", "message", num);
}

static json_t *status_internal(const char *what, const char *err)
{
	_cleanup_free_ char *msg = xasprintf("Internal error occurred: %s: %s", what, err);
	return json_pack("{s:{}, s:s, s:s, s:s, s:{s:[{s:s}]}, s:i}", "metadata", "status",
			 "Failure", "message", msg, "reason", "InternalError", "details", "causes",
			 "message", err, "code", 500);
}

/* ---- the process ---- */

struct waiter {
	const struct stream_runtime_ops *ops;
	pid_t pid;
	int fd; /* write end */
};

static void *waiter_main(void *arg)
{
	struct waiter *wt = arg;
	int code = wt->ops->exec_wait(wt->ops->userdata, wt->pid);
	if (send(wt->fd, &code, sizeof(code), MSG_NOSIGNAL) < 0)
		log_v(4, "stream server: exec session ended before its process");
	close(wt->fd);
	free(wt);
	return NULL;
}

static void set_nonblock(int fd)
{
	if (fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static int start_exec(struct session *s, char **ret_err)
{
	struct ws_session *w = s->w;
	int stdio[3] = { -1, -1, -1 };
	pid_t pid;
	int r = s->ops->exec(s->ops->userdata, &w->container, (const char *const *)w->argv, w->tty,
			     w->want_stdin, &s->pty, stdio, &pid, ret_err);
	if (r < 0)
		return r;
	s->in = stdio[0];
	s->out = stdio[1];
	s->err = stdio[2];
	set_nonblock(s->pty);
	set_nonblock(s->in);
	set_nonblock(s->out);
	set_nonblock(s->err);

	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	struct waiter *wt = xnew(struct waiter, 1);
	*wt = (struct waiter){ s->ops, pid, sp[1] };
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, waiter_main, wt);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		close(sp[0]);
		close(sp[1]);
		free(wt);
		return -r;
	}
	s->exit_fd = sp[0];
	return 0;
}

/* Forward what the process wrote. Returns false at end of file (or an
 * error) on fd. */
static bool pump_output(struct session *s, int fd, uint8_t ch, bool wanted)
{
	char buf[READ_CHUNK];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false; /* EOF, or EIO from a pty whose other side closed */
	if (wanted && send_channel(s, ch, buf, (size_t)n) < 0)
		s->done = s->peer_closed = true;
	return true;
}

static bool pump_attach(struct session *s)
{
	char buf[ATTACH_PACKET];
	ssize_t n = recv(s->attach, buf, sizeof(buf), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0)
		return false;
	if (n < 2)
		return true;
	struct ws_session *w = s->w;
	uint8_t ch = buf[0] == 3 && !w->tty ? CH_STDERR : CH_STDOUT;
	bool wanted = ch == CH_STDOUT ? w->want_stdout : w->want_stderr;
	if (buf[0] != 2 && buf[0] != 3)
		return true; /* not output */
	if (wanted && send_channel(s, ch, buf + 1, (size_t)n - 1) < 0)
		s->done = s->peer_closed = true;
	return true;
}

/* The descriptor stdin goes to. */
static int stdin_fd(struct session *s)
{
	if (s->attach >= 0)
		return s->attach;
	return s->pty >= 0 ? s->pty : s->in;
}

static void end_stdin(struct session *s)
{
	if (s->attach >= 0)
		(void)shutdown(s->attach, SHUT_WR);
	else if (s->in >= 0)
		close_fd(&s->in);
	/* A terminal has no separate end of input: the user types ^D. */
}

static void flush_stdin(struct session *s)
{
	int fd = stdin_fd(s);
	while (fd >= 0 && s->stdin_pos < s->stdin_buf.len) {
		ssize_t n =
		    write(fd, s->stdin_buf.buf + s->stdin_pos, s->stdin_buf.len - s->stdin_pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			/* The process closed its input: drop what is left. */
			s->stdin_pos = s->stdin_buf.len;
			break;
		}
		s->stdin_pos += (size_t)n;
	}
	strbuf_reset(&s->stdin_buf);
	s->stdin_pos = 0;
	if (s->stdin_eof) {
		end_stdin(s);
		s->stdin_eof = false;
	}
}

static void resize(struct session *s, const uint8_t *data, size_t len)
{
	json_error_t jerr;
	_cleanup_json_ json_t *j = json_loadb((const char *)data, len, 0, &jerr);
	if (!j || !s->w->tty)
		return;
	json_int_t cols = json_integer_value(json_object_get(j, "Width"));
	json_int_t rows = json_integer_value(json_object_get(j, "Height"));
	if (cols <= 0 || rows <= 0 || cols > 65535 || rows > 65535)
		return;
	if (s->pty >= 0)
		(void)s->ops->resize_pty(s->ops->userdata, s->pty, (unsigned short)cols,
					 (unsigned short)rows);
	else if (s->attach >= 0 && s->ops->attach_resize)
		(void)s->ops->attach_resize(s->ops->userdata, &s->w->container,
					    (unsigned short)cols, (unsigned short)rows);
}

/* ---- the client's messages ---- */

static void on_message(struct session *s, const struct ws_message *m)
{
	switch (m->opcode) {
	case WS_OP_PING:
		(void)send_frame(s, WS_OP_PONG, m->data, m->len);
		return;
	case WS_OP_PONG:
		return;
	case WS_OP_CLOSE: {
		uint16_t code = WS_CLOSE_NORMAL;
		if (ws_close_parse(m->data, m->len, &code, NULL, NULL) < 0 ||
		    code == WS_CLOSE_NO_STATUS)
			code = WS_CLOSE_NORMAL;
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		ws_close_append(&sb, code, NULL, NULL);
		(void)stream_write_all(s->sock, sb.buf, sb.len);
		s->peer_closed = s->done = true;
		return;
	}
	case WS_OP_TEXT: {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		ws_close_append(&sb, WS_CLOSE_UNSUPPORTED, "text frames are not supported", NULL);
		(void)stream_write_all(s->sock, sb.buf, sb.len);
		s->peer_closed = s->done = true;
		return;
	}
	default:
		break;
	}
	if (m->len == 0)
		return;
	const uint8_t *d = m->data + 1;
	size_t n = m->len - 1;
	switch (m->data[0]) {
	case CH_STDIN:
		if (!s->w->want_stdin || stdin_fd(s) < 0)
			return;
		strbuf_add(&s->stdin_buf, d, n);
		flush_stdin(s);
		return;
	case CH_RESIZE:
		resize(s, d, n);
		return;
	case CH_CLOSE:
		if (s->w->v5 && n >= 1 && d[0] == CH_STDIN) {
			s->stdin_eof = true;
			flush_stdin(s);
		}
		return;
	default:
		return;
	}
}

static void read_socket(struct session *s)
{
	char buf[READ_CHUNK];
	ssize_t n = read(s->sock, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		s->peer_closed = s->done = true;
		return;
	}
	ws_reader_feed(&s->rd, buf, (size_t)n);
	struct ws_message m;
	int k = 0;
	while (!s->peer_closed && (k = ws_reader_next(&s->rd, &m)) > 0)
		on_message(s, &m);
	if (k < 0 && !s->peer_closed) {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		ws_close_append(&sb, k == -EMSGSIZE ? WS_CLOSE_TOO_BIG : WS_CLOSE_PROTOCOL_ERROR,
				NULL, NULL);
		(void)stream_write_all(s->sock, sb.buf, sb.len);
		s->peer_closed = s->done = true;
	}
}

/* After the process exited: what is still buffered in its pipes. */
static void drain(struct session *s)
{
	struct ws_session *w = s->w;
	for (int round = 0; round < 1024 && !s->peer_closed; round++) {
		bool more = false;
		if (s->pty >= 0 && pump_output(s, s->pty, CH_STDOUT, w->want_stdout))
			more = true;
		if (s->out >= 0 && pump_output(s, s->out, CH_STDOUT, w->want_stdout))
			more = true;
		if (s->err >= 0 && pump_output(s, s->err, CH_STDERR, w->want_stderr))
			more = true;
		if (!more)
			return;
		/* Stop once nothing is immediately readable. */
		struct pollfd p[3] = { { .fd = s->pty, .events = POLLIN },
				       { .fd = s->out, .events = POLLIN },
				       { .fd = s->err, .events = POLLIN } };
		if (poll(p, 3, 0) <= 0)
			return;
	}
}

/* Wait (a little) for the client to answer our Close. */
static void await_close(struct session *s)
{
	uint64_t deadline = now_usec_monotonic() + CLOSE_WAIT_MS * 1000ULL;
	while (!s->peer_closed) {
		uint64_t now = now_usec_monotonic();
		if (now >= deadline)
			return;
		struct pollfd p = { .fd = s->sock, .events = POLLIN };
		if (poll(&p, 1, (int)((deadline - now) / 1000) + 1) <= 0)
			return;
		char buf[READ_CHUNK];
		ssize_t n = read(s->sock, buf, sizeof(buf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return;
		ws_reader_feed(&s->rd, buf, (size_t)n);
		struct ws_message m;
		while (ws_reader_next(&s->rd, &m) > 0)
			if (m.opcode == WS_OP_CLOSE)
				s->peer_closed = true;
	}
}

static void run(struct session *s)
{
	struct ws_session *w = s->w;

	for (;;) {
		if (s->done)
			return;
		struct pollfd p[8];
		enum { P_SOCK, P_STOP, P_EXIT, P_PTY, P_OUT, P_ERR, P_IN, P_ATTACH };
		bool pending = s->stdin_pos < s->stdin_buf.len;
		p[P_SOCK] =
		    (struct pollfd){ .fd = pending && s->stdin_buf.len > STDIN_HIGH_WATER ? -1
											  : s->sock,
				     .events = POLLIN };
		p[P_STOP] = (struct pollfd){ .fd = s->srv->stop_fd, .events = POLLIN };
		p[P_EXIT] = (struct pollfd){ .fd = s->exit_fd, .events = POLLIN };
		p[P_PTY] = (struct pollfd){ .fd = s->pty,
					    .events = (short)(POLLIN | (pending ? POLLOUT : 0)) };
		p[P_OUT] = (struct pollfd){ .fd = s->out, .events = POLLIN };
		p[P_ERR] = (struct pollfd){ .fd = s->err, .events = POLLIN };
		p[P_IN] = (struct pollfd){ .fd = pending ? s->in : -1, .events = POLLOUT };
		p[P_ATTACH] =
		    (struct pollfd){ .fd = s->attach,
				     .events = (short)(POLLIN | (pending ? POLLOUT : 0)) };
		if (poll(p, ARRAY_SIZE(p), -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[P_STOP].revents) {
			_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
			ws_close_append(&sb, WS_CLOSE_GOING_AWAY, "the node agent is stopping",
					NULL);
			(void)stream_write_all(s->sock, sb.buf, sb.len);
			s->done = true;
			return;
		}
		if (p[P_SOCK].revents)
			read_socket(s);
		if (s->done)
			return;
		if ((p[P_PTY].revents | p[P_IN].revents | p[P_ATTACH].revents) & POLLOUT)
			flush_stdin(s);
		if (p[P_IN].revents & (POLLERR | POLLHUP)) {
			/* The process closed its stdin. */
			close_fd(&s->in);
			strbuf_reset(&s->stdin_buf);
			s->stdin_pos = 0;
		}
		if (p[P_PTY].revents & (POLLIN | POLLHUP | POLLERR) &&
		    !pump_output(s, s->pty, CH_STDOUT, w->want_stdout))
			close_fd(&s->pty);
		if (p[P_OUT].revents & (POLLIN | POLLHUP | POLLERR) &&
		    !pump_output(s, s->out, CH_STDOUT, w->want_stdout))
			close_fd(&s->out);
		if (p[P_ERR].revents & (POLLIN | POLLHUP | POLLERR) &&
		    !pump_output(s, s->err, CH_STDERR, w->want_stderr))
			close_fd(&s->err);
		if (p[P_ATTACH].revents & (POLLIN | POLLHUP | POLLERR) && !pump_attach(s)) {
			/* conmon closed the socket: the container exited. */
			close_fd(&s->attach);
			s->exited = true;
			return;
		}
		if (p[P_EXIT].revents) {
			int code = 0;
			ssize_t n = recv(s->exit_fd, &code, sizeof(code), 0);
			close_fd(&s->exit_fd);
			s->exited = true;
			s->exit_code = n == (ssize_t)sizeof(code) ? code : -1;
			drain(s);
			return;
		}
	}
}

void *ws_session_main(void *arg)
{
	struct ws_session *w = arg;
	struct stream_server *srv = w->srv;
	struct session s = {
		.w = w,
		.srv = srv,
		.ops = &srv->ops,
		.sock = w->sock,
		.pty = -1,
		.in = -1,
		.out = -1,
		.err = -1,
		.attach = -1,
		.exit_fd = -1,
	};

	/* Blocking writes, polled reads. */
	int fl = fcntl(s.sock, F_GETFL);
	if (fl >= 0)
		(void)fcntl(s.sock, F_SETFL, fl & ~O_NONBLOCK);
	ws_reader_init(&s.rd, true, MAX_MESSAGE);
	if (w->extra_len)
		ws_reader_feed(&s.rd, w->extra_in, w->extra_len);

	_cleanup_free_ char *err = NULL;
	int r;
	const char *what;
	if (w->kind == WS_SESSION_EXEC) {
		what = "error executing command in container";
		r = start_exec(&s, &err);
	} else {
		what = "error attaching to container";
		r = srv->ops.attach
			? srv->ops.attach(srv->ops.userdata, &w->container, &s.attach, &err)
			: -EOPNOTSUPP;
		set_nonblock(s.attach);
	}
	if (r < 0) {
		log_v(2, "stream server: %s %s: %s", what, w->container.container_id,
		      err ? err : strerror(-r));
		send_status(&s, status_internal(what, err ? err : strerror(-r)));
	} else {
		/* Like the kubelet: an empty message on the lowest channel the
		 * client reads tells it the stream is ready. */
		uint8_t first = w->want_stdout ? CH_STDOUT : w->want_stderr ? CH_STDERR : CH_ERROR;
		(void)send_channel(&s, first, NULL, 0);
		/* Input that came with the upgrade. */
		struct ws_message m;
		while (!s.peer_closed && ws_reader_next(&s.rd, &m) > 0)
			on_message(&s, &m);
		run(&s);
		if (s.exited && !s.peer_closed) {
			if (w->kind == WS_SESSION_EXEC && s.exit_code != 0)
				send_status(&s, status_exit_code(w->argv, s.exit_code));
			else
				send_status(&s, status_success());
		}
	}
	if (!s.peer_closed) {
		_cleanup_strbuf_ struct strbuf sb = STRBUF_INIT;
		ws_close_append(&sb, WS_CLOSE_NORMAL, NULL, NULL);
		(void)stream_write_all(s.sock, sb.buf, sb.len);
		await_close(&s);
	}

	close_fd(&s.pty);
	close_fd(&s.in);
	close_fd(&s.out);
	close_fd(&s.err);
	close_fd(&s.attach);
	close_fd(&s.exit_fd);
	strbuf_release(&s.stdin_buf);
	ws_reader_release(&s.rd);
	MHD_upgrade_action(w->urh, MHD_UPGRADE_ACTION_CLOSE);
	ws_session_free(w);
	stream_server_session_end(srv);
	return NULL;
}
