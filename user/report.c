// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "cleanup.h"
#include "fdleaks.h"
#include "heapleaks.h"
#include "leakclass.h"
#include "proctree.h"
#include "procwatch.h"
#include "report.h"
#include "syms.h"
#include "testattr.h"
#include "tracer.h"
#include "uprobe_off.h"
#include "fdtable.h"
#include "util.h"

const char *report__stat_name(int idx)
{
	static const char *const names[QH_STAT_MAX] = {
		[QH_STAT_RB_RESERVE_FAILED] = "ringbuf_full",
		[QH_STAT_PROCS_FULL] = "procs_map_full",
		[QH_STAT_MMS_FULL] = "mm_map_full",
		[QH_STAT_CALLS_FULL] = "mem_call_state_failed",
		[QH_STAT_ALLOCS_FULL] = "allocs_map_full",
		[QH_STAT_INHERITED_FULL] = "inherited_freed_map_full",
		[QH_STAT_HEAP_CALLS_FULL] = "heap_call_state_failed",
		[QH_STAT_FDS_FULL] = "fds_map_full",
		[QH_STAT_SOCKS_FULL] = "socks_map_full",
		[QH_STAT_HEAP_SWEEP_RACE] = "heap_sweep_raced",
		[QH_STAT_HEAP_UNPROBED] = "heap_calls_unprobed",
		[QH_STAT_FD_EVENTS] = "fd_syscalls",
		[QH_STAT_HEAP_FREED] = "heap_records_freed",
		[QH_STAT_HEAP_REUSED] = "heap_records_reused",
		[QH_STAT_STACK_LOST] = "stacks_lost",
		[QH_STAT_RSS_EVENTS] = "rss_events",
		[QH_STAT_SYSCALLS] = "memory_syscalls",
		[QH_STAT_HEAP_FREES_UNKNOWN] = "heap_frees_unknown",
	};

	return idx >= 0 && idx < QH_STAT_MAX ? names[idx] : "unknown";
}

uint64_t report__lost(const struct run_info *ri)
{
	uint64_t lost = 0;
	int i;

	for (i = 0; i < QH_STAT_LOST_MAX; i++)
		lost += ri->stats[i];
	return lost;
}

void report__figures(const struct proc *p, const struct run_info *ri, uint64_t now_boot_ns,
		     struct proc_figures *f)
{
	const struct qh_proc *s = &p->stats;
	int64_t kb = ri->page_size / 1024;
	int64_t rss = QH_RSS_TOTAL(s->rss_pages);
	uint64_t end = p->end_ns ? p->end_ns : now_boot_ns;

	f->rss_kb = rss * kb;
	f->peak_rss_kb = (int64_t)s->peak_rss_pages * kb;
	if (f->peak_rss_kb < f->rss_kb)
		f->peak_rss_kb = f->rss_kb;
	f->rss_growth_kb = (rss - (int64_t)s->base_rss_pages) * kb;
	f->heap_kb = s->heap_bytes / 1024;
	f->mmap_anon_kb = s->mmap_anon_bytes / 1024;
	f->exit_code = -1;
	f->signal = 0;
	if (p->has_exit) {
		if (WIFSIGNALED(p->exit_status))
			f->signal = WTERMSIG(p->exit_status);
		else
			f->exit_code = WEXITSTATUS(p->exit_status);
	}
	f->lifetime_s = end > p->start_ns ? (double)(end - p->start_ns) / 1e9 : 0;
}

/*
 * A file @p maps, other than a C library, that defines malloc: a replacement allocator
 * (jemalloc, tcmalloc, mimalloc; preloaded or linked in), whose calls never reach the probed
 * functions. NULL when there is none, or the mappings are unknown.
 */
static const char *malloc_elsewhere(const struct proc *p)
{
	const struct syms_map *m;
	uint64_t off, probe;
	char why[64];
	size_t i;

	for (i = 0; p->maps && (m = syms_maps__entry(p->maps, i)); i++) {
		const char *base = strrchr(m->path, '/') ? strrchr(m->path, '/') + 1 : m->path;

		if (!strncmp(base, "libc.so", 7) || !strncmp(base, "ld-linux", 8))
			continue;
		if (!uprobe_off__for_symbol(m->path, "malloc", &off, &probe, why, sizeof(why)))
			return m->path;
	}
	return NULL;
}

const char *report__allocator(const struct proc *p, const struct run_info *ri)
{
	static char buf[PATH_MAX + 64];
	const char *other;

	if (!ri->heap)
		return "not traced (run with --heap)";
	if (!(p->stats.flags & QH_PF_HEAP_HOOKED))
		return ri->heap_unmatched ? ri->heap_unmatched
					  : "not hooked: maps no probed C library (static binary, "
					    "or another libc)";
	/* a process that never allocated is glibc's all the same, with nothing outstanding */
	if (!p->stats.heap_allocs && !p->stats.heap_frees && (other = malloc_elsewhere(p))) {
		snprintf(buf, sizeof(buf), "not hooked: malloc is %s's (a replacement allocator)",
			 other);
		return buf;
	}
	return "glibc";
}

/* what the hold at exit (or the scan at the end) did for one process image */
static cJSON *heap_scan_json(const struct proc *p, const struct run_info *ri)
{
	const struct leakclass_proc *c = leakclass__find(ri->classes, p->pid, p->stats.heap_gen);
	cJSON *o;

	if (!c)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "classified", c->classified);
	if (!c->classified)
		cJSON_AddStringToObject(o, "reason", c->reason);
	cJSON_AddNumberToObject(o, "threads_held", c->threads);
	cJSON_AddNumberToObject(o, "pause_ms", c->pause_ms);
	cJSON_AddNumberToObject(o, "scan_ms", c->scan_ms);
	cJSON_AddNumberToObject(o, "blocks", c->n);
	cJSON_AddNumberToObject(o, "root_bytes", c->root_bytes);
	cJSON_AddNumberToObject(o, "heap_bytes", c->heap_bytes);
	cJSON_AddNumberToObject(o, "unreadable_bytes", c->unreadable_bytes);
	cJSON_AddBoolToObject(o, "arenas_as_roots", c->conservative);
	return o;
}

