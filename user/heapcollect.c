// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "heapcollect.h"
#include "heapleaks.h"
#include "htab.h"
#include "leakclass.h"
#include "log.h"
#include "proctree.h"
#include "syms.h"
#include "tracer.h"
#include "unwind.h"
#include "vec.h"

/*
 * Stack keys already computed, by (process, stack id). A direct-mapped cache rather than the
 * loader's hash table (htab.h): a miss only costs one more read of the stack map, so a fixed
 * array that forgets on collision keeps a collection's memory fixed, whatever the block count.
 */
#define STACK_CACHE 4096 /* power of two */

struct collect_ctx {
	const struct heapcollect_ops *ops;
	struct proctree *tree;
	struct heapleaks *leaks;
	uint64_t now;
	bool harvest;			/* only blocks of exited processes, taken out of the map */
	size_t ntaken;
	struct {
		const struct proc *proc;
		uint64_t id;
		uint64_t key;
	} cache[STACK_CACHE];
};

/* frame 0 of a kernel stack is inside the allocator: the caller is read apart */
#define STACK_FIRST_FRAME 1

/*
 * The part of a kernel stack that means something, hashed: all its frames, or for a stack
 * partly walked by frame pointers, those up to the first address no file mapping of the
 * process holds (past the last real frame-pointer frame the walk reads garbage, which differs
 * from call to call).
 */
static uint64_t stack_key(struct collect_ctx *c, const struct proc *p, uint64_t id)
{
	size_t slot = htab__mix(id ^ htab__mix((uintptr_t)p)) & (STACK_CACHE - 1);
	uint64_t ips[QH_MAX_STACK], key = 1469598103934665603ULL;
	uint32_t flags = 0;
	int n, i;

	if (!id)
		return 0;
	if (c->cache[slot].proc == p && c->cache[slot].id == id)
		return c->cache[slot].key;
	n = c->ops->stack(c->ops->ctx, id, ips, QH_MAX_STACK, &flags);
	/*
	 * Past a slice the frames are the loader's to unwind, later: the kernel told such stacks
	 * apart by the slice, so its key does.
	 */
	if (flags & QH_USTACK_SLICE)
		key = (key ^ id) * 1099511628211ULL;
	for (i = STACK_FIRST_FRAME; i < n; i++) {
		/* an unwound stack has no garbage: only one walked by trusting rbp is cut */
		if ((flags & QH_USTACK_GUESSED) && (!p->maps || !syms_maps__find(p->maps, ips[i])))
			break;
		key = (key ^ ips[i]) * 1099511628211ULL;
	}
	c->cache[slot].proc = p;
	c->cache[slot].id = id;
	c->cache[slot].key = key;
	return key;
}

/* Harvest: the block is done with, out of the map (the caller's walk of it is over). */
static void take(struct collect_ctx *c, const struct qh_alloc_key *k)
{
	c->ops->forget(c->ops->ctx, k);
	c->ntaken++;
}

static int block_kind(struct collect_ctx *c, const struct proc *p, const struct qh_alloc_key *k,
		      const struct qh_alloc *a, const char **reason)
{
	*reason = NULL;
	return c->ops->kind ? c->ops->kind(c->ops->ctx, p, k, a, reason) : LEAK_UNCLASSIFIED;
}

static int collect_one(struct collect_ctx *c, const struct qh_alloc_key *k,
		       const struct qh_alloc *a)
{
	struct proc *p = proctree__find_gen(c->tree, k->tgid, k->gen), *h;
	const char *reason;
	uint64_t key;
	int32_t test;
	int err, kind;

	/* blocks of an image replaced by exec died with it: out of the map */
	if (!p) {
		if (c->harvest && proctree__is_dead_gen(c->tree, k->tgid, k->gen))
			take(c, k);
		return 0;
	}
	if (c->harvest) {
		if (p->state == PROC_RUNNING)
			return 0;
		/* a running child that inherited the block still needs it in the map */
		for (h = p->heir; h; h = h->next_heir)
			if (h->state == PROC_RUNNING && a->epoch < h->stats.inherit_epoch)
				return 0;
		take(c, k);
	}
	key = stack_key(c, p, a->stack_id);
	test = c->ops->test_of ? c->ops->test_of(c->ops->ctx, p, k, a) : -1;
	kind = block_kind(c, p, k, a, &reason);
	err = kind < 0 ? 0 : heapleaks__add_kind(c->leaks, p, a, key, false, test, kind, reason,
						 c->now);
	/* children forked after the block was made have a copy, unless they freed it */
	for (h = p->heir; h && !err; h = h->next_heir) {
		struct qh_alloc_key hk = { .tgid = h->pid, .gen = h->stats.heap_gen, .addr = k->addr };

		if (a->epoch < h->stats.inherit_epoch &&
		    !c->ops->inherited_freed(c->ops->ctx, &hk)) {
			kind = block_kind(c, h, &hk, a, &reason);
			if (kind >= 0)
				err = heapleaks__add_kind(c->leaks, h, a, key, true, test, kind,
							  reason, c->now);
		}
	}
	return err;
}

