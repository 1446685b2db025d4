// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * heapscan: the classes of valgrind's leak check, over a fake address space held in buffers
 * (an ops struct that lists roots and copies memory), and the /proc parsers. A randomized
 * test compares the batched scan with a word-at-a-time rendering of valgrind's algorithm.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "heapscan.h"

/* ---- a fake process: segments of memory, root regions, registers ---- */

#define MAX_SEGS 16
#define MAX_REGIONS 16

struct fake {
	struct {
		uint64_t addr;
		size_t len;
		uint8_t *mem;
	} seg[MAX_SEGS];
	int nseg;
	struct heapscan_region reg[MAX_REGIONS];
	int nreg;
	uint64_t words[8];
	int nwords;
	int reads;
	int fail_roots;
};

#define HEAP 0x10000000ull  /* the blocks live here */
#define DATA 0x20000000ull  /* a root: globals */
#define ANON 0x30000000ull  /* a root with blocks inside it */
#define ARENA 0x40000000ull /* allocator memory */

static uint8_t *fake_seg(struct fake *f, uint64_t addr, size_t len)
{
	int i = f->nseg++;

	assert_true(i < MAX_SEGS);
	f->seg[i].addr = addr;
	f->seg[i].len = len;
	f->seg[i].mem = calloc(1, len);
	assert_non_null(f->seg[i].mem);
	return f->seg[i].mem;
}

static void fake_region(struct fake *f, uint64_t start, uint64_t end, enum heapscan_region_kind k)
{
	assert_true(f->nreg < MAX_REGIONS);
	f->reg[f->nreg++] = (struct heapscan_region){ start, end, k };
}

static uint8_t *fake_at(struct fake *f, uint64_t addr, size_t len)
{
	int i;

	for (i = 0; i < f->nseg; i++)
		if (addr >= f->seg[i].addr && addr + len <= f->seg[i].addr + f->seg[i].len)
			return f->seg[i].mem + (addr - f->seg[i].addr);
	return NULL;
}

/* store a word at any address (aligned or not) */
static void poke(struct fake *f, uint64_t addr, uint64_t val)
{
	uint8_t *p = fake_at(f, addr, 8);

	assert_non_null(p);
	memcpy(p, &val, 8);
}

static void fake_free(struct fake *f)
{
	int i;

	for (i = 0; i < f->nseg; i++)
		free(f->seg[i].mem);
}

static int fake_roots(void *ctx, struct heapscan_roots *r)
{
	struct fake *f = ctx;
	int i;

	if (f->fail_roots)
		return -ESRCH;
	for (i = 0; i < f->nreg; i++)
		assert_int_equal(heapscan_roots__add_region(r, f->reg[i].start, f->reg[i].end,
							    f->reg[i].kind),
				 0);
	for (i = 0; i < f->nwords; i++)
		assert_int_equal(heapscan_roots__add_word(r, f->words[i]), 0);
	return 0;
}

/* a prefix of each piece, as far as one segment holds it */
static int fake_read(void *ctx, struct heapscan_read *reqs, size_t n)
{
	struct fake *f = ctx;
	size_t i;
	int s;

	f->reads++;
	assert_true(n <= 1024);
	for (i = 0; i < n; i++) {
		reqs[i].got = 0;
		for (s = 0; s < f->nseg; s++) {
			uint64_t a = reqs[i].addr, e = f->seg[s].addr + f->seg[s].len;

			if (a < f->seg[s].addr || a >= e)
				continue;
			reqs[i].got = reqs[i].len < e - a ? reqs[i].len : e - a;
			memcpy(reqs[i].buf, f->seg[s].mem + (a - f->seg[s].addr), reqs[i].got);
			break;
		}
	}
	return 0;
}

static const struct heapscan_ops fake_ops = { .roots = fake_roots, .read = fake_read };

/* a fake with a heap of 1 MiB and a data segment of 64 KiB (a root) */
static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	fake_seg(f, HEAP, 1 << 20);
	fake_seg(f, DATA, 1 << 16);
	fake_region(f, DATA, DATA + (1 << 16), HEAPSCAN_REGION_ROOT);
}

