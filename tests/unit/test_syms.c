// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The symbolizer on real files: functions of this test binary (built with -g, PIE) and of the
 * C library resolved to symbol, offset, source file and line; a snapshot that outlives its
 * process; another load address; ELF addresses that are not file offsets; a replaced file
 * refused; a deleted one and one in another mount namespace read through /proc (as root);
 * DWARF without .debug_aranges; the cache bound; separate debug files found by build id and
 * by debuglink, whose CRC is checked. Copies of this binary are made with objcopy.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <link.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "procfs.h"
#include "syms.h"

#define NOINLINE __attribute__((noinline, noclone))
#define LINE_OF(fn) static const int fn##_line = __LINE__

/*
 * All on one line, with the line recorded by the macro in front: whichever row of the line
 * table a lookup in the function picks, it names this line.
 */
LINE_OF(qh_target); static NOINLINE int qh_target(int x) { volatile int v = x; return v * 3 + v; }

/* ---- helpers ---- */

static uint64_t target_addr(void)
{
	int (*volatile fn)(int) = qh_target;

	return (uintptr_t)fn;
}

static uint64_t libc_getpid_addr(void)
{
	void *p = dlsym(RTLD_DEFAULT, "getpid");

	assert_non_null(p);
	return (uintptr_t)p;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* the load bias of the object that holds @p: ELF address = address - bias */
static uint64_t bias_of(uint64_t p)
{
	struct link_map *lm = NULL;
	Dl_info info;

	assert_int_not_equal(dladdr1((void *)(uintptr_t)p, &info, (void **)&lm, RTLD_DL_LINKMAP),
			     0);
	assert_non_null(lm);
	return lm->l_addr;
}

static void self_exe(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	assert_true(n > 0);
	buf[n] = '\0';
}

struct build_id {
	const char *suffix;	/* of the object's name; "" for the executable */
	unsigned char id[64];
	size_t len;
};

static int build_id_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct build_id *b = data;
	int i;

	(void)size;
	if (*b->suffix ? !ends_with(info->dlpi_name, b->suffix) : *info->dlpi_name != '\0')
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end;

		if (ph->p_type != PT_NOTE)
			continue;
		for (end = p + ph->p_memsz; p + sizeof(ElfW(Nhdr)) <= end;) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof(*nh);
			const char *desc = name + ((nh->n_namesz + 3) & ~3U);

			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4) && nh->n_descsz <= sizeof(b->id)) {
				memcpy(b->id, desc, nh->n_descsz);
				b->len = nh->n_descsz;
				return 1;
			}
			p = desc + ((nh->n_descsz + 3) & ~3U);
		}
	}
	return 1;
}

/* DIR/.build-id/xx/rest.debug of the loaded object named ...@suffix */
static void build_id_path(const char *suffix, const char *dir, char *buf, size_t len)
{
	struct build_id b = { .suffix = suffix };
	size_t i, n;

	dl_iterate_phdr(build_id_cb, &b);
	assert_true(b.len >= 2);
	n = snprintf(buf, len, "%s/.build-id/%02x/", dir, b.id[0]);
	for (i = 1; i < b.len; i++)
		n += snprintf(buf + n, len - n, "%02x", b.id[i]);
	snprintf(buf + n, len - n, ".debug");
}

static void resolve_ok(struct syms *s, const struct syms_maps *m, uint64_t addr,
		       struct syms_frame *fr)
{
	int ret = syms__resolve(s, m, addr, fr);

	if (ret)
		fail_msg("resolving %#llx: %d", (unsigned long long)addr, ret);
	assert_non_null(fr->module);
}

/* what every lookup of qh_target + @off must say, wherever it is mapped from */
static void assert_target(const struct syms_frame *fr, uint64_t off)
{
	assert_string_equal(fr->sym, "qh_target");
	assert_int_equal(fr->sym_off, off);
	assert_string_equal(base_name(fr->file), "test_syms.c");
	assert_int_equal(fr->line, qh_target_line);
	assert_int_equal(fr->elf_addr, target_addr() + off - bias_of(target_addr()));
}

static void assert_getpid(const struct syms_frame *fr)
{
	assert_true(ends_with(fr->module, "/libc.so.6"));
	/* libc's symbol tables name the address both __getpid (global) and getpid (weak) */
	assert_string_equal(fr->sym, "getpid");
	assert_int_equal(fr->sym_off, 0);
	assert_int_equal(fr->elf_addr, libc_getpid_addr() - bias_of(libc_getpid_addr()));
}

