// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "expo.h"
#include "httpd.h"
#include "log.h"
#include "sbuf.h"
#include "util.h"
#include "vec.h"

struct hconn {
	int fd;
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC */
	char in[HTTPD_MAX_HEAD];	/* the request head, as it arrives */
	size_t nin;
	bool answered;			/* a response is in out (the request is not read further) */
	struct sbuf out;		/* the response */
	size_t off;			/* of which written */
	bool want_out;			/* EPOLLOUT asked for */
};

struct httpd {
	int lfd, efd, tfd;
	httpd_render_fn fn;
	void *ctx;
	char addr[INET6_ADDRSTRLEN + 16];
	struct hconn **conns;		/* in order of accept: the first is the oldest */
	size_t nconns, cap;
	unsigned int max_conns, timeout_ms;
	uint64_t armed_ns;		/* the timerfd's deadline, 0: disarmed */
	struct sbuf body;		/* the render's, kept between requests */
	struct httpd_stats st;
};

/* epoll's data.ptr for the two fds that are no connection */
static char listen_tag, timer_tag;

static const char index_page[] =
	"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>qhtrace</title></head>\n"
	"<body><h1>qhtrace monitor</h1>\n<p><a href=\"/metrics\">Metrics</a> (Prometheus text "
	"format 0.0.4)</p>\n</body></html>\n";

static void drop(struct httpd *h, struct hconn *c, bool complete)
{
	size_t i;

	for (i = 0; i < h->nconns && h->conns[i] != c; i++)
		;
	if (i < h->nconns) {
		memmove(&h->conns[i], &h->conns[i + 1], (h->nconns - i - 1) * sizeof(*h->conns));
		h->nconns--;
	}
	if (!complete)
		h->st.dropped++;
	epoll_ctl(h->efd, EPOLL_CTL_DEL, c->fd, NULL);
	if (complete) {
		char junk[4096];
		int k;

		/*
		 * What the client sent past its request head (a body) is read first: closing
		 * with unread data sends a reset, which may destroy the response in flight.
		 */
		shutdown(c->fd, SHUT_WR);
		for (k = 0; k < 16 && recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT) > 0; k++)
			;
	}
	close(c->fd);
	sbuf__free(&c->out);
	free(c);
}

static bool alive(const struct httpd *h, const struct hconn *c)
{
	size_t i;

	for (i = 0; i < h->nconns; i++)
		if (h->conns[i] == c)
			return true;
	return false;
}

/* --- the address ------------------------------------------------------------------------- */

static const char *hint(int err)
{
	switch (err) {
	case EADDRINUSE:
		return " -- the port is in use: another qhtrace monitor, or another exporter?";
	case EADDRNOTAVAIL:
		return " -- no interface of this machine has that address";
	case EACCES:
		return " -- a port below 1024 needs CAP_NET_BIND_SERVICE";
	default:
		return "";
	}
}

static int listen_on(struct httpd *h, const struct addrinfo *ai)
{
	int one = 1, zero = 0;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* ":PORT" binds ::, which then takes IPv4 too */
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		int err = -errno;

		close(fd);
		return err;
	}
	h->lfd = fd;
	return 0;
}

static void name_addr(struct httpd *h)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];

	if (getsockname(h->lfd, (struct sockaddr *)&ss, &len))
		return;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(h->addr, sizeof(h->addr), "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(h->addr, sizeof(h->addr), "%s:%u", ip, ntohs(a->sin_port));
	}
}

/* "HOST:PORT", "[V6]:PORT", ":PORT": the host ("" for every address) and the port */
static int split_addr(const char *addr, char *host, size_t hlen, char *port, size_t plen,
		      const char **why)
{
	const char *colon, *end;
	uint64_t p;

	if (!addr || !*addr) {
		*why = "empty (expected HOST:PORT, [IPv6]:PORT or :PORT)";
		return -EINVAL;
	}
	if (addr[0] == '[') {
		end = strchr(addr, ']');
		if (!end || end[1] != ':') {
			*why = "expected [IPv6]:PORT";
			return -EINVAL;
		}
		colon = end + 1;
		addr++;
	} else {
		colon = strrchr(addr, ':');
		if (!colon) {
			*why = "no port (expected HOST:PORT, [IPv6]:PORT or :PORT)";
			return -EINVAL;
		}
		if (memchr(addr, ':', colon - addr)) {
			*why = "an IPv6 address goes in brackets: [::1]:9433";
			return -EINVAL;
		}
		end = colon;
	}
	if ((size_t)(end - addr) >= hlen) {
		*why = "host name too long";
		return -EINVAL;
	}
	memcpy(host, addr, end - addr);
	host[end - addr] = '\0';
	if (util__parse_u64(colon + 1, 0, 65535, &p)) {
		*why = "the port is not a number in 0-65535";
		return -EINVAL;
	}
	snprintf(port, plen, "%u", (unsigned int)p);
	return 0;
}

