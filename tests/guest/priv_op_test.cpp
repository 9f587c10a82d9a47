// The privileged-instruction self-test guest executes, from guest kernel
// mode, each instruction xpv emulates or refuses, and physdev_op; these
// tests boot it and read its verdict ("N passed, M failed").
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

using ::testing::HasSubstr;

XpvRun run_selftest(const std::vector<std::string>& options) {
  std::vector<std::string> args = {"run", "--kernel", build_path("guests/priv-op-selftest")};
  args.insert(args.end(), options.begin(), options.end());
  return run_xpv(args, 60);
}

TEST(PrivOpSelftest, AllPass) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest({"--memory", "64"}));
}

// Port I/O state and the I/O privilege are per vCPU; vCPU 0 runs the
// tests either way.
TEST(PrivOpSelftest, AllPassWithTwoVcpus) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest({"--memory", "64", "--vcpus", "2"}));
}

// get_free_pirq and an unknown physdev_op are named once on stderr.
TEST(PrivOpSelftest, ReportsUnimplementedPhysdevOps) {
  if (!require_kvm()) return;
  XpvRun run = run_selftest({"--memory", "64"});
  expect_all_pass(run);
  EXPECT_THAT(run.err, HasSubstr("unimplemented hypercall physdev_op sub-op get_free_pirq (23)"));
  EXPECT_THAT(run.err, HasSubstr("unimplemented hypercall physdev_op sub-op 99"));
}

}  // namespace
}  // namespace xpv::test
