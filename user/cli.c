// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "log.h"
#include "tracer.h"
#include "util.h"
#include "heapleaks.h"
#include "fdleaks.h"
#include "gate.h"

/* one line of "Commands:" per command, its summary wrapped to the same column */
static void usage_command(FILE *out, const char *name, const char *args, const char *summary)
{
	char head[64];
	const char *nl;
	int w;

	w = snprintf(head, sizeof(head), "%s%s%s", name, *args ? " " : "", args);
	fprintf(out, "  %-34s %s", head, w > 34 ? "  " : "");
	while ((nl = strchr(summary, '\n'))) {
		fprintf(out, "%.*s\n%37s", (int)(nl - summary), summary, "");
		summary = nl + 1;
	}
	fprintf(out, "%s\n", summary);
}

void cli__usage(FILE *out)
{
	fprintf(out, "Usage: qhtrace COMMAND [OPTIONS] ...\n"
		     "\n"
		     "Trace processes with eBPF: lifecycle, memory growth, exits, and what they leave\n"
		     "behind.\n"
		     "\n"
		     "Commands:\n");
#define QH_CMD_USAGE(name, args, summary) usage_command(out, #name, args, summary);
	QH_COMMANDS(QH_CMD_USAGE)
#undef QH_CMD_USAGE
	fprintf(out, "\n"
		     "Examples:\n"
		     "  sudo qhtrace attach -- pytest -x tests/\n"
		     "  sudo qhtrace attach -o report.json -- make check\n"
		     "  sudo qhtrace leaks -p 1234 --duration 30\n"
		     "  qhtrace report events.ndjson.gz --filter kind=exit --page 2\n"
		     "  sudo qhtrace fds -p 1234 --duration 10\n");
}

/* the options of the output side, shared by attach, leaks and fds */
#define OUTPUT_HELP                                                                            \
	"      --events FILE        log every event, one JSON object per line (FILE.gz: gzip)\n" \
	"      --config FILE        settings file (see 'qhtrace config --print-defaults');\n"   \
	"                           options given here override it\n"                           \
	"      --alert-exec CMD     run CMD (sh -c) for each alert, its JSON on stdin\n"        \
	"      --alert-timeout S    kill a hook still running after S s, 1..3600 (default 10)\n" \
	"      --fail-on CLASSES    exit %d when one of leaks,fds,zombies,leftovers,\n"         \
	"                           lost-events,alerts has findings (and CMD exited 0)\n"        \
	"      --fail-severity L    only findings of severity L or above count: low, medium,\n" \
	"                           high, critical (default low)\n"                               \
	"      --junit FILE         JUnit XML: a test case per finding class\n"                 \
	"      --summary-md FILE    a Markdown summary for CI job pages\n"

void cli__usage_fds(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace fds -p PID [OPTIONS]\n"
		"\n"
		"Show the fd table of a running process (kind, target; sockets with their addresses\n"
		"and TCP state), follow it (its threads, and children it forks while watched) and\n"
		"report what it opened and did not close meanwhile, and which fds grew. fds open\n"
		"before qhtrace attached are listed as not seen opened. Stops after --duration, on\n"
		"Ctrl-C or SIGTERM, or when the process exits.\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID            the process to follow (required)\n"
		"  -d, --duration S         stop after S seconds (default: at Ctrl-C or exit)\n"
		"  -o, --output FILE        write the JSON report to FILE\n"
		"  -q, --quiet              no summary on stderr\n"
		"  -v, --verbose            debug messages\n"
		"      --check-interval S, --max-fds N, --resource-leak-count N, --fd-stacks,\n"
		"      --fd-probes P,\n"
		"      --max-procs N, --ringbuf-size KB   as for 'qhtrace attach'\n"
		OUTPUT_HELP
		"\n"
		"Exit status: 0, or %d if tracing could not start or the report could not be\n"
		"written, %d for a bad command line, %d when a --fail-on class has findings.\n"
		"\n"
		"Examples:\n"
		"  sudo qhtrace fds -p 1234 --duration 10\n"
		"  sudo qhtrace fds -p $(pidof myserver) --check-interval 2 -o fds.json\n",
		QH_EXIT_GATE, QH_EXIT_ERROR, QH_EXIT_USAGE, QH_EXIT_GATE);
}

