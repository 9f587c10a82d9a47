// Attacks through the grant table (xen/grant_table.h, v1): grants forged
// for another domain or never permitted, refs beyond the table, writable
// access through read-only grants and to page tables, copies that leave
// the page or name frames the domain does not own, PTE slots that are not
// an L1's, unmaps of another address, a grant rewritten while it is in
// use, and a table or version the domain may not have. Each must fail as
// in Xen's common/grant_table.c (function cited per test) and leave the
// frame, the entry (no GTF_reading/GTF_writing left behind) and the PTE
// as they were.
#include <initializer_list>

#include "grant-common/grants.hpp"
#include "mm-attack/attack.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"
#include "runtime/test.hpp"

namespace {

using namespace mm;
using namespace grants;
using mm_attack::scratch;

constexpr domid_t kOtherDomain = 7;
// One frame of 512 entries: the table setup_table leaves at its start.
constexpr grant_ref_t kEntries = 4096 / sizeof(grant_entry_v1_t);

xen_pfn_t table_frame_zero = 0;

// The table's first frame, mapped writable through a scratch slot as Linux
// maps what setup_table returns.
grants::Table table() {
  static grant_entry_v1_t* entries = nullptr;
  if (entries == nullptr) {
    if (setup_table(DOMID_SELF, 1, &table_frame_zero) != GNTST_okay)
      xpv::guest::panic("setup_table");
    unsigned slot = scratch().fresh_slot();
    if (long rc = pt_update(scratch().mfn(), slot, entry_of(table_frame_zero, kKernelRW)); rc != 0)
      xpv::guest::panic("mapping the grant table: %ld", rc);
    entries = reinterpret_cast<grant_entry_v1_t*>(scratch().va(slot));
  }
  return grants::Table(entries);
}

// A spare page whose every byte is known, to see that nothing wrote it.
uint8_t pattern_byte(uint8_t seed, unsigned i) {
  return static_cast<uint8_t>(seed + i * 3);
}
Page patterned_page(uint8_t seed) {
  Page page = spare_page();
  auto* bytes = reinterpret_cast<uint8_t*>(page.va);
  for (unsigned i = 0; i < 4096; ++i)
    bytes[i] = pattern_byte(seed, i);
  return page;
}
bool keeps_pattern(const Page& page, uint8_t seed) {
  const auto* bytes = reinterpret_cast<const volatile uint8_t*>(page.va);
  for (unsigned i = 0; i < 4096; ++i)
    if (bytes[i] != pattern_byte(seed, i)) return false;
  return true;
}

// A fresh scratch slot for a host mapping: its PTE is 0 until mapped.
struct HostSlot {
  unsigned index;
  uint64_t va;
};
HostSlot host_slot() {
  unsigned index = scratch().fresh_slot();
  return {index, scratch().va(index)};
}

// Two patterned pages granted to the domain itself: one read-only at
// `ref`, one writable at `ref + 1`.
struct GrantedPair {
  Page readonly;
  Page writable;
  grant_ref_t readonly_ref;
  grant_ref_t writable_ref;
};
GrantedPair granted_pair(grant_ref_t ref, uint8_t seed) {
  GrantedPair pair{patterned_page(seed), patterned_page(static_cast<uint8_t>(seed + 1)), ref,
                   ref + 1};
  table().grant(ref, kSelf, pair.readonly.mfn, GTF_permit_access | GTF_readonly);
  table().grant(ref + 1, kSelf, pair.writable.mfn, GTF_permit_access);
  return pair;
}

gnttab_copy_t copy_from_frame(uint64_t mfn, grant_ref_t to) {
  gnttab_copy_t c = copy_by_ref(0, to, 0, 0, 64);
  c.flags = GNTCOPY_dest_gref;
  c.source.u.gmfn = mfn;
  return c;
}
gnttab_copy_t copy_to_frame(grant_ref_t from, uint64_t mfn) {
  gnttab_copy_t c = copy_by_ref(from, 0, 0, 0, 64);
  c.flags = GNTCOPY_source_gref;
  c.dest.u.gmfn = mfn;
  return c;
}

// map_grant_ref: rcu_lock_domain_by_id finds no such granting domain
// (GNTST_bad_domain); _set_status_v1 refuses an entry whose domid is not
// the mapping domain ("Bad flags or dom", GNTST_general_error), and so does
// acquire_grant_for_copy for a copy.
XPV_TEST(AGrantForgedForAnotherDomainIsNeitherMappedNorCopied) {
  Page target = patterned_page(1);
  Page dest = patterned_page(2);
  table().grant(100, 0, target.mfn, GTF_permit_access);
  table().grant(101, kOtherDomain, target.mfn, GTF_permit_access);
  table().grant(102, kSelf, dest.mfn, GTF_permit_access);
  HostSlot at = host_slot();
  for (grant_ref_t ref : {100U, 101U}) {
    gnttab_map_grant_ref_t m = map_request(ref, kSelf, GNTMAP_host_map, at.va);
    XPV_EXPECT_EQ(map_status(m), GNTST_general_error);
    XPV_EXPECT_EQ(copy_status(copy_by_ref(ref, 102, 0, 0, 64)), GNTST_general_error);
    XPV_EXPECT_EQ(copy_status(copy_by_ref(102, ref, 0, 0, 64)), GNTST_general_error);
  }
  gnttab_map_grant_ref_t foreign = map_request(101, kOtherDomain, GNTMAP_host_map, at.va);
  XPV_EXPECT_EQ(map_status(foreign), GNTST_bad_domain);
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);
  XPV_EXPECT(keeps_pattern(target, 1));
  XPV_EXPECT(keeps_pattern(dest, 2));
  XPV_EXPECT_EQ(table().flags(100), GTF_permit_access);
  XPV_EXPECT_EQ(table().flags(101), GTF_permit_access);
  XPV_EXPECT_EQ(table().flags(102), GTF_permit_access);
}

