// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The floor of exact heap tracking: the three probes it needs, doing nothing. */
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
