// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* qhtrace diff BASE CURRENT: the comparison of diff.h, shown, and its gate. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "commands.h"
#include "diff.h"
#include "evread.h"
#include "log.h"
#include "opttab.h"
#include "reportpage.h"
#include "util.h"

static void print_section(FILE *out, const char *title, const cJSON *arr, const char *unit)
{
	const cJSON *o;
	char b[32], c[32], k[640];

	if (!cJSON_GetArraySize(arr))
		return;
	fprintf(out, "%s:\n", title);
	cJSON_ArrayForEach(o, arr) {
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "growth_pct");
		const cJSON *bv, *cv;

		snprintf(k, sizeof(k), "base_%s", unit);
		bv = cJSON_GetObjectItemCaseSensitive(o, k);
		snprintf(k, sizeof(k), "current_%s", unit);
		cv = cJSON_GetObjectItemCaseSensitive(o, k);
		snprintf(b, sizeof(b), cJSON_IsNumber(bv) ? "%.0f" : "-",
			 cJSON_IsNumber(bv) ? bv->valuedouble : 0);
		snprintf(c, sizeof(c), cJSON_IsNumber(cv) ? "%.0f" : "-",
			 cJSON_IsNumber(cv) ? cv->valuedouble : 0);
		fprintf(out, "  %-3s %12s -> %-12s %9s  %s\n",
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "regression")) ? "!!" : "",
			b, c,
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "new"))	? "new" :
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "gone")) ? "gone" :
			cJSON_IsNumber(g) ? (snprintf(k, 32, "%+.1f%%", g->valuedouble), k) : "-",
			cJSON_GetObjectItemCaseSensitive(o, "key")->valuestring);
	}
}

struct diff_opts {
	double max_pct;		/* --max-growth-pct, < 0: none (no gate) */
	bool json;
};

/* a whole percentage, into the double diff__compare takes */
static int parse_pct(const struct opt_spec *o, const char *arg, void *dst)
{
	uint64_t v;

	if (util__parse_u64(arg, o->min, o->max, &v)) {
		pr_err("--%s: '%s' is not a number in %lu..%lu\n", o->name, arg,
		       (unsigned long)o->min, (unsigned long)o->max);
		return -EINVAL;
	}
	*(double *)dst = v;
	return 0;
}

static const struct opt_spec opts[] = {
	{ "max-growth-pct", 0, OPT_FN, "P", 0, 1000000, .fn = parse_pct,
	  .off = offsetof(struct diff_opts, max_pct), .shown = "none: no gate", .cmds = 1,
	  .help = "fail (exit " OPT_TEXT(QH_EXIT_GATE) ") when a figure grew by more than P percent "
		  "(peak RSS only when it also grew by " OPT_TEXT(DIFF_MIN_KB) " kB or more), or a "
		  "heap leak, fd or leftover is new" },
	{ "json", 0, OPT_FLAG, .off = offsetof(struct diff_opts, json), .cmds = 1,
	  .help = "the comparison as JSON" },
	{ "help", 'h', OPT_HELP, .cmds = 1, .help = "this text" },
};

static void usage_diff(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace diff [OPTIONS] BASE.json CURRENT.json\n"
		"\n"
		"Compare two summary reports: peak RSS per command name, heap leaks per\n"
		"stack (new ones, and bytes), fds left open and leftover processes per\n"
		"command name, driver trees per kind, and per test (RSS growth, heap, fds,\n"
		"what outlived it) when the reports have them.\n"
		"\n"
		"Options:\n");
	opttab__help(out, opts, sizeof(opts) / sizeof(opts[0]), 1);
	fprintf(out,
		"\n"
		"Exit status: 0; %d on a regression (with --max-growth-pct); %d if a report\n"
		"cannot be read; %d for a bad command line.\n"
		"\n"
		"Examples:\n"
		"  qhtrace diff main.json branch.json\n"
		"  qhtrace diff --max-growth-pct 10 --json baseline.json run.json\n",
		QH_EXIT_GATE, QH_EXIT_ERROR, QH_EXIT_USAGE);
}