// _set_status_v1 with mapflag: the type must be GTF_permit_access and
// GTF_sub_page is refused for a mapping (GNTST_general_error); a v1 entry
// cannot be transitive or an accept-transfer either.
XPV_TEST(AnEntryThatPermitsNoAccessIsNotMappable) {
  Page target = patterned_page(3);
  const uint16_t refused[] = {0, GTF_accept_transfer, GTF_transitive,
                              GTF_permit_access | GTF_sub_page, GTF_readonly};
  HostSlot at = host_slot();
  grant_ref_t ref = 110;
  for (uint16_t flags : refused) {
    table().grant(ref, kSelf, target.mfn, flags);
    gnttab_map_grant_ref_t m = map_request(ref, kSelf, GNTMAP_host_map | GNTMAP_readonly, at.va);
    XPV_EXPECT_EQ(map_status(m), GNTST_general_error);
    XPV_EXPECT_EQ(table().flags(ref), flags);
    ++ref;
  }
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);
  XPV_EXPECT(keeps_pattern(target, 3));
}

// map_grant_ref and acquire_grant_for_copy: a ref at or beyond
// nr_grant_entries is GNTST_bad_gntref; the table does not grow for it.
XPV_TEST(RefsBeyondTheTableAreBadGntrefs) {
  Page dest = patterned_page(4);
  table().grant(120, kSelf, dest.mfn, GTF_permit_access);
  HostSlot at = host_slot();
  for (grant_ref_t ref : {kEntries, kEntries + 1, 64 * kEntries, 0xffffffffU}) {
    gnttab_map_grant_ref_t m = map_request(ref, kSelf, GNTMAP_host_map, at.va);
    XPV_EXPECT_EQ(map_status(m), GNTST_bad_gntref);
    XPV_EXPECT_EQ(copy_status(copy_by_ref(ref, 120, 0, 0, 64)), GNTST_bad_gntref);
  }
  XPV_EXPECT_EQ(query_size(DOMID_SELF).nr_frames, 1);
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);
  XPV_EXPECT(keeps_pattern(dest, 4));
  XPV_EXPECT_EQ(table().flags(120), GTF_permit_access);
}

