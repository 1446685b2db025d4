/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The event log (--events FILE): one JSON object per line for every event qhtrace saw,
 * written in chunks. With gzip, each chunk is a complete gzip member (RFC 1952 allows a file
 * of concatenated members, and gzip -d and zlib read them as one stream): a crash loses at
 * most the chunk being filled, everything before it stays readable. Memory is one chunk,
 * whatever the length of the run.
 *
 * Rotation (the monitor runs for weeks): at a chunk boundary, when the file holds max_bytes
 * on disk or is max_age_s old, it is closed whole and renamed NAME-YYYYmmddTHHMMSSZ.EXT
 * (events.ndjson.gz -> events-20261127T021011Z.ndjson.gz, the UTC time it was closed), a new
 * NAME is started, and of the closed files only the newest @keep are kept. Names with the
 * time, not logrotate's NAME.1, NAME.2: a closed file keeps its name for good (a shipper or a
 * reader that has it open or remembers it is not misled by the shifts, and a rotation is one
 * rename, not @keep of them), the name still ends in .gz, and they sort by time.
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

/* The clocks, as an input (the tests turn them); NULL in evlog_opts: util__now_ns. */
struct evlog_clock {
	uint64_t (*now_ns)(void *ctx, int clock_id);	/* CLOCK_BOOTTIME, CLOCK_REALTIME */
	void *ctx;
};

/* rotation limits; 0 is no limit (keep: every closed file is kept) */
struct evlog_rotation {
	uint64_t max_bytes;	/* the file's size on disk (compressed) */
	uint64_t max_age_s;	/* since the file was started */
	uint32_t keep;		/* closed files kept (by their names' pattern, earlier runs' too) */
};

struct evlog_opts {
	uint32_t chunk_size;	/* records per chunk, 1..1000000 */
	bool gzip;
	int level;		/* zlib level 0..9 (gzip only) */
	struct evlog_rotation rot;
	/*
	 * A file already at the path is rotated (named by its mtime), not replaced: the log a
	 * monitor wrote before a restart is kept. Without it, it is replaced (attach: one run).
	 */
	bool keep_existing;
	/* each file starts with a "log" record: schema, this version, and from the second file
	 * on its "part" and the "previous" file's name. NULL: no such record. */
	const char *version;
	const struct evlog_clock *clock;
};

struct evlog_stats {
	uint64_t records;
	uint64_t chunks;
	uint64_t bytes_in;	/* JSON text produced */
	uint64_t bytes_out;	/* bytes written, to every file of the run */
	uint64_t file_bytes;	/* bytes in the current file */
	uint64_t rotations;	/* files closed and renamed */
	uint64_t rotate_failed;	/* attempts that failed (the records went on to the current file) */
	uint64_t removed;	/* closed files removed by the retention */
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

/*
 * From a timer (the monitor's): a file past its age is rotated now, even when few records
 * came (the chunk in progress is written first). Without calls, the age is checked at chunk
 * boundaries only. 0, or -errno of a failed write (a failed rotation is counted, not
 * returned: the records go on to the current file, and a warning says so once).
 */
int evlog__tick(struct evlog *w);
/* New limits (a settings reload), from the next chunk boundary on. */
void evlog__set_rotation(struct evlog *w, const struct evlog_rotation *rot);
/*
 * The name @path's closed file gets when closed at @real_ns (UTC seconds), with @seq > 0 a
 * "-SEQ" after the time (a name already taken). 0, or -ENAMETOOLONG.
 */
int evlog__rotated_name(const char *path, uint64_t real_ns, unsigned int seq, char *out,
			size_t len);
/* The newest closed file's name (empty before the first rotation). */
const char *evlog__last_rotated(const struct evlog *w);

void evlog__stats(const struct evlog *w, struct evlog_stats *st);
/* The buffers the writer holds (for the bounded-memory check). */
size_t evlog__mem(const struct evlog *w);

/* Append @s to @out as a JSON string body (no quotes), at most @max input bytes. */
size_t evlog__escape(char *out, const char *s, size_t max);

#endif
