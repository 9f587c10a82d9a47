// SIGINT and SIGTERM destroy a running domain that has no xenstore watch
// on control/shutdown, so no way to power itself off on request: xpv exits
// with status 5 promptly, though the guest never stops on its own.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "guest/background_xpv.hpp"
#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kBootTimeout{30'000};
constexpr milliseconds kPromptly{5'000};

void expect_signal_destroys_spinning_domain(int signal_number, const char* signal_name,
                                            const std::vector<std::string>& extra_args) {
  std::vector<std::string> args = {"run", "--kernel", build_path("guests/spin")};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  BackgroundXpv xpv(args);
  ASSERT_TRUE(xpv.started());
  ASSERT_TRUE(xpv.wait_for_output("spinning\n", kBootTimeout)) << xpv.out() << xpv.err();

  auto sent = Clock::now();
  xpv.send(signal_number);
  int status = xpv.wait_for_exit(kPromptly);
  auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - sent);

  EXPECT_EQ(status, 5) << xpv.err();
  EXPECT_LT(took, kPromptly);
  EXPECT_THAT(xpv.err(), HasSubstr(std::string("destroyed by ") + signal_name)) << xpv.err();
}

TEST(SpinGuest, SigtermDestroysTheDomainWithStatus5) {
  if (!require_kvm()) return;
  expect_signal_destroys_spinning_domain(SIGTERM, "SIGTERM", {});
}

TEST(SpinGuest, SigintDestroysTheDomainWithStatus5) {
  if (!require_kvm()) return;
  expect_signal_destroys_spinning_domain(SIGINT, "SIGINT", {});
}

// The second vCPU never comes online; it must not hold up the exit.
TEST(SpinGuest, SigtermDestroysATwoVcpuDomain) {
  if (!require_kvm()) return;
  expect_signal_destroys_spinning_domain(SIGTERM, "SIGTERM", {"--vcpus", "2"});
}

}  // namespace
}  // namespace xpv::test