// _set_status_v1: "Attempt to write-pin a r/o grant entry" is
// GNTST_general_error, for a host or device mapping and for the
// destination of a copy. A read-only mapping is allowed, and its PTE is.
XPV_TEST(AReadOnlyGrantGivesNoWritableAccess) {
  GrantedPair pair = granted_pair(130, 5);
  const Page& target = pair.readonly;
  HostSlot at = host_slot();
  gnttab_map_grant_ref_t host = map_request(130, kSelf, GNTMAP_host_map, at.va);
  XPV_EXPECT_EQ(map_status(host), GNTST_general_error);
  gnttab_map_grant_ref_t device = map_request(130, kSelf, GNTMAP_device_map, 0);
  XPV_EXPECT_EQ(map_status(device), GNTST_general_error);
  XPV_EXPECT_EQ(copy_status(copy_by_ref(131, 130, 0, 0, 64)), GNTST_general_error);
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);
  XPV_EXPECT_EQ(table().flags(130), GTF_permit_access | GTF_readonly);
  XPV_EXPECT_EQ(table().flags(131), GTF_permit_access);

  gnttab_map_grant_ref_t reader = map_request(130, kSelf, GNTMAP_host_map | GNTMAP_readonly, at.va);
  XPV_ASSERT_EQ(map_status(reader), GNTST_okay);
  XPV_EXPECT_EQ(scratch().entry(at.index) & kWritable, 0);
  unsigned faults = mm_attack::faults().count;
  mm_attack::store(reinterpret_cast<uint64_t*>(at.va), 0x4242);
  XPV_EXPECT_EQ(mm_attack::faults().count, faults + 1);
  XPV_EXPECT_EQ(unmap(reader.handle, at.va), GNTST_okay);
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);
  XPV_EXPECT(keeps_pattern(target, 5));
  XPV_EXPECT_EQ(table().flags(130), GTF_permit_access | GTF_readonly);
}

// gnttab_copy_buf: a range past the end of either page is
// GNTST_bad_copy_arg, and no byte is copied.
XPV_TEST(ACopyThatLeavesThePageCopiesNothing) {
  GrantedPair pair = granted_pair(140, 7);
  XPV_EXPECT_EQ(copy_status(copy_by_ref(140, 141, 0, 4000, 100)), GNTST_bad_copy_arg);
  XPV_EXPECT_EQ(copy_status(copy_by_ref(140, 141, 4095, 0, 2)), GNTST_bad_copy_arg);
  XPV_EXPECT_EQ(copy_status(copy_by_ref(140, 141, 0, 0xffff, 1)), GNTST_bad_copy_arg);
  XPV_EXPECT_EQ(copy_status(copy_by_ref(140, 141, 0, 0, 0xffff)), GNTST_bad_copy_arg);
  XPV_EXPECT(keeps_pattern(pair.writable, 8));
  XPV_EXPECT_EQ(table().flags(140), GTF_permit_access | GTF_readonly);
  XPV_EXPECT_EQ(table().flags(141), GTF_permit_access);
}

// gnttab_copy_lock_domain: only DOMID_SELF may name a frame by number
// (GNTST_permission_denied); gnttab_copy_claim_buf: get_paged_frame finds
// no frame of the domain (GNTST_bad_page), and a page table cannot be
// claimed writable (get_page_type, GNTST_general_error).
XPV_TEST(ACopyCannotNameAFrameItDoesNotOwnOrMayNotWrite) {
  GrantedPair pair = granted_pair(150, 9);
  const Page& source = pair.readonly;
  const Page& dest = pair.writable;
  for (domid_t foreign : {kSelf, domid_t{0}, kOtherDomain}) {
    gnttab_copy_t from = copy_from_frame(source.mfn, 151);
    from.source.domid = foreign;
    XPV_EXPECT_EQ(copy_status(from), GNTST_permission_denied);
    gnttab_copy_t to = copy_to_frame(150, dest.mfn);
    to.dest.domid = foreign;
    XPV_EXPECT_EQ(copy_status(to), GNTST_permission_denied);
  }
  uint64_t l1_entry0 = scratch().entry(0);
  for (uint64_t frame : {mm_attack::hypervisor_frame(257), mm_attack::hypervisor_frame(258),
                         mm_attack::end_of_ram_mfn(), uint64_t{table_frame_zero}}) {
    XPV_EXPECT_EQ(copy_status(copy_to_frame(150, frame)), GNTST_bad_page);
    XPV_EXPECT_EQ(copy_status(copy_from_frame(frame, 151)), GNTST_bad_page);
  }
  XPV_EXPECT_EQ(copy_status(copy_to_frame(150, scratch().mfn())), GNTST_general_error);
  XPV_EXPECT_EQ(copy_status(copy_to_frame(150, kernel_l2_mfn())), GNTST_general_error);
  XPV_EXPECT_EQ(scratch().entry(0), l1_entry0);
  XPV_EXPECT_EQ(m2p(source.mfn), source.pfn);
  XPV_EXPECT(keeps_pattern(dest, 10));
  XPV_EXPECT_EQ(table().flags(150), GTF_permit_access | GTF_readonly);
  XPV_EXPECT_EQ(table().flags(151), GTF_permit_access);
}

