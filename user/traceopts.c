// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "fdleaks.h"
#include "gate.h"
#include "heapleaks.h"
#include "leakclass.h"
#include "log.h"
#include "opttab.h"
#include "procwatch.h"
#include "severity.h"
#include "testattr.h"
#include "tracer.h"
#include "traceopts.h"

#define A QH_OPTS_ATTACH
#define L QH_OPTS_LEAKS
#define F QH_OPTS_FDS
#define M QH_OPTS_MONITOR
#define OFF(field) offsetof(struct attach_opts, field)

static int parse_fail_on(const struct opt_spec *o, const char *arg, void *dst)
{
	char why[160];

	if (gate__parse_classes(arg, dst, why, sizeof(why))) {
		pr_err("--%s: %s\n", o->name, why);
		return -EINVAL;
	}
	return 0;
}

static int parse_leak_kinds(const struct opt_spec *o, const char *arg, void *dst)
{
	char why[160];

	if (leak_kinds__parse(arg, dst, why, sizeof(why))) {
		pr_err("--%s: %s\n", o->name, why);
		return -EINVAL;
	}
	return 0;
}

/* repeatable; the files are read (and a malformed one refused) before anything starts */
static int parse_suppressions(const struct opt_spec *o, const char *arg, void *dst)
{
	struct attach_opts *a = (struct attach_opts *)((char *)dst - OFF(suppressions));

	if (!*arg) {
		pr_err("--%s: the file name is empty\n", o->name);
		return -EINVAL;
	}
	if (a->n_suppressions >= QH_MAX_PATTERNS) {
		pr_err("--%s: more than %d files\n", o->name, QH_MAX_PATTERNS);
		return -EINVAL;
	}
	a->suppressions[a->n_suppressions++] = arg;
	return 0;
}

static int parse_severity(const struct opt_spec *o, const char *arg, void *dst)
{
	enum severity sev;

	if (severity__parse(arg, &sev)) {
		pr_err("--%s: '%s' is not low, medium, high or critical\n", o->name, arg);
		return -EINVAL;
	}
	*(int *)dst = sev;
	return 0;
}

static int parse_pattern(const struct opt_spec *o, const char *arg, void *dst)
{
	if (!*arg) {
		pr_err("--%s: the pattern is empty\n", o->name);
		return -EINVAL;
	}
	if (procwatch_opts__add_pattern(dst, arg)) {
		pr_err("--%s: more than %d patterns\n", o->name, QH_MAX_DRIVER_PATTERNS);
		return -EINVAL;
	}
	return 0;
}

/* --job-env NAME: a variable name, as the environment has it */
static int parse_job_env(const struct opt_spec *o, const char *arg, void *dst)
{
	struct job_rules *r = dst;
	size_t i;

	for (i = 0; arg[i]; i++)
		if (!(arg[i] == '_' || (arg[i] >= 'A' && arg[i] <= 'Z') ||
		      (arg[i] >= 'a' && arg[i] <= 'z') || (i && arg[i] >= '0' && arg[i] <= '9')))
			break;
	if (!i || arg[i] || i >= 64) {
		pr_err("--%s: '%s' is not a variable name (letters, digits, '_')\n", o->name, arg);
		return -EINVAL;
	}
	if (r->n_env >= QH_MAX_JOB_ENV) {
		pr_err("--%s: more than %d names\n", o->name, QH_MAX_JOB_ENV);
		return -EINVAL;
	}
	r->env[r->n_env++] = arg;
	return 0;
}

/* --job-cgroup PATTERN: fnmatch(3) on a cgroup v2 path, which starts with '/' */
static int parse_job_cgroup(const struct opt_spec *o, const char *arg, void *dst)
{
	struct job_rules *r = dst;

	if (arg[0] != '/' && arg[0] != '*') {
		pr_err("--%s: '%s' does not match a cgroup path (they start with '/', as in "
		       "/proc/PID/cgroup: /system.slice/runner-*.scope)\n", o->name, arg);
		return -EINVAL;
	}
	if (r->n_cgroup >= QH_MAX_JOB_CGROUP) {
		pr_err("--%s: more than %d patterns\n", o->name, QH_MAX_JOB_CGROUP);
		return -EINVAL;
	}
	r->cgroup[r->n_cgroup++] = arg;
	return 0;
}

/*
 * --heap-match [comm:|exe:|cgroup:]PAT: fnmatch(3) on the comm, the exe's path, the cgroup v2
 * path; no prefix: the comm or the exe's path
 */
