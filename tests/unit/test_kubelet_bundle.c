/* SPDX-License-Identifier: Apache-2.0 */
/* bundle_write: the config.json fields, from pod specs and image configs. */
#include "unit.h"

#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>

#include "kubelet/bundle.h"
#include "lib/json.h"
#include "runtime/fsutil.h"

static char tmp[256];
static char rootfs[300];

static int setup(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/c8s-test-bundle-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmp);
	_cleanup_free_ char *etc = xasprintf("%s/etc", rootfs);
	assert_int_equal(rt_mkdir_p(etc, 0755), 0);
	_cleanup_free_ char *passwd = xasprintf("%s/passwd", etc);
	_cleanup_free_ char *group = xasprintf("%s/group", etc);
	const char *pw = "root:x:0:0:root:/root:/bin/sh\n"
			 "app:x:1000:1001:app:/home/app:/bin/sh\n"
			 "nobody:x:65534:65534:nobody:/:/bin/false\n";
	const char *gr = "root:x:0:\napp:x:1001:\nstaff:x:50:app,other\nvideo:x:44:nobody\n";
	assert_int_equal(rt_write_file(passwd, pw, strlen(pw), 0644), 0);
	assert_int_equal(rt_write_file(group, gr, strlen(gr), 0644), 0);
	return 0;
}

static int teardown(void **state)
{
	rt_rm_rf(tmp);
	return 0;
}

static json_t *base_pod(json_t *container)
{
	return json_pack("{s:{s:s, s:s}, s:{s:[o]}}", "metadata", "name", "p1", "namespace", "ns1",
			 "spec", "containers", container);
}

static char *const default_env[] = { "A=1", "WHO=world", NULL };

