// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * qhtrace attach: start CMD held, attach every probe, release it, follow it and its
 * descendants until it exits, then report.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alerts.h"
#include "cli.h"
#include "commands.h"
#include "log.h"
#include "procfs.h"
#include "proctree.h"
#include "report.h"
#include "outputs.h"
#include "session.h"
#include "tracer.h"
#include "util.h"

struct held_child {
	pid_t pid;
	int go_fd;  /* write "g" (and QHTRACE_SOCKET's value) and close to let it exec; close
		     * without writing to make it give up */
	int err_fd; /* the child's errno if exec failed; EOF once exec succeeded */
};

/* Who CMD runs as: resolved in qhtrace (NSS may open files and sockets), applied in the child. */
struct run_as {
	bool change;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	int ngroups;
	char name[256];
	char home[PATH_MAX];
};

/*
 * --user, else under sudo the user who ran it (SUDO_UID, SUDO_GID, SUDO_USER), unless
 * --as-root: what sudo would have run CMD as without qhtrace. 0, or QH_EXIT_USAGE after a
 * one-line error.
 */
static int resolve_user(const struct attach_opts *o, struct run_as *ra)
{
	const char *sudo_uid = getenv("SUDO_UID"), *sudo_gid = getenv("SUDO_GID");
	struct passwd *pw = NULL;
	uint64_t v;
	int n = 0;

	memset(ra, 0, sizeof(*ra));
	if (o->user && o->as_root) {
		pr_err("--user and --as-root exclude each other\n");
		return QH_EXIT_USAGE;
	}
	if (o->user) {
		if (geteuid() != 0) {
			pr_err("--user %s: qhtrace is not running as root: it cannot change user\n",
			       o->user);
			return QH_EXIT_USAGE;
		}
		errno = 0;
		pw = getpwnam(o->user);
		if (!pw && !util__parse_u64(o->user, 0, UINT32_MAX - 1, &v))
			pw = getpwuid(v);
		if (!pw) {
			pr_err("--user %s: no such user%s\n", o->user,
			       errno ? " (the user database could not be read)" : "");
			return QH_EXIT_USAGE;
		}
		ra->gid = pw->pw_gid;
	} else if (!o->as_root && geteuid() == 0 && sudo_uid && *sudo_uid) {
		if (util__parse_u64(sudo_uid, 0, UINT32_MAX - 1, &v)) {
			pr_err("SUDO_UID=%.32s is not a user id (--as-root runs CMD as root)\n",
			       sudo_uid);
			return QH_EXIT_USAGE;
		}
		if (v == 0)
			return 0;
		pw = getpwuid(v);
		if (!pw) {
			pr_err("SUDO_UID=%lu: no such user (--as-root runs CMD as root)\n",
			       (unsigned long)v);
			return QH_EXIT_USAGE;
		}
		ra->gid = pw->pw_gid;
		if (sudo_gid && !util__parse_u64(sudo_gid, 0, UINT32_MAX - 1, &v))
			ra->gid = v;
	} else {
		return 0;
	}
	ra->change = true;
	ra->uid = pw->pw_uid;
	snprintf(ra->name, sizeof(ra->name), "%s", pw->pw_name);
	snprintf(ra->home, sizeof(ra->home), "%s", pw->pw_dir);
	/* the user's groups, as initgroups(3) would set them */
	getgrouplist(ra->name, ra->gid, NULL, &n);
	ra->groups = calloc(n > 0 ? n : 1, sizeof(gid_t));
	if (!ra->groups || getgrouplist(ra->name, ra->gid, ra->groups, &n) < 0) {
		pr_err("the groups of user %s could not be read\n", ra->name);
		free(ra->groups);
		ra->groups = NULL;
		return QH_EXIT_ERROR;
	}
	ra->ngroups = n;
	return 0;
}

/* In the held child: become @ra's user; 0 or -errno. */
static int become(const struct run_as *ra)
{
	if (!ra->change)
		return 0;
	if (setgroups(ra->ngroups, ra->groups) || setgid(ra->gid) || setuid(ra->uid))
		return -errno;
	return 0;
}

