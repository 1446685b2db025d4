// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * holdscan: the prototype of the hold at exit, outside qhtrace (the loader does not use it
 * yet). It runs CMD with every process and thread of its tree seized by ptrace
 * (PTRACE_O_TRACEEXIT; TRACEFORK, TRACEVFORK, TRACECLONE so none escapes; TRACEEXEC for the
 * vfork children that exec, and the blocks an exec drops). When a process
 * exits (the thread calling exit_group reaches its PTRACE_EVENT_EXIT stop, or its last
 * thread does), its memory is still whole: the kernel has sent SIGKILL to its other threads,
 * and each of them stops at its own exit stop too; holdscan gathers them all, takes their
 * registers, classifies the blocks the process reported with heapscan, and detaches every
 * thread: the exit goes on. A parent waiting for the process sees its own exit status and
 * nothing else (ptrace stops are reported to the tracer, never to the parent, WUNTRACED or
 * not); atexit handlers and destructors ran before exit_group, untouched.
 *
 * The blocks stand in for qhtrace's `allocs` map: a fixture writes "PID ADDR SIZE LABEL"
 * lines to the fd named by QH_BLOCKS_FD (tests/fixtures/reach.h). Output, one JSON object a
 * line, on -o FILE (default stderr): each block with its kind, then the process's summary
 * (per-class counts and bytes, threads gathered, the pause it saw, the scan's figures).
 * holdscan exits with CMD's status (128+N for a signal).
 *
 *   holdscan [-o FILE] [-v] -- CMD [ARGS...]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heapscan.h"

#define MAX_TRACEES 4096
#define MAX_BLOCKS 65536

struct tracee {
	pid_t tid;
	bool vfork_child; /* shares its parent's memory until it execs or exits */
};

struct rblock {
	pid_t pid;
	uint64_t addr, size;
	char label[48];
};

static struct tracee tracees[MAX_TRACEES];
static int ntracees;
static struct rblock rblocks[MAX_BLOCKS];
static int nrblocks;
static char partial[256];
static size_t npartial;
static int blocks_fd = -1;
static FILE *out;
static bool verbose;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct tracee *tracee_find(pid_t tid, bool add)
{
	int i;

	for (i = 0; i < ntracees; i++)
		if (tracees[i].tid == tid)
			return &tracees[i];
	if (!add || ntracees == MAX_TRACEES)
		return NULL;
	tracees[ntracees] = (struct tracee){ .tid = tid };
	return &tracees[ntracees++];
}

static void tracee_drop(pid_t tid)
{
	struct tracee *t = tracee_find(tid, false);

	if (t)
		*t = tracees[--ntracees];
}

/* the reported blocks: read what the pipe holds */
static void drain_blocks(void)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(blocks_fd, buf, sizeof(buf))) > 0) {
		ssize_t i;

		for (i = 0; i < n; i++) {
			struct rblock *b = &rblocks[nrblocks];

			if (buf[i] != '\n') {
				if (npartial < sizeof(partial) - 1)
					partial[npartial++] = buf[i];
				continue;
			}
			partial[npartial] = 0;
			npartial = 0;
			if (nrblocks < MAX_BLOCKS &&
			    sscanf(partial, "%d %" SCNx64 " %" SCNu64 " %47s", &b->pid, &b->addr,
				   &b->size, b->label) == 4)
				nrblocks++;
		}
	}
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

/* a thread's state letter from /proc/TGID/task/TID/stat ('?' if gone) */
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

/* the threads of @tgid that are not zombies */
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

/* wait for @tid's exit stop (other stops in between are let go) */
static bool wait_exit_stop(pid_t tid)
{
	int st;

	for (;;) {
		if (waitpid(tid, &st, __WALL) < 0)
			return errno == EINTR ? wait_exit_stop(tid) : false;
		if (!WIFSTOPPED(st))
			return false; /* gone */
		if ((st >> 16) == PTRACE_EVENT_EXIT)
			return true;
		resume(tid, (st >> 16) ? 0 : WSTOPSIG(st));
	}
}

