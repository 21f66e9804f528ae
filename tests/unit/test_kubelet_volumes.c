/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod volumes, container mounts and /etc files (src/kubelet/volumes.h), in a
 * temporary directory. Runs as root in a private mount namespace (made at
 * start), so whatever a failure leaves mounted goes away with the process.
 */
#include "unit.h"

#include <fcntl.h>
#include <jansson.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "kubelet/rootfs.h"
#include "kubelet/volumes.h"
#include "lib/json.h"
#include "runtime/fsutil.h"

static char tmp[256];
static json_t *objs; /* {"configmaps": {"ns/name": obj}, "secrets": {...}} */

static json_t *fake_get(void *ud, const char *resource, const char *ns, const char *name,
			char **ret_err)
{
	_cleanup_free_ char *key = xasprintf("%s/%s", ns, name);
	json_t *o = json_object_get(json_object_get(objs, resource), key);
	if (!o) {
		*ret_err = xasprintf("%s \"%s\" not found",
				     streq(resource, "secrets") ? "secret" : "configmap", name);
		return NULL;
	}
	return json_incref(o);
}

static const struct kubelet_lookup lk = { .ud = NULL, .get = fake_get };

static int setup(void **state)
{
	if (geteuid() != 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "/tmp/c8s-test-vol-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	objs = json_pack("{s:{s:{s:{s:s, s:s}}}, s:{s:{s:{s:s}}}}", "configmaps", "ns1/cfg", "data",
			 "color", "blue", "size", "10", "secrets", "ns1/sec", "data", "password",
			 "czNjcjN0");
	return 0;
}

static int teardown(void **state)
{
	if (geteuid() != 0)
		return 0;
	json_decref(objs);
	_cleanup_free_ char *cmd = xasprintf("umount -R %s 2>/dev/null; rm -rf %s", tmp, tmp);
	(void)!system(cmd);
	return 0;
}

#define SKIP_UNLESS_ROOT()            \
	do {                          \
		if (geteuid() != 0) { \
			skip();       \
			return;       \
		}                     \
	} while (0)

static char *pod_dir(const char *name)
{
	char *d = xasprintf("%s/%s", tmp, name);
	assert_int_equal(rt_mkdir_p(d, 0750), 0);
	return d;
}

static json_t *make_pod(json_t *volumes, json_t *container)
{
	return json_pack("{s:{s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s}}, s:{s:o, s:[o]}}", "metadata",
			 "name", "p1", "namespace", "ns1", "uid", "u1", "labels", "app", "web",
			 "tier", "a\"b", "annotations", "note", "x", "spec", "volumes", volumes,
			 "containers", container ? container : json_pack("{s:s}", "name", "c"));
}

static char *slurp(const char *path)
{
	char *s = NULL;
	if (rt_read_file(path, &s, NULL) < 0)
		return NULL;
	return s;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

/* A mount's root, bind mounts included (st_dev cannot tell those). */
static bool is_mountpoint(const char *path)
{
	struct statx sx;
	assert_int_equal(statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx), 0);
	assert_true(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT);
	return sx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
}

static void test_empty_dir(void **state)
{
	SKIP_UNLESS_ROOT();
	_cleanup_free_ char *pd = pod_dir("empty");
	_cleanup_json_ json_t *pod =
	    make_pod(json_pack("[{s:s, s:{}}, {s:s, s:{s:s, s:s}}]", "name", "scratch", "emptyDir",
			       "name", "mem", "emptyDir", "medium", "Memory", "sizeLimit", "1Mi"),
		     NULL);
	_cleanup_free_ char *err = NULL;
	for (int i = 0; i < 2; i++) /* idempotent */
		assert_int_equal(pod_volumes_setup(pd, pod, "10.0.0.5", &lk, &err), 0);
	_cleanup_free_ char *scratch = xasprintf("%s/volumes/scratch", pd);
	_cleanup_free_ char *mem = xasprintf("%s/volumes/mem", pd);
	assert_int_equal(mode_of(scratch), 0777);
	assert_true(is_mountpoint(mem));
	struct statfs sfs;
	assert_int_equal(statfs(mem, &sfs), 0);
	assert_true(sfs.f_type == TMPFS_MAGIC);
	assert_int_equal((int64_t)sfs.f_blocks * sfs.f_bsize, 1024 * 1024);
	/* mounted once, not stacked: one unmount leaves no mount */
	assert_int_equal(umount2(mem, 0), 0);
	assert_false(is_mountpoint(mem));
	assert_int_equal(pod_volumes_setup(pd, pod, "10.0.0.5", &lk, &err), 0);
	assert_true(is_mountpoint(mem));

	_cleanup_json_ json_t *bad = make_pod(
	    json_pack("[{s:s, s:{s:s}}]", "name", "h", "emptyDir", "medium", "HugePages"), NULL);
	_cleanup_free_ char *err2 = NULL;
	assert_true(pod_volumes_setup(pd, bad, NULL, &lk, &err2) < 0);
	assert_non_null(strstr(err2, "HugePages"));

	assert_int_equal(pod_volumes_teardown(pd), 0);
	assert_int_equal(access(mem, F_OK), -1);
	_cleanup_free_ char *vdir = xasprintf("%s/volumes", pd);
	assert_int_equal(access(vdir, F_OK), -1);
}

