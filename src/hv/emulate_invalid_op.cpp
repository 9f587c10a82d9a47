#include "hv/emulate_invalid_op.hpp"

#include <array>
#include <cstring>

#include "hv/cpuid_policy.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

// XEN_EMULATE_PREFIX (xen/arch-x86/xen.h: ud2a; .ascii "xen") then cpuid.
constexpr std::array<uint8_t, 7> kForcedCpuid = {0x0f, 0x0b, 'x', 'e', 'n', 0x0f, 0xa2};

}  // namespace

bool emulate_forced_invalid_op(vmm::Vcpu& vcpu) {
  std::array<uint8_t, kForcedCpuid.size()> bytes{};
  if (!vcpu.guest_memory().copy_from(vcpu.frame().rip, bytes) || bytes != kForcedCpuid)
    return false;
  kvm_regs& r = vcpu.regs();
  CpuidResult result = CpuidPolicy::instance(vcpu.domain().kvm())
                           .lookup(static_cast<uint32_t>(r.rax), static_cast<uint32_t>(r.rcx));
  r.rax = result.eax;
  r.rbx = result.ebx;
  r.rcx = result.ecx;
  r.rdx = result.edx;
  vcpu.frame().rip += kForcedCpuid.size();
  return true;
}

}  // namespace xpv::hv
