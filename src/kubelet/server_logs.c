/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading CRI log files for /containerLogs, as the kubelet does: each line
 * is "TIMESTAMP STREAM TAG MESSAGE" (conmon writes them); a "P" tag means
 * the message continues on the next line, "F" ends it. tailLines counts
 * lines of the file (an incomplete last line is not counted), sinceSeconds
 * filters on the entries' timestamps, timestamps=true prefixes every output
 * line with its time in RFC 3339 with nanoseconds.
 */
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

#include "kubelet/server_internal.h"
#include "lib/macro.h"
#include "lib/strbuf.h"

#define READ_CHUNK (64 * 1024)
#define MAX_LINE   (16 * 1024 * 1024) /* a longer line is dropped */

struct log_stream {
	int fd;
	int watch_fd;
	struct log_opts o;
	struct strbuf in; /* read, not parsed yet: in.buf[in_pos..] */
	size_t in_pos;
	struct strbuf out; /* produced, not returned yet: out.buf[out_pos..] */
	size_t out_pos;
	bool line_start;
	bool skipping; /* inside an over-long line */
	int64_t returned;
	bool done;
};

/* ---- times ---- */

static bool digits(const char *s, size_t n, int *ret)
{
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

int cri_time_parse(const char *s, size_t len, int64_t *ret_sec, int32_t *ret_nsec)
{
	int Y, M, D, h, m, sec;
	if (len < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		return -EINVAL;
	if (!digits(s, 4, &Y) || !digits(s + 5, 2, &M) || !digits(s + 8, 2, &D) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &m) || !digits(s + 17, 2, &sec))
		return -EINVAL;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return -EINVAL;
	size_t i = 19;
	int32_t nsec = 0;
	if (i < len && s[i] == '.') {
		i++;
		size_t nd = 0;
		int32_t scale = 100000000;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (nd < 9)
				nsec += (s[i] - '0') * scale;
			scale /= 10;
			nd++;
			i++;
		}
		if (nd == 0)
			return -EINVAL;
	}
	int64_t offset = 0;
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
		int oh, om;
		if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om))
			return -EINVAL;
		offset = (oh * 60 + om) * 60;
		if (s[i] == '-')
			offset = -offset;
		i += 6;
	} else {
		return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	struct tm tm = { .tm_year = Y - 1900,
			 .tm_mon = M - 1,
			 .tm_mday = D,
			 .tm_hour = h,
			 .tm_min = m,
			 .tm_sec = sec };
	*ret_sec = (int64_t)timegm(&tm) - offset;
	*ret_nsec = nsec;
	return 0;
}

void cri_time_format(int64_t sec, int32_t nsec, char *buf)
{
	time_t t = (time_t)sec;
	struct tm tm;
	gmtime_r(&t, &tm);
	int n = snprintf(buf, 40, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (nsec > 0) {
		char frac[16];
		snprintf(frac, sizeof(frac), ".%09d", (int)(nsec % 1000000000));
		size_t fl = strlen(frac);
		while (frac[fl - 1] == '0')
			frac[--fl] = 0;
		n += snprintf(buf + n, (size_t)(40 - n), "%s", frac);
	}
	snprintf(buf + n, (size_t)(40 - n), "Z");
}

/* ---- tail ---- */

/* Where the last n complete lines of fd start. */
static int tail_offset(int fd, int64_t n, off_t *ret)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	off_t pos = st.st_size;
	int64_t seen = 0; /* newlines seen from the end */
	char buf[READ_CHUNK];

	while (pos > 0) {
		size_t chunk = (size_t)MIN((off_t)sizeof(buf), pos);
		pos -= (off_t)chunk;
		ssize_t got = pread(fd, buf, chunk, pos);
		if (got < 0)
			return -errno;
		if ((size_t)got != chunk)
			return -EIO; /* truncated under us */
		for (size_t i = chunk; i-- > 0;) {
			if (buf[i] != '\n')
				continue;
			/* The (n+1)-th newline from the end ends the line
			 * before the n we want. */
			if (++seen == n + 1) {
				*ret = pos + (off_t)i + 1;
				return 0;
			}
		}
	}
	*ret = 0;
	return 0;
}

/* ---- parsing ---- */

