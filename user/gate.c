// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "util.h"
#include "vec.h"

/* a growing string; a failed allocation is remembered and reported at the end */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (vec_reserve(b->s, b->cap, b->len + n + 1)) {
		b->oom = true;
		return;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3))) sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* text from a traced process (util__esc), then @after */
static void sb_esc(struct sbuf *b, const char *s, const char *after)
{
	char e[UTIL_ESC_LEN(1024)];

	util__esc(s, e, sizeof(e));
	sb_add(b, e, strlen(e));
	sb_add(b, after, strlen(after));
}

static char *sb_done(struct sbuf *b)
{
	if (b->oom) {
		free(b->s);
		return NULL;
	}
	if (!b->s)
		sb_add(b, "", 0);
	return b->s;
}

static const char *const class_names[GATE_NR] = {
	[GATE_LEAKS] = "leaks",
	[GATE_FDS] = "fds",
	[GATE_ZOMBIES] = "zombies",
	[GATE_LEFTOVERS] = "leftovers",
	[GATE_LOST_EVENTS] = "lost-events",
	[GATE_ALERTS] = "alerts",
};

const char *gate__class_name(enum gate_class c)
{
	return c < GATE_NR ? class_names[c] : "unknown";
}

int gate__parse_classes(const char *list, uint32_t *mask, char *why, size_t len)
{
	const char *p = list, *comma;
	int c;

	*mask = 0;
	do {
		size_t n;

		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		for (c = 0; c < GATE_NR; c++)
			if (strlen(class_names[c]) == n && !strncmp(p, class_names[c], n))
				break;
		if (c == GATE_NR) {
			snprintf(why, len, "'%.*s' is not one of leaks, fds, zombies, leftovers, "
					   "lost-events, alerts", (int)(n > 40 ? 40 : n), p);
			return -EINVAL;
		}
		*mask |= 1U << c;
		p = comma + 1;
	} while (comma);
	return 0;
}

/* an item's severity; one without any is always counted (it cannot be graded) */
static bool at_floor(const cJSON *it, enum severity floor)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "severity");
	enum severity sev;

	if (!cJSON_IsString(s) || severity__parse(s->valuestring, &sev))
		return true;
	return sev >= floor;
}

static const char *str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool num_of(const cJSON *o, const char *k, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

static void human_bytes(struct sbuf *b, double v)
{
	if (v >= 1 << 20)
		sb_printf(b, "%.1f MiB", v / (1 << 20));
	else if (v >= 1024)
		sb_printf(b, "%.1f KiB", v / 1024);
	else
		sb_printf(b, "%.0f bytes", v);
}

/* The cleanup action of the report about process (pid, start_time) of @it, or NULL */
static const cJSON *cleanup_of(const cJSON *rep, const cJSON *it)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(rep, "cleanup"), *a;
	const char *st = str_of(it, "start_time");
	double pid, v;

	if (!num_of(it, "pid", &pid) || !st)
		return NULL;
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(c, "actions"))
		if (num_of(a, "pid", &v) && v == pid && str_of(a, "start_time") &&
		    !strcmp(str_of(a, "start_time"), st))
			return a;
	return NULL;
}

/* The driver tree @id of the report, or NULL */
static const cJSON *driver_of(const cJSON *rep, double id)
{
	const cJSON *d;
	double v;

	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(rep, "drivers"))
		if (num_of(d, "id", &v) && v == id)
			return d;
	return NULL;
}

/* What the cleanup did to a leftover: "cleanup: SIGTERM, verified gone" */
static void cleanup_result(struct sbuf *b, const cJSON *rep, const cJSON *it)
{
	const cJSON *a = cleanup_of(rep, it);
	const char *s;

	if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rep, "cleanup")))
		return;
	if (!a) {
		sb_printf(b, "; cleanup: not attempted");
		return;
	}
	sb_printf(b, "; cleanup: %s, %s", str_of(a, "signal") ?: "no signal",
		  cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "verified")) ?
		  "verified gone" : "NOT verified gone");
	if ((s = str_of(a, "error")))
		sb_printf(b, " (%s)", s);
}

