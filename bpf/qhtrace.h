/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one wire format shared by the BPF programs and the loader.
 *
 * Only fixed-width types, no type-defining includes: both vmlinux.h (kernel side) and
 * <linux/types.h> (user side) provide __u8..__u64. Every ring buffer record starts with a
 * __u32 type tag; fields are ordered large to small so no record has padding holes.
 */
#ifndef __QHTRACE_H
#define __QHTRACE_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

#define QH_FILENAME_LEN 256

/* rss_stat members, as the kernel numbers them (enum mm counter). */
#ifndef MM_FILEPAGES
#define MM_FILEPAGES 0
#define MM_ANONPAGES 1
#define MM_SWAPENTS 2
#define MM_SHMEMPAGES 3
#endif
#define QH_NR_RSS 4

/*
 * Resident pages from rss_pages[QH_NR_RSS]: what the kernel calls RSS (get_mm_rss), file +
 * anon + shmem; swap entries are not resident. A macro so it takes the wire format's __u64
 * arrays and the loader's uint64_t ones alike.
 */
#define QH_RSS_TOTAL(pages) ((pages)[MM_FILEPAGES] + (pages)[MM_ANONPAGES] + (pages)[MM_SHMEMPAGES])

enum qh_event_type {
	QH_EV_FORK = 1, /* a traced process forked a new process (not a thread) */
	QH_EV_EXEC = 2,
	QH_EV_EXIT = 3, /* the last thread of a traced process exited */
	QH_EV_REAP = 4, /* the task_struct of an exited process was released */
	QH_EV_LIBC = 5, /* a traced process mapped a probed C library (its heap is followed) */
	QH_EV_LIBC_NEW = 6, /* a traced process mapped a C library not probed yet */
	QH_EV_JOB_ENV = 7, /* monitor: a process in no job exec'd with a job variable */
	QH_EV_FD_EXIT = 8, /* fds a traced process opened and still held as it exited */
	QH_EV_MAP_EXEC = 9, /* heap stacks: a traced process mapped code the unwinder has no
			     * table for (a library loaded, dlopen) */
};

/*
 * The monitor's job variables, looked for by the kernel at exec in the new image's environment
 * (the loader reading /proc/PID/environ later may find a newer one: `env -i CMD` has exec'd
 * again by then). A variable is matched by the first 16 bytes of "NAME=" under a mask, so a
 * name of up to 15 bytes exactly, a longer one by its prefix (the loader checks the rest).
 */
#define QH_JOB_ENV_NAMES 24	/* names the kernel looks for */
#define QH_JOB_ENV_SCAN 256	/* environment strings looked at */
#define QH_JOB_ENV_STR 256	/* bytes of one string copied, NUL included */
#define QH_JOB_ENV_BLOB 2048	/* bytes of matching strings sent */

/* Per-CPU loss and failure counters, indices into the `stats` map. */
enum qh_stat {
	QH_STAT_RB_RESERVE_FAILED = 0, /* ring buffer full: a lifecycle event was dropped */
	QH_STAT_PROCS_FULL,	       /* `procs` full: a new process could not be traced */
	QH_STAT_MMS_FULL,	       /* `mm_owner` full: RSS of a process cannot be followed */
	QH_STAT_CALLS_FULL,	       /* no per-thread state for a munmap/mremap: not accounted */
	QH_STAT_ALLOCS_FULL,	       /* `allocs` full: an allocation could not be recorded */
	QH_STAT_INHERITED_FULL,	       /* `inherited_freed` full: a freed inherited block is
					* not known as freed */
	QH_STAT_HEAP_CALLS_FULL,       /* no per-thread state for an allocator call: not followed */
	QH_STAT_FDS_FULL,	       /* `fds` full: an open fd has no record (reconciled from
					* /proc while its process lives) */
	QH_STAT_SOCKS_FULL,	       /* `socks` full: a TCP socket's states are not followed */
	QH_STAT_HEAP_SWEEP_RACE,       /* an allocation at the address of a dead record being
					* swept that moment: not recorded */
	QH_STAT_HEAP_UNPROBED,	       /* allocator calls of traced processes no program saw: the
					* kernel detached a tree probe's program (counted by the
					* loader from the probes' perf events, never by BPF) */
	QH_STAT_RSS_EVENTS,	       /* rss_stat hits for traced processes (not a loss) */
	QH_STAT_SYSCALLS,	       /* memory syscalls accounted (not a loss) */
	QH_STAT_HEAP_FREES_UNKNOWN,    /* frees of blocks allocated before tracing (not a loss) */
	QH_STAT_STACK_LOST,	       /* no user stack for an allocation: it keeps its caller */
	QH_STAT_FD_EVENTS,	       /* fd-creating and closing syscalls accounted (not a loss) */
	QH_STAT_HEAP_FREED,	       /* frees that left a dead record (not a loss) */
	QH_STAT_HEAP_REUSED,	       /* allocations that took a dead record over (not a loss):
					* with the above, how many dead records wait for a sweep */
	QH_STAT_MAX,
};

