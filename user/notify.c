// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Through libsystemd's sd_notify (qhtrace links its libraries dynamically, and libsystemd0 is
 * on every systemd machine): it handles what the protocol has grown (abstract and vsock
 * addresses, credentials, NOTIFY_SOCKET of a container) better than a copy would.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <systemd/sd-daemon.h>

#include "notify.h"
#include "util.h"

/* sd_notify's > 0 (sent) and 0 (no NOTIFY_SOCKET) are both fine */
static int sent(int r)
{
	return r < 0 ? r : 0;
}

int notify__ready(void)
{
	return sent(sd_notify(0, "READY=1"));
}

int notify__reloading(void)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)(util__now_ns(CLOCK_MONOTONIC) / 1000));
	return sent(sd_notify(0, msg));
}

int notify__stopping(void)
{
	return sent(sd_notify(0, "STOPPING=1"));
}

int notify__status(const char *fmt, ...)
{
	char msg[512] = "STATUS=";
	va_list ap;
	char *c;

	if (!getenv("NOTIFY_SOCKET"))
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg + 7, sizeof(msg) - 7, fmt, ap);
	va_end(ap);
	/* one field: a newline would start another (a forged READY=1, say) */
	for (c = msg; (c = strchr(c, '\n'));)
		*c = ' ';
	return sent(sd_notify(0, msg));
}

int notify__watchdog(void)
{
	return sent(sd_notify(0, "WATCHDOG=1"));
}

uint64_t notify__watchdog_usec(void)
{
	uint64_t usec = 0;

	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}
