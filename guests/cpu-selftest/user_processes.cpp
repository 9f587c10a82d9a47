// User processes under a guest kernel (user_mode.hpp): system calls
// through the syscall callback, two processes with their own page-table
// roots and FPU/SSE state, and each exception a user process can raise
// bounced to the kernel in kernel mode, on the stack_switch stack, with the
// user's context (CS RPL 3) in the frame.
#include "cpu-selftest/event_support.hpp"
#include "cpu-selftest/traps.hpp"
#include "cpu-selftest/user_mode.hpp"
#include "runtime/hypercall.hpp"
#include "runtime/test.hpp"

namespace {

using namespace cpu_selftest;

constexpr uint64_t kUserCs = 0xe033, kUserSs = 0xe02b;  // FLAT_USER_CS64 / _SS
constexpr uint64_t kUnmapped = 0x1000;
constexpr uint64_t kPfUser = 4;
constexpr unsigned kPrivateSlot = 0x100;  // a word of the private page

[[noreturn]] void user_echo(uint64_t arg) {
  user_syscall(kSysWrite, arg);
  user_syscall(kSysWrite, arg + 1);
  user_syscall(kSysExit, 42);
  __builtin_trap();
}

[[noreturn]] void user_private_word(uint64_t arg) {
  auto* word = reinterpret_cast<volatile uint64_t*>(kUserPageVa) + kPrivateSlot;
  *word = arg;
  user_syscall(kSysYield, 0);  // the other process writes its own page
  user_syscall(kSysWrite, *word);
  user_syscall(kSysExit, 0);
  __builtin_trap();
}

uint64_t entry_of(void (*f)(uint64_t)) {
  return reinterpret_cast<uint64_t>(f);
}

XPV_TEST(UserProcessMakesSystemCalls) {
  UserProgram program{entry_of(user_echo), 0x5e5};
  clear_trap_log();
  XPV_ASSERT_EQ(run_user_programs(&program, 1), 0);
  const ProcessResult& r = process_result(0);
  XPV_EXPECT_EQ(r.writes, 2u);
  XPV_EXPECT_EQ(r.log[0], 0x5e5u);
  XPV_EXPECT_EQ(r.log[1], 0x5e6u);
  XPV_EXPECT(r.exited);
  XPV_EXPECT_EQ(r.exit_code, 42u);
  // The system call entered the kernel on its stack_switch stack, with
  // the user's selectors in the frame.
  XPV_ASSERT(trap_count() >= 1);
  const TrapLogEntry& entry = trap_log(0);
  XPV_EXPECT_EQ(entry.frame.vector, kSystemCall);
  XPV_EXPECT(on_user_entry_stack(entry.address));
  XPV_EXPECT_EQ(entry.frame.cs & 0xffff, kUserCs);
  XPV_EXPECT_EQ(entry.frame.ss, kUserSs);
}

XPV_TEST(TwoUserProcessesHaveTheirOwnPageTables) {
  UserProgram programs[2] = {{entry_of(user_private_word), 0xa},
                             {entry_of(user_private_word), 0xb}};
  XPV_ASSERT_EQ(run_user_programs(programs, 2), 0);
  XPV_EXPECT_EQ(process_result(0).log[0], 0xau);
  XPV_EXPECT_EQ(process_result(1).log[0], 0xbu);
  XPV_EXPECT_EQ(process_page(0)[kPrivateSlot], 0xau);
  XPV_EXPECT_EQ(process_page(1)[kPrivateSlot], 0xbu);
}

// xmm0 and st(0) of each process survive the other's run: the kernel
// switches them with fxsave/fxrstor, and the hypervisor keeps them across
// every exit and mode switch in between.
XPV_TEST(FpuAndSseStateStayApartAcrossUserProcesses) {
  uint64_t fpu_program = reinterpret_cast<uint64_t>(&xpv_user_fpu_program);
  UserProgram programs[2] = {{fpu_program, 0x1111}, {fpu_program, 0x2222}};
  XPV_ASSERT_EQ(run_user_programs(programs, 2), 0);
  for (unsigned i = 0; i < 2; ++i) {
    const ProcessResult& r = process_result(i);
    XPV_ASSERT_EQ(r.writes, 2u);
    XPV_EXPECT_EQ(r.log[0], programs[i].arg);  // xmm0
    XPV_EXPECT_EQ(r.log[1], programs[i].arg);  // st(0)
  }
}

TrapFrame user_fault;
uint64_t user_fault_address;

void end_on_fault(TrapFrame& frame) {
  user_fault = frame;
  user_fault_address = address_of(&frame);
  end_user_run(frame);
}

struct UserFault {
  const char* name;
  void (*probe)();
  uint64_t arg;
  unsigned vector;
  const char* rip;  // where the frame must say the user was
};

long run_user_probe(const UserFault& fault) {
  ScopedTrapHandler handler(fault.vector, end_on_fault);
  UserProgram program{reinterpret_cast<uint64_t>(fault.probe), fault.arg};
  return run_user_programs(&program, 1);
}

void expect_user_frame(const UserFault& fault) {
  XPV_EXPECT_EQ(user_fault.vector, fault.vector);
  XPV_EXPECT_EQ(user_fault.rip, address_of(fault.rip));
  XPV_EXPECT_EQ(user_fault.cs & 0xffff, kUserCs);  // RPL 3: from user mode
  XPV_EXPECT_EQ(user_fault.ss, kUserSs);
  XPV_EXPECT(on_user_entry_stack(user_fault_address));
}

XPV_TEST(EveryExceptionFromUserModeIsBouncedToTheKernel) {
  const UserFault faults[] = {
      {"#DE", xpv_probe_divide_error, 0, kDivideError, xpv_probe_divide_error_site},
      {"#DB", xpv_probe_single_step, 0, kDebug, xpv_probe_single_step_trap},
      {"#BP", xpv_probe_int3, 0, kBreakpoint, xpv_probe_int3_resume},
      {"#UD", xpv_probe_ud2, 0, kInvalidOpcode, xpv_probe_ud2_site},
      {"#GP", xpv_probe_hlt, 0, kGeneralProtection, xpv_probe_hlt_site},
      {"#GP", xpv_probe_cli, 0, kGeneralProtection, xpv_probe_cli_site},
      {"#MF", xpv_probe_x87_exception, 0, kX87FloatingPoint, xpv_probe_x87_exception_site},
      {"#XM", xpv_probe_simd_exception, 0, kSimdFloatingPoint, xpv_probe_simd_exception_site},
  };
  for (const UserFault& fault : faults) {
    xpv::guest::printk("  %s from user mode\n", fault.name);
    XPV_EXPECT_EQ(run_user_probe(fault), kTrapped + fault.vector);
    expect_user_frame(fault);
    if (fault.vector == kGeneralProtection) XPV_EXPECT_EQ(user_fault.error_code, 0u);
  }
}

XPV_TEST(PageFaultFromUserModeHasTheUserBitAndCr2) {
  UserFault fault{"#PF", reinterpret_cast<void (*)()>(&xpv_probe_load), kUnmapped, kPageFault,
                  xpv_probe_load_site};
  XPV_EXPECT_EQ(run_user_probe(fault), kTrapped + kPageFault);
  expect_user_frame(fault);
  XPV_EXPECT_EQ(user_fault.error_code & kPfUser, kPfUser);
  XPV_EXPECT_EQ(vcpu0_info().arch.cr2, kUnmapped);
}

// int $0x80 reaches the kernel through the trap table only when the
// entry's DPL is 3; otherwise it is #GP((0x80 << 3) | 2), as on Xen.
XPV_TEST(SoftwareInterruptFromUserModeHonoursTheGateDpl) {
  UserFault through_gate{"int $0x80", xpv_probe_int80, 0, kSoftwareInterrupt,
                         xpv_probe_int80_resume};
  XPV_ASSERT_EQ(set_trap_flags(kSoftwareInterrupt, 3), 0);
  XPV_EXPECT_EQ(run_user_probe(through_gate), kTrapped + kSoftwareInterrupt);
  expect_user_frame(through_gate);
  XPV_ASSERT_EQ(set_trap_flags(kSoftwareInterrupt, 0), 0);
  UserFault refused{"int $0x80 (DPL 0)", xpv_probe_int80, 0, kGeneralProtection,
                    xpv_probe_int80_site};
  XPV_EXPECT_EQ(run_user_probe(refused), kTrapped + kGeneralProtection);
  expect_user_frame(refused);
  XPV_EXPECT_EQ(user_fault.error_code, (0x80u << 3) | 2);
}

}  // namespace
