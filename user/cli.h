/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command-line grammar: `qhtrace COMMAND [OPTIONS] ...`, help texts and exit codes. */
#ifndef __QH_CLI_H
#define __QH_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "procwatch.h"

/* Exit codes of qhtrace itself; otherwise `attach` exits with the command's status. */
#define QH_EXIT_ERROR 1	     /* could not trace: privileges, BTF, BPF load, report write */
#define QH_EXIT_USAGE 2	     /* bad command line, output path refused */
#define QH_EXIT_NOEXEC 126   /* command found but not executable */
#define QH_EXIT_NOTFOUND 127 /* command not found */

struct attach_opts {
	const char *output;	/* -o: JSON report path, NULL for none */
	bool quiet;		/* -q: no summary table */
	int verbose;		/* -v */
	uint32_t max_procs;
	uint32_t ringbuf_kb;
	bool heap;		/* --heap: follow the malloc family */
	uint32_t max_allocs;
	bool stacks;		/* a user stack per allocation (--no-stacks: the caller only) */
	uint32_t sample_rate;
	uint64_t min_size, max_size;
	uint32_t min_age_s;	/* blocks younger than this in running processes are not leaks */
	uint32_t leak_threshold_mb;
	uint32_t top;		/* leaks shown in the summary */
	bool sort_by_count;	/* --sort count */
	uint32_t check_interval_s; /* leak_check_interval, 0: none */
	uint32_t pid;		/* leaks: the process to follow */
	uint32_t duration_s;	/* leaks: 0 for until Ctrl-C or exit */
	struct procwatch_opts watch; /* drivers, zombies, leftovers, --cleanup */
	int argc;		/* the command to run */
	char **argv;
};

/* 0: run; 1: help was asked for (printed to stdout); -EINVAL: usage error (printed). */
int cli__parse_attach(int argc, char **argv, struct attach_opts *o);
int cli__parse_leaks(int argc, char **argv, struct attach_opts *o);
void cli__usage_leaks(FILE *out);
void cli__usage(FILE *out);
void cli__usage_attach(FILE *out);

#endif
