// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapleaks.h"
#include "htab.h"
#include "leakclass.h"
#include "vec.h"

static const char *const kind_names[LEAK__KINDS] = {
	[LEAK_DEFINITELY_LOST] = "definitely_lost",
	[LEAK_INDIRECTLY_LOST] = "indirectly_lost",
	[LEAK_POSSIBLY_LOST] = "possibly_lost",
	[LEAK_STILL_REACHABLE] = "still_reachable",
	[LEAK_UNCLASSIFIED] = "unclassified",
};

/* valgrind's --errors-for-leak-kinds words, in enum order */
static const char *const valgrind_names[LEAK__KINDS] = {
	"definite", "indirect", "possible", "reachable", "unclassified",
};

const char *leak_kind__name(int kind)
{
	return kind >= 0 && kind < LEAK__KINDS ? kind_names[kind] : "unknown";
}

int leak_kinds__parse(const char *list, uint32_t *mask, char *why, size_t len)
{
	const char *p = list, *comma;
	int k;

	*mask = 0;
	do {
		size_t n;

		comma = strchr(p, ',');
		n = comma ? (size_t)(comma - p) : strlen(p);
		if (n == 3 && !strncmp(p, "all", 3)) {
			*mask |= (1U << LEAK__KINDS) - 1;
		} else if (n == 4 && !strncmp(p, "none", 4)) {
			;
		} else {
			for (k = 0; k < LEAK__KINDS; k++)
				if ((strlen(kind_names[k]) == n && !strncmp(p, kind_names[k], n)) ||
				    (strlen(valgrind_names[k]) == n && !strncmp(p, valgrind_names[k], n)))
					break;
			if (k == LEAK__KINDS) {
				snprintf(why, len, "'%.*s' is not one of definite, indirect, possible, "
						   "reachable, unclassified, all, none",
					 (int)(n > 40 ? 40 : n), p);
				return -EINVAL;
			}
			*mask |= 1U << k;
		}
		p = comma + 1;
	} while (comma);
	return 0;
}

void leak_kinds__str(uint32_t mask, char *buf, size_t len)
{
	size_t off = 0;
	int k;

	buf[0] = '\0';
	for (k = 0; k < LEAK__KINDS && off < len; k++)
		if (mask & (1U << k))
			off += snprintf(buf + off, len - off, "%s%s", off ? "," : "", kind_names[k]);
}

struct cproc {
	struct leakclass_proc p;
	struct hnode hnode;
};

struct leakclass {
	struct htab by_key;
	struct cproc **v;
	size_t n, cap;
};

struct leakclass *leakclass__new(void)
{
	return calloc(1, sizeof(struct leakclass));
}

void leakclass__free(struct leakclass *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		free(c->v[i]->p.v);
		free(c->v[i]);
	}
	free(c->v);
	htab__free(&c->by_key);
	free(c);
}

static uint64_t key_hash(uint32_t tgid, uint32_t gen)
{
	return htab__mix(((uint64_t)tgid << 32) | gen);
}

static struct cproc *find(const struct leakclass *c, uint32_t tgid, uint32_t gen)
{
	struct hnode *n;

	for (n = htab__first(&c->by_key, key_hash(tgid, gen)); n; n = htab__next(n)) {
		struct cproc *e = htab_entry(n, struct cproc, hnode);

		if (e->p.tgid == tgid && e->p.gen == gen)
			return e;
	}
	return NULL;
}

static int by_addr(const void *a, const void *b)
{
	const struct leakclass_block *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

int leakclass__add(struct leakclass *c, const struct leakclass_proc *p)
{
	struct cproc *e = find(c, p->tgid, p->gen);
	struct leakclass_block *v = NULL;

	if (p->n) {
		v = malloc(p->n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memcpy(v, p->v, p->n * sizeof(*v));
		qsort(v, p->n, sizeof(*v), by_addr);
	}
	if (e) {
		free(e->p.v);
	} else {
		e = calloc(1, sizeof(*e));
		if (!e || vec_reserve(c->v, c->cap, c->n + 1) ||
		    htab__add(&c->by_key, &e->hnode, key_hash(p->tgid, p->gen))) {
			free(e);
			free(v);
			return -ENOMEM;
		}
		c->v[c->n++] = e;
	}
	e->p = *p;
	e->p.v = v;
	return 0;
}

const struct leakclass_proc *leakclass__find(const struct leakclass *c, uint32_t tgid,
					     uint32_t gen)
{
	struct cproc *e = c ? find(c, tgid, gen) : NULL;

	return e ? &e->p : NULL;
}

int leakclass__kind(const struct leakclass *c, uint32_t tgid, uint32_t gen, uint64_t addr,
		    const char **reason)
{
	const struct leakclass_proc *p = leakclass__find(c, tgid, gen);
	struct leakclass_block key = { .addr = addr }, *b;

	*reason = NULL;
	if (!p)
		return LEAK_UNCLASSIFIED;
	if (!p->classified) {
		*reason = p->reason;
		return LEAK_UNCLASSIFIED;
	}
	b = p->n ? bsearch(&key, p->v, p->n, sizeof(key), by_addr) : NULL;
	if (!b) {
		*reason = "made after the scan";
		return LEAK_UNCLASSIFIED;
	}
	return b->kind;
}

bool leakclass__after_scan(const struct leakclass *c, uint32_t tgid, uint32_t gen,
			   uint64_t made_ns)
{
	const struct leakclass_proc *p = leakclass__find(c, tgid, gen);

	return p && p->stop_ns && made_ns >= p->stop_ns;
}

size_t leakclass__count(const struct leakclass *c)
{
	return c ? c->n : 0;
}

const struct leakclass_proc *leakclass__get(const struct leakclass *c, size_t i)
{
	return c && i < c->n ? &c->v[i]->p : NULL;
}

/* ---- the runtime's own stacks ---- */

bool leakclass__is_runtime_module(const char *path)
{
	static const char *const prefixes[] = {
		"libc.so", "libc-", "ld-linux", "ld-", "libstdc++.so", "libgcc_s.so",
		"libpthread.so", "libpthread-", "libdl.so", "libdl-", "libm.so", "libm-",
	};
	const char *base;
	size_t i;

	if (!path || !*path)
		return false;
	base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(base, prefixes[i], strlen(prefixes[i])) && strstr(base, ".so"))
			return true;
	return false;
}

bool leakclass__is_runtime_stack(const struct heap_frame *f, size_t n)
{
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++)
		if (!leakclass__is_runtime_module(f[i].module))
			return false;
	return true;
}

