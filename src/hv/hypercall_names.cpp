#include "hv/hypercall_names.hpp"

#include <algorithm>
#include <array>
#include <span>

#include "xen/abi.hpp"

namespace xpv::hv {
namespace {

struct Name {
  uint64_t value;
  std::string_view name;
};

// Builds the table entry from the constant's own tokens, so the key is the
// ABI constant and the name cannot drift from its spelling.
#define XPV_NAMED(prefix, suffix) (Name{prefix##suffix, #suffix})

constexpr auto kHypercalls = std::to_array<Name>({
    XPV_NAMED(__HYPERVISOR_, set_trap_table),
    XPV_NAMED(__HYPERVISOR_, mmu_update),
    XPV_NAMED(__HYPERVISOR_, set_gdt),
    XPV_NAMED(__HYPERVISOR_, stack_switch),
    XPV_NAMED(__HYPERVISOR_, set_callbacks),
    XPV_NAMED(__HYPERVISOR_, fpu_taskswitch),
    XPV_NAMED(__HYPERVISOR_, sched_op_compat),
    XPV_NAMED(__HYPERVISOR_, platform_op),
    XPV_NAMED(__HYPERVISOR_, set_debugreg),
    XPV_NAMED(__HYPERVISOR_, get_debugreg),
    XPV_NAMED(__HYPERVISOR_, update_descriptor),
    XPV_NAMED(__HYPERVISOR_, memory_op),
    XPV_NAMED(__HYPERVISOR_, multicall),
    XPV_NAMED(__HYPERVISOR_, update_va_mapping),
    XPV_NAMED(__HYPERVISOR_, set_timer_op),
    XPV_NAMED(__HYPERVISOR_, event_channel_op_compat),
    XPV_NAMED(__HYPERVISOR_, xen_version),
    XPV_NAMED(__HYPERVISOR_, console_io),
    XPV_NAMED(__HYPERVISOR_, physdev_op_compat),
    XPV_NAMED(__HYPERVISOR_, grant_table_op),
    XPV_NAMED(__HYPERVISOR_, vm_assist),
    XPV_NAMED(__HYPERVISOR_, update_va_mapping_otherdomain),
    XPV_NAMED(__HYPERVISOR_, iret),
    XPV_NAMED(__HYPERVISOR_, vcpu_op),
    XPV_NAMED(__HYPERVISOR_, set_segment_base),
    XPV_NAMED(__HYPERVISOR_, mmuext_op),
    XPV_NAMED(__HYPERVISOR_, xsm_op),
    XPV_NAMED(__HYPERVISOR_, nmi_op),
    XPV_NAMED(__HYPERVISOR_, sched_op),
    XPV_NAMED(__HYPERVISOR_, callback_op),
    XPV_NAMED(__HYPERVISOR_, xenoprof_op),
    XPV_NAMED(__HYPERVISOR_, event_channel_op),
    XPV_NAMED(__HYPERVISOR_, physdev_op),
    XPV_NAMED(__HYPERVISOR_, hvm_op),
    XPV_NAMED(__HYPERVISOR_, sysctl),
    XPV_NAMED(__HYPERVISOR_, domctl),
    XPV_NAMED(__HYPERVISOR_, kexec_op),
    XPV_NAMED(__HYPERVISOR_, tmem_op),
    XPV_NAMED(__HYPERVISOR_, argo_op),
    XPV_NAMED(__HYPERVISOR_, xenpmu_op),
    XPV_NAMED(__HYPERVISOR_, dm_op),
    XPV_NAMED(__HYPERVISOR_, hypfs_op),
    // Architecture-specific slots; on x86 arch_0 is the machine-check
    // hypercall (arch-x86/xen-mca.h), which xen/abi.hpp does not include.
    XPV_NAMED(__HYPERVISOR_, arch_0),
    XPV_NAMED(__HYPERVISOR_, arch_1),
    XPV_NAMED(__HYPERVISOR_, arch_2),
    XPV_NAMED(__HYPERVISOR_, arch_3),
    XPV_NAMED(__HYPERVISOR_, arch_4),
    XPV_NAMED(__HYPERVISOR_, arch_5),
    XPV_NAMED(__HYPERVISOR_, arch_6),
    XPV_NAMED(__HYPERVISOR_, arch_7),
});

constexpr auto kSchedOps = std::to_array<Name>({
    XPV_NAMED(SCHEDOP_, yield),
    XPV_NAMED(SCHEDOP_, block),
    XPV_NAMED(SCHEDOP_, shutdown),
    XPV_NAMED(SCHEDOP_, poll),
    XPV_NAMED(SCHEDOP_, remote_shutdown),
    XPV_NAMED(SCHEDOP_, shutdown_code),
    XPV_NAMED(SCHEDOP_, watchdog),
    XPV_NAMED(SCHEDOP_, pin_override),
});

constexpr auto kXenVersionOps = std::to_array<Name>({
    XPV_NAMED(XENVER_, version),
    XPV_NAMED(XENVER_, extraversion),
    XPV_NAMED(XENVER_, compile_info),
    XPV_NAMED(XENVER_, capabilities),
    XPV_NAMED(XENVER_, changeset),
    XPV_NAMED(XENVER_, platform_parameters),
    XPV_NAMED(XENVER_, get_features),
    XPV_NAMED(XENVER_, pagesize),
    XPV_NAMED(XENVER_, guest_handle),
    XPV_NAMED(XENVER_, commandline),
    XPV_NAMED(XENVER_, build_id),
});

// XENMEM_add_to_physmap_range is an alias of XENMEM_add_to_physmap_batch.
// The toolstack-only commands (sharing, paging, access, claim_pages, ...)
// are declared only for Xen and its tools (__XEN_TOOLS__), so they are
// absent here and name as "".
constexpr auto kMemoryOps = std::to_array<Name>({
    XPV_NAMED(XENMEM_, increase_reservation),
    XPV_NAMED(XENMEM_, decrease_reservation),
    XPV_NAMED(XENMEM_, maximum_ram_page),
    XPV_NAMED(XENMEM_, current_reservation),
    XPV_NAMED(XENMEM_, maximum_reservation),
    XPV_NAMED(XENMEM_, machphys_mfn_list),
    XPV_NAMED(XENMEM_, populate_physmap),
    XPV_NAMED(XENMEM_, add_to_physmap),
    XPV_NAMED(XENMEM_, memory_map),
    XPV_NAMED(XENMEM_, machine_memory_map),
    XPV_NAMED(XENMEM_, exchange),
    XPV_NAMED(XENMEM_, machphys_mapping),
    XPV_NAMED(XENMEM_, set_memory_map),
    XPV_NAMED(XENMEM_, maximum_gpfn),
    XPV_NAMED(XENMEM_, remove_from_physmap),
    XPV_NAMED(XENMEM_, set_pod_target),
    XPV_NAMED(XENMEM_, get_pod_target),
    XPV_NAMED(XENMEM_, add_to_physmap_batch),
    XPV_NAMED(XENMEM_, machphys_compat_mfn_list),
    XPV_NAMED(XENMEM_, get_vnumainfo),
    XPV_NAMED(XENMEM_, acquire_resource),
});

constexpr auto kConsoleIoOps = std::to_array<Name>({
    XPV_NAMED(CONSOLEIO_, write),
    XPV_NAMED(CONSOLEIO_, read),
});

constexpr auto kVmAssistOps = std::to_array<Name>({
    XPV_NAMED(VMASST_CMD_, enable),
    XPV_NAMED(VMASST_CMD_, disable),
});

// EVTCHNOP_reset_cont is Xen-internal (__XEN__ only), never issued by a guest.
constexpr auto kEventChannelOps = std::to_array<Name>({
    XPV_NAMED(EVTCHNOP_, bind_interdomain),
    XPV_NAMED(EVTCHNOP_, bind_virq),
    XPV_NAMED(EVTCHNOP_, bind_pirq),
    XPV_NAMED(EVTCHNOP_, close),
    XPV_NAMED(EVTCHNOP_, send),
    XPV_NAMED(EVTCHNOP_, status),
    XPV_NAMED(EVTCHNOP_, alloc_unbound),
    XPV_NAMED(EVTCHNOP_, bind_ipi),
    XPV_NAMED(EVTCHNOP_, bind_vcpu),
    XPV_NAMED(EVTCHNOP_, unmask),
    XPV_NAMED(EVTCHNOP_, reset),
    XPV_NAMED(EVTCHNOP_, init_control),
    XPV_NAMED(EVTCHNOP_, expand_array),
    XPV_NAMED(EVTCHNOP_, set_priority),
});

constexpr auto kVcpuOps = std::to_array<Name>({
    XPV_NAMED(VCPUOP_, initialise),
    XPV_NAMED(VCPUOP_, up),
    XPV_NAMED(VCPUOP_, down),
    XPV_NAMED(VCPUOP_, is_up),
    XPV_NAMED(VCPUOP_, get_runstate_info),
    XPV_NAMED(VCPUOP_, register_runstate_memory_area),
    XPV_NAMED(VCPUOP_, set_periodic_timer),
    XPV_NAMED(VCPUOP_, stop_periodic_timer),
    XPV_NAMED(VCPUOP_, set_singleshot_timer),
    XPV_NAMED(VCPUOP_, stop_singleshot_timer),
    XPV_NAMED(VCPUOP_, register_vcpu_info),
    XPV_NAMED(VCPUOP_, send_nmi),
    XPV_NAMED(VCPUOP_, get_physid),
    XPV_NAMED(VCPUOP_, register_vcpu_time_memory_area),
});

constexpr auto kGrantTableOps = std::to_array<Name>({
    XPV_NAMED(GNTTABOP_, map_grant_ref),
    XPV_NAMED(GNTTABOP_, unmap_grant_ref),
    XPV_NAMED(GNTTABOP_, setup_table),
    XPV_NAMED(GNTTABOP_, dump_table),
    XPV_NAMED(GNTTABOP_, transfer),
    XPV_NAMED(GNTTABOP_, copy),
    XPV_NAMED(GNTTABOP_, query_size),
    XPV_NAMED(GNTTABOP_, unmap_and_replace),
    XPV_NAMED(GNTTABOP_, set_version),
    XPV_NAMED(GNTTABOP_, get_status_frames),
    XPV_NAMED(GNTTABOP_, get_version),
    XPV_NAMED(GNTTABOP_, swap_grant_ref),
    XPV_NAMED(GNTTABOP_, cache_flush),
});

// PHYSDEVOP_pirq_eoi_gmfn names _v1 or _v2 depending on the interface
// version, so the two versions are named explicitly.
constexpr auto kPhysdevOps = std::to_array<Name>({
    Name{PHYSDEVOP_IRQ_UNMASK_NOTIFY, "irq_unmask_notify"},  // obsolete since 3.2
    XPV_NAMED(PHYSDEVOP_, irq_status_query),
    XPV_NAMED(PHYSDEVOP_, set_iopl),
    XPV_NAMED(PHYSDEVOP_, set_iobitmap),
    XPV_NAMED(PHYSDEVOP_, apic_read),
    XPV_NAMED(PHYSDEVOP_, apic_write),
    XPV_NAMED(PHYSDEVOP_, alloc_irq_vector),
    XPV_NAMED(PHYSDEVOP_, free_irq_vector),
    XPV_NAMED(PHYSDEVOP_, eoi),
    XPV_NAMED(PHYSDEVOP_, map_pirq),
    XPV_NAMED(PHYSDEVOP_, unmap_pirq),
    XPV_NAMED(PHYSDEVOP_, manage_pci_add),
    XPV_NAMED(PHYSDEVOP_, manage_pci_remove),
    XPV_NAMED(PHYSDEVOP_, pirq_eoi_gmfn_v1),
    XPV_NAMED(PHYSDEVOP_, restore_msi),
    XPV_NAMED(PHYSDEVOP_, manage_pci_add_ext),
    XPV_NAMED(PHYSDEVOP_, setup_gsi),
    XPV_NAMED(PHYSDEVOP_, get_free_pirq),
    XPV_NAMED(PHYSDEVOP_, pci_mmcfg_reserved),
    XPV_NAMED(PHYSDEVOP_, pci_device_add),
    XPV_NAMED(PHYSDEVOP_, pci_device_remove),
    XPV_NAMED(PHYSDEVOP_, restore_msi_ext),
    XPV_NAMED(PHYSDEVOP_, pirq_eoi_gmfn_v2),
    XPV_NAMED(PHYSDEVOP_, dbgp_op),
    XPV_NAMED(PHYSDEVOP_, prepare_msix),
    XPV_NAMED(PHYSDEVOP_, release_msix),
});

constexpr auto kCallbackOps = std::to_array<Name>({
    XPV_NAMED(CALLBACKOP_, register),
    XPV_NAMED(CALLBACKOP_, unregister),
});

constexpr auto kShutdownReasons = std::to_array<Name>({
    XPV_NAMED(SHUTDOWN_, poweroff),
    XPV_NAMED(SHUTDOWN_, reboot),
    XPV_NAMED(SHUTDOWN_, suspend),
    XPV_NAMED(SHUTDOWN_, crash),
    XPV_NAMED(SHUTDOWN_, watchdog),
    XPV_NAMED(SHUTDOWN_, soft_reset),
});

#undef XPV_NAMED

// Two constants with one value would make a name ambiguous; this is how a
// header alias (such as the legacy *_compat numbers) would show up.
constexpr bool has_unique_values(std::span<const Name> table) {
  for (size_t i = 0; i < table.size(); ++i) {
    for (size_t j = i + 1; j < table.size(); ++j) {
      if (table[i].value == table[j].value) return false;
    }
  }
  return true;
}

static_assert(has_unique_values(kHypercalls));
static_assert(has_unique_values(kSchedOps));
static_assert(has_unique_values(kXenVersionOps));
static_assert(has_unique_values(kMemoryOps));
static_assert(has_unique_values(kConsoleIoOps));
static_assert(has_unique_values(kVmAssistOps));
static_assert(has_unique_values(kEventChannelOps));
static_assert(has_unique_values(kVcpuOps));
static_assert(has_unique_values(kGrantTableOps));
static_assert(has_unique_values(kPhysdevOps));
static_assert(has_unique_values(kCallbackOps));
static_assert(has_unique_values(kShutdownReasons));

std::string_view find_name(std::span<const Name> table, uint64_t value,
                           std::string_view not_found) {
  const auto entry = std::ranges::find(table, value, &Name::value);
  return entry == table.end() ? not_found : entry->name;
}

// The table of commands for hypercalls whose first argument is a command.
// The *_op_compat event channel and physdev hypercalls take a structure
// holding the command instead, and batches (mmuext_op, multicall) have none.
std::span<const Name> sub_op_table(uint64_t nr) {
  switch (nr) {
    case __HYPERVISOR_sched_op:
    case __HYPERVISOR_sched_op_compat:
      return kSchedOps;
    case __HYPERVISOR_xen_version:
      return kXenVersionOps;
    case __HYPERVISOR_memory_op:
      return kMemoryOps;
    case __HYPERVISOR_console_io:
      return kConsoleIoOps;
    case __HYPERVISOR_vm_assist:
      return kVmAssistOps;
    case __HYPERVISOR_event_channel_op:
      return kEventChannelOps;
    case __HYPERVISOR_vcpu_op:
      return kVcpuOps;
    case __HYPERVISOR_grant_table_op:
      return kGrantTableOps;
    case __HYPERVISOR_physdev_op:
      return kPhysdevOps;
    case __HYPERVISOR_callback_op:
      return kCallbackOps;
    default:
      return {};
  }
}

}  // namespace

std::string_view hypercall_name(uint64_t nr) {
  return find_name(kHypercalls, nr, "unknown");
}

std::string_view sub_op_name(uint64_t nr, uint64_t cmd) {
  return find_name(sub_op_table(nr), cmd, "");
}

std::string_view shutdown_reason_name(unsigned reason) {
  return find_name(kShutdownReasons, reason, "unknown");
}

}  // namespace xpv::hv
