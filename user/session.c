// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/epoll.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fdtable.h"
#include "alerts.h"
#include "log.h"
#include "procfs.h"
#include "outputs.h"
#include "session.h"
#include "syms.h"
#include "util.h"

/* max files the symbolizer keeps open */
#define SYMS_MAX_FILES 64
/* how long to wait at the end for the release records of processes just reaped */
#define SETTLE_MS 300

/*
 * A newer snapshot of @p's mappings, if /proc still has them: a process that has exited
 * shows none, and the one it has stays.
 */
static void refresh_maps(struct proc *p)
{
	struct syms_maps *m = syms_maps__snapshot(p->pid);

	if (m && syms_maps__count(m))
		proctree__set_maps(p, m);
	else
		syms_maps__free(m);
}

/* The program's text mapping as the kernel saw it at exec, for when /proc came too late. */
static void exec_maps(struct proc *p, const struct qh_event_exec *e)
{
	char line[QH_FILENAME_LEN + 128];

	if (!e->text_ino || !p->exe || p->exe[0] != '/')
		return;
	snprintf(line, sizeof(line), "%lx-%lx r-xp %08lx %x:%x %lu %s\n",
		 (unsigned long)e->text_start, (unsigned long)e->text_end,
		 (unsigned long)e->text_pgoff * sysconf(_SC_PAGESIZE),
		 (unsigned int)(e->text_dev >> 20), (unsigned int)(e->text_dev & 0xfffff),
		 (unsigned long)e->text_ino, p->exe);
	proctree__set_maps(p, syms_maps__parse(p->pid, line));
}

struct session_events {
	struct tracer *tr;
	struct procwatch *watch;
	bool harvest_due;	/* a process exited or exec'd since the last harvest of heap blocks */
	struct proctree *tree;
	struct outputs *out;
	bool heap;
};

/*
 * With --heap, each process's executable mappings are snapshotted when it appears, when it
 * execs (the kernel has mapped the program and its interpreter) and when the dynamic loader
 * maps the probed C library (the libraries are loading), so the stacks of processes that exit
 * before the end still resolve. Processes still running are snapshotted again at the end.
 */
static int on_event(void *ctx, void *data, size_t size)
{
	const struct qh_event_hdr *h = data;
	struct session_events *c = ctx;
	struct proc *p;

	proctree__handle_event(c->tree, data, size);
	outputs__event(c->out, c->tree, data, size);
	procwatch__handle_event(c->watch, c->tree, data, size);
	if (!c->heap || size < sizeof(*h))
		return 0;
	if (h->type == QH_EV_EXIT) {
		c->harvest_due = true;
		return 0;
	}
	/* the replaced image's blocks are dead: a harvest takes them out */
	if (h->type == QH_EV_EXEC)
		c->harvest_due = true;
	if (h->type == QH_EV_LIBC_NEW && size >= sizeof(struct qh_event_libc)) {
		const struct qh_event_libc *e = data;
		char path[PATH_MAX];

		/* the file as that process mapped it, wherever its mount namespace puts it */
		if (tracer__find_file(h->pid, e->dev, e->ino, path, sizeof(path)) ||
		    tracer__attach_heap(c->tr, path))
			pr_warn("pid %u: its C library could not be probed: its heap is not followed\n",
				h->pid);
		else
			pr_debug("pid %u maps another C library: probed %s\n", h->pid, path);
		return 0;
	}
	if (h->type != QH_EV_EXEC && h->type != QH_EV_FORK && h->type != QH_EV_LIBC)
		return 0;
	p = proctree__find(c->tree, h->pid, h->start_ns);
	if (!p)
		return 0;
	if (h->type == QH_EV_EXEC && size >= sizeof(struct qh_event_exec))
		exec_maps(p, data);
	/* a child maps what its parent did, whether or not it is still there to read */
	if (h->type == QH_EV_FORK && !p->maps) {
		struct proc *parent = proctree__find_running(c->tree, p->ppid);

		if (parent && parent->maps)
			proctree__set_maps(p, syms_maps__clone(parent->maps, p->pid));
	}
	refresh_maps(p);
	return 0;
}

