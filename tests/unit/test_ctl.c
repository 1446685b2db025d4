// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The control socket: request parsing (every malformed line refused with a reason), the
 * server under bad clients (garbage, a line longer than the limit, a client that vanishes
 * mid-line), and the attribution of processes, fds and heap blocks to tests.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "ctlclient.h"
#include "ctlproto.h"
#include "ctlsrv.h"
#include "fdsync.h"
#include "heapcollect.h"
#include "proctree.h"
#include "testattr.h"

static int parse(const char *s, struct ctl_req *r, char *why)
{
	return ctlproto__parse(s, strlen(s), r, why, 160);
}

static void test_parse_good(void **state)
{
	struct ctl_req r;
	char why[160];

	(void)state;
	assert_int_equal(parse("{\"op\":\"mark\",\"event\":\"begin\",\"name\":\"t::a[1]\","
			       "\"pid\":42,\"phase\":\"call\",\"id\":7}", &r, why), 0);
	assert_int_equal(r.op, CTL_MARK);
	assert_int_equal(r.event, CTL_BEGIN);
	assert_int_equal(r.phase, CTL_PHASE_CALL);
	assert_int_equal(r.pid, 42);
	assert_string_equal(r.name, "t::a[1]");
	assert_string_equal(r.id, "7");
	assert_int_equal(parse("{\"op\":\"mark\",\"event\":\"end\",\"name\":\"x\",\"outcome\":"
			       "\"failed\",\"kind\":\"fixture\"}  ", &r, why), 0);
	assert_true(r.fixture);
	assert_string_equal(r.outcome, "failed");
	assert_int_equal(r.phase, CTL_PHASE_NONE);
	assert_int_equal(parse("{\"op\":\"stats\",\"id\":\"a\"}", &r, why), 0);
	assert_int_equal(r.op, CTL_STATS);
	assert_string_equal(r.id, "\"a\"");
	assert_int_equal(parse("{\"op\":\"snapshot\",\"name\":\"after login\"}", &r, why), 0);
	assert_int_equal(r.op, CTL_SNAPSHOT);
	assert_int_equal(parse("{\"op\":\"status\"}", &r, why), 0);
	assert_int_equal(r.op, CTL_STATUS);
	assert_int_equal(r.top, QH_CTL_TOP_DEFAULT);
	assert_int_equal(parse("{\"op\":\"status\",\"top\":0,\"id\":3}", &r, why), 0);
	assert_int_equal(r.top, 0);
	assert_string_equal(r.id, "3");
	assert_int_equal(parse("{\"op\":\"status\",\"top\":1000}", &r, why), 0);
	assert_int_equal(r.top, QH_CTL_TOP_MAX);
}

