// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * heapscan: which live blocks a held process can still reach (see heapscan.h).
 *
 * The algorithm is valgrind memcheck's (mc_leakcheck.c), with LeakSanitizer's choice of roots
 * for threads (lsan_common.cpp: stacks from the stack pointer up, registers):
 *  1. the roots are scanned (blocks inside a root region are left out: they are scanned only
 *     if reached, so a lost block's pointers never make another block reachable);
 *  2. flood fill: a start pointer from a root or a still_reachable block makes a block
 *     still_reachable; any other pointer (interior, or from a possibly_lost block) makes an
 *     unreached block possibly_lost; a block is (re)scanned each time its state rises;
 *  3. cliques: the unreached blocks are read once and the pointers between them kept as a
 *     graph; then, in address order, each block still unreached leads a clique and every
 *     unreached block it reaches becomes indirectly_lost (a former leader too: the cliques
 *     merge). What stays unreached is definitely_lost. valgrind interleaves reading and
 *     walking per leader; the graph gives the same answer with one batched read.
 *
 * Lookups: the blocks sorted by address, and a hash of the pages (of 2^shift bytes) they
 * cover, each page holding the range of blocks that touch it; a word is looked up by its page
 * and a binary search in that range. Memory is read in batches of up to 1024 pieces.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "heapscan.h"

#define BATCH_PIECES 1024
#define DEFAULT_BATCH_BYTES (8u << 20)

enum state { ST_UNREACHED, ST_INDIRECT, ST_POSSIBLE, ST_REACHABLE };

struct page_ent {
	uint64_t key; /* page + 1; 0: empty */
	uint32_t lo, hi;
};

struct scan {
	size_t n;
	uint64_t *addr; /* sorted */
	uint64_t *end;	/* lookup end: addr + max(size, 1), clipped to the next block */
	uint64_t *send; /* scan end: addr + size, clipped */
	uint32_t *orig; /* sorted index -> caller's index */
	uint8_t *st;
	uint64_t lo, span; /* [lo, lo + span) holds every block */
	struct page_ent *pages;
	uint64_t pmask;
	unsigned shift;
	const struct heapscan_ops *ops;
	void *ctx;
	const struct heapscan_opts *opts;
	struct heapscan_stats *stats;
	size_t batch_bytes;
	uint32_t *stack; /* the frontier */
	size_t nstack, capstack;
	/* one batch */
	struct heapscan_read reqs[BATCH_PIECES];
	uint32_t req_block[BATCH_PIECES]; /* the block a piece belongs to, or UINT32_MAX */
	char *buf;
	/* snapshot mode: every block's bytes, block k's first byte at snap + snap_off[k] */
	char *snap;
	uint64_t *snap_off;
};

const char *heapscan__kind_name(enum heapscan_kind kind)
{
	static const char *const names[] = {
		[HEAPSCAN_DEFINITELY_LOST] = "definitely_lost",
		[HEAPSCAN_INDIRECTLY_LOST] = "indirectly_lost",
		[HEAPSCAN_POSSIBLY_LOST] = "possibly_lost",
		[HEAPSCAN_STILL_REACHABLE] = "still_reachable",
	};

	return (unsigned)kind < HEAPSCAN__KINDS ? names[kind] : "unknown";
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

int heapscan_roots__add_region(struct heapscan_roots *r, uint64_t start, uint64_t end,
			       enum heapscan_region_kind kind)
{
	int err;

	if (end <= start)
		return 0;
	err = grow((void **)&r->regions, &r->cap_regions, r->n_regions + 1, sizeof(*r->regions));
	if (err)
		return err;
	r->regions[r->n_regions++] = (struct heapscan_region){ start, end, kind };
	return 0;
}

int heapscan_roots__add_word(struct heapscan_roots *r, uint64_t word)
{
	int err = grow((void **)&r->words, &r->cap_words, r->n_words + 1, sizeof(*r->words));

	if (err)
		return err;
	r->words[r->n_words++] = word;
	return 0;
}

void heapscan_roots__free(struct heapscan_roots *r)
{
	if (!r)
		return;
	free(r->regions);
	free(r->words);
	memset(r, 0, sizeof(*r));
}

/* ---- sorting: LSD radix on the 48 bits of a user address, 16 at a time ---- */

struct keyed {
	uint64_t addr;
	uint32_t idx;
};

static int cmp_keyed(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int sort_blocks(struct keyed *k, size_t n)
{
	struct keyed *tmp;
	size_t *count;
	uint64_t all = 0;
	unsigned pass;
	size_t i;

	for (i = 0; i < n; i++)
		all |= k[i].addr;
	if ((all >> 48) || n < 4096) {
		qsort(k, n, sizeof(*k), cmp_keyed);
		return 0;
	}
	tmp = malloc(n * sizeof(*tmp));
	count = malloc(65536 * sizeof(*count));
	if (!tmp || !count) {
		free(tmp);
		free(count);
		return -ENOMEM;
	}
	for (pass = 0; pass < 3; pass++) {
		unsigned sh = pass * 16;
		struct keyed *t;
		size_t sum = 0;

		memset(count, 0, 65536 * sizeof(*count));
		for (i = 0; i < n; i++)
			count[(k[i].addr >> sh) & 0xffff]++;
		for (i = 0; i < 65536; i++) {
			size_t c = count[i];

			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			tmp[count[(k[i].addr >> sh) & 0xffff]++] = k[i];
		t = k; /* the result is in tmp: swap the roles by copying back */
		memcpy(t, tmp, n * sizeof(*k));
	}
	free(tmp);
	free(count);
	return 0;
}

/* ---- the page index ---- */

static inline uint64_t page_hash(uint64_t page)
{
	return (page * 0x9e3779b97f4a7c15ull) >> 17;
}

static uint64_t count_pages(const struct scan *s, unsigned shift)
{
	uint64_t distinct = 0, last = UINT64_MAX;
	size_t k;

	for (k = 0; k < s->n; k++) {
		uint64_t p0 = s->addr[k] >> shift, p1 = (s->end[k] - 1) >> shift;

		if (s->end[k] <= s->addr[k])
			continue; /* an exact duplicate, clipped away */
		distinct += p1 - p0 + 1 - (p0 == last);
		last = p1;
	}
	return distinct;
}

static struct page_ent *page_slot(struct scan *s, uint64_t page)
{
	uint64_t h = page_hash(page) & s->pmask;

	while (s->pages[h].key && s->pages[h].key != page + 1)
		h = (h + 1) & s->pmask;
	return &s->pages[h];
}

static int build_index(struct scan *s)
{
	uint64_t distinct, cap = 16;
	unsigned shift = 12;
	size_t k;

	/* pages of 4 KiB unless a few huge blocks would make too many of them */
	distinct = count_pages(s, shift);
	while (distinct > 2 * (uint64_t)s->n + 65536 && shift < 40)
		distinct = count_pages(s, ++shift);
	while (cap < 2 * distinct)
		cap *= 2;
	s->pages = calloc(cap, sizeof(*s->pages));
	if (!s->pages)
		return -ENOMEM;
	s->pmask = cap - 1;
	s->shift = shift;
	for (k = 0; k < s->n; k++) {
		uint64_t p, p0 = s->addr[k] >> shift, p1 = (s->end[k] - 1) >> shift;

		if (s->end[k] <= s->addr[k])
			continue;
		for (p = p0; p <= p1; p++) {
			struct page_ent *e = page_slot(s, p);

			if (!e->key) {
				e->key = p + 1;
				e->lo = (uint32_t)k;
			}
			e->hi = (uint32_t)k + 1;
		}
	}
	return 0;
}

/* the block [addr, end) holding @w, or -1 */
static inline int64_t find_block(const struct scan *s, uint64_t w)
{
	const struct page_ent *e;
	uint64_t h, page;
	uint32_t lo, hi;

	if (w - s->lo >= s->span)
		return -1;
	page = w >> s->shift;
	h = page_hash(page) & s->pmask;
	for (;;) {
		e = &s->pages[h];
		if (e->key == page + 1)
			break;
		if (!e->key)
			return -1;
		h = (h + 1) & s->pmask;
	}
	/* the last block of [lo, hi) that starts at or below w */
	lo = e->lo;
	hi = e->hi;
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->addr[mid] <= w)
			lo = mid;
		else
			hi = mid;
	}
	if (s->addr[lo] <= w && w < s->end[lo])
		return lo;
	return -1;
}

/* glibc: the header of the chunk after block k (see heapscan_opts.glibc_chunks) */
static inline uint64_t next_chunk_header(const struct scan *s, size_t k)
{
	uint64_t size = s->send[k] - s->addr[k];
	uint64_t chunk = (size + 8 + 15) & ~15ull;

	if (chunk < 32)
		chunk = 32;
	return s->addr[k] - 16 + chunk;
}

static int push(struct scan *s, uint32_t k)
{
	int err = grow((void **)&s->stack, &s->capstack, s->nstack + 1, sizeof(*s->stack));

	if (err)
		return err;
	s->stack[s->nstack++] = k;
	return 0;
}

/* flood fill: word @w seen in a root (definite) or in a block reached definitely or not */
static inline int mark(struct scan *s, uint64_t w, bool definite)
{
	int64_t j;
	bool start;

	s->stats->candidates += (w - s->lo < s->span);
	j = find_block(s, w);
	if (j < 0 || s->st[j] == ST_REACHABLE)
		return 0;
	start = w == s->addr[j];
	if (!start && s->opts->glibc_chunks && w == next_chunk_header(s, (size_t)j))
		return 0;
	if (start && definite) {
		s->st[j] = ST_REACHABLE;
		return push(s, (uint32_t)j);
	}
	if (s->st[j] == ST_UNREACHED) {
		s->st[j] = ST_POSSIBLE;
		return push(s, (uint32_t)j);
	}
	return 0;
}

/* ---- batched reading ---- */

/*
 * Fills the batch from a source of pieces: next() gives [addr, end) (8-aligned) and the block
 * it belongs to; a piece larger than what is left of the batch is split, its rest kept in
 * *pending for the next batch.
 */
struct piece {
	uint64_t addr, end;
	uint32_t block;
};

static int read_batch(struct scan *s, size_t n)
{
	size_t i;
	int err;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		s->reqs[i].got = 0;
	err = s->ops->read(s->ctx, s->reqs, n);
	s->stats->reads++;
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		if (s->reqs[i].got > s->reqs[i].len)
			s->reqs[i].got = s->reqs[i].len;
		s->stats->unreadable_bytes += s->reqs[i].len - s->reqs[i].got;
	}
	return 0;
}

/* adds as much of *p as fits; returns true when the batch is full */
static bool batch_add(struct scan *s, size_t *n, size_t *used, struct piece *p)
{
	uint64_t len = p->end - p->addr, room = s->batch_bytes - *used;

	if (*n == BATCH_PIECES || !room)
		return true;
	if (len > room)
		len = room;
	s->reqs[*n] = (struct heapscan_read){ .addr = p->addr, .buf = s->buf + *used, .len = len };
	s->req_block[*n] = p->block;
	(*n)++;
	*used += len;
	p->addr += len;
	return *n == BATCH_PIECES || *used == s->batch_bytes;
}

static inline uint64_t align_up(uint64_t a)
{
	return (a + 7) & ~7ull;
}

static inline uint64_t align_down(uint64_t a)
{
	return a & ~7ull;
}

/* the scanned part of block k: its aligned words */
static struct piece block_piece(const struct scan *s, uint32_t k)
{
	uint64_t a = align_up(s->addr[k]), e = align_down(s->send[k]);

	return (struct piece){ a, e > a ? e : a, k };
}

/* ---- snapshot mode ---- */

#define RUN_GAP 4096 /* neighbours closer than this are read as one piece, gap and all */

/*
 * Read all blocks: runs of neighbours into one buffer, in batches. Returns 0 with s->snap
 * set, 0 with it unset (too big, or a piece came back short: the caller reads as it goes),
 * or -errno.
 */
static int take_snapshot(struct scan *s)
{
	uint64_t total = 0, max = s->opts->snapshot_max ? s->opts->snapshot_max : 512ull << 20;
	size_t k, first, n = 0;
	int err;

	if (!s->n)
		return 0;
	/* the buffer: each run from its first block's aligned start to its last one's end */
	for (k = 0; k < s->n; k = first) {
		uint64_t start = align_down(s->addr[k]), end = align_up(s->send[k]);

		for (first = k + 1; first < s->n && s->addr[first] < end + RUN_GAP; first++)
			if (align_up(s->send[first]) > end)
				end = align_up(s->send[first]);
		total += end - start;
		if (total > max)
			return 0;
	}
	s->snap = malloc(total ? total : 8);
	s->snap_off = malloc(s->n * sizeof(*s->snap_off));
	if (!s->snap || !s->snap_off)
		return -ENOMEM;
	total = 0;
	for (k = 0; k < s->n; k = first) {
		uint64_t start = align_down(s->addr[k]), end = align_up(s->send[k]), a;
		size_t j;

		for (first = k + 1; first < s->n && s->addr[first] < end + RUN_GAP; first++)
			if (align_up(s->send[first]) > end)
				end = align_up(s->send[first]);
		for (j = k; j < first; j++)
			s->snap_off[j] = total + (s->addr[j] - start);
		/* the run, in pieces of at most a batch */
		for (a = start; a < end;) {
			uint64_t len = end - a < s->batch_bytes ? end - a : s->batch_bytes;

			s->reqs[n] = (struct heapscan_read){ .addr = a, .buf = s->snap + total,
							     .len = len };
			n++;
			a += len;
			total += len;
			if (n == BATCH_PIECES) {
				err = read_batch(s, n);
				if (err)
					return err;
				for (j = 0; j < n; j++)
					if (s->reqs[j].got != s->reqs[j].len)
						goto short_read;
				n = 0;
			}
		}
	}
	err = read_batch(s, n);
	if (err)
		return err;
	for (k = 0; k < n; k++)
		if (s->reqs[k].got != s->reqs[k].len)
			goto short_read;
	s->stats->snapshot_bytes = total;
	return 0;
short_read:
	/* holes: read block by block instead, each as far as it goes */
	s->stats->unreadable_bytes = 0;
	free(s->snap);
	free(s->snap_off);
	s->snap = NULL;
	s->snap_off = NULL;
	return 0;
}

/* the aligned words of block k in the snapshot */
static inline const uint64_t *snap_words(const struct scan *s, size_t k, size_t *nw)
{
	struct piece p = block_piece(s, (uint32_t)k);

	*nw = (p.end - p.addr) / 8;
	return (const uint64_t *)(s->snap + s->snap_off[k] + (p.addr - s->addr[k]));
}

static int flood_snapshot(struct scan *s)
{
	int err;

	while (s->nstack) {
		uint32_t k = s->stack[--s->nstack];
		bool definite = s->st[k] == ST_REACHABLE;
		const uint64_t *w;
		size_t j, nw;

		w = snap_words(s, k, &nw);
		s->stats->words += nw;
		s->stats->heap_bytes += nw * 8;
		for (j = 0; j < nw; j++) {
			err = mark(s, w[j], definite);
			if (err)
				return err;
		}
	}
	return 0;
}

/* ---- phase 1: roots ---- */

static int cmp_region(const void *a, const void *b)
{
	const struct heapscan_region *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* first sorted block whose end lies above @a */
static size_t first_block_after(const struct scan *s, uint64_t a)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->addr[mid] < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && s->end[lo - 1] > a)
		lo--;
	return lo;
}

