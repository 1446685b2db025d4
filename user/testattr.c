// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "fdsync.h"
#include "heapcollect.h"
#include "htab.h"
#include "proctree.h"
#include "severity.h"
#include "testattr.h"
#include "util.h"
#include "vec.h"

/* sections kept at most (a client cannot make us grow without bound) */
#define TA_MAX_SECTIONS 1000000
/* sections open at once in one process */
#define TA_MAX_DEPTH 64
/*
 * Two records of two walks of a map are the same when their stamps, converted at each walk,
 * differ by less than this (two ticks at HZ=100, with room), and a record stamped within it
 * of a test's end may be a record of the next test's first moments.
 */
#define TA_STAMP_SLACK_NS (25 * 1000000ULL)

/* a record (fd or heap block) as two walks of its map name it */
struct ta_key {
	uint32_t tgid;
	uint32_t b;	/* fd, or heap generation */
	uint64_t addr;	/* heap blocks */
	uint64_t ts_ns;
};

struct ta_proc {
	const struct proc *p;
	int32_t owner;			/* the section it was started during, -1: none */
	int32_t *stack;			/* its open sections, innermost last */
	size_t nstack, cap_stack;
	int32_t env_test;		/* the test its children named last (PYTEST_CURRENT_TEST) */
	bool client;			/* a `qhtrace mark` talking to us: nobody's doing */
	bool have_recent;		/* recent_* were taken (at a test's begin or end) */
	/* records of the test that ended last in it, made in the last moments before the end */
	struct ta_key *recent_fd, *recent_blk;
	size_t nrecent_fd, cap_recent_fd, nrecent_blk, cap_recent_blk;
	struct hnode by_ptr;
	struct hnode by_pid;
	struct ta_proc *next;
};

/* a heap block a test left live at its end */
struct ta_blk {
	struct ta_key k;
	int32_t test;
	bool seen_at_exit;
	struct hnode hnode;
	struct ta_blk *next;
};

struct testattr {
	uint64_t grace_ns;
	uint64_t fd_threshold;	/* the fd findings' severity scale */
	struct test_run *tests;
	size_t n, cap;
	int32_t last_ended;
	struct htab procs_by_ptr, procs_by_pid;
	struct ta_proc *procs;
	struct htab blks;
	struct ta_blk *blk_list;
};

struct testattr *testattr__new(uint64_t grace_ns, uint64_t fd_threshold)
{
	struct testattr *ta = calloc(1, sizeof(*ta));

	if (ta) {
		ta->grace_ns = grace_ns;
		ta->fd_threshold = fd_threshold ? fd_threshold : 1;
		ta->last_ended = -1;
	}
	return ta;
}

void testattr__free(struct testattr *ta)
{
	struct ta_proc *tp, *ntp;
	struct ta_blk *b, *nb;
	size_t i;

	if (!ta)
		return;
	for (i = 0; i < ta->n; i++) {
		free(ta->tests[i].name);
		free(ta->tests[i].fds);
	}
	free(ta->tests);
	for (tp = ta->procs; tp; tp = ntp) {
		ntp = tp->next;
		free(tp->stack);
		free(tp->recent_fd);
		free(tp->recent_blk);
		free(tp);
	}
	for (b = ta->blk_list; b; b = nb) {
		nb = b->next;
		free(b);
	}
	htab__free(&ta->procs_by_ptr);
	htab__free(&ta->procs_by_pid);
	htab__free(&ta->blks);
	free(ta);
}

static struct ta_proc *find_proc(const struct testattr *ta, const struct proc *p)
{
	struct hnode *n;

	if (!p)
		return NULL;
	for (n = htab__first(&ta->procs_by_ptr, htab__mix((uintptr_t)p)); n; n = htab__next(n)) {
		struct ta_proc *tp = htab_entry(n, struct ta_proc, by_ptr);

		if (tp->p == p)
			return tp;
	}
	return NULL;
}

static struct ta_proc *get_proc(struct testattr *ta, const struct proc *p)
{
	struct ta_proc *tp = find_proc(ta, p);

	if (tp || !p)
		return tp;
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return NULL;
	tp->p = p;
	tp->owner = -1;
	tp->env_test = -1;
	if (htab__add(&ta->procs_by_ptr, &tp->by_ptr, htab__mix((uintptr_t)p)) ||
	    htab__add(&ta->procs_by_pid, &tp->by_pid, htab__mix(p->pid))) {
		free(tp);
		return NULL;
	}
	tp->next = ta->procs;
	ta->procs = tp;
	return tp;
}

/* the open section of @tp named @name, or -1 */
static int32_t open_section(const struct testattr *ta, const struct ta_proc *tp,
			    const char *name)
{
	size_t i;

	for (i = tp ? tp->nstack : 0; i-- > 0;)
		if (!strcmp(ta->tests[tp->stack[i]].name, name))
			return tp->stack[i];
	return -1;
}

