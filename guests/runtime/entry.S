/*
 * Guest entry point and the pages the hypervisor and the runtime share.
 *
 * vCPU0 starts at _start (the ENTRY note) at CPL3. rsi holds the virtual
 * address of start_info, rsp is the top of a boot stack the hypervisor
 * allocated, and the other GPRs are 0 (linux-pv-guest.md 2.4).
 */

/* Filled by the hypervisor with 32-byte hypercall stubs (HYPERCALL_PAGE note,
 * hypercall.hpp). It lives in .text so that the initial mapping makes it
 * executable. guest.ld puts it first, at VIRT_BASE + 1 MiB. */
	.section .text.hypercall_page, "ax", @progbits
	.balign 4096
	.globl hypercall_page
	.type hypercall_page, @object
hypercall_page:
	.fill 4096, 1, 0xcc		/* int3 until the hypervisor writes the stubs */
	.size hypercall_page, . - hypercall_page

	.section .text.entry, "ax", @progbits
	.globl _start
	.type _start, @function
_start:
	cld				/* the SysV ABI requires DF=0 at every call */
	/* Move to a stack of known size in our own image, as Linux's
	 * startup_xen does. The boot stack is a single page placed where the
	 * domain builder chose. */
	lea boot_stack_top(%rip), %rsp
	xor %ebp, %ebp			/* terminate frame-pointer chains */
	mov %rsi, %rdi			/* start_info becomes the first C argument */
	call xpv_guest_start
	ud2				/* xpv_guest_start never returns */
	.size _start, . - _start

	/* The loader zeroes .bss, so nothing here does. */
	.section .bss.boot_stack, "aw", @nobits
	.balign 16			/* the SysV ABI wants rsp % 16 == 0 at a call */
boot_stack:
	.skip 16384
boot_stack_top:

	.section .note.GNU-stack, "", @progbits	/* no executable stack */
