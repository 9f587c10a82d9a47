// A fault the guest has no handler for crashes the domain (exit status 2),
// and xpv's report shows where: the exception, the registers, the code
// with the faulting instruction marked "=>", the stack and the last
// hypercalls.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>

#include "guest/run_xpv.hpp"
#include "monitor/layout.hpp"
#include "monitor/monitor_abi.h"

namespace xpv::test {
namespace {

using ::testing::HasSubstr;

XpvRun run_fault(const std::string& command) {
  return run_xpv({"run", "--kernel", build_path("guests/fault"), "--cmdline", command});
}

std::string hex(uint64_t address) {
  char text[32];
  std::snprintf(text, sizeof text, "%#llx", static_cast<unsigned long long>(address));
  return text;
}

// The line of the code listing that "=>" marks.
std::string marked_line(const std::string& report) {
  size_t start = report.find("=> ");
  if (start == std::string::npos) return "";
  return report.substr(start, report.find('\n', start) - start);
}

struct FaultKind {
  const char* command;
  const char* mnemonic;     // as the report names the exception
  const char* instruction;  // expected on the "=>" line, or "" if it is the next one
};

// Names the parameter in test listings (instead of its bytes).
void PrintTo(const FaultKind& kind, std::ostream* out) {
  *out << kind.command;
}

class FaultGuest : public ::testing::TestWithParam<FaultKind> {};

TEST_P(FaultGuest, CrashesTheDomainWithARegisterDumpAndCode) {
  if (!require_kvm()) return;
  const FaultKind& kind = GetParam();
  XpvRun run = run_fault(kind.command);
  EXPECT_EQ(run.exit_status, 2) << run.err;
  EXPECT_THAT(run.out, HasSubstr("fault: about to")) << run.out;
  EXPECT_THAT(run.err, HasSubstr(std::string("xpv: domain crashed: unhandled ") + kind.mnemonic));
  for (const char* section :
       {"rip: ", "rflags: ", "cr2: ", "Code:\n", "Stack:\n", "Last hypercalls:\n"}) {
    EXPECT_THAT(run.err, HasSubstr(section)) << run.err;
  }
  EXPECT_THAT(run.err, HasSubstr("console_io(write")) << run.err;  // the announcement
  std::string marked = marked_line(run.err);
  EXPECT_FALSE(marked.empty()) << run.err;
  EXPECT_THAT(marked, HasSubstr(kind.instruction)) << run.err;
}

// int3 is a trap: the saved rip is the instruction after it, so "=>" marks
// that one.
INSTANTIATE_TEST_SUITE_P(EachKind, FaultGuest,
                         ::testing::Values(FaultKind{"ud2", "#UD", "ud2"},
                                           FaultKind{"pf", "#PF", "mov"},
                                           FaultKind{"int3", "#BP", ""},
                                           FaultKind{"gp", "#GP", "hlt"}),
                         [](const ::testing::TestParamInfo<FaultKind>& test) {
                           return std::string(test.param.command);
                         });

TEST(FaultGuestPageFault, ReportsTheFaultingAddress) {
  if (!require_kvm()) return;
  XpvRun run = run_fault("pf");
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.err, HasSubstr("at 0x1000")) << run.err;
  EXPECT_THAT(run.err, HasSubstr("cr2: 0000000000001000")) << run.err;
}

// --- What the guest may touch in the hypervisor hole --------------------

TEST(FaultGuestHole, MonitorPagesAreSupervisorOnly) {
  if (!require_kvm()) return;
  for (uint64_t address : {monitor::kTextVa, monitor::kIdtVa, monitor::vcpu_area_va(0),
                           monitor::vcpu_area_va(0) + monitor::kTssOffset}) {
    XpvRun run = run_fault("read:" + hex(address));
    EXPECT_EQ(run.exit_status, 2) << hex(address) << "\n" << run.out;
    EXPECT_THAT(run.err, HasSubstr("unhandled #PF")) << run.err;
  }
}

// On PVM hosts `syscall` enters the trampoline at CPL3, so it must be
// user-readable (and executable) - but never writable.
TEST(FaultGuestHole, TrampolinePageIsReadableButNotWritable) {
  if (!require_kvm()) return;
  std::string trampoline = hex(monitor::kTextVa + XPV_TRAMPOLINE_PAGE);
  XpvRun read = run_fault("read:" + trampoline);
  EXPECT_EQ(read.exit_status, 0) << read.err;
  EXPECT_THAT(read.out, HasSubstr("did not fault"));
  XpvRun write = run_fault("write:" + trampoline);
  EXPECT_EQ(write.exit_status, 2) << write.out;
  EXPECT_THAT(write.err, HasSubstr("unhandled #PF")) << write.err;
}

TEST(FaultGuestHole, M2pIsReadableButNotWritable) {
  if (!require_kvm()) return;
  XpvRun read = run_fault("read:" + hex(monitor::kM2pVa));
  EXPECT_EQ(read.exit_status, 0) << read.err;
  XpvRun write = run_fault("write:" + hex(monitor::kM2pVa));
  EXPECT_EQ(write.exit_status, 2) << write.out;
  EXPECT_THAT(write.err, HasSubstr("unhandled #PF")) << write.err;
}

TEST(FaultGuestHole, FirstHoleSlotIsNotMapped) {
  if (!require_kvm()) return;
  XpvRun run = run_fault("read:" + hex(monitor::l4_slot_va(monitor::kFirstHoleSlot)));
  EXPECT_EQ(run.exit_status, 2) << run.out;
  EXPECT_THAT(run.err, HasSubstr("unhandled #PF")) << run.err;
}

TEST(FaultGuestUsage, UnknownFaultNameCrashesWithAMessage) {
  if (!require_kvm()) return;
  XpvRun run = run_fault("no-such-fault");
  EXPECT_EQ(run.exit_status, 2);
  EXPECT_THAT(run.out, HasSubstr("unknown fault \"no-such-fault\""));
}

}  // namespace
}  // namespace xpv::test
