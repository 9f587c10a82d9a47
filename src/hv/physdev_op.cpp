#include "hv/physdev_op.hpp"

#include "hv/port_io.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

// The PIRQs a domU has (d->nr_pirqs): the host's GSIs plus Xen's default
// 32 extra. xpv reports a host with one 24-pin IO-APIC.
constexpr unsigned kNrIrqsGsi = 24;
constexpr unsigned kNrPirqs = kNrIrqsGsi + 32;
constexpr uint32_t kIoBitmapBytes = 8192;  // IOBMP_BYTES: 65536 ports
constexpr uint32_t kMaxIoPorts = 65536;

// The calls that need privileges a domU lacks (XSM_PRIV) or a device it
// does not have: Xen reads the argument first, then refuses.
template <typename Request>
long refuse_after_reading(vmm::Vcpu& vcpu, uint64_t arg, int xen_errno) {
  if (!vcpu.guest_memory().read<Request>(arg)) return xen::error(XEN_EFAULT);
  return xen::error(xen_errno);
}

long set_iopl(vmm::Vcpu& vcpu, uint64_t arg) {
  auto request = vcpu.guest_memory().read<physdev_set_iopl>(arg);
  if (!request) return xen::error(XEN_EFAULT);
  if (request->iopl > 3) return xen::error(XEN_EINVAL);
  vcpu.emulated.iopl = request->iopl;
  return 0;
}

long set_iobitmap(vmm::Vcpu& vcpu, uint64_t arg) {
  auto request = vcpu.guest_memory().read<physdev_set_iobitmap>(arg);
  if (!request) return xen::error(XEN_EFAULT);
  // guest_handle_okay checks where the bitmap starts, not that it is mapped.
  auto bitmap = reinterpret_cast<uint64_t>(request->bitmap.p);
  if (!guest_address_ok(bitmap) || request->nr_ports > kMaxIoPorts) return xen::error(XEN_EINVAL);
  static_assert(kIoBitmapBytes * 8 == kMaxIoPorts);
  vcpu.emulated.io_bitmap = bitmap;
  vcpu.emulated.io_bitmap_ports = request->nr_ports;
  return 0;
}

// A page Xen would set bits in for PIRQs that need an EOI; a domU without
// PIRQs never sees one. It holds a writable type reference, as in Xen,
// for as long as the domain lives.
long register_pirq_eoi_map(vmm::Vcpu& vcpu, uint64_t arg) {
  auto request = vcpu.guest_memory().read<physdev_pirq_eoi_gmfn>(arg);
  if (!request) return xen::error(XEN_EFAULT);
  vmm::Domain& d = vcpu.domain();
  uint64_t mfn = request->gmfn;  // a PV guest's gmfn is the mfn
  if (!d.ram().owns(mfn)) return xen::error(XEN_EINVAL);
  if (d.page_types().get_type(mfn, mm::PageType::kWritable) != 0) return xen::error(XEN_EINVAL);
  uint64_t none = 0;
  if (!d.vcpu(0).emulated.pirq_eoi_mfn.compare_exchange_strong(none, mfn)) {
    d.page_types().put_type(mfn);
    return xen::error(XEN_EBUSY);
  }
  return 0;
}

long irq_status_query(vmm::Vcpu& vcpu, uint64_t arg) {
  auto memory = vcpu.guest_memory();
  auto query = memory.read<physdev_irq_status_query>(arg);
  if (!query) return xen::error(XEN_EFAULT);
  if (query->irq >= kNrPirqs) return xen::error(XEN_EINVAL);
  // A PV guest without the EOI map must always EOI; no PIRQ is shared.
  query->flags = XENIRQSTAT_needs_eoi;
  return memory.write(arg, *query) ? 0 : xen::error(XEN_EFAULT);
}

// map_pirq and unmap_pirq name a domain. Mapping for the caller itself or
// for dom0 needs device-model privileges (-EPERM); other domains do not
// exist (-ESRCH).
template <typename Request>
long pirq_mapping(vmm::Vcpu& vcpu, uint64_t arg) {
  auto request = vcpu.guest_memory().read<Request>(arg);
  if (!request) return xen::error(XEN_EFAULT);
  domid_t domid = request->domid;
  bool exists = vcpu.domain().is_self(domid) || domid == 0;
  return xen::error(exists ? XEN_EPERM : XEN_ESRCH);
}

