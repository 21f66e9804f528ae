/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The image store without a registry: references, registry error and
 * challenge parsing, docker-archive and oci-archive imports, layer
 * preparation and an end-to-end overlayfs mount of the result.
 * (Pulls are in test_image_registry.c.) Runs as root.
 */
#include "fixtures/image_fixtures.h"

#include <pthread.h>
#include <sys/mount.h>

#include "runtime/image.h"
#include "runtime/registry.h"

struct group {
	char *dir;    /* everything the tests make */
	char *images; /* tests/images/build.sh output */
	char *docker_tar, *oci_tar;
	char *manifest_digest; /* of busybox:1 in the OCI layout */
	int seq;
};

static struct group G;

static int group_setup(void **state)
{
	G.dir = fx_tmpdir("image");
	G.images = xasprintf("%s/images", G.dir);
	if (!fx_build_test_images(G.images)) {
		fprintf(stderr, "cannot build the test images (umoci, skopeo)\n");
		return -1;
	}
	G.docker_tar = xasprintf("%s/busybox-docker.tar", G.images);
	G.oci_tar = xasprintf("%s/busybox-oci.tar", G.images);
	_cleanup_free_ char *index_path = xasprintf("%s/layout/index.json", G.images);
	json_t *index = json_load_file(index_path, 0, NULL);
	G.manifest_digest = xstrdup(json_string_value(
	    json_object_get(json_array_get(json_object_get(index, "manifests"), 0), "digest")));
	json_decref(index);
	return 0;
}

static int group_teardown(void **state)
{
	fx_rm_rf(G.dir);
	free(G.dir);
	free(G.images);
	free(G.docker_tar);
	free(G.oci_tar);
	free(G.manifest_digest);
	return 0;
}

/* A fresh store directory per test. */
struct fixture {
	char *dir;
	struct image_store *s;
	int fds; /* open before the test */
};

