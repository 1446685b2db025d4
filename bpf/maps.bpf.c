// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The one definition of what the probe families share: the maps of maps.bpf.h and the linked
 * object's license. It has no programs. Every other *.bpf.c declares the maps extern and
 * depends on this object alone, so the dependencies between objects run one way, towards here
 * (proc.bpf.c and fd.bpf.c share fd.bpf.h's inline fd-table walks rather than call each other).
 */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>

#define QH_DEFINE_MAPS
#include "maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";
