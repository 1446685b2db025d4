// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "procwatch.h"
#include "proctree.h"
#include "status.h"
#include "util.h"
#include "vec.h"

struct live {
	struct proc *p;
	char state;
	uint64_t pages[QH_NR_RSS];
	uint64_t rss_pages;
};

static cJSON *time_json(uint64_t boot_ns)
{
	char buf[40];

	if (!boot_ns)
		return cJSON_CreateNull();
	return cJSON_CreateString(util__rfc3339(util__boot_to_real_ns(boot_ns), buf, sizeof(buf)));
}

/* biggest first; the same size by pid, so the order is stable from one request to the next */
static int by_rss(const void *a, const void *b)
{
	const struct live *x = a, *y = b;

	if (x->rss_pages != y->rss_pages)
		return x->rss_pages < y->rss_pages ? 1 : -1;
	return x->p->pid < y->p->pid ? -1 : x->p->pid > y->p->pid;
}

static const char *role(const struct procwatch *w, const struct proc *p)
{
	const struct driver_inst *d = procwatch__driver_of(p);

	if (d && d->driver == p)
		return "driver";
	if (w && procwatch__is_browser(w, p))
		return "browser";
	return NULL;
}

/* The model's processes that /proc still shows (zombies included), with their state now. */
static int collect(const struct status_ops *ops, struct proctree *t, struct live **out,
		   size_t *n)
{
	struct live *v = NULL, *l;
	size_t cap = 0;
	struct proc *p;
	char st;

	*n = 0;
	for (p = proctree__first(t); p; p = p->next) {
		if (p->state == PROC_REAPED || ops->state(ops->ctx, p, &st))
			continue;
		l = vec_push(v, *n, cap);
		if (!l) {
			free(v);
			return -ENOMEM;
		}
		l->p = p;
		l->state = st;
		/* a zombie has no memory; a process gone between the two reads, none either */
		if (st != 'Z' && st != 'X' && !ops->rss(ops->ctx, p, l->pages))
			l->rss_pages = QH_RSS_TOTAL(l->pages);
	}
	*out = v;
	return 0;
}

static void add_processes(cJSON *out, const struct live *v, size_t n)
{
	uint32_t running = 0, sleeping = 0, disk = 0, stopped = 0, zombie = 0, other = 0;
	cJSON *o = cJSON_AddObjectToObject(out, "processes");
	size_t i;

	for (i = 0; i < n; i++) {
		switch (v[i].state) {
		case 'R':
			running++;
			break;
		case 'S':
		case 'I':
			sleeping++;
			break;
		case 'D':
			disk++;
			break;
		case 'T':
		case 't':
			stopped++;
			break;
		case 'Z':
		case 'X':
			zombie++;
			break;
		default:
			other++;
		}
	}
	cJSON_AddNumberToObject(o, "alive", n);
	cJSON_AddNumberToObject(o, "running", running);
	cJSON_AddNumberToObject(o, "sleeping", sleeping);
	cJSON_AddNumberToObject(o, "disk_sleep", disk);
	cJSON_AddNumberToObject(o, "stopped", stopped);
	cJSON_AddNumberToObject(o, "zombie", zombie);
	cJSON_AddNumberToObject(o, "other", other);
}

static void add_top(cJSON *out, const struct procwatch *w, struct live *v, size_t n,
		    const struct status_info *in)
{
	cJSON *a = cJSON_AddArrayToObject(out, "top"), *o, *r;
	uint64_t ps = in->page_size;
	const char *ro;
	char st[2] = "";
	size_t i, k;

	if (n) /* qsort's base must not be NULL, even for none */
		qsort(v, n, sizeof(*v), by_rss);
	for (i = k = 0; i < n && k < in->top; i++) {
		if (v[i].state == 'Z' || v[i].state == 'X')
			continue;
		k++;
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "pid", v[i].p->pid);
		cJSON_AddItemToObject(o, "start_time", time_json(v[i].p->start_ns));
		cJSON_AddStringToObject(o, "comm", v[i].p->comm);
		st[0] = v[i].state;
		cJSON_AddStringToObject(o, "state", st);
		ro = role(w, v[i].p);
		cJSON_AddItemToObject(o, "role", ro ? cJSON_CreateString(ro) : cJSON_CreateNull());
		cJSON_AddNumberToObject(o, "rss_bytes", (double)(v[i].rss_pages * ps));
		r = cJSON_AddObjectToObject(o, "rss");
		cJSON_AddNumberToObject(r, "anon_bytes", (double)(v[i].pages[MM_ANONPAGES] * ps));
		cJSON_AddNumberToObject(r, "file_bytes", (double)(v[i].pages[MM_FILEPAGES] * ps));
		cJSON_AddNumberToObject(r, "shmem_bytes", (double)(v[i].pages[MM_SHMEMPAGES] * ps));
		cJSON_AddNumberToObject(o, "swap_bytes", (double)(v[i].pages[MM_SWAPENTS] * ps));
		cJSON_AddItemToArray(a, o);
	}
}

