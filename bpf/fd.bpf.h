/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The fd table of a task as the fd probes and the lifecycle probes read it: count the open
 * fds, classify one, drop the `fds` records of the ones that are gone.
 */
#ifndef __FD_BPF_H
#define __FD_BPF_H

#include "proc.bpf.h"

#ifndef S_IFMT
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFDIR 0040000
#define S_IFIFO 0010000
#endif
/* include/uapi/linux/magic.h */
#define QH_ANON_INODE_FS_MAGIC 0x09041934
#define QH_PID_FS_MAGIC 0x50494446
#define QH_TMPFS_MAGIC 0x01021994
#define QH_HUGETLBFS_MAGIC 0x958458f6

/* fd numbers one table walk looks at: bpf_loop's bound, far above any real table */
#define QH_FD_WALK_MAX (1U << 20)

/*
 * The task's fd table is read with plain loads through BTF pointers (the verifier turns them
 * into fault-safe loads), no helper call per field. A file pointer read out of the fd array
 * is a plain number to the verifier: its fields need BPF_CORE_READ (libbpf 1.1's linker
 * cannot link the bpf_rdonly_cast kfunc that would make it a BTF pointer again).
 */
static __always_inline struct fdtable *task_fdt(struct task_struct *task)
{
	struct files_struct *files = task->files;

	return files ? files->fdt : NULL;
}

static __always_inline struct file *fdt_file(struct fdtable *fdt, __u32 fd)
{
	struct file **arr;
	struct file *f = NULL;

	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	arr = fdt->fd;
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}

/*
 * What an open file is. Anonymous inodes share one filesystem and tell their kind by the
 * name they were created with ("[eventfd]", "inotify", ...), as /proc/PID/fd shows it.
 */
static __always_inline __u32 file_kind(struct file *f)
{
	struct inode *ino;
	unsigned long magic;
	char n[8] = {};
	__u32 mode;

	if (!f)
		return QH_FD_UNKNOWN;
	ino = BPF_CORE_READ(f, f_inode);
	mode = BPF_CORE_READ(ino, i_mode) & S_IFMT;
	magic = BPF_CORE_READ(ino, i_sb, s_magic);
	if (mode == S_IFDIR)
		return QH_FD_DIR;
	if (mode == S_IFSOCK)
		return QH_FD_SOCKET;
	if (mode == S_IFIFO)
		return QH_FD_PIPE;
	if (magic == QH_PID_FS_MAGIC)
		return QH_FD_PIDFD;
	if (magic != QH_ANON_INODE_FS_MAGIC && magic != QH_TMPFS_MAGIC &&
	    magic != QH_HUGETLBFS_MAGIC)
		return QH_FD_FILE;
	bpf_probe_read_kernel_str(n, sizeof(n), BPF_CORE_READ(f, f_path.dentry, d_name.name));
	if (magic != QH_ANON_INODE_FS_MAGIC)
		return n[0] == 'm' && n[1] == 'e' && n[2] == 'm' && n[3] == 'f' && n[4] == 'd' &&
				       n[5] == ':' ?
			       QH_FD_MEMFD :
			       QH_FD_FILE;
	if (n[0] == 'i' && n[1] == 'n')
		return QH_FD_INOTIFY;
	if (n[0] != '[')
		return QH_FD_ANON;
	if (n[1] == 'e' && n[2] == 'v' && n[3] == 'e' && n[4] == 'n' && n[5] == 't') {
		/* "[eventfd]" or "[eventpoll]" */
		return n[6] == 'f' ? QH_FD_EVENTFD : QH_FD_EPOLL;
	}
	if (n[1] == 't' && n[2] == 'i' && n[3] == 'm')
		return QH_FD_TIMERFD;
	if (n[1] == 's' && n[2] == 'i' && n[3] == 'g')
		return QH_FD_SIGNALFD;
	if (n[1] == 'p' && n[2] == 'i' && n[3] == 'd')
		return QH_FD_PIDFD;
	return QH_FD_ANON;
}

struct fd_walk {
	struct fdtable *fdt;
	struct qh_proc *p;
	unsigned long *bits; /* fdt->open_fds */
	unsigned long word;  /* the bitmap word of the current fd */
	__u32 tgid;
	__u32 from, to;	     /* purge: the range to look at */
	__u32 n;	     /* count, exit: open fds so far */
	__u32 total;	     /* exit: open fds to find */
	__u32 words;	     /* count: bitmap words to read */
	__u32 gone;	     /* purge: records dropped */
};

