/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * procwatch's own state, shared by its two halves only: procwatch.c (detection: drivers,
 * zombies, orphans, leftovers) and procwatch_report.c (rendering: the report's sections and
 * the terminal summary). Everyone else goes through procwatch.h.
 */
#ifndef __QH_PROCWATCH_PRIV_H
#define __QH_PROCWATCH_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "procwatch.h"

/* procwatch's state of one process, hung on proc->watch */
struct proc_watch {
	struct driver_inst *inst;
	uint32_t orig_ppid;	/* the parent it was born to */
	bool zombie_seen;
	bool orphan_seen;
	bool lifetime_seen;
	bool leftover;		/* listed in leftovers (once, with the first reason found) */
	bool pss_known;		/* sampled at least once */
	uint64_t pss_kb, uss_kb, peak_pss_kb;
	bool in_zombies;	/* a zombies[] entry points at its proc */
	bool in_orphans;	/* an orphans[] entry does */
	struct proc_watch *next_alloc, *prev_alloc;
};

struct procwatch {
	struct procwatch_opts o;
	procwatch_rss_fn rss;
	void *ctx;
	procwatch_pss_fn pss;
	void *pss_ctx;
	const struct proc *root;
	struct driver_inst **drivers;
	size_t ndrivers, cap_drivers;
	struct zombie *zombies;
	size_t nzombies, cap_zombies;
	struct orphan *orphans;
	size_t norphans, cap_orphans;
	struct leftover *leftovers;
	size_t nleftovers, cap_leftovers;
	struct alerts *alerts;
	struct proc **out;	/* what check and finish hand back */
	size_t nout, cap_out;
	struct proc_watch *states;
	uint64_t zombies_dropped;	/* the oldest findings procwatch__trim let go */
	uint64_t orphans_dropped;
	uint64_t next_check_ns;
	uint64_t peak_total_kb;		/* RSS summed, all trees */
	uint64_t peak_total_mem_kb;	/* PSS (RSS where unknown), all trees */
	uint64_t dev_shm_kb, peak_dev_shm_kb;
	uint64_t page_kb;
};


#endif