#define SOCK_VAR "QHTRACE_SOCKET="

/*
 * CMD's environment, made before the fork: the held child runs on the traced C library, so it
 * must not allocate (its heap counters are CMD's). Ours, without QHTRACE_SOCKET, with @ra's
 * HOME, USER and LOGNAME (sudo's HOME is root's: the user's own, as `sudo -u` and a login set
 * it), then @sock_slot, which the child fills in with the socket's path (or drops).
 */
static char **child_env(const struct run_as *ra, char *sock_slot, char **owned, size_t nowned)
{
	static const char *const replaced[] = { SOCK_VAR, "HOME=", "USER=", "LOGNAME=" };
	size_t n = 0, i, k, j = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + nowned + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (i = 0; i < n; i++) {
		for (k = 0; k < (ra->change ? 4 : 1); k++)
			if (!strncmp(environ[i], replaced[k], strlen(replaced[k])))
				break;
		if (k == (ra->change ? 4u : 1u))
			env[j++] = environ[i];
	}
	for (i = 0; i < nowned; i++)
		env[j++] = owned[i];
	env[j++] = sock_slot;
	env[j] = NULL;
	return env;
}

/* Find CMD like a shell: 0 and the path, or the exit code 126/127 with a message. */
/*
 * The heap unwinder's table of what CMD runs, built before it runs: its first allocations then
 * walk its own frames like the later ones (the C library's and C++'s are built already); for a
 * script, its interpreter's. A table built at the exec record instead comes after the program
 * has started, and allocations before it would get other, truncated stacks.
 */
static void unwind_command(struct session *s, const char *path)
{
	char line[256], *interp, *end;
	FILE *f;

	tracer__unwind_module(s->tr, path, NULL, 0, 0);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && line[0] == '#' && line[1] == '!') {
		interp = line + 2 + strspn(line + 2, " \t");
		end = interp + strcspn(interp, " \t\n");
		*end = '\0';
		if (*interp == '/')
			tracer__unwind_module(s->tr, interp, NULL, 0, 0);
	}
	fclose(f);
}

static int resolve_cmd(const char *cmd, char *path, size_t len)
{
	const char *env = getenv("PATH"), *p, *colon;
	bool denied = false;
	struct stat st;

	if (strchr(cmd, '/')) {
		char cwd[PATH_MAX];

		/* absolute, so that the exec record names the file wherever it is read from */
		if (cmd[0] != '/' && getcwd(cwd, sizeof(cwd)))
			snprintf(path, len, "%.*s/%s", PATH_MAX / 2, cwd, cmd);
		else
			snprintf(path, len, "%s", cmd);
		if (stat(path, &st)) {
			pr_err("%s: %s\n", cmd, strerror(errno));
			return errno == ENOENT ? QH_EXIT_NOTFOUND : QH_EXIT_NOEXEC;
		}
		if (S_ISDIR(st.st_mode) || access(path, X_OK)) {
			pr_err("%s: %s\n", cmd, S_ISDIR(st.st_mode) ? "Is a directory" :
								     "Permission denied");
			return QH_EXIT_NOEXEC;
		}
		return 0;
	}
	if (!env || !*env)
		env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (p = env; p; p = colon ? colon + 1 : NULL) {
		size_t n;

		colon = strchr(p, ':');
		n = colon ? (size_t)(colon - p) : strlen(p);
		snprintf(path, len, "%.*s/%s", (int)n, n ? p : ".", cmd);
		if (stat(path, &st) || S_ISDIR(st.st_mode))
			continue;
		if (!access(path, X_OK))
			return 0;
		denied = true;
	}
	if (denied) {
		pr_err("%s: Permission denied\n", cmd);
		return QH_EXIT_NOEXEC;
	}
	pr_err("%s: command not found\n", cmd);
	return QH_EXIT_NOTFOUND;
}

