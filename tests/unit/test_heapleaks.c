// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Unit tests of the heap leak detector: grouping, min-age, severity, merging, order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "heapleaks.h"
#include "proctree.h"

#define SEC 1000000000ULL
#define MiB (1024ULL * 1024)

static const struct heapleaks_opts opts = { .threshold_bytes = 16 * MiB, .min_age_ns = 5 * SEC };

static struct qh_alloc blk(uint64_t size, uint64_t ts, uint64_t caller)
{
	struct qh_alloc a = { .size = size, .ts_ns = ts, .caller = caller, .stack_id = -1 };

	return a;
}

static void test_grouping(void **state)
{
	struct heapleaks *h = heapleaks__new(&opts);
	struct proc p1 = { .pid = 1, .state = PROC_REAPED, .end_ns = 100 * SEC };
	struct proc p2 = { .pid = 2, .state = PROC_REAPED, .end_ns = 100 * SEC };
	struct qh_alloc a;
	struct heap_leak *l;
	int i;

	(void)state;
	assert_non_null(h);
	for (i = 0; i < 10; i++) {
		a = blk(1000, (90 + i) * SEC, 0x1000);
		assert_int_equal(heapleaks__add(h, &p1, &a, 7, false, 100 * SEC), 0);
	}
	a = blk(50, 95 * SEC, 0x1000); /* same caller, another stack */
	heapleaks__add(h, &p1, &a, 8, false, 100 * SEC);
	a = blk(4096, 99 * SEC, 0x2000); /* another caller */
	heapleaks__add(h, &p1, &a, 7, false, 100 * SEC);
	a = blk(1000, 99 * SEC, 0x1000); /* same site, another process */
	heapleaks__add(h, &p2, &a, 7, false, 100 * SEC);
	heapleaks__finish(h, 200 * SEC);

	assert_int_equal(heapleaks__count(h), 4);
	assert_int_equal(heapleaks__total_blocks(h), 13);
	assert_int_equal(heapleaks__total_bytes(h), 10000 + 50 + 4096 + 1000);
	/* largest first */
	l = heapleaks__get(h, 0);
	assert_ptr_equal(l->proc, &p1);
	assert_int_equal(l->count, 10);
	assert_int_equal(l->bytes, 10000);
	assert_int_equal(l->oldest_ns, 90 * SEC);
	/* an exited process's blocks age until its exit, not until now */
	assert_true(l->age_s > 9.99 && l->age_s < 10.01);
	assert_true(l->growth_bytes_per_s > 999 && l->growth_bytes_per_s < 1001);
	assert_int_equal(heapleaks__get(h, 1)->bytes, 4096);
	assert_int_equal(heapleaks__get(h, 2)->bytes, 1000);
	assert_ptr_equal(heapleaks__get(h, 2)->proc, &p2);
	assert_int_equal(heapleaks__get(h, 3)->bytes, 50);
	assert_null(heapleaks__get(h, 4));
	heapleaks__free(h);
}

static void test_min_age(void **state)
{
	struct heapleaks *h = heapleaks__new(&opts);
	struct proc run = { .pid = 1, .state = PROC_RUNNING };
	struct proc dead = { .pid = 2, .state = PROC_EXITED, .end_ns = 100 * SEC };
	struct qh_alloc young = blk(10, 99 * SEC, 1), old = blk(20, 90 * SEC, 1);

	(void)state;
	/* running: only blocks older than min_age (5 s) at the check */
	heapleaks__add(h, &run, &young, 0, false, 100 * SEC);
	heapleaks__add(h, &run, &old, 0, false, 100 * SEC);
	/* exited: every block it left */
	heapleaks__add(h, &dead, &young, 0, false, 100 * SEC);
	heapleaks__finish(h, 100 * SEC);
	assert_int_equal(heapleaks__count(h), 2);
	assert_int_equal(heapleaks__total_bytes(h), 30);
	assert_int_equal(heapleaks__get(h, 0)->bytes, 20);
	assert_ptr_equal(heapleaks__get(h, 0)->proc, &run);
	assert_ptr_equal(heapleaks__get(h, 1)->proc, &dead);
	heapleaks__free(h);
}