static void scan_process(pid_t tgid, pid_t first, unsigned long exit_msg, uint64_t t_stop)
{
	static struct heapscan_block blocks[MAX_BLOCKS];
	static const char *const reason_signal = "killed by a signal";
	static int idx[MAX_BLOCKS];
	static uint8_t kinds[MAX_BLOCKS];
	struct heapscan_opts opts = { .glibc_chunks = true };
	struct heapscan_stats st = {};
	struct heapscan_proc *hp = NULL;
	pid_t tids[256], held[256];
	int nheld = 0, ntids, i, n = 0, err = 0;
	uint64_t t_scan;

	/* the other threads: SIGKILLed by exit_group, each stops at its exit too */
	held[nheld++] = first;
	ntids = live_threads(tgid, tids, 256);
	for (i = 0; i < ntids && nheld < 256; i++)
		if (tids[i] != first && wait_exit_stop(tids[i]))
			held[nheld++] = tids[i];
	drain_blocks();
	for (i = 0; i < nrblocks; i++) {
		if (rblocks[i].pid != tgid)
			continue;
		blocks[n] = (struct heapscan_block){ rblocks[i].addr, rblocks[i].size };
		idx[n++] = i;
	}

	t_scan = now_ns();
	if (!WIFEXITED(exit_msg)) {
		err = -EINTR;
	} else {
		err = heapscan_proc__new(tgid, &hp);
		for (i = 0; i < nheld && !err; i++) {
			struct user_regs_struct r;

			if (ptrace(PTRACE_GETREGS, held[i], 0, &r))
				continue;
			err = heapscan_proc__set_regs(hp, held[i], (const uint64_t *)&r,
						      sizeof(r) / sizeof(uint64_t), r.rsp);
		}
		if (!err)
			err = heapscan__classify(blocks, n, &heapscan_proc_ops, hp, &opts, kinds,
						 &st);
		heapscan_proc__free(hp);
	}
	t_scan = now_ns() - t_scan;

	for (i = 0; i < n; i++) {
		struct rblock *b = &rblocks[idx[i]];

		fprintf(out,
			"{\"pid\":%d,\"label\":\"%s\",\"kind\":\"%s\",\"addr\":%" PRIu64
			",\"size\":%" PRIu64 "%s%s%s}\n",
			tgid, b->label,
			err ? "unclassified" : heapscan__kind_name((enum heapscan_kind)kinds[i]),
			b->addr, b->size, err ? ",\"reason\":\"" : "",
			err ? (err == -EINTR ? reason_signal : strerror(-err)) : "",
			err ? "\"" : "");
		b->pid = 0; /* reported: a later process with this pid is another one */
	}
	/* let the exit go on */
	for (i = 0; i < nheld; i++) {
		ptrace(PTRACE_DETACH, held[i], 0, 0);
		tracee_drop(held[i]);
	}
	fprintf(out,
		"{\"pid\":%d,\"summary\":{\"definitely_lost\":[%" PRIu64 ",%" PRIu64
		"],\"indirectly_lost\":[%" PRIu64 ",%" PRIu64 "],\"possibly_lost\":[%" PRIu64
		",%" PRIu64 "],\"still_reachable\":[%" PRIu64 ",%" PRIu64
		"]},\"exit_status\":%lu,\"threads_held\":%d,\"pause_ms\":%.3f,\"scan_ms\":%.3f,"
		"\"root_bytes\":%" PRIu64 ",\"heap_bytes\":%" PRIu64 ",\"reads\":%" PRIu64
		",\"error\":%d}\n",
		tgid, st.blocks[0], st.bytes[0], st.blocks[1], st.bytes[1], st.blocks[2],
		st.bytes[2], st.blocks[3], st.bytes[3], exit_msg, nheld,
		(now_ns() - t_stop) / 1e6, t_scan / 1e6, st.root_bytes, st.heap_bytes, st.reads,
		err);
	fflush(out);
}

static void on_exit_stop(pid_t tid, uint64_t t_stop)
{
	struct tracee *t = tracee_find(tid, false);
	struct user_regs_struct r;
	unsigned long msg = 0;
	pid_t tgid = tgid_of(tid), tids[2];
	bool group;

	ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
	if (t && t->vfork_child) { /* its memory is its parent's */
		ptrace(PTRACE_DETACH, tid, 0, 0);
		tracee_drop(tid);
		return;
	}
	group = !ptrace(PTRACE_GETREGS, tid, 0, &r) && r.orig_rax == SYS_exit_group;
	/* exit_group, or the last thread leaving by exit: the process ends */
	if (tgid > 0 && (group || live_threads(tgid, tids, 2) <= 1)) {
		scan_process(tgid, tid, msg, t_stop);
		return;
	}
	/* a thread of a process that goes on, or one left after the scan */
	ptrace(PTRACE_DETACH, tid, 0, 0);
	tracee_drop(tid);
}

