/*
 * The code whose exact instructions the tests need to know: the probes,
 * the iret probe, and the user-mode programs. Trap entry and xpv_try are
 * the runtime's (runtime/traps.S, runtime/try.S).
 */

#include "runtime/asm.h"

/*
 * Probes: each executes one instruction at a global label, so that a test
 * knows the exact RIP the exception frame must hold.
 */
	.text

/* void xpv_probe_int3(void): #BP reports the address after the int3. */
PROBE xpv_probe_int3
	int3
	.globl xpv_probe_int3_resume
xpv_probe_int3_resume:
	ret

/* void xpv_probe_ud2(void): #UD at the ud2 (2 bytes). */
PROBE xpv_probe_ud2
	.globl xpv_probe_ud2_site
xpv_probe_ud2_site:
	ud2
	ret

/* void xpv_probe_divide_error(void): #DE at the div (2 bytes). */
PROBE xpv_probe_divide_error
	xor %edx, %edx
	mov $1, %eax
	xor %ecx, %ecx
	.globl xpv_probe_divide_error_site
xpv_probe_divide_error_site:
	div %ecx
	ret

/* void xpv_probe_icebp(void): #DB from int1, reported after it. */
PROBE xpv_probe_icebp
	.byte 0xf1
	.globl xpv_probe_icebp_resume
xpv_probe_icebp_resume:
	ret

/* void xpv_probe_single_step(void): sets TF; #DB comes after the first
 * instruction that runs with TF set. The handler must clear TF. */
PROBE xpv_probe_single_step
	pushfq
	orq $0x100, (%rsp)
	popfq
	nop
	.globl xpv_probe_single_step_trap
xpv_probe_single_step_trap:
	nop
	ret

/* void xpv_probe_hlt(void) / xpv_probe_cli(void): privileged at CPL3,
 * so #GP(0) at the instruction (1 byte). */
PROBE xpv_probe_hlt
	.globl xpv_probe_hlt_site
xpv_probe_hlt_site:
	hlt
	ret

PROBE xpv_probe_cli
	.globl xpv_probe_cli_site
xpv_probe_cli_site:
	cli
	ret

/* void xpv_probe_int80(void): a software interrupt (2 bytes). */
PROBE xpv_probe_int80
	.globl xpv_probe_int80_site
xpv_probe_int80_site:
	int $0x80
	.globl xpv_probe_int80_resume
xpv_probe_int80_resume:
	ret

/* void xpv_probe_x87_exception(void): an unmasked x87 divide by zero is
 * reported as #MF at the next waiting FPU instruction, the fwait. Leaves
 * the FPU state changed: for user processes, whose state the kernel drops. */
PROBE xpv_probe_x87_exception
	sub $8, %rsp
	fnstcw (%rsp)
	andw $~4, (%rsp)		/* unmask ZE */
	fldcw (%rsp)
	add $8, %rsp
	fld1
	fldz
	fdivrp %st, %st(1)		/* 1 / 0 */
	.globl xpv_probe_x87_exception_site
xpv_probe_x87_exception_site:
	fwait
	ret

/* void xpv_probe_simd_exception(void): an unmasked SSE divide by zero
 * raises #XM at the divss. The same caveat about the FPU state. */
PROBE xpv_probe_simd_exception
	sub $8, %rsp
	stmxcsr (%rsp)
	andl $~0x200, (%rsp)		/* unmask ZE */
	ldmxcsr (%rsp)
	add $8, %rsp
	mov $1, %eax
	cvtsi2ss %eax, %xmm0
	xorps %xmm1, %xmm1
	.globl xpv_probe_simd_exception_site
xpv_probe_simd_exception_site:
	divss %xmm1, %xmm0
	ret

/* uint64_t xpv_probe_load(const uint64_t* address): 3-byte load. */
PROBE xpv_probe_load
	.globl xpv_probe_load_site
xpv_probe_load_site:
	mov (%rdi), %rax
	ret

/* void xpv_probe_store(uint64_t* address, uint64_t value): 3-byte store. */
PROBE xpv_probe_store
	.globl xpv_probe_store_site
xpv_probe_store_site:
	mov %rsi, (%rdi)
	ret

