// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Memory: RSS by kind from rss_stat, and mmap/munmap/mremap/brk accounting.
 *
 * The syscalls have two ways in, sharing every body: fentry/fexit programs on the syscall
 * functions (mem_fx_*, where the kernel allows fentry: no task is put on the slow syscall
 * path, see QH_SYSCALL_FN in proc.bpf.h), or classic syscall tracepoints (sys_enter_*,
 * sys_exit_*). The loader picks one with the fd probes' choice.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "proc.bpf.h"

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS 0x20
#endif
#ifndef PROT_EXEC
#define PROT_EXEC 0x4
#endif
#define QH_MAX_VMAS 8 /* mappings of one munmap range that are classified */

struct qh_call {
	__u64 anon_bytes; /* munmap: bytes of the range in anonymous mappings */
	__u64 file_bytes; /* munmap: bytes of the range in file mappings */
	__u32 is_anon;	  /* mremap: kind of the mapping being resized */
	__u32 active;	  /* an entry probe filled this, its exit has not run */
};

/*
 * Thread -> what a munmap/mremap entry saw, consumed at its exit. Task storage: reached from
 * the task, no hashing (a hash by tid cost ~135 ns per munmap in update, lookup, delete).
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct qh_call);
} mem_calls SEC(".maps");

static __always_inline struct qh_call *call_begin(void)
{
	struct qh_call *c = bpf_task_storage_get(&mem_calls, bpf_get_current_task_btf(), NULL,
						 BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!c)
		stat_inc(QH_STAT_CALLS_FULL);
	return c;
}

/* the entry's state, once: NULL if the entry did not see the call */
static __always_inline struct qh_call *call_end(void)
{
	struct qh_call *c = bpf_task_storage_get(&mem_calls, bpf_get_current_task_btf(), NULL, 0);

	if (!c || !c->active)
		return NULL;
	c->active = 0;
	return c;
}

/* set by the loader from sysconf(_SC_PAGESIZE) */
const volatile __u64 cfg_page_size = 4096;

static __always_inline int handle_rss_stat(struct mm_struct *mm, int member)
{
	__u64 key = (__u64)mm, total;
	struct qh_proc *p;
	__u32 *tgid;

	tgid = bpf_map_lookup_elem(&mm_owner, &key);
	if (!tgid)
		return 0;
	p = bpf_map_lookup_elem(&procs, tgid);
	if (!p || p->mm != key)
		return 0;
	/* the teardown's events count down to zero: keep the RSS the process had */
	if (mm_torn_down(mm))
		return 0;
	if (member < 0 || member >= QH_NR_RSS)
		return 0;
	/* the index is masked so the verifier sees it stay inside the array */
	p->rss_pages[member & (QH_NR_RSS - 1)] = mm_counter(mm, member);
	total = QH_RSS_TOTAL(p->rss_pages);
	if (total > p->peak_rss_pages)
		p->peak_rss_pages = total;
	stat_inc(QH_STAT_RSS_EVENTS);
	return 0;
}

SEC("tp_btf/rss_stat")
int BPF_PROG(rss_stat, struct mm_struct *mm, int member)
{
	return handle_rss_stat(mm, member);
}


/*
 * The traced process making this syscall. A process seeded from /proc (one that existed
 * before tracing began) has no mm followed yet: its first memory syscall adopts it.
 */
static __always_inline struct qh_proc *current_proc(__u32 *tgid)
{
	struct mm_struct *mm;
	struct qh_proc *p;
	__u64 total;

	*tgid = bpf_get_current_pid_tgid() >> 32;
	p = bpf_map_lookup_elem(&procs, tgid);
	if (!p || p->mm || (p->flags & QH_PF_EXITED))
		return p;
	mm = BPF_CORE_READ((struct task_struct *)bpf_get_current_task_btf(), mm);
	proc_own_mm(p, *tgid, mm);
	proc_read_rss(p, mm);
	total = QH_RSS_TOTAL(p->rss_pages);
	if (total > p->peak_rss_pages)
		p->peak_rss_pages = total;
	return p;
}

