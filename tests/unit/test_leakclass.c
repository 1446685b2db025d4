// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* leakclass: --leak-kinds, the holds' table, the runtime's stacks, suppressions; and
 * heapleaks__sift, which puts them together on findings. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "heapleaks.h"
#include "leakclass.h"
#include "proctree.h"
#include "qhtrace.h"

static void test_kinds(void **state)
{
	uint32_t m;
	char why[160], buf[128];

	(void)state;
	assert_int_equal(leak_kinds__parse("definite,indirect", &m, why, sizeof(why)), 0);
	assert_int_equal(m, LEAK_KINDS_DEFAULT);
	assert_int_equal(leak_kinds__parse("possibly_lost,reachable", &m, why, sizeof(why)), 0);
	assert_int_equal(m, (1U << LEAK_POSSIBLY_LOST) | (1U << LEAK_STILL_REACHABLE));
	assert_int_equal(leak_kinds__parse("all", &m, why, sizeof(why)), 0);
	assert_int_equal(m, (1U << LEAK__KINDS) - 1);
	assert_int_equal(leak_kinds__parse("none", &m, why, sizeof(why)), 0);
	assert_int_equal(m, 0);
	assert_int_equal(leak_kinds__parse("definite,lost", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "'lost' is not one of"));
	assert_int_equal(leak_kinds__parse("", &m, why, sizeof(why)), -EINVAL);
	leak_kinds__str(LEAK_KINDS_DEFAULT | (1U << LEAK_UNCLASSIFIED), buf, sizeof(buf));
	assert_string_equal(buf, "definitely_lost,indirectly_lost,unclassified");
	assert_string_equal(leak_kind__name(LEAK_STILL_REACHABLE), "still_reachable");
	assert_string_equal(leak_kind__name(9), "unknown");
}

static void test_table(void **state)
{
	struct leakclass *c = leakclass__new();
	struct leakclass_block b[] = { { 0x3000, LEAK_STILL_REACHABLE },
				       { 0x1000, LEAK_DEFINITELY_LOST },
				       { 0x2000, LEAK_INDIRECTLY_LOST } };
	struct leakclass_proc p = { .tgid = 10, .gen = 2, .classified = true, .n = 3, .v = b };
	struct leakclass_proc k = { .tgid = 11, .gen = 1 };
	const char *why;

	(void)state;
	assert_int_equal(leakclass__add(c, &p), 0);
	snprintf(k.reason, sizeof(k.reason), "killed by signal SIGKILL");
	assert_int_equal(leakclass__add(c, &k), 0);
	/* sorted by address, copied */
	b[0].kind = LEAK_POSSIBLY_LOST;
	assert_int_equal(leakclass__kind(c, 10, 2, 0x1000, &why), LEAK_DEFINITELY_LOST);
	assert_int_equal(leakclass__kind(c, 10, 2, 0x3000, &why), LEAK_STILL_REACHABLE);
	assert_null(why);
	assert_int_equal(leakclass__kind(c, 10, 2, 0x2000, &why), LEAK_INDIRECTLY_LOST);
	/* a block the scan did not see */
	assert_int_equal(leakclass__kind(c, 10, 2, 0x4000, &why), LEAK_UNCLASSIFIED);
	assert_string_equal(why, "made after the scan");
	/* another generation (after exec), another process: nothing known */
	assert_int_equal(leakclass__kind(c, 10, 3, 0x1000, &why), LEAK_UNCLASSIFIED);
	assert_null(why);
	assert_int_equal(leakclass__kind(c, 11, 1, 0x1000, &why), LEAK_UNCLASSIFIED);
	assert_string_equal(why, "killed by signal SIGKILL");
	/* a newer record replaces */
	p.n = 1;
	p.v = &b[1];
	assert_int_equal(leakclass__add(c, &p), 0);
	assert_int_equal(leakclass__count(c), 2);
	assert_int_equal(leakclass__kind(c, 10, 2, 0x2000, &why), LEAK_UNCLASSIFIED);
	/* the window of a scan of a running process */
	p.stop_ns = 1000;
	p.gen = 5;
	assert_int_equal(leakclass__add(c, &p), 0);
	assert_true(leakclass__after_scan(c, 10, 5, 1000));
	assert_false(leakclass__after_scan(c, 10, 5, 999));
	assert_false(leakclass__after_scan(c, 10, 2, 5000)); /* an exit: no window */
	leakclass__free(c);
}

