// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * qhtrace attach: start CMD held, attach every probe, release it, follow it and its
 * descendants until it exits, then report.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "attach.h"
#include "cli.h"
#include "log.h"
#include "procfs.h"
#include "proctree.h"
#include "report.h"
#include "tracer.h"
#include "util.h"

/* how long to wait, after CMD exits, for the release records of processes just reaped */
#define SETTLE_MS 300

struct held_child {
	pid_t pid;
	int go_fd;  /* write a byte to let it exec; close to make it give up */
	int err_fd; /* the child's errno if exec failed; EOF once exec succeeded */
};

/* Find CMD like a shell: 0 and the path, or the exit code 126/127 with a message. */
static int resolve_cmd(const char *cmd, char *path, size_t len)
{
	const char *env = getenv("PATH"), *p, *colon;
	bool denied = false;
	struct stat st;

	if (strchr(cmd, '/')) {
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

static int spawn_held(const char *path, char **argv, const sigset_t *mask, struct held_child *c)
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
		char b;
		int e;

		close(go[1]);
		close(errp[0]);
		sigprocmask(SIG_SETMASK, mask, NULL);
		/* held here until the probes are attached; EOF means qhtrace gave up */
		if (read(go[0], &b, 1) != 1)
			_exit(QH_EXIT_NOTFOUND);
		execv(path, argv);
		e = errno;
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

int attach__seed(struct tracer *tr, struct proctree *t, pid_t pid)
{
	struct qh_proc seed = {};
	struct procfs_stat st;
	char exe[PATH_MAX];
	struct proc *p;
	int err;

	err = procfs__read_stat(pid, &st);
	if (err)
		return err;
	seed.start_ns = st.start_ns;
	seed.ppid = st.ppid;
	seed.threads = seed.threads_peak = st.threads;
	/* growth is measured from now; the kernel adds the split by kind when it adopts the mm */
	seed.base_rss_pages = seed.peak_rss_pages = st.rss_pages;
	seed.flags = QH_PF_START_SEEDED;
	if (tracer__maps_probed_libc(tr, pid))
		seed.flags |= QH_PF_HEAP_HOOKED;
	err = tracer__trace_pid(tr, pid, &seed);
	if (err)
		return err;
	p = proctree__add(t, pid, st.start_ns);
	if (!p)
		return -ENOMEM;
	p->seeded = true;
	p->ppid = st.ppid;
	p->stats = seed;
	snprintf(p->comm, sizeof(p->comm), "%s", st.comm);
	if (!procfs__exe(pid, exe, sizeof(exe)))
		proctree__set_exe(p, exe);
	return 0;
}

/*
 * Bring the model up to date at the end: counters of processes still running come from the
 * kernel map, and /proc says which exited processes are zombies and which are gone.
 */
static void finalize_states(struct tracer *tr, struct proctree *t)
{
	struct procfs_stat st;
	struct qh_proc cur;
	struct proc *p;

	for (p = proctree__first(t); p; p = p->next) {
		bool alive = !procfs__read_stat(p->pid, &st) &&
			     procfs__same_start(st.start_ns, p->start_ns);

		switch (p->state) {
		case PROC_RUNNING:
			if (!tracer__lookup(tr, p->pid, &cur) &&
			    procfs__same_start(cur.start_ns, p->start_ns))
				p->stats = cur;
			if (alive && st.state == 'Z')
				p->state = PROC_ZOMBIE;
			else if (!alive)
				p->state = PROC_EXITED; /* its exit record was lost */
			break;
		case PROC_EXITED:
			if (alive)
				p->state = PROC_ZOMBIE;
			else
				p->state = PROC_REAPED;
			break;
		default:
			break;
		}
	}
}

static bool any_exited(struct proctree *t)
{
	struct proc *p;

	for (p = proctree__first(t); p; p = p->next)
		if (p->state == PROC_EXITED)
			return true;
	return false;
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
	int sfd = -1, efd = -1, err, code = QH_EXIT_ERROR, status = 0, exec_errno = 0;
	struct epoll_event ev = { .events = EPOLLIN };
	struct run_info ri = { .mode = "attach", .exit_code = -1 };
	struct proctree *tree = NULL;
	struct tracer *tr = NULL;
	struct attach_opts o;
	char path[PATH_MAX], why[PATH_MAX + 64];
	sigset_t mask, oldmask;
	struct utsname uts;
	uint64_t t0;
	bool done = false;

	err = cli__parse_attach(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : QH_EXIT_USAGE;
	if (o.verbose)
		log__set_level(QH_LOG_DEBUG);
	if (o.output && util__check_output(o.output, why, sizeof(why))) {
		pr_err("cannot write the report to %s: %s\n", o.output, why);
		return QH_EXIT_USAGE;
	}
	if (tracer__preflight())
		return QH_EXIT_ERROR;
	code = resolve_cmd(o.argv[0], path, sizeof(path));
	if (code)
		return code;
	code = QH_EXIT_ERROR;

	tree = proctree__new();
	if (!tree) {
		pr_err("out of memory\n");
		return QH_EXIT_ERROR;
	}

	/* signals arrive through the event loop, never in the middle of it */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGQUIT);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		pr_err("failed to create signalfd: %s\n", strerror(errno));
		goto cleanup;
	}
	/* orphans of the run are re-parented to us, so they stay visible and get reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	t0 = util__now_ns(CLOCK_MONOTONIC);
	err = spawn_held(path, o.argv, &oldmask, &child);
	if (err) {
		pr_err("failed to start %s: %s\n", o.argv[0], strerror(-err));
		goto cleanup;
	}

	err = tracer__open(&tr, &(struct tracer_opts){
					.max_procs = o.max_procs,
					.ringbuf_kb = o.ringbuf_kb,
					.heap = o.heap,
					.max_allocs = o.max_allocs,
					.on_event = proctree__handle_event,
					.ctx = tree,
				});
	if (err)
		goto cleanup;
	if (o.heap) {
		char libc[PATH_MAX];

		/* the held child runs on qhtrace's own C library until it execs CMD, which on
		 * this host maps the same one */
		err = tracer__host_libc(libc, sizeof(libc));
		if (err) {
			pr_err("--heap: no C library found in qhtrace's own mappings: %s\n",
			       strerror(-err));
			goto cleanup;
		}
		err = tracer__attach_heap(tr, libc);
		if (err)
			goto cleanup;
	}
	err = attach__seed(tr, tree, child.pid);
	if (err) {
		pr_err("failed to trace pid %d: %s\n", child.pid, strerror(-err));
		goto cleanup;
	}
	/* the loader's transient memory (vmlinux BTF, ELF) is not needed any more */
	malloc_trim(0);

	efd = epoll_create1(EPOLL_CLOEXEC);
	if (efd < 0) {
		pr_err("failed to create epoll: %s\n", strerror(errno));
		goto cleanup;
	}
	ev.data.fd = sfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tracer__epoll_fd(tr);
	epoll_ctl(efd, EPOLL_CTL_ADD, ev.data.fd, &ev);

	ri.start_real_ns = util__now_ns(CLOCK_REALTIME);
	pr_debug("probes attached in %.1f ms; starting %s\n",
		 (util__now_ns(CLOCK_MONOTONIC) - t0) / 1e6, path);
	if (write(child.go_fd, "g", 1) != 1) {
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
		int i, n = epoll_wait(efd, evs, 4, 1000);

		if (n < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s\n", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct signalfd_siginfo si;
			pid_t pid;
			int st;

			if (evs[i].data.fd != sfd) {
				tracer__consume(tr);
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
					}
				}
			}
		}
	}

	/* everything CMD's tree did before it exited is in the buffer now */
	tracer__consume(tr);
	for (t0 = util__now_ns(CLOCK_MONOTONIC);
	     any_exited(tree) && util__now_ns(CLOCK_MONOTONIC) - t0 < SETTLE_MS * 1000000ULL;) {
		struct epoll_event e;

		epoll_wait(efd, &e, 1, 20);
		tracer__consume(tr);
	}
	finalize_states(tr, tree);

	code = exec_errno ? (exec_errno == ENOENT ? QH_EXIT_NOTFOUND : QH_EXIT_NOEXEC)
			  : exit_code_of(status);
	ri.exit_code = code;
	ri.argv = o.argv;
	ri.argc = o.argc;
	ri.duration_s = (util__now_ns(CLOCK_REALTIME) - ri.start_real_ns) / 1e9;
	ri.kernel = uname(&uts) ? "unknown" : uts.release;
	ri.events_received = proctree__events(tree);
	ri.orphan_events = proctree__orphan_events(tree);
	ri.page_size = sysconf(_SC_PAGESIZE);
	ri.heap = o.heap;
	if (tracer__stats(tr, ri.stats))
		pr_warn("failed to read the kernel's loss counters\n");

	if (!o.quiet)
		report__summary(stderr, tree, &ri);
	else if (report__lost(&ri))
		pr_warn("%lu events lost: the report is incomplete\n",
			(unsigned long)report__lost(&ri));
	if (o.output) {
		err = report__write(o.output, tree, &ri);
		if (err) {
			pr_err("failed to write the report to %s: %s\n", o.output, strerror(-err));
			code = QH_EXIT_ERROR;
		}
	}

cleanup:
	if (child.go_fd >= 0)
		close(child.go_fd); /* a held child sees EOF and exits without running CMD */
	if (child.err_fd >= 0)
		close(child.err_fd);
	if (child.pid > 0 && !done)
		waitpid(child.pid, NULL, 0);
	if (efd >= 0)
		close(efd);
	if (sfd >= 0)
		close(sfd);
	tracer__free(tr);
	proctree__free(tree);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return code;
}