static int classify(struct fake *f, const struct heapscan_block *b, size_t n, uint8_t *kinds,
		    const struct heapscan_opts *opts, struct heapscan_stats *st)
{
	memset(kinds, 0xee, n);
	return heapscan__classify(b, n, &fake_ops, f, opts, kinds, st);
}

#define DEF HEAPSCAN_DEFINITELY_LOST
#define IND HEAPSCAN_INDIRECTLY_LOST
#define POS HEAPSCAN_POSSIBLY_LOST
#define REA HEAPSCAN_STILL_REACHABLE

/* ---- each class ---- */

static void test_each_class(void **state)
{
	struct heapscan_block b[] = {
		{ HEAP + 0x100, 32 }, /* 0: a global points to its start */
		{ HEAP + 0x200, 32 }, /* 1: a global points inside it */
		{ HEAP + 0x300, 32 }, /* 2: nothing points to it */
		{ HEAP + 0x400, 32 }, /* 3: only block 2 points to it */
		{ HEAP + 0x500, 32 }, /* 4: only block 0 (reachable) points to it */
		{ HEAP + 0x600, 32 }, /* 5: only block 1 (possibly lost) points to its start */
	};
	struct heapscan_stats st;
	struct fake f;
	uint8_t k[6];

	(void)state;
	fake_init(&f);
	poke(&f, DATA + 0x10, b[0].addr);
	poke(&f, DATA + 0x18, b[1].addr + 8);
	poke(&f, b[2].addr + 8, b[3].addr);
	poke(&f, b[0].addr + 16, b[4].addr);
	poke(&f, b[1].addr, b[5].addr);
	assert_int_equal(classify(&f, b, 6, k, NULL, &st), 0);
	assert_int_equal(k[0], REA);
	assert_int_equal(k[1], POS);
	assert_int_equal(k[2], DEF);
	assert_int_equal(k[3], IND);
	assert_int_equal(k[4], REA);
	assert_int_equal(k[5], POS); /* valgrind: the prior node is not definite */
	assert_int_equal(st.blocks[REA], 2);
	assert_int_equal(st.blocks[POS], 2);
	assert_int_equal(st.blocks[DEF], 1);
	assert_int_equal(st.blocks[IND], 1);
	assert_int_equal(st.bytes[REA], 64);
	assert_string_equal(heapscan__kind_name(DEF), "definitely_lost");
	assert_string_equal(heapscan__kind_name(IND), "indirectly_lost");
	assert_string_equal(heapscan__kind_name(POS), "possibly_lost");
	assert_string_equal(heapscan__kind_name(REA), "still_reachable");
	fake_free(&f);
}

/* a possibly lost block later reached by a start pointer on a definite path is reachable,
 * whichever is found first */
static void test_possible_upgrades(void **state)
{
	int order;

	(void)state;
	for (order = 0; order < 2; order++) {
		struct heapscan_block b[] = {
			{ HEAP + 0x100, 64 }, /* reached from a root by its start */
			{ HEAP + 0x200, 64 }, /* interior from a root, start from block 0 */
			{ HEAP + 0x300, 64 }, /* start from block 1 */
		};
		struct fake f;
		uint8_t k[3];

		fake_init(&f);
		/* the interior pointer before or after the start pointer in the root */
		poke(&f, DATA + (order ? 0x100 : 0x8), b[1].addr + 40);
		poke(&f, DATA + 0x80, b[0].addr);
		poke(&f, b[0].addr + 56, b[1].addr);
		poke(&f, b[1].addr + 8, b[2].addr);
		assert_int_equal(classify(&f, b, 3, k, NULL, NULL), 0);
		assert_int_equal(k[0], REA);
		assert_int_equal(k[1], REA);
		assert_int_equal(k[2], REA);
		fake_free(&f);
	}
}

