// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * qhtrace diff BASE CURRENT: what grew between two summary reports. Processes are compared by
 * command name (comm), heap leaks by their stack (function, file and line of each frame, so
 * addresses that move with ASLR do not matter), fds and driver trees by kind when the
 * reports have them.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "evread.h"
#include "log.h"
#include "reportcmd.h"
#include "util.h"

/* peak RSS changes below this are noise, whatever their percentage */
#define DIFF_MIN_KB 1024

/* one compared figure: a key's value in each report */
struct entry {
	char key[512];
	double base, cur;
	bool in_base, in_cur;
	uint64_t base_n, cur_n;
};

struct table {
	struct entry *e;
	size_t n, cap;
};

static struct entry *get(struct table *t, const char *key)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (!strcmp(t->e[i].key, key))
			return &t->e[i];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct entry *e = realloc(t->e, cap * sizeof(*e));

		if (!e)
			return NULL;
		t->e = e;
		t->cap = cap;
	}
	memset(&t->e[t->n], 0, sizeof(t->e[0]));
	snprintf(t->e[t->n].key, sizeof(t->e[0].key), "%s", key);
	return &t->e[t->n++];
}

/* @max: keep the largest value (peak memory); else add them up */
static void put(struct table *t, const char *key, double v, bool cur, bool max)
{
	struct entry *e = get(t, key);
	double *slot;

	if (!e)
		return;
	slot = cur ? &e->cur : &e->base;
	if (cur) {
		e->in_cur = true;
		e->cur_n++;
	} else {
		e->in_base = true;
		e->base_n++;
	}
	*slot = max ? (v > *slot ? v : *slot) : *slot + v;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "?";
}

static void stack_key(const cJSON *leak, char *buf, size_t len)
{
	const cJSON *f;
	size_t off;

	off = snprintf(buf, len, "%s", str(leak, "comm"));
	cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(leak, "stack")) {
		const cJSON *sym = cJSON_GetObjectItemCaseSensitive(f, "symbol");
		const cJSON *file = cJSON_GetObjectItemCaseSensitive(f, "file");
		const char *fn = cJSON_IsString(file) ? file->valuestring : NULL;

		if (off >= len)
			break;
		if (cJSON_IsString(sym))
			off += snprintf(buf + off, len - off, " <- %s", sym->valuestring);
		else
			off += snprintf(buf + off, len - off, " <- ?");
		if (fn && off < len)
			off += snprintf(buf + off, len - off, " (%s:%.0f)",
					strrchr(fn, '/') ? strrchr(fn, '/') + 1 : fn,
					num(f, "line"));
	}
}

struct diff {
	struct table cmds;	/* comm -> peak RSS kB */
	struct table leaks;	/* stack -> bytes */
	struct table fds;	/* comm -> fds left open */
	struct table leftovers;	/* comm -> processes left */
	struct table drivers;	/* driver kind -> peak RSS kB */
};

static void collect(struct diff *d, const cJSON *rep, bool cur)
{
	const cJSON *leaks = cJSON_GetObjectItemCaseSensitive(rep, "leaks"), *it;
	char key[512];

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rep, "processes"))
		put(&d->cmds, str(it, "comm"), num(it, "peak_rss_kb"), cur, true);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(leaks, "heap")) {
		stack_key(it, key, sizeof(key));
		put(&d->leaks, key, num(it, "bytes"), cur, false);
	}
	/* fds and sockets left open or growing, per command: how many fds the findings hold */
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(leaks, "fds"))
		put(&d->fds, str(it, "comm"), num(it, "count") ?: 1, cur, false);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(leaks, "sockets"))
		put(&d->fds, str(it, "comm"), num(it, "count") ?: 1, cur, false);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rep, "leftovers"))
		put(&d->leftovers, str(it, "comm"), 1, cur, false);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rep, "drivers")) {
		/* the drivers[] of procwatch (peak_memory_kb), or an older name */
		double kb = num(it, "peak_memory_kb") ?: num(it, "peak_rss_kb") ?:
			    num(it, "tree_peak_rss_kb");

		put(&d->drivers, str(it, "kind"), kb, cur, true);
	}
}

/* growth in percent of the base; +inf when the base had none */
static double growth(const struct entry *e)
{
	if (e->base <= 0)
		return e->cur > 0 ? INFINITY : 0;
	return (e->cur - e->base) * 100.0 / e->base;
}

/*
 * One section of the diff: its entries as JSON, and whether one is a regression against
 * @max_pct (< 0: no gate). @min_delta: smaller changes are noise.
 */
static cJSON *section(const struct table *t, const char *unit, double max_pct, double min_delta,
		      bool new_is_regression, cJSON *regressions, const char *what)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct entry *e = &t->e[i];
		cJSON *o = cJSON_CreateObject();
		double g = growth(e);
		char buf[640];
		bool reg;

		cJSON_AddStringToObject(o, "key", e->key);
		snprintf(buf, sizeof(buf), "base_%s", unit);
		cJSON_AddItemToObject(o, buf, e->in_base ? cJSON_CreateNumber(e->base) :
							    cJSON_CreateNull());
		snprintf(buf, sizeof(buf), "current_%s", unit);
		cJSON_AddItemToObject(o, buf, e->in_cur ? cJSON_CreateNumber(e->cur) :
							   cJSON_CreateNull());
		cJSON_AddItemToObject(o, "growth_pct", isinf(g) ? cJSON_CreateNull() :
								   cJSON_CreateNumber(g));
		cJSON_AddBoolToObject(o, "new", e->in_cur && !e->in_base);
		cJSON_AddBoolToObject(o, "gone", e->in_base && !e->in_cur);
		reg = e->in_cur && e->cur - e->base >= min_delta &&
		      (!e->in_base ? new_is_regression : max_pct >= 0 && g > max_pct);
		cJSON_AddBoolToObject(o, "regression", reg);
		if (reg) {
			if (!e->in_base)
				snprintf(buf, sizeof(buf), "%s: new: %s (%.0f %s)", what, e->key,
					 e->cur, unit);
			else
				snprintf(buf, sizeof(buf), "%s: %s grew %.1f%% (%.0f -> %.0f %s)",
					 what, e->key, g, e->base, e->cur, unit);
			cJSON_AddItemToArray(regressions, cJSON_CreateString(buf));
		}
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

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

