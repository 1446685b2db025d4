// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Load tests (root): every BPF program passes the verifier on this kernel and attaches, and
 * each probe family really reports: a traced child forks, execs, maps, unmaps, remaps, grows
 * its heap, opens and closes fds of every kind, exits, is reaped; the kernel counters and
 * ring buffer records must say so.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fd_syscalls.h"
#include "session.h"
#include "proctree.h"
#include "log.h"
#include "tracer.h"
#include "util.h"

/* fds: a tracepoint per fd syscall (--fd-probes syscalls), or an fexit program (fentry) */
#define FD_TP_PROG(name, body) "fd_tp_" #name,
#define FD_FX_PROG(name, body) "fd_fx_" #name,
static const char *const fd_tp_progs[] = { QH_FD_SYSCALLS(FD_TP_PROG) };
static const char *const fd_fx_progs[] = { QH_FD_SYSCALLS(FD_FX_PROG) };

/* mmap, munmap, mremap, brk: syscall tracepoints, or fentry/fexit with the fd probes */
static const char *const mem_tp_progs[] = {
	"sys_exit_mmap", "sys_enter_munmap", "sys_exit_munmap", "sys_enter_mremap",
	"sys_exit_mremap", "sys_exit_brk",
};
static const char *const mem_fx_progs[] = {
	"mem_fx_exit_mmap", "mem_fx_enter_munmap", "mem_fx_exit_munmap", "mem_fx_enter_mremap",
	"mem_fx_exit_mremap", "mem_fx_exit_brk",
};

/* and one of sched_process_exit (v6.16+) or sched_process_exit_pre616: see exit_prog() */
static const char *const expected_progs[] = {
	"sched_process_fork", "sched_process_exec", "sched_process_free",
	"rss_stat", "heap_entry", "alloc_return", "fd_sock_state",
};

struct ctx {
	struct tracer *tr;
	struct proctree *tree;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char libc[4096];
	int err;

