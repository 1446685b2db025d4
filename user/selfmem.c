// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "selfmem.h"

int selfmem__parse_statm(const char *text, uint64_t page_size, uint64_t *rss_bytes)
{
	uint64_t size, resident;
	int end = 0;

	if (sscanf(text, "%" SCNu64 " %" SCNu64 "%n", &size, &resident, &end) != 2 || !end ||
	    resident > size || resident > UINT64_MAX / page_size)
		return -EINVAL;
	*rss_bytes = resident * page_size;
	return 0;
}

uint64_t selfmem__rss_bytes(void)
{
	char buf[128];
	uint64_t rss;
	ssize_t n;
	int fd;

	/* statm, not status: a short line of numbers, no text to search */
	fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return selfmem__parse_statm(buf, sysconf(_SC_PAGESIZE), &rss) ? 0 : rss;
}
