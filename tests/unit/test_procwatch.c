// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Driver instances from synthetic ring buffer records: which exec starts an instance, which
 * descendants join it, when it ends, its memory (sum of the live tree's RSS, shmem apart),
 * the memory alert, the bounded timeline, and the report's parts. Pids are above any real
 * one, so /proc never knows them.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "alerts.h"
#include "config.h"
#include "log.h"
#include "procwatch.h"
#include "proctree.h"

#define PID0 4000000U
#define T0 1000000000000ULL

static void feed_fork(struct proctree *t, struct procwatch *w, uint32_t pid, uint32_t ppid,
		      const char *comm)
{
	struct qh_event_fork e = {};

	e.hdr.type = QH_EV_FORK;
	e.hdr.pid = pid;
	e.hdr.start_ns = T0 + pid;
	e.hdr.ts_ns = T0 + pid;
	e.proc.start_ns = T0 + pid;
	e.proc.ppid = ppid;
	snprintf((char *)e.comm, sizeof(e.comm), "%s", comm);
	proctree__handle_event(t, &e, sizeof(e));
	procwatch__handle_event(w, t, &e, sizeof(e));
}

static void feed_exec(struct proctree *t, struct procwatch *w, uint32_t pid, const char *file)
{
	struct qh_event_exec e = {};
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;

	e.hdr.type = QH_EV_EXEC;
	e.hdr.pid = pid;
	e.hdr.start_ns = T0 + pid;
	e.hdr.ts_ns = T0 + pid + 10;
	snprintf((char *)e.comm, sizeof(e.comm), "%s", base);
	snprintf((char *)e.filename, sizeof(e.filename), "%s", file);
	proctree__handle_event(t, &e, sizeof(e));
	procwatch__handle_event(w, t, &e, sizeof(e));
}

static void feed_exit(struct proctree *t, struct procwatch *w, uint32_t pid)
{
	struct qh_event_exit e = {};
	struct proc *p = proctree__find(t, pid, T0 + pid);

	e.hdr.type = QH_EV_EXIT;
	e.hdr.pid = pid;
	e.hdr.start_ns = T0 + pid;
	e.hdr.ts_ns = T0 + pid + 1000;
	e.proc = p->stats;
	e.proc.ppid = p->ppid;
	memcpy(e.comm, p->comm, sizeof(e.comm));
	proctree__handle_event(t, &e, sizeof(e));
	procwatch__handle_event(w, t, &e, sizeof(e));
}

/* every live process: 1000 file, 2000 anon and 500 shmem pages */
static int fake_rss(void *ctx, const struct proc *p, uint64_t pages[QH_NR_RSS])
{
	(void)ctx;
	(void)p;
	pages[MM_FILEPAGES] = 1000;
	pages[MM_ANONPAGES] = 2000;
	pages[MM_SWAPENTS] = 7;
	pages[MM_SHMEMPAGES] = 500;
	return 0;
}

/* PSS of every live process (kB), as the test sets it; USS is 60% of it */
static uint64_t fake_pss_kb = 5 * 1024;

static int fake_pss(void *ctx, const struct proc *p, uint64_t *pss, uint64_t *uss)
{
	(void)ctx;
	(void)p;
	*pss = fake_pss_kb;
	*uss = fake_pss_kb * 6 / 10;
	return 0;
}

struct fx {
	struct proctree *t;
	struct procwatch *w;
	struct alerts *a;
};

static int setup(void **state)
{
	static struct fx f;
	struct procwatch_opts o;

	log__set_level(QH_LOG_ERR); /* the alert's warning */
	procwatch_opts__defaults(&o);
	o.memory_threshold_mb = 30;
	o.max_resource_lifetime_s = 0; /* T0 is long ago: every process would be too old */
	assert_int_equal(procwatch_opts__add_pattern(&o, "my*drv"), 0);
	f.t = proctree__new();
	f.w = procwatch__new(&o, fake_rss, NULL);
	f.a = alerts__new(&(struct alerts_opts){ .quiet = true });
	assert_non_null(f.a);
	procwatch__set_alerts(f.w, f.a);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	procwatch__free(f->w);
	alerts__free(f->a);
	proctree__free(f->t);
	return 0;
}

static void test_instance_membership(void **state)
{
	struct fx *f = *state;
	const struct driver_inst *const *d;
	struct proc **out;
	size_t n;

	/* python3 (PID0) runs chromedriver (+1), which starts the browser (+2) and a renderer
	 * (+3); python also starts chromium apart (+4), and a driver matched by a pattern (+5) */
	feed_fork(f->t, f->w, PID0, 1, "python3");
	feed_fork(f->t, f->w, PID0 + 1, PID0, "python3");
	feed_exec(f->t, f->w, PID0 + 1, "/usr/bin/chromedriver");
	feed_fork(f->t, f->w, PID0 + 2, PID0 + 1, "chromedriver");
	feed_exec(f->t, f->w, PID0 + 2, "/usr/lib/chromium/chromium");
	feed_fork(f->t, f->w, PID0 + 3, PID0 + 2, "chromium");
	feed_fork(f->t, f->w, PID0 + 4, PID0, "python3");
	feed_exec(f->t, f->w, PID0 + 4, "/usr/lib/chromium/chromium");
	feed_fork(f->t, f->w, PID0 + 5, PID0, "python3");
	feed_exec(f->t, f->w, PID0 + 5, "/opt/mytestdrv");

	assert_int_equal(procwatch__drivers(f->w, &d), 2);
	assert_string_equal(d[0]->kind, "chromedriver");
	assert_int_equal(d[0]->id, 1);
	assert_int_equal(d[0]->driver->pid, PID0 + 1);
	assert_int_equal(d[0]->nprocs, 3);
	assert_int_equal(d[0]->procs[2]->pid, PID0 + 3);
	assert_int_equal(d[0]->peak_alive, 3);
	assert_string_equal(d[1]->kind, "mytestdrv");
	assert_ptr_equal(procwatch__driver_of(proctree__find_running(f->t, PID0 + 3)), d[0]);
	assert_null(procwatch__driver_of(proctree__find_running(f->t, PID0)));
	assert_null(procwatch__driver_of(proctree__find_running(f->t, PID0 + 4)));

	/* memory: 3 live processes of 3500 pages, shmem 500 each; 3 x 13.67 MiB > 30 MiB */
	procwatch__check(f->w, f->t, true, &out, &n);
	assert_int_equal(n, 0);
	assert_int_equal(d[0]->rss_kb, 3 * 3500 * (sysconf(_SC_PAGESIZE) / 1024));
	assert_int_equal(d[0]->shmem_kb, 3 * 500 * (sysconf(_SC_PAGESIZE) / 1024));
	assert_int_equal(d[0]->peak_rss_kb, d[0]->rss_kb);
	{
		const struct alert *a;

		/* 41 MiB against 30: high (critical from 60); the one-process instance is below */
		assert_int_equal(alerts__count(f->a), 1);
		a = alerts__get(f->a, 0);
		assert_string_equal(a->kind, "driver_memory");
		assert_int_equal(a->severity, SEV_HIGH);
		assert_non_null(strstr(a->message, "chromedriver #1"));
		/* still over at the next check: the same alert, not a second one */
		procwatch__check(f->w, f->t, true, &out, &n);
		assert_int_equal(alerts__count(f->a), 1);
	}

	/* the driver exits; its tree is not checked before force_cleanup_timeout */
	feed_exit(f->t, f->w, PID0 + 1);
	assert_int_equal(d[0]->end_ns, T0 + PID0 + 1 + 1000);
	assert_int_equal(d[0]->alive, 2);
	assert_true(procwatch__pending_deadline(f->w) > d[0]->end_ns);
	feed_exit(f->t, f->w, PID0 + 3);
	feed_exit(f->t, f->w, PID0 + 2);
	assert_int_equal(d[0]->alive, 0);
	assert_int_equal(procwatch__pending_deadline(f->w), 0);
}

/*
 * With PSS known, the alert and the peak go by PSS, from the same samples: the periodic ones
 * and the one as a process of the tree exits (a peak the alert used not to see).
 */
static void test_pss_alert_and_peak(void **state)
{
	struct fx *f = *state;
	const struct driver_inst *const *d;
	const struct alert *a;
	struct proc **out;
	cJSON *root, *drv;
	size_t n;

	procwatch__set_pss(f->w, fake_pss, NULL);
	fake_pss_kb = 5 * 1024;
	feed_fork(f->t, f->w, PID0 + 40, 1, "sh");
	feed_exec(f->t, f->w, PID0 + 40, "/usr/bin/chromedriver");
	feed_fork(f->t, f->w, PID0 + 41, PID0 + 40, "chromedriver");
	feed_fork(f->t, f->w, PID0 + 42, PID0 + 40, "chromedriver");
	assert_int_equal(procwatch__drivers(f->w, &d), 1);
	/* 3 x 5 MiB of PSS: under 30 MiB, though the RSS summed is 41 MiB */
	procwatch__check(f->w, f->t, true, &out, &n);
	assert_true(d[0]->pss_known);
	assert_int_equal(d[0]->pss_kb, 3 * 5 * 1024);
	assert_int_equal(d[0]->uss_kb, 3 * 3 * 1024);
	assert_int_equal(d[0]->rss_kb, 3 * 3500 * (sysconf(_SC_PAGESIZE) / 1024));
	assert_int_equal(alerts__count(f->a), 0);
	/* the two others grow to 16 MiB, then one exits before any periodic sample: 16 + 16
	 * live, and the exiting one as last sampled (5): 37 MiB, over 30 */
	fake_pss_kb = 16 * 1024;
	feed_exit(f->t, f->w, PID0 + 40);
	assert_int_equal(d[0]->peak_pss_kb, (16 + 16 + 5) * 1024);
	assert_int_equal(alerts__count(f->a), 1);
	a = alerts__get(f->a, 0);
	assert_string_equal(a->kind, "driver_memory");
	assert_true(a->value * 1024 == (double)d[0]->peak_pss_kb);
	assert_non_null(strstr(a->message, "PSS"));
	/* the report: PSS beside RSS, the verdict names the crossing */
	root = cJSON_CreateObject();
	procwatch__add_json(f->w, root, T0 + PID0 + 5000);
	drv = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "drivers"), 0);
	assert_string_equal(cJSON_GetObjectItem(drv, "memory_basis")->valuestring, "pss");
	assert_int_equal(cJSON_GetObjectItem(drv, "peak_pss_kb")->valuedouble,
			 (16 + 16 + 5) * 1024);
	assert_true(cJSON_GetObjectItem(drv, "peak_memory_kb")->valuedouble >
		    cJSON_GetObjectItem(drv, "peak_pss_kb")->valuedouble);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(drv, "memory_alert")));
	assert_string_equal(cJSON_GetObjectItem(drv, "verdict")->valuestring, "over 30 MiB");
	assert_string_equal(cJSON_GetObjectItem(drv, "comm")->valuestring, "chromedriver");
	cJSON_Delete(root);
}