static void test_indirect_chain_and_tree(void **state)
{
	/* 0 -> 1 -> 2 -> 3, and 0 -> 4 -> 5; nothing points to 0 */
	struct heapscan_block b[] = {
		{ HEAP + 0x5000, 48 }, { HEAP + 0x1000, 48 }, { HEAP + 0x2000, 48 },
		{ HEAP + 0x3000, 48 }, { HEAP + 0x4000, 48 }, { HEAP + 0x6000, 48 },
	};
	struct fake f;
	uint8_t k[6];
	int i;

	(void)state;
	fake_init(&f);
	poke(&f, b[0].addr, b[1].addr);
	poke(&f, b[1].addr + 40, b[2].addr);
	poke(&f, b[2].addr, b[3].addr + 7); /* interior pointers count as well in a clique */
	poke(&f, b[0].addr + 8, b[4].addr);
	poke(&f, b[4].addr, b[5].addr);
	assert_int_equal(classify(&f, b, 6, k, NULL, NULL), 0);
	assert_int_equal(k[0], DEF);
	for (i = 1; i < 6; i++)
		assert_int_equal(k[i], IND);
	fake_free(&f);
}

static void test_cycles(void **state)
{
	struct heapscan_block b[] = {
		/* a two-block cycle: the lower address leads it */
		{ HEAP + 0x2000, 16 },
		{ HEAP + 0x1000, 16 },
		/* a three-block cycle entered from a block above it: that block leads */
		{ HEAP + 0x3000, 16 },
		{ HEAP + 0x3100, 16 },
		{ HEAP + 0x3200, 16 },
		{ HEAP + 0x9000, 16 },
		/* a block pointing to itself */
		{ HEAP + 0xa000, 16 },
		/* a reachable cycle */
		{ HEAP + 0xb000, 16 },
		{ HEAP + 0xb100, 16 },
	};
	struct fake f;
	uint8_t k[9];

	(void)state;
	fake_init(&f);
	poke(&f, b[0].addr, b[1].addr);
	poke(&f, b[1].addr, b[0].addr);
	poke(&f, b[2].addr, b[3].addr);
	poke(&f, b[3].addr, b[4].addr);
	poke(&f, b[4].addr + 8, b[2].addr);
	poke(&f, b[5].addr, b[2].addr);
	poke(&f, b[6].addr, b[6].addr);
	poke(&f, b[7].addr, b[8].addr);
	poke(&f, b[8].addr, b[7].addr);
	poke(&f, DATA, b[8].addr);
	assert_int_equal(classify(&f, b, 9, k, NULL, NULL), 0);
	assert_int_equal(k[1], DEF);
	assert_int_equal(k[0], IND);
	assert_int_equal(k[5], DEF);
	assert_int_equal(k[2], IND);
	assert_int_equal(k[3], IND);
	assert_int_equal(k[4], IND);
	assert_int_equal(k[6], DEF);
	assert_int_equal(k[7], REA);
	assert_int_equal(k[8], REA);
	fake_free(&f);
}

static void test_unaligned_ignored(void **state)
{
	struct heapscan_block b[] = { { HEAP + 0x100, 32 }, { HEAP + 0x200, 32 },
				      { HEAP + 0x300, 32 } };
	struct fake f;
	uint8_t k[3];

	(void)state;
	fake_init(&f);
	poke(&f, DATA + 0x14, b[0].addr);	/* unaligned in a root */
	poke(&f, DATA + 0x20, b[1].addr);	/* aligned */
	poke(&f, b[1].addr + 4, b[2].addr); /* unaligned in a block */
	assert_int_equal(classify(&f, b, 3, k, NULL, NULL), 0);
	assert_int_equal(k[0], DEF);
	assert_int_equal(k[1], REA);
	assert_int_equal(k[2], DEF);
	fake_free(&f);
}

static void test_adjacent_and_zero_size(void **state)
{
	struct heapscan_block b[] = {
		{ HEAP + 0x100, 24 }, /* 0 */
		{ HEAP + 0x118, 16 }, /* 1: starts where 0 ends */
		{ HEAP + 0x200, 0 },  /* 2: malloc(0), pointed to */
		{ HEAP + 0x210, 0 },  /* 3: malloc(0), pointed to one past it */
		{ HEAP + 0x300, 13 }, /* 4: odd size: its last word is not whole */
		{ HEAP + 0x400, 8 },  /* 5: only 4's partial last word points here */
	};
	struct fake f;
	uint8_t k[6];

	(void)state;
	fake_init(&f);
	poke(&f, DATA, b[1].addr); /* 0's end, 1's start: 1 only */
	poke(&f, DATA + 8, b[2].addr);
	poke(&f, DATA + 16, b[3].addr + 1);
	poke(&f, DATA + 24, b[4].addr);
	poke(&f, b[4].addr + 8, b[5].addr); /* bytes 8..15 of a 13-byte block */
	assert_int_equal(classify(&f, b, 6, k, NULL, NULL), 0);
	assert_int_equal(k[0], DEF);
	assert_int_equal(k[1], REA);
	assert_int_equal(k[2], REA);
	assert_int_equal(k[3], DEF);
	assert_int_equal(k[4], REA);
	assert_int_equal(k[5], DEF);
	fake_free(&f);
}

