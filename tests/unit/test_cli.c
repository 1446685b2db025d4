// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `qhtrace attach` option parsing: what is accepted, what is refused with a message, and
 * that CMD's own options are left to CMD.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli.h"
#include "tracer.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static char out_text[32768], err_text[32768];

static void slurp(FILE *f, char *buf, size_t len)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/*
 * Parse with stdout and stderr captured into out_text and err_text, so that the help and
 * the usage errors can be checked and do not mix with the test runner's output.
 */
static int parse_with(int (*fn)(int, char **, struct attach_opts *), int argc, char **argv,
		      struct attach_opts *o)
{
	FILE *out = tmpfile(), *err = tmpfile();
	int saved_out, saved_err, ret;

	assert_non_null(out);
	assert_non_null(err);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(STDOUT_FILENO);
	saved_err = dup(STDERR_FILENO);
	assert_true(saved_out >= 0 && saved_err >= 0);
	dup2(fileno(out), STDOUT_FILENO);
	dup2(fileno(err), STDERR_FILENO);

	ret = fn(argc, argv, o);

	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	slurp(out, out_text, sizeof(out_text));
	slurp(err, err_text, sizeof(err_text));
	return ret;
}

static int parse(int argc, char **argv, struct attach_opts *o)
{
	return parse_with(cli__parse_attach, argc, argv, o);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not found in '%s'", needle, hay);
}

static void test_output_quiet_dashdash(void **state)
{
	char *argv[] = { "attach", "-o", "r.json", "-q", "--", "ls", "-l", NULL };
	struct attach_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &o), 0);
	assert_non_null(o.output);
	assert_string_equal(o.output, "r.json");
	assert_true(o.quiet);
	assert_int_equal(o.verbose, 0);
	assert_int_equal(o.max_procs, QH_DEFAULT_MAX_PROCS);
	assert_int_equal(o.ringbuf_kb, QH_DEFAULT_RINGBUF_KB);
	assert_int_equal(o.argc, 2);
	assert_ptr_equal(o.argv, &argv[5]);
	assert_string_equal(o.argv[0], "ls");
	assert_string_equal(o.argv[1], "-l");
	assert_null(o.argv[2]);
	assert_string_equal(out_text, "");
	assert_string_equal(err_text, "");
}

static void test_defaults(void **state)
{
	char *argv[] = { "attach", "true", NULL };
	struct attach_opts o;

	(void)state;
	memset(&o, 0xff, sizeof(o));
	assert_int_equal(parse(ARGC(argv), argv, &o), 0);
	assert_null(o.output);
	assert_false(o.quiet);
	assert_int_equal(o.verbose, 0);
	assert_int_equal(o.max_procs, 32768);
	assert_int_equal(o.ringbuf_kb, 1024);
	assert_int_equal(o.argc, 1);
	assert_string_equal(o.argv[0], "true");
}

static void test_long_options(void **state)
{
	char *argv[] = { "attach", "--output=a.json", "--quiet", "--verbose", "-v",
			 "--max-procs", "128", "--ringbuf-size=4096", "--", "make", NULL };
	struct attach_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(argv), argv, &o), 0);
	assert_string_equal(o.output, "a.json");
	assert_true(o.quiet);
	assert_int_equal(o.verbose, 2);
	assert_int_equal(o.max_procs, 128);
	assert_int_equal(o.ringbuf_kb, 4096);
	assert_int_equal(o.argc, 1);
	assert_string_equal(o.argv[0], "make");
}

static void test_no_dashdash(void **state)
{
	char *argv[] = { "attach", "ls", "-l", "-o", "x", "--", "-q", NULL };
	char *argv2[] = { "attach", "-qv", "grep", "-v", "--output", "y", NULL };
	struct attach_opts o;

	(void)state;
	/* options stop at CMD: everything after it is CMD's */
	assert_int_equal(parse(ARGC(argv), argv, &o), 0);
	assert_null(o.output);
	assert_false(o.quiet);
	assert_int_equal(o.argc, 6);
	assert_ptr_equal(o.argv, &argv[1]);
	assert_string_equal(o.argv[0], "ls");
	assert_string_equal(o.argv[1], "-l");
	assert_string_equal(o.argv[4], "--");
	assert_string_equal(o.argv[5], "-q");
	/* argv is left in its order */
	assert_string_equal(argv[2], "-l");
	assert_string_equal(argv[3], "-o");

	assert_int_equal(parse(ARGC(argv2), argv2, &o), 0);
	assert_true(o.quiet);
	assert_int_equal(o.verbose, 1);
	assert_null(o.output);
	assert_int_equal(o.argc, 4);
	assert_string_equal(o.argv[0], "grep");
	assert_string_equal(o.argv[1], "-v");
}

