#include "hv/ro_page_fault.hpp"

#include "base/x86.hpp"
#include "hv/instruction.hpp"
#include "hv/pte_write_emulation.hpp"
#include "hv/traps.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

using namespace x86;

// #PF error code bits (Intel SDM vol. 3, 4.7). The guest kernel runs at
// CPL3, so the CPU reports every one of its faults as a user access.
constexpr uint64_t kPfPresent = 1 << 0;
constexpr uint64_t kPfWrite = 1 << 1;
constexpr uint64_t kPfUser = 1 << 2;

// The CPU sets A/D bits, and other vCPUs emulate stores, between reading
// an entry and swapping in its new value. After this many lost races the
// guest runs the instruction again instead (Xen's X86EMUL_RETRY).
constexpr unsigned kAttempts = 16;

GuestRegisters registers_of(vmm::Vcpu& vcpu) {
  const kvm_regs& r = vcpu.regs();
  const vmm::GuestFrame& f = vcpu.frame();
  return {{r.rax, r.rcx, r.rdx, r.rbx, f.rsp, r.rbp, r.rsi, r.rdi, r.r8, r.r9, r.r10, r.r11, r.r12,
           r.r13, r.r14, r.r15},
          f.rip,
          f.rflags};
}

void set_registers(vmm::Vcpu& vcpu, const GuestRegisters& regs) {
  kvm_regs& r = vcpu.regs();
  vmm::GuestFrame& f = vcpu.frame();
  const auto& g = regs.gpr;
  r.rax = g[0], r.rcx = g[1], r.rdx = g[2], r.rbx = g[3], f.rsp = g[4], r.rbp = g[5];
  r.rsi = g[6], r.rdi = g[7], r.r8 = g[8], r.r9 = g[9], r.r10 = g[10], r.r11 = g[11];
  r.r12 = g[12], r.r13 = g[13], r.r14 = g[14], r.r15 = g[15];
  f.rip = regs.rip;
  f.rflags = regs.rflags;
}

// The L1 frame that `va` lies in, when the guest kernel may read it.
std::optional<uint64_t> l1_frame_at(vmm::Vcpu& vcpu, uint64_t va) {
  auto mfn = vcpu.guest_memory().translate(va, mm::Access::kRead);
  if (!mfn) return std::nullopt;
  mm::PageInfo info = vcpu.domain().page_types().info(*mfn);
  if (info.type != mm::PageType::kL1 || info.type_count == 0) return std::nullopt;
  return mfn;
}

}  // namespace

bool emulate_ro_page_fault(vmm::Vcpu& vcpu, uint64_t error_code, uint64_t cr2) {
  vmm::Domain& d = vcpu.domain();
  if (!vcpu.in_kernel_mode()) return false;
  if ((error_code & ~kPfUser) != (kPfPresent | kPfWrite)) return false;
  if ((d.vm_assist().load() & (1ULL << VMASST_TYPE_writable_pagetables)) == 0) return false;
  auto l1 = l1_frame_at(vcpu, cr2);
  if (!l1) return false;
  auto insn = fetch_instruction(vcpu);
  if (!insn) return false;
  GuestRegisters regs = registers_of(vcpu);
  auto write = decode_pte_write(std::span(insn->bytes.data(), insn->length), regs);
  // Only a store within the page that faulted (ptwr_emulated_update).
  if (!write || ((write->address ^ cr2) >> 12) != 0) return false;

  auto index = static_cast<unsigned>((write->address & 4095) >> 3);
  for (unsigned attempt = 0; attempt < kAttempts; ++attempt) {
    uint64_t old = d.ram().load_entry(*l1, index);
    PteWriteResult result = apply_pte_write(*write, old, regs);
    if (result.stores) {
      // The type is checked again under the page-type lock: the frame may
      // have stopped being an L1 since l1_frame_at.
      uint64_t actual = 0;
      if (d.page_types().cmpxchg_entry(*l1, index, old, result.new_entry, &actual,
                                       mm::PageType::kL1) != 0)
        return false;  // the new entry is refused: the guest gets the #PF
      if (actual != old) continue;
      vcpu.request_tlb_flush();
    }
    set_registers(vcpu, result.regs);
    // The instruction completed, so a single-stepping guest sees its trap.
    if ((result.regs.rflags & rflags::kTf) != 0)
      deliver_exception(vcpu, {vector::kDebug, false, 0, 0});
    return true;
  }
  return true;
}

}  // namespace xpv::hv
