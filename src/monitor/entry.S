/* The monitor's ring-0 code: every way into ring 0 is one instruction that
 * exits to the host process, and one `iretq` goes back to the guest. The
 * host reads and writes registers through KVM's sync_regs and builds the
 * iretq frame on the monitor stack, so ring 0 itself never branches,
 * touches memory or saves state. docs/monitor.md has the measurements. */
#include "monitor/monitor_abi.h"

    .section .rodata.xpv_monitor_text, "a"
    .globl xpv_monitor_text
    .globl xpv_monitor_text_end
xpv_monitor_text:

/* IDT vector v lands on `out %al, $v`: the port names the vector, and the
 * CPU has pushed the exception frame onto the monitor stack. */
    .set vector, 0
    .rept 256
    outb %al, $vector
    .set vector, vector + 1
    .endr

/* sysretq is not used: KVM's emulation of it in ring 0 faults here. */
    .org XPV_STUB_RETURN_TO_GUEST
    iretq

    .org XPV_STUB_SYSCALL64
    outl %eax, $XPV_PORT_SYSCALL64
    .org XPV_STUB_SYSCALL32
    outl %eax, $XPV_PORT_SYSCALL32
    .org XPV_STUB_SYSENTER
    outl %eax, $XPV_PORT_SYSENTER
    .org XPV_TEXT_SIZE
xpv_monitor_text_end:

    .section .note.GNU-stack, "", @progbits