static void test_severity(void **state)
{
	uint64_t t = 16 * MiB;

	(void)state;
	assert_int_equal(severity__of(0, 0, t), SEV_LOW);
	assert_int_equal(severity__of(t / 16 - 1, 0, t), SEV_LOW);
	assert_int_equal(severity__of(t / 16, 0, t), SEV_MEDIUM);
	assert_int_equal(severity__of(t / 4, 0, t), SEV_HIGH);
	assert_int_equal(severity__of(t, 0, t), SEV_CRITICAL);
	/* growing by the threshold per minute: one level up, critical stays critical */
	assert_int_equal(severity__of(0, t / 60.0, t), SEV_MEDIUM);
	assert_int_equal(severity__of(t / 4, t / 60.0, t), SEV_CRITICAL);
	assert_int_equal(severity__of(t, t, t), SEV_CRITICAL);
	assert_string_equal(severity__str(SEV_LOW), "low");
	assert_string_equal(severity__str(SEV_CRITICAL), "critical");
}

static void test_rate_needs_age(void **state)
{
	struct heapleaks *h = heapleaks__new(&opts);
	struct proc fast = { .pid = 1, .state = PROC_REAPED, .end_ns = 1 * SEC + SEC / 10 };
	struct proc slow = { .pid = 2, .state = PROC_REAPED, .end_ns = 100 * SEC };
	struct qh_alloc a = blk(MiB / 2, 1 * SEC, 1), b = blk(8 * MiB, 60 * SEC, 2);

	(void)state;
	/* 512 KiB in 0.1 s is 300 MiB/min, but 0.1 s says nothing of a trend: low */
	heapleaks__add(h, &fast, &a, 0, false, 100 * SEC);
	/* 8 MiB over 40 s: 12 MiB/min, under the 16 MiB/min bump; high from 4 MiB */
	heapleaks__add(h, &slow, &b, 0, false, 100 * SEC);
	heapleaks__finish(h, 100 * SEC);
	assert_int_equal(heapleaks__get(h, 0)->severity, SEV_HIGH);
	assert_int_equal(heapleaks__get(h, 1)->severity, SEV_LOW);
	heapleaks__free(h);
}

static struct heap_frame *frames(const char *sym, uint64_t addr, uint32_t line)
{
	struct heap_frame *f = calloc(1, sizeof(*f));

	f->addr = addr;
	f->symbol = sym ? strdup(sym) : NULL;
	f->module = strdup("/bin/x");
	f->file = strdup("x.c");
	f->line = line;
	return f;
}

static void test_merge_same_frames(void **state)
{
	struct heapleaks *h = heapleaks__new(&opts);
	struct proc p = { .pid = 1, .state = PROC_REAPED, .end_ns = 100 * SEC };
	struct qh_alloc a = blk(100, 50 * SEC, 0x10), b = blk(200, 40 * SEC, 0x20),
			c = blk(300, 60 * SEC, 0x30), d = blk(400, 60 * SEC, 0x40);

	(void)state;
	heapleaks__add(h, &p, &a, 0, false, 100 * SEC);
	heapleaks__add(h, &p, &b, 0, false, 100 * SEC);
	heapleaks__add(h, &p, &c, 0, false, 100 * SEC);
	heapleaks__add(h, &p, &d, 0, false, 100 * SEC);
	heapleaks__finish(h, 100 * SEC);
	assert_int_equal(heapleaks__count(h), 4);
	/* in bytes order now: d, c, b, a. a and b: two calls on one line (same function and
	 * line, other addresses); c: another line; d: no symbol */
	heap_leak__set_frames(heapleaks__get(h, 3), frames("f", 0x10, 7), 1);
	heap_leak__set_frames(heapleaks__get(h, 2), frames("f", 0x20, 7), 1);
	heap_leak__set_frames(heapleaks__get(h, 1), frames("f", 0x30, 8), 1);
	heap_leak__set_frames(heapleaks__get(h, 0), frames(NULL, 0x40, 0), 1);
	heapleaks__merge_same_frames(h);
	assert_int_equal(heapleaks__count(h), 3);
	assert_int_equal(heapleaks__get(h, 0)->bytes, 400);
	/* a + b and c weigh the same: more blocks first */
	assert_int_equal(heapleaks__get(h, 1)->bytes, 300);
	assert_int_equal(heapleaks__get(h, 1)->count, 2);
	assert_int_equal(heapleaks__get(h, 1)->oldest_ns, 40 * SEC);
	assert_int_equal(heapleaks__get(h, 2)->bytes, 300);
	assert_int_equal(heapleaks__get(h, 2)->count, 1);
	assert_int_equal(heapleaks__total_bytes(h), 1000);
	heapleaks__free(h);
}

