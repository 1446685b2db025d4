/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The commands of `qhtrace COMMAND ...`: each takes its argv from the command's name on and
 * returns the process exit code. One file each (cmd_*.c); help and version are main.c's.
 */
#ifndef __QH_COMMANDS_H
#define __QH_COMMANDS_H

/*
 * Every command once: X(name, arguments, one-line summary). main.c's table dispatches on it
 * and `qhtrace help` lists it (cli__usage); a '\n' in a summary continues it on the next line.
 */
#define QH_COMMANDS(X)                                                                          \
	X(attach, "[OPTIONS] -- CMD [ARGS...]", "run CMD and trace it and every descendant")     \
	X(leaks, "-p PID [OPTIONS]", "heap leaks of a running process")                        \
	X(fds, "-p PID [OPTIONS]",                                                              \
	  "open fds of a running process, and what it\nopens and does not close while watched") \
	X(monitor, "[OPTIONS]",                                                                 \
	  "trace the whole machine: CI jobs, their\nleftovers and reports, Prometheus metrics")   \
	X(report, "[OPTIONS] FILE", "a page of a report or an event log")                      \
	X(diff, "[OPTIONS] BASE CURRENT", "what grew between two reports")                     \
	X(config, "--check FILE | --print-defaults", "the settings file")                      \
	X(mark, "begin|end|snapshot NAME | stats",                                             \
	  "mark a test of a shell-driven suite; the\ntraced tree's figures now (under attach)")  \
	X(status, "[OPTIONS]",                                                                  \
	  "what a running qhtrace (monitor, or the\nattach of QHTRACE_SOCKET) traces now")         \
	X(help, "", "this text ('qhtrace COMMAND --help' for more)")                           \
	X(version, "", "print the version")

#define QH_CMD_DECLARE(name, args, summary) int cmd_##name(int argc, char **argv);
QH_COMMANDS(QH_CMD_DECLARE)
#undef QH_CMD_DECLARE

#endif