int session__seed(struct tracer *tr, struct proctree *t, pid_t pid)
{
	struct qh_proc seed = {};
	struct procfs_stat st;
	char exe[PATH_MAX];
	struct proc *p;
	int err;

	err = procfs__read_stat(pid, &st);
	if (err)
		return err;
	seed.start_ns = st.start_ns;
	seed.ppid = st.ppid;
	seed.threads = seed.threads_peak = st.threads;
	/* growth is measured from now; the kernel adds the split by kind when it adopts the mm */
	seed.base_rss_pages = seed.peak_rss_pages = st.rss_pages;
	/* the split by kind, until the kernel adopts the mm (at its first memory syscall); the
	 * base from the same source, so an idle process has not grown */
	if (!procfs__read_rss(pid, seed.rss_pages))
		seed.base_rss_pages = seed.peak_rss_pages = seed.rss_pages[MM_FILEPAGES] +
							    seed.rss_pages[MM_ANONPAGES] +
							    seed.rss_pages[MM_SHMEMPAGES];
	seed.flags = QH_PF_START_SEEDED;
	/* the kernel side follows the count from here, fd by fd */
	err = fdtable__count(pid);
	seed.fd_open = seed.fd_peak = err > 0 ? err : 0;
	if (tracer__maps_probed_libc(tr, pid))
		seed.flags |= QH_PF_HEAP_HOOKED;
	err = tracer__trace_pid(tr, pid, &seed);
	if (err)
		return err;
	p = proctree__add(t, pid, st.start_ns);
	if (!p)
		return -ENOMEM;
	p->seeded = true;
	p->ppid = st.ppid;
	p->stats = seed;
	snprintf(p->comm, sizeof(p->comm), "%s", st.comm);
	if (!procfs__exe(pid, exe, sizeof(exe)))
		proctree__set_exe(p, exe);
	return 0;
}

/*
 * Bring the model up to date at the end: counters of processes still running come from the
 * kernel map, and /proc says which exited processes are zombies and which are gone.
 */
static void finalize_states(struct tracer *tr, struct proctree *t)
{
	struct procfs_stat st;
	struct qh_proc cur;
	struct proc *p;

	for (p = proctree__first(t); p; p = p->next) {
		bool alive = !procfs__read_stat(p->pid, &st) &&
			     procfs__same_start(st.start_ns, p->start_ns);

		switch (p->state) {
		case PROC_RUNNING:
			if (!tracer__lookup(tr, p->pid, &cur) &&
			    procfs__same_start(cur.start_ns, p->start_ns))
				p->stats = cur;
			/* a seeded process whose mm the kernel never adopted: /proc knows its RSS */
			if (alive && !p->stats.mm && !procfs__read_rss(p->pid, p->stats.rss_pages)) {
				uint64_t rss = p->stats.rss_pages[MM_FILEPAGES] +
					       p->stats.rss_pages[MM_ANONPAGES] +
					       p->stats.rss_pages[MM_SHMEMPAGES];

				if (rss > p->stats.peak_rss_pages)
					p->stats.peak_rss_pages = rss;
			}
			if (alive && st.state == 'Z')
				p->state = PROC_ZOMBIE;
			else if (!alive)
				p->state = PROC_EXITED; /* its exit record was lost */
			break;
		case PROC_EXITED:
			if (alive)
				p->state = PROC_ZOMBIE;
			else
				p->state = PROC_REAPED;
			break;
		default:
			break;
		}
	}
}

#define STACK_CACHE 4096 /* power of two */

struct collect_ctx {
	struct tracer *tr;
	struct proctree *tree;
	struct heapleaks *leaks;
	uint64_t now;
	bool harvest;			/* only blocks of exited processes, taken out of the map */
	struct qh_alloc_key *taken;	/* harvest: keys to delete once the walk is over */
	size_t ntaken, cap;
	struct {
		const struct proc *proc;
		int64_t id;
		uint64_t key;
	} cache[STACK_CACHE];
};

/* frame 0 of a kernel stack is inside the allocator: the caller is read apart */
#define STACK_FIRST_FRAME 1

/*
 * The part of a kernel stack that means something: its frames up to the first address no
 * file mapping of the process holds (past the last frame-pointer frame the walk reads
 * garbage, which differs from call to call), hashed.
 */
static uint64_t stack_key(struct collect_ctx *c, const struct proc *p, int64_t id)
{
	size_t slot = ((uint64_t)id * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)p) & (STACK_CACHE - 1);
	uint64_t ips[QH_MAX_STACK], key = 1469598103934665603ULL;
	int n, i;

	if (id < 0)
		return 0;
	if (c->cache[slot].proc == p && c->cache[slot].id == id)
		return c->cache[slot].key;
	n = tracer__stack(c->tr, id, ips, QH_MAX_STACK);
	for (i = STACK_FIRST_FRAME; i < n; i++) {
		if (!p->maps || !syms_maps__find(p->maps, ips[i]))
			break;
		key = (key ^ ips[i]) * 1099511628211ULL;
	}
	c->cache[slot].proc = p;
	c->cache[slot].id = id;
	c->cache[slot].key = key;
	return key;
}

