// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"
#include "proctree.h"
#include "syms.h"

struct proctree {
	struct htab by_pid;
	size_t count;
	struct proc *head, *tail;
	uint64_t events;
	uint64_t orphan_events;
	uint64_t bad_events;
};

/* every process of the model with @pid: @p walks them, newest first */
#define for_each_pid(t, pid, p)                                                             \
	for (struct hnode *n__ = htab__first(&(t)->by_pid, htab__mix(pid));                 \
	     n__ && ((p) = htab_entry(n__, struct proc, hnode)); n__ = htab__next(n__))

struct proctree *proctree__new(void)
{
	struct proctree *t = calloc(1, sizeof(*t));

	return t;
}

void proctree__free(struct proctree *t)
{
	struct proc *p, *n;

	if (!t)
		return;
	for (p = t->head; p; p = n) {
		n = p->next;
		free(p->exe);
		syms_maps__free(p->maps);
		free(p);
	}
	htab__free(&t->by_pid);
	free(t);
}

struct proc *proctree__find(struct proctree *t, uint32_t pid, uint64_t start_ns)
{
	struct proc *p;

	for_each_pid(t, pid, p)
		if (p->pid == pid && (p->seeded ? procfs__same_start(p->start_ns, start_ns) :
						  p->start_ns == start_ns))
			return p;
	return NULL;
}

struct proc *proctree__add(struct proctree *t, uint32_t pid, uint64_t start_ns)
{
	struct proc *p = proctree__find(t, pid, start_ns);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->start_ns = start_ns;
	p->state = PROC_RUNNING;
	if (htab__add(&t->by_pid, &p->hnode, htab__mix(pid))) {
		free(p);
		return NULL;
	}
	if (t->tail)
		t->tail->next = p;
	else
		t->head = p;
	t->tail = p;
	t->count++;
	return p;
}

size_t proctree__remove_if(struct proctree *t, bool (*pred)(void *ctx, struct proc *p), void *ctx)
{
	struct proc *p, *prev = NULL, *next;
	size_t n = 0;

	for (p = t->head; p; p = next) {
		next = p->next;
		if (!pred(ctx, p)) {
			prev = p;
			continue;
		}
		if (prev)
			prev->next = next;
		else
			t->head = next;
		if (t->tail == p)
			t->tail = prev;
		htab__del(&t->by_pid, &p->hnode);
		t->count--;
		free(p->exe);
		syms_maps__free(p->maps);
		free(p);
		n++;
	}
	return n;
}

struct proc *proctree__find_running(struct proctree *t, uint32_t pid)
{
	struct proc *p;

	for_each_pid(t, pid, p)
		if (p->pid == pid && p->state == PROC_RUNNING)
			return p;
	return NULL;
}

struct proc *proctree__find_gen(struct proctree *t, uint32_t pid, uint32_t gen)
{
	struct proc *p;

	for_each_pid(t, pid, p)
		if (p->pid == pid && p->stats.heap_gen == gen)
			return p;
	return NULL;
}

bool proctree__is_dead_gen(struct proctree *t, uint32_t pid, uint32_t gen)
{
	struct proc *p;
	uint32_t i;

	for_each_pid(t, pid, p)
		for (i = 0; p->pid == pid && i < 4 && i < p->ndead_gens; i++)
			if (p->dead_gens[i] == gen)
				return true;
	return false;
}

void proctree__set_maps(struct proc *p, struct syms_maps *m)
{
	syms_maps__free(p->maps);
	p->maps = m;
}

int proctree__set_exe(struct proc *p, const char *exe)
{
	char *s = strdup(exe);

	if (!s)
		return -ENOMEM;
	free(p->exe);
	p->exe = s;
	return 0;
}

static void set_comm(struct proc *p, const __u8 *comm)
{
	memcpy(p->comm, comm, sizeof(p->comm));
	p->comm[sizeof(p->comm) - 1] = '\0';
}

/*
 * The process a record is about. A record for a process we never heard of means its fork
 * record was lost: it is added now, so that nothing the kernel counted is dropped.
 */
static struct proc *subject(struct proctree *t, const struct qh_event_hdr *h)
{
	struct proc *p = proctree__find(t, h->pid, h->start_ns);

	if (p) {
		/* the kernel's start time is exact, /proc's is to the tick */
		if (p->seeded) {
			p->start_ns = h->start_ns;
			p->seeded = false;
		}
		return p;
	}
	t->orphan_events++;
	return proctree__add(t, h->pid, h->start_ns);
}

