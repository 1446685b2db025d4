/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A tracing session: the kernel side, the process model and the heap findings, from the
 * first probe to the written report. `attach` and `leaks` differ only in how they start the
 * processes and when they stop.
 */
#ifndef __QH_SESSION_H
#define __QH_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

struct attach_opts;
struct cleanup;
struct cJSON;
struct ctlsrv;
struct fdleaks;
struct heapleaks;
struct heaptrend;
struct hold;
struct leakclass;
struct leaksupp;
struct outputs;
struct proctree;
struct procwatch;
struct run_info;
struct session;
struct session_events;
struct testattr;
struct tracer;

/*
 * A job session__tick runs: at every tick (interval 0), or when its deadline has come and
 * then again an interval later.
 */
struct session_timer {
	void (*run)(struct session *s, uint64_t now);	/* now: CLOCK_MONOTONIC */
	uint64_t interval_ns;
	uint64_t next_ns;	/* CLOCK_MONOTONIC; 0: at the first tick */
	bool first_waits;	/* the first tick sets the deadline instead of running it */
};

#define SESSION_TIMERS 6

struct session {
	const struct attach_opts *o;
	struct proctree *tree;
	struct tracer *tr;
	struct heapleaks *leaks;
	struct session_events *actx;
	struct heaptrend *trend;	/* heap growth across periodic checks */
	struct fdleaks *fdleaks;	/* fd groups across checks, and the findings */
	struct session_timer timers[SESSION_TIMERS];	/* what session__tick runs */
	size_t ntimers;
	uint64_t last_sweep_ns;		/* CLOCK_MONOTONIC */
	uint64_t sweep_dead;		/* dead records made (freed - reused) at the last sweep */
	uint64_t sweep_full;		/* QH_STAT_ALLOCS_FULL at the last sweep */
	struct outputs *out;		/* event log, alerts, gate (outputs.h) */
	int efd;	/* epoll: the ring buffer, plus what the command adds */
	struct procwatch *watch;	/* drivers, zombies, orphans, leftovers */
	struct cleanup *cleanup;	/* with --cleanup */
	struct hold *hold;		/* the ptrace hold at exit (hold.h), or NULL */
	struct leakclass *classes;	/* the classes the holds gave (leakclass.h) */
	struct leaksupp *supp;		/* --suppressions, read */
	char unheld[128];		/* why a process was not held, when none is */
	struct ctlsrv *ctl;		/* attach: the control socket (QHTRACE_SOCKET), or NULL */
	struct testattr *tests;		/* attach: the tests marked or named, what they caused */
	struct cJSON *snapshots;	/* the control socket's snapshot requests, for the report */
	size_t nsnapshots;		/* in it: at most settings.max_snapshots */
	uint64_t snapshots_dropped;	/* the oldest, dropped for newer ones */
	bool reported;			/* the report is out: the probes may go behind (tracer.h) */
};

/*
 * Before anything starts: -v, the output path, privileges and BTF. 0, or the exit code to
 * return after the one-line error it printed.
 */
int session__preflight(const struct attach_opts *o);
/*
 * Block every signal whose default action would end qhtrace (but the ones that report a
 * fault of its own: SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS), with @children
 * SIGCHLD too, and return a signalfd for them, so they arrive through the event loop and end
 * a run the documented way (drain, report, exit code); -1 after an error message.
 */
int session__signals(sigset_t *oldmask, bool children);
/*
 * A signal qhtrace's own write raised (SIGPIPE: stdout or stderr has no reader; SIGXFSZ):
 * the write failed with EPIPE or EFBIG and says so; it is no request to stop.
 */
struct signalfd_siginfo;
bool session__own_signal(const struct signalfd_siginfo *si);
/*
 * Take what is still pending (a SIGPIPE of the summary's last line) off @sfd and close it,
 * then restore @oldmask: a signal blocked for the run must not end qhtrace once unblocked.
 */
