// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd_syscalls.h"
#include "fdtable.h"
#include "vec.h"

const char *fd_kind__str(uint32_t kind)
{
	static const char *const names[QH_FD_NR_KIND] = {
		[QH_FD_UNKNOWN] = "unknown", [QH_FD_FILE] = "file",	    [QH_FD_DIR] = "dir",
		[QH_FD_SOCKET] = "socket",   [QH_FD_PIPE] = "pipe",	    [QH_FD_EVENTFD] = "eventfd",
		[QH_FD_EPOLL] = "epoll",     [QH_FD_TIMERFD] = "timerfd", [QH_FD_SIGNALFD] = "signalfd",
		[QH_FD_INOTIFY] = "inotify", [QH_FD_MEMFD] = "memfd",	    [QH_FD_PIDFD] = "pidfd",
		[QH_FD_ANON] = "anon_inode",
	};

	return kind < QH_FD_NR_KIND ? names[kind] : "unknown";
}

const char *tcp_state__str(int state)
{
	static const char *const names[] = {
		"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
		"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV",
	};

	return state > 0 && state < (int)(sizeof(names) / sizeof(names[0])) ? names[state] :
									      "UNKNOWN";
}

uint32_t fdtable__classify(const char *link, bool is_dir)
{
	static const struct {
		const char *name;
		uint32_t kind;
	} anon[] = {
		{ "[eventfd]", QH_FD_EVENTFD },	  { "[eventpoll]", QH_FD_EPOLL },
		{ "[timerfd]", QH_FD_TIMERFD },	  { "[signalfd]", QH_FD_SIGNALFD },
		{ "inotify", QH_FD_INOTIFY },	  { "[pidfd]", QH_FD_PIDFD },
	};
	size_t i;

	if (!strncmp(link, "socket:[", 8))
		return QH_FD_SOCKET;
	if (!strncmp(link, "pipe:[", 6))
		return QH_FD_PIPE;
	if (!strncmp(link, "pidfd:", 6))
		return QH_FD_PIDFD;
	if (!strncmp(link, "anon_inode:", 11)) {
		for (i = 0; i < sizeof(anon) / sizeof(anon[0]); i++)
			if (!strcmp(link + 11, anon[i].name))
				return anon[i].kind;
		return QH_FD_ANON;
	}
	if (!strncmp(link, "/memfd:", 7))
		return QH_FD_MEMFD;
	return is_dir ? QH_FD_DIR : QH_FD_FILE;
}

/* "0100007F:1F90" (v4) or 32 hex digits + ":port" (v6) as "127.0.0.1:8080" / "[::1]:8080" */
static int parse_endpoint(const char *s, bool v6, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned int port;
	uint32_t w[4];
	int i;

	if (!v6) {
		if (sscanf(s, "%8x:%x", &w[0], &port) != 2)
			return -EINVAL;
		/* the kernel prints the address word in host order */
		inet_ntop(AF_INET, &w[0], ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, port);
		return 0;
	}
	for (i = 0; i < 4; i++)
		if (sscanf(s + 8 * i, "%8x", &w[i]) != 1)
			return -EINVAL;
	if (s[32] != ':' || sscanf(s + 33, "%x", &port) != 1)
		return -EINVAL;
	inet_ntop(AF_INET6, w, ip, sizeof(ip));
	snprintf(out, len, "[%s]:%u", ip, port);
	return 0;
}

int fdtable__parse_tcp_line(const char *line, bool v6, uint64_t *ino, int *state, char *local,
			    char *remote, size_t len)
{
	char l[64], r[64];
	unsigned int st;
	unsigned long long inode;

	/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
	if (sscanf(line, " %*d: %63s %63s %x %*x:%*x %*x:%*x %*x %*u %*u %llu", l, r, &st,
		   &inode) != 4)
		return -EINVAL;
	if (parse_endpoint(l, v6, local, len) || parse_endpoint(r, v6, remote, len))
		return -EINVAL;
	*ino = inode;
	*state = st;
	return 0;
}

struct sock_row {
	uint64_t ino;
	int state;	/* TCP_*, or 0 for UDP */
	bool wanted;	/* a socket of the process */
	char proto[8];
	char local[64], remote[64];
	char desc[FD_TARGET_LEN];
	char pattern[FD_TARGET_LEN];
};

struct sock_rows {
	struct sock_row *v;
	size_t n, cap;
};

