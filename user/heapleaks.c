// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "heapleaks.h"
#include "htab.h"
#include "leakclass.h"
#include "proctree.h"
#include "vec.h"

struct heapleaks {
	struct heapleaks_opts o;
	struct htab groups;	/* the findings by (process, caller, stack, inherited) */
	struct heap_leak **all;
	size_t count, cap;
	uint64_t bytes, blocks;
	struct heapleaks_totals totals;
	bool sifted;
};

struct heapleaks *heapleaks__new(const struct heapleaks_opts *o)
{
	struct heapleaks *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->o = *o;
	return h;
}

static void free_frames(struct heap_frame *f, size_t n)
{
	size_t i;

	for (i = 0; f && i < n; i++) {
		free(f[i].symbol);
		free(f[i].raw_symbol);
		free(f[i].module);
		free(f[i].file);
	}
	free(f);
}

void heapleaks__free(struct heapleaks *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->count; i++) {
		free_frames(h->all[i]->frames, h->all[i]->nframes);
		free(h->all[i]);
	}
	free(h->all);
	htab__free(&h->groups);
	free(h);
}

/* the key of a finding while blocks are grouped, and of its trend across checks */
static uint64_t group_hash(const struct proc *p, uint64_t caller, uint64_t stack_key,
			   bool inherited, int32_t test)
{
	return htab__mix((uintptr_t)p ^ htab__mix(caller ^ htab__mix(stack_key)) ^ inherited ^
			 ((uint64_t)(uint32_t)test << 1));
}

int heapleaks__add(struct heapleaks *h, struct proc *p, const struct qh_alloc *a,
		   uint64_t stack_key, bool inherited, uint64_t now_ns)
{
	return heapleaks__add_kind(h, p, a, stack_key, inherited, -1, LEAK_UNCLASSIFIED, NULL,
				   now_ns);
}

int heapleaks__add_test(struct heapleaks *h, struct proc *p, const struct qh_alloc *a,
			uint64_t stack_key, bool inherited, int32_t test, uint64_t now_ns)
{
	return heapleaks__add_kind(h, p, a, stack_key, inherited, test, LEAK_UNCLASSIFIED, NULL,
				   now_ns);
}

int heapleaks__add_kind(struct heapleaks *h, struct proc *p, const struct qh_alloc *a,
			uint64_t stack_key, bool inherited, int32_t test, int kind,
			const char *reason, uint64_t now_ns)
{
	uint64_t hash = group_hash(p, a->caller, stack_key, inherited, test) ^ (uint64_t)kind << 56;
	struct heap_leak *l = NULL, **slot;
	struct hnode *n;

	/* a running process may still free a young block; an exited one never will */
	if (p->state == PROC_RUNNING && now_ns - a->ts_ns < h->o.min_age_ns)
		return 0;
	for (n = htab__first(&h->groups, hash); n; n = htab__next(n)) {
		l = htab_entry(n, struct heap_leak, hnode);
		if (l->proc == p && l->caller == a->caller && l->stack_key == stack_key &&
		    l->inherited == inherited && l->test == test && l->kind == kind)
			break;
		l = NULL;
	}
	if (!l) {
		if (vec_reserve(h->all, h->cap, h->count + 1))
			return -ENOMEM;
		l = calloc(1, sizeof(*l));
		if (!l || htab__add(&h->groups, &l->hnode, hash)) {
			free(l);
			return -ENOMEM;
		}
		slot = &h->all[h->count++];
		*slot = l;
		l->proc = p;
		l->caller = a->caller;
		l->stack_id = a->stack_id;
		l->stack_key = stack_key;
		l->inherited = inherited;
		l->test = test;
		l->kind = kind;
		l->reason = reason;
		l->counted = true;
		l->oldest_ns = a->ts_ns;
	}
	l->bytes += a->size;
	l->count++;
	if (a->ts_ns < l->oldest_ns)
		l->oldest_ns = a->ts_ns;
	h->bytes += a->size;
	h->blocks++;
	return 0;
}

int heapleaks__take(struct heapleaks *from,
		    struct heapleaks *(*dest)(void *ctx, const struct heap_leak *l), void *ctx)
{
	int err = 0;
	size_t i;

	for (i = 0; i < from->count; i++) {
		struct heap_leak *l = from->all[i];
		struct heapleaks *to = dest(ctx, l);

		htab__del(&from->groups, &l->hnode);
		if (to && !err && !vec_reserve(to->all, to->cap, to->count + 1) &&
		    !htab__add(&to->groups, &l->hnode,
			       group_hash(l->proc, l->caller, l->stack_key, l->inherited, l->test) ^
				       (uint64_t)l->kind << 56)) {
			to->all[to->count++] = l;
			to->bytes += l->bytes;
			to->blocks += l->count;
			continue;
		}
		if (to)
			err = -ENOMEM;
		free_frames(l->frames, l->nframes);
		free(l);
	}
	from->count = 0;
	from->bytes = from->blocks = 0;
	return err;
}

/* A rate over less than this says little: a process that ran 0.1 s has no trend. */
#define QH_MIN_RATE_AGE_S 10.0

