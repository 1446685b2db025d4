/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * CI jobs on a node (monitor): which process starts one, and the table of jobs seen.
 *
 * A job's root is a process that exec'd with a CI job variable in its environment (GitHub
 * Actions, GitLab, Jenkins, Buildkite, or --job-env NAME) or in a cgroup that --job-cgroup
 * matches, while it was in no job yet. Everything it forks belongs to the job (the kernel copies
 * the job at fork: tracer__set_job), whatever it does to its environment later. Several roots
 * may share one job: a runner starts each step of a job as its own process with the same
 * variables. A job ends when its last root has exited and no new one came within the grace;
 * what of it is still alive then outlived it.
 *
 * No I/O here: the environment and the cgroup path are inputs, so each rule has a unit test.
 */
#ifndef __QH_JOBS_H
#define __QH_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vec.h"

#define QH_MAX_JOB_ENV 8	/* --job-env names */
#define QH_MAX_JOB_CGROUP 8	/* --job-cgroup patterns */
#define QH_JOB_KEY_MAX 160	/* a job's id as its CI names it */
#define QH_JOB_NAME_MAX 128

enum job_kind {
	JOB_GITHUB = 0,	/* GITHUB_RUN_ID + GITHUB_JOB */
	JOB_GITLAB,	/* CI_JOB_ID */
	JOB_JENKINS,	/* BUILD_TAG */
	JOB_BUILDKITE,	/* BUILDKITE_JOB_ID */
	JOB_ENV,	/* --job-env NAME */
	JOB_CGROUP,	/* --job-cgroup PATTERN */
	JOB_KINDS,
};

/* The label of a kind: "github", "gitlab", "jenkins", "buildkite", "env", "cgroup". */
const char *job_kind__str(enum job_kind k);

struct job_rules {
	const char *env[QH_MAX_JOB_ENV];	/* --job-env: more variables, in order */
	uint32_t n_env;
	const char *cgroup[QH_MAX_JOB_CGROUP];	/* --job-cgroup: fnmatch(3) on the v2 path */
	uint32_t n_cgroup;
};

/* What named a job: its kind, its id (the key jobs are told apart by) and a readable name. */
struct job_match {
	enum job_kind kind;
	char var[64];			/* the variable (or "cgroup") */
	char key[QH_JOB_KEY_MAX];	/* "123456789/build", "4711", "jenkins-app-42", a path */
	char name[QH_JOB_NAME_MAX];	/* GITHUB_WORKFLOW/GITHUB_JOB, CI_JOB_NAME, JOB_NAME, ... */
};

/*
 * The job named by an environment (@env: @len bytes of NUL-separated VAR=value strings, as
 * /proc/PID/environ gives them; a last string may be cut). The built-in variables first, in
 * the order of enum job_kind, then --job-env's. true with @m filled, false when none is there
 * (an empty value names no job).
 */
bool jobs__match_env(const struct job_rules *r, const char *env, size_t len,
		     struct job_match *m);
/*
 * Every variable name jobs__match_env looks at (the built-in kinds' and --job-env's), for the
 * kernel to look for at exec: up to @max into @names; returns how many there are.
 */
size_t jobs__env_names(const struct job_rules *r, const char **names, size_t max);

/* The job named by a cgroup v2 path ("/system.slice/x.scope"): a --job-cgroup match. */
bool jobs__match_cgroup(const struct job_rules *r, const char *path, struct job_match *m);

/*
 * What a cgroup v2 path says of where a process runs: the systemd unit (the last component
 * that ends in .service or .scope: "runner-7.scope"), and a container id (64 hex digits, as
 * docker, containerd and podman name their scopes: "docker-<id>.scope", ".../docker/<id>",
 * "cri-containerd-<id>.scope", "libpod-<id>.scope"). "" when there is none.
 */
void jobs__cgroup_unit(const char *path, char *buf, size_t len);
void jobs__container_id(const char *path, char *buf, size_t len);

enum job_state {
	JOB_RUNNING = 0,	/* a root is alive */
	JOB_GRACE,		/* every root has exited: what is left is given the grace */
	JOB_DONE,		/* reported */
};

const char *job_state__str(enum job_state s);

struct job {
	uint32_t id;		/* 1.. in order of discovery; the kernel's qh_proc.job */
	struct job_match m;
	enum job_state state;
	uint32_t roots_alive;	/* roots (processes that named it) running */
	uint32_t roots;		/* roots seen */
	uint32_t root_pid;	/* the first root */
	uint64_t root_start_ns;	/* CLOCK_BOOTTIME */
	char root_comm[16];
	char cgroup[256];	/* the first root's cgroup v2 path, "" if unknown */
	uint64_t start_ns;	/* CLOCK_BOOTTIME: the first root's exec (or seen running) */
	uint64_t end_ns;	/* the last root's exit, 0 while running */
	uint64_t due_ns;	/* JOB_GRACE: when what is left outlived it */
	uint64_t start_real_ns;	/* CLOCK_REALTIME at start, for the report */
	uint32_t procs;		/* processes seen in it */
	uint32_t outlived;	/* outlived_job leftovers at its end */
	uint32_t dropped;	/* its exited processes let go of over data.max_memory_mb */
};

/* The jobs not yet reported (a node runs a few at once); done ones are counted and freed. */
struct jobs {
	struct job **v;
	size_t n, cap;
	uint32_t next_id;
	uint64_t started[JOB_KINDS];	/* jobs seen, by kind */
	uint64_t finished[JOB_KINDS];	/* jobs reported, by kind */
};

void jobs__init(struct jobs *j);
void jobs__free(struct jobs *j);
/* The job of id @id, or NULL. */
struct job *jobs__get(struct jobs *j, uint32_t id);
/*
 * A root of the job @m names exec'd at @now: the job of that key that is not done (a new root
 * of a job in its grace brings it back to running), else a new one. NULL: out of memory.
 */
struct job *jobs__root(struct jobs *j, const struct job_match *m, uint64_t now);
/* A root of @job exited at @now: the last one starts the grace of @grace_ns. */
void jobs__root_exited(struct jobs *j, struct job *job, uint64_t now, uint64_t grace_ns);
/* The next job whose grace is over at @now (JOB_GRACE, due), or NULL. */
struct job *jobs__due(struct jobs *j, uint64_t now);
/* @job was reported: counted, taken out of the table and freed. */
void jobs__done(struct jobs *j, struct job *job);

/*
 * A file name for @job's report in the spool: "job-KIND-KEY-ID.json", every byte of the key
 * outside [A-Za-z0-9._-] as '_' (a key is text from the job's environment, and may hold "/"
 * or ".."), cut to fit NAME_MAX. 0, or -ENAMETOOLONG when @len is too small.
 */
int jobs__report_name(const struct job *job, char *buf, size_t len);

#endif
