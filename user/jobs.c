// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "vec.h"

static const char *const kind_names[JOB_KINDS] = {
	[JOB_GITHUB] = "github",   [JOB_GITLAB] = "gitlab", [JOB_JENKINS] = "jenkins",
	[JOB_BUILDKITE] = "buildkite", [JOB_ENV] = "env", [JOB_CGROUP] = "cgroup",
};

const char *job_kind__str(enum job_kind k)
{
	return k < JOB_KINDS ? kind_names[k] : "?";
}

const char *job_state__str(enum job_state s)
{
	switch (s) {
	case JOB_RUNNING:
		return "running";
	case JOB_GRACE:
		return "grace";
	case JOB_DONE:
		return "done";
	}
	return "?";
}

/* The value of @name in @env (NUL-separated, @len bytes), or NULL; *@vlen its length. */
static const char *env_get(const char *env, size_t len, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name), off = 0;

	while (off < len) {
		const char *s = env + off;
		const char *end = memchr(s, '\0', len - off);
		size_t slen = end ? (size_t)(end - s) : len - off;

		if (slen > nlen && s[nlen] == '=' && !memcmp(s, name, nlen)) {
			*vlen = slen - nlen - 1;
			return s + nlen + 1;
		}
		off += slen + 1;
	}
	return NULL;
}

/* @dst = @v (@vlen bytes; NUL and control bytes are kept out: the key names a file later) */
static void copy_val(char *dst, size_t size, const char *v, size_t vlen)
{
	size_t i;

	if (vlen >= size)
		vlen = size - 1;
	for (i = 0; i < vlen; i++)
		dst[i] = (unsigned char)v[i] < 0x20 ? '?' : v[i];
	dst[vlen] = '\0';
}

/* One built-in kind: the variables that must all be there, and the one that names it */
struct builtin {
	enum job_kind kind;
	const char *key[2];	/* joined by '/' */
	const char *name[2];	/* joined by '/', when there */
};

static const struct builtin builtins[] = {
	{ JOB_GITHUB, { "GITHUB_RUN_ID", "GITHUB_JOB" }, { "GITHUB_WORKFLOW", "GITHUB_JOB" } },
	{ JOB_GITLAB, { "CI_JOB_ID" }, { "CI_PROJECT_PATH", "CI_JOB_NAME" } },
	{ JOB_JENKINS, { "BUILD_TAG" }, { "JOB_NAME" } },
	{ JOB_BUILDKITE, { "BUILDKITE_JOB_ID" }, { "BUILDKITE_PIPELINE_SLUG", "BUILDKITE_LABEL" } },
};

static void join(char *dst, size_t size, const char *env, size_t len, const char *const vars[2])
{
	size_t vlen, at = 0;
	const char *v;
	int i;

	dst[0] = '\0';
	for (i = 0; i < 2 && vars[i]; i++) {
		v = env_get(env, len, vars[i], &vlen);
		if (!v || !vlen)
			continue;
		if (at && at + 1 < size)
			dst[at++] = '/';
		copy_val(dst + at, size - at, v, vlen);
		at = strlen(dst);
	}
}

static bool has_all(const char *env, size_t len, const char *const vars[2])
{
	size_t vlen;
	int i;

	for (i = 0; i < 2 && vars[i]; i++)
		if (!env_get(env, len, vars[i], &vlen) || !vlen)
			return false;
	return true;
}

bool jobs__match_env(const struct job_rules *r, const char *env, size_t len,
		     struct job_match *m)
{
	const char *v;
	size_t i, vlen;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		const struct builtin *b = &builtins[i];

		if (!has_all(env, len, b->key))
			continue;
		m->kind = b->kind;
		snprintf(m->var, sizeof(m->var), "%s", b->key[0]);
		join(m->key, sizeof(m->key), env, len, b->key);
		join(m->name, sizeof(m->name), env, len, b->name);
		return true;
	}
	for (i = 0; i < r->n_env; i++) {
		v = env_get(env, len, r->env[i], &vlen);
		if (!v || !vlen)
			continue;
		m->kind = JOB_ENV;
		snprintf(m->var, sizeof(m->var), "%s", r->env[i]);
		copy_val(m->key, sizeof(m->key), v, vlen);
		snprintf(m->name, sizeof(m->name), "%.*s", (int)sizeof(m->name) - 1, m->key);
		return true;
	}
	return false;
}

static void add_name(const char **names, size_t *n, size_t max, const char *name)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (!strcmp(names[i], name))
			return;
	if (*n < max)
		names[(*n)++] = name;
}

size_t jobs__env_names(const struct job_rules *r, const char **names, size_t max)
{
	size_t i, n = 0;
	int k;

	for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		for (k = 0; k < 2; k++) {
			if (builtins[i].key[k])
				add_name(names, &n, max, builtins[i].key[k]);
			if (builtins[i].name[k])
				add_name(names, &n, max, builtins[i].name[k]);
		}
	for (i = 0; i < r->n_env; i++)
		add_name(names, &n, max, r->env[i]);
	return n;
}