/* One line about one finding, from whatever fields it has (@rep: the report, or NULL). */
static void describe_in(struct sbuf *b, const cJSON *rep, const cJSON *it)
{
	const cJSON *stack = cJSON_GetObjectItemCaseSensitive(it, "stack"), *f0;
	const char *s;
	double v, n;

	if ((s = str_of(it, "severity")))
		sb_printf(b, "%s: ", s);
	if ((s = str_of(it, "message"))) {
		sb_esc(b, s, "");
		return;
	}
	if (num_of(it, "bytes", &v)) {
		human_bytes(b, v);
		if (num_of(it, "count", &n))
			sb_printf(b, " in %.0f block%s", n, n == 1 ? "" : "s");
		sb_printf(b, " outstanding, ");
	}
	/* an fd finding: how many fds of one kind */
	if (!num_of(it, "bytes", &v) && str_of(it, "kind") && num_of(it, "count", &n))
		sb_printf(b, "%.0f %s fd%s %s%s", n, str_of(it, "kind"), n == 1 ? "" : "s",
			  str_of(it, "state") ?: "", str_of(it, "state") ? " " : "");
	if (num_of(it, "fd", &v))
		sb_printf(b, "fd %.0f %s%s", v, str_of(it, "type") ?: "",
			  str_of(it, "type") ? " " : "");
	if ((s = str_of(it, "path")) || (s = str_of(it, "target")))
		sb_esc(b, s, ", ");
	if (num_of(it, "pid", &v))
		sb_printf(b, "pid %.0f", v);
	if ((s = str_of(it, "comm"))) {
		sb_printf(b, " (");
		sb_esc(b, s, ")");
	}
	if ((s = str_of(it, "state"))) {
		sb_printf(b, " ");
		sb_esc(b, s, "");
	}
	if (cJSON_IsArray(stack) && (f0 = cJSON_GetArrayItem(stack, 0))) {
		if ((s = str_of(f0, "symbol")) || (s = str_of(f0, "address"))) {
			sb_printf(b, " at ");
			sb_esc(b, s, "");
		}
		if ((s = str_of(f0, "file")) && num_of(f0, "line", &v)) {
			sb_printf(b, " (");
			sb_esc(b, strrchr(s, '/') ? strrchr(s, '/') + 1 : s, "");
			sb_printf(b, ":%.0f)", v);
		}
	}
	/* an fd finding: why (growing, open at the end or at exit), and what opened it */
	if ((s = str_of(it, "reason")) && cJSON_HasObjectItem(it, "growing_checks")) {
		sb_printf(b, ", ");
		sb_esc(b, s, "");
		if ((s = str_of(it, "site"))) {
			sb_printf(b, " by ");
			sb_esc(b, s, "");
		}
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "incomplete")))
			sb_printf(b, " (incomplete: some fds were not reported)");
	}
	/* a leftover: why, of which driver tree, and what the cleanup did */
	if ((s = str_of(it, "reason")) && cJSON_HasObjectItem(it, "age_s")) {
		const cJSON *d = num_of(it, "driver", &v) ? driver_of(rep, v) : NULL;

		sb_printf(b, " %s", s);
		if (d)
			sb_printf(b, ", tree of %s #%.0f", str_of(d, "kind") ?: "driver", v);
		cleanup_result(b, rep, it);
	}
	/* per-test attribution: the test that caused it */
	if (cJSON_HasObjectItem(it, "test"))
		sb_printf(b, " [%s%.900s]", str_of(it, "test") ? "test " : "between tests",
			  str_of(it, "test") ?: "");
}

static void describe(struct sbuf *b, const cJSON *it)
{
	describe_in(b, NULL, it);
}

/* a gated finding of a test (or between tests), for the JUnit test case of that test */
static void add_by_test(struct gate_result *r, const cJSON *rep, enum gate_class c,
			const cJSON *it)
{
	const char *t = str_of(it, "test") ?: "";
	cJSON *a = cJSON_GetObjectItemCaseSensitive(r->by_test, t);
	struct sbuf line = {};

	if (!a && !(a = cJSON_AddArrayToObject(r->by_test, t)))
		return;
	if (cJSON_GetArraySize(a) >= GATE_MAX_TEXT)
		return;
	char *text;

	sb_printf(&line, "%s: ", class_names[c]);
	describe_in(&line, rep, it);
	text = sb_done(&line);
	if (text)
		cJSON_AddItemToArray(a, cJSON_CreateString(text));
	free(text);
}

