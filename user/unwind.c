// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dwarf.h>
#include <gelf.h>
#include <elfutils/libdw.h>

#include "unwind.h"
#include "vec.h"

/* DWARF register numbers of x86-64 (the psABI's table) */
#define DW_RBP 6
#define DW_RSP 7

/* .eh_frame_hdr pointer encodings (LSB's DW_EH_PE_*) */
#define PE_UDATA4 0x03
#define PE_SDATA4 0x0b
#define PE_PCREL 0x10
#define PE_DATAREL 0x30

struct table {
	struct qh_unwind_row *rows;
	size_t n, cap;
	GElf_Phdr *load;	/* PT_LOAD headers: vaddr -> file offset */
	size_t nload;
};

static int64_t rd_s32(const unsigned char *p)
{
	int32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static bool to_off(const struct table *t, uint64_t vaddr, uint64_t *off)
{
	size_t i;

	for (i = 0; i < t->nload; i++)
		if (vaddr >= t->load[i].p_vaddr && vaddr < t->load[i].p_vaddr + t->load[i].p_filesz) {
			*off = vaddr - t->load[i].p_vaddr + t->load[i].p_offset;
			return true;
		}
	return false;
}

/* The CFA and rbp rules of @f in a row (QH_CFA_NONE when the walk cannot follow them). */
static void frame_row(Dwarf_Frame *f, struct qh_unwind_row *r)
{
	Dwarf_Op mem[3], *ops;
	uint64_t reg;
	int64_t off;
	size_t nops;

	r->cfa = QH_CFA_NONE;
	r->rbp = QH_RBP_LOST;
	/* the return address undefined: the outermost frame */
	if (!dwarf_frame_register(f, dwarf_frame_info(f, NULL, NULL, NULL), mem, &ops, &nops) &&
	    !nops && ops == mem) {
		r->cfa = QH_CFA_END;
		return;
	}
	/* reg + offset: libdw says DW_OP_bregx (reg, offset), or DW_OP_bregN offset */
	if (dwarf_frame_cfa(f, &ops, &nops) || nops != 1)
		return;
	if (ops[0].atom == DW_OP_bregx) {
		reg = ops[0].number;
		off = (int64_t)ops[0].number2;
	} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		reg = ops[0].atom - DW_OP_breg0;
		off = (int64_t)ops[0].number;
	} else {
		return;
	}
	if ((reg != DW_RSP && reg != DW_RBP) || off != (int32_t)off)
		return;
	r->cfa = reg == DW_RSP ? QH_CFA_RSP : QH_CFA_RBP;
	r->cfa_off = (int32_t)off;

	if (dwarf_frame_register(f, DW_RBP, mem, &ops, &nops))
		return;
	if (!nops) {
		/* same value (ops NULL); undefined (ops == mem) stays lost */
		if (!ops)
			r->rbp = QH_RBP_SAME;
		return;
	}
	/* saved at CFA + N: libdw gives DW_OP_call_frame_cfa [DW_OP_plus_uconst N], N wrapping
	 * for negative offsets */
	if (ops[0].atom != DW_OP_call_frame_cfa)
		return;
	if (nops == 1)
		off = 0;
	else if (nops == 2 && ops[1].atom == DW_OP_plus_uconst)
		off = (int64_t)ops[1].number;
	else
		return;
	if (off != (int16_t)off)
		return;
	r->rbp = QH_RBP_SAVED;
	r->rbp_off = (int16_t)off;
}

static int push(struct table *t, uint64_t vaddr, const struct qh_unwind_row *r)
{
	struct qh_unwind_row *o;
	uint64_t off;

	if (!to_off(t, vaddr, &off) || off > UINT32_MAX)
		return 0;
	o = vec_push(t->rows, t->n, t->cap);
	if (!o)
		return -ENOMEM;
	*o = *r;
	o->pc = off;
	return 0;
}

/* The rows of the function at @start, up to @limit (where the next one starts). */
static int fde_rows(struct table *t, Dwarf_CFI *cfi, uint64_t start, uint64_t limit)
{
	static const struct qh_unwind_row gap = { .cfa = QH_CFA_NONE, .rbp = QH_RBP_LOST };
	uint64_t addr = start;
	int err;

	while (addr < limit) {
		struct qh_unwind_row r = {};
		Dwarf_Frame *f;
		Dwarf_Addr s, e;

		if (dwarf_cfi_addrframe(cfi, addr, &f))
			break;
		dwarf_frame_info(f, &s, &e, NULL);
		frame_row(f, &r);
		free(f);
		if (e <= addr)
			break;
		err = push(t, addr, &r);
		if (err)
			return err;
		addr = e;
	}
	/* code no FDE covers, up to the next function's */
	return addr < limit ? push(t, addr, &gap) : 0;
}

