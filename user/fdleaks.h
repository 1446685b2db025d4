/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fd and socket findings. A group is (process, kind, what repeats: the path, the peer, the
 * listening address). A group whose count grows over consecutive checks is leaking; at the
 * end of `attach`, what survivors still hold that they opened while traced is flagged, and
 * so are their sockets in CLOSE_WAIT and their listeners. Does no I/O of its own.
 */
#ifndef __QH_FDLEAKS_H
#define __QH_FDLEAKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fdtable.h"
#include "severity.h"

struct proc;

#define QH_DEFAULT_RESOURCE_LEAK_COUNT 64
/* increases in a row before a growing group is a leak */
#define QH_FD_GROWING_CHECKS 2

struct fd_leak {
	const struct proc *proc;
	uint32_t kind;			/* enum qh_fd_kind */
	char target[FD_TARGET_LEN];	/* the group's pattern */
	int tcp_state;			/* sockets: TCP_* of the group, 0 for any */
	uint64_t count;			/* fds of the group open at the last look */
	uint64_t baseline;		/* at the first look */
	double growth_per_s;
	uint32_t growing_checks;
	const char *reason;		/* "growing", "open_at_end", "open_at_exit" */
	char site[96];			/* what opened the newest one: the syscall, and with
					 * --fd-stacks the function */
	enum severity severity;
	/* open_at_exit: some of the fds it held were in no record (the kernel's bound, or its
	 * ring buffer full): count is what arrived */
	bool incomplete;
	struct qh_fd opener;		/* open_at_exit: the newest one's record (its ts_ns, the
					 * kernel's stamp), for fdleaks__exit_sites */
};

struct fdleaks;

struct fdleaks *fdleaks__new(uint64_t threshold);
void fdleaks__free(struct fdleaks *f);

/*
 * Which fds of a table were opened while traced: @opened[i] is true for t->v[i], with the
 * syscall that opened it (@nr[i]).
 */
struct fd_seen {
	const bool *opened;
	const uint32_t *nr;
	char (*site)[96];	/* where it was opened ("" or NULL: the syscall names it) */
};

/*
 * For a model that lets processes go (monitor): the processes findings point at (they must
 * stay), and the groups of processes @gone says are gone dropped (never a finding's).
 * Returns how many groups went.
 */
void fdleaks__for_each_flagged(const struct fdleaks *f, void (*fn)(void *ctx, const struct proc *p),
				void *ctx);
size_t fdleaks__forget(struct fdleaks *f, bool (*gone)(void *ctx, const struct proc *p), void *ctx);

/* A periodic check saw table @t of @p at @now_ns (CLOCK_BOOTTIME). */
int fdleaks__observe(struct fdleaks *f, const struct proc *p, const struct fd_table *t,
		     const struct fd_seen *seen, uint64_t now_ns);
/* @p survives the traced command: flag what it opened and still holds, and its sockets. */
int fdleaks__at_end(struct fdleaks *f, const struct proc *p, const struct fd_table *t,
		    const struct fd_seen *seen, uint64_t now_ns);

/*
 * @p exited holding @count fds it opened while traced, alike (one kind, one target @pattern,
 * @tcp_state for a TCP socket), the newest opened as @opener says: an open_at_exit finding.
 */
int fdleaks__at_exit(struct fdleaks *f, const struct proc *p, uint32_t kind, const char *pattern,
		     int tcp_state, uint64_t count, const struct qh_fd *opener);
/*
 * @p exited and @unsent of the fds it held were in no record: its open_at_exit findings are
 * incomplete; if it has none, an "unknown" one stands for those fds, so a gate still sees them.
 */
int fdleaks__exit_unsent(struct fdleaks *f, const struct proc *p, uint64_t unsent);
/*
 * Each open_at_exit finding's opener, to name the function that opened it (--fd-stacks): @fn
 * writes the site into @site (left as it is, the syscall's name, when it writes nothing).
 */
void fdleaks__exit_sites(struct fdleaks *f,
			 void (*fn)(void *ctx, const struct proc *p, const struct qh_fd *opener,
				    char *site, size_t len),
			 void *ctx);

/* Findings so far, fds first then sockets, each by severity then count. */
size_t fdleaks__count(struct fdleaks *f);
const struct fd_leak *fdleaks__get(struct fdleaks *f, size_t i);
/* is this finding about sockets (leaks.sockets) rather than fds (leaks.fds)? */
bool fd_leak__is_socket(const struct fd_leak *l);

#endif