static void count_items(struct gate_result *r, const cJSON *rep, enum gate_class c,
			const cJSON *arr, struct sbuf *b)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		const cJSON *counted = cJSON_GetObjectItemCaseSensitive(it, "counted");

		/* listed for information (a heap block still reachable at exit, say) */
		if (cJSON_IsFalse(counted) || !at_floor(it, r->floor))
			continue;
		if (r->count[c]++ < GATE_MAX_TEXT) {
			describe_in(b, rep, it);
			sb_add(b, "\n", 1);
		}
		if (r->by_test && (r->fail_on & (1U << c)) && cJSON_HasObjectItem(it, "test"))
			add_by_test(r, rep, c, it);
	}
}

/*
 * The processes whose heap the leaks class could not judge: not followed at all (a static
 * binary, another allocator), or with blocks no scan classified. A gate that passes must
 * say what it could not see.
 */
static void unjudged(const cJSON *rep, struct sbuf *b, size_t *n)
{
	const cJSON *p, *it, *leaks = cJSON_GetObjectItemCaseSensitive(rep, "leaks");
	size_t nseen = 0, cap = 0;
	double pid, *seen = NULL;

	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(rep, "processes")) {
		const char *a = str_of(p, "allocator");

		if (!a || !strncmp(a, "glibc", 5) || !num_of(p, "pid", &pid))
			continue;
		(*n)++;
		sb_printf(b, "pid %.0f (%s): heap not followed: %s\n", pid, str_of(p, "comm") ?: "?",
			  a);
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(leaks, "heap")) {
		const char *k = str_of(it, "kind");
		size_t i;

		if (!k || strcmp(k, "unclassified") || !num_of(it, "pid", &pid))
			continue;
		/* once per process */
		for (i = 0; i < nseen && seen[i] != pid; i++)
			;
		if (i < nseen)
			continue;
		if (!vec_reserve(seen, cap, nseen + 1))
			seen[nseen++] = pid;
		(*n)++;
		sb_printf(b, "pid %.0f (%s): heap blocks unclassified: %s\n", pid,
			  str_of(it, "comm") ?: "?", str_of(it, "reason") ?: "unknown");
	}
	free(seen);
}

/* the table: how each class finds its data in the report */
static void eval_class(const cJSON *rep, struct gate_result *r, enum gate_class c,
		       struct sbuf *b)
{
	const cJSON *leaks = cJSON_GetObjectItemCaseSensitive(rep, "leaks"), *a, *p;
	double lost;

	switch (c) {
	case GATE_LEAKS:
		/* every kind of leak a detector reports under leaks.*, but fds and sockets (the
		 * fds class) */
		r->measured[c] = cJSON_IsObject(leaks);
		cJSON_ArrayForEach(a, leaks)
			if (cJSON_IsArray(a) && strcmp(a->string, "fds") &&
			    strcmp(a->string, "sockets"))
				count_items(r, rep, c, a, b);
		if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(leaks, "heap"))) {
			struct sbuf u = {};

			unjudged(rep, &u, &r->n_unjudged);
			r->unjudged = sb_done(&u);
		}
		break;
	case GATE_FDS:
		a = cJSON_GetObjectItemCaseSensitive(leaks, "fds");
		r->measured[c] = cJSON_IsArray(a);
		count_items(r, rep, c, a, b);
		count_items(r, rep, c, cJSON_GetObjectItemCaseSensitive(leaks, "sockets"), b);
		break;
	case GATE_ZOMBIES:
		a = cJSON_GetObjectItemCaseSensitive(rep, "zombies");
		if (cJSON_IsArray(a)) {
			r->measured[c] = true;
			count_items(r, rep, c, a, b);
			break;
		}
		/* the process model knows zombies even without a zombie detector */
		a = cJSON_GetObjectItemCaseSensitive(rep, "processes");
		r->measured[c] = cJSON_IsArray(a);
		cJSON_ArrayForEach(p, a) {
			const char *st = str_of(p, "state");

			if (st && !strcmp(st, "zombie") && r->count[c]++ < GATE_MAX_TEXT) {
				describe(b, p);
				sb_add(b, "\n", 1);
			}
		}
		break;
	case GATE_LEFTOVERS:
		a = cJSON_GetObjectItemCaseSensitive(rep, "leftovers");
		r->measured[c] = cJSON_IsArray(a);
		count_items(r, rep, c, a, b);
		break;
	case GATE_LOST_EVENTS:
		a = cJSON_GetObjectItemCaseSensitive(rep, "events");
		r->measured[c] = num_of(a, "lost", &lost);
		if (r->measured[c] && lost > 0) {
			r->count[c] = lost;
			sb_printf(b, "%.0f events lost: the report is incomplete\n", lost);
		}
		break;
	case GATE_ALERTS:
		a = cJSON_GetObjectItemCaseSensitive(rep, "alerts");
		r->measured[c] = cJSON_IsArray(a);
		count_items(r, rep, c, a, b);
		break;
	default:
		break;
	}
}