static void test_config_map(void **state)
{
	SKIP_UNLESS_ROOT();
	_cleanup_free_ char *pd = pod_dir("cm");
	_cleanup_json_ json_t *pod = make_pod(
	    json_pack("[{s:s, s:{s:s}}, {s:s, s:{s:s, s:i, s:[{s:s, s:s, s:i}, {s:s, s:s}]}},"
		      " {s:s, s:{s:s, s:i}}]",
		      "name", "all", "configMap", "name", "cfg", /* */
		      "name", "some", "configMap", "name", "cfg", "defaultMode", 0400, "items",
		      "key", "color", "path", "sub/dir/c.txt", "mode", 0600, "key", "size", "path",
		      "s", /* */
		      "name", "sec", "secret", "secretName", "sec", "defaultMode", 0440),
	    NULL);
	_cleanup_free_ char *err = NULL;
	assert_int_equal(pod_volumes_setup(pd, pod, NULL, &lk, &err), 0);

	_cleanup_free_ char *color = xasprintf("%s/volumes/all/color", pd);
	_cleanup_free_ char *v = slurp(color);
	assert_string_equal(v, "blue");
	assert_int_equal(mode_of(color), 0644);
	char link[256] = "";
	assert_true(readlink(color, link, sizeof(link) - 1) > 0);
	assert_string_equal(link, "..data/color");
	_cleanup_free_ char *data = xasprintf("%s/volumes/all/..data", pd);
	ssize_t n = readlink(data, link, sizeof(link) - 1);
	assert_true(n > 2);
	link[n] = 0;
	assert_true(startswith(link, ".."));
	_cleanup_free_ char *first_ts = xstrdup(link);

	_cleanup_free_ char *c = xasprintf("%s/volumes/some/sub/dir/c.txt", pd);
	_cleanup_free_ char *s = xasprintf("%s/volumes/some/s", pd);
	_cleanup_free_ char *notthere = xasprintf("%s/volumes/some/color", pd);
	_cleanup_free_ char *cv = slurp(c);
	assert_string_equal(cv, "blue");
	assert_int_equal(mode_of(c), 0600);
	assert_int_equal(mode_of(s), 0400);
	assert_int_equal(access(notthere, F_OK), -1);

	_cleanup_free_ char *pw = xasprintf("%s/volumes/sec/password", pd);
	_cleanup_free_ char *pv = slurp(pw);
	assert_string_equal(pv, "s3cr3t");
	assert_int_equal(mode_of(pw), 0440);
	/* secrets are kept in memory only */
	_cleanup_free_ char *secdir = xasprintf("%s/volumes/sec", pd);
	struct statfs sfs;
	assert_int_equal(statfs(secdir, &sfs), 0);
	assert_true(sfs.f_type == TMPFS_MAGIC);

	/* unchanged: nothing rewritten */
	assert_int_equal(pod_volumes_setup(pd, pod, NULL, &lk, &err), 0);
	n = readlink(data, link, sizeof(link) - 1);
	link[n] = 0;
	assert_string_equal(link, first_ts);

	/* a planted "..x" symlink to a directory elsewhere is not followed */
	_cleanup_free_ char *precious = xasprintf("%s/precious", tmp);
	_cleanup_free_ char *pfile = xasprintf("%s/precious/keep", tmp);
	_cleanup_free_ char *plant = xasprintf("%s/volumes/all/..2000_01_01", pd);
	assert_int_equal(rt_mkdir_p(precious, 0755), 0);
	assert_int_equal(rt_write_file(pfile, "k", 1, 0644), 0);
	assert_int_equal(symlink(precious, plant), 0);

	/* an update swaps ..data; a removed key's link goes; the old dir goes */
	json_t *cm = json_object_get(
	    json_object_get(json_object_get(objs, "configmaps"), "ns1/cfg"), "data");
	json_object_set_new(cm, "color", json_string("red"));
	json_object_del(cm, "size");
	json_object_set_new(cm, "new", json_string("n"));
	/* "some" now misses the key "size": refused (after "all" was updated) */
	_cleanup_free_ char *err2 = NULL;
	assert_int_equal(pod_volumes_setup(pd, pod, NULL, &lk, &err2), -ENOENT);
	assert_non_null(strstr(err2, "configmap references non-existent config key: size"));
	assert_non_null(strstr(err2, "volume \"some\""));
	free(v);
	v = slurp(color);
	assert_string_equal(v, "red");
	_cleanup_free_ char *size = xasprintf("%s/volumes/all/size", pd);
	_cleanup_free_ char *newk = xasprintf("%s/volumes/all/new", pd);
	assert_int_equal(access(size, F_OK), -1);
	_cleanup_free_ char *nv = slurp(newk);
	assert_string_equal(nv, "n");
	n = readlink(data, link, sizeof(link) - 1);
	link[n] = 0;
	assert_string_not_equal(link, first_ts);
	_cleanup_free_ char *old = xasprintf("%s/volumes/all/%s", pd, first_ts);
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(access(pfile, F_OK), 0);
	json_object_set_new(cm, "size", json_string("10"));
	json_object_set_new(cm, "color", json_string("blue"));
	json_object_del(cm, "new");

	assert_int_equal(pod_volumes_teardown(pd), 0);
}

