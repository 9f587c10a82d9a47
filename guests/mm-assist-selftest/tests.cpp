// mm-assist-selftest: the writable-pagetable assist from inside a PV
// guest kernel (linux-pv-guest.md 6.3; Xen's pv_ro_page_fault). With
// VMASST_TYPE_writable_pagetables on, the guest stores to its pinned L1
// tables through their read-only mappings with the instructions Linux
// uses, and each store must take effect exactly as a validated
// mmu_update would. Stores Xen refuses must reach the guest as the #PF
// they are, with nothing written.
#include "mm-assist-selftest/assist.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace {

using namespace mm_assist;

constexpr uint64_t kPatternA = 0xa1a1a1a1a1a1a1a1ULL;
constexpr uint64_t kPatternB = 0xb2b2b2b2b2b2b2b2ULL;

// Pages the test L1 maps. `scratch` and `bootstrap_scratch` get written
// through their mappings; nothing else lives in their pages.
alignas(4096) uint64_t page_a[512] = {kPatternA};
alignas(4096) uint64_t page_b[512] = {kPatternB};
alignas(4096) uint64_t scratch[512];
alignas(4096) uint64_t bootstrap_scratch[512];

uint64_t address_of(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

// Each test takes slots of the test L1 that nothing used before, so that
// its reads through them are the first since the entry changed (or follow
// a #PF at that address, which drops its translation: SDM vol. 3,
// 4.10.4.1). The checks hold whatever the TLB still caches; flushing is
// checked on its own (InvlpgLocalDropsAStaleTranslation).
unsigned next_slot = 0;
unsigned fresh_slot() {
  if (next_slot == kSharedInfoSlot) xpv::guest::panic("out of test L1 slots");
  return next_slot++;
}

uint64_t* slot(unsigned index) {
  return &test_l1()[index];
}

uint64_t* mapped(unsigned index) {
  return reinterpret_cast<uint64_t*>(mapped_va(index));
}

// Reads the first qword that entry `index` maps, after an INVLPG_LOCAL as
// a kernel would make.
uint64_t read_mapped(unsigned index) {
  invlpg(mapped_va(index));
  return mm_load64(mapped(index));
}

uint64_t volatile_read(const uint64_t* p) {
  return __atomic_load_n(p, __ATOMIC_RELAXED);
}

// The probe before this faulted to the guest once: a kernel write to a
// present page at `address`, from the store at `site`.
#define EXPECT_WRITE_BOUNCED(faults_before, address, site)         \
  do {                                                             \
    XPV_EXPECT_EQ(fault_count(), (faults_before) + 1);             \
    XPV_EXPECT_EQ(last_fault().error_code, kPfPresent | kPfWrite); \
    XPV_EXPECT_EQ(last_fault().cr2, address_of(address));          \
    XPV_EXPECT_EQ(last_fault().rip, address_of(site));             \
  } while (0)

// --- The stores Linux makes -------------------------------------------------

XPV_TEST(TheTestL1IsMappedReadOnly) {
  XPV_EXPECT_EQ(*bootstrap_l1_entry(test_l1()) & kWritable, 0);
  XPV_EXPECT_EQ(fault_count(), 0);
}

// native_set_pte: mov of a 64-bit register.
XPV_TEST(MovStoresAValidatedEntry) {
  unsigned before = fault_count();
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(page_a, kKernelRW));
  XPV_EXPECT_EQ(fault_count(), before);
  XPV_EXPECT_EQ(l1_entry(i), as_stored(entry_for(page_a, kKernelRW)));
  XPV_EXPECT_EQ(read_mapped(i), kPatternA);
  XPV_EXPECT_EQ(fault_count(), before);
}

XPV_TEST(MovReplacesAnEntry) {
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(page_a, kKernelRW));
  mm_store64(slot(i), entry_for(page_b, kKernelRO));
  XPV_EXPECT_EQ(l1_entry(i), as_stored(entry_for(page_b, kKernelRO)));
  XPV_EXPECT_EQ(read_mapped(i), kPatternB);
}

XPV_TEST(WritesThroughANewWritableMappingReachTheFrame) {
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(scratch, kKernelRW));
  invlpg(mapped_va(i));
  mm_store64(mapped(i), 0x5ca1ab1e);
  XPV_EXPECT_EQ(volatile_read(&scratch[0]), 0x5ca1ab1e);
}

