// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Process lifecycle: fork (process and thread), exec, exit, release. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "fd.bpf.h"

#ifndef SIGNAL_GROUP_EXIT
#define SIGNAL_GROUP_EXIT 0x00000004 /* include/linux/sched/signal.h */
#endif

/* source of heap generations: one per address space instance (fork, exec) */
__u32 heap_gen_next = 0;

/* written by clock_sync, read by the loader */
struct qh_clock clock_pair = {};

/*
 * Both clocks at once, for the loader to turn record stamps (qh_stamp) into boot ns: it runs
 * this with BPF_PROG_TEST_RUN before each read of the records. Never attached.
 */
SEC("raw_tp")
int clock_sync(void *ctx)
{
	clock_pair.stamp = qh_stamp();
	clock_pair.boot_ns = bpf_ktime_get_boot_ns();
	clock_pair.hz = CONFIG_HZ;
	return 0;
}

static __always_inline void emit_reap(__u32 tgid, __u64 start)
{
	struct qh_event_reap *e = reserve(sizeof(*e));

	if (!e)
		return;
	fill_hdr(&e->hdr, QH_EV_REAP, tgid, start);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int handle_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 tgid = BPF_CORE_READ(child, tgid);
	struct mm_struct *mm;
	struct qh_event_fork *e;
	struct qh_proc *pp, *p, init = {};

	pp = bpf_map_lookup_elem(&procs, &ptgid);
	if (!pp)
		return 0;

	if (tgid == ptgid) {
		/* a new thread; races with other threads of the process are benign */
		__u32 n = __sync_add_and_fetch(&pp->threads, 1);

		if (n > pp->threads_peak)
			pp->threads_peak = n;
		return 0;
	}

	/*
	 * The pid is free again only once its previous owner was released, which
	 * sched_process_free reports after an RCU grace period: the new process may come first.
	 * Its release is certain now; say so before the entry is overwritten.
	 */
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (p && (p->flags & QH_PF_EXITED))
		emit_reap(tgid, p->start_ns);

	/*
	 * The CI job (monitor): the parent's, which the loader may have named since its last fork;
	 * every descendant inherits it here, whatever it does to its environment.
	 */
	if (!pp->job) {
		struct qh_job_root *jr = bpf_map_lookup_elem(&job_roots, &ptgid);

		if (jr && jr->start_ns == pp->start_ns)
			pp->job = jr->job;
	}
	init.job = pp->job;

	mm = BPF_CORE_READ(child, mm);
	init.start_ns = task_start_ns(child);
	init.ppid = BPF_CORE_READ(child, real_parent, tgid);
	init.threads = 1;
	init.threads_peak = 1;
	init.heap_gen = __sync_add_and_fetch(&heap_gen_next, 1);
	/* same mappings as the parent, so the same C library, and a copy of its live blocks */
	init.flags = pp->flags & QH_PF_HEAP_HOOKED;
	init.fork_ns = bpf_ktime_get_boot_ns();
	/* blocks the parent made before this fork are the child's too: ordered exactly */
	init.inherit_epoch = __sync_add_and_fetch(&pp->forks, 1);
	init.inherit_tgid = ptgid;
	init.inherit_gen = pp->heap_gen;
	proc_read_rss(&init, mm);
	init.base_rss_pages = init.peak_rss_pages = QH_RSS_TOTAL(init.rss_pages);
	init.heap_bytes = BPF_CORE_READ(mm, brk) - BPF_CORE_READ(mm, start_brk);
	/* the child inherits the parent's mappings */
	init.mmap_anon_bytes = pp->mmap_anon_bytes;
	init.mmap_file_bytes = pp->mmap_file_bytes;
	/* a copy of the parent's fd table (one shared with CLONE_FILES counts the same) */
	init.fd_open = init.fd_peak = fdt_count(task_fdt(child));

	if (bpf_map_update_elem(&procs, &tgid, &init, BPF_ANY)) {
		stat_inc(QH_STAT_PROCS_FULL);
		return 0;
	}
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return 0;
	/* CLONE_VM without CLONE_THREAD (vfork, posix_spawn): the mm stays the parent's */
	if ((__u64)mm != pp->mm)
		proc_own_mm(p, tgid, mm);
	else
		p->mm = (__u64)mm;

	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, QH_EV_FORK, tgid, init.start_ns);
	__builtin_memcpy(&e->proc, p, sizeof(*p));
	BPF_CORE_READ_STR_INTO(&e->comm, child, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(sched_process_fork, struct task_struct *parent, struct task_struct *child)
{
	return handle_fork(parent, child);
}

struct text_vma {
	__u64 text_start, text_end, text_pgoff, text_dev, text_ino;
};

static long exec_text_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct text_vma *e = data;
	struct file *f = vma->vm_file;

	e->text_start = vma->vm_start;
	e->text_end = vma->vm_end;
	e->text_pgoff = vma->vm_pgoff;
	if (f) {
		e->text_dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
		e->text_ino = BPF_CORE_READ(f, f_inode, i_ino);
	}
	return 0;
}

