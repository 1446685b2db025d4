// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Address -> mapped file -> file offset -> ELF virtual address (through the PT_LOAD headers,
 * the one conversion that is right for PIE and non-PIE executables and shared libraries
 * alike) -> symbol (binary search) and source line (libdw).
 *
 * Opened files are cached by (dev, inode, path), at most max_files of them, least recently used
 * evicted first. An entry holds the file's ELF handle (mmap'd: page cache, not heap), that of
 * its separate debug file if one was needed and found, its PT_LOAD headers, its function
 * symbols sorted by address, and its libdw handle once a line was asked for (libdw inflates
 * compressed debug sections on the heap: some 12 MB for Debian's libc with libc6-dbg). A file
 * that could not be used is cached too, so a stack of a hundred frames in it costs one failed
 * open.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <dwarf.h>
#include <gelf.h>
#include <zlib.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>

#include "htab.h"
#include "log.h"
#include "syms.h"
#include "vec.h"

#define SYMS_DEFAULT_DEBUG_DIR "/usr/lib/debug"
/* how far back a lookup looks for a symbol that encloses a smaller one starting inside it */
#define SYMS_ENCLOSING_SCAN 16

struct syms_maps {
	pid_t pid;
	size_t cnt;
	struct syms_map *maps;
};

struct syms_sym {
	uint64_t start;
	uint64_t end;		/* exclusive */
	const char *name;	/* in the ELF string table, valid while the file is cached */
};

struct syms_cu {
	uint64_t lo;
	uint64_t hi;
	Dwarf_Off die;
};

struct syms_elf {
	int fd;
	Elf *elf;
};

struct syms_file {
	uint64_t dev;
	uint64_t ino;
	char *path;
	struct hnode hnode;	/* in syms' table, by (dev, inode, path) */
	struct syms_file *prev;	/* LRU list, most recently used first */
	struct syms_file *next;

	int err;		/* why the file cannot be used; 0 if it can */
	pid_t failed_pid;	/* the process it failed for: another one may see the file */

	struct syms_elf main;
	struct syms_elf dbg;	/* separate debug file, fd -1 if none */
	struct stat st;		/* of main */
	GElf_Phdr *loads;
	size_t nloads;
	struct syms_sym *syms;
	size_t nsyms;
	Elf *dw_elf;		/* the ELF with .debug_info, main's or dbg's, or NULL */
	Dwarf *dw;
	bool dw_tried;
	/* CU address ranges, built if .debug_aranges does not cover an address */
	struct syms_cu *cus;
	size_t ncus;
	bool cus_built;
};

struct syms {
	size_t max_files;
	struct htab files;
	struct syms_file *head;
	struct syms_file *tail;
	char *debug_dir;
	struct syms_stats stats;
};

/* ---- memory-map snapshots ---- */

static int parse_map_line(char *line, struct syms_map *map)
{
	static const char deleted[] = " (deleted)";
	unsigned long long start, end, off, ino;
	unsigned int maj, min;
	char perms[5], *path;
	size_t len;
	int n = 0;

	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj,
		   &min, &ino, &n) != 7 || !n)
		return -EINVAL;
	path = line + n;
	/* pseudo paths ([vdso], [heap]) and anonymous memory have no file to read */
	if (strlen(perms) < 3 || perms[2] != 'x' || path[0] != '/' || start >= end)
		return -ENOENT;
	len = strlen(path);
	map->deleted = len > sizeof(deleted) - 1 &&
		       !strcmp(path + len - (sizeof(deleted) - 1), deleted);
	if (map->deleted)
		len -= sizeof(deleted) - 1;
	map->path = strndup(path, len);
	if (!map->path)
		return -ENOMEM;
	map->start = start;
	map->end = end;
	map->off = off;
	map->dev = makedev(maj, min);
	map->ino = ino;
	return 0;
}

