// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * expo: the Prometheus text format 0.0.4 as written (families, labels, escapes, numbers),
 * and every misuse refused; sbuf, the buffer under it.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "expo.h"
#include "sbuf.h"

static void test_sbuf(void **state)
{
	struct sbuf b = {};
	char big[2000];
	int i;

	(void)state;
	sbuf__puts(&b, "ab");
	sbuf__put(&b, "cdef", 2);
	sbuf__printf(&b, "-%d-", 42);
	assert_string_equal(b.s, "abcd-42-");
	assert_int_equal(b.n, 8);
	/* past printf's small buffer */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	sbuf__printf(&b, "%s|", big);
	assert_int_equal(b.n, 8 + sizeof(big));
	assert_int_equal(b.s[b.n - 1], '|');
	assert_int_equal(strlen(b.s), b.n);
	sbuf__reset(&b);
	assert_int_equal(b.n, 0);
	assert_string_equal(b.s, "");
	for (i = 0; i < 10000; i++)
		sbuf__puts(&b, "0123456789");
	assert_int_equal(b.n, 100000);
	assert_int_equal(b.err, 0);
	sbuf__free(&b);
	assert_null(b.s);
	sbuf__free(&b);
}

static void test_format(void **state)
{
	static const char want[] =
		"# HELP a_bytes Memory, by group.\n"
		"# TYPE a_bytes gauge\n"
		"a_bytes{group=\"git\",kind=\"anon\"} 4096\n"
		"a_bytes 18446744073709551615\n"
		"# HELP b_total Things\\\\done\\nacross lines.\n"
		"# TYPE b_total counter\n"
		"b_total{reason=\"\"} 0\n"
		"b_total{reason=\"x\"} 0.5\n";
	struct sbuf b = {};
	struct expo e;

	(void)state;
	expo__init(&e, &b);
	assert_int_equal(expo__family(&e, "a_bytes", EXPO_GAUGE, "Memory, by group."), 0);
	assert_int_equal(expo__u64(&e, 4096, "group", "git", "kind", "anon", NULL), 0);
	assert_int_equal(expo__u64(&e, UINT64_MAX, NULL), 0);
	assert_int_equal(expo__family(&e, "b_total", EXPO_COUNTER,
				      "Things\\done\nacross lines."), 0);
	assert_int_equal(expo__u64(&e, 0, "reason", NULL, NULL), 0);
	assert_int_equal(expo__double(&e, 0.5, "reason", "x", NULL), 0);
	assert_int_equal(expo__finish(&e), 0);
	assert_string_equal(b.s, want);
	sbuf__free(&b);
}

/* each label value, escaped: what Prometheus's parser reads back as the value */
static void test_label_escapes(void **state)
{
	static const char *const cases[][2] = {
		{ "plain", "plain" },
		{ "back\\slash", "back\\\\slash" },
		{ "say \"hi\"", "say \\\"hi\\\"" },
		{ "two\nlines", "two\\nlines" },
		{ "tab\tstays", "tab\tstays" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
		/* not UTF-8: a lone continuation, a cut sequence, an overlong, a surrogate */
		{ "a\x80z", "a\xef\xbf\xbdz" },
		{ "cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd" },
		{ "over\xc0\xaf", "over\xef\xbf\xbd\xef\xbf\xbd" },
		{ "sur\xed\xa0\x80", "sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\\\"\n", "\\\\\\\"\\n" },
	};
	char want[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sbuf b = {};
		struct expo e;
		const char *line;

		expo__init(&e, &b);
		expo__family(&e, "m", EXPO_GAUGE, "h");
		expo__u64(&e, 1, "l", cases[i][0], NULL);
		assert_int_equal(expo__finish(&e), 0);
		snprintf(want, sizeof(want), "m{l=\"%s\"} 1\n", cases[i][1]);
		line = strstr(b.s, "\nm{");
		assert_non_null(line);
		if (strcmp(line + 1, want))
			fail_msg("case %zu: got '%s', want '%s'", i, line + 1, want);
		sbuf__free(&b);
	}
}

static void test_numbers(void **state)
{
	static const struct {
		double v;
		const char *s;
	} cases[] = {
		{ 0, "0" },
		{ -0.0, "0" },
		{ 1, "1" },
		{ -3, "-3" },
		{ 1e6, "1000000" },
		{ 9007199254740991.0, "9007199254740991" },
		{ 1e300, "1e+300" },
		{ 1e21, "1e+21" },
		{ 0.1, "0.1" },
		{ 1.5e-7, "1.5e-07" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ NAN, "NaN" },
		{ INFINITY, "+Inf" },
		{ -INFINITY, "-Inf" },
	};
	double probes[] = { 0.1, 1.0 / 3, 2.0 / 3, 1e-300, 5e-324, 1.7976931348623157e308,
			    123456.789, 3.141592653589793, 1e21, 12345678901234567890.0 };
	char buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expo__fmt_double(cases[i].v, buf, sizeof(buf));
		if (strcmp(buf, cases[i].s))
			fail_msg("%.17g: got '%s', want '%s'", cases[i].v, buf, cases[i].s);
	}
	/* every float reads back as itself */
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		expo__fmt_double(probes[i], buf, sizeof(buf));
		assert_true(strtod(buf, NULL) == probes[i]);
		expo__fmt_double(-probes[i], buf, sizeof(buf));
		assert_true(strtod(buf, NULL) == -probes[i]);
	}
}

