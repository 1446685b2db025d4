// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "opttab.h"
#include "util.h"
#include "vec.h"

#define HELP_COL 27   /* where an option's text starts in --help */
#define HELP_WIDTH 84 /* and where its lines end, at the latest */

const struct opt_spec *opttab__find(const struct opt_spec *t, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

static bool takes_arg(const struct opt_spec *o)
{
	return o->kind != OPT_FLAG && o->kind != OPT_UNFLAG && o->kind != OPT_COUNT &&
	       o->kind != OPT_HELP;
}

static bool has_range(const struct opt_spec *o)
{
	return o->kind == OPT_U32 || o->kind == OPT_POW2 || o->kind == OPT_U64 ||
	       o->kind == OPT_MS || (o->kind == OPT_FN && o->max);
}

/* "'a', 'b' or 'c'" (@quoted), else "a|b|c" or "a, b, c" (@sep) */
static void names_list(const struct opt_spec *o, bool quoted, const char *sep_, char *buf,
		       size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; o->names[i] && off < len; i++) {
		const char *sep = !i ? "" : !quoted ? sep_ : !o->names[i + 1] ? " or " : ", ";

		off += snprintf(buf + off, len - off, quoted ? "%s'%s'" : "%s%s", sep, o->names[i]);
	}
}

static int parse_num(const struct opt_spec *o, const char *arg, uint64_t *v)
{
	int err = util__parse_u64(arg, o->min, o->max, v);

	/* a number out of the range is not "not a number" */
	if (err == -ERANGE && !util__parse_u64(arg, 0, UINT64_MAX, v))
		pr_err("--%s: %s is out of range: %lu..%lu\n", o->name, arg,
		       (unsigned long)o->min, (unsigned long)o->max);
	else if (err)
		pr_err("--%s: '%s' is not a whole number in %lu..%lu\n", o->name, arg,
		       (unsigned long)o->min, (unsigned long)o->max);
	return err ? -EINVAL : 0;
}

/* Seconds with up to millisecond precision ("5", "0.5"), in [min, max] ms. */
static int parse_ms(const struct opt_spec *o, const char *arg, uint32_t *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (!errno && end != arg && !*end && !(v * 1000 >= o->min && v * 1000 <= o->max)) {
		pr_err("--%s: %s is out of range: %g..%g seconds\n", o->name, arg,
		       o->min / 1000.0, o->max / 1000.0);
		return -EINVAL;
	}
	if (errno || end == arg || *end) {
		pr_err("--%s: '%s' is not a number of seconds in %g..%g\n", o->name, arg,
		       o->min / 1000.0, o->max / 1000.0);
		return -EINVAL;
	}
	*out = (uint32_t)(v * 1000 + 0.5);
	return 0;
}

int opttab__parse(const struct opt_spec *o, const char *arg, void *base)
{
	void *dst = (char *)base + o->off;
	char list[256];
	uint64_t v;
	int i;

	switch (o->kind) {
	case OPT_FLAG:
		*(bool *)dst = true;
		return 0;
	case OPT_UNFLAG:
		*(bool *)dst = false;
		return 0;
	case OPT_COUNT:
		(*(int *)dst)++;
		return 0;
	case OPT_HELP:
		return 0;
	case OPT_STR:
		*(const char **)dst = arg;
		return 0;
	case OPT_U32:
	case OPT_POW2:
		if (parse_num(o, arg, &v))
			return -EINVAL;
		if (o->kind == OPT_POW2 && (v & (v - 1))) {
			pr_err("--%s: %lu is not a power of two\n", o->name, (unsigned long)v);
			return -EINVAL;
		}
		*(uint32_t *)dst = v;
		return 0;
	case OPT_U64:
		return parse_num(o, arg, dst);
	case OPT_BYTES:
		if (util__parse_u64(arg, 0, UINT64_MAX, dst)) {
			pr_err("--%s: '%s' is not a size in bytes\n", o->name, arg);
			return -EINVAL;
		}
		return 0;
	case OPT_MS:
		return parse_ms(o, arg, dst);
	case OPT_NAME:
		for (i = 0; o->names[i]; i++)
			if (!strcmp(arg, o->names[i])) {
				*(int *)dst = i;
				return 0;
			}
		names_list(o, true, NULL, list, sizeof(list));
		pr_err("--%s: '%s' is not %s\n", o->name, arg, list);
		return -EINVAL;
	case OPT_FN:
		return o->fn(o, arg, dst);
	}
	return -EINVAL;
}

int opttab__defaults(const struct opt_spec *t, size_t n, void *base)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (t[i].kind == OPT_UNFLAG)
			*(bool *)((char *)base + t[i].off) = true;
		else if (t[i].def && opttab__parse(&t[i], t[i].def, base))
			return -EINVAL; /* a table's bug: its unit test says which */
	}
	return 0;
}

int opttab__getopt(const struct opt_spec *t, size_t n, const struct opt_cmd *c,
		   struct option **longs, char *shorts, size_t len)
{
	struct option *v = NULL, *lo;
	size_t nv = 0, cap = 0, i;
	char *s = shorts;

