/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __QH_ATTACH_H
#define __QH_ATTACH_H

#include <sys/types.h>

struct tracer;
struct proctree;

/* `qhtrace attach`: returns the process exit code */
int cmd_attach(int argc, char **argv);
/* Trace a process that already exists, as /proc describes it, and add it to the model. */
int attach__seed(struct tracer *tr, struct proctree *t, pid_t pid);

#endif
