/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The node agent's stream server, inside (see streaming.h for what it
 * serves). server.c runs the HTTPS daemon (libmicrohttpd, one thread per
 * connection, TLS with client certificates of the cluster CA) and routes
 * requests; server_logs.c reads CRI log files; server_exec.c runs exec and
 * attach sessions over WebSocket (v5.channel.k8s.io); server_portforward.c
 * runs port-forward sessions over SPDY/3.1; server_oci.c plugs in the OCI
 * runtime. Each upgraded session gets a thread of its own that polls its
 * socket and the process's (or the pod's) file descriptors.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "kubelet/streaming.h"

struct MHD_UpgradeResponseHandle;

/*
 * How sessions reach containers: the OCI runtime (server_oci.c), or in the
 * unit tests anything that behaves the same way.
 */
struct stream_runtime_ops {
	/* Start argv in the container. With tty, *ret_pty is a pty master
	 * (read and written both ways); else ret_stdio[0..2] are the stdin
	 * write end and the stdout and stderr read ends (-1 if not wanted). */
	int (*exec)(void *ud, const struct stream_container *c, const char *const *argv, bool tty,
		    bool want_stdin, int *ret_pty, int ret_stdio[3], pid_t *ret_pid,
		    char **ret_err);
	/* Wait for an exec'd process: its exit code (128+signal if killed). */
	int (*exec_wait)(void *ud, pid_t pid);
	int (*resize_pty)(void *ud, int pty_fd, unsigned short cols, unsigned short rows);
	/* Connect to the main process's stdio: a SOCK_SEQPACKET socket that
	 * speaks conmon's attach protocol (each packet read starts with the
	 * pipe: 2 stdout, 3 stderr; what is written goes to stdin). */
	int (*attach)(void *ud, const struct stream_container *c, int *ret_fd, char **ret_err);
	/* Resize the main process's terminal. */
	int (*attach_resize)(void *ud, const struct stream_container *c, unsigned short cols,
			     unsigned short rows);
	void *userdata;
};

struct stream_server {
	struct MHD_Daemon *mhd;
	char *cert_pem, *key_pem, *ca_pem;
	struct stream_backend backend;
	struct stream_runtime_ops ops;
	int port;    /* the bound port (port 0 in the options: chosen by the kernel) */
	int stop_fd; /* eventfd, readable once the server stops */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	unsigned sessions; /* upgraded sessions and log streams still running */
};

/* Start with the given runtime operations (stream_server_start uses the
 * OCI runtime's). */
int stream_server_start_with(const struct stream_server_opts *o,
			     const struct stream_runtime_ops *ops, struct stream_server **ret);

/* Sessions and log streams register while they run, so that stopping the
 * server can wait for them. */
void stream_server_session_begin(struct stream_server *s);
void stream_server_session_end(struct stream_server *s);

/* Booleans in query strings, as Go's strconv.ParseBool reads them. */
bool stream_parse_bool(const char *v);

/* ---- CRI log files (server_logs.c) ---- */

struct log_opts {
	bool timestamps;     /* prefix each line with its RFC 3339 (nanosecond) time */
	int64_t tail_lines;  /* the last N lines only; -1: all */
	int64_t since_usec;  /* only entries at or after this wall-clock time; 0: all */
	int64_t limit_bytes; /* stop after this many bytes; -1: no limit */
};

struct log_stream;

/* Open a CRI log file ("TIMESTAMP STREAM TAG MESSAGE" lines). */
int log_stream_open(const char *path, const struct log_opts *o, struct log_stream **ret);
/*
 * Up to max bytes of output: the messages (a "P" entry continues on the
 * next line, an "F" entry ends its line). Returns the byte count, 0 when
 * nothing more is there for now (at the end of the file, or a line still
 * being written), or a negative errno. Malformed lines are skipped.
 */
ssize_t log_stream_read(struct log_stream *ls, char *buf, size_t max);
/* limit_bytes reached: nothing will ever come. */
bool log_stream_done(const struct log_stream *ls);
/* An inotify descriptor that becomes readable when the file grows, or -1. */
int log_stream_watch_fd(struct log_stream *ls);
/* Empty the watch descriptor's queue after it was readable. */
void log_stream_watch_ack(struct log_stream *ls);
void log_stream_free(struct log_stream *ls);

/* Parse a CRI timestamp (RFC 3339, any offset, up to 9 fraction digits). */
int cri_time_parse(const char *s, size_t len, int64_t *ret_sec, int32_t *ret_nsec);
/* Format as Go's time.RFC3339Nano in UTC ("2024-01-02T03:04:05.5Z"); buf >= 40. */
void cri_time_format(int64_t sec, int32_t nsec, char *buf);

/* ---- sessions (server_exec.c, server_portforward.c) ---- */

enum ws_session_kind { WS_SESSION_EXEC, WS_SESSION_ATTACH };

struct ws_session {
	struct stream_server *srv;
	enum ws_session_kind kind;
	bool v5; /* v5.channel.k8s.io (stream close messages); else v4 */
	bool tty, want_stdin, want_stdout, want_stderr;
	char **argv; /* exec: NULL-terminated */
	struct stream_container container;
	/* The upgraded connection. */
	int sock;
	struct MHD_UpgradeResponseHandle *urh;
	char *extra_in; /* bytes the client sent before the 101 */
	size_t extra_len;
};

/* Thread entry points: they own their argument and close the connection. */
void *ws_session_main(void *arg);
void ws_session_free(struct ws_session *w);

struct pf_session {
	struct stream_server *srv;
	char *ns, *pod;
	char *netns_path; /* NULL: connect in the agent's own network namespace */
	int sock;
	struct MHD_UpgradeResponseHandle *urh;
	char *extra_in;
	size_t extra_len;
};

void *pf_session_main(void *arg);
void pf_session_free(struct pf_session *p);

/* Connect to 127.0.0.1:port inside the network namespace at netns_path
 * (from a short-lived thread that joins it), or in ours when NULL.
 * Returns a connected, non-blocking socket or a negative errno. */
int pf_connect_in_netns(const char *netns_path, uint16_t port);

/* Write all of buf to a blocking or non-blocking socket (polling as
 * needed). 0 or a negative errno. */
int stream_write_all(int fd, const void *buf, size_t len);
