// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The status reply (status.h) from a synthetic model: processes by their state now (a
 * process /proc no longer shows is not counted), the top by RSS with its kinds and roles,
 * the driver trees alive, zombies and leftovers found and still there, the monitor's jobs.
 * The live system comes through fake ops; pids are above any real one.
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

#include "procwatch.h"
#include "procwatch_priv.h"
#include "proctree.h"
#include "status.h"
#include "vec.h"

#define PID0 4100000U
#define T0 1000000000000ULL
#define PS 4096ULL

/* by pid - PID0: the state /proc shows (0: gone) and the anon, file, shmem pages */
static const struct {
	char state;
	uint64_t anon, file, shmem;
} sys[] = {
	{ 'S', 1000, 500, 0 },	 /* 0 python3 */
	{ 'S', 300, 700, 0 },	 /* 1 chromedriver */
	{ 'R', 20000, 3000, 4000 }, /* 2 chromium */
	{ 'D', 5000, 1000, 4000 }, /* 3 chromium (renderer) */
	{ 'Z', 0, 0, 0 },	 /* 4 a zombie */
	{ 0, 0, 0, 0 },		 /* 5 gone, its exit not seen yet */
	{ 'T', 10, 20, 0 },	 /* 6 stopped, a name with an escape sequence */
};

static int fake_state(void *ctx, const struct proc *p, char *state)
{
	(void)ctx;
	if (p->pid < PID0 || p->pid - PID0 >= sizeof(sys) / sizeof(sys[0]) ||
	    !sys[p->pid - PID0].state)
		return -ESRCH;
	*state = sys[p->pid - PID0].state;
	return 0;
}

static int fake_rss(void *ctx, const struct proc *p, uint64_t pages[QH_NR_RSS])
{
	char st;

	if (fake_state(ctx, p, &st))
		return -ESRCH;
	memset(pages, 0, sizeof(uint64_t) * QH_NR_RSS);
	pages[MM_ANONPAGES] = sys[p->pid - PID0].anon;
	pages[MM_FILEPAGES] = sys[p->pid - PID0].file;
	pages[MM_SHMEMPAGES] = sys[p->pid - PID0].shmem;
	return 0;
}

static int watch_rss(void *ctx, const struct proc *p, uint64_t pages[QH_NR_RSS])
{
	return fake_rss(ctx, p, pages);
}

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

static const cJSON *get(const cJSON *o, const char *path)
{
	char buf[128], *k, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(k))
				     : cJSON_GetObjectItemCaseSensitive(o, k);
	if (!o)
		fail_msg("no %s", path);
	return o;
}

