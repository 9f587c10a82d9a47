// The selector checks of the iret path (iret.cpp), shared with
// VCPUOP_initialise: a context is accepted only if iretq could load it.
#pragma once

#include <cstdint>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// A present DPL-3 code segment, in Xen's flat selectors or `vcpu`'s GDT.
bool valid_code_selector(vmm::Vcpu& vcpu, uint64_t cs);
// A present DPL-3 writable data segment, likewise.
bool valid_stack_selector(vmm::Vcpu& vcpu, uint64_t ss);

}  // namespace xpv::hv