static void test_parse_bad(void **state)
{
	static const char *const bad[][2] = {
		{ "garbage", "not JSON" },
		{ "[1,2]", "a request is a JSON object" },
		{ "{}", "\"op\"" },
		{ "{\"op\":5}", "\"op\"" },
		{ "{\"op\":\"launch\"}", "unknown \"op\"" },
		{ "{\"op\":\"mark\",\"event\":\"begin\"}", "\"name\" is missing" },
		{ "{\"op\":\"mark\",\"event\":\"go\",\"name\":\"a\"}", "\"event\"" },
		{ "{\"op\":\"mark\",\"event\":\"begin\",\"name\":\"a\\nb\"}", "control characters" },
		{ "{\"op\":\"mark\",\"event\":\"begin\",\"name\":\"a\",\"pid\":-1}", "\"pid\"" },
		{ "{\"op\":\"mark\",\"event\":\"begin\",\"name\":\"a\",\"pid\":1.5}", "\"pid\"" },
		{ "{\"op\":\"mark\",\"event\":\"begin\",\"name\":\"a\",\"phase\":\"lunch\"}",
		  "\"phase\"" },
		{ "{\"op\":\"mark\",\"event\":\"end\",\"name\":\"a\",\"outcome\":\"meh\"}",
		  "\"outcome\"" },
		{ "{\"op\":\"stats\"}{\"op\":\"stats\"}", "text after" },
		{ "{\"op\":\"stats\",\"id\":[1]}", "\"id\"" },
		{ "{\"op\":\"stats\"", "not JSON" },
		{ "{\"op\":\"status\",\"top\":1001}", "\"top\" must be an integer in 0..1000" },
		{ "{\"op\":\"status\",\"top\":-1}", "\"top\"" },
		{ "{\"op\":\"status\",\"top\":2.5}", "\"top\"" },
		{ "{\"op\":\"status\",\"top\":\"10\"}", "\"top\"" },
	};
	struct ctl_req r;
	char why[160], big[QH_CTL_NAME_MAX + 64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i][0], &r, why), -EINVAL);
		if (!strstr(why, bad[i][1]))
			fail_msg("'%s': '%s' does not say '%s'", bad[i][0], why, bad[i][1]);
	}
	/* a name over the limit, and a NUL inside the line */
	snprintf(big, sizeof(big), "{\"op\":\"snapshot\",\"name\":\"%0*d\"}", QH_CTL_NAME_MAX + 1,
		 0);
	assert_int_equal(parse(big, &r, why), -EINVAL);
	assert_non_null(strstr(why, "longer"));
	assert_int_equal(ctlproto__parse("{\"op\":\"stats\"}\0x", 16, &r, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(ctlproto__parse("x", QH_CTL_MAX_LINE + 1, &r, why, sizeof(why)),
			 -EINVAL);
}

/* --- the server ----------------------------------------------------------------------------- */

static int handled;

static int handler(void *ctx, const struct ctl_req *r, const struct ctl_peer *p, cJSON *reply)
{
	(void)ctx;
	handled++;
	assert_int_equal(p->pid, getpid());
	if (r->op == CTL_MARK && !strcmp(r->name, "refuse")) {
		cJSON_AddStringToObject(reply, "error", "refused by the test");
		return -EINVAL;
	}
	cJSON_AddNumberToObject(reply, "op", r->op);
	return 0;
}

static int client(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a;
	unsigned int alen;

	assert_true(fd >= 0);
	assert_int_equal(ctl__sockaddr(path, &a, &alen), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, alen), 0);
	return fd;
}

/* Send @s, let the server work, read one reply line into @buf. */
static void ask(struct ctlsrv *s, int fd, const char *req, size_t len, char *buf, size_t cap)
{
	size_t got = 0, sent = 0;
	int i;

	while (sent < len) {
		ssize_t n = send(fd, req + sent, len - sent, MSG_DONTWAIT);

		if (n > 0)
			sent += n;
		ctlsrv__process(s);
	}
	for (i = 0; i < 1000 && !memchr(buf, '\n', got); i++) {
		ssize_t n;

		ctlsrv__process(s);
		n = recv(fd, buf + got, cap - 1 - got, MSG_DONTWAIT);
		if (n > 0)
			got += n;
		buf[got] = '\0';
		if (n <= 0)
			usleep(1000);
	}
	buf[got] = '\0';
}

/* ask(), on the test's server, first client and buffer */
#define ASK(req) ask(s, fd, req, strlen(req), buf, sizeof(buf))

