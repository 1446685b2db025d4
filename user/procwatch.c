// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alerts.h"
#include "log.h"
#include "procfs.h"
#include "procwatch.h"
#include "procwatch_priv.h"
#include "vec.h"
#include "util.h"

struct procwatch *procwatch__new(const struct procwatch_opts *o, procwatch_rss_fn rss, void *ctx)
{
	struct procwatch *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->o = *o;
	w->rss = rss;
	w->ctx = ctx;
	w->page_kb = sysconf(_SC_PAGESIZE) / 1024;
	return w;
}

void procwatch__free(struct procwatch *w)
{
	struct proc_watch *s, *n;
	size_t i;

	if (!w)
		return;
	for (s = w->states; s; s = n) {
		n = s->next_alloc;
		free(s);
	}
	for (i = 0; i < w->ndrivers; i++) {
		free(w->drivers[i]->procs);
		free(w->drivers[i]->survivors);
		free(w->drivers[i]);
	}
	free(w->drivers);
	free(w->zombies);
	free(w->orphans);
	free(w->leftovers);
	free(w->out);
	free(w);
}

void procwatch__set_pss(struct procwatch *w, procwatch_pss_fn pss, void *ctx)
{
	w->pss = pss;
	w->pss_ctx = ctx;
}

bool procwatch__proc_pss(const struct proc *p, uint64_t *pss_kb, uint64_t *uss_kb,
			 uint64_t *peak_pss_kb)
{
	const struct proc_watch *s = p ? p->watch : NULL;

	if (!s || !s->pss_known)
		return false;
	*pss_kb = s->pss_kb;
	*uss_kb = s->uss_kb;
	*peak_pss_kb = s->peak_pss_kb;
	return true;
}

void procwatch__set_alerts(struct procwatch *w, struct alerts *a)
{
	w->alerts = a;
}

void procwatch__set_root(struct procwatch *w, const struct proc *root)
{
	w->root = root;
}

/* The state of @p, made on first use (the model's procs outlive the watch's use of them). */
static struct proc_watch *state_of(struct procwatch *w, struct proc *p)
{
	struct proc_watch *s = p->watch;

	if (s)
		return s;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->orig_ppid = p->ppid;
	s->next_alloc = w->states;
	if (w->states)
		w->states->prev_alloc = s;
	w->states = s;
	p->watch = s;
	return s;
}

const struct driver_inst *procwatch__driver_of(const struct proc *p)
{
	return p && p->watch ? p->watch->inst : NULL;
}

static void join(struct driver_inst *d, struct proc *p, struct proc_watch *s)
{
	struct proc **slot = vec_push(d->procs, d->nprocs, d->cap);

	if (!slot)
		return;
	*slot = p;
	s->inst = d;
	if (p->state == PROC_RUNNING && ++d->alive > d->peak_alive)
		d->peak_alive = d->alive;
}

/* The driver pattern @comm or the exec'd file's base name matches, or NULL. */
static const char *driver_kind(const struct procwatch *w, const char *comm, const char *file)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	uint32_t i;

	for (i = 0; i < w->o.n_driver_patterns; i++) {
		const char *pat = w->o.driver_patterns[i];

		if (!fnmatch(pat, comm, 0) || (*base && !fnmatch(pat, base, 0)))
			return pat;
	}
	return NULL;
}

/* Is @p a browser: its comm, or its executable's base name, matches a browser pattern? */
bool procwatch__holds(const struct proc *p)
{
	const struct proc_watch *s = p->watch;

	return s && (s->inst || s->leftover || s->in_zombies || s->in_orphans);
}

bool procwatch__release(struct procwatch *w, struct proc *p)
{
	struct proc_watch *s = p->watch;

	if (!s)
		return true;
	if (procwatch__holds(p))
		return false;
	if (s->prev_alloc)
		s->prev_alloc->next_alloc = s->next_alloc;
	else
		w->states = s->next_alloc;
	if (s->next_alloc)
		s->next_alloc->prev_alloc = s->prev_alloc;
	free(s);
	p->watch = NULL;
	return true;
}

