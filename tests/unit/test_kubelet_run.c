/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The spec helpers end to end with the real crun: a pod's /etc files and
 * volumes, an overlayfs rootfs over a busybox layer, the environment, the
 * mounts and config.json, then `crun run`; the container reports what it
 * sees (user, capabilities, no_new_privs, read-only root, hostname, env,
 * volumes, memory limit). Root only (skipped otherwise) and crun needed.
 * Runs in a private mount namespace without the cgroup2 "unified" mount,
 * as machine.md describes for crun on this hybrid-cgroup machine.
 */
#include "unit.h"

#include <jansson.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "kubelet/bundle.h"
#include "kubelet/env.h"
#include "kubelet/rootfs.h"
#include "kubelet/volumes.h"
#include "lib/json.h"
#include "oci_harness.h"
#include "runtime/fsutil.h"

static char tmp[256];
static bool usable;

static json_t *fake_get(void *ud, const char *resource, const char *ns, const char *name,
			char **ret_err)
{
	if (streq(resource, "configmaps") && streq(name, "cfg"))
		return json_pack("{s:{s:s}}", "data", "color", "teal");
	*ret_err = xasprintf("%s \"%s\" not found", resource, name);
	return NULL;
}

static int setup(void **state)
{
	usable = geteuid() == 0 && access("/usr/bin/crun", X_OK) == 0;
	if (!usable)
		return 0;
	assert_se(unshare(CLONE_NEWNS) == 0);
	assert_se(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	(void)umount2("/sys/fs/cgroup/unified", MNT_DETACH);
	snprintf(tmp, sizeof(tmp), "/tmp/c8s-test-run-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	_cleanup_free_ char *layer = xasprintf("%s/layer", tmp);
	return harness_make_rootfs(layer);
}

static int teardown(void **state)
{
	if (!usable)
		return 0;
	_cleanup_free_ char *cmd = xasprintf("umount -R %s 2>/dev/null; rm -rf %s", tmp, tmp);
	(void)!system(cmd);
	return 0;
}

struct run {
	char *out;
	int status;
};

/* Build everything for pod/container and crun run it; output into *ret. */
static void run_pod(json_t *pod, const char *id, struct run *ret)
{
	json_t *ctr = json_array_get(json_get(pod, "spec.containers"), 0);
	_cleanup_free_ char *pod_dir = xasprintf("%s/pods/%s", tmp, id);
	_cleanup_free_ char *ctr_dir = xasprintf("%s/ctr", pod_dir);
	_cleanup_free_ char *layer = xasprintf("%s/layer", tmp);
	struct kubelet_lookup lk = { .get = fake_get };
	_cleanup_free_ char *err = NULL, *rootfs = NULL;
	_cleanup_strv_free_ char **env = NULL;
	_cleanup_json_ json_t *mounts = NULL;
	char *lower[] = { layer, NULL };

	assert_int_equal(rt_mkdir_p(ctr_dir, 0700), 0);
	assert_int_equal(pod_write_etc_files(pod_dir, pod, "10.1.2.3", NULL, NULL, &err), 0);
	assert_int_equal(pod_volumes_setup(pod_dir, pod, "10.1.2.3", &lk, &err), 0);
	assert_int_equal(rootfs_mount(ctr_dir, lower, &rootfs, &err), 0);
	const char *image_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	assert_int_equal(
	    kubelet_env_resolve(pod, ctr, image_env, "10.1.2.3", "127.0.0.1", &lk, &env, &err), 0);
	assert_int_equal(container_mounts(pod_dir, pod, ctr, &mounts, &err), 0);
	_cleanup_free_ char *cg = xasprintf("/c8s-test-spec-%s", id);
	struct bundle_opts o = {
		.pod = pod,
		.container = ctr,
		.env = env,
		.mounts = mounts,
		.rootfs = rootfs,
		.cgroups_path = cg,
		.hostname = json_get_str(pod, "metadata.name"),
	};
	if (bundle_write(ctr_dir, &o, &err) < 0)
		fail_msg("bundle_write: %s", err);

	_cleanup_free_ char *out = xasprintf("%s/out", pod_dir);
	_cleanup_free_ char *cmd =
	    xasprintf("timeout 120 crun --root %s/state run -b %s %s >%s 2>&1 </dev/null", tmp,
		      ctr_dir, id, out);
	ret->status = system(cmd);
	ret->out = NULL;
	assert_int_equal(rt_read_file(out, &ret->out, NULL), 0);
	if (getenv("C8S_TEST_VERBOSE"))
		fprintf(stderr, "%s: status %d, output:\n%s", id, ret->status, ret->out);

	_cleanup_free_ char *del =
	    xasprintf("crun --root %s/state delete -f %s >/dev/null 2>&1", tmp, id);
	(void)!system(del);
	assert_int_equal(rootfs_unmount(ctr_dir), 0);
	assert_int_equal(pod_volumes_teardown(pod_dir), 0);
	/* the container's cgroup goes with it; its parent is ours to remove */
	_cleanup_free_ char *rm =
	    xasprintf("for d in /sys/fs/cgroup/*%s; do rmdir $d 2>/dev/null; done; true", cg);
	(void)!system(rm);
}

static void test_run_defaults(void **state)
{
	if (!usable) {
		skip();
		return;
	}
	const char *script =
	    "id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
	    "touch /rootfs-write 2>/dev/null && echo root-rw || echo root-ro; "
	    "echo host=$(cat /etc/hostname); echo greet=$GREETING; echo color=$(cat /cfg/color); "
	    "touch /cfg/x 2>/dev/null && echo cfg-rw || echo cfg-ro; "
	    "touch /scratch/ok && echo scratch-ok; grep -c 10.1.2.3 /etc/hosts; "
	    "echo mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); "
	    "echo user-ok=$(id -u)";
	_cleanup_json_ json_t *pod = json_pack(
	    "{s:{s:s, s:s, s:s}, s:{s:[{s:s, s:{}}, {s:s, s:{s:s}}],"
	    " s:[{s:s, s:[s, s, s], s:[{s:s, s:s}], s:{s:b},"
	    " s:{s:{s:s}}, s:[{s:s, s:s, s:b}, {s:s, s:s}]}]}}",
	    "metadata", "name", "runpod", "namespace", "ns1", "uid", "u-run", "spec", "volumes",
	    "name", "scratch", "emptyDir", "name", "cfg", "configMap", "name", "cfg", "containers",
	    "name", "c", "command", "/bin/sh", "-c", script, "env", "name", "GREETING", "value",
	    "hello $(NOPE)", "securityContext", "readOnlyRootFilesystem", 1, "resources", "limits",
	    "memory", "64Mi", "volumeMounts", "name", "cfg", "mountPath", "/cfg", "readOnly", 1,
	    "name", "scratch", "mountPath", "/scratch");
	struct run r;
	run_pod(pod, "spec-run-1", &r);
	_cleanup_free_ char *out = r.out;
	if (r.status != 0)
		fail_msg("crun run failed (%d): %s", r.status, out);
	const char *want[] = {
		"0\n",
		"NoNewPrivs:\t1\n",
		"CapEff:\t00000000a80425fb\n", /* containerd's default set */
		"root-ro\n",
		"host=runpod\n",
		"greet=hello $(NOPE)\n",
		"color=teal\n",
		"cfg-ro\n",
		"scratch-ok\n",
		"1\n",
		"mem=67108864\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		if (!strstr(out, want[i]))
			fail_msg("output lacks \"%s\":\n%s", want[i], out);
}

static void test_run_user_and_caps(void **state)
{
	if (!usable) {
		skip();
		return;
	}
	_cleanup_json_ json_t *pod = json_pack(
	    "{s:{s:s, s:s}, s:{s:[{s:s, s:[s, s, s], s:{s:i, s:i, s:b, s:{s:[s], s:[s]}}}]}}",
	    "metadata", "name", "userpod", "namespace", "ns1", "spec", "containers", "name", "c",
	    "command", "/bin/sh", "-c",
	    "echo uid=$(id -u) gid=$(id -g); grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status; "
	    "touch /rootfs-write && echo root-rw",
	    "securityContext", "runAsUser", 1234, "runAsGroup", 5678, "allowPrivilegeEscalation", 1,
	    "capabilities", "add", "NET_ADMIN", "drop", "ALL");
	struct run r;
	run_pod(pod, "spec-run-2", &r);
	_cleanup_free_ char *out = r.out;
	const char *want[] = {
		"uid=1234 gid=5678\n", "NoNewPrivs:\t0\n",
		"CapBnd:\t0000000000001000\n", /* NET_ADMIN (12) only */
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		if (!strstr(out, want[i]))
			fail_msg("output lacks \"%s\":\n%s", want[i], out);
	/* uid 1234 cannot write the root directory (root's, 0755) */
	assert_null(strstr(out, "root-rw"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_defaults),
		cmocka_unit_test(test_run_user_and_caps),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