int gate__evaluate(const cJSON *report, uint32_t fail_on, enum severity floor,
		   struct gate_result *r)
{
	int c;

	memset(r, 0, sizeof(*r));
	r->fail_on = fail_on;
	r->floor = floor;
	r->pass = true;
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(report, "tests")) &&
	    !(r->by_test = cJSON_CreateObject()))
		return -ENOMEM;
	for (c = 0; c < GATE_NR; c++) {
		struct sbuf b = {};

		eval_class(report, r, c, &b);
		r->text[c] = sb_done(&b);
		if (!r->text[c]) {
			gate__release(r);
			return -ENOMEM;
		}
		if ((fail_on & (1U << c)) && r->count[c])
			r->pass = false;
	}
	return 0;
}

void gate__release(struct gate_result *r)
{
	int c;

	for (c = 0; c < GATE_NR; c++) {
		free(r->text[c]);
		r->text[c] = NULL;
	}
	free(r->unjudged);
	r->unjudged = NULL;
	cJSON_Delete(r->by_test);
	r->by_test = NULL;
}

static const char *strndup_tmp(const char *s, size_t n, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s", (int)n, s);
	return buf;
}

cJSON *gate__verdict_json(const struct gate_result *r)
{
	cJSON *v = cJSON_CreateObject(), *reasons, *on;
	char buf[160];
	int c;

	if (!v)
		return NULL;
	cJSON_AddBoolToObject(v, "pass", r->pass);
	reasons = cJSON_AddArrayToObject(v, "reasons");
	on = cJSON_AddArrayToObject(v, "fail_on");
	for (c = 0; c < GATE_NR; c++) {
		if (!(r->fail_on & (1U << c)))
			continue;
		cJSON_AddItemToArray(on, cJSON_CreateString(class_names[c]));
		if (!r->count[c])
			continue;
		if (c == GATE_LOST_EVENTS)
			snprintf(buf, sizeof(buf), "lost-events: %zu events lost", r->count[c]);
		else
			snprintf(buf, sizeof(buf), "%s: %zu finding%s at or above %s",
				 class_names[c], r->count[c], r->count[c] == 1 ? "" : "s",
				 severity__str(r->floor));
		cJSON_AddItemToArray(reasons, cJSON_CreateString(buf));
	}
	cJSON_AddStringToObject(v, "severity_floor", severity__str(r->floor));
	if (r->n_unjudged && (r->fail_on & (1U << GATE_LEAKS))) {
		cJSON *u = cJSON_AddArrayToObject(v, "heap_not_judged");
		const char *p = r->unjudged, *nl;

		for (; (nl = strchr(p, '\n')); p = nl + 1)
			cJSON_AddItemToArray(u, cJSON_CreateString(strndup_tmp(p, nl - p, buf,
										 sizeof(buf))));
	}
	return v;
}

char *gate__xml_escape(const char *s)
{
	struct sbuf b = {};

	for (; *s; s++) {
		unsigned char c = *s;

		switch (c) {
		case '<':
			sb_add(&b, "&lt;", 4);
			break;
		case '>':
			sb_add(&b, "&gt;", 4);
			break;
		case '&':
			sb_add(&b, "&amp;", 5);
			break;
		case '"':
			sb_add(&b, "&quot;", 6);
			break;
		case '\'':
			sb_add(&b, "&apos;", 6);
			break;
		default:
			/* XML 1.0 allows no control character but tab, newline, return */
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				sb_add(&b, "?", 1);
			else
				sb_add(&b, (const char *)&c, 1);
		}
	}
	return sb_done(&b);
}

static void xml_add(struct sbuf *b, const char *s)
{
	char *e = gate__xml_escape(s ? s : "");

	if (!e) {
		b->oom = true;
		return;
	}
	sb_add(b, e, strlen(e));
	free(e);
}

static void command_line(struct sbuf *b, const cJSON *report)
{
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(report, "run"), *a;
	bool first = true;

	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(run, "command")) {
		if (cJSON_IsString(a)) {
			sb_printf(b, "%s", first ? "" : " ");
			sb_esc(b, a->valuestring, "");
			first = false;
		}
	}
}