/* Harvest: remember @k, to delete from the map once the walk is over. */
static int take(struct collect_ctx *c, const struct qh_alloc_key *k)
{
	if (c->ntaken == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4096;
		struct qh_alloc_key *t = reallocarray(c->taken, cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		c->taken = t;
		c->cap = cap;
	}
	c->taken[c->ntaken++] = *k;
	return 0;
}

static int collect_one(void *ctx, const struct qh_alloc_key *k, const struct qh_alloc *a)
{
	struct collect_ctx *c = ctx;
	struct proc *p = proctree__find_gen(c->tree, k->tgid, k->gen), *h;
	uint64_t key;
	int err;

	/* blocks of an image replaced by exec died with it: out of the map */
	if (!p) {
		if (c->harvest && proctree__is_dead_gen(c->tree, k->tgid, k->gen))
			return take(c, k);
		return 0;
	}
	if (c->harvest) {
		if (p->state == PROC_RUNNING)
			return 0;
		/* a running child that inherited the block still needs it in the map */
		for (h = p->heir; h; h = h->next_heir)
			if (h->state == PROC_RUNNING && a->epoch < h->stats.inherit_epoch)
				return 0;
		err = take(c, k);
		if (err)
			return err;
	}
	key = stack_key(c, p, a->stack_id);
	err = heapleaks__add(c->leaks, p, a, key, false, c->now);
	/* children forked after the block was made have a copy, unless they freed it */
	for (h = p->heir; h && !err; h = h->next_heir) {
		struct qh_alloc_key hk = { .tgid = h->pid, .gen = h->stats.heap_gen, .addr = k->addr };

		if (a->epoch < h->stats.inherit_epoch && !tracer__inherited_freed(c->tr, &hk))
			err = heapleaks__add(c->leaks, h, a, key, true, c->now);
	}
	return err;
}

/* Link each forked child to the parent (and generation) whose blocks it inherited. */
static void link_heirs(struct proctree *t)
{
	struct proc *p, *parent;

	for (p = proctree__first(t); p; p = p->next)
		p->heir = p->next_heir = NULL;
	for (p = proctree__first(t); p; p = p->next) {
		if (!p->stats.inherit_tgid)
			continue;
		parent = proctree__find_gen(t, p->stats.inherit_tgid, p->stats.inherit_gen);
		if (!parent || parent == p)
			continue;
		p->next_heir = parent->heir;
		parent->heir = p;
	}
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/*
 * The stack of a finding: the caller read at the allocator's entry, then what the kernel
 * unwound beyond it (its frame 0 is inside the allocator). Frames stop at the first address
 * no file mapping holds: without frame pointers the walk runs into garbage.
 */
static void resolve_frames(struct tracer *tr, struct syms *sy, struct heap_leak *l)
{
	uint64_t ips[QH_MAX_STACK + 1];
	struct heap_frame *frames;
	int n = 0, m, i;
	size_t k = 0;

	ips[n++] = l->caller;
	m = tracer__stack(tr, l->stack_id, ips + 1, QH_MAX_STACK);
	for (i = STACK_FIRST_FRAME; i < m; i++)
		ips[n++] = ips[1 + i];
	frames = calloc(n, sizeof(*frames));
	if (!frames)
		return;
	for (i = 0; i < n; i++) {
		struct syms_frame sf;
		struct heap_frame *f = &frames[k];

		/* a return address: addr - 1 lies in the call instruction */
		if (!l->proc->maps || syms__resolve(sy, l->proc->maps, ips[i] - 1, &sf)) {
			if (i > 0)
				break;
			f->addr = ips[i];
			k++;
			continue;
		}
		f->addr = ips[i];
		f->symbol = dup_or_null(sf.sym);
		f->offset = sf.sym[0] ? sf.sym_off + 1 : 0;
		f->module = dup_or_null(sf.module);
		f->file = dup_or_null(sf.file);
		f->line = sf.line;
		k++;
	}
	heap_leak__set_frames(l, frames, k);
}

/*
 * Every live block the kernel holds, into @leaks (grouped, not yet symbolized). With
 * @harvest, only the blocks of processes that have exited (nothing can free them now): they
 * go into @leaks for good and out of the kernel map, so it holds what can still change.
 */
static int collect_blocks(struct tracer *tr, struct proctree *t, struct heapleaks *leaks,
			  bool harvest)
{
	struct collect_ctx *c = calloc(1, sizeof(*c));
	struct proc *p;
	size_t i;
	int err;

	if (!c)
		return -ENOMEM;
	c->tr = tr;
	c->tree = t;
	c->leaks = leaks;
	c->harvest = harvest;
	/* processes still running may have loaded more libraries */
	for (p = proctree__first(t); p; p = p->next)
		if (p->state == PROC_RUNNING)
			refresh_maps(p);
	link_heirs(t);
	c->now = util__now_ns(CLOCK_BOOTTIME);
	err = tracer__for_each_alloc(tr, collect_one, c);
	for (i = 0; i < c->ntaken; i++)
		tracer__forget_alloc(tr, &c->taken[i]);
	if (harvest && c->ntaken)
		pr_debug("heap: %zu blocks of exited processes taken out of the map\n", c->ntaken);
	if (!harvest)
		heapleaks__finish(leaks, c->now);
	free(c->taken);
	free(c);
	return err;
}

static int collect_heap_leaks(struct tracer *tr, struct proctree *t, struct heapleaks *leaks,
			      const struct heaptrend *trend)
{
	struct syms *sy;
	size_t i;
	int err;

	err = collect_blocks(tr, t, leaks, false);
	if (err)
		return err;
	heaptrend__apply(trend, leaks);
	sy = syms__new(SYMS_MAX_FILES);
	if (!sy)
		return -errno;
	for (i = 0; i < heapleaks__count(leaks); i++)
		resolve_frames(tr, sy, heapleaks__get(leaks, i));
	syms__free(sy);
	heapleaks__merge_same_frames(leaks);
	return 0;
}

/* fd records of every traced process, sorted by (tgid, fd) */
struct fd_recs {
	struct fd_rec {
		struct qh_fd_key k;
		struct qh_fd v;
	} *v;
	size_t n, cap;
};

static int add_fd_rec(void *ctx, const struct qh_fd_key *k, const struct qh_fd *v)
{
	struct fd_recs *r = ctx;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 1024;
		struct fd_rec *nv = reallocarray(r->v, cap, sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		r->v = nv;
		r->cap = cap;
	}
	r->v[r->n].k = *k;
	r->v[r->n++].v = *v;
	return 0;
}

static int cmp_fd_rec(const void *a, const void *b)
{
	const struct qh_fd_key *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

static const struct fd_rec *find_fd_rec(const struct fd_recs *r, uint32_t tgid, uint32_t fd)
{
	struct qh_fd_key k = { .tgid = tgid, .fd = fd };

	return r->n ? bsearch(&k, r->v, r->n, sizeof(*r->v), cmp_fd_rec) : NULL;
}

/* The first record of @tgid (they are sorted by tgid, then fd), or NULL. */
static const struct fd_rec *first_fd_rec(const struct fd_recs *r, uint32_t tgid)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->v[mid].k.tgid < tgid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < r->n && r->v[lo].k.tgid == tgid ? &r->v[lo] : NULL;
}

/*
 * Reconcile one running process with /proc/PID/fd: which of its fds were seen opened, which
 * were not (inherited, received over SCM_RIGHTS, open before tracing), and which records
 * name fds that are closed (a close that was not seen). Then feed the findings: a periodic
 * check looks for growth, the end for what survivors hold.
 */
/*
 * --fd-stacks: "openat in leak_files (fdleak.c:42)". The caller the kernel side found on the
 * stack names the function; without one, the first frame of the kernel's walk past the C
 * library's wrapper.
 */
static void fd_site(struct session *s, struct syms *sy, const struct syms_maps *m,
		    const struct qh_fd *v, char *out, size_t len)
{
	uint64_t ips[QH_MAX_STACK];
	struct syms_frame sf;
	char buf[32];
	int n, i;

	out[0] = '\0';
	if (!m)
		return;
	if (v->caller && !syms__resolve(sy, m, v->caller - 1, &sf) && sf.sym[0])
		goto found;
	n = tracer__stack(s->tr, v->stack_id, ips, QH_MAX_STACK);
	for (i = 1; i < n; i++)
		if (!syms__resolve(sy, m, ips[i] - 1, &sf) && sf.sym[0] &&
		    !strstr(sf.module, "/libc.so"))
			goto found;
	return;
found:
	if (sf.line)
		snprintf(out, len, "%s in %.40s (%.24s:%u)", fd_syscall__str(v->nr, buf, sizeof(buf)),
			 sf.sym, strrchr(sf.file, '/') ? strrchr(sf.file, '/') + 1 : sf.file,
			 sf.line);
	else
		snprintf(out, len, "%s in %.64s", fd_syscall__str(v->nr, buf, sizeof(buf)),
			 sf.sym);
}

static void fd_scan(struct session *s, struct proc *p, const struct fd_recs *recs,
		    struct syms *sy, uint64_t scan_ns, bool at_end)
{
	struct fd_table t;
	bool *opened = NULL;
	uint32_t *nr = NULL;
	char(*site)[96] = NULL;
	struct syms_maps *m = NULL;
	const struct fd_rec *r;
	size_t i;

	if (fdtable__read(p->pid, &t))
		return; /* gone since: its exit record says what it held */
	opened = calloc(t.n + 1, sizeof(*opened));
	nr = calloc(t.n + 1, sizeof(*nr));
	if (!opened || !nr)
		goto out;
	if (sy) {
		site = calloc(t.n + 1, sizeof(*site));
		m = syms_maps__snapshot(p->pid);
	}
	p->fd_scanned = true;
	p->fd_now = t.n;
	p->fd_untracked = 0;
	memset(p->fd_kind, 0, sizeof(p->fd_kind));
	for (i = 0; i < t.n; i++) {
		r = find_fd_rec(recs, p->pid, t.v[i].fd);
		/* a record older than the process is a previous owner's of the pid */
		opened[i] = r && r->v.ts_ns >= p->start_ns;
		nr[i] = r ? r->v.nr : 0;
		if (opened[i] && site)
			fd_site(s, sy, m, &r->v, site[i], sizeof(site[i]));
		p->fd_untracked += !opened[i];
		p->fd_kind[t.v[i].kind & (QH_FD_KIND_SLOTS - 1)]++;
	}
	/* records of fds /proc does not show, made before this scan began: closed unseen */
	for (r = first_fd_rec(recs, p->pid); r && r < recs->v + recs->n && r->k.tgid == p->pid;
	     r++) {
		struct fd_info want = { .fd = r->k.fd };
		struct qh_fd_key k = r->k;

		if (r->v.ts_ns >= scan_ns ||
		    bsearch(&want, t.v, t.n, sizeof(*t.v), fdtable__cmp_fd))
			continue;
		tracer__forget_fd(s->tr, &k);
		p->fd_stale++;
	}
	if (at_end)
		fdleaks__at_end(s->fdleaks, p, &t, &(struct fd_seen){ opened, nr, site }, scan_ns);
	else
		fdleaks__observe(s->fdleaks, p, &t, &(struct fd_seen){ opened, nr, site },
				 scan_ns);
out:
	syms_maps__free(m);
	free(site);
	free(opened);
	free(nr);
	fdtable__free(&t);
}

static void fd_check(struct session *s, bool at_end)
{
	struct fd_recs recs = {};
	uint64_t now = util__now_ns(CLOCK_BOOTTIME);
	struct syms *sy = NULL;
	struct proc *p;

	if (s->o->no_fds || !s->fdleaks)
		return;
	/* --fd-stacks: one symbolizer for the check, its files shared by the processes */
	if (s->o->fd_stacks)
		sy = syms__new(SYMS_MAX_FILES);
	if (tracer__for_each_fd(s->tr, add_fd_rec, &recs))
		pr_warn("fd check: failed to read the kernel's fd records\n");
	if (recs.n)
		qsort(recs.v, recs.n, sizeof(*recs.v), cmp_fd_rec);
	for (p = proctree__first(s->tree); p; p = p->next)
		if (p->state == PROC_RUNNING)
			fd_scan(s, p, &recs, sy, now, at_end);
	syms__free(sy);
	free(recs.v);
}

static bool any_exited(struct proctree *t)
{
	struct proc *p;

	for (p = proctree__first(t); p; p = p->next)
		if (p->state == PROC_EXITED)
			return true;
	return false;
}


int session__preflight(const struct attach_opts *o)
{
	char why[PATH_MAX + 64];

	if (o->verbose)
		log__set_level(QH_LOG_DEBUG);
	if (o->output && util__check_output(o->output, why, sizeof(why))) {
		pr_err("cannot write the report to %s: %s\n", o->output, why);
		return QH_EXIT_USAGE;
	}
	if (outputs__preflight(o))
		return QH_EXIT_USAGE;
	return tracer__preflight() ? QH_EXIT_ERROR : 0;
}

int session__signals(sigset_t *oldmask, bool children)
{
	sigset_t mask;
	int sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (children) {
		sigaddset(&mask, SIGCHLD);
		sigaddset(&mask, SIGQUIT);
	}
	sigprocmask(SIG_BLOCK, &mask, oldmask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		pr_err("failed to create signalfd: %s\n", strerror(errno));
	return sfd;
}

/* RSS of a running process for the driver trees: the kernel's counters, if it still is ours */
static int watch_rss(void *ctx, const struct proc *p, uint64_t pages[QH_NR_RSS])
{
	struct qh_proc cur;
	int err = tracer__lookup(ctx, p->pid, &cur);

	if (err)
		return err;
	if (!procfs__same_start(cur.start_ns, p->start_ns))
		return -ESRCH;
	memcpy(pages, cur.rss_pages, sizeof(cur.rss_pages));
	return 0;
}

int session__open(struct session *s, const struct attach_opts *o, const char *libc, int sfd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->efd = -1;
	s->tree = proctree__new();
	s->actx = calloc(1, sizeof(*s->actx));
	s->trend = heaptrend__new();
	s->fdleaks = fdleaks__new(o->resource_leak_count);
	if (o->heap)
		s->leaks = heapleaks__new(&(struct heapleaks_opts){
			.threshold_bytes = (uint64_t)o->leak_threshold_mb << 20,
			.by_count = o->sort_by_count,
			.min_age_ns = (uint64_t)o->min_age_s * NSEC_PER_SEC,
		});
	if (!s->tree || !s->actx || !s->trend || !s->fdleaks || (o->heap && !s->leaks)) {
		pr_err("out of memory\n");
		return -ENOMEM;
	}
	s->actx->tree = s->tree;
	s->actx->heap = o->heap;
	err = outputs__open(&s->out, o);
	if (err)
		return err;
	s->actx->out = s->out;
	err = tracer__open(&s->tr, &(struct tracer_opts){
					   .max_procs = o->max_procs,
					   .ringbuf_kb = o->ringbuf_kb,
					   .heap = o->heap,
					   .max_allocs = o->max_allocs,
					   .stacks = o->stacks,
					   .heap_probes = o->heap_probes,
					   .heap_root = o->heap_root,
					   .sample_rate = o->sample_rate,
					   .min_size = o->min_size,
					   .max_size = o->max_size,
					   .no_fds = o->no_fds,
					   .fd_probes = o->fd_probes,
					   .fd_stacks = o->fd_stacks,
					   .max_fds = o->max_fds,
					   .on_event = on_event,
					   .ctx = s->actx,
				   });
	if (err)
		return err;
	s->actx->tr = s->tr;
	s->watch = procwatch__new(&o->watch, watch_rss, s->tr);
	if (s->watch)
		procwatch__set_alerts(s->watch, outputs__alerts(s->out));
	if (o->watch.auto_cleanup)
		s->cleanup = cleanup__new(&(struct cleanup_opts){
			.timeout_ms = o->watch.force_cleanup_timeout_ms,
			.max_attempts = o->watch.max_cleanup_attempts,
		});
	if (!s->watch || (o->watch.auto_cleanup && !s->cleanup)) {
		pr_err("out of memory\n");
		return -ENOMEM;
	}
	s->actx->watch = s->watch;
	if (o->heap) {
		err = tracer__attach_heap(s->tr, libc);
		if (err)
			return err;
	}
	s->efd = epoll_create1(EPOLL_CLOEXEC);
	if (s->efd < 0) {
		err = -errno;
		pr_err("failed to create epoll: %s\n", strerror(-err));
		return err;
	}
	/* without either, records or signals would wait for the end of the run */
	ev.data.fd = tracer__epoll_fd(s->tr);
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		err = -errno;
		pr_err("failed to watch the ring buffer: %s\n", strerror(-err));
		return err;
	}
	ev.data.fd = sfd;
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, sfd, &ev)) {
		err = -errno;
		pr_err("failed to watch signals: %s\n", strerror(-err));
		return err;
	}
	/* the loader's transient memory (vmlinux BTF, ELF) is not needed any more */
	malloc_trim(0);
	return 0;
}