void cli__usage_leaks(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace leaks -p PID [OPTIONS]\n"
		"\n"
		"Follow the heap of a running process (its threads, and the children it forks while\n"
		"watched) and report what it allocated and did not free: bytes, blocks, the oldest\n"
		"block's age and the allocation stack, per call site. Blocks allocated before\n"
		"qhtrace attached are not known; frees of them are counted apart. Stops after\n"
		"--duration, on Ctrl-C or SIGTERM, or when the process exits.\n"
		"\n"
		"Options:\n"
		"  -p, --pid PID            the process to follow (required)\n"
		"  -d, --duration S         stop after S seconds (default: at Ctrl-C or exit)\n"
		"  -o, --output FILE        write the JSON report to FILE\n"
		"  -q, --quiet              no summary on stderr\n"
		"  -v, --verbose            debug messages, probe offsets, libbpf's own output\n"
		"      --max-allocs N, --no-stacks, --sample-rate N, --min-size BYTES,\n"
		"      --max-size BYTES, --min-age S, --leak-threshold-mb N, --top N, --sort,\n"
		"      --check-interval S,\n"
		"      --max-procs N, --ringbuf-size KB   as for 'qhtrace attach'\n"
		OUTPUT_HELP
		"\n"
		"Exit status: 0, or %d if tracing could not start or the report could not be\n"
		"written, %d for a bad command line, %d when a --fail-on class has findings.\n"
		"\n"
		"Examples:\n"
		"  sudo qhtrace leaks -p 1234 --duration 30\n"
		"  sudo qhtrace leaks -p $(pidof myserver) --min-age 60 -o leaks.json\n",
		QH_EXIT_GATE, QH_EXIT_ERROR, QH_EXIT_USAGE, QH_EXIT_GATE);
}

