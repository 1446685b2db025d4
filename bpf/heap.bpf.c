// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Heap: uprobes on the malloc family of the C library. Entry probes stash the arguments per
 * thread, return probes record the block in `allocs` keyed by (tgid, generation, address);
 * free removes it. Only traced processes (present in `procs`) are followed.
 *
 * The loader places entry probes on the first instruction the kernel emulates rather than
 * at +0 when nothing before it touches the argument registers or the stack pointer, so the
 * arguments (and the user stack, with --heap stacks) read here are those of the call.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "proc.bpf.h"

const volatile __u32 cfg_sample_rate = 1; /* record one allocation in N */
const volatile __u64 cfg_min_size = 0;
const volatile __u64 cfg_max_size = ~0ULL;
const volatile bool cfg_stacks = false;

struct qh_heap_call {
	__u64 active;  /* an entry probe filled this, its return probe has not run */
	__u64 size;
	__u64 old_ptr; /* realloc, reallocarray */
	__u64 memptr;  /* posix_memalign's void ** */
	__u64 caller;  /* set by the return probe */
	__s64 stack_id;
	__u32 fn;      /* enum qh_heap_fn */
	__u32 __pad;
};

/*
 * Thread -> the allocator call in progress. Task storage: reached from the task itself, no
 * hashing, no table to fill, freed with the thread.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct qh_heap_call);
} heap_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct qh_alloc_key);
	__type(value, struct qh_alloc);
} allocs SEC(".maps");

/* dead records the sweeps took out (heap_sweep), for -v */
__u64 heap_swept = 0;

/*
 * Blocks a forked child inherited from its parent and has freed, keyed by the child's
 * (tgid, generation, address). The block itself stays in `allocs` under the parent, which
 * still has its own copy.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct qh_alloc_key);
	__type(value, __u8);
} inherited_freed SEC(".maps");

static __always_inline int heap_enter(struct pt_regs *ctx, __u32 fn, __u64 size, __u64 old_ptr,
				      __u64 memptr)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct qh_heap_call *c;
	__u32 tgid;

	/*
	 * A thread that has call state belongs to a traced process: the state goes with the
	 * thread, and a process leaves `procs` only once all its threads are gone. So no `procs`
	 * lookup on the hot path (the return probe does the one it needs).
	 */
	c = bpf_task_storage_get(&heap_calls, task, NULL, 0);
	if (!c) {
		tgid = bpf_get_current_pid_tgid() >> 32;
		if (!bpf_map_lookup_elem(&procs, &tgid))
			return 0;
		c = bpf_task_storage_get(&heap_calls, task, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!c) {
			stat_inc(QH_STAT_HEAP_CALLS_FULL);
			return 0;
		}
	}
	c->fn = fn;
	c->size = size;
	c->old_ptr = old_ptr;
	c->memptr = memptr;
	c->stack_id = -1;
	if (cfg_stacks) {
		c->stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
		if (c->stack_id < 0)
			stat_inc(QH_STAT_STACK_LOST);
	}
	c->active = 1;
	return 0;
}

/* a library probed after this process mapped it (or after its exec) */
static __always_inline void heap_hooked(struct qh_proc *p)
{
	if (!(p->flags & QH_PF_HEAP_HOOKED))
		__sync_fetch_and_or(&p->flags, QH_PF_HEAP_HOOKED);
}