void session__close(struct session *s)
{
	if (s->efd >= 0)
		close(s->efd);
	tracer__free(s->tr);
	procwatch__free(s->watch);
	cleanup__free(s->cleanup);
	heapleaks__free(s->leaks);
	heaptrend__free(s->trend);
	fdleaks__free(s->fdleaks);
	proctree__free(s->tree);
	outputs__close(s->out);
	free(s->actx);
	memset(s, 0, sizeof(*s));
	s->efd = -1;
}

int session__trace_pid(struct session *s, pid_t pid)
{
	struct proc *p;
	int err = session__seed(s->tr, s->tree, pid);

	if (err) {
		pr_err("failed to trace pid %d: %s\n", pid, strerror(-err));
		return err;
	}
	p = proctree__find_running(s->tree, pid);
	if (p && s->o->heap)
		refresh_maps(p);
	/* its fd counts now are the baseline growth is measured from */
	fd_check(s, false);
	return 0;
}

void session__set_command(struct session *s, pid_t pid)
{
	procwatch__set_root(s->watch, proctree__find_running(s->tree, pid));
	cleanup__keep_child(s->cleanup, pid);
}

/* With --cleanup, terminate @n leftovers now and verify they are gone. */
static void clean(struct session *s, struct proc **procs, size_t n)
{
	if (!s->cleanup || !n)
		return;
	pr_debug("cleanup: %zu process%s\n", n, n == 1 ? "" : "es");
	if (cleanup__run(s->cleanup, s->tree, procs, n))
		pr_warn("cleanup: out of memory: %zu processes not cleaned up\n", n);
	tracer__consume(s->tr);
}