	if (geteuid() != 0) {
		/* tests/run turns a skip into a failure when CI=true */
		fprintf(stderr, "load tests need root: skipped\n");
		free(c);
		*state = NULL;
		return 0;
	}
	if (getenv("QH_DEBUG"))
		log__set_level(QH_LOG_DEBUG);
	c->tree = proctree__new();
	assert_non_null(c->tree);
	err = tracer__open(&c->tr, &(struct tracer_opts){
					   .max_procs = 1024,
					   .ringbuf_kb = 256,
					   .heap = true,
					   .max_allocs = 4096,
					   .on_event = proctree__handle_event,
					   .ctx = c->tree,
				   });
	assert_int_equal(err, 0);
	assert_int_equal(tracer__find_libc(0, libc, sizeof(libc)), 0);
	assert_int_equal(tracer__attach_heap(c->tr, libc), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (c) {
		tracer__free(c->tr);
		proctree__free(c->tree);
		free(c);
	}
	return 0;
}

static void test_preflight(void **state)
{
	if (!*state)
		skip();
	assert_int_equal(tracer__preflight(), 0);
}

/* Every program of @names is in @tr's skeleton, and attached or not as @want says. */
static void check_attached_is(struct tracer *tr, const char *const *names, size_t count,
			      bool want)
{
	int j, n = tracer__prog_count(tr);
	size_t i;

	for (i = 0; i < count; i++) {
		bool found = false;

		for (j = 0; j < n; j++) {
			bool attached = false;
			const char *name = tracer__prog_name(tr, j, &attached);

			if (name && !strcmp(name, names[i])) {
				found = true;
				if (attached != want)
					fail_msg("program %s is %sattached", name,
						 want ? "not " : "");
			}
		}
		if (!found)
			fail_msg("program %s missing from the skeleton", names[i]);
	}
}

static void check_attached(struct tracer *tr, const char *const *names, size_t count)
{
	check_attached_is(tr, names, count, true);
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The fd and memory syscall programs of @tr: those of the variant its report names
 * (run.probes.fds and .memory) attached, every one of them, and none of the others.
 */
static void check_syscall_variant(struct tracer *tr)
{
	const struct tracer_probes *probes = tracer__probes(tr);
	const char *dispatch = "fd_sys_exit";
	bool mem_fentry;

	assert_non_null(probes->memory);
	mem_fentry = !strcmp(probes->memory, "fentry");
	if (!mem_fentry)
		assert_string_equal(probes->memory, "tracepoint");
	check_attached_is(tr, mem_fx_progs, NELEM(mem_fx_progs), mem_fentry);
	check_attached_is(tr, mem_tp_progs, NELEM(mem_tp_progs), !mem_fentry);
	if (!probes->fds) {
		check_attached_is(tr, fd_fx_progs, NELEM(fd_fx_progs), false);
		check_attached_is(tr, fd_tp_progs, NELEM(fd_tp_progs), false);
		check_attached_is(tr, &dispatch, 1, false);
		return;
	}
	/* the memory syscalls take fentry whenever the fd syscalls do */
	if (!strcmp(probes->fds, "fentry"))
		assert_true(mem_fentry);
	check_attached_is(tr, fd_fx_progs, NELEM(fd_fx_progs), !strcmp(probes->fds, "fentry"));
	check_attached_is(tr, fd_tp_progs, NELEM(fd_tp_progs), !strcmp(probes->fds, "tracepoint"));
	check_attached_is(tr, &dispatch, 1, !strcmp(probes->fds, "tp_btf/sys_exit"));
}

/* The exit program this kernel must get: the tracepoint has group_dead since v6.16. */
static const char *exit_prog(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	assert_int_equal(uname(&u), 0);
	assert_int_equal(sscanf(u.release, "%d.%d", &major, &minor), 2);
	return major > 6 || (major == 6 && minor >= 16) ? "sched_process_exit"
							: "sched_process_exit_pre616";
}

static void test_every_program_attached(void **state)
{
	struct ctx *c = *state;

	if (!c)
		skip();
	/*
	 * every program of the skeleton is in a list; fd_sys_exit is --fd-probes dispatch's,
	 * clock_sync, heap_sweep and heap_file_key are never attached (they run through
	 * BPF_PROG_TEST_RUN)
	 */
	const char *exit_name = exit_prog();
	const struct tracer_probes *probes = tracer__probes(c->tr);
	struct utsname u;

	/* ... and the exit variant the kernel did not get is in the skeleton, not loaded */
	assert_int_equal(tracer__prog_count(c->tr),
			 NELEM(expected_progs) + NELEM(fd_tp_progs) + NELEM(fd_fx_progs) +
				 NELEM(mem_tp_progs) + NELEM(mem_fx_progs) + 6);
	assert_int_equal(tracer__clock_sync(c->tr), 0);
	assert_int_equal(tracer__sweep_allocs(c->tr), 0);
	check_attached(c->tr, expected_progs, NELEM(expected_progs));
	check_attached(c->tr, &exit_name, 1);
	/* the variants as the report names them, chosen from the kernel's BTF */
	assert_int_equal(uname(&u), 0);
	assert_string_equal(probes->exit, strcmp(exit_name, "sched_process_exit")
						  ? "tp_btf/sched_process_exit(signal->live)"
						  : "tp_btf/sched_process_exit(group_dead)");
	assert_non_null(probes->heap);
	/* uprobe_multi links exist since v6.6 */
	assert_string_equal(probes->heap, strverscmp(u.release, "6.6") >= 0 ? "uprobe_multi"
									   : "uprobe");
	/*
	 * fd and memory syscalls: fentry where the kernel allows it (test_fd_probes checks the
	 * choice against a forced fentry), else tracepoints. The matrix boots Debian's kernels,
	 * which allow fentry (vmrun sets QH_VM_KERNEL): there a fallback is a failure.
	 */
	assert_non_null(probes->fds);
	if (getenv("QH_VM_KERNEL"))
		assert_string_equal(probes->fds, "fentry");
	else if (strcmp(probes->fds, "fentry"))
		assert_string_equal(probes->fds, "tracepoint");
	assert_string_equal(probes->memory, probes->fds);
	check_syscall_variant(c->tr);
}

/* What the traced child does: every probe family gets at least one hit. */
static void *volatile leak[2];

/*
 * fds: one of each kind left open at exit, and every way of closing one. Numbers are what the
 * kernel hands out (lowest free) once everything above stderr is closed.
 */
static void fd_work(void)
{
	int n, a, b, p[2], sv[2];
	sigset_t mask;

	if (syscall(SYS_close_range, 3, ~0U, 0))
		_exit(80);
	n = open("/dev/null", O_RDWR);
	if (n != 3 || dup2(n, 0) != 0 || dup2(n, 1) != 1 || dup2(n, 2) != 2 || close(n))
		_exit(81);
	a = open("/dev/null", O_RDONLY);
	b = open("/tmp", O_RDONLY | O_DIRECTORY);
	if (a != 3 || b != 4 || pipe(p) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		_exit(82);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	if (eventfd(0, 0) != 9 || epoll_create1(0) != 10 ||
	    timerfd_create(CLOCK_MONOTONIC, 0) != 11 || memfd_create("qh", 0) != 12 ||
	    signalfd(-1, &mask, 0) != 13 || inotify_init1(0) != 14 ||
	    syscall(SYS_pidfd_open, getpid(), 0) != 15)
		_exit(83);
	n = dup(a);
	if (n != 16 || close(n) || dup2(b, a) != a || fcntl(b, F_DUPFD, 100) != 100 ||
	    syscall(SYS_close_range, 5, 6, 0))
		_exit(84);
}

static void check_fd_work(const struct proc *child)
{
	/* fd_work()'s 20 opens; 15 left for the kernel to close, by kind */
	assert_int_equal(child->stats.fd_opened, 20);
	assert_true(child->stats.fd_closed >= 8 + 1); /* and what close_range(3, ~0) found */
	assert_int_equal(child->stats.fd_exit_open, 15);
	assert_int_equal(child->stats.fd_open, 15);
	assert_true(child->stats.fd_peak >= 16);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_FILE], 3);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_DIR], 3);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_SOCKET], 2);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_PIPE], 0);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_EVENTFD], 1);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_EPOLL], 1);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_TIMERFD], 1);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_MEMFD], 1);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_SIGNALFD], 1);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_INOTIFY], 1);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_PIDFD], 1);
	assert_int_equal(child->stats.fd_exit_kind[QH_FD_UNKNOWN], 0);

}