static int parse_heap_match(const struct opt_spec *o, const char *arg, void *dst)
{
	struct attach_opts *a = (struct attach_opts *)((char *)dst - OFF(heap_match));
	const char *pat = strchr(arg, ':');

	if (pat && (!strncmp(arg, "comm:", 5) || !strncmp(arg, "exe:", 4) ||
		    !strncmp(arg, "cgroup:", 7)))
		pat++;
	else
		pat = arg;
	if (!*pat) {
		pr_err("--%s: the pattern is empty\n", o->name);
		return -EINVAL;
	}
	if (!strncmp(arg, "cgroup:", 7) && pat[0] != '/' && pat[0] != '*') {
		pr_err("--%s: '%s' does not match a cgroup path (they start with '/', as in "
		       "/proc/PID/cgroup)\n", o->name, pat);
		return -EINVAL;
	}
	if (a->n_heap_match >= QH_MAX_HEAP_MATCH) {
		pr_err("--%s: more than %d patterns\n", o->name, QH_MAX_HEAP_MATCH);
		return -EINVAL;
	}
	a->heap_match[a->n_heap_match++] = arg;
	return 0;
}

/* enum qh_heap_probes and enum qh_fd_probes (tracer.h), in order */
static const char *const heap_probes[] = { "auto", "tree", "multi", "each", NULL };
static const char *const fd_probes[] = { "auto", "fentry", "syscalls", "dispatch", NULL };
static const char *const sorts[] = { "bytes", "count", NULL };
static const char *const default_drivers[] = { QH_DEFAULT_DRIVER_PATTERNS, NULL };
static const char *const default_browsers[] = { QH_DEFAULT_BROWSER_PATTERNS, NULL };

