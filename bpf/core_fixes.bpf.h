/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Compatibility shims for kernel fields that changed name or type. */
#ifndef __CORE_FIXES_BPF_H
#define __CORE_FIXES_BPF_H

#include <vmlinux.h>
#include <bpf/bpf_core_read.h>

/*
 * Commit f1a7941243c1 ("mm: convert mm's rss stats into percpu_counter", v6.2) turned
 * mm->rss_stat from a struct of atomic_long_t into an array of percpu_counter. We read the
 * shared count, which lags the per-CPU deltas by at most the batch (32 pages per CPU).
 *
 * Which layout the running kernel has is asked of the old flavour: its rss_stat is a struct,
 * which the v6.2+ array never matches. (The field's size cannot tell them apart: a relocation
 * of the array field against a kernel whose field is a struct does not resolve at all.)
 *
 * Before v6.2 (SPLIT_RSS_COUNTING) each task also caches up to 64 events' worth of changes
 * (TASK_RSS_EVENTS_THRESH) and folds them into the mm's count only then, at a page fault,
 * or at exit: a running process's RSS read there lags by that much.
 */
struct mm_rss_stat___pre62 {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___pre62 {
	struct mm_rss_stat___pre62 rss_stat;
} __attribute__((preserve_access_index));

#define MM_RSS_PRE62(mm) bpf_core_field_exists(((struct mm_struct___pre62 *)(mm))->rss_stat)

#define __MM_COUNTER(mm, i)                                                                   \
	(MM_RSS_PRE62(mm) ?                                                                   \
		 BPF_CORE_READ((struct mm_struct___pre62 *)(mm), rss_stat.count[i].counter) :  \
		 BPF_CORE_READ(mm, rss_stat[i].count))

/* Constant indices only: the verifier refuses a variable offset into a kernel struct. */
static __always_inline __s64 mm_counter(struct mm_struct *mm, int member)
{
	__s64 v;

	switch (member) {
	case 0:
		v = __MM_COUNTER(mm, 0);
		break;
	case 1:
		v = __MM_COUNTER(mm, 1);
		break;
	case 2:
		v = __MM_COUNTER(mm, 2);
		break;
	case 3:
		v = __MM_COUNTER(mm, 3);
		break;
	default:
		return 0;
	}
	return v < 0 ? 0 : v;
}

/*
 * Commit cf25e24db61c ("time: Rename tsk->real_start_time to ->start_boottime", v5.5).
 * start_boottime is what /proc/PID/stat reports as starttime.
 */
struct task_struct___pre55 {
	__u64 real_start_time;
} __attribute__((preserve_access_index));

static __always_inline __u64 task_start_ns(struct task_struct *t)
{
	if (bpf_core_field_exists(t->start_boottime))
		return BPF_CORE_READ(t, start_boottime);
	return BPF_CORE_READ((struct task_struct___pre55 *)t, real_start_time);
}

/*
 * v6.16 gave the sched_process_exit tracepoint its group_dead argument and moved it before
 * exit_mm() (the same series; read from kernel/exit.c and include/trace/events/sched.h of
 * v6.15 and v6.16). Before, do_exit() has already done atomic_dec_and_test(&signal->live) when the
 * tracepoint fires: a count of zero means the whole group is exiting. Two threads that exit
 * together may both see zero; the caller lets only the first one through.
 */
static __always_inline bool exit_group_dead_pre616(struct task_struct *t)
{
	return BPF_CORE_READ(t, signal, live.counter) == 0;
}

/*
 * An mm whose last user is gone is being torn down (mmput() -> exit_mmap()): the rss_stat
 * events of that teardown count the pages down to zero. Before v6.16 the exit tracepoint
 * fires only after that, so these events must not overwrite the RSS the process exited with.
 */
static __always_inline bool mm_torn_down(struct mm_struct *mm)
{
	return BPF_CORE_READ(mm, mm_users.counter) == 0;
}

#endif /* __CORE_FIXES_BPF_H */
