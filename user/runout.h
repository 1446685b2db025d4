/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a session writes besides the summary: the event log (--events), the alerts, and at
 * the end the report's `alerts`, `event_log` and `verdict`, the JUnit XML and the Markdown
 * summary. Fed by the session; does not touch the kernel side.
 */
#ifndef __QH_RUNOUT_H
#define __QH_RUNOUT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "fdleaks.h"
#include "heapleaks.h"
#include "proctree.h"
#include "report.h"

struct runout;
struct alerts;

/*
 * Before anything starts: every output path of @o can be written (not a symlink, the
 * directory exists). 0, or -errno after a one-line error.
 */
int runout__preflight(const struct attach_opts *o);
/* Open the event log and the alerts. 0 or -errno (printed). */
int runout__open(struct runout **out, const struct attach_opts *o);
void runout__close(struct runout *r);

/* The alerts, for detectors to call alerts__check()/alerts__fire() on. */
struct alerts *runout__alerts(struct runout *r);

/* One ring buffer record, after the process model applied it. */
void runout__event(struct runout *r, struct proctree *t, const void *data, size_t size);
/* From the event loop: hooks reaped or timed out; true when a memory sample is due. */
bool runout__tick(struct runout *r, uint64_t now_mono_ns);
/*
 * A memory sample of one running process (logged); returns its RSS in kB. Then the tree's
 * total, for the memory_usage alert.
 */
uint64_t runout__memory_proc(struct runout *r, const struct proc *p, const struct qh_proc *cur,
			     uint64_t page_size);
void runout__memory_total(struct runout *r, uint64_t rss_kb, uint64_t nprocs);
/* A periodic heap check (all live blocks by call site): logged. */
void runout__heap_check(struct runout *r, struct heapleaks *h);
/* The heap findings at the end: logged, and memory_leak alerts. */
void runout__heap_findings(struct runout *r, struct heapleaks *h);
/*
 * Complete the report @root (alerts, event_log, verdict), close the event log, write the
 * JUnit and Markdown files; sets ri->gate_failed. 0 or -errno (printed).
 */
/* The fd and socket findings, into the event log. */
void runout__fd_findings(struct runout *r, struct fdleaks *f);
int runout__finish(struct runout *r, cJSON *root, struct run_info *ri);

#endif
