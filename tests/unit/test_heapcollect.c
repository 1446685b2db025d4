// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Heap block collection on a process model fed with synthetic records and a fake kernel:
 * which blocks forked children inherit, which a harvest takes out of the map (exited
 * processes, images exec replaced, never what a running heir shares), which are reported,
 * the stack key and the frames of a finding.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "heapcollect.h"
#include "heapleaks.h"
#include "proctree.h"
#include "syms.h"
#include "vec.h"

#define SEC 1000000000ULL
#define T0 (1000 * SEC)
#define NOW (T0 + 100 * SEC)

/* The kernel as heapcollect sees it: stacks, inherited blocks freed, keys taken out. */
struct fake {
	struct qh_alloc_key *forgot;
	size_t nforgot, cap;
	struct qh_alloc_key freed[4];	/* inherited_freed answers yes for these */
	size_t nfreed;
	int stack_calls;
};

/*
 * Frame 0 is in the allocator, frame 1 its caller. Stacks 1, 2 and 4: the same three frames
 * in the program's text, then different garbage (which in 4 happens to point back into the
 * text), partly walked by frame pointers; 3: another frame, where a function was
 * inlined; 5: garbage right after the caller; 6: a caller nothing resolves; 7: a C++ function.
 */
static int fake_stack(void *ctx, uint64_t id, uint64_t *ips, size_t max, uint32_t *flags)
{
	static const uint64_t st[9][6] = {
		{ 0 },
		{ 0x7f0000001000, 0x401010, 0x401100, 0x401200, 0xdead0001 },
		{ 0x7f0000001000, 0x401010, 0x401100, 0x401200, 0xbeef0002 },
		{ 0x7f0000001000, 0x401010, 0x401310 },
		{ 0x7f0000001000, 0x401010, 0x401100, 0x401200, 0xdead0003, 0x401400 },
		{ 0x7f0000001000, 0x401010, 0xdead0005, 0x401100 },
		{ 0x7f0000001000, 0x7f0000002000, 0x401100 },
		{ 0x7f0000001000, 0x401510, 0x401100 },
		{ 0x7f0000001000, 0x401010, 0xdead0008 },
	};
	struct fake *f = ctx;
	size_t n;

	f->stack_calls++;
	/* the ones with garbage were walked by trusting frame pointers */
	*flags = id == 1 || id == 2 || id == 4 || id == 5 ? QH_USTACK_GUESSED : 0;
	if (id == 8)
		*flags = QH_USTACK_GUESSED | QH_USTACK_TRUNCATED | QH_USTACK_SLICE;
	if (id < 1 || id > 8)
		return -ENOENT;
	for (n = 0; n < 6 && n < max && st[id][n]; n++)
		ips[n] = st[id][n];
	return n;
}

static bool fake_inherited_freed(void *ctx, const struct qh_alloc_key *k)
{
	struct fake *f = ctx;
	size_t i;

	for (i = 0; i < f->nfreed; i++)
		if (!memcmp(&f->freed[i], k, sizeof(*k)))
			return true;
	return false;
}

static void fake_forget(void *ctx, const struct qh_alloc_key *k)
{
	struct fake *f = ctx;
	struct qh_alloc_key *e = vec_push(f->forgot, f->nforgot, f->cap);

	assert_non_null(e);
	*e = *k;
}

/*
 * The program's text is 0x400000-0x500000: "fn_<addr>", with a line, else unknown. At
 * 0x401300.. "inl" is inlined into fn_401300 (called on line 7); 0x401500.. is a C++ function.
 */
static int fake_resolve(void *ctx, const struct syms_maps *m, uint64_t addr,
			struct syms_frame *out, size_t max)
{
	(void)ctx;
	(void)m;
	if (addr < 0x400000 || addr >= 0x500000 || max < 2)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->module = "/bin/prog";
	out->sym_off = addr & 0xff;
	out->line = 10;
	snprintf(out->sym, sizeof(out->sym), "fn_%lx", (unsigned long)(addr & ~0xffUL));
	snprintf(out->file, sizeof(out->file), "prog.c");
	if ((addr & ~0xffUL) == 0x401500)
		snprintf(out->sym, sizeof(out->sym), "_Z11aligned_bufv");
	if ((addr & ~0xffUL) != 0x401300)
		return 1;
	out[1] = out[0];
	out[1].line = 7;
	snprintf(out[0].sym, sizeof(out[0].sym), "inl");
	out[0].inlined = true;
	out[0].sym_off = 0;
	return 2;
}

