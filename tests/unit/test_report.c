// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The report (contract qhtrace/report/v1) of a hand-built process model, parsed back with
 * cJSON; the atomic write of the report file; the summary table.
 */
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <cmocka.h>

#include "proctree.h"
#include "report.h"
#include "util.h"

#define SEC 1000000000ULL

struct fixture {
	struct proctree *t;
	struct run_info ri;
	uint64_t start0; /* boot ns of the first process */
	char dir[64];	 /* a private temporary directory */
	char *json;
	cJSON *root;
};

static char *cmd_argv[] = { "sh", "-c", "exit 7", NULL };

/*
 * Four processes, one per way a process ends up in a report:
 *   1000 sh     exited 7, rss from pages, heap and mmap counters
 *   1001 victim killed by SIGKILL, reaped
 *   1002 sleeper still running: no end time, no exit code; RSS below its base
 *   1003 zombie exited 0, not reaped
 */
static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct proc *p;

	if (!fx)
		return -1;
	fx->t = proctree__new();
	if (!fx->t)
		return -1;
	fx->start0 = util__now_ns(CLOCK_BOOTTIME) - 2 * SEC;

	p = proctree__add(fx->t, 1000, fx->start0);
	p->ppid = 999;
	snprintf(p->comm, sizeof(p->comm), "sh");
	proctree__set_exe(p, "/usr/bin/dash");
	p->state = PROC_EXITED;
	p->end_ns = fx->start0 + 1500000000ULL;
	p->has_exit = true;
	p->exit_status = 7 << 8;
	p->stats.rss_pages[MM_FILEPAGES] = 100;
	p->stats.rss_pages[MM_ANONPAGES] = 16384;
	p->stats.rss_pages[MM_SHMEMPAGES] = 0;
	p->stats.rss_pages[MM_SWAPENTS] = 3;
	p->stats.base_rss_pages = 50;
	p->stats.peak_rss_pages = 20000;
	p->stats.heap_bytes = 3 << 20;
	p->stats.mmap_anon_bytes = 8 << 20;
	p->stats.mmap_file_bytes = 4096;
	p->stats.threads_peak = 4;

	p = proctree__add(fx->t, 1001, fx->start0 + SEC / 10);
	p->ppid = 1000;
	snprintf(p->comm, sizeof(p->comm), "victim");
	p->state = PROC_REAPED;
	p->end_ns = fx->start0 + SEC / 5;
	p->has_exit = true;
	p->exit_status = 9;
	p->stats.rss_pages[MM_ANONPAGES] = 10;
	p->stats.threads_peak = 1;

	p = proctree__add(fx->t, 1002, fx->start0 + SEC / 2);
	p->ppid = 1000;
	snprintf(p->comm, sizeof(p->comm), "sleeper");
	p->state = PROC_RUNNING;
	p->stats.rss_pages[MM_FILEPAGES] = 6;
	p->stats.rss_pages[MM_ANONPAGES] = 4;
	p->stats.base_rss_pages = 20;
	p->stats.peak_rss_pages = 5; /* below rss: the report never says peak < current */
	p->stats.threads_peak = 2;

	p = proctree__add(fx->t, 1003, fx->start0 + SEC);
	p->ppid = 1000;
	snprintf(p->comm, sizeof(p->comm), "zombie");
	p->state = PROC_ZOMBIE;
	p->end_ns = fx->start0 + SEC + SEC / 4;
	p->has_exit = true;
	p->exit_status = 0;

	fx->ri.mode = "attach";
	fx->ri.argv = cmd_argv;
	fx->ri.argc = 3;
	fx->ri.start_real_ns = 1700000000123456789ULL;
	fx->ri.duration_s = 1.5;
	fx->ri.exit_code = 7;
	fx->ri.kernel = "6.1.0-test";
	fx->ri.events_received = 42;
	fx->ri.page_size = 4096;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	DIR *d;

	if (fx->dir[0]) {
		d = opendir(fx->dir);
		while (d && (de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				unlinkat(dirfd(d), de->d_name, 0);
		if (d)
			closedir(d);
		rmdir(fx->dir);
	}
	cJSON_Delete(fx->root);
	free(fx->json);
	proctree__free(fx->t);
	free(fx);
	return 0;
}

static void make_dir(struct fixture *fx)
{
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/qh-test-report-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
}

static cJSON *parse_report(struct fixture *fx)
{
	fx->json = report__json(fx->t, &fx->ri);
	assert_non_null(fx->json);
	fx->root = cJSON_Parse(fx->json);
	assert_non_null(fx->root);
	return fx->root;
}

static const cJSON *get(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!v)
		fail_msg("no \"%s\" in the report", key);
	return v;
}

