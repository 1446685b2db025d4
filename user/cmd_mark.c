// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * qhtrace mark: a section of a shell-driven suite (begin/end), or the traced tree's figures
 * (stats, snapshot), over the control socket of the `qhtrace attach` it runs under.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "cli.h"
#include "commands.h"
#include "ctlclient.h"
#include "ctlproto.h"
#include "log.h"
#include "opttab.h"

struct mark_opts {
	uint32_t pid;
	const char *outcome;
	bool fixture;
};

static const struct opt_spec opts[] = {
	{ "pid", 'p', OPT_U32, "PID", 1, 4194304, .off = offsetof(struct mark_opts, pid),
	  .shown = "the shell that runs qhtrace mark (its parent)", .cmds = 1,
	  .help = "whose section it is: what this process and those it starts during the "
		  "section do is the section's" },
	{ "outcome", 0, OPT_STR, "O", .off = offsetof(struct mark_opts, outcome), .cmds = 1,
	  .help = "end: how the test went (passed, failed, skipped, error), for the report and "
		  "JUnit" },
	{ "fixture", 0, OPT_FLAG, .off = offsetof(struct mark_opts, fixture), .cmds = 1,
	  .help = "begin: a setup shared by tests, not a test: what it starts is \"between "
		  "tests\"" },
	{ "help", 'h', OPT_HELP, .cmds = 1, .help = "this text" },
};

static void usage_mark(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace mark begin|end NAME [OPTIONS]\n"
		"       qhtrace mark stats | snapshot NAME\n"
		"\n"
		"Under `qhtrace attach` (which exports QHTRACE_SOCKET to the command), mark a test\n"
		"of a shell-driven suite: what the calling shell and the processes it starts do\n"
		"between begin and end (heap, fds, processes and browsers left behind) is that\n"
		"test's, in the report, the JUnit file and the gate. stats prints the traced tree's\n"
		"figures now as JSON (drivers and browsers alive, zombies, leftovers, open fds,\n"
		"heap outstanding); snapshot does the same and keeps them in the report.\n"
		"Without QHTRACE_SOCKET, begin and end do nothing (exit 0), so a suite runs the same\n"
		"without qhtrace.\n"
		"\n"
		"Options:\n");
	opttab__help(out, opts, sizeof(opts) / sizeof(opts[0]), 1);
	fprintf(out,
		"\n"
		"Exit status: 0; %d if qhtrace could not be reached or refused the request (the\n"
		"reason is printed); %d for a bad command line.\n"
		"\n"
		"Examples:\n"
		"  qhtrace mark begin login-test && ./login-test; qhtrace mark end login-test\n"
		"  qhtrace mark end login-test --outcome failed\n"
		"  qhtrace mark stats | jq .drivers_active\n",
		QH_EXIT_ERROR, QH_EXIT_USAGE);
}

int cmd_mark(int argc, char **argv)
{
	static const struct opt_cmd cmd = { "mark", 1, false, usage_mark };
	const char *sock = getenv("QHTRACE_SOCKET"), *what;
	struct mark_opts m = {};
	char *reply = NULL, *line;
	cJSON *req, *rep, *ok, *e;
	int err, code = QH_EXIT_ERROR;

	err = opttab__parse_argv(opts, sizeof(opts) / sizeof(opts[0]), &cmd, argc, argv, &m);
	if (err)
		return err > 0 ? 0 : QH_EXIT_USAGE;
	what = optind < argc ? argv[optind] : NULL;
	if (!what || (strcmp(what, "begin") && strcmp(what, "end") && strcmp(what, "stats") &&
		      strcmp(what, "snapshot"))) {
		pr_err("mark: give begin, end, stats or snapshot -- see 'qhtrace mark --help'\n");
		return QH_EXIT_USAGE;
	}
	if (strcmp(what, "stats") && argc - optind != 2) {
		pr_err("mark %s: give one NAME -- see 'qhtrace mark --help'\n", what);
		return QH_EXIT_USAGE;
	}
	if (!sock || !*sock) {
		if (!strcmp(what, "begin") || !strcmp(what, "end"))
			return 0;
		pr_err("mark %s: QHTRACE_SOCKET is not set: run it under `qhtrace attach`\n", what);
		return QH_EXIT_ERROR;
	}
	req = cJSON_CreateObject();
	if (!req)
		return QH_EXIT_ERROR;
	if (!strcmp(what, "begin") || !strcmp(what, "end")) {
		cJSON_AddStringToObject(req, "op", "mark");
		cJSON_AddStringToObject(req, "event", what);
		cJSON_AddNumberToObject(req, "pid", m.pid ? m.pid : (uint32_t)getppid());
		if (m.outcome)
			cJSON_AddStringToObject(req, "outcome", m.outcome);
		if (m.fixture)
			cJSON_AddStringToObject(req, "kind", "fixture");
	} else {
		cJSON_AddStringToObject(req, "op", what);
	}
	if (optind + 1 < argc)
		cJSON_AddStringToObject(req, "name", argv[optind + 1]);
	line = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!line)
		return QH_EXIT_ERROR;
	/* one line: the JSON text has no raw newline (cJSON escapes those in strings) */
	{
		size_t n = strlen(line);
		char *l = realloc(line, n + 2);

		if (!l) {
			free(line);
			return QH_EXIT_ERROR;
		}
		line = l;
		line[n] = '\n';
		line[n + 1] = '\0';
	}
	/* no time limit: the end of a test waits for its fds and heap blocks to be read */
	err = ctlclient__request(sock, line, 0, &reply);
	free(line);
	if (err) {
		pr_err("mark: cannot reach qhtrace at %s: %s\n", sock, strerror(-err));
		return QH_EXIT_ERROR;
	}
	rep = cJSON_Parse(reply);
	ok = cJSON_GetObjectItemCaseSensitive(rep, "ok");
	e = cJSON_GetObjectItemCaseSensitive(rep, "error");
	if (cJSON_IsTrue(ok)) {
		code = 0;
		if (!strcmp(what, "stats") || !strcmp(what, "snapshot"))
			puts(reply);
	} else {
		pr_err("mark %s: %s\n", what,
		       cJSON_IsString(e) ? e->valuestring : "qhtrace gave no valid reply");
	}
	cJSON_Delete(rep);
	free(reply);
	return code;
}
