// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * procchurn N [exec]: N short processes one after the other: fork, the child _exits (or
 * execs /bin/true with "exec"), the parent reaps it. Prints the elapsed time, and on stderr a
 * line "at I" every 10,000 processes so a benchmark can sample what watches them.
 * procchurn N fds K [closed]: each child opens /dev/null K times and _exits holding them (or,
 * with "closed", closes them first): the exit path's work on fds (tests/bench/exitbench.py).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000, i;
	int exec = argc > 2 && !strcmp(argv[2], "exec");
	int fds = argc > 3 && !strcmp(argv[2], "fds") ? atoi(argv[3]) : 0;
	int closed = argc > 4 && !strcmp(argv[4], "closed");
	char *targv[] = { "/bin/true", NULL };
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 1; i <= n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			if (exec)
				execv(targv[0], targv);
			for (int k = 0; k < fds; k++) {
				int fd = open("/dev/null", O_RDONLY);

				if (fd < 0)
					_exit(1);
				if (closed)
					close(fd);
			}
			_exit(0);
		}
		if (waitpid(pid, NULL, 0) != pid) {
			perror("waitpid");
			return 1;
		}
		if (i % 10000 == 0) {
			fprintf(stderr, "at %ld\n", i);
			fflush(stderr);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.3f\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
	return 0;
}
