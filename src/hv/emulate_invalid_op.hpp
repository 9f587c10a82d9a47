// The forced-emulation prefix: `ud2; .ascii "xen"; cpuid` makes Xen
// emulate the cpuid with the guest's CPUID policy
// (xen/arch/x86/pv/emul-inv-op.c). Linux's xen_cpuid uses it for every
// kernel cpuid.
#pragma once

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// True when the #UD was the prefix: the cpuid result is in the guest's
// registers and rip is past the sequence.
bool emulate_forced_invalid_op(vmm::Vcpu& vcpu);

}  // namespace xpv::hv