long setup_gsi(vmm::Vcpu& vcpu, uint64_t arg) {
  auto request = vcpu.guest_memory().read<physdev_setup_gsi>(arg);
  if (!request) return xen::error(XEN_EFAULT);
  if (request->gsi < 0 || static_cast<unsigned>(request->gsi) >= kNrIrqsGsi)
    return xen::error(XEN_EINVAL);
  return xen::error(XEN_EPERM);
}

long manage_pci_add_ext(vmm::Vcpu& vcpu, uint64_t arg) {
  auto request = vcpu.guest_memory().read<physdev_manage_pci_ext>(arg);
  if (!request) return xen::error(XEN_EFAULT);
  if (request->is_extfn > 1 || request->is_virtfn > 1) return xen::error(XEN_EINVAL);
  return xen::error(XEN_EPERM);
}

}  // namespace

long do_physdev_op(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  auto cmd = static_cast<int>(args.arg[0]);
  uint64_t arg = args.arg[1];
  switch (cmd) {
    case PHYSDEVOP_set_iopl:
      return set_iopl(vcpu, arg);
    case PHYSDEVOP_set_iobitmap:
      return set_iobitmap(vcpu, arg);
    case PHYSDEVOP_pirq_eoi_gmfn_v1:  // v1 also unmasks on EOI: no PIRQs, no difference
    case PHYSDEVOP_pirq_eoi_gmfn_v2:
      return register_pirq_eoi_map(vcpu, arg);
    case PHYSDEVOP_IRQ_UNMASK_NOTIFY:  // nothing is masked without PIRQs
      return 0;
    case PHYSDEVOP_irq_status_query:
      return irq_status_query(vcpu, arg);
    case PHYSDEVOP_eoi:  // no PIRQ is bound, in range or not
      return refuse_after_reading<physdev_eoi>(vcpu, arg, XEN_EINVAL);
    case PHYSDEVOP_map_pirq:
      return pirq_mapping<physdev_map_pirq>(vcpu, arg);
    case PHYSDEVOP_unmap_pirq:
      return pirq_mapping<physdev_unmap_pirq>(vcpu, arg);
    case PHYSDEVOP_apic_read:
    case PHYSDEVOP_apic_write:
      return refuse_after_reading<physdev_apic>(vcpu, arg, XEN_EPERM);
    case PHYSDEVOP_alloc_irq_vector:
      return refuse_after_reading<physdev_irq>(vcpu, arg, XEN_EPERM);
    case PHYSDEVOP_manage_pci_add:
    case PHYSDEVOP_manage_pci_remove:
      return refuse_after_reading<physdev_manage_pci>(vcpu, arg, XEN_EPERM);
    case PHYSDEVOP_manage_pci_add_ext:
      return manage_pci_add_ext(vcpu, arg);
    case PHYSDEVOP_pci_device_add:
      return refuse_after_reading<physdev_pci_device_add>(vcpu, arg, XEN_EPERM);
    case PHYSDEVOP_pci_device_remove:
    case PHYSDEVOP_prepare_msix:
    case PHYSDEVOP_release_msix:
      return refuse_after_reading<physdev_pci_device>(vcpu, arg, XEN_EPERM);
    case PHYSDEVOP_restore_msi:  // there is no such device
      return refuse_after_reading<physdev_restore_msi>(vcpu, arg, XEN_ENODEV);
    case PHYSDEVOP_restore_msi_ext:
      return refuse_after_reading<physdev_pci_device>(vcpu, arg, XEN_ENODEV);
    case PHYSDEVOP_setup_gsi:
      return setup_gsi(vcpu, arg);
    case PHYSDEVOP_pci_mmcfg_reserved:  // privilege is checked before the argument
    case PHYSDEVOP_dbgp_op:
      return xen::error(XEN_EPERM);
    default:  // get_free_pirq (Xen allocates one), free_irq_vector, unknown
      return vcpu.domain().unimplemented().report(args.nr, cmd);
  }
}

}  // namespace xpv::hv