/* blocks inside a root region are not roots; words around them are */
static void test_blocks_inside_roots(void **state)
{
	struct heapscan_block b[] = {
		{ ANON + 0x1000, 0x100 }, /* an mmapped block inside an anonymous root map */
		{ HEAP + 0x100, 32 },	  /* pointed to only by block 0 */
		{ HEAP + 0x200, 32 },	  /* pointed to by the root words next to block 0 */
		{ HEAP + 0x300, 32 },
	};
	struct fake f;
	uint8_t k[4];

	(void)state;
	fake_init(&f);
	fake_seg(&f, ANON, 0x4000);
	fake_region(&f, ANON, ANON + 0x4000, HEAPSCAN_REGION_ROOT);
	poke(&f, b[0].addr, b[1].addr);
	poke(&f, b[0].addr - 8, b[2].addr);
	poke(&f, b[0].addr + 0x100, b[3].addr);
	assert_int_equal(classify(&f, b, 4, k, NULL, NULL), 0);
	assert_int_equal(k[0], DEF);
	assert_int_equal(k[1], IND);
	assert_int_equal(k[2], REA);
	assert_int_equal(k[3], REA);
	fake_free(&f);
}

static void test_arena_and_registers(void **state)
{
	struct heapscan_block b[] = {
		{ ARENA + 0x100, 32 }, /* a block in the arena */
		{ ARENA + 0x200, 32 }, /* a stale word in a free chunk of the arena points here */
		{ HEAP + 0x100, 32 },  /* a register points here */
	};
	struct heapscan_opts opts = { .arena_is_root = true };
	struct fake f;
	uint8_t k[3];

	(void)state;
	fake_init(&f);
	fake_seg(&f, ARENA, 0x1000);
	fake_region(&f, ARENA, ARENA + 0x1000, HEAPSCAN_REGION_ARENA);
	poke(&f, ARENA + 0x800, b[1].addr);
	f.words[f.nwords++] = b[2].addr;
	assert_int_equal(classify(&f, b, 3, k, NULL, NULL), 0);
	assert_int_equal(k[0], DEF);
	assert_int_equal(k[1], DEF);
	assert_int_equal(k[2], REA);
	assert_int_equal(classify(&f, b, 3, k, &opts, NULL), 0);
	assert_int_equal(k[0], DEF);
	assert_int_equal(k[1], REA);
	fake_free(&f);
}

/* a bin of glibc's arena points at the header of the free chunk after a block */
static void test_glibc_next_chunk_header(void **state)
{
	struct heapscan_block b[] = {
		{ HEAP + 0x110, 24 }, /* chunk of 32 bytes at 0x100: next header at 0x120 */
		{ HEAP + 0x210, 32 }, /* chunk of 48 at 0x200: next header at 0x230, past it */
		{ HEAP + 0x310, 24 }, /* the same header word, but from a lost block */
		{ HEAP + 0x410, 24 },
	};
	struct heapscan_opts opts = { .glibc_chunks = true };
	struct fake f;
	uint8_t k[4];

	(void)state;
	fake_init(&f);
	poke(&f, DATA, HEAP + 0x120);
	poke(&f, DATA + 8, HEAP + 0x228); /* a true interior pointer of block 1 */
	poke(&f, b[2].addr, HEAP + 0x420);
	assert_int_equal(classify(&f, b, 4, k, NULL, NULL), 0);
	assert_int_equal(k[0], POS);
	assert_int_equal(k[1], POS);
	assert_int_equal(k[3], IND);
	assert_int_equal(classify(&f, b, 4, k, &opts, NULL), 0);
	assert_int_equal(k[0], DEF);
	assert_int_equal(k[1], POS);
	assert_int_equal(k[2], DEF);
	assert_int_equal(k[3], DEF);
	fake_free(&f);
}

