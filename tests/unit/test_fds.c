// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fdtable: what /proc/PID/fd links and /proc/net/tcp lines say; this process's own table.
 * fdleaks: growth over checks, survivors' fds at the end, sockets apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fdleaks.h"
#include "fdtable.h"
#include "proctree.h"

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(fdtable__classify("socket:[123]", false), QH_FD_SOCKET);
	assert_int_equal(fdtable__classify("pipe:[9]", false), QH_FD_PIPE);
	assert_int_equal(fdtable__classify("anon_inode:[eventfd]", false), QH_FD_EVENTFD);
	assert_int_equal(fdtable__classify("anon_inode:[eventpoll]", false), QH_FD_EPOLL);
	assert_int_equal(fdtable__classify("anon_inode:[timerfd]", false), QH_FD_TIMERFD);
	assert_int_equal(fdtable__classify("anon_inode:[signalfd]", false), QH_FD_SIGNALFD);
	assert_int_equal(fdtable__classify("anon_inode:inotify", false), QH_FD_INOTIFY);
	assert_int_equal(fdtable__classify("anon_inode:[pidfd]", false), QH_FD_PIDFD);
	assert_int_equal(fdtable__classify("anon_inode:[io_uring]", false), QH_FD_ANON);
	assert_int_equal(fdtable__classify("/memfd:qh (deleted)", false), QH_FD_MEMFD);
	assert_int_equal(fdtable__classify("/tmp", true), QH_FD_DIR);
	assert_int_equal(fdtable__classify("/etc/passwd", false), QH_FD_FILE);
	assert_string_equal(fd_kind__str(QH_FD_EPOLL), "epoll");
	assert_string_equal(fd_kind__str(999), "unknown");
	assert_string_equal(tcp_state__str(8), "CLOSE_WAIT");
	assert_string_equal(tcp_state__str(10), "LISTEN");
	assert_string_equal(tcp_state__str(99), "UNKNOWN");
}

static void test_parse_tcp(void **state)
{
	const char *v4 = "   3: 0100007F:1F90 0100007F:C350 08 00000000:00000000 00:00000000 "
			 "00000000     0        0 48213 1 0000000000000000 20 4 30 10 -1\n";
	const char *v6 = "   0: 00000000000000000000000001000000:0050 "
			 "00000000000000000000000000000000:0000 0A 00000000:00000000 "
			 "00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0\n";
	char l[64], r[64];
	uint64_t ino;
	int st;

	(void)state;
	assert_int_equal(fdtable__parse_tcp_line(v4, false, &ino, &st, l, r, sizeof(l)), 0);
	assert_int_equal(ino, 48213);
	assert_int_equal(st, 8);
	assert_string_equal(l, "127.0.0.1:8080");
	assert_string_equal(r, "127.0.0.1:50000");
	assert_int_equal(fdtable__parse_tcp_line(v6, true, &ino, &st, l, r, sizeof(l)), 0);
	assert_int_equal(ino, 777);
	assert_int_equal(st, 10);
	assert_string_equal(l, "[::1]:80");
	assert_string_equal(r, "[::]:0");
	/* the header, and junk */
	assert_int_equal(fdtable__parse_tcp_line("  sl  local_address rem_address   st tx_queue",
						 false, &ino, &st, l, r, sizeof(l)),
			 -EINVAL);
	assert_int_equal(fdtable__parse_tcp_line("", false, &ino, &st, l, r, sizeof(l)), -EINVAL);
}

/* this process's own table: what was just opened is there, of the right kind */
static void test_read_self(void **state)
{
	int e = eventfd(0, 0), sv[2], f = open("/etc/hostname", O_RDONLY);
	struct fd_table t;
	size_t i;
	int seen = 0;

	(void)state;
	assert_true(e >= 0 && f >= 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fdtable__read(getpid(), &t), 0);
	for (i = 0; i < t.n; i++) {
		if (t.v[i].fd == e) {
			assert_int_equal(t.v[i].kind, QH_FD_EVENTFD);
			assert_string_equal(t.v[i].pattern, "eventfd");
			seen++;
		} else if (t.v[i].fd == f) {
			assert_int_equal(t.v[i].kind, QH_FD_FILE);
			assert_string_equal(t.v[i].target, "/etc/hostname");
			assert_string_equal(t.v[i].pattern, "/etc/hostname");
			seen++;
		} else if (t.v[i].fd == sv[0]) {
			assert_int_equal(t.v[i].kind, QH_FD_SOCKET);
			assert_int_equal(t.v[i].tcp_state, 0);
			seen++;
		}
		if (i)
			assert_true(t.v[i - 1].fd < t.v[i].fd);
	}
	assert_int_equal(seen, 3);
	/* both list the directory fd of their own readdir */
	assert_int_equal(fdtable__count(getpid()), (int)t.n);
	fdtable__free(&t);
	assert_int_equal(fdtable__read(999999999, &t), -ENOENT);
	close(e);
	close(f);
	close(sv[0]);
	close(sv[1]);
}

