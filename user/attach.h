/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __QH_ATTACH_H
#define __QH_ATTACH_H

#include <sys/types.h>

struct tracer;
struct proctree;

/* `qhtrace attach`: returns the process exit code */
int cmd_attach(int argc, char **argv);


#endif