static void assert_num(const cJSON *o, const char *key, double want)
{
	const cJSON *v = get(o, key);

	if (!cJSON_IsNumber(v))
		fail_msg("\"%s\" is not a number", key);
	if (v->valuedouble != want)
		fail_msg("\"%s\" is %.17g, expected %.17g", key, v->valuedouble, want);
}

static void assert_null_item(const cJSON *o, const char *key)
{
	if (!cJSON_IsNull(get(o, key)))
		fail_msg("\"%s\" is not null", key);
}

static void assert_str(const cJSON *o, const char *key, const char *want)
{
	const cJSON *v = get(o, key);

	if (!cJSON_IsString(v))
		fail_msg("\"%s\" is not a string", key);
	assert_string_equal(v->valuestring, want);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" -> ms since the epoch */
static int64_t rfc3339_ms(const char *s)
{
	regex_t re;
	struct tm tm = {};
	int ms, rc;

	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
				      "\\.[0-9]{3}Z$", REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&re, s, 0, NULL, 0);
	regfree(&re);
	if (rc)
		fail_msg("'%s' is not RFC 3339 UTC with milliseconds", s);
	assert_int_equal(sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
				&tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms), 7);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

static const cJSON *proc_n(const cJSON *root, int i)
{
	const cJSON *procs = get(root, "processes");
	const cJSON *p = cJSON_GetArrayItem(procs, i);

	assert_non_null(p);
	return p;
}

static void test_json_run(void **state)
{
	struct fixture *fx = *state;
	const cJSON *root = parse_report(fx), *run, *cmd;

	assert_str(root, "schema", "qhtrace/report/v1");
	assert_str(root, "version", QH_VERSION);
	run = get(root, "run");
	assert_str(run, "mode", "attach");
	cmd = get(run, "command");
	assert_true(cJSON_IsArray(cmd));
	assert_int_equal(cJSON_GetArraySize(cmd), 3);
	assert_string_equal(cJSON_GetArrayItem(cmd, 0)->valuestring, "sh");
	assert_string_equal(cJSON_GetArrayItem(cmd, 1)->valuestring, "-c");
	assert_string_equal(cJSON_GetArrayItem(cmd, 2)->valuestring, "exit 7");
	assert_str(run, "start_time", "2023-11-14T22:13:20.123Z");
	assert_num(run, "duration_s", 1.5);
	assert_num(run, "exit_code", 7);
	assert_str(run, "kernel", "6.1.0-test");
	assert_int_equal(cJSON_GetArraySize(get(root, "processes")), 4);
}

static void test_json_run_exit_unknown(void **state)
{
	struct fixture *fx = *state;

	fx->ri.exit_code = -1;
	assert_null_item(get(parse_report(fx), "run"), "exit_code");
}

