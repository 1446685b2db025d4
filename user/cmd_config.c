// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* qhtrace config --check FILE | --print-defaults: the settings file of config.h. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "config.h"
#include "log.h"

static void usage_config(FILE *out)
{
	fprintf(out,
		"Usage: qhtrace config --check FILE | --print-defaults\n"
		"\n"
		"  --check FILE       check a settings file: 'FILE: ok', or one line naming the\n"
		"                     key and what it allows (exit %d)\n"
		"  --print-defaults   the settings file with every key at its default\n"
		"\n"
		"Examples:\n"
		"  qhtrace config --print-defaults > qhtrace.json\n"
		"  qhtrace config --check qhtrace.json\n",
		QH_EXIT_USAGE);
}

int cmd_config(int argc, char **argv)
{
	struct qh_settings s;
	char why[512];

	config__defaults(&s);
	if (argc == 2 && !strcmp(argv[1], "--print-defaults")) {
		config__print(stdout, &s);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "--check")) {
		if (config__load(argv[2], &s, why, sizeof(why))) {
			pr_err("config %s: %s\n", argv[2], why);
			return QH_EXIT_USAGE;
		}
		printf("%s: ok\n", argv[2]);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage_config(stdout);
		return 0;
	}
	usage_config(stderr);
	return QH_EXIT_USAGE;
}
