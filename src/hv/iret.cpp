// iret: a PV guest returns from every exception, event and system call
// with this hypercall, from a frame on its stack (xen-x86_64.h struct
// iret_context; Xen's do_iret in xen/arch/x86/pv/iret.c is the reference).
#include <optional>

#include "base/x86.hpp"
#include "hv/descriptor_tables.hpp"
#include "hv/handlers.hpp"
#include "hv/iret.hpp"
#include "hv/traps.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

using namespace x86;

constexpr uint64_t kPresent = 1ULL << 47, kDpl3 = 3ULL << 45, kCodeOrData = 1ULL << 44,
                   kCode = 1ULL << 43, kWritable = 1ULL << 41;

}  // namespace

// What iretq accepts at CPL3: a present DPL-3 code segment for CS, a
// present DPL-3 writable data segment for SS.
bool valid_code_selector(vmm::Vcpu& vcpu, uint64_t cs) {
  constexpr uint64_t kMask = kPresent | kDpl3 | kCodeOrData | kCode;
  auto d = guest_descriptor(vcpu, cs);
  return d && (*d & kMask) == kMask;
}

bool valid_stack_selector(vmm::Vcpu& vcpu, uint64_t ss) {
  constexpr uint64_t kMask = kPresent | kDpl3 | kCodeOrData | kCode | kWritable;
  auto d = guest_descriptor(vcpu, ss);
  return d && (*d & kMask) == (kPresent | kDpl3 | kCodeOrData | kWritable);
}

long do_iret(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto saved = vcpu.guest_memory().read<iret_context>(vcpu.frame().rsp);
  if (!saved) {
    vcpu.crash("iret: the frame at " + std::to_string(vcpu.frame().rsp) + " is unreadable");
    return 0;
  }
  bool to_user = (saved->cs & 3) == 3;  // kernel frames carry RPL 0 (0xe030)
  if (to_user && vcpu.user_root_mfn() == 0) {
    vcpu.crash("iret: switching to user mode with no user page tables");
    return 0;
  }
  // Selectors are 16 bits: a bounce frame's CS carries the saved upcall
  // mask above them, and Linux returns that frame as it got it.
  uint64_t cs = (saved->cs & 0xffff) | 3, ss = (saved->ss & 0xffff) | 3;
  bool cs_ok = valid_code_selector(vcpu, cs), ss_ok = valid_stack_selector(vcpu, ss);
  if (!is_canonical(saved->rip) || !is_canonical(saved->rsp) || !cs_ok || !ss_ok) {
    // The return itself faults, as Xen's iretq would: #GP from the call site.
    uint64_t selector = !cs_ok ? (cs & 0xfffc) : !ss_ok ? (ss & 0xfffc) : 0;
    deliver_exception(vcpu, {vector::kGeneralProtection, true, selector, 0});
    return static_cast<long>(vcpu.regs().rax);
  }
  if (to_user) vcpu.switch_to_user_mode();
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
