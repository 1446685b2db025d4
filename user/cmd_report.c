// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* qhtrace report FILE: a page of a summary report or an event log (reportpage.h), shown. */
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
#include "evread.h"
#include "html.h"
#include "log.h"
#include "memseries.h"
#include "opttab.h"
#include "reportpage.h"
#include "util.h"

/* a field as table text: strings from traced processes escaped (util__esc) */
static const char *field_str(const cJSON *o, const char *k, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsString(v))
		return util__esc(v->valuestring, buf, len);
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
	/* what a row is about first, before the line's width runs out */
	static const char *const first[] = { "reason", "verdict", "peak_pss_kb", "peak_memory_kb",
					     "bytes", "count", "target", "message", "test" };
	const cJSON *row, *v;
	unsigned long page;
	char a[64], b[64], c[64], d[64], e[64];

	fprintf(out, "%-24s %-12s %8s %-16s %-8s %s\n", "TIME", "KIND", "PID", "COMM", "SEVERITY",
		"DETAILS");
	cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(pg, "items")) {
		const char *t = field_str(row, "time", a, sizeof(a));
		size_t used = 0, i;
		bool cut = false;
		int pass;

		if (!strcmp(t, "-"))
			t = field_str(row, "start_time", a, sizeof(a));
		fprintf(out, "%-24s %-12s %8s %-16s %-8s ", t, field_str(row, "kind", b, sizeof(b)),
			field_str(row, "pid", c, sizeof(c)), field_str(row, "comm", d, sizeof(d)),
			field_str(row, "severity", e, sizeof(e)));
		/* the rest of the scalar fields, as key=value, up to a line's width: the ones
		 * that say what it is about first; a field that does not fit is left out, and
		 * "..." says some were */
		for (pass = 0; pass < 2; pass++) {
			cJSON_ArrayForEach(v, row) {
				char *s, ek[UTIL_ESC_LEN(48)], ev[UTIL_ESC_LEN(100)];
				bool is_first = false;

				if (!v->string) /* report__page hands out objects: never so */
					continue;
				for (i = 0; i < sizeof(first) / sizeof(first[0]); i++)
					is_first |= !strcmp(v->string, first[i]);
				if (is_first != !pass)
					continue;
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
					cut = true;
					free(s);
					continue;
				}
				used += fprintf(out, "%s%s=%s", used ? " " : "",
						util__esc(v->string, ek, sizeof(ek)),
						util__esc(s, ev, sizeof(ev)));
				free(s);
			}
		}
		if (cut)
			fprintf(out, " ...");
		fprintf(out, "\n");
	}
	page = cJSON_GetObjectItemCaseSensitive(pg, "page")->valuedouble;
	fprintf(out, "page %lu (%lu per page, %d shown), ", page,
		(unsigned long)cJSON_GetObjectItemCaseSensitive(pg, "page_size")->valuedouble,
		cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pg, "items")));
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pg, "has_next")))
		fprintf(out, "more: --page %lu\n", page + 1);
	else
		fprintf(out, "last page\n");
}

struct report_opts {
	uint64_t page, size;
	struct row_filter filter;
	bool json;
	const char *html, *events;
};

static int parse_filter(const struct opt_spec *o, const char *arg, void *dst)
{
	char why[256];

	if (row_filter__parse(dst, arg, why, sizeof(why))) {
		pr_err("--%s: %s\n", o->name, why);
		return -EINVAL;
	}
	return 0;
}

static const struct opt_spec opts[] = {
	{ "page", 0, OPT_U64, "N", 1, 1000000000, .off = offsetof(struct report_opts, page),
	  .def = "1", .cmds = 1, .help = "the page to show" },
	{ "page-size", 0, OPT_U64, "K", 1, 100000, .off = offsetof(struct report_opts, size),
	  .def = "50", .cmds = 1, .help = "rows per page" },
	{ "filter", 0, OPT_FN, "EXPR", .fn = parse_filter,
	  .off = offsetof(struct report_opts, filter), .cmds = 1,
	  .help = "pid=N, comm=NAME, kind=KIND, severity=LEVEL or severity>=LEVEL (NAME and "
		  "KIND: globs, comm=chrom*); repeat it or join with commas (all must hold)" },
	{ "json", 0, OPT_FLAG, .off = offsetof(struct report_opts, json), .cmds = 1,
	  .help = "the page as JSON: page, page_size, has_next, items" },
	{ "html", 0, OPT_STR, "OUT", .off = offsetof(struct report_opts, html), .cmds = 1,
	  .help = "make the HTML report OUT from the summary report FILE instead of showing a "
		  "page" },
	{ "events", 0, OPT_STR, "LOG", .off = offsetof(struct report_opts, events), .cmds = 1,
	  .help = "with --html: the run's event log, for memory over time" },
	{ "help", 'h', OPT_HELP, .cmds = 1, .help = "this text" },
};

