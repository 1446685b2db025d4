/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The CI gate (--fail-on CLASSES, --fail-severity LEVEL) and the CI artifacts made from the
 * same evaluation: the report's `verdict`, JUnit XML (--junit) and a Markdown summary
 * (--summary-md). Everything is read from the report itself (the JSON object), through one
 * table of finding classes: a detector that adds its findings to the report under the key
 * its class reads is gated with no change here.
 */
#ifndef __QH_GATE_H
#define __QH_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "severity.h"

enum gate_class {
	GATE_LEAKS = 0,		/* leaks.heap[] (and any other leaks.* array but fds) */
	GATE_FDS,		/* leaks.fds[] */
	GATE_ZOMBIES,		/* zombies[], else processes[] in state "zombie" */
	GATE_LEFTOVERS,		/* leftovers[] */
	GATE_LOST_EVENTS,	/* events.lost > 0 */
	GATE_ALERTS,		/* alerts[] */
	GATE_NR,
};

#define GATE_MAX_TEXT 50	/* findings quoted per class; the rest are counted */

struct gate_result {
	uint32_t fail_on;		/* classes asked for */
	enum severity floor;
	bool measured[GATE_NR];		/* the report holds this class's data */
	size_t count[GATE_NR];		/* findings at or above the floor */
	char *text[GATE_NR];		/* one line per finding (the first GATE_MAX_TEXT) */
	/*
	 * leaks: the processes whose heap could not be judged (not followed, or blocks left
	 * unclassified), a line each; named in the verdict (`heap_not_judged`) when leaks is
	 * gated, whether it passes or not. NULL: none.
	 */
	char *unjudged;
	size_t n_unjudged;
	bool pass;
	/*
	 * With per-test attribution (the report's findings carry `test`): the gated findings of
	 * each test, {"NAME": ["line", ...]}, "" for those between tests. NULL without.
	 */
	cJSON *by_test;
};

const char *gate__class_name(enum gate_class c);
/* "leaks,fds,...": the mask, or -EINVAL with the unknown name in @why */
int gate__parse_classes(const char *list, uint32_t *mask, char *why, size_t len);

/* Evaluate @report (a qhtrace/report/v1 object). 0 or -ENOMEM; free with gate__release. */
int gate__evaluate(const cJSON *report, uint32_t fail_on, enum severity floor,
		   struct gate_result *r);
void gate__release(struct gate_result *r);

/* {"pass": bool, "reasons": [...], "fail_on": [...], "severity_floor": "..."} */
cJSON *gate__verdict_json(const struct gate_result *r);
/*
 * JUnit XML: one test case per finding class; with the report's `tests`, a second suite with
 * one test case per test (its figures as properties, a failure carrying its gated findings)
 * and one "between tests". A class asked for in --fail-on with findings is
 * a failure carrying them; findings of a class not asked for make it skipped ("not gated"),
 * as does a class the report has no data for ("not measured"). Caller frees.
 */
char *gate__junit(const cJSON *report, const struct gate_result *r);
/* A Markdown summary for CI job pages. Caller frees. */
char *gate__markdown(const cJSON *report, const struct gate_result *r);

/* @s XML-escaped, characters XML 1.0 does not allow replaced by '?' (caller frees). */
char *gate__xml_escape(const char *s);

#endif
