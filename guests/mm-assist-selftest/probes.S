/*
 * The probes of the writable-pagetable assist test.
 *
 * Each probe is a leaf function that makes one store, with exactly the
 * instruction a PV kernel uses on its page tables (linux-pv-guest.md 6.3).
 * A store the hypervisor emulates returns normally. A store that faults
 * to this guest ends the probe: the #PF handler resumes at the probe's
 * return address, as if it had returned, so probes must push nothing
 * before their store. The #PF entry is the runtime's (runtime/traps.S).
 */

#include "runtime/asm.h"

	.text

	/* The store itself: where a #PF from the probe points. */
	.macro SITE name
	.globl \name\()_site
\name\()_site:
	.endm

	.globl mm_probes_start
mm_probes_start:

/* void mm_store64(uint64_t* p, uint64_t v): native_set_pte */
PROBE mm_store64
	SITE mm_store64
	mov %rsi, (%rdi)
	ret

/* void mm_store64_zero(uint64_t* p): mov $0, as ptep_get_and_clear_full */
PROBE mm_store64_zero
	SITE mm_store64_zero
	movq $0, (%rdi)
	ret

/* void mm_store64_minus_one(uint64_t* p): a sign-extended imm32 */
PROBE mm_store64_minus_one
	SITE mm_store64_minus_one
	movq $-1, (%rdi)
	ret

/* void mm_store32(uint32_t* p, uint32_t v) */
PROBE mm_store32
	SITE mm_store32
	mov %esi, (%rdi)
	ret

/* void mm_store16(uint16_t* p, uint16_t v) */
PROBE mm_store16
	SITE mm_store16
	mov %si, (%rdi)
	ret

/* uint64_t mm_load64(const uint64_t* p) */
PROBE mm_load64
	SITE mm_load64
	mov (%rdi), %rax
	ret

/* uint64_t mm_xchg64(uint64_t* p, uint64_t v): native_ptep_get_and_clear */
PROBE mm_xchg64
	mov %rsi, %rax
	SITE mm_xchg64
	xchg %rax, (%rdi)
	ret

/* uint64_t mm_cmpxchg64(uint64_t* p, uint64_t expected, uint64_t desired,
 *                       uint8_t* swapped): returns rax after the cmpxchg */
PROBE mm_cmpxchg64
	mov %rsi, %rax
	SITE mm_cmpxchg64
	lock cmpxchg %rdx, (%rdi)
	sete (%rcx)
	ret

/* void mm_clear_rw(uint64_t* p): ptep_set_wrprotect */
PROBE mm_clear_rw
	SITE mm_clear_rw
	lock andb $0xfd, (%rdi)
	ret

/* void mm_set_rw(uint64_t* p) */
PROBE mm_set_rw
	SITE mm_set_rw
	lock orq $2, (%rdi)
	ret

/* bool mm_test_and_clear_accessed(uint64_t* p): ptep_test_and_clear_young */
PROBE mm_test_and_clear_accessed
	mov $0, %eax
	SITE mm_test_and_clear_accessed
	lock btrq $5, (%rdi)
	setc %al
	ret

/* bool mm_test_and_set_rw(uint64_t* p) */
PROBE mm_test_and_set_rw
	mov $0, %eax
	SITE mm_test_and_set_rw
	lock btsq $1, (%rdi)
	setc %al
	ret

	.globl mm_probes_end
mm_probes_end:

	.section .note.GNU-stack, "", @progbits	/* no executable stack */