static void add_rows(pid_t pid, const char *file, bool v6, bool tcp, struct sock_rows *rows,
		     const uint64_t *want, size_t nwant)
{
	char path[64], line[512], local[64], remote[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/net/%s", (int)pid, file);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		struct sock_row *r;
		uint64_t ino;
		int st;
		size_t i;

		if (fdtable__parse_tcp_line(line, v6, &ino, &st, local, remote, sizeof(local)))
			continue;
		for (i = 0; i < nwant && want[i] != ino; i++)
			;
		/* listeners of the namespace name the served side of accepted connections */
		if (i == nwant && !(tcp && st == 10))
			continue;
		r = vec_push(rows->v, rows->n, rows->cap);
		if (!r)
			break;
		r->ino = ino;
		r->wanted = i < nwant;
		r->state = tcp ? st : 0;
		snprintf(r->proto, sizeof(r->proto), "%s", file);
		memcpy(r->local, local, sizeof(local));
		memcpy(r->remote, remote, sizeof(remote));
	}
	fclose(f);
}

static const char *port_of(const char *ep)
{
	const char *c = strrchr(ep, ':');

	return c ? c + 1 : "";
}

void fdtable__sock_names(const char *proto, int state, const char *local, const char *remote,
			 bool served, char *desc, char *pattern, size_t len)
{
	if (state == 10) { /* TCP_LISTEN */
		snprintf(desc, len, "%s listen %s", proto, local);
		snprintf(pattern, len, "%s listen %s", proto, local);
		return;
	}
	if (!strcmp(remote, "0.0.0.0:0") || !strcmp(remote, "[::]:0")) {
		snprintf(desc, len, "%s %s", proto, local);
		snprintf(pattern, len, "%s %s", proto, local);
		return;
	}
	snprintf(desc, len, "%s %s -> %s", proto, local, remote);
	if (served)
		snprintf(pattern, len, "%s %s <- *", proto, local);
	else
		snprintf(pattern, len, "%s -> %s", proto, remote);
}

/*
 * What a socket is, and what repeats when sockets of one kind pile up: a listener by its
 * address; a connection to a service by the service's address (its own port differs each
 * time); a connection accepted on a listening port by that port.
 */
static void describe_rows(struct sock_rows *rows)
{
	size_t i, j;

	for (i = 0; i < rows->n; i++) {
		struct sock_row *r = &rows->v[i];
		bool served = false;

		if (!r->wanted)
			continue;
		for (j = 0; j < rows->n && !served; j++)
			served = rows->v[j].state == 10 && r->state &&
				 !strcmp(port_of(rows->v[j].local), port_of(r->local));
		fdtable__sock_names(r->proto, r->state, r->local, r->remote, served, r->desc,
				    r->pattern, sizeof(r->pattern));
	}
}

/* "127.0.0.1:8080" or "[::1]:8080" from an address in network order, as /proc/net names it */
static void endpoint(bool v6, const uint8_t *addr, unsigned int port, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(v6 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip));
	snprintf(out, len, v6 ? "[%s]:%u" : "%s:%u", ip, port);
}

void fdtable__exit_target(const struct qh_event_fd_exit *e, char *pattern, size_t len,
			  int *tcp_state)
{
	char local[64], remote[64], desc[FD_TARGET_LEN], proto[8];
	size_t end, start, n = 0;

	*tcp_state = 0;
	if (e->kind == QH_FD_SOCKET && (e->flags & QH_FDX_INET)) {
		snprintf(proto, sizeof(proto), "%s%s", e->flags & QH_FDX_UDP ? "udp" : "tcp",
			 e->flags & QH_FDX_V6 ? "6" : "");
		endpoint(e->flags & QH_FDX_V6, e->laddr, e->lport, local, sizeof(local));
		endpoint(e->flags & QH_FDX_V6, e->raddr, e->rport, remote, sizeof(remote));
		/* the kernel kept the peer of an accepted connection out of the group: "*" */
		fdtable__sock_names(proto, e->state, local,
				    e->flags & QH_FDX_ACCEPTED ? "*" : remote,
				    e->flags & QH_FDX_ACCEPTED, desc, pattern, len);
		if (!(e->flags & QH_FDX_UDP))
			*tcp_state = e->state;
		return;
	}
	if (e->kind == QH_FD_SOCKET) {
		snprintf(pattern, len, "socket"); /* as for a socket /proc/net does not list */
		return;
	}
	if (e->kind != QH_FD_FILE && e->kind != QH_FD_DIR && e->kind != QH_FD_MEMFD) {
		snprintf(pattern, len, "%s", fd_kind__str(e->kind));
		return;
	}
	/* the components come the file's own name first: "/" and each from the last */
	end = e->path_len < sizeof(e->path) ? e->path_len : sizeof(e->path);
	if (e->flags & QH_FDX_PATH_CUT)
		n += snprintf(pattern, len, "...");
	while (end > 0 && n < len) {
		start = end - 1; /* at the NUL ending the last component */
		while (start > 0 && e->path[start - 1])
			start--;
		n += snprintf(pattern + n, len - n, "/%.*s", (int)(end - 1 - start),
			      (const char *)e->path + start);
		end = start;
	}
	if (n == 0 && len)
		n = snprintf(pattern, len, "/");
	if (n < len && (e->flags & QH_FDX_DELETED))
		snprintf(pattern + n, len - n, " (deleted)");
}

