// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * qhtrace monitor: every process of the machine, the CI jobs among them, each job's report
 * when it has ended, and what outlived it.
 */
#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fnmatch.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cleanup.h"
#include "ctlproto.h"
#include "ctlsrv.h"
#include "config.h"
#include "fdleaks.h"
#include "heapleaks.h"
#include "hold.h"
#include "httpd.h"
#include "membudget.h"
#include "monmetrics.h"
#include "outputs.h"
#include "notify.h"
#include "sbuf.h"
#include "selfmem.h"
#include "status.h"
#include "cli.h"
#include "commands.h"
#include "jobs.h"
#include "log.h"
#include "procfs.h"
#include "proctree.h"
#include "procwatch.h"
#include "report.h"
#include "session.h"
#include "tracer.h"
#include "util.h"

/* a job's environment is read up to this much (a CI job's is often 10-30 KiB) */
#define ENV_MAX (256 << 10)
/*
 * Memory stays bounded by folding: a reaped process (its release is its last record) that no
 * job waits for and no finding points at leaves the model; it lives on in the counters. A
 * fold walks the model: it runs once a second, or sooner once FOLD_BATCH processes were
 * reaped, so a burst of short processes never piles up. Zombie and orphan findings beyond the
 * last FINDINGS_KEEP go the same way.
 */
#define FOLD_AFTER_NS 0
#define FOLD_EVERY_NS NSEC_PER_SEC
#define FOLD_BATCH 1024
#define FINDINGS_KEEP 1000

/*
 * --heap-match: a process with heap probes of its own, from the record that matched it to its
 * exit (or an exec into a program no pattern matches); then, exited, until its findings are
 * placed (its job's, or a report of its own).
 */
struct heap_traced {
	struct proc *p;		/* the model keeps it: foldable() asks */
	uint32_t pid;
	uint64_t start_ns;
	bool exited;		/* probes gone; its blocks come with the next harvest */
	bool held;		/* under the hold at exit (seized, or forked from one that was) */
	struct heapleaks *own;	/* no job: the findings of its own report */
};

/* A job's heap findings, gathered from its heap-traced processes as they exit. */
struct job_heap {
	uint32_t job;
	struct heapleaks *leaks;
};

/* a cgroup v2 directory: its id (inode number) and its path below the hierarchy's root */
struct cg_name {
	uint64_t id;
	char *path;
};

struct monitor {
	struct session s;
	struct attach_opts o;
	struct jobs jobs;
	char *env;			/* ENV_MAX bytes: /proc/PID/environ */
	char spool[PATH_MAX];
	uint64_t grace_ns;
	bool cleanup;			/* --cleanup: what outlived its job (never the session's) */
	uint64_t start_real_ns;
	uint64_t procs_seen;		/* processes seeded or forked */
	uint64_t env_reads;		/* environments read from /proc (seeded processes) */
	uint64_t env_records;		/* QH_EV_JOB_ENV records */
	uint64_t pin_failed;		/* job_roots full or the process gone */
	uint64_t reports, report_errors;
	uint64_t outlived, cleaned;
	uint64_t folded;		/* processes let go of (FOLD_AFTER_NS) */
	uint64_t next_fold_ns;		/* CLOCK_BOOTTIME */
	uint64_t fold_now_ns;		/* the fold's own now */
	uint64_t reaped;		/* since the last fold */
	bool dropping;			/* over data.max_memory_mb: a running job's exited
					 * processes go too (counted in its report) */
	uint64_t budget_warned;
	uint64_t dropped;		/* processes let go of that way */
	uint64_t reloads, reload_errors;
	uint64_t fold_after_ns;
	struct httpd *httpd;		/* --metrics-addr, or NULL */
	struct ctlsrv *ctl;		/* --socket: qhtrace status, or NULL */
	struct mon_metrics metrics;	/* filled at each scrape */
	uint64_t outlived_by_kind[JOB_KINDS];
	uint64_t cleanup_results[MON_CLEANUP_RESULTS];
	const struct proc **held;	/* during a fold: what fd findings point at, sorted */
	char cg_root[PATH_MAX];		/* where cgroup v2 is mounted here, "" if nowhere */
	struct cg_name *cg;		/* cgroup id -> path, as last walked */
	size_t ncg, cap_cg;
	uint64_t cg_walks;
	size_t nheld, cap_held;
	struct utsname uts;
	struct heap_traced *ht;		/* --heap-match: the processes heap-traced */
	size_t nht, cap_ht;
	size_t ht_alive;		/* of which not exited: bounded by --heap-max-roots */
	struct job_heap *jh;		/* the jobs with a heap-traced process */
	size_t njh, cap_jh;
	uint64_t heap_traced_total;	/* processes given probes */
	uint64_t heap_refused;		/* matched beyond --heap-max-roots */
	uint64_t heap_failed;		/* matched, but the probes could not be attached */
	uint64_t heap_reports, heap_report_errors; /* heap-PID-START.json */
	char libc[PATH_MAX];		/* the C library of this host */
};

/* /proc/PID/environ as it was at exec, into m->env: its length, or 0 */
static size_t read_environ(struct monitor *m, pid_t pid)
{
	char path[64];
	size_t got = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	while (got < ENV_MAX && (n = read(fd, m->env + got, ENV_MAX - got)) > 0)
		got += n;
	close(fd);
	m->env_reads++;
	return got;
}

/* the cgroup v2 path of @pid ("0::/system.slice/x.scope" in /proc/PID/cgroup), or false */
static bool read_cgroup(pid_t pid, char *buf, size_t len)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, len, "%.*s", (int)len - 1, line + 3);
		found = true;
	}
	fclose(f);
	return found;
}

/* where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or .../unified on a hybrid host) */
static void find_cg_root(struct monitor *m)
{
	char line[1024], dev[256], mnt[512], type[64];
	FILE *f = fopen("/proc/self/mounts", "re");

	m->cg_root[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %511s %63s", dev, mnt, type) == 3 &&
		    !strcmp(type, "cgroup2")) {
			snprintf(m->cg_root, sizeof(m->cg_root), "%s", mnt);
			break;
		}
	fclose(f);
}

static struct monitor *walking;	/* nftw has no context argument */

static int cg_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct monitor *m = walking;
	struct cg_name *c;
	const char *rel = path + strlen(m->cg_root);

	(void)ftw;
	if (flag != FTW_D)
		return 0;
	c = vec_push(m->cg, m->ncg, m->cap_cg);
	if (!c)
		return 1;
	c->id = st->st_ino;
	c->path = strdup(*rel ? rel : "/");
	if (!c->path)
		m->ncg--;
	return 0;
}

/*
 * The path of cgroup @id (what the kernel saw at exec: the process may have exited since, and
 * /proc/PID/cgroup with it). A new id walks the hierarchy again, as cgroups come and go with
 * jobs; a node has hundreds of them, not millions.
 */
static bool cgroup_path(struct monitor *m, uint64_t id, char *buf, size_t len)
{
	size_t i;
	int pass;

	if (!m->cg_root[0] || !id)
		return false;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < m->ncg; i++)
			if (m->cg[i].id == id) {
				snprintf(buf, len, "%s", m->cg[i].path);
				return true;
			}
		if (pass)
			break;
		for (i = 0; i < m->ncg; i++)
			free(m->cg[i].path);
		m->ncg = 0;
		walking = m;
		nftw(m->cg_root, cg_visit, 16, FTW_PHYS | FTW_MOUNT);
		m->cg_walks++;
	}
	return false;
}

