/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What a run leaves behind, besides memory: WebDriver instances (a driver process and all
 * its descendants) with the memory of their trees, zombies, orphans, leftovers, and the
 * alert of a tree over memory_threshold_mb. Fed with the ring buffer records and a periodic
 * check; reads /proc for what the kernel side does not report (the state and parent of a
 * process now). Sends no signal: cleanup.h acts on the leftovers it finds.
 */
#ifndef __QH_PROCWATCH_H
#define __QH_PROCWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proctree.h"

#define QH_MAX_DRIVER_PATTERNS 32
#define QH_DEFAULT_DRIVER_PATTERNS "chromedriver", "geckodriver", "msedgedriver", \
	"operadriver", "safaridriver"
#define QH_DEFAULT_BROWSER_PATTERNS "chrome", "chromium", "firefox", "msedge", "opera"
/* samples of an instance's memory kept for the report (halved, every other one, when full) */
#define QH_DRIVER_TIMELINE 64

/* The settings, as the command line (or a config file) gives them. */
struct procwatch_opts {
	/* fnmatch(3) patterns matched against the comm and the exec'd file's base name */
	const char *driver_patterns[QH_MAX_DRIVER_PATTERNS];
	uint32_t n_driver_patterns;
	/* the same, for the browsers of a tree (the report counts them apart) */
	const char *browser_patterns[QH_MAX_DRIVER_PATTERNS];
	uint32_t n_browser_patterns;
	uint32_t force_cleanup_timeout_ms; /* a driver's tree must be gone this long after it */
	uint32_t zombie_grace_ms;	/* exited and not reaped for longer: a zombie */
	uint32_t max_resource_lifetime_s; /* a process older: lifetime_exceeded; 0: no limit */
	uint32_t memory_threshold_mb;	/* an instance over it raises an alert; 0: none */
	uint32_t max_cleanup_attempts;	/* SIGKILL rounds after SIGTERM */
	bool auto_cleanup;		/* --cleanup: terminate leftovers, verify they are gone */
	uint32_t check_interval_ms;	/* the periodic check's pace; 0: QH_WATCH_INTERVAL_MS */
};

/* The options' functions are traceopts.c's: the defaults are those of its table. */
void procwatch_opts__defaults(struct procwatch_opts *o);
struct qh_settings;
/*
 * The settings file's cleanup and webdriver groups (config.h): auto_cleanup,
 * force_cleanup_timeout, zombie_grace, max_resource_lifetime, max_cleanup_attempts, memory_threshold_mb,
 * its driver_patterns, added to those @o has, and its browser_patterns, which replace @o's.
 */
void procwatch_opts__from_settings(struct procwatch_opts *o, const struct qh_settings *s);
/* Recognize one more driver name; -E2BIG when the table is full. */
int procwatch_opts__add_pattern(struct procwatch_opts *o, const char *pattern);

enum leftover_reason {
	LEFTOVER_OUTLIVED_DRIVER = 0,	/* alive force_cleanup_timeout after its driver exited */
	LEFTOVER_OUTLIVED_COMMAND,	/* alive when the traced command had exited */
	LEFTOVER_LIFETIME_EXCEEDED,	/* older than max_resource_lifetime */
	LEFTOVER_OUTLIVED_TEST,		/* alive after the test that started it had ended */
};

struct driver_sample {
	uint64_t ts_ns;	/* CLOCK_BOOTTIME */
	uint64_t rss_kb;
	uint64_t pss_kb;
};

struct driver_inst {
	uint32_t id;			/* 1, 2, ... in order of start */
	char kind[16];			/* the driver's comm after its exec */
	struct proc *driver;
	uint64_t start_ns, end_ns;	/* the driver's exec and exit, CLOCK_BOOTTIME; 0: running */
	struct proc **procs;		/* the driver and every descendant, in order of birth */
	size_t nprocs, cap;
	uint32_t alive, peak_alive;
	uint64_t rss_kb, peak_rss_kb;	/* sum of RSS (file + anon + shmem) of the live tree */
	/*
	 * Sum of PSS (smaps_rollup) of the live tree: a page its processes share counts once in
	 * all, where the RSS sum counts it once per process. USS: pages one process alone maps.
	 * The peak, the memory alert and the timeline come from the same samples (periodic, and
	 * one as each process of the tree exits).
	 */
	uint64_t pss_kb, peak_pss_kb, uss_kb, peak_uss_kb;
	bool pss_known;			/* smaps_rollup was read for the tree at least once */
	uint64_t peak_ns;		/* when the PSS peaked (BOOTTIME) */
	uint64_t shmem_kb, peak_shmem_kb; /* of which shared memory (shmem, memfd, /dev/shm) */
	uint64_t dev_shm_kb, peak_dev_shm_kb; /* the /dev/shm files the live tree maps */
	struct driver_sample timeline[QH_DRIVER_TIMELINE];
	uint32_t nsamples, stride, skipped;
	bool checked;			/* termination verified */
	bool alerted;
	struct proc **survivors;	/* alive force_cleanup_timeout after the driver */
	size_t nsurvivors, cap_survivors;
};

struct zombie {
	struct proc *p;
	uint32_t parent_pid;
	char parent_comm[16];
};

struct orphan {
	struct proc *p;
	uint32_t old_ppid;		/* the parent it was born to */
	uint32_t new_ppid;		/* init, or the subreaper that adopted it */
	char new_parent_comm[16];
	uint64_t ts_ns;			/* when it was seen re-parented */
};

