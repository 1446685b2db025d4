// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * What the kernel does with the instruction under a uprobe, x86-64, Linux 6.18
 * (arch/x86/kernel/uprobes.c, arch_uprobe_analyze_insn()):
 *
 * - uprobe_init_insn() refuses any instruction with a CS, DS, ES, SS or LOCK prefix
 *   (is_prefix_bad()) or an opcode missing from good_insns_64[]/good_2byte_insns[].
 * - branch_setup_xol_ops() emulates, without a single-step: an instruction whose bytes are
 *   exactly x86_nops[len] (asm/nops.h BYTES_NOP1..8: 90, 66 90, 0f 1f 00, 0f 1f 40 00,
 *   0f 1f 44 00 00, 66 0f 1f 44 00 00, 0f 1f 80 0..., 0f 1f 84 00 0...); opcode 0x90 after
 *   any prefixes ("prefix* + nop", so pause too); jmp rel8/rel32 (eb, e9); call rel32 (e8);
 *   jcc rel8/rel32 (70-7f, 0f 80-8f). A branch with a 66 prefix is refused (-ENOTSUPP).
 * - push_setup_xol_ops() emulates push %reg (50-57) alone or with the one REX prefix 0x41
 *   (%r8-%r15); 48 55 and any other prefixed push are single-stepped.
 * - can_optimize(): a 5-byte nop is further rewritten into a call to a trampoline that
 *   enters the kernel by the uprobe syscall, cheaper still.
 * - Everything else, endbr64 included (no special case exists), is single-stepped out of
 *   line. Measured on this machine: an emulated probe costs about 0.6 us a hit, a 5-byte
 *   nop 0.3 us, a single-stepped one (test, mov, cmp, endbr64, 0f 1f 40 01) 11-12 us.
 *
 * The opcode-only 0x90 test also "emulates" 41 90, xchg %eax,%r8d, as a nop: a probe there
 * loses the exchange (seen on 6.18). The decoder reports that as the xchg it is, never as
 * emulated, so it is never chosen.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "uprobe_off.h"

#define REX_W 0x8
#define REX_R 0x4
#define REX_X 0x2
#define REX_B 0x1

/* the longest instruction x86 allows */
#define INSN_MAX 15

/* bit 15 of a .gnu.version entry: not the default version (name@VER, not name@@VER) */
#define VERSYM_HIDDEN 0x8000

enum { SZ8, SZ16, SZ32, SZ64 };

/* x86_nops[] of arch/x86/kernel/alternative.c for 64-bit, up to the 8 bytes that matter */
static const uint8_t kernel_nops[9][8] = {
	[1] = { 0x90 },
	[2] = { 0x66, 0x90 },
	[3] = { 0x0f, 0x1f, 0x00 },
	[4] = { 0x0f, 0x1f, 0x40, 0x00 },
	[5] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[6] = { 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 },
	[7] = { 0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00 },
	[8] = { 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00 },
};

static const char *const reg_names[4][16] = {
	{ "al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil",
	  "r8b", "r9b", "r10b", "r11b", "r12b", "r13b", "r14b", "r15b" },
	{ "ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
	  "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w", "r15w" },
	{ "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
	  "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d", "r15d" },
	{ "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" },
};

/* without REX, byte registers 4-7 are the high bytes of rax, rcx, rdx, rbx */
static const char *const high_bytes[4] = { "ah", "ch", "dh", "bh" };

static const char *const cc_names[16] = {
	"o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g",
};

static const char *const alu_names[8] = {
	"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp",
};

static const char *const shift_names[8] = {
	"rol", "ror", "rcl", "rcr", "shl", "shr", NULL, "sar",
};

struct dec {
	const uint8_t *code;
	size_t len, pos;
	struct uprobe_insn *insn;
	uint8_t rex;
	uint8_t seg;		/* 0x64 (%fs), 0x65 (%gs) or 0 */
	bool p66, pf2, pf3;
	/* the ModRM operands; reg and rm extended by REX.R and REX.B */
	uint8_t mod, reg, rm;
	char mem[32];		/* the r/m operand when it is memory */
	char rname[2][8];	/* scratch for register names */
};

static int next(struct dec *d, uint8_t *b)
{
	if (d->pos >= d->len)
		return -ENODATA;
	*b = d->code[d->pos++];
	return 0;
}