static __always_inline void heap_forget(struct qh_proc *p, __u32 tgid, __u64 addr)
{
	struct qh_alloc_key k = { .tgid = tgid, .gen = p->heap_gen, .addr = addr };
	struct qh_alloc *a;

	if (!addr)
		return;
	a = bpf_map_lookup_elem(&allocs, &k);
	if (!a || !QH_STAMP_LIVE(a->ts_ns)) {
		struct qh_alloc_key pk = { .tgid = p->inherit_tgid, .gen = p->inherit_gen,
					   .addr = addr };
		__u8 one = 1;

		/* a block this child inherited at fork, and frees now (one generation back) */
		a = p->inherit_tgid ? bpf_map_lookup_elem(&allocs, &pk) : NULL;
		if (!a || !QH_STAMP_LIVE(a->ts_ns) || a->epoch >= p->inherit_epoch) {
			stat_inc(QH_STAT_HEAP_FREES_UNKNOWN);
			return;
		}
		if (bpf_map_update_elem(&inherited_freed, &k, &one, BPF_ANY))
			stat_inc(QH_STAT_INHERITED_FULL);
		p->heap_frees++;
		return;
	}
	__sync_fetch_and_add(&p->heap_live_bytes, -a->size);
	__sync_fetch_and_add(&p->heap_live_count, -1);
	p->heap_frees++; /* a statistic: a rare lost update between threads is harmless */
	/* dead, not deleted: the next block at this address takes the record over */
	a->ts_ns = QH_STAMP_DEAD;
	stat_inc(QH_STAT_HEAP_FREED);
}

static __always_inline void heap_record(struct qh_proc *p, __u32 tgid, __u64 addr,
					const struct qh_heap_call *c)
{
	struct qh_alloc_key k = { .tgid = tgid, .gen = p->heap_gen, .addr = addr };
	struct qh_alloc a = {}, *r;

	p->heap_allocs++; /* a statistic, as heap_frees */
	if (c->size < cfg_min_size || c->size > cfg_max_size)
		return;
	if (cfg_sample_rate > 1 && bpf_get_prandom_u32() % cfg_sample_rate)
		return;
	a.size = c->size;
	a.ts_ns = qh_stamp();
	a.caller = c->caller;
	a.stack_id = c->stack_id;
	a.epoch = p->forks;
	/*
	 * The dead record of a block freed at this address, taken over in place: a lookup
	 * instead of a hash insert here and a delete at free (~95 ns a pair on the test VM).
	 * Claimed by its stamp first, so heap_sweep cannot take it meanwhile.
	 */
	r = bpf_map_lookup_elem(&allocs, &k);
	if (r && __sync_val_compare_and_swap(&r->ts_ns, QH_STAMP_DEAD, a.ts_ns) ==
			 QH_STAMP_DEAD) {
		r->size = a.size;
		r->caller = a.caller;
		r->stack_id = a.stack_id;
		r->epoch = a.epoch;
		stat_inc(QH_STAT_HEAP_REUSED);
	} else if (r && !QH_STAMP_LIVE(r->ts_ns)) {
		/* being swept this very moment: its key goes, and this block with it */
		stat_inc(QH_STAT_HEAP_SWEEP_RACE);
		return;
	} else if (bpf_map_update_elem(&allocs, &k, &a, BPF_ANY)) {
		stat_inc(QH_STAT_ALLOCS_FULL);
		return;
	}
	__sync_fetch_and_add(&p->heap_live_bytes, a.size);
	__sync_fetch_and_add(&p->heap_live_count, 1);
}

static __always_inline int heap_exit(struct pt_regs *ctx)
{
	__u64 ret = PT_REGS_RC(ctx);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct qh_heap_call *c;
	struct qh_proc *p;

	c = bpf_task_storage_get(&heap_calls, bpf_get_current_task_btf(), NULL, 0);
	if (!c || !c->active)
		return 0;
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		goto out;
	heap_hooked(p);
	/*
	 * The caller, frame pointers or not: the kernel has put the call's return address back
	 * into the instruction pointer before running return probes (a read of the user stack
	 * at entry costs ~40 ns more here).
	 */
	c->caller = PT_REGS_IP(ctx);

	switch (c->fn) {
	case QH_HEAP_POSIX_MEMALIGN:
		/* returns 0 or an error number; the block is in *memptr */
		if (ret) {
			__sync_fetch_and_add(&p->heap_failed, 1);
			break;
		}
		if (bpf_probe_read_user(&ret, sizeof(ret), (void *)c->memptr) || !ret)
			break;
		heap_record(p, tgid, ret, c);
		break;
	case QH_HEAP_REALLOC:
	case QH_HEAP_REALLOCARRAY:
		if (!ret) {
			/* realloc(p, 0) frees p (glibc); any other NULL leaves p allocated */
			if (!c->size && c->old_ptr)
				heap_forget(p, tgid, c->old_ptr);
			else
				__sync_fetch_and_add(&p->heap_failed, 1);
			break;
		}
		heap_forget(p, tgid, c->old_ptr);
		heap_record(p, tgid, ret, c);
		break;
	default:
		if (!ret) {
			__sync_fetch_and_add(&p->heap_failed, 1);
			break;
		}
		heap_record(p, tgid, ret, c);
	}
out:
	c->active = 0;
	return 0;
}