static int cmp_map(const void *a, const void *b)
{
	const struct syms_map *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

struct syms_maps *syms_maps__clone(const struct syms_maps *m, pid_t pid)
{
	struct syms_maps *c = calloc(1, sizeof(*c));
	size_t i;

	if (!c)
		return NULL;
	c->pid = pid;
	c->maps = calloc(m->cnt ? m->cnt : 1, sizeof(*c->maps));
	if (!c->maps)
		goto fail;
	for (i = 0; i < m->cnt; i++) {
		c->maps[i] = m->maps[i];
		c->maps[i].path = strdup(m->maps[i].path);
		if (!c->maps[i].path)
			goto fail;
		c->cnt++;
	}
	return c;
fail:
	syms_maps__free(c);
	errno = ENOMEM;
	return NULL;
}

struct syms_maps *syms_maps__parse(pid_t pid, const char *text)
{
	struct syms_maps *m;
	char *buf, *line, *nl;
	size_t cap = 0;
	int err = 0;

	m = calloc(1, sizeof(*m));
	buf = strdup(text ? text : "");
	if (!m || !buf) {
		err = -ENOMEM;
		goto out;
	}
	m->pid = pid;
	for (line = buf; *line; line = nl) {
		struct syms_map map;
		int ret;

		nl = strchrnul(line, '\n');
		if (*nl)
			*nl++ = '\0';
		ret = parse_map_line(line, &map);
		if (ret == -ENOMEM) {
			err = ret;
			goto out;
		}
		if (ret)
			continue;
		if (vec_reserve(m->maps, cap, m->cnt + 1)) {
			free(map.path);
			err = -ENOMEM;
			goto out;
		}
		m->maps[m->cnt++] = map;
	}
	/* the kernel lists mappings in order; a text from elsewhere might not */
	if (m->cnt > 1)
		qsort(m->maps, m->cnt, sizeof(*m->maps), cmp_map);
out:
	free(buf);
	if (err) {
		syms_maps__free(m);
		errno = -err;
		return NULL;
	}
	return m;
}

struct syms_maps *syms_maps__merge(const struct syms_maps *m, const char *text, pid_t pid)
{
	struct syms_maps *add = syms_maps__parse(pid, text), *c;
	size_t i, cap;

	if (!add || !m)
		return add;
	c = syms_maps__clone(m, m->pid);
	if (!c)
		goto fail;
	cap = c->cnt;
	for (i = 0; i < add->cnt; i++) {
		if (syms_maps__find(c, add->maps[i].start))
			continue;
		if (vec_reserve(c->maps, cap, c->cnt + 1))
			goto fail;
		c->maps[c->cnt++] = add->maps[i];
		add->maps[i].path = NULL; /* moved */
	}
	if (c->cnt > 1)
		qsort(c->maps, c->cnt, sizeof(*c->maps), cmp_map);
	syms_maps__free(add);
	return c;
fail:
	syms_maps__free(add);
	syms_maps__free(c);
	errno = ENOMEM;
	return NULL;
}

static char *read_text(const char *path)
{
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap);
	int fd, err = 0;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	for (;;) {
		ssize_t n;

		if (vec_reserve(buf, cap, len + 4096)) {
			err = ENOMEM;
			goto fail;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			goto fail;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return buf;
fail:
	if (fd >= 0)
		close(fd);
	free(buf);
	errno = err;
	return NULL;
}

struct syms_maps *syms_maps__snapshot(pid_t pid)
{
	struct syms_maps *m;
	char path[64], *text;
	int err;

	if (pid <= 0) {
		errno = EINVAL;
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	text = read_text(path);
	if (!text)
		return NULL;
	m = syms_maps__parse(pid, text);
	err = errno;
	free(text);
	errno = err;
	return m;
}

void syms_maps__free(struct syms_maps *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->cnt; i++)
		free(m->maps[i].path);
	free(m->maps);
	free(m);
}

pid_t syms_maps__pid(const struct syms_maps *m)
{
	return m->pid;
}

size_t syms_maps__count(const struct syms_maps *m)
{
	return m->cnt;
}

const struct syms_map *syms_maps__entry(const struct syms_maps *m, size_t i)
{
	return i < m->cnt ? &m->maps[i] : NULL;
}

const struct syms_map *syms_maps__find(const struct syms_maps *m, uint64_t addr)
{
	size_t lo = 0, hi = m->cnt;

	/* the first mapping that starts above addr; the one before it may hold addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < m->maps[lo - 1].end)
		return &m->maps[lo - 1];
	return NULL;
}

/* ---- opening files ---- */

/*
 * A regular file (a FIFO would block the open, a device has no symbols) with the inode the
 * process mapped, @ino 0 for any: a path can name another file than the one mapped, after an
 * upgrade replaced it or, when the process has exited, in our mount namespace rather than its.
 */
static int open_regular(const char *path, uint64_t ino, struct stat *st)
{
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st->st_mode) || (ino && st->st_ino != ino)) {
		close(fd);
		return S_ISREG(st->st_mode) ? -ESTALE : -EINVAL;
	}
	return fd;
}

/* @path as process @pid sees it, else as we do */
static int open_in_root(pid_t pid, const char *path, uint64_t ino, struct stat *st)
{
	char buf[PATH_MAX + 32];
	int fd;

	if (pid > 0 && (size_t)snprintf(buf, sizeof(buf), "/proc/%d/root%s", pid, path) <
			       sizeof(buf)) {
		fd = open_regular(buf, ino, st);
		if (fd >= 0)
			return fd;
	}
	return open_regular(path, ino, st);
}

static int open_mapped(const struct syms_maps *m, const struct syms_map *map, struct stat *st)
{
	char buf[96];
	int fd;

	/* an unlinked file is reachable only through the mapping, while the process lives */
	if (map->deleted && m->pid > 0) {
		snprintf(buf, sizeof(buf), "/proc/%d/map_files/%llx-%llx", m->pid,
			 (unsigned long long)map->start, (unsigned long long)map->end);
		fd = open_regular(buf, map->ino, st);
		if (fd >= 0)
			return fd;
	}
	return open_in_root(m->pid, map->path, map->ino, st);
}

static void elf_close(struct syms_elf *e)
{
	if (e->elf)
		elf_end(e->elf);
	if (e->fd >= 0)
		close(e->fd);
	e->elf = NULL;
	e->fd = -1;
}

static int elf_open_fd(struct syms_elf *e, int fd)
{
	e->fd = fd;
	e->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!e->elf || elf_kind(e->elf) != ELF_K_ELF) {
		elf_close(e);
		return -ENOEXEC;
	}
	return 0;
}

