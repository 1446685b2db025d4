// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HTML report. Everything a reader needs without JavaScript (verdict, reasons, command,
 * the findings' tables) is plain HTML; the charts' data is one JSON block that html.js draws
 * with D3. Both D3 and html.js are linked in (assets.S), so the page needs no network: its
 * Content-Security-Policy forbids every fetch.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "html.h"
#include "htab.h"
#include "memseries.h"
#include "sbuf.h"
#include "util.h"
#include "vec.h"

/* assets.S: D3's bundle and its license (Debian's node-d3), the page's script and style */
extern const char qh_asset_d3_js[], qh_asset_d3_js_end[];
extern const char qh_asset_d3_license[], qh_asset_d3_license_end[];
extern const char qh_asset_html_js[], qh_asset_html_js_end[];
extern const char qh_asset_html_css[], qh_asset_html_css_end[];

/* ---- output buffer: sbuf.h's, under the names this file has always used ---- */

#define hb sbuf
#define hb_put sbuf__put
#define hb_puts sbuf__puts
#define hb_printf sbuf__printf

/* text from traced processes and the report, for HTML text and quoted attribute values */
static void hb_esc(struct hb *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	const unsigned char *run = p;

	for (; *p; p++) {
		const char *rep = NULL;
		char hex[8];

		switch (*p) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				/* controls are not text: shown, not passed on */
				snprintf(hex, sizeof(hex), "\\x%02x", *p);
				rep = hex;
			}
		}
		if (!rep)
			continue;
		hb_put(b, (const char *)run, p - run);
		hb_puts(b, rep);
		run = p + 1;
	}
	hb_put(b, (const char *)run, p - run);
}

char *html__escape(const char *s)
{
	struct hb b = {};

	hb_esc(&b, s);
	hb_put(&b, "", 0);
	if (b.err) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/*
 * JSON inside <script type="application/json">: no "</script" or "<!--" may appear, so every
 * < > & is written as its \u escape (these only occur inside strings in cJSON's output), and
 * so are U+2028/U+2029.
 */
static void hb_json(struct hb *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep = NULL;
		size_t skip = 0;

		if (*s == '<')
			rep = "\\u003c";
		else if (*s == '>')
			rep = "\\u003e";
		else if (*s == '&')
			rep = "\\u0026";
		else if ((unsigned char)s[0] == 0xe2 && (unsigned char)s[1] == 0x80 &&
			 ((unsigned char)s[2] == 0xa8 || (unsigned char)s[2] == 0xa9)) {
			rep = (unsigned char)s[2] == 0xa8 ? "\\u2028" : "\\u2029";
			skip = 2;
		}
		if (!rep)
			continue;
		hb_put(b, run, s - run);
		hb_puts(b, rep);
		s += skip;
		run = s + 1;
	}
	hb_put(b, run, s - run);
}

/* ---- reading the report ---- */

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static bool num(const cJSON *o, const char *k, double *v)
{
	const cJSON *n = get(o, k);

	if (!cJSON_IsNumber(n))
		return false;
	*v = n->valuedouble;
	return true;
}

static double numd(const cJSON *o, const char *k, double def)
{
	double v;

	return num(o, k, &v) ? v : def;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *s = get(o, k);

	return cJSON_IsString(s) ? s->valuestring : NULL;
}

static const char *base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;

	return s ? s + 1 : p;
}

static void human_kb(char *buf, size_t len, double kb)
{
	if (kb >= 1048576)
		snprintf(buf, len, "%.1f GiB", kb / 1048576);
	else if (kb >= 1024)
		snprintf(buf, len, "%.1f MiB", kb / 1024);
	else
		snprintf(buf, len, "%.0f KiB", kb);
}

static void human_bytes(char *buf, size_t len, double b)
{
	if (b >= 1024)
		human_kb(buf, len, b / 1024);
	else
		snprintf(buf, len, "%.0f B", b);
}

/* a frame as the flame graph and the tables name it: symbol (file:line), else what is known */
static void frame_label(const cJSON *f, char *buf, size_t len)
{
	const char *sym = str(f, "symbol"), *file = str(f, "file"), *mod = str(f, "module");
	const char *addr = str(f, "address");
	double line = numd(f, "line", 0), off;

	if (sym && file && line > 0)
		snprintf(buf, len, "%s (%s:%.0f)", sym, base_name(file), line);
	else if (sym && num(f, "offset", &off))
		snprintf(buf, len, "%s+0x%lx [%s]", sym, (unsigned long)off,
			 mod ? base_name(mod) : "?");
	else if (sym)
		snprintf(buf, len, "%s", sym);
	else
		snprintf(buf, len, "%s [%s]", addr ? addr : "?", mod ? base_name(mod) : "?");
}

static void leak_site(const cJSON *leak, char *buf, size_t len)
{
	const cJSON *st = get(leak, "stack");
	const char *caller = str(leak, "caller");

	if (cJSON_GetArraySize(st) > 0)
		frame_label(cJSON_GetArrayItem(st, 0), buf, len);
	else
		snprintf(buf, len, "%s", caller ? caller : "?");
}

/* ---- tables ---- */

enum colfmt { C_ANY, C_NUM, C_KB, C_BYTES, C_SEC, C_SEV };

struct col {
	const char *key;
	const char *head;
	enum colfmt f;
	/* a cell made from the row (the key is then only its name for sorting) */
	void (*fn)(const cJSON *row, const void *ctx, char *buf, size_t len);
};

static void cell(struct hb *b, const cJSON *v, enum colfmt f)
{
	char buf[64];

	if (!v || cJSON_IsNull(v)) {
		hb_puts(b, "<td class=\"na\">-</td>");
		return;
	}
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;

		if (f == C_KB)
			human_kb(buf, sizeof(buf), d);
		else if (f == C_BYTES)
			human_bytes(buf, sizeof(buf), d);
		else if (f == C_SEC)
			snprintf(buf, sizeof(buf), "%.3g s", d);
		else if (d == floor(d) && fabs(d) < 1e15)
			snprintf(buf, sizeof(buf), "%.0f", d);
		else
			snprintf(buf, sizeof(buf), "%.4g", d);
		hb_printf(b, "<td class=\"n\" data-v=\"%.17g\">%s</td>", d, buf);
		return;
	}
	if (cJSON_IsBool(v)) {
		hb_printf(b, "<td>%s</td>", cJSON_IsTrue(v) ? "yes" : "no");
		return;
	}
	if (cJSON_IsString(v)) {
		if (f == C_SEV)
			hb_printf(b, "<td class=\"sev sev-%s\">",
				  strspn(v->valuestring, "abcdefghijklmnopqrstuvwxyz") ==
						  strlen(v->valuestring)
					  ? v->valuestring
					  : "x");
		else
			hb_puts(b, "<td>");
		hb_esc(b, v->valuestring);
		hb_puts(b, "</td>");
		return;
	}
	if (cJSON_IsArray(v)) {
		/* a list of scalars (survivors, pids): joined, at most 20 */
		const cJSON *e;
		int i = 0;

		hb_puts(b, "<td>");
		cJSON_ArrayForEach(e, v) {
			if (i == 20) {
				hb_printf(b, " ... (%d in all)", cJSON_GetArraySize(v));
				break;
			}
			if (i++)
				hb_puts(b, ", ");
			if (cJSON_IsNumber(e))
				hb_printf(b, "%.0f", e->valuedouble);
			else if (cJSON_IsString(e))
				hb_esc(b, e->valuestring);
		}
		hb_puts(b, "</td>");
		return;
	}
	hb_puts(b, "<td class=\"na\">...</td>");
}

