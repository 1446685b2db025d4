// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * qhtrace status: what a running qhtrace traces now (status.h), asked over its control
 * socket: the `qhtrace attach` a command runs under (QHTRACE_SOCKET), or `qhtrace monitor`.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "commands.h"
#include "ctlclient.h"
#include "ctlproto.h"
#include "log.h"
#include "opttab.h"
#include "util.h"

#define STATUS_TIMEOUT_S 5

struct status_opts {
	const char *socket;
	bool json;
	bool pretty;
	uint32_t top;
	uint32_t timeout_ms;
};

static const struct opt_spec opts[] = {
	{ "socket", 's', OPT_STR, "ADDR", .off = offsetof(struct status_opts, socket),
	  .shown = "$QHTRACE_SOCKET if set, else " QH_MONITOR_SOCKET, .cmds = 1,
	  .help = "the control socket to ask: a path, or @NAME in the abstract namespace" },
	{ "json", 'j', OPT_FLAG, .off = offsetof(struct status_opts, json), .cmds = 1,
	  .help = "print the reply as it came, one line of JSON" },
	{ "pretty", 0, OPT_FLAG, .off = offsetof(struct status_opts, pretty), .cmds = 1,
	  .help = "print the reply as indented JSON (implies --json)" },
	{ "top", 'n', OPT_U32, "N", 0, QH_CTL_TOP_MAX, .off = offsetof(struct status_opts, top),
	  .def = OPT_TEXT(QH_CTL_TOP_DEFAULT), .cmds = 1,
	  .help = "list N processes by memory (and N zombies and leftovers at most)" },
	{ "timeout", 't', OPT_MS, "S", 100, 600000,
	  .off = offsetof(struct status_opts, timeout_ms), .def = OPT_TEXT(STATUS_TIMEOUT_S),
	  .cmds = 1, .help = "give up when qhtrace has not answered in S seconds" },
	{ "help", 'h', OPT_HELP, .cmds = 1, .help = "this text" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void usage_status(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace status [--socket ADDR] [--json|--pretty] [--top N]\n"
		"\n"
		"What a running qhtrace traces now: its processes by state, the top N by memory\n"
		"(RSS by kind), the WebDriver trees and their browsers alive with their memory,\n"
		"the zombies and leftovers found so far, the events lost, and the jobs of\n"
		"`qhtrace monitor`. It asks `qhtrace monitor` (" QH_MONITOR_SOCKET ", root\n"
		"only), or, inside a `qhtrace attach` run (which exports QHTRACE_SOCKET to the\n"
		"command), that run.\n"
		"\n"
		"Options:\n");
	opttab__help(out, opts, NOPTS, 1);
	fprintf(out,
		"\n"
		"Exit status: 0 printed; %d no qhtrace is listening at the address (or another\n"
		"connection error); %d bad command line; %d permission denied (the monitor's socket\n"
		"is root's); %d no valid reply (timed out, malformed, or the request refused).\n"
		"\n"
		"Examples:\n"
		"  sudo qhtrace status\n"
		"  sudo qhtrace status --json | jq '.drivers.browsers_alive'\n"
		"  qhtrace attach -- sh -c './suite & sleep 60; qhtrace status --top 5'\n"
		"  qhtrace status --socket @qhtrace-4242-0a1b2c3d --pretty\n",
		QH_EXIT_ERROR, QH_EXIT_USAGE, QH_EXIT_DENIED, QH_EXIT_NOREPLY);
}

/* --- the human screen ------------------------------------------------------------------ */

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* @o's string @k escaped for the terminal into @buf; "-" when it is not a string */
static const char *str(const cJSON *o, const char *k, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) && v->valuestring ? util__esc(v->valuestring, buf, len) : "-";
}