/* a table of @n fds of @path (numbers from 3), all seen opened by openat */
static void table_of(struct fd_table *t, size_t n, const char *path, bool *opened, uint32_t *nr)
{
	size_t i;

	t->n = n;
	t->v = calloc(n + 1, sizeof(*t->v));
	for (i = 0; i < n; i++) {
		t->v[i].fd = 3 + i;
		t->v[i].kind = QH_FD_FILE;
		snprintf(t->v[i].target, sizeof(t->v[i].target), "%s", path);
		snprintf(t->v[i].pattern, sizeof(t->v[i].pattern), "%s", path);
		opened[i] = true;
		nr[i] = 257; /* openat */
	}
}

/*
 * Issue 17, defect 8: a process with no fd at all (UBSan: qsort(NULL, 0) was undefined; the
 * sanitizer tier aborts on it).
 */
static void test_read_no_fds(void **state)
{
	struct fd_table t;
	int status, i;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (i = 0; i < 1024; i++)
			close(i);
		for (;;)
			pause();
	}
	/* until its closes are done */
	for (i = 0; i < 5000 && fdtable__count(pid) != 0; i++)
		usleep(1000);
	assert_int_equal(fdtable__count(pid), 0);
	assert_int_equal(fdtable__read(pid, &t), 0);
	assert_int_equal(t.n, 0);
	assert_int_equal(t.unreadable, 0);
	fdtable__free(&t);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_growth(void **state)
{
	struct fdleaks *f = fdleaks__new(64);
	struct proc p = { .pid = 42, .comm = "x" };
	bool opened[64];
	uint32_t nr[64];
	struct fd_seen seen = { opened, nr, NULL };
	const struct fd_leak *l;
	struct fd_table t;
	size_t counts[] = { 4, 10, 10, 20, 30 }, i;

	(void)state;
	for (i = 0; i < 5; i++) {
		table_of(&t, counts[i], "/tmp/x", opened, nr);
		assert_int_equal(fdleaks__observe(f, &p, &t, &seen, (i + 1) * 1000000000ULL), 0);
		fdtable__free(&t);
		/* 4 -> 10 is one increase; 10 -> 10 keeps it; 20 makes two: a leak */
		assert_int_equal(fdleaks__count(f), i >= 3 ? 1 : 0);
	}
	l = fdleaks__get(f, 0);
	assert_int_equal(l->count, 30);
	assert_int_equal(l->baseline, 4);
	assert_int_equal(l->growing_checks, 3);
	assert_string_equal(l->reason, "growing");
	assert_string_equal(l->site, "openat");
	/* 26 over 4 s */
	assert_true(l->growth_per_s > 6.4 && l->growth_per_s < 6.6);
	/* 26 of 64: high (from 16); 6.5/s is 390 a minute, over 64: one up; 3 checks: critical */
	assert_int_equal(l->severity, SEV_CRITICAL);
	assert_false(fd_leak__is_socket(l));
	/* back to the baseline: it was not a leak after all */
	table_of(&t, 4, "/tmp/x", opened, nr);
	fdleaks__observe(f, &p, &t, &seen, 6000000000ULL);
	fdtable__free(&t);
	assert_int_equal(fdleaks__count(f), 0);
	fdleaks__free(f);
}

static void test_at_end(void **state)
{
	struct fdleaks *f = fdleaks__new(64);
	struct proc p = { .pid = 7, .comm = "y" };
	bool opened[8];
	uint32_t nr[8];
	char site[8][96] = { "" };
	struct fd_seen seen = { opened, nr, site };
	const struct fd_leak *l;
	struct fd_table t;

	(void)state;
	table_of(&t, 6, "/etc/hostname", opened, nr);
	/* the first two were inherited: not the survivor's doing */
	opened[0] = opened[1] = false;
	/* one socket in CLOSE_WAIT, accepted */
	t.v[5].kind = QH_FD_SOCKET;
	t.v[5].tcp_state = 8;
	snprintf(t.v[5].pattern, sizeof(t.v[5].pattern), "tcp 127.0.0.1:80 <- *");
	nr[5] = 43; /* accept */
	/* --fd-stacks named the function of the newest file */
	snprintf(site[4], sizeof(site[4]), "openat in leak_files (fdleak.c:42)");
	assert_int_equal(fdleaks__at_end(f, &p, &t, &seen, 1), 0);
	fdtable__free(&t);
	assert_int_equal(fdleaks__count(f), 2);
	l = fdleaks__get(f, 0); /* fds before sockets */
	assert_false(fd_leak__is_socket(l));
	assert_int_equal(l->count, 3);
	assert_string_equal(l->reason, "open_at_end");
	assert_string_equal(l->site, "openat in leak_files (fdleak.c:42)");
	assert_int_equal(l->severity, SEV_LOW);
	l = fdleaks__get(f, 1);
	assert_true(fd_leak__is_socket(l));
	assert_int_equal(l->count, 1);
	assert_string_equal(l->target, "tcp 127.0.0.1:80 <- *");
	assert_string_equal(l->site, "accept");
	assert_null(fdleaks__get(f, 2));
	fdleaks__free(f);
	fdleaks__free(NULL);
}

