// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "evread.h"
#include "htab.h"
#include "memseries.h"
#include "vec.h"

struct mp {
	struct mem_proc p;
	struct hnode hnode;
};

struct memseries {
	uint32_t max_points;
	struct htab byid;
	struct mp **procs;	/* in order of first sample */
	size_t n, cap;
	uint64_t samples;
	size_t points;
};

struct memseries *memseries__new(uint32_t max_points)
{
	struct memseries *m;

	if (max_points < 4 || max_points > 65536)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (m)
		m->max_points = max_points & ~1U;
	return m;
}

void memseries__free(struct memseries *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->procs[i]->p.pts);
		free(m->procs[i]);
	}
	free(m->procs);
	htab__free(&m->byid);
	free(m);
}

static struct mp *find(struct memseries *m, uint32_t pid)
{
	struct hnode *h;

	for (h = htab__first(&m->byid, htab__mix(pid)); h; h = htab__next(h))
		if (htab_entry(h, struct mp, hnode)->p.pid == pid)
			return htab_entry(h, struct mp, hnode);
	return NULL;
}

/* keep the sample with the higher RSS (its time too: the peak stays where it was) */
static void merge(struct mem_sample *into, const struct mem_sample *s)
{
	if (s->rss_kb > into->rss_kb)
		*into = *s;
}

int memseries__add(struct memseries *m, uint32_t pid, const char *comm,
		   const struct mem_sample *s)
{
	struct mp *e = find(m, pid);
	struct mem_proc *p;
	size_t i;

	if (!e) {
		if (vec_reserve(m->procs, m->cap, m->n + 1))
			return -ENOMEM;
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		if (htab__add(&m->byid, &e->hnode, htab__mix(pid))) {
			free(e);
			return -ENOMEM;
		}
		e->p.pid = pid;
		e->p.stride = 1;
		m->procs[m->n++] = e;
	}
	p = &e->p;
	if (comm)
		snprintf(p->comm, sizeof(p->comm), "%s", comm);
	if (s->rss_kb > p->peak_kb)
		p->peak_kb = s->rss_kb;
	p->seen++;
	m->samples++;
	/* the point being filled takes samples until it holds `stride` of them */
	if (p->pending && p->pending < p->stride) {
		merge(&p->pts[p->n - 1], s);
		p->pending++;
		return 0;
	}
	if (p->n == m->max_points) {
		/* full: pairs become one point, each point now stands for twice the samples */
		for (i = 0; i < p->n / 2; i++) {
			p->pts[i] = p->pts[2 * i];
			merge(&p->pts[i], &p->pts[2 * i + 1]);
		}
		m->points -= p->n - p->n / 2;
		p->n /= 2;
		p->stride *= 2;
	}
	if (vec_reserve(p->pts, p->cap, p->n + 1))
		return -ENOMEM;
	p->pts[p->n++] = *s;
	p->pending = 1;
	m->points++;
	return 0;
}

size_t memseries__count(const struct memseries *m)
{
	return m ? m->n : 0;
}

const struct mem_proc *memseries__get(const struct memseries *m, size_t i)
{
	return m && i < m->n ? &m->procs[i]->p : NULL;
}

uint64_t memseries__samples(const struct memseries *m)
{
	return m ? m->samples : 0;
}

size_t memseries__points(const struct memseries *m)
{
	return m ? m->points : 0;
}

uint64_t memseries__parse_time(const char *s)
{
	struct tm tm = { 0 };
	unsigned ms = 0;
	int n = 0, d = 0;
	time_t t;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return 0;
	if (s[n] == '.') {
		/* milliseconds: the first three digits of the fraction */
		for (n++; s[n] >= '0' && s[n] <= '9'; n++, d++)
			if (d < 3)
				ms = ms * 10 + (s[n] - '0');
		for (; d < 3; d++)
			ms *= 10;
	}
	if (s[n] != 'Z')
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t < 0)
		return 0;
	return (uint64_t)t * 1000 + ms;
}

static uint64_t num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

int memseries__read_log(struct memseries *m, const char *path, char *why, size_t len)
{
	struct evread *r;
	const char *line;
	size_t n;
	int err;

	err = evread__open(&r, path);
	if (err) {
		snprintf(why, len, "%s", strerror(-err));
		return err;
	}
	while ((err = evread__next(r, &line, &n)) > 0) {
		const cJSON *kind, *comm;
		struct mem_sample s;
		cJSON *o;

		/* most lines are other records: skip them before parsing */
		if (!memmem(line, n, "\"kind\":\"memory\"", 15))
			continue;
		o = cJSON_ParseWithLength(line, n);
		kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
		if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "memory") ||
		    !num(o, "pid")) {
			cJSON_Delete(o);
			continue;
		}
		s = (struct mem_sample){
			.t_ms = memseries__parse_time(
				cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "time"))),
			.rss_kb = num(o, "rss_kb"),
			.file_kb = num(o, "rss_file_kb"),
			.anon_kb = num(o, "rss_anon_kb"),
			.shmem_kb = num(o, "rss_shmem_kb"),
			.swap_kb = num(o, "swap_kb"),
		};
		comm = cJSON_GetObjectItemCaseSensitive(o, "comm");
		if (s.t_ms)
			err = memseries__add(m, num(o, "pid"),
					     cJSON_IsString(comm) ? comm->valuestring : NULL, &s);
		cJSON_Delete(o);
		if (err < 0) {
			snprintf(why, len, "%s", strerror(-err));
			evread__close(r);
			return err;
		}
	}
	if (err < 0)
		snprintf(why, len, "%s", evread__error(r));
	evread__close(r);
	return err < 0 ? err : 0;
}
