/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The monitor's memory budget (data.max_memory_mb) as a policy: from qhtrace's RSS
 * (selfmem.h), what the monitor must do with the state it keeps. Under 80% of the budget,
 * nothing; from 80%, fold: the detail of exited processes becomes per-job and per-group totals;
 * from 100%, drop: the oldest detail goes without a total, each drop counted and reported.
 * No state: the caller checks at each tick and acts until the verdict is ok again.
 */
#ifndef __QH_MEMBUDGET_H
#define __QH_MEMBUDGET_H

#include <stdint.h>

#define MEMBUDGET_FOLD_PCT 80

enum membudget_action {
	MEMBUDGET_OK,
	MEMBUDGET_FOLD,		/* from MEMBUDGET_FOLD_PCT of the budget */
	MEMBUDGET_DROP,		/* at the budget or over it */
};

struct membudget_verdict {
	enum membudget_action action;
	uint64_t budget_bytes;	/* 0: no budget (always ok) */
	uint64_t fold_bytes;	/* where folding starts */
	uint64_t excess_bytes;	/* RSS above fold_bytes: what folding and dropping should free */
	uint32_t used_pct;	/* RSS / budget, rounded down (over 100 when over budget) */
};

/*
 * The verdict for @rss bytes against @budget_mb MiB (0: no budget). 0, or -ENODATA when @rss
 * is 0 (selfmem__rss_bytes could not read it): the verdict is then ok, nothing known.
 */
int membudget__check(uint32_t budget_mb, uint64_t rss, struct membudget_verdict *v);
const char *membudget__action_str(enum membudget_action a);

#endif
