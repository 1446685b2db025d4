// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The process model fed with synthetic ring buffer records: what each record does to the
 * model, pid reuse, records of processes never announced, malformed records, growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "procfs.h"
#include "proctree.h"

/* a boot time well away from 0, in the middle of a tick */
#define T0 (1000ULL * procfs__tick_ns() + 1234567)

static void fill_fork(struct qh_event_fork *e, uint32_t pid, uint32_t ppid, uint64_t start,
		      const char *comm)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = QH_EV_FORK;
	e->hdr.pid = pid;
	e->hdr.ts_ns = start + 1000;
	e->hdr.start_ns = start;
	e->proc.start_ns = start;
	e->proc.ppid = ppid;
	e->proc.threads = 1;
	e->proc.threads_peak = 1;
	e->proc.rss_pages[MM_FILEPAGES] = 300;
	e->proc.rss_pages[MM_ANONPAGES] = 40;
	e->proc.rss_pages[MM_SHMEMPAGES] = 2;
	e->proc.base_rss_pages = 342;
	e->proc.peak_rss_pages = 342;
	e->proc.heap_bytes = 135168;
	e->proc.mmap_anon_bytes = 8192;
	e->proc.mmap_file_bytes = 4096;
	snprintf((char *)e->comm, sizeof(e->comm), "%s", comm);
}

static void fill_exec(struct qh_event_exec *e, uint32_t pid, uint64_t start, uint64_t ts,
		      const char *comm, const char *filename)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = QH_EV_EXEC;
	e->hdr.pid = pid;
	e->hdr.ts_ns = ts;
	e->hdr.start_ns = start;
	e->old_pid = pid;
	snprintf((char *)e->comm, sizeof(e->comm), "%s", comm);
	snprintf((char *)e->filename, sizeof(e->filename), "%s", filename);
}

static void fill_exit(struct qh_event_exit *e, uint32_t pid, uint32_t ppid, uint64_t start,
		      uint64_t ts, int status, const char *comm)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = QH_EV_EXIT;
	e->hdr.pid = pid;
	e->hdr.ts_ns = ts;
	e->hdr.start_ns = start;
	e->proc.start_ns = start;
	e->proc.ppid = ppid;
	e->proc.threads = 0;
	e->proc.threads_peak = 5;
	e->proc.rss_pages[MM_FILEPAGES] = 700;
	e->proc.rss_pages[MM_ANONPAGES] = 9000;
	e->proc.rss_pages[MM_SWAPENTS] = 11;
	e->proc.rss_pages[MM_SHMEMPAGES] = 3;
	e->proc.base_rss_pages = 400;
	e->proc.peak_rss_pages = 12345;
	e->proc.heap_bytes = 1 << 20;
	e->proc.mmap_anon_bytes = 64 << 20;
	e->proc.mmap_file_bytes = 3 << 20;
	e->proc.mmap_calls = 17;
	e->proc.munmap_calls = 6;
	e->proc.mremap_calls = 2;
	e->proc.brk_calls = 9;
	e->proc.exit_ns = ts;
	e->proc.flags = QH_PF_EXITED;
	e->proc.exit_status = status;
	snprintf((char *)e->comm, sizeof(e->comm), "%s", comm);
}

static void fill_reap(struct qh_event_reap *e, uint32_t pid, uint64_t start, uint64_t ts)
{
	memset(e, 0, sizeof(*e));
	e->hdr.type = QH_EV_REAP;
	e->hdr.pid = pid;
	e->hdr.ts_ns = ts;
	e->hdr.start_ns = start;
}

/* Feed one record; the callback must return exactly 0, whatever the record. */
#define FEED(t, e) assert_int_equal(proctree__handle_event((t), &(e), sizeof(e)), 0)

static int setup(void **state)
{
	*state = proctree__new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	proctree__free(*state);
	return 0;
}

