// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "gate.h"
#include "log.h"
#include "opttab.h"
#include "procwatch.h"
#include "traceopts.h"

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

/* after a command's options: its exit codes and examples */
static void usage_tail(FILE *out, const char *examples)
{
	fprintf(out,
		"\n"
		"Exit status: 0, or %d if tracing could not start or the report could not be\n"
		"written, %d for a bad command line, %d when a --fail-on class has findings.\n"
		"\n"
		"Examples:\n"
		"%s",
		QH_EXIT_ERROR, QH_EXIT_USAGE, QH_EXIT_GATE, examples);
}

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
		"Options:\n");
	opttab__help(out, traceopts, traceopts_n, QH_OPTS_FDS);
	usage_tail(out, "  sudo qhtrace fds -p 1234 --duration 10\n"
			"  sudo qhtrace fds -p $(pidof myserver) --check-interval 2 -o fds.json\n");
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
		"Options:\n");
	opttab__help(out, traceopts, traceopts_n, QH_OPTS_LEAKS);
	usage_tail(out, "  sudo qhtrace leaks -p 1234 --duration 30\n"
			"  sudo qhtrace leaks -p $(pidof myserver) --min-age 60 -o leaks.json\n");
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
		"Under sudo, CMD runs as the user who ran sudo (SUDO_UID, SUDO_GID, SUDO_USER), with\n"
		"that user's groups, HOME, USER and LOGNAME, as it would without qhtrace; --user and\n"
		"--as-root choose otherwise. CMD gets QHTRACE_SOCKET, the control socket only its user\n"
		"can reach: the pytest plugin (qhtrace_pytest) and `qhtrace mark` mark tests on it,\n"
		"and each finding of the report names the test that caused it.\n"
		"\n"
		"Options:\n");
	opttab__help(out, traceopts, traceopts_n, QH_OPTS_ATTACH);
	fprintf(out,
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
		"  sudo qhtrace attach --fail-on leaks --suppressions lsan.supp -- ./my-test-binary\n"
		"  sudo qhtrace attach --heap --leak-kinds definite,indirect,possible -- ./app\n"
		"  sudo qhtrace attach --heap --events run.ndjson.gz --fail-on leaks,zombies \\\n"
		"      --fail-severity medium --junit qhtrace.xml -- pytest\n"
		"  sudo qhtrace attach --cleanup -o run.json -- python3 -m pytest tests/ui\n"
		"  sudo qhtrace attach --heap --fail-on leaks,fds,leftovers --junit tests.xml \\\n"
		"      -- /usr/bin/python3 -m pytest -p qhtrace_pytest tests/   (a finding per test)\n"
		"  sudo qhtrace attach --as-root -- ./needs-root-tests\n",
		QH_EXIT_ERROR, QH_EXIT_USAGE, QH_EXIT_GATE, QH_EXIT_NOEXEC, QH_EXIT_NOTFOUND);
}

void cli__usage_monitor(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace monitor [OPTIONS]\n"
		"\n"
		"Trace every process of the machine (those running now are seeded from /proc):\n"
		"lifecycle, RSS by kind, mmap/brk, fds and sockets, zombies, WebDriver trees. CI\n"
		"jobs are recognised at exec by their variables (GitHub Actions, GitLab, Jenkins,\n"
		"Buildkite, --job-env) or their cgroup (--job-cgroup); a job is its roots and\n"
		"everything they fork, inherited in the kernel whatever a process does to its\n"
		"environment. When a job's last root has exited, what of it is still alive\n"
		"--job-grace seconds later is an outlived_job leftover (terminated and verified\n"
		"with --cleanup, never a process outside the job), and the job's report is\n"
		"written into --spool. Prometheus metrics are served on --metrics-addr.\n"
		"Runs until SIGINT or SIGTERM (or --duration): then jobs in their grace are\n"
		"reported at once and running ones as they are (\"state\": \"running\").\n"
		"\n"
		"Options:\n");
	opttab__help(out, traceopts, traceopts_n, QH_OPTS_MONITOR);
	fprintf(out,
		"\n"
		"Exit status: 0 after SIGINT, SIGTERM or --duration; %d if tracing could not start\n"
		"(not root, no BTF, BPF load failed, spool or metrics address unusable); %d for a\n"
		"bad command line or a bad --config.\n"
		"\n"
		"Examples:\n"
		"  sudo qhtrace monitor\n"
		"  sudo qhtrace monitor --spool /var/lib/qhtrace/jobs --cleanup --job-grace 30\n"
		"  sudo qhtrace monitor --job-cgroup '/system.slice/runner-*.scope' --job-env MY_JOB\n"
		"  sudo qhtrace monitor --metrics-addr '' --duration 3600 --events node.ndjson.gz\n"
		"  sudo qhtrace monitor --heap-match 'comm:my-server' --heap-match 'exe:/opt/app/*'\n",
		QH_EXIT_ERROR, QH_EXIT_USAGE);
}