/* the figures of a test (the report's tests[]) that JUnit shows as its properties */
static const char *const test_props[] = { "duration_s", "rss_growth_kb", "heap_new_bytes",
					  "heap_new_blocks", "fds_leaked", "processes_started",
					  "browsers_started", "browsers_left", "leftovers", NULL };

static void junit_case(struct sbuf *b, const char *name, const cJSON *t, const cJSON *lines)
{
	const char *sep = strstr(name, "::");
	const cJSON *l;
	double v;
	int i;

	/* a pytest node id: the file is the class, the rest the name */
	sb_printf(b, "    <testcase classname=\"");
	if (sep) {
		char *cls = strndup(name, sep - name);

		xml_add(b, cls ? cls : "");
		free(cls);
	} else {
		xml_add(b, "qhtrace");
	}
	sb_printf(b, "\" name=\"");
	xml_add(b, sep ? sep + 2 : name);
	sb_printf(b, "\" time=\"%.3f\">\n", t && num_of(t, "duration_s", &v) ? v : 0);
	if (t) {
		sb_printf(b, "      <properties>\n");
		for (i = 0; test_props[i]; i++)
			if (num_of(t, test_props[i], &v))
				sb_printf(b, "        <property name=\"%s\" value=\"%.*f\"/>\n",
					  test_props[i], v == (long long)v ? 0 : 3, v);
		if (str_of(t, "outcome")) {
			sb_printf(b, "        <property name=\"outcome\" value=\"");
			xml_add(b, str_of(t, "outcome"));
			sb_printf(b, "\"/>\n");
		}
		sb_printf(b, "      </properties>\n");
	}
	if (cJSON_GetArraySize(lines)) {
		sb_printf(b, "      <failure message=\"%d finding%s of --fail-on classes\" "
			     "type=\"qhtrace\">", cJSON_GetArraySize(lines),
			  cJSON_GetArraySize(lines) == 1 ? "" : "s");
		cJSON_ArrayForEach(l, lines) {
			xml_add(b, l->valuestring);
			sb_add(b, "\n", 1);
		}
		sb_printf(b, "</failure>\n");
	}
	sb_printf(b, "    </testcase>\n");
}

/* One test case per test of the report, and one for the findings between tests. */
static void junit_tests(struct sbuf *b, const cJSON *report, const struct gate_result *r)
{
	const cJSON *tests = cJSON_GetObjectItemCaseSensitive(report, "tests"), *t;
	int n = cJSON_GetArraySize(tests) + 1, failures = 0;

	if (!cJSON_IsArray(tests) || !r->by_test)
		return;
	cJSON_ArrayForEach(t, r->by_test)
		failures++;
	sb_printf(b, "  <testsuite name=\"qhtrace: tests\" tests=\"%d\" failures=\"%d\" "
		     "errors=\"0\" skipped=\"0\">\n", n, failures);
	cJSON_ArrayForEach(t, tests) {
		const char *name = str_of(t, "name");

		if (name)
			junit_case(b, name, t,
				   *name ? cJSON_GetObjectItemCaseSensitive(r->by_test, name) : NULL);
	}
	junit_case(b, "between tests", NULL, cJSON_GetObjectItemCaseSensitive(r->by_test, ""));
	sb_printf(b, "  </testsuite>\n");
}

static bool driver_failed(const cJSON *d)
{
	double left = 0;

	num_of(d, "left_behind", &left);
	return left > 0 || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "memory_alert"));
}

/* "chromedriver #1 (pid 6693)" */
static void driver_name(struct sbuf *b, const cJSON *d)
{
	double id = 0, pid = 0;

	num_of(d, "id", &id);
	num_of(d, "pid", &pid);
	sb_printf(b, "driver #%.0f ", id);
	xml_add(b, str_of(d, "kind") ?: "?");
	sb_printf(b, " (pid %.0f)", pid);
}

/*
 * One test case per WebDriver tree: a failure when it left processes behind or crossed the
 * memory threshold, whatever --fail-on says (the tree's own verdict); its figures as
 * properties, its leftovers with what the cleanup did as the failure's text.
 */
