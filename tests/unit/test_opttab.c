// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The option tables: every option of attach, leaks and fds has a help line and a default
 * that its own parser takes (so within its range); --help lists every option with its range
 * and default; the settings file's defaults are the options'; getopt's arrays.
 */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "opttab.h"
#include "traceopts.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' not found in:\n%s", needle, hay);
}

/* @in with each run of spaces and newlines made one space, as --help's wrapping undone */
static void unwrap(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (; *in && n + 1 < len; in++)
		if (*in != ' ' && *in != '\n')
			out[n++] = *in;
		else if (n && out[n - 1] != ' ')
			out[n++] = ' ';
	out[n] = '\0';
}

static void test_every_option_described(void **state)
{
	struct attach_opts *o = calloc(1, sizeof(*o));
	size_t i, j;

	(void)state;
	assert_non_null(o);
	for (i = 0; i < traceopts_n; i++) {
		const struct opt_spec *s = &traceopts[i];

		if (!s->help || !*s->help || !s->cmds)
			fail_msg("--%s: no help line or no command", s->name);
		for (j = 0; j < i; j++) {
			if (!strcmp(traceopts[j].name, s->name))
				fail_msg("--%s twice", s->name);
			if (s->short_name && traceopts[j].short_name == s->short_name)
				fail_msg("-%c twice", s->short_name);
		}
		if (s->kind == OPT_NAME)
			assert_non_null(s->names);
		if (s->kind == OPT_FN)
			assert_non_null(s->fn);
		if (s->kind == OPT_U32 || s->kind == OPT_POW2 || s->kind == OPT_U64 ||
		    s->kind == OPT_MS)
			assert_true(s->min <= s->max && s->max);
		/* a default is taken by the option's own parser: the right kind, in range */
		if (s->def && opttab__parse(s, s->def, o))
			fail_msg("--%s: its default '%s' is refused", s->name, s->def);
		assert_ptr_equal(traceopts__find(s->name), s);
	}
	assert_null(traceopts__find("no-such-option"));
	free(o);
}

/* --help of each command lists each of its options, with its range and its default */
static void test_help_lists_every_option(void **state)
{
	static const struct {
		void (*usage)(FILE *out);
		unsigned int bit;
	} cmds[] = {
		{ cli__usage_attach, QH_OPTS_ATTACH },
		{ cli__usage_leaks, QH_OPTS_LEAKS },
		{ cli__usage_fds, QH_OPTS_FDS },
	};
	size_t c, i;

	(void)state;
	for (c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		char *buf = NULL, want[160], line[2048];
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		assert_non_null(f);
		cmds[c].usage(f);
		fclose(f);
		for (i = 0; i < traceopts_n; i++) {
			const struct opt_spec *s = &traceopts[i];
			char *at, *next;

			/* its line, not a mention in the prose */
			if (s->short_name)
				snprintf(want, sizeof(want), "\n  -%c, --%s", s->short_name, s->name);
			else
				snprintf(want, sizeof(want), "\n      --%s", s->name);
			/* the whole name: --heap is not --heap-probes */
			for (at = strstr(buf, want); at && at[strlen(want)] != ' ' &&
						     at[strlen(want)] != '\n';)
				at = strstr(at + 1, want);
			if (!(s->cmds & cmds[c].bit)) {
				/* only named in another option's text, never listed */
				if (at)
					fail_msg("--%s listed for a command without it", s->name);
				continue;
			}
			if (!at)
				fail_msg("--%s not in:\n%s", s->name, buf);
			/* its text runs to the next option's line */
			next = strstr(at + 1, "\n  -");
			if (next)
				*next = '\0';
			unwrap(at, line, sizeof(line));
			if (next)
				*next = '\n';
			if (s->kind == OPT_U32 || s->kind == OPT_U64 || s->kind == OPT_POW2) {
				snprintf(want, sizeof(want), "%lu..%lu", (unsigned long)s->min,
					 (unsigned long)s->max);
				assert_contains(line, want);
			} else if (s->kind == OPT_MS) {
				snprintf(want, sizeof(want), "%g..%g", s->min / 1000.0,
					 s->max / 1000.0);
				assert_contains(line, want);
			}
			if (s->def || s->shown) {
				snprintf(want, sizeof(want), "(default %s",
					 s->shown ? s->shown : s->def);
				/* the help text wraps at spaces: compare its first word */
				want[strcspn(want + 9, " ") + 9] = '\0';
				assert_contains(line, want);
			}
			if (next)
				*next = '\n';
		}
		free(buf);
	}
}