/* The kernel copies @p's job to what it forks from now on (a root, or one it missed). */
static void pin(struct monitor *m, struct proc *p)
{
	int err = tracer__set_job(m->s.tr, p->pid, p->job);

	if (!err) {
		p->job_pinned = true;
		return;
	}
	/* gone already (nothing more to fork), or the map is full: counted, and reported */
	if (m->pin_failed++ == 0 && err != -ENOENT)
		pr_warn("pid %u: its job could not be given to the kernel (%s): what it forks "
			"is followed by its parent's job in the model only\n", p->pid,
			strerror(-err));
}

static void unpin(struct monitor *m, struct proc *p)
{
	if (!p->job_pinned)
		return;
	tracer__set_job(m->s.tr, p->pid, 0);
	p->job_pinned = false;
}

/* ---- --heap-match ---- */

static bool comm_match(const char *pat, const struct proc *p)
{
	char base[TASK_COMM_LEN];
	const char *slash;

	if (!fnmatch(pat, p->comm, 0))
		return true;
	/* at its exec record the comm is the old one yet: the kernel's next is the file's name */
	if (!p->exe)
		return false;
	slash = strrchr(p->exe, '/');
	snprintf(base, sizeof(base), "%s", slash ? slash + 1 : p->exe);
	return !fnmatch(pat, base, 0);
}

/* Does @p match a --heap-match pattern? @cg: its cgroup path, "" when not known yet. */
static bool heap_matches(struct monitor *m, const struct proc *p, char *cg, size_t cglen)
{
	uint32_t i;

	for (i = 0; i < m->o.n_heap_match; i++) {
		const char *a = m->o.heap_match[i];

		if (!strncmp(a, "comm:", 5)) {
			if (comm_match(a + 5, p))
				return true;
		} else if (!strncmp(a, "exe:", 4)) {
			if (p->exe && !fnmatch(a + 4, p->exe, 0))
				return true;
		} else if (!strncmp(a, "cgroup:", 7)) {
			if (!*cg && !read_cgroup(p->pid, cg, cglen))
				continue;
			if (!fnmatch(a + 7, cg, 0))
				return true;
		} else if (comm_match(a, p) || (p->exe && !fnmatch(a, p->exe, 0))) {
			return true;
		}
	}
	return false;
}

static struct heap_traced *heap_find(struct monitor *m, const struct proc *p)
{
	size_t i;

	for (i = 0; i < m->nht; i++)
		if (m->ht[i].p == p)
			return &m->ht[i];
	return NULL;
}

static bool heap_filter(void *ctx, const struct proc *p)
{
	return heap_find(ctx, p) != NULL;
}

static struct heapleaks *heapleaks_new(struct monitor *m)
{
	return heapleaks__new(&(struct heapleaks_opts){
		.threshold_bytes = (uint64_t)m->o.leak_threshold_mb << 20,
		.by_count = m->o.sort_by_count,
		.min_age_ns = (uint64_t)m->o.min_age_s * NSEC_PER_SEC,
	});
}

/* The heap findings of job @id, made on first use; NULL when it has none (or no memory). */
static struct job_heap *job_heap(struct monitor *m, uint32_t id, bool make)
{
	struct job_heap *jh;
	size_t i;

	for (i = 0; i < m->njh; i++)
		if (m->jh[i].job == id)
			return &m->jh[i];
	if (!make || !(jh = vec_push(m->jh, m->njh, m->cap_jh)))
		return NULL;
	jh->job = id;
	jh->leaks = heapleaks_new(m);
	if (!jh->leaks) {
		m->njh--;
		return NULL;
	}
	return jh;
}

/*
 * Give @p probes of its own (@why: "exec", "fork", "running"): the C library it maps, else
 * this host's as its root sees it (at its exec record the dynamic loader may not have mapped
 * it yet: the probes land when it does). Held at its exit for the leak classes.
 */
static void heap_trace(struct monitor *m, struct proc *p, const char *why, bool parent_held)
{
	char path[PATH_MAX], e[64];
	struct heap_traced *h;
	int err;

	if (heap_find(m, p))
		return;
	if (m->ht_alive >= m->o.heap_max_roots) {
		if (!m->heap_refused++)
			pr_warn("heap: pid %u %s matches --heap-match, but %u processes are "
				"heap-traced already (--heap-max-roots): not traced (counted)\n",
				p->pid, util__esc(p->comm, e, sizeof(e)), m->o.heap_max_roots);
		return;
	}
	if (tracer__find_libc(p->pid, path, sizeof(path)) &&
	    (size_t)snprintf(path, sizeof(path), "/proc/%u/root%s", p->pid, m->libc) >= sizeof(path))
		path[0] = '\0';
	err = path[0] ? tracer__heap_attach_pid(m->s.tr, p->pid, path) : -ENOENT;
	if (err == -ENOENT && path[0])
		err = tracer__heap_attach_pid(m->s.tr, p->pid, NULL);
	if (err) {
		m->heap_failed++;
		if (err != -ESRCH)
			pr_warn("heap: pid %u %s: its malloc family could not be probed: %s\n",
				p->pid, util__esc(p->comm, e, sizeof(e)), strerror(-err));
		return;
	}
	h = vec_push(m->ht, m->nht, m->cap_ht);
	if (!h) {
		tracer__heap_detach_pid(m->s.tr, p->pid);
		return;
	}
	*h = (struct heap_traced){ .p = p, .pid = p->pid, .start_ns = p->start_ns };
	m->ht_alive++;
	m->heap_traced_total++;
	if (p->job)
		job_heap(m, p->job, true);
	/*
	 * The hold: a child of a held process is held already (the holder follows forks); a
	 * process seen running is held only when single-threaded (its other threads would not
	 * stop at its exit, and their registers are roots)
	 */
	h->held = parent_held;
	if (!h->held && m->s.hold && (strcmp(why, "running") || p->stats.threads <= 1))
		h->held = !hold__seize(m->s.hold, p->pid);
	/* a process seen running: its modules now (exec and fork records do it themselves) */
	if (!strcmp(why, "running"))
		session__heap_refresh(&m->s, p);
	pr_debug("heap: pid %u %s traced (%s)%s\n", p->pid, util__esc(p->comm, e, sizeof(e)), why,
		 h->held ? ", held at its exit" : "");
}

/* @p's probes go (it exited, or exec'd a program no pattern matches). */
static void heap_untrace(struct monitor *m, struct proc *p, bool exited)
{
	struct heap_traced *h = heap_find(m, p);

	if (!h || h->exited)
		return;
	tracer__heap_detach_pid(m->s.tr, p->pid);
	m->ht_alive--;
	if (exited) {
		h->exited = true;
		return;
	}
	*h = m->ht[--m->nht];
}

/* Where a harvested finding goes: its job's findings, or its process's own report. */
static struct heapleaks *heap_dest(void *ctx, const struct heap_leak *l)
{
	struct monitor *m = ctx;
	struct heap_traced *h = heap_find(m, l->proc);
	struct job_heap *jh;

	if (!h)
		return NULL; /* a process no longer matched: its blocks were a moment's */
	jh = l->proc->job && jobs__get(&m->jobs, l->proc->job) ? job_heap(m, l->proc->job, true)
							       : NULL;
	if (jh)
		return jh->leaks;
	if (!h->own)
		h->own = heapleaks_new(m);
	return h->own;
}

