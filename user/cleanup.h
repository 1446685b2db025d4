/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Verified cleanup: terminate processes of the traced tree and prove each is gone.
 *
 * A target is a process of the model, identified by (pid, start time); anything else is
 * refused. Each target is opened as a pidfd and its start time checked against /proc after
 * the open, so the pidfd is known to be that process; signals go through the pidfd
 * (pidfd_send_signal), so a pid reused meanwhile is never hit. SIGTERM, wait up to the
 * timeout, then SIGKILL rounds (up to max attempts), each followed by a wait; a target is
 * verified gone when its pidfd polls readable (it has exited).
 */
#ifndef __QH_CLEANUP_H
#define __QH_CLEANUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc;
struct proctree;

struct cleanup_opts {
	uint32_t timeout_ms;	/* force_cleanup_timeout: after SIGTERM, and after each SIGKILL */
	uint32_t max_attempts;	/* SIGKILL rounds */
	pid_t keep_child;	/* a child of ours never reaped here (the event loop's), or 0 */
};

struct cleanup_action {
	uint32_t pid;
	uint64_t start_ns;
	char comm[16];
	int signal;		/* the last signal sent, 0 for none */
	uint32_t attempts;	/* signals sent */
	bool verified;		/* known to be gone */
	bool reaped;		/* it was our child and we reaped it */
	char error[96];		/* empty when none */
};

struct cleanup;

struct cleanup *cleanup__new(const struct cleanup_opts *o);
void cleanup__free(struct cleanup *c);
/* The event loop waits for this child of ours: cleanup never reaps it. */
void cleanup__keep_child(struct cleanup *c, pid_t pid);

/*
 * Terminate @procs, which must be processes of @t, and verify each is gone. An action is
 * recorded for each. Returns 0, or -errno if the actions could not be recorded.
 */
int cleanup__run(struct cleanup *c, struct proctree *t, struct proc *const *procs, size_t n);

size_t cleanup__actions(const struct cleanup *c, const struct cleanup_action **out);
/* The action about process (@pid, @start_ns), or NULL. */
const struct cleanup_action *cleanup__find(const struct cleanup *c, uint32_t pid,
					   uint64_t start_ns);
/* attempted = actions, succeeded = verified gone, failed = the others */
void cleanup__counts(const struct cleanup *c, uint32_t *attempted, uint32_t *succeeded,
		     uint32_t *failed);

struct cJSON;
/* The report's `cleanup` object. */
void cleanup__add_json(const struct cleanup *c, struct cJSON *root);

#endif