cJSON *diff__compare(const cJSON *base, const cJSON *cur, double max_pct)
{
	cJSON *out = cJSON_CreateObject(), *regs = cJSON_CreateArray();
	double inf = INFINITY;
	struct diff d = {};

	if (!out || !regs) {
		cJSON_Delete(out);
		cJSON_Delete(regs);
		return NULL;
	}
	collect(&d, base, false);
	collect(&d, cur, true);
	if (max_pct >= 0)
		cJSON_AddNumberToObject(out, "max_growth_pct", max_pct);
	/* without a gate nothing is a regression: the figures are shown, not judged */
	cJSON_AddItemToObject(out, "commands",
			      section(&d.cmds, "peak_rss_kb", max_pct,
				      max_pct >= 0 ? DIFF_MIN_KB : inf, false, regs,
				      "peak memory"));
	cJSON_AddItemToObject(out, "heap_leaks",
			      section(&d.leaks, "bytes", max_pct, max_pct >= 0 ? 1 : inf, true,
				      regs, "heap leak"));
	cJSON_AddItemToObject(out, "fds", section(&d.fds, "fds", max_pct,
						  max_pct >= 0 ? 1 : inf, true, regs, "fds"));
	cJSON_AddItemToObject(out, "leftovers",
			      section(&d.leftovers, "processes", max_pct, max_pct >= 0 ? 1 : inf,
				      true, regs, "leftovers"));
	cJSON_AddItemToObject(out, "drivers",
			      section(&d.drivers, "peak_rss_kb", max_pct,
				      max_pct >= 0 ? DIFF_MIN_KB : inf, false, regs, "driver"));
	cJSON_AddItemToObject(out, "regressions", regs);
	cJSON_AddBoolToObject(out, "pass", !cJSON_GetArraySize(regs));
	free(d.cmds.e);
	free(d.leaks.e);
	free(d.fds.e);
	free(d.leftovers.e);
	free(d.drivers.e);
	return out;
}

static void usage_diff(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace diff [OPTIONS] BASE.json CURRENT.json\n"
		"\n"
		"Compare two summary reports: peak RSS per command name, heap leaks per\n"
		"stack (new ones, and bytes), fds left open and leftover processes per\n"
		"command name, driver trees per kind (when the reports have them).\n"
		"\n"
		"Options:\n"
		"      --max-growth-pct P  fail (exit %d) when a figure grew by more than P\n"
		"                          percent (peak RSS only when it also grew by %d kB\n"
		"                          or more), or a heap leak, fd or leftover is new;\n"
		"                          0..1000000\n"
		"      --json              the comparison as JSON\n"
		"  -h, --help              this text\n"
		"\n"
		"Exit status: 0; %d on a regression (with --max-growth-pct); %d if a report\n"
		"cannot be read; %d for a bad command line.\n"
		"\n"
		"Examples:\n"
		"  qhtrace diff main.json branch.json\n"
		"  qhtrace diff --max-growth-pct 10 --json baseline.json run.json\n",
		QH_EXIT_GATE, DIFF_MIN_KB, QH_EXIT_GATE, QH_EXIT_ERROR, QH_EXIT_USAGE);
}

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-growth-pct", required_argument, NULL, 'g' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	cJSON *rep[2] = {}, *out = NULL, *regs, *cmds, *leaks, *fds, *left, *drv;
	double max_pct = -1;
	bool json = false;
	char why[256], *s;
	uint64_t v;
	int c, i, code = QH_EXIT_ERROR;

	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'g':
			if (util__parse_u64(optarg, 0, 1000000, &v)) {
				pr_err("--max-growth-pct: '%s' is not a number in 0..1000000\n",
				       optarg);
				return QH_EXIT_USAGE;
			}
			max_pct = v;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage_diff(stdout);
			return 0;
		case ':':
			pr_err("option '%s' needs an argument -- see 'qhtrace diff --help'\n",
			       argv[optind - 1]);
			return QH_EXIT_USAGE;
		default:
			pr_err("unknown option '%s' -- see 'qhtrace diff --help'\n",
			       argv[optind - 1]);
			return QH_EXIT_USAGE;
		}
	}
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
		if (json) {
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
	out = diff__compare(rep[0], rep[1], max_pct);
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
	if (json) {
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
		cJSON_ArrayForEach(r, regs)
			printf("regression: %s\n", r->valuestring);
		if (max_pct >= 0)
			printf("%s\n", cJSON_GetArraySize(regs) ? "diff: FAIL" : "diff: pass");
	}
	code = cJSON_GetArraySize(regs) ? QH_EXIT_GATE : 0;
out:
	cJSON_Delete(out);
	cJSON_Delete(rep[0]);
	cJSON_Delete(rep[1]);
	return code;
}