/* The stats of the first QH_STAT_LOST_MAX indices are losses. */
#define QH_STAT_LOST_MAX QH_STAT_RSS_EVENTS

/* What an open file descriptor is, as the kernel side tells it (and /proc/PID/fd agrees). */
enum qh_fd_kind {
	QH_FD_UNKNOWN = 0, /* not seen opened: inherited, received, open before tracing */
	QH_FD_FILE,	   /* regular file, device, anything with a path that is not below */
	QH_FD_DIR,
	QH_FD_SOCKET,
	QH_FD_PIPE,	   /* pipe or FIFO */
	QH_FD_EVENTFD,
	QH_FD_EPOLL,
	QH_FD_TIMERFD,
	QH_FD_SIGNALFD,
	QH_FD_INOTIFY,
	QH_FD_MEMFD,
	QH_FD_PIDFD,
	QH_FD_ANON,	   /* another anonymous inode: fanotify, userfaultfd, perf, io_uring */
	QH_FD_NR_KIND,
};
#define QH_FD_KIND_SLOTS 16 /* >= QH_FD_NR_KIND, a power of two for the verifier's masks */

/* TCP states followed per process through inet_sock_set_state */
enum qh_tcp_count {
	QH_TCP_ESTABLISHED = 0,
	QH_TCP_CLOSE_WAIT,
	QH_TCP_LISTEN,
	QH_TCP_NR,
};

/*
 * The prefix of the syscalls' kernel functions, which the fentry/fexit variants attach to
 * (QH_SYSCALL_FN in proc.bpf.h) and the loader probes: the BPF side knows the architecture
 * from __TARGET_ARCH_*, the loader from the compiler's own macros.
 */
#if defined(__TARGET_ARCH_x86) || defined(__x86_64__)
#define QH_SYSCALL_PREFIX "__x64_sys_"
#elif defined(__TARGET_ARCH_arm64) || defined(__aarch64__)
#define QH_SYSCALL_PREFIX "__arm64_sys_"
#else
#error "QH_SYSCALL_PREFIX: the syscall functions' prefix of this architecture is not known"
#endif

#define QH_PF_EXITED (1U << 0)	  /* the last thread has exited; counters are final */
#define QH_PF_START_SEEDED (1U << 1) /* start_ns came from /proc (tick resolution) */
#define QH_PF_HEAP_HOOKED (1U << 2)  /* maps a C library whose malloc family is probed */
#define QH_PF_LIBC_ASKED (1U << 3)   /* QH_EV_LIBC_NEW sent for this image */
#define QH_PF_EXITING (1U << 4)	  /* one thread has taken the group exit (handle_exit) */

/*
 * Value of `job_roots` (monitor): a process the loader found to be a CI job's (a root, or one
 * forked before the loader knew its parent's job), with its start time, as a reused pid is
 * another process.
 */
struct qh_job_root {
	__u64 start_ns;
	__u32 job;
	__u32 pad;
};

