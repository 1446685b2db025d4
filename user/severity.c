// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>

#include "severity.h"

const char *severity__str(enum severity s)
{
	static const char *const names[] = { "low", "medium", "high", "critical" };

	return s <= SEV_CRITICAL ? names[s] : "unknown";
}

int severity__parse(const char *s, enum severity *out)
{
	int i;

	for (i = SEV_LOW; i <= SEV_CRITICAL; i++)
		if (!strcmp(s, severity__str(i))) {
			*out = i;
			return 0;
		}
	return -EINVAL;
}

enum severity severity__of(uint64_t amount, double growth_per_s, uint64_t threshold)
{
	enum severity s;

	if (amount >= threshold)
		s = SEV_CRITICAL;
	else if (amount >= threshold / 4)
		s = SEV_HIGH;
	else if (amount >= threshold / 16)
		s = SEV_MEDIUM;
	else
		s = SEV_LOW;
	if (s < SEV_CRITICAL && growth_per_s * 60 >= (double)threshold)
		s++;
	return s;
}
