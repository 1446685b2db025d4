// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "opttab.h"
#include "procwatch.h"
#include "traceopts.h"

#define QH_CONFIG_MAX_BYTES (1 << 20)

enum key_type {
	K_UINT,		/* uint32_t in [min, max] */
	K_BOOL,
	K_PCT,		/* double in [min, max] */
	K_COMPRESSION,	/* "auto", "gzip", "none" */
	K_PATTERNS,	/* array of at most QH_MAX_PATTERNS strings */
};

struct key_def {
	const char *group;
	const char *name;
	enum key_type type;
	double min, max;
	double def;	/* K_PATTERNS: the lists of procwatch.h */
	/*
	 * The command-line option that sets it too (traceopts.h): the key's default is the
	 * option's, and so is its range, but for a min >= 0 given here (the file has no "0: none"
	 * or fractions of a second).
	 */
	const char *opt;
	size_t off;	/* of the value in struct qh_settings */
	size_t count_off; /* K_PATTERNS: of the count */
	/*
	 * A reload cannot change it (the probes are attached, the log's gzip stream is open):
	 * the old value stays until a restart.
	 */
	bool restart;
};

#define U(g, n, lo, hi, d)                                                                     \
	{ #g, #n, K_UINT, lo, hi, d, NULL, offsetof(struct qh_settings, n), 0, false }
/* set by an option too: its default and range (min: @lo if >= 0) */
#define O(g, n, t, opt, lo)                                                                    \
	{ #g, #n, t, lo, -1, 0, opt, offsetof(struct qh_settings, n), 0, false }
/* the same, but fixed until a restart */
#define OR(g, n, t, opt, lo)                                                                   \
	{ #g, #n, t, lo, -1, 0, opt, offsetof(struct qh_settings, n), 0, true }
#define UR(g, n, lo, hi, d)                                                                    \
	{ #g, #n, K_UINT, lo, hi, d, NULL, offsetof(struct qh_settings, n), 0, true }
#define P(g, n, opt)                                                                           \
	{ #g, #n, K_PATTERNS, 0, QH_MAX_PATTERNS, 0, opt, offsetof(struct qh_settings, n),     \
	  offsetof(struct qh_settings, n_##n), false }

/* the one table: validation, defaults, --print-defaults and the README are written from it */
static const struct key_def keys[] = {
	O(profiler, leak_check_interval, K_UINT, "check-interval", -1),
	O(profiler, leak_threshold_mb, K_UINT, "leak-threshold-mb", -1),
	OR(profiler, enable_leak_detection, K_BOOL, "heap", 0),
	U(profiler, monitoring_interval, 1, 86400, 5),
	U(profiler, max_snapshots, 1, 1000000, 100),
	P(profiler, suppressions, "suppressions"),
	U(data, max_memory_mb, 16, 1048576, 256),
	UR(data, chunk_size, 1, 1000000, 1000),
	{ "data", "compression_type", K_COMPRESSION, 0, 0, QH_COMPRESS_AUTO, NULL,
	  offsetof(struct qh_settings, compression_type), 0, true },
	UR(data, compression_level, 1, 9, 6),
	/* a node that runs for weeks: a day or 100 MB a file, a week of them */
	U(data, log_max_size_mb, 0, 1048576, 100),
	U(data, log_max_age_hours, 0, 87600, 24),
	U(data, log_keep, 0, 100000, 7),
	O(cleanup, auto_cleanup, K_BOOL, "cleanup", 0),
	U(cleanup, cleanup_interval, 1, 86400, 30),
	O(cleanup, max_resource_lifetime, K_UINT, "max-lifetime", 1),
	O(cleanup, max_cleanup_attempts, K_UINT, "max-cleanup-attempts", -1),
	/* seconds with fractions, as the options take them (0.5 is valid in both places) */
	O(cleanup, force_cleanup_timeout, K_PCT, "force-cleanup-timeout", -1),
	O(cleanup, zombie_grace, K_PCT, "zombie-grace", -1),
	O(webdriver, memory_threshold_mb, K_UINT, "memory-threshold-mb", 1),
	P(webdriver, driver_patterns, "driver-pattern"),
	P(webdriver, browser_patterns, NULL),
	{ "alert_thresholds", "memory_usage_percent", K_PCT, 1, 100, 90, NULL,
	  offsetof(struct qh_settings, memory_usage_percent), 0, false },
	U(alert_thresholds, memory_leak_mb, 1, 1048576, 100),
	O(alert_thresholds, resource_leak_count, K_UINT, "resource-leak-count", -1),
};

_Static_assert(sizeof(keys) / sizeof(keys[0]) <= QH_CONFIG_MAX_KEYS,
	       "struct config_changes holds a change of every key");

static const char *const groups[] = { "profiler", "data", "cleanup", "webdriver",
				      "alert_thresholds" };

/*
 * @k as config.c uses it: the range and default of its option filled in. The option's
 * numbers are in its own unit, seconds for the OPT_MS ones as their text is.
 */
static struct key_def resolved(const struct key_def *k)
{
	const struct opt_spec *o = k->opt ? traceopts__find(k->opt) : NULL;
	struct key_def r = *k;
	double scale;

	if (!o || k->type == K_PATTERNS)
		return r;
	scale = o->kind == OPT_MS ? 1000 : 1;
	if (k->min < 0)
		r.min = o->min / scale;
	r.max = o->max / scale;
	r.def = k->type == K_BOOL ? o->kind == OPT_UNFLAG : o->def ? strtod(o->def, NULL) : 0;
	if (k->type == K_BOOL)
		r.min = 0, r.max = 1;
	return r;
}

static void set_patterns(char (*dst)[QH_PATTERN_LEN], uint32_t *n, const char *const *src)
{
	for (*n = 0; src[*n]; (*n)++)
		snprintf(dst[*n], QH_PATTERN_LEN, "%s", src[*n]);
}

void config__defaults(struct qh_settings *s)
{
	/* the same as the options' (traceopts.c) */
	static const char *const drivers[] = { QH_DEFAULT_DRIVER_PATTERNS, NULL };
	static const char *const browsers[] = { QH_DEFAULT_BROWSER_PATTERNS, NULL };
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct key_def k = resolved(&keys[i]);
		char *base = (char *)s + k.off;

		switch (k.type) {
		case K_UINT:
			*(uint32_t *)base = k.def;
			break;
		case K_BOOL:
			*(bool *)base = k.def;
			break;
		case K_PCT:
			*(double *)base = k.def;
			break;
		case K_COMPRESSION:
			*(enum qh_compression *)base = k.def;
			break;
		case K_PATTERNS:
			break;
		}
	}
	set_patterns(s->driver_patterns, &s->n_driver_patterns, drivers);
	set_patterns(s->browser_patterns, &s->n_browser_patterns, browsers);
}

const char *config__compression_str(enum qh_compression c)
{
	switch (c) {
	case QH_COMPRESS_GZIP:
		return "gzip";
	case QH_COMPRESS_NONE:
		return "none";
	default:
		return "auto";
	}
}

static const char *json_type(const cJSON *v)
{
	if (cJSON_IsBool(v))
		return "a boolean";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsString(v))
		return "a string";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsObject(v))
		return "an object";
	return "null";
}

/* what a key allows, for its error message */
static void allowed(const struct key_def *k, char *buf, size_t len)
{
	switch (k->type) {
	case K_UINT:
		snprintf(buf, len, "an integer in %.0f..%.0f", k->min, k->max);
		break;
	case K_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case K_PCT:
		snprintf(buf, len, "a number in %g..%g", k->min, k->max);
		break;
	case K_COMPRESSION:
		snprintf(buf, len, "\"auto\", \"gzip\" or \"none\"");
		break;
	case K_PATTERNS:
		snprintf(buf, len, "an array of at most %d non-empty strings of under %d bytes",
			 QH_MAX_PATTERNS, QH_PATTERN_LEN);
		break;
	}
}

static int set_key(const struct key_def *k, const cJSON *v, struct qh_settings *s, char *why,
		   size_t len)
{
	char *base = (char *)s + k->off, what[96];
	const cJSON *e;
	uint32_t n = 0;

	allowed(k, what, sizeof(what));
	switch (k->type) {
	case K_UINT:
		if (!cJSON_IsNumber(v))
			goto wrong_type;
		if (v->valuedouble != floor(v->valuedouble)) {
			snprintf(why, len, "%s.%s: %g is not a whole number: %s", k->group, k->name,
				 v->valuedouble, what);
			return -EINVAL;
		}
		if (v->valuedouble < k->min || v->valuedouble > k->max)
			goto out_of_range;
		*(uint32_t *)base = (uint32_t)v->valuedouble;
		return 0;
	case K_BOOL:
		if (!cJSON_IsBool(v))
			goto wrong_type;
		*(bool *)base = cJSON_IsTrue(v);
		return 0;
	case K_PCT:
		if (!cJSON_IsNumber(v))
			goto wrong_type;
		if (!(v->valuedouble >= k->min && v->valuedouble <= k->max))
			goto out_of_range;
		*(double *)base = v->valuedouble;
		return 0;
	case K_COMPRESSION:
		if (!cJSON_IsString(v))
			goto wrong_type;
		if (!strcmp(v->valuestring, "auto"))
			*(enum qh_compression *)base = QH_COMPRESS_AUTO;
		else if (!strcmp(v->valuestring, "gzip"))
			*(enum qh_compression *)base = QH_COMPRESS_GZIP;
		else if (!strcmp(v->valuestring, "none"))
			*(enum qh_compression *)base = QH_COMPRESS_NONE;
		else
			goto out_of_range;
		return 0;
	case K_PATTERNS:
		if (!cJSON_IsArray(v))
			goto wrong_type;
		cJSON_ArrayForEach(e, v) {
			if (!cJSON_IsString(e) || !*e->valuestring ||
			    strlen(e->valuestring) >= QH_PATTERN_LEN || n >= QH_MAX_PATTERNS) {
				snprintf(why, len, "%s.%s: item %u is not allowed: %s", k->group,
					 k->name, n, what);
				return -EINVAL;
			}
			snprintf(((char(*)[QH_PATTERN_LEN])base)[n], QH_PATTERN_LEN, "%s",
				 e->valuestring);
			n++;
		}
		*(uint32_t *)((char *)s + k->count_off) = n;
		return 0;
	}
wrong_type:
	snprintf(why, len, "%s.%s must be %s, not %s", k->group, k->name, what, json_type(v));
	return -EINVAL;
out_of_range:
	if (cJSON_IsString(v))
		snprintf(why, len, "%s.%s: \"%.40s\" is not allowed: %s", k->group, k->name,
			 v->valuestring, what);
	else
		snprintf(why, len, "%s.%s: %g is out of range: %s", k->group, k->name,
			 v->valuedouble, what);
	return -ERANGE;
}

static void names_of(const char *group, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && off < len; i++)
		if (!strcmp(keys[i].group, group))
			off += snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
					keys[i].name);
}

/*
 * The line of key @name (of group @group when given) in @text, for a reload's "file:line:"
 * (cJSON keeps no positions): the first `"name"` followed by a colon. 0 when not found.
 */
static unsigned int line_of_key(const char *text, const char *group, const char *name)
{
	const char *p = text, *q;
	size_t n = strlen(name);
	unsigned int line = 1;

	/* an empty name matches everywhere, and strstr would walk past the end: none */
	if (!n || (group && !*group))
		return 0;
	if (group) {
		size_t g = strlen(group);

		while ((p = strstr(p, group)) && !(p > text && p[-1] == '"' && p[g] == '"'))
			p++;
		if (!p)
			return 0;
	}
	for (; (p = strstr(p, name)); p++) {
		if (p == text || p[-1] != '"' || p[n] != '"')
			continue;
		for (q = p + n + 1; *q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'; q++)
			;
		if (*q == ':')
			break;
	}
	if (!p)
		return 0;
	for (q = text; q < p; q++)
		line += *q == '\n';
	return line;
}

/* config__parse, and the line the error is on (0: not known) */
static int parse_at(const char *text, struct qh_settings *s, char *why, size_t len,
		    unsigned int *at_)
{
	struct qh_settings tmp = *s;
	/* the whole text is one object: anything after it is an error, not ignored */
	cJSON *root = cJSON_ParseWithOpts(text, NULL, true), *g, *v;
	struct key_def k;
	char names[512];
	size_t i, j;
	int err = 0;

	if (!root) {
		const char *at = cJSON_GetErrorPtr(), *p;
		unsigned int *at_line = at_;
		unsigned int line = 1;

		for (p = text; at && p < at; p++)
			line += *p == '\n';
		snprintf(why, len, "not valid JSON (near line %u)", line);
		*at_line = line;
		return -EINVAL;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(why, len, "the top level must be an object of groups, not %s",
			 json_type(root));
		*at_ = 1;
		err = -EINVAL;
		goto out;
	}
	cJSON_ArrayForEach(g, root) {
		for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
			if (!strcmp(g->string, groups[i]))
				break;
		if (i == sizeof(groups) / sizeof(groups[0])) {
			snprintf(why, len, "unknown key '%.64s' (allowed: profiler, data, cleanup, "
					   "webdriver, alert_thresholds)", g->string);
			*at_ = line_of_key(text, NULL, g->string);
			err = -EINVAL;
			goto out;
		}
		if (!cJSON_IsObject(g)) {
			snprintf(why, len, "%s must be an object, not %s", g->string, json_type(g));
			*at_ = line_of_key(text, NULL, g->string);
			err = -EINVAL;
			goto out;
		}
		cJSON_ArrayForEach(v, g) {
			for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++)
				if (!strcmp(keys[j].group, g->string) &&
				    !strcmp(keys[j].name, v->string))
					break;
			if (j == sizeof(keys) / sizeof(keys[0])) {
				names_of(g->string, names, sizeof(names));
				snprintf(why, len, "unknown key '%s.%.64s' (allowed: %s)",
					 g->string, v->string, names);
				*at_ = line_of_key(text, g->string, v->string);
				err = -EINVAL;
				goto out;
			}
			k = resolved(&keys[j]);
			err = set_key(&k, v, &tmp, why, len);
			if (err) {
				*at_ = line_of_key(text, g->string, v->string);
				goto out;
			}
		}
	}
	*s = tmp;
out:
	cJSON_Delete(root);
	return err;
}

int config__parse(const char *text, struct qh_settings *s, char *why, size_t len)
{
	unsigned int line = 0;

	return parse_at(text, s, why, len, &line);
}

static int load_at(const char *path, struct qh_settings *s, char *why, size_t len,
		   unsigned int *line)
{
	struct stat st;
	char *text;
	ssize_t n;
	size_t got = 0;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "%s", strerror(-err));
		return err;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > QH_CONFIG_MAX_BYTES) {
		snprintf(why, len, "not a regular file of at most 1 MiB");
		close(fd);
		return -EINVAL;
	}
	text = malloc(st.st_size + 1);
	if (!text) {
		close(fd);
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size && (n = read(fd, text + got, st.st_size - got)) > 0)
		got += n;
	close(fd);
	text[got] = '\0';
	/* the parser would stop there, and the rest be ignored unseen */
	if (strlen(text) != got) {
		snprintf(why, len, "not valid JSON (a NUL byte at offset %zu)", strlen(text));
		free(text);
		return -EINVAL;
	}
	err = parse_at(text, s, why, len, line);
	free(text);
	return err;
}

