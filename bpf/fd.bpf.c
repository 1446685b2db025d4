// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * File descriptors and sockets: every syscall that creates an fd and every way one goes
 * away, read at sys_exit (only successful calls count), and TCP state changes.
 *
 * Each syscall has its own classic tracepoint: a syscall nobody probes costs nothing more,
 * where one sys_exit program would run for every syscall of the machine. Programs are named
 * fd_*: the loader leaves them all out with --no-fds.
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "fd.bpf.h"

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
#ifndef IPPROTO_TCP
#define IPPROTO_TCP 6
#endif

/* set by the loader: a user stack per fd opened (else the syscall names the site) */
const volatile bool cfg_fd_stacks = false;

/* the syscall's arguments, in the saved user registers (intact at sys_exit) */
static __always_inline struct pt_regs *fd_user_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
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
	struct socket *so = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	struct qh_sock s = { .tgid = tgid };
	struct sock *sk;
	__u64 key;

	if (!so)
		return;
	sk = so->sk;
	key = (__u64)sk;
	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return;
	s.state = sk->__sk_common.skc_state;
	if (bpf_map_update_elem(&socks, &key, &s, BPF_NOEXIST)) {
		if (!bpf_map_lookup_elem(&socks, &key))
			stat_inc(QH_STAT_SOCKS_FULL);
		return;
	}
	tcp_count(p, s.state, 1);
}

