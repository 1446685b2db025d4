// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alerts.h"
#include "cli.h"
#include "evlog.h"
#include "fdleaks.h"
#include "fdtable.h"
#include "gate.h"
#include "heapleaks.h"
#include "leakclass.h"
#include "html.h"
#include "log.h"
#include "memseries.h"
#include "outputs.h"
#include "proctree.h"
#include "procwatch.h"
#include "report.h"
#include "util.h"

struct outputs {
	const struct attach_opts *o;
	struct evlog *log;
	struct evlog_opts lo;
	struct alerts *alerts;
	uint64_t mem_total_kb;
	uint64_t next_sample_ns;	/* CLOCK_MONOTONIC */
	struct memseries *mem;		/* --html: the memory samples, downsampled */
	int log_err;			/* the first failed write, reported once */
	size_t drivers_started;		/* driver trees logged as started */
	size_t drivers_ended;		/* ... and ended (they end in order seldom: a scan) */
	bool *driver_end_logged;
	size_t cap_driver_end;
};

int outputs__preflight(const struct attach_opts *o)
{
	const char *paths[] = { o->events, o->junit, o->summary_md, o->html };
	const char *what[] = { "the event log", "the JUnit report", "the Markdown summary",
			       "the HTML report" };
	char why[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		if (paths[i] && util__check_output(paths[i], why, sizeof(why))) {
			pr_err("cannot write %s to %s: %s\n", what[i], paths[i], why);
			return -EINVAL;
		}
	}
	return 0;
}

void outputs__log_rotation(const struct qh_settings *s, struct evlog_rotation *rot)
{
	rot->max_bytes = (uint64_t)s->log_max_size_mb << 20;
	rot->max_age_s = (uint64_t)s->log_max_age_hours * 3600;
	rot->keep = s->log_keep;
}

int outputs__open(struct outputs **out, const struct attach_opts *o)
{
	const struct qh_settings *s = &o->settings;
	struct outputs *r = calloc(1, sizeof(*r));
	int err;

	*out = NULL;
	if (!r)
		return -ENOMEM;
	r->o = o;
	r->mem_total_kb = alerts__mem_total_kb();
	if (o->html && !(r->mem = memseries__new(HTML_SERIES_POINTS))) {
		free(r);
		return -ENOMEM;
	}
	if (o->events) {
		r->lo.chunk_size = s->chunk_size;
		r->lo.level = s->compression_level;
		r->lo.gzip = s->compression_type == QH_COMPRESS_GZIP ||
			     (s->compression_type == QH_COMPRESS_AUTO &&
			      evlog__path_is_gzip(o->events));
		outputs__log_rotation(s, &r->lo.rot);
		r->lo.version = QH_VERSION;
		r->lo.keep_existing = o->events_keep;
		err = evlog__open(&r->log, o->events, &r->lo);
		if (err) {
			pr_err("cannot write the event log to %s: %s\n", o->events, strerror(-err));
			memseries__free(r->mem);
			free(r);
			return err;
		}
	}
	r->alerts = alerts__new(&(struct alerts_opts){
		.exec = o->alert_exec,
		.timeout_s = o->alert_timeout_s,
		.log = r->log,
		.tty = isatty(STDERR_FILENO),
	});
	if (!r->alerts) {
		outputs__close(r);
		return -ENOMEM;
	}
	/* stderr is the traced command's too: a CI log gets the alerts' lines after the run */
	alerts__hold_lines(r->alerts, !isatty(STDERR_FILENO));
	*out = r;
	return 0;
}

void outputs__settings_changed(struct outputs *r)
{
	struct evlog_rotation rot;

	if (!r || !r->log)
		return;
	outputs__log_rotation(&r->o->settings, &rot);
	evlog__set_rotation(r->log, &rot);
}

void outputs__close(struct outputs *r)
{
	if (!r)
		return;
	alerts__free(r->alerts);
	free(r->driver_end_logged);
	evlog__close(r->log);
	memseries__free(r->mem);
	free(r);
}

struct alerts *outputs__alerts(struct outputs *r)
{
	return r ? r->alerts : NULL;
}

static void log_err(struct outputs *r, int err)
{
	if (err && !r->log_err) {
		r->log_err = err;
		pr_warn("event log: write failed: %s (later events are not logged)\n",
			strerror(-err));
	}
}

static void log_end(struct outputs *r)
{
	log_err(r, evlog__end(r->log));
}