static void expect_setup_error(const char *dir, json_t *volumes, int r, const char *msg)
{
	_cleanup_free_ char *pd = pod_dir(dir);
	_cleanup_json_ json_t *pod = make_pod(volumes, NULL);
	_cleanup_free_ char *err = NULL;
	assert_int_equal(pod_volumes_setup(pd, pod, NULL, &lk, &err), r);
	assert_non_null(err);
	if (!strstr(err, msg))
		fail_msg("error \"%s\" lacks \"%s\"", err, msg);
	assert_int_equal(pod_volumes_teardown(pd), 0);
}

static void test_config_map_errors(void **state)
{
	SKIP_UNLESS_ROOT();
	expect_setup_error("e1",
			   json_pack("[{s:s, s:{s:s}}]", "name", "v", "configMap", "name", "nope"),
			   -ENOENT, "configmap \"nope\" not found");
	expect_setup_error(
	    "e2", json_pack("[{s:s, s:{s:s}}]", "name", "v", "secret", "secretName", "nope"),
	    -ENOENT, "secret \"nope\" not found");
	const char *bad_paths[] = { "../escape", "a/../../b", "/abs", "..hidden", "a/.." };
	for (size_t i = 0; i < ARRAY_SIZE(bad_paths); i++) {
		_cleanup_free_ char *d = xasprintf("ep%zu", i);
		expect_setup_error(d,
				   json_pack("[{s:s, s:{s:s, s:[{s:s, s:s}]}}]", "name", "v",
					     "configMap", "name", "cfg", "items", "key", "color",
					     "path", bad_paths[i]),
				   -EINVAL, "invalid path");
		/* nothing was written outside */
		_cleanup_free_ char *esc = xasprintf("%s/%s/volumes/escape", tmp, d);
		assert_int_equal(access(esc, F_OK), -1);
	}
	expect_setup_error("em",
			   json_pack("[{s:s, s:{s:s, s:i}}]", "name", "v", "configMap", "name",
				     "cfg", "defaultMode", 01000),
			   -EINVAL, "defaultMode");
	expect_setup_error("en",
			   json_pack("[{s:s, s:{s:s}}]", "name", "../x", "emptyDir", "medium", ""),
			   -EINVAL, "invalid volume name");
	expect_setup_error("eu", json_pack("[{s:s, s:{s:s}}]", "name", "v", "nfs", "server", "x"),
			   -EOPNOTSUPP, "unsupported volume type");

	/* optional and missing: an empty volume */
	_cleanup_free_ char *pd = pod_dir("opt");
	_cleanup_json_ json_t *pod = make_pod(
	    json_pack("[{s:s, s:{s:s, s:b}}, {s:s, s:{s:s, s:b, s:[{s:s, s:s}]}}]", "name", "v",
		      "configMap", "name", "nope", "optional", 1, "name", "w", "configMap", "name",
		      "cfg", "optional", 1, "items", "key", "nokey", "path", "k"),
	    NULL);
	_cleanup_free_ char *err = NULL;
	assert_int_equal(pod_volumes_setup(pd, pod, NULL, &lk, &err), 0);
	_cleanup_free_ char *data = xasprintf("%s/volumes/v/..data", pd);
	_cleanup_free_ char *k = xasprintf("%s/volumes/w/k", pd);
	assert_int_equal(access(data, F_OK), 0);
	assert_int_equal(access(k, F_OK), -1);
	assert_int_equal(pod_volumes_teardown(pd), 0);
}