/* Write a bundle and read its config.json back; NULL (and *err) on failure. */
static json_t *write_bundle(json_t *pod, json_t *image_config, int *ret_r, char **ret_err)
{
	json_t *c = json_array_get(json_get(pod, "spec.containers"), 0);
	_cleanup_json_ json_t *mounts =
	    json_pack("[{s:s, s:s, s:s, s:[s, s, s, s]}]", "destination", "/sys", "type", "sysfs",
		      "source", "sysfs", "options", "nosuid", "noexec", "nodev", "ro");
	struct bundle_opts o = {
		.pod = pod,
		.container = c,
		.image_config = image_config,
		.env = default_env,
		.mounts = mounts,
		.rootfs = rootfs,
		.netns = "/run/c8s/ns/u1/net",
		.utsns = "/run/c8s/ns/u1/uts",
		.ipcns = "/run/c8s/ns/u1/ipc",
		.cgroups_path = "/c8s/node-a/podu1/abc",
		.hostname = "p1",
	};
	_cleanup_free_ char *dir = xasprintf("%s/bundle", tmp);
	assert_int_equal(rt_mkdir_p(dir, 0700), 0);
	_cleanup_free_ char *cfg = xasprintf("%s/config.json", dir);
	unlink(cfg);
	char *err = NULL;
	int r = bundle_write(dir, &o, &err);
	if (ret_r)
		*ret_r = r;
	if (r < 0) {
		assert_non_null(err);
		assert_int_equal(access(cfg, F_OK), -1);
		if (ret_err)
			*ret_err = err;
		else
			free(err);
		return NULL;
	}
	assert_null(err);
	json_error_t jerr;
	json_t *j = json_load_file(cfg, 0, &jerr);
	assert_non_null(j);
	struct stat st;
	assert_int_equal(stat(cfg, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	return j;
}

static json_t *ok_bundle(json_t *container, json_t *image_config)
{
	_cleanup_json_ json_t *pod = base_pod(container);
	_cleanup_free_ char *err = NULL;
	int r;
	json_t *j = write_bundle(pod, image_config, &r, &err);
	if (!j)
		fail_msg("bundle_write: %d %s", r, err);
	return j;
}

static bool str_in(json_t *arr, const char *s)
{
	size_t i;
	json_t *x;
	json_array_foreach(arr, i, x) if (streq_ptr(json_string_value(x), s)) return true;
	return false;
}

static void test_defaults(void **state)
{
	_cleanup_json_ json_t *img =
	    json_pack("{s:[s], s:[s, s], s:s, s:[s]}", "Entrypoint", "/bin/sh", "Cmd", "-c",
		      "echo hi", "WorkingDir", "/work", "Env", "IGNORED=here");
	_cleanup_json_ json_t *j = ok_bundle(json_pack("{s:s}", "name", "c"), img);
	json_t *proc = json_object_get(j, "process");

	/* Entrypoint + Cmd, WorkingDir */
	_cleanup_json_ json_t *args = json_pack("[s, s, s]", "/bin/sh", "-c", "echo hi");
	assert_true(json_equal(json_object_get(proc, "args"), args));
	assert_string_equal(json_string_value(json_object_get(proc, "cwd")), "/work");
	assert_int_equal(json_get_int(proc, "user.uid", -1), 0);
	assert_int_equal(json_get_int(proc, "user.gid", -1), 0);

	/* env as given, plus a default PATH and HOSTNAME */
	json_t *env = json_object_get(proc, "env");
	assert_true(str_in(env, "A=1"));
	assert_true(
	    str_in(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
	assert_true(str_in(env, "HOSTNAME=p1"));
	assert_false(str_in(env, "IGNORED=here")); /* the image env comes through env_resolve */

	/* containerd's default capabilities, nothing else */
	const char *caps[] = {
		"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",	   "CAP_FOWNER",
		"CAP_MKNOD",   "CAP_NET_RAW",	   "CAP_SETGID",	   "CAP_SETUID",
		"CAP_SETFCAP", "CAP_SETPCAP",	   "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
		"CAP_KILL",    "CAP_AUDIT_WRITE"
	};
	const char *sets[] = { "bounding", "effective", "permitted" };
	for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
		json_t *set = json_object_get(json_object_get(proc, "capabilities"), sets[s]);
		assert_int_equal(json_array_size(set), ARRAY_SIZE(caps));
		for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
			assert_true(str_in(set, caps[i]));
	}
	assert_null(json_get(proc, "capabilities.inheritable"));
	assert_null(json_get(proc, "capabilities.ambient"));
	assert_true(json_is_true(json_object_get(proc, "noNewPrivileges")));
	json_t *rl = json_array_get(json_object_get(proc, "rlimits"), 0);
	assert_string_equal(json_string_value(json_object_get(rl, "type")), "RLIMIT_NOFILE");
	assert_true(json_integer_value(json_object_get(rl, "hard")) > 0);
	/* BestEffort */
	assert_int_equal(json_get_int(proc, "oomScoreAdj", 0), 1000);
	assert_false(json_is_true(json_object_get(proc, "terminal")));

	assert_string_equal(json_get_str(j, "root.path"), rootfs);
	assert_false(json_get_bool(j, "root.readonly", true));
	assert_string_equal(json_get_str(j, "hostname"), "p1");
	assert_string_equal(json_get_str(j, "ociVersion"), "1.0.2");

	json_t *lx = json_object_get(j, "linux");
	assert_string_equal(json_get_str(lx, "cgroupsPath"), "/c8s/node-a/podu1/abc");
	json_t *ns = json_object_get(lx, "namespaces");
	const char *want[][2] = { { "pid", NULL },
				  { "mount", NULL },
				  { "cgroup", NULL },
				  { "network", "/run/c8s/ns/u1/net" },
				  { "uts", "/run/c8s/ns/u1/uts" },
				  { "ipc", "/run/c8s/ns/u1/ipc" } };
	assert_int_equal(json_array_size(ns), ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		json_t *n = json_array_get(ns, i);
		assert_string_equal(json_get_str(n, "type"), want[i][0]);
		if (want[i][1])
			assert_string_equal(json_get_str(n, "path"), want[i][1]);
		else
			assert_null(json_object_get(n, "path"));
	}
	assert_true(str_in(json_object_get(lx, "maskedPaths"), "/proc/kcore"));
	assert_true(str_in(json_object_get(lx, "maskedPaths"), "/sys/firmware"));
	assert_true(str_in(json_object_get(lx, "readonlyPaths"), "/proc/sys"));
	/* no limits: shares 2, no quota, no memory limit */
	assert_int_equal(json_get_int(lx, "resources.cpu.shares", 0), 2);
	assert_null(json_get(lx, "resources.cpu.quota"));
	assert_null(json_get(lx, "resources.memory"));
	json_t *dev = json_array_get(json_get(lx, "resources.devices"), 0);
	assert_false(json_is_true(json_object_get(dev, "allow")));
	/* mounts as given */
	json_t *sys = json_array_get(json_object_get(j, "mounts"), 0);
	assert_true(str_in(json_object_get(sys, "options"), "ro"));
}

static void test_command_args(void **state)
{
	_cleanup_json_ json_t *img =
	    json_pack("{s:[s], s:[s]}", "Entrypoint", "/entry", "Cmd", "default-arg");
	struct {
		json_t *container;
		json_t *want;
	} cases[] = {
		{ json_pack("{s:s, s:[s, s], s:[s, s]}", "name", "c", "command", "/bin/echo",
			    "$(WHO)", "args", "a=$(A)", "$$(A)"),
		  json_pack("[s, s, s, s]", "/bin/echo", "world", "a=1", "$(A)") },
		{ json_pack("{s:s, s:[s]}", "name", "c", "args", "x"),
		  json_pack("[s, s]", "/entry", "x") },
		{ json_pack("{s:s, s:[s]}", "name", "c", "command", "/only"),
		  json_pack("[s]", "/only") },
		{ json_pack("{s:s}", "name", "c"), json_pack("[s, s]", "/entry", "default-arg") },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_json_ json_t *j = ok_bundle(cases[i].container, img);
		json_t *args = json_object_get(json_object_get(j, "process"), "args");
		if (!json_equal(args, cases[i].want))
			fail_msg("case %zu: args differ", i);
		json_decref(cases[i].want);
	}
	/* nothing to run */
	_cleanup_json_ json_t *pod = base_pod(json_pack("{s:s}", "name", "c"));
	_cleanup_free_ char *err = NULL;
	int r;
	assert_null(write_bundle(pod, NULL, &r, &err));
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err, "no command specified"));

	/* a relative workingDir */
	_cleanup_json_ json_t *pod2 = base_pod(
	    json_pack("{s:s, s:[s], s:s}", "name", "c", "command", "/x", "workingDir", "rel"));
	_cleanup_free_ char *err2 = NULL;
	assert_null(write_bundle(pod2, NULL, &r, &err2));
	assert_non_null(strstr(err2, "not absolute"));
}

static void test_capabilities(void **state)
{
	_cleanup_json_ json_t *j =
	    ok_bundle(json_pack("{s:s, s:[s], s:{s:{s:[s, s], s:[s]}}}", "name", "c", "command",
				"/x", "securityContext", "capabilities", "add", "NET_ADMIN",
				"sys_time", "drop", "KILL"),
		      NULL);
	json_t *eff = json_get(j, "process.capabilities");
	eff = json_object_get(eff, "effective");
	assert_true(str_in(eff, "CAP_NET_ADMIN"));
	assert_true(str_in(eff, "CAP_SYS_TIME"));
	assert_false(str_in(eff, "CAP_KILL"));
	assert_true(str_in(eff, "CAP_CHOWN"));
	assert_int_equal(json_array_size(eff), 15);

	_cleanup_json_ json_t *j2 = ok_bundle(
	    json_pack("{s:s, s:[s], s:{s:{s:[s], s:[s]}}}", "name", "c", "command", "/x",
		      "securityContext", "capabilities", "add", "NET_BIND_SERVICE", "drop", "ALL"),
	    NULL);
	json_t *bnd = json_object_get(json_get(j2, "process.capabilities"), "bounding");
	assert_int_equal(json_array_size(bnd), 1);
	assert_true(str_in(bnd, "CAP_NET_BIND_SERVICE"));

	_cleanup_json_ json_t *pod =
	    base_pod(json_pack("{s:s, s:[s], s:{s:{s:[s]}}}", "name", "c", "command", "/x",
			       "securityContext", "capabilities", "add", "CAP_MAKE_COFFEE"));
	_cleanup_free_ char *err = NULL;
	int r;
	assert_null(write_bundle(pod, NULL, &r, &err));
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err, "unknown capability \"CAP_MAKE_COFFEE\""));

	/* privileged: every capability, no masked paths, all devices, /sys rw, nnp off */
	_cleanup_json_ json_t *j3 =
	    ok_bundle(json_pack("{s:s, s:[s], s:{s:b}}", "name", "c", "command", "/x",
				"securityContext", "privileged", 1),
		      NULL);
	json_t *pb = json_object_get(json_get(j3, "process.capabilities"), "bounding");
	assert_true(json_array_size(pb) >= 38);
	assert_true(str_in(pb, "CAP_SYS_ADMIN"));
	assert_null(json_get(j3, "linux.maskedPaths"));
	assert_null(json_get(j3, "linux.readonlyPaths"));
	json_t *dev = json_array_get(json_get(j3, "linux.resources.devices"), 0);
	assert_true(json_is_true(json_object_get(dev, "allow")));
	json_t *sys = json_array_get(json_object_get(j3, "mounts"), 0);
	assert_false(str_in(json_object_get(sys, "options"), "ro"));
	assert_true(str_in(json_object_get(sys, "options"), "rw"));
	assert_false(json_get_bool(j3, "process.noNewPrivileges", true));

	_cleanup_json_ json_t *j4 = ok_bundle(
	    json_pack("{s:s, s:[s], s:{s:b, s:b}}", "name", "c", "command", "/x", "securityContext",
		      "allowPrivilegeEscalation", 1, "readOnlyRootFilesystem", 1),
	    NULL);
	assert_false(json_get_bool(j4, "process.noNewPrivileges", true));
	assert_true(json_get_bool(j4, "root.readonly", false));
}