static cJSON *time_or_null(uint64_t boot_ns)
{
	char buf[40];

	if (!boot_ns)
		return cJSON_CreateNull();
	return cJSON_CreateString(util__rfc3339(util__boot_to_real_ns(boot_ns), buf, sizeof(buf)));
}

static cJSON *int_or_null(bool valid, double v)
{
	return valid ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/*
 * fds of a process: for one still running, as /proc showed them at the end; for one that
 * exited, what the kernel closed for it (read from its fd table as it exited).
 */
static cJSON *fds_json(const struct proc *p)
{
	cJSON *o = cJSON_CreateObject(), *by, *tcp;
	bool live = p->state == PROC_RUNNING && p->fd_scanned;
	const uint32_t *kinds = live ? p->fd_kind : p->stats.fd_exit_kind;
	uint32_t k;

	if (!o)
		return NULL;
	if (p->state == PROC_RUNNING && !p->fd_scanned)
		cJSON_AddNumberToObject(o, "open_at_end", p->stats.fd_open);
	else
		cJSON_AddNumberToObject(o, "open_at_end", live ? p->fd_now : p->stats.fd_exit_open);
	cJSON_AddBoolToObject(o, "closed_by_exit", p->state != PROC_RUNNING);
	/* of those, the ones it opened while traced (not 0-2): its open_at_exit findings */
	cJSON_AddItemToObject(o, "held_at_exit", int_or_null(p->state != PROC_RUNNING,
							     p->stats.fd_exit_leaked));
	cJSON_AddItemToObject(o, "held_at_exit_unreported",
			      int_or_null(p->state != PROC_RUNNING, p->stats.fd_exit_unsent));
	/* fds received over SCM_RIGHTS are not counted fd by fd: /proc may have seen more */
	cJSON_AddNumberToObject(o, "peak", p->fd_scanned && p->fd_now > p->stats.fd_peak ?
						   p->fd_now :
						   p->stats.fd_peak);
	cJSON_AddNumberToObject(o, "opened", p->stats.fd_opened);
	cJSON_AddNumberToObject(o, "closed", p->stats.fd_closed);
	by = cJSON_AddObjectToObject(o, "by_kind");
	for (k = 0; k < QH_FD_NR_KIND; k++)
		if (kinds[k])
			cJSON_AddNumberToObject(by, fd_kind__str(k), kinds[k]);
	/* reconciliation with /proc/PID/fd: only known for processes /proc was read for */
	cJSON_AddItemToObject(o, "not_seen_opened", int_or_null(p->fd_scanned, p->fd_untracked));
	cJSON_AddNumberToObject(o, "reconciled_closed", p->fd_stale);
	tcp = cJSON_AddObjectToObject(o, "tcp");
	cJSON_AddNumberToObject(tcp, "established", p->stats.tcp[QH_TCP_ESTABLISHED]);
	cJSON_AddNumberToObject(tcp, "close_wait", p->stats.tcp[QH_TCP_CLOSE_WAIT]);
	cJSON_AddNumberToObject(tcp, "listen", p->stats.tcp[QH_TCP_LISTEN]);
	cJSON_AddNumberToObject(tcp, "close_wait_peak", p->stats.tcp_close_wait_peak);
	return o;
}

static cJSON *proc_json(const struct proc *p, const struct run_info *ri, uint64_t now)
{
	cJSON *o = cJSON_CreateObject();
	struct proc_figures f;

	if (!o)
		return NULL;
	report__figures(p, ri, now, &f);
	cJSON_AddNumberToObject(o, "pid", p->pid);
	cJSON_AddNumberToObject(o, "ppid", p->ppid);
	cJSON_AddStringToObject(o, "comm", p->comm);
	if (p->exe)
		cJSON_AddStringToObject(o, "exe", p->exe);
	else
		cJSON_AddNullToObject(o, "exe");
	if (p->job) /* monitor: its CI job's id (the report's "job") */
		cJSON_AddNumberToObject(o, "job", p->job);
	cJSON_AddItemToObject(o, "start_time", time_or_null(p->start_ns));
	cJSON_AddItemToObject(o, "end_time", time_or_null(p->end_ns));
	cJSON_AddStringToObject(o, "state", proc_state__str(p->state));
	cJSON_AddItemToObject(o, "exit_code", int_or_null(f.exit_code >= 0, f.exit_code));
	cJSON_AddItemToObject(o, "signal", int_or_null(f.signal > 0, f.signal));
	cJSON_AddNumberToObject(o, "lifetime_s", f.lifetime_s);
	cJSON_AddNumberToObject(o, "peak_rss_kb", f.peak_rss_kb);
	cJSON_AddNumberToObject(o, "rss_kb", f.rss_kb);
	cJSON_AddNumberToObject(o, "rss_growth_kb", f.rss_growth_kb);
	cJSON_AddNumberToObject(o, "rss_file_kb",
				p->stats.rss_pages[MM_FILEPAGES] * (ri->page_size / 1024));
	cJSON_AddNumberToObject(o, "rss_anon_kb",
				p->stats.rss_pages[MM_ANONPAGES] * (ri->page_size / 1024));
	cJSON_AddNumberToObject(o, "rss_shmem_kb",
				p->stats.rss_pages[MM_SHMEMPAGES] * (ri->page_size / 1024));
	cJSON_AddNumberToObject(o, "swap_kb",
				p->stats.rss_pages[MM_SWAPENTS] * (ri->page_size / 1024));
	cJSON_AddNumberToObject(o, "heap_kb", f.heap_kb);
	cJSON_AddNumberToObject(o, "mmap_anon_kb", f.mmap_anon_kb);
	cJSON_AddNumberToObject(o, "mmap_file_kb", p->stats.mmap_file_bytes / 1024);
	cJSON_AddNumberToObject(o, "threads_peak", p->stats.threads_peak);
	cJSON_AddNumberToObject(o, "threads", p->state == PROC_RUNNING ? p->stats.threads : 0);
	if (ri->fds)
		cJSON_AddItemToObject(o, "fds", fds_json(p));
	else
		cJSON_AddNullToObject(o, "fds"); /* not followed: unknown, not none */
	if (procwatch__driver_of(p))
		cJSON_AddNumberToObject(o, "driver", procwatch__driver_of(p)->id);
	else
		cJSON_AddNullToObject(o, "driver");
	{
		uint64_t pss, uss, peak;
		bool known = procwatch__proc_pss(p, &pss, &uss, &peak);
		bool now = known && p->state == PROC_RUNNING;

		/* smaps_rollup, sampled for the processes of driver trees; unknown elsewhere */
		cJSON_AddItemToObject(o, "pss_kb", int_or_null(now, pss));
		cJSON_AddItemToObject(o, "uss_kb", int_or_null(now, uss));
		cJSON_AddItemToObject(o, "peak_pss_kb", int_or_null(known, peak));
	}
	cJSON_AddStringToObject(o, "allocator", report__allocator(p, ri));
	if (ri->heap && !strcmp(report__allocator(p, ri), "glibc")) {
		cJSON_AddNumberToObject(o, "heap_outstanding_bytes", p->stats.heap_live_bytes);
		cJSON_AddNumberToObject(o, "heap_outstanding_blocks", p->stats.heap_live_count);
		cJSON_AddNumberToObject(o, "heap_allocs", p->stats.heap_allocs);
		cJSON_AddNumberToObject(o, "heap_frees", p->stats.heap_frees);
		cJSON_AddNumberToObject(o, "heap_failed_allocs", p->stats.heap_failed);
		cJSON_AddItemToObject(o, "heap_scan", heap_scan_json(p, ri));
	} else {
		/* unknown is not zero */
		cJSON_AddNullToObject(o, "heap_outstanding_bytes");
		cJSON_AddNullToObject(o, "heap_outstanding_blocks");
	}
	return o;
}

static cJSON *frame_json(const struct heap_frame *f)
{
	cJSON *o = cJSON_CreateObject();
	char addr[24];

	snprintf(addr, sizeof(addr), "0x%lx", (unsigned long)f->addr);
	cJSON_AddStringToObject(o, "address", addr);
	if (f->symbol) {
		cJSON_AddStringToObject(o, "symbol", f->symbol);
		if (f->raw_symbol)
			cJSON_AddStringToObject(o, "raw_symbol", f->raw_symbol);
		cJSON_AddNumberToObject(o, "offset", f->offset);
	} else {
		cJSON_AddNullToObject(o, "symbol");
		cJSON_AddNullToObject(o, "offset");
	}
	if (f->module)
		cJSON_AddStringToObject(o, "module", f->module);
	else
		cJSON_AddNullToObject(o, "module");
	if (f->file)
		cJSON_AddStringToObject(o, "file", f->file);
	else
		cJSON_AddNullToObject(o, "file");
	cJSON_AddItemToObject(o, "line", int_or_null(f->line > 0, f->line));
	if (f->inlined)
		cJSON_AddBoolToObject(o, "inlined", true);
	return o;
}

static cJSON *heap_leaks_json(const struct run_info *ri)
{
	cJSON *arr = cJSON_CreateArray();
	struct heap_leak *l;
	size_t i, j;

	for (i = 0; (l = heapleaks__get(ri->heap_leaks, i)); i++) {
		cJSON *o = cJSON_CreateObject(), *stack;
		char buf[40];

		cJSON_AddNumberToObject(o, "pid", l->proc->pid);
		cJSON_AddStringToObject(o, "comm", l->proc->comm);
		cJSON_AddItemToObject(o, "start_time", time_or_null(l->proc->start_ns));
		cJSON_AddNumberToObject(o, "bytes", l->bytes);
		cJSON_AddNumberToObject(o, "count", l->count);
		cJSON_AddNumberToObject(o, "oldest_age_s", l->age_s);
		cJSON_AddNumberToObject(o, "growth_bytes_per_s", l->growth_bytes_per_s);
		cJSON_AddStringToObject(o, "severity", severity__str(l->severity));
		cJSON_AddStringToObject(o, "kind", leak_kind__name(l->kind));
		if (l->kind == LEAK_UNCLASSIFIED)
			cJSON_AddStringToObject(o, "reason", l->reason ? l->reason : "unknown");
		cJSON_AddBoolToObject(o, "counted", l->counted);
		if (l->runtime)
			cJSON_AddBoolToObject(o, "runtime_internal", true);
		cJSON_AddBoolToObject(o, "process_exited", l->proc->state != PROC_RUNNING);
		cJSON_AddBoolToObject(o, "inherited", l->inherited);
		if (ri->tests)
			cJSON_AddItemToObject(o, "test", testattr__name_json(ri->tests, l->test));
		cJSON_AddNumberToObject(o, "growing_checks", l->growing_checks);
		snprintf(buf, sizeof(buf), "0x%lx", (unsigned long)l->caller);
		cJSON_AddStringToObject(o, "caller", buf);
		stack = cJSON_AddArrayToObject(o, "stack");
		/* the unwinder could not finish it, or guessed part of it from frame pointers */
		cJSON_AddBoolToObject(o, "truncated", l->truncated);
		for (j = 0; j < l->nframes; j++)
			cJSON_AddItemToArray(stack, frame_json(&l->frames[j]));
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *bytes_blocks(uint64_t bytes, uint64_t blocks)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "bytes", bytes);
	cJSON_AddNumberToObject(o, "blocks", blocks);
	return o;
}

/* valgrind's LEAK SUMMARY: per class, the runtime's own apart, what suppressions took */
static cJSON *leak_summary_json(const struct run_info *ri)
{
	const struct heapleaks_totals *t = heapleaks__totals(ri->heap_leaks);
	cJSON *o = cJSON_CreateObject(), *rt, *kinds;
	uint64_t rb = 0, rn = 0;
	int k;

	if (!t)
		return o;
	for (k = 0; k < LEAK__KINDS; k++)
		cJSON_AddItemToObject(o, leak_kind__name(k), bytes_blocks(t->bytes[k], t->blocks[k]));
	rt = cJSON_AddObjectToObject(o, "runtime_internal");
	for (k = 0; k < LEAK__KINDS; k++) {
		rb += t->rt_bytes[k];
		rn += t->rt_blocks[k];
	}
	cJSON_AddNumberToObject(rt, "bytes", rb);
	cJSON_AddNumberToObject(rt, "blocks", rn);
	for (k = 0; k < LEAK__KINDS; k++)
		cJSON_AddItemToObject(rt, leak_kind__name(k),
				      bytes_blocks(t->rt_bytes[k], t->rt_blocks[k]));
	cJSON_AddItemToObject(o, "suppressed",
			      bytes_blocks(t->suppressed_bytes, t->suppressed_blocks));
	kinds = cJSON_AddArrayToObject(o, "leak_kinds");
	for (k = 0; k < LEAK__KINDS; k++)
		if (ri->leak_kinds & (1U << k))
			cJSON_AddItemToArray(kinds, cJSON_CreateString(leak_kind__name(k)));
	return o;
}

static cJSON *suppressions_json(const struct run_info *ri)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; ri->supp && i < ri->supp->n; i++) {
		const struct leaksupp_entry *e = &ri->supp->v[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "pattern", e->pattern);
		cJSON_AddStringToObject(o, "file", e->file);
		cJSON_AddNumberToObject(o, "line", e->line);
		cJSON_AddNumberToObject(o, "count", e->count);
		cJSON_AddNumberToObject(o, "bytes", e->bytes);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* leaks.fds (@sockets false) or leaks.sockets */
static cJSON *fd_leaks_json(const struct run_info *ri, bool sockets)
{
	cJSON *arr = cJSON_CreateArray();
	const struct fd_leak *l;
	size_t i;

	for (i = 0; (l = fdleaks__get(ri->fd_leaks, i)); i++) {
		cJSON *o;

		if (fd_leak__is_socket(l) != sockets)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "pid", l->proc->pid);
		cJSON_AddStringToObject(o, "comm", l->proc->comm);
		cJSON_AddItemToObject(o, "start_time", time_or_null(l->proc->start_ns));
		cJSON_AddStringToObject(o, "kind", fd_kind__str(l->kind));
		cJSON_AddStringToObject(o, "target", l->target);
		if (sockets)
			cJSON_AddStringToObject(o, "state", tcp_state__str(l->tcp_state));
		cJSON_AddNumberToObject(o, "count", l->count);
		cJSON_AddNumberToObject(o, "baseline", l->baseline);
		cJSON_AddNumberToObject(o, "growth_per_s", l->growth_per_s);
		cJSON_AddNumberToObject(o, "growing_checks", l->growing_checks);
		cJSON_AddStringToObject(o, "reason", l->reason);
		/* open_at_exit: some fds it held came in no record; count is what did */
		cJSON_AddBoolToObject(o, "incomplete", l->incomplete);
		cJSON_AddStringToObject(o, "severity", severity__str(l->severity));
		if (l->site[0])
			cJSON_AddStringToObject(o, "site", l->site);
		else
			cJSON_AddNullToObject(o, "site");
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

cJSON *report__build(struct proctree *t, const struct run_info *ri)
{
	cJSON *root = cJSON_CreateObject(), *run, *cmd, *ev, *lost_by, *procs;
	uint64_t now = util__now_ns(CLOCK_BOOTTIME), lost = report__lost(ri);
	struct proc *p;
	char buf[40];
	int i;

	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "schema", QH_REPORT_SCHEMA);
	cJSON_AddStringToObject(root, "version", QH_VERSION);

	run = cJSON_AddObjectToObject(root, "run");
	cJSON_AddStringToObject(run, "mode", ri->mode);
	cmd = cJSON_AddArrayToObject(run, "command");
	for (i = 0; i < ri->argc; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(ri->argv[i]));
	cJSON_AddStringToObject(run, "start_time",
				util__rfc3339(ri->start_real_ns, buf, sizeof(buf)));
	cJSON_AddNumberToObject(run, "duration_s", ri->duration_s);
	cJSON_AddItemToObject(run, "exit_code", int_or_null(ri->exit_code >= 0, ri->exit_code));
	cJSON_AddStringToObject(run, "kernel", ri->kernel);
	if (ri->probes) {
		cJSON *pr = cJSON_AddObjectToObject(run, "probes");
		const struct tracer_probes *tp = ri->probes;

		cJSON_AddStringToObject(pr, "exit", tp->exit);
		cJSON_AddStringToObject(pr, "rss", tp->rss);
		cJSON_AddStringToObject(pr, "memory", tp->memory);
		cJSON_AddItemToObject(pr, "heap", tp->heap ? cJSON_CreateString(tp->heap)
							   : cJSON_CreateNull());
		cJSON_AddItemToObject(pr, "fds", tp->fds ? cJSON_CreateString(tp->fds)
							 : cJSON_CreateNull());
		cJSON_AddItemToObject(pr, "hold", ri->hold ? cJSON_CreateString(ri->hold)
							   : cJSON_CreateNull());
	}
	if (ri->note)
		cJSON_AddStringToObject(run, "note", ri->note);

	ev = cJSON_AddObjectToObject(root, "events");
	cJSON_AddNumberToObject(ev, "received", ri->events_received);
	cJSON_AddNumberToObject(ev, "lost", lost);
	cJSON_AddBoolToObject(ev, "incomplete", lost > 0 || ri->orphan_events > 0);
	lost_by = cJSON_AddObjectToObject(ev, "lost_by_reason");
	for (i = 0; i < QH_STAT_LOST_MAX; i++)
		cJSON_AddNumberToObject(lost_by, report__stat_name(i), ri->stats[i]);
	cJSON_AddNumberToObject(ev, "unannounced_processes", ri->orphan_events);
	cJSON_AddNumberToObject(ev, "rss_updates", ri->stats[QH_STAT_RSS_EVENTS]);
	cJSON_AddNumberToObject(ev, "memory_syscalls", ri->stats[QH_STAT_SYSCALLS]);
	if (ri->heap) {
		cJSON_AddNumberToObject(ev, "heap_frees_unknown",
					ri->stats[QH_STAT_HEAP_FREES_UNKNOWN]);
		cJSON_AddNumberToObject(ev, "heap_stacks_lost", ri->stats[QH_STAT_STACK_LOST]);
	}

	if (ri->fds)
		cJSON_AddNumberToObject(ev, "fd_syscalls", ri->stats[QH_STAT_FD_EVENTS]);
	if (ri->heap_leaks || ri->fd_leaks) {
		cJSON *leaks = cJSON_AddObjectToObject(root, "leaks");

		if (ri->heap_leaks) {
			cJSON_AddItemToObject(leaks, "heap", heap_leaks_json(ri));
			cJSON_AddItemToObject(root, "leak_summary", leak_summary_json(ri));
			cJSON_AddItemToObject(root, "suppressions", suppressions_json(ri));
		}
		if (ri->fd_leaks && ri->fds) {
			cJSON_AddItemToObject(leaks, "fds", fd_leaks_json(ri, false));
			cJSON_AddItemToObject(leaks, "sockets", fd_leaks_json(ri, true));
		}
	}

	procwatch__add_json(ri->watch, root, now);
	cleanup__add_json(ri->cleanup, root);

	procs = cJSON_AddArrayToObject(root, "processes");
	for (p = proctree__first(t); p; p = p->next)
		if ((!ri->job || p->job == ri->job) && (!ri->only || p == ri->only))
			cJSON_AddItemToArray(procs, proc_json(p, ri, now));
	return root;
}

char *report__json(struct proctree *t, const struct run_info *ri)
{
	cJSON *root = report__build(t, ri);
	char *out;

	if (!root)
		return NULL;
	out = cJSON_Print(root);
	cJSON_Delete(root);
	return out;
}

int report__write_json(const char *path, const cJSON *root)
{
	char *text = cJSON_Print(root);
	size_t len;
	int err;

	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n'; /* cJSON's terminating NUL becomes the final newline */
	err = util__write_file_atomic(path, text, len + 1);
	free(text);
	return err;
}

int report__write(const char *path, struct proctree *t, const struct run_info *ri)
{
	cJSON *root = report__build(t, ri);
	int err;

	if (!root)
		return -ENOMEM;
	err = report__write_json(path, root);
	cJSON_Delete(root);
	return err;
}

static const char *human_kb(int64_t kb, char *buf, size_t len)
{
	const char *sign = kb < 0 ? "-" : "";
	uint64_t v = kb < 0 ? -kb : kb;

	if (v >= 1024 * 1024)
		snprintf(buf, len, "%s%.1fG", sign, v / (1024.0 * 1024));
	else if (v >= 1024)
		snprintf(buf, len, "%s%.1fM", sign, v / 1024.0);
	else
		snprintf(buf, len, "%s%luK", sign, (unsigned long)v);
	return buf;
}

static const char *human_secs(double s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "-");
	else if (s < 1)
		snprintf(buf, len, "%.1fms", s * 1e3);
	else if (s < 120)
		snprintf(buf, len, "%.2fs", s);
	else /* one rounded total: 180 s is 3m00s (not 2m00s), 179.6 s is 3m00s (not 2m60s) */
		snprintf(buf, len, "%lum%02lus", (unsigned long)(s + 0.5) / 60,
			 (unsigned long)(s + 0.5) % 60);
	return buf;
}

