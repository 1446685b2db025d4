/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The control socket of `attach` (QHTRACE_SOCKET): a Unix stream socket in a directory of its
 * own that only the command's user (and root) can enter. Clients send request lines
 * (ctlproto.h) and get one reply line each, in order. Everything is non-blocking and driven
 * from the event loop: a client that sends garbage gets an error reply, one that sends a line
 * longer than QH_CTL_MAX_LINE or stops reading its replies is dropped, one that vanishes is
 * forgotten; none can stall tracing. The socket and its directory are removed at close.
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