static bool have_tool(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", name);
	return system(cmd) == 0;
}

static void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void run(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ret = system(cmd);
	if (ret)
		fail_msg("'%s' failed: %d", cmd, ret);
}

/* One line of /proc/PID/maps: @map, with @path and @ino in place of its own, at @start. */
static struct syms_maps *fake_maps(const struct syms_map *map, uint64_t start, const char *path,
				   uint64_t ino)
{
	struct syms_maps *m;
	char text[4200];

	snprintf(text, sizeof(text), "%llx-%llx r-xp %08llx %02x:%02x %llu   %s\n",
		 (unsigned long long)start, (unsigned long long)(start + map->end - map->start),
		 (unsigned long long)map->off, major(map->dev), minor(map->dev),
		 (unsigned long long)ino, path);
	m = syms_maps__parse(0, text);
	assert_non_null(m);
	assert_int_equal(syms_maps__count(m), 1);
	return m;
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* ---- temporary directories ---- */

static int setup_dir(void **state)
{
	char *dir = strdup("/tmp/qh-test-syms-XXXXXX");

	if (!dir || !mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static int teardown_dir(void **state)
{
	char *dir = *state;

	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
	return 0;
}

/* ---- snapshots ---- */

static void test_maps_parse(void **state)
{
	static const char text[] =
		"55d4c0a00000-55d4c0a02000 r--p 00000000 fd:01 1234    /usr/bin/foo\n"
		"55d4c0a02000-55d4c0a05000 r-xp 00002000 fd:01 1234    /usr/bin/foo\n"
		"7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n"
		"7f0000002000-7f0000003000 r-xp 00000000 00:00 0       [vdso]\n"
		"7f1000000000-7f1000010000 r-xp 00010000 103:02 99     /opt/my app/x.so (deleted)\n"
		"not a mapping\n"
		"\n"
		"7e0000000000-7e0000001000 r-xp 00000000 08:10 5 /lib/z.so";
	const struct syms_map *e;
	struct syms_maps *m;

	(void)state;
	m = syms_maps__parse(42, text);
	assert_non_null(m);
	assert_int_equal(syms_maps__pid(m), 42);
	assert_int_equal(syms_maps__count(m), 3);
	/* in address order, whatever the order of the text */
	e = syms_maps__entry(m, 0);
	assert_string_equal(e->path, "/usr/bin/foo");
	assert_int_equal(e->start, 0x55d4c0a02000ULL);
	assert_int_equal(e->end, 0x55d4c0a05000ULL);
	assert_int_equal(e->off, 0x2000);
	assert_int_equal(e->dev, makedev(0xfd, 1));
	assert_int_equal(e->ino, 1234);
	assert_false(e->deleted);
	e = syms_maps__entry(m, 1);
	assert_string_equal(e->path, "/lib/z.so");
	assert_int_equal(e->dev, makedev(8, 0x10));
	e = syms_maps__entry(m, 2);
	assert_string_equal(e->path, "/opt/my app/x.so");
	assert_true(e->deleted);
	assert_int_equal(e->off, 0x10000);
	assert_int_equal(e->dev, makedev(0x103, 2));
	assert_int_equal(e->ino, 99);
	assert_null(syms_maps__entry(m, 3));

	/* start inclusive, end exclusive; gaps, non-executable and anonymous memory miss */
	assert_ptr_equal(syms_maps__find(m, 0x55d4c0a02000ULL), syms_maps__entry(m, 0));
	assert_ptr_equal(syms_maps__find(m, 0x55d4c0a04fffULL), syms_maps__entry(m, 0));
	assert_null(syms_maps__find(m, 0x55d4c0a05000ULL));
	assert_null(syms_maps__find(m, 0x55d4c0a01000ULL));
	assert_null(syms_maps__find(m, 0x7f0000000000ULL));
	assert_null(syms_maps__find(m, 0));
	assert_ptr_equal(syms_maps__find(m, 0x7f100000ffffULL), syms_maps__entry(m, 2));
	syms_maps__free(m);

	m = syms_maps__parse(0, "");
	assert_non_null(m);
	assert_int_equal(syms_maps__count(m), 0);
	assert_null(syms_maps__find(m, 0x1000));
	syms_maps__free(m);
}

/*
 * Issue 17, defect 13: a snapshot for (pid, start time) is refused when the pid is another
 * process's now; the start time and the maps come through one /proc/PID directory fd.
 */
static void test_snapshot_checks_start_time(void **state)
{
	struct procfs_stat st;
	struct syms_maps *m;

	(void)state;
	assert_int_equal(procfs__read_stat(getpid(), &st), 0);
	m = syms_maps__snapshot_of(getpid(), st.start_ns);
	assert_non_null(m);
	assert_non_null(syms_maps__find(m, target_addr()));
	syms_maps__free(m);
	errno = 0;
	/* one second off: another process that had this pid */
	assert_null(syms_maps__snapshot_of(getpid(), st.start_ns + 1000000000ULL));
	assert_int_equal(errno, ESRCH);
	assert_null(syms_maps__snapshot_of(0x7ffffff0, st.start_ns));
}

static void test_snapshot_self(void **state)
{
	const struct syms_map *e;
	struct syms_maps *m;
	char exe[4096];
	struct stat st;

	(void)state;
	self_exe(exe, sizeof(exe));
	assert_int_equal(stat(exe, &st), 0);
	m = syms_maps__snapshot(getpid());
	assert_non_null(m);
	e = syms_maps__find(m, target_addr());
	assert_non_null(e);
	assert_string_equal(e->path, exe);
	assert_int_equal(e->ino, st.st_ino);
	assert_int_equal(e->dev, st.st_dev);
	assert_false(e->deleted);
	syms_maps__free(m);

	errno = 0;
	assert_null(syms_maps__snapshot(0x7ffffff0));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(syms_maps__snapshot(0));
	assert_int_equal(errno, EINVAL);
}

/* ---- resolution ---- */

static void test_self_function(void **state)
{
	struct syms *s = syms__new(8);
	struct syms_maps *m = syms_maps__snapshot(getpid());
	struct syms_frame fr;
	char exe[4096];

	(void)state;
	assert_non_null(s);
	assert_non_null(m);
	self_exe(exe, sizeof(exe));
	resolve_ok(s, m, target_addr(), &fr);
	assert_string_equal(fr.module, exe);
	assert_target(&fr, 0);
	/* this PIE's PT_LOADs have p_offset == p_vaddr */
	assert_int_equal(fr.file_off, fr.elf_addr);

	/* inside the function */
	resolve_ok(s, m, target_addr() + 5, &fr);
	assert_target(&fr, 5);
	syms_maps__free(m);
	syms__free(s);
}

static void test_libc_function(void **state)
{
	struct syms *s = syms__new(8);
	struct syms_maps *m = syms_maps__snapshot(getpid());
	struct syms_frame fr;
	char dbg[4096];

	(void)state;
	resolve_ok(s, m, libc_getpid_addr(), &fr);
	assert_getpid(&fr);
	/* lines come from libc6-dbg, if it is installed for this very libc */
	build_id_path("/libc.so.6", "/usr/lib/debug", dbg, sizeof(dbg));
	if (access(dbg, R_OK) == 0) {
		assert_string_equal(base_name(fr.file), "syscall-template.S");
		assert_true(fr.line > 0);
	} else {
		assert_string_equal(fr.file, "");
		assert_int_equal(fr.line, 0);
	}
	resolve_ok(s, m, libc_getpid_addr() + 5, &fr);
	assert_string_equal(fr.sym, "getpid");
	assert_int_equal(fr.sym_off, 5);
	syms_maps__free(m);
	syms__free(s);
}

static void test_unmapped(void **state)
{
	struct syms *s = syms__new(8);
	struct syms_maps *m = syms_maps__snapshot(getpid());
	void *heap = malloc(16);
	struct syms_frame fr;
	int local = 0;

	(void)state;
	assert_int_equal(syms__resolve(s, m, 0, &fr), -ENOENT);
	assert_null(fr.module);
	assert_string_equal(fr.sym, "");
	assert_int_equal(syms__resolve(s, m, 0x1000, &fr), -ENOENT);
	assert_int_equal(syms__resolve(s, m, UINT64_MAX, &fr), -ENOENT);
	/* mapped, but neither executable nor a file */
	assert_int_equal(syms__resolve(s, m, (uintptr_t)&local, &fr), -ENOENT);
	assert_int_equal(syms__resolve(s, m, (uintptr_t)heap, &fr), -ENOENT);
	assert_int_equal(syms__resolve(NULL, m, target_addr(), &fr), -EINVAL);
	assert_int_equal(syms__resolve(s, NULL, target_addr(), &fr), -EINVAL);
	free(heap);
	syms_maps__free(m);
	syms__free(s);
}

static void test_exited_child(void **state)
{
	struct syms *s = syms__new(8);
	struct syms_maps *m;
	struct syms_frame fr;
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		pause();
		_exit(0);
	}
	m = syms_maps__snapshot(pid);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_non_null(m);
	assert_int_equal(syms_maps__pid(m), pid);
	/* gone: /proc/PID/root with it, the files are found by their plain paths */
	assert_int_equal(kill(pid, 0), -1);

	resolve_ok(s, m, target_addr(), &fr);
	assert_target(&fr, 0);
	resolve_ok(s, m, target_addr() + 5, &fr);
	assert_target(&fr, 5);
	resolve_ok(s, m, libc_getpid_addr(), &fr);
	assert_getpid(&fr);
	syms_maps__free(m);
	syms__free(s);
}

/*
 * The file offset decides, not the load address: the executable mapped elsewhere (as a non-PIE
 * one would be, or a later run of it) resolves the same. The same path with another inode is
 * another file (replaced since it was mapped) and is not read.
 */
static void test_other_load_address(void **state)
{
	struct syms *s = syms__new(8);
	struct syms_maps *self = syms_maps__snapshot(getpid()), *m;
	const struct syms_map *map;
	const uint64_t at = 0x400000;
	struct syms_frame fr;
	uint64_t addr;

	(void)state;
	map = syms_maps__find(self, target_addr());
	assert_non_null(map);
	addr = at + target_addr() - map->start;

	m = fake_maps(map, at, map->path, map->ino);
	resolve_ok(s, m, addr, &fr);
	assert_target(&fr, 0);
	assert_int_equal(fr.file_off, target_addr() - map->start + map->off);
	syms_maps__free(m);

	m = fake_maps(map, at, map->path, map->ino + 1);
	resolve_ok(s, m, addr, &fr);
	assert_string_equal(fr.module, map->path);
	assert_int_equal(fr.file_off, target_addr() - map->start + map->off);
	assert_int_equal(fr.elf_addr, 0);
	assert_string_equal(fr.sym, "");
	assert_string_equal(fr.file, "");
	assert_int_equal(fr.line, 0);
	syms_maps__free(m);

	/* a file that is not there */
	m = fake_maps(map, at, "/nonexistent/qh-test", 7);
	resolve_ok(s, m, addr, &fr);
	assert_string_equal(fr.module, "/nonexistent/qh-test");
	assert_string_equal(fr.sym, "");
	syms_maps__free(m);
	syms_maps__free(self);
	syms__free(s);
}

static void test_cache_bound(void **state)
{
	struct syms *s = syms__new(1);
	struct syms_maps *m = syms_maps__snapshot(getpid());
	struct syms_stats st;
	struct syms_frame fr;
	int i;

	(void)state;
	for (i = 0; i < 10; i++) {
		if (i % 2) {
			resolve_ok(s, m, libc_getpid_addr(), &fr);
			assert_getpid(&fr);
		} else {
			resolve_ok(s, m, target_addr() + i, &fr);
			assert_target(&fr, i);
		}
		syms__stats(s, &st);
		assert_int_equal(st.files, 1);
	}
	syms__stats(s, &st);
	assert_int_equal(st.misses, 10);
	assert_int_equal(st.evictions, 9);
	assert_int_equal(st.hits, 0);
	/* the last file is kept */
	resolve_ok(s, m, libc_getpid_addr() + 1, &fr);
	syms__stats(s, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 10);
	syms_maps__free(m);
	syms__free(s);

	/* room for both: each is opened once */
	s = syms__new(2);
	m = syms_maps__snapshot(getpid());
	for (i = 0; i < 10; i++)
		resolve_ok(s, m, i % 2 ? libc_getpid_addr() : target_addr(), &fr);
	syms__stats(s, &st);
	assert_int_equal(st.misses, 2);
	assert_int_equal(st.hits, 8);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.files, 2);
	syms_maps__free(m);
	syms__free(s);
}

static void test_new_free(void **state)
{
	struct syms *s;

	(void)state;
	errno = 0;
	assert_null(syms__new(0));
	assert_int_equal(errno, EINVAL);
	syms__free(NULL);
	syms_maps__free(NULL);
	s = syms__new(SIZE_MAX);
	assert_non_null(s);
	assert_int_equal(syms__set_debug_dir(s, "relative/dir"), -EINVAL);
	assert_int_equal(syms__set_debug_dir(s, ""), -EINVAL);
	assert_int_equal(syms__set_debug_dir(s, "/tmp/"), 0);
	syms__free(s);
}

/* ---- deleted files and separate debug files ---- */

/*
 * Run @argv, which ends by running a copy of this binary as "--child", and return once that
 * says it runs.
 */
static pid_t spawn_child(char *const argv[])
{
	int fds[2];
	ssize_t n;
	pid_t pid;
	char c;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(fds[1], STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	n = read(fds[0], &c, 1);
	close(fds[0]);
	if (n != 1) {
		waitpid(pid, NULL, 0);
		fail_msg("%s did not start", argv[0]);
	}
	return pid;
}

/* where qh_target is in process @m, which runs a copy of this binary at @path; 0 if nowhere */
static uint64_t target_in(const struct syms_maps *m, const char *path)
{
	struct syms_maps *self = syms_maps__snapshot(getpid());
	const struct syms_map *mine = self ? syms_maps__find(self, target_addr()) : NULL;
	uint64_t off, addr = 0;
	size_t i;

	for (i = 0; mine && i < syms_maps__count(m); i++) {
		const struct syms_map *e = syms_maps__entry(m, i);

		off = target_addr() - mine->start + mine->off;
		if (!strcmp(e->path, path) && off >= e->off && off - e->off < e->end - e->start)
			addr = e->start + off - e->off;
	}
	syms_maps__free(self);
	return addr;
}

struct child_frame {
	int ret;		/* of syms__resolve; -ESRCH if qh_target was not found mapped */
	bool deleted;
	char module[256];
	struct syms_frame fr;
	/* with want_plain, first the same mapping resolved without its process (pid 0) */
	bool want_plain;
	int plain_ret;
	char plain_sym[SYMS_SYM_LEN];
};

/*
 * Resolve qh_target in @pid, which runs a copy of this binary at @path, then kill it: it is
 * dead before the caller asserts anything, so a failed test leaves no process behind.
 */
static void resolve_in_child(pid_t pid, const char *path, struct child_frame *out)
{
	struct syms_maps *m = syms_maps__snapshot(pid);
	struct syms *s = syms__new(8);
	uint64_t addr = m ? target_in(m, path) : 0;

	out->ret = out->plain_ret = -ESRCH;
	out->deleted = false;
	out->module[0] = out->plain_sym[0] = '\0';
	if (addr && s) {
		const struct syms_map *e = syms_maps__find(m, addr);

		out->deleted = e->deleted;
		if (out->want_plain) {
			/* the same file in the same cache: it failed for pid 0, not for @pid */
			struct syms_maps *p0;
			char text[512];

			snprintf(text, sizeof(text), "%llx-%llx r-xp %llx %02x:%02x %llu %s\n",
				 (unsigned long long)e->start, (unsigned long long)e->end,
				 (unsigned long long)e->off, major(e->dev), minor(e->dev),
				 (unsigned long long)e->ino, e->path);
			p0 = syms_maps__parse(0, text);
			if (p0)
				out->plain_ret = syms__resolve(s, p0, addr, &out->fr);
			snprintf(out->plain_sym, sizeof(out->plain_sym), "%s", out->fr.sym);
			syms_maps__free(p0);
		}
		out->ret = syms__resolve(s, m, addr, &out->fr);
		if (!out->ret)
			snprintf(out->module, sizeof(out->module), "%s", out->fr.module);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	syms__free(s);
	syms_maps__free(m);
}

/* A running program whose file was deleted is read through /proc/PID/map_files (root only). */
static void test_deleted_exe(void **state)
{
	const char *dir = *state;
	char exe[4096], path[256];
	char *argv[] = { path, "--child", NULL };
	struct child_frame cf = {};
	int unlinked;
	pid_t pid;

	self_exe(exe, sizeof(exe));
	snprintf(path, sizeof(path), "%s/copy", dir);
	run("cp %s %s", exe, path);
	pid = spawn_child(argv);
	unlinked = unlink(path);
	resolve_in_child(pid, path, &cf);
	assert_int_equal(unlinked, 0);
	assert_int_equal(cf.ret, 0);
	assert_true(cf.deleted);
	assert_string_equal(cf.module, path);
	if (geteuid() == 0) {
		assert_target(&cf.fr, 0);
	} else {
		assert_string_equal(cf.fr.sym, "");
		assert_int_equal(cf.fr.elf_addr, 0);
	}
}

/* A file that only the process's mount namespace has (a container's): /proc/PID/root. */
static void test_other_mount_ns(void **state)
{
	const char *dir = *state;
	char exe[4096], mnt[256], prog[300], script[8192];
	char *argv[] = { "unshare", "--mount", "--propagation", "private", "sh", "-c", script,
			 NULL };
	struct child_frame cf = { .want_plain = true };
	pid_t pid;

	if (geteuid() != 0 || !have_tool("unshare"))
		skip();
	self_exe(exe, sizeof(exe));
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(prog, sizeof(prog), "%s/prog", mnt);
	assert_int_equal(mkdir(mnt, 0755), 0);
	snprintf(script, sizeof(script), "mount -t tmpfs qh-test %s && cp %s %s && exec %s --child",
		 mnt, exe, prog, prog);
	pid = spawn_child(argv);
	resolve_in_child(pid, prog, &cf);
	/* there is no such file here */
	assert_int_equal(access(prog, F_OK), -1);
	assert_int_equal(cf.plain_ret, 0);
	assert_string_equal(cf.plain_sym, "");
	assert_int_equal(cf.ret, 0);
	assert_false(cf.deleted);
	assert_string_equal(cf.module, prog);
	assert_target(&cf.fr, 0);
}

/*
 * ELF addresses are not file offsets in every file (non-PIE executables, lld's layouts): a
 * copy whose segments objcopy moved up in the address space, at the same file offsets.
 */
static void test_vaddr_not_offset(void **state)
{
	const char *dir = *state;
	const uint64_t shift = 0x200000;
	struct syms_maps *self, *m;
	const struct syms_map *map;
	char exe[4096], moved[256];
	struct syms_frame fr;
	struct syms *s;

	if (!have_tool("objcopy"))
		skip();
	self_exe(exe, sizeof(exe));
	snprintf(moved, sizeof(moved), "%s/moved", dir);
	/* the DWARF would still name the old addresses: without it, no line is expected */
	run("objcopy --strip-debug --adjust-vma %#llx %s %s", (unsigned long long)shift, exe,
	    moved);
	self = syms_maps__snapshot(getpid());
	map = syms_maps__find(self, target_addr());
	m = fake_maps(map, map->start, moved, ino_of(moved));
	s = syms__new(4);
	resolve_ok(s, m, target_addr() + 5, &fr);
	assert_string_equal(fr.sym, "qh_target");
	assert_int_equal(fr.sym_off, 5);
	assert_int_equal(fr.file_off, target_addr() + 5 - map->start + map->off);
	assert_int_equal(fr.elf_addr, target_addr() + 5 - bias_of(target_addr()) + shift);
	assert_string_equal(fr.file, "");
	syms__free(s);
	syms_maps__free(m);
	syms_maps__free(self);
}

/*
 * A copy of this binary that objcopy changed (it keeps the loaded layout), mapped where this
 * one is: with @want_debug, all that this binary says; else what a stripped file says.
 */
static void resolve_copy(const char *stripped, const char *debug_dir, bool want_debug)
{
	struct syms_maps *self = syms_maps__snapshot(getpid()), *m;
	const struct syms_map *map = syms_maps__find(self, target_addr());
	struct syms *s = syms__new(4);
	struct syms_frame fr;

	assert_int_equal(syms__set_debug_dir(s, debug_dir), 0);
	m = fake_maps(map, map->start, stripped, ino_of(stripped));
	resolve_ok(s, m, target_addr() + 5, &fr);
	assert_string_equal(fr.module, stripped);
	if (want_debug) {
		assert_target(&fr, 5);
	} else {
		/* a static function is in no table the stripped file keeps */
		assert_string_equal(fr.sym, "");
		assert_string_equal(fr.file, "");
		assert_int_equal(fr.elf_addr, target_addr() + 5 - bias_of(target_addr()));
	}
	syms_maps__free(m);
	syms_maps__free(self);
	syms__free(s);
}

/* what clang emits: no .debug_aranges, which libdw 0.188 alone needs to find a CU */
static void test_no_aranges(void **state)
{
	const char *dir = *state;
	char copy[256], none[256], exe[4096];

	if (!have_tool("objcopy"))
		skip();
	self_exe(exe, sizeof(exe));
	snprintf(copy, sizeof(copy), "%s/noaranges", dir);
	snprintf(none, sizeof(none), "%s/none", dir);
	run("objcopy --remove-section=.debug_aranges %s %s", exe, copy);
	resolve_copy(copy, none, true);
}

static void test_debug_build_id(void **state)
{
	const char *dir = *state;
	char stripped[256], debug_dir[256], dbg[512], sub[512], exe[4096];

	if (!have_tool("objcopy"))
		skip();
	self_exe(exe, sizeof(exe));
	snprintf(stripped, sizeof(stripped), "%s/stripped", dir);
	snprintf(debug_dir, sizeof(debug_dir), "%s/debug", dir);
	run("objcopy --strip-all %s %s", exe, stripped);
	resolve_copy(stripped, debug_dir, false);

	build_id_path("", debug_dir, dbg, sizeof(dbg));
	snprintf(sub, sizeof(sub), "%s", dbg);
	run("mkdir -p %s && objcopy --only-keep-debug %s %s", dirname(sub), exe, dbg);
	resolve_copy(stripped, debug_dir, true);
	/* a file at that path without this build id is not taken for this one's debug file */
	run("objcopy --remove-section=.note.gnu.build-id %s", dbg);
	resolve_copy(stripped, debug_dir, false);
}

static void test_debuglink(void **state)
{
	const char *dir = *state;
	char linked[256], dbg[256], none[256], root[512], exe[4096];

	if (!have_tool("objcopy"))
		skip();
	self_exe(exe, sizeof(exe));
	snprintf(linked, sizeof(linked), "%s/linked", dir);
	snprintf(dbg, sizeof(dbg), "%s/qh.debug", dir);
	/* no build id lookup can succeed: the debuglink alone finds the file */
	snprintf(none, sizeof(none), "%s/none", dir);
	run("objcopy --only-keep-debug %s %s", exe, dbg);
	run("objcopy --strip-all --add-gnu-debuglink=%s %s %s", dbg, exe, linked);

	/* beside the file */
	resolve_copy(linked, none, true);
	/* in .debug/ beside it */
	run("mkdir %s/.debug && mv %s %s/.debug/", dir, dbg, dir);
	resolve_copy(linked, none, true);
	/* under the debug directory, at the file's own directory */
	snprintf(root, sizeof(root), "%s/root", dir);
	run("mkdir -p %s%s && mv %s/.debug/qh.debug %s%s/", root, dir, dir, root, dir);
	resolve_copy(linked, root, true);
	/* one byte more: the CRC no longer matches, the file is not used */
	run("echo >> %s%s/qh.debug", root, dir);
	resolve_copy(linked, root, false);
}

#define T_DIR(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_parse),
		cmocka_unit_test(test_snapshot_checks_start_time),
		cmocka_unit_test(test_snapshot_self),
		cmocka_unit_test(test_self_function),
		cmocka_unit_test(test_libc_function),
		cmocka_unit_test(test_unmapped),
		cmocka_unit_test(test_exited_child),
		cmocka_unit_test(test_other_load_address),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_new_free),
		T_DIR(test_deleted_exe),
		T_DIR(test_other_mount_ns),
		T_DIR(test_vaddr_not_offset),
		T_DIR(test_no_aranges),
		T_DIR(test_debug_build_id),
		T_DIR(test_debuglink),
	};

	/* test_deleted_exe runs a copy of this binary: it says it runs, then waits to be killed */
	if (argc == 2 && !strcmp(argv[1], "--child")) {
		if (write(STDOUT_FILENO, "r", 1) != 1)
			return 1;
		pause();
		return 0;
	}
	return cmocka_run_group_tests_name("syms", tests, NULL, NULL);
}
