// One function per hypercall, each in the file named after its mechanism
// (as Xen's xen/arch/x86/pv/ is laid out). Each validates its arguments,
// acts, and returns 0 or a positive result, or a negative Xen errno.
#pragma once

#include "hv/hypercall.hpp"

namespace xpv::hv {

long do_console_io(vmm::Vcpu& vcpu, const HypercallArgs& args);      // console_io.cpp
long do_sched_op(vmm::Vcpu& vcpu, const HypercallArgs& args);        // sched_op.cpp
long do_xen_version(vmm::Vcpu& vcpu, const HypercallArgs& args);     // xen_version.cpp
long do_vm_assist(vmm::Vcpu& vcpu, const HypercallArgs& args);       // vm_assist.cpp
long do_memory_op(vmm::Vcpu& vcpu, const HypercallArgs& args);       // memory_op.cpp
long do_set_trap_table(vmm::Vcpu& vcpu, const HypercallArgs& args);  // trap_table.cpp

}  // namespace xpv::hv