static void usage_report(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace report [OPTIONS] FILE\n"
		"       qhtrace report --html OUT [--events LOG] FILE\n"
		"\n"
		"Show a summary report (-o) or an event log (attach --events; plain or gzip), one\n"
		"page at a time. An event log is streamed: it is never loaded whole.\n"
		"With --html, make one self-contained HTML page of the summary report FILE\n"
		"(and the memory samples of its event log LOG) instead.\n"
		"\n"
		"Options:\n");
	opttab__help(out, opts, sizeof(opts) / sizeof(opts[0]), 1);
	fprintf(out,
		"\n"
		"Exit status: 0; %d if FILE cannot be read or is corrupt or truncated (the\n"
		"rows before the damage are shown); %d for a bad command line.\n"
		"\n"
		"Examples:\n"
		"  qhtrace report run.json --filter kind=heap_leak\n"
		"  qhtrace report events.ndjson.gz --page 3 --page-size 100 --json\n"
		"  qhtrace report events.ndjson.gz --filter kind=exit,comm=pytest\n"
		"  qhtrace report --html run.html --events run.ndjson.gz run.json\n",
		QH_EXIT_ERROR, QH_EXIT_USAGE);
}

/* --html: the page from a summary report and, with --events, its log's memory samples */
static int make_html(const struct report_opts *r, const char *input)
{
	struct memseries *mem = NULL;
	char why[512] = "";
	const cJSON *schema;
	int err, code = 0;
	cJSON *root;

	if (util__check_output(r->html, why, sizeof(why))) {
		pr_err("cannot write the HTML report to %s: %s\n", r->html, why);
		return QH_EXIT_USAGE;
	}
	root = evread__load_json(input, QH_REPORT_MAX_BYTES, why, sizeof(why));
	if (!root) {
		pr_err("%s: %s\n", input, why);
		return QH_EXIT_ERROR;
	}
	schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
	if (!cJSON_IsObject(root) || !cJSON_IsString(schema) ||
	    strncmp(schema->valuestring, "qhtrace/report/", 15)) {
		pr_err("%s: not a qhtrace summary report (no \"schema\": \"qhtrace/report/v1\")%s\n",
		       input, r->events ? "" : " -- an event log goes to --events");
		cJSON_Delete(root);
		return QH_EXIT_ERROR;
	}
	if (r->events) {
		mem = memseries__new(HTML_SERIES_POINTS);
		if (!mem) {
			pr_err("out of memory\n");
			cJSON_Delete(root);
			return QH_EXIT_ERROR;
		}
		if (memseries__read_log(mem, r->events, why, sizeof(why))) {
			/* the samples before the damage still make a page */
			pr_err("%s: %s (the page has the %lu samples before it)\n", r->events, why,
			       (unsigned long)memseries__samples(mem));
			code = QH_EXIT_ERROR;
		}
	}
	err = html__write(r->html, root, mem);
	if (err) {
		pr_err("failed to write the HTML report to %s: %s\n", r->html, strerror(-err));
		code = QH_EXIT_ERROR;
	}
	memseries__free(mem);
	cJSON_Delete(root);
	return code;
}

int cmd_report(int argc, char **argv)
{
	static const struct opt_cmd cmd = { "report", 1, false, usage_report };
	struct report_opts r = { .filter = { .severity = -1 } };
	char why[256] = "";
	cJSON *o = NULL;
	int err;

	opttab__defaults(opts, sizeof(opts) / sizeof(opts[0]), &r);
	err = opttab__parse_argv(opts, sizeof(opts) / sizeof(opts[0]), &cmd, argc, argv, &r);
	if (err)
		return err > 0 ? 0 : QH_EXIT_USAGE;
	if (optind != argc - 1) {
		pr_err("report: give one FILE -- usage: qhtrace report [OPTIONS] FILE\n");
		return QH_EXIT_USAGE;
	}
	if (r.events && !r.html) {
		pr_err("report: --events goes with --html\n");
		return QH_EXIT_USAGE;
	}
	if (r.html)
		return make_html(&r, argv[optind]);
	err = report__page(argv[optind], &r.filter, r.page, r.size, &o, why, sizeof(why));
	if (o && r.json) {
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