/* void xpv_probe_fnop(void) / xpv_probe_pxor(void): the first x87 / SSE
 * instruction after fpu_taskswitch(1) raises #NM. */
PROBE xpv_probe_fnop
	.globl xpv_probe_fnop_site
xpv_probe_fnop_site:
	fnop
	ret

PROBE xpv_probe_pxor
	.globl xpv_probe_pxor_site
xpv_probe_pxor_site:
	pxor %xmm0, %xmm0
	ret

/* void xpv_probe_forced_cpuid(uint32_t leaf, uint32_t out[4]): Xen's
 * forced-emulation prefix (xen/arch-x86/xen.h XEN_EMULATE_PREFIX). */
PROBE xpv_probe_forced_cpuid
	push %rbx
	mov %rsi, %r8
	mov %edi, %eax
	xor %ecx, %ecx
	ud2
	.ascii "xen"
	cpuid
	mov %eax, 0(%r8)
	mov %ebx, 4(%r8)
	mov %ecx, 8(%r8)
	mov %edx, 12(%r8)
	pop %rbx
	ret

/* void xpv_probe_bad_forced_cpuid(void): ud2 and the wrong signature is
 * a plain #UD at the ud2. */
PROBE xpv_probe_bad_forced_cpuid
	.globl xpv_probe_bad_forced_cpuid_site
xpv_probe_bad_forced_cpuid_site:
	ud2
	.ascii "xeX"
	ret

/*
 * void xpv_probe_registers(const uint64_t in[15], uint64_t out[15])
 *
 * Loads every GPR but rsp from `in` (order: rax rbx rcx rdx rsi rdi rbp
 * r8-r15), executes int3 and stores the GPRs to `out`.
 */
PROBE xpv_probe_registers
	PUSH_CALLEE_SAVED
	push %rsi
	mov 0(%rdi), %rax
	mov 8(%rdi), %rbx
	mov 16(%rdi), %rcx
	mov 24(%rdi), %rdx
	mov 32(%rdi), %rsi
	mov 48(%rdi), %rbp
	mov 56(%rdi), %r8
	mov 64(%rdi), %r9
	mov 72(%rdi), %r10
	mov 80(%rdi), %r11
	mov 88(%rdi), %r12
	mov 96(%rdi), %r13
	mov 104(%rdi), %r14
	mov 112(%rdi), %r15
	mov 40(%rdi), %rdi
	int3
	push %rdi
	mov 8(%rsp), %rdi
	mov %rax, 0(%rdi)
	mov %rbx, 8(%rdi)
	mov %rcx, 16(%rdi)
	mov %rdx, 24(%rdi)
	mov %rsi, 32(%rdi)
	mov %rbp, 48(%rdi)
	mov %r8, 56(%rdi)
	mov %r9, 64(%rdi)
	mov %r10, 72(%rdi)
	mov %r11, 80(%rdi)
	mov %r12, 88(%rdi)
	mov %r13, 96(%rdi)
	mov %r14, 104(%rdi)
	mov %r15, 112(%rdi)
	pop %rax
	mov %rax, 40(%rdi)
	pop %rsi
	POP_CALLEE_SAVED
	ret

/* uint64_t xpv_probe_rflags_int3(uint64_t rflags): runs int3 with RFLAGS
 * loaded from the argument (popfq ignores IF and IOPL at CPL3) and
 * returns RFLAGS as found after the return. The caller's RFLAGS are
 * restored. */
PROBE xpv_probe_rflags_int3
	pushfq
	push %rdi
	popfq
	int3
	pushfq
	pop %rax
	popfq
	ret

/* void xpv_probe_int3_with_rsp(uint64_t rsp): int3 with rsp set to the
 * argument, then back to the caller's stack. rax survives the trap. */
PROBE xpv_probe_int3_with_rsp
	mov %rsp, %rax
	mov %rdi, %rsp
	int3
	mov %rax, %rsp
	ret

