// A vCPU's first context, from VCPUOP_initialise (struct vcpu_guest_context
// in xen/arch-x86/xen.h), checked and loaded as Xen's arch_set_info_guest
// does for a 64-bit PV guest (xen/arch/x86/domain.c).
#pragma once

#include "xen/abi.hpp"

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// The checks that need nothing but the context: canonical addresses,
// debug registers, LDT and GDT sizes, the flags. 0 or a Xen error.
long check_vcpu_context(const vcpu_guest_context_t& context);

// Loads `context` into `target`, a vCPU that was never initialised and
// does not run: GDT, page-table roots (with their L4 type references),
// LDT, trap table, callbacks, kernel stack, segment bases, debug and FPU
// registers, and the registers it starts with. On an error nothing of it
// is kept. With VGCF_online the vCPU runs at once.
long load_vcpu_context(vmm::Vcpu& target, vcpu_guest_context_t context);

}  // namespace xpv::hv