int config__load(const char *path, struct qh_settings *s, char *why, size_t len)
{
	unsigned int line = 0;

	return load_at(path, s, why, len, &line);
}

static void print_value(FILE *out, const struct key_def *k, const struct qh_settings *s)
{
	const char *base = (const char *)s + k->off;
	uint32_t i, n;

	switch (k->type) {
	case K_UINT:
		fprintf(out, "%u", *(const uint32_t *)base);
		break;
	case K_BOOL:
		fprintf(out, "%s", *(const bool *)base ? "true" : "false");
		break;
	case K_PCT:
		fprintf(out, "%g", *(const double *)base);
		break;
	case K_COMPRESSION:
		fprintf(out, "\"%s\"", config__compression_str(*(const enum qh_compression *)base));
		break;
	case K_PATTERNS:
		n = *(const uint32_t *)((const char *)s + k->count_off);
		fprintf(out, "[");
		for (i = 0; i < n; i++) {
			cJSON *str = cJSON_CreateString(((const char(*)[QH_PATTERN_LEN])base)[i]);
			char *t = str ? cJSON_PrintUnformatted(str) : NULL;

			fprintf(out, "%s%s", i ? ", " : "", t ? t : "\"\"");
			free(t);
			cJSON_Delete(str);
		}
		fprintf(out, "]");
		break;
	}
}