static void test_json_events_complete(void **state)
{
	struct fixture *fx = *state;
	const cJSON *ev, *by;

	fx->ri.stats[QH_STAT_RSS_EVENTS] = 77; /* counted, but not losses */
	fx->ri.stats[QH_STAT_SYSCALLS] = 55;
	ev = get(parse_report(fx), "events");
	assert_num(ev, "received", 42);
	assert_num(ev, "lost", 0);
	assert_true(cJSON_IsFalse(get(ev, "incomplete")));
	assert_num(ev, "unannounced_processes", 0);
	assert_num(ev, "rss_updates", 77);
	assert_num(ev, "memory_syscalls", 55);
	by = get(ev, "lost_by_reason");
	assert_int_equal(cJSON_GetArraySize(by), QH_STAT_LOST_MAX);
	assert_num(by, "ringbuf_full", 0);
	assert_num(by, "procs_map_full", 0);
	assert_num(by, "mm_map_full", 0);
	assert_num(by, "mem_call_state_failed", 0);
}

static void test_json_events_lost(void **state)
{
	struct fixture *fx = *state;
	const cJSON *ev, *by;

	fx->ri.stats[QH_STAT_RB_RESERVE_FAILED] = 2;
	fx->ri.stats[QH_STAT_CALLS_FULL] = 3;
	fx->ri.stats[QH_STAT_RSS_EVENTS] = 1000;
	assert_int_equal(report__lost(&fx->ri), 5);
	ev = get(parse_report(fx), "events");
	assert_num(ev, "lost", 5);
	assert_true(cJSON_IsTrue(get(ev, "incomplete")));
	by = get(ev, "lost_by_reason");
	assert_num(by, "ringbuf_full", 2);
	assert_num(by, "procs_map_full", 0);
	assert_num(by, "mem_call_state_failed", 3);
}

static void test_json_events_orphans(void **state)
{
	struct fixture *fx = *state;
	const cJSON *ev;

	/* no kernel loss, but a fork record never came: incomplete all the same */
	fx->ri.orphan_events = 2;
	ev = get(parse_report(fx), "events");
	assert_num(ev, "lost", 0);
	assert_num(ev, "unannounced_processes", 2);
	assert_true(cJSON_IsTrue(get(ev, "incomplete")));
}

static void test_json_exited_process(void **state)
{
	struct fixture *fx = *state;
	const cJSON *p = proc_n(parse_report(fx), 0);
	int64_t start, end;

	assert_num(p, "pid", 1000);
	assert_num(p, "ppid", 999);
	assert_str(p, "comm", "sh");
	assert_str(p, "exe", "/usr/bin/dash");
	assert_str(p, "state", "exited");
	assert_num(p, "exit_code", 7);
	assert_null_item(p, "signal");
	assert_num(p, "lifetime_s", 1.5);
	assert_num(p, "rss_kb", (100 + 16384 + 0) * 4);
	assert_num(p, "peak_rss_kb", 20000 * 4);
	assert_num(p, "rss_growth_kb", (16484 - 50) * 4);
	assert_num(p, "rss_file_kb", 400);
	assert_num(p, "rss_anon_kb", 65536);
	assert_num(p, "rss_shmem_kb", 0);
	assert_num(p, "swap_kb", 12);
	assert_num(p, "heap_kb", 3072);
	assert_num(p, "mmap_anon_kb", 8192);
	assert_num(p, "mmap_file_kb", 4);
	assert_num(p, "threads_peak", 4);

	/* boot times become wall-clock times: 2 s ago, and 1.5 s later */
	start = rfc3339_ms(get(p, "start_time")->valuestring);
	end = rfc3339_ms(get(p, "end_time")->valuestring);
	assert_int_equal(end - start, 1500);
	assert_in_range(util__now_ns(CLOCK_REALTIME) / 1000000 - start, 1900, 2100);
}

static void test_json_killed_process(void **state)
{
	struct fixture *fx = *state;
	const cJSON *p = proc_n(parse_report(fx), 1);

	assert_num(p, "pid", 1001);
	assert_num(p, "ppid", 1000);
	assert_str(p, "state", "reaped");
	assert_num(p, "signal", 9);
	assert_null_item(p, "exit_code");
	assert_null_item(p, "exe");
	assert_num(p, "rss_kb", 40);
	assert_num(p, "peak_rss_kb", 40);
	assert_num(p, "rss_growth_kb", 40);
	assert_num(p, "lifetime_s", 0.1);
}