/* pieces larger than a batch, unreadable memory, an empty list, an ops failure */
static void test_batches_and_failures(void **state)
{
	struct heapscan_block b[] = {
		{ HEAP + 0x10000, 0x9000 }, /* bigger than two batches */
		{ HEAP + 0x100, 32 },	    /* pointed to from its last word */
		{ 0x7000000000ull, 64 },    /* no memory behind it */
	};
	struct heapscan_opts opts = { .batch_bytes = 4096 };
	struct heapscan_stats st;
	struct fake f;
	uint8_t k[3];

	(void)state;
	fake_init(&f);
	fake_region(&f, 0x50000000, 0x50002000, HEAPSCAN_REGION_ROOT); /* not mapped */
	poke(&f, DATA + 0x8000, b[0].addr);
	poke(&f, b[0].addr + 0x9000 - 8, b[1].addr);
	assert_int_equal(classify(&f, b, 3, k, &opts, &st), 0);
	assert_int_equal(k[0], REA);
	assert_int_equal(k[1], REA);
	assert_int_equal(k[2], DEF);
	assert_true(st.reads >= 3);
	assert_int_equal(st.unreadable_bytes, 0x2000 + 64);
	assert_int_equal(st.root_bytes, 1 << 16);
	assert_int_equal(st.snapshot_bytes, 0); /* a hole: read as reached instead */

	/* readable blocks: one snapshot, in few reads */
	b[2].addr = HEAP + 0x200;
	assert_int_equal(classify(&f, b, 3, k, NULL, &st), 0);
	assert_int_equal(k[0], REA);
	assert_int_equal(k[1], REA);
	assert_int_equal(k[2], DEF);
	assert_true(st.snapshot_bytes >= 0x9000 + 96);
	assert_int_equal(st.unreadable_bytes, 0x2000);

	assert_int_equal(classify(&f, NULL, 0, k, NULL, &st), 0);
	f.fail_roots = 1;
	assert_int_equal(classify(&f, b, 3, k, NULL, NULL), -ESRCH);
	fake_free(&f);
}

/* ---- a random heap against valgrind's algorithm, word by word ---- */

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static int ref_find(const struct heapscan_block *b, size_t n, uint64_t w)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t e = b[i].addr + (b[i].size ? b[i].size : 1);

		if (w >= b[i].addr && w < e)
			return (int)i;
	}
	return -1;
}

/* mc_leakcheck.c's states and mark stack, blocks sorted by address */
static void reference(struct fake *f, const struct heapscan_block *b, size_t n, uint8_t *out)
{
	enum { U, I, P, R };
	uint8_t *st = calloc(n, 1);
	int *stack = malloc(4 * n * sizeof(int)), top = 0;
	size_t i, r;
	uint64_t a;

	assert_true(st && stack);
#define VISIT(w, definite, clique)                                                        \
	do {                                                                               \
		int j_ = ref_find(b, n, (w));                                              \
		if (j_ < 0)                                                                \
			break;                                                             \
		if ((clique) < 0) {                                                        \
			if (st[j_] == R)                                                   \
				break;                                                     \
			if ((w) == b[j_].addr && (definite)) {                             \
				st[j_] = R;                                                \
				stack[top++] = j_;                                         \
			} else if (st[j_] == U) {                                          \
				st[j_] = P;                                                \
				stack[top++] = j_;                                         \
			}                                                                  \
		} else if (st[j_] == U && j_ != (clique)) {                                \
			st[j_] = I;                                                        \
			stack[top++] = j_;                                                 \
		}                                                                          \
	} while (0)
	for (r = 0; r < (size_t)f->nreg; r++) {
		for (a = (f->reg[r].start + 7) & ~7ull; a + 8 <= f->reg[r].end; a += 8) {
			uint8_t *p = fake_at(f, a, 8);
			uint64_t w;

			if (!p || ref_find(b, n, a) >= 0)
				continue;
			memcpy(&w, p, 8);
			VISIT(w, 1, -1);
		}
	}
	for (;;) {
		int c = -1;

		while (top) {
			int x = stack[--top];
			bool def = st[x] != P;

			for (a = (b[x].addr + 7) & ~7ull; a + 8 <= b[x].addr + b[x].size; a += 8) {
				uint64_t w;

				memcpy(&w, fake_at(f, a, 8), 8);
				VISIT(w, def, c);
			}
		}
		break;
	}
	for (i = 0; i < n; i++) {
		int c = (int)i;

		if (st[i] != U)
			continue;
		stack[top++] = c;
		while (top) {
			int x = stack[--top];

			for (a = (b[x].addr + 7) & ~7ull; a + 8 <= b[x].addr + b[x].size; a += 8) {
				uint64_t w;

				memcpy(&w, fake_at(f, a, 8), 8);
				VISIT(w, 1, c);
			}
		}
	}
#undef VISIT
	for (i = 0; i < n; i++)
		out[i] = st[i] == U ? DEF : st[i] == I ? IND : st[i] == P ? POS : REA;
	free(st);
	free(stack);
}