static void log_proc(struct outputs *r, const struct qh_event_hdr *h, const char *kind)
{
	evlog__begin(r->log, util__boot_to_real_ns(h->ts_ns), kind);
	evlog__u64(r->log, "pid", h->pid);
}

void outputs__event(struct outputs *r, struct proctree *t, const void *data, size_t size)
{
	const struct qh_event_hdr *h = data;
	struct proc *p;

	if (!r || !r->log || r->log_err || size < sizeof(*h))
		return;
	p = proctree__find(t, h->pid, h->start_ns);
	switch (h->type) {
	case QH_EV_FORK:
		if (size < sizeof(struct qh_event_fork))
			return;
		log_proc(r, h, "fork");
		evlog__u64(r->log, "ppid", ((const struct qh_event_fork *)data)->proc.ppid);
		evlog__str(r->log, "comm",
			   (const char *)((const struct qh_event_fork *)data)->comm);
		break;
	case QH_EV_EXEC: {
		const struct qh_event_exec *e = data;

		if (size < sizeof(*e))
			return;
		log_proc(r, h, "exec");
		evlog__str(r->log, "comm", (const char *)e->comm);
		evlog__str(r->log, "filename", (const char *)e->filename);
		break;
	}
	case QH_EV_EXIT: {
		const struct qh_event_exit *e = data;
		const struct qh_proc *s = &e->proc;
		int st = s->exit_status;

		if (size < sizeof(*e))
			return;
		log_proc(r, h, "exit");
		evlog__str(r->log, "comm", (const char *)e->comm);
		if (WIFSIGNALED(st))
			evlog__u64(r->log, "signal", WTERMSIG(st));
		else
			evlog__u64(r->log, "exit_code", WEXITSTATUS(st));
		evlog__u64(r->log, "peak_rss_kb",
			   s->peak_rss_pages * (sysconf(_SC_PAGESIZE) / 1024));
		evlog__u64(r->log, "heap_outstanding_bytes", s->heap_live_bytes);
		break;
	}
	case QH_EV_REAP:
		log_proc(r, h, "reap");
		if (p)
			evlog__str(r->log, "comm", p->comm);
		break;
	case QH_EV_LIBC:
	case QH_EV_LIBC_NEW:
		log_proc(r, h, h->type == QH_EV_LIBC ? "heap_hooked" : "libc_mapped");
		if (p)
			evlog__str(r->log, "comm", p->comm);
		break;
	default:
		return;
	}
	log_end(r);
}

bool outputs__tick(struct outputs *r, uint64_t now)
{
	if (!r)
		return false;
	alerts__tick(r->alerts);
	/* a log past its age is rotated in a quiet spell too, not at its next chunk */
	if (r->log && !r->log_err)
		log_err(r, evlog__tick(r->log));
	if (now < r->next_sample_ns)
		return false;
	r->next_sample_ns = now + r->o->settings.monitoring_interval * NSEC_PER_SEC;
	return true;
}

uint64_t outputs__memory_proc(struct outputs *r, const struct proc *p, const struct qh_proc *cur,
			     uint64_t page_size)
{
	uint64_t kb = page_size / 1024;
	uint64_t rss = QH_RSS_TOTAL(cur->rss_pages);

	/* a process seeded from /proc has its RSS by kind only after its next rss_stat */
	if (!rss)
		rss = cur->base_rss_pages;
	if (r->mem) {
		struct mem_sample s = {
			.t_ms = util__now_ns(CLOCK_REALTIME) / 1000000,
			.rss_kb = rss * kb,
			.file_kb = cur->rss_pages[MM_FILEPAGES] * kb,
			.anon_kb = cur->rss_pages[MM_ANONPAGES] * kb,
			.shmem_kb = cur->rss_pages[MM_SHMEMPAGES] * kb,
			.swap_kb = cur->rss_pages[MM_SWAPENTS] * kb,
		};

		/* out of memory: the page says how many samples it had */
		memseries__add(r->mem, p->pid, p->comm, &s);
	}
	if (r->log && !r->log_err) {
		evlog__begin(r->log, util__now_ns(CLOCK_REALTIME), "memory");
		evlog__u64(r->log, "pid", p->pid);
		evlog__str(r->log, "comm", p->comm);
		evlog__u64(r->log, "rss_kb", rss * kb);
		evlog__u64(r->log, "peak_rss_kb", cur->peak_rss_pages * kb);
		/* by kind, for the HTML report's memory charts */
		evlog__u64(r->log, "rss_file_kb", cur->rss_pages[MM_FILEPAGES] * kb);
		evlog__u64(r->log, "rss_anon_kb", cur->rss_pages[MM_ANONPAGES] * kb);
		evlog__u64(r->log, "rss_shmem_kb", cur->rss_pages[MM_SHMEMPAGES] * kb);
		evlog__u64(r->log, "swap_kb", cur->rss_pages[MM_SWAPENTS] * kb);
		evlog__u64(r->log, "heap_kb", cur->heap_bytes / 1024);
		evlog__u64(r->log, "mmap_anon_kb", cur->mmap_anon_bytes / 1024);
		/* threads and fds over time, at each sample */
		evlog__u64(r->log, "threads", cur->threads);
		evlog__u64(r->log, "fds", cur->fd_open);
		log_end(r);
	}
	return rss * kb;
}

