/*
 * Exception entry for the privileged-instruction tests, and the probes
 * whose exact instruction addresses the tests compare with.
 *
 * The hypervisor bounces an exception to its trap-table handler on the
 * current stack: low to high RCX, R11, [error code], RIP, CS, RFLAGS, RSP,
 * SS (linux-pv-guest.md 5.1). Each entry puts RCX and R11 back, records
 * the vector, error code and RIP, and returns through the iret hypercall
 * (hypercall_page[23], which pushes RCX, R11 and RAX on top of the frame)
 * after turning the error-code slot into iret_context.flags = 0. Inside
 * priv_try it returns to priv_try_landing on priv_try's stack, which
 * makes priv_try return 1; anywhere else to priv_unexpected_trap.
 */

	.set HYPERVISOR_iret, 23	/* xen.h __HYPERVISOR_iret */
	.set HYPERCALL_STUB_SIZE, 32

	.macro TRAP_ENTRY vector, has_error_code
	.globl priv_trap_entry_\vector
	.type priv_trap_entry_\vector, @function
priv_trap_entry_\vector:
	pop %rcx
	pop %r11
	.if \has_error_code == 0
	push $0
	.endif
	push %rax
	movq $\vector, priv_trap_vector(%rip)
	jmp priv_trap_common
	.endm

	.text
	TRAP_ENTRY 6, 0			/* #UD */
	TRAP_ENTRY 13, 1		/* #GP */
	TRAP_ENTRY 14, 1		/* #PF */

/* rsp: saved rax, error code, rip, cs, rflags, rsp, ss */
	.type priv_trap_common, @function
priv_trap_common:
	mov 8(%rsp), %rax
	mov %rax, priv_trap_error_code(%rip)
	mov 16(%rsp), %rax
	mov %rax, priv_trap_rip(%rip)
	incq priv_trap_count(%rip)
	mov priv_try_rsp(%rip), %rax
	test %rax, %rax
	jz 1f
	mov %rax, 40(%rsp)		/* resume on priv_try's stack... */
	lea priv_try_landing(%rip), %rax
	jmp 2f
1:	lea priv_unexpected_trap(%rip), %rax	/* never returns */
2:	mov %rax, 16(%rsp)		/* ...at this rip */
	/* CS carries the saved upcall mask in bits 32-39; iret takes the
	 * selector alone. */
	andq $0xffff, 24(%rsp)
	pop %rax
	movq $0, (%rsp)			/* iret_context.flags */
	jmp hypercall_page + HYPERVISOR_iret * HYPERCALL_STUB_SIZE
	.size priv_trap_common, . - priv_trap_common

/*
 * long priv_try(void (*body)(void*), void* arg)
 *
 * Calls body(arg) and returns 0, or 1 if an exception ended it (the
 * handler resumes at priv_try_landing with rsp = priv_try_rsp). Not
 * reentrant.
 */
	.globl priv_try
	.type priv_try, @function
priv_try:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	sub $8, %rsp			/* rsp % 16 == 0 at the call */
	mov %rsp, priv_try_rsp(%rip)
	mov %rdi, %rax
	mov %rsi, %rdi
	call *%rax
	xor %eax, %eax
	jmp 1f
priv_try_landing:
	mov $1, %eax
1:	movq $0, priv_try_rsp(%rip)
	cld				/* the interrupted code may have set DF */
	add $8, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
	.size priv_try, . - priv_try

/* Probes: one instruction each at a global label. */
	.macro PROBE name
	.globl \name
	.type \name, @function
\name:
	.endm

/* void priv_probe_hlt(void) */
PROBE priv_probe_hlt
	.globl priv_probe_hlt_site
priv_probe_hlt_site:
	hlt
	ret

/* uint64_t priv_probe_rdmsr(uint32_t index) */
PROBE priv_probe_rdmsr
	mov %edi, %ecx
	.globl priv_probe_rdmsr_site
priv_probe_rdmsr_site:
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	ret

/* uint8_t priv_probe_inb_0x80(void) */
PROBE priv_probe_inb_0x80
	.globl priv_probe_inb_0x80_site
priv_probe_inb_0x80_site:
	inb $0x80, %al
	ret

/* void priv_probe_xsetbv(void): XCR0 = x87 | SSE */
PROBE priv_probe_xsetbv
	xor %ecx, %ecx
	xor %edx, %edx
	mov $3, %eax
	.globl priv_probe_xsetbv_site
priv_probe_xsetbv_site:
	xsetbv
	ret

	.bss
	.balign 8
	.globl priv_trap_vector, priv_trap_error_code, priv_trap_rip, priv_trap_count
priv_trap_vector:
	.quad 0
priv_trap_error_code:
	.quad 0
priv_trap_rip:
	.quad 0
priv_trap_count:
	.quad 0
priv_try_rsp:
	.quad 0

	.section .note.GNU-stack, "", @progbits
