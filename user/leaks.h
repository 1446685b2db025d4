/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
#ifndef __QH_LEAKS_H
#define __QH_LEAKS_H

/* `qhtrace leaks -p PID`: returns the process exit code */
int cmd_leaks(int argc, char **argv);
/* qhtrace fds -p PID: see cli__usage_fds() */
int cmd_fds(int argc, char **argv);

#endif
