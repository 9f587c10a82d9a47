// Debian's stock cloud kernel, unmodified (scripts/fetch-debian-kernel.sh,
// run by `make test`), booted as a PV domU. Each later issue moves the
// milestone it must reach; for now its early boot, on the hvc0 console,
// through the Xen clock, event channels and xenstore-backed drivers.
#include <gtest/gtest.h>

#include <filesystem>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

std::string debian_kernel() {
  return build_path("debian/vmlinuz");
}

// Boot log lines that Linux 6.1 prints only if the hypervisor behaves
// (linux-pv-guest.md "Log checkpoints"), in order.
const char* const kMilestones[] = {
    "Booting kernel on Xen",           "Xen version: 4.17-xpv (preserve-AD)",
    "xen:events: Using 2-level ABI",   "printk: console [hvc0] enabled",
    "Freeing SMP alternatives memory", "xen:balloon: Initialising balloon driver",
};

TEST(DebianKernel, BootsThroughItsXenMilestonesOnHvc0) {
  if (!require_kvm()) return;
  ASSERT_TRUE(std::filesystem::exists(debian_kernel()))
      << "run scripts/fetch-debian-kernel.sh " << build_path("debian") << " (make test does)";
  // The boot goes on past the last milestone until the timeout ends it.
  XpvRun run = run_xpv({"run", "--kernel", debian_kernel(), "--cmdline", "console=hvc0"}, 90);
  size_t at = 0;
  for (const char* milestone : kMilestones) {
    size_t found = run.out.find(milestone, at);
    ASSERT_NE(found, std::string::npos) << "missing: " << milestone << "\n" << run.out << run.err;
    at = found;
  }
}

// With the project's boot-test initramfs (scripts/build-initramfs.sh),
// Linux runs its /init in user mode: user processes, system calls, the
// kernel's own xen-blkfront and xen-netfront modules.
TEST(DebianKernel, RunsUserSpaceFromTheInitramfs) {
  if (!require_kvm()) return;
  std::string initramfs = build_path("debian/initramfs-boottest.cpio.gz");
  ASSERT_TRUE(std::filesystem::exists(initramfs))
      << "run scripts/build-initramfs.sh " << build_path("debian") << " boottest (make test does)";
  XpvRun run = run_xpv({"run", "--kernel", debian_kernel(), "--ramdisk", initramfs, "--cmdline",
                        "console=hvc0 quiet"},
                       120);
  for (const char* marker :
       {"XPV-TEST: uname-r 6.1.0-", "XPV-TEST: cpus 1", "XPV-TEST: memtotal-kib ",
        "XPV-TEST: insmod xen-blkfront ok", "XPV-TEST: insmod xen-netfront ok"})
    EXPECT_NE(run.out.find(marker), std::string::npos) << "missing: " << marker << "\n" << run.out;
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
