/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The kernel side as the loader sees it: load, attach, read the maps and the ring buffer. */
#ifndef __QH_TRACER_H
#define __QH_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#include "qhtrace.h"

#define QH_DEFAULT_MAX_PROCS 32768
#define QH_DEFAULT_RINGBUF_KB 1024

struct tracer;

typedef int (*tracer_event_fn)(void *ctx, void *data, size_t size);

#define QH_DEFAULT_MAX_ALLOCS 262144
#define QH_DEFAULT_MAX_FDS 65536

/* How the malloc family is probed (--heap-probes). */
enum qh_heap_probes {
	QH_HEAP_PROBES_AUTO,	/* TREE with a root process, else MULTI where the kernel has it,
				 * else EACH */
	QH_HEAP_PROBES_TREE,	/* uprobe events on the root and, inherited, its descendants */
	QH_HEAP_PROBES_MULTI,	/* one uprobe_multi link for entries, one for returns (v6.6) */
	QH_HEAP_PROBES_EACH,	/* a perf-event uprobe per function and per return */
};

/* How the fd syscalls are probed (--fd-probes); the memory syscalls follow (see fd_probes). */
enum qh_fd_probes {
	QH_FD_PROBES_AUTO,	/* FENTRY where the kernel allows it, else SYSCALLS */
	QH_FD_PROBES_FENTRY,	/* an fexit program per syscall function: untraced processes
				 * keep the fast syscall path */
	QH_FD_PROBES_SYSCALLS,	/* a classic tracepoint per syscall */
	QH_FD_PROBES_DISPATCH,	/* one tp_btf/sys_exit program for every syscall */
};

struct tracer_opts {
	uint32_t max_procs;	/* size of the procs and mm_owner maps */
	uint32_t ringbuf_kb;	/* ring buffer size, a power of two */
	bool heap;		/* load the malloc-family probes (attached by tracer__attach_heap) */
	uint32_t max_allocs;	/* live heap blocks followed at once */
	bool stacks;		/* capture a user stack per allocation (else the caller only) */
	int heap_probes;	/* enum qh_heap_probes */
	pid_t heap_root;	/* the process (held before exec) whose tree TREE probes */
	bool heap_match;	/* monitor --heap-match: no probe is shared; each process picked
				 * gets its own (tracer__heap_attach_pid) */
	uint32_t sample_rate;	/* record one allocation in N (1: all) */
	uint64_t min_size;	/* record allocations of this size... */
	uint64_t max_size;	/* ...up to this one */
	bool no_fds;		/* leave the fd and socket probes out */
	int fd_probes;		/* enum qh_fd_probes. The memory syscalls use fentry when
				 * this resolves to FENTRY (or, with no_fds, AUTO does),
				 * else tracepoints */
	bool fd_stacks;		/* a user stack and the caller per fd opened */
	bool fd_exit;		/* the fds each process held at exit, as QH_EV_FD_EXIT records */
	uint32_t max_fds;	/* fds followed at once (0: the default) */
	/* monitor: the variables that name a CI job, looked for at each exec of a process in no
	 * job (QH_EV_JOB_ENV); up to QH_JOB_ENV_NAMES */
	const char *const *job_env;
	size_t n_job_env;
	tracer_event_fn on_event;
	void *ctx;
};

/* Which variant of each probe family the running kernel got (the report's run.probes). */
struct tracer_probes {
	const char *exit;   /* "tp_btf/sched_process_exit(group_dead)" (v6.16), or the
			     * pre-v6.16 one that reads signal->live */
	const char *rss;    /* "tp_btf/rss_stat" */
	const char *memory; /* mmap, munmap, mremap, brk: "fentry" or "tracepoint" */
	const char *heap;   /* "uprobe_tree" (the traced tree only), "uprobe_multi" (v6.6),
			     * "uprobe" (one per function), NULL */
	const char *fds;    /* "fentry", "tracepoint", "tp_btf/sys_exit" (--fd-probes
			     * dispatch), NULL (--no-fds) */
};

/*
 * Check what tracing needs before anything starts: privileges and kernel BTF. Returns 0 or
 * -errno after printing one line that says what is missing and how to fix it.
 */
