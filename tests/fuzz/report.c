// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `qhtrace report FILE` whole: the reader of summary reports and event logs, and the table
 * printer (and the JSON page), on any bytes.
 */
#include <getopt.h>

#include "commands.h"
#include "fuzz.h"

static void run(char *a, char *b, char *c, char *d, char *e)
{
	char *argv[] = { "report", a, b, c, d, e, NULL };
	int argc = 0;

	while (argv[argc])
		argc++;
	optind = 0;
	cmd_report(argc, argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	char path[64];
	int fd;

	if (!init) {
		fuzz__quiet();
		init = true;
	}
	fd = fuzz__file(data, size, path, sizeof(path));
	run(path, NULL, NULL, NULL, NULL);
	run("--json", "--page-size", "2", path, NULL);
	run("--filter", "severity>=medium", path, NULL, NULL);
	close(fd);
	return 0;
}
