// The failsafe callback: what happens when the guest's data segment
// selectors cannot be loaded on the way back to it (Xen's load_segments in
// xen/arch/x86/domain.c; linux-pv-guest.md 5.5).
#pragma once

#include <cstdint>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// Whether `selector` may be loaded into DS/ES/FS/GS at CPL3 from the
// vCPU's GDT or LDT: null, or a present data segment or readable code
// segment the guest's privilege reaches.
bool loadable_data_selector(vmm::Vcpu& vcpu, uint64_t selector);

// Reloads DS, ES, FS and GS from the vCPU's descriptor tables, as Xen does
// when it next loads the vCPU's segments. The ones that no longer load
// become null, and the guest enters its failsafe callback with the four
// selectors it had (the domain crashes if it has none, or the frame cannot
// be written).
void reload_data_segments(vmm::Vcpu& vcpu);

}  // namespace xpv::hv
