/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The control channel's requests (QHTRACE_SOCKET): one JSON object a line, parsed here into a
 * struct without any I/O, so every malformed line has a unit test. ctlsrv.h moves the lines.
 *
 *	{"op": "mark", "event": "begin", "name": "tests/a.py::test_x", "pid": 4242}
 *	{"op": "mark", "event": "begin", "name": "...", "phase": "call"}
 *	{"op": "mark", "event": "end", "name": "...", "outcome": "failed"}
 *	{"op": "mark", "event": "begin", "name": "browser (session)", "kind": "fixture"}
 *	{"op": "stats"}			the figures of the traced tree now
 *	{"op": "snapshot", "name": "after login"}	the same, also kept in the report
 *	{"op": "status", "top": 10}	what is traced now (status.h): `qhtrace status`
 *
 * Every request may carry "id" (a number or a string, echoed in the reply). A reply is one
 * line too: {"ok": true, ...} or {"ok": false, "error": "why"}.
 */
#ifndef __QH_CTLPROTO_H
#define __QH_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* a request line longer than this (newline excluded) is refused and the client dropped */
#define QH_CTL_MAX_LINE 8192
/* a section's name: a pytest node id with its parameters fits */
#define QH_CTL_NAME_MAX 1024
/* status: the processes listed by memory, by default and at most */
#define QH_CTL_TOP_DEFAULT 10
#define QH_CTL_TOP_MAX 1000

enum ctl_op {
	CTL_MARK = 0,
	CTL_STATS,
	CTL_SNAPSHOT,
	CTL_STATUS,
};

enum ctl_event {
	CTL_BEGIN = 0,
	CTL_END,
};

/* a test's phases, as pytest names them; CTL_PHASE_NONE: the section as a whole */
enum ctl_phase {
	CTL_PHASE_NONE = -1,
	CTL_PHASE_SETUP = 0,
	CTL_PHASE_CALL,
	CTL_PHASE_TEARDOWN,
	CTL_PHASES,
};

struct ctl_req {
	enum ctl_op op;
	enum ctl_event event;		/* mark */
	enum ctl_phase phase;		/* mark */
	bool fixture;			/* mark: "kind": "fixture" (not a test: "between tests") */
	int32_t pid;			/* mark: whose section; 0: the client's own */
	uint32_t top;			/* status: how many processes by memory */
	char name[QH_CTL_NAME_MAX + 1];	/* mark, snapshot ("" if none) */
	char outcome[16];		/* mark end: "passed", "failed", "skipped", "error" or "" */
	char id[64];			/* echoed: the request's "id" as JSON text, "" if none */
};

/*
 * Parse one request line (@len bytes, no newline, not NUL-terminated). 0, or -EINVAL with the
 * reason in @why (one line, for the error reply).
 */
int ctlproto__parse(const char *line, size_t len, struct ctl_req *r, char *why, size_t wlen);

const char *ctl_phase__str(enum ctl_phase p);

struct sockaddr_un;
/*
 * The address QHTRACE_SOCKET names: "@NAME" is NAME in the abstract namespace (systemd's
 * NOTIFY_SOCKET convention: no file, so a killed qhtrace leaves nothing behind), anything else
 * a path. Fills @a and its length @alen; -ENAMETOOLONG, or -EINVAL for an empty name.
 */
int ctl__sockaddr(const char *name, struct sockaddr_un *a, unsigned int *alen);

#endif
