// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * scanbench: the pointer scan at exit on a big heap. A child allocates N blocks (default
 * 1,000,000) of 16..520 bytes, 256 MiB in all: 90% of them on lists reached from a global
 * (a pointer every 64 bytes of each block, the rest data), 10% on lists whose head is
 * dropped; it sends its block list down a pipe (the stand-in for the `allocs` map) and
 * exits. The parent holds it at its exit stop (ptrace, PTRACE_O_TRACEEXIT, as
 * tests/hold/holdscan), classifies with heapscan, and lets it go. Prints the scan time by
 * phase, what was read, and the pause the child saw (exit stop to detach).
 *
 *   scanbench [N] [HEAP_MIB]
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heapscan.h"

static void **volatile g_lists[64];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void child(size_t n, uint64_t heap_bytes, int fd)
{
	struct heapscan_block *list = malloc(n * sizeof(*list));
	uint64_t seed = 12345, mean = heap_bytes / n, span = 2 * (mean - 16);
	void **lost_heads[64] = {};
	size_t i;

	if (!list)
		_exit(1);
	for (i = 0; i < n; i++) {
		uint64_t size, w;
		void **b, ***slot;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		size = 16 + (seed >> 33) % (span + 1);
		b = malloc(size);
		if (!b)
			_exit(1);
		/* data: small numbers, as most of a heap holds */
		for (w = 0; w < size / 8; w++)
			b[w] = (void *)(uintptr_t)(w * 3 + (seed & 0xff));
		slot = i % 10 == 9 ? &lost_heads[i % 64] : (void ***)&g_lists[i % 64];
		/* a pointer to the list's next block every 64 bytes */
		for (w = 0; w < size / 8; w += 8)
			b[w] = *slot;
		*slot = b;
		list[i] = (struct heapscan_block){ (uintptr_t)b, size };
	}
	if (write_all(fd, list, n * sizeof(*list)))
		_exit(1);
	/* the list holds every address: a root that would keep all of them reachable */
	memset(list, 0, n * sizeof(*list));
	free(list);
	memset(lost_heads, 0, sizeof(lost_heads));
	asm volatile("" ::"r"(lost_heads) : "memory");
	exit(0);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	uint64_t heap = (argc > 2 ? strtoull(argv[2], NULL, 10) : 256) << 20;
	struct heapscan_opts opts = { .glibc_chunks = true };
	struct heapscan_block *blocks;
	struct heapscan_stats st;
	struct heapscan_proc *hp;
	struct user_regs_struct r;
	uint64_t t_stop, t_scan, t_end, total = 0;
	int pfd[2], sync[2], wst, err;
	uint8_t *kinds;
	pid_t c;
	size_t i;

	if (n < 64 || heap / n < 24) {
		fprintf(stderr, "usage: scanbench [N >= 64] [HEAP_MIB >= N*24 bytes]\n");
		return 2;
	}
	blocks = malloc(n * sizeof(*blocks));
	kinds = malloc(n);
	if (!blocks || !kinds || pipe(pfd) || pipe(sync))
		return 1;
	c = fork();
	if (c < 0)
		return 1;
	if (!c) {
		char go;

		close(pfd[0]);
		if (read(sync[0], &go, 1) != 1) /* until seized */
			_exit(1);
		child(n, heap, pfd[1]);
	}
	close(pfd[1]);
	if (ptrace(PTRACE_SEIZE, c, 0, (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL))) {
		perror("scanbench: seize");
		kill(c, SIGKILL);
		return 1;
	}
	if (write(sync[1], "g", 1) != 1)
		return 1;
	if (read_all(pfd[0], blocks, n * sizeof(*blocks))) {
		fprintf(stderr, "scanbench: the child died before sending its blocks\n");
		return 1;
	}
	/* to the exit stop */
	for (;;) {
		if (waitpid(c, &wst, __WALL) != c)
			return 1;
		if (!WIFSTOPPED(wst))
			return 1;
		if ((wst >> 16) == PTRACE_EVENT_EXIT)
			break;
		ptrace(PTRACE_CONT, c, 0, (wst >> 16) ? 0 : (void *)(long)WSTOPSIG(wst));
	}
	t_stop = now_ns();
	err = heapscan_proc__new(c, &hp);
	if (!err && !ptrace(PTRACE_GETREGS, c, 0, &r))
		err = heapscan_proc__set_regs(hp, c, (const uint64_t *)&r,
					      sizeof(r) / sizeof(uint64_t), r.rsp);
	t_scan = now_ns();
	if (!err)
		err = heapscan__classify(blocks, n, &heapscan_proc_ops, hp, &opts, kinds, &st);
	t_end = now_ns();
	heapscan_proc__free(hp);
	ptrace(PTRACE_DETACH, c, 0, 0);
	waitpid(c, &wst, 0);
	if (err) {
		fprintf(stderr, "scanbench: scan failed: %s\n", strerror(-err));
		return 1;
	}
	for (i = 0; i < n; i++)
		total += blocks[i].size;
	printf("scanbench: %zu blocks, %.1f MiB of heap; child exited %d\n", n, total / 1048576.0,
	       WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
	printf("  scan %.1f ms (index and roots %.1f, flood %.1f, cliques %.1f); pause seen by "
	       "the child %.1f ms\n",
	       (t_end - t_scan) / 1e6, st.ns_roots / 1e6, st.ns_flood / 1e6, st.ns_cliques / 1e6,
	       (now_ns() - t_stop) / 1e6);
	printf("  read %.1f MiB of roots in %" PRIu64 " regions, %.1f MiB of blocks, %" PRIu64
	       " read calls, %" PRIu64 " words, %" PRIu64 " looked up, %" PRIu64
	       " edges between lost blocks\n",
	       st.root_bytes / 1048576.0, st.root_regions, st.heap_bytes / 1048576.0, st.reads,
	       st.words, st.candidates, st.edges);
	printf("  definitely lost %" PRIu64 " blocks, indirectly %" PRIu64 ", possibly %" PRIu64
	       ", still reachable %" PRIu64 "\n",
	       st.blocks[HEAPSCAN_DEFINITELY_LOST], st.blocks[HEAPSCAN_INDIRECTLY_LOST],
	       st.blocks[HEAPSCAN_POSSIBLY_LOST], st.blocks[HEAPSCAN_STILL_REACHABLE]);
	return 0;
}
