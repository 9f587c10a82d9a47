// Privileged instructions a PV kernel still executes at CPL3, which fault
// with #GP and are emulated as Xen does (xen/arch/x86/pv/emul-priv-op.c).
#pragma once

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

// Emulates the instruction at the guest's rip if it is one xpv handles
// for a guest kernel; advances rip and returns true. False: the #GP
// stands and belongs to the guest.
bool emulate_privileged_op(vmm::Vcpu& vcpu);

}  // namespace xpv::hv