void procwatch__trim(struct procwatch *w, size_t keep)
{
	size_t i, drop;

	if (w->nzombies > keep) {
		drop = w->nzombies - keep;
		for (i = 0; i < drop; i++)
			w->zombies[i].p->watch->in_zombies = false;
		memmove(w->zombies, w->zombies + drop, keep * sizeof(*w->zombies));
		w->nzombies = keep;
		w->zombies_dropped += drop;
	}
	if (w->norphans > keep) {
		drop = w->norphans - keep;
		for (i = 0; i < drop; i++)
			w->orphans[i].p->watch->in_orphans = false;
		memmove(w->orphans, w->orphans + drop, keep * sizeof(*w->orphans));
		w->norphans = keep;
		w->orphans_dropped += drop;
	}
}

bool procwatch__is_browser(const struct procwatch *w, const struct proc *p)
{
	const char *base = p->exe && strrchr(p->exe, '/') ? strrchr(p->exe, '/') + 1 : p->exe;
	uint32_t i;

	for (i = 0; i < w->o.n_browser_patterns; i++) {
		const char *pat = w->o.browser_patterns[i];

		if (!fnmatch(pat, p->comm, 0) || (base && *base && !fnmatch(pat, base, 0)))
			return true;
	}
	return false;
}

static void on_exec(struct procwatch *w, struct proc *p, const struct qh_event_exec *e)
{
	char file[QH_FILENAME_LEN + 1];
	struct proc_watch *s = state_of(w, p);
	struct driver_inst *d, **slot;
	const char *kind;

	if (!s)
		return;
	memcpy(file, e->filename, QH_FILENAME_LEN);
	file[QH_FILENAME_LEN] = '\0';
	kind = driver_kind(w, p->comm, file);
	if (!kind || (s->inst && s->inst->driver == p))
		return;
	d = calloc(1, sizeof(*d));
	slot = vec_push(w->drivers, w->ndrivers, w->cap_drivers);
	if (!d || !slot) {
		free(d);
		if (slot)
			w->ndrivers--;
		pr_warn("out of memory: driver pid %u is not followed\n", p->pid);
		return;
	}
	*slot = d;
	d->id = w->ndrivers;
	snprintf(d->kind, sizeof(d->kind), "%s", p->comm);
	d->driver = p;
	d->start_ns = e->hdr.ts_ns;
	d->stride = 1;
	/* a driver started inside another driver's tree is an instance of its own */
	if (s->inst && s->inst->alive)
		s->inst->alive--;
	join(d, p, s);
	pr_debug("driver #%u: %s pid %u\n", d->id, d->kind, p->pid);
}

static uint32_t sample_tree(struct procwatch *w, struct driver_inst *d, uint64_t now,
			    const struct proc *exiting, const uint64_t *exit_pages);

void procwatch__handle_event(struct procwatch *w, struct proctree *t, const void *data,
			     size_t size)
{
	const struct qh_event_hdr *h = data;
	struct proc_watch *s, *ps;
	struct proc *p, *parent;

	if (!w || size < sizeof(*h))
		return;
	switch (h->type) {
	case QH_EV_FORK:
		if (size < sizeof(struct qh_event_fork))
			return;
		p = proctree__find(t, h->pid, h->start_ns);
		if (!p || !(s = state_of(w, p)))
			return;
		s->orig_ppid = p->ppid;
		/* the fork record comes before any record of the parent's exit */
		parent = proctree__find_running(t, p->ppid);
		ps = parent ? parent->watch : NULL;
		if (ps && ps->inst && !s->inst)
			join(ps->inst, p, s);
		break;
	case QH_EV_EXEC:
		if (size < sizeof(struct qh_event_exec))
			return;
		p = proctree__find(t, h->pid, h->start_ns);
		if (p)
			on_exec(w, p, data);
		break;
	case QH_EV_EXIT:
		p = proctree__find(t, h->pid, h->start_ns);
		s = p ? p->watch : NULL;
		if (!s || !s->inst)
			return;
		/* the tree is about to shrink: its memory now is a candidate for the peak that
		 * periodic samples, half a second apart, would miss in a short run */
		if (size >= sizeof(struct qh_event_exit))
			sample_tree(w, s->inst, h->ts_ns, p,
				    (const uint64_t *)((const struct qh_event_exit *)data)->proc.rss_pages);
		if (s->inst->alive)
			s->inst->alive--;
		if (s->inst->driver == p)
			s->inst->end_ns = h->ts_ns;
		break;
	default:
		break;
	}
}

