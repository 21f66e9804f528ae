/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pod sandboxes: namespaces kept by bind mounts, found again by another
 * process, shared by containers of two runtimes, and removed everywhere.
 * Runs as root; removes every mount, namespace, container and directory.
 */
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>

#include "unit.h"

#include "oci_harness.h"
#include "runtime/oci.h"
#include "runtime/sandbox.h"

static char *tmp_dir, *run_dir, *rootfs;

static int group_setup(void **state)
{
	char tmpl[] = "/tmp/c8s-sandbox-XXXXXX";
	if (!mkdtemp(tmpl))
		return -1;
	tmp_dir = xstrdup(tmpl);
	run_dir = xasprintf("%s/run", tmp_dir);
	rootfs = xasprintf("%s/rootfs", tmp_dir);
	return harness_make_rootfs(rootfs);
}

/* What a failed test leaves: containers of both runtimes, sandboxes. */
static int teardown(void **state)
{
	const char *names[] = { "crun", "runc" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		_cleanup_free_ char *sd = xasprintf("%s/state-%s", tmp_dir, names[i]);
		if (access(sd, F_OK) < 0)
			continue;
		struct oci_runtime_opts o = { .runtime = names[i], .state_dir = sd };
		struct oci_runtime *rt;
		if (oci_runtime_new(&o, &rt, NULL) < 0)
			continue;
		_cleanup_strv_free_ char **ids = NULL;
		if (oci_list(rt, &ids) == 0)
			for (char **id = ids; *id; id++)
				(void)oci_delete(rt, *id, true);
		oci_runtime_free(rt);
	}
	const char *uids[] = { "uid-1", "uid-2", "uid-3" };
	for (size_t i = 0; i < ARRAY_SIZE(uids); i++) {
		_cleanup_free_ char *dir = xasprintf("%s/ns/%s", run_dir, uids[i]);
		struct sandbox sb = { .dir = dir };
		sb.netns = xasprintf("%s/net", dir);
		sb.utsns = xasprintf("%s/uts", dir);
		sb.ipcns = xasprintf("%s/ipc", dir);
		(void)sandbox_destroy(&sb);
		free(sb.netns);
		free(sb.utsns);
		free(sb.ipcns);
	}
	return 0;
}

static int group_teardown(void **state)
{
	/* Nothing may be mounted below tmp_dir any more: rm_rf would refuse. */
	assert_int_equal(rt_rm_rf(tmp_dir), 0);
	free(rootfs);
	free(run_dir);
	free(tmp_dir);
	return 0;
}

/* In a child: join the namespace at path and check something there. */
static int in_ns(const char *path, int nstype, int (*check)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, nstype) < 0)
			_exit(100);
		_exit(check());
	}
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 101;
}

static int check_hostname(void)
{
	char h[65] = { 0 };
	return gethostname(h, sizeof(h) - 1) == 0 && streq(h, "pod-a") ? 0 : 1;
}

static int check_loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return 2;
	/* A fresh namespace has only lo: no eth0 yet. */
	return (ifr.ifr_flags & IFF_UP) && if_nametoindex("eth0") == 0 ? 0 : 1;
}

static int check_other_netns(void)
{
	return 0;
}