struct elf_scan {
	Elf_Scn *symtab;
	Elf_Scn *dynsym;
	bool dwarf;
};

static void scan_sections(Elf *elf, struct elf_scan *sc)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	memset(sc, 0, sizeof(*sc));
	if (elf_getshdrstrndx(elf, &shstrndx))
		return;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh))
			continue;
		/* a debug file keeps the headers of the sections it dropped, as SHT_NOBITS */
		if (sh.sh_type == SHT_SYMTAB && !sc->symtab) {
			sc->symtab = scn;
		} else if (sh.sh_type == SHT_DYNSYM && !sc->dynsym) {
			sc->dynsym = scn;
		} else if (sh.sh_type == SHT_PROGBITS) {
			name = elf_strptr(elf, shstrndx, sh.sh_name);
			if (name && (!strcmp(name, ".debug_info") || !strcmp(name, ".zdebug_info")))
				sc->dwarf = true;
		}
	}
}

static int same_build_id(Elf *a, Elf *b)
{
	const void *ida, *idb;
	ssize_t la = dwelf_elf_gnu_build_id(a, &ida);
	ssize_t lb = dwelf_elf_gnu_build_id(b, &idb);

	return la > 0 && la == lb && !memcmp(ida, idb, la);
}

static int file_crc32(int fd, uint32_t *crc)
{
	const size_t len = 65536;
	unsigned char *buf = malloc(len);
	uLong c = crc32(0L, Z_NULL, 0);
	off_t off = 0;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (!n)
			break;
		c = crc32(c, buf, n);
		off += n;
	}
	free(buf);
	*crc = c;
	return err;
}

/*
 * Take @path (in the process's root, else ours) as @f's debug file if it is one: the same
 * build id, or, for a debuglink (@crc non-NULL), the CRC the link records.
 */
static int try_debug(struct syms_file *f, pid_t pid, const char *path, const uint32_t *crc)
{
	char buf[PATH_MAX + 32];
	const char *cand[2];
	int i, n = 0;

	if (pid > 0 && (size_t)snprintf(buf, sizeof(buf), "/proc/%d/root%s", pid, path) <
			       sizeof(buf))
		cand[n++] = buf;
	cand[n++] = path;
	for (i = 0; i < n; i++) {
		struct syms_elf e;
		struct stat st;
		uint32_t got;
		int fd;

		fd = open_regular(cand[i], 0, &st);
		if (fd < 0)
			continue;
		/* a debuglink naming the file's own basename, looked up in its own directory */
		if (st.st_dev == f->st.st_dev && st.st_ino == f->st.st_ino) {
			close(fd);
			continue;
		}
		if (crc && (file_crc32(fd, &got) || got != *crc)) {
			pr_debug("syms: %s: debuglink crc mismatch, ignored\n", cand[i]);
			close(fd);
			continue;
		}
		if (elf_open_fd(&e, fd))
			continue;
		if (!crc && !same_build_id(f->main.elf, e.elf)) {
			elf_close(&e);
			continue;
		}
		f->dbg = e;
		return 0;
	}
	return -ENOENT;
}