// map_grant_ref and acquire_grant_for_copy: get_paged_frame fails for a
// frame the granting domain does not own (the hypervisor's, past its RAM,
// or given back), GNTST_bad_page, and the in-use bits are cleared again
// (unlock_out_clear).
XPV_TEST(AGrantOfAFrameNotOwnedIsABadPage) {
  Page dest = patterned_page(11);
  table().grant(160, kSelf, dest.mfn, GTF_permit_access);
  Page gone = spare_page();
  uint64_t gone_mfn = gone.mfn;
  XPV_ASSERT_EQ(balloon_out(gone), 1);
  HostSlot at = host_slot();
  grant_ref_t ref = 161;
  for (uint64_t frame : {mm_attack::hypervisor_frame(257), mm_attack::hypervisor_frame(258),
                         mm_attack::end_of_ram_mfn(), gone_mfn}) {
    table().grant(ref, kSelf, frame, GTF_permit_access);
    gnttab_map_grant_ref_t m = map_request(ref, kSelf, GNTMAP_host_map, at.va);
    XPV_EXPECT_EQ(map_status(m), GNTST_bad_page);
    gnttab_map_grant_ref_t r = map_request(ref, kSelf, GNTMAP_host_map | GNTMAP_readonly, at.va);
    XPV_EXPECT_EQ(map_status(r), GNTST_bad_page);
    XPV_EXPECT_EQ(copy_status(copy_by_ref(ref, 160, 0, 0, 64)), GNTST_bad_page);
    XPV_EXPECT_EQ(copy_status(copy_by_ref(160, ref, 0, 0, 64)), GNTST_bad_page);
    XPV_EXPECT_EQ(table().flags(ref), GTF_permit_access);
    ++ref;
  }
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);
  XPV_EXPECT(keeps_pattern(dest, 11));
  XPV_EXPECT_EQ(table().flags(160), GTF_permit_access);
  XPV_EXPECT_EQ(balloon_in(gone), 1);
}

// map_grant_ref: a writable host or device mapping needs
// get_page_type(PGT_writable_page), which a page table does not give
// (GNTST_general_error); so does a copy into it.
XPV_TEST(AGrantOfAPageTableGivesNoWritableAccess) {
  Page source = patterned_page(12);
  table().grant(170, kSelf, scratch().mfn(), GTF_permit_access);
  table().grant(171, kSelf, kernel_l2_mfn(), GTF_permit_access);
  table().grant(172, kSelf, source.mfn, GTF_permit_access | GTF_readonly);
  HostSlot at = host_slot();
  uint64_t l1_entry0 = scratch().entry(0);
  uint64_t l2_entry0 = kernel_va_of_mfn(kernel_l2_mfn())[0];
  for (grant_ref_t ref : {170U, 171U}) {
    gnttab_map_grant_ref_t host = map_request(ref, kSelf, GNTMAP_host_map, at.va);
    XPV_EXPECT_EQ(map_status(host), GNTST_general_error);
    gnttab_map_grant_ref_t device = map_request(ref, kSelf, GNTMAP_device_map, 0);
    XPV_EXPECT_EQ(map_status(device), GNTST_general_error);
    XPV_EXPECT_EQ(copy_status(copy_by_ref(172, ref, 0, 0, 64)), GNTST_general_error);
    XPV_EXPECT_EQ(table().flags(ref), GTF_permit_access);
  }
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);
  XPV_EXPECT_EQ(scratch().entry(0), l1_entry0);
  XPV_EXPECT_EQ(kernel_va_of_mfn(kernel_l2_mfn())[0], l2_entry0);
  XPV_EXPECT_EQ(table().flags(172), GTF_permit_access | GTF_readonly);
}