int main(int argc, char **argv)
{
	int opt, sync[2], bpipe[2], st, cmd_status = 0;
	const long opts = PTRACE_O_TRACEEXIT | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK |
			  PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL;
	char fdname[16];
	pid_t cmd, pid;

	out = stderr;
	while ((opt = getopt(argc, argv, "+o:v")) != -1) {
		switch (opt) {
		case 'o':
			out = fopen(optarg, "we");
			if (!out) {
				fprintf(stderr, "holdscan: %s: %s\n", optarg, strerror(errno));
				return 2;
			}
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr, "usage: holdscan [-o FILE] [-v] -- CMD [ARGS...]\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: holdscan [-o FILE] [-v] -- CMD [ARGS...]\n");
		return 2;
	}
	if (pipe2(sync, O_CLOEXEC) || pipe2(bpipe, O_CLOEXEC)) {
		perror("holdscan: pipe");
		return 1;
	}
	blocks_fd = bpipe[0];
	fcntl(blocks_fd, F_SETFL, O_NONBLOCK);
	cmd = fork();
	if (cmd < 0) {
		perror("holdscan: fork");
		return 1;
	}
	if (!cmd) {
		char go;

		/* the write end stays open across exec, under its own number */
		snprintf(fdname, sizeof(fdname), "%d", dup(bpipe[1]));
		setenv("QH_BLOCKS_FD", fdname, 1);
		if (read(sync[0], &go, 1) != 1)
			_exit(127);
		execvp(argv[optind], argv + optind);
		_exit(127);
	}
	close(bpipe[1]);
	if (ptrace(PTRACE_SEIZE, cmd, 0, (void *)opts)) {
		perror("holdscan: PTRACE_SEIZE");
		kill(cmd, SIGKILL);
		return 1;
	}
	tracee_find(cmd, true);
	if (write(sync[1], "g", 1) != 1)
		return 1;
	close(sync[1]);

	for (;;) {
		struct tracee *t;
		unsigned long msg;
		int ev;

		pid = waitpid(-1, &st, __WALL);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break; /* ECHILD: nothing left */
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (pid == cmd)
				cmd_status = st;
			tracee_drop(pid);
			continue;
		}
		if (!WIFSTOPPED(st))
			continue;
		ev = st >> 16;
		t = tracee_find(pid, false);
		if (!t) {
			/* an auto-attached child or thread: its first stop */
			t = tracee_find(pid, true);
			if (!t) {
				fprintf(stderr, "holdscan: more than %d tracees\n", MAX_TRACEES);
				ptrace(PTRACE_DETACH, pid, 0, 0);
				continue;
			}
			if (ev == PTRACE_EVENT_STOP) {
				resume(pid, 0);
				continue;
			}
		}
		switch (ev) {
		case PTRACE_EVENT_EXIT:
			on_exit_stop(pid, now_ns());
			break;
		case PTRACE_EVENT_VFORK:
			if (!ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg)) {
				t = tracee_find((pid_t)msg, true);
				if (t)
					t->vfork_child = true;
			}
			resume(pid, 0);
			break;
		case PTRACE_EVENT_EXEC: {
			int i;

			/* a new image: its own memory, and the blocks of the old one are gone */
			t->vfork_child = false;
			drain_blocks();
			for (i = 0; i < nrblocks; i++)
				if (rblocks[i].pid == pid)
					rblocks[i].pid = 0;
			resume(pid, 0);
			break;
		}
		case PTRACE_EVENT_FORK:
		case PTRACE_EVENT_CLONE:
		case PTRACE_EVENT_VFORK_DONE:
			resume(pid, 0);
			break;
		case PTRACE_EVENT_STOP:
			/* a group stop (SIGSTOP, SIGTSTP...): stay stopped, as without ptrace,
			 * until SIGCONT; anything else (PTRACE_INTERRUPT) goes on */
			if (WSTOPSIG(st) == SIGSTOP || WSTOPSIG(st) == SIGTSTP ||
			    WSTOPSIG(st) == SIGTTIN || WSTOPSIG(st) == SIGTTOU)
				ptrace(PTRACE_LISTEN, pid, 0, 0);
			else
				resume(pid, 0);
			break;
		default:
			/* a signal on its way to the tracee: deliver it */
			if (verbose)
				fprintf(stderr, "holdscan: %d: signal %d\n", pid, WSTOPSIG(st));
			resume(pid, WSTOPSIG(st));
			break;
		}
	}
	if (out != stderr)
		fclose(out);
	if (WIFSIGNALED(cmd_status))
		return 128 + WTERMSIG(cmd_status);
	return WEXITSTATUS(cmd_status);
}