/* QHTRACE_SOCKET's names: "@NAME" abstract (no NUL in the length), a path otherwise. */
static void test_sockaddr(void **state)
{
	char longname[200];
	struct sockaddr_un a;
	unsigned int alen;

	(void)state;
	assert_int_equal(ctl__sockaddr("@qhtrace-1-0a", &a, &alen), 0);
	assert_int_equal(a.sun_path[0], '\0');
	assert_memory_equal(a.sun_path + 1, "qhtrace-1-0a", 12);
	assert_int_equal(alen, offsetof(struct sockaddr_un, sun_path) + 13);
	assert_int_equal(ctl__sockaddr("/run/x.sock", &a, &alen), 0);
	assert_string_equal(a.sun_path, "/run/x.sock");
	assert_int_equal(alen, offsetof(struct sockaddr_un, sun_path) + 12);
	assert_int_equal(ctl__sockaddr("@", &a, &alen), -EINVAL);
	assert_int_equal(ctl__sockaddr("", &a, &alen), -EINVAL);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(ctl__sockaddr(longname, &a, &alen), -ENAMETOOLONG);
	longname[0] = '@';
	longname[sizeof(a.sun_path)] = '\0'; /* 108 bytes: '\0' and 107 of the name fit */
	assert_int_equal(ctl__sockaddr(longname, &a, &alen), 0);
	longname[sizeof(a.sun_path)] = 'x';
	longname[sizeof(a.sun_path) + 1] = '\0';
	assert_int_equal(ctl__sockaddr(longname, &a, &alen), -ENAMETOOLONG);
}

static void test_server_bad_clients(void **state)
{
	char buf[4096], path[256];
	struct ctlsrv *s;
	char *huge;
	uint64_t ok, refused;
	int fd, fd2;

	(void)state;
	assert_int_equal(ctlsrv__open(&s, getuid(), handler, NULL), 0);
	snprintf(path, sizeof(path), "%s", ctlsrv__path(s));
	/* an abstract name, with no file behind it */
	assert_int_equal(strncmp(path, "@qhtrace-", 9), 0);
	fd = client(path);

	ASK("garbage\n");
	assert_non_null(strstr(buf, "\"ok\":false"));
	assert_non_null(strstr(buf, "not JSON"));
	/* a refused request, and then a good one on the same connection, in order */
	buf[0] = '\0';
	ASK("{\"op\":\"mark\",\"event\":\"begin\",\"name\":\"refuse\",\"id\":1}\n");
	assert_non_null(strstr(buf, "refused by the test"));
	assert_non_null(strstr(buf, "\"id\":1"));
	ASK("{\"op\":\"stats\"}\n");
	if (strcmp(buf, "{\"ok\":true,\"op\":1}\n"))
		fail_msg("reply: '%s'", buf);

	/* a line over the limit: one error, its rest discarded, the connection still serves */
	huge = malloc(3 * QH_CTL_MAX_LINE + 1);
	assert_non_null(huge);
	memset(huge, 'x', 3 * QH_CTL_MAX_LINE);
	huge[3 * QH_CTL_MAX_LINE] = '\n';
	ask(s, fd, huge, 3 * QH_CTL_MAX_LINE + 1, buf, sizeof(buf));
	free(huge);
	assert_non_null(strstr(buf, "longer than 8192 bytes"));
	assert_null(strchr(strchr(buf, '\n') + 1, '{'));
	ASK("{\"op\":\"stats\"}\n");
	assert_string_equal(buf, "{\"ok\":true,\"op\":1}\n");

	/* a client that vanishes in the middle of a line, and one that vanishes unanswered */
	fd2 = client(path);
	assert_int_equal(send(fd2, "{\"op\":\"sta", 10, 0), 10);
	ctlsrv__process(s);
	close(fd2);
	fd2 = client(path);
	assert_int_equal(send(fd2, "{\"op\":\"stats\"}\n", 15, 0), 15);
	close(fd2);
	ctlsrv__process(s);
	ctlsrv__process(s);
	/* the first client is still served */
	ASK("{\"op\":\"snapshot\"}\n");
	assert_string_equal(buf, "{\"ok\":true,\"op\":2}\n");
	ctlsrv__counts(s, &ok, &refused);
	assert_true(ok >= 3);
	assert_true(refused >= 3);
	close(fd);
	ctlsrv__close(s);
	/* the name is free again once the server is closed */
	fd2 = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un a;
		unsigned int alen;

		assert_int_equal(ctl__sockaddr(path, &a, &alen), 0);
		assert_int_equal(connect(fd2, (struct sockaddr *)&a, alen), -1);
		assert_int_equal(errno, ECONNREFUSED);
	}
	close(fd2);
}