/* in --help's order; `qhtrace leaks` and `fds` list theirs in the same order */
const struct opt_spec traceopts[] = {
	{ "pid", 'p', OPT_U32, "PID", 1, 4194304, .off = OFF(pid), .cmds = L | F,
	  .help = "the process to follow (required)" },
	{ "duration", 'd', OPT_U32, "S", 1, 31536000, .off = OFF(duration_s), .cmds = L | F | M,
	  .shown = "none: until Ctrl-C or the exit", .help = "stop after S seconds" },
	{ "output", 'o', OPT_STR, "FILE", .off = OFF(output), .cmds = A | L | F,
	  .help = "write the JSON report to FILE (not a symlink; its directory must exist)" },
	{ "quiet", 'q', OPT_FLAG, .off = OFF(quiet), .cmds = A | L | F | M,
	  .help = "no summary on stderr" },
	{ "verbose", 'v', OPT_COUNT, .off = OFF(verbose), .cmds = A | L | F | M,
	  .help = "debug messages, probe offsets, libbpf's own output" },
	{ "max-procs", 0, OPT_U32, "N", 64, 4194304, .off = OFF(max_procs),
	  .def = OPT_TEXT(QH_DEFAULT_MAX_PROCS), .cmds = A | L | F | M,
	  .help = "processes traced at once" },
	{ "ringbuf-size", 0, OPT_POW2, "KB", 64, 1048576, .off = OFF(ringbuf_kb),
	  .def = OPT_TEXT(QH_DEFAULT_RINGBUF_KB), .cmds = A | L | F | M,
	  .help = "ring buffer in KiB, a power of two" },
	{ "heap", 0, OPT_FLAG, .off = OFF(heap), .cmds = A,
	  .help = "follow the malloc family of the C library (uprobes): live heap bytes and "
		  "blocks per process (leaks: always)" },
	{ "max-allocs", 0, OPT_U32, "N", 1024, 67108864, .off = OFF(max_allocs),
	  .def = OPT_TEXT(QH_DEFAULT_MAX_ALLOCS), .cmds = A | L | M,
	  .help = "live heap blocks followed at once" },
	{ "no-stacks", 0, OPT_UNFLAG, .off = OFF(stacks), .cmds = A | L | M,
	  .help = "record the caller of each allocation, not its whole stack (cheaper)" },
	{ "sample-rate", 0, OPT_U32, "N", 1, 1000000, .off = OFF(sample_rate), .def = "1",
	  .cmds = A | L,
	  .help = "record one allocation in N (1: all; counts and bytes are then of the "
		  "sample)" },
	{ "min-size", 0, OPT_BYTES, "BYTES", .off = OFF(min_size), .def = "0", .cmds = A | L | M,
	  .help = "ignore allocations smaller than this" },
	{ "max-size", 0, OPT_BYTES, "BYTES", .off = OFF(max_size),
	  .def = "18446744073709551615", .shown = "none", .cmds = A | L | M,
	  .help = "ignore allocations larger than this" },
	{ "min-age", 0, OPT_U32, "S", 0, 86400, .off = OFF(min_age_s), .def = "5", .cmds = A | L,
	  .help = "in processes still running at the end, blocks younger than S seconds are "
		  "not leaks" },
	{ "leak-threshold-mb", 0, OPT_U32, "N", 1, 1048576, .off = OFF(leak_threshold_mb),
	  .def = "10", .cmds = A | L | M,
	  .help = "severity scale: critical from N MiB outstanding, high from N/4, medium from "
		  "N/16" },
	{ "leak-kinds", 0, OPT_FN, "KINDS", .fn = parse_leak_kinds, .off = OFF(leak_kinds),
	  .def = "definite,indirect", .cmds = A | L | M,
	  .help = "the classes of the scan at exit that are leaks (listed first, graded, "
		  "gated by --fail-on leaks), as valgrind's --errors-for-leak-kinds: "
		  "comma-separated definite, indirect, possible, reachable, unclassified, all, "
		  "none. Findings of the other classes are listed with their class and "
		  "\"counted\": false" },
	{ "suppressions", 0, OPT_FN, "FILE", .fn = parse_suppressions, .off = OFF(suppressions),
	  .cmds = A | L | M,
	  .help = "LeakSanitizer-format suppressions (leak:PATTERN lines, matched against the "
		  "function, source file and module of every frame; * wildcard, ^ and $ "
		  "anchors): leaks they match are left out and counted per entry; repeatable (up "
		  "to " OPT_TEXT(QH_MAX_PATTERNS) " files); a malformed line is refused with its "
		  "number (exit " OPT_TEXT(QH_EXIT_USAGE) ")" },
	{ "show-runtime", 0, OPT_FLAG, .off = OFF(show_runtime), .cmds = A | L | M,
	  .help = "list the runtime's own blocks too (stacks wholly in libc, ld.so or the C++ "
		  "runtime: stdio buffers, locale, the loader's per-thread blocks); they are "
		  "counted apart as runtime_internal and never gated" },
	{ "no-hold", 0, OPT_FLAG, .off = OFF(no_hold), .cmds = A | L | M,
	  .help = "no ptrace hold at exit (attach) or at the end (leaks), so no classes: every "
		  "block is unclassified. For programs that use ptrace themselves (debuggers, "
		  "strace, gdb-driven tests) or run under another tracer, and for ASan/LSan "
		  "builds (LeakSanitizer stops its threads with ptrace at exit: only one tracer "
		  "is allowed)" },
	{ "top", 0, OPT_U32, "N", 0, 1000, .off = OFF(top), .def = "10", .cmds = A | L,
	  .help = "heap leaks listed in the summary" },
	{ "sort", 0, OPT_NAME, .names = sorts, .off = OFF(sort_by_count), .def = "bytes",
	  .cmds = A | L, .help = "order of the heap leaks" },
	{ "heap-probes", 0, OPT_NAME, .names = heap_probes, .off = OFF(heap_probes),
	  .def = "auto", .cmds = A | L,
	  .help = "how the malloc family is probed: tree: only in the traced command's tree "
		  "(attach; other processes pay nothing); multi: in every process mapping the C "
		  "library, one uprobe_multi link (Linux 6.6+); each: the same with a uprobe per "
		  "function. auto: tree for attach where the kernel keeps it, else multi, else "
		  "each" },
	{ "check-interval", 0, OPT_U32, "S", 0, 86400, .off = OFF(check_interval_s), .def = "10",
	  .cmds = A | L | F,
	  .help = "leak_check_interval: heap and fd checks every S seconds, 0 for none; a call "
		  "site that grows at " OPT_TEXT(QH_GROWING_CHECKS) " checks in a row is one "
		  "severity level up; fds of one kind and target that grow at "
		  OPT_TEXT(QH_FD_GROWING_CHECKS) " checks in a row are a leak" },
	{ "no-fds", 0, OPT_FLAG, .off = OFF(no_fds), .cmds = A | M,
	  .help = "do not follow fds and sockets (their syscalls are then not probed at all)" },
	{ "max-fds", 0, OPT_U32, "N", 1024, 16777216, .off = OFF(max_fds),
	  .def = OPT_TEXT(QH_DEFAULT_MAX_FDS), .cmds = A | F, .help = "fds followed at once" },
	{ "resource-leak-count", 0, OPT_U32, "N", 1, 1000000, .off = OFF(resource_leak_count),
	  .def = OPT_TEXT(QH_DEFAULT_RESOURCE_LEAK_COUNT), .cmds = A | F,
	  .help = "fd severity scale: critical from N fds, high from N/4, medium from N/16" },
	{ "fd-stacks", 0, OPT_FLAG, .off = OFF(fd_stacks), .cmds = A | F,
	  .help = "name the function (file:line) that opened the fds of each finding, from a "
		  "user stack per fd opened (costs more per open); default: the syscall's name" },
	{ "fd-probes", 0, OPT_NAME, .names = fd_probes, .off = OFF(fd_probes), .def = "auto",
	  .cmds = A | F | M,
	  .help = "how fd syscalls are probed: fentry: an fexit program on each syscall's "
		  "kernel function (other processes keep the fast syscall path; exits about 3 s "
		  "later than syscalls: the kernel unhooks the functions one at a time; an error "
		  "where the kernel refuses fentry); syscalls: a tracepoint per syscall (every "
		  "process of the machine takes the slow syscall path); dispatch: one raw "
		  "tracepoint on every syscall's exit (every syscall pays; exits 1 s sooner than "
		  "syscalls). auto: fentry where the kernel allows it, else syscalls. mmap, "
		  "munmap, mremap and brk use fentry when the fd syscalls do (or, with --no-fds, "
		  "when auto finds it allowed), else tracepoints" },
	{ "events", 0, OPT_STR, "FILE", .off = OFF(events), .cmds = A | L | F | M,
	  .help = "log every event, one JSON object per line (FILE.gz: gzip)" },
	{ "config", 0, OPT_STR, "FILE", .off = OFF(config), .cmds = A | L | F | M,
	  .help = "settings file (see 'qhtrace config --print-defaults'); options given here "
		  "override it" },
	{ "alert-exec", 0, OPT_STR, "CMD", .off = OFF(alert_exec), .cmds = A | L | F,
	  .help = "run CMD (sh -c) for each alert, its JSON on stdin" },
	{ "alert-timeout", 0, OPT_U32, "S", 1, 3600, .off = OFF(alert_timeout_s), .def = "10",
	  .cmds = A | L | F, .help = "kill a hook still running after S s" },
	{ "fail-on", 0, OPT_FN, "CLASSES", .fn = parse_fail_on, .off = OFF(fail_on),
	  .cmds = A | L | F,
	  .help = "exit " OPT_TEXT(QH_EXIT_GATE) " when one of the CLASSES (comma-separated: leaks, "
		  "fds, zombies, leftovers, lost-events, alerts) has findings (and CMD, or the watch, "
		  "ended with 0); leaks turns on --heap, counts the classes of --leak-kinds, and the "
		  "verdict names every process whose heap could not be followed" },
	{ "fail-severity", 0, OPT_FN, "L", .fn = parse_severity, .off = OFF(fail_severity),
	  .def = "low", .cmds = A | L | F,
	  .help = "only findings of severity L or above count: low, medium, high, critical" },
	{ "junit", 0, OPT_STR, "FILE", .off = OFF(junit), .cmds = A | L | F,
	  .help = "JUnit XML: a test case per finding class" },
	{ "summary-md", 0, OPT_STR, "FILE", .off = OFF(summary_md), .cmds = A | L | F,
	  .help = "a Markdown summary for CI job pages" },
	{ "html", 0, OPT_STR, "FILE", .off = OFF(html), .cmds = A | L | F,
	  .help = "the report as one self-contained HTML page: verdict, process timeline, "
		  "memory over time, heap leak flame graph, every finding" },
#define TESTS "the command's user, and tests"
	{ "user", 'u', OPT_STR, "NAME|UID", .off = OFF(user), .cmds = A, .group = TESTS,
	  .shown = "the user who ran sudo (SUDO_UID), else qhtrace's own",
	  .help = "run CMD as this user, with its groups (initgroups), HOME, USER and LOGNAME, "
		  "as sudo would have; qhtrace keeps its privileges" },
	{ "as-root", 0, OPT_FLAG, .off = OFF(as_root), .cmds = A, .group = TESTS,
	  .help = "under sudo, run CMD as root instead of the user who ran sudo" },
	{ "test-grace", 0, OPT_MS, "S", 0, 3600000, .off = OFF(test_grace_ms),
	  .def = OPT_TEXT(QH_DEFAULT_TEST_GRACE_S), .cmds = A, .group = TESTS,
	  .help = "a process a test started (a driver, a browser, a child) still alive S "
		  "seconds after the test ended is a leftover outlived_test" },
#define WATCH "WebDriver trees, zombies, leftovers"
	{ "driver-pattern", 0, OPT_FN, "PAT", .fn = parse_pattern, .names = default_drivers,
	  .off = OFF(watch), .cmds = A | M, .group = WATCH,
	  .help = "one more WebDriver name (fnmatch(3) on the comm and on the exec'd file's "
		  "name), beside the default ones; repeatable, up to "
		  OPT_TEXT(QH_MAX_DRIVER_PATTERNS) " in all" },
	{ "force-cleanup-timeout", 0, OPT_MS, "S", 100, 3600000,
	  .off = OFF(watch.force_cleanup_timeout_ms), .def = "10", .cmds = A | M, .group = WATCH,
	  .help = "a driver's tree must be gone S seconds after it; also the wait after each "
		  "signal of --cleanup" },
	{ "end-grace", 0, OPT_MS, "S", 0, 3600000, .off = OFF(end_grace_ms), .def = "2",
	  .cmds = A, .group = WATCH,
	  .help = "when CMD has exited, wait at most S seconds (announced) for the trees of "
		  "drivers that just ended to go; what is left then is a leftover" },
	{ "zombie-grace", 0, OPT_MS, "S", 100, 86400000, .off = OFF(watch.zombie_grace_ms),
	  .def = "5", .cmds = A | M, .group = WATCH,
	  .help = "exited and not reaped for longer: a zombie" },
	{ "max-lifetime", 0, OPT_U32, "S", 0, 31536000,
	  .off = OFF(watch.max_resource_lifetime_s), .def = "3600", .cmds = A, .group = WATCH,
	  .help = "max_resource_lifetime: a process older is a leftover, 0 for none" },
	{ "memory-threshold-mb", 0, OPT_U32, "N", 0, 1048576,
	  .off = OFF(watch.memory_threshold_mb), .def = "1024", .cmds = A, .group = WATCH,
	  .help = "alert when a driver's tree uses more, 0 for none" },
	{ "cleanup", 0, OPT_FLAG, .off = OFF(watch.auto_cleanup), .cmds = A | M, .group = WATCH,
	  .help = "terminate leftovers (SIGTERM, then SIGKILL) through pidfds and verify each "
		  "is gone" },
	{ "max-cleanup-attempts", 0, OPT_U32, "N", 1, 100,
	  .off = OFF(watch.max_cleanup_attempts), .def = "3", .cmds = A | M, .group = WATCH,
	  .help = "SIGKILL rounds" },
#define HEAPM "heap (monitor)"
	{ "heap-match", 0, OPT_FN, "PAT", .fn = parse_heap_match, .off = OFF(heap_match),
	  .cmds = M, .group = HEAPM,
	  .help = "follow the malloc family of the processes that match PAT, and of no other: "
		  "comm:PAT (fnmatch(3) on the comm), exe:PAT (on the exec'd file's path), "
		  "cgroup:PAT (on the cgroup v2 path), PAT alone (the comm or the exe's path). "
		  "Checked at exec, at fork (a child has its parent's comm and exe) and for the "
		  "processes running at the start; each gets probes of its own once its record is "
		  "read, so its first allocations are not seen. Its heap findings go into its "
		  "job's report, or heap-PID-START.json in the spool; repeatable, up to "
		  OPT_TEXT(QH_MAX_HEAP_MATCH) },
	{ "heap-max-roots", 0, OPT_U32, "N", 1, 256, .off = OFF(heap_max_roots),
	  .def = OPT_TEXT(QH_DEFAULT_HEAP_MAX_ROOTS), .cmds = M, .group = HEAPM,
	  .help = "processes heap-traced at once (two links, two fds each); a match beyond is "
		  "not traced, and counted (qhtrace_heap_refused_total)" },
#define JOBS "CI jobs (monitor)"
	{ "spool", 0, OPT_STR, "DIR", .off = OFF(spool), .def = "/var/lib/qhtrace/jobs",
	  .cmds = M, .group = JOBS,
	  .help = "write each job's report (the attach report, plus \"job\") into DIR when the "
		  "job has ended; made if missing (mode 0750), never through a symlink" },
	{ "job-env", 0, OPT_FN, "NAME", .fn = parse_job_env, .off = OFF(jobs), .cmds = M,
	  .group = JOBS,
	  .help = "a process that execs with NAME set (not empty), in no job yet, starts a job "
		  "keyed by its value; beside the built-in GITHUB_RUN_ID+GITHUB_JOB, CI_JOB_ID "
		  "(GitLab), BUILD_TAG (Jenkins), BUILDKITE_JOB_ID; repeatable, up to "
		  OPT_TEXT(QH_MAX_JOB_ENV) },
	{ "job-cgroup", 0, OPT_FN, "PAT", .fn = parse_job_cgroup, .off = OFF(jobs), .cmds = M,
	  .group = JOBS,
	  .help = "a process that execs in a cgroup whose v2 path matches PAT (fnmatch(3)), in "
		  "no job yet, starts a job keyed by the path: for runners that give each job a "
		  "cgroup or a container; repeatable, up to " OPT_TEXT(QH_MAX_JOB_CGROUP) },
	{ "job-grace", 0, OPT_MS, "S", 0, 86400000, .off = OFF(job_grace_ms), .def = "10",
	  .cmds = M, .group = JOBS,
	  .help = "when a job's last root has exited, what of the job is still alive S seconds "
		  "later outlived it (an outlived_job leftover; terminated with --cleanup)" },
	{ "metrics-addr", 0, OPT_STR, "ADDR", .off = OFF(metrics_addr), .def = "127.0.0.1:9433",
	  .cmds = M, .group = JOBS,
	  .help = "serve Prometheus metrics on ADDR (HOST:PORT, [V6]:PORT, :PORT); \"\" for none" },
	{ "socket", 0, OPT_STR, "PATH", .off = OFF(socket), .def = "/run/qhtrace/monitor.sock",
	  .cmds = M, .group = JOBS,
	  .help = "answer `qhtrace status` on this socket (root only: mode 0600); \"@NAME\" for "
		  "an abstract one, \"\" for none" },
	{ "help", 'h', OPT_HELP, .cmds = A | L | F | M, .help = "this text" },
};
const size_t traceopts_n = sizeof(traceopts) / sizeof(traceopts[0]);

