// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * systemd's notification protocol as the monitor speaks it: each message read back from a
 * real datagram socket bound where NOTIFY_SOCKET points (a path, then an abstract name, as
 * systemd uses both), nothing sent and no error without NOTIFY_SOCKET, the watchdog interval
 * only for the process WATCHDOG_PID names.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "notify.h"
#include "util.h"

static int bound(const char *name, struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	socklen_t len;

	assert_true(fd >= 0);
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", name);
	len = offsetof(struct sockaddr_un, sun_path) + strlen(name) + (name[0] != '@');
	if (name[0] == '@')
		a->sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)a, len), 0);
	return fd;
}

/* the next datagram, which must be there already (sd_notify has returned) */
static void expect(int fd, const char *want)
{
	char buf[1024];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void nothing(int fd)
{
	char buf[16];

	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
}

static void messages(const char *name)
{
	struct sockaddr_un a;
	uint64_t before, after, usec;
	char buf[1024];
	int fd = bound(name, &a);
	ssize_t n;

	assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
	assert_int_equal(notify__ready(), 0);
	expect(fd, "READY=1");
	assert_int_equal(notify__stopping(), 0);
	expect(fd, "STOPPING=1");
	assert_int_equal(notify__watchdog(), 0);
	expect(fd, "WATCHDOG=1");
	assert_int_equal(notify__status("%d jobs, %s", 3, "2 leftovers"), 0);
	expect(fd, "STATUS=3 jobs, 2 leftovers");
	/* a newline in the text cannot add a field */
	assert_int_equal(notify__status("evil\nREADY=1"), 0);
	expect(fd, "STATUS=evil READY=1");

	/* RELOADING=1 with the time it began, CLOCK_MONOTONIC in µs */
	before = util__now_ns(CLOCK_MONOTONIC) / 1000;
	assert_int_equal(notify__reloading(), 0);
	after = util__now_ns(CLOCK_MONOTONIC) / 1000;
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
	usec = strtoull(buf + 27, NULL, 10);
	assert_true(usec >= before && usec <= after);
	nothing(fd);
	close(fd);
	if (name[0] != '@')
		unlink(name);
}

static void test_notify_path(void **state)
{
	char dir[] = "/tmp/qhtrace-notify-XXXXXX", path[64];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify", dir);
	messages(path);
	assert_int_equal(rmdir(dir), 0);
	unsetenv("NOTIFY_SOCKET");
}

static void test_notify_abstract(void **state)
{
	char name[64];

	(void)state;
	snprintf(name, sizeof(name), "@qhtrace-notify-test-%d", (int)getpid());
	messages(name);
	unsetenv("NOTIFY_SOCKET");
}

static void test_notify_unset(void **state)
{
	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(notify__ready(), 0);
	assert_int_equal(notify__reloading(), 0);
	assert_int_equal(notify__stopping(), 0);
	assert_int_equal(notify__status("x"), 0);
	assert_int_equal(notify__watchdog(), 0);
	/* a socket nobody holds: the error comes back (the caller warns and goes on) */
	assert_int_equal(setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1), 0);
	assert_true(notify__ready() < 0);
	unsetenv("NOTIFY_SOCKET");
}

static void test_watchdog_usec(void **state)
{
	char pid[16];

	(void)state;
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(notify__watchdog_usec(), 0);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_USEC", "30000000", 1);
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify__watchdog_usec(), 30000000);
	/* another process's watchdog (ours was inherited): not ours to keep alive */
	snprintf(pid, sizeof(pid), "%d", (int)getppid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(notify__watchdog_usec(), 0);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_path),
		cmocka_unit_test(test_notify_abstract),
		cmocka_unit_test(test_notify_unset),
		cmocka_unit_test(test_watchdog_usec),
	};

	return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