static int find_debug(struct syms *s, struct syms_file *f, pid_t pid)
{
	char path[PATH_MAX], dir[PATH_MAX];
	const unsigned char *id;
	const char *link, *slash;
	const void *idp;
	GElf_Word crc;
	ssize_t len, i;
	size_t n;

	len = dwelf_elf_gnu_build_id(f->main.elf, &idp);
	id = idp;
	if (len >= 2 && len <= 64) {
		n = snprintf(path, sizeof(path), "%s/.build-id/%02x/", s->debug_dir, id[0]);
		for (i = 1; i < len && n < sizeof(path); i++)
			n += snprintf(path + n, sizeof(path) - n, "%02x", id[i]);
		if (n < sizeof(path) &&
		    (size_t)snprintf(path + n, sizeof(path) - n, ".debug") < sizeof(path) - n &&
		    !try_debug(f, pid, path, NULL))
			return 0;
	}

	link = dwelf_elf_gnu_debuglink(f->main.elf, &crc);
	/* a name, not a path: the link does not get to point anywhere else */
	if (!link || !*link || strchr(link, '/'))
		return -ENOENT;
	slash = strrchr(f->path, '/');
	n = slash ? (size_t)(slash - f->path) : 0;
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, f->path, n);
	dir[n] = '\0';
	/* gdb's order: next to the file, in .debug/ beside it, under the debug directory */
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, link) < sizeof(path) &&
	    !try_debug(f, pid, path, &crc))
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/.debug/%s", dir, link) < sizeof(path) &&
	    !try_debug(f, pid, path, &crc))
		return 0;
	if ((size_t)snprintf(path, sizeof(path), "%s%s/%s", s->debug_dir, dir, link) <
		    sizeof(path) &&
	    !try_debug(f, pid, path, &crc))
		return 0;
	return -ENOENT;
}

/* ---- symbols ---- */

struct sym_tmp {
	struct syms_sym s;
	uint64_t size;
	uint64_t limit;		/* end of the symbol's section, for symbols of no size */
	int bind;		/* GLOBAL 0, WEAK 1, others 2 */
};

/* the length of @name without the version a .symtab may spell in it: mtx_init@@GLIBC_2.34 */
static size_t name_len(const char *name)
{
	return strcspn(name, "@");
}

static int leading_underscores(const char *name)
{
	int n = 0;

	while (name[n] == '_')
		n++;
	return n;
}

/*
 * By address, then the best of aliases first: one with a size; an exported name over a local
 * one (__wcstof128_nan, not __GI___wcstof128_nan); of those, the name a user calls (getpid,
 * a weak alias, over __getpid), global over weak, the shorter, then by name so the choice is
 * stable.
 */
static int cmp_sym_tmp(const void *a, const void *b)
{
	const struct sym_tmp *x = a, *y = b;
	size_t lx, ly;
	int ux, uy;

	if (x->s.start != y->s.start)
		return x->s.start < y->s.start ? -1 : 1;
	if (!x->size != !y->size)
		return x->size ? -1 : 1;
	if ((x->bind < 2) != (y->bind < 2))
		return x->bind < 2 ? -1 : 1;
	ux = leading_underscores(x->s.name);
	uy = leading_underscores(y->s.name);
	if (ux != uy)
		return ux - uy;
	if (x->bind != y->bind)
		return x->bind - y->bind;
	lx = name_len(x->s.name);
	ly = name_len(y->s.name);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(x->s.name, y->s.name);
}

static uint64_t section_end(Elf *elf, size_t ndx)
{
	Elf_Scn *scn = elf_getscn(elf, ndx);
	GElf_Shdr sh;

	if (!scn || !gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC))
		return 0;
	return sh.sh_addr + sh.sh_size;
}

static bool sym_wanted(const GElf_Sym *sym)
{
	int type = GELF_ST_TYPE(sym->st_info);

	return (type == STT_FUNC || type == STT_GNU_IFUNC) && sym->st_shndx != SHN_UNDEF &&
	       sym->st_value;
}