void config__print(FILE *out, const struct qh_settings *s)
{
	size_t g, i;
	bool first;

	fprintf(out, "{\n");
	for (g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		fprintf(out, "  \"%s\": {\n", groups[g]);
		first = true;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strcmp(keys[i].group, groups[g]))
				continue;
			fprintf(out, "%s    \"%s\": ", first ? "" : ",\n", keys[i].name);
			print_value(out, &keys[i], s);
			first = false;
		}
		fprintf(out, "\n  }%s\n", g + 1 < sizeof(groups) / sizeof(groups[0]) ? "," : "");
	}
	fprintf(out, "}\n");
}

/* @k's value in @s as the file writes it, whole; NULL when out of memory (free it) */
static char *value_text(const struct key_def *k, const struct qh_settings *s)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);

	if (!f)
		return NULL;
	print_value(f, k, s);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* @text cut to @len with "..." when longer */
static void put_cut(char *dst, size_t len, const char *text)
{
	if (strlen(text) < len)
		snprintf(dst, len, "%s", text);
	else
		snprintf(dst, len, "%.*s...", (int)len - 4, text);
}

int config__diff(const struct qh_settings *a, const struct qh_settings *b,
		 struct config_changes *out)
{
	size_t i;
	int err = 0;

	out->n = 0;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *x = value_text(&keys[i], a), *y = value_text(&keys[i], b);
		struct config_change *c;