static double num(const cJSON *o, const char *path)
{
	const cJSON *v = get(o, path);

	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static const char *str(const cJSON *o, const char *path)
{
	const cJSON *v = get(o, path);

	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

struct fx {
	struct proctree *t;
	struct procwatch *w;
};

static int setup(void **state)
{
	static struct fx f;
	struct procwatch_opts o;

	procwatch_opts__defaults(&o);
	o.max_resource_lifetime_s = 0;
	f.t = proctree__new();
	f.w = procwatch__new(&o, watch_rss, NULL);
	assert_non_null(f.t);
	assert_non_null(f.w);
	/* python3 runs chromedriver, which starts chromium and its renderer; python3 has a child
	 * that became a zombie, one that is gone, one that is stopped and named to forge lines */
	feed_fork(f.t, f.w, PID0, 1, "python3");
	feed_fork(f.t, f.w, PID0 + 1, PID0, "python3");
	feed_exec(f.t, f.w, PID0 + 1, "/usr/bin/chromedriver");
	feed_fork(f.t, f.w, PID0 + 2, PID0 + 1, "chromedriver");
	feed_exec(f.t, f.w, PID0 + 2, "/usr/lib/chromium/chromium");
	feed_fork(f.t, f.w, PID0 + 3, PID0 + 2, "chromium");
	feed_fork(f.t, f.w, PID0 + 4, PID0, "zomb");
	feed_fork(f.t, f.w, PID0 + 5, PID0, "gone");
	feed_fork(f.t, f.w, PID0 + 6, PID0, "x\x1b[2Jy");
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	procwatch__free(f->w);
	proctree__free(f->t);
	return 0;
}

static const struct status_ops ops = { .rss = fake_rss, .state = fake_state };

static void test_status_processes_and_top(void **state)
{
	struct fx *f = *state;
	struct status_info in = { .mode = "attach", .pid = 77, .now_ns = T0 + 12500000000ULL,
				  .started_ns = T0, .events = 310, .events_lost = 2, .top = 3,
				  .page_size = PS };
	cJSON *o = cJSON_CreateObject();
	const cJSON *top;
	char *text;

	assert_int_equal(status__json(&ops, f->t, f->w, &in, o), 0);
	assert_string_equal(str(o, "mode"), "attach");
	assert_int_equal(num(o, "pid"), 77);
	assert_true(num(o, "uptime_s") == 12.5);
	assert_int_equal(num(o, "events.received"), 310);
	assert_int_equal(num(o, "events.lost"), 2);
	/* 6 that /proc shows (the gone one is not): 2 S, 1 R, 1 D, 1 T, 1 Z */
	assert_int_equal(num(o, "processes.alive"), 6);
	assert_int_equal(num(o, "processes.running"), 1);
	assert_int_equal(num(o, "processes.sleeping"), 2);
	assert_int_equal(num(o, "processes.disk_sleep"), 1);
	assert_int_equal(num(o, "processes.stopped"), 1);
	assert_int_equal(num(o, "processes.zombie"), 1);
	assert_int_equal(num(o, "processes.other"), 0);

	/* by RSS: chromium 27000 pages, renderer 10000, python3 1500 (the driver has 1000) */
	top = get(o, "top");
	assert_int_equal(cJSON_GetArraySize(top), 3);
	assert_int_equal(num(top, "0.pid"), PID0 + 2);
	assert_string_equal(str(top, "0.comm"), "chromium");
	assert_string_equal(str(top, "0.state"), "R");
	assert_string_equal(str(top, "0.role"), "browser");
	assert_true(num(top, "0.rss_bytes") == 27000 * PS);
	assert_true(num(top, "0.rss.anon_bytes") == 20000 * PS);
	assert_true(num(top, "0.rss.file_bytes") == 3000 * PS);
	assert_true(num(top, "0.rss.shmem_bytes") == 4000 * PS);
	assert_int_equal(num(top, "1.pid"), PID0 + 3);
	assert_int_equal(num(top, "2.pid"), PID0);
	assert_true(cJSON_IsNull(get(top, "2.role")));
	assert_non_null(strstr(str(top, "0.start_time"), "Z"));

	/* the tree: the driver and both browsers alive, their RSS summed */
	assert_int_equal(num(o, "drivers.trees"), 1);
	assert_int_equal(num(o, "drivers.drivers_alive"), 1);
	assert_int_equal(num(o, "drivers.browsers_alive"), 2);
	assert_int_equal(num(o, "drivers.processes_alive"), 3);
	assert_true(num(o, "drivers.rss_bytes") == (1000 + 27000 + 10000) * PS);
	assert_string_equal(str(o, "drivers.list.0.kind"), "chromedriver");
	assert_int_equal(num(o, "drivers.list.0.pid"), PID0 + 1);
	assert_true(cJSON_IsTrue(get(o, "drivers.list.0.driver_alive")));
	assert_true(cJSON_IsNull(get(o, "drivers.list.0.pss_bytes")));
	assert_int_equal(cJSON_GetArraySize(get(o, "jobs")), 0);

	/* everything: the stopped one too, the zombie never (it has no memory) */
	cJSON_Delete(o);
	o = cJSON_CreateObject();
	in.top = 1000;
	assert_int_equal(status__json(&ops, f->t, f->w, &in, o), 0);
	assert_int_equal(cJSON_GetArraySize(get(o, "top")), 5);
	assert_string_equal(str(o, "top.4.comm"), "x\x1b[2Jy");
	/* the JSON text carries the name escaped: no terminal sequence goes out raw */
	text = cJSON_PrintUnformatted(o);
	assert_non_null(strstr(text, "\"x\\u001b[2Jy\""));
	assert_null(strchr(text, '\x1b'));
	cJSON_free(text);
	cJSON_Delete(o);

	/* none listed: the counts stay */
	o = cJSON_CreateObject();
	in.top = 0;
	assert_int_equal(status__json(&ops, f->t, f->w, &in, o), 0);
	assert_int_equal(cJSON_GetArraySize(get(o, "top")), 0);
	assert_int_equal(num(o, "processes.alive"), 6);
	cJSON_Delete(o);
}

static void test_status_zombies_leftovers_jobs(void **state)
{
	struct fx *f = *state;
	struct procwatch *w = f->w;
	struct status_job job = { .id = "123/build", .kind = "github", .name = "build",
				  .root_pid = PID0, .root_start_ns = T0 + PID0,
				  .started_ns = T0 + PID0 + 10, .alive = 6, .rss_bytes = 1 << 20 };
	struct status_info in = { .mode = "monitor", .now_ns = T0 + 5000000000ULL,
				  .started_ns = T0, .top = 10, .page_size = PS, .jobs = &job,
				  .njobs = 1 };
	struct zombie *z;
	struct leftover *l;
	cJSON *o = cJSON_CreateObject();

	/* procwatch found two zombies: one /proc still shows, one that was reaped since */
	z = vec_push(w->zombies, w->nzombies, w->cap_zombies);
	z->p = proctree__find(f->t, PID0 + 4, T0 + PID0 + 4);
	z->parent_pid = PID0;
	snprintf(z->parent_comm, sizeof(z->parent_comm), "python3");
	z = vec_push(w->zombies, w->nzombies, w->cap_zombies);
	z->p = proctree__find(f->t, PID0 + 5, T0 + PID0 + 5);
	/* and two leftovers: the browser, alive; one that is gone */
	l = vec_push(w->leftovers, w->nleftovers, w->cap_leftovers);
	l->p = proctree__find(f->t, PID0 + 2, T0 + PID0 + 2);
	l->reason = LEFTOVER_OUTLIVED_DRIVER;
	l = vec_push(w->leftovers, w->nleftovers, w->cap_leftovers);
	l->p = proctree__find(f->t, PID0 + 5, T0 + PID0 + 5);
	l->reason = LEFTOVER_OUTLIVED_COMMAND;

	assert_int_equal(status__json(&ops, f->t, w, &in, o), 0);
	assert_int_equal(num(o, "zombies.found"), 2);
	assert_int_equal(num(o, "zombies.now"), 1);
	assert_int_equal(num(o, "zombies.list.0.pid"), PID0 + 4);
	assert_string_equal(str(o, "zombies.list.0.parent_comm"), "python3");
	assert_int_equal(cJSON_GetArraySize(get(o, "zombies.list")), 1);
	assert_int_equal(num(o, "leftovers.found"), 2);
	assert_int_equal(num(o, "leftovers.alive"), 1);
	assert_int_equal(num(o, "leftovers.by_reason.outlived_driver"), 1);
	assert_int_equal(num(o, "leftovers.by_reason.outlived_command"), 1);
	assert_int_equal(cJSON_GetArraySize(get(o, "leftovers.list")), 1);
	assert_string_equal(str(o, "leftovers.list.0.reason"), "outlived_driver");
	assert_int_equal(num(o, "leftovers.list.0.pid"), PID0 + 2);

	assert_string_equal(str(o, "mode"), "monitor");
	assert_int_equal(cJSON_GetArraySize(get(o, "jobs")), 1);
	assert_string_equal(str(o, "jobs.0.id"), "123/build");
	assert_string_equal(str(o, "jobs.0.kind"), "github");
	assert_string_equal(str(o, "jobs.0.name"), "build");
	assert_int_equal(num(o, "jobs.0.root_pid"), PID0);
	assert_int_equal(num(o, "jobs.0.processes_alive"), 6);
	assert_int_equal(num(o, "jobs.0.rss_bytes"), 1 << 20);
	assert_non_null(strstr(str(o, "jobs.0.started"), "Z"));
	assert_non_null(strstr(str(o, "jobs.0.root_start_time"), "Z"));
	cJSON_Delete(o);

	/* a list capped at top, its count not */
	o = cJSON_CreateObject();
	in.top = 0;
	assert_int_equal(status__json(&ops, f->t, w, &in, o), 0);
	assert_int_equal(num(o, "zombies.now"), 1);
	assert_int_equal(cJSON_GetArraySize(get(o, "zombies.list")), 0);
	assert_int_equal(num(o, "leftovers.alive"), 1);
	assert_int_equal(cJSON_GetArraySize(get(o, "leftovers.list")), 0);
	cJSON_Delete(o);
}

/* without procwatch (no driver tracking) the sections are there, empty */
static void test_status_no_watch(void **state)
{
	struct fx *f = *state;
	struct status_info in = { .top = 10, .page_size = PS };
	cJSON *o = cJSON_CreateObject();

	assert_int_equal(status__json(&ops, f->t, NULL, &in, o), 0);
	assert_int_equal(num(o, "drivers.trees"), 0);
	assert_int_equal(num(o, "zombies.found"), 0);
	assert_int_equal(num(o, "leftovers.found"), 0);
	assert_true(cJSON_IsNull(get(o, "top.0.role")));
	assert_string_equal(str(o, "mode"), "attach");
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_status_processes_and_top, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_zombies_leftovers_jobs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_status_no_watch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
