// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Event log rotation, with the clocks as an input (no test sleeps): by size and by age, the
 * retention (exactly `keep` closed files, the oldest removed, nothing else in the directory
 * touched), every closed file a whole gzip stream whose records read back in order with none
 * lost or repeated, a symlink planted at the closed name neither followed nor replaced, and a
 * rotation that fails counted, warned about once, and its records kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "evlog.h"
#include "evread.h"
#include "util.h"

#define T0 1764209411000000000ULL /* 2025-11-27T02:10:11Z */
/* read_back: the previous file's name is not checked */
#define ANY_PREV ((const char *)1)

static char dir[64];

struct fake_clock {
	uint64_t boot, real;
};

static uint64_t fake_now(void *ctx, int clock_id)
{
	struct fake_clock *c = ctx;

	return clock_id == CLOCK_REALTIME ? c->real : c->boot;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/qh-evrot-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* each test in a directory of its own */
static const char *sub(const char *name)
{
	static char p[160];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(mkdir(p, 0755), 0);
	return p;
}

/* a name in @d: the last 8 stay valid (a test keeps its log's path in a buffer of its own) */
static const char *in(const char *d, const char *name)
{
	static char p[8][256];
	static int next;
	char *b = p[next++ % 8];

	snprintf(b, sizeof(p[0]), "%s/%s", d, name);
	return b;
}

static struct evlog *open_rot(const char *path, struct fake_clock *c, uint64_t max_bytes,
			      uint64_t max_age_s, uint32_t keep)
{
	struct evlog_clock clk = { .now_ns = fake_now, .ctx = c };
	struct evlog *w = NULL;

	assert_int_equal(evlog__open(&w, path,
				     &(struct evlog_opts){
					     .chunk_size = 10,
					     .gzip = true,
					     .level = 1,
					     .rot = { max_bytes, max_age_s, keep },
					     .version = "test",
					     .clock = &clk,
				     }),
			 0);
	return w;
}

static void rec(struct evlog *w, struct fake_clock *c, uint64_t seq)
{
	evlog__begin(w, c->real, "fork");
	evlog__u64(w, "seq", seq);
	/* text that compresses poorly, so a few chunks make a file of some size */
	evlog__u64(w, "noise", seq * 2654435761ULL % 1000000007ULL);
	assert_int_equal(evlog__end(w), 0);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the closed files of @d/ev.ndjson.gz, oldest first (the names sort by time) */
static size_t closed_files(const char *d, char ***names)
{
	char pat[256];
	glob_t g;
	size_t i;

	snprintf(pat, sizeof(pat), "%s/ev-????????T??????Z{,-[1-9],-[1-9][0-9]}.ndjson.gz", d);
	if (glob(pat, GLOB_BRACE, NULL, &g)) {
		*names = NULL;
		return 0;
	}
	*names = calloc(g.gl_pathc, sizeof(char *));
	for (i = 0; i < g.gl_pathc; i++)
		(*names)[i] = strdup(g.gl_pathv[i]);
	i = g.gl_pathc;
	globfree(&g);
	/* each brace's matches are sorted apart */
	qsort(*names, i, sizeof(char *), by_name);
	return i;
}

static void free_names(char **names, size_t n)
{
	while (n--)
		free(names[n]);
	free(names);
}

/*
 * @path read back with evread: a whole stream, starting with its "log" record (part
 * @part, previous file @prev); its records' seq follow *next on. Returns the record count.
 */
static size_t read_back(const char *path, uint64_t *next, unsigned int part, const char *prev)
{
	struct evread *r;
	const char *line;
	size_t len, n = 0;
	char cmd[512];
	int e;

	assert_int_equal(evread__open(&r, path), 0);
	assert_true(evread__is_gzip(r));
	while ((e = evread__next(r, &line, &len)) > 0) {
		cJSON *o = cJSON_ParseWithLength(line, len);
		const cJSON *k = cJSON_GetObjectItem(o, "kind");

		assert_non_null(o);
		if (!n) {
			const cJSON *p = cJSON_GetObjectItem(o, "previous");

			assert_string_equal(k->valuestring, "log");
			assert_string_equal(cJSON_GetObjectItem(o, "schema")->valuestring,
					    QH_EVLOG_SCHEMA);
			if (part > 1)
				assert_int_equal(cJSON_GetObjectItem(o, "part")->valuedouble, part);
			if (prev == ANY_PREV)
				;
			else if (prev)
				assert_string_equal(p->valuestring, strrchr(prev, '/') + 1);
			else
				assert_null(p);
		} else {
			assert_string_equal(k->valuestring, "fork");
			assert_int_equal(cJSON_GetObjectItem(o, "seq")->valuedouble, *next);
			(*next)++;
		}
		cJSON_Delete(o);
		n++;
	}
	if (e)
		fail_msg("%s: %s", path, evread__error(r));
	evread__close(r);
	/* and gzip itself reads it as one stream */
	snprintf(cmd, sizeof(cmd), "gzip -t '%s'", path);
	assert_int_equal(system(cmd), 0);
	return n;
}

static void test_rotated_names(void **state)
{
	char out[128];

	(void)state;
	assert_int_equal(evlog__rotated_name("/v/l/events.ndjson.gz", T0, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "/v/l/events-20251127T021011Z.ndjson.gz");
	assert_int_equal(evlog__rotated_name("events.ndjson", T0 + 999999999, 2, out,
					     sizeof(out)), 0);
	assert_string_equal(out, "events-20251127T021011Z-2.ndjson");
	assert_int_equal(evlog__rotated_name("d.x/log", T0, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "d.x/log-20251127T021011Z");
	assert_int_equal(evlog__rotated_name("a/ev.gz", T0, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "a/ev-20251127T021011Z.gz");
	assert_int_equal(evlog__rotated_name("a/.hidden.gz", T0, 0, out, sizeof(out)), 0);
	assert_string_equal(out, "a/.hidden-20251127T021011Z.gz");
	assert_int_equal(evlog__rotated_name("a/ev.ndjson.gz", T0, 0, out, 20), -ENAMETOOLONG);
}

/* By size: each closed file at its limit (within one chunk), all records there once. */
static void test_rotate_by_size(void **state)
{
	const char *d = sub("size");
	char path[256];
	struct fake_clock c = { 1000 * NSEC_PER_SEC, T0 };
	struct evlog_stats st;
	uint64_t i, next = 0, max = 4096, records = 0;
	char **names, *prev = NULL;
	struct evlog *w;
	struct stat sb;
	size_t n, f;

	(void)state;
	snprintf(path, sizeof(path), "%s/ev.ndjson.gz", d);
	w = open_rot(path, &c, max, 0, 0);
	for (i = 0; i < 2000; i++) {
		rec(w, &c, i);
		c.real += NSEC_PER_SEC / 4;
	}
	evlog__stats(w, &st);
	assert_int_equal(evlog__close(w), 0);
	n = closed_files(d, &names);
	assert_true(n >= 3);
	assert_int_equal(st.rotations, n);
	assert_int_equal(st.rotate_failed, 0);
	assert_int_equal(st.removed, 0);
	for (f = 0; f < n; f++) {
		assert_int_equal(lstat(names[f], &sb), 0);
		/* cut at the first chunk boundary at or past the limit: one chunk over at most */
		assert_true(S_ISREG(sb.st_mode) && (uint64_t)sb.st_size >= max);
		assert_true((uint64_t)sb.st_size < max + 1024);
		records += read_back(names[f], &next, f + 1, prev);
		prev = names[f];
	}
	records += read_back(path, &next, n + 1, prev);
	/* every record once, in order, plus one header a file */
	assert_int_equal(next, 2000);
	assert_int_equal(records, 2000 + n + 1);
	assert_int_equal(st.records, records);
	free_names(names, n);
}

/* By age: at a chunk boundary once due, and from the timer in a quiet spell. */
static void test_rotate_by_age(void **state)
{
	const char *d = sub("age");
	char path[256];
	struct fake_clock c = { 5 * NSEC_PER_SEC, T0 };
	struct evlog_stats st;
	uint64_t i, next = 0;
	char **names;
	struct evlog *w;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/ev.ndjson.gz", d);
	w = open_rot(path, &c, 0, 3600, 0);
	for (i = 0; i < 10; i++)
		rec(w, &c, i);
	c.boot += 3599 * NSEC_PER_SEC;
	for (; i < 20; i++)
		rec(w, &c, i);
	assert_int_equal(evlog__tick(w), 0);
	evlog__stats(w, &st);
	assert_int_equal(st.rotations, 0);
	/* due: the next chunk boundary closes the file */
	c.boot += NSEC_PER_SEC;
	c.real += 3600 * NSEC_PER_SEC;
	for (; i < 30; i++)
		rec(w, &c, i);
	evlog__stats(w, &st);
	assert_int_equal(st.rotations, 1);
	assert_string_equal(strrchr(evlog__last_rotated(w), '/') + 1,
			    "ev-20251127T031011Z.ndjson.gz");
	/* three records and an hour of quiet: the timer closes the file, with them */
	for (; i < 33; i++)
		rec(w, &c, i);
	c.boot += 3600 * NSEC_PER_SEC;
	c.real += 3600 * NSEC_PER_SEC;
	assert_int_equal(evlog__tick(w), 0);
	evlog__stats(w, &st);
	assert_int_equal(st.rotations, 2);
	/* a file with its header alone is not closed, however old */
	c.boot += 10 * 3600 * NSEC_PER_SEC;
	assert_int_equal(evlog__tick(w), 0);
	evlog__stats(w, &st);
	assert_int_equal(st.rotations, 2);
	/* new limits (a reload) apply from now */
	evlog__set_rotation(w, &(struct evlog_rotation){ .max_age_s = 0 });
	for (; i < 43; i++)
		rec(w, &c, i);
	c.boot += 100000 * NSEC_PER_SEC;
	assert_int_equal(evlog__tick(w), 0);
	evlog__stats(w, &st);
	assert_int_equal(st.rotations, 2);
	assert_int_equal(evlog__close(w), 0);
	n = closed_files(d, &names);
	assert_int_equal(n, 2);
	assert_string_equal(strrchr(names[1], '/') + 1, "ev-20251127T041011Z.ndjson.gz");
	/* a chunk is 10 records, the header included: cut after seq 28, then by the timer */
	assert_int_equal(read_back(names[0], &next, 1, NULL), 1 + 29);
	assert_int_equal(read_back(names[1], &next, 2, names[0]), 1 + 4);
	assert_int_equal(read_back(path, &next, 3, names[1]), 1 + 10);
	assert_int_equal(next, 43);
	free_names(names, n);
}

static void touch(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * Retention: exactly `keep` closed files, the newest; an earlier run's closed file counts
 * (and goes first); what only looks like one (a symlink, a directory, another stem or
 * pattern) is never touched.
 */
static void test_retention(void **state)
{
	const char *d = sub("keep");
	char path[256];
	static const char *const others[] = {
		"ev-notes.txt", "ev-2025.ndjson.gz", "ev-20251127T021011Z.ndjson",
		"evx-20200101T000000Z.ndjson.gz", "ev-20200101T000000Z-0.ndjson.gz",
		"ev-20200101T000000Z-100.ndjson.gz", "ev.ndjson.gz.1",
	};
	struct fake_clock c = { NSEC_PER_SEC, T0 };
	struct evlog_stats st;
	char **names, victim[256], link[256], old[256], sdir[256];
	uint64_t i, next;
	struct evlog *w;
	struct stat sb;
	size_t n, k;

	(void)state;
	snprintf(path, sizeof(path), "%s/ev.ndjson.gz", d);
	for (k = 0; k < sizeof(others) / sizeof(others[0]); k++)
		touch(in(d, others[k]), "not ours");
	/* an earlier run's, older than all: removed first */
	snprintf(old, sizeof(old), "%s", in(d, "ev-20200101T000000Z.ndjson.gz"));
	touch(old, "old run");
	/* the oldest names of all, but no regular files: a symlink and a directory */
	snprintf(victim, sizeof(victim), "%s", in(dir, "victim"));
	touch(victim, "precious");
	snprintf(link, sizeof(link), "%s", in(d, "ev-19990101T000000Z.ndjson.gz"));
	assert_int_equal(symlink(victim, link), 0);
	snprintf(sdir, sizeof(sdir), "%s", in(d, "ev-19990101T000001Z.ndjson.gz"));
	assert_int_equal(mkdir(sdir, 0755), 0);

	w = open_rot(path, &c, 1, 0, 3);
	for (i = 0; i < 80; i++) {
		rec(w, &c, i);
		c.real += NSEC_PER_SEC; /* a chunk of 10 a file, each closed 10 s after the last */
	}
	evlog__stats(w, &st);
	assert_int_equal(evlog__close(w), 0);
	assert_int_equal(st.rotations, 8);
	/* 8 closed now, 1 from before: 6 removed, the 3 newest kept */
	assert_int_equal(st.removed, 6);
	assert_int_equal(st.rotate_failed, 0);
	assert_int_not_equal(access(old, F_OK), 0);
	n = closed_files(d, &names);
	/* the symlink and the directory match the glob too: they are still there */
	assert_int_equal(n, 3 + 2);
	assert_string_equal(names[0], link);
	assert_string_equal(names[1], sdir);
	assert_int_equal(lstat(link, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	assert_string_equal(slurp(victim), "precious");
	assert_int_equal(stat(sdir, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	for (k = 0; k < sizeof(others) / sizeof(others[0]); k++)
		assert_string_equal(slurp(in(d, others[k])), "not ours");
	/* a file a chunk (its header and 9 records): the three newest are parts 6..8 */
	next = 45;
	for (k = 2; k < n; k++) {
		const char *prev = k == 2 ? ANY_PREV : names[k - 1];

		assert_int_equal(read_back(names[k], &next, k + 4, prev), 10);
	}
	assert_int_equal(read_back(path, &next, 9, names[n - 1]), 1 + 8);
	assert_int_equal(next, 80);
	free_names(names, n);
}

/* A symlink planted at the closed name: not followed, not replaced; the next name is taken. */
static void test_symlink_at_closed_name(void **state)
{
	const char *d = sub("link");
	char path[256];
	struct fake_clock c = { NSEC_PER_SEC, T0 };
	char target[256], victim[256], want[256];
	struct evlog_stats st;
	struct evlog *w;
	struct stat sb;
	uint64_t i, next = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/ev.ndjson.gz", d);
	snprintf(victim, sizeof(victim), "%s", in(dir, "victim2"));
	touch(victim, "precious");
	w = open_rot(path, &c, 1, 0, 0);
	/* where the first chunk's file would go, closed at c.real */
	assert_int_equal(evlog__rotated_name(path, c.real, 0, target, sizeof(target)), 0);
	assert_int_equal(symlink(victim, target), 0);
	for (i = 0; i < 10; i++)
		rec(w, &c, i);
	evlog__stats(w, &st);
	assert_int_equal(st.rotations, 1);
	assert_int_equal(st.rotate_failed, 0);
	assert_int_equal(evlog__rotated_name(path, c.real, 1, want, sizeof(want)), 0);
	assert_string_equal(evlog__last_rotated(w), want);
	assert_int_equal(lstat(target, &sb), 0);
	assert_true(S_ISLNK(sb.st_mode));
	assert_string_equal(slurp(victim), "precious");
	assert_int_equal(evlog__close(w), 0);
	assert_int_equal(read_back(want, &next, 1, NULL), 10);
	assert_int_equal(next, 9);
}

/* a fd limit that leaves no fd free: the next file cannot be made, as root too */
static void no_free_fd(struct rlimit *saved)
{
	struct rlimit rl;
	int fd = dup(0);

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, saved), 0);
	rl = *saved;
	rl.rlim_cur = fd;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

/*
 * A rotation that fails: counted, one warning line, the records go on into the current file
 * (none lost), tried again a minute later, and done once the cause is gone.
 */
static void test_rotation_failure(void **state)
{
	const char *d = sub("fail");
	char path[256];
	const char *errpath = in(dir, "stderr.txt");
	struct fake_clock c = { NSEC_PER_SEC, T0 };
	struct evlog_stats st;
	struct rlimit saved;
	char **names, *text, moved[256];
	uint64_t i, next = 0;
	struct evlog *w;
	int saved_err, efd;
	size_t n;

	(void)state;
	snprintf(path, sizeof(path), "%s/ev.ndjson.gz", d);
	/* the warning goes to stderr: caught in a file */
	fflush(stderr);
	saved_err = dup(2);
	efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved_err >= 0 && efd >= 0);
	dup2(efd, 2);
	close(efd);

	w = open_rot(path, &c, 1, 0, 0);
	no_free_fd(&saved);
	for (i = 0; i < 50; i++) {
		rec(w, &c, i);
		c.boot += NSEC_PER_SEC;
	}
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	evlog__stats(w, &st);
	/* the first chunk's attempt, then one a minute: not one a chunk */
	assert_int_equal(st.rotations, 0);
	assert_int_equal(st.rotate_failed, 1);
	/* a minute after the failure: done, with every record so far */
	c.boot += 60 * NSEC_PER_SEC;
	for (; i < 60; i++)
		rec(w, &c, i);
	evlog__stats(w, &st);
	assert_int_equal(st.rotations, 1);
	assert_int_equal(st.rotate_failed, 1);

	/* non-root: a directory that takes no new name */
	if (geteuid()) {
		assert_int_equal(chmod(d, 0555), 0);
		c.real += NSEC_PER_SEC;
		for (; i < 70; i++)
			rec(w, &c, i);
		evlog__stats(w, &st);
		assert_int_equal(st.rotate_failed, 2);
		assert_int_equal(chmod(d, 0755), 0);
		c.boot += 60 * NSEC_PER_SEC;
	}
	/* the file renamed by someone else: theirs now, not ours to rename; still written */
	snprintf(moved, sizeof(moved), "%s", in(d, "moved.ndjson.gz"));
	assert_int_equal(rename(path, moved), 0);
	touch(path, "someone else's");
	c.real += NSEC_PER_SEC;
	for (; i < 80; i++)
		rec(w, &c, i);
	evlog__stats(w, &st);
	assert_int_equal(st.rotate_failed, geteuid() ? 3 : 2);
	assert_string_equal(slurp(path), "someone else's");
	assert_int_equal(evlog__close(w), 0);

	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	text = slurp(errpath);
	/* one line, however many failures */
	assert_non_null(strstr(text, "event log: cannot rotate"));
	assert_non_null(strstr(text, "Too many open files"));
	assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);

	n = closed_files(d, &names);
	assert_int_equal(n, 1);
	/* cut after seq 58 (chunks of 10, the header included) */
	assert_int_equal(read_back(names[0], &next, 1, NULL), 1 + 59);
	assert_int_equal(read_back(moved, &next, 2, names[0]), 1 + 21);
	assert_int_equal(next, 80);
	free_names(names, n);
}

/* A restart (keep_existing): the log left at the path is kept, named by its mtime. */
static void test_keep_existing(void **state)
{
	const char *d = sub("restart");
	char path[256];
	struct fake_clock c = { NSEC_PER_SEC, T0 };
	struct evlog_clock clk = { .now_ns = fake_now, .ctx = &c };
	struct timespec ts[2] = { { T0 / NSEC_PER_SEC, 0 }, { T0 / NSEC_PER_SEC, 0 } };
	char kept[256];
	struct evlog *w = NULL;
	uint64_t next = 0, i;

	(void)state;
	snprintf(path, sizeof(path), "%s/ev.ndjson.gz", d);
	w = open_rot(path, &c, 0, 0, 0);
	for (i = 0; i < 5; i++)
		rec(w, &c, i);
	assert_int_equal(evlog__close(w), 0);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_int_equal(evlog__open(&w, path,
				     &(struct evlog_opts){ .chunk_size = 10, .gzip = true,
							    .level = 1, .keep_existing = true,
							    .version = "test", .clock = &clk }),
			 0);
	assert_int_equal(evlog__rotated_name(path, T0, 0, kept, sizeof(kept)), 0);
	assert_string_equal(evlog__last_rotated(w), kept);
	for (; i < 8; i++)
		rec(w, &c, i);
	assert_int_equal(evlog__close(w), 0);
	assert_int_equal(read_back(kept, &next, 1, NULL), 6);
	assert_int_equal(read_back(path, &next, 1, kept), 4);
	assert_int_equal(next, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rotated_names),
		cmocka_unit_test(test_rotate_by_size),
		cmocka_unit_test(test_rotate_by_age),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_symlink_at_closed_name),
		cmocka_unit_test(test_rotation_failure),
		cmocka_unit_test(test_keep_existing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
