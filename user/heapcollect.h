/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Heap block collection: the live blocks of the kernel's `allocs` map, read by the caller into
 * an array, grouped into heap findings. Which blocks a forked child inherited (link_heirs),
 * which are harvested (taken out of the map: their process can change them no more), which are
 * reported, and the stack of each finding. The few kernel calls it needs come through
 * struct heapcollect_ops, so it links into the unit tests.
 */
#ifndef __QH_HEAPCOLLECT_H
#define __QH_HEAPCOLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "qhtrace.h"

struct heapleaks;
struct proc;
struct proctree;
struct syms_frame;
struct syms_map;
struct syms_maps;

/* One record of the `allocs` map, as tracer__for_each_alloc hands it out (ts_ns in boot ns). */
struct heap_block {
	struct qh_alloc_key k;
	struct qh_alloc a;
};

/* The blocks read from the map, grown as tracer__for_each_alloc hands them out. */
struct heap_blocks {
	struct heap_block *v;
	size_t n, cap;
};

/* A tracer__for_each_alloc visitor: append (@k, @a) to the struct heap_blocks @ctx. */
int heap_blocks__add(void *ctx, const struct qh_alloc_key *k, const struct qh_alloc *a);

struct heapcollect_ops {
	/*
	 * The allocation stack @id (struct qh_ustack: [0] inside the allocator, then return
	 * addresses, innermost first); how many, or -errno. *@flags: its QH_USTACK_* flags.
	 */
	int (*stack)(void *ctx, uint64_t id, uint64_t *ips, size_t max, uint32_t *flags);
	/* Has the forked child @k names freed the block it inherited at that address? */
	bool (*inherited_freed)(void *ctx, const struct qh_alloc_key *k);
	/*
	 * The class of block @k (enum leak_kind) in @p's memory, as the scan at exit gave it;
	 * LEAK_UNCLASSIFIED with why in *@reason; -1: the block is none of the report's (made
	 * after the scan that ended `leaks -p`'s window). NULL: every block is unclassified.
	 */
	int (*kind)(void *ctx, const struct proc *p, const struct qh_alloc_key *k,
		    const struct qh_alloc *a, const char **reason);
	/* Take a harvested block out of the kernel's map. */
	void (*forget)(void *ctx, const struct qh_alloc_key *k);
	/*
	 * Symbolize @addr in the mappings @m, inlined functions expanded into @out[0..@max)
	 * (syms__resolve_inline); how many frames, or -errno when unknown.
	 */
	int (*resolve)(void *ctx, const struct syms_maps *m, uint64_t addr, struct syms_frame *out,
		       size_t max);
	/*
	 * The slice kept with the QH_USTACK_SLICE stack @id (the walk met code of a file the
	 * loader had not seen yet); 0 or -errno. NULL: stacks are taken as the kernel walked them.
	 */
	int (*slice)(void *ctx, uint64_t id, struct qh_ustack_slice *out);
	/*
	 * The unwind rows (unwind.h) of the file mapped at @map of @m; 0 or -errno. They stay the
	 * ops owner's, valid as long as the ops.
	 */
	int (*rows)(void *ctx, const struct syms_maps *m, const struct syms_map *map,
		    const struct qh_unwind_row **rows, size_t *n);
	/* The test that allocated the block (testattr.h's index), -1: none; NULL: no tests. */
	int32_t (*test_of)(void *ctx, const struct proc *p, const struct qh_alloc_key *k,
			   const struct qh_alloc *a);
	void *ctx;
};

/*
 * Link each forked child of @t to the parent (and generation) whose blocks it inherited:
 * p->heir, then h->next_heir.
 */
void heapcollect__link_heirs(struct proctree *t);

/*
 * The blocks @b[0..@n) into @leaks (grouped, not yet symbolized), also as the copies forked
 * children inherited and have not freed. With @harvest, only the blocks of processes that
 * have exited (nothing can free them now), unless a running heir still shares them, and those
 * of images exec replaced: they go into @leaks for good (the exec'd ones not at all) and out
 * of the map through ops->forget, so it holds what can still change. Without, every block of
 * a known process is added and @leaks finished at @now_ns. Links heirs first.
 * 0, or -ENOMEM (what was taken out before stays out).
 */
int heapcollect__blocks(const struct heapcollect_ops *ops, struct proctree *t,
			struct heapleaks *leaks, const struct heap_block *b, size_t n, bool harvest,
			uint64_t now_ns);

/*
 * The stack of every finding in @leaks: the frames the kernel unwound from the allocator's
 * entry (the caller alone when there is no stack), up to the first address no file mapping
 * holds, inlined functions expanded, C++ names demangled (the raw name kept). A stack the
 * unwinder could not finish, or finished by frame pointers it had to trust, is truncated.
 */
void heapcollect__frames(const struct heapcollect_ops *ops, struct heapleaks *leaks);

#endif
