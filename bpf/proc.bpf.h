/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers on struct qh_proc shared by the process and memory probe families. */
#ifndef __PROC_BPF_H
#define __PROC_BPF_H

#include "maps.bpf.h"
#include "core_fixes.bpf.h"

static __always_inline void proc_read_rss(struct qh_proc *p, struct mm_struct *mm)
{
	if (!mm)
		return;
	p->rss_pages[MM_FILEPAGES] = mm_counter(mm, MM_FILEPAGES);
	p->rss_pages[MM_ANONPAGES] = mm_counter(mm, MM_ANONPAGES);
	p->rss_pages[MM_SWAPENTS] = mm_counter(mm, MM_SWAPENTS);
	p->rss_pages[MM_SHMEMPAGES] = mm_counter(mm, MM_SHMEMPAGES);
}

/* Start following @mm for @tgid: RSS changes of that mm are charged to it. */
static __always_inline void proc_own_mm(struct qh_proc *p, __u32 tgid, struct mm_struct *mm)
{
	__u64 key = (__u64)mm;

	p->mm = key;
	if (!mm)
		return;
	if (bpf_map_update_elem(&mm_owner, &key, &tgid, BPF_ANY))
		stat_inc(QH_STAT_MMS_FULL);
}

/*
 * Stop following the mm of @p, unless another process owns it (a vfork child shares its
 * parent's mm until exec; dropping it then must not blind us to the parent).
 */
static __always_inline void proc_drop_mm(struct qh_proc *p, __u32 tgid)
{
	__u64 key = p->mm;
	__u32 *owner;

	if (!key)
		return;
	owner = bpf_map_lookup_elem(&mm_owner, &key);
	if (owner && *owner == tgid)
		bpf_map_delete_elem(&mm_owner, &key);
	p->mm = 0;
}

/*
 * Syscall arguments are read from the task's saved user registers: they are intact at
 * sys_exit, so an exit probe needs no entry probe and no per-call state.
 */
static __always_inline struct pt_regs *user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/*
 * The kernel function of syscall @name, for fentry/fexit programs: its one argument is the
 * task's saved user registers, the same struct user_regs() returns. Registering any syscall
 * tracepoint sets SYSCALL_WORK_SYSCALL_TRACEPOINT on every task of the machine
 * (syscall_regfunc() in kernel/tracepoint.c), which sends every syscall of every process
 * through the slow entry and exit work; an fentry/fexit trampoline patches only the probed
 * function, so processes qhtrace does not trace keep the fast path for every other syscall.
 */
#define QH_SYSCALL_FN(name) QH_SYSCALL_PREFIX #name

static __always_inline void *reserve(__u64 size)
{
	void *e = bpf_ringbuf_reserve(&events, size, 0);

	if (!e)
		stat_inc(QH_STAT_RB_RESERVE_FAILED);
	return e;
}

static __always_inline void fill_hdr(struct qh_event_hdr *h, __u32 type, __u32 pid, __u64 start)
{
	h->type = type;
	h->pid = pid;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->start_ns = start;
}

#endif /* __PROC_BPF_H */