int cmd_diff(int argc, char **argv)
{
	static const struct opt_cmd cmd = { "diff", 1, false, usage_diff };
	struct diff_opts d = { .max_pct = -1 };
	cJSON *rep[2] = {}, *out = NULL, *regs, *cmds, *leaks, *fds, *left, *drv;
	char why[256], *s;
	int i, code = QH_EXIT_ERROR, err;

	err = opttab__parse_argv(opts, sizeof(opts) / sizeof(opts[0]), &cmd, argc, argv, &d);
	if (err)
		return err > 0 ? 0 : QH_EXIT_USAGE;
	if (argc - optind != 2) {
		pr_err("diff: give two reports -- usage: qhtrace diff [OPTIONS] BASE CURRENT\n");
		return QH_EXIT_USAGE;
	}
	for (i = 0; i < 2; i++) {
		const cJSON *schema;

		rep[i] = evread__load_json(argv[optind + i], QH_REPORT_MAX_BYTES, why, sizeof(why));
		schema = cJSON_GetObjectItemCaseSensitive(rep[i], "schema");
		if (rep[i] && (!cJSON_IsString(schema) ||
			       strncmp(schema->valuestring, "qhtrace/report/", 15)))
			snprintf(why, sizeof(why), "not a qhtrace summary report");
		else if (rep[i])
			continue;
		pr_err("%s: %s\n", argv[optind + i], why);
		if (d.json) {
			/* in JSON mode the error is JSON too */
			out = cJSON_CreateObject();
			cJSON_AddStringToObject(out, "file", argv[optind + i]);
			cJSON_AddStringToObject(out, "error", why);
			s = cJSON_Print(out);
			if (s)
				printf("%s\n", s);
			free(s);
		}
		goto out;
	}
	out = diff__compare(rep[0], rep[1], d.max_pct);
	if (!out) {
		pr_err("out of memory\n");
		goto out;
	}
	cJSON_AddStringToObject(out, "base", argv[optind]);
	cJSON_AddStringToObject(out, "current", argv[optind + 1]);
	regs = cJSON_GetObjectItemCaseSensitive(out, "regressions");
	cmds = cJSON_GetObjectItemCaseSensitive(out, "commands");
	leaks = cJSON_GetObjectItemCaseSensitive(out, "heap_leaks");
	fds = cJSON_GetObjectItemCaseSensitive(out, "fds");
	left = cJSON_GetObjectItemCaseSensitive(out, "leftovers");
	drv = cJSON_GetObjectItemCaseSensitive(out, "drivers");
	if (d.json) {
		char *s = cJSON_Print(out);

		if (s)
			printf("%s\n", s);
		free(s);
	} else {
		const cJSON *r;

		print_section(stdout, "peak RSS per command (kB)", cmds, "peak_rss_kb");
		print_section(stdout, "heap leaks per stack (bytes)", leaks, "bytes");
		print_section(stdout, "fds left open per command", fds, "fds");
		print_section(stdout, "leftover processes per command", left, "processes");
		print_section(stdout, "driver trees per kind, peak RSS (kB)", drv, "peak_rss_kb");
		print_section(stdout, "RSS growth per test (kB)",
			      cJSON_GetObjectItemCaseSensitive(out, "tests_rss"), "rss_growth_kb");
		print_section(stdout, "heap allocated and live at its end, per test (bytes)",
			      cJSON_GetObjectItemCaseSensitive(out, "tests_heap"), "bytes");
		print_section(stdout, "fds left open per test",
			      cJSON_GetObjectItemCaseSensitive(out, "tests_fds"), "fds");
		print_section(stdout, "browsers and processes that outlived their test",
			      cJSON_GetObjectItemCaseSensitive(out, "tests_leftovers"), "processes");
		cJSON_ArrayForEach(r, regs)
			printf("regression: %s\n", r->valuestring);
		if (d.max_pct >= 0)
			printf("%s\n", cJSON_GetArraySize(regs) ? "diff: FAIL" : "diff: pass");
	}
	code = cJSON_GetArraySize(regs) ? QH_EXIT_GATE : 0;
out:
	cJSON_Delete(out);
	cJSON_Delete(rep[0]);
	cJSON_Delete(rep[1]);
	return code;
}
