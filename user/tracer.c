// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/membarrier.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "tracer.h"
#include "unwind.h"
#include "uprobe_off.h"
#include "util.h"
#include "vec.h"
#include "qhtrace.skel.h"

#define BTF_PATH "/sys/kernel/btf/vmlinux"
#define TRACEFS "/sys/kernel/tracing"

/* libbpf's own output (warnings, the verifier log) only with -v */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (log__level() < QH_LOG_DEBUG || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

#define QH_MAX_HEAP_LINKS 64

struct tracer {
	struct qhtrace_bpf *skel;
	struct ring_buffer *rb;
	int ncpus;
	int heap_links[QH_MAX_HEAP_LINKS]; /* uprobe_multi link fds */
	int nheap_links;
	struct bpf_link **heap_plinks; /* per-function uprobes (no uprobe_multi) */
	size_t nheap_plinks, cap_heap_plinks;
	bool uprobe_multi;	/* the kernel has uprobe_multi links (v6.6) */
	pid_t heap_root;	/* probe only this process and its descendants, 0: all */
	bool tree_attached;	/* the root's C library is probed (tree mode) */
	char (*uevents)[48];	/* uprobe events this tracer defined in tracefs */
	size_t nuevents, cap_uevents;
	int *tree_fds;		/* the tree probes' perf events (dups): they count the hits
				 * their program did not see */
	size_t ntree_fds, cap_tree_fds;
	struct tracer_probes probes;
	struct qh_clock clock; /* the last clock_sync pair */
	int fx_probe[2];	/* fentry_probe()'s program and link, or -1 */
	struct unwind_file *unwind_tried; /* files whose unwind table was built or tried */
	size_t nunwind_tried, cap_unwind_tried;
	struct tracer_unwind_stats unwind;
	bool unwind_full;	/* unwind_rows ran out: said once */
	struct rows_file *rows_files; /* tables read in userspace (tracer__rows), by path */
	size_t nrows_files, cap_rows_files;
	/*
	 * --heap-match (monitor): no probe until a process is picked, then uprobe_multi links
	 * of its own (the pid filter), so the breakpoints are in no other address space
	 */
	bool heap_match;
	struct heap_offsets *libc_off;	/* the C library's probe offsets, as attach_heap found */
	struct heap_pid *hpids;		/* the processes probed that way */
	size_t nhpids, cap_hpids;
};

/* A file's unwind table in this process's memory, for stacks unwound from a slice. */
struct rows_file {
	char *path;
	struct qh_unwind_row *rows; /* NULL: none could be built */
	size_t n;
};

/* Where the malloc family of one C library is probed (tracer__attach_heap). */
struct heap_offsets {
	uint64_t dev, ino;			/* the file, as stat() gives it */
	char path[PATH_MAX];
	uint64_t entry_off[16], entry_fn[16], ret_off[16];
	size_t n, nret;
};

/* A process with probes of its own (--heap-match): an entry link and a return link. */
struct heap_pid {
	pid_t pid;
	int fd[2];
};

/* A file the unwinder has seen, and its path as a process mapped it. */
struct unwind_file {
	struct qh_file_key key;
	char *path;
};

/* The malloc family: the cookie heap_entry dispatches on, and whether it returns a block. */
struct heap_fn {
	const char *sym;
	enum qh_heap_fn fn;
	bool returns_block;
};

static const struct heap_fn heap_fns[] = {
	{ "malloc", QH_HEAP_MALLOC, true },
	{ "calloc", QH_HEAP_CALLOC, true },
	{ "realloc", QH_HEAP_REALLOC, true },
	{ "reallocarray", QH_HEAP_REALLOCARRAY, true },
	{ "posix_memalign", QH_HEAP_POSIX_MEMALIGN, true },
	{ "aligned_alloc", QH_HEAP_ALIGNED_ALLOC, true },
	{ "memalign", QH_HEAP_MEMALIGN, true },
	{ "valloc", QH_HEAP_VALLOC, true },
	{ "pvalloc", QH_HEAP_PVALLOC, true },
	{ "free", QH_HEAP_FREE, false },
};

#define NR_HEAP_FNS (sizeof(heap_fns) / sizeof(heap_fns[0]))

/*
 * uprobe_multi links (v6.6), made by hand: libbpf 1.1 knows neither the attach type nor the
 * link_create fields. Values and layout from include/uapi/linux/bpf.h.
 */
#define QH_BPF_TRACE_UPROBE_MULTI 48
#define QH_BPF_F_UPROBE_MULTI_RETURN 1U

struct qh_link_create_uprobe_multi {
	__u32 prog_fd;
	__u32 target_fd;
	__u32 attach_type;
	__u32 flags;
	__u64 path;
	__u64 offsets;
	__u64 ref_ctr_offsets;
	__u64 cookies;
	__u32 cnt;
	__u32 multi_flags;
	__u32 pid;
};

static int uprobe_multi_link(int prog_fd, const char *path, const uint64_t *offsets,
			     const uint64_t *cookies, uint32_t cnt, bool ret, pid_t pid)
{
	union bpf_attr attr;
	struct qh_link_create_uprobe_multi *lc = (void *)&attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	lc->prog_fd = prog_fd;
	lc->attach_type = QH_BPF_TRACE_UPROBE_MULTI;
	lc->path = (uintptr_t)path;
	lc->offsets = (uintptr_t)offsets;
	lc->cookies = (uintptr_t)cookies;
	lc->cnt = cnt;
	lc->multi_flags = ret ? QH_BPF_F_UPROBE_MULTI_RETURN : 0;
	/*
	 * pid 0: every process mapping the library; the programs filter on `procs`. A pid: the
	 * consumer filter keeps the breakpoints out of every other address space (its children
	 * included: they are not followed)
	 */
	lc->pid = pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

static bool has_cap(int cap)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[cap / 32].effective & (1U << (cap % 32));
}

/*
 * tracefs is there for us: as our effective ids and capabilities (access() would check the
 * real ones, and drop every capability of a non-root caller)
 */
static bool tracefs_mounted(void)
{
	return !faccessat(AT_FDCWD, TRACEFS "/events", F_OK, AT_EACCESS) ||
	       !faccessat(AT_FDCWD, "/sys/kernel/debug/tracing/events", F_OK, AT_EACCESS);
}

int tracer__preflight(void)
{
	/*
	 * What tracing needs without root (README, "Reliability"): CAP_BPF and CAP_PERFMON to
	 * load and attach, CAP_DAC_READ_SEARCH to read the tracepoints' ids in tracefs (root's,
	 * mode 0440), and CAP_SYS_ADMIN to mount tracefs in a namespace of our own where it is
	 * not mounted. Checked here, so a missing one is named before anything starts.
	 */
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{ CAP_BPF, "CAP_BPF" },
		{ CAP_PERFMON, "CAP_PERFMON" },
		{ CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH" },
		{ CAP_SYS_ADMIN, "CAP_SYS_ADMIN" },
	};
	char missing[128] = "";
	size_t i, off = 0;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (caps[i].cap == CAP_SYS_ADMIN && tracefs_mounted())
			continue;
		if (!has_cap(caps[i].cap))
			off += snprintf(missing + off, sizeof(missing) - off, "%s%s",
					off ? ", " : "", caps[i].name);
	}
	if (off) {
		pr_err("tracing needs root, or CAP_BPF, CAP_PERFMON, CAP_DAC_READ_SEARCH%s; missing: "
		       "%s -- run it with sudo\n",
		       tracefs_mounted() ? "" : " and CAP_SYS_ADMIN (tracefs is not mounted here: "
						"qhtrace mounts it)", missing);
		return -EPERM;
	}
	if (access(BTF_PATH, R_OK)) {
		pr_err("kernel BTF not found at %s: qhtrace needs a kernel built with "
		       "CONFIG_DEBUG_INFO_BTF=y\n", BTF_PATH);
		return -ENOENT;
	}
	return 0;
}

/*
 * Classic tracepoints are attached by an id read from tracefs. When it is not mounted, mount
 * it in a mount namespace of our own: nothing changes on the host and the mount goes away
 * with qhtrace, even on SIGKILL. Processes qhtrace started before keep the host's namespace.
 */
static int ensure_tracefs(void)
{
	if (tracefs_mounted())
		return 0;
	if (unshare(CLONE_NEWNS)) {
		pr_err("failed to create a mount namespace for tracefs: %s\n", strerror(errno));
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		pr_err("failed to make mounts private: %s\n", strerror(errno));
		return -errno;
	}
	if (mount("tracefs", TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		pr_err("failed to mount tracefs at %s: %s -- is CONFIG_TRACING enabled?\n", TRACEFS,
		       strerror(errno));
		return -errno;
	}
	pr_debug("mounted tracefs at %s (private mount namespace)\n", TRACEFS);
	return 0;
}

/*
 * How many arguments the kernel's BTF gives tracepoint @tp (its btf_trace_<tp> typedef: a
 * pointer to a function whose first parameter is the tracepoint's private data), or -errno.
 */
static int btf_tp_nargs(const struct btf *btf, const char *tp)
{
	const struct btf_type *t;
	char name[128];
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return id;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	if (!t || !btf_is_ptr(t))
		return -EINVAL;
	t = btf__type_by_id(btf, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1)
		return -EINVAL;
	return btf_vlen(t) - 1;
}

/* Does the kernel's enum @type have the value @name? (a link or attach type it knows) */
static bool btf_enum_has(const struct btf *btf, const char *type, const char *name)
{
	const struct btf_type *t;
	const struct btf_enum *e;
	int id, i;

	id = btf__find_by_name_kind(btf, type, BTF_KIND_ENUM);
	if (id < 0)
		return false;
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, e[i].name_off), name))
			return true;
	return false;
}