static int32_t new_section(struct testattr *ta, struct ta_proc *tp, const char *name,
			   bool fixture, uint64_t now, int64_t rss_kb)
{
	struct test_run *t;
	char *dup;
	size_t i;

	if (ta->n >= TA_MAX_SECTIONS)
		return -E2BIG;
	dup = strdup(name);
	if (!dup)
		return -ENOMEM;
	/* a name from a process's environment is shown on terminals: no control characters */
	for (i = 0; dup[i]; i++)
		if ((unsigned char)dup[i] < 0x20 || dup[i] == 0x7f)
			dup[i] = '?';
	t = vec_push(ta->tests, ta->n, ta->cap);
	if (!t) {
		free(dup);
		return -ENOMEM;
	}
	t->idx = ta->n - 1;
	t->name = dup;
	t->fixture = fixture;
	t->proc = tp ? tp->p : NULL;
	t->begin_ns = now;
	t->rss_begin_kb = rss_kb;
	t->rss_end_kb = -1;
	return t->idx;
}

static void pop_section(struct ta_proc *tp, int32_t idx)
{
	size_t i;

	for (i = 0; i < tp->nstack; i++)
		if (tp->stack[i] == idx) {
			memmove(&tp->stack[i], &tp->stack[i + 1],
				(tp->nstack - i - 1) * sizeof(tp->stack[0]));
			tp->nstack--;
			return;
		}
}

int testattr__mark(struct testattr *ta, const struct ctl_req *r, const struct proc *p,
		   uint64_t now, int64_t rss_kb, char *why, size_t wlen)
{
	struct ta_proc *tp = get_proc(ta, p);
	int32_t idx;
	struct test_run *t;

	ta->last_ended = -1;
	if (!tp) {
		snprintf(why, wlen, "out of memory");
		return -ENOMEM;
	}
	idx = open_section(ta, tp, r->name);
	if (r->event == CTL_BEGIN) {
		if (idx >= 0 && r->phase == CTL_PHASE_NONE) {
			snprintf(why, wlen, "section already open in pid %u", p->pid);
			return -EINVAL;
		}
		if (idx < 0) {
			int32_t *slot;

			if (tp->nstack >= TA_MAX_DEPTH) {
				snprintf(why, wlen, "more than %d sections open in pid %u",
					 TA_MAX_DEPTH, p->pid);
				return -EINVAL;
			}
			idx = new_section(ta, tp, r->name, r->fixture, now, rss_kb);
			if (idx < 0) {
				snprintf(why, wlen, "%s", idx == -E2BIG ? "too many sections" :
									  "out of memory");
				return idx;
			}
			slot = vec_push(tp->stack, tp->nstack, tp->cap_stack);
			if (!slot) {
				snprintf(why, wlen, "out of memory");
				return -ENOMEM;
			}
			*slot = idx;
		}
		if (r->phase != CTL_PHASE_NONE)
			ta->tests[idx].phase_begin[r->phase] = now;
		return idx;
	}
	if (idx < 0) {
		snprintf(why, wlen, "no section of that name is open in pid %u", p->pid);
		return -EINVAL;
	}
	t = &ta->tests[idx];
	if (r->outcome[0])
		snprintf(t->outcome, sizeof(t->outcome), "%s", r->outcome);
	if (r->phase != CTL_PHASE_NONE) {
		t->phase_end[r->phase] = now;
		return idx;
	}
	t->end_ns = now;
	t->rss_end_kb = rss_kb;
	pop_section(tp, idx);
	ta->last_ended = idx;
	return idx;
}

bool testattr__needs_begin(const struct testattr *ta, int32_t idx)
{
	const struct ta_proc *tp;

	if (idx < 0 || (size_t)idx >= ta->n || ta->tests[idx].fixture)
		return false;
	tp = find_proc(ta, ta->tests[idx].proc);
	return tp && !tp->have_recent;
}

void testattr__at_begin(struct testattr *ta, int32_t idx, const struct fd_rec *recs, size_t n,
			const struct heap_block *b, size_t nb, const struct testattr_ops *ops)
{
	const struct test_run *t = &ta->tests[idx];
	struct ta_proc *tp = find_proc(ta, t->proc);
	size_t i;

	if (!tp)
		return;
	tp->have_recent = true;
	for (i = 0; i < n; i++) {
		struct ta_key k = { .tgid = recs[i].k.tgid, .b = recs[i].k.fd,
				    .ts_ns = recs[i].v.ts_ns };
		struct ta_key *r;

		if (k.tgid != t->proc->pid || k.ts_ns + TA_STAMP_SLACK_NS < t->begin_ns)
			continue;
		r = vec_push(tp->recent_fd, tp->nrecent_fd, tp->cap_recent_fd);
		if (r)
			*r = k;
	}
	for (i = 0; i < nb; i++) {
		struct ta_key k = { .tgid = b[i].k.tgid, .b = b[i].k.gen, .addr = b[i].k.addr,
				    .ts_ns = b[i].a.ts_ns };
		struct ta_key *r;

		if (ops->proc_of_gen(ops->ctx, k.tgid, k.b) != t->proc ||
		    k.ts_ns + TA_STAMP_SLACK_NS < t->begin_ns)
			continue;
		r = vec_push(tp->recent_blk, tp->nrecent_blk, tp->cap_recent_blk);
		if (r)
			*r = k;
	}
}