/*
 * Is (pid, start) alive now, as /proc says, and not a zombie? Fills @st when it exists. Its
 * name is the one it has now: no record tells a rename (prctl), and chromium's zygote, exec'd
 * as /proc/self/exe, is "exe" until it renames itself.
 */
static bool alive_now(struct proc *p, struct procfs_stat *st)
{
	if (procfs__read_stat(p->pid, st) || !procfs__same_start(st->start_ns, p->start_ns))
		return false;
	if (st->state == 'Z' || st->state == 'X')
		return false;
	if (st->comm[0])
		snprintf(p->comm, sizeof(p->comm), "%s", st->comm);
	return true;
}

static void add_leftover(struct procwatch *w, struct proc *p, enum leftover_reason r,
			 uint64_t now)
{
	struct proc_watch *s = state_of(w, p);
	struct leftover *l;

	if (!s || s->leftover)
		return;
	l = vec_push(w->leftovers, w->nleftovers, w->cap_leftovers);
	if (!l)
		return;
	s->leftover = true;
	l->p = p;
	l->reason = r;
	l->driver = s->inst;
	l->ts_ns = now;
}

static void timeline_add(struct driver_inst *d, uint64_t now)
{
	uint32_t i;

	if (++d->skipped < d->stride && d->nsamples)
		return;
	d->skipped = 0;
	if (d->nsamples == QH_DRIVER_TIMELINE) {
		/* keep every other sample: the timeline spans the whole run at half the rate */
		for (i = 0; i < QH_DRIVER_TIMELINE / 2; i++)
			d->timeline[i] = d->timeline[2 * i];
		d->nsamples = QH_DRIVER_TIMELINE / 2;
		d->stride *= 2;
	}
	d->timeline[d->nsamples].ts_ns = now;
	d->timeline[d->nsamples].rss_kb = d->rss_kb;
	d->timeline[d->nsamples].pss_kb = d->pss_kb;
	d->nsamples++;
}

#define DEV_SHM_FILES 512

struct shm_files {
	struct {
		uint64_t dev, ino;
	} seen[DEV_SHM_FILES];
	size_t n;
	uint64_t kb;
};

/*
 * Add the /dev/shm files @pid maps (POSIX shared memory; browsers unlink theirs at once, so
 * the size comes through /proc/PID/map_files), each file once however many map it.
 */
static void add_dev_shm(struct shm_files *f, uint32_t pid)
{
	char path[64], *line = NULL;
	size_t cap = 0, i;
	FILE *maps;

	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	maps = fopen(path, "re");
	if (!maps)
		return;
	while (getline(&line, &cap, maps) > 0) {
		unsigned long start, end, ino;
		unsigned int major, minor;
		char file[64];
		struct stat st;
		int off = 0;

		if (sscanf(line, "%lx-%lx %*s %*x %x:%x %lu %n", &start, &end, &major, &minor, &ino,
			   &off) != 5 || !off || strncmp(line + off, "/dev/shm/", 9))
			continue;
		for (i = 0; i < f->n; i++)
			if (f->seen[i].ino == ino && f->seen[i].dev == makedev(major, minor))
				break;
		if (i < f->n || f->n == DEV_SHM_FILES)
			continue;
		snprintf(file, sizeof(file), "/proc/%u/map_files/%lx-%lx", pid, start, end);
		if (stat(file, &st))
			continue;
		f->seen[f->n].dev = makedev(major, minor);
		f->seen[f->n++].ino = ino;
		f->kb += (uint64_t)st.st_blocks * 512 / 1024;
	}
	free(line);
	fclose(maps);
}

