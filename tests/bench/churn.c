// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * churn [N]: the malloc/free workload of the heap benchmark. N pairs of malloc(64) + free;
 * prints "churn: <ns> ns/pair" on stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, i;
	struct timespec a, b;
	void *volatile p;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++) {
		p = malloc(64);
		free(p);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "churn: %.1f ns/pair\n",
		((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n);
	return 0;
}