static int scan_batch_words(struct scan *s, size_t n, bool roots)
{
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		const uint64_t *w = s->reqs[i].buf;
		size_t j, nw = s->reqs[i].got / 8;
		bool definite = roots || s->st[s->req_block[i]] == ST_REACHABLE;

		s->stats->words += nw;
		if (roots)
			s->stats->root_bytes += nw * 8;
		else
			s->stats->heap_bytes += nw * 8;
		for (j = 0; j < nw; j++) {
			err = mark(s, w[j], definite);
			if (err)
				return err;
		}
	}
	return 0;
}

static int scan_roots(struct scan *s, struct heapscan_roots *roots)
{
	size_t r, n = 0, used = 0;
	int err;

	qsort(roots->regions, roots->n_regions, sizeof(*roots->regions), cmp_region);
	for (r = 0; r < roots->n_regions; r++) {
		const struct heapscan_region *reg = &roots->regions[r];
		uint64_t cur = reg->start;
		size_t k;

		if (reg->kind == HEAPSCAN_REGION_ARENA && !s->opts->arena_is_root)
			continue;
		s->stats->root_regions++;
		k = first_block_after(s, cur);
		/* the region without the blocks in it, as pieces */
		while (cur < reg->end) {
			uint64_t stop = reg->end;
			struct piece p;

			if (k < s->n && s->addr[k] < reg->end)
				stop = s->addr[k] > cur ? s->addr[k] : cur;
			p = (struct piece){ align_up(cur), align_down(stop), UINT32_MAX };
			while (p.addr < p.end) {
				if (batch_add(s, &n, &used, &p)) {
					err = read_batch(s, n);
					if (!err)
						err = scan_batch_words(s, n, true);
					if (err)
						return err;
					n = used = 0;
				}
			}
			if (stop == reg->end)
				break;
			cur = s->send[k] > stop ? s->send[k] : stop;
			k++;
		}
	}
	err = read_batch(s, n);
	if (!err)
		err = scan_batch_words(s, n, true);
	if (err)
		return err;
	for (r = 0; r < roots->n_words; r++) {
		s->stats->words++;
		err = mark(s, roots->words[r], true);
		if (err)
			return err;
	}
	return 0;
}