static int parse_max_procs(const char *n, struct attach_opts *o)
{
	char *argv[] = { "attach", "--max-procs", (char *)n, "--", "true", NULL };

	return parse(ARGC(argv), argv, o);
}

static void test_max_procs(void **state)
{
	static const char *const bad[] = {
		"63", "0", "abc", "-5", "99999999999", "", "64k", " 64", "4194305", "0x40", "+64",
	};
	struct attach_opts o;
	size_t i;

	(void)state;
	assert_int_equal(parse_max_procs("64", &o), 0);
	assert_int_equal(o.max_procs, 64);
	assert_string_equal(err_text, "");
	assert_int_equal(parse_max_procs("4194304", &o), 0);
	assert_int_equal(o.max_procs, 4194304);
	assert_int_equal(parse_max_procs("1000", &o), 0);
	assert_int_equal(o.max_procs, 1000);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse_max_procs(bad[i], &o);

		if (ret != -EINVAL)
			fail_msg("--max-procs '%s': %d, expected -EINVAL", bad[i], ret);
		assert_contains(err_text, "--max-procs");
		assert_contains(err_text, "64..4194304");
		assert_string_equal(out_text, "");
	}
}

static int parse_ringbuf(const char *n, struct attach_opts *o)
{
	char *argv[] = { "attach", "--ringbuf-size", (char *)n, "true", NULL };

	return parse(ARGC(argv), argv, o);
}

static void test_ringbuf_size(void **state)
{
	static const char *const bad[] = { "32", "63", "abc", "-64", "2097152", "" };
	struct attach_opts o;
	size_t i;

	(void)state;
	assert_int_equal(parse_ringbuf("2048", &o), 0);
	assert_int_equal(o.ringbuf_kb, 2048);
	assert_int_equal(parse_ringbuf("64", &o), 0);
	assert_int_equal(o.ringbuf_kb, 64);
	assert_int_equal(parse_ringbuf("1048576", &o), 0);
	assert_int_equal(o.ringbuf_kb, 1048576);

	assert_int_equal(parse_ringbuf("1000", &o), -EINVAL);
	assert_contains(err_text, "power of two");
	assert_int_equal(parse_ringbuf("1536", &o), -EINVAL);
	assert_contains(err_text, "power of two");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse_ringbuf(bad[i], &o);

		if (ret != -EINVAL)
			fail_msg("--ringbuf-size '%s': %d, expected -EINVAL", bad[i], ret);
		assert_contains(err_text, "--ringbuf-size");
	}
}

static void test_missing_command(void **state)
{
	char *a1[] = { "attach", NULL };
	char *a2[] = { "attach", "-q", NULL };
	char *a3[] = { "attach", "-o", "r.json", "--", NULL };
	struct attach_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(a1), a1, &o), -EINVAL);
	assert_contains(err_text, "no command given");
	assert_int_equal(parse(ARGC(a2), a2, &o), -EINVAL);
	assert_contains(err_text, "no command given");
	assert_int_equal(parse(ARGC(a3), a3, &o), -EINVAL);
	assert_contains(err_text, "no command given");
	assert_string_equal(out_text, "");
}

static void test_unknown_option(void **state)
{
	char *a1[] = { "attach", "--bogus", "--", "ls", NULL };
	char *a2[] = { "attach", "-x", "ls", NULL };
	char *a3[] = { "attach", "--max-p", "64", "ls", NULL };
	char *a4[] = { "attach", "--max", "64", "ls", NULL };
	struct attach_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(a1), a1, &o), -EINVAL);
	assert_contains(err_text, "unknown option '--bogus'");
	assert_int_equal(parse(ARGC(a2), a2, &o), -EINVAL);
	assert_contains(err_text, "unknown option '-x'");
	assert_string_equal(out_text, "");
	/* getopt_long takes unambiguous prefixes of long options */
	assert_int_equal(parse(ARGC(a3), a3, &o), 0);
	assert_int_equal(o.max_procs, 64);
	/* ...but not ambiguous ones: --max-procs, --max-allocs, --max-size */
	assert_int_equal(parse(ARGC(a4), a4, &o), -EINVAL);
}