bool testattr__ended(const struct testattr *ta, int32_t idx)
{
	return idx >= 0 && ta->last_ended == idx && !ta->tests[idx].fixture;
}

void testattr__fork(struct testattr *ta, const struct proc *child, const struct proc *parent,
		    uint64_t now)
{
	struct ta_proc *pp = find_proc(ta, parent), *cp;
	int32_t owner = -1;

	(void)now;
	if (pp && pp->nstack)
		owner = pp->stack[pp->nstack - 1];
	else if (pp)
		owner = pp->owner;
	if (owner < 0)
		return; /* nothing to remember: not in a test */
	cp = get_proc(ta, child);
	if (cp)
		cp->owner = owner;
}

void testattr__exec_env(struct testattr *ta, const struct proc *p, const struct proc *parent,
			const char *value, uint64_t now)
{
	struct ta_proc *pp = find_proc(ta, parent), *cp = find_proc(ta, p);
	char name[QH_CTL_NAME_MAX + 1];
	const char *paren;
	int32_t idx = -1;
	size_t i, len;

	/* marks say better: the plugin is loaded, or a section is open */
	if ((cp && cp->owner >= 0) || (pp && pp->nstack) || !value || !*value)
		return;
	/* "tests/a.py::test_x (call)": the node id, without the phase */
	paren = strrchr(value, '(');
	len = paren && paren > value && paren[-1] == ' ' ? (size_t)(paren - 1 - value) :
							    strlen(value);
	if (len > QH_CTL_NAME_MAX)
		len = QH_CTL_NAME_MAX;
	memcpy(name, value, len);
	name[len] = '\0';
	for (i = 0; i < ta->n; i++)
		if (ta->tests[i].from_env && ta->tests[i].proc == parent &&
		    !strcmp(ta->tests[i].name, name)) {
			idx = i;
			break;
		}
	if (idx < 0) {
		if (!pp)
			pp = get_proc(ta, parent);
		idx = new_section(ta, pp, name, false, now, -1);
		if (idx < 0)
			return;
		ta->tests[idx].from_env = true;
	}
	/* the tests of one process run one after the other: the one it named before is over */
	if (pp && pp->env_test >= 0 && pp->env_test != idx && !ta->tests[pp->env_test].end_ns)
		ta->tests[pp->env_test].end_ns = now;
	if (pp)
		pp->env_test = idx;
	cp = get_proc(ta, p);
	if (cp)
		cp->owner = idx;
}

int32_t testattr__owner(const struct testattr *ta, const struct proc *p)
{
	const struct ta_proc *tp = find_proc(ta, p);

	return tp ? tp->owner : -1;
}

bool testattr__in_test(const struct testattr *ta, int32_t idx, const struct proc *p)
{
	const struct ta_proc *tp = find_proc(ta, p);

	if (!p || idx < 0 || (size_t)idx >= ta->n)
		return false;
	return ta->tests[idx].proc == p || (tp && !tp->client && tp->owner == idx);
}

void testattr__client(struct testattr *ta, const struct proc *p)
{
	struct ta_proc *tp = get_proc(ta, p);

	if (tp)
		tp->client = true;
}

int32_t testattr__next_due(struct testattr *ta, uint64_t now, bool all)
{
	size_t i;

	for (i = 0; i < ta->n; i++) {
		struct test_run *t = &ta->tests[i];

		if (t->fixture || !t->end_ns || t->checked)
			continue;
		if (!all && now < t->end_ns + ta->grace_ns)
			continue;
		t->checked = true;
		return i;
	}
	return -1;
}

void testattr__for_each_started(struct testattr *ta, int32_t idx,
				void (*fn)(void *ctx, struct proc *p), void *ctx)
{
	struct ta_proc *tp;

	for (tp = ta->procs; tp; tp = tp->next)
		if (tp->owner == idx && !tp->client && tp->p != ta->tests[idx].proc)
			fn(ctx, (struct proc *)tp->p);
}

bool testattr__driver_alive(struct testattr *ta, int32_t idx,
			    bool (*is_alive_driver)(void *ctx, struct proc *p), void *ctx)
{
	struct ta_proc *tp;

	for (tp = ta->procs; tp; tp = tp->next)
		if (tp->owner == idx && !tp->client && is_alive_driver(ctx, (struct proc *)tp->p))
			return true;
	return false;
}

static bool same_key(const struct ta_key *a, const struct ta_key *b)
{
	uint64_t d = a->ts_ns > b->ts_ns ? a->ts_ns - b->ts_ns : b->ts_ns - a->ts_ns;

	return a->tgid == b->tgid && a->b == b->b && a->addr == b->addr && d < TA_STAMP_SLACK_NS;
}

static bool in_recent(const struct ta_key *v, size_t n, const struct ta_key *k)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (same_key(&v[i], k))
			return true;
	return false;
}

