/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The process model: every traced process, keyed by (pid, start time) so that a reused pid
 * is a new process. Fed by ring buffer records; does no I/O of its own.
 */
#ifndef __QH_PROCTREE_H
#define __QH_PROCTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "htab.h"
#include "qhtrace.h"

enum proc_state {
	PROC_RUNNING = 0,
	PROC_EXITED,	/* exit seen, not known to be reaped */
	PROC_ZOMBIE,	/* exited, still waiting for its parent to reap it */
	PROC_REAPED,
};

struct proc {
	uint32_t pid;
	uint32_t ppid;
	uint64_t start_ns;	/* CLOCK_BOOTTIME ns; tick resolution while `seeded` */
	uint64_t end_ns;	/* exit time, 0 while running */
	uint64_t reap_ns;
	enum proc_state state;
	bool seeded;		/* known from /proc, not from a fork event */
	bool has_exit;		/* exit_status is valid */
	int exit_status;	/* wait(2) status word */
	char comm[TASK_COMM_LEN];
	char *exe;
	struct qh_proc stats;	/* the kernel's counters, latest seen */
	struct syms_maps *maps;	/* executable mappings, last snapshot (--heap), or NULL */
	uint32_t dead_gens[4];	/* heap generations exec replaced, the latest ones */
	uint32_t ndead_gens;
	/* fds, as /proc showed them at the last check or at the end (fd_scanned) */
	bool fd_scanned;
	uint32_t fd_now;		/* open fds */
	uint32_t fd_untracked;		/* of those, not seen opened: inherited, received, older */
	uint32_t fd_stale;		/* records /proc showed closed (a close not seen) */
	uint32_t fd_kind[QH_FD_KIND_SLOTS]; /* open fds by enum qh_fd_kind */
	struct proc *heir;	/* heap findings: first child that inherited our blocks */
	struct proc *next_heir;
	struct proc_watch *watch; /* procwatch's state of it (driver instance), or NULL */
	uint32_t job;		/* monitor: its CI job (jobs.h), 0: none */
	bool job_root;		/* monitor: it named its job (a root), counted in roots_alive */
	bool job_pinned;	/* monitor: written to the kernel's job_roots (tracer__set_job) */
	uint8_t outlived_kind;	/* monitor: it outlived its job, of enum job_kind + 1; 0: no */
	struct hnode hnode;	/* in the model's table, by pid */
	struct proc *next;	/* all processes, in order of discovery */
};

struct proctree;
struct syms_maps;

struct proctree *proctree__new(void);
void proctree__free(struct proctree *t);

/*
 * The process with this pid and start time: exact for processes the kernel announced, to
 * /proc's tick for one seeded from /proc until the kernel tells its exact start.
 */
struct proc *proctree__find(struct proctree *t, uint32_t pid, uint64_t start_ns);
/* Add a process; returns the existing entry if (pid, start) is already known. */
struct proc *proctree__add(struct proctree *t, uint32_t pid, uint64_t start_ns);
int proctree__set_exe(struct proc *p, const char *exe);
/*
 * Free every process @pred says can go (it must hold no pointer another module keeps: the
 * monitor asks them first), in one walk. Returns how many went.
 */
size_t proctree__remove_if(struct proctree *t, bool (*pred)(void *ctx, struct proc *p), void *ctx);
/* The running process with this pid, or NULL. */
struct proc *proctree__find_running(struct proctree *t, uint32_t pid);
/* The process whose address space instance (heap generation) this is, or NULL. */
struct proc *proctree__find_gen(struct proctree *t, uint32_t pid, uint32_t gen);
/* Was (pid, gen) an image that exec replaced? Its blocks died with it. */
bool proctree__is_dead_gen(struct proctree *t, uint32_t pid, uint32_t gen);
/* Replace the mappings snapshot of @p (takes ownership of @m). */
void proctree__set_maps(struct proc *p, struct syms_maps *m);

/* ring_buffer_sample_fn: apply one record. Always returns 0 (a negative stops the poll). */
int proctree__handle_event(void *ctx, void *data, size_t size);

struct proc *proctree__first(struct proctree *t);
size_t proctree__count(const struct proctree *t);
uint64_t proctree__events(const struct proctree *t);
/* records for a process never announced (its fork record was lost) or malformed */
uint64_t proctree__orphan_events(const struct proctree *t);
uint64_t proctree__bad_events(const struct proctree *t);

const char *proc_state__str(enum proc_state s);

#endif
