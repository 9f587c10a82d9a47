// set_gdt and update_descriptor: the guest's GDT, made of its own frames,
// each typed as a segment-descriptor page so the guest cannot write it
// except through update_descriptor (Xen's xen/arch/x86/pv/descriptor-tables.c).
#include "hv/descriptor_tables.hpp"

#include <vector>

#include "base/x86.hpp"
#include "hv/handlers.hpp"
#include "mm/descriptors.hpp"
#include "monitor/layout.hpp"
#include "monitor/monitor.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::hv {

namespace {

constexpr uint64_t kSelectorTableBit = 4;  // TI: the LDT
constexpr unsigned kDescriptorsPerPage = 512;

// Xen's reserved flat selectors, in the page after the guest's GDT.
std::optional<uint64_t> reserved_descriptor(uint64_t selector) {
  switch (selector | 3) {
    case FLAT_RING3_CS64:
      return x86::descriptor::kCode64Ring3;
    case FLAT_RING3_CS32:
      return x86::descriptor::kCode32Ring3;
    case FLAT_RING3_SS64:
      return x86::descriptor::kData32Ring3;
    default:
      return std::nullopt;
  }
}

std::optional<uint64_t> descriptor_in(const mm::GuestRam& ram, const std::vector<uint64_t>& frames,
                                      uint64_t index) {
  uint64_t page = index / kDescriptorsPerPage;
  if (page >= frames.size() || frames[page] == 0) return std::nullopt;
  return ram.load_entry(frames[page], static_cast<unsigned>(index % kDescriptorsPerPage));
}

// The guest part of the SET_LDT rules (Xen's do_mmuext_op, MMUEXT_SET_LDT):
// a page-aligned address outside the hypervisor hole and canonical
// (Xen's __addr_ok), and no more entries than an LDT can hold.
bool valid_ldt(uint64_t base, uint64_t entries) {
  return base % 4096 == 0 && x86::is_canonical(base) && !monitor::in_hole(base) &&
         entries <= monitor::kMaxLdtEntries;
}

void load_ldtr(vmm::Vcpu& vcpu, uint64_t entries) {
  kvm_sregs s = vcpu.kvm_vcpu().get_sregs();
  s.ldt = kvm_segment{};
  if (entries == 0) {
    s.ldt.unusable = 1;
  } else {
    s.ldt.base = monitor::Monitor::ldt_va(vcpu.id());
    s.ldt.limit = static_cast<uint32_t>(entries * 8 - 1);
    s.ldt.selector = monitor::kLdtSelector;
    s.ldt.type = 2;  // LDT system segment
    s.ldt.present = 1;
  }
  vcpu.kvm_vcpu().set_sregs(s);
}

}  // namespace

std::optional<uint64_t> guest_descriptor(vmm::Vcpu& vcpu, uint64_t selector) {
  uint64_t index = (selector & 0xffff) >> 3;
  const mm::GuestRam& ram = vcpu.domain().ram();
  if ((selector & kSelectorTableBit) != 0) {
    if (index >= vcpu.ldt().entries) return std::nullopt;
    return descriptor_in(ram, vcpu.ldt().frames, index);
  }
  if (index == 0) return std::nullopt;
  if (auto flat = reserved_descriptor(selector)) return flat;
  return descriptor_in(ram, vcpu.gdt_frames(), index);
}

void release_ldt(vmm::Vcpu& vcpu) {
  auto& ldt = vcpu.ldt();
  auto& monitor = vcpu.domain().monitor();
  for (unsigned p = 0; p < ldt.frames.size(); ++p) {
    monitor.map_ldt_frame(vcpu.id(), p, 0);
    if (ldt.frames[p] != 0) vcpu.domain().page_types().put_type(ldt.frames[p]);
  }
  ldt = vmm::Ldt{};
  vcpu.domain().mark_page_tables_written();  // the monitor's own tables changed
}

// Xen maps LDT pages lazily, on the first fault that touches one
// (pv_map_ldt_shadow_page); xpv maps them here. A page that is unmapped in
// the guest kernel's tables or cannot become a descriptor page stays
// unmapped and reads as not-present descriptors, so using one of its
// selectors faults in the guest as it would under Xen.
long set_ldt(vmm::Vcpu& vcpu, uint64_t base, uint64_t entries) {
  if (entries == 0) base = 0;
  if (!valid_ldt(base, entries)) return xen::error(XEN_EINVAL);
  if (vcpu.ldt().base == base && vcpu.ldt().entries == entries) return 0;
  release_ldt(vcpu);
  vmm::Ldt ldt{base, static_cast<unsigned>(entries), {}};
  ldt.frames.resize((entries * 8 + 4095) / 4096);
  auto memory = vcpu.kernel_memory();
  auto& types = vcpu.domain().page_types();
  for (unsigned p = 0; p < ldt.frames.size(); ++p) {
    auto mfn = memory.translate(base + p * 4096ULL, mm::Access::kRead);
    if (!mfn || types.get_type(*mfn, mm::PageType::kSegDesc) != 0) continue;
    ldt.frames[p] = *mfn;
    vcpu.domain().monitor().map_ldt_frame(vcpu.id(), p, *mfn);
  }
  vcpu.ldt() = std::move(ldt);
  load_ldtr(vcpu, entries);
  vcpu.request_segment_reload();
  return 0;
}

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
  vcpu.request_segment_reload();
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
  if (type == mm::PageType::kSegDesc) vcpu.request_segment_reload();
  return 0;
}

}  // namespace xpv::hv