/*
 * Is the record @k of @p (stamped @ts) test @idx's doing: @p is the test's, the record was made
 * after the test began and was not already there at the previous end in the test's process.
 */
static bool made_in_test(const struct testattr *ta, int32_t idx, const struct proc *p,
			 const struct ta_key *k, bool blk)
{
	const struct test_run *t = &ta->tests[idx];
	const struct ta_proc *mp = find_proc(ta, t->proc);

	if (!testattr__in_test(ta, idx, p) || k->ts_ns < t->begin_ns)
		return false;
	if (!mp)
		return true;
	return blk ? !in_recent(mp->recent_blk, mp->nrecent_blk, k) :
		     !in_recent(mp->recent_fd, mp->nrecent_fd, k);
}

static const struct fd_info *find_fd(const struct fd_table *t, int fd)
{
	struct fd_info key = { .fd = fd };

	return t->n ? bsearch(&key, t->v, t->n, sizeof(t->v[0]), fdtable__cmp_fd) : NULL;
}

int testattr__fds_at_end(struct testattr *ta, int32_t idx, const struct fd_rec *recs, size_t n,
			 const struct testattr_ops *ops)
{
	struct test_run *t = &ta->tests[idx];
	struct ta_proc *mp = find_proc(ta, t->proc);
	struct ta_key *recent = NULL;
	size_t nrecent = 0, cap = 0, i;
	struct fd_table tab = {};
	pid_t tab_pid = 0;
	int err = 0;

	for (i = 0; i < n; i++) {
		struct ta_key k = { .tgid = recs[i].k.tgid, .b = recs[i].k.fd,
				    .ts_ns = recs[i].v.ts_ns };
		struct proc *p = ops->proc_of(ops->ctx, k.tgid);
		const struct fd_info *fi;
		struct test_fd *f;

		/*
		 * the test's own process: one it started that outlives it is a leftover, and
		 * what that one holds at the end of the run is its fd findings'
		 */
		if (!p || p != t->proc)
			continue;
		/* stdin, stdout, stderr redirected (pytest's capture dup2s over them): not leaks */
		if (k.b <= 2)
			continue;
		/* what the next test must not take for its own */
		if (k.ts_ns + TA_STAMP_SLACK_NS >= t->end_ns) {
			struct ta_key *r = vec_push(recent, nrecent, cap);

			if (r)
				*r = k;
		}
		if (!made_in_test(ta, idx, p, &k, false))
			continue;
		if (tab_pid != (pid_t)p->pid) {
			fdtable__free(&tab);
			tab_pid = p->pid;
			if (ops->read_table(ops->ctx, p->pid, &tab))
				memset(&tab, 0, sizeof(tab));
		}
		f = vec_push(t->fds, t->nfds, t->cap_fds);
		if (!f) {
			err = -ENOMEM;
			break;
		}
		f->proc = p;
		f->fd = k.b;
		f->ts_ns = k.ts_ns;
		f->nr = recs[i].v.nr;
		f->kind = recs[i].v.kind;
		fi = find_fd(&tab, k.b);
		if (fi) {
			f->kind = fi->kind;
			snprintf(f->target, sizeof(f->target), "%s", fi->pattern[0] ? fi->pattern :
											fi->target);
		} else {
			snprintf(f->target, sizeof(f->target), "%s", fd_kind__str(f->kind));
		}
	}
	fdtable__free(&tab);
	if (mp) {
		mp->have_recent = true;
		free(mp->recent_fd);
		mp->recent_fd = recent;
		mp->nrecent_fd = nrecent;
		mp->cap_recent_fd = cap;
	} else {
		free(recent);
	}
	return err;
}

static uint64_t blk_hash(const struct ta_key *k)
{
	return htab__mix(((uint64_t)k->tgid << 32 | k->b) ^ htab__mix(k->addr));
}

int testattr__heap_at_end(struct testattr *ta, int32_t idx, const struct heap_block *b,
			  size_t n, const struct testattr_ops *ops)
{
	struct test_run *t = &ta->tests[idx];
	struct ta_proc *mp = find_proc(ta, t->proc);
	struct ta_key *recent = NULL;
	size_t nrecent = 0, cap = 0, i;
	int err = 0;

	t->heap_known = true;
	for (i = 0; i < n; i++) {
		struct ta_key k = { .tgid = b[i].k.tgid, .b = b[i].k.gen, .addr = b[i].k.addr,
				    .ts_ns = b[i].a.ts_ns };
		struct proc *p = ops->proc_of_gen(ops->ctx, k.tgid, k.b);
		struct ta_blk *e;

		if (!p || !testattr__in_test(ta, idx, p))
			continue;
		if (k.ts_ns + TA_STAMP_SLACK_NS >= t->end_ns) {
			struct ta_key *r = vec_push(recent, nrecent, cap);

			if (r)
				*r = k;
		}
		if (!made_in_test(ta, idx, p, &k, true))
			continue;
		e = calloc(1, sizeof(*e));
		if (!e || htab__add(&ta->blks, &e->hnode, blk_hash(&k))) {
			free(e);
			err = -ENOMEM;
			break;
		}
		e->k = k;
		e->test = idx;
		e->next = ta->blk_list;
		ta->blk_list = e;
		t->heap_new_bytes += b[i].a.size;
		t->heap_new_blocks++;
	}
	if (mp) {
		mp->have_recent = true;
		free(mp->recent_blk);
		mp->recent_blk = recent;
		mp->nrecent_blk = nrecent;
		mp->cap_recent_blk = cap;
	} else {
		free(recent);
	}
	return err;
}

