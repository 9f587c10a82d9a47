// Per-vCPU state of the privileged CPU features xpv emulates for a PV
// guest kernel (control registers, I/O privilege, MSRs it keeps, the PCI
// configuration address latch). Owned by the emulation in
// emulate_priv_op.cpp and physdev_op.cpp; a member of every Vcpu.
#pragma once

#include <cstdint>

namespace xpv::hv {

struct EmulatedCpuState {
  uint64_t cr4 = 0;      // the guest's view of CR4 (pv_fixup_guest_cr4)
  unsigned iopl = 0;     // PHYSDEVOP_set_iopl: the guest kernel's I/O privilege
  uint32_t pci_cf8 = 0;  // last dword written to port 0xcf8
};

}  // namespace xpv::hv
