// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * File descriptors and sockets: every syscall that creates an fd and every way one goes
 * away, read at sys_exit (only successful calls count), and TCP state changes.
 *
 * Three ways in, sharing every body: an fexit program per syscall function (fd_fx_*, where
 * the kernel allows fentry), a classic tracepoint per syscall (fd_tp_*, --fd-probes
 * syscalls, the fallback), or one raw tracepoint on sys_exit that dispatches on the syscall
 * number (--fd-probes dispatch). Programs are named fd_*: the loader picks a variant, or
 * leaves them all out (--no-fds).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "fd.bpf.h"
#include "fd_syscalls.h"

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

#ifndef F_DUPFD
#define F_DUPFD 0
#define F_DUPFD_CLOEXEC 1030
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef TCP_ESTABLISHED
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define TCP_CLOSE_WAIT 8
#define TCP_LISTEN 10
#endif
#ifndef __TARGET_ARCH_x86
#error "the sys_exit dispatch knows the x86-64 syscall numbers only"
#endif
/*
 * x86-64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl): vmlinux.h has no __NR_*, and
 * fd_syscalls.h carries no numbers so that the loader can take each architecture's from
 * <sys/syscall.h>. A syscall of that list missing here is a compile error (__NR_##name).
 */
#define __NR_open 2
#define __NR_close 3
#define __NR_pipe 22
#define __NR_dup 32
#define __NR_dup2 33
#define __NR_socket 41
#define __NR_accept 43
#define __NR_socketpair 53
#define __NR_fcntl 72
#define __NR_creat 85
#define __NR_epoll_create 213
#define __NR_inotify_init 253
#define __NR_openat 257
#define __NR_signalfd 282
#define __NR_timerfd_create 283
#define __NR_eventfd 284
#define __NR_accept4 288
#define __NR_signalfd4 289
#define __NR_eventfd2 290
#define __NR_epoll_create1 291
#define __NR_dup3 292
#define __NR_pipe2 293
#define __NR_inotify_init1 294
#define __NR_perf_event_open 298
#define __NR_fanotify_init 300
#define __NR_open_by_handle_at 304
#define __NR_memfd_create 319
#define __NR_userfaultfd 323
#define __NR_io_uring_setup 425
#define __NR_pidfd_open 434
#define __NR_close_range 436
#define __NR_openat2 437
#define __NR_pidfd_getfd 438

#define QH_USER64_CS 0x33 /* arch/x86/include/asm/segment.h: __USER_CS */

#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#endif

/* set by the loader: a user stack per fd opened (else the syscall names the site) */
const volatile bool cfg_fd_stacks = false;
/* attach: report the fds a process opened and still holds at its exit (fd_exit) */
const volatile bool cfg_fd_exit = false;
const volatile __u32 cfg_fd_exit_max = 256; /* QH_EV_FD_EXIT records per process */

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
__hidden void fd_resync(struct task_struct *task, struct qh_proc *p, __u32 tgid, __u32 from,
			__u32 to)
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

/* The exit walk that reports: a run of alike fds is pending until one unlike it comes. */
struct fdx_walk {
	struct fdtable *fdt;
	struct qh_proc *p;
	struct fd_exit_scratch *x; /* the record, the run's count, the records sent */
	struct file *file;	/* the run's first file: its path */
	unsigned long *bits;	/* fdt->open_fds */
	unsigned long word;	/* the bitmap word of the current fd */
	__u64 ts_ns;		/* the run's newest open */
	__u32 tgid;
	__u32 fd;		/* the run's lowest fd */
	__u32 n;		/* open fds so far */
	__u32 total;		/* open fds to find */
};

#define QH_AF_INET 2
#define QH_AF_INET6 10
#ifndef IPPROTO_UDP
#define IPPROTO_UDP 17
#endif

/*
 * A TCP or UDP socket as /proc/net/{tcp,udp}{,6} would list it: TCP in any state but CLOSE
 * (unhashed: not listed), UDP once bound. Anything else keeps the bare "socket" key.
 */
