// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "tracer.h"
#include "util.h"
#include "heapleaks.h"

void cli__usage(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace COMMAND [OPTIONS] ...\n"
		"\n"
		"Trace processes with eBPF: lifecycle, memory growth, exits, and what they leave\n"
		"behind.\n"
		"\n"
		"Commands:\n"
		"  attach [OPTIONS] -- CMD [ARGS...]  run CMD and trace it and every descendant\n"
		"  leaks -p PID [OPTIONS]             heap leaks of a running process\n"
		"  help                               this text ('qhtrace COMMAND --help' for more)\n"
		"  version                            print the version\n"
		"\n"
		"Examples:\n"
		"  sudo qhtrace attach -- pytest -x tests/\n"
		"  sudo qhtrace attach -o report.json -- make check\n"
		"  sudo qhtrace leaks -p 1234 --duration 30\n");
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
		"\n"
		"Exit status: 0, or %d if tracing could not start or the report could not be\n"
		"written, %d for a bad command line.\n"
		"\n"
		"Examples:\n"
		"  sudo qhtrace leaks -p 1234 --duration 30\n"
		"  sudo qhtrace leaks -p $(pidof myserver) --min-age 60 -o leaks.json\n",
		QH_EXIT_ERROR, QH_EXIT_USAGE);
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
		"      --check-interval S   leak_check_interval: heap checks every S seconds; a call\n"
		"                           site that grows at %d checks in a row is one severity\n"
		"                           level up, 0..86400, 0 for none (default 10)\n"
		"\n"
		"WebDriver trees, zombies, leftovers:\n"
		"      --driver-pattern PAT one more WebDriver name (fnmatch(3) on the comm and\n"
		"                           on the exec'd file's name), beside chromedriver,\n"
		"                           geckodriver, msedgedriver, operadriver, safaridriver\n"
		"      --force-cleanup-timeout S  a driver's tree must be gone S seconds after it;\n"
		"                           also the wait after each signal of --cleanup,\n"
		"                           0.1..3600 (default 5)\n"
		"      --zombie-grace S     exited and not reaped for longer: a zombie, 0.1..86400\n"
		"                           (default 5)\n"
		"      --max-lifetime S     max_resource_lifetime: a process older is a leftover,\n"
		"                           0..31536000, 0 for none (default 3600)\n"
		"      --memory-threshold-mb N  alert when a driver's tree uses more, 0..1048576,\n"
		"                           0 for none (default 2048)\n"
		"      --cleanup            terminate leftovers (SIGTERM, then SIGKILL) through\n"
		"                           pidfds and verify each is gone\n"
		"      --max-cleanup-attempts N  SIGKILL rounds, 1..100 (default 3)\n"
		"  -h, --help               this text\n"
		"\n"
		"Exit status: CMD's own, or 128+N if a signal N killed it; %d if tracing could not\n"
		"start (not root, no BTF, BPF load failed) or the report could not be written; %d for\n"
		"a bad command line or a refused output path; %d if CMD is not executable; %d if CMD\n"
		"is not found. SIGINT and SIGTERM are passed to CMD; the report is still written.\n"
		"\n"
		"Examples:\n"
		"  sudo qhtrace attach -- pytest -x tests/\n"
		"  sudo qhtrace attach -o report.json -- /usr/bin/python3 -m pytest\n"
		"  sudo qhtrace attach -q -o run.json --max-procs 131072 -- make -j2 check\n"
		"  sudo qhtrace attach --heap -o heap.json -- ./my-test-binary\n"
		"  sudo qhtrace attach --cleanup -o run.json -- python3 -m pytest tests/ui\n",
		64, 4194304, QH_DEFAULT_MAX_PROCS, 64, 1048576, QH_DEFAULT_RINGBUF_KB, 1024, 67108864,
		QH_DEFAULT_MAX_ALLOCS, QH_GROWING_CHECKS, QH_EXIT_ERROR,
		QH_EXIT_USAGE, QH_EXIT_NOEXEC, QH_EXIT_NOTFOUND);
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
};

/* options every tracing command takes, and the heap ones */
#define COMMON_OPTIONS                                                                         \
	{ "output", required_argument, NULL, 'o' },                                            \
	{ "quiet", no_argument, NULL, 'q' },                                                   \
	{ "verbose", no_argument, NULL, 'v' },                                                 \
	{ "max-procs", required_argument, NULL, OPT_MAX_PROCS },                               \
	{ "ringbuf-size", required_argument, NULL, OPT_RINGBUF },                              \
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
	{ "check-interval", required_argument, NULL, OPT_CHECK_INTERVAL }

