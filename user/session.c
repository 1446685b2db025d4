// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/epoll.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alerts.h"
#include "cleanup.h"
#include "cli.h"
#include "ctlproto.h"
#include "ctlsrv.h"
#include "fdleaks.h"
#include "fdsync.h"
#include "fdtable.h"
#include "heapcollect.h"
#include "heapleaks.h"
#include "hold.h"
#include "leakclass.h"
#include "log.h"
#include "outputs.h"
#include "procfs.h"
#include "proctree.h"
#include "procwatch.h"
#include "report.h"
#include "session.h"
#include "status.h"
#include "syms.h"
#include "testattr.h"
#include "tracer.h"
#include "util.h"
#include "vec.h"

/* max files the symbolizer keeps open */
#define SYMS_MAX_FILES 64
/* how long to wait at the end for the release records of processes just reaped */
#define SETTLE_MS 300

/*
 * The unwind tables of the modules @p maps, for the heap unwinder (each file's built once; the
 * C library's and C++'s were built before anything ran). Through /proc/PID/root when it is
 * there: a container's files are not ours.
 */
static void unwind_maps(struct tracer *tr, pid_t pid, const struct syms_maps *maps)
{
	const struct syms_map *m;
	char path[PATH_MAX];
	size_t i;

	if (!tr || !maps)
		return;
	for (i = 0; (m = syms_maps__entry(maps, i)); i++) {
		if (m->deleted)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, m->path);
		if (tracer__unwind_module(tr, path, m->path, m->dev, m->ino) == -ENOENT)
			tracer__unwind_module(tr, m->path, NULL, m->dev, m->ino);
	}
}

/*
 * The absolute path the kernel spelled in @e (names from the file up), into @buf; false when it
 * is not whole.
 */
static bool map_event_path(const struct qh_event_map *e, char *buf, size_t len)
{
	const char *names[QH_MAP_PATH_DEPTH];
	size_t off = 0, n = 0, pos = 0;
	const char *end;

	if (!e->complete || !e->names || e->names > QH_MAP_PATH_DEPTH)
		return false;
	while (n < e->names) {
		end = memchr(e->path + off, '\0', sizeof(e->path) - off);
		if (!end)
			return false;
		names[n++] = e->path + off;
		off = end - e->path + 1;
	}
	while (n--) {
		int k = snprintf(buf + pos, len - pos, "/%s", names[n]);

		if (k < 0 || (size_t)k >= len - pos)
			return false;
		pos += k;
	}
	return true;
}

/*
 * Code mapped from a file the unwinder had no table for (a library loaded, dlopen): its table
 * now, and its path, by which the frames in it are named even once it is unmapped again and
 * the process gone. The kernel's spelling of the path first, then, while the process has
 * them, the same through its root (a container's) and its map_files entry; each counts only if
 * it is the file the kernel mapped.
 */
static void map_exec(struct tracer *tr, const struct qh_event_map *e)
{
	char path[PATH_MAX], cand[PATH_MAX + 64], name[PATH_MAX];
	bool whole = map_event_path(e, path, sizeof(path));
	ssize_t n;
	int err = -ENOENT;

	if (whole) {
		err = tracer__unwind_mapped(tr, path, NULL, e->dev, e->ino);
		if (err) {
			snprintf(cand, sizeof(cand), "/proc/%u/root%s", e->hdr.pid, path);
			err = tracer__unwind_mapped(tr, cand, path, e->dev, e->ino);
		}
	}
	if (err && err != -ENOSPC) {
		snprintf(cand, sizeof(cand), "/proc/%u/map_files/%llx-%llx", e->hdr.pid,
			 (unsigned long long)e->start, (unsigned long long)e->end);
		n = readlink(cand, name, sizeof(name) - 1);
		if (n > 0) {
			name[n] = '\0';
			err = tracer__unwind_mapped(tr, cand, name, e->dev, e->ino);
		}
	}
	if (err && err != -ENOSPC) {
		pr_debug("pid %u mapped code of a file not found again (%s): its frames are walked "
			 "by frame pointers\n", e->hdr.pid, whole ? path : "path unknown");
		tracer__unwind_none(tr, e->dev, e->ino);
	}
}

/*
 * A newer snapshot of @p's mappings, if /proc still has them: a process that has exited
 * shows none, and the one it has stays.
 */
static void refresh_maps(struct tracer *tr, struct proc *p)
{
	struct syms_maps *m = syms_maps__snapshot_of(p->pid, p->start_ns);

	if (m && syms_maps__count(m))
		proctree__set_maps(p, m);
	else
		syms_maps__free(m);
	unwind_maps(tr, p->pid, p->maps);
}

/* Is @path the file (@dev, @ino as stat gives them)? */
static bool is_file(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	return !stat(path, &st) && st.st_dev == dev && st.st_ino == ino;
}

/*
 * The absolute path of the program @p exec'd, the kernel's inode @dev:@ino (dev in the kernel's
 * encoding), into @buf; false when no candidate is that file. execve's filename may be
 * relative (`sh -c ./prog`): it is resolved against the process's own directory while /proc
 * has it, else its parent's and ours (the usual case: they ran it from where they are), and
 * a candidate counts only if it is the inode the kernel mapped.
 */
static bool exe_path(const struct proc *p, uint64_t kdev, uint64_t ino, char *buf, size_t len)
{
	dev_t dev = makedev(kdev >> 20, kdev & 0xfffff);
	char link[64], dir[PATH_MAX];
	const char *rel = p->exe;
	ssize_t n;
	int i;

	if (p->exe[0] == '/') {
		snprintf(buf, len, "%s", p->exe);
		return true;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", p->pid);
	n = readlink(link, buf, len - 1);
	if (n > 0) {
		buf[n] = '\0';
		if (buf[0] == '/' && is_file(buf, dev, ino))
			return true;
	}
	/* "./prog" in "/dir": "/dir/prog" */
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	for (i = 0; i < 3; i++) {
		if (i < 2)
			snprintf(link, sizeof(link), "/proc/%d/cwd", i ? (int)p->ppid : (int)p->pid);
		n = i < 2 ? readlink(link, dir, sizeof(dir) - 1)
			  : (getcwd(dir, sizeof(dir)) ? (ssize_t)strlen(dir) : -1);
		if (n <= 0)
			continue;
		dir[n] = '\0';
		if ((size_t)snprintf(buf, len, "%s/%s", dir, rel) < len &&
		    is_file(buf, dev, ino))
			return true;
	}
	return false;
}

/* The program's text mapping as the kernel saw it at exec, for when /proc came too late. */
static void exec_maps(struct tracer *tr, struct proc *p, const struct qh_event_exec *e)
{
	char line[PATH_MAX + 128], path[PATH_MAX];

	if (!e->text_ino || !p->exe || !exe_path(p, e->text_dev, e->text_ino, path, sizeof(path))) {
		if (e->text_ino && p->exe)
			pr_debug("pid %d: %s not found: its frames in the program go unnamed\n",
				 p->pid, p->exe);
		return;
	}
	snprintf(line, sizeof(line), "%lx-%lx r-xp %08lx %x:%x %lu %s\n",
		 (unsigned long)e->text_start, (unsigned long)e->text_end,
		 (unsigned long)e->text_pgoff * sysconf(_SC_PAGESIZE),
		 (unsigned int)(e->text_dev >> 20), (unsigned int)(e->text_dev & 0xfffff),
		 (unsigned long)e->text_ino, path);
	proctree__set_maps(p, syms_maps__parse(p->pid, line));
	unwind_maps(tr, p->pid, p->maps);
}

struct session_events {
	struct tracer *tr;
	struct procwatch *watch;
	bool harvest_due;	/* a process exited or exec'd since the last harvest of heap blocks */
	struct proctree *tree;
	struct outputs *out;
	bool heap;
	bool fd_stacks;		/* --fd-stacks: the program's text of each exec, for exited ones */
	struct fdleaks *fdleaks; /* the fds processes held at exit (QH_EV_FD_EXIT), or NULL */
	struct testattr *tests;	/* attach: which test each process belongs to */
	session_event_fn hook;	/* the command's own look at each record (monitor), or NULL */
	void *hook_ctx;
	session_heap_fn heap_filter; /* monitor --heap-match: the processes whose heap is
				      * followed (NULL: all) */
	void *heap_ctx;
};

/* Is @p's heap followed? Only those get their mappings read and their blocks harvested. */
static bool heap_wanted(const struct session_events *c, const struct proc *p)
{
	return !c->heap_filter || c->heap_filter(c->heap_ctx, p);
}

/*
 * PYTEST_CURRENT_TEST from @pid's environment as it exec'd (/proc/PID/environ: what execve
 * was given, not later putenv), into @buf; false when it has none.
 */
static bool pytest_env(pid_t pid, char *buf, size_t len)
{
	static const char key[] = "PYTEST_CURRENT_TEST=";
	char path[64], env[16384];
	ssize_t n;
	size_t off;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, env, sizeof(env) - 1);
	close(fd);
	if (n <= 0)
		return false;
	env[n] = '\0';
	for (off = 0; off < (size_t)n; off += strlen(env + off) + 1)
		if (!strncmp(env + off, key, sizeof(key) - 1)) {
			snprintf(buf, len, "%s", env + off + sizeof(key) - 1);
			return true;
		}
	return false;
}

