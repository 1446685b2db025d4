/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * systemd's service notifications (sd_notify(3)), for `qhtrace monitor` under its Type=notify
 * unit (tools/qhtrace-monitor.service): ready once tracing is up, reloading and ready again
 * around SIGHUP's reload, stopping at SIGTERM, a status line, and the watchdog's keep-alive.
 * Each is a no-op returning 0 when NOTIFY_SOCKET is not set (not started by systemd).
 * 0 when sent or not asked for, or -errno: the caller warns, a service goes on.
 */
#ifndef __QH_NOTIFY_H
#define __QH_NOTIFY_H

#include <stdint.h>

/* Tracing is up: systemd's start job ends (`systemctl start` returns). */
int notify__ready(void);
/*
 * A reload has begun (SIGHUP): RELOADING=1 with MONOTONIC_USEC, the time it began, which
 * systemd 253 and later want with it (Type=notify-reload). Send notify__ready() when done.
 */
int notify__reloading(void);
/* Shutting down (SIGTERM): draining and writing what is pending. */
int notify__stopping(void);
/* One line for `systemctl status` (STATUS=...); newlines become spaces. */
int notify__status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The watchdog's keep-alive (WATCHDOG=1). Only when notify__watchdog_usec() is non-zero, at
 * least twice per that interval, from the event loop (a stuck loop must miss it).
 */
int notify__watchdog(void);
/* WatchdogSec= of the unit in µs when it applies to this process, else 0. */
uint64_t notify__watchdog_usec(void);

#endif
