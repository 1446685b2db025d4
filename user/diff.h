/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What grew between two summary reports: peak RSS per command name, heap leaks per stack,
 * fds and leftovers per command name, driver trees per kind.
 */
#ifndef __QH_DIFF_H
#define __QH_DIFF_H

struct cJSON;

/* peak RSS changes below this are noise, whatever their percentage */
#define DIFF_MIN_KB 1024

/*
 * Compare two summary reports: {commands, heap_leaks, fds, leftovers, drivers, regressions};
 * max_pct < 0: no gate (no regressions listed). NULL when out of memory.
 */
struct cJSON *diff__compare(const struct cJSON *base, const struct cJSON *cur, double max_pct);

#endif
