// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The CI gate read from a report: every class, the severity floor, the verdict; the JUnit XML
 * (well-formed, escaped, one test case per class) and the Markdown summary; the alerts and
 * their hooks; the diff of two reports.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "alerts.h"
#include "cli.h"
#include "diff.h"
#include "gate.h"
#include "outputs.h"
#include "report.h"
#include "util.h"

/* a report with something in every class; severities low, medium, high, critical */
static const char *const full_report =
	"{\"schema\": \"qhtrace/report/v1\","
	" \"run\": {\"command\": [\"./t\", \"<&>\"], \"duration_s\": 1.5, \"exit_code\": 0},"
	" \"events\": {\"received\": 10, \"lost\": 2},"
	" \"processes\": [{\"pid\": 1, \"comm\": \"t\", \"state\": \"reaped\", \"peak_rss_kb\": "
	"100},"
	"                 {\"pid\": 2, \"comm\": \"z\", \"state\": \"zombie\", \"peak_rss_kb\": "
	"50}],"
	" \"leaks\": {\"heap\": [{\"pid\": 1, \"comm\": \"t\", \"severity\": \"low\", \"bytes\": "
	"100,"
	"   \"count\": 1, \"stack\": [{\"symbol\": \"f<int>\", \"file\": \"/s/a.c\", \"line\": "
	"3}]},"
	"   {\"pid\": 1, \"comm\": \"t\", \"severity\": \"critical\", \"bytes\": 20971520,"
	"   \"count\": 2, \"stack\": [{\"symbol\": \"g\", \"file\": \"/s/a.c\", \"line\": 9}]}],"
	"   \"fds\": [{\"pid\": 1, \"comm\": \"t\", \"fd\": 5, \"type\": \"socket\","
	"   \"severity\": \"medium\"}]},"
	" \"leftovers\": [{\"pid\": 9, \"comm\": \"chrome\", \"severity\": \"high\"}],"
	" \"alerts\": [{\"kind\": \"memory_leak\", \"severity\": \"high\","
	"   \"message\": \"pid 1 leaked \\\"a lot\\\" \\u0001\"}]}";

static cJSON *parse(const char *s)
{
	cJSON *o = cJSON_Parse(s);

	assert_non_null(o);
	return o;
}

/* leak classes: a finding of a class --leak-kinds leaves out is listed, not counted; the
 * processes whose heap could not be judged are named in the verdict */
static void test_leak_classes(void **state)
{
	cJSON *rep = parse(
		"{\"processes\": [{\"pid\": 1, \"comm\": \"t\", \"allocator\": \"glibc\"},"
		" {\"pid\": 2, \"comm\": \"s\", \"allocator\": \"not hooked: static\"}],"
		" \"leaks\": {\"heap\": ["
		"  {\"pid\": 1, \"severity\": \"low\", \"kind\": \"definitely_lost\","
		"   \"counted\": true, \"bytes\": 8, \"count\": 1},"
		"  {\"pid\": 1, \"severity\": \"critical\", \"kind\": \"still_reachable\","
		"   \"counted\": false, \"bytes\": 99999999, \"count\": 1},"
		"  {\"pid\": 3, \"comm\": \"k\", \"severity\": \"low\", \"kind\": \"unclassified\","
		"   \"reason\": \"killed by signal SIGKILL\", \"counted\": false, \"bytes\": 1,"
		"   \"count\": 1},"
		"  {\"pid\": 3, \"comm\": \"k\", \"severity\": \"low\", \"kind\": \"unclassified\","
		"   \"reason\": \"killed by signal SIGKILL\", \"counted\": false, \"bytes\": 1,"
		"   \"count\": 1}]}}");
	struct gate_result r;
	cJSON *v, *u;

	(void)state;
	assert_int_equal(gate__evaluate(rep, 1U << GATE_LEAKS, SEV_LOW, &r), 0);
	assert_int_equal(r.count[GATE_LEAKS], 1);
	assert_false(r.pass);
	assert_int_equal(r.n_unjudged, 2); /* pid 2 not followed, pid 3 once */
	assert_non_null(strstr(r.unjudged, "pid 2 (s): heap not followed: not hooked: static\n"));
	assert_non_null(strstr(r.unjudged, "pid 3 (k): heap blocks unclassified: killed by signal "
					   "SIGKILL\n"));
	v = gate__verdict_json(&r);
	u = cJSON_GetObjectItem(v, "heap_not_judged");
	assert_int_equal(cJSON_GetArraySize(u), 2);
	cJSON_Delete(v);
	gate__release(&r);
	/* not gated on leaks: the verdict does not carry them */
	assert_int_equal(gate__evaluate(rep, 1U << GATE_FDS, SEV_LOW, &r), 0);
	v = gate__verdict_json(&r);
	assert_null(cJSON_GetObjectItem(v, "heap_not_judged"));
	cJSON_Delete(v);
	gate__release(&r);
	cJSON_Delete(rep);
}

