#include "domain/hypercall_page.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "xen/abi.hpp"

namespace xpv::domain {
namespace {

using Page = std::array<uint8_t, 4096>;

Page written_page(uint8_t prefill) {
  Page page;
  page.fill(prefill);
  write_hypercall_page(page);
  return page;
}

std::vector<uint8_t> stub_bytes(const Page& page, unsigned nr) {
  auto begin = page.begin() + nr * kHypercallStubSize;
  return {begin, begin + kHypercallStubSize};
}

// push %rcx; push %r11; mov $nr,%eax; syscall; pop %r11; pop %rcx; ret,
// then int3 padding to 32 bytes.
std::vector<uint8_t> expected_stub(unsigned nr) {
  std::vector<uint8_t> stub = {0x51,
                               0x41,
                               0x53,
                               0xb8,
                               static_cast<uint8_t>(nr),
                               static_cast<uint8_t>(nr >> 8),
                               static_cast<uint8_t>(nr >> 16),
                               static_cast<uint8_t>(nr >> 24),
                               0x0f,
                               0x05,
                               0x41,
                               0x5b,
                               0x59,
                               0xc3};
  stub.resize(kHypercallStubSize, 0xcc);
  return stub;
}

TEST(HypercallPage, HasOne32ByteStubPerHypercallNumber) {
  EXPECT_EQ(kHypercallStubSize, 32u);
  EXPECT_EQ(4096 / kHypercallStubSize, 128u);
}

TEST(HypercallPage, EachStubSavesRcxR11AndIssuesSyscallWithItsNumber) {
  Page page = written_page(0x00);
  for (unsigned nr = 0; nr < 128; ++nr) {
    if (nr == __HYPERVISOR_iret) continue;
    EXPECT_EQ(stub_bytes(page, nr), expected_stub(nr)) << "stub " << nr;
  }
}

TEST(HypercallPage, IretStubPushesRaxAndNeverReturns) {
  ASSERT_EQ(__HYPERVISOR_iret, 23);
  Page page = written_page(0x00);
  // push %rcx; push %r11; push %rax; mov $23,%eax; syscall
  std::vector<uint8_t> expected = {0x51, 0x41, 0x53, 0x50, 0xb8, 0x17,
                                   0x00, 0x00, 0x00, 0x0f, 0x05};
  expected.resize(kHypercallStubSize, 0xcc);
  EXPECT_EQ(stub_bytes(page, __HYPERVISOR_iret), expected);
}

TEST(HypercallPage, FillsEveryByteNotInAStubWithInt3) {
  // Whatever the page held before, the result is the same.
  Page from_zero = written_page(0x00);
  Page from_ones = written_page(0xff);
  EXPECT_EQ(from_zero, from_ones);
  size_t int3 = static_cast<size_t>(std::count(from_zero.begin(), from_zero.end(), 0xcc));
  EXPECT_EQ(int3, 127 * (32 - 14) + (32 - 11));
}

TEST(HypercallPage, EncodesStubNumbersLittleEndian) {
  Page page = written_page(0x00);
  unsigned nr = 0x7f;  // the last stub
  EXPECT_EQ(page[nr * kHypercallStubSize + 3], 0xb8);
  EXPECT_EQ(page[nr * kHypercallStubSize + 4], 0x7f);
  EXPECT_EQ(page[nr * kHypercallStubSize + 5], 0x00);
}

}  // namespace
}  // namespace xpv::domain
