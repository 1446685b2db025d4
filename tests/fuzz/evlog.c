// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The event log reader: any bytes (plain or gzip, recognised by content) line by line, then
 * paged with and without a filter, as `qhtrace report` pages a log.
 */
#include <cjson/cJSON.h>

#include "evread.h"
#include "fuzz.h"
#include "reportpage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct row_filter any = { .severity = -1 }, f = { .severity = -1 };
	static bool init;
	struct evread *r;
	const char *line;
	char path[64], why[256];
	size_t len;
	cJSON *o;
	int fd;

	if (!init) {
		fuzz__quiet();
		init = true;
	}
	fd = fuzz__file(data, size, path, sizeof(path));
	if (!evread__open(&r, path)) {
		while (evread__next(r, &line, &len) > 0)
			;
		evread__close(r);
	}
	report__page(path, &any, 2, 3, &o, why, sizeof(why));
	cJSON_Delete(o);
	if (row_filter__parse(&f, "kind=exit,severity>=low,comm=a", why, sizeof(why)))
		abort();
	report__page(path, &f, 1, 5, &o, why, sizeof(why));
	cJSON_Delete(o);
	close(fd);
	return 0;
}
