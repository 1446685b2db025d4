// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* procwatch's findings rendered: the report's sections and the terminal summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>

#include "cleanup.h"
#include "procwatch.h"
#include "procwatch_priv.h"
#include "testattr.h"
#include "util.h"

/* --- the report ------------------------------------------------------------------------- */

static cJSON *time_json(uint64_t boot_ns)
{
	char buf[40];

	if (!boot_ns)
		return cJSON_CreateNull();
	return cJSON_CreateString(util__rfc3339(util__boot_to_real_ns(boot_ns), buf, sizeof(buf)));
}

static cJSON *driver_id_json(const struct driver_inst *d)
{
	return d ? cJSON_CreateNumber(d->id) : cJSON_CreateNull();
}

static double secs(uint64_t from, uint64_t to)
{
	return to > from ? (to - from) / 1e9 : 0;
}

/* How many processes of @d's tree are leftovers */
static size_t left_behind(const struct procwatch *w, const struct driver_inst *d)
{
	size_t i, n = 0;

	for (i = 0; i < w->nleftovers; i++)
		n += w->leftovers[i].driver == d;
	return n;
}

static const char *driver_verdict(const struct procwatch *w, const struct driver_inst *d,
				  char *buf, size_t len)
{
	size_t left = left_behind(w, d);
	int n = 0;

	buf[0] = '\0';
	if (left)
		n = snprintf(buf, len, "left %zu process%s", left, left == 1 ? "" : "es");
	if (d->alerted && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - n, "%sover %u MiB", n ? ", " : "",
			 w->o.memory_threshold_mb);
	if (!buf[0])
		snprintf(buf, len, "%s", !d->end_ns ? "running" : "clean");
	return buf;
}

static cJSON *driver_json(const struct procwatch *w, const struct driver_inst *d, uint64_t now)
{
	cJSON *o = cJSON_CreateObject(), *a;
	const struct proc *dp = d->driver;
	char buf[96];
	size_t i;

	cJSON_AddNumberToObject(o, "id", d->id);
	cJSON_AddStringToObject(o, "kind", d->kind);
	cJSON_AddNumberToObject(o, "pid", dp->pid);
	cJSON_AddStringToObject(o, "comm", dp->comm);
	cJSON_AddItemToObject(o, "start_time", time_json(d->start_ns));
	cJSON_AddItemToObject(o, "end_time", time_json(d->end_ns));
	cJSON_AddNumberToObject(o, "lifetime_s", secs(d->start_ns, d->end_ns ? d->end_ns : now));
	if (dp->has_exit && WIFEXITED(dp->exit_status)) {
		cJSON_AddNumberToObject(o, "exit_code", WEXITSTATUS(dp->exit_status));
		cJSON_AddNullToObject(o, "signal");
	} else if (dp->has_exit) {
		cJSON_AddNullToObject(o, "exit_code");
		cJSON_AddNumberToObject(o, "signal", WTERMSIG(dp->exit_status));
	} else {
		cJSON_AddNullToObject(o, "exit_code");
		cJSON_AddNullToObject(o, "signal");
	}
	a = cJSON_AddArrayToObject(o, "pids");
	for (i = 0; i < d->nprocs; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(d->procs[i]->pid));
	cJSON_AddNumberToObject(o, "process_count", d->nprocs);
	/* the browser processes of the tree (webdriver.browser_patterns) */
	a = cJSON_AddArrayToObject(o, "browser_pids");
	for (i = 0; i < d->nprocs; i++)
		if (procwatch__is_browser(w, d->procs[i]))
			cJSON_AddItemToArray(a, cJSON_CreateNumber(d->procs[i]->pid));
	cJSON_AddNumberToObject(o, "alive_count", d->alive);
	cJSON_AddNumberToObject(o, "peak_alive_count", d->peak_alive);
	/* memory_kb: RSS summed (a page shared by N processes counted N times); pss_kb:
	 * smaps_rollup's PSS summed (counted once in all); the alert and the verdict go by
	 * memory_basis */
	cJSON_AddStringToObject(o, "memory_basis", d->pss_known ? "pss" : "rss");
	cJSON_AddNumberToObject(o, "memory_kb", d->rss_kb);
	cJSON_AddNumberToObject(o, "peak_memory_kb", d->peak_rss_kb);
	cJSON_AddItemToObject(o, "pss_kb", d->pss_known ? cJSON_CreateNumber(d->pss_kb)
							  : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "peak_pss_kb", d->pss_known ? cJSON_CreateNumber(d->peak_pss_kb)
							       : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "uss_kb", d->pss_known ? cJSON_CreateNumber(d->uss_kb)
							  : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "peak_uss_kb", d->pss_known ? cJSON_CreateNumber(d->peak_uss_kb)
							       : cJSON_CreateNull());
	cJSON_AddItemToObject(o, "peak_time", time_json(d->peak_ns));
	cJSON_AddNumberToObject(o, "shmem_kb", d->shmem_kb);
	cJSON_AddNumberToObject(o, "peak_shmem_kb", d->peak_shmem_kb);
	cJSON_AddNumberToObject(o, "dev_shm_kb", d->dev_shm_kb);
	cJSON_AddNumberToObject(o, "peak_dev_shm_kb", d->peak_dev_shm_kb);
	cJSON_AddBoolToObject(o, "ended_cleanly", d->end_ns && d->checked && !d->nsurvivors);
	cJSON_AddNumberToObject(o, "left_behind", left_behind(w, d));
	cJSON_AddBoolToObject(o, "memory_alert", d->alerted);
	cJSON_AddStringToObject(o, "verdict", driver_verdict(w, d, buf, sizeof(buf)));
	a = cJSON_AddArrayToObject(o, "survivors");
	for (i = 0; i < d->nsurvivors; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(d->survivors[i]->pid));
	a = cJSON_AddArrayToObject(o, "memory_timeline");
	for (i = 0; i < d->nsamples; i++) {
		cJSON *s = cJSON_CreateObject();

		cJSON_AddNumberToObject(s, "t_s", secs(d->start_ns, d->timeline[i].ts_ns));
		cJSON_AddNumberToObject(s, "memory_kb", d->timeline[i].rss_kb);
		if (d->pss_known)
			cJSON_AddNumberToObject(s, "pss_kb", d->timeline[i].pss_kb);
		cJSON_AddItemToArray(a, s);
	}
	return o;
}