static __always_inline void fdx_sock(struct file *f, struct fd_exit_key *k)
{
	struct socket *so = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(so, sk);
	__u16 family, proto;

	if (!sk)
		return;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	proto = BPF_CORE_READ(sk, sk_protocol);
	if ((family != QH_AF_INET && family != QH_AF_INET6) ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return;
	k->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (proto == IPPROTO_TCP) {
		k->state = BPF_CORE_READ(sk, __sk_common.skc_state);
		if (k->state == TCP_CLOSE) {
			k->state = 0;
			k->lport = 0;
			return;
		}
		if (k->nr == __NR_accept || k->nr == __NR_accept4)
			k->flags |= QH_FDX_ACCEPTED;
	} else {
		if (!k->lport)
			return;
		k->flags |= QH_FDX_UDP;
	}
	k->flags |= QH_FDX_INET;
	k->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == QH_AF_INET6) {
		k->flags |= QH_FDX_V6;
		BPF_CORE_READ_INTO(&k->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&k->raddr, sk, __sk_common.skc_v6_daddr);
	} else {
		*(__u32 *)k->laddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		*(__u32 *)k->raddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	}
	/* the end that repeats when such sockets pile up (fdtable.c: describe_rows) */
	if (k->state == TCP_LISTEN || !k->rport || (k->flags & QH_FDX_ACCEPTED)) {
		__builtin_memset(k->raddr, 0, sizeof(k->raddr));
		k->rport = 0;
	} else {
		__builtin_memset(k->laddr, 0, sizeof(k->laddr));
		k->lport = 0;
	}
}

/* One step up the path of a file: a name written, or a mount crossed. */
struct fdx_path_walk {
	struct qh_event_fd_exit *e;	/* in fd_exit_buf */
	struct dentry *d;
	struct mount *m;
	__u32 off;			/* bytes of path written */
};

static long path_step(__u32 i, void *data)
{
	struct fdx_path_walk *w = data;
	struct qh_event_fd_exit *e = w->e;
	/* locals: a CO-RE read through w-> would relocate against this file's own struct */
	struct dentry *d = w->d, *parent;
	struct mount *m = w->m, *up;
	long n;

	if (d == BPF_CORE_READ(m, mnt.mnt_root)) {
		up = BPF_CORE_READ(m, mnt_parent);
		if (up == m) {
			e->flags &= ~QH_FDX_PATH_CUT; /* the root */
			return 1;
		}
		w->d = BPF_CORE_READ(m, mnt_mountpoint);
		w->m = up;
		return 0;
	}
	if (w->off >= QH_FD_EXIT_NAME)
		return 1;
	/* a name may take QH_FD_EXIT_NAME bytes from any offset below that: path holds 2x */
	n = bpf_probe_read_kernel_str(&e->path[w->off & (QH_FD_EXIT_NAME - 1)], QH_FD_EXIT_NAME,
				      BPF_CORE_READ(d, d_name.name));
	if (n <= 0)
		return 1;
	w->off += n;
	parent = BPF_CORE_READ(d, d_parent);
	if (parent == d) {
		/* a pseudo file's own root (memfd): d_path() names it by simple_dname(),
		 * "/NAME (deleted)" */
		e->flags &= ~QH_FDX_PATH_CUT;
		e->flags |= QH_FDX_DELETED;
		return 1;
	}
	w->d = parent;
	return 0;
}

/*
 * The path of @f as d_path() gives it from the initial root, component by component, the
 * file's own name first (bpf_d_path() is not allowed in tracepoints): each name ends in NUL.
 */
static __always_inline void fdx_path(struct file *f, struct qh_event_fd_exit *e)
{
	struct vfsmount *vm = BPF_CORE_READ(f, f_path.mnt);
	struct fdx_path_walk w = { .e = e };
	struct dentry *d;

	w.d = BPF_CORE_READ(f, f_path.dentry);
	w.m = (void *)vm - bpf_core_field_offset(struct mount, mnt);
	e->flags |= QH_FDX_PATH_CUT;
	bpf_loop(QH_FD_EXIT_DEPTH, path_step, &w, 0);
	e->path_len = w.off;
	/* d_unlinked(): unhashed and not a root, as d_path() marks it */
	d = BPF_CORE_READ(f, f_path.dentry);
	if (!BPF_CORE_READ(d, d_hash.pprev) && BPF_CORE_READ(d, d_parent) != d)
		e->flags |= QH_FDX_DELETED;
}