static void child_work(void)
{
	size_t mb = 1 << 20;
	char *p, *q;
	pid_t g;
	size_t i;

	fd_work();
	p = mmap(NULL, 4 * mb, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		_exit(90);
	for (i = 0; i < 4 * mb; i += 4096)
		p[i] = 1;
	if (munmap(p + 2 * mb, 2 * mb))
		_exit(91);
	q = mremap(p, 2 * mb, 3 * mb, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		_exit(92);
	if (sbrk(1 << 20) == (void *)-1)
		_exit(93);
	/* heap: two blocks live at exit, one freed, one moved by realloc */
	leak[0] = malloc(1111);
	leak[1] = calloc(3, 1000);
	free(malloc(77));
	leak[1] = realloc(leak[1], 5000);
	g = fork();
	if (g == 0)
		execl("/bin/sh", "sh", "-c", "exit 5", (char *)NULL);
	if (g < 0 || waitpid(g, NULL, 0) != g)
		_exit(94);
	_exit(7);
}

/*
 * Fork a child held on a pipe, trace it from @tr, let it run @work (which exits 7), wait for
 * it and drain the ring buffer into @tree. Returns its pid.
 */
static pid_t run_traced(struct tracer *tr, struct proctree *tree, void (*work)(void))
{
	int go[2], st, i;
	pid_t pid;
	char b;

	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		if (read(go[0], &b, 1) != 1)
			_exit(99);
		work();
		_exit(7);
	}
	close(go[0]);
	assert_int_equal(session__seed(tr, tree, pid), 0);
	assert_int_equal(write(go[1], "g", 1), 1);
	close(go[1]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 7);
	for (i = 0; i < 30; i++) {
		tracer__consume(tr);
		usleep(10000);
	}
	tracer__consume(tr);
	return pid;
}

/* The child's live blocks: their times, converted from kernel stamps, within the run. */
struct alloc_times {
	uint32_t tgid;
	int n;
	uint64_t min_ns, max_ns;
};

static int alloc_time(void *ctx, const struct qh_alloc_key *k, const struct qh_alloc *a)
{
	struct alloc_times *t = ctx;

	if (k->tgid != t->tgid)
		return 0;
	t->n++;
	if (!t->min_ns || a->ts_ns < t->min_ns)
		t->min_ns = a->ts_ns;
	if (a->ts_ns > t->max_ns)
		t->max_ns = a->ts_ns;
	return 0;
}

static void test_probes_report(void **state)
{
	struct ctx *c = *state;
	struct proc *p, *child = NULL, *grandchild = NULL;
	uint64_t stats[QH_STAT_MAX], before, after;
	struct alloc_times times = {};
	pid_t pid;

	if (!c)
		skip();
	before = util__now_ns(CLOCK_BOOTTIME);
	pid = run_traced(c->tr, c->tree, child_work);
	after = util__now_ns(CLOCK_BOOTTIME);

	for (p = proctree__first(c->tree); p; p = p->next) {
		if (p->pid == (uint32_t)pid)
			child = p;
		else if (p->ppid == (uint32_t)pid)
			grandchild = p;
	}
	assert_non_null(child);
	assert_non_null(grandchild);

	/* lifecycle: exit with status, fork, exec, reap of the grandchild (its parent waited) */
	assert_true(child->has_exit);
	assert_int_equal(child->exit_status, 7 << 8);
	assert_string_equal(grandchild->comm, "sh");
	assert_string_equal(grandchild->exe, "/bin/sh");
	assert_true(grandchild->has_exit);
	assert_int_equal(grandchild->exit_status, 5 << 8);
	assert_int_equal(grandchild->state, PROC_REAPED);

	/* memory: each syscall family was accounted */
	assert_true(child->stats.mmap_calls >= 1);
	assert_true(child->stats.munmap_calls >= 1);
	assert_true(child->stats.mremap_calls >= 1);
	assert_true(child->stats.brk_calls >= 1);
	assert_true(child->stats.heap_bytes >= (1 << 20));
	/* 4 MiB mapped, 2 unmapped, 2 grown to 3: 3 MiB of it still mapped */
	assert_int_equal(child->stats.mmap_anon_bytes, 3 << 20);
	/* rss_stat: 4 MiB were touched after the mm was adopted */
	assert_true(child->stats.peak_rss_pages * 4096 >= (4 << 20));

	/* heap: 1111 + 5000 bytes in 2 blocks live at exit; the child maps the probed libc */
	assert_true(child->stats.flags & QH_PF_HEAP_HOOKED);
	assert_int_equal(child->stats.heap_live_bytes, 1111 + 5000);
	assert_int_equal(child->stats.heap_live_count, 2);
	/* kernel stamps (jiffies) come back as boot ns: within the run, to the end of a tick */
	times.tgid = pid;
	assert_int_equal(tracer__for_each_alloc(c->tr, alloc_time, &times), 0);
	assert_int_equal(times.n, 2);
	assert_true(times.min_ns >= before);
	/* the freed blocks' records go, the live ones stay */
	assert_int_equal(tracer__sweep_allocs(c->tr), 0);
	times.n = 0;
	assert_int_equal(tracer__for_each_alloc(c->tr, alloc_time, &times), 0);
	assert_int_equal(times.n, 2);
	assert_true(times.max_ns <= after + 20000000); /* two ticks: 20 ms at HZ=100 */
	assert_true(child->stats.heap_frees >= 2);

	check_fd_work(child);

	assert_int_equal(tracer__stats(c->tr, stats), 0);
	assert_true(stats[QH_STAT_FD_EVENTS] >= 20);
	assert_int_equal(stats[QH_STAT_FDS_FULL], 0);
	assert_true(stats[QH_STAT_RSS_EVENTS] > 0);
	assert_true(stats[QH_STAT_SYSCALLS] >= 4);
	assert_int_equal(stats[QH_STAT_RB_RESERVE_FAILED], 0);
	assert_int_equal(proctree__bad_events(c->tree), 0);
}

/*
 * Open a tracer with @opts (fds probed as @opts->fd_probes says), check that the programs of
 * the variant it reports are attached, trace fd_work() and check that it reads the same.
 */
static void check_fd_variant(struct tracer_opts *opts, const char *want_fds)
{
	struct tracer *tr;
	struct proctree *tree = proctree__new();
	struct proc *p, *child = NULL;
	pid_t pid;

	opts->max_procs = 256;
	opts->ringbuf_kb = 256;
	opts->on_event = proctree__handle_event;
	opts->ctx = tree;
	assert_int_equal(tracer__open(&tr, opts), 0);
	assert_non_null(tracer__probes(tr)->fds);
	assert_string_equal(tracer__probes(tr)->fds, want_fds);
	/* the memory syscalls take fentry with the fd syscalls, else tracepoints */
	assert_string_equal(tracer__probes(tr)->memory,
			    strcmp(want_fds, "fentry") ? "tracepoint" : "fentry");
	check_attached(tr, (const char *const[]){ "fd_sock_state" }, 1);
	check_syscall_variant(tr);
	pid = run_traced(tr, tree, fd_work);
	for (p = proctree__first(tree); p; p = p->next)
		if (p->pid == (uint32_t)pid)
			child = p;
	assert_non_null(child);
	assert_true(child->has_exit);
	check_fd_work(child);
	tracer__free(tr);
	proctree__free(tree);
}

/*
 * --fd-probes dispatch: one raw tracepoint on sys_exit instead of a program per fd syscall;
 * it attaches and the same fd work reads the same. The memory syscalls keep tracepoints.
 */
static void test_fd_dispatch(void **state)
{
	if (!*state)
		skip();
	check_fd_variant(&(struct tracer_opts){ .fd_probes = QH_FD_PROBES_DISPATCH },
			 "tp_btf/sys_exit");
}

/*
 * The forced variants: syscalls (the tracepoints) works on every kernel; fentry works exactly
 * where auto chose it, and is an error elsewhere; --no-fds keeps auto's choice for memory.
 */
static void test_fd_probes(void **state)
{
	struct ctx *c = *state;
	struct tracer_opts nofds = { .max_procs = 256, .ringbuf_kb = 256, .no_fds = true };
	bool fentry;
	struct tracer *tr = NULL;
	int err;

	if (!c)
		skip();
	fentry = !strcmp(tracer__probes(c->tr)->fds, "fentry");
	check_fd_variant(&(struct tracer_opts){ .fd_probes = QH_FD_PROBES_SYSCALLS },
			 "tracepoint");
	if (fentry) {
		check_fd_variant(&(struct tracer_opts){ .fd_probes = QH_FD_PROBES_FENTRY },
				 "fentry");
	} else {
		err = tracer__open(&tr, &(struct tracer_opts){ .max_procs = 256,
							       .ringbuf_kb = 256,
							       .fd_probes = QH_FD_PROBES_FENTRY });
		assert_true(err < 0);
		assert_null(tr);
	}
	assert_int_equal(tracer__open(&tr, &nofds), 0);
	assert_null(tracer__probes(tr)->fds);
	assert_string_equal(tracer__probes(tr)->memory, fentry ? "fentry" : "tracepoint");
	check_syscall_variant(tr);
	tracer__free(tr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preflight),
		cmocka_unit_test(test_every_program_attached),
		cmocka_unit_test(test_probes_report),
		cmocka_unit_test(test_fd_dispatch),
		cmocka_unit_test(test_fd_probes),
	};

	return cmocka_run_group_tests_name("load", tests, setup, teardown);
}