/* monitor: the job variables' "NAME=" prefixes (qhtrace.h), set by the loader; 0: none */
const volatile __u32 cfg_job_env_n = 0;
const volatile __u64 cfg_job_env_prefix[QH_JOB_ENV_NAMES][2] = {};
const volatile __u64 cfg_job_env_mask[QH_JOB_ENV_NAMES][2] = {};

static __always_inline bool job_env_match(const char *s)
{
	__u64 a = *(const __u64 *)s, b = *(const __u64 *)(s + 8);
	__u32 i;

	for (i = 0; i < QH_JOB_ENV_NAMES; i++) {
		if (i >= cfg_job_env_n)
			break;
		if ((a & cfg_job_env_mask[i][0]) == cfg_job_env_prefix[i][0] &&
		    (b & cfg_job_env_mask[i][1]) == cfg_job_env_prefix[i][1])
			return true;
	}
	return false;
}

struct job_env_scan {
	__u64 ptr, end;
	__u32 len;
	__u32 scanned;
};

/* one environment string: copied after the ones kept, kept when it may name a job */
static long job_env_one(__u32 i, void *ctx)
{
	struct job_env_scan *c = ctx;
	struct qh_event_job_env *e;
	__u32 zero = 0;
	char *dst;
	long n;

	if (c->ptr >= c->end || c->len + QH_JOB_ENV_STR > QH_JOB_ENV_BLOB)
		return 1;
	e = bpf_map_lookup_elem(&job_env_buf, &zero);
	if (!e)
		return 1;
	dst = e->data + (c->len & (QH_JOB_ENV_BLOB - 1));
	n = bpf_probe_read_user_str(dst, QH_JOB_ENV_STR, (const void *)c->ptr);
	if (n <= 0)
		return 1;
	c->ptr += n;
	c->scanned = i + 1;
	/* a string shorter than 16 bytes compares its NUL, which no name has */
	if (n > 1 && job_env_match(dst))
		c->len += n;
	return 0;
}

/*
 * A process in no job exec'd: send the strings of its new environment that may name one. Read
 * here, where the image is the one exec'd (the pages the exec wrote); each string is copied
 * into a per-CPU record, kept when it matches, and what was kept is sent. Costs one string
 * read per variable (bpf_loop: verified once), and only while the monitor looks for jobs.
 */
static __always_inline void job_env(__u32 tgid, __u64 start_ns, struct mm_struct *mm)
{
	struct job_env_scan c = {
		.ptr = BPF_CORE_READ(mm, env_start),
		.end = BPF_CORE_READ(mm, env_end),
	};
	struct qh_event_job_env *e;
	__u32 zero = 0, len;

	bpf_loop(QH_JOB_ENV_SCAN, job_env_one, &c, 0);
	len = c.len;
	if (!len)
		return;
	if (len > QH_JOB_ENV_BLOB)
		len = QH_JOB_ENV_BLOB;
	e = bpf_map_lookup_elem(&job_env_buf, &zero);
	if (!e)
		return;
	fill_hdr(&e->hdr, QH_EV_JOB_ENV, tgid, start_ns);
	e->len = len;
	e->scanned = c.scanned;
	if (bpf_ringbuf_output(&events, e, offsetof(struct qh_event_job_env, data) + len, 0))
		stat_inc(QH_STAT_RB_RESERVE_FAILED);
}

static __always_inline int handle_exec(struct task_struct *task, __u32 old_pid,
				       struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct text_vma tv = {};
	struct qh_event_exec *e;
	struct qh_proc *p;

	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return 0;

	/* a process seeded from /proc knows its start time to the tick only */
	p->start_ns = task_start_ns(task);
	p->flags &= ~QH_PF_START_SEEDED;
	if (p->mm != (__u64)mm) {
		proc_drop_mm(p, tgid);
		proc_own_mm(p, tgid, mm);
	}
	/* a new program: its growth is measured from here */
	proc_read_rss(p, mm);
	p->base_rss_pages = p->peak_rss_pages = QH_RSS_TOTAL(p->rss_pages);
	p->heap_bytes = 0;
	p->mmap_anon_bytes = 0;
	p->mmap_file_bytes = 0;
	/* blocks of the old image are gone with it: a new generation; the new image maps its
	 * own C library (or none) */
	p->flags &= ~(QH_PF_HEAP_HOOKED | QH_PF_LIBC_ASKED);
	p->inherit_tgid = 0;
	p->heap_gen = __sync_add_and_fetch(&heap_gen_next, 1);
	p->heap_live_bytes = 0;
	p->heap_live_count = 0;
	/* de_thread() has already made every other thread exit */
	p->threads = 1;
	p->ppid = BPF_CORE_READ(task, real_parent, tgid);
	/* begin_new_exec() has closed the close-on-exec fds */
	fd_resync(task, p, tgid, 0, p->fd_limit);

	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, QH_EV_EXEC, tgid, p->start_ns);
	e->old_pid = old_pid;
	e->heap_gen = p->heap_gen;
	/* the callback may only write to the stack: copy from there */
	bpf_find_vma(task, BPF_CORE_READ(mm, start_code), exec_text_vma, &tv, 0);
	e->text_start = tv.text_start;
	e->text_end = tv.text_end;
	e->text_pgoff = tv.text_pgoff;
	e->text_dev = tv.text_dev;
	e->text_ino = tv.text_ino;
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	bpf_probe_read_kernel_str(&e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	bpf_ringbuf_submit(e, 0);
	if (cfg_job_env_n && !p->job)
		job_env(tgid, p->start_ns, mm);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_process_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return handle_exec(p, old_pid, bprm);
}