/* Which test a process belongs to: its parent's at fork, else PYTEST_CURRENT_TEST at exec. */
static void attribute(struct session_events *c, const struct qh_event_hdr *h)
{
	struct proc *p = proctree__find(c->tree, h->pid, h->start_ns), *parent;
	char value[QH_CTL_NAME_MAX + 16];

	if (!p)
		return;
	parent = p->ppid ? proctree__find_running(c->tree, p->ppid) : NULL;
	if (h->type == QH_EV_FORK) {
		testattr__fork(c->tests, p, parent, util__now_ns(CLOCK_BOOTTIME));
		return;
	}
	/* a test's process exec'd: nothing to learn from its environment */
	if (testattr__owner(c->tests, p) >= 0)
		return;
	/* the same as ours: a test outside qhtrace (qhtrace run by a pytest), not one it traces */
	if (pytest_env(p->pid, value, sizeof(value)) &&
	    strcmp(value, getenv("PYTEST_CURRENT_TEST") ?: ""))
		testattr__exec_env(c->tests, p, parent, value, util__now_ns(CLOCK_BOOTTIME));
}

/*
 * What a process held at its exit: each QH_EV_FD_EXIT record (a run of alike fds) adds to an
 * open_at_exit finding; the exit record after them says whether any fd was in none.
 */
static void fd_exit_event(struct session_events *c, const struct qh_event_hdr *h, size_t size)
{
	struct proc *p = proctree__find(c->tree, h->pid, h->start_ns);
	char pattern[FD_TARGET_LEN];
	int state, err = 0;

	/*
	 * A WebDriver tree's processes (the driver, its browser) are not flagged: a browser keeps
	 * its fds to its end by design, and that end is the driver's story (leftovers, cleanup).
	 * held_at_exit still counts them.
	 */
	if (!p || procwatch__driver_of(p))
		return;
	if (h->type == QH_EV_FD_EXIT && size >= sizeof(struct qh_event_fd_exit)) {
		const struct qh_event_fd_exit *e = (const void *)h;
		struct qh_fd opener = { .ts_ns = e->ts_ns, .caller = e->caller,
					.stack_id = e->stack_id, .nr = e->nr, .kind = e->kind };

		fdtable__exit_target(e, pattern, sizeof(pattern), &state);
		err = fdleaks__at_exit(c->fdleaks, p, e->kind, pattern, state, e->count, &opener);
	} else if (h->type == QH_EV_EXIT && size >= sizeof(struct qh_event_exit)) {
		const struct qh_event_exit *e = (const void *)h;

		err = fdleaks__exit_unsent(c->fdleaks, p, e->proc.fd_exit_unsent);
		if (e->proc.fd_exit_unsent)
			pr_warn("pid %u (%s): %u of the %u fds it held at exit were not reported "
				"(the ring buffer was full, or past %u records): its open_at_exit "
				"findings are incomplete\n", p->pid, p->comm,
				e->proc.fd_exit_unsent, e->proc.fd_exit_leaked, QH_FD_EXIT_MAX_RECORDS);
	}
	if (err)
		pr_warn("pid %u: its fds at exit: %s\n", p->pid, strerror(-err));
}

/*
 * With --heap, each process's executable mappings are snapshotted when it appears, when it
 * execs (the kernel has mapped the program and its interpreter) and when the dynamic loader
 * maps the probed C library (the libraries are loading), so the stacks of processes that exit
 * before the end still resolve. Processes still running are snapshotted again at the end.
 */
static int on_event(void *ctx, void *data, size_t size)
{
	const struct qh_event_hdr *h = data;
	struct session_events *c = ctx;
	struct proc *p;

	proctree__handle_event(c->tree, data, size);
	outputs__event(c->out, c->tree, data, size);
	procwatch__handle_event(c->watch, c->tree, data, size);
	if (size >= sizeof(*h) && (h->type == QH_EV_EXEC || h->type == QH_EV_EXIT))
		outputs__drivers(c->out, c->watch);
	if (c->tests && size >= sizeof(*h) && (h->type == QH_EV_FORK || h->type == QH_EV_EXEC))
		attribute(c, h);
	if (c->hook && size >= sizeof(*h))
		c->hook(c->hook_ctx, data, size);
	if (c->fdleaks && size >= sizeof(*h) && (h->type == QH_EV_FD_EXIT || h->type == QH_EV_EXIT))
		fd_exit_event(c, h, size);
	/* --fd-stacks without --heap: the program's text (the callers of fds are in it) */
	if (c->fd_stacks && !c->heap && size >= sizeof(struct qh_event_exec) &&
	    h->type == QH_EV_EXEC && (p = proctree__find(c->tree, h->pid, h->start_ns)))
		exec_maps(c->tr, p, data);
	if (c->fd_stacks && !c->heap && size >= sizeof(*h) && h->type == QH_EV_FORK &&
	    (p = proctree__find(c->tree, h->pid, h->start_ns)) && !p->maps) {
		struct proc *parent = proctree__find_running(c->tree, p->ppid);

		if (parent && parent->maps)
			proctree__set_maps(p, syms_maps__clone(parent->maps, p->pid));
	}
	if (!c->heap || size < sizeof(*h))
		return 0;
	if (c->heap_filter && (h->type == QH_EV_EXIT || h->type == QH_EV_EXEC ||
			       h->type == QH_EV_FORK || h->type == QH_EV_LIBC)) {
		p = proctree__find(c->tree, h->pid, h->start_ns);
		/* an exec that ends its match is harvested: its image's blocks are dead */
		if (!p || (!heap_wanted(c, p) && h->type != QH_EV_EXEC))
			return 0;
	}
	if (h->type == QH_EV_EXIT) {
		c->harvest_due = true;
		return 0;
	}
	/* the replaced image's blocks are dead: a harvest takes them out */
	if (h->type == QH_EV_EXEC)
		c->harvest_due = true;
	if (h->type == QH_EV_LIBC_NEW && size >= sizeof(struct qh_event_libc)) {
		const struct qh_event_libc *e = data;
		char path[PATH_MAX];

		/* the file as that process mapped it, wherever its mount namespace puts it */
		if (tracer__find_file(h->pid, e->dev, e->ino, path, sizeof(path)) ||
		    tracer__attach_heap(c->tr, path))
			pr_warn("pid %u: its C library could not be probed: its heap is not followed\n",
				h->pid);
		else
			pr_debug("pid %u maps another C library: probed %s\n", h->pid, path);
		return 0;
	}
	if (h->type == QH_EV_MAP_EXEC && size >= sizeof(struct qh_event_map)) {
		map_exec(c->tr, data);
		return 0;
	}
	if (h->type != QH_EV_EXEC && h->type != QH_EV_FORK && h->type != QH_EV_LIBC)
		return 0;
	p = proctree__find(c->tree, h->pid, h->start_ns);
	if (!p || !heap_wanted(c, p))
		return 0;
	if (h->type == QH_EV_EXEC && size >= sizeof(struct qh_event_exec))
		exec_maps(c->tr, p, data);
	/* a child maps what its parent did, whether or not it is still there to read */
	if (h->type == QH_EV_FORK && !p->maps) {
		struct proc *parent = proctree__find_running(c->tree, p->ppid);

		if (parent && parent->maps)
			proctree__set_maps(p, syms_maps__clone(parent->maps, p->pid));
	}
	refresh_maps(c->tr, p);
	return 0;
}

