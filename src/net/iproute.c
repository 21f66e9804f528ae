/* SPDX-License-Identifier: Apache-2.0 */
/* `ip` from iproute2, for the few changes made outside CNI. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/macro.h"
#include "lib/strbuf.h"
#include "net/iproute.h"
#include "runtime/spawn.h"

static const char *ip_path(void)
{
	static const char *const paths[] = { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" };
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return "/usr/sbin/ip";
}

int net_ip(char **ret_err, const char *fmt, ...)
{
	_cleanup_free_ char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		abort();
	va_end(ap);

	const char *argv[32];
	size_t n = 0;
	argv[n++] = ip_path();
	for (char *save = NULL, *t = strtok_r(line, " ", &save); t && n < ARRAY_SIZE(argv) - 1;
	     t = strtok_r(NULL, " ", &save))
		argv[n++] = t;
	argv[n] = NULL;

	struct spawn_opts o = { .argv = argv, .stdio = { -1, -1, -1 } };
	struct strbuf err = STRBUF_INIT;
	int r = spawn_run(&o, NULL, 0, NULL, &err, 10000);
	if (r != 0) {
		while (err.len && (err.buf[err.len - 1] == '\n' || err.buf[err.len - 1] == ' '))
			strbuf_setlen(&err, err.len - 1);
		if (ret_err) {
			/* Rebuild the command line for the message. */
			struct strbuf cmd = STRBUF_INIT;
			for (size_t i = 1; i < n; i++)
				strbuf_addf(&cmd, "%s%s", i > 1 ? " " : "", argv[i]);
			*ret_err = xasprintf("ip %s: %s", strbuf_str(&cmd),
					     err.len ? strbuf_str(&err)
					     : r < 0 ? strerror(-r)
						     : "failed");
			strbuf_release(&cmd);
		}
		strbuf_release(&err);
		return -EIO;
	}
	strbuf_release(&err);
	return 0;
}
