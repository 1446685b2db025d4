// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fdloop: one syscall pattern in a tight loop; prints "fdloop OP: NS ns" (ns per iteration,
 * best of ROUNDS) on stderr. The workload of fdbench, traced or not.
 *   fdloop open|dup|socket|mmap|getppid [ITERATIONS]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int one(const char *op, int base)
{
	void *m;
	int fd;

	if (!strcmp(op, "open")) {
		fd = open("/dev/null", O_RDONLY);
		return fd < 0 || close(fd);
	}
	if (!strcmp(op, "dup")) {
		fd = dup(base);
		return fd < 0 || close(fd);
	}
	if (!strcmp(op, "socket")) {
		fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		return fd < 0 || close(fd);
	}
	if (!strcmp(op, "mmap")) {
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return m == MAP_FAILED || munmap(m, 4096);
	}
	if (!strcmp(op, "getppid"))
		return syscall(SYS_getppid) < 0;
	return -1;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 200000;
	double best = 0, t0, ns;
	int base;

	if (argc < 2 || n <= 0) {
		fprintf(stderr, "usage: fdloop open|dup|socket|mmap|getppid [ITERATIONS]\n");
		return 2;
	}
	base = open("/dev/null", O_RDONLY);
	if (base < 0 || one(argv[1], base)) {
		fprintf(stderr, "fdloop: %s failed (or unknown)\n", argv[1]);
		return 1;
	}
	for (int r = 0; r < ROUNDS; r++) {
		t0 = now_ns();
		for (long i = 0; i < n; i++)
			if (one(argv[1], base))
				return 1;
		ns = (now_ns() - t0) / n;
		if (r == 0 || ns < best)
			best = ns;
	}
	fprintf(stderr, "fdloop %s: %.1f ns\n", argv[1], best);
	return 0;
}
