#include "domain/pv_layout.hpp"

#include "base/x86.hpp"
#include "monitor/layout.hpp"

namespace xpv::domain {

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMappingAlign = 4ULL << 20;  // libxc rounds the mapping to 4 MiB
constexpr uint64_t kSparePages = 128;           // ... after 512 KiB of slack

uint64_t pages_for(uint64_t bytes) {
  return (bytes + kPage - 1) / kPage;
}
uint64_t round_up(uint64_t v, uint64_t align) {
  return (v + align - 1) / align * align;
}

// Distinct tables of the level whose entries each cover 2^shift bytes.
uint64_t tables_spanning(uint64_t start, uint64_t end, unsigned shift) {
  return ((end - 1) >> shift) - (start >> shift) + 1;
}

void check_range_usable(uint64_t start, uint64_t end, const char* what) {
  using monitor::in_hole;
  if (end <= start || !x86::is_canonical(start) || !x86::is_canonical(end - 1) ||
      (start >> 47) != ((end - 1) >> 47))
    throw LayoutError(std::string(what) + " has a non-canonical virtual address range");
  uint64_t hole_start = monitor::l4_slot_va(monitor::kFirstHoleSlot);
  uint64_t hole_end = monitor::l4_slot_va(monitor::kLastHoleSlot + 1);
  if (in_hole(start) || in_hole(end - 1) || (start < hole_start && end > hole_end))
    throw LayoutError(std::string(what) + " overlaps the hypervisor hole (L4 slots 256-271)");
}

}  // namespace

PageTableSet count_page_tables(uint64_t start, uint64_t end, bool with_l4) {
  PageTableSet set;
  set.nr_l4 = with_l4 ? 1 : 0;
  set.nr_l3 = tables_spanning(start, end, 39);
  set.nr_l2 = tables_spanning(start, end, 30);
  set.nr_l1 = tables_spanning(start, end, 21);
  set.frames.count = set.nr_l4 + set.nr_l3 + set.nr_l2 + set.nr_l1;
  return set;
}

PvLayout plan_pv_layout(const LayoutRequest& rq) {
  PvLayout l;
  l.virt_base = rq.virt_base;
  l.nr_pages = rq.nr_pages;
  if (rq.virt_base % kPage != 0 || rq.virt_kstart < rq.virt_base || rq.virt_kend <= rq.virt_kstart)
    throw LayoutError("kernel addresses are inconsistent with VIRT_BASE");

  uint64_t next = (rq.virt_kstart - rq.virt_base) / kPage;
  l.kernel = {next, pages_for(rq.virt_kend - (rq.virt_kstart & ~(kPage - 1)))};
  next = l.kernel.end();

  bool p2m_separate =
      rq.init_p2m_va && *rq.init_p2m_va % kPage == 0 && *rq.init_p2m_va < rq.virt_base;
  uint64_t p2m_pages = pages_for(rq.nr_pages * sizeof(uint64_t));

  if (rq.initrd_bytes != 0 && !rq.initrd_unmapped) {
    l.initrd = PfnRange{next, pages_for(rq.initrd_bytes)};
    l.initrd_mapped = true;
    next = l.initrd->end();
  }
  if (!p2m_separate) {
    l.p2m = {next, p2m_pages};
    l.p2m_va = l.va(next);
    next = l.p2m.end();
  }
  l.start_info_pfn = next++;
  l.xenstore_pfn = next++;
  l.console_pfn = next++;

  // The mapping must cover its own page tables, the boot stack and some
  // slack; more tables may need a longer mapping, so iterate to a fixpoint.
  uint64_t tables = 0;
  for (;;) {
    uint64_t need_end = l.va(next + tables + 1 + kSparePages);
    uint64_t mapped_end = round_up(need_end, kMappingAlign);  // an absolute boundary, as libxc
    check_range_usable(rq.virt_base, mapped_end, "the kernel's initial mapping");
    PageTableSet set = count_page_tables(rq.virt_base, mapped_end, true);
    if (set.frames.count <= tables) {
      l.boot_tables = set;
      l.boot_tables.frames = {next, set.frames.count};
      l.mapped_end_va = mapped_end;
      break;
    }
    tables = set.frames.count;
  }
  next = l.boot_tables.frames.end();
  l.boot_stack_pfn = next++;
  next = l.mapped_pages();

  if (rq.initrd_bytes != 0 && rq.initrd_unmapped) {
    l.initrd = PfnRange{next, pages_for(rq.initrd_bytes)};
    next = l.initrd->end();
  }
  if (p2m_separate) {
    l.p2m_separate = true;
    l.p2m = {next, p2m_pages};
    l.p2m_va = *rq.init_p2m_va;
    next = l.p2m.end();
    check_range_usable(l.p2m_va, l.p2m_va + p2m_pages * kPage, "INIT_P2M");
    PageTableSet set = count_page_tables(l.p2m_va, l.p2m_va + p2m_pages * kPage, false);
    // Its tables hang off L4 slots of their own (libxc's count_pgtables
    // refuses overlapping mappings).
    uint64_t p2m_end = l.p2m_va + p2m_pages * kPage;
    bool overlaps = l.p2m_va < l.mapped_end_va && p2m_end > rq.virt_base;
    bool shares_slot =
        (p2m_end - 1) >> 39 >= rq.virt_base >> 39 && l.p2m_va >> 39 <= (l.mapped_end_va - 1) >> 39;
    if (overlaps || shares_slot)
      throw LayoutError("INIT_P2M shares an L4 slot with the kernel mapping");
    l.p2m_tables = set;
    l.p2m_tables.frames = {next, set.frames.count};
    next = l.p2m_tables.frames.end();
  }
  l.pages_used = next;
  if (l.pages_used > rq.nr_pages)
    throw LayoutError("the kernel and its boot data need " + std::to_string(l.pages_used >> 8) +
                      " MiB, more than the domain's " + std::to_string(rq.nr_pages >> 8) + " MiB");
  return l;
}

}  // namespace xpv::domain