static bool scalar(const cJSON *v)
{
	return cJSON_IsNumber(v) || cJSON_IsString(v) || cJSON_IsBool(v) || cJSON_IsNull(v);
}

/* keys never shown as columns of their own */
static bool skipped_key(const char *k)
{
	static const char *const skip[] = { "start_time", "stack", "caller", "end_time",
					    "memory_timeline", "exe" };
	size_t i;

	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (!strcmp(k, skip[i]))
			return true;
	return false;
}

/*
 * A sortable table of @arr: the columns of @cols that some row has (or that are made by a
 * function), then, with @extra, every other scalar key some row has (fields this version does
 * not know: a finding's `kind`, a test's fields). At most HTML_MAX_ROWS rows.
 */
static void table(struct hb *b, const char *id, const cJSON *arr, const struct col *cols,
		  size_t ncols, bool extra, const void *ctx)
{
	const char *keys[64];
	const struct col *kc[64];
	size_t nk = 0, i;
	const cJSON *row, *v;
	int rows = cJSON_GetArraySize(arr), shown = 0;
	char buf[512];

	for (i = 0; i < ncols && nk < 64; i++) {
		bool has = cols[i].fn != NULL;

		cJSON_ArrayForEach(row, arr) {
			if (has)
				break;
			has = get(row, cols[i].key) != NULL;
		}
		if (has) {
			kc[nk] = &cols[i];
			keys[nk++] = cols[i].key;
		}
	}
	if (extra) {
		cJSON_ArrayForEach(row, arr) {
			cJSON_ArrayForEach(v, row) {
				size_t k;

				if (!v->string || !scalar(v) || skipped_key(v->string) || nk >= 64)
					continue;
				for (k = 0; k < ncols && strcmp(cols[k].key, v->string); k++)
					;
				if (k < ncols)
					continue;
				for (k = 0; k < nk && strcmp(keys[k], v->string); k++)
					;
				if (k == nk) {
					kc[nk] = NULL;
					keys[nk++] = v->string;
				}
			}
		}
	}
	hb_printf(b, "<table class=\"sortable\" id=\"%s\"><thead><tr>", id);
	for (i = 0; i < nk; i++) {
		hb_puts(b, "<th>");
		hb_esc(b, kc[i] ? kc[i]->head : keys[i]);
		hb_puts(b, "</th>");
	}
	hb_puts(b, "</tr></thead><tbody>\n");
	cJSON_ArrayForEach(row, arr) {
		if (shown++ == HTML_MAX_ROWS)
			break;
		hb_puts(b, "<tr>");
		for (i = 0; i < nk; i++) {
			if (kc[i] && kc[i]->fn) {
				kc[i]->fn(row, ctx, buf, sizeof(buf));
				hb_puts(b, "<td>");
				hb_esc(b, buf);
				hb_puts(b, "</td>");
			} else {
				cell(b, get(row, keys[i]), kc[i] ? kc[i]->f : C_ANY);
			}
		}
		hb_puts(b, "</tr>\n");
	}
	hb_puts(b, "</tbody></table>\n");
	if (rows > HTML_MAX_ROWS)
		hb_printf(b, "<p class=\"note\">%d more rows are in the JSON report.</p>\n",
			  rows - HTML_MAX_ROWS);
}

static void section(struct hb *b, const char *id, const char *title, int count)
{
	hb_printf(b, "<section id=\"%s\"><h2>%s", id, title);
	if (count >= 0)
		hb_printf(b, " <span class=\"count\">(%d)</span>", count);
	hb_puts(b, "</h2>\n");
}

static void none(struct hb *b, const char *what)
{
	hb_printf(b, "<p class=\"none\">%s</p>\n", what);
}

/* ---- the process timeline: bars nested as the tree, short-lived leaves folded ---- */

enum {
	PF_LEFTOVER = 1 << 0,
	PF_ZOMBIE = 1 << 1,
	PF_FINDING = 1 << 2,
	PF_DRIVER = 1 << 3,	/* a WebDriver itself */
	PF_ORPHAN = 1 << 4,
	PF_RUNNING = 1 << 5,
	PF_FAILED = 1 << 6,	/* exit code != 0 or a signal */
	PF_KEEP = PF_LEFTOVER | PF_ZOMBIE | PF_FINDING | PF_DRIVER | PF_ORPHAN | PF_RUNNING,
};

struct hp {
	const cJSON *j;
	uint32_t pid, ppid;
	const char *comm;
	double start, end;	/* ms since the run's start */
	int driver;		/* -1: none */
	unsigned flags;
	long parent, child, next, last_child; /* indexes, -1: none */
	long group;		/* folded into this group, or -1 */
	struct hnode hnode;
};

struct fold {
	long parent;
	const char *comm;	/* NULL: every name (the last pass) */
	long n, add;
	double start, end, peak_kb;
	long failed;
	int driver;		/* -2: mixed */
	bool shown;
	struct hnode hnode;
};

struct model {
	const cJSON *report;
	double t0_ms, span_ms;
	struct hp *p;
	size_t n, cap;
	struct htab bypid;
	struct fold *g;
	size_t ng, gcap;
	struct htab groups;
	long folded;		/* processes in groups */
	long bars, dropped;
};

static struct hp *find_proc(struct model *m, uint32_t pid, double before)
{
	struct hp *best = NULL;
	struct hnode *h;

	for (h = htab__first(&m->bypid, htab__mix(pid)); h; h = htab__next(h)) {
		struct hp *p = htab_entry(h, struct hp, hnode);

		if (p->pid == pid && p->start <= before && (!best || p->start > best->start))
			best = p;
	}
	return best;
}

/* mark the processes an array of the report names, by pid (and start time when both say) */
static void mark(struct model *m, const cJSON *arr, const char *pidkey, unsigned flag,
		 bool by_start)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		double pid, st = by_start ? memseries__parse_time(str(it, "start_time")) : 0;
		struct hnode *h;

		if (!num(it, pidkey, &pid))
			continue;
		for (h = htab__first(&m->bypid, htab__mix((uint32_t)pid)); h; h = htab__next(h)) {
			struct hp *p = htab_entry(h, struct hp, hnode);

			if (p->pid == (uint32_t)pid &&
			    (!st || !str(p->j, "start_time") ||
			     memseries__parse_time(str(p->j, "start_time")) == st))
				p->flags |= flag;
		}
	}
}

static int cmp_start(const void *a, const void *b, void *arg)
{
	const struct hp *p = arg;
	const struct hp *x = &p[*(const long *)a], *y = &p[*(const long *)b];

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return *(const long *)a < *(const long *)b ? -1 : 1;
}

