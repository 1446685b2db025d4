/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The fd table of a live process as /proc shows it: each fd's kind and target, sockets with
 * their addresses and TCP state (from /proc/PID/net, matched by inode, as lsof does).
 */
#ifndef __QH_FDTABLE_H
#define __QH_FDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

#include "qhtrace.h"

#define FD_TARGET_LEN 256

struct fd_info {
	int fd;
	uint32_t kind;		/* enum qh_fd_kind */
	uint64_t ino;		/* sockets, pipes: the inode /proc names */
	int tcp_state;		/* TCP_* for TCP sockets, 0 otherwise */
	char target[FD_TARGET_LEN]; /* path, "tcp 127.0.0.1:5000 -> 127.0.0.1:80", ... */
	char pattern[FD_TARGET_LEN]; /* what repeats when it leaks: path, remote port, ... */
};

struct fd_table {
	struct fd_info *v;
	size_t n;
	size_t unreadable;	/* fds whose link could not be read (not closed meanwhile) */
	int unreadable_err;	/* errno of the first of them (EACCES: no CAP_SYS_PTRACE) */
};

/*
 * Read /proc/PID/fd. 0, or -errno (-ENOENT: the process is gone). Fds whose link is refused
 * are counted in t->unreadable, not shown.
 */
int fdtable__read(pid_t pid, struct fd_table *t);
void fdtable__free(struct fd_table *t);
/* qsort/bsearch order of struct fd_info: by fd (fdtable__read sorts its table so) */
int fdtable__cmp_fd(const void *a, const void *b);
/* Open fds of @pid (a readdir of /proc/PID/fd), or -errno. */
int fdtable__count(pid_t pid);

/* The kind /proc/PID/fd/N's link names ("socket:[12]", "anon_inode:[eventfd]", a path). */
uint32_t fdtable__classify(const char *link, bool is_dir);
const char *fd_kind__str(uint32_t kind);
/* "ESTABLISHED", "CLOSE_WAIT", ... for a kernel TCP_* state */
const char *tcp_state__str(int state);

/*
 * One line of /proc/net/tcp or tcp6 (not the header): the socket's inode, state and
 * "addr:port" of both ends. 0, or -EINVAL.
 */
int fdtable__parse_tcp_line(const char *line, bool v6, uint64_t *ino, int *state, char *local,
			    char *remote, size_t len);

/*
 * A socket's description ("tcp 127.0.0.1:5000 -> 127.0.0.1:80") and what repeats when such
 * sockets pile up ("tcp -> 127.0.0.1:80"; "tcp 127.0.0.1:8080 <- *" when @served: accepted on
 * a listening port; "tcp listen ..."), from its /proc/net file's name, TCP state (0: UDP) and
 * ends as that file shows them.
 */
void fdtable__sock_names(const char *proto, int state, const char *local, const char *remote,
			 bool served, char *desc, char *pattern, size_t len);

/*
 * The target pattern of a run of fds a process held at its exit, as fdtable__read would have
 * made it from /proc while they were open (the path; the socket's end that repeats; the kind),
 * and @tcp_state (TCP_*, 0 for anything but a TCP socket /proc/net lists).
 */
void fdtable__exit_target(const struct qh_event_fd_exit *e, char *pattern, size_t len,
			  int *tcp_state);

/* syscall name of an x86-64 number the fd probes report, or "syscall N" */
const char *fd_syscall__str(uint32_t nr, char *buf, size_t len);

#endif
