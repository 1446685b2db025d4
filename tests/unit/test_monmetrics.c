// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * monmetrics: the monitor's families rendered from data, rows found by name and bounded,
 * qhtrace's own process figures.
 *
 * The binary has two more modes, for the end-to-end tests (tests/e2e/test_metrics.py): with
 * the data of a busy CI node (node_data below),
 *	test_monmetrics --print		the exposition on stdout (for promtool check metrics)
 *	test_monmetrics --serve ADDR	served on ADDR by httpd until SIGTERM; the first line on
 *					stdout is "listening on HOST:PORT"
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "httpd.h"
#include "monmetrics.h"
#include "sbuf.h"
#include "util.h"

#define MiB (1024ULL * 1024)

/* A CI node: two jobs running, a browser tree left behind by one, git zombies piling up. */
static void node_data(struct mon_metrics *m)
{
	static const struct {
		const char *name;
		uint64_t alive, zombies, fds, sockets, anon, file, shmem;
	} groups[] = {
		{ "chrome", 14, 0, 412, 38, 812 * MiB, 190 * MiB, 240 * MiB },
		{ "chromedriver", 2, 0, 24, 6, 9 * MiB, 11 * MiB, 0 },
		{ "git", 1, 37, 7, 0, 3 * MiB, 5 * MiB, 0 },
		{ "python3", 6, 1, 96, 12, 220 * MiB, 48 * MiB, 0 },
		{ "Runner.Worker", 2, 0, 150, 20, 120 * MiB, 60 * MiB, 0 },
		/* a comm that needs escaping, as a traced process may choose */
		{ "evil\"\\\ncomm", 1, 0, 3, 0, 1 * MiB, 1 * MiB, 0 },
	};
	struct mon_job_kind *k;
	struct mon_browser *b;
	size_t i;

	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		struct mon_group *g = monmetrics__group(m, groups[i].name);

		g->alive = groups[i].alive;
		g->zombies = groups[i].zombies;
		g->fds = groups[i].fds;
		g->sockets = groups[i].sockets;
		g->rss_anon_bytes = groups[i].anon;
		g->rss_file_bytes = groups[i].file;
		g->rss_shmem_bytes = groups[i].shmem;
	}
	k = monmetrics__job_kind(m, "github");
	k->running = 2;
	k->finished_total = 41;
	k->leftovers_found_total = 12;
	k = monmetrics__job_kind(m, "gitlab");
	k->finished_total = 7;
	monmetrics__leftover(m, "chrome", "github")->alive = 9;
	monmetrics__leftover(m, "chromedriver", "github")->alive = 1;
	monmetrics__driver(m, "chromedriver")->alive = 2;
	b = monmetrics__browser(m, "chrome");
	b->alive = 14;
	b->outlived_driver = 9;
	monmetrics__lost(m, "ringbuf_full")->total = 0;
	monmetrics__lost(m, "map_full")->total = 3;
	m->processes_started_total = 123456;
	m->webdriver_tree_rss_bytes = 1100 * MiB;
	m->cleanup_total[MON_CLEANUP_TERMINATED] = 12;
	m->cleanup_total[MON_CLEANUP_KILLED] = 3;
	m->cleanup_total[MON_CLEANUP_REFUSED] = 1;
}

static char *render(const struct mon_metrics *m)
{
	struct sbuf b = {};

	assert_int_equal(monmetrics__render(m, &b), 0);
	return b.s;
}

static void has(const char *text, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (!strstr(text, want))
		fail_msg("no line '%s' in:\n%s", line, text);
}

