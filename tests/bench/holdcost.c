// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * holdcost: what the ptrace hold at exit (tests/hold/holdscan) costs the traced tree while it
 * runs. A workload runs untraced, then seized with PTRACE_O_TRACEEXIT alone, then with the
 * options that follow the whole tree (TRACEFORK, VFORK, CLONE, EXEC): per operation, fork +
 * exit + wait, pthread_create + join, a signal delivered to a handler, a system call.
 * The tracer does only what holdscan does between exits: resume each stop, detach at exit.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void *nothing(void *a)
{
	return a;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* one workload, in the traced child: prints microseconds per operation */
static void workload(const char *what, int fd)
{
	double t0, per = 0;
	int i, n;

	if (!strcmp(what, "fork")) {
		n = 2000;
		t0 = now_us();
		for (i = 0; i < n; i++) {
			pid_t c = fork();

			if (!c)
				_exit(0);
			waitpid(c, NULL, 0);
		}
		per = (now_us() - t0) / n;
	} else if (!strcmp(what, "thread")) {
		n = 2000;
		t0 = now_us();
		for (i = 0; i < n; i++) {
			pthread_t t;

			pthread_create(&t, NULL, nothing, NULL);
			pthread_join(t, NULL);
		}
		per = (now_us() - t0) / n;
	} else if (!strcmp(what, "signal")) {
		n = 20000;
		signal(SIGUSR1, on_usr1);
		t0 = now_us();
		for (i = 0; i < n; i++)
			raise(SIGUSR1);
		per = (now_us() - t0) / n;
	} else {
		n = 1000000;
		t0 = now_us();
		for (i = 0; i < n; i++)
			syscall(SYS_getppid);
		per = (now_us() - t0) / n;
	}
	if (write(fd, &per, sizeof(per)) != sizeof(per))
		_exit(1);
	exit(0);
}

static double run(const char *what, long opts)
{
	int sync[2], res[2], st;
	double per = -1;
	char go = 'g';
	pid_t c, p;

	if (pipe(sync) || pipe(res))
		exit(1);
	fflush(stdout); /* the child exits through exit(): nothing of ours to flush twice */
	c = fork();
	if (!c) {
		if (read(sync[0], &go, 1) != 1)
			_exit(1);
		workload(what, res[1]);
	}
	close(res[1]);
	if (opts >= 0 && ptrace(PTRACE_SEIZE, c, 0, (void *)(opts | PTRACE_O_EXITKILL))) {
		perror("holdcost: seize");
		exit(1);
	}
	if (write(sync[1], &go, 1) != 1)
		exit(1);
	while ((p = waitpid(-1, &st, __WALL)) > 0) {
		int ev = st >> 16;

		if (!WIFSTOPPED(st))
			continue;
		if (ev == PTRACE_EVENT_EXIT)
			ptrace(PTRACE_DETACH, p, 0, 0);
		else if (ev)
			ptrace(PTRACE_CONT, p, 0, 0);
		else
			ptrace(PTRACE_CONT, p, 0, (void *)(long)WSTOPSIG(st));
	}
	if (read(res[0], &per, sizeof(per)) != sizeof(per))
		per = -1;
	close(res[0]);
	close(sync[0]);
	close(sync[1]);
	return per;
}

int main(void)
{
	static const char *const what[] = { "fork", "thread", "signal", "syscall" };
	const long tree = PTRACE_O_TRACEEXIT | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
			  PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;
	unsigned i;

	printf("holdcost: microseconds per operation    untraced   TRACEEXIT  +FORK/CLONE/EXEC\n");
	for (i = 0; i < sizeof(what) / sizeof(what[0]); i++) {
		double a = run(what[i], -1), b = run(what[i], PTRACE_O_TRACEEXIT),
		       c = run(what[i], tree);

		printf("  %-36s %9.3f %11.3f %17.3f\n", what[i], a, b, c);
	}
	return 0;
}