/* Key of `libc_files`: a file whose malloc family is probed. dev is the kernel's encoding. */
struct qh_file_key {
	__u64 dev;
	__u64 ino;
};

/*
 * The heap unwinder's tables (`unwind_rows`, `unwind_modules`), built by the loader from each
 * module's .eh_frame: for a range of the module's code, how to find the caller's frame. A row
 * holds from @pc (a file offset in the module) up to the next row's.
 */
enum qh_cfa {
	QH_CFA_NONE,	/* no rule the BPF walk follows (an expression, a gap): the walk stops */
	QH_CFA_RSP,	/* CFA = rsp + cfa_off */
	QH_CFA_RBP,	/* CFA = rbp + cfa_off */
	QH_CFA_END,	/* the return address is undefined: the outermost frame (_start, clone) */
};

enum qh_rbp_rule {
	QH_RBP_SAME,	/* the caller's rbp is the current one */
	QH_RBP_SAVED,	/* the caller's rbp is saved at CFA + rbp_off */
	QH_RBP_LOST,	/* not recoverable (undefined, or a rule the walk does not follow) */
};

struct qh_unwind_row {
	__u32 pc;
	__s32 cfa_off;
	__s16 rbp_off;
	__u8 cfa;	/* enum qh_cfa */
	__u8 rbp;	/* enum qh_rbp_rule */
};

/*
 * Value of `unwind_modules`, keyed by struct qh_file_key: the module's rows in `unwind_rows`.
 * count 0: no table; with first QH_UNWIND_PENDING, the kernel has told the loader of the file
 * (QH_EV_MAP_EXEC) and the loader has not answered yet.
 */
struct qh_unwind_module {
	__u32 first;
	__u32 count;
};

#define QH_UNWIND_PENDING 0xffffffffU

/* Frames of one heap stack (`ustacks`) at most. */
#define QH_USTACK_MAX 127

/* QH_USTACK_*: how a stack in `ustacks` ended */
#define QH_USTACK_TRUNCATED (1U << 0) /* not at the outermost frame: a read failed, a frame
				       * had no rule, or the depth ran out */
#define QH_USTACK_GUESSED (1U << 1)   /* some frames came from frame pointers in code without
				       * unwind tables: they may be wrong */
#define QH_USTACK_SLICE (1U << 2)     /* the walk met code of a file the loader had not seen
				       * yet (just mapped: dlopen): the registers and stack
				       * there are kept (`ustack_slices`) for the loader to
				       * unwind once it has the file's table */

/* Mappings a stack's walk went through, at most (more are not recorded). */
#define QH_USTACK_VMAS 8

/* A mapping as the walk found it: which file its frames are in, even once the process is gone */
struct qh_ustack_vma {
	__u64 start;
	__u64 end;
	__u64 pgoff;	/* in 4 KiB pages */
	__u64 dev;	/* kernel encoding; 0 with ino 0: no file */
	__u64 ino;
};

/* Value of `ustacks`, keyed by a hash of the frames: one allocation stack. */
struct qh_ustack {
	__u32 nr;	/* frames in ips */
	__u32 flags;	/* QH_USTACK_* */
	__u32 nvmas;	/* in vmas */
	__u32 __pad;
	struct qh_ustack_vma vmas[QH_USTACK_VMAS];
	__u64 ips[QH_USTACK_MAX]; /* [0] inside the allocator, then return addresses */
};

/* Bytes of user stack kept with a QH_USTACK_SLICE stack, at most. */
#define QH_SLICE_LEN 4096

/* Value of `ustack_slices`, keyed as `ustacks`: the walk's state where it met the unseen file. */
struct qh_ustack_slice {
	__u64 ip;	/* of frame @at of the stack */
	__u64 sp;	/* data[0] was read there */
	__u64 bp;
	__u32 at;
	__u32 len;	/* bytes in data */
	__u32 bp_lost;
	__u32 flags;	/* QH_USTACK_* of the frames before @at */
	__u8 data[QH_SLICE_LEN];
};

/*
 * Value of the `procs` map, keyed by tgid. Owned by the kernel side except at seeding,
 * where userspace creates the entry of a process that already exists.
 */
