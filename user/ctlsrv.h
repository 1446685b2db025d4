/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The control socket: `attach`'s (QHTRACE_SOCKET: an abstract name that only the command's user
 * and root may use) or the monitor's (a socket file, QH_MONITOR_SOCKET). Clients send request lines
 * (ctlproto.h) and get one reply line each, in order. Everything is non-blocking and driven
 * from the event loop: a client that sends garbage gets an error reply, one that sends a line
 * longer than QH_CTL_MAX_LINE or stops reading its replies is dropped, one that vanishes is
 * forgotten; none can stall tracing. A socket file (ctlsrv__open_at) is removed at close.
 */
#ifndef __QH_CTLSRV_H
#define __QH_CTLSRV_H

#include <stdint.h>
#include <sys/types.h>

struct cJSON;
struct ctl_req;
struct ctlsrv;

/* clients connected at once; more are refused (accepted and closed) */
#define QH_CTL_MAX_CLIENTS 256
/* replies a client has not read, in bytes, before it is dropped */
#define QH_CTL_MAX_PENDING (256 * 1024)

struct ctl_peer {
	pid_t pid;	/* SO_PEERCRED of the connection */
	uid_t uid;
};

/*
 * Answer @r: add the reply's fields to @reply (which holds "ok": true; the server adds "id").
 * 0, or -errno after adding "error" (the reply then says "ok": false).
 */
typedef int (*ctlsrv_fn)(void *ctx, const struct ctl_req *r, const struct ctl_peer *p,
			 struct cJSON *reply);

/*
 * Listen on a new abstract socket, "@qhtrace-PID-RANDOM" (ctlsrv__path: QHTRACE_SOCKET's value);
 * connections from other users than @uid and root are refused. 0 or -errno (printed).
 */
int ctlsrv__open(struct ctlsrv **out, uid_t uid, ctlsrv_fn fn, void *ctx);
/*
 * The same on the address @addr: "@NAME" in the abstract namespace, or a socket file made
 * with mode 0600 (the monitor's QH_MONITOR_SOCKET, in a directory of root's). A socket file
 * nothing listens on (a killed qhtrace's) is replaced; -EADDRINUSE when another server
 * listens on it, -EEXIST when the path is another kind of file. The file is removed at close.
 * 0 or -errno (printed).
 */
int ctlsrv__open_at(struct ctlsrv **out, const char *addr, uid_t uid, ctlsrv_fn fn, void *ctx);
/* The socket's path, for QHTRACE_SOCKET. */
const char *ctlsrv__path(const struct ctlsrv *s);
/* An fd for the caller's epoll (EPOLLIN): readable when ctlsrv__process has work. */
int ctlsrv__fd(const struct ctlsrv *s);
/* Accept, read, answer and write what can be without blocking. */
void ctlsrv__process(struct ctlsrv *s);
/* Requests answered, and refused (bad lines, dropped clients), so far. */
void ctlsrv__counts(const struct ctlsrv *s, uint64_t *answered, uint64_t *refused);
/* Close every connection, remove the socket and its directory. NULL is fine. */
void ctlsrv__close(struct ctlsrv *s);

#endif
