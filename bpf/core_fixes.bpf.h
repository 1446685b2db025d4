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
 */
struct mm_rss_stat___pre62 {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___pre62 {
	struct mm_rss_stat___pre62 rss_stat;
} __attribute__((preserve_access_index));

#define __MM_COUNTER(mm, i)                                                                   \
	(bpf_core_field_size(mm->rss_stat) == 4 * sizeof(atomic_long_t) ?                     \
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

#endif /* __CORE_FIXES_BPF_H */
