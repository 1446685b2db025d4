// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The event log: the writer (chunk boundaries, gzip round trip, flush on SIGTERM, what a
 * SIGKILL leaves, bounded memory) and the reader and pager (a 1,000,000-line gzip log, filters,
 * corrupt and truncated input).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "commands.h"
#include "evlog.h"
#include "evread.h"
#include "reportpage.h"
#include "util.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/qh-evlog-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* a path in the test directory (a few live at once: a ring of buffers) */
static const char *path_of(const char *name)
{
	static char p[8][128];
	static int next;
	char *b = p[next++ % 8];

	snprintf(b, sizeof(p[0]), "%s/%s", dir, name);
	return b;
}

/* record i: kind by i % 4, pid 1000 + i % 7, comm by i % 3, severity by i % 4 */
static const char *const kinds[] = { "fork", "exec", "exit", "heap_leak" };
static const char *const comms[] = { "pytest", "chrome", "sh" };
static const char *const sevs[] = { "low", "medium", "high", "critical" };

static int write_rec(struct evlog *w, uint64_t i)
{
	evlog__begin(w, 1764200000000000000ULL + i * 1000, kinds[i % 4]);
	evlog__u64(w, "seq", i);
	evlog__u64(w, "pid", 1000 + i % 7);
	evlog__str(w, "comm", comms[i % 3]);
	evlog__str(w, "severity", sevs[i % 4]);
	return evlog__end(w);
}

static struct evlog *open_log(const char *path, bool gz, uint32_t chunk, int level)
{
	struct evlog *w = NULL;

	assert_int_equal(evlog__open(&w, path,
				     &(struct evlog_opts){ .chunk_size = chunk, .gzip = gz,
							    .level = level }),
			 0);
	return w;
}

/* every line of @path through the reader: returns the count; *err the final status */
static uint64_t count_lines(const char *path, int *err, char *why, size_t len)
{
	struct evread *r;
	const char *line;
	uint64_t n = 0;
	size_t l;
	int e;

	assert_int_equal(evread__open(&r, path), 0);
	while ((e = evread__next(r, &line, &l)) > 0) {
		char want[32];

		/* each line is record n, in order */
		snprintf(want, sizeof(want), "\"seq\":%lu,", (unsigned long)n);
		assert_non_null(memmem(line, l, want, strlen(want)));
		n++;
	}
	*err = e;
	if (why)
		snprintf(why, len, "%s", evread__error(r));
	evread__close(r);
	return n;
}

/* gzip members in a file, counted by inflating member by member with zlib itself */
static int count_members(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char in[65536], out[65536];
	z_stream z = {};
	int members = 0, ret = Z_OK;
	size_t n;

	assert_non_null(f);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	while ((n = fread(in, 1, sizeof(in), f)) > 0) {
		z.next_in = in;
		z.avail_in = n;
		while (z.avail_in) {
			z.next_out = out;
			z.avail_out = sizeof(out);
			ret = inflate(&z, Z_NO_FLUSH);
			assert_true(ret == Z_OK || ret == Z_STREAM_END || ret == Z_BUF_ERROR);
			if (ret == Z_STREAM_END) {
				members++;
				inflateReset(&z);
			}
			if (ret == Z_BUF_ERROR)
				break;
		}
	}
	inflateEnd(&z);
	fclose(f);
	return members;
}

static void test_chunk_boundaries(void **state)
{
	const char *p = path_of("chunks.ndjson.gz");
	struct evlog_stats st;
	struct evlog *w;
	uint64_t i;
	int err;

	(void)state;
	w = open_log(p, true, 10, 6);
	for (i = 0; i < 25; i++)
		assert_int_equal(write_rec(w, i), 0);
	/* two full chunks are on disk, whole members; the third is in memory */
	evlog__stats(w, &st);
	assert_int_equal(st.records, 25);
	assert_int_equal(st.chunks, 2);
	assert_int_equal(count_members(p), 2);
	assert_int_equal(count_lines(p, &err, NULL, 0), 20);
	assert_int_equal(err, 0);
	/* the 30th record closes the third chunk, exactly at the boundary */
	for (; i < 30; i++)
		assert_int_equal(write_rec(w, i), 0);
	evlog__stats(w, &st);
	assert_int_equal(st.chunks, 3);
	assert_int_equal(count_lines(p, &err, NULL, 0), 30);
	/* close with nothing pending writes no empty member */
	assert_int_equal(evlog__close(w), 0);
	assert_int_equal(count_members(p), 3);
	assert_int_equal(count_lines(p, &err, NULL, 0), 30);
	assert_int_equal(err, 0);
}

