/*
 * long xpv_try(void (*body)(void*), void* arg)
 *
 * Calls body(arg) and returns 0, unless a trap handler ends the call early
 * by resuming at xpv_try_landing with rsp = xpv_try_rsp and rax = the value
 * to return, as a kernel's exception fixup would (try.hpp). Not reentrant.
 */
#include "runtime/asm.h"

	.text
	.globl xpv_try
	.type xpv_try, @function
xpv_try:
	PUSH_CALLEE_SAVED
	sub $8, %rsp			/* rsp % 16 == 0 at the call */
	mov %rsp, xpv_try_rsp(%rip)
	mov %rdi, %rax
	mov %rsi, %rdi
	call *%rax
	xor %eax, %eax
	.globl xpv_try_landing
xpv_try_landing:
	movq $0, xpv_try_rsp(%rip)
	cld				/* the interrupted code may have set DF */
	add $8, %rsp
	POP_CALLEE_SAVED
	ret
	.size xpv_try, . - xpv_try

	.bss
	.balign 8
	.globl xpv_try_rsp
xpv_try_rsp:
	.quad 0

	.section .note.GNU-stack, "", @progbits	/* no executable stack */
