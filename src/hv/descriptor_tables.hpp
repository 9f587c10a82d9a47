// The guest's GDT (descriptor_tables.cpp), shared by set_gdt and
// VCPUOP_initialise.
#pragma once

#include <cstdint>
#include <vector>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// Makes `frames` (entries / 512 rounded up, each typed as a descriptor
// page) the GDT of `vcpu`, releasing the old ones; Xen's pv_set_gdt.
// No frames and no entries remove the guest's GDT.
long set_gdt(vmm::Vcpu& vcpu, std::vector<uint64_t> frames, uint64_t entries);

}  // namespace xpv::hv
