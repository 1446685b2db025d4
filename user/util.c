// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

uint64_t util__now_ns(int clock_id)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

uint64_t util__boot_to_real_ns(uint64_t boot_ns)
{
	static int64_t offset;
	static bool have;

	if (!have) {
		offset = (int64_t)(util__now_ns(CLOCK_REALTIME) - util__now_ns(CLOCK_BOOTTIME));
		have = true;
	}
	return (uint64_t)((int64_t)boot_ns + offset);
}

char *util__rfc3339(uint64_t real_ns, char *buf, size_t len)
{
	time_t secs = real_ns / NSEC_PER_SEC;
	unsigned int ms = (real_ns % NSEC_PER_SEC) / 1000000;
	struct tm tm;
	char tmp[32];

	gmtime_r(&secs, &tm);
	strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", tmp, ms);
	return buf;
}

int util__parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull would skip leading blanks and accept a sign after them: " -5" wraps */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* length of the valid UTF-8 sequence at @s that is no C1 control, or 0 */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	uint32_t c;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	n = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	c = s[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* overlong, surrogates, beyond U+10FFFF, C1 controls */
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff) || (c >= 0x80 && c <= 0x9f))
		return 0;
	return n;
}

const char *util__esc(const char *s, char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t o = 0;

	if (!len)
		return buf;
	while (*p) {
		char e[5];
		size_t n = 0, u = *p >= 0x80 ? utf8_len(p) : 0;

		if (u) {
			if (o + u >= len)
				break;
			memcpy(buf + o, p, u);
			o += u;
			p += u;
			continue;
		}
		if (*p == '\n' || *p == '\t' || *p == '\r' || *p == '\\')
			n = snprintf(e, sizeof(e), "\\%c",
				     *p == '\n' ? 'n' : *p == '\t' ? 't' : *p == '\r' ? 'r' : '\\');
		else if (*p < 0x20 || *p >= 0x7f)
			n = snprintf(e, sizeof(e), "\\x%02x", *p);
		else
			e[n++] = *p;
		if (o + n >= len)
			break;
		memcpy(buf + o, e, n);
		o += n;
		p++;
	}
	buf[o] = '\0';
	return buf;
}

static void dir_of(const char *path, char *dir, size_t len)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, len, "%s", dirname(tmp));
}

/* a new file in @dir, its name in @tmp: the fd, or -errno */
static int temp_in(const char *dir, char *tmp, size_t len)
{
	int fd;

	if ((size_t)snprintf(tmp, len, "%.*s/.qhtrace-XXXXXX", PATH_MAX - 20, dir) >= len)
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int util__check_output(const char *path, char *why, size_t len)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int fd;

	if (!*path) {
		snprintf(why, len, "empty path");
		return -EINVAL;
	}
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode)) {
			snprintf(why, len, "is a symbolic link (refusing to follow it)");
			return -ELOOP;
		}
		if (S_ISDIR(st.st_mode)) {
			snprintf(why, len, "is a directory");
			return -EISDIR;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(why, len, "is a %s, not a regular file",
				 S_ISFIFO(st.st_mode) ? "FIFO" : S_ISSOCK(st.st_mode) ? "socket" :
				 "device");
			return -EINVAL;
		}
	}
	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &st)) {
		int err = errno;

		snprintf(why, len, "directory %s: %s", dir, strerror(err));
		return -err;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	/* as the effective ids and capabilities, which the writes will use (access() drops them) */
	if (faccessat(AT_FDCWD, dir, W_OK, AT_EACCESS)) {
		snprintf(why, len, "directory %s is not writable", dir);
		return -EACCES;
	}
	/* what access() cannot tell (/proc, a read-only mount): make a file there, as the
	 * writers will */
	fd = temp_in(dir, tmp, sizeof(tmp));
	if (fd < 0) {
		snprintf(why, len, "cannot create a file in %s: %s", dir, strerror(-fd));
		return fd;
	}
	close(fd);
	unlink(tmp);
	return 0;
}

int util__create_replacing(const char *path, mode_t mode)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
	int fd, err;

	if (!lstat(path, &st) && !S_ISREG(st.st_mode))
		return S_ISLNK(st.st_mode) ? -ELOOP : S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	dir_of(path, dir, sizeof(dir));
	fd = temp_in(dir, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	if (fchmod(fd, mode) || rename(tmp, path)) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	return fd;
}

int util__temp_beside(const char *path, char *tmp, size_t len)
{
	char dir[PATH_MAX];

	dir_of(path, dir, sizeof(dir));
	return temp_in(dir, tmp, len);
}

int util__write_file_atomic(const char *path, const void *data, size_t len)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const char *p = data;
	int fd, err = 0;

	dir_of(path, dir, sizeof(dir));
	fd = temp_in(dir, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		p += n;
		len -= n;
	}
	if (!err && fchmod(fd, 0644))
		err = -errno;
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/*
 * write(2) to a pipe whose reader may be gone (a hook that exits without reading): EPIPE,
 * not a SIGPIPE that would kill qhtrace. Blocked for the call, a pending SIGPIPE of ours is
 * taken back; ignoring it instead would pass SIG_IGN on to the traced command at exec.
 */
ssize_t util__write_nosigpipe(int fd, const void *buf, size_t len)
{
	static const struct timespec zero;
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	saved = errno;
	if (n < 0 && errno == EPIPE && !was_pending)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}