static void test_fork_adds_child(void **state)
{
	struct proctree *t = *state;
	struct qh_event_fork f;
	struct proc *parent, *p;

	parent = proctree__add(t, 100, T0);
	assert_non_null(parent);
	assert_int_equal(proctree__set_exe(parent, "/usr/bin/make"), 0);

	fill_fork(&f, 101, 100, T0 + 5 * procfs__tick_ns(), "make");
	FEED(t, f);

	assert_int_equal(proctree__count(t), 2);
	p = proctree__find(t, 101, T0 + 5 * procfs__tick_ns());
	assert_non_null(p);
	assert_ptr_equal(parent->next, p);
	assert_int_equal(p->pid, 101);
	assert_int_equal(p->ppid, 100);
	assert_int_equal(p->start_ns, T0 + 5 * procfs__tick_ns());
	assert_string_equal(p->comm, "make");
	assert_int_equal(p->state, PROC_RUNNING);
	assert_false(p->seeded);
	assert_false(p->has_exit);
	assert_int_equal(p->end_ns, 0);
	assert_memory_equal(&p->stats, &f.proc, sizeof(f.proc));
	/* a child runs its parent's program until it execs: a copy, not the same string */
	assert_non_null(p->exe);
	assert_string_equal(p->exe, "/usr/bin/make");
	assert_ptr_not_equal(p->exe, parent->exe);

	assert_int_equal(proctree__events(t), 1);
	assert_int_equal(proctree__orphan_events(t), 0);
	assert_int_equal(proctree__bad_events(t), 0);
}

static void test_fork_unknown_parent(void **state)
{
	struct proctree *t = *state;
	struct qh_event_fork f;
	struct proc *p;

	/* the first process of a run is forked by a process that is not traced */
	fill_fork(&f, 4000, 1, T0, "init-child");
	FEED(t, f);
	p = proctree__find(t, 4000, T0);
	assert_non_null(p);
	assert_int_equal(p->ppid, 1);
	assert_null(p->exe);
	/* a fork record announces a process: it is never an orphan */
	assert_int_equal(proctree__orphan_events(t), 0);
	assert_int_equal(proctree__count(t), 1);
}

static void test_fork_inherits_running_parent_exe(void **state)
{
	struct proctree *t = *state;
	uint64_t old_start = T0, new_start = T0 + 100 * procfs__tick_ns();
	struct proc *old, *cur, *p;
	struct qh_event_fork f;
	int i;

	/*
	 * pid 50+i was used by a process that exited; the running pid 50+i is the parent,
	 * whichever of the two was discovered first (i = 0: the old one; i = 1: the new one,
	 * the old one known only from a late record)
	 */
	for (i = 0; i < 2; i++) {
		if (i == 0) {
			old = proctree__add(t, 50 + i, old_start);
			cur = proctree__add(t, 50 + i, new_start);
		} else {
			cur = proctree__add(t, 50 + i, new_start);
			old = proctree__add(t, 50 + i, old_start);
		}
		assert_ptr_not_equal(old, cur);
		proctree__set_exe(old, "/old/prog");
		old->state = PROC_REAPED;
		proctree__set_exe(cur, "/new/prog");

		fill_fork(&f, 60 + i, 50 + i, new_start + procfs__tick_ns(), "prog");
		FEED(t, f);
		p = proctree__find(t, 60 + i, new_start + procfs__tick_ns());
		assert_non_null(p);
		assert_int_equal(p->ppid, 50 + i);
		assert_string_equal(p->exe, "/new/prog");
	}
}

static void test_fork_comm_unterminated(void **state)
{
	struct proctree *t = *state;
	struct qh_event_fork f;
	struct proc *p;

	fill_fork(&f, 7, 1, T0, "");
	memcpy(f.comm, "0123456789abcdefXYZ", sizeof(f.comm)); /* no NUL in 16 bytes */
	FEED(t, f);
	p = proctree__find(t, 7, T0);
	assert_non_null(p);
	assert_string_equal(p->comm, "0123456789abcde");
}

