// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * util: number parsing, RFC 3339 times, the output-path check and the atomic write.
 * procfs: parsing /proc/PID/stat, whose comm may hold spaces and parentheses.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "procfs.h"
#include "htab.h"
#include "severity.h"
#include "util.h"
#include "vec.h"

/* ---- util__parse_u64 ---- */

static void test_parse_u64_ranges(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(util__parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(util__parse_u64("10", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(util__parse_u64("5", 5, 5, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(util__parse_u64("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(util__parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);

	v = 12345;
	assert_int_equal(util__parse_u64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(util__parse_u64("4", 5, 10, &v), -ERANGE);
	assert_int_equal(util__parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(util__parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(util__parse_u64("4294967296", 0, UINT32_MAX, &v), -ERANGE);
	/* a refused number leaves the output alone */
	assert_int_equal(v, 12345);
}

static void test_parse_u64_junk(void **state)
{
	static const char *const junk[] = {
		"", "abc", "12abc", "1.5", "0x10", "1e3", "-1", "+1", "-0", " 5", "5 ", "\t5",
		" -5", "5\n", "--5", "5-",
	};
	uint64_t v = 777;
	size_t i;

	(void)state;
	assert_int_equal(util__parse_u64(NULL, 0, 10, &v), -EINVAL);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		int ret = util__parse_u64(junk[i], 0, UINT64_MAX, &v);

		if (ret != -EINVAL)
			fail_msg("'%s': %d, expected -EINVAL", junk[i], ret);
	}
	assert_int_equal(v, 777);
}

/* ---- times ---- */

static void test_rfc3339(void **state)
{
	char buf[40];

	(void)state;
	assert_ptr_equal(util__rfc3339(0, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	util__rfc3339(1700000000123456789ULL, buf, sizeof(buf));
	assert_string_equal(buf, "2023-11-14T22:13:20.123Z");
	/* milliseconds are truncated, never rounded up into the next second */
	util__rfc3339(1999999999ULL, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:01.999Z");
	util__rfc3339(999999ULL, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	util__rfc3339(951782400000000000ULL, buf, sizeof(buf)); /* a leap day */
	assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
	util__rfc3339(4102444799999000000ULL, buf, sizeof(buf));
	assert_string_equal(buf, "2099-12-31T23:59:59.999Z");
	/* a short buffer is truncated, still terminated */
	memset(buf, 'x', sizeof(buf));
	util__rfc3339(0, buf, 11);
	assert_string_equal(buf, "1970-01-01");
}

/* a pipe whose reader is gone: EPIPE, and no SIGPIPE delivered or left pending */
static void test_write_nosigpipe(void **state)
{
	sigset_t pending;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	errno = 0;
	assert_int_equal(util__write_nosigpipe(p[1], "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
	close(p[1]);
	/* a reader: a plain write */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(util__write_nosigpipe(p[1], "ab", 2), 2);
	close(p[0]);
	close(p[1]);
}

static void test_clocks(void **state)
{
	uint64_t a, b, real, boot;

	(void)state;
	a = util__now_ns(CLOCK_MONOTONIC);
	b = util__now_ns(CLOCK_MONOTONIC);
	assert_true(a > 0 && b >= a);
	boot = util__now_ns(CLOCK_BOOTTIME);
	real = util__now_ns(CLOCK_REALTIME);
	/* now on the boot clock is now on the wall clock, to within scheduling noise */
	assert_in_range(util__boot_to_real_ns(boot) + 1000000000ULL, real + 900000000ULL,
			real + 1100000000ULL);
	/* the offset is fixed: boot times one second apart are wall times one second apart */
	assert_int_equal(util__boot_to_real_ns(boot + 1000000000ULL) - util__boot_to_real_ns(boot),
			 1000000000ULL);
}

/* ---- output files ---- */

struct tmpdir {
	char path[64];
};

static int setup_dir(void **state)
{
	struct tmpdir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/qh-test-util-XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	*state = d;
	return 0;
}

static void remove_tree(int dfd)
{
	DIR *dir = fdopendir(dfd);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(dir), de->d_name, 0) && errno == EISDIR) {
			int sub = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY);

			if (sub >= 0)
				remove_tree(sub);
			unlinkat(dirfd(dir), de->d_name, AT_REMOVEDIR);
		}
	}
	closedir(dir);
}

static int teardown_dir(void **state)
{
	struct tmpdir *d = *state;
	int fd = open(d->path, O_RDONLY | O_DIRECTORY);

	if (fd >= 0)
		remove_tree(fd);
	rmdir(d->path);
	free(d);
	return 0;
}

static const char *in_dir(const struct tmpdir *d, const char *name)
{
	static char path[4][128];
	static int n;
	char *p = path[n++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", d->path, name);
	return p;
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void assert_file(const char *path, const char *want)
{
	char buf[256];
	size_t n;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, want);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_check_output_ok(void **state)
{
	struct tmpdir *d = *state;
	char why[256] = "";

	assert_int_equal(util__check_output(in_dir(d, "r.json"), why, sizeof(why)), 0);
	/* an existing report is replaced */
	put_file(in_dir(d, "old.json"), "{}\n");
	assert_int_equal(util__check_output(in_dir(d, "old.json"), why, sizeof(why)), 0);
	/* checking creates nothing */
	assert_int_equal(count_entries(d->path), 1);
}

static void test_check_output_refused(void **state)
{
	struct tmpdir *d = *state;
	char why[256];

	put_file(in_dir(d, "target"), "precious\n");
	assert_int_equal(symlink(in_dir(d, "target"), in_dir(d, "link")), 0);
	assert_int_equal(util__check_output(in_dir(d, "link"), why, sizeof(why)), -ELOOP);
	assert_non_null(strstr(why, "symbolic link"));

	/* a dangling symlink too: writing through it would create its target */
	assert_int_equal(symlink(in_dir(d, "nowhere"), in_dir(d, "dangling")), 0);
	assert_int_equal(util__check_output(in_dir(d, "dangling"), why, sizeof(why)), -ELOOP);

	assert_int_equal(util__check_output(in_dir(d, "missing/r.json"), why, sizeof(why)),
			 -ENOENT);
	assert_non_null(strstr(why, "No such file or directory"));
	assert_non_null(strstr(why, "missing"));

	assert_int_equal(util__check_output(d->path, why, sizeof(why)), -EISDIR);
	assert_string_equal(why, "is a directory");
	assert_int_equal(mkdir(in_dir(d, "sub"), 0755), 0);
	assert_int_equal(util__check_output(in_dir(d, "sub/"), why, sizeof(why)), -EISDIR);

	assert_int_equal(util__check_output(in_dir(d, "target/r.json"), why, sizeof(why)),
			 -ENOTDIR);

	assert_int_equal(util__check_output("", why, sizeof(why)), -EINVAL);
	assert_file(in_dir(d, "target"), "precious\n");
}

/* Issue 17, defects 3 and 12: a FIFO, a device, /proc refused before anything starts */
static void test_check_output_not_a_file(void **state)
{
	struct tmpdir *d = *state;
	char why[256];
	int fd;

	assert_int_equal(mkfifo(in_dir(d, "fifo"), 0666), 0);
	assert_int_equal(util__check_output(in_dir(d, "fifo"), why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "is a FIFO, not a regular file");
	assert_int_equal(util__check_output("/dev/null", why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "is a device, not a regular file");
	assert_int_not_equal(util__check_output("/proc/x", why, sizeof(why)), 0);
	assert_non_null(strstr(why, "cannot create a file in /proc"));
	/* the check leaves nothing behind */
	assert_int_equal(count_entries(d->path), 1);

	/* a file made for writing as it grows replaces the old one, refuses the rest */
	put_file(in_dir(d, "log"), "old\n");
	fd = util__create_replacing(in_dir(d, "log"), 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "new\n", 4), 4);
	close(fd);
	assert_file(in_dir(d, "log"), "new\n");
	assert_int_equal(util__create_replacing(in_dir(d, "fifo"), 0644), -EINVAL);
	assert_int_equal(util__create_replacing("/dev/null", 0644), -EINVAL);
	assert_int_equal(util__create_replacing(d->path, 0644), -EISDIR);
	assert_int_equal(count_entries(d->path), 2);
}

/* Issue 17, defect 9: what a traced process names cannot forge a line or send a terminal code */
static void test_esc(void **state)
{
	char b[64];

	(void)state;
	assert_string_equal(util__esc("pytest", b, sizeof(b)), "pytest");
	assert_string_equal(util__esc("a\nqhtrace: FAKE", b, sizeof(b)), "a\\nqhtrace: FAKE");
	assert_string_equal(util__esc("\t\r\\\x1b[31m\x7f", b, sizeof(b)),
			    "\\t\\r\\\\\\x1b[31m\\x7f");
	/* UTF-8 stays; C1 controls (U+009B, the one-byte CSI) and broken bytes do not */
	assert_string_equal(util__esc("caf\xc3\xa9 \xe2\x82\xac", b, sizeof(b)),
			    "caf\xc3\xa9 \xe2\x82\xac");
	assert_string_equal(util__esc("\xc2\x9b" "2J\x9b\xff\xc3", b, sizeof(b)),
			    "\\xc2\\x9b2J\\x9b\\xff\\xc3");
	assert_string_equal(util__esc("\xed\xa0\x80\xc0\xaf", b, sizeof(b)),
			    "\\xed\\xa0\\x80\\xc0\\xaf");
	/* cut on a whole escape, NUL-terminated */
	assert_string_equal(util__esc("ab\n", b, 4), "ab");
	assert_string_equal(util__esc("\x01\x02", b, 6), "\\x01");
	assert_string_equal(util__esc(NULL, b, sizeof(b)), "");
	assert_int_equal(strlen(util__esc("\x01\x01\x01\x01", b, UTIL_ESC_LEN(4))), 16);
}

static void test_write_atomic(void **state)
{
	struct tmpdir *d = *state;
	const char *path = in_dir(d, "out.json");
	struct stat st;

	assert_int_equal(util__write_file_atomic(path, "hello\n", 6), 0);
	assert_file(path, "hello\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	/* a shorter write replaces, it does not overwrite in place */
	assert_int_equal(util__write_file_atomic(path, "ab", 2), 0);
	assert_file(path, "ab");
	assert_int_equal(util__write_file_atomic(path, "", 0), 0);
	assert_file(path, "");
	assert_int_equal(count_entries(d->path), 1);
}

static void test_write_atomic_replaces_symlink(void **state)
{
	struct tmpdir *d = *state;
	struct stat st;

	put_file(in_dir(d, "target"), "precious\n");
	assert_int_equal(symlink(in_dir(d, "target"), in_dir(d, "link")), 0);

	assert_int_equal(util__write_file_atomic(in_dir(d, "link"), "report\n", 7), 0);
	assert_int_equal(lstat(in_dir(d, "link"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_file(in_dir(d, "link"), "report\n");
	assert_file(in_dir(d, "target"), "precious\n");
	assert_int_equal(count_entries(d->path), 2);
}

static void test_write_atomic_fails_clean(void **state)
{
	struct tmpdir *d = *state;

	assert_int_equal(util__write_file_atomic(in_dir(d, "missing/out.json"), "x", 1),
			 -ENOENT);
	assert_int_equal(mkdir(in_dir(d, "sub"), 0755), 0);
	put_file(in_dir(d, "sub/keep"), "k");
	/* rename() cannot put a file over a directory: the temporary file is removed */
	assert_int_equal(util__write_file_atomic(in_dir(d, "sub"), "x", 1), -EISDIR);
	assert_int_equal(count_entries(d->path), 1);
	assert_file(in_dir(d, "sub/keep"), "k");
}

/* ---- procfs ---- */

/* A /proc/PID/stat line of 52 fields; each value tells its field number apart. */
static void make_stat(char *buf, size_t len, const char *comm)
{
	size_t n;
	int i;

	n = snprintf(buf, len, "123 (%s) S", comm);
	for (i = 4; i <= 52; i++) {
		long long v = i * 1000 + i;

		switch (i) {
		case 4: /* ppid */
			v = 1;
			break;
		case 8: /* tpgid: no controlling terminal */
			v = -1;
			break;
		case 18: /* priority of a realtime task */
			v = -100;
			break;
		case 19: /* nice */
			v = -20;
			break;
		case 20: /* num_threads */
			v = 7;
			break;
		case 22: /* starttime, in clock ticks */
			v = 123456;
			break;
		case 24: /* rss, in pages */
			v = 789;
			break;
		}
		n += snprintf(buf + n, len - n, " %lld", v);
	}
	snprintf(buf + n, len - n, "\n");
}

static void test_parse_stat(void **state)
{
	struct procfs_stat st;
	char buf[1024];

	(void)state;
	make_stat(buf, sizeof(buf), "a b) c");
	memset(&st, 0xff, sizeof(st));
	assert_int_equal(procfs__parse_stat(buf, &st), 0);
	assert_string_equal(st.comm, "a b) c");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.threads, 7);
	assert_int_equal(st.start_ns, 123456 * procfs__tick_ns());
	assert_int_equal(st.rss_pages, 789);

	make_stat(buf, sizeof(buf), "(x) (y");
	assert_int_equal(procfs__parse_stat(buf, &st), 0);
	assert_string_equal(st.comm, "(x) (y");
	assert_int_equal(st.threads, 7);

	make_stat(buf, sizeof(buf), ") S 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9");
	assert_int_equal(procfs__parse_stat(buf, &st), 0);
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.rss_pages, 789);

	make_stat(buf, sizeof(buf), "");
	assert_int_equal(procfs__parse_stat(buf, &st), 0);
	assert_string_equal(st.comm, "");

	/* longer than the kernel's comm: cut to fit, terminated */
	make_stat(buf, sizeof(buf), "0123456789abcdefgh");
	assert_int_equal(procfs__parse_stat(buf, &st), 0);
	assert_string_equal(st.comm, "0123456789abcde");
	assert_int_equal(st.ppid, 1);
}

static void test_parse_stat_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"123",
		"123 abc S 1 2 3 4 5",
		"123 (abc S 1 2 3 4 5",
		"123 abc) (x S 1 2",
		"123 (abc)",
		"123 (abc)S 1 2 3",
		"123 (abc) ",
		"123 (abc) S",
		"123 (abc) S\n",
		/* cut after field 23 */
		"123 (abc) S 1 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23",
		"123 (abc) S 1 5 6 7 8 9 x 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25",
	};
	struct procfs_stat st;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = procfs__parse_stat(bad[i], &st);

		if (ret != -EINVAL)
			fail_msg("'%s': %d, expected -EINVAL", bad[i], ret);
	}
}

static void test_read_stat_self(void **state)
{
	uint64_t tick = procfs__tick_ns();
	struct procfs_stat st;
	char comm[16];

	(void)state;
	assert_int_equal(procfs__read_stat(getpid(), &st), 0);
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.threads, 1);
	snprintf(comm, sizeof(comm), "%s", program_invocation_short_name);
	assert_string_equal(st.comm, comm);
	assert_true(st.start_ns > 0);
	assert_true(st.start_ns <= util__now_ns(CLOCK_BOOTTIME));
	assert_int_equal(st.start_ns % tick, 0);
	assert_true(st.rss_pages > 0);

	assert_int_equal(procfs__read_stat(0x7ffffff0, &st), -ENOENT);
}

static void test_exe_self(void **state)
{
	char exe[4096], want[4096], small[4];
	ssize_t n;

	(void)state;
	n = readlink("/proc/self/exe", want, sizeof(want) - 1);
	assert_true(n > 0);
	want[n] = '\0';
	assert_int_equal(procfs__exe(getpid(), exe, sizeof(exe)), 0);
	assert_string_equal(exe, want);
	assert_int_equal(procfs__exe(getpid(), small, sizeof(small)), 0);
	assert_int_equal(strlen(small), 3);
	assert_memory_equal(small, want, 3);
	assert_int_equal(procfs__exe(0x7ffffff0, exe, sizeof(exe)), -ENOENT);
}

/* smaps_rollup as 6.18 prints it: USS is Private_Clean + Private_Dirty */
static void test_parse_rollup(void **state)
{
	static const char text[] =
		"55a4c0d2e000-7ffd5a3f1000 ---p 00000000 00:00 0                          "
		"[rollup]\n"
		"Rss:              396400 kB\nPss:              120333 kB\n"
		"Pss_Dirty:         90000 kB\nPss_Anon:          80000 kB\n"
		"Pss_File:          30000 kB\nPss_Shmem:         10333 kB\n"
		"Shared_Clean:     200000 kB\nShared_Dirty:      96400 kB\n"
		"Private_Clean:     40000 kB\nPrivate_Dirty:     60000 kB\n"
		"Referenced:       396400 kB\nAnonymous:        140000 kB\n"
		"Swap:                  0 kB\nSwapPss:              12 kB\n";
	struct procfs_rollup r;

	(void)state;
	assert_int_equal(procfs__parse_rollup(text, &r), 0);
	assert_int_equal(r.rss_kb, 396400);
	assert_int_equal(r.pss_kb, 120333);
	assert_int_equal(r.uss_kb, 100000);
	assert_int_equal(r.swap_pss_kb, 12);
	/* a zombie's is empty */
	assert_int_equal(procfs__parse_rollup("", &r), -ENOENT);
	/* our own: PSS at most RSS, USS at most PSS */
	assert_int_equal(procfs__read_rollup(getpid(), &r), 0);
	assert_true(r.pss_kb > 0 && r.pss_kb <= r.rss_kb && r.uss_kb <= r.pss_kb);
}

static void test_tick(void **state)
{
	uint64_t tick = procfs__tick_ns();

	(void)state;
	assert_int_equal(tick, 1000000000ULL / sysconf(_SC_CLK_TCK));
	assert_true(procfs__same_start(0, tick - 1));
	assert_false(procfs__same_start(tick - 1, tick));
	assert_true(procfs__same_start(5 * tick, 5 * tick + tick - 1));
	assert_false(procfs__same_start(5 * tick, 6 * tick));
	assert_false(procfs__same_start(6 * tick, 5 * tick + tick - 1));
}

struct item {
	int key;
	struct hnode hnode;
};

static struct item *htab_find(const struct htab *t, int key, uint64_t hash)
{
	struct hnode *n;

	for (n = htab__first(t, hash); n; n = htab__next(n)) {
		struct item *it = htab_entry(n, struct item, hnode);

		if (it->key == key)
			return it;
	}
	return NULL;
}

/* The one hash table: growth keeps every element, equal hashes chain, deletes unlink. */
static void test_htab(void **state)
{
	static struct item items[5000];
	struct htab t = { 0 };
	int i;

	(void)state;
	assert_null(htab__first(&t, 1));
	for (i = 0; i < 5000; i++) {
		items[i].key = i;
		/* every fourth shares its hash with the one before: chains must compare keys */
		assert_int_equal(htab__add(&t, &items[i].hnode, htab__mix(i - i % 2 * (i % 4 == 1))),
				 0);
	}
	assert_int_equal(t.n, 5000);
	assert_true(t.nb >= 4096);
	for (i = 0; i < 5000; i++)
		assert_ptr_equal(htab_find(&t, i, htab__mix(i - i % 2 * (i % 4 == 1))), &items[i]);
	for (i = 0; i < 5000; i += 2)
		htab__del(&t, &items[i].hnode);
	assert_int_equal(t.n, 2500);
	for (i = 0; i < 5000; i++)
		assert_ptr_equal(htab_find(&t, i, htab__mix(i - i % 2 * (i % 4 == 1))),
				 i % 2 ? &items[i] : NULL);
	htab__clear(&t);
	assert_null(htab_find(&t, 1, htab__mix(0)));
	htab__free(&t);
	assert_null(htab__first(&t, 1));
	assert_int_not_equal(htab__str(HTAB_SEED, "ab"), htab__str(HTAB_SEED, "ba"));
	assert_int_equal(htab__str(HTAB_SEED, NULL), htab__str(HTAB_SEED, ""));
}

/* The one growable array: zeroed pushes, doubling, reserve that fails without harm. */
static void test_vec(void **state)
{
	struct {
		int a, b;
	} *v = NULL, *e;
	size_t n = 0, cap = 0, i;

	(void)state;
	for (i = 0; i < 100; i++) {
		e = vec_push(v, n, cap);
		assert_non_null(e);
		assert_int_equal(e->a, 0);
		assert_int_equal(e->b, 0);
		e->a = (int)i;
	}
	assert_int_equal(n, 100);
	assert_int_equal(cap, 128);
	for (i = 0; i < 100; i++)
		assert_int_equal(v[i].a, (int)i);
	assert_int_equal(vec_reserve(v, cap, 100), 0);
	assert_int_equal(cap, 128);
	/* an impossible size fails and leaves the array as it was */
	assert_int_equal(vec_reserve(v, cap, SIZE_MAX / 4), -ENOMEM);
	assert_int_equal(cap, 128);
	assert_int_equal(v[99].a, 99);
	free(v);
}

static void test_severity(void **state)
{
	enum severity s = SEV_LOW;

	(void)state;
	assert_int_equal(severity__of(1024, 0, 1024), SEV_CRITICAL);
	assert_int_equal(severity__of(256, 0, 1024), SEV_HIGH);
	assert_int_equal(severity__of(64, 0, 1024), SEV_MEDIUM);
	assert_int_equal(severity__of(63, 0, 1024), SEV_LOW);
	/* T per minute of growth: one level up, never past critical */
	assert_int_equal(severity__of(63, 1024 / 60.0 + 1, 1024), SEV_MEDIUM);
	assert_int_equal(severity__of(2048, 1e9, 1024), SEV_CRITICAL);
	assert_int_equal(severity__parse("high", &s), 0);
	assert_int_equal(s, SEV_HIGH);
	assert_int_equal(severity__parse("HIGH", &s), -EINVAL);
	assert_string_equal(severity__str(SEV_CRITICAL), "critical");
	assert_string_equal(severity__str(7), "unknown");
}

#define T_DIR(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64_ranges),
		cmocka_unit_test(test_vec),
		cmocka_unit_test(test_htab),
		cmocka_unit_test(test_severity),
		cmocka_unit_test(test_parse_u64_junk),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_write_nosigpipe), cmocka_unit_test(test_clocks),
		T_DIR(test_check_output_ok),
		T_DIR(test_check_output_refused),
		T_DIR(test_check_output_not_a_file),
		cmocka_unit_test(test_esc),
		T_DIR(test_write_atomic),
		T_DIR(test_write_atomic_replaces_symlink),
		T_DIR(test_write_atomic_fails_clean),
		cmocka_unit_test(test_parse_stat),
		cmocka_unit_test(test_parse_stat_malformed),
		cmocka_unit_test(test_read_stat_self),
		cmocka_unit_test(test_exe_self),
		cmocka_unit_test(test_tick),
		cmocka_unit_test(test_parse_rollup),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