		if (!x || !y) {
			err = -ENOMEM;
		} else if (strcmp(x, y) && out->n < QH_CONFIG_MAX_KEYS) {
			c = &out->c[out->n++];
			snprintf(c->key, sizeof(c->key), "%s.%s", keys[i].group, keys[i].name);
			put_cut(c->from, sizeof(c->from), x);
			put_cut(c->to, sizeof(c->to), y);
			c->restart = keys[i].restart;
		}
		free(x);
		free(y);
	}
	return err;
}

const char *config__change_str(const struct config_change *c, char *buf, size_t len)
{
	if (c->restart)
		snprintf(buf, len, "%s %s -> %s: needs a restart, %s kept until then", c->key,
			 c->from, c->to, c->from);
	else
		snprintf(buf, len, "%s %s -> %s", c->key, c->from, c->to);
	return buf;
}

static size_t value_size(const struct key_def *k)
{
	switch (k->type) {
	case K_UINT:
		return sizeof(uint32_t);
	case K_BOOL:
		return sizeof(bool);
	case K_PCT:
		return sizeof(double);
	case K_COMPRESSION:
		return sizeof(enum qh_compression);
	case K_PATTERNS:
		return QH_MAX_PATTERNS * QH_PATTERN_LEN;
	}
	return 0;
}

int config__reload(const char *path, const struct qh_settings *cur, struct qh_settings *next,
		   struct config_changes *chg, char *why, size_t len)
{
	struct qh_settings tmp;
	char reason[384];
	unsigned int line = 0;
	size_t i;
	int err;

	chg->n = 0;
	*next = *cur;
	/* over the defaults, as at start: a key taken out of the file gets its default back */
	config__defaults(&tmp);
	err = load_at(path, &tmp, reason, sizeof(reason), &line);
	if (err) {
		if (line)
			snprintf(why, len, "%s:%u: %s", path, line, reason);
		else
			snprintf(why, len, "%s: %s", path, reason);
		return err;
	}
	err = config__diff(cur, &tmp, chg);
	if (err) {
		snprintf(why, len, "%s: out of memory", path);
		chg->n = 0;
		return err;
	}
	/* what needs a restart keeps its value: the change is listed, not made */
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key_def *k = &keys[i];

		if (!k->restart)
			continue;
		memcpy((char *)&tmp + k->off, (const char *)cur + k->off, value_size(k));
		if (k->type == K_PATTERNS)
			memcpy((char *)&tmp + k->count_off, (const char *)cur + k->count_off,
			       sizeof(uint32_t));
	}
	*next = tmp;
	return 0;
}