/* @fd is open now in the current process, made by syscall @nr. */
static __always_inline void fd_new(void *ctx, struct qh_proc *p, __u32 tgid, __u32 fd,
				   __u32 nr, __u32 kind)
{
	struct qh_fd_key k = { .tgid = tgid, .fd = fd };
	struct qh_fd v = { .nr = nr, .kind = kind, .stack_id = -1 };
	__u32 n;

	v.ts_ns = bpf_ktime_get_boot_ns();
	if (cfg_fd_stacks) {
		v.stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
		if (v.stack_id < 0)
			stat_inc(QH_STAT_STACK_LOST);
	}
	if (bpf_map_update_elem(&fds, &k, &v, BPF_ANY))
		stat_inc(QH_STAT_FDS_FULL);
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

/*
 * The syscall returned a new fd of @kind; QH_FD_UNKNOWN: look at the file (open of a
 * directory, a FIFO; dup of anything).
 */
static __always_inline int fd_ret(struct trace_event_raw_sys_exit *ctx, __u32 kind)
{
	struct qh_proc *p;
	struct file *f;
	__u32 tgid;

	if (ctx->ret < 0)
		return 0;
	p = traced(&tgid);
	if (!p)
		return 0;
	if (kind == QH_FD_UNKNOWN) {
		kind = file_kind(fdt_file(task_fdt(bpf_get_current_task_btf()), ctx->ret));
	} else if (kind == QH_FD_ACCEPTED) {
		kind = QH_FD_SOCKET;
		f = fdt_file(task_fdt(bpf_get_current_task_btf()), ctx->ret);
		if (f)
			sock_follow(f, p, tgid);
	}
	fd_new(ctx, p, tgid, ctx->ret, ctx->id, kind);
	return 0;
}

#define FD_RET(name, kind)                                               \
	SEC("tp/syscalls/sys_exit_" #name)                              \
	int fd_##name(struct trace_event_raw_sys_exit *ctx)             \
	{                                                                \
		return fd_ret(ctx, kind);                                \
	}

FD_RET(open, QH_FD_UNKNOWN)
FD_RET(openat, QH_FD_UNKNOWN)
FD_RET(openat2, QH_FD_UNKNOWN)
FD_RET(creat, QH_FD_UNKNOWN)
FD_RET(open_by_handle_at, QH_FD_UNKNOWN)
FD_RET(dup, QH_FD_UNKNOWN)
FD_RET(pidfd_getfd, QH_FD_UNKNOWN)
FD_RET(socket, QH_FD_SOCKET)
FD_RET(accept, QH_FD_ACCEPTED)
FD_RET(accept4, QH_FD_ACCEPTED)
FD_RET(eventfd, QH_FD_EVENTFD)
FD_RET(eventfd2, QH_FD_EVENTFD)
FD_RET(epoll_create, QH_FD_EPOLL)
FD_RET(epoll_create1, QH_FD_EPOLL)
FD_RET(timerfd_create, QH_FD_TIMERFD)
FD_RET(inotify_init, QH_FD_INOTIFY)
FD_RET(inotify_init1, QH_FD_INOTIFY)
FD_RET(fanotify_init, QH_FD_ANON)
FD_RET(memfd_create, QH_FD_MEMFD)
FD_RET(pidfd_open, QH_FD_PIDFD)
FD_RET(userfaultfd, QH_FD_ANON)
FD_RET(perf_event_open, QH_FD_ANON)
FD_RET(io_uring_setup, QH_FD_ANON)

/* signalfd(fd, ...) with fd != -1 changes the mask of an existing signalfd */
static __always_inline int signalfd_ret(struct trace_event_raw_sys_exit *ctx)
{
	if ((int)fd_user_regs()->di != -1)
		return 0;
	return fd_ret(ctx, QH_FD_SIGNALFD);
}

SEC("tp/syscalls/sys_exit_signalfd")
int fd_signalfd(struct trace_event_raw_sys_exit *ctx)
{
	return signalfd_ret(ctx);
}

SEC("tp/syscalls/sys_exit_signalfd4")
int fd_signalfd4(struct trace_event_raw_sys_exit *ctx)
{
	return signalfd_ret(ctx);
}

SEC("tp/syscalls/sys_exit_fcntl")
int fd_fcntl(struct trace_event_raw_sys_exit *ctx)
{
	__u32 cmd;

	if (ctx->ret < 0)
		return 0;
	cmd = fd_user_regs()->si;
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return 0;
	return fd_ret(ctx, QH_FD_UNKNOWN);
}

/* pipe(int fds[2]), pipe2, socketpair(..., int sv[2]): two fds written to user memory */
static __always_inline int fd_pair(struct trace_event_raw_sys_exit *ctx, __u64 uptr, __u32 kind)
{
	struct qh_proc *p;
	int pair[2];
	__u32 tgid;

	if (ctx->ret != 0)
		return 0;
	p = traced(&tgid);
	if (!p || bpf_probe_read_user(pair, sizeof(pair), (void *)uptr))
		return 0;
	fd_new(ctx, p, tgid, pair[0], ctx->id, kind);
	fd_new(ctx, p, tgid, pair[1], ctx->id, kind);
	return 0;
}

SEC("tp/syscalls/sys_exit_pipe")
int fd_pipe(struct trace_event_raw_sys_exit *ctx)
{
	return fd_pair(ctx, fd_user_regs()->di, QH_FD_PIPE);
}

SEC("tp/syscalls/sys_exit_pipe2")
int fd_pipe2(struct trace_event_raw_sys_exit *ctx)
{
	return fd_pair(ctx, fd_user_regs()->di, QH_FD_PIPE);
}

SEC("tp/syscalls/sys_exit_socketpair")
int fd_socketpair(struct trace_event_raw_sys_exit *ctx)
{
	return fd_pair(ctx, fd_user_regs()->r10, QH_FD_SOCKET);
}

SEC("tp/syscalls/sys_exit_close")
int fd_close(struct trace_event_raw_sys_exit *ctx)
{
	struct qh_fd_key k;
	struct qh_proc *p;

	if (ctx->ret != 0)
		return 0;
	p = traced(&k.tgid);
	if (!p)
		return 0;
	k.fd = fd_user_regs()->di;
	bpf_map_delete_elem(&fds, &k);
	if (p->fd_open)
		__sync_fetch_and_add(&p->fd_open, -1);
	__sync_fetch_and_add(&p->fd_closed, 1);
	stat_inc(QH_STAT_FD_EVENTS);
	return 0;
}

SEC("tp/syscalls/sys_exit_close_range")
int fd_close_range(struct trace_event_raw_sys_exit *ctx)
{
	struct pt_regs *regs = fd_user_regs();
	__u32 tgid, first, last;
	struct qh_proc *p;

	if (ctx->ret != 0 || (regs->dx & CLOSE_RANGE_CLOEXEC))
		return 0;
	p = traced(&tgid);
	if (!p)
		return 0;
	first = regs->di;
	last = regs->si;
	fd_resync(bpf_get_current_task_btf(), p, tgid, first, last == ~0U ? last : last + 1);
	stat_inc(QH_STAT_FD_EVENTS);
	return 0;
}

/*
 * dup2/dup3 onto an fd that was open closes it first: the count comes from the table, and
 * the new record replaces the old one.
 */
static __always_inline int dup_onto(struct trace_event_raw_sys_exit *ctx)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct qh_fd_key k;
	struct qh_proc *p;
	__u32 before, n;
	struct qh_fd v = { .stack_id = -1 };

	if (ctx->ret < 0)
		return 0;
	p = traced(&k.tgid);
	if (!p)
		return 0;
	/* dup2(fd, fd) is a no-op that returns fd */
	if (fd_user_regs()->di == (__u64)ctx->ret)
		return 0;
	k.fd = ctx->ret;
	v.ts_ns = bpf_ktime_get_boot_ns();
	v.nr = ctx->id;
	v.kind = file_kind(fdt_file(task_fdt(task), k.fd));
	if (cfg_fd_stacks)
		v.stack_id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
	if (bpf_map_update_elem(&fds, &k, &v, BPF_ANY))
		stat_inc(QH_STAT_FDS_FULL);
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

SEC("tp/syscalls/sys_exit_dup2")
int fd_dup2(struct trace_event_raw_sys_exit *ctx)
{
	return dup_onto(ctx);
}

SEC("tp/syscalls/sys_exit_dup3")
int fd_dup3(struct trace_event_raw_sys_exit *ctx)
{
	return dup_onto(ctx);
}

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
