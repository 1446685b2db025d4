/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The one logging helper: diagnostics to stderr, "qhtrace: " prefixed; stdout is data only. */
#ifndef __QH_LOG_H
#define __QH_LOG_H

#include <stdarg.h>

enum qh_log_level {
	QH_LOG_ERR = 0,
	QH_LOG_WARN,
	QH_LOG_INFO,
	QH_LOG_DEBUG,
};

void log__set_level(int level);
int log__level(void);
void log__msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_err(...) log__msg(QH_LOG_ERR, __VA_ARGS__)
#define pr_warn(...) log__msg(QH_LOG_WARN, __VA_ARGS__)
#define pr_info(...) log__msg(QH_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log__msg(QH_LOG_DEBUG, __VA_ARGS__)

#endif
