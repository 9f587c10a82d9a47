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

	.set HYPERVISOR_iret, 23	/* xen.h __HYPERVISOR_iret */
	.set HYPERVISOR_xen_version, 17
	.set HYPERCALL_STUB_SIZE, 32
	.set VGCF_in_syscall, 256	/* xen-x86_64.h */
	.set FLAT_USER_CS, 0xe033	/* xen-x86_64.h FLAT_RING3_CS64 */
	.set FLAT_USER_SS, 0xe02b	/* FLAT_RING3_SS64 */
	.set SYSCALL_LEAVE_USER_MODE, 1	/* bench_user_start's last syscall */
	.set BENCH_UNMAPPED, 0x1000	/* L4 slot 0: nothing maps it */

	.macro IRET
	jmp hypercall_page + HYPERVISOR_iret * HYPERCALL_STUB_SIZE
	.endm

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
	IRET
	.size bench_syscall_entry, . - bench_syscall_entry

/* #UD handler: skip the 2-byte ud2 and return. */
	.globl bench_invalid_opcode_entry
	.type bench_invalid_opcode_entry, @function
bench_invalid_opcode_entry:
	pop %rcx
	pop %r11
	addq $2, (%rsp)
	push $0
	IRET
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
	IRET
	.size bench_page_fault_entry, . - bench_page_fault_entry

/*
 * The event callback: the TSC first (event latency is measured to here),
 * then bench_event_upcall() in C acknowledges the event.
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
	pop %rcx
	pop %r11
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	push %rbx
	mov %rsp, %rbx
	and $-16, %rsp
	cld
	call bench_event_upcall
	mov %rbx, %rsp
	pop %rbx
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	push $0
	IRET
	.size bench_event_entry, . - bench_event_entry

/*
 * void bench_run_in_user_mode(void (*fn)(void*), void* arg, void* user_stack)
 *
 * Enters guest user mode through the iret hypercall at bench_user_start,
 * which calls fn(arg) there and comes back through the syscall callback;
 * returns in kernel mode. Events stay masked (RFLAGS.IF clear).
 */
	.globl bench_run_in_user_mode
	.type bench_run_in_user_mode, @function
bench_run_in_user_mode:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, kernel_rsp(%rip)
	mov %rdi, user_fn(%rip)
	mov %rsi, user_arg(%rip)
	and $-16, %rdx
	sub $8, %rsp
	push $FLAT_USER_SS
	push %rdx			/* rsp */
	push $0x2			/* rflags: IF clear, events masked */
	push $FLAT_USER_CS
	lea bench_user_start(%rip), %rax
	push %rax			/* rip */
	push $0				/* flags */
	xor %eax, %eax
	IRET
leave_user_mode:
	mov kernel_rsp(%rip), %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
	.size bench_run_in_user_mode, . - bench_run_in_user_mode

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
	call hypercall_page + HYPERVISOR_xen_version * HYPERCALL_STUB_SIZE
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
kernel_rsp:
	.quad 0
user_fn:
	.quad 0
user_arg:
	.quad 0
	.globl bench_event_tsc
bench_event_tsc:
	.quad 0

	.section .note.GNU-stack, "", @progbits
