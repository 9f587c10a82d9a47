// Grant tables v1 from inside a PV domain (xen/grant_table.h): the table's
// size and version, its frames mapped and written as Linux does, copies
// and mappings through grants the domain gave itself, and the refusals
// Xen answers to forged or invalid grants (common/grant_table.c).
#include "grant-common/grants.hpp"
#include "mm-common/pte.hpp"
#include "runtime/console.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"
#include "runtime/test.hpp"

// runtime/xen.hpp has pinned the interface version.
// clang-format off
#include <xen/grant_table.h>
#include <xen/memory.h>
// clang-format on

namespace {

using xpv::guest::hypercall;
using xpv::guest::mfn_of;
using namespace grants;

using namespace guest_pte;

// Pages of this image the tests use: data pages to grant, and pages whose
// virtual addresses are remapped onto grant-table frames or grants.
enum Page : unsigned {
  kSource,
  kDest,
  kMapped,
  kSpare,
  kTableWindow,   // VA onto grant-table frame 0
  kTableWindow1,  // VA onto grant-table frame 1
  kHostMap,       // VA for map_grant_ref
  kHostMap2,
  kPages
};
alignas(4096) uint8_t pages[kPages][4096];

uint64_t va_of(Page p) {
  return reinterpret_cast<uintptr_t>(pages[p]);
}
uint64_t mfn(Page p) {
  return mfn_of(pages[p]);
}

// Maps grant-table frame `frame` at the VA of `window`, as Linux maps the
// frames setup_table returns (arch_gnttab_map_shared).
grant_entry_v1_t* table_frame(Page window, xen_pfn_t frame) {
  long rc = hypercall(__HYPERVISOR_update_va_mapping, va_of(window),
                      (frame << 12) | kPresent | kWritable | kAccessed | kDirty,
                      UVMF_INVLPG | UVMF_LOCAL);
  if (rc != 0) xpv::guest::panic("mapping grant frame %lx: %ld", frame, rc);
  return reinterpret_cast<grant_entry_v1_t*>(pages[window]);
}

grants::Table table() {
  static grant_entry_v1_t* entries = nullptr;
  if (entries == nullptr) {
    xen_pfn_t frames[2] = {};
    if (setup_table(DOMID_SELF, 2, frames) != GNTST_okay) xpv::guest::panic("setup_table");
    entries = table_frame(kTableWindow, frames[0]);
  }
  return grants::Table(entries);
}

// --- Size and version ---------------------------------------------------------

XPV_TEST(QuerySizeStartsAtOneOfSixtyFourFrames) {
  gnttab_query_size_t q = query_size(DOMID_SELF);
  XPV_EXPECT_EQ(q.status, GNTST_okay);
  XPV_EXPECT_EQ(q.nr_frames, 1);
  XPV_EXPECT_EQ(q.max_nr_frames, 64);
  XPV_EXPECT_EQ(query_size(kSelf).status, GNTST_okay);
  XPV_EXPECT_EQ(query_size(0).status, GNTST_permission_denied);
  XPV_EXPECT_EQ(query_size(7).status, GNTST_bad_domain);
}

XPV_TEST(VersionIsOneAndTwoIsUnavailable) {
  gnttab_get_version_t g{};
  g.dom = DOMID_SELF;
  XPV_EXPECT_EQ(grant_op(GNTTABOP_get_version, &g), 0);
  XPV_EXPECT_EQ(g.version, 1);
  g.dom = 0;
  XPV_EXPECT_EQ(grant_op(GNTTABOP_get_version, &g), -XEN_EPERM);
  g.dom = 9;
  XPV_EXPECT_EQ(grant_op(GNTTABOP_get_version, &g), -XEN_ESRCH);
  gnttab_set_version_t s{1};
  XPV_EXPECT_EQ(grant_op(GNTTABOP_set_version, &s), 0);
  XPV_EXPECT_EQ(s.version, 1);
  s.version = 2;
  XPV_EXPECT_EQ(grant_op(GNTTABOP_set_version, &s), -XEN_ENOSYS);
  XPV_EXPECT_EQ(s.version, 1);
  s.version = 3;
  XPV_EXPECT_EQ(grant_op(GNTTABOP_set_version, &s), -XEN_EINVAL);
  XPV_EXPECT_EQ(s.version, 1);
}

XPV_TEST(SetupTableGrowsTheTableAndHandsOutFramesOutsideRam) {
  xen_pfn_t frames[4] = {};
  XPV_ASSERT_EQ(setup_table(DOMID_SELF, 4, frames), GNTST_okay);
  long max_ram = hypercall(__HYPERVISOR_memory_op, XENMEM_maximum_ram_page, 0);
  for (unsigned i = 0; i < 4; ++i) {
    XPV_EXPECT(frames[i] > static_cast<uint64_t>(max_ram));
    for (unsigned j = 0; j < i; ++j)
      XPV_EXPECT(frames[i] != frames[j]);
  }
  XPV_EXPECT_EQ(query_size(DOMID_SELF).nr_frames, 4);
  xen_pfn_t again[2] = {};
  XPV_EXPECT_EQ(setup_table(kSelf, 2, again), GNTST_okay);  // never shrinks
  XPV_EXPECT_EQ(again[0], frames[0]);
  XPV_EXPECT_EQ(again[1], frames[1]);
  XPV_EXPECT_EQ(query_size(DOMID_SELF).nr_frames, 4);
}

XPV_TEST(SetupTableRefusesWhatXenRefuses) {
  xen_pfn_t frames[65] = {};
  XPV_EXPECT_EQ(setup_table(DOMID_SELF, 65, frames), GNTST_general_error);
  XPV_EXPECT_EQ(query_size(DOMID_SELF).nr_frames, 4);
  XPV_EXPECT_EQ(setup_table(0, 1, frames), GNTST_permission_denied);
  XPV_EXPECT_EQ(setup_table(5, 1, frames), GNTST_bad_domain);
  // The frame list is not writable: the status says so.
  XPV_EXPECT_EQ(setup_table(DOMID_SELF, 1, reinterpret_cast<xen_pfn_t*>(0x1000)),
                GNTST_bad_virt_addr);
  gnttab_setup_table_t s{};
  s.dom = DOMID_SELF;
  XPV_EXPECT_EQ(grant_op(GNTTABOP_setup_table, &s, 2), -XEN_EINVAL);
  XPV_EXPECT_EQ(grant_op(GNTTABOP_setup_table, reinterpret_cast<void*>(0x1000)), -XEN_EFAULT);
  XPV_EXPECT_EQ(grant_op(GNTTABOP_copy, &s, 0x80000000U), -XEN_EINVAL);
  XPV_EXPECT_EQ(grant_op(GNTTABOP_query_size | (1U << 12), &s), -XEN_EINVAL);
}

// dump_table is not in Xen's do_grant_table_op either.
XPV_TEST(DumpTableFailsWithEnosysAsOnXen) {
  gnttab_dump_table_t t{};
  t.dom = DOMID_SELF;
  XPV_EXPECT_EQ(grant_op(GNTTABOP_dump_table, &t), -XEN_ENOSYS);
}

// --- The frames, mapped ---------------------------------------------------------

XPV_TEST(GrantFramesAreMappableAndKeepWhatIsWritten) {
  xen_pfn_t frames[2] = {};
  XPV_ASSERT_EQ(setup_table(DOMID_SELF, 2, frames), GNTST_okay);
  grant_entry_v1_t* second = table_frame(kTableWindow1, frames[1]);
  table().grant(3, 0, 0x1234, GTF_permit_access);
  second[5].frame = 0xabcd;
  XPV_EXPECT_EQ(table()[3].frame, 0x1234);
  XPV_EXPECT_EQ(table()[3].domid, 0);
  XPV_EXPECT_EQ(second[5].frame, 0xabcd);
  table().grant(3, 0, 0, 0);
  second[5].frame = 0;
  // A frame of the table not handed out is still the hypervisor's: refused
  // as any frame of Xen's own (-EBUSY, as PageTypes answers).
  xen_pfn_t beyond = frames[1] + 60;
  long rc = hypercall(__HYPERVISOR_update_va_mapping, va_of(kSpare),
                      (beyond << 12) | kPresent | kWritable, UVMF_INVLPG | UVMF_LOCAL);
  XPV_EXPECT_EQ(rc, -XEN_EBUSY);
}

// The toolstack seeds the reserved entries (libxl's xc_dom_gnttab_seed):
// the console and xenstore pages, granted to their backends in domain 0.
XPV_TEST(ReservedEntriesGrantConsoleAndXenstoreToDomainZero) {
  const start_info_t& si = xpv::guest::start_info_page();
  const grant_entry_v1_t& console = table()[GNTTAB_RESERVED_CONSOLE];
  const grant_entry_v1_t& store = table()[GNTTAB_RESERVED_XENSTORE];
  XPV_EXPECT_EQ(console.flags, GTF_permit_access);
  XPV_EXPECT_EQ(console.domid, 0);
  XPV_EXPECT_EQ(console.frame, si.console.domU.mfn);
  XPV_EXPECT_EQ(store.flags, GTF_permit_access);
  XPV_EXPECT_EQ(store.domid, 0);
  XPV_EXPECT_EQ(store.frame, si.store_mfn);
  XPV_EXPECT_EQ(table()[2].flags, 0);
}

// --- GNTTABOP_copy ----------------------------------------------------------------

XPV_TEST(CopyBetweenOwnPagesThroughGrants) {
  for (unsigned i = 0; i < 4096; ++i)
    pages[kSource][i] = static_cast<uint8_t>(i * 7);
  memset(pages[kDest], 0, 4096);
  table().grant(10, kSelf, mfn(kSource), GTF_permit_access | GTF_readonly);
  table().grant(11, kSelf, mfn(kDest), GTF_permit_access);
  XPV_EXPECT_EQ(copy_status(copy_by_ref(10, 11, 100, 200, 300)), GNTST_okay);
  XPV_EXPECT_EQ(memcmp(pages[kDest] + 200, pages[kSource] + 100, 300), 0);
  XPV_EXPECT_EQ(pages[kDest][199], 0);
  XPV_EXPECT_EQ(pages[kDest][500], 0);
  XPV_EXPECT_EQ(table().flags(10), GTF_permit_access | GTF_readonly);  // no bit left set
  XPV_EXPECT_EQ(table().flags(11), GTF_permit_access);
}

XPV_TEST(CopyMayNameOwnFramesWithDomidSelfOnly) {
  memset(pages[kDest], 0, 4096);
  gnttab_copy_t c = copy_by_ref(0, 11, 0, 0, 64);
  c.flags = GNTCOPY_dest_gref;
  c.source.u.gmfn = mfn(kSource);
  XPV_EXPECT_EQ(copy_status(c), GNTST_okay);
  XPV_EXPECT_EQ(memcmp(pages[kDest], pages[kSource], 64), 0);
  c.source.domid = kSelf;  // only DOMID_SELF may name a frame
  XPV_EXPECT_EQ(copy_status(c), GNTST_permission_denied);
  c.source.domid = DOMID_SELF;
  c.source.u.gmfn = 0x10;  // below the domain's RAM
  XPV_EXPECT_EQ(copy_status(c), GNTST_bad_page);
}

XPV_TEST(CopyRefusesForgedAndInvalidGrants) {
  table().grant(12, 0, mfn(kDest), GTF_permit_access);  // granted to domain 0, not us
  table().grant(13, kSelf, mfn(kDest), 0);              // nothing permitted
  XPV_EXPECT_EQ(copy_status(copy_by_ref(10, 10, 0, 0, 8)), GNTST_general_error);  // r/o dest
  XPV_EXPECT_EQ(copy_status(copy_by_ref(10, 12, 0, 0, 8)), GNTST_general_error);
  XPV_EXPECT_EQ(copy_status(copy_by_ref(10, 13, 0, 0, 8)), GNTST_general_error);
  XPV_EXPECT_EQ(copy_status(copy_by_ref(10, 64 * 512, 0, 0, 8)), GNTST_bad_gntref);
  XPV_EXPECT_EQ(copy_status(copy_by_ref(10, 11, 4000, 0, 100)), GNTST_bad_copy_arg);
  gnttab_copy_t c = copy_by_ref(10, 11, 0, 0, 8);
  c.dest.domid = 7;
  XPV_EXPECT_EQ(copy_status(c), GNTST_bad_domain);
  c.source.u.ref = 64 * 512;  // both domains are checked before either grant
  XPV_EXPECT_EQ(copy_status(c), GNTST_bad_domain);
  XPV_EXPECT_EQ(table().flags(10), GTF_permit_access | GTF_readonly);
  XPV_EXPECT_EQ(table().flags(11), GTF_permit_access);
  XPV_EXPECT_EQ(table().flags(12), GTF_permit_access);
}

// Each request of a batch gets its own status.
XPV_TEST(CopyBatchReportsEachStatus) {
  gnttab_copy_t batch[3] = {copy_by_ref(10, 11, 0, 0, 16), copy_by_ref(10, 12, 0, 0, 16),
                            copy_by_ref(10, 11, 16, 16, 16)};
  XPV_EXPECT_EQ(grant_op(GNTTABOP_copy, batch, 3), 0);
  XPV_EXPECT_EQ(batch[0].status, GNTST_okay);
  XPV_EXPECT_EQ(batch[1].status, GNTST_general_error);
  XPV_EXPECT_EQ(batch[2].status, GNTST_okay);
  XPV_EXPECT_EQ(grant_op(GNTTABOP_copy, reinterpret_cast<void*>(0x1000), 1), -XEN_EFAULT);
}

// A batch longer than one pass is continued where it stopped, as Xen
// continues after a preemption check: every request is done exactly once.
gnttab_copy_t long_batch[600];

XPV_TEST(LongCopyBatchIsContinuedToTheEnd) {
  memset(pages[kDest], 0, 4096);
  for (unsigned i = 0; i < 600; ++i)
    long_batch[i] = copy_by_ref(10, 11, static_cast<uint16_t>(i), static_cast<uint16_t>(i), 1);
  long_batch[599].dest.offset = 4096;  // the last one leaves the page
  XPV_EXPECT_EQ(grant_op(GNTTABOP_copy, long_batch, 600), 0);
  unsigned okay = 0;
  for (unsigned i = 0; i < 599; ++i)
    okay += long_batch[i].status == GNTST_okay ? 1 : 0;
  XPV_EXPECT_EQ(okay, 599);
  XPV_EXPECT_EQ(long_batch[599].status, GNTST_bad_copy_arg);
  XPV_EXPECT_EQ(memcmp(pages[kDest], pages[kSource], 599), 0);
  XPV_EXPECT_EQ(pages[kDest][599], 0);
  XPV_EXPECT_EQ(table().flags(10), GTF_permit_access | GTF_readonly);
  XPV_EXPECT_EQ(table().flags(11), GTF_permit_access);
}

// --- map_grant_ref of a grant the domain gave itself -------------------------------

XPV_TEST(MapGrantRefOfOwnGrantMapsTheFrame) {
  pages[kMapped][0] = 0x42;
  table().grant(20, kSelf, mfn(kMapped), GTF_permit_access);
  gnttab_map_grant_ref_t m = map_request(20, kSelf, GNTMAP_host_map, va_of(kHostMap));
  XPV_ASSERT_EQ(grant_op(GNTTABOP_map_grant_ref, &m), 0);
  XPV_ASSERT_EQ(m.status, GNTST_okay);
  XPV_EXPECT_EQ(m.dev_bus_addr, mfn(kMapped) << 12);
  volatile uint8_t* through = pages[kHostMap];
  XPV_EXPECT_EQ(through[0], 0x42);
  through[1] = 0x43;
  XPV_EXPECT_EQ(pages[kMapped][1], 0x43);
  XPV_EXPECT_EQ(table().flags(20) & kInUse, kInUse);
  XPV_EXPECT(!table().revoke(20));  // in use: the guest cannot take it back
  XPV_EXPECT_EQ(unmap(m.handle, va_of(kHostMap)), GNTST_okay);
  XPV_EXPECT_EQ(table().flags(20) & kInUse, 0);
  XPV_EXPECT_EQ(unmap(m.handle, va_of(kHostMap)), GNTST_bad_handle);
  XPV_EXPECT(table().revoke(20));
}

XPV_TEST(ReadOnlyMapOfOwnGrantMarksOnlyReading) {
  table().grant(21, kSelf, mfn(kMapped), GTF_permit_access | GTF_readonly);
  gnttab_map_grant_ref_t m =
      map_request(21, kSelf, GNTMAP_host_map | GNTMAP_readonly, va_of(kHostMap2));
  XPV_ASSERT_EQ(grant_op(GNTTABOP_map_grant_ref, &m), 0);
  XPV_ASSERT_EQ(m.status, GNTST_okay);
  volatile uint8_t* through = pages[kHostMap2];
  XPV_EXPECT_EQ(through[1], 0x43);
  XPV_EXPECT_EQ(table().flags(21) & kInUse, GTF_reading);
  XPV_EXPECT_EQ(unmap(m.handle, va_of(kHostMap2)), GNTST_okay);
  XPV_EXPECT_EQ(table().flags(21), GTF_permit_access | GTF_readonly);
}

XPV_TEST(MapGrantRefRefusesForgedAndInvalidGrants) {
  table().grant(22, 0, mfn(kMapped), GTF_permit_access);                     // someone else's
  table().grant(23, kSelf, mfn(kMapped), GTF_permit_access | GTF_readonly);  // read-only
  table().grant(24, kSelf, mfn(kMapped), 0);                                 // not permitted
  struct Case {
    gnttab_map_grant_ref_t request;
    int16_t status;
  } cases[] = {
      {map_request(22, kSelf, GNTMAP_host_map, va_of(kHostMap)), GNTST_general_error},
      {map_request(23, kSelf, GNTMAP_host_map, va_of(kHostMap)), GNTST_general_error},
      {map_request(24, kSelf, GNTMAP_host_map, va_of(kHostMap)), GNTST_general_error},
      {map_request(20, kSelf, GNTMAP_readonly, va_of(kHostMap)), GNTST_bad_gntref},
      {map_request(4096, kSelf, GNTMAP_host_map, va_of(kHostMap)), GNTST_bad_gntref},
      {map_request(20, DOMID_SELF, GNTMAP_host_map, va_of(kHostMap)), GNTST_bad_domain},
      {map_request(20, 0, GNTMAP_host_map, va_of(kHostMap)), GNTST_bad_domain},
  };
  table().grant(20, kSelf, mfn(kMapped), GTF_permit_access);
  for (Case& c : cases) {
    XPV_EXPECT_EQ(grant_op(GNTTABOP_map_grant_ref, &c.request), 0);
    XPV_EXPECT_EQ(c.request.status, c.status);
  }
  // A host address no L1 maps.
  gnttab_map_grant_ref_t nowhere = map_request(20, kSelf, GNTMAP_host_map, va_of(kHostMap));
  nowhere.host_addr = 0x1000;
  XPV_EXPECT_EQ(grant_op(GNTTABOP_map_grant_ref, &nowhere), 0);
  XPV_EXPECT_EQ(nowhere.status, GNTST_general_error);
  XPV_EXPECT_EQ(table().flags(20), GTF_permit_access);
  XPV_EXPECT_EQ(table().flags(22), GTF_permit_access);
  XPV_EXPECT_EQ(table().flags(23), GTF_permit_access | GTF_readonly);
  XPV_EXPECT_EQ(unmap(12345, va_of(kHostMap)), GNTST_bad_handle);
}

// replace_grant_pv_mapping: unmapping checks that the PTE still maps the
// granted frame as the grant mapping made it; otherwise the mapping stays.
XPV_TEST(UnmapRefusesAPteThatNoLongerMapsTheGrant) {
  table().grant(25, kSelf, mfn(kMapped), GTF_permit_access);
  gnttab_map_grant_ref_t m = map_request(25, kSelf, GNTMAP_host_map, va_of(kHostMap));
  XPV_ASSERT_EQ(grant_op(GNTTABOP_map_grant_ref, &m), 0);
  XPV_ASSERT_EQ(m.status, GNTST_okay);
  uint64_t rw = kPresent | kWritable | kAccessed | kDirty;
  XPV_ASSERT_EQ(hypercall(__HYPERVISOR_update_va_mapping, va_of(kHostMap), (mfn(kSpare) << 12) | rw,
                          UVMF_INVLPG | UVMF_LOCAL),
                0);
  XPV_EXPECT_EQ(unmap(m.handle, va_of(kHostMap)), GNTST_general_error);
  XPV_EXPECT_EQ(table().flags(25) & kInUse, kInUse);
  XPV_EXPECT(!table().revoke(25));
  XPV_ASSERT_EQ(hypercall(__HYPERVISOR_update_va_mapping, va_of(kHostMap),
                          (mfn(kMapped) << 12) | kPresent | kAccessed, UVMF_INVLPG | UVMF_LOCAL),
                0);
  XPV_EXPECT_EQ(unmap(m.handle, va_of(kHostMap)), GNTST_general_error);  // read-only now
  XPV_ASSERT_EQ(hypercall(__HYPERVISOR_update_va_mapping, va_of(kHostMap),
                          (mfn(kMapped) << 12) | rw, UVMF_INVLPG | UVMF_LOCAL),
                0);
  XPV_EXPECT_EQ(unmap(m.handle, va_of(kHostMap)), GNTST_okay);
  XPV_EXPECT_EQ(table().flags(25), GTF_permit_access);
}

}  // namespace

int guest_main() {
  return xpv::guest::run_all_tests();
}