static void test_gzip_round_trip(void **state)
{
	static const char *const strs[] = {
		"plain", "quote \" and backslash \\", "new\nline\ttab", "ctl \x01\x1f\x7f",
		"utf-8 \xc3\xa9\xe2\x82\xac", "",
	};
	/* bytes that are not UTF-8 read back as U+FFFD; valid sequences stay */
	static const char *const raw[] = { "bad \xff\xc3", "cut \xe2\x82", "surrogate \xed\xa0\x80",
					   "ok \xf0\x9f\x98\x80" };
	static const char *const cooked[] = { "bad \xef\xbf\xbd\xef\xbf\xbd",
					      "cut \xef\xbf\xbd\xef\xbf\xbd",
					      "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
					      "ok \xf0\x9f\x98\x80" };
	const char *p = path_of("rt.ndjson.gz");
	struct evlog_stats st;
	struct evread *r;
	struct evlog *w;
	const char *line;
	size_t l, i;
	gzFile gz;
	char buf[4096];
	int n = 0;

	(void)state;
	w = open_log(p, true, 4, 9);
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		evlog__begin(w, 1764200000123000000ULL, "exec");
		evlog__str(w, "s", strs[i]);
		evlog__i64(w, "neg", -(int64_t)i);
		evlog__dbl(w, "d", 0.5 * i);
		evlog__bool(w, "b", i & 1);
		evlog__raw(w, "raw", "[1,{\"a\":2}]");
		evlog__str(w, "null", NULL);
		assert_int_equal(evlog__end(w), 0);
	}
	evlog__flush(w);
	evlog__stats(w, &st);
	assert_int_equal(evlog__close(w), 0);
	/* bytes out are the file; bytes in the text */
	{
		struct stat sb;

		assert_int_equal(stat(p, &sb), 0);
		assert_int_equal(st.bytes_out, sb.st_size);
		assert_true(st.bytes_in > 0);
	}
	assert_int_equal(evread__open(&r, p), 0);
	assert_true(evread__is_gzip(r));
	for (i = 0; evread__next(r, &line, &l) > 0; i++) {
		cJSON *o = cJSON_ParseWithLength(line, l);

		assert_non_null(o);
		assert_string_equal(cJSON_GetObjectItem(o, "s")->valuestring, strs[i]);
		assert_string_equal(cJSON_GetObjectItem(o, "kind")->valuestring, "exec");
		assert_string_equal(cJSON_GetObjectItem(o, "time")->valuestring,
				    "2025-11-26T23:33:20.123Z");
		assert_int_equal(cJSON_GetObjectItem(o, "neg")->valuedouble, -(double)i);
		assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "null")));
		assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "raw")), 2);
		cJSON_Delete(o);
	}
	evread__close(r);
	assert_int_equal(i, sizeof(strs) / sizeof(strs[0]));
	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		char esc[128];
		size_t n = evlog__escape(esc, raw[i], strlen(raw[i]));
		cJSON *o;

		snprintf(buf, sizeof(buf), "\"%.*s\"", (int)n, esc);
		o = cJSON_Parse(buf);
		assert_non_null(o);
		assert_string_equal(o->valuestring, cooked[i]);
		cJSON_Delete(o);
	}
	/* and zlib's own gzip reader (which reads concatenated members) agrees */
	gz = gzopen(p, "rb");
	assert_non_null(gz);
	while (gzgets(gz, buf, sizeof(buf)))
		n++;
	gzclose(gz);
	assert_int_equal(n, sizeof(strs) / sizeof(strs[0]));
}

static void test_plain(void **state)
{
	const char *p = path_of("plain.ndjson");
	struct evread *r;
	struct evlog *w;
	uint64_t i;
	int err;

	(void)state;
	w = open_log(p, false, 7, 0);
	for (i = 0; i < 100; i++)
		assert_int_equal(write_rec(w, i), 0);
	assert_int_equal(evlog__close(w), 0);
	assert_int_equal(count_lines(p, &err, NULL, 0), 100);
	assert_int_equal(err, 0);
	assert_int_equal(evread__open(&r, p), 0);
	assert_false(evread__is_gzip(r));
	evread__close(r);
}

