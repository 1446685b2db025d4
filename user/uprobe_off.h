/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Where an entry uprobe sits. On x86 the kernel emulates a few instructions under a uprobe
 * (push reg, jmp/jcc/call rel, the canonical nops) and single-steps every other one out of
 * line, which costs some 30 times more per hit. A small length decoder for the instructions
 * of function prologues finds the first emulated one that no earlier instruction can have
 * moved the arguments or the stack pointer away from.
 */
#ifndef __QH_UPROBE_OFF_H
#define __QH_UPROBE_OFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* bytes of a function looked at; a prologue's first emulated instruction is well within */
#define UPROBE_OFF_WINDOW 32

/* general registers in encoding order: bit n of uprobe_insn.writes is register n */
enum uprobe_reg {
	UPROBE_RAX, UPROBE_RCX, UPROBE_RDX, UPROBE_RBX,
	UPROBE_RSP, UPROBE_RBP, UPROBE_RSI, UPROBE_RDI,
	UPROBE_R8, UPROBE_R9, UPROBE_R10, UPROBE_R11,
	UPROBE_R12, UPROBE_R13, UPROBE_R14, UPROBE_R15,
};

#define UPROBE_REG(r) (1U << (r))
/* the System V integer argument registers */
#define UPROBE_ARG_REGS                                                                  \
	(UPROBE_REG(UPROBE_RDI) | UPROBE_REG(UPROBE_RSI) | UPROBE_REG(UPROBE_RDX) |      \
	 UPROBE_REG(UPROBE_RCX) | UPROBE_REG(UPROBE_R8) | UPROBE_REG(UPROBE_R9))

struct uprobe_insn {
	unsigned int len;
	bool emulated;	  /* a uprobe on it is handled without a single-step */
	bool branch;	  /* transfers control: jmp, jcc, call, ret, indirect */
	uint32_t writes;  /* UPROBE_REG() bits of the general registers it changes */
	char text[48];	  /* AT&T syntax, as objdump prints it, for -v output */
};

/*
 * Decode one 64-bit instruction at @code. Returns 0, -ENODATA if it runs past @len, or
 * -EOPNOTSUPP for anything not fully understood (never a guessed length).
 */
int uprobe_off__decode(const uint8_t *code, size_t len, struct uprobe_insn *insn);

/*
 * Choose the offset of the entry probe in the function whose first @len bytes are @code:
 * the first instruction the kernel emulates, if no instruction before it branches, writes
 * an argument register or %rsp, or is not understood; 0 otherwise. Always returns 0 with
 * *@off set; @why (may be NULL) gets a short reason, e.g. "+3: je (emulated) after test
 * %rdi,%rdi".
 */
int uprobe_off__choose(const uint8_t *code, size_t len, size_t *off, char *why, size_t why_len);

/*
 * Find function @sym in the ELF file @elf_path (.dynsym first, then .symtab; of several
 * versions the default one, malloc@@GLIBC_2.2.5 over malloc@GLIBC_2.2.5) and choose its
 * probe offset. *@file_off is the symbol's file offset, what a uprobe on its entry is
 * attached at; *@probe_off is the chosen offset into the function, so the probe goes at
 * *@file_off + *@probe_off. Returns 0 or -errno (-ENOENT: no such function), with a reason.
 */
int uprobe_off__for_symbol(const char *elf_path, const char *sym, uint64_t *file_off,
			   uint64_t *probe_off, char *why, size_t why_len);

#endif
