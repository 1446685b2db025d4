/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A writer of the Prometheus text exposition format 0.0.4 (what GET /metrics answers with
 * Content-Type "text/plain; version=0.0.4"):
 *
 *	# HELP qhtrace_zombies Zombie processes now, by group.
 *	# TYPE qhtrace_zombies gauge
 *	qhtrace_zombies{group="git"} 3
 *
 *	struct sbuf out = {};
 *	struct expo e;
 *
 *	expo__init(&e, &out);
 *	expo__family(&e, "qhtrace_zombies", EXPO_GAUGE, "Zombie processes now, by group.");
 *	expo__u64(&e, 3, "group", "git", NULL);
 *	err = expo__finish(&e);		(0, -EINVAL or -ENOMEM; out.s holds the text)
 *
 * Label values are escaped as the format wants (\\, \", \n) and made valid UTF-8 (a byte that
 * is not becomes U+FFFD: group names come from traced processes); help text has \\ and \n
 * escaped. Metric and label names are checked: a bad one, a counter not named ..._total, a
 * label given twice, a family declared twice or a sample before any family is a bug of the
 * caller, refused with -EINVAL (sticky: expo__finish returns it, and nothing more is written). Integers are written exact
 * (expo__u64), floats in the fewest digits that read back as the same double, NaN, +Inf, -Inf
 * as Prometheus spells them.
 */
#ifndef __QH_EXPO_H
#define __QH_EXPO_H

#include <stdint.h>
#include <stddef.h>

struct sbuf;

enum expo_type {
	EXPO_GAUGE,
	EXPO_COUNTER,
};

struct expo {
	struct sbuf *out;
	const char *family;	/* the current family's name (a copy in names), or NULL */
	char **names;		/* families declared so far: each may appear once */
	size_t nnames, cap;
	int err;		/* the first error; every call after it does nothing */
};

/* The media type of what expo writes, for the HTTP Content-Type. */
#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void expo__init(struct expo *e, struct sbuf *out);
/* Start a family: its # HELP and # TYPE lines. 0 or -errno (sticky). */
int expo__family(struct expo *e, const char *name, enum expo_type type, const char *help);
/*
 * A sample of the current family: @v, then its labels as name, value pairs of strings ended
 * by NULL (a NULL value is ""). 0 or -errno (sticky).
 */
int expo__u64(struct expo *e, uint64_t v, ...) __attribute__((sentinel));
int expo__double(struct expo *e, double v, ...) __attribute__((sentinel));
/* The first error (0 when all went in) and the family list freed; @out keeps the text. */
int expo__finish(struct expo *e);

/* Is @s a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), a valid label name? */
int expo__metric_name_ok(const char *s);
int expo__label_name_ok(const char *s);
/* @v as the format writes it, in @buf (32 bytes are always enough); returns @buf. */
char *expo__fmt_double(double v, char *buf, size_t len);

#endif
