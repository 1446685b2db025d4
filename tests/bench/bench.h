/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What the benchmark programs share. */
#ifndef __QH_BENCH_H
#define __QH_BENCH_H

#include <errno.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Syscall tracepoints need tracefs: mount it in a private mount namespace when it is not
 * there, as qhtrace does (nothing changes on the host). 0 or -errno.
 */
static inline int bench_tracefs(void)
{
	struct stat st;

	if (!stat("/sys/kernel/tracing/events", &st))
		return 0;
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		return -errno;
	return 0;
}

/* Run on the last CPU only: no migration between rounds. */
static inline void bench_pin_last_cpu(void)
{
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) - 1, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
}

#endif /* __QH_BENCH_H */