/*
 * Freed blocks' records wait in `allocs` for the next block at their address. A sweep walks
 * the whole map in the kernel (~35 ms a second for 200,000 live blocks here), so it runs when
 * dead records would fill a sixteenth of the map, when the map was found full, or at most
 * every 30 s while any wait; a workload that reuses its addresses needs none.
 */
static int sweep_heap(struct session *s, uint64_t now)
{
	uint64_t st[QH_STAT_MAX], dead;
	uint64_t cap = s->o->max_allocs ? s->o->max_allocs : QH_DEFAULT_MAX_ALLOCS;
	int err = tracer__stats(s->tr, st);

	if (err)
		return err;
	dead = st[QH_STAT_HEAP_FREED] - st[QH_STAT_HEAP_REUSED] - s->sweep_dead;
	if ((int64_t)dead <= 0 && st[QH_STAT_ALLOCS_FULL] == s->sweep_full)
		return 0;
	if (dead < cap / 16 && st[QH_STAT_ALLOCS_FULL] == s->sweep_full &&
	    now < s->last_sweep_ns + 30 * NSEC_PER_SEC)
		return 0;
	s->last_sweep_ns = now;
	s->sweep_dead = st[QH_STAT_HEAP_FREED] - st[QH_STAT_HEAP_REUSED];
	s->sweep_full = st[QH_STAT_ALLOCS_FULL];
	return tracer__sweep_allocs(s->tr);
}