int session__seed(struct tracer *tr, struct proctree *t, pid_t pid)
{
	struct qh_proc seed = {};
	struct syms_maps *maps;
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
	/* the split by kind, until the kernel adopts the mm (at its first memory syscall); the
	 * base from the same source, so an idle process has not grown */
	if (!procfs__read_rss(pid, seed.rss_pages))
		seed.base_rss_pages = seed.peak_rss_pages = QH_RSS_TOTAL(seed.rss_pages);
	seed.flags = QH_PF_START_SEEDED;
	/* the kernel side follows the count from here, fd by fd */
	err = fdtable__count(pid);
	seed.fd_open = seed.fd_peak = err > 0 ? err : 0;
	if (tracer__maps_probed_libc(tr, pid))
		seed.flags |= QH_PF_HEAP_HOOKED;
	/*
	 * The unwind tables of what it maps, before its allocations are followed: a block made
	 * before its program's table was built gets another (frame-pointer) stack, and one call
	 * site would show as two findings.
	 */
	maps = syms_maps__snapshot(pid);
	/* --heap-match: only the processes picked (session__heap_refresh), not the node's */
	if (!tracer__heap_match(tr))
		unwind_maps(tr, pid, maps);
	err = tracer__trace_pid(tr, pid, &seed);
	if (err) {
		syms_maps__free(maps);
		return err;
	}
	p = proctree__add(t, pid, st.start_ns);
	if (!p) {
		syms_maps__free(maps);
		return -ENOMEM;
	}
	if (maps && syms_maps__count(maps))
		proctree__set_maps(p, maps);
	else
		syms_maps__free(maps);
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
			/* a seeded process whose mm the kernel never adopted: /proc knows its RSS */
			if (alive && !p->stats.mm && !procfs__read_rss(p->pid, p->stats.rss_pages)) {
				uint64_t rss = QH_RSS_TOTAL(p->stats.rss_pages);

				if (rss > p->stats.peak_rss_pages)
					p->stats.peak_rss_pages = rss;
			}
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

/*
 * The kernel and the symbolizer, for heapcollect and fdsync: the session reads the maps into
 * arrays, they decide.
 */
struct kernel_ctx {
	struct tracer *tr;
	struct syms *sy;	/* NULL until something is symbolized */
	const struct session *s; /* the classes of the holds, for heapcollect */
	struct testattr *tests;	/* blocks are grouped by the test that made them, or NULL */
};

static int k_stack(void *ctx, int64_t id, uint64_t *ips, size_t max)
{
	return tracer__stack(((struct kernel_ctx *)ctx)->tr, id, ips, max);
}

static int k_ustack(void *ctx, uint64_t id, uint64_t *ips, size_t max, uint32_t *flags)
{
	return tracer__ustack(((struct kernel_ctx *)ctx)->tr, id, ips, max, flags);
}

static int k_resolve(void *ctx, const struct syms_maps *m, uint64_t addr, struct syms_frame *out)
{
	return syms__resolve(((struct kernel_ctx *)ctx)->sy, m, addr, out);
}

static int k_resolve_inline(void *ctx, const struct syms_maps *m, uint64_t addr,
			    struct syms_frame *out, size_t max)
{
	return syms__resolve_inline(((struct kernel_ctx *)ctx)->sy, m, addr, out, max);
}

static bool k_inherited_freed(void *ctx, const struct qh_alloc_key *k)
{
	return tracer__inherited_freed(((struct kernel_ctx *)ctx)->tr, k);
}

/* the class the hold gave the block, or why it has none */
static int k_kind(void *ctx, const struct proc *p, const struct qh_alloc_key *k,
		  const struct qh_alloc *a, const char **reason)
{
	const struct session *s = ((struct kernel_ctx *)ctx)->s;
	int kind;

	if (!s)
		return LEAK_UNCLASSIFIED;
	/* leaks -p: the scan at the end closed the window */
	if (leakclass__after_scan(s->classes, k->tgid, k->gen, a->ts_ns))
		return -1;
	kind = leakclass__kind(s->classes, k->tgid, k->gen, k->addr, reason);
	if (kind != LEAK_UNCLASSIFIED || *reason)
		return kind;
	if (s->unheld[0])
		*reason = s->unheld;
	else if (p->state == PROC_RUNNING)
		*reason = s->o->pid ? "not held: running at the end, not scanned" :
				      "still running at the end of the run: not scanned";
	else if (s->o->pid && p->pid == s->o->pid)
		*reason = "exited before the scan at the end of --duration";
	else if (s->o->pid)
		*reason = "not held: leaks -p scans only the process it follows, at the end";
	else
		*reason = "exited unheld (a vfork child, or gone before its exit stop)";
	return LEAK_UNCLASSIFIED;
}

static void k_forget_alloc(void *ctx, const struct qh_alloc_key *k)
{
	tracer__forget_alloc(((struct kernel_ctx *)ctx)->tr, k);
}

static int k_read_fds(void *ctx, pid_t pid, struct fd_table *t)
{
	(void)ctx;
	return fdtable__read(pid, t);
}

static void k_forget_fd(void *ctx, const struct qh_fd_key *k)
{
	tracer__forget_fd(((struct kernel_ctx *)ctx)->tr, k);
}

static struct syms_maps *k_maps(void *ctx, pid_t pid, uint64_t start_ns)
{
	(void)ctx;
	return syms_maps__snapshot_of(pid, start_ns);
}

static int32_t k_test_of(void *ctx, const struct proc *p, const struct qh_alloc_key *k,
			 const struct qh_alloc *a)
{
	return testattr__block_test(((struct kernel_ctx *)ctx)->tests, p, k, a);
}

static int k_slice(void *ctx, uint64_t id, struct qh_ustack_slice *out)
{
	return tracer__ustack_slice(((struct kernel_ctx *)ctx)->tr, id, out);
}

static int k_rows(void *ctx, const struct syms_maps *m, const struct syms_map *map,
		  const struct qh_unwind_row **rows, size_t *n)
{
	return tracer__rows(((struct kernel_ctx *)ctx)->tr, syms_maps__pid(m), map->path, rows, n);
}

static void heap_ops(struct heapcollect_ops *ops, struct kernel_ctx *k)
{
	*ops = (struct heapcollect_ops){
		.stack = k_ustack,
		.slice = k_slice,
		.rows = k_rows,
		.inherited_freed = k_inherited_freed,
		.forget = k_forget_alloc,
		.resolve = k_resolve_inline,
		.kind = k_kind,
		.test_of = k->tests ? k_test_of : NULL,
		.ctx = k,
	};
}


/*
 * Every live block the kernel holds, into @leaks (grouped, not yet symbolized). With
 * @harvest, only the blocks of processes that have exited (nothing can free them now): they
 * go into @leaks for good and out of the kernel map, so it holds what can still change.
 */
static int collect_blocks(struct session *s, struct heapleaks *leaks, bool harvest,
			  struct testattr *tests)
{
	struct tracer *tr = s->tr;
	struct proctree *t = s->tree;
	struct kernel_ctx k = { .tr = tr, .s = s, .tests = tests };
	struct heap_blocks b = {};
	struct heapcollect_ops ops;
	struct proc *p;
	uint64_t now;
	int err, cerr;

	heap_ops(&ops, &k);
	/* processes still running may have loaded more libraries */
	for (p = proctree__first(t); p; p = p->next)
		if (p->state == PROC_RUNNING && heap_wanted(s->actx, p))
			refresh_maps(tr, p);
	now = util__now_ns(CLOCK_BOOTTIME);
	/* what was read before a failure still counts */
	err = tracer__for_each_alloc(tr, heap_blocks__add, &b);
	cerr = heapcollect__blocks(&ops, t, leaks, b.v, b.n, harvest, now);
	free(b.v);
	return err ?: cerr;
}

/*
 * The mappings the kernel's walk of each finding's stack went through, added to its process's
 * where /proc never showed them (the process exited before it was read, a library dlclose'd):
 * named by the files the loader has seen, so no frame of a known file goes unnamed.
 */
static void stack_maps(struct tracer *tr, struct heapleaks *leaks)
{
	struct qh_ustack_vma v[QH_USTACK_VMAS];
	char *text = NULL, line[PATH_MAX + 128];
	struct heap_leak *l;
	size_t i, len = 0, cap = 0;
	int n, j;

	for (i = 0; (l = heapleaks__get(leaks, i)); i++) {
		struct syms_maps *m;

		n = tracer__ustack_vmas(tr, l->stack_id, v, QH_USTACK_VMAS);
		len = 0;
		for (j = 0; j < n; j++) {
			const char *path = tracer__file_path(tr, v[j].dev, v[j].ino);
			int k;

			if (!path || (l->proc->maps && syms_maps__find(l->proc->maps, v[j].start)))
				continue;
			k = snprintf(line, sizeof(line), "%lx-%lx r-xp %08lx %x:%x %lu %s\n",
				     (unsigned long)v[j].start, (unsigned long)v[j].end,
				     (unsigned long)v[j].pgoff << 12, (unsigned int)(v[j].dev >> 20),
				     (unsigned int)(v[j].dev & 0xfffff), (unsigned long)v[j].ino, path);
			if (k < 0 || vec_reserve(text, cap, len + k + 1))
				continue;
			memcpy(text + len, line, k + 1);
			len += k;
		}
		if (!len)
			continue;
		m = syms_maps__merge(l->proc->maps, text, l->proc->pid);
		if (m)
			proctree__set_maps(l->proc, m);
	}
	free(text);
}

static int collect_heap_leaks(struct session *s)
{
	struct kernel_ctx k = { .tr = s->tr, .s = s, .tests = s->tests };
	struct heapleaks *leaks = s->leaks;
	struct heapcollect_ops ops;
	int err;

	if (hold__collect(s->hold, s->classes))
		pr_warn("heap: out of memory for the leak classes\n");
	err = collect_blocks(s, leaks, false, s->tests);
	if (err)
		return err;
	heaptrend__apply(s->trend, leaks);
	k.sy = syms__new(SYMS_MAX_FILES);
	if (!k.sy)
		return -errno;
	heap_ops(&ops, &k);
	stack_maps(s->tr, leaks);
	heapcollect__frames(&ops, leaks);
	syms__free(k.sy);
	heapleaks__merge_same_frames(leaks);
	heapleaks__sift(leaks, s->o->leak_kinds, s->supp, s->o->show_runtime);
	return 0;
}

int session__heap_finish(struct session *s, struct heapleaks *leaks)
{
	struct kernel_ctx k = { .tr = s->tr, .s = s };
	struct heapcollect_ops ops;

	heapleaks__finish(leaks, util__now_ns(CLOCK_BOOTTIME));
	k.sy = syms__new(SYMS_MAX_FILES);
	if (!k.sy)
		return -errno;
	heap_ops(&ops, &k);
	stack_maps(s->tr, leaks);
	heapcollect__frames(&ops, leaks);
	syms__free(k.sy);
	heapleaks__merge_same_frames(leaks);
	heapleaks__sift(leaks, s->o->leak_kinds, s->supp, s->o->show_runtime);
	return 0;
}

struct fd_recs {
	struct fd_rec *v;
	size_t n, cap;
};

static int add_fd_rec(void *ctx, const struct qh_fd_key *k, const struct qh_fd *v)
{
	struct fd_recs *r = ctx;
	struct fd_rec *e = vec_push(r->v, r->n, r->cap);

	if (!e)
		return -ENOMEM;
	e->k = *k;
	e->v = *v;
	return 0;
}

/*
 * The fd records of one process: a lookup per fd /proc/PID/fd lists, not a walk of the whole
 * map (a test's end reads its process's only: ~20 lookups instead of every record). A record
 * whose fd is closed already is not wanted there. 0 or -errno.
 */
static int fd_recs_of(struct tracer *tr, pid_t pid, struct fd_recs *r)
{
	char path[32];
	struct dirent *de;
	DIR *d;
	int err = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while (!err && (de = readdir(d))) {
		struct qh_fd_key k = { .tgid = pid };
		struct qh_fd v;
		char *end;
		unsigned long fd = strtoul(de->d_name, &end, 10);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end || fd > UINT32_MAX)
			continue;
		k.fd = fd;
		if (tracer__lookup_fd(tr, k.tgid, k.fd, &v))
			continue; /* no record: opened before tracing, or inherited */
		err = add_fd_rec(r, &k, &v);
	}
	closedir(d);
	return err;
}