bool jobs__match_cgroup(const struct job_rules *r, const char *path, struct job_match *m)
{
	uint32_t i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < r->n_cgroup; i++) {
		if (fnmatch(r->cgroup[i], path, 0))
			continue;
		m->kind = JOB_CGROUP;
		snprintf(m->var, sizeof(m->var), "cgroup");
		copy_val(m->key, sizeof(m->key), path, strlen(path));
		snprintf(m->name, sizeof(m->name), "%.*s", (int)sizeof(m->name) - 1, m->key);
		return true;
	}
	return false;
}

void jobs__cgroup_unit(const char *path, char *buf, size_t len)
{
	const char *end = path + strlen(path), *start, *found = NULL;
	size_t n = 0;

	buf[0] = '\0';
	while (end > path) {
		start = end;
		while (start > path && start[-1] != '/')
			start--;
		n = end - start;
		if ((n > 8 && !memcmp(end - 8, ".service", 8)) ||
		    (n > 6 && !memcmp(end - 6, ".scope", 6))) {
			found = start;
			break;
		}
		end = start > path ? start - 1 : path;
	}
	if (found)
		snprintf(buf, len, "%.*s", (int)n, found);
}

void jobs__container_id(const char *path, char *buf, size_t len)
{
	const char *p;
	size_t run = 0;

	buf[0] = '\0';
	/* the last run of exactly 64 hex digits, bounded by a non-hex byte or the ends */
	for (p = path;; p++) {
		bool hex = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');

		if (hex) {
			run++;
			continue;
		}
		if (run == 64)
			snprintf(buf, len, "%.64s", p - 64);
		run = 0;
		if (!*p)
			break;
	}
}

void jobs__init(struct jobs *j)
{
	memset(j, 0, sizeof(*j));
}

void jobs__free(struct jobs *j)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		free(j->v[i]);
	free(j->v);
	memset(j, 0, sizeof(*j));
}

struct job *jobs__get(struct jobs *j, uint32_t id)
{
	size_t i;

	for (i = 0; id && i < j->n; i++)
		if (j->v[i]->id == id)
			return j->v[i];
	return NULL;
}

struct job *jobs__root(struct jobs *j, const struct job_match *m, uint64_t now)
{
	struct job *job, **slot;
	size_t i;

	for (i = 0; i < j->n; i++) {
		job = j->v[i];
		if (job->m.kind != m->kind || strcmp(job->m.key, m->key))
			continue;
		/* the next step of the same job: it goes on */
		job->state = JOB_RUNNING;
		job->end_ns = job->due_ns = 0;
		job->roots++;
		job->roots_alive++;
		return job;
	}
	job = calloc(1, sizeof(*job));
	if (!job)
		return NULL;
	slot = vec_push(j->v, j->n, j->cap);
	if (!slot) {
		free(job);
		return NULL;
	}
	*slot = job;
	job->id = ++j->next_id;
	job->m = *m;
	job->state = JOB_RUNNING;
	job->roots = job->roots_alive = 1;
	job->start_ns = now;
	j->started[m->kind]++;
	return job;
}

void jobs__root_exited(struct jobs *j, struct job *job, uint64_t now, uint64_t grace_ns)
{
	(void)j;
	if (job->roots_alive)
		job->roots_alive--;
	if (job->roots_alive || job->state != JOB_RUNNING)
		return;
	job->state = JOB_GRACE;
	job->end_ns = now;
	job->due_ns = now + grace_ns;
}

struct job *jobs__due(struct jobs *j, uint64_t now)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		if (j->v[i]->state == JOB_GRACE && j->v[i]->due_ns <= now)
			return j->v[i];
	return NULL;
}

void jobs__done(struct jobs *j, struct job *job)
{
	size_t i;

	for (i = 0; i < j->n; i++) {
		if (j->v[i] != job)
			continue;
		j->finished[job->m.kind]++;
		memmove(&j->v[i], &j->v[i + 1], (j->n - i - 1) * sizeof(j->v[0]));
		j->n--;
		free(job);
		return;
	}
}

int jobs__report_name(const struct job *job, char *buf, size_t len)
{
	char key[96];
	size_t i;
	int n;

	/* cut, so that the name fits NAME_MAX whatever the key */
	memcpy(key, job->m.key, sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	for (i = 0; key[i]; i++) {
		unsigned char c = key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || (c == '.' && i > 0 && key[i - 1] != '.')))
			key[i] = '_';
	}
	n = snprintf(buf, len, "job-%s-%s-%u.json", job_kind__str(job->m.kind), key, job->id);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
