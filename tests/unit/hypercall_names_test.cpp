#include "hv/hypercall_names.hpp"

#include <gtest/gtest.h>

#include "xen/abi.hpp"

namespace xpv::hv {
namespace {

TEST(HypercallName, NamesEachFamilyByTheConstantSuffix) {
  EXPECT_EQ(hypercall_name(__HYPERVISOR_set_trap_table), "set_trap_table");
  EXPECT_EQ(hypercall_name(__HYPERVISOR_mmu_update), "mmu_update");
  EXPECT_EQ(hypercall_name(__HYPERVISOR_console_io), "console_io");
  EXPECT_EQ(hypercall_name(__HYPERVISOR_update_va_mapping_otherdomain),
            "update_va_mapping_otherdomain");
  EXPECT_EQ(hypercall_name(__HYPERVISOR_iret), "iret");
  EXPECT_EQ(hypercall_name(__HYPERVISOR_mmuext_op), "mmuext_op");
  EXPECT_EQ(hypercall_name(__HYPERVISOR_hypfs_op), "hypfs_op");
  EXPECT_EQ(hypercall_name(__HYPERVISOR_arch_0), "arch_0");
}

// Wire numbers from xen/xen.h, spelled out on purpose: the macros
// __HYPERVISOR_sched_op, _event_channel_op and _physdev_op take their
// legacy *_compat values unless __XEN_INTERFACE_VERSION__ is recent, and a
// guest such as Linux issues the current numbers.
TEST(HypercallName, UsesCurrentInterfaceNumbersNotLegacyAliases) {
  EXPECT_EQ(hypercall_name(29), "sched_op");
  EXPECT_EQ(hypercall_name(32), "event_channel_op");
  EXPECT_EQ(hypercall_name(33), "physdev_op");
  EXPECT_EQ(hypercall_name(6), "sched_op_compat");
  EXPECT_EQ(hypercall_name(16), "event_channel_op_compat");
  EXPECT_EQ(hypercall_name(19), "physdev_op_compat");
}

TEST(HypercallName, ReturnsUnknownForUnassignedNumbers) {
  EXPECT_EQ(hypercall_name(11), "unknown");  // a hole in xen.h's numbering
  EXPECT_EQ(hypercall_name(__HYPERVISOR_hypfs_op + 1), "unknown");
  EXPECT_EQ(hypercall_name(__HYPERVISOR_arch_7 + 1), "unknown");
  EXPECT_EQ(hypercall_name(UINT64_MAX), "unknown");
}

TEST(SubOpName, NamesSchedOps) {
  EXPECT_EQ(sub_op_name(29, SCHEDOP_yield), "yield");
  EXPECT_EQ(sub_op_name(29, SCHEDOP_shutdown), "shutdown");
  EXPECT_EQ(sub_op_name(29, SCHEDOP_pin_override), "pin_override");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_sched_op_compat, SCHEDOP_block), "block");
}

TEST(SubOpName, NamesXenVersionOps) {
  EXPECT_EQ(sub_op_name(__HYPERVISOR_xen_version, XENVER_version), "version");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_xen_version, XENVER_get_features), "get_features");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_xen_version, XENVER_build_id), "build_id");
}

TEST(SubOpName, NamesMemoryOps) {
  EXPECT_EQ(sub_op_name(__HYPERVISOR_memory_op, XENMEM_increase_reservation),
            "increase_reservation");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_memory_op, XENMEM_machphys_mapping), "machphys_mapping");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_memory_op, XENMEM_memory_map), "memory_map");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_memory_op, XENMEM_add_to_physmap_batch),
            "add_to_physmap_batch");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_memory_op, XENMEM_acquire_resource), "acquire_resource");
}

TEST(SubOpName, NamesConsoleIoAndVmAssistOps) {
  EXPECT_EQ(sub_op_name(__HYPERVISOR_console_io, CONSOLEIO_write), "write");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_console_io, CONSOLEIO_read), "read");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_vm_assist, VMASST_CMD_enable), "enable");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_vm_assist, VMASST_CMD_disable), "disable");
}

TEST(SubOpName, NamesEventChannelOps) {
  EXPECT_EQ(sub_op_name(32, EVTCHNOP_bind_virq), "bind_virq");
  EXPECT_EQ(sub_op_name(32, EVTCHNOP_send), "send");
  EXPECT_EQ(sub_op_name(32, EVTCHNOP_set_priority), "set_priority");
}

TEST(SubOpName, NamesVcpuOps) {
  EXPECT_EQ(sub_op_name(__HYPERVISOR_vcpu_op, VCPUOP_initialise), "initialise");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_vcpu_op, VCPUOP_register_vcpu_info), "register_vcpu_info");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_vcpu_op, VCPUOP_set_singleshot_timer), "set_singleshot_timer");
}

TEST(SubOpName, NamesGrantTableOps) {
  EXPECT_EQ(sub_op_name(__HYPERVISOR_grant_table_op, GNTTABOP_map_grant_ref), "map_grant_ref");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_grant_table_op, GNTTABOP_query_size), "query_size");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_grant_table_op, GNTTABOP_unmap_and_replace),
            "unmap_and_replace");
}

TEST(SubOpName, NamesPhysdevOps) {
  EXPECT_EQ(sub_op_name(33, PHYSDEVOP_set_iopl), "set_iopl");
  EXPECT_EQ(sub_op_name(33, PHYSDEVOP_eoi), "eoi");
  EXPECT_EQ(sub_op_name(33, PHYSDEVOP_pirq_eoi_gmfn_v2), "pirq_eoi_gmfn_v2");
}

TEST(SubOpName, NamesCallbackOps) {
  EXPECT_EQ(sub_op_name(__HYPERVISOR_callback_op, CALLBACKOP_register), "register");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_callback_op, CALLBACKOP_unregister), "unregister");
}

TEST(SubOpName, IsEmptyForHypercallsWithoutACommand) {
  EXPECT_EQ(sub_op_name(__HYPERVISOR_mmuext_op, 0), "");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_multicall, 0), "");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_mmu_update, 1), "");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_event_channel_op_compat, 0), "");
  EXPECT_EQ(sub_op_name(UINT64_MAX, 0), "");
}

TEST(SubOpName, IsEmptyForUnknownCommands) {
  EXPECT_EQ(sub_op_name(29, SCHEDOP_pin_override + 1), "");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_console_io, 2), "");
  EXPECT_EQ(sub_op_name(__HYPERVISOR_memory_op, 8), "");  // a hole in XENMEM_*
  EXPECT_EQ(sub_op_name(__HYPERVISOR_vcpu_op, UINT64_MAX), "");
}

TEST(ShutdownReasonName, NamesEveryReason) {
  EXPECT_EQ(shutdown_reason_name(SHUTDOWN_poweroff), "poweroff");
  EXPECT_EQ(shutdown_reason_name(SHUTDOWN_reboot), "reboot");
  EXPECT_EQ(shutdown_reason_name(SHUTDOWN_suspend), "suspend");
  EXPECT_EQ(shutdown_reason_name(SHUTDOWN_crash), "crash");
  EXPECT_EQ(shutdown_reason_name(SHUTDOWN_watchdog), "watchdog");
  EXPECT_EQ(shutdown_reason_name(SHUTDOWN_soft_reset), "soft_reset");
}

TEST(ShutdownReasonName, ReturnsUnknownPastShutdownMax) {
  EXPECT_EQ(shutdown_reason_name(SHUTDOWN_MAX + 1), "unknown");
}

}  // namespace
}  // namespace xpv::hv