// create_grant_pv_mapping with GNTMAP_contains_pte: a misaligned address,
// a frame the domain does not own (get_page_from_mfn) or one that is not an
// L1 table are GNTST_general_error; without it, a host address that no L1
// maps is too (the L1 walk finds none).
XPV_TEST(AHostMappingGoesOnlyIntoAnL1Slot) {
  Page target = patterned_page(13);
  Page data = patterned_page(14);
  table().grant(180, kSelf, target.mfn, GTF_permit_access);
  unsigned l2_slot = 509;
  uint64_t l2_entry = kernel_va_of_mfn(kernel_l2_mfn())[l2_slot];
  HostSlot unused = host_slot();
  const uint64_t pte_addresses[] = {
      entry_address(data.mfn, 3),         entry_address(kernel_l2_mfn(), l2_slot),
      entry_address(kernel_l4_mfn(), 3),  entry_address(mm_attack::hypervisor_frame(258), 0),
      entry_address(table_frame_zero, 0), entry_address(scratch().mfn(), unused.index) + 3,
  };
  for (uint64_t pte : pte_addresses) {
    gnttab_map_grant_ref_t m = map_request(180, kSelf, GNTMAP_host_map | GNTMAP_contains_pte, pte);
    XPV_EXPECT_EQ(map_status(m), GNTST_general_error);
  }
  // 1 GiB, in the user half nothing maps: no L1 to put the entry in.
  gnttab_map_grant_ref_t nowhere = map_request(180, kSelf, GNTMAP_host_map, uint64_t{1} << 30);
  XPV_EXPECT_EQ(map_status(nowhere), GNTST_general_error);
  XPV_EXPECT(keeps_pattern(data, 14));
  XPV_EXPECT(keeps_pattern(target, 13));
  XPV_EXPECT_EQ(kernel_va_of_mfn(kernel_l2_mfn())[l2_slot], l2_entry);
  XPV_EXPECT_EQ(scratch().entry(unused.index), 0);
  XPV_EXPECT_EQ(table().flags(180), GTF_permit_access);
}

// unmap_common: a handle past the maptrack or free is GNTST_bad_handle;
// replace_grant_pv_mapping: a PTE that does not map the granted frame is
// GNTST_general_error, and the mapping stays as it was.
XPV_TEST(UnmapNeedsTheHandleAndTheAddressOfTheMapping) {
  Page target = patterned_page(15);
  Page other = patterned_page(16);
  table().grant(190, kSelf, target.mfn, GTF_permit_access);
  HostSlot at = host_slot();
  HostSlot elsewhere = host_slot();
  HostSlot empty = host_slot();
  XPV_ASSERT_EQ(pt_update(scratch().mfn(), elsewhere.index, entry_of(other.mfn, kKernelRW)), 0);
  gnttab_map_grant_ref_t m = map_request(190, kSelf, GNTMAP_host_map, at.va);
  XPV_ASSERT_EQ(map_status(m), GNTST_okay);
  uint64_t mapped = scratch().entry(at.index);
  XPV_EXPECT_EQ(frame_of(mapped), target.mfn);

  for (grant_handle_t bad :
       {grant_handle_t(m.handle + 1), grant_handle_t(m.handle + 1000), grant_handle_t(0xffffffffU)})
    XPV_EXPECT_EQ(unmap(bad, at.va), GNTST_bad_handle);
  XPV_EXPECT_EQ(unmap(m.handle, elsewhere.va), GNTST_general_error);
  XPV_EXPECT_EQ(unmap(m.handle, empty.va), GNTST_general_error);
  XPV_EXPECT_EQ(scratch().entry(at.index), mapped);
  XPV_EXPECT_EQ(frame_of(scratch().entry(elsewhere.index)), other.mfn);
  XPV_EXPECT_EQ(scratch().entry(empty.index), 0);
  XPV_EXPECT_EQ(table().flags(190), GTF_permit_access | kInUse);
  XPV_EXPECT(keeps_pattern(other, 16));

  XPV_EXPECT_EQ(unmap(m.handle, at.va), GNTST_okay);
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);
  XPV_EXPECT_EQ(unmap(m.handle, at.va), GNTST_bad_handle);  // freed now
  XPV_EXPECT_EQ(table().flags(190), GTF_permit_access);
  XPV_EXPECT(keeps_pattern(target, 15));
}