static void test_classes_and_floor(void **state)
{
	cJSON *rep = parse(full_report);
	struct gate_result r;
	uint32_t all;
	char why[128];

	(void)state;
	assert_int_equal(gate__parse_classes("leaks,fds,zombies,leftovers,lost-events,alerts", &all,
					     why, sizeof(why)),
			 0);
	assert_int_equal(all, (1U << GATE_NR) - 1);
	assert_int_equal(gate__evaluate(rep, all, SEV_LOW, &r), 0);
	assert_false(r.pass);
	assert_int_equal(r.count[GATE_LEAKS], 2);
	assert_int_equal(r.count[GATE_FDS], 1);
	assert_int_equal(r.count[GATE_ZOMBIES], 1); /* from processes[], no zombies[] */
	assert_int_equal(r.count[GATE_LEFTOVERS], 1);
	assert_int_equal(r.count[GATE_LOST_EVENTS], 2);
	assert_int_equal(r.count[GATE_ALERTS], 1);
	assert_non_null(strstr(r.text[GATE_LEAKS], "critical: 20.0 MiB in 2 blocks outstanding, "
						    "pid 1 (t) at g (a.c:9)"));
	assert_non_null(strstr(r.text[GATE_FDS], "fd 5 socket"));
	gate__release(&r);

	/* the floor: only what is at or above it; zombies and lost events have no severity */
	assert_int_equal(gate__evaluate(rep, all, SEV_HIGH, &r), 0);
	assert_int_equal(r.count[GATE_LEAKS], 1);
	assert_int_equal(r.count[GATE_FDS], 0);
	assert_int_equal(r.count[GATE_LEFTOVERS], 1);
	assert_int_equal(r.count[GATE_ZOMBIES], 1);
	gate__release(&r);

	/* only the classes asked for decide */
	assert_int_equal(gate__evaluate(rep, 1U << GATE_FDS, SEV_HIGH, &r), 0);
	assert_true(r.pass);
	gate__release(&r);
	assert_int_equal(gate__evaluate(rep, 0, SEV_LOW, &r), 0);
	assert_true(r.pass);
	gate__release(&r);

	assert_int_equal(gate__parse_classes("leaks,,fds", &all, why, sizeof(why)), -EINVAL);
	assert_int_equal(gate__parse_classes("leak", &all, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "'leak' is not one of leaks, fds, zombies, leftovers, "
				 "lost-events, alerts");
	cJSON_Delete(rep);
}

static void test_not_measured(void **state)
{
	cJSON *rep = parse("{\"events\": {\"lost\": 0}, \"processes\": [], \"alerts\": []}");
	struct gate_result r;
	cJSON *v;

	(void)state;
	assert_int_equal(gate__evaluate(rep, (1U << GATE_NR) - 1, SEV_LOW, &r), 0);
	assert_true(r.pass);
	assert_false(r.measured[GATE_LEAKS]);
	assert_false(r.measured[GATE_FDS]);
	assert_false(r.measured[GATE_LEFTOVERS]);
	assert_true(r.measured[GATE_ZOMBIES]);
	assert_true(r.measured[GATE_LOST_EVENTS]);
	assert_true(r.measured[GATE_ALERTS]);
	v = gate__verdict_json(&r);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(v, "pass")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(v, "reasons")), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(v, "fail_on")), GATE_NR);
	cJSON_Delete(v);
	gate__release(&r);
	/* a zombies[] array from a zombie detector wins over the process states */
	cJSON_Delete(rep);
	rep = parse("{\"zombies\": [], \"processes\": [{\"pid\": 3, \"state\": \"zombie\"}]}");
	assert_int_equal(gate__evaluate(rep, 1U << GATE_ZOMBIES, SEV_LOW, &r), 0);
	assert_true(r.pass);
	gate__release(&r);
	cJSON_Delete(rep);
}

