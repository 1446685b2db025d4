/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * How bad a finding is: one scale for every detector (heap, fds, drivers), the alerts and the
 * gate's --fail-severity floor.
 */
#ifndef __QH_SEVERITY_H
#define __QH_SEVERITY_H

#include <stdint.h>

enum severity {
	SEV_LOW = 0,
	SEV_MEDIUM,
	SEV_HIGH,
	SEV_CRITICAL,
};

/* "low", "medium", "high", "critical"; "unknown" out of range */
const char *severity__str(enum severity s);
/* The inverse of severity__str; -EINVAL for any other word. */
int severity__parse(const char *s, enum severity *out);
/*
 * The severity of @amount outstanding against the threshold T: critical from T, high from T/4,
 * medium from T/16, else low; growing by T or more per minute is one level up.
 */
enum severity severity__of(uint64_t amount, double growth_per_s, uint64_t threshold);

#endif