void testattr__fds_final(struct testattr *ta, const struct fd_rec *recs, size_t n,
			 const struct testattr_ops *ops)
{
	size_t i, j, k;

	(void)ops;
	for (i = 0; i < ta->n; i++) {
		struct test_run *t = &ta->tests[i];

		for (j = 0; j < t->nfds; j++) {
			struct test_fd *f = &t->fds[j];
			struct ta_key a = { .tgid = f->proc->pid, .b = f->fd, .ts_ns = f->ts_ns };
			bool open = false;

			if (f->proc->state != PROC_RUNNING) {
				f->closed_later = f->closed_by_exit = true;
				continue;
			}
			for (k = 0; k < n && !open; k++) {
				struct ta_key b = { .tgid = recs[k].k.tgid, .b = recs[k].k.fd,
						    .ts_ns = recs[k].v.ts_ns };

				open = same_key(&a, &b);
			}
			f->closed_later = !open;
		}
	}
}

int32_t testattr__block_test(struct testattr *ta, const struct proc *p,
			     const struct qh_alloc_key *key, const struct qh_alloc *a)
{
	struct ta_key k = { .tgid = key->tgid, .b = key->gen, .addr = key->addr,
			    .ts_ns = a->ts_ns };
	const struct ta_proc *tp;
	struct hnode *n;
	int32_t best = -1;
	size_t i;

	for (n = htab__first(&ta->blks, blk_hash(&k)); n; n = htab__next(n)) {
		struct ta_blk *e = htab_entry(n, struct ta_blk, hnode);

		if (same_key(&e->k, &k)) {
			if (!e->seen_at_exit) {
				e->seen_at_exit = true;
				ta->tests[e->test].heap_exit_bytes += a->size;
				ta->tests[e->test].heap_exit_blocks++;
			}
			return e->test;
		}
	}
	/* not live at any test's end: made in a test still open, or between tests */
	for (i = ta->n; i-- > 0;) {
		const struct test_run *t = &ta->tests[i];

		if (t->fixture || t->from_env || !testattr__in_test(ta, i, p))
			continue;
		if (k.ts_ns >= t->begin_ns && (!t->end_ns || k.ts_ns <= t->end_ns)) {
			best = i;
			break;
		}
	}
	if (best >= 0)
		return best;
	tp = find_proc(ta, p);
	return tp && tp->owner >= 0 && !ta->tests[tp->owner].fixture ? tp->owner : -1;
}

size_t testattr__count(const struct testattr *ta)
{
	return ta ? ta->n : 0;
}

const struct test_run *testattr__get(const struct testattr *ta, int32_t idx)
{
	return idx >= 0 && (size_t)idx < ta->n ? &ta->tests[idx] : NULL;
}

cJSON *testattr__name_json(const struct testattr *ta, int32_t idx)
{
	const struct test_run *t = ta ? testattr__get(ta, idx) : NULL;

	return t && !t->fixture ? cJSON_CreateString(t->name) : cJSON_CreateNull();
}

/* --- the report ---------------------------------------------------------------------------- */

static cJSON *time_json(uint64_t boot_ns)
{
	char buf[40];

	if (!boot_ns)
		return cJSON_CreateNull();
	return cJSON_CreateString(util__rfc3339(util__boot_to_real_ns(boot_ns), buf, sizeof(buf)));
}

/* The process a finding names: by pid, and its start time when it gives one. */
static const struct ta_proc *item_proc(const struct testattr *ta, const cJSON *it)
{
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(it, "pid");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "start_time");
	const struct ta_proc *only = NULL;
	struct hnode *n;
	int found = 0;

	if (!cJSON_IsNumber(pid))
		return NULL;
	for (n = htab__first(&ta->procs_by_pid, htab__mix((uint32_t)pid->valuedouble)); n;
	     n = htab__next(n)) {
		const struct ta_proc *tp = htab_entry(n, struct ta_proc, by_pid);
		char buf[40];

		if (tp->p->pid != (uint32_t)pid->valuedouble)
			continue;
		if (cJSON_IsString(st) &&
		    !strcmp(util__rfc3339(util__boot_to_real_ns(tp->p->start_ns), buf, sizeof(buf)),
			    st->valuestring))
			return tp;
		only = tp;
		found++;
	}
	return found == 1 ? only : NULL;
}

/* per test, while the report is read */
struct ta_tally {
	cJSON *findings;
	int64_t started_growth_kb;
	uint32_t processes, drivers, browsers, browsers_left, leftovers, fds_leaked,
		fds_closed_later;
};

