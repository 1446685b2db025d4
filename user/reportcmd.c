// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * qhtrace report FILE: one page of an event log (streamed: the lines before the page are
 * counted, not parsed, unless a filter needs them) or of a summary report's rows (processes,
 * findings, alerts).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "evread.h"
#include "gate.h"
#include "log.h"
#include "reportcmd.h"
#include "util.h"

int row_filter__parse(struct row_filter *f, const char *expr, char *why, size_t len)
{
	char buf[256], *tok, *save = NULL;

	if (strlen(expr) >= sizeof(buf)) {
		snprintf(why, len, "'%.40s...' is too long", expr);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", expr);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const char *val;
		bool floor = false;
		enum severity sev;
		uint64_t v;

		if (!eq || eq == tok)
			goto bad;
		val = eq + 1;
		if (eq[-1] == '>') {
			floor = true;
			eq[-1] = '\0';
		}
		*eq = '\0';
		if (floor && strcmp(tok, "severity"))
			goto bad;
		if (!strcmp(tok, "pid")) {
			if (util__parse_u64(val, 1, 4194304, &v)) {
				snprintf(why, len, "pid: '%s' is not a pid", val);
				return -EINVAL;
			}
			f->pid = v;
			f->has_pid = true;
		} else if (!strcmp(tok, "comm")) {
			snprintf(f->comm, sizeof(f->comm), "%s", val);
		} else if (!strcmp(tok, "kind")) {
			snprintf(f->kind, sizeof(f->kind), "%s", val);
		} else if (!strcmp(tok, "severity")) {
			if (severity__parse(val, &sev)) {
				snprintf(why, len,
					 "severity: '%s' is not low, medium, high or critical",
					 val);
				return -EINVAL;
			}
			f->severity = sev;
			f->severity_floor = floor;
		} else {
			goto bad;
		}
	}
	return 0;
bad:
	snprintf(why, len, "'%s' is not pid=N, comm=NAME, kind=KIND, severity=LEVEL or "
			   "severity>=LEVEL", expr);
	return -EINVAL;
}

bool row_filter__match(const struct row_filter *f, const cJSON *row)
{
	const cJSON *v;
	enum severity sev;

	if (f->has_pid) {
		v = cJSON_GetObjectItemCaseSensitive(row, "pid");
		if (!cJSON_IsNumber(v) || (uint32_t)v->valuedouble != f->pid)
			return false;
	}
	if (f->comm[0]) {
		v = cJSON_GetObjectItemCaseSensitive(row, "comm");
		if (!cJSON_IsString(v) || strcmp(v->valuestring, f->comm))
			return false;
	}
	if (f->kind[0]) {
		v = cJSON_GetObjectItemCaseSensitive(row, "kind");
		if (!cJSON_IsString(v) || strcmp(v->valuestring, f->kind))
			return false;
	}
	if (f->severity >= 0) {
		v = cJSON_GetObjectItemCaseSensitive(row, "severity");
		if (!cJSON_IsString(v) || severity__parse(v->valuestring, &sev))
			return false;
		if (f->severity_floor ? (int)sev < f->severity : (int)sev != f->severity)
			return false;
	}
	return true;
}

static bool filter_any(const struct row_filter *f)
{
	return f->has_pid || f->comm[0] || f->kind[0] || f->severity >= 0;
}

struct page {
	uint64_t page, size;
	uint64_t skipped;	/* matching rows before the page */
	cJSON *items;		/* the page's rows */
	bool has_next;
	const char *type;	/* "events" or "report" */
};

/* Offer one matching row; true once the page is full and one more row was seen. */
static bool page_offer(struct page *pg, cJSON *row)
{
	uint64_t first = (pg->page - 1) * pg->size;

	if (pg->skipped < first) {
		pg->skipped++;
		cJSON_Delete(row);
		return false;
	}
	if ((uint64_t)cJSON_GetArraySize(pg->items) < pg->size) {
		cJSON_AddItemToArray(pg->items, row);
		return false;
	}
	cJSON_Delete(row);
	pg->has_next = true;
	return true;
}

/* an event log, streamed: 0, or -errno with @why set (the page so far is kept) */
static int page_events(struct evread *r, const char *first, size_t first_len,
		       const struct row_filter *f, struct page *pg, char *why, size_t len)
{
	uint64_t skip = (pg->page - 1) * pg->size;
	bool filtering = filter_any(f);
	const char *line = first;
	size_t l = first_len;
	int err = 1;

	for (; err > 0; err = evread__next(r, &line, &l)) {
		cJSON *row;

		if (!l)
			continue;
		/* without a filter every line is a row: the ones before the page need no parse */
		if (!filtering && pg->skipped < skip) {
			pg->skipped++;
			continue;
		}
		row = cJSON_ParseWithLength(line, l);
		if (!cJSON_IsObject(row)) {
			cJSON_Delete(row);
			snprintf(why, len, "line %lu is not a JSON object (corrupt log)",
				 (unsigned long)evread__lineno(r));
			return -EIO;
		}
		if (filtering && !row_filter__match(f, row)) {
			cJSON_Delete(row);
			continue;
		}
		if (page_offer(pg, row))
			return 0;
	}
	if (err < 0) {
		snprintf(why, len, "%s", evread__error(r));
		return err;
	}
	return 0;
}

