// The CPUID a PV guest sees: the host's leaves less what a ring-3 kernel
// cannot use or xpv does not virtualize, plus Xen's hypervisor leaves at
// 0x40000000 (xen/arch/x86/cpuid.c and cpufeatureset.h are the reference).
// The same table answers the forced-emulation prefix and is loaded into
// KVM, so that plain `cpuid` in guest user mode agrees with it.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "kvm/kvm_system.hpp"
#include "kvm/vcpu_fd.hpp"

namespace xpv::hv {

struct CpuidResult {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

class CpuidPolicy {
 public:
  // Built once per process from KVM_GET_SUPPORTED_CPUID.
  static const CpuidPolicy& instance(const kvm::KvmSystem& kvm);
  explicit CpuidPolicy(std::vector<kvm_cpuid_entry2> host_entries);

  CpuidResult lookup(uint32_t leaf, uint32_t subleaf) const;
  void apply(kvm::VcpuFd& vcpu) const;  // KVM_SET_CPUID2

 private:
  const kvm_cpuid_entry2* find(uint32_t leaf, uint32_t subleaf) const;
  void filter();
  void add_xen_leaves();

  std::vector<kvm_cpuid_entry2> entries_;
};

}  // namespace xpv::hv