/* include/linux/errno.h: kernel-internal, but the bpf syscall returns it */
#define QH_ENOTSUPP 524

/*
 * Can an fexit program attach to the syscall function @fn here? Some kernels refuse tracing
 * programs (these machines: EPERM; ENOTSUPP without ftrace direct calls), and one refused
 * program fails the whole object: a two-instruction fexit program is loaded against @fn and
 * attached. 0 if it attached, its program and link in @fds, or -errno.
 *
 * The link is kept until qhtrace's own fexit program on @fn is attached (fentry_probe_close):
 * taking the last program off a function unregisters its trampoline from ftrace, which waits
 * for two RCU-tasks grace periods (ftrace_shutdown()), 50-130 ms in the 6.1 and 6.12 guests;
 * taking one of two off only rewrites the trampoline (15 ms there).
 */
static int fentry_probe(const struct btf *btf, const char *fn, int fds[2])
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .expected_attach_type = BPF_TRACE_FEXIT);
	int id, prog, link, err = 0;

	id = btf__find_by_name_kind(btf, fn, BTF_KIND_FUNC);
	if (id < 0)
		return -ENOENT;
	lo.attach_btf_id = id;
	prog = bpf_prog_load(BPF_PROG_TYPE_TRACING, "qh_fentry_probe", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), &lo);
	if (prog < 0)
		return -errno;
	link = bpf_link_create(prog, 0, BPF_TRACE_FEXIT, NULL);
	if (link < 0) {
		err = -errno;
		close(prog);
		return err;
	}
	fds[0] = prog;
	fds[1] = link;
	return 0;
}

static void fentry_probe_close(struct tracer *t)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (t->fx_probe[i] >= 0)
			close(t->fx_probe[i]);
		t->fx_probe[i] = -1;
	}
}

/* An fentry/fexit program's target (the SEC() after "fentry/" or "fexit/") is in @btf. */
static bool prog_target_exists(const struct btf *btf, const struct bpf_program *prog)
{
	const char *fn = strchr(bpf_program__section_name(prog), '/');

	return fn && btf__find_by_name_kind(btf, fn + 1, BTF_KIND_FUNC) >= 0;
}

/*
 * The fd and memory syscall probes (--fd-probes, --no-fds): fentry/fexit on the syscall
 * functions where the kernel allows it, so that only the probed functions pay and no task
 * is put on the slow syscall path (bpf/proc.bpf.h, QH_SYSCALL_FN); else a classic tracepoint
 * per syscall. The memory syscalls use fentry whenever the fd probes do, or when the fd
 * probes are left out and fentry works; tracepoints beside syscalls and dispatch (the slow
 * path is taken then anyway).
 */
static int pick_syscall_probes(struct tracer *t, const struct tracer_opts *opts,
			       const struct btf *btf)
{
	struct bpf_program *mem_tp[] = {
		t->skel->progs.sys_exit_mmap,	 t->skel->progs.sys_enter_munmap,
		t->skel->progs.sys_exit_munmap,	 t->skel->progs.sys_enter_mremap,
		t->skel->progs.sys_exit_mremap,	 t->skel->progs.sys_exit_brk,
	};
	int mode = opts->fd_probes, err = 0;
	struct bpf_program *prog;
	bool fentry = false;
	size_t i;

	if (mode == QH_FD_PROBES_AUTO || mode == QH_FD_PROBES_FENTRY) {
		/* mmap: mem_fx_exit_mmap is attached whenever fentry is chosen */
		err = fentry_probe(btf, QH_SYSCALL_PREFIX "mmap", t->fx_probe);
		fentry = !err;
		if (err && mode == QH_FD_PROBES_FENTRY) {
			pr_err("--fd-probes fentry: this kernel refuses fexit on syscall "
			       "functions: %s -- use --fd-probes syscalls\n", strerror(-err));
			return err;
		}
		if (err == -EPERM || err == -EINVAL || err == -QH_ENOTSUPP ||
		    err == -EOPNOTSUPP || err == -ENOENT)
			pr_debug("kernel: fexit on " QH_SYSCALL_PREFIX "mmap refused (%s): "
				 "syscall tracepoints\n", strerror(-err));
		else if (err)
			pr_warn("fexit on " QH_SYSCALL_PREFIX "mmap failed: %s -- using syscall "
				"tracepoints\n", strerror(-err));
		else
			pr_debug("kernel: fexit attaches: fd and memory syscalls through fentry\n");
	}
	bpf_object__for_each_program(prog, t->skel->obj) {
		const char *name = bpf_program__name(prog);
		bool fx = !strncmp(name, "fd_fx_", 6) || !strncmp(name, "mem_fx_", 7), load;

		if (!strncmp(name, "fd_fx_", 6))
			load = !opts->no_fds && fentry;
		else if (!strncmp(name, "fd_tp_", 6))
			load = !opts->no_fds && !fentry && mode != QH_FD_PROBES_DISPATCH;
		else if (prog == t->skel->progs.fd_sys_exit)
			load = !opts->no_fds && mode == QH_FD_PROBES_DISPATCH;
		else if (!strncmp(name, "fd_", 3))
			load = !opts->no_fds;
		else if (!strncmp(name, "mem_fx_", 7))
			load = fentry;
		else
			continue;
		/* a syscall compiled out of this kernel: nothing to probe */
		if (load && fx && !prog_target_exists(btf, prog)) {
			pr_debug("kernel: no %s: %s not loaded\n", bpf_program__section_name(prog),
				 name);
			load = false;
		}
		bpf_program__set_autoload(prog, load);
	}
	for (i = 0; i < sizeof(mem_tp) / sizeof(mem_tp[0]); i++)
		bpf_program__set_autoload(mem_tp[i], !fentry);
	if (!opts->no_fds)
		t->probes.fds = fentry ? "fentry"
			      : mode == QH_FD_PROBES_DISPATCH ? "tp_btf/sys_exit" : "tracepoint";
	t->probes.memory = fentry ? "fentry" : "tracepoint";
	return 0;
}

static int heap_tree_selftest(void);
static int ensure_tracefs(void);

/*
 * Pick each program's variant from what the running kernel has, before load (a program the
 * kernel cannot verify fails the whole object). Fills t->probes for the report.
 */
static int pick_variants(struct tracer *t, const struct tracer_opts *opts)
{
	struct btf *btf = btf__load_vmlinux_btf();
	int err, nargs;

	if (!btf) {
		err = -errno;
		pr_err("failed to read the kernel's BTF: %s\n", strerror(-err));
		return err;
	}
	/* v6.16 added group_dead (bpf/core_fixes.bpf.h: exit_group_dead_pre616) */
	nargs = btf_tp_nargs(btf, "sched_process_exit");
	if (nargs >= 2) {
		bpf_program__set_autoload(t->skel->progs.sched_process_exit_pre616, false);
		t->probes.exit = "tp_btf/sched_process_exit(group_dead)";
	} else {
		bpf_program__set_autoload(t->skel->progs.sched_process_exit, false);
		t->probes.exit = "tp_btf/sched_process_exit(signal->live)";
	}
	t->uprobe_multi = btf_enum_has(btf, "bpf_attach_type", "BPF_TRACE_UPROBE_MULTI");
	if (opts->heap && opts->heap_probes == QH_HEAP_PROBES_MULTI && !t->uprobe_multi) {
		pr_err("--heap-probes multi: this kernel has no uprobe_multi links (Linux 6.6+) -- "
		       "use --heap-probes each\n");
		btf__free(btf);
		return -EOPNOTSUPP;
	}
	if (opts->heap && opts->heap_match) {
		/*
		 * A pid-filtered uprobe_multi link per process picked: nothing else keeps every
		 * other process free of the breakpoints on these kernels (tree probes lose their
		 * program when a child exits from 6.10 on; see heap_tree_selftest)
		 */
		if (!t->uprobe_multi) {
			pr_err("--heap-match: this kernel has no uprobe_multi links (Linux 6.6+), "
			       "which probe one process and no other\n");
			btf__free(btf);
			return -EOPNOTSUPP;
		}
		t->heap_match = true;
		t->probes.heap = "uprobe_multi(pid)";
		goto syscalls;
	}
	if (opts->heap_probes == QH_HEAP_PROBES_EACH)
		t->uprobe_multi = false;
	if (opts->heap && opts->heap_probes == QH_HEAP_PROBES_TREE && opts->heap_root <= 0) {
		pr_err("--heap-probes tree: only 'qhtrace attach' starts a tree of its own\n");
		btf__free(btf);
		return -EINVAL;
	}
	if (opts->heap && opts->heap_root > 0 &&
	    (opts->heap_probes == QH_HEAP_PROBES_AUTO || opts->heap_probes == QH_HEAP_PROBES_TREE)) {
		struct utsname u;
		int ok, major = 0, minor = 0;

		/*
		 * The self-test catches the detaching kernels in most runs, not all (a race
		 * with the child's release: on 6.12 under qemu it missed 1 run in 3). auto takes
		 * the tree probes only below 6.10, where nothing was seen to detach (6.1 passes
		 * every run); the perf events count any hit no program saw (tree_unprobed).
		 */
		if (opts->heap_probes == QH_HEAP_PROBES_AUTO &&
		    (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2 ||
		     major > 6 || (major == 6 && minor >= 10))) {
			pr_debug("heap: no tree probes from Linux 6.10 on unless asked for\n");
			ok = 0;
		} else {
			err = ensure_tracefs();
			ok = err ? err : heap_tree_selftest();
		}
		if (ok <= 0) {
			if (opts->heap_probes == QH_HEAP_PROBES_TREE) {
				btf__free(btf);
				pr_err("--heap-probes tree: %s -- use --heap-probes auto\n",
				       ok ? strerror(-ok)
					  : "this kernel drops a process's inherited uprobes "
					    "when one of its children exits");
				return ok ? ok : -EOPNOTSUPP;
			}
			pr_debug("heap: probes shared by every process%s%s\n",
				 ok ? " -- tree probes: " : "", ok ? strerror(-ok) : "");
			goto shared;
		}
		t->heap_root = opts->heap_root;
		/* a uprobe_multi program attaches to nothing else: another C library (one a
		 * container maps) is probed with a uprobe per function */
		t->uprobe_multi = false;
	}
shared:
	if (opts->heap)
		t->probes.heap = t->heap_root ? "uprobe_tree" : t->uprobe_multi ? "uprobe_multi"
										: "uprobe";
syscalls:
	err = pick_syscall_probes(t, opts, btf);
	if (err) {
		btf__free(btf);
		return err;
	}
	t->probes.rss = "tp_btf/rss_stat";
	pr_debug("kernel: sched_process_exit has %d argument(s), uprobe_multi %s\n", nargs,
		 t->uprobe_multi ? "yes" : "no");
	btf__free(btf);
	return 0;
}

