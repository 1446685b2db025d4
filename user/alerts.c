// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "alerts.h"
#include "evlog.h"
#include "log.h"
#include "util.h"

struct hook {
	pid_t pid;
	int pidfd;		/* readable once the hook has exited */
	uint64_t deadline_ns;	/* CLOCK_MONOTONIC */
};

struct alerts {
	struct alerts_opts o;
	struct alert *items;
	size_t n;
	uint64_t dropped;
	uint64_t hooks_failed;
	struct hook hooks[QH_ALERT_HOOKS_MAX];
	size_t nhooks;
	bool deferred;		/* lines held until alerts__release_lines */
	char *held;		/* those lines */
	size_t held_len;
	size_t held_more;	/* lines past the bound of held */
};

#define ALERTS_HELD_MAX 65536

struct alerts *alerts__new(const struct alerts_opts *o)
{
	struct alerts *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->o = *o;
	if (!a->o.timeout_s)
		a->o.timeout_s = 10;
	a->items = calloc(QH_ALERTS_MAX, sizeof(*a->items));
	if (!a->items) {
		free(a);
		return NULL;
	}
	return a;
}

void alerts__set_log(struct alerts *a, struct evlog *log)
{
	if (a)
		a->o.log = log;
}

static void hook_status(struct alerts *a, int st)
{
	if (WIFEXITED(st) && !WEXITSTATUS(st))
		return;
	a->hooks_failed++;
	if (!a->o.quiet)
		pr_warn("alert hook failed (%s %d)\n", WIFEXITED(st) ? "exit" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

static void hook_done(struct alerts *a, size_t i)
{
	struct hook *h = &a->hooks[i];
	int st;

	if (waitpid(h->pid, &st, WNOHANG) == h->pid)
		hook_status(a, st);
	close(h->pidfd);
	a->hooks[i] = a->hooks[--a->nhooks];
}

bool alerts__reaped(struct alerts *a, pid_t pid, int status)
{
	size_t i;

	for (i = 0; a && i < a->nhooks; i++) {
		if (a->hooks[i].pid != pid)
			continue;
		hook_status(a, status);
		close(a->hooks[i].pidfd);
		a->hooks[i] = a->hooks[--a->nhooks];
		return true;
	}
	return false;
}

static bool hook_exited(const struct hook *h)
{
	struct pollfd p = { .fd = h->pidfd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

void alerts__tick(struct alerts *a)
{
	uint64_t now = util__now_ns(CLOCK_MONOTONIC);
	size_t i = 0;

	if (!a)
		return;
	while (i < a->nhooks) {
		struct hook *h = &a->hooks[i];

		if (hook_exited(h)) {
			hook_done(a, i);
			continue;
		}
		if (now >= h->deadline_ns) {
			if (!a->o.quiet)
				pr_warn("alert hook still running after %u s: killed\n",
					a->o.timeout_s);
			/* the leader has not exited: its group id is still its own */
			kill(-h->pid, SIGKILL);
			syscall(SYS_pidfd_send_signal, h->pidfd, SIGKILL, NULL, 0);
			waitpid(h->pid, NULL, 0);
			a->hooks_failed++;
			close(h->pidfd);
			a->hooks[i] = a->hooks[--a->nhooks];
			continue;
		}
		i++;
	}
}

void alerts__wait(struct alerts *a)
{
	/* hooks of the last alerts still get their time, never more */
	while (a && a->nhooks) {
		alerts__tick(a);
		if (a->nhooks)
			usleep(10000);
	}
}

void alerts__free(struct alerts *a)
{
	if (a)
		free(a->held);
	if (!a)
		return;
	alerts__wait(a);
	free(a->items);
	free(a);
}

char *alert__json(const struct alert *al)
{
	cJSON *o = cJSON_CreateObject();
	char t[40], *s;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "kind", al->kind);
	cJSON_AddStringToObject(o, "severity", severity__str(al->severity));
	cJSON_AddStringToObject(o, "message", al->message);
	cJSON_AddNumberToObject(o, "value", al->value);
	cJSON_AddNumberToObject(o, "threshold", al->threshold);
	cJSON_AddStringToObject(o, "time", util__rfc3339(al->real_ns, t, sizeof(t)));
	if (al->key[0])
		cJSON_AddStringToObject(o, "key", al->key);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void run_hook(struct alerts *a, const char *json)
{
	int p[2], pidfd;
	pid_t pid;

	if (a->nhooks == QH_ALERT_HOOKS_MAX) {
		a->hooks_failed++;
		pr_warn("alert hook not run: %d hooks still running\n", QH_ALERT_HOOKS_MAX);
		return;
	}
	if (pipe2(p, O_CLOEXEC))
		goto fail;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		goto fail;
	}
	if (pid == 0) {
		sigset_t none;

		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(p[0], STDIN_FILENO);
		/* stdout of qhtrace is data only: the hook's output goes to stderr */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", a->o.exec, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	/* one alert is far below a pipe's capacity: this never blocks */
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	if (util__write_nosigpipe(p[1], json, strlen(json)) < 0 || util__write_nosigpipe(p[1], "\n", 1) < 0)
		pr_warn("alert hook: failed to write the alert: %s\n", strerror(errno));
	close(p[1]);
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		/* cannot time it out: wait for it now rather than leave it unwatched */
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto fail;
	}
	a->hooks[a->nhooks++] = (struct hook){
		.pid = pid,
		.pidfd = pidfd,
		.deadline_ns = util__now_ns(CLOCK_MONOTONIC) + a->o.timeout_s * NSEC_PER_SEC,
	};
	return;
fail:
	a->hooks_failed++;
	pr_warn("alert hook could not start: %s\n", strerror(errno));
}

static struct alert *find(struct alerts *a, const char *kind, const char *key)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (!strcmp(a->items[i].kind, kind) && !strcmp(a->items[i].key, key ? key : ""))
			return &a->items[i];
	return NULL;
}

/*
 * The alert's line on stderr, which the traced command shares: held until the run is over
 * when stderr is no terminal (a CI log: the line would land inside the command's own output,
 * pytest's progress dots), else on a line of its own.
 */
static void alert_line(struct alerts *a, const struct alert *al, enum severity sev)
{
	char msg[UTIL_ESC_LEN(sizeof(al->message))], line[sizeof(msg) + 96];
	int n = snprintf(line, sizeof(line), "alert: %s (%s): %s\n", al->kind,
			 severity__str(sev), util__esc(al->message, msg, sizeof(msg)));

	if (!a->deferred) {
		pr_warn("%s%s", a->o.tty ? "\n" : "", line);
		return;
	}
	if (n < 0 || a->held_len + n > ALERTS_HELD_MAX) {
		a->held_more++;
		return;
	}
	{
		char *h = realloc(a->held, a->held_len + n + 1);

		if (!h) {
			a->held_more++;
			return;
		}
		memcpy(h + a->held_len, line, n + 1);
		a->held = h;
		a->held_len += n;
	}
}

void alerts__hold_lines(struct alerts *a, bool hold)
{
	if (a)
		a->deferred = hold;
}

void alerts__release_lines(struct alerts *a)
{
	const char *p, *nl;

	if (!a)
		return;
	a->deferred = false;
	for (p = a->held; p && *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		pr_warn("%.*s\n", (int)(nl - p), p);
	}
	if (a->held_more)
		pr_warn("alert: %zu more (see the report's alerts)\n", a->held_more);
	free(a->held);
	a->held = NULL;
	a->held_len = a->held_more = 0;
}

static int vfire(struct alerts *a, const char *kind, const char *key, enum severity sev,
		 double value, double threshold, const char *fmt, va_list ap)
{
	struct alert tmp = {}, *al = find(a, kind, key);
	char *json;

	if (al && al->crossed)
		return -EALREADY;
	snprintf(tmp.kind, sizeof(tmp.kind), "%s", kind);
	snprintf(tmp.key, sizeof(tmp.key), "%s", key ? key : "");
	tmp.severity = sev;
	vsnprintf(tmp.message, sizeof(tmp.message), fmt, ap);
	tmp.value = value;
	tmp.threshold = threshold;
	tmp.real_ns = util__now_ns(CLOCK_REALTIME);
	tmp.crossed = true;
	if (al) {
		*al = tmp; /* crossed again: the latest crossing is what the report shows */
	} else if (a->n < QH_ALERTS_MAX) {
		al = &a->items[a->n++];
		*al = tmp;
	} else {
		a->dropped++;
		al = &tmp;
	}
	if (!a->o.quiet)
		alert_line(a, al, sev);
	if (a->o.log) {
		evlog__begin(a->o.log, al->real_ns, "alert");
		evlog__str(a->o.log, "alert", al->kind);
		evlog__str(a->o.log, "severity", severity__str(sev));
		evlog__str(a->o.log, "message", al->message);
		evlog__dbl(a->o.log, "value", value);
		evlog__dbl(a->o.log, "threshold", threshold);
		evlog__end(a->o.log);
	}
	if (a->o.exec) {
		json = alert__json(al);
		if (json)
			run_hook(a, json);
		free(json);
	}
	return 0;
}

int alerts__fire(struct alerts *a, const char *kind, const char *key, enum severity sev,
		 double value, double threshold, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = vfire(a, kind, key, sev, value, threshold, fmt, ap);
	va_end(ap);
	return err;
}

bool alerts__check(struct alerts *a, const char *kind, const char *key, enum severity sev,
		   double value, double threshold, const char *fmt, ...)
{
	struct alert *al;
	va_list ap;
	int err;

	if (value < threshold) {
		al = find(a, kind, key);
		if (al)
			al->crossed = false;
		return false;
	}
	va_start(ap, fmt);
	err = vfire(a, kind, key, sev, value, threshold, fmt, ap);
	va_end(ap);
	return !err;
}

size_t alerts__count(const struct alerts *a)
{
	return a ? a->n : 0;
}

const struct alert *alerts__get(const struct alerts *a, size_t i)
{
	return a && i < a->n ? &a->items[i] : NULL;
}

uint64_t alerts__dropped(const struct alerts *a)
{
	return a ? a->dropped : 0;
}

uint64_t alerts__hooks_failed(const struct alerts *a)
{
	return a ? a->hooks_failed : 0;
}

uint64_t alerts__mem_total_kb(void)
{
	unsigned long kb = 0;
	char line[128];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}