void cli__usage_attach(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace attach [OPTIONS] [--] CMD [ARGS...]\n"
		"\n"
		"Run CMD with every probe attached before its first instruction, trace it and all\n"
		"its descendants, and report when CMD exits: a table of processes on stderr and,\n"
		"with -o, a JSON report (schema qhtrace/report/v1).\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE        write the JSON report to FILE (not a symlink; its\n"
		"                           directory must exist)\n"
		"  -q, --quiet              no summary table on stderr\n"
		"  -v, --verbose            debug messages, libbpf's own output\n"
		"      --max-procs N        processes traced at once, %u..%u (default %u)\n"
		"      --ringbuf-size KB    ring buffer in KiB, a power of two, %u..%u (default %u)\n"
		"      --heap               follow the malloc family of the C library (uprobes):\n"
		"                           live heap bytes and blocks per process\n"
		"      --max-allocs N       live heap blocks followed at once, %u..%u (default %u)\n"
		"      --no-stacks          record the caller of each allocation, not its whole\n"
		"                           stack (cheaper)\n"
		"      --sample-rate N      record one allocation in N, 1..1000000 (default 1: all;\n"
		"                           counts and bytes are then of the sample)\n"
		"      --min-size BYTES     ignore allocations smaller than this (default 0)\n"
		"      --max-size BYTES     ignore allocations larger than this (default: none)\n"
		"      --min-age S          in processes still running at the end, blocks younger\n"
		"                           than S seconds are not leaks, 0..86400 (default 5)\n"
		"      --leak-threshold-mb N  severity scale: critical from N MiB outstanding, high\n"
		"                           from N/4, medium from N/16 (default 10)\n"
		"      --top N              heap leaks listed in the summary, 0..1000 (default 10)\n"
		"      --sort bytes|count   order of the heap leaks (default bytes)\n"
		"      --heap-probes auto|tree|multi|each  how the malloc family is probed:\n"
		"                           tree: only in the traced command's tree (attach; other\n"
		"                           processes pay nothing); multi: in every process mapping\n"
		"                           the C library, one uprobe_multi link (Linux 6.6+);\n"
		"                           each: the same with a uprobe per function. Default\n"
		"                           auto: tree for attach, else multi, else each\n"
		"      --check-interval S   leak_check_interval: heap and fd checks every S seconds;\n"
		"                           a call site that grows at %d checks in a row is one\n"
		"                           severity level up; fds of one kind and target that grow\n"
		"                           at %d checks in a row are a leak; 0..86400, 0 for none\n"
		"                           (default 10)\n"
		"      --no-fds             do not follow fds and sockets (their syscalls are then\n"
		"                           not probed at all)\n"
		"      --max-fds N          fds followed at once, %u..%u (default %u)\n"
		"      --resource-leak-count N  fd severity scale: critical from N fds, high from\n"
		"                           N/4, medium from N/16 (default %u)\n"
		"      --fd-stacks          name the function (file:line) that opened the fds of\n"
		"                           each finding, from a user stack per fd opened (costs\n"
		"                           more per open); default: the syscall's name\n"
		"      --fd-probes auto|fentry|syscalls|dispatch  how fd syscalls are probed:\n"
		"                           fentry: an fexit program on each syscall's kernel\n"
		"                           function (other processes keep the fast syscall path;\n"
		"                           exits about 3 s later than syscalls: the kernel\n"
		"                           unhooks the functions one at a time; an error where\n"
		"                           the kernel refuses fentry); syscalls: a tracepoint\n"
		"                           per syscall (every process of the machine takes the\n"
		"                           slow syscall path); dispatch: one raw tracepoint on\n"
		"                           every syscall's exit (every syscall pays; exits 1 s\n"
		"                           sooner than syscalls). Default auto: fentry where the\n"
		"                           kernel allows it, else syscalls. mmap, munmap, mremap\n"
		"                           and brk use fentry when the fd syscalls do (or, with\n"
		"                           --no-fds, when auto finds it allowed), else\n"
		"                           tracepoints\n"
		OUTPUT_HELP
		"\n"
		"WebDriver trees, zombies, leftovers:\n"
		"      --driver-pattern PAT one more WebDriver name (fnmatch(3) on the comm and\n"
		"                           on the exec'd file's name), beside chromedriver,\n"
		"                           geckodriver, msedgedriver, operadriver, safaridriver\n"
		"      --force-cleanup-timeout S  a driver's tree must be gone S seconds after it;\n"
		"                           also the wait after each signal of --cleanup,\n"
		"                           0.1..3600 (default 10)\n"
		"      --zombie-grace S     exited and not reaped for longer: a zombie, 0.1..86400\n"
		"                           (default 5)\n"
		"      --max-lifetime S     max_resource_lifetime: a process older is a leftover,\n"
		"                           0..31536000, 0 for none (default 3600)\n"
		"      --memory-threshold-mb N  alert when a driver's tree uses more, 0..1048576,\n"
		"                           0 for none (default 1024)\n"
		"      --cleanup            terminate leftovers (SIGTERM, then SIGKILL) through\n"
		"                           pidfds and verify each is gone\n"
		"      --max-cleanup-attempts N  SIGKILL rounds, 1..100 (default 3)\n"
		"  -h, --help               this text\n"
		"\n"
		"Exit status: CMD's own, or 128+N if a signal N killed it; %d if tracing could not\n"
		"start (not root, no BTF, BPF load failed) or the report could not be written; %d for\n"
		"a bad command line, a refused output path or a bad --config; %d if CMD exited 0 but\n"
		"a --fail-on class has findings; %d if CMD is not executable; %d if CMD is not\n"
		"found. SIGINT and SIGTERM are passed to CMD; the report is still written.\n"
		"\n"
		"Examples:\n"
		"  sudo qhtrace attach -- pytest -x tests/\n"
		"  sudo qhtrace attach -o report.json -- /usr/bin/python3 -m pytest\n"
		"  sudo qhtrace attach -q -o run.json --max-procs 131072 -- make -j2 check\n"
		"  sudo qhtrace attach --heap -o heap.json -- ./my-test-binary\n"
		"  sudo qhtrace attach --heap --events run.ndjson.gz --fail-on leaks,zombies \\\n"
		"      --fail-severity medium --junit qhtrace.xml -- pytest\n"
		"  sudo qhtrace attach --cleanup -o run.json -- python3 -m pytest tests/ui\n",
		64, 4194304, QH_DEFAULT_MAX_PROCS, 64, 1048576, QH_DEFAULT_RINGBUF_KB, 1024, 67108864,
		QH_DEFAULT_MAX_ALLOCS, QH_GROWING_CHECKS, QH_FD_GROWING_CHECKS, 1024, 16777216,
		QH_DEFAULT_MAX_FDS, QH_DEFAULT_RESOURCE_LEAK_COUNT, QH_EXIT_GATE, QH_EXIT_ERROR,
		QH_EXIT_USAGE, QH_EXIT_GATE, QH_EXIT_NOEXEC, QH_EXIT_NOTFOUND);
}

