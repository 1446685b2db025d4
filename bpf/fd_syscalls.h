/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The syscalls that create or close fds, one list for every side that names them: bpf/fd.bpf.c
 * makes a tracepoint program (fd_tp_NAME), an fexit program (fd_fx_NAME) and a case of the
 * sys_exit dispatch of each, the loader names the syscall that opened an fd
 * (fd_syscall__str), and the load test checks that the variant the kernel got is attached,
 * program by program.
 *
 * QH_FD_SYSCALLS(X) expands X(NAME, BODY) once per syscall. BODY is what fd.bpf.c runs at the
 * syscall's exit, an expression over `c` (its struct sc); everyone else ignores it.
 */
#ifndef __QH_FD_SYSCALLS_H
#define __QH_FD_SYSCALLS_H

/*
 * The legacy calls: the generic syscall table (include/uapi/asm-generic/unistd.h, which arm64
 * and riscv use) has none of them, only their successors (openat, pipe2, dup3, ...), so a
 * user of SYS_NAME guards this list with #ifdef SYS_open.
 */
#define QH_FD_SYSCALLS_LEGACY(X)                                                               \
	X(open, fd_ret(&c, QH_FD_UNKNOWN))                                                     \
	X(creat, fd_ret(&c, QH_FD_UNKNOWN))                                                    \
	X(eventfd, fd_ret(&c, QH_FD_EVENTFD))                                                  \
	X(epoll_create, fd_ret(&c, QH_FD_EPOLL))                                               \
	X(inotify_init, fd_ret(&c, QH_FD_INOTIFY))                                             \
	X(signalfd, fd_signalfd(&c))                                                           \
	X(pipe, fd_pair(&c, c.regs->di, QH_FD_PIPE))                                           \
	X(dup2, fd_dup_onto(&c))

/* the calls every architecture has */
#define QH_FD_SYSCALLS_COMMON(X)                                                               \
	X(openat, fd_ret(&c, QH_FD_UNKNOWN))                                                   \
	X(openat2, fd_ret(&c, QH_FD_UNKNOWN))                                                  \
	X(open_by_handle_at, fd_ret(&c, QH_FD_UNKNOWN))                                        \
	X(dup, fd_ret(&c, QH_FD_UNKNOWN))                                                      \
	X(pidfd_getfd, fd_ret(&c, QH_FD_UNKNOWN))                                              \
	X(socket, fd_ret(&c, QH_FD_SOCKET))                                                    \
	X(accept, fd_ret(&c, QH_FD_ACCEPTED))                                                  \
	X(accept4, fd_ret(&c, QH_FD_ACCEPTED))                                                 \
	X(eventfd2, fd_ret(&c, QH_FD_EVENTFD))                                                 \
	X(epoll_create1, fd_ret(&c, QH_FD_EPOLL))                                              \
	X(timerfd_create, fd_ret(&c, QH_FD_TIMERFD))                                           \
	X(inotify_init1, fd_ret(&c, QH_FD_INOTIFY))                                            \
	X(fanotify_init, fd_ret(&c, QH_FD_ANON))                                               \
	X(memfd_create, fd_ret(&c, QH_FD_MEMFD))                                               \
	X(pidfd_open, fd_ret(&c, QH_FD_PIDFD))                                                 \
	X(userfaultfd, fd_ret(&c, QH_FD_ANON))                                                 \
	X(perf_event_open, fd_ret(&c, QH_FD_ANON))                                             \
	X(io_uring_setup, fd_ret(&c, QH_FD_ANON))                                              \
	X(signalfd4, fd_signalfd(&c))                                                          \
	X(fcntl, fd_fcntl(&c))                                                                 \
	X(pipe2, fd_pair(&c, c.regs->di, QH_FD_PIPE))                                          \
	X(socketpair, fd_pair(&c, c.regs->r10, QH_FD_SOCKET))                                  \
	X(close, fd_close(&c))                                                                 \
	X(close_range, fd_close_range(&c))                                                     \
	X(dup3, fd_dup_onto(&c))

#define QH_FD_SYSCALLS(X) QH_FD_SYSCALLS_LEGACY(X) QH_FD_SYSCALLS_COMMON(X)

#endif
