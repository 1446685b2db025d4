// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The settings file: every key accepted with its right type, refused with every wrong one,
 * range checks, unknown keys, the defaults printed and read back, and the command line
 * overriding the file.
 */
#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "config.h"
#include "gate.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static char why[512];

static int parse(const char *text, struct qh_settings *s)
{
	why[0] = '\0';
	return config__parse(text, s, why, sizeof(why));
}

/* the defaults as config__print writes them, parsed */
static cJSON *defaults_json(void)
{
	struct qh_settings s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	cJSON *o;

	config__defaults(&s);
	config__print(f, &s);
	fclose(f);
	o = cJSON_Parse(buf);
	free(buf);
	assert_non_null(o);
	return o;
}

static void test_defaults_round_trip(void **state)
{
	struct qh_settings d, s;
	cJSON *o = defaults_json();
	char *text = cJSON_Print(o);

	(void)state;
	config__defaults(&d);
	memset(&s, 0xa5, sizeof(s));
	config__defaults(&s);
	/* every group, and the keys the issue names */
	assert_int_equal(cJSON_GetArraySize(o), 5);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "profiler")), 6);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "data")), 7);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "cleanup")), 6);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "webdriver")), 3);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "alert_thresholds")), 3);
	assert_int_equal(parse(text, &s), 0);
	assert_memory_equal(&s, &d, sizeof(s));
	free(text);
	cJSON_Delete(o);
}

/* what --force-cleanup-timeout 0.5 takes, the settings file takes too */
static void test_fractional_seconds(void **state)
{
	struct qh_settings s;

	(void)state;
	config__defaults(&s);
	assert_int_equal(parse("{\"cleanup\": {\"force_cleanup_timeout\": 0.5,"
			       " \"zombie_grace\": 0.25}}", &s), 0);
	assert_true(s.force_cleanup_timeout == 0.5 && s.zombie_grace == 0.25);
	config__defaults(&s);
	/* below the option's 0.1 s */
	assert_int_not_equal(parse("{\"cleanup\": {\"force_cleanup_timeout\": 0.05}}", &s), 0);
}

static void test_every_key(void **state)
{
	struct qh_settings s;
	char text[512];

	(void)state;
	config__defaults(&s);
	assert_int_equal(
		parse("{\"profiler\": {\"leak_check_interval\": 0, \"leak_threshold_mb\": 64,"
		      " \"enable_leak_detection\": true, \"monitoring_interval\": 2,"
		      " \"max_snapshots\": 7},"
		      " \"data\": {\"max_memory_mb\": 64, \"chunk_size\": 5000,"
		      " \"compression_type\": \"gzip\", \"compression_level\": 1,"
		      " \"log_max_size_mb\": 0, \"log_max_age_hours\": 168, \"log_keep\": 30},"
		      " \"cleanup\": {\"auto_cleanup\": true, \"cleanup_interval\": 9,"
		      " \"max_resource_lifetime\": 600, \"max_cleanup_attempts\": 4,"
		      " \"force_cleanup_timeout\": 3},"
		      " \"webdriver\": {\"memory_threshold_mb\": 2048,"
		      " \"driver_patterns\": [\"chromedriver\"],"
		      " \"browser_patterns\": [\"chrome\", \"headless_shell\"]},"
		      " \"alert_thresholds\": {\"memory_usage_percent\": 75.5,"
		      " \"memory_leak_mb\": 5, \"resource_leak_count\": 20}}",
		      &s),
		0);
	assert_int_equal(s.leak_check_interval, 0);
	assert_int_equal(s.leak_threshold_mb, 64);
	assert_true(s.enable_leak_detection);
	assert_int_equal(s.monitoring_interval, 2);
	assert_int_equal(s.max_snapshots, 7);
	assert_int_equal(s.max_memory_mb, 64);
	assert_int_equal(s.chunk_size, 5000);
	assert_int_equal(s.compression_type, QH_COMPRESS_GZIP);
	assert_int_equal(s.compression_level, 1);
	assert_int_equal(s.log_max_size_mb, 0);
	assert_int_equal(s.log_max_age_hours, 168);
	assert_int_equal(s.log_keep, 30);
	assert_true(s.auto_cleanup);
	assert_int_equal(s.cleanup_interval, 9);
	assert_int_equal(s.max_resource_lifetime, 600);
	assert_int_equal(s.max_cleanup_attempts, 4);
	assert_int_equal(s.force_cleanup_timeout, 3);
	assert_int_equal(s.memory_threshold_mb, 2048);
	assert_int_equal(s.n_driver_patterns, 1);
	assert_string_equal(s.driver_patterns[0], "chromedriver");
	assert_int_equal(s.n_browser_patterns, 2);
	assert_string_equal(s.browser_patterns[1], "headless_shell");
	assert_true(s.memory_usage_percent == 75.5);
	assert_int_equal(s.memory_leak_mb, 5);
	assert_int_equal(s.resource_leak_count, 20);
	/* a partial file changes only what it names */
	snprintf(text, sizeof(text), "{\"data\": {\"compression_type\": \"none\"}}");
	assert_int_equal(parse(text, &s), 0);
	assert_int_equal(s.compression_type, QH_COMPRESS_NONE);
	assert_int_equal(s.chunk_size, 5000);
	assert_int_equal(parse("{}", &s), 0);
}

