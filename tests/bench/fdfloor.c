// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fdfloor: attach no-op programs to the syscall tracepoints qhtrace's fd and memory probes
 * use (openat, close, dup, socket, mmap, munmap), print "ready", and hold them until stdin
 * closes or a signal comes. What a process pays for those syscalls being probed at all,
 * before any work: the floor fdbench compares qhtrace with. Root; tracefs is mounted in a
 * private mount namespace when missing, as qhtrace does.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "floor.skel.h"

int main(void)
{
	struct floor_bpf *s;
	int err;
	char b;

	err = bench_tracefs();
	if (err) {
		fprintf(stderr, "fdfloor: cannot mount tracefs: %s\n", strerror(-err));
		return 1;
	}
	s = floor_bpf__open();
	if (!s)
		return 1;
	bpf_program__set_autoload(s->progs.noop_entry, false);
	bpf_program__set_autoload(s->progs.noop_return, false);
	/* tpcost's */
	bpf_program__set_autoload(s->progs.noop_sys_enter_sync, false);
	bpf_program__set_autoload(s->progs.noop_btf_sys_exit, false);
	if (floor_bpf__load(s) || floor_bpf__attach(s)) {
		fprintf(stderr, "fdfloor: failed to load or attach\n");
		floor_bpf__destroy(s);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, &b, 1) > 0)
		;
	floor_bpf__destroy(s);
	return 0;
}
