// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "ctlproto.h"
#include "ctlsrv.h"
#include "log.h"
#include "util.h"
#include "vec.h"

struct ctl_client {
	int fd;
	struct ctl_peer peer;
	char in[QH_CTL_MAX_LINE + 1];	/* a line being read (newline included) */
	size_t nin;
	bool skipping;			/* an overlong line's rest is being discarded */
	char *out;			/* replies not yet written */
	size_t nout, cap_out;
	bool want_out;			/* EPOLLOUT is asked for */
};

struct ctlsrv {
	int lfd, efd;
	uid_t uid;
	ctlsrv_fn fn;
	void *ctx;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1]; /* QHTRACE_SOCKET's value */
	bool unlink;	/* a socket file of ours: removed at close */
	struct ctl_client *clients[QH_CTL_MAX_CLIENTS];
	uint64_t answered, refused;
};

static void drop(struct ctlsrv *s, struct ctl_client *c)
{
	size_t i;

	for (i = 0; i < QH_CTL_MAX_CLIENTS; i++)
		if (s->clients[i] == c)
			s->clients[i] = NULL;
	epoll_ctl(s->efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
}

static struct ctlsrv *srv_new(uid_t uid, ctlsrv_fn fn, void *ctx, int *err)
{
	struct ctlsrv *s = calloc(1, sizeof(*s));

	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	s->lfd = s->efd = -1;
	s->uid = uid;
	s->fn = fn;
	s->ctx = ctx;
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->efd = epoll_create1(EPOLL_CLOEXEC);
	if (s->lfd < 0 || s->efd < 0) {
		*err = -errno;
		pr_err("control socket: %s\n", strerror(-*err));
		ctlsrv__close(s);
		return NULL;
	}
	return s;
}

/* listen on the bound socket, watched by the epoll; 0 or -errno (printed) */
static int srv_listen(struct ctlsrv *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	int err;

	if (listen(s->lfd, 64) || epoll_ctl(s->efd, EPOLL_CTL_ADD, s->lfd, &ev)) {
		err = -errno;
		pr_err("control socket %s: %s\n", s->path, strerror(-err));
		return err;
	}
	return 0;
}

int ctlsrv__open(struct ctlsrv **out, uid_t uid, ctlsrv_fn fn, void *ctx)
{
	struct sockaddr_un a;
	unsigned int alen;
	uint32_t rnd;
	struct ctlsrv *s;
	int err, i;

	*out = NULL;
	s = srv_new(uid, fn, ctx, &err);
	if (!s)
		return err;
	/*
	 * An abstract name: no file for a killed qhtrace to leave behind, and no directory to
	 * guard. Anyone may connect; accept() lets in only @uid and root (SO_PEERCRED). A random
	 * part keeps another user from taking the name first (bind then fails: try another).
	 */
	for (i = 0, err = -EADDRINUSE; i < 16 && err == -EADDRINUSE; i++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint32_t)util__now_ns(CLOCK_MONOTONIC) ^ (uint32_t)i << 24;
		snprintf(s->path, sizeof(s->path), "@qhtrace-%d-%08x", (int)getpid(), rnd);
		err = ctl__sockaddr(s->path, &a, &alen);
		if (!err && bind(s->lfd, (struct sockaddr *)&a, alen))
			err = -errno;
	}
	if (err) {
		pr_err("control socket %s: %s\n", s->path, strerror(-err));
		s->path[0] = '\0';
		goto fail;
	}
	err = srv_listen(s);
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	ctlsrv__close(s);
	return err;
}

/*
 * Is a server listening on the socket file @a? A file that nothing listens on is what a
 * killed qhtrace left behind.
 */
static bool listened(const struct sockaddr_un *a, unsigned int alen)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool yes;

	if (fd < 0)
		return true;
	yes = !connect(fd, (const struct sockaddr *)a, alen) || errno != ECONNREFUSED;
	close(fd);
	return yes;
}