/* ---- phase 2: flood fill ---- */

static int flood(struct scan *s)
{
	struct piece p = { 0, 0, UINT32_MAX };
	int err;

	if (s->snap)
		return flood_snapshot(s);
	while (s->nstack || p.addr < p.end) {
		size_t n = 0, used = 0;

		for (;;) {
			if (p.addr >= p.end) {
				if (!s->nstack)
					break;
				p = block_piece(s, s->stack[--s->nstack]);
				if (p.addr >= p.end)
					continue;
			}
			if (batch_add(s, &n, &used, &p))
				break;
		}
		err = read_batch(s, n);
		if (!err)
			err = scan_batch_words(s, n, false);
		if (err)
			return err;
	}
	return 0;
}

/* ---- phase 3: cliques ---- */

static int cliques(struct scan *s)
{
	uint32_t *ord = NULL, *uidx = NULL, *targets = NULL;
	uint64_t *offs = NULL;
	size_t nu = 0, ntargets = 0, captargets = 0, k, next = 0;
	struct piece p = { 0, 0, UINT32_MAX };
	uint32_t cur_u = UINT32_MAX;
	int err = -ENOMEM;

	ord = malloc((s->n + 1) * sizeof(*ord));
	if (!ord)
		goto out;
	for (k = 0; k < s->n; k++)
		ord[k] = s->st[k] == ST_UNREACHED ? (uint32_t)nu++ : UINT32_MAX;
	if (!nu) {
		err = 0;
		goto out;
	}
	uidx = malloc(nu * sizeof(*uidx));
	offs = calloc(nu + 1, sizeof(*offs));
	if (!uidx || !offs)
		goto out;
	for (k = 0; k < s->n; k++)
		if (ord[k] != UINT32_MAX)
			uidx[ord[k]] = (uint32_t)k;

	/* read each unreached block once, in address order; keep its pointers to the others */
	while (next < nu || p.addr < p.end) {
		size_t n = 0, used = 0, i;

		for (;;) {
			if (p.addr >= p.end) {
				if (next >= nu)
					break;
				p = block_piece(s, uidx[next++]);
				if (p.addr >= p.end)
					continue;
			}
			if (s->snap) {
				s->req_block[n++] = p.block;
				p.addr = p.end;
				if (n == BATCH_PIECES)
					break;
				continue;
			}
			if (batch_add(s, &n, &used, &p))
				break;
		}
		if (s->snap) {
			/* no reading: the pieces are the blocks' words in the snapshot */
			for (i = 0; i < n; i++) {
				size_t k = s->req_block[i];

				s->reqs[i].buf = (void *)snap_words(s, k, &s->reqs[i].got);
				s->reqs[i].got *= 8;
			}
		} else {
			err = read_batch(s, n);
			if (err)
				goto out;
		}
		for (i = 0; i < n; i++) {
			const uint64_t *w = s->reqs[i].buf;
			uint32_t b = s->req_block[i], u = ord[b];
			size_t j, nw = s->reqs[i].got / 8;

			/* pieces come in address order: a new block closes the previous ones */
			while (cur_u == UINT32_MAX || cur_u < u) {
				cur_u = cur_u == UINT32_MAX ? 0 : cur_u + 1;
				offs[cur_u] = ntargets;
			}
			s->stats->words += nw;
			s->stats->heap_bytes += nw * 8;
			for (j = 0; j < nw; j++) {
				int64_t t;

				s->stats->candidates += (w[j] - s->lo < s->span);
				t = find_block(s, w[j]);
				if (t < 0 || (uint32_t)t == b || ord[t] == UINT32_MAX)
					continue;
				if (w[j] != s->addr[t] && s->opts->glibc_chunks &&
				    w[j] == next_chunk_header(s, (size_t)t))
					continue;
				err = grow((void **)&targets, &captargets, ntargets + 1,
					   sizeof(*targets));
				if (err)
					goto out;
				targets[ntargets++] = ord[t];
			}
		}
	}
	/* blocks with nothing read (empty, unreadable) after the last piece */
	while (cur_u == UINT32_MAX || cur_u < nu) {
		cur_u = cur_u == UINT32_MAX ? 0 : cur_u + 1;
		offs[cur_u] = ntargets;
	}
	s->stats->edges = ntargets;

	/* valgrind's order: each leader in address order gathers what it reaches */
	for (k = 0; k < nu; k++) {
		uint32_t leader = (uint32_t)k;

		if (s->st[uidx[k]] != ST_UNREACHED)
			continue;
		s->nstack = 0;
		err = push(s, leader);
		if (err)
			goto out;
		while (s->nstack) {
			uint32_t u = s->stack[--s->nstack];
			uint64_t e;

			for (e = offs[u]; e < offs[u + 1]; e++) {
				uint32_t t = targets[e];

				if (t == leader || s->st[uidx[t]] != ST_UNREACHED)
					continue;
				s->st[uidx[t]] = ST_INDIRECT;
				err = push(s, t);
				if (err)
					goto out;
			}
		}
	}
	err = 0;
out:
	free(ord);
	free(uidx);
	free(offs);
	free(targets);
	return err;
}