static void test_render(void **state)
{
	struct mon_metrics m = {};
	char *t;

	(void)state;
	node_data(&m);
	t = render(&m);
	has(t, "# TYPE qhtrace_processes gauge");
	has(t, "qhtrace_processes{group=\"chrome\",state=\"alive\"} 14");
	has(t, "qhtrace_processes{group=\"git\",state=\"zombie\"} 37");
	has(t, "qhtrace_zombies{group=\"git\"} 37");
	has(t, "qhtrace_zombies{group=\"evil\\\"\\\\\\ncomm\"} 0");
	has(t, "qhtrace_open_fds{group=\"python3\"} 96");
	has(t, "qhtrace_open_sockets{group=\"chrome\"} 38");
	has(t, "qhtrace_memory_rss_bytes{group=\"chrome\",kind=\"shmem\"} 251658240");
	has(t, "qhtrace_memory_rss_bytes{group=\"chrome\",kind=\"anon\"} 851443712");
	has(t, "# TYPE qhtrace_processes_started_total counter");
	has(t, "qhtrace_processes_started_total 123456");
	has(t, "qhtrace_leftover_processes{group=\"chrome\",job_kind=\"github\"} 9");
	has(t, "qhtrace_leftovers_found_total{job_kind=\"github\"} 12");
	has(t, "qhtrace_jobs_running{job_kind=\"github\"} 2");
	has(t, "qhtrace_jobs_finished_total{job_kind=\"gitlab\"} 7");
	has(t, "qhtrace_webdriver_drivers{kind=\"chromedriver\"} 2");
	has(t, "qhtrace_webdriver_browsers{kind=\"chrome\"} 14");
	has(t, "qhtrace_webdriver_leftover_browsers{kind=\"chrome\"} 9");
	has(t, "qhtrace_webdriver_tree_rss_bytes 1153433600");
	has(t, "qhtrace_events_lost_total{reason=\"map_full\"} 3");
	has(t, "qhtrace_cleanup_total{result=\"terminated\"} 12");
	has(t, "qhtrace_cleanup_total{result=\"failed\"} 0");
	has(t, "qhtrace_build_info{version=\"" QH_VERSION "\"} 1");
	assert_non_null(strstr(t, "\nqhtrace_scrape_duration_seconds "));
	/* not read: qhtrace's own figures are left out, not written as zeros */
	assert_null(strstr(t, "process_"));
	free(t);
	monmetrics__free(&m);
}

/* the structure: each family once with HELP and TYPE, each sample of a declared family */
static void test_well_formed(void **state)
{
	struct mon_metrics m = {};
	char *t, *line, *save;
	char fam[128] = "";
	int helps = 0, types = 0, samples = 0;

	(void)state;
	node_data(&m);
	assert_int_equal(monmetrics__read_self(&m.self), 0);
	t = render(&m);
	for (line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[128];

		if (!strncmp(line, "# HELP ", 7)) {
			sscanf(line + 7, "%127s", fam);
			helps++;
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			sscanf(line + 7, "%127s", name);
			assert_string_equal(name, fam);
			assert_true(strstr(line, " gauge") || strstr(line, " counter"));
			types++;
			continue;
		}
		assert_int_not_equal(line[0], '#');
		sscanf(line, "%127[^{ ]", name);
		assert_string_equal(name, fam);
		/* bounded labels only */
		assert_null(strstr(line, "pid="));
		assert_null(strstr(line, "job_id="));
		samples++;
	}
	assert_int_equal(helps, types);
	assert_int_equal(helps, 24);
	assert_true(samples > 60);
	free(t);

	/* nothing seen yet: every family still declared, a valid page */
	monmetrics__reset(&m);
	t = render(&m);
	has(t, "# TYPE qhtrace_leftover_processes gauge");
	has(t, "qhtrace_cleanup_total{result=\"refused\"} 0");
	has(t, "qhtrace_processes_started_total 0");
	assert_null(strstr(t, "\nqhtrace_zombies{"));
	free(t);
	monmetrics__free(&m);
}