static int model_build(struct model *m, const cJSON *report)
{
	const cJSON *run = get(report, "run"), *procs = get(report, "processes"), *it;
	const cJSON *leaks = get(report, "leaks"), *d;
	double dur = numd(run, "duration_s", 0) * 1000, maxend = 0;
	long *order, i;

	m->report = report;
	m->t0_ms = memseries__parse_time(str(run, "start_time"));
	cJSON_ArrayForEach(it, procs) {
		double st = memseries__parse_time(str(it, "start_time"));

		if (st && (!m->t0_ms || st < m->t0_ms))
			m->t0_ms = st;
	}
	if (vec_reserve(m->p, m->cap, (size_t)cJSON_GetArraySize(procs) + 1))
		return -ENOMEM;
	cJSON_ArrayForEach(it, procs) {
		struct hp *p = vec_push(m->p, m->n, m->cap);
		double st = memseries__parse_time(str(it, "start_time"));
		double en = memseries__parse_time(str(it, "end_time"));
		const char *state = str(it, "state");
		double v;

		p->j = it;
		p->pid = numd(it, "pid", 0);
		p->ppid = numd(it, "ppid", 0);
		p->comm = str(it, "comm") ?: "?";
		p->start = st ? st - m->t0_ms : 0;
		p->end = en ? en - m->t0_ms : -1;
		p->driver = num(it, "driver", &v) ? (int)v : -1;
		p->parent = p->child = p->next = p->last_child = p->group = -1;
		if (state && !strcmp(state, "running"))
			p->flags |= PF_RUNNING;
		if (state && !strcmp(state, "zombie"))
			p->flags |= PF_ZOMBIE;
		if (numd(it, "exit_code", 0) != 0 || num(it, "signal", &v))
			p->flags |= PF_FAILED;
		if (p->end > maxend)
			maxend = p->end;
		if (p->start > maxend)
			maxend = p->start;
		if (htab__add(&m->bypid, &p->hnode, htab__mix(p->pid)))
			return -ENOMEM;
	}
	m->span_ms = dur > maxend ? dur : maxend;
	if (m->span_ms <= 0)
		m->span_ms = 1;
	for (i = 0; i < (long)m->n; i++)
		if (m->p[i].end < m->p[i].start)
			m->p[i].end = m->span_ms; /* still running, or its end unknown */
	mark(m, get(report, "leftovers"), "pid", PF_LEFTOVER, true);
	mark(m, get(report, "zombies"), "pid", PF_ZOMBIE, true);
	mark(m, get(report, "orphans"), "pid", PF_ORPHAN, true);
	/* a driver's start_time is its exec's, not its process's */
	mark(m, get(report, "drivers"), "pid", PF_DRIVER, false);
	cJSON_ArrayForEach(d, leaks)
		mark(m, d, "pid", PF_FINDING, true);

	/* the tree: each process under the latest process of its ppid born before it */
	order = malloc(m->n * sizeof(*order) + 1);
	if (!order)
		return -ENOMEM;
	for (i = 0; i < (long)m->n; i++)
		order[i] = i;
	qsort_r(order, m->n, sizeof(*order), cmp_start, m->p);
	for (i = 0; i < (long)m->n; i++) {
		struct hp *c = &m->p[order[i]], *par;

		par = c->ppid != c->pid ? find_proc(m, c->ppid, c->start) : NULL;
		if (!par || par == c)
			continue;
		c->parent = par - m->p;
		if (par->last_child < 0)
			par->child = order[i];
		else
			m->p[par->last_child].next = order[i];
		par->last_child = order[i];
	}
	free(order);
	return 0;
}

static bool foldable(const struct hp *p, int pass, double short_ms)
{
	return p->child < 0 && !(p->flags & PF_KEEP) && p->group < 0 &&
	       (pass > 1 || p->end - p->start < short_ms);
}

static struct fold *group_of(struct model *m, long parent, const char *comm)
{
	uint64_t h = htab__str(htab__mix(parent + 1), comm);
	struct hnode *n;

	for (n = htab__first(&m->groups, h); n; n = htab__next(n)) {
		struct fold *g = htab_entry(n, struct fold, hnode);

		if (g->parent == parent && (g->comm == comm || (g->comm && comm &&
								 !strcmp(g->comm, comm))))
			return g;
	}
	return NULL;
}

/*
 * Pass 1 folds the leaves that lived under 0.5% of the run (under 5 px of a 1000 px
 * timeline), by parent and name; pass 2 every leaf without a mark, by parent and name; pass
 * 3 by parent alone. A pass runs only while there are more bars than HTML_MAX_BARS, and a
 * group of one stays a bar.
 */
static int fold_pass(struct model *m, int pass)
{
	double short_ms = m->span_ms / 200;
	long bars = m->n - m->folded + m->ng, i, *remap;
	size_t k, kept;

	if (bars <= HTML_MAX_BARS)
		return 0;
	/* the groups are pointed into by the hash: no growth while they are linked */
	if (vec_reserve(m->g, m->gcap, m->ng + m->n))
		return -ENOMEM;
	htab__clear(&m->groups);
	for (k = 0; k < m->ng; k++)
		if (htab__add(&m->groups, &m->g[k].hnode,
			      htab__str(htab__mix(m->g[k].parent + 1), m->g[k].comm)))
			return -ENOMEM;
	for (i = 0; i < (long)m->n; i++) {
		struct hp *p = &m->p[i];
		const char *comm = pass < 3 ? p->comm : NULL;
		struct fold *g;

		if (!foldable(p, pass, short_ms))
			continue;
		g = group_of(m, p->parent, comm);
		if (!g) {
			g = &m->g[m->ng++];
			memset(g, 0, sizeof(*g));
			g->parent = p->parent;
			g->comm = comm;
			g->start = p->start;
			g->end = p->end;
			g->driver = p->driver;
			if (htab__add(&m->groups, &g->hnode,
				      htab__str(htab__mix(g->parent + 1), comm)))
				return -ENOMEM;
		}
		g->add++;
	}
	/* members join a group only if it then holds two or more */
	for (i = 0; i < (long)m->n; i++) {
		struct hp *p = &m->p[i];
		struct fold *g;
		double v;

		if (!foldable(p, pass, short_ms))
			continue;
		g = group_of(m, p->parent, pass < 3 ? p->comm : NULL);
		if (!g || g->n + g->add < 2)
			continue;
		p->group = g - m->g;
		m->folded++;
		if (p->start < g->start)
			g->start = p->start;
		if (p->end > g->end)
			g->end = p->end;
		if (num(p->j, "peak_rss_kb", &v) && v > g->peak_kb)
			g->peak_kb = v;
		if (p->flags & PF_FAILED)
			g->failed++;
		if (g->driver != p->driver)
			g->driver = -2;
	}
	htab__clear(&m->groups);
	/* the groups of one go (their process stays a bar); the others keep their order */
	remap = malloc(m->ng * sizeof(*remap) + 1);
	if (!remap)
		return -ENOMEM;
	for (k = 0, kept = 0; k < m->ng; k++) {
		m->g[k].n += m->g[k].add;
		m->g[k].add = 0;
		remap[k] = m->g[k].n >= 2 ? (long)kept : -1;
		if (m->g[k].n >= 2)
			m->g[kept++] = m->g[k];
	}
	m->ng = kept;
	for (i = 0; i < (long)m->n; i++)
		if (m->p[i].group >= 0)
			m->p[i].group = remap[m->p[i].group];
	free(remap);
	return 0;
}

static void exit_text(const cJSON *j, char *buf, size_t len)
{
	const char *state = str(j, "state");
	double v;

	if (num(j, "signal", &v))
		snprintf(buf, len, "signal %.0f", v);
	else if (num(j, "exit_code", &v))
		snprintf(buf, len, "exit %.0f", v);
	else
		snprintf(buf, len, "%s", state ? state : "?");
}

struct emit {
	struct model *m;
	struct hb *rows;	/* the process table's rows */
	cJSON *bars;
};