/*
 * void xpv_probe_iret(const iret_context* context, IretResult* result)
 *
 * Jumps to the iret stub with `context` on the stack (RAX, R11 and RCX go
 * in registers: the stub pushes them). A context rip of 0 means "the
 * resume label below", an rsp of 0 "the stack as it was". At the resume
 * label, stores RAX, RCX, R11, RFLAGS and RSP to `result`, executes int3
 * (whose frame shows the CS and SS the return loaded) and returns on the
 * original stack. Hypercalls may clobber argument
 * registers, so the pointers live in memory.
 */
PROBE xpv_probe_iret
	PUSH_CALLEE_SAVED
	mov %rsi, iret_probe_result(%rip)
	mov %rsp, iret_probe_rsp(%rip)
	lea -128(%rsp), %rsp		/* the frame, below anything live */
	and $-16, %rsp
	mov 24(%rdi), %rax		/* flags */
	mov %rax, 0(%rsp)
	mov 32(%rdi), %rax		/* rip */
	test %rax, %rax
	jnz 1f
	lea xpv_probe_iret_resume(%rip), %rax
1:	mov %rax, 8(%rsp)
	mov 40(%rdi), %rax		/* cs */
	mov %rax, 16(%rsp)
	mov 48(%rdi), %rax		/* rflags */
	mov %rax, 24(%rsp)
	mov 56(%rdi), %rax		/* rsp */
	test %rax, %rax
	jnz 2f
	mov iret_probe_rsp(%rip), %rax
2:	mov %rax, 32(%rsp)
	mov 64(%rdi), %rax		/* ss */
	mov %rax, 40(%rsp)
	mov 16(%rdi), %rcx
	mov 8(%rdi), %r11
	mov 0(%rdi), %rax
	XEN_IRET
	.globl xpv_probe_iret_resume
xpv_probe_iret_resume:
	mov %rax, iret_probe_saved_rax(%rip)
	pushfq
	pop %rax
	push %rdi
	mov iret_probe_result(%rip), %rdi
	mov %rax, 24(%rdi)		/* rflags */
	mov iret_probe_saved_rax(%rip), %rax
	mov %rax, 0(%rdi)		/* rax */
	mov %rcx, 8(%rdi)		/* rcx */
	mov %r11, 16(%rdi)		/* r11 */
	lea 8(%rsp), %rax
	mov %rax, 32(%rdi)		/* rsp */
	pop %rdi
	/* The selectors the return loaded show in the frame of a trap
	 * (mov %cs would read the CPU's, which under KVM's PVM backend are
	 * the host's own user selectors, not the virtual ones). */
	int3
	mov iret_probe_rsp(%rip), %rsp
	POP_CALLEE_SAVED
	ret

	.bss
	.balign 8
iret_probe_result:
	.quad 0
iret_probe_rsp:
	.quad 0
iret_probe_saved_rax:
	.quad 0

	.section .note.GNU-stack, "", @progbits	/* no executable stack */

/* Guest user mode (user_mode.cpp); xpv_enter_user is the runtime's. */
	.text

/* void xpv_fxsave(void* area) / xpv_fxrstor(const void* area): 512 bytes,
 * 16-byte aligned. The guest kernel switches FPU state with them. */
	.globl xpv_fxsave
xpv_fxsave:
	fxsave64 (%rdi)
	ret
	.globl xpv_fxrstor
xpv_fxrstor:
	fxrstor64 (%rdi)
	ret

	.set SYS_WRITE, 1
	.set SYS_YIELD, 2
	.set SYS_EXIT, 3

/* User program: puts `value` (rdi) in xmm0 and in st(0), yields to the
 * other process, then reports both registers with SYS_WRITE and exits. */
	.globl xpv_user_fpu_program
	.type xpv_user_fpu_program, @function
xpv_user_fpu_program:
	movq %rdi, %xmm0
	push %rdi
	fildq (%rsp)
	pop %rax
	mov $SYS_YIELD, %eax
	syscall
	movq %xmm0, %rdi
	mov $SYS_WRITE, %eax
	syscall
	sub $8, %rsp
	fistpq (%rsp)
	pop %rdi
	mov $SYS_WRITE, %eax
	syscall
	xor %edi, %edi
	mov $SYS_EXIT, %eax
	syscall
	ud2
	.size xpv_user_fpu_program, . - xpv_user_fpu_program
