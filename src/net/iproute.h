/* SPDX-License-Identifier: Apache-2.0 */
/* Running iproute2's `ip` for the few link, address and route changes c8s
 * makes outside CNI (lab networks, routes between nodes). */
#pragma once

/* Run `ip ARGS...` (fmt expands to space-separated arguments, none of
 * which may contain a space). 0, or -EIO with *ret_err (may be NULL) set to
 * "ip ARGS: <ip's message>". */
int net_ip(char **ret_err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
