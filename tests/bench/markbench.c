// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The control socket's round trip: run under `qhtrace attach -- markbench [N]`, it sends N
 * mark begin/end pairs (a section of its own, no test figures to take: --no-fds, no --heap)
 * and N stats requests on one connection, as the pytest plugin does, and prints the median
 * and the 99th percentile of each, in microseconds. Goal: a mark under 100 us.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double rt(int fd, const char *req)
{
	char buf[4096];
	size_t got = 0;
	double t0 = now_us();

	if (send(fd, req, strlen(req), 0) < 0)
		exit(1);
	while (!memchr(buf, '\n', got)) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);

		if (n <= 0)
			exit(1);
		got += n;
	}
	if (!strstr(buf, "\"ok\":true")) {
		fprintf(stderr, "markbench: refused: %.*s", (int)got, buf);
		exit(1);
	}
	return now_us() - t0;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, n, sizeof(v[0]), cmp);
	printf("%-28s median %6.1f us, p99 %6.1f us, min %6.1f us (%d)\n", what, v[n / 2],
	       v[n * 99 / 100], v[0], n);
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	const char *path = getenv("QHTRACE_SOCKET");
	int n = argc > 1 ? atoi(argv[1]) : 2000, i, fd;
	double *begin, *end, *stats;
	socklen_t alen;
	char req[256];

	if (!path || n < 1) {
		fprintf(stderr, "usage: qhtrace attach [--no-fds] -- markbench [N]\n");
		return 2;
	}
	begin = calloc(n, sizeof(double));
	end = calloc(n, sizeof(double));
	stats = calloc(n, sizeof(double));
	/* "@NAME": NAME in the abstract namespace (what qhtrace exports), else a path */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	alen = sizeof(a);
	if (path[0] == '@') {
		a.sun_path[0] = '\0';
		alen = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (!begin || !end || !stats || fd < 0 || connect(fd, (struct sockaddr *)&a, alen))
		return 1;
	for (i = 0; i < n; i++) {
		snprintf(req, sizeof(req), "{\"op\":\"mark\",\"event\":\"begin\",\"name\":\"t%d\","
					   "\"pid\":%d}\n", i, getpid());
		begin[i] = rt(fd, req);
		snprintf(req, sizeof(req), "{\"op\":\"mark\",\"event\":\"end\",\"name\":\"t%d\","
					   "\"pid\":%d}\n", i, getpid());
		end[i] = rt(fd, req);
		stats[i] = rt(fd, "{\"op\":\"stats\"}\n");
	}
	report("mark begin", begin, n);
	report("mark end (test figures)", end, n);
	report("stats", stats, n);
	return 0;
}
