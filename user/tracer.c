// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "tracer.h"
#include "qhtrace.skel.h"

#define BTF_PATH "/sys/kernel/btf/vmlinux"
#define TRACEFS "/sys/kernel/tracing"

/* libbpf's own output (warnings, the verifier log) only with -v */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (log__level() < QH_LOG_DEBUG || level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, args);
}

struct tracer {
	struct qhtrace_bpf *skel;
	struct ring_buffer *rb;
	int ncpus;
};

static bool has_cap(int cap)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[cap / 32].effective & (1U << (cap % 32));
}

int tracer__preflight(void)
{
	/* CAP_SYS_ADMIN: tracefs may need mounting, and pre-5.8 kernels want it for BPF */
	if (geteuid() != 0 &&
	    !(has_cap(CAP_SYS_ADMIN) || (has_cap(CAP_BPF) && has_cap(CAP_PERFMON)))) {
		pr_err("tracing needs root (or CAP_BPF and CAP_PERFMON): run it with sudo\n");
		return -EPERM;
	}
	if (access(BTF_PATH, R_OK)) {
		pr_err("kernel BTF not found at %s: qhtrace needs a kernel built with "
		       "CONFIG_DEBUG_INFO_BTF=y\n", BTF_PATH);
		return -ENOENT;
	}
	return 0;
}

/*
 * Classic tracepoints are attached by an id read from tracefs. When it is not mounted, mount
 * it in a mount namespace of our own: nothing changes on the host and the mount goes away
 * with qhtrace, even on SIGKILL. Processes qhtrace started before keep the host's namespace.
 */
static int ensure_tracefs(void)
{
	if (!access(TRACEFS "/events", F_OK) || !access("/sys/kernel/debug/tracing/events", F_OK))
		return 0;
	if (unshare(CLONE_NEWNS)) {
		pr_err("failed to create a mount namespace for tracefs: %s\n", strerror(errno));
		return -errno;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		pr_err("failed to make mounts private: %s\n", strerror(errno));
		return -errno;
	}
	if (mount("tracefs", TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		pr_err("failed to mount tracefs at %s: %s -- is CONFIG_TRACING enabled?\n", TRACEFS,
		       strerror(errno));
		return -errno;
	}
	pr_debug("mounted tracefs at %s (private mount namespace)\n", TRACEFS);
	return 0;
}

int tracer__open(struct tracer **out, const struct tracer_opts *opts)
{
	struct tracer *t;
	int err;

	libbpf_set_print(libbpf_print);
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->ncpus = libbpf_num_possible_cpus();
	if (t->ncpus <= 0) {
		err = t->ncpus ? t->ncpus : -EINVAL;
		pr_err("failed to count possible CPUs: %s\n", strerror(-err));
		goto cleanup;
	}

	t->skel = qhtrace_bpf__open();
	if (!t->skel) {
		err = -errno;
		pr_err("failed to open BPF object: %s\n", strerror(-err));
		goto cleanup;
	}
	t->skel->rodata->cfg_page_size = sysconf(_SC_PAGESIZE);
	bpf_map__set_max_entries(t->skel->maps.procs, opts->max_procs);
	bpf_map__set_max_entries(t->skel->maps.mm_owner, opts->max_procs);
	bpf_map__set_max_entries(t->skel->maps.events, opts->ringbuf_kb * 1024);

	err = qhtrace_bpf__load(t->skel);
	if (err) {
		err = -errno;
		pr_err("failed to load BPF programs: %s%s\n", strerror(-err),
		       log__level() < QH_LOG_DEBUG ? " -- run with -v for the verifier log" : "");
		goto cleanup;
	}

	err = ensure_tracefs();
	if (err)
		goto cleanup;
	err = qhtrace_bpf__attach(t->skel);
	if (err) {
		err = -errno;
		pr_err("failed to attach BPF programs: %s\n", strerror(-err));
		goto cleanup;
	}

	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.events), opts->on_event, opts->ctx,
				 NULL);
	if (!t->rb) {
		err = -errno;
		pr_err("failed to create ring buffer: %s\n", strerror(-err));
		goto cleanup;
	}
	*out = t;
	return 0;

cleanup:
	tracer__free(t);
	return err;
}

static void *destroy_link(void *arg)
{
	struct bpf_link **link = arg;

	bpf_link__destroy(*link);
	*link = NULL;
	return NULL;
}

/*
 * Detaching a perf-event tracepoint waits for an RCU grace period (~70 ms here); one after
 * the other, the syscall tracepoints alone would hold qhtrace's exit for half a second.
 * Detached from one thread each, they share the grace periods.
 */
static void destroy_links(struct bpf_object_skeleton *s)
{
	pthread_t tids[32];
	int i, n = 0;

	for (i = 0; i < s->prog_cnt && n < (int)(sizeof(tids) / sizeof(tids[0])); i++) {
		struct bpf_link **link = s->progs[i].link;

		if (!*link)
			continue;
		if (pthread_create(&tids[n], NULL, destroy_link, link))
			destroy_link(link);
		else
			n++;
	}
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	ring_buffer__free(t->rb);
	if (t->skel)
		destroy_links(t->skel->skeleton);
	qhtrace_bpf__destroy(t->skel);
	free(t);
}

int tracer__trace_pid(struct tracer *t, uint32_t pid, const struct qh_proc *seed)
{
	if (bpf_map_update_elem(bpf_map__fd(t->skel->maps.procs), &pid, seed, BPF_NOEXIST))
		return -errno;
	return 0;
}

int tracer__lookup(struct tracer *t, uint32_t pid, struct qh_proc *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.procs), &pid, out))
		return -errno;
	return 0;
}

int tracer__epoll_fd(struct tracer *t)
{
	return ring_buffer__epoll_fd(t->rb);
}

int tracer__consume(struct tracer *t)
{
	return ring_buffer__consume(t->rb);
}

int tracer__stats(struct tracer *t, uint64_t out[QH_STAT_MAX])
{
	uint64_t *vals = calloc(t->ncpus, sizeof(*vals));
	int fd = bpf_map__fd(t->skel->maps.stats), err = 0;
	__u32 i;
	int c;

	if (!vals)
		return -ENOMEM;
	for (i = 0; i < QH_STAT_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, vals)) {
			err = -errno;
			break;
		}
		for (c = 0; c < t->ncpus; c++)
			out[i] += vals[c];
	}
	free(vals);
	return err;
}

int tracer__prog_count(struct tracer *t)
{
	return t->skel->skeleton->prog_cnt;
}

const char *tracer__prog_name(struct tracer *t, int i, bool *attached)
{
	const struct bpf_prog_skeleton *ps;

	if (i < 0 || i >= t->skel->skeleton->prog_cnt)
		return NULL;
	ps = &t->skel->skeleton->progs[i];
	*attached = *ps->link != NULL;
	return ps->name;
}
