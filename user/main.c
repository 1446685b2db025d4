// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* qhtrace: an eBPF tracer for test runs and CI nodes. */
#include <stdio.h>
#include <string.h>

#include "attach.h"
#include "leaks.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "reportcmd.h"

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		cli__usage(stderr);
		return QH_EXIT_USAGE;
	}
	if (!strcmp(cmd, "attach"))
		return cmd_attach(argc - 1, argv + 1);
	if (!strcmp(cmd, "leaks"))
		return cmd_leaks(argc - 1, argv + 1);
	if (!strcmp(cmd, "fds"))
		return cmd_fds(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "diff"))
		return cmd_diff(argc - 1, argv + 1);
	if (!strcmp(cmd, "config"))
		return cmd_config(argc - 1, argv + 1);
	if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		cli__usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("qhtrace %s\n", QH_VERSION);
		return 0;
	}
	pr_err("unknown command '%s' -- see 'qhtrace help'\n", cmd);
	return QH_EXIT_USAGE;
}