static int load_syms(struct syms_file *f, Elf *elf, Elf_Scn *scn)
{
	size_t i, n, cnt = 0, out = 0;
	struct syms_sym *shrunk;
	struct sym_tmp *tmp;
	Elf_Data *data;
	GElf_Shdr sh;
	GElf_Sym sym;

	if (!gelf_getshdr(scn, &sh) || !sh.sh_entsize)
		return 0;
	data = elf_getdata(scn, NULL);
	if (!data)
		return 0;
	/* what libelf found in the file, not what a header claims */
	n = data->d_size / sh.sh_entsize;
	/* functions only: a .symtab holds many more symbols than those */
	for (i = 0; i < n && gelf_getsym(data, i, &sym); i++)
		cnt += sym_wanted(&sym);
	if (!cnt)
		return 0;
	tmp = calloc(cnt, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	for (i = 0, cnt = 0; i < n && gelf_getsym(data, i, &sym); i++) {
		struct sym_tmp *t = &tmp[cnt];
		const char *name;

		if (!sym_wanted(&sym))
			continue;
		name = elf_strptr(elf, sh.sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		t->s.start = sym.st_value;
		t->s.name = name;
		t->size = sym.st_size;
		if (!sym.st_size && sym.st_shndx < SHN_LORESERVE)
			t->limit = section_end(elf, sym.st_shndx);
		switch (GELF_ST_BIND(sym.st_info)) {
		case STB_GLOBAL:
			t->bind = 0;
			break;
		case STB_WEAK:
			t->bind = 1;
			break;
		default:
			t->bind = 2;
		}
		cnt++;
	}
	if (!cnt) {
		free(tmp);
		return 0;
	}
	qsort(tmp, cnt, sizeof(*tmp), cmp_sym_tmp);
	f->syms = calloc(cnt, sizeof(*f->syms));
	if (!f->syms) {
		free(tmp);
		return -ENOMEM;
	}
	for (i = 0; i < cnt; i++) {
		struct syms_sym *o;
		size_t j;

		/* aliases: the first of each address is the best */
		if (out && tmp[i].s.start == f->syms[out - 1].start)
			continue;
		o = &f->syms[out++];
		*o = tmp[i].s;
		if (tmp[i].size) {
			o->end = o->start + tmp[i].size;
			continue;
		}
		/* no size (hand-written assembly): up to the next symbol or its section's end */
		for (j = i + 1; j < cnt && tmp[j].s.start == o->start; j++)
			;
		o->end = j < cnt ? tmp[j].s.start : UINT64_MAX;
		if (tmp[i].limit > o->start && tmp[i].limit < o->end)
			o->end = tmp[i].limit;
		if (o->end == UINT64_MAX)
			o->end = o->start + 1;
	}
	free(tmp);
	f->nsyms = out;
	shrunk = reallocarray(f->syms, out, sizeof(*f->syms));
	if (shrunk)
		f->syms = shrunk;
	return 0;
}

static const struct syms_sym *find_sym(const struct syms_file *f, uint64_t addr)
{
	size_t lo = 0, hi = f->nsyms, i;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->syms[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the nearest symbol below may be a label inside a function that encloses addr */
	for (i = lo; i > 0 && lo - i < SYMS_ENCLOSING_SCAN; i--) {
		if (addr < f->syms[i - 1].end)
			return &f->syms[i - 1];
	}
	return NULL;
}

/* ---- source lines ---- */

static int cmp_cu(const void *a, const void *b)
{
	const struct syms_cu *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

/* libdw 0.188 finds a CU by address only through .debug_aranges, which clang does not emit */
static int build_cus(struct syms_file *f)
{
	Dwarf_CU *cu = NULL, *next;
	size_t cap = 0;
	Dwarf_Die die;
	uint8_t type;

	while (!dwarf_get_units(f->dw, cu, &next, NULL, &type, &die, NULL)) {
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;

		cu = next;
		if (type != DW_UT_compile && type != DW_UT_skeleton)
			continue;
		while ((off = dwarf_ranges(&die, off, &base, &lo, &hi)) > 0) {
			if (lo >= hi)
				continue;
			if (vec_reserve(f->cus, cap, f->ncus + 1))
				return -ENOMEM;
			f->cus[f->ncus].lo = lo;
			f->cus[f->ncus].hi = hi;
			f->cus[f->ncus].die = dwarf_dieoffset(&die);
			f->ncus++;
		}
	}
	if (f->ncus > 1)
		qsort(f->cus, f->ncus, sizeof(*f->cus), cmp_cu);
	return 0;
}

static Dwarf_Die *find_cu(struct syms_file *f, uint64_t addr, Dwarf_Die *die)
{
	size_t lo = 0, hi;

	if (dwarf_addrdie(f->dw, addr, die))
		return die;
	if (!f->cus_built) {
		f->cus_built = true;
		if (build_cus(f)) {
			free(f->cus);
			f->cus = NULL;
			f->ncus = 0;
		}
	}
	hi = f->ncus;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (f->cus[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < f->cus[lo - 1].hi)
		return dwarf_offdie(f->dw, f->cus[lo - 1].die, die);
	return NULL;
}

static void find_line(struct syms_file *f, uint64_t addr, struct syms_frame *out)
{
	Dwarf_Line *line;
	const char *src;
	Dwarf_Die die;
	int lineno;

	if (!f->dw_tried) {
		f->dw_tried = true;
		if (f->dw_elf)
			f->dw = dwarf_begin_elf(f->dw_elf, DWARF_C_READ, NULL);
	}
	if (!f->dw || !find_cu(f, addr, &die))
		return;
	line = dwarf_getsrc_die(&die, addr);
	if (!line || dwarf_lineno(line, &lineno) || lineno <= 0)
		return;
	src = dwarf_linesrc(line, NULL, NULL);
	if (!src)
		return;
	snprintf(out->file, sizeof(out->file), "%s", src);
	out->line = lineno;
}

/* The name of a function's DIE, the linkage (mangled) name first, so C++ demangles alike. */
static const char *die_fn_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *name;

	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));
	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
	return name ?: dwarf_diename(die);
}

/*
 * The functions inlined at @addr, innermost first, into @out[1..]: @out[0] holds the line the
 * code is on (find_line's), which becomes the innermost inlined function's; each call site's
 * file and line go to the frame of the function it is in. How many frames @out now has.
 */
static size_t find_inlines(struct syms_file *f, uint64_t addr, struct syms_frame *out, size_t max)
{
	Dwarf_Die cu, *scopes = NULL, *fn;
	Dwarf_Files *files = NULL;
	size_t n = 1, nfiles = 0;
	int nscopes, i;

	if (!f->dw || max < 2 || !find_cu(f, addr, &cu))
		return 1;
	nscopes = dwarf_getscopes(&cu, addr, &scopes);
	if (nscopes <= 0)
		return 1;
	dwarf_getsrcfiles(&cu, &files, &nfiles);
	for (i = 0; i < nscopes && n < max; i++) {
		Dwarf_Attribute a;
		Dwarf_Word file = 0, line = 0;
		const char *src, *name;
		struct syms_frame *outer;

		fn = &scopes[i];
		if (dwarf_tag(fn) != DW_TAG_inlined_subroutine)
			continue;
		/* this frame is the inlined function; the next one the function it sits in */
		name = die_fn_name(fn);
		snprintf(out[n - 1].sym, sizeof(out[n - 1].sym), "%s", name ?: "");
		out[n - 1].inlined = true;
		out[n - 1].sym_off = 0;
		outer = &out[n++];
		*outer = out[0];
		outer->inlined = false;
		outer->sym[0] = outer->file[0] = '\0';
		outer->line = 0;
		if (!dwarf_formudata(dwarf_attr(fn, DW_AT_call_line, &a), &line))
			outer->line = line;
		if (files && !dwarf_formudata(dwarf_attr(fn, DW_AT_call_file, &a), &file) &&
		    (src = dwarf_filesrc(files, file, NULL, NULL)))
			snprintf(outer->file, sizeof(outer->file), "%s", src);
	}
	free(scopes);
	return n;
}

/* ---- the cache ---- */

static void file_release(struct syms_file *f)
{
	if (f->dw)
		dwarf_end(f->dw);
	f->dw = NULL;
	f->dw_tried = false;
	f->dw_elf = NULL;
	elf_close(&f->dbg);
	elf_close(&f->main);
	free(f->loads);
	free(f->syms);
	free(f->cus);
	f->loads = NULL;
	f->syms = NULL;
	f->cus = NULL;
	f->nloads = f->nsyms = f->ncus = 0;
	f->cus_built = false;
}

static void file_free(struct syms_file *f)
{
	file_release(f);
	free(f->path);
	free(f);
}

static int load_phdrs(struct syms_file *f)
{
	size_t i, n;

	if (elf_getphdrnum(f->main.elf, &n))
		return -ENOEXEC;
	f->loads = calloc(n ? n : 1, sizeof(*f->loads));
	if (!f->loads)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(f->main.elf, i, &ph) && ph.p_type == PT_LOAD)
			f->loads[f->nloads++] = ph;
	}
	return f->nloads ? 0 : -ENOEXEC;
}

