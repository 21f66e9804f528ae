/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CNI with the real plugins, inside a lab network namespace this test
 * makes for itself: the test process moves into it, so the plugins it runs
 * put the bridge, veths and rules there, never in the host's namespace.
 * Pod namespaces are sandboxes (sandbox.c). Everything goes away with the
 * lab namespace and the temporary directory at the end.
 */
#include <ifaddrs.h>
#include <net/if.h>
#include <sys/socket.h>

#include "unit.h"

#include "net/cni.h"
#include "oci_harness.h"
#include "runtime/sandbox.h"
#include "runtime/spawn.h"

static char *tmp_dir, *run_dir, *ipam_dir;
static int host_netns = -1;

static struct cni_config cfg = {
	.plugin_dir = "/usr/lib/cni",
	.bridge = "c8s0",
	.pod_cidr = "10.244.7.0/24",
};

static int group_setup(void **state)
{
	char tmpl[] = "/tmp/c8s-cni-XXXXXX";
	if (!mkdtemp(tmpl))
		return -1;
	tmp_dir = xstrdup(tmpl);
	run_dir = xasprintf("%s/run", tmp_dir);
	ipam_dir = xasprintf("%s/ipam", tmp_dir);
	cfg.state_dir = ipam_dir;
	host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (host_netns < 0 || unshare(CLONE_NEWNET) < 0)
		return -1;
	return 0;
}

/* Sandboxes a failed test leaves (what they had in the lab goes with it). */
static int teardown(void **state)
{
	const char *uids[] = { "pod-a", "pod-b", "pod-p", "pod-e" };
	for (size_t i = 0; i < ARRAY_SIZE(uids); i++) {
		struct sandbox sb;
		if (sandbox_open(run_dir, uids[i], &sb) == 0) {
			(void)sandbox_destroy(&sb);
			sandbox_release(&sb);
		}
	}
	return 0;
}

static int group_teardown(void **state)
{
	/* Back home; the lab namespace and all in it are gone with us. */
	assert_int_equal(setns(host_netns, CLONE_NEWNET), 0);
	close(host_netns);
	assert_int_equal(rt_rm_rf(tmp_dir), 0);
	free(ipam_dir);
	free(run_dir);
	free(tmp_dir);
	return 0;
}

/* Host-side veths in the lab namespace. */
static int count_veths(void)
{
	struct if_nameindex *ifs = if_nameindex();
	int n = 0;
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		n += startswith(i->if_name, "veth");
	if_freenameindex(ifs);
	return n;
}

/* Links whose master is the bridge c8s0 (in the lab namespace). */
static int bridge_ports(void)
{
	const char *argv[] = { "/usr/sbin/ip", "-o", "link", "show", "master", "c8s0", NULL };
	struct spawn_opts so = { .argv = argv };
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	if (spawn_run(&so, NULL, 0, &out, NULL, 10000) != 0)
		return -1;
	int n = 0;
	for (const char *p = strbuf_str(&out); (p = strstr(p, ": veth")); p++)
		n++;
	return n;
}

static bool in_pod_cidr(const char *ip)
{
	return startswith(ip, "10.244.7.") && !streq(ip, "10.244.7.1");
}

static int ping(const char *netns, const char *ip)
{
	const char *argv[] = { "/bin/busybox", "ping", "-c", "1", "-W", "5", ip, NULL };
	return harness_run_in_netns(netns, argv);
}

static void make_pod(const char *uid, struct sandbox *sb)
{
	_cleanup_free_ char *err = NULL;
	if (sandbox_create(run_dir, uid, uid, sb, &err) < 0)
		fail_msg("sandbox %s: %s", uid, err);
}