static void test_json_running_process(void **state)
{
	struct fixture *fx = *state;
	const cJSON *p = proc_n(parse_report(fx), 2);
	const cJSON *life;

	assert_num(p, "pid", 1002);
	assert_str(p, "state", "running");
	rfc3339_ms(get(p, "start_time")->valuestring);
	assert_null_item(p, "end_time");
	assert_null_item(p, "exit_code");
	assert_null_item(p, "signal");
	assert_num(p, "rss_kb", 40);
	assert_num(p, "peak_rss_kb", 40);
	assert_num(p, "rss_growth_kb", -40);
	assert_num(p, "threads_peak", 2);
	/* lifetime so far: started 1.5 s ago */
	life = get(p, "lifetime_s");
	assert_true(life->valuedouble > 1.4 && life->valuedouble < 10);
}

static void test_json_zombie_process(void **state)
{
	struct fixture *fx = *state;
	const cJSON *p = proc_n(parse_report(fx), 3);

	assert_num(p, "pid", 1003);
	assert_str(p, "state", "zombie");
	assert_num(p, "exit_code", 0); /* 0 is an exit code, not "none" */
	assert_null_item(p, "signal");
	assert_num(p, "lifetime_s", 0.25);
	assert_num(p, "rss_kb", 0);
}

static void test_figures_page_size(void **state)
{
	struct fixture *fx = *state;
	struct proc_figures f;
	struct proc *p = proctree__first(fx->t);

	fx->ri.page_size = 16384; /* arm64 with 16k pages */
	report__figures(p, &fx->ri, 0, &f);
	assert_int_equal(f.rss_kb, 16484 * 16);
	assert_int_equal(f.peak_rss_kb, 20000 * 16);
	assert_int_equal(f.rss_growth_kb, (16484 - 50) * 16);
	assert_int_equal(f.heap_kb, 3072);
	assert_int_equal(f.mmap_anon_kb, 8192);
	assert_int_equal(f.exit_code, 7);
	assert_int_equal(f.signal, 0);
}

static void test_stat_names(void **state)
{
	(void)state;
	assert_string_equal(report__stat_name(QH_STAT_RB_RESERVE_FAILED), "ringbuf_full");
	assert_string_equal(report__stat_name(QH_STAT_PROCS_FULL), "procs_map_full");
	assert_string_equal(report__stat_name(QH_STAT_MMS_FULL), "mm_map_full");
	assert_string_equal(report__stat_name(QH_STAT_CALLS_FULL), "mem_call_state_failed");
	assert_string_equal(report__stat_name(QH_STAT_RSS_EVENTS), "rss_events");
	assert_string_equal(report__stat_name(QH_STAT_SYSCALLS), "memory_syscalls");
	assert_string_equal(report__stat_name(-1), "unknown");
	assert_string_equal(report__stat_name(QH_STAT_MAX), "unknown");
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc(n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), n);
	buf[n] = '\0';
	fclose(f);
	*len = n;
	return buf;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_write(void **state)
{
	struct fixture *fx = *state;
	char path[128];
	struct stat st;
	size_t len;
	char *text;
	cJSON *root;

	make_dir(fx);
	snprintf(path, sizeof(path), "%s/report.json", fx->dir);
	assert_int_equal(report__write(path, fx->t, &fx->ri), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0644);

	text = read_all(path, &len);
	assert_true(len > 2);
	assert_int_equal(text[len - 1], '\n');
	assert_int_not_equal(text[len - 2], '\n');
	assert_int_equal(strlen(text), len);
	root = cJSON_Parse(text);
	assert_non_null(root);
	assert_string_equal(cJSON_GetObjectItem(root, "schema")->valuestring, QH_REPORT_SCHEMA);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "processes")), 4);
	cJSON_Delete(root);
	free(text);
	/* the temporary file was renamed into place, nothing else is left */
	assert_int_equal(count_entries(fx->dir), 1);

	/* a second run replaces the report */
	fx->ri.events_received = 4242;
	assert_int_equal(report__write(path, fx->t, &fx->ri), 0);
	text = read_all(path, &len);
	root = cJSON_Parse(text);
	assert_non_null(root);
	assert_int_equal(
		cJSON_GetObjectItem(cJSON_GetObjectItem(root, "events"), "received")->valueint,
		4242);
	cJSON_Delete(root);
	free(text);
	assert_int_equal(count_entries(fx->dir), 1);
}