/* a little-endian immediate or displacement of @bytes, sign-extended */
static int get_imm(struct dec *d, int bytes, int64_t *v)
{
	uint64_t u = 0;
	int i;

	if (d->len - d->pos < (size_t)bytes)
		return -ENODATA;
	for (i = 0; i < bytes; i++)
		u |= (uint64_t)d->code[d->pos + i] << (8 * i);
	d->pos += bytes;
	if (bytes < 8 && (u >> (8 * bytes - 1)) & 1)
		u |= ~0ULL << (8 * bytes);
	*v = (int64_t)u;
	return 0;
}

static int vsize(const struct dec *d)
{
	if (d->rex & REX_W)
		return SZ64;
	return d->p66 ? SZ16 : SZ32;
}

/* bytes of an "Iz" immediate: 2 with a 66 prefix, else 4 (sign-extended to 64) */
static int zbytes(int sz)
{
	return sz == SZ16 ? 2 : sz == SZ8 ? 1 : 4;
}

static const char *rname(struct dec *d, int slot, int reg, int sz)
{
	const char *name;

	if (sz == SZ8 && !d->rex && reg >= 4 && reg < 8)
		name = high_bytes[reg - 4];
	else
		name = reg_names[sz][reg];
	snprintf(d->rname[slot], sizeof(d->rname[slot]), "%%%s", name);
	return d->rname[slot];
}

static void write_reg(struct dec *d, int reg, int sz)
{
	if (sz == SZ8 && !d->rex && reg >= 4 && reg < 8)
		reg -= 4;
	d->insn->writes |= UPROBE_REG(reg);
}

static void write_rm(struct dec *d, int sz)
{
	if (d->mod == 3)
		write_reg(d, d->rm, sz);
}

static const char *rm_text(struct dec *d, int sz)
{
	return d->mod == 3 ? rname(d, 1, d->rm, sz) : d->mem;
}

/* the size suffix objdump adds when no register operand tells the size */
static const char *suffix(const struct dec *d, int sz)
{
	static const char *const s[4] = { "b", "w", "l", "q" };

	return d->mod == 3 ? "" : s[sz];
}

static void hex(char *buf, size_t len, int64_t v, bool sign)
{
	if (sign && v < 0)
		snprintf(buf, len, "-0x%llx", (unsigned long long)-(uint64_t)v);
	else
		snprintf(buf, len, "0x%llx", (unsigned long long)v);
}

/* an immediate as objdump prints it: the bits of the operand size, unsigned */
static void imm_text(char *buf, size_t len, int64_t v, int sz)
{
	uint64_t u = (uint64_t)v;

	if (sz != SZ64)
		u &= (1ULL << (8 << sz)) - 1;
	snprintf(buf, len, "$0x%llx", (unsigned long long)u);
}

static int modrm(struct dec *d)
{
	bool has_base = true, has_index = false, rip = false;
	uint8_t m, sib, base, index = 0;
	int disp_len = 0, scale = 0, n = 0, err;
	int64_t disp = 0;
	char *p = d->mem;
	size_t len = sizeof(d->mem);

	err = next(d, &m);
	if (err)
		return err;
	d->mod = m >> 6;
	d->reg = ((m >> 3) & 7) | (d->rex & REX_R ? 8 : 0);
	d->rm = (m & 7) | (d->rex & REX_B ? 8 : 0);
	if (d->mod == 3)
		return 0;

	/* r/m 4 (even with REX.B: r12) takes a SIB; base 5 with mod 0 means no base */
	base = m & 7;
	if (base == 4) {
		err = next(d, &sib);
		if (err)
			return err;
		scale = 1 << (sib >> 6);
		index = ((sib >> 3) & 7) | (d->rex & REX_X ? 8 : 0);
		has_index = index != 4;
		base = sib & 7;
		if (base == 5 && d->mod == 0) {
			has_base = false;
			disp_len = 4;
		}
	} else if (base == 5 && d->mod == 0) {
		rip = true;
		disp_len = 4;
	}
	base |= d->rex & REX_B ? 8 : 0;
	if (d->mod == 1)
		disp_len = 1;
	else if (d->mod == 2)
		disp_len = 4;
	if (disp_len) {
		err = get_imm(d, disp_len, &disp);
		if (err)
			return err;
	}

	if (d->seg)
		n += snprintf(p + n, len - n, "%s:", d->seg == 0x64 ? "%fs" : "%gs");
	if (disp_len) {
		char tmp[24];

		hex(tmp, sizeof(tmp), disp, has_base || has_index || rip);
		n += snprintf(p + n, len - n, "%s", tmp);
	}
	if (rip)
		snprintf(p + n, len - n, "(%%rip)");
	else if (has_index)
		snprintf(p + n, len - n, "(%s%s,%%%s,%d)", has_base ? "%" : "",
			 has_base ? reg_names[SZ64][base] : "", reg_names[SZ64][index], scale);
	else if (has_base)
		snprintf(p + n, len - n, "(%%%s)", reg_names[SZ64][base]);
	return 0;
}

