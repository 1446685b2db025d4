/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The report as one self-contained HTML page: the verdict and the tables as plain HTML
 * (readable without JavaScript), then the process timeline, memory over time and the heap
 * leak flame graph drawn by D3 (inlined, with its license) from a JSON block in the page.
 * Made from a summary report (report.h's JSON) and, when there are any, memory samples
 * (memseries.h): `attach|leaks|fds --html` and `qhtrace report --html` share it.
 *
 * Bounded whatever the run: the timeline folds short-lived leaf processes of one parent and
 * name into one bar past HTML_MAX_BARS, tables stop at HTML_MAX_ROWS rows (saying how many
 * more the JSON report has), flame graph stacks past HTML_MAX_STACKS (or past
 * HTML_MAX_FLAME_NODES frames) are one "more leaks" frame,
 * and memory series are downsampled onto a grid of HTML_GRID points.
 */
#ifndef __QH_HTML_H
#define __QH_HTML_H

#include <stddef.h>

struct cJSON;
struct memseries;

#define HTML_MAX_BARS 1500
#define HTML_MAX_ROWS 1000
#define HTML_MAX_STACKS 2000
#define HTML_MAX_FRAMES 64
#define HTML_MAX_FLAME_NODES 12000 /* frames of the flame graph in all */
#define HTML_MAX_SERIES 16	/* processes with a memory series of their own */
#define HTML_GRID 200		/* points of the summed series (all, driver trees, others) */
#define HTML_SERIES_POINTS 128	/* samples kept per process (memseries__new) */

/* The page, NUL-terminated, in *@out (malloc'd; *@len its length). 0 or -ENOMEM. */
int html__render(const struct cJSON *report, const struct memseries *mem, char **out,
		 size_t *len);
/* html__render, written atomically to @path. 0 or -errno. */
int html__write(const char *path, const struct cJSON *report, const struct memseries *mem);

/* @s escaped for HTML text and attribute values (& < > " '; control bytes as \xNN). */
char *html__escape(const char *s);

#endif