static const char *bytes(double b, char *buf, size_t len)
{
	if (b >= 1024.0 * 1024 * 1024)
		snprintf(buf, len, "%.1f GiB", b / (1024.0 * 1024 * 1024));
	else if (b >= 1024.0 * 1024)
		snprintf(buf, len, "%.1f MiB", b / (1024.0 * 1024));
	else if (b >= 1024)
		snprintf(buf, len, "%.1f KiB", b / 1024);
	else
		snprintf(buf, len, "%.0f B", b);
	return buf;
}

/* "2026-11-26T23:59:01.123Z" as "11-26 23:59:01" (UTC): a monitor's processes live for days */
static const char *when(const cJSON *o, const char *k, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	const char *s = cJSON_IsString(v) ? v->valuestring : NULL;

	if (!s || strlen(s) < 19)
		return "-";
	snprintf(buf, len, "%.5s %.8s", s + 5, s + 11);
	return buf;
}

static const cJSON *arr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsArray(v) ? v : NULL;
}

static void print_screen(const cJSON *r, const char *addr)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "processes");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(r, "events");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "drivers");
	const cJSON *z = cJSON_GetObjectItemCaseSensitive(r, "zombies");
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(r, "leftovers");
	const cJSON *jobs = arr(r, "jobs"), *e, *rk;
	char b1[UTIL_ESC_LEN(64)], b2[UTIL_ESC_LEN(64)], b3[32], b4[32], b5[32], b6[32], b7[32];
	char esc[UTIL_ESC_LEN(256)];

	printf("qhtrace %s %s, pid %.0f, up %.1fs, at %s\n", str(r, "version", b1, sizeof(b1)),
	       str(r, "mode", b2, sizeof(b2)), num(r, "pid"), num(r, "uptime_s"),
	       util__esc(addr, esc, sizeof(esc)));
	printf("%-11s %.0f received, %.0f lost%s\n", "events", num(ev, "received"),
	       num(ev, "lost"), num(ev, "lost") ? " (the figures are incomplete)" : "");
	printf("%-11s %.0f alive: %.0f running, %.0f sleeping, %.0f disk sleep, %.0f stopped, "
	       "%.0f zombie\n", "processes", num(p, "alive"), num(p, "running"),
	       num(p, "sleeping"), num(p, "disk_sleep"), num(p, "stopped"), num(p, "zombie"));
	printf("%-11s %.0f now, %.0f found so far\n", "zombies", num(z, "now"), num(z, "found"));
	printf("%-11s %.0f alive, %.0f found so far\n", "leftovers", num(l, "alive"),
	       num(l, "found"));
	printf("%-11s %.0f tree%s: %.0f driver%s, %.0f browser%s, %.0f processes, %s RSS\n",
	       "webdriver", num(d, "trees"), num(d, "trees") == 1 ? "" : "s",
	       num(d, "drivers_alive"), num(d, "drivers_alive") == 1 ? "" : "s",
	       num(d, "browsers_alive"), num(d, "browsers_alive") == 1 ? "" : "s",
	       num(d, "processes_alive"), bytes(num(d, "rss_bytes"), b3, sizeof(b3)));
	cJSON_ArrayForEach(e, arr(d, "list")) {
		const cJSON *pss = cJSON_GetObjectItemCaseSensitive(e, "pss_bytes");

		printf("  #%.0f %s pid %.0f (driver %s): %.0f processes, %.0f browsers, %s RSS",
		       num(e, "id"), str(e, "kind", b1, sizeof(b1)), num(e, "pid"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "driver_alive")) ? "alive"
											  : "gone",
		       num(e, "processes_alive"), num(e, "browsers_alive"),
		       bytes(num(e, "rss_bytes"), b3, sizeof(b3)));
		if (cJSON_IsNumber(pss))
			printf(", %s PSS", bytes(pss->valuedouble, b4, sizeof(b4)));
		putchar('\n');
	}
	cJSON_ArrayForEach(e, arr(z, "list"))
		printf("  zombie %.0f %s, %.1fs, parent %.0f %s\n", num(e, "pid"),
		       str(e, "comm", b1, sizeof(b1)), num(e, "zombie_for_s"), num(e, "parent_pid"),
		       str(e, "parent_comm", b2, sizeof(b2)));
	cJSON_ArrayForEach(e, arr(l, "list"))
		printf("  leftover %.0f %s: %s\n", num(e, "pid"), str(e, "comm", b1, sizeof(b1)),
		       str(e, "reason", b2, sizeof(b2)));
	if (!cJSON_GetArraySize(jobs)) {
		printf("%-11s none\n", "jobs");
	} else {
		printf("%-11s %d\n", "jobs", cJSON_GetArraySize(jobs));
		cJSON_ArrayForEach(e, jobs)
			printf("  %s %s (%s) root %.0f, since %s: %.0f processes, %s RSS\n",
			       str(e, "kind", b1, sizeof(b1)), str(e, "id", esc, sizeof(esc)),
			       str(e, "name", b2, sizeof(b2)), num(e, "root_pid"),
			       when(e, "started", b4, sizeof(b4)), num(e, "processes_alive"),
			       bytes(num(e, "rss_bytes"), b3, sizeof(b3)));
	}
	if (!cJSON_GetArraySize(arr(r, "top")))
		return;
	printf("\n%7s  %-14s  %s  %10s  %10s  %10s  %10s  %-7s  %s\n", "PID", "STARTED (UTC)",
	       "S", "RSS", "ANON", "FILE", "SHMEM", "ROLE", "COMM");
	cJSON_ArrayForEach(e, arr(r, "top")) {
		rk = cJSON_GetObjectItemCaseSensitive(e, "rss");
		printf("%7.0f  %-14s  %s  %10s  %10s  %10s  %10s  %-7s  %s\n", num(e, "pid"),
		       when(e, "start_time", b5, sizeof(b5)), str(e, "state", b2, sizeof(b2)),
		       bytes(num(e, "rss_bytes"), b3, sizeof(b3)),
		       bytes(num(rk, "anon_bytes"), b4, sizeof(b4)),
		       bytes(num(rk, "file_bytes"), b6, sizeof(b6)),
		       bytes(num(rk, "shmem_bytes"), b7, sizeof(b7)),
		       cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "role"))
			       ? cJSON_GetObjectItemCaseSensitive(e, "role")->valuestring
			       : "-",
		       str(e, "comm", b1, sizeof(b1)));
	}
}