void heapcollect__link_heirs(struct proctree *t)
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

int heapcollect__blocks(const struct heapcollect_ops *ops, struct proctree *t,
			struct heapleaks *leaks, const struct heap_block *b, size_t n, bool harvest,
			uint64_t now_ns)
{
	struct collect_ctx *c = calloc(1, sizeof(*c));
	size_t i;
	int err = 0;

	if (!c)
		return -ENOMEM;
	c->ops = ops;
	c->tree = t;
	c->leaks = leaks;
	c->harvest = harvest;
	c->now = now_ns;
	heapcollect__link_heirs(t);
	for (i = 0; i < n && !err; i++)
		err = collect_one(c, &b[i].k, &b[i].a);
	if (harvest && c->ntaken)
		pr_debug("heap: %zu blocks of exited processes taken out of the map\n", c->ntaken);
	if (!harvest)
		heapleaks__finish(leaks, c->now);
	free(c);
	return err;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* at most this many functions inlined into one another at one address are named */
#define MAX_INLINE 8

static void set_frame(struct heap_frame *f, uint64_t addr, const struct syms_frame *sf)
{
	char buf[SYMS_SYM_LEN * 2];

	f->addr = addr;
	f->offset = sf->sym[0] && !sf->inlined ? sf->sym_off + 1 : 0;
	f->module = dup_or_null(sf->module);
	f->file = dup_or_null(sf->file);
	f->line = sf->line;
	f->inlined = sf->inlined;
	if (syms__demangle(sf->sym, buf, sizeof(buf))) {
		f->symbol = strdup(buf);
		f->raw_symbol = dup_or_null(sf->sym);
	} else {
		f->symbol = dup_or_null(sf->sym);
	}
}

/* The word at @addr of the stack @s kept, if it holds it. */
static bool slice_read(const struct qh_ustack_slice *s, uint64_t addr, uint64_t *v)
{
	if (s->len < 8 || addr < s->sp || addr - s->sp > s->len - 8)
		return false;
	memcpy(v, s->data + (addr - s->sp), sizeof(*v));
	return true;
}

/*
 * The frames from the slice's on (@s->at), unwound as the kernel's walk does it but with the
 * tables the loader has now, into @ips; how many frames the stack has then. *@flags: the
 * QH_USTACK_* of the result.
 */
static size_t unwind_slice(const struct heapcollect_ops *ops, const struct syms_maps *maps,
			   const struct qh_ustack_slice *s, uint64_t *ips, size_t max,
			   uint32_t *flags)
{
	uint64_t ip = s->ip, sp = s->sp, bp = s->bp, cfa, ra = 0, v;
	bool bp_lost = s->bp_lost;
	size_t n = s->at;

	*flags = (s->flags & QH_USTACK_GUESSED) | QH_USTACK_TRUNCATED;
	while (n < max) {
		const struct qh_unwind_row *rows = NULL, *r = NULL;
		const struct syms_map *m;
		uint64_t pc = n ? ip - 1 : ip;
		size_t nrows = 0;

		ips[n++] = ip;
		m = syms_maps__find(maps, pc);
		if (!m)
			return n;
		if (!ops->rows(ops->ctx, maps, m, &rows, &nrows) && pc - m->start + m->off <= UINT32_MAX)
			r = unwind__find(rows, nrows, pc - m->start + m->off);
		if (r && r->cfa == QH_CFA_END) {
			*flags &= ~QH_USTACK_TRUNCATED;
			return n;
		}
		if (r && r->cfa == QH_CFA_RSP) {
			cfa = sp + r->cfa_off;
		} else if (r && r->cfa == QH_CFA_RBP && !bp_lost) {
			cfa = bp + r->cfa_off;
		} else if (!r) {
			/* no table here either: frame pointers, as the kernel would have */
			if (!bp) {
				*flags &= ~QH_USTACK_TRUNCATED;
				return n;
			}
			if (bp_lost || bp < sp || !slice_read(s, bp, &v) || !slice_read(s, bp + 8, &ra))
				return n;
			*flags |= QH_USTACK_GUESSED;
			sp = bp + 16;
			bp = v;
			goto next;
		} else {
			return n;
		}
		if (!slice_read(s, cfa - 8, &ra))
			return n;
		if (r->rbp == QH_RBP_SAVED) {
			if (!slice_read(s, cfa + r->rbp_off, &v))
				return n;
			bp = v;
			bp_lost = false;
		} else if (r->rbp == QH_RBP_LOST) {
			bp_lost = true;
		}
		sp = cfa;
next:
		if (!ra) {
			*flags &= ~QH_USTACK_TRUNCATED;
			return n;
		}
		ip = ra;
	}
	return n;
}

/*
 * A stack whose walk met a file the loader had not seen (QH_USTACK_SLICE): the rest unwound
 * from the slice, when that gets further than the kernel's frame pointers did. @maps must
 * hold the file by now (stack_maps adds what /proc no longer showed).
 */
static int finish_slice(const struct heapcollect_ops *ops, const struct syms_maps *maps,
			uint64_t id, uint64_t *ips, int n, uint32_t *flags)
{
	struct qh_ustack_slice *s;
	uint64_t out[QH_MAX_STACK];
	uint32_t f;
	size_t m;

	if (!(*flags & QH_USTACK_SLICE) || !ops->slice || !ops->rows || !maps)
		return n;
	s = malloc(sizeof(*s));
	if (!s)
		return n;
	if (ops->slice(ops->ctx, id, s) || s->at >= (uint32_t)n || ips[s->at] != s->ip) {
		free(s);
		return n;
	}
	memcpy(out, ips, s->at * sizeof(*ips));
	m = unwind_slice(ops, maps, s, out, QH_MAX_STACK, &f);
	free(s);
	/* the kernel's frame pointers may have been right (a library built with them) */
	if (m > (size_t)n || (m == (size_t)n && !(f & QH_USTACK_TRUNCATED)) ||
	    ((*flags & QH_USTACK_TRUNCATED) && !(f & QH_USTACK_TRUNCATED))) {
		memcpy(ips, out, m * sizeof(*ips));
		*flags = f;
		return m;
	}
	return n;
}

/*
 * Frames stop at the first address no file mapping holds: where frame pointers had to be
 * trusted, the walk may have run into garbage.
 */
static void resolve_frames(const struct heapcollect_ops *ops, struct heap_leak *l)
{
	uint64_t ips[QH_MAX_STACK];
	struct syms_frame sf[MAX_INLINE];
	struct heap_frame *frames = NULL;
	size_t k = 0, cap = 0, j;
	uint32_t flags = 0;
	int n = 0, m, i;

	m = l->stack_id ? ops->stack(ops->ctx, l->stack_id, ips, QH_MAX_STACK, &flags) : 0;
	if (m > 0)
		m = finish_slice(ops, l->proc->maps, l->stack_id, ips, m, &flags);
	/* [0] lies in the allocator: the frames start at its caller */
	if (m >= 2) {
		n = m - 1;
		memmove(ips, ips + 1, n * sizeof(*ips));
		/*
		 * A walk that had to trust frame pointers from the allocator on (its module had no
		 * table the kernel could match: a kernel whose /proc shows overlayfs files by
		 * another inode than the mapping's) skips the frame of the allocator's caller,
		 * which the entry probe read from the stack itself: put it back.
		 */
		if ((flags & QH_USTACK_GUESSED) && l->caller && ips[0] != l->caller) {
			if (n == QH_MAX_STACK)
				n--;
			memmove(ips + 1, ips, n * sizeof(*ips));
			ips[0] = l->caller;
			n++;
		}
	} else {
		ips[n++] = l->caller;
		if (l->stack_id)
			flags |= QH_USTACK_TRUNCATED;
	}
	l->truncated = flags & (QH_USTACK_TRUNCATED | QH_USTACK_GUESSED);
	for (i = 0; i < n; i++) {
		/* a return address: addr - 1 lies in the call instruction */
		m = l->proc->maps ? ops->resolve(ops->ctx, l->proc->maps, ips[i] - 1, sf, MAX_INLINE)
				  : -ENOENT;
		if (m <= 0) {
			if (i > 0) {
				l->truncated = true;
				break;
			}
			if (vec_reserve(frames, cap, k + 1))
				break;
			memset(&frames[k], 0, sizeof(frames[k]));
			frames[k++].addr = ips[i];
			continue;
		}
		if (vec_reserve(frames, cap, k + m))
			break;
		for (j = 0; j < (size_t)m; j++) {
			memset(&frames[k], 0, sizeof(frames[k]));
			set_frame(&frames[k++], ips[i], &sf[j]);
		}
	}
	heap_leak__set_frames(l, frames, k);
}

void heapcollect__frames(const struct heapcollect_ops *ops, struct heapleaks *leaks)
{
	size_t i;

	for (i = 0; i < heapleaks__count(leaks); i++)
		resolve_frames(ops, heapleaks__get(leaks, i));
}

int heap_blocks__add(void *ctx, const struct qh_alloc_key *k, const struct qh_alloc *a)
{
	struct heap_blocks *b = ctx;
	struct heap_block *e = vec_push(b->v, b->n, b->cap);

	if (!e)
		return -ENOMEM;
	e->k = *k;
	e->a = *a;
	return 0;
}