static void test_user(void **state)
{
	/* runAsUser: gid from the rootfs' passwd, groups from its group file */
	_cleanup_json_ json_t *j =
	    ok_bundle(json_pack("{s:s, s:[s], s:{s:i}}", "name", "c", "command", "/x",
				"securityContext", "runAsUser", 1000),
		      NULL);
	assert_int_equal(json_get_int(j, "process.user.uid", -1), 1000);
	assert_int_equal(json_get_int(j, "process.user.gid", -1), 1001);
	json_t *g = json_get(j, "process.user");
	g = json_object_get(g, "additionalGids");
	assert_int_equal(json_array_size(g), 1);
	assert_int_equal(json_integer_value(json_array_get(g, 0)), 50);

	/* image User by name, pod runAsGroup, supplementalGroups and fsGroup */
	_cleanup_json_ json_t *img = json_pack("{s:s}", "User", "nobody");
	json_t *c = json_pack("{s:s, s:[s], s:{s:i}}", "name", "c", "command", "/x",
			      "securityContext", "runAsGroup", 7);
	_cleanup_json_ json_t *pod = base_pod(c);
	json_object_set_new(
	    json_object_get(pod, "spec"), "securityContext",
	    json_pack("{s:[i, i], s:i}", "supplementalGroups", 100, 44, "fsGroup", 2000));
	_cleanup_json_ json_t *j2 = write_bundle(pod, img, NULL, NULL);
	assert_non_null(j2);
	assert_int_equal(json_get_int(j2, "process.user.uid", -1), 65534);
	assert_int_equal(json_get_int(j2, "process.user.gid", -1), 7);
	json_t *g2 = json_object_get(json_get(j2, "process.user"), "additionalGids");
	_cleanup_json_ json_t *want = json_pack("[i, i, i]", 44, 100, 2000);
	assert_true(json_equal(g2, want));

	/* "uid:gid" and "name:group" */
	_cleanup_json_ json_t *img3 = json_pack("{s:s}", "User", "app:staff");
	_cleanup_json_ json_t *j3 =
	    ok_bundle(json_pack("{s:s, s:[s]}", "name", "c", "command", "/x"), img3);
	assert_int_equal(json_get_int(j3, "process.user.uid", -1), 1000);
	assert_int_equal(json_get_int(j3, "process.user.gid", -1), 50);
	_cleanup_json_ json_t *img4 = json_pack("{s:s}", "User", "4242:4343");
	_cleanup_json_ json_t *j4 =
	    ok_bundle(json_pack("{s:s, s:[s]}", "name", "c", "command", "/x"), img4);
	assert_int_equal(json_get_int(j4, "process.user.uid", -1), 4242);
	assert_int_equal(json_get_int(j4, "process.user.gid", -1), 4343);

	/* unknown names; runAsNonRoot with root */
	const char *bad_users[] = { "ghost", "app:nogroup" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_users); i++) {
		_cleanup_json_ json_t *bi = json_pack("{s:s}", "User", bad_users[i]);
		_cleanup_json_ json_t *bp =
		    base_pod(json_pack("{s:s, s:[s]}", "name", "c", "command", "/x"));
		_cleanup_free_ char *err = NULL;
		int r;
		assert_null(write_bundle(bp, bi, &r, &err));
		assert_int_equal(r, -ENOENT);
		assert_non_null(strstr(err, "unable to find"));
	}
	_cleanup_json_ json_t *np =
	    base_pod(json_pack("{s:s, s:[s], s:{s:b}}", "name", "c", "command", "/x",
			       "securityContext", "runAsNonRoot", 1));
	_cleanup_free_ char *err = NULL;
	int r;
	assert_null(write_bundle(np, NULL, &r, &err));
	assert_non_null(strstr(err, "runAsNonRoot"));
}