/*
 * --fd-stacks: the function that opened what an exited process held, in the mappings the
 * model kept of it (its program's text from its exec: /proc has none of an exited process).
 */
static void exit_site(void *ctx, const struct proc *p, const struct qh_fd *opener, char *site,
		      size_t len)
{
	char buf[96];

	fdsync__site(ctx, p->maps, opener, buf, sizeof(buf));
	if (buf[0])
		snprintf(site, len, "%s", buf);
}

/*
 * Reconcile the running processes with /proc/PID/fd (fdsync.h), then feed the findings: a
 * periodic check looks for growth, the end for what survivors hold.
 */
static void fd_check(struct session *s, bool at_end)
{
	struct kernel_ctx k = { .tr = s->tr };
	struct fdsync_ops ops = { .read_table = k_read_fds, .forget = k_forget_fd, .ctx = &k };
	struct fd_recs recs = {};
	uint64_t now = util__now_ns(CLOCK_BOOTTIME);

	if (s->o->no_fds || !s->fdleaks)
		return;
	/* --fd-stacks: one symbolizer for the check, its files shared by the processes */
	if (s->o->fd_stacks)
		k.sy = syms__new(SYMS_MAX_FILES);
	if (k.sy) {
		ops.maps = k_maps;
		ops.stack = k_stack;
		ops.resolve = k_resolve;
	}
	if (tracer__for_each_fd(s->tr, add_fd_rec, &recs))
		pr_warn("fd check: failed to read the kernel's fd records\n");
	fdsync__check(&ops, s->tree, s->fdleaks, recs.v, recs.n, now, at_end);
	if (at_end && k.sy)
		fdleaks__exit_sites(s->fdleaks, exit_site, &ops);
	syms__free(k.sy);
	free(recs.v);
}

static bool any_exited(struct proctree *t)
{
	struct proc *p;

	for (p = proctree__first(t); p; p = p->next)
		if (p->state == PROC_EXITED)
			return true;
	return false;
}

/* --- tests and the control socket ------------------------------------------------------------ */

static struct proc *ta_proc_of(void *ctx, uint32_t tgid)
{
	return proctree__find_running(ctx, tgid);
}

static struct proc *ta_proc_of_gen(void *ctx, uint32_t tgid, uint32_t gen)
{
	return proctree__find_gen(ctx, tgid, gen);
}

static int ta_read_table(void *ctx, pid_t pid, struct fd_table *t)
{
	(void)ctx;
	return fdtable__read(pid, t);
}