void outputs__memory_total(struct outputs *r, uint64_t rss_kb, uint64_t nprocs)
{
	double pct, limit = r->o->settings.memory_usage_percent;

	if (!r->mem_total_kb)
		return;
	pct = 100.0 * rss_kb / r->mem_total_kb;
	alerts__check(r->alerts, "memory_usage", "tree", pct >= 95 ? SEV_CRITICAL : SEV_HIGH, pct,
		      limit, "the traced processes (%lu) use %.1f%% of memory (%lu of %lu kB), "
		      "threshold %.0f%%", (unsigned long)nprocs, pct, (unsigned long)rss_kb,
		      (unsigned long)r->mem_total_kb, limit);
}

void outputs__heap_check(struct outputs *r, struct heapleaks *h)
{
	pr_debug("heap check: %lu blocks live\n", (unsigned long)heapleaks__total_blocks(h));
	if (!r || !r->log || r->log_err)
		return;
	evlog__begin(r->log, util__now_ns(CLOCK_REALTIME), "heap_check");
	evlog__u64(r->log, "sites", heapleaks__count(h));
	evlog__u64(r->log, "blocks", heapleaks__total_blocks(h));
	evlog__u64(r->log, "bytes", heapleaks__total_bytes(h));
	log_end(r);
}

void outputs__heap_findings(struct outputs *r, struct heapleaks *h)
{
	struct heap_leak *l;
	size_t i;

	for (i = 0; (l = heapleaks__get(h, i)); i++) {
		const struct heap_frame *f = l->nframes ? &l->frames[0] : NULL;
		char key[64], site[256];

		if (f && f->symbol && f->file)
			snprintf(site, sizeof(site), "%s (%s:%u)", f->symbol,
				 strrchr(f->file, '/') ? strrchr(f->file, '/') + 1 : f->file,
				 f->line);
		else if (f && f->symbol)
			snprintf(site, sizeof(site), "%s+0x%lx", f->symbol,
				 (unsigned long)f->offset);
		else
			snprintf(site, sizeof(site), "0x%lx", (unsigned long)l->caller);
		if (r->log && !r->log_err) {
			evlog__begin(r->log, util__now_ns(CLOCK_REALTIME), "heap_leak");
			evlog__u64(r->log, "pid", l->proc->pid);
			evlog__str(r->log, "comm", l->proc->comm);
			evlog__str(r->log, "severity", severity__str(l->severity));
			evlog__str(r->log, "leak_kind", leak_kind__name(l->kind));
			evlog__bool(r->log, "counted", l->counted);
			evlog__u64(r->log, "bytes", l->bytes);
			evlog__u64(r->log, "count", l->count);
			evlog__str(r->log, "site", site);
			log_end(r);
		}
		if (!l->counted)
			continue;
		snprintf(key, sizeof(key), "%u:%lx", l->proc->pid, (unsigned long)l->caller);
		alerts__check(r->alerts, "memory_leak", key, l->severity, l->bytes / 1048576.0,
			      r->o->settings.memory_leak_mb,
			      "pid %u (%s) leaked %.1f MiB in %lu blocks at %s (threshold %u MiB)",
			      l->proc->pid, l->proc->comm, l->bytes / 1048576.0,
			      (unsigned long)l->count, site, r->o->settings.memory_leak_mb);
	}
}