static void junit_drivers(struct sbuf *b, const cJSON *report)
{
	const cJSON *drivers = cJSON_GetObjectItemCaseSensitive(report, "drivers"), *d, *l;
	static const char *const props[] = { "process_count", "peak_alive_count", "peak_pss_kb",
					     "peak_uss_kb", "peak_memory_kb", "left_behind",
					     NULL };
	int failures = 0, i;
	double v, id;

	if (!cJSON_GetArraySize(drivers))
		return;
	cJSON_ArrayForEach(d, drivers)
		failures += driver_failed(d);
	sb_printf(b, "  <testsuite name=\"qhtrace: WebDriver trees\" tests=\"%d\" failures=\"%d\" "
		     "errors=\"0\" skipped=\"0\">\n", cJSON_GetArraySize(drivers), failures);
	cJSON_ArrayForEach(d, drivers) {
		sb_printf(b, "    <testcase classname=\"");
		xml_add(b, str_of(d, "test") ?: "qhtrace.drivers");
		sb_printf(b, "\" name=\"");
		driver_name(b, d);
		sb_printf(b, "\" time=\"%.3f\">\n      <properties>\n",
			  num_of(d, "lifetime_s", &v) ? v : 0);
		for (i = 0; props[i]; i++)
			if (num_of(d, props[i], &v))
				sb_printf(b, "        <property name=\"%s\" value=\"%.0f\"/>\n",
					  props[i], v);
		sb_printf(b, "        <property name=\"verdict\" value=\"");
		xml_add(b, str_of(d, "verdict") ?: "?");
		sb_printf(b, "\"/>\n      </properties>\n");
		if (driver_failed(d) && num_of(d, "id", &id)) {
			struct sbuf t = {};

			sb_printf(b, "      <failure message=\"");
			xml_add(b, str_of(d, "verdict") ?: "failed");
			sb_printf(b, "\" type=\"webdriver\">");
			cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(report, "leftovers"))
				if (num_of(l, "driver", &v) && v == id) {
					describe_in(&t, report, l);
					sb_add(&t, "\n", 1);
				}
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "memory_alert")) &&
			    num_of(d, "peak_pss_kb", &v))
				sb_printf(&t, "peak PSS %.1f MiB\n", v / 1024);
			xml_add(b, t.s);
			free(t.s);
			sb_printf(b, "</failure>\n");
		}
		sb_printf(b, "    </testcase>\n");
	}
	sb_printf(b, "  </testsuite>\n");
}

char *gate__junit(const cJSON *report, const struct gate_result *r)
{
	struct sbuf b = {}, cmd = {};
	size_t failures = 0, skipped = 0;
	double dur = 0;
	char msg[200];
	int c;

	num_of(cJSON_GetObjectItemCaseSensitive(report, "run"), "duration_s", &dur);
	for (c = 0; c < GATE_NR; c++) {
		if (!r->measured[c] || (r->count[c] && !(r->fail_on & (1U << c))))
			skipped++;
		else if (r->count[c])
			failures++;
	}
	command_line(&cmd, report);
	sb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	sb_printf(&b, "<testsuites name=\"qhtrace\" tests=\"%d\" failures=\"%zu\" errors=\"0\" "
		      "skipped=\"%zu\" time=\"%.3f\">\n", GATE_NR, failures, skipped, dur);
	sb_printf(&b, "  <testsuite name=\"qhtrace: ");
	xml_add(&b, cmd.s);
	sb_printf(&b, "\" tests=\"%d\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" "
		      "time=\"%.3f\">\n", GATE_NR, failures, skipped, dur);
	for (c = 0; c < GATE_NR; c++) {
		sb_printf(&b, "    <testcase classname=\"qhtrace\" name=\"%s\" time=\"0\">",
			  class_names[c]);
		if (!r->measured[c]) {
			sb_printf(&b, "\n      <skipped message=\"not measured: the report has no "
				      "%s data\"/>\n    ", class_names[c]);
		} else if (r->count[c]) {
			bool gated = r->fail_on & (1U << c);

			snprintf(msg, sizeof(msg), "%zu %s%s", r->count[c],
				 c == GATE_LOST_EVENTS ? "events lost" : "findings",
				 gated ? "" : " (not gated: not in --fail-on)");
			sb_printf(&b, "\n      <%s message=\"", gated ? "failure" : "skipped");
			xml_add(&b, msg);
			if (gated) {
				sb_printf(&b, "\" type=\"%s\">", class_names[c]);
				xml_add(&b, r->text[c]);
				if (r->count[c] > GATE_MAX_TEXT)
					sb_printf(&b, "... %zu more in the JSON report\n",
						  r->count[c] - GATE_MAX_TEXT);
				sb_printf(&b, "</failure>\n    ");
			} else {
				sb_printf(&b, "\"/>\n      <system-out>");
				xml_add(&b, r->text[c]);
				sb_printf(&b, "</system-out>\n    ");
			}
		}
		sb_printf(&b, "</testcase>\n");
	}
	sb_printf(&b, "  </testsuite>\n");
	junit_tests(&b, report, r);
	junit_drivers(&b, report);
	sb_printf(&b, "</testsuites>\n");
	free(cmd.s);
	return sb_done(&b);
}