static void emit_line(struct log_stream *ls, const char *line, size_t len)
{
	const char *end = line + len;
	const char *sp1 = memchr(line, ' ', len);
	if (!sp1)
		return;
	const char *stream = sp1 + 1;
	const char *sp2 = memchr(stream, ' ', (size_t)(end - stream));
	if (!sp2)
		return;
	const char *tag = sp2 + 1;
	const char *sp3 = memchr(tag, ' ', (size_t)(end - tag));
	const char *tag_end = sp3 ? sp3 : end;
	const char *msg = sp3 ? sp3 + 1 : end;

	int64_t sec;
	int32_t nsec;
	if (cri_time_parse(line, (size_t)(sp1 - line), &sec, &nsec) < 0)
		return;
	if (tag_end == tag)
		return;
	bool partial = tag[0] == 'P';
	if (!partial && tag[0] != 'F')
		return;
	if (ls->o.since_usec && sec * 1000000 + nsec / 1000 < ls->o.since_usec)
		return;

	if (ls->o.timestamps && ls->line_start) {
		char ts[40];
		cri_time_format(sec, nsec, ts);
		strbuf_addstr(&ls->out, ts);
		strbuf_addch(&ls->out, ' ');
	}
	strbuf_add(&ls->out, msg, (size_t)(end - msg));
	if (!partial)
		strbuf_addch(&ls->out, '\n');
	ls->line_start = !partial;
}

/* Turn the complete lines read so far into output. */
static void parse_lines(struct log_stream *ls)
{
	while (ls->in_pos < ls->in.len) {
		char *p = ls->in.buf + ls->in_pos;
		size_t avail = ls->in.len - ls->in_pos;
		char *nl = memchr(p, '\n', avail);
		if (!nl) {
			if (avail > MAX_LINE) {
				ls->skipping = true;
				ls->in_pos = ls->in.len;
			}
			break;
		}
		size_t len = (size_t)(nl - p);
		if (ls->skipping)
			ls->skipping = false;
		else
			emit_line(ls, p, len);
		ls->in_pos += len + 1;
	}
	if (ls->in_pos == ls->in.len) {
		strbuf_reset(&ls->in);
		ls->in_pos = 0;
	} else if (ls->in_pos > READ_CHUNK) {
		memmove(ls->in.buf, ls->in.buf + ls->in_pos, ls->in.len - ls->in_pos);
		strbuf_setlen(&ls->in, ls->in.len - ls->in_pos);
		ls->in_pos = 0;
	}
}

ssize_t log_stream_read(struct log_stream *ls, char *buf, size_t max)
{
	for (;;) {
		if (ls->out_pos < ls->out.len) {
			size_t n = MIN(max, ls->out.len - ls->out_pos);
			if (ls->o.limit_bytes >= 0 && (int64_t)n > ls->o.limit_bytes - ls->returned)
				n = (size_t)(ls->o.limit_bytes - ls->returned);
			memcpy(buf, ls->out.buf + ls->out_pos, n);
			ls->out_pos += n;
			ls->returned += (int64_t)n;
			if (ls->o.limit_bytes >= 0 && ls->returned >= ls->o.limit_bytes)
				ls->done = true;
			if (n)
				return (ssize_t)n;
		}
		if (ls->done)
			return 0;
		strbuf_reset(&ls->out);
		ls->out_pos = 0;
		parse_lines(ls);
		if (ls->out.len)
			continue;
		strbuf_grow(&ls->in, READ_CHUNK);
		ssize_t got = read(ls->fd, ls->in.buf + ls->in.len, READ_CHUNK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return 0;
		ls->in.len += (size_t)got;
		ls->in.buf[ls->in.len] = 0;
	}
}

bool log_stream_done(const struct log_stream *ls)
{
	return ls->done;
}

int log_stream_watch_fd(struct log_stream *ls)
{
	return ls->watch_fd;
}

void log_stream_watch_ack(struct log_stream *ls)
{
	char buf[4096];
	while (ls->watch_fd >= 0 && read(ls->watch_fd, buf, sizeof(buf)) > 0)
		;
}

int log_stream_open(const char *path, const struct log_opts *o, struct log_stream **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct log_opts opts = *o;
	if (opts.limit_bytes == 0) {
		/* Kubernetes rejects limitBytes < 1; treat 0 as "no limit". */
		opts.limit_bytes = -1;
	}
	if (opts.tail_lines >= 0) {
		off_t start;
		int r = tail_offset(fd, opts.tail_lines, &start);
		if (r < 0)
			return r;
		if (lseek(fd, start, SEEK_SET) < 0)
			return -errno;
	}
	struct log_stream *ls = xnew(struct log_stream, 1);
	ls->o = opts;
	ls->line_start = true;
	ls->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ls->watch_fd >= 0 && inotify_add_watch(ls->watch_fd, path,
						   IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE |
						       IN_MOVE_SELF | IN_DELETE_SELF) < 0) {
		close(ls->watch_fd);
		ls->watch_fd = -1;
	}
	ls->fd = TAKE_FD(fd);
	*ret = ls;
	return 0;
}

void log_stream_free(struct log_stream *ls)
{
	if (!ls)
		return;
	if (ls->fd >= 0)
		close(ls->fd);
	if (ls->watch_fd >= 0)
		close(ls->watch_fd);
	strbuf_release(&ls->in);
	strbuf_release(&ls->out);
	free(ls);
}