static void fill_heap_info(struct monitor *m, struct run_info *ri, struct heapleaks *leaks)
{
	ri->heap = true;
	ri->heap_leaks = leaks;
	ri->classes = m->s.classes;
	ri->supp = m->s.supp;
	ri->leak_kinds = m->o.leak_kinds;
	ri->hold = m->s.hold ? "ptrace (PTRACE_O_TRACEEXIT)" : m->s.unheld;
	ri->top = m->o.top;
	ri->heap_unmatched = "not traced: no --heap-match pattern matched it, or its probes "
			     "never ran (a static binary, another C library)";
}

/* The report of a heap-traced process of no job: heap-PID-START.json in the spool. */
static void heap_report(struct monitor *m, struct heap_traced *h)
{
	struct run_info ri = { .mode = "monitor-heap", .exit_code = -1, .only = h->p };
	char name[96], path[PATH_MAX], e[4 * PATH_MAX];
	char *argv[1] = { h->p->exe ? h->p->exe : h->p->comm };
	cJSON *root;
	int err;

	if (!h->own)
		h->own = heapleaks_new(m);
	if (!h->own || session__heap_finish(&m->s, h->own)) {
		m->heap_report_errors++;
		pr_err("heap: pid %u: out of memory for its report\n", h->pid);
		return;
	}
	ri.argv = argv;
	ri.argc = 1;
	ri.start_real_ns = util__boot_to_real_ns(h->start_ns);
	ri.duration_s = h->p->end_ns > h->start_ns ? (h->p->end_ns - h->start_ns) / 1e9 : 0;
	ri.kernel = m->uts.release;
	ri.page_size = sysconf(_SC_PAGESIZE);
	ri.fds = !m->o.no_fds;
	ri.events_received = proctree__events(m->s.tree);
	ri.orphan_events = proctree__orphan_events(m->s.tree);
	tracer__stats(m->s.tr, ri.stats);
	ri.probes = tracer__probes(m->s.tr);
	ri.note = "a --heap-match process of no job; events counts are the whole monitor's";
	fill_heap_info(m, &ri, h->own);
	root = report__build(m->s.tree, &ri);
	snprintf(name, sizeof(name), "heap-%u-%llu.json", h->pid, (unsigned long long)h->start_ns);
	err = root ? 0 : -ENOMEM;
	if (!err && snprintf(path, sizeof(path), "%s/%s", m->spool, name) >= (int)sizeof(path))
		err = -ENAMETOOLONG;
	if (!err)
		err = report__write_json(path, root);
	cJSON_Delete(root);
	if (err) {
		m->heap_report_errors++;
		pr_err("heap: pid %u: its report could not be written to %s: %s\n", h->pid,
		       m->spool, strerror(-err));
		return;
	}
	m->heap_reports++;
	pr_info("heap: pid %u %s exited: %zu heap findings: %s\n", h->pid,
		util__esc(h->p->comm, e, sizeof(e)), heapleaks__count(h->own),
		util__esc(path, e, sizeof(e)));
}

/*
 * After each harvest: the findings of exited heap-traced processes to their job, or to a
 * report of their own; those processes are then done with.
 */
static void heap_place(struct monitor *m)
{
	size_t i;

	if (!m->s.leaks)
		return;
	if (!heapleaks__count(m->s.leaks) && m->nht == m->ht_alive)
		goto classes;
	if (heapleaks__take(m->s.leaks, heap_dest, m))
		pr_warn("heap: out of memory: some findings are lost\n");
	for (i = 0; i < m->nht;) {
		struct heap_traced *h = &m->ht[i];

		if (!h->exited) {
			i++;
			continue;
		}
		if (!h->p->job || !jobs__get(&m->jobs, h->p->job) || !job_heap(m, h->p->job, true))
			heap_report(m, h);
		heapleaks__free(h->own);
		*h = m->ht[--m->nht];
	}
classes:
	/*
	 * The hold's classes of the processes done with: nothing refers to them once no
	 * heap-traced process and no job's heap findings wait (bounded memory for weeks)
	 */
	if (!m->nht && !m->njh && leakclass__count(m->s.classes)) {
		struct leakclass *c = leakclass__new();

		if (c) {
			leakclass__free(m->s.classes);
			m->s.classes = c;
		}
	}
}

/*
 * @p, in no job, exec'd with the environment @env (@n bytes: what the kernel sent, or NULL to
 * read /proc/PID/environ, for a process seen running), or exec'd at all (@cgroup_only: its
 * cgroup may name a job): does it start one?
 */
static void detect(struct monitor *m, struct proc *p, uint64_t now, const char *env, size_t n,
		   bool cgroup_only, uint64_t cgroup_id)
{
	struct job_match jm;
	char cg[256] = "";
	bool have_cg = false, found = false;
	struct job *job;

	/* the cgroup the kernel saw at exec, else (seeded) the one /proc says now */
	if (cgroup_id)
		have_cg = cgroup_path(m, cgroup_id, cg, sizeof(cg));
	if (!cgroup_only) {
		if (!env) {
			n = read_environ(m, p->pid);
			env = m->env;
		}
		found = n && jobs__match_env(&m->o.jobs, env, n, &jm);
	}
	if (!found && m->o.jobs.n_cgroup) {
		if (!have_cg)
			have_cg = read_cgroup(p->pid, cg, sizeof(cg));
		found = have_cg && jobs__match_cgroup(&m->o.jobs, cg, &jm);
	}
	if (!found)
		return;
	job = jobs__root(&m->jobs, &jm, now);
	if (!job) {
		pr_warn("out of memory: the job of pid %u is not followed\n", p->pid);
		return;
	}
	p->job = job->id;
	p->job_root = true;
	if (job->roots == 1) {
		char e1[4 * QH_JOB_KEY_MAX], e2[4 * QH_JOB_NAME_MAX], e3[64];

		job->root_pid = p->pid;
		job->root_start_ns = p->start_ns;
		/* at its exec record the model has the file it exec'd; comm is the old one yet */
		snprintf(job->root_comm, sizeof(job->root_comm), "%s",
			 p->exe && strrchr(p->exe, '/') ? strrchr(p->exe, '/') + 1 : p->comm);
		if (!have_cg)
			read_cgroup(p->pid, cg, sizeof(cg));
		snprintf(job->cgroup, sizeof(job->cgroup), "%s", cg);
		job->start_real_ns = util__now_ns(CLOCK_REALTIME);
		job->procs++;
		pr_info("job %s %s (%s) started: pid %u %s\n", job_kind__str(jm.kind),
			util__esc(jm.key, e1, sizeof(e1)), util__esc(jm.name, e2, sizeof(e2)),
			p->pid, util__esc(job->root_comm, e3, sizeof(e3)));
	}
	pin(m, p);
}

