// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The HTML report's structure: escaping of text from traced processes (in the tables, the
 * title and the JSON block the charts read), the timeline's folding of short-lived processes,
 * the memory series' downsampling (peaks kept), the flame graph's tree, and the size bound on
 * a huge synthetic run.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "html.h"
#include "memseries.h"

#define T0 "2026-01-01T00:00:00.000Z"
#define T0_MS 1767225600000ULL

static void iso(char *buf, size_t len, uint64_t ms)
{
	time_t t = ms / 1000;
	struct tm tm;

	gmtime_r(&t, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);

	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ms % 1000));
}

static cJSON *report_new(double duration_s)
{
	cJSON *r = cJSON_CreateObject(), *run, *v, *cmd;

	cJSON_AddStringToObject(r, "schema", "qhtrace/report/v1");
	run = cJSON_AddObjectToObject(r, "run");
	cJSON_AddStringToObject(run, "mode", "attach");
	cmd = cJSON_AddArrayToObject(run, "command");
	cJSON_AddItemToArray(cmd, cJSON_CreateString("./t"));
	cJSON_AddStringToObject(run, "start_time", T0);
	cJSON_AddNumberToObject(run, "duration_s", duration_s);
	cJSON_AddNumberToObject(run, "exit_code", 0);
	v = cJSON_AddObjectToObject(r, "verdict");
	cJSON_AddBoolToObject(v, "pass", true);
	cJSON_AddArrayToObject(v, "reasons");
	cJSON_AddArrayToObject(r, "processes");
	return r;
}

static cJSON *add_proc(cJSON *r, unsigned pid, unsigned ppid, const char *comm, uint64_t s_ms,
		       uint64_t e_ms)
{
	cJSON *p = cJSON_CreateObject();
	char b[64];

	cJSON_AddNumberToObject(p, "pid", pid);
	cJSON_AddNumberToObject(p, "ppid", ppid);
	cJSON_AddStringToObject(p, "comm", comm);
	iso(b, sizeof(b), T0_MS + s_ms);
	cJSON_AddStringToObject(p, "start_time", b);
	iso(b, sizeof(b), T0_MS + e_ms);
	cJSON_AddStringToObject(p, "end_time", b);
	cJSON_AddStringToObject(p, "state", "reaped");
	cJSON_AddNumberToObject(p, "exit_code", 0);
	cJSON_AddNullToObject(p, "signal");
	cJSON_AddNumberToObject(p, "peak_rss_kb", 1000 + pid);
	cJSON_AddItemToArray(cJSON_GetObjectItem(r, "processes"), p);
	return p;
}

static char *render(const cJSON *r, const struct memseries *m, size_t *len)
{
	char *s = NULL;
	size_t l;

	assert_int_equal(html__render(r, m, &s, &l), 0);
	assert_non_null(s);
	assert_int_equal(strlen(s), l);
	if (len)
		*len = l;
	return s;
}

/* the JSON block the charts read, parsed back */
static cJSON *data_of(const char *page)
{
	const char *a = strstr(page, "id=\"qh-data\">"), *b;
	cJSON *d;

	assert_non_null(a);
	a += strlen("id=\"qh-data\">");
	b = strstr(a, "</script>");
	assert_non_null(b);
	d = cJSON_ParseWithLength(a, b - a);
	assert_non_null(d);
	return d;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)); hay++)
		n++;
	return n;
}

static void test_escape(void **state)
{
	char *s = html__escape("<b a=\"x\">&'\x01\x7f");

	(void)state;
	assert_string_equal(s, "&lt;b a=&quot;x&quot;&gt;&amp;&#39;\\x01\\x7f");
	free(s);
	s = html__escape("caf\xc3\xa9");
	assert_string_equal(s, "caf\xc3\xa9"); /* UTF-8 passes through */
	free(s);
}