/* Markdown table cells: no pipes or newlines inside */
static void md_cell(struct sbuf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++) {
		if (s[i] == '|')
			sb_add(b, "\\|", 2);
		else if (s[i] == '\n')
			sb_add(b, " ", 1);
		else
			sb_add(b, &s[i], 1);
	}
}

/* The per-test table: the tests with a figure or a finding, worst first as listed. */
static void md_tests(struct sbuf *b, const cJSON *report, const struct gate_result *r)
{
	const cJSON *tests = cJSON_GetObjectItemCaseSensitive(report, "tests"), *t;
	int shown = 0, quiet = 0;
	double v;

	if (!cJSON_GetArraySize(tests))
		return;
	sb_printf(b, "\n### tests (%d)\n\n| test | outcome | RSS growth kB | heap left bytes | "
		     "fds left | processes left | browsers left | gated findings |\n"
		     "| --- | --- | --- | --- | --- | --- | --- | --- |\n",
		  cJSON_GetArraySize(tests));
	cJSON_ArrayForEach(t, tests) {
		const char *name = str_of(t, "name");
		const cJSON *g = name && r->by_test ?
				 cJSON_GetObjectItemCaseSensitive(r->by_test, name) : NULL;

		if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "findings")) &&
		    !cJSON_GetArraySize(g)) {
			quiet++;
			continue;
		}
		if (shown++ >= 50)
			continue;
		sb_printf(b, "| ");
		md_cell(b, name ? name : "?", 300);
		sb_printf(b, " | %s", str_of(t, "outcome") ?: "-");
		sb_printf(b, " | %.0f", num_of(t, "rss_growth_kb", &v) ? v : 0);
		if (num_of(t, "heap_new_bytes", &v))
			sb_printf(b, " | %.0f", v);
		else
			sb_printf(b, " | -");
		sb_printf(b, " | %.0f", num_of(t, "fds_leaked", &v) ? v : 0);
		sb_printf(b, " | %.0f", num_of(t, "leftovers", &v) ? v : 0);
		sb_printf(b, " | %.0f | %d |\n", num_of(t, "browsers_left", &v) ? v : 0,
			  cJSON_GetArraySize(g));
	}
	if (shown > 50)
		sb_printf(b, "\n%d more tests with findings in the JSON report.\n", shown - 50);
	sb_printf(b, "\n%d test%s without findings.\n", quiet, quiet == 1 ? "" : "s");
	if (r->by_test && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r->by_test, "")))
		sb_printf(b, "\nBetween tests (fixtures, collection): %d gated findings.\n",
			  cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r->by_test, "")));
}

