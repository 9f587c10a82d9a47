// Delivering exceptions to a PV guest kernel: Xen's bounce frame
// (create_bounce_frame in xen/arch/x86/x86_64/entry.S, pv_inject_event in
// xen/arch/x86/pv/traps.c), through the handler the guest registered with
// set_trap_table.
#pragma once

#include <cstdint>

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

// Builds a bounce frame on the guest kernel stack and enters `handler`:
// shared by exceptions, event upcalls and system calls. Returns false when
// the frame cannot be written (the caller crashes the domain).
bool bounce_to_guest(vmm::Vcpu& vcpu, uint64_t handler, bool mask_events,
                     const uint64_t* error_code);

}  // namespace xpv::hv