int ctlsrv__open_at(struct ctlsrv **out, const char *addr, uid_t uid, ctlsrv_fn fn, void *ctx)
{
	struct sockaddr_un a;
	unsigned int alen;
	struct ctlsrv *s;
	struct stat st;
	mode_t old;
	int err;

	*out = NULL;
	err = ctl__sockaddr(addr, &a, &alen);
	if (err || strlen(addr) >= sizeof(s->path)) {
		pr_err("control socket %s: %s\n", addr, strerror(err ? -err : ENAMETOOLONG));
		return err ? err : -ENAMETOOLONG;
	}
	s = srv_new(uid, fn, ctx, &err);
	if (!s)
		return err;
	snprintf(s->path, sizeof(s->path), "%s", addr);
	if (addr[0] != '@' && !lstat(addr, &st)) {
		if (!S_ISSOCK(st.st_mode) || listened(&a, alen)) {
			err = S_ISSOCK(st.st_mode) ? -EADDRINUSE : -EEXIST;
			pr_err("control socket %s: %s\n", addr,
			       S_ISSOCK(st.st_mode) ? "another qhtrace listens on it"
						    : "a file that is not a socket is in the way");
			s->path[0] = '\0';
			goto fail;
		}
		unlink(addr);
	}
	/* the file is ours alone from the start (connect needs write permission on it) */
	old = umask(0177);
	err = bind(s->lfd, (struct sockaddr *)&a, alen) ? -errno : 0;
	umask(old);
	if (err) {
		pr_err("control socket %s: %s\n", addr, strerror(-err));
		s->path[0] = '\0';
		goto fail;
	}
	s->unlink = addr[0] != '@';
	err = srv_listen(s);
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	ctlsrv__close(s);
	return err;
}

const char *ctlsrv__path(const struct ctlsrv *s)
{
	return s->path;
}

int ctlsrv__fd(const struct ctlsrv *s)
{
	return s->efd;
}

void ctlsrv__counts(const struct ctlsrv *s, uint64_t *answered, uint64_t *refused)
{
	*answered = s ? s->answered : 0;
	*refused = s ? s->refused : 0;
}

static void want_out(struct ctlsrv *s, struct ctl_client *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };

	if (c->want_out != on && !epoll_ctl(s->efd, EPOLL_CTL_MOD, c->fd, &ev))
		c->want_out = on;
}

/* Write what is pending; false when the client is gone or dropped. */
static bool flush(struct ctlsrv *s, struct ctl_client *c)
{
	while (c->nout) {
		ssize_t n = send(c->fd, c->out, c->nout, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			drop(s, c);
			return false;
		}
		memmove(c->out, c->out + n, c->nout - n);
		c->nout -= n;
	}
	if (c->nout > QH_CTL_MAX_PENDING) {
		/* it sends and never reads: it must not make us hold its replies forever */
		s->refused++;
		drop(s, c);
		return false;
	}
	want_out(s, c, c->nout > 0);
	return true;
}

static void queue(struct ctl_client *c, const char *text)
{
	size_t n = strlen(text);

	if (vec_reserve(c->out, c->cap_out, c->nout + n + 1))
		return;
	memcpy(c->out + c->nout, text, n);
	c->out[c->nout + n] = '\n';
	c->nout += n + 1;
}

static void reply_error(struct ctlsrv *s, struct ctl_client *c, const char *id, const char *why)
{
	cJSON *o = cJSON_CreateObject();
	char *t;

	s->refused++;
	if (!o)
		return;
	cJSON_AddBoolToObject(o, "ok", false);
	cJSON_AddStringToObject(o, "error", why);
	if (id && *id)
		cJSON_AddRawToObject(o, "id", id);
	t = cJSON_PrintUnformatted(o);
	if (t)
		queue(c, t);
	cJSON_free(t);
	cJSON_Delete(o);
}