/* The session's look at each record: jobs begin at exec, pass on at fork, end with roots. */
static void on_record(void *ctx, const void *data, size_t size)
{
	const struct qh_event_hdr *h = data;
	struct monitor *m = ctx;
	struct proc *p = proctree__find(m->s.tree, h->pid, h->start_ns), *parent;
	struct job *job;

	if (!p)
		return;
	switch (h->type) {
	case QH_EV_FORK:
		m->procs_seen++;
		if (size >= sizeof(struct qh_event_fork))
			p->job = ((const struct qh_event_fork *)data)->proc.job;
		if (!p->job) {
			/* forked before the kernel knew its parent's job: this one is told */
			parent = proctree__find_running(m->s.tree, p->ppid);
			if (parent && parent->job) {
				p->job = parent->job;
				pin(m, p);
			}
		}
		job = jobs__get(&m->jobs, p->job);
		if (job)
			job->procs++;
		/* a child has its parent's comm, exe and cgroup: a match's child is one too */
		if (m->o.n_heap_match) {
			struct heap_traced *ph;

			parent = proctree__find_running(m->s.tree, p->ppid);
			ph = parent ? heap_find(m, parent) : NULL;
			if (ph && !ph->exited)
				heap_trace(m, p, "fork", ph->held);
		}
		break;
	case QH_EV_EXEC:
		if (m->o.n_heap_match) {
			struct heap_traced *h = heap_find(m, p);
			char cg[256] = "";

			if (size >= sizeof(struct qh_event_exec))
				cgroup_path(m, ((const struct qh_event_exec *)data)->cgroup_id, cg,
					    sizeof(cg));
			if (heap_matches(m, p, cg, sizeof(cg)))
				heap_trace(m, p, "exec", false);
			else if (h)
				heap_untrace(m, p, false);
		}
		/* its variables come in their own record (QH_EV_JOB_ENV), right after this one */
		if (!p->job && m->o.jobs.n_cgroup && size >= sizeof(struct qh_event_exec))
			detect(m, p, h->ts_ns, NULL, 0, true,
			       ((const struct qh_event_exec *)data)->cgroup_id);
		break;
	case QH_EV_JOB_ENV:
		if (!p->job && size >= offsetof(struct qh_event_job_env, data)) {
			const struct qh_event_job_env *e = data;
			size_t n = e->len;

			if (n > size - offsetof(struct qh_event_job_env, data))
				n = size - offsetof(struct qh_event_job_env, data);
			m->env_records++;
			detect(m, p, h->ts_ns, e->data, n, false, 0);
		}
		break;
	case QH_EV_REAP:
		m->reaped++;
		break;
	case QH_EV_EXIT:
		heap_untrace(m, p, true);
		unpin(m, p);
		job = jobs__get(&m->jobs, p->job);
		if (job && p->job_root)
			jobs__root_exited(&m->jobs, job, h->ts_ns, m->grace_ns);
		p->job_root = false;
		break;
	default:
		break;
	}
}

static int by_start(const void *a, const void *b)
{
	const struct procfs_stat *x = a, *y = b;

	return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

struct seed {
	struct procfs_stat st;
	pid_t pid;
};

/*
 * Every process running now, parents before children (by start time), so a job's members are
 * found from their root; kernel threads are left out (they fork no user process). A process
 * forked meanwhile from a seeded parent came as a record already (EEXIST: skipped); the second
 * pass finds those forked from one not yet seeded.
 */
static int seed_all(struct monitor *m)
{
	uint64_t now = util__now_ns(CLOCK_BOOTTIME);
	struct seed *v = NULL;
	size_t n = 0, cap = 0, i, seeded = 0;
	struct dirent *d;
	struct proc *p, *parent;
	int pass, err;
	DIR *dir;

	for (pass = 0; pass < 2; pass++) {
		dir = opendir("/proc");
		if (!dir) {
			pr_err("/proc: %s\n", strerror(errno));
			return -errno;
		}
		n = 0;
		while ((d = readdir(dir))) {
			char *end;
			long pid = strtol(d->d_name, &end, 10);
			struct seed *e;

			if (*end || pid <= 0 || pid == getpid() || pid == 2)
				continue;
			if (proctree__find_running(m->s.tree, pid))
				continue;
			e = vec_push(v, n, cap);
			if (!e)
				break;
			e->pid = pid;
			if (procfs__read_stat(pid, &e->st) || e->st.ppid == 2 || e->st.state == 'Z' ||
			    e->st.state == 'X')
				n--;
		}
		closedir(dir);
		if (n)
			qsort(v, n, sizeof(*v), by_start);
		for (i = 0; i < n; i++) {
			err = session__seed(m->s.tr, m->s.tree, v[i].pid);
			if (err == -EEXIST || err == -ENOENT || err == -ESRCH)
				continue;
			if (err == -E2BIG || err == -ENOSPC) {
				pr_warn("the procs map is full after %zu processes: raise --max-procs\n",
					seeded);
				break;
			}
			if (err)
				continue;
			seeded++;
			p = proctree__find_running(m->s.tree, v[i].pid);
			if (!p)
				continue;
			parent = proctree__find_running(m->s.tree, p->ppid);
			if (parent && parent->job) {
				p->job = parent->job;
				pin(m, p);
				jobs__get(&m->jobs, p->job)->procs++;
			} else {
				detect(m, p, now, NULL, 0, false, 0);
			}
			if (m->o.n_heap_match) {
				char cg[256] = "";

				if (heap_matches(m, p, cg, sizeof(cg)))
					heap_trace(m, p, "running", false);
			}
		}
	}
	free(v);
	m->procs_seen += seeded;
	pr_info("monitor: %zu processes running, %zu jobs among them\n", seeded, m->jobs.n);
	return 0;
}

/* The spool directory: made if missing, never a symlink; 0 or QH_EXIT_ERROR (printed). */
static int open_spool(struct monitor *m)
{
	struct stat st;
	char *slash;

	if (!*m->o.spool) {
		pr_err("--spool: the directory name is empty\n");
		return QH_EXIT_USAGE;
	}
	if (snprintf(m->spool, sizeof(m->spool), "%s", m->o.spool) >= (int)sizeof(m->spool)) {
		pr_err("--spool %s: name too long\n", m->o.spool);
		return QH_EXIT_USAGE;
	}
	if (lstat(m->spool, &st) && errno == ENOENT) {
		/* its parent must exist (/var/lib/qhtrace is the unit's StateDirectory) */
		slash = strrchr(m->spool, '/');
		if (slash && slash != m->spool) {
			*slash = '\0';
			mkdir(m->spool, 0750);
			*slash = '/';
		}
		if (mkdir(m->spool, 0750) && errno != EEXIST) {
			pr_err("--spool %s: %s\n", m->spool, strerror(errno));
			return QH_EXIT_ERROR;
		}
	}
	if (lstat(m->spool, &st)) {
		pr_err("--spool %s: %s\n", m->spool, strerror(errno));
		return QH_EXIT_ERROR;
	}
	if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
		pr_err("--spool %s: %s\n", m->spool,
		       S_ISLNK(st.st_mode) ? "is a symbolic link (refused)" : "not a directory");
		return QH_EXIT_ERROR;
	}
	if (access(m->spool, W_OK | X_OK)) {
		pr_err("--spool %s: %s\n", m->spool, strerror(errno));
		return QH_EXIT_ERROR;
	}
	return 0;
}

static cJSON *time_json(uint64_t boot_ns)
{
	char buf[40];
	uint64_t real = util__boot_to_real_ns(boot_ns);

	return real ? cJSON_CreateString(util__rfc3339(real, buf, sizeof(buf))) : cJSON_CreateNull();
}

static cJSON *proc_ref_json(const struct proc *p, const char *reason, uint64_t now)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "pid", p->pid);
	cJSON_AddNumberToObject(o, "ppid", p->ppid);
	cJSON_AddStringToObject(o, "comm", p->comm);
	if (p->exe)
		cJSON_AddStringToObject(o, "exe", p->exe);
	cJSON_AddItemToObject(o, "start_time", time_json(p->start_ns));
	if (reason)
		cJSON_AddStringToObject(o, "reason", reason);
	cJSON_AddNumberToObject(o, "age_s", now > p->start_ns ? (now - p->start_ns) / 1e9 : 0);
	cJSON_AddNumberToObject(o, "rss_kb", QH_RSS_TOTAL(p->stats.rss_pages) *
						     (sysconf(_SC_PAGESIZE) / 1024));
	return o;
}