/* Every key with every JSON type but its own: refused, naming the key, settings unchanged. */
static void test_every_wrong_type(void **state)
{
	static const char *const values[] = { "\"text\"", "12", "1.5", "true", "[1]", "{}", "null",
					      "[\"a\", 3]" };
	cJSON *d = defaults_json(), *g, *k;
	struct qh_settings s, before;
	int checked = 0;
	size_t i;

	(void)state;
	config__defaults(&s);
	before = s;
	cJSON_ArrayForEach(g, d) {
		cJSON_ArrayForEach(k, g) {
			for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
				char text[256], name[128];
				bool same;

				/* the right type for this key is no error */
				if (cJSON_IsNumber(k))
					same = !strcmp(values[i], "12") ||
					       (!strcmp(values[i], "1.5") &&
						(!strcmp(k->string, "memory_usage_percent") ||
						 !strcmp(k->string, "force_cleanup_timeout") ||
						 !strcmp(k->string, "zombie_grace")));
				else if (cJSON_IsBool(k))
					same = !strcmp(values[i], "true");
				else
					/* no compression type; patterns: strings only */
					same = false;
				if (same)
					continue;
				snprintf(text, sizeof(text), "{\"%s\": {\"%s\": %s}}", g->string,
					 k->string, values[i]);
				assert_int_not_equal(parse(text, &s), 0);
				snprintf(name, sizeof(name), "%s.%s", g->string, k->string);
				if (!strstr(why, name))
					fail_msg("%s: '%s' does not name %s", text, why, name);
				assert_null(strchr(why, '\n'));
				assert_memory_equal(&s, &before, sizeof(s));
				checked++;
			}
		}
	}
	assert_true(checked >= 20 * 6);
	cJSON_Delete(d);
	/* the message says what is allowed */
	assert_int_equal(parse("{\"profiler\": {\"leak_threshold_mb\": \"big\"}}", &s), -EINVAL);
	assert_string_equal(why, "profiler.leak_threshold_mb must be an integer in 1..1048576, "
				 "not a string");
	assert_int_equal(parse("{\"profiler\": {\"enable_leak_detection\": 1}}", &s), -EINVAL);
	assert_string_equal(why, "profiler.enable_leak_detection must be true or false, not a "
				 "number");
}