static int text(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int text(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->insn->text, sizeof(d->insn->text), fmt, ap);
	va_end(ap);
	return 0;
}

/* add/or/adc/sbb/and/sub/xor/cmp in their ModRM and accumulator forms (00-3d) */
static int dec_alu(struct dec *d, uint8_t op)
{
	int alu = op >> 3, sz = op & 1 ? vsize(d) : SZ8, err;
	char imm[24];
	int64_t v;

	if ((op & 7) >= 4) {
		err = get_imm(d, zbytes(sz), &v);
		if (err)
			return err;
		if (alu != 7)
			write_reg(d, UPROBE_RAX, sz);
		imm_text(imm, sizeof(imm), v, sz);
		return text(d, "%s %s,%s", alu_names[alu], imm, rname(d, 0, UPROBE_RAX, sz));
	}
	err = modrm(d);
	if (err)
		return err;
	if (op & 2) {
		if (alu != 7)
			write_reg(d, d->reg, sz);
		return text(d, "%s %s,%s", alu_names[alu], rm_text(d, sz), rname(d, 0, d->reg, sz));
	}
	if (alu != 7)
		write_rm(d, sz);
	return text(d, "%s %s,%s", alu_names[alu], rname(d, 0, d->reg, sz), rm_text(d, sz));
}

/* 80, 81, 83: ALU op r/m, imm */
static int dec_grp1(struct dec *d, uint8_t op)
{
	int sz = op == 0x80 ? SZ8 : vsize(d), alu, err;
	char imm[24];
	int64_t v;

	err = modrm(d);
	if (!err)
		err = get_imm(d, op == 0x81 ? zbytes(sz) : 1, &v);
	if (err)
		return err;
	alu = d->reg & 7;
	if (alu != 7)
		write_rm(d, sz);
	imm_text(imm, sizeof(imm), v, sz);
	return text(d, "%s%s %s,%s", alu_names[alu], suffix(d, sz), imm, rm_text(d, sz));
}

/* c0, c1, d0-d3: shifts and rotates of r/m */
static int dec_grp2(struct dec *d, uint8_t op)
{
	int sz = op & 1 ? vsize(d) : SZ8, err;
	const char *name;
	char imm[24];
	int64_t v;

	err = modrm(d);
	if (err)
		return err;
	name = shift_names[d->reg & 7];
	if (!name)
		return -EOPNOTSUPP;
	write_rm(d, sz);
	if (op <= 0xc1) {
		err = get_imm(d, 1, &v);
		if (err)
			return err;
		imm_text(imm, sizeof(imm), v, SZ8);
		return text(d, "%s%s %s,%s", name, suffix(d, sz), imm, rm_text(d, sz));
	}
	if (op <= 0xd1)
		return text(d, "%s%s %s", name, suffix(d, sz), rm_text(d, sz));
	return text(d, "%s%s %%cl,%s", name, suffix(d, sz), rm_text(d, sz));
}

/* f6, f7: test, not, neg, mul, imul, div, idiv of r/m */
static int dec_grp3(struct dec *d, uint8_t op)
{
	static const char *const names[8] = {
		"test", NULL, "not", "neg", "mul", "imul", "div", "idiv",
	};
	int sz = op & 1 ? vsize(d) : SZ8, sub, err;
	char imm[24];
	int64_t v;

	err = modrm(d);
	if (err)
		return err;
	sub = d->reg & 7;
	if (!names[sub])
		return -EOPNOTSUPP;
	if (sub == 0) {
		err = get_imm(d, zbytes(sz), &v);
		if (err)
			return err;
		imm_text(imm, sizeof(imm), v, sz);
		return text(d, "test%s %s,%s", suffix(d, sz), imm, rm_text(d, sz));
	}
	if (sub <= 3) {
		write_rm(d, sz);
	} else {
		/* the result goes to %ax for bytes, else to %rdx:%rax */
		write_reg(d, UPROBE_RAX, SZ64);
		if (sz != SZ8)
			write_reg(d, UPROBE_RDX, SZ64);
	}
	return text(d, "%s%s %s", names[sub], suffix(d, sz), rm_text(d, sz));
}

