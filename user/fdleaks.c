// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdleaks.h"
#include "htab.h"
#include "vec.h"

/* a group's reason is one of these, compared by address */
static const char REASON_GROWING[] = "growing";
static const char REASON_AT_END[] = "open_at_end";
static const char REASON_AT_EXIT[] = "open_at_exit";


/* A group's history: one per (process, kind, pattern, state) ever seen at a check. */
struct group {
	struct fd_leak l;
	uint64_t first_ns;
	uint64_t prev;	/* count at the previous check */
	bool flagged;	/* a finding */
	bool seen_now;	/* in the table being applied */
	struct hnode hnode;
};

struct fdleaks {
	uint64_t threshold;
	struct group *g;
	size_t n, cap;
	bool sorted;
	/* the groups by key; rebuilt after they move (a sort, a larger array) */
	struct htab by_key;
	bool stale;
};

struct fdleaks *fdleaks__new(uint64_t threshold)
{
	struct fdleaks *f = calloc(1, sizeof(*f));

	if (f)
		f->threshold = threshold ? threshold : QH_DEFAULT_RESOURCE_LEAK_COUNT;
	return f;
}

void fdleaks__free(struct fdleaks *f)
{
	if (!f)
		return;
	free(f->g);
	htab__free(&f->by_key);
	free(f);
}

void fdleaks__for_each_flagged(const struct fdleaks *f, void (*fn)(void *ctx, const struct proc *p),
				void *ctx)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->g[i].flagged)
			fn(ctx, f->g[i].l.proc);
}

size_t fdleaks__forget(struct fdleaks *f, bool (*gone)(void *ctx, const struct proc *p), void *ctx)
{
	size_t i, j, n = f->n;

	for (i = j = 0; i < f->n; i++) {
		if (!f->g[i].flagged && gone(ctx, f->g[i].l.proc))
			continue;
		if (i != j)
			f->g[j] = f->g[i];
		j++;
	}
	if (j != n) {
		f->n = j;
		f->stale = true; /* the table's nodes moved */
	}
	return n - j;
}

bool fd_leak__is_socket(const struct fd_leak *l)
{
	return l->kind == QH_FD_SOCKET && l->tcp_state;
}

static uint64_t group_hash(const struct proc *p, uint32_t kind, const char *pattern, int state,
			   const char *reason)
{
	/* reasons are static strings, compared by address */
	return htab__mix(htab__str(HTAB_SEED, pattern) ^
			 htab__mix((uintptr_t)p ^ htab__mix(kind ^ ((uint64_t)(uint32_t)state << 32) ^
							    htab__mix((uintptr_t)reason))));
}

static void reindex(struct fdleaks *f)
{
	size_t i;

	htab__clear(&f->by_key);
	for (i = 0; i < f->n; i++)
		htab__add(&f->by_key, &f->g[i].hnode, f->g[i].hnode.hash);
	f->stale = false;
}

/* The group of (process, kind, pattern, state, reason), made if new; NULL without memory. */
static struct group *find(struct fdleaks *f, const struct proc *p, uint32_t kind,
			  const char *pattern, int state, const char *reason)
{
	char target[FD_TARGET_LEN];
	struct group *g;
	struct hnode *n;
	size_t cap;
	uint64_t h;

	/* the group keeps the pattern cut to its size: look it up the same way */
	snprintf(target, sizeof(target), "%s", pattern);
	h = group_hash(p, kind, target, state, reason);
	if (f->stale)
		reindex(f);
	for (n = htab__first(&f->by_key, h); n; n = htab__next(n)) {
		g = htab_entry(n, struct group, hnode);
		if (g->l.proc == p && g->l.kind == kind && g->l.tcp_state == state &&
		    g->l.reason == reason && !strcmp(g->l.target, target))
			return g;
	}
	cap = f->cap;
	if (vec_reserve(f->g, f->cap, f->n + 1))
		return NULL;
	if (f->cap != cap)
		reindex(f); /* the table points into the old array */
	g = &f->g[f->n];
	memset(g, 0, sizeof(*g));
	if (htab__add(&f->by_key, &g->hnode, h))
		return NULL;
	f->n++;
	g->l.proc = p;
	g->l.kind = kind;
	g->l.tcp_state = state;
	g->l.reason = reason;
	memcpy(g->l.target, target, sizeof(target));
	return g;
}

static void set_site(struct group *g, const struct fd_seen *seen, size_t i)
{
	char buf[32];

	if (seen->site && seen->site[i][0])
		snprintf(g->l.site, sizeof(g->l.site), "%s", seen->site[i]);
	else
		snprintf(g->l.site, sizeof(g->l.site), "%s",
			 fd_syscall__str(seen->nr[i], buf, sizeof(buf)));
}

static void grade(struct fdleaks *f, struct group *g)
{
	uint64_t over = g->l.count > g->l.baseline ? g->l.count - g->l.baseline : 0;

	/* a leak is judged on what it added; what is left at the end or exit, on its count */
	if (g->l.reason == REASON_AT_END || g->l.reason == REASON_AT_EXIT)
		over = g->l.count;
	g->l.severity = severity__of(over, g->l.growth_per_s, f->threshold);
	if (g->l.growing_checks > QH_FD_GROWING_CHECKS && g->l.severity < SEV_CRITICAL)
		g->l.severity++;
	f->sorted = false;
}

/*
 * The group of fd @i of @t: sockets by peer (and state, so a pile-up in CLOSE_WAIT is its own
 * group), everything else by path or kind.
 */
static int state_of(const struct fd_info *fi)
{
	return fi->kind == QH_FD_SOCKET ? fi->tcp_state : 0;
}

