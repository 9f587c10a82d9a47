// mov to and from CR0, CR2, CR3 and CR4, and clts: the guest's views
// Xen keeps of them.
#include "priv-op-selftest/priv_op.hpp"
#include "runtime/runtime.hpp"
#include "runtime/test.hpp"

namespace {

using namespace priv_op;

constexpr uint64_t kPe = 1ULL << 0, kMp = 1ULL << 1, kTs = 1ULL << 3, kEt = 1ULL << 4,
                   kNe = 1ULL << 5, kWp = 1ULL << 16, kPg = 1ULL << 31;
constexpr uint64_t kTsd = 1ULL << 2, kDe = 1ULL << 3, kPse = 1ULL << 4, kPae = 1ULL << 5,
                   kPge = 1ULL << 7, kOsfxsr = 1ULL << 9, kOsxmmexcpt = 1ULL << 10,
                   kFsgsbase = 1ULL << 16, kOsxsave = 1ULL << 18, kSmep = 1ULL << 20;
// A virtual address no guest page table maps (the image is at -2 GiB).
constexpr uint64_t kUnmapped = 0x10000;

long fpu_taskswitch(int set) {
  return xpv::guest::hypercall(__HYPERVISOR_fpu_taskswitch, static_cast<uint64_t>(set));
}

XPV_TEST(Cr0ShowsAProtectedPagedKernelWithoutTs) {
  uint64_t cr0 = read_cr0();
  constexpr uint64_t kExpected = kPe | kMp | kEt | kNe | kWp | kPg;
  XPV_EXPECT_EQ(cr0 & kExpected, kExpected);
  XPV_EXPECT_EQ(cr0 & kTs, 0u);
}

XPV_TEST(Cr0ShowsTheTsOfFpuTaskswitch) {
  XPV_ASSERT_EQ(fpu_taskswitch(1), 0);
  XPV_EXPECT_EQ(read_cr0() & kTs, kTs);
  XPV_ASSERT_EQ(fpu_taskswitch(0), 0);
  XPV_EXPECT_EQ(read_cr0() & kTs, 0u);
}

XPV_TEST(MovToCr0AndCltsSwitchTs) {
  uint64_t cr0 = read_cr0();
  XPV_EXPECT(!try_run([cr0] { write_cr0(cr0 | kTs); }).taken);
  XPV_EXPECT_EQ(read_cr0(), cr0 | kTs);
  clts();
  XPV_EXPECT_EQ(read_cr0(), cr0);
  write_cr0(cr0 | kTs);
  write_cr0(cr0);
  XPV_EXPECT_EQ(read_cr0(), cr0);
}

XPV_TEST(MovToCr0ChangingAnotherBitRaisesGp) {
  uint64_t cr0 = read_cr0();
  Trap trap = try_run([cr0] { write_cr0(cr0 & ~kWp); });
  XPV_EXPECT(trap.taken);
  XPV_EXPECT_EQ(trap.vector, kGeneralProtection);
  XPV_EXPECT_EQ(read_cr0(), cr0);
}

XPV_TEST(Cr4ShowsPaeAndTheSseBits) {
  XPV_EXPECT_EQ(read_cr4(), kPae | kOsfxsr | kOsxmmexcpt);
}

// Of what Linux may try, only TSD stays: PGE and PSE are Xen's, DE,
// FSGSBASE and OSXSAVE need features CPUID hides.
XPV_TEST(MovToCr4KeepsOnlyTheBitsTheGuestMayControl) {
  uint64_t cr4 = read_cr4();
  write_cr4(cr4 | kTsd | kDe | kPse | kPge | kFsgsbase | kOsxsave | kSmep);
  XPV_EXPECT_EQ(read_cr4(), cr4 | kTsd);
  write_cr4(cr4 & ~kPae);  // visible bits are Xen's: clearing them does nothing
  XPV_EXPECT_EQ(read_cr4(), cr4);
}

// With CR4.TSD rdtsc faults at CPL3; the kernel's is emulated.
XPV_TEST(RdtscKeepsWorkingInTheKernelUnderCr4Tsd) {
  uint64_t cr4 = read_cr4();
  write_cr4(cr4 | kTsd);
  uint64_t first = 0, second = 0;
  Trap trap = try_run([&] {
    first = rdtsc();
    second = rdtsc();
  });
  write_cr4(cr4);
  XPV_EXPECT(!trap.taken);
  XPV_EXPECT(first != 0);
  XPV_EXPECT(second > first);
}

XPV_TEST(Cr2ReadsTheLastPageFaultAddress) {
  Trap trap = try_run([] { (void)*reinterpret_cast<volatile uint64_t*>(kUnmapped); });
  XPV_ASSERT(trap.taken);
  XPV_EXPECT_EQ(trap.vector, kPageFault);
  XPV_EXPECT_EQ(read_cr2(), kUnmapped);
}

XPV_TEST(MovToCr2IsReadBack) {
  write_cr2(0x1234);
  XPV_EXPECT_EQ(read_cr2(), 0x1234u);
}

XPV_TEST(Cr3IsTheKernelRootsMachineAddress) {
  auto root = reinterpret_cast<const void*>(xpv::guest::start_info_page().pt_base);
  XPV_EXPECT_EQ(read_cr3(), xpv::guest::mfn_of(root) << 12);
}

// The emulation writes the register the instruction names, and only it.
XPV_TEST(MovWithHighRegistersUsesTheNamedOne) {
  register uint64_t r9 asm("r9") = 0x99;
  register uint64_t r10 asm("r10") = 0x1010;
  register uint64_t rbx asm("rbx") = 0xbb;
  asm volatile("mov %%cr3, %0" : "+r"(r9), "+r"(r10), "+r"(rbx));
  uint64_t cr3 = r9, other = r10, callee_saved = rbx;
  XPV_EXPECT_EQ(cr3, read_cr3());
  XPV_EXPECT_EQ(other, 0x1010u);
  XPV_EXPECT_EQ(callee_saved, 0xbbu);
  register uint64_t r14 asm("r14") = 0x5678;
  asm volatile("mov %0, %%cr2" : : "r"(r14) : "memory");
  XPV_EXPECT_EQ(read_cr2(), 0x5678u);
}

XPV_TEST(Cr8RaisesGp) {
  XPV_EXPECT_EQ(try_run([] { (void)read_cr8(); }).vector, kGeneralProtection);
  XPV_EXPECT_EQ(try_run([] { write_cr8(0); }).vector, kGeneralProtection);
}

XPV_TEST(MovToCr3RaisesGp) {
  // Xen would switch page tables (new_guest_cr3); xpv leaves that to
  // MMUEXT_NEW_BASEPTR, which a PV kernel uses.
  uint64_t cr3 = read_cr3();
  XPV_EXPECT_EQ(try_run([cr3] { write_cr3(cr3); }).vector, kGeneralProtection);
}

}  // namespace