/* file + anon + shmem RSS of a running traced process now, in kB; -1: unknown */
static int64_t rss_now_kb(struct session *s, const struct proc *p)
{
	struct qh_proc cur;

	if (tracer__lookup(s->tr, p->pid, &cur) || !procfs__same_start(cur.start_ns, p->start_ns))
		return -1;
	return (cur.rss_pages[MM_FILEPAGES] + cur.rss_pages[MM_ANONPAGES] +
		cur.rss_pages[MM_SHMEMPAGES]) * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * Test @idx has just ended (its process waits for our reply): the fds and heap blocks its
 * processes hold now and made during it.
 */
static bool driver_alive(void *ctx, struct proc *p)
{
	const struct driver_inst *d = procwatch__driver_of(p);

	(void)ctx;
	return d && d->driver == p && p->state == PROC_RUNNING;
}

static void driver_outlived(void *ctx, struct proc *p)
{
	struct session *s = ctx;

	if (procwatch__driver_of(p))
		procwatch__outlived_test(s->watch, p, util__now_ns(CLOCK_BOOTTIME));
}

static void test_ended(struct session *s, int32_t idx)
{
	struct testattr_ops ops = { .proc_of = ta_proc_of, .proc_of_gen = ta_proc_of_gen,
				    .read_table = ta_read_table, .ctx = s->tree };

	/* its last forks, execs and exits first */
	tracer__consume(s->tr);
	/*
	 * Selenium's quit() returns once the driver has exited: a driver of the test still
	 * running now was not quit, and its tree goes with it (an interpreter's exit stopping
	 * it later does not make it clean). Other processes get --test-grace.
	 */
	if (testattr__driver_alive(s->tests, idx, driver_alive, s))
		testattr__for_each_started(s->tests, idx, driver_outlived, s);
	if (!s->o->no_fds) {
		const struct proc *p = testattr__get(s->tests, idx)->proc;
		struct fd_recs recs = {};
		int err;

		/* only the test's own process counts (testattr.h): its records alone */
		if (p && p->state == PROC_RUNNING)
			err = fd_recs_of(s->tr, p->pid, &recs);
		else
			err = tracer__for_each_fd(s->tr, add_fd_rec, &recs);
		if (err || testattr__fds_at_end(s->tests, idx, recs.v, recs.n, &ops))
			pr_warn("test %s: its fds could not be read\n",
				testattr__get(s->tests, idx)->name);
		free(recs.v);
	}
	if (s->o->heap) {
		struct heap_blocks b = {};

		if (tracer__for_each_alloc(s->tr, heap_blocks__add, &b) ||
		    testattr__heap_at_end(s->tests, idx, b.v, b.n, &ops))
			pr_warn("test %s: its heap blocks could not be read\n",
				testattr__get(s->tests, idx)->name);
		free(b.v);
	}
}

/* The first test of a process began: what it made just before is not the test's. */
static void test_began(struct session *s, int32_t idx)
{
	struct testattr_ops ops = { .proc_of = ta_proc_of, .proc_of_gen = ta_proc_of_gen,
				    .read_table = ta_read_table, .ctx = s->tree };
	struct heap_blocks b = {};
	struct fd_recs recs = {};

	if (!s->o->no_fds && tracer__for_each_fd(s->tr, add_fd_rec, &recs))
		pr_warn("failed to read the kernel's fd records\n");
	if (s->o->heap && tracer__for_each_alloc(s->tr, heap_blocks__add, &b))
		pr_warn("failed to read the kernel's heap blocks\n");
	testattr__at_begin(s->tests, idx, recs.v, recs.n, b.v, b.n, &ops);
	free(recs.v);
	free(b.v);
}

/* The figures of the traced tree now (the stats and snapshot requests). */
static void stats_json(struct session *s, cJSON *o)
{
	const struct driver_inst *const *drivers;
	uint64_t fds = 0, heap_bytes = 0, heap_blocks = 0, running = 0;
	uint32_t active = 0, browsers = 0, zombies = 0;
	const struct leftover *left;
	const struct zombie *z;
	struct qh_proc cur;
	struct proc *p;
	size_t i, k, n;
	cJSON *a;

	for (p = proctree__first(s->tree); p; p = p->next) {
		if (p->state != PROC_RUNNING || tracer__lookup(s->tr, p->pid, &cur) ||
		    !procfs__same_start(cur.start_ns, p->start_ns))
			continue;
		running++;
		fds += cur.fd_open;
		heap_bytes += cur.heap_live_bytes;
		heap_blocks += cur.heap_live_count;
	}
	a = cJSON_CreateArray();
	n = procwatch__drivers(s->watch, &drivers);
	for (i = 0; i < n; i++) {
		const struct driver_inst *d = drivers[i];
		uint32_t alive = 0, b = 0;
		int64_t kb = 0, one;
		cJSON *e;

		for (k = 0; k < d->nprocs; k++) {
			if (d->procs[k]->state != PROC_RUNNING)
				continue;
			alive++;
			b += procwatch__is_browser(s->watch, d->procs[k]);
			one = rss_now_kb(s, d->procs[k]);
			kb += one > 0 ? one : 0;
		}
		if (!alive)
			continue;
		active += d->driver->state == PROC_RUNNING;
		browsers += b;
		e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "id", d->id);
		cJSON_AddStringToObject(e, "kind", d->kind);
		cJSON_AddNumberToObject(e, "pid", d->driver->pid);
		cJSON_AddBoolToObject(e, "driver_alive", d->driver->state == PROC_RUNNING);
		cJSON_AddNumberToObject(e, "processes_alive", alive);
		cJSON_AddNumberToObject(e, "browsers_alive", b);
		cJSON_AddNumberToObject(e, "memory_kb", kb);
		cJSON_AddItemToArray(a, e);
	}
	n = procwatch__zombies(s->watch, &z);
	for (i = 0; i < n; i++)
		zombies += z[i].p->state != PROC_REAPED;
	cJSON_AddNumberToObject(o, "processes", running);
	cJSON_AddNumberToObject(o, "drivers_active", active);
	cJSON_AddNumberToObject(o, "browsers_alive", browsers);
	cJSON_AddItemToObject(o, "drivers", a);
	cJSON_AddNumberToObject(o, "zombies", zombies);
	cJSON_AddNumberToObject(o, "leftovers", procwatch__leftovers(s->watch, &left));
	if (s->o->no_fds)
		cJSON_AddNullToObject(o, "fds_open");
	else
		cJSON_AddNumberToObject(o, "fds_open", fds);
	if (s->o->heap) {
		cJSON_AddNumberToObject(o, "heap_outstanding_bytes", heap_bytes);
		cJSON_AddNumberToObject(o, "heap_outstanding_blocks", heap_blocks);
	} else {
		cJSON_AddNullToObject(o, "heap_outstanding_bytes");
		cJSON_AddNullToObject(o, "heap_outstanding_blocks");
	}
}

static int status_rss(void *ctx, const struct proc *p, uint64_t pages[QH_NR_RSS])
{
	struct qh_proc cur;

	if (tracer__lookup(ctx, p->pid, &cur) || !procfs__same_start(cur.start_ns, p->start_ns))
		return -ESRCH;
	memcpy(pages, cur.rss_pages, sizeof(cur.rss_pages));
	return 0;
}

static int status_state(void *ctx, const struct proc *p, char *state)
{
	struct procfs_stat st;

	(void)ctx;
	if (procfs__read_stat(p->pid, &st) || !procfs__same_start(st.start_ns, p->start_ns))
		return -ESRCH;
	*state = st.state;
	return 0;
}

int session__status(struct session *s, const char *mode, uint32_t top,
		    const struct status_job *jobs, size_t njobs, cJSON *reply)
{
	struct status_ops ops = { .rss = status_rss, .state = status_state, .ctx = s->tr };
	struct status_info in = { .mode = mode, .pid = getpid(), .top = top,
				  .page_size = sysconf(_SC_PAGESIZE), .jobs = jobs,
				  .njobs = njobs };
	uint64_t st[QH_STAT_MAX];
	struct procfs_stat self;
	int i;

	tracer__consume(s->tr);
	in.now_ns = util__now_ns(CLOCK_BOOTTIME);
	if (!procfs__read_stat(in.pid, &self))
		in.started_ns = self.start_ns;
	in.events = proctree__events(s->tree);
	if (!tracer__stats(s->tr, st))
		for (i = 0; i < QH_STAT_LOST_MAX; i++)
			in.events_lost += st[i];
	return status__json(&ops, s->tree, s->watch, &in, reply);
}

static int on_request(void *ctx, const struct ctl_req *r, const struct ctl_peer *peer,
		      cJSON *reply)
{
	struct session *s = ctx;
	uint64_t now = util__now_ns(CLOCK_BOOTTIME);
	pid_t pid = r->pid ? r->pid : peer->pid;
	char why[160], buf[40];
	struct proc *p;
	int32_t idx;

	if (r->op == CTL_STATUS)
		return session__status(s, "attach", r->top, NULL, 0, reply);
	/* what happened before the request (forks, execs, exits) is in the model first */
	tracer__consume(s->tr);
	if (r->op == CTL_STATS || r->op == CTL_SNAPSHOT) {
		stats_json(s, reply);
		if (r->op == CTL_SNAPSHOT && s->snapshots) {
			cJSON *snap = cJSON_Duplicate(reply, true);

			/* profiler.max_snapshots: the newest kept, the oldest dropped and counted */
			if (snap && s->nsnapshots >= s->o->settings.max_snapshots) {
				cJSON_DeleteItemFromArray(s->snapshots, 0);
				s->nsnapshots--;
				s->snapshots_dropped++;
			}
			if (snap) {
				s->nsnapshots++;
				cJSON_DeleteItemFromObjectCaseSensitive(snap, "ok");
				cJSON_AddStringToObject(snap, "name", r->name);
				cJSON_AddStringToObject(snap, "time",
							util__rfc3339(util__boot_to_real_ns(now), buf,
								      sizeof(buf)));
				cJSON_AddItemToArray(s->snapshots, snap);
			}
		}
		return 0;
	}
	if (pid != peer->pid && (p = proctree__find_running(s->tree, peer->pid)))
		testattr__client(s->tests, p);
	p = proctree__find_running(s->tree, pid);
	if (!p) {
		snprintf(why, sizeof(why), "pid %d is not a process qhtrace traces", pid);
		cJSON_AddStringToObject(reply, "error", why);
		return -ESRCH;
	}
	idx = testattr__mark(s->tests, r, p, now, rss_now_kb(s, p), why, sizeof(why));
	if (idx < 0) {
		cJSON_AddStringToObject(reply, "error", why);
		return idx;
	}
	if (testattr__ended(s->tests, idx))
		test_ended(s, idx);
	else if (r->event == CTL_BEGIN && testattr__needs_begin(s->tests, idx))
		test_began(s, idx);
	cJSON_AddNumberToObject(reply, "section", idx);
	return 0;
}

void session__set_heap_filter(struct session *s, session_heap_fn fn, void *ctx)
{
	s->actx->heap_filter = fn;
	s->actx->heap_ctx = ctx;
}