struct leftover {
	struct proc *p;
	enum leftover_reason reason;
	struct driver_inst *driver;	/* or NULL */
	uint64_t ts_ns;			/* when it was found */
};

struct procwatch;

/* Reads the current RSS pages by kind (enum qh rss_stat members) of a running process. */
typedef int (*procwatch_rss_fn)(void *ctx, const struct proc *p, uint64_t pages[QH_NR_RSS]);
/* Reads the PSS and USS (kB) of a running process (procfs__read_rollup); 0 or -errno. */
typedef int (*procwatch_pss_fn)(void *ctx, const struct proc *p, uint64_t *pss_kb,
				uint64_t *uss_kb);

struct procwatch *procwatch__new(const struct procwatch_opts *o, procwatch_rss_fn rss, void *ctx);
void procwatch__free(struct procwatch *w);
/* The trees' PSS and USS come from @pss (none set: PSS is unknown, the RSS sum stands in). */
void procwatch__set_pss(struct procwatch *w, procwatch_pss_fn pss, void *ctx);
/* @p's PSS and USS as last sampled and its peak PSS (kB): false if never sampled. */
bool procwatch__proc_pss(const struct proc *p, uint64_t *pss_kb, uint64_t *uss_kb,
			 uint64_t *peak_pss_kb);
/* The tree's memory the alert and the peak go by: PSS when known, else the RSS sum. */
uint64_t driver_inst__memory_kb(const struct driver_inst *d, bool peak);
struct alerts;
/* Memory alerts go to @a (alerts.h: stderr, the report's `alerts`, the hooks); NULL: none. */
void procwatch__set_alerts(struct procwatch *w, struct alerts *a);
/* The process @root is the traced command: it is never a lifetime_exceeded leftover. */
void procwatch__set_root(struct procwatch *w, const struct proc *root);

/* After proctree__handle_event: follow driver trees (forks, execs, exits, reaps). */
void procwatch__handle_event(struct procwatch *w, struct proctree *t, const void *data,
			     size_t size);
/*
 * The periodic check (rate-limited to QH_WATCH_INTERVAL_MS whatever the caller's pace):
 * memory samples and alerts, driver termination deadlines, zombies, orphans, lifetimes.
 * New outlived_driver leftovers are returned through @fresh / @nfresh (owned by @w, valid
 * until the next call) for an immediate cleanup. @force runs it now.
 */
#define QH_WATCH_INTERVAL_MS 500
void procwatch__check(struct procwatch *w, struct proctree *t, bool force, struct proc ***fresh,
		      size_t *nfresh);
/*
 * @p, started during a test that has ended, is alive (per /proc, same start time): list it as
 * an outlived_test leftover (once; a process already listed keeps its first reason). True
 * when it is alive.
 */
bool procwatch__outlived_test(struct procwatch *w, struct proc *p, uint64_t now_ns);
/* The latest deadline of a driver that ended and whose tree still runs, or 0 (BOOTTIME ns). */
uint64_t procwatch__pending_deadline(const struct procwatch *w);
/*
 * The command has exited: every traced process still alive is an outlived_command leftover
 * (processes the model says are running, checked against /proc). Returns them through
 * @procs (owned by @w).
 */
void procwatch__finish(struct procwatch *w, struct proctree *t, struct proc ***procs,
		       size_t *n);

/* Is @p a browser: its comm, or its executable's base name, matches a browser pattern? */
bool procwatch__is_browser(const struct procwatch *w, const struct proc *p);

/*
 * For a model that lets processes go (monitor): does a finding or a driver's tree point at @p?
 * Then it must stay. procwatch__release frees @p's state before the model frees @p (false,
 * and nothing done, when it is held); procwatch__trim lets the oldest zombies and orphans go
 * beyond @keep of each (counted), so their processes can go too.
 */
bool procwatch__holds(const struct proc *p);
bool procwatch__release(struct procwatch *w, struct proc *p);
void procwatch__trim(struct procwatch *w, size_t keep);
/* The instance @p belongs to, or NULL. */
const struct driver_inst *procwatch__driver_of(const struct proc *p);
const char *leftover_reason__str(enum leftover_reason r);

size_t procwatch__drivers(const struct procwatch *w, const struct driver_inst *const **out);
size_t procwatch__zombies(const struct procwatch *w, const struct zombie **out);
size_t procwatch__orphans(const struct procwatch *w, const struct orphan **out);
size_t procwatch__leftovers(const struct procwatch *w, const struct leftover **out);
/* How long @z has been a zombie: until it was reaped, or until @now. */
double zombie__duration_s(const struct zombie *z, uint64_t now_ns);
/* Machine-wide /dev/shm use, its highest sample while a driver ran (kB). */
uint64_t procwatch__dev_shm_kb(const struct procwatch *w, uint64_t *peak);

/* The report's parts: adds drivers, driver_totals, zombies, orphans, leftovers. */
struct cJSON;
void procwatch__add_json(const struct procwatch *w, struct cJSON *root, uint64_t now_ns);
/*
 * The driver trees (one line each), zombies, orphans (the routine ones folded) and leftovers
 * grouped by driver tree with what the cleanup @c (or NULL) did to them, as text, every list
 * capped. @tests (or NULL) names a tree's test.
 */
struct cleanup;
struct testattr;
void procwatch__summary(FILE *out, const struct procwatch *w, const struct cleanup *c,
			const struct testattr *tests, uint64_t now_ns);

#endif