/*
 * libbpf fills __kconfig externs from /boot/config-$(uname -r) or /proc/config.gz and refuses
 * the object when neither exists (a container without the host's /boot). CONFIG_HZ is the
 * only one: without it record stamps fall back to bpf_ktime_get_boot_ns (maps.bpf.h).
 */
static const char *kconfig_fallback(void)
{
	struct utsname u;
	char path[300];

	if (!access("/proc/config.gz", R_OK) || uname(&u))
		return NULL;
	snprintf(path, sizeof(path), "/boot/config-%s", u.release);
	if (!access(path, R_OK))
		return NULL;
	pr_debug("kernel config not found (%s, /proc/config.gz): record stamps in boot ns\n",
		 path);
	return "CONFIG_HZ=0\n";
}

static void set_job_env(struct tracer *t, const struct tracer_opts *opts);

int tracer__open(struct tracer **out, const struct tracer_opts *opts)
{
	struct tracer *t;
	int err;

	libbpf_set_print(libbpf_print);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fx_probe[0] = t->fx_probe[1] = -1;
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		err = t->ncpus ? t->ncpus : -EINVAL;
		pr_err("failed to count possible CPUs: %s\n", strerror(-err));
		goto cleanup;
	}

	t->skel = qhtrace_bpf__open_opts(&(struct bpf_object_open_opts){
		.sz = sizeof(struct bpf_object_open_opts),
		.kconfig = kconfig_fallback(),
	});
	if (!t->skel) {
		err = -errno;
		pr_err("failed to open BPF object: %s\n", strerror(-err));
		goto cleanup;
	}
	err = pick_variants(t, opts);
	if (err)
		goto cleanup;
	t->skel->rodata->cfg_page_size = sysconf(_SC_PAGESIZE);
	bpf_map__set_max_entries(t->skel->maps.procs, opts->max_procs);
	bpf_map__set_max_entries(t->skel->maps.mm_owner, opts->max_procs);
	bpf_map__set_max_entries(t->skel->maps.events, opts->ringbuf_kb * 1024);
	if (opts->heap) {
		/* matched processes are probed by pid: no process is hooked by mapping the library */
		t->skel->rodata->cfg_heap = !t->heap_match;
		t->skel->rodata->cfg_stacks = opts->stacks;
		t->skel->rodata->cfg_unwind = opts->stacks;
		t->skel->rodata->cfg_sample_rate = opts->sample_rate ? opts->sample_rate : 1;
		t->skel->rodata->cfg_min_size = opts->min_size;
		t->skel->rodata->cfg_max_size = opts->max_size ? opts->max_size : ~0ULL;
		bpf_map__set_max_entries(t->skel->maps.allocs, opts->max_allocs);
		bpf_map__set_max_entries(t->skel->maps.inherited_freed, opts->max_allocs / 4 + 1);
		/* without uprobe_multi: a uprobe per function (perf events), the same programs */
		if (t->uprobe_multi) {
			bpf_program__set_expected_attach_type(t->skel->progs.heap_entry,
							      QH_BPF_TRACE_UPROBE_MULTI);
			bpf_program__set_expected_attach_type(t->skel->progs.alloc_return,
							      QH_BPF_TRACE_UPROBE_MULTI);
		}
	} else {
		/* not loaded at all: no verifier time, no kernel memory */
		bpf_program__set_autoload(t->skel->progs.heap_entry, false);
		bpf_program__set_autoload(t->skel->progs.alloc_return, false);
		bpf_program__set_autoload(t->skel->progs.heap_sweep, false);
		bpf_program__set_autoload(t->skel->progs.heap_file_key, false);
		bpf_map__set_max_entries(t->skel->maps.allocs, 1);
		bpf_map__set_max_entries(t->skel->maps.inherited_freed, 1);
	}
	/* allocation stacks (--heap unless --no-stacks): the unwinder's tables and its stacks */
	if (opts->heap && opts->stacks) {
		bpf_map__set_max_entries(t->skel->maps.unwind_rows, QH_UNWIND_ROWS);
	} else {
		bpf_map__set_max_entries(t->skel->maps.unwind_modules, 1);
		bpf_map__set_max_entries(t->skel->maps.ustacks, 1);
		bpf_map__set_max_entries(t->skel->maps.ustack_slices, 1);
	}
	/* kernel-walked user stacks: of fd opens (--fd-stacks) */
	if (!(opts->fd_stacks && !opts->no_fds))
		bpf_map__set_max_entries(t->skel->maps.stacks, 1);
	t->skel->rodata->cfg_fd_stacks = opts->fd_stacks && !opts->no_fds;
	t->skel->rodata->cfg_fd_exit = opts->fd_exit && !opts->no_fds;
	t->skel->rodata->cfg_fd_exit_max = QH_FD_EXIT_MAX_RECORDS;
	set_job_env(t, opts);

	if (opts->no_fds) {
		bpf_map__set_max_entries(t->skel->maps.fds, 1);
		bpf_map__set_max_entries(t->skel->maps.socks, 1);
	} else {
		bpf_map__set_max_entries(t->skel->maps.fds,
					 opts->max_fds ? opts->max_fds : QH_DEFAULT_MAX_FDS);
		bpf_map__set_max_entries(t->skel->maps.socks,
					 (opts->max_fds ? opts->max_fds : QH_DEFAULT_MAX_FDS) / 4 + 1);
	}

	err = qhtrace_bpf__load(t->skel);
	if (err) {
		err = -errno;
		pr_err("failed to load BPF programs: %s%s\n", strerror(-err),
		       log__level() < QH_LOG_DEBUG ? " -- run with -v for the verifier log" : "");
		goto cleanup;
	}

	err = ensure_tracefs();
	if (err)
		goto cleanup;
	err = qhtrace_bpf__attach(t->skel);
	if (err) {
		err = -errno;
		pr_err("failed to attach BPF programs: %s\n", strerror(-err));
		goto cleanup;
	}
	fentry_probe_close(t);

	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), opts->on_event, opts->ctx,
				 NULL);
	if (!t->rb) {
		err = -errno;
		pr_err("failed to create ring buffer: %s\n", strerror(-err));
		goto cleanup;
	}
	*out = t;
	return 0;

cleanup:
	tracer__free(t);
	return err;
}

static void uprobe_events_remove(struct tracer *t);

static void *destroy_link(void *arg)
{
	struct bpf_link **link = arg;

	bpf_link__destroy(*link);
	*link = NULL;
	return NULL;
}

static void *close_fd(void *arg)
{
	int *fd = arg;

	close(*fd);
	*fd = -1;
	return NULL;
}

/*
 * Detaching a perf-event tracepoint waits for an RCU grace period (~70 ms here); one after
 * the other, the syscall tracepoints alone would hold qhtrace's exit for half a second.
 * Detached from one thread each, they share the grace periods.
 */
static void destroy_links(struct bpf_object_skeleton *s, int *extra, int nextra,
			  struct bpf_link **plinks, size_t nplinks)
{
	size_t i, n = 0, total = s->prog_cnt + nextra + nplinks;
	pthread_t *tids = calloc(total ? total : 1, sizeof(*tids));

	for (i = 0; i < total; i++) {
		void *(*fn)(void *);
		void *arg;

		if (i < (size_t)s->prog_cnt) {
			fn = destroy_link;
			arg = (void *)s->progs[i].link;
			if (!*s->progs[i].link)
				continue;
		} else if (i < (size_t)s->prog_cnt + nextra) {
			fn = close_fd;
			arg = &extra[i - s->prog_cnt];
			if (extra[i - s->prog_cnt] < 0)
				continue;
		} else {
			fn = destroy_link;
			arg = &plinks[i - s->prog_cnt - nextra];
			if (!plinks[i - s->prog_cnt - nextra])
				continue;
		}
		/* out of memory or threads: one after the other */
		if (!tids || pthread_create(&tids[n], NULL, fn, arg))
			fn(arg);
		else
			n++;
	}
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	free(tids);
}

