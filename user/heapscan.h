/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reachability of heap blocks, as valgrind's memcheck and LeakSanitizer decide it: the memory
 * of a held process is scanned for words that point to the live blocks qhtrace knows.
 *
 * Classes (valgrind's, with its rules):
 *  - still_reachable: a chain of start pointers leads to it from a root;
 *  - possibly_lost:   reached, but only through a chain that uses an interior pointer (a
 *                     pointer into the block, not to its start) somewhere;
 *  - definitely_lost: not reached from the roots, and no other unreached block points to it,
 *                     or it leads a cycle of unreached blocks (valgrind's clique leader: of a
 *                     cycle, the block at the lowest address no earlier leader reaches);
 *  - indirectly_lost: not reached from the roots, pointed to by a lost block.
 * Only aligned words count (LeakSanitizer's use_unaligned=0, valgrind's rule). A zero-size
 * block is one byte wide for the lookup, so a pointer to it counts (valgrind's find_chunk_for).
 *
 * The classifier takes its inputs as data: the blocks, and a small ops struct that lists the
 * roots and reads memory in batches. heapscan_proc is the ops struct for a live process
 * (/proc/PID/maps, /proc/PID/task, process_vm_readv); the unit tests use buffers.
 */
#ifndef __QH_HEAPSCAN_H
#define __QH_HEAPSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum heapscan_kind {
	HEAPSCAN_DEFINITELY_LOST,
	HEAPSCAN_INDIRECTLY_LOST,
	HEAPSCAN_POSSIBLY_LOST,
	HEAPSCAN_STILL_REACHABLE,
	HEAPSCAN__KINDS,
};

/* "definitely_lost", ... (the report's `kind`) */
const char *heapscan__kind_name(enum heapscan_kind kind);

struct heapscan_block {
	uint64_t addr;
	uint64_t size; /* the size asked for (malloc's argument), 0 allowed */
};

enum heapscan_region_kind {
	HEAPSCAN_REGION_ROOT,  /* data, bss, anonymous maps, TLS: scanned whole */
	HEAPSCAN_REGION_STACK, /* a thread's stack, from its stack pointer up: scanned whole */
	HEAPSCAN_REGION_ARENA, /* the allocator's own memory ([heap], glibc's thread arenas):
				* it holds the blocks and the free chunks between them, whose
				* stale words are no roots. Scanned only with arena_is_root */
};

struct heapscan_region {
	uint64_t start;
	uint64_t end; /* exclusive */
	enum heapscan_region_kind kind;
};

/* What the ops' roots() fills: regions, and loose words (the threads' registers). */
struct heapscan_roots {
	struct heapscan_region *regions;
	size_t n_regions, cap_regions;
	uint64_t *words;
	size_t n_words, cap_words;
};

int heapscan_roots__add_region(struct heapscan_roots *r, uint64_t start, uint64_t end,
			       enum heapscan_region_kind kind);
int heapscan_roots__add_word(struct heapscan_roots *r, uint64_t word);
void heapscan_roots__free(struct heapscan_roots *r);

/* One piece of memory to read: read() sets @got (0..len; less where the memory ends). */
struct heapscan_read {
	uint64_t addr;
	void *buf;
	size_t len;
	size_t got;
};

struct heapscan_ops {
	/* fill @roots (its arrays are the classifier's to free); 0 or -errno */
	int (*roots)(void *ctx, struct heapscan_roots *roots);
	/* read @n pieces at once (a batch: up to 1024 pieces, batch_bytes in all); an
	 * unreadable piece is no error (its got is short); -errno only when nothing can be read
	 * any more (the process is gone) */
	int (*read)(void *ctx, struct heapscan_read *reqs, size_t n);
};

struct heapscan_opts {
	/*
	 * Scan the allocator's arenas outside the known blocks as roots. Off (exact): right
	 * when the block list is complete. On: when it is not (sampling, size filters, `leaks
	 * -p` that missed the blocks made before it attached), so that a block pointed to only
	 * from an unknown block is not called lost; stale words in free chunks may then keep
	 * lost blocks reachable (misses, never false findings).
	 */
	bool arena_is_root;
	/*
	 * glibc's chunks: the header of the chunk after a block lies inside the block's last
	 * bytes when the size asked for is not a multiple of 16 (the size field of that header
	 * is the block's last 8 usable bytes, malloc's "prev_size" of the next chunk). The
	 * arena's bins point at free chunks' headers: such a word is the allocator's, not an
	 * interior pointer into the block.
	 */
	bool glibc_chunks;
	size_t batch_bytes; /* bytes read per batch; 0: 8 MiB */
	/*
	 * Read every block at once, in address order, neighbours merged into one piece (a few
	 * hundred reads for a whole heap), when they hold at most this many bytes (0: 512 MiB;
	 * the scanner holds a copy). Above it, or if a piece cannot be read whole, blocks are
	 * read as the walk reaches them, up to 1024 a read: a linked list then costs a read per
	 * few blocks.
	 */
	uint64_t snapshot_max;
};

struct heapscan_stats {
	uint64_t blocks[HEAPSCAN__KINDS];
	uint64_t bytes[HEAPSCAN__KINDS];
	uint64_t root_regions;
	uint64_t root_bytes;	   /* root memory scanned (blocks inside roots left out) */
	uint64_t heap_bytes;	   /* block memory scanned */
	uint64_t unreadable_bytes; /* asked for and not read */
	uint64_t words;		   /* aligned words looked at */
	uint64_t candidates;	   /* of them, in the blocks' address range: looked up */
	uint64_t reads;		   /* read() calls */
	uint64_t snapshot_bytes;   /* the copy of the blocks, 0 if they were read as reached */
	uint64_t edges;		   /* pointers between unreached blocks */
	uint64_t ns_roots, ns_flood, ns_cliques;
};

/*
 * Classify @n blocks (any order; overlapping records, which a consistent map never holds,
 * are clipped to the next block's start): @kinds[i] is the class of @blocks[i]. 0, or
 * -errno from the ops (nothing classified then), -ENOMEM.
 */
int heapscan__classify(const struct heapscan_block *blocks, size_t n,
		       const struct heapscan_ops *ops, void *ctx, const struct heapscan_opts *opts,
		       uint8_t *kinds, struct heapscan_stats *stats);

/*
 * ---- a live process ----
 * Roots from /proc/PID/maps: every readable and writable mapping (data and bss of the
 * program and its libraries, anonymous maps, TLS, shared maps) but devices; [heap] and
 * glibc's thread arenas (a heap_info at a 64 MiB boundary) are ARENA; each thread's stack
 * is cut to start at its stack pointer, from set_regs() (ptrace) or else
 * /proc/PID/task/TID/syscall (any thread not running). A thread whose stack pointer is not
 * known keeps its whole stack (LeakSanitizer's fallback). Memory is read with
 * process_vm_readv, 1024 pieces a call.
 */
struct heapscan_proc;

extern const struct heapscan_ops heapscan_proc_ops;

int heapscan_proc__new(pid_t pid, struct heapscan_proc **out);
/* a thread's registers (user_regs_struct words: they are roots) and stack pointer */
int heapscan_proc__set_regs(struct heapscan_proc *p, pid_t tid, const uint64_t *regs, size_t n,
			    uint64_t sp);
void heapscan_proc__free(struct heapscan_proc *p);

/* ---- parsers, for the tests ---- */
struct heapscan_map {
	uint64_t start, end, offset, inode;
	char perms[5];
	char path[256]; /* "" for anonymous */
};
/* one line of /proc/PID/maps; 0 or -EINVAL */
int heapscan__parse_maps_line(const char *line, struct heapscan_map *m);
/* /proc/PID/task/TID/syscall: the stack pointer, 0 if the thread was running; -EINVAL */
int heapscan__parse_syscall(const char *buf, uint64_t *sp);

#endif
