/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Maps shared by every probe family. The static linker (bpftool gen object) joins the
 * objects: each map is defined in maps.bpf.c, the one unit that defines QH_DEFINE_MAPS, and
 * declared extern in the others, so all programs of the skeleton see the same map.
 */
#ifndef __MAPS_BPF_H
#define __MAPS_BPF_H

#include "qhtrace.h"

#ifdef QH_DEFINE_MAPS
#define QH_MAP
#else
#define QH_MAP extern
#endif

/* Sizes are defaults: the loader sets them with bpf_map__set_max_entries() before load. */

/* tgid -> counters. Presence in this map is what "traced" means. */
QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct qh_proc);
} procs SEC(".maps");

/*
 * tgid -> its CI job (monitor), written by the loader for the processes it found to be a job's;
 * a fork copies the parent's job, taken from here the first time. Empty outside the monitor.
 */
QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct qh_job_root);
} job_roots SEC(".maps");

/* monitor: where the job variables of an exec are gathered before they are sent (one per CPU) */
QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qh_event_job_env);
} job_env_buf SEC(".maps");

/*
 * mm_struct address -> tgid. rss_stat fires with the mm, not always in the owner's context
 * (exit teardown, reclaim, fork copying into the child's mm), so RSS is attributed through
 * the mm. Untraced processes cost this one lookup.
 */
QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u64);
	__type(value, __u32);
} mm_owner SEC(".maps");

/* C libraries the heap probes are attached to, filled by the loader */
QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct qh_file_key);
	__type(value, __u32);
} libc_files SEC(".maps");

/*
 * The heap unwinder's modules: a file (as the kernel's walk sees it) -> its rows in
 * `unwind_rows` (heap.bpf.c); count 0 for a file the loader has no table of. Here, as mmap
 * (mem.bpf.c) tells the loader of code mapped from a file not in it.
 */
QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct qh_file_key);
	__type(value, struct qh_unwind_module);
} unwind_modules SEC(".maps");

QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/*
 * What the fds a process held at exit are grouped by, as the loader groups the fds of a live
 * table (fdtable.c): a file by its inode (one path), a TCP or UDP socket by the end that
 * repeats (its peer, or its own address when it listens, is unconnected or was accepted), the
 * rest by kind; and by what opened them. Fields that do not tell groups apart stay zero, so
 * two keys compare as words.
 */
struct fd_exit_key {
	__u64 obj;	/* files, dirs, memfds: the inode */
	__u64 caller;
	__s64 stack_id;
	__u32 kind;
	__u32 nr;
	__u32 flags;	/* QH_FDX_* */
	__u32 state;
	__u16 lport;
	__u16 rport;
	__u32 pad;
	__u8 laddr[16];
	__u8 raddr[16];
};

/*
 * fd_exit's scratch, one per CPU: the QH_EV_FD_EXIT record it makes, its walk's counters and
 * keys. In map memory, loads of the counters are unknown numbers to the verifier: on the
 * stack, their exact values would make each pass of the bpf_loop callback a state of its own,
 * and the program too complex to verify; and the keys would take the exit program's three
 * frames past the 512 bytes of stack they may use together (v6.1).
 */
struct fd_exit_scratch {
	struct qh_event_fd_exit e;
	struct fd_exit_key run;	/* the pending run's */
	struct fd_exit_key cur;	/* the fd being added */
	__u32 count;	/* fds in the pending run, 0: none */
	__u32 sent;	/* records sent for the process */
};

QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fd_exit_scratch);
} fd_exit_buf SEC(".maps");

/* (tgid, fd) -> how and when a traced process opened it */
QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct qh_fd_key);
	__type(value, struct qh_fd);
} fds SEC(".maps");

/*
 * struct sock address -> the traced process whose TCP socket it is. State changes fire in
 * softirq context as often as in the owner's: the socket, not the current task, says whose.
 */
QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct qh_sock);
} socks SEC(".maps");

/* user stacks of allocations (--heap) and of fd opens (--fd-stacks) */
QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 127 * sizeof(__u64));
} stacks SEC(".maps");

QH_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QH_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* libbpf reads it from the kernel's config (/boot/config-$(uname -r), /proc/config.gz) */
extern unsigned int CONFIG_HZ __kconfig __weak;

/*
 * When a record was made, on the hot paths: jiffies, a load of a few ns, where
 * bpf_ktime_get_boot_ns() costs about 30 ns on the test VM (a fifth of what an fd probe's
 * work was). The loader turns stamps into boot ns (tracer__stamp_ns) from a pair of both clocks
 * read together (clock_sync): never earlier than the record, at most two ticks later.
 * Without a known CONFIG_HZ the stamp is boot ns itself.
 */
static __always_inline __u64 qh_stamp(void)
{
	if (CONFIG_HZ)
		return bpf_jiffies64();
	return bpf_ktime_get_boot_ns();
}

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *cnt = bpf_map_lookup_elem(&stats, &idx);

	if (cnt)
		*cnt += 1; /* per-CPU slot: no atomics needed */
}

#endif /* __MAPS_BPF_H */