int heapscan__classify(const struct heapscan_block *blocks, size_t n,
		       const struct heapscan_ops *ops, void *ctx, const struct heapscan_opts *opts,
		       uint8_t *kinds, struct heapscan_stats *stats)
{
	static const struct heapscan_opts defaults;
	struct heapscan_roots roots = {};
	struct heapscan_stats dummy;
	struct keyed *keyed = NULL;
	struct scan *s;
	uint64_t t0, t1;
	size_t k;
	int err = -ENOMEM;

	if (!stats)
		stats = &dummy;
	memset(stats, 0, sizeof(*stats));
	if (!opts)
		opts = &defaults;
	if (n >= UINT32_MAX)
		return -E2BIG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->n = n;
	s->ops = ops;
	s->ctx = ctx;
	s->opts = opts;
	s->stats = stats;
	s->batch_bytes = opts->batch_bytes ? opts->batch_bytes & ~7ul : DEFAULT_BATCH_BYTES;
	if (s->batch_bytes < 4096)
		s->batch_bytes = 4096;
	s->buf = aligned_alloc(64, s->batch_bytes);
	s->addr = malloc((n + 1) * sizeof(*s->addr));
	s->end = malloc((n + 1) * sizeof(*s->end));
	s->send = malloc((n + 1) * sizeof(*s->send));
	s->orig = malloc((n + 1) * sizeof(*s->orig));
	s->st = calloc(n + 1, 1);
	keyed = malloc((n + 1) * sizeof(*keyed));
	if (!s->buf || !s->addr || !s->end || !s->send || !s->orig || !s->st || !keyed)
		goto out;

	t0 = now_ns();
	for (k = 0; k < n; k++)
		keyed[k] = (struct keyed){ blocks[k].addr, (uint32_t)k };
	err = sort_blocks(keyed, n);
	if (err)
		goto out;
	for (k = 0; k < n; k++) {
		uint64_t a = keyed[k].addr, size = blocks[keyed[k].idx].size;
		uint64_t limit = k + 1 < n ? keyed[k + 1].addr : UINT64_MAX;
		uint64_t e = a + (size ? size : 1), se = a + size;

		if (e < a || e > limit) /* wraps, or overlaps the next record */
			e = limit;
		if (se < a || se > limit)
			se = limit;
		s->addr[k] = a;
		s->end[k] = e;
		s->send[k] = se;
		s->orig[k] = keyed[k].idx;
	}
	free(keyed);
	keyed = NULL;
	if (n) {
		uint64_t hi = 0;

		for (k = 0; k < n; k++)
			if (s->end[k] > hi)
				hi = s->end[k];
		s->lo = s->addr[0];
		s->span = hi - s->lo;
	}
	err = build_index(s);
	if (err)
		goto out;

	err = take_snapshot(s);
	if (err)
		goto out;
	err = ops->roots(ctx, &roots);
	if (err)
		goto out;
	if (n) {
		err = scan_roots(s, &roots);
		if (err)
			goto out;
	}
	t1 = now_ns();
	stats->ns_roots = t1 - t0;
	err = flood(s);
	if (err)
		goto out;
	t0 = now_ns();
	stats->ns_flood = t0 - t1;
	err = cliques(s);
	if (err)
		goto out;
	stats->ns_cliques = now_ns() - t0;

	for (k = 0; k < n; k++) {
		static const uint8_t kind_of[] = {
			[ST_UNREACHED] = HEAPSCAN_DEFINITELY_LOST,
			[ST_INDIRECT] = HEAPSCAN_INDIRECTLY_LOST,
			[ST_POSSIBLE] = HEAPSCAN_POSSIBLY_LOST,
			[ST_REACHABLE] = HEAPSCAN_STILL_REACHABLE,
		};
		uint8_t kind = kind_of[s->st[k]];

		kinds[s->orig[k]] = kind;
		stats->blocks[kind]++;
		stats->bytes[kind] += blocks[s->orig[k]].size;
	}
	err = 0;
out:
	heapscan_roots__free(&roots);
	free(keyed);
	free(s->buf);
	free(s->addr);
	free(s->end);
	free(s->send);
	free(s->orig);
	free(s->st);
	free(s->pages);
	free(s->stack);
	free(s->snap);
	free(s->snap_off);
	free(s);
	return err;
}