void procwatch__add_json(const struct procwatch *w, cJSON *root, uint64_t now)
{
	cJSON *a, *o;
	uint64_t total = 0;
	uint32_t active = 0;
	size_t i;

	if (!w)
		return;
	a = cJSON_AddArrayToObject(root, "drivers");
	for (i = 0; i < w->ndrivers; i++) {
		cJSON_AddItemToArray(a, driver_json(w, w->drivers[i], now));
		total += w->drivers[i]->rss_kb;
		active += !w->drivers[i]->end_ns;
	}
	o = cJSON_AddObjectToObject(root, "driver_totals");
	cJSON_AddNumberToObject(o, "instances", w->ndrivers);
	cJSON_AddNumberToObject(o, "active", active);
	cJSON_AddNumberToObject(o, "memory_kb", total);
	cJSON_AddNumberToObject(o, "peak_memory_kb", w->peak_total_kb);
	cJSON_AddNumberToObject(o, "peak_pss_kb", w->peak_total_mem_kb);
	cJSON_AddNumberToObject(o, "dev_shm_kb", w->dev_shm_kb);
	cJSON_AddNumberToObject(o, "peak_dev_shm_kb", w->peak_dev_shm_kb);

	a = cJSON_AddArrayToObject(root, "zombies");
	for (i = 0; i < w->nzombies; i++) {
		const struct zombie *z = &w->zombies[i];

		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "pid", z->p->pid);
		cJSON_AddStringToObject(o, "comm", z->p->comm);
		cJSON_AddItemToObject(o, "start_time", time_json(z->p->start_ns));
		cJSON_AddNumberToObject(o, "parent_pid", z->parent_pid);
		cJSON_AddStringToObject(o, "parent_comm", z->parent_comm);
		cJSON_AddNumberToObject(o, "zombie_for_s", zombie__duration_s(z, now));
		cJSON_AddBoolToObject(o, "reaped", z->p->state == PROC_REAPED);
		cJSON_AddItemToObject(o, "driver", driver_id_json(procwatch__driver_of(z->p)));
		cJSON_AddItemToArray(a, o);
	}
	a = cJSON_AddArrayToObject(root, "orphans");
	for (i = 0; i < w->norphans; i++) {
		const struct orphan *r = &w->orphans[i];

		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "pid", r->p->pid);
		cJSON_AddStringToObject(o, "comm", r->p->comm);
		cJSON_AddNumberToObject(o, "old_ppid", r->old_ppid);
		cJSON_AddNumberToObject(o, "new_ppid", r->new_ppid);
		cJSON_AddStringToObject(o, "new_parent_comm", r->new_parent_comm);
		cJSON_AddItemToObject(o, "time", time_json(r->ts_ns));
		cJSON_AddItemToObject(o, "driver", driver_id_json(procwatch__driver_of(r->p)));
		cJSON_AddItemToArray(a, o);
	}
	a = cJSON_AddArrayToObject(root, "leftovers");
	for (i = 0; i < w->nleftovers; i++) {
		const struct leftover *l = &w->leftovers[i];

		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "pid", l->p->pid);
		cJSON_AddStringToObject(o, "comm", l->p->comm);
		cJSON_AddItemToObject(o, "start_time", time_json(l->p->start_ns));
		cJSON_AddStringToObject(o, "reason", leftover_reason__str(l->reason));
		cJSON_AddItemToObject(o, "driver", driver_id_json(l->driver));
		cJSON_AddNumberToObject(o, "age_s", secs(l->p->start_ns, l->ts_ns));
		cJSON_AddItemToArray(a, o);
	}
}