/* fe, ff: inc, dec, indirect call and jmp, push r/m */
static int dec_grp45(struct dec *d, uint8_t op)
{
	int sz = op & 1 ? vsize(d) : SZ8, sub, err;

	err = modrm(d);
	if (err)
		return err;
	sub = d->reg & 7;
	if (sub <= 1) {
		write_rm(d, sz);
		return text(d, "%s%s %s", sub ? "dec" : "inc", suffix(d, sz), rm_text(d, sz));
	}
	if (op == 0xfe || d->p66)
		return -EOPNOTSUPP;
	switch (sub) {
	case 2:
		d->insn->branch = true;
		write_reg(d, UPROBE_RSP, SZ64);
		return text(d, "call *%s", rm_text(d, SZ64));
	case 4:
		d->insn->branch = true;
		return text(d, "jmp *%s", rm_text(d, SZ64));
	case 6:
		write_reg(d, UPROBE_RSP, SZ64);
		return text(d, "push %s", rm_text(d, SZ64));
	}
	return -EOPNOTSUPP;
}

/* a relative jmp, jcc or call: the kernel emulates it unless prefixed with 66 */
static int dec_rel(struct dec *d, const char *name, int bytes)
{
	int64_t v;
	int err;

	/* 66 changes the length on AMD and is refused by the kernel; others are never seen */
	if (d->p66 || d->pf2 || d->pf3 || d->seg || d->rex)
		return -EOPNOTSUPP;
	err = get_imm(d, bytes, &v);
	if (err)
		return err;
	d->insn->branch = true;
	d->insn->emulated = true;
	return text(d, "%s", name);
}

static int dec_0f(struct dec *d)
{
	static const char *const movx[4] = { "movzb", "movzw", "movsb", "movsw" };
	static const char sfx[4] = { 'b', 'w', 'l', 'q' };
	int sz = vsize(d), err;
	uint8_t op, m;

	err = next(d, &op);
	if (err)
		return err;

	/* endbr64/endbr32: f3 0f 1e fa/fb, and no other f2/f3 form */
	if (d->pf3 && !d->pf2 && !d->p66 && !d->rex && op == 0x1e) {
		err = next(d, &m);
		if (err)
			return err;
		if (m != 0xfa && m != 0xfb)
			return -EOPNOTSUPP;
		return text(d, "endbr%s", m == 0xfa ? "64" : "32");
	}
	if (d->pf2 || d->pf3)
		return -EOPNOTSUPP;

	if (op >= 0x80 && op <= 0x8f) {
		char name[8];

		snprintf(name, sizeof(name), "j%s", cc_names[op & 0xf]);
		return dec_rel(d, name, 4);
	}
	if (op == 0x1f) {
		err = modrm(d);
		if (err)
			return err;
		if ((d->reg & 7) != 0)
			return -EOPNOTSUPP;
		return text(d, "nop%s %s", d->mod == 3 ? "" : d->p66 ? "w" : "l", rm_text(d, sz));
	}
	if (op >= 0x40 && op <= 0x4f) {
		err = modrm(d);
		if (err)
			return err;
		/* a 32-bit cmov zero-extends its destination even when it does not move */
		write_reg(d, d->reg, sz);
		return text(d, "cmov%s %s,%s", cc_names[op & 0xf], rm_text(d, sz),
			    rname(d, 0, d->reg, sz));
	}
	if (op >= 0x90 && op <= 0x9f && !d->p66) {
		err = modrm(d);
		if (err)
			return err;
		write_rm(d, SZ8);
		return text(d, "set%s %s", cc_names[op & 0xf], rm_text(d, SZ8));
	}
	if (op == 0xaf) {
		err = modrm(d);
		if (err)
			return err;
		write_reg(d, d->reg, sz);
		return text(d, "imul %s,%s", rm_text(d, sz), rname(d, 0, d->reg, sz));
	}
	if (op == 0xb6 || op == 0xb7 || op == 0xbe || op == 0xbf) {
		int src = op & 1 ? SZ16 : SZ8;

		err = modrm(d);
		if (err)
			return err;
		write_reg(d, d->reg, sz);
		return text(d, "%s%c %s,%s", movx[(op & 1) | (op & 8 ? 2 : 0)], sfx[sz],
			    rm_text(d, src), rname(d, 0, d->reg, sz));
	}
	return -EOPNOTSUPP;
}