static void test_passwd_symlink_stays_in_rootfs(void **state)
{
	/* A hostile image whose /etc/passwd links to the host's: resolved in the
	 * rootfs, so the host's users are not seen. */
	_cleanup_free_ char *save = xasprintf("%s/etc/passwd.save", rootfs);
	_cleanup_free_ char *passwd = xasprintf("%s/etc/passwd", rootfs);
	_cleanup_free_ char *hostfile = xasprintf("%s/host-passwd", tmp);
	const char *hp = "hostonly:x:777:777::/:/bin/sh\n";
	assert_int_equal(rt_write_file(hostfile, hp, strlen(hp), 0644), 0);
	assert_int_equal(rename(passwd, save), 0);
	_cleanup_free_ char *target = xasprintf("../../../../../../..%s", hostfile);
	assert_int_equal(symlink(target, passwd), 0);
	_cleanup_json_ json_t *img = json_pack("{s:s}", "User", "hostonly");
	_cleanup_json_ json_t *pod =
	    base_pod(json_pack("{s:s, s:[s]}", "name", "c", "command", "/x"));
	_cleanup_free_ char *err = NULL;
	int r;
	assert_null(write_bundle(pod, img, &r, &err));
	assert_int_equal(r, -ENOENT);
	assert_int_equal(unlink(passwd), 0);
	assert_int_equal(rename(save, passwd), 0);
}