// ptep_get_and_clear_full: mov $0 (an immediate).
XPV_TEST(MovOfZeroUnmaps) {
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(page_a, kKernelRO));
  unsigned before = fault_count();
  mm_store64_zero(slot(i));
  XPV_EXPECT_EQ(fault_count(), before);
  XPV_EXPECT_EQ(l1_entry(i), 0);
  read_mapped(i);
  XPV_EXPECT_EQ(fault_count(), before + 1);
  XPV_EXPECT_EQ(last_fault().error_code, 0);  // a kernel read, not present
  XPV_EXPECT_EQ(last_fault().cr2, mapped_va(i));
}

// native_ptep_get_and_clear: xchg returns the old entry.
XPV_TEST(XchgSwapsInTheEntryAndReturnsTheOldOne) {
  unsigned before = fault_count();
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(page_a, kKernelRW));
  uint64_t old = mm_xchg64(slot(i), entry_for(page_b, kKernelRO));
  XPV_EXPECT_EQ(old, as_stored(entry_for(page_a, kKernelRW)));
  XPV_EXPECT_EQ(read_mapped(i), kPatternB);
  old = mm_xchg64(slot(i), 0);
  XPV_EXPECT_EQ(old, as_stored(entry_for(page_b, kKernelRO)));
  XPV_EXPECT_EQ(l1_entry(i), 0);
  XPV_EXPECT_EQ(fault_count(), before);
}

XPV_TEST(LockCmpxchgStoresWhenTheEntryHoldsTheExpectedValue) {
  unsigned i = fresh_slot();
  uint8_t swapped = 0;
  uint64_t rax = mm_cmpxchg64(slot(i), 0, entry_for(page_a, kKernelRO), &swapped);
  XPV_EXPECT_EQ(swapped, 1);
  XPV_EXPECT_EQ(rax, 0);
  XPV_EXPECT_EQ(l1_entry(i), as_stored(entry_for(page_a, kKernelRO)));
  // The entry as stored is what a later cmpxchg must expect.
  swapped = 0;
  mm_cmpxchg64(slot(i), l1_entry(i), entry_for(page_b, kKernelRO), &swapped);
  XPV_EXPECT_EQ(swapped, 1);
  XPV_EXPECT_EQ(read_mapped(i), kPatternB);
}

XPV_TEST(LockCmpxchgThatFindsAnotherValueReturnsItAndWritesNothing) {
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(page_a, kKernelRO));
  uint64_t held = l1_entry(i);
  unsigned before = fault_count();
  uint8_t swapped = 1;
  uint64_t rax = mm_cmpxchg64(slot(i), held ^ 0x1000, entry_for(page_b, kKernelRO), &swapped);
  XPV_EXPECT_EQ(fault_count(), before);
  XPV_EXPECT_EQ(swapped, 0);
  XPV_EXPECT_EQ(rax, held);
  XPV_EXPECT_EQ(l1_entry(i), held);
  XPV_EXPECT_EQ(read_mapped(i), kPatternA);
}

// ptep_set_wrprotect: lock andb $~_PAGE_RW on the low byte.
XPV_TEST(LockAndbWriteProtectsAMapping) {
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(scratch, kKernelRW));
  uint64_t before_write = volatile_read(&scratch[0]);
  unsigned before = fault_count();
  mm_clear_rw(slot(i));
  XPV_EXPECT_EQ(fault_count(), before);
  XPV_EXPECT_EQ(l1_entry(i), as_stored(entry_for(scratch, kKernelRW & ~kWritable)));
  // scratch is no page table: this fault is the guest's.
  invlpg(mapped_va(i));
  mm_store64(mapped(i), before_write + 1);
  EXPECT_WRITE_BOUNCED(before, mapped(i), mm_store64_site);
  XPV_EXPECT_EQ(volatile_read(&scratch[0]), before_write);

  // The #PF dropped the translation: lock btsq makes the page writable.
  XPV_EXPECT(!mm_test_and_set_rw(slot(i)));
  XPV_EXPECT((l1_entry(i) & kWritable) != 0);
  XPV_EXPECT(mm_test_and_set_rw(slot(i)));
  invlpg(mapped_va(i));
  mm_store64(mapped(i), 3);
  XPV_EXPECT_EQ(volatile_read(&scratch[0]), 3);
  XPV_EXPECT_EQ(fault_count(), before + 1);
}