static int dec_1(struct dec *d, uint8_t op)
{
	struct uprobe_insn *insn = d->insn;
	int sz = vsize(d), reg = (op & 7) | (d->rex & REX_B ? 8 : 0), err;
	char imm[24];
	int64_t v;

	/* f2/f3 mean something else (rep, SSE, bnd) everywhere but on 90 (pause) */
	if ((d->pf2 || d->pf3) && op != 0x90)
		return -EOPNOTSUPP;

	switch (op) {
	case 0x00 ... 0x3f:
		/* x6, x7, xe, xf are prefixes or invalid in 64-bit mode */
		if ((op & 7) >= 6)
			return -EOPNOTSUPP;
		return dec_alu(d, op);
	case 0x50 ... 0x57:
		write_reg(d, UPROBE_RSP, SZ64);
		/* push_setup_xol_ops(): alone, or after REX 0x41 and nothing else */
		insn->emulated = d->pos == 1 || (d->pos == 2 && d->rex == 0x41);
		return text(d, "push %s", rname(d, 0, reg, d->p66 ? SZ16 : SZ64));
	case 0x58 ... 0x5f:
		write_reg(d, UPROBE_RSP, SZ64);
		write_reg(d, reg, SZ64);
		return text(d, "pop %s", rname(d, 0, reg, d->p66 ? SZ16 : SZ64));
	case 0x63:
		if (!(d->rex & REX_W))
			return -EOPNOTSUPP;
		err = modrm(d);
		if (err)
			return err;
		write_reg(d, d->reg, SZ64);
		return text(d, "movslq %s,%s", rm_text(d, SZ32), rname(d, 0, d->reg, SZ64));
	case 0x68:
	case 0x6a:
		err = get_imm(d, op == 0x68 ? zbytes(sz) : 1, &v);
		if (err)
			return err;
		write_reg(d, UPROBE_RSP, SZ64);
		imm_text(imm, sizeof(imm), v, d->p66 ? SZ16 : SZ64);
		return text(d, "push %s", imm);
	case 0x69:
	case 0x6b:
		err = modrm(d);
		if (!err)
			err = get_imm(d, op == 0x69 ? zbytes(sz) : 1, &v);
		if (err)
			return err;
		write_reg(d, d->reg, sz);
		imm_text(imm, sizeof(imm), v, sz);
		return text(d, "imul %s,%s,%s", imm, rm_text(d, sz), rname(d, 0, d->reg, sz));
	case 0x70 ... 0x7f: {
		char name[8];

		snprintf(name, sizeof(name), "j%s", cc_names[op & 0xf]);
		return dec_rel(d, name, 1);
	}
	case 0x80:
	case 0x81:
	case 0x83:
		return dec_grp1(d, op);
	case 0x84 ... 0x8b:
		sz = op & 1 ? sz : SZ8;
		err = modrm(d);
		if (err)
			return err;
		if (op <= 0x85)
			return text(d, "test %s,%s", rname(d, 0, d->reg, sz), rm_text(d, sz));
		if (op <= 0x87) {
			write_reg(d, d->reg, sz);
			write_rm(d, sz);
			return text(d, "xchg %s,%s", rname(d, 0, d->reg, sz), rm_text(d, sz));
		}
		if (op <= 0x89) {
			write_rm(d, sz);
			return text(d, "mov %s,%s", rname(d, 0, d->reg, sz), rm_text(d, sz));
		}
		write_reg(d, d->reg, sz);
		return text(d, "mov %s,%s", rm_text(d, sz), rname(d, 0, d->reg, sz));
	case 0x8d:
		err = modrm(d);
		if (err)
			return err;
		if (d->mod == 3)
			return -EOPNOTSUPP;
		write_reg(d, d->reg, sz);
		return text(d, "lea %s,%s", d->mem, rname(d, 0, d->reg, sz));
	case 0x8f:
		err = modrm(d);
		if (err)
			return err;
		if ((d->reg & 7) != 0)
			return -EOPNOTSUPP;
		write_reg(d, UPROBE_RSP, SZ64);
		write_rm(d, SZ64);
		return text(d, "pop%s %s", suffix(d, SZ64), rm_text(d, SZ64));
	case 0x90:
		if (d->rex & REX_B) {
			/* xchg %eax,%r8d: the kernel's "prefix* + nop" would skip it */
			write_reg(d, UPROBE_RAX, sz);
			write_reg(d, UPROBE_R8, sz);
			return text(d, "xchg %s,%s", rname(d, 0, UPROBE_RAX, sz),
				    rname(d, 1, UPROBE_R8, sz));
		}
		insn->emulated = true;
		return text(d, "%s", d->pf3 ? "pause" : d->p66 ? "xchg %ax,%ax" : "nop");
	case 0x91 ... 0x97:
		write_reg(d, UPROBE_RAX, sz);
		write_reg(d, reg, sz);
		return text(d, "xchg %s,%s", rname(d, 0, reg, sz), rname(d, 1, UPROBE_RAX, sz));
	case 0x98:
		write_reg(d, UPROBE_RAX, sz);
		return text(d, "%s", sz == SZ64 ? "cltq" : sz == SZ32 ? "cwtl" : "cbtw");
	case 0x99:
		write_reg(d, UPROBE_RDX, sz);
		return text(d, "%s", sz == SZ64 ? "cqto" : sz == SZ32 ? "cltd" : "cwtd");
	case 0xa8:
	case 0xa9:
		sz = op & 1 ? sz : SZ8;
		err = get_imm(d, zbytes(sz), &v);
		if (err)
			return err;
		imm_text(imm, sizeof(imm), v, sz);
		return text(d, "test %s,%s", imm, rname(d, 0, UPROBE_RAX, sz));
	case 0xb0 ... 0xbf:
		sz = op >= 0xb8 ? sz : SZ8;
		err = get_imm(d, sz == SZ64 ? 8 : zbytes(sz), &v);
		if (err)
			return err;
		write_reg(d, reg, sz);
		imm_text(imm, sizeof(imm), v, sz);
		return text(d, "%s %s,%s", sz == SZ64 ? "movabs" : "mov", imm,
			    rname(d, 0, reg, sz));
	case 0xc0:
	case 0xc1:
	case 0xd0 ... 0xd3:
		return dec_grp2(d, op);
	case 0xc2:
	case 0xc3:
		if (op == 0xc2) {
			err = get_imm(d, 2, &v);
			if (err)
				return err;
		}
		insn->branch = true;
		write_reg(d, UPROBE_RSP, SZ64);
		return text(d, "ret");
	case 0xc6:
	case 0xc7:
		sz = op & 1 ? sz : SZ8;
		err = modrm(d);
		if (err)
			return err;
		/* c6 f8 is xabort, c7 f8 xbegin: only /0 is a mov */
		if ((d->reg & 7) != 0)
			return -EOPNOTSUPP;
		err = get_imm(d, zbytes(sz), &v);
		if (err)
			return err;
		write_rm(d, sz);
		imm_text(imm, sizeof(imm), v, sz);
		return text(d, "mov%s %s,%s", suffix(d, sz), imm, rm_text(d, sz));
	case 0xc9:
		write_reg(d, UPROBE_RSP, SZ64);
		write_reg(d, UPROBE_RBP, SZ64);
		return text(d, "leave");
	case 0xe8:
		write_reg(d, UPROBE_RSP, SZ64);
		return dec_rel(d, "call", 4);
	case 0xe9:
		return dec_rel(d, "jmp", 4);
	case 0xeb:
		return dec_rel(d, "jmp", 1);
	case 0xf6:
	case 0xf7:
		return dec_grp3(d, op);
	case 0xfe:
	case 0xff:
		return dec_grp45(d, op);
	}
	return -EOPNOTSUPP;
}