/* The writer in a child that, like qhtrace, takes SIGTERM through a signalfd. */
static void test_flush_on_sigterm(void **state)
{
	const char *p = path_of("term.ndjson.gz");
	int ready[2], st, err;
	char b;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct signalfd_siginfo si;
		struct evlog *w = NULL;
		sigset_t mask;
		int sfd;
		uint64_t i;

		sigemptyset(&mask);
		sigaddset(&mask, SIGTERM);
		sigprocmask(SIG_BLOCK, &mask, NULL);
		sfd = signalfd(-1, &mask, 0);
		if (sfd < 0 || evlog__open(&w, p, &(struct evlog_opts){ .chunk_size = 1000,
									  .gzip = true,
									  .level = 6 }))
			_exit(1);
		for (i = 0; i < 2500; i++)
			write_rec(w, i);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		if (read(sfd, &si, sizeof(si)) != sizeof(si) || si.ssi_signo != SIGTERM)
			_exit(1);
		_exit(evlog__close(w) ? 1 : 0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &b, 1), 1);
	close(ready[0]);
	/* before the signal: the two full chunks only */
	assert_int_equal(count_lines(p, &err, NULL, 0), 2000);
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* after: all of it, and the last member is complete (no truncation) */
	assert_int_equal(count_lines(p, &err, NULL, 0), 2500);
	assert_int_equal(err, 0);
	assert_int_equal(count_members(p), 3);
}

static void test_sigkill_loses_one_chunk_at_most(void **state)
{
	const char *p = path_of("kill.ndjson.gz");
	int st, err;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct evlog *w = NULL;
		uint64_t i;

		if (evlog__open(&w, p, &(struct evlog_opts){ .chunk_size = 1000, .gzip = true,
							       .level = 1 }))
			_exit(1);
		for (i = 0; i < 2999; i++)
			write_rec(w, i);
		raise(SIGKILL);
		_exit(1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* 999 records of the chunk in progress are lost; the rest read cleanly */
	assert_int_equal(count_lines(p, &err, NULL, 0), 2000);
	assert_int_equal(err, 0);
}

static void test_bounded_memory(void **state)
{
	const char *p = path_of("mem.ndjson.gz");
	char big[QH_EVLOG_MAX_STR + 100];
	size_t mem0, mem;
	struct evlog *w;
	uint64_t i;

	(void)state;
	/* chunk by count: memory after 1,000 records is what it is after 200,000 */
	w = open_log(p, true, 1000, 1);
	for (i = 0; i < 1000; i++)
		write_rec(w, i);
	mem0 = evlog__mem(w);
	for (; i < 200000; i++)
		write_rec(w, i);
	assert_int_equal(evlog__mem(w), mem0);
	assert_true(mem0 < (1 << 20));
	assert_int_equal(evlog__close(w), 0);
	/* a chunk of a million large records is cut by bytes: memory stays bounded */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	w = open_log(p, true, 1000000, 1);
	for (i = 0; i < 20000; i++) {
		evlog__begin(w, 0, "big");
		evlog__str(w, "s", big); /* cut at QH_EVLOG_MAX_STR */
		assert_int_equal(evlog__end(w), 0);
		mem = evlog__mem(w);
		assert_true(mem <= 2 * QH_EVLOG_MAX_CHUNK_BYTES + (256 << 10));
	}
	assert_int_equal(evlog__close(w), 0);
}

/*
 * A failed write (here: the file size limit, as a full disk would fail it) is reported, and
 * the writer keeps nothing more. In a child: the limit is its own.
 */
static void test_write_error_is_sticky(void **state)
{
	const char *p = path_of("limited.ndjson.gz");
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { 4096, 4096 };
		struct evlog *w = NULL;
		size_t mem;
		uint64_t i;
		int err = 0;

		signal(SIGXFSZ, SIG_IGN); /* the write fails with EFBIG instead */
		if (setrlimit(RLIMIT_FSIZE, &rl) ||
		    evlog__open(&w, p, &(struct evlog_opts){ .chunk_size = 10, .gzip = true,
							      .level = 1 }))
			_exit(10);
		for (i = 0; i < 1000 && !err; i++)
			err = write_rec(w, i);
		if (err != -EFBIG)
			_exit(11);
		mem = evlog__mem(w);
		for (i = 0; i < 100000; i++)
			if (write_rec(w, i) != -EFBIG)
				_exit(12);
		if (evlog__mem(w) != mem)
			_exit(13);
		_exit(evlog__close(w) == -EFBIG ? 0 : 14);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_refuses_symlink(void **state)
{
	char target[128];
	struct evlog *w = NULL;

	(void)state;
	snprintf(target, sizeof(target), "%s", path_of("target"));
	assert_int_equal(symlink(target, path_of("link.ndjson")), 0);
	assert_int_equal(evlog__open(&w, path_of("link.ndjson"),
				     &(struct evlog_opts){ .chunk_size = 1 }),
			 -ELOOP);
	assert_null(w);
	assert_int_not_equal(access(target, F_OK), 0);
}

/*
 * Issue 17, defects 3 and 4: a FIFO at the path is refused at once (opening it blocked for
 * ever), a device is never replaced, and an existing file is replaced by a new one of ours,
 * never written in place (it would keep its owner, who could read and append to our log).
 */
static void test_fifo_device_and_existing_file(void **state)
{
	const char *fifo = path_of("fifo.ndjson"), *old = path_of("old.ndjson");
	const char *keep = path_of("old-link");
	struct evlog *w = NULL;
	struct stat a, b;
	char buf[16] = "";
	int fd;

	(void)state;
	assert_int_equal(mkfifo(fifo, 0666), 0);
	assert_int_equal(evlog__open(&w, fifo, &(struct evlog_opts){ .chunk_size = 1 }), -EINVAL);
	assert_null(w);
	assert_int_equal(evlog__open(&w, "/dev/null", &(struct evlog_opts){ .chunk_size = 1 }),
			 -EINVAL);
	assert_int_equal(stat("/dev/null", &a), 0);
	assert_true(S_ISCHR(a.st_mode));

	fd = open(old, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "theirs\n", 7), 7);
	close(fd);
	assert_int_equal(link(old, keep), 0); /* what the other user would still hold */
	assert_int_equal(stat(old, &a), 0);
	assert_int_equal(evlog__open(&w, old, &(struct evlog_opts){ .chunk_size = 1 }), 0);
	assert_int_equal(write_rec(w, 1), 0);
	assert_int_equal(evlog__close(w), 0);
	assert_int_equal(stat(old, &b), 0);
	assert_int_not_equal(a.st_ino, b.st_ino);
	assert_int_equal(b.st_mode & 0777, 0644);
	fd = open(keep, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 7);
	close(fd);
	assert_string_equal(buf, "theirs\n");
}

/* ---- reader and pager ---- */

#define BIG_LINES 1000000

static const char *big_log(void)
{
	static bool made;
	const char *p = path_of("big.ndjson.gz");
	struct evlog *w;
	uint64_t i;

	if (made)
		return p;
	w = open_log(p, true, 1000, 1);
	for (i = 0; i < BIG_LINES; i++)
		assert_int_equal(write_rec(w, i), 0);
	assert_int_equal(evlog__close(w), 0);
	made = true;
	return p;
}

static cJSON *page(const char *path, const char *filter, uint64_t n, uint64_t size, int want_err)
{
	struct row_filter f = { .severity = -1 };
	char why[256];
	cJSON *o = NULL;

	if (filter)
		assert_int_equal(row_filter__parse(&f, filter, why, sizeof(why)), 0);
	assert_int_equal(report__page(path, &f, n, size, &o, why, sizeof(why)), want_err);
	assert_non_null(o);
	assert_int_equal(cJSON_GetObjectItem(o, "page")->valuedouble, n);
	assert_int_equal(cJSON_GetObjectItem(o, "page_size")->valuedouble, size);
	return o;
}

static double seq_of(const cJSON *o, int i)
{
	return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "items"), i), "seq")
		->valuedouble;
}