static int file_open(struct syms *s, struct syms_file *f, const struct syms_maps *m,
		     const struct syms_map *map)
{
	struct elf_scan main_sc, dbg_sc = {};
	int fd, err;

	fd = open_mapped(m, map, &f->st);
	if (fd < 0)
		return fd;
	err = elf_open_fd(&f->main, fd);
	if (err)
		return err;
	err = load_phdrs(f);
	if (err)
		return err;
	scan_sections(f->main.elf, &main_sc);
	if ((!main_sc.symtab || !main_sc.dwarf) && !find_debug(s, f, m->pid))
		scan_sections(f->dbg.elf, &dbg_sc);
	f->dw_elf = main_sc.dwarf ? f->main.elf : dbg_sc.dwarf ? f->dbg.elf : NULL;
	if (main_sc.symtab)
		return load_syms(f, f->main.elf, main_sc.symtab);
	if (dbg_sc.symtab)
		return load_syms(f, f->dbg.elf, dbg_sc.symtab);
	if (main_sc.dynsym)
		return load_syms(f, f->main.elf, main_sc.dynsym);
	return 0;
}

static uint64_t key_hash(uint64_t dev, uint64_t ino, const char *path)
{
	return htab__mix(htab__str(HTAB_SEED, path) ^ htab__mix(dev ^ htab__mix(ino)));
}