/* many groups, the findings sorted between checks: each group stays one group */
static void test_many_groups(void **state)
{
	struct fdleaks *f = fdleaks__new(64);
	struct proc p = { .pid = 9, .comm = "z" };
	static bool opened[400];
	static uint32_t nr[400];
	struct fd_seen seen = { opened, nr, NULL };
	struct fd_table t = { .n = 300 };
	int check, i;

	(void)state;
	t.v = calloc(302, sizeof(*t.v));
	for (i = 0; i < 300; i++) {
		t.v[i].fd = 3 + i;
		t.v[i].kind = QH_FD_FILE;
		snprintf(t.v[i].pattern, sizeof(t.v[i].pattern), "/tmp/f%d", i);
	}
	for (check = 0; check < 3; check++) {
		/* one more fd of /tmp/f7 at each check after the first */
		if (check) {
			t.v[t.n].fd = 1000 + check;
			t.v[t.n].kind = QH_FD_FILE;
			snprintf(t.v[t.n].pattern, sizeof(t.v[t.n].pattern), "/tmp/f7");
			t.n++;
		}
		assert_int_equal(fdleaks__observe(f, &p, &t, &seen, (check + 1) * 1000000000ULL), 0);
		/* sorting moves the groups around */
		assert_int_equal(fdleaks__count(f), check == 2 ? 1 : 0);
	}
	assert_string_equal(fdleaks__get(f, 0)->target, "/tmp/f7");
	assert_int_equal(fdleaks__get(f, 0)->count, 3);
	assert_int_equal(fdleaks__get(f, 0)->baseline, 1);
	free(t.v);
	fdleaks__free(f);
}

/* a QH_EV_FD_EXIT record's path: components given the file's own name first */
static void exit_path(struct qh_event_fd_exit *e, const char *const *names, size_t n)
{
	size_t i, len;

	e->path_len = 0;
	for (i = 0; i < n; i++) {
		len = strlen(names[i]) + 1;
		memcpy(e->path + e->path_len, names[i], len);
		e->path_len += len;
	}
}

/* What fds held at exit are grouped by, from the kernel's record, as /proc would have shown */
static void test_exit_target(void **state)
{
	struct qh_event_fd_exit e = { .kind = QH_FD_FILE };
	char pat[FD_TARGET_LEN];
	int st;

	(void)state;
	exit_path(&e, (const char *const[]){ "hostname", "etc" }, 2);
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, "/etc/hostname");
	assert_int_equal(st, 0);
	e.flags = QH_FDX_DELETED;
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, "/etc/hostname (deleted)");
	/* the walk stopped short of the root */
	e.flags = QH_FDX_PATH_CUT;
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, ".../etc/hostname");
	/* the root directory itself */
	e.kind = QH_FD_DIR;
	e.flags = 0;
	e.path_len = 0;
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, "/");
	/* a memfd: its own pseudo root, named as simple_dname() does */
	e.kind = QH_FD_MEMFD;
	e.flags = QH_FDX_DELETED;
	exit_path(&e, (const char *const[]){ "memfd:cache" }, 1);
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, "/memfd:cache (deleted)");
	/* pipes and anonymous inodes by kind; a socket /proc/net does not list, "socket" */
	e.kind = QH_FD_PIPE;
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, "pipe");
	memset(&e, 0, sizeof(e));
	e.kind = QH_FD_SOCKET;
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, "socket");
	/* a listener, by its address; TCP sockets keep their state */
	e.flags = QH_FDX_INET;
	e.state = 10;
	memcpy(e.laddr, (uint8_t[]){ 127, 0, 0, 1 }, 4);
	e.lport = 8080;
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, "tcp listen 127.0.0.1:8080");
	assert_int_equal(st, 10);
	/* accepted on it: the port it was accepted on */
	e.flags |= QH_FDX_ACCEPTED;
	e.state = 8;
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, "tcp 127.0.0.1:8080 <- *");
	assert_int_equal(st, 8);
	/* a connection to a service, v6: the service */
	memset(&e, 0, sizeof(e));
	e.kind = QH_FD_SOCKET;
	e.flags = QH_FDX_INET | QH_FDX_V6;
	e.state = 1;
	e.raddr[15] = 1;
	e.rport = 5432;
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, "tcp6 -> [::1]:5432");
	/* a bound UDP socket: its address, and no TCP state */
	memset(&e, 0, sizeof(e));
	e.kind = QH_FD_SOCKET;
	e.flags = QH_FDX_INET | QH_FDX_UDP;
	e.lport = 53;
	fdtable__exit_target(&e, pat, sizeof(pat), &st);
	assert_string_equal(pat, "udp 0.0.0.0:53");
	assert_int_equal(st, 0);
}

