/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Tests and what they caused. The sections the control socket marks (a pytest test with its
 * setup, call and teardown phases, a `qhtrace mark` section, a fixture's setup), which test
 * each traced process belongs to (the test open in its parent when it was forked, or its
 * parent's test; PYTEST_CURRENT_TEST inherited at exec when nothing marks), and, at each
 * test's end, the fds and heap blocks its processes opened or allocated during it and still
 * hold. Fed with data by the session; the kernel's records come in arrays and /proc through
 * struct testattr_ops, so it links into the unit tests.
 *
 * Attribution of fds and blocks: a record's stamp is a bound at most two scheduler ticks after
 * the moment it was made (tracer__stamp_ns), so a record stamped before a test began is not
 * the test's; one that was already open at the previous test's end in that process is not
 * either, whatever its stamp (what is kept of that end is the records of its last ticks).
 */
#ifndef __QH_TESTATTR_H
#define __QH_TESTATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ctlproto.h"
#include "fdtable.h"

struct cJSON;
struct fd_rec;
struct heap_block;
struct proc;
struct qh_alloc;
struct qh_alloc_key;
struct testattr;

/* heap findings of a test below this many bytes are not among its findings (testattr.c) */
#define QH_TEST_HEAP_MIN 65536
/* default wait after a test's end before what it started must be gone (--test-grace) */
#define QH_DEFAULT_TEST_GRACE_S 2

/* an fd a test opened and still held when it ended */
struct test_fd {
	const struct proc *proc;
	uint32_t fd;
	uint64_t ts_ns;		/* the record's stamp (boot ns) */
	uint32_t nr;		/* the syscall that made it */
	uint32_t kind;		/* enum qh_fd_kind, from /proc at the end of the test */
	char target[FD_TARGET_LEN];
	bool closed_later;	/* closed before the end of the run */
	bool closed_by_exit;	/* ... by its process's exit */
};

struct test_run {
	int32_t idx;
	char *name;
	bool fixture;		/* a fixture's section: what it starts is "between tests" */
	bool from_env;		/* known from PYTEST_CURRENT_TEST only: its end is a guess */
	const struct proc *proc; /* the process whose section it is */
	uint64_t begin_ns, end_ns; /* boot ns; end 0 while open */
	uint64_t phase_begin[CTL_PHASES], phase_end[CTL_PHASES];
	char outcome[16];
	int64_t rss_begin_kb, rss_end_kb; /* of proc, -1: unknown */
	bool checked;		/* what it started was checked after its end */
	uint32_t outlived;	/* processes it started alive after it ended */
	bool heap_known;
	uint64_t heap_new_bytes, heap_new_blocks;	/* at its end */
	uint64_t heap_exit_bytes, heap_exit_blocks;	/* of those, live at the end of the run */
	struct test_fd *fds;
	size_t nfds, cap_fds;
};

struct testattr_ops {
	/* The traced process with this tgid running now (fd records), or NULL. */
	struct proc *(*proc_of)(void *ctx, uint32_t tgid);
	/* The process of this heap generation (heap blocks), or NULL. */
	struct proc *(*proc_of_gen)(void *ctx, uint32_t tgid, uint32_t gen);
	/* /proc/PID/fd, sorted by fd; 0 or -errno. */
	int (*read_table)(void *ctx, pid_t pid, struct fd_table *t);
	void *ctx;
};

/* @grace_ns: --test-grace; @fd_threshold: the fd findings' severity scale */
struct testattr *testattr__new(uint64_t grace_ns, uint64_t fd_threshold);
void testattr__free(struct testattr *ta);

/*
 * A mark of @p's section at @now (boot ns); @rss_kb is @p's RSS now (-1: unknown). The
 * section's index, or -EINVAL with the reason in @why. A begin with a phase opens the test
 * when it is not open; an end without one closes it (testattr__ended then says so).
 */
int testattr__mark(struct testattr *ta, const struct ctl_req *r, const struct proc *p,
		   uint64_t now, int64_t rss_kb, char *why, size_t wlen);
/*
 * Test @idx just began in a process where no test ended yet: what that process made in the
 * moments before must not be taken for the test's. Then testattr__at_begin with the fd
 * records and heap blocks now (either may be empty).
 */
bool testattr__needs_begin(const struct testattr *ta, int32_t idx);
void testattr__at_begin(struct testattr *ta, int32_t idx, const struct fd_rec *recs, size_t n,
			const struct heap_block *b, size_t nb, const struct testattr_ops *ops);
/* Did the last testattr__mark close a test (not a fixture's section, not a phase)? */
bool testattr__ended(const struct testattr *ta, int32_t idx);

/* @child was forked by @parent (either may be NULL: unknown) at @now. */
void testattr__fork(struct testattr *ta, const struct proc *child, const struct proc *parent,
		    uint64_t now);
/*
 * @p exec'd with PYTEST_CURRENT_TEST=@value ("tests/a.py::test_x (call)"), its parent being
 * @parent: when no mark tells its test, that test owns it. The test is known from then on;
 * the one @parent's processes named before it is taken as over.
 */
void testattr__exec_env(struct testattr *ta, const struct proc *p, const struct proc *parent,
			const char *value, uint64_t now);

/*
 * @p sent a request for another process's section (`qhtrace mark`): what it does (its
 * connection, its memory) is nobody's test's.
 */
void testattr__client(struct testattr *ta, const struct proc *p);
/* The section that owns @p (it was started during it), or -1. */
int32_t testattr__owner(const struct testattr *ta, const struct proc *p);
/* Does @p belong to test @idx: its marking process, or started during it? */
bool testattr__in_test(const struct testattr *ta, int32_t idx, const struct proc *p);

/*
 * A test whose end is more than the grace ago (every one that ended, with @all), not checked
 * yet: its index (now marked checked), or -1.
 */
int32_t testattr__next_due(struct testattr *ta, uint64_t now, bool all);
/* Call @fn for every process test @idx started (not its marking process). */
void testattr__for_each_started(struct testattr *ta, int32_t idx,
				void (*fn)(void *ctx, struct proc *p), void *ctx);

/* Did test @idx start a process for which @is_alive_driver says true? */
bool testattr__driver_alive(struct testattr *ta, int32_t idx,
			    bool (*is_alive_driver)(void *ctx, struct proc *p), void *ctx);
/* Test @idx just ended: the fd records now (@recs[0..n), stamps in boot ns). */
int testattr__fds_at_end(struct testattr *ta, int32_t idx, const struct fd_rec *recs, size_t n,
			 const struct testattr_ops *ops);
/* The same for the live heap blocks now. */
int testattr__heap_at_end(struct testattr *ta, int32_t idx, const struct heap_block *b,
			  size_t n, const struct testattr_ops *ops);
/* The end of the run: which of the fds tests held were closed since (@recs: those open now). */
void testattr__fds_final(struct testattr *ta, const struct fd_rec *recs, size_t n,
			 const struct testattr_ops *ops);
/* heapcollect_ops.test_of: the test that allocated a block live at the end, or -1. */
int32_t testattr__block_test(struct testattr *ta, const struct proc *p,
			     const struct qh_alloc_key *k, const struct qh_alloc *a);

size_t testattr__count(const struct testattr *ta);
const struct test_run *testattr__get(const struct testattr *ta, int32_t idx);
/* The name of section @idx's test as the report gives it: a string, or null (between tests) */
struct cJSON *testattr__name_json(const struct testattr *ta, int32_t idx);

/*
 * The report's `tests` array and a `test` on every finding of @root (processes, leaks.*,
 * drivers, zombies, orphans, leftovers): the test that owns the finding's process, unless the
 * finding has its own (heap blocks and fds by when they were made).
 */
int testattr__add_json(struct testattr *ta, struct cJSON *root);
/* The top tests by each measure, from the report's `tests`. */
void testattr__summary(FILE *out, const struct cJSON *root);

#endif
