// What the memory-management test guests (mm-selftest, mm-attack) share:
// the hypercalls of direct paging in one-line wrappers, the guest's own
// page tables reached through its kernel mapping, spare pages of the image
// to build tables from, and a scratch L1 whose slots map fresh addresses.
#pragma once

#include <cstdint>

#include "mm-common/pte.hpp"
#include "runtime/xen.hpp"

// runtime/xen.hpp has pinned the interface version.
// clang-format off
#include <xen/memory.h>
// clang-format on

namespace mm {

using namespace guest_pte;

// A table entry as Linux writes one (_PAGE_TABLE).
constexpr uint64_t kTableEntry = kPresent | kWritable | kUser | kAccessed | kDirty;
// The M2P entry of a frame that no pseudo-physical page maps to.
constexpr uint64_t kInvalidM2p = ~0ULL;

inline uint64_t address_of(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}
inline uint64_t frame_of(uint64_t entry) {
  return (entry & kAddressMask) >> 12;
}
inline unsigned table_index(uint64_t va, unsigned level) {
  return (va >> (12 + 9 * (level - 1))) & 511;
}
// The canonical address of L4 slot `slot` (sign-extended from bit 47).
inline uint64_t l4_slot_va(unsigned slot) {
  uint64_t va = uint64_t{slot} << 39;
  return slot >= 256 ? va | 0xffff000000000000ULL : va;
}
inline uint64_t entry_of(uint64_t mfn, uint64_t flags) {
  return (mfn << 12) | flags;
}
// The machine address of entry `index` of the table in frame `table_mfn`
// (mmu_update's ptr, before the command in its low bits).
inline uint64_t entry_address(uint64_t table_mfn, unsigned index) {
  return (table_mfn << 12) + uint64_t{index} * 8;
}

// --- Hypercalls, each on behalf of this domain unless `domid` says ----------
long pt_update(uint64_t table_mfn, unsigned index, uint64_t value,
               unsigned cmd = MMU_NORMAL_PT_UPDATE, domid_t domid = DOMID_SELF);
long mmu_update_batch(const mmu_update_t* requests, unsigned count, unsigned* done,
                      domid_t domid = DOMID_SELF);
long machphys_update(uint64_t mfn, uint64_t pfn);
long mmuext(unsigned cmd, uint64_t arg1, uint64_t arg2 = 0, domid_t domid = DOMID_SELF);
long mmuext_batch(const mmuext_op_t* ops, unsigned count, unsigned* done);
long update_va_mapping(uint64_t va, uint64_t entry, uint64_t flags = UVMF_INVLPG | UVMF_LOCAL);
// XENMEM_increase/decrease_reservation or populate_physmap over `count`
// extents of `order` at `list`: the number of extents done.
long reservation(unsigned cmd, xen_pfn_t* list, unsigned count, unsigned order = 0,
                 domid_t domid = DOMID_SELF);
long current_reservation(domid_t domid = DOMID_SELF);
long maximum_reservation(domid_t domid = DOMID_SELF);

// --- The domain's own memory ------------------------------------------------
const xen_machphys_mapping_t& machphys_mapping();
// M2P[mfn] read through the guest's read-only mapping of it.
uint64_t m2p(uint64_t mfn);
// The P2M the domain builder handed over (start_info.mfn_list); the guest
// keeps it up to date when it balloons.
xen_pfn_t* p2m();
// The kernel VA of a frame that holds a pseudo-physical page (through the
// M2P), e.g. a page table the guest reaches from its L4.
uint64_t* kernel_va_of_mfn(uint64_t mfn);
// The bootstrap tables (start_info.pt_base): the L4, and the L3 and L2
// that map VIRT_BASE.
uint64_t kernel_l4_mfn();
uint64_t kernel_l3_mfn();
uint64_t kernel_l2_mfn();

// A page of the guest image, set aside for tests: mapped read-write in
// the kernel mapping when handed out, and zeroed.
struct Page {
  uint64_t* va;
  uint64_t pfn;
  uint64_t mfn;
};
Page spare_page();
// Its kernel mapping made read-only (as a page table must be) or writable.
long make_read_only(const Page& page);
long make_writable(const Page& page);
// Drops its kernel mapping and gives it back (decrease_reservation); a
// balloon driver's view: the P2M entry goes invalid. Returns extents done.
long balloon_out(Page& page);
// populate_physmap for its pfn: a new frame, mapped writable again at the
// same VA and entered in the P2M. Returns extents done.
long balloon_in(Page& page);

// --- A scratch L1 ----------------------------------------------------------
// A pinned L1 of the guest's own, linked into the kernel's L2 at `l2_slot`
// (as Linux's set_pmd does), whose every slot maps an address that nothing
// mapped before: reads through it never meet a stale translation.
class ScratchL1 {
 public:
  void set_up(unsigned l2_slot);
  uint64_t mfn() const { return page_.mfn; }
  const Page& page() const { return page_; }
  uint64_t entry(unsigned index) const {
    return __atomic_load_n(&page_.va[index], __ATOMIC_RELAXED);
  }
  // A slot not used before, and the address it maps.
  unsigned fresh_slot();
  uint64_t va(unsigned index) const;

 private:
  Page page_{};
  unsigned l2_slot_ = 0;
  unsigned next_slot_ = 0;
};

}  // namespace mm