/* --- the exchange ------------------------------------------------------------------------ */

/* The one-line error for a failed exchange with @addr, and its exit code. */
static int conn_error(int err, const char *addr, bool from_env, double timeout_s)
{
	char esc[UTIL_ESC_LEN(128)];
	const char *a = util__esc(addr, esc, sizeof(esc));

	switch (err) {
	case -ENOENT:
	case -ECONNREFUSED:
		if (!strcmp(addr, QH_MONITOR_SOCKET))
			pr_err("status: no qhtrace monitor is listening on %s (is it running? sudo "
			       "systemctl status qhtrace-monitor)\n", a);
		else if (from_env)
			pr_err("status: no qhtrace is listening on %s (QHTRACE_SOCKET: has the "
			       "`qhtrace attach` that set it ended?)\n", a);
		else
			pr_err("status: no qhtrace is listening on %s\n", a);
		return QH_EXIT_ERROR;
	case -EACCES:
	case -EPERM:
		pr_err("status: permission denied on %s: only root may ask the monitor (run it "
		       "with sudo)\n", a);
		return QH_EXIT_DENIED;
	case -ETIMEDOUT:
		pr_err("status: qhtrace at %s did not answer within %.1f s\n", a, timeout_s);
		return QH_EXIT_NOREPLY;
	case -ECONNRESET:
		pr_err("status: qhtrace at %s closed the connection without a reply (it answers "
		       "root and the user it traces for only)\n", a);
		return QH_EXIT_NOREPLY;
	case -EMSGSIZE:
		pr_err("status: the reply from %s is longer than %d MiB\n", a,
		       QH_CTL_MAX_REPLY >> 20);
		return QH_EXIT_NOREPLY;
	default:
		pr_err("status: cannot reach qhtrace at %s: %s\n", a, strerror(-err));
		return QH_EXIT_ERROR;
	}
}