static void emit_bar(struct emit *e, long pi, long gi, int depth)
{
	struct model *m = e->m;
	cJSON *bar;
	char ex[64], kb[32];
	double v;

	if (m->bars >= HTML_MAX_BARS) {
		m->dropped += gi >= 0 ? m->g[gi].n : 1;
		return;
	}
	m->bars++;
	bar = cJSON_CreateObject();
	cJSON_AddItemToArray(e->bars, bar);
	cJSON_AddNumberToObject(bar, "d", depth);
	if (gi >= 0) {
		struct fold *g = &m->g[gi];
		char label[96];

		snprintf(label, sizeof(label), "%s \u00d7%ld", g->comm ? g->comm : "children",
			 g->n);
		cJSON_AddNumberToObject(bar, "s", round(g->start));
		cJSON_AddNumberToObject(bar, "e", round(g->end));
		cJSON_AddStringToObject(bar, "l", label);
		cJSON_AddNumberToObject(bar, "n", g->n);
		cJSON_AddNumberToObject(bar, "f", g->failed ? PF_FAILED : 0);
		if (g->driver >= 0)
			cJSON_AddNumberToObject(bar, "dr", g->driver);
		snprintf(ex, sizeof(ex), "%ld failed", g->failed);
		cJSON_AddStringToObject(bar, "x", ex);
		human_kb(kb, sizeof(kb), g->peak_kb);
		hb_printf(e->rows, "<tr class=\"folded\"><td style=\"padding-left:%dem\">", depth);
		hb_esc(e->rows, label);
		hb_printf(e->rows, "</td><td>%ld processes</td><td class=\"n\" data-v=\"%.0f\">"
				   "%.3f</td><td class=\"n\" data-v=\"%.0f\">%.3f</td><td>%ld "
				   "failed</td><td class=\"n\" data-v=\"%.0f\">%s (max)</td><td>"
				   "</td></tr>\n",
			  g->n, g->start, g->start / 1000, g->end - g->start,
			  (g->end - g->start) / 1000, g->failed, g->peak_kb, kb);
		return;
	}
	{
		struct hp *p = &m->p[pi];

		cJSON_AddNumberToObject(bar, "s", round(p->start));
		cJSON_AddNumberToObject(bar, "e", round(p->end));
		cJSON_AddStringToObject(bar, "l", p->comm);
		cJSON_AddNumberToObject(bar, "p", p->pid);
		cJSON_AddNumberToObject(bar, "f", p->flags);
		if (p->driver >= 0)
			cJSON_AddNumberToObject(bar, "dr", p->driver);
		exit_text(p->j, ex, sizeof(ex));
		cJSON_AddStringToObject(bar, "x", ex);
		v = numd(p->j, "peak_rss_kb", 0);
		human_kb(kb, sizeof(kb), v);
		hb_printf(e->rows, "<tr%s><td style=\"padding-left:%dem\">",
			  p->flags & PF_FAILED ? " class=\"failed\"" : "", depth);
		hb_esc(e->rows, p->comm);
		hb_printf(e->rows, "</td><td class=\"n\" data-v=\"%u\">%u</td>"
				   "<td class=\"n\" data-v=\"%.0f\">%.3f</td>"
				   "<td class=\"n\" data-v=\"%.0f\">%.3f</td><td>",
			  p->pid, p->pid, p->start, p->start / 1000, p->end - p->start,
			  (p->end - p->start) / 1000);
		hb_esc(e->rows, ex);
		hb_printf(e->rows, "</td><td class=\"n\" data-v=\"%.0f\">%s</td><td>", v, kb);
		if (p->flags & PF_DRIVER)
			hb_puts(e->rows, "driver ");
		if (p->driver >= 0)
			hb_printf(e->rows, "tree #%d ", p->driver);
		if (p->flags & PF_LEFTOVER)
			hb_puts(e->rows, "leftover ");
		if (p->flags & PF_ZOMBIE)
			hb_puts(e->rows, "zombie ");
		if (p->flags & PF_ORPHAN)
			hb_puts(e->rows, "orphan ");
		if (p->flags & PF_FINDING)
			hb_puts(e->rows, "findings ");
		if (p->flags & PF_RUNNING)
			hb_puts(e->rows, "running ");
		hb_puts(e->rows, "</td></tr>\n");
	}
}

/* depth first, children in order of birth, a folded group where its first member was */
static void emit_tree(struct emit *e, long root)
{
	struct model *m = e->m;
	long i = root;
	int depth = 0;

	/* iterative: a chain of 10,000 nested forks must not recurse 10,000 deep */
	while (i >= 0) {
		struct hp *p = &m->p[i];

		if (p->group >= 0) {
			if (!m->g[p->group].shown) {
				m->g[p->group].shown = true;
				emit_bar(e, -1, p->group, depth);
			}
		} else {
			emit_bar(e, i, -1, depth);
			if (p->child >= 0) {
				i = p->child;
				depth++;
				continue;
			}
		}
		while (i != root && m->p[i].next < 0 && m->p[i].parent >= 0) {
			i = m->p[i].parent;
			depth--;
		}
		if (i == root)
			break;
		i = m->p[i].next;
	}
}

static int timeline(struct model *m, cJSON *data, struct hb *rows)
{
	struct emit e = { .m = m, .rows = rows };
	cJSON *tl = cJSON_AddObjectToObject(data, "timeline");
	int pass, err;
	long i;

	for (pass = 1; pass <= 3; pass++) {
		err = fold_pass(m, pass);
		if (err)
			return err;
	}
	e.bars = cJSON_AddArrayToObject(tl, "bars");
	cJSON_AddNumberToObject(tl, "span", round(m->span_ms));
	for (i = 0; i < (long)m->n; i++)
		if (m->p[i].parent < 0)
			emit_tree(&e, i);
	cJSON_AddNumberToObject(tl, "processes", m->n);
	cJSON_AddNumberToObject(tl, "folded", m->folded);
	cJSON_AddNumberToObject(tl, "groups", m->ng);
	cJSON_AddNumberToObject(tl, "dropped", m->dropped);
	return 0;
}

/* ---- memory over time ---- */

struct sum_series {
	const char *name;
	int driver;		/* -1: every process; -2: the processes without a series */
	double v[HTML_GRID][5]; /* rss, file, anon, shmem, swap */
	bool has[HTML_GRID];	/* a process counted in this step */
	bool any;
};

static int proc_driver(struct model *m, uint32_t pid)
{
	struct hp *p = find_proc(m, pid, 1e300);

	return p ? p->driver : -1;
}

static void add_point(cJSON *pts, double t, const struct mem_sample *s)
{
	cJSON *a = cJSON_CreateArray();
	double v[6] = { round(t), s->rss_kb, s->file_kb, s->anon_kb, s->shmem_kb, s->swap_kb };
	int k;

	for (k = 0; k < 6; k++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(v[k]));
	cJSON_AddItemToArray(pts, a);
}

static int cmp_peak(const void *a, const void *b)
{
	const struct mem_proc *x = *(const struct mem_proc *const *)a;
	const struct mem_proc *y = *(const struct mem_proc *const *)b;

	return x->peak_kb < y->peak_kb ? 1 : x->peak_kb > y->peak_kb ? -1 : 0;
}

/*
 * The summed series on a grid: a process counts in each grid step from its first sample to
 * its last, with its latest sample at or before the step's end (so a process whose points
 * were merged still counts between them).
 */
