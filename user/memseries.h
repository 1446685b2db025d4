/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Memory samples over time, per process, with bounded memory: each process keeps at most
 * max_points samples; when full, neighbours are merged two into one (the higher RSS wins, so
 * a peak is never downsampled away) and the pace halves. Fed by a run's monitoring samples
 * (outputs.c) or by an event log's `memory` records (memseries__read_log); read by html.c.
 */
#ifndef __QH_MEMSERIES_H
#define __QH_MEMSERIES_H

#include <stddef.h>
#include <stdint.h>

struct mem_sample {
	uint64_t t_ms;		/* Unix time, ms */
	uint64_t rss_kb;	/* file + anon + shmem */
	uint64_t file_kb, anon_kb, shmem_kb, swap_kb; /* by kind; all 0 when the record lacks them */
};

struct mem_proc {
	uint32_t pid;
	char comm[16];
	uint64_t peak_kb;	/* highest rss_kb seen */
	uint64_t seen;		/* samples added */
	uint32_t stride;	/* samples merged into each point kept */
	uint32_t pending;	/* samples merged into the point being filled */
	struct mem_sample *pts;
	size_t n, cap;
};

struct memseries;

/* @max_points per process: 4..65536 (rounded down to even). NULL when out of memory. */
struct memseries *memseries__new(uint32_t max_points);
void memseries__free(struct memseries *m);

/* One sample of @pid. 0 or -ENOMEM. Samples of a process come in time order. */
int memseries__add(struct memseries *m, uint32_t pid, const char *comm,
		   const struct mem_sample *s);
size_t memseries__count(const struct memseries *m);
/* The i-th process, in the order of their first samples, or NULL past the end. */
const struct mem_proc *memseries__get(const struct memseries *m, size_t i);
/* Samples added in all, and points kept in all. */
uint64_t memseries__samples(const struct memseries *m);
size_t memseries__points(const struct memseries *m);

/*
 * Every `memory` record of the event log @path (plain or gzip, streamed). 0, or -errno with
 * @why (what was read before the damage is kept).
 */
int memseries__read_log(struct memseries *m, const char *path, char *why, size_t len);

/* "2026-11-27T00:04:10.831Z" (the report's and the log's times) as Unix ms; 0 if not one. */
uint64_t memseries__parse_time(const char *s);

#endif
