// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * heapbench: what exact heap tracking costs, in one run on one malloc/free workload.
 *
 *   untraced          the churn workload alone
 *   floor, free+0     malloc entry, malloc return and free entry probes doing nothing, with
 *                     free probed at +0 as bcc memleak, libbpf-tools memleak and bpftrace do
 *   floor             the same with free probed where qhtrace probes it (first emulated insn)
 *   qhtrace exact     qhtrace attach --heap --no-stacks
 *   qhtrace stacks    qhtrace attach --heap
 *
 * Prints ns per malloc+free pair and the ratios; asserts nothing (timing is not a test).
 * Usage: heapbench QHTRACE CHURN [PAIRS [PROBES]]   (root; PROBES: qhtrace's --heap-probes,
 * default its own default)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "tracer.h"
#include "uprobe_off.h"
#include "floor.skel.h"

/* Run argv, return the ns/pair the churn workload printed on stderr (or -1). */
static double run(char *const argv[])
{
	int fd[2], st;
	char buf[8192];
	double ns = -1;
	ssize_t n, len = 0;
	char *line;
	pid_t pid;

	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 2);
		close(fd[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd[1]);
	while ((n = read(fd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	buf[len] = '\0';
	close(fd[0]);
	waitpid(pid, &st, 0);
	line = strstr(buf, "churn: ");
	if (line)
		ns = atof(line + 7);
	else
		fprintf(stderr, "heapbench: %s printed no figure:\n%s", argv[0], buf);
	return ns;
}

static int probe(struct floor_bpf *s, struct bpf_link **links, const char *libc, bool free_at_0)
{
	uint64_t off, pr;
	char why[128];

	if (uprobe_off__for_symbol(libc, "malloc", &off, &pr, why, sizeof(why)))
		return -ENOENT;
	links[0] = bpf_program__attach_uprobe(s->progs.noop_entry, false, -1, libc, off + pr);
	links[1] = bpf_program__attach_uprobe(s->progs.noop_return, true, -1, libc, off);
	if (uprobe_off__for_symbol(libc, "free", &off, &pr, why, sizeof(why)))
		return -ENOENT;
	links[2] = bpf_program__attach_uprobe(s->progs.noop_entry, false, -1, libc,
					      off + (free_at_0 ? 0 : pr));
	return links[0] && links[1] && links[2] ? 0 : -errno;
}

static double floor_run(const char *libc, char *const argv[], bool free_at_0)
{
	struct bpf_link *links[3] = {};
	struct floor_bpf *s = floor_bpf__open_and_load();
	double ns = -1;
	int i;

	if (!s)
		return -1;
	if (!probe(s, links, libc, free_at_0))
		ns = run(argv);
	for (i = 0; i < 3; i++)
		bpf_link__destroy(links[i]);
	floor_bpf__destroy(s);
	return ns;
}

#define ROUNDS 7
#define NCONF 5

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static double fastest(const double *v, int n)
{
	double m = v[0];
	int i;

	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

int main(int argc, char **argv)
{
	char *pairs = argc > 3 ? argv[3] : "300000", few[32], libc[4096];
	char *probes = argc > 4 ? argv[4] : "auto";
	static const char *const names[NCONF] = {
		"untraced", "floor, free probed at +0", "floor, free at first emulated insn",
		"qhtrace --heap --no-stacks (exact)", "qhtrace --heap (stacks)",
	};
	double ns[NCONF][ROUNDS], med[NCONF], ratio_exact[ROUNDS], ratio_stacks[ROUNDS];
	int r, c;

	if (argc < 3) {
		fprintf(stderr, "usage: heapbench QHTRACE CHURN [PAIRS [PROBES]]\n");
		return 2;
	}
	if (tracer__find_libc(0, libc, sizeof(libc))) {
		fprintf(stderr, "heapbench: no C library in our own mappings\n");
		return 1;
	}
	/* free at +0 single-steps: a tenth of the pairs is enough to see it */
	snprintf(few, sizeof(few), "%ld", atol(pairs) / 10 ? atol(pairs) / 10 : 1);
	/* rounds interleave the configurations, so a noisy moment hits them all alike */
	for (r = 0; r < ROUNDS; r++) {
		ns[0][r] = run((char *const[]){ argv[2], pairs, NULL });
		ns[1][r] = floor_run(libc, (char *const[]){ argv[2], few, NULL }, true);
		ns[2][r] = floor_run(libc, (char *const[]){ argv[2], pairs, NULL }, false);
		ns[3][r] = run((char *const[]){ argv[1], "attach", "-q", "--heap", "--no-stacks",
					       "--heap-probes", probes, "--", argv[2], pairs,
					       NULL });
		ns[4][r] = run((char *const[]){ argv[1], "attach", "-q", "--heap", "--heap-probes",
					       probes, "--", argv[2], pairs, NULL });
		ratio_exact[r] = ns[3][r] / ns[2][r];
		ratio_stacks[r] = ns[4][r] / ns[2][r];
	}
	for (c = 0; c < NCONF; c++)
		med[c] = median(ns[c], ROUNDS);
	printf("malloc(64)+free pairs: %s per run (%s with free at +0), %d rounds, medians, "
	       "--heap-probes %s\n", pairs, few, ROUNDS, probes);
	printf("  %-36s %9.1f ns/pair\n", names[0], med[0]);
	for (c = 1; c < 3; c++)
		printf("  %-36s %9.1f ns/pair  %6.0fx untraced\n", names[c], med[c],
		       med[c] / med[0]);
	printf("  %-36s %9.1f ns/pair  %6.2fx floor (median of per-round ratios)\n", names[3],
	       med[3], median(ratio_exact, ROUNDS));
	printf("  %-36s %9.1f ns/pair  %6.2fx floor (median of per-round ratios)\n", names[4],
	       med[4], median(ratio_stacks, ROUNDS));
	printf("  floor with free at +0 / at the first emulated instruction: %.1fx\n",
	       med[1] / med[2]);
	/* noise on a VM only ever adds time: the fastest rounds are the least disturbed */
	printf("  fastest rounds: floor %.1f, exact %.1f (%.2fx floor), stacks %.1f (%.2fx floor)\n",
	       fastest(ns[2], ROUNDS), fastest(ns[3], ROUNDS),
	       fastest(ns[3], ROUNDS) / fastest(ns[2], ROUNDS), fastest(ns[4], ROUNDS),
	       fastest(ns[4], ROUNDS) / fastest(ns[2], ROUNDS));
	return 0;
}
