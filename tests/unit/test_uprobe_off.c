// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * uprobe_off: the x86-64 prologue decoder and the choice of where an entry uprobe sits, on
 * prologues copied from a real glibc and on made-up ones; the ELF symbol lookup on the
 * live libc and on this test's own executable.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "uprobe_off.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

/* ---- the prologues of Debian 12's glibc 2.36-9+deb12u14 ---- */

/* the build the bytes below were copied from (objdump -d --start-address, xxd) */
#define LIBC_BUILD_ID "93ac61ec5a8eb1396f9fbd350e3169a558528a40"

struct prologue {
	const char *sym;
	uint64_t file_off;	/* the symbol's file offset in that build */
	uint8_t code[UPROBE_OFF_WINDOW];
	size_t len;		/* the window: 32 bytes, or the function's size if smaller */
	size_t want;
	const char *why;
};

static const struct prologue libc_prologues[] = {
	{
		/*
		 * 41 54          push   %r12           <- emulated: +0
		 * 55             push   %rbp
		 * 53             push   %rbx
		 * 48 89 fb       mov    %rdi,%rbx
		 * 48 83 ec 10    sub    $0x10,%rsp
		 */
		.sym = "malloc", .file_off = 0x98930, .len = 32, .want = 0,
		.why = "+0: push %r12 (emulated)",
		.code = { 0x41, 0x54, 0x55, 0x53, 0x48, 0x89, 0xfb, 0x48, 0x83, 0xec, 0x10,
			  0x80, 0x3d, 0x46, 0x1b, 0x14, 0x00, 0x00, 0x0f, 0x84, 0xf8, 0x01,
			  0x00, 0x00, 0x48, 0x85, 0xdb, 0x0f, 0x88, 0xfd, 0x01, 0x00 },
	},
	{
		/*
		 * 48 85 ff           test   %rdi,%rdi  single-stepped, changes only flags
		 * 0f 84 bf 00 00 00  je     +0xc8      <- emulated: +3, %rdi still the pointer
		 * 55                 push   %rbp
		 * 48 8d 77 f0        lea    -0x10(%rdi),%rsi
		 */
		.sym = "free", .file_off = 0x98ef0, .len = 32, .want = 3,
		.why = "+3: je (emulated) after test %rdi,%rdi",
		.code = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00, 0x55, 0x48,
			  0x8d, 0x77, 0xf0, 0x53, 0x48, 0x83, 0xec, 0x18, 0x48, 0x8b, 0x1d,
			  0xd6, 0x9e, 0x13, 0x00, 0x48, 0x8b, 0x47, 0xf8, 0x64, 0x8b },
	},
	{
		/*
		 * 41 55          push   %r13           <- emulated: +0
		 * 48 89 f8       mov    %rdi,%rax
		 * 41 54          push   %r12
		 */
		.sym = "calloc", .file_off = 0x996e0, .len = 32, .want = 0,
		.why = "+0: push %r13 (emulated)",
		.code = { 0x41, 0x55, 0x48, 0x89, 0xf8, 0x41, 0x54, 0x55, 0x53, 0x48, 0x83,
			  0xec, 0x18, 0x48, 0xf7, 0xe6, 0x48, 0x89, 0xc3, 0x0f, 0x90, 0xc0,
			  0x48, 0x85, 0xdb, 0x0f, 0x88, 0xd9, 0x02, 0x00, 0x00, 0x0f },
	},
	{
		/*
		 * 41 57          push   %r15           <- emulated: +0
		 * 41 56          push   %r14
		 */
		.sym = "realloc", .file_off = 0x99130, .len = 32, .want = 0,
		.why = "+0: push %r15 (emulated)",
		.code = { 0x41, 0x57, 0x41, 0x56, 0x41, 0x55, 0x41, 0x54, 0x55, 0x48, 0x89,
			  0xf5, 0x53, 0x48, 0x89, 0xfb, 0x48, 0x83, 0xec, 0x28, 0x80, 0x3d,
			  0x3d, 0x13, 0x14, 0x00, 0x00, 0x0f, 0x84, 0x57, 0x01, 0x00 },
	},
	{
		/*
		 * 80 3d 01 02 14 00 00  cmpb   $0x0,0x140201(%rip)  reads memory, sets flags
		 * 41 54                 push   %r12                 <- emulated: +7
		 */
		.sym = "posix_memalign", .file_off = 0x9a280, .len = 32, .want = 7,
		.why = "+7: push %r12 (emulated) after cmpb $0x0,0x140201(%rip)",
		.code = { 0x80, 0x3d, 0x01, 0x02, 0x14, 0x00, 0x00, 0x41, 0x54, 0x49, 0x89,
			  0xd4, 0x55, 0x48, 0x89, 0xfd, 0x53, 0x48, 0x89, 0xf3, 0x74, 0x5a,
			  0x48, 0x89, 0xda, 0x48, 0xc1, 0xea, 0x03, 0x48, 0x8d, 0x42 },
	},
	{
		/*
		 * 80 3d 71 0e 14 00 00  cmpb   $0x0,0x140e71(%rip)
		 * 74 07                 je     +0x10                <- emulated: +7
		 * e9 32 f6 ff ff        jmp    __libc_malloc+0x320
		 */
		.sym = "memalign", .file_off = 0x99610, .len = 32, .want = 7,
		.why = "+7: je (emulated) after cmpb $0x0,0x140e71(%rip)",
		.code = { 0x80, 0x3d, 0x71, 0x0e, 0x14, 0x00, 0x00, 0x74, 0x07, 0xe9, 0x32,
			  0xf6, 0xff, 0xff, 0x66, 0x90, 0x48, 0x83, 0xec, 0x18, 0x48, 0x89,
			  0x74, 0x24, 0x08, 0x48, 0x89, 0x3c, 0x24, 0xe8, 0xbe, 0xbc },
	},
	{
		/* aligned_alloc@@GLIBC_2.16 is memalign under another name */
		.sym = "aligned_alloc", .file_off = 0x99610, .len = 32, .want = 7,
		.why = "+7: je (emulated) after cmpb $0x0,0x140e71(%rip)",
		.code = { 0x80, 0x3d, 0x71, 0x0e, 0x14, 0x00, 0x00, 0x74, 0x07, 0xe9, 0x32,
			  0xf6, 0xff, 0xff, 0x66, 0x90, 0x48, 0x83, 0xec, 0x18, 0x48, 0x89,
			  0x74, 0x24, 0x08, 0x48, 0x89, 0x3c, 0x24, 0xe8, 0xbe, 0xbc },
	},
	{
		/*
		 * 80 3d 31 0e 14 00 00  cmpb   $0x0,0x140e31(%rip)
		 * 53                    push   %rbx                 <- emulated: +7
		 */
		.sym = "valloc", .file_off = 0x99650, .len = 32, .want = 7,
		.why = "+7: push %rbx (emulated) after cmpb $0x0,0x140e31(%rip)",
		.code = { 0x80, 0x3d, 0x31, 0x0e, 0x14, 0x00, 0x00, 0x53, 0x48, 0x89, 0xfb,
			  0x74, 0x1b, 0x48, 0x8b, 0x05, 0x34, 0x98, 0x13, 0x00, 0x48, 0x89,
			  0xde, 0x5b, 0x48, 0x8b, 0x78, 0x18, 0xe9, 0xdf, 0xf5, 0xff },
	},
	{
		/*
		 * 80 3d 01 0e 14 00 00  cmpb   $0x0,0x140e01(%rip)
		 * 53                    push   %rbx                 <- emulated: +7
		 */
		.sym = "pvalloc", .file_off = 0x99680, .len = 32, .want = 7,
		.why = "+7: push %rbx (emulated) after cmpb $0x0,0x140e01(%rip)",
		.code = { 0x80, 0x3d, 0x01, 0x0e, 0x14, 0x00, 0x00, 0x53, 0x48, 0x89, 0xfb,
			  0x74, 0x2b, 0x48, 0x8b, 0x05, 0x04, 0x98, 0x13, 0x00, 0x48, 0x8b,
			  0x78, 0x18, 0x48, 0x8d, 0x47, 0xff, 0x48, 0x01, 0xd8, 0x72 },
	},
	{
		/*
		 * 48 89 f0       mov    %rsi,%rax      single-stepped, %rax is no argument
		 * 48 f7 e2       mul    %rdx           writes %rdx:%rax: stop, +0
		 * 48 89 c6       mov    %rax,%rsi
		 * 70 05          jo     +0x10
		 */
		.sym = "reallocarray", .file_off = 0x9a7e0, .len = 32, .want = 0,
		.why = "+0 (single-stepped): mul %rdx at +3 writes %rdx",
		.code = { 0x48, 0x89, 0xf0, 0x48, 0xf7, 0xe2, 0x48, 0x89, 0xc6, 0x70, 0x05,
			  0xe9, 0x40, 0xb8, 0xf8, 0xff, 0x48, 0x8b, 0x05, 0xe9, 0x85, 0x13,
			  0x00, 0x64, 0xc7, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x31, 0xc0 },
	},
};

