// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Floors: the probes qhtrace needs, doing nothing. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("uprobe")
int noop_entry(void *ctx)
{
	return 0;
}

SEC("uretprobe")
int noop_return(void *ctx)
{
	return 0;
}

/*
 * The floor of following fds and memory syscalls: the tracepoints the default probes use,
 * doing nothing (fdfloor attaches them; fdbench runs its loops beside).
 */
#define NOOP_TP(name)                                   \
	SEC("tp/syscalls/" #name)                       \
	int noop_##name(void *ctx)                      \
	{                                               \
		return 0;                               \
	}

NOOP_TP(sys_exit_openat)
NOOP_TP(sys_exit_close)
NOOP_TP(sys_exit_dup)
NOOP_TP(sys_exit_socket)
NOOP_TP(sys_exit_mmap)
NOOP_TP(sys_enter_munmap)
NOOP_TP(sys_exit_munmap)

/* tpcost: a syscall none of its loops makes, probed: the price of the slow syscall path alone */
NOOP_TP(sys_enter_sync)

/* tpcost: one raw tracepoint on every syscall's exit, as --fd-probes dispatch uses */
SEC("tp_btf/sys_exit")
int noop_btf_sys_exit(void *ctx)
{
	return 0;
}