/* The WebDriver trees: one row each, with the test, memory, verdict and cleanup */
static void md_drivers(struct sbuf *b, const cJSON *report)
{
	const cJSON *drivers = cJSON_GetObjectItemCaseSensitive(report, "drivers"), *d, *l;
	int shown = 0;
	double v, w;

	if (!cJSON_GetArraySize(drivers))
		return;
	sb_printf(b, "\n### WebDriver trees (%d)\n\n| tree | test | lifetime s | processes | "
		     "peak PSS MiB | peak RSS summed MiB | verdict | cleanup |\n"
		     "| --- | --- | --- | --- | --- | --- | --- | --- |\n",
		  cJSON_GetArraySize(drivers));
	cJSON_ArrayForEach(d, drivers) {
		size_t left = 0, gone = 0, tried = 0;
		double id = 0;

		if (shown++ >= 50)
			continue;
		num_of(d, "id", &id);
		sb_printf(b, "| ");
		md_cell(b, str_of(d, "kind") ?: "?", 64);
		sb_printf(b, " #%.0f (pid %.0f) | ", id, num_of(d, "pid", &v) ? v : 0);
		md_cell(b, str_of(d, "test") ?: "-", 300);
		sb_printf(b, " | %.2f | %.0f | ", num_of(d, "lifetime_s", &v) ? v : 0,
			  num_of(d, "process_count", &w) ? w : 0);
		if (num_of(d, "peak_pss_kb", &v))
			sb_printf(b, "%.1f", v / 1024);
		else
			sb_printf(b, "-");
		sb_printf(b, " | %.1f | %s%s%s | ", num_of(d, "peak_memory_kb", &v) ? v / 1024 : 0,
			  driver_failed(d) ? "**" : "", str_of(d, "verdict") ?: "?",
			  driver_failed(d) ? "**" : "");
		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(report, "leftovers")) {
			const cJSON *a;

			if (!num_of(l, "driver", &v) || v != id)
				continue;
			left++;
			if ((a = cleanup_of(report, l))) {
				tried++;
				gone += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "verified"));
			}
		}
		if (!left)
			sb_printf(b, "- |\n");
		else if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(report, "cleanup")))
			sb_printf(b, "not run (--cleanup) |\n");
		else
			sb_printf(b, "%zu of %zu verified gone%s |\n", gone, left,
				  tried < left ? ", some not attempted" : "");
	}
	if (shown > 50)
		sb_printf(b, "\n%d more trees in the JSON report.\n", shown - 50);
}

char *gate__markdown(const cJSON *report, const struct gate_result *r)
{
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(report, "run");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(report, "events");
	const cJSON *procs = cJSON_GetObjectItemCaseSensitive(report, "processes");
	const cJSON *log = cJSON_GetObjectItemCaseSensitive(report, "event_log");
	struct sbuf b = {}, cmd = {};
	double v = 0, w = 0;
	int c, n;

	command_line(&cmd, report);
	sb_printf(&b, "## qhtrace: %s\n\n", r->pass ? "pass" : "FAIL");
	sb_printf(&b, "`");
	md_cell(&b, cmd.s ? cmd.s : "", 300);
	sb_printf(&b, "`");
	if (num_of(run, "exit_code", &v))
		sb_printf(&b, " exited %.0f", v);
	if (num_of(run, "duration_s", &w))
		sb_printf(&b, " after %.2f s", w);
	n = cJSON_GetArraySize(procs);
	sb_printf(&b, "; %d process%s traced", n, n == 1 ? "" : "es");
	if (num_of(ev, "received", &v) && num_of(ev, "lost", &w))
		sb_printf(&b, ", %.0f events received, %.0f lost", v, w);
	sb_printf(&b, ".\n\n| class | gated | findings | result |\n| --- | --- | --- | --- |\n");
	for (c = 0; c < GATE_NR; c++) {
		bool gated = r->fail_on & (1U << c);

		sb_printf(&b, "| %s | %s | ", class_names[c], gated ? "yes" : "no");
		if (r->measured[c])
			sb_printf(&b, "%zu | %s |\n", r->count[c],
				  !r->count[c] ? "pass" : gated ? "**fail**" : "not gated");
		else
			sb_printf(&b, "- | not measured |\n");
	}
	for (c = 0; c < GATE_NR; c++) {
		const char *p, *nl;
		int shown = 0;

		if (!r->count[c])
			continue;
		sb_printf(&b, "\n### %s (%zu)\n\n", class_names[c], r->count[c]);
		for (p = r->text[c]; p && *p && shown < 20; p = nl + 1, shown++) {
			nl = strchr(p, '\n');
			if (!nl)
				break;
			sb_printf(&b, "- ");
			md_cell(&b, p, nl - p);
			sb_printf(&b, "\n");
		}
		if (r->count[c] > (size_t)shown && c != GATE_LOST_EVENTS)
			sb_printf(&b, "- ... %zu more in the JSON report\n", r->count[c] - shown);
	}
	md_drivers(&b, report);
	md_tests(&b, report, r);
	if (cJSON_IsObject(log) && num_of(log, "records", &v)) {
		double in = 0, out = 0;

		num_of(log, "bytes_in", &in);
		num_of(log, "bytes_out", &out);
		sb_printf(&b,
			  "\nEvent log: %.0f records, %.0f bytes written from %.0f (ratio %.2f).\n",
			  v, out, in, out > 0 ? in / out : 0);
	}
	free(cmd.s);
	return sb_done(&b);
}
