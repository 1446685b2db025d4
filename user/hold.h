/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The hold at exit: a helper process (the holder) traces the command's tree with ptrace
 * (PTRACE_O_TRACEEXIT, and FORK, VFORK, CLONE, EXEC so no process escapes). When a process
 * exits, its threads stop at their exit stops with the address space whole (atexit handlers
 * and destructors have run); the holder reads the process's live blocks from the `allocs`
 * map (its own, and those it inherited at fork and has not freed), classifies them with
 * heapscan, passes the classes on, and detaches: the exit goes on. The parent's wait sees
 * nothing of it: ptrace stops go to the tracer, never to a parent.
 *
 * Why a process and not a thread of qhtrace: when the tracer is a thread of the tracee's real
 * parent (qhtrace forks the command and is the subreaper of its orphans), the kernel lets
 * every thread of that group wait for the tracee as its tracer (kernel/exit.c,
 * wait_consider_task: "If a ptracer wants to distinguish these two events for its own
 * children it should create a separate process which takes the role of real parent"), so
 * qhtrace's own waitpid for the command, its orphans and its alert hooks would take the
 * tracer's ptrace stops. A separate tracer leaves those waits as they are.
 *
 * The holder dies with qhtrace (PR_SET_PDEATHSIG); the kernel then detaches its tracees and
 * they go on untraced. Results come back as fixed-size records on a pipe (each under
 * PIPE_BUF, so written whole), the block classes in a shared memfd.
 */
#ifndef __QH_HOLD_H
#define __QH_HOLD_H

#include <stdbool.h>
#include <sys/types.h>

struct hold;
struct leakclass;
struct tracer;

struct hold_opts {
	/*
	 * The block list is incomplete (sampling, size filters): the allocator's arenas are
	 * roots, so a block pointed to only from an unknown block is not called lost
	 * (heapscan_opts.arena_is_root). Also taken when the `allocs` map was found full.
	 */
	bool arena_is_root;
};

/* Start the holder (it traces nothing yet). 0 or -errno (printed). */
int hold__start(struct hold **out, struct tracer *tr, const struct hold_opts *o);
/* attach: trace @pid (held before its exec) and everything it starts, from now. 0 or -errno */
int hold__seize(struct hold *h, pid_t pid);
/*
 * leaks -p: stop every thread of the running @pid (PTRACE_SEIZE + PTRACE_INTERRUPT), classify
 * its blocks with the arenas as roots (the blocks made before qhtrace attached are not
 * known), release it. 0 or -errno; the classes arrive through hold__collect.
 */
int hold__scan_running(struct hold *h, pid_t pid);
/* readable when results wait (for the event loop's epoll), or -1 */
int hold__fd(const struct hold *h);
/* Move the results that arrived into @c (never blocks). 0 or -ENOMEM. */
int hold__collect(struct hold *h, struct leakclass *c);
/* Stop the holder: whatever it traces goes on untraced. NULL is fine. */
void hold__stop(struct hold *h);

#endif
