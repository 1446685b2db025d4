// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <cjson/cJSON.h>

#include "evread.h"
#include "vec.h"

#define IN_BUF (128 << 10)
#define DEC_BUF (256 << 10)

struct evread {
	int fd;
	bool gzip;
	bool eof;		/* read() returned 0 */
	bool member_done;	/* between two gzip members */
	bool z_init;
	int err;		/* sticky, after the lines before it were returned */
	z_stream z;
	unsigned char *in;
	char *dec;		/* decoded bytes: [pos, len) not yet returned */
	size_t pos, len;
	char *line;		/* a line that spans two decode buffers */
	size_t line_len, line_cap;
	uint64_t lineno;
	uint64_t members;
	char what[128];
	char msg[160];
};

int evread__open(struct evread **out, const char *path)
{
	struct evread *r = calloc(1, sizeof(*r));
	ssize_t n;
	int err;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->in = malloc(IN_BUF);
	r->dec = malloc(DEC_BUF);
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || !r->in || !r->dec) {
		err = r->fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	do
		n = read(r->fd, r->in, IN_BUF);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		err = -errno;
		goto fail;
	}
	r->eof = n == 0;
	r->gzip = n >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
	if (r->gzip) {
		/* 15 + 16: gzip only; each member is started again with inflateReset */
		if (inflateInit2(&r->z, 15 + 16) != Z_OK) {
			err = -ENOMEM;
			goto fail;
		}
		r->z_init = true;
		r->z.next_in = r->in;
		r->z.avail_in = n;
	} else {
		memcpy(r->dec, r->in, n);
		r->len = n;
	}
	*out = r;
	return 0;
fail:
	evread__close(r);
	return err;
}

void evread__close(struct evread *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	if (r->z_init)
		inflateEnd(&r->z);
	free(r->in);
	free(r->dec);
	free(r->line);
	free(r);
}

const char *evread__error(const struct evread *r)
{
	return r->msg;
}

bool evread__is_gzip(const struct evread *r)
{
	return r->gzip;
}

uint64_t evread__lineno(const struct evread *r)
{
	return r->lineno;
}

static int fail(struct evread *r, int err, const char *what)
{
	snprintf(r->what, sizeof(r->what), "%s", what);
	snprintf(r->msg, sizeof(r->msg), "%s after line %lu", what, (unsigned long)r->lineno);
	r->err = err;
	return err;
}

/* 0 and more input in r->in, or 0 with r->eof, or -errno */
static int read_more(struct evread *r, unsigned char *dst, size_t cap, size_t *got)
{
	ssize_t n;

	do
		n = read(r->fd, dst, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		char what[96];

		snprintf(what, sizeof(what), "read failed: %s", strerror(errno));
		return fail(r, -errno, what);
	}
	r->eof = n == 0;
	*got = n;
	return 0;
}

/* Refill r->dec (consumed entirely): > 0 bytes decoded, 0 at a clean end, or -errno. */
static int decode(struct evread *r)
{
	size_t got;
	int ret, err;

	r->pos = r->len = 0;
	if (!r->gzip) {
		err = read_more(r, (unsigned char *)r->dec, DEC_BUF, &got);
		if (err)
			return err;
		r->len = got;
		return got;
	}
	for (;;) {
		if (!r->z.avail_in && !r->eof) {
			err = read_more(r, r->in, IN_BUF, &got);
			if (err)
				return err;
			r->z.next_in = r->in;
			r->z.avail_in = got;
		}
		if (r->member_done) {
			if (!r->z.avail_in && r->eof)
				return 0;
			/* another member follows, or the file is damaged */
			if (r->z.next_in[0] != 0x1f)
				return fail(r, -EIO, "corrupt gzip data: not a gzip member");
			inflateReset(&r->z);
			r->member_done = false;
		}
		if (!r->z.avail_in && r->eof)
			return fail(r, -EPIPE, "truncated: the file ends inside a gzip member");
		r->z.next_out = (unsigned char *)r->dec;
		r->z.avail_out = DEC_BUF;
		ret = inflate(&r->z, Z_NO_FLUSH);
		if (ret == Z_STREAM_END) {
			r->members++;
			r->member_done = true;
		} else if (ret != Z_OK && ret != Z_BUF_ERROR) {
			char what[128];

			snprintf(what, sizeof(what), "corrupt gzip data (%s)",
				 r->z.msg ? r->z.msg : "zlib error");
			r->len = DEC_BUF - r->z.avail_out;
			/* what decoded before the damage is still served; the error comes after */
			if (r->len) {
				r->err = -EIO;
				snprintf(r->what, sizeof(r->what), "%s", what);
				return r->len;
			}
			return fail(r, -EIO, what);
		}
		r->len = DEC_BUF - r->z.avail_out;
		if (r->len)
			return r->len;
	}
}