static void test_verdict(void **state)
{
	cJSON *rep = parse(full_report), *v, *reasons;
	struct gate_result r;

	(void)state;
	assert_int_equal(gate__evaluate(rep, (1U << GATE_LEAKS) | (1U << GATE_LOST_EVENTS),
					SEV_MEDIUM, &r),
			 0);
	v = gate__verdict_json(&r);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(v, "pass")));
	reasons = cJSON_GetObjectItem(v, "reasons");
	assert_int_equal(cJSON_GetArraySize(reasons), 2);
	assert_string_equal(cJSON_GetArrayItem(reasons, 0)->valuestring,
			    "leaks: 1 finding at or above medium");
	assert_string_equal(cJSON_GetArrayItem(reasons, 1)->valuestring,
			    "lost-events: 2 events lost");
	assert_string_equal(cJSON_GetObjectItem(v, "severity_floor")->valuestring, "medium");
	cJSON_Delete(v);
	gate__release(&r);
	cJSON_Delete(rep);
}

/*
 * A small XML checker: tags balance, attributes are quoted, '&' starts a known entity, no
 * raw '<' in text and no control characters. Returns the number of elements named @count.
 */
static int check_xml(const char *x, const char *count)
{
	const char *stack[32], *p = x;
	size_t lens[32];
	int depth = 0, n = 0;

	if (!strncmp(p, "<?xml", 5))
		p = strstr(p, "?>") + 2;
	for (; *p; p++) {
		unsigned char c = *p;

		assert_false(c < 0x20 && c != '\n' && c != '\t' && c != '\r');
		if (c == '&') {
			assert_true(!strncmp(p, "&lt;", 4) || !strncmp(p, "&gt;", 4) ||
				    !strncmp(p, "&amp;", 5) || !strncmp(p, "&quot;", 6) ||
				    !strncmp(p, "&apos;", 6));
			continue;
		}
		if (c == '>')
			fail_msg("raw '>' outside a tag at %.20s", p);
		if (c != '<')
			continue;
		if (p[1] == '/') {
			const char *e = strchr(p, '>');

			assert_true(depth > 0);
			depth--;
			assert_int_equal((size_t)(e - p - 2), lens[depth]);
			assert_memory_equal(p + 2, stack[depth], lens[depth]);
			p = e;
			continue;
		}
		{
			const char *name = p + 1, *q = name;
			size_t len;

			while (*q && *q != ' ' && *q != '>' && *q != '/')
				q++;
			len = q - name;
			if (len == strlen(count) && !strncmp(name, count, len))
				n++;
			/* attributes: name="value" with no raw '<' or '"' inside */
			while (*q && *q != '>' && !(q[0] == '/' && q[1] == '>')) {
				if (*q == '"') {
					q++;
					while (*q != '"') {
						assert_true(*q && *q != '<');
						q++;
					}
				}
				q++;
			}
			assert_true(*q);
			if (*q == '/') {
				p = q + 1;
			} else {
				assert_true(depth < 32);
				stack[depth] = name;
				lens[depth++] = len;
				p = q;
			}
		}
	}
	assert_int_equal(depth, 0);
	return n;
}

static void test_junit(void **state)
{
	cJSON *rep = parse(full_report);
	struct gate_result r;
	char *x;

	(void)state;
	assert_int_equal(gate__evaluate(rep, (1U << GATE_LEAKS) | (1U << GATE_ALERTS), SEV_LOW,
					&r),
			 0);
	x = gate__junit(rep, &r);
	assert_non_null(x);
	assert_int_equal(check_xml(x, "testcase"), GATE_NR);
	assert_int_equal(check_xml(x, "failure"), 2);
	/* fds, zombies, leftovers, lost-events have findings but are not gated */
	assert_int_equal(check_xml(x, "skipped"), 4);
	assert_non_null(strstr(x, "tests=\"6\" failures=\"2\" errors=\"0\" skipped=\"4\""));
	/* finding text, escaped */
	assert_non_null(strstr(x, "at f&lt;int&gt; (a.c:3)"));
	/* a control character from a traced process: escaped (util__esc) before XML's turn */
	assert_non_null(strstr(x, "pid 1 leaked &quot;a lot&quot; \\x01"));
	assert_non_null(strstr(x, "qhtrace: ./t &lt;&amp;&gt;"));
	free(x);
	gate__release(&r);

	/* a clean report: no failures */
	cJSON_Delete(rep);
	rep = parse("{\"events\": {\"lost\": 0}, \"processes\": [], \"alerts\": [],"
		    " \"leaks\": {\"heap\": []}}");
	assert_int_equal(gate__evaluate(rep, (1U << GATE_NR) - 1, SEV_LOW, &r), 0);
	x = gate__junit(rep, &r);
	assert_int_equal(check_xml(x, "failure"), 0);
	assert_int_equal(check_xml(x, "skipped"), 2); /* fds, leftovers: not measured */
	free(x);
	gate__release(&r);
	cJSON_Delete(rep);
}

