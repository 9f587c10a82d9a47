/* The monitor's fixed layout, shared by entry.S and the C++ that builds the
 * monitor. C-preprocessor only, so the assembler can include it. */
#ifndef XPV_MONITOR_ABI_H
#define XPV_MONITOR_ABI_H

/* Offsets of the entry stubs inside the monitor's text page. Each stub is
 * one instruction: an `out` that hands the vCPU to the host process (a
 * ring-0 instruction costs ~1 us here, docs/monitor.md). */
#define XPV_STUB_VECTOR_STRIDE 2       /* vector v: `out %al, $v` at 2*v */
#define XPV_STUB_RETURN_TO_GUEST 0x200 /* `iretq` from a frame the host wrote */
#define XPV_STUB_OUT_LENGTH 2
/* The other ways back, for when the host changed page tables or the
 * page-table root (entry.S says what each pops off the monitor stack). */
#define XPV_STUB_TOUCH_AND_RETURN 0x210
#define XPV_STUB_LOAD_ROOT_AND_RETURN 0x230
#define XPV_STUB_LOAD_ROOT_TOUCH_AND_RETURN 0x240
/* The same two with `swapgs` first: a switch between guest kernel and
 * user mode exchanges their GS bases. */
#define XPV_STUB_SWAPGS_LOAD_ROOT_AND_RETURN 0x270
#define XPV_STUB_SWAPGS_LOAD_ROOT_TOUCH_AND_RETURN 0x280
/* #PF enters here rather than at its vector stub: CR2 travels in rax,
 * the guest's rax on the stack below the exception frame. */
#define XPV_STUB_PAGE_FAULT 0x290
#define XPV_STUB_PAGE_FAULT_OUT 0x294 /* after push %rax; mov %cr2, %rax */
/* Touching entries at once, in the middle of a hypercall: back to the
 * host, not to the guest. */
#define XPV_STUB_TOUCH_AND_EXIT 0x250
#define XPV_STUB_TOUCH_AND_EXIT_OUT 0x25a /* its `out`, right after the loop */

/* The syscall trampolines have a page of their own, mapped user-readable
 * and executable: on KVM hosts whose ring 0 is emulated (PVM), `syscall`
 * jumps to LSTAR without leaving CPL3, so the trampoline's `out` raises
 * #GP, which does enter the monitor. On VMX/SVM hosts the same `out` runs
 * at CPL0 and exits at once. The host recognises both. */
#define XPV_TRAMPOLINE_PAGE 0x1000
#define XPV_STUB_SYSCALL64 0x1000 /* LSTAR:  `out %eax, $0` */
#define XPV_STUB_SYSCALL32 0x1010 /* CSTAR:  `out %eax, $1` */
#define XPV_STUB_SYSENTER 0x1020  /* SYSENTER_EIP: `out %eax, $2` */
#define XPV_TEXT_SIZE 0x2000

#define XPV_PORT_SYSCALL64 0
#define XPV_PORT_SYSCALL32 1
#define XPV_PORT_SYSENTER 2

#endif