static void check_alert(struct procwatch *w, struct driver_inst *d, uint64_t mem_kb,
			uint64_t rss_kb)
{
	double mb = mem_kb / 1024.0, t = w->o.memory_threshold_mb;
	char key[40];

	if (!t || !w->alerts)
		return;
	/* fires as the tree crosses the threshold, once until it falls back below */
	snprintf(key, sizeof(key), "driver %u", d->id);
	if (alerts__check(w->alerts, "driver_memory", key, mb >= 2 * t ? SEV_CRITICAL : SEV_HIGH,
			  mb, t, "%s #%u (pid %u): its tree uses %.1f MiB (%s; RSS summed %.1f "
			  "MiB), over the %.0f MiB threshold", d->kind, d->id, d->driver->pid, mb,
			  d->pss_known ? "PSS" : "RSS", rss_kb / 1024.0, t))
		d->alerted = true;
}

/*
 * The memory of @d's live tree now: RSS from the kernel's counters, PSS and USS from
 * smaps_rollup, read for each live process. @exiting (or NULL), whose exit record is being
 * handled, counts with the RSS of @exit_pages and the PSS of its last sample. The peaks, the
 * timeline and the memory alert all come from these samples, so they agree. Returns how many
 * processes of the tree are alive (@exiting not counted).
 */
static uint32_t sample_tree(struct procwatch *w, struct driver_inst *d, uint64_t now,
			    const struct proc *exiting, const uint64_t *exit_pages)
{
	uint64_t rss = 0, shmem = 0, pss_kb = 0, uss_kb = 0, pages[QH_NR_RSS], mem, total, trss;
	uint32_t alive = 0;
	size_t i;

	for (i = 0; i < d->nprocs; i++) {
		struct proc *q = d->procs[i];
		struct proc_watch *s = q->watch;
		uint64_t pss, uss, prss;

		/* one that exec'd a driver itself since is that instance's */
		if (s->inst != d || (q != exiting && q->state != PROC_RUNNING))
			continue;
		if (q == exiting)
			memcpy(pages, exit_pages, sizeof(pages));
		else if (alive++, !w->rss || w->rss(w->ctx, q, pages))
			memcpy(pages, q->stats.rss_pages, sizeof(pages));
		prss = QH_RSS_TOTAL(pages) * w->page_kb;
		rss += QH_RSS_TOTAL(pages);
		shmem += pages[MM_SHMEMPAGES];
		if (q != exiting && w->pss && !w->pss(w->pss_ctx, q, &pss, &uss)) {
			s->pss_kb = pss;
			s->uss_kb = uss;
			s->pss_known = d->pss_known = true;
			if (pss > s->peak_pss_kb)
				s->peak_pss_kb = pss;
		}
		/* gone from /proc (its exit record still queued): as last sampled; never
		 * sampled: its RSS, an upper bound */
		pss_kb += s->pss_known ? s->pss_kb : prss;
		uss_kb += s->pss_known ? s->uss_kb : prss;
	}
	rss *= w->page_kb;
	shmem *= w->page_kb;
	mem = d->pss_known ? pss_kb : rss;
	if (mem > driver_inst__memory_kb(d, true)) {
		d->peak_pss_kb = d->pss_known ? pss_kb : 0;
		d->peak_ns = now;
	}
	if (rss > d->peak_rss_kb)
		d->peak_rss_kb = rss;
	if (shmem > d->peak_shmem_kb)
		d->peak_shmem_kb = shmem;
	if (d->pss_known && uss_kb > d->peak_uss_kb)
		d->peak_uss_kb = uss_kb;
	if (exiting) {
		/* every driver's memory: this tree now, the others as last sampled */
		total = mem;
		trss = rss;
		for (i = 0; i < w->ndrivers; i++)
			if (w->drivers[i] != d) {
				total += driver_inst__memory_kb(w->drivers[i], false);
				trss += w->drivers[i]->rss_kb;
			}
		if (total > w->peak_total_mem_kb)
			w->peak_total_mem_kb = total;
		if (trss > w->peak_total_kb)
			w->peak_total_kb = trss;
	} else {
		d->alive = alive;
		d->rss_kb = rss;
		d->shmem_kb = shmem;
		d->pss_kb = d->pss_known ? pss_kb : 0;
		d->uss_kb = d->pss_known ? uss_kb : 0;
	}
	check_alert(w, d, mem, rss);
	return alive;
}