/* a syscall's return value that is an -errno, as the kernel's IS_ERR_VALUE() says */
static __always_inline bool is_err(long ret)
{
	return (unsigned long)ret >= (unsigned long)-4095;
}

static __always_inline __u64 page_align(__u64 len)
{
	return (len + cfg_page_size - 1) & ~(cfg_page_size - 1);
}

static __always_inline void sub_clamped(__u64 *v, __u64 d)
{
	*v = *v > d ? *v - d : 0;
}

/* set by the loader: the malloc family is followed, so C libraries matter */
const volatile bool cfg_heap = false;

struct mapped_file {
	__u64 dev;
	__u64 ino;
	bool hooked;  /* a C library already probed */
	bool is_libc; /* named libc.so*: a C library */
};

static long vma_file_hooked(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct mapped_file *m = data;
	struct qh_file_key k = {};
	char name[8] = {};
	struct inode *ino;

	if (!vma->vm_file)
		return 0;
	ino = vma->vm_file->f_inode;
	k.dev = BPF_CORE_READ(ino, i_sb, s_dev);
	k.ino = BPF_CORE_READ(ino, i_ino);
	m->hooked = bpf_map_lookup_elem(&libc_files, &k) != NULL;
	m->dev = k.dev;
	m->ino = k.ino;
	bpf_probe_read_kernel_str(name, sizeof(name),
				  BPF_CORE_READ(vma->vm_file, f_path.dentry, d_name.name));
	m->is_libc = name[0] == 'l' && name[1] == 'i' && name[2] == 'b' && name[3] == 'c' &&
		     name[4] == '.' && name[5] == 's' && name[6] == 'o';
	return 0;
}

/* set by the loader: heap stacks are unwound, so the code a process maps matters */
const volatile bool cfg_unwind = false;

struct mapped_code {
	__u64 start, end, pgoff;
	struct qh_file_key k;
	__u64 file; /* struct file *, read with probe reads after the callback */
};

static long vma_code(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct mapped_code *m = data;
	struct inode *ino;

	if (!vma->vm_file)
		return 0;
	m->start = vma->vm_start;
	m->end = vma->vm_end;
	m->pgoff = vma->vm_pgoff;
	ino = vma->vm_file->f_inode;
	/* what heap.bpf.c's walk reads for the same mapping: its tables are keyed by it */
	m->k.dev = BPF_CORE_READ(ino, i_sb, s_dev);
	m->k.ino = BPF_CORE_READ(ino, i_ino);
	m->file = (__u64)vma->vm_file;
	return 0;
}

/*
 * A file's path being spelled, per thread: the names do not fit the BPF stack, and the walk
 * runs in a bpf_loop callback (checked once by the verifier, whatever the names' lengths).
 */
struct map_path {
	__u64 d, root, mnt; /* struct dentry *, the mount's root dentry, struct mount * */
	__u32 pos, names, complete, __pad;
	char path[QH_MAP_PATH_LEN + QH_MAP_NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct map_path);
} map_paths SEC(".maps");

struct map_path_ctx {
	struct map_path *mp;
};

/* One step up from mp->d: a name, or from a mount's root to where it is mounted. 1: done. */
static long map_path_step(__u64 i, void *data)
{
	struct map_path *mp = ((struct map_path_ctx *)data)->mp;
	struct dentry *d = (void *)mp->d, *up;
	struct mount *mnt = (void *)mp->mnt, *pmnt;
	__u32 off;
	long n;

	if (mp->d == mp->root) {
		pmnt = BPF_CORE_READ(mnt, mnt_parent);
		if (pmnt == mnt) { /* the root of its mount tree */
			mp->complete = 1;
			return 1;
		}
		mp->d = (__u64)BPF_CORE_READ(mnt, mnt_mountpoint);
		mp->mnt = (__u64)pmnt;
		mp->root = (__u64)BPF_CORE_READ(pmnt, mnt.mnt_root);
		return 0;
	}
	up = BPF_CORE_READ(d, d_parent);
	off = mp->pos;
	if (up == d || off >= QH_MAP_PATH_LEN)
		return 1;
	n = bpf_probe_read_kernel_str(&mp->path[off & (QH_MAP_PATH_LEN - 1)], QH_MAP_NAME_LEN,
				      BPF_CORE_READ(d, d_name.name));
	if (n <= 0)
		return 1;
	mp->pos = off + n;
	mp->names++;
	mp->d = (__u64)up;
	return 0;
}

