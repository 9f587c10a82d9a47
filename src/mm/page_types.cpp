#include "mm/page_types.hpp"

#include <algorithm>
#include <map>
#include <sstream>

#include "base/x86.hpp"
#include "mm/descriptors.hpp"
#include "monitor/layout.hpp"
#include "xen/abi.hpp"

namespace xpv::mm {

namespace {

using namespace x86;

// _PAGE_GUEST_KERNEL: marks a page the guest kernel mapped without US,
// which Xen maps with US (the kernel runs at CPL3) and tags (pv/mm.h).
constexpr uint64_t kGuestKernelPage = 1ULL << 52;
// Caching attributes need I/O privileges a domU lacks (l1_disallow_mask);
// bit 7 is PAT in an L1 entry.
constexpr uint64_t kL1Refused = pte::kPwt | pte::kPcd | pte::kPse;
// No superpages for PV, and no caching or global bits on tables.
constexpr uint64_t kTableRefused = pte::kPwt | pte::kPcd | pte::kPse | pte::kGlobal;

constexpr long kInvalid = xen::error(XEN_EINVAL);
// get_page_from_l1e's could_not_pin: a frame of the wrong owner or type.
constexpr long kBusy = xen::error(XEN_EBUSY);

uint64_t frame_of(uint64_t entry) {
  return (entry & pte::kAddressMask) >> 12;
}
bool present(uint64_t entry) {
  return (entry & pte::kPresent) != 0;
}
bool writable(uint64_t entry) {
  return (entry & pte::kWritable) != 0;
}

}  // namespace

const char* page_type_name(PageType type) {
  switch (type) {
    case PageType::kNone:
      return "none";
    case PageType::kWritable:
      return "writable";
    case PageType::kL1:
      return "L1";
    case PageType::kL2:
      return "L2";
    case PageType::kL3:
      return "L3";
    case PageType::kL4:
      return "L4";
    case PageType::kSegDesc:
      return "segment descriptor";
  }
  return "?";
}

PageTypes::PageTypes(const GuestRam& ram, ExtraMappable extra, InstallHole install_hole)
    : ram_(ram),
      extra_(std::move(extra)),
      install_hole_(std::move(install_hole)),
      pages_(ram.nr_frames()),
      tot_pages_(ram.nr_frames()),
      max_pages_(ram.nr_frames()),
      lowest_free_hint_(ram.end_mfn()) {}

uint64_t* PageTypes::table(uint64_t mfn) const {
  return reinterpret_cast<uint64_t*>(ram_.frame(mfn).data());
}

// L4 slots 256-271 belong to the hypervisor: never the guest's to set.
bool PageTypes::is_guest_slot(unsigned level, unsigned index) const {
  return level != 4 || index < monitor::kFirstHoleSlot || index > monitor::kLastHoleSlot;
}

bool PageTypes::owned(uint64_t mfn) const {
  return ram_.owns(mfn) && page(mfn).ownership != Ownership::kFree;
}

long PageTypes::get_type(uint64_t mfn, PageType type) {
  std::lock_guard lock(mutex_);
  long r = get_type_locked(mfn, type);
  if (r == 0) ++page(mfn).external;
  return r;
}

void PageTypes::put_type(uint64_t mfn) {
  std::lock_guard lock(mutex_);
  if (!ram_.owns(mfn) || page(mfn).external == 0) return;
  --page(mfn).external;
  put_type_locked(mfn);
}

long PageTypes::get_type_locked(uint64_t mfn, PageType type) {
  if (!owned(mfn)) return kInvalid;
  PageInfo& info = page(mfn);
  if (info.type_count > 0) {
    if (info.type != type) return kInvalid;  // one type at a time
    if (info.type_count == UINT32_MAX) return kInvalid;
    ++info.type_count;
    return 0;
  }
  if (type != PageType::kWritable && write_protect_) write_protect_(mfn);
  info.type = type;
  info.type_count = 1;
  long r = 0;
  if (unsigned level = level_of(type); level != 0) r = validate_table(mfn, level);
  if (type == PageType::kSegDesc) r = validate_descriptors(mfn);
  if (r != 0) {
    info.type = PageType::kNone;
    info.type_count = 0;
  }
  return r;
}

// A frame becomes a descriptor table only if every descriptor in it is
// one a PV guest may use (set_gdt checks whole frames, as Xen does).
long PageTypes::validate_descriptors(uint64_t mfn) {
  uint64_t* descriptors = table(mfn);
  for (unsigned i = 0; i < 512; ++i) {
    uint64_t d = descriptors[i];
    if (!check_descriptor(d)) return kInvalid;
    descriptors[i] = d;
  }
  return 0;
}

void PageTypes::put_type_locked(uint64_t mfn) {
  PageInfo& info = page(mfn);
  if (info.type_count == 0) return;
  if (--info.type_count > 0) return;
  if (unsigned level = level_of(info.type); level != 0) release_table(mfn, level, 512);
  info.type = PageType::kNone;
  free_if_unused(mfn);
}

long PageTypes::validate_table(uint64_t mfn, unsigned level) {
  uint64_t* entries = table(mfn);
  for (unsigned i = 0; i < 512; ++i) {
    if (!is_guest_slot(level, i)) {
      entries[i] = 0;  // the hole is xpv's: nothing the guest put there survives
      continue;
    }
    uint64_t original = __atomic_load_n(&entries[i], __ATOMIC_RELAXED);
    uint64_t entry = original;
    if (long r = get_entry_refs(entry, level, mfn); r != 0) {
      release_table(mfn, level, i);
      return r;
    }
    // No shadow MMU can hold a translation from this entry: the frame was
    // no page table until now, so only the guest's own stores wrote it,
    // and those the shadow MMU sees.
    if (entry != original) __atomic_store_n(&entries[i], entry, __ATOMIC_RELAXED);
  }
  if (level == 4) install_hole_(entries);
  return 0;
}

void PageTypes::release_table(uint64_t mfn, unsigned level, unsigned count) {
  uint64_t* entries = table(mfn);
  for (unsigned i = 0; i < count; ++i)
    if (is_guest_slot(level, i)) put_entry_refs(entries[i], level, mfn);
}

long PageTypes::get_l1_refs(uint64_t& entry) {
  if (!present(entry)) return 0;
  if ((entry & kL1Refused) != 0) return kInvalid;
  uint64_t target = frame_of(entry);
  if (ram_.owns(target)) {
    if (!owned(target)) return kBusy;  // a free frame: get_page fails
    // A page table or descriptor frame is never writable (get_page_from_l1e:
    // "Could not get page type PGT_writable_page", then could_not_pin).
    if (writable(entry) && get_type_locked(target, PageType::kWritable) != 0) return kBusy;
    ++page(target).mappings;
  } else if (!extra_ || !extra_(target)) {
    return refuse_foreign_l1_target(target);
  }
  // The kernel runs at CPL3, so its pages need US; Xen tags them and, so
  // that no kernel mapping outlives a switch to user mode, xpv never lets
  // a mapping be global.
  if ((entry & pte::kUser) == 0) entry |= pte::kUser | kGuestKernelPage;
  entry &= ~pte::kGlobal;
  return 0;
}

// Outside RAM, Xen's get_page_from_l1e refuses a frame that exists but is
// another owner's (Xen's own, here the hypervisor frames) with -EBUSY, and
// one that is no memory at all as MMIO the domain may not map: -EPERM.
long PageTypes::refuse_foreign_l1_target(uint64_t mfn) const {
  if (is_hypervisor_frame_ && is_hypervisor_frame_(mfn)) return kBusy;
  return xen::error(XEN_EPERM);
}

void PageTypes::put_l1_refs(uint64_t entry) {
  if (!present(entry)) return;
  uint64_t target = frame_of(entry);
  if (!ram_.owns(target)) return;
  if (page(target).mappings > 0) --page(target).mappings;
  if (writable(entry)) {
    put_type_locked(target);  // frees it too when that was the last reference
  } else {
    free_if_unused(target);
  }
}

long PageTypes::get_entry_refs(uint64_t& entry, unsigned level, uint64_t table_mfn) {
  if (level == 1) return get_l1_refs(entry);
  if (!present(entry)) return 0;
  if ((entry & kTableRefused) != 0) return kInvalid;
  uint64_t target = frame_of(entry);
  if (!owned(target)) return kInvalid;  // get_page_and_type_from_mfn
  PageInfo& t = page(target);
  bool linear = target == table_mfn || (t.type == table_type(level) && t.type_count > 0);
  if (linear) {
    // A table mapping a table of its own level: only read-only, so the
    // guest can read its page tables through it but never write them
    // (get_lN_linear_pagetable). No chains either (XSA-240): a table with
    // such entries may not itself be mapped so, and vice versa, or a guest
    // could build cycles that are never freed and chains that recurse deep.
    if (writable(entry)) return kInvalid;
    if (target != table_mfn) {
      PageInfo& self = page(table_mfn);
      if (t.linear_entries > 0 || self.linear_uses > 0 || t.type_count == UINT32_MAX)
        return kInvalid;
      ++t.type_count;
      ++t.linear_uses;
      ++self.linear_entries;
    }
  } else if (long r = get_type_locked(target, table_type(level - 1)); r != 0) {
    return r;
  }
  entry |= pte::kUser;
  return 0;
}

void PageTypes::put_entry_refs(uint64_t entry, unsigned level, uint64_t table_mfn) {
  if (level == 1) return put_l1_refs(entry);
  if (!present(entry)) return;
  uint64_t target = frame_of(entry);
  if (!ram_.owns(target) || target == table_mfn) return;
  PageInfo& t = page(target);
  if (t.type == table_type(level) && t.linear_uses > 0) {  // a linear entry
    --t.linear_uses;
    --page(table_mfn).linear_entries;
  }
  put_type_locked(target);
}

long PageTypes::pin(uint64_t mfn, unsigned level) {
  std::lock_guard lock(mutex_);
  if (!owned(mfn) || level < 1 || level > 4) return kInvalid;
  if (page(mfn).pinned) return kInvalid;
  if (long r = get_type_locked(mfn, table_type(level)); r != 0) return r;
  page(mfn).pinned = true;
  return 0;
}

long PageTypes::unpin(uint64_t mfn) {
  std::lock_guard lock(mutex_);
  if (!ram_.owns(mfn) || !page(mfn).pinned) return kInvalid;
  page(mfn).pinned = false;
  put_type_locked(mfn);
  return 0;
}

long PageTypes::update_entry(uint64_t table_mfn, unsigned index, uint64_t entry, bool preserve_ad) {
  std::lock_guard lock(mutex_);
  if (!owned(table_mfn) || index >= 512) return kInvalid;
  PageInfo& info = page(table_mfn);
  uint64_t* slot = &table(table_mfn)[index];
  unsigned level = info.type_count > 0 ? level_of(info.type) : 0;
  if (level == 0) {
    // An ordinary frame: the guest could store there itself, unless the
    // frame has a type that forbids writing.
    if (info.type_count > 0 && info.type == PageType::kSegDesc) return kInvalid;
    uint64_t old = __atomic_exchange_n(slot, entry, __ATOMIC_RELAXED);
    if (present(old)) table_written(table_mfn, index);
    return 0;
  }
  if (!is_guest_slot(level, index)) return kInvalid;
  if (long r = get_entry_refs(entry, level, table_mfn); r != 0) return r;
  // The CPU may set A/D in the old entry at any moment: swap atomically.
  uint64_t old = __atomic_load_n(slot, __ATOMIC_RELAXED);
  uint64_t desired = entry;
  do {
    if (preserve_ad) desired = entry | (old & (pte::kAccessed | pte::kDirty));
  } while (
      !__atomic_compare_exchange_n(slot, &old, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
  put_entry_refs(old, level, table_mfn);
  if (present(old)) table_written(table_mfn, index);
  return 0;
}

long PageTypes::cmpxchg_entry(uint64_t table_mfn, unsigned index, uint64_t expected,
                              uint64_t desired, uint64_t* actual,
                              std::optional<PageType> required) {
  std::lock_guard lock(mutex_);
  if (!owned(table_mfn) || index >= 512) return kInvalid;
  PageInfo& info = page(table_mfn);
  if (required && (info.type_count == 0 || info.type != *required)) return kInvalid;
  uint64_t* slot = &table(table_mfn)[index];
  unsigned level = info.type_count > 0 ? level_of(info.type) : 0;
  *actual = expected;
  if (level == 0) {
    if (info.type_count > 0 && info.type == PageType::kSegDesc) return kInvalid;
    if (__atomic_compare_exchange_n(slot, actual, desired, false, __ATOMIC_SEQ_CST,
                                    __ATOMIC_RELAXED) &&
        present(expected))
      table_written(table_mfn, index);
    return 0;
  }
  if (!is_guest_slot(level, index)) return kInvalid;
  if (long r = get_entry_refs(desired, level, table_mfn); r != 0) return r;
  if (__atomic_compare_exchange_n(slot, actual, desired, false, __ATOMIC_SEQ_CST,
                                  __ATOMIC_RELAXED)) {
    put_entry_refs(expected, level, table_mfn);
    if (present(expected)) table_written(table_mfn, index);
  } else
    put_entry_refs(desired, level, table_mfn);  // never written: undo its references
  return 0;
}

bool PageTypes::owns(uint64_t mfn) const {
  std::lock_guard lock(mutex_);
  return owned(mfn);
}

uint64_t PageTypes::tot_pages() const {
  std::lock_guard lock(mutex_);
  return tot_pages_;
}

uint64_t PageTypes::max_pages() const {
  std::lock_guard lock(mutex_);
  return max_pages_;
}

// guest_remove_page (common/memory.c): drops the allocation reference.
// The frame leaves the domain only when nothing references it any more:
// until then its mappings and its type stay valid, as in Xen, and a pinned
// table stays pinned (XSA-252 removed the implicit unpin).
long PageTypes::release(uint64_t mfn) {
  std::lock_guard lock(mutex_);
  if (!ram_.owns(mfn)) return kInvalid;           // !mfn_valid
  if (!owned(mfn)) return xen::error(XEN_ENXIO);  // "Bad page free"
  if (page(mfn).ownership == Ownership::kAllocated) page(mfn).ownership = Ownership::kReleased;
  free_if_unused(mfn);
  return 0;
}

void PageTypes::free_if_unused(uint64_t mfn) {
  PageInfo& p = page(mfn);
  if (p.ownership != Ownership::kReleased || p.type_count > 0 || p.mappings > 0) return;
  p = PageInfo{};
  p.ownership = Ownership::kFree;
  --tot_pages_;
  lowest_free_hint_ = std::min(lowest_free_hint_, mfn);
  if (frame_freed_) frame_freed_(mfn);
}

std::optional<uint64_t> PageTypes::allocate(unsigned order, uint64_t below_mfn) {
  std::lock_guard lock(mutex_);
  uint64_t count = uint64_t{1} << order;
  if (order >= 32 || tot_pages_ + count > max_pages_) return std::nullopt;  // assign_pages
  uint64_t end = std::min(ram_.end_mfn(), below_mfn);
  // Extents are aligned to their size in machine frames, as the buddy
  // allocator's are. No frame below the hint is free.
  uint64_t first = (lowest_free_hint_ + count - 1) & ~(count - 1);
  for (uint64_t mfn = first; mfn + count <= end; mfn += count) {
    bool all_free = true;
    for (uint64_t i = 0; i < count && all_free; ++i)
      all_free = page(mfn + i).ownership == Ownership::kFree;
    if (!all_free) continue;
    for (uint64_t i = 0; i < count; ++i)
      page(mfn + i).ownership = Ownership::kAllocated;
    tot_pages_ += count;
    if (order == 0) lowest_free_hint_ = mfn + 1;  // the scan passed only frames in use
    return mfn;
  }
  return std::nullopt;
}

PageInfo PageTypes::info(uint64_t mfn) const {
  std::lock_guard lock(mutex_);
  return ram_.owns(mfn) ? page(mfn) : PageInfo{};
}

std::string PageTypes::check_invariants() const {
  std::lock_guard lock(mutex_);
  std::ostringstream problems;
  std::map<uint64_t, uint32_t> type_refs, mappings;
  for (uint64_t i = 0; i < pages_.size(); ++i) {
    uint64_t mfn = ram_.base_mfn() + i;
    const PageInfo& p = pages_[i];
    type_refs[mfn] += p.external + (p.pinned ? 1 : 0);
    unsigned level = p.type_count > 0 ? level_of(p.type) : 0;
    if (level == 0) continue;
    const uint64_t* entries = table(mfn);
    for (unsigned e = 0; e < 512; ++e) {
      if (!is_guest_slot(level, e) || !present(entries[e])) continue;
      uint64_t target = frame_of(entries[e]);
      if (!ram_.owns(target)) continue;
      if (level == 1) {
        ++mappings[target];
        if (writable(entries[e])) ++type_refs[target];
      } else if (target != mfn) {
        ++type_refs[target];
      }
    }
  }
  for (uint64_t i = 0; i < pages_.size(); ++i) {
    uint64_t mfn = ram_.base_mfn() + i;
    const PageInfo& p = pages_[i];
    if (p.type_count != type_refs[mfn])
      problems << "mfn " << mfn << ": type count " << p.type_count << ", references "
               << type_refs[mfn] << "\n";
    if (p.mappings != mappings[mfn])
      problems << "mfn " << mfn << ": mapping count " << p.mappings << ", mappings "
               << mappings[mfn] << "\n";
  }
  uint64_t owned_frames = 0;
  for (uint64_t i = 0; i < pages_.size(); ++i) {
    const PageInfo& p = pages_[i];
    if (p.ownership != Ownership::kFree) ++owned_frames;
    if (p.ownership == Ownership::kReleased && p.type_count == 0 && p.mappings == 0)
      problems << "mfn " << ram_.base_mfn() + i << ": released and unused, yet not freed\n";
    if (p.ownership == Ownership::kFree && (p.type_count > 0 || mappings[ram_.base_mfn() + i] > 0))
      problems << "mfn " << ram_.base_mfn() + i << ": free, yet referenced\n";
  }
  if (owned_frames != tot_pages_)
    problems << "tot_pages " << tot_pages_ << ", owned frames " << owned_frames << "\n";
  // No validated L1 maps a page-table or segment frame writable.
  for (uint64_t i = 0; i < pages_.size(); ++i) {
    uint64_t mfn = ram_.base_mfn() + i;
    if (pages_[i].type_count == 0 || pages_[i].type != PageType::kL1) continue;
    const uint64_t* entries = table(mfn);
    for (unsigned e = 0; e < 512; ++e) {
      if (!present(entries[e]) || !writable(entries[e])) continue;
      uint64_t target = frame_of(entries[e]);
      if (!ram_.owns(target)) continue;
      const PageInfo& t = page(target);
      if (t.type != PageType::kWritable)
        problems << "mfn " << target << " (" << page_type_name(t.type)
                 << ") is mapped writable by L1 " << mfn << "\n";
    }
  }
  return problems.str();
}

}  // namespace xpv::mm