void session__set_event_hook(struct session *s, session_event_fn fn, void *ctx)
{
	s->actx->hook = fn;
	s->actx->hook_ctx = ctx;
}

const char *session__control_path(const struct session *s)
{
	return s->ctl ? ctlsrv__path(s->ctl) : NULL;
}

bool session__on_fd(struct session *s, int fd)
{
	if (!s->ctl || fd != ctlsrv__fd(s->ctl))
		return false;
	ctlsrv__process(s->ctl);
	return true;
}

static void outlived(void *ctx, struct proc *p)
{
	struct session *s = ctx;

	if (procwatch__outlived_test(s->watch, p, util__now_ns(CLOCK_BOOTTIME)))
		pr_debug("pid %u %s outlived its test\n", p->pid, p->comm);
}

/* tests that ended --test-grace ago: what they started must be gone */
static void check_tests(struct session *s, bool all)
{
	int32_t idx;

	while ((idx = testattr__next_due(s->tests, util__now_ns(CLOCK_BOOTTIME), all)) >= 0)
		testattr__for_each_started(s->tests, idx, outlived, s);
}

static void tick_tests(struct session *s, uint64_t now)
{
	(void)now;
	check_tests(s, false);
}

/* attach: the control socket, owned by the user CMD runs as, watched by the event loop */
static int open_control(struct session *s, const struct attach_opts *o)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	s->tests = testattr__new((uint64_t)o->test_grace_ms * 1000000ULL,
				 o->resource_leak_count);
	s->snapshots = cJSON_CreateArray();
	if (!s->tests || !s->snapshots)
		return -ENOMEM;
	s->actx->tests = s->tests;
	err = ctlsrv__open(&s->ctl, o->run_uid, on_request, s);
	if (err)
		return err;
	ev.data.fd = ctlsrv__fd(s->ctl);
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		err = -errno;
		pr_err("failed to watch the control socket: %s\n", strerror(-err));
		return err;
	}
	return 0;
}

/* --suppressions: every file read, a malformed line refused with its number */
static int load_suppressions(const struct attach_opts *o, struct leaksupp *into)
{
	struct leaksupp tmp = {}, *s = into ? into : &tmp;
	char why[PATH_MAX + 160];
	uint32_t i;
	int err = 0;

	for (i = 0; i < o->n_suppressions && !err; i++) {
		err = leaksupp__load(s, o->suppressions[i], why, sizeof(why));
		if (err)
			pr_err("suppressions %s\n", why);
	}
	leaksupp__free(&tmp);
	return err;
}

int session__preflight(const struct attach_opts *o)
{
	char why[PATH_MAX + 64];

	if (o->verbose)
		log__set_level(QH_LOG_DEBUG);
	if (o->output && util__check_output(o->output, why, sizeof(why))) {
		pr_err("cannot write the report to %s: %s\n", o->output, why);
		return QH_EXIT_USAGE;
	}
	if (outputs__preflight(o))
		return QH_EXIT_USAGE;
	if (load_suppressions(o, NULL))
		return QH_EXIT_USAGE;
	return tracer__preflight() ? QH_EXIT_ERROR : 0;
}

int session__signals(sigset_t *oldmask, bool children)
{
	/* what ends a process by default, as signal(7) lists it */
	static const int ending[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGPIPE,
				      SIGALRM, SIGSTKFLT, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
				      SIGXCPU, SIGXFSZ };
	sigset_t mask;
	size_t i;
	int sfd, s;

	sigemptyset(&mask);
	for (i = 0; i < sizeof(ending) / sizeof(ending[0]); i++)
		sigaddset(&mask, ending[i]);
	for (s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaddset(&mask, s);
	if (children)
		sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, oldmask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		pr_err("failed to create signalfd: %s\n", strerror(errno));
	return sfd;
}

bool session__own_signal(const struct signalfd_siginfo *si)
{
	return (si->ssi_signo == SIGPIPE || si->ssi_signo == SIGXFSZ) &&
	       si->ssi_code == SI_USER && si->ssi_pid == (uint32_t)getpid();
}

void session__signals_done(int sfd, const sigset_t *oldmask)
{
	struct signalfd_siginfo si;

	if (sfd >= 0) {
		while (read(sfd, &si, sizeof(si)) == sizeof(si))
			;
		close(sfd);
	}
	sigprocmask(SIG_SETMASK, oldmask, NULL);
}

/* RSS of a running process for the driver trees: the kernel's counters, if it still is ours */
static int watch_rss(void *ctx, const struct proc *p, uint64_t pages[QH_NR_RSS])
{
	struct qh_proc cur;
	int err = tracer__lookup(ctx, p->pid, &cur);

	if (err)
		return err;
	if (!procfs__same_start(cur.start_ns, p->start_ns))
		return -ESRCH;
	memcpy(pages, cur.rss_pages, sizeof(cur.rss_pages));
	return 0;
}

/* PSS and USS of a running process of a driver tree, if it still is ours */
static int watch_pss(void *ctx, const struct proc *p, uint64_t *pss_kb, uint64_t *uss_kb)
{
	struct procfs_rollup r;
	struct qh_proc cur;
	int err = tracer__lookup(ctx, p->pid, &cur);

	if (err)
		return err;
	if (!procfs__same_start(cur.start_ns, p->start_ns))
		return -ESRCH;
	err = procfs__read_rollup(p->pid, &r);
	if (err)
		return err;
	*pss_kb = r.pss_kb;
	*uss_kb = r.uss_kb;
	return 0;
}

static void add_timers(struct session *s, const struct attach_opts *o);

int session__open(struct session *s, const struct attach_opts *o, const char *libc, int sfd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->efd = -1;
	add_timers(s, o);
	s->tree = proctree__new();
	s->actx = calloc(1, sizeof(*s->actx));
	s->trend = heaptrend__new();
	s->fdleaks = fdleaks__new(o->resource_leak_count);
	if (o->heap)
		s->leaks = heapleaks__new(&(struct heapleaks_opts){
			.threshold_bytes = (uint64_t)o->leak_threshold_mb << 20,
			.by_count = o->sort_by_count,
			.min_age_ns = (uint64_t)o->min_age_s * NSEC_PER_SEC,
		});
	s->classes = leakclass__new();
	s->supp = calloc(1, sizeof(*s->supp));
	if (!s->tree || !s->actx || !s->trend || !s->fdleaks || (o->heap && !s->leaks) ||
	    !s->classes || !s->supp) {
		pr_err("out of memory\n");
		return -ENOMEM;
	}
	if (o->heap && load_suppressions(o, s->supp))
		return -EINVAL;
	s->actx->tree = s->tree;
	s->actx->heap = o->heap;
	s->actx->fd_stacks = o->fd_stacks && !o->no_fds;
	if (o->fd_exit && !o->no_fds)
		s->actx->fdleaks = s->fdleaks;
	err = outputs__open(&s->out, o);
	if (err)
		return err;
	s->actx->out = s->out;
	err = tracer__open(&s->tr, &(struct tracer_opts){
					   .max_procs = o->max_procs,
					   .ringbuf_kb = o->ringbuf_kb,
					   .heap = o->heap,
					   .max_allocs = o->max_allocs,
					   .stacks = o->stacks,
					   .heap_probes = o->heap_probes,
					   .heap_root = o->heap_root,
					   .heap_match = o->n_heap_match > 0,
					   .sample_rate = o->sample_rate,
					   .min_size = o->min_size,
					   .max_size = o->max_size,
					   .no_fds = o->no_fds,
					   .fd_probes = o->fd_probes,
					   .fd_stacks = o->fd_stacks,
					   .fd_exit = o->fd_exit,
					   .job_env = o->job_env_names,
					   .n_job_env = o->n_job_env_names,
					   .max_fds = o->max_fds,
					   .on_event = on_event,
					   .ctx = s->actx,
				   });
	if (err)
		return err;
	s->actx->tr = s->tr;
	s->watch = procwatch__new(&o->watch, watch_rss, s->tr);
	if (s->watch)
		procwatch__set_pss(s->watch, watch_pss, s->tr);
	if (s->watch)
		procwatch__set_alerts(s->watch, outputs__alerts(s->out));
	if (o->watch.auto_cleanup)
		s->cleanup = cleanup__new(&(struct cleanup_opts){
			.timeout_ms = o->watch.force_cleanup_timeout_ms,
			.max_attempts = o->watch.max_cleanup_attempts,
		});
	if (!s->watch || (o->watch.auto_cleanup && !s->cleanup)) {
		pr_err("out of memory\n");
		return -ENOMEM;
	}
	s->actx->watch = s->watch;
	if (o->heap) {
		err = tracer__attach_heap(s->tr, libc);
		if (err)
			return err;
	}
	s->efd = epoll_create1(EPOLL_CLOEXEC);
	if (s->efd < 0) {
		err = -errno;
		pr_err("failed to create epoll: %s\n", strerror(-err));
		return err;
	}
	/* without either, records or signals would wait for the end of the run */
	ev.data.fd = tracer__epoll_fd(s->tr);
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		err = -errno;
		pr_err("failed to watch the ring buffer: %s\n", strerror(-err));
		return err;
	}
	ev.data.fd = sfd;
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, sfd, &ev)) {
		err = -errno;
		pr_err("failed to watch signals: %s\n", strerror(-err));
		return err;
	}
	if (o->heap && o->no_hold) {
		snprintf(s->unheld, sizeof(s->unheld), "not held (--no-hold)");
	} else if (o->heap) {
		/* the block list misses blocks: the arenas are roots (misses, not false leaks) */
		struct hold_opts ho = {
			.arena_is_root = o->pid || o->sample_rate > 1 || o->min_size ||
					 o->max_size != UINT64_MAX || o->n_heap_match,
		};

		err = hold__start(&s->hold, s->tr, &ho);
		if (err) {
			snprintf(s->unheld, sizeof(s->unheld), "not held: the holder did not start: %s",
				 strerror(-err));
		} else {
			ev.data.fd = hold__fd(s->hold);
			if (epoll_ctl(s->efd, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
				err = -errno;
				pr_err("failed to watch the hold's results: %s\n", strerror(-err));
				return err;
			}
		}
	}
	if (o->control && (err = open_control(s, o)))
		return err;
	/* the loader's transient memory (vmlinux BTF, ELF) is not needed any more */
	malloc_trim(0);
	return 0;
}

