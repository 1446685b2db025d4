// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "evlog.h"
#include "util.h"
#include "vec.h"

#define OUT_BUF (256 << 10)
#define FIRST_CAP (64 << 10)

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
};

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

int evlog__open(struct evlog **out, const char *path, const struct evlog_opts *o)
{
	struct evlog *w = calloc(1, sizeof(*w));
	int err;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->gzip = o->gzip;
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
	/*
	 * A file of our own, renamed into place: opening what is there would block on a FIFO
	 * for ever, or keep another user's ownership of what we log (they could read it)
	 */
	w->fd = util__create_replacing(path, 0644);
	if (w->fd < 0) {
		err = w->fd;
		goto fail;
	}
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
		if (!err)
			w->st.bytes_out += w->len;
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
	free(w);
	return err;
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

int evlog__end(struct evlog *w)
{
	text(w, "}\n", 2);
	if (w->err)
		return w->err;
	w->in_chunk++;
	w->st.records++;
	if (w->in_chunk >= w->chunk_size || w->len >= QH_EVLOG_MAX_CHUNK_BYTES)
		return evlog__flush(w);
	return 0;
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
