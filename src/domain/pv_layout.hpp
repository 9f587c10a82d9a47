// Where a 64-bit PV domU's boot-time objects go in its pseudo-physical
// space and its initial virtual mapping, following the order and sizing of
// Xen's toolstack (libxc xc_dom_build_image, alloc_pgtables_pv):
// kernel, mapped modules, P2M (when not INIT_P2M), start_info, xenstore
// page, console page, bootstrap page tables, boot stack, padding to a
// 4 MiB boundary, then the unmapped initrd (MOD_START_PFN) and the
// INIT_P2M list with its own page tables.
#pragma once

#include <cstdint>
#include <optional>

#include "base/error.hpp"

namespace xpv::domain {

class LayoutError : public Error {
 public:
  using Error::Error;
};

struct PfnRange {
  uint64_t first = 0;
  uint64_t count = 0;
  uint64_t end() const { return first + count; }
  bool contains(uint64_t pfn) const { return pfn >= first && pfn < end(); }
};

// Page tables that map one virtual range, in allocation order: L4 (only in
// the bootstrap set), then L3s, L2s and L1s, each level in address order.
struct PageTableSet {
  PfnRange frames;
  uint64_t nr_l4 = 0, nr_l3 = 0, nr_l2 = 0, nr_l1 = 0;
};

struct LayoutRequest {
  uint64_t nr_pages;                    // domain RAM in pages
  uint64_t virt_base;                   // VIRT_BASE
  uint64_t virt_kstart;                 // first kernel byte (page aligned)
  uint64_t virt_kend;                   // end of the kernel image
  uint64_t initrd_bytes = 0;            // 0: no initrd
  bool initrd_unmapped = false;         // kernel has MOD_START_PFN
  std::optional<uint64_t> init_p2m_va;  // INIT_P2M note
};

struct PvLayout {
  uint64_t virt_base = 0;
  uint64_t nr_pages = 0;
  PfnRange kernel;
  std::optional<PfnRange> initrd;
  bool initrd_mapped = false;
  PfnRange p2m;               // the guest's P2M list (data frames)
  uint64_t p2m_va = 0;        // where the guest sees it (mfn_list)
  bool p2m_separate = false;  // INIT_P2M honoured: mapped by its own tables
  uint64_t start_info_pfn = 0;
  uint64_t xenstore_pfn = 0;
  uint64_t console_pfn = 0;
  PageTableSet boot_tables;  // map [virt_base, mapped_end_va)
  uint64_t boot_stack_pfn = 0;
  uint64_t mapped_end_va = 0;  // virt_pgtab_end: the initial mapping ends here
  PageTableSet p2m_tables;     // INIT_P2M only: no L4, share the boot L4
  uint64_t pages_used = 0;     // first pfn after everything the builder placed

  uint64_t va(uint64_t pfn) const { return virt_base + (pfn << 12); }
  uint64_t mapped_pages() const { return (mapped_end_va - virt_base) >> 12; }
};

// Plans the layout; throws LayoutError when it cannot fit or the image's
// addresses are unusable (inside the hypervisor hole, non-canonical, ...).
PvLayout plan_pv_layout(const LayoutRequest& request);

// The number of L3, L2 and L1 tables needed to map [start, end).
PageTableSet count_page_tables(uint64_t start, uint64_t end, bool with_l4);

}  // namespace xpv::domain
