#include "hv/traps.hpp"

#include <array>
#include <cstdio>

#include "base/hex.hpp"
#include "base/x86.hpp"
#include "monitor/layout.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

using namespace x86;

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
  return bounce_to_guest(
      vcpu, handler, mask_events,
      error_code != nullptr ? std::span(error_code, 1) : std::span<const uint64_t>());
}

bool bounce_to_guest(vmm::Vcpu& vcpu, uint64_t handler, bool mask_events,
                     std::span<const uint64_t> extra) {
  vmm::GuestFrame& f = vcpu.frame();
  uint8_t mask = vcpu.vcpu_info().evtchn_upcall_mask;
  const kvm_regs& r = vcpu.regs();
  // From user mode the frame goes on the kernel stack set by stack_switch,
  // after switching to the kernel's page tables and GS base.
  bool from_user = !vcpu.in_kernel_mode();
  uint64_t saved_cs_value = saved_cs(vcpu, f.cs, mask);
  uint64_t stack = from_user ? vcpu.kernel_sp : f.rsp;
  if (from_user) vcpu.switch_to_kernel_mode();

  constexpr size_t kMaxExtra = 4;
  if (extra.size() > kMaxExtra) return false;
  std::array<uint64_t, 7 + kMaxExtra> frame{};
  size_t n = 0;
  frame[n++] = r.rcx;
  frame[n++] = r.r11;
  for (uint64_t word : extra)
    frame[n++] = word;
  frame[n++] = f.rip;
  frame[n++] = saved_cs_value;
  frame[n++] = saved_rflags(f.rflags, mask);
  frame[n++] = f.rsp;
  frame[n++] = f.ss;

  uint64_t rsp = (stack & ~15ULL) - n * 8;
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

void deliver_syscall(vmm::Vcpu& vcpu) {
  const vmm::Callback& cb = vcpu.callbacks()[CALLBACKTYPE_syscall];
  if (cb.address == 0) return deliver_exception(vcpu, {vector::kInvalidOpcode, false, 0, 0});
  // Placeholders for the selectors, as Xen's lstar_enter pushes them; the
  // guest kernel writes its own user selectors over them.
  vcpu.frame().cs = FLAT_RING3_CS64;
  vcpu.frame().ss = FLAT_RING3_SS64;
  vcpu.frame().rflags &= ~rflags::kDf;
  if (!bounce_to_guest(vcpu, cb.address, cb.mask_events, nullptr))
    vcpu.crash("cannot deliver a system call: bad guest kernel stack " + to_hex(vcpu.kernel_sp));
}

namespace {

constexpr uint64_t kIntImm8Length = 2;

// Delivers `int $vec` at the guest's rip through its trap table if the
// entry's DPL lets the current mode raise it (Xen's permit_softint: DPL
// >= 1 from kernel mode, 3 from user mode); true if it did.
bool raise_software_interrupt(vmm::Vcpu& vcpu, unsigned vec) {
  const trap_info_t& ti = vcpu.trap_table()[vec];
  unsigned needed = vcpu.in_kernel_mode() ? 1 : 3;
  if (ti.address == 0 || TI_GET_DPL(&ti) < needed) return false;
  vcpu.frame().rip += kIntImm8Length;  // the handler returns after the `int`
  if (!bounce_to_guest(vcpu, ti.address, TI_GET_IF(&ti) != 0, nullptr))
    vcpu.crash("cannot deliver int $" + std::to_string(vec) + ": bad guest kernel stack");
  return true;
}

}  // namespace

bool deliver_software_interrupt(vmm::Vcpu& vcpu, uint64_t gp_error_code) {
  constexpr uint64_t kIdtReference = 2;  // error code bits 1:0 = 10b: an IDT entry
  if ((gp_error_code & 3) != kIdtReference) return false;
  return raise_software_interrupt(vcpu, static_cast<unsigned>(gp_error_code >> 3) & 0xff);
}

// On KVM-PVM hosts `int $N` through a DPL-0 gate arrives as #UD at the
// instruction instead of #GP((N << 3) | 2): decode it and behave as the
// #GP path does, refusing with that #GP when the DPL does not permit it.
bool deliver_int_from_invalid_opcode(vmm::Vcpu& vcpu) {
  std::array<uint8_t, kIntImm8Length> insn{};
  if (!vcpu.guest_memory().copy_from(vcpu.frame().rip, insn) || insn[0] != 0xcd) return false;
  if (raise_software_interrupt(vcpu, insn[1])) return true;
  deliver_exception(vcpu, {vector::kGeneralProtection, true, (uint64_t{insn[1]} << 3) | 2, 0});
  return true;
}

void deliver_exception(vmm::Vcpu& vcpu, const Exception& e) {
  const trap_info_t& ti = vcpu.trap_table()[e.vector];
  std::string name = std::string(vector::mnemonic(e.vector));
  if (e.has_error_code) name += "(" + to_hex(e.error_code) + ")";
  if (e.vector == vector::kPageFault) name += " at " + to_hex(e.cr2);
  if (ti.address == 0) return vcpu.crash("unhandled " + name + ": the guest has no handler for it");
  if (e.vector == vector::kPageFault) vcpu.vcpu_info().arch.cr2 = e.cr2;
  if (!bounce_to_guest(vcpu, ti.address, TI_GET_IF(&ti) != 0,
                       e.has_error_code ? &e.error_code : nullptr))
    vcpu.crash("cannot deliver " + name + ": bad guest kernel stack " + to_hex(vcpu.frame().rsp));
}

}  // namespace xpv::hv