int uprobe_off__decode(const uint8_t *code, size_t len, struct uprobe_insn *insn)
{
	struct dec d = { .code = code, .len = len, .insn = insn };
	uint8_t op;
	int err;

	memset(insn, 0, sizeof(*insn));
	/* legacy prefixes; the others (2e 3e 26 36 f0 67) are left to fail as opcodes */
	for (;;) {
		err = next(&d, &op);
		if (err)
			return err;
		if (op == 0x66)
			d.p66 = true;
		else if (op == 0xf2)
			d.pf2 = true;
		else if (op == 0xf3)
			d.pf3 = true;
		else if (op == 0x64 || op == 0x65)
			d.seg = op;
		else
			break;
	}
	/* REX counts only right before the opcode */
	if ((op & 0xf0) == 0x40) {
		d.rex = op;
		err = next(&d, &op);
		if (err)
			return err;
	}
	err = op == 0x0f ? dec_0f(&d) : dec_1(&d, op);
	if (err)
		return err;
	if (d.pos > INSN_MAX)
		return -EOPNOTSUPP;
	insn->len = d.pos;
	/* branch_setup_xol_ops() compares the bytes with x86_nops[len] first */
	if (insn->len < sizeof(kernel_nops) / sizeof(kernel_nops[0]) &&
	    !memcmp(code, kernel_nops[insn->len], insn->len))
		insn->emulated = true;
	return 0;
}