/* n * size, or ~0 when it overflows (the call then fails, and a failure is never a leak) */
static __always_inline __u64 mul_sat(__u64 n, __u64 size)
{
	__u64 lim;

	if (!size)
		return 0;
	lim = ~0ULL / size;
	/* keep clang from turning the test into a 128-bit multiply, which BPF lacks */
	asm volatile("" : "+r"(lim));
	return n > lim ? ~0ULL : n * size;
}

/*
 * One entry program for the whole family: the loader attaches it with one uprobe_multi link,
 * the function in each probe's cookie. One link detaches in one RCU grace period; a link per
 * function made qhtrace's exit wait for each in turn.
 */
SEC("uprobe")
int BPF_KPROBE(heap_entry, __u64 a0, __u64 a1, __u64 a2)
{
	__u32 tgid;
	struct qh_proc *p;

	switch (bpf_get_attach_cookie(ctx)) {
	case QH_HEAP_MALLOC:
		return heap_enter(ctx, QH_HEAP_MALLOC, a0, 0, 0);
	case QH_HEAP_CALLOC:
		return heap_enter(ctx, QH_HEAP_CALLOC, mul_sat(a0, a1), 0, 0);
	case QH_HEAP_REALLOC:
		return heap_enter(ctx, QH_HEAP_REALLOC, a1, a0, 0);
	case QH_HEAP_REALLOCARRAY:
		return heap_enter(ctx, QH_HEAP_REALLOCARRAY, mul_sat(a1, a2), a0, 0);
	case QH_HEAP_POSIX_MEMALIGN:
		return heap_enter(ctx, QH_HEAP_POSIX_MEMALIGN, a2, 0, a0);
	case QH_HEAP_ALIGNED_ALLOC:
	case QH_HEAP_MEMALIGN:
		/* (alignment, size) */
		return heap_enter(ctx, QH_HEAP_MEMALIGN, a1, 0, 0);
	case QH_HEAP_VALLOC:
		return heap_enter(ctx, QH_HEAP_VALLOC, a0, 0, 0);
	case QH_HEAP_PVALLOC:
		/* pvalloc rounds the size up to whole pages */
		return heap_enter(ctx, QH_HEAP_PVALLOC, (a0 + 4095) & ~4095ULL, 0, 0);
	case QH_HEAP_FREE:
		if (!a0)
			return 0;
		tgid = bpf_get_current_pid_tgid() >> 32;
		p = bpf_map_lookup_elem(&procs, &tgid);
		if (p) {
			heap_hooked(p);
			heap_forget(p, tgid, a0);
		}
		return 0;
	}
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_return)
{
	return heap_exit(ctx);
}

/*
 * Dead records out of `allocs`: freed blocks whose address no block has taken since. The
 * loader runs this with BPF_PROG_TEST_RUN when enough wait (the stats say how many);
 * never attached. A record is marked
 * swept before it goes: heap_record cannot claim it any more, and drops its block (counted)
 * in the moment between mark and delete.
 */
static long sweep_one(struct bpf_map *map, struct qh_alloc_key *k, struct qh_alloc *a, void *ctx)
{
	if (__sync_val_compare_and_swap(&a->ts_ns, QH_STAMP_DEAD, QH_STAMP_SWEPT) ==
	    QH_STAMP_DEAD) {
		bpf_map_delete_elem(map, k);
		heap_swept++;
	}
	return 0;
}

SEC("raw_tp")
int heap_sweep(void *ctx)
{
	bpf_for_each_map_elem(&allocs, sweep_one, NULL, 0);
	return 0;
}