static void test_libc_prologues(void **state)
{
	char why[160];
	size_t i, off;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(libc_prologues); i++) {
		const struct prologue *p = &libc_prologues[i];

		off = 99;
		assert_int_equal(uprobe_off__choose(p->code, p->len, &off, why, sizeof(why)), 0);
		if (off != p->want || strcmp(why, p->why))
			fail_msg("%s: +%zu \"%s\", expected +%zu \"%s\"", p->sym, off, why, p->want,
				 p->why);
	}
}

/* ---- made-up prologues ---- */

struct case_ {
	const char *name;
	uint8_t code[UPROBE_OFF_WINDOW];
	size_t len;
	size_t want;
	const char *why;	/* NULL: not checked */
};

static const struct case_ cases[] = {
	{
		/* endbr64 is single-stepped (no special case in the kernel) and changes nothing */
		"endbr64; push %rbp; mov %rsp,%rbp",
		{ 0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5 }, 8,
		4, "+4: push %rbp (emulated) after endbr64",
	},
	{
		"endbr64; test %rdi,%rdi; je",
		{ 0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x85, 0xff, 0x74, 0x10 }, 9,
		7, "+7: je (emulated) after endbr64 and 1 more",
	},
	{
		"endbr64; call",
		{ 0xf3, 0x0f, 0x1e, 0xfa, 0xe8, 0x10, 0x00, 0x00, 0x00 }, 9,
		4, "+4: call (emulated) after endbr64",
	},
	{
		/* the probe must see the caller's %rdi */
		"mov %rsi,%rdi; push %rbx",
		{ 0x48, 0x89, 0xf7, 0x53 }, 4,
		0, "+0 (single-stepped): mov %rsi,%rdi at +0 writes %rdi",
	},
	{
		"test %rdi,%rdi; mov %rsi,%rdi; push %rbx",
		{ 0x48, 0x85, 0xff, 0x48, 0x89, 0xf7, 0x53 }, 7,
		0, "+0 (single-stepped): mov %rsi,%rdi at +3 writes %rdi",
	},
	{
		/* a moved %rsp would move where stack arguments and the return address are */
		"sub $0x18,%rsp; push %rbx",
		{ 0x48, 0x83, 0xec, 0x18, 0x53 }, 5,
		0, "+0 (single-stepped): sub $0x18,%rsp at +0 writes %rsp",
	},
	{
		"mov %edx,%r9d; push %rbx",
		{ 0x41, 0x89, 0xd1, 0x53 }, 4,
		0, "+0 (single-stepped): mov %edx,%r9d at +0 writes %r9",
	},
	{
		/* writing a byte of %rcx writes %rcx */
		"sete %cl; push %rbx",
		{ 0x0f, 0x94, 0xc1, 0x53 }, 4,
		0, "+0 (single-stepped): sete %cl at +0 writes %rcx",
	},
	{
		/* %dh is a byte of %rdx */
		"mov $0x1,%dh; push %rbx",
		{ 0xb6, 0x01, 0x53 }, 3,
		0, "+0 (single-stepped): mov $0x1,%dh at +0 writes %rdx",
	},
	{
		"cltd; push %rbx",
		{ 0x99, 0x53 }, 2,
		0, "+0 (single-stepped): cltd at +0 writes %rdx",
	},
	{
		"jmp rel32",
		{ 0xe9, 0x00, 0x01, 0x00, 0x00 }, 5,
		0, "+0: jmp (emulated)",
	},
	{
		"jmp rel8",
		{ 0xeb, 0x10 }, 2,
		0, "+0: jmp (emulated)",
	},
	{
		"ret",
		{ 0xc3 }, 1,
		0, "+0 (single-stepped): ret at +0 branches",
	},
	{
		/* notrack (3e): is_prefix_bad() refuses the probe altogether */
		"endbr64; notrack jmp *%rax",
		{ 0xf3, 0x0f, 0x1e, 0xfa, 0x3e, 0xff, 0xe0, 0x53 }, 8,
		0, "+0 (single-stepped): unknown opcode 0x3e at +4",
	},
	{
		"jmp *%rax; push %rbx",
		{ 0xff, 0xe0, 0x53 }, 3,
		0, "+0 (single-stepped): jmp *%rax at +0 branches",
	},
	{
		/* the stack protector's canary load writes %rax only */
		"mov %fs:0x28,%rax; push %rbx",
		{ 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00, 0x53 }, 10,
		9, "+9: push %rbx (emulated) after mov %fs:0x28,%rax",
	},
	{
		/* 41 90 is xchg %eax,%r8d, which the kernel would skip as a nop */
		"xchg %eax,%r8d",
		{ 0x41, 0x90, 0x53 }, 3,
		0, "+0 (single-stepped): xchg %eax,%r8d at +0 writes %r8",
	},
	{
		/* REX.W push: push_setup_xol_ops() takes no REX but 0x41 */
		"rex.W push %rbp",
		{ 0x48, 0x55, 0x53 }, 3,
		0, "+0 (single-stepped): push %rbp at +0 writes %rsp",
	},
	{
		/* a 66-prefixed jcc is refused by branch_setup_xol_ops() */
		"test %rdi,%rdi; data16 je",
		{ 0x48, 0x85, 0xff, 0x66, 0x0f, 0x84, 0x00, 0x00, 0x00, 0x00 }, 10,
		0, "+0 (single-stepped): unknown opcode 0x66 at +3",
	},
	{
		/* 0f 1f 40 01 is a nop, but not x86_nops[4]: single-stepped, skipped */
		"non-canonical nopl; push %rbx",
		{ 0x0f, 0x1f, 0x40, 0x01, 0x53 }, 5,
		4, "+4: push %rbx (emulated) after nopl 0x1(%rax)",
	},
	{
		"nopl 0x0(%rax,%rax,1)",
		{ 0x0f, 0x1f, 0x44, 0x00, 0x00 }, 5,
		0, "+0: nopl 0x0(%rax,%rax,1) (emulated)",
	},
	{
		"nopw 0x0(%rax,%rax,1)",
		{ 0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00 }, 6,
		0, "+0: nopw 0x0(%rax,%rax,1) (emulated)",
	},
	{
		"pause",
		{ 0xf3, 0x90 }, 2,
		0, "+0: pause (emulated)",
	},
	{
		"garbage: invalid opcode",
		{ 0x06, 0x55 }, 2,
		0, "+0 (single-stepped): unknown opcode 0x06 at +0",
	},
	{
		"garbage: int3",
		{ 0xcc, 0x55 }, 2,
		0, "+0 (single-stepped): unknown opcode 0xcc at +0",
	},
	{
		"garbage: ud2",
		{ 0x0f, 0x0b, 0x55 }, 3,
		0, "+0 (single-stepped): unknown opcode 0x0f at +0",
	},
	{
		"garbage: lock",
		{ 0xf0, 0x48, 0x01, 0x07, 0x55 }, 5,
		0, "+0 (single-stepped): unknown opcode 0xf0 at +0",
	},
	{
		"garbage: all ones",
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 8,
		0, "+0 (single-stepped): unknown opcode 0xff at +0",
	},
	{
		"garbage: SSE",
		{ 0x66, 0x0f, 0xef, 0xc0, 0x55 }, 5,
		0, "+0 (single-stepped): unknown opcode 0x66 at +0",
	},
	{
		"cut short",
		{ 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf }, 6,
		0, "+0 (single-stepped): instruction at +3 runs past 6 bytes",
	},
	{
		"nothing",
		{ 0 }, 0,
		0, "+0 (single-stepped): no emulated instruction in 0 bytes",
	},
	{
		"no emulated instruction in the window",
		{ 0x48, 0x85, 0xff, 0x48, 0x85, 0xff, 0x48, 0x85, 0xff, 0x48, 0x85, 0xff },
		12, 0, "+0 (single-stepped): no emulated instruction in 12 bytes",
	},
};