static void test_exec_sets_comm_and_exe(void **state)
{
	struct proctree *t = *state;
	uint64_t start = T0 + 3 * procfs__tick_ns();
	struct qh_event_fork f;
	struct qh_event_exec x;
	struct proc *parent, *p;

	parent = proctree__add(t, 10, T0);
	proctree__set_exe(parent, "/bin/bash");
	fill_fork(&f, 11, 10, start, "bash");
	FEED(t, f);
	fill_exec(&x, 11, start, start + 5000, "ls", "/usr/bin/ls");
	FEED(t, x);

	p = proctree__find(t, 11, start);
	assert_non_null(p);
	assert_string_equal(p->comm, "ls");
	assert_string_equal(p->exe, "/usr/bin/ls");
	assert_string_equal(parent->exe, "/bin/bash");
	/* the new program starts with no heap and no mappings of its own */
	assert_int_equal(p->stats.heap_bytes, 0);
	assert_int_equal(p->stats.mmap_anon_bytes, 0);
	assert_int_equal(p->stats.mmap_file_bytes, 0);
	/* the rest is untouched until the next record with counters */
	assert_int_equal(p->stats.rss_pages[MM_FILEPAGES], 300);
	assert_int_equal(p->stats.ppid, 10);
	assert_int_equal(p->state, PROC_RUNNING);
	assert_int_equal(proctree__count(t), 2);
	assert_int_equal(proctree__events(t), 2);
	assert_int_equal(proctree__orphan_events(t), 0);
	assert_int_equal(proctree__bad_events(t), 0);
}

static void test_exec_filename_unterminated(void **state)
{
	struct proctree *t = *state;
	struct qh_event_exec x;
	struct proc *p;

	proctree__add(t, 12, T0);
	fill_exec(&x, 12, T0, T0 + 1, "x", "");
	memset(x.filename, 'a', sizeof(x.filename)); /* a full buffer, no NUL */
	FEED(t, x);
	p = proctree__find(t, 12, T0);
	assert_non_null(p->exe);
	assert_int_equal(strlen(p->exe), QH_FILENAME_LEN);
	assert_int_equal(p->exe[QH_FILENAME_LEN - 1], 'a');
}

static void test_exit_sets_final_state(void **state)
{
	struct proctree *t = *state;
	uint64_t end = T0 + 2000000000ULL;
	struct qh_event_fork f;
	struct qh_event_exit x;
	struct proc *p;

	fill_fork(&f, 20, 1, T0, "worker");
	FEED(t, f);
	fill_exit(&x, 20, 1, T0, end, 7 << 8, "worker2");
	FEED(t, x);

	p = proctree__find(t, 20, T0);
	assert_non_null(p);
	assert_int_equal(p->state, PROC_EXITED);
	assert_string_equal(proc_state__str(p->state), "exited");
	assert_int_equal(p->end_ns, end);
	assert_true(p->has_exit);
	assert_int_equal(p->exit_status, 7 << 8);
	assert_string_equal(p->comm, "worker2");
	assert_memory_equal(&p->stats, &x.proc, sizeof(x.proc));
	assert_int_equal(p->stats.peak_rss_pages, 12345);
	assert_int_equal(p->stats.threads_peak, 5);
	assert_int_equal(p->reap_ns, 0);
	assert_int_equal(proctree__count(t), 1);
}

static void test_exit_keeps_zombie_state(void **state)
{
	struct proctree *t = *state;
	struct qh_event_exit x;
	struct proc *p;

	p = proctree__add(t, 21, T0);
	p->state = PROC_ZOMBIE;
	fill_exit(&x, 21, 1, T0, T0 + 10, 0, "z");
	FEED(t, x);
	assert_int_equal(p->state, PROC_ZOMBIE);
	assert_true(p->has_exit);
	assert_int_equal(p->exit_status, 0);
}

static void test_reap(void **state)
{
	struct proctree *t = *state;
	struct qh_event_fork f;
	struct qh_event_exit x;
	struct qh_event_reap r;
	struct proc *p;

	fill_fork(&f, 30, 1, T0, "short");
	FEED(t, f);
	fill_exit(&x, 30, 1, T0, T0 + 500, 9, "short");
	FEED(t, x);
	fill_reap(&r, 30, T0, T0 + 900);
	FEED(t, r);

	p = proctree__find(t, 30, T0);
	assert_non_null(p);
	assert_int_equal(p->state, PROC_REAPED);
	assert_string_equal(proc_state__str(p->state), "reaped");
	assert_int_equal(p->reap_ns, T0 + 900);
	assert_int_equal(p->end_ns, T0 + 500);
	assert_int_equal(p->exit_status, 9);
	assert_int_equal(proctree__events(t), 3);
	assert_int_equal(proctree__orphan_events(t), 0);
}

