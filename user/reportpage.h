/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Reading what qhtrace wrote: a page of a summary report or an event log, filtered. */
#ifndef __QH_REPORTPAGE_H
#define __QH_REPORTPAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

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
bool row_filter__match(const struct row_filter *f, const struct cJSON *row);

/*
 * One page of FILE (an event log, streamed, or a summary report) as {file, type, page,
 * page_size, has_next, items[, error]}. 0, or -errno with @why (and *out holding the rows
 * before the damage, with "error").
 */
int report__page(const char *path, const struct row_filter *f, uint64_t page, uint64_t size,
		 struct cJSON **out, char *why, size_t len);

#endif
