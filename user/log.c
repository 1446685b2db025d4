// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <stdio.h>

#include "log.h"

static int cur_level = QH_LOG_INFO;

void log__set_level(int level)
{
	cur_level = level;
}

int log__level(void)
{
	return cur_level;
}

void log__msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > cur_level)
		return;
	fputs(level == QH_LOG_WARN ? "qhtrace: warning: " : "qhtrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}
