// The hypercall-fuzz guest issues thousands of random hypercalls with
// hostile arguments. Whatever it passes, xpv must answer with Xen's error
// codes or by crashing the domain: `xpv run` ends with status 0 (the guest
// finished and powered off) or 2 (the domain crashed, explained on
// stderr), never with 1 (an error in xpv itself), a signal, or a hang.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int kCallsPerSeed = 3000;
constexpr int kTimeoutSeconds = 60;

class HypercallFuzz : public ::testing::TestWithParam<int> {};

TEST_P(HypercallFuzz, XpvAnswersEveryCallWithoutFailingItself) {
  if (!require_kvm()) return;
  const std::string cmdline = std::to_string(GetParam()) + " " + std::to_string(kCallsPerSeed);
  XpvRun run =
      run_xpv({"run", "--kernel", build_path("guests/hypercall-fuzz"), "--cmdline", cmdline},
              kTimeoutSeconds);
  ASSERT_NE(run.exit_status, -1) << "xpv hung (killed after " << kTimeoutSeconds << " s)\n"
                                 << run.err;
  ASSERT_TRUE(run.exit_status == 0 || run.exit_status == 2)
      << "exit status " << run.exit_status << " (1: xpv error, >128: signal)\n"
      << run.err;
  if (run.exit_status == 0) {
    EXPECT_THAT(run.out, HasSubstr(": " + std::to_string(kCallsPerSeed) + " calls: ok "));
  } else {
    // A crashed domain comes with its reason and a register dump.
    EXPECT_THAT(run.err, HasSubstr("xpv: domain crashed: "));
    EXPECT_THAT(run.err, HasSubstr("rip: "));
  }
  // Messages of a failure inside xpv (run_command.cpp prints "xpv: " and
  // the error for those, and they end with status 1).
  EXPECT_THAT(run.err, Not(HasSubstr("internal error")));
  EXPECT_THAT(run.err, Not(HasSubstr("AddressSanitizer")));
}

INSTANTIATE_TEST_SUITE_P(Seeds, HypercallFuzz, ::testing::Range(1, 9),
                         [](const ::testing::TestParamInfo<int>& seed) {
                           return "seed" + std::to_string(seed.param);
                         });

}  // namespace
}  // namespace xpv::test
