// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * qhtrace leaks -p PID: follow the heap of a process that is already running, and of the
 * children it forks meanwhile, until --duration, a signal, or its exit; then report.
 * qhtrace fds -p PID: the same for its fds, with its fd table as it is now.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "fdtable.h"
#include "log.h"
#include "procfs.h"
#include "proctree.h"
#include "report.h"
#include "session.h"
#include "tracer.h"
#include "util.h"

/* /proc/PID/cmdline as an argv (for the report's run.command); NULL-terminated, caller frees */
static char **target_cmdline(pid_t pid, int *argc, char **buf)
{
	char path[64];
	size_t cap = 4096, len = 0;
	ssize_t n;
	char **argv;
	int fd, i;

	*argc = 0;
	*buf = malloc(cap + 1);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !*buf) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, *buf + len, cap - len)) > 0)
		len += n;
	close(fd);
	(*buf)[len] = '\0';
	for (i = 0; (size_t)i < len; i++)
		if (!(*buf)[i])
			(*argc)++;
	argv = calloc(*argc + 1, sizeof(*argv));
	if (!argv)
		return NULL;
	for (i = 0, n = 0; i < *argc; i++) {
		argv[i] = *buf + n;
		n += strlen(argv[i]) + 1;
	}
	return argv;
}

static bool same_fd_row(const struct fd_info *a, const struct fd_info *b)
{
	return a->kind == b->kind && a->tcp_state == b->tcp_state && !strcmp(a->target, b->target);
}

/*
 * `fds`: the table of @pid now, on stdout (it is the data asked for). A run of fds that are
 * the same (kind, state, target: a file opened in a loop) is one row, FIRST-LAST and the
 * count, so 3,000 fds of one file are a line, not a screenful per 50. 0, or -errno when it
 * could not be shown: fds hidden from us (EACCES), stdout gone (EPIPE) or full (ENOSPC).
 */
static int print_fd_table(pid_t pid)
{
	char e[UTIL_ESC_LEN(FD_TARGET_LEN)];
	struct fd_table t;
	size_t i, j;
	char fds[48];
	int err = 0;

	err = fdtable__read(pid, &t);
	if (err) {
		pr_err("pid %d: no fd table to show: %s\n", pid,
		       err == -ENOENT ? "it has exited" : strerror(-err));
		return err;
	}
	if (t.unreadable) {
		pr_err("pid %d: %zu of its fds could not be read: %s%s\n", pid, t.unreadable,
		       strerror(t.unreadable_err),
		       t.unreadable_err == EACCES || t.unreadable_err == EPERM ?
			       " (reading another user's fds needs CAP_SYS_PTRACE)" : "");
		err = -t.unreadable_err;
	}
	printf("%6s %-10s %-12s %s\n", "FD", "KIND", "TCP STATE", "TARGET");
	for (i = 0; i < t.n; i = j) {
		for (j = i + 1; j < t.n && same_fd_row(&t.v[j], &t.v[i]); j++)
			;
		if (j - i == 1)
			snprintf(fds, sizeof(fds), "%d", t.v[i].fd);
		else
			snprintf(fds, sizeof(fds), "%d-%d", t.v[i].fd, t.v[j - 1].fd);
		printf("%6s %-10s %-12s %s", fds, fd_kind__str(t.v[i].kind),
		       t.v[i].tcp_state ? tcp_state__str(t.v[i].tcp_state) : "-",
		       util__esc(t.v[i].target, e, sizeof(e)));
		if (j - i > 1)
			printf(" (%zu fds)", j - i);
		printf("\n");
	}
	/* SIGPIPE is blocked (session__signals): a reader gone is EPIPE here */
	if ((fflush(stdout) || ferror(stdout)) && !err) {
		err = errno ? -errno : -EIO;
		pr_err("failed to write the fd table to stdout: %s\n", strerror(-err));
	}
	fdtable__free(&t);
	return err;
}

