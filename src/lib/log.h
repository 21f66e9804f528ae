/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes-style (klog) logging to stderr:
 *   I1129 03:11:06.123456   12345 file.c:42] message
 * log_v(N, ...) prints only when the verbosity (-v) is at least N.
 * Library code returns errors; the caller that decides logs once. */
#pragma once

#include "lib/macro.h"

extern int log_verbosity;

void log_set_verbosity(int v);
void log_emit(char severity, const char *file, int line, const char *fmt, ...) _printf_(4, 5);

#define log_info(...) log_emit('I', __FILE__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_emit('W', __FILE__, __LINE__, __VA_ARGS__)
#define log_error(...) log_emit('E', __FILE__, __LINE__, __VA_ARGS__)
#define log_v(level, ...)                                                                          \
	do {                                                                                       \
		if (unlikely(log_verbosity >= (level)))                                            \
			log_emit('I', __FILE__, __LINE__, __VA_ARGS__);                            \
	} while (0)
#define log_enabled(level) (log_verbosity >= (level))
/* Log an error with strerror(-r) appended and return r (negative errno). */
#define log_error_errno(r, fmt, ...)                                                               \
	({                                                                                         \
		int _r = (r);                                                                      \
		log_emit('E', __FILE__, __LINE__, fmt ": %s", ##__VA_ARGS__, strerror(-_r));       \
		_r;                                                                                \
	})