	if (len < 3)
		return -E2BIG;
	if (c->in_order)
		*s++ = '+'; /* stop at the first non-option: CMD and its own options */
	*s++ = ':'; /* a missing argument is ':', told apart from an unknown option */
	for (i = 0; i < n; i++) {
		if (!(t[i].cmds & c->bit))
			continue;
		lo = vec_push(v, nv, cap);
		if (!lo) {
			free(v);
			return -ENOMEM;
		}
		lo->name = t[i].name;
		lo->has_arg = takes_arg(&t[i]) ? required_argument : no_argument;
		lo->val = t[i].short_name ? t[i].short_name : 256 + (int)i;
		if (t[i].short_name) {
			if (s + 3 > shorts + len) {
				free(v);
				return -E2BIG;
			}
			*s++ = t[i].short_name;
			if (takes_arg(&t[i]))
				*s++ = ':';
		}
	}
	*s = '\0';
	if (!vec_push(v, nv, cap)) { /* the zeroed end */
		free(v);
		return -ENOMEM;
	}
	*longs = v;
	return 0;
}

const struct opt_spec *opttab__of(const struct opt_spec *t, size_t n, int c)
{
	size_t i;

	if (c >= 256)
		return (size_t)(c - 256) < n ? &t[c - 256] : NULL;
	for (i = 0; c > 0 && i < n; i++)
		if (t[i].short_name == c)
			return &t[i];
	return NULL;
}

int opttab__parse_argv(const struct opt_spec *t, size_t n, const struct opt_cmd *c, int argc,
		       char **argv, void *base)
{
	const struct opt_spec *spec;
	struct option *longs;
	char shorts[128];
	int opt, err;

	err = opttab__getopt(t, n, c, &longs, shorts, sizeof(shorts));
	if (err) {
		pr_err("%s: %s\n", c->name, strerror(-err));
		return err;
	}
	opterr = 0;
	optind = 0; /* reinitialise getopt: the parser may run more than once */
	while (!err && (opt = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		spec = opttab__of(t, n, opt);
		if (opt == ':') {
			pr_err("option '%s' needs an argument -- see 'qhtrace %s --help'\n",
			       argv[optind - 1], c->name);
			err = -EINVAL;
		} else if (!spec) {
			const char *a = argv[optind - 1], *name = a + strspn(a, "-");
			size_t len = strcspn(name, "="), i;

			/* an option the table has for another command: say so, not "unknown" */
			for (i = 0; i < n; i++)
				if (!strncmp(a, "--", 2) && t[i].name && strlen(t[i].name) == len &&
				    !strncmp(t[i].name, name, len) && !(t[i].cmds & c->bit))
					break;
			if (i < n)
				pr_err("option '--%s' is another command's, not one of 'qhtrace %s' -- "
				       "see 'qhtrace %s --help'\n", t[i].name, c->name, c->name);
			else
				pr_err("unknown option '%s' -- see 'qhtrace %s --help'\n", a, c->name);
			err = -EINVAL;
		} else if (spec->kind == OPT_HELP) {
			c->usage(stdout);
			err = 1;
		} else {
			err = opttab__parse(spec, optarg, base);
		}
	}
	free(longs);
	return err;
}

/* @text from column @col, its words wrapped at HELP_WIDTH to HELP_COL */
static void wrap(FILE *out, const char *text, int col)
{
	const char *w = text;

	while (*w) {
		size_t len = strcspn(w, " ");

		if (col > HELP_COL && col + 1 + (int)len > HELP_WIDTH) {
			fprintf(out, "\n%*s", HELP_COL, "");
			col = HELP_COL;
		} else if (w != text) {
			fputc(' ', out);
			col++;
		}
		col += fprintf(out, "%.*s", (int)len, w);
		w += len;
		w += strspn(w, " ");
	}
	fputc('\n', out);
}

static void help_line(FILE *out, const struct opt_spec *o)
{
	char head[96], arg[128], text[1024], list[256];
	const char *def = o->shown ? o->shown : o->def;
	size_t off;
	int col;

	if (o->kind == OPT_FN && o->names) { /* a list's default items */
		names_list(o, false, ", ", list, sizeof(list));
		def = list;
	}
	if (o->kind == OPT_NAME && !o->arg)
		names_list(o, false, "|", arg, sizeof(arg));
	else
		snprintf(arg, sizeof(arg), "%s", o->arg ? o->arg : "");
	if (o->short_name)
		col = snprintf(head, sizeof(head), "  -%c, --%s%s%s", o->short_name, o->name,
			       *arg ? " " : "", arg);
	else
		col = snprintf(head, sizeof(head), "      --%s%s%s", o->name, *arg ? " " : "", arg);
	off = snprintf(text, sizeof(text), "%s", o->help);
	if (has_range(o) && o->kind == OPT_MS)
		off += snprintf(text + off, sizeof(text) - off, ", %g..%g", o->min / 1000.0,
				o->max / 1000.0);
	else if (has_range(o))
		off += snprintf(text + off, sizeof(text) - off, ", %lu..%lu",
				(unsigned long)o->min, (unsigned long)o->max);
	if (def && takes_arg(o))
		snprintf(text + off, sizeof(text) - off, " (default %s)", def);
	fprintf(out, "%s%*s", head, col < HELP_COL - 2 ? HELP_COL - col : 2, "");
	wrap(out, text, col < HELP_COL - 2 ? HELP_COL : col + 2);
}

void opttab__help(FILE *out, const struct opt_spec *t, size_t n, unsigned int cmd)
{
	const char *group = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!(t[i].cmds & cmd))
			continue;
		if (t[i].group != group && t[i].group)
			fprintf(out, "\n%s:\n", t[i].group);
		group = t[i].group;
		help_line(out, &t[i]);
	}
}