/*
 * Stack 8's slice: the walk met 0x401010 in a file it had no table for, rbp garbage. With the
 * table the loader has now (fake_rows): at 0x401000.. the caller's frame is 16 bytes above
 * (return address at sp + 8), at 0x401100.. 8 (a leaf-like frame), 0x401200.. is the
 * outermost frame.
 */
#define SLICE_SP 0x7ffd0000ULL
static int fake_slice(void *ctx, uint64_t id, struct qh_ustack_slice *out)
{
	static const uint64_t words[] = { 0x1111, 0x401110, 0x401210, 0x2222 };

	(void)ctx;
	if (id != 8)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->ip = 0x401010;
	out->sp = SLICE_SP;
	out->bp = 0xdead0000;
	out->at = 1;
	out->len = sizeof(words);
	memcpy(out->data, words, sizeof(words));
	return 0;
}

static int fake_rows(void *ctx, const struct syms_maps *m, const struct syms_map *map,
		     const struct qh_unwind_row **rows, size_t *n)
{
	static const struct qh_unwind_row r[] = {
		{ .pc = 0x1000, .cfa = QH_CFA_RSP, .cfa_off = 16, .rbp = QH_RBP_SAME },
		{ .pc = 0x1100, .cfa = QH_CFA_RSP, .cfa_off = 8, .rbp = QH_RBP_SAME },
		{ .pc = 0x1200, .cfa = QH_CFA_END },
	};

	(void)ctx;
	(void)m;
	if (strcmp(map->path, "/bin/prog"))
		return -ENOENT;
	*rows = r;
	*n = 3;
	return 0;
}

static struct fake fk;
static const struct heapcollect_ops ops = {
	.stack = fake_stack,
	.inherited_freed = fake_inherited_freed,
	.forget = fake_forget,
	.resolve = fake_resolve,
	.ctx = &fk,
};

static const struct heapcollect_ops slice_ops = {
	.stack = fake_stack,
	.inherited_freed = fake_inherited_freed,
	.forget = fake_forget,
	.resolve = fake_resolve,
	.slice = fake_slice,
	.rows = fake_rows,
	.ctx = &fk,
};

static int setup(void **state)
{
	(void)state;
	free(fk.forgot);
	memset(&fk, 0, sizeof(fk));
	return 0;
}

static void fork_rec(struct proctree *t, uint32_t pid, uint32_t ppid, uint32_t gen,
		     uint32_t inherit_tgid, uint32_t inherit_gen, uint32_t inherit_epoch)
{
	struct qh_event_fork e = {};

	e.hdr.type = QH_EV_FORK;
	e.hdr.pid = pid;
	e.hdr.ts_ns = e.hdr.start_ns = e.proc.start_ns = T0 + pid;
	e.proc.ppid = ppid;
	e.proc.heap_gen = gen;
	e.proc.inherit_tgid = inherit_tgid;
	e.proc.inherit_gen = inherit_gen;
	e.proc.inherit_epoch = inherit_epoch;
	proctree__handle_event(t, &e, sizeof(e));
}

static void exec_rec(struct proctree *t, uint32_t pid, uint32_t gen)
{
	struct qh_event_exec e = {};

	e.hdr.type = QH_EV_EXEC;
	e.hdr.pid = e.old_pid = pid;
	e.hdr.start_ns = T0 + pid;
	e.hdr.ts_ns = T0 + 50 * SEC;
	e.heap_gen = gen;
	snprintf((char *)e.filename, sizeof(e.filename), "/bin/other");
	proctree__handle_event(t, &e, sizeof(e));
}

/* the exit record carries the final counters: the same heap generation and inheritance */
static void exit_rec(struct proctree *t, uint32_t pid)
{
	struct proc *p = proctree__find_running(t, pid);
	struct qh_event_exit e = {};

	assert_non_null(p);
	e.hdr.type = QH_EV_EXIT;
	e.hdr.pid = pid;
	e.hdr.start_ns = p->start_ns;
	e.hdr.ts_ns = T0 + 60 * SEC;
	e.proc = p->stats;
	e.proc.ppid = p->ppid;
	proctree__handle_event(t, &e, sizeof(e));
}

