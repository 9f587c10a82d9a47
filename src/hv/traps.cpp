#include "hv/traps.hpp"

#include <array>
#include <cstdio>

#include "base/x86.hpp"
#include "monitor/layout.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

using namespace x86;

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

// The saved CS carries the upcall mask in bits 32-39; its RPL is cleared
// when the guest was in kernel mode, which is how a PV kernel's
// user_mode() tells the two apart (both run at CPL3).
uint64_t saved_cs(const vmm::Vcpu& vcpu, uint64_t cs, uint8_t upcall_mask) {
  uint64_t selector = vcpu.in_kernel_mode() ? (cs & 0xfffc) : (cs & 0xffff);
  return selector | (static_cast<uint64_t>(upcall_mask) << 32);
}

// The guest sees its virtual IF (the inverse of the upcall mask), never
// the hardware's, and IOPL 0.
uint64_t saved_rflags(uint64_t rflags, uint8_t upcall_mask) {
  uint64_t visible = rflags & ~(rflags::kIf | rflags::kIopl);
  return upcall_mask != 0 ? visible : (visible | rflags::kIf);
}

}  // namespace

bool bounce_to_guest(vmm::Vcpu& vcpu, uint64_t handler, bool mask_events,
                     const uint64_t* error_code) {
  vmm::GuestFrame& f = vcpu.frame();
  if (!vcpu.in_kernel_mode()) return false;  // user mode arrives with the user/kernel split
  uint8_t mask = vcpu.vcpu_info().evtchn_upcall_mask;
  const kvm_regs& r = vcpu.regs();

  std::array<uint64_t, 8> frame{};
  size_t n = 0;
  frame[n++] = r.rcx;
  frame[n++] = r.r11;
  if (error_code != nullptr) frame[n++] = *error_code;
  frame[n++] = f.rip;
  frame[n++] = saved_cs(vcpu, f.cs, mask);
  frame[n++] = saved_rflags(f.rflags, mask);
  frame[n++] = f.rsp;
  frame[n++] = f.ss;

  uint64_t rsp = (f.rsp & ~15ULL) - n * 8;
  if (monitor::in_hole(rsp) || monitor::in_hole(rsp + n * 8 - 1)) return false;
  if (!vcpu.guest_memory().copy_to(
          rsp, std::span(reinterpret_cast<const uint8_t*>(frame.data()), n * 8)))
    return false;

  f.rip = handler;
  f.cs = FLAT_RING3_CS64;
  f.ss = FLAT_RING3_SS64;
  f.rsp = rsp;
  f.rflags &= ~(rflags::kTf | rflags::kNt | rflags::kRf | rflags::kVm | rflags::kAc);
  if (mask_events) vcpu.vcpu_info().evtchn_upcall_mask = 1;
  return true;
}

void deliver_exception(vmm::Vcpu& vcpu, const Exception& e) {
  const trap_info_t& ti = vcpu.trap_table()[e.vector];
  std::string name = std::string(vector::mnemonic(e.vector));
  if (e.has_error_code) name += "(" + hex(e.error_code) + ")";
  if (e.vector == vector::kPageFault) name += " at " + hex(e.cr2);
  if (ti.address == 0) return vcpu.crash("unhandled " + name + ": the guest has no handler for it");
  if (e.vector == vector::kPageFault) vcpu.vcpu_info().arch.cr2 = e.cr2;
  if (!bounce_to_guest(vcpu, ti.address, TI_GET_IF(&ti) != 0,
                       e.has_error_code ? &e.error_code : nullptr))
    vcpu.crash("cannot deliver " + name + ": bad guest kernel stack " + hex(vcpu.frame().rsp));
}

}  // namespace xpv::hv