void outputs__fd_findings(struct outputs *r, struct fdleaks *f)
{
	const struct fd_leak *l;
	size_t i;

	if (!r || !r->log || r->log_err)
		return;
	for (i = 0; (l = fdleaks__get(f, i)); i++) {
		evlog__begin(r->log, util__now_ns(CLOCK_REALTIME),
			     fd_leak__is_socket(l) ? "socket_leak" : "fd_leak");
		evlog__u64(r->log, "pid", l->proc->pid);
		evlog__str(r->log, "comm", l->proc->comm);
		evlog__str(r->log, "severity", severity__str(l->severity));
		evlog__str(r->log, "kind", fd_kind__str(l->kind));
		evlog__str(r->log, "target", l->target);
		if (fd_leak__is_socket(l))
			evlog__str(r->log, "state", tcp_state__str(l->tcp_state));
		evlog__u64(r->log, "count", l->count);
		evlog__str(r->log, "reason", l->reason);
		evlog__str(r->log, "site", l->site);
		log_end(r);
	}
}

static void log_driver(struct outputs *r, const struct driver_inst *d, bool end)
{
	const struct proc *p = d->driver;

	evlog__begin(r->log, util__boot_to_real_ns(end ? d->end_ns : d->start_ns),
		     end ? "driver_end" : "driver_start");
	evlog__u64(r->log, "pid", p->pid);
	evlog__str(r->log, "comm", p->comm);
	evlog__u64(r->log, "driver", d->id);
	evlog__str(r->log, "driver_kind", d->kind);
	if (end) {
		if (p->has_exit && WIFSIGNALED(p->exit_status))
			evlog__u64(r->log, "signal", WTERMSIG(p->exit_status));
		else if (p->has_exit)
			evlog__u64(r->log, "exit_code", WEXITSTATUS(p->exit_status));
		evlog__u64(r->log, "processes", d->nprocs);
		evlog__u64(r->log, "peak_memory_kb", d->peak_rss_kb);
		if (d->pss_known)
			evlog__u64(r->log, "peak_pss_kb", d->peak_pss_kb);
	}
	log_end(r);
}

void outputs__drivers(struct outputs *r, const struct procwatch *w)
{
	const struct driver_inst *const *d;
	size_t n = procwatch__drivers(w, &d), i;

	if (!r || !r->log || r->log_err)
		return;
	for (; r->drivers_started < n; r->drivers_started++)
		log_driver(r, d[r->drivers_started], false);
	if (r->drivers_ended == n)
		return;
	if (n > r->cap_driver_end) {
		bool *v = realloc(r->driver_end_logged, 2 * n * sizeof(*v));

		if (!v)
			return;
		memset(v + r->cap_driver_end, 0, (2 * n - r->cap_driver_end) * sizeof(*v));
		r->driver_end_logged = v;
		r->cap_driver_end = 2 * n;
	}
	for (i = 0; i < n; i++) {
		if (!d[i]->end_ns || r->driver_end_logged[i])
			continue;
		r->driver_end_logged[i] = true;
		r->drivers_ended++;
		log_driver(r, d[i], true);
	}
}

/* The end of the run in the log: the leftovers, and what the cleanup did to each */
static void log_leftovers(struct outputs *r, const cJSON *root)
{
	const cJSON *it, *v;
	uint64_t now = util__now_ns(CLOCK_REALTIME);

	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(root, "leftovers")) {
		evlog__begin(r->log, now, "leftover");
		cJSON_ArrayForEach(v, it) {
			if (cJSON_IsNumber(v) && v->valuedouble == (uint64_t)v->valuedouble)
				evlog__u64(r->log, v->string, (uint64_t)v->valuedouble);
			else if (cJSON_IsNumber(v))
				evlog__dbl(r->log, v->string, v->valuedouble);
			else if (cJSON_IsString(v))
				evlog__str(r->log, v->string, v->valuestring);
		}
		log_end(r);
	}
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(
				       cJSON_GetObjectItemCaseSensitive(root, "cleanup"), "actions")) {
		evlog__begin(r->log, now, "cleanup");
		cJSON_ArrayForEach(v, it) {
			if (cJSON_IsNumber(v))
				evlog__u64(r->log, v->string, (uint64_t)v->valuedouble);
			else if (cJSON_IsString(v))
				evlog__str(r->log, v->string, v->valuestring);
			else if (cJSON_IsBool(v))
				evlog__bool(r->log, v->string, cJSON_IsTrue(v));
		}
		log_end(r);
	}
}