static void test_sort_by_count(void **state)
{
	struct heapleaks_opts o = opts;
	struct heapleaks *h;
	struct proc p = { .pid = 1, .state = PROC_REAPED, .end_ns = 100 * SEC };
	struct qh_alloc big = blk(MiB, 50 * SEC, 1), small = blk(8, 50 * SEC, 2);
	int i;

	(void)state;
	o.by_count = true;
	h = heapleaks__new(&o);
	heapleaks__add(h, &p, &big, 0, false, 100 * SEC);
	for (i = 0; i < 3; i++)
		heapleaks__add(h, &p, &small, 0, false, 100 * SEC);
	heapleaks__finish(h, 100 * SEC);
	assert_int_equal(heapleaks__get(h, 0)->count, 3);
	assert_int_equal(heapleaks__get(h, 1)->bytes, MiB);
	heapleaks__free(h);
}

static void test_trend(void **state)
{
	struct heaptrend *tr = heaptrend__new();
	struct proc p = { .pid = 1, .state = PROC_RUNNING };
	struct qh_alloc a = blk(1000, 1 * SEC, 1), b = blk(50, 1 * SEC, 2);
	struct heapleaks *h;
	int check, i;

	(void)state;
	/* site 1 grows at every check, site 2 stays flat */
	for (check = 1; check <= 5; check++) {
		h = heapleaks__new(&(struct heapleaks_opts){ .threshold_bytes = UINT64_MAX });
		for (i = 0; i < check; i++)
			heapleaks__add(h, &p, &a, 0, false, 100 * SEC);
		heapleaks__add(h, &p, &b, 0, false, 100 * SEC);
		heapleaks__finish(h, 100 * SEC);
		assert_int_equal(heaptrend__observe(tr, h), 0);
		heapleaks__free(h);
	}
	h = heapleaks__new(&opts);
	for (i = 0; i < 5; i++)
		heapleaks__add(h, &p, &a, 0, false, 100 * SEC);
	heapleaks__add(h, &p, &b, 0, false, 100 * SEC);
	heapleaks__finish(h, 100 * SEC);
	heaptrend__apply(tr, h);
	assert_int_equal(heapleaks__get(h, 0)->growing_checks, 4);
	assert_int_equal(heapleaks__get(h, 0)->severity, SEV_MEDIUM); /* low, one level up */
	assert_int_equal(heapleaks__get(h, 1)->growing_checks, 0);
	assert_int_equal(heapleaks__get(h, 1)->severity, SEV_LOW);
	heapleaks__free(h);
	heaptrend__free(tr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grouping),
		cmocka_unit_test(test_min_age),
		cmocka_unit_test(test_severity),
		cmocka_unit_test(test_rate_needs_age),
		cmocka_unit_test(test_merge_same_frames),
		cmocka_unit_test(test_sort_by_count),
		cmocka_unit_test(test_trend),
	};

	return cmocka_run_group_tests_name("heapleaks", tests, NULL, NULL);
}
