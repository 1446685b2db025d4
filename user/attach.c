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
#include "heapleaks.h"
#include "syms.h"

/* max files the symbolizer keeps open */
#define SYMS_MAX_FILES 64

/*
 * A newer snapshot of @p's mappings, if /proc still has them: a process that has exited
 * shows none, and the one it has stays.
 */
static void refresh_maps(struct proc *p)
{
	struct syms_maps *m = syms_maps__snapshot(p->pid);

	if (m && syms_maps__count(m))
		proctree__set_maps(p, m);
	else
		syms_maps__free(m);
}

/* The program's text mapping as the kernel saw it at exec, for when /proc came too late. */
static void exec_maps(struct proc *p, const struct qh_event_exec *e)
{
	char line[QH_FILENAME_LEN + 128];

	if (!e->text_ino || !p->exe || p->exe[0] != '/')
		return;
	snprintf(line, sizeof(line), "%lx-%lx r-xp %08lx %x:%x %lu %s\n",
		 (unsigned long)e->text_start, (unsigned long)e->text_end,
		 (unsigned long)e->text_pgoff * sysconf(_SC_PAGESIZE),
		 (unsigned int)(e->text_dev >> 20), (unsigned int)(e->text_dev & 0xfffff),
		 (unsigned long)e->text_ino, p->exe);
	proctree__set_maps(p, syms_maps__parse(p->pid, line));
}

struct attach_ctx {
	struct proctree *tree;
	bool heap;
};

/*
 * With --heap, each process's executable mappings are snapshotted when it appears, when it
 * execs (the kernel has mapped the program and its interpreter) and when the dynamic loader
 * maps the probed C library (the libraries are loading), so the stacks of processes that exit
 * before the end still resolve. Processes still running are snapshotted again at the end.
 */
static int on_event(void *ctx, void *data, size_t size)
{
	const struct qh_event_hdr *h = data;
	struct attach_ctx *c = ctx;
	struct proc *p;

	proctree__handle_event(c->tree, data, size);
	if (!c->heap || size < sizeof(*h) ||
	    (h->type != QH_EV_EXEC && h->type != QH_EV_FORK && h->type != QH_EV_LIBC))
		return 0;
	p = proctree__find(c->tree, h->pid, h->start_ns);
	if (!p)
		return 0;
	if (h->type == QH_EV_EXEC && size >= sizeof(struct qh_event_exec))
		exec_maps(p, data);
	/* a child maps what its parent did, whether or not it is still there to read */
	if (h->type == QH_EV_FORK && !p->maps) {
		struct proc *parent = proctree__find_running(c->tree, p->ppid);

		if (parent && parent->maps)
			proctree__set_maps(p, syms_maps__clone(parent->maps, p->pid));
	}
	refresh_maps(p);
	return 0;
}

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

#define STACK_CACHE 4096 /* power of two */

struct collect_ctx {
	struct tracer *tr;
	struct proctree *tree;
	struct heapleaks *leaks;
	uint64_t now;
	struct {
		const struct proc *proc;
		int64_t id;
		uint64_t key;
	} cache[STACK_CACHE];
};

/* frame 0 of a kernel stack is inside the allocator: the caller is read apart */
#define STACK_FIRST_FRAME 1

/*
 * The part of a kernel stack that means something: its frames up to the first address no
 * file mapping of the process holds (past the last frame-pointer frame the walk reads
 * garbage, which differs from call to call), hashed.
 */
static uint64_t stack_key(struct collect_ctx *c, const struct proc *p, int64_t id)
{
	size_t slot = ((uint64_t)id * 0x9e3779b97f4a7c15ULL ^ (uintptr_t)p) & (STACK_CACHE - 1);
	uint64_t ips[QH_MAX_STACK], key = 1469598103934665603ULL;
	int n, i;

	if (id < 0)
		return 0;
	if (c->cache[slot].proc == p && c->cache[slot].id == id)
		return c->cache[slot].key;
	n = tracer__stack(c->tr, id, ips, QH_MAX_STACK);
	for (i = STACK_FIRST_FRAME; i < n; i++) {
		if (!p->maps || !syms_maps__find(p->maps, ips[i]))
			break;
		key = (key ^ ips[i]) * 1099511628211ULL;
	}
	c->cache[slot].proc = p;
	c->cache[slot].id = id;
	c->cache[slot].key = key;
	return key;
}