static int setup(void **state)
{
	struct fixture *f = xnew(struct fixture, 1);

	f->fds = fx_count_fds();
	f->dir = xasprintf("%s/store-%d", G.dir, ++G.seq);
	assert_int_equal(image_store_open(f->dir, NULL, &f->s), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *mnt = xasprintf("%s/mnt", f->dir);

	(void)umount2(mnt, MNT_DETACH); /* left by a failed test */
	image_store_close(f->s);
	fx_rm_rf(f->dir);
	free(f->dir);
	int fds = f->fds;
	free(f);
	assert_int_equal(fx_count_fds(), fds); /* nothing leaked */
	return 0;
}

/* ---- references, messages ---- */

static void test_normalize(void **state)
{
	static const char *const cases[][2] = {
		{ "busybox", "docker.io/library/busybox:latest" },
		{ "busybox:1.36", "docker.io/library/busybox:1.36" },
		{ "library/busybox", "docker.io/library/busybox:latest" },
		{ "docker.io/busybox", "docker.io/library/busybox:latest" },
		{ "index.docker.io/library/busybox:1", "docker.io/library/busybox:1" },
		{ "user/app:v1", "docker.io/user/app:v1" },
		{ "127.0.0.1:5000/busybox:1", "127.0.0.1:5000/busybox:1" },
		{ "localhost/app", "localhost/app:latest" },
		{ "localhost:5000/a/b/c", "localhost:5000/a/b/c:latest" },
		{ "registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9" },
		{ "[::1]:5000/x:y", "[::1]:5000/x:y" },
		{ "my-reg.example.com/team__a/img-x.y:TAG_1",
		  "my-reg.example.com/team__a/img-x.y:TAG_1" },
		{ "x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "docker.io/library/x@sha256:"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
		{ "x:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		  "docker.io/library/x:1@sha256:"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
	};
	static const char *const invalid[] = {
		"",
		"Busybox",
		"busybox:",
		"busybox@sha256:abc",
		"a//b",
		"-a",
		"a-",
		"bad tag:x",
		"x:y:z",
		"host:/x",
		"x:"
		"-t",
		"reg.io/A/b",
		"x@md5:abcdef",
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *n = image_ref_normalize(cases[i][0]);
		if (!n || !streq(n, cases[i][1]))
			fail_msg("%s -> %s, want %s", cases[i][0], n ? n : "(invalid)",
				 cases[i][1]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(invalid); i++) {
		_cleanup_free_ char *n = image_ref_normalize(invalid[i]);
		if (n)
			fail_msg("%s -> %s, want invalid", invalid[i], n);
	}
}

static void test_error_message(void **state)
{
	static const struct {
		long status;
		const char *body, *want;
	} cases[] = {
		{ 404,
		  "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest "
		  "unknown\",\"detail\":{\"Tag\":\"x\"}}]}",
		  "manifest unknown: manifest unknown" },
		{ 401,
		  "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication "
		  "required\",\"detail\":null}]}",
		  "unauthorized: authentication required" },
		{ 400,
		  "{\"errors\":[{\"code\":\"A_B\",\"message\":\"one\"},{\"code\":\"C\",\"message\":"
		  "\"\"}]}",
		  "a b: one; c" },
		{ 401, "{\"details\":\"incorrect username or password\"}",
		  "unauthorized: incorrect username or password" },
		{ 404, "", "not found" },
		{ 500, "<html>oops</html>", "unexpected HTTP status 500" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *m =
		    registry_error_message(cases[i].status, cases[i].body, strlen(cases[i].body));
		assert_string_equal(m, cases[i].want);
	}
}

static void test_challenge(void **state)
{
	struct registry_challenge ch;

	assert_int_equal(
	    registry_parse_challenge("Bearer realm=\"https://auth.docker.io/token\","
				     "service=\"registry.docker.io\",scope=\"repository:"
				     "library/busybox:pull\"",
				     &ch),
	    0);
	assert_string_equal(ch.scheme, "bearer");
	assert_string_equal(ch.realm, "https://auth.docker.io/token");
	assert_string_equal(ch.service, "registry.docker.io");
	assert_string_equal(ch.scope, "repository:library/busybox:pull");
	registry_challenge_release(&ch);

	assert_int_equal(registry_parse_challenge("Basic realm=\"c8s \\\"test\\\"\"", &ch), 0);
	assert_string_equal(ch.scheme, "basic");
	assert_string_equal(ch.realm, "c8s \"test\"");
	assert_null(ch.service);
	registry_challenge_release(&ch);

	assert_int_equal(registry_parse_challenge("bearer realm=http://x/t, service=s", &ch), 0);
	assert_string_equal(ch.realm, "http://x/t");
	assert_string_equal(ch.service, "s");
	registry_challenge_release(&ch);

	assert_int_equal(registry_parse_challenge("", &ch), -EINVAL);
}

/* ---- imports ---- */

static void check_busybox(struct image *img)
{
	json_t *cmd = json_object_get(img->config, "Cmd");
	json_t *env = json_object_get(img->config, "Env");
	bool path = false;
	size_t i;
	json_t *e;

	assert_int_equal(json_array_size(cmd), 1);
	assert_string_equal(json_string_value(json_array_get(cmd, 0)), "/bin/sh");
	json_array_foreach(env, i, e) path |=
	    streq(json_string_value(e), "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	assert_true(path);
	assert_string_equal(json_string_value(json_object_get(img->config, "WorkingDir")), "/");
	assert_int_equal(img->nlayers, 1);
	assert_true(digest_valid(img->diff_ids[0]));
	assert_true(digest_valid(img->id));
	assert_true(img->size > 0);
}

static void test_import_docker(void **state)
{
	struct fixture *f = *state;
	_cleanup_strv_free_ char **refs = NULL;
	_cleanup_free_ char *err = NULL;
	struct image *img = NULL, *by_id = NULL;

	assert_int_equal(image_import(f->s, G.docker_tar, &refs, &err), 0);
	assert_non_null(refs[0]);
	assert_string_equal(refs[0], "c8s.test/busybox:1");
	assert_null(refs[1]);
	assert_int_equal(image_get(f->s, "c8s.test/busybox:1", &img), 0);
	check_busybox(img);
	assert_string_equal(img->ref, "c8s.test/busybox:1");
	assert_true(startswith(img->repo_digest, "c8s.test/busybox@sha256:"));
	/* an uncompressed layer: its blob digest is its diff ID */
	_cleanup_free_ char *blob =
	    xasprintf("%s/blobs/sha256/%s", f->dir, digest_hex(img->diff_ids[0]));
	assert_true(fx_exists(blob));
	/* by image ID, with or without "sha256:" */
	assert_int_equal(image_get(f->s, img->id, &by_id), 0);
	assert_string_equal(by_id->id, img->id);
	image_free(by_id);
	assert_int_equal(image_get(f->s, digest_hex(img->id), &by_id), 0);
	image_free(by_id);
	assert_int_equal(image_get(f->s, "c8s.test/busybox:2", &by_id), -ENOENT);
	image_free(img);
}

static void test_import_oci(void **state)
{
	struct fixture *f = *state;
	_cleanup_strv_free_ char **refs = NULL, **refs2 = NULL;
	_cleanup_free_ char *err = NULL;
	struct image *img = NULL, *img2 = NULL;

	assert_int_equal(image_import(f->s, G.oci_tar, &refs, &err), 0);
	assert_non_null(refs[0]);
	/* skopeo names the image in full in org.opencontainers.image.ref.name */
	assert_string_equal(refs[0], "c8s.test/busybox:1");
	assert_int_equal(image_get(f->s, "c8s.test/busybox:1", &img), 0);
	check_busybox(img);
	_cleanup_free_ char *want = xasprintf("c8s.test/busybox@%s", G.manifest_digest);
	assert_string_equal(img->repo_digest, want);

	/* the same image as the docker-archive: same config, same diff IDs */
	assert_int_equal(image_import(f->s, G.docker_tar, &refs2, &err), 0);
	assert_int_equal(image_get(f->s, "c8s.test/busybox:1", &img2), 0);
	assert_string_equal(img->id, img2->id);
	assert_string_equal(img->diff_ids[0], img2->diff_ids[0]);
	image_free(img);
	image_free(img2);
}

static void test_import_dir(void **state)
{
	struct fixture *f = *state;
	struct image **list = NULL;
	size_t n = 0;

	assert_int_equal(fx_sh("cp %s %s/ && echo garbage > %s/broken.tar && touch %s/notes.txt",
			       G.oci_tar, f->dir, f->dir, f->dir),
			 0);
	assert_int_equal(image_import_dir(f->s, f->dir), 0); /* broken.tar is logged, skipped */
	assert_int_equal(image_list(f->s, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0]->ref, "c8s.test/busybox:1");
	image_free(list[0]);
	free(list);

	/* again, after a restart: nothing new, nothing lost */
	image_store_close(f->s);
	assert_int_equal(image_store_open(f->dir, NULL, &f->s), 0);
	assert_int_equal(image_import_dir(f->s, f->dir), 0);
	assert_int_equal(image_list(f->s, &list, &n), 0);
	assert_int_equal(n, 1);
	image_free(list[0]);
	free(list);

	/* a second store on the same directory is refused */
	struct image_store *other;
	assert_int_equal(image_store_open(f->dir, NULL, &other), -EBUSY);

	assert_int_equal(image_import_dir(f->s, "/nonexistent-c8s-dir"), 0);
}

static void test_import_bad(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *path = xasprintf("%s/x.tar", G.dir);
	const struct fx_entry v[] = { { "hello.txt", 'f', "hi" } };
	_cleanup_strv_free_ char **refs = NULL;
	_cleanup_free_ char *err = NULL;

	fx_write_tar(path, v, ARRAY_SIZE(v), FX_NONE);
	assert_int_equal(image_import(f->s, path, &refs, &err), -EINVAL);
	assert_non_null(strstr(err, "neither a docker-archive"));
	free(TAKE_PTR(err));
	assert_true(image_import(f->s, "/nonexistent.tar", &refs, &err) < 0);
	assert_non_null(err);
	/* nothing left behind */
	_cleanup_free_ char *tmp = xasprintf("%s/tmp", f->dir);
	assert_int_equal(fx_sh("test -z \"$(ls -A %s)\"", tmp), 0);
}

/* A docker-archive made by hand: layers (tar or tar.gz files) and the
 * diff IDs its config claims. With via_symlink, manifest.json names each
 * layer as "<n>/layer.tar", a symlink to "../layer<n>.tar" (as old
 * `docker save` output and skopeo's legacy directories have). */
static void make_docker_archive_links(const char *out, const char *tag, const char *const *layers,
				      const char *const *diff_ids, size_t n, bool via_symlink)
{
	_cleanup_free_ char *work = xasprintf("%s.d", out);
	json_t *ids = json_array(), *paths = json_array();

	assert_int_equal(mkdir(work, 0755), 0);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *name = xasprintf("layer%zu.tar", i);
		assert_int_equal(fx_sh("cp %s %s/%s", layers[i], work, name), 0);
		json_array_append_new(ids, json_string(diff_ids[i]));
		if (via_symlink) {
			assert_int_equal(fx_sh("mkdir %s/%zu && ln -s ../%s %s/%zu/layer.tar", work,
					       i, name, work, i),
					 0);
			json_array_append_new(paths, json_sprintf("./%zu/layer.tar", i));
		} else {
			json_array_append_new(paths, json_string(name));
		}
	}
	json_t *config =
	    json_pack("{s:s, s:s, s:{s:[s]}, s:{s:s, s:o}}", "architecture", "amd64", "os", "linux",
		      "config", "Cmd", "/bin/sh", "rootfs", "type", "layers", "diff_ids", ids);
	json_t *manifest = json_pack("[{s:s, s:[s], s:o}]", "Config", "config.json", "RepoTags",
				     tag, "Layers", paths);
	_cleanup_free_ char *cpath = xasprintf("%s/config.json", work);
	_cleanup_free_ char *mpath = xasprintf("%s/manifest.json", work);
	assert_int_equal(json_dump_file(config, cpath, JSON_COMPACT), 0);
	assert_int_equal(json_dump_file(manifest, mpath, JSON_COMPACT), 0);
	json_decref(config);
	json_decref(manifest);
	assert_int_equal(fx_sh("tar -C %s -cf %s . && rm -rf %s", work, out, work), 0);
}

static void make_docker_archive(const char *out, const char *tag, const char *const *layers,
				const char *const *diff_ids, size_t n)
{
	make_docker_archive_links(out, tag, layers, diff_ids, n, false);
}

/* Mount lowerdirs with overlayfs at dir/mnt; returns the mount point. */
static char *overlay_mount(const char *dir, char **lowerdirs)
{
	struct strbuf opts = STRBUF_INIT;
	char *mnt = xasprintf("%s/mnt", dir);
	_cleanup_free_ char *upper = xasprintf("%s/upper", dir), *work = xasprintf("%s/work", dir);

	assert_int_equal(fx_sh("mkdir -p %s %s %s", mnt, upper, work), 0);
	strbuf_addstr(&opts, "lowerdir=");
	for (char **p = lowerdirs; *p; p++)
		strbuf_addf(&opts, "%s%s", p == lowerdirs ? "" : ":", *p);
	strbuf_addf(&opts, ",upperdir=%s,workdir=%s", upper, work);
	if (mount("overlay", mnt, "overlay", 0, strbuf_str(&opts)) < 0)
		fail_msg("mount overlay %s: %s", strbuf_str(&opts), strerror(errno));
	strbuf_release(&opts);
	return mnt;
}

static void overlay_umount(const char *dir, char *mnt)
{
	assert_int_equal(umount(mnt), 0);
	free(mnt);
	_cleanup_free_ char *upper = xasprintf("%s/upper", dir), *work = xasprintf("%s/work", dir);
	fx_rm_rf(upper);
	fx_rm_rf(work);
}

/* The whole path: import, prepare, overlayfs, run busybox from it. */
static void test_prepare_busybox(void **state)
{
	struct fixture *f = *state;
	_cleanup_strv_free_ char **refs = NULL, **lower = NULL, **lower2 = NULL;
	_cleanup_free_ char *err = NULL;
	struct image *img = NULL;
	struct stat st;

	assert_int_equal(image_import(f->s, G.oci_tar, &refs, &err), 0);
	assert_int_equal(image_get(f->s, "c8s.test/busybox:1", &img), 0);
	assert_int_equal(image_prepare(f->s, img, &lower, &err), 0);
	assert_non_null(lower[0]);
	assert_null(lower[1]);
	/* a single layer: its chain ID is its diff ID */
	_cleanup_free_ char *want = xasprintf("%s/layers/%s", f->dir, digest_hex(img->diff_ids[0]));
	_cleanup_free_ char *real = realpath(want, NULL);
	assert_string_equal(lower[0], real);

	char *mnt = overlay_mount(f->dir, lower);
	_cleanup_free_ char *busybox = xasprintf("%s/bin/busybox", mnt);
	_cleanup_free_ char *sh = xasprintf("%s/bin/sh", mnt), *tmp = xasprintf("%s/tmp", mnt);
	bool ok_busybox = stat(busybox, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
	bool ok_sh = lstat(sh, &st) == 0 && S_ISLNK(st.st_mode);
	bool ok_tmp = stat(tmp, &st) == 0 && (st.st_mode & 07777) == 01777;
	int rc = fx_sh(
	    "chroot %s /bin/sh -c 'test \"$(echo hi)\" = hi && grep -q ^root: /etc/passwd'", mnt);
	overlay_umount(f->dir, mnt);
	assert_true(ok_busybox);
	assert_true(ok_sh);
	assert_true(ok_tmp);
	assert_int_equal(rc, 0);

	/* prepared once: a second call finds the directory */
	assert_int_equal(image_prepare(f->s, img, &lower2, &err), 0);
	assert_string_equal(lower2[0], lower[0]);
	image_free(img);
}

/* Two layers through overlayfs: the top one's whiteouts hide the bottom's
 * files; the order is top first. */
static void test_prepare_whiteouts(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *l1 = xasprintf("%s/l1.tar", f->dir),
			    *l2 = xasprintf("%s/l2.tar.gz", f->dir);
	_cleanup_free_ char *l2u = xasprintf("%s/l2.tar", f->dir),
			    *out = xasprintf("%s/a.tar", f->dir);
	const struct fx_entry bottom[] = {
		{ "etc/hosts", 'f', "bottom" },
		{ "etc/passwd", 'f', "root" },
		{ "d/a", 'f', "a" },
		{ "both", 'f', "bottom" },
	};
	const struct fx_entry top[] = {
		{ "etc/.wh.hosts", 'f', "" }, { "d/", 'd' },	      { "d/.wh..wh..opq", 'f', "" },
		{ "d/b", 'f', "b" },	      { "both", 'f', "top" },
	};
	char d1[DIGEST_BUF_LEN], d2[DIGEST_BUF_LEN];
	_cleanup_strv_free_ char **refs = NULL, **lower = NULL;
	_cleanup_free_ char *err = NULL;
	struct image *img = NULL;

	fx_write_tar(l1, bottom, ARRAY_SIZE(bottom), FX_NONE);
	fx_write_tar(l2u, top, ARRAY_SIZE(top), FX_NONE);
	fx_write_tar(l2, top, ARRAY_SIZE(top), FX_GZIP);
	fx_file_digest(l1, d1);
	fx_file_digest(l2u, d2);
	const char *layers[] = { l1, l2 }, *ids[] = { d1, d2 };
	make_docker_archive_links(out, "local/two:1", layers, ids, 2, true);

	assert_int_equal(image_import(f->s, out, &refs, &err), 0);
	assert_string_equal(refs[0], "docker.io/local/two:1");
	assert_int_equal(image_get(f->s, "local/two:1", &img), 0);
	assert_int_equal(img->nlayers, 2);
	assert_int_equal(image_prepare(f->s, img, &lower, &err), 0);
	char chains[2][DIGEST_BUF_LEN];
	digest_chain_ids(img->diff_ids, 2, chains);
	assert_non_null(strstr(lower[0], digest_hex(chains[1])));
	assert_non_null(strstr(lower[1], digest_hex(chains[0])));
	assert_null(lower[2]);

	char *mnt = overlay_mount(f->dir, lower);
	_cleanup_free_ char *hosts = xasprintf("%s/etc/hosts", mnt),
			    *pw = xasprintf("%s/etc/passwd", mnt);
	_cleanup_free_ char *a = xasprintf("%s/d/a", mnt), *b = xasprintf("%s/d/b", mnt);
	_cleanup_free_ char *both = xasprintf("%s/both", mnt);
	bool ok_hosts = !fx_exists(hosts), ok_pw = fx_exists(pw), ok_a = !fx_exists(a),
	     ok_b = fx_exists(b);
	_cleanup_free_ char *both_content = fx_read(both, NULL);
	overlay_umount(f->dir, mnt);
	assert_true(ok_hosts);
	assert_true(ok_pw);
	assert_true(ok_a);
	assert_true(ok_b);
	assert_string_equal(both_content, "top");
	image_free(img);
}

/* A layer whose content is not what the config says is never unpacked
 * under the chain ID it claims (it would poison other images). */
static void test_prepare_diff_id_mismatch(void **state)
{
	struct fixture *f = *state;
	_cleanup_free_ char *l = xasprintf("%s/l.tar.gz", f->dir),
			    *out = xasprintf("%s/a.tar", f->dir);
	_cleanup_free_ char *lu = xasprintf("%s/l.tar", f->dir),
			    *out2 = xasprintf("%s/b.tar", f->dir);
	const struct fx_entry v[] = { { "evil", 'f', "x" } };
	const char *claimed =
	    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	_cleanup_strv_free_ char **refs = NULL, **lower = NULL;
	_cleanup_free_ char *err = NULL;
	struct image *img = NULL;

	/* compressed: found out when unpacking */
	fx_write_tar(l, v, ARRAY_SIZE(v), FX_GZIP);
	const char *layers[] = { l }, *ids[] = { claimed };
	make_docker_archive(out, "local/evil:1", layers, ids, 1);
	assert_int_equal(image_import(f->s, out, &refs, &err), 0);
	assert_int_equal(image_get(f->s, "local/evil:1", &img), 0);
	assert_int_equal(image_prepare(f->s, img, &lower, &err), -EBADMSG);
	assert_non_null(strstr(err, "the image config says"));
	_cleanup_free_ char *layer_dir = xasprintf("%s/layers/%s", f->dir, digest_hex(claimed));
	assert_false(fx_exists(layer_dir));
	_cleanup_free_ char *layers_dir = xasprintf("%s/layers", f->dir);
	assert_int_equal(fx_sh("test -z \"$(ls -A %s)\"", layers_dir), 0);
	image_free(img);
	free(TAKE_PTR(err));

	/* uncompressed: found out when importing */
	fx_write_tar(lu, v, ARRAY_SIZE(v), FX_NONE);
	const char *layers2[] = { lu };
	make_docker_archive(out2, "local/evil:2", layers2, ids, 1);
	strv_freep(&refs);
	refs = NULL;
	assert_int_equal(image_import(f->s, out2, &refs, &err), -EBADMSG);
	assert_non_null(strstr(err, "the config says"));
}

struct prep {
	struct image_store *s;
	struct image *img;
	int r;
	char **lower;
};

static void *prepare_thread(void *arg)
{
	struct prep *p = arg;
	_cleanup_free_ char *err = NULL;

	p->r = image_prepare(p->s, p->img, &p->lower, &err);
	return NULL;
}

static void test_prepare_concurrent(void **state)
{
	struct fixture *f = *state;
	_cleanup_strv_free_ char **refs = NULL;
	_cleanup_free_ char *err = NULL;
	struct image *img = NULL;
	struct prep p[4];
	pthread_t t[4];

	assert_int_equal(image_import(f->s, G.docker_tar, &refs, &err), 0);
	assert_int_equal(image_get(f->s, "c8s.test/busybox:1", &img), 0);
	for (int i = 0; i < 4; i++) {
		p[i] = (struct prep){ .s = f->s, .img = img };
		assert_int_equal(pthread_create(&t[i], NULL, prepare_thread, &p[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(p[i].r, 0);
		assert_string_equal(p[i].lower[0], p[0].lower[0]);
	}
	for (int i = 0; i < 4; i++)
		strv_freep(&p[i].lower);
	_cleanup_free_ char *layers_dir = xasprintf("%s/layers", f->dir);
	assert_int_equal(fx_sh("test $(ls -A %s | wc -l) = 1", layers_dir), 0);
	image_free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test_setup_teardown(test_import_docker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_oci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_bad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_busybox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_whiteouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_diff_id_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_concurrent, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