static const char *exit_str(const struct proc *p, const struct proc_figures *f, char *buf,
			    size_t len)
{
	if (p->state == PROC_RUNNING)
		snprintf(buf, len, "running");
	else if (f->signal)
		snprintf(buf, len, "SIG%s%s", sigabbrev_np(f->signal) ?: "?",
			 p->state == PROC_ZOMBIE ? " zombie" : "");
	else if (f->exit_code >= 0)
		snprintf(buf, len, "%d%s", f->exit_code, p->state == PROC_ZOMBIE ? " zombie" : "");
	else
		snprintf(buf, len, "?");
	return buf;
}

static void summary_row(FILE *out, const struct proc *p, const struct run_info *ri, uint64_t now)
{
	char a[32], b[32], c[32], d[32], comm[UTIL_ESC_LEN(sizeof(p->comm))];
	struct proc_figures f;

	report__figures(p, ri, now, &f);
	fprintf(out, "%8u %8u %-16s %10s %9s %10s %s\n", p->pid, p->ppid,
		util__esc(p->comm, comm, sizeof(comm)),
		human_secs(f.lifetime_s, a, sizeof(a)), human_kb(f.peak_rss_kb, b, sizeof(b)),
		human_kb(f.rss_growth_kb, c, sizeof(c)), exit_str(p, &f, d, sizeof(d)));
}

