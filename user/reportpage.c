// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * One page of an event log (streamed: the lines before the page are counted, not parsed,
 * unless a filter needs them) or of a summary report's rows (processes, findings, alerts),
 * for `qhtrace report` and whoever reads what qhtrace wrote.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "evread.h"
#include "reportpage.h"
#include "severity.h"
#include "util.h"

/*
 * The kinds of rows: an event log's records (outputs.c, alerts.c) and a summary report's
 * (page_report below; every leaks.NAME array is NAME_leak).
 */
static const char *const row_kinds[] = {
	"log", "fork", "exec", "exit", "reap", "heap_hooked", "libc_mapped", "memory",
	"heap_check", "heap_leak", "fd_leak", "socket_leak", "alert", "leftover", "cleanup",
	"verdict", "driver_start", "driver_end", "process", "zombie", "driver",
};

/* Is @pat (a glob) a kind some row can have? */
static bool kind_known(const char *pat)
{
	size_t i;

	for (i = 0; i < sizeof(row_kinds) / sizeof(row_kinds[0]); i++)
		if (!fnmatch(pat, row_kinds[i], 0))
			return true;
	return !fnmatch("*_leak", pat, 0);
}

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
			if (!kind_known(val)) {
				snprintf(why, len, "kind: '%.40s' is no kind of row (process, "
					 "heap_leak, fd_leak, socket_leak, zombie, leftover, driver, "
					 "alert; in an event log also fork, exec, exit, reap, memory, "
					 "driver_start, driver_end, cleanup, verdict, ...)", val);
				return -EINVAL;
			}
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
		if (!cJSON_IsString(v) || fnmatch(f->comm, v->valuestring, 0))
			return false;
	}
	if (f->kind[0]) {
		v = cJSON_GetObjectItemCaseSensitive(row, "kind");
		if (!cJSON_IsString(v) || fnmatch(f->kind, v->valuestring, 0))
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

/*
 * A summary report's array @name of rows, offered; a row that is not an object, or an @arr
 * that is not an array, is a corrupt report: -EIO with @why (the rows before it are kept).
 */
static int offer_array(struct page *pg, const struct row_filter *f, const cJSON *arr,
		       const char *name, const char *kind, bool *full, char *why, size_t len)
{
	const cJSON *it;
	int i = 0;

	if (!arr)
		return 0;
	if (!cJSON_IsArray(arr)) {
		snprintf(why, len, "%s is not an array (corrupt report)", name);
		return -EIO;
	}
	cJSON_ArrayForEach(it, arr) {
		cJSON *row, *k;

		if (*full)
			return 0;
		if (!cJSON_IsObject(it)) {
			snprintf(why, len, "%s[%d] is not an object (corrupt report)", name, i);
			return -EIO;
		}
		i++;
		row = cJSON_Duplicate(it, true);
		if (!row) {
			snprintf(why, len, "out of memory");
			return -ENOMEM;
		}
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
	return 0;
}

/*
 * a summary report's rows: processes, then each leaks.* array, zombies, leftovers, driver
 * trees, alerts. 0, or -errno with @why at the first damage.
 */
static int page_report(const cJSON *root, const struct row_filter *f, struct page *pg,
		       char *why, size_t len)
{
	static const char *const tops[][2] = {
		{ "zombies", "zombie" }, { "leftovers", "leftover" }, { "drivers", "driver" },
		{ "alerts", "alert" },
	};
	const cJSON *leaks = cJSON_GetObjectItemCaseSensitive(root, "leaks"), *a;
	bool full = false;
	char kind[48], name[64];
	size_t i;
	int err;

	err = offer_array(pg, f, cJSON_GetObjectItemCaseSensitive(root, "processes"), "processes",
			  "process", &full, why, len);
	if (err)
		return err;
	if (leaks && !cJSON_IsObject(leaks)) {
		snprintf(why, len, "leaks is not an object (corrupt report)");
		return -EIO;
	}
	cJSON_ArrayForEach(a, leaks) {
		/* "fds" -> fd_leak */
		snprintf(kind, sizeof(kind), "%.20s_leak", strcmp(a->string, "fds") ? a->string : "fd");
		snprintf(name, sizeof(name), "leaks.%.40s", a->string);
		err = offer_array(pg, f, a, name, kind, &full, why, len);
		if (err)
			return err;
	}
	for (i = 0; i < sizeof(tops) / sizeof(tops[0]); i++) {
		err = offer_array(pg, f, cJSON_GetObjectItemCaseSensitive(root, tops[i][0]),
				  tops[i][0], tops[i][1], &full, why, len);
		if (err)
			return err;
	}
	return 0;
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
	/*
	 * A first line too long for a log line, or without its newline, is no event log (whose
	 * first line is its short header, ended): a compact report, or one edited by hand.
	 */
	if (err > 0 && cJSON_IsObject(first) && cJSON_GetObjectItemCaseSensitive(first, "kind")) {
		pg.type = "events";
		err = page_events(r, line, l, f, &pg, why, len);
	} else if (err < 0 && err != -E2BIG && err != -EPIPE) {
		pg.type = "events";
		snprintf(why, len, "%s", evread__error(r));
	} else {
		const cJSON *schema;
		char first_err[160];
		int ferr = err;

		snprintf(first_err, sizeof(first_err), "%s", err < 0 ? evread__error(r) : "");
		evread__close(r);
		r = NULL;
		pg.type = "report";
		err = 0;
		root = evread__load_json(path, QH_REPORT_MAX_BYTES, why, len);
		schema = cJSON_GetObjectItemCaseSensitive(root, "schema");
		if (!root || !cJSON_IsString(schema) ||
		    strncmp(schema->valuestring, "qhtrace/report/", 15)) {
			/* not a report either: a cut event log says so as one */
			if (ferr < 0 && (!root || cJSON_GetObjectItemCaseSensitive(root, "kind"))) {
				pg.type = "events";
				snprintf(why, len, "%s", first_err);
				err = ferr;
			} else if (!root) {
				err = -EIO;
			} else {
				snprintf(why, len, "not a qhtrace report or event log");
				err = -EINVAL;
			}
		} else {
			err = page_report(root, f, &pg, why, len);
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