static void test_cases(void **state)
{
	char why[160];
	size_t i, off;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct case_ *c = &cases[i];

		off = 99;
		assert_int_equal(uprobe_off__choose(c->code, c->len, &off, why, sizeof(why)), 0);
		if (off != c->want || (c->why && strcmp(why, c->why)))
			fail_msg("%s: +%zu \"%s\", expected +%zu \"%s\"", c->name, off, why,
				 c->want, c->why);
	}
}

static void test_choose_why_optional(void **state)
{
	const uint8_t free_code[] = { 0x48, 0x85, 0xff, 0x0f, 0x84, 0xbf, 0x00, 0x00, 0x00 };
	char why[8];
	size_t off = 99;

	(void)state;
	assert_int_equal(uprobe_off__choose(free_code, sizeof(free_code), &off, NULL, 0), 0);
	assert_int_equal(off, 3);
	/* a short reason buffer is cut, still terminated */
	memset(why, 'x', sizeof(why));
	assert_int_equal(uprobe_off__choose(free_code, sizeof(free_code), &off, why, sizeof(why)),
			 0);
	assert_string_equal(why, "+3: je ");
	assert_int_equal(uprobe_off__choose(NULL, 0, &off, NULL, 0), 0);
	assert_int_equal(off, 0);
}

