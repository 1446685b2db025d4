// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * httpd: the metrics endpoint over real loopback sockets, driven as the monitor's event loop
 * drives it (its epoll fd, then httpd__process). Every answer (200, 404, 405, 400, 413, 431,
 * 408, 500), a request that arrives byte by byte, a response that the client reads slowly,
 * one it never reads, more clients than the bound, one that never sends, bad addresses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "expo.h"
#include "httpd.h"
#include "sbuf.h"
#include "util.h"

struct page {
	const char *body;	/* what /metrics answers */
	size_t len;
	int err;		/* or this error */
	int calls;
};

static int render(void *ctx, struct sbuf *out)
{
	struct page *p = ctx;

	p->calls++;
	if (p->err)
		return p->err;
	sbuf__put(out, p->body, p->len);
	return 0;
}

#define BODY "# HELP m h\n# TYPE m gauge\nm 1\n"
static struct page page = { .body = BODY, .len = sizeof(BODY) - 1 };

static struct httpd *start(struct page *p)
{
	struct httpd *h;

	assert_int_equal(httpd__open(&h, "127.0.0.1:0", render, p), 0);
	assert_non_null(strstr(httpd__addr(h), "127.0.0.1:"));
	return h;
}

static int port_of(struct httpd *h)
{
	const char *colon = strrchr(httpd__addr(h), ':');

	return atoi(colon + 1);
}

static int client(struct httpd *h)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port_of(h)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* the event loop: wait on the server's fd up to @ms, then let it work */
static void pump(struct httpd *h, int ms)
{
	struct pollfd p = { .fd = httpd__fd(h), .events = POLLIN };

	poll(&p, 1, ms);
	httpd__process(h);
}

static uint64_t now_ms(void)
{
	return util__now_ns(CLOCK_MONOTONIC) / 1000000;
}

/* Read @fd until the server closes it (the loop running), into a new string. */
static char *read_all(struct httpd *h, int fd, size_t *len)
{
	uint64_t t0 = now_ms();
	struct sbuf b = {};
	char buf[65536];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			sbuf__put(&b, buf, n);
			continue;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break;
		/* a hang guard only: the server answers at once */
		if (now_ms() - t0 > 20000)
			fail_msg("no end of the response after 20 s");
		pump(h, 10);
	}
	sbuf__put(&b, "", 0);
	*len = b.n;
	return b.s;
}

static char *ask(struct httpd *h, const char *req, size_t *len)
{
	int fd = client(h);
	size_t dummy;
	char *r;

	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
	r = read_all(h, fd, len ? len : &dummy);
	close(fd);
	return r;
}

static void expect_status(struct httpd *h, const char *req, const char *status)
{
	char *r = ask(h, req, NULL);

	if (strncmp(r, status, strlen(status)))
		fail_msg("request '%s': got '%.60s', expected '%s'", req, r, status);
	assert_non_null(strstr(r, "\r\nConnection: close\r\n"));
	free(r);
}

static void test_ok(void **state)
{
	struct httpd *h = start(&page);
	struct httpd_stats st;
	char *r, want[64];
	size_t len;

	(void)state;
	r = ask(h, "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", &len);
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", page.len);
	assert_non_null(strstr(r, want));
	assert_non_null(strstr(r, "\r\nConnection: close\r\n"));
	/* the body is the render's, whole */
	assert_string_equal(strstr(r, "\r\n\r\n") + 4, page.body);
	free(r);
	/* HTTP/1.0, a query, a bare LF for CRLF: all fine */
	expect_status(h, "GET /metrics?name[]=x HTTP/1.0\r\n\r\n", "HTTP/1.1 200 ");
	expect_status(h, "GET /metrics HTTP/1.1\nHost: x\n\n", "HTTP/1.1 200 ");
	/* HEAD: the headers, no body */
	r = ask(h, "HEAD /metrics HTTP/1.1\r\n\r\n", NULL);
	assert_non_null(strstr(r, want));
	assert_string_equal(strstr(r, "\r\n\r\n") + 4, "");
	free(r);
	/* / links to /metrics */
	r = ask(h, "GET / HTTP/1.1\r\n\r\n", NULL);
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\nContent-Type: text/html"));
	assert_non_null(strstr(r, "href=\"/metrics\""));
	free(r);
	httpd__stats(h, &st);
	assert_int_equal(st.responses[2], 5);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.conns, 0);
	httpd__close(h);
}

