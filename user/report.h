/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The summary report: JSON (contract qhtrace/report/v1) and the table on stderr. */
#ifndef __QH_REPORT_H
#define __QH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include <linux/types.h>

#include "qhtrace.h" /* QH_STAT_MAX */

#define QH_REPORT_SCHEMA "qhtrace/report/v1"
/* the summary table lists every process up to MAX, else the TOP with the highest peak RSS */
#define QH_SUMMARY_MAX_ROWS 12
/* commands in the grouped table of a long run, failed cleanups, ... */
#define QH_SUMMARY_GROUP_ROWS 6
/* fd and socket findings listed, or their groups */
#define QH_SUMMARY_FD_ROWS 4

struct cleanup;
struct fdleaks;
struct heapleaks;
struct leakclass;
struct leaksupp;
struct proc;
struct proctree;
struct procwatch;
struct testattr;
struct tracer_probes;

struct run_info {
	const char *mode;		/* "attach" */
	char *const *argv;		/* the traced command */
	int argc;
	uint64_t start_real_ns;		/* CLOCK_REALTIME */
	double duration_s;
	int exit_code;			/* qhtrace's own exit code for the command, -1 unknown */
	const char *kernel;		/* uname -r */
	uint64_t events_received;
	uint64_t stats[QH_STAT_MAX];	/* kernel counters, summed over CPUs */
	uint64_t orphan_events;		/* records of processes whose fork record was lost */
	uint64_t page_size;
	bool heap;			/* the malloc family was followed (--heap) */
	struct heapleaks *heap_leaks;	/* findings, or NULL */
	const struct leakclass *classes; /* the holds' results (per process), or NULL */
	const struct leaksupp *supp;	/* --suppressions with their counts, or NULL */
	uint32_t leak_kinds;		/* --leak-kinds */
	const char *hold;		/* run.probes.hold: how processes were held, or why not */
	bool fds;			/* fds and sockets were followed */
	struct fdleaks *fd_leaks;	/* fd and socket findings, or NULL */
	uint32_t top;			/* heap leaks shown in the summary */
	const char *note;		/* what the report cannot know, or NULL */
	const struct tracer_probes *probes; /* the variants the kernel got, or NULL */
	bool gate_failed;		/* set by session__report: a --fail-on class has findings */
	const struct procwatch *watch;	/* drivers, zombies, leftovers, or NULL */
	const struct cleanup *cleanup;	/* --cleanup's actions, or NULL */
	const struct testattr *tests;	/* attach: the tests; heap findings name theirs */
	uint32_t job;			/* monitor: only the processes of this job, 0: all */
	const struct proc *only;	/* monitor: only this process (a heap report), or NULL */
	const char *heap_unmatched;	/* monitor: why a process's heap was not followed, or
					 * NULL (the C library is not one probed) */
};

/* What the heap figures of a process rest on: "glibc", or why they are not known. */
const char *report__allocator(const struct proc *p, const struct run_info *ri);

/* Figures of one process as the report states them (kB, decoded exit status). */
struct proc_figures {
	int64_t rss_kb;
	int64_t peak_rss_kb;
	int64_t rss_growth_kb;
	int64_t heap_kb;
	int64_t mmap_anon_kb;
	int exit_code;	/* -1: none (running, or killed) */
	int signal;	/* 0: none */
	double lifetime_s; /* start to exit, or to now while running */
};

void report__figures(const struct proc *p, const struct run_info *ri, uint64_t now_boot_ns,
		     struct proc_figures *f);
uint64_t report__lost(const struct run_info *ri);
/* name of a kernel counter (enum qh_stat), as the report's lost_by_reason keys */
const char *report__stat_name(int idx);

/* The report as a JSON object (caller deletes), or NULL on allocation failure. */
cJSON *report__build(struct proctree *t, const struct run_info *ri);
/* The report as text (caller frees), or NULL on allocation failure. */
char *report__json(struct proctree *t, const struct run_info *ri);
/* Write a report object atomically (see util__write_file_atomic). */
int report__write_json(const char *path, const cJSON *root);
int report__write(const char *path, struct proctree *t, const struct run_info *ri);
void report__summary(FILE *out, struct proctree *t, const struct run_info *ri);

#endif