static void answer(struct ctlsrv *s, struct ctl_client *c, const char *line, size_t len)
{
	struct ctl_req r;
	char why[160], *t;
	cJSON *o;
	int err;

	if (ctlproto__parse(line, len, &r, why, sizeof(why))) {
		reply_error(s, c, NULL, why);
		return;
	}
	/* "ok" first, so a reader sees it at once; the handler adds the rest */
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddTrueToObject(o, "ok")) {
		cJSON_Delete(o);
		reply_error(s, c, r.id, "out of memory");
		return;
	}
	err = s->fn(s->ctx, &r, &c->peer, o);
	if (err) {
		cJSON_ReplaceItemInObjectCaseSensitive(o, "ok", cJSON_CreateFalse());
		if (!cJSON_HasObjectItem(o, "error"))
			cJSON_AddStringToObject(o, "error", strerror(-err));
		s->refused++;
	} else {
		s->answered++;
	}
	if (*r.id)
		cJSON_AddRawToObject(o, "id", r.id);
	t = cJSON_PrintUnformatted(o);
	if (t)
		queue(c, t);
	cJSON_free(t);
	cJSON_Delete(o);
}

/* Read what the client sent and answer each whole line; false when it is gone. */
static bool on_input(struct ctlsrv *s, struct ctl_client *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->in + c->nin, sizeof(c->in) - c->nin, MSG_DONTWAIT);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return flush(s, c);
		if (n <= 0) {
			/* EOF or reset: what it sent whole was answered; its replies go nowhere */
			drop(s, c);
			return false;
		}
		c->nin += n;
		while ((nl = memchr(c->in, '\n', c->nin))) {
			size_t len = nl - c->in;

			if (c->skipping)
				c->skipping = false;
			else if (len)
				answer(s, c, c->in, len);
			memmove(c->in, nl + 1, c->nin - len - 1);
			c->nin -= len + 1;
		}
		if (c->nin == sizeof(c->in)) {
			/* no newline in QH_CTL_MAX_LINE + 1 bytes: refused, the rest discarded */
			if (!c->skipping)
				reply_error(s, c, NULL, "request longer than 8192 bytes: refused");
			c->skipping = true;
			c->nin = 0;
		}
		if (!flush(s, c))
			return false;
	}
}

static void on_accept(struct ctlsrv *s)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct ucred cr;
		socklen_t len = sizeof(cr);
		struct ctl_client *c;
		size_t i;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) ||
		    (cr.uid != s->uid && cr.uid != 0)) {
			s->refused++;
			close(fd);
			continue;
		}
		for (i = 0; i < QH_CTL_MAX_CLIENTS && s->clients[i]; i++)
			;
		c = i < QH_CTL_MAX_CLIENTS ? calloc(1, sizeof(*c)) : NULL;
		if (!c) {
			s->refused++;
			close(fd);
			continue;
		}
		c->fd = fd;
		c->peer.pid = cr.pid;
		c->peer.uid = cr.uid;
		ev.data.ptr = c;
		if (epoll_ctl(s->efd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			free(c);
			continue;
		}
		s->clients[i] = c;
	}
}

void ctlsrv__process(struct ctlsrv *s)
{
	struct epoll_event evs[16];
	int i, n;

	if (!s)
		return;
	n = epoll_wait(s->efd, evs, 16, 0);
	for (i = 0; i < n; i++) {
		struct ctl_client *c = evs[i].data.ptr;

		if (!c) {
			on_accept(s);
			continue;
		}
		/* a client dropped earlier in this batch has been freed: look it up */
		{
			size_t k;

			for (k = 0; k < QH_CTL_MAX_CLIENTS && s->clients[k] != c; k++)
				;
			if (k == QH_CTL_MAX_CLIENTS)
				continue;
		}
		if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			if (!on_input(s, c))
				continue;
		}
		if (evs[i].events & EPOLLOUT)
			flush(s, c);
	}
}

void ctlsrv__close(struct ctlsrv *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < QH_CTL_MAX_CLIENTS; i++)
		if (s->clients[i])
			drop(s, s->clients[i]);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->unlink)
		unlink(s->path);
	if (s->efd >= 0)
		close(s->efd);
	free(s);
}
