// The first guest: boots, prints through console_io, powers off.
#include <gtest/gtest.h>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

TEST(HelloGuest, PrintsGreetingAndPowersOff) {
  if (!require_kvm()) return;
  XpvRun run = run_xpv({"run", "--kernel", build_path("guests/hello")});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_NE(run.out.find("Hello from an xpv PV guest!"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Xen version 4.17"), std::string::npos) << run.out;
}

TEST(HelloGuest, TraceShowsEachHypercall) {
  if (!require_kvm()) return;
  XpvRun run = run_xpv({"run", "--trace", "--kernel", build_path("guests/hello")});
  EXPECT_EQ(run.exit_status, 0) << run.err;
  EXPECT_NE(run.err.find("console_io(write"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("xen_version(version"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("sched_op(shutdown"), std::string::npos) << run.err;
}

TEST(RunCommand, RefusesANonKernelFileWithOneLine) {
  XpvRun run = run_xpv({"run", "--kernel", "/etc/passwd"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_EQ(run.out, "");
  ASSERT_FALSE(run.err.empty());
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << run.err;  // exactly one line
  EXPECT_NE(run.err.find("/etc/passwd"), std::string::npos) << run.err;
}

TEST(RunCommand, RefusesAMissingKernelFile) {
  XpvRun run = run_xpv({"run", "--kernel", "/nonexistent/vmlinuz"});
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_NE(run.err.find("/nonexistent/vmlinuz"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace xpv::test
