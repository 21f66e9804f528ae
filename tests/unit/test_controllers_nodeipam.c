/* SPDX-License-Identifier: Apache-2.0 */
#include <sys/socket.h>

#include "unit.h"

#include "controllers/nodeipam.h"

static void init_ok(struct cidr_set *s, const char *cidr, int bits)
{
	char *err = NULL;
	assert_int_equal(cidr_set_init(s, cidr, bits, &err), 0);
	assert_null(err);
}

static void expect_next(struct cidr_set *s, const char *want)
{
	char buf[CIDR_MAX];
	assert_int_equal(cidr_set_allocate(s, buf), 0);
	assert_string_equal(buf, want);
}

static void test_sequential(void **state)
{
	struct cidr_set s;
	init_ok(&s, "10.42.0.0/16", 24);
	assert_int_equal(s.max, 256);
	expect_next(&s, "10.42.0.0/24");
	expect_next(&s, "10.42.1.0/24");
	expect_next(&s, "10.42.2.0/24");
	assert_int_equal(s.used, 3);
	cidr_set_release(&s);
}

static void test_base_is_masked(void **state)
{
	/* A cluster CIDR written with host bits set still starts at its network. */
	struct cidr_set s;
	init_ok(&s, "10.42.7.9/16", 24);
	expect_next(&s, "10.42.0.0/24");
	cidr_set_release(&s);
}

static void test_rebuild_skips_used(void **state)
{
	/* Rebuilt from existing nodes: what they hold is never handed out. */
	struct cidr_set s;
	init_ok(&s, "10.42.0.0/16", 24);
	assert_int_equal(cidr_set_occupy(&s, "10.42.0.0/24"), 0);
	assert_int_equal(cidr_set_occupy(&s, "10.42.2.0/24"), 0);
	assert_int_equal(cidr_set_occupy(&s, "10.42.2.0/24"), 0); /* idempotent */
	assert_int_equal(s.used, 2);
	expect_next(&s, "10.42.1.0/24");
	expect_next(&s, "10.42.3.0/24");
	cidr_set_release(&s);
}

static void test_release_and_full(void **state)
{
	struct cidr_set s;
	char buf[CIDR_MAX];
	init_ok(&s, "192.168.0.0/24", 26); /* four /26 */
	expect_next(&s, "192.168.0.0/26");
	expect_next(&s, "192.168.0.64/26");
	expect_next(&s, "192.168.0.128/26");
	expect_next(&s, "192.168.0.192/26");
	assert_int_equal(cidr_set_allocate(&s, buf), -ENOSPC);
	/* A freed CIDR is the only one left: it comes back. */
	assert_int_equal(cidr_set_vacate(&s, "192.168.0.64/26"), 0);
	assert_int_equal(s.used, 3);
	expect_next(&s, "192.168.0.64/26");
	assert_int_equal(cidr_set_allocate(&s, buf), -ENOSPC);
	cidr_set_release(&s);
}

static void test_rotation(void **state)
{
	/* A released CIDR is not reused at once while others are free. */
	struct cidr_set s;
	init_ok(&s, "10.42.0.0/16", 24);
	expect_next(&s, "10.42.0.0/24");
	expect_next(&s, "10.42.1.0/24");
	assert_int_equal(cidr_set_vacate(&s, "10.42.0.0/24"), 0);
	expect_next(&s, "10.42.2.0/24");
	cidr_set_release(&s);
}

static void test_occupy_larger_and_smaller(void **state)
{
	struct cidr_set s;
	init_ok(&s, "10.42.0.0/16", 24);
	/* A /23 covers two node CIDRs. */
	assert_int_equal(cidr_set_occupy(&s, "10.42.0.0/23"), 0);
	assert_int_equal(s.used, 2);
	/* A /28 inside a node CIDR takes that node CIDR. */
	assert_int_equal(cidr_set_occupy(&s, "10.42.5.16/28"), 0);
	assert_int_equal(s.used, 3);
	expect_next(&s, "10.42.2.0/24");
	/* The whole cluster range (or more). */
	assert_int_equal(cidr_set_occupy(&s, "10.0.0.0/8"), 0);
	assert_int_equal(s.used, 256);
	cidr_set_release(&s);
}

