// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* qhtrace report FILE: a page of a summary report or an event log (reportpage.h), shown. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "commands.h"
#include "log.h"
#include "reportpage.h"
#include "util.h"

static const char *field_str(const cJSON *o, const char *k, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsNumber(v)) {
		snprintf(buf, len, "%.0f", v->valuedouble);
		return buf;
	}
	return "-";
}

/* the page object of report__page as a table */
static void print_page(FILE *out, const cJSON *pg)
{
	static const char *const shown[] = { "time", "kind", "pid", "comm", "severity" };
	const cJSON *row, *v;
	char a[32], b[32];

	fprintf(out, "%-24s %-12s %8s %-16s %-8s %s\n", "TIME", "KIND", "PID", "COMM", "SEVERITY",
		"DETAILS");
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(pg, "items")) {
		const char *t = field_str(row, "time", a, sizeof(a));
		size_t used = 0, i;

		if (!strcmp(t, "-"))
			t = field_str(row, "start_time", a, sizeof(a));
		fprintf(out, "%-24s %-12s %8s %-16s %-8s ", t, field_str(row, "kind", b, sizeof(b)),
			field_str(row, "pid", a, sizeof(a)), field_str(row, "comm", b, sizeof(b)),
			field_str(row, "severity", b, sizeof(b)));
		/* the rest of the scalar fields, as key=value, up to a line's width */
		cJSON_ArrayForEach(v, row) {
			char *s;

			for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
				if (!strcmp(v->string, shown[i]))
					break;
			if (i < sizeof(shown) / sizeof(shown[0]) || cJSON_IsArray(v) ||
			    cJSON_IsObject(v) || !strcmp(v->string, "start_time"))
				continue;
			s = cJSON_PrintUnformatted(v);
			if (!s)
				continue;
			if (used + strlen(v->string) + strlen(s) > 100) {
				fprintf(out, "...");
				free(s);
				break;
			}
			used += fprintf(out, "%s%s=%s", used ? " " : "", v->string, s);
			free(s);
		}
		fprintf(out, "\n");
	}
	fprintf(out, "page %lu (%lu per page, %d shown), %s\n",
		(unsigned long)cJSON_GetObjectItemCaseSensitive(pg, "page")->valuedouble,
		(unsigned long)cJSON_GetObjectItemCaseSensitive(pg, "page_size")->valuedouble,
		cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pg, "items")),
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pg, "has_next")) ? "more: --page next"
										: "last page");
}

static void usage_report(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace report [OPTIONS] FILE\n"
		"\n"
		"Show a summary report (-o) or an event log (--events; plain or gzip), one\n"
		"page at a time. An event log is streamed: it is never loaded whole.\n"
		"\n"
		"Options:\n"
		"      --page N          the page to show, from 1 (default 1)\n"
		"      --page-size K     rows per page, 1..100000 (default 50)\n"
		"      --filter EXPR     pid=N, comm=NAME, kind=KIND, severity=LEVEL or\n"
		"                        severity>=LEVEL; repeat it or join with commas\n"
		"                        (all must hold)\n"
		"      --json            the page as JSON: page, page_size, has_next, items\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit status: 0; %d if FILE cannot be read or is corrupt or truncated (the\n"
		"rows before the damage are shown); %d for a bad command line.\n"
		"\n"
		"Examples:\n"
		"  qhtrace report run.json --filter kind=heap_leak\n"
		"  qhtrace report events.ndjson.gz --page 3 --page-size 100 --json\n"
		"  qhtrace report events.ndjson.gz --filter kind=exit,comm=pytest\n",
		QH_EXIT_ERROR, QH_EXIT_USAGE);
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "page", required_argument, NULL, 'p' },
		{ "page-size", required_argument, NULL, 's' },
		{ "filter", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct row_filter f = { .severity = -1 };
	uint64_t page = 1, size = 50;
	char why[256] = "";
	bool json = false;
	cJSON *o = NULL;
	int c, err;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (util__parse_u64(optarg, 1, 1000000000, &page)) {
				pr_err("--page: '%s' is not a number in 1..1000000000\n", optarg);
				return QH_EXIT_USAGE;
			}
			break;
		case 's':
			if (util__parse_u64(optarg, 1, 100000, &size)) {
				pr_err("--page-size: '%s' is not a number in 1..100000\n", optarg);
				return QH_EXIT_USAGE;
			}
			break;
		case 'f':
			if (row_filter__parse(&f, optarg, why, sizeof(why))) {
				pr_err("--filter: %s\n", why);
				return QH_EXIT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage_report(stdout);
			return 0;
		case ':':
			pr_err("option '%s' needs an argument -- see 'qhtrace report --help'\n",
			       argv[optind - 1]);
			return QH_EXIT_USAGE;
		default:
			pr_err("unknown option '%s' -- see 'qhtrace report --help'\n",
			       argv[optind - 1]);
			return QH_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		pr_err("report: give one FILE -- usage: qhtrace report [OPTIONS] FILE\n");
		return QH_EXIT_USAGE;
	}
	err = report__page(argv[optind], &f, page, size, &o, why, sizeof(why));
	if (o && json) {
		char *s = cJSON_Print(o);

		if (s)
			printf("%s\n", s);
		free(s);
	} else if (o &&
		   (!err || cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "items")))) {
		print_page(stdout, o);
	}
	cJSON_Delete(o);
	if (err) {
		pr_err("%s: %s\n", argv[optind], why);
		return QH_EXIT_ERROR;
	}
	return 0;
}