// While a grant is mapped its in-use bits stay set, so the granting side's
// revocation (a compare-and-exchange to 0) fails; rewriting the entry's
// frame meanwhile changes nothing: Xen's active entry fixed the frame at
// the first pin (map_grant_ref reads the shared entry only when unpinned).
XPV_TEST(AGrantInUseCannotBeRevokedOrRedirected) {
  Page target = patterned_page(17);
  Page redirect = patterned_page(18);
  table().grant(200, kSelf, target.mfn, GTF_permit_access);
  HostSlot first = host_slot();
  HostSlot second = host_slot();
  gnttab_map_grant_ref_t m = map_request(200, kSelf, GNTMAP_host_map, first.va);
  XPV_ASSERT_EQ(map_status(m), GNTST_okay);
  XPV_EXPECT(!table().revoke(200));
  XPV_EXPECT_EQ(table().flags(200), GTF_permit_access | kInUse);

  __atomic_store_n(&table()[200].frame, static_cast<uint32_t>(redirect.mfn), __ATOMIC_RELEASE);
  gnttab_map_grant_ref_t again = map_request(200, kSelf, GNTMAP_host_map, second.va);
  XPV_ASSERT_EQ(map_status(again), GNTST_okay);
  XPV_EXPECT_EQ(again.dev_bus_addr, target.mfn << 12);
  XPV_EXPECT_EQ(frame_of(scratch().entry(second.index)), target.mfn);
  auto* through = reinterpret_cast<volatile uint8_t*>(second.va);
  XPV_EXPECT_EQ(through[5], pattern_byte(17, 5));

  XPV_EXPECT_EQ(unmap(m.handle, first.va), GNTST_okay);
  XPV_EXPECT_EQ(table().flags(200), GTF_permit_access | kInUse);  // one mapping left
  XPV_EXPECT(!table().revoke(200));
  XPV_EXPECT_EQ(unmap(again.handle, second.va), GNTST_okay);
  XPV_EXPECT_EQ(table().flags(200), GTF_permit_access);
  XPV_EXPECT(keeps_pattern(redirect, 18));
  XPV_EXPECT(keeps_pattern(target, 17));
  XPV_EXPECT(table().revoke(200));
}

// A grant mapping holds the frame's writable type as a writable PTE does
// (map_grant_ref's get_page_type(PGT_writable_page) for a device mapping,
// get_page_from_l1e for the host PTE): pinning the frame as an L1 fails as
// do_mmuext_op's MMUEXT_PIN_L1_TABLE fails for a frame of another type,
// -EINVAL, until the last writable mapping is gone.
XPV_TEST(AFrameMappedWritableThroughAGrantCannotBecomeAPageTable) {
  Page frame = spare_page();
  XPV_ASSERT_EQ(make_read_only(frame), 0);
  table().grant(210, kSelf, frame.mfn, GTF_permit_access);
  HostSlot at = host_slot();
  gnttab_map_grant_ref_t host = map_request(210, kSelf, GNTMAP_host_map, at.va);
  XPV_ASSERT_EQ(map_status(host), GNTST_okay);
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, frame.mfn), -XEN_EINVAL);
  gnttab_map_grant_ref_t device = map_request(210, kSelf, GNTMAP_device_map, 0);
  XPV_ASSERT_EQ(map_status(device), GNTST_okay);
  XPV_EXPECT_EQ(unmap(host.handle, at.va), GNTST_okay);
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, frame.mfn), -XEN_EINVAL);
  XPV_EXPECT_EQ(table().flags(210), GTF_permit_access | kInUse);
  // unmap_common: a bus address that is not the mapping's is GNTST_bad_dev_addr.
  XPV_EXPECT_EQ(unmap(device.handle, 0, device.dev_bus_addr + 4096), GNTST_bad_dev_addr);
  XPV_EXPECT_EQ(table().flags(210), GTF_permit_access | kInUse);
  XPV_EXPECT_EQ(unmap(device.handle, 0, device.dev_bus_addr), GNTST_okay);
  XPV_EXPECT_EQ(table().flags(210), GTF_permit_access);
  // With no grant mapping left the frame is only read-only mapped: a table.
  XPV_EXPECT_EQ(mmuext(MMUEXT_PIN_L1_TABLE, frame.mfn), 0);
  XPV_EXPECT_EQ(mmuext(MMUEXT_UNPIN_TABLE, frame.mfn), 0);
}

