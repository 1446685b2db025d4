// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * `qhtrace diff BASE CURRENT` whole: the input is two reports split at the first NUL byte (no
 * NUL: the same text twice), compared with and without a gate, as a table and as JSON.
 */
#include <getopt.h>

#include "commands.h"
#include "fuzz.h"

static void run(char *a, char *b, char *c, char *d, char *e)
{
	char *argv[] = { "diff", a, b, c, d, e, NULL };
	int argc = 0;

	while (argv[argc])
		argc++;
	optind = 0;
	cmd_diff(argc, argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t n = nul ? (size_t)(nul - data) : size;
	char base[64], cur[64];
	static bool init;
	int fb, fc;

	if (!init) {
		fuzz__quiet();
		init = true;
	}
	fb = fuzz__file(data, n, base, sizeof(base));
	fc = nul ? fuzz__file(nul + 1, size - n - 1, cur, sizeof(cur)) :
		   fuzz__file(data, size, cur, sizeof(cur));
	run(base, cur, NULL, NULL, NULL);
	run("--max-growth-pct", "10", base, cur, NULL);
	run("--json", "--max-growth-pct", "0", cur, base);
	close(fb);
	close(fc);
	return 0;
}
