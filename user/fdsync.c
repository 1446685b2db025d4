// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "fdleaks.h"
#include "fdsync.h"
#include "fdtable.h"
#include "proctree.h"
#include "syms.h"
#include "tracer.h"

struct fd_recs {
	const struct fd_rec *v;
	size_t n;
};

int fdsync__cmp_rec(const void *a, const void *b)
{
	const struct qh_fd_key *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return (x->fd > y->fd) - (x->fd < y->fd);
}

static const struct fd_rec *find_rec(const struct fd_recs *r, uint32_t tgid, uint32_t fd)
{
	struct qh_fd_key k = { .tgid = tgid, .fd = fd };

	return r->n ? bsearch(&k, r->v, r->n, sizeof(*r->v), fdsync__cmp_rec) : NULL;
}

/* The first record of @tgid (they are sorted by tgid, then fd), or NULL. */
static const struct fd_rec *first_rec(const struct fd_recs *r, uint32_t tgid)
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

void fdsync__site(const struct fdsync_ops *ops, const struct syms_maps *m, const struct qh_fd *v,
		  char *out, size_t len)
{
	uint64_t ips[QH_MAX_STACK];
	struct syms_frame sf;
	char buf[32];
	int n, i;

	out[0] = '\0';
	if (!m)
		return;
	if (v->caller && !ops->resolve(ops->ctx, m, v->caller - 1, &sf) && sf.sym[0])
		goto found;
	n = ops->stack(ops->ctx, v->stack_id, ips, QH_MAX_STACK);
	for (i = 1; i < n; i++)
		if (!ops->resolve(ops->ctx, m, ips[i] - 1, &sf) && sf.sym[0] &&
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

/* One running process against its /proc/PID/fd. */
static void scan(const struct fdsync_ops *ops, struct fdleaks *f, struct proc *p,
		 const struct fd_recs *recs, uint64_t scan_ns, bool at_end)
{
	struct fd_table t = {};
	bool *opened = NULL;
	uint32_t *nr = NULL;
	char(*site)[96] = NULL;
	struct syms_maps *m = NULL;
	const struct fd_rec *r;
	size_t i;

	if (ops->read_table(ops->ctx, p->pid, &t))
		return; /* gone since: its exit record says what it held */
	opened = calloc(t.n + 1, sizeof(*opened));
	nr = calloc(t.n + 1, sizeof(*nr));
	if (!opened || !nr)
		goto out;
	if (ops->resolve) {
		site = calloc(t.n + 1, sizeof(*site));
		m = ops->maps(ops->ctx, p->pid, p->start_ns);
	}
	p->fd_scanned = true;
	p->fd_now = t.n;
	p->fd_untracked = 0;
	memset(p->fd_kind, 0, sizeof(p->fd_kind));
	for (i = 0; i < t.n; i++) {
		r = find_rec(recs, p->pid, t.v[i].fd);
		/* a record older than the process is a previous owner's of the pid */
		opened[i] = r && r->v.ts_ns >= p->start_ns;
		nr[i] = r ? r->v.nr : 0;
		if (opened[i] && site)
			fdsync__site(ops, m, &r->v, site[i], sizeof(site[i]));
		p->fd_untracked += !opened[i];
		p->fd_kind[t.v[i].kind & (QH_FD_KIND_SLOTS - 1)]++;
	}
	/* records of fds /proc does not show, made before this scan began: closed unseen */
	for (r = first_rec(recs, p->pid); r && r < recs->v + recs->n && r->k.tgid == p->pid;
	     r++) {
		struct fd_info want = { .fd = r->k.fd };
		struct qh_fd_key k = r->k;

		if (r->v.ts_ns >= scan_ns ||
		    bsearch(&want, t.v, t.n, sizeof(*t.v), fdtable__cmp_fd))
			continue;
		ops->forget(ops->ctx, &k);
		p->fd_stale++;
	}
	if (at_end)
		fdleaks__at_end(f, p, &t, &(struct fd_seen){ opened, nr, site }, scan_ns);
	else
		fdleaks__observe(f, p, &t, &(struct fd_seen){ opened, nr, site }, scan_ns);
out:
	syms_maps__free(m);
	free(site);
	free(opened);
	free(nr);
	fdtable__free(&t);
}

void fdsync__check(const struct fdsync_ops *ops, struct proctree *t, struct fdleaks *f,
		   struct fd_rec *recs, size_t n, uint64_t scan_ns, bool at_end)
{
	struct fd_recs r = { recs, n };
	struct proc *p;

	if (n)
		qsort(recs, n, sizeof(*recs), fdsync__cmp_rec);
	for (p = proctree__first(t); p; p = p->next)
		if (p->state == PROC_RUNNING)
			scan(ops, f, p, &r, scan_ns, at_end);
}