/* ---- a live process ---- */

struct proc_thread {
	pid_t tid;
	uint64_t sp;
	uint64_t *regs;
	size_t nregs;
};

struct heapscan_proc {
	pid_t pid;
	struct proc_thread *th;
	size_t nth, capth;
};

int heapscan_proc__new(pid_t pid, struct heapscan_proc **out)
{
	struct heapscan_proc *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->pid = pid;
	*out = p;
	return 0;
}

int heapscan_proc__set_regs(struct heapscan_proc *p, pid_t tid, const uint64_t *regs, size_t n,
			    uint64_t sp)
{
	struct proc_thread *t;
	int err;

	err = grow((void **)&p->th, &p->capth, p->nth + 1, sizeof(*p->th));
	if (err)
		return err;
	t = &p->th[p->nth];
	t->regs = n ? malloc(n * sizeof(*regs)) : NULL;
	if (n && !t->regs)
		return -ENOMEM;
	if (n)
		memcpy(t->regs, regs, n * sizeof(*regs));
	t->tid = tid;
	t->nregs = n;
	t->sp = sp;
	p->nth++;
	return 0;
}

void heapscan_proc__free(struct heapscan_proc *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nth; i++)
		free(p->th[i].regs);
	free(p->th);
	free(p);
}

int heapscan__parse_maps_line(const char *line, struct heapscan_map *m)
{
	unsigned long long start, end, off, ino;
	int pos = 0;
	size_t len;

	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%llx-%llx %4s %llx %*s %llu %n", &start, &end, m->perms, &off, &ino,
		   &pos) < 5 || !pos || end < start || strlen(m->perms) != 4)
		return -EINVAL;
	m->start = start;
	m->end = end;
	m->offset = off;
	m->inode = ino;
	len = strcspn(line + pos, "\n");
	if (len >= sizeof(m->path))
		len = sizeof(m->path) - 1;
	memcpy(m->path, line + pos, len);
	m->path[len] = 0;
	return 0;
}

