// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"

#define HTAB_MIN_BUCKETS 64

static size_t slot(const struct htab *t, uint64_t hash)
{
	return hash & (t->nb - 1);
}

static void rehash(struct htab *t, size_t nb)
{
	struct hnode **b = calloc(nb, sizeof(*b)), *e, *next;
	size_t i, old = t->nb;

	if (!b)
		return; /* longer chains, still correct */
	for (i = 0; i < old; i++)
		for (e = t->b[i]; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

int htab__add(struct htab *t, struct hnode *e, uint64_t hash)
{
	size_t i;

	if (!t->nb) {
		t->b = calloc(HTAB_MIN_BUCKETS, sizeof(*t->b));
		if (!t->b)
			return -ENOMEM;
		t->nb = HTAB_MIN_BUCKETS;
	} else if (t->n >= t->nb && t->nb <= SIZE_MAX / 2 / sizeof(*t->b)) {
		rehash(t, t->nb * 2);
	}
	e->hash = hash;
	i = slot(t, hash);
	e->next = t->b[i];
	t->b[i] = e;
	t->n++;
	return 0;
}

static struct hnode *same_hash(struct hnode *e, uint64_t hash)
{
	while (e && e->hash != hash)
		e = e->next;
	return e;
}

struct hnode *htab__first(const struct htab *t, uint64_t hash)
{
	return t->nb ? same_hash(t->b[slot(t, hash)], hash) : NULL;
}

struct hnode *htab__next(const struct hnode *e)
{
	return same_hash(e->next, e->hash);
}

void htab__del(struct htab *t, struct hnode *e)
{
	struct hnode **pp;

	if (!t->nb)
		return;
	for (pp = &t->b[slot(t, e->hash)]; *pp; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			e->next = NULL;
			t->n--;
			return;
		}
}

void htab__clear(struct htab *t)
{
	if (t->nb)
		memset(t->b, 0, t->nb * sizeof(*t->b));
	t->n = 0;
}

void htab__free(struct htab *t)
{
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

uint64_t htab__mix(uint64_t x)
{
	/* splitmix64's finalizer: every input bit reaches the low bits the buckets use */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

uint64_t htab__str(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}
