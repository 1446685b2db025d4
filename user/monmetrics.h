/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The monitor's Prometheus metrics (README "CI node monitoring", Metrics), rendered from plain
 * data: the monitor fills a struct mon_metrics from its model at each scrape (rows copied,
 * never pointers into it) and monmetrics__render writes the exposition (expo.h). So the names,
 * labels and help text live here once, and the unit tests render any state they like.
 *
 * Labels are bounded: a group name (comm, or a configured group), a job kind, a driver or
 * browser kind, a reason or a result; never a pid or a job id. Each table holds at most
 * max_rows rows (MON_MAX_ROWS when 0): what comes after is added to one row named "other",
 * so a node that runs a million distinct comms still exposes a bounded number of series.
 * Counters (..._total) are the monitor's running totals, copied in: they never go down.
 */
#ifndef __QH_MONMETRICS_H
#define __QH_MONMETRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf;

#define MON_LABEL_MAX 64	/* a label value's bytes, NUL included; longer ones are cut */
#define MON_MAX_ROWS 256	/* rows of one table by default; past it, "other" */
#define MON_OTHER "other"

/* processes of one group, now */
struct mon_group {
	char name[MON_LABEL_MAX];
	uint64_t alive;		/* not yet exited */
	uint64_t zombies;	/* exited, not reaped */
	uint64_t fds;		/* fds open in the group's live processes */
	uint64_t sockets;	/* of which sockets */
	uint64_t rss_anon_bytes, rss_file_bytes, rss_shmem_bytes;
};

/* jobs of one kind (github, gitlab, jenkins, buildkite, cgroup, or an --job-env name) */
struct mon_job_kind {
	char name[MON_LABEL_MAX];
	uint64_t running;
	uint64_t finished_total;
	uint64_t leftovers_found_total;	/* outlived_job leftovers found, ever */
};

/* outlived_job leftovers alive now, by their group and their job's kind */
struct mon_leftover {
	char group[MON_LABEL_MAX];
	char job_kind[MON_LABEL_MAX];
	uint64_t alive;
};

/* WebDriver drivers alive now, by kind (the driver's comm: chromedriver, geckodriver) */
struct mon_driver {
	char kind[MON_LABEL_MAX];
	uint64_t alive;
};

/* browser processes of driver trees, by kind (chrome, firefox, ...) */
struct mon_browser {
	char kind[MON_LABEL_MAX];
	uint64_t alive;
	uint64_t outlived_driver;	/* of which alive after their driver exited */
};

/* events the monitor did not see, by reason (ringbuf_full, map_full, stack_lost, ...) */
struct mon_lost {
	char reason[MON_LABEL_MAX];
	uint64_t total;
};

enum mon_cleanup_result {
	MON_CLEANUP_TERMINATED,	/* ended by SIGTERM */
	MON_CLEANUP_KILLED,	/* needed SIGKILL */
	MON_CLEANUP_FAILED,	/* still alive after SIGKILL, or the signal failed */
	MON_CLEANUP_REFUSED,	/* not ours to touch (outside the job, pid reused) */
	MON_CLEANUP_RESULTS,
};

/* qhtrace itself, as every Prometheus client library exposes it (process_...) */
struct mon_self {
	bool valid;			/* read: rendered only then */
	uint64_t resident_bytes;
	uint64_t virtual_bytes;
	double cpu_seconds;		/* user + system */
	double start_time_seconds;	/* since the Unix epoch */
	uint64_t open_fds;
	uint64_t max_fds;		/* RLIMIT_NOFILE's soft limit */
};

struct mon_metrics {
	struct mon_group *groups;
	size_t ngroups, cap_groups;
	struct mon_job_kind *job_kinds;
	size_t njob_kinds, cap_job_kinds;
	struct mon_leftover *leftovers;
	size_t nleftovers, cap_leftovers;
	struct mon_driver *drivers;
	size_t ndrivers, cap_drivers;
	struct mon_browser *browsers;
	size_t nbrowsers, cap_browsers;
	struct mon_lost *lost;
	size_t nlost, cap_lost;

	uint64_t processes_started_total;	/* every fork the monitor saw */
	uint64_t webdriver_tree_rss_bytes;	/* RSS of every live driver tree (PSS if known) */
	uint64_t cleanup_total[MON_CLEANUP_RESULTS];
	struct mon_self self;
	uint64_t scrape_start_ns;	/* CLOCK_MONOTONIC when filling began; 0: the render's */
	size_t max_rows;		/* per table; 0: MON_MAX_ROWS */
};

/*
 * The row of @name (added zeroed when new; past max_rows, the "other" row): NULL only when out
 * of memory. Rows are found by name, so the monitor adds to them as it walks its processes.
 */
struct mon_group *monmetrics__group(struct mon_metrics *m, const char *name);
struct mon_job_kind *monmetrics__job_kind(struct mon_metrics *m, const char *name);
struct mon_leftover *monmetrics__leftover(struct mon_metrics *m, const char *group,
					  const char *job_kind);
struct mon_driver *monmetrics__driver(struct mon_metrics *m, const char *kind);
struct mon_browser *monmetrics__browser(struct mon_metrics *m, const char *kind);
struct mon_lost *monmetrics__lost(struct mon_metrics *m, const char *reason);

/* Every row and number back to zero, the tables' memory and max_rows kept (for the next scrape). */
void monmetrics__reset(struct mon_metrics *m);
void monmetrics__free(struct mon_metrics *m);

/* qhtrace's own process figures, from /proc/self and getrusage; 0 or -errno. */
int monmetrics__read_self(struct mon_self *s);

/* Append the exposition of @m to @out; 0, or -ENOMEM (out->err). */
int monmetrics__render(const struct mon_metrics *m, struct sbuf *out);

const char *mon_cleanup_result__str(enum mon_cleanup_result r);

#endif