void session__tick(struct session *s)
{
	uint64_t now = util__now_ns(CLOCK_MONOTONIC), rss_kb = 0, n = 0;
	struct heapleaks *h;
	struct qh_proc cur;
	struct proc *p, **fresh;
	size_t nfresh;
	int err;

	procwatch__check(s->watch, s->tree, false, &fresh, &nfresh);
	/* the trees of drivers that ended and left processes behind */
	clean(s, fresh, nfresh);
	/* monitoring_interval: the tree's memory, logged and held against the alert threshold */
	if (outputs__tick(s->out, now)) {
		for (p = proctree__first(s->tree); p; p = p->next) {
			if (p->state != PROC_RUNNING || tracer__lookup(s->tr, p->pid, &cur) ||
			    !procfs__same_start(cur.start_ns, p->start_ns))
				continue;
			rss_kb += outputs__memory_proc(s->out, p, &cur, sysconf(_SC_PAGESIZE));
			n++;
		}
		outputs__memory_total(s->out, rss_kb, n);
	}
	if (s->o->heap && now >= s->next_sweep_ns) {
		s->next_sweep_ns = now + NSEC_PER_SEC;
		err = sweep_heap(s, now);
		if (err)
			pr_warn("heap: sweeping freed blocks' records failed: %s\n",
				strerror(-err));
	}
	if (s->o->heap && s->actx->harvest_due) {
		s->actx->harvest_due = false;
		if (collect_blocks(s->tr, s->tree, s->leaks, true))
			pr_warn("heap: failed to collect the blocks of exited processes\n");
	}
	if (!s->o->check_interval_s)
		return;
	if (!s->next_check_ns) {
		s->next_check_ns = now + s->o->check_interval_s * NSEC_PER_SEC;
		return;
	}
	if (now < s->next_check_ns)
		return;
	s->next_check_ns = now + s->o->check_interval_s * NSEC_PER_SEC;
	fd_check(s, false);
	if (!s->o->heap)
		return;
	/* every live block counts at a check: growth, not age, is what it looks for */
	h = heapleaks__new(&(struct heapleaks_opts){ .threshold_bytes = UINT64_MAX });
	if (!h || collect_blocks(s->tr, s->tree, h, false) || heaptrend__observe(s->trend, h))
		pr_warn("heap check failed: trends will miss it\n");
	else
		outputs__heap_check(s->out, h);
	heapleaks__free(h);
}