static void on_fork(struct proctree *t, const struct qh_event_fork *e)
{
	struct proc *p = proctree__find(t, e->hdr.pid, e->hdr.start_ns), *parent;

	if (!p)
		p = proctree__add(t, e->hdr.pid, e->hdr.start_ns);
	if (!p)
		return;
	p->ppid = e->proc.ppid;
	p->stats = e->proc;
	set_comm(p, e->comm);
	/* until it execs, a child runs its parent's program */
	parent = proctree__find_running(t, p->ppid);
	if (parent && parent != p && parent->exe && !p->exe)
		proctree__set_exe(p, parent->exe);
}

static void on_exec(struct proctree *t, const struct qh_event_exec *e)
{
	struct proc *p = subject(t, &e->hdr);
	char name[QH_FILENAME_LEN + 1];

	if (!p)
		return;
	set_comm(p, e->comm);
	memcpy(name, e->filename, QH_FILENAME_LEN);
	name[QH_FILENAME_LEN] = '\0';
	proctree__set_exe(p, name);
	if (p->stats.heap_gen != e->heap_gen)
		p->dead_gens[p->ndead_gens++ % 4] = p->stats.heap_gen;
	p->stats.heap_gen = e->heap_gen;
	/* counters restart with the new program; the exit record brings the final ones */
	p->stats.heap_bytes = 0;
	p->stats.mmap_anon_bytes = 0;
	p->stats.mmap_file_bytes = 0;
}

static void on_exit_(struct proctree *t, const struct qh_event_exit *e)
{
	struct proc *p = subject(t, &e->hdr);

	if (!p)
		return;
	p->stats = e->proc;
	p->ppid = e->proc.ppid;
	set_comm(p, e->comm);
	p->end_ns = e->hdr.ts_ns;
	p->exit_status = e->proc.exit_status;
	p->has_exit = true;
	if (p->state == PROC_RUNNING)
		p->state = PROC_EXITED;
}

static void on_reap(struct proctree *t, const struct qh_event_reap *e)
{
	struct proc *p = subject(t, &e->hdr);

	if (!p)
		return;
	p->reap_ns = e->hdr.ts_ns;
	p->state = PROC_REAPED;
}

int proctree__handle_event(void *ctx, void *data, size_t size)
{
	struct proctree *t = ctx;
	const struct qh_event_hdr *h = data;

	t->events++;
	if (size < sizeof(*h)) {
		t->bad_events++;
		return 0;
	}
	switch (h->type) {
	case QH_EV_FORK:
		if (size >= sizeof(struct qh_event_fork))
			on_fork(t, data);
		else
			t->bad_events++;
		break;
	case QH_EV_EXEC:
		if (size >= sizeof(struct qh_event_exec))
			on_exec(t, data);
		else
			t->bad_events++;
		break;
	case QH_EV_EXIT:
		if (size >= sizeof(struct qh_event_exit))
			on_exit_(t, data);
		else
			t->bad_events++;
		break;
	case QH_EV_REAP:
		on_reap(t, data);
		break;
	case QH_EV_LIBC:
	case QH_EV_LIBC_NEW:
		/* nothing for the model: the loader snapshots the mappings, probes the library */
		break;
	case QH_EV_JOB_ENV:
		/* nothing for the model: the monitor's jobs (cmd_monitor.c) */
		break;
	case QH_EV_FD_EXIT:
		/* nothing for the model: open_at_exit findings (session.c) */
		if (size < sizeof(struct qh_event_fd_exit))
			t->bad_events++;
		break;
	case QH_EV_MAP_EXEC:
		/* nothing for the model: the loader builds the file's unwind table */
		break;
	default:
		t->bad_events++;
	}
	return 0;
}

struct proc *proctree__first(struct proctree *t)
{
	return t->head;
}

size_t proctree__count(const struct proctree *t)
{
	return t->count;
}

uint64_t proctree__events(const struct proctree *t)
{
	return t->events;
}

uint64_t proctree__orphan_events(const struct proctree *t)
{
	return t->orphan_events;
}

uint64_t proctree__bad_events(const struct proctree *t)
{
	return t->bad_events;
}

const char *proc_state__str(enum proc_state s)
{
	switch (s) {
	case PROC_RUNNING:
		return "running";
	case PROC_EXITED:
		return "exited";
	case PROC_ZOMBIE:
		return "zombie";
	case PROC_REAPED:
		return "reaped";
	}
	return "unknown";
}
