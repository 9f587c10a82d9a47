#include "hv/tlb.hpp"

#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"
#include "xen/abi.hpp"

namespace xpv::hv {

namespace {

// The caller's own flush happens on its way back to the guest; another
// vCPU is made to flush before the hypercall returns, as Xen's
// flush_tlb_mask does, since the guest frees pages on that promise.
void flush(vmm::Vcpu& caller, vmm::Vcpu& target) {
  if (&target == &caller) {
    target.request_tlb_flush();
  } else {
    target.flush_tlb_and_wait();
  }
}

}  // namespace

void flush_all_vcpus(vmm::Vcpu& vcpu) {
  vmm::Domain& d = vcpu.domain();
  for (unsigned i = 0; i < d.nr_vcpus(); ++i)
    flush(vcpu, d.vcpu(i));
}

long flush_vcpu_mask(vmm::Vcpu& vcpu, uint64_t mask_va) {
  auto mask = vcpu.guest_memory().read<uint64_t>(mask_va);  // at most 64 vCPUs
  if (!mask) return xen::error(XEN_EFAULT);
  vmm::Domain& d = vcpu.domain();
  for (unsigned i = 0; i < d.nr_vcpus() && i < 64; ++i) {
    if ((*mask & (1ULL << i)) != 0) flush(vcpu, d.vcpu(i));
  }
  return 0;
}

long flush_after_update(vmm::Vcpu& vcpu, uint64_t flags) {
  if ((flags & UVMF_FLUSHTYPE_MASK) == UVMF_NONE) return 0;
  uint64_t target = flags & ~UVMF_FLUSHTYPE_MASK;
  if (target == UVMF_LOCAL) {
    vcpu.request_tlb_flush();
    return 0;
  }
  if (target == UVMF_ALL) {
    flush_all_vcpus(vcpu);
    return 0;
  }
  return flush_vcpu_mask(vcpu, target);  // UVMF_MULTI: the rest is a pointer
}

}  // namespace xpv::hv
