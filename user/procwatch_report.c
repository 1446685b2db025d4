// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* procwatch's findings rendered: the report's sections and the terminal summary. */
#include <stdio.h>
#include <sys/wait.h>
#include <cjson/cJSON.h>

#include "procwatch.h"
#include "procwatch_priv.h"
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

static cJSON *driver_json(const struct procwatch *w, const struct driver_inst *d, uint64_t now)
{
	cJSON *o = cJSON_CreateObject(), *a;
	const struct proc *dp = d->driver;
	size_t i;

	cJSON_AddNumberToObject(o, "id", d->id);
	cJSON_AddStringToObject(o, "kind", d->kind);
	cJSON_AddNumberToObject(o, "pid", dp->pid);
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
	cJSON_AddNumberToObject(o, "memory_kb", d->rss_kb);
	cJSON_AddNumberToObject(o, "peak_memory_kb", d->peak_rss_kb);
	cJSON_AddNumberToObject(o, "shmem_kb", d->shmem_kb);
	cJSON_AddNumberToObject(o, "peak_shmem_kb", d->peak_shmem_kb);
	cJSON_AddNumberToObject(o, "dev_shm_kb", d->dev_shm_kb);
	cJSON_AddNumberToObject(o, "peak_dev_shm_kb", d->peak_dev_shm_kb);
	cJSON_AddBoolToObject(o, "ended_cleanly", d->end_ns && d->checked && !d->nsurvivors);
	a = cJSON_AddArrayToObject(o, "survivors");
	for (i = 0; i < d->nsurvivors; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(d->survivors[i]->pid));
	a = cJSON_AddArrayToObject(o, "memory_timeline");
	for (i = 0; i < d->nsamples; i++) {
		cJSON *s = cJSON_CreateObject();

		cJSON_AddNumberToObject(s, "t_s", secs(d->start_ns, d->timeline[i].ts_ns));
		cJSON_AddNumberToObject(s, "memory_kb", d->timeline[i].rss_kb);
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

#define SUMMARY_TREE_ROWS 12

/* How deep procs[k] is in its instance, by the parents they were born to (listed first). */
static int tree_depth(const struct driver_inst *d, size_t k)
{
	int depth = 0;
	size_t j;

	while (k > 0) {
		uint32_t ppid = d->procs[k]->watch->orig_ppid;

		for (j = k; j-- > 0;)
			if (d->procs[j]->pid == ppid)
				break;
		if (j == (size_t)-1)
			break;
		depth++;
		k = j;
	}
	return depth;
}

void procwatch__summary(FILE *out, const struct procwatch *w, uint64_t now)
{
	char a[32], b[32], c[32], s[48];
	size_t i, k;

	if (!w)
		return;
	if (w->ndrivers) {
		uint32_t active = 0;

		for (i = 0; i < w->ndrivers; i++)
			active += !w->drivers[i]->end_ns;
		fprintf(out, "drivers: %zu instance%s, %u active, peak %s in all, "
			     "/dev/shm of the machine peak %s\n",
			w->ndrivers, w->ndrivers == 1 ? "" : "s", active,
			kb_str(w->peak_total_kb, a, sizeof(a)),
			kb_str(w->peak_dev_shm_kb, b, sizeof(b)));
	}
	for (i = 0; i < w->ndrivers; i++) {
		const struct driver_inst *d = w->drivers[i];

		if (!d->end_ns)
			snprintf(s, sizeof(s), "still running");
		else if (d->nsurvivors)
			snprintf(s, sizeof(s), "%zu process%s survived it", d->nsurvivors,
				 d->nsurvivors == 1 ? "" : "es");
		else
			snprintf(s, sizeof(s), "ended cleanly");
		fprintf(out, "  #%u %s pid %u: %s; %.2fs, %zu processes (peak %u alive)\n", d->id,
			d->kind, d->driver->pid, s, secs(d->start_ns, d->end_ns ? d->end_ns : now),
			d->nprocs, d->peak_alive);
		fprintf(out, "     memory of the tree: peak %s (shmem %s), now %s; "
			     "/dev/shm peak %s\n",
			kb_str(d->peak_rss_kb, a, sizeof(a)),
			kb_str(d->peak_shmem_kb, b, sizeof(b)), kb_str(d->rss_kb, c, sizeof(c)),
			kb_str(d->peak_dev_shm_kb, s, sizeof(s)));
		for (k = 0; k < d->nprocs && k < SUMMARY_TREE_ROWS; k++) {
			const struct proc *p = d->procs[k];
			char name[40];
			int depth = tree_depth(d, k);

			snprintf(name, sizeof(name), "%*s%s", 2 * (depth < 6 ? depth : 6), "",
				 p->comm);
			fprintf(out, "    %8u %8u %-22s %9s %s\n", p->pid, p->ppid, name,
				kb_str(p->stats.peak_rss_pages * w->page_kb, a, sizeof(a)),
				proc_state__str(p->state));
		}
		if (d->nprocs > SUMMARY_TREE_ROWS)
			fprintf(out, "    ... %zu more in the JSON report\n",
				d->nprocs - SUMMARY_TREE_ROWS);
	}
	for (i = 0; i < w->nzombies; i++) {
		const struct zombie *z = &w->zombies[i];

		fprintf(out, "zombie: pid %u %s, not reaped by its parent %u %s for %.1fs%s\n",
			z->p->pid, z->p->comm, z->parent_pid, z->parent_comm,
			zombie__duration_s(z, now),
			z->p->state == PROC_REAPED ? " (reaped since)" : "");
	}
	for (i = 0; i < w->norphans; i++) {
		const struct orphan *r = &w->orphans[i];

		fprintf(out, "orphan: pid %u %s, parent %u gone, adopted by %u %s\n", r->p->pid,
			r->p->comm, r->old_ppid, r->new_ppid, r->new_parent_comm);
	}
	for (i = 0; i < w->nleftovers; i++) {
		const struct leftover *l = &w->leftovers[i];

		fprintf(out, "leftover: pid %u %s, %s", l->p->pid, l->p->comm,
			leftover_reason__str(l->reason));
		if (l->driver)
			fprintf(out, " (%s #%u)", l->driver->kind, l->driver->id);
		fprintf(out, ", age %.1fs\n", secs(l->p->start_ns, l->ts_ns));
	}
}