int heapscan__parse_syscall(const char *buf, uint64_t *sp)
{
	unsigned long long v[9];
	long long nr;
	int n;

	*sp = 0;
	if (!strncmp(buf, "running", 7))
		return 0;
	n = sscanf(buf, "%lld %llx %llx %llx %llx %llx %llx %llx %llx", &nr, &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7]);
	if (n == 3 && nr == -1) { /* blocked, not in a system call: "-1 sp pc" */
		*sp = v[0];
		return 0;
	}
	if (n == 9 && nr >= 0) { /* "nr args[6] sp pc" */
		*sp = v[6];
		return 0;
	}
	return -EINVAL;
}

static ssize_t read_small(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = { buf, len }, r = { (void *)(uintptr_t)addr, len };

	return process_vm_readv(pid, &l, 1, &r, 1, 0);
}

#define GLIBC_HEAP_MAX (64ull << 20) /* HEAP_MAX_SIZE on 64-bit: 2 * 32 MiB */

/*
 * A glibc thread arena's heap at @b: struct heap_info { ar_ptr, prev, size, mprotect_size,
 * ... } at a 64 MiB boundary; the arena's malloc_state sits right after the heap_info of its
 * first heap. Returns the bytes of the heap that are read-write, or 0 if @b holds none.
 */