static bool pid_in(const cJSON *arr, double pid)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, arr)
		if (cJSON_IsNumber(v) && v->valuedouble == pid)
			return true;
	return false;
}

/*
 * A heap finding under QH_TEST_HEAP_MIN names its test but is not one of the test's findings:
 * an interpreter's caches and glibc's copies of PYTEST_CURRENT_TEST (setenv never frees the
 * strings it replaces) are made during every test and live to the end.
 */
static bool small_heap(const char *path, const cJSON *it)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(it, "bytes");

	return !strcmp(path, "leaks.heap") && cJSON_IsNumber(b) && b->valuedouble < QH_TEST_HEAP_MIN;
}

/* Give every item of @arr (at @path in the report) its test, and count it for that test. */
static void tag_array(const struct testattr *ta, cJSON *arr, const char *path,
		      struct ta_tally *tally, const cJSON *browsers)
{
	cJSON *it;
	int i = 0;

	cJSON_ArrayForEach(it, arr) {
		const cJSON *own = cJSON_GetObjectItemCaseSensitive(it, "test");
		int32_t idx = -1;
		char ref[64];

		if (own) {
			/* the finding's own: find its index by name */
			size_t k;

			for (k = 0; cJSON_IsString(own) && k < ta->n; k++)
				if (!ta->tests[k].fixture && !strcmp(ta->tests[k].name, own->valuestring))
					idx = k;
		} else {
			const struct ta_proc *tp = item_proc(ta, it);

			idx = tp ? tp->owner : -1;
			if (idx >= 0 && ta->tests[idx].fixture)
				idx = -1;
			cJSON_AddItemToObject(it, "test", testattr__name_json(ta, idx));
		}
		if (idx >= 0 && path && !small_heap(path, it)) {
			snprintf(ref, sizeof(ref), "%s[%d]", path, i);
			cJSON_AddItemToArray(tally[idx].findings, cJSON_CreateString(ref));
			if (!strcmp(path, "leftovers")) {
				const cJSON *pid = cJSON_GetObjectItemCaseSensitive(it, "pid");

				tally[idx].leftovers++;
				if (cJSON_IsNumber(pid) && pid_in(browsers, pid->valuedouble))
					tally[idx].browsers_left++;
			}
		}
		if (idx >= 0 && !path) {
			/* processes[] and drivers[]: figures, not findings */
			const cJSON *g = cJSON_GetObjectItemCaseSensitive(it, "rss_growth_kb");
			const cJSON *bp = cJSON_GetObjectItemCaseSensitive(it, "browser_pids");

			if (cJSON_IsArray(bp)) {
				tally[idx].drivers++;
				tally[idx].browsers += cJSON_GetArraySize(bp);
			} else if (item_proc(ta, it) && !item_proc(ta, it)->client &&
				   ta->tests[idx].proc != item_proc(ta, it)->p) {
				tally[idx].processes++;
				if (cJSON_IsNumber(g))
					tally[idx].started_growth_kb += g->valuedouble;
			}
		}
		i++;
	}
}

/* The fds tests held at their ends, grouped like the fd findings, into leaks.fds. */
static void add_fd_findings(const struct testattr *ta, cJSON *fds, struct ta_tally *tally,
			    uint64_t threshold)
{
	size_t i, j, k;

	for (i = 0; i < ta->n; i++) {
		const struct test_run *t = &ta->tests[i];
		bool *done = t->nfds ? calloc(t->nfds, sizeof(*done)) : NULL;

		if (t->nfds && !done)
			continue;
		for (j = 0; j < t->nfds; j++) {
			const struct test_fd *f = &t->fds[j];
			uint32_t count = 0, closed = 0, by_exit = 0;
			cJSON *o, *a;
			char buf[32], ref[64];

			if (done[j])
				continue;
			o = cJSON_CreateObject();
			a = cJSON_CreateArray();
			for (k = j; k < t->nfds; k++) {
				const struct test_fd *g = &t->fds[k];

				if (done[k] || g->proc != f->proc || g->kind != f->kind ||
				    strcmp(g->target, f->target))
					continue;
				done[k] = true;
				count++;
				closed += g->closed_later;
				by_exit += g->closed_by_exit;
				cJSON_AddItemToArray(a, cJSON_CreateNumber(g->fd));
			}
			cJSON_AddNumberToObject(o, "pid", f->proc->pid);
			cJSON_AddStringToObject(o, "comm", f->proc->comm);
			cJSON_AddItemToObject(o, "start_time", time_json(f->proc->start_ns));
			cJSON_AddStringToObject(o, "kind", fd_kind__str(f->kind));
			cJSON_AddStringToObject(o, "target", f->target);
			cJSON_AddNumberToObject(o, "count", count);
			cJSON_AddItemToObject(o, "fd_numbers", a);
			cJSON_AddStringToObject(o, "reason", "open_after_test");
			cJSON_AddStringToObject(o, "severity",
						severity__str(severity__of(count, 0, threshold)));
			cJSON_AddStringToObject(o, "site", fd_syscall__str(f->nr, buf, sizeof(buf)));
			/* closed later: by the process's exit (an interpreter's shutdown) or not */
			cJSON_AddNumberToObject(o, "closed_later", closed);
			cJSON_AddNumberToObject(o, "closed_by_exit", by_exit);
			cJSON_AddStringToObject(o, "test", t->name);
			snprintf(ref, sizeof(ref), "leaks.fds[%d]", cJSON_GetArraySize(fds));
			cJSON_AddItemToArray(fds, o);
			cJSON_AddItemToArray(tally[i].findings, cJSON_CreateString(ref));
			tally[i].fds_leaked += count;
			tally[i].fds_closed_later += closed;
		}
		free(done);
	}
}