static void test_heap_options(void **state)
{
	char *a1[] = { "attach", "--heap", "--no-stacks", "--sample-rate", "10", "--min-size",
		       "16", "--max-size", "4096", "--min-age", "0", "--leak-threshold-mb", "1",
		       "--top", "3", "--max-allocs", "2048", "--", "ls", NULL };
	char *a2[] = { "attach", "ls", NULL };
	char *bad[][4] = {
		{ "attach", "--sample-rate", "0", "ls" },
		{ "attach", "--min-age", "86401", "ls" },
		{ "attach", "--top", "1001", "ls" },
		{ "attach", "--max-allocs", "1023", "ls" },
		{ "attach", "--leak-threshold-mb", "0", "ls" },
		{ "attach", "--min-size", "x", "ls" },
	};
	char *a3[] = { "attach", "--min-size", "100", "--max-size", "99", "ls", NULL };
	struct attach_opts o;
	size_t i;

	(void)state;
	assert_int_equal(parse(ARGC(a1), a1, &o), 0);
	assert_true(o.heap);
	assert_false(o.stacks);
	assert_int_equal(o.sample_rate, 10);
	assert_int_equal(o.min_size, 16);
	assert_int_equal(o.max_size, 4096);
	assert_int_equal(o.min_age_s, 0);
	assert_int_equal(o.leak_threshold_mb, 1);
	assert_int_equal(o.top, 3);
	assert_int_equal(o.max_allocs, 2048);
	/* defaults */
	assert_int_equal(parse(ARGC(a2), a2, &o), 0);
	assert_false(o.heap);
	assert_true(o.stacks);
	assert_int_equal(o.sample_rate, 1);
	assert_int_equal(o.min_age_s, 5);
	assert_int_equal(o.leak_threshold_mb, 10);
	assert_int_equal(o.top, 10);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(4, bad[i], &o), -EINVAL);
	assert_int_equal(parse(ARGC(a3), a3, &o), -EINVAL);
	assert_contains(err_text, "larger than --max-size");
}

static void test_watch_options(void **state)
{
	char *a1[] = { "attach", "--cleanup", "--force-cleanup-timeout", "0.25", "--zombie-grace",
		       "2", "--max-lifetime", "0", "--memory-threshold-mb", "512",
		       "--max-cleanup-attempts", "5", "--driver-pattern", "my*drv",
		       "--driver-pattern", "other", "--", "ls", NULL };
	char *a2[] = { "attach", "ls", NULL };
	char *bad[][4] = {
		{ "attach", "--force-cleanup-timeout", "0.05", "ls" },
		{ "attach", "--force-cleanup-timeout", "3601", "ls" },
		{ "attach", "--force-cleanup-timeout", "1s", "ls" },
		{ "attach", "--zombie-grace", "nan", "ls" },
		{ "attach", "--max-cleanup-attempts", "0", "ls" },
		{ "attach", "--max-lifetime", "-1", "ls" },
		{ "attach", "--driver-pattern", "", "ls" },
	};
	struct attach_opts o;
	size_t i;

	(void)state;
	assert_int_equal(parse(ARGC(a1), a1, &o), 0);
	assert_true(o.watch.auto_cleanup);
	assert_int_equal(o.watch.force_cleanup_timeout_ms, 250);
	assert_int_equal(o.watch.zombie_grace_ms, 2000);
	assert_int_equal(o.watch.max_resource_lifetime_s, 0);
	assert_int_equal(o.watch.memory_threshold_mb, 512);
	assert_int_equal(o.watch.max_cleanup_attempts, 5);
	/* added to the five defaults */
	assert_int_equal(o.watch.n_driver_patterns, 7);
	assert_string_equal(o.watch.driver_patterns[0], "chromedriver");
	assert_string_equal(o.watch.driver_patterns[5], "my*drv");
	assert_string_equal(o.watch.driver_patterns[6], "other");
	assert_int_equal(parse(ARGC(a2), a2, &o), 0);
	assert_false(o.watch.auto_cleanup);
	assert_int_equal(o.watch.force_cleanup_timeout_ms, 10000);
	assert_int_equal(o.watch.zombie_grace_ms, 5000);
	assert_int_equal(o.watch.max_resource_lifetime_s, 3600);
	assert_int_equal(o.watch.memory_threshold_mb, 1024);
	assert_int_equal(o.watch.max_cleanup_attempts, 3);
	assert_int_equal(o.watch.n_driver_patterns, 5);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(4, bad[i], &o), -EINVAL);
		assert_contains(err_text, bad[i][1]);
	}
}

