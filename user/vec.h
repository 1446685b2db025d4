/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The loader's one growable array: a typed pointer, a count and a capacity, kept by the user
 * in whatever struct holds them (`struct x *v; size_t n, cap;`), grown by doubling from 8.
 *
 *	struct row *r = vec_push(t->rows, t->n, t->cap);	(zeroed, or NULL: out of memory)
 *	if (vec_reserve(t->rows, t->cap, want))			(0, or -ENOMEM; rows unchanged)
 *
 * On failure the array and its elements are left as they were, so the caller can report and
 * go on with what it has.
 */
#ifndef __QH_VEC_H
#define __QH_VEC_H

#include <stddef.h>
#include <string.h>

/* Room for @need elements of @size in *@arr; 0, or -ENOMEM (overflow included). */
int vec__reserve(void **arr, size_t *cap, size_t need, size_t size);

#define vec_reserve(arr, cap, need)                                                        \
	({                                                                                 \
		void *vec_a__ = (arr);                                                     \
		int vec_e__ = vec__reserve(&vec_a__, &(cap), (need), sizeof(*(arr)));      \
		(arr) = vec_a__;                                                           \
		vec_e__;                                                                   \
	})

/* A pointer to a new zeroed last element, or NULL when out of memory. */
#define vec_push(arr, n, cap)                                                              \
	({                                                                                 \
		__typeof__(arr) vec_p__ = NULL;                                            \
		if (!vec_reserve(arr, cap, (n) + 1)) {                                     \
			vec_p__ = &(arr)[(n)++];                                           \
			memset(vec_p__, 0, sizeof(*vec_p__));                              \
		}                                                                          \
		vec_p__;                                                                   \
	})

#endif
