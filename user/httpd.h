/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The metrics endpoint: a minimal HTTP/1.1 server for one event loop, no threads. It answers
 * GET (and HEAD) /metrics with what the render function writes (EXPO_CONTENT_TYPE), / with a
 * page that links to it, 404 for another path, 405 for another method, 400 for what is not an
 * HTTP/1.x request, 431 for a request head longer than HTTPD_MAX_HEAD, 413 for a body
 * announced longer than HTTPD_MAX_BODY; every response ends the connection.
 *
 * Everything is non-blocking: httpd__fd is an epoll fd of its own (the listening socket, the
 * connections and a timerfd for their deadlines) that the caller's epoll watches for EPOLLIN,
 * calling httpd__process when it fires. No client can stall the loop or hold the server: at
 * most max_conns connections (the oldest is dropped for a new one, one that has not sent its
 * request first), each closed at its deadline (timeout_ms after accept: 408 if it never sent
 * a whole request), writes kept and resumed on EPOLLOUT, no SIGPIPE (MSG_NOSIGNAL).
 *
 *	err = httpd__open(&h, "127.0.0.1:9433", render, ctx);	(the error printed)
 *	ev.data.fd = httpd__fd(h); epoll_ctl(efd, EPOLL_CTL_ADD, ev.data.fd, &ev);
 *	... when it is readable: httpd__process(h);
 *	httpd__close(h);
 */
#ifndef __QH_HTTPD_H
#define __QH_HTTPD_H

#include <stddef.h>
#include <stdint.h>

struct httpd;
struct sbuf;

#define HTTPD_MAX_CONNS 32
#define HTTPD_TIMEOUT_MS 10000	/* a connection's life: Prometheus's default scrape_timeout */
#define HTTPD_MAX_HEAD 8192	/* request line and headers, in bytes */
#define HTTPD_MAX_BODY 65536	/* a body announced longer is refused (413) */
#define HTTPD_DEFAULT_ADDR "127.0.0.1:9433"

/* The body of GET /metrics, appended to @out; 0, or -errno (the client gets a 500). */
typedef int (*httpd_render_fn)(void *ctx, struct sbuf *out);

/*
 * Listen on @addr: "HOST:PORT", "[IPv6]:PORT", ":PORT" (every address, IPv6 and IPv4), a name
 * that resolves ("localhost:9433"); port 0 picks a free one (httpd__addr tells which). 0, or
 * -errno after a one-line error that names @addr (a bad address: -EINVAL; a port in use:
 * -EADDRINUSE).
 */
int httpd__open(struct httpd **out, const char *addr, httpd_render_fn fn, void *ctx);
/* The caller's epoll watches it for EPOLLIN. */
int httpd__fd(const struct httpd *h);
/* Accept, read, answer, write and expire what can be, without blocking. */
void httpd__process(struct httpd *h);
/* The address listened on, with its port: "127.0.0.1:9433", "[::1]:40123". */
const char *httpd__addr(const struct httpd *h);
/* Bounds other than the defaults (tests); 0 keeps one. Applies to new connections. */
void httpd__limits(struct httpd *h, unsigned int max_conns, unsigned int timeout_ms);

struct httpd_stats {
	uint64_t responses[6];	/* by class: [2] 2xx, [4] 4xx, [5] 5xx */
	uint64_t dropped;	/* connections ended without a whole response: deadline, limit */
	size_t conns;		/* open now */
};
void httpd__stats(const struct httpd *h, struct httpd_stats *st);
/* Close the socket and every connection. NULL is fine. */
void httpd__close(struct httpd *h);

#endif
