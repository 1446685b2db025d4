/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fd reconciliation: the kernel's fd records (the `fds` map, read by the caller into an
 * array) against each running process's /proc/PID/fd. Which fds were seen opened, which were
 * not (inherited, received over SCM_RIGHTS, open before tracing), which records name fds that
 * are closed (a close that was not seen: the record is stale and taken out); then the
 * findings are fed to fdleaks. What touches the kernel or /proc comes through
 * struct fdsync_ops, so it links into the unit tests.
 */
#ifndef __QH_FDSYNC_H
#define __QH_FDSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#include "qhtrace.h"

struct fd_table;
struct fdleaks;
struct proctree;
struct syms_frame;
struct syms_maps;

/* One record of the `fds` map, as tracer__for_each_fd hands it out (ts_ns in boot ns). */
struct fd_rec {
	struct qh_fd_key k;
	struct qh_fd v;
};

struct fdsync_ops {
	/* /proc/PID/fd, sorted by fd (fdtable__read); 0, or -errno: the process is gone. */
	int (*read_table)(void *ctx, pid_t pid, struct fd_table *t);
	/* Take a stale record out of the kernel's map. */
	void (*forget)(void *ctx, const struct qh_fd_key *k);
	/*
	 * --fd-stacks (NULL: no sites): the executable mappings of @pid now, or NULL; the user
	 * stack @id; symbolize @addr (syms__resolve, 0 or -errno).
	 */
	/* the mappings of the process (pid, start time), NULL if that pid is another now */
	struct syms_maps *(*maps)(void *ctx, pid_t pid, uint64_t start_ns);
	int (*stack)(void *ctx, int64_t id, uint64_t *ips, size_t max);
	int (*resolve)(void *ctx, const struct syms_maps *m, uint64_t addr, struct syms_frame *out);
	void *ctx;
};

/*
 * --fd-stacks: the site of the fd record @v, "openat in leak_files (fdleak.c:42)", into @out
 * ("" when nothing resolves) with the mappings @m (NULL: nothing). The caller the kernel side
 * found on the stack names the function; without one, the first frame of the kernel's walk
 * past the C library's wrapper.
 */
void fdsync__site(const struct fdsync_ops *ops, const struct syms_maps *m, const struct qh_fd *v,
		  char *out, size_t len);

/* qsort/bsearch order of struct fd_rec: by tgid, then fd */
int fdsync__cmp_rec(const void *a, const void *b);

/*
 * Reconcile every running process of @t with its /proc/PID/fd, @recs[0..@n) being the
 * kernel's records (sorted here, by fdsync__cmp_rec), @scan_ns the boot time the check began:
 * sets each one's fd_scanned, fd_now, fd_untracked, fd_kind; takes out records made before
 * @scan_ns of fds /proc does not show, counting them in fd_stale. Then feeds @f: a periodic
 * check (fdleaks__observe) looks for growth, the end (@at_end: fdleaks__at_end) for what
 * survivors hold. A process /proc no longer has is left alone: its exit record says what it
 * held.
 */
void fdsync__check(const struct fdsync_ops *ops, struct proctree *t, struct fdleaks *f,
		   struct fd_rec *recs, size_t n, uint64_t scan_ns, bool at_end);

#endif