/*
 * @f's path into @e, from its dentry up through the mounts above it (d_path without the
 * helper, which tracepoints may not call): the loader learns the file even when the process
 * has unmapped it again before /proc was read.
 */
static __always_inline void map_path(struct qh_event_map *e, struct file *f)
{
	struct vfsmount *vmnt = BPF_CORE_READ(f, f_path.mnt);
	struct map_path_ctx c;
	struct map_path *mp;

	mp = bpf_task_storage_get(&map_paths, bpf_get_current_task_btf(), NULL,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!mp)
		return;
	mp->d = (__u64)BPF_CORE_READ(f, f_path.dentry);
	mp->mnt = (__u64)((void *)vmnt - bpf_core_field_offset(struct mount, mnt));
	mp->root = (__u64)BPF_CORE_READ(vmnt, mnt_root);
	mp->pos = mp->names = mp->complete = 0;
	c.mp = mp;
	bpf_loop(QH_MAP_PATH_DEPTH, map_path_step, &c, 0);
	e->names = mp->names;
	e->complete = mp->complete;
	bpf_probe_read_kernel(e->path, sizeof(e->path), mp->path);
}

/*
 * Code mapped from a file the unwinder has no table for (a library the dynamic loader maps,
 * dlopen): the loader is told, with the file's path, and builds one. Once per file, whichever
 * process maps it first: the file is entered in unwind_modules as pending (the walk still
 * treats it as unseen), and the loader's answer replaces that, with or without a table.
 */
static __always_inline void mmap_code(struct qh_proc *p, __u32 tgid, __u64 addr)
{
	struct qh_unwind_module pending = { .first = QH_UNWIND_PENDING };
	struct mapped_code m = {};
	struct qh_event_map *e;

	if (bpf_find_vma(bpf_get_current_task_btf(), addr, vma_code, &m, 0) || !m.file ||
	    bpf_map_lookup_elem(&unwind_modules, &m.k) ||
	    bpf_map_update_elem(&unwind_modules, &m.k, &pending, BPF_NOEXIST))
		return;
	e = reserve(sizeof(*e));
	if (!e) {
		/* the next process to map it asks again */
		bpf_map_delete_elem(&unwind_modules, &m.k);
		return;
	}
	fill_hdr(&e->hdr, QH_EV_MAP_EXEC, tgid, p->start_ns);
	e->start = m.start;
	e->end = m.end;
	e->pgoff = m.pgoff;
	e->dev = m.k.dev;
	e->ino = m.k.ino;
	e->names = 0;
	e->complete = 0;
	map_path(e, (struct file *)m.file);
	bpf_ringbuf_submit(e, 0);
}

/*
 * The bodies take the syscall's user registers as @regs: an fexit program has them as its
 * argument; a tracepoint passes NULL and they are read from the task only once the process
 * is known to be traced (the helper call is the most an untraced process would pay).
 */