static void tracer__free_(struct tracer *t, bool behind);

void tracer__free(struct tracer *t)
{
	tracer__free_(t, false);
}

/* In the detaching child: every fd but the kernel objects the tracer holds is closed. */
static void keep_only_bpf_fds(void)
{
	char path[64], target[64];
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (nul >= 0) {
		dup2(nul, STDIN_FILENO);
		dup2(nul, STDOUT_FILENO);
		dup2(nul, STDERR_FILENO);
		if (nul > STDERR_FILENO)
			close(nul);
	}
	if (!d)
		return;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		ssize_t n;

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd <= STDERR_FILENO ||
		    fd == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "anon_inode:bpf", 14) && strcmp(target, "anon_inode:[perf_event]"))
			close(fd);
	}
	closedir(d);
}

/*
 * Detaching a classic tracepoint (a perf event) waits for an RCU grace period, and the
 * kernel's event_mutex makes those waits one after the other: about 33 of them (the fd and
 * memory syscalls) hold an exit for a second or more whatever thread closes them. Once the
 * report is out and the command's status known, nobody needs to wait: a child process keeps
 * the links and detaches them while qhtrace exits (its programs stay attached, filtering on
 * a traced-process map that no longer changes, until then). Where fork fails, as tracer__free.
 */
void tracer__free_behind(struct tracer *t)
{
	sigset_t all;
	pid_t pid;

	if (!t)
		return;
	pid = fork();
	if (pid < 0) {
		tracer__free(t);
		return;
	}
	if (pid == 0) {
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		prctl(PR_SET_NAME, "qhtrace-detach");
		keep_only_bpf_fds();
		tracer__free(t);
		_exit(0);
	}
	/* our copies only: each close drops a reference the child still holds */
	tracer__free_(t, true);
}

static void tracer__free_(struct tracer *t, bool behind)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	fentry_probe_close(t);
	/* the processes' own heap links join the others (at most 64 of them) */
	for (size_t i = 0; i < t->nhpids; i++) {
		for (int k = 0; k < 2; k++) {
			if (t->nheap_links < QH_MAX_HEAP_LINKS)
				t->heap_links[t->nheap_links++] = t->hpids[i].fd[k];
			else
				close(t->hpids[i].fd[k]);
		}
	}
	t->nhpids = 0;
	free(t->hpids);
	free(t->libc_off);
	if (t->skel)
		destroy_links(t->skel->skeleton, t->heap_links, t->nheap_links, t->heap_plinks,
			      t->nheap_plinks);
	for (size_t i = 0; i < t->ntree_fds; i++)
		close(t->tree_fds[i]);
	free(t->tree_fds);
	/* only once no perf event holds them (the detaching child's, when behind) */
	if (!behind)
		uprobe_events_remove(t);
	free(t->uevents);
	qhtrace_bpf__destroy(t->skel);
	free(t->heap_plinks);
	for (size_t i = 0; i < t->nunwind_tried; i++)
		free(t->unwind_tried[i].path);
	free(t->unwind_tried);
	for (size_t i = 0; i < t->nrows_files; i++) {
		free(t->rows_files[i].path);
		free(t->rows_files[i].rows);
	}
	free(t->rows_files);
	free(t);
}

static int run_once(const struct bpf_program *prog);

/* the kernel's dev_t encoding (MKDEV), as inode->i_sb->s_dev holds it */
static uint64_t kdev_of(dev_t dev)
{
	return ((uint64_t)major(dev) << 20) | minor(dev);
}

/*
 * The identities of the file open on @fd as a mapping of it shows them: @proc, as /proc/PID/maps
 * shows it (what the snapshots of the processes' mappings say), and @walk, as the unwinder's
 * walk reads it from the mapping (what its tables are keyed by). They differ on overlayfs: the
 * mapping holds the file below, and since Linux 6.8 /proc shows the overlay's inode instead;
 * stat() of the overlay's path names another device still. Read from a one-page mapping of
 * our own: in /proc/self/maps, and by heap_file_key in the kernel. 0, or -errno.
 */
static int mapped_ids(struct tracer *t, int fd, struct qh_file_key *proc, struct qh_file_key *walk)
{
	unsigned long start, end, off, ino;
	unsigned int maj, min;
	char line[512];
	int err = -ENOENT;
	void *p;
	FILE *f;

	p = mmap(NULL, 1, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	f = fopen("/proc/self/maps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &start, &end, &off, &maj, &min,
			   &ino) != 6 || start != (unsigned long)p)
			continue;
		proc->dev = kdev_of(makedev(maj, min));
		proc->ino = ino;
		err = 0;
		break;
	}
	if (f)
		fclose(f);
	if (!err) {
		*walk = *proc;
		t->skel->bss->file_key_addr = (uintptr_t)p;
		if (!run_once(t->skel->progs.heap_file_key) && t->skel->bss->file_key.ino)
			*walk = t->skel->bss->file_key;
	}
	munmap(p, 1);
	return err;
}

/* The file the unwinder saw as @key, or NULL. */
static struct unwind_file *unwind_file(const struct tracer *t, const struct qh_file_key *key)
{
	size_t i;

	for (i = 0; i < t->nunwind_tried; i++)
		if (t->unwind_tried[i].key.dev == key->dev && t->unwind_tried[i].key.ino == key->ino)
			return &t->unwind_tried[i];
	return NULL;
}

/*
 * @key in unwind_modules without rows: the kernel's walk goes by frame pointers there, and its
 * mmap hook tells the loader of the file no more.
 */
static void unwind_none(struct tracer *t, const struct qh_file_key *key)
{
	struct qh_unwind_module none = {};

	/* over the kernel's pending entry, if it made one */
	bpf_map_update_elem(bpf_map__fd(t->skel->maps.unwind_modules), key, &none, BPF_ANY);
}

/*
 * The body of tracer__unwind_module and tracer__unwind_mapped: @id is the identity the caller
 * knows the file by, as /proc shows it (@walk_id false) or as the walk does (true).
 */
static int unwind_module(struct tracer *t, const char *path, const char *name,
			 const struct qh_file_key *id, bool walk_id)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct qh_unwind_module mod = {};
	struct qh_unwind_row *rows = NULL;
	struct unwind_file *tried;
	struct qh_file_key key, pkey;
	uint64_t t0 = util__now_ns(CLOCK_MONOTONIC);
	__u32 *keys = NULL, count, i;
	struct stat st;
	size_t n, j;
	int fd, err;

	if (!t->skel || bpf_map__max_entries(t->skel->maps.unwind_rows) <= 1)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !st.st_size) {
		close(fd); /* nothing to map: nothing to unwind either */
		return 0;
	}
	err = mapped_ids(t, fd, &pkey, &key);
	if (err || (id && id->ino && (walk_id ? memcmp(&key, id, sizeof(key))
					      : memcmp(&pkey, id, sizeof(pkey))))) {
		close(fd);
		return -ENOENT; /* not the file the process mapped */
	}
	if (unwind_file(t, &key)) {
		close(fd);
		return 0;
	}
	tried = vec_push(t->unwind_tried, t->nunwind_tried, t->cap_unwind_tried);
	if (!tried || !(tried->path = strdup(name ?: path))) {
		if (tried)
			t->nunwind_tried--;
		close(fd);
		return -ENOMEM;
	}
	tried->key = key;
	err = unwind__build(fd, &rows, &n);
	close(fd);
	if (err || !n) {
		pr_debug("%s: no unwind table (%s): its frames are walked by frame pointers\n", path,
			 err ? strerror(-err) : "empty");
		t->unwind.failed++;
		unwind_none(t, &key);
		free(rows);
		return err == -ENOMEM ? err : 0;
	}
	if (n > QH_UNWIND_ROWS - t->unwind.rows) {
		if (!t->unwind_full)
			pr_warn("heap stacks: unwind tables full (%u rows) at %s: frames of further "
				"modules are walked by frame pointers\n", QH_UNWIND_ROWS, path);
		t->unwind_full = true;
		unwind_none(t, &key);
		free(rows);
		return -ENOSPC;
	}
	keys = calloc(n, sizeof(*keys));
	err = -ENOMEM;
	if (!keys)
		goto out;
	for (j = 0; j < n; j++)
		keys[j] = t->unwind.rows + j;
	count = n;
	/* rows first: the module is looked up only once all of them are there */
	if (bpf_map_update_batch(bpf_map__fd(t->skel->maps.unwind_rows), keys, rows, &count, &bo)) {
		/* kernels without batch updates of arrays: one by one */
		for (i = 0; i < n; i++)
			if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.unwind_rows), &keys[i],
						&rows[i], BPF_ANY)) {
				err = -errno;
				goto out;
			}
	}
	mod.first = t->unwind.rows;
	mod.count = n;
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.unwind_modules), &key, &mod, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	t->unwind.rows += n;
	t->unwind.modules++;
	t->unwind.build_ms += (util__now_ns(CLOCK_MONOTONIC) - t0) / 1e6;
	pr_debug("%s: unwind table of %zu rows (%zu KiB)\n", path, n,
		 n * sizeof(*rows) / 1024);
	err = 0;
out:
	free(keys);
	free(rows);
	return err;
}

