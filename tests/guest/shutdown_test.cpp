// Each SCHEDOP_shutdown reason ends `xpv run` with its documented exit
// status: 0 poweroff, 2 crash, 3 reboot, 4 suspend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

using ::testing::HasSubstr;

struct ReasonAndStatus {
  const char* reason;  // the shutdown guest's command line
  int exit_status;
};

// Names the parameter in test listings (instead of its bytes).
void PrintTo(const ReasonAndStatus& expected, std::ostream* out) {
  *out << expected.reason << " -> exit " << expected.exit_status;
}

class ShutdownGuest : public ::testing::TestWithParam<ReasonAndStatus> {};

TEST_P(ShutdownGuest, EndsXpvWithTheDocumentedStatus) {
  if (!require_kvm()) return;
  const ReasonAndStatus& expected = GetParam();
  XpvRun run =
      run_xpv({"run", "--kernel", build_path("guests/shutdown"), "--cmdline", expected.reason});
  EXPECT_EQ(run.exit_status, expected.exit_status) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr(std::string("shutdown: reason ")));
  EXPECT_THAT(run.out, ::testing::Not(HasSubstr("SCHEDOP_shutdown returned")));
}

// Xen records any reason code; those it does not know count as a crash. It
// keeps the reason as a byte (domain_shutdown takes a u8), so 256 is
// poweroff and 258 is suspend.
INSTANTIATE_TEST_SUITE_P(
    EachReason, ShutdownGuest,
    ::testing::Values(ReasonAndStatus{"poweroff", 0}, ReasonAndStatus{"reboot", 3},
                      ReasonAndStatus{"soft_reset", 3}, ReasonAndStatus{"suspend", 4},
                      ReasonAndStatus{"crash", 2}, ReasonAndStatus{"watchdog", 2},
                      ReasonAndStatus{"6", 2}, ReasonAndStatus{"255", 2}, ReasonAndStatus{"256", 0},
                      ReasonAndStatus{"258", 4}),
    [](const ::testing::TestParamInfo<ReasonAndStatus>& test) {
      std::string name = test.param.reason;
      return name[0] >= '0' && name[0] <= '9' ? "code" + name : name;
    });

TEST(ShutdownGuestMessages, NonPoweroffEndsAreExplainedOnStderr) {
  if (!require_kvm()) return;
  XpvRun run = run_xpv({"run", "--kernel", build_path("guests/shutdown"), "--cmdline", "reboot"});
  EXPECT_EQ(run.exit_status, 3);
  EXPECT_THAT(run.err, HasSubstr("reboot")) << run.err;
  XpvRun poweroff =
      run_xpv({"run", "--kernel", build_path("guests/shutdown"), "--cmdline", "poweroff"});
  EXPECT_EQ(poweroff.exit_status, 0);
  EXPECT_EQ(poweroff.err, "");
}

}  // namespace
}  // namespace xpv::test
