/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Layer unpacking. Two libarchive readers are chained: the first reads the
 * (possibly gzip or zstd compressed) layer with the "raw" format and hands
 * out the uncompressed tar stream, which is hashed on the way (the diff ID)
 * and fed to the second reader, which parses tar. So a layer is read,
 * decompressed, verified and unpacked in one pass.
 *
 * Every entry is created with *at() calls relative to a directory fd that
 * was reached from the layer root one component at a time with O_NOFOLLOW:
 * no path is ever resolved by the kernel through a symlink, so nothing can
 * land outside the root whatever the layer holds.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "lib/macro.h"
#include "lib/strbuf.h"
#include "runtime/digest.h"
#include "runtime/unpack.h"

#define READ_BLOCK     (128 * 1024)
#define OPAQUE_XATTR   "trusted.overlay.opaque"
#define WH_PREFIX      ".wh."
#define WH_OPAQUE      ".wh..wh..opq"
#define WH_META_PREFIX ".wh..wh."

/* ---- removal ---- */

int unpack_rm_rf_at(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR)
		return -errno;

	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		int q = unpack_rm_rf_at(fd, de->d_name);
		if (q < 0 && r == 0)
			r = q;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

/* ---- the decompressing, hashing source ---- */

struct source {
	struct archive *raw;
	struct sha256 hash;
	char *buf;
};

static la_ssize_t source_read(struct archive *a, void *userdata, const void **ret_buf)
{
	struct source *src = userdata;
	la_ssize_t n = archive_read_data(src->raw, src->buf, READ_BLOCK);

	if (n < 0) {
		const char *msg = archive_error_string(src->raw);
		archive_set_error(a, archive_errno(src->raw), "%s", msg ? msg : "read error");
		return -1;
	}
	sha256_update(&src->hash, src->buf, (size_t)n);
	*ret_buf = src->buf;
	return n;
}

/* ---- the unpacker ---- */

struct dir_time {
	char *path;
	struct timespec ts[2];
};

struct unpacker {
	int rootfd;
	struct archive *tar;
	/* The directory the last entry went into, kept open: consecutive
	 * entries mostly share it. Dropped whenever a directory is removed. */
	char *cached_path;
	int cached_fd;
	struct dir_time *dirs;
	size_t ndirs, adirs;
	char *err;
};

static void cache_drop(struct unpacker *u)
{
	free(u->cached_path);
	u->cached_path = NULL;
	if (u->cached_fd >= 0)
		close(u->cached_fd);
	u->cached_fd = -1;
}

static void unpacker_release(struct unpacker *u)
{
	cache_drop(u);
	for (size_t i = 0; i < u->ndirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	if (u->rootfd >= 0)
		close(u->rootfd);
	free(u->err);
}

static int fail(struct unpacker *u, int r, const char *entry, const char *fmt, ...) _printf_(4, 5);
static int fail(struct unpacker *u, int r, const char *entry, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	int saved_errno = errno; /* for %m */
	va_list ap;

	if (u->err)
		return r;
	strbuf_addf(&sb, "layer entry \"%s\": ", entry ? entry : "");
	errno = saved_errno;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	u->err = strbuf_detach(&sb, NULL);
	return r;
}

/* Clean an archive path into "a/b/c" ("" for the root): empty and "."
 * components are dropped; absolute paths and ".." are refused. */
static int clean_path(const char *path, char **ret)
{
	struct strbuf sb = STRBUF_INIT;

	if (!path || path[0] == '/')
		return -EPERM;
	for (const char *p = path; *p;) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			strbuf_release(&sb);
			return -EPERM;
		}
		if (n > NAME_MAX) {
			strbuf_release(&sb);
			return -ENAMETOOLONG;
		}
		if (n && !(n == 1 && p[0] == '.')) {
			if (sb.len)
				strbuf_addch(&sb, '/');
			strbuf_add(&sb, p, n);
		}
		p = *e ? e + 1 : e;
	}
	if (sb.len >= PATH_MAX) {
		strbuf_release(&sb);
		return -ENAMETOOLONG;
	}
	*ret = strbuf_detach(&sb, NULL);
	return 0;
}