enum {
	OPT_MAX_PROCS = 256,
	OPT_RINGBUF,
	OPT_HEAP,
	OPT_MAX_ALLOCS,
	OPT_NO_STACKS,
	OPT_SAMPLE_RATE,
	OPT_MIN_SIZE,
	OPT_MAX_SIZE,
	OPT_MIN_AGE,
	OPT_LEAK_THRESHOLD,
	OPT_TOP,
	OPT_SORT,
	OPT_CHECK_INTERVAL,
	OPT_DRIVER_PATTERN,
	OPT_FORCE_CLEANUP_TIMEOUT,
	OPT_ZOMBIE_GRACE,
	OPT_MAX_LIFETIME,
	OPT_MEMORY_THRESHOLD,
	OPT_CLEANUP,
	OPT_MAX_CLEANUP_ATTEMPTS,
	OPT_NO_FDS,
	OPT_MAX_FDS,
	OPT_RESOURCE_LEAK_COUNT,
	OPT_FD_PROBES,
	OPT_HEAP_PROBES,
	OPT_FD_STACKS,
	OPT_EVENTS,
	OPT_CONFIG,
	OPT_ALERT_EXEC,
	OPT_ALERT_TIMEOUT,
	OPT_FAIL_ON,
	OPT_FAIL_SEVERITY,
	OPT_JUNIT,
	OPT_SUMMARY_MD,
};

/* options every tracing command takes, and the heap ones */
#define COMMON_OPTIONS                                                                         \
	{ "output", required_argument, NULL, 'o' },                                            \
	{ "quiet", no_argument, NULL, 'q' },                                                   \
	{ "verbose", no_argument, NULL, 'v' },                                                 \
	{ "max-procs", required_argument, NULL, OPT_MAX_PROCS },                               \
	{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },                              \
	{ "events", required_argument, NULL, OPT_EVENTS },                                     \
	{ "config", required_argument, NULL, OPT_CONFIG },                                     \
	{ "alert-exec", required_argument, NULL, OPT_ALERT_EXEC },                             \
	{ "alert-timeout", required_argument, NULL, OPT_ALERT_TIMEOUT },                       \
	{ "fail-on", required_argument, NULL, OPT_FAIL_ON },                                   \
	{ "fail-severity", required_argument, NULL, OPT_FAIL_SEVERITY },                       \
	{ "junit", required_argument, NULL, OPT_JUNIT },                                       \
	{ "summary-md", required_argument, NULL, OPT_SUMMARY_MD },                             \
	{ "help", no_argument, NULL, 'h' }