static int run(int argc, char **argv, bool fds)
{
	struct run_info ri = { .mode = fds ? "fds" : "leaks", .exit_code = -1 };
	struct session s = { .efd = -1 };
	char libc[PATH_MAX], *cmdbuf = NULL, **cmd = NULL, comm[UTIL_ESC_LEN(32)];
	int sfd = -1, err, code = QH_EXIT_ERROR, cmdc = 0;
	uint64_t deadline = 0;
	struct procfs_stat st;
	struct proc *p;
	struct attach_opts o;
	sigset_t oldmask;
	bool done = false, table_err = false;

	err = fds ? cli__parse_fds(argc, argv, &o) : cli__parse_leaks(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : QH_EXIT_USAGE;
	code = session__preflight(&o);
	if (code)
		return code;
	code = QH_EXIT_ERROR;
	if (procfs__read_stat(o.pid, &st) || st.state == 'Z') {
		pr_err("no running process with pid %u\n", o.pid);
		return QH_EXIT_ERROR;
	}
	if (o.pid == (uint32_t)getpid()) {
		pr_err("pid %u is qhtrace itself\n", o.pid);
		return QH_EXIT_USAGE;
	}
	err = fds ? 0 : tracer__find_libc(o.pid, libc, sizeof(libc));
	if (err) {
		pr_err("pid %u (%s) maps no C library (a static binary, or another allocator): its "
		       "heap cannot be followed\n", o.pid,
		       util__esc(st.comm, comm, sizeof(comm)));
		return QH_EXIT_ERROR;
	}
	cmd = target_cmdline(o.pid, &cmdc, &cmdbuf);

	sfd = session__signals(&oldmask, false);
	if (sfd < 0)
		goto cleanup;
	if (session__open(&s, &o, libc, sfd) || session__trace_pid(&s, o.pid))
		goto cleanup;
	/* the process under study is not a lifetime leftover of its own investigation */
	session__set_command(&s, o.pid);
	ri.start_real_ns = util__now_ns(CLOCK_REALTIME);
	if (o.duration_s)
		deadline = util__now_ns(CLOCK_MONOTONIC) + o.duration_s * NSEC_PER_SEC;
	if (!o.quiet)
		fprintf(stderr, "qhtrace: following the %s of pid %u (%s)%s; %s before now are not "
				"known. Ctrl-C to stop.\n",
			fds ? "fds" : "heap", o.pid, util__esc(st.comm, comm, sizeof(comm)),
			o.duration_s ? " for the given duration" : "",
			fds ? "the calls that opened fds" : "blocks allocated");

	while (!done) {
		struct epoll_event evs[4];
		int i, n, timeout = 1000;

		if (deadline) {
			uint64_t now = util__now_ns(CLOCK_MONOTONIC);

			if (now >= deadline)
				break;
			if ((deadline - now) / 1000000 < (uint64_t)timeout)
				timeout = (deadline - now) / 1000000 + 1;
		}
		n = epoll_wait(s.efd, evs, 4, timeout);
		if (n < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s\n", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct signalfd_siginfo si;

			if (evs[i].data.fd != sfd) {
				tracer__consume(s.tr);
				continue;
			}
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				done = done || !session__own_signal(&si);
		}
		/* after the records: a harvest sees the exits and execs just consumed */
		session__tick(&s);
		/* the process is gone: what it left is final */
		p = proctree__first(s.tree);
		if (p && p->pid == o.pid && p->state != PROC_RUNNING)
			done = true;
	}

	ri.argv = cmd;
	ri.argc = cmd ? cmdc : 0;
	if (fds) {
		ri.note = "fds open before qhtrace attached are counted as not_seen_opened; "
			  "leaks.fds lists what was opened while watched and is still open";
		if (!o.quiet && print_fd_table(o.pid))
			table_err = true;
	} else {
		ri.note = "blocks allocated before qhtrace attached are not known; frees of them "
			  "are counted in events.heap_frees_unknown";
		/* still running: every thread stopped for the scan, then released */
		p = proctree__first(s.tree);
		if (p && p->pid == o.pid && p->state == PROC_RUNNING)
			session__scan_running(&s, o.pid);
	}
	code = session__report(&s, &ri) ? QH_EXIT_ERROR : ri.gate_failed ? QH_EXIT_GATE : 0;
	/* the table is data asked for: not shown whole is an error, after the report */
	if (table_err && !code)
		code = QH_EXIT_ERROR;

cleanup:
	session__close(&s);
	session__signals_done(sfd, &oldmask);
	free(cmd);
	free(cmdbuf);
	return code;
}

int cmd_leaks(int argc, char **argv)
{
	return run(argc, argv, false);
}

int cmd_fds(int argc, char **argv)
{
	return run(argc, argv, true);
}