static int parse_leaks(int argc, char **argv, struct attach_opts *o)
{
	return parse_with(cli__parse_leaks, argc, argv, o);
}

static void test_leaks(void **state)
{
	char *a1[] = { "leaks", "-p", "1234", "--duration", "30", "-o", "r.json", NULL };
	char *a2[] = { "leaks", "--pid=99", "--no-stacks", "--top", "5", NULL };
	char *a3[] = { "leaks", "-d", "5", NULL };
	char *a4[] = { "leaks", "-p", "0", NULL };
	char *a5[] = { "leaks", "-p", "12", "extra", NULL };
	char *a6[] = { "leaks", "-p", "12", "--heap", NULL };
	struct attach_opts o;

	(void)state;
	assert_int_equal(parse_leaks(ARGC(a1), a1, &o), 0);
	assert_int_equal(o.pid, 1234);
	assert_int_equal(o.duration_s, 30);
	assert_string_equal(o.output, "r.json");
	assert_true(o.heap); /* leaks is the heap */
	assert_true(o.stacks);
	assert_int_equal(parse_leaks(ARGC(a2), a2, &o), 0);
	assert_int_equal(o.pid, 99);
	assert_int_equal(o.duration_s, 0);
	assert_false(o.stacks);
	assert_int_equal(o.top, 5);
	assert_int_equal(parse_leaks(ARGC(a3), a3, &o), -EINVAL);
	assert_contains(err_text, "no process given");
	assert_int_equal(parse_leaks(ARGC(a4), a4, &o), -EINVAL);
	assert_int_equal(parse_leaks(ARGC(a5), a5, &o), -EINVAL);
	assert_contains(err_text, "unexpected argument 'extra'");
	/* --heap is an attach option */
	assert_int_equal(parse_leaks(ARGC(a6), a6, &o), -EINVAL);
	assert_contains(err_text, "see 'qhtrace leaks --help'");
}

/* --fd-probes: the four ways, auto by default, anything else refused with the choices */
static void test_fd_probes(void **state)
{
	static const struct {
		const char *arg;
		int want;
	} ok[] = {
		{ "auto", QH_FD_PROBES_AUTO },
		{ "fentry", QH_FD_PROBES_FENTRY },
		{ "syscalls", QH_FD_PROBES_SYSCALLS },
		{ "dispatch", QH_FD_PROBES_DISPATCH },
	};
	char *a1[] = { "attach", "ls", NULL };
	char *a2[] = { "attach", "--fd-probes", NULL, "ls", NULL };
	char *a3[] = { "attach", "--fd-probes", "kprobe", "ls", NULL };
	struct attach_opts o;
	size_t i;

	(void)state;
	memset(&o, 0xff, sizeof(o));
	assert_int_equal(parse(ARGC(a1), a1, &o), 0);
	assert_int_equal(o.fd_probes, QH_FD_PROBES_AUTO);
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		a2[2] = (char *)ok[i].arg;
		assert_int_equal(parse(ARGC(a2), a2, &o), 0);
		assert_int_equal(o.fd_probes, ok[i].want);
	}
	assert_int_equal(parse(ARGC(a3), a3, &o), -EINVAL);
	assert_contains(err_text, "--fd-probes: 'kprobe' is not 'auto', 'fentry', 'syscalls' or "
				  "'dispatch'");
}