#define HEAP_OPTIONS                                                                           \
	{ "max-allocs", required_argument, NULL, OPT_MAX_ALLOCS },                             \
	{ "no-stacks", no_argument, NULL, OPT_NO_STACKS },                                     \
	{ "sample-rate", required_argument, NULL, OPT_SAMPLE_RATE },                           \
	{ "min-size", required_argument, NULL, OPT_MIN_SIZE },                                 \
	{ "max-size", required_argument, NULL, OPT_MAX_SIZE },                                 \
	{ "min-age", required_argument, NULL, OPT_MIN_AGE },                                   \
	{ "leak-threshold-mb", required_argument, NULL, OPT_LEAK_THRESHOLD },                  \
	{ "top", required_argument, NULL, OPT_TOP },                                           \
	{ "sort", required_argument, NULL, OPT_SORT },                                         \
	{ "heap-probes", required_argument, NULL, OPT_HEAP_PROBES },                           \
	{ "check-interval", required_argument, NULL, OPT_CHECK_INTERVAL }
#define FD_OPTIONS                                                                             \
	{ "max-fds", required_argument, NULL, OPT_MAX_FDS },                                   \
	{ "resource-leak-count", required_argument, NULL, OPT_RESOURCE_LEAK_COUNT },           \
	{ "fd-probes", required_argument, NULL, OPT_FD_PROBES },                               \
	{ "fd-stacks", no_argument, NULL, OPT_FD_STACKS }

static const struct option attach_options[] = {
	COMMON_OPTIONS,
	{ "heap", no_argument, NULL, OPT_HEAP },
	{ "no-fds", no_argument, NULL, OPT_NO_FDS },
	HEAP_OPTIONS,
	{ "driver-pattern", required_argument, NULL, OPT_DRIVER_PATTERN },
	{ "force-cleanup-timeout", required_argument, NULL, OPT_FORCE_CLEANUP_TIMEOUT },
	{ "zombie-grace", required_argument, NULL, OPT_ZOMBIE_GRACE },
	{ "max-lifetime", required_argument, NULL, OPT_MAX_LIFETIME },
	{ "memory-threshold-mb", required_argument, NULL, OPT_MEMORY_THRESHOLD },
	{ "cleanup", no_argument, NULL, OPT_CLEANUP },
	{ "max-cleanup-attempts", required_argument, NULL, OPT_MAX_CLEANUP_ATTEMPTS },
	FD_OPTIONS,
	{},
};

/* fds: a pid, the fd options and the check interval */
static const struct option fds_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "duration", required_argument, NULL, 'd' },
	{ "check-interval", required_argument, NULL, OPT_CHECK_INTERVAL },
	COMMON_OPTIONS,
	FD_OPTIONS,
	{},
};

/* leaks: the heap options, a pid instead of a command */
static const struct option leaks_options[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "duration", required_argument, NULL, 'd' },
	COMMON_OPTIONS,
	HEAP_OPTIONS,
	{},
};

/* numeric options: the option's value, range-checked, into its attach_opts field */
static const struct num_opt {
	int opt;
	const char *name;
	uint32_t min, max;
	size_t off;
} num_opts[] = {
	{ OPT_MAX_PROCS, "max-procs", 64, 4194304, offsetof(struct attach_opts, max_procs) },
	{ OPT_MAX_ALLOCS, "max-allocs", 1024, 67108864, offsetof(struct attach_opts, max_allocs) },
	{ OPT_SAMPLE_RATE, "sample-rate", 1, 1000000, offsetof(struct attach_opts, sample_rate) },
	{ OPT_MIN_AGE, "min-age", 0, 86400, offsetof(struct attach_opts, min_age_s) },
	{ OPT_LEAK_THRESHOLD, "leak-threshold-mb", 1, 1048576, offsetof(struct attach_opts, leak_threshold_mb) },
	{ OPT_TOP, "top", 0, 1000, offsetof(struct attach_opts, top) },
	{ OPT_CHECK_INTERVAL, "check-interval", 0, 86400, offsetof(struct attach_opts, check_interval_s) },
	{ OPT_MAX_FDS, "max-fds", 1024, 16777216, offsetof(struct attach_opts, max_fds) },
	{ OPT_RESOURCE_LEAK_COUNT, "resource-leak-count", 1, 1000000, offsetof(struct attach_opts, resource_leak_count) },
	{ OPT_ALERT_TIMEOUT, "alert-timeout", 1, 3600, offsetof(struct attach_opts, alert_timeout_s) },
	{ OPT_MAX_LIFETIME, "max-lifetime", 0, 31536000, offsetof(struct attach_opts, watch.max_resource_lifetime_s) },
	{ OPT_MEMORY_THRESHOLD, "memory-threshold-mb", 0, 1048576, offsetof(struct attach_opts, watch.memory_threshold_mb) },
	{ OPT_MAX_CLEANUP_ATTEMPTS, "max-cleanup-attempts", 1, 100, offsetof(struct attach_opts, watch.max_cleanup_attempts) },
	{ 'p', "pid", 1, 4194304, offsetof(struct attach_opts, pid) },
	{ 'd', "duration", 1, 31536000, offsetof(struct attach_opts, duration_s) },
};

