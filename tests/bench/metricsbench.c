// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Metrics benchmark: a scrape of /metrics on a node where the monitor has seen 100 groups and
 * 100 jobs (of 4 kinds; leftovers of each kind in every group), against the goal of issue 18:
 * under 20 ms a scrape. Two figures, each the median of ROUNDS:
 *   render   filling struct mon_metrics from the rows and rendering the exposition
 *   scrape   a whole GET /metrics over loopback TCP through httpd (connect, request,
 *            render, response read to the end), client and server in this one thread
 *
 *   metricsbench [ROUNDS]     (default 500)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "monmetrics.h"
#include "sbuf.h"
#include "util.h"

#define GROUPS 100
#define JOBS 100

static const char *const kinds[] = { "github", "gitlab", "jenkins", "buildkite" };

/* what the monitor does at each scrape: every row found by name and filled */
static void fill(struct mon_metrics *m)
{
	char name[32];
	int i;

	monmetrics__reset(m);
	m->scrape_start_ns = util__now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < GROUPS; i++) {
		struct mon_group *g;
		size_t k;

		snprintf(name, sizeof(name), "group-%03d", i);
		g = monmetrics__group(m, name);
		g->alive = 10 + i;
		g->zombies = i % 7;
		g->fds = 100 * i;
		g->sockets = 3 * i;
		g->rss_anon_bytes = (uint64_t)i << 24;
		g->rss_file_bytes = (uint64_t)i << 22;
		g->rss_shmem_bytes = (uint64_t)i << 20;
		for (k = 0; k < 4; k++)
			monmetrics__leftover(m, name, kinds[k])->alive = i % 3;
	}
	for (i = 0; i < JOBS; i++) {
		struct mon_job_kind *k = monmetrics__job_kind(m, kinds[i % 4]);

		k->running += i % 2;
		k->finished_total += 10;
		k->leftovers_found_total += i % 5 == 0;
	}
	monmetrics__driver(m, "chromedriver")->alive = 4;
	monmetrics__driver(m, "geckodriver")->alive = 1;
	monmetrics__browser(m, "chrome")->alive = 40;
	monmetrics__browser(m, "firefox")->alive = 8;
	monmetrics__lost(m, "ringbuf_full")->total = 0;
	monmetrics__lost(m, "map_full")->total = 0;
	m->processes_started_total = 1000000;
	monmetrics__read_self(&m->self);
}

static int render(void *ctx, struct sbuf *out)
{
	struct mon_metrics *m = ctx;

	fill(m);
	return monmetrics__render(m, out);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

/* one GET /metrics over loopback; the bytes of the response */
static size_t scrape(struct httpd *h, int port)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t total = 0;
	char buf[65536];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != sizeof(req) - 1) {
		perror("metricsbench: client");
		exit(1);
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = httpd__fd(h), .events = POLLIN },
				       { .fd = fd, .events = POLLIN } };
		ssize_t n;

		poll(p, 2, 1000);
		if (p[0].revents)
			httpd__process(h);
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			total += n;
	}
	close(fd);
	return total;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 500, i;
	double *t_render = calloc(rounds, sizeof(double));
	double *t_scrape = calloc(rounds, sizeof(double));
	struct mon_metrics m = {};
	struct sbuf b = {};
	size_t series = 0, bytes = 0;
	struct httpd *h;
	const char *p;

	if (rounds < 1 || !t_render || !t_scrape) {
		fprintf(stderr, "usage: metricsbench [ROUNDS]\n");
		return 2;
	}
	for (i = 0; i < rounds; i++) {
		uint64_t t0 = util__now_ns(CLOCK_MONOTONIC);

		sbuf__reset(&b);
		if (render(&m, &b))
			return 1;
		t_render[i] = (util__now_ns(CLOCK_MONOTONIC) - t0) / 1e6;
	}
	for (p = b.s; (p = strchr(p, '\n')); p++)
		series += p[1] && p[1] != '#';
	if (httpd__open(&h, "127.0.0.1:0", render, &m))
		return 1;
	for (i = 0; i < rounds; i++) {
		uint64_t t0 = util__now_ns(CLOCK_MONOTONIC);

		bytes = scrape(h, atoi(strrchr(httpd__addr(h), ':') + 1));
		t_scrape[i] = (util__now_ns(CLOCK_MONOTONIC) - t0) / 1e6;
	}
	printf("metrics, %d groups, %d jobs of 4 kinds: %zu series, %zu bytes a page (%zu with "
	       "the HTTP head)\n", GROUPS, JOBS, series, b.n, bytes);
	printf("  fill + render  median %.3f ms (%d rounds)\n", median(t_render, rounds), rounds);
	printf("  GET /metrics   median %.3f ms over loopback, goal < 20 ms: %.1fx under it\n",
	       median(t_scrape, rounds), 20.0 / median(t_scrape, rounds));
	httpd__close(h);
	sbuf__free(&b);
	monmetrics__free(&m);
	free(t_render);
	free(t_scrape);
	return 0;
}