/* The status word wait(2) will report, computed as wait_task_zombie() does. */
static __always_inline __s32 exit_status(struct task_struct *task)
{
	struct signal_struct *sig = BPF_CORE_READ(task, signal);
	struct task_struct *leader;

	if (BPF_CORE_READ(sig, flags) & SIGNAL_GROUP_EXIT)
		return BPF_CORE_READ(sig, group_exit_code);
	leader = BPF_CORE_READ(task, group_leader);
	if (leader == task)
		return BPF_CORE_READ(task, exit_code);
	return BPF_CORE_READ(leader, exit_code);
}

static __always_inline int handle_exit(struct task_struct *task, bool group_dead)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct qh_event_exit *e;
	struct qh_proc *p;

	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p)
		return 0;
	if (!group_dead) {
		if (p->threads > 1)
			__sync_fetch_and_add(&p->threads, -1);
		return 0;
	}
	/* once per process: before v6.16 two threads exiting together may both see the group
	 * dead (exit_group_dead_pre616) */
	if (__sync_fetch_and_or(&p->flags, QH_PF_EXITING) & QH_PF_EXITING)
		return 0;

	/*
	 * Since v6.16 this fires before exit_mm(): the counters are the process's RSS as it began
	 * to exit. Before, task->mm is NULL here and the counters are what rss_stat last said
	 * before the teardown (mm_torn_down). Dropping the mm keeps anything later from
	 * changing them.
	 */
	if (p->flags & QH_PF_START_SEEDED) {
		p->start_ns = task_start_ns(BPF_CORE_READ(task, group_leader));
		p->flags &= ~QH_PF_START_SEEDED;
	}
	proc_read_rss(p, BPF_CORE_READ(task, mm));
	proc_drop_mm(p, tgid);
	fd_exit(task, p, tgid);
	p->threads = 0;
	p->exit_status = exit_status(task);
	p->exit_ns = bpf_ktime_get_boot_ns();
	p->flags |= QH_PF_EXITED;

	e = reserve(sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, QH_EV_EXIT, tgid, p->start_ns);
	e->hdr.ts_ns = p->exit_ns;
	__builtin_memcpy(&e->proc, p, sizeof(*p));
	/* the last thread to exit may be any (chromium's "ThreadPoolForeg"): the process's
	 * name is its leader's, which stays allocated until the group is reaped */
	BPF_CORE_READ_STR_INTO(&e->comm, task, group_leader, comm);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p, bool group_dead)
{
	return handle_exit(p, group_dead);
}

/*
 * Before v6.16 the tracepoint has no group_dead and fires after exit_mm(): the loader loads
 * this variant instead when the kernel's BTF gives the tracepoint one argument
 * (tracer.c: btf_tp_nargs). RSS is then the last figure rss_stat gave before the teardown.
 */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit_pre616, struct task_struct *p)
{
	return handle_exit(p, exit_group_dead_pre616(p));
}

/*
 * Runs from an RCU callback after release_task(): the process has been reaped. Its pid may
 * already belong to a new process, so the start time decides whose entry this is.
 */
static __always_inline int handle_free(struct task_struct *task)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);
	__u64 start = task_start_ns(task);
	struct qh_proc *p;

	if (BPF_CORE_READ(task, pid) != tgid)
		return 0;
	p = bpf_map_lookup_elem(&procs, &tgid);
	if (!p || !(p->flags & QH_PF_EXITED) || p->start_ns != start)
		return 0;
	bpf_map_delete_elem(&procs, &tgid);
	emit_reap(tgid, start);
	return 0;
}

SEC("tp_btf/sched_process_free")
int BPF_PROG(sched_process_free, struct task_struct *p)
{
	return handle_free(p);
}