static void test_occupy_outside_and_invalid(void **state)
{
	struct cidr_set s;
	init_ok(&s, "10.42.0.0/16", 24);
	assert_int_equal(cidr_set_occupy(&s, "10.43.0.0/24"), -ERANGE);
	assert_int_equal(cidr_set_occupy(&s, "192.168.0.0/8"), -ERANGE);
	assert_int_equal(cidr_set_occupy(&s, "fd00::/64"), -EINVAL);
	assert_int_equal(cidr_set_occupy(&s, "10.42.0.0"), -EINVAL);
	assert_int_equal(cidr_set_occupy(&s, "10.42.0.0/33"), -EINVAL);
	assert_int_equal(cidr_set_occupy(&s, "nonsense/24"), -EINVAL);
	assert_int_equal(s.used, 0);
	cidr_set_release(&s);
}

static void test_ipv6(void **state)
{
	struct cidr_set s;
	init_ok(&s, "fd00:10:42::/56", 64);
	assert_int_equal(s.max, 256);
	expect_next(&s, "fd00:10:42::/64");
	expect_next(&s, "fd00:10:42:1::/64");
	assert_int_equal(cidr_set_occupy(&s, "fd00:10:42:2::/64"), 0);
	expect_next(&s, "fd00:10:42:3::/64");
	assert_int_equal(cidr_set_occupy(&s, "10.42.0.0/24"), -EINVAL);
	cidr_set_release(&s);
}

static void test_bad_config(void **state)
{
	struct cidr_set s;
	char *err = NULL;
	assert_int_equal(cidr_set_init(&s, "10.42.0.0/16", 8, &err), -EINVAL);
	assert_non_null(strstr(err, "between"));
	free(err);
	err = NULL;
	assert_int_equal(cidr_set_init(&s, "10.0.0.0/8", 28, &err), -EINVAL);
	assert_non_null(strstr(err, "too large"));
	free(err);
	err = NULL;
	assert_int_equal(cidr_set_init(&s, "10.0.0.0", 24, &err), -EINVAL);
	assert_non_null(strstr(err, "invalid cluster CIDR"));
	free(err);
	err = NULL;
	assert_int_equal(cidr_set_init(&s, "10.42.0.0/16", 33, &err), -EINVAL);
	free(err);
}

static void test_single_subnet(void **state)
{
	/* node mask == cluster mask: one node CIDR, the cluster CIDR itself. */
	struct cidr_set s;
	char buf[CIDR_MAX];
	init_ok(&s, "10.42.0.0/24", 24);
	expect_next(&s, "10.42.0.0/24");
	assert_int_equal(cidr_set_allocate(&s, buf), -ENOSPC);
	cidr_set_release(&s);
}

static void test_parse(void **state)
{
	int family, bits;
	unsigned __int128 a;
	assert_int_equal(cidr_parse("10.1.2.3/8", &family, &a, &bits), 0);
	assert_int_equal(family, AF_INET);
	assert_int_equal(bits, 8);
	assert_true(a == (((unsigned __int128)10 << 24) | (1 << 16) | (2 << 8) | 3));
	assert_int_equal(cidr_parse("10.1.2.3/", &family, &a, &bits), -EINVAL);
	assert_int_equal(cidr_parse("/8", &family, &a, &bits), -EINVAL);
	assert_int_equal(cidr_parse("10.1.2.3/-1", &family, &a, &bits), -EINVAL);
	assert_int_equal(cidr_parse("10.1.2.3/8x", &family, &a, &bits), -EINVAL);
	assert_int_equal(cidr_parse(NULL, &family, &a, &bits), -EINVAL);
	assert_int_equal(cidr_parse("::1/128", &family, &a, &bits), 0);
	assert_int_equal(family, AF_INET6);
	assert_true(a == 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_base_is_masked),
		cmocka_unit_test(test_rebuild_skips_used),
		cmocka_unit_test(test_release_and_full),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_occupy_larger_and_smaller),
		cmocka_unit_test(test_occupy_outside_and_invalid),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_single_subnet),
		cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