static int spawn_held(const char *path, char **argv, const sigset_t *mask,
		      const struct run_as *ra, char **envp, char *sock_slot, struct held_child *c)
{
	int go[2], errp[2];

	if (pipe2(go, O_CLOEXEC))
		return -errno;
	if (pipe2(errp, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return -errno;
	}
	c->pid = fork();
	if (c->pid < 0) {
		int err = -errno;

		close(go[0]);
		close(go[1]);
		close(errp[0]);
		close(errp[1]);
		return err;
	}
	if (c->pid == 0) {
		char msg[PATH_MAX + 2];
		size_t got = 0;
		ssize_t n;
		int e;

		close(go[1]);
		close(errp[0]);
		sigprocmask(SIG_SETMASK, mask, NULL);
		/* held here until the probes are attached; EOF at once means qhtrace gave up */
		while (got < sizeof(msg) - 1 &&
		       ((n = read(go[0], msg + got, sizeof(msg) - 1 - got)) > 0 ||
			(n < 0 && errno == EINTR)))
			got += n > 0 ? n : 0;
		if (!got || msg[0] != 'g')
			_exit(QH_EXIT_NOTFOUND);
		msg[got] = '\0';
		/* the control socket, for the pytest plugin and `qhtrace mark` (no malloc here) */
		if (msg[1] && strlen(msg + 1) < 108) {
			strcpy(sock_slot + strlen(SOCK_VAR), msg + 1);
		} else {
			char **e2 = envp;

			while (*e2 && *e2 != sock_slot)
				e2++;
			*e2 = NULL;
		}
		e = become(ra);
		if (!e)
			execve(path, argv, envp);
		e = e ? -e : errno;
		if (write(errp[1], &e, sizeof(e)) < 0)
			_exit(QH_EXIT_NOEXEC);
		_exit(e == ENOENT ? QH_EXIT_NOTFOUND : QH_EXIT_NOEXEC);
	}
	close(go[0]);
	close(errp[1]);
	c->go_fd = go[1];
	c->err_fd = errp[0];
	return 0;
}

/* A signal sent to qhtrace by a process is passed on; one from the tty reached CMD already. */
static void forward_signal(const struct signalfd_siginfo *si, pid_t child)
{
	if (si->ssi_code == SI_USER || si->ssi_code == SI_QUEUE) {
		pr_debug("passing signal %u to %d\n", si->ssi_signo, child);
		kill(child, si->ssi_signo);
	}
}

static int exit_code_of(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int cmd_attach(int argc, char **argv)
{
	struct held_child child = { .pid = -1, .go_fd = -1, .err_fd = -1 };
	int sfd = -1, err, code = QH_EXIT_ERROR, status = 0, exec_errno = 0;
	struct run_info ri = { .mode = "attach", .exit_code = -1 };
	struct session s = { .efd = -1 };
	struct attach_opts o;
	struct run_as ra = {};
	char path[PATH_MAX], libc[PATH_MAX] = "", go[PATH_MAX + 2];
	static char sock_slot[sizeof(SOCK_VAR) + 108] = SOCK_VAR;
	char *owned[3] = {}, **envp = NULL;
	size_t nowned = 0;
	sigset_t oldmask;
	uint64_t t0;
	bool done = false;

	err = cli__parse_attach(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : QH_EXIT_USAGE;
	code = session__preflight(&o);
	if (code)
		return code;
	code = QH_EXIT_ERROR;
	code = resolve_cmd(o.argv[0], path, sizeof(path));
	if (code)
		return code;
	code = resolve_user(&o, &ra);
	if (code)
		return code;
	code = QH_EXIT_ERROR;
	/* the control socket is the command's user's */
	o.control = true;
	o.run_uid = ra.change ? ra.uid : getuid();
	o.run_gid = ra.change ? ra.gid : getgid();
	/* the held child runs on qhtrace's own C library until it execs CMD, which on this
	 * host maps the same one */
	if (o.heap && (err = tracer__find_libc(0, libc, sizeof(libc)))) {
		pr_err("--heap: no C library found in qhtrace's own mappings: %s\n", strerror(-err));
		return QH_EXIT_ERROR;
	}

	/* signals arrive through the event loop, never in the middle of it */
	sfd = session__signals(&oldmask, true);
	if (sfd < 0)
		goto cleanup;
	/* orphans of the run are re-parented to us, so they stay visible and get reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	t0 = util__now_ns(CLOCK_MONOTONIC);
	if (ra.change && (asprintf(&owned[0], "HOME=%s", ra.home) < 0 ||
			  asprintf(&owned[1], "USER=%s", ra.name) < 0 ||
			  asprintf(&owned[2], "LOGNAME=%s", ra.name) < 0)) {
		pr_err("out of memory\n");
		goto cleanup;
	}
	nowned = ra.change ? 3 : 0;
	envp = child_env(&ra, sock_slot, owned, nowned);
	if (!envp) {
		pr_err("out of memory\n");
		goto cleanup;
	}
	err = spawn_held(path, o.argv, &oldmask, &ra, envp, sock_slot, &child);
	if (err) {
		pr_err("failed to start %s: %s\n", o.argv[0], strerror(-err));
		goto cleanup;
	}
	/* the heap probes cover the child's tree, inherited at each fork (tracer.h) */
	o.heap_root = child.pid;
	if (session__open(&s, &o, libc, sfd) || session__trace_pid(&s, child.pid))
		goto cleanup;
	session__set_command(&s, child.pid);
	if (o.heap)
		unwind_command(&s, path);
	/* with --heap: held at each exit of its tree, for the leak classes */
	session__hold_tree(&s, child.pid);

	ri.start_real_ns = util__now_ns(CLOCK_REALTIME);
	pr_debug("probes attached in %.1f ms; starting %s\n",
		 (util__now_ns(CLOCK_MONOTONIC) - t0) / 1e6, path);
	snprintf(go, sizeof(go), "g%s", session__control_path(&s) ?: "");
	if (write(child.go_fd, go, strlen(go)) != (ssize_t)strlen(go)) {
		pr_err("failed to release %s: %s\n", o.argv[0], strerror(errno));
		goto cleanup;
	}
	close(child.go_fd);
	child.go_fd = -1;
	/* EOF: exec succeeded (the pipe is close-on-exec); otherwise the child's errno */
	if (read(child.err_fd, &exec_errno, sizeof(exec_errno)) == sizeof(exec_errno))
		pr_err("%s: %s\n", o.argv[0], strerror(exec_errno));
	close(child.err_fd);
	child.err_fd = -1;

	while (!done) {
		struct epoll_event evs[4];
		int i, n = epoll_wait(s.efd, evs, 4, 1000);

		if (n < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s\n", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct signalfd_siginfo si;
			pid_t pid;
			int st;

			if (evs[i].data.fd != sfd) {
				if (!session__on_fd(&s, evs[i].data.fd))
					tracer__consume(s.tr);
				continue;
			}
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo != SIGCHLD) {
					forward_signal(&si, child.pid);
					continue;
				}
				while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
					if (pid == child.pid) {
						status = st;
						done = true;
					} else {
						/* an alert hook's status counts */
						alerts__reaped(outputs__alerts(s.out), pid, st);
					}
				}
			}
		}
		/* after the records: a harvest sees the exits and execs just consumed */
		session__tick(&s);
	}

	code = exec_errno ? (exec_errno == ENOENT ? QH_EXIT_NOTFOUND : QH_EXIT_NOEXEC)
			  : exit_code_of(status);
	ri.exit_code = code;
	ri.argv = o.argv;
	ri.argc = o.argc;
	/* what CMD's tree left running: leftovers, terminated with --cleanup */
	session__finish(&s, child.pid);
	/* everything CMD's tree did before it exited is in the buffer now */
	if (session__report(&s, &ri))
		code = QH_EXIT_ERROR;
	else if (ri.gate_failed && code == 0)
		code = QH_EXIT_GATE; /* CMD passed, a --fail-on class did not */

cleanup:
	if (child.go_fd >= 0)
		close(child.go_fd); /* a held child sees EOF and exits without running CMD */
	if (child.err_fd >= 0)
		close(child.err_fd);
	if (child.pid > 0 && !done)
		waitpid(child.pid, NULL, 0);
	if (sfd >= 0)
		close(sfd);
	session__close(&s);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	free(ra.groups);
	free(envp);
	free(owned[0]);
	free(owned[1]);
	free(owned[2]);
	return code;
}
