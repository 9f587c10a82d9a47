/*
 * The probes of the privileged-instruction tests: each executes one
 * instruction at a global label, whose address the tests compare with a
 * trap's rip. Trap entry and xpv_try are the runtime's
 * (runtime/traps.S, runtime/try.S).
 */
#include "runtime/asm.h"

	.text

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

	.section .note.GNU-stack, "", @progbits
