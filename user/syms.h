/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The user-space symbolizer: an address in a traced process -> the file mapped there, the
 * function (symbol + offset) and, when DWARF is at hand, the source file and line.
 *
 * A stack is resolved against a snapshot of the process's executable mappings, taken while the
 * process lives, so stacks of a process that has since exited still resolve. Files are read
 * through /proc/PID/root (containers, other mount namespaces), else by their plain path, and a
 * file is used only if its inode is the one the process mapped.
 *
 * Not thread-safe: one struct syms per thread, or a lock around it.
 */
#ifndef __QH_SYMS_H
#define __QH_SYMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* one executable mapping of a file, as /proc/PID/maps showed it */
struct syms_map {
	uint64_t start;
	uint64_t end;		/* exclusive */
	uint64_t off;		/* file offset mapped at start */
	uint64_t dev;		/* makedev(major, minor) */
	uint64_t ino;
	bool deleted;		/* the path was unlinked or replaced after it was mapped */
	char *path;		/* as the process sees it, " (deleted)" removed */
};

struct syms_maps;

/*
 * The executable file mappings of @pid (kernel tid or tgid) now. NULL with errno set on
 * failure (ENOENT: no such process). Mappings without a file ([vdso], JIT code) are left out.
 */
struct syms_maps *syms_maps__snapshot(pid_t pid);
/*
 * The same from the text of a /proc/PID/maps file; lines that do not parse are skipped.
 * @pid only names the process whose root files are opened through; 0 for none.
 */
struct syms_maps *syms_maps__parse(pid_t pid, const char *text);
void syms_maps__free(struct syms_maps *m);
/*
 * A copy of @m (NULL: none) with the mappings of @text (as syms_maps__parse reads it) that
 * overlap none of its own added; NULL with errno on failure.
 */
struct syms_maps *syms_maps__merge(const struct syms_maps *m, const char *text, pid_t pid);
/* A copy of @m for @pid (a forked child maps what its parent did); NULL with errno on failure. */
struct syms_maps *syms_maps__clone(const struct syms_maps *m, pid_t pid);

pid_t syms_maps__pid(const struct syms_maps *m);
size_t syms_maps__count(const struct syms_maps *m);
/* in address order; NULL past the end */
const struct syms_map *syms_maps__entry(const struct syms_maps *m, size_t i);
/* the mapping that holds @addr, or NULL */
const struct syms_map *syms_maps__find(const struct syms_maps *m, uint64_t addr);

#define SYMS_SYM_LEN 512
#define SYMS_FILE_LEN 512

/*
 * One resolved address. The strings are copies (cut to fit, always terminated), so a frame
 * stays valid after later lookups evict its file from the cache; only @module points into the
 * snapshot and lives as long as it.
 */
struct syms_frame {
	const char *module;	/* path of the mapped file */
	uint64_t file_off;	/* offset of the address in that file */
	uint64_t elf_addr;	/* ELF virtual address, as nm and addr2line take it; 0 unknown */
	uint64_t sym_off;	/* address - start of @sym */
	uint32_t line;		/* 0 if unknown */
	bool inlined;		/* syms__resolve_inline: a function inlined into the next frame */
	char sym[SYMS_SYM_LEN];	/* function, not demangled, no @VERSION; "" if unknown */
	char file[SYMS_FILE_LEN]; /* source file; "" if unknown */
};

struct syms_stats {
	uint64_t hits;		/* lookups that found their file in the cache */
	uint64_t misses;	/* files opened (or tried and failed) */
	uint64_t evictions;
	size_t files;		/* files in the cache now */
};

struct syms;

/*
 * A symbolizer that keeps at most @max_files files open (two descriptors and two ELF handles
 * each at most: the file and its separate debug file), least recently used evicted first.
 * NULL with errno set (EINVAL for 0).
 */
struct syms *syms__new(size_t max_files);
void syms__free(struct syms *s);

/*
 * Where separate debug files are looked up (.build-id/xx/rest.debug and, for a debuglink,
 * DIR/path/of/the/file's/dir/NAME); "/usr/lib/debug" unless set. Cached files keep what they
 * found.
 */
int syms__set_debug_dir(struct syms *s, const char *dir);

/*
 * Resolve @addr of the process @m was taken from. Returns -ENOENT if no executable file
 * mapping holds it (unmapped, anonymous or JIT code), -ENOMEM, or 0 with @out filled as far as
 * it goes: module and file_off always; elf_addr when the file (the very inode mapped) could be
 * read; sym and sym_off when a function symbol covers the address; file and line when DWARF
 * does. A file that cannot be read is not an error: the frame just says less.
 *
 * The lookup is exact. For a return address taken from a stack pass addr - 1, which lies in
 * the call instruction, to get the line of the call (sym_off is then one less).
 * Code inlined into a function is reported as that function, with the inlined code's line
 * (syms__resolve_inline names the inlined functions).
 */
int syms__resolve(struct syms *s, const struct syms_maps *m, uint64_t addr,
		  struct syms_frame *out);

/*
 * The same, with the functions the compiler inlined at @addr expanded from DWARF, the way
 * addr2line -i does: @out[0] the innermost inlined function at the code's line, then each
 * function it was inlined into at the line of the inlined call, up to the function the symbol
 * table names (at its offset). Inlined frames have `inlined` set and sym_off 0. How many
 * frames (1..@max), or -errno as syms__resolve.
 */
int syms__resolve_inline(struct syms *s, const struct syms_maps *m, uint64_t addr,
			 struct syms_frame *out, size_t max);

/*
 * The C++ (Itanium ABI) name @name demangled into @buf (cut to fit): "aligned_buf()" for
 * "_Z11aligned_bufv". false, @buf untouched, when @name is not a mangled name.
 */
bool syms__demangle(const char *name, char *buf, size_t len);

void syms__stats(const struct syms *s, struct syms_stats *st);

#endif