static void lru_unlink(struct syms *s, struct syms_file *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		s->head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		s->tail = f->prev;
	f->prev = f->next = NULL;
}

static void lru_push(struct syms *s, struct syms_file *f)
{
	f->prev = NULL;
	f->next = s->head;
	if (s->head)
		s->head->prev = f;
	else
		s->tail = f;
	s->head = f;
}

static void evict(struct syms *s, struct syms_file *f)
{
	htab__del(&s->files, &f->hnode);
	lru_unlink(s, f);
	file_free(f);
	s->stats.files--;
	s->stats.evictions++;
}

static int file_get(struct syms *s, const struct syms_maps *m, const struct syms_map *map,
		    struct syms_file **out)
{
	uint64_t hash = key_hash(map->dev, map->ino, map->path);
	struct syms_file *f = NULL;
	struct hnode *n;
	int err;

	for (n = htab__first(&s->files, hash); n; n = htab__next(n)) {
		f = htab_entry(n, struct syms_file, hnode);
		if (f->dev == map->dev && f->ino == map->ino && !strcmp(f->path, map->path))
			break;
		f = NULL;
	}
	if (f) {
		lru_unlink(s, f);
		lru_push(s, f);
		if (!f->err || m->pid <= 0 || m->pid == f->failed_pid) {
			s->stats.hits++;
			*out = f;
			return 0;
		}
		/* the file was out of reach of another process; this one may reach it */
		file_release(f);
	} else {
		if (s->stats.files >= s->max_files)
			evict(s, s->tail);
		f = calloc(1, sizeof(*f));
		if (!f)
			return -ENOMEM;
		f->path = strdup(map->path);
		if (!f->path) {
			free(f);
			return -ENOMEM;
		}
		f->dev = map->dev;
		f->ino = map->ino;
		if (htab__add(&s->files, &f->hnode, hash)) {
			free(f->path);
			free(f);
			return -ENOMEM;
		}
		lru_push(s, f);
		s->stats.files++;
	}
	s->stats.misses++;
	f->main.fd = f->dbg.fd = -1;
	err = file_open(s, f, m, map);
	if (err == -ENOMEM) {
		evict(s, f);
		s->stats.evictions--;
		return err;
	}
	if (err) {
		pr_debug("syms: cannot read %s (pid %d): %s\n", map->path, m->pid, strerror(-err));
		file_release(f);
		f->err = err;
		f->failed_pid = m->pid;
	} else {
		f->err = 0;
	}
	*out = f;
	return 0;
}

/* ---- public ---- */

struct syms *syms__new(size_t max_files)
{
	struct syms *s;