static void test_resources(void **state)
{
	_cleanup_json_ json_t *j =
	    ok_bundle(json_pack("{s:s, s:[s], s:{s:{s:s, s:s}, s:{s:s, s:s}}}", "name", "c",
				"command", "/x", "resources", "limits", "cpu", "500m", "memory",
				"64Mi", "requests", "cpu", "250m", "memory", "32Mi"),
		      NULL);
	json_t *res = json_get(j, "linux.resources");
	assert_int_equal(json_get_int(res, "memory.limit", 0), 64 * 1024 * 1024);
	assert_int_equal(json_get_int(res, "cpu.shares", 0), 256);
	assert_int_equal(json_get_int(res, "cpu.quota", 0), 50000);
	assert_int_equal(json_get_int(res, "cpu.period", 0), 100000);
	/* Burstable: between 2 and 999 */
	int64_t adj = json_get_int(j, "process.oomScoreAdj", -1);
	assert_true(adj >= 2 && adj <= 999);

	/* limits only: requests default to them; Guaranteed; no lower than ours */
	_cleanup_json_ json_t *j2 =
	    ok_bundle(json_pack("{s:s, s:[s], s:{s:{s:s, s:s}}}", "name", "c", "command", "/x",
				"resources", "limits", "cpu", "2", "memory", "1Gi"),
		      NULL);
	assert_int_equal(json_get_int(j2, "linux.resources.cpu.shares", 0), 2048);
	_cleanup_free_ char *own = NULL;
	assert_int_equal(rt_read_file("/proc/self/oom_score_adj", &own, NULL), 0);
	assert_int_equal(json_get_int(j2, "process.oomScoreAdj", 5000), MAX(-997, atoi(own)));

	_cleanup_json_ json_t *pod =
	    base_pod(json_pack("{s:s, s:[s], s:{s:{s:s}}}", "name", "c", "command", "/x",
			       "resources", "limits", "memory", "lots"));
	_cleanup_free_ char *err = NULL;
	int r;
	assert_null(write_bundle(pod, NULL, &r, &err));
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err, "invalid resources quantity"));
}

