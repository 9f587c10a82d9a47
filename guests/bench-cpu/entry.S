/*
 * The guest-kernel entry points bench-cpu times, each as short as a PV
 * kernel's could be, so that the figures are xpv's cost and little else;
 * the user-mode round trip; and the timed loops (each returns the TSC
 * ticks its loop took).
 *
 * A bounce frame is, low to high, RCX, R11, [error code], RIP, CS,
 * RFLAGS, RSP, SS (linux-pv-guest.md 5.1). Every entry pops RCX and R11
 * back and returns through the iret hypercall: the stub pushes RCX, R11
 * and RAX on top of iret_context.flags (xen-x86_64.h struct iret_context).
 */

#include "runtime/asm.h"

	.set SYSCALL_LEAVE_USER_MODE, 1	/* bench_user_start's last syscall */
	.set BENCH_UNMAPPED, 0x1000	/* L4 slot 0: nothing maps it */

	.macro TSC_TO reg
	rdtsc
	shl $32, %rdx
	or %rax, %rdx
	mov %rdx, \reg
	.endm

	.text

/*
 * The syscall callback. rax 0 returns to user mode at once, as a system
 * call that does nothing would (Linux's sysret path is this iret with
 * VGCF_in_syscall, which leaves RCX and R11 to the hypervisor).
 * SYSCALL_LEAVE_USER_MODE ends bench_run_in_user_mode.
 */
	.globl bench_syscall_entry
	.type bench_syscall_entry, @function
bench_syscall_entry:
	pop %rcx
	pop %r11
	cmp $SYSCALL_LEAVE_USER_MODE, %eax
	je leave_user_mode
	push $VGCF_in_syscall
	XEN_IRET
	.size bench_syscall_entry, . - bench_syscall_entry

/* #UD handler: skip the 2-byte ud2 and return. */
	.globl bench_invalid_opcode_entry
	.type bench_invalid_opcode_entry, @function
bench_invalid_opcode_entry:
	pop %rcx
	pop %r11
	addq $2, (%rsp)
	push $0
	XEN_IRET
	.size bench_invalid_opcode_entry, . - bench_invalid_opcode_entry

/* #PF handler: the fault is bench_loop_page_fault's 3-byte load; skip it.
 * The error-code slot becomes iret_context.flags. */
	.globl bench_page_fault_entry
	.type bench_page_fault_entry, @function
bench_page_fault_entry:
	pop %rcx
	pop %r11
	movq $0, (%rsp)
	addq $3, 8(%rsp)
	XEN_IRET
	.size bench_page_fault_entry, . - bench_page_fault_entry

/*
 * The event callback: the TSC first (event latency is measured to here),
 * then the runtime's event entry (runtime/traps.S), whose
 * xpv_trap_dispatch acknowledges the event.
 */
	.globl bench_event_entry
	.type bench_event_entry, @function
bench_event_entry:
	push %rax
	push %rdx
	TSC_TO %rax
	mov %rax, bench_event_tsc(%rip)
	pop %rdx
	pop %rax
	jmp xpv_trap_entry_0xe0
	.size bench_event_entry, . - bench_event_entry

/*
 * void bench_run_in_user_mode(void (*fn)(void*), void* arg, void* user_stack)
 *
 * Enters guest user mode at bench_user_start (runtime's xpv_enter_user),
 * which calls fn(arg) there and comes back through the syscall callback;
 * returns in kernel mode. It runs under xpv_try (runtime/try.S): the
 * syscall callback ends user mode at its landing point.
 */
	.globl bench_run_in_user_mode
	.type bench_run_in_user_mode, @function
bench_run_in_user_mode:
	mov %rdi, user_fn(%rip)
	mov %rsi, user_arg(%rip)
	and $-16, %rdx
	lea enter_user_mode(%rip), %rdi
	mov %rdx, %rsi
	jmp xpv_try			/* xpv_try(enter_user_mode, user_stack) */
	.size bench_run_in_user_mode, . - bench_run_in_user_mode

/* xpv_try's body: rdi = the user stack. */
	.type enter_user_mode, @function
enter_user_mode:
	mov %rdi, %rsi
	lea bench_user_start(%rip), %rdi
	jmp xpv_enter_user
	.size enter_user_mode, . - enter_user_mode

	.type leave_user_mode, @function
leave_user_mode:
	mov xpv_try_rsp(%rip), %rsp
	xor %eax, %eax
	jmp xpv_try_landing
	.size leave_user_mode, . - leave_user_mode

/* Runs in user mode: fn(arg), then back to the kernel. */
	.type bench_user_start, @function
bench_user_start:
	mov user_arg(%rip), %rdi
	call *user_fn(%rip)
	mov $SYSCALL_LEAVE_USER_MODE, %eax
	syscall
	ud2				/* not reached */
	.size bench_user_start, . - bench_user_start

/*
 * uint64_t bench_loop_syscall(uint64_t n) / bench_loop_ud2(uint64_t n) /
 * bench_loop_hypercall(uint64_t n) / bench_loop_page_fault(uint64_t n):
 * TSC ticks for n (>= 1) iterations of one `syscall` (rax 0), one `ud2`,
 * one xen_version hypercall, or one load from the unmapped page at
 * BENCH_UNMAPPED (3 bytes: mov (%rax), %rax).
 * Only callee-saved registers hold state across the event.
 */
	.macro TIMED_LOOP name, body:vararg
	.globl \name
	.type \name, @function
\name:
	push %rbx
	push %r12
	push %r13
	mov %rdi, %rbx
	TSC_TO %r12
1:	\body
	dec %rbx
	jnz 1b
	TSC_TO %r13
	mov %r13, %rax
	sub %r12, %rax
	pop %r13
	pop %r12
	pop %rbx
	ret
	.size \name, . - \name
	.endm

	.macro SYSCALL_ZERO
	xor %eax, %eax
	syscall
	.endm

	.macro XEN_VERSION_ZERO
	xor %edi, %edi
	xor %esi, %esi
	call HYPERCALL_STUB(__HYPERVISOR_xen_version)
	.endm

	TIMED_LOOP bench_loop_syscall, SYSCALL_ZERO
	TIMED_LOOP bench_loop_ud2, ud2
	.macro LOAD_UNMAPPED
	mov $BENCH_UNMAPPED, %eax
	mov (%rax), %rax
	.endm

	TIMED_LOOP bench_loop_hypercall, XEN_VERSION_ZERO
	TIMED_LOOP bench_loop_page_fault, LOAD_UNMAPPED

	.bss
	.balign 8
user_fn:
	.quad 0
user_arg:
	.quad 0
	.globl bench_event_tsc
bench_event_tsc:
	.quad 0

	.section .note.GNU-stack, "", @progbits