/* Is @p still the process it was (pid and start time), and is it a zombie? */
static bool alive(const struct proc *p, bool *zombie)
{
	struct procfs_stat st;

	*zombie = false;
	if (procfs__read_stat(p->pid, &st))
		return false;
	if (!procfs__same_start(st.start_ns, p->start_ns))
		return false;
	*zombie = st.state == 'Z';
	return true;
}

/*
 * @job ended (its grace is over, or qhtrace stops: @final): what of it is alive outlived it,
 * terminated and verified with --cleanup (processes of the job only: the model's, by pid and
 * start time); its report goes to the spool.
 */
static void finish_job(struct monitor *m, struct job *job, bool final)
{
	uint64_t now = util__now_ns(CLOCK_BOOTTIME);
	struct run_info ri = { .mode = "monitor-job", .exit_code = -1, .job = job->id };
	struct proc **left = NULL, *p;
	size_t nleft = 0, cap = 0, nzombies = 0;
	struct cleanup *c = NULL;
	cJSON *root, *jo, *arr, *zarr;
	char name[NAME_MAX + 1], path[PATH_MAX];
	char *argv[1], ekey[4 * QH_JOB_KEY_MAX], epath[4 * PATH_MAX];
	struct job_heap *jh;
	struct qh_proc cur;
	bool zombie, early;
	int err;

	root = NULL;
	zarr = cJSON_CreateArray();
	for (p = proctree__first(m->s.tree); p; p = p->next) {
		if (p->job != job->id || p->state == PROC_REAPED)
			continue;
		if (!alive(p, &zombie))
			continue;
		if (zombie) {
			nzombies++;
			cJSON_AddItemToArray(zarr, proc_ref_json(p, NULL, now));
			continue;
		}
		if (p->state != PROC_RUNNING)
			continue;
		if (!vec_push(left, nleft, cap))
			break;
		left[nleft - 1] = p;
		/* its counters now (the model has them as of its last record) */
		if (!tracer__lookup(m->s.tr, p->pid, &cur) &&
		    procfs__same_start(cur.start_ns, p->start_ns))
			p->stats = cur;
	}
	/*
	 * At a stop, what a job still running or still in its grace holds has outlived nothing
	 * yet: listed as alive_at_stop, never cleaned.
	 */
	early = final && (job->state == JOB_RUNNING || job->due_ns > now);
	job->outlived = early ? 0 : nleft;
	m->outlived_by_kind[job->m.kind] += job->outlived;
	for (size_t i = 0; i < job->outlived; i++)
		left[i]->outlived_kind = job->m.kind + 1;
	arr = cJSON_CreateArray();
	for (size_t i = 0; i < nleft; i++)
		cJSON_AddItemToArray(arr, proc_ref_json(left[i], early ? "alive_at_stop"
								      : "outlived_job", now));
	/* only what outlived its job is cleaned */
	if (m->cleanup) {
		struct cleanup_opts co = {
			.timeout_ms = m->o.watch.force_cleanup_timeout_ms,
			.max_attempts = m->o.watch.max_cleanup_attempts,
		};
		uint32_t attempted, ok, failed;

		c = cleanup__new(&co);
		if (c && job->outlived && !cleanup__run(c, m->s.tree, left, nleft)) {
			const struct cleanup_action *acts;
			size_t na = cleanup__actions(c, &acts);

			cleanup__counts(c, &attempted, &ok, &failed);
			m->cleaned += ok;
			for (size_t i = 0; i < na; i++)
				m->cleanup_results[!acts[i].verified ?
						   (acts[i].attempts ? MON_CLEANUP_FAILED
								     : MON_CLEANUP_REFUSED) :
						   acts[i].signal == SIGKILL ? MON_CLEANUP_KILLED
									     : MON_CLEANUP_TERMINATED]++;
		}
		/* their exits, so the report's processes say how they ended */
		session__drain(&m->s, 50);
	}
	m->outlived += job->outlived;

	argv[0] = job->root_comm;
	ri.argv = argv;
	ri.argc = 1;
	ri.start_real_ns = job->start_real_ns;
	ri.duration_s = ((job->end_ns ?: now) - job->start_ns) / 1e9;
	ri.kernel = m->uts.release;
	ri.page_size = sysconf(_SC_PAGESIZE);
	ri.fds = !m->o.no_fds;
	ri.events_received = proctree__events(m->s.tree);
	ri.orphan_events = proctree__orphan_events(m->s.tree);
	tracer__stats(m->s.tr, ri.stats);
	ri.probes = tracer__probes(m->s.tr);
	ri.cleanup = c;
	ri.note = "events counts (received, lost) are the whole monitor's, not this job's";
	jh = job_heap(m, job->id, false);
	if (jh) {
		if (session__heap_finish(&m->s, jh->leaks))
			pr_warn("job %s: out of memory for its heap findings\n",
				util__esc(job->m.key, ekey, sizeof(ekey)));
		fill_heap_info(m, &ri, jh->leaks);
	}
	root = report__build(m->s.tree, &ri);
	if (!root) {
		pr_err("job %s: out of memory for its report\n", util__esc(job->m.key, ekey, sizeof(ekey)));
		goto out;
	}
	jo = cJSON_AddObjectToObject(root, "job");
	cJSON_AddNumberToObject(jo, "id", job->id);
	cJSON_AddStringToObject(jo, "kind", job_kind__str(job->m.kind));
	cJSON_AddStringToObject(jo, "key", job->m.key);
	cJSON_AddStringToObject(jo, "name", job->m.name);
	cJSON_AddStringToObject(jo, "variable", job->m.var);
	cJSON_AddStringToObject(jo, "cgroup", job->cgroup);
	jobs__cgroup_unit(job->cgroup, name, sizeof(name));
	cJSON_AddStringToObject(jo, "unit", name);
	jobs__container_id(job->cgroup, name, sizeof(name));
	cJSON_AddStringToObject(jo, "container_id", name);
	cJSON_AddStringToObject(jo, "state", final && job->state == JOB_RUNNING ? "running"
							: "ended");
	cJSON_AddNumberToObject(jo, "root_pid", job->root_pid);
	cJSON_AddStringToObject(jo, "root_comm", job->root_comm);
	cJSON_AddNumberToObject(jo, "roots", job->roots);
	cJSON_AddItemToObject(jo, "start_time", time_json(job->start_ns));
	cJSON_AddItemToObject(jo, "end_time", job->end_ns ? time_json(job->end_ns)
							 : cJSON_CreateNull());
	cJSON_AddNumberToObject(jo, "grace_s", m->grace_ns / 1e9);
	cJSON_AddBoolToObject(jo, "grace_complete", !early);
	cJSON_AddNumberToObject(jo, "processes", job->procs);
	cJSON_AddNumberToObject(jo, "outlived", job->outlived);
	cJSON_AddNumberToObject(jo, "zombies", nzombies);
	cJSON_AddNumberToObject(jo, "processes_dropped", job->dropped);
	cJSON_AddItemToObject(root, "leftovers", arr);
	arr = NULL;
	cJSON_AddItemToObject(root, "zombies", zarr);
	zarr = NULL;

	err = jobs__report_name(job, name, sizeof(name));
	if (!err && snprintf(path, sizeof(path), "%s/%s", m->spool, name) >= (int)sizeof(path))
		err = -ENAMETOOLONG;
	if (!err)
		err = report__write_json(path, root);
	if (err) {
		m->report_errors++;
		pr_err("job %s: its report could not be written to %s: %s\n",
		       util__esc(job->m.key, ekey, sizeof(ekey)), m->spool, strerror(-err));
	} else {
		m->reports++;
		pr_info("job %s %s ended: %u processes, %u outlived it%s, %zu zombies: %s\n",
			job_kind__str(job->m.kind), util__esc(job->m.key, ekey, sizeof(ekey)), job->procs,
			job->outlived, c ? " (cleaned up)" : "", nzombies, util__esc(path, epath, sizeof(epath)));
	}
out:
	cJSON_Delete(root);
	cJSON_Delete(arr);
	cJSON_Delete(zarr);
	cleanup__free(c);
	free(left);
	if (jh) {
		heapleaks__free(jh->leaks);
		*jh = m->jh[--m->njh];
	}
	jobs__done(&m->jobs, job);
}