static void test_downward_api(void **state)
{
	SKIP_UNLESS_ROOT();
	_cleanup_free_ char *pd = pod_dir("dapi");
	_cleanup_json_ json_t *pod = make_pod(
	    json_pack("[{s:s, s:{s:[{s:s, s:{s:s}}, {s:s, s:{s:s}, s:i}, {s:s, s:{s:s}},"
		      " {s:s, s:{s:s, s:s, s:s}}]}}]",
		      "name", "info", "downwardAPI", "items",			    /* */
		      "path", "labels", "fieldRef", "fieldPath", "metadata.labels", /* */
		      "path", "name", "fieldRef", "fieldPath", "metadata.name", "mode", 0600,
		      "path", "ip", "fieldRef", "fieldPath", "status.podIP", /* */
		      "path", "mem", "resourceFieldRef", "containerName", "c", "resource",
		      "limits.memory", "divisor", "1Mi"),
	    json_pack("{s:s, s:{s:{s:s}}}", "name", "c", "resources", "limits", "memory", "64Mi"));
	_cleanup_free_ char *err = NULL;
	assert_int_equal(pod_volumes_setup(pd, pod, "10.0.0.5", &lk, &err), 0);
	const char *want[][2] = {
		{ "labels", "app=\"web\"\ntier=\"a\\\"b\"" },
		{ "name", "p1" },
		{ "ip", "10.0.0.5" },
		{ "mem", "64" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		_cleanup_free_ char *p = xasprintf("%s/volumes/info/%s", pd, want[i][0]);
		_cleanup_free_ char *v = slurp(p);
		assert_non_null(v);
		assert_string_equal(v, want[i][1]);
	}
	_cleanup_free_ char *name = xasprintf("%s/volumes/info/name", pd);
	assert_int_equal(mode_of(name), 0600);
	assert_int_equal(pod_volumes_teardown(pd), 0);
}

static void test_host_path(void **state)
{
	SKIP_UNLESS_ROOT();
	_cleanup_free_ char *missing = xasprintf("%s/host-missing", tmp);
	_cleanup_free_ char *file = xasprintf("%s/host-file", tmp);
	_cleanup_free_ char *mkdir_me = xasprintf("%s/host-new-dir", tmp);
	_cleanup_free_ char *touch_me = xasprintf("%s/host-new-file", tmp);
	assert_int_equal(rt_write_file(file, "x", 1, 0644), 0);

	_cleanup_free_ char *m1 = xasprintf("hostPath \"%s\" does not exist", missing);
	expect_setup_error("h1",
			   json_pack("[{s:s, s:{s:s}}]", "name", "v", "hostPath", "path", missing),
			   -ENOENT, m1);
	expect_setup_error("h2",
			   json_pack("[{s:s, s:{s:s, s:s}}]", "name", "v", "hostPath", "path",
				     missing, "type", "Directory"),
			   -ENOENT, "does not exist");
	expect_setup_error("h3",
			   json_pack("[{s:s, s:{s:s, s:s}}]", "name", "v", "hostPath", "path", file,
				     "type", "Directory"),
			   -EINVAL, "is not a directory");
	expect_setup_error("h4",
			   json_pack("[{s:s, s:{s:s, s:s}}]", "name", "v", "hostPath", "path", tmp,
				     "type", "Socket"),
			   -EINVAL, "is not a socket");
	expect_setup_error("h5",
			   json_pack("[{s:s, s:{s:s}}]", "name", "v", "hostPath", "path", "rel/x"),
			   -EINVAL, "absolute");
	assert_int_equal(access(missing, F_OK), -1);

	_cleanup_free_ char *pd = pod_dir("hp");
	_cleanup_json_ json_t *pod = make_pod(
	    json_pack(
		"[{s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}, {s:s, s:{s:s, s:s}}, {s:s, s:{s:s}}]",
		"name", "a", "hostPath", "path", mkdir_me, "type", "DirectoryOrCreate", "name", "b",
		"hostPath", "path", touch_me, "type", "FileOrCreate", "name", "c", "hostPath",
		"path", file, "type", "File", "name", "d", "hostPath", "path", tmp),
	    NULL);
	_cleanup_free_ char *err = NULL;
	assert_int_equal(pod_volumes_setup(pd, pod, NULL, &lk, &err), 0);
	struct stat st;
	assert_int_equal(stat(mkdir_me, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(stat(touch_me, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	/* nothing made under volumes/ for a hostPath, and teardown keeps the host's */
	_cleanup_free_ char *va = xasprintf("%s/volumes/a", pd);
	assert_int_equal(access(va, F_OK), -1);
	assert_int_equal(pod_volumes_teardown(pd), 0);
	assert_int_equal(access(file, F_OK), 0);
	assert_int_equal(access(mkdir_me, F_OK), 0);
}

static json_t *find_mount(json_t *mounts, const char *dst)
{
	size_t i;
	json_t *m;
	json_array_foreach(
	    mounts, i,
	    m) if (streq_ptr(json_string_value(json_object_get(m, "destination")), dst)) return m;
	return NULL;
}

static bool has_option(json_t *m, const char *opt)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(m, "options"), i,
			   o) if (streq_ptr(json_string_value(o), opt)) return true;
	return false;
}

static void test_container_mounts(void **state)
{
	SKIP_UNLESS_ROOT();
	_cleanup_free_ char *pd = pod_dir("mounts");
	_cleanup_free_ char *host = xasprintf("%s/host-data", tmp);
	_cleanup_free_ char *hostsub = xasprintf("%s/host-data/inner", tmp);
	assert_int_equal(rt_mkdir_p(hostsub, 0755), 0);
	_cleanup_free_ char *hostfile = xasprintf("%s/host-data/inner/f", tmp);
	assert_int_equal(rt_write_file(hostfile, "hello", 5, 0644), 0);

	json_t *ctr = json_pack(
	    "{s:s, s:[{s:s, s:s}], s:[{s:s, s:s, s:b}, {s:s, s:s}, {s:s, s:s, s:s},"
	    " {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]}",
	    "name", "c", "env", "name", "POD", "value", "mypod", "volumeMounts",      /* */
	    "name", "cfg", "mountPath", "/etc/cfg", "readOnly", 1,		      /* */
	    "name", "scratch", "mountPath", "/data",				      /* */
	    "name", "scratch", "mountPath", "/data/sub", "subPath", "made/here",      /* */
	    "name", "host", "mountPath", "/inner", "subPath", "inner",		      /* */
	    "name", "scratch", "mountPath", "/per-pod", "subPathExpr", "logs/$(POD)", /* */
	    "name", "cfg", "mountPath", "/one-key", "subPath", "color");
	_cleanup_json_ json_t *pod =
	    make_pod(json_pack("[{s:s, s:{}}, {s:s, s:{s:s}}, {s:s, s:{s:s}}]", "name", "scratch",
			       "emptyDir", "name", "cfg", "configMap", "name", "cfg", "name",
			       "host", "hostPath", "path", host),
		     ctr);
	_cleanup_free_ char *err = NULL;
	assert_int_equal(
	    pod_write_etc_files(pd, pod, "10.0.0.5", "10.96.0.10", "cluster.local", &err), 0);
	assert_int_equal(pod_volumes_setup(pd, pod, "10.0.0.5", &lk, &err), 0);
	_cleanup_json_ json_t *mounts = NULL;
	assert_int_equal(container_mounts(pd, pod, ctr, &mounts, &err), 0);
	assert_null(err);

	const char *defaults[] = { "/proc",
				   "/dev",
				   "/dev/pts",
				   "/dev/mqueue",
				   "/sys",
				   "/dev/shm",
				   "/etc/hosts",
				   "/etc/hostname",
				   "/etc/resolv.conf",
				   "/dev/termination-log" };
	for (size_t i = 0; i < ARRAY_SIZE(defaults); i++)
		if (!find_mount(mounts, defaults[i]))
			fail_msg("no mount at %s", defaults[i]);
	assert_true(has_option(find_mount(mounts, "/sys"), "ro"));
	json_t *hosts = find_mount(mounts, "/etc/hosts");
	_cleanup_free_ char *hosts_src = xasprintf("%s/etc-hosts", pd);
	assert_string_equal(json_string_value(json_object_get(hosts, "source")), hosts_src);
	_cleanup_free_ char *tl = xasprintf("%s/containers/c/termination-log", pd);
	assert_string_equal(json_string_value(json_object_get(
				find_mount(mounts, "/dev/termination-log"), "source")),
			    tl);
	assert_int_equal(access(tl, F_OK), 0);

	json_t *cfg = find_mount(mounts, "/etc/cfg");
	_cleanup_free_ char *cfg_src = xasprintf("%s/volumes/cfg", pd);
	assert_string_equal(json_string_value(json_object_get(cfg, "source")), cfg_src);
	assert_true(has_option(cfg, "ro"));
	assert_true(has_option(find_mount(mounts, "/data"), "rw"));
	/* configMap volumes are read-only even when the pod does not ask */
	assert_true(has_option(find_mount(mounts, "/one-key"), "ro"));

	/* a missing subPath directory is made inside the volume, and bound */
	_cleanup_free_ char *made = xasprintf("%s/volumes/scratch/made/here", pd);
	struct stat st;
	assert_int_equal(stat(made, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	const char *sub_src =
	    json_string_value(json_object_get(find_mount(mounts, "/data/sub"), "source"));
	assert_true(startswith(sub_src, pd));
	assert_non_null(strstr(sub_src, "/volume-subpaths/scratch/c/"));
	assert_true(is_mountpoint(sub_src));
	struct stat st2;
	assert_int_equal(stat(sub_src, &st2), 0);
	assert_true(st.st_ino == st2.st_ino && st.st_dev == st2.st_dev);

	/* hostPath subPath; the bind shows the host's file */
	const char *in_src =
	    json_string_value(json_object_get(find_mount(mounts, "/inner"), "source"));
	_cleanup_free_ char *f = xasprintf("%s/f", in_src);
	_cleanup_free_ char *fv = slurp(f);
	assert_string_equal(fv, "hello");

	/* subPathExpr with the container's env */
	_cleanup_free_ char *logs = xasprintf("%s/volumes/scratch/logs/mypod", pd);
	assert_int_equal(access(logs, F_OK), 0);

	/* subPath to one key of a configMap: a file bind */
	const char *key_src =
	    json_string_value(json_object_get(find_mount(mounts, "/one-key"), "source"));
	_cleanup_free_ char *kv = slurp(key_src);
	assert_string_equal(kv, "blue");

	/* parents before children */
	size_t i_data = 0, i_sub = 0, i;
	json_t *m;
	json_array_foreach(mounts, i, m)
	{
		const char *d = json_string_value(json_object_get(m, "destination"));
		if (streq(d, "/data"))
			i_data = i;
		if (streq(d, "/data/sub"))
			i_sub = i;
	}
	assert_true(i_data < i_sub);

	/* again (a container restart): same result, no stacked mounts */
	_cleanup_json_ json_t *mounts2 = NULL;
	assert_int_equal(container_mounts(pd, pod, ctr, &mounts2, &err), 0);
	assert_true(json_equal(mounts, mounts2));
	assert_int_equal(umount2(sub_src, 0), 0);
	assert_false(is_mountpoint(sub_src));
	json_decref(TAKE_PTR(mounts2));
	assert_int_equal(container_mounts(pd, pod, ctr, &mounts2, &err), 0);
	assert_true(is_mountpoint(sub_src));

	/* teardown unmounts the binds and the shm, keeps the host's data */
	assert_int_equal(pod_volumes_teardown(pd), 0);
	assert_int_equal(access(hostfile, F_OK), 0);
	_cleanup_free_ char *vs = xasprintf("%s/volume-subpaths", pd);
	assert_int_equal(access(vs, F_OK), -1);
}

static void expect_mount_error(const char *dir, json_t *volumes, json_t *vm, int r, const char *msg)
{
	_cleanup_free_ char *pd = pod_dir(dir);
	json_t *ctr = json_pack("{s:s, s:[o]}", "name", "c", "volumeMounts", vm);
	_cleanup_json_ json_t *pod = make_pod(volumes, ctr);
	_cleanup_free_ char *err = NULL;
	assert_int_equal(pod_volumes_setup(pd, pod, NULL, &lk, &err), 0);
	_cleanup_json_ json_t *mounts = NULL;
	assert_int_equal(container_mounts(pd, pod, ctr, &mounts, &err), r);
	assert_null(mounts);
	if (!err || !strstr(err, msg))
		fail_msg("error \"%s\" lacks \"%s\"", err ? err : "(null)", msg);
	assert_int_equal(pod_volumes_teardown(pd), 0);
}

static void test_subpath_escapes(void **state)
{
	SKIP_UNLESS_ROOT();
	const char *bad[] = { "..", "../x", "a/../../x", "/etc" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *d = xasprintf("sp%zu", i);
		expect_mount_error(
		    d, json_pack("[{s:s, s:{}}]", "name", "v", "emptyDir"),
		    json_pack("{s:s, s:s, s:s}", "name", "v", "mountPath", "/m", "subPath", bad[i]),
		    -EPERM, "subPath");
	}
	/* $(VAR) expanding to ".." is checked after expansion */
	expect_mount_error("spx", json_pack("[{s:s, s:{}}]", "name", "v", "emptyDir"),
			   json_pack("{s:s, s:s, s:s}", "name", "v", "mountPath", "/m",
				     "subPathExpr", "$(NOPE)/../.."),
			   -EPERM, "must not contain '..'");

	/* symlinks in the volume leading out of it (made by a container, say) */
	const char *targets[] = { "/", "../../../..", "/etc/passwd", "ok/../../../.." };
	for (size_t i = 0; i < ARRAY_SIZE(targets); i++) {
		_cleanup_free_ char *d = xasprintf("sl%zu", i);
		_cleanup_free_ char *host = xasprintf("%s/sl-host%zu", tmp, i);
		_cleanup_free_ char *ok = xasprintf("%s/ok", host);
		_cleanup_free_ char *link = xasprintf("%s/evil", host);
		assert_int_equal(rt_mkdir_p(ok, 0755), 0);
		assert_int_equal(symlink(targets[i], link), 0);
		_cleanup_free_ char *sub = xstrdup(i % 2 ? "evil/etc" : "evil");
		expect_mount_error(
		    d, json_pack("[{s:s, s:{s:s}}]", "name", "v", "hostPath", "path", host),
		    json_pack("{s:s, s:s, s:s}", "name", "v", "mountPath", "/m", "subPath", sub),
		    -EPERM, "escapes the volume");
		/* nothing was created outside through the link */
		if (i == 1) {
			_cleanup_free_ char *esc = xasprintf("%s/../../../../etc", host);
			(void)esc;
		}
	}
	/* a symlink that stays inside is fine */
	_cleanup_free_ char *pd = pod_dir("slok");
	_cleanup_free_ char *host = xasprintf("%s/slok-host", tmp);
	_cleanup_free_ char *real = xasprintf("%s/real", host);
	_cleanup_free_ char *link = xasprintf("%s/alias", host);
	assert_int_equal(rt_mkdir_p(real, 0755), 0);
	assert_int_equal(symlink("real", link), 0);
	json_t *ctr = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "name", "c", "volumeMounts", "name",
				"v", "mountPath", "/m", "subPath", "alias");
	_cleanup_json_ json_t *pod =
	    make_pod(json_pack("[{s:s, s:{s:s}}]", "name", "v", "hostPath", "path", host), ctr);
	_cleanup_free_ char *err = NULL;
	_cleanup_json_ json_t *mounts = NULL;
	assert_int_equal(pod_volumes_setup(pd, pod, NULL, &lk, &err), 0);
	assert_int_equal(container_mounts(pd, pod, ctr, &mounts, &err), 0);
	assert_int_equal(pod_volumes_teardown(pd), 0);

	/* a mount of a volume the pod does not have */
	expect_mount_error("nov", json_pack("[]"),
			   json_pack("{s:s, s:s}", "name", "ghost", "mountPath", "/m"), -ENOENT,
			   "cannot find volume \"ghost\" to mount into container \"c\"");
}

static void test_etc_files(void **state)
{
	SKIP_UNLESS_ROOT();
	_cleanup_free_ char *pd = pod_dir("etc");
	_cleanup_json_ json_t *pod =
	    json_pack("{s:{s:s, s:s}, s:{s:s, s:s, s:[{s:s, s:[s, s]}], s:{s:[s], s:[s], s:[{s:s, "
		      "s:s}, {s:s}]}}}",
		      "metadata", "name", "web-0", "namespace", "prod", "spec", "hostname", "web-0",
		      "subdomain", "web", "hostAliases", "ip", "1.2.3.4", "hostnames", "foo.local",
		      "bar", "dnsConfig", "nameservers", "10.0.0.53", "searches", "my.dns.search",
		      "options", "name", "ndots", "value", "2", "name", "edns0");
	_cleanup_free_ char *err = NULL;
	assert_int_equal(
	    pod_write_etc_files(pd, pod, "10.0.0.5", "10.96.0.10", "cluster.local", &err), 0);
	_cleanup_free_ char *hp = xasprintf("%s/etc-hosts", pd);
	_cleanup_free_ char *rp = xasprintf("%s/etc-resolv.conf", pd);
	_cleanup_free_ char *np = xasprintf("%s/etc-hostname", pd);
	_cleanup_free_ char *hosts = slurp(hp), *resolv = slurp(rp), *hn = slurp(np);
	assert_non_null(strstr(hosts, "127.0.0.1\tlocalhost\n"));
	assert_non_null(strstr(hosts, "10.0.0.5\tweb-0.web.prod.svc.cluster.local\tweb-0\n"));
	assert_non_null(
	    strstr(hosts, "# Entries added by HostAliases.\n1.2.3.4\tfoo.local\tbar\n"));
	assert_string_equal(resolv, "search prod.svc.cluster.local svc.cluster.local cluster.local "
				    "my.dns.search\nnameserver 10.96.0.10\nnameserver 10.0.0.53\n"
				    "options ndots:2 edns0\n");
	assert_string_equal(hn, "web-0\n");

	/* None: dnsConfig only */
	json_object_set_new(json_object_get(pod, "spec"), "dnsPolicy", json_string("None"));
	assert_int_equal(
	    pod_write_etc_files(pd, pod, "10.0.0.5", "10.96.0.10", "cluster.local", &err), 0);
	free(resolv);
	resolv = slurp(rp);
	assert_string_equal(resolv, "search my.dns.search\nnameserver 10.0.0.53\noptions ndots:2 "
				    "edns0\n");

	/* Default: the host's nameservers */
	json_object_set_new(json_object_get(pod, "spec"), "dnsPolicy", json_string("Default"));
	json_object_del(json_object_get(pod, "spec"), "dnsConfig");
	assert_int_equal(
	    pod_write_etc_files(pd, pod, "10.0.0.5", "10.96.0.10", "cluster.local", &err), 0);
	free(resolv);
	resolv = slurp(rp);
	assert_null(strstr(resolv, "10.96.0.10"));
	assert_null(strstr(resolv, "svc.cluster.local"));

	/* ClusterFirst without a cluster DNS: as Default; no subdomain: plain line */
	_cleanup_json_ json_t *pod2 = json_pack("{s:{s:s, s:s}, s:{}}", "metadata", "name", "p",
						"namespace", "default", "spec");
	assert_int_equal(pod_write_etc_files(pd, pod2, "10.0.0.6", NULL, NULL, &err), 0);
	free(hosts);
	hosts = slurp(hp);
	assert_non_null(strstr(hosts, "10.0.0.6\tp\n"));
	free(resolv);
	resolv = slurp(rp);
	assert_null(strstr(resolv, "ndots:5"));
}

static void test_rootfs(void **state)
{
	SKIP_UNLESS_ROOT();
	_cleanup_free_ char *lo1 = xasprintf("%s/layer1", tmp);
	_cleanup_free_ char *lo2 = xasprintf("%s/layer2", tmp);
	_cleanup_free_ char *f1 = xasprintf("%s/a", lo1);
	_cleanup_free_ char *f2 = xasprintf("%s/a", lo2);
	assert_int_equal(rt_mkdir_p(lo1, 0755), 0);
	assert_int_equal(rt_mkdir_p(lo2, 0755), 0);
	assert_int_equal(rt_write_file(f1, "top", 3, 0644), 0);
	assert_int_equal(rt_write_file(f2, "bottom", 6, 0644), 0);
	_cleanup_free_ char *ctr = xasprintf("%s/ctr", tmp);
	assert_int_equal(rt_mkdir_p(ctr, 0700), 0);
	char *lower[] = { lo1, lo2, NULL };
	_cleanup_free_ char *err = NULL, *rootfs = NULL, *rootfs2 = NULL;
	assert_int_equal(rootfs_mount(ctr, lower, &rootfs, &err), 0);
	_cleanup_free_ char *want = xasprintf("%s/rootfs", ctr);
	assert_string_equal(rootfs, want);
	_cleanup_free_ char *a = xasprintf("%s/a", rootfs);
	_cleanup_free_ char *v = slurp(a);
	assert_string_equal(v, "top"); /* the first lower dir is the top layer */
	/* writes go to upper/, the layers stay as they are */
	_cleanup_free_ char *nf = xasprintf("%s/new", rootfs);
	assert_int_equal(rt_write_file(nf, "n", 1, 0644), 0);
	_cleanup_free_ char *up = xasprintf("%s/upper/new", ctr);
	assert_int_equal(access(up, F_OK), 0);
	/* idempotent: a second call does not stack another mount */
	assert_int_equal(rootfs_mount(ctr, lower, &rootfs2, &err), 0);
	assert_int_equal(rootfs_unmount(ctr), 0);
	assert_false(is_mountpoint(rootfs));
	assert_int_equal(rootfs_unmount(ctr), 0);

	char *none[] = { NULL };
	_cleanup_free_ char *err2 = NULL, *r2 = NULL;
	assert_int_equal(rootfs_mount(ctr, none, &r2, &err2), -EINVAL);
	assert_non_null(err2);
	_cleanup_free_ char *colon = xasprintf("%s/x:y", tmp);
	char *bad[] = { colon, NULL };
	_cleanup_free_ char *err3 = NULL, *r3 = NULL;
	assert_int_equal(rootfs_mount(ctr, bad, &r3, &err3), -EINVAL);
	assert_non_null(strstr(err3, "':'"));
}

int main(void)
{
	if (geteuid() == 0) {
		/* Mounts made here vanish with the process. */
		assert_se(unshare(CLONE_NEWNS) == 0);
		assert_se(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_dir),
		cmocka_unit_test(test_config_map),
		cmocka_unit_test(test_config_map_errors),
		cmocka_unit_test(test_downward_api),
		cmocka_unit_test(test_host_path),
		cmocka_unit_test(test_container_mounts),
		cmocka_unit_test(test_subpath_escapes),
		cmocka_unit_test(test_etc_files),
		cmocka_unit_test(test_rootfs),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
