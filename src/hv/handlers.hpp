// One function per hypercall, each in the file named after its mechanism
// (as Xen's xen/arch/x86/pv/ is laid out). Each validates its arguments,
// acts, and returns 0 or a positive result, or a negative Xen errno.
#pragma once

#include "hv/hypercall.hpp"

namespace xpv::hv {

long do_console_io(vmm::Vcpu& vcpu, const HypercallArgs& args);         // console_io.cpp
long do_sched_op(vmm::Vcpu& vcpu, const HypercallArgs& args);           // sched_op.cpp
long do_xen_version(vmm::Vcpu& vcpu, const HypercallArgs& args);        // xen_version.cpp
long do_vm_assist(vmm::Vcpu& vcpu, const HypercallArgs& args);          // vm_assist.cpp
long do_memory_op(vmm::Vcpu& vcpu, const HypercallArgs& args);          // memory_op.cpp
long do_set_trap_table(vmm::Vcpu& vcpu, const HypercallArgs& args);     // trap_table.cpp
long do_iret(vmm::Vcpu& vcpu, const HypercallArgs& args);               // iret.cpp
long do_callback_op(vmm::Vcpu& vcpu, const HypercallArgs& args);        // callback.cpp
long do_set_callbacks(vmm::Vcpu& vcpu, const HypercallArgs& args);      // callback.cpp
long do_set_segment_base(vmm::Vcpu& vcpu, const HypercallArgs& args);   // segment_base.cpp
long do_stack_switch(vmm::Vcpu& vcpu, const HypercallArgs& args);       // segment_base.cpp
long do_fpu_taskswitch(vmm::Vcpu& vcpu, const HypercallArgs& args);     // segment_base.cpp
long do_mmu_update(vmm::Vcpu& vcpu, const HypercallArgs& args);         // mmu_update.cpp
long do_update_va_mapping(vmm::Vcpu& vcpu, const HypercallArgs& args);  // mmu_update.cpp
long do_mmuext_op(vmm::Vcpu& vcpu, const HypercallArgs& args);          // mmuext_op.cpp
long do_set_gdt(vmm::Vcpu& vcpu, const HypercallArgs& args);            // descriptor_tables.cpp
long do_update_descriptor(vmm::Vcpu& vcpu, const HypercallArgs& args);  // descriptor_tables.cpp
long do_vcpu_op(vmm::Vcpu& vcpu, const HypercallArgs& args);            // vcpu_op.cpp

long do_event_channel_op(vmm::Vcpu& vcpu, const HypercallArgs& args);  // event_channel_op.cpp
long do_grant_table_op(vmm::Vcpu& vcpu, const HypercallArgs& args);    // grant_table_op.cpp

long do_set_timer_op(vmm::Vcpu& vcpu, const HypercallArgs& args);  // vcpu_op.cpp

long do_multicall(vmm::Vcpu& vcpu, const HypercallArgs& args);  // multicall.cpp

long do_set_debugreg(vmm::Vcpu& vcpu, const HypercallArgs& args);  // debug_registers.cpp
long do_get_debugreg(vmm::Vcpu& vcpu, const HypercallArgs& args);  // debug_registers.cpp

}  // namespace xpv::hv