static struct heap_block blk(uint32_t tgid, uint32_t gen, uint64_t addr, uint64_t size,
			     uint64_t caller, uint32_t epoch)
{
	struct heap_block b = {
		.k = { .tgid = tgid, .gen = gen, .addr = addr },
		.a = { .size = size, .ts_ns = T0 + 10 * SEC, .caller = caller, .stack_id = 0,
		       .epoch = epoch },
	};

	return b;
}

static struct heapleaks *leaks_new(void)
{
	struct heapleaks *h = heapleaks__new(&(struct heapleaks_opts){
		.threshold_bytes = 1ULL << 30 });

	assert_non_null(h);
	return h;
}

/* the finding of @pid (its current process) at @caller, inherited or not; NULL if none */
static struct heap_leak *finding(struct heapleaks *h, uint32_t pid, uint64_t caller,
				 bool inherited)
{
	size_t i;

	for (i = 0; i < heapleaks__count(h); i++) {
		struct heap_leak *l = heapleaks__get(h, i);

		if (l->proc->pid == pid && l->caller == caller && l->inherited == inherited)
			return l;
	}
	return NULL;
}

static bool forgot(uint32_t tgid, uint32_t gen, uint64_t addr)
{
	size_t i;

	for (i = 0; i < fk.nforgot; i++)
		if (fk.forgot[i].tgid == tgid && fk.forgot[i].gen == gen &&
		    fk.forgot[i].addr == addr)
			return true;
	return false;
}

/*
 * Parent 100 (gen 1) made A before its fork (epoch 0) and B after (epoch 1); child 101 (gen
 * 2) was forked at epoch 1 and has a copy of A; 102 (gen 3), forked at epoch 1 too, freed
 * its copy of A. Every running: nothing is taken out, everything is reported.
 */
static void test_heirs_report(void **state)
{
	struct proctree *t = proctree__new();
	struct heapleaks *h = leaks_new();
	struct heap_block b[] = {
		blk(100, 1, 0xa000, 1000, 0x401010, 0),
		blk(100, 1, 0xb000, 200, 0x401020, 1),
		blk(101, 2, 0xc000, 30, 0x401030, 0),
		blk(555, 9, 0xd000, 4, 0x401040, 0), /* a process never known */
	};
	struct heap_leak *l;

	(void)state;
	fork_rec(t, 100, 1, 1, 0, 0, 0);
	fork_rec(t, 101, 100, 2, 100, 1, 1);
	fork_rec(t, 102, 100, 3, 100, 1, 1);
	fork_rec(t, 103, 1, 4, 103, 4, 1); /* names itself: no heir of its own */
	fk.freed[fk.nfreed++] = (struct qh_alloc_key){ .tgid = 102, .gen = 3, .addr = 0xa000 };

	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 4, false, NOW), 0);
	assert_int_equal(fk.nforgot, 0);
	assert_int_equal(heapleaks__count(h), 4);
	assert_int_equal(heapleaks__total_blocks(h), 4);
	assert_int_equal(heapleaks__total_bytes(h), 1000 + 200 + 1000 + 30);
	l = finding(h, 100, 0x401010, false);
	assert_non_null(l);
	assert_int_equal(l->bytes, 1000);
	l = finding(h, 101, 0x401010, true); /* the copy of A */
	assert_non_null(l);
	assert_int_equal(l->bytes, 1000);
	assert_int_equal(l->count, 1);
	assert_null(finding(h, 101, 0x401020, true)); /* B was made after the fork */
	assert_null(finding(h, 102, 0x401010, true)); /* freed its copy */
	assert_non_null(finding(h, 100, 0x401020, false));
	assert_non_null(finding(h, 101, 0x401030, false));
	/* finished: largest first, aged to now */
	assert_int_equal(heapleaks__get(h, 0)->bytes, 1000);
	assert_true(heapleaks__get(h, 3)->age_s > 89.9 && heapleaks__get(h, 3)->age_s < 90.1);
	/* the heirs of 100, as link_heirs left them */
	assert_non_null(proctree__find_running(t, 100)->heir);
	assert_int_equal(proctree__find_running(t, 100)->heir->pid, 102);
	assert_int_equal(proctree__find_running(t, 100)->heir->next_heir->pid, 101);
	assert_null(proctree__find_running(t, 101)->heir);
	assert_null(proctree__find_running(t, 103)->heir);
	heapleaks__free(h);
	proctree__free(t);
}

/*
 * The parent exits while its child runs: B (made after the fork) is harvested, A stays in the
 * map (the child's copy can still be freed), the child's own block too. Once the child has
 * exited, A goes, reported for the parent and as the child's inherited copy.
 */
