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

/* KVM's shadow MMU learns of a page-table change only from a store the
 * vCPU makes; a store the host process makes is invisible to it. So after
 * xpv wrote guest page-table entries, the way back to the guest runs
 * through here: a locked no-op store to each entry (a read-modify-write,
 * so that it can never undo a concurrent update) makes KVM drop what it
 * cached from that entry. The host stacked %ecx direct-map addresses of
 * entries, then the guest's rdi and rcx, below the iretq frame. */
    .org XPV_STUB_TOUCH_AND_RETURN
touch_and_return:
1:  popq %rdi
    lock orq $0, (%rdi)
    decl %ecx
    jnz 1b
    popq %rdi
    popq %rcx
    iretq

/* A new page-table root (a switch between guest kernel and user mode, a
 * new base pointer, a TLB flush) is loaded here rather than with
 * KVM_SET_SREGS, which resets KVM's whole MMU context: an emulated
 * `mov %cr3` lets KVM reuse the shadow roots it keeps. %rax holds the new
 * CR3; the guest's rax is on top of the stack. */
    .org XPV_STUB_LOAD_ROOT_AND_RETURN
    movq %rax, %cr3
    popq %rax
    iretq

    .org XPV_STUB_LOAD_ROOT_TOUCH_AND_RETURN
    movq %rax, %cr3
    popq %rax
    jmp touch_and_return

/* The same touches while the host is in the middle of an operation that
 * must not go on before every vCPU has lost its cached translations (a
 * frame becoming a page table on a domain with several vCPUs). */
    .org XPV_STUB_TOUCH_AND_EXIT
1:  popq %rdi
    lock orq $0, (%rdi)
    decl %ecx
    jnz 1b
    .org XPV_STUB_TOUCH_AND_EXIT_OUT, 0x90 /* nops, if any; never backwards */
    outb %al, $0

/* A mode switch also exchanges the guest kernel's and user's GS bases,
 * which the host keeps in GS_BASE and KERNEL_GS_BASE: one `swapgs` here
 * instead of a KVM_SET_MSRS, whose vCPU load and put cost more on this
 * host than the whole stub. */
    .org XPV_STUB_SWAPGS_LOAD_ROOT_AND_RETURN
    swapgs
    movq %rax, %cr3
    popq %rax
    iretq

    .org XPV_STUB_SWAPGS_LOAD_ROOT_TOUCH_AND_RETURN
    swapgs
    movq %rax, %cr3
    popq %rax
    jmp touch_and_return

/* A page fault brings its CR2 along: reading it here costs two emulated
 * instructions, reading it from the host a KVM_GET_SREGS, whose vCPU load
 * and put cost several times more on this host. */
    .org XPV_STUB_PAGE_FAULT
    pushq %rax
    movq %cr2, %rax
    .org XPV_STUB_PAGE_FAULT_OUT, 0x90 /* nops, if any; never backwards */
    outb %al, $14

    .org XPV_STUB_SYSCALL64
    outl %eax, $XPV_PORT_SYSCALL64
    .org XPV_STUB_SYSCALL32
    outl %eax, $XPV_PORT_SYSCALL32
    .org XPV_STUB_SYSENTER
    outl %eax, $XPV_PORT_SYSENTER
    .org XPV_TEXT_SIZE
xpv_monitor_text_end:

    .section .note.GNU-stack, "", @progbits
