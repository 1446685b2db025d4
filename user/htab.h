/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The loader's one hash table: chained and intrusive. An element embeds a `struct hnode` and
 * is found by its 64-bit hash, then compared by the caller, so one table serves processes
 * keyed by pid, findings keyed by (process, stack) and files keyed by (dev, inode, path)
 * without a key type of its own. The table never owns its elements; it doubles its buckets
 * when it holds more elements than buckets.
 *
 *	struct hnode *n;
 *	for (n = htab__first(&t, h); n; n = htab__next(n))
 *		if (same_key(htab_entry(n, struct proc, hnode), ...)) ...
 */
#ifndef __QH_HTAB_H
#define __QH_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct htab {
	struct hnode **b;
	size_t nb; /* a power of two, or 0 before the first add */
	size_t n;
};

#define htab_entry(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

/* Add @e under @hash. 0, or -ENOMEM when the very first buckets cannot be had (a failed
 * growth later only makes chains longer). */
int htab__add(struct htab *t, struct hnode *e, uint64_t hash);
/* The first element with @hash, or NULL; htab__next gives the others with the same hash. */
struct hnode *htab__first(const struct htab *t, uint64_t hash);
struct hnode *htab__next(const struct hnode *e);
/* Unlink @e, which is in @t. */
void htab__del(struct htab *t, struct hnode *e);
/* Forget every element (they are the caller's to free); the buckets stay. */
void htab__clear(struct htab *t);
/* Free the buckets; the table is empty and usable again. */
void htab__free(struct htab *t);

/* Hash helpers: a 64-bit finalizer, and FNV-1a over a string (NULL hashes as "") from @h. */
uint64_t htab__mix(uint64_t x);
uint64_t htab__str(uint64_t h, const char *s);
#define HTAB_SEED 1469598103934665603ULL

#endif
