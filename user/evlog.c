// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "evlog.h"
#include "log.h"
#include "util.h"
#include "vec.h"

#define OUT_BUF (256 << 10)
#define FIRST_CAP (64 << 10)
#define STAMP_LEN 16		/* 20261127T021011Z */
#define MAX_SEQ 99		/* names tried for one closing second: NAME-T, NAME-T-1, ... */
#define RETRY_NS (60 * NSEC_PER_SEC) /* after a failed rotation, the next attempt */

struct evlog {
	int fd;
	bool gzip;
	bool first_field;
	int err;		/* sticky: the first failure, reported by end() and close() */
	uint32_t chunk_size;
	uint32_t in_chunk;	/* records in the buffer */
	char *buf;		/* the chunk being filled */
	size_t len, cap;
	unsigned char *out;	/* deflate output, written as it fills */
	z_stream z;
	bool z_init;
	time_t cached_sec;	/* "2026-11-27T02:10:11" of the last record's second */
	char cached[32];
	struct evlog_stats st;
	/* rotation */
	char *path;
	char *version;
	struct evlog_rotation rot;
	struct evlog_clock clock;
	uint64_t file_start_ns;	/* CLOCK_BOOTTIME: a suspend counts toward the age */
	uint64_t file_records;	/* in the current file, the buffered ones included */
	uint32_t hdr_records;	/* of them, the "log" record that starts it */
	uint32_t part;		/* files of this run, the current one included */
	uint64_t retry_ns;	/* no rotation before (CLOCK_BOOTTIME), after a failure */
	bool warned;
	char last[PATH_MAX];	/* the newest closed file */
};

static uint64_t real_clock(void *ctx, int clock_id)
{
	(void)ctx;
	return util__now_ns(clock_id);
}

static uint64_t now_ns(const struct evlog *w, int clock_id)
{
	return w->clock.now_ns(w->clock.ctx, clock_id);
}