/* Rate and severity of a finding from its bytes, age and growing checks. */
static void grade(struct heap_leak *l, uint64_t threshold)
{
	/* the average rate since the oldest block: bytes over the time they piled up in */
	l->growth_bytes_per_s = l->age_s > 0.001 ? l->bytes / l->age_s : 0;
	l->severity = severity__of(l->bytes,
				   l->age_s >= QH_MIN_RATE_AGE_S ? l->growth_bytes_per_s : 0,
				   threshold);
	if (l->growing_checks >= QH_GROWING_CHECKS && l->severity < SEV_CRITICAL)
		l->severity++;
}

static int desc(uint64_t a, uint64_t b)
{
	return a < b ? 1 : a > b ? -1 : 0;
}

/* Largest first; then more blocks (or bytes); then the oldest. */
static int by_count_desc(const void *a, const void *b)
{
	const struct heap_leak *x = *(const struct heap_leak *const *)a;
	const struct heap_leak *y = *(const struct heap_leak *const *)b;

	return desc(x->counted, y->counted) ?: desc(x->count, y->count) ?: desc(x->bytes, y->bytes) ?:
	       -desc(x->oldest_ns, y->oldest_ns);
}

static int by_bytes_desc(const void *a, const void *b)
{
	const struct heap_leak *x = *(const struct heap_leak *const *)a;
	const struct heap_leak *y = *(const struct heap_leak *const *)b;

	return desc(x->counted, y->counted) ?: desc(x->bytes, y->bytes) ?:
	       desc(x->count, y->count) ?: -desc(x->oldest_ns, y->oldest_ns);
}

static void sort_findings(struct heapleaks *h)
{
	if (h->count > 1)
		qsort(h->all, h->count, sizeof(*h->all), h->o.by_count ? by_count_desc : by_bytes_desc);
}

void heapleaks__finish(struct heapleaks *h, uint64_t now_ns)
{
	size_t i;

	for (i = 0; i < h->count; i++) {
		struct heap_leak *l = h->all[i];
		/* an exited process stopped leaking when it exited */
		uint64_t end = l->proc->end_ns ? l->proc->end_ns : now_ns;

		l->age_s = end > l->oldest_ns ? (end - l->oldest_ns) / 1e9 : 0;
		grade(l, h->o.threshold_bytes);
	}
	sort_findings(h);
}

size_t heapleaks__count(const struct heapleaks *h)
{
	return h->count;
}

struct heap_leak *heapleaks__get(struct heapleaks *h, size_t i)
{
	return i < h->count ? h->all[i] : NULL;
}

uint64_t heapleaks__total_bytes(const struct heapleaks *h)
{
	return h->bytes;
}

uint64_t heapleaks__total_blocks(const struct heapleaks *h)
{
	return h->blocks;
}

static uint64_t str_hash(uint64_t x, const char *s)
{
	for (; s && *s; s++)
		x = (x ^ (unsigned char)*s) * 1099511628211ULL;
	return (x ^ 0xff) * 1099511628211ULL;
}

static uint64_t frames_hash(const struct heap_leak *l)
{
	uint64_t x = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < l->nframes; i++) {
		const struct heap_frame *f = &l->frames[i];

		if (!f->symbol) {
			x = (x ^ f->addr) * 1099511628211ULL;
			continue;
		}
		x = str_hash(str_hash(str_hash(x, f->module), f->symbol), f->file);
		x = (x ^ f->line) * 1099511628211ULL;
	}
	return x;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool same_frames(const struct heap_leak *a, const struct heap_leak *b)
{
	size_t i;

	if (a->nframes != b->nframes)
		return false;
	for (i = 0; i < a->nframes; i++) {
		const struct heap_frame *x = &a->frames[i], *y = &b->frames[i];

		if (!x->symbol || !y->symbol) {
			if (x->symbol || y->symbol || x->addr != y->addr)
				return false;
			continue;
		}
		if (!str_eq(x->symbol, y->symbol) || !str_eq(x->module, y->module) ||
		    !str_eq(x->file, y->file) || x->line != y->line)
			return false;
	}
	return true;
}

void heapleaks__merge_same_frames(struct heapleaks *h)
{
	size_t i, j, kept = 0;

	/* quadratic per process in the worst case; findings are few and grouped already */
	for (i = 0; i < h->count; i++) {
		struct heap_leak *l = h->all[i];
		uint64_t hl = frames_hash(l);

		for (j = 0; j < kept; j++) {
			struct heap_leak *k = h->all[j];

			if (k->proc == l->proc && k->inherited == l->inherited && k->test == l->test &&
			    k->kind == l->kind && frames_hash(k) == hl && same_frames(k, l))
				break;
		}
		if (j == kept) {
			h->all[kept++] = l;
			continue;
		}
		h->all[j]->bytes += l->bytes;
		h->all[j]->count += l->count;
		h->all[j]->truncated |= l->truncated;
		if (l->growing_checks > h->all[j]->growing_checks)
			h->all[j]->growing_checks = l->growing_checks;
		if (l->oldest_ns < h->all[j]->oldest_ns) {
			h->all[j]->oldest_ns = l->oldest_ns;
			h->all[j]->age_s = l->age_s;
		}
		free_frames(l->frames, l->nframes);
		free(l);
	}
	h->count = kept;
	/* the table holds freed findings: grouping is over once frames are resolved */
	htab__clear(&h->groups);
	for (i = 0; i < h->count; i++) {
		struct heap_leak *l = h->all[i];

		grade(l, h->o.threshold_bytes);
	}
	sort_findings(h);
}

