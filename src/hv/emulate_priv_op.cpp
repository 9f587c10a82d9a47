#include "hv/emulate_priv_op.hpp"

#include <optional>

#include "base/x86.hpp"
#include "hv/instruction.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

using namespace x86;

// The segment-base MSRs: a PV kernel's writes become set_segment_base.
bool write_msr(vmm::Vcpu& vcpu, uint32_t index, uint64_t value) {
  switch (index) {
    case msr::kFsBase:
      if (!is_canonical(value)) return false;
      vcpu.set_fs_base(value);
      return true;
    case msr::kGsBase:
      if (!is_canonical(value)) return false;
      vcpu.set_kernel_gs_base(value);
      return true;
    default:
      return false;
  }
}

std::optional<uint64_t> read_msr(vmm::Vcpu& vcpu, uint32_t index) {
  switch (index) {
    case msr::kFsBase:
      return vcpu.fs_base();
    case msr::kGsBase:
      return vcpu.kernel_gs_base();
    case msr::kKernelGsBase:
      return vcpu.user_gs_base();
    default:
      return std::nullopt;
  }
}

}  // namespace

bool emulate_privileged_op(vmm::Vcpu& vcpu) {
  if (!vcpu.in_kernel_mode()) return false;
  auto insn = fetch_instruction(vcpu);
  if (!insn) return false;
  kvm_regs& r = vcpu.regs();
  auto index = static_cast<uint32_t>(r.rcx);
  switch (insn->mnemonic) {
    case ZYDIS_MNEMONIC_WRMSR:
      if (!write_msr(vcpu, index, (r.rdx << 32) | (r.rax & 0xffffffff))) return false;
      break;
    case ZYDIS_MNEMONIC_RDMSR: {
      auto value = read_msr(vcpu, index);
      if (!value) return false;
      r.rax = *value & 0xffffffff;
      r.rdx = *value >> 32;
      break;
    }
    default:
      return false;
  }
  vcpu.frame().rip += insn->length;
  return true;
}

}  // namespace xpv::hv
