/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `qhtrace report FILE` and `qhtrace diff BASE CURRENT`: reading what qhtrace wrote. */
#ifndef __QH_REPORTCMD_H
#define __QH_REPORTCMD_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#define QH_REPORT_MAX_BYTES (512UL << 20) /* a summary report is read whole, up to this */

/* --filter: every condition given must hold (empty strings and 0 mean "any") */
struct row_filter {
	uint32_t pid;
	bool has_pid;
	char comm[64];
	char kind[32];
	int severity;		/* -1: any */
	bool severity_floor;	/* severity>=X rather than severity=X */
};

/* "pid=N", "comm=S", "kind=S", "severity=S", "severity>=S", or several joined by commas. */
int row_filter__parse(struct row_filter *f, const char *expr, char *why, size_t len);
bool row_filter__match(const struct row_filter *f, const cJSON *row);

/*
 * One page of FILE (an event log, streamed, or a summary report) as {file, type, page,
 * page_size, has_next, items[, error]}. 0, or -errno with @why (and *out holding the rows
 * before the damage, with "error").
 */
int report__page(const char *path, const struct row_filter *f, uint64_t page, uint64_t size,
		 cJSON **out, char *why, size_t len);
/* Compare two summary reports; max_pct < 0: no gate. The comparison (see `qhtrace diff`). */
cJSON *diff__compare(const cJSON *base, const cJSON *cur, double max_pct);

int cmd_report(int argc, char **argv);
int cmd_diff(int argc, char **argv);

#endif