int tracer__unwind_module(struct tracer *t, const char *path, const char *name, uint64_t dev,
			  uint64_t ino)
{
	struct qh_file_key id = { .dev = kdev_of(dev), .ino = ino };

	return unwind_module(t, path, name, ino ? &id : NULL, false);
}

int tracer__unwind_mapped(struct tracer *t, const char *path, const char *name, uint64_t kdev,
			  uint64_t ino)
{
	struct qh_file_key id = { .dev = kdev, .ino = ino };

	if (!t->skel || bpf_map__max_entries(t->skel->maps.unwind_rows) <= 1)
		return 0;
	if (unwind_file(t, &id))
		return 0;
	return unwind_module(t, path, name, &id, true);
}

void tracer__unwind_none(struct tracer *t, uint64_t kdev, uint64_t ino)
{
	struct qh_file_key id = { .dev = kdev, .ino = ino };

	if (t->skel && bpf_map__max_entries(t->skel->maps.unwind_rows) > 1)
		unwind_none(t, &id);
}

void tracer__unwind_stats(const struct tracer *t, struct tracer_unwind_stats *st)
{
	*st = t->unwind;
}

const char *tracer__file_path(const struct tracer *t, uint64_t kdev, uint64_t ino)
{
	struct qh_file_key id = { .dev = kdev, .ino = ino };
	const struct unwind_file *f = unwind_file(t, &id);

	return f ? f->path : NULL;
}

int tracer__ustack_vmas(struct tracer *t, uint64_t id, struct qh_ustack_vma *out, size_t max)
{
	struct qh_ustack st;
	size_t n;

	if (!id)
		return -ENOENT;
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.ustacks), &id, &st))
		return -errno;
	for (n = 0; n < st.nvmas && n < QH_USTACK_VMAS && n < max; n++)
		out[n] = st.vmas[n];
	return n;
}

int tracer__find_file(pid_t pid, uint64_t dev, uint64_t ino, char *path, size_t len)
{
	char maps[64], line[4096], file[4096];
	unsigned int ma, mi;
	unsigned long i;
	int err = -ENOENT;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*s %*s %*s %x:%x %lu %4095s", &ma, &mi, &i, file) != 4)
			continue;
		if (i == ino && (((uint64_t)ma << 20) | mi) == dev) {
			snprintf(path, len, "/proc/%d/root%.*s", pid, (int)(len - 32), file);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

int tracer__find_libc(pid_t pid, char *path, size_t len)
{
	char maps[64], line[4096], file[4096];
	int err = -ENOENT;
	FILE *f;

	if (pid)
		snprintf(maps, sizeof(maps), "/proc/%d/maps", pid);
	else
		snprintf(maps, sizeof(maps), "/proc/self/maps");
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *base;

		if (sscanf(line, "%*s %*s %*s %*s %*s %4095s", file) != 1)
			continue;
		base = strrchr(file, '/');
		if (base && !strncmp(base + 1, "libc.so", 7)) {
			/* another process's files are reached through its root (containers) */
			if (pid)
				snprintf(path, len, "/proc/%d/root%.*s", pid, (int)(len - 32), file);
			else
				snprintf(path, len, "%s", file);
			err = 0;
			break;
		}
	}
	fclose(f);
	return err;
}

/* One uprobe_multi link for the entries, one for the returns (v6.6). */
static int attach_heap_multi(struct tracer *t, const char *path, const uint64_t *entry_off,
			     const uint64_t *entry_fn, size_t n, const uint64_t *ret_off,
			     size_t nret)
{
	int fd;

	if (t->nheap_links + 2 > QH_MAX_HEAP_LINKS)
		return -E2BIG;
	fd = uprobe_multi_link(bpf_program__fd(t->skel->progs.heap_entry), path, entry_off,
			       entry_fn, n, false, 0);
	if (fd < 0) {
		pr_err("failed to attach the malloc-family uprobes in %s: %s\n", path,
		       strerror(-fd));
		return fd;
	}
	t->heap_links[t->nheap_links++] = fd;
	fd = uprobe_multi_link(bpf_program__fd(t->skel->progs.alloc_return), path, ret_off, NULL,
			       nret, true, 0);
	if (fd < 0) {
		pr_err("failed to attach the malloc-family return probes in %s: %s\n", path,
		       strerror(-fd));
		return fd;
	}
	t->heap_links[t->nheap_links++] = fd;
	return 0;
}

/*
 * Before v6.6 (--heap-probes each): a perf-event uprobe at @path+@off for every process, the
 * function in the link's cookie (perf-event links carry one since v5.15). The same programs
 * run, and the kernel places the same breakpoints; only detaching takes a grace period per
 * link (destroy_links overlaps them).
 */
static struct bpf_link *heap_link_each(struct tracer *t, struct bpf_program *prog,
				       const char *path, uint64_t off, bool ret, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .retprobe = ret, .bpf_cookie = cookie);

	(void)t;
	return bpf_program__attach_uprobe_opts(prog, -1, path, off, &o);
}

/*
 * Heap probes for one process tree (--heap-probes tree): uprobe events defined in tracefs and
 * opened as perf events on the root process with inherit set, so the kernel clones them into
 * every child at fork, before the child runs. The uprobe consumer filter (the perf events'
 * target mm: trace_uprobe_filter in kernel/trace/trace_uprobe.c) then keeps breakpoints out
 * of every other process, which no longer pay a trap for each malloc.
 *
 * Why tracefs: a perf-PMU uprobe (what libbpf attaches) makes a new probe for each inherited
 * event, without the BPF program (measured: the child traps and the program never runs), and
 * a uprobe_multi link's pid filter follows no children. The program runs once per hit for
 * the event's call, so each tracer defines its own events (their names carry its pid).
 */
static const char *tracefs_dir(void)
{
	return access(TRACEFS "/events", F_OK) ? "/sys/kernel/debug/tracing" : TRACEFS;
}

static int uprobe_events_write(const char *line)
{
	char path[128];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/uprobe_events", tracefs_dir());
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, line, strlen(line));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Events a qhtrace killed before it could remove them left behind: their owner is gone. */
static void uprobe_events_reap_stale(void)
{
	char path[128], line[4096], name[64], cmd[96];
	int owner;
	FILE *f;

	snprintf(path, sizeof(path), "%s/uprobe_events", tracefs_dir());
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%*c:qhtrace/%63s", name) != 1 ||
		    sscanf(name, "h%d_", &owner) != 1 || owner <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d", owner);
		if (!access(path, F_OK))
			continue;
		snprintf(cmd, sizeof(cmd), "-:qhtrace/%s\n", name);
		if (!uprobe_events_write(cmd))
			pr_debug("removed the stale uprobe event qhtrace/%s\n", name);
	}
	fclose(f);
}

static void uprobe_events_remove(struct tracer *t)
{
	char cmd[96];
	size_t i;

	for (i = 0; i < t->nuevents; i++) {
		snprintf(cmd, sizeof(cmd), "-:qhtrace/%s\n", t->uevents[i]);
		if (uprobe_events_write(cmd))
			pr_warn("failed to remove the uprobe event qhtrace/%s: %s\n", t->uevents[i],
				strerror(errno));
	}
	t->nuevents = 0;
}

/* Define the uprobe event qhtrace/@name at @path+@off; its id in @id. */
static int uprobe_event_define(const char *name, bool ret, const char *path, uint64_t off,
			       unsigned long long *id)
{
	char line[PATH_MAX + 128], idpath[192];
	int err;
	FILE *f;

	if (strpbrk(path, " \t\n"))
		return -EINVAL; /* the tracefs syntax splits at white space */
	snprintf(line, sizeof(line), "%c:qhtrace/%s %s:0x%llx\n", ret ? 'r' : 'p', name, path,
		 (unsigned long long)off);
	err = uprobe_events_write(line);
	if (err)
		return err;
	snprintf(idpath, sizeof(idpath), "%s/events/qhtrace/%s/id", tracefs_dir(), name);
	f = fopen(idpath, "re");
	if (!f)
		return -errno;
	err = fscanf(f, "%llu", id) == 1 ? 0 : -EINVAL;
	fclose(f);
	return err;
}

