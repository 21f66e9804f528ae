/* SPDX-License-Identifier: Apache-2.0 */
/* A container's root file system: overlayfs over the image's layers. */
#include "kubelet/rootfs.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include "lib/macro.h"
#include "lib/strbuf.h"
#include "runtime/fsutil.h"

/* Whether path is the root of a mount other than its parent's. */
static bool is_mountpoint(const char *path)
{
	struct stat st, pst;
	_cleanup_free_ char *parent = xasprintf("%s/..", path);
	if (stat(path, &st) < 0 || stat(parent, &pst) < 0)
		return false;
	return st.st_dev != pst.st_dev;
}

int rootfs_mount(const char *ctr_dir, char *const *lowerdirs, char **ret_rootfs, char **ret_err)
{
	_cleanup_free_ char *rootfs = xasprintf("%s/rootfs", ctr_dir);
	_cleanup_free_ char *upper = xasprintf("%s/upper", ctr_dir);
	_cleanup_free_ char *work = xasprintf("%s/work", ctr_dir);

	if (!lowerdirs || !lowerdirs[0]) {
		*ret_err = xstrdup("cannot mount the root filesystem: the image has no layer "
				   "directories");
		return -EINVAL;
	}
	if (is_mountpoint(rootfs)) {
		*ret_rootfs = TAKE_PTR(rootfs);
		return 0;
	}
	const char *dirs[] = { rootfs, upper, work };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int r = rt_mkdir_p(dirs[i], 0755);
		if (r < 0) {
			*ret_err = xasprintf("cannot create %s: %s", dirs[i], strerror(-r));
			return r;
		}
	}

	_cleanup_strbuf_ struct strbuf opts = STRBUF_INIT;
	strbuf_addstr(&opts, "lowerdir=");
	for (char *const *l = lowerdirs; *l; l++) {
		if (strpbrk(*l, ":,")) {
			*ret_err = xasprintf("cannot mount the root filesystem: layer directory "
					     "\"%s\" has a ':' or ','",
					     *l);
			return -EINVAL;
		}
		strbuf_addf(&opts, "%s%s", l == lowerdirs ? "" : ":", *l);
	}
	strbuf_addf(&opts, ",upperdir=%s,workdir=%s", upper, work);
	if (opts.len >= 4096) {
		*ret_err = xasprintf("cannot mount the root filesystem: %zu bytes of overlayfs "
				     "options (too many layers) over the 4095 mount(2) accepts",
				     opts.len);
		return -E2BIG;
	}
	if (mount("overlay", rootfs, "overlay", 0, opts.buf) < 0) {
		int e = errno;
		*ret_err = xasprintf("cannot mount overlayfs at %s: %s", rootfs, strerror(e));
		return -e;
	}
	*ret_rootfs = TAKE_PTR(rootfs);
	return 0;
}

int rootfs_unmount(const char *ctr_dir)
{
	_cleanup_free_ char *rootfs = xasprintf("%s/rootfs", ctr_dir);
	/* Lazy: a process still holding it must not make the caller loop. */
	while (is_mountpoint(rootfs))
		if (umount2(rootfs, MNT_DETACH) < 0)
			return errno == EINVAL || errno == ENOENT ? 0 : -errno;
	return 0;
}