static int nitems(const cJSON *o)
{
	return cJSON_GetArraySize(cJSON_GetObjectItem(o, "items"));
}

static bool has_next(const cJSON *o)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(o, "has_next"));
}

static void test_paginate_million_lines(void **state)
{
	const char *p = big_log();
	cJSON *o;

	(void)state;
	o = page(p, NULL, 1, 100, 0);
	assert_int_equal(nitems(o), 100);
	assert_true(has_next(o));
	assert_int_equal(seq_of(o, 0), 0);
	assert_int_equal(seq_of(o, 99), 99);
	cJSON_Delete(o);
	/* a page in the middle */
	o = page(p, NULL, 4321, 100, 0);
	assert_int_equal(seq_of(o, 0), 432000);
	assert_int_equal(seq_of(o, 99), 432099);
	assert_true(has_next(o));
	cJSON_Delete(o);
	/* the last page is full and says so */
	o = page(p, NULL, 10000, 100, 0);
	assert_int_equal(nitems(o), 100);
	assert_int_equal(seq_of(o, 99), BIG_LINES - 1);
	assert_false(has_next(o));
	cJSON_Delete(o);
	/* a short last page, and one past the end */
	o = page(p, NULL, 3334, 300, 0);
	assert_int_equal(nitems(o), BIG_LINES - 3333 * 300);
	assert_false(has_next(o));
	cJSON_Delete(o);
	o = page(p, NULL, 10001, 100, 0);
	assert_int_equal(nitems(o), 0);
	assert_false(has_next(o));
	cJSON_Delete(o);
}

