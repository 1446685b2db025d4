/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A run's outputs besides the summary: the event log (--events), the alerts and their hooks,
 * and at the end the report's `alerts`, `event_log` and `verdict` (the --fail-on gate), the
 * JUnit XML and the Markdown summary. Fed by the session; does not touch the kernel side.
 */
#ifndef __QH_OUTPUTS_H
#define __QH_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alerts;
struct attach_opts;
struct evlog_rotation;
struct qh_settings;
struct cJSON;
struct fdleaks;
struct heapleaks;
struct outputs;
struct proc;
struct proctree;
struct qh_proc;
struct run_info;

/*
 * Before anything starts: every output path of @o can be written (not a symlink, the
 * directory exists). 0, or -errno after a one-line error.
 */
int outputs__preflight(const struct attach_opts *o);
/* The settings' event log rotation (data.log_*), as the writer takes it. */
void outputs__log_rotation(const struct qh_settings *s, struct evlog_rotation *rot);
/* Open the event log and the alerts. 0 or -errno (printed). */
int outputs__open(struct outputs **out, const struct attach_opts *o);
void outputs__close(struct outputs *r);
/*
 * The settings changed (a reload wrote the new ones into the options' settings, which the
 * outputs read as they go): the event log's rotation limits are applied from now on.
 */
void outputs__settings_changed(struct outputs *r);

/* The alerts, for detectors to call alerts__check()/alerts__fire() on. */
struct alerts *outputs__alerts(struct outputs *r);

/* One ring buffer record, after the process model applied it. */
void outputs__event(struct outputs *r, struct proctree *t, const void *data, size_t size);
struct procwatch;
/* The event log's driver_start and driver_end records, for the trees @w found since. */
void outputs__drivers(struct outputs *r, const struct procwatch *w);
/* From the event loop: hooks reaped or timed out; true when a memory sample is due. */
bool outputs__tick(struct outputs *r, uint64_t now_mono_ns);
/*
 * A memory sample of one running process (logged); returns its RSS in kB. Then the tree's
 * total, for the memory_usage alert.
 */
uint64_t outputs__memory_proc(struct outputs *r, const struct proc *p, const struct qh_proc *cur,
			     uint64_t page_size);
void outputs__memory_total(struct outputs *r, uint64_t rss_kb, uint64_t nprocs);
/* A periodic heap check (all live blocks by call site): logged. */
void outputs__heap_check(struct outputs *r, struct heapleaks *h);
/* The heap findings at the end: logged, and memory_leak alerts. */
void outputs__heap_findings(struct outputs *r, struct heapleaks *h);
/* The fd and socket findings, into the event log. */
void outputs__fd_findings(struct outputs *r, struct fdleaks *f);
/*
 * Complete the report @root (alerts, event_log, verdict), close the event log, write the
 * JUnit and Markdown files; sets ri->gate_failed. 0 or -errno (printed).
 */
int outputs__finish(struct outputs *r, struct cJSON *root, struct run_info *ri);

#endif
