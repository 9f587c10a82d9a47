// Direct paging and ballooning under KVM: guests/mm-selftest builds,
// pins, switches to and tears down address spaces of its own, maps with
// every update hypercall, runs batches long enough to be continued, and
// balloons frames out and back in. These tests boot it and read its
// verdict ("N passed, M failed").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

void expect_all_pass(const std::vector<std::string>& options) {
  std::vector<std::string> args = {"run", "--kernel", build_path("guests/mm-selftest")};
  args.insert(args.end(), options.begin(), options.end());
  // The guest has 19 tests; fewer means some silently vanished.
  constexpr int kMinimumChecks = 19;
  xpv::test::expect_all_pass(run_xpv(args, 60), kMinimumChecks);
}

TEST(MmSelftest, AllPassWith64MiB) {
  if (!require_kvm()) return;
  expect_all_pass({"--memory", "64"});
}

TEST(MmSelftest, AllPassWith256MiBAndTwoVcpus) {
  if (!require_kvm()) return;
  expect_all_pass({"--memory", "256", "--vcpus", "2"});
}

}  // namespace
}  // namespace xpv::test