static uint64_t glibc_heap_at(pid_t pid, uint64_t b, uint64_t map_end)
{
	uint64_t hi[4];

	if (read_small(pid, b, hi, sizeof(hi)) != sizeof(hi))
		return 0;
	if (!hi[0] || (hi[0] & (GLIBC_HEAP_MAX - 1)) >= 4096 || hi[2] > hi[3] || !hi[3] ||
	    hi[3] > GLIBC_HEAP_MAX || (hi[3] & 4095) || b + hi[3] > map_end)
		return 0;
	return hi[3];
}

static bool is_device(const char *path)
{
	return !strncmp(path, "/dev/", 5) && strncmp(path, "/dev/zero", 9) &&
	       strncmp(path, "/dev/shm/", 9);
}

static int proc_thread_sps(struct heapscan_proc *p, uint64_t **sps, size_t *nsps)
{
	char path[64], buf[256];
	struct dirent *de;
	size_t cap = 0, i;
	DIR *d;

	*sps = NULL;
	*nsps = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", p->pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t tid = (pid_t)strtol(de->d_name, NULL, 10);
		uint64_t sp = 0;
		ssize_t len;
		int fd;

		if (tid <= 0)
			continue;
		for (i = 0; i < p->nth; i++)
			if (p->th[i].tid == tid)
				break;
		if (i < p->nth) {
			sp = p->th[i].sp;
		} else {
			snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", p->pid, tid);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			len = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (len <= 0)
				continue;
			buf[len] = 0;
			if (heapscan__parse_syscall(buf, &sp))
				sp = 0;
		}
		if (!sp)
			continue; /* running, or a zombie: its whole stack stays a root */
		if (grow((void **)sps, &cap, *nsps + 1, sizeof(**sps))) {
			closedir(d);
			return -ENOMEM;
		}
		(*sps)[(*nsps)++] = sp;
	}
	closedir(d);
	return 0;
}

