// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heapcollect.h"
#include "heapscan.h"
#include "hold.h"
#include "leakclass.h"
#include "log.h"
#include "tracer.h"
#include "util.h"
#include "vec.h"

/* main -> holder */
enum hold_op { HOLD_SEIZE = 1, HOLD_SCAN_RUNNING };

struct hold_cmd {
	uint32_t op;
	int32_t pid;
};

/* holder -> main: one per process image scanned (or not); under PIPE_BUF, so written whole */
struct hold_msg {
	uint32_t tgid, gen;
	uint64_t start_ns;
	uint64_t stop_ns;	/* CLOCK_BOOTTIME, a running process's stop (leaks -p), else 0 */
	uint64_t off, n;	/* its blocks' classes in the memfd: n struct leakclass_block */
	uint32_t threads;
	uint8_t classified, conservative;
	double pause_ms, scan_ms;
	uint64_t root_bytes, heap_bytes, unreadable_bytes;
	char reason[128];
};

struct hold {
	pid_t pid;	/* the holder */
	int ctl;	/* commands to it */
	int ack;	/* its answer to each command: an int, 0 or -errno */
	int res;	/* struct hold_msg records */
	int mfd;	/* the classes, shared */
};

#define MAX_TRACEES 65536
#define MAX_HELD 1024

/* ---- the holder's side ---- */

struct tracee {
	pid_t tid;
	bool vfork_child; /* shares its parent's memory until it execs or exits */
};

/*
 * A thread at its exit stop while its process goes on, as far as can be told: exit_group
 * SIGKILLs the caller's siblings, and one of them may reach its exit stop before the caller
 * reaches its own. It is kept stopped a moment, so the process's exit (if it is one) finds it
 * held; else it is let go.
 */
struct parked {
	pid_t tid, tgid;
	uint64_t since;
};

#define PARK_NS (20 * 1000000ULL)

struct holder {
	struct tracer *tr;
	struct parked *pk;
	size_t npk, cappk;
	struct hold_opts o;
	int res, mfd;
	uint64_t moff;
	struct tracee *t;
	size_t nt, capt;
};

static uint64_t now_ns(void)
{
	return util__now_ns(CLOCK_MONOTONIC);
}

static struct tracee *tracee_find(struct holder *h, pid_t tid, bool add)
{
	struct tracee *t;
	size_t i;

	for (i = 0; i < h->nt; i++)
		if (h->t[i].tid == tid)
			return &h->t[i];
	if (!add || h->nt >= MAX_TRACEES)
		return NULL;
	t = vec_push(h->t, h->nt, h->capt);
	if (t)
		t->tid = tid;
	return t;
}

static void tracee_drop(struct holder *h, pid_t tid)
{
	struct tracee *t = tracee_find(h, tid, false);

	if (t)
		*t = h->t[--h->nt];
}

static pid_t tgid_of(pid_t tid)
{
	char path[64], line[128];
	pid_t tgid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Tgid: %d", &tgid) == 1)
			break;
	fclose(f);
	return tgid;
}

