/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Command-line grammar: `qhtrace COMMAND [OPTIONS] ...`, help texts and exit codes. */
#ifndef __QH_CLI_H
#define __QH_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "jobs.h"
#include "procwatch.h"

/* Exit codes of qhtrace itself; otherwise `attach` exits with the command's status. */
#define QH_EXIT_ERROR 1	     /* could not trace: privileges, BTF, BPF load, report write */
#define QH_EXIT_USAGE 2	     /* bad command line, output path refused, bad --config */
#define QH_EXIT_GATE 3	     /* CMD exited 0 but a --fail-on class has findings; diff: regression */
#define QH_EXIT_DENIED 4     /* status: the control socket refused us (permissions) */
#define QH_EXIT_NOREPLY 5    /* status: no valid reply (timed out, malformed, request refused) */
#define QH_EXIT_NOEXEC 126   /* command found but not executable */
#define QH_EXIT_NOTFOUND 127 /* command not found */

#define QH_MAX_HEAP_MATCH 16	/* --heap-match patterns */
#define QH_DEFAULT_HEAP_MAX_ROOTS 16

struct attach_opts {
	const char *output;	/* -o: JSON report path, NULL for none */
	bool quiet;		/* -q: no summary table */
	int verbose;		/* -v */
	uint32_t max_procs;
	uint32_t ringbuf_kb;
	bool heap;		/* --heap: follow the malloc family */
	uint32_t max_allocs;
	bool stacks;		/* a user stack per allocation (--no-stacks: the caller only) */
	uint32_t sample_rate;
	uint64_t min_size, max_size;
	uint32_t min_age_s;	/* blocks younger than this in running processes are not leaks */
	uint32_t leak_threshold_mb;
	uint32_t top;		/* leaks shown in the summary */
	int sort_by_count;	/* --sort count (1) or bytes (0) */
	int heap_probes;	/* --heap-probes: enum qh_heap_probes */
	int heap_root;		/* attach: the held command, whose tree the heap probes cover */
	uint32_t check_interval_s; /* leak_check_interval, 0: none */
	bool no_fds;		/* --no-fds: no fd and socket probes */
	int fd_probes;		/* --fd-probes: enum qh_fd_probes */
	bool fd_stacks;		/* --fd-stacks: where each fd was opened */
	bool fd_exit;		/* attach, leaks, fds: what a process held at exit is reported
				 * (not the monitor: every exit of the machine would be) */
	uint32_t max_fds;
	uint32_t resource_leak_count; /* fd findings: severity scale */
	bool fds_mode;		/* `qhtrace fds`: the fd table, no heap */
	uint32_t pid;		/* leaks, fds: the process to follow */
	uint32_t duration_s;	/* leaks: 0 for until Ctrl-C or exit */
	struct procwatch_opts watch; /* drivers, zombies, leftovers, --cleanup */
	int argc;		/* the command to run */
	char **argv;
	const char *events;	/* --events: the NDJSON event log (.gz: gzip), NULL for none */
	const char *config;	/* --config: the settings file, NULL for none */
	const char *alert_exec;	/* --alert-exec: run for each alert, its JSON on stdin */
	uint32_t alert_timeout_s;
	uint32_t fail_on;	/* --fail-on: 1 << enum gate_class (gate.h) */
	int fail_severity;	/* --fail-severity: enum severity, the floor of gated findings */
	const char *junit;	/* --junit: JUnit XML path */
	const char *summary_md;	/* --summary-md: Markdown summary path */
	uint32_t leak_kinds;	/* --leak-kinds: 1 << enum leak_kind (leakclass.h) that count */
	const char *suppressions[QH_MAX_PATTERNS]; /* --suppressions FILE..., then the file's */
	uint32_t n_suppressions;
	bool show_runtime;	/* --show-runtime: list the runtime's own blocks too */
	bool no_hold;		/* --no-hold: no ptrace hold at exit, no classes */
	const char *html;	/* --html: the HTML report's path */
	struct qh_settings settings; /* defaults, then --config; options above override it */
	const char *user;	/* --user NAME|UID: run CMD as this user */
	bool as_root;		/* --as-root: run CMD as root even under sudo */
	uint32_t test_grace_ms;	/* --test-grace: what a test started must be gone this long
				 * after it ended */
	uint32_t end_grace_ms;	/* --end-grace: the end of the run waits at most this long for
				 * the trees of drivers that just ended */
	/* monitor */
	struct job_rules jobs;	/* --job-env, --job-cgroup */
	const char *spool;	/* --spool: the directory of the per-job reports */
	uint32_t job_grace_ms;	/* --job-grace: what of a job is alive this long after it is
				 * an outlived_job leftover */
	const char *metrics_addr; /* --metrics-addr: Prometheus exposition, "" for none */
	const char *socket;	/* --socket: the status socket (qhtrace status), "" for none */
	const char *heap_match[QH_MAX_HEAP_MATCH]; /* --heap-match: [comm:|exe:|cgroup:]PAT */
	uint32_t n_heap_match;
	uint32_t heap_max_roots; /* --heap-max-roots: processes heap-traced at once */
	const char *job_env_names[32]; /* what the kernel looks for at exec (jobs__env_names) */
	size_t n_job_env_names;
	bool events_keep;	/* an event log left at --events is kept as a closed file
				 * (a restart), not replaced */
	/* attach: the control socket (QHTRACE_SOCKET), owned by the user CMD runs as */
	bool control;
	uint32_t run_uid, run_gid;
};

/* 0: run; 1: help was asked for (printed to stdout); -EINVAL: usage error (printed). */
int cli__parse_attach(int argc, char **argv, struct attach_opts *o);
int cli__parse_leaks(int argc, char **argv, struct attach_opts *o);
int cli__parse_fds(int argc, char **argv, struct attach_opts *o);
int cli__parse_monitor(int argc, char **argv, struct attach_opts *o);
void cli__usage_monitor(FILE *out);
void cli__usage_fds(FILE *out);
void cli__usage_leaks(FILE *out);
void cli__usage(FILE *out);
void cli__usage_attach(FILE *out);

#endif