void session__signals_done(int sfd, const sigset_t *oldmask);

/*
 * Load and attach every probe; with o->heap, probe the C library at @libc. The event loop's
 * epoll (s->efd) watches the ring buffer and the signalfd @sfd.
 */
int session__open(struct session *s, const struct attach_opts *o, const char *libc, int sfd);
void session__close(struct session *s);

/*
 * Each ring buffer record, after the model, the outputs and the watch have taken it (so the
 * process it is about is in s->tree): the monitor's jobs.
 */
typedef void (*session_event_fn)(void *ctx, const void *data, size_t size);
void session__set_event_hook(struct session *s, session_event_fn fn, void *ctx);

/*
 * monitor --heap-match: @fn says which processes' heap is followed; only theirs are read for
 * mappings and harvested (a node's other processes cost the loader nothing).
 */
struct proc;
typedef bool (*session_heap_fn)(void *ctx, const struct proc *p);
void session__set_heap_filter(struct session *s, session_heap_fn fn, void *ctx);

/* The mappings of @p read again, and the unwind tables of its modules built (heap stacks). */
void session__heap_refresh(struct session *s, struct proc *p);

/* The control socket's path (for CMD's QHTRACE_SOCKET), or NULL when there is none. */
const char *session__control_path(const struct session *s);
/*
 * {"op": "status"} (status.h): what the session traces now into @reply, @top processes by
 * memory; @mode "attach" or "monitor", @jobs (the monitor's, or NULL) as they are. Consumes
 * the ring buffer first. 0 or -ENOMEM.
 */
struct status_job;
int session__status(struct session *s, const char *mode, uint32_t top,
		    const struct status_job *jobs, size_t njobs, struct cJSON *reply);
/* An fd of the event loop's epoll that is not the ring buffer's: true when it was ours. */
bool session__on_fd(struct session *s, int fd);

/* Trace a process that exists now, and its descendants from now on (errors are printed). */
int session__trace_pid(struct session *s, pid_t pid);
/* The same on a bare tracer and model (the load tests use it). */
int session__seed(struct tracer *tr, struct proctree *t, pid_t pid);

/*
 * attach: hold @pid (held before its exec) and its tree at their exits, for the leak
 * classes; a failure is a warning (the blocks stay unclassified, the report says why).
 */
void session__hold_tree(struct session *s, pid_t pid);
/* leaks -p: stop the running @pid, classify its blocks, release it (at the end). */
void session__scan_running(struct session *s, pid_t pid);

/* @pid is the traced command: never a lifetime leftover, never reaped but by the loop. */
void session__set_command(struct session *s, pid_t pid);

/*
 * Call from the event loop (at least once a second): runs what is due of the session's
 * timers: the driver trees, memory monitoring, heap sweep and harvest, the periodic check.
 */
void session__tick(struct session *s);

/*
 * The traced command @cmd_pid has exited (and was reaped): wait, draining records, until the
 * trees of drivers that ended are gone or their force_cleanup_timeout is over; then every
 * traced process still alive is a leftover, terminated and verified with --cleanup; reap
 * what that leaves as our zombies.
 */
void session__finish(struct session *s, pid_t cmd_pid);

/*
 * monitor: the heap findings a harvest put into s->leaks, moved into heapleaks of the caller's
 * (heapleaks__take), made ready for a report: aged and graded, their stacks symbolized, the
 * same call sites merged, classes and suppressions applied. 0 or -errno.
 */
int session__heap_finish(struct session *s, struct heapleaks *leaks);

/* Consume what the ring buffer holds; wait up to @ms for records still on their way. */
void session__drain(struct session *s, int ms);

/*
 * Bring the model up to date, collect the heap findings, print the summary (unless quiet)
 * and write the report (with -o). @ri is filled with what the session knows; the caller
 * sets mode, command and exit code. Returns 0, or -errno if the report could not be written.
 */
int session__report(struct session *s, struct run_info *ri);

#endif
