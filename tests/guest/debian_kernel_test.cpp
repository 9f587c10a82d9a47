// Debian's stock cloud kernel, unmodified (scripts/fetch-debian-kernel.sh,
// run by `make test`), booted as a PV domU with the project's boot-test
// initramfs (scripts/build-initramfs.sh, also built by `make test`), whose
// /init checks the system from user mode and powers off.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "guest/background_xpv.hpp"
#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

std::string debian_kernel() {
  return build_path("debian/vmlinuz");
}

// Boot log lines that Linux 6.1 prints only if the hypervisor behaves
// (linux-pv-guest.md "Log checkpoints"), in order. A kernel on one vCPU
// frees its SMP alternatives; on several it reports them all up instead.
std::vector<std::string> milestones(unsigned vcpus) {
  return {"Booting kernel on Xen",
          "Xen version: 4.17-xpv (preserve-AD)",
          "xen:events: Using 2-level ABI",
          "printk: console [hvc0] enabled",
          vcpus == 1 ? "Freeing SMP alternatives memory"
                     : "smp: Brought up 1 node, " + std::to_string(vcpus) + " CPUs",
          "xen:balloon: Initialising balloon driver",
          "Run /init as init process"};
}

// The value after "XPV-TEST: <name> " in the boot-test output, or -1.
long marker_value(const std::string& out, const std::string& name) {
  std::string key = "XPV-TEST: " + name + " ";
  size_t at = out.find(key);
  return at == std::string::npos ? -1 : std::strtol(out.c_str() + at + key.size(), nullptr, 10);
}

// Boots on `vcpus` vCPUs; one boot serves every check, for boots are the
// slowest tests here.
void boot_and_check_user_space(unsigned vcpus) {
  if (!require_kvm()) return;
  ASSERT_TRUE(std::filesystem::exists(debian_kernel()))
      << "run scripts/fetch-debian-kernel.sh " << build_path("debian") << " (make test does)";
  std::string initramfs = build_path("debian/initramfs-boottest.cpio.gz");
  ASSERT_TRUE(std::filesystem::exists(initramfs))
      << "run scripts/build-initramfs.sh " << build_path("debian") << " boottest";
  constexpr long kMemoryMib = 256;
  XpvRun run = run_xpv(
      {"run", "--kernel", debian_kernel(), "--ramdisk", initramfs, "--memory",
       std::to_string(kMemoryMib), "--vcpus", std::to_string(vcpus), "--cmdline", "console=hvc0"},
      400);
  const std::string& out = run.out;

  size_t at = 0;
  for (const std::string& milestone : milestones(vcpus)) {
    size_t found = out.find(milestone, at);
    ASSERT_NE(found, std::string::npos) << "missing: " << milestone << "\n" << out << run.err;
    at = found;
  }
  EXPECT_NE(out.find("XPV-TEST: uname-r 6.1.0-"), std::string::npos) << out;
  EXPECT_EQ(marker_value(out, "cpus"), static_cast<long>(vcpus)) << out;
  long memtotal = marker_value(out, "memtotal-kib");
  EXPECT_GT(memtotal, kMemoryMib * 1024 * 3 / 4) << out;
  EXPECT_LE(memtotal, kMemoryMib * 1024) << out;
  EXPECT_NE(out.find("XPV-TEST: insmod xen-blkfront ok"), std::string::npos) << out;
  EXPECT_NE(out.find("XPV-TEST: insmod xen-netfront ok"), std::string::npos) << out;
  EXPECT_NE(out.find("XPV-TEST: fork-exec 1000 ok"), std::string::npos) << out;
  EXPECT_NE(out.find("XPV-TEST: alloc-100mib ok"), std::string::npos) << out;
  // `sleep 1`, spawning `sleep` included, within 10%: timed on the
  // guest's clock, and on the host's by when its markers arrived.
  long sleep_ms = marker_value(out, "sleep-1s-ms");
  EXPECT_GE(sleep_ms, 1000) << out;
  EXPECT_LE(sleep_ms, 1100) << out;
  double host_ms = 1000 * (arrival_seconds(run, out.find("XPV-TEST: sleep-1s-ms")) -
                           arrival_seconds(run, out.find("XPV-TEST: sleep-begin")));
  EXPECT_GE(host_ms, 900) << out;
  EXPECT_LE(host_ms, 1100) << out;
  EXPECT_NE(out.find("XPV-TEST: dmesg-clean yes"), std::string::npos) << out;
  EXPECT_NE(out.find("XPV-TEST: done"), std::string::npos) << out;
  EXPECT_EQ(run.exit_status, 0) << "poweroff from /init ends xpv with status 0\n" << run.err;
}

TEST(DebianKernel, BootsToUserSpaceRunsTheBootTestAndPowersOff) {
  boot_and_check_user_space(1);
}

// Linux brings CPU 1 up with VCPUOP_initialise and VCPUOP_up
// (arch/x86/xen/smp_pv.c), and its spinlocks then wait in SCHEDOP_poll.
TEST(DebianKernel, BootsWithTwoVcpusOnline) {
  boot_and_check_user_space(2);
}

// `xl shutdown`'s way: the first SIGTERM writes control/shutdown in the
// guest's xenstore, Linux's xenbus watch sees it and runs poweroff_cmd,
// and xpv ends with the guest's own power-off (status 0), not a destroy.
TEST(DebianKernel, PowersItselfOffWhenTheHostAsksWithSigterm) {
  if (!require_kvm()) return;
  std::string initramfs = build_path("debian/initramfs-shell.cpio.gz");
  ASSERT_TRUE(std::filesystem::exists(initramfs))
      << "run scripts/build-initramfs.sh " << build_path("debian") << " shell";
  BackgroundXpv xpv({"run", "--kernel", debian_kernel(), "--ramdisk", initramfs, "--memory", "256",
                     "--cmdline", "console=hvc0 quiet"});
  ASSERT_TRUE(xpv.started());
  ASSERT_TRUE(xpv.wait_for_output("xpv:/# ", std::chrono::minutes(5))) << xpv.out() << xpv.err();
  xpv.send(SIGTERM);
  EXPECT_EQ(xpv.wait_for_exit(std::chrono::seconds(60)), 0) << xpv.out() << xpv.err();
  EXPECT_NE(xpv.err().find("asked the guest to power off"), std::string::npos) << xpv.err();
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
