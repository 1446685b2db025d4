/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * qhtrace's own resident memory, for the monitor's memory budget (data.max_memory_mb): one
 * read of /proc/self/statm, cheap enough for every timer tick. BPF maps are kernel memory,
 * sized at load, and not in it.
 */
#ifndef __QH_SELFMEM_H
#define __QH_SELFMEM_H

#include <stdint.h>

/* The resident size of a statm line ("size resident shared ...") in bytes. 0 or -EINVAL. */
int selfmem__parse_statm(const char *text, uint64_t page_size, uint64_t *rss_bytes);
/* qhtrace's RSS in bytes now; 0 when /proc cannot tell (no /proc mounted). */
uint64_t selfmem__rss_bytes(void);

#endif