int fdleaks__observe(struct fdleaks *f, const struct proc *p, const struct fd_table *t,
		     const struct fd_seen *seen, uint64_t now_ns)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		f->g[i].seen_now = false;
	for (i = 0; i < t->n; i++) {
		const struct fd_info *fi = &t->v[i];
		struct group *g = find(f, p, fi->kind, fi->pattern, state_of(fi), REASON_GROWING);

		if (!g)
			return -ENOMEM;
		if (!g->seen_now) {
			g->seen_now = true;
			g->l.count = 0;
		}
		g->l.count++;
		if (seen && seen->opened[i])
			set_site(g, seen, i);
	}
	for (i = 0; i < f->n; i++) {
		struct group *g = &f->g[i];
		double dt;

		if (g->l.proc != p || g->l.reason != REASON_GROWING)
			continue;
		if (!g->seen_now)
			g->l.count = 0;
		if (!g->first_ns) {
			/* the first look is the baseline growth is measured from */
			g->first_ns = now_ns;
			g->l.baseline = g->prev = g->l.count;
			continue;
		}
		/* a drop ends a streak; a check with no change neither adds to it nor ends it */
		if (g->l.count > g->prev)
			g->l.growing_checks++;
		else if (g->l.count < g->prev)
			g->l.growing_checks = 0;
		g->prev = g->l.count;
		dt = (now_ns - g->first_ns) / 1e9;
		g->l.growth_per_s = dt > 0 && g->l.count > g->l.baseline ?
					    (g->l.count - g->l.baseline) / dt :
					    0;
		g->flagged = g->l.count > g->l.baseline &&
			     (g->flagged || g->l.growing_checks >= QH_FD_GROWING_CHECKS);
		grade(f, g);
	}
	return 0;
}

int fdleaks__at_end(struct fdleaks *f, const struct proc *p, const struct fd_table *t,
		    const struct fd_seen *seen, uint64_t now_ns)
{
	size_t i;

	(void)now_ns;
	for (i = 0; i < t->n; i++) {
		const struct fd_info *fi = &t->v[i];
		struct group *g;

		if (!seen || !seen->opened[i])
			continue; /* inherited, received, or open before tracing: not its doing */
		g = find(f, p, fi->kind, fi->pattern, state_of(fi), REASON_AT_END);
		if (!g)
			return -ENOMEM;
		g->l.count++;
		g->flagged = true;
		set_site(g, seen, i);
		grade(f, g);
	}
	return 0;
}

int fdleaks__at_exit(struct fdleaks *f, const struct proc *p, uint32_t kind, const char *pattern,
		     int tcp_state, uint64_t count, const struct qh_fd *opener)
{
	struct group *g = find(f, p, kind, pattern, tcp_state, REASON_AT_EXIT);
	char buf[32];

	if (!g)
		return -ENOMEM;
	g->l.count += count;
	g->flagged = true;
	/* the site is the newest open's; runs of one group may come from several sites */
	if (!g->l.site[0] || opener->ts_ns >= g->l.opener.ts_ns) {
		g->l.opener = *opener;
		snprintf(g->l.site, sizeof(g->l.site), "%s",
			 fd_syscall__str(opener->nr, buf, sizeof(buf)));
	}
	grade(f, g);
	return 0;
}

int fdleaks__exit_unsent(struct fdleaks *f, const struct proc *p, uint64_t unsent)
{
	struct group *g;
	bool any = false;
	size_t i;

	if (!unsent)
		return 0;
	for (i = 0; i < f->n; i++) {
		g = &f->g[i];
		if (g->l.proc == p && g->l.reason == REASON_AT_EXIT) {
			g->l.incomplete = true;
			any = true;
		}
	}
	if (any)
		return 0;
	g = find(f, p, QH_FD_UNKNOWN, "(not reported: the kernel's records were lost)", 0,
		 REASON_AT_EXIT);
	if (!g)
		return -ENOMEM;
	g->l.count += unsent;
	g->l.incomplete = true;
	g->flagged = true;
	grade(f, g);
	return 0;
}

void fdleaks__exit_sites(struct fdleaks *f,
			 void (*fn)(void *ctx, const struct proc *p, const struct qh_fd *opener,
				    char *site, size_t len),
			 void *ctx)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->g[i].l.reason == REASON_AT_EXIT && f->g[i].l.kind != QH_FD_UNKNOWN)
			fn(ctx, f->g[i].l.proc, &f->g[i].l.opener, f->g[i].l.site,
			   sizeof(f->g[i].l.site));
}

static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	bool xs = fd_leak__is_socket(&x->l), ys = fd_leak__is_socket(&y->l);

	if (x->flagged != y->flagged)
		return x->flagged ? -1 : 1;
	if (xs != ys)
		return xs ? 1 : -1;
	if (x->l.severity != y->l.severity)
		return x->l.severity > y->l.severity ? -1 : 1;
	if (x->l.count != y->l.count)
		return x->l.count > y->l.count ? -1 : 1;
	return 0;
}

static void sort(struct fdleaks *f)
{
	if (f->sorted)
		return;
	if (f->n) /* qsort's base must not be NULL, even for none */
		qsort(f->g, f->n, sizeof(*f->g), cmp_group);
	f->sorted = true;
	f->stale = true; /* the groups moved */
}

size_t fdleaks__count(struct fdleaks *f)
{
	size_t i;

	sort(f);
	for (i = 0; i < f->n && f->g[i].flagged; i++)
		;
	return i;
}

const struct fd_leak *fdleaks__get(struct fdleaks *f, size_t i)
{
	sort(f);
	return i < f->n && f->g[i].flagged ? &f->g[i].l : NULL;
}