static void sum_into(struct sum_series *s, const struct mem_proc *p, double t0, double step)
{
	size_t k = 0;
	long b, b0, b1;

	if (!p->n)
		return;
	b0 = (long)((p->pts[0].t_ms - t0) / step);
	b1 = (long)((p->pts[p->n - 1].t_ms - t0) / step);
	if (b0 < 0)
		b0 = 0;
	if (b1 >= HTML_GRID)
		b1 = HTML_GRID - 1;
	for (b = b0; b <= b1; b++) {
		const struct mem_sample *x;

		while (k + 1 < p->n && p->pts[k + 1].t_ms - t0 < (b + 1) * step)
			k++;
		x = &p->pts[k];
		s->v[b][0] += x->rss_kb;
		s->v[b][1] += x->file_kb;
		s->v[b][2] += x->anon_kb;
		s->v[b][3] += x->shmem_kb;
		s->v[b][4] += x->swap_kb;
		s->has[b] = s->any = true;
	}
}

static cJSON *series_obj(cJSON *arr, const char *name, const char *kind)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddItemToArray(arr, o);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "kind", kind);
	return cJSON_AddArrayToObject(o, "pts");
}

static int memory(struct model *m, const struct memseries *mem, cJSON *data)
{
	cJSON *mo = cJSON_AddObjectToObject(data, "memory");
	cJSON *arr = cJSON_AddArrayToObject(mo, "series"), *it;
	size_t n = memseries__count(mem), i, top = n < HTML_MAX_SERIES ? n : HTML_MAX_SERIES;
	const struct mem_proc **by = NULL;
	struct sum_series *sums = NULL;
	size_t nsums = 0, scap = 0, k;
	double t0 = m->t0_ms, step, tmax = 0;
	char name[96];
	long b;

	cJSON_AddNumberToObject(mo, "samples", memseries__samples(mem));
	/* the drivers' own timelines (the report's, without kinds), as a series each */
	cJSON_ArrayForEach(it, get(m->report, "drivers")) {
		double dst = memseries__parse_time(str(it, "start_time")) - t0;
		const cJSON *pt;
		cJSON *pts;

		if (!cJSON_GetArraySize(get(it, "memory_timeline")))
			continue;
		snprintf(name, sizeof(name), "%s #%.0f tree (driver checks)",
			 str(it, "kind") ?: "driver", numd(it, "id", 0));
		pts = series_obj(arr, name, "driver");
		cJSON_ArrayForEach(pt, get(it, "memory_timeline")) {
			struct mem_sample s = { .rss_kb = numd(pt, "memory_kb", 0) };

			add_point(pts, dst + numd(pt, "t_s", 0) * 1000, &s);
		}
	}
	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		const struct mem_proc *p = memseries__get(mem, i);

		if (p->n && p->pts[p->n - 1].t_ms > tmax)
			tmax = p->pts[p->n - 1].t_ms;
	}
	if (!t0)
		t0 = memseries__get(mem, 0)->n ? memseries__get(mem, 0)->pts[0].t_ms : 0;
	step = (tmax - t0 > m->span_ms ? tmax - t0 : m->span_ms) / HTML_GRID;
	if (step <= 0)
		step = 1;
	by = calloc(n, sizeof(*by));
	if (!by)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		by[i] = memseries__get(mem, i);
	qsort(by, n, sizeof(*by), cmp_peak);

	/* summed: all processes, each driver tree, the processes without a series of their own */
	if (vec_reserve(sums, scap, 2)) {
		free(by);
		return -ENOMEM;
	}
	memset(sums, 0, 2 * sizeof(*sums));
	sums[0].name = "all traced processes";
	sums[0].driver = -1;
	sums[1].name = NULL;
	sums[1].driver = -2;
	nsums = 2;
	for (i = 0; i < n; i++) {
		int d = proc_driver(m, by[i]->pid);

		sum_into(&sums[0], by[i], t0, step);
		if (i >= top)
			sum_into(&sums[1], by[i], t0, step);
		if (d < 0)
			continue;
		for (k = 2; k < nsums && sums[k].driver != d; k++)
			;
		if (k == nsums) {
			if (nsums >= 34 || vec_reserve(sums, scap, nsums + 1))
				continue;
			memset(&sums[nsums], 0, sizeof(*sums));
			sums[nsums++].driver = d;
		}
		sum_into(&sums[k], by[i], t0, step);
	}
	for (k = 0; k < nsums; k++) {
		cJSON *pts;

		if (!sums[k].any)
			continue;
		if (sums[k].driver >= 0)
			snprintf(name, sizeof(name), "driver #%d tree (samples)", sums[k].driver);
		else if (sums[k].driver == -2)
			snprintf(name, sizeof(name), "%zu other processes", n - top);
		else
			snprintf(name, sizeof(name), "%s", sums[k].name);
		pts = series_obj(arr, name, k == 0 ? "all" : sums[k].driver >= 0 ? "tree" : "other");
		for (b = 0; b < HTML_GRID; b++) {
			struct mem_sample s = { .rss_kb = sums[k].v[b][0], .file_kb = sums[k].v[b][1],
						.anon_kb = sums[k].v[b][2],
						.shmem_kb = sums[k].v[b][3],
						.swap_kb = sums[k].v[b][4] };

			if (!sums[k].has[b])
				continue;
			add_point(pts, b * step, &s);
		}
	}
	/* the processes of highest peak, each with its own points */
	for (i = 0; i < top; i++) {
		cJSON *pts;

		snprintf(name, sizeof(name), "%u %s", by[i]->pid, by[i]->comm);
		pts = series_obj(arr, name, "proc");
		for (k = 0; k < by[i]->n; k++)
			add_point(pts, by[i]->pts[k].t_ms - t0, &by[i]->pts[k]);
	}
	free(sums);
	free(by);
	return 0;
}

/* ---- heap leaks as a flame graph ---- */

/* labels longer than this are cut (at a character boundary) in the flame graph's data */
#define FLAME_LABEL_MAX 160

static void cut_label(char *s)
{
	size_t n = strlen(s);

	if (n <= FLAME_LABEL_MAX)
		return;
	n = FLAME_LABEL_MAX - 3;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	strcpy(s + n, "...");
}

static cJSON *child_named(cJSON *node, const char *name, long *nodes)
{
	cJSON *ch = cJSON_GetObjectItemCaseSensitive(node, "c"), *it;

	if (!ch)
		ch = cJSON_AddArrayToObject(node, "c");
	cJSON_ArrayForEach(it, ch)
		if (!strcmp(cJSON_GetStringValue(get(it, "n")), name))
			return it;
	it = cJSON_CreateObject();
	(*nodes)++;
	cJSON_AddStringToObject(it, "n", name);
	cJSON_AddNumberToObject(it, "v", 0);
	cJSON_AddNumberToObject(it, "b", 0);
	cJSON_AddItemToArray(ch, it);
	return it;
}

static void add_to(cJSON *node, const char *key, double v)
{
	cJSON *n = cJSON_GetObjectItemCaseSensitive(node, key);

	cJSON_SetNumberValue(n, n->valuedouble + v);
}

static int cmp_bytes(const void *a, const void *b)
{
	double x = numd(*(const cJSON *const *)a, "bytes", 0);
	double y = numd(*(const cJSON *const *)b, "bytes", 0);

	return x < y ? 1 : x > y ? -1 : 0;
}

/*
 * Root, then each stack from its outermost frame (main's callers) to the allocating one, so a
 * frame's width is the bytes leaked under it. "v" is a node's own bytes (where stacks end),
 * "b" its blocks, "f" a frame's full file:line and module.
 */