static void test_write_missing_dir(void **state)
{
	struct fixture *fx = *state;
	char path[128];

	make_dir(fx);
	snprintf(path, sizeof(path), "%s/missing/report.json", fx->dir);
	assert_int_equal(report__write(path, fx->t, &fx->ri), -ENOENT);
	assert_int_equal(count_entries(fx->dir), 0);
}

/* The summary table as text; caller frees. */
static char *summary(struct fixture *fx)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	report__summary(f, fx->t, &fx->ri);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not found in:\n%s", needle, hay);
}

static void test_summary(void **state)
{
	struct fixture *fx = *state;
	char *s = summary(fx), line[128];

	assert_contains(s, "\nqhtrace: 4 processes traced in 1.50s\n");
	assert_contains(s, "     PID     PPID COMM               LIFETIME  PEAK RSS RSS GROWTH"
			   " EXIT\n");
	/* blank, title, header, one line per process, events */
	assert_int_equal(count_lines(s), 3 + 4 + 1);
	snprintf(line, sizeof(line), "%8u %8u %-16s %10s %9s %10s %s\n", 1000, 999, "sh", "1.50s",
		 "78.1M", "64.2M", "7");
	assert_contains(s, line);
	snprintf(line, sizeof(line), "%8u %8u %-16s %10s %9s %10s %s\n", 1001, 1000, "victim",
		 "100.0ms", "40K", "40K", "SIGKILL");
	assert_contains(s, line);
	assert_contains(s, "    1002     1000 sleeper ");
	assert_contains(s, "       40K       -40K running\n");
	snprintf(line, sizeof(line), "%8u %8u %-16s %10s %9s %10s %s\n", 1003, 1000, "zombie",
		 "250.0ms", "0K", "0K", "0 zombie");
	assert_contains(s, line);
	assert_contains(s, "\nevents: 42 received, 0 lost\n");
	assert_null(strstr(s, "incomplete"));
	free(s);
}

static void test_summary_lost(void **state)
{
	struct fixture *fx = *state;
	char *s;

	fx->ri.stats[QH_STAT_RB_RESERVE_FAILED] = 2;
	fx->ri.stats[QH_STAT_PROCS_FULL] = 3;
	fx->ri.stats[QH_STAT_RSS_EVENTS] = 1000;
	s = summary(fx);
	assert_contains(s, "\nevents: 42 received, 5 lost (ringbuf_full 2, procs_map_full 3)"
			   " -- the report is incomplete\n");
	free(s);

	/* a loss of a later kind only: the list starts with it */
	fx->ri.stats[QH_STAT_RB_RESERVE_FAILED] = 0;
	s = summary(fx);
	assert_contains(s, "\nevents: 42 received, 3 lost (procs_map_full 3)"
			   " -- the report is incomplete\n");
	free(s);
}