static const char *clean_path_error(int r)
{
	return r == -EPERM ? "path escapes the layer" : strerror(-r);
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* Split "a/b/c" into parent "a/b" (in place) and base "c". */
static const char *split_base(char *rel, const char **ret_parent)
{
	char *slash = strrchr(rel, '/');

	if (!slash) {
		*ret_parent = "";
		return rel;
	}
	*slash = 0;
	*ret_parent = rel;
	return slash + 1;
}

/*
 * Open the directory at the clean relative path rel, one component at a
 * time, never following a symlink (-EPERM if one is in the way). With
 * create, missing directories are made (0755, root-owned) and a whiteout in
 * the way becomes an opaque directory (this layer deletes, then recreates).
 * Returns an owned fd.
 */
static int open_dir(struct unpacker *u, const char *rel, bool create, int *ret_fd)
{
	if (u->cached_path && streq(u->cached_path, rel)) {
		int fd = fcntl(u->cached_fd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return -errno;
		*ret_fd = fd;
		return 0;
	}

	_cleanup_close_ int fd = fcntl(u->rootfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	for (const char *p = rel; *p;) {
		const char *e = strchrnul(p, '/');
		char name[NAME_MAX + 1];
		int nfd;

		assert_se((size_t)(e - p) <= NAME_MAX);
		memcpy(name, p, (size_t)(e - p));
		name[e - p] = 0;
		p = *e ? e + 1 : e;

		for (;;) {
			struct stat st;

			nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd >= 0)
				break;
			if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno != ENOENT || !create)
					return -errno;
				if (mkdirat(fd, name, 0755) < 0 && errno != EEXIST)
					return -errno;
				if (fchmodat(fd, name, 0755, 0) < 0)
					return -errno;
				continue;
			}
			if (S_ISLNK(st.st_mode))
				return -EPERM;
			if (!create || !is_whiteout(&st))
				return -ENOTDIR;
			if (unlinkat(fd, name, 0) < 0 || mkdirat(fd, name, 0755) < 0 ||
			    fchmodat(fd, name, 0755, 0) < 0)
				return -errno;
			nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0)
				return -errno;
			if (fsetxattr(nfd, OPAQUE_XATTR, "y", 1, 0) < 0) {
				int r = -errno;
				close(nfd);
				return r;
			}
			break;
		}
		close(fd);
		fd = nfd;
	}

	int cfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (cfd >= 0) {
		cache_drop(u);
		u->cached_path = xstrdup(rel);
		u->cached_fd = cfd;
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int open_dir_for(struct unpacker *u, const char *entry, const char *rel, bool create,
			int *ret_fd)
{
	int r = open_dir(u, rel, create, ret_fd);

	if (r == -EPERM)
		return fail(u, r, entry, "path traverses a symbolic link");
	if (r == -ENOTDIR)
		return fail(u, r, entry, "\"%s\" is not a directory", rel);
	if (r < 0)
		return fail(u, r, entry, "opening \"%s\": %s", rel, strerror(-r));
	return 0;
}

/* Remove what is at name, unless it is a directory and keep_dir is set
 * (then *ret_kept tells). */
static int make_room(struct unpacker *u, int pfd, const char *name, bool keep_dir, bool *ret_kept)
{
	struct stat st;

	if (ret_kept)
		*ret_kept = false;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir) {
			*ret_kept = true;
			return 0;
		}
		cache_drop(u);
		return unpack_rm_rf_at(pfd, name);
	}
	return unlinkat(pfd, name, 0) < 0 ? -errno : 0;
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (!archive_entry_mtime_is_set(e))
		ts[1].tv_nsec = UTIME_OMIT;
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
	} else {
		ts[0] = ts[1];
	}
}

/* Extended attributes of the entry, on fd or (fd < 0) on pfd/name without
 * following it. overlayfs' own attributes are never taken from a layer;
 * attributes the filesystem does not support are dropped. */