void session__close(struct session *s)
{
	/* first: what it holds goes on */
	hold__stop(s->hold);
	leakclass__free(s->classes);
	if (s->supp)
		leaksupp__free(s->supp);
	free(s->supp);
	if (s->efd >= 0)
		close(s->efd);
	ctlsrv__close(s->ctl);
	testattr__free(s->tests);
	cJSON_Delete(s->snapshots);
	if (s->reported)
		tracer__free_behind(s->tr);
	else
		tracer__free(s->tr);
	procwatch__free(s->watch);
	cleanup__free(s->cleanup);
	heapleaks__free(s->leaks);
	heaptrend__free(s->trend);
	fdleaks__free(s->fdleaks);
	proctree__free(s->tree);
	outputs__close(s->out);
	free(s->actx);
	memset(s, 0, sizeof(*s));
	s->efd = -1;
}

void session__heap_refresh(struct session *s, struct proc *p)
{
	refresh_maps(s->tr, p);
}

int session__trace_pid(struct session *s, pid_t pid)
{
	struct proc *p;
	int err = session__seed(s->tr, s->tree, pid);

	if (err) {
		pr_err("failed to trace pid %d: %s\n", pid, strerror(-err));
		return err;
	}
	p = proctree__find_running(s->tree, pid);
	if (p && s->o->heap)
		refresh_maps(s->tr, p);
	/* its fd counts now are the baseline growth is measured from */
	fd_check(s, false);
	return 0;
}

void session__hold_tree(struct session *s, pid_t pid)
{
	int err;

	if (!s->hold)
		return;
	err = hold__seize(s->hold, pid);
	if (!err)
		return;
	pr_warn("heap: no hold at exit (ptrace: %s%s): blocks stay unclassified\n", strerror(-err),
		err == -EPERM ? "; another tracer?" : "");
	snprintf(s->unheld, sizeof(s->unheld), "not held: ptrace refused: %s", strerror(-err));
}

void session__scan_running(struct session *s, pid_t pid)
{
	int err;

	if (!s->hold)
		return;
	err = hold__scan_running(s->hold, pid);
	if (err) {
		pr_warn("heap: pid %d could not be stopped for the scan (ptrace: %s%s): its blocks "
			"stay unclassified\n", pid, strerror(-err),
			err == -EPERM ? "; another tracer?" : "");
		snprintf(s->unheld, sizeof(s->unheld), "not scanned: ptrace refused: %s",
			 strerror(-err));
	}
}

void session__set_command(struct session *s, pid_t pid)
{
	procwatch__set_root(s->watch, proctree__find_running(s->tree, pid));
	cleanup__keep_child(s->cleanup, pid);
}

/* With --cleanup, terminate @n leftovers now and verify they are gone. */
static void clean(struct session *s, struct proc **procs, size_t n)
{
	if (!s->cleanup || !n)
		return;
	pr_debug("cleanup: %zu process%s\n", n, n == 1 ? "" : "es");
	if (cleanup__run(s->cleanup, s->tree, procs, n))
		pr_warn("cleanup: out of memory: %zu processes not cleaned up\n", n);
	tracer__consume(s->tr);
}

/*
 * Freed blocks' records wait in `allocs` for the next block at their address. A sweep walks
 * the whole map in the kernel (~35 ms a second for 200,000 live blocks here), so it runs when
 * dead records would fill a sixteenth of the map, when the map was found full, or at most
 * every 30 s while any wait; a workload that reuses its addresses needs none.
 */
static int sweep_heap(struct session *s, uint64_t now)
{
	uint64_t st[QH_STAT_MAX], dead;
	uint64_t cap = s->o->max_allocs ? s->o->max_allocs : QH_DEFAULT_MAX_ALLOCS;
	int err = tracer__stats(s->tr, st);

	if (err)
		return err;
	dead = st[QH_STAT_HEAP_FREED] - st[QH_STAT_HEAP_REUSED] - s->sweep_dead;
	if ((int64_t)dead <= 0 && st[QH_STAT_ALLOCS_FULL] == s->sweep_full)
		return 0;
	if (dead < cap / 16 && st[QH_STAT_ALLOCS_FULL] == s->sweep_full &&
	    now < s->last_sweep_ns + 30 * NSEC_PER_SEC)
		return 0;
	s->last_sweep_ns = now;
	s->sweep_dead = st[QH_STAT_HEAP_FREED] - st[QH_STAT_HEAP_REUSED];
	s->sweep_full = st[QH_STAT_ALLOCS_FULL];
	return tracer__sweep_allocs(s->tr);
}

/* the trees of drivers that ended and left processes behind */
static void tick_watch(struct session *s, uint64_t now)
{
	struct proc **fresh;
	size_t nfresh;

	(void)now;
	procwatch__check(s->watch, s->tree, false, &fresh, &nfresh);
	clean(s, fresh, nfresh);
}

/*
 * monitoring_interval (outputs keeps that deadline, and the alerts' at every tick): the tree's
 * memory, logged and held against the alert threshold
 */
static void tick_monitor(struct session *s, uint64_t now)
{
	uint64_t rss_kb = 0, n = 0;
	struct qh_proc cur;
	struct proc *p;

	if (!outputs__tick(s->out, now))
		return;
	for (p = proctree__first(s->tree); p; p = p->next) {
		if (p->state != PROC_RUNNING || tracer__lookup(s->tr, p->pid, &cur) ||
		    !procfs__same_start(cur.start_ns, p->start_ns))
			continue;
		rss_kb += outputs__memory_proc(s->out, p, &cur, sysconf(_SC_PAGESIZE));
		n++;
	}
	outputs__memory_total(s->out, rss_kb, n);
}

static void tick_sweep(struct session *s, uint64_t now)
{
	int err = sweep_heap(s, now);

	if (err)
		pr_warn("heap: sweeping freed blocks' records failed: %s\n", strerror(-err));
}

/* a process exited or exec'd since the last harvest: its blocks can be taken out */
static void tick_harvest(struct session *s, uint64_t now)
{
	(void)now;
	if (!s->actx->harvest_due)
		return;
	s->actx->harvest_due = false;
	if (collect_blocks(s, s->leaks, true, s->tests))
		pr_warn("heap: failed to collect the blocks of exited processes\n");
}

/* check_interval: fd groups, and heap growth */
static void tick_check(struct session *s, uint64_t now)
{
	struct heapleaks *h;

	(void)now;
	fd_check(s, false);
	if (!s->o->heap)
		return;
	/* every live block counts at a check: growth, not age, is what it looks for */
	h = heapleaks__new(&(struct heapleaks_opts){ .threshold_bytes = UINT64_MAX });
	if (!h || collect_blocks(s, h, false, NULL) || heaptrend__observe(s->trend, h))
		pr_warn("heap check failed: trends will miss it\n");
	else
		outputs__heap_check(s->out, h);
	heapleaks__free(h);
}