static void test_nested_driver(void **state)
{
	struct fx *f = *state;
	const struct driver_inst *const *d;
	struct proc **out;
	size_t n;

	/* a process of chromedriver's tree runs geckodriver: an instance of its own, whose
	 * memory is not counted twice */
	feed_fork(f->t, f->w, PID0 + 30, 1, "sh");
	feed_exec(f->t, f->w, PID0 + 30, "/usr/bin/chromedriver");
	feed_fork(f->t, f->w, PID0 + 31, PID0 + 30, "chromedriver");
	feed_exec(f->t, f->w, PID0 + 31, "/usr/bin/geckodriver");
	feed_fork(f->t, f->w, PID0 + 32, PID0 + 31, "geckodriver");
	assert_int_equal(procwatch__drivers(f->w, &d), 2);
	assert_int_equal(d[1]->nprocs, 2);
	assert_ptr_equal(procwatch__driver_of(proctree__find_running(f->t, PID0 + 32)), d[1]);
	procwatch__check(f->w, f->t, true, &out, &n);
	assert_int_equal(d[0]->alive, 1);
	assert_int_equal(d[1]->alive, 2);
	assert_int_equal(d[0]->rss_kb * 2, d[1]->rss_kb);
}

static void test_timeline_bounded(void **state)
{
	struct fx *f = *state;
	const struct driver_inst *const *d;
	struct proc **out;
	size_t n, i;

	feed_fork(f->t, f->w, PID0 + 10, 1, "sh");
	feed_exec(f->t, f->w, PID0 + 10, "/usr/bin/geckodriver");
	for (i = 0; i < 200; i++)
		procwatch__check(f->w, f->t, true, &out, &n);
	assert_int_equal(procwatch__drivers(f->w, &d), 1);
	/* 200 samples in at most 64 slots: every other one kept when full, twice */
	assert_true(d[0]->nsamples <= QH_DRIVER_TIMELINE && d[0]->nsamples >= 32);
	assert_int_equal(d[0]->stride, 4);
	for (i = 1; i < d[0]->nsamples; i++)
		assert_true(d[0]->timeline[i].ts_ns >= d[0]->timeline[i - 1].ts_ns);
}