static void test_filters(void **state)
{
	const char *p = big_log();
	cJSON *o, *it;

	(void)state;
	/* kind=exit: every 4th record from 2; page 3 of 10 */
	o = page(p, "kind=exit", 3, 10, 0);
	assert_int_equal(nitems(o), 10);
	assert_int_equal(seq_of(o, 0), 2 + 4 * 20);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(o, "items"))
		assert_string_equal(cJSON_GetObjectItem(it, "kind")->valuestring, "exit");
	cJSON_Delete(o);
	/* pid and comm together: i % 7 == 3 and i % 3 == 0 -> i = 3 (mod 21) */
	o = page(p, "pid=1003,comm=pytest", 2, 2, 0);
	assert_int_equal(nitems(o), 2);
	assert_int_equal(seq_of(o, 0), 3 + 2 * 21);
	assert_int_equal(seq_of(o, 1), 3 + 3 * 21);
	cJSON_Delete(o);
	o = page(p, "comm=firefox", 1, 5, 0);
	assert_int_equal(nitems(o), 0);
	assert_false(has_next(o));
	cJSON_Delete(o);
	/* i % 7 == 3 and i % 3 == 1 -> i = 10 (mod 21) */
	o = page(p, "pid=1003,comm=chrome", 1, 5, 0);
	assert_int_equal(nitems(o), 5);
	assert_int_equal(seq_of(o, 0), 10);
	assert_int_equal(seq_of(o, 1), 31);
	cJSON_Delete(o);
	/* severity: equal, and a floor */
	o = page(p, "severity=high", 1, 3, 0);
	assert_int_equal(seq_of(o, 0), 2);
	assert_int_equal(seq_of(o, 1), 6);
	cJSON_Delete(o);
	o = page(p, "severity>=high", 1, 3, 0);
	assert_int_equal(seq_of(o, 0), 2);
	assert_int_equal(seq_of(o, 1), 3);
	assert_int_equal(seq_of(o, 2), 6);
	cJSON_Delete(o);
}

static void test_filter_syntax(void **state)
{
	struct row_filter f = { .severity = -1 };
	char why[256];

	(void)state;
	assert_int_equal(row_filter__parse(&f, "pid=0", why, sizeof(why)), -EINVAL);
	assert_int_equal(row_filter__parse(&f, "severity=huge", why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "low, medium, high or critical"));
	assert_int_equal(row_filter__parse(&f, "colour=red", why, sizeof(why)), -EINVAL);
	assert_int_equal(row_filter__parse(&f, "pid>=3", why, sizeof(why)), -EINVAL);
	assert_int_equal(row_filter__parse(&f, "=x", why, sizeof(why)), -EINVAL);
}

static void copy_prefix(const char *from, const char *to, off_t len)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "head -c %ld '%s' > '%s'", (long)len, from, to);
	assert_int_equal(system(cmd), 0);
}

static void test_truncated_gzip(void **state)
{
	const char *p = path_of("t.ndjson.gz");
	char cut[128], why[256];
	struct stat sb;
	struct evlog *w;
	uint64_t i, n;
	off_t two;
	int err;
	cJSON *o;

	(void)state;
	w = open_log(p, true, 1000, 1);
	for (i = 0; i < 2000; i++)
		write_rec(w, i);
	assert_int_equal(stat(p, &sb), 0);
	two = sb.st_size; /* two complete members */
	for (; i < 3000; i++)
		write_rec(w, i);
	assert_int_equal(evlog__close(w), 0);
	assert_int_equal(stat(p, &sb), 0);
	snprintf(cut, sizeof(cut), "%s", path_of("cut.ndjson.gz"));
	/* cut inside the third member: a clear error, after what could be read of it */
	copy_prefix(p, cut, two + (sb.st_size - two) * 2 / 3);
	n = count_lines(cut, &err, why, sizeof(why));
	assert_int_equal(err, -EPIPE);
	assert_non_null(strstr(why, "truncated"));
	assert_true(n > 2000); /* the partial last chunk is readable */
	assert_true(n < 3000);
	/* the pager shows the rows before the damage and names it */
	o = page(cut, NULL, 1, 5000, -EPIPE);
	assert_int_equal(nitems(o), n);
	assert_non_null(strstr(cJSON_GetObjectItem(o, "error")->valuestring, "truncated"));
	cJSON_Delete(o);
	/* a page before the damage never reaches it */
	o = page(cut, NULL, 1, 100, 0);
	assert_true(has_next(o));
	cJSON_Delete(o);
	/* cut exactly at a member boundary: the whole chunks read cleanly */
	copy_prefix(p, cut, two);
	assert_int_equal(count_lines(cut, &err, NULL, 0), 2000);
	assert_int_equal(err, 0);
}

