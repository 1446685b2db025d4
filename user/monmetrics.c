// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "expo.h"
#include "monmetrics.h"
#include "procfs.h"
#include "sbuf.h"
#include "util.h"
#include "vec.h"

#ifndef QH_VERSION
#define QH_VERSION "unknown"
#endif

static const char *const cleanup_names[MON_CLEANUP_RESULTS] = {
	[MON_CLEANUP_TERMINATED] = "terminated",
	[MON_CLEANUP_KILLED] = "killed",
	[MON_CLEANUP_FAILED] = "failed",
	[MON_CLEANUP_REFUSED] = "refused",
};

const char *mon_cleanup_result__str(enum mon_cleanup_result r)
{
	return (unsigned int)r < MON_CLEANUP_RESULTS ? cleanup_names[r] : "unknown";
}

/*
 * Every row type begins with its key: one label value, or two (a leftover's group and job
 * kind) one after the other. Find the row of (@k1, @k2), or add it; past the table's bound the
 * row of "other" stands for every new key.
 */
static void *row(const struct mon_metrics *m, void **arr, size_t *n, size_t *cap, size_t size,
		 const char *k1, const char *k2)
{
	size_t max = m->max_rows ? m->max_rows : MON_MAX_ROWS;
	char key[2][MON_LABEL_MAX];
	char *r;
	size_t i;

	snprintf(key[0], sizeof(key[0]), "%s", k1 ? k1 : "");
	snprintf(key[1], sizeof(key[1]), "%s", k2 ? k2 : "");
	for (;;) {
		for (i = 0; i < *n; i++) {
			r = (char *)*arr + i * size;
			if (!strcmp(r, key[0]) && (!k2 || !strcmp(r + MON_LABEL_MAX, key[1])))
				return r;
		}
		if (*n < max || !strcmp(key[0], MON_OTHER))
			break;
		/* the bound is reached: fold into "other" (which may be the one row past it) */
		snprintf(key[0], sizeof(key[0]), MON_OTHER);
		snprintf(key[1], sizeof(key[1]), MON_OTHER);
	}
	if (vec__reserve(arr, cap, *n + 1, size))
		return NULL;
	r = (char *)*arr + (*n)++ * size;
	memset(r, 0, size);
	memcpy(r, key[0], MON_LABEL_MAX);
	if (k2)
		memcpy(r + MON_LABEL_MAX, key[1], MON_LABEL_MAX);
	return r;
}