static void offer_array(struct page *pg, const struct row_filter *f, const cJSON *arr,
			const char *kind, bool *full)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		cJSON *row, *k;

		if (*full)
			return;
		row = cJSON_Duplicate(it, true);
		if (!row)
			return;
		/*
		 * The row's kind is its type; a finding's own kind (an alert's memory_leak, a
		 * driver's chromedriver) moves under the type's name, as alerts do in the log.
		 */
		k = cJSON_DetachItemFromObjectCaseSensitive(row, "kind");
		if (k)
			cJSON_AddItemToObject(row, kind, k);
		cJSON_AddStringToObject(row, "kind", kind);
		if (!row_filter__match(f, row)) {
			cJSON_Delete(row);
			continue;
		}
		*full = page_offer(pg, row);
	}
}

/*
 * a summary report's rows: processes, then each leaks.* array, zombies, leftovers, driver
 * trees, alerts
 */
static void page_report(const cJSON *root, const struct row_filter *f, struct page *pg)
{
	const cJSON *leaks = cJSON_GetObjectItemCaseSensitive(root, "leaks"), *a;
	bool full = false;
	char kind[48];

	offer_array(pg, f, cJSON_GetObjectItemCaseSensitive(root, "processes"), "process", &full);
	cJSON_ArrayForEach(a, leaks) {
		snprintf(kind, sizeof(kind), "%s_leak", a->string);
		/* "fds" -> fd_leak */
		if (!strcmp(a->string, "fds"))
			snprintf(kind, sizeof(kind), "fd_leak");
		offer_array(pg, f, a, kind, &full);
	}
	offer_array(pg, f, cJSON_GetObjectItemCaseSensitive(root, "zombies"), "zombie", &full);
	offer_array(pg, f, cJSON_GetObjectItemCaseSensitive(root, "leftovers"), "leftover", &full);
	offer_array(pg, f, cJSON_GetObjectItemCaseSensitive(root, "drivers"), "driver", &full);
	offer_array(pg, f, cJSON_GetObjectItemCaseSensitive(root, "alerts"), "alert", &full);
}

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

static void print_table(FILE *out, const struct page *pg)
{
	static const char *const shown[] = { "time", "kind", "pid", "comm", "severity" };
	const cJSON *row, *v;
	char a[32], b[32];

	fprintf(out, "%-24s %-12s %8s %-16s %-8s %s\n", "TIME", "KIND", "PID", "COMM", "SEVERITY",
		"DETAILS");
	cJSON_ArrayForEach(row, pg->items) {
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
	fprintf(out, "page %lu (%lu per page, %d shown), %s\n", (unsigned long)pg->page,
		(unsigned long)pg->size, cJSON_GetArraySize(pg->items),
		pg->has_next ? "more: --page next" : "last page");
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

int report__page(const char *path, const struct row_filter *f, uint64_t page, uint64_t size,
		 cJSON **out, char *why, size_t len)
{
	struct page pg = { .page = page, .size = size };
	struct evread *r = NULL;
	cJSON *root = NULL, *first = NULL, *o;
	const char *line;
	size_t l = 0;
	int err;

	*out = NULL;
	why[0] = '\0';
	err = evread__open(&r, path);
	if (err) {
		snprintf(why, len, "%s", strerror(-err));
		return err;
	}
	pg.items = cJSON_CreateArray();
	/* an event log's first line is a whole record with a kind; a report is one document */
	err = evread__next(r, &line, &l);
	if (err > 0)
		first = cJSON_ParseWithLength(line, l);
	if (err > 0 && cJSON_IsObject(first) && cJSON_GetObjectItemCaseSensitive(first, "kind")) {
		pg.type = "events";
		err = page_events(r, line, l, f, &pg, why, len);
	} else if (err < 0) {
		pg.type = "events";
		snprintf(why, len, "%s", evread__error(r));
	} else {
		const cJSON *schema;

		evread__close(r);
		r = NULL;
		pg.type = "report";
		err = 0;
		root = evread__load_json(path, QH_REPORT_MAX_BYTES, why, len);
		schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
		if (!root) {
			err = -EIO;
		} else if (!cJSON_IsString(schema) ||
			   strncmp(schema->valuestring, "qhtrace/report/", 15)) {
			snprintf(why, len, "not a qhtrace report or event log");
			err = -EINVAL;
		} else {
			page_report(root, f, &pg);
		}
	}
	cJSON_Delete(first);
	evread__close(r);
	cJSON_Delete(root);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "file", path);
	cJSON_AddStringToObject(o, "type", pg.type);
	cJSON_AddNumberToObject(o, "page", pg.page);
	cJSON_AddNumberToObject(o, "page_size", pg.size);
	cJSON_AddBoolToObject(o, "has_next", pg.has_next);
	if (err)
		cJSON_AddStringToObject(o, "error", why);
	cJSON_AddItemToObject(o, "items", pg.items);
	*out = o;
	return err;
}

static void print_page(FILE *out, const cJSON *o)
{
	struct page pg = {
		.page = cJSON_GetObjectItemCaseSensitive(o, "page")->valuedouble,
		.size = cJSON_GetObjectItemCaseSensitive(o, "page_size")->valuedouble,
		.has_next = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "has_next")),
		.items = cJSON_GetObjectItemCaseSensitive(o, "items"),
	};

	print_table(out, &pg);
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