/*
 * The pending run goes out as one record, or is counted as unsent. The record is made in
 * fd_exit_buf: only the exit program calls this, and a tracepoint's program runs with
 * preemption off and never nested on its CPU (bpf_trace_run's `active` guard).
 */
static __always_inline void fdx_flush(struct fdx_walk *w)
{
	struct fd_exit_scratch *x = w->x;
	struct qh_event_fd_exit *e = &x->e;

	if (!x->count)
		return;
	if (x->sent >= cfg_fd_exit_max)
		goto unsent;
	fill_hdr(&e->hdr, QH_EV_FD_EXIT, w->tgid, w->p->start_ns);
	e->ts_ns = w->ts_ns;
	e->caller = w->x->run.caller;
	e->stack_id = w->x->run.stack_id;
	e->fd = w->fd;
	e->count = x->count;
	e->nr = w->x->run.nr;
	e->kind = w->x->run.kind;
	e->flags = w->x->run.flags;
	e->state = w->x->run.state;
	e->lport = w->x->run.lport;
	e->rport = w->x->run.rport;
	__builtin_memcpy(e->laddr, w->x->run.laddr, sizeof(e->laddr));
	__builtin_memcpy(e->raddr, w->x->run.raddr, sizeof(e->raddr));
	e->path_len = 0;
	if (w->x->run.obj)
		fdx_path(w->file, e);
	if (bpf_ringbuf_output(&events, e, sizeof(*e), 0)) {
		stat_inc(QH_STAT_RB_RESERVE_FAILED);
		goto unsent;
	}
	x->sent++;
	x->count = 0;
	return;
unsent:
	w->p->fd_exit_unsent += x->count;
	x->count = 0;
}