	if (!max_files) {
		errno = EINVAL;
		return NULL;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ELIBBAD;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	s->max_files = max_files;
	s->debug_dir = strdup(SYMS_DEFAULT_DEBUG_DIR);
	if (!s->debug_dir)
		goto fail;
	return s;
fail:
	syms__free(s);
	errno = ENOMEM;
	return NULL;
}

void syms__free(struct syms *s)
{
	struct syms_file *f, *next;

	if (!s)
		return;
	for (f = s->head; f; f = next) {
		next = f->next;
		file_free(f);
	}
	htab__free(&s->files);
	free(s->debug_dir);
	free(s);
}

int syms__set_debug_dir(struct syms *s, const char *dir)
{
	size_t len = strlen(dir);
	char *copy;

	/* paths are joined with '/' */
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (!len || dir[0] != '/')
		return -EINVAL;
	copy = strndup(dir, len);
	if (!copy)
		return -ENOMEM;
	free(s->debug_dir);
	s->debug_dir = copy;
	return 0;
}

static bool file_to_vaddr(const struct syms_file *f, uint64_t off, uint64_t *vaddr)
{
	int pass;
	size_t i;

	/* a file page may hold the ends of two segments: the executable one is meant */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < f->nloads; i++) {
			const GElf_Phdr *ph = &f->loads[i];

			if (!(ph->p_flags & PF_X) == !pass)
				continue;
			if (off >= ph->p_offset && off - ph->p_offset < ph->p_filesz) {
				*vaddr = off - ph->p_offset + ph->p_vaddr;
				return true;
			}
		}
	}
	return false;
}

/* syms__resolve's work; *@fp the file when a symbol or line may follow, and its address */
static int resolve(struct syms *s, const struct syms_maps *m, uint64_t addr,
		   struct syms_frame *out, struct syms_file **fp, uint64_t *vaddrp)
{
	const struct syms_map *map;
	const struct syms_sym *sym;
	struct syms_file *f;
	uint64_t vaddr;
	int err;

	*fp = NULL;
	if (!s || !m || !out)
		return -EINVAL;
	out->module = NULL;
	out->file_off = out->elf_addr = out->sym_off = 0;
	out->line = 0;
	out->inlined = false;
	out->sym[0] = out->file[0] = '\0';
	map = syms_maps__find(m, addr);
	if (!map)
		return -ENOENT;
	out->module = map->path;
	out->file_off = addr - map->start + map->off;
	err = file_get(s, m, map, &f);
	if (err)
		return err;
	if (f->err || !file_to_vaddr(f, out->file_off, &vaddr))
		return 0;
	out->elf_addr = vaddr;
	sym = find_sym(f, vaddr);
	if (sym) {
		snprintf(out->sym, sizeof(out->sym), "%.*s", (int)name_len(sym->name), sym->name);
		out->sym_off = vaddr - sym->start;
	}
	find_line(f, vaddr, out);
	*fp = f;
	*vaddrp = vaddr;
	return 0;
}

int syms__resolve(struct syms *s, const struct syms_maps *m, uint64_t addr,
		  struct syms_frame *out)
{
	struct syms_file *f;
	uint64_t vaddr;

	return resolve(s, m, addr, out, &f, &vaddr);
}

int syms__resolve_inline(struct syms *s, const struct syms_maps *m, uint64_t addr,
			 struct syms_frame *out, size_t max)
{
	char sym[SYMS_SYM_LEN];
	struct syms_file *f;
	uint64_t vaddr, sym_off;
	size_t n;
	int err;

	if (!max)
		return -EINVAL;
	err = resolve(s, m, addr, out, &f, &vaddr);
	if (err)
		return err;
	if (!f || !out->line)
		return 1;
	memcpy(sym, out->sym, sizeof(sym));
	sym_off = out->sym_off;
	n = find_inlines(f, vaddr, out, max);
	/* the outermost is the function the symbol table names, at its offset */
	if (n > 1) {
		memcpy(out[n - 1].sym, sym, sizeof(sym));
		out[n - 1].sym_off = sym_off;
	}
	return n;
}

/* libstdc++'s demangler (the C++ ABI's, <cxxabi.h>), callable from C */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

bool syms__demangle(const char *name, char *buf, size_t len)
{
	char *d;
	int st;

	/* only Itanium C++ names: a C name such as "_Zfoo" typed by hand is left alone too */
	if (!name || strncmp(name, "_Z", 2) || !len)
		return false;
	d = __cxa_demangle(name, NULL, NULL, &st);
	if (!d || st)
		return free(d), false;
	snprintf(buf, len, "%s", d);
	free(d);
	return true;
}

void syms__stats(const struct syms *s, struct syms_stats *st)
{
	*st = s->stats;
}