/* The live tree of each driver instance: its processes /proc shows now, their RSS now. */
static void add_drivers(cJSON *out, const struct status_ops *ops, const struct procwatch *w,
			const struct status_info *in)
{
	uint32_t trees = 0, drivers = 0, browsers = 0, procs = 0;
	const struct driver_inst *const *d;
	cJSON *o = cJSON_AddObjectToObject(out, "drivers"), *a = cJSON_CreateArray(), *e;
	uint64_t total = 0, pages[QH_NR_RSS];
	size_t i, k, n = w ? procwatch__drivers(w, &d) : 0;
	char st;

	for (i = 0; i < n; i++) {
		uint32_t alive = 0, b = 0;
		uint64_t rss = 0;
		bool drv = false;

		for (k = 0; k < d[i]->nprocs; k++) {
			const struct proc *p = d[i]->procs[k];

			if (p->state == PROC_REAPED || ops->state(ops->ctx, p, &st) || st == 'Z' ||
			    st == 'X')
				continue;
			alive++;
			drv |= p == d[i]->driver;
			b += procwatch__is_browser(w, p);
			memset(pages, 0, sizeof(pages));
			if (!ops->rss(ops->ctx, p, pages))
				rss += QH_RSS_TOTAL(pages) * in->page_size;
		}
		if (!alive)
			continue;
		trees++;
		drivers += drv;
		browsers += b;
		procs += alive;
		total += rss;
		if (trees > QH_STATUS_MAX_DRIVERS)
			continue;
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "id", d[i]->id);
		cJSON_AddStringToObject(e, "kind", d[i]->kind);
		cJSON_AddNumberToObject(e, "pid", d[i]->driver->pid);
		cJSON_AddItemToObject(e, "start_time", time_json(d[i]->start_ns));
		cJSON_AddBoolToObject(e, "driver_alive", drv);
		cJSON_AddNumberToObject(e, "processes_alive", alive);
		cJSON_AddNumberToObject(e, "browsers_alive", b);
		cJSON_AddNumberToObject(e, "rss_bytes", (double)rss);
		/* PSS as procwatch last sampled it (periodic): a page the tree shares counts once */
		if (d[i]->pss_known)
			cJSON_AddNumberToObject(e, "pss_bytes", (double)(d[i]->pss_kb * 1024));
		else
			cJSON_AddNullToObject(e, "pss_bytes");
		cJSON_AddItemToArray(a, e);
	}
	cJSON_AddNumberToObject(o, "trees", trees);
	cJSON_AddNumberToObject(o, "drivers_alive", drivers);
	cJSON_AddNumberToObject(o, "browsers_alive", browsers);
	cJSON_AddNumberToObject(o, "processes_alive", procs);
	cJSON_AddNumberToObject(o, "rss_bytes", (double)total);
	cJSON_AddItemToObject(o, "list", a);
}

static void add_zombies(cJSON *out, const struct status_ops *ops, const struct procwatch *w,
			const struct status_info *in)
{
	cJSON *o = cJSON_AddObjectToObject(out, "zombies"), *a = cJSON_CreateArray(), *e;
	const struct zombie *z = NULL;
	size_t i, n = w ? procwatch__zombies(w, &z) : 0;
	uint32_t now = 0;
	char st;

	/* the newest first: those are the ones still there */
	for (i = n; i-- > 0;) {
		const struct proc *p = z[i].p;

		if (p->state == PROC_REAPED || ops->state(ops->ctx, p, &st) || st != 'Z')
			continue;
		if (now++ >= in->top)
			continue;
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "pid", p->pid);
		cJSON_AddStringToObject(e, "comm", p->comm);
		cJSON_AddItemToObject(e, "start_time", time_json(p->start_ns));
		cJSON_AddNumberToObject(e, "parent_pid", z[i].parent_pid);
		cJSON_AddStringToObject(e, "parent_comm", z[i].parent_comm);
		cJSON_AddNumberToObject(e, "zombie_for_s", zombie__duration_s(&z[i], in->now_ns));
		cJSON_AddItemToArray(a, e);
	}
	cJSON_AddNumberToObject(o, "found", n);
	cJSON_AddNumberToObject(o, "now", now);
	cJSON_AddItemToObject(o, "list", a);
}

