// set_gdt and update_descriptor: the guest's GDT, made of its own frames,
// each typed as a segment-descriptor page so the guest cannot write it
// except through update_descriptor (Xen's xen/arch/x86/pv/descriptor-tables.c).
#include <vector>

#include "hv/descriptor_tables.hpp"
#include "hv/handlers.hpp"
#include "mm/descriptors.hpp"
#include "monitor/layout.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

long do_set_gdt(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  uint64_t list = args.arg[0];
  uint64_t entries = args.arg[1];
  if (entries > FIRST_RESERVED_GDT_ENTRY) return xen::error(XEN_EINVAL);
  std::vector<uint64_t> frames((entries + 511) / 512);
  if (!vcpu.guest_memory().copy_from(
          list, std::span(reinterpret_cast<uint8_t*>(frames.data()), frames.size() * 8)))
    return xen::error(XEN_EFAULT);
  return set_gdt(vcpu, std::move(frames), entries);
}

long set_gdt(vmm::Vcpu& vcpu, std::vector<uint64_t> frames, uint64_t entries) {
  if (entries > FIRST_RESERVED_GDT_ENTRY || frames.size() != (entries + 511) / 512)
    return xen::error(XEN_EINVAL);
  size_t nr_frames = frames.size();
  auto& types = vcpu.domain().page_types();
  for (size_t i = 0; i < nr_frames; ++i) {
    if (long rc = types.get_type(frames[i], mm::PageType::kSegDesc); rc != 0) {
      while (i-- > 0)
        types.put_type(frames[i]);
      return rc;
    }
  }
  auto& monitor = vcpu.domain().monitor();
  for (unsigned p = 0; p < monitor::kGuestGdtPages; ++p)
    monitor.map_gdt_frame(vcpu.id(), p, p < nr_frames ? frames[p] : 0);
  for (uint64_t old : vcpu.gdt_frames())
    types.put_type(old);
  vcpu.gdt_frames() = std::move(frames);
  vcpu.domain().mark_page_tables_written();  // the monitor's own tables changed
  return 0;
}

long do_update_descriptor(vmm::Vcpu& vcpu, const HypercallArgs& args) {
  uint64_t maddr = args.arg[0];
  uint64_t desc = args.arg[1];
  uint64_t mfn = maddr >> 12;
  auto& d = vcpu.domain();
  if (maddr % 8 != 0 || !d.ram().owns(mfn) || !mm::check_descriptor(desc))
    return xen::error(XEN_EINVAL);
  // A descriptor page keeps its type; any other frame must be one the
  // guest could write itself.
  mm::PageType type = d.page_types().info(mfn).type == mm::PageType::kSegDesc
                          ? mm::PageType::kSegDesc
                          : mm::PageType::kWritable;
  if (long rc = d.page_types().get_type(mfn, type); rc != 0) return rc;
  auto* slot = reinterpret_cast<uint64_t*>(d.ram().frame(mfn).data() + (maddr & 0xfff));
  __atomic_store_n(slot, desc, __ATOMIC_RELAXED);
  d.page_types().put_type(mfn);
  return 0;
}

}  // namespace xpv::hv
