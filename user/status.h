/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The answer to the control socket's {"op": "status"} (`qhtrace status`): what is traced now,
 * as one JSON object. Built from the process model, procwatch's drivers, zombies and
 * leftovers, and what the caller knows (struct status_info: its mode, start, lost events, the
 * monitor's jobs); the little it reads of the live system (a process's RSS and state now)
 * comes through struct status_ops, so it links into the unit tests.
 *
 *	{"mode": "attach", "pid": 4242, "version": "0.1.0", "uptime_s": 12.5,
 *	 "events": {"received": 310, "lost": 0},
 *	 "processes": {"alive": 5, "running": 1, "sleeping": 3, "disk_sleep": 0, "stopped": 0,
 *		       "zombie": 1, "other": 0},
 *	 "top": [{"pid": 4250, "start_time": "...Z", "comm": "rss64", "state": "S",
 *		  "role": null, "rss_bytes": 70123520,
 *		  "rss": {"anon_bytes": .., "file_bytes": .., "shmem_bytes": ..}, "swap_bytes": 0}],
 *	 "drivers": {"trees": 1, "drivers_alive": 1, "browsers_alive": 3, "processes_alive": 5,
 *		     "rss_bytes": .., "list": [{"id": 1, "kind": "chromedriver", "pid": ..,
 *		     "start_time": .., "driver_alive": true, "processes_alive": 5,
 *		     "browsers_alive": 3, "rss_bytes": .., "pss_bytes": .. or null}]},
 *	 "zombies": {"found": 1, "now": 1, "list": [{"pid", "comm", "start_time", "parent_pid",
 *		     "parent_comm", "zombie_for_s"}]},
 *	 "leftovers": {"found": 0, "alive": 0, "by_reason": {}, "list": [{"pid", "comm",
 *		       "start_time", "reason", "alive"}]},
 *	 "jobs": [{"id": "123/build", "kind": "github", "name": "build", "root_pid": 900,
 *		   "root_start_time": .., "started": .., "processes_alive": 7, "rss_bytes": ..}]}
 *
 * Memory is in bytes; times are RFC 3339 UTC; a process is (pid, start_time). The lists are
 * capped at status_info.top entries (the drivers' at QH_STATUS_MAX_DRIVERS), their counts
 * are not.
 */
#ifndef __QH_STATUS_H
#define __QH_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "qhtrace.h"

struct cJSON;
struct proc;
struct proctree;
struct procwatch;

/* driver trees listed at most (the counts cover all of them) */
#define QH_STATUS_MAX_DRIVERS 100

/*
 * A job of `qhtrace monitor` (attach has none: its "jobs" is []), as the monitor fills it.
 * The strings are the monitor's (copied into the JSON).
 */
struct status_job {
	const char *id;		/* as the CI names it: "GITHUB_RUN_ID/GITHUB_JOB", CI_JOB_ID, ... */
	const char *kind;	/* "github", "gitlab", "jenkins", "buildkite", "env", "cgroup" */
	const char *name;	/* a name for people (GITHUB_JOB, a cgroup path), or NULL */
	uint32_t root_pid;
	uint64_t root_start_ns;	/* the root's start, CLOCK_BOOTTIME: with root_pid, its identity */
	uint64_t started_ns;	/* when the job was recognised (its root's exec), CLOCK_BOOTTIME */
	uint32_t alive;		/* processes of the job alive now */
	uint64_t rss_bytes;	/* their RSS (file + anon + shmem) summed */
};

/* What status reads of the live system: the tracer's counters and /proc, or a test's. */
struct status_ops {
	/* @p's resident pages now by rss_stat member (MM_*); -ESRCH: @p is gone */
	int (*rss)(void *ctx, const struct proc *p, uint64_t pages[QH_NR_RSS]);
	/* @p's state now, /proc's letter (R, S, D, Z, T, t, I, ...); -ESRCH: @p is gone */
	int (*state)(void *ctx, const struct proc *p, char *state);
	void *ctx;
};

struct status_info {
	const char *mode;		/* "attach", "monitor" */
	pid_t pid;			/* qhtrace's */
	uint64_t now_ns;		/* CLOCK_BOOTTIME */
	uint64_t started_ns;		/* qhtrace's start, CLOCK_BOOTTIME */
	uint64_t events;		/* ring buffer records received */
	uint64_t events_lost;		/* the loss counters summed (report__lost) */
	uint32_t top;			/* processes listed by memory (QH_CTL_TOP_MAX at most) */
	uint64_t page_size;
	const struct status_job *jobs;	/* the monitor's, or NULL */
	size_t njobs;
};

/*
 * Add the status fields to @out (an object: the reply, which holds "ok"). @w may be NULL (no
 * driver tracking). 0 or -ENOMEM.
 */
int status__json(const struct status_ops *ops, struct proctree *t, const struct procwatch *w,
		 const struct status_info *in, struct cJSON *out);

#endif
