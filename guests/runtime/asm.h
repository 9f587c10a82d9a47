/*
 * What the guests' assembly shares (#include "runtime/asm.h" from a .S):
 * the Xen ABI's constants from its public headers, as runtime/xen.hpp
 * pins them, the return through the iret hypercall, and function labels.
 */
/* Assembler macros, not C: clang-format would reflow them. */
/* clang-format off */
#ifndef XPV_GUEST_RUNTIME_ASM_H
#define XPV_GUEST_RUNTIME_ASM_H

/* The headers' C declarations are behind __ASSEMBLY__. */
#define __ASSEMBLY__
#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ __XEN_LATEST_INTERFACE_VERSION__
#endif
#include <xen/xen.h>

/* hypercall_page holds one 32-byte stub per hypercall (runtime/entry.S). */
#define HYPERCALL_STUB(nr) (hypercall_page + (nr) * 32)

/* Returns through the iret hypercall, rsp at iret_context.flags: the
 * stub pushes RCX, R11 and RAX on top of it (xen-x86_64.h struct
 * iret_context; linux-pv-guest.md 5.2). */
	.macro XEN_IRET
	jmp HYPERCALL_STUB(__HYPERVISOR_iret)
	.endm

/* A global function label, for code whose instructions a test knows. */
	.macro PROBE name
	.globl \name
	.type \name, @function
\name:
	.endm

/* The SysV ABI's callee-saved registers, but rsp. */
	.macro PUSH_CALLEE_SAVED
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	.endm

	.macro POP_CALLEE_SAVED
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	.endm

#endif
