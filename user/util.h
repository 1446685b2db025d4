/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Time conversions, number parsing and safe output files. */
#ifndef __QH_UTIL_H
#define __QH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NSEC_PER_SEC 1000000000ULL

uint64_t util__now_ns(int clock_id);
/* CLOCK_BOOTTIME ns (what BPF and start_boottime use) -> CLOCK_REALTIME ns */
uint64_t util__boot_to_real_ns(uint64_t boot_ns);
/* RFC 3339 UTC with milliseconds, e.g. 2026-11-26T23:59:01.123Z */
char *util__rfc3339(uint64_t real_ns, char *buf, size_t len);

/* Parse a decimal integer in [min, max]; -EINVAL or -ERANGE otherwise. */
int util__parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Check, before anything starts, that a report can be written to @path: the directory
 * exists and is writable, and @path is not a symlink. Returns 0 or -errno, with a reason.
 */
int util__check_output(const char *path, char *why, size_t len);
/*
 * Write @len bytes to @path through a temporary file in the same directory and rename(),
 * so a reader never sees half a report and a symlink planted at @path is replaced, never
 * followed.
 */
int util__write_file_atomic(const char *path, const void *data, size_t len);

/*
 * write(2) to a pipe whose reader may be gone: -1 with EPIPE, never a SIGPIPE (which the
 * traced command must not inherit as ignored, so it is not ignored process-wide).
 */
ssize_t util__write_nosigpipe(int fd, const void *buf, size_t len);

#endif