static void add_leftovers(cJSON *out, const struct status_ops *ops, const struct procwatch *w,
			  const struct status_info *in)
{
	cJSON *o = cJSON_AddObjectToObject(out, "leftovers"), *by, *a, *e, *c;
	const struct leftover *l = NULL;
	size_t i, n = w ? procwatch__leftovers(w, &l) : 0, listed = 0;
	uint32_t alive = 0;
	char st;

	cJSON_AddNumberToObject(o, "found", n);
	by = cJSON_AddObjectToObject(o, "by_reason");
	a = cJSON_CreateArray();
	for (i = n; i-- > 0;) {
		const char *why = leftover_reason__str(l[i].reason);
		bool live = l[i].p->state != PROC_REAPED && !ops->state(ops->ctx, l[i].p, &st) &&
			    st != 'Z' && st != 'X';

		c = cJSON_GetObjectItemCaseSensitive(by, why);
		if (c)
			cJSON_SetNumberValue(c, c->valuedouble + 1);
		else
			cJSON_AddNumberToObject(by, why, 1);
		alive += live;
		/* the newest first, the live ones before those already gone */
		if (!live || listed++ >= in->top)
			continue;
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "pid", l[i].p->pid);
		cJSON_AddStringToObject(e, "comm", l[i].p->comm);
		cJSON_AddItemToObject(e, "start_time", time_json(l[i].p->start_ns));
		cJSON_AddStringToObject(e, "reason", why);
		cJSON_AddItemToArray(a, e);
	}
	cJSON_AddNumberToObject(o, "alive", alive);
	cJSON_AddItemToObject(o, "list", a);
}

static void add_jobs(cJSON *out, const struct status_info *in)
{
	cJSON *a = cJSON_AddArrayToObject(out, "jobs"), *e;
	size_t i;

	for (i = 0; i < in->njobs; i++) {
		const struct status_job *j = &in->jobs[i];

		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "id", j->id ? j->id : "");
		cJSON_AddStringToObject(e, "kind", j->kind ? j->kind : "");
		if (j->name)
			cJSON_AddStringToObject(e, "name", j->name);
		else
			cJSON_AddNullToObject(e, "name");
		cJSON_AddNumberToObject(e, "root_pid", j->root_pid);
		cJSON_AddItemToObject(e, "root_start_time", time_json(j->root_start_ns));
		cJSON_AddItemToObject(e, "started", time_json(j->started_ns));
		cJSON_AddNumberToObject(e, "processes_alive", j->alive);
		cJSON_AddNumberToObject(e, "rss_bytes", (double)j->rss_bytes);
		cJSON_AddItemToArray(a, e);
	}
}

int status__json(const struct status_ops *ops, struct proctree *t, const struct procwatch *w,
		 const struct status_info *in, cJSON *out)
{
	struct live *v = NULL;
	size_t n;
	cJSON *ev;
	int err;

	err = collect(ops, t, &v, &n);
	if (err)
		return err;
	cJSON_AddStringToObject(out, "mode", in->mode ? in->mode : "attach");
	cJSON_AddNumberToObject(out, "pid", in->pid);
	cJSON_AddStringToObject(out, "version", QH_VERSION);
	cJSON_AddNumberToObject(out, "uptime_s",
				in->now_ns > in->started_ns
					? (double)((in->now_ns - in->started_ns) / 1000000) / 1000
					: 0);
	ev = cJSON_AddObjectToObject(out, "events");
	cJSON_AddNumberToObject(ev, "received", (double)in->events);
	cJSON_AddNumberToObject(ev, "lost", (double)in->events_lost);
	add_processes(out, v, n);
	add_top(out, w, v, n, in);
	free(v);
	add_drivers(out, ops, w, in);
	add_zombies(out, ops, w, in);
	add_leftovers(out, ops, w, in);
	add_jobs(out, in);
	/* cJSON's adders fail silently: the last one is there only if memory held out */
	return cJSON_GetObjectItemCaseSensitive(out, "jobs") ? 0 : -ENOMEM;
}
