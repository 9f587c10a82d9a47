// Debian's stock cloud kernel, unmodified (scripts/fetch-debian-kernel.sh,
// run by `make test`): recognised as a 64-bit PV kernel, laid out, started,
// and run until xpv lacks what it asks for, which must end in a clean
// crash report rather than a hang. Later issues move the line it stops at.
#include <gtest/gtest.h>

#include <filesystem>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

std::string debian_kernel() {
  return build_path("debian/vmlinuz");
}

TEST(DebianKernel, RunsItsFirstHypercallsThenStopsCleanly) {
  if (!require_kvm()) return;
  ASSERT_TRUE(std::filesystem::exists(debian_kernel()))
      << "run scripts/fetch-debian-kernel.sh " << build_path("debian") << " (make test does)";
  XpvRun run = run_xpv({"run", "--trace", "--kernel", debian_kernel()}, 120);
  EXPECT_NE(run.exit_status, -1) << "xpv hung on the Debian kernel";
  // Its first hypercalls, in Linux 6.1's order (linux-pv-guest.md §4).
  auto get_features = run.err.find("xen_version(get_features");
  auto machphys = run.err.find("memory_op(machphys_mapping");
  ASSERT_NE(get_features, std::string::npos) << run.err;
  ASSERT_NE(machphys, std::string::npos) << run.err;
  EXPECT_LT(get_features, machphys);
  EXPECT_NE(run.err.find("= 0"), std::string::npos) << run.err;
  // It stops where xpv stops: a named -ENOSYS, then a full crash report.
  EXPECT_NE(run.err.find("unimplemented hypercall"), std::string::npos) << run.err;
  EXPECT_EQ(run.exit_status, 2) << run.err;
  EXPECT_NE(run.err.find("xpv: domain crashed:"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("=> ffffffff8"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("Last hypercalls:"), std::string::npos) << run.err;
}

TEST(DebianKernel, IsRefusedWhenMemoryCannotHoldIt) {
  if (!require_kvm()) return;
  ASSERT_TRUE(std::filesystem::exists(debian_kernel()));
  XpvRun run = run_xpv({"run", "--memory", "32", "--kernel", debian_kernel()});
  EXPECT_EQ(run.exit_status, 1) << run.err;
  EXPECT_NE(run.err.find("MiB"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace xpv::test
