// set_debugreg and get_debugreg: the guest's hardware breakpoints, checked
// as Xen's set_debugreg does (xen/arch/x86/pv/misc-hypercalls.c) and
// loaded into the vCPU with KVM_SET_DEBUGREGS.
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>

#include "base/error.hpp"
#include "base/x86.hpp"
#include "hv/handlers.hpp"
#include "monitor/layout.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

constexpr uint64_t kDr6ReservedOnes = 0xffff0ff0ULL;
constexpr uint64_t kDr7ReservedOnes = 0x400ULL;
constexpr uint64_t kDr7GeneralDetect = 1ULL << 13;
constexpr uint64_t kDr7ReservedZeroes = 0xffffffff0000d800ULL;  // bits 11-12, 14-15, 32-63

// DR6 and DR7 are 32-bit registers in Xen's set_debugreg: it refuses a
// value with any of bits 32-63 set with -EINVAL, for both. KVM refuses
// them too (KVM_SET_DEBUGREGS fails with EINVAL), so accepting one would
// turn a guest's bad argument into an error of xpv itself.
bool fits_32_bits(uint64_t value) {
  return value == static_cast<uint32_t>(value);
}

// A breakpoint address must be one the guest could access: canonical and
// outside the hypervisor hole.
bool valid_breakpoint_address(uint64_t va) {
  return x86::is_canonical(va) && !monitor::in_hole(va);
}

void load(vmm::Vcpu& vcpu) {
  kvm_debugregs regs{};
  auto& dr = vcpu.debug_registers();
  for (unsigned i = 0; i < 4; ++i)
    regs.db[i] = dr[i];
  regs.dr6 = dr[6];
  regs.dr7 = dr[7];
  if (::ioctl(vcpu.kvm_vcpu().fd(), KVM_SET_DEBUGREGS, &regs) != 0)
    throw SystemError("KVM_SET_DEBUGREGS", errno);
}

}  // namespace

long do_set_debugreg(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto reg = static_cast<unsigned>(args.arg[0]);
  uint64_t value = args.arg[1];
  auto& dr = vcpu.debug_registers();
  switch (reg) {
    case 0:
    case 1:
    case 2:
    case 3:
      if (!valid_breakpoint_address(value)) return xen::error(XEN_EPERM);
      dr[reg] = value;
      break;
    case 6:
      if (!fits_32_bits(value)) return xen::error(XEN_EINVAL);
      dr[6] = value | kDr6ReservedOnes;
      break;
    case 7:
      if (!fits_32_bits(value)) return xen::error(XEN_EINVAL);
      if ((value & kDr7ReservedZeroes) != 0) return xen::error(XEN_EINVAL);
      if ((value & kDr7GeneralDetect) != 0) return xen::error(XEN_EPERM);
      dr[7] = value | kDr7ReservedOnes;
      break;
    default:
      return xen::error(XEN_EINVAL);
  }
  load(vcpu);
  return 0;
}

long do_get_debugreg(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto reg = static_cast<unsigned>(args.arg[0]);
  if (reg > 7 || reg == 4 || reg == 5) return xen::error(XEN_EINVAL);
  return static_cast<long>(vcpu.debug_registers()[reg]);
}

}  // namespace xpv::hv
