// console_io (xen/drivers/char/console.c do_console_io): CONSOLEIO_write
// copies the guest's bytes to the console, CONSOLEIO_read returns what is
// waiting without blocking. cmd and count are `unsigned int`.
//
// With "console-input=TEXT" on the command line, the host has sent
// "TEXT\n" (TEXT at least four characters) to xpv's stdin; otherwise
// nothing is waiting.
#include "hypercall-selftest/selftest.hpp"
#include "runtime/runtime.hpp"
#include "runtime/string.hpp"
#include "runtime/test.hpp"

namespace {

using namespace selftest;
using xpv::guest::console_write;
using xpv::guest::hypercall;

constexpr uint64_t kHigh32 = 1ULL << 32;

long console_read(uint64_t count, uint64_t buffer) {
  return hypercall(__HYPERVISOR_console_io, CONSOLEIO_read, count, buffer);
}

long console_read(uint64_t count, char* buffer) {
  return console_read(count, reinterpret_cast<uintptr_t>(buffer));
}

// The input the host sent, without its newline, or nullptr.
const char* expected_input(size_t* length) {
  return option_value("console-input", length);
}

XPV_TEST(WriteReturnsZero) {
  const char text[] = "console_io: write ok\n";
  XPV_EXPECT_EQ(console_write(text, sizeof text - 1), 0);
}

// Nothing is copied, so nothing can fault.
XPV_TEST(WriteOfZeroBytesSucceedsWhateverTheBuffer) {
  for (uint64_t address : kBadAddresses) {
    XPV_EXPECT_EQ(console_write(reinterpret_cast<const char*>(address), 0), 0);
  }
}

XPV_TEST(WriteFromBadBufferFailsWithEfault) {
  for (uint64_t address : kBadAddresses) {
    XPV_EXPECT_EQ(console_write(reinterpret_cast<const char*>(address), 8), -XEN_EFAULT);
  }
}

// Only the low 32 bits of cmd and count count: with a 64-bit count this
// write would run 4 GiB past its buffer and fault.
XPV_TEST(CommandAndCountAre32Bits) {
  const char text[] = "console_io: 32-bit count ok\n";
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_console_io, kHigh32 | CONSOLEIO_write,
                          kHigh32 | (sizeof text - 1), reinterpret_cast<uintptr_t>(text)),
                0);
}

// A buffer that starts mapped and runs off the end of the kernel mapping.
XPV_TEST(WriteRunningIntoAnUnmappedPageFailsWithEfault) {
  uint64_t end = kernel_mapping_end();
  XPV_EXPECT_EQ(console_write(reinterpret_cast<const char*>(end - 8), 16), -XEN_EFAULT);
}

// Several pages, starting just before a page boundary.
XPV_TEST(WriteSpanningSeveralPagesSucceeds) {
  alignas(4096) static char buffer[3 * 4096];
  constexpr size_t kStart = 4096 - 100;
  constexpr size_t kLength = 6000;
  memset(buffer + kStart, '.', kLength - 1);
  buffer[kStart + kLength - 1] = '\n';
  XPV_EXPECT_EQ(console_write(buffer + kStart, kLength), 0);
}

// Reads "TEXT\n" in pieces: the first byte once it arrives, then two more.
XPV_TEST(ReadReturnsWaitingInputUpToCount) {
  size_t length = 0;
  const char* input = expected_input(&length);
  if (input == nullptr) return;
  XPV_ASSERT(length >= 4);
  char first = 0;
  long rc = 0;
  for (int attempt = 0; attempt < 1000000 && rc == 0; ++attempt) {
    rc = console_read(1, &first);
    if (rc == 0) xpv::guest::sched_yield();
  }
  XPV_ASSERT_EQ(rc, 1);
  XPV_EXPECT_EQ(first, input[0]);
  char next[2] = {};
  XPV_EXPECT_EQ(console_read(2, next), 2);
  XPV_EXPECT_EQ(memcmp(next, input + 1, 2), 0);
}

// With nothing waiting, Xen's read loop copies nothing and returns 0 even
// for a bad buffer; with input waiting the copy faults.
XPV_TEST(ReadIntoBadBufferFailsWithEfault) {
  size_t length = 0;
  if (expected_input(&length) == nullptr) {
    for (uint64_t address : kBadAddresses) {
      XPV_EXPECT_EQ(console_read(16, address), 0);
    }
    return;
  }
  XPV_EXPECT_EQ(console_read(2, kUnmappedUserAddress), -XEN_EFAULT);
}

// Xen advances its input ring only past bytes it copied, so input survives
// a faulting read.
XPV_TEST(ReadAfterAFaultReturnsTheRest) {
  size_t length = 0;
  const char* input = expected_input(&length);
  if (input == nullptr) return;
  char rest[64] = {};
  long rc = console_read(sizeof rest, rest);
  XPV_ASSERT(rc > 0);
  XPV_EXPECT_EQ(rest[rc - 1], '\n');
  if (!known_bug_check_enabled("console-read-fault-keeps-input")) return;
  XPV_EXPECT_EQ(rc, static_cast<long>(length - 3 + 1));
  XPV_EXPECT_EQ(memcmp(rest, input + 3, length - 3), 0);
}

XPV_TEST(ReadWithNothingWaitingReturnsZero) {
  char buffer[16];
  XPV_EXPECT_EQ(console_read(sizeof buffer, buffer), 0);
  XPV_EXPECT_EQ(console_read(0, buffer), 0);
}

// The result is a count or a negative errno, so Xen refuses a count that
// does not fit in an int (-E2BIG) rather than let the two overlap.
XPV_TEST(ReadCountAboveIntMaxFailsWithE2big) {
  if (!known_bug_check_enabled("console-read-e2big")) return;
  char buffer[16];
  XPV_EXPECT_EQ(console_read(0x80000000, buffer), -XEN_E2BIG);
  XPV_EXPECT_EQ(console_read(0xffffffff, buffer), -XEN_E2BIG);
}

XPV_TEST(UnknownCommandFailsWithEnosys) {
  char buffer[16];
  XPV_EXPECT_EQ(
      hypercall(__HYPERVISOR_console_io, 2, sizeof buffer, reinterpret_cast<uintptr_t>(buffer)),
      -XEN_ENOSYS);
  XPV_EXPECT_EQ(hypercall(__HYPERVISOR_console_io, 0xffffffff, 0, 0), -XEN_ENOSYS);
}

}  // namespace