struct qh_proc {
	__u64 start_ns;		     /* task->start_boottime: with the pid, the process identity */
	__u64 mm;		     /* kernel address of the mm_struct being followed */
	__u64 rss_pages[QH_NR_RSS];  /* current, by rss_stat member */
	__u64 peak_rss_pages;	     /* file + anon + shmem, highest since last exec or fork */
	__u64 base_rss_pages;	     /* file + anon + shmem right after last exec or fork */
	__u64 heap_bytes;	     /* brk - start_brk */
	__u64 mmap_anon_bytes;	     /* anonymous bytes mapped through mmap/mremap, live */
	__u64 mmap_file_bytes;	     /* file-backed bytes mapped through mmap/mremap, live */
	__u64 mmap_calls;
	__u64 munmap_calls;
	__u64 mremap_calls;
	__u64 brk_calls;
	__u64 exit_ns;		     /* bpf_ktime_get_boot_ns() at group exit, 0 while alive */
	__u64 heap_live_bytes;	     /* malloc family: bytes allocated and not freed */
	__u64 heap_live_count;
	__u64 heap_allocs;	     /* successful allocations seen */
	__u64 heap_frees;	     /* frees of known blocks */
	__u64 heap_failed;	     /* allocations that returned NULL */
	__u64 fork_ns;		     /* when it forked from its parent; 0 if it did not */
	__u64 fd_opened;	     /* fds created by traced syscalls */
	__u64 fd_closed;	     /* fds closed: close, close_range, dup2 over one, exec */
	__u32 heap_gen;		     /* address space instance: new at fork and exec */
	__u32 inherit_tgid;	     /* whose blocks it inherited at fork (0: none, or exec'd) */
	__u32 inherit_gen;	     /* and of which generation */
	__u32 forks;		     /* processes it forked: the epoch of the blocks it makes now */
	__u32 inherit_epoch;	     /* its parent's blocks of an epoch below this are inherited */
	__u32 ppid;
	__u32 threads;
	__u32 threads_peak;
	__u32 flags;		     /* QH_PF_* */
	__s32 exit_status;	     /* wait(2) status word, valid with QH_PF_EXITED */
	__u32 fd_open;		     /* open fds now (the fd table's count after fork, exec and
				      * bulk closes; followed call by call in between) */
	__u32 fd_peak;
	__u32 fd_limit;		     /* fd numbers below this may have an `fds` record */
	__u32 fd_exit_open;	     /* open when the process exited: the kernel closed them */
	__u32 fd_exit_kind[QH_FD_KIND_SLOTS]; /* those, by enum qh_fd_kind */
	__u32 tcp[QH_TCP_NR];	     /* its TCP sockets by state, now */
	__u32 tcp_close_wait_peak;
	__u32 fd_exit_leaked;	     /* of fd_exit_open, those it opened while traced, not 0-2 */
	__u32 fd_exit_unsent;	     /* of those, fds no QH_EV_FD_EXIT record carries (past
				      * cfg_fd_exit_max records, or the ring buffer was full) */
	__u32 job;		     /* monitor: the CI job it belongs to (inherited at fork), 0: none */
	__u32 pad0;
};

struct qh_event_hdr {
	__u32 type; /* enum qh_event_type */
	__u32 pid;  /* tgid */
	__u64 ts_ns; /* bpf_ktime_get_boot_ns() */
	__u64 start_ns;
};

/* QH_EV_FORK: the child, with its counters right after fork. */
struct qh_event_fork {
	struct qh_event_hdr hdr;
	struct qh_proc proc;
	__u8 comm[TASK_COMM_LEN];
};

