// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The monitor's memory budget: qhtrace's RSS read from /proc/self/statm (parsed, and seen to
 * grow by what the test touches) and the policy (ok, fold from 80%, drop from 100%).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "membudget.h"
#include "selfmem.h"

#define MiB (1ULL << 20)

static void test_parse_statm(void **state)
{
	uint64_t rss = 1;

	(void)state;
	assert_int_equal(selfmem__parse_statm("5270 1329 1004 222 0 339 0\n", 4096, &rss), 0);
	assert_int_equal(rss, 1329ULL * 4096);
	assert_int_equal(selfmem__parse_statm("5270 0 0 222 0 339 0", 65536, &rss), 0);
	assert_int_equal(rss, 0);
	rss = 7;
	assert_int_equal(selfmem__parse_statm("", 4096, &rss), -EINVAL);
	assert_int_equal(selfmem__parse_statm("5270", 4096, &rss), -EINVAL);
	assert_int_equal(selfmem__parse_statm("x 12", 4096, &rss), -EINVAL);
	/* more resident than mapped: not a statm line */
	assert_int_equal(selfmem__parse_statm("10 11 0 0 0 0 0", 4096, &rss), -EINVAL);
	assert_int_equal(selfmem__parse_statm("18446744073709551615 18446744073709551615", 4096,
					      &rss), -EINVAL);
	assert_int_equal(rss, 7);
}

/* 64 MiB touched: the RSS read grows by as much (other threads of the test touch nothing) */
static void test_rss_self(void **state)
{
	size_t len = 64 * MiB;
	uint64_t before, after;
	char *p;

	(void)state;
	before = selfmem__rss_bytes();
	assert_true(before > 0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	memset(p, 1, len);
	after = selfmem__rss_bytes();
	assert_true(after >= before + len - MiB);
	assert_true(after <= before + len + 8 * MiB);
	munmap(p, len);
	assert_true(selfmem__rss_bytes() < after - len / 2);
}

static void test_policy(void **state)
{
	struct membudget_verdict v;

	(void)state;
	assert_int_equal(membudget__check(100, 50 * MiB, &v), 0);
	assert_int_equal(v.action, MEMBUDGET_OK);
	assert_int_equal(v.used_pct, 50);
	assert_int_equal(v.budget_bytes, 100 * MiB);
	assert_int_equal(v.fold_bytes, 80 * MiB);
	assert_int_equal(v.excess_bytes, 0);
	/* just under 80%: ok; at 80%: fold */
	assert_int_equal(membudget__check(100, 80 * MiB - 1, &v), 0);
	assert_int_equal(v.action, MEMBUDGET_OK);
	assert_int_equal(membudget__check(100, 80 * MiB, &v), 0);
	assert_int_equal(v.action, MEMBUDGET_FOLD);
	assert_int_equal(v.excess_bytes, 0);
	assert_int_equal(membudget__check(100, 99 * MiB, &v), 0);
	assert_int_equal(v.action, MEMBUDGET_FOLD);
	assert_int_equal(v.excess_bytes, 19 * MiB);
	assert_int_equal(v.used_pct, 99);
	assert_string_equal(membudget__action_str(v.action), "fold");
	/* at the budget and over it: drop, and how much to free to be back at 80% */
	assert_int_equal(membudget__check(100, 100 * MiB, &v), 0);
	assert_int_equal(v.action, MEMBUDGET_DROP);
	assert_int_equal(membudget__check(256, 384 * MiB, &v), 0);
	assert_int_equal(v.action, MEMBUDGET_DROP);
	assert_int_equal(v.used_pct, 150);
	assert_int_equal(v.excess_bytes, 384 * MiB - 256 * MiB / 100 * 80);
	assert_string_equal(membudget__action_str(v.action), "drop");
	/* no budget: always ok; the largest budget does not overflow */
	assert_int_equal(membudget__check(0, 1ULL << 40, &v), 0);
	assert_int_equal(v.action, MEMBUDGET_OK);
	assert_int_equal(membudget__check(UINT32_MAX, 1ULL << 40, &v), 0);
	assert_int_equal(v.action, MEMBUDGET_OK);
	/* RSS unknown: nothing to judge */
	assert_int_equal(membudget__check(100, 0, &v), -ENODATA);
	assert_int_equal(v.action, MEMBUDGET_OK);
	assert_string_equal(membudget__action_str(v.action), "ok");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_statm),
		cmocka_unit_test(test_rss_self),
		cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