static ino_t ino(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static void test_lifecycle(void **state)
{
	struct sandbox sb = { 0 };
	_cleanup_free_ char *err = NULL;
	if (sandbox_create(run_dir, "uid-1", "pod-a", &sb, &err) < 0)
		fail_msg("sandbox_create: %s", err);
	_cleanup_free_ char *dir = xasprintf("%s/ns/uid-1", run_dir);
	assert_string_equal(sb.dir, dir);

	/* Each namespace is new: not ours. */
	_cleanup_free_ char *self_net = xstrdup("/proc/self/ns/net");
	assert_int_not_equal(ino(sb.netns), ino(self_net));
	assert_int_not_equal(ino(sb.utsns), ino("/proc/self/ns/uts"));
	assert_int_not_equal(ino(sb.ipcns), ino("/proc/self/ns/ipc"));
	assert_int_equal(in_ns(sb.utsns, CLONE_NEWUTS, check_hostname), 0);
	assert_int_equal(in_ns(sb.netns, CLONE_NEWNET, check_loopback_up), 0);
	assert_int_equal(in_ns(sb.ipcns, CLONE_NEWIPC, check_other_netns), 0);

	/* Another process (an agent after a restart) finds it. */
	pid_t pid = fork();
	if (pid == 0) {
		struct sandbox found;
		int r = sandbox_open(run_dir, "uid-1", &found);
		bool same = r == 0 && streq(found.netns, sb.netns);
		sandbox_release(&found);
		_exit(same ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	struct sandbox again;
	assert_int_equal(sandbox_create(run_dir, "uid-1", "pod-a", &again, &err), -EEXIST);
	assert_int_equal(sandbox_open(run_dir, "uid-2", &again), -ENOENT);
	assert_int_equal(sandbox_create(run_dir, "../x", "pod-a", &again, NULL), -EINVAL);

	assert_int_equal(sandbox_destroy(&sb), 0);
	assert_int_equal(access(sb.netns, F_OK), -1);
	assert_int_equal(access(sb.dir, F_OK), -1);
	assert_int_equal(sandbox_open(run_dir, "uid-1", &again), -ENOENT);
	assert_int_equal(sandbox_destroy(&sb), 0); /* safe to repeat */
	sandbox_release(&sb);
	sandbox_release(&sb);
}

/* A half-made sandbox (an empty file where a namespace should be) is not
 * found, and create replaces it. */
static void test_partial(void **state)
{
	_cleanup_free_ char *dir = xasprintf("%s/ns/uid-3", run_dir);
	assert_int_equal(rt_mkdir_p(dir, 0755), 0);
	_cleanup_free_ char *net = xasprintf("%s/net", dir);
	assert_int_equal(rt_write_file(net, "", 0, 0444), 0);
	struct sandbox sb;
	assert_int_equal(sandbox_open(run_dir, "uid-3", &sb), -ENOENT);
	_cleanup_free_ char *err = NULL;
	if (sandbox_create(run_dir, "uid-3", "pod-c", &sb, &err) < 0)
		fail_msg("sandbox_create: %s", err);
	struct sandbox found;
	assert_int_equal(sandbox_open(run_dir, "uid-3", &found), 0);
	sandbox_release(&found);
	assert_int_equal(sandbox_destroy(&sb), 0);
	sandbox_release(&sb);
}

struct rt_fixture {
	struct oci_runtime *crun, *runc;
};

static struct oci_runtime *new_runtime(const char *name)
{
	_cleanup_free_ char *state = xasprintf("%s/state-%s", tmp_dir, name);
	struct oci_runtime_opts o = { .runtime = name, .state_dir = state };
	struct oci_runtime *rt = NULL;
	_cleanup_free_ char *err = NULL;
	if (oci_runtime_new(&o, &rt, &err) < 0)
		fail_msg("oci_runtime_new %s: %s", name, err);
	return rt;
}

struct stop_arg {
	struct oci_runtime *rt;
	const char *id;
};

static bool stopped(void *p)
{
	struct stop_arg *a = p;
	struct oci_state st;
	return oci_state(a->rt, a->id, &st) == 0 && st.status == OCI_STOPPED;
}

static void run_ctr(struct oci_runtime *rt, const char *id, const struct sandbox *sb,
		    const char *script)
{
	const char *args[] = { "sh", "-c", script, NULL };
	struct harness_config cfg = { .rootfs = rootfs,
				      .args = args,
				      .netns = sb->netns,
				      .utsns = sb->utsns,
				      .ipcns = sb->ipcns };
	_cleanup_free_ char *bundle = xasprintf("%s/bundles/%s", tmp_dir, id);
	_cleanup_free_ char *log = xasprintf("%s/bundles/%s.log", tmp_dir, id);
	assert_int_equal(harness_make_bundle(bundle, &cfg), 0);
	struct oci_create_opts o = { .id = id, .bundle = bundle, .log_path = log };
	pid_t pid;
	_cleanup_free_ char *err = NULL;
	if (oci_create(rt, &o, &pid, &err) < 0 || oci_start(rt, id, &err) < 0)
		fail_msg("container %s: %s", id, err);
}

static char *ctr_log(const char *id)
{
	_cleanup_free_ char *log = xasprintf("%s/bundles/%s.log", tmp_dir, id);
	return harness_read(log);
}

/* Two containers, one under crun and one under runc, in one sandbox: same
 * hostname, same network namespace (the sandbox's), and loopback between
 * them. */
static void test_shared_by_containers(void **state)
{
	struct sandbox sb = { 0 };
	_cleanup_free_ char *err = NULL;
	if (sandbox_create(run_dir, "uid-2", "pod-a", &sb, &err) < 0)
		fail_msg("sandbox_create: %s", err);
	struct oci_runtime *crun = new_runtime("crun");
	struct oci_runtime *runc = new_runtime("runc");
	_cleanup_free_ char *id_a = xasprintf("sb%d-a", (int)getpid());
	_cleanup_free_ char *id_b = xasprintf("sb%d-b", (int)getpid());
	_cleanup_free_ char *id_c = xasprintf("sb%d-c", (int)getpid());

	run_ctr(crun, id_a, &sb,
		"echo host=$(hostname); echo net=$(readlink /proc/self/ns/net); "
		"echo pong | nc -l -p 7777");
	run_ctr(runc, id_b, &sb,
		"echo host=$(hostname); echo net=$(readlink /proc/self/ns/net); "
		"for i in $(seq 200); do nc 127.0.0.1 7777 </dev/null && exit 0; sleep 0.05; "
		"done; exit 1");
	struct stop_arg a = { crun, id_a }, b = { runc, id_b };
	assert_true(harness_wait_for(stopped, &b, 20000));
	assert_true(harness_wait_for(stopped, &a, 20000));
	struct oci_state st;
	assert_int_equal(oci_state(crun, id_a, &st), 0);
	assert_int_equal(st.exit_code, 0);
	assert_int_equal(oci_state(runc, id_b, &st), 0);
	assert_int_equal(st.exit_code, 0);

	_cleanup_free_ char *log_a = ctr_log(id_a);
	_cleanup_free_ char *log_b = ctr_log(id_b);
	_cleanup_free_ char *net =
	    xasprintf(" stdout F net=net:[%lu]\n", (unsigned long)ino(sb.netns));
	assert_non_null(strstr(log_a, " stdout F host=pod-a\n"));
	assert_non_null(strstr(log_b, " stdout F host=pod-a\n"));
	if (!strstr(log_a, net) || !strstr(log_b, net))
		fail_msg("expected \"%s\" in both logs:\n%s\n%s", net, log_a, log_b);
	assert_non_null(strstr(log_b, " stdout F pong\n"));
	assert_int_equal(oci_delete(crun, id_a, false), 0);
	assert_int_equal(oci_delete(runc, id_b, false), 0);

	/* A running container's conmon (crun: in its own mount namespace,
	 * made after the sandbox) holds no copy of the namespace mounts once
	 * the sandbox is destroyed. */
	run_ctr(crun, id_c, &sb, "sleep 1000");
	_cleanup_free_ char *pidfile =
	    xasprintf("%s/state-crun/persist/%s/conmon.pid", tmp_dir, id_c);
	_cleanup_free_ char *cpid = harness_read(pidfile);
	_cleanup_free_ char *mountinfo = xasprintf("/proc/%d/mountinfo", atoi(cpid));
	_cleanup_free_ char *before = harness_read(mountinfo);
	assert_non_null(strstr(before, sb.netns));
	assert_int_equal(sandbox_destroy(&sb), 0);
	_cleanup_free_ char *after = harness_read(mountinfo);
	assert_null(strstr(after, sb.dir));
	assert_int_equal(oci_delete(crun, id_c, true), 0);

	oci_runtime_free(crun);
	oci_runtime_free(runc);
	sandbox_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_lifecycle, teardown),
		cmocka_unit_test_teardown(test_partial, teardown),
		cmocka_unit_test_teardown(test_shared_by_containers, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