static void test_corrupt_gzip(void **state)
{
	const char *p = path_of("c.ndjson.gz");
	char why[256];
	struct stat sb;
	struct evlog *w;
	uint64_t i, n;
	int fd, err;
	off_t at;

	(void)state;
	w = open_log(p, true, 1000, 1);
	for (i = 0; i < 3000; i++)
		write_rec(w, i);
	assert_int_equal(evlog__close(w), 0);
	assert_int_equal(stat(p, &sb), 0);
	/* damage the middle of the file: the member there fails its data or CRC check */
	fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	for (at = sb.st_size / 2; at < sb.st_size / 2 + 64; at++)
		assert_int_equal(pwrite(fd, "\xff", 1, at), 1);
	close(fd);
	/*
	 * The first member is whole and in order; within the damaged one, deflate may decode
	 * garbage before the member's CRC says so: the error comes, clearly, at the latest there.
	 */
	{
		struct evread *r;
		const char *line;
		size_t l;

		assert_int_equal(evread__open(&r, p), 0);
		for (n = 0; (err = evread__next(r, &line, &l)) > 0; n++) {
			char want[32];

			snprintf(want, sizeof(want), "\"seq\":%lu,", (unsigned long)n);
			if (n < 1000)
				assert_non_null(memmem(line, l, want, strlen(want)));
		}
		assert_int_equal(err, -EIO);
		snprintf(why, sizeof(why), "%s", evread__error(r));
		evread__close(r);
	}
	assert_non_null(strstr(why, "corrupt gzip data"));
	assert_non_null(strstr(why, "after line"));
	assert_true(n >= 1000 && n < 3000);

	/* garbage after the last member is not a member */
	fd = open(p, O_WRONLY | O_TRUNC);
	close(fd);
	w = open_log(p, true, 10, 1);
	for (i = 0; i < 10; i++)
		write_rec(w, i);
	assert_int_equal(evlog__close(w), 0);
	fd = open(p, O_WRONLY | O_APPEND);
	assert_int_equal(write(fd, "garbage\n", 8), 8);
	close(fd);
	assert_int_equal(count_lines(p, &err, why, sizeof(why)), 10);
	assert_int_equal(err, -EIO);
	assert_non_null(strstr(why, "not a gzip member after line 10"));
}

static void test_truncated_plain_and_bad_lines(void **state)
{
	const char *p = path_of("bad.ndjson");
	char why[256];
	FILE *f;
	cJSON *o;
	int err;

	(void)state;
	f = fopen(p, "w");
	fprintf(f, "{\"kind\":\"fork\",\"seq\":0,\"pid\":1}\n{\"kind\":\"exec\",\"seq\":1,\"pi");
	fclose(f);
	assert_int_equal(count_lines(p, &err, why, sizeof(why)), 1);
	assert_int_equal(err, -EPIPE);
	assert_string_equal(why, "truncated: the last line has no end after line 1");

	f = fopen(p, "w");
	fprintf(f, "{\"kind\":\"fork\",\"seq\":0}\nnot json\n{\"kind\":\"exit\",\"seq\":2}\n");
	fclose(f);
	o = page(p, NULL, 1, 10, -EIO);
	assert_int_equal(nitems(o), 1);
	assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring,
			    "line 2 is not a JSON object (corrupt log)");
	cJSON_Delete(o);
}

static void test_summary_report_rows(void **state)
{
	const char *p = path_of("report.json");
	FILE *f = fopen(p, "w");
	cJSON *o;

	(void)state;
	fprintf(f, "{\n \"schema\": \"qhtrace/report/v1\",\n"
		   " \"processes\": [{\"pid\": 10, \"comm\": \"a\"}, {\"pid\": 11, \"comm\": "
		   "\"b\"}],\n"
		   " \"leaks\": {\"heap\": [{\"pid\": 11, \"comm\": \"b\", \"severity\": \"high\","
		   " \"bytes\": 5}]},\n"
		   " \"alerts\": [{\"kind\": \"memory_leak\", \"severity\": \"critical\","
		   " \"message\": \"m\"}]\n}\n");
	fclose(f);
	o = page(p, NULL, 1, 10, 0);
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "report");
	assert_int_equal(nitems(o), 4);
	cJSON_Delete(o);
	o = page(p, "pid=11", 1, 1, 0);
	assert_int_equal(nitems(o), 1);
	assert_true(has_next(o));
	cJSON_Delete(o);
	o = page(p, "kind=heap_leak", 1, 10, 0);
	assert_int_equal(nitems(o), 1);
	cJSON_Delete(o);
	o = page(p, "kind=alert,severity>=high", 1, 10, 0);
	assert_int_equal(nitems(o), 1);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "items"),
								   0),
						"alert")->valuestring,
			    "memory_leak");
	cJSON_Delete(o);
	/* something else altogether */
	f = fopen(p, "w");
	fprintf(f, "[1, 2]\n");
	fclose(f);
	o = page(p, NULL, 1, 10, -EINVAL);
	assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring,
			    "not a qhtrace report or event log");
	cJSON_Delete(o);
}