XPV_TEST(LockOrqMakesAMappingWritable) {
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(scratch, kKernelRO | kDirty));
  unsigned before = fault_count();
  mm_set_rw(slot(i));
  XPV_EXPECT_EQ(l1_entry(i), as_stored(entry_for(scratch, kKernelRW)));
  invlpg(mapped_va(i));
  mm_store64(mapped(i), 4);
  XPV_EXPECT_EQ(volatile_read(&scratch[0]), 4);
  XPV_EXPECT_EQ(fault_count(), before);
}

// ptep_test_and_clear_young: lock btrq $_PAGE_BIT_ACCESSED.
XPV_TEST(LockBtrClearsAccessedAndTheCpuSetsItAgain) {
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(page_a, kKernelRO));
  unsigned before = fault_count();
  XPV_EXPECT(mm_test_and_clear_accessed(slot(i)));
  XPV_EXPECT_EQ(l1_entry(i) & kAccessed, 0);
  XPV_EXPECT(!mm_test_and_clear_accessed(slot(i)));
  // A hardware walk sets A in the read-only table; the assist copes.
  XPV_EXPECT_EQ(read_mapped(i), kPatternA);
  XPV_EXPECT((l1_entry(i) & kAccessed) != 0);
  XPV_EXPECT(mm_test_and_clear_accessed(slot(i)));
  XPV_EXPECT_EQ(fault_count(), before);
}

// A store narrower than the entry is merged into it.
XPV_TEST(PartialStoresMergeIntoTheEntry) {
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(page_a, kKernelRW));
  uint64_t held = l1_entry(i);
  unsigned before = fault_count();
  auto* halves = reinterpret_cast<uint32_t*>(slot(i));
  auto* words = reinterpret_cast<uint16_t*>(slot(i));
  mm_store16(&words[0], static_cast<uint16_t>(held & ~kWritable));
  XPV_EXPECT_EQ(l1_entry(i), held & ~kWritable);
  mm_store32(&halves[0], static_cast<uint32_t>(held));
  mm_store32(&halves[1], static_cast<uint32_t>(held >> 32));
  XPV_EXPECT_EQ(l1_entry(i), held);
  XPV_EXPECT_EQ(fault_count(), before);
  XPV_EXPECT_EQ(read_mapped(i), kPatternA);
}

XPV_TEST(AMisalignedStoreIsNotEmulated) {
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(page_a, kKernelRW));
  uint64_t held = l1_entry(i);
  unsigned before = fault_count();
  auto* middle = reinterpret_cast<uint32_t*>(reinterpret_cast<uint8_t*>(slot(i)) + 2);
  mm_store32(middle, 0);
  EXPECT_WRITE_BOUNCED(before, middle, mm_store32_site);
  XPV_EXPECT_EQ(l1_entry(i), held);
}

// --- Entries Xen refuses ----------------------------------------------------

XPV_TEST(InvalidEntriesAreNotWrittenAndTheFaultGoesToTheGuest) {
  const uint64_t refused[] = {
      entry_for(test_l1(), kKernelRW),  // a page table, writable
      entry_for(reinterpret_cast<const void*>(xpv::guest::start_info_page().pt_base),
                kKernelRW),                    // the L4, writable
      (((1ULL << 40) - 1) << 12) | kKernelRO,  // not the domain's frame
      entry_for(page_a, kKernelRO | kPcd),     // caching attributes
      entry_for(page_a, kKernelRO | kPwt),
      entry_for(page_a, kKernelRO | kPat),
  };
  unsigned i = fresh_slot();
  for (uint64_t entry : refused) {
    unsigned before = fault_count();
    mm_store64(slot(i), entry);
    EXPECT_WRITE_BOUNCED(before, slot(i), mm_store64_site);
    XPV_EXPECT_EQ(l1_entry(i), 0);

    before = fault_count();
    uint8_t swapped = 7;
    mm_cmpxchg64(slot(i), 0, entry, &swapped);
    EXPECT_WRITE_BOUNCED(before, slot(i), mm_cmpxchg64_site);
    XPV_EXPECT_EQ(swapped, 7);

    before = fault_count();
    mm_xchg64(slot(i), entry);
    EXPECT_WRITE_BOUNCED(before, slot(i), mm_xchg64_site);
    XPV_EXPECT_EQ(l1_entry(i), 0);
  }
  // movq $-1: the immediate is sign-extended, so every flag is set.
  unsigned before = fault_count();
  mm_store64_minus_one(slot(i));
  EXPECT_WRITE_BOUNCED(before, slot(i), mm_store64_minus_one_site);
  XPV_EXPECT_EQ(l1_entry(i), 0);
}