/* What makes a reply a status: "ok" true and the sections the screen shows. */
static const char *malformed(const cJSON *r)
{
	static const char *const objs[] = { "processes", "events", "drivers", "zombies",
					    "leftovers" };
	size_t i;

	if (!cJSON_IsObject(r))
		return "not a JSON object";
	if (!cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r, "ok")))
		return "no \"ok\"";
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "ok")))
		return NULL;
	for (i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
		if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r, objs[i])))
			return "a section is missing (processes, events, drivers, zombies, "
			       "leftovers)";
	if (!arr(r, "top") || !arr(r, "jobs"))
		return "\"top\" or \"jobs\" is missing";
	return NULL;
}

int cmd_status(int argc, char **argv)
{
	static const struct opt_cmd cmd = { "status", 1, false, usage_status };
	struct status_opts o = {};
	const char *env = getenv("QHTRACE_SOCKET"), *addr, *why;
	char line[96], *reply = NULL, *text;
	char esc[UTIL_ESC_LEN(128)];
	cJSON *rep;
	int err, code;

	if (opttab__defaults(opts, NOPTS, &o))
		return QH_EXIT_USAGE;
	err = opttab__parse_argv(opts, NOPTS, &cmd, argc, argv, &o);
	if (err)
		return err > 0 ? 0 : QH_EXIT_USAGE;
	if (optind < argc) {
		pr_err("status: unexpected argument '%s' -- see 'qhtrace status --help'\n",
		       argv[optind]);
		return QH_EXIT_USAGE;
	}
	addr = o.socket ? o.socket : env && *env ? env : QH_MONITOR_SOCKET;
	if (!*addr) {
		pr_err("status: --socket needs an address -- see 'qhtrace status --help'\n");
		return QH_EXIT_USAGE;
	}
	snprintf(line, sizeof(line), "{\"op\":\"status\",\"top\":%u}\n", o.top);
	err = ctlclient__request(addr, line, o.timeout_ms, &reply);
	if (err == -EINVAL || err == -ENAMETOOLONG) {
		pr_err("status: '%s' is not a socket address: %s\n",
		       util__esc(addr, esc, sizeof(esc)), strerror(-err));
		return QH_EXIT_USAGE;
	}
	if (err)
		return conn_error(err, addr, !o.socket && env && *env, o.timeout_ms / 1000.0);
	rep = cJSON_Parse(reply);
	why = rep ? malformed(rep) : "not JSON";
	code = QH_EXIT_NOREPLY;
	if (why) {
		pr_err("status: malformed reply from %s: %s\n", util__esc(addr, esc, sizeof(esc)),
		       why);
	} else if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "ok"))) {
		char e[UTIL_ESC_LEN(160)];

		pr_err("status: qhtrace refused the request: %s\n",
		       str(rep, "error", e, sizeof(e)));
	} else if (o.json || o.pretty) {
		/* printed again by cJSON: what reaches the terminal is escaped JSON whatever came */
		text = o.pretty ? cJSON_Print(rep) : cJSON_PrintUnformatted(rep);
		if (text) {
			puts(text);
			code = 0;
		}
		cJSON_free(text);
	} else {
		print_screen(rep, addr);
		code = 0;
	}
	cJSON_Delete(rep);
	free(reply);
	if (!code && (fflush(stdout) || ferror(stdout))) {
		pr_err("status: failed to write the output: %s\n", strerror(errno));
		code = QH_EXIT_ERROR;
	}
	return code;
}
