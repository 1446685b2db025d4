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

#define WALK_VMAS QH_USTACK_VMAS
#define ROW_SEARCH_STEPS 21 /* log2 of unwind_rows' largest size, and one */

struct walk_vma {
	struct qh_ustack_vma m;
	__u64 base;	/* start - file offset mapped at start */
	__u32 first;	/* its module's rows */
	__u32 count;	/* 0: no table */
	bool unseen;	/* a file the loader has not seen (not in unwind_modules) */
};

/*
 * A walk's state. In the thread's call state, not on the BPF stack: the verifier then knows
 * nothing of its values, and goes through the loop's body once instead of once per value.
 */
struct walk {
	__u64 ip, sp, bp;
	__u64 tramp;	/* the uretprobe trampoline's address in this process */
	__u64 ri;	/* the thread's next pending uretprobe (struct return_instance *) */
	__u64 hash;
	__u32 n;
	__u32 flags;
	__u32 next_vma;
	bool bp_lost;
	struct walk_vma vma[WALK_VMAS];
};

struct qh_heap_call {
	__u64 active;  /* an entry probe filled this, its return probe has not run */
	__u64 size;
	__u64 old_ptr; /* realloc, reallocarray */
	__u64 memptr;  /* posix_memalign's void ** */
	__u64 caller;  /* set by the return probe */
	__u64 stack_id;
	__u32 fn;      /* enum qh_heap_fn */
	__u32 __pad;
	/* the stack being unwound: per thread, so a preempted walk is nobody else's scratch */
	struct walk w;
	struct qh_ustack st;
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

/*
 * The unwinder's tables (see unwind.h): rows of every module the loader has built one for,
 * each module's a sorted run of `unwind_rows` (`unwind_modules`, maps.bpf.h, says where).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qh_unwind_row);
} unwind_rows SEC(".maps");

/*
 * Where a walk met code the loader had not seen yet, per thread while it walks (the slice is
 * too big for the BPF stack): only threads that met such code have one.
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct qh_ustack_slice);
} heap_slices SEC(".maps");

/* the slices of the QH_USTACK_SLICE stacks of `ustacks`, by the same key */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct qh_ustack_slice);
} ustack_slices SEC(".maps");

/* allocation stacks by a hash of their frames; memory only for the stacks there are */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct qh_ustack);
} ustacks SEC(".maps");

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

/*
 * The unwinder. Each frame's caller is found from the module's unwind table when the loader
 * has built one (the .eh_frame rules: no frame pointers needed), else by frame pointers,
 * which marks the stack guessed. The few mappings a walk passes through are remembered, so
 * bpf_find_vma runs about once per module, not once per frame.
 */
struct vma_hit {
	__u64 start, end, pgoff, dev, ino;
	bool file;
};

static long vma_hit(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_hit *h = data;
	struct inode *ino;

	h->start = vma->vm_start;
	h->end = vma->vm_end;
	h->pgoff = vma->vm_pgoff;
	if (!vma->vm_file)
		return 0;
	ino = vma->vm_file->f_inode;
	h->dev = BPF_CORE_READ(ino, i_sb, s_dev);
	h->ino = BPF_CORE_READ(ino, i_ino);
	h->file = true;
	return 0;
}

