// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CI jobs (monitor): which environment or cgroup names a job, and a job's life: roots that
 * come and go (a runner's steps), the grace after the last one, reports apart by name.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "jobs.h"

#define SEC 1000000000ULL

/* an environment as /proc/PID/environ has it: NUL-separated, @s given with '|' between */
static size_t env_of(const char *s, char *buf, size_t size)
{
	size_t n = strlen(s), i;

	assert_true(n < size);
	for (i = 0; i < n; i++)
		buf[i] = s[i] == '|' ? '\0' : s[i];
	buf[n] = '\0';
	return n + 1;
}

static void test_builtin_kinds(void **state)
{
	struct job_rules r = {};
	struct job_match m;
	char env[512];
	size_t n;

	(void)state;
	n = env_of("PATH=/bin|GITHUB_RUN_ID=123456789|HOME=/h|GITHUB_JOB=build|"
		   "GITHUB_WORKFLOW=CI", env, sizeof(env));
	assert_true(jobs__match_env(&r, env, n, &m));
	assert_int_equal(m.kind, JOB_GITHUB);
	assert_string_equal(m.key, "123456789/build");
	assert_string_equal(m.name, "CI/build");
	assert_string_equal(m.var, "GITHUB_RUN_ID");
	assert_string_equal(job_kind__str(m.kind), "github");

	/* GitHub's run id alone is no job: the runner's own processes have it */
	n = env_of("GITHUB_RUN_ID=1|CI_JOB_ID=4711|CI_JOB_NAME=test", env, sizeof(env));
	assert_true(jobs__match_env(&r, env, n, &m));
	assert_int_equal(m.kind, JOB_GITLAB);
	assert_string_equal(m.key, "4711");
	assert_string_equal(m.name, "test");

	n = env_of("BUILD_TAG=jenkins-app-42|JOB_NAME=app", env, sizeof(env));
	assert_true(jobs__match_env(&r, env, n, &m));
	assert_int_equal(m.kind, JOB_JENKINS);
	assert_string_equal(m.key, "jenkins-app-42");
	assert_string_equal(m.name, "app");

	n = env_of("BUILDKITE_JOB_ID=0190-ab|BUILDKITE_LABEL=:pytest:", env, sizeof(env));
	assert_true(jobs__match_env(&r, env, n, &m));
	assert_int_equal(m.kind, JOB_BUILDKITE);
	assert_string_equal(m.key, "0190-ab");
	assert_string_equal(m.name, ":pytest:");
}

static void test_no_job(void **state)
{
	struct job_rules r = { .env = { "MY_JOB" }, .n_env = 1 };
	struct job_match m;
	char env[256];
	size_t n;

	(void)state;
	/* empty values, names that only start alike, no '=' */
	n = env_of("CI_JOB_ID=|BUILD_TAGX=1|MY_JOB|MY_JOB_ID=7|GITHUB_JOB=build", env,
		   sizeof(env));
	assert_false(jobs__match_env(&r, env, n, &m));
	assert_false(jobs__match_env(&r, env, 0, &m));
	/* a last string cut short still counts up to where it was cut */
	n = env_of("A=1|MY_JOB=abc", env, sizeof(env));
	assert_true(jobs__match_env(&r, env, n - 2, &m));
	assert_int_equal(m.kind, JOB_ENV);
	assert_string_equal(m.key, "ab");
}

static void test_job_env_and_controls(void **state)
{
	struct job_rules r = { .env = { "A_JOB", "B_JOB" }, .n_env = 2 };
	struct job_match m;
	char env[256];
	size_t n;

	(void)state;
	n = env_of("B_JOB=second|A_JOB=first\x1b[31m", env, sizeof(env));
	assert_true(jobs__match_env(&r, env, n, &m));
	assert_string_equal(m.var, "A_JOB");
	/* control bytes from a job's environment never reach a report or a terminal */
	assert_string_equal(m.key, "first?[31m");
	/* the built-in kinds come first */
	n = env_of("A_JOB=x|CI_JOB_ID=9", env, sizeof(env));
	assert_true(jobs__match_env(&r, env, n, &m));
	assert_int_equal(m.kind, JOB_GITLAB);
}

static void test_cgroup(void **state)
{
	struct job_rules r = { .cgroup = { "/runner.slice/job-*.scope", "*/docker-*.scope" },
			       .n_cgroup = 2 };
	struct job_match m;

	(void)state;
	assert_true(jobs__match_cgroup(&r, "/runner.slice/job-17.scope", &m));
	assert_int_equal(m.kind, JOB_CGROUP);
	assert_string_equal(m.key, "/runner.slice/job-17.scope");
	assert_true(jobs__match_cgroup(&r, "/system.slice/docker-ab12.scope", &m));
	assert_false(jobs__match_cgroup(&r, "/user.slice/user-1000.slice/session-2.scope", &m));
	assert_false(jobs__match_cgroup(&r, "/runner.slice/job-17.scope/sub", &m));
}

static void test_cgroup_names(void **state)
{
	char buf[128];
	static const char id[] =
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char path[256];

	(void)state;
	jobs__cgroup_unit("/system.slice/actions.runner.x.service", buf, sizeof(buf));
	assert_string_equal(buf, "actions.runner.x.service");
	jobs__cgroup_unit("/runner.slice/job-17.scope/sub", buf, sizeof(buf));
	assert_string_equal(buf, "job-17.scope");
	jobs__cgroup_unit("/", buf, sizeof(buf));
	assert_string_equal(buf, "");
	jobs__cgroup_unit("/user.slice/.scope", buf, sizeof(buf));
	assert_string_equal(buf, "");

	snprintf(path, sizeof(path), "/system.slice/docker-%s.scope", id);
	jobs__container_id(path, buf, sizeof(buf));
	assert_string_equal(buf, id);
	snprintf(path, sizeof(path), "/kubepods/burstable/pod1/%s", id);
	jobs__container_id(path, buf, sizeof(buf));
	assert_string_equal(buf, id);
	/* 65 hex digits, or 63: no container id */
	snprintf(path, sizeof(path), "/docker/%sa", id);
	jobs__container_id(path, buf, sizeof(buf));
	assert_string_equal(buf, "");
	snprintf(path, sizeof(path), "/docker/%s", id + 1);
	jobs__container_id(path, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

static struct job_match match(enum job_kind k, const char *key)
{
	struct job_match m = { .kind = k };

	snprintf(m.key, sizeof(m.key), "%s", key);
	return m;
}

static void test_life(void **state)
{
	struct jobs j;
	struct job_match a = match(JOB_GITLAB, "1"), b = match(JOB_GITLAB, "2");
	struct job *ja, *jb, *again;

	(void)state;
	jobs__init(&j);
	ja = jobs__root(&j, &a, 10 * SEC);
	jb = jobs__root(&j, &b, 11 * SEC);
	assert_non_null(ja);
	assert_non_null(jb);
	assert_int_equal(ja->id, 1);
	assert_int_equal(jb->id, 2);
	assert_ptr_equal(jobs__get(&j, 2), jb);
	assert_null(jobs__get(&j, 0));

	/* step 1 of job a ends; step 2 starts within the grace: the same job goes on */
	jobs__root_exited(&j, ja, 20 * SEC, 5 * SEC);
	assert_int_equal(ja->state, JOB_GRACE);
	assert_null(jobs__due(&j, 24 * SEC));
	again = jobs__root(&j, &a, 22 * SEC);
	assert_ptr_equal(again, ja);
	assert_int_equal(ja->state, JOB_RUNNING);
	assert_int_equal(ja->roots, 2);
	assert_null(jobs__due(&j, 100 * SEC));

	/* two roots alive: only the last one's exit starts the grace */
	assert_ptr_equal(jobs__root(&j, &a, 23 * SEC), ja);
	jobs__root_exited(&j, ja, 30 * SEC, 5 * SEC);
	assert_int_equal(ja->state, JOB_RUNNING);
	jobs__root_exited(&j, ja, 31 * SEC, 5 * SEC);
	assert_int_equal(ja->state, JOB_GRACE);
	assert_null(jobs__due(&j, 35 * SEC));
	assert_ptr_equal(jobs__due(&j, 36 * SEC), ja);
	jobs__done(&j, ja);
	assert_null(jobs__get(&j, 1));
	assert_int_equal(j.finished[JOB_GITLAB], 1);
	assert_int_equal(j.started[JOB_GITLAB], 2);

	/* the same key after its report: a new job */
	ja = jobs__root(&j, &a, 40 * SEC);
	assert_int_equal(ja->id, 3);
	assert_int_equal(j.n, 2);
	jobs__free(&j);
}

static void test_report_name(void **state)
{
	struct job job = { .id = 7, .m = match(JOB_ENV, "../../etc/passwd x") };
	char name[128];

	(void)state;
	assert_int_equal(jobs__report_name(&job, name, sizeof(name)), 0);
	assert_string_equal(name, "job-env-_._.__etc_passwd_x-7.json");
	assert_null(strchr(name, '/'));
	assert_int_equal(jobs__report_name(&job, name, 10), -ENAMETOOLONG);
	job.m = match(JOB_GITHUB, "123/build");
	assert_int_equal(jobs__report_name(&job, name, sizeof(name)), 0);
	assert_string_equal(name, "job-github-123_build-7.json");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtin_kinds),
		cmocka_unit_test(test_no_job),
		cmocka_unit_test(test_job_env_and_controls),
		cmocka_unit_test(test_cgroup),
		cmocka_unit_test(test_cgroup_names),
		cmocka_unit_test(test_life),
		cmocka_unit_test(test_report_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
