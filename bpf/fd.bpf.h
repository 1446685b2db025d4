/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The fd table of a task as the fd probes and the lifecycle probes read it: count the open
 * fds, and the walks (in fd.bpf.c) that drop the `fds` records of the ones that are gone.
 */
#ifndef __FD_BPF_H
#define __FD_BPF_H

#include "proc.bpf.h"

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

/*
 * The walks that drop the records of fds gone in bulk, at exec and close_range (fd_resync) and
 * at exit (fd_exit), are __hidden functions of fd.bpf.c: proc.bpf.c calls them, fd.bpf.c never
 * calls into proc.bpf.c. libbpf hands hidden functions to the kernel as static subprograms,
 * verified at each call with the caller's types (a trusted task, a `procs` value), which 6.1
 * accepts. A plain global function is verified alone, its task pointer taken for plain memory,
 * and the call is refused (6.18: "Caller passes invalid args into func#1").
 */
void fd_resync(struct task_struct *task, struct qh_proc *p, __u32 tgid, __u32 from, __u32 to);
void fd_exit(struct task_struct *task, struct qh_proc *p, __u32 tgid);

#endif /* __FD_BPF_H */