#define ROW(m, tab, k1, k2)                                                                  \
	row(m, (void **)&(m)->tab, &(m)->n##tab, &(m)->cap_##tab, sizeof(*(m)->tab), k1, k2)

struct mon_group *monmetrics__group(struct mon_metrics *m, const char *name)
{
	return ROW(m, groups, name, NULL);
}

struct mon_job_kind *monmetrics__job_kind(struct mon_metrics *m, const char *name)
{
	return ROW(m, job_kinds, name, NULL);
}

struct mon_leftover *monmetrics__leftover(struct mon_metrics *m, const char *group,
					  const char *job_kind)
{
	_Static_assert(offsetof(struct mon_leftover, job_kind) == MON_LABEL_MAX, "key layout");
	return ROW(m, leftovers, group, job_kind ? job_kind : "");
}

struct mon_driver *monmetrics__driver(struct mon_metrics *m, const char *kind)
{
	return ROW(m, drivers, kind, NULL);
}

struct mon_browser *monmetrics__browser(struct mon_metrics *m, const char *kind)
{
	return ROW(m, browsers, kind, NULL);
}

struct mon_lost *monmetrics__lost(struct mon_metrics *m, const char *reason)
{
	return ROW(m, lost, reason, NULL);
}

void monmetrics__reset(struct mon_metrics *m)
{
	size_t max = m->max_rows;

	m->ngroups = m->njob_kinds = m->nleftovers = m->ndrivers = m->nbrowsers = m->nlost = 0;
	m->processes_started_total = m->webdriver_tree_rss_bytes = 0;
	memset(m->cleanup_total, 0, sizeof(m->cleanup_total));
	memset(&m->self, 0, sizeof(m->self));
	m->scrape_start_ns = 0;
	m->max_rows = max;
}

void monmetrics__free(struct mon_metrics *m)
{
	if (!m)
		return;
	free(m->groups);
	free(m->job_kinds);
	free(m->leftovers);
	free(m->drivers);
	free(m->browsers);
	free(m->lost);
	memset(m, 0, sizeof(*m));
}

/* /proc/self/fd's entries, less the one this count opens */
static int count_fds(uint64_t *n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t k = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			k++;
	closedir(d);
	*n = k;
	return 0;
}

int monmetrics__read_self(struct mon_self *s)
{
	unsigned long long size, resident;
	long page = sysconf(_SC_PAGESIZE);
	struct procfs_stat st;
	struct rusage ru;
	struct rlimit rl;
	FILE *f;
	int err, ok;

	memset(s, 0, sizeof(*s));
	f = fopen("/proc/self/statm", "re");
	if (!f)
		return -errno;
	ok = fscanf(f, "%llu %llu", &size, &resident) == 2;
	fclose(f);
	if (!ok)
		return -EIO;
	err = procfs__read_stat(getpid(), &st);
	if (err)
		return err;
	if (getrusage(RUSAGE_SELF, &ru) || getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	err = count_fds(&s->open_fds);
	if (err)
		return err;
	s->resident_bytes = resident * page;
	s->virtual_bytes = size * page;
	s->cpu_seconds = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
			 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	s->start_time_seconds = util__boot_to_real_ns(st.start_ns) / 1e9;
	s->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
	s->valid = true;
	return 0;
}

static void self_families(struct expo *e, const struct mon_self *s)
{
	expo__family(e, "process_cpu_seconds_total", EXPO_COUNTER,
		     "Total user and system CPU time spent in seconds.");
	expo__double(e, s->cpu_seconds, NULL);
	expo__family(e, "process_resident_memory_bytes", EXPO_GAUGE,
		     "Resident memory size in bytes.");
	expo__u64(e, s->resident_bytes, NULL);
	expo__family(e, "process_virtual_memory_bytes", EXPO_GAUGE,
		     "Virtual memory size in bytes.");
	expo__u64(e, s->virtual_bytes, NULL);
	expo__family(e, "process_start_time_seconds", EXPO_GAUGE,
		     "Start time of the process since unix epoch in seconds.");
	expo__double(e, s->start_time_seconds, NULL);
	expo__family(e, "process_open_fds", EXPO_GAUGE, "Number of open file descriptors.");
	expo__u64(e, s->open_fds, NULL);
	expo__family(e, "process_max_fds", EXPO_GAUGE,
		     "Maximum number of open file descriptors.");
	expo__double(e, s->max_fds == UINT64_MAX ? INFINITY : (double)s->max_fds, NULL);
}

int monmetrics__render(const struct mon_metrics *m, struct sbuf *out)
{
	uint64_t t0 = m->scrape_start_ns ? m->scrape_start_ns : util__now_ns(CLOCK_MONOTONIC);
	struct expo e;
	size_t i, k;

	expo__init(&e, out);
	expo__family(&e, "qhtrace_build_info", EXPO_GAUGE,
		     "Always 1; the qhtrace version that serves these metrics.");
	expo__u64(&e, 1, "version", QH_VERSION, NULL);

	expo__family(&e, "qhtrace_processes", EXPO_GAUGE,
		     "Processes now, by group and state (alive: not exited; zombie: exited, not "
		     "reaped).");
	for (i = 0; i < m->ngroups; i++) {
		expo__u64(&e, m->groups[i].alive, "group", m->groups[i].name, "state", "alive",
			  NULL);
		expo__u64(&e, m->groups[i].zombies, "group", m->groups[i].name, "state",
			  "zombie", NULL);
	}
	expo__family(&e, "qhtrace_zombies", EXPO_GAUGE,
		     "Zombie processes now (exited, not reaped by their parent), by group.");
	for (i = 0; i < m->ngroups; i++)
		expo__u64(&e, m->groups[i].zombies, "group", m->groups[i].name, NULL);
	expo__family(&e, "qhtrace_open_fds", EXPO_GAUGE,
		     "File descriptors open now in the group's live processes.");
	for (i = 0; i < m->ngroups; i++)
		expo__u64(&e, m->groups[i].fds, "group", m->groups[i].name, NULL);
	expo__family(&e, "qhtrace_open_sockets", EXPO_GAUGE,
		     "Sockets open now in the group's live processes (counted in "
		     "qhtrace_open_fds too).");
	for (i = 0; i < m->ngroups; i++)
		expo__u64(&e, m->groups[i].sockets, "group", m->groups[i].name, NULL);
	expo__family(&e, "qhtrace_memory_rss_bytes", EXPO_GAUGE,
		     "Resident memory of the group's live processes by kind (anon, file, shmem), "
		     "summed over processes.");
	for (i = 0; i < m->ngroups; i++) {
		const struct mon_group *g = &m->groups[i];

		expo__u64(&e, g->rss_anon_bytes, "group", g->name, "kind", "anon", NULL);
		expo__u64(&e, g->rss_file_bytes, "group", g->name, "kind", "file", NULL);
		expo__u64(&e, g->rss_shmem_bytes, "group", g->name, "kind", "shmem", NULL);
	}
	expo__family(&e, "qhtrace_processes_started_total", EXPO_COUNTER,
		     "Processes started (forks seen) since the monitor started.");
	expo__u64(&e, m->processes_started_total, NULL);

	expo__family(&e, "qhtrace_leftover_processes", EXPO_GAUGE,
		     "Processes alive now that outlived their job (outlived_job leftovers), by "
		     "group and job kind.");
	for (i = 0; i < m->nleftovers; i++)
		expo__u64(&e, m->leftovers[i].alive, "group", m->leftovers[i].group, "job_kind",
			  m->leftovers[i].job_kind, NULL);
	expo__family(&e, "qhtrace_leftovers_found_total", EXPO_COUNTER,
		     "Processes found alive after their job's grace period, by job kind.");
	for (i = 0; i < m->njob_kinds; i++)
		expo__u64(&e, m->job_kinds[i].leftovers_found_total, "job_kind",
			  m->job_kinds[i].name, NULL);
	expo__family(&e, "qhtrace_jobs_running", EXPO_GAUGE, "CI jobs running now, by kind.");
	for (i = 0; i < m->njob_kinds; i++)
		expo__u64(&e, m->job_kinds[i].running, "job_kind", m->job_kinds[i].name, NULL);
	expo__family(&e, "qhtrace_jobs_finished_total", EXPO_COUNTER,
		     "CI jobs whose root process exited, by kind.");
	for (i = 0; i < m->njob_kinds; i++)
		expo__u64(&e, m->job_kinds[i].finished_total, "job_kind", m->job_kinds[i].name,
			  NULL);

	expo__family(&e, "qhtrace_webdriver_drivers", EXPO_GAUGE,
		     "WebDriver drivers alive now, by kind.");
	for (i = 0; i < m->ndrivers; i++)
		expo__u64(&e, m->drivers[i].alive, "kind", m->drivers[i].kind, NULL);
	expo__family(&e, "qhtrace_webdriver_browsers", EXPO_GAUGE,
		     "Browser processes of WebDriver trees alive now, by kind.");
	for (i = 0; i < m->nbrowsers; i++)
		expo__u64(&e, m->browsers[i].alive, "kind", m->browsers[i].kind, NULL);
	expo__family(&e, "qhtrace_webdriver_leftover_browsers", EXPO_GAUGE,
		     "Browser processes alive now after their driver exited, by kind.");
	for (i = 0; i < m->nbrowsers; i++)
		expo__u64(&e, m->browsers[i].outlived_driver, "kind", m->browsers[i].kind, NULL);
	expo__family(&e, "qhtrace_webdriver_tree_rss_bytes", EXPO_GAUGE,
		     "Memory of every live WebDriver tree (PSS where known, else RSS).");
	expo__u64(&e, m->webdriver_tree_rss_bytes, NULL);

	expo__family(&e, "qhtrace_events_lost_total", EXPO_COUNTER,
		     "Kernel events the monitor could not record, by reason.");
	for (i = 0; i < m->nlost; i++)
		expo__u64(&e, m->lost[i].total, "reason", m->lost[i].reason, NULL);
	expo__family(&e, "qhtrace_cleanup_total", EXPO_COUNTER,
		     "Leftover processes cleaned, by result (terminated, killed, failed, "
		     "refused).");
	for (k = 0; k < MON_CLEANUP_RESULTS; k++)
		expo__u64(&e, m->cleanup_total[k], "result", cleanup_names[k], NULL);

	if (m->self.valid)
		self_families(&e, &m->self);
	/* last, so it covers all the rest */
	expo__family(&e, "qhtrace_scrape_duration_seconds", EXPO_GAUGE,
		     "Time this scrape took to gather and render the metrics above.");
	expo__double(&e, (util__now_ns(CLOCK_MONOTONIC) - t0) / 1e9, NULL);
	return expo__finish(&e);
}