/* fds an fd finding holds (a finding without a count is one) */
static double fds_held(const cJSON *it)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "count");

	return cJSON_IsNumber(n) ? n->valuedouble : 1;
}

static bool same_str(const cJSON *a, const cJSON *b, const char *k)
{
	const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, k);
	const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, k);

	if (!cJSON_IsString(x) || !cJSON_IsString(y))
		return !cJSON_IsString(x) && !cJSON_IsString(y);
	return !strcmp(x->valuestring, y->valuestring);
}

/* Two findings about the same fds: one process (pid, start), one kind and target. */
static bool same_fds(const cJSON *a, const cJSON *b)
{
	const cJSON *pa = cJSON_GetObjectItemCaseSensitive(a, "pid");
	const cJSON *pb = cJSON_GetObjectItemCaseSensitive(b, "pid");

	return cJSON_IsNumber(pa) && cJSON_IsNumber(pb) && pa->valuedouble == pb->valuedouble &&
	       same_str(a, b, "start_time") && same_str(a, b, "kind") &&
	       same_str(a, b, "target") && same_str(a, b, "state");
}

/*
 * The fds the fd findings hold, each counted once: one file can be the subject of two
 * findings (growing, and left open at the end), which hold the same fds; the larger count
 * stands for both. @worst: the highest severity among them.
 */
static double fds_held_all(const cJSON *leaks, enum severity *worst)
{
	static const char *const arrays[] = { "fds", "sockets" };
	const cJSON *it, *jt;
	double held = 0;
	int i, j;

	*worst = SEV_LOW;
	for (i = 0; i < 2; i++) {
		cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(leaks, arrays[i])) {
			const cJSON *sv = cJSON_GetObjectItemCaseSensitive(it, "severity");
			enum severity sev;
			bool dup = false;

			if (cJSON_IsString(sv) && !severity__parse(sv->valuestring, &sev) &&
			    sev > *worst)
				*worst = sev;
			/* counted with an earlier finding of the same fds, or counted here */
			for (j = 0; j <= i && !dup; j++) {
				cJSON_ArrayForEach(jt, cJSON_GetObjectItemCaseSensitive(leaks,
											arrays[j])) {
					if (jt == it)
						break;
					if (same_fds(it, jt)) {
						dup = true;
						break;
					}
				}
			}
			if (dup)
				continue;
			/* the largest count of this finding and those after it about the same */
			{
				double n = fds_held(it);
				const cJSON *kt;

				for (j = i; j < 2; j++)
					cJSON_ArrayForEach(kt, cJSON_GetObjectItemCaseSensitive(
								       leaks, arrays[j]))
						if (kt != it && same_fds(it, kt) && fds_held(kt) > n)
							n = fds_held(kt);
				held += n;
			}
		}
	}
	return held;
}