static void test_random_heaps_match_valgrind(void **state)
{
	enum { N = 600 };
	struct heapscan_block b[N], shuffled[N];
	uint8_t want[N], got[N], got_sh[N];
	size_t perm[N];
	int round;

	(void)state;
	for (round = 0; round < 40; round++) {
		/* both reading modes: the snapshot, and blocks read as reached (snapshot_max
		 * too small), each with small and large batches */
		struct heapscan_opts opts = { .batch_bytes = round % 2 ? 4096 : 0,
					      .snapshot_max = round % 4 >= 2 ? 64 : 0 };
		uint64_t a = HEAP + 16;
		struct fake f;
		size_t i;

		fake_init(&f);
		/* blocks in address order, some adjacent, some of size 0, some large */
		for (i = 0; i < N; i++) {
			uint64_t size = rnd() % 8 == 0 ? 0 : rnd() % 20 == 0 ? 4000 : rnd() % 200;

			b[i] = (struct heapscan_block){ a, size };
			/* addresses are unique: a block of size 0 still takes a byte */
			a += (size ? size : 1) + (rnd() % 3 == 0 ? 0 : 16 * (rnd() % 4));
			a = rnd() % 2 ? (a + 7) & ~7ull : a;
		}
		assert_true(a < HEAP + (1 << 20));
		/* pointers: to starts, to interiors, junk; from blocks and from the root */
		for (i = 0; i < N; i++) {
			uint64_t w;

			for (w = (b[i].addr + 7) & ~7ull; w + 8 <= b[i].addr + b[i].size; w += 8) {
				size_t t = rnd() % N;
				uint64_t v = rnd() % 5 == 0 ? b[t].addr + rnd() % (b[t].size + 1)
							    : b[t].addr;

				if (rnd() % 6 == 0)
					poke(&f, w, rnd() % 3 ? v : rnd());
			}
		}
		for (i = 0; i < 20 + (size_t)round; i++) {
			size_t t = rnd() % N;

			poke(&f, DATA + 8 * (rnd() % 8192),
			     rnd() % 4 ? b[t].addr : b[t].addr + rnd() % (b[t].size + 1));
		}
		reference(&f, b, N, want);
		assert_int_equal(classify(&f, b, N, got, &opts, NULL), 0);
		for (i = 0; i < N; i++)
			if (want[i] != got[i])
				fail_msg("round %d block %zu at %#llx size %llu: want %s got %s", round,
					 i, (unsigned long long)b[i].addr,
					 (unsigned long long)b[i].size, heapscan__kind_name(want[i]),
					 heapscan__kind_name(got[i]));
		/* the order of the input does not matter */
		for (i = 0; i < N; i++)
			perm[i] = i;
		for (i = N - 1; i > 0; i--) {
			size_t j = rnd() % (i + 1), t = perm[i];

			perm[i] = perm[j];
			perm[j] = t;
		}
		for (i = 0; i < N; i++)
			shuffled[i] = b[perm[i]];
		assert_int_equal(classify(&f, shuffled, N, got_sh, &opts, NULL), 0);
		for (i = 0; i < N; i++)
			assert_int_equal(got_sh[i], want[perm[i]]);
		fake_free(&f);
	}
}