/* ---- issue 17: what bad input did to `report` and `diff` ---- */

/* Run a command's function with stdout into @out (a file), as main would: its exit code. */
static int run_cmd(int (*fn)(int, char **), const char *out, int argc, ...)
{
	char *argv[16];
	va_list ap;
	int i, fd, saved, code;

	va_start(ap, argc);
	for (i = 0; i < argc && i < 15; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[i] = NULL;
	optind = 0;
	fflush(stdout);
	saved = dup(1);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 1);
	close(fd);
	code = fn(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	return code;
}

static char *slurp(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
}

/*
 * Defect 1: `leaks` an array and a row that is no object crashed the reader and the table
 * printer. The crashes libFuzzer found (tests/fuzz/report.c) are here as they were found.
 */
static void test_report_rows_not_objects(void **state)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "{\"schema\":\"qhtrace/report/v1\",\"leaks\":[1]}",
		  "leaks is not an object (corrupt report)" },
		{ "{\"schema\":\"qhtrace/report/v1\",\"processes\":[[1]]}",
		  "processes[0] is not an object (corrupt report)" },
		{ "{\"schema\":\"qhtrace/report/v1\",\"processes\":[{\"pid\":1},2]}",
		  "processes[1] is not an object (corrupt report)" },
		{ "{\"schema\":\"qhtrace/report/v1\",\"leaks\":{\"heap\":[\"x\"]}}",
		  "leaks.heap[0] is not an object (corrupt report)" },
		{ "{\"schema\":\"qhtrace/report/v1\",\"leaks\":{\"heap\":7}}",
		  "leaks.heap is not an array (corrupt report)" },
		{ "{\"schema\":\"qhtrace/report/v1\",\"alerts\":[[[]]]}",
		  "alerts[0] is not an object (corrupt report)" },
		{ "{\"schema\":\"qhtrace/report/v1\",\"zombies\":{\"a\":1}}",
		  "zombies is not an array (corrupt report)" },
		/* from the fuzzer: a row of a row */
		{ "{\"schema\":\"qhtrace/report/\",\"drivers\":[{\"\":0},[{}]]}",
		  "drivers[1] is not an object (corrupt report)" },
	};
	const char *p = path_of("bad.json"), *out = path_of("bad.out");
	size_t i;
	cJSON *o;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(p, bad[i].text, strlen(bad[i].text));
		o = page(p, NULL, 1, 10, -EIO);
		assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring, bad[i].why);
		cJSON_Delete(o);
		assert_int_equal(run_cmd(cmd_report, out, 2, "report", p), 1);
		assert_int_equal(run_cmd(cmd_report, out, 3, "report", "--json", p), 1);
		assert_int_equal(run_cmd(cmd_diff, out, 3, "diff", p, p), 0);
	}
	/* the rows before the damage are shown */
	write_text(p, bad[2].text, strlen(bad[2].text));
	assert_int_equal(run_cmd(cmd_report, out, 2, "report", p), 1);
	assert_non_null(strstr(slurp(out), "process"));
}

/*
 * What libFuzzer found crashing (the crash-* files of the seed corpora, tests/fuzz/corpus):
 * each read by `report` (table and JSON) and `diff`, which must end with 0 or 1, no crash (the
 * sanitizer tier runs this under ASan and UBSan). Run from the top of the tree, as tests/run.
 */
