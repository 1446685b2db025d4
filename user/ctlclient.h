/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The client side of the control socket (ctlproto.h): one request line out, one reply line
 * back, for `qhtrace mark` and `qhtrace status`.
 */
#ifndef __QH_CTLCLIENT_H
#define __QH_CTLCLIENT_H

/*
 * The socket of `qhtrace monitor` (systemd's RuntimeDirectory=qhtrace, mode 0700: root only):
 * where `qhtrace status` asks when QHTRACE_SOCKET is not set.
 */
#define QH_MONITOR_SOCKET "/run/qhtrace/monitor.sock"

/* a reply longer than this is refused (-EMSGSIZE): no server of ours writes one */
#define QH_CTL_MAX_REPLY (16 * 1024 * 1024)

/*
 * Send @line (one request, newline included) to the control socket @addr ("@NAME": NAME in
 * the abstract namespace, else a path) and read one reply line into *@reply (malloc'd,
 * NUL-terminated, newline removed; the caller frees it). With @timeout_ms, the whole exchange
 * waits at most that long (0: as long as it takes). 0, or -errno: connect's own (-ENOENT,
 * -ECONNREFUSED, -EACCES, ...), -ETIMEDOUT, -ECONNRESET when the server closed without a
 * whole reply line (or before it read the request), -EMSGSIZE for a reply over
 * QH_CTL_MAX_REPLY.
 */
int ctlclient__request(const char *addr, const char *line, unsigned int timeout_ms, char **reply);

#endif
