/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Alerts: a threshold crossed. Each goes to stderr, into the report's `alerts`, into the
 * event log and, with --alert-exec CMD, to CMD's stdin as one JSON object. A hook runs in its
 * own process group and is killed after its timeout: a slow or failing hook never blocks
 * tracing. A detector calls alerts__check() with its current value (or alerts__fire()).
 */
#ifndef __QH_ALERTS_H
#define __QH_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "severity.h"

#define QH_ALERTS_MAX 1000	/* kept for the report; more are counted, not kept */
#define QH_ALERT_HOOKS_MAX 8	/* hooks running at once; more alerts skip the hook */

struct alert {
	char kind[32];		/* memory_leak, memory_usage, resource_leak, ... */
	char key[64];		/* what it is about (one alert per kind and key while crossed) */
	enum severity severity;
	char message[256];
	double value;
	double threshold;
	uint64_t real_ns;	/* CLOCK_REALTIME when it fired */
	bool crossed;		/* still above the threshold */
};

struct evlog;

struct alerts_opts {
	const char *exec;	/* --alert-exec: run through /bin/sh -c, or NULL */
	uint32_t timeout_s;	/* a hook still running after this is killed */
	struct evlog *log;	/* or NULL */
	bool quiet;		/* no line on stderr (alerts, hook failures) */
	bool tty;		/* stderr is a terminal: each alert's line on a line of its own */
};

struct alerts;

struct alerts *alerts__new(const struct alerts_opts *o);
/* Wait for running hooks until their timeouts, kill what is left. Accepts NULL. */
void alerts__wait(struct alerts *a);
/* alerts__wait(), then free. Accepts NULL. */
void alerts__free(struct alerts *a);
void alerts__set_log(struct alerts *a, struct evlog *log);
/* Hold the alerts' lines (while the traced command writes to the same stderr), or not. */
void alerts__hold_lines(struct alerts *a, bool hold);
/* Print the lines held, and hold no more. */
void alerts__release_lines(struct alerts *a);

/*
 * Fire an alert now: 0, or -EALREADY when an alert of this kind and key is still crossed
 * (a condition that persists fires once), -ENOMEM.
 */
int alerts__fire(struct alerts *a, const char *kind, const char *key, enum severity sev,
		 double value, double threshold, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/*
 * A detector's reading: fires when @value reaches @threshold and the (kind, key) was not
 * crossed; below the threshold it is armed again. Returns true when it fired.
 */
bool alerts__check(struct alerts *a, const char *kind, const char *key, enum severity sev,
		   double value, double threshold, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* Reap finished hooks and kill those past their timeout; call from the event loop. */
void alerts__tick(struct alerts *a);
/* A caller that reaps every child (waitpid(-1)) hands over the status: true if a hook's. */
bool alerts__reaped(struct alerts *a, pid_t pid, int status);

size_t alerts__count(const struct alerts *a);
const struct alert *alerts__get(const struct alerts *a, size_t i);
uint64_t alerts__dropped(const struct alerts *a);
uint64_t alerts__hooks_failed(const struct alerts *a);

/* One alert as a JSON object (caller frees), as the report and the hook see it. */
char *alert__json(const struct alert *al);

/* MemTotal of /proc/meminfo in kB, or 0. */
uint64_t alerts__mem_total_kb(void);

#endif
