// A hostile guest under KVM: guests/mm-attack tries to escape its memory
// through direct paging (writable page tables, frames it does not own,
// the hypervisor's slots and frames, type confusion, the M2P, batches,
// ballooning, foreign domains) and through the grant table (forged or
// misused grants), and checks that each attempt fails with Xen's error
// code and changes nothing. These tests boot it and read its
// verdict ("N passed, M failed").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

void expect_all_refused(const std::vector<std::string>& options) {
  std::vector<std::string> args = {"run", "--kernel", build_path("guests/mm-attack")};
  args.insert(args.end(), options.begin(), options.end());
  // 45 attacks (14 of them through the grant table); fewer means some
  // silently vanished.
  constexpr int kMinimumAttacks = 45;
  xpv::test::expect_all_pass(run_xpv(args, 60), kMinimumAttacks);
}

TEST(MmAttack, EveryEscapeIsRefusedWith64MiB) {
  if (!require_kvm()) return;
  expect_all_refused({"--memory", "64"});
}

TEST(MmAttack, EveryEscapeIsRefusedWith256MiBAndTwoVcpus) {
  if (!require_kvm()) return;
  expect_all_refused({"--memory", "256", "--vcpus", "2"});
}

}  // namespace
}  // namespace xpv::test