static void test_runtime(void **state)
{
	struct heap_frame f[3] = {
		{ .symbol = "_IO_file_doallocate", .module = "/usr/lib/x86_64-linux-gnu/libc.so.6" },
		{ .symbol = "_dl_allocate_tls", .module = "/usr/lib64/ld-linux-x86-64.so.2" },
		{ .symbol = "__cxa_allocate_exception",
		  .module = "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30" },
	};

	(void)state;
	assert_true(leakclass__is_runtime_stack(f, 3));
	assert_true(leakclass__is_runtime_module("libgcc_s.so.1"));
	assert_false(leakclass__is_runtime_module("/usr/lib/libcrypto.so.3"));
	assert_false(leakclass__is_runtime_module("/opt/app/libc-helpers")); /* no .so */
	assert_false(leakclass__is_runtime_module(NULL));
	/* one frame of the program: not the runtime's */
	f[1].module = "/work/app";
	assert_false(leakclass__is_runtime_stack(f, 3));
	/* an unknown frame (no module) is not the runtime's either */
	f[1].module = NULL;
	assert_false(leakclass__is_runtime_stack(f, 3));
	assert_false(leakclass__is_runtime_stack(f, 0));
}

static void test_template_match(void **state)
{
	(void)state;
	/* LeakSanitizer's rules */
	assert_true(leaksupp__template_match("foo", "libfoo.so"));
	assert_true(leaksupp__template_match("^foo", "foobar"));
	assert_false(leaksupp__template_match("^foo", "xfoo"));
	assert_true(leaksupp__template_match("foo$", "xfoo"));
	assert_false(leaksupp__template_match("foo$", "foox"));
	assert_true(leaksupp__template_match("a*c", "abbbc"));
	assert_true(leaksupp__template_match("^a*c$", "abc"));
	assert_false(leaksupp__template_match("^a*c$", "abcd"));
	assert_true(leaksupp__template_match("*", "anything"));
	assert_true(leaksupp__template_match("std::*::alloc", "std::vector<int>::alloc"));
	assert_false(leaksupp__template_match("foo", ""));
	assert_false(leaksupp__template_match("foo", NULL));
	/* each chunk at its first occurrence, as LSan does: "foo$" on "foofoo" fails there */
	assert_false(leaksupp__template_match("foo$", "foofoo"));
}

static void test_suppressions(void **state)
{
	struct leaksupp s = {};
	char why[256];
	struct heap_frame f[2] = {
		{ .symbol = "make_lost", .file = "/src/reach_classes.c", .module = "/bin/reach" },
		{ .symbol = "main", .file = "/src/reach_classes.c", .module = "/bin/reach" },
	};

	(void)state;
	assert_int_equal(leaksupp__parse(&s, "a.supp",
					 "# comment\n\n  leak:make_lost  \nleak:^libfoo.so$\r\n"
					 "leak:reach_classes.c",
					 why, sizeof(why)),
			 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].pattern, "make_lost");
	assert_int_equal(s.v[0].line, 3);
	assert_string_equal(s.v[1].pattern, "^libfoo.so$");
	assert_int_equal(s.v[2].line, 5);
	assert_int_equal(leaksupp__match(&s, f, 2), 0);
	assert_int_equal(leaksupp__match(&s, &f[1], 1), 2); /* by the source file */
	f[1].file = NULL;
	assert_int_equal(leaksupp__match(&s, &f[1], 1), -1);
	/* malformed: refused with the line number, nothing of that file kept */
	assert_int_equal(leaksupp__parse(&s, "b.supp", "leak:x\nrace:y\n", why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "b.supp:2: 'race' is not a leak suppression"));
	assert_int_equal(s.n, 3);
	assert_int_equal(leaksupp__parse(&s, "c.supp", "leak:\n", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "c.supp:1: leak: with an empty pattern"));
	assert_int_equal(leaksupp__parse(&s, "d.supp", "make_lost\n", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "d.supp:1: expected leak:PATTERN"));
	assert_int_equal(leaksupp__load(&s, "/nonexistent/x.supp", why, sizeof(why)), -ENOENT);
	leaksupp__free(&s);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/qh-supp-XXXXXX", why[256];
	struct leaksupp s = {};
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "leak:a\nleak:b\n", 14), 14);
	close(fd);
	assert_int_equal(leaksupp__load(&s, path, why, sizeof(why)), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[1].file, path);
	unlink(path);
	leaksupp__free(&s);
}