void heapleaks__sift(struct heapleaks *h, uint32_t kinds, struct leaksupp *supp,
		     bool list_runtime)
{
	struct heapleaks_totals *t = &h->totals;
	size_t i, kept = 0;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < h->count; i++) {
		struct heap_leak *l = h->all[i];
		int k = l->kind < LEAK__KINDS ? l->kind : LEAK_UNCLASSIFIED, s;

		l->runtime = leakclass__is_runtime_stack(l->frames, l->nframes);
		l->counted = !l->runtime && (kinds & (1U << k));
		if (l->runtime) {
			t->rt_blocks[k] += l->count;
			t->rt_bytes[k] += l->bytes;
			if (!list_runtime) {
				free_frames(l->frames, l->nframes);
				free(l);
				continue;
			}
		} else if (l->counted && supp &&
			   (s = leaksupp__match(supp, l->frames, l->nframes)) >= 0) {
			supp->v[s].count += l->count;
			supp->v[s].bytes += l->bytes;
			t->suppressed_blocks += l->count;
			t->suppressed_bytes += l->bytes;
			free_frames(l->frames, l->nframes);
			free(l);
			continue;
		} else {
			t->blocks[k] += l->count;
			t->bytes[k] += l->bytes;
		}
		t->counted += l->counted;
		h->all[kept++] = l;
	}
	h->count = kept;
	h->sifted = true;
	sort_findings(h);
}

const struct heapleaks_totals *heapleaks__totals(const struct heapleaks *h)
{
	return h->sifted ? &h->totals : NULL;
}

void heap_leak__set_frames(struct heap_leak *l, struct heap_frame *frames, size_t n)
{
	free_frames(l->frames, l->nframes);
	l->frames = frames;
	l->nframes = n;
}

struct trend {
	const struct proc *proc;
	uint64_t caller;
	uint64_t stack_key;
	bool inherited;
	uint64_t bytes;		/* at the last check that saw it */
	uint64_t seen;		/* the check that last saw it */
	uint32_t growing;
	struct hnode hnode;
	struct trend *next;	/* every trend, to free them */
};

struct heaptrend {
	struct htab trends;
	struct trend *head;
	uint64_t checks;
};

struct heaptrend *heaptrend__new(void)
{
	return calloc(1, sizeof(struct heaptrend));
}

void heaptrend__free(struct heaptrend *t)
{
	struct trend *e, *n;

	if (!t)
		return;
	for (e = t->head; e; e = n) {
		n = e->next;
		free(e);
	}
	htab__free(&t->trends);
	free(t);
}

static uint64_t leak_hash(const struct heap_leak *l)
{
	return group_hash(l->proc, l->caller, l->stack_key, l->inherited, -1); /* trends span tests */
}

static struct trend *trend_find(const struct heaptrend *t, const struct heap_leak *l)
{
	struct hnode *n;

	for (n = htab__first(&t->trends, leak_hash(l)); n; n = htab__next(n)) {
		struct trend *e = htab_entry(n, struct trend, hnode);

		if (e->proc == l->proc && e->caller == l->caller && e->stack_key == l->stack_key &&
		    e->inherited == l->inherited)
			return e;
	}
	return NULL;
}

int heaptrend__observe(struct heaptrend *t, struct heapleaks *h)
{
	size_t i;

	t->checks++;
	for (i = 0; i < h->count; i++) {
		struct heap_leak *l = h->all[i];
		struct trend *e = trend_find(t, l);

		if (!e) {
			e = calloc(1, sizeof(*e));
			if (!e || htab__add(&t->trends, &e->hnode, leak_hash(l))) {
				free(e);
				return -ENOMEM;
			}
			e->proc = l->proc;
			e->caller = l->caller;
			e->stack_key = l->stack_key;
			e->inherited = l->inherited;
			e->next = t->head;
			t->head = e;
		} else {
			/* growth only counts between consecutive checks */
			e->growing = e->seen == t->checks - 1 && l->bytes > e->bytes ? e->growing + 1 : 0;
		}
		e->bytes = l->bytes;
		e->seen = t->checks;
	}
	return 0;
}

void heaptrend__apply(const struct heaptrend *t, struct heapleaks *h)
{
	size_t i;

	for (i = 0; i < h->count; i++) {
		struct heap_leak *l = h->all[i];
		const struct trend *e = trend_find(t, l);

		l->growing_checks = e && e->seen == t->checks ? e->growing : 0;
		grade(l, h->o.threshold_bytes);
	}
}