static void test_pid_reuse(void **state)
{
	struct proctree *t = *state;
	uint64_t s1 = T0, s2 = T0 + procfs__tick_ns(); /* exactly one tick apart */
	struct qh_event_fork f;
	struct qh_event_exit x;
	struct qh_event_exec e;
	struct qh_event_reap r;
	struct proc *a, *b;

	fill_fork(&f, 200, 1, s1, "first");
	FEED(t, f);
	fill_exit(&x, 200, 1, s1, s1 + 100, 3 << 8, "first");
	FEED(t, x);
	fill_reap(&r, 200, s1, s1 + 200);
	FEED(t, r);

	fill_fork(&f, 200, 1, s2, "second");
	FEED(t, f);

	assert_int_equal(proctree__count(t), 2);
	a = proctree__find(t, 200, s1);
	b = proctree__find(t, 200, s2);
	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_string_equal(a->comm, "first");
	assert_string_equal(b->comm, "second");
	assert_int_equal(a->state, PROC_REAPED);
	assert_int_equal(b->state, PROC_RUNNING);
	assert_int_equal(b->start_ns, s2);

	/* records route by start time, whatever the order they come in */
	fill_exec(&e, 200, s2, s2 + 50, "second-exec", "/bin/true");
	FEED(t, e);
	fill_exit(&x, 200, 1, s2, s2 + 999, 5 << 8, "second-exec");
	FEED(t, x);
	fill_exec(&e, 200, s1, s1 + 60, "late", "/bin/late");
	FEED(t, e);

	assert_string_equal(b->exe, "/bin/true");
	assert_int_equal(b->state, PROC_EXITED);
	assert_int_equal(b->end_ns, s2 + 999);
	assert_int_equal(b->exit_status, 5 << 8);
	assert_string_equal(a->exe, "/bin/late");
	assert_int_equal(a->state, PROC_REAPED);
	assert_int_equal(a->end_ns, s1 + 100);
	assert_int_equal(a->exit_status, 3 << 8);

	assert_int_equal(proctree__count(t), 2);
	assert_int_equal(proctree__events(t), 7);
	assert_int_equal(proctree__orphan_events(t), 0);
	assert_int_equal(proctree__bad_events(t), 0);
}

static void test_orphan_records(void **state)
{
	struct proctree *t = *state;
	struct qh_event_exec e;
	struct qh_event_exit x;
	struct qh_event_reap r;
	struct proc *p;

	/* exec of a process whose fork record was lost */
	fill_exec(&e, 300, T0, T0 + 1, "lost", "/bin/lost");
	FEED(t, e);
	assert_int_equal(proctree__orphan_events(t), 1);
	assert_int_equal(proctree__count(t), 1);
	p = proctree__find(t, 300, T0);
	assert_non_null(p);
	assert_string_equal(p->comm, "lost");
	assert_string_equal(p->exe, "/bin/lost");
	assert_int_equal(p->state, PROC_RUNNING);

	/* once known, its records are not orphans any more */
	fill_exit(&x, 300, 1, T0, T0 + 2, 0, "lost");
	FEED(t, x);
	assert_int_equal(proctree__orphan_events(t), 1);
	assert_int_equal(p->state, PROC_EXITED);

	/* exit and reap of processes never seen: each one created, each counted */
	fill_exit(&x, 301, 300, T0, T0 + 3, 1 << 8, "ghost");
	FEED(t, x);
	fill_reap(&r, 302, T0, T0 + 4);
	FEED(t, r);
	assert_int_equal(proctree__orphan_events(t), 3);
	assert_int_equal(proctree__count(t), 3);
	p = proctree__find(t, 301, T0);
	assert_non_null(p);
	assert_int_equal(p->ppid, 300);
	assert_int_equal(p->state, PROC_EXITED);
	assert_int_equal(p->exit_status, 1 << 8);
	p = proctree__find(t, 302, T0);
	assert_non_null(p);
	assert_int_equal(p->state, PROC_REAPED);
	assert_int_equal(proctree__events(t), 4);
	assert_int_equal(proctree__bad_events(t), 0);
}

