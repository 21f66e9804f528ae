/* SPDX-License-Identifier: Apache-2.0 */
#include "runtime/ro_exe.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "lib/macro.h"

void ro_exe_unmount(const char *dst)
{
	for (int i = 0; i < 8 && umount2(dst, MNT_DETACH | UMOUNT_NOFOLLOW) == 0; i++)
		;
	(void)unlink(dst);
}

int ro_exe_mount(const char *src, const char *dst, char **ret_err)
{
	struct stat st;
	if (stat(src, &st) < 0 || !S_ISREG(st.st_mode)) {
		*ret_err = xasprintf("\"%s\" is not a regular file", src);
		return -EINVAL;
	}
	ro_exe_unmount(dst);
	_cleanup_close_ int f = open(dst, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0555);
	if (f < 0) {
		*ret_err = xasprintf("cannot create \"%s\": %s", dst, strerror(errno));
		return -errno;
	}
	int r = 0;
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
		r = -errno;
		*ret_err =
		    xasprintf("cannot bind-mount \"%s\" onto \"%s\": %s", src, dst, strerror(-r));
		(void)unlink(dst);
		return r;
	}
	struct statvfs sv;
	if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0 ||
	    statvfs(dst, &sv) < 0)
		r = -errno;
	else if (!(sv.f_flag & ST_RDONLY))
		r = -EROFS;
	if (r < 0) {
		*ret_err = xasprintf("cannot make \"%s\" read-only: %s", dst, strerror(-r));
		ro_exe_unmount(dst);
	}
	return r;
}
