/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The options of the tracing commands (attach, leaks, fds), one table (opttab.h) into struct
 * attach_opts: cli.c parses with it and writes their --help from it, and the settings file
 * (config.c) takes the defaults and ranges of the keys that options also set from it.
 */
#ifndef __QH_TRACEOPTS_H
#define __QH_TRACEOPTS_H

#include <stddef.h>

struct attach_opts;
struct opt_spec;

/* opt_spec.cmds: the commands that take an option */
enum {
	QH_OPTS_ATTACH = 1 << 0,
	QH_OPTS_LEAKS = 1 << 1,
	QH_OPTS_FDS = 1 << 2,
	QH_OPTS_MONITOR = 1 << 3,
};

extern const struct opt_spec traceopts[];
extern const size_t traceopts_n;

/* The option named @name (without "--"), or NULL. */
const struct opt_spec *traceopts__find(const char *name);
/* Every option at its default (those of all three commands), nothing else set. */
void traceopts__defaults(struct attach_opts *o);

#endif