uint64_t driver_inst__memory_kb(const struct driver_inst *d, bool peak)
{
	if (d->pss_known)
		return peak ? d->peak_pss_kb : d->pss_kb;
	return peak ? d->peak_rss_kb : d->rss_kb;
}

/* The periodic sample of @d: memory, /dev/shm, the timeline; whether it has live processes. */
static bool sample_driver(struct procwatch *w, struct driver_inst *d, uint64_t now)
{
	struct shm_files *shm = calloc(1, sizeof(*shm));
	uint32_t alive;
	size_t i;

	/* one sample after the tree is gone shows the drop; none after that */
	for (i = 0, alive = 0; i < d->nprocs; i++)
		alive += d->procs[i]->state == PROC_RUNNING && d->procs[i]->watch->inst == d;
	if (!alive && !d->rss_kb && d->nsamples) {
		free(shm);
		return false;
	}
	for (i = 0; shm && i < d->nprocs; i++)
		if (d->procs[i]->state == PROC_RUNNING && d->procs[i]->watch->inst == d)
			add_dev_shm(shm, d->procs[i]->pid);
	d->dev_shm_kb = shm ? shm->kb : 0;
	free(shm);
	if (d->dev_shm_kb > d->peak_dev_shm_kb)
		d->peak_dev_shm_kb = d->dev_shm_kb;
	alive = sample_tree(w, d, now, NULL, NULL);
	timeline_add(d, now);
	return alive > 0;
}

static void sample_dev_shm(struct procwatch *w)
{
	struct statvfs sv;

	if (statvfs("/dev/shm", &sv))
		return;
	w->dev_shm_kb = (uint64_t)(sv.f_blocks - sv.f_bfree) * sv.f_frsize / 1024;
	if (w->dev_shm_kb > w->peak_dev_shm_kb)
		w->peak_dev_shm_kb = w->dev_shm_kb;
}

/* The driver ended force_cleanup_timeout ago (or the run is over): who of its tree is left? */
static void verify_termination(struct procwatch *w, struct driver_inst *d, uint64_t now)
{
	struct procfs_stat st;
	size_t i;

	d->checked = true;
	for (i = 0; i < d->nprocs; i++) {
		struct proc *p = d->procs[i], **slot;

		if (p->state != PROC_RUNNING || p->watch->inst != d || !alive_now(p, &st))
			continue;
		slot = vec_push(d->survivors, d->nsurvivors, d->cap_survivors);
		if (!slot)
			continue;
		*slot = p;
		add_leftover(w, p, LEFTOVER_OUTLIVED_DRIVER, now);
		slot = vec_push(w->out, w->nout, w->cap_out);
		if (slot)
			*slot = p;
	}
	if (d->nsurvivors) {
		char kind[UTIL_ESC_LEN(sizeof(d->kind))];

		pr_warn("%s #%u (pid %u) exited %.1fs ago; %zu process%s of its tree still run\n",
			util__esc(d->kind, kind, sizeof(kind)), d->id, d->driver->pid, (now - d->end_ns) / 1e9, d->nsurvivors,
			d->nsurvivors == 1 ? "" : "es");
	}
}