/* comm, argv and a leak's frame names from a hostile process never become markup */
static void test_hostile_text(void **state)
{
	const char *evil = "</script><img src=x onerror=alert(1)>\xe2\x80\xa8<!--";
	cJSON *r = report_new(1), *leaks, *heap, *leak, *st, *f, *d, *bars;
	char *page;

	(void)state;
	cJSON_AddItemToArray(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "run"), "command"),
			     cJSON_CreateString(evil));
	add_proc(r, 10, 1, evil, 0, 500);
	leaks = cJSON_AddObjectToObject(r, "leaks");
	heap = cJSON_AddArrayToObject(leaks, "heap");
	leak = cJSON_CreateObject();
	cJSON_AddNumberToObject(leak, "pid", 10);
	cJSON_AddStringToObject(leak, "comm", evil);
	cJSON_AddNumberToObject(leak, "bytes", 4096);
	cJSON_AddNumberToObject(leak, "count", 1);
	cJSON_AddStringToObject(leak, "severity", "low\"><script>");
	st = cJSON_AddArrayToObject(leak, "stack");
	f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "symbol", evil);
	cJSON_AddStringToObject(f, "file", "/src/<x>.c");
	cJSON_AddNumberToObject(f, "line", 7);
	cJSON_AddItemToArray(st, f);
	cJSON_AddItemToArray(heap, leak);
	page = render(r, NULL, NULL);
	assert_null(strstr(page, "<img"));
	assert_null(strstr(page, "<script>\"") );
	assert_non_null(strstr(page, "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"));
	/* the only "</script" are the three script elements' own ends */
	assert_int_equal(count(page, "</script"), 3);
	assert_int_equal(count(page, "<script"), 3);
	/* the JSON block holds no raw U+2028 (a line end to older script parsers) */
	assert_null(strstr(strstr(page, "id=\"qh-data\""), "\xe2\x80\xa8"));
	/* and the charts still get the text as it was */
	d = data_of(page);
	bars = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "timeline"), "bars");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(bars, 0), "l")->valuestring,
			    evil);
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
							       cJSON_GetObjectItem(d, "flame"), "c"),
						       0),
				    "n")->valuestring,
		"</script><img src=x onerror=alert(1)>\xe2\x80\xa8<!-- (<x>.c:7)");
	cJSON_Delete(d);
	free(page);
	cJSON_Delete(r);
}

static int nbars(const char *page)
{
	cJSON *d = data_of(page);
	int n = cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "timeline"), "bars"));
	char attr[64];

	snprintf(attr, sizeof(attr), "data-bars=\"%d\"", n);
	assert_non_null(strstr(page, attr));
	cJSON_Delete(d);
	return n;
}

/* few processes: a bar each, nested as the tree (depth), none folded */
static void test_timeline_tree(void **state)
{
	cJSON *r = report_new(2), *d, *bars;
	char *page;
	int i;

	(void)state;
	add_proc(r, 100, 1, "root", 0, 2000);
	add_proc(r, 101, 100, "child", 10, 1500);
	add_proc(r, 102, 101, "grandchild", 20, 30);
	add_proc(r, 103, 100, "child2", 40, 50);
	page = render(r, NULL, NULL);
	assert_int_equal(nbars(page), 4);
	d = data_of(page);
	bars = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "timeline"), "bars");
	for (i = 0; i < 4; i++) {
		static const int depth[] = { 0, 1, 2, 1 };
		static const char *const label[] = { "root", "child", "grandchild", "child2" };
		cJSON *b = cJSON_GetArrayItem(bars, i);

		assert_int_equal(cJSON_GetObjectItem(b, "d")->valueint, depth[i]);
		assert_string_equal(cJSON_GetObjectItem(b, "l")->valuestring, label[i]);
	}
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(bars, 2), "s")->valueint, 20);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(bars, 2), "e")->valueint, 30);
	cJSON_Delete(d);
	free(page);
	cJSON_Delete(r);
}

/*
 * 10,000 short-lived children of one parent, one of them a leftover and 20 long-lived: the
 * short ones of a name fold into one bar, the leftover and the long-lived stay bars
 */