/* --- attribution ---------------------------------------------------------------------------- */

static struct proc procs[4];

static struct proc *by_tgid(void *ctx, uint32_t tgid)
{
	size_t i;

	(void)ctx;
	for (i = 0; i < 4; i++)
		if (procs[i].pid == tgid)
			return &procs[i];
	return NULL;
}

static struct proc *by_gen(void *ctx, uint32_t tgid, uint32_t gen)
{
	(void)gen;
	return by_tgid(ctx, tgid);
}

static int no_table(void *ctx, pid_t pid, struct fd_table *t)
{
	(void)ctx;
	(void)pid;
	memset(t, 0, sizeof(*t));
	return -ENOENT;
}

static int32_t mark(struct testattr *ta, int ev, const char *name, struct proc *p, uint64_t now)
{
	struct ctl_req r = { .op = CTL_MARK, .event = ev, .phase = CTL_PHASE_NONE };
	char why[160];

	snprintf(r.name, sizeof(r.name), "%s", name);
	return testattr__mark(ta, &r, p, now, -1, why, sizeof(why));
}

#define MS 1000000ULL

static void test_attribution(void **state)
{
	struct testattr_ops ops = { by_tgid, by_gen, no_table, NULL };
	struct testattr *ta = testattr__new(1000 * MS, 64);
	struct proc *py = &procs[0], *child = &procs[1], *grand = &procs[2], *late = &procs[3];
	struct fd_rec recs[3] = {};
	struct heap_block b[2] = {};
	int32_t a, c;

	(void)state;
	memset(procs, 0, sizeof(procs));
	py->pid = 100, child->pid = 101, grand->pid = 102, late->pid = 103;
	a = mark(ta, CTL_BEGIN, "t::a", py, 1000 * MS);
	assert_int_equal(a, 0);
	/* a second begin of an open section is refused; an end of an unknown one too */
	assert_int_equal(mark(ta, CTL_BEGIN, "t::a", py, 1001 * MS), -EINVAL);
	assert_int_equal(mark(ta, CTL_END, "t::zz", py, 1001 * MS), -EINVAL);
	/* a child of the test, and its own child later: both the test's */
	testattr__fork(ta, child, py, 1010 * MS);
	testattr__fork(ta, grand, child, 1020 * MS);
	assert_int_equal(testattr__owner(ta, child), a);
	assert_int_equal(testattr__owner(ta, grand), a);
	/* fd 5 opened during the test, fd 4 long before it, fd 1 (stdio) ignored */
	recs[0] = (struct fd_rec){ { 100, 5 }, { .ts_ns = 1090 * MS, .nr = 257 } };
	recs[1] = (struct fd_rec){ { 100, 4 }, { .ts_ns = 500 * MS, .nr = 257 } };
	recs[2] = (struct fd_rec){ { 100, 1 }, { .ts_ns = 1030 * MS, .nr = 33 } };
	b[0] = (struct heap_block){ { 100, 0, 0x1000 }, { .size = 4096, .ts_ns = 1040 * MS } };
	b[1] = (struct heap_block){ { 100, 0, 0x2000 }, { .size = 64, .ts_ns = 900 * MS } };
	assert_int_equal(mark(ta, CTL_END, "t::a", py, 1100 * MS), a);
	assert_true(testattr__ended(ta, a));
	assert_int_equal(testattr__fds_at_end(ta, a, recs, 3, &ops), 0);
	assert_int_equal(testattr__heap_at_end(ta, a, b, 2, &ops), 0);
	assert_int_equal(testattr__get(ta, a)->nfds, 1);
	assert_int_equal(testattr__get(ta, a)->fds[0].fd, 5);
	assert_int_equal(testattr__get(ta, a)->heap_new_bytes, 4096);
	assert_int_equal(testattr__block_test(ta, py, &b[0].k, &b[0].a), a);
	assert_int_equal(testattr__block_test(ta, py, &b[1].k, &b[1].a), -1);

	/*
	 * the next test: fd 5 was there at the previous end, though another walk of the map
	 * converts its stamp to a moment after this test began
	 */
	c = mark(ta, CTL_BEGIN, "t::c", py, 1101 * MS);
	recs[0].v.ts_ns = 1103 * MS;
	testattr__fork(ta, late, py, 1150 * MS);
	assert_int_equal(testattr__owner(ta, late), c);
	assert_int_equal(mark(ta, CTL_END, "t::c", py, 1200 * MS), c);
	assert_int_equal(testattr__fds_at_end(ta, c, recs, 1, &ops), 0);
	assert_int_equal(testattr__get(ta, c)->nfds, 0);

	/* due once the grace is over, each once */
	assert_int_equal(testattr__next_due(ta, 1500 * MS, false), -1);
	assert_int_equal(testattr__next_due(ta, 2150 * MS, false), a);
	assert_int_equal(testattr__next_due(ta, 2150 * MS, false), -1);
	assert_int_equal(testattr__next_due(ta, 0, true), c);
	assert_int_equal(testattr__next_due(ta, 0, true), -1);
	testattr__free(ta);
}

