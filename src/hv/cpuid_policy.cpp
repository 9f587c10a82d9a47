#include "hv/cpuid_policy.hpp"

#include <cerrno>

#include "base/error.hpp"
#include "hv/hypervisor_identity.hpp"
#include "kvm/flex_ioctls.h"
#include "xen/abi.hpp"
// clang-format off
#include <xen/arch-x86/cpuid.h>
// clang-format on

namespace xpv::hv {

namespace {

constexpr uint32_t bit(unsigned n) {
  return 1U << n;
}

// Leaf 1 ECX/EDX features a PV guest may see (everything else is hidden):
// no VMX, MONITOR, PCID, x2APIC, TSC deadline, XSAVE/AVX (a PV kernel
// uses FXSAVE here), no VME/PSE/PGE/MTRR/ACPI/TM.
constexpr uint32_t kLeaf1EcxAllowed = bit(0) /*SSE3*/ | bit(1) /*PCLMUL*/ | bit(9) /*SSSE3*/ |
                                      bit(13) /*CX16*/ | bit(19) /*SSE4.1*/ | bit(20) /*SSE4.2*/ |
                                      bit(22) /*MOVBE*/ | bit(23) /*POPCNT*/ | bit(25) /*AES*/ |
                                      bit(30) /*RDRAND*/;
constexpr uint32_t kLeaf1EdxAllowed =
    bit(0) /*FPU*/ | bit(4) /*TSC*/ | bit(5) /*MSR*/ | bit(6) /*PAE*/ | bit(8) /*CX8*/ |
    bit(11) /*SEP*/ | bit(15) /*CMOV*/ | bit(16) /*PAT*/ | bit(19) /*CLFSH*/ | bit(23) /*MMX*/ |
    bit(24) /*FXSR*/ | bit(25) /*SSE*/ | bit(26) /*SSE2*/ | bit(28) /*HTT*/;
constexpr uint32_t kLeaf1EcxHypervisor = bit(31);
// Leaf 7 subleaf 0 EBX: unprivileged instruction-set extensions only; not
// FSGSBASE (would bypass set_segment_base), SMEP/SMAP, INVPCID, AVX2.
constexpr uint32_t kLeaf7EbxAllowed = bit(3) /*BMI1*/ | bit(8) /*BMI2*/ | bit(9) /*ERMS*/ |
                                      bit(18) /*RDSEED*/ | bit(19) /*ADX*/ |
                                      bit(23) /*CLFLUSHOPT*/ | bit(24) /*CLWB*/ | bit(29) /*SHA*/;
// Extended leaf 0x80000001: no RDTSCP (needs TSC_AUX), no 1 GiB pages, no SVM.
constexpr uint32_t kExtEcxAllowed = bit(0) /*LAHF*/ | bit(5) /*ABM*/ | bit(8) /*PREFETCHW*/;
constexpr uint32_t kExtEdxAllowed = bit(11) /*SYSCALL*/ | bit(20) /*NX*/ | bit(29) /*LM*/;

// Leaves that describe hidden features or host power management: zeroed.
bool leaf_hidden(uint32_t leaf) {
  return leaf == 0x5 /*MONITOR*/ || leaf == 0x6 /*thermal*/ || leaf == 0xa /*perfmon*/ ||
         leaf == 0xd /*XSAVE*/ || leaf == 0x12 /*SGX*/ || leaf == 0x14 /*PT*/;
}

std::vector<kvm_cpuid_entry2> supported_cpuid(const kvm::KvmSystem& kvm) {
  for (uint32_t room = 128; room <= 4096; room *= 2) {
    std::vector<kvm_cpuid_entry2> entries(room);
    uint32_t n = room;
    if (xpv_kvm_get_supported_cpuid(kvm.fd(), entries.data(), &n) == 0) {
      entries.resize(n);
      return entries;
    }
    if (errno != E2BIG) throw SystemError("KVM_GET_SUPPORTED_CPUID", errno);
  }
  throw Error("KVM_GET_SUPPORTED_CPUID: too many entries");
}

}  // namespace

const CpuidPolicy& CpuidPolicy::instance(const kvm::KvmSystem& kvm) {
  static const CpuidPolicy policy(supported_cpuid(kvm));
  return policy;
}

CpuidPolicy::CpuidPolicy(std::vector<kvm_cpuid_entry2> host_entries)
    : entries_(std::move(host_entries)) {
  filter();
  add_xen_leaves();
}

void CpuidPolicy::filter() {
  std::erase_if(entries_, [](const kvm_cpuid_entry2& e) {
    return e.function >= XEN_CPUID_FIRST_LEAF && e.function < 0x80000000;  // KVM's own leaves
  });
  for (auto& e : entries_) {
    if (leaf_hidden(e.function)) e.eax = e.ebx = e.ecx = e.edx = 0;
    switch (e.function) {
      case 0x1:
        e.ecx = (e.ecx & kLeaf1EcxAllowed) | kLeaf1EcxHypervisor;
        e.edx &= kLeaf1EdxAllowed;
        break;
      case 0x7:
        if (e.index == 0) e.eax = 0;  // report no further subleaves
        e.ebx = e.index == 0 ? (e.ebx & kLeaf7EbxAllowed) : 0;
        e.ecx = e.edx = 0;
        break;
      case 0x80000001:
        e.ecx &= kExtEcxAllowed;
        e.edx &= kExtEdxAllowed;
        break;
      default:
        break;
    }
  }
}

void CpuidPolicy::add_xen_leaves() {
  auto add = [this](uint32_t leaf, CpuidResult r) {
    kvm_cpuid_entry2 e{};
    e.function = leaf;
    e.eax = r.eax;
    e.ebx = r.ebx;
    e.ecx = r.ecx;
    e.edx = r.edx;
    entries_.push_back(e);
  };
  add(XEN_CPUID_LEAF(0), {XEN_CPUID_LEAF(XEN_CPUID_MAX_NUM_LEAVES), XEN_CPUID_SIGNATURE_EBX,
                          XEN_CPUID_SIGNATURE_ECX, XEN_CPUID_SIGNATURE_EDX});
  add(XEN_CPUID_LEAF(1), {static_cast<uint32_t>((kXenMajor << 16) | kXenMinor), 0, 0, 0});
  // One hypercall page; no MSR to write it (PV guests get it from the builder).
  add(XEN_CPUID_LEAF(2), {1, 0, XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD, 0});
  add(XEN_CPUID_LEAF(3), {});
  add(XEN_CPUID_LEAF(4), {});  // HVM-only features: none for PV
  // Machine address width: at most 44 bits keeps Linux on grant table v1.
  add(XEN_CPUID_LEAF(5), {0, 40, 0, 0});
}

const kvm_cpuid_entry2* CpuidPolicy::find(uint32_t leaf, uint32_t subleaf) const {
  for (const auto& e : entries_) {
    bool indexed = (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0;
    if (e.function == leaf && (!indexed || e.index == subleaf)) return &e;
  }
  return nullptr;
}

CpuidResult CpuidPolicy::lookup(uint32_t leaf, uint32_t subleaf) const {
  const kvm_cpuid_entry2* e = find(leaf, subleaf);
  if (e == nullptr) return {};
  return {e->eax, e->ebx, e->ecx, e->edx};
}

void CpuidPolicy::apply(kvm::VcpuFd& vcpu) const {
  if (xpv_kvm_set_cpuid2(vcpu.fd(), entries_.data(), static_cast<uint32_t>(entries_.size())) != 0)
    throw SystemError("KVM_SET_CPUID2", errno);
}

}  // namespace xpv::hv