static const char *first_reg(uint32_t mask)
{
	int r;

	for (r = 0; r < 16; r++)
		if (mask & UPROBE_REG(r))
			return reg_names[SZ64][r];
	return "?";
}

int uprobe_off__choose(const uint8_t *code, size_t len, size_t *off, char *why, size_t why_len)
{
	const uint32_t keep = UPROBE_ARG_REGS | UPROBE_REG(UPROBE_RSP);
	struct uprobe_insn insn;
	char first[sizeof(insn.text)] = "", stop[96];
	size_t pos = 0;
	int skipped = 0, err;

	*off = 0;
	while (pos < len) {
		err = uprobe_off__decode(code + pos, len - pos, &insn);
		if (err == -ENODATA) {
			snprintf(stop, sizeof(stop), "instruction at +%zu runs past %zu bytes", pos,
				 len);
			goto stop;
		}
		if (err) {
			snprintf(stop, sizeof(stop), "unknown opcode 0x%02x at +%zu", code[pos],
				 pos);
			goto stop;
		}
		if (insn.emulated)
			goto found;
		if (insn.branch) {
			snprintf(stop, sizeof(stop), "%s at +%zu branches", insn.text, pos);
			goto stop;
		}
		if (insn.writes & keep) {
			snprintf(stop, sizeof(stop), "%s at +%zu writes %%%s", insn.text, pos,
				 first_reg(insn.writes & keep));
			goto stop;
		}
		if (!skipped++)
			snprintf(first, sizeof(first), "%s", insn.text);
		pos += insn.len;
	}
	snprintf(stop, sizeof(stop), "no emulated instruction in %zu bytes", len);
stop:
	if (why)
		snprintf(why, why_len, "+0 (single-stepped): %s", stop);
	return 0;

found:
	*off = pos;
	if (!why)
		return 0;
	if (!skipped)
		snprintf(why, why_len, "+0: %s (emulated)", insn.text);
	else if (skipped == 1)
		snprintf(why, why_len, "+%zu: %s (emulated) after %s", pos, insn.text, first);
	else
		snprintf(why, why_len, "+%zu: %s (emulated) after %s and %d more", pos, insn.text,
			 first, skipped - 1);
	return 0;
}

struct sym_hit {
	GElf_Sym sym;
	bool found;
	bool is_default;
};

/* "malloc" matches malloc, malloc@@VER (default) and malloc@VER (hidden) */
static bool name_match(const char *nm, const char *want, bool *is_default)
{
	size_t n = strlen(want);

	if (strncmp(nm, want, n))
		return false;
	if (!nm[n])
		return true;
	if (nm[n] != '@')
		return false;
	*is_default = nm[n + 1] == '@';
	return true;
}

