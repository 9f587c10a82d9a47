// iret: a PV guest returns from every exception, event and system call
// with this hypercall, from a frame on its stack (xen-x86_64.h struct
// iret_context; Xen's do_iret in xen/arch/x86/pv/iret.c is the reference).
#include <optional>

#include "base/x86.hpp"
#include "hv/handlers.hpp"
#include "hv/traps.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

using namespace x86;

// The selectors a return may load: Xen's flat ring-3 ones (a guest GDT
// arrives with set_gdt). The CPU would refuse anything else in iretq.
bool valid_code_selector(uint64_t cs) {
  return cs == FLAT_RING3_CS64 || cs == FLAT_RING3_CS32;
}
bool valid_stack_selector(uint64_t ss) {
  return ss == FLAT_RING3_SS64;
}

}  // namespace

long do_iret(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto saved = vcpu.guest_memory().read<iret_context>(vcpu.frame().rsp);
  if (!saved) {
    vcpu.crash("iret: the frame at " + std::to_string(vcpu.frame().rsp) + " is unreadable");
    return 0;
  }
  if ((saved->cs & 3) == 3) {  // back to guest user mode
    if (vcpu.user_root_mfn() == 0) {
      vcpu.crash("iret: switching to user mode with no user page tables");
      return 0;
    }
  }
  // Selectors are 16 bits: a bounce frame's CS carries the saved upcall
  // mask above them, and Linux returns that frame as it got it.
  uint64_t cs = (saved->cs & 0xffff) | 3, ss = (saved->ss & 0xffff) | 3;
  if (!is_canonical(saved->rip) || !is_canonical(saved->rsp) || !valid_code_selector(cs) ||
      !valid_stack_selector(ss)) {
    // The return itself faults, as Xen's iretq would: #GP from the call site.
    uint64_t selector = !valid_code_selector(cs)    ? (cs & 0xfffc)
                        : !valid_stack_selector(ss) ? (ss & 0xfffc)
                                                    : 0;
    deliver_exception(vcpu, {vector::kGeneralProtection, true, selector, 0});
    return static_cast<long>(vcpu.regs().rax);
  }
  kvm_regs& r = vcpu.regs();
  if ((saved->flags & VGCF_in_syscall) == 0) {
    r.rcx = saved->rcx;
    r.r11 = saved->r11;
  }
  vmm::GuestFrame& f = vcpu.frame();
  f.rip = saved->rip;
  f.cs = cs;
  f.rflags = (saved->rflags & ~(rflags::kIopl | rflags::kVm)) | rflags::kIf;
  f.rsp = saved->rsp;
  f.ss = ss;
  vcpu.vcpu_info().evtchn_upcall_mask = (saved->rflags & rflags::kIf) == 0 ? 1 : 0;
  (void)args;
  return static_cast<long>(saved->rax);
}

}  // namespace xpv::hv