static void test_help(void **state)
{
	char *a1[] = { "attach", "-h", NULL };
	char *a2[] = { "attach", "-q", "--help", "--", "ls", NULL };
	struct attach_opts o;
	char want[64];

	(void)state;
	assert_int_equal(parse(ARGC(a1), a1, &o), 1);
	assert_contains(out_text, "Usage: qhtrace attach [OPTIONS] [--] CMD [ARGS...]");
	assert_contains(out_text, "Examples:");
	assert_contains(out_text, "--max-procs N");
	snprintf(want, sizeof(want), "(default %u)", QH_DEFAULT_MAX_PROCS);
	assert_contains(out_text, want);
	assert_string_equal(err_text, "");
	assert_int_equal(parse(ARGC(a2), a2, &o), 1);
	assert_contains(out_text, "Usage: qhtrace attach");
}

static void test_missing_argument(void **state)
{
	char *a1[] = { "attach", "-o", NULL };
	char *a2[] = { "attach", "--output", NULL };
	char *a3[] = { "attach", "ls", "--max-procs", NULL };
	char *a4[] = { "attach", "--max-procs", NULL };
	struct attach_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(a1), a1, &o), -EINVAL);
	assert_contains(err_text, "'-o' needs an argument");
	assert_int_equal(parse(ARGC(a2), a2, &o), -EINVAL);
	assert_contains(err_text, "'--output' needs an argument");
	assert_int_equal(parse(ARGC(a4), a4, &o), -EINVAL);
	assert_contains(err_text, "'--max-procs' needs an argument");
	assert_string_equal(out_text, "");
	/* after CMD, it is CMD's option */
	assert_int_equal(parse(ARGC(a3), a3, &o), 0);
	assert_int_equal(o.argc, 2);
	assert_int_equal(o.max_procs, QH_DEFAULT_MAX_PROCS);
}

static void test_parse_twice(void **state)
{
	char *a1[] = { "attach", "-q", "--", "first", NULL };
	char *a2[] = { "attach", "-o", "f.json", "second", "arg", NULL };
	char *a3[] = { "attach", "-xq", "third", NULL };
	char *a4[] = { "attach", "-v", "fourth", NULL };
	struct attach_opts o;

	(void)state;
	assert_int_equal(parse(ARGC(a1), a1, &o), 0);
	assert_true(o.quiet);
	assert_string_equal(o.argv[0], "first");

	/* nothing carried over from the first parse */
	assert_int_equal(parse(ARGC(a2), a2, &o), 0);
	assert_false(o.quiet);
	assert_string_equal(o.output, "f.json");
	assert_int_equal(o.argc, 2);
	assert_string_equal(o.argv[0], "second");

	/* an error at the x of "-xq" leaves getopt mid-word; the next parse starts afresh */
	assert_int_equal(parse(ARGC(a3), a3, &o), -EINVAL);
	assert_int_equal(parse(ARGC(a4), a4, &o), 0);
	assert_false(o.quiet);
	assert_null(o.output);
	assert_int_equal(o.verbose, 1);
	assert_int_equal(o.argc, 1);
	assert_string_equal(o.argv[0], "fourth");

	assert_int_equal(parse(ARGC(a1), a1, &o), 0);
	assert_true(o.quiet);
	assert_int_equal(o.argc, 1);
	assert_string_equal(o.argv[0], "first");
}

static void test_usage(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	cli__usage(f);
	fclose(f);
	assert_contains(buf, "Usage: qhtrace COMMAND [OPTIONS] ...");
	assert_contains(buf, "attach [OPTIONS] -- CMD [ARGS...]");
	assert_contains(buf, "Examples:");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_quiet_dashdash),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_long_options),
		cmocka_unit_test(test_no_dashdash),
		cmocka_unit_test(test_max_procs),
		cmocka_unit_test(test_ringbuf_size),
		cmocka_unit_test(test_missing_command),
		cmocka_unit_test(test_unknown_option),
		cmocka_unit_test(test_heap_options),
		cmocka_unit_test(test_watch_options),
		cmocka_unit_test(test_leaks),
		cmocka_unit_test(test_fd_probes),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_missing_argument),
		cmocka_unit_test(test_parse_twice),
		cmocka_unit_test(test_usage),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