static cJSON *alerts_json(struct alerts *a)
{
	cJSON *arr = cJSON_CreateArray();
	const struct alert *al;
	size_t i;

	for (i = 0; (al = alerts__get(a, i)); i++) {
		char *s = alert__json(al);
		cJSON *o = s ? cJSON_Parse(s) : NULL;

		free(s);
		if (o)
			cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static int write_text(const char *path, const char *what, char *text)
{
	int err;

	if (!text) {
		pr_err("failed to write %s to %s: %s\n", what, path, strerror(ENOMEM));
		return -ENOMEM;
	}
	err = util__write_file_atomic(path, text, strlen(text));
	if (err)
		pr_err("failed to write %s to %s: %s\n", what, path, strerror(-err));
	free(text);
	return err;
}

int outputs__finish(struct outputs *r, struct cJSON *root, struct run_info *ri)
{
	const struct attach_opts *o = r->o;
	const cJSON *leaks = cJSON_GetObjectItemCaseSensitive(root, "leaks");
	enum severity worst;
	struct gate_result g;
	double held = 0;
	char last[PATH_MAX];
	cJSON *ev, *al;
	int err = 0, c;

	/* fds and sockets the fd findings hold: left open by survivors, or growing; the alert
	 * is as severe as the worst of them, high at least (it crossed the threshold) */
	held = fds_held_all(leaks, &worst);
	if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(leaks, "fds")))
		alerts__check(r->alerts, "resource_leak", "fds", worst > SEV_HIGH ? worst : SEV_HIGH,
			      held,
			      o->resource_leak_count,
			      "%.0f file descriptors leaked or left open (threshold %u)", held,
			      o->resource_leak_count);
	/* tracing is over: the hooks of the last alerts finish (or time out) before the count */
	alerts__wait(r->alerts);
	al = cJSON_AddObjectToObject(root, "alert_stats");
	cJSON_AddNumberToObject(al, "fired", alerts__count(r->alerts) + alerts__dropped(r->alerts));
	cJSON_AddNumberToObject(al, "dropped", alerts__dropped(r->alerts));
	cJSON_AddNumberToObject(al, "hooks_failed", alerts__hooks_failed(r->alerts));
	cJSON_AddItemToObject(root, "alerts", alerts_json(r->alerts));
	if (gate__evaluate(root, o->fail_on, o->fail_severity, &g)) {
		pr_err("out of memory\n");
		return -ENOMEM;
	}
	ri->gate_failed = !g.pass;
	for (c = 0; c < GATE_NR; c++)
		if ((o->fail_on & (1U << c)) && g.count[c])
			pr_warn("gate: %s: %zu finding%s at or above %s (--fail-on)\n",
				gate__class_name(c), g.count[c], g.count[c] == 1 ? "" : "s",
				severity__str(g.floor));
	if (g.unjudged && (o->fail_on & (1U << GATE_LEAKS))) {
		const char *p = g.unjudged, *nl;

		for (; (nl = strchr(p, '\n')); p = nl + 1)
			pr_warn("gate: leaks: not judged: %.*s\n", (int)(nl - p), p);
	}
	cJSON_AddItemToObject(root, "verdict", gate__verdict_json(&g));
	if (r->log) {
		struct evlog_stats st;

		if (!r->log_err)
			log_leftovers(r, root);
		evlog__begin(r->log, util__now_ns(CLOCK_REALTIME), "verdict");
		evlog__bool(r->log, "pass", g.pass);
		for (c = 0; c < GATE_NR; c++)
			if (g.measured[c])
				evlog__u64(r->log, gate__class_name(c), g.count[c]);
		log_end(r);
		err = evlog__flush(r->log);
		evlog__stats(r->log, &st);
		snprintf(last, sizeof(last), "%s", evlog__last_rotated(r->log));
		err = evlog__close(r->log) ?: err;
		r->log = NULL;
		alerts__set_log(r->alerts, NULL);
		if (err && !r->log_err)
			pr_err("failed to write the event log %s: %s\n", o->events, strerror(-err));
		err = err ?: r->log_err;
		ev = cJSON_AddObjectToObject(root, "event_log");
		cJSON_AddStringToObject(ev, "path", o->events);
		cJSON_AddStringToObject(ev, "compression", r->lo.gzip ? "gzip" : "none");
		if (r->lo.gzip)
			cJSON_AddNumberToObject(ev, "compression_level", r->lo.level);
		cJSON_AddNumberToObject(ev, "chunk_size", r->lo.chunk_size);
		cJSON_AddNumberToObject(ev, "records", st.records);
		cJSON_AddNumberToObject(ev, "chunks", st.chunks);
		cJSON_AddNumberToObject(ev, "bytes_in", st.bytes_in);
		cJSON_AddNumberToObject(ev, "bytes_out", st.bytes_out);
		cJSON_AddNumberToObject(ev, "ratio",
					st.bytes_out ? (double)st.bytes_in / st.bytes_out : 0);
		cJSON_AddNumberToObject(ev, "rotations", st.rotations);
		cJSON_AddNumberToObject(ev, "rotate_failed", st.rotate_failed);
		cJSON_AddNumberToObject(ev, "files_removed", st.removed);
		if (last[0])
			cJSON_AddStringToObject(ev, "last_rotated", last);
		cJSON_AddBoolToObject(ev, "complete", !err);
	}
	if (o->junit && write_text(o->junit, "the JUnit report", gate__junit(root, &g)))
		err = err ?: -EIO;
	if (o->summary_md &&
	    write_text(o->summary_md, "the Markdown summary", gate__markdown(root, &g)))
		err = err ?: -EIO;
	if (o->html) {
		int herr = html__write(o->html, root, r->mem);

		if (herr) {
			pr_err("failed to write the HTML report to %s: %s\n", o->html,
			       strerror(-herr));
			err = err ?: herr;
		}
	}
	gate__release(&g);
	return err;
}