static void test_harvest_waits_for_heirs(void **state)
{
	struct proctree *t = proctree__new();
	struct heapleaks *h = leaks_new();
	struct heap_block b[] = {
		blk(100, 1, 0xa000, 1000, 0x401010, 0),
		blk(100, 1, 0xb000, 200, 0x401020, 1),
		blk(101, 2, 0xc000, 30, 0x401030, 0),
	};

	(void)state;
	fork_rec(t, 100, 1, 1, 0, 0, 0);
	fork_rec(t, 101, 100, 2, 100, 1, 1);
	/* nothing exited: nothing to harvest */
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 3, true, NOW), 0);
	assert_int_equal(fk.nforgot, 0);
	assert_int_equal(heapleaks__count(h), 0);

	exit_rec(t, 100);
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 3, true, NOW), 0);
	assert_int_equal(fk.nforgot, 1);
	assert_true(forgot(100, 1, 0xb000));
	assert_int_equal(heapleaks__count(h), 1);
	assert_int_equal(finding(h, 100, 0x401020, false)->bytes, 200);

	/* the map now holds A and the child's block */
	b[1] = b[2];
	exit_rec(t, 101);
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 2, true, NOW), 0);
	assert_int_equal(fk.nforgot, 3);
	assert_true(forgot(100, 1, 0xa000));
	assert_true(forgot(101, 2, 0xc000));
	assert_int_equal(heapleaks__count(h), 4);
	assert_int_equal(finding(h, 100, 0x401010, false)->bytes, 1000);
	assert_int_equal(finding(h, 101, 0x401010, true)->bytes, 1000);
	assert_int_equal(finding(h, 101, 0x401030, false)->bytes, 30);
	assert_int_equal(heapleaks__total_bytes(h), 200 + 1000 + 1000 + 30);
	heapleaks__free(h);
	proctree__free(t);
}

/*
 * exec replaced the image of 200 (gen 5 -> 6): its old blocks died with it, taken out by a
 * harvest and reported by nobody; the new image's block stays while it runs. A block of a
 * process never known is neither taken nor reported.
 */
static void test_exec_drops_blocks(void **state)
{
	struct proctree *t = proctree__new();
	struct heapleaks *h = leaks_new();
	struct heap_block b[] = {
		blk(200, 5, 0xa000, 1000, 0x401010, 0),
		blk(200, 6, 0xb000, 64, 0x401020, 0),
		blk(555, 9, 0xd000, 4, 0x401040, 0),
	};

	(void)state;
	fork_rec(t, 200, 1, 5, 0, 0, 0);
	exec_rec(t, 200, 6);
	assert_true(proctree__is_dead_gen(t, 200, 5));

	/* a check (no harvest) leaves the dead block alone and does not report it */
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 3, false, NOW), 0);
	assert_int_equal(fk.nforgot, 0);
	assert_int_equal(heapleaks__count(h), 1);
	assert_non_null(finding(h, 200, 0x401020, false));
	heapleaks__free(h);

	h = leaks_new();
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 3, true, NOW), 0);
	assert_int_equal(fk.nforgot, 1);
	assert_true(forgot(200, 5, 0xa000));
	assert_int_equal(heapleaks__count(h), 0);
	heapleaks__free(h);
	proctree__free(t);
}

/*
 * Generations: pid 300 exited (gen 7) and was reused by a new process (gen 8) that runs. A
 * harvest takes the old one's block and reports it for the old process only; the new one's
 * stays. A child forked from an exec'd image inherits only from that generation.
 */
