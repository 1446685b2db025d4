/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the leak classes rest on, as data: the class of each block a scan at exit gave
 * (per process, from the hold, user/hold.h), which classes count as leaks (--leak-kinds),
 * which stacks are the runtime's own (C library, dynamic loader, C++ runtime), and
 * LeakSanitizer-format suppressions (--suppressions). No I/O but reading a suppressions
 * file, so it links into the unit tests.
 */
#ifndef __QH_LEAKCLASS_H
#define __QH_LEAKCLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct heap_frame;

/* the first four are enum heapscan_kind's, in its order */
enum leak_kind {
	LEAK_DEFINITELY_LOST,
	LEAK_INDIRECTLY_LOST,
	LEAK_POSSIBLY_LOST,
	LEAK_STILL_REACHABLE,
	LEAK_UNCLASSIFIED,
	LEAK__KINDS,
};

#define LEAK_KINDS_DEFAULT ((1U << LEAK_DEFINITELY_LOST) | (1U << LEAK_INDIRECTLY_LOST))

/* "definitely_lost", ..., "unclassified" */
const char *leak_kind__name(int kind);
/*
 * --leak-kinds: a comma-separated list of valgrind's names (definite, indirect, possible,
 * reachable), ours (definitely_lost, ...), unclassified, all, none. The mask, or -EINVAL
 * with the word in @why.
 */
int leak_kinds__parse(const char *list, uint32_t *mask, char *why, size_t len);
/* "definitely_lost,indirectly_lost" */
void leak_kinds__str(uint32_t mask, char *buf, size_t len);

/* ---- the classes a hold gave, per process image ---- */
struct leakclass_block {
	uint64_t addr;
	uint8_t kind; /* enum leak_kind */
};

struct leakclass_proc {
	uint32_t tgid, gen;
	uint64_t start_ns;	/* CLOCK_BOOTTIME, as the process model keys it */
	uint64_t stop_ns;	/* CLOCK_BOOTTIME when its threads were stopped for the scan */
	bool classified;	/* every block has a class; else `reason` says why none has */
	char reason[128];
	bool conservative;	/* the allocator's arenas were roots (an incomplete block list) */
	uint32_t threads;	/* threads held */
	double pause_ms;	/* from the exit stop to the release */
	double scan_ms;
	uint64_t root_bytes, heap_bytes, unreadable_bytes;
	size_t n;
	struct leakclass_block *v; /* sorted by address */
};

struct leakclass;

struct leakclass *leakclass__new(void);
void leakclass__free(struct leakclass *c);
/* Keep @p (its blocks are copied and sorted); a newer record of (tgid, gen) replaces one. */
int leakclass__add(struct leakclass *c, const struct leakclass_proc *p);
const struct leakclass_proc *leakclass__find(const struct leakclass *c, uint32_t tgid,
					     uint32_t gen);
/*
 * The class of the block at @addr of (tgid, gen): LEAK_UNCLASSIFIED with *@reason when the
 * process was not classified (or the block not among those scanned), *@reason NULL when
 * nothing is known of the process at all.
 */
int leakclass__kind(const struct leakclass *c, uint32_t tgid, uint32_t gen, uint64_t addr,
		    const char **reason);
/* Made after the scan of a process that went on running (`leaks -p`): outside the window. */
bool leakclass__after_scan(const struct leakclass *c, uint32_t tgid, uint32_t gen,
			   uint64_t made_ns);
size_t leakclass__count(const struct leakclass *c);
const struct leakclass_proc *leakclass__get(const struct leakclass *c, size_t i);

/*
 * A stack wholly inside the runtime (libc, ld.so, libstdc++, libgcc_s, libpthread, libdl,
 * libm): every frame has a module and each is one of them. Its blocks are the runtime's
 * own (stdio buffers, locale, the loader's per-thread blocks, libstdc++'s emergency pool).
 */
bool leakclass__is_runtime_stack(const struct heap_frame *f, size_t n);
/* @path's base name is one of the runtime's modules */
bool leakclass__is_runtime_module(const char *path);

/* ---- suppressions, LeakSanitizer's format ---- */
struct leaksupp_entry {
	char *pattern;		/* after "leak:" */
	char *file;		/* the suppressions file */
	uint32_t line;
	uint64_t count, bytes;	/* blocks and bytes it suppressed */
};

struct leaksupp {
	struct leaksupp_entry *v;
	size_t n, cap;
};

/*
 * Add the entries of @path: "leak:PATTERN" lines, blank lines and '#' comments. 0, or
 * -errno with "FILE:LINE: why" (or "FILE: why") in @why; nothing is added then.
 */
int leaksupp__load(struct leaksupp *s, const char *path, char *why, size_t len);
/* The same from text (what load reads); @name names it in errors. */
int leaksupp__parse(struct leaksupp *s, const char *name, const char *text, char *why,
		    size_t len);
void leaksupp__free(struct leaksupp *s);
/*
 * The first entry whose pattern matches a frame's function, source file or module
 * (LeakSanitizer's rules: '*' any run of characters, '^' and '$' anchor the ends, else a
 * substring), or -1.
 */
int leaksupp__match(const struct leaksupp *s, const struct heap_frame *f, size_t n);
/* LeakSanitizer's TemplateMatch, for the tests */
bool leaksupp__template_match(const char *templ, const char *str);

#endif