static void add_held(void *ctx, const struct proc *p)
{
	struct monitor *m = ctx;
	const struct proc **slot = vec_push(m->held, m->nheld, m->cap_held);

	if (slot)
		*slot = p;
}

static int ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(const struct proc *const *)a;
	uintptr_t y = (uintptr_t)*(const struct proc *const *)b;

	return x < y ? -1 : x > y;
}

static bool foldable(struct monitor *m, const struct proc *p)
{
	uint64_t now = m->fold_now_ns;

	if (p->state != PROC_REAPED || !p->reap_ns || now < p->reap_ns + m->fold_after_ns)
		return false;
	/* a job's processes are its report's, unless memory is short */
	if (p->job && !m->dropping && jobs__get(&m->jobs, p->job))
		return false;
	if (procwatch__holds(p) || heap_find(m, p))
		return false;
	return !m->nheld || !bsearch(&p, m->held, m->nheld, sizeof(*m->held), ptr_cmp);
}

static bool fd_gone(void *ctx, const struct proc *p)
{
	return foldable(ctx, p);
}

static bool fold_one(void *ctx, struct proc *p)
{
	struct monitor *m = ctx;
	struct job *job;

	if (!foldable(m, p) || !procwatch__release(m->s.watch, p))
		return false;
	job = p->job ? jobs__get(&m->jobs, p->job) : NULL;
	if (job) {
		job->dropped++;
		m->dropped++;
	}
	return true;
}

/*
 * data.max_memory_mb: from 80% of it, the findings kept shrink to the latest 100; at it, also
 * the exited processes of running jobs go (each job's report counts them), and the heap's free
 * pages go back to the system. Said once, and counted.
 */
static void budget(struct monitor *m)
{
	struct membudget_verdict v;

	m->dropping = false;
	if (membudget__check(m->o.settings.max_memory_mb, selfmem__rss_bytes(), &v) ||
	    v.action == MEMBUDGET_OK)
		return;
	if (!m->budget_warned++)
		pr_warn("monitor: %u%% of data.max_memory_mb (%u MiB): %s\n", v.used_pct,
			m->o.settings.max_memory_mb,
			v.action == MEMBUDGET_DROP ? "the exited processes of running jobs are let go "
						     "of (counted in their reports)"
						   : "findings kept cut to the latest 100");
	procwatch__trim(m->s.watch, 100);
	m->dropping = v.action == MEMBUDGET_DROP;
	malloc_trim(0);
}

/* Let go of what no one needs any more: see FOLD_AFTER_NS. */
static void fold(struct monitor *m, uint64_t now)
{
	size_t n;

	if (now < m->next_fold_ns && m->reaped < FOLD_BATCH)
		return;
	m->reaped = 0;
	m->fold_now_ns = now;
	procwatch__trim(m->s.watch, FINDINGS_KEEP);
	budget(m);
	m->nheld = 0;
	/* what the jobs' heap findings point at stays until their reports */
	for (size_t j = 0; j < m->njh; j++) {
		struct heap_leak *l;

		for (size_t i = 0; (l = heapleaks__get(m->jh[j].leaks, i)); i++)
			add_held(m, l->proc);
	}
	if (m->s.fdleaks)
		fdleaks__for_each_flagged(m->s.fdleaks, add_held, m);
	if (m->nheld) /* qsort's base must not be NULL, even for none */
		qsort(m->held, m->nheld, sizeof(*m->held), ptr_cmp);
	if (m->s.fdleaks)
		fdleaks__forget(m->s.fdleaks, fd_gone, m);
	n = proctree__remove_if(m->s.tree, fold_one, m);
	m->folded += n;
	if (n)
		pr_debug("monitor: %zu processes folded, %zu in the model\n", n,
			 proctree__count(m->s.tree));
	m->next_fold_ns = now + FOLD_EVERY_NS;
}

/*
 * A scrape: the model now, by group (the comm), job kind, driver and browser kind. Rows are
 * copied into m->metrics, never pointers; the tables are bounded (monmetrics.h).
 */
static int render_metrics(void *ctx, struct sbuf *out)
{
	struct monitor *m = ctx;
	struct mon_metrics *mm = &m->metrics;
	uint64_t page = sysconf(_SC_PAGESIZE), now = util__now_ns(CLOCK_BOOTTIME);
	uint64_t zgrace = (uint64_t)m->o.watch.zombie_grace_ms * 1000000, st[QH_STAT_MAX] = {};
	const struct driver_inst *d;
	struct mon_group *g;
	struct proc *p;
	size_t i;
	int k;

	monmetrics__reset(mm);
	mm->scrape_start_ns = util__now_ns(CLOCK_MONOTONIC);
	for (p = proctree__first(m->s.tree); p; p = p->next) {
		bool running = p->state == PROC_RUNNING;

		if (p->state == PROC_REAPED)
			continue;
		/* exited and not reaped for longer than the zombie grace: a zombie */
		if (!running && (!p->end_ns || now < p->end_ns + zgrace))
			continue;
		g = monmetrics__group(mm, p->comm[0] ? p->comm : "?");
		if (!g)
			return -ENOMEM;
		if (!running) {
			g->zombies++;
			continue;
		}
		g->alive++;
		g->fds += p->stats.fd_open;
		if (p->fd_scanned)
			g->sockets += p->fd_kind[QH_FD_SOCKET];
		g->rss_anon_bytes += p->stats.rss_pages[MM_ANONPAGES] * page;
		g->rss_file_bytes += p->stats.rss_pages[MM_FILEPAGES] * page;
		g->rss_shmem_bytes += p->stats.rss_pages[MM_SHMEMPAGES] * page;
		if (p->outlived_kind) {
			struct mon_leftover *l = monmetrics__leftover(mm, g->name,
					job_kind__str(p->outlived_kind - 1));

			if (l)
				l->alive++;
		}
		d = procwatch__driver_of(p);
		if (!d)
			continue;
		mm->webdriver_tree_rss_bytes += QH_RSS_TOTAL(p->stats.rss_pages) * page;
		if (d->driver == p) {
			struct mon_driver *dr = monmetrics__driver(mm, d->kind);

			if (dr)
				dr->alive++;
		} else if (procwatch__is_browser(m->s.watch, p)) {
			struct mon_browser *b = monmetrics__browser(mm, p->comm);

			if (b) {
				b->alive++;
				b->outlived_driver += d->end_ns != 0;
			}
		}
	}
	for (k = 0; k < JOB_KINDS; k++) {
		struct mon_job_kind *jk;
		uint64_t running = 0;

		if (!m->jobs.started[k] && !(k < JOB_ENV || (k == JOB_ENV && m->o.jobs.n_env) ||
					      (k == JOB_CGROUP && m->o.jobs.n_cgroup)))
			continue;
		jk = monmetrics__job_kind(mm, job_kind__str(k));
		if (!jk)
			return -ENOMEM;
		for (i = 0; i < m->jobs.n; i++)
			running += m->jobs.v[i]->m.kind == (enum job_kind)k;
		jk->running = running;
		jk->finished_total = m->jobs.finished[k];
		jk->leftovers_found_total = m->outlived_by_kind[k];
	}
	tracer__stats(m->s.tr, st);
	for (k = 0; k < QH_STAT_LOST_MAX; k++) {
		struct mon_lost *l = monmetrics__lost(mm, report__stat_name(k));

		if (l)
			l->total = st[k];
	}
	mm->processes_started_total = m->procs_seen;
	memcpy(mm->cleanup_total, m->cleanup_results, sizeof(mm->cleanup_total));
	monmetrics__read_self(&mm->self);
	k = monmetrics__render(mm, out);
	if (k || !m->o.n_heap_match)
		return k;
	/* --heap-match: what the heap probes cost and where they went */
	sbuf__printf(out, "# HELP qhtrace_heap_traced_processes Processes whose malloc family is "
		     "probed now (--heap-match).\n# TYPE qhtrace_heap_traced_processes gauge\n"
		     "qhtrace_heap_traced_processes %zu\n", m->ht_alive);
	sbuf__printf(out, "# HELP qhtrace_heap_traced_max Processes heap-traced at once at most "
		     "(--heap-max-roots).\n# TYPE qhtrace_heap_traced_max gauge\n"
		     "qhtrace_heap_traced_max %u\n", m->o.heap_max_roots);
	sbuf__printf(out, "# HELP qhtrace_heap_traced_total Processes given heap probes.\n"
		     "# TYPE qhtrace_heap_traced_total counter\nqhtrace_heap_traced_total %lu\n",
		     (unsigned long)m->heap_traced_total);
	sbuf__printf(out, "# HELP qhtrace_heap_refused_total Processes that matched --heap-match "
		     "and were not traced.\n# TYPE qhtrace_heap_refused_total counter\n"
		     "qhtrace_heap_refused_total{reason=\"max_roots\"} %lu\n"
		     "qhtrace_heap_refused_total{reason=\"attach_failed\"} %lu\n",
		     (unsigned long)m->heap_refused, (unsigned long)m->heap_failed);
	sbuf__printf(out, "# HELP qhtrace_heap_reports_total Heap reports of processes of no job "
		     "written (heap-PID-START.json).\n# TYPE qhtrace_heap_reports_total counter\n"
		     "qhtrace_heap_reports_total %lu\n", (unsigned long)m->heap_reports);
	return 0;
}