/* ---- the decoder, one instruction at a time (texts as objdump prints them) ---- */

struct insn_case {
	uint8_t code[16];
	unsigned int len;
	bool emulated;
	bool branch;
	uint32_t writes;
	const char *text;
};

#define R(r) UPROBE_REG(UPROBE_##r)

static const struct insn_case insns[] = {
	{ { 0x55 }, 1, true, false, R(RSP), "push %rbp" },
	{ { 0x41, 0x57 }, 2, true, false, R(RSP), "push %r15" },
	{ { 0x48, 0x55 }, 2, false, false, R(RSP), "push %rbp" },
	{ { 0x66, 0x55 }, 2, false, false, R(RSP), "push %bp" },
	{ { 0x5b }, 1, false, false, R(RSP) | R(RBX), "pop %rbx" },
	{ { 0x41, 0x5f }, 2, false, false, R(RSP) | R(R15), "pop %r15" },
	{ { 0xf3, 0x0f, 0x1e, 0xfa }, 4, false, false, 0, "endbr64" },
	{ { 0x48, 0x89, 0xe5 }, 3, false, false, R(RBP), "mov %rsp,%rbp" },
	{ { 0x48, 0x89, 0xfb }, 3, false, false, R(RBX), "mov %rdi,%rbx" },
	{ { 0x49, 0x89, 0xd4 }, 3, false, false, R(R12), "mov %rdx,%r12" },
	{ { 0x48, 0x8b, 0x47, 0xf8 }, 4, false, false, R(RAX), "mov -0x8(%rdi),%rax" },
	{ { 0x48, 0x89, 0x74, 0x24, 0x08 }, 5, false, false, 0, "mov %rsi,0x8(%rsp)" },
	{ { 0x48, 0x89, 0x3c, 0x24 }, 4, false, false, 0, "mov %rdi,(%rsp)" },
	{ { 0x64, 0x8b, 0x2b }, 3, false, false, R(RBP), "mov %fs:(%rbx),%ebp" },
	{ { 0x48, 0x8b, 0x1d, 0xd6, 0x9e, 0x13, 0x00 }, 7, false, false, R(RBX),
	  "mov 0x139ed6(%rip),%rbx" },
	{ { 0x64, 0x48, 0x8b, 0x04, 0x25, 0x28, 0x00, 0x00, 0x00 }, 9, false, false, R(RAX),
	  "mov %fs:0x28,%rax" },
	{ { 0x48, 0x8b, 0x04, 0xc5, 0x00, 0x00, 0x00, 0x00 }, 8, false, false, R(RAX),
	  "mov 0x0(,%rax,8),%rax" },
	{ { 0x42, 0x8b, 0x04, 0xa7 }, 4, false, false, R(RAX), "mov (%rdi,%r12,4),%eax" },
	{ { 0x41, 0x8b, 0x45, 0x00 }, 4, false, false, R(RAX), "mov 0x0(%r13),%eax" },
	{ { 0x41, 0x8b, 0x04, 0x24 }, 4, false, false, R(RAX), "mov (%r12),%eax" },
	{ { 0x48, 0x85, 0xff }, 3, false, false, 0, "test %rdi,%rdi" },
	{ { 0xa8, 0x02 }, 2, false, false, 0, "test $0x2,%al" },
	{ { 0xf6, 0x47, 0x74, 0x80 }, 4, false, false, 0, "testb $0x80,0x74(%rdi)" },
	{ { 0x80, 0x3d, 0x46, 0x1b, 0x14, 0x00, 0x00 }, 7, false, false, 0,
	  "cmpb $0x0,0x141b46(%rip)" },
	{ { 0x48, 0x83, 0xec, 0x18 }, 4, false, false, R(RSP), "sub $0x18,%rsp" },
	{ { 0x48, 0x81, 0xec, 0xa8, 0x00, 0x00, 0x00 }, 7, false, false, R(RSP),
	  "sub $0xa8,%rsp" },
	{ { 0x48, 0x83, 0xe4, 0xf0 }, 4, false, false, R(RSP), "and $0xfffffffffffffff0,%rsp" },
	{ { 0x66, 0x81, 0xe6, 0xff, 0x7f }, 5, false, false, R(RSI), "and $0x7fff,%si" },
	{ { 0x31, 0xed }, 2, false, false, R(RBP), "xor %ebp,%ebp" },
	{ { 0x48, 0x8d, 0x77, 0xf0 }, 4, false, false, R(RSI), "lea -0x10(%rdi),%rsi" },
	{ { 0x48, 0xf7, 0xe6 }, 3, false, false, R(RAX) | R(RDX), "mul %rsi" },
	{ { 0xf6, 0xe1 }, 2, false, false, R(RAX), "mul %cl" },
	{ { 0x48, 0xc1, 0xea, 0x03 }, 4, false, false, R(RDX), "shr $0x3,%rdx" },
	{ { 0x48, 0xd3, 0xe0 }, 3, false, false, R(RAX), "shl %cl,%rax" },
	{ { 0x0f, 0xb6, 0xc0 }, 3, false, false, R(RAX), "movzbl %al,%eax" },
	{ { 0x48, 0x63, 0xf6 }, 3, false, false, R(RSI), "movslq %esi,%rsi" },
	{ { 0x48, 0x0f, 0x44, 0xc2 }, 4, false, false, R(RAX), "cmove %rdx,%rax" },
	{ { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 }, 10, false, false, R(RAX),
	  "movabs $0x807060504030201,%rax" },
	{ { 0xc7, 0x44, 0x24, 0x0c, 0x00, 0x00, 0x00, 0x00 }, 8, false, false, 0,
	  "movl $0x0,0xc(%rsp)" },
	{ { 0x6a, 0xff }, 2, false, false, R(RSP), "push $0xffffffffffffffff" },
	{ { 0xff, 0x74, 0x24, 0x18 }, 4, false, false, R(RSP), "push 0x18(%rsp)" },
	{ { 0xc9 }, 1, false, false, R(RSP) | R(RBP), "leave" },
	{ { 0x90 }, 1, true, false, 0, "nop" },
	{ { 0x66, 0x90 }, 2, true, false, 0, "xchg %ax,%ax" },
	{ { 0x48, 0x90 }, 2, true, false, 0, "nop" },
	{ { 0x41, 0x90 }, 2, false, false, R(RAX) | R(R8), "xchg %eax,%r8d" },
	{ { 0x0f, 0x1f, 0x00 }, 3, true, false, 0, "nopl (%rax)" },
	{ { 0x0f, 0x1f, 0x40, 0x00 }, 4, true, false, 0, "nopl 0x0(%rax)" },
	{ { 0x0f, 0x1f, 0x80, 0, 0, 0, 0 }, 7, true, false, 0, "nopl 0x0(%rax)" },
	{ { 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0 }, 8, true, false, 0, "nopl 0x0(%rax,%rax,1)" },
	{ { 0x0f, 0x1f, 0x40, 0x01 }, 4, false, false, 0, "nopl 0x1(%rax)" },
	{ { 0x74, 0x07 }, 2, true, true, 0, "je" },
	{ { 0x0f, 0x88, 0xfd, 0x01, 0x00, 0x00 }, 6, true, true, 0, "js" },
	{ { 0xe8, 0xbe, 0xbc, 0xff, 0xff }, 5, true, true, R(RSP), "call" },
	{ { 0xe9, 0x32, 0xf6, 0xff, 0xff }, 5, true, true, 0, "jmp" },
	{ { 0xff, 0xd0 }, 2, false, true, R(RSP), "call *%rax" },
	{ { 0xff, 0x60, 0x10 }, 3, false, true, 0, "jmp *0x10(%rax)" },
	{ { 0xc3 }, 1, false, true, R(RSP), "ret" },
};