static cJSON *test_json(const struct test_run *t, const struct ta_tally *y, bool heap)
{
	static const char *const names[CTL_PHASES] = { "setup", "call", "teardown" };
	cJSON *o = cJSON_CreateObject(), *ph;
	int64_t growth = y->started_growth_kb;
	int i;

	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddNumberToObject(o, "pid", t->proc ? t->proc->pid : 0);
	cJSON_AddStringToObject(o, "source", t->from_env ? "PYTEST_CURRENT_TEST" : "mark");
	if (t->outcome[0])
		cJSON_AddStringToObject(o, "outcome", t->outcome);
	else
		cJSON_AddNullToObject(o, "outcome");
	cJSON_AddItemToObject(o, "start_time", time_json(t->begin_ns));
	cJSON_AddItemToObject(o, "end_time", time_json(t->end_ns));
	if (t->end_ns)
		cJSON_AddNumberToObject(o, "duration_s", (t->end_ns - t->begin_ns) / 1e9);
	else
		cJSON_AddNullToObject(o, "duration_s");
	ph = cJSON_AddObjectToObject(o, "phases");
	for (i = 0; i < CTL_PHASES; i++) {
		cJSON *p;

		if (!t->phase_begin[i])
			continue;
		p = cJSON_AddObjectToObject(ph, names[i]);
		cJSON_AddItemToObject(p, "start_time", time_json(t->phase_begin[i]));
		if (t->phase_end[i] >= t->phase_begin[i])
			cJSON_AddNumberToObject(p, "duration_s",
						(t->phase_end[i] - t->phase_begin[i]) / 1e9);
		else
			cJSON_AddNullToObject(p, "duration_s");
	}
	if (t->rss_begin_kb >= 0 && t->rss_end_kb >= 0)
		growth += t->rss_end_kb - t->rss_begin_kb;
	cJSON_AddNumberToObject(o, "rss_growth_kb", growth);
	if (heap && t->heap_known) {
		cJSON_AddNumberToObject(o, "heap_new_bytes", t->heap_new_bytes);
		cJSON_AddNumberToObject(o, "heap_new_blocks", t->heap_new_blocks);
		cJSON_AddNumberToObject(o, "heap_live_at_exit_bytes", t->heap_exit_bytes);
		cJSON_AddNumberToObject(o, "heap_live_at_exit_blocks", t->heap_exit_blocks);
	} else {
		cJSON_AddNullToObject(o, "heap_new_bytes");
		cJSON_AddNullToObject(o, "heap_new_blocks");
	}
	cJSON_AddNumberToObject(o, "fds_leaked", y->fds_leaked);
	cJSON_AddNumberToObject(o, "fds_closed_later", y->fds_closed_later);
	cJSON_AddNumberToObject(o, "processes_started", y->processes);
	cJSON_AddNumberToObject(o, "drivers_started", y->drivers);
	cJSON_AddNumberToObject(o, "browsers_started", y->browsers);
	cJSON_AddNumberToObject(o, "browsers_left", y->browsers_left);
	cJSON_AddNumberToObject(o, "leftovers", y->leftovers);
	cJSON_AddItemToObject(o, "findings", cJSON_Duplicate(y->findings, true));
	return o;
}