static int bind_addr(struct httpd *h, const char *addr)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL, *ai;
	char host[256], port[8];
	const char *why = NULL;
	int err, gai;

	err = split_addr(addr, host, sizeof(host), port, sizeof(port), &why);
	if (err) {
		pr_err("metrics address '%s': %s\n", addr ? addr : "", why);
		return err;
	}
	if (!*host) {
		/* every address: IPv6's any, which takes IPv4 too; IPv4's without IPv6 */
		hints.ai_flags |= AI_PASSIVE;
		hints.ai_family = AF_INET6;
		gai = getaddrinfo(NULL, port, &hints, &res);
		if (!gai) {
			err = listen_on(h, res);
			freeaddrinfo(res);
			res = NULL;
			if (err != -EAFNOSUPPORT)
				goto done;
		}
		hints.ai_family = AF_INET;
		gai = getaddrinfo(NULL, port, &hints, &res);
	} else {
		gai = getaddrinfo(host, port, &hints, &res);
	}
	if (gai) {
		pr_err("metrics address '%s': %s\n", addr,
		       gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
		return -EINVAL;
	}
	/* the first address of the name that can be bound (localhost: ::1 or 127.0.0.1) */
	for (err = -EADDRNOTAVAIL, ai = res; ai; ai = ai->ai_next) {
		int e = listen_on(h, ai);

		if (!e) {
			err = 0;
			break;
		}
		if (ai == res || e == -EADDRINUSE)
			err = e;
	}
	freeaddrinfo(res);
done:
	if (err)
		pr_err("metrics address '%s': %s%s\n", addr, strerror(-err), hint(-err));
	return err;
}

int httpd__open(struct httpd **out, const char *addr, httpd_render_fn fn, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct httpd *h = calloc(1, sizeof(*h));
	int err;

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->lfd = h->efd = h->tfd = -1;
	h->fn = fn;
	h->ctx = ctx;
	h->max_conns = HTTPD_MAX_CONNS;
	h->timeout_ms = HTTPD_TIMEOUT_MS;
	err = bind_addr(h, addr);
	if (err)
		goto fail;
	name_addr(h);
	h->efd = epoll_create1(EPOLL_CLOEXEC);
	h->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (h->efd < 0 || h->tfd < 0) {
		err = -errno;
		pr_err("metrics server: %s\n", strerror(-err));
		goto fail;
	}
	ev.data.ptr = &listen_tag;
	if (epoll_ctl(h->efd, EPOLL_CTL_ADD, h->lfd, &ev))
		goto fail_errno;
	ev.data.ptr = &timer_tag;
	if (epoll_ctl(h->efd, EPOLL_CTL_ADD, h->tfd, &ev))
		goto fail_errno;
	*out = h;
	return 0;
fail_errno:
	err = -errno;
	pr_err("metrics server: %s\n", strerror(-err));
fail:
	httpd__close(h);
	return err;
}

int httpd__fd(const struct httpd *h)
{
	return h->efd;
}

const char *httpd__addr(const struct httpd *h)
{
	return h->addr;
}

void httpd__limits(struct httpd *h, unsigned int max_conns, unsigned int timeout_ms)
{
	if (max_conns)
		h->max_conns = max_conns;
	if (timeout_ms)
		h->timeout_ms = timeout_ms;
}

void httpd__stats(const struct httpd *h, struct httpd_stats *st)
{
	*st = h->st;
	st->conns = h->nconns;
}

/* --- responses --------------------------------------------------------------------------- */

static void want_out(struct httpd *h, struct hconn *c, bool on)
{
	/* once answered, the request is not read further: only EPOLLOUT matters */
	struct epoll_event ev = { .events = on ? EPOLLOUT : (c->answered ? 0 : EPOLLIN),
				  .data.ptr = c };

	if (c->want_out != on && !epoll_ctl(h->efd, EPOLL_CTL_MOD, c->fd, &ev))
		c->want_out = on;
}

/* Write what is pending; the connection is closed when all is written, or on an error. */
static void flush(struct httpd *h, struct hconn *c)
{
	while (c->off < c->out.n) {
		ssize_t n = send(c->fd, c->out.s + c->off, c->out.n - c->off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			want_out(h, c, true);
			return;
		}
		if (n <= 0) {
			drop(h, c, false);
			return;
		}
		c->off += n;
	}
	drop(h, c, true);
}

