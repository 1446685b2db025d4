/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reading an event log line by line, plain or gzip (any number of concatenated members),
 * streaming: memory is a read buffer, a decode buffer and the longest line.
 */
#ifndef __QH_EVREAD_H
#define __QH_EVREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QH_EVREAD_MAX_LINE (1 << 20)

struct evread;

/* Open @path; gzip is recognised by its magic bytes, not by the name. 0 or -errno. */
int evread__open(struct evread **out, const char *path);
void evread__close(struct evread *r);

/*
 * The next line, without its newline (valid until the next call): 1, or 0 at the clean end
 * of the input, or -errno (-EIO: corrupt, -EPIPE: truncated, -E2BIG: line too long) with
 * evread__error() saying what and where. Every whole line before the damage is returned
 * first: the readable part of a cut chunk is not lost.
 */
int evread__next(struct evread *r, const char **line, size_t *len);
const char *evread__error(const struct evread *r);
bool evread__is_gzip(const struct evread *r);
/* lines returned so far */
uint64_t evread__lineno(const struct evread *r);

/*
 * A whole JSON document (a summary report, plain or gzip) of at most @max bytes, parsed.
 * NULL with a one-line reason in @why.
 */
struct cJSON;
struct cJSON *evread__load_json(const char *path, size_t max, char *why, size_t len);

#endif
