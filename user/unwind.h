/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Unwind tables for the BPF heap walk: a module's .eh_frame (through .eh_frame_hdr's sorted
 * list of functions and libdw's CFI interpreter) turned into rows the walk follows without
 * frame pointers: for each range of code, where the caller's frame (CFA), return address and
 * rbp are (struct qh_unwind_row). Rows are keyed by file offset, so one table serves every
 * process that maps the file, wherever it is loaded.
 *
 * x86-64 only: the rows speak of rsp and rbp.
 */
#ifndef __QH_UNWIND_H
#define __QH_UNWIND_H

#include <stddef.h>
#include <linux/types.h>

#include "qhtrace.h"

/*
 * The rows of the ELF file open on @fd, sorted by pc, adjacent rows with the same rule merged;
 * the array is the caller's to free. 0, -ENOENT (no .eh_frame_hdr, or an encoding of it that
 * is not the linkers' usual one), -EINVAL (not an ELF file of this machine), -ENOMEM.
 */
int unwind__build(int fd, struct qh_unwind_row **rows, size_t *n);

/* The row that holds file offset @pc (the last with row.pc <= pc), or NULL. */
const struct qh_unwind_row *unwind__find(const struct qh_unwind_row *rows, size_t n, __u32 pc);

#endif
