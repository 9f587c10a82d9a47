#include "domain/domain_builder.hpp"

#include <algorithm>
#include <cstring>

#include "base/x86.hpp"
#include "domain/hypercall_page.hpp"
#include "vmm/domain.hpp"
#include "vmm/vcpu.hpp"

namespace xpv::domain {

namespace {

using namespace x86;

// libxc's bootstrap page-table flags (xg_dom_x86.c L1_PROT/L2_PROT), with
// US and _PAGE_GUEST_KERNEL (bit 52) on leaves as Xen's validation leaves
// them for a 64-bit PV kernel, which runs at CPL3 (adjust_guest_l1e).
constexpr uint64_t kGuestKernelPage = 1ULL << 52;
constexpr uint64_t kTableFlags =
    pte::kPresent | pte::kWritable | pte::kAccessed | pte::kDirty | pte::kUser;
constexpr uint64_t kLeafFlags =
    pte::kPresent | pte::kWritable | pte::kAccessed | pte::kUser | kGuestKernelPage;

class Builder {
 public:
  Builder(vmm::Domain& domain, const PvLayout& layout) : domain_(domain), layout_(layout) {}

  uint64_t mfn(uint64_t pfn) const { return domain_.ram().base_mfn() + pfn; }
  std::span<uint8_t, 4096> frame(uint64_t pfn) const { return domain_.ram().frame(mfn(pfn)); }
  uint8_t* bytes(uint64_t pfn) const { return frame(pfn).data(); }
  uint64_t* table(uint64_t pfn) const { return reinterpret_cast<uint64_t*>(bytes(pfn)); }

  void load_kernel(const KernelImage& kernel) const {
    uint64_t size = kernel.virt_kend - kernel.virt_kstart;
    uint64_t offset = kernel.virt_kstart & 4095;
    kernel.copy_to(std::span(bytes(layout_.kernel.first) + offset, size));
  }

  void load_initrd(std::span<const uint8_t> ramdisk) const {
    if (layout_.initrd) std::memcpy(bytes(layout_.initrd->first), ramdisk.data(), ramdisk.size());
  }

  // The guest's P2M (pfn -> mfn) and xpv's M2P (mfn -> pfn) agree on every
  // frame of the domain.
  void write_p2m_and_m2p() const {
    auto* p2m = reinterpret_cast<uint64_t*>(bytes(layout_.p2m.first));
    std::fill(p2m, p2m + layout_.p2m.count * 512, ~0ULL);
    auto m2p = domain_.monitor().m2p();
    for (uint64_t pfn = 0; pfn < layout_.nr_pages; ++pfn) {
      p2m[pfn] = mfn(pfn);
      m2p[mfn(pfn)] = pfn;
    }
  }

  // Maps [start, end) page by page onto `target_pfn(va)`, with tables
  // taken from `set` in libxc's order (L4, L3s, L2s, L1s).
  template <typename TargetPfn>
  void map_range(const PageTableSet& set, uint64_t l4_pfn, uint64_t start, uint64_t end,
                 TargetPfn target_pfn) const {
    uint64_t l3_base = set.frames.first + set.nr_l4;
    uint64_t l2_base = l3_base + set.nr_l3;
    uint64_t l1_base = l2_base + set.nr_l2;
    for (uint64_t va = start; va < end; va += 4096) {
      uint64_t l3 = l3_base + ((va >> 39) - (start >> 39));
      uint64_t l2 = l2_base + ((va >> 30) - (start >> 30));
      uint64_t l1 = l1_base + ((va >> 21) - (start >> 21));
      table(l4_pfn)[l4_index(va)] = (mfn(l3) << 12) | kTableFlags;
      table(l3)[l3_index(va)] = (mfn(l2) << 12) | kTableFlags;
      table(l2)[l2_index(va)] = (mfn(l1) << 12) | kTableFlags;
      uint64_t target = target_pfn(va);
      uint64_t flags = is_page_table(target) ? (kLeafFlags & ~pte::kWritable) : kLeafFlags;
      table(l1)[l1_index(va)] = (mfn(target) << 12) | flags;
    }
  }

  // Page-table frames are never writable by the guest (Xen's type rules).
  bool is_page_table(uint64_t pfn) const {
    return layout_.boot_tables.frames.contains(pfn) || layout_.p2m_tables.frames.contains(pfn);
  }

  uint64_t build_page_tables() const {
    uint64_t l4 = layout_.boot_tables.frames.first;
    map_range(layout_.boot_tables, l4, layout_.virt_base, layout_.mapped_end_va,
              [this](uint64_t va) { return (va - layout_.virt_base) >> 12; });
    if (layout_.p2m_separate) {
      uint64_t end = layout_.p2m_va + layout_.p2m.count * 4096;
      map_range(layout_.p2m_tables, l4, layout_.p2m_va, end,
                [this](uint64_t va) { return layout_.p2m.first + ((va - layout_.p2m_va) >> 12); });
    }
    domain_.monitor().install_hole_entries(std::span<uint64_t, 512>(table(l4), 512));
    return mfn(l4);
  }

