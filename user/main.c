// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* qhtrace: an eBPF tracer for test runs and CI nodes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "log.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct cmd cmds[] = {
#define QH_CMD_ROW(name, args, summary) { #name, cmd_##name },
	QH_COMMANDS(QH_CMD_ROW)
#undef QH_CMD_ROW
	/* the spellings of help and version every tool accepts (not listed in the help) */
	{ "-h", cmd_help },
	{ "--help", cmd_help },
	{ "-V", cmd_version },
	{ "--version", cmd_version },
};

/* `qhtrace help COMMAND` is `qhtrace COMMAND --help` */
int cmd_help(int argc, char **argv)
{
	static char help_opt[] = "--help";
	size_t i;

	if (argc < 2) {
		cli__usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char *sub[] = { argv[1], help_opt, NULL };

		if (strcmp(argv[1], cmds[i].name) || argv[1][0] == '-' ||
		    cmds[i].fn == cmd_help || cmds[i].fn == cmd_version)
			continue;
		return cmds[i].fn(2, sub);
	}
	pr_err("unknown command '%s' -- see 'qhtrace help'\n", argv[1]);
	return QH_EXIT_USAGE;
}

int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("qhtrace %s\n", QH_VERSION);
	return 0;
}

/* the command named by argv[0], whole names only (no prefixes: `qhtrace att` is an error) */
static int cmd_select(int argc, char **argv)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[0], cmds[i].name))
			return cmds[i].fn(argc, argv);
	pr_err("unknown command '%s' -- see 'qhtrace help'\n", argv[0]);
	return QH_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli__usage(stderr);
		return QH_EXIT_USAGE;
	}
	return cmd_select(argc - 1, argv + 1);
}