static void reap_ours(struct session *s, pid_t keep)
{
	pid_t pid;
	int st;

	/* orphans re-parented to us (we are a subreaper) that exited, and alert hooks */
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == keep)
			break;
		alerts__reaped(outputs__alerts(s->out), pid, st);
	}
}

void session__finish(struct session *s, pid_t cmd_pid)
{
	struct proc **left;
	uint64_t deadline;
	size_t n;

	tracer__consume(s->tr);
	/* the trees of drivers that just ended get their force_cleanup_timeout to go away */
	while ((deadline = procwatch__pending_deadline(s->watch)) &&
	       util__now_ns(CLOCK_BOOTTIME) < deadline) {
		struct epoll_event e;

		epoll_wait(s->efd, &e, 1, 50);
		tracer__consume(s->tr);
		reap_ours(s, cmd_pid);
	}
	procwatch__finish(s->watch, s->tree, &left, &n);
	if (n && !s->cleanup)
		pr_warn("%zu traced process%s still running after the command exited (--cleanup "
			"terminates them)\n", n, n == 1 ? " is" : "es are");
	clean(s, left, n);
	reap_ours(s, cmd_pid);
	/* the trees' memory after the cleanup */
	if (n && s->cleanup)
		procwatch__check(s->watch, s->tree, true, &left, &n);
}