/* --- the terminal summary --------------------------------------------------------------- */

static const char *kb_str(uint64_t kb, char *buf, size_t len)
{
	if (kb >= 1024 * 1024)
		snprintf(buf, len, "%.1fG", kb / (1024.0 * 1024));
	else if (kb >= 1024)
		snprintf(buf, len, "%.1fM", kb / 1024.0);
	else
		snprintf(buf, len, "%luK", (unsigned long)kb);
	return buf;
}

/* each list of the summary shows this many rows, then "and N more (see report)" */
#define SUMMARY_ROWS 8

static void and_more(FILE *out, size_t n, const char *what)
{
	if (n)
		fprintf(out, "  and %zu more %s (see report)\n", n, what);
}

/* "chromium x4, chrome_crashpad x1": the names of @procs, counted, in order of first seen */
static void names_counted(FILE *out, struct proc *const *procs, size_t n)
{
	size_t i, j, shown = 0;

	for (i = 0; i < n; i++) {
		size_t count = 0;

		for (j = 0; j < i; j++)
			if (!strcmp(procs[j]->comm, procs[i]->comm))
				break;
		if (j < i)
			continue;
		for (j = i; j < n; j++)
			count += !strcmp(procs[j]->comm, procs[i]->comm);
		if (shown++ == 4) {
			fprintf(out, ", ...");
			break;
		}
		char e[UTIL_ESC_LEN(TASK_COMM_LEN)];

		fprintf(out, "%s%s x%zu", shown > 1 ? ", " : "",
			util__esc(procs[i]->comm, e, sizeof(e)), count);
	}
}

/* One line: how the cleanup went for @procs (NULL: no cleanup ran) */
static void cleanup_result(FILE *out, const struct cleanup *c, struct proc *const *procs,
			   size_t n)
{
	size_t i, gone = 0, failed = 0, none = 0;

	if (!c) {
		fprintf(out, "; not cleaned up (--cleanup)");
		return;
	}
	for (i = 0; i < n; i++) {
		const struct cleanup_action *a = cleanup__find(c, procs[i]->pid, procs[i]->start_ns);

		if (!a)
			none++;
		else if (a->verified)
			gone++;
		else
			failed++;
	}
	fprintf(out, "; cleanup: %zu verified gone", gone);
	if (failed)
		fprintf(out, ", %zu NOT gone", failed);
	if (none)
		fprintf(out, ", %zu not attempted", none);
}

/* The leftovers, one group per driver tree and one for those of no tree */
static void leftovers_summary(FILE *out, const struct procwatch *w, const struct cleanup *c)
{
	struct proc **procs = calloc(w->nleftovers ? w->nleftovers : 1, sizeof(*procs));
	char e[UTIL_ESC_LEN(TASK_COMM_LEN)];
	uint32_t reasons;
	size_t g, i, n, groups = 0;

	if (!w->nleftovers || !procs) {
		free(procs);
		return;
	}
	fprintf(out, "leftovers: %zu process%s still running when they should have been gone\n",
		w->nleftovers, w->nleftovers == 1 ? "" : "es");
	/* group 0: no driver tree; g: driver g */
	for (g = 0; g <= w->ndrivers; g++) {
		const struct driver_inst *d = g ? w->drivers[g - 1] : NULL;

		for (i = 0, n = 0, reasons = 0; i < w->nleftovers; i++) {
			if (w->leftovers[i].driver != d)
				continue;
			procs[n++] = w->leftovers[i].p;
			reasons |= 1U << w->leftovers[i].reason;
		}
		if (!n)
			continue;
		if (groups++ == SUMMARY_ROWS)
			continue;
		if (d)
			fprintf(out, "  %s #%u: %zu (", util__esc(d->kind, e, sizeof(e)), d->id, n);
		else if (n == 1)
			fprintf(out, "  pid %u %s (", procs[0]->pid,
				util__esc(procs[0]->comm, e, sizeof(e)));
		else
			fprintf(out, "  not in a driver tree: %zu (", n);
		if (d || n > 1)
			names_counted(out, procs, n);
		fprintf(out, "%s", d || n > 1 ? "): " : "");
		for (i = 0; i < 4; i++)
			if (reasons & (1U << i))
				fprintf(out, "%s%s", (reasons & ((1U << i) - 1)) ? ", " : "",
					leftover_reason__str(i));
		if (!d && n == 1)
			fprintf(out, ")");
		cleanup_result(out, c, procs, n);
		fprintf(out, "\n");
	}
	if (groups > SUMMARY_ROWS)
		and_more(out, groups - SUMMARY_ROWS, "groups of leftovers");
	free(procs);
}