static void respond(struct httpd *h, struct hconn *c, int code, const char *reason,
		    const char *type, const char *extra, const char *body, size_t len, bool head)
{
	c->answered = true;
	sbuf__reset(&c->out);
	sbuf__printf(&c->out,
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\nX-Content-Type-Options: nosniff\r\n%s\r\n",
		     code, reason, type, len, extra ? extra : "");
	if (!head)
		sbuf__put(&c->out, body, len);
	if (c->out.err) {
		drop(h, c, false);
		return;
	}
	h->st.responses[code / 100 < 6 ? code / 100 : 0]++;
	flush(h, c);
}

static void respond_text(struct httpd *h, struct hconn *c, int code, const char *reason,
			 const char *extra)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%d %s\n", code, reason);

	respond(h, c, code, reason, "text/plain; charset=utf-8", extra, body, n, false);
}

static void serve(struct httpd *h, struct hconn *c, const char *method, const char *path)
{
	bool head = !strcmp(method, "HEAD");
	int err;

	if (strcmp(method, "GET") && !head) {
		respond_text(h, c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	if (!strcmp(path, "/")) {
		respond(h, c, 200, "OK", "text/html; charset=utf-8", NULL, index_page,
			sizeof(index_page) - 1, head);
		return;
	}
	if (strcmp(path, "/metrics")) {
		respond_text(h, c, 404, "Not Found", NULL);
		return;
	}
	sbuf__reset(&h->body);
	err = h->fn(h->ctx, &h->body);
	if (!err && h->body.err)
		err = h->body.err;
	if (err) {
		pr_warn("metrics: cannot render: %s\n", strerror(-err));
		respond_text(h, c, 500, "Internal Server Error", NULL);
		return;
	}
	respond(h, c, 200, "OK", EXPO_CONTENT_TYPE, NULL, h->body.s ? h->body.s : "", h->body.n,
		head);
}

/* --- requests ---------------------------------------------------------------------------- */

static bool is_tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", ch);
}

/*
 * A whole request head in c->in[0..len) (its blank line excluded): answer it. The request
 * line is METHOD SP TARGET SP HTTP/1.x; each header NAME: VALUE. A bare LF ends a line as
 * CRLF does (RFC 9112 2.2).
 */
static void on_request(struct httpd *h, struct hconn *c, size_t len)
{
	char *line = c->in, *end = c->in + len, *eol, *sp1 = NULL, *sp2, *q;
	bool first = true;
	uint64_t body = 0;
	char method[16];

	for (; line < end; line = eol + 1) {
		size_t n;
		char *colon, *p;

		eol = memchr(line, '\n', end - line);
		if (!eol)
			eol = end;
		n = eol - line;
		if (n && line[n - 1] == '\r')
			n--;
		line[n] = '\0';
		for (p = line; p < line + n; p++)
			if ((unsigned char)*p < 0x20 && *p != '\t')
				goto bad;
		if (first) {
			first = false;
			sp1 = strchr(line, ' ');
			sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
			if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || strchr(sp2 + 1, ' ') ||
			    (size_t)(sp1 - line) >= sizeof(method))
				goto bad;
			for (p = line; p < sp1; p++)
				if (!is_tchar(*p))
					goto bad;
			if (strcmp(sp2 + 1, "HTTP/1.1") && strcmp(sp2 + 1, "HTTP/1.0"))
				goto bad;
			memcpy(method, line, sp1 - line);
			method[sp1 - line] = '\0';
			*sp2 = '\0';
			continue;
		}
		colon = strchr(line, ':');
		if (!colon || colon == line)
			goto bad;
		for (p = line; p < colon; p++)
			if (!is_tchar(*p))
				goto bad;
		for (p = colon + 1; *p == ' ' || *p == '\t'; p++)
			;
		if (!strncasecmp(line, "Content-Length:", 15)) {
			char *t = p + strcspn(p, " \t");

			*t = '\0';
			if (util__parse_u64(p, 0, UINT64_MAX, &body))
				goto bad;
			if (body > HTTPD_MAX_BODY) {
				respond_text(h, c, 413, "Content Too Large", NULL);
				return;
			}
		} else if (!strncasecmp(line, "Transfer-Encoding:", 18)) {
			/* a body of unknown length: what no GET needs */
			goto bad;
		}
	}
	if (!sp1)
		goto bad;
	/* the path of an origin-form target, its query and fragment aside */
	q = sp1 + 1;
	if (*q != '/')
		goto bad;
	q[strcspn(q, "?#")] = '\0';
	serve(h, c, method, q);
	return;
bad:
	respond_text(h, c, 400, "Bad Request", NULL);
}