static int find_sym(Elf *elf, Elf64_Word type, const char *want, struct sym_hit *hit)
{
	Elf_Scn *scn = NULL, *tab = NULL, *vs_scn = NULL;
	Elf_Data *data, *versym = NULL;
	GElf_Shdr shdr, tab_shdr = {};
	size_t i, n;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &shdr))
			return -EIO;
		if (shdr.sh_type == type && !tab) {
			tab = scn;
			tab_shdr = shdr;
		} else if (shdr.sh_type == SHT_GNU_versym) {
			vs_scn = scn;
		}
	}
	if (!tab || !tab_shdr.sh_entsize)
		return -ENOENT;
	data = elf_getdata(tab, NULL);
	if (!data)
		return -EIO;
	/* .gnu.version runs parallel to .dynsym only */
	if (type == SHT_DYNSYM && vs_scn)
		versym = elf_getdata(vs_scn, NULL);
	n = tab_shdr.sh_size / tab_shdr.sh_entsize;
	for (i = 0; i < n; i++) {
		bool is_default = true;
		const char *nm;
		GElf_Versym vs;
		GElf_Sym s;

		if (!gelf_getsym(data, i, &s))
			return -EIO;
		if (s.st_shndx == SHN_UNDEF || s.st_shndx >= SHN_LORESERVE)
			continue;
		if (GELF_ST_TYPE(s.st_info) != STT_FUNC && GELF_ST_TYPE(s.st_info) != STT_GNU_IFUNC)
			continue;
		nm = elf_strptr(elf, tab_shdr.sh_link, s.st_name);
		if (!nm || !name_match(nm, want, &is_default))
			continue;
		if (versym && gelf_getversym(versym, i, &vs) && (vs & VERSYM_HIDDEN))
			is_default = false;
		if (!hit->found || (is_default && !hit->is_default)) {
			hit->sym = s;
			hit->found = true;
			hit->is_default = is_default;
		}
		if (is_default)
			break;
	}
	return hit->found ? 0 : -ENOENT;
}

static int read_at(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!n)
			return -EIO;
		buf += n;
		len -= n;
		off += n;
	}
	return 0;
}

int uprobe_off__for_symbol(const char *elf_path, const char *sym, uint64_t *file_off,
			   uint64_t *probe_off, char *why, size_t why_len)
{
	uint8_t code[UPROBE_OFF_WINDOW];
	struct sym_hit hit = {};
	GElf_Shdr shdr;
	GElf_Ehdr ehdr;
	Elf_Scn *scn;
	Elf *elf = NULL;
	uint64_t n;
	char dummy[1];
	size_t off;
	int fd, err;

	if (!why) {
		why = dummy;
		why_len = sizeof(dummy);
	}
	*why = '\0';
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(why, why_len, "libelf: %s", elf_errmsg(-1));
		return -EINVAL;
	}
	fd = open(elf_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, why_len, "%s: %s", elf_path, strerror(-err));
		return err;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &ehdr)) {
		snprintf(why, why_len, "%s: not an ELF file", elf_path);
		err = -ENOEXEC;
		goto out;
	}

	err = find_sym(elf, SHT_DYNSYM, sym, &hit);
	if (err == -ENOENT)
		err = find_sym(elf, SHT_SYMTAB, sym, &hit);
	if (err) {
		if (err == -ENOENT)
			snprintf(why, why_len, "%s: no function %s", elf_path, sym);
		else
			snprintf(why, why_len, "%s: %s", elf_path, elf_errmsg(-1));
		goto out;
	}
	if (GELF_ST_TYPE(hit.sym.st_info) == STT_GNU_IFUNC) {
		snprintf(why, why_len, "%s: %s is an IFUNC, its address is its resolver's",
			 elf_path, sym);
		err = -EOPNOTSUPP;
		goto out;
	}

	/* a uprobe is attached at a file offset: the symbol's place in its section's bytes */
	scn = elf_getscn(elf, hit.sym.st_shndx);
	if (!scn || !gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS ||
	    hit.sym.st_value < shdr.sh_addr || hit.sym.st_value >= shdr.sh_addr + shdr.sh_size) {
		snprintf(why, why_len, "%s: %s lies outside its section", elf_path, sym);
		err = -ENOEXEC;
		goto out;
	}
	*file_off = hit.sym.st_value - shdr.sh_addr + shdr.sh_offset;
	*probe_off = 0;

	if (ehdr.e_machine != EM_X86_64 || ehdr.e_ident[EI_CLASS] != ELFCLASS64) {
		snprintf(why, why_len, "+0: not x86-64 code");
		goto out;
	}
	/* never decode past the function: its size bounds the window, and so does the section */
	n = shdr.sh_addr + shdr.sh_size - hit.sym.st_value;
	if (hit.sym.st_size && hit.sym.st_size < n)
		n = hit.sym.st_size;
	if (n > sizeof(code))
		n = sizeof(code);
	err = read_at(fd, code, n, *file_off);
	if (err) {
		snprintf(why, why_len, "%s: reading %s: %s", elf_path, sym, strerror(-err));
		goto out;
	}
	uprobe_off__choose(code, n, &off, why, why_len);
	*probe_off = off;
out:
	elf_end(elf);
	close(fd);
	return err;
}
