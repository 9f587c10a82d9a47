// Per-vCPU state of the privileged CPU features xpv emulates for a PV
// guest kernel (control registers, I/O privilege, MSRs it keeps, the PCI
// configuration address latch). Owned by the emulation in
// emulate_priv_op.cpp and physdev_op.cpp; a member of every Vcpu.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "hv/port_io.hpp"

namespace xpv::hv {

struct EmulatedCpuState {
  // The guest's view of CR4 (pv_fixup_guest_cr4), made on first use: it
  // depends on the hardware CR4 the monitor set up.
  std::optional<uint64_t> cr4;
  unsigned iopl = 0;  // PHYSDEVOP_set_iopl: the guest kernel's I/O privilege
  // PHYSDEVOP_set_iobitmap: guest address of the bitmap and the ports it
  // covers (0: none).
  uint64_t io_bitmap = 0;
  uint32_t io_bitmap_ports = 0;
  PortIoState ports;  // PCI address latch, CMOS index, PIT channel 2
  // PHYSDEVOP_pirq_eoi_gmfn: the frame registered as the PIRQ EOI map, 0
  // for none. Xen keeps one per domain; xpv uses vCPU 0's.
  std::atomic<uint64_t> pirq_eoi_mfn{0};
};

}  // namespace xpv::hv
