// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * churn [N]: the malloc/free workload of the heap benchmark. N pairs of malloc(64) + free in
 * 5 slices, pinned to the last CPU; prints the fastest slice, "churn: <ns> ns/pair", on stderr
 * (on a noisy VM, noise only ever adds time).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, i, slice = n / 5 ? n / 5 : 1;
	double best = 0, ns;
	struct timespec a, b;
	void *volatile p;
	int r;

	bench_pin_last_cpu();
	for (r = 0; r < 5; r++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (i = 0; i < slice; i++) {
			p = malloc(64);
			free(p);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / slice;
		if (r == 0 || ns < best)
			best = ns;
	}
	fprintf(stderr, "churn: %.1f ns/pair\n", best);
	return 0;
}
