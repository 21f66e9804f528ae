/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers used everywhere: cleanup attributes, ownership transfer,
 * allocation wrappers that abort on out-of-memory. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_ __attribute__((warn_unused_result))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* An assertion that is never compiled out. */
#define assert_se(expr)                                                                            \
	do {                                                                                       \
		if (unlikely(!(expr))) {                                                           \
			fprintf(stderr, "F %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #expr); \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand ownership of a pointer or fd out of a cleanup-managed variable. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		typeof(p) _take_tmp = (p);                                                         \
		(p) = NULL;                                                                        \
		_take_tmp;                                                                         \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _take_fd = (fd);                                                               \
		(fd) = -1;                                                                         \
		_take_fd;                                                                          \
	})

static inline bool streq(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}
static inline bool streq_ptr(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}
static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}
static inline bool isempty(const char *s)
{
	return !s || !*s;
}

/* Allocation: these never return NULL; they abort on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
#define xnew(type, n) ((type *)xcalloc((n), sizeof(type)))

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void strv_freep(char ***v)
{
	if (*v) {
		for (char **p = *v; *p; p++)
			free(*p);
		free(*v);
	}
}
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                                    \
	static inline void func##p(type *p)                                                        \
	{                                                                                          \
		if (*p)                                                                            \
			func(*p);                                                                  \
	}

/* Monotonic and wall clocks. */
uint64_t now_usec_monotonic(void);
uint64_t now_usec_realtime(void);
