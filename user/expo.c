// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expo.h"
#include "sbuf.h"
#include "vec.h"

/* labels one sample may have: more is a bug of the caller */
#define EXPO_MAX_LABELS 8

void expo__init(struct expo *e, struct sbuf *out)
{
	memset(e, 0, sizeof(*e));
	e->out = out;
}

int expo__metric_name_ok(const char *s)
{
	const char *p;

	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == ':'))
			return 0;
	return 1;
}

int expo__label_name_ok(const char *s)
{
	const char *p;

	/* names that begin with __ are Prometheus's own */
	if (!s || !*s || (*s >= '0' && *s <= '9') || !strncmp(s, "__", 2))
		return 0;
	for (p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			return 0;
	return 1;
}

char *expo__fmt_double(double v, char *buf, size_t len)
{
	int prec;

	if (isnan(v)) {
		snprintf(buf, len, "NaN");
		return buf;
	}
	if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
		return buf;
	}
	/* an integer that a double holds exactly: all its digits, no exponent */
	if (v == trunc(v) && fabs(v) < 9007199254740992.0) {
		snprintf(buf, len, "%.0f", v);
		if (!strcmp(buf, "-0"))
			snprintf(buf, len, "0");
		return buf;
	}
	/* the shortest %g that reads back as the same double (17 digits always do) */
	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

static int fail(struct expo *e, int err)
{
	if (!e->err)
		e->err = err;
	return e->err;
}

/* help text: \ and newline escaped, as the format wants */
static void put_help(struct sbuf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		if (*s != '\\' && *s != '\n')
			continue;
		sbuf__put(b, run, s - run);
		sbuf__puts(b, *s == '\\' ? "\\\\" : "\\n");
		run = s + 1;
	}
	sbuf__put(b, run, s - run);
}

/* length of the UTF-8 sequence at @p, or 0 when it is none (overlong, surrogate, cut) */
static size_t utf8_len(const unsigned char *p)
{
	uint32_t c;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		n = 2, c = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, c = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		n = 4, c = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return n;
}

/* a label value: \ " and newline escaped, what is not UTF-8 replaced (Prometheus refuses it) */
static void put_value(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;

	while (*p) {
		const char *rep = NULL;
		size_t n = utf8_len(p);

		if (*p == '\\')
			rep = "\\\\";
		else if (*p == '"')
			rep = "\\\"";
		else if (*p == '\n')
			rep = "\\n";
		else if (!n)
			rep = "\xef\xbf\xbd";
		if (!rep) {
			p += n;
			continue;
		}
		sbuf__put(b, (const char *)run, p - run);
		sbuf__puts(b, rep);
		p++;
		run = p;
	}
	sbuf__put(b, (const char *)run, p - run);
}

int expo__family(struct expo *e, const char *name, enum expo_type type, const char *help)
{
	char *copy, **slot;
	size_t i, len;

	if (e->err)
		return e->err;
	if (!expo__metric_name_ok(name) || (type != EXPO_GAUGE && type != EXPO_COUNTER))
		return fail(e, -EINVAL);
	/* the convention Prometheus's own linter (promtool check metrics) holds counters to */
	len = strlen(name);
	if (type == EXPO_COUNTER && (len < 6 || strcmp(name + len - 6, "_total")))
		return fail(e, -EINVAL);
	for (i = 0; i < e->nnames; i++)
		if (!strcmp(e->names[i], name))
			return fail(e, -EINVAL);
	copy = strdup(name);
	slot = copy ? vec_push(e->names, e->nnames, e->cap) : NULL;
	if (!slot) {
		free(copy);
		return fail(e, -ENOMEM);
	}
	*slot = copy;
	e->family = copy;
	sbuf__printf(e->out, "# HELP %s ", name);
	put_help(e->out, help ? help : "");
	sbuf__printf(e->out, "\n# TYPE %s %s\n", name, type == EXPO_GAUGE ? "gauge" : "counter");
	return e->out->err ? fail(e, e->out->err) : 0;
}

/* the sample line up to its value: name{labels} */
static int put_sample(struct expo *e, const char *value, va_list ap)
{
	const char *names[EXPO_MAX_LABELS], *values[EXPO_MAX_LABELS];
	size_t n = 0, i, j;
	const char *k;

	if (e->err)
		return e->err;
	if (!e->family)
		return fail(e, -EINVAL);
	while ((k = va_arg(ap, const char *))) {
		if (n == EXPO_MAX_LABELS || !expo__label_name_ok(k))
			return fail(e, -EINVAL);
		names[n] = k;
		values[n] = va_arg(ap, const char *);
		if (!values[n])
			values[n] = "";
		for (j = 0; j < n; j++)
			if (!strcmp(names[j], k))
				return fail(e, -EINVAL);
		n++;
	}
	sbuf__puts(e->out, e->family);
	for (i = 0; i < n; i++) {
		sbuf__puts(e->out, i ? "," : "{");
		sbuf__puts(e->out, names[i]);
		sbuf__puts(e->out, "=\"");
		put_value(e->out, values[i]);
		sbuf__puts(e->out, "\"");
	}
	sbuf__puts(e->out, n ? "} " : " ");
	sbuf__puts(e->out, value);
	sbuf__puts(e->out, "\n");
	return e->out->err ? fail(e, e->out->err) : 0;
}

int expo__u64(struct expo *e, uint64_t v, ...)
{
	char buf[24];
	va_list ap;
	int err;

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	va_start(ap, v);
	err = put_sample(e, buf, ap);
	va_end(ap);
	return err;
}

int expo__double(struct expo *e, double v, ...)
{
	char buf[32];
	va_list ap;
	int err;

	expo__fmt_double(v, buf, sizeof(buf));
	va_start(ap, v);
	err = put_sample(e, buf, ap);
	va_end(ap);
	return err;
}

int expo__finish(struct expo *e)
{
	size_t i;

	for (i = 0; i < e->nnames; i++)
		free(e->names[i]);
	free(e->names);
	e->names = NULL;
	e->nnames = e->cap = 0;
	e->family = NULL;
	if (!e->err && e->out->err)
		e->err = e->out->err;
	return e->err;
}
