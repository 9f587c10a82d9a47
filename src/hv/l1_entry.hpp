// The L1 entry that maps a guest virtual address, as update_va_mapping
// and GNTTABOP_map_grant_ref find it (Xen's guest_map_l1e).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// (L1 frame, index) of the entry mapping `va` in the vCPU's kernel root,
// found through validated tables only, so it is an L1 page the guest may
// update; nullopt when no L1 maps it. Defined in mmu_update.cpp.
std::optional<std::pair<uint64_t, unsigned>> find_l1_entry(vmm::Vcpu& vcpu, uint64_t va);

}  // namespace xpv::hv