/* The mapping @pc lies in, with its module's rows; NULL when no mapping holds it. */
static __always_inline struct walk_vma *walk_vma(struct walk *w, __u64 pc)
{
	struct qh_file_key k = {};
	struct qh_unwind_module *m;
	struct vma_hit h = {};
	struct walk_vma *v;
	__u32 i;

	for (i = 0; i < WALK_VMAS; i++) {
		v = &w->vma[i];
		if (pc < v->m.start || pc >= v->m.end)
			continue;
		/* the loader may have built its file's table since (a program just exec'd) */
		if (!v->count && v->m.ino) {
			k.dev = v->m.dev;
			k.ino = v->m.ino;
			m = bpf_map_lookup_elem(&unwind_modules, &k);
			if (m && m->first != QH_UNWIND_PENDING) {
				v->first = m->first;
				v->count = m->count;
				v->unseen = false;
			}
		}
		return v;
	}
	if (bpf_find_vma(bpf_get_current_task_btf(), pc, vma_hit, &h, 0) || pc < h.start ||
	    pc >= h.end)
		return NULL;
	v = &w->vma[w->next_vma++ % WALK_VMAS];
	v->m.start = h.start;
	v->m.end = h.end;
	v->m.pgoff = h.pgoff;
	v->m.dev = h.dev;
	v->m.ino = h.ino;
	v->base = h.start - (h.pgoff << 12); /* x86-64: 4 KiB pages */
	v->count = 0;
	v->unseen = false;
	if (!h.file)
		return v;
	k.dev = h.dev;
	k.ino = h.ino;
	m = bpf_map_lookup_elem(&unwind_modules, &k);
	if (m && m->first != QH_UNWIND_PENDING) {
		v->first = m->first;
		v->count = m->count;
	} else {
		v->unseen = true;
	}
	return v;
}

/*
 * The index in unwind_rows of the row that holds file offset @off among the @count rows from
 * @first, or -1. A global function: the verifier checks the search once, not in each place
 * the walk may reach it.
 */
