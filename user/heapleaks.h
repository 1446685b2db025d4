/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The heap leak detector: live blocks grouped by (process, allocation stack) into findings
 * with a count, bytes, the oldest block's age and a severity. Fed one block at a time; does no
 * I/O of its own.
 */
#ifndef __QH_HEAPLEAKS_H
#define __QH_HEAPLEAKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "htab.h"
#include "leakclass.h"
#include "severity.h"

struct proc;
struct qh_alloc;

struct heap_frame {
	uint64_t addr;
	uint64_t offset;	/* from the start of symbol */
	uint32_t line;		/* 0: unknown */
	char *symbol;		/* NULL: unknown; C++ names demangled */
	char *raw_symbol;	/* the name as the binary has it, when demangling changed it */
	char *module;
	char *file;
	bool inlined;		/* a function the compiler inlined into the next frame */
};

struct heap_leak {
	struct proc *proc;
	uint64_t caller;	/* return address of the allocator call */
	uint64_t stack_key;	/* the stack beyond the caller, as far as it is meaningful */
	uint64_t stack_id;	/* one of the kernel's stacks that have this key (0: none) */
	bool truncated;		/* its stack ends before the outermost frame, or was partly
				 * guessed from frame pointers */
	bool inherited;		/* blocks the process got from its parent at fork */
	uint8_t kind;		/* enum leak_kind (leakclass.h): the class the scan at exit gave */
	bool runtime;		/* its stack lies wholly in libc, ld.so or the C++ runtime */
	bool counted;		/* a leak by --leak-kinds (and not the runtime's): gated, graded */
	const char *reason;	/* unclassified: why (the classes' table owns it), or NULL */
	int32_t test;		/* the test that allocated its blocks (testattr.h), -1: none */
	uint32_t growing_checks; /* consecutive periodic checks at which it had grown */
	uint64_t bytes;
	uint64_t count;
	uint64_t oldest_ns;	/* CLOCK_BOOTTIME of the oldest block */
	double age_s;		/* of the oldest block, at the process's exit or at the check */
	double growth_bytes_per_s;
	enum severity severity;
	size_t nframes;
	struct heap_frame *frames;
	struct hnode hnode;	/* by (process, caller, stack, inherited) while grouping */
};

struct heapleaks_opts {
	uint64_t threshold_bytes; /* leak_threshold_mb: critical from here */
	bool by_count;		  /* order findings by block count, not bytes */
	uint64_t min_age_ns;	  /* blocks younger than this, in running processes, are not leaks */
};

struct heapleaks;

struct heapleaks *heapleaks__new(const struct heapleaks_opts *o);
void heapleaks__free(struct heapleaks *h);

/*
 * One live block of @p, seen at @now_ns. Blocks are grouped by (process, caller, stack_key):
 * the kernel gives two stacks that differ only in the garbage past the last real frame two
 * ids, so the caller of this function says which stacks are the same. Blocks of an exited process are all outstanding (it
 * will never free them); in a running process only those older than min_age.
 */
int heapleaks__add(struct heapleaks *h, struct proc *p, const struct qh_alloc *a,
		   uint64_t stack_key, bool inherited, uint64_t now_ns);
/* The same, the blocks of each test (testattr.h's index, -1: none) grouped apart. */
int heapleaks__add_test(struct heapleaks *h, struct proc *p, const struct qh_alloc *a,
			uint64_t stack_key, bool inherited, int32_t test, uint64_t now_ns);
/* The same with the block's class (and, unclassified, why): findings are per class too. */
int heapleaks__add_kind(struct heapleaks *h, struct proc *p, const struct qh_alloc *a,
			uint64_t stack_key, bool inherited, int32_t test, int kind,
			const char *reason, uint64_t now_ns);
/*
 * Move each finding of @from to the heapleaks @dest(ctx, finding) names (not sifted yet), or
 * free it where @dest returns NULL; @from is empty after. 0, or -ENOMEM (what was not moved
 * is freed).
 */
int heapleaks__take(struct heapleaks *from,
		    struct heapleaks *(*dest)(void *ctx, const struct heap_leak *l), void *ctx);

/* Severities and rates, and the findings sorted by bytes (or count), largest first. */
void heapleaks__finish(struct heapleaks *h, uint64_t now_ns);

size_t heapleaks__count(const struct heapleaks *h);
struct heap_leak *heapleaks__get(struct heapleaks *h, size_t i);
uint64_t heapleaks__total_bytes(const struct heapleaks *h);
uint64_t heapleaks__total_blocks(const struct heapleaks *h);

/*
 * After the frames are resolved: findings of one process whose stacks read the same (module,
 * function, file and line of every frame; the address where no symbol is known) become one.
 * Two calls on one source line (an unrolled loop, say) are one call site to a reader.
 */
void heapleaks__merge_same_frames(struct heapleaks *h);

struct leaksupp;

/* Bytes and blocks per class (enum leak_kind), after heapleaks__sift. */
struct heapleaks_totals {
	uint64_t blocks[LEAK__KINDS], bytes[LEAK__KINDS];		/* the findings' (not the runtime's) */
	uint64_t rt_blocks[LEAK__KINDS], rt_bytes[LEAK__KINDS];	/* the runtime's own blocks */
	uint64_t suppressed_blocks, suppressed_bytes;
	size_t counted;				/* findings that are leaks by --leak-kinds */
};

/*
 * After the frames are resolved and merged: mark the runtime's own findings (listed only
 * with @list_runtime) and the findings that count (@kinds, a mask of enum leak_kind); drop
 * the counted ones a suppression in @supp matches (it counts them); add up the classes; sort
 * the counted findings first.
 */
void heapleaks__sift(struct heapleaks *h, uint32_t kinds, struct leaksupp *supp,
		     bool list_runtime);
const struct heapleaks_totals *heapleaks__totals(const struct heapleaks *h);

/* Take ownership of @frames (heap_frame strings are freed with the finding). */
void heap_leak__set_frames(struct heap_leak *l, struct heap_frame *frames, size_t n);

/*
 * Trends across periodic checks (leak_check_interval): for each (process, call site), how
 * many checks in a row found more bytes outstanding than the one before. A site that keeps
 * growing is a leak even while its process runs.
 */
#define QH_GROWING_CHECKS 3 /* from this many, a finding is one severity level up */

struct heaptrend;

struct heaptrend *heaptrend__new(void);
void heaptrend__free(struct heaptrend *t);
/* Record a check: every finding of @h (all live blocks, min_age 0) at this moment. */
int heaptrend__observe(struct heaptrend *t, struct heapleaks *h);
/* Give the findings of @h their growing_checks, and raise the severity of steady growers. */
void heaptrend__apply(const struct heaptrend *t, struct heapleaks *h);

#endif
