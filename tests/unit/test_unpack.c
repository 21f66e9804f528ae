/* SPDX-License-Identifier: Apache-2.0 */
/*
 * layer_unpack(): ordinary entries, compression, diff IDs, whiteouts, and
 * every way a layer could try to write outside its directory. Runs as root
 * (ownership, device nodes, trusted.* xattrs).
 */
#include "fixtures/image_fixtures.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/xattr.h>

#include "runtime/unpack.h"

struct fixture {
	char *dir;  /* the test's temporary directory */
	char *root; /* dir/root: where layers are unpacked */
	char *tar;  /* dir/layer.tar */
};

static int setup(void **state)
{
	struct fixture *f = xnew(struct fixture, 1);

	f->dir = fx_tmpdir("unpack");
	f->root = xasprintf("%s/root", f->dir);
	f->tar = xasprintf("%s/layer.tar", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fx_rm_rf(f->dir);
	free(f->dir);
	free(f->root);
	free(f->tar);
	free(f);
	return 0;
}

static int unpack_file(const char *tar, const char *dir, char ret_diff_id[DIGEST_BUF_LEN],
		       char **ret_err)
{
	int fd = open(tar, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	int r = ret_diff_id ? layer_unpack_digest(fd, dir, ret_diff_id, ret_err)
			    : layer_unpack(fd, dir, ret_err);
	close(fd);
	return r;
}

static char *at(const struct fixture *f, const char *rel)
{
	return xasprintf("%s/%s", f->root, rel);
}

static void assert_mode(const struct fixture *f, const char *rel, mode_t type, mode_t perm,
			uid_t uid)
{
	_cleanup_free_ char *p = at(f, rel);
	struct stat st;

	if (lstat(p, &st) < 0)
		fail_msg("%s: %s", rel, strerror(errno));
	assert_int_equal(st.st_mode & S_IFMT, type);
	if (type != S_IFLNK)
		assert_int_equal(st.st_mode & 07777, perm);
	assert_int_equal(st.st_uid, uid);
}

/* ---- ordinary layers ---- */

static const struct fx_entry basic[] = {
	{ "./", 'd', .mode = 0755 },
	{ "./bin/", 'd', .mode = 0750, .uid = 7, .mtime = 1600000000 },
	{ "./bin/busybox", 'f', "#!busybox\n", 04755, 1000, 1000, .xattr_name = "user.c8s",
	  .xattr_value = "yes" },
	{ "bin/sh", 'l', "/bin/busybox", .uid = 5 },
	{ "bin/ln", 'h', "bin/busybox" },
	{ "etc/deep/passwd", 'f', "root:x:0:0::/root:/bin/sh\n", 0600 }, /* implicit parents */
	{ "dev/null", 'c', .dev_major = 1, .dev_minor = 3 },		 /* skipped */
	{ "dev/sda", 'b', .dev_major = 8, .dev_minor = 0 },		 /* skipped */
	{ "run/fifo", 'p', .mode = 0640 },
	{ "tmp", 'd', .mode = 01777 },
	{ "bin/cap", 'f', "x", 0755, .xattr_name = "trusted.overlay.redirect",
	  .xattr_value = "/etc" }, /* overlayfs' own attributes never come from a layer */
};

static void check_basic(const struct fixture *f)
{
	_cleanup_free_ char *busybox = at(f, "bin/busybox"), *ln = at(f, "bin/ln");
	_cleanup_free_ char *sh = at(f, "bin/sh"), *bin = at(f, "bin"), *cap = at(f, "bin/cap");
	_cleanup_free_ char *content = fx_read(busybox, NULL);
	struct stat a, b;
	char buf[64];

	assert_string_equal(content, "#!busybox\n");
	assert_mode(f, "", S_IFDIR, 0755, 0);
	assert_mode(f, "bin", S_IFDIR, 0750, 7);
	assert_mode(f, "bin/busybox", S_IFREG, 04755, 1000);
	assert_mode(f, "bin/sh", S_IFLNK, 0, 5);
	assert_mode(f, "etc/deep", S_IFDIR, 0755, 0);
	assert_mode(f, "etc/deep/passwd", S_IFREG, 0600, 0);
	assert_mode(f, "run/fifo", S_IFIFO, 0640, 0);
	assert_mode(f, "tmp", S_IFDIR, 01777, 0);
	ssize_t n = readlink(sh, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = 0;
	assert_string_equal(buf, "/bin/busybox");
	assert_int_equal(stat(busybox, &a), 0);
	assert_int_equal(stat(ln, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino); /* a hard link */
	assert_int_equal(a.st_mtim.tv_sec, 1700000000);
	assert_int_equal(lstat(bin, &b), 0);
	assert_int_equal(b.st_mtim.tv_sec, 1600000000); /* set after its entries */
	assert_int_equal(getxattr(busybox, "user.c8s", buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "yes", 3);
	assert_true(getxattr(cap, "trusted.overlay.redirect", buf, sizeof(buf)) < 0);
	_cleanup_free_ char *null = at(f, "dev/null"), *sda = at(f, "dev/sda");
	assert_false(fx_exists(null));
	assert_false(fx_exists(sda));
}

static void unpack_basic(void **state, enum fx_filter filter)
{
	struct fixture *f = *state;
	_cleanup_free_ char *plain = xasprintf("%s/plain.tar", f->dir);
	_cleanup_free_ char *err = NULL;
	char want[DIGEST_BUF_LEN], got[DIGEST_BUF_LEN];

	/* The diff ID is the digest of the uncompressed tar. */
	fx_write_tar(plain, basic, ARRAY_SIZE(basic), FX_NONE);
	fx_file_digest(plain, want);
	fx_write_tar(f->tar, basic, ARRAY_SIZE(basic), filter);
	assert_int_equal(unpack_file(f->tar, f->root, got, &err), 0);
	assert_string_equal(got, want);
	check_basic(f);
}

static void test_basic_plain(void **state)
{
	unpack_basic(state, FX_NONE);
}

static void test_basic_gzip(void **state)
{
	unpack_basic(state, FX_GZIP);
}

static void test_basic_zstd(void **state)
{
	unpack_basic(state, FX_ZSTD);
}

/* A later entry replaces an earlier one; a symlink is replaced, never
 * followed. */
static void test_replace(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *victim = xasprintf("%s/victim", f->dir);
	const struct fx_entry v[] = {
		{ "a", 'f', "file" },	     { "a/", 'd' },
		{ "a/x", 'f', "x" },	     { "b/", 'd' },
		{ "b/y", 'f', "y" },	     { "b", 'f', "now a file" },
		{ "s", 'l', victim },	     { "s", 'f', "replaced" },
		{ "d/", 'd', .mode = 0700 }, { "d/", 'd', .mode = 0711 },
	};
	_cleanup_free_ char *err = NULL;

	fx_write(victim, "untouched");
	fx_write_tar(f->tar, v, ARRAY_SIZE(v), FX_NONE);
	assert_int_equal(unpack_file(f->tar, f->root, NULL, &err), 0);
	assert_mode(f, "a", S_IFDIR, 0755, 0);
	assert_mode(f, "a/x", S_IFREG, 0644, 0);
	assert_mode(f, "b", S_IFREG, 0644, 0);
	assert_mode(f, "s", S_IFREG, 0644, 0);
	assert_mode(f, "d", S_IFDIR, 0711, 0);
	_cleanup_free_ char *vc = fx_read(victim, NULL);
	assert_string_equal(vc, "untouched");
}

static void test_corrupt(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *err = NULL;
	const struct fx_entry v[] = { { "big", 'f', "0123456789abcdef0123456789abcdef" } };
	size_t len;

	fx_write_tar(f->tar, v, ARRAY_SIZE(v), FX_GZIP);
	_cleanup_free_ char *data = fx_read(f->tar, &len);
	assert_int_equal(truncate(f->tar, (off_t)len / 2), 0);
	int r = unpack_file(f->tar, f->root, NULL, &err);
	assert_true(r < 0);
	assert_non_null(err);
}

/* ---- whiteouts ---- */

static bool is_whiteout(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0);
}

static bool is_opaque(const char *path)
{
	char v[4];

	return getxattr(path, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y';
}

static void test_whiteouts(void **state)
{
	struct fixture *f = *state;
	const struct fx_entry v[] = {
		{ "a/", 'd' },
		{ "a/.wh.b", 'f', "" }, /* delete a/b of lower layers */
		{ "c/", 'd' },
		{ "c/.wh..wh..opq", 'f', "" }, /* hide all of lower c/ */
		{ "c/keep", 'f', "k" },
		{ "n/.wh..wh..opq", 'f', "" }, /* parent created implicitly */
		{ "d/x", 'f', "x" },
		{ "d/.wh.x", 'f', "" }, /* this layer's own x stays */
		{ ".wh.y", 'f', "" },
		{ "y", 'f', "y" }, /* ...whichever comes first */
		{ ".wh.z", 'f', "" },
		{ "z/f", 'f', "f" }, /* deleted, then recreated: an opaque dir */
		{ ".wh..wh.plnk/1234", 'f', "aufs" },
		{ "ow", 'c' }, /* an overlayfs whiteout as it is */
	};
	_cleanup_free_ char *err = NULL;

	fx_write_tar(f->tar, v, ARRAY_SIZE(v), FX_GZIP);
	assert_int_equal(unpack_file(f->tar, f->root, NULL, &err), 0);

	_cleanup_free_ char *ab = at(f, "a/b"), *awh = at(f, "a/.wh.b"), *c = at(f, "c");
	_cleanup_free_ char *copq = at(f, "c/.wh..wh..opq"), *keep = at(f, "c/keep");
	_cleanup_free_ char *n = at(f, "n"), *dx = at(f, "d/x"), *y = at(f, "y");
	_cleanup_free_ char *z = at(f, "z"), *zf = at(f, "z/f"), *plnk = at(f, ".wh..wh.plnk");
	_cleanup_free_ char *ow = at(f, "ow"), *a = at(f, "a");
	assert_true(is_whiteout(ab));
	assert_false(fx_exists(awh));
	assert_true(is_opaque(c));
	assert_false(is_opaque(a));
	assert_false(fx_exists(copq));
	assert_true(fx_exists(keep));
	assert_true(is_opaque(n));
	assert_mode(f, "d/x", S_IFREG, 0644, 0);
	assert_mode(f, "y", S_IFREG, 0644, 0);
	assert_mode(f, "z", S_IFDIR, 0755, 0);
	assert_true(is_opaque(z));
	assert_true(fx_exists(zf));
	assert_false(fx_exists(plnk));
	assert_true(is_whiteout(ow));
	(void)dx;
	(void)y;
}

/* ---- escapes ---- */

struct escape {
	const char *name;
	struct fx_entry v[3];
	size_t n;
};

/* Checked from a child in its own mount namespace whose /etc is a fresh
 * tmpfs: should the unpacker ever follow "s -> /", it would write the
 * throwaway /etc/passwd, never the host's. */
static int escape_child(const struct fixture *f, const struct escape *e, const char *abs_name)
{
	_cleanup_free_ char *err = NULL;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/etc", "tmpfs", 0, "mode=0755,size=1m") < 0)
		return 10;
	fx_write("/etc/passwd", "sentinel\n");

	int fd = open(f->tar, O_RDONLY | O_CLOEXEC);
	int r = layer_unpack(fd, f->root, &err);
	close(fd);
	if (r != -EPERM) {
		fprintf(stderr, "%s: layer_unpack returned %d (%s)\n", e->name, r, err ? err : "");
		return 11;
	}
	if (!err || !strstr(err, "layer entry"))
		return 12;
	fprintf(stderr, "  %s: %s\n", e->name, err);

	struct stat st;
	_cleanup_free_ char *passwd = fx_read("/etc/passwd", NULL);
	if (!streq(passwd, "sentinel\n") || stat("/etc/passwd", &st) < 0 || st.st_nlink != 1)
		return 13;
	/* Nothing next to the root, nothing at the absolute path. */
	_cleanup_free_ char *x = xasprintf("%s/x", f->dir);
	if (fx_exists(x) || fx_exists(abs_name))
		return 14;
	_cleanup_free_ char *etc = xasprintf("%s/etc", f->dir);
	if (fx_exists(etc))
		return 15;
	return 0;
}

static void test_escapes(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *abs_name = xasprintf("/tmp/c8s-unpack-abs-%d", getpid());
	const struct escape cases[] = {
		{ "dotdot", { { "../x", 'f', "x" } }, 1 },
		{ "dotdot-inner", { { "a/../../x", 'f', "x" } }, 1 },
		{ "absolute", { { abs_name, 'f', "x" } }, 1 },
		{ "symlink-root", { { "s", 'l', "/" }, { "s/etc/passwd", 'f', "pwned\n" } }, 2 },
		{ "symlink-parent", { { "s", 'l', ".." }, { "s/x", 'f', "x" } }, 2 },
		{ "symlink-dir-then-file",
		  { { "d/", 'd' }, { "d/s", 'l', "../.." }, { "d/s/x", 'f', "x" } },
		  3 },
		{ "hardlink-out", { { "h", 'h', "../../etc/passwd" } }, 1 },
		{ "hardlink-abs", { { "h", 'h', "/etc/passwd" } }, 1 },
		{ "hardlink-via-symlink", { { "s", 'l', "/etc" }, { "h", 'h', "s/passwd" } }, 2 },
		{ "whiteout-dotdot", { { "a/.wh...", 'f', "" } }, 1 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		fx_rm_rf(f->root);
		fx_write_tar(f->tar, cases[i].v, cases[i].n, FX_NONE);
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			_exit(escape_child(f, &cases[i], abs_name));
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("escape case %s: child status %d", cases[i].name, status);
		/* and in this (the host's) namespace too */
		assert_false(fx_exists(abs_name));
		_cleanup_free_ char *x = xasprintf("%s/x", f->dir);
		assert_false(fx_exists(x));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_basic_gzip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_basic_zstd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_whiteouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