/* A perf event on uprobe event @id for @pid, and (inherited at fork) its future children. */
static int uprobe_event_perf_open(unsigned long long id, pid_t pid)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_TRACEPOINT,
		.size = sizeof(attr),
		.config = id,
		.sample_period = 1,
		.inherit = 1,
	};
	int fd = syscall(__NR_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* Define a uprobe event at @path+@off and open it on @pid and its future children. */
static int uprobe_event_open(struct tracer *t, bool ret, const char *path, uint64_t off,
			     pid_t pid)
{
	char (*names)[48];
	unsigned long long id;
	int err;

	if (vec_reserve(t->uevents, t->cap_uevents, t->nuevents + 1))
		return -ENOMEM;
	names = t->uevents;
	snprintf(names[t->nuevents], sizeof(names[0]), "h%d_%zu", getpid(), t->nuevents);
	err = uprobe_event_define(names[t->nuevents], ret, path, off, &id);
	if (err)
		return err;
	t->nuevents++;
	return uprobe_event_perf_open(id, pid);
}

/* One byte from @fd within 5 s, or -1: a self-test child that hangs must not hang qhtrace. */
static int read_byte(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;

	if (poll(&p, 1, 5000) != 1 || read(fd, &b, 1) != 1)
		return -1;
	return b;
}

/* Hits of uprobe event qhtrace/@name so far (uprobe_profile's nhit), or -1. */
static long long uprobe_event_hits(const char *name)
{
	char path[128], line[4096], ev[64];
	long long hits = -1, n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/uprobe_profile", tracefs_dir());
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %63s %lld", ev, &n) == 2 && !strcmp(ev, name))
			hits = n;
	fclose(f);
	return hits;
}

/*
 * Does a BPF program on an inherited uprobe event still run in a process after one of its
 * children exits? Not on every kernel: on 6.12 and 6.18 the exit of a child detaches the
 * program from the event it shares with its parent (measured: the parent's later hits go to
 * the perf buffer, not the program), while 6.1 keeps it. So it is asked of a throwaway process
 * each time: with a program that returns 0 attached, the perf event counts nothing while the
 * program runs; after the child's exit a malloc that hits (uprobe_profile says so) must still
 * count nothing. Costs a fork, one uprobe, a program and a few RCU grace periods (~0.2 s). Returns 1 (it runs), 0 (it
 * was detached), or -errno (could not tell).
 */
static int heap_tree_selftest(void)
{
	static void *volatile keep;
	static const struct bpf_insn ret0[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int go[2] = { -1, -1 }, ready[2] = { -1, -1 }, pfd = -1, prog = -1, err = 0;
	uint64_t file_off, probe_off, before = 0, after = 0;
	char libc[PATH_MAX], why[128], name[48], cmd[96];
	long long hits0, hits1;
	unsigned long long id;
	bool defined = false;
	pid_t pid = -1;

	err = tracer__find_libc(0, libc, sizeof(libc));
	if (!err)
		err = uprobe_off__for_symbol(libc, "malloc", &file_off, &probe_off, why,
					     sizeof(why));
	if (err)
		return err;
	prog = bpf_prog_load(BPF_PROG_TYPE_KPROBE, "qh_selftest", "GPL", ret0, 2, NULL);
	if (prog < 0)
		return -errno;
	if (pipe2(go, O_CLOEXEC) || pipe2(ready, O_CLOEXEC))
		goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0) {
		pid_t child;

		close(go[1]);
		close(ready[0]);
		/* each step when told: the probe must exist before the fork */
		if (read_byte(go[0]) < 0)
			_exit(1);
		keep = malloc(16);
		free(keep);
		child = fork();
		if (child == 0)
			_exit(0);
		if (child < 0 || waitpid(child, NULL, 0) != child || write(ready[1], "a", 1) != 1 ||
		    read_byte(go[0]) < 0)
			_exit(1);
		/*
		 * The child's events go at its release, after an RCU grace period (and maybe
		 * another): malloc across a few of them (membarrier GLOBAL waits for one)
		 */
		for (int i = 0; i < 4; i++) {
			usleep(25000);
			keep = malloc(16);
			free(keep);
		}
		if (write(ready[1], "b", 1) != 1)
			_exit(1);
		read_byte(go[0]); /* EOF: done */
		_exit(0);
	}
	close(go[0]);
	close(ready[1]);
	go[0] = ready[1] = -1;
	snprintf(name, sizeof(name), "h%d_selftest", getpid());
	err = uprobe_event_define(name, false, libc, file_off + probe_off, &id);
	if (err)
		goto out;
	defined = true;
	pfd = uprobe_event_perf_open(id, pid);
	if (pfd < 0) {
		err = pfd;
		goto out;
	}
	if (ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog))
		goto fail;
	if (write(go[1], "g", 1) != 1 || read_byte(ready[0]) != 'a' ||
	    read(pfd, &before, sizeof(before)) != sizeof(before) ||
	    (hits0 = uprobe_event_hits(name)) < 0 || write(go[1], "g", 1) != 1 ||
	    read_byte(ready[0]) != 'b' || read(pfd, &after, sizeof(after)) != sizeof(after) ||
	    (hits1 = uprobe_event_hits(name)) < 0) {
		err = -EIO;
		goto out;
	}
	if (hits1 - hits0 < 4) {
		err = -ENOENT; /* the malloc never hit: nothing learnt */
		goto out;
	}
	err = after == before;
	pr_debug("heap: a program on inherited uprobe events %s a child's exit (hits %lld, "
		 "counted without it %llu)\n", err ? "survives" : "is detached by",
		 hits1 - hits0, (unsigned long long)(after - before));
	goto out;
fail:
	err = -errno;
out:
	if (go[1] >= 0)
		close(go[1]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (pfd >= 0)
		close(pfd);
	if (defined) {
		snprintf(cmd, sizeof(cmd), "-:qhtrace/%s\n", name);
		uprobe_events_write(cmd);
	}
	if (go[0] >= 0)
		close(go[0]);
	if (ready[0] >= 0)
		close(ready[0]);
	if (ready[1] >= 0)
		close(ready[1]);
	if (prog >= 0)
		close(prog);
	return err;
}

/* One uprobe event at @path+@off on the root's tree (--heap-probes tree); NULL and errno. */
static struct bpf_link *heap_link_tree(struct tracer *t, struct bpf_program *prog,
				       const char *path, uint64_t off, bool ret, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_perf_event_opts, o, .bpf_cookie = cookie);
	struct bpf_link *l;
	int pfd;

	pfd = uprobe_event_open(t, ret, path, off, t->heap_root);
	if (pfd < 0) {
		errno = -pfd;
		return NULL;
	}
	if (vec_reserve(t->tree_fds, t->cap_tree_fds, t->ntree_fds + 1)) {
		close(pfd);
		errno = ENOMEM;
		return NULL;
	}
	t->tree_fds[t->ntree_fds] = fcntl(pfd, F_DUPFD_CLOEXEC, 0);
	if (t->tree_fds[t->ntree_fds] >= 0)
		t->ntree_fds++;
	l = bpf_program__attach_perf_event_opts(prog, pfd, &o);
	if (!l) {
		int err = errno;

		close(pfd);
		errno = err;
	}
	return l;
}

/*
 * A link per function entry (the function in its cookie, as uprobe_multi gives it) and per
 * return, made by @link_fn: perf-event uprobes for every process, or the root's tree.
 */
static int attach_heap_links(struct tracer *t, const char *path, const uint64_t *entry_off,
			     const uint64_t *entry_fn, size_t n, const uint64_t *ret_off,
			     size_t nret,
			     struct bpf_link *(*link_fn)(struct tracer *t, struct bpf_program *prog,
							 const char *path, uint64_t off, bool ret,
							 uint64_t cookie))
{
	size_t i;
	int err;

	if (vec_reserve(t->heap_plinks, t->cap_heap_plinks, t->nheap_plinks + n + nret))
		return -ENOMEM;
	for (i = 0; i < n + nret; i++) {
		bool ret = i >= n;
		struct bpf_link *l;

		l = link_fn(t, ret ? t->skel->progs.alloc_return : t->skel->progs.heap_entry,
			    path, ret ? ret_off[i - n] : entry_off[i], ret, ret ? 0 : entry_fn[i]);
		if (!l) {
			err = -errno;
			pr_err("failed to attach a malloc-family %s in %s: %s\n",
			       ret ? "return probe" : "uprobe", path, strerror(-err));
			return err;
		}
		t->heap_plinks[t->nheap_plinks++] = l;
	}
	return 0;
}

/*
 * The unwind tables of the libraries that sit between the allocator and a program: the C
 * library, and C++'s operator new and its unwinder beside it. Built now, before any traced
 * process runs, so even one that exits within a millisecond has them.
 */
static void unwind_libraries(struct tracer *t, const char *libc)
{
	static const char *const siblings[] = { "libstdc++.so.6", "libgcc_s.so.1" };
	const char *slash = strrchr(libc, '/');
	char path[PATH_MAX];
	size_t i;

	tracer__unwind_module(t, libc, NULL, 0, 0);
	for (i = 0; slash && i < sizeof(siblings) / sizeof(*siblings); i++) {
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - libc), libc, siblings[i]);
		if (!access(path, R_OK))
			tracer__unwind_module(t, path, NULL, 0, 0);
	}
}

/* The probe offsets of the malloc family in @path (its entry probes as uprobe_off places them). */
static int heap_offsets_of(const char *path, struct heap_offsets *o)
{
	uint64_t seen[NR_HEAP_FNS];
	size_t i, j;
	int err;

	o->n = o->nret = 0;
	for (i = 0; i < NR_HEAP_FNS; i++) {
		const struct heap_fn *fn = &heap_fns[i];
		uint64_t file_off, probe_off;
		char why[128];

		err = uprobe_off__for_symbol(path, fn->sym, &file_off, &probe_off, why, sizeof(why));
		if (err) {
			pr_debug("%s: no %s (%s): not probed\n", path, fn->sym, strerror(-err));
			continue;
		}
		/* aliases (aligned_alloc and memalign in glibc 2.36) share one address */
		for (j = 0; j < o->n && seen[j] != file_off; j++)
			;
		if (j < o->n) {
			pr_debug("%s: %s is an alias of a function already probed\n", path, fn->sym);
			continue;
		}
		seen[o->n] = file_off;
		pr_debug("%s: %s at file offset 0x%lx, entry probe at +%lu: %s\n", path, fn->sym,
			 (unsigned long)file_off, (unsigned long)probe_off, why);
		o->entry_off[o->n] = file_off + probe_off;
		o->entry_fn[o->n++] = fn->fn;
		if (fn->returns_block)
			o->ret_off[o->nret++] = file_off;
	}
	if (!o->n) {
		pr_err("%s: no malloc-family function found\n", path);
		return -ENOENT;
	}
	return 0;
}