static void test_ranges(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
		{ "{\"profiler\": {\"leak_threshold_mb\": 0}}",
		  "profiler.leak_threshold_mb: 0 is out of range: an integer in 1..1048576" },
		{ "{\"profiler\": {\"leak_threshold_mb\": 1048577}}", NULL },
		{ "{\"profiler\": {\"leak_check_interval\": -1}}", NULL },
		{ "{\"profiler\": {\"leak_check_interval\": 86401}}", NULL },
		{ "{\"profiler\": {\"monitoring_interval\": 0}}", NULL },
		{ "{\"profiler\": {\"max_snapshots\": 0}}", NULL },
		{ "{\"data\": {\"chunk_size\": 0}}", NULL },
		{ "{\"data\": {\"chunk_size\": 1000001}}", NULL },
		{ "{\"data\": {\"compression_level\": 0}}", NULL },
		{ "{\"data\": {\"compression_level\": 10}}",
		  "data.compression_level: 10 is out of range: an integer in 1..9" },
		{ "{\"data\": {\"compression_type\": \"zstd\"}}",
		  "data.compression_type: \"zstd\" is not allowed: \"auto\", \"gzip\" or "
		  "\"none\"" },
		{ "{\"data\": {\"max_memory_mb\": 15}}", NULL },
		{ "{\"data\": {\"log_max_size_mb\": 1048577}}", NULL },
		{ "{\"data\": {\"log_max_age_hours\": 87601}}",
		  "data.log_max_age_hours: 87601 is out of range: an integer in 0..87600" },
		{ "{\"data\": {\"log_keep\": -1}}", NULL },
		{ "{\"cleanup\": {\"max_cleanup_attempts\": 101}}", NULL },
		{ "{\"cleanup\": {\"force_cleanup_timeout\": 0}}", NULL },
		{ "{\"cleanup\": {\"cleanup_interval\": 1e12}}", NULL },
		{ "{\"cleanup\": {\"max_resource_lifetime\": 0}}", NULL },
		{ "{\"webdriver\": {\"memory_threshold_mb\": 0}}", NULL },
		{ "{\"webdriver\": {\"driver_patterns\": [\"\"]}}",
		  "webdriver.driver_patterns: item 0 is not allowed: an array of at most 16 "
		  "non-empty strings of under 128 bytes" },
		{ "{\"webdriver\": {\"browser_patterns\": "
		  "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\","
		  "\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}}",
		  NULL },
		{ "{\"alert_thresholds\": {\"memory_usage_percent\": 0.5}}",
		  "alert_thresholds.memory_usage_percent: 0.5 is out of range: a number in "
		  "1..100" },
		{ "{\"alert_thresholds\": {\"memory_usage_percent\": 100.5}}", NULL },
		{ "{\"alert_thresholds\": {\"memory_leak_mb\": 0}}", NULL },
		{ "{\"alert_thresholds\": {\"resource_leak_count\": 0}}", NULL },
	};
	struct qh_settings s, before;
	size_t i;

	(void)state;
	config__defaults(&s);
	before = s;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!parse(bad[i].text, &s))
			fail_msg("accepted: %s", bad[i].text);
		if (bad[i].msg)
			assert_string_equal(why, bad[i].msg);
		assert_memory_equal(&s, &before, sizeof(s));
	}
	/* the edges themselves are fine */
	assert_int_equal(
		parse("{\"profiler\": {\"leak_threshold_mb\": 1048576}, \"data\": "
		      "{\"compression_level\": 9, \"chunk_size\": 1}, \"alert_thresholds\": "
		      "{\"memory_usage_percent\": 100}}",
		      &s),
		0);
}

static void test_unknown_keys_and_syntax(void **state)
{
	struct qh_settings s;

	(void)state;
	config__defaults(&s);
	assert_int_equal(parse("{\"profilr\": {}}", &s), -EINVAL);
	assert_string_equal(why, "unknown key 'profilr' (allowed: profiler, data, cleanup, "
				 "webdriver, alert_thresholds)");
	assert_int_equal(parse("{\"data\": {\"chunksize\": 5}}", &s), -EINVAL);
	assert_string_equal(why, "unknown key 'data.chunksize' (allowed: max_memory_mb, "
				 "chunk_size, compression_type, compression_level, "
				 "log_max_size_mb, log_max_age_hours, log_keep)");
	assert_int_equal(parse("{\"data\": 5}", &s), -EINVAL);
	assert_string_equal(why, "data must be an object, not a number");
	assert_int_equal(parse("[1]", &s), -EINVAL);
	assert_string_equal(why, "the top level must be an object of groups, not an array");
	assert_int_equal(parse("{\n\"data\": {\n\"chunk_size\": 5,,\n}}", &s), -EINVAL);
	assert_string_equal(why, "not valid JSON (near line 3)");
	assert_int_equal(config__load("/nonexistent/qh.json", &s, why, sizeof(why)), -ENOENT);
	assert_int_equal(config__load("/tmp", &s, why, sizeof(why)), -EINVAL);
}

