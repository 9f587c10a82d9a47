// The guest's descriptor tables as the CPU and the hypervisor see them:
// the GDT (set_gdt, plus Xen's reserved flat selectors) and the LDT
// (MMUEXT_SET_LDT), both made of guest frames typed as descriptor pages
// (Xen's xen/arch/x86/pv/descriptor-tables.c).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// The descriptor `selector` names in the vCPU's GDT or LDT; nullopt for
// the null selector and for one beyond the table's limit.
std::optional<uint64_t> guest_descriptor(vmm::Vcpu& vcpu, uint64_t selector);

// Makes `frames` (entries / 512 rounded up, each typed as a descriptor
// page) the GDT of `vcpu`, releasing the old ones; Xen's pv_set_gdt,
// shared by set_gdt and VCPUOP_initialise. No frames and no entries
// remove the guest's GDT.
long set_gdt(vmm::Vcpu& vcpu, std::vector<uint64_t> frames, uint64_t entries);

// MMUEXT_SET_LDT: the LDT at guest virtual address `base` with `entries`
// descriptors (0: none). Xen's rules: page-aligned, outside the hole, at
// most 8192 entries, else -EINVAL.
long set_ldt(vmm::Vcpu& vcpu, uint64_t base, uint64_t entries);
// Drops the vCPU's LDT and the type references of its frames.
void release_ldt(vmm::Vcpu& vcpu);

}  // namespace xpv::hv