/* QH_EV_EXEC: filename as passed to execve (bprm->filename). */
struct qh_event_exec {
	struct qh_event_hdr hdr;
	/* the program's text mapping, for symbols when the process is gone before /proc is read */
	__u64 text_start;
	__u64 text_end;
	__u64 text_pgoff; /* in pages */
	__u64 text_dev;	  /* kernel encoding */
	__u64 text_ino;
	__u32 old_pid; /* the thread that called exec, if not the leader */
	__u32 heap_gen; /* the new image's heap generation */
	__u64 cgroup_id; /* its cgroup v2 (the directory's inode number), for the monitor's jobs */
	__u8 comm[TASK_COMM_LEN];
	__u8 filename[QH_FILENAME_LEN];
};

/* QH_EV_EXIT: the final counters of the process. */
struct qh_event_exit {
	struct qh_event_hdr hdr;
	struct qh_proc proc;
	__u8 comm[TASK_COMM_LEN];
};

/* QH_EV_LIBC_NEW: the library's file, to find in /proc/PID/maps (its mappings move while
 * the dynamic loader lays out the segments) */
struct qh_event_libc {
	struct qh_event_hdr hdr;
	__u64 dev; /* kernel encoding */
	__u64 ino;
};

/*
 * QH_EV_MAP_EXEC: the mapping, and its file's path as the kernel's dentries spell it (the
 * library may be unmapped again, dlclose, before the loader could read /proc): the names from
 * the file up, each NUL-terminated, @names of them; @complete when the walk reached the root
 * of the mount tree, so they make an absolute path (else only its end).
 */
#define QH_MAP_PATH_LEN 1024 /* bytes of names the kernel sends at most */
#define QH_MAP_NAME_LEN 256  /* one name, its NUL included (NAME_MAX + 1) */
#define QH_MAP_PATH_DEPTH 32 /* names looked at */

struct qh_event_map {
	struct qh_event_hdr hdr;
	__u64 start;
	__u64 end;
	__u64 pgoff; /* in pages */
	__u64 dev;   /* kernel encoding: the (dev, inode) the unwinder's walk sees */
	__u64 ino;
	__u32 names;
	__u32 complete;
	/* one name may start anywhere below QH_MAP_PATH_LEN: the verifier sees it fit */
	char path[QH_MAP_PATH_LEN + QH_MAP_NAME_LEN];
};

/* QH_EV_JOB_ENV: the environment strings that may name a job, NUL-separated */
struct qh_event_job_env {
	struct qh_event_hdr hdr;
	__u32 len;		/* bytes of data: whole strings, each with its NUL */
	__u32 scanned;		/* strings looked at (QH_JOB_ENV_SCAN at most) */
	char data[QH_JOB_ENV_BLOB + QH_JOB_ENV_STR];
};

/*
 * QH_EV_FD_EXIT, sent before the process's QH_EV_EXIT: a run of fds it opened while traced,
 * holds as it exits and are not 0-2, alike in what the loader groups them by (the same inode;
 * the same peer for sockets, the kind for pipes and anonymous inodes) and in what opened them.
 */
#define QH_FD_EXIT_MAX_RECORDS 256 /* records per exiting process (cfg_fd_exit_max) */
#define QH_FD_EXIT_NAME 256	/* bytes of path components, at most (FD_TARGET_LEN) */
#define QH_FD_EXIT_DEPTH 32	/* dentries and mount crossings walked, at most */

#define QH_FDX_DELETED (1U << 0)  /* the file is unlinked: " (deleted)", as /proc says */
#define QH_FDX_PATH_CUT (1U << 1) /* the walk stopped short of the root: the path's head is lost */
#define QH_FDX_INET (1U << 2)	  /* a TCP or UDP socket /proc/net lists: the addresses are set */
#define QH_FDX_V6 (1U << 3)	  /* AF_INET6 (else AF_INET: the first 4 bytes of each address) */
#define QH_FDX_UDP (1U << 4)	  /* UDP (else TCP) */
#define QH_FDX_ACCEPTED (1U << 5) /* made by accept: the served side of a listener */

