/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A read-only bind mount of the OCI runtime's binary, so that every call
 * of the runtime starts one program instead of two.
 *
 * crun and runc protect against a container overwriting the host's runtime
 * binary through /proc/self/exe (CVE-2019-5736): on every start they check
 * whether they run from a copy that cannot be written and, if not, make one
 * (a read-only bind mount of themselves, else a sealed memfd) and execute
 * it again. Their check accepts a binary on a read-only mount when the
 * environment has RO_EXE_ENV set, which is the state their own re-execution
 * leaves them in; so the agent makes that mount once and runs the runtime
 * from it with the variable set. The protection is the same: nothing can
 * write the binary through that mount.
 */
#pragma once

/* The environment entry the runtime's check wants with a read-only binary. */
#define RO_EXE_ENV "_LIBCONTAINER_CLONED_BINARY=1"

/* Bind-mount the program at src read-only onto dst (created if missing; an
 * earlier mount there is replaced). 0 or negative errno with a message. */
int ro_exe_mount(const char *src, const char *dst, char **ret_err);

/* Undo ro_exe_mount (no error if nothing is mounted) and remove dst. */
void ro_exe_unmount(const char *dst);