void session__drain(struct session *s, int ms)
{
	uint64_t t0 = util__now_ns(CLOCK_MONOTONIC);

	tracer__consume(s->tr);
	while (any_exited(s->tree) && util__now_ns(CLOCK_MONOTONIC) - t0 < ms * 1000000ULL) {
		struct epoll_event e;

		epoll_wait(s->efd, &e, 1, 20);
		tracer__consume(s->tr);
	}
}

int session__report(struct session *s, struct run_info *ri)
{
	const struct attach_opts *o = s->o;
	static struct utsname uts;
	cJSON *root;
	int err = 0;

	session__drain(s, SETTLE_MS);
	finalize_states(s->tr, s->tree);
	fd_check(s, true);
	if (!o->no_fds)
		outputs__fd_findings(s->out, s->fdleaks);
	if (o->heap) {
		if (collect_heap_leaks(s->tr, s->tree, s->leaks, s->trend))
			pr_warn("failed to collect the heap findings: the report has none\n");
		outputs__heap_findings(s->out, s->leaks);
	}
	ri->duration_s = (util__now_ns(CLOCK_REALTIME) - ri->start_real_ns) / 1e9;
	ri->kernel = uname(&uts) ? "unknown" : uts.release;
	ri->probes = tracer__probes(s->tr);
	ri->events_received = proctree__events(s->tree);
	ri->orphan_events = proctree__orphan_events(s->tree);
	ri->page_size = sysconf(_SC_PAGESIZE);
	ri->heap = o->heap;
	ri->heap_leaks = s->leaks;
	ri->fds = !o->no_fds;
	ri->fd_leaks = s->fdleaks;
	ri->top = o->top;
	ri->watch = s->watch;
	ri->cleanup = s->cleanup;
	if (tracer__stats(s->tr, ri->stats))
		pr_warn("failed to read the kernel's loss counters\n");

	if (!o->quiet)
		report__summary(stderr, s->tree, ri);
	else if (report__lost(ri))
		pr_warn("%lu events lost: the report is incomplete\n",
			(unsigned long)report__lost(ri));
	root = report__build(s->tree, ri);
	if (!root) {
		pr_err("out of memory\n");
		return -ENOMEM;
	}
	err = outputs__finish(s->out, root, ri);
	if (o->output) {
		int werr = report__write_json(o->output, root);

		if (werr)
			pr_err("failed to write the report to %s: %s\n", o->output, strerror(-werr));
		err = err ?: werr;
	}
	cJSON_Delete(root);
	return err;
}