static int by_peak_desc(const void *a, const void *b)
{
	const struct proc *x = *(const struct proc *const *)a, *y = *(const struct proc *const *)b;

	if (x->stats.peak_rss_pages != y->stats.peak_rss_pages)
		return x->stats.peak_rss_pages < y->stats.peak_rss_pages ? 1 : -1;
	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static const char *human_bytes(uint64_t v, char *buf, size_t len)
{
	if (v < 1024)
		snprintf(buf, len, "%luB", (unsigned long)v);
	else if (v < 1024 * 1024)
		snprintf(buf, len, "%.1fK", v / 1024.0);
	else
		return human_kb(v / 1024, buf, len);
	return buf;
}

static void print_frames(FILE *out, const struct heap_leak *l)
{
	char e[3][1024];
	size_t j;

	for (j = 0; j < l->nframes && j < 8; j++) {
		const struct heap_frame *f = &l->frames[j];
		const char *mod = f->module ? strrchr(f->module, '/') : NULL;

		if (f->symbol && f->inlined)
			fprintf(out, "             %s (inlined)",
				util__esc(f->symbol, e[0], sizeof(e[0])));
		else if (f->symbol)
			fprintf(out, "             %s+0x%lx", util__esc(f->symbol, e[0], sizeof(e[0])),
				(unsigned long)f->offset);
		else
			fprintf(out, "             0x%lx", (unsigned long)f->addr);
		if (f->file)
			fprintf(out, " (%s:%u)",
				util__esc(strrchr(f->file, '/') ? strrchr(f->file, '/') + 1 : f->file,
					  e[1], sizeof(e[1])),
				f->line);
		fprintf(out, " [%s]\n",
			util__esc(mod ? mod + 1 : f->module ? f->module : "?", e[2], sizeof(e[2])));
	}
	if (l->truncated && j == l->nframes)
		fprintf(out, "             ... (stack truncated)\n");
}

/* valgrind's LEAK SUMMARY lines, and LeakSanitizer's "Suppressions used" */
static void leak_summary(FILE *out, const struct run_info *ri)
{
	static const char *const labels[LEAK__KINDS] = {
		"definitely lost", "indirectly lost", "possibly lost", "still reachable",
		"unclassified",
	};
	const struct heapleaks_totals *t = heapleaks__totals(ri->heap_leaks);
	uint64_t rb = 0, rn = 0;
	size_t i, used = 0;
	int k;

	if (!t)
		return;
	fprintf(out, "LEAK SUMMARY:\n");
	for (k = 0; k < LEAK__KINDS; k++)
		fprintf(out, "  %16s: %lu bytes in %lu blocks\n", labels[k],
			(unsigned long)t->bytes[k], (unsigned long)t->blocks[k]);
	fprintf(out, "  %16s: %lu bytes in %lu blocks\n", "suppressed",
		(unsigned long)t->suppressed_bytes, (unsigned long)t->suppressed_blocks);
	for (k = 0; k < LEAK__KINDS; k++) {
		rb += t->rt_bytes[k];
		rn += t->rt_blocks[k];
	}
	fprintf(out, "  %16s: %lu bytes in %lu blocks (the C library's, loader's and C++ "
		     "runtime's own%s)\n", "runtime internal", (unsigned long)rb, (unsigned long)rn,
		ri->heap_leaks && rn ? "; --show-runtime lists them" : "");
	for (i = 0; ri->supp && i < ri->supp->n; i++)
		used += ri->supp->v[i].count > 0;
	if (!used)
		return;
	fprintf(out, "Suppressions used:\n  %8s %10s %s\n", "count", "bytes", "template");
	for (i = 0; i < ri->supp->n; i++)
		if (ri->supp->v[i].count)
			fprintf(out, "  %8lu %10lu leak:%s\n", (unsigned long)ri->supp->v[i].count,
				(unsigned long)ri->supp->v[i].bytes, ri->supp->v[i].pattern);
}

static void heap_summary(FILE *out, const struct run_info *ri)
{
	const struct heapleaks_totals *t = heapleaks__totals(ri->heap_leaks);
	size_t n = heapleaks__count(ri->heap_leaks), i, shown = 0, leaks = t ? t->counted : n;
	char a[32], b[32], kinds[128], comm[UTIL_ESC_LEN(TASK_COMM_LEN)];
	struct heap_leak *l;

	leak_kinds__str(ri->leak_kinds, kinds, sizeof(kinds));
	fprintf(out, "heap: %zu leak%s (%s), %s in %lu blocks outstanding in all\n", leaks,
		leaks == 1 ? "" : "s", kinds,
		human_bytes(heapleaks__total_bytes(ri->heap_leaks), a, sizeof(a)),
		(unsigned long)heapleaks__total_blocks(ri->heap_leaks));
	for (i = 0; i < n && shown < ri->top; i++) {
		l = heapleaks__get(ri->heap_leaks, i);
		if (t && !l->counted)
			continue;
		shown++;
		fprintf(out, "  %-8s %9s in %lu block%s, %s, pid %u %s, oldest %s%s%s%s\n",
			severity__str(l->severity), human_bytes(l->bytes, a, sizeof(a)),
			(unsigned long)l->count, l->count == 1 ? "" : "s", leak_kind__name(l->kind),
			l->proc->pid, util__esc(l->proc->comm, comm, sizeof(comm)),
			human_secs(l->age_s, b, sizeof(b)),
			l->inherited ? ", inherited at fork" : "",
			l->kind == LEAK_UNCLASSIFIED && l->reason ? ": " : "",
			l->kind == LEAK_UNCLASSIFIED && l->reason ? l->reason : "");
		print_frames(out, l);
	}
	if (leaks > shown)
		fprintf(out, "  ... %zu more in the JSON report\n", leaks - shown);
	leak_summary(out, ri);
}

struct fd_group {
	const struct fd_leak *first;
	size_t findings, procs;
	uint64_t fds;
	enum severity worst;
};

static bool fd_same_group(const struct fd_leak *a, const struct fd_leak *b, bool socket)
{
	return !strcmp(a->proc->comm, b->proc->comm) && !strcmp(a->reason, b->reason) &&
	       (socket ? a->tcp_state == b->tcp_state : a->kind == b->kind);
}

static int by_fd_group(const void *x, const void *y)
{
	const struct fd_group *a = x, *b = y;

	if (a->worst != b->worst)
		return a->worst < b->worst ? 1 : -1;
	return a->fds < b->fds ? 1 : a->fds > b->fds ? -1 : 0;
}

/*
 * fd and socket findings: each one when they are few; else grouped by command, kind (or
 * TCP state) and reason, the worst first, capped, so a browser's hundred eventfds are a row
 */
static void fd_summary(FILE *out, const struct run_info *ri)
{
	size_t cap = ri->top < QH_SUMMARY_FD_ROWS ? ri->top : QH_SUMMARY_FD_ROWS;
	const struct fd_leak *l;
	char e[3][1024];
	int pass;

	for (pass = 0; pass < 2; pass++) {
		struct fd_group *g;
		size_t i, j, k, n = 0, ng = 0, shown = 0;

		for (i = 0; (l = fdleaks__get(ri->fd_leaks, i)); i++)
			n += fd_leak__is_socket(l) == pass;
		if (!n)
			continue;
		fprintf(out, "\n%s leaks: %zu\n", pass ? "socket" : "fd", n);
		if (n <= cap) {
			fprintf(out, "%8s %-16s %-8s %6s %-10s %s\n", "PID", "COMM", "SEVERITY",
				"COUNT", pass ? "STATE" : "KIND", "TARGET (why, opened by)");
			for (i = 0; (l = fdleaks__get(ri->fd_leaks, i)); i++) {
				if (fd_leak__is_socket(l) != pass)
					continue;
				fprintf(out, "%8u %-16s %-8s %6lu %-10s %s (%s", l->proc->pid,
					util__esc(l->proc->comm, e[0], sizeof(e[0])),
					severity__str(l->severity), (unsigned long)l->count,
					pass ? tcp_state__str(l->tcp_state) : fd_kind__str(l->kind),
					util__esc(l->target, e[1], sizeof(e[1])), l->reason);
				if (!strcmp(l->reason, "growing"))
					fprintf(out, " from %lu, +%.2f/s", (unsigned long)l->baseline,
						l->growth_per_s);
				fprintf(out, "%s%s%s)\n", l->site[0] ? ", " : "",
					util__esc(l->site, e[2], sizeof(e[2])),
					l->incomplete ? ", incomplete: some fds not reported" : "");
			}
			continue;
		}
		g = calloc(n, sizeof(*g));
		if (!g)
			continue;
		for (i = 0; (l = fdleaks__get(ri->fd_leaks, i)); i++) {
			if (fd_leak__is_socket(l) != pass)
				continue;
			for (j = 0; j < ng; j++)
				if (fd_same_group(g[j].first, l, pass))
					break;
			if (j == ng)
				g[ng++].first = l;
			/* a process counts once per group, however many findings it has in it */
			for (k = 0; k < i; k++) {
				const struct fd_leak *m = fdleaks__get(ri->fd_leaks, k);

				if (fd_leak__is_socket(m) == pass && m->proc == l->proc &&
				    fd_same_group(m, l, pass))
					break;
			}
			g[j].procs += k == i;
			g[j].findings++;
			g[j].fds += l->count;
			if (l->severity > g[j].worst)
				g[j].worst = l->severity;
		}
		qsort(g, ng, sizeof(*g), by_fd_group);
		fprintf(out, "%-16s %-8s %5s %6s %-11s %-12s %s\n", "COMM", "WORST", "PROCS", "FDS",
			pass ? "STATE" : "KIND", "WHY", "E.G. TARGET");
		for (i = 0; i < ng && shown < cap; i++, shown++)
			fprintf(out, "%-16s %-8s %5zu %6lu %-11s %-12s %s\n",
				util__esc(g[i].first->proc->comm, e[0], sizeof(e[0])),
				severity__str(g[i].worst), g[i].procs, (unsigned long)g[i].fds,
				pass ? tcp_state__str(g[i].first->tcp_state) :
				       fd_kind__str(g[i].first->kind),
				g[i].first->reason, util__esc(g[i].first->target, e[1], sizeof(e[1])));
		if (shown < ng)
			fprintf(out, "%8s and %zu more groups (see report)\n", "...", ng - shown);
		free(g);
	}
}

/* The cleanup's totals, and the actions that failed (the others are with their leftovers) */
static void cleanup_summary(FILE *out, const struct cleanup *c)
{
	const struct cleanup_action *a;
	uint32_t att, ok, bad;
	size_t n = cleanup__actions(c, &a), i, shown = 0;
	char comm[UTIL_ESC_LEN(sizeof(a->comm))];

	if (!c)
		return;
	cleanup__counts(c, &att, &ok, &bad);
	fprintf(out, "cleanup: %u attempted, %u verified gone, %u failed\n", att, ok, bad);
	for (i = 0; i < n; i++) {
		if (a[i].verified)
			continue;
		if (shown++ == QH_SUMMARY_GROUP_ROWS)
			continue;
		fprintf(out, "  pid %u %s: %s%s, %u signal%s, NOT verified%s%s\n", a[i].pid,
			util__esc(a[i].comm, comm, sizeof(comm)), a[i].signal ? "SIG" : "no signal",
			a[i].signal ? sigabbrev_np(a[i].signal) : "", a[i].attempts,
			a[i].attempts == 1 ? "" : "s", a[i].error[0] ? " -- " : "", a[i].error);
	}
	if (shown > QH_SUMMARY_GROUP_ROWS)
		fprintf(out, "  and %zu more failed (see report)\n", shown - QH_SUMMARY_GROUP_ROWS);
}

struct cmd_group {
	const struct proc *first, *largest;
	size_t n, running, failed;
	double longest_s;
};

static int by_group_peak_desc(const void *a, const void *b)
{
	const struct cmd_group *x = a, *y = b;

	return by_peak_desc(&x->largest, &y->largest);
}

/*
 * A long run's processes grouped by command (comm), largest peak RSS first, so a test
 * runner shows beside the dozens of browser processes it started.
 */
static void grouped_rows(FILE *out, struct proc **all, size_t n, const struct run_info *ri,
			 uint64_t now)
{
	struct cmd_group *g = calloc(n, sizeof(*g));
	size_t ng = 0, i, j;
	char a[32], b[32], c[64], comm[UTIL_ESC_LEN(TASK_COMM_LEN)];

	if (!g)
		return;
	for (i = 0; i < n; i++) {
		struct proc_figures f;

		for (j = 0; j < ng; j++)
			if (!strcmp(g[j].first->comm, all[i]->comm))
				break;
		if (j == ng)
			g[ng++].first = g[j].largest = all[i];
		report__figures(all[i], ri, now, &f);
		g[j].n++;
		g[j].running += all[i]->state == PROC_RUNNING;
		g[j].failed += f.signal || f.exit_code > 0;
		if (f.lifetime_s > g[j].longest_s)
			g[j].longest_s = f.lifetime_s;
		if (by_peak_desc(&all[i], &g[j].largest) < 0)
			g[j].largest = all[i];
	}
	qsort(g, ng, sizeof(*g), by_group_peak_desc);
	fprintf(out, "%6s %-16s %10s %9s %s\n", "PROCS", "COMM", "LONGEST", "PEAK RSS",
		"EXIT (PEAK RSS: the largest one)");
	for (i = 0; i < ng && i < QH_SUMMARY_GROUP_ROWS; i++) {
		struct proc_figures f;

		report__figures(g[i].largest, ri, now, &f);
		if (g[i].running && g[i].failed)
			snprintf(c, sizeof(c), "%zu running, %zu failed", g[i].running,
				 g[i].failed);
		else if (g[i].running || g[i].failed)
			snprintf(c, sizeof(c), "%zu %s", g[i].running ?: g[i].failed,
				 g[i].running ? "running" : "failed");
		else
			snprintf(c, sizeof(c), "exited 0");
		fprintf(out, "%6zu %-16s %10s %9s %s\n", g[i].n,
			util__esc(g[i].first->comm, comm, sizeof(comm)),
			human_secs(g[i].longest_s, a, sizeof(a)),
			human_kb(f.peak_rss_kb, b, sizeof(b)), c);
	}
	if (ng > QH_SUMMARY_GROUP_ROWS) {
		size_t rest = 0;

		for (i = QH_SUMMARY_GROUP_ROWS; i < ng; i++)
			rest += g[i].n;
		fprintf(out, "%6zu and %zu more commands, smaller (see report)\n", rest,
			ng - QH_SUMMARY_GROUP_ROWS);
	}
	free(g);
}

void report__summary(FILE *out, struct proctree *t, const struct run_info *ri)
{
	uint64_t now = util__now_ns(CLOCK_BOOTTIME), lost = report__lost(ri);
	size_t n = proctree__count(t), i;
	struct proc *p, **top = NULL;
	const char *sep = "";
	int k;

	fprintf(out, "\nqhtrace: %zu process%s traced in %.2fs\n", n, n == 1 ? "" : "es",
		ri->duration_s);
	/* a long run: its processes by command; the JSON report has them all */
	if (n > QH_SUMMARY_MAX_ROWS)
		top = calloc(n, sizeof(*top));
	if (top) {
		for (i = 0, p = proctree__first(t); p; p = p->next)
			top[i++] = p;
		grouped_rows(out, top, n, ri, now);
		free(top);
	} else {
		fprintf(out, "%8s %8s %-16s %10s %9s %10s %s\n", "PID", "PPID", "COMM",
			"LIFETIME", "PEAK RSS", "RSS GROWTH", "EXIT");
		for (p = proctree__first(t); p; p = p->next)
			summary_row(out, p, ri, now);
	}
	if (ri->heap_leaks)
		heap_summary(out, ri);
	if (ri->fd_leaks && ri->fds)
		fd_summary(out, ri);
	procwatch__summary(out, ri->watch, ri->cleanup, ri->tests, now);
	cleanup_summary(out, ri->cleanup);
	fprintf(out, "events: %lu received, %lu lost", (unsigned long)ri->events_received,
		(unsigned long)lost);
	if (lost) {
		fprintf(out, " (");
		for (k = 0; k < QH_STAT_LOST_MAX; k++)
			if (ri->stats[k]) {
				fprintf(out, "%s%s %lu", sep, report__stat_name(k),
					(unsigned long)ri->stats[k]);
				sep = ", ";
			}
		fprintf(out, ") -- the report is incomplete");
	}
	/* the ring buffer carries lifecycle records only: the malloc family is counted in the
	 * kernel, and `leaks -p` of a process that forks nothing receives no record at all */
	if (ri->heap) {
		uint64_t allocs = 0, frees = 0;

		for (p = proctree__first(t); p; p = p->next) {
			allocs += p->stats.heap_allocs;
			frees += p->stats.heap_frees;
		}
		fprintf(out, "; heap calls counted in the kernel: %lu allocations, %lu frees",
			(unsigned long)allocs, (unsigned long)frees);
	}
	fprintf(out, "\n");
}