int testattr__add_json(struct testattr *ta, cJSON *root)
{
	static const char *const leak_kinds[] = { "heap", "sockets", NULL };
	cJSON *leaks = cJSON_GetObjectItemCaseSensitive(root, "leaks"), *arr, *browsers, *d;
	cJSON *fds = leaks ? cJSON_GetObjectItemCaseSensitive(leaks, "fds") : NULL;
	struct ta_tally *tally;
	char path[32];
	size_t i;

	if (!ta)
		return 0;
	tally = calloc(ta->n + 1, sizeof(*tally));
	browsers = cJSON_CreateArray();
	if (!tally || !browsers) {
		free(tally);
		cJSON_Delete(browsers);
		return -ENOMEM;
	}
	for (i = 0; i < ta->n; i++)
		tally[i].findings = cJSON_CreateArray();
	/* the browsers of every driver tree, for browsers_left */
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(root, "drivers")) {
		const cJSON *v;

		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(d, "browser_pids"))
			cJSON_AddItemToArray(browsers, cJSON_Duplicate(v, false));
	}
	tag_array(ta, cJSON_GetObjectItemCaseSensitive(root, "processes"), NULL, tally, browsers);
	tag_array(ta, cJSON_GetObjectItemCaseSensitive(root, "drivers"), NULL, tally, browsers);
	for (i = 0; leaks && leak_kinds[i]; i++) {
		snprintf(path, sizeof(path), "leaks.%s", leak_kinds[i]);
		tag_array(ta, cJSON_GetObjectItemCaseSensitive(leaks, leak_kinds[i]), path, tally,
			  browsers);
	}
	if (cJSON_IsArray(fds)) {
		tag_array(ta, fds, "leaks.fds", tally, browsers);
		add_fd_findings(ta, fds, tally, ta->fd_threshold);
	}
	tag_array(ta, cJSON_GetObjectItemCaseSensitive(root, "zombies"), "zombies", tally,
		  browsers);
	tag_array(ta, cJSON_GetObjectItemCaseSensitive(root, "orphans"), NULL, tally, browsers);
	tag_array(ta, cJSON_GetObjectItemCaseSensitive(root, "leftovers"), "leftovers", tally,
		  browsers);
	/* a driver that outlived its test did not end cleanly, whoever stopped it later */
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(root, "drivers")) {
		const cJSON *pid = cJSON_GetObjectItemCaseSensitive(d, "pid"), *l;
		bool outlived = false;

		cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(root, "leftovers")) {
			const cJSON *lp = cJSON_GetObjectItemCaseSensitive(l, "pid");
			const cJSON *why = cJSON_GetObjectItemCaseSensitive(l, "reason");

			if (cJSON_IsNumber(pid) && cJSON_IsNumber(lp) &&
			    lp->valuedouble == pid->valuedouble && cJSON_IsString(why) &&
			    !strcmp(why->valuestring, "outlived_test"))
				outlived = true;
		}
		cJSON_AddBoolToObject(d, "outlived_test", outlived);
		if (outlived)
			cJSON_ReplaceItemInObjectCaseSensitive(d, "ended_cleanly", cJSON_CreateFalse());
	}
	arr = cJSON_AddArrayToObject(root, "tests");
	for (i = 0; arr && i < ta->n; i++)
		if (!ta->tests[i].fixture)
			cJSON_AddItemToArray(arr, test_json(&ta->tests[i], &tally[i],
						cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(
							leaks, "heap"))));
	for (i = 0; i < ta->n; i++)
		cJSON_Delete(tally[i].findings);
	free(tally);
	cJSON_Delete(browsers);
	return arr ? 0 : -ENOMEM;
}

/* --- the terminal summary -------------------------------------------------------------------- */

#define TA_TOP 3

struct measure {
	const char *key;	/* in tests[] */
	const char *label;
	bool kb;		/* a size in kB (else bytes, or a count) */
	bool bytes;
};

static const struct measure measures[] = {
	{ "rss_growth_kb", "RSS growth", true, false },
	{ "heap_new_bytes", "heap left", false, true },
	{ "fds_leaked", "fds left open", false, false },
	{ "leftovers", "processes left", false, false },
	{ "browsers_left", "browsers left", false, false },
};

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void size_str(double v, bool kb, char *buf, size_t len)
{
	if (kb)
		v *= 1024;
	if (v >= 1 << 20)
		snprintf(buf, len, "%.1fM", v / (1 << 20));
	else if (v >= 1024)
		snprintf(buf, len, "%.1fK", v / 1024);
	else
		snprintf(buf, len, "%.0f%s", v, kb ? "K" : "B");
}

void testattr__summary(FILE *out, const cJSON *root)
{
	const cJSON *tests = cJSON_GetObjectItemCaseSensitive(root, "tests"), *t;
	size_t n = cJSON_GetArraySize(tests), with = 0, m;

	if (!n)
		return;
	cJSON_ArrayForEach(t, tests)
		with += cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "findings")) > 0;
	fprintf(out, "tests: %zu, %zu with findings\n", n, with);
	for (m = 0; m < sizeof(measures) / sizeof(measures[0]); m++) {
		const cJSON *top[TA_TOP] = {};
		size_t k, j;

		cJSON_ArrayForEach(t, tests) {
			double v = num(t, measures[m].key);

			if (v <= 0)
				continue;
			for (k = 0; k < TA_TOP; k++)
				if (!top[k] || v > num(top[k], measures[m].key))
					break;
			if (k == TA_TOP)
				continue;
			memmove(&top[k + 1], &top[k], (TA_TOP - k - 1) * sizeof(top[0]));
			top[k] = t;
		}
		if (!top[0])
			continue;
		fprintf(out, "  %-15s", measures[m].label);
		for (j = 0; j < TA_TOP && top[j]; j++) {
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(top[j], "name");
			char v[32];

			if (measures[m].kb || measures[m].bytes)
				size_str(num(top[j], measures[m].key), measures[m].kb, v, sizeof(v));
			else
				snprintf(v, sizeof(v), "%.0f", num(top[j], measures[m].key));
			fprintf(out, "%s %s %s", j ? "," : "", v,
				cJSON_IsString(name) ? name->valuestring : "?");
		}
		fputc('\n', out);
	}
}