static void test_decode(void **state)
{
	struct uprobe_insn in;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(insns); i++) {
		const struct insn_case *c = &insns[i];
		int err = uprobe_off__decode(c->code, c->len, &in);

		if (err)
			fail_msg("%s: %d", c->text, err);
		if (in.len != c->len || in.emulated != c->emulated || in.branch != c->branch ||
		    in.writes != c->writes || strcmp(in.text, c->text))
			fail_msg("\"%s\" len %u emulated %d branch %d writes %#x, expected \"%s\" "
				 "len %u emulated %d branch %d writes %#x",
				 in.text, in.len, in.emulated, in.branch, in.writes, c->text,
				 c->len, c->emulated, c->branch, c->writes);
		/* one byte short of the instruction is never a shorter instruction */
		assert_int_equal(uprobe_off__decode(c->code, c->len - 1, &in), -ENODATA);
	}
}

static void test_decode_refused(void **state)
{
	static const struct {
		uint8_t code[8];
		unsigned int len;
	} bad[] = {
		{ { 0x0f, 0x05 }, 2 },			/* syscall */
		{ { 0xcd, 0x80 }, 2 },			/* int $0x80 */
		{ { 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0 }, 8 }, /* cs nopw: is_prefix_bad() */
		{ { 0x67, 0x8b, 0x07 }, 3 },		/* addr32 */
		{ { 0x66, 0xe8, 0, 0 }, 4 },		/* callw: refused by the kernel */
		{ { 0xf2, 0xe9, 0, 0, 0, 0 }, 6 },	/* bnd jmp */
		{ { 0xf3, 0xc3 }, 2 },			/* repz ret */
		{ { 0xf3, 0x48, 0xab }, 3 },		/* rep stos */
		{ { 0xc7, 0xf8, 0, 0, 0, 0 }, 6 },	/* xbegin */
		{ { 0x48, 0x66, 0x90 }, 3 },		/* REX not right before the opcode */
		{ { 0x8d, 0xc0 }, 2 },			/* lea of a register */
		{ { 0xc4, 0xe2, 0x63, 0xf6, 0x0d }, 5 }, /* VEX */
		{ { 0x62, 0xf1, 0x7c, 0x48, 0x28, 0xc1 }, 6 }, /* EVEX */
	};
	struct uprobe_insn in;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		int err = uprobe_off__decode(bad[i].code, bad[i].len, &in);

		if (err != -EOPNOTSUPP)
			fail_msg("#%zu (%02x %02x): %d, expected -EOPNOTSUPP", i, bad[i].code[0],
				 bad[i].code[1], err);
	}
	assert_int_equal(uprobe_off__decode(NULL, 0, &in), -ENODATA);
	/* 15 prefixes and an opcode: longer than any instruction may be */
	{
		uint8_t longest[16];

		memset(longest, 0x66, 15);
		longest[15] = 0x90;
		assert_int_equal(uprobe_off__decode(longest, 16, &in), -EOPNOTSUPP);
		assert_int_equal(uprobe_off__decode(longest + 2, 14, &in), 0);
		assert_int_equal(in.len, 14);
	}
}