static void test_summary_lifetimes(void **state)
{
	struct fixture *fx = *state;
	struct proctree *t = proctree__new();
	static const struct {
		uint64_t ns;
		const char *want;
	} cases[] = {
		{ 250000000ULL, "250.0ms" },	{ 1500000000ULL, "1.50s" },
		{ 119 * SEC, "119.00s" },	{ 120 * SEC, "2m00s" },
		{ 150 * SEC, "2m30s" },		{ 180 * SEC, "3m00s" },
		{ 179600000000ULL, "3m00s" },	{ 3599 * SEC, "59m59s" },
	};
	char line[128], *s;
	struct proc *p;
	size_t i;

	assert_non_null(t);
	proctree__free(fx->t);
	fx->t = t;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = proctree__add(t, 10 + i, fx->start0);
		snprintf(p->comm, sizeof(p->comm), "p%zu", i);
		p->state = PROC_REAPED;
		p->end_ns = fx->start0 + cases[i].ns;
		p->has_exit = true;
	}
	s = summary(fx);
	assert_contains(s, "\nqhtrace: 8 processes traced in 1.50s\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "%8zu %8u p%-15zu %10s ", 10 + i, 0, i,
			 cases[i].want);
		assert_contains(s, line);
	}
	free(s);
}

static void test_summary_one_process(void **state)
{
	struct fixture *fx = *state;
	struct proctree *t = proctree__new();
	char *s;

	assert_non_null(t);
	proctree__free(fx->t);
	fx->t = t;
	proctree__add(t, 5, fx->start0);
	s = summary(fx);
	assert_contains(s, "\nqhtrace: 1 process traced in 1.50s\n");
	assert_int_equal(count_lines(s), 3 + 1 + 1);
	free(s);
}

static void test_summary_top_rows(void **state)
{
	struct fixture *fx = *state;
	struct proctree *t = proctree__new();
	int n = 50, i;
	char line[128], *s;
	struct proc *p;

	assert_non_null(t);
	proctree__free(fx->t);
	fx->t = t;
	/* a long run: 30 renderers of up to 300 MiB, a test runner of 2 MiB, 19 small others
	 * named apart: grouped by command, the largest first, capped */
	for (i = 1; i <= n; i++) {
		p = proctree__add(t, 100 + i, fx->start0 + i);
		if (i <= 30)
			snprintf(p->comm, sizeof(p->comm), "chromium");
		else if (i == 31)
			snprintf(p->comm, sizeof(p->comm), "pytest");
		else
			snprintf(p->comm, sizeof(p->comm), "w%d", i);
		p->stats.peak_rss_pages = i <= 30 ? i * 2560 : i == 31 ? 512 : i;
	}
	s = summary(fx);
	/* blank, title, header; 21 commands capped, "and N more", events */
	assert_int_equal(count_lines(s), 3 + QH_SUMMARY_GROUP_ROWS + 1 + 1);
	snprintf(line, sizeof(line), "\n%6d %-16s", 30, "chromium");
	assert_contains(s, line);
	snprintf(line, sizeof(line), "\n%6d %-16s", 1, "pytest");
	assert_contains(s, line);
	assert_true(strstr(s, "chromium") < strstr(s, "pytest"));
	/* the smaller ones: one each */
	snprintf(line, sizeof(line), "%6d and %d more commands, smaller (see report)",
		 2 + (n - 31) - QH_SUMMARY_GROUP_ROWS, 2 + (n - 31) - QH_SUMMARY_GROUP_ROWS);
	assert_contains(s, line);
	/* the largest renderer's peak: 300 MiB */
	assert_contains(s, "300.0M");
	free(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_json_run),
		T(test_json_run_exit_unknown),
		T(test_json_events_complete),
		T(test_json_events_lost),
		T(test_json_events_orphans),
		T(test_json_exited_process),
		T(test_json_killed_process),
		T(test_json_running_process),
		T(test_json_zombie_process),
		T(test_figures_page_size),
		cmocka_unit_test(test_stat_names),
		T(test_write),
		T(test_write_missing_dir),
		T(test_summary),
		T(test_summary_lost),
		T(test_summary_lifetimes),
		T(test_summary_one_process),
		T(test_summary_top_rows),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