static int flame(const cJSON *report, cJSON *data)
{
	const cJSON *heap = get(get(report, "leaks"), "heap"), *it;
	int n = cJSON_GetArraySize(heap), i, k;
	const cJSON **sorted;
	cJSON *root;
	double other = 0, other_blocks = 0;
	long nodes = 1, others = 0;

	if (!cJSON_IsArray(heap))
		return 0;
	root = cJSON_AddObjectToObject(data, "flame");
	cJSON_AddStringToObject(root, "n", "all heap leaks");
	cJSON_AddNumberToObject(root, "v", 0);
	cJSON_AddNumberToObject(root, "b", 0);
	if (!n)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	i = 0;
	cJSON_ArrayForEach(it, heap)
		sorted[i++] = it;
	qsort(sorted, n, sizeof(*sorted), cmp_bytes);
	for (i = 0; i < n; i++) {
		const cJSON *st = get(sorted[i], "stack");
		double bytes = numd(sorted[i], "bytes", 0), blocks = numd(sorted[i], "count", 0);
		int nf = cJSON_GetArraySize(st);
		cJSON *node = root;
		char label[256];

		add_to(root, "b", blocks);
		if (nf > HTML_MAX_FRAMES)
			nf = HTML_MAX_FRAMES;
		/* past the stacks' or the frames' budget, the smaller leaks are one frame */
		if (i >= HTML_MAX_STACKS || nodes + nf + 1 > HTML_MAX_FLAME_NODES) {
			other += bytes;
			other_blocks += blocks;
			others++;
			continue;
		}
		if (!nf) {
			leak_site(sorted[i], label, sizeof(label));
			cut_label(label);
			node = child_named(node, label, &nodes);
			add_to(node, "b", blocks);
		}
		for (k = nf - 1; k >= 0; k--) {
			const cJSON *f = cJSON_GetArrayItem(st, k);
			const char *file = str(f, "file"), *mod = str(f, "module");
			char full[512];

			frame_label(f, label, sizeof(label));
			cut_label(label);
			node = child_named(node, label, &nodes);
			add_to(node, "b", blocks);
			if (!get(node, "f")) {
				snprintf(full, sizeof(full), "%s:%.0f in %s", file ? file : "?",
					 numd(f, "line", 0), mod ? mod : "?");
				cJSON_AddStringToObject(node, "f", full);
			}
		}
		add_to(node, "v", bytes);
	}
	if (other > 0) {
		char label[64];
		cJSON *node;

		snprintf(label, sizeof(label), "(%ld more leaks)", others);
		node = child_named(root, label, &nodes);
		add_to(node, "v", other);
		add_to(node, "b", other_blocks);
	}
	free(sorted);
	return 0;
}

/* ---- the page ---- */

static void cmdline(struct hb *b, const cJSON *run)
{
	const cJSON *a;
	int i = 0;

	cJSON_ArrayForEach(a, get(run, "command")) {
		if (!cJSON_IsString(a))
			continue;
		if (i++)
			hb_puts(b, " ");
		/* quoted as a shell would need, so the line can be copied */
		if (!*a->valuestring || strpbrk(a->valuestring, " \t'\"\\$`*?;&|<>()")) {
			const char *p;

			hb_puts(b, "'");
			for (p = a->valuestring; *p; p++) {
				char c[2] = { *p, 0 };

				hb_esc(b, *p == '\'' ? "'\\''" : c);
			}
			hb_puts(b, "'");
		} else {
			hb_esc(b, a->valuestring);
		}
	}
}

static void header(struct hb *b, const cJSON *report)
{
	const cJSON *run = get(report, "run"), *v = get(report, "verdict"), *it;
	const cJSON *ev = get(report, "events");
	const cJSON *reasons = get(v, "reasons");
	bool pass = !cJSON_IsFalse(get(v, "pass"));
	double x, y;

	hb_printf(b, "<header id=\"summary\" class=\"%s\">\n<h1>qhtrace: <span id=\"verdict\">"
		     "%s</span></h1>\n",
		  pass ? "pass" : "fail", pass ? "PASS" : "FAIL");
	if (!cJSON_IsObject(v))
		hb_puts(b, "<p class=\"reasons\">No verdict in this report.</p>\n");
	else if (cJSON_GetArraySize(reasons)) {
		hb_puts(b, "<ul id=\"reasons\" class=\"reasons\">\n");
		cJSON_ArrayForEach(it, reasons) {
			hb_puts(b, "<li>");
			hb_esc(b, cJSON_GetStringValue(it));
			hb_puts(b, "</li>\n");
		}
		hb_puts(b, "</ul>\n");
	} else {
		hb_puts(b, "<p id=\"reasons\" class=\"reasons\">");
		if (cJSON_GetArraySize(get(v, "fail_on"))) {
			hb_puts(b, "No findings in the gated classes (");
			cJSON_ArrayForEach(it, get(v, "fail_on")) {
				hb_esc(b, cJSON_GetStringValue(it));
				if (it->next)
					hb_puts(b, ", ");
			}
			hb_puts(b, ") at or above ");
			hb_esc(b, str(v, "severity_floor") ?: "low");
			hb_puts(b, ".</p>\n");
		} else {
			hb_puts(b, "No class is gated (--fail-on): the findings below do not fail "
				   "the run.</p>\n");
		}
	}
	hb_puts(b, "<table class=\"facts\">\n<tr><th>command</th><td><code id=\"command\">");
	if (cJSON_GetArraySize(get(run, "command")))
		cmdline(b, run);
	else if (num(run, "pid", &x))
		hb_printf(b, "pid %.0f", x);
	hb_puts(b, "</code></td></tr>\n<tr><th>mode</th><td>");
	hb_esc(b, str(run, "mode") ?: "?");
	hb_puts(b, "</td></tr>\n<tr><th>started</th><td>");
	hb_esc(b, str(run, "start_time") ?: "?");
	hb_printf(b, "</td></tr>\n<tr><th>duration</th><td>%.2f s</td></tr>\n",
		  numd(run, "duration_s", 0));
	hb_puts(b, "<tr><th>exit</th><td id=\"exit\">");
	if (num(run, "exit_code", &x))
		hb_printf(b, "%.0f", x);
	else if (num(run, "signal", &x))
		hb_printf(b, "signal %.0f", x);
	else
		hb_puts(b, "-");
	hb_puts(b, "</td></tr>\n<tr><th>kernel</th><td>");
	hb_esc(b, str(run, "kernel") ?: "?");
	hb_puts(b, "</td></tr>\n");
	if (num(ev, "received", &x) && num(ev, "lost", &y))
		hb_printf(b, "<tr><th>events</th><td%s>%.0f received, %.0f lost%s</td></tr>\n",
			  y > 0 ? " class=\"sev-high\"" : "", x, y,
			  cJSON_IsTrue(get(ev, "incomplete")) ? ": the report is incomplete" : "");
	hb_printf(b, "<tr><th>processes</th><td>%d</td></tr>\n",
		  cJSON_GetArraySize(get(report, "processes")));
	hb_puts(b, "</table>\n</header>\n");
}

/* leftovers: joined with the cleanup action on the same process */
static const cJSON *action_of(const cJSON *row, const void *ctx)
{
	const cJSON *a;

	cJSON_ArrayForEach(a, get((const cJSON *)ctx, "actions")) {
		const char *s1 = str(a, "start_time"), *s2 = str(row, "start_time");

		if (numd(a, "pid", -1) == numd(row, "pid", -2) && (!s1 || !s2 || !strcmp(s1, s2)))
			return a;
	}
	return NULL;
}