static void test_bad_records(void **state)
{
	struct proctree *t = *state;
	union {
		struct qh_event_fork f;
		struct qh_event_exec e;
		struct qh_event_exit x;
		struct qh_event_reap r;
		unsigned char raw[1024];
	} u;
	uint64_t bad = 0;

	memset(&u, 0, sizeof(u));
	assert_int_equal(proctree__handle_event(t, &u, 0), 0);
	bad++;
	u.f.hdr.type = QH_EV_REAP;
	assert_int_equal(proctree__handle_event(t, &u, 4), 0);
	bad++;
	assert_int_equal(proctree__handle_event(t, &u, sizeof(struct qh_event_hdr) - 1), 0);
	bad++;

	/* each record type cut one byte short */
	fill_fork(&u.f, 400, 1, T0, "cut");
	assert_int_equal(proctree__handle_event(t, &u, sizeof(u.f) - 1), 0);
	bad++;
	fill_exec(&u.e, 400, T0, T0, "cut", "/cut");
	assert_int_equal(proctree__handle_event(t, &u, sizeof(u.e) - 1), 0);
	bad++;
	fill_exit(&u.x, 400, 1, T0, T0, 0, "cut");
	assert_int_equal(proctree__handle_event(t, &u, sizeof(u.x) - 1), 0);
	bad++;

	/* unknown types, with a plausible size */
	memset(&u, 0xa5, sizeof(u));
	u.f.hdr.type = 0;
	assert_int_equal(proctree__handle_event(t, &u, sizeof(u.f)), 0);
	bad++;
	u.f.hdr.type = 99;
	assert_int_equal(proctree__handle_event(t, &u, sizeof(u)), 0);
	bad++;
	u.f.hdr.type = 0xffffffff;
	assert_int_equal(proctree__handle_event(t, &u, sizeof(struct qh_event_hdr)), 0);
	bad++;

	assert_int_equal(proctree__bad_events(t), bad);
	assert_int_equal(proctree__events(t), bad);
	assert_int_equal(proctree__count(t), 0);
	assert_int_equal(proctree__orphan_events(t), 0);

	/* longer than needed is fine: the kernel side may grow a record */
	fill_fork(&u.f, 401, 1, T0, "long");
	assert_int_equal(proctree__handle_event(t, &u, sizeof(u.f) + 8), 0);
	assert_int_equal(proctree__count(t), 1);
	assert_int_equal(proctree__bad_events(t), bad);
	assert_int_equal(proctree__events(t), bad + 1);
}

static void test_seeded_exact_start(void **state)
{
	struct proctree *t = *state;
	uint64_t tick = procfs__tick_ns();
	uint64_t exact = T0, coarse = T0 / tick * tick;
	struct qh_event_exec e;
	struct proc *p;

	assert_int_not_equal(exact, coarse);
	/* as attach__seed does it: /proc says the start to the tick */
	p = proctree__add(t, 500, coarse);
	p->seeded = true;

	fill_exec(&e, 500, exact, exact + 10, "cmd", "/usr/bin/cmd");
	FEED(t, e);
	assert_int_equal(proctree__count(t), 1);
	assert_int_equal(proctree__orphan_events(t), 0);
	assert_ptr_equal(proctree__find(t, 500, exact), p);
	assert_int_equal(p->start_ns, exact);
	assert_string_equal(p->exe, "/usr/bin/cmd");

	/* once the kernel told the exact start, only the exact start matches */
	assert_false(p->seeded);
	assert_null(proctree__find(t, 500, exact + 1));

	/* a process known from its fork record is matched exactly: a record with another
	 * start in the same tick is another process (the pid was reused within the tick) */
	p = proctree__add(t, 501, exact);
	fill_exec(&e, 501, exact + 1, exact + 10, "cmd", "/usr/bin/cmd");
	FEED(t, e);
	assert_int_equal(p->start_ns, exact);
	assert_int_equal(proctree__count(t), 3);
	assert_int_equal(proctree__orphan_events(t), 1);
}

