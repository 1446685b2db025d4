/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A growable text buffer (the HTML report's and the metrics' pages): appends never fail
 * visibly, the first out-of-memory is kept in err and every later append is a no-op, so a
 * writer checks once at the end. s is NUL-terminated once anything was appended.
 *
 *	struct sbuf b = {};
 *	sbuf__printf(&b, "%d\n", 42);
 *	if (b.err) ...;  use b.s, b.n;  free(b.s);
 */
#ifndef __QH_SBUF_H
#define __QH_SBUF_H

#include <stddef.h>

struct sbuf {
	char *s;
	size_t n, cap;
	int err;	/* 0, or -ENOMEM: what was appended since is lost */
};

void sbuf__put(struct sbuf *b, const char *s, size_t len);
void sbuf__puts(struct sbuf *b, const char *s);
void sbuf__printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empty it, keeping the memory (and clearing err). */
void sbuf__reset(struct sbuf *b);
void sbuf__free(struct sbuf *b);

#endif