static int cmp_row(const void *a, const void *b)
{
	const struct qh_unwind_row *x = a, *y = b;

	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

static bool same_rule(const struct qh_unwind_row *a, const struct qh_unwind_row *b)
{
	return a->cfa == b->cfa && a->rbp == b->rbp && a->cfa_off == b->cfa_off &&
	       a->rbp_off == b->rbp_off;
}

/* The sorted initial locations of .eh_frame_hdr's search table; -ENOENT if unusable. */
static int hdr_functions(Elf *elf, uint64_t **fns, size_t *nfns)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstr, i, count;
	const unsigned char *p;
	Elf_Data *d;

	if (elf_getshdrstrndx(elf, &shstr))
		return -EINVAL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstr, sh.sh_name);
		if (name && !strcmp(name, ".eh_frame_hdr"))
			break;
	}
	if (!scn || sh.sh_type == SHT_NOBITS)
		return -ENOENT;
	d = elf_getdata(scn, NULL);
	/* version 1, eh_frame_ptr pcrel|sdata4, fde_count udata4, table datarel|sdata4: what
	 * GNU ld, gold, lld and mold write */
	if (!d || d->d_size < 12)
		return -ENOENT;
	p = d->d_buf;
	if (p[0] != 1 || p[1] != (PE_PCREL | PE_SDATA4) || p[2] != PE_UDATA4 ||
	    p[3] != (PE_DATAREL | PE_SDATA4))
		return -ENOENT;
	count = (uint32_t)rd_s32(p + 8);
	if (count > (d->d_size - 12) / 8)
		return -ENOENT;
	*fns = calloc(count ?: 1, sizeof(**fns));
	if (!*fns)
		return -ENOMEM;
	for (i = 0; i < count; i++)
		(*fns)[i] = sh.sh_addr + rd_s32(p + 12 + 8 * i);
	*nfns = count;
	return 0;
}

int unwind__build(int fd, struct qh_unwind_row **rows, size_t *n)
{
	struct table t = {};
	Dwarf_CFI *cfi = NULL;
	uint64_t *fns = NULL, end;
	size_t nfns = 0, nph, i, k;
	GElf_Ehdr eh;
	Elf *elf;
	int err;

	*rows = NULL;
	*n = 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -EINVAL;
	err = -EINVAL;
	if (!gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 || elf_getphdrnum(elf, &nph))
		goto out;
	t.load = calloc(nph ?: 1, sizeof(*t.load));
	err = -ENOMEM;
	if (!t.load)
		goto out;
	for (i = 0; i < nph; i++)
		if (gelf_getphdr(elf, i, &t.load[t.nload]) && t.load[t.nload].p_type == PT_LOAD)
			t.nload++;
	err = hdr_functions(elf, &fns, &nfns);
	if (err)
		goto out;
	err = -ENOENT;
	cfi = dwarf_getcfi_elf(elf);
	if (!cfi)
		goto out;
	for (i = 0, err = 0; i < nfns && !err; i++) {
		/* the last function ends where its FDE says */
		end = i + 1 < nfns ? fns[i + 1] : UINT64_MAX;
		err = fde_rows(&t, cfi, fns[i], end);
	}
	if (err)
		goto out;
	qsort(t.rows, t.n, sizeof(*t.rows), cmp_row);
	for (i = 0, k = 0; i < t.n; i++) {
		if (k && t.rows[k - 1].pc == t.rows[i].pc)
			t.rows[k - 1] = t.rows[i];
		else if (!k || !same_rule(&t.rows[k - 1], &t.rows[i]))
			t.rows[k++] = t.rows[i];
	}
	t.n = k;
	*rows = t.rows;
	*n = t.n;
	t.rows = NULL;
out:
	if (cfi)
		dwarf_cfi_end(cfi);
	elf_end(elf);
	free(fns);
	free(t.load);
	free(t.rows);
	return err;
}

const struct qh_unwind_row *unwind__find(const struct qh_unwind_row *rows, size_t n, __u32 pc)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &rows[lo - 1] : NULL;
}