/* a key of the settings file that an option also sets has the option's default */
static void test_settings_defaults_are_the_options(void **state)
{
	struct attach_opts *o = calloc(1, sizeof(*o));
	struct qh_settings *s = calloc(1, sizeof(*s));

	(void)state;
	assert_non_null(o);
	assert_non_null(s);
	traceopts__defaults(o);
	config__defaults(s);
	assert_int_equal(s->leak_check_interval, o->check_interval_s);
	assert_int_equal(s->leak_threshold_mb, o->leak_threshold_mb);
	assert_int_equal(s->enable_leak_detection, o->heap);
	assert_int_equal(s->resource_leak_count, o->resource_leak_count);
	assert_int_equal(s->auto_cleanup, o->watch.auto_cleanup);
	assert_int_equal(s->max_resource_lifetime, o->watch.max_resource_lifetime_s);
	assert_int_equal(s->max_cleanup_attempts, o->watch.max_cleanup_attempts);
	assert_int_equal(s->force_cleanup_timeout * 1000, o->watch.force_cleanup_timeout_ms);
	assert_int_equal(s->zombie_grace * 1000, o->watch.zombie_grace_ms);
	assert_int_equal(s->memory_threshold_mb, o->watch.memory_threshold_mb);
	assert_int_equal(s->n_driver_patterns, o->watch.n_driver_patterns);
	assert_int_equal(s->n_browser_patterns, o->watch.n_browser_patterns);
	/* and the defaults not from the command line's */
	assert_int_equal(s->chunk_size, 1000);
	assert_int_equal(s->compression_level, 6);
	free(o);
	free(s);
}

static void test_getopt_arrays(void **state)
{
	static const struct opt_cmd attach = { "attach", QH_OPTS_ATTACH, true, NULL };
	static const struct opt_cmd leaks = { "leaks", QH_OPTS_LEAKS, true, NULL };
	static const struct opt_cmd any = { "x", QH_OPTS_FDS, false, NULL };
	struct option *longs;
	char shorts[64];
	size_t n;

	(void)state;
	assert_int_equal(opttab__getopt(traceopts, traceopts_n, &attach, &longs, shorts,
					sizeof(shorts)),
			 0);
	assert_string_equal(shorts, "+:o:qvu:h");
	for (n = 0; longs[n].name; n++) {
		const struct opt_spec *s = opttab__of(traceopts, traceopts_n, longs[n].val);

		assert_non_null(s);
		assert_string_equal(s->name, longs[n].name);
		assert_true(s->cmds & QH_OPTS_ATTACH);
	}
	free(longs);
	assert_int_equal(opttab__getopt(traceopts, traceopts_n, &leaks, &longs, shorts,
					sizeof(shorts)),
			 0);
	assert_string_equal(shorts, "+:p:d:o:qvh");
	free(longs);
	assert_int_equal(opttab__getopt(traceopts, traceopts_n, &any, &longs, shorts,
					sizeof(shorts)),
			 0);
	assert_string_equal(shorts, ":p:d:o:qvh");
	free(longs);
	assert_int_equal(opttab__getopt(traceopts, traceopts_n, &leaks, &longs, shorts, 6),
			 -E2BIG);
	assert_null(opttab__of(traceopts, traceopts_n, '?'));
	assert_null(opttab__of(traceopts, traceopts_n, 256 + (int)traceopts_n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_option_described),
		cmocka_unit_test(test_help_lists_every_option),
		cmocka_unit_test(test_settings_defaults_are_the_options),
		cmocka_unit_test(test_getopt_arrays),
	};

	log__set_level(QH_LOG_ERR);
	return cmocka_run_group_tests_name("opttab", tests, NULL, NULL);
}
