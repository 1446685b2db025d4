// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

uint64_t procfs__tick_ns(void)
{
	static uint64_t tick;

	if (!tick) {
		long hz = sysconf(_SC_CLK_TCK);

		tick = 1000000000ULL / (hz > 0 ? hz : 100);
	}
	return tick;
}

int procfs__same_start(uint64_t a_ns, uint64_t b_ns)
{
	return a_ns / procfs__tick_ns() == b_ns / procfs__tick_ns();
}

int procfs__parse_stat(const char *buf, struct procfs_stat *st)
{
	const char *open = strchr(buf, '('), *close = strrchr(buf, ')'), *p;
	unsigned long long field[52];
	size_t n;
	int i;

	if (!open || !close || close < open || close[1] != ' ')
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	n = close - open - 1;
	if (n >= sizeof(st->comm))
		n = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, n);
	st->state = close[2];
	if (!st->state)
		return -EINVAL;
	/* fields are numbered from 1 (pid); field 3 is state, numbers start at 4 */
	p = close + 3;
	for (i = 4; i <= 24; i++) {
		char *end;

		while (*p == ' ')
			p++;
		field[i] = strtoull(p, &end, 10);
		if (end == p)
			return -EINVAL;
		p = end;
	}
	st->ppid = field[4];
	st->threads = field[20];
	st->start_ns = field[22] * procfs__tick_ns();
	st->rss_pages = field[24];
	return 0;
}

int procfs__read_stat(pid_t pid, struct procfs_stat *st)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	err = n < 0 ? -errno : 0;
	close(fd);
	if (err)
		return err;
	buf[n] = '\0';
	return procfs__parse_stat(buf, st);
}

int procfs__exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int procfs__read_rss(pid_t pid, unsigned long long pages[4])
{
	static const char *const keys[4] = { "RssFile:", "RssAnon:", "VmSwap:", "RssShmem:" };
	char path[64], line[256];
	long psz = sysconf(_SC_PAGESIZE);
	int i, found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < 4; i++) {
			size_t n = strlen(keys[i]);

			if (!strncmp(line, keys[i], n)) {
				pages[i] = strtoull(line + n, NULL, 10) * 1024 / psz;
				found++;
			}
		}
	}
	fclose(f);
	return found == 4 ? 0 : -ENOENT; /* a kernel thread, or a zombie: no mm */
}

int procfs__parse_rollup(const char *buf, struct procfs_rollup *r)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "Rss:", offsetof(struct procfs_rollup, rss_kb) },
		{ "Pss:", offsetof(struct procfs_rollup, pss_kb) },
		{ "Private_Clean:", offsetof(struct procfs_rollup, uss_kb) },
		{ "Private_Dirty:", offsetof(struct procfs_rollup, uss_kb) },
		{ "SwapPss:", offsetof(struct procfs_rollup, swap_pss_kb) },
	};
	bool pss = false;
	const char *line;
	size_t i;

	memset(r, 0, sizeof(*r));
	for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			size_t n = strlen(keys[i].key);

			if (strncmp(line, keys[i].key, n))
				continue;
			*(uint64_t *)((char *)r + keys[i].off) += strtoull(line + n, NULL, 10);
			pss |= i == 1;
		}
	}
	return pss ? 0 : -ENOENT;
}

int procfs__read_rollup(pid_t pid, struct procfs_rollup *r)
{
	char path[64], buf[2048];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return procfs__parse_rollup(buf, r);
}