static void test_fixture_and_env(void **state)
{
	struct testattr *ta = testattr__new(1000 * MS, 64);
	struct proc *py = &procs[0], *drv = &procs[1], *drv2 = &procs[2];
	struct ctl_req r = { .op = CTL_MARK, .event = CTL_BEGIN, .phase = CTL_PHASE_NONE,
			     .fixture = true };
	char why[160];
	int32_t t, f;
	cJSON *name;

	(void)state;
	memset(procs, 0, sizeof(procs));
	py->pid = 100, drv->pid = 101, drv2->pid = 102;
	/* a session fixture set up inside a test's setup: what it starts is nobody's test's */
	t = mark(ta, CTL_BEGIN, "t::a", py, 10 * MS);
	strcpy(r.name, "fixture browser (session)");
	f = testattr__mark(ta, &r, py, 11 * MS, -1, why, sizeof(why));
	assert_true(f > t);
	testattr__fork(ta, drv, py, 12 * MS);
	assert_int_equal(testattr__owner(ta, drv), f);
	name = testattr__name_json(ta, f);
	assert_true(cJSON_IsNull(name));
	cJSON_Delete(name);
	testattr__free(ta);

	/* no plugin: PYTEST_CURRENT_TEST at exec names the test; the next one ends it */
	ta = testattr__new(1000 * MS, 64);
	testattr__exec_env(ta, drv, py, "tests/x.py::test_one (call)", 20 * MS);
	t = testattr__owner(ta, drv);
	assert_true(t >= 0);
	assert_string_equal(testattr__get(ta, t)->name, "tests/x.py::test_one");
	assert_int_equal(testattr__get(ta, t)->end_ns, 0);
	testattr__exec_env(ta, drv2, py, "tests/x.py::test_two (setup)", 30 * MS);
	assert_int_equal(testattr__get(ta, t)->end_ns, 30 * MS);
	assert_string_equal(testattr__get(ta, testattr__owner(ta, drv2))->name,
			    "tests/x.py::test_two");
	testattr__free(ta);
}

/* --- the client ------------------------------------------------------------------------- */

/* A server in a child that accepts one client on @lfd and does @what: 0 answers, 1 closes. */
static pid_t fake_server(int lfd, int what)
{
	pid_t pid = fork();
	char buf[256];
	int fd;

	assert_true(pid >= 0);
	if (pid)
		return pid;
	fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	if (recv(fd, buf, sizeof(buf), 0) <= 0)
		_exit(2);
	if (what == 0)
		/* the reply in two pieces, the line's end in the second */
		if (send(fd, "{\"ok\":", 6, 0) != 6 || usleep(20000) ||
		    send(fd, "true}\nrest", 10, 0) != 10)
			_exit(3);
	close(fd);
	_exit(0);
}