static void add_timer(struct session *s, void (*run)(struct session *s, uint64_t now),
		      uint64_t interval_ns, bool first_waits)
{
	s->timers[s->ntimers++] = (struct session_timer){
		.run = run,
		.interval_ns = interval_ns,
		.first_waits = first_waits,
	};
}

/* What session__tick runs, in this order. */
static void add_timers(struct session *s, const struct attach_opts *o)
{
	add_timer(s, tick_watch, 0, false);
	add_timer(s, tick_monitor, 0, false);
	if (o->heap) {
		/* sweep_heap decides whether a sweep is worth it; it looks once a second */
		add_timer(s, tick_sweep, NSEC_PER_SEC, false);
		add_timer(s, tick_harvest, 0, false);
	}
	if (o->control)
		add_timer(s, tick_tests, 0, false);
	/* the first check is one interval after the first tick */
	if (o->check_interval_s)
		add_timer(s, tick_check, o->check_interval_s * NSEC_PER_SEC, true);
}

void session__tick(struct session *s)
{
	uint64_t now = util__now_ns(CLOCK_MONOTONIC);
	size_t i;

	/* the classes of a process arrive before its exit record: a harvest needs them */
	if (hold__collect(s->hold, s->classes))
		pr_warn("heap: out of memory for the leak classes\n");
	for (i = 0; i < s->ntimers; i++) {
		struct session_timer *t = &s->timers[i];

		if (t->first_waits && !t->next_ns) {
			t->next_ns = now + t->interval_ns;
			continue;
		}
		if (now < t->next_ns)
			continue;
		if (t->interval_ns)
			t->next_ns = now + t->interval_ns;
		t->run(s, now);
	}
}

static void reap_ours(struct session *s, pid_t keep)
{
	pid_t pid;
	int st;

	/* orphans re-parented to us (we are a subreaper) that exited, and alert hooks */
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == keep)
			break;
		alerts__reaped(outputs__alerts(s->out), pid, st);
	}
}

/* a test ended whose processes were not checked yet */
static bool has_pending(struct session *s)
{
	size_t i;

	for (i = 0; i < testattr__count(s->tests); i++) {
		const struct test_run *t = testattr__get(s->tests, i);

		if (!t->fixture && t->end_ns && !t->checked)
			return true;
	}
	return false;
}

void session__finish(struct session *s, pid_t cmd_pid)
{
	struct proc **left;
	uint64_t deadline, end;
	size_t n;

	tracer__consume(s->tr);
	/*
	 * The trees of drivers that just ended get their force_cleanup_timeout to go away, but
	 * the run waits no longer than --end-grace for them, and says so: a silent wait of 10 s
	 * at the end looks like a hang
	 */
	deadline = procwatch__pending_deadline(s->watch);
	end = util__now_ns(CLOCK_BOOTTIME) + (uint64_t)s->o->end_grace_ms * 1000000ULL;
	if (deadline > util__now_ns(CLOCK_BOOTTIME) && s->o->end_grace_ms)
		pr_warn("waiting up to %.1fs for the trees of drivers that just ended to exit "
			"(--end-grace)\n",
			((deadline < end ? deadline : end) - util__now_ns(CLOCK_BOOTTIME)) / 1e9);
	while ((deadline = procwatch__pending_deadline(s->watch)) &&
	       util__now_ns(CLOCK_BOOTTIME) < (deadline < end ? deadline : end)) {
		struct epoll_event e;

		epoll_wait(s->efd, &e, 1, 50);
		tracer__consume(s->tr);
		hold__collect(s->hold, s->classes);
		reap_ours(s, cmd_pid);
	}
	/* what the last tests started gets its --test-grace to go away */
	if (s->tests) {
		deadline = util__now_ns(CLOCK_BOOTTIME) + (uint64_t)s->o->test_grace_ms * 1000000ULL;
		while (has_pending(s) && util__now_ns(CLOCK_BOOTTIME) < deadline) {
			struct epoll_event e;

			epoll_wait(s->efd, &e, 1, 50);
			tracer__consume(s->tr);
			reap_ours(s, cmd_pid);
			check_tests(s, false);
		}
		check_tests(s, true);
	}
	procwatch__finish(s->watch, s->tree, &left, &n);
	if (n && !s->cleanup)
		pr_warn("%zu traced process%s still running after the command exited (--cleanup "
			"terminates them)\n", n, n == 1 ? " is" : "es are");
	clean(s, left, n);
	reap_ours(s, cmd_pid);
	/* the trees' memory after the cleanup */
	if (n && s->cleanup)
		procwatch__check(s->watch, s->tree, true, &left, &n);
}

void session__drain(struct session *s, int ms)
{
	uint64_t t0 = util__now_ns(CLOCK_MONOTONIC);

	tracer__consume(s->tr);
	while (any_exited(s->tree) && util__now_ns(CLOCK_MONOTONIC) - t0 < ms * 1000000ULL) {
		struct epoll_event e;

		epoll_wait(s->efd, &e, 1, 20);
		tracer__consume(s->tr);
		/* the hold's results wake the epoll too: take them, or it spins */
		hold__collect(s->hold, s->classes);
	}
}

int session__report(struct session *s, struct run_info *ri)
{
	const struct attach_opts *o = s->o;
	static struct utsname uts;
	cJSON *root;
	int err = 0;

	session__drain(s, SETTLE_MS);
	finalize_states(s->tr, s->tree);
	fd_check(s, true);
	if (s->tests && !o->no_fds) {
		struct testattr_ops ops = { .proc_of = ta_proc_of, .ctx = s->tree };
		struct fd_recs recs = {};

		/* which of the fds tests left open were closed since, by their exit or not */
		if (tracer__for_each_fd(s->tr, add_fd_rec, &recs))
			pr_warn("failed to read the kernel's fd records: tests' fds are not known\n");
		testattr__fds_final(s->tests, recs.v, recs.n, &ops);
		free(recs.v);
	}
	if (!o->no_fds)
		outputs__fd_findings(s->out, s->fdleaks);
	if (o->heap) {
		if (collect_heap_leaks(s))
			pr_warn("failed to collect the heap findings: the report has none\n");
		outputs__heap_findings(s->out, s->leaks);
	}
	ri->duration_s = (util__now_ns(CLOCK_REALTIME) - ri->start_real_ns) / 1e9;
	ri->kernel = uname(&uts) ? "unknown" : uts.release;
	ri->probes = tracer__probes(s->tr);
	ri->events_received = proctree__events(s->tree);
	ri->orphan_events = proctree__orphan_events(s->tree);
	ri->page_size = sysconf(_SC_PAGESIZE);
	ri->heap = o->heap;
	ri->heap_leaks = s->leaks;
	ri->classes = s->classes;
	ri->supp = s->supp;
	ri->leak_kinds = o->leak_kinds;
	ri->hold = !o->heap ? NULL : s->hold ? "ptrace (PTRACE_O_TRACEEXIT)" : s->unheld;
	ri->fds = !o->no_fds;
	ri->fd_leaks = s->fdleaks;
	ri->top = o->top;
	ri->watch = s->watch;
	ri->cleanup = s->cleanup;
	ri->tests = s->tests;
	if (tracer__stats(s->tr, ri->stats))
		pr_warn("failed to read the kernel's loss counters\n");

	/*
	 * The files first: stderr may have no reader left (EPIPE), be full, or block on a
	 * reader that stalls, and the report must not wait for it.
	 */
	root = report__build(s->tree, ri);
	if (!root || testattr__add_json(s->tests, root)) {
		cJSON_Delete(root);
		pr_err("out of memory\n");
		return -ENOMEM;
	}
	if (s->snapshots) {
		cJSON_AddItemToObject(root, "snapshots", cJSON_Duplicate(s->snapshots, true));
		cJSON_AddNumberToObject(root, "snapshots_dropped", s->snapshots_dropped);
	}
	if (s->tests && !o->quiet)
		testattr__summary(stderr, root);
	err = outputs__finish(s->out, root, ri);
	s->reported = true;
	if (o->output) {
		int werr = report__write_json(o->output, root);

		if (werr)
			pr_err("failed to write the report to %s: %s\n", o->output, strerror(-werr));
		err = err ?: werr;
	}
	cJSON_Delete(root);
	/* the command is over: the alerts' lines held while it wrote to stderr */
	alerts__release_lines(outputs__alerts(s->out));
	if (!o->quiet)
		report__summary(stderr, s->tree, ri);
	else if (report__lost(ri))
		pr_warn("%lu events lost: the report is incomplete\n",
			(unsigned long)report__lost(ri));
	return err;
}
