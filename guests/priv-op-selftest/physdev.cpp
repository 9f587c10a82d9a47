// physdev_op as Xen answers a PV domU without devices.
#include "priv-op-selftest/priv_op.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace {

using namespace priv_op;

constexpr uint64_t kUnmapped = 0x10000;
void* const kBadPointer = reinterpret_cast<void*>(kUnmapped);

alignas(4096) uint8_t eoi_map[4096];

XPV_TEST(IrqStatusQuerySaysEveryPirqNeedsAnEoi) {
  physdev_irq_status_query query{0, 0xffff};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_irq_status_query, &query), 0);
  XPV_EXPECT_EQ(query.flags, XENIRQSTAT_needs_eoi);
  query.irq = 1000;
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_irq_status_query, &query), -XEN_EINVAL);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_irq_status_query, kBadPointer), -XEN_EFAULT);
}

XPV_TEST(EoiOfAnUnboundPirqFails) {
  physdev_eoi eoi{3};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_eoi, &eoi), -XEN_EINVAL);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_eoi, kBadPointer), -XEN_EFAULT);
}

XPV_TEST(IrqUnmaskNotifySucceeds) {
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_IRQ_UNMASK_NOTIFY, nullptr), 0);
}

// The map must be an ordinary frame of the guest's; it can be set once.
XPV_TEST(PirqEoiMapRegistersOnce) {
  physdev_pirq_eoi_gmfn bad{~0UL >> 12};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_pirq_eoi_gmfn_v2, &bad), -XEN_EINVAL);
  physdev_pirq_eoi_gmfn root{
      xpv::guest::mfn_of(reinterpret_cast<const void*>(xpv::guest::start_info_page().pt_base))};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_pirq_eoi_gmfn_v2, &root), -XEN_EINVAL);
  physdev_pirq_eoi_gmfn map{xpv::guest::mfn_of(eoi_map)};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_pirq_eoi_gmfn_v2, &map), 0);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_pirq_eoi_gmfn_v2, &map), -XEN_EBUSY);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_pirq_eoi_gmfn_v1, &map), -XEN_EBUSY);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_pirq_eoi_gmfn_v1, kBadPointer), -XEN_EFAULT);
}

XPV_TEST(DeviceAndInterruptControlNeedsPrivilege) {
  physdev_apic apic{};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_apic_read, &apic), -XEN_EPERM);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_apic_write, &apic), -XEN_EPERM);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_apic_read, kBadPointer), -XEN_EFAULT);
  physdev_irq irq{};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_alloc_irq_vector, &irq), -XEN_EPERM);
  physdev_manage_pci pci{};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_manage_pci_add, &pci), -XEN_EPERM);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_manage_pci_remove, &pci), -XEN_EPERM);
  physdev_manage_pci_ext ext{};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_manage_pci_add_ext, &ext), -XEN_EPERM);
  ext.is_virtfn = 2;
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_manage_pci_add_ext, &ext), -XEN_EINVAL);
  physdev_pci_device_add add{};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_pci_device_add, &add), -XEN_EPERM);
  physdev_pci_device device{};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_pci_device_remove, &device), -XEN_EPERM);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_prepare_msix, &device), -XEN_EPERM);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_release_msix, &device), -XEN_EPERM);
  // These two check privilege before they read their argument.
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_pci_mmcfg_reserved, kBadPointer), -XEN_EPERM);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_dbgp_op, kBadPointer), -XEN_EPERM);
}

XPV_TEST(MappingPirqsNeedsPrivilegeOrAnExistingDomain) {
  physdev_map_pirq map{};
  map.domid = DOMID_SELF;
  map.type = MAP_PIRQ_TYPE_GSI;
  map.index = 5;
  map.pirq = -1;
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_map_pirq, &map), -XEN_EPERM);
  map.domid = 77;
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_map_pirq, &map), -XEN_ESRCH);
  physdev_unmap_pirq unmap{DOMID_SELF, 5};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_unmap_pirq, &unmap), -XEN_EPERM);
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_unmap_pirq, kBadPointer), -XEN_EFAULT);
}

XPV_TEST(SetupGsiChecksTheGsiThenPrivilege) {
  physdev_setup_gsi gsi{-1, 0, 0};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_setup_gsi, &gsi), -XEN_EINVAL);
  gsi.gsi = 5;
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_setup_gsi, &gsi), -XEN_EPERM);
}

XPV_TEST(RestoreMsiFindsNoDevice) {
  physdev_restore_msi msi{0, 8};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_restore_msi, &msi), -XEN_ENODEV);
  physdev_pci_device device{};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_restore_msi_ext, &device), -XEN_ENODEV);
}

XPV_TEST(OtherSubOpsAreNotImplemented) {
  physdev_get_free_pirq pirq{MAP_PIRQ_TYPE_MSI, 0};
  XPV_EXPECT_EQ(physdev_call(PHYSDEVOP_get_free_pirq, &pirq), -XEN_ENOSYS);
  XPV_EXPECT_EQ(physdev_call(99, nullptr), -XEN_ENOSYS);
}

}  // namespace