static void test_markdown(void **state)
{
	cJSON *rep = parse(full_report);
	struct gate_result r;
	char *m;

	(void)state;
	assert_int_equal(gate__evaluate(rep, 1U << GATE_LEAKS, SEV_LOW, &r), 0);
	m = gate__markdown(rep, &r);
	assert_non_null(m);
	assert_non_null(strstr(m, "## qhtrace: FAIL\n"));
	assert_non_null(strstr(m, "| leaks | yes | 2 | **fail** |\n"));
	assert_non_null(strstr(m, "| fds | no | 1 | not gated |\n"));
	assert_non_null(strstr(m, "### leaks (2)\n"));
	assert_non_null(strstr(m, "10 events received, 2 lost"));
	free(m);
	/* "1 process traced", not "1 processes" (issue 16's readers and counts) */
	cJSON_Delete(rep);
	rep = parse("{\"events\": {\"received\": 3, \"lost\": 0}, \"processes\": [{}]}");
	gate__release(&r);
	assert_int_equal(gate__evaluate(rep, 0, SEV_LOW, &r), 0);
	m = gate__markdown(rep, &r);
	assert_non_null(strstr(m, "; 1 process traced, 3 events received"));
	free(m);
	gate__release(&r);
	cJSON_Delete(rep);
}

static void test_escape(void **state)
{
	char *e = gate__xml_escape("<a href=\"x\">&'\x01\t</a>");

	(void)state;
	assert_string_equal(e, "&lt;a href=&quot;x&quot;&gt;&amp;&apos;?\t&lt;/a&gt;");
	free(e);
}

/* ---- alerts ---- */

static void test_alerts_fire_once_per_crossing(void **state)
{
	struct alerts *a = alerts__new(&(struct alerts_opts){ .quiet = true });
	const struct alert *al;

	(void)state;
	assert_false(alerts__check(a, "memory_usage", "tree", SEV_HIGH, 50, 90, "at %d%%", 50));
	assert_int_equal(alerts__count(a), 0);
	assert_true(alerts__check(a, "memory_usage", "tree", SEV_HIGH, 91, 90, "at %d%%", 91));
	/* still above: the same condition does not fire again */
	assert_false(alerts__check(a, "memory_usage", "tree", SEV_HIGH, 95, 90, "at %d%%", 95));
	assert_int_equal(alerts__count(a), 1);
	al = alerts__get(a, 0);
	assert_string_equal(al->kind, "memory_usage");
	assert_string_equal(al->message, "at 91%");
	assert_true(al->value == 91 && al->threshold == 90);
	/* below, then above again: a new crossing */
	assert_false(alerts__check(a, "memory_usage", "tree", SEV_HIGH, 10, 90, "x"));
	assert_true(alerts__check(a, "memory_usage", "tree", SEV_HIGH, 99, 90, "at 99"));
	assert_int_equal(alerts__count(a), 1);
	assert_string_equal(alerts__get(a, 0)->message, "at 99");
	/* another key is another alert; fire() is for one-off conditions */
	assert_true(alerts__check(a, "resource_leak", "pid 4", SEV_MEDIUM, 200, 100, "fds"));
	assert_int_equal(alerts__fire(a, "resource_leak", "pid 4", SEV_MEDIUM, 1, 1, "x"),
			 -EALREADY);
	assert_int_equal(alerts__count(a), 2);
	alerts__free(a);
}

static void test_alert_json(void **state)
{
	struct alert al = { .kind = "memory_leak", .severity = SEV_CRITICAL, .message = "m \"q\"",
			    .value = 12.5, .threshold = 10, .real_ns = 1764200000000000000ULL };
	char *s = alert__json(&al);
	cJSON *o = parse(s);

	(void)state;
	assert_string_equal(cJSON_GetObjectItem(o, "kind")->valuestring, "memory_leak");
	assert_string_equal(cJSON_GetObjectItem(o, "severity")->valuestring, "critical");
	assert_string_equal(cJSON_GetObjectItem(o, "message")->valuestring, "m \"q\"");
	assert_true(cJSON_GetObjectItem(o, "value")->valuedouble == 12.5);
	assert_true(cJSON_GetObjectItem(o, "threshold")->valuedouble == 10);
	assert_string_equal(cJSON_GetObjectItem(o, "time")->valuestring,
			    "2025-11-26T23:33:20.000Z");
	cJSON_Delete(o);
	free(s);
}