static void test_fold(void **state)
{
	cJSON *r = report_new(3600), *lo, *d, *bars, *b;
	char *page;
	int i, folded = 0, single = 0;

	(void)state;
	add_proc(r, 2, 1, "make", 0, 3600000);
	for (i = 0; i < 10000; i++)
		add_proc(r, 1000 + i, 2, i % 2 ? "cc1" : "as", i * 300, i * 300 + 50);
	for (i = 0; i < 20; i++)
		add_proc(r, 50000 + i, 2, "cc1", 1000, 3000000);
	lo = cJSON_AddArrayToObject(r, "leftovers");
	b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "pid", 1500);
	cJSON_AddStringToObject(b, "reason", "outlived_command");
	cJSON_AddItemToArray(lo, b);
	page = render(r, NULL, NULL);
	/* make, cc1 x N, as x N, the leftover, 20 long-lived cc1 */
	assert_int_equal(nbars(page), 1 + 2 + 1 + 20);
	d = data_of(page);
	bars = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "timeline"), "bars");
	cJSON_ArrayForEach(b, bars) {
		if (cJSON_GetObjectItem(b, "n")) {
			folded += cJSON_GetObjectItem(b, "n")->valueint;
			assert_int_equal(cJSON_GetObjectItem(b, "d")->valueint, 1);
		} else if (cJSON_GetObjectItem(b, "p")->valueint == 1500) {
			assert_true(cJSON_GetObjectItem(b, "f")->valueint & 1); /* PF_LEFTOVER */
			single++;
		}
	}
	assert_int_equal(folded, 9999);
	assert_int_equal(single, 1);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "timeline"), "folded")->valueint,
			 9999);
	assert_non_null(strstr(page, "10021 processes in 24 bars; 9999 short-lived"));
	cJSON_Delete(d);
	free(page);
	cJSON_Delete(r);
}

static void test_memseries_downsample(void **state)
{
	struct memseries *m = memseries__new(8);
	const struct mem_proc *p;
	struct mem_sample s = {};
	uint64_t i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		s.t_ms = T0_MS + i * 1000;
		s.rss_kb = i == 777 ? 999999 : 100 + i;
		assert_int_equal(memseries__add(m, 42, "w", &s), 0);
	}
	assert_int_equal(memseries__count(m), 1);
	p = memseries__get(m, 0);
	assert_true(p->n <= 8 && p->n >= 4);
	assert_int_equal(memseries__points(m), p->n);
	assert_int_equal(memseries__samples(m), 1000);
	assert_int_equal(p->peak_kb, 999999);
	/* 1000 samples in at most 8 points: each stands for 128 (a power of two) */
	assert_int_equal(p->stride, 128);
	for (i = 0; i < p->n; i++)
		if (p->pts[i].rss_kb == 999999)
			break;
	assert_true(i < p->n); /* the peak was not averaged or dropped away */
	assert_int_equal(p->pts[i].t_ms, T0_MS + 777000);
	for (i = 1; i < p->n; i++)
		assert_true(p->pts[i].t_ms > p->pts[i - 1].t_ms);
	assert_int_equal(memseries__parse_time(T0), T0_MS);
	assert_int_equal(memseries__parse_time("2026-01-01T00:00:01.5Z"), T0_MS + 1500);
	assert_int_equal(memseries__parse_time("yesterday"), 0);
	memseries__free(m);
}