/* copy, cut to fit */
static void set_str(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

int fdtable__cmp_fd(const void *a, const void *b)
{
	const struct fd_info *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

int fdtable__read(pid_t pid, struct fd_table *t)
{
	char dir[64], path[96], link[PATH_MAX];
	struct sock_rows rows = {};
	uint64_t *socks = NULL;
	size_t nsocks = 0, socks_cap = 0, cap = 0, i, j;
	struct dirent *de;
	DIR *d;

	memset(t, 0, sizeof(*t));
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		struct fd_info *fi;
		struct stat st;
		ssize_t n;
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (de->d_name[0] == '.' || *end)
			continue;
		snprintf(path, sizeof(path), "%s/%ld", dir, fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0) {
			/* ENOENT: closed since the readdir; anything else hides an open fd */
			if (errno != ENOENT && !t->unreadable++)
				t->unreadable_err = errno;
			continue;
		}
		link[n] = '\0';
		fi = vec_push(t->v, t->n, cap);
		if (!fi)
			break;
		fi->fd = fd;
		fi->kind = fdtable__classify(link, link[0] == '/' && !stat(path, &st) &&
							   S_ISDIR(st.st_mode));
		set_str(fi->target, sizeof(fi->target), link);
		if (fi->kind == QH_FD_SOCKET || fi->kind == QH_FD_PIPE)
			fi->ino = strtoull(strchr(link, '[') + 1, NULL, 10);
		/* what repeats: the path; for pipes and anonymous inodes, the kind */
		if (fi->kind == QH_FD_FILE || fi->kind == QH_FD_DIR || fi->kind == QH_FD_MEMFD)
			set_str(fi->pattern, sizeof(fi->pattern), link);
		else
			set_str(fi->pattern, sizeof(fi->pattern), fd_kind__str(fi->kind));
		if (fi->kind == QH_FD_SOCKET) {
			uint64_t *s = vec_push(socks, nsocks, socks_cap);

			if (s)
				*s = fi->ino;
		}
	}
	closedir(d);
	if (t->n) /* qsort's array may not be NULL, even empty */
		qsort(t->v, t->n, sizeof(*t->v), fdtable__cmp_fd);
	if (nsocks) {
		add_rows(pid, "tcp", false, true, &rows, socks, nsocks);
		add_rows(pid, "tcp6", true, true, &rows, socks, nsocks);
		add_rows(pid, "udp", false, false, &rows, socks, nsocks);
		add_rows(pid, "udp6", true, false, &rows, socks, nsocks);
		describe_rows(&rows);
		for (i = 0; i < t->n; i++) {
			if (t->v[i].kind != QH_FD_SOCKET)
				continue;
			for (j = 0; j < rows.n && (!rows.v[j].wanted || rows.v[j].ino != t->v[i].ino);
			     j++)
				;
			if (j == rows.n) {
				snprintf(t->v[i].pattern, sizeof(t->v[i].pattern), "socket");
				continue;
			}
			t->v[i].tcp_state = rows.v[j].state;
			memcpy(t->v[i].target, rows.v[j].desc, sizeof(t->v[i].target));
			memcpy(t->v[i].pattern, rows.v[j].pattern, sizeof(t->v[i].pattern));
		}
	}
	free(rows.v);
	free(socks);
	return 0;
}

void fdtable__free(struct fd_table *t)
{
	if (!t)
		return;
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

int fdtable__count(pid_t pid)
{
	char dir[64];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

const char *fd_syscall__str(uint32_t nr, char *buf, size_t len)
{
	static const struct {
		uint32_t nr;
		const char *name;
	} names[] = {
#define FD_NAME(name, body) { SYS_##name, #name },
#ifdef SYS_open /* the generic syscall table (arm64, riscv) has none of the legacy calls */
		QH_FD_SYSCALLS_LEGACY(FD_NAME)
#endif
		QH_FD_SYSCALLS_COMMON(FD_NAME)
#undef FD_NAME
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].nr == nr)
			return names[i].name;
	snprintf(buf, len, "syscall %u", nr);
	return buf;
}