static int listener(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un a;
	unsigned int alen;

	assert_true(fd >= 0);
	assert_int_equal(ctl__sockaddr(path, &a, &alen), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, alen), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static void test_client(void **state)
{
	char name[64], *reply = (char *)1;
	int lfd, st;
	pid_t pid;

	(void)state;
	/* nothing there: a path that does not exist, an abstract name nobody holds */
	assert_int_equal(ctlclient__request("/nonexistent/qhtrace.sock", "{}\n", 1000, &reply),
			 -ENOENT);
	assert_null(reply);
	snprintf(name, sizeof(name), "@qhtrace-test-%d-none", (int)getpid());
	assert_int_equal(ctlclient__request(name, "{}\n", 1000, &reply), -ECONNREFUSED);
	assert_int_equal(ctlclient__request("", "{}\n", 1000, &reply), -EINVAL);

	/* a server that never accepts nor answers: the deadline holds */
	snprintf(name, sizeof(name), "@qhtrace-test-%d-mute", (int)getpid());
	lfd = listener(name);
	assert_int_equal(ctlclient__request(name, "{}\n", 200, &reply), -ETIMEDOUT);
	assert_null(reply);
	close(lfd);

	/* one that answers in pieces: the first line, without its newline */
	snprintf(name, sizeof(name), "@qhtrace-test-%d-ok", (int)getpid());
	lfd = listener(name);
	pid = fake_server(lfd, 0);
	assert_int_equal(ctlclient__request(name, "{\"op\":\"status\"}\n", 5000, &reply), 0);
	assert_string_equal(reply, "{\"ok\":true}");
	free(reply);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(st, 0);
	/* one that closes without a reply */
	pid = fake_server(lfd, 1);
	assert_int_equal(ctlclient__request(name, "{}\n", 5000, &reply), -ECONNRESET);
	assert_null(reply);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(lfd);
}

static int status_handler(void *ctx, const struct ctl_req *r, const struct ctl_peer *p,
			  cJSON *reply)
{
	(void)ctx;
	(void)p;
	cJSON_AddNumberToObject(reply, "op", r->op);
	cJSON_AddNumberToObject(reply, "top", r->top);
	return 0;
}

/* The monitor's kind of socket: a file of mode 0600, a stale one replaced, a live one kept. */
static void test_server_at_path(void **state)
{
	char dir[] = "/tmp/qhtrace-ctl-XXXXXX", path[128], *reply = NULL;
	struct ctlsrv *s, *s2;
	struct stat st;
	int fd, status;
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/monitor.sock", dir);
	/* a socket file a killed server left: nothing listens on it */
	fd = listener(path);
	close(fd);
	assert_int_equal(ctlsrv__open_at(&s, path, getuid(), status_handler, NULL), 0);
	assert_string_equal(ctlsrv__path(s), path);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a second server on it is refused, and the first keeps its file */
	assert_int_equal(ctlsrv__open_at(&s2, path, getuid(), status_handler, NULL), -EADDRINUSE);
	assert_null(s2);
	assert_int_equal(lstat(path, &st), 0);

	/* a client in a child, the server here: the status request and its "top" */
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int err = ctlclient__request(path, "{\"op\":\"status\",\"top\":3,\"id\":9}\n",
					     5000, &reply);

		_exit(err ? 10 : strcmp(reply, "{\"ok\":true,\"op\":3,\"top\":3,\"id\":9}") ? 11
											     : 0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		ctlsrv__process(s);
		usleep(1000);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	ctlsrv__close(s);
	assert_int_equal(lstat(path, &st), -1);

	/* a file that is not a socket stays, and the server does not start */
	fd = creat(path, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ctlsrv__open_at(&s, path, getuid(), status_handler, NULL), -EEXIST);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_server_bad_clients),
		cmocka_unit_test(test_attribution),
		cmocka_unit_test(test_fixture_and_env),
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_server_at_path),
	};

	return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