static void test_add_and_find(void **state)
{
	struct proctree *t = *state;
	uint64_t tick = procfs__tick_ns();
	struct proc *p;

	assert_null(proctree__first(t));
	assert_int_equal(proctree__count(t), 0);
	p = proctree__add(t, 42, T0);
	assert_non_null(p);
	assert_int_equal(p->pid, 42);
	assert_int_equal(p->start_ns, T0);
	assert_int_equal(p->state, PROC_RUNNING);
	assert_null(p->exe);
	/* known exactly: the same start is the same process, any other start is not */
	assert_ptr_equal(proctree__add(t, 42, T0), p);
	assert_ptr_equal(proctree__find(t, 42, T0), p);
	assert_null(proctree__find(t, 42, T0 + 1));
	assert_null(proctree__find(t, 42, T0 / tick * tick));
	assert_null(proctree__find(t, 42, T0 - tick));
	/* seeded from /proc: any start in the same tick */
	p->seeded = true;
	assert_ptr_equal(proctree__find(t, 42, T0 / tick * tick), p);
	assert_ptr_equal(proctree__find(t, 42, T0 / tick * tick + tick - 1), p);
	assert_null(proctree__find(t, 42, T0 / tick * tick + tick));
	p->seeded = false;
	assert_null(proctree__find(t, 43, T0));
	assert_int_equal(proctree__count(t), 1);
	assert_ptr_equal(proctree__first(t), p);
	assert_null(p->next);

	assert_int_equal(proctree__set_exe(p, "/a"), 0);
	assert_int_equal(proctree__set_exe(p, "/b/c"), 0);
	assert_string_equal(p->exe, "/b/c");
}

static void test_growth(void **state)
{
	struct proctree *t = *state;
	uint64_t tick = procfs__tick_ns();
	static struct proc *added[5000];
	struct proc *p;
	uint32_t i;

	for (i = 0; i < 5000; i++) {
		/* pids that all collide in a 256-bucket table; each pid used twice */
		uint32_t pid = 1 + (i % 2500) * 256;

		added[i] = proctree__add(t, pid, T0 + i * tick);
		assert_non_null(added[i]);
	}
	assert_int_equal(proctree__count(t), 5000);
	for (i = 0; i < 5000; i++) {
		uint32_t pid = 1 + (i % 2500) * 256;

		p = proctree__find(t, pid, T0 + i * tick);
		assert_ptr_equal(p, added[i]);
		assert_int_equal(p->pid, pid);
		assert_null(proctree__find(t, pid, T0 + 5000 * tick));
	}
	/* the list keeps the order of discovery */
	for (i = 0, p = proctree__first(t); p; p = p->next, i++)
		assert_ptr_equal(p, added[i]);
	assert_int_equal(i, 5000);
	/* adding a known process after growth adds nothing */
	assert_ptr_equal(proctree__add(t, 1, T0), added[0]);
	assert_int_equal(proctree__count(t), 5000);
}

static void test_events_counted(void **state)
{
	struct proctree *t = *state;
	struct qh_event_fork f;
	struct qh_event_reap r;
	char junk[3] = { 0 };
	int i;

	assert_int_equal(proctree__events(t), 0);
	for (i = 0; i < 10; i++) {
		fill_fork(&f, 600 + i, 1, T0, "n");
		FEED(t, f);
	}
	fill_reap(&r, 600, T0, T0 + 1);
	FEED(t, r);
	assert_int_equal(proctree__handle_event(t, junk, sizeof(junk)), 0);
	assert_int_equal(proctree__events(t), 12);
	assert_int_equal(proctree__bad_events(t), 1);
	assert_int_equal(proctree__count(t), 10);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(proc_state__str(PROC_RUNNING), "running");
	assert_string_equal(proc_state__str(PROC_EXITED), "exited");
	assert_string_equal(proc_state__str(PROC_ZOMBIE), "zombie");
	assert_string_equal(proc_state__str(PROC_REAPED), "reaped");
	assert_string_equal(proc_state__str((enum proc_state)42), "unknown");
	proctree__free(NULL);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fork_adds_child),
		T(test_fork_unknown_parent),
		T(test_fork_inherits_running_parent_exe),
		T(test_fork_comm_unterminated),
		T(test_exec_sets_comm_and_exe),
		T(test_exec_filename_unterminated),
		T(test_exit_sets_final_state),
		T(test_exit_keeps_zombie_state),
		T(test_reap),
		T(test_pid_reuse),
		T(test_orphan_records),
		T(test_bad_records),
		T(test_seeded_exact_start),
		T(test_add_and_find),
		T(test_growth),
		T(test_events_counted),
		cmocka_unit_test(test_state_names),
	};

	return cmocka_run_group_tests_name("proctree", tests, NULL, NULL);
}