int tracer__attach_heap(struct tracer *t, const char *path)
{
	struct heap_offsets o = {};
	struct qh_file_key key = {}, pkey;
	__u32 one = 1;
	struct stat st;
	int err, fd;

	if (!bpf_program__autoload(t->skel->progs.heap_entry))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		err = -errno;
		pr_err("failed to probe the C library %s: %s\n", path, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	/*
	 * Known to the kernel's mmap probe by the (dev, inode) a mapping of it holds, to /proc by
	 * what /proc shows (tracer__maps_probed_libc): on overlayfs they differ from each other and
	 * from stat()'s (see mapped_ids). Entered under both.
	 */
	if (mapped_ids(t, fd, &pkey, &key)) {
		key.dev = kdev_of(st.st_dev);
		key.ino = st.st_ino;
		pkey = key;
	}
	close(fd);
	if (!bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.libc_files), &key, &one))
		return 0; /* probed already */
	if (t->heap_match && t->libc_off)
		return 0; /* one C library is known; the others when a process maps them */
	err = heap_offsets_of(path, &o);
	if (err)
		return err;
	o.dev = st.st_dev;
	o.ino = st.st_ino;
	snprintf(o.path, sizeof(o.path), "%s", path);
	if (t->heap_match) {
		/* nothing attached yet: each process picked gets links of its own */
		t->libc_off = malloc(sizeof(*t->libc_off));
		if (!t->libc_off)
			return -ENOMEM;
		*t->libc_off = o;
		unwind_libraries(t, path);
		return 0;
	}
	/* the root's C library for its tree; another one (a container's) for every process */
	if (t->heap_root && !t->tree_attached) {
		uprobe_events_reap_stale();
		err = attach_heap_links(t, path, o.entry_off, o.entry_fn, o.n, o.ret_off, o.nret,
					heap_link_tree);
		t->tree_attached = !err;
	} else if (t->uprobe_multi) {
		err = attach_heap_multi(t, path, o.entry_off, o.entry_fn, o.n, o.ret_off, o.nret);
	} else {
		err = attach_heap_links(t, path, o.entry_off, o.entry_fn, o.n, o.ret_off, o.nret,
					heap_link_each);
	}
	if (err)
		return err;
	one = 1;
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.libc_files), &key, &one, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(t->skel->maps.libc_files), &pkey, &one, BPF_ANY)) {
		err = -errno;
		pr_err("failed to register %s: %s\n", path, strerror(-err));
		return err;
	}
	unwind_libraries(t, path);
	return 0;
}

int tracer__heap_attach_pid(struct tracer *t, pid_t pid, const char *path)
{
	struct heap_offsets *own = NULL, *o = t->libc_off;
	struct heap_pid *hp;
	struct stat st;
	size_t i;
	int fd[2], err;

	if (!t->heap_match || !o)
		return -EINVAL;
	for (i = 0; i < t->nhpids; i++)
		if (t->hpids[i].pid == pid)
			return -EEXIST;
	if (!path) {
		path = o->path;
	} else if (stat(path, &st)) {
		return -errno;
	} else if ((uint64_t)st.st_dev != o->dev || (uint64_t)st.st_ino != o->ino) {
		/* another C library (a container's): its own offsets, its tables for stacks */
		own = calloc(1, sizeof(*own));
		if (!own)
			return -ENOMEM;
		err = heap_offsets_of(path, own);
		if (err) {
			free(own);
			return err;
		}
		o = own;
		unwind_libraries(t, path);
	}
	err = -ENOMEM;
	if (vec_reserve(t->hpids, t->cap_hpids, t->nhpids + 1))
		goto out;
	fd[0] = err = uprobe_multi_link(bpf_program__fd(t->skel->progs.heap_entry), path,
					o->entry_off, o->entry_fn, o->n, false, pid);
	if (err < 0)
		goto out;
	fd[1] = err = uprobe_multi_link(bpf_program__fd(t->skel->progs.alloc_return), path,
					o->ret_off, NULL, o->nret, true, pid);
	if (err < 0) {
		close(fd[0]);
		goto out;
	}
	err = 0;
	hp = &t->hpids[t->nhpids++];
	hp->pid = pid;
	hp->fd[0] = fd[0];
	hp->fd[1] = fd[1];
out:
	free(own);
	return err;
}

static void *close_pair(void *arg)
{
	int *fd = arg;

	close(fd[0]);
	close(fd[1]);
	free(fd);
	return NULL;
}

int tracer__heap_detach_pid(struct tracer *t, pid_t pid)
{
	pthread_t tid;
	size_t i;
	int *fd;

	for (i = 0; i < t->nhpids && t->hpids[i].pid != pid; i++)
		;
	if (i == t->nhpids)
		return -ENOENT;
	/* unregistering a uprobe waits for a grace period: the event loop does not */
	fd = malloc(2 * sizeof(*fd));
	if (fd) {
		fd[0] = t->hpids[i].fd[0];
		fd[1] = t->hpids[i].fd[1];
		if (pthread_create(&tid, NULL, close_pair, fd))
			close_pair(fd);
		else
			pthread_detach(tid);
	} else {
		close(t->hpids[i].fd[0]);
		close(t->hpids[i].fd[1]);
	}
	t->hpids[i] = t->hpids[--t->nhpids];
	return 0;
}

bool tracer__heap_match(const struct tracer *t)
{
	return t && t->heap_match;
}

size_t tracer__heap_pids(const struct tracer *t)
{
	return t ? t->nhpids : 0;
}

/* Run one of the programs that are never attached (clock_sync, heap_sweep) once. */
static int run_once(const struct bpf_program *prog)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);

	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &o))
		return -errno;
	return 0;
}

/* Read both clocks in the kernel at once (clock_sync), to convert the stamps read next. */
int tracer__clock_sync(struct tracer *t)
{
	int err = run_once(t->skel->progs.clock_sync);

	if (!err)
		t->clock = t->skel->bss->clock_pair;
	return err;
}

uint64_t tracer__stamp_ns(const struct tracer *t, uint64_t stamp)
{
	const struct qh_clock *c = &t->clock;
	uint64_t tick;

	if (!c->hz || !stamp)
		return stamp;
	tick = 1000000000ULL / c->hz;
	/*
	 * Never earlier than the record: c->boot_ns lies within tick c->stamp, and the record
	 * within tick @stamp or, as jiffies may be read a tick stale (a CPU that has just left
	 * idle), the one after. So the end of that one.
	 */
	return c->boot_ns + ((int64_t)(stamp - c->stamp) + 2) * (int64_t)tick;
}

/*
 * Every entry of a hash map in use, in batches (consistent per bucket while the traced
 * processes change it); the u64 stamp at @stamp_off of each value is turned into boot ns
 * before @fn sees it. A non-zero return of @fn stops the walk and is returned.
 */
static int map_for_each(struct tracer *t, int fd, size_t ksz, size_t vsz, size_t stamp_off,
			int (*fn)(void *ctx, const void *k, const void *v), void *ctx)
{
	enum { CHUNK = 4096 };
	char *keys = calloc(CHUNK, ksz), *vals = calloc(CHUNK, vsz), *token = calloc(1, ksz);
	int err = 0, ret;
	void *in = NULL;
	__u32 i, count;

	if (!keys || !vals || !token) {
		err = -ENOMEM;
		goto out;
	}
	err = tracer__clock_sync(t);
	while (!err) {
		count = CHUNK;
		ret = bpf_map_lookup_batch(fd, in, token, keys, vals, &count, NULL);
		if (ret && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (i = 0; i < count && !err; i++) {
			__u64 *stamp = (__u64 *)(vals + i * vsz + stamp_off);

			/* a record not in use: a closed fd's or a freed block's, kept for reuse */
			if (!QH_STAMP_LIVE(*stamp))
				continue;
			*stamp = tracer__stamp_ns(t, *stamp);
			err = fn(ctx, keys + i * ksz, vals + i * vsz);
		}
		in = token;
		if (ret)
			break;
	}
out:
	free(keys);
	free(vals);
	free(token);
	return err;
}

/* The typed visitors of tracer.h, called through map_for_each's untyped one (no cast call) */
struct alloc_visit {
	int (*fn)(void *ctx, const struct qh_alloc_key *k, const struct qh_alloc *a);
	void *ctx;
};

static int visit_alloc(void *ctx, const void *k, const void *v)
{
	struct alloc_visit *a = ctx;

	return a->fn(a->ctx, k, v);
}

struct fd_visit {
	int (*fn)(void *ctx, const struct qh_fd_key *k, const struct qh_fd *v);
	void *ctx;
};

static int visit_fd(void *ctx, const void *k, const void *v)
{
	struct fd_visit *f = ctx;

	return f->fn(f->ctx, k, v);
}

int tracer__for_each_alloc(struct tracer *t,
			   int (*fn)(void *ctx, const struct qh_alloc_key *k, const struct qh_alloc *a),
			   void *ctx)
{
	struct alloc_visit a = { fn, ctx };

	return map_for_each(t, bpf_map__fd(t->skel->maps.allocs), sizeof(struct qh_alloc_key),
			    sizeof(struct qh_alloc), offsetof(struct qh_alloc, ts_ns), visit_alloc,
			    &a);
}

int tracer__for_each_fd(struct tracer *t,
			int (*fn)(void *ctx, const struct qh_fd_key *k, const struct qh_fd *v),
			void *ctx)
{
	struct fd_visit f = { fn, ctx };

	return map_for_each(t, bpf_map__fd(t->skel->maps.fds), sizeof(struct qh_fd_key),
			    sizeof(struct qh_fd), offsetof(struct qh_fd, ts_ns), visit_fd, &f);
}

void tracer__forget_fd(struct tracer *t, const struct qh_fd_key *k)
{
	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.fds), k);
}