/* a finding of @kind whose one frame is in @module */
static void add(struct heapleaks *h, struct proc *p, uint64_t caller, int kind, uint64_t size,
		const char *symbol, const char *module)
{
	struct qh_alloc a = { .size = size, .ts_ns = 1, .caller = caller, .stack_id = -1 };
	struct heap_frame *f = calloc(1, sizeof(*f));
	size_t i;

	assert_int_equal(heapleaks__add_kind(h, p, &a, 0, false, -1, kind, NULL, 2), 0);
	for (i = 0; i < heapleaks__count(h); i++) {
		struct heap_leak *l = heapleaks__get(h, i);

		if (l->caller == caller && l->kind == kind && !l->frames) {
			f->symbol = strdup(symbol);
			f->module = strdup(module);
			heap_leak__set_frames(l, f, 1);
			return;
		}
	}
	free(f);
}

static void test_sift(void **state)
{
	struct heapleaks *h = heapleaks__new(&(struct heapleaks_opts){ .threshold_bytes = 1 << 20 });
	struct proctree *t = proctree__new();
	struct proc *p = proctree__add(t, 100, 1);
	const struct heapleaks_totals *tot;
	struct leaksupp s = {};
	char why[128];
	size_t i, counted = 0;

	(void)state;
	p->state = PROC_EXITED;
	add(h, p, 0x10, LEAK_DEFINITELY_LOST, 32, "make_lost", "/bin/app");
	add(h, p, 0x10, LEAK_DEFINITELY_LOST, 32, "make_lost", "/bin/app");
	add(h, p, 0x20, LEAK_INDIRECTLY_LOST, 48, "suppress_me", "/bin/app");
	add(h, p, 0x30, LEAK_STILL_REACHABLE, 1000, "keep", "/bin/app");
	add(h, p, 0x40, LEAK_STILL_REACHABLE, 4096, "_IO_file_doallocate", "/lib/libc.so.6");
	add(h, p, 0x50, LEAK_UNCLASSIFIED, 7, "other", "/bin/app");
	heapleaks__finish(h, 3);
	assert_int_equal(heapleaks__count(h), 5);
	assert_null(heapleaks__totals(h));
	assert_int_equal(leaksupp__parse(&s, "s", "leak:suppress_me\nleak:unused\n", why,
					 sizeof(why)), 0);
	heapleaks__sift(h, LEAK_KINDS_DEFAULT, &s, false);
	tot = heapleaks__totals(h);
	assert_non_null(tot);
	/* the runtime's block and the suppressed one are gone from the list */
	assert_int_equal(heapleaks__count(h), 3);
	assert_int_equal(tot->blocks[LEAK_DEFINITELY_LOST], 2);
	assert_int_equal(tot->bytes[LEAK_DEFINITELY_LOST], 64);
	assert_int_equal(tot->blocks[LEAK_INDIRECTLY_LOST], 0);
	assert_int_equal(tot->bytes[LEAK_STILL_REACHABLE], 1000);
	assert_int_equal(tot->bytes[LEAK_UNCLASSIFIED], 7);
	assert_int_equal(tot->rt_bytes[LEAK_STILL_REACHABLE], 4096);
	assert_int_equal(tot->suppressed_bytes, 48);
	assert_int_equal(s.v[0].count, 1);
	assert_int_equal(s.v[0].bytes, 48);
	assert_int_equal(s.v[1].count, 0);
	assert_int_equal(tot->counted, 1);
	/* the counted one first, though it is the smallest */
	assert_true(heapleaks__get(h, 0)->counted);
	assert_int_equal(heapleaks__get(h, 0)->kind, LEAK_DEFINITELY_LOST);
	for (i = 0; i < heapleaks__count(h); i++)
		counted += heapleaks__get(h, i)->counted;
	assert_int_equal(counted, 1);
	heapleaks__free(h);
	leaksupp__free(&s);

	/* --show-runtime keeps the runtime's finding listed, never counted */
	h = heapleaks__new(&(struct heapleaks_opts){ .threshold_bytes = 1 << 20 });
	add(h, p, 0x40, LEAK_DEFINITELY_LOST, 4096, "_IO_file_doallocate", "/lib/libc.so.6");
	heapleaks__finish(h, 3);
	heapleaks__sift(h, (1U << LEAK__KINDS) - 1, NULL, true);
	assert_int_equal(heapleaks__count(h), 1);
	assert_true(heapleaks__get(h, 0)->runtime);
	assert_false(heapleaks__get(h, 0)->counted);
	assert_int_equal(heapleaks__totals(h)->rt_blocks[LEAK_DEFINITELY_LOST], 1);
	assert_int_equal(heapleaks__totals(h)->blocks[LEAK_DEFINITELY_LOST], 0);
	heapleaks__free(h);
	proctree__free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_runtime),
		cmocka_unit_test(test_template_match),
		cmocka_unit_test(test_suppressions),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_sift),
	};

	return cmocka_run_group_tests_name("leakclass", tests, NULL, NULL);
}
