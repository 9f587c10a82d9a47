// physdev_op for a PV domU without devices (xen/physdev.h; Xen's
// do_physdev_op in xen/arch/x86/physdev.c): the I/O privilege and I/O
// bitmap the port-I/O emulation checks, the PIRQ EOI map, and the
// answers Xen gives an unprivileged domain for everything else.
#pragma once

#include "hv/hypercall.hpp"

namespace xpv::hv {

long do_physdev_op(vmm::Vcpu& vcpu, const HypercallArgs& args);

}  // namespace xpv::hv
