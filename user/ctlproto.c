// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cjson/cJSON.h>

#include "ctlproto.h"

static const char *const phases[CTL_PHASES] = { "setup", "call", "teardown" };
static const char *const outcomes[] = { "passed", "failed", "skipped", "error", "xfailed",
					"xpassed", NULL };

int ctl__sockaddr(const char *name, struct sockaddr_un *a, unsigned int *alen)
{
	bool abstract = name[0] == '@';
	size_t n = strlen(name);

	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (n <= (size_t)abstract)
		return -EINVAL;
	/* an abstract name is not NUL-terminated: its length is the address's */
	if (n >= sizeof(a->sun_path) + abstract)
		return -ENAMETOOLONG;
	memcpy(a->sun_path, name, n);
	if (abstract)
		a->sun_path[0] = '\0';
	*alen = offsetof(struct sockaddr_un, sun_path) + n + !abstract;
	return 0;
}

const char *ctl_phase__str(enum ctl_phase p)
{
	return p >= 0 && p < CTL_PHASES ? phases[p] : "test";
}

static int fail(char *why, size_t wlen, const char *msg, const char *detail)
{
	snprintf(why, wlen, "%s%s%.40s", msg, detail ? ": " : "", detail ? detail : "");
	return -EINVAL;
}

/* @k of @o as a string, or NULL; *bad when it is there but not a string */
static const char *str_field(const cJSON *o, const char *k, bool *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!v)
		return NULL;
	if (!cJSON_IsString(v) || !v->valuestring) {
		*bad = true;
		return NULL;
	}
	return v->valuestring;
}

/* names are shown on terminals and in Markdown: no control characters */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int parse_obj(const cJSON *o, struct ctl_req *r, char *why, size_t wlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(o, "pid");
	const char *op, *s;
	bool bad = false;
	int i;

	if (id) {
		char *t;

		if (!cJSON_IsNumber(id) && !cJSON_IsString(id))
			return fail(why, wlen, "\"id\" must be a number or a string", NULL);
		t = cJSON_PrintUnformatted(id);
		if (!t)
			return fail(why, wlen, "out of memory", NULL);
		if (strlen(t) >= sizeof(r->id)) {
			cJSON_free(t);
			return fail(why, wlen, "\"id\" is longer than 63 characters", NULL);
		}
		strcpy(r->id, t);
		cJSON_free(t);
	}
	op = str_field(o, "op", &bad);
	if (!op)
		return fail(why, wlen, "\"op\" (a string: mark, stats, snapshot, status) is missing",
			    NULL);
	if (!strcmp(op, "stats")) {
		r->op = CTL_STATS;
		return 0;
	}
	if (!strcmp(op, "status")) {
		const cJSON *top = cJSON_GetObjectItemCaseSensitive(o, "top");

		r->op = CTL_STATUS;
		r->top = QH_CTL_TOP_DEFAULT;
		if (!top)
			return 0;
		if (!cJSON_IsNumber(top) || top->valuedouble < 0 ||
		    top->valuedouble > QH_CTL_TOP_MAX ||
		    top->valuedouble != (double)(uint32_t)top->valuedouble)
			return fail(why, wlen, "status: \"top\" must be an integer in 0..1000", NULL);
		r->top = (uint32_t)top->valuedouble;
		return 0;
	}
	s = str_field(o, "name", &bad);
	if (bad)
		return fail(why, wlen, "\"name\" must be a string", NULL);
	if (s && strlen(s) > QH_CTL_NAME_MAX)
		return fail(why, wlen, "\"name\" is longer than " "1024 bytes", NULL);
	if (s && !printable(s))
		return fail(why, wlen, "\"name\" holds control characters", NULL);
	snprintf(r->name, sizeof(r->name), "%s", s ? s : "");
	if (!strcmp(op, "snapshot")) {
		r->op = CTL_SNAPSHOT;
		return 0;
	}
	if (strcmp(op, "mark"))
		return fail(why, wlen, "unknown \"op\" (mark, stats, snapshot, status)", op);
	r->op = CTL_MARK;
	if (!*r->name)
		return fail(why, wlen, "mark: \"name\" is missing or empty", NULL);
	s = str_field(o, "event", &bad);
	if (s && !strcmp(s, "begin"))
		r->event = CTL_BEGIN;
	else if (s && !strcmp(s, "end"))
		r->event = CTL_END;
	else
		return fail(why, wlen, "mark: \"event\" must be \"begin\" or \"end\"", s);
	s = str_field(o, "phase", &bad);
	if (bad)
		return fail(why, wlen, "mark: \"phase\" must be a string", NULL);
	if (s) {
		for (i = 0; i < CTL_PHASES; i++)
			if (!strcmp(s, phases[i]))
				break;
		if (i == CTL_PHASES)
			return fail(why, wlen, "mark: \"phase\" is not setup, call or teardown", s);
		r->phase = i;
	}
	s = str_field(o, "kind", &bad);
	if (bad || (s && strcmp(s, "test") && strcmp(s, "fixture")))
		return fail(why, wlen, "mark: \"kind\" must be \"test\" or \"fixture\"", s);
	r->fixture = s && !strcmp(s, "fixture");
	s = str_field(o, "outcome", &bad);
	if (bad)
		return fail(why, wlen, "mark: \"outcome\" must be a string", NULL);
	if (s) {
		for (i = 0; outcomes[i]; i++)
			if (!strcmp(s, outcomes[i]))
				break;
		if (!outcomes[i])
			return fail(why, wlen, "mark: unknown \"outcome\"", s);
		snprintf(r->outcome, sizeof(r->outcome), "%s", s);
	}
	if (pid) {
		if (!cJSON_IsNumber(pid) || pid->valuedouble < 1 || pid->valuedouble > 4194304 ||
		    pid->valuedouble != (double)(int32_t)pid->valuedouble)
			return fail(why, wlen, "mark: \"pid\" must be an integer in 1..4194304", NULL);
		r->pid = (int32_t)pid->valuedouble;
	}
	return 0;
}

int ctlproto__parse(const char *line, size_t len, struct ctl_req *r, char *why, size_t wlen)
{
	const char *end = NULL;
	cJSON *o;
	int err;

	memset(r, 0, sizeof(*r));
	r->phase = CTL_PHASE_NONE;
	if (len > QH_CTL_MAX_LINE)
		return fail(why, wlen, "request longer than 8192 bytes", NULL);
	if (memchr(line, '\0', len))
		return fail(why, wlen, "request holds a NUL byte", NULL);
	o = cJSON_ParseWithLengthOpts(line, len, &end, false);
	if (!o)
		return fail(why, wlen, "not JSON", NULL);
	/* one object a line: anything but blanks after it is a second request or garbage */
	while (end && end < line + len && (*end == ' ' || *end == '\t' || *end == '\r'))
		end++;
	if (end && end < line + len)
		err = fail(why, wlen, "text after the JSON object", NULL);
	else if (!cJSON_IsObject(o))
		err = fail(why, wlen, "a request is a JSON object", NULL);
	else
		err = parse_obj(o, r, why, wlen);
	cJSON_Delete(o);
	return err;
}
