/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line flags the way Kubernetes components take them (Go's flag
 * package): "--name=value", "--name value", "-name=value"; booleans as
 * "--name" or "--name=false"; repeatable string lists.
 */
#pragma once

#include <stdint.h>
#include <stdio.h>

enum flag_type {
	FLAG_STRING = 1, /* const char ** */
	FLAG_INT,        /* int * */
	FLAG_BOOL,       /* bool * */
	FLAG_STRV,       /* const char *** (NULL-terminated, grows; also splits on ',') */
	FLAG_DURATION,   /* int64_t * microseconds; "5m", "30s", or plain seconds */
};

struct flag {
	const char *name;
	enum flag_type type;
	void *ptr;
	const char *help;
};

/* Parse argv[1..]; positional arguments are gathered into *ret_args
 * (NULL-terminated, caller frees the array only). "--help" returns 1 after
 * printing usage. Returns 0, 1, or -EINVAL after printing an error. */
int flags_parse(const struct flag *flags, const char *usage, int argc, char **argv,
		char ***ret_args);
void flags_usage(FILE *f, const char *usage, const struct flag *flags);