static __always_inline int mmap_exit(struct pt_regs *regs, long ret)
{
	struct qh_proc *p;
	__u64 len, flags;
	__u32 tgid;

	p = current_proc(&tgid);
	if (!p || is_err(ret))
		return 0;
	if (!regs)
		regs = user_regs();
	/* direct loads: the saved registers are a trusted pointer (a probe read is ~12 ns) */
	len = page_align(regs->si);
	flags = regs->r10;
	if (flags & MAP_ANONYMOUS) {
		__sync_fetch_and_add(&p->mmap_anon_bytes, len);
	} else {
		__sync_fetch_and_add(&p->mmap_file_bytes, len);
		/*
		 * Only for processes whose heap is followed (the monitor's --heap-match picks few):
		 * what they mapped before that, the loader reads from /proc then, and a walk that
		 * gets there first keeps its slice.
		 */
		if (cfg_unwind && (regs->dx & PROT_EXEC) && (p->flags & QH_PF_HEAP_HOOKED))
			mmap_code(p, tgid, ret);
		/* the dynamic loader mapping a probed C library: this process's heap is followed */
		if (cfg_heap && !(p->flags & QH_PF_HEAP_HOOKED)) {
			struct mapped_file mf = {};

			bpf_find_vma(bpf_get_current_task_btf(), ret, vma_file_hooked, &mf, 0);
			/* another C library (a container's, LD_LIBRARY_PATH): the loader probes it */
			if (mf.is_libc && !mf.hooked && !(p->flags & QH_PF_LIBC_ASKED)) {
				struct qh_event_libc *e;

				__sync_fetch_and_or(&p->flags, QH_PF_LIBC_ASKED);
				e = reserve(sizeof(*e));
				if (e) {
					fill_hdr(&e->hdr, QH_EV_LIBC_NEW, tgid, p->start_ns);
					e->dev = mf.dev;
					e->ino = mf.ino;
					bpf_ringbuf_submit(e, 0);
				}
			}
			if (mf.hooked) {
				struct qh_event_reap *e;

				__sync_fetch_and_or(&p->flags, QH_PF_HEAP_HOOKED);
				/* the loader snapshots the mappings now that the libraries load */
				e = reserve(sizeof(*e));
				if (e) {
					fill_hdr(&e->hdr, QH_EV_LIBC, tgid, p->start_ns);
					bpf_ringbuf_submit(e, 0);
				}
			}
		}
	}
	__sync_fetch_and_add(&p->mmap_calls, 1);
	stat_inc(QH_STAT_SYSCALLS);
	return 0;
}

struct vma_ctx {
	__u64 start; /* of the range still to classify */
	__u64 end;
	__u64 next;  /* where the next lookup starts; 0 when done */
	__u64 anon;
	__u64 file;
};

static long classify_vma(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct vma_ctx *c = data;
	__u64 vs = vma->vm_start, ve = vma->vm_end, s, e;

	/* find_vma() returns the first mapping ending above the address: it may start later */
	s = vs > c->start ? vs : c->start;
	e = ve < c->end ? ve : c->end;
	if (s < e) {
		if (vma->vm_file)
			c->file += e - s;
		else
			c->anon += e - s;
	}
	c->next = ve < c->end ? ve : 0;
	return 0;
}

static __always_inline int munmap_enter(__u64 addr, __u64 len)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct vma_ctx c = {};
	struct qh_call *call;
	struct qh_proc *p;
	__u32 tgid;

	p = current_proc(&tgid);
	if (!p)
		return 0;
	c.start = addr;
	c.end = c.start + page_align(len);
	c.next = c.start;
	for (int i = 0; i < QH_MAX_VMAS && c.next; i++) {
		c.start = c.next;
		c.next = 0;
		if (bpf_find_vma(task, c.start, classify_vma, &c, 0))
			break;
	}
	call = call_begin();
	if (!call)
		return 0;
	call->anon_bytes = c.anon;
	call->file_bytes = c.file;
	call->active = 1;
	return 0;
}

static __always_inline int munmap_exit(long ret)
{
	struct qh_call *call;
	struct qh_proc *p;
	__u32 tgid;

	call = call_end();
	if (!call)
		return 0;
	p = current_proc(&tgid);
	if (p && ret == 0) {
		sub_clamped(&p->mmap_anon_bytes, call->anon_bytes);
		sub_clamped(&p->mmap_file_bytes, call->file_bytes);
		__sync_fetch_and_add(&p->munmap_calls, 1);
		stat_inc(QH_STAT_SYSCALLS);
	}
	return 0;
}

static long vma_is_anon(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	*(__u32 *)data = vma->vm_file == NULL;
	return 0;
}

static __always_inline int mremap_enter(__u64 addr)
{
	struct qh_call *call;
	__u32 tgid, is_anon = 0;

	if (!current_proc(&tgid))
		return 0;
	bpf_find_vma(bpf_get_current_task_btf(), addr, vma_is_anon, &is_anon, 0);
	call = call_begin();
	if (!call)
		return 0;
	call->is_anon = is_anon;
	call->active = 1;
	return 0;
}