int tracer__preflight(void);

/* Open, size, load and attach every program; mounts tracefs privately if needed. */
int tracer__open(struct tracer **out, const struct tracer_opts *opts);
void tracer__free(struct tracer *t);
/*
 * The same, the probes detached by a child process while the caller goes on (exits): for
 * the end of a run, once the report is out (see tracer.c for why).
 */
void tracer__free_behind(struct tracer *t);

/*
 * Probe the malloc family of the C library at @path, for every traced process that maps it.
 * Entry probes sit on the first instruction the kernel emulates (see uprobe_off.h).
 */
int tracer__attach_heap(struct tracer *t, const char *path);
/*
 * --heap-match: probe the malloc family of @pid only (pid-filtered uprobe_multi links, two
 * fds), in the C library at @path (NULL: the one tracer__attach_heap was given). Its children
 * are not probed by these. 0, -EEXIST (probed already), or -errno.
 */
int tracer__heap_attach_pid(struct tracer *t, pid_t pid, const char *path);
/*
 * Remove @pid's own probes; their links are closed by a thread of their own (each takes an RCU
 * grace period). 0, or -ENOENT when it had none.
 */
int tracer__heap_detach_pid(struct tracer *t, pid_t pid);
/* Was the tracer opened with heap_match (no shared heap probe)? */
bool tracer__heap_match(const struct tracer *t);
/* Processes with probes of their own now. */
size_t tracer__heap_pids(const struct tracer *t);

/*
 * The C library @pid maps (0: this program, whose C library a child started on this host
 * maps too), as a path this program can open: through /proc/PID/root for another process.
 */
int tracer__find_libc(pid_t pid, char *path, size_t len);
/* The file @pid maps with this (kernel-encoded) dev and inode, through /proc/PID/root. */
int tracer__find_file(pid_t pid, uint64_t dev, uint64_t ino, char *path, size_t len);

#define QH_MAX_STACK 127

/*
 * Records carry a cheap kernel stamp (qh_stamp in bpf/maps.bpf.h): tracer__clock_sync() reads
 * both clocks in the kernel, tracer__stamp_ns() turns a stamp into boot ns with that pair: a
 * time never earlier than the record, at most two ticks later (8 ms at HZ=250). The for_each
 * functions below do both.
 */
int tracer__clock_sync(struct tracer *t);
uint64_t tracer__stamp_ns(const struct tracer *t, uint64_t stamp);

/* Visit every live heap block the kernel holds (ts_ns in boot ns); stops early if @fn
 * returns non-zero. */
int tracer__for_each_alloc(struct tracer *t,
			   int (*fn)(void *ctx, const struct qh_alloc_key *k, const struct qh_alloc *a),
			   void *ctx);
/* Take a block out of the kernel's map (its process exited: it can change no more). */
void tracer__forget_alloc(struct tracer *t, const struct qh_alloc_key *k);
/*
 * Take the records of freed blocks out of the kernel's map (a free leaves its record for the
 * next block at the address, which is cheaper than a delete and an insert).
 */
int tracer__sweep_allocs(struct tracer *t);
/* Has the forked child @k names freed the block it inherited at that address? */
bool tracer__inherited_freed(struct tracer *t, const struct qh_alloc_key *k);
/* The user stack @id (return addresses, innermost first); how many, or -errno. */
int tracer__stack(struct tracer *t, int64_t id, uint64_t *ips, size_t max);
/* The allocation stack @id of `ustacks`; how many frames, or -errno; *@flags QH_USTACK_*. */
int tracer__ustack(struct tracer *t, uint64_t id, uint64_t *ips, size_t max, uint32_t *flags);

/*
 * The unwind table of the file @path as @pid maps it (through /proc/PID/root while it is
 * there), built once and kept by the tracer; 0, or -ENOENT when it has none.
 */
int tracer__rows(struct tracer *t, pid_t pid, const char *path,
		 const struct qh_unwind_row **rows, size_t *n);
/* The slice kept with QH_USTACK_SLICE stack @id; 0 or -errno. */
int tracer__ustack_slice(struct tracer *t, uint64_t id, struct qh_ustack_slice *out);

