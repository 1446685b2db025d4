/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event log (--events FILE): one JSON object per line for every event qhtrace saw,
 * written in chunks. With gzip, each chunk is a complete gzip member (RFC 1952 allows a file
 * of concatenated members, and gzip -d and zlib read them as one stream): a crash loses at
 * most the chunk being filled, everything before it stays readable. Memory is one chunk,
 * whatever the length of the run.
 */
#ifndef __QH_EVLOG_H
#define __QH_EVLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QH_EVLOG_SCHEMA "qhtrace/events/v1"
#define QH_EVLOG_DEFAULT_CHUNK 1000	/* records per chunk */
#define QH_EVLOG_MAX_CHUNK_BYTES (4 << 20) /* a chunk is also cut at this many bytes */
#define QH_EVLOG_MAX_STR 1024		/* longer strings are cut (the record stays bounded) */

struct evlog_opts {
	uint32_t chunk_size;	/* records per chunk, 1..1000000 */
	bool gzip;
	int level;		/* zlib level 0..9 (gzip only) */
};

struct evlog_stats {
	uint64_t records;
	uint64_t chunks;
	uint64_t bytes_in;	/* JSON text produced */
	uint64_t bytes_out;	/* bytes written to the file */
};

struct evlog;

/* The compression a path asks for: true when it ends in ".gz". */
bool evlog__path_is_gzip(const char *path);

/* Create (truncate) @path, never through a symlink. 0 or -errno. */
int evlog__open(struct evlog **out, const char *path, const struct evlog_opts *o);
/* Flush the chunk in progress, end the gzip member, close. Accepts NULL. 0 or -errno. */
int evlog__close(struct evlog *w);

/*
 * One record: begin, fields, end. The record starts with "time" (CLOCK_REALTIME ns) and
 * "kind"; strings are JSON-escaped and cut at QH_EVLOG_MAX_STR bytes. end() cuts a chunk when
 * it is full and returns 0 or -errno (a failed write).
 */
void evlog__begin(struct evlog *w, uint64_t real_ns, const char *kind);
void evlog__u64(struct evlog *w, const char *key, uint64_t v);
void evlog__i64(struct evlog *w, const char *key, int64_t v);
void evlog__dbl(struct evlog *w, const char *key, double v);
void evlog__str(struct evlog *w, const char *key, const char *s);
void evlog__bool(struct evlog *w, const char *key, bool v);
/* a value that is already JSON text (an object or array), written as is */
void evlog__raw(struct evlog *w, const char *key, const char *json);
int evlog__end(struct evlog *w);

/* Write the chunk in progress now, as a member of its own. 0 or -errno. */
int evlog__flush(struct evlog *w);

void evlog__stats(const struct evlog *w, struct evlog_stats *st);
/* The buffers the writer holds (for the bounded-memory check). */
size_t evlog__mem(const struct evlog *w);

/* Append @s to @out as a JSON string body (no quotes), at most @max input bytes. */
size_t evlog__escape(char *out, const char *s, size_t max);

#endif