static long count_word(__u32 i, void *data)
{
	struct fd_walk *w = data;
	unsigned long v = 0;

	if (i >= w->words)
		return 1;
	bpf_probe_read_kernel(&v, sizeof(v), &w->bits[i]);
	w->n += __builtin_popcountll(v);
	return 0;
}

/* Open fds in @fdt: what the kernel's own count would be. */
static __always_inline __u32 fdt_count(struct fdtable *fdt)
{
	struct fd_walk w = {};

	if (!fdt)
		return 0;
	w.bits = fdt->open_fds;
	w.words = (fdt->max_fds + 63) / 64;
	if (w.words > QH_FD_WALK_MAX / 64)
		w.words = QH_FD_WALK_MAX / 64;
	bpf_loop(w.words, count_word, &w, 0);
	return w.n;
}

static long purge_one(__u32 i, void *data)
{
	struct fd_walk *w = data;
	struct qh_fd_key k = { .tgid = w->tgid, .fd = w->from + i };
	struct qh_fd *r;

	if (k.fd >= w->to)
		return 1;
	r = bpf_map_lookup_elem(&fds, &k);
	if (r && !fdt_file(w->fdt, k.fd)) {
		w->gone += r->ts_ns != 0; /* not a closed fd's record kept for reuse */
		bpf_map_delete_elem(&fds, &k);
	}
	return 0;
}

/*
 * After the kernel closed fds in bulk (close_range, exec's close-on-exec): drop the records
 * of those in [from, to) that are gone, and take the count from the table.
 */
static __always_inline void fd_resync(struct task_struct *task, struct qh_proc *p, __u32 tgid,
				      __u32 from, __u32 to)
{
	struct fd_walk w = {};
	__u32 n, before = p->fd_open;

	w.fdt = task_fdt(task);
	w.tgid = tgid;
	w.from = from;
	w.to = to < p->fd_limit ? to : p->fd_limit;
	if (w.to > from)
		bpf_loop(w.to - from, purge_one, &w, 0);
	n = fdt_count(w.fdt);
	p->fd_open = n;
	if (n > p->fd_peak)
		p->fd_peak = n;
	if (before > n)
		__sync_fetch_and_add(&p->fd_closed, before - n);
}

static long exit_one(__u32 i, void *data)
{
	struct fd_walk *w = data;
	struct file *f;

	if ((i & 63) == 0) {
		w->word = 0;
		bpf_probe_read_kernel(&w->word, sizeof(w->word), &w->bits[i / 64]);
	}
	if (!(w->word & (1UL << (i & 63))))
		return 0;
	f = fdt_file(w->fdt, i);
	if (f) {
		w->p->fd_exit_kind[file_kind(f) & (QH_FD_KIND_SLOTS - 1)]++;
		w->n++;
	}
	return w->n >= w->total; /* every open fd seen */
}

static long drop_one(__u32 i, void *data)
{
	struct fd_walk *w = data;
	struct qh_fd_key k = { .tgid = w->tgid, .fd = i };

	bpf_map_delete_elem(&fds, &k);
	return 0;
}

/*
 * The last thread is exiting and the fd table is intact (exit_files() comes later): what
 * the kernel is about to close, by kind, and the records of those fds out of the map.
 */
static __always_inline void fd_exit(struct task_struct *task, struct qh_proc *p, __u32 tgid)
{
	struct fdtable *fdt = task_fdt(task);
	struct fd_walk w = {};
	__u32 max;

	if (!fdt)
		return;
	w.fdt = fdt;
	w.p = p;
	w.tgid = tgid;
	w.bits = fdt->open_fds;
	w.total = fdt_count(fdt);
	max = fdt->max_fds;
	if (max > QH_FD_WALK_MAX)
		max = QH_FD_WALK_MAX;
	if (w.total)
		bpf_loop(max, exit_one, &w, 0);
	p->fd_exit_open = w.n;
	p->fd_open = w.n;
	/* every record, of open fds and the closed ones kept for reuse */
	max = p->fd_limit < QH_FD_WALK_MAX ? p->fd_limit : QH_FD_WALK_MAX;
	bpf_loop(max, drop_one, &w, 0);
}

#endif /* __FD_BPF_H */