/* more blocks than the radix sort's threshold, in reverse order */
static void test_many_blocks_sorted(void **state)
{
	enum { N = 20000 };
	struct heapscan_block *b = calloc(N, sizeof(*b));
	uint8_t *k = malloc(N);
	struct fake f;
	size_t i;

	(void)state;
	assert_true(b && k);
	fake_init(&f);
	for (i = 0; i < N; i++)
		b[i] = (struct heapscan_block){ HEAP + 48 * (N - 1 - i), 40 };
	/* a list from the root through every other block */
	poke(&f, DATA, HEAP);
	for (i = 0; i + 2 < N; i += 2)
		poke(&f, HEAP + 48 * i, HEAP + 48 * (i + 2));
	assert_int_equal(classify(&f, b, N, k, NULL, NULL), 0);
	for (i = 0; i < N; i++)
		assert_int_equal(k[i], ((N - 1 - i) % 2) ? DEF : REA);
	fake_free(&f);
	free(b);
	free(k);
}

/* ---- /proc parsers ---- */

static void test_parse_maps(void **state)
{
	struct heapscan_map m;

	(void)state;
	assert_int_equal(heapscan__parse_maps_line("55d0c8a00000-55d0c8a21000 rw-p 00000000 00:00 "
						   "0                          [heap]\n",
						   &m),
			 0);
	assert_true(m.start == 0x55d0c8a00000ull && m.end == 0x55d0c8a21000ull);
	assert_string_equal(m.perms, "rw-p");
	assert_string_equal(m.path, "[heap]");
	assert_int_equal(heapscan__parse_maps_line("7f1c2e5f4000-7f1c2e5f6000 rw-p 001d5000 fe:01 "
						   "1835   /usr/lib/x86_64-linux-gnu/libc.so.6\n",
						   &m),
			 0);
	assert_true(m.offset == 0x1d5000 && m.inode == 1835);
	assert_string_equal(m.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	assert_int_equal(heapscan__parse_maps_line("7f1c2e600000-7f1c2e601000 rw-p 00000000 00:00 0 "
						   "\n",
						   &m),
			 0);
	assert_string_equal(m.path, "");
	assert_int_equal(heapscan__parse_maps_line("7f00-7e00 rw-p 0 00:00 0\n", &m), -EINVAL);
	assert_int_equal(heapscan__parse_maps_line("garbage\n", &m), -EINVAL);
}

static void test_parse_syscall(void **state)
{
	uint64_t sp = 1;

	(void)state;
	assert_int_equal(heapscan__parse_syscall("running\n", &sp), 0);
	assert_true(sp == 0);
	assert_int_equal(heapscan__parse_syscall("202 0x7f3d 0x80 0x2 0x0 0x0 0xca 0x7ffd1230 "
						 "0x7f12aa\n",
						 &sp),
			 0);
	assert_true(sp == 0x7ffd1230);
	assert_int_equal(heapscan__parse_syscall("-1 0x7ffc5678 0x401000\n", &sp), 0);
	assert_true(sp == 0x7ffc5678);
	assert_int_equal(heapscan__parse_syscall("12 0x1\n", &sp), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_class),
		cmocka_unit_test(test_possible_upgrades),
		cmocka_unit_test(test_indirect_chain_and_tree),
		cmocka_unit_test(test_cycles),
		cmocka_unit_test(test_unaligned_ignored),
		cmocka_unit_test(test_adjacent_and_zero_size),
		cmocka_unit_test(test_blocks_inside_roots),
		cmocka_unit_test(test_arena_and_registers),
		cmocka_unit_test(test_glibc_next_chunk_header),
		cmocka_unit_test(test_batches_and_failures),
		cmocka_unit_test(test_random_heaps_match_valgrind),
		cmocka_unit_test(test_many_blocks_sorted),
		cmocka_unit_test(test_parse_maps),
		cmocka_unit_test(test_parse_syscall),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
