// `xpv run` refuses a domain size it cannot build with exit status 1 and a
// one-line error, before any guest code runs.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

using ::testing::HasSubstr;

XpvRun run_hello(const std::string& option, const std::string& value) {
  return run_xpv({"run", "--kernel", build_path("guests/hello"), option, value});
}

void expect_one_line_refusal(const XpvRun& run, const std::string& mentioning) {
  EXPECT_EQ(run.exit_status, 1) << run.out << run.err;
  EXPECT_EQ(run.out, "");
  ASSERT_FALSE(run.err.empty());
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << run.err;  // exactly one line
  EXPECT_THAT(run.err, HasSubstr(mentioning));
}

TEST(MemoryAndVcpuLimits, RefusesMoreMemoryThanADomainCanHave) {
  if (!require_kvm()) return;  // the limits are checked after /dev/kvm is opened
  expect_one_line_refusal(run_hello("--memory", "1000000000"), "memory");
}

TEST(MemoryAndVcpuLimits, RefusesLessMemoryThanAKernelNeeds) {
  if (!require_kvm()) return;  // the limits are checked after /dev/kvm is opened
  expect_one_line_refusal(run_hello("--memory", "0"), "memory");
  expect_one_line_refusal(run_hello("--memory", "3"), "memory");
}

TEST(MemoryAndVcpuLimits, RefusesZeroVcpus) {
  if (!require_kvm()) return;  // the limits are checked after /dev/kvm is opened
  expect_one_line_refusal(run_hello("--vcpus", "0"), "vcpus");
}

TEST(MemoryAndVcpuLimits, RefusesMoreVcpusThanXenAllows) {
  if (!require_kvm()) return;  // the limits are checked after /dev/kvm is opened
  expect_one_line_refusal(run_hello("--vcpus", "999"), "vcpus");
  expect_one_line_refusal(run_hello("--vcpus", "33"), "vcpus");  // XEN_LEGACY_MAX_VCPUS is 32
}

TEST(MemoryAndVcpuLimits, AcceptsTheSmallestMemoryAndTheMostVcpus) {
  if (!require_kvm()) return;
  EXPECT_EQ(run_hello("--memory", "4").exit_status, 0);
  EXPECT_EQ(run_hello("--vcpus", "32").exit_status, 0);
}

// memory_mib << 20 wraps around: 2^44 + 4 MiB becomes 4 MiB, and xpv boots
// a 4 MiB domain instead of refusing (2^44 MiB gives a misleading
// "cannot map 0 MiB" error).
TEST(MemoryAndVcpuLimits, RefusesMemoryThatOverflowsWhenConvertedToBytes) {
  if (!require_kvm()) return;  // the limits are checked after /dev/kvm is opened
  expect_one_line_refusal(run_hello("--memory", "17592186044420"), "--memory");
  expect_one_line_refusal(run_hello("--memory", "17592186044416"), "--memory");
}

}  // namespace
}  // namespace xpv::test