/* Random bytes: never a read past the end, never a length the buffer does not hold. */
static void test_decode_random(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	uint8_t buf[UPROBE_OFF_WINDOW];
	struct uprobe_insn in;
	size_t i, j, len, off;
	int err, ok = 0;

	(void)state;
	for (i = 0; i < 200000; i++) {
		for (j = 0; j < sizeof(buf); j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = x;
		}
		len = x % (sizeof(buf) + 1);
		err = uprobe_off__decode(buf, len, &in);
		if (!err) {
			ok++;
			assert_in_range(in.len, 1, len < 15 ? len : 15);
			assert_non_null(memchr(in.text, '\0', sizeof(in.text)));
		} else if (err != -ENODATA && err != -EOPNOTSUPP) {
			fail_msg("decode: %d", err);
		}
		assert_int_equal(uprobe_off__choose(buf, len, &off, NULL, 0), 0);
		assert_true(off == 0 || off < len);
	}
	/* the bytes are random, the decoder still knows a good part of them */
	assert_true(ok > 20000);
}

/* ---- ELF: the live libc and this executable ---- */

static int read_build_id(const char *path, char *hex, size_t len)
{
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd, err = -ENOENT;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && err && (scn = elf_nextscn(elf, scn))) {
		GElf_Nhdr nhdr;
		size_t off = 0, name_off, desc_off, i;
		GElf_Shdr shdr;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		data = elf_getdata(scn, NULL);
		while (data && (off = gelf_getnote(data, off, &nhdr, &name_off, &desc_off))) {
			if (nhdr.n_type != NT_GNU_BUILD_ID || nhdr.n_namesz != 4 ||
			    memcmp((char *)data->d_buf + name_off, "GNU", 4) ||
			    2 * nhdr.n_descsz + 1 > len)
				continue;
			for (i = 0; i < nhdr.n_descsz; i++)
				sprintf(hex + 2 * i, "%02x",
					((unsigned char *)data->d_buf)[desc_off + i]);
			err = 0;
			break;
		}
	}
	elf_end(elf);
	close(fd);
	return err;
}