static void check_zombie(struct procwatch *w, struct proctree *t, struct proc *p, uint64_t now)
{
	struct proc_watch *s = state_of(w, p);
	struct procfs_stat st, pst;
	struct proc *parent;
	struct zombie *z;

	if (!s || s->zombie_seen || !p->end_ns ||
	    now - p->end_ns < (uint64_t)w->o.zombie_grace_ms * 1000000)
		return;
	if (procfs__read_stat(p->pid, &st) || !procfs__same_start(st.start_ns, p->start_ns)) {
		s->zombie_seen = true; /* reaped, its release record lost: nothing to look at */
		return;
	}
	if (st.state != 'Z')
		return;
	z = vec_push(w->zombies, w->nzombies, w->cap_zombies);
	if (!z)
		return;
	s->zombie_seen = true;
	s->in_zombies = true;
	z->p = p;
	z->parent_pid = st.ppid;
	parent = proctree__find_running(t, st.ppid);
	if (parent)
		snprintf(z->parent_comm, sizeof(z->parent_comm), "%s", parent->comm);
	else if (!procfs__read_stat(st.ppid, &pst))
		snprintf(z->parent_comm, sizeof(z->parent_comm), "%s", pst.comm);
	pr_debug("zombie: pid %u %s, not reaped by %u %s\n", p->pid, p->comm, z->parent_pid,
		 z->parent_comm);
}

static void check_running(struct procwatch *w, struct proctree *t, struct proc *p, uint64_t now)
{
	struct proc_watch *s = state_of(w, p);
	struct procfs_stat st, pst;
	struct proc *parent;
	struct orphan *o;

	if (!s)
		return;
	if (w->o.max_resource_lifetime_s && p != w->root && !s->lifetime_seen &&
	    now > p->start_ns &&
	    now - p->start_ns > (uint64_t)w->o.max_resource_lifetime_s * NSEC_PER_SEC) {
		s->lifetime_seen = true;
		add_leftover(w, p, LEFTOVER_LIFETIME_EXCEEDED, now);
	}
	if (s->orphan_seen || p == w->root || !alive_now(p, &st) || st.ppid == s->orig_ppid)
		return;
	/* its fork record was lost: the parent it has now is the first one we know */
	if (!s->orig_ppid) {
		s->orig_ppid = st.ppid;
		return;
	}
	/* a process is re-parented only when its parent dies: to init or to a subreaper */
	o = vec_push(w->orphans, w->norphans, w->cap_orphans);
	if (!o)
		return;
	s->orphan_seen = true;
	s->in_orphans = true;
	o->p = p;
	o->old_ppid = s->orig_ppid;
	o->new_ppid = st.ppid;
	o->ts_ns = now;
	parent = proctree__find_running(t, st.ppid);
	if (st.ppid == (uint32_t)getpid())
		snprintf(o->new_parent_comm, sizeof(o->new_parent_comm), "qhtrace");
	else if (parent)
		snprintf(o->new_parent_comm, sizeof(o->new_parent_comm), "%s", parent->comm);
	else if (!procfs__read_stat(st.ppid, &pst))
		snprintf(o->new_parent_comm, sizeof(o->new_parent_comm), "%s", pst.comm);
}

void procwatch__check(struct procwatch *w, struct proctree *t, bool force, struct proc ***fresh,
		      size_t *nfresh)
{
	uint64_t now = util__now_ns(CLOCK_BOOTTIME), total = 0, total_mem = 0;
	struct proc *p;
	size_t i;

	w->nout = 0;
	*fresh = w->out;
	*nfresh = 0;
	if (!force && now < w->next_check_ns)
		return;
	w->next_check_ns = now + (uint64_t)(w->o.check_interval_ms ?: QH_WATCH_INTERVAL_MS) *
					   1000000ULL;
	for (i = 0; i < w->ndrivers; i++) {
		struct driver_inst *d = w->drivers[i];

		sample_driver(w, d, now);
		total += d->rss_kb;
		total_mem += driver_inst__memory_kb(d, false);
		if (d->end_ns && !d->checked &&
		    now >= d->end_ns + (uint64_t)w->o.force_cleanup_timeout_ms * 1000000)
			verify_termination(w, d, now);
	}
	if (total > w->peak_total_kb)
		w->peak_total_kb = total;
	if (total_mem > w->peak_total_mem_kb)
		w->peak_total_mem_kb = total_mem;
	if (w->ndrivers)
		sample_dev_shm(w);
	for (p = proctree__first(t); p; p = p->next) {
		if (p->state == PROC_RUNNING)
			check_running(w, t, p, now);
		else if (p->state == PROC_EXITED || p->state == PROC_ZOMBIE)
			check_zombie(w, t, p, now);
	}
	*fresh = w->out;
	*nfresh = w->nout;
}