bool evlog__path_is_gzip(const char *path)
{
	size_t n = strlen(path);

	return n > 3 && !strcmp(path + n - 3, ".gz");
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* @path's directory ("." for none), and its base name split as stem and extension */
struct name_parts {
	char dir[PATH_MAX];
	const char *base;
	size_t stem_len;
	const char *ext;	/* ".ndjson.gz", ".ndjson", ".gz" or "" */
};

static void split_name(const char *path, struct name_parts *n)
{
	const char *slash = strrchr(path, '/'), *b, *dot = NULL, *p;
	size_t len, end;

	if (slash)
		snprintf(n->dir, sizeof(n->dir), "%.*s", (int)(slash - path + 1), path);
	else
		snprintf(n->dir, sizeof(n->dir), ".");
	b = slash ? slash + 1 : path;
	len = strlen(b);
	/* the name's own extension before .gz stays at the end: zcat and editors know it */
	end = len > 3 && !strcmp(b + len - 3, ".gz") ? len - 3 : len;
	for (p = b + 1; p < b + end; p++)
		if (*p == '.')
			dot = p;
	if (!dot)
		dot = b + end;
	n->base = b;
	n->stem_len = dot - b;
	n->ext = dot;
}

int evlog__rotated_name(const char *path, uint64_t real_ns, unsigned int seq, char *out,
			size_t len)
{
	const char *slash = strrchr(path, '/');
	time_t sec = real_ns / NSEC_PER_SEC;
	struct name_parts n;
	char stamp[32], tail[16] = "";
	struct tm tm;
	int w;

	split_name(path, &n);
	gmtime_r(&sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (seq)
		snprintf(tail, sizeof(tail), "-%u", seq);
	w = snprintf(out, len, "%.*s%.*s-%s%s%s", slash ? (int)(slash - path + 1) : 0, path,
		     (int)n.stem_len, n.base, stamp, tail, n.ext);
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

/*
 * @name is one of @n's closed files: STEM-YYYYmmddTHHMMSSZ[-SEQ]EXT exactly (nothing else in
 * the directory is ever removed). Its time in @stamp, SEQ in @seq.
 */
static bool is_rotated(const struct name_parts *n, const char *name, char *stamp,
		       unsigned long *seq)
{
	size_t ext_len = strlen(n->ext), len = strlen(name), i;
	const char *p = name + n->stem_len + 1, *end;

	if (len < n->stem_len + 1 + STAMP_LEN + ext_len || strncmp(name, n->base, n->stem_len) ||
	    name[n->stem_len] != '-' || strcmp(name + len - ext_len, n->ext))
		return false;
	for (i = 0; i < STAMP_LEN; i++) {
		bool ok = i == 8 ? p[i] == 'T' : i == 15 ? p[i] == 'Z' : p[i] >= '0' && p[i] <= '9';

		if (!ok)
			return false;
	}
	memcpy(stamp, p, STAMP_LEN);
	stamp[STAMP_LEN] = '\0';
	p += STAMP_LEN;
	end = name + len - ext_len;
	*seq = 0;
	if (p == end)
		return true;
	/* -SEQ: 1..MAX_SEQ, no leading zero */
	if (*p++ != '-' || p == end || *p == '0' || end - p > 2)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return false;
		*seq = *seq * 10 + (*p - '0');
	}
	return true;
}

struct closed_file {
	char stamp[STAMP_LEN + 1];
	unsigned long seq;
	char *name;
};

static int closed_cmp(const void *a, const void *b)
{
	const struct closed_file *x = a, *y = b;
	int c = strcmp(x->stamp, y->stamp);

	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static void warn_once(struct evlog *w, const char *what, int err)
{
	if (w->warned)
		return;
	w->warned = true;
	pr_warn("event log: cannot rotate %s: %s: %s (records go on into the current file; "
		"failed rotations are counted in the report)\n", w->path, what, strerror(-err));
}

/*
 * The retention: of the closed files (regular files by the pattern: a symlink or a directory
 * of that name is left alone), the oldest beyond rot.keep are removed.
 */
static void prune(struct evlog *w)
{
	struct closed_file *v = NULL;
	size_t n = 0, cap = 0, i;
	struct name_parts np;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int err = 0;

	if (!w->rot.keep)
		return;
	split_name(w->path, &np);
	d = opendir(np.dir);
	if (!d) {
		err = -errno;
		goto out;
	}
	while ((de = readdir(d))) {
		struct closed_file f;

		if (!is_rotated(&np, de->d_name, f.stamp, &f.seq) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		f.name = strdup(de->d_name);
		if (!f.name || vec_reserve(v, cap, n + 1)) {
			free(f.name);
			err = -ENOMEM;
			break;
		}
		v[n++] = f;
	}
	if (!err) {
		if (n) /* qsort's base must not be NULL, even for none */
			qsort(v, n, sizeof(*v), closed_cmp);
		for (i = 0; i + w->rot.keep < n; i++) {
			if (unlinkat(dirfd(d), v[i].name, 0) && errno != ENOENT) {
				err = -errno;
				break;
			}
			w->st.removed++;
		}
	}
	closedir(d);
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
out:
	if (err) {
		w->st.rotate_failed++;
		warn_once(w, "removing the oldest closed files", err);
	}
}

/*
 * @w->path (our closed file) to its closed name, atomically and never over anything:
 * RENAME_NOREPLACE, so a symlink or a file planted at that name is neither followed nor
 * replaced (the next SEQ is taken). Where the filesystem has no RENAME_NOREPLACE, link()
 * and unlink(), which refuse an existing name too. The name in @w->last.
 */
static int move_aside(struct evlog *w, uint64_t real_ns)
{
	char target[PATH_MAX];
	unsigned int seq;
	int err;

	for (seq = 0; seq <= MAX_SEQ; seq++) {
		err = evlog__rotated_name(w->path, real_ns, seq, target, sizeof(target));
		if (err)
			return err;
		if (!renameat2(AT_FDCWD, w->path, AT_FDCWD, target, RENAME_NOREPLACE))
			goto done;
		if (errno == EINVAL || errno == ENOSYS) {
			if (!link(w->path, target)) {
				if (unlink(w->path)) {
					err = -errno;
					unlink(target);
					return err;
				}
				goto done;
			}
		}
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
done:
	snprintf(w->last, sizeof(w->last), "%s", target);
	return 0;
}

/* A log left at the path (the monitor's before a restart) is kept as a closed file. */
static int keep_existing(struct evlog *w)
{
	struct stat st;
	int err;

	if (lstat(w->path, &st) || !S_ISREG(st.st_mode) || !st.st_size)
		return 0;
	err = move_aside(w, st.st_mtim.tv_sec * NSEC_PER_SEC + st.st_mtim.tv_nsec);
	if (err)
		return err;
	prune(w);
	return 0;
}

static void header(struct evlog *w);

int evlog__open(struct evlog **out, const char *path, const struct evlog_opts *o)
{
	struct evlog *w = calloc(1, sizeof(*w));
	int err;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->gzip = o->gzip;
	w->rot = o->rot;
	w->clock = o->clock ? *o->clock : (struct evlog_clock){ .now_ns = real_clock };
	w->path = strdup(path);
	w->version = o->version ? strdup(o->version) : NULL;
	if (!w->path || (o->version && !w->version)) {
		err = -ENOMEM;
		goto fail;
	}
	w->chunk_size = o->chunk_size ? o->chunk_size : QH_EVLOG_DEFAULT_CHUNK;
	w->cap = FIRST_CAP;
	w->buf = malloc(w->cap);
	if (!w->buf) {
		err = -ENOMEM;
		goto fail;
	}
	if (w->gzip) {
		w->out = malloc(OUT_BUF);
		if (!w->out) {
			err = -ENOMEM;
			goto fail;
		}
		/* 15 + 16: a gzip wrapper; deflateReset starts the next member with its header */
		if (deflateInit2(&w->z, o->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
		    Z_OK) {
			err = o->level < 0 || o->level > 9 ? -EINVAL : -ENOMEM;
			goto fail;
		}
		w->z_init = true;
	}
	if (o->keep_existing) {
		err = keep_existing(w);
		if (err)
			goto fail;
	}
	/*
	 * A file of our own, renamed into place: opening what is there would block on a FIFO
	 * for ever, or keep another user's ownership of what we log (they could read it)
	 */
	w->fd = util__create_replacing(path, 0644);
	if (w->fd < 0) {
		err = w->fd;
		goto fail;
	}
	w->file_start_ns = now_ns(w, CLOCK_BOOTTIME);
	w->part = 1;
	header(w);
	*out = w;
	return 0;
fail:
	evlog__close(w);
	return err;
}

static int deflate_chunk(struct evlog *w)
{
	int ret;

	w->z.next_in = (unsigned char *)w->buf;
	w->z.avail_in = w->len;
	do {
		w->z.next_out = w->out;
		w->z.avail_out = OUT_BUF;
		ret = deflate(&w->z, Z_FINISH);
		if (ret == Z_STREAM_ERROR)
			return -EIO;
		if (OUT_BUF - w->z.avail_out) {
			int err = write_all(w->fd, w->out, OUT_BUF - w->z.avail_out);

			if (err)
				return err;
			w->st.bytes_out += OUT_BUF - w->z.avail_out;
			w->st.file_bytes += OUT_BUF - w->z.avail_out;
		}
	} while (ret != Z_STREAM_END);
	deflateReset(&w->z);
	return 0;
}

int evlog__flush(struct evlog *w)
{
	int err;

	if (w->err)
		return w->err;
	if (!w->len)
		return 0;
	if (w->gzip) {
		err = deflate_chunk(w);
	} else {
		err = write_all(w->fd, w->buf, w->len);
		if (!err) {
			w->st.bytes_out += w->len;
			w->st.file_bytes += w->len;
		}
	}
	if (err) {
		w->err = err;
		return err;
	}
	w->st.chunks++;
	w->st.bytes_in += w->len;
	w->len = 0;
	w->in_chunk = 0;
	return 0;
}

int evlog__close(struct evlog *w)
{
	int err;

	if (!w)
		return 0;
	err = w->fd >= 0 ? evlog__flush(w) : 0;
	if (w->fd >= 0 && close(w->fd) && !err)
		err = -errno;
	if (w->z_init)
		deflateEnd(&w->z);
	free(w->out);
	free(w->buf);
	free(w->path);
	free(w->version);
	free(w);
	return err;
}

/*
 * Close the current file (its chunks are whole: this runs at a chunk boundary) under its
 * closed name and start the next at the path. Each step is a rename(2), so at any moment
 * the records are under one name or the other, never copied or half there. What fails
 * leaves the current file in place and in use: no record is lost.
 */
static int rotate(struct evlog *w, const char **what)
{
	char tmp[PATH_MAX];
	struct stat cur, at;
	int fd, err;

	*what = "the log's path";
	if (fstat(w->fd, &cur) || lstat(w->path, &at))
		return -errno;
	/* renamed or replaced by someone else: their file is not ours to rename */
	if (at.st_dev != cur.st_dev || at.st_ino != cur.st_ino) {
		*what = "the path is no longer the file qhtrace writes";
		return -ESTALE;
	}
	*what = "creating the next file";
	fd = util__temp_beside(w->path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	/* the closed file's records on disk before its name says it is closed */
	if (fchmod(fd, 0644) || fsync(w->fd)) {
		err = -errno;
		goto fail;
	}
	*what = "renaming the full file";
	err = move_aside(w, now_ns(w, CLOCK_REALTIME));
	if (err)
		goto fail;
	/* over whatever was planted at the path meanwhile: a rename replaces a symlink, never
	 * follows it */
	if (rename(tmp, w->path)) {
		err = -errno;
		*what = "putting the next file in place";
		/* undone, so the current file is at the path again; if not, it is still written */
		renameat2(AT_FDCWD, w->last, AT_FDCWD, w->path, RENAME_NOREPLACE);
		w->last[0] = '\0';
		goto fail;
	}
	close(w->fd);
	w->fd = fd;
	w->st.rotations++;
	w->st.file_bytes = 0;
	w->file_records = 0;
	w->file_start_ns = now_ns(w, CLOCK_BOOTTIME);
	w->part++;
	header(w);
	prune(w);
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return err;
}

static bool rotation_due(const struct evlog *w)
{
	if (!w->path || w->fd < 0 || w->err || w->file_records <= w->hdr_records)
		return false;
	if (w->rot.max_bytes && w->st.file_bytes >= w->rot.max_bytes)
		return true;
	return w->rot.max_age_s &&
	       now_ns(w, CLOCK_BOOTTIME) - w->file_start_ns >= w->rot.max_age_s * NSEC_PER_SEC;
}

/* at a chunk boundary (the buffer written) */
static void maybe_rotate(struct evlog *w)
{
	const char *what;
	int err;

	if (w->len || !rotation_due(w) || now_ns(w, CLOCK_BOOTTIME) < w->retry_ns)
		return;
	err = rotate(w, &what);
	if (!err)
		return;
	w->st.rotate_failed++;
	w->retry_ns = now_ns(w, CLOCK_BOOTTIME) + RETRY_NS;
	warn_once(w, what, err);
}

int evlog__tick(struct evlog *w)
{
	int err;

	if (!w || !rotation_due(w))
		return 0;
	err = evlog__flush(w);
	if (err)
		return err;
	maybe_rotate(w);
	return 0;
}

void evlog__set_rotation(struct evlog *w, const struct evlog_rotation *rot)
{
	w->rot = *rot;
	/* new limits get their first try now, not after an old failure's wait */
	w->retry_ns = 0;
}

const char *evlog__last_rotated(const struct evlog *w)
{
	return w->last;
}

/* room for @n more bytes, or a sticky -ENOMEM */
static bool reserve(struct evlog *w, size_t n)
{
	/* after a failed write nothing more is kept: memory stays bounded */
	if (w->err)
		return false;
	if (vec_reserve(w->buf, w->cap, w->len + n)) {
		w->err = -ENOMEM;
		return false;
	}
	return true;
}

/* length of the valid UTF-8 sequence at @s (at most @max bytes), 0 if it is not one */
static size_t utf8_len(const unsigned char *s, size_t max)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > max)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

size_t evlog__escape(char *out, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	size_t i;

	for (i = 0; s[i] && i < max; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = c;
		} else if (c == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (c == '\t') {
			*o++ = '\\';
			*o++ = 't';
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
		} else if (c < 0x80) {
			*o++ = c;
		} else {
			/* a comm or a file name is bytes: what is not UTF-8 becomes U+FFFD */
			size_t n = utf8_len((const unsigned char *)s + i, max - i);

			if (n) {
				memcpy(o, s + i, n);
				o += n;
				i += n - 1;
			} else {
				memcpy(o, "\\ufffd", 6);
				o += 6;
			}
		}
	}
	return o - out;
}

static void key(struct evlog *w, const char *k)
{
	size_t n = strlen(k);

	if (!reserve(w, n + 4))
		return;
	w->buf[w->len++] = ',';
	w->buf[w->len++] = '"';
	memcpy(w->buf + w->len, k, n);
	w->len += n;
	w->buf[w->len++] = '"';
	w->buf[w->len++] = ':';
}

static void text(struct evlog *w, const char *s, size_t n)
{
	if (!reserve(w, n))
		return;
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void quoted(struct evlog *w, const char *s)
{
	size_t n = strnlen(s, QH_EVLOG_MAX_STR);

	/* 6 bytes per input byte at worst (\u00XX), plus the quotes */
	if (!reserve(w, n * 6 + 2))
		return;
	w->buf[w->len++] = '"';
	w->len += evlog__escape(w->buf + w->len, s, n);
	w->buf[w->len++] = '"';
}

void evlog__begin(struct evlog *w, uint64_t real_ns, const char *kind)
{
	time_t sec = real_ns / 1000000000ULL;
	char t[48];
	int n;

	if (sec != w->cached_sec || !w->cached[0]) {
		struct tm tm;

		gmtime_r(&sec, &tm);
		strftime(w->cached, sizeof(w->cached), "%Y-%m-%dT%H:%M:%S", &tm);
		w->cached_sec = sec;
	}
	n = snprintf(t, sizeof(t), "{\"time\":\"%s.%03uZ\"", w->cached,
		     (unsigned int)(real_ns % 1000000000ULL / 1000000));
	text(w, t, n);
	key(w, "kind");
	quoted(w, kind);
}

void evlog__u64(struct evlog *w, const char *k, uint64_t v)
{
	char t[24];

	key(w, k);
	text(w, t, snprintf(t, sizeof(t), "%lu", (unsigned long)v));
}

void evlog__i64(struct evlog *w, const char *k, int64_t v)
{
	char t[24];

	key(w, k);
	text(w, t, snprintf(t, sizeof(t), "%ld", (long)v));
}

void evlog__dbl(struct evlog *w, const char *k, double v)
{
	char t[40];

	key(w, k);
	/* JSON has no NaN or infinity */
	if (v != v || v > 1e300 || v < -1e300)
		text(w, "null", 4);
	else
		text(w, t, snprintf(t, sizeof(t), "%.6g", v));
}

void evlog__str(struct evlog *w, const char *k, const char *s)
{
	key(w, k);
	if (s)
		quoted(w, s);
	else
		text(w, "null", 4);
}

void evlog__bool(struct evlog *w, const char *k, bool v)
{
	key(w, k);
	text(w, v ? "true" : "false", v ? 4 : 5);
}

void evlog__raw(struct evlog *w, const char *k, const char *json)
{
	key(w, k);
	text(w, json, strlen(json));
}

/* the record is whole: counted; true when its chunk is full */
static bool end_record(struct evlog *w)
{
	text(w, "}\n", 2);
	if (w->err)
		return false;
	w->in_chunk++;
	w->st.records++;
	w->file_records++;
	return w->in_chunk >= w->chunk_size || w->len >= QH_EVLOG_MAX_CHUNK_BYTES;
}

int evlog__end(struct evlog *w)
{
	int err;

	if (!end_record(w))
		return w->err;
	err = evlog__flush(w);
	if (!err)
		maybe_rotate(w);
	return err;
}

/* the first record of each file, so that each says what it is and which came before */
static void header(struct evlog *w)
{
	const char *prev = strrchr(w->last, '/');

	w->hdr_records = 0;
	if (!w->version)
		return;
	evlog__begin(w, now_ns(w, CLOCK_REALTIME), "log");
	evlog__str(w, "schema", QH_EVLOG_SCHEMA);
	evlog__str(w, "version", w->version);
	if (w->part > 1)
		evlog__u64(w, "part", w->part);
	/* a closed file of this run, or the one a restart kept */
	if (w->last[0])
		evlog__str(w, "previous", prev ? prev + 1 : w->last);
	/* written with the next chunk: a file is never cut after its header alone */
	end_record(w);
	w->hdr_records = 1;
}

void evlog__stats(const struct evlog *w, struct evlog_stats *st)
{
	/* bytes_in and bytes_out are of written chunks: the chunk in progress is not counted */
	*st = w->st;
}

size_t evlog__mem(const struct evlog *w)
{
	return w->cap + (w->gzip ? OUT_BUF : 0);
}
