/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the libFuzzer harnesses share: the input as a file (the readers take paths), stdout to
 * /dev/null (the tables are printed, not looked at), qhtrace's own messages silenced.
 */
#ifndef __QH_FUZZ_H
#define __QH_FUZZ_H

#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz__quiet(void)
{
	int fd = open("/dev/null", O_WRONLY);

	if (fd >= 0) {
		dup2(fd, 1);
		close(fd);
	}
	log__set_level(-1);
}

/* @data in a memfd, its path ("/proc/self/fd/N") in @path: the fd, to close after. */
static inline int fuzz__file(const uint8_t *data, size_t size, char *path, size_t len)
{
	int fd = memfd_create("qh-fuzz", MFD_CLOEXEC);

	if (fd < 0)
		abort();
	if (size && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
