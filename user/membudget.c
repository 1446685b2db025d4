// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <string.h>

#include "membudget.h"

int membudget__check(uint32_t budget_mb, uint64_t rss, struct membudget_verdict *v)
{
	memset(v, 0, sizeof(*v));
	v->action = MEMBUDGET_OK;
	if (!rss)
		return -ENODATA;
	if (!budget_mb)
		return 0;
	v->budget_bytes = (uint64_t)budget_mb << 20;
	v->fold_bytes = v->budget_bytes / 100 * MEMBUDGET_FOLD_PCT;
	v->used_pct = rss * 100 / v->budget_bytes;
	if (rss >= v->budget_bytes)
		v->action = MEMBUDGET_DROP;
	else if (rss >= v->fold_bytes)
		v->action = MEMBUDGET_FOLD;
	v->excess_bytes = rss > v->fold_bytes ? rss - v->fold_bytes : 0;
	return 0;
}

const char *membudget__action_str(enum membudget_action a)
{
	switch (a) {
	case MEMBUDGET_FOLD:
		return "fold";
	case MEMBUDGET_DROP:
		return "drop";
	default:
		return "ok";
	}
}