static const struct option attach_options[] = {
	COMMON_OPTIONS,
	{ "heap", no_argument, NULL, OPT_HEAP },
	HEAP_OPTIONS,
	{ "driver-pattern", required_argument, NULL, OPT_DRIVER_PATTERN },
	{ "force-cleanup-timeout", required_argument, NULL, OPT_FORCE_CLEANUP_TIMEOUT },
	{ "zombie-grace", required_argument, NULL, OPT_ZOMBIE_GRACE },
	{ "max-lifetime", required_argument, NULL, OPT_MAX_LIFETIME },
	{ "memory-threshold-mb", required_argument, NULL, OPT_MEMORY_THRESHOLD },
	{ "cleanup", no_argument, NULL, OPT_CLEANUP },
	{ "max-cleanup-attempts", required_argument, NULL, OPT_MAX_CLEANUP_ATTEMPTS },
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

static int parse(int argc, char **argv, struct attach_opts *o, bool leaks)
{
	const char *cmd = leaks ? "leaks" : "attach";
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
	opterr = 0;
	optind = 0; /* reinitialise getopt: the parser may run more than once */
	/* '+': stop at CMD, so `qhtrace attach ls -l` needs no `--` */
	if (leaks)
		o->heap = true;
	while ((c = getopt_long(argc, argv, leaks ? "+:o:qvhp:d:" : "+:o:qvh",
				leaks ? leaks_options : attach_options, NULL)) != -1) {
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
		case OPT_MAX_PROCS:
			if (parse_num("max-procs", optarg, 64, 4194304, &o->max_procs))
				return -EINVAL;
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
		case OPT_MAX_ALLOCS:
			if (parse_num("max-allocs", optarg, 1024, 67108864, &o->max_allocs))
				return -EINVAL;
			break;
		case OPT_NO_STACKS:
			o->stacks = false;
			break;
		case OPT_SAMPLE_RATE:
			if (parse_num("sample-rate", optarg, 1, 1000000, &o->sample_rate))
				return -EINVAL;
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
		case OPT_MIN_AGE:
			if (parse_num("min-age", optarg, 0, 86400, &o->min_age_s))
				return -EINVAL;
			break;
		case OPT_LEAK_THRESHOLD:
			if (parse_num("leak-threshold-mb", optarg, 1, 1048576, &o->leak_threshold_mb))
				return -EINVAL;
			break;
		case OPT_TOP:
			if (parse_num("top", optarg, 0, 1000, &o->top))
				return -EINVAL;
			break;
		case OPT_CHECK_INTERVAL:
			if (parse_num("check-interval", optarg, 0, 86400, &o->check_interval_s))
				return -EINVAL;
			break;
		case OPT_SORT:
			if (strcmp(optarg, "bytes") && strcmp(optarg, "count")) {
				pr_err("--sort: '%s' is not 'bytes' or 'count'\n", optarg);
				return -EINVAL;
			}
			o->sort_by_count = !strcmp(optarg, "count");
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
		case OPT_MAX_LIFETIME:
			if (parse_num("max-lifetime", optarg, 0, 31536000,
				      &o->watch.max_resource_lifetime_s))
				return -EINVAL;
			break;
		case OPT_MEMORY_THRESHOLD:
			if (parse_num("memory-threshold-mb", optarg, 0, 1048576,
				      &o->watch.memory_threshold_mb))
				return -EINVAL;
			break;
		case OPT_CLEANUP:
			o->watch.auto_cleanup = true;
			break;
		case OPT_MAX_CLEANUP_ATTEMPTS:
			if (parse_num("max-cleanup-attempts", optarg, 1, 100,
				      &o->watch.max_cleanup_attempts))
				return -EINVAL;
			break;
		case 'p':
			if (parse_num("pid", optarg, 1, 4194304, &o->pid))
				return -EINVAL;
			break;
		case 'd':
			if (parse_num("duration", optarg, 1, 31536000, &o->duration_s))
				return -EINVAL;
			break;
		case 'h':
			if (leaks)
				cli__usage_leaks(stdout);
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
			pr_err("leaks: no process given -- usage: qhtrace leaks -p PID [OPTIONS]\n");
			return -EINVAL;
		}
		if (optind < argc) {
			pr_err("leaks: unexpected argument '%s' -- see 'qhtrace leaks --help'\n",
			       argv[optind]);
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
	return parse(argc, argv, o, false);
}

int cli__parse_leaks(int argc, char **argv, struct attach_opts *o)
{
	return parse(argc, argv, o, true);
}
