/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <sys/syscall.h>
#include <time.h>

#include "lib/log.h"

int log_verbosity;

void log_set_verbosity(int v)
{
	log_verbosity = v;
}

void log_emit(char severity, const char *file, int line, const char *fmt, ...)
{
	char msg[4096];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	const char *base = strrchr(file, '/');

	base = base ? base + 1 : file;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One write per line so concurrent threads do not interleave. */
	fprintf(stderr, "%c%02d%02d %02d:%02d:%02d.%06ld %7ld %s:%d] %s\n", severity, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
		(long)syscall(SYS_gettid), base, line, msg);
}