/*
 * Issue 17, defects 7 and 12: text after the object was ignored ("ok"), a NUL byte ended the
 * file unseen, and 1.5 for an integer key was "not a number".
 */
static void test_trailing_text_nul_and_fractions(void **state)
{
	char path[] = "/tmp/qh-config-XXXXXX";
	static const char text[] = "{\"data\": {\"chunk_size\": 5}}\0{\"junk\": 1}";
	struct qh_settings s;
	int fd;

	(void)state;
	config__defaults(&s);
	assert_int_equal(parse("{\"data\":{\"chunk_size\":5}} {\"junk\":1}", &s), -EINVAL);
	assert_string_equal(why, "not valid JSON (near line 1)");
	assert_int_equal(parse("{\"data\":{\"chunk_size\":5}}\n\n]", &s), -EINVAL);
	assert_string_equal(why, "not valid JSON (near line 3)");
	assert_int_equal(s.chunk_size, 1000);
	/* trailing white space is fine */
	assert_int_equal(parse("{\"data\":{\"chunk_size\":5}}\n \t\n", &s), 0);
	assert_int_equal(s.chunk_size, 5);

	assert_int_equal(parse("{\"data\":{\"chunk_size\":1.5}}", &s), -EINVAL);
	assert_string_equal(why, "data.chunk_size: 1.5 is not a whole number: an integer in "
				 "1..1000000");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1), sizeof(text) - 1);
	close(fd);
	assert_int_equal(config__load(path, &s, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "not valid JSON (a NUL byte at offset 27)");
	unlink(path);
}

static int parse_quiet(int argc, char **argv, struct attach_opts *o)
{
	FILE *devnull = fopen("/dev/null", "w");
	int saved = dup(STDERR_FILENO), ret;

	fflush(stderr);
	if (!getenv("QH_SHOW")) dup2(fileno(devnull), STDERR_FILENO);
	ret = cli__parse_attach(argc, argv, o);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	fclose(devnull);
	return ret;
}

static void test_command_line_overrides(void **state)
{
	char path[] = "/tmp/qh-config-XXXXXX";
	struct attach_opts o;
	int fd = mkstemp(path);
	const char *text = "{\"profiler\": {\"leak_threshold_mb\": 64, \"leak_check_interval\": 3,"
			   " \"enable_leak_detection\": true},"
			   " \"data\": {\"chunk_size\": 77}}";

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	{
		char *argv[] = { "attach", "--config", path, "--", "true", NULL };

		assert_int_equal(parse_quiet(ARGC(argv), argv, &o), 0);
		assert_int_equal(o.leak_threshold_mb, 64);
		assert_int_equal(o.check_interval_s, 3);
		assert_true(o.heap);
		assert_int_equal(o.settings.chunk_size, 77);
	}
	{
		/* options override the file, before or after --config */
		char *argv[] = { "attach", "--leak-threshold-mb", "5", "--config", path,
				 "--check-interval", "0", "true", NULL };

		assert_int_equal(parse_quiet(ARGC(argv), argv, &o), 0);
		assert_int_equal(o.leak_threshold_mb, 5);
		assert_int_equal(o.check_interval_s, 0);
		assert_int_equal(o.argc, 1);
	}
	{
		/* a --config among CMD's own arguments is CMD's */
		char *argv[] = { "attach", "--", "true", "--config", "/nonexistent", NULL };

		assert_int_equal(parse_quiet(ARGC(argv), argv, &o), 0);
		assert_int_equal(o.leak_threshold_mb, 10);
		assert_null(o.config);
	}
	{
		char *argv[] = { "attach", "--config", "/nonexistent/x.json", "true", NULL };

		assert_int_equal(parse_quiet(ARGC(argv), argv, &o), -EINVAL);
	}
	{
		char *argv[] = { "attach", "--fail-on", "leaks,zombies", "--fail-severity", "high",
				 "--events", "x.ndjson.gz", "--junit", "j.xml", "--summary-md",
				 "s.md", "--alert-exec", "cat", "true", NULL };

		assert_int_equal(parse_quiet(ARGC(argv), argv, &o), 0);
		assert_int_equal(o.fail_on, (1U << GATE_LEAKS) | (1U << GATE_ZOMBIES));
		assert_int_equal(o.fail_severity, SEV_HIGH);
		assert_string_equal(o.events, "x.ndjson.gz");
		assert_string_equal(o.junit, "j.xml");
		assert_string_equal(o.summary_md, "s.md");
		assert_string_equal(o.alert_exec, "cat");
	}
	{
		char *argv[] = { "attach", "--fail-on", "leaks,bugs", "true", NULL };

		assert_int_equal(parse_quiet(ARGC(argv), argv, &o), -EINVAL);
	}
	{
		char *argv[] = { "attach", "--fail-severity", "urgent", "true", NULL };

		assert_int_equal(parse_quiet(ARGC(argv), argv, &o), -EINVAL);
	}
	unlink(path);
}