/* `qhtrace status` (root only: the socket's mode, and ctlsrv's peer check) */
static int on_request(void *ctx, const struct ctl_req *r, const struct ctl_peer *peer,
		      cJSON *reply)
{
	struct monitor *m = ctx;
	struct status_job *jobs;
	struct qh_proc cur;
	struct proc *p;
	size_t i;
	int err;

	(void)peer;
	if (r->op != CTL_STATUS) {
		cJSON_AddStringToObject(reply, "error", "the monitor answers \"status\" only");
		return -EINVAL;
	}
	jobs = calloc(m->jobs.n ? m->jobs.n : 1, sizeof(*jobs));
	if (!jobs)
		return -ENOMEM;
	for (i = 0; i < m->jobs.n; i++) {
		const struct job *j = m->jobs.v[i];

		jobs[i] = (struct status_job){
			.id = j->m.key, .kind = job_kind__str(j->m.kind), .name = j->m.name,
			.root_pid = j->root_pid, .root_start_ns = j->root_start_ns,
			.started_ns = j->start_ns,
		};
	}
	/* the jobs' live processes and their memory now */
	for (p = proctree__first(m->s.tree); p && m->jobs.n; p = p->next) {
		if (!p->job || p->state != PROC_RUNNING)
			continue;
		for (i = 0; i < m->jobs.n && m->jobs.v[i]->id != p->job; i++)
			;
		if (i == m->jobs.n)
			continue;
		jobs[i].alive++;
		if (!tracer__lookup(m->s.tr, p->pid, &cur) &&
		    procfs__same_start(cur.start_ns, p->start_ns))
			jobs[i].rss_bytes += QH_RSS_TOTAL(cur.rss_pages) * sysconf(_SC_PAGESIZE);
	}
	err = session__status(&m->s, "monitor", r->top, jobs, m->jobs.n, reply);
	free(jobs);
	if (!err && m->o.n_heap_match) {
		cJSON *h = cJSON_AddObjectToObject(reply, "heap");

		cJSON_AddNumberToObject(h, "traced", m->ht_alive);
		cJSON_AddNumberToObject(h, "max", m->o.heap_max_roots);
		cJSON_AddNumberToObject(h, "traced_total", m->heap_traced_total);
		cJSON_AddNumberToObject(h, "refused", m->heap_refused);
		cJSON_AddNumberToObject(h, "attach_failed", m->heap_failed);
		cJSON_AddNumberToObject(h, "reports", m->heap_reports);
	}
	return err;
}