struct qh_event_fd_exit {
	struct qh_event_hdr hdr;
	__u64 ts_ns;	 /* the newest fd's open, a qh_stamp() */
	__u64 caller;	 /* as struct qh_fd, of the newest */
	__s64 stack_id;
	__u32 fd;	 /* the lowest fd of the run */
	__u32 count;	 /* fds in the run */
	__u32 nr;	 /* the syscall that opened them */
	__u32 kind;	 /* enum qh_fd_kind, read from the file */
	__u32 flags;	 /* QH_FDX_* */
	__u32 state;	 /* TCP_* of a TCP socket, 0 otherwise */
	__u32 path_len;	 /* bytes of path: files, dirs, memfds */
	__u16 lport;	 /* host order */
	__u16 rport;
	__u8 laddr[16];	 /* network order */
	__u8 raddr[16];
	/* the path's components, the file's own name first, each ending in NUL */
	__u8 path[2 * QH_FD_EXIT_NAME];
};

/* QH_EV_REAP, QH_EV_LIBC */
struct qh_event_reap {
	struct qh_event_hdr hdr;
};

/*
 * The `allocs` map: one live heap block. The generation tells address spaces apart: after
 * exec (or in a forked child) the same tgid and address are another block.
 */
struct qh_alloc_key {
	__u32 tgid;
	__u32 gen;
	__u64 addr;
};

/*
 * Stamps that are no time: the record is not in use. A freed block's record stays, dead, for
 * the next block at that address (malloc reuses addresses first: the record is written over
 * in place); heap_sweep takes dead ones out, marking them swept first.
 */
#define QH_STAMP_DEAD 0
#define QH_STAMP_SWEPT 1
#define QH_STAMP_LIVE(s) ((s) > QH_STAMP_SWEPT)

struct qh_alloc {
	__u64 size;
	__u64 ts_ns;	/* made: a qh_stamp() in the map, boot ns as tracer__for_each_alloc()
			 * hands it out; QH_STAMP_DEAD: freed */
	__u64 caller;	/* return address of the allocator call: right even without frame pointers */
	__u64 stack_id; /* key in `ustacks`, 0 when not captured */
	__u32 epoch;	/* the process's forks so far: a child forked later has a copy of it */
	__u32 __pad;
};

/*
 * The `fds` map: an fd a traced process opened while traced. A close zeroes the stamp and
 * leaves the record for the next open of the number; the walks at exec, close_range and
 * exit take records out.
 */
struct qh_fd_key {
	__u32 tgid;
	__u32 fd;
};

struct qh_fd {
	__u64 ts_ns;	/* opened: a qh_stamp() in the map, boot ns as tracer__for_each_fd()
			 * hands it out; QH_STAMP_DEAD: the fd was closed, the record is kept for
			 * the next open of the number */
	__u64 caller;	/* --fd-stacks: a return address into the program's text found on the
			 * user stack at the syscall (the C library's wrapper has no frame
			 * pointer); 0 if none */
	__s64 stack_id; /* user stack in `stacks`, < 0 when not captured */
	__u32 nr;	/* the syscall that made it */
	__u32 kind;	/* enum qh_fd_kind, as the syscall tells (open, dup: QH_FD_UNKNOWN) */
};

/* Both clocks read at once by the clock_sync program: how the loader converts stamps. */
struct qh_clock {
	__u64 stamp;   /* qh_stamp() */
	__u64 boot_ns; /* bpf_ktime_get_boot_ns() */
	__u32 hz;      /* CONFIG_HZ; 0: stamps are boot ns */
	__u32 __pad;
};

/* The `socks` map: a TCP socket of a traced process, by struct sock address. */
struct qh_sock {
	__u32 tgid;
	__u32 state; /* the kernel's TCP_* */
};

enum qh_heap_fn {
	QH_HEAP_MALLOC = 0,
	QH_HEAP_CALLOC,
	QH_HEAP_REALLOC,
	QH_HEAP_REALLOCARRAY,
	QH_HEAP_POSIX_MEMALIGN,
	QH_HEAP_ALIGNED_ALLOC,
	QH_HEAP_MEMALIGN,
	QH_HEAP_VALLOC,
	QH_HEAP_PVALLOC,
	QH_HEAP_FREE,
	QH_HEAP_NR_FN,
};

#endif /* __QHTRACE_H */