static int append(struct evread *r, const char *s, size_t n)
{
	if (r->line_len + n > QH_EVREAD_MAX_LINE)
		return fail(r, -E2BIG, "line longer than 1 MiB");
	if (vec_reserve(r->line, r->line_cap, r->line_len + n))
		return fail(r, -ENOMEM, "out of memory");
	memcpy(r->line + r->line_len, s, n);
	r->line_len += n;
	return 0;
}

int evread__next(struct evread *r, const char **line, size_t *len)
{
	bool spanning = false;
	int n, err;

	r->line_len = 0;
	for (;;) {
		char *start = r->dec + r->pos, *nl;

		nl = r->pos < r->len ? memchr(start, '\n', r->len - r->pos) : NULL;
		if (nl) {
			r->pos = nl + 1 - r->dec;
			r->lineno++;
			if (!spanning) {
				*line = start;
				*len = nl - start;
				return 1;
			}
			err = append(r, start, nl - start);
			if (err)
				return err;
			*line = r->line;
			*len = r->line_len;
			return 1;
		}
		if (r->pos < r->len) {
			err = append(r, start, r->len - r->pos);
			if (err)
				return err;
			spanning = true;
		}
		if (r->err) {
			snprintf(r->msg, sizeof(r->msg), "%s after line %lu", r->what,
				 (unsigned long)r->lineno);
			return r->err;
		}
		n = decode(r);
		if (n < 0)
			return n;
		if (n == 0) {
			if (spanning) {
				return fail(r, -EPIPE, "truncated: the last line has no end");
			}
			return 0;
		}
	}
}

cJSON *evread__load_json(const char *path, size_t max, char *why, size_t len)
{
	size_t n = 0, cap = 0;
	struct evread *r;
	char *text = NULL;
	cJSON *root = NULL;
	int err, got;

	err = evread__open(&r, path);
	if (err) {
		snprintf(why, len, "%s", strerror(-err));
		return NULL;
	}
	/*
	 * The decoded bytes as they come, not line by line: a report's lines have no length
	 * limit (a compact one is one line), and its last one may lack its newline.
	 */
	got = r->gzip ? decode(r) : (int)r->len;
	while (got > 0) {
		if (n + got + 1 > max) {
			snprintf(why, len, "larger than %zu MiB", max >> 20);
			goto out;
		}
		if (vec_reserve(text, cap, n + got + 1)) {
			snprintf(why, len, "out of memory");
			goto out;
		}
		memcpy(text + n, r->dec, got);
		n += got;
		/* what decoded before damage came first; the error is sticky */
		if (r->err)
			break;
		got = decode(r);
	}
	if (got < 0 || r->err) {
		snprintf(why, len, "%s (after %zu bytes of text)", r->what[0] ? r->what : r->msg, n);
		goto out;
	}
	if (!n) {
		snprintf(why, len, "empty file");
		goto out;
	}
	text[n] = '\0';
	if (memchr(text, '\0', n)) {
		snprintf(why, len, "not valid JSON (a NUL byte at offset %zu)",
			 (size_t)((char *)memchr(text, '\0', n) - text));
		goto out;
	}
	root = cJSON_ParseWithOpts(text, NULL, true);
	if (!root) {
		const char *at = cJSON_GetErrorPtr(), *p;
		unsigned int ln = 1;

		for (p = text; at && p < at; p++)
			ln += *p == '\n';
		snprintf(why, len, "not valid JSON (near line %u)", ln);
	}
out:
	free(text);
	evread__close(r);
	return root;
}