/* ---- suppressions ---- */

/*
 * LeakSanitizer's TemplateMatch (sanitizer_common/sanitizer_suppressions.cpp), rule for
 * rule: '*' matches any run, '^' at the start and '$' anchor; without '^' the template may
 * start anywhere (a substring match); each chunk matches at its first occurrence.
 */
bool leaksupp__template_match(const char *templ, const char *str)
{
	bool start = false, asterisk = false;

	if (!str || !*str)
		return false;
	if (*templ == '^') {
		start = true;
		templ++;
	}
	while (*templ) {
		const char *tpos, *tpos1, *spos;
		char chunk[256];
		size_t n;

		if (*templ == '*') {
			templ++;
			start = false;
			asterisk = true;
			continue;
		}
		if (*templ == '$')
			return !*str || asterisk;
		if (!*str)
			return false;
		tpos = strchr(templ, '*');
		tpos1 = strchr(templ, '$');
		if (!tpos || (tpos1 && tpos1 < tpos))
			tpos = tpos1;
		n = tpos ? (size_t)(tpos - templ) : strlen(templ);
		if (n >= sizeof(chunk))
			return false;
		memcpy(chunk, templ, n);
		chunk[n] = '\0';
		spos = strstr(str, chunk);
		if (!spos || (start && spos != str))
			return false;
		str = spos + n;
		templ += n;
		start = false;
		asterisk = false;
	}
	return true;
}

void leaksupp__free(struct leaksupp *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->v[i].pattern);
		free(s->v[i].file);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int leaksupp__parse(struct leaksupp *s, const char *name, const char *text, char *why,
		    size_t len)
{
	size_t first = s->n, i;
	const char *p = text;
	uint32_t line = 0;

	while (*p) {
		const char *nl = strchr(p, '\n'), *b, *e;
		struct leaksupp_entry *ent;

		line++;
		e = nl ? nl : p + strlen(p);
		for (b = p; b < e && (*b == ' ' || *b == '\t'); b++)
			;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		p = nl ? nl + 1 : e + strlen(e);
		if (b == e || *b == '#')
			continue;
		if ((size_t)(e - b) < 5 || strncmp(b, "leak:", 5)) {
			const char *colon = memchr(b, ':', e - b);

			if (colon)
				snprintf(why, len, "%s:%u: '%.*s' is not a leak suppression (only "
						   "leak:PATTERN)", name, line, (int)(colon - b), b);
			else
				snprintf(why, len, "%s:%u: expected leak:PATTERN, got '%.*s'", name,
					 line, (int)(e - b > 60 ? 60 : e - b), b);
			goto fail;
		}
		b += 5;
		if (b == e) {
			snprintf(why, len, "%s:%u: leak: with an empty pattern", name, line);
			goto fail;
		}
		ent = vec_push(s->v, s->n, s->cap);
		if (!ent || !(ent->pattern = strndup(b, e - b)) || !(ent->file = strdup(name))) {
			snprintf(why, len, "%s: out of memory", name);
			goto fail;
		}
		ent->line = line;
	}
	return 0;
fail:
	for (i = first; i < s->n; i++) {
		free(s->v[i].pattern);
		free(s->v[i].file);
	}
	s->n = first;
	return -EINVAL;
}

int leaksupp__load(struct leaksupp *s, const char *path, char *why, size_t len)
{
	size_t n = 0, cap = 0;
	char *text = NULL;
	ssize_t got;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "%s: %s", path, strerror(-err));
		return err;
	}
	for (;;) {
		if (vec_reserve(text, cap, n + 4097)) {
			close(fd);
			free(text);
			snprintf(why, len, "%s: out of memory", path);
			return -ENOMEM;
		}
		got = read(fd, text + n, cap - n - 1);
		if (got <= 0)
			break;
		n += got;
	}
	err = got < 0 ? -errno : 0;
	close(fd);
	if (err) {
		snprintf(why, len, "%s: %s", path, strerror(-err));
		free(text);
		return err;
	}
	text[n] = '\0';
	if (strlen(text) != n) {
		snprintf(why, len, "%s: a NUL byte: not a text file", path);
		free(text);
		return -EINVAL;
	}
	err = leaksupp__parse(s, path, text, why, len);
	free(text);
	return err;
}

int leaksupp__match(const struct leaksupp *s, const struct heap_frame *f, size_t n)
{
	size_t i, j;

	for (j = 0; j < n; j++)
		for (i = 0; i < s->n; i++) {
			const char *pat = s->v[i].pattern;

			if (leaksupp__template_match(pat, f[j].symbol) ||
			    leaksupp__template_match(pat, f[j].file) ||
			    leaksupp__template_match(pat, f[j].module))
				return (int)i;
		}
	return -1;
}
