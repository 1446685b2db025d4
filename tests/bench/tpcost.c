// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tpcost: what the kernel charges for syscall tracepoints before any BPF program does work,
 * to every process of the machine. No qhtrace here: no-op programs only (floor.bpf.c).
 *
 *   untraced           nothing attached
 *   slow path          a no-op on sys_enter_sync, a syscall no loop makes: any syscall
 *                      tracepoint puts every task on the slow syscall path
 *   classic, probed    no-ops on the exits of the loops' syscalls (openat, close, dup, mmap,
 *                      munmap entry and exit), as qhtrace's default probes them
 *   raw sys_exit       one no-op tp_btf on sys_exit, as --fd-probes dispatch
 *
 * The loops run in this process, pinned to the last CPU; configurations are attached and
 * detached in turn, ROUNDS times, and the fastest round of each is kept (the least disturbed
 * by the VM). Prints ns per iteration and the cost over untraced. Root; asserts nothing.
 *   tpcost [ROUNDS]
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "floor.skel.h"

#define ITERS 3000
#define NOPS 4
#define NCONF 4
#define MAXPROGS 8

static int base_fd;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void one(int op)
{
	void *m;
	int fd;

	switch (op) {
	case 0:
		fd = open("/dev/null", O_RDONLY);
		close(fd);
		break;
	case 1:
		fd = dup(base_fd);
		close(fd);
		break;
	case 2:
		m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		munmap(m, 4096);
		break;
	default:
		syscall(SYS_getppid);
	}
}

/* best of three runs of ITERS, ns per iteration */
static double measure(int op)
{
	double best = 0, t0, ns;
	int r, i;

	for (i = 0; i < 200; i++)
		one(op);
	for (r = 0; r < 3; r++) {
		t0 = now_ns();
		for (i = 0; i < ITERS; i++)
			one(op);
		ns = (now_ns() - t0) / ITERS;
		if (r == 0 || ns < best)
			best = ns;
	}
	return best;
}

int main(int argc, char **argv)
{
	static const char *const ops[NOPS] = { "open+close", "dup+close", "mmap+munmap",
					       "getppid" };
	static const char *const confs[NCONF] = { "untraced", "slow path (sys_enter_sync)",
						  "classic, probed (the floor)",
						  "raw sys_exit (dispatch)" };
	int rounds = argc > 1 ? atoi(argv[1]) : 25, r, c, k, n;
	double best[NCONF][NOPS] = {};
	struct bpf_program *progs[NCONF][MAXPROGS] = {};
	struct bpf_link *links[MAXPROGS];
	struct floor_bpf *s;
	int err;

	if (geteuid() != 0) {
		fprintf(stderr, "tpcost: run as root\n");
		return 1;
	}
	err = bench_tracefs();
	if (err) {
		fprintf(stderr, "tpcost: cannot mount tracefs: %s\n", strerror(-err));
		return 1;
	}
	bench_pin_last_cpu();
	base_fd = open("/dev/null", O_RDONLY);
	s = floor_bpf__open_and_load();
	if (!s || base_fd < 0) {
		fprintf(stderr, "tpcost: failed to load the no-op programs\n");
		return 1;
	}
	progs[1][0] = s->progs.noop_sys_enter_sync;
	progs[2][0] = s->progs.noop_sys_exit_openat;
	progs[2][1] = s->progs.noop_sys_exit_close;
	progs[2][2] = s->progs.noop_sys_exit_dup;
	progs[2][3] = s->progs.noop_sys_exit_mmap;
	progs[2][4] = s->progs.noop_sys_enter_munmap;
	progs[2][5] = s->progs.noop_sys_exit_munmap;
	progs[3][0] = s->progs.noop_btf_sys_exit;

	for (r = 0; r < rounds; r++) {
		for (c = 0; c < NCONF; c++) {
			for (n = 0; n < MAXPROGS && progs[c][n]; n++) {
				links[n] = bpf_program__attach(progs[c][n]);
				if (!links[n]) {
					fprintf(stderr, "tpcost: cannot attach %s\n",
						bpf_program__name(progs[c][n]));
					return 1;
				}
			}
			for (k = 0; k < NOPS; k++) {
				double ns = measure(k);

				if (r == 0 || ns < best[c][k])
					best[c][k] = ns;
			}
			while (n > 0)
				bpf_link__destroy(links[--n]);
		}
	}
	floor_bpf__destroy(s);

	printf("tpcost: %d rounds, fastest round, ns per iteration (over untraced)\n", rounds);
	printf("%-30s", "");
	for (k = 0; k < NOPS; k++)
		printf("%22s", ops[k]);
	printf("\n");
	for (c = 0; c < NCONF; c++) {
		printf("%-30s", confs[c]);
		for (k = 0; k < NOPS; k++)
			printf("%9.1f %+6.1f %4.2fx", best[c][k], best[c][k] - best[0][k],
			       best[c][k] / best[0][k]);
		printf("\n");
	}
	return 0;
}
