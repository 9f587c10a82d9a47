// The grant-table self-test guest checks GNTTABOP_* from inside the
// domain: sizes and versions, the table's frames mapped and written,
// copies and mappings through grants it gave itself, and Xen's refusals
// of forged grants. It prints "N passed, M failed".
#include <gtest/gtest.h>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

TEST(GrantSelftest, AllPass) {
  if (!require_kvm()) return;
  XpvRun run = run_xpv({"run", "--kernel", build_path("guests/grant-selftest"), "--memory", "64"});
  expect_all_pass(run, 16);
}

TEST(GrantSelftest, AllPassWithTwoVcpus) {
  if (!require_kvm()) return;
  XpvRun run = run_xpv(
      {"run", "--kernel", build_path("guests/grant-selftest"), "--memory", "64", "--vcpus", "2"});
  expect_all_pass(run, 16);
}

}  // namespace
}  // namespace xpv::test