static int proc_roots(void *ctx, struct heapscan_roots *roots)
{
	struct heapscan_proc *p = ctx;
	uint64_t *sps = NULL;
	size_t nsps = 0, i, linecap = 0;
	char path[64], *line = NULL;
	struct heapscan_map m;
	int err = 0;
	FILE *f;

	for (i = 0; i < p->nth && !err; i++) {
		size_t r;

		for (r = 0; r < p->th[i].nregs && !err; r++)
			err = heapscan_roots__add_word(roots, p->th[i].regs[r]);
	}
	if (err)
		return err;
	err = proc_thread_sps(p, &sps, &nsps);
	if (err)
		return err;
	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	f = fopen(path, "re");
	if (!f) {
		err = -errno;
		goto out;
	}
	while (getline(&line, &linecap, f) > 0) {
		uint64_t start, b;

		if (heapscan__parse_maps_line(line, &m))
			continue;
		if (m.perms[0] != 'r' || m.perms[1] != 'w' || is_device(m.path))
			continue;
		if (!strcmp(m.path, "[heap]")) {
			err = heapscan_roots__add_region(roots, m.start, m.end,
							 HEAPSCAN_REGION_ARENA);
			if (err)
				goto out;
			continue;
		}
		/*
		 * A stack: only from the stack pointer up (the lowest one if several share a
		 * mapping). What lies below is dead frames; a thread's static TLS and its
		 * struct pthread sit at the top of its stack mapping, above the stack pointer.
		 */
		start = m.end;
		for (i = 0; i < nsps; i++)
			if (sps[i] >= m.start && sps[i] < m.end && (sps[i] & ~7ull) < start)
				start = sps[i] & ~7ull;
		if (start < m.start)
			start = m.start;
		if (start != m.end) {
			err = heapscan_roots__add_region(roots, start, m.end,
							 HEAPSCAN_REGION_STACK);
			if (err)
				goto out;
			continue;
		}
		if (m.path[0]) {
			err = heapscan_roots__add_region(roots, m.start, m.end,
							 HEAPSCAN_REGION_ROOT);
			if (err)
				goto out;
			continue;
		}
		/* anonymous: glibc's thread arenas start at 64 MiB boundaries */
		start = m.start;
		for (b = (m.start + GLIBC_HEAP_MAX - 1) & ~(GLIBC_HEAP_MAX - 1); b < m.end;
		     b += GLIBC_HEAP_MAX) {
			uint64_t len = glibc_heap_at(p->pid, b, m.end);

			if (!len)
				continue;
			err = heapscan_roots__add_region(roots, start, b, HEAPSCAN_REGION_ROOT);
			if (!err)
				err = heapscan_roots__add_region(roots, b, b + len,
								 HEAPSCAN_REGION_ARENA);
			if (err)
				goto out;
			start = b + len;
		}
		err = heapscan_roots__add_region(roots, start, m.end, HEAPSCAN_REGION_ROOT);
		if (err)
			goto out;
	}
out:
	if (f)
		fclose(f);
	free(line);
	free(sps);
	return err;
}

static int proc_read(void *ctx, struct heapscan_read *reqs, size_t n)
{
	struct heapscan_proc *p = ctx;
	struct iovec l[BATCH_PIECES], r[BATCH_PIECES];
	size_t i = 0;

	while (i < n) {
		size_t cnt = n - i < BATCH_PIECES ? n - i : BATCH_PIECES, j;
		ssize_t got;

		for (j = 0; j < cnt; j++) {
			l[j] = (struct iovec){ reqs[i + j].buf, reqs[i + j].len };
			r[j] = (struct iovec){ (void *)(uintptr_t)reqs[i + j].addr, reqs[i + j].len };
		}
		got = process_vm_readv(p->pid, l, cnt, r, cnt, 0);
		if (got < 0) {
			if (errno == ESRCH || errno == EPERM)
				return -errno;
			/* the first piece is unreadable: skip it */
			reqs[i].got = 0;
			i++;
			continue;
		}
		/* the pieces read whole, then where it stopped (a fault ends a call) */
		for (j = 0; j < cnt; j++) {
			size_t take = (size_t)got < reqs[i + j].len ? (size_t)got : reqs[i + j].len;

			reqs[i + j].got = take;
			got -= (ssize_t)take;
			if (take < reqs[i + j].len)
				break;
		}
		i += j < cnt ? j + 1 : cnt;
	}
	return 0;
}

const struct heapscan_ops heapscan_proc_ops = {
	.roots = proc_roots,
	.read = proc_read,
};
