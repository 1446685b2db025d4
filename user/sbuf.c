// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"
#include "vec.h"

void sbuf__put(struct sbuf *b, const char *s, size_t len)
{
	if (b->err)
		return;
	if (vec_reserve(b->s, b->cap, b->n + len + 1)) {
		b->err = -ENOMEM;
		return;
	}
	memcpy(b->s + b->n, s, len);
	b->n += len;
	b->s[b->n] = 0;
}

void sbuf__puts(struct sbuf *b, const char *s)
{
	sbuf__put(b, s, strlen(s));
}

void sbuf__printf(struct sbuf *b, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		sbuf__put(b, small, n);
		return;
	}
	if (b->err || vec_reserve(b->s, b->cap, b->n + n + 1)) {
		b->err = -ENOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->n, n + 1, fmt, ap);
	va_end(ap);
	b->n += n;
}

void sbuf__reset(struct sbuf *b)
{
	b->n = 0;
	b->err = 0;
	if (b->s)
		b->s[0] = 0;
}

void sbuf__free(struct sbuf *b)
{
	free(b->s);
	b->s = NULL;
	b->n = b->cap = 0;
	b->err = 0;
}