// A frame given back (decrease_reservation) while a grant holds it stays
// the domain's until the grant lets go; after that, the entry that still
// names it is refused by get_paged_frame (GNTST_bad_page) in
// map_grant_ref and acquire_grant_for_copy: no access to a freed frame.
XPV_TEST(AFrameGivenBackUnderAGrantIsNotReachedAfterItIsFreed) {
  Page page = patterned_page(19);
  Page dest = patterned_page(20);
  uint64_t freed = page.mfn;
  table().grant(220, kSelf, freed, GTF_permit_access);
  table().grant(221, kSelf, dest.mfn, GTF_permit_access);
  gnttab_map_grant_ref_t device = map_request(220, kSelf, GNTMAP_device_map | GNTMAP_readonly, 0);
  XPV_ASSERT_EQ(map_status(device), GNTST_okay);
  XPV_ASSERT_EQ(balloon_out(page), 1);
  XPV_EXPECT_EQ(table().flags(220), GTF_permit_access | GTF_reading);
  XPV_EXPECT_EQ(unmap(device.handle, 0, device.dev_bus_addr), GNTST_okay);
  XPV_EXPECT_EQ(table().flags(220), GTF_permit_access);
  HostSlot at = host_slot();
  gnttab_map_grant_ref_t again = map_request(220, kSelf, GNTMAP_host_map | GNTMAP_readonly, at.va);
  XPV_EXPECT_EQ(map_status(again), GNTST_bad_page);
  XPV_EXPECT_EQ(copy_status(copy_by_ref(220, 221, 0, 0, 64)), GNTST_bad_page);
  XPV_EXPECT_EQ(copy_status(copy_from_frame(freed, 221)), GNTST_bad_page);
  XPV_EXPECT_EQ(table().flags(220), GTF_permit_access);
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);
  XPV_EXPECT(keeps_pattern(dest, 20));
  XPV_EXPECT_EQ(balloon_in(page), 1);
}

// gnttab_setup_table: another domain is GNTST_bad_domain (or, for domain
// 0, xsm_grant_setup's GNTST_permission_denied); more than
// max_grant_frames is GNTST_general_error; a frame list in Xen's range is
// -EFAULT (guest_handle_okay). Nothing is written to the frame list and
// the table keeps its size. A table frame not handed out cannot be mapped
// (it is the hypervisor's). gnttab_set_version to 2 where only v1 is
// allowed is -ENOSYS and the version stays 1.
XPV_TEST(TheTableCannotBeTakenOverGrownOrSwitchedToV2) {
  table();  // set up
  constexpr xen_pfn_t kUntouched = 0x5a5a5a5a;
  xen_pfn_t frames[1000];
  for (xen_pfn_t& f : frames)
    f = kUntouched;
  XPV_EXPECT_EQ(setup_table(kOtherDomain, 1, frames), GNTST_bad_domain);
  XPV_EXPECT_EQ(setup_table(0, 1, frames), GNTST_permission_denied);
  XPV_EXPECT_EQ(setup_table(DOMID_SELF, 65, frames), GNTST_general_error);
  XPV_EXPECT_EQ(setup_table(DOMID_SELF, 1000, frames), GNTST_general_error);
  // guest_handle_okay checks only where the list starts: a count no list
  // could hold is refused by the limit; a list in Xen's range is -EFAULT.
  XPV_EXPECT_EQ(setup_table(DOMID_SELF, 0xffffffffU, frames), GNTST_general_error);
  XPV_EXPECT_EQ(setup_table(DOMID_SELF, 1, reinterpret_cast<xen_pfn_t*>(HYPERVISOR_VIRT_START)),
                100 - XEN_EFAULT);
  for (xen_pfn_t f : frames)
    XPV_EXPECT_EQ(f, kUntouched);
  XPV_EXPECT_EQ(query_size(DOMID_SELF).nr_frames, 1);

  HostSlot at = host_slot();
  XPV_EXPECT_EQ(update_va_mapping(at.va, entry_of(table_frame_zero + 1, kKernelRW)), -XEN_EBUSY);
  XPV_EXPECT_EQ(scratch().entry(at.index), 0);

  gnttab_set_version_t v{2};
  XPV_EXPECT_EQ(grant_op(GNTTABOP_set_version, &v), -XEN_ENOSYS);
  XPV_EXPECT_EQ(v.version, 1);
  gnttab_get_version_t g{};
  g.dom = DOMID_SELF;
  XPV_EXPECT_EQ(grant_op(GNTTABOP_get_version, &g), 0);
  XPV_EXPECT_EQ(g.version, 1);
  // The reserved entries the toolstack seeded are still v1 entries.
  XPV_EXPECT_EQ(table().flags(GNTTAB_RESERVED_XENSTORE), GTF_permit_access);
  XPV_EXPECT_EQ(table()[GNTTAB_RESERVED_XENSTORE].frame, xpv::guest::start_info_page().store_mfn);
}

}  // namespace