/* sums on the grid: two processes' samples add up, per driver tree too */
static void test_memory_series(void **state)
{
	struct memseries *m = memseries__new(HTML_SERIES_POINTS);
	cJSON *r = report_new(10), *d, *series, *s, *p;
	struct mem_sample x = {};
	char *page;
	int i;

	(void)state;
	p = add_proc(r, 7, 1, "chromedriver", 0, 10000);
	cJSON_AddNumberToObject(p, "driver", 1);
	add_proc(r, 8, 1, "other", 0, 10000);
	for (i = 0; i < 10; i++) {
		x.t_ms = T0_MS + i * 1000;
		x.rss_kb = x.anon_kb = 1000;
		memseries__add(m, 7, "chromedriver", &x);
		x.rss_kb = x.anon_kb = 500;
		memseries__add(m, 8, "other", &x);
	}
	page = render(r, m, NULL);
	d = data_of(page);
	series = cJSON_GetObjectItem(cJSON_GetObjectItem(d, "memory"), "series");
	s = cJSON_GetArrayItem(series, 0);
	assert_string_equal(cJSON_GetObjectItem(s, "name")->valuestring, "all traced processes");
	cJSON_ArrayForEach(p, cJSON_GetObjectItem(s, "pts")) {
		assert_int_equal(cJSON_GetArrayItem(p, 1)->valueint, 1500);
		assert_int_equal(cJSON_GetArrayItem(p, 3)->valueint, 1500); /* anon */
	}
	/* every grid step (10 s / HTML_GRID) from the first sample to the last */
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(s, "pts")), 9000 / 50 + 1);
	s = cJSON_GetArrayItem(series, 1);
	assert_string_equal(cJSON_GetObjectItem(s, "name")->valuestring, "driver #1 tree (samples)");
	assert_int_equal(cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "pts"), 0),
					    1)->valueint, 1000);
	/* then each process, highest peak first */
	s = cJSON_GetArrayItem(series, 2);
	assert_string_equal(cJSON_GetObjectItem(s, "name")->valuestring, "7 chromedriver");
	assert_int_equal(cJSON_GetArraySize(series), 4);
	cJSON_Delete(d);
	free(page);
	cJSON_Delete(r);
	memseries__free(m);
}

/* the flame graph: stacks merged by frame, outermost first, sizes in bytes */
static void test_flame(void **state)
{
	cJSON *r = report_new(1), *heap, *d, *fl, *c;
	const char *frames[][3] = { { "leaf_a", "main", NULL }, { "leaf_b", "main", NULL },
				    { "leaf_c", "other_root", NULL } };
	const double bytes[] = { 1000, 3000, 500 };
	char *page;
	int i, k;

	(void)state;
	heap = cJSON_AddArrayToObject(cJSON_AddObjectToObject(r, "leaks"), "heap");
	for (i = 0; i < 3; i++) {
		cJSON *l = cJSON_CreateObject(), *st = cJSON_AddArrayToObject(l, "stack");

		cJSON_AddNumberToObject(l, "bytes", bytes[i]);
		cJSON_AddNumberToObject(l, "count", 1);
		for (k = 0; frames[i][k]; k++) {
			cJSON *f = cJSON_CreateObject();

			cJSON_AddStringToObject(f, "symbol", frames[i][k]);
			cJSON_AddStringToObject(f, "file", "/src/x.c");
			cJSON_AddNumberToObject(f, "line", 10 + k);
			cJSON_AddItemToArray(st, f);
		}
		cJSON_AddItemToArray(heap, l);
	}
	page = render(r, NULL, NULL);
	d = data_of(page);
	fl = cJSON_GetObjectItem(d, "flame");
	c = cJSON_GetObjectItem(fl, "c");
	assert_int_equal(cJSON_GetArraySize(c), 2);
	/* biggest leak first: main (x.c:11) holds leaf_b and leaf_a */
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "n")->valuestring,
			    "main (x.c:11)");
	c = cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "c");
	assert_int_equal(cJSON_GetArraySize(c), 2);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "n")->valuestring,
			    "leaf_b (x.c:10)");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "v")->valueint, 3000);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "f")->valuestring,
			    "/src/x.c:10 in ?");
	assert_non_null(strstr(page, "<td>leaf_b (x.c:10)</td>"));
	cJSON_Delete(d);
	free(page);
	cJSON_Delete(r);
}