static void col_cleanup(const cJSON *row, const void *ctx, char *buf, size_t len)
{
	const cJSON *a = action_of(row, ctx);
	const char *sig, *err;

	if (!ctx) {
		snprintf(buf, len, "no --cleanup");
		return;
	}
	if (!a) {
		snprintf(buf, len, "not attempted");
		return;
	}
	sig = str(a, "signal");
	err = str(a, "error");
	snprintf(buf, len, "%s, %.0f signal%s%s%s%s%s", sig ? sig : "no signal (gone before)",
		 numd(a, "attempts", 0), numd(a, "attempts", 0) == 1 ? "" : "s",
		 cJSON_IsTrue(get(a, "verified")) ? ", verified gone" : ", NOT verified gone",
		 cJSON_IsTrue(get(a, "reaped")) ? ", reaped" : "", err ? ": " : "",
		 err ? err : "");
}

static void col_site(const cJSON *row, const void *ctx, char *buf, size_t len)
{
	(void)ctx;
	leak_site(row, buf, len);
}

static const struct col heap_cols[] = {
	{ "severity", "severity", C_SEV, NULL }, { "bytes", "bytes", C_BYTES, NULL },
	{ "count", "blocks", C_NUM, NULL },      { "pid", "pid", C_NUM, NULL },
	{ "comm", "comm", C_ANY, NULL },	   { "kind", "kind", C_ANY, NULL },
	{ "site", "allocated at", C_ANY, col_site },
	{ "oldest_age_s", "oldest", C_SEC, NULL },
	{ "growth_bytes_per_s", "growth B/s", C_NUM, NULL },
	{ "process_exited", "exited", C_ANY, NULL },
	{ "test", "test", C_ANY, NULL },
};

static const struct col fd_cols[] = {
	{ "severity", "severity", C_SEV, NULL }, { "pid", "pid", C_NUM, NULL },	  { "comm", "comm", C_ANY, NULL },
	{ "kind", "kind", C_ANY, NULL },	   { "target", "target", C_ANY, NULL }, { "state", "state", C_ANY, NULL },
	{ "count", "count", C_NUM, NULL },	   { "baseline", "baseline", C_NUM, NULL },
	{ "growth_per_s", "growth/s", C_NUM, NULL }, { "reason", "reason", C_ANY, NULL },
	{ "site", "opened by", C_ANY, NULL },	   { "test", "test", C_ANY, NULL },
};

static const struct col driver_cols[] = {
	{ "id", "#", C_NUM, NULL },
	{ "kind", "driver", C_ANY, NULL },
	{ "pid", "pid", C_NUM, NULL },
	{ "lifetime_s", "lifetime", C_SEC, NULL },
	{ "process_count", "processes", C_NUM, NULL },
	{ "peak_alive_count", "peak alive", C_NUM, NULL },
	{ "alive_count", "alive", C_NUM, NULL },
	{ "peak_memory_kb", "peak memory", C_KB, NULL },
	{ "peak_shmem_kb", "peak shmem", C_KB, NULL },
	{ "peak_dev_shm_kb", "peak /dev/shm", C_KB, NULL },
	{ "ended_cleanly", "ended cleanly", C_ANY, NULL },
	{ "survivors", "survivors", C_ANY, NULL },
};

static const struct col zombie_cols[] = {
	{ "pid", "pid", C_NUM, NULL },	      { "comm", "comm", C_ANY, NULL },
	{ "parent_pid", "parent", C_NUM, NULL },    { "parent_comm", "parent comm", C_ANY, NULL },
	{ "zombie_for_s", "zombie for", C_SEC, NULL }, { "reaped", "reaped", C_ANY, NULL },
	{ "driver", "driver", C_NUM, NULL },
};

static const struct col orphan_cols[] = {
	{ "pid", "pid", C_NUM, NULL },	  { "comm", "comm", C_ANY, NULL },
	{ "old_ppid", "old parent", C_NUM, NULL }, { "new_ppid", "new parent", C_NUM, NULL },
	{ "new_parent_comm", "new parent comm", C_ANY, NULL }, { "driver", "driver", C_NUM, NULL },
};

static const struct col leftover_cols[] = {
	{ "pid", "pid", C_NUM, NULL },
	{ "comm", "comm", C_ANY, NULL },
	{ "reason", "reason", C_ANY, NULL },
	{ "driver", "driver", C_NUM, NULL },
	{ "age_s", "age", C_SEC, NULL },
	{ "cleanup", "cleanup (proof)", C_ANY, col_cleanup },
};

static const struct col alert_cols[] = {
	{ "time", "time", C_ANY, NULL },	     { "kind", "kind", C_ANY, NULL },
	{ "severity", "severity", C_SEV, NULL }, { "message", "message", C_ANY, NULL },
	{ "value", "value", C_NUM, NULL },	     { "threshold", "threshold", C_NUM, NULL },
};

static const struct col test_cols[] = {
	{ "name", "test", C_ANY, NULL },	   { "outcome", "outcome", C_ANY, NULL },
	{ "duration_s", "duration", C_SEC, NULL }, { "severity", "severity", C_SEV, NULL },
};

#define NCOLS(c) (sizeof(c) / sizeof((c)[0]))

static void findings_section(struct hb *b, const char *id, const char *title, const cJSON *arr,
			     const struct col *cols, size_t ncols, const char *empty,
			     const void *ctx)
{
	char tid[64];

	if (!cJSON_IsArray(arr))
		return;
	snprintf(tid, sizeof(tid), "t-%s", id);
	section(b, id, title, cJSON_GetArraySize(arr));
	if (!cJSON_GetArraySize(arr))
		none(b, empty);
	else
		table(b, tid, arr, cols, ncols, true, ctx);
	hb_puts(b, "</section>\n");
}

static void asset(struct hb *b, const char *start, const char *end)
{
	hb_put(b, start, end - start);
}