static int collect_one(void *ctx, const struct qh_alloc_key *k, const struct qh_alloc *a)
{
	struct collect_ctx *c = ctx;
	struct proc *p = proctree__find_gen(c->tree, k->tgid, k->gen);

	/* blocks of an image replaced by exec died with it */
	if (!p)
		return 0;
	return heapleaks__add(c->leaks, p, a, stack_key(c, p, a->stack_id), c->now);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/*
 * The stack of a finding: the caller read at the allocator's entry, then what the kernel
 * unwound beyond it (its frame 0 is inside the allocator). Frames stop at the first address
 * no file mapping holds: without frame pointers the walk runs into garbage.
 */
static void resolve_frames(struct tracer *tr, struct syms *sy, struct heap_leak *l)
{
	uint64_t ips[QH_MAX_STACK + 1];
	struct heap_frame *frames;
	int n = 0, m, i;
	size_t k = 0;

	ips[n++] = l->caller;
	m = tracer__stack(tr, l->stack_id, ips + 1, QH_MAX_STACK);
	for (i = STACK_FIRST_FRAME; i < m; i++)
		ips[n++] = ips[1 + i];
	frames = calloc(n, sizeof(*frames));
	if (!frames)
		return;
	for (i = 0; i < n; i++) {
		struct syms_frame sf;
		struct heap_frame *f = &frames[k];

		/* a return address: addr - 1 lies in the call instruction */
		if (!l->proc->maps || syms__resolve(sy, l->proc->maps, ips[i] - 1, &sf)) {
			if (i > 0)
				break;
			f->addr = ips[i];
			k++;
			continue;
		}
		f->addr = ips[i];
		f->symbol = dup_or_null(sf.sym);
		f->offset = sf.sym[0] ? sf.sym_off + 1 : 0;
		f->module = dup_or_null(sf.module);
		f->file = dup_or_null(sf.file);
		f->line = sf.line;
		k++;
	}
	heap_leak__set_frames(l, frames, k);
}

static int collect_heap_leaks(struct tracer *tr, struct proctree *t, struct heapleaks *leaks)
{
	struct collect_ctx *c = calloc(1, sizeof(*c));
	struct syms *sy;
	struct proc *p;
	size_t i;
	int err;

	if (!c)
		return -ENOMEM;
	c->tr = tr;
	c->tree = t;
	c->leaks = leaks;

	/* processes still running have loaded their libraries by now */
	for (p = proctree__first(t); p; p = p->next)
		if (p->state == PROC_RUNNING)
			refresh_maps(p);
	c->now = util__now_ns(CLOCK_BOOTTIME);
	err = tracer__for_each_alloc(tr, collect_one, c);
	heapleaks__finish(leaks, c->now);
	free(c);
	if (err)
		return err;
	sy = syms__new(SYMS_MAX_FILES);
	if (!sy)
		return -errno;
	for (i = 0; i < heapleaks__count(leaks); i++)
		resolve_frames(tr, sy, heapleaks__get(leaks, i));
	syms__free(sy);
	heapleaks__merge_same_frames(leaks);
	return 0;
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
	struct heapleaks *leaks = NULL;
	struct attach_ctx actx = {};
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
	actx.tree = tree;
	actx.heap = o.heap;

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
					.stacks = o.stacks,
					.sample_rate = o.sample_rate,
					.min_size = o.min_size,
					.max_size = o.max_size,
					.on_event = on_event,
					.ctx = &actx,
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
	if (o.heap) {
		leaks = heapleaks__new(&(struct heapleaks_opts){
			.threshold_bytes = (uint64_t)o.leak_threshold_mb << 20,
			.min_age_ns = (uint64_t)o.min_age_s * NSEC_PER_SEC,
		});
		if (!leaks || collect_heap_leaks(tr, tree, leaks))
			pr_warn("failed to collect the heap findings: the report has none\n");
	}

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
	ri.heap_leaks = leaks;
	ri.top = o.top;
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
	heapleaks__free(leaks);
	proctree__free(tree);
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	return code;
}
