// The LDT: MMUEXT_SET_LDT with Xen's argument rules (do_mmuext_op), its
// frames held as descriptor pages while in use, and its selectors (TI=1)
// loadable by the guest.
#include <initializer_list>

#include "cpu-selftest/traps.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace {

using namespace cpu_selftest;
using xpv::guest::hypercall;

constexpr uint64_t kPresent = 1, kWritable = 2, kAccessed = 0x20, kDirty = 0x40;
constexpr uint64_t kKernelRW = kPresent | kWritable | kAccessed | kDirty;
constexpr uint64_t kKernelRO = kPresent | kAccessed;
constexpr uint64_t kNonCanonical = 0x8000000000000000;

// A DPL-3 writable data segment at `base` (32 bits), limit 4 GiB.
constexpr uint64_t data_descriptor(uint32_t base) {
  return 0x00cff2000000ffffULL | (uint64_t{base & 0xffffff} << 16) | (uint64_t{base >> 24} << 56) |
         (3ULL << 45);
}
constexpr uint32_t kSegmentBase = 0x12345000;
constexpr uint16_t kLdtSelector0 = 0x7;  // index 0, TI=1, RPL 3
constexpr uint16_t kLdtSelector1 = 0xf;

alignas(4096) uint64_t ldt_page[512];
uint64_t marker = 0x1d7'5e6;

long set_ldt(uint64_t base, uint64_t entries) {
  mmuext_op_t op{};
  op.cmd = MMUEXT_SET_LDT;
  op.arg1.linear_addr = base;
  op.arg2.nr_ents = static_cast<unsigned>(entries);
  return hypercall(__HYPERVISOR_mmuext_op, address_of(&op), 1, 0, DOMID_SELF);
}

long map_ldt_page(uint64_t flags) {
  return hypercall(__HYPERVISOR_update_va_mapping, address_of(ldt_page),
                   (xpv::guest::mfn_of(ldt_page) << 12) | flags, UVMF_INVLPG | UVMF_LOCAL);
}

void load_fs(uint16_t selector) {
  asm volatile("mov %0, %%fs" ::"r"(selector));
}

// Reads `marker` through %fs, assuming its base is kSegmentBase.
uint64_t read_marker_through_fs() {
  uint64_t offset = address_of(&marker) - kSegmentBase, value;
  asm volatile("mov %%fs:(%1), %0" : "=r"(value) : "r"(offset));
  return value;
}

// Installs ldt_page (one descriptor) as the LDT, and takes it away again.
struct ScopedLdt {
  long rc;
  ScopedLdt() {
    ldt_page[0] = data_descriptor(kSegmentBase);
    rc = map_ldt_page(kKernelRO);
    if (rc == 0) rc = set_ldt(address_of(ldt_page), 1);
  }
  ~ScopedLdt() {
    load_fs(0);
    hypercall(__HYPERVISOR_set_segment_base, SEGBASE_FS, 0);
    set_ldt(0, 0);
    map_ldt_page(kKernelRW);
  }
};

XPV_TEST(SetLdtRefusesBadArguments) {
  uint64_t page = address_of(ldt_page);
  XPV_EXPECT_EQ(set_ldt(page + 8, 1), -XEN_EINVAL);  // not page-aligned
  XPV_EXPECT_EQ(set_ldt(page, 8193), -XEN_EINVAL);   // more than an LDT holds
  XPV_EXPECT_EQ(set_ldt(kNonCanonical, 1), -XEN_EINVAL);
  XPV_EXPECT_EQ(set_ldt(HYPERVISOR_VIRT_START, 1), -XEN_EINVAL);
  // With no entries the address is ignored.
  XPV_EXPECT_EQ(set_ldt(kNonCanonical + 8, 0), 0);
}

XPV_TEST(LdtDataSegmentLoadsIntoFs) {
  ScopedLdt ldt;
  XPV_ASSERT_EQ(ldt.rc, 0);
  long trapped = try_run([] { load_fs(kLdtSelector0); });
  XPV_ASSERT_EQ(trapped, 0);
  uint64_t seen = 0;
  XPV_EXPECT_EQ(try_run([&] { seen = read_marker_through_fs(); }), 0);
  XPV_EXPECT_EQ(seen, marker);
}

XPV_TEST(LdtSelectorBeyondItsEntriesFaults) {
  ScopedLdt ldt;
  XPV_ASSERT_EQ(ldt.rc, 0);
  XPV_EXPECT_EQ(try_run([] { load_fs(kLdtSelector1); }), kTrapped + kGeneralProtection);
  XPV_EXPECT_EQ(last_trap().error_code, kLdtSelector1 & ~3u);
}

// While it is the LDT the page is a descriptor page: the guest cannot map
// it writable. SET_LDT 0 gives it back.
XPV_TEST(LdtPageCannotBeMappedWritableWhileInUse) {
  {
    ScopedLdt ldt;
    XPV_ASSERT_EQ(ldt.rc, 0);
    XPV_EXPECT(map_ldt_page(kKernelRW) < 0);
  }
  XPV_EXPECT_EQ(map_ldt_page(kKernelRW), 0);
  ldt_page[1] = 0;  // writable again
}

XPV_TEST(NoLdtSelectorLoadsWithoutAnLdt) {
  XPV_EXPECT_EQ(try_run([] { load_fs(kLdtSelector0); }), kTrapped + kGeneralProtection);
  XPV_EXPECT_EQ(last_trap().error_code, kLdtSelector0 & ~3u);
}

}  // namespace
