// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What grew between two summary reports (`qhtrace diff`). Processes are compared by
 * command name (comm), heap leaks by their stack (function, file and line of each frame, so
 * addresses that move with ASLR do not matter), fds and driver trees by kind when the
 * reports have them.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "diff.h"
#include "htab.h"
#include "util.h"
#include "vec.h"

/* one compared figure: a key's value in each report */
struct entry {
	char key[512];
	double base, cur;
	bool in_base, in_cur;
	uint64_t base_n, cur_n;
	struct hnode hnode;
};

/* the entries in order of first sight, and by key */
struct table {
	struct entry **e;
	size_t n, cap;
	struct htab by_key;
};

static struct entry *get(struct table *t, const char *key)
{
	uint64_t h = htab__str(HTAB_SEED, key);
	struct entry *e, **slot;
	struct hnode *n;

	for (n = htab__first(&t->by_key, h); n; n = htab__next(n)) {
		e = htab_entry(n, struct entry, hnode);
		if (!strcmp(e->key, key))
			return e;
	}
	e = calloc(1, sizeof(*e));
	if (!e || htab__add(&t->by_key, &e->hnode, h))
		goto fail;
	slot = vec_push(t->e, t->n, t->cap);
	if (!slot) {
		htab__del(&t->by_key, &e->hnode);
		goto fail;
	}
	*slot = e;
	snprintf(e->key, sizeof(e->key), "%s", key);
	return e;
fail:
	free(e);
	return NULL;
}

static void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->e[i]);
	free(t->e);
	htab__free(&t->by_key);
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
	/* per test (the report's tests[], issue 14), by the test's name */
	struct table test_rss;	/* RSS growth kB */
	struct table test_heap;	/* heap bytes allocated in the test and live at its end */
	struct table test_fds;	/* fds the test left open */
	struct table test_left;	/* browsers and processes that outlived the test */
};

static void collect(struct diff *d, const cJSON *rep, bool cur)
{
	const cJSON *leaks = cJSON_GetObjectItemCaseSensitive(rep, "leaks"), *it;
	char key[512];

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rep, "processes"))
		put(&d->cmds, str(it, "comm"), num(it, "peak_rss_kb"), cur, true);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(leaks, "heap")) {
		/* a block still reachable at exit (by --leak-kinds) is no leak to compare */
		if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(it, "counted")))
			continue;
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
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(rep, "tests")) {
		const char *name = str(it, "name");
		const cJSON *heap = cJSON_GetObjectItemCaseSensitive(it, "heap_new_bytes");

		put(&d->test_rss, name, num(it, "rss_growth_kb"), cur, true);
		/* null: the heap was not followed; nothing to compare */
		if (cJSON_IsNumber(heap))
			put(&d->test_heap, name, heap->valuedouble, cur, true);
		put(&d->test_fds, name, num(it, "fds_leaked"), cur, true);
		put(&d->test_left, name, num(it, "browsers_left") + num(it, "leftovers"), cur, true);
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
		const struct entry *e = t->e[i];
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
	/* a test that leaks more than it did: noise floors as for the whole run */
	cJSON_AddItemToObject(out, "tests_rss",
			      section(&d.test_rss, "rss_growth_kb", max_pct,
				      max_pct >= 0 ? DIFF_MIN_KB : inf, false, regs,
				      "test memory"));
	cJSON_AddItemToObject(out, "tests_heap",
			      section(&d.test_heap, "bytes", max_pct,
				      max_pct >= 0 ? DIFF_MIN_KB * 1024.0 : inf, false, regs,
				      "test heap"));
	cJSON_AddItemToObject(out, "tests_fds",
			      section(&d.test_fds, "fds", max_pct, max_pct >= 0 ? 1 : inf, true,
				      regs, "test fds"));
	cJSON_AddItemToObject(out, "tests_leftovers",
			      section(&d.test_left, "processes", max_pct, max_pct >= 0 ? 1 : inf,
				      true, regs, "test leftovers"));
	cJSON_AddItemToObject(out, "regressions", regs);
	cJSON_AddBoolToObject(out, "pass", !cJSON_GetArraySize(regs));
	table_free(&d.cmds);
	table_free(&d.leaks);
	table_free(&d.fds);
	table_free(&d.leftovers);
	table_free(&d.drivers);
	table_free(&d.test_rss);
	table_free(&d.test_heap);
	table_free(&d.test_fds);
	table_free(&d.test_left);
	return out;
}