enum cmd { CMD_ATTACH, CMD_LEAKS, CMD_FDS, CMD_MONITOR };

static const struct opt_cmd cmds[] = {
	[CMD_ATTACH] = { "attach", QH_OPTS_ATTACH, true, cli__usage_attach },
	[CMD_LEAKS] = { "leaks", QH_OPTS_LEAKS, true, cli__usage_leaks },
	[CMD_FDS] = { "fds", QH_OPTS_FDS, true, cli__usage_fds },
	[CMD_MONITOR] = { "monitor", QH_OPTS_MONITOR, false, cli__usage_monitor },
};

/*
 * --config first, wherever it is on the line: the file sets what the options of its keys
 * set, and the options then override it.
 */
static int load_config(int argc, char **argv, struct attach_opts *o, enum cmd which)
{
	const struct opt_spec *config = traceopts__find("config");
	struct qh_settings *s = &o->settings;
	struct option *longs;
	char why[512], shorts[128];
	int c, err;

	config__defaults(s);
	err = opttab__getopt(traceopts, traceopts_n, &cmds[which], &longs, shorts,
			     sizeof(shorts));
	if (err) {
		pr_err("%s: %s\n", cmds[which].name, strerror(-err));
		return err;
	}
	opterr = 0;
	optind = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1)
		if (opttab__of(traceopts, traceopts_n, c) == config)
			o->config = optarg;
	free(longs);
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
	for (c = 0; (uint32_t)c < s->n_suppressions; c++)
		o->suppressions[o->n_suppressions++] = s->suppressions[c];
	if (which == CMD_ATTACH)
		o->heap = s->enable_leak_detection;
	return 0;
}

/* after the options: a pid (leaks, fds) or the command to run (attach) */
static int parse_rest(int argc, char **argv, struct attach_opts *o, enum cmd which)
{
	const char *cmd = cmds[which].name;

	/* a leak gate on a heap nobody follows would pass whatever happens */
	if (which == CMD_ATTACH && (o->fail_on & (1U << GATE_LEAKS)))
		o->heap = true;
	if (o->min_size > o->max_size) {
		pr_err("--min-size %lu is larger than --max-size %lu\n", (unsigned long)o->min_size,
		       (unsigned long)o->max_size);
		return -EINVAL;
	}
	if (which == CMD_MONITOR) {
		if (optind < argc) {
			pr_err("monitor: unexpected argument '%s' -- see 'qhtrace monitor --help'\n",
			       argv[optind]);
			return -EINVAL;
		}
		return 0;
	}
	if (which != CMD_ATTACH) {
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

static int parse(int argc, char **argv, struct attach_opts *o, enum cmd which)
{
	int err;

	traceopts__defaults(o);
	o->fds_mode = which == CMD_FDS;
	o->fd_exit = which != CMD_MONITOR;
	err = load_config(argc, argv, o, which);
	if (err)
		return err;
	if (which == CMD_LEAKS)
		o->heap = true;
	/* the options override the file; --config again is harmless */
	err = opttab__parse_argv(traceopts, traceopts_n, &cmds[which], argc, argv, o);
	return err ? err : parse_rest(argc, argv, o, which);
}

int cli__parse_attach(int argc, char **argv, struct attach_opts *o)
{
	return parse(argc, argv, o, CMD_ATTACH);
}

int cli__parse_monitor(int argc, char **argv, struct attach_opts *o)
{
	return parse(argc, argv, o, CMD_MONITOR);
}

int cli__parse_leaks(int argc, char **argv, struct attach_opts *o)
{
	return parse(argc, argv, o, CMD_LEAKS);
}

int cli__parse_fds(int argc, char **argv, struct attach_opts *o)
{
	return parse(argc, argv, o, CMD_FDS);
}