static void test_alert_hooks(void **state)
{
	char dir[] = "/tmp/qh-hook-XXXXXX", cmd[256], buf[1024] = "";
	struct alerts *a;
	uint64_t t0;
	FILE *f;
	cJSON *o;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* the hook gets the alert JSON on its stdin */
	snprintf(cmd, sizeof(cmd), "cat > %s/got", dir);
	a = alerts__new(&(struct alerts_opts){ .exec = cmd, .timeout_s = 5, .quiet = true });
	assert_int_equal(alerts__fire(a, "memory_leak", "k", SEV_HIGH, 2, 1, "leaked"), 0);
	alerts__free(a); /* waits for it */
	snprintf(cmd, sizeof(cmd), "%s/got", dir);
	f = fopen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	o = parse(buf);
	assert_string_equal(cJSON_GetObjectItem(o, "message")->valuestring, "leaked");
	cJSON_Delete(o);

	/* a slow hook does not block the caller, and is killed at its timeout */
	a = alerts__new(&(struct alerts_opts){ .exec = "sleep 30", .timeout_s = 1, .quiet = true });
	t0 = util__now_ns(CLOCK_MONOTONIC);
	assert_int_equal(alerts__fire(a, "x", "1", SEV_LOW, 1, 1, "slow"), 0);
	assert_true(util__now_ns(CLOCK_MONOTONIC) - t0 < 200000000ULL);
	alerts__tick(a);
	assert_int_equal(alerts__hooks_failed(a), 0);
	alerts__free(a);
	assert_true(util__now_ns(CLOCK_MONOTONIC) - t0 < 3 * NSEC_PER_SEC);

	/* a failing hook is counted */
	a = alerts__new(&(struct alerts_opts){ .exec = "exit 3", .timeout_s = 5, .quiet = true });
	assert_int_equal(alerts__fire(a, "x", "1", SEV_LOW, 1, 1, "fails"), 0);
	t0 = util__now_ns(CLOCK_MONOTONIC);
	while (alerts__hooks_failed(a) == 0 && util__now_ns(CLOCK_MONOTONIC) - t0 < NSEC_PER_SEC) {
		usleep(10000);
		alerts__tick(a);
	}
	assert_int_equal(alerts__hooks_failed(a), 1);
	alerts__free(a);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- diff ---- */

static const char *const base_report =
	"{\"schema\": \"qhtrace/report/v1\","
	" \"processes\": [{\"comm\": \"pytest\", \"peak_rss_kb\": 100000},"
	"   {\"comm\": \"pytest\", \"peak_rss_kb\": 50000}, {\"comm\": \"sh\", \"peak_rss_kb\": "
	"900},"
	"   {\"comm\": \"old\", \"peak_rss_kb\": 10}],"
	" \"leaks\": {\"heap\": [{\"comm\": \"pytest\", \"bytes\": 1000,"
	"   \"stack\": [{\"symbol\": \"f\", \"file\": \"/a/x.c\", \"line\": 1, \"address\": "
	"\"0x1\"}]}]},"
	" \"drivers\": [{\"kind\": \"chromedriver\", \"peak_rss_kb\": 200000}]}";

static const char *const cur_report =
	"{\"schema\": \"qhtrace/report/v1\","
	" \"processes\": [{\"comm\": \"pytest\", \"peak_rss_kb\": 120000},"
	"   {\"comm\": \"sh\", \"peak_rss_kb\": 1800}, {\"comm\": \"new\", \"peak_rss_kb\": 5000}],"
	" \"leaks\": {\"heap\": [{\"comm\": \"pytest\", \"bytes\": 1050,"
	"   \"stack\": [{\"symbol\": \"f\", \"file\": \"/b/x.c\", \"line\": 1, \"address\": "
	"\"0x9\"}]},"
	"   {\"comm\": \"pytest\", \"bytes\": 64,"
	"   \"stack\": [{\"symbol\": \"g\", \"file\": \"/b/x.c\", \"line\": 7}]}],"
	"   \"fds\": [{\"comm\": \"pytest\", \"fd\": 3}]},"
	" \"leftovers\": [],"
	" \"drivers\": [{\"kind\": \"chromedriver\", \"peak_rss_kb\": 260000}]}";

static const cJSON *entry(const cJSON *d, const char *section, const char *key)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItem(d, section))
		if (!strcmp(cJSON_GetObjectItem(e, "key")->valuestring, key))
			return e;
	fail_msg("no %s entry '%s'", section, key);
	return NULL;
}