uint64_t procwatch__pending_deadline(const struct procwatch *w)
{
	uint64_t latest = 0;
	size_t i;

	for (i = 0; i < w->ndrivers; i++) {
		const struct driver_inst *d = w->drivers[i];
		uint64_t dl = d->end_ns + (uint64_t)w->o.force_cleanup_timeout_ms * 1000000;
		size_t k;

		if (!d->end_ns || d->checked)
			continue;
		for (k = 0; k < d->nprocs; k++)
			if (d->procs[k]->state == PROC_RUNNING)
				break;
		if (k < d->nprocs && dl > latest)
			latest = dl;
	}
	return latest;
}

void procwatch__finish(struct procwatch *w, struct proctree *t, struct proc ***procs,
		       size_t *n)
{
	uint64_t now = util__now_ns(CLOCK_BOOTTIME);
	struct proc **fresh, *p;
	struct procfs_stat st;
	size_t nfresh, i;

	procwatch__check(w, t, true, &fresh, &nfresh);
	/* a driver that ended too recently for its deadline: its tree is judged as it is now */
	for (i = 0; i < w->ndrivers; i++)
		if (w->drivers[i]->end_ns && !w->drivers[i]->checked)
			verify_termination(w, w->drivers[i], now);
	w->nout = 0;
	for (p = proctree__first(t); p; p = p->next) {
		struct proc **slot;

		if (p->state != PROC_RUNNING || !alive_now(p, &st))
			continue;
		add_leftover(w, p, LEFTOVER_OUTLIVED_COMMAND, now);
		slot = vec_push(w->out, w->nout, w->cap_out);
		if (slot)
			*slot = p;
	}
	*procs = w->out;
	*n = w->nout;
}

bool procwatch__outlived_test(struct procwatch *w, struct proc *p, uint64_t now)
{
	struct procfs_stat st;

	if (p->state != PROC_RUNNING || !alive_now(p, &st))
		return false;
	add_leftover(w, p, LEFTOVER_OUTLIVED_TEST, now);
	return true;
}

const char *leftover_reason__str(enum leftover_reason r)
{
	switch (r) {
	case LEFTOVER_OUTLIVED_DRIVER:
		return "outlived_driver";
	case LEFTOVER_OUTLIVED_COMMAND:
		return "outlived_command";
	case LEFTOVER_LIFETIME_EXCEEDED:
		return "lifetime_exceeded";
	case LEFTOVER_OUTLIVED_TEST:
		return "outlived_test";
	}
	return "unknown";
}

size_t procwatch__drivers(const struct procwatch *w, const struct driver_inst *const **out)
{
	*out = (const struct driver_inst *const *)w->drivers;
	return w->ndrivers;
}

size_t procwatch__zombies(const struct procwatch *w, const struct zombie **out)
{
	*out = w->zombies;
	return w->nzombies;
}

size_t procwatch__orphans(const struct procwatch *w, const struct orphan **out)
{
	*out = w->orphans;
	return w->norphans;
}

size_t procwatch__leftovers(const struct procwatch *w, const struct leftover **out)
{
	*out = w->leftovers;
	return w->nleftovers;
}

double zombie__duration_s(const struct zombie *z, uint64_t now_ns)
{
	uint64_t end = z->p->state == PROC_REAPED && z->p->reap_ns ? z->p->reap_ns : now_ns;

	return end > z->p->end_ns ? (end - z->p->end_ns) / 1e9 : 0;
}

uint64_t procwatch__dev_shm_kb(const struct procwatch *w, uint64_t *peak)
{
	if (peak)
		*peak = w->peak_dev_shm_kb;
	return w->dev_shm_kb;
}