__noinline int unwind_find_row(__u32 first, __u32 count, __u64 off)
{
	__u32 lo = first, hi = first + count, mid, i;
	struct qh_unwind_row *r;

	if (!count || off > 0xffffffffULL)
		return -1;
	for (i = 0; i < ROW_SEARCH_STEPS && lo < hi; i++) {
		mid = lo + (hi - lo) / 2;
		r = bpf_map_lookup_elem(&unwind_rows, &mid);
		if (!r)
			return -1;
		if (r->pc <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > first ? (int)(lo - 1) : -1;
}

/* The row of @v's module that holds @pc, or NULL */
static __always_inline struct qh_unwind_row *find_row(struct walk_vma *v, __u64 pc)
{
	int i = unwind_find_row(v->first, v->count, pc - v->base);
	__u32 k = i;

	return i < 0 ? NULL : bpf_map_lookup_elem(&unwind_rows, &k);
}

static __always_inline bool read_user(__u64 *v, __u64 addr)
{
	return !bpf_probe_read_user(v, sizeof(*v), (void *)addr);
}

struct walk_ctx {
	struct qh_heap_call *c;
};

/*
 * The walk is at code of a file the loader has not seen: a library just mapped, whose table
 * the loader builds on hearing of it (QH_EV_MAP_EXEC), too late for this call when the process
 * goes straight on to use it. Its registers and the stack above are kept, so the loader can
 * unwind the rest with that table; the walk goes on by frame pointers meanwhile. The stack as
 * far as it could be read: a smaller piece where the larger would cross the stack's top.
 */
static __always_inline void keep_slice(struct walk *w)
{
	struct qh_ustack_slice *s;

	s = bpf_task_storage_get(&heap_slices, bpf_get_current_task_btf(), NULL,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!s)
		return;
	s->ip = w->ip;
	s->sp = w->sp;
	s->bp = w->bp;
	s->at = w->n - 1;
	s->bp_lost = w->bp_lost;
	s->flags = w->flags;
	if (!bpf_probe_read_user(s->data, QH_SLICE_LEN, (void *)w->sp))
		s->len = QH_SLICE_LEN;
	else if (!bpf_probe_read_user(s->data, QH_SLICE_LEN / 4, (void *)w->sp))
		s->len = QH_SLICE_LEN / 4;
	else if (!bpf_probe_read_user(s->data, QH_SLICE_LEN / 16, (void *)w->sp))
		s->len = QH_SLICE_LEN / 16;
	else
		return;
	w->flags |= QH_USTACK_SLICE;
}

/* the words of a slice mixed into its stack's key */
#define SLICE_HASH_WORDS (QH_SLICE_LEN / 8)

/* One frame: record its ip, find its caller's registers. 1 ends the walk. */
static long walk_step(__u64 i, void *data)
{
	struct qh_heap_call *c = ((struct walk_ctx *)data)->c;
	struct walk *w = &c->w;
	struct qh_unwind_row *r = NULL;
	struct walk_vma *v;
	__u64 ip = w->ip, cfa, ra, bp;
	__u32 n = w->n;

	if (n >= QH_USTACK_MAX) {
		w->flags |= QH_USTACK_TRUNCATED;
		return 1;
	}
	c->st.ips[n] = ip;
	w->n = n + 1;
	w->hash = (w->hash ^ ip) * 1099511628211ULL;
	/* a return address: its call instruction is the byte before */
	v = walk_vma(w, n ? ip - 1 : ip);
	if (!v) {
		w->flags |= QH_USTACK_TRUNCATED;
		return 1;
	}
	if (v->unseen && !(w->flags & QH_USTACK_SLICE))
		keep_slice(w);
	if (v->count)
		r = find_row(v, n ? ip - 1 : ip);
	if (r) {
		if (r->cfa == QH_CFA_END)
			return 1;
		if (r->cfa == QH_CFA_RSP) {
			cfa = w->sp + r->cfa_off;
		} else if (r->cfa == QH_CFA_RBP && !w->bp_lost) {
			cfa = w->bp + r->cfa_off;
		} else {
			w->flags |= QH_USTACK_TRUNCATED;
			return 1;
		}
		if (!read_user(&ra, cfa - 8)) {
			w->flags |= QH_USTACK_TRUNCATED;
			return 1;
		}
		if (r->rbp == QH_RBP_SAVED) {
			if (!read_user(&bp, cfa + r->rbp_off)) {
				w->flags |= QH_USTACK_TRUNCATED;
				return 1;
			}
			w->bp = bp;
			w->bp_lost = false;
		} else if (r->rbp == QH_RBP_LOST) {
			w->bp_lost = true;
		}
		w->sp = cfa;
	} else {
		/* no table here: trust rbp to be a frame pointer, below the caller's */
		if (!w->bp) /* _start clears it: the outermost frame */
			return 1;
		if (w->bp_lost || w->bp < w->sp || !read_user(&bp, w->bp) ||
		    !read_user(&ra, w->bp + 8)) {
			w->flags |= QH_USTACK_TRUNCATED;
			return 1;
		}
		w->flags |= QH_USTACK_GUESSED;
		w->sp = w->bp + 16;
		w->bp = bp;
	}
	/*
	 * A function with a return probe pending (posix_memalign, when it calls memalign) has
	 * the trampoline for its return address; the kernel keeps the real one, innermost first.
	 */
	if (ra == w->tramp && w->ri) {
		struct return_instance *ri = (void *)w->ri;

		ra = BPF_CORE_READ(ri, orig_ret_vaddr);
		w->ri = (__u64)BPF_CORE_READ(ri, next);
	}
	if (!ra)
		return 1;
	w->ip = ra;
	return 0;
}

/* The stack of the allocator call @ctx entered, into `ustacks`; its key, 0 when lost. */
static __always_inline __u64 heap_stack(struct pt_regs *ctx, struct qh_heap_call *c)
{
	struct qh_ustack_slice *s = NULL;
	struct task_struct *task;
	struct mm_struct *mm;
	__u64 key;
	struct walk_ctx wc = { .c = c };
	struct walk *w = &c->w;
	__u32 i;

	w->ip = PT_REGS_IP(ctx);
	w->sp = PT_REGS_SP(ctx);
	w->bp = PT_REGS_FP(ctx);
	w->hash = 14695981039346656037ULL;
	w->n = 0;
	w->flags = 0;
	w->bp_lost = false;
	task = bpf_get_current_task_btf();
	mm = task->mm;
	w->tramp = BPF_CORE_READ(mm, uprobes_state.xol_area, vaddr);
	w->ri = (__u64)BPF_CORE_READ(task, utask, return_instances);
	w->next_vma = 0;
	for (i = 0; i < WALK_VMAS; i++)
		w->vma[i].m.start = w->vma[i].m.end = 0;
	bpf_loop(QH_USTACK_MAX, walk_step, &wc, 0);
	if (w->n < 2) {
		stat_inc(QH_STAT_STACK_LOST);
		return 0;
	}
	c->st.nr = w->n;
	c->st.flags = w->flags;
	/* the files, so frames resolve without /proc (the process may be gone by then) */
	c->st.nvmas = w->next_vma < WALK_VMAS ? w->next_vma : WALK_VMAS;
	for (i = 0; i < WALK_VMAS; i++)
		c->st.vmas[i] = w->vma[i].m;
	key = w->hash ^ w->flags;
	if (w->flags & QH_USTACK_SLICE) {
		s = bpf_task_storage_get(&heap_slices, task, NULL, 0);
		if (!s) {
			stat_inc(QH_STAT_STACK_LOST);
			return 0;
		}
		/*
		 * Frames past the slice's start were guessed: the stack is told apart by what the
		 * loader will unwind, the slice (locals and all: such stacks are rarely the same,
		 * and only for the moment before the loader has the file's table).
		 */
		for (i = 0; i < SLICE_HASH_WORDS; i++) {
			__u32 off = i * 8;
			__u64 word;

			if (off + 8 > s->len || off + 8 > QH_SLICE_LEN)
				break;
			__builtin_memcpy(&word, &s->data[off], 8);
			key = (key ^ word) * 1099511628211ULL;
		}
	}
	if (!key)
		key = 1;
	if (!bpf_map_lookup_elem(&ustacks, &key) &&
	    bpf_map_update_elem(&ustacks, &key, &c->st, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&ustacks, &key)) {
		stat_inc(QH_STAT_STACK_LOST);
		return 0;
	}
	if (s && bpf_map_update_elem(&ustack_slices, &key, s, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&ustack_slices, &key))
		stat_inc(QH_STAT_STACK_LOST);
	return key;
}

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
	c->stack_id = cfg_stacks ? heap_stack(ctx, c) : 0;
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

	__u64 fn = bpf_get_attach_cookie(ctx), size, old = 0, memptr = 0;

	/* one call of heap_enter: the verifier goes through its stack walk once */
	switch (fn) {
	case QH_HEAP_MALLOC:
	case QH_HEAP_VALLOC:
		size = a0;
		break;
	case QH_HEAP_CALLOC:
		size = mul_sat(a0, a1);
		break;
	case QH_HEAP_REALLOC:
		size = a1;
		old = a0;
		break;
	case QH_HEAP_REALLOCARRAY:
		size = mul_sat(a1, a2);
		old = a0;
		break;
	case QH_HEAP_POSIX_MEMALIGN:
		size = a2;
		memptr = a0;
		break;
	case QH_HEAP_ALIGNED_ALLOC:
	case QH_HEAP_MEMALIGN:
		/* (alignment, size) */
		fn = QH_HEAP_MEMALIGN;
		size = a1;
		break;
	case QH_HEAP_PVALLOC:
		/* pvalloc rounds the size up to whole pages */
		size = (a0 + 4095) & ~4095ULL;
		break;
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
	default:
		return 0;
	}
	return heap_enter(ctx, fn, size, old, memptr);
}

SEC("uretprobe")
int BPF_KRETPROBE(alloc_return)
{
	return heap_exit(ctx);
}

/*
 * The (dev, inode) the walk sees for the mapping at file_key_addr in the calling process (the
 * loader's own mapping of a file), into file_key: what its tables are keyed by. /proc may say
 * otherwise: on overlayfs since Linux 6.8 it shows the overlay's inode, while the mapping holds
 * the file below. The loader runs this with BPF_PROG_TEST_RUN; never attached.
 */
__u64 file_key_addr = 0;
struct qh_file_key file_key = {};

static long file_key_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct inode *ino;

	if (!vma->vm_file)
		return 0;
	ino = vma->vm_file->f_inode;
	file_key.dev = BPF_CORE_READ(ino, i_sb, s_dev);
	file_key.ino = BPF_CORE_READ(ino, i_ino);
	return 0;
}

SEC("raw_tp")
int heap_file_key(void *ctx)
{
	file_key.dev = file_key.ino = 0;
	bpf_find_vma(bpf_get_current_task_btf(), file_key_addr, file_key_vma, NULL, 0);
	return 0;
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
