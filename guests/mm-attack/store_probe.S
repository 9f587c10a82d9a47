/*
 * A store that may fault, and the #PF entry that ends it.
 *
 * mm_attack_store is a leaf function making one store. When the store
 * faults, the #PF entry records the fault and resumes at the probe's
 * return address with the probe's stack popped, as if it had returned;
 * it clobbers only registers a call may clobber anyway.
 *
 * The bounce frame is, low to high, RCX, R11, the error code, RIP, CS,
 * RFLAGS, RSP, SS (Xen's PV exception frame). The entry returns through
 * the iret hypercall, whose stub pushes RAX, R11 and RCX on top of the
 * error-code slot, which becomes iret_context.flags.
 */

	.set HYPERVISOR_iret, 23	/* xen.h __HYPERVISOR_iret */
	.set HYPERCALL_STUB_SIZE, 32

	.text
	.globl mm_attack_store
	.type mm_attack_store, @function
mm_attack_store:
	.globl mm_attack_store_site
mm_attack_store_site:
	mov %rsi, (%rdi)
	ret
	.size mm_attack_store, . - mm_attack_store

	.globl mm_attack_page_fault_entry
	.type mm_attack_page_fault_entry, @function
mm_attack_page_fault_entry:
	add $16, %rsp			/* RCX, R11: the probe's, clobbered */
	mov (%rsp), %rax
	mov %rax, mm_attack_fault_error_code(%rip)
	mov 8(%rsp), %rax
	mov %rax, mm_attack_fault_rip(%rip)
	incl mm_attack_fault_count(%rip)
	mov 32(%rsp), %rdx		/* the interrupted RSP */
	mov (%rdx), %rax		/* the probe's return address */
	mov %rax, 8(%rsp)
	add $8, %rdx
	mov %rdx, 32(%rsp)
	movq $0, (%rsp)			/* iret_context.flags */
	andq $0xffff, 16(%rsp)		/* CS without the saved upcall mask */
	jmp hypercall_page + HYPERVISOR_iret * HYPERCALL_STUB_SIZE
	.size mm_attack_page_fault_entry, . - mm_attack_page_fault_entry

	.bss
	.balign 8
	.globl mm_attack_fault_error_code, mm_attack_fault_rip, mm_attack_fault_count
mm_attack_fault_error_code:
	.quad 0
mm_attack_fault_rip:
	.quad 0
mm_attack_fault_count:
	.long 0
	.section .note.GNU-stack, "", @progbits