static void test_errors(void **state)
{
	static const char *const bad[] = {
		"GARBAGE\r\n\r\n",
		"GET /metrics\r\n\r\n",
		"GET /metrics HTTP/2.0\r\n\r\n",
		"GET /metrics HTTP/1.1 extra\r\n\r\n",
		"GET  /metrics HTTP/1.1\r\n\r\n",
		"GET metrics HTTP/1.1\r\n\r\n",
		"G(T /metrics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nBad Name: x\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nX: a\x01z\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"\r\n\r\n",
	};
	struct page fails = { .err = -ENOMEM };
	struct httpd *h = start(&page);
	struct httpd_stats st;
	char big[HTTPD_MAX_HEAD + 1000];
	size_t i;
	char *r;

	(void)state;
	expect_status(h, "GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404 Not Found\r\n");
	expect_status(h, "GET /metrics/ HTTP/1.1\r\n\r\n", "HTTP/1.1 404 ");
	r = ask(h, "POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", NULL);
	assert_non_null(strstr(r, "HTTP/1.1 405 Method Not Allowed\r\n"));
	assert_non_null(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);
	expect_status(h, "DELETE / HTTP/1.1\r\n\r\n", "HTTP/1.1 405 ");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_status(h, bad[i], "HTTP/1.1 400 Bad Request\r\n");
	expect_status(h, "GET /metrics HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n",
		      "HTTP/1.1 413 ");
	/* a head that never ends within the bound */
	memcpy(big, "GET /metrics HTTP/1.1\r\nX-Long: ", 31);
	memset(big + 31, 'a', sizeof(big) - 32);
	big[sizeof(big) - 1] = '\0';
	expect_status(h, big, "HTTP/1.1 431 Request Header Fields Too Large\r\n");
	httpd__stats(h, &st);
	assert_int_equal(st.responses[4], 2 + 2 + i + 2);
	httpd__close(h);

	/* the render failed: 500, and the next scrape tries again */
	h = start(&fails);
	expect_status(h, "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 500 ");
	expect_status(h, "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 500 ");
	assert_int_equal(fails.calls, 2);
	httpd__close(h);
}

/* the request in single bytes, the loop running between them */
static void test_byte_by_byte(void **state)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	struct httpd *h = start(&page);
	int fd = client(h);
	size_t i, len;
	char *r;

	(void)state;
	for (i = 0; i < sizeof(req) - 1; i++) {
		char one;

		assert_int_equal(send(fd, &req[i], 1, MSG_NOSIGNAL), 1);
		pump(h, 1);
		/* nothing is answered before the head is whole */
		if (i + 1 < sizeof(req) - 1)
			assert_int_equal(recv(fd, &one, 1, MSG_DONTWAIT), -1);
	}
	r = read_all(h, fd, &len);
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_string_equal(strstr(r, "\r\n\r\n") + 4, page.body);
	free(r);
	close(fd);
	httpd__close(h);
}