static const struct num_opt *num_opt_of(int opt)
{
	size_t i;

	for (i = 0; i < sizeof(num_opts) / sizeof(num_opts[0]); i++)
		if (num_opts[i].opt == opt)
			return &num_opts[i];
	return NULL;
}

/* --opt NAME, one of @n @names: *out is its index (the enums list them in that order) */
static int parse_name(const char *opt, const char *arg, const char *const *names, int n,
		      int *out)
{
	char list[256] = "";
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(arg, names[i])) {
			*out = i;
			return 0;
		}
	for (i = 0; i < n && len < sizeof(list); i++)
		len += snprintf(list + len, sizeof(list) - len, "%s'%s'",
				!i ? "" : i == n - 1 ? " or " : ", ", names[i]);
	pr_err("--%s: '%s' is not %s\n", opt, arg, list);
	return -EINVAL;
}

/* --opt A|B: *is_b tells which */
static int parse_choice(const char *opt, const char *arg, const char *a, const char *b,
			bool *is_b)
{
	const char *const names[] = { a, b };
	int i;

	if (parse_name(opt, arg, names, 2, &i))
		return -EINVAL;
	*is_b = i;
	return 0;
}

static int parse_num(const char *opt, const char *arg, uint64_t min, uint64_t max,
		     uint32_t *out)
{
	uint64_t v;

	if (util__parse_u64(arg, min, max, &v)) {
		pr_err("--%s: '%s' is not a number in %lu..%lu\n", opt, arg, (unsigned long)min,
		       (unsigned long)max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Seconds with up to millisecond precision ("5", "0.5"), in [min_ms, max_ms]. */
static int parse_ms(const char *opt, const char *arg, uint32_t min_ms, uint32_t max_ms,
		    uint32_t *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || !(v * 1000 >= min_ms && v * 1000 <= max_ms)) {
		pr_err("--%s: '%s' is not a number of seconds in %g..%g\n", opt, arg,
		       min_ms / 1000.0, max_ms / 1000.0);
		return -EINVAL;
	}
	*out = (uint32_t)(v * 1000 + 0.5);
	return 0;
}

enum cmd { CMD_ATTACH, CMD_LEAKS, CMD_FDS };

static const struct option *const cmd_options[] = { attach_options, leaks_options,
						    fds_options };

/*
 * --config first, wherever it is on the line: the file sets what the options of its keys
 * set, and the options then override it.
 */
static int load_config(int argc, char **argv, struct attach_opts *o, enum cmd which)
{
	struct qh_settings *s = &o->settings;
	char why[512];
	int c;

	config__defaults(s);
	optind = 0;
	while ((c = getopt_long(argc, argv, which != CMD_ATTACH ? "+:o:qvhp:d:" : "+:o:qvh",
				cmd_options[which], NULL)) != -1)
		if (c == OPT_CONFIG)
			o->config = optarg;
	if (!o->config)
		return 0;
	if (config__load(o->config, s, why, sizeof(why))) {
		pr_err("config %s: %s\n", o->config, why);
		return -EINVAL;
	}
	o->check_interval_s = s->leak_check_interval;
	o->leak_threshold_mb = s->leak_threshold_mb;
	o->resource_leak_count = s->resource_leak_count;
	procwatch_opts__from_settings(&o->watch, s);
	if (which == CMD_ATTACH)
		o->heap = s->enable_leak_detection;
	return 0;
}

static int parse(int argc, char **argv, struct attach_opts *o, enum cmd which)
{
	static const char *const names[] = { "attach", "leaks", "fds" };
	const char *cmd = names[which];
	bool leaks = which != CMD_ATTACH; /* a pid, not a command */
	char why[160];
	int c;

	memset(o, 0, sizeof(*o));
	o->max_procs = QH_DEFAULT_MAX_PROCS;
	o->ringbuf_kb = QH_DEFAULT_RINGBUF_KB;
	o->max_allocs = QH_DEFAULT_MAX_ALLOCS;
	o->stacks = true;
	o->sample_rate = 1;
	o->max_size = UINT64_MAX;
	o->min_age_s = 5;
	o->leak_threshold_mb = 10;
	o->top = 10;
	o->check_interval_s = 10;
	procwatch_opts__defaults(&o->watch);
	o->max_fds = QH_DEFAULT_MAX_FDS;
	o->resource_leak_count = QH_DEFAULT_RESOURCE_LEAK_COUNT;
	o->fds_mode = which == CMD_FDS;
	o->alert_timeout_s = 10;
	o->fail_severity = SEV_LOW;
	opterr = 0;
	if (load_config(argc, argv, o, which))
		return -EINVAL;
	optind = 0; /* reinitialise getopt: the parser may run more than once */
	/* '+': stop at CMD, so `qhtrace attach ls -l` needs no `--` */
	if (which == CMD_LEAKS)
		o->heap = true;
	while ((c = getopt_long(argc, argv, leaks ? "+:o:qvhp:d:" : "+:o:qvh", cmd_options[which],
				NULL)) != -1) {
		const struct num_opt *no = num_opt_of(c);

		if (no) {
			if (parse_num(no->name, optarg, no->min, no->max,
				      (uint32_t *)((char *)o + no->off)))
				return -EINVAL;
			continue;
		}
		switch (c) {
		case 'o':
			o->output = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case OPT_RINGBUF:
			if (parse_num("ringbuf-size", optarg, 64, 1048576, &o->ringbuf_kb))
				return -EINVAL;
			if (o->ringbuf_kb & (o->ringbuf_kb - 1)) {
				pr_err("--ringbuf-size: %u is not a power of two\n", o->ringbuf_kb);
				return -EINVAL;
			}
			break;
		case OPT_HEAP:
			o->heap = true;
			break;
		case OPT_NO_STACKS:
			o->stacks = false;
			break;
		case OPT_MIN_SIZE:
		case OPT_MAX_SIZE:
			if (util__parse_u64(optarg, 0, UINT64_MAX,
					    c == OPT_MIN_SIZE ? &o->min_size : &o->max_size)) {
				pr_err("--%s: '%s' is not a size in bytes\n",
				       c == OPT_MIN_SIZE ? "min-size" : "max-size", optarg);
				return -EINVAL;
			}
			break;
		case OPT_NO_FDS:
			o->no_fds = true;
			break;
		case OPT_FD_STACKS:
			o->fd_stacks = true;
			break;
		case OPT_FD_PROBES: {
			/* enum qh_fd_probes, in order */
			static const char *const names[] = { "auto", "fentry", "syscalls",
							     "dispatch" };

			if (parse_name("fd-probes", optarg, names, 4, &o->fd_probes))
				return -EINVAL;
			break;
		}
		case OPT_HEAP_PROBES: {
			/* enum qh_heap_probes, in order */
			static const char *const names[] = { "auto", "tree", "multi", "each" };

			if (parse_name("heap-probes", optarg, names, 4, &o->heap_probes))
				return -EINVAL;
			break;
		}
		case OPT_SORT:
			if (parse_choice("sort", optarg, "bytes", "count", &o->sort_by_count))
				return -EINVAL;
			break;
		case OPT_EVENTS:
			o->events = optarg;
			break;
		case OPT_CONFIG:
			break; /* read first, by load_config() */
		case OPT_ALERT_EXEC:
			o->alert_exec = optarg;
			break;
		case OPT_FAIL_ON:
			if (gate__parse_classes(optarg, &o->fail_on, why, sizeof(why))) {
				pr_err("--fail-on: %s\n", why);
				return -EINVAL;
			}
			break;
		case OPT_FAIL_SEVERITY: {
			enum severity sev;

			if (severity__parse(optarg, &sev)) {
				pr_err("--fail-severity: '%s' is not low, medium, high or critical\n",
				       optarg);
				return -EINVAL;
			}
			o->fail_severity = sev;
			break;
		}
		case OPT_JUNIT:
			o->junit = optarg;
			break;
		case OPT_SUMMARY_MD:
			o->summary_md = optarg;
			break;
		case OPT_DRIVER_PATTERN:
			if (!*optarg) {
				pr_err("--driver-pattern: the pattern is empty\n");
				return -EINVAL;
			}
			if (procwatch_opts__add_pattern(&o->watch, optarg)) {
				pr_err("--driver-pattern: more than %d patterns\n",
				       QH_MAX_DRIVER_PATTERNS);
				return -EINVAL;
			}
			break;
		case OPT_FORCE_CLEANUP_TIMEOUT:
			if (parse_ms("force-cleanup-timeout", optarg, 100, 3600000,
				     &o->watch.force_cleanup_timeout_ms))
				return -EINVAL;
			break;
		case OPT_ZOMBIE_GRACE:
			if (parse_ms("zombie-grace", optarg, 100, 86400000,
				     &o->watch.zombie_grace_ms))
				return -EINVAL;
			break;
		case OPT_CLEANUP:
			o->watch.auto_cleanup = true;
			break;
		case 'h':
			if (which == CMD_LEAKS)
				cli__usage_leaks(stdout);
			else if (which == CMD_FDS)
				cli__usage_fds(stdout);
			else
				cli__usage_attach(stdout);
			return 1;
		case ':':
			pr_err("option '%s' needs an argument -- see 'qhtrace %s --help'\n",
			       argv[optind - 1], cmd);
			return -EINVAL;
		default:
			pr_err("unknown option '%s' -- see 'qhtrace %s --help'\n",
			       argv[optind - 1], cmd);
			return -EINVAL;
		}
	}
	if (o->min_size > o->max_size) {
		pr_err("--min-size %lu is larger than --max-size %lu\n", (unsigned long)o->min_size,
		       (unsigned long)o->max_size);
		return -EINVAL;
	}
	if (leaks) {
		if (!o->pid) {
			pr_err("%s: no process given -- usage: qhtrace %s -p PID [OPTIONS]\n", cmd,
			       cmd);
			return -EINVAL;
		}
		if (optind < argc) {
			pr_err("%s: unexpected argument '%s' -- see 'qhtrace %s --help'\n", cmd,
			       argv[optind], cmd);
			return -EINVAL;
		}
		return 0;
	}
	if (optind >= argc) {
		pr_err("attach: no command given -- usage: qhtrace attach [OPTIONS] -- CMD [ARGS...]\n");
		return -EINVAL;
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	return 0;
}

int cli__parse_attach(int argc, char **argv, struct attach_opts *o)
{
	return parse(argc, argv, o, CMD_ATTACH);
}

int cli__parse_leaks(int argc, char **argv, struct attach_opts *o)
{
	return parse(argc, argv, o, CMD_LEAKS);
}

int cli__parse_fds(int argc, char **argv, struct attach_opts *o)
{
	return parse(argc, argv, o, CMD_FDS);
}
