// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Verified cleanup on real child processes (no root needed: they are ours): SIGTERM, the
 * escalation to SIGKILL, reaping, and the refusals that keep it from hitting anything else:
 * a process not in the model, and a pid whose start time is not the model's (reused).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "cleanup.h"
#include "procfs.h"
#include "proctree.h"

enum child_mode { CHILD_WAIT, CHILD_DEAF_TO_TERM, CHILD_EXIT };

/* A child that is ready (its SIGTERM disposition set) when this returns. */
static pid_t spawn(enum child_mode mode)
{
	int p[2];
	pid_t pid;
	char b;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (mode == CHILD_DEAF_TO_TERM)
			signal(SIGTERM, SIG_IGN);
		if (mode == CHILD_EXIT)
			_exit(0);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (mode != CHILD_EXIT)
		assert_int_equal(read(p[0], &b, 1), 1);
	close(p[0]);
	return pid;
}

static bool running(pid_t pid)
{
	struct procfs_stat st;

	return !procfs__read_stat(pid, &st) && st.state != 'Z';
}

/* The model's entry for @pid, with its start time as /proc gives it, shifted by @skew_ns. */
static struct proc *model(struct proctree *t, pid_t pid, int64_t skew_ns)
{
	struct procfs_stat st;
	struct proc *p;

	assert_int_equal(procfs__read_stat(pid, &st), 0);
	p = proctree__add(t, pid, st.start_ns + skew_ns);
	assert_non_null(p);
	snprintf(p->comm, sizeof(p->comm), "%s", "test_cleanup");
	return p;
}

static struct cleanup *new_cleanup(void)
{
	struct cleanup *c = cleanup__new(&(struct cleanup_opts){ .timeout_ms = 300,
								 .max_attempts = 2 });

	assert_non_null(c);
	return c;
}

static void test_sigterm(void **state)
{
	struct proctree *t = proctree__new();
	struct cleanup *c = new_cleanup();
	const struct cleanup_action *a;
	pid_t pid = spawn(CHILD_WAIT);
	struct proc *p = model(t, pid, 0);
	uint32_t att, ok, bad;

	(void)state;
	assert_int_equal(cleanup__run(c, t, &p, 1), 0);
	assert_int_equal(cleanup__actions(c, &a), 1);
	assert_int_equal(a->pid, pid);
	assert_int_equal(a->signal, SIGTERM);
	assert_int_equal(a->attempts, 1);
	assert_true(a->verified);
	assert_true(a->reaped); /* our child: reaped, so waitpid finds nothing */
	assert_string_equal(a->error, "");
	assert_int_equal(waitpid(pid, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
	cleanup__counts(c, &att, &ok, &bad);
	assert_int_equal(att, 1);
	assert_int_equal(ok, 1);
	assert_int_equal(bad, 0);
	cleanup__free(c);
	proctree__free(t);
}

static void test_sigkill_after_ignored_sigterm(void **state)
{
	struct proctree *t = proctree__new();
	struct cleanup *c = new_cleanup();
	const struct cleanup_action *a;
	pid_t pid = spawn(CHILD_DEAF_TO_TERM);
	struct proc *p = model(t, pid, 0);

	(void)state;
	assert_int_equal(cleanup__run(c, t, &p, 1), 0);
	assert_int_equal(cleanup__actions(c, &a), 1);
	assert_int_equal(a->signal, SIGKILL);
	assert_int_equal(a->attempts, 2);
	assert_true(a->verified);
	assert_false(running(pid));
	cleanup__free(c);
	proctree__free(t);
}

static void test_refuses_outside_tree(void **state)
{
	struct proctree *t = proctree__new(), *other = proctree__new();
	struct cleanup *c = new_cleanup();
	const struct cleanup_action *a;
	pid_t pid = spawn(CHILD_WAIT);
	struct proc *p = model(other, pid, 0); /* known, but to another model */

	(void)state;
	assert_int_equal(cleanup__run(c, t, &p, 1), 0);
	assert_int_equal(cleanup__actions(c, &a), 1);
	assert_int_equal(a->signal, 0);
	assert_int_equal(a->attempts, 0);
	assert_false(a->verified);
	assert_non_null(strstr(a->error, "refused"));
	assert_true(running(pid));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cleanup__free(c);
	proctree__free(t);
	proctree__free(other);
}

static void test_reused_pid_not_signalled(void **state)
{
	struct proctree *t = proctree__new();
	struct cleanup *c = new_cleanup();
	const struct cleanup_action *a;
	pid_t pid = spawn(CHILD_WAIT);
	/* the model's process had this pid 10 s earlier: the one there now is another */
	struct proc *p = model(t, pid, -10000000000LL);

	(void)state;
	assert_int_equal(cleanup__run(c, t, &p, 1), 0);
	assert_int_equal(cleanup__actions(c, &a), 1);
	assert_int_equal(a->signal, 0);
	assert_int_equal(a->attempts, 0);
	assert_true(a->verified); /* the model's process is gone: its pid was released */
	assert_non_null(strstr(a->error, "another process"));
	assert_true(running(pid));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cleanup__free(c);
	proctree__free(t);
}

static void test_already_gone(void **state)
{
	struct proctree *t = proctree__new();
	struct cleanup *c = new_cleanup();
	const struct cleanup_action *a;
	pid_t pid = spawn(CHILD_WAIT);
	struct proc *p = model(t, pid, 0);

	(void)state;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(cleanup__run(c, t, &p, 1), 0);
	assert_int_equal(cleanup__actions(c, &a), 1);
	assert_int_equal(a->attempts, 0);
	assert_true(a->verified);
	cleanup__free(c);
	proctree__free(t);
}

static void test_zombie_kept_for_the_loop(void **state)
{
	struct proctree *t = proctree__new();
	struct cleanup *c = new_cleanup();
	const struct cleanup_action *a;
	pid_t pid = spawn(CHILD_WAIT), zpid = spawn(CHILD_EXIT);
	struct proc *procs[2];
	int status;

	(void)state;
	/* zpid exits at once: a zombie of ours, which counts as gone without a signal */
	while (running(zpid))
		usleep(1000);
	procs[0] = model(t, pid, 0);
	procs[1] = model(t, zpid, 0);
	cleanup__keep_child(c, pid);
	assert_int_equal(cleanup__run(c, t, procs, 2), 0);
	assert_int_equal(cleanup__actions(c, &a), 2);
	assert_true(a[0].verified && a[1].verified);
	assert_int_equal(a[0].signal, SIGTERM);
	assert_false(a[0].reaped); /* the event loop's child: left for it to reap */
	assert_int_equal(a[1].attempts, 0);
	assert_true(a[1].reaped);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	cleanup__free(c);
	proctree__free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigterm),
		cmocka_unit_test(test_sigkill_after_ignored_sigterm),
		cmocka_unit_test(test_refuses_outside_tree),
		cmocka_unit_test(test_reused_pid_not_signalled),
		cmocka_unit_test(test_already_gone),
		cmocka_unit_test(test_zombie_kept_for_the_loop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
