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

/*
 * Text from a traced process (comm, paths, argv, a finding's target) made safe for a terminal or
 * a table: control characters (C0, DEL, C1), backslash and bytes that are not UTF-8 become
 * escapes (\n, \t, \\, \xNN), so no line can be forged and no terminal sequence sent.
 * Always NUL-terminated; cut (on a whole escape) when @len is short. Returns @buf.
 */
const char *util__esc(const char *s, char *buf, size_t len);
/* a buffer that holds the escape of @n bytes whole */
#define UTIL_ESC_LEN(n) (4 * (n) + 1)

/* Parse a decimal integer in [min, max]; -EINVAL or -ERANGE otherwise. */
int util__parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Check, before anything starts, that a report can be written to @path: @path is a regular
 * file or nothing (not a symlink, a directory, a FIFO, a socket or a device), and a file can
 * be created in its directory (tried: /proc, a read-only or full-of-inodes filesystem fail
 * here, not after the run). Returns 0 or -errno, with a reason.
 */
int util__check_output(const char *path, char *why, size_t len);
/*
 * A new, empty file of ours at @path, for writing as it grows (the event log): made in the
 * same directory and renamed over @path, so a file that was there (another user's, which
 * would keep its owner if opened) is replaced, never opened. What is no regular file is
 * refused, never replaced: a symlink (-ELOOP), a directory (-EISDIR), a FIFO planted to block
 * us, a socket or a device (-EINVAL). The fd, or -errno.
 */
int util__create_replacing(const char *path, mode_t mode);
/*
 * A new empty file of ours (mode 0600, O_EXCL: nothing planted is opened) in the directory of
 * @path, for a rename over @path later; its name in @tmp. The fd, or -errno.
 */
int util__temp_beside(const char *path, char *tmp, size_t len);
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