static void test_names(void **state)
{
	static const char *const good_metric[] = { "a", "_x", "a:b", "qhtrace_open_fds", "Z9" };
	static const char *const bad_metric[] = { "", "9a", "a-b", "a b", "a.b", "é" };
	static const char *const good_label[] = { "a", "_x", "group", "job_kind", "A1" };
	static const char *const bad_label[] = { "", "1a", "a:b", "__name__", "__x", "a-b" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good_metric) / sizeof(good_metric[0]); i++)
		assert_true(expo__metric_name_ok(good_metric[i]));
	for (i = 0; i < sizeof(bad_metric) / sizeof(bad_metric[0]); i++)
		assert_false(expo__metric_name_ok(bad_metric[i]));
	assert_false(expo__metric_name_ok(NULL));
	for (i = 0; i < sizeof(good_label) / sizeof(good_label[0]); i++)
		assert_true(expo__label_name_ok(good_label[i]));
	for (i = 0; i < sizeof(bad_label) / sizeof(bad_label[0]); i++)
		assert_false(expo__label_name_ok(bad_label[i]));
}

/* a misuse is refused, sticks, and nothing more is written after it */
static void misuse(int step)
{
	struct sbuf b = {};
	struct expo e;
	size_t before;
	int err = 0;

	expo__init(&e, &b);
	switch (step) {
	case 0:	/* a sample before any family */
		err = expo__u64(&e, 1, NULL);
		break;
	case 1:
		err = expo__family(&e, "bad-name", EXPO_GAUGE, "h");
		break;
	case 2:	/* a counter not named _total */
		err = expo__family(&e, "jobs_finished", EXPO_COUNTER, "h");
		break;
	case 3:
		expo__family(&e, "m", EXPO_GAUGE, "h");
		err = expo__u64(&e, 1, "bad label", "v", NULL);
		break;
	case 4:
		expo__family(&e, "m", EXPO_GAUGE, "h");
		err = expo__u64(&e, 1, "a", "1", "a", "2", NULL);
		break;
	case 5:	/* one family twice */
		expo__family(&e, "m", EXPO_GAUGE, "h");
		expo__family(&e, "n", EXPO_GAUGE, "h");
		err = expo__family(&e, "m", EXPO_GAUGE, "h");
		break;
	case 6:
		err = expo__family(&e, "m", (enum expo_type)7, "h");
		break;
	case 7:	/* more labels than a sample may have */
		expo__family(&e, "m", EXPO_GAUGE, "h");
		err = expo__u64(&e, 1, "a", "", "b", "", "c", "", "d", "", "e", "", "f", "", "g",
				"", "h", "", "i", "", NULL);
		break;
	}
	if (err != -EINVAL)
		fail_msg("misuse %d: %d, expected -EINVAL", step, err);
	before = b.n;
	assert_int_equal(expo__family(&e, "fine", EXPO_GAUGE, "h"), -EINVAL);
	assert_int_equal(expo__u64(&e, 1, NULL), -EINVAL);
	assert_int_equal(b.n, before);
	assert_int_equal(expo__finish(&e), -EINVAL);
	sbuf__free(&b);
}

static void test_misuse(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 8; i++)
		misuse(i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sbuf),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_label_escapes),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_misuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