static bool libc_is_ours(void)
{
	char id[64];

	return !read_build_id(LIBC, id, sizeof(id)) && !strcmp(id, LIBC_BUILD_ID);
}

static void test_libc_live(void **state)
{
	bool ours = libc_is_ours();
	uint8_t code[UPROBE_OFF_WINDOW];
	char why[160], why2[160];
	uint64_t file_off, probe_off;
	size_t i, off;
	int fd;

	(void)state;
	if (access(LIBC, R_OK))
		skip();
	if (!ours)
		print_message("%s is not build %s: offsets checked for consistency only\n", LIBC,
			      LIBC_BUILD_ID);
	fd = open(LIBC, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	for (i = 0; i < ARRAY_SIZE(libc_prologues); i++) {
		const struct prologue *p = &libc_prologues[i];
		ssize_t n;

		assert_int_equal(uprobe_off__for_symbol(LIBC, p->sym, &file_off, &probe_off, why,
							sizeof(why)),
				 0);
		if (ours) {
			if (file_off != p->file_off || probe_off != p->want || strcmp(why, p->why))
				fail_msg("%s: %#llx +%llu \"%s\", expected %#llx +%zu \"%s\"",
					 p->sym, (unsigned long long)file_off,
					 (unsigned long long)probe_off, why,
					 (unsigned long long)p->file_off, p->want, p->why);
			n = pread(fd, code, sizeof(code), file_off);
			assert_int_equal(n, sizeof(code));
			assert_memory_equal(code, p->code, p->len);
		}
		/* whatever the build: the choice is the one made on the bytes at that offset */
		n = pread(fd, code, sizeof(code), file_off);
		assert_true(n > 0);
		assert_int_equal(uprobe_off__choose(code, n, &off, why2, sizeof(why2)), 0);
		assert_true(probe_off < UPROBE_OFF_WINDOW);
		/* a shorter function limits the window, which can only end a search early */
		assert_true(probe_off == off || probe_off == 0);
	}
	close(fd);
}

static void test_libc_versions(void **state)
{
	static const struct {
		const char *sym;
		uint64_t file_off;
	} want[] = {
		/* the hidden sched_getaffinity@GLIBC_2.3.3 comes first in .dynsym */
		{ "sched_getaffinity", 0xee0d0 },
		{ "pthread_cond_wait", 0x883f0 },
		{ "realpath", 0x3d560 },
		{ "fmemopen", 0x7f650 },
	};
	uint64_t file_off, probe_off;
	char why[160];
	size_t i;

	(void)state;
	if (!libc_is_ours())
		skip();
	for (i = 0; i < ARRAY_SIZE(want); i++) {
		assert_int_equal(uprobe_off__for_symbol(LIBC, want[i].sym, &file_off, &probe_off,
							why, sizeof(why)),
				 0);
		if (file_off != want[i].file_off)
			fail_msg("%s: %#llx, expected the default version at %#llx",
				 want[i].sym, (unsigned long long)file_off,
				 (unsigned long long)want[i].file_off);
	}
	/* memcpy@@GLIBC_2.14 is an IFUNC: its value is the resolver, not the copy */
	assert_int_equal(uprobe_off__for_symbol(LIBC, "memcpy", &file_off, &probe_off, why,
						sizeof(why)),
			 -EOPNOTSUPP);
	assert_non_null(strstr(why, "IFUNC"));
}

static void test_for_symbol_errors(void **state)
{
	uint64_t file_off = 1, probe_off = 2;
	char why[256];

	(void)state;
	assert_int_equal(uprobe_off__for_symbol("/nonexistent/libc.so", "malloc", &file_off,
						&probe_off, why, sizeof(why)),
			 -ENOENT);
	assert_non_null(strstr(why, "No such file or directory"));
	assert_int_equal(uprobe_off__for_symbol("/dev/null", "malloc", &file_off, &probe_off, why,
						sizeof(why)),
			 -ENOEXEC);
	assert_non_null(strstr(why, "not an ELF file"));
	if (!access(LIBC, R_OK)) {
		assert_int_equal(uprobe_off__for_symbol(LIBC, "qh_no_such_function", &file_off,
							&probe_off, why, sizeof(why)),
				 -ENOENT);
		assert_non_null(strstr(why, "no function qh_no_such_function"));
		/* a prefix of a name is not the name */
		assert_int_equal(uprobe_off__for_symbol(LIBC, "mallo", &file_off, &probe_off, NULL,
							0),
				 -ENOENT);
	}
	assert_int_equal(file_off, 1);
	assert_int_equal(probe_off, 2);
}

/* A function only .symtab knows of (an executable exports nothing), to be found on disk. */
extern char qh_test_prologue[];
__asm__(".pushsection .text\n"
	".globl qh_test_prologue\n"
	".type qh_test_prologue, @function\n"
	"qh_test_prologue:\n"
	"	endbr64\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	pop %rbp\n"
	"	ret\n"
	".size qh_test_prologue, . - qh_test_prologue\n"
	".popsection\n");

static void test_for_symbol_self(void **state)
{
	uint64_t file_off, probe_off;
	uint8_t disk[10];
	char why[160];
	int fd;

	(void)state;
	assert_int_equal(uprobe_off__for_symbol("/proc/self/exe", "qh_test_prologue", &file_off,
						&probe_off, why, sizeof(why)),
			 0);
	assert_int_equal(probe_off, 4);
	assert_string_equal(why, "+4: push %rbp (emulated) after endbr64");
	/* the file offset holds the very bytes the function runs */
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, disk, sizeof(disk), file_off), sizeof(disk));
	close(fd);
	assert_memory_equal(disk, qh_test_prologue, sizeof(disk));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_libc_prologues),
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_choose_why_optional),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_decode_refused),
		cmocka_unit_test(test_decode_random),
		cmocka_unit_test(test_libc_live),
		cmocka_unit_test(test_libc_versions),
		cmocka_unit_test(test_for_symbol_errors),
		cmocka_unit_test(test_for_symbol_self),
	};

	return cmocka_run_group_tests_name("uprobe_off", tests, NULL, NULL);
}