XPV_TEST(AnL1MayMapItselfReadOnly) {
  unsigned before = fault_count();
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(test_l1(), kKernelRO));
  XPV_EXPECT_EQ(read_mapped(i), l1_entry(0));
  XPV_EXPECT_EQ(fault_count(), before);
}

// shared_info is outside the domain's RAM, yet the guest may map it.
XPV_TEST(SharedInfoMayBeMappedWithAStore) {
  unsigned before = fault_count();
  unsigned i = fresh_slot();
  mm_store64(slot(i), xpv::guest::start_info_page().shared_info | kKernelRW);
  XPV_EXPECT_EQ(fault_count(), before);
  XPV_EXPECT_EQ(l1_entry(i), as_stored(l1_entry(kSharedInfoSlot)));
  XPV_EXPECT_EQ(read_mapped(i), mm_load64(mapped(kSharedInfoSlot)));
}

// --- When the assist does not apply -------------------------------------------

XPV_TEST(StoresToAnL2AreNeverEmulated) {
  uint64_t* l2_slot = &kernel_l2()[510];
  XPV_ASSERT_EQ(volatile_read(l2_slot), 0);
  unsigned before = fault_count();
  mm_store64_zero(l2_slot);
  EXPECT_WRITE_BOUNCED(before, l2_slot, mm_store64_zero_site);
}

XPV_TEST(WithTheAssistOffAStoreFaults) {
  unsigned i = fresh_slot();
  XPV_ASSERT_EQ(vm_assist_writable_pagetables(false), 0);
  unsigned before = fault_count();
  mm_store64(slot(i), entry_for(page_a, kKernelRO));
  XPV_ASSERT_EQ(vm_assist_writable_pagetables(true), 0);
  EXPECT_WRITE_BOUNCED(before, slot(i), mm_store64_site);
  XPV_EXPECT_EQ(l1_entry(i), 0);

  mm_store64(slot(i), entry_for(page_a, kKernelRO));
  XPV_EXPECT_EQ(fault_count(), before + 1);
  XPV_EXPECT_EQ(read_mapped(i), kPatternA);
}

// The bootstrap L1s are typed through the pinned L4, not pinned
// themselves: stores to them are emulated too.
XPV_TEST(ABootstrapL1EntryCanBeWriteProtectedAndRestored) {
  uint64_t* entry = bootstrap_l1_entry(bootstrap_scratch);
  uint64_t held = volatile_read(entry);
  XPV_ASSERT((held & kWritable) != 0);
  unsigned before = fault_count();
  mm_clear_rw(entry);
  XPV_EXPECT_EQ(fault_count(), before);
  XPV_EXPECT_EQ(volatile_read(entry), held & ~kWritable);
  invlpg(address_of(bootstrap_scratch));
  mm_store64(bootstrap_scratch, 1);
  EXPECT_WRITE_BOUNCED(before, bootstrap_scratch, mm_store64_site);

  XPV_EXPECT(!mm_test_and_set_rw(entry));
  invlpg(address_of(bootstrap_scratch));
  mm_store64(bootstrap_scratch, 2);
  XPV_EXPECT_EQ(volatile_read(&bootstrap_scratch[0]), 2);
  XPV_EXPECT_EQ(fault_count(), before + 1);
}

// --- Known divergences from Xen ---------------------------------------------

// A kernel remaps a VA it has used and flushes it with INVLPG_LOCAL: the
// next access must see the new frame. On the development machines KVM
// (PVM backend) shadows the guest's page tables and tracks only the
// vCPU's own writes to them; an entry xpv's host process rewrites stays
// stale in the shadow once it is shadowed, and the local flush (a
// KVM_SET_SREGS with the same CR3) does not resync it. Every host-side
// update of a live entry is affected: mmu_update, update_va_mapping and
// this assist alike.
XPV_TEST(InvlpgLocalDropsAStaleTranslation) {
  if (!known_bug_check_enabled("tlb-flush")) return;
  unsigned i = fresh_slot();
  mm_store64(slot(i), entry_for(page_a, kKernelRO));
  XPV_EXPECT_EQ(read_mapped(i), kPatternA);
  mm_store64(slot(i), entry_for(page_b, kKernelRO));
  XPV_EXPECT_EQ(read_mapped(i), kPatternB);
}

}  // namespace

int guest_main() {
  mm_assist::set_up();
  return xpv::guest::run_all_tests();
}
