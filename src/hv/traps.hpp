// Delivering exceptions to a PV guest kernel: Xen's bounce frame
// (create_bounce_frame in xen/arch/x86/x86_64/entry.S, pv_inject_event in
// xen/arch/x86/pv/traps.c), through the handler the guest registered with
// set_trap_table.
#pragma once

#include <cstdint>
#include <span>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

struct Exception {
  unsigned vector;
  bool has_error_code;
  uint64_t error_code;
  uint64_t cr2;  // #PF only: goes to vcpu_info.arch.cr2
};

// Bounces `e` to the guest's handler, or crashes the domain when the guest
// cannot take it (no handler, or a frame that cannot be written).
void deliver_exception(vmm::Vcpu& vcpu, const Exception& e);

// A system call from guest user mode enters the kernel's syscall callback
// (lstar_enter/switch_to_kernel in Xen's entry.S): #UD without one.
void deliver_syscall(vmm::Vcpu& vcpu);

// `int $N` that faulted with #GP because the monitor's gate is DPL 0:
// delivered through the guest's trap table if its DPL permits it from the
// guest's current mode (Xen's permit_softint). True if delivered.
bool deliver_software_interrupt(vmm::Vcpu& vcpu, uint64_t gp_error_code);
bool deliver_int_from_invalid_opcode(vmm::Vcpu& vcpu);

// Builds a bounce frame on the guest kernel stack and enters `handler`:
// shared by exceptions, event upcalls and system calls. Returns false when
// the frame cannot be written (the caller crashes the domain).
bool bounce_to_guest(vmm::Vcpu& vcpu, uint64_t handler, bool mask_events,
                     const uint64_t* error_code);
// The same with `extra` words between R11 and RIP: the error code, or the
// failsafe callback's DS, ES, FS, GS (Xen's create_bounce_frame).
bool bounce_to_guest(vmm::Vcpu& vcpu, uint64_t handler, bool mask_events,
                     std::span<const uint64_t> extra);

}  // namespace xpv::hv