static __always_inline bool fdx_same(const struct fd_exit_key *a, const struct fd_exit_key *b)
{
	const __u64 *x = (const void *)a, *y = (const void *)b;
	int i;

	for (i = 0; i < sizeof(*a) / 8; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

/* fd @fd, open as the process exits, was opened while traced (record @r): add it to a run */
static __always_inline void fdx_add(struct fdx_walk *w, struct file *f, __u32 kind,
				    struct qh_fd *r, __u32 fd)
{
	struct fd_exit_key *k = &w->x->cur;

	__builtin_memset(k, 0, sizeof(*k));
	k->kind = kind;
	k->nr = r->nr;
	k->caller = r->caller;
	k->stack_id = r->stack_id;
	if (k->kind == QH_FD_FILE || k->kind == QH_FD_DIR || k->kind == QH_FD_MEMFD)
		k->obj = (__u64)BPF_CORE_READ(f, f_inode);
	else if (k->kind == QH_FD_SOCKET)
		fdx_sock(f, k);
	w->p->fd_exit_leaked++;
	if (w->x->count && fdx_same(&w->x->run, k)) {
		w->x->count++;
		if (r->ts_ns > w->ts_ns)
			w->ts_ns = r->ts_ns;
		return;
	}
	fdx_flush(w);
	w->x->run = *k;
	w->file = f;
	w->fd = fd;
	w->ts_ns = r->ts_ns;
	w->x->count = 1;
}

/* exit_one, and each open fd the process opened while traced (not 0-2) added to a run */
static long exit_report_one(__u32 i, void *data)
{
	struct fdx_walk *w = data;
	struct qh_fd_key k = { .tgid = w->tgid, .fd = i };
	struct qh_fd *r;
	struct file *f;
	__u32 kind;

	if ((i & 63) == 0) {
		w->word = 0;
		bpf_probe_read_kernel(&w->word, sizeof(w->word), &w->bits[i / 64]);
	}
	if (!(w->word & (1UL << (i & 63))))
		return 0;
	f = fdt_file(w->fdt, i);
	if (!f)
		return 0;
	kind = file_kind(f) & (QH_FD_KIND_SLOTS - 1);
	w->p->fd_exit_kind[kind]++;
	w->n++;
	/* a closed fd's record kept for reuse has no stamp: this one was inherited after all */
	if (i > 2 && (r = bpf_map_lookup_elem(&fds, &k)) && r->ts_ns != QH_STAMP_DEAD)
		fdx_add(w, f, kind, r, i);
	return w->n >= w->total; /* every open fd seen */
}

/*
 * The last thread is exiting and the fd table is intact (exit_files() comes later): what
 * the kernel is about to close, by kind, and the records of those fds out of the map.
 *
 * With cfg_fd_exit (attach), the fds it opened while traced and still holds go to the loader
 * as QH_EV_FD_EXIT records, before the exit record that says how many there were. Records in
 * the ring buffer rather than `fds` records kept past the exit: the loader would need the path
 * and the peer anyway, which only the kernel can read now (/proc/PID/fd empties as the
 * process exits), and nothing would have to take kept records out. The walk of the open fds
 * that counts them by kind adds a lookup per open fd past 0-2, and a path walk and a record per
 * run of alike fds the process opened (a loop that opens one file is one record): nothing more
 * for a process that closed what it opened. At most cfg_fd_exit_max records per process; fds
 * past them, or whose record found the ring buffer full, are counted in fd_exit_unsent.
 */
__hidden void fd_exit(struct task_struct *task, struct qh_proc *p, __u32 tgid)
{
	struct fdtable *fdt = task_fdt(task);
	struct fd_walk w = {};
	struct fdx_walk x = {};
	__u32 max, zero = 0;

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
	x.x = cfg_fd_exit ? bpf_map_lookup_elem(&fd_exit_buf, &zero) : NULL;
	if (x.x) {
		x.x->count = 0;
		x.x->sent = 0;
		x.fdt = fdt;
		x.p = p;
		x.tgid = tgid;
		x.bits = w.bits;
		x.total = w.total;
		if (x.total)
			bpf_loop(max, exit_report_one, &x, 0);
		fdx_flush(&x);
		w.n = x.n;
	} else if (w.total) {
		bpf_loop(max, exit_one, &w, 0);
	}
	p->fd_exit_open = w.n;
	p->fd_open = w.n;
	/* every record, of open fds and the closed ones kept for reuse */
	max = p->fd_limit < QH_FD_WALK_MAX ? p->fd_limit : QH_FD_WALK_MAX;
	bpf_loop(max, drop_one, &w, 0);
}

static __always_inline void tcp_count(struct qh_proc *p, __u32 state, int d)
{
	int i;

	if (state == TCP_ESTABLISHED)
		i = QH_TCP_ESTABLISHED;
	else if (state == TCP_CLOSE_WAIT)
		i = QH_TCP_CLOSE_WAIT;
	else if (state == TCP_LISTEN)
		i = QH_TCP_LISTEN;
	else
		return;
	if (d < 0 && !p->tcp[i])
		return;
	__sync_fetch_and_add(&p->tcp[i], d);
	if (i == QH_TCP_CLOSE_WAIT && p->tcp[i] > p->tcp_close_wait_peak)
		p->tcp_close_wait_peak = p->tcp[i];
}

/* A TCP socket a traced process got from accept(): its later states are its own. */
static __always_inline void sock_follow(struct file *f, struct qh_proc *p, __u32 tgid)
{
	struct socket *so = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(so, sk);
	struct qh_sock s = { .tgid = tgid };
	__u64 key = (__u64)sk;

	if (!sk || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return;
	s.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (bpf_map_update_elem(&socks, &key, &s, BPF_NOEXIST)) {
		if (!bpf_map_lookup_elem(&socks, &key))
			stat_inc(QH_STAT_SOCKS_FULL);
		return;
	}
	tcp_count(p, s.state, 1);
}

#define QH_CALLER_SCAN 24 /* words of user stack searched for the caller */

/*
 * The program code that called the C library's syscall wrapper: the first word on the user
 * stack that points into the program's text. The wrappers keep no frame pointer, so the
 * kernel's frame-pointer walk skips exactly that caller; the word sits within the wrapper's
 * small frame (glibc's open64 keeps 0x78 bytes).
 */
static __always_inline __u64 fd_caller(struct pt_regs *regs)
{
	struct mm_struct *mm = bpf_get_current_task_btf()->mm;
	__u64 lo, hi, w[QH_CALLER_SCAN];
	int i;

	if (!mm)
		return 0;
	lo = mm->start_code;
	hi = mm->end_code;
	if (bpf_probe_read_user(w, sizeof(w), (void *)regs->sp))
		return 0;
	for (i = 0; i < QH_CALLER_SCAN; i++)
		if (w[i] >= lo && w[i] < hi)
			return w[i];
	return 0;
}

/* --fd-stacks: where the open came from */
static __always_inline void fd_site(void *ctx, struct pt_regs *regs, struct qh_fd *v)
{
	v->stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	if (v->stack_id < 0)
		stat_inc(QH_STAT_STACK_LOST);
	v->caller = fd_caller(regs);
}

/*
 * The record of an fd just opened. fd numbers are reused lowest first, so there is usually a
 * record already, left by the close of the same number: it is written over in place. A hash
 * insert at open and delete at close cost ~115 ns per pair here; a lookup each, ~45.
 */
static __always_inline void fd_record(struct qh_fd_key *k, struct qh_fd *v)
{
	struct qh_fd *r = bpf_map_lookup_elem(&fds, k);

	if (r) {
		r->caller = v->caller;
		r->stack_id = v->stack_id;
		r->nr = v->nr;
		r->kind = v->kind;
		r->ts_ns = v->ts_ns; /* last: a zero stamp marks a closed fd's record */
		return;
	}
	if (bpf_map_update_elem(&fds, k, v, BPF_ANY))
		stat_inc(QH_STAT_FDS_FULL);
}

/* @fd is open now in the current process, made by syscall @nr. */
static __always_inline void fd_new(void *ctx, struct pt_regs *regs, struct qh_proc *p,
				   __u32 tgid, __u32 fd, __u32 nr, __u32 kind)
{
	struct qh_fd_key k = { .tgid = tgid, .fd = fd };
	struct qh_fd v = { .nr = nr, .kind = kind, .stack_id = -1 };
	__u32 n;

	v.ts_ns = qh_stamp();
	if (cfg_fd_stacks)
		fd_site(ctx, regs, &v);
	fd_record(&k, &v);
	n = __sync_add_and_fetch(&p->fd_open, 1);
	if (n > p->fd_peak)
		p->fd_peak = n;
	__sync_fetch_and_add(&p->fd_opened, 1);
	if (fd >= p->fd_limit)
		p->fd_limit = fd + 1;
	stat_inc(QH_STAT_FD_EVENTS);
}

static __always_inline struct qh_proc *traced(__u32 *tgid)
{
	*tgid = bpf_get_current_pid_tgid() >> 32;
	return bpf_map_lookup_elem(&procs, tgid);
}

/* accept(): a socket that is connected already (no state change of its own to see) */
#define QH_FD_ACCEPTED QH_FD_NR_KIND

/* One syscall's exit, as either probe variant sees it. */
struct sc {
	void *ctx;		/* the program's context (for the stack) */
	struct pt_regs *regs;	/* the saved user registers: the arguments */
	long id;		/* syscall number */
	long ret;
};

/* The syscall returned a new fd of @kind (QH_FD_UNKNOWN: an open or a dup, of anything). */
static __always_inline int fd_ret(struct sc *c, __u32 kind)
{
	struct qh_proc *p;
	struct file *f;
	__u32 tgid;

	if (c->ret < 0)
		return 0;
	p = traced(&tgid);
	if (!p)
		return 0;
	/*
	 * An open or a dup leaves the kind unknown here: reading the file costs more than the
	 * rest of the record, and the loader takes kinds from /proc (live fds) and from the exit
	 * walk (the rest).
	 */
	if (kind == QH_FD_ACCEPTED) {
		kind = QH_FD_SOCKET;
		f = fdt_file(task_fdt(bpf_get_current_task_btf()), c->ret);
		if (f)
			sock_follow(f, p, tgid);
	}
	fd_new(c->ctx, c->regs, p, tgid, c->ret, c->id, kind);
	return 0;
}

/* signalfd(fd, ...) with fd != -1 changes the mask of an existing signalfd */
static __always_inline int fd_signalfd(struct sc *c)
{
	if ((int)c->regs->di != -1)
		return 0;
	return fd_ret(c, QH_FD_SIGNALFD);
}

static __always_inline int fd_fcntl(struct sc *c)
{
	__u32 cmd;

	if (c->ret < 0)
		return 0;
	cmd = c->regs->si;
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return 0;
	return fd_ret(c, QH_FD_UNKNOWN);
}

/* pipe(int fds[2]), pipe2, socketpair(..., int sv[2]): two fds written to user memory */
static __always_inline int fd_pair(struct sc *c, __u64 uptr, __u32 kind)
{
	struct qh_proc *p;
	int pair[2];
	__u32 tgid;

	if (c->ret != 0)
		return 0;
	p = traced(&tgid);
	if (!p || bpf_probe_read_user(pair, sizeof(pair), (void *)uptr))
		return 0;
	fd_new(c->ctx, c->regs, p, tgid, pair[0], c->id, kind);
	fd_new(c->ctx, c->regs, p, tgid, pair[1], c->id, kind);
	return 0;
}

static __always_inline int fd_close(struct sc *c)
{
	struct qh_fd_key k;
	struct qh_proc *p;
	struct qh_fd *r;

	if (c->ret != 0)
		return 0;
	p = traced(&k.tgid);
	if (!p)
		return 0;
	k.fd = c->regs->di;
	/* kept for the next open of the number (fd_record); the walks at exec and exit drop it */
	r = bpf_map_lookup_elem(&fds, &k);
	if (r)
		r->ts_ns = 0;
	if (p->fd_open)
		__sync_fetch_and_add(&p->fd_open, -1);
	__sync_fetch_and_add(&p->fd_closed, 1);
	stat_inc(QH_STAT_FD_EVENTS);
	return 0;
}

static __always_inline int fd_close_range(struct sc *c)
{
	__u32 tgid, first, last;
	struct qh_proc *p;

	if (c->ret != 0 || (c->regs->dx & CLOSE_RANGE_CLOEXEC))
		return 0;
	p = traced(&tgid);
	if (!p)
		return 0;
	first = c->regs->di;
	last = c->regs->si;
	fd_resync(bpf_get_current_task_btf(), p, tgid, first, last == ~0U ? last : last + 1);
	stat_inc(QH_STAT_FD_EVENTS);
	return 0;
}

/*
 * dup2/dup3 onto an fd that was open closes it first: the count comes from the table, and
 * the new record replaces the old one.
 */
static __always_inline int fd_dup_onto(struct sc *c)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct qh_fd v = { .stack_id = -1 };
	struct qh_fd_key k;
	struct qh_proc *p;
	__u32 before, n;

	if (c->ret < 0)
		return 0;
	p = traced(&k.tgid);
	if (!p)
		return 0;
	/* dup2(fd, fd) is a no-op that returns fd */
	if (c->regs->di == (__u64)c->ret)
		return 0;
	k.fd = c->ret;
	v.ts_ns = qh_stamp();
	v.nr = c->id;
	v.kind = QH_FD_UNKNOWN; /* as for dup: the loader reads kinds from /proc */
	if (cfg_fd_stacks)
		fd_site(c->ctx, c->regs, &v);
	fd_record(&k, &v);
	before = p->fd_open;
	n = fdt_count(task_fdt(task));
	p->fd_open = n;
	if (n > p->fd_peak)
		p->fd_peak = n;
	__sync_fetch_and_add(&p->fd_opened, 1);
	/* one more open and the same count: the target was open, and is closed */
	if (n <= before)
		__sync_fetch_and_add(&p->fd_closed, before + 1 - n);
	if (k.fd >= p->fd_limit)
		p->fd_limit = k.fd + 1;
	stat_inc(QH_STAT_FD_EVENTS);
	return 0;
}

/*
 * --fd-probes dispatch: one raw tracepoint on every syscall's exit, which dispatches on the
 * syscall number. One link: detached in one RCU grace period at exit; but every syscall of
 * the machine runs this program (about 60 ns each on the test VM).
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(fd_sys_exit, struct pt_regs *regs, long ret)
{
	struct sc c = { .ctx = ctx, .regs = regs, .id = regs->orig_ax, .ret = ret };

	/* a 32-bit process numbers its syscalls otherwise (syscall tracepoints skip them too) */
	if (regs->cs != QH_USER64_CS)
		return 0;
	switch (c.id) {
#define FD_CASE(name, call)    \
	case __NR_##name: \
		return call;
	QH_FD_SYSCALLS(FD_CASE)
#undef FD_CASE
	default:
		return 0;
	}
}

/*
 * --fd-probes syscalls (the default where fentry is refused): a classic tracepoint per
 * syscall. A syscall nobody probes costs nothing more (beyond the slow syscall path any
 * syscall tracepoint puts every task on), but each of these links takes an RCU grace period
 * to detach, one after the other (the kernel holds event_mutex across it): about 1 s at exit.
 */
static __always_inline struct sc sc_of(struct trace_event_raw_sys_exit *ctx)
{
	struct sc c = { .ctx = ctx, .regs = user_regs(), .id = ctx->id, .ret = ctx->ret };

	return c;
}

#define FD_TP(name, call)                                                \
	SEC("tp/syscalls/sys_exit_" #name)                              \
	int fd_tp_##name(struct trace_event_raw_sys_exit *ctx)          \
	{                                                                \
		struct sc c = sc_of(ctx);                                \
									 \
		return call;                                             \
	}

QH_FD_SYSCALLS(FD_TP)

/*
 * --fd-probes fentry (auto's choice where the kernel allows it): an fexit program on each
 * syscall's kernel function. Only the probed functions pay (a trampoline and this program);
 * no task is put on the slow syscall path (QH_SYSCALL_FN in proc.bpf.h). The function's
 * argument is the saved user registers, as user_regs() would return them.
 */
#define FD_FX(name, call)                                                                  \
	SEC("fexit/" QH_SYSCALL_FN(name))                                                  \
	int BPF_PROG(fd_fx_##name, const struct pt_regs *regs, long ret)                   \
	{                                                                                  \
		struct sc c = { .ctx = ctx, .regs = (struct pt_regs *)regs, .id = __NR_##name, \
				.ret = ret };                                              \
											   \
		return call;                                                               \
	}

QH_FD_SYSCALLS(FD_FX)

/*
 * TCP state of the sockets traced processes own. A socket is followed from connect() or
 * listen() (its first move away from CLOSE, made in the owner's context) or from accept();
 * its record goes when it reaches CLOSE.
 */
static __always_inline int handle_set_state(struct sock *sk, int oldstate, int newstate)
{
	__u64 key = (__u64)sk;
	struct qh_sock *s, init = {};
	struct qh_proc *p;

	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	s = bpf_map_lookup_elem(&socks, &key);
	if (!s) {
		/* only connect() and listen() make these moves: the current task owns it */
		if (oldstate != TCP_CLOSE || (newstate != TCP_SYN_SENT && newstate != TCP_LISTEN))
			return 0;
		p = traced(&init.tgid);
		if (!p)
			return 0;
		init.state = newstate;
		if (bpf_map_update_elem(&socks, &key, &init, BPF_NOEXIST)) {
			stat_inc(QH_STAT_SOCKS_FULL);
			return 0;
		}
		tcp_count(p, newstate, 1);
		return 0;
	}
	p = bpf_map_lookup_elem(&procs, &s->tgid);
	if (p) {
		tcp_count(p, s->state, -1);
		if (newstate != TCP_CLOSE)
			tcp_count(p, newstate, 1);
	}
	if (newstate == TCP_CLOSE)
		bpf_map_delete_elem(&socks, &key);
	else
		s->state = newstate;
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(fd_sock_state, const struct sock *sk, int oldstate, int newstate)
{
	return handle_set_state((struct sock *)sk, oldstate, newstate);
}
