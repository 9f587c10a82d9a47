// The CPU self-test guest checks exception delivery, the iret hypercall,
// callbacks, segment bases and the FPU switch from inside the domain
// (guests/cpu-selftest). These tests boot it, read its verdict ("N passed,
// M failed"), and boot it in the modes where xpv must crash the domain.
#include <gtest/gtest.h>

#include <string>

#include "guest/run_xpv.hpp"

namespace xpv::test {
namespace {

// Every XPV_TEST the default run has; fewer means some did not run.
constexpr int kMinimumChecks = 88;

XpvRun run_selftest(const std::string& cmdline, unsigned vcpus = 1) {
  std::vector<std::string> args = {"run", "--kernel", build_path("guests/cpu-selftest"), "--vcpus",
                                   std::to_string(vcpus)};
  if (!cmdline.empty()) args.insert(args.end(), {"--cmdline", cmdline});
  return run_xpv(args, 60);
}

void expect_crash(const XpvRun& run, const std::string& reason) {
  EXPECT_EQ(run.exit_status, 2) << run.out << run.err;
  EXPECT_NE(run.err.find("xpv: domain crashed:"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find(reason), std::string::npos) << run.err;
  EXPECT_EQ(run.out.find("passed"), std::string::npos) << "the tests ran:\n" << run.out;
}

TEST(CpuSelftest, AllPass) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest(""), kMinimumChecks);
}

// second_vcpu.cpp brings vCPU 1 up, exchanges IPIs with it and takes it
// down; on one vCPU those tests say so and check nothing.
TEST(CpuSelftest, AllPassOnTwoVcpus) {
  if (!require_kvm()) return;
  XpvRun run = run_selftest("", 2);
  expect_all_pass(run, kMinimumChecks);
  EXPECT_EQ(run.out.find("(one vCPU"), std::string::npos) << run.out;
}

TEST(CpuSelftest, ExceptionWithoutATrapTableCrashesTheDomain) {
  if (!require_kvm()) return;
  XpvRun run = run_selftest("nohandler");
  expect_crash(run, "no handler");
  EXPECT_NE(run.err.find("#UD"), std::string::npos) << run.err;
}

TEST(CpuSelftest, ExceptionAfterTheTrapTableIsClearedCrashesTheDomain) {
  if (!require_kvm()) return;
  XpvRun run = run_selftest("cleared");
  expect_crash(run, "no handler");
  EXPECT_NE(run.err.find("set_trap_table(0,"), std::string::npos) << run.err;
}

TEST(CpuSelftest, BounceOntoAnUnmappedStackCrashesTheDomain) {
  if (!require_kvm()) return;
  XpvRun run = run_selftest("badstack");
  expect_crash(run, "bad guest kernel stack");
  EXPECT_NE(run.err.find("#BP"), std::string::npos) << run.err;
}

TEST(CpuSelftest, BounceOntoAStackInXensHoleCrashesTheDomain) {
  if (!require_kvm()) return;
  expect_crash(run_selftest("holestack"), "bad guest kernel stack");
}

TEST(CpuSelftest, SegmentThatNoLongerLoadsWithoutAFailsafeCallbackCrashesTheDomain) {
  if (!require_kvm()) return;
  XpvRun run = run_selftest("nofailsafe");
  expect_crash(run, "cannot load fs 0x7 and no failsafe callback is registered");
  EXPECT_NE(run.err.find("rip"), std::string::npos) << run.err;  // the register dump
}

// Xen behaviour xpv does not match yet: each guest check runs only with
// check=NAME. Enable a test when its xpv bug is fixed, and remove the
// known_bug_check_enabled line from the guest test.

// iret refuses the CS of a bounce frame as delivered (saved upcall mask in
// bits 32-39); Xen reads only bits 0-15. The guest's trap return strips the
// bits to work around it (traps.cpp, xpv_trap_dispatch).
TEST(CpuSelftest, IretIgnoresCsAboveBit15) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest("check=iret-cs-upper-bits"));
}

// callback_op(CALLBACKOP_unregister) of syscall/syscall32/sysenter returns 0;
// Xen returns -EINVAL.
TEST(CpuSelftest, CallbackUnregisterRefusesSystemCallEntryPoints) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest("check=callback-unregister"));
}

// An unknown callback type gets -EINVAL; Xen says -ENOSYS.
TEST(CpuSelftest, CallbackOpUnknownTypeIsEnosys) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest("check=callback-unknown-type"));
}

// set_callbacks with a non-canonical address returns -EINVAL; Xen's always
// returns 0.
TEST(CpuSelftest, SetCallbacksAlwaysReturnsZero) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest("check=set-callbacks"));
}

// Under KVM's PVM backend `int N` through a DPL-0 gate raises #UD (RIP at
// the instruction), not #GP(N << 3 | 2), and xpv passes the #UD on. Xen
// delivers #GP(N << 3 | 2), or vector N itself when the trap table gives
// it DPL 3.
TEST(CpuSelftest, SoftwareInterruptToADpl0VectorRaisesGeneralProtection) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest("check=softint-dpl0"));
}

// The guest check itself expects a handler it does not install (it panics on
// "unexpected exception 128" once xpv delivers the int): to be revisited.
TEST(CpuSelftest, DISABLED_SoftwareInterruptToADpl3VectorIsDelivered) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest("check=softint-dpl3"));
}

// #DB from int1 (icebp) arrives with RIP at the int1, not after it.
TEST(CpuSelftest, DISABLED_Int1RaisesDebugAfterTheInstruction) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest("check=int1-rip"));
}

// fpu_taskswitch(1) sets CR0.TS through KVM_SET_SREGS, but under KVM's PVM
// backend guest code runs with the host's CR0: no #NM comes.
TEST(CpuSelftest, DISABLED_FpuTaskswitchMakesTheNextFpuInstructionRaiseDeviceNotAvailable) {
  if (!require_kvm()) return;
  expect_all_pass(run_selftest("check=fpu-ts"));
}

}  // namespace
}  // namespace xpv::test
