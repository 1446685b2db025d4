/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Readers of /proc/PID: what the kernel says of a process that already exists. */
#ifndef __QH_PROCFS_H
#define __QH_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct procfs_stat {
	char comm[16];
	char state;		/* R, S, D, Z, X, ... */
	uint32_t ppid;
	uint32_t threads;
	uint64_t start_ns;	/* starttime, at clock-tick resolution, CLOCK_BOOTTIME ns */
	uint64_t rss_pages;
};

/* Parse the text of /proc/PID/stat (comm may hold spaces and parentheses). */
int procfs__parse_stat(const char *buf, struct procfs_stat *st);
int procfs__read_stat(pid_t pid, struct procfs_stat *st);
/* RSS by rss_stat member (file, anon, swap, shmem) from /proc/PID/status, in pages */
int procfs__read_rss(pid_t pid, unsigned long long pages[4]);
/*
 * /proc/PID/smaps_rollup, in kB: PSS charges each shared page to its sharers in equal parts,
 * USS (Private_Clean + Private_Dirty) is what only this process maps. The RSS of processes
 * that share pages (a browser's) summed counts those pages once per process.
 */
struct procfs_rollup {
	uint64_t rss_kb, pss_kb, uss_kb, swap_pss_kb;
};

/* Parse the text of smaps_rollup; -ENOENT when it has no Pss line (no mm: a zombie). */
int procfs__parse_rollup(const char *buf, struct procfs_rollup *r);
int procfs__read_rollup(pid_t pid, struct procfs_rollup *r);
/* readlink /proc/PID/exe; -errno on failure */
int procfs__exe(pid_t pid, char *buf, size_t len);
/* ns per clock tick, the resolution of start times read from /proc */
uint64_t procfs__tick_ns(void);
/* Same process? Start times compared at the resolution of /proc (one tick). */
int procfs__same_start(uint64_t a_ns, uint64_t b_ns);

#endif
