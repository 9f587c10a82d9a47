/*
 * Exception and callback entry, and the return through the iret
 * hypercall, as a 64-bit PV kernel does them (traps.hpp).
 *
 * The hypervisor bounces an exception to the handler in the trap table on
 * the current stack (linux-pv-guest.md 5.1). Low to high the frame is RCX,
 * R11, [error code], RIP, CS, RFLAGS, RSP, SS. Each entry stub pops RCX and
 * R11 back into their registers, pushes a 0 where the vector has no error
 * code so that every frame has one shape, pushes the vector and jumps to
 * trap_common. That saves the registers as a struct TrapFrame (traps.hpp),
 * calls xpv_trap_dispatch(frame), which the guest defines, restores the
 * registers (with whatever the handler changed) and returns the way Linux's
 * xen_iret does: the error-code slot becomes iret_context.flags, and a jump
 * to hypercall_page's iret stub pushes RCX, R11 and RAX on top of it
 * (xen-x86_64.h struct iret_context; linux-pv-guest.md 5.2).
 */

#include "runtime/asm.h"

	.macro TRAP_ENTRY vector, has_error_code
	.balign 16
	.globl xpv_trap_entry_\vector
xpv_trap_entry_\vector:
	pop %rcx
	pop %r11
	.if \has_error_code == 0
	push $0
	.endif
	push $\vector
	jmp trap_common
	.endm

	.text
	/* The vectors that push an error code (create_bounce_frame). */
	.irp v, 8, 10, 11, 12, 13, 14, 17, 21
	TRAP_ENTRY \v, 1
	.endr
	.irp v, 0, 1, 2, 3, 4, 5, 6, 7, 9, 15, 16, 18, 19, 20, 0x80
	TRAP_ENTRY \v, 0
	.endr
	/* The event callback: the bounce frame has no error code. It goes
	 * through trap_common as pseudo-vector 0xe0 (traps.hpp kEventUpcallVector). */
	TRAP_ENTRY 0xe0, 0
	/* The syscall callback: a system call from guest user mode, frame as
	 * above (pseudo-vector 0xe2, kSystemCallVector). */
	TRAP_ENTRY 0xe2, 0

	/* The failsafe callback (Xen's load_segments): between R11 and RIP
	 * the frame holds the DS, ES, FS and GS selectors that failed to
	 * load. They go to xpv_failsafe_selectors, the rest through
	 * trap_common as pseudo-vector 0xe1 (kFailsafeVector). */
	.balign 16
	.globl xpv_failsafe_entry
xpv_failsafe_entry:
	pop %rcx
	pop %r11
	pop xpv_failsafe_selectors(%rip)
	pop xpv_failsafe_selectors+8(%rip)
	pop xpv_failsafe_selectors+16(%rip)
	pop xpv_failsafe_selectors+24(%rip)
	push $0
	push $0xe1
	jmp trap_common

	.type trap_common, @function
trap_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	/* Nothing since the handler's first instruction has changed RFLAGS
	 * (pop, push and jmp leave them alone), so this is what the
	 * hypervisor entered the handler with. */
	pushfq
	cld				/* the interrupted code may have set DF */
	mov %rsp, %rdi
	mov %rsp, %rbx			/* callee-saved: survives the call */
	and $-16, %rsp			/* whatever the frame's alignment */
	call xpv_trap_dispatch
	mov %rbx, %rsp
	add $8, %rsp			/* entry rflags */
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $8, %rsp			/* the vector: rsp now points at flags */
	XEN_IRET
	.size trap_common, . - trap_common

/*
 * void xpv_enter_user(uint64_t rip, uint64_t rsp, uint64_t rdi): enters
 * guest user mode at rip with rsp, rdi as its argument and events masked,
 * through the iret hypercall with a user CS (RPL 3). Returns only if a
 * handler resumes an xpv_try around it.
 */
	.globl xpv_enter_user
	.type xpv_enter_user, @function
xpv_enter_user:
	pushq $FLAT_USER_SS		/* ss */
	push %rsi			/* rsp */
	pushq $0x2			/* rflags: IF clear, so events stay masked */
	pushq $FLAT_USER_CS64		/* cs: RPL 3 */
	push %rdi			/* rip */
	pushq $0			/* iret_context.flags */
	mov %rdx, %rdi
	xor %eax, %eax
	XEN_IRET
	.size xpv_enter_user, . - xpv_enter_user

	.section .rodata
	.balign 8
	.globl xpv_trap_entries
	.type xpv_trap_entries, @object
/* Entry stub addresses by vector, 0-21. */
xpv_trap_entries:
	.irp v, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21
	.quad xpv_trap_entry_\v
	.endr
	.size xpv_trap_entries, . - xpv_trap_entries

	.bss
	.balign 8
	.globl xpv_failsafe_selectors
xpv_failsafe_selectors:
	.quad 0, 0, 0, 0

	.section .note.GNU-stack, "", @progbits	/* no executable stack */