/*
 * Orphans: a process whose parent died is adopted by init or a subreaper. Most are routine
 * (a browser's crashpad handler outlives its browser for a moment, then exits) or are among
 * the leftovers already: those are folded into one count; the others are listed.
 */
static void orphans_summary(FILE *out, const struct procwatch *w)
{
	size_t i, folded = 0, shown = 0, listed = 0;
	char e[2][UTIL_ESC_LEN(TASK_COMM_LEN)];

	for (i = 0; i < w->norphans; i++)
		folded += w->orphans[i].p->state != PROC_RUNNING || w->orphans[i].p->watch->leftover;
	if (folded)
		fprintf(out, "orphans: %zu re-parented that exited since or are leftovers (routine: "
			     "helpers that end with their parent)\n", folded);
	for (i = 0; i < w->norphans; i++) {
		const struct orphan *r = &w->orphans[i];

		if (r->p->state != PROC_RUNNING || r->p->watch->leftover)
			continue;
		listed++;
		if (shown++ >= SUMMARY_ROWS)
			continue;
		fprintf(out, "orphan: pid %u %s, parent %u gone, adopted by %u %s\n", r->p->pid,
			util__esc(r->p->comm, e[0], sizeof(e[0])), r->old_ppid, r->new_ppid,
			util__esc(r->new_parent_comm, e[1], sizeof(e[1])));
	}
	if (listed > SUMMARY_ROWS)
		and_more(out, listed - SUMMARY_ROWS, "orphans");
}

void procwatch__summary(FILE *out, const struct procwatch *w, const struct cleanup *c,
			const struct testattr *tests, uint64_t now)
{
	char a[32], b[32], v[96], e[2][UTIL_ESC_LEN(256)];
	size_t i;

	if (!w)
		return;
	if (w->ndrivers) {
		uint32_t active = 0;
		bool pss = false;

		for (i = 0; i < w->ndrivers; i++) {
			active += !w->drivers[i]->end_ns;
			pss |= w->drivers[i]->pss_known;
		}
		fprintf(out, "drivers: %zu tree%s, %u active, peak %s %s in all (RSS summed %s)\n",
			w->ndrivers, w->ndrivers == 1 ? "" : "s", active, pss ? "PSS" : "RSS",
			kb_str(w->peak_total_mem_kb, a, sizeof(a)),
			kb_str(w->peak_total_kb, b, sizeof(b)));
	}
	for (i = 0; i < w->ndrivers && i < SUMMARY_ROWS; i++) {
		const struct driver_inst *d = w->drivers[i];
		int32_t t = tests ? testattr__owner(tests, d->driver) : -1;
		const struct test_run *tr = t >= 0 ? testattr__get(tests, t) : NULL;

		fprintf(out, "  #%u %s pid %u%s%s: %.2fs, %zu procs, peak %s %s: %s\n", d->id,
			util__esc(d->kind, e[0], sizeof(e[0])), d->driver->pid, tr ? " " : "",
			util__esc(tr ? tr->name : "", e[1], sizeof(e[1])),
			secs(d->start_ns, d->end_ns ? d->end_ns : now), d->nprocs,
			d->pss_known ? "PSS" : "RSS",
			kb_str(driver_inst__memory_kb(d, true), a, sizeof(a)),
			driver_verdict(w, d, v, sizeof(v)));
	}
	if (w->ndrivers > SUMMARY_ROWS)
		and_more(out, w->ndrivers - SUMMARY_ROWS, "driver trees");
	for (i = 0; i < w->nzombies && i < SUMMARY_ROWS; i++) {
		const struct zombie *z = &w->zombies[i];

		fprintf(out, "zombie: pid %u %s, not reaped by its parent %u %s for %.1fs%s\n",
			z->p->pid, util__esc(z->p->comm, e[0], sizeof(e[0])), z->parent_pid,
			util__esc(z->parent_comm, e[1], sizeof(e[1])),
			zombie__duration_s(z, now),
			z->p->state == PROC_REAPED ? " (reaped since)" : "");
	}
	if (w->nzombies > SUMMARY_ROWS)
		and_more(out, w->nzombies - SUMMARY_ROWS, "zombies");
	orphans_summary(out, w);
	leftovers_summary(out, w, c);
}