/* the end of the request head (after its blank line) in c->in, or 0 */
static size_t head_end(const struct hconn *c, size_t *len)
{
	size_t i;

	for (i = 0; i + 1 < c->nin; i++) {
		if (c->in[i] != '\n')
			continue;
		if (c->in[i + 1] == '\n') {
			*len = i;
			return i + 2;
		}
		if (c->in[i + 1] == '\r' && i + 2 < c->nin && c->in[i + 2] == '\n') {
			*len = i;
			return i + 3;
		}
	}
	return 0;
}

static void on_input(struct httpd *h, struct hconn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->nin, sizeof(c->in) - c->nin, MSG_DONTWAIT);
		size_t len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* gone before its request was whole */
			drop(h, c, false);
			return;
		}
		c->nin += n;
		if (head_end(c, &len)) {
			on_request(h, c, len);
			return;
		}
		if (c->nin == sizeof(c->in)) {
			respond_text(h, c, 431, "Request Header Fields Too Large", NULL);
			return;
		}
	}
}

/* --- connections and deadlines ----------------------------------------------------------- */

static void arm(struct httpd *h)
{
	struct itimerspec its = {};
	uint64_t first = 0;
	size_t i;

	for (i = 0; i < h->nconns; i++)
		if (!first || h->conns[i]->deadline_ns < first)
			first = h->conns[i]->deadline_ns;
	if (first == h->armed_ns)
		return;
	its.it_value.tv_sec = first / NSEC_PER_SEC;
	its.it_value.tv_nsec = first % NSEC_PER_SEC;
	if (!timerfd_settime(h->tfd, TFD_TIMER_ABSTIME, &its, NULL))
		h->armed_ns = first;
}

static void expire(struct httpd *h)
{
	static const char timeout[] = "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n"
				      "Connection: close\r\n\r\n";
	uint64_t now = util__now_ns(CLOCK_MONOTONIC);
	size_t i = 0;

	while (i < h->nconns) {
		struct hconn *c = h->conns[i];

		if (c->deadline_ns > now) {
			i++;
			continue;
		}
		/* one try, never waited for: it had its time */
		if (!c->answered)
			send(c->fd, timeout, sizeof(timeout) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		drop(h, c, false);
	}
}

/* to make room: the oldest connection that has not sent its request, else the oldest */
static void evict(struct httpd *h)
{
	size_t i;

	for (i = 0; i < h->nconns && h->conns[i]->answered; i++)
		;
	drop(h, h->conns[i < h->nconns ? i : 0], false);
}

static void on_accept(struct httpd *h)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct hconn *c, **slot;

		if (fd < 0)
			return;
		while (h->nconns && h->nconns >= h->max_conns)
			evict(h);
		c = calloc(1, sizeof(*c));
		slot = c ? vec_push(h->conns, h->nconns, h->cap) : NULL;
		if (!slot) {
			free(c);
			close(fd);
			h->st.dropped++;
			continue;
		}
		c->fd = fd;
		c->deadline_ns = util__now_ns(CLOCK_MONOTONIC) + h->timeout_ms * 1000000ULL;
		ev.data.ptr = c;
		*slot = c;
		if (epoll_ctl(h->efd, EPOLL_CTL_ADD, fd, &ev))
			drop(h, c, false);
	}
}

void httpd__process(struct httpd *h)
{
	struct epoll_event evs[16];
	int i, n;

	if (!h)
		return;
	n = epoll_wait(h->efd, evs, 16, 0);
	for (i = 0; i < n; i++) {
		struct hconn *c = evs[i].data.ptr;

		if (evs[i].data.ptr == &listen_tag) {
			on_accept(h);
			continue;
		}
		if (evs[i].data.ptr == &timer_tag) {
			uint64_t ticks;

			if (read(h->tfd, &ticks, sizeof(ticks)) < 0)
				(void)0; /* EAGAIN: it was read already */
			h->armed_ns = 0;
			continue;
		}
		/* dropped earlier in this batch (evicted, expired): freed */
		if (!alive(h, c))
			continue;
		if (c->answered)
			flush(h, c);
		else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			on_input(h, c);
	}
	expire(h);
	arm(h);
}

void httpd__close(struct httpd *h)
{
	if (!h)
		return;
	while (h->nconns)
		drop(h, h->conns[0], false);
	free(h->conns);
	sbuf__free(&h->body);
	if (h->lfd >= 0)
		close(h->lfd);
	if (h->efd >= 0)
		close(h->efd);
	if (h->tfd >= 0)
		close(h->tfd);
	free(h);
}
