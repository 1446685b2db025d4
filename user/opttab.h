/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Option tables: each option of a command described once (long and short name, how its
 * argument is parsed, its range, its default, its help line), and from that table getopt's
 * arrays, the parsing with its error messages, the defaults and the option lines of --help.
 * The option's value lives in the command's options struct, at the table's offset.
 */
#ifndef __QH_OPTTAB_H
#define __QH_OPTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct option;
struct opt_spec;

/* a number's macro as text, for a default or a help line: OPT_TEXT(QH_DEFAULT_MAX_FDS) */
#define OPT_TEXT_(x) #x
#define OPT_TEXT(x) OPT_TEXT_(x)

enum opt_kind {
	OPT_FLAG,	/* no argument: sets a bool (default false) */
	OPT_UNFLAG,	/* no argument: clears a bool (default true): --no-stacks */
	OPT_COUNT,	/* no argument: an int counted up (-v -v) */
	OPT_HELP,	/* no argument: print --help */
	OPT_STR,	/* const char *, the argument itself */
	OPT_U32,	/* uint32_t in min..max */
	OPT_POW2,	/* uint32_t in min..max, a power of two */
	OPT_U64,	/* uint64_t in min..max */
	OPT_BYTES,	/* uint64_t, a size in bytes */
	OPT_MS,		/* seconds with up to ms precision ("0.5"), as uint32_t ms in min..max */
	OPT_NAME,	/* int: the index of the argument in names[] */
	OPT_FN,		/* parsed by fn, which prints its own error */
};

/* Parse @arg into @dst (the option's field); 0, or -EINVAL after a one-line error. */
typedef int (*opt_parse_fn)(const struct opt_spec *o, const char *arg, void *dst);

struct opt_spec {
	const char *name;	/* the long name, without "--" */
	char short_name;	/* or 0 */
	enum opt_kind kind;
	const char *arg;	/* the argument's name in --help (OPT_NAME: its choices) */
	uint64_t min, max;	/* the range, for the numeric kinds (OPT_MS: in ms) */
	/* OPT_NAME: the choices in enum order; OPT_FN: the default items of a list; NULL-ended */
	const char *const *names;
	opt_parse_fn fn;	/* OPT_FN */
	size_t off;		/* of the value in the command's options struct */
	const char *def;	/* the default as it would be typed; NULL: none (zero) */
	const char *shown;	/* the default as --help says it, when not def itself */
	unsigned int cmds;	/* the commands that take it, a bit each */
	const char *group;	/* the --help heading it is listed under; NULL: the first */
	const char *help;	/* --help's text; the range and the default are added to it */
};

/* The spec of @name among @n, or NULL. */
const struct opt_spec *opttab__find(const struct opt_spec *t, size_t n, const char *name);
/* Every option's default into @base (the options struct), whichever command takes it. */
int opttab__defaults(const struct opt_spec *t, size_t n, void *base);
/* Parse @arg (NULL for the kinds without one) into @base; 0 or -EINVAL (printed). */
int opttab__parse(const struct opt_spec *o, const char *arg, void *base);
/* A command whose options a table holds */
struct opt_cmd {
	const char *name;	/* `qhtrace NAME`, for the messages */
	unsigned int bit;	/* its bit in opt_spec.cmds */
	bool in_order;		/* options end at the first argument (attach: CMD's own follow) */
	void (*usage)(FILE *out); /* --help */
};

/*
 * getopt_long's arguments for the options of @c: *longs (to free) and @shorts, which starts
 * with "+:" (or ":"). An option's getopt value is its short name, or 256 + its index in @t.
 * 0, -ENOMEM or -E2BIG.
 */
int opttab__getopt(const struct opt_spec *t, size_t n, const struct opt_cmd *c,
		   struct option **longs, char *shorts, size_t len);
/* The spec of getopt's return value @c, or NULL. */
const struct opt_spec *opttab__of(const struct opt_spec *t, size_t n, int c);
/*
 * Parse the options of @c in @argv (argv[0] is the command's name) into @base: 0 with optind
 * at the first argument; 1 after --help (printed to stdout); -EINVAL after a one-line error
 * (a bad value, an option unknown or missing its argument, naming `qhtrace NAME --help`).
 */
int opttab__parse_argv(const struct opt_spec *t, size_t n, const struct opt_cmd *c, int argc,
		       char **argv, void *base);
/* --help's option lines for the command of bit @cmd, headings included. */
void opttab__help(FILE *out, const struct opt_spec *t, size_t n, unsigned int cmd);

#endif