/* unwind tables: rows the kernel holds at most (12 bytes each in the file, 16 in the map) */
#define QH_UNWIND_ROWS 262144

/*
 * Build the unwind table of the file @path (its inode (@dev, @ino) as /proc/PID/maps shows it,
 * dev as makedev(); 0, 0: whatever @path is now) for the heap unwinder, once per file: 0 (also
 * when it was built before, or the file has no usable .eh_frame: its frames are then walked by
 * frame pointers), -ENOSPC when the kernel's table is full, -errno. @name: the path as the
 * process sees it (NULL: @path), which tracer__file_path gives back.
 */
int tracer__unwind_module(struct tracer *t, const char *path, const char *name, uint64_t dev,
			  uint64_t ino);
/*
 * The same for a file the kernel saw mapped (QH_EV_MAP_EXEC): (@kdev, @ino) as the unwinder's
 * walk reads them, which is what the table is keyed by; a file known by them already is not
 * opened again.
 */
int tracer__unwind_mapped(struct tracer *t, const char *path, const char *name, uint64_t kdev,
			  uint64_t ino);
/* (@kdev, @ino) has no table (a file that could not be opened): the kernel stops asking. */
void tracer__unwind_none(struct tracer *t, uint64_t kdev, uint64_t ino);
/* The path of a file tracer__unwind_module saw (@kdev in the kernel's encoding), or NULL. */
const char *tracer__file_path(const struct tracer *t, uint64_t kdev, uint64_t ino);
/* The mappings the walk of allocation stack @id went through; how many, or -errno. */
int tracer__ustack_vmas(struct tracer *t, uint64_t id, struct qh_ustack_vma *out, size_t max);

struct tracer_unwind_stats {
	size_t modules;		/* with a table */
	size_t rows;		/* in all tables */
	size_t failed;		/* files tried that had none */
	double build_ms;	/* time spent building them */
};
void tracer__unwind_stats(const struct tracer *t, struct tracer_unwind_stats *st);

/* Visit every fd record (opened while traced, still open as far as the kernel side knows). */
int tracer__for_each_fd(struct tracer *t,
			int (*fn)(void *ctx, const struct qh_fd_key *k, const struct qh_fd *v),
			void *ctx);
/* Take an fd record out: /proc shows the fd closed and the close was not seen. */
void tracer__forget_fd(struct tracer *t, const struct qh_fd_key *k);

/* Does @pid map a C library the heap probes are attached to? (for processes seeded from /proc) */
bool tracer__maps_probed_libc(struct tracer *t, uint32_t pid);

/* Start tracing an existing process (and, through fork events, its descendants). */
int tracer__trace_pid(struct tracer *t, uint32_t pid, const struct qh_proc *seed);
/* Current counters of a traced process; -ENOENT if the kernel no longer tracks it. */
/*
 * monitor: @pid (traced) belongs to CI job @job from now on, and so does every process it forks
 * (the kernel copies it at fork); 0 forgets it. 0, or -ENOENT (not traced), -ENOSPC (full).
 */
int tracer__set_job(struct tracer *t, uint32_t pid, uint32_t job);
int tracer__lookup(struct tracer *t, uint32_t pid, struct qh_proc *out);
/* The `fds` record of (@tgid, @fd), its stamp in boot ns: 0, or -ENOENT when there is none. */
int tracer__lookup_fd(struct tracer *t, uint32_t tgid, uint32_t fd, struct qh_fd *out);

int tracer__epoll_fd(struct tracer *t);
/* Consume every record available now; returns how many, or -errno. */
int tracer__consume(struct tracer *t);

/* Per-CPU counters summed, indexed by enum qh_stat. */
int tracer__stats(struct tracer *t, uint64_t out[QH_STAT_MAX]);

const struct tracer_probes *tracer__probes(const struct tracer *t);

/* Programs of the skeleton, with whether each is attached (for the load tests and -v). */
int tracer__prog_count(struct tracer *t);
const char *tracer__prog_name(struct tracer *t, int i, bool *attached);

#endif