const struct opt_spec *traceopts__find(const char *name)
{
	return opttab__find(traceopts, traceopts_n, name);
}

void traceopts__defaults(struct attach_opts *o)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	opttab__defaults(traceopts, traceopts_n, o);
	for (i = 0; default_drivers[i]; i++)
		o->watch.driver_patterns[i] = default_drivers[i];
	o->watch.n_driver_patterns = i;
	for (i = 0; default_browsers[i]; i++)
		o->watch.browser_patterns[i] = default_browsers[i];
	o->watch.n_browser_patterns = i;
}

/* procwatch.h's options functions: its defaults are the table's */
void procwatch_opts__defaults(struct procwatch_opts *w)
{
	struct attach_opts o;

	traceopts__defaults(&o);
	*w = o.watch;
}

int procwatch_opts__add_pattern(struct procwatch_opts *o, const char *pattern)
{
	if (o->n_driver_patterns >= QH_MAX_DRIVER_PATTERNS)
		return -E2BIG;
	o->driver_patterns[o->n_driver_patterns++] = pattern;
	return 0;
}

void procwatch_opts__from_settings(struct procwatch_opts *o, const struct qh_settings *s)
{
	uint32_t i, k;

	o->auto_cleanup = s->auto_cleanup;
	o->force_cleanup_timeout_ms = s->force_cleanup_timeout * 1000 + 0.5;
	o->zombie_grace_ms = s->zombie_grace * 1000 + 0.5;
	o->max_resource_lifetime_s = s->max_resource_lifetime;
	o->max_cleanup_attempts = s->max_cleanup_attempts;
	o->memory_threshold_mb = s->memory_threshold_mb;
	for (i = 0; i < s->n_driver_patterns && i < QH_MAX_PATTERNS; i++) {
		for (k = 0; k < o->n_driver_patterns; k++)
			if (!strcmp(o->driver_patterns[k], s->driver_patterns[i]))
				break;
		if (k == o->n_driver_patterns &&
		    procwatch_opts__add_pattern(o, s->driver_patterns[i]))
			break;
	}
	o->n_browser_patterns = 0;
	for (i = 0; i < s->n_browser_patterns && i < QH_MAX_DRIVER_PATTERNS; i++)
		o->browser_patterns[o->n_browser_patterns++] = s->browser_patterns[i];
}