/* a thread's state letter ('?' if gone) */
static char task_state(pid_t tgid, pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", tgid, tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

/* the threads of @tgid that are not dead yet */
static int live_threads(pid_t tgid, pid_t *tids, int max)
{
	char path[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", tgid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		pid_t tid = atoi(de->d_name);
		char st;

		if (tid <= 0)
			continue;
		st = task_state(tgid, tid);
		if (st != 'Z' && st != 'X' && st != '?')
			tids[n++] = tid;
	}
	closedir(d);
	return n;
}

static void resume(pid_t tid, int sig)
{
	ptrace(PTRACE_CONT, tid, 0, (void *)(long)sig);
}

/* wait for @tid's exit stop; the stops before it are let go */
static bool wait_exit_stop(pid_t tid)
{
	int st;

	for (;;) {
		if (waitpid(tid, &st, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		if (!WIFSTOPPED(st))
			return false;
		if ((st >> 16) == PTRACE_EVENT_EXIT)
			return true;
		resume(tid, (st >> 16) ? 0 : WSTOPSIG(st));
	}
}


/*
 * The blocks in the memory of @tgid (its image @p): its own live blocks, and those it
 * inherited at fork and has not freed (heapcollect's rules: made before the fork, in the
 * parent's generation it was forked from).
 */
static int select_blocks(struct holder *h, pid_t tgid, const struct qh_proc *p,
			 struct heapscan_block **out, size_t *n)
{
	struct heap_blocks all = {};
	struct heapscan_block *v;
	size_t i, k = 0;
	int err;

	err = tracer__for_each_alloc(h->tr, heap_blocks__add, &all);
	if (err) {
		free(all.v);
		return err;
	}
	v = calloc(all.n ? all.n : 1, sizeof(*v));
	if (!v) {
		free(all.v);
		return -ENOMEM;
	}
	for (i = 0; i < all.n; i++) {
		const struct qh_alloc_key *bk = &all.v[i].k;
		const struct qh_alloc *a = &all.v[i].a;
		bool own = bk->tgid == (uint32_t)tgid && bk->gen == p->heap_gen;

		if (!own && p->inherit_tgid && bk->tgid == p->inherit_tgid &&
		    bk->gen == p->inherit_gen && a->epoch < p->inherit_epoch) {
			struct qh_alloc_key hk = { .tgid = tgid, .gen = p->heap_gen,
						   .addr = bk->addr };

			own = !tracer__inherited_freed(h->tr, &hk);
		}
		if (own)
			v[k++] = (struct heapscan_block){ .addr = bk->addr, .size = a->size };
	}
	free(all.v);
	*out = v;
	*n = k;
	return 0;
}

static void send_msg(struct holder *h, struct hold_msg *m, const struct heapscan_block *b,
		     const uint8_t *kinds)
{
	struct leakclass_block *v = NULL;
	size_t i;

	if (m->classified && m->n) {
		v = calloc(m->n, sizeof(*v));
		if (!v) {
			m->classified = 0;
			snprintf(m->reason, sizeof(m->reason), "scan failed: out of memory");
		}
	}
	if (v) {
		for (i = 0; i < m->n; i++)
			v[i] = (struct leakclass_block){ .addr = b[i].addr, .kind = kinds[i] };
		if (pwrite(h->mfd, v, m->n * sizeof(*v), h->moff) != (ssize_t)(m->n * sizeof(*v))) {
			m->classified = 0;
			snprintf(m->reason, sizeof(m->reason), "scan failed: %s",
				 "the results could not be passed on");
		} else {
			m->off = h->moff;
			h->moff += m->n * sizeof(*v);
		}
		free(v);
	}
	if (!m->classified)
		m->n = 0;
	if (write(h->res, m, sizeof(*m)) != sizeof(*m))
		_exit(0); /* qhtrace is gone */
}

/*
 * Classify the blocks of @tgid, whose threads @held are stopped. @status: the exit status
 * (a wait status; -1 for a running process).
 */
static void classify(struct holder *h, pid_t tgid, const pid_t *held, int nheld, int status,
		     uint64_t t_stop, bool running)
{
	struct heapscan_opts opts = { .glibc_chunks = true, .arena_is_root = h->o.arena_is_root };
	struct heapscan_block *blocks = NULL;
	struct heapscan_proc *hp = NULL;
	struct heapscan_stats st = {};
	struct hold_msg m = {};
	uint64_t stats[QH_STAT_MAX], t_scan;
	uint8_t *kinds = NULL;
	struct qh_proc p;
	size_t n = 0;
	int err, i;

	if (tracer__lookup(h->tr, tgid, &p))
		return; /* not a process the kernel side follows */
	m.tgid = tgid;
	m.gen = p.heap_gen;
	m.start_ns = p.start_ns;
	m.threads = nheld;
	if (running)
		m.stop_ns = util__now_ns(CLOCK_BOOTTIME);
	if (!(p.flags & QH_PF_HEAP_HOOKED))
		return; /* no blocks to classify: the verdict names it as not followed */
	if (!running && WIFSIGNALED(status)) {
		snprintf(m.reason, sizeof(m.reason), "killed by signal %s%s",
			 sigabbrev_np(WTERMSIG(status)) ? "SIG" : "",
			 sigabbrev_np(WTERMSIG(status)) ?: "?");
		goto send;
	}
	/* a map that was found full misses blocks: the arenas are roots then */
	if (!tracer__stats(h->tr, stats) && stats[QH_STAT_ALLOCS_FULL])
		opts.arena_is_root = true;
	m.conservative = opts.arena_is_root;
	err = select_blocks(h, tgid, &p, &blocks, &n);
	if (!err && n && !(kinds = calloc(n, 1)))
		err = -ENOMEM;
	t_scan = now_ns();
	if (!err && n)
		err = heapscan_proc__new(tgid, &hp);
	for (i = 0; i < nheld && !err && hp; i++) {
		struct user_regs_struct r;

		if (ptrace(PTRACE_GETREGS, held[i], 0, &r))
			continue;
		err = heapscan_proc__set_regs(hp, held[i], (const uint64_t *)&r,
					      sizeof(r) / sizeof(uint64_t), r.rsp);
	}
	if (!err && n)
		err = heapscan__classify(blocks, n, &heapscan_proc_ops, hp, &opts, kinds, &st);
	heapscan_proc__free(hp);
	m.scan_ms = (now_ns() - t_scan) / 1e6;
	if (err) {
		snprintf(m.reason, sizeof(m.reason), "scan failed: %s", strerror(-err));
	} else {
		m.classified = 1;
		m.n = n;
		m.root_bytes = st.root_bytes;
		m.heap_bytes = st.heap_bytes;
		m.unreadable_bytes = st.unreadable_bytes;
	}
send:
	m.pause_ms = (now_ns() - t_stop) / 1e6;
	send_msg(h, &m, blocks, kinds);
	free(blocks);
	free(kinds);
}

/* A process ends: gather its other threads at their exit stops, classify, let them all go. */
static void exit_of_process(struct holder *h, pid_t tgid, pid_t first, int status,
			    uint64_t t_stop)
{
	pid_t tids[MAX_HELD], held[MAX_HELD];
	int nheld = 0, ntids, i;

	/* the other threads: SIGKILLed by exit_group, each stops at its exit too (or did) */
	held[nheld++] = first;
	ntids = live_threads(tgid, tids, MAX_HELD);
	for (i = 0; i < ntids && nheld < MAX_HELD; i++) {
		size_t k;

		if (tids[i] == first || !tracee_find(h, tids[i], false))
			continue;
		for (k = 0; k < h->npk && h->pk[k].tid != tids[i]; k++)
			;
		if (k < h->npk) {
			h->pk[k] = h->pk[--h->npk];
			held[nheld++] = tids[i];
		} else if (wait_exit_stop(tids[i])) {
			held[nheld++] = tids[i];
		}
	}
	classify(h, tgid, held, nheld, status, t_stop, false);
	for (i = 0; i < nheld; i++) {
		ptrace(PTRACE_DETACH, held[i], 0, 0);
		tracee_drop(h, held[i]);
	}
}

static void on_exit_stop(struct holder *h, pid_t tid, uint64_t t_stop)
{
	struct tracee *t = tracee_find(h, tid, false);
	struct user_regs_struct r;
	unsigned long msg = 0;
	pid_t tgid = tgid_of(tid), tids[2];
	bool group;

	ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
	if (t && t->vfork_child) { /* its memory is its parent's, which goes on */
		ptrace(PTRACE_DETACH, tid, 0, 0);
		tracee_drop(h, tid);
		return;
	}
	group = !ptrace(PTRACE_GETREGS, tid, 0, &r) && r.orig_rax == SYS_exit_group;
	/* exit_group, a fatal signal, or the last thread leaving by exit: the process ends */
	if (tgid > 0 && (group || WIFSIGNALED(msg) || live_threads(tgid, tids, 2) <= 1)) {
		exit_of_process(h, tgid, tid, (int)msg, t_stop);
		return;
	}
	/* a thread of a process that goes on, or a sibling of an exit_group caller not there yet */
	if (tgid > 0) {
		struct parked *pk = vec_push(h->pk, h->npk, h->cappk);

		if (pk) {
			*pk = (struct parked){ .tid = tid, .tgid = tgid, .since = t_stop };
			return;
		}
	}
	ptrace(PTRACE_DETACH, tid, 0, 0);
	tracee_drop(h, tid);
}

/* the parked threads whose process went on: let them finish their exit */
static void unpark(struct holder *h, uint64_t now)
{
	size_t i = 0;

	while (i < h->npk) {
		if (now - h->pk[i].since < PARK_NS) {
			i++;
			continue;
		}
		ptrace(PTRACE_DETACH, h->pk[i].tid, 0, 0);
		tracee_drop(h, h->pk[i].tid);
		h->pk[i] = h->pk[--h->npk];
	}
}

/* One wait result of a tracee. */
static void on_wait(struct holder *h, pid_t pid, int st)
{
	struct tracee *t;
	unsigned long msg;
	int ev;

	if (WIFEXITED(st) || WIFSIGNALED(st)) {
		/* gone without an exit stop we saw (SIGKILL): the process model says how */
		tracee_drop(h, pid);
		return;
	}
	if (!WIFSTOPPED(st))
		return;
	ev = st >> 16;
	t = tracee_find(h, pid, false);
	if (!t) {
		/* an auto-attached child or thread: its first stop */
		t = tracee_find(h, pid, true);
		if (!t) {
			ptrace(PTRACE_DETACH, pid, 0, 0);
			return;
		}
		if (ev == PTRACE_EVENT_STOP) {
			resume(pid, 0);
			return;
		}
	}
	switch (ev) {
	case PTRACE_EVENT_EXIT:
		on_exit_stop(h, pid, now_ns());
		break;
	case PTRACE_EVENT_VFORK:
		if (!ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg)) {
			struct tracee *c = tracee_find(h, (pid_t)msg, true);

			if (c)
				c->vfork_child = true;
		}
		resume(pid, 0);
		break;
	case PTRACE_EVENT_EXEC:
		t = tracee_find(h, pid, false);
		if (t)
			t->vfork_child = false;
		resume(pid, 0);
		break;
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_VFORK_DONE:
		resume(pid, 0);
		break;
	case PTRACE_EVENT_STOP:
		/* a group stop stays one, as without ptrace, until SIGCONT */
		if (WSTOPSIG(st) == SIGSTOP || WSTOPSIG(st) == SIGTSTP || WSTOPSIG(st) == SIGTTIN ||
		    WSTOPSIG(st) == SIGTTOU)
			ptrace(PTRACE_LISTEN, pid, 0, 0);
		else
			resume(pid, 0);
		break;
	default:
		/* a signal on its way to the tracee: deliver it */
		resume(pid, WSTOPSIG(st));
		break;
	}
}

static int seize(struct holder *h, pid_t pid)
{
	const long opts = PTRACE_O_TRACEEXIT | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
			  PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;

	if (ptrace(PTRACE_SEIZE, pid, 0, (void *)opts))
		return -errno;
	if (!tracee_find(h, pid, true)) {
		ptrace(PTRACE_DETACH, pid, 0, 0);
		return -ENOMEM;
	}
	return 0;
}

/* leaks -p: every thread stopped, a scan, and away */
static int scan_running(struct holder *h, pid_t pid)
{
	pid_t tids[MAX_HELD], held[MAX_HELD];
	int nheld = 0, ntids, i, j, st, rounds;
	uint64_t t_stop = now_ns();

	/* threads started while the others were being stopped: list again until none is new */
	for (rounds = 0; rounds < 8; rounds++) {
		bool added = false;

		ntids = live_threads(pid, tids, MAX_HELD);
		for (i = 0; i < ntids && nheld < MAX_HELD; i++) {
			for (j = 0; j < nheld && held[j] != tids[i]; j++)
				;
			if (j < nheld)
				continue;
			if (ptrace(PTRACE_SEIZE, tids[i], 0, 0))
				continue; /* gone, or traced by another */
			ptrace(PTRACE_INTERRUPT, tids[i], 0, 0);
			while (waitpid(tids[i], &st, __WALL) < 0 && errno == EINTR)
				;
			held[nheld++] = tids[i];
			added = true;
		}
		if (!added)
			break;
	}
	if (!nheld)
		return -ESRCH;
	classify(h, pid, held, nheld, -1, t_stop, true);
	for (i = 0; i < nheld; i++)
		ptrace(PTRACE_DETACH, held[i], 0, 0);
	return 0;
}

static void holder_main(struct holder *h, int ctl, int ack)
{
	struct pollfd pf[2];
	sigset_t mask;
	int sfd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		_exit(1);
	pf[0] = (struct pollfd){ .fd = ctl, .events = POLLIN };
	pf[1] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	for (;;) {
		struct signalfd_siginfo si;
		pid_t pid;
		int st;

		if (poll(pf, 2, h->npk ? 5 : -1) < 0 && errno != EINTR)
			_exit(1);
		if (pf[0].revents) {
			struct hold_cmd c;
			int32_t r = -EINVAL;

			if (read(ctl, &c, sizeof(c)) != sizeof(c))
				_exit(0); /* qhtrace is done: the kernel detaches the tracees */
			if (c.op == HOLD_SEIZE)
				r = seize(h, c.pid);
			else if (c.op == HOLD_SCAN_RUNNING)
				r = scan_running(h, c.pid);
			if (write(ack, &r, sizeof(r)) != sizeof(r))
				_exit(0);
		}
		while (read(sfd, &si, sizeof(si)) == sizeof(si))
			;
		while ((pid = waitpid(-1, &st, __WALL | WNOHANG)) > 0)
			on_wait(h, pid, st);
		if (h->npk)
			unpark(h, now_ns());
	}
}

/*
 * The holder keeps only what it uses: its pipes, the memfd and the BPF maps. Any other fd
 * of qhtrace's (the held command's go pipe above all: the command waits for its EOF when
 * qhtrace gives up, the event log, the signalfd) must not live on in it.
 */
static void close_others(const int *keep, int nkeep)
{
	char path[64], link[64];
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int i, fd;

	if (!d)
		return;
	while ((de = readdir(d))) {
		ssize_t n;

		fd = atoi(de->d_name);
		if (fd <= 2 || fd == dirfd(d) || de->d_name[0] == '.')
			continue;
		for (i = 0; i < nkeep && keep[i] != fd; i++)
			;
		if (i < nkeep)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		link[n > 0 ? n : 0] = '\0';
		if (!strcmp(link, "anon_inode:bpf-map") || !strcmp(link, "anon_inode:bpf-prog"))
			continue;
		close(fd);
	}
	closedir(d);
}

/* ---- qhtrace's side ---- */

int hold__start(struct hold **out, struct tracer *tr, const struct hold_opts *o)
{
	int ctl[2] = { -1, -1 }, ack[2] = { -1, -1 }, res[2] = { -1, -1 }, err;
	struct hold *h = calloc(1, sizeof(*h));
	pid_t parent = getpid();

	*out = NULL;
	if (!h)
		return -ENOMEM;
	h->mfd = memfd_create("qhtrace-hold", MFD_CLOEXEC);
	if (h->mfd < 0 || pipe2(ctl, O_CLOEXEC) || pipe2(ack, O_CLOEXEC) ||
	    pipe2(res, O_CLOEXEC)) {
		err = -errno;
		pr_err("hold at exit: %s\n", strerror(-err));
		goto fail;
	}
	h->pid = fork();
	if (h->pid < 0) {
		err = -errno;
		pr_err("hold at exit: fork: %s\n", strerror(-err));
		goto fail;
	}
	if (!h->pid) {
		struct holder hd = { .tr = tr, .o = *o, .res = res[1], .mfd = h->mfd };
		int keep[] = { ctl[0], ack[1], res[1], h->mfd };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		signal(SIGPIPE, SIG_IGN); /* a write to a closed pipe is an error it handles */
		if (getppid() != parent)
			_exit(0);
		prctl(PR_SET_NAME, "qhtrace-hold");
		close_others(keep, 4);
		holder_main(&hd, ctl[0], ack[1]);
		_exit(0);
	}
	close(ctl[0]);
	close(ack[1]);
	close(res[1]);
	h->ctl = ctl[1];
	h->ack = ack[0];
	h->res = res[0];
	fcntl(h->res, F_SETFL, O_NONBLOCK);
	*out = h;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (ctl[i] >= 0)
			close(ctl[i]);
		if (ack[i] >= 0)
			close(ack[i]);
		if (res[i] >= 0)
			close(res[i]);
	}
	if (h->mfd >= 0)
		close(h->mfd);
	free(h);
	return err;
}

static int command(struct hold *h, uint32_t op, pid_t pid)
{
	struct hold_cmd c = { .op = op, .pid = pid };
	int32_t r;

	if (!h)
		return -ENOTCONN;
	if (write(h->ctl, &c, sizeof(c)) != sizeof(c))
		return -EPIPE;
	/* the answer comes once the holder has done it (a scan may take a second) */
	for (;;) {
		ssize_t n = read(h->ack, &r, sizeof(r));

		if (n == sizeof(r))
			return r;
		if (n < 0 && errno == EINTR)
			continue;
		return -EPIPE;
	}
}

int hold__seize(struct hold *h, pid_t pid)
{
	return command(h, HOLD_SEIZE, pid);
}

int hold__scan_running(struct hold *h, pid_t pid)
{
	return command(h, HOLD_SCAN_RUNNING, pid);
}

int hold__fd(const struct hold *h)
{
	return h ? h->res : -1;
}

int hold__collect(struct hold *h, struct leakclass *c)
{
	struct hold_msg m;
	int err = 0;

	while (h && read(h->res, &m, sizeof(m)) == sizeof(m)) {
		struct leakclass_proc p = {
			.tgid = m.tgid,
			.gen = m.gen,
			.start_ns = m.start_ns,
			.stop_ns = m.stop_ns,
			.classified = m.classified,
			.conservative = m.conservative,
			.threads = m.threads,
			.pause_ms = m.pause_ms,
			.scan_ms = m.scan_ms,
			.root_bytes = m.root_bytes,
			.heap_bytes = m.heap_bytes,
			.unreadable_bytes = m.unreadable_bytes,
		};
		size_t len = m.n * sizeof(struct leakclass_block);

		memcpy(p.reason, m.reason, sizeof(p.reason));
		p.reason[sizeof(p.reason) - 1] = '\0';
		if (m.n) {
			p.v = malloc(len);
			if (!p.v || pread(h->mfd, p.v, len, m.off) != (ssize_t)len) {
				p.classified = false;
				p.n = 0;
				snprintf(p.reason, sizeof(p.reason), "scan results lost: %s",
					 p.v ? "short read" : "out of memory");
			} else {
				p.n = m.n;
			}
			/* read: the memfd gives the pages back */
			fallocate(h->mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, m.off, len);
		}
		if (leakclass__add(c, &p))
			err = -ENOMEM;
		free(p.v);
	}
	return err;
}

void hold__stop(struct hold *h)
{
	if (!h)
		return;
	/* a holder blocked writing results gets EPIPE; one waiting for a command, EOF */
	close(h->res);
	close(h->ctl);
	close(h->ack);
	while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(h->mfd);
	free(h);
}
