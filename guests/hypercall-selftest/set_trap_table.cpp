// set_trap_table (xen/arch/x86/pv/traps.c do_set_trap_table): reads
// trap_info entries until one has address 0. Xen checks for preemption
// after each entry and continues the hypercall where it stopped; xpv does
// 256 entries per pass. Every test clears the table again.
#include "hypercall-selftest/selftest.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace {

using namespace selftest;
using xpv::guest::hypercall;

// Exceptions are not delivered to guests yet; if they ever reach a handler
// registered here, the test run says so.
void unexpected_trap() {
  xpv::guest::panic("an exception reached a self-test trap handler");
}

trap_info_t entry_for(unsigned vector) {
  trap_info_t entry{};
  entry.vector = static_cast<uint8_t>(vector);
  entry.flags = 0;  // DPL 0: only the kernel may raise it with `int`
  entry.cs = FLAT_KERNEL_CS;
  entry.address = reinterpret_cast<uintptr_t>(&unexpected_trap);
  return entry;
}

long set_trap_table(uint64_t list) {
  return hypercall(__HYPERVISOR_set_trap_table, list);
}

long set_trap_table(const trap_info_t* list) {
  return set_trap_table(reinterpret_cast<uintptr_t>(list));
}

// `count` entries with vectors cycling through 0-255, then the terminator.
void fill(trap_info_t* list, unsigned count) {
  for (unsigned i = 0; i < count; ++i)
    list[i] = entry_for(i % 256);
  list[count] = trap_info_t{};
}

XPV_TEST(NullClearsTheTable) {
  XPV_EXPECT_EQ(set_trap_table(uint64_t{0}), 0);
}

XPV_TEST(ShortListEndingInZeroAddressSucceeds) {
  trap_info_t list[4];
  fill(list, 3);
  XPV_EXPECT_EQ(set_trap_table(list), 0);
  XPV_EXPECT_EQ(set_trap_table(uint64_t{0}), 0);
}

XPV_TEST(EmptyListSucceeds) {
  trap_info_t terminator{};
  XPV_EXPECT_EQ(set_trap_table(&terminator), 0);
}

XPV_TEST(NonCanonicalHandlerFailsWithEinval) {
  trap_info_t list[3];
  fill(list, 2);
  list[1].address = kNonCanonicalAddress;
  XPV_EXPECT_EQ(set_trap_table(list), -XEN_EINVAL);
  XPV_EXPECT_EQ(set_trap_table(uint64_t{0}), 0);
}

XPV_TEST(BadListPointerFailsWithEfault) {
  for (uint64_t address : kBadAddresses) {
    XPV_EXPECT_EQ(set_trap_table(address), -XEN_EFAULT);
  }
}

// 600 entries take three passes; the guest sees one call that returns 0.
XPV_TEST(SixHundredEntryListSucceedsAcrossContinuations) {
  static trap_info_t list[601];
  fill(list, 600);
  XPV_EXPECT_EQ(set_trap_table(list), 0);
  XPV_EXPECT_EQ(set_trap_table(uint64_t{0}), 0);
}

// An error after the first pass is still reported to the caller.
XPV_TEST(BadEntryAfterTheFirstPassFailsWithEinval) {
  static trap_info_t list[301];
  fill(list, 300);
  list[280].address = kNonCanonicalAddress;
  XPV_EXPECT_EQ(set_trap_table(list), -XEN_EINVAL);
  XPV_EXPECT_EQ(set_trap_table(uint64_t{0}), 0);
}

// 300 entries without a terminator, ending exactly where the kernel mapping
// ends: the continued call must fault rather than run on. The last pages of
// the mapping are the spare pages libxc leaves unused.
XPV_TEST(UnterminatedListRunningOffTheMappingFailsWithEfault) {
  constexpr unsigned kCount = 300;
  auto* list = reinterpret_cast<trap_info_t*>(kernel_mapping_end() - kCount * sizeof(trap_info_t));
  for (unsigned i = 0; i < kCount; ++i)
    list[i] = entry_for(i % 256);
  XPV_EXPECT_EQ(set_trap_table(list), -XEN_EFAULT);
  XPV_EXPECT_EQ(set_trap_table(uint64_t{0}), 0);
}

}  // namespace