static void test_generations(void **state)
{
	struct proctree *t = proctree__new();
	struct heapleaks *h = leaks_new();
	struct heap_block b[] = {
		blk(300, 7, 0xa000, 100, 0x401010, 0),
		blk(300, 8, 0xa000, 70, 0x401010, 0),
		blk(400, 10, 0xe000, 9, 0x401050, 0), /* the image 400 exec'd away from */
		blk(400, 11, 0xf000, 11, 0x401060, 0),
	};
	struct proc *old, *heir;
	struct qh_event_fork e = {};

	(void)state;
	fork_rec(t, 300, 1, 7, 0, 0, 0);
	exit_rec(t, 300);
	old = proctree__find_gen(t, 300, 7);
	assert_non_null(old);
	/* the same pid, later */
	e.hdr.type = QH_EV_FORK;
	e.hdr.pid = 300;
	e.hdr.ts_ns = e.hdr.start_ns = e.proc.start_ns = T0 + 70 * SEC;
	e.proc.ppid = 1;
	e.proc.heap_gen = 8;
	proctree__handle_event(t, &e, sizeof(e));
	/* 400 exec'd (gen 10 -> 11) and then forked 401 */
	fork_rec(t, 400, 1, 10, 0, 0, 0);
	exec_rec(t, 400, 11);
	fork_rec(t, 401, 400, 12, 400, 11, 1);

	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 4, true, NOW), 0);
	assert_int_equal(fk.nforgot, 2);
	assert_true(forgot(300, 7, 0xa000));
	assert_true(forgot(400, 10, 0xe000));
	assert_int_equal(heapleaks__count(h), 1);
	assert_ptr_equal(heapleaks__get(h, 0)->proc, old);
	assert_int_equal(heapleaks__get(h, 0)->bytes, 100);
	heapleaks__free(h);

	h = leaks_new();
	assert_int_equal(heapcollect__blocks(&ops, t, h, b + 1, 3, false, NOW), 0);
	heir = proctree__find_running(t, 401);
	assert_ptr_equal(proctree__find_running(t, 400)->heir, heir);
	assert_int_equal(finding(h, 401, 0x401060, true)->bytes, 11);
	assert_null(finding(h, 401, 0x401050, true)); /* not from the dead image */
	assert_int_equal(finding(h, 300, 0x401010, false)->bytes, 70);
	assert_ptr_equal(finding(h, 300, 0x401010, false)->proc, proctree__find_running(t, 300));
	assert_int_equal(heapleaks__count(h), 3);
	heapleaks__free(h);
	proctree__free(t);
}

/*
 * The stack key hashes the frames past the allocator's up to the first address outside the
 * process's file mappings: stacks 1 and 2 differ only in garbage, one finding; stack 3 is
 * another. Each (process, stack) is looked up once. The frames: the caller, then the walk.
 */