static void test_diff(void **state)
{
	cJSON *b = parse(base_report), *c = parse(cur_report), *d;
	const cJSON *e, *regs;

	(void)state;
	d = diff__compare(b, c, 10);
	/* per command: the highest peak of the name */
	e = entry(d, "commands", "pytest");
	assert_true(cJSON_GetObjectItem(e, "base_peak_rss_kb")->valuedouble == 100000);
	assert_true(cJSON_GetObjectItem(e, "current_peak_rss_kb")->valuedouble == 120000);
	assert_true(cJSON_GetObjectItem(e, "growth_pct")->valuedouble == 20);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "regression")));
	/* sh doubled, but by under 1 MiB: noise */
	e = entry(d, "commands", "sh");
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(e, "regression")));
	e = entry(d, "commands", "new");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "new")));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(e, "regression")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(entry(d, "commands", "old"), "gone")));
	/* leak stacks match by function and line, whatever the path and address: 5% growth */
	e = entry(d, "heap_leaks", "pytest <- f (x.c:1)");
	assert_true(cJSON_GetObjectItem(e, "growth_pct")->valuedouble == 5);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(e, "regression")));
	e = entry(d, "heap_leaks", "pytest <- g (x.c:7)");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "new")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "regression")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(entry(d, "fds", "pytest"), "regression")));
	e = entry(d, "drivers", "chromedriver");
	assert_true(cJSON_GetObjectItem(e, "growth_pct")->valuedouble == 30);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "regression")));
	regs = cJSON_GetObjectItem(d, "regressions");
	assert_int_equal(cJSON_GetArraySize(regs), 4);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(d, "pass")));
	cJSON_Delete(d);

	/* a looser gate: only the new leak and the new fd */
	d = diff__compare(b, c, 50);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "regressions")), 2);
	cJSON_Delete(d);
	/* no gate: figures, no judgement */
	d = diff__compare(b, c, -1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "regressions")), 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "pass")));
	cJSON_Delete(d);
	/* a report against itself */
	d = diff__compare(c, c, 0);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(d, "pass")));
	cJSON_Delete(d);
	cJSON_Delete(b);
	cJSON_Delete(c);
}

/* per test: a test that leaves more behind than it did is a regression; a new clean one is not */
static void test_diff_per_test(void **state)
{
	cJSON *b = parse("{\"tests\": ["
			 "{\"name\": \"t.py::a\", \"rss_growth_kb\": 1000, \"heap_new_bytes\": 100,"
			 " \"fds_leaked\": 0, \"browsers_left\": 0, \"leftovers\": 0},"
			 "{\"name\": \"t.py::b\", \"rss_growth_kb\": 0, \"heap_new_bytes\": null,"
			 " \"fds_leaked\": 1, \"browsers_left\": 0, \"leftovers\": 0}]}");
	cJSON *c = parse("{\"tests\": ["
			 "{\"name\": \"t.py::a\", \"rss_growth_kb\": 5000, \"heap_new_bytes\": 3000000,"
			 " \"fds_leaked\": 2, \"browsers_left\": 1, \"leftovers\": 0},"
			 "{\"name\": \"t.py::b\", \"rss_growth_kb\": 0, \"heap_new_bytes\": null,"
			 " \"fds_leaked\": 1, \"browsers_left\": 0, \"leftovers\": 0},"
			 "{\"name\": \"t.py::c\", \"rss_growth_kb\": 10, \"heap_new_bytes\": 5,"
			 " \"fds_leaked\": 0, \"browsers_left\": 0, \"leftovers\": 0}]}");
	cJSON *d;
	const cJSON *e;

	(void)state;
	d = diff__compare(b, c, 10);
	e = entry(d, "tests_rss", "t.py::a");
	assert_true(cJSON_GetObjectItem(e, "current_rss_growth_kb")->valuedouble == 5000);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "regression")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(entry(d, "tests_heap", "t.py::a"),
						     "regression")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(entry(d, "tests_fds", "t.py::a"),
						     "regression")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(entry(d, "tests_leftovers", "t.py::a"),
						     "regression")));
	/* unchanged, and a new clean test: no regression; a null heap is not compared */
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(entry(d, "tests_fds", "t.py::b"),
						      "regression")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(entry(d, "tests_fds", "t.py::c"), "new")));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(entry(d, "tests_fds", "t.py::c"),
						      "regression")));
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(d, "tests_heap"))
		assert_string_not_equal(cJSON_GetObjectItem(e, "key")->valuestring, "t.py::b");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d, "regressions")), 4);
	cJSON_Delete(d);
	cJSON_Delete(b);
	cJSON_Delete(c);
}