int html__render(const cJSON *report, const struct memseries *mem, char **out, size_t *len)
{
	const cJSON *leaks = get(report, "leaks"), *cleanup = get(report, "cleanup");
	struct model m = {};
	struct hb b = {}, rows = {};
	cJSON *data = cJSON_CreateObject();
	char *json = NULL, tbuf[64];
	int err;
	bool pass = !cJSON_IsFalse(get(get(report, "verdict"), "pass"));

	*out = NULL;
	*len = 0;
	if (!data)
		return -ENOMEM;
	err = model_build(&m, report) ?: timeline(&m, data, &rows) ?: memory(&m, mem, data) ?:
	      flame(report, data);
	if (err)
		goto out;

	hb_puts(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n"
		    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		    "<meta name=\"generator\" content=\"qhtrace " QH_VERSION "\">\n<title>qhtrace ");
	hb_puts(&b, pass ? "PASS" : "FAIL");
	hb_puts(&b, ": ");
	{
		char title[124] = "";
		const cJSON *a;
		size_t k = 0;

		/* the command, plain, cut at 120 bytes, then escaped */
		cJSON_ArrayForEach(a, get(get(report, "run"), "command"))
			if (cJSON_IsString(a) && k < sizeof(title) - 4)
				k += snprintf(title + k, sizeof(title) - 4 - k, "%s%s", k ? " " : "",
					      a->valuestring);
		if (k >= sizeof(title) - 5)
			strcpy(title + sizeof(title) - 5, "...");
		hb_esc(&b, title);
	}
	hb_puts(&b, "</title>\n<style>\n");
	asset(&b, qh_asset_html_css, qh_asset_html_css_end);
	hb_puts(&b, "</style></head>\n<body>\n");
	header(&b, report);
	hb_puts(&b, "<nav><a href=\"#timeline\">timeline</a> <a href=\"#memory\">memory</a> "
		    "<a href=\"#heap\">heap leaks</a> <a href=\"#fds\">fds</a> "
		    "<a href=\"#drivers\">drivers</a> <a href=\"#leftovers\">leftovers</a> "
		    "<a href=\"#alerts\">alerts</a></nav>\n");

	/* the timeline, with its rows as a table for readers without JavaScript */
	section(&b, "timeline", "Processes", (int)m.n);
	hb_printf(&b, "<p class=\"note\" id=\"timeline-note\">%zu processes in %ld bars", m.n,
		  m.bars);
	if (m.folded)
		hb_printf(&b, "; %ld short-lived or unremarkable leaf processes folded into %zu "
			      "bar%s (one per parent and name)", m.folded, m.ng, m.ng == 1 ? "" : "s");
	if (m.dropped)
		hb_printf(&b, "; %ld more not shown (past %d bars)", m.dropped, HTML_MAX_BARS);
	hb_printf(&b, ". Scroll or drag on the chart to zoom and pan; double-click to reset."
		      "</p>\n<div id=\"timeline-chart\" class=\"chart\" data-bars=\"%ld\"></div>\n",
		  m.bars);
	hb_puts(&b, "<details><summary>as a table</summary>\n<table class=\"sortable\" "
		    "id=\"t-processes\"><thead><tr><th>comm</th><th>pid</th><th>start (s)</th>"
		    "<th>lifetime (s)</th><th>exit</th><th>peak RSS</th><th>marks</th></tr>"
		    "</thead><tbody>\n");
	hb_put(&b, rows.s ? rows.s : "", rows.n);
	hb_puts(&b, "</tbody></table></details>\n</section>\n");

	section(&b, "memory", "Memory over time", -1);
	hb_printf(&b, "<p class=\"note\">RSS by kind (file, anon, shmem) from %s monitoring "
		      "samples (every monitoring_interval), summed per driver tree and for all "
		      "processes; the %d processes of highest peak each have their own series.",
		  snprintf(tbuf, sizeof(tbuf), "%lu", (unsigned long)memseries__samples(mem)) > 0
			  ? tbuf
			  : "0",
		  HTML_MAX_SERIES);
	if (!memseries__samples(mem))
		hb_puts(&b, " This page was made without samples: give the event log "
			    "(<code>--events</code>) to <code>qhtrace report --html</code>.");
	hb_puts(&b, "</p>\n<div id=\"memory-chart\" class=\"chart\"></div>\n</section>\n");

	if (cJSON_IsArray(get(leaks, "heap"))) {
		section(&b, "heap", "Heap leaks", cJSON_GetArraySize(get(leaks, "heap")));
		if (!cJSON_GetArraySize(get(leaks, "heap"))) {
			none(&b, "No heap leaks.");
		} else {
			hb_puts(&b, "<p class=\"note\">Bytes outstanding by call stack, callers "
				    "above callees. Click a frame to zoom, the top bar to zoom "
				    "out.</p>\n<div id=\"flame-chart\" class=\"chart\"></div>\n");
			table(&b, "t-heap", get(leaks, "heap"), heap_cols, NCOLS(heap_cols), true,
			      NULL);
		}
		hb_puts(&b, "</section>\n");
	} else {
		section(&b, "heap", "Heap leaks", -1);
		none(&b, "The heap was not followed (no --heap).");
		hb_puts(&b, "</section>\n");
	}
	if (cJSON_IsArray(get(leaks, "fds")) || cJSON_IsArray(get(leaks, "sockets"))) {
		hb_puts(&b, "<div id=\"fds\"></div>\n");
		findings_section(&b, "fd-leaks", "File descriptors", get(leaks, "fds"), fd_cols,
				 NCOLS(fd_cols), "No fd findings.", NULL);
		findings_section(&b, "sockets", "Sockets", get(leaks, "sockets"), fd_cols,
				 NCOLS(fd_cols), "No socket findings.", NULL);
	} else {
		section(&b, "fds", "File descriptors", -1);
		none(&b, "fds were not followed (--no-fds).");
		hb_puts(&b, "</section>\n");
	}
	findings_section(&b, "drivers", "WebDriver trees", get(report, "drivers"), driver_cols,
			 NCOLS(driver_cols), "No WebDriver ran.", NULL);
	findings_section(&b, "zombies", "Zombies", get(report, "zombies"), zombie_cols,
			 NCOLS(zombie_cols), "No zombies.", NULL);
	findings_section(&b, "orphans", "Orphans", get(report, "orphans"), orphan_cols,
			 NCOLS(orphan_cols), "No orphans.", NULL);
	findings_section(&b, "leftovers", "Leftovers", get(report, "leftovers"), leftover_cols,
			 NCOLS(leftover_cols), "No leftovers.",
			 cJSON_IsObject(cleanup) ? cleanup : NULL);
	if (cJSON_IsObject(cleanup))
		hb_printf(&b, "<p class=\"note\" id=\"cleanup\">cleanup: %.0f attempted, %.0f "
			      "verified gone, %.0f failed</p>\n",
			  numd(cleanup, "attempted", 0), numd(cleanup, "succeeded", 0),
			  numd(cleanup, "failed", 0));
	findings_section(&b, "alerts", "Alerts", get(report, "alerts"), alert_cols,
			 NCOLS(alert_cols), "No alerts.", NULL);
	findings_section(&b, "tests", "Tests", get(report, "tests"), test_cols, NCOLS(test_cols),
			 "No tests.", NULL);

	json = cJSON_PrintUnformatted(data);
	if (!json) {
		err = -ENOMEM;
		goto out;
	}
	hb_puts(&b, "<footer>Made by qhtrace " QH_VERSION " from its JSON report.</footer>\n"
		    "<script type=\"application/json\" id=\"qh-data\">");
	hb_json(&b, json);
	hb_puts(&b, "</script>\n<!-- D3 (d3js.org), from Debian's node-d3 package; its "
		    "copyright and license:\n");
	asset(&b, qh_asset_d3_license, qh_asset_d3_license_end);
	hb_puts(&b, "-->\n<script>\n");
	asset(&b, qh_asset_d3_js, qh_asset_d3_js_end);
	hb_puts(&b, "\n</script>\n<script>\n");
	asset(&b, qh_asset_html_js, qh_asset_html_js_end);
	hb_puts(&b, "</script>\n</body></html>\n");
	err = b.err ?: rows.err;
out:
	free(json);
	free(rows.s);
	cJSON_Delete(data);
	htab__free(&m.bypid);
	htab__free(&m.groups);
	free(m.p);
	free(m.g);
	if (err) {
		free(b.s);
		return err;
	}
	*out = b.s;
	*len = b.n;
	return 0;
}

int html__write(const char *path, const cJSON *report, const struct memseries *mem)
{
	size_t len;
	char *s;
	int err = html__render(report, mem, &s, &len);

	if (err)
		return err;
	err = util__write_file_atomic(path, s, len);
	free(s);
	return err;
}