static void test_rows(void **state)
{
	struct mon_metrics m = { .max_rows = 3 };
	struct mon_group *a, *g;
	char name[200];
	int i;

	(void)state;
	a = monmetrics__group(&m, "bash");
	a->alive = 1;
	assert_ptr_equal(monmetrics__group(&m, "bash"), a);
	assert_int_equal(m.ngroups, 1);
	assert_ptr_not_equal(monmetrics__leftover(&m, "a", "github"),
			     monmetrics__leftover(&m, "a", "gitlab"));
	assert_ptr_equal(monmetrics__leftover(&m, "a", "gitlab"),
			 monmetrics__leftover(&m, "a", "gitlab"));
	assert_int_equal(m.nleftovers, 2);
	/* past the bound, every new name is "other" */
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "comm%d", i);
		monmetrics__group(&m, name)->alive++;
	}
	assert_int_equal(m.ngroups, 4);
	g = monmetrics__group(&m, "other");
	assert_string_equal(g->name, MON_OTHER);
	assert_int_equal(g->alive, 8);
	assert_int_equal(monmetrics__group(&m, "comm0")->alive, 1);
	assert_int_equal(monmetrics__group(&m, "bash")->alive, 1);
	assert_int_equal(m.ngroups, 4);
	/* a long name is cut, and found again by its whole */
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	monmetrics__reset(&m);
	assert_int_equal(m.max_rows, 3);
	assert_int_equal(m.ngroups, 0);
	g = monmetrics__group(&m, name);
	assert_int_equal(strlen(g->name), MON_LABEL_MAX - 1);
	assert_ptr_equal(monmetrics__group(&m, name), g);
	assert_string_equal(mon_cleanup_result__str(MON_CLEANUP_KILLED), "killed");
	monmetrics__free(&m);
	monmetrics__free(NULL);
}

static void test_self(void **state)
{
	struct mon_self s, s2;
	struct mon_metrics m = {};
	int p[2];
	double now = util__now_ns(CLOCK_REALTIME) / 1e9;
	volatile double x = 0;
	char *t;
	int i;

	(void)state;
	assert_int_equal(monmetrics__read_self(&s), 0);
	assert_true(s.valid);
	assert_true(s.resident_bytes > 100 * 1024);
	assert_true(s.virtual_bytes >= s.resident_bytes);
	assert_true(s.start_time_seconds <= now + 1 && s.start_time_seconds > now - 3600);
	assert_true(s.max_fds > 0);
	/* two more fds: counted exactly */
	assert_int_equal(pipe(p), 0);
	for (i = 0; i < 20000000; i++)
		x += i;
	assert_int_equal(monmetrics__read_self(&s2), 0);
	assert_int_equal(s2.open_fds, s.open_fds + 2);
	assert_true(s2.cpu_seconds > s.cpu_seconds);
	close(p[0]);
	close(p[1]);
	m.self = s2;
	t = render(&m);
	has(t, "# TYPE process_cpu_seconds_total counter");
	assert_non_null(strstr(t, "\nprocess_resident_memory_bytes "));
	assert_non_null(strstr(t, "\nprocess_start_time_seconds "));
	assert_non_null(strstr(t, "\nprocess_open_fds "));
	free(t);
}

/* --- the modes of the end-to-end tests ------------------------------------------------------ */

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int serve_render(void *ctx, struct sbuf *out)
{
	struct mon_metrics *m = ctx;

	m->scrape_start_ns = util__now_ns(CLOCK_MONOTONIC);
	if (monmetrics__read_self(&m->self))
		m->self.valid = false;
	return monmetrics__render(m, out);
}

static int mode(int argc, char **argv)
{
	struct mon_metrics m = {};
	struct sigaction sa = { .sa_handler = on_signal };
	struct httpd *h;
	struct sbuf b = {};
	int err;

	node_data(&m);
	if (!strcmp(argv[1], "--print") && argc == 2) {
		monmetrics__read_self(&m.self);
		err = monmetrics__render(&m, &b);
		if (!err)
			fwrite(b.s, 1, b.n, stdout);
		sbuf__free(&b);
		monmetrics__free(&m);
		return err ? 1 : 0;
	}
	if (strcmp(argv[1], "--serve") || argc != 3) {
		fprintf(stderr, "usage: %s [--print | --serve ADDR]\n", argv[0]);
		return 2;
	}
	if (httpd__open(&h, argv[2], serve_render, &m))
		return 1;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("listening on %s\n", httpd__addr(h));
	fflush(stdout);
	while (!stop) {
		struct pollfd p = { .fd = httpd__fd(h), .events = POLLIN };

		if (poll(&p, 1, 200) > 0)
			httpd__process(h);
	}
	httpd__close(h);
	monmetrics__free(&m);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_well_formed),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_self),
	};

	if (argc > 1)
		return mode(argc, argv);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
