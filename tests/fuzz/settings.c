// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The settings parser (--config FILE): any bytes, through config__load as a file is read. */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	struct qh_settings s;
	char path[64], why[512];
	int fd;

	if (!init) {
		fuzz__quiet();
		init = true;
	}
	config__defaults(&s);
	fd = fuzz__file(data, size, path, sizeof(path));
	/* a memfd is a regular file: the size check and the NUL check run as for a real one */
	if (!config__load(path, &s, why, sizeof(why)))
		config__print(stdout, &s);
	close(fd);
	return 0;
}