static void test_stack_key_and_frames(void **state)
{
	struct proctree *t = proctree__new();
	struct heapleaks *h = leaks_new();
	struct heap_block b[] = {
		blk(100, 1, 0xa000, 10, 0x401010, 0),
		blk(100, 1, 0xa100, 10, 0x401010, 0),
		blk(100, 1, 0xa200, 10, 0x401010, 0),
		blk(100, 1, 0xa300, 10, 0x401010, 0),
		blk(100, 1, 0xa400, 10, 0x401010, 0),
	};
	struct heap_leak *l;
	struct proc *p;
	size_t i;

	(void)state;
	b[0].a.stack_id = 1;
	b[1].a.stack_id = 2;
	b[2].a.stack_id = 1;
	b[3].a.stack_id = 3;
	b[4].a.stack_id = 4;
	fork_rec(t, 100, 1, 1, 0, 0, 0);
	p = proctree__find_running(t, 100);
	proctree__set_maps(p, syms_maps__parse(0, "00400000-00500000 r-xp 00000000 08:01 42 "
						  "/bin/prog\n"));
	assert_non_null(p->maps);

	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 5, false, NOW), 0);
	assert_int_equal(fk.stack_calls, 4); /* ids 1, 2, 3, 4: the second 1 from the cache */
	assert_int_equal(heapleaks__count(h), 2);
	l = heapleaks__get(h, 0);
	assert_int_equal(l->count, 4);
	assert_int_equal(l->bytes, 40);
	assert_int_equal(heapleaks__get(h, 1)->count, 1);
	assert_int_not_equal(heapleaks__get(h, 1)->stack_key, l->stack_key);

	heapcollect__frames(&ops, h);
	/* the caller, the two frames in the text; the walk stops at the garbage */
	assert_int_equal(l->nframes, 3);
	assert_true(l->truncated);
	assert_int_equal(l->frames[0].addr, 0x401010);
	assert_string_equal(l->frames[0].symbol, "fn_401000");
	assert_int_equal(l->frames[0].offset, 0x10); /* of addr - 1, plus the 1 */
	assert_string_equal(l->frames[0].module, "/bin/prog");
	assert_string_equal(l->frames[0].file, "prog.c");
	assert_int_equal(l->frames[0].line, 10);
	assert_false(l->frames[0].inlined);
	assert_null(l->frames[0].raw_symbol);
	assert_int_equal(l->frames[1].addr, 0x401100);
	assert_string_equal(l->frames[1].symbol, "fn_401000");
	assert_int_equal(l->frames[2].addr, 0x401200);
	assert_string_equal(l->frames[2].symbol, "fn_401100");
	for (i = 0; i < l->nframes; i++)
		assert_int_not_equal(l->frames[i].addr, 0xdead0001);
	/* an inlined function is a frame of its own, at the same address */
	l = heapleaks__get(h, 1);
	assert_int_equal(l->nframes, 3);
	assert_false(l->truncated);
	assert_string_equal(l->frames[1].symbol, "inl");
	assert_true(l->frames[1].inlined);
	assert_int_equal(l->frames[1].offset, 0);
	assert_int_equal(l->frames[1].line, 10);
	assert_string_equal(l->frames[2].symbol, "fn_401300");
	assert_false(l->frames[2].inlined);
	assert_int_equal(l->frames[2].line, 7);
	assert_int_equal(l->frames[2].addr, l->frames[1].addr);
	heapleaks__free(h);

	/* a caller nothing resolves is still the first frame, bare */
	h = leaks_new();
	b[0].a.stack_id = 6;
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 1, false, NOW), 0);
	heapcollect__frames(&ops, h);
	l = heapleaks__get(h, 0);
	assert_int_equal(l->nframes, 2);
	assert_int_equal(l->frames[0].addr, 0x7f0000002000);
	assert_null(l->frames[0].symbol);
	assert_string_equal(l->frames[1].symbol, "fn_401000");
	heapleaks__free(h);

	/* nothing past the caller when the walk's next frame is already garbage */
	h = leaks_new();
	b[0].a.stack_id = 5;
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 1, false, NOW), 0);
	heapcollect__frames(&ops, h);
	l = heapleaks__get(h, 0);
	assert_int_equal(l->nframes, 1);
	assert_string_equal(l->frames[0].symbol, "fn_401000");
	assert_true(l->truncated);
	heapleaks__free(h);

	/* frame pointers trusted: truncated, whatever it found */
	h = leaks_new();
	b[0].a.stack_id = 4;
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 1, false, NOW), 0);
	heapcollect__frames(&ops, h);
	assert_true(heapleaks__get(h, 0)->truncated);
	heapleaks__free(h);

	/* C++: demangled, the raw name kept */
	h = leaks_new();
	b[0].a.stack_id = 7;
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 1, false, NOW), 0);
	heapcollect__frames(&ops, h);
	l = heapleaks__get(h, 0);
	assert_string_equal(l->frames[0].symbol, "aligned_buf()");
	assert_string_equal(l->frames[0].raw_symbol, "_Z11aligned_bufv");
	heapleaks__free(h);

	/*
	 * A slice: the rest unwound with the tables there are now, no more truncated or
	 * guessed; without the ops to do it, the kernel's frames as they were.
	 */
	h = leaks_new();
	b[0].a.stack_id = 8;
	assert_int_equal(heapcollect__blocks(&slice_ops, t, h, b, 1, false, NOW), 0);
	heapcollect__frames(&slice_ops, h);
	l = heapleaks__get(h, 0);
	assert_int_equal(l->nframes, 3);
	assert_int_equal(l->frames[0].addr, 0x401010);
	assert_int_equal(l->frames[1].addr, 0x401110);
	assert_int_equal(l->frames[2].addr, 0x401210);
	assert_false(l->truncated);
	heapleaks__free(h);
	h = leaks_new();
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 1, false, NOW), 0);
	heapcollect__frames(&ops, h);
	l = heapleaks__get(h, 0);
	assert_int_equal(l->nframes, 1);
	assert_true(l->truncated);
	heapleaks__free(h);

	/* no stack: the caller alone */
	h = leaks_new();
	b[0].a.stack_id = 0;
	assert_int_equal(heapcollect__blocks(&ops, t, h, b, 1, false, NOW), 0);
	heapcollect__frames(&ops, h);
	l = heapleaks__get(h, 0);
	assert_int_equal(l->nframes, 1);
	assert_int_equal(l->frames[0].addr, 0x401010);
	assert_false(l->truncated);
	heapleaks__free(h);
	proctree__free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_heirs_report, setup),
		cmocka_unit_test_setup(test_harvest_waits_for_heirs, setup),
		cmocka_unit_test_setup(test_exec_drops_blocks, setup),
		cmocka_unit_test_setup(test_generations, setup),
		cmocka_unit_test_setup(test_stack_key_and_frames, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
