// Xen's page types for direct paging (xen/arch/x86/mm.c is the reference):
// every frame of the domain has one type at a time — none, writable, L1,
// L2, L3, L4 or segment descriptor — with a count of the references that
// need that type. A page-table type is validated when its count leaves
// zero: each present entry is checked and takes references on what it
// maps, so that
//   - a page-table frame is never mapped writable anywhere, and
//   - every present entry of a validated table maps only the domain's own
//     frames, with the flags Xen allows.
// Updates to validated tables go through update_entry(), which checks the
// new entry before it becomes visible. All of it runs under one lock.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "mm/guest_ram.hpp"

namespace xpv::mm {

enum class PageType : uint8_t { kNone, kWritable, kL1, kL2, kL3, kL4, kSegDesc };
const char* page_type_name(PageType type);
// The page-table level of a type, 0 for types that are not page tables.
constexpr unsigned level_of(PageType type) {
  switch (type) {
    case PageType::kL1:
      return 1;
    case PageType::kL2:
      return 2;
    case PageType::kL3:
      return 3;
    case PageType::kL4:
      return 4;
    default:
      return 0;
  }
}
constexpr PageType table_type(unsigned level) {
  return level == 1   ? PageType::kL1
         : level == 2 ? PageType::kL2
         : level == 3 ? PageType::kL3
                      : PageType::kL4;
}

// Whether the domain owns a frame (Xen's _PGC_allocated and owner): a
// frame given back with decrease_reservation is kReleased while something
// still references it, and kFree once nothing does; a free frame belongs
// to no one and is scrubbed before it is handed out again.
enum class Ownership : uint8_t { kAllocated, kReleased, kFree };

struct PageInfo {
  Ownership ownership = Ownership::kAllocated;
  PageType type = PageType::kNone;
  uint32_t type_count = 0;      // references that need `type`
  uint32_t mappings = 0;        // present L1 entries mapping the frame (any access)
  uint32_t external = 0;        // type references held outside tables (roots, GDTs)
  uint32_t linear_entries = 0;  // entries of this table mapping another of its level
  uint32_t linear_uses = 0;     // entries of other tables mapping this one at its level
  bool pinned = false;
};

// Frames outside RAM that a guest may map read-write (shared_info; later
// grant frames): `owns` says whether an MFN is one of them.
using ExtraMappable = std::function<bool(uint64_t mfn)>;
// Writes xpv's own entries into a freshly validated L4 (the hypervisor hole).
using InstallHole = std::function<void(uint64_t* l4)>;

class PageTypes {
 public:
  PageTypes(const GuestRam& ram, ExtraMappable extra, InstallHole install_hole);

  // Xen's error codes (negative) or 0.
  long get_type(uint64_t mfn, PageType type);
  void put_type(uint64_t mfn);
  long pin(uint64_t mfn, unsigned level);
  long unpin(uint64_t mfn);
  // Writes `entry` at `index` of the table in frame `table_mfn`: validated
  // first when the frame is a page table (MMU_NORMAL_PT_UPDATE), plain
  // when it is an ordinary frame of the guest. `preserve_ad` keeps the
  // old Accessed/Dirty bits (MMU_PT_UPDATE_PRESERVE_AD).
  long update_entry(uint64_t table_mfn, unsigned index, uint64_t entry, bool preserve_ad);
  // Compare-and-exchange of one entry (the writable-pagetable assist):
  // `desired` is validated as update_entry validates an entry, then
  // written only if the entry still holds `expected`. *actual receives
  // what the entry held; it differs from `expected` when nothing was
  // written. With `required`, a frame of any other type is refused.
  long cmpxchg_entry(uint64_t table_mfn, unsigned index, uint64_t expected, uint64_t desired,
                     uint64_t* actual, std::optional<PageType> required = std::nullopt);

