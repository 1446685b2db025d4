// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "cleanup.h"
#include "proctree.h"
#include "log.h"
#include "procfs.h"
#include "util.h"
#include "vec.h"

#ifndef P_PIDFD
#define P_PIDFD 3 /* include/uapi/linux/wait.h, Linux 5.4 */
#endif

struct cleanup {
	struct cleanup_opts o;
	struct cleanup_action *actions;
	size_t n, cap;
};

struct target {
	size_t action;	/* index: the array may move while targets are added */
	int fd;		/* pidfd, -1 once settled */
	bool exited;
	bool our_child;
};

static int sys_pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

static int sys_pidfd_send_signal(int fd, int sig)
{
	return syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

struct cleanup *cleanup__new(const struct cleanup_opts *o)
{
	struct cleanup *c = calloc(1, sizeof(*c));

	if (c)
		c->o = *o;
	return c;
}

void cleanup__free(struct cleanup *c)
{
	if (!c)
		return;
	free(c->actions);
	free(c);
}

void cleanup__keep_child(struct cleanup *c, pid_t pid)
{
	if (c)
		c->o.keep_child = pid;
}

static struct cleanup_action *new_action(struct cleanup *c, const struct proc *p)
{
	struct cleanup_action *a = vec_push(c->actions, c->n, c->cap);

	if (!a)
		return NULL;
	a->pid = p->pid;
	a->start_ns = p->start_ns;
	snprintf(a->comm, sizeof(a->comm), "%s", p->comm);
	return a;
}

/* Has the process behind @fd exited (a zombie counts)? */
static bool has_exited(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

/*
 * Open @a's process as a pidfd and prove it is the traced one: after the open, /proc must
 * show the same start time (a pid is reused only once its process was released, so the
 * process seen then held the pid when the pidfd was made). Returns the pidfd, or -1 when
 * nothing is to be signalled (gone, reused, or an error, recorded in @a).
 */
static int open_target(struct cleanup_action *a, bool *our_child)
{
	struct procfs_stat st;
	int fd = sys_pidfd_open(a->pid), err;

	if (fd < 0) {
		err = errno;
		if (err == ESRCH)
			a->verified = true; /* gone and released before we came */
		else
			snprintf(a->error, sizeof(a->error), "pidfd_open: %s", strerror(err));
		return -1;
	}
	err = procfs__read_stat(a->pid, &st);
	if (err || !procfs__same_start(st.start_ns, a->start_ns)) {
		/* released since: the traced process is gone, whoever holds the pid now */
		a->verified = true;
		if (!err)
			snprintf(a->error, sizeof(a->error),
				 "pid now belongs to another process: not signalled");
		close(fd);
		return -1;
	}
	*our_child = st.ppid == (uint32_t)getpid();
	return fd;
}

/* Send @sig to every target still running, re-checking each just before. */
static void signal_round(struct cleanup *c, struct target *t, size_t n, int sig)
{
	struct procfs_stat st;
	size_t i;

	for (i = 0; i < n; i++) {
		struct cleanup_action *a = &c->actions[t[i].action];

		if (t[i].fd < 0 || t[i].exited)
			continue;
		if (has_exited(t[i].fd)) {
			t[i].exited = true;
			continue;
		}
		/* the pidfd pins the process; /proc agreeing is the belt to those braces */
		if (procfs__read_stat(a->pid, &st) ||
		    !procfs__same_start(st.start_ns, a->start_ns)) {
			t[i].exited = has_exited(t[i].fd);
			continue;
		}
		if (sys_pidfd_send_signal(t[i].fd, sig)) {
			if (errno == ESRCH) {
				t[i].exited = true;
				continue;
			}
			snprintf(a->error, sizeof(a->error), "pidfd_send_signal %s: %s",
				 sigabbrev_np(sig), strerror(errno));
			continue;
		}
		a->signal = sig;
		a->attempts++;
		pr_debug("cleanup: SIG%s to pid %u %s\n", sigabbrev_np(sig), a->pid, a->comm);
	}
}

/* Wait until every target has exited, or @ms passed; returns how many still run. */
static size_t wait_exits(struct target *t, size_t n, uint32_t ms)
{
	uint64_t deadline = util__now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000;
	struct pollfd *pfd = calloc(n ? n : 1, sizeof(*pfd));
	size_t *idx = calloc(n ? n : 1, sizeof(*idx));
	size_t i, m = 0;

	for (;;) {
		uint64_t now = util__now_ns(CLOCK_MONOTONIC);

		m = 0;
		for (i = 0; i < n; i++) {
			if (t[i].fd < 0 || t[i].exited)
				continue;
			if (!pfd || !idx) {
				m++;
				continue;
			}
			pfd[m].fd = t[i].fd;
			pfd[m].events = POLLIN;
			pfd[m].revents = 0;
			idx[m++] = i;
		}
		if (!m || now >= deadline || !pfd || !idx)
			break;
		if (poll(pfd, m, (deadline - now + 999999) / 1000000) < 0 && errno != EINTR)
			break;
		for (i = 0; i < m; i++)
			if (pfd[i].revents & (POLLIN | POLLHUP))
				t[idx[i]].exited = true;
	}
	free(pfd);
	free(idx);
	return m;
}

int cleanup__run(struct cleanup *c, struct proctree *tree, struct proc *const *procs, size_t n)
{
	struct target *t = calloc(n ? n : 1, sizeof(*t));
	uint32_t round;
	size_t i, live = 0;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const struct proc *p = procs[i];
		struct cleanup_action *a = new_action(c, p);

		t[i].fd = -1;
		if (!a) {
			free(t);
			return -ENOMEM;
		}
		t[i].action = a - c->actions;
		/* only what the model holds, under the same identity */
		if (proctree__find(tree, p->pid, p->start_ns) != p) {
			snprintf(a->error, sizeof(a->error),
				 "not a process of the traced tree: refused");
			continue;
		}
		t[i].fd = open_target(a, &t[i].our_child);
		live += t[i].fd >= 0;
	}
	if (live) {
		signal_round(c, t, n, SIGTERM);
		live = wait_exits(t, n, c->o.timeout_ms);
	}
	for (round = 0; live && round < c->o.max_attempts; round++) {
		signal_round(c, t, n, SIGKILL);
		live = wait_exits(t, n, c->o.timeout_ms);
	}
	for (i = 0; i < n; i++) {
		struct cleanup_action *a = &c->actions[t[i].action];
		siginfo_t si;

		if (t[i].fd < 0)
			continue;
		a->verified = t[i].exited || has_exited(t[i].fd);
		if (!a->verified && !a->error[0])
			snprintf(a->error, sizeof(a->error), "still running after %u signal%s",
				 a->attempts, a->attempts == 1 ? "" : "s");
		/* a zombie of ours: reap it, unless the event loop waits for that one */
		if (a->verified && t[i].our_child && (pid_t)a->pid != c->o.keep_child &&
		    !waitid((idtype_t)P_PIDFD, t[i].fd, &si, WEXITED | WNOHANG) && si.si_pid)
			a->reaped = true;
		close(t[i].fd);
		if (!a->verified) {
			char comm[UTIL_ESC_LEN(sizeof(a->comm))];

			pr_warn("cleanup: pid %u %s: %s\n", a->pid,
				util__esc(a->comm, comm, sizeof(comm)), a->error);
		}
	}
	free(t);
	return 0;
}

size_t cleanup__actions(const struct cleanup *c, const struct cleanup_action **out)
{
	*out = c ? c->actions : NULL;
	return c ? c->n : 0;
}

const struct cleanup_action *cleanup__find(const struct cleanup *c, uint32_t pid,
					   uint64_t start_ns)
{
	size_t i;

	for (i = 0; c && i < c->n; i++)
		if (c->actions[i].pid == pid && c->actions[i].start_ns == start_ns)
			return &c->actions[i];
	return NULL;
}

void cleanup__counts(const struct cleanup *c, uint32_t *attempted, uint32_t *succeeded,
		     uint32_t *failed)
{
	size_t i;

	*attempted = *succeeded = *failed = 0;
	for (i = 0; c && i < c->n; i++) {
		(*attempted)++;
		if (c->actions[i].verified)
			(*succeeded)++;
		else
			(*failed)++;
	}
}

void cleanup__add_json(const struct cleanup *c, cJSON *root)
{
	uint32_t attempted, succeeded, failed;
	cJSON *o, *arr;
	size_t i;

	if (!c)
		return;
	cleanup__counts(c, &attempted, &succeeded, &failed);
	o = cJSON_AddObjectToObject(root, "cleanup");
	cJSON_AddNumberToObject(o, "attempted", attempted);
	cJSON_AddNumberToObject(o, "succeeded", succeeded);
	cJSON_AddNumberToObject(o, "failed", failed);
	arr = cJSON_AddArrayToObject(o, "actions");
	for (i = 0; i < c->n; i++) {
		const struct cleanup_action *a = &c->actions[i];
		cJSON *x = cJSON_CreateObject();
		char buf[40], sig[16];

		cJSON_AddNumberToObject(x, "pid", a->pid);
		cJSON_AddStringToObject(x, "comm", a->comm);
		cJSON_AddStringToObject(x, "start_time",
					util__rfc3339(util__boot_to_real_ns(a->start_ns), buf,
						      sizeof(buf)));
		if (a->signal) {
			snprintf(sig, sizeof(sig), "SIG%s", sigabbrev_np(a->signal));
			cJSON_AddStringToObject(x, "signal", sig);
		} else {
			cJSON_AddNullToObject(x, "signal");
		}
		cJSON_AddNumberToObject(x, "attempts", a->attempts);
		cJSON_AddBoolToObject(x, "verified", a->verified);
		cJSON_AddBoolToObject(x, "reaped", a->reaped);
		if (a->error[0])
			cJSON_AddStringToObject(x, "error", a->error);
		else
			cJSON_AddNullToObject(x, "error");
		cJSON_AddItemToArray(arr, x);
	}
}