/* a report with nothing but its schema, and one with empty arrays, both make a page */
static void test_sparse_reports(void **state)
{
	cJSON *r = cJSON_CreateObject(), *leaks;
	char *page;

	(void)state;
	page = render(r, NULL, NULL);
	assert_non_null(strstr(page, "No verdict in this report."));
	free(page);
	cJSON_Delete(r);
	r = report_new(1);
	leaks = cJSON_AddObjectToObject(r, "leaks");
	cJSON_AddArrayToObject(leaks, "heap");
	cJSON_AddArrayToObject(leaks, "fds");
	cJSON_AddArrayToObject(leaks, "sockets");
	cJSON_AddArrayToObject(r, "zombies");
	cJSON_AddArrayToObject(r, "leftovers");
	cJSON_AddArrayToObject(r, "alerts");
	page = render(r, NULL, NULL);
	assert_non_null(strstr(page, "<span id=\"verdict\">PASS</span>"));
	assert_non_null(strstr(page, "No heap leaks."));
	assert_non_null(strstr(page, "No zombies."));
	assert_null(strstr(page, "id=\"tests\"")); /* no tests array: no section */
	free(page);
	cJSON_Delete(r);
}

/*
 * The bound: an hour of 50,000 processes of distinct names (so only folding by parent helps),
 * 5,000 leaks of 64-frame stacks with long names, 5,000 fd findings, 10,000 processes with a
 * memory sample every 5 s: under 5 MB.
 */
static void test_size_bound(void **state)
{
	struct memseries *m = memseries__new(HTML_SERIES_POINTS);
	cJSON *r = report_new(3600), *heap, *fds, *leaks;
	char name[300], *page;
	struct mem_sample x = {};
	size_t len;
	int i, k;

	(void)state;
	add_proc(r, 2, 1, "runner", 0, 3600000);
	for (i = 0; i < 50000; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		add_proc(r, 100 + i, 2 + (i % 40 ? 0 : 0), name, i * 70, i * 70 + 5000);
	}
	leaks = cJSON_AddObjectToObject(r, "leaks");
	heap = cJSON_AddArrayToObject(leaks, "heap");
	fds = cJSON_AddArrayToObject(leaks, "fds");
	memset(name, 'x', 250);
	name[250] = 0;
	for (i = 0; i < 5000; i++) {
		cJSON *l = cJSON_CreateObject(), *st = cJSON_AddArrayToObject(l, "stack");

		cJSON_AddNumberToObject(l, "pid", 100 + i);
		cJSON_AddStringToObject(l, "comm", "w");
		cJSON_AddNumberToObject(l, "bytes", 1000 + i);
		cJSON_AddNumberToObject(l, "count", 1);
		cJSON_AddStringToObject(l, "severity", "low");
		for (k = 0; k < 64; k++) {
			cJSON *f = cJSON_CreateObject();
			char sym[320];

			snprintf(sym, sizeof(sym), "%s_%d_%d", name, i, k);
			cJSON_AddStringToObject(f, "symbol", sym);
			cJSON_AddStringToObject(f, "file", "/very/long/path/to/source.c");
			cJSON_AddNumberToObject(f, "line", k);
			cJSON_AddItemToArray(st, f);
		}
		cJSON_AddItemToArray(heap, l);
		l = cJSON_CreateObject();
		cJSON_AddNumberToObject(l, "pid", 100 + i);
		cJSON_AddStringToObject(l, "target", name);
		cJSON_AddNumberToObject(l, "count", 3);
		cJSON_AddItemToArray(fds, l);
	}
	for (i = 0; i < 10000; i++)
		for (k = 0; k < 720; k += 1 + (i > 16) * 100) {
			x.t_ms = T0_MS + k * 5000ULL;
			x.rss_kb = x.anon_kb = 1000 + i + k;
			memseries__add(m, 100 + i, "w", &x);
		}
	page = render(r, m, &len);
	print_message("size bound: %zu bytes\n", len);
	assert_true(len < 5 * 1000 * 1000);
	assert_int_equal(nbars(page), HTML_MAX_BARS);
	assert_non_null(strstr(page, "4000 more rows are in the JSON report."));
	free(page);
	cJSON_Delete(r);
	memseries__free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_hostile_text),
		cmocka_unit_test(test_timeline_tree),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_memseries_downsample),
		cmocka_unit_test(test_memory_series),
		cmocka_unit_test(test_flame),
		cmocka_unit_test(test_sparse_reports),
		cmocka_unit_test(test_size_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