  void write_start_info(uint64_t initrd_bytes, const std::string& cmdline) const {
    auto& si = *reinterpret_cast<start_info_t*>(bytes(layout_.start_info_pfn));
    std::strncpy(si.magic, "xen-3.0-x86_64", sizeof si.magic - 1);
    si.nr_pages = layout_.nr_pages;
    si.shared_info = domain_.shared_info_mfn() << 12;
    si.store_mfn = mfn(layout_.xenstore_pfn);
    si.store_evtchn = kXenstorePort;
    si.console.domU.mfn = mfn(layout_.console_pfn);
    si.console.domU.evtchn = kConsolePort;
    si.pt_base = layout_.va(layout_.boot_tables.frames.first);
    si.nr_pt_frames = layout_.boot_tables.frames.count;
    si.mfn_list = layout_.p2m_va;
    if (layout_.initrd) {
      si.mod_start =
          layout_.initrd_mapped ? layout_.va(layout_.initrd->first) : layout_.initrd->first;
      si.mod_len = (initrd_bytes + 4095) & ~4095ULL;
      if (!layout_.initrd_mapped) si.flags |= SIF_MOD_START_PFN;
    }
    std::memcpy(si.cmd_line, cmdline.data(), cmdline.size());
    if (layout_.p2m_separate) {
      si.first_p2m_pfn = layout_.p2m.first;
      si.nr_p2m_frames = layout_.p2m.count + layout_.p2m_tables.frames.count;
    }
  }

  void write_hypercall_page_at(const KernelImage& kernel) const {
    if (!kernel.notes.hypercall_page) return;
    uint64_t va = *kernel.notes.hypercall_page;
    if (va % 4096 != 0 || va < kernel.virt_kstart || va >= kernel.virt_kend)
      throw ImageError("HYPERCALL_PAGE note points outside the kernel or is not page aligned");
    write_hypercall_page(frame((va - layout_.virt_base) >> 12));
  }

 private:
  vmm::Domain& domain_;
  const PvLayout& layout_;
};

}  // namespace

XenFeatureSet features_xpv_provides() {
  XenFeatureSet f;
  f.set(XENFEAT_writable_page_tables);
  f.set(XENFEAT_pae_pgdir_above_4gb);
  f.set(XENFEAT_mmu_pt_update_preserve_ad);
  f.set(XENFEAT_highmem_assist);
  f.set(XENFEAT_gnttab_map_avail_bits);
  return f;
}

BootState build_pv_domain(vmm::Domain& domain, const KernelImage& kernel,
                          std::span<const uint8_t> ramdisk, const std::string& cmdline) {
  if (cmdline.size() >= MAX_GUEST_CMDLINE)
    throw Error("the command line is " + std::to_string(cmdline.size()) +
                " bytes; a PV guest takes at most " + std::to_string(MAX_GUEST_CMDLINE - 1));
  LayoutRequest request{domain.ram().nr_frames(), kernel.virt_base, kernel.virt_kstart,
                        kernel.virt_kend,         ramdisk.size(),   kernel.notes.mod_start_pfn,
                        kernel.notes.init_p2m};
  BootState boot;
  boot.layout = plan_pv_layout(request);
  // libxl allocates the xenstore then the console port, unbound for dom0's
  // services: xpv's backends, which connect to them.
  if (domain.event_channels().alloc_unbound(0) != kXenstorePort ||
      domain.event_channels().alloc_unbound(0) != kConsolePort)
    throw Error("cannot allocate the xenstore and console event channels");
  Builder builder(domain, boot.layout);
  builder.load_kernel(kernel);
  builder.load_initrd(ramdisk);
  builder.write_p2m_and_m2p();
  boot.l4_mfn = builder.build_page_tables();
  // As libxc's bootlate_pv does: pin the L4, which validates and types the
  // whole bootstrap tree under Xen's rules, then hold it as vCPU 0's root.
  if (long r = domain.page_types().pin(boot.l4_mfn, 4); r != 0)
    throw Error("the bootstrap page tables do not validate (" + std::to_string(r) + ")");
  if (long r = domain.page_types().get_type(boot.l4_mfn, mm::PageType::kL4); r != 0)
    throw Error("cannot take the bootstrap L4 as a root (" + std::to_string(r) + ")");
  builder.write_start_info(ramdisk.size(), cmdline);
  builder.write_hypercall_page_at(kernel);
  domain.attach_console(builder.mfn(boot.layout.console_pfn), kConsolePort);
  domain.attach_xenstore(builder.mfn(boot.layout.xenstore_pfn), kXenstorePort);
  // As libxl does (xc_dom_gnttab_seed): the reserved grant entries give the
  // console and xenstore pages to their backends, xpv's own (domain 0).
  domain.grant_table().seed(GNTTAB_RESERVED_CONSOLE, 0, builder.mfn(boot.layout.console_pfn));
  domain.grant_table().seed(GNTTAB_RESERVED_XENSTORE, 0, builder.mfn(boot.layout.xenstore_pfn));

  boot.entry = kernel.virt_entry;
  boot.start_info_va = boot.layout.va(boot.layout.start_info_pfn);
  boot.stack_top = boot.layout.va(boot.layout.boot_stack_pfn + 1);
  domain.vcpu(0).set_initial_state(boot.entry, boot.stack_top, boot.start_info_va, boot.l4_mfn);
  return boot;
}

}  // namespace xpv::domain