/* a page bigger than the sockets' buffers: writes resumed on EPOLLOUT, nothing lost */
static void test_partial_writes(void **state)
{
	size_t n = 32 << 20, len, i;
	char *body = malloc(n + 1), *r;
	struct page big = { .body = body, .len = n };
	struct httpd *h = start(&big);
	int fd;
	struct httpd_stats st;

	(void)state;
	for (i = 0; i < n; i++)
		body[i] = 'a' + i % 26;
	body[n] = '\0';
	fd = client(h);
	assert_int_equal(send(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25, MSG_NOSIGNAL), 25);
	pump(h, 10);
	/* the kernel's buffers took part of it: the rest waits in the server */
	httpd__stats(h, &st);
	assert_int_equal(st.conns, 1);
	r = read_all(h, fd, &len);
	assert_true(len > n);
	assert_memory_equal(r + len - n, body, n);
	free(r);
	close(fd);
	httpd__stats(h, &st);
	assert_int_equal(st.conns, 0);
	assert_int_equal(st.dropped, 0);

	/* one that asks and goes away without reading: no SIGPIPE, the connection ends */
	fd = client(h);
	assert_int_equal(send(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25, MSG_NOSIGNAL), 25);
	pump(h, 10);
	{
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		/* a reset, so the server's next write fails at once (EPIPE, ECONNRESET) */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	close(fd);
	for (i = 0; i < 100; i++) {
		pump(h, 10);
		httpd__stats(h, &st);
		if (!st.conns)
			break;
	}
	assert_int_equal(st.conns, 0);
	assert_int_equal(st.dropped, 1);
	httpd__close(h);
	free(body);
}

/* more clients than the bound: the oldest idle ones go, the newest are served */
static void test_many_connections(void **state)
{
	enum { N = HTTPD_MAX_CONNS + 8 };
	struct httpd *h = start(&page);
	struct httpd_stats st;
	int fds[N], i;

	(void)state;
	for (i = 0; i < N; i++) {
		fds[i] = client(h);
		pump(h, 5);
	}
	for (i = 0; i < 20; i++)
		pump(h, 5);
	httpd__stats(h, &st);
	assert_int_equal(st.conns, HTTPD_MAX_CONNS);
	assert_int_equal(st.dropped, N - HTTPD_MAX_CONNS);
	for (i = 0; i < N; i++) {
		size_t len;
		char *r;

		send(fds[i], "GET /metrics HTTP/1.1\r\n\r\n", 25, MSG_NOSIGNAL);
		r = read_all(h, fds[i], &len);
		if (i < N - HTTPD_MAX_CONNS)
			assert_string_equal(r, "");	/* dropped */
		else if (strncmp(r, "HTTP/1.1 200 ", 13))
			fail_msg("client %d: '%.40s'", i, r);
		free(r);
		close(fds[i]);
	}
	httpd__stats(h, &st);
	assert_int_equal(st.responses[2], HTTPD_MAX_CONNS);
	assert_int_equal(st.conns, 0);
	httpd__close(h);
}

/* a client that connects and never sends: closed at its deadline, others served meanwhile */
static void test_silent_client(void **state)
{
	struct httpd *h = start(&page);
	struct httpd_stats st;
	uint64_t t0;
	int fd;
	size_t len;
	char *r;

	(void)state;
	httpd__limits(h, 0, 300);
	t0 = now_ms();
	fd = client(h);
	pump(h, 5);
	expect_status(h, "GET /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 200 ");
	httpd__stats(h, &st);
	assert_int_equal(st.conns, 1);
	r = read_all(h, fd, &len);
	assert_true(now_ms() - t0 >= 300);
	assert_non_null(strstr(r, "HTTP/1.1 408 Request Timeout\r\n"));
	free(r);
	close(fd);
	httpd__stats(h, &st);
	assert_int_equal(st.conns, 0);
	assert_int_equal(st.dropped, 1);

	/* the same with half a request */
	fd = client(h);
	send(fd, "GET /metr", 9, MSG_NOSIGNAL);
	r = read_all(h, fd, &len);
	assert_non_null(strstr(r, "HTTP/1.1 408 "));
	free(r);
	close(fd);
	httpd__close(h);
}

/* run @fn with stderr caught: what it printed */
static char *stderr_of(int (*fn)(const char *), const char *arg, int *ret)
{
	FILE *tmp = tmpfile();
	int saved = dup(2);
	static char buf[512];
	size_t n;

	fflush(stderr);
	dup2(fileno(tmp), 2);
	*ret = fn(arg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return buf;
}

static int open_close(const char *addr)
{
	struct httpd *h;
	int err = httpd__open(&h, addr, render, &page);

	httpd__close(h);
	return err;
}

static void test_addresses(void **state)
{
	static const char *const bad[] = {
		"", "9433", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "127.0.0.1:-1",
		"127.0.0.1:http", "::1:9433", "[::1]9433", "[::1", "no.such.host.invalid:9433",
	};
	static const char *const good[] = { "127.0.0.1:0", ":0", "localhost:0", "0.0.0.0:0" };
	struct httpd *h, *h2;
	char *msg, addr[64];
	size_t i;
	int err;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg = stderr_of(open_close, bad[i], &err);
		if (err != -EINVAL)
			fail_msg("'%s': %d, expected -EINVAL", bad[i], err);
		snprintf(addr, sizeof(addr), "metrics address '%s': ", bad[i]);
		if (!strstr(msg, addr) || strchr(msg, '\n') != msg + strlen(msg) - 1)
			fail_msg("'%s': not one line naming it: '%s'", bad[i], msg);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(httpd__open(&h, good[i], render, &page), 0);
		expect_status(h, "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 ");
		httpd__close(h);
	}
	/* IPv6's loopback, where the machine has it */
	msg = stderr_of(open_close, "[::1]:0", &err);
	if (access("/proc/net/if_inet6", F_OK))
		assert_true(err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT);
	else if (err)
		fail_msg("[::1]:0: %s", msg);
	/* a port in use */
	h = start(&page);
	snprintf(addr, sizeof(addr), "%s", httpd__addr(h));
	msg = stderr_of(open_close, addr, &err);
	assert_int_equal(err, -EADDRINUSE);
	assert_non_null(strstr(msg, addr));
	assert_non_null(strstr(msg, "in use"));
	assert_true(strchr(msg, '\n') == msg + strlen(msg) - 1);
	assert_int_equal(httpd__open(&h2, addr, render, &page), -EADDRINUSE);
	assert_null(h2);
	httpd__close(h2);
	httpd__close(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_partial_writes),
		cmocka_unit_test(test_many_connections),
		cmocka_unit_test(test_silent_client),
		cmocka_unit_test(test_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