/* runout: the report completed at the end; the fd alert from leaks.fds; the files */
static void test_runout_finish(void **state)
{
	char dir[] = "/tmp/qh-runout-XXXXXX", junit[64], md[64], log[64], cmd[96];
	struct run_info ri = {};
	struct attach_opts o = {};
	struct outputs *r;
	int saved, devnull, err;
	const cJSON *al;
	cJSON *root;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(junit, sizeof(junit), "%s/j.xml", dir);
	snprintf(md, sizeof(md), "%s/s.md", dir);
	snprintf(log, sizeof(log), "%s/e.ndjson.gz", dir);
	config__defaults(&o.settings);
	o.settings.resource_leak_count = 2;
	o.fail_on = 1U << GATE_ALERTS;
	o.junit = junit;
	o.summary_md = md;
	o.events = log;
	o.alert_timeout_s = 1;
	assert_int_equal(outputs__preflight(&o), 0);
	assert_int_equal(outputs__open(&r, &o), 0);
	root = parse("{\"events\": {\"lost\": 0}, \"processes\": [],"
		     " \"leaks\": {\"fds\": [{\"fd\": 3}, {\"fd\": 4}, {\"fd\": 5}]}}");
	/* the alert's and the gate's lines on stderr are not the test runner's output */
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, STDERR_FILENO);
	err = outputs__finish(r, root, &ri);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(devnull);
	assert_int_equal(err, 0);
	assert_true(ri.gate_failed);
	al = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "alerts"), 0);
	assert_string_equal(cJSON_GetObjectItem(al, "kind")->valuestring, "resource_leak");
	assert_true(cJSON_GetObjectItem(al, "value")->valuedouble == 3);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "verdict"),
						      "pass")));
	/* the log: the header, the alert, the verdict */
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "event_log"), "records")
			    ->valuedouble == 3);
	assert_int_equal(access(junit, R_OK), 0);
	assert_int_equal(access(md, R_OK), 0);
	outputs__close(r);
	cJSON_Delete(root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* the resource_leak alert: one file's two findings hold its fds once; as severe as the worst */
static void test_runout_fd_alert(void **state)
{
	struct run_info ri = {};
	struct attach_opts o = {};
	struct outputs *r;
	int saved, devnull;
	const cJSON *al;
	cJSON *root;

	(void)state;
	config__defaults(&o.settings);
	o.settings.resource_leak_count = 64;
	o.alert_timeout_s = 1;
	assert_int_equal(outputs__open(&r, &o), 0);
	root = parse("{\"events\": {\"lost\": 0}, \"processes\": [], \"leaks\": {\"fds\": ["
		     "{\"pid\": 7, \"start_time\": \"t\", \"kind\": \"file\", \"target\": \"/a\","
		     " \"count\": 1800, \"reason\": \"growing\", \"severity\": \"critical\"},"
		     "{\"pid\": 7, \"start_time\": \"t\", \"kind\": \"file\", \"target\": \"/a\","
		     " \"count\": 1802, \"reason\": \"open_at_exit\", \"severity\": \"critical\"},"
		     "{\"pid\": 8, \"start_time\": \"u\", \"kind\": \"file\", \"target\": \"/a\","
		     " \"count\": 100, \"reason\": \"growing\", \"severity\": \"medium\"}],"
		     " \"sockets\": []}}");
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, STDERR_FILENO);
	assert_int_equal(outputs__finish(r, root, &ri), 0);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(devnull);
	al = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "alerts"), 0);
	assert_non_null(al);
	assert_true(cJSON_GetObjectItem(al, "value")->valuedouble == 1802 + 100);
	assert_string_equal(cJSON_GetObjectItem(al, "severity")->valuestring, "critical");
	outputs__close(r);
	cJSON_Delete(root);
}

/* the WebDriver trees in JUnit and Markdown: a test case and a row each, with the verdict,
 * and the leftovers with their reason, driver and cleanup */
static const char *const driver_report =
	"{\"schema\": \"qhtrace/report/v1\", \"run\": {\"command\": [\"pytest\"]},"
	" \"events\": {\"lost\": 0}, \"processes\": [],"
	" \"drivers\": [{\"id\": 1, \"kind\": \"chromedriver\", \"pid\": 10, \"lifetime_s\": 2.5,"
	"   \"process_count\": 9, \"peak_pss_kb\": 409600, \"peak_memory_kb\": 988000,"
	"   \"left_behind\": 0, \"memory_alert\": false, \"verdict\": \"clean\","
	"   \"test\": \"t.py::test_a\"},"
	"  {\"id\": 2, \"kind\": \"chromedriver\", \"pid\": 20, \"lifetime_s\": 3,"
	"   \"process_count\": 9, \"peak_pss_kb\": 1200000, \"peak_memory_kb\": 2000000,"
	"   \"left_behind\": 2, \"memory_alert\": true,"
	"   \"verdict\": \"left 2 processes, over 1024 MiB\", \"test\": \"t.py::test_b\"}],"
	" \"leftovers\": [{\"pid\": 21, \"comm\": \"chromium\", \"start_time\": \"s21\","
	"   \"reason\": \"outlived_driver\", \"driver\": 2, \"age_s\": 3},"
	"  {\"pid\": 22, \"comm\": \"chromium\", \"start_time\": \"s22\","
	"   \"reason\": \"outlived_driver\", \"driver\": 2, \"age_s\": 3}],"
	" \"cleanup\": {\"actions\": [{\"pid\": 21, \"start_time\": \"s21\", \"signal\": "
	"\"SIGTERM\", \"verified\": true, \"error\": null},"
	"  {\"pid\": 22, \"start_time\": \"s22\", \"signal\": \"SIGKILL\", \"verified\": false,"
	"   \"error\": \"still there\"}]}}";