static void test_two_pods(void **state)
{
	struct sandbox a = { 0 }, b = { 0 };
	make_pod("pod-a", &a);
	make_pod("pod-b", &b);
	assert_int_equal(count_veths(), 0);

	_cleanup_free_ char *ip_a = NULL, *ip_b = NULL, *err = NULL;
	uint64_t t0 = now_usec_monotonic();
	if (cni_add(&cfg, "ctr-a", a.netns, "eth0", NULL, &ip_a, &err) < 0)
		fail_msg("cni_add a: %s", err);
	uint64_t t1 = now_usec_monotonic();
	if (cni_add(&cfg, "ctr-b", b.netns, "eth0", NULL, &ip_b, &err) < 0)
		fail_msg("cni_add b: %s", err);
	uint64_t t2 = now_usec_monotonic();
	printf("# cni_add (bridge): first %.1f ms (makes the bridge), second %.1f ms\n",
	       (double)(t1 - t0) / 1000.0, (double)(t2 - t1) / 1000.0);
	assert_true(in_pod_cidr(ip_a));
	assert_true(in_pod_cidr(ip_b));
	assert_string_not_equal(ip_a, ip_b);
	assert_true(if_nametoindex("c8s0") > 0);
	assert_int_equal(count_veths(), 2);
	assert_int_equal(bridge_ports(), 2);

	assert_int_equal(ping(a.netns, ip_b), 0);
	assert_int_equal(ping(b.netns, ip_a), 0);
	assert_int_equal(ping(a.netns, "10.244.7.1"), 0); /* the gateway on the bridge */

	/* The address is held in host-local's store until DEL. */
	_cleanup_free_ char *lease = xasprintf("%s/c8s/%s", ipam_dir, ip_a);
	assert_int_equal(access(lease, F_OK), 0);
	t0 = now_usec_monotonic();
	if (cni_del(&cfg, "ctr-a", a.netns, "eth0", NULL, &err) < 0)
		fail_msg("cni_del a: %s", err);
	printf("# cni_del (bridge): %.1f ms\n", (double)(now_usec_monotonic() - t0) / 1000.0);
	assert_int_equal(count_veths(), 1);
	assert_int_equal(bridge_ports(), 1);
	assert_int_equal(access(lease, F_OK), -1);
	assert_int_not_equal(ping(b.netns, ip_a), 0);
	/* Idempotent, with or without the namespace. */
	assert_int_equal(cni_del(&cfg, "ctr-a", a.netns, "eth0", NULL, &err), 0);
	assert_int_equal(sandbox_destroy(&a), 0);
	assert_int_equal(cni_del(&cfg, "ctr-a", a.netns, "eth0", NULL, &err), 0);

	assert_int_equal(cni_del(&cfg, "ctr-b", b.netns, "eth0", NULL, &err), 0);
	assert_int_equal(count_veths(), 0);
	assert_int_equal(sandbox_destroy(&b), 0);
	sandbox_release(&a);
	sandbox_release(&b);
}

/* hostPort 18080 on the node reaches port 8080 of the pod (portmap
 * chained after bridge, with prevResult and runtimeConfig). */
static void test_port_mapping(void **state)
{
	struct sandbox a = { 0 };
	make_pod("pod-p", &a);
	json_t *pm = json_pack("[{s:i, s:i, s:s}]", "hostPort", 18080, "containerPort", 8080,
			       "protocol", "tcp");
	_cleanup_free_ char *ip = NULL, *err = NULL;
	if (cni_add(&cfg, "ctr-p", a.netns, "eth0", pm, &ip, &err) < 0)
		fail_msg("cni_add: %s", err);
	assert_true(in_pod_cidr(ip));

	const char *server[] = { "/bin/sh", "-c", "echo hi | /bin/busybox nc -l -p 8080", NULL };
	pid_t srv = fork();
	if (srv == 0)
		_exit(harness_run_in_netns(a.netns, server));
	assert_true(srv > 0);

	/* From the node (the lab namespace) to the bridge address. */
	const char *client[] = { "/bin/sh", "-c",
				 "for i in $(seq 100); do /bin/busybox nc 10.244.7.1 18080 "
				 "</dev/null && exit 0; sleep 0.05; done; exit 1",
				 NULL };
	struct spawn_opts so = { .argv = client };
	_cleanup_strbuf_ struct strbuf out = STRBUF_INIT;
	assert_int_equal(spawn_run(&so, NULL, 0, &out, NULL, 20000), 0);
	assert_string_equal(strbuf_str(&out), "hi\n");
	int status;
	assert_int_equal(waitpid(srv, &status, 0), srv);

	assert_int_equal(cni_del(&cfg, "ctr-p", a.netns, "eth0", pm, &err), 0);
	assert_int_equal(cni_del(&cfg, "ctr-p", a.netns, "eth0", pm, &err), 0);
	assert_int_equal(count_veths(), 0);
	assert_int_equal(sandbox_destroy(&a), 0);
	sandbox_release(&a);
	json_decref(pm);
}

static void test_errors(void **state)
{
	_cleanup_free_ char *ip = NULL, *err = NULL;
	_cleanup_free_ char *missing = xasprintf("%s/no-such-netns", tmp_dir);
	assert_int_equal(cni_add(&cfg, "ctr-x", missing, "eth0", NULL, &ip, &err), -ENOENT);
	assert_null(ip);

	/* A plugin's error comes back with its message. */
	struct sandbox a = { 0 };
	make_pod("pod-e", &a);
	struct cni_config bad = cfg;
	bad.pod_cidr = "not-a-cidr";
	assert_true(cni_add(&bad, "ctr-e", a.netns, "eth0", NULL, &ip, &err) < 0);
	printf("# bad pod CIDR: %s\n", err);
	assert_non_null(strstr(err, "bridge"));
	assert_int_equal(count_veths(), 0); /* rolled back */
	assert_int_equal(sandbox_destroy(&a), 0);
	sandbox_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_two_pods, teardown),
		cmocka_unit_test_teardown(test_port_mapping, teardown),
		cmocka_unit_test_teardown(test_errors, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
