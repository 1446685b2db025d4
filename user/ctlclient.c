// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctlclient.h"
#include "ctlproto.h"
#include "util.h"

/* ms left until @deadline (CLOCK_MONOTONIC ns); -1: no deadline; 0: it has passed */
static int left_ms(uint64_t deadline)
{
	uint64_t now;

	if (!deadline)
		return -1;
	now = util__now_ns(CLOCK_MONOTONIC);
	return now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
}

/* Wait until @fd is ready for @events; 0, -ETIMEDOUT or -errno. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ms, n;

	for (;;) {
		ms = left_ms(deadline);
		if (!ms)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int ctlclient__request(const char *addr, const char *line, unsigned int timeout_ms, char **reply)
{
	uint64_t deadline = timeout_ms ? util__now_ns(CLOCK_MONOTONIC) +
						 (uint64_t)timeout_ms * 1000000ULL : 0;
	size_t got = 0, cap = 0, sent = 0, n = strlen(line);
	struct sockaddr_un a;
	unsigned int alen;
	char *buf = NULL, *nl;
	int fd, err;

	*reply = NULL;
	err = ctl__sockaddr(addr, &a, &alen);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (timeout_ms) {
		/* a Unix connect waits for room in a full backlog as long as a send would */
		struct timeval tv = { .tv_sec = timeout_ms / 1000,
				      .tv_usec = (timeout_ms % 1000) * 1000 };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (connect(fd, (struct sockaddr *)&a, alen)) {
		err = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
		goto out;
	}
	while (sent < n) {
		ssize_t k = send(fd, line + sent, n - sent, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			err = wait_fd(fd, POLLOUT, deadline);
			if (err)
				goto out;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			/* the server closed before reading it (it refused us): no reply either */
			err = errno == EPIPE ? -ECONNRESET : -errno;
			goto out;
		}
		sent += k;
	}
	for (;;) {
		ssize_t k;

		if (cap - got < 4096) {
			char *b;

			if (cap >= QH_CTL_MAX_REPLY) {
				err = -EMSGSIZE;
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			b = realloc(buf, cap + 1);
			if (!b) {
				err = -ENOMEM;
				goto out;
			}
			buf = b;
		}
		err = wait_fd(fd, POLLIN, deadline);
		if (err)
			goto out;
		k = recv(fd, buf + got, cap - got, MSG_DONTWAIT);
		if (k < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (k <= 0) {
			err = k < 0 ? -errno : -ECONNRESET;
			goto out;
		}
		nl = memchr(buf + got, '\n', k);
		got += k;
		if (nl) {
			*nl = '\0';
			*reply = buf;
			buf = NULL;
			break;
		}
	}
out:
	free(buf);
	close(fd);
	return err;
}