static void test_host_namespaces(void **state)
{
	json_t *c = json_pack("{s:s, s:[s], s:b}", "name", "c", "command", "/x", "tty", 1);
	_cleanup_json_ json_t *pod = base_pod(c);
	json_object_set_new(json_object_get(pod, "spec"), "hostNetwork", json_true());
	json_object_set_new(json_object_get(pod, "spec"), "hostPID", json_true());
	struct bundle_opts o = {
		.pod = pod,
		.container = c,
		.env = default_env,
		.rootfs = rootfs,
		.utsns = "/u",
		.ipcns = "/i",
		.tty = true,
	};
	_cleanup_free_ char *dir = xasprintf("%s/bundle-host", tmp);
	assert_int_equal(rt_mkdir_p(dir, 0700), 0);
	_cleanup_free_ char *err = NULL;
	assert_int_equal(bundle_write(dir, &o, &err), 0);
	_cleanup_free_ char *cfg = xasprintf("%s/config.json", dir);
	_cleanup_json_ json_t *j = json_load_file(cfg, 0, NULL);
	json_t *ns = json_get(j, "linux.namespaces");
	size_t i;
	json_t *n;
	json_array_foreach(ns, i, n)
	{
		assert_string_not_equal(json_get_str(n, "type"), "network");
		assert_string_not_equal(json_get_str(n, "type"), "pid");
	}
	assert_true(json_get_bool(j, "process.terminal", false));
	assert_true(str_in(json_object_get(json_object_get(j, "process"), "env"), "TERM=xterm"));
	assert_null(json_get(j, "linux.cgroupsPath"));
}

static void test_stop_signal(void **state)
{
	struct {
		const char *s;
		int sig;
	} cases[] = {
		{ NULL, SIGTERM },
		{ "SIGUSR1", SIGUSR1 },
		{ "QUIT", SIGQUIT },
		{ "9", SIGKILL },
		{ "sigint", SIGINT },
		{ "bogus", SIGTERM },
		{ "SIGRTMIN+3", SIGRTMIN + 3 },
		{ "999", SIGTERM },
		{ "SIGWINCH", SIGWINCH },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_json_ json_t *img =
		    cases[i].s ? json_pack("{s:s}", "StopSignal", cases[i].s) : json_object();
		assert_int_equal(bundle_stop_signal(img), cases[i].sig);
	}
	assert_int_equal(bundle_stop_signal(NULL), SIGTERM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_command_args),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_passwd_symlink_stays_in_rootfs),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_host_namespaces),
		cmocka_unit_test(test_stop_signal),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