static void test_fuzzer_crashes(void **state)
{
	const char *out = path_of("crash.out");
	glob_t g;
	size_t i;
	int rc;

	(void)state;
	assert_int_equal(glob("tests/fuzz/corpus/*/crash-*", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 1);
	for (i = 0; i < g.gl_pathc; i++) {
		char *p = g.gl_pathv[i];

		rc = run_cmd(cmd_report, out, 2, "report", p);
		assert_true(rc == 0 || rc == 1);
		rc = run_cmd(cmd_report, out, 3, "report", "--json", p);
		assert_true(rc == 0 || rc == 1);
		rc = run_cmd(cmd_diff, out, 3, "diff", p, p);
		assert_true(rc == 0 || rc == 1);
	}
	globfree(&g);
}

/*
 * Defects 5 and 6: a report whose one line is over 1 MiB (an argv of 20,000 words, `jq -c`),
 * and a one-line report without its final newline, read by `report` and `diff` alike.
 */
static void test_report_one_long_line(void **state)
{
	const char *p = path_of("long.json"), *q = path_of("short.json"), *out = path_of("l.out");
	size_t cap = 3 << 20, n = 0, i;
	char *t = malloc(cap);
	cJSON *o;

	(void)state;
	assert_non_null(t);
	n += sprintf(t + n, "{\"schema\":\"qhtrace/report/v1\",\"run\":{\"command\":[");
	for (i = 0; i < 20000; i++)
		n += sprintf(t + n, "%s\"word-%05zu-padding-padding-padding-padding-padding-padding\"",
			     i ? "," : "", i);
	n += sprintf(t + n, "]},\"processes\":[{\"pid\":1,\"comm\":\"a\",\"peak_rss_kb\":5}]}\n");
	assert_true(n > QH_EVREAD_MAX_LINE);
	write_text(p, t, n);
	free(t);
	o = page(p, NULL, 1, 10, 0);
	assert_string_equal(cJSON_GetObjectItem(o, "type")->valuestring, "report");
	assert_int_equal(nitems(o), 1);
	cJSON_Delete(o);
	assert_int_equal(run_cmd(cmd_report, out, 2, "report", p), 0);
	assert_int_equal(run_cmd(cmd_diff, out, 3, "diff", p, p), 0);

	/* no final newline */
	t = "{\"schema\":\"qhtrace/report/v1\",\"processes\":[{\"pid\":2}]}";
	write_text(q, t, strlen(t));
	o = page(q, NULL, 1, 10, 0);
	assert_int_equal(nitems(o), 1);
	cJSON_Delete(o);
	assert_int_equal(run_cmd(cmd_report, out, 2, "report", q), 0);
	assert_int_equal(run_cmd(cmd_diff, out, 3, "diff", q, p), 0);
	/* a one-line event log cut before its newline is still called what it is */
	t = "{\"kind\":\"log\",\"schema\":\"qhtrace/events/v1\"}";
	write_text(q, t, strlen(t));
	o = page(q, NULL, 1, 10, -EPIPE);
	assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring,
			    "truncated: the last line has no end after line 0");
	cJSON_Delete(o);
	/* text after the document is no report */
	t = "{\"schema\":\"qhtrace/report/v1\"} {\"x\":1}\n";
	write_text(q, t, strlen(t));
	o = page(q, NULL, 1, 10, -EIO);
	cJSON_Delete(o);
}

/* Defect 9: a comm that holds a newline cannot forge a line of the table, nor a terminal code */
static void test_report_table_escapes(void **state)
{
	const char *p = path_of("esc.json"), *out = path_of("esc.out");
	const char *text = "{\"schema\":\"qhtrace/report/v1\",\"processes\":[{\"pid\":3,"
			   "\"comm\":\"a\\nqhtrace: FAKE\",\"exe\":\"/x\\u001b[31m\"}],"
			   "\"leftovers\":[{\"pid\":3,\"comm\":\"b\\rqhtrace: FAKE\"}]}\n";
	char *s;

	(void)state;
	write_text(p, text, strlen(text));
	assert_int_equal(run_cmd(cmd_report, out, 2, "report", p), 0);
	s = slurp(out);
	assert_null(strstr(s, "\nqhtrace: FAKE"));
	assert_null(strchr(s, '\r'));
	assert_null(strchr(s, '\x1b'));
	assert_non_null(strstr(s, "a\\nqhtrace: FAKE"));
	assert_int_equal(run_cmd(cmd_diff, out, 5, "diff", "--max-growth-pct", "0", p, p), 0);
	s = slurp(out);
	assert_null(strstr(s, "\nqhtrace: FAKE"));
	assert_non_null(strstr(s, "a\\nqhtrace: FAKE"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_boundaries),
		cmocka_unit_test(test_gzip_round_trip),
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_flush_on_sigterm),
		cmocka_unit_test(test_sigkill_loses_one_chunk_at_most),
		cmocka_unit_test(test_bounded_memory),
		cmocka_unit_test(test_write_error_is_sticky),
		cmocka_unit_test(test_refuses_symlink),
		cmocka_unit_test(test_fifo_device_and_existing_file),
		cmocka_unit_test(test_paginate_million_lines),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_filter_syntax),
		cmocka_unit_test(test_truncated_gzip),
		cmocka_unit_test(test_corrupt_gzip),
		cmocka_unit_test(test_truncated_plain_and_bad_lines),
		cmocka_unit_test(test_summary_report_rows),
		cmocka_unit_test(test_report_rows_not_objects),
		cmocka_unit_test(test_fuzzer_crashes),
		cmocka_unit_test(test_report_one_long_line),
		cmocka_unit_test(test_report_table_escapes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