static int set_xattrs(struct archive_entry *e, int fd, int pfd, const char *name)
{
	const char *key;
	const void *value;
	size_t size;

	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
		int r;

		if (startswith(key, "trusted.overlay."))
			continue;
		if (fd >= 0) {
			r = fsetxattr(fd, key, value, size, 0);
		} else {
			char path[64 + NAME_MAX];
			snprintf(path, sizeof(path), "/proc/self/fd/%d/%s", pfd, name);
			r = lsetxattr(path, key, value, size, 0);
		}
		if (r < 0 && (errno == ENOSPC || errno == EDQUOT || errno == EIO))
			return -errno;
	}
	return 0;
}

/* Owner, then mode (chown may clear set-id bits), then xattrs (after the
 * data: writing drops security.capability). */
static int set_meta_fd(struct archive_entry *e, int fd)
{
	if (fchown(fd, archive_entry_uid(e), archive_entry_gid(e)) < 0)
		return -errno;
	if (fchmod(fd, archive_entry_perm(e)) < 0)
		return -errno;
	return set_xattrs(e, fd, -1, NULL);
}

static int set_meta_at(struct archive_entry *e, int pfd, const char *name, bool chmod_it)
{
	struct timespec ts[2];

	if (fchownat(pfd, name, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) <
	    0)
		return -errno;
	if (chmod_it && fchmodat(pfd, name, archive_entry_perm(e), 0) < 0)
		return -errno;
	int r = set_xattrs(e, -1, pfd, name);
	if (r < 0)
		return r;
	entry_times(e, ts);
	if (utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static void defer_dir_times(struct unpacker *u, const char *rel, struct archive_entry *e)
{
	if (u->ndirs == u->adirs) {
		u->adirs = u->adirs ? 2 * u->adirs : 64;
		u->dirs = xrealloc(u->dirs, u->adirs * sizeof(*u->dirs));
	}
	u->dirs[u->ndirs].path = xstrdup(rel);
	entry_times(e, u->dirs[u->ndirs].ts);
	u->ndirs++;
}

static int pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;

	while (n) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static int write_file(struct unpacker *u, const char *entry, int pfd, const char *name,
		      struct archive_entry *e)
{
	_cleanup_close_ int fd =
	    openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct timespec ts[2];
	int r;

	if (fd < 0)
		return fail(u, -errno, entry, "creating: %m");
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;

		r = archive_read_data_block(u->tar, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			int e2 = archive_errno(u->tar);
			return fail(u, e2 > 0 ? -e2 : -EBADMSG, entry, "reading: %s",
				    archive_error_string(u->tar));
		}
		r = pwrite_all(fd, buf, size, off);
		if (r < 0)
			return fail(u, r, entry, "writing: %s", strerror(-r));
	}
	if (archive_entry_size_is_set(e) && ftruncate(fd, archive_entry_size(e)) < 0)
		return fail(u, -errno, entry, "truncating: %m");
	r = set_meta_fd(e, fd);
	if (r < 0)
		return fail(u, r, entry, "setting attributes: %s", strerror(-r));
	entry_times(e, ts);
	if (futimens(fd, ts) < 0)
		return fail(u, -errno, entry, "setting times: %m");
	return 0;
}

static int unpack_whiteout(struct unpacker *u, const char *entry, const char *parent,
			   const char *base)
{
	_cleanup_close_ int pfd = -1;
	int r;

	if (streq(base, WH_OPAQUE)) {
		r = open_dir_for(u, entry, parent, true, &pfd);
		if (r < 0)
			return r;
		if (fsetxattr(pfd, OPAQUE_XATTR, "y", 1, 0) < 0)
			return fail(u, -errno, entry, "marking \"%s\" opaque: %m", parent);
		return 0;
	}
	if (startswith(base, WH_META_PREFIX))
		return 0; /* aufs bookkeeping (.wh..wh.plnk and the like) */

	const char *name = base + strlen(WH_PREFIX);
	if (!*name || streq(name, ".") || streq(name, ".."))
		return fail(u, -EPERM, entry, "invalid whiteout");
	r = open_dir_for(u, entry, parent, true, &pfd);
	if (r < 0)
		return r;
	/* A whiteout hides lower layers only: an entry of this layer stays. */
	if (faccessat(pfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (mknodat(pfd, name, S_IFCHR | 0000, makedev(0, 0)) < 0)
		return fail(u, -errno, entry, "creating whiteout: %m");
	return 0;
}

static int unpack_hardlink(struct unpacker *u, const char *entry, const char *rel, int pfd,
			   const char *name, const char *link)
{
	_cleanup_free_ char *target = NULL;
	_cleanup_close_ int tpfd = -1;
	const char *tparent;
	int r;

	r = clean_path(link, &target);
	if (r < 0)
		return fail(u, r, entry, "hard link target \"%s\": %s", link, clean_path_error(r));
	if (!*target)
		return fail(u, -EPERM, entry, "hard link to the layer root");
	if (streq(target, rel))
		return 0;
	const char *tbase = split_base(target, &tparent);
	r = open_dir(u, tparent, false, &tpfd);
	if (r == -EPERM)
		return fail(u, r, entry, "hard link target \"%s\" traverses a symbolic link", link);
	if (r < 0)
		return fail(u, r, entry, "hard link target \"%s\": %s", link, strerror(-r));
	r = make_room(u, pfd, name, false, NULL);
	if (r < 0)
		return fail(u, r, entry, "replacing: %s", strerror(-r));
	if (linkat(tpfd, tbase, pfd, name, 0) < 0)
		return fail(u, -errno, entry, "hard link to \"%s\": %m", link);
	return 0;
}

static int unpack_entry(struct unpacker *u, struct archive_entry *e)
{
	const char *entry = archive_entry_pathname(e);
	_cleanup_free_ char *rel = NULL;
	_cleanup_close_ int pfd = -1;
	const char *parent;
	bool kept;
	int r;

	r = clean_path(entry, &rel);
	if (r < 0)
		return fail(u, r, entry, "%s", clean_path_error(r));
	if (startswith(rel, WH_META_PREFIX))
		return 0; /* aufs bookkeeping (.wh..wh.plnk/ and the like) */
	if (!*rel) {
		/* The layer root itself ("./"). */
		if (archive_entry_filetype(e) != AE_IFDIR)
			return 0;
		r = set_meta_fd(e, u->rootfd);
		if (r < 0)
			return fail(u, r, entry, "setting attributes: %s", strerror(-r));
		defer_dir_times(u, "", e);
		return 0;
	}
	_cleanup_free_ char *full = xstrdup(rel);
	const char *base = split_base(rel, &parent);

	if (startswith(base, WH_PREFIX))
		return unpack_whiteout(u, entry, parent, base);

	r = open_dir_for(u, entry, parent, true, &pfd);
	if (r < 0)
		return r;

	const char *link = archive_entry_hardlink(e);
	if (link)
		return unpack_hardlink(u, entry, full, pfd, base, link);

	mode_t type = archive_entry_filetype(e);
	bool whiteout = type == AE_IFCHR && archive_entry_rdev(e) == makedev(0, 0);
	if (type == AE_IFBLK || type == AE_IFSOCK || (type == AE_IFCHR && !whiteout))
		return 0; /* device nodes come from the runtime, not from images */
	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO &&
	    !whiteout)
		return 0;

	r = make_room(u, pfd, base, type == AE_IFDIR, &kept);
	if (r < 0)
		return fail(u, r, entry, "replacing: %s", strerror(-r));

	switch (type) {
	case AE_IFREG:
		return write_file(u, entry, pfd, base, e);
	case AE_IFDIR: {
		if (!kept && mkdirat(pfd, base, 0700) < 0)
			return fail(u, -errno, entry, "creating: %m");
		_cleanup_close_ int dfd =
		    openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			return fail(u, -errno, entry, "opening: %m");
		r = set_meta_fd(e, dfd);
		if (r < 0)
			return fail(u, r, entry, "setting attributes: %s", strerror(-r));
		defer_dir_times(u, full, e);
		return 0;
	}
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(e);
		if (!target)
			return fail(u, -EBADMSG, entry, "symbolic link without a target");
		if (symlinkat(target, pfd, base) < 0)
			return fail(u, -errno, entry, "creating: %m");
		r = set_meta_at(e, pfd, base, false);
		break;
	}
	case AE_IFIFO:
		if (mknodat(pfd, base, S_IFIFO | 0600, 0) < 0)
			return fail(u, -errno, entry, "creating: %m");
		r = set_meta_at(e, pfd, base, true);
		break;
	default: /* AE_IFCHR whiteout (an overlayfs-style layer) */
		if (mknodat(pfd, base, S_IFCHR | 0000, makedev(0, 0)) < 0)
			return fail(u, -errno, entry, "creating: %m");
		r = 0;
		break;
	}
	if (r < 0)
		return fail(u, r, entry, "setting attributes: %s", strerror(-r));
	return 0;
}

/* Directory times last: creating entries inside changed them. */
static void apply_dir_times(struct unpacker *u)
{
	for (size_t i = 0; i < u->ndirs; i++) {
		_cleanup_close_ int fd = -1;

		if (open_dir(u, u->dirs[i].path, false, &fd) == 0)
			(void)futimens(fd, u->dirs[i].ts);
	}
}

static int archive_fail(struct unpacker *u, struct archive *a, const char *what)
{
	int e = archive_errno(a);
	const char *msg = archive_error_string(a);

	if (!u->err)
		u->err = xasprintf("%s: %s", what, msg ? msg : "unknown error");
	return e > 0 ? -e : -EBADMSG;
}

int layer_unpack_digest(int fd, const char *dir, char ret_diff_id[DIGEST_BUF_LEN], char **ret_err)
{
	struct unpacker u = { .rootfd = -1, .cached_fd = -1 };
	struct source src = { 0 };
	struct archive *tar = NULL;
	struct archive_entry *e;
	int r;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		u.err = xasprintf("creating \"%s\": %s", dir, strerror(-r));
		goto out;
	}
	u.rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (u.rootfd < 0) {
		r = -errno;
		u.err = xasprintf("opening \"%s\": %s", dir, strerror(-r));
		goto out;
	}

	sha256_init(&src.hash);
	src.buf = xmalloc(READ_BLOCK);
	src.raw = archive_read_new();
	assert_se(src.raw);
	archive_read_support_filter_gzip(src.raw);
	archive_read_support_filter_zstd(src.raw);
	archive_read_support_format_raw(src.raw);
	if (archive_read_open_fd(src.raw, fd, READ_BLOCK) != ARCHIVE_OK ||
	    archive_read_next_header(src.raw, &e) != ARCHIVE_OK) {
		r = archive_fail(&u, src.raw, "reading layer");
		goto out;
	}

	tar = archive_read_new();
	assert_se(tar);
	u.tar = tar;
	archive_read_support_format_tar(tar);
	if (archive_read_open(tar, &src, NULL, source_read, NULL) != ARCHIVE_OK) {
		r = archive_fail(&u, tar, "reading layer");
		goto out;
	}
	for (;;) {
		r = archive_read_next_header(tar, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			r = archive_fail(&u, tar, "reading layer");
			goto out;
		}
		r = unpack_entry(&u, e);
		if (r < 0)
			goto out;
	}
	apply_dir_times(&u);

	/* Whatever follows the end-of-archive blocks is part of the diff too. */
	for (;;) {
		la_ssize_t n = archive_read_data(src.raw, src.buf, READ_BLOCK);
		if (n == 0)
			break;
		if (n < 0) {
			r = archive_fail(&u, src.raw, "reading layer");
			goto out;
		}
		sha256_update(&src.hash, src.buf, (size_t)n);
	}
	if (ret_diff_id)
		sha256_final(&src.hash, ret_diff_id);
	r = 0;
out:
	if (tar)
		archive_read_free(tar);
	if (src.raw)
		archive_read_free(src.raw);
	free(src.buf);
	sha256_release(&src.hash);
	if (r < 0 && ret_err)
		*ret_err = TAKE_PTR(u.err);
	unpacker_release(&u);
	return r;
}

int layer_unpack(int fd, const char *dir, char **ret_err)
{
	return layer_unpack_digest(fd, dir, NULL, ret_err);
}