/* a settings file with @text, its path in @path */
static void write_cfg(char *path, const char *text)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void change_is(const struct config_changes *c, size_t i, const char *line)
{
	char buf[512];

	assert_true(i < c->n);
	assert_string_equal(config__change_str(&c->c[i], buf, sizeof(buf)), line);
}

/* A reload: what changed is listed and applied; a key taken out gets its default back. */
static void test_reload_changes(void **state)
{
	char path[] = "/tmp/qh-config-XXXXXX";
	struct qh_settings cur, next;
	struct config_changes chg;

	(void)state;
	config__defaults(&cur);
	cur.cleanup_interval = 60;	/* from the file at start, which no longer says it */
	write_cfg(path, "{\"profiler\": {\"monitoring_interval\": 10},\n"
			" \"data\": {\"log_keep\": 3},\n"
			" \"webdriver\": {\"browser_patterns\": [\"chrome\", \"headless_shell\"]}}");
	why[0] = '\0';
	assert_int_equal(config__reload(path, &cur, &next, &chg, why, sizeof(why)), 0);
	assert_string_equal(why, "");
	assert_int_equal(next.monitoring_interval, 10);
	assert_int_equal(next.log_keep, 3);
	assert_int_equal(next.cleanup_interval, 30);
	assert_int_equal(next.n_browser_patterns, 2);
	assert_int_equal(chg.n, 4);
	/* in the table's order */
	change_is(&chg, 0, "profiler.monitoring_interval 5 -> 10");
	change_is(&chg, 1, "data.log_keep 7 -> 3");
	change_is(&chg, 2, "cleanup.cleanup_interval 60 -> 30");
	change_is(&chg, 3, "webdriver.browser_patterns [\"chrome\", \"chromium\", \"firefox\", "
			   "\"msedge\", \"opera\"] -> [\"chrome\", \"headless_shell\"]");
	assert_false(chg.c[0].restart);
	/* the same file again: nothing changed */
	cur = next;
	assert_int_equal(config__reload(path, &cur, &next, &chg, why, sizeof(why)), 0);
	assert_int_equal(chg.n, 0);
	assert_memory_equal(&cur, &next, sizeof(cur));
	assert_int_equal(config__diff(&cur, &next, &chg), 0);
	assert_int_equal(chg.n, 0);
	unlink(path);
}

/* Probes and the open log's stream are fixed until a restart: listed, old value kept. */
static void test_reload_restart_keys(void **state)
{
	char path[] = "/tmp/qh-config-XXXXXX";
	struct qh_settings cur, next;
	struct config_changes chg;

	(void)state;
	config__defaults(&cur);
	write_cfg(path, "{\"profiler\": {\"enable_leak_detection\": true, "
			"\"leak_threshold_mb\": 20},"
			" \"data\": {\"compression_type\": \"none\", \"compression_level\": 9,"
			" \"chunk_size\": 10, \"log_max_size_mb\": 0}}");
	assert_int_equal(config__reload(path, &cur, &next, &chg, why, sizeof(why)), 0);
	assert_int_equal(chg.n, 6);
	change_is(&chg, 0, "profiler.leak_threshold_mb 10 -> 20");
	change_is(&chg, 1, "profiler.enable_leak_detection false -> true: needs a restart, "
			   "false kept until then");
	change_is(&chg, 2, "data.chunk_size 1000 -> 10: needs a restart, 1000 kept until then");
	change_is(&chg, 3, "data.compression_type \"auto\" -> \"none\": needs a restart, "
			   "\"auto\" kept until then");
	change_is(&chg, 4, "data.compression_level 6 -> 9: needs a restart, 6 kept until then");
	change_is(&chg, 5, "data.log_max_size_mb 100 -> 0");
	assert_true(chg.c[1].restart && chg.c[2].restart && chg.c[3].restart &&
		    chg.c[4].restart);
	assert_false(chg.c[0].restart || chg.c[5].restart);
	/* the live ones applied, the others kept */
	assert_int_equal(next.leak_threshold_mb, 20);
	assert_int_equal(next.log_max_size_mb, 0);
	assert_false(next.enable_leak_detection);
	assert_int_equal(next.chunk_size, 1000);
	assert_int_equal(next.compression_type, QH_COMPRESS_AUTO);
	assert_int_equal(next.compression_level, 6);
	unlink(path);
}

