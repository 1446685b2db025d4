/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --config FILE: the settings file (JSON), grouped as profiler, data, cleanup, webdriver and
 * alert_thresholds. Every key is checked (name, type, range) before anything starts. Keys
 * that options of attach_opts already cover are copied there (command-line options override
 * them); the others are read from struct qh_settings by the feature they belong to.
 */
#ifndef __QH_CONFIG_H
#define __QH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define QH_MAX_PATTERNS 16
#define QH_PATTERN_LEN 128

enum qh_compression {
	QH_COMPRESS_AUTO = 0,	/* gzip when the file name ends in .gz */
	QH_COMPRESS_GZIP,
	QH_COMPRESS_NONE,
};

struct qh_settings {
	/* profiler */
	uint32_t leak_check_interval; /* s, 0: no periodic check -> attach_opts.check_interval_s */
	uint32_t leak_threshold_mb;	/* -> attach_opts.leak_threshold_mb */
	bool enable_leak_detection;	/* -> attach_opts.heap */
	uint32_t monitoring_interval;	/* s, how often memory_usage_percent is evaluated */
	uint32_t max_snapshots;		/* periodic snapshots kept (monitor) */
	uint32_t n_suppressions;	/* -> attach_opts.suppressions, before --suppressions */
	char suppressions[QH_MAX_PATTERNS][QH_PATTERN_LEN];
	/* data */
	uint32_t max_memory_mb;		/* qhtrace's own memory budget (monitor) */
	uint32_t chunk_size;		/* event log records per chunk */
	enum qh_compression compression_type;
	uint32_t compression_level;	/* zlib 1..9 */
	uint32_t log_max_size_mb;	/* event log rotation, 0: no size limit */
	uint32_t log_max_age_hours;	/* 0: no age limit */
	uint32_t log_keep;		/* closed event log files kept, 0: all */
	/* cleanup: read by the cleanup module */
	bool auto_cleanup;
	uint32_t cleanup_interval;	/* s */
	uint32_t max_resource_lifetime;	/* s */
	uint32_t max_cleanup_attempts;
	double force_cleanup_timeout;	/* s, SIGTERM -> SIGKILL (fractions, as the option) */
	double zombie_grace;		/* s an exited process may wait to be reaped */
	/* webdriver: read by the driver module; patterns match a process's comm or exe name */
	uint32_t memory_threshold_mb;
	uint32_t n_driver_patterns;
	char driver_patterns[QH_MAX_PATTERNS][QH_PATTERN_LEN];
	uint32_t n_browser_patterns;
	char browser_patterns[QH_MAX_PATTERNS][QH_PATTERN_LEN];
	/* alert_thresholds */
	double memory_usage_percent;	/* traced tree's RSS / MemTotal */
	uint32_t memory_leak_mb;	/* one heap leak finding */
	uint32_t resource_leak_count;	/* fds (and other resources) left open */
};

void config__defaults(struct qh_settings *s);
/*
 * Read and check @path into @s (which holds the defaults or earlier values). 0, or -errno
 * with a one-line reason in @why naming the key and what it allows.
 */
int config__load(const char *path, struct qh_settings *s, char *why, size_t len);
/* The same from JSON text (the tests use it). */
int config__parse(const char *text, struct qh_settings *s, char *why, size_t len);
/* The settings as a config file (JSON), e.g. the defaults for --print-defaults. */
void config__print(FILE *out, const struct qh_settings *s);
const char *config__compression_str(enum qh_compression c);

/* Reloading (the monitor's SIGHUP) */
#define QH_CONFIG_MAX_KEYS 48	/* at least the number of keys */
#define QH_CONFIG_VALUE_LEN 96	/* a value's text, cut with "..." beyond */

struct config_change {
	char key[64];		/* "profiler.monitoring_interval" */
	char from[QH_CONFIG_VALUE_LEN];	/* the values as the file writes them: 5, "gzip", [...] */
	char to[QH_CONFIG_VALUE_LEN];
	bool restart;		/* fixed until a restart (probes, the open log's stream) */
};

struct config_changes {
	size_t n;
	struct config_change c[QH_CONFIG_MAX_KEYS];
};

/* The keys whose values differ from @a to @b, in the table's order. 0 or -ENOMEM. */
int config__diff(const struct qh_settings *a, const struct qh_settings *b,
		 struct config_changes *out);
/*
 * One change for the log: "profiler.monitoring_interval 5 -> 10", or for a key fixed until a
 * restart "profiler.enable_leak_detection false -> true: needs a restart, false kept until
 * then". Returns @buf.
 */
const char *config__change_str(const struct config_change *c, char *buf, size_t len);
/*
 * Read @path again, over the defaults as at start (a key taken out of the file gets its
 * default back; command-line options, which override the file, are the caller's to apply
 * again), and check it whole. 0: @next holds the new settings, @chg what changed, and the
 * keys that need a restart keep @cur's values in @next (listed with .restart). -errno: @next
 * is @cur unchanged, no change is listed, and @why is one line, "FILE:LINE: what" (the line
 * when known: "qh.json:4: data.chunk_size: 0 is out of range: an integer in 1..1000000").
 */
int config__reload(const char *path, const struct qh_settings *cur, struct qh_settings *next,
		   struct config_changes *chg, char *why, size_t len);

#endif