static void test_report_parts(void **state)
{
	struct fx *f = *state;
	cJSON *root = cJSON_CreateObject(), *drv;
	struct proc **out;
	size_t n;

	feed_fork(f->t, f->w, PID0 + 20, 1, "sh");
	feed_exec(f->t, f->w, PID0 + 20, "/usr/bin/msedgedriver");
	feed_fork(f->t, f->w, PID0 + 21, PID0 + 20, "msedgedriver");
	procwatch__check(f->w, f->t, true, &out, &n);
	procwatch__add_json(f->w, root, T0 + PID0 + 5000);
	drv = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "drivers"), 0);
	assert_non_null(drv);
	assert_string_equal(cJSON_GetObjectItem(drv, "kind")->valuestring, "msedgedriver");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(drv, "pids")), 2);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(drv, "ended_cleanly")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(drv, "end_time")));
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "driver_totals"),
					     "active")->valueint, 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "leftovers")), 0);
	assert_non_null(cJSON_GetObjectItem(root, "zombies"));
	assert_non_null(cJSON_GetObjectItem(root, "orphans"));
	cJSON_Delete(root);
}

static void test_settings_file(void **state)
{
	struct procwatch_opts o;
	struct qh_settings s;

	(void)state;
	procwatch_opts__defaults(&o);
	config__defaults(&s);
	s.auto_cleanup = true;
	s.force_cleanup_timeout = 3;
	s.max_resource_lifetime = 60;
	s.max_cleanup_attempts = 7;
	s.memory_threshold_mb = 99;
	s.zombie_grace = 2;
	snprintf(s.driver_patterns[s.n_driver_patterns++], QH_PATTERN_LEN, "%s", "mydrv*");
	s.n_browser_patterns = 1;
	snprintf(s.browser_patterns[0], QH_PATTERN_LEN, "%s", "mybrowser");
	procwatch_opts__from_settings(&o, &s);
	assert_int_equal(o.zombie_grace_ms, 2000);
	/* the file's browsers replace the built-in ones */
	assert_int_equal(o.n_browser_patterns, 1);
	assert_string_equal(o.browser_patterns[0], "mybrowser");
	assert_true(o.auto_cleanup);
	assert_int_equal(o.force_cleanup_timeout_ms, 3000);
	assert_int_equal(o.max_resource_lifetime_s, 60);
	assert_int_equal(o.max_cleanup_attempts, 7);
	assert_int_equal(o.memory_threshold_mb, 99);
	/* the file's defaults are among the built-in names; its own one is added */
	assert_int_equal(o.n_driver_patterns, 6);
	assert_string_equal(o.driver_patterns[4], "safaridriver");
	assert_string_equal(o.driver_patterns[5], "mydrv*");
	/* the defaults agree with the settings file's */
	procwatch_opts__defaults(&o);
	config__defaults(&s);
	assert_int_equal(o.force_cleanup_timeout_ms, s.force_cleanup_timeout * 1000);
	assert_int_equal(o.memory_threshold_mb, s.memory_threshold_mb);
	assert_int_equal(o.max_resource_lifetime_s, s.max_resource_lifetime);
	assert_int_equal(o.max_cleanup_attempts, s.max_cleanup_attempts);
	assert_int_equal(o.auto_cleanup, s.auto_cleanup);
	assert_int_equal(o.zombie_grace_ms, s.zombie_grace * 1000);
	assert_int_equal(o.n_browser_patterns, s.n_browser_patterns);
	assert_int_equal(o.n_driver_patterns, s.n_driver_patterns);
}

static void test_defaults(void **state)
{
	struct procwatch_opts o;
	uint32_t i;

	(void)state;
	procwatch_opts__defaults(&o);
	assert_int_equal(o.n_driver_patterns, 5);
	assert_string_equal(o.driver_patterns[0], "chromedriver");
	assert_int_equal(o.force_cleanup_timeout_ms, 10000);
	assert_int_equal(o.zombie_grace_ms, 5000);
	assert_false(o.auto_cleanup);
	for (i = o.n_driver_patterns; i < QH_MAX_DRIVER_PATTERNS; i++)
		assert_int_equal(procwatch_opts__add_pattern(&o, "x"), 0);
	assert_int_equal(procwatch_opts__add_pattern(&o, "x"), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_instance_membership, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_driver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pss_alert_and_peak, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeline_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_parts, setup, teardown),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_settings_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
