// TLB maintenance a PV guest asks for (UVMF_* flags, MMUEXT_*FLUSH*,
// MMUEXT_INVLPG*). xpv flushes a vCPU's whole TLB by reloading its CR3
// before it next runs guest code; a single-page flush is done the same way
// for now, which is always correct, if slower. Other vCPUs have flushed
// when these return.
#pragma once

#include <cstdint>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// update_va_mapping's flags: UVMF_NONE, or a flush of this vCPU, all vCPUs
// (UVMF_ALL) or those in a guest bitmap (UVMF_MULTI: flags holds its VA).
long flush_after_update(vmm::Vcpu& vcpu, uint64_t flags);
void flush_all_vcpus(vmm::Vcpu& vcpu);
// vCPUs named in a guest bitmap at `mask_va`; -EFAULT when unreadable.
long flush_vcpu_mask(vmm::Vcpu& vcpu, uint64_t mask_va);

}  // namespace xpv::hv