static void test_drivers_junit_markdown(void **state)
{
	cJSON *rep = parse(driver_report);
	struct gate_result r;
	char *x, *m;

	(void)state;
	assert_int_equal(gate__evaluate(rep, 0, SEV_LOW, &r), 0);
	x = gate__junit(rep, &r);
	assert_non_null(x);
	/* the class cases, then one per tree */
	assert_int_equal(check_xml(x, "testcase"), GATE_NR + 2);
	assert_non_null(strstr(x, "<testsuite name=\"qhtrace: WebDriver trees\" tests=\"2\" "
				  "failures=\"1\""));
	assert_non_null(strstr(x, "classname=\"t.py::test_a\" name=\"driver #1 chromedriver "
				  "(pid 10)\""));
	assert_non_null(strstr(x, "<property name=\"peak_pss_kb\" value=\"409600\"/>"));
	assert_non_null(strstr(x, "<failure message=\"left 2 processes, over 1024 MiB\" "
				  "type=\"webdriver\">"));
	assert_non_null(strstr(x, "pid 21 (chromium) outlived_driver, tree of chromedriver #2; "
				  "cleanup: SIGTERM, verified gone"));
	assert_non_null(strstr(x, "cleanup: SIGKILL, NOT verified gone (still there)"));
	free(x);
	m = gate__markdown(rep, &r);
	assert_non_null(m);
	assert_non_null(strstr(m, "### WebDriver trees (2)\n"));
	assert_non_null(strstr(m, "| chromedriver #1 (pid 10) | t.py::test_a | 2.50 | 9 | 400.0 | "
				  "964.8 | clean | - |\n"));
	assert_non_null(strstr(m, "| **left 2 processes, over 1024 MiB** | 1 of 2 verified gone |"));
	/* the leftovers section: reason, driver, cleanup */
	assert_non_null(strstr(m, "- pid 22 (chromium) outlived_driver, tree of chromedriver #2; "
				  "cleanup: SIGKILL, NOT verified gone (still there)\n"));
	free(m);
	gate__release(&r);
	cJSON_Delete(rep);
}

/* memory_usage: the tree's RSS over MemTotal against memory_usage_percent */
static void test_runout_memory_usage(void **state)
{
	uint64_t total = alerts__mem_total_kb();
	struct attach_opts o = {};
	const struct alert *al;
	struct outputs *r;
	int saved, devnull;

	(void)state;
	assert_true(total > 0);
	config__defaults(&o.settings);
	o.settings.memory_usage_percent = 50;
	assert_int_equal(outputs__open(&r, &o), 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, STDERR_FILENO);
	outputs__memory_total(r, total * 40 / 100, 2);
	assert_int_equal(alerts__count(outputs__alerts(r)), 0);
	outputs__memory_total(r, total * 60 / 100, 3);
	outputs__memory_total(r, total * 70 / 100, 3); /* still crossed: no second alert */
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(devnull);
	assert_int_equal(alerts__count(outputs__alerts(r)), 1);
	al = alerts__get(outputs__alerts(r), 0);
	assert_string_equal(al->kind, "memory_usage");
	assert_true(al->value > 59.9 && al->value < 60.1);
	assert_true(al->threshold == 50);
	assert_non_null(strstr(al->message, "the traced processes (3) use 60.0% of memory"));
	outputs__close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes_and_floor),
		cmocka_unit_test(test_leak_classes),
		cmocka_unit_test(test_not_measured),
		cmocka_unit_test(test_verdict),
		cmocka_unit_test(test_junit),
		cmocka_unit_test(test_markdown),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_alerts_fire_once_per_crossing),
		cmocka_unit_test(test_alert_json),
		cmocka_unit_test(test_alert_hooks),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_diff_per_test),
		cmocka_unit_test(test_runout_finish),
		cmocka_unit_test(test_runout_memory_usage),
		cmocka_unit_test(test_runout_fd_alert),
		cmocka_unit_test(test_drivers_junit_markdown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