void tracer__forget_alloc(struct tracer *t, const struct qh_alloc_key *k)
{
	bpf_map_delete_elem(bpf_map__fd(t->skel->maps.allocs), k);
}

int tracer__sweep_allocs(struct tracer *t)
{
	__u64 before = t->skel->bss->heap_swept;
	int err = run_once(t->skel->progs.heap_sweep);

	if (err)
		return err;
	pr_debug("heap: %llu freed blocks' records swept out of the map\n",
		 (unsigned long long)(t->skel->bss->heap_swept - before));
	return 0;
}

bool tracer__inherited_freed(struct tracer *t, const struct qh_alloc_key *k)
{
	__u8 v;

	return !bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.inherited_freed), k, &v);
}

int tracer__stack(struct tracer *t, int64_t id, uint64_t *ips, size_t max)
{
	__u64 buf[QH_MAX_STACK] = {};
	__u32 key = id;
	size_t n;

	if (id < 0)
		return -ENOENT;
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.stacks), &key, buf))
		return -errno;
	for (n = 0; n < QH_MAX_STACK && n < max && buf[n]; n++)
		ips[n] = buf[n];
	return n;
}

int tracer__ustack(struct tracer *t, uint64_t id, uint64_t *ips, size_t max, uint32_t *flags)
{
	struct qh_ustack st;
	size_t n;

	*flags = 0;
	if (!id)
		return -ENOENT;
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.ustacks), &id, &st))
		return -errno;
	for (n = 0; n < st.nr && n < QH_USTACK_MAX && n < max; n++)
		ips[n] = st.ips[n];
	*flags = st.flags;
	return n;
}

int tracer__rows(struct tracer *t, pid_t pid, const char *path,
		 const struct qh_unwind_row **rows, size_t *n)
{
	char root[PATH_MAX + 32];
	struct rows_file *f;
	size_t i;
	int fd;

	for (i = 0; i < t->nrows_files; i++)
		if (!strcmp(t->rows_files[i].path, path))
			goto found;
	f = vec_push(t->rows_files, t->nrows_files, t->cap_rows_files);
	if (!f)
		return -ENOMEM;
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	if (!f->path) {
		t->nrows_files--;
		return -ENOMEM;
	}
	snprintf(root, sizeof(root), "/proc/%d/root%s", (int)pid, path);
	fd = pid ? open(root, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (unwind__build(fd, &f->rows, &f->n))
			f->n = 0;
		close(fd);
	}
found:
	f = &t->rows_files[i];
	*rows = f->rows;
	*n = f->n;
	return f->n ? 0 : -ENOENT;
}

int tracer__ustack_slice(struct tracer *t, uint64_t id, struct qh_ustack_slice *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.ustack_slices), &id, out))
		return -errno;
	if (out->len > QH_SLICE_LEN)
		return -EINVAL;
	return 0;
}

bool tracer__maps_probed_libc(struct tracer *t, uint32_t pid)
{
	int fd = bpf_map__fd(t->skel->maps.libc_files);
	char path[64], line[4096];
	unsigned int ma, mi;
	unsigned long ino;
	bool found = false;
	__u32 v;
	FILE *f;

	if (t->heap_match)
		return false; /* hooked when its own probes first run */
	snprintf(path, sizeof(path), "/proc/%u/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		struct qh_file_key key = {};

		/* start-end perms offset major:minor inode path */
		if (sscanf(line, "%*s %*s %*s %x:%x %lu", &ma, &mi, &ino) != 3 || !ino)
			continue;
		key.dev = ((__u64)ma << 20) | mi;
		key.ino = ino;
		found = !bpf_map_lookup_elem(fd, &key, &v);
	}
	fclose(f);
	return found;
}

int tracer__trace_pid(struct tracer *t, uint32_t pid, const struct qh_proc *seed)
{
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.procs), &pid, seed, BPF_NOEXIST))
		return -errno;
	return 0;
}

/*
 * The kernel's look for job variables at exec: "NAME=" of each, its first 16 bytes as two
 * words and the mask of the bytes it has (a longer name is matched by its prefix, and the
 * loader checks the whole name).
 */
static void set_job_env(struct tracer *t, const struct tracer_opts *opts)
{
	size_t i, j, n = opts->n_job_env < QH_JOB_ENV_NAMES ? opts->n_job_env : QH_JOB_ENV_NAMES;

	for (i = 0; i < n; i++) {
		unsigned char pre[16] = {}, mask[16] = {};
		size_t len = strlen(opts->job_env[i]);

		for (j = 0; j < 16 && j <= len; j++) {
			pre[j] = j < len ? opts->job_env[i][j] : '=';
			mask[j] = 0xff;
		}
		memcpy((void *)t->skel->rodata->cfg_job_env_prefix[i], pre, 16);
		memcpy((void *)t->skel->rodata->cfg_job_env_mask[i], mask, 16);
	}
	t->skel->rodata->cfg_job_env_n = n;
}

int tracer__set_job(struct tracer *t, uint32_t pid, uint32_t job)
{
	struct qh_job_root jr = { .job = job };
	struct qh_proc cur;
	int fd = bpf_map__fd(t->skel->maps.job_roots), err;

	if (!job) {
		if (bpf_map_delete_elem(fd, &pid) && errno != ENOENT)
			return -errno;
		return 0;
	}
	/* the start time as the kernel keeps it (to /proc's tick for a seeded process) */
	err = tracer__lookup(t, pid, &cur);
	if (err)
		return err;
	jr.start_ns = cur.start_ns;
	if (bpf_map_update_elem(fd, &pid, &jr, BPF_ANY))
		return -errno;
	return 0;
}

int tracer__lookup(struct tracer *t, uint32_t pid, struct qh_proc *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.procs), &pid, out))
		return -errno;
	return 0;
}

int tracer__lookup_fd(struct tracer *t, uint32_t tgid, uint32_t fd, struct qh_fd *out)
{
	struct qh_fd_key k = { .tgid = tgid, .fd = fd };

	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.fds), &k, out))
		return -errno;
	/* as tracer__for_each_fd hands them out: live records only, stamps in boot ns */
	if (!QH_STAMP_LIVE(out->ts_ns))
		return -ENOENT;
	out->ts_ns = tracer__stamp_ns(t, out->ts_ns);
	return 0;
}

int tracer__epoll_fd(struct tracer *t)
{
	return ring_buffer__epoll_fd(t->rb);
}

int tracer__consume(struct tracer *t)
{
	return ring_buffer__consume(t->rb);
}

/*
 * Hits of the tree probes that their program did not see. It returns 0 and so takes every
 * hit for itself while attached; a perf event counts a hit only when no program is there,
 * which happens when the kernel detached it (a kernel the self-test did not catch). Inherited
 * events add their counts to these when their process exits.
 */
static uint64_t tree_unprobed(struct tracer *t)
{
	uint64_t sum = 0, n;
	size_t i;

	for (i = 0; i < t->ntree_fds; i++)
		if (read(t->tree_fds[i], &n, sizeof(n)) == sizeof(n))
			sum += n;
	return sum;
}

int tracer__stats(struct tracer *t, uint64_t out[QH_STAT_MAX])
{
	uint64_t *vals = calloc(t->ncpus, sizeof(*vals));
	int fd = bpf_map__fd(t->skel->maps.stats), err = 0;
	__u32 i;
	int c;

	if (!vals)
		return -ENOMEM;
	for (i = 0; i < QH_STAT_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals)) {
			err = -errno;
			break;
		}
		for (c = 0; c < t->ncpus; c++)
			out[i] += vals[c];
	}
	free(vals);
	out[QH_STAT_HEAP_UNPROBED] = tree_unprobed(t);
	return err;
}

int tracer__prog_count(struct tracer *t)
{
	return t->skel->skeleton->prog_cnt;
}

static __u32 link_prog_id(int link_fd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(link_fd, &info, &len))
		return 0;
	return info.prog_id;
}

static __u32 prog_id(const struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
		return 0;
	return info.id;
}

const char *tracer__prog_name(struct tracer *t, int i, bool *attached)
{
	const struct bpf_prog_skeleton *ps;
	int j;

	if (i < 0 || i >= t->skel->skeleton->prog_cnt)
		return NULL;
	ps = &t->skel->skeleton->progs[i];
	*attached = *ps->link != NULL;
	/* the heap programs are attached by tracer__attach_heap, outside the skeleton */
	for (j = 0; !*attached && j < t->nheap_links; j++)
		*attached = link_prog_id(t->heap_links[j]) == prog_id(*ps->prog);
	for (j = 0; !*attached && (size_t)j < t->nheap_plinks; j++)
		*attached = link_prog_id(bpf_link__fd(t->heap_plinks[j])) == prog_id(*ps->prog);
	return ps->name;
}

const struct tracer_probes *tracer__probes(const struct tracer *t)
{
	return &t->probes;
}