/* The status socket: its directory made (root's, 0700) when the unit has not. */
static int open_status(struct monitor *m)
{
	const char *path = m->o.socket;
	struct epoll_event ev = { .events = EPOLLIN };
	char dir[PATH_MAX], *slash;

	if (!path || !*path)
		return 0;
	if (path[0] == '/' && snprintf(dir, sizeof(dir), "%s", path) < (int)sizeof(dir) &&
	    (slash = strrchr(dir, '/')) && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST) {
			pr_err("--socket %s: %s: %s\n", path, dir, strerror(errno));
			return -errno;
		}
	}
	if (ctlsrv__open_at(&m->ctl, path, 0, on_request, m))
		return -EINVAL;
	ev.data.fd = ctlsrv__fd(m->ctl);
	if (epoll_ctl(m->s.efd, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
		pr_err("epoll: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

/*
 * SIGHUP: the settings file again (--config). What the outputs read as they go takes effect
 * (monitoring_interval, the alert thresholds, the event log's rotation, max_memory_mb); keys
 * that need a restart keep their value (config.h); an error keeps every setting as it was.
 */
static void reload(struct monitor *m)
{
	struct config_changes *chg;
	struct qh_settings next;
	char why[512], line[320];
	size_t i;

	if (!m->o.config) {
		pr_info("monitor: SIGHUP: no --config file: nothing to reload\n");
		return;
	}
	chg = calloc(1, sizeof(*chg));
	if (!chg) {
		pr_warn("monitor: SIGHUP: out of memory: the settings in use stay\n");
		return;
	}
	notify__reloading();
	if (config__reload(m->o.config, &m->o.settings, &next, chg, why, sizeof(why))) {
		m->reload_errors++;
		pr_warn("monitor: reload: %s: the settings in use stay\n", why);
	} else {
		m->reloads++;
		m->o.settings = next;
		outputs__settings_changed(m->s.out);
		for (i = 0; i < chg->n; i++)
			pr_info("monitor: reloaded: %s\n",
				config__change_str(&chg->c[i], line, sizeof(line)));
		if (!chg->n)
			pr_info("monitor: reloaded %s: nothing changed\n", m->o.config);
	}
	free(chg);
	notify__ready();
}

static void tick_jobs(struct monitor *m)
{
	uint64_t now = util__now_ns(CLOCK_BOOTTIME);
	struct job *job;

	while ((job = jobs__due(&m->jobs, now)))
		finish_job(m, job, false);
}

int cmd_monitor(int argc, char **argv)
{
	struct monitor *m;
	int sfd = -1, err, code = QH_EXIT_ERROR;
	uint64_t deadline = 0;
	sigset_t oldmask;
	bool stop = false;

	m = calloc(1, sizeof(*m));
	if (!m) {
		pr_err("out of memory\n");
		return QH_EXIT_ERROR;
	}
	m->s.efd = -1;
	err = cli__parse_monitor(argc, argv, &m->o);
	if (err) {
		free(m);
		return err > 0 ? 0 : QH_EXIT_USAGE;
	}
	code = session__preflight(&m->o);
	if (code)
		goto out_free;
	code = open_spool(m);
	if (code)
		goto out_free;
	code = QH_EXIT_ERROR;
	m->env = malloc(ENV_MAX);
	if (!m->env) {
		pr_err("out of memory\n");
		goto out_free;
	}
	jobs__init(&m->jobs);
	uname(&m->uts);
	find_cg_root(m);
	m->grace_ns = (uint64_t)m->o.job_grace_ms * 1000000;
	m->fold_after_ns = FOLD_AFTER_NS;
	/* a node's daemons live for weeks: only a job's processes can outlive something */
	m->o.watch.max_resource_lifetime_s = 0;
	/*
	 * Its driver trees' PSS (smaps_rollup of every process of each browser) and its zombies
	 * are looked at every 2 s, not every 0.5 s as for one run: in a profile of the monitor
	 * (perf, cpu-clock) on this machine while other runs had browsers open, 27% of its
	 * samples were in smaps_rollup.
	 */
	m->o.watch.check_interval_ms = 2000;
	/* a log left at --events by the last run (a restart) is kept, as a closed file */
	m->o.events_keep = true;
	m->start_real_ns = util__now_ns(CLOCK_REALTIME);

	sfd = session__signals(&oldmask, true);
	if (sfd < 0)
		goto out;
	/*
	 * The session's own cleanup (the trees of drivers that ended) would reach processes of no
	 * job: on a node, --cleanup is for what outlived its job only.
	 */
	m->cleanup = m->o.watch.auto_cleanup;
	m->o.watch.auto_cleanup = false;
	/* the kernel looks for the job variables at exec (QH_EV_JOB_ENV) */
	m->o.n_job_env_names = jobs__env_names(&m->o.jobs, m->o.job_env_names,
					       sizeof(m->o.job_env_names) /
						       sizeof(m->o.job_env_names[0]));
	if (m->o.n_job_env_names > QH_JOB_ENV_NAMES) {
		pr_err("--job-env: %zu variables in all, the kernel looks for %d at most\n",
		       m->o.n_job_env_names, QH_JOB_ENV_NAMES);
		code = QH_EXIT_USAGE;
		goto out;
	}
	if (m->o.n_heap_match) {
		/* the heap of the matched processes only; every other process pays nothing */
		m->o.heap = true;
		if (tracer__find_libc(0, m->libc, sizeof(m->libc))) {
			pr_err("--heap-match: this program's C library was not found in "
			       "/proc/self/maps\n");
			goto out;
		}
	}
	if (session__open(&m->s, &m->o, m->libc, sfd))
		goto out;
	session__set_event_hook(&m->s, on_record, m);
	if (m->o.n_heap_match)
		session__set_heap_filter(&m->s, heap_filter, m);
	if (m->o.metrics_addr && *m->o.metrics_addr) {
		struct epoll_event ev = { .events = EPOLLIN };

		/* the error names the address (in use, malformed) */
		if (httpd__open(&m->httpd, m->o.metrics_addr, render_metrics, m))
			goto out;
		ev.data.fd = httpd__fd(m->httpd);
		if (epoll_ctl(m->s.efd, EPOLL_CTL_ADD, ev.data.fd, &ev)) {
			pr_err("epoll: %s\n", strerror(errno));
			goto out;
		}
		pr_info("monitor: metrics on http://%s/metrics\n", httpd__addr(m->httpd));
	}
	if (open_status(m))
		goto out;
	if (seed_all(m))
		goto out;
	/* systemd (Type=notify): the probes are on, the node's processes known */
	notify__ready();
	notify__status("tracing %zu processes, %zu jobs", proctree__count(m->s.tree), m->jobs.n);
	if (m->o.duration_s)
		deadline = util__now_ns(CLOCK_MONOTONIC) + m->o.duration_s * 1000000000ULL;

	while (!stop) {
		struct epoll_event evs[8];
		int i, n = epoll_wait(m->s.efd, evs, 8, 1000);

		if (n < 0 && errno != EINTR) {
			pr_err("epoll_wait: %s\n", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct signalfd_siginfo si;

			if (m->httpd && evs[i].data.fd == httpd__fd(m->httpd)) {
				httpd__process(m->httpd);
				continue;
			}
			if (m->ctl && evs[i].data.fd == ctlsrv__fd(m->ctl)) {
				ctlsrv__process(m->ctl);
				continue;
			}
			if (evs[i].data.fd != sfd) {
				if (!session__on_fd(&m->s, evs[i].data.fd))
					tracer__consume(m->s.tr);
				continue;
			}
			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD) {
					/* our own children only (alert hooks): we are no subreaper */
					while (waitpid(-1, NULL, WNOHANG) > 0)
						;
					continue;
				}
				if (session__own_signal(&si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					reload(m);
					continue;
				}
				pr_info("monitor: signal %u: writing what is pending\n",
					si.ssi_signo);
				stop = true;
			}
		}
		if (notify__watchdog_usec())
			notify__watchdog();
		session__tick(&m->s);
		heap_place(m);
		tick_jobs(m);
		fold(m, util__now_ns(CLOCK_BOOTTIME));
		if (deadline && util__now_ns(CLOCK_MONOTONIC) >= deadline)
			stop = true;
	}

	notify__stopping();
	/* what is on its way, then every job not reported yet, as it is now */
	session__drain(&m->s, 100);
	session__tick(&m->s);
	heap_place(m);
	tick_jobs(m);
	while (m->jobs.n)
		finish_job(m, m->jobs.v[0], true);
	{
		struct run_info ri = {};

		tracer__stats(m->s.tr, ri.stats);
		pr_info("monitor: %lu processes seen (%lu let go of), %lu job reports (%lu failed), "
			"%lu processes outlived their job, %lu cleaned up, %lu events lost\n",
			(unsigned long)m->procs_seen, (unsigned long)m->folded,
			(unsigned long)m->reports, (unsigned long)m->report_errors,
			(unsigned long)m->outlived, (unsigned long)m->cleaned,
			(unsigned long)report__lost(&ri));
		if (m->o.n_heap_match)
			pr_info("monitor: heap: %lu processes traced (%lu refused by --heap-max-roots, "
				"%lu could not be probed), %lu heap reports (%lu failed)\n",
				(unsigned long)m->heap_traced_total, (unsigned long)m->heap_refused,
				(unsigned long)m->heap_failed, (unsigned long)m->heap_reports,
				(unsigned long)m->heap_report_errors);
	}
	m->report_errors += m->heap_report_errors;
	code = m->report_errors ? QH_EXIT_ERROR : 0;
out:
	ctlsrv__close(m->ctl);
	httpd__close(m->httpd);
	monmetrics__free(&m->metrics);
	session__close(&m->s);
	session__signals_done(sfd, &oldmask);
	jobs__free(&m->jobs);
	free(m->env);
	free(m->held);
	for (size_t i = 0; i < m->nht; i++)
		heapleaks__free(m->ht[i].own);
	free(m->ht);
	for (size_t i = 0; i < m->njh; i++)
		heapleaks__free(m->jh[i].leaks);
	free(m->jh);
	for (size_t i = 0; i < m->ncg; i++)
		free(m->cg[i].path);
	free(m->cg);
out_free:
	free(m);
	return code;
}