static __always_inline int mremap_exit(struct pt_regs *regs, long ret)
{
	__u64 old_len, new_len, *v;
	struct qh_call *call;
	struct qh_proc *p;
	__u32 tgid;

	call = call_end();
	if (!call)
		return 0;
	p = current_proc(&tgid);
	if (p && !is_err(ret)) {
		if (!regs)
			regs = user_regs();
		old_len = page_align(regs->si);
		new_len = page_align(regs->dx);
		v = call->is_anon ? &p->mmap_anon_bytes : &p->mmap_file_bytes;
		if (new_len >= old_len)
			__sync_fetch_and_add(v, new_len - old_len);
		else
			sub_clamped(v, old_len - new_len);
		__sync_fetch_and_add(&p->mremap_calls, 1);
		stat_inc(QH_STAT_SYSCALLS);
	}
	return 0;
}

static __always_inline int brk_exit(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct qh_proc *p;
	__u32 tgid;

	p = current_proc(&tgid);
	if (!p)
		return 0;
	p->heap_bytes = BPF_CORE_READ(task, mm, brk) - BPF_CORE_READ(task, mm, start_brk);
	__sync_fetch_and_add(&p->brk_calls, 1);
	stat_inc(QH_STAT_SYSCALLS);
	return 0;
}

/* the classic syscall tracepoints: --fd-probes syscalls or dispatch, or fentry refused */
SEC("tp/syscalls/sys_exit_mmap")
int sys_exit_mmap(struct trace_event_raw_sys_exit *ctx)
{
	return mmap_exit(NULL, ctx->ret);
}

SEC("tp/syscalls/sys_enter_munmap")
int sys_enter_munmap(struct trace_event_raw_sys_enter *ctx)
{
	return munmap_enter(ctx->args[0], ctx->args[1]);
}

SEC("tp/syscalls/sys_exit_munmap")
int sys_exit_munmap(struct trace_event_raw_sys_exit *ctx)
{
	return munmap_exit(ctx->ret);
}

SEC("tp/syscalls/sys_enter_mremap")
int sys_enter_mremap(struct trace_event_raw_sys_enter *ctx)
{
	return mremap_enter(ctx->args[0]);
}

SEC("tp/syscalls/sys_exit_mremap")
int sys_exit_mremap(struct trace_event_raw_sys_exit *ctx)
{
	return mremap_exit(NULL, ctx->ret);
}

SEC("tp/syscalls/sys_exit_brk")
int sys_exit_brk(struct trace_event_raw_sys_exit *ctx)
{
	return brk_exit();
}

/*
 * fentry/fexit on the syscall functions: an entry program runs before the syscall does, as
 * sys_enter does (munmap must classify the range while its mappings still exist).
 */
SEC("fexit/" QH_SYSCALL_FN(mmap))
int BPF_PROG(mem_fx_exit_mmap, const struct pt_regs *regs, long ret)
{
	return mmap_exit((struct pt_regs *)regs, ret);
}

SEC("fentry/" QH_SYSCALL_FN(munmap))
int BPF_PROG(mem_fx_enter_munmap, const struct pt_regs *regs)
{
	return munmap_enter(regs->di, regs->si);
}

SEC("fexit/" QH_SYSCALL_FN(munmap))
int BPF_PROG(mem_fx_exit_munmap, const struct pt_regs *regs, long ret)
{
	return munmap_exit(ret);
}

SEC("fentry/" QH_SYSCALL_FN(mremap))
int BPF_PROG(mem_fx_enter_mremap, const struct pt_regs *regs)
{
	return mremap_enter(regs->di);
}

SEC("fexit/" QH_SYSCALL_FN(mremap))
int BPF_PROG(mem_fx_exit_mremap, const struct pt_regs *regs, long ret)
{
	return mremap_exit((struct pt_regs *)regs, ret);
}

SEC("fexit/" QH_SYSCALL_FN(brk))
int BPF_PROG(mem_fx_exit_brk, const struct pt_regs *regs, long ret)
{
	return brk_exit();
}