/* A bad file on reload: the current settings stay, one line "file:line: what". */
static void test_reload_errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg;	/* after "PATH:" */
	} bad[] = {
		{ "{\n\"profiler\": {\"monitoring_interval\": 10},\n\"data\": {\n"
		  "  \"chunk_size\": 0\n}}",
		  "4: data.chunk_size: 0 is out of range: an integer in 1..1000000" },
		{ "{\"data\": {\"chunk_size\": 5,,}}", "1: not valid JSON (near line 1)" },
		{ "{\n\n  \"dta\": {}}", "3: unknown key 'dta' (allowed: profiler, data, cleanup, "
					   "webdriver, alert_thresholds)" },
		{ "{\"profiler\": {\"max_snapshots\": 5},\n \"cleanup\": {\n\n"
		  "\"zombie_grace\": \"soon\"}}",
		  "4: cleanup.zombie_grace must be a number in 0.1..86400, not a string" },
		{ "[]", "1: the top level must be an object of groups, not an array" },
	};
	struct qh_settings cur, next;
	struct config_changes chg;
	char want[640];
	size_t i;

	(void)state;
	config__defaults(&cur);
	cur.monitoring_interval = 7;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[] = "/tmp/qh-config-XXXXXX";

		write_cfg(path, bad[i].text);
		memset(&next, 0x5a, sizeof(next));
		chg.n = 99;
		assert_int_not_equal(config__reload(path, &cur, &next, &chg, why, sizeof(why)), 0);
		snprintf(want, sizeof(want), "%s:%s", path, bad[i].msg);
		assert_string_equal(why, want);
		assert_null(strchr(why, '\n'));
		assert_memory_equal(&next, &cur, sizeof(cur));
		assert_int_equal(chg.n, 0);
		unlink(path);
	}
	assert_int_equal(config__reload("/nonexistent/qh.json", &cur, &next, &chg, why,
					sizeof(why)), -ENOENT);
	assert_string_equal(why, "/nonexistent/qh.json: No such file or directory");
	assert_memory_equal(&next, &cur, sizeof(cur));
}

/*
 * What libFuzzer found crashing in the settings parser (tests/fuzz/corpus/settings/crash-*):
 * each loaded, accepted or refused with a reason, no crash (the sanitizer tier runs this under
 * ASan and UBSan). One is a key "" whose line was looked for past the text's end.
 */
static void test_fuzzer_crashes(void **state)
{
	struct qh_settings s;
	char why[512];
	glob_t g;
	size_t i;

	(void)state;
	assert_int_equal(glob("tests/fuzz/corpus/settings/crash-*", 0, NULL, &g), 0);
	for (i = 0; i < g.gl_pathc; i++) {
		config__defaults(&s);
		why[0] = '\0';
		if (config__load(g.gl_pathv[i], &s, why, sizeof(why)))
			assert_true(why[0] != '\0');
	}
	globfree(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_round_trip),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_fractional_seconds),
		cmocka_unit_test(test_every_wrong_type),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_unknown_keys_and_syntax),
		cmocka_unit_test(test_trailing_text_nul_and_fractions),
		cmocka_unit_test(test_command_line_overrides),
		cmocka_unit_test(test_reload_changes),
		cmocka_unit_test(test_reload_restart_keys),
		cmocka_unit_test(test_reload_errors),
		cmocka_unit_test(test_fuzzer_crashes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