/*
 * open_at_exit: the kernel's runs of one group add up to one finding per (process, group), the
 * site of the newest; a process whose records were partly lost says so, and one whose records
 * were all lost still has a finding for what it held.
 */
static void test_at_exit(void **state)
{
	struct fdleaks *f = fdleaks__new(64);
	struct proc p = { .pid = 7, .comm = "y" }, q = { .pid = 8, .comm = "z" };
	struct proc r = { .pid = 9, .comm = "w" };
	struct qh_fd a = { .ts_ns = 100, .nr = 257 }, b = { .ts_ns = 200, .nr = 2 };
	struct qh_fd pipe = { .ts_ns = 150, .nr = 293 };
	const struct fd_leak *l;

	(void)state;
	/* two runs of one file (interrupted by a pipe), by openat then open */
	assert_int_equal(fdleaks__at_exit(f, &p, QH_FD_FILE, "/etc/hostname", 0, 30, &a), 0);
	assert_int_equal(fdleaks__at_exit(f, &p, QH_FD_PIPE, "pipe", 0, 2, &pipe), 0);
	assert_int_equal(fdleaks__at_exit(f, &p, QH_FD_FILE, "/etc/hostname", 0, 10, &b), 0);
	/* the same file held by another process: its own finding */
	assert_int_equal(fdleaks__at_exit(f, &q, QH_FD_FILE, "/etc/hostname", 0, 1, &a), 0);
	/* a listener: a socket finding */
	assert_int_equal(fdleaks__at_exit(f, &p, QH_FD_SOCKET, "tcp listen 127.0.0.1:1", 10, 1, &a),
			 0);
	assert_int_equal(fdleaks__count(f), 4);
	l = fdleaks__get(f, 0);
	assert_ptr_equal(l->proc, &p);
	assert_int_equal(l->count, 40);
	assert_string_equal(l->target, "/etc/hostname");
	assert_string_equal(l->reason, "open_at_exit");
	assert_string_equal(l->site, "open"); /* the newest (stamp 200) */
	assert_int_equal(l->opener.ts_ns, 200);
	/* 40 of 64: high (from 16) */
	assert_int_equal(l->severity, SEV_HIGH);
	assert_false(l->incomplete);
	l = fdleaks__get(f, 3);
	assert_true(fd_leak__is_socket(l));
	assert_int_equal(l->tcp_state, 10);
	/* 3 of p's fds came in no record */
	assert_int_equal(fdleaks__exit_unsent(f, &p, 3), 0);
	for (size_t i = 0; (l = fdleaks__get(f, i)); i++)
		assert_int_equal(l->incomplete, l->proc == &p);
	/* a process none of whose records came: one finding stands for its fds */
	assert_int_equal(fdleaks__exit_unsent(f, &r, 5), 0);
	assert_int_equal(fdleaks__exit_unsent(f, &q, 0), 0); /* nothing lost: nothing changes */
	assert_int_equal(fdleaks__count(f), 5);
	for (size_t i = 0; (l = fdleaks__get(f, i)); i++) {
		if (l->proc != &r)
			continue;
		assert_int_equal(l->kind, QH_FD_UNKNOWN);
		assert_int_equal(l->count, 5);
		assert_true(l->incomplete);
		assert_string_equal(l->reason, "open_at_exit");
	}
	fdleaks__free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify), cmocka_unit_test(test_parse_tcp),
		cmocka_unit_test(test_read_self), cmocka_unit_test(test_growth),
		cmocka_unit_test(test_read_no_fds),
		cmocka_unit_test(test_at_end), cmocka_unit_test(test_many_groups),
		cmocka_unit_test(test_exit_target), cmocka_unit_test(test_at_exit),
	};

	return cmocka_run_group_tests_name("fds", tests, NULL, NULL);
}