  // --- Ballooning (xen/common/memory.c) ---
  // Whether the domain owns the frame: allocated, or released but still
  // referenced (Xen's get_page succeeds on both).
  bool owns(uint64_t mfn) const;
  // Frames the domain owns (Xen's tot_pages) and may own (max_pages).
  uint64_t tot_pages() const;
  uint64_t max_pages() const;
  // Gives a frame back (guest_remove_page): -EINVAL for a frame that is not
  // RAM, -ENXIO for one the domain does not own. The frame is freed when
  // its last reference goes; a pinned table stays pinned (XSA-252).
  long release(uint64_t mfn);
  // Hands the domain 2^order free, contiguous, aligned frames below
  // `below_mfn` (alloc_domheap_pages); none past max_pages.
  std::optional<uint64_t> allocate(unsigned order, uint64_t below_mfn = UINT64_MAX);
  // Called, under the lock, for each frame the domain stops owning.
  void set_frame_freed_hook(std::function<void(uint64_t mfn)> hook) {
    frame_freed_ = std::move(hook);
  }
  // Frames outside RAM that exist but are not the guest's (the
  // hypervisor's own): mapping one is -EBUSY, any other -EPERM.
  void set_hypervisor_frames(std::function<bool(uint64_t mfn)> is_hypervisor_frame) {
    is_hypervisor_frame_ = std::move(is_hypervisor_frame);
  }

  PageInfo info(uint64_t mfn) const;
  // Empty when every invariant holds; otherwise what is wrong. For tests:
  // recomputes all counts from the tables and compares.
  std::string check_invariants() const;

  std::mutex& lock() { return mutex_; }

  // Called, with the lock held, after xpv itself changed entry `index` of
  // frame `table_mfn` while the entry was present: a CPU that caches
  // translations behind the guest's back (KVM's shadow MMU) must drop what
  // it cached from that entry before the guest runs again.
  using TableWrittenHook = std::function<void(uint64_t table_mfn, unsigned index)>;
  void set_table_written_hook(TableWrittenHook hook) { table_written_ = std::move(hook); }
  // Called, with the lock held, before frame `mfn` takes a type under which
  // the guest must not write it (a page table, a descriptor page): any
  // writable translation of it that xpv already removed from the guest's
  // tables must be gone from every CPU first. Xen flushes TLBs at the same
  // point (_get_page_type's tlbflush_timestamp check).
  void set_write_protect_hook(std::function<void(uint64_t mfn)> hook) {
    write_protect_ = std::move(hook);
  }

 private:
  PageInfo& page(uint64_t mfn) { return pages_[mfn - ram_.base_mfn()]; }
  const PageInfo& page(uint64_t mfn) const { return pages_[mfn - ram_.base_mfn()]; }
  uint64_t* table(uint64_t mfn) const;

  long get_type_locked(uint64_t mfn, PageType type);
  void put_type_locked(uint64_t mfn);
  long validate_table(uint64_t mfn, unsigned level);
  long validate_descriptors(uint64_t mfn);
  void release_table(uint64_t mfn, unsigned level, unsigned entries);
  long get_entry_refs(uint64_t& entry, unsigned level, uint64_t table_mfn);
  void put_entry_refs(uint64_t entry, unsigned level, uint64_t table_mfn);
  long get_l1_refs(uint64_t& entry);
  void put_l1_refs(uint64_t entry);
  bool is_guest_slot(unsigned level, unsigned index) const;
  bool owned(uint64_t mfn) const;
  void free_if_unused(uint64_t mfn);
  long refuse_foreign_l1_target(uint64_t mfn) const;

  const GuestRam& ram_;
  ExtraMappable extra_;
  InstallHole install_hole_;
  TableWrittenHook table_written_;
  std::function<void(uint64_t mfn)> write_protect_;
  void table_written(uint64_t table_mfn, unsigned index) const {
    if (table_written_) table_written_(table_mfn, index);
  }
  std::function<void(uint64_t)> frame_freed_;
  std::function<bool(uint64_t)> is_hypervisor_frame_;
  std::vector<PageInfo> pages_;
  uint64_t tot_pages_;
  uint64_t max_pages_;
  uint64_t lowest_free_hint_;  // no free frame lies below it
  mutable std::mutex mutex_;
};

}  // namespace xpv::mm
