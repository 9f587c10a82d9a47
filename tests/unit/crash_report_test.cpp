#include "vmm/crash_report.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace xpv::vmm {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr uint64_t kKernelVa = 0xffffffff81000000;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);)
    lines.push_back(line);
  return lines;
}

// The lines from `heading` up to the next line that does not start with an
// indent or the rip marker.
std::vector<std::string> section(const std::string& report, const std::string& heading) {
  const auto lines = lines_of(report);
  std::vector<std::string> body;
  auto it = std::find(lines.begin(), lines.end(), heading);
  if (it == lines.end()) return body;
  for (++it; it != lines.end() && (it->starts_with("   ") || it->starts_with("=> ")); ++it) {
    body.push_back(*it);
  }
  return body;
}

std::string disassemble_one(std::vector<uint8_t> bytes, uint64_t va = kKernelVa) {
  const auto lines = disassemble(bytes, va, 1);
  return lines.empty() ? "" : lines.front();
}

TEST(Disassemble, PrintsAddressBytesAndIntelSyntax) {
  EXPECT_THAT(disassemble_one({0x48, 0x89, 0xe5}), StartsWith("ffffffff81000000: 48 89 e5 "));
  EXPECT_THAT(disassemble_one({0x48, 0x89, 0xe5}), EndsWith("  mov rbp, rsp"));
}

TEST(Disassemble, DecodesKnownInstructions) {
  EXPECT_THAT(disassemble_one({0x0f, 0x0b}), EndsWith("  ud2"));
  EXPECT_THAT(disassemble_one({0xe6, 0x12}), EndsWith("  out 0x12, al"));
  EXPECT_THAT(disassemble_one({0x0f, 0x05}), EndsWith("  syscall"));
  EXPECT_THAT(disassemble_one({0xfa}), EndsWith("  cli"));
}

TEST(Disassemble, ShowsRelativeBranchTargetsAsLowerCaseAbsoluteAddresses) {
  EXPECT_THAT(disassemble_one({0xe8, 0x00, 0x00, 0x00, 0x00}),
              EndsWith("  call 0xffffffff81000005"));
}

TEST(Disassemble, DecodesSuccessiveInstructionsAtTheirAddresses) {
  const std::vector<uint8_t> code = {0x55, 0x48, 0x89, 0xe5, 0x0f, 0x0b};
  const auto lines = disassemble(code, kKernelVa, 10);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], StartsWith("ffffffff81000000: 55 "));
  EXPECT_THAT(lines[0], EndsWith("  push rbp"));
  EXPECT_THAT(lines[1], StartsWith("ffffffff81000001: 48 89 e5 "));
  EXPECT_THAT(lines[2], StartsWith("ffffffff81000004: 0f 0b "));
}

TEST(Disassemble, StopsAtMaxInstructions) {
  const std::vector<uint8_t> nops(10, 0x90);
  EXPECT_EQ(disassemble(nops, kKernelVa, 4).size(), 4u);
  EXPECT_TRUE(disassemble(nops, kKernelVa, 0).empty());
}

TEST(Disassemble, StopsAtUndecodableBytesWithBad) {
  // 06 (push es) does not exist in 64-bit mode.
  const std::vector<uint8_t> code = {0x90, 0x06, 0x90, 0x90};
  const auto lines = disassemble(code, kKernelVa, 10);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], EndsWith("  nop"));
  EXPECT_THAT(lines[1], StartsWith("ffffffff81000001: 06 90 90 "));
  EXPECT_THAT(lines[1], EndsWith("(bad)"));
}

TEST(Disassemble, MarksInstructionCutOffByTheEndOfTheBytes) {
  const auto lines = disassemble(std::vector<uint8_t>{0x90, 0x48, 0x89}, kKernelVa, 10);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[1], StartsWith("ffffffff81000001: 48 89 "));
  EXPECT_THAT(lines[1], EndsWith("(truncated)"));
}

TEST(Disassemble, ReturnsNothingForNoBytes) {
  EXPECT_TRUE(disassemble({}, kKernelVa, 10).empty());
}

CrashContext crashed_kernel() {
  CrashContext ctx;
  ctx.reason = "unhandled #GP(0) in guest kernel";
  ctx.vcpu = 1;
  ctx.regs.rax = 0x1234;
  ctx.regs.r15 = 0xdeadbeef;
  ctx.regs.rsp = 0xffffc90000003f00;
  ctx.regs.rip = kKernelVa + 4;
  ctx.regs.rflags = 0x10246;  // PF ZF IF RF and the reserved bit 1
  ctx.sregs.cs.selector = 0xe033;
  ctx.sregs.ss.selector = 0xe02b;
  ctx.sregs.gs.base = 0xffff888000000000;
  ctx.sregs.cr2 = 0xdead000;
  ctx.sregs.cr3 = 0x1000;
  ctx.sregs.efer = 0xd01;
  // push rbp; mov rbp, rsp; then at rip: ud2; cli
  ctx.code = {0x55, 0x48, 0x89, 0xe5, 0x0f, 0x0b, 0xfa};
  ctx.code_va = kKernelVa;
  ctx.stack_va = ctx.regs.rsp;
  ctx.stack = {1, 2, 3, 4, 5, kKernelVa};
  ctx.last_hypercalls = {"console_io(write, 12)", "sched_op(shutdown, crash)"};
  return ctx;
}

TEST(CrashReport, StartsWithReasonThenVcpuAndMode) {
  const auto lines = lines_of(format_crash_report(crashed_kernel()));
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0], "xpv: domain crashed: unhandled #GP(0) in guest kernel");
  EXPECT_EQ(lines[1], "vCPU 1 in guest kernel mode");

  CrashContext user = crashed_kernel();
  user.guest_kernel_mode = false;
  EXPECT_THAT(format_crash_report(user), HasSubstr("vCPU 1 in guest user mode\n"));
}

TEST(CrashReport, ShowsGeneralRegistersAndRip) {
  const std::string report = format_crash_report(crashed_kernel());
  EXPECT_THAT(report, HasSubstr("rax: 0000000000001234"));
  EXPECT_THAT(report, HasSubstr("r15: 00000000deadbeef"));
  EXPECT_THAT(report, HasSubstr("rsp: ffffc90000003f00"));
  EXPECT_THAT(report, HasSubstr(" r8: 0000000000000000"));
  EXPECT_THAT(report, HasSubstr("rip: ffffffff81000004"));
}

TEST(CrashReport, DecodesRflagsByName) {
  EXPECT_THAT(format_crash_report(crashed_kernel()),
              HasSubstr("rflags: 0000000000010246 [PF ZF IF RF]"));

  CrashContext with_iopl = crashed_kernel();
  with_iopl.regs.rflags = 0x3202;  // IF, IOPL 3
  EXPECT_THAT(format_crash_report(with_iopl), HasSubstr("[IF IOPL=3]"));
}

TEST(CrashReport, ShowsSegmentsAndControlRegisters) {
  const std::string report = format_crash_report(crashed_kernel());
  EXPECT_THAT(report, HasSubstr("cs: e033  ss: e02b  ds: 0000"));
  EXPECT_THAT(report, HasSubstr("gs_base: ffff888000000000"));
  EXPECT_THAT(report, HasSubstr("cr2: 000000000dead000"));
  EXPECT_THAT(report, HasSubstr("cr3: 0000000000001000"));
  EXPECT_THAT(report, HasSubstr("efer: 0000000000000d01"));
}

TEST(CrashReport, MarksTheRipInstructionAndShowsTheOnesBefore) {
  const auto code = section(format_crash_report(crashed_kernel()), "Code:");
  ASSERT_EQ(code.size(), 4u);
  EXPECT_THAT(code[0], StartsWith("   ffffffff81000000: 55 "));
  EXPECT_THAT(code[1], StartsWith("   ffffffff81000001: 48 89 e5 "));
  EXPECT_THAT(code[2], StartsWith("=> ffffffff81000004: 0f 0b "));
  EXPECT_THAT(code[2], EndsWith("  ud2"));
  EXPECT_THAT(code[3], StartsWith("   ffffffff81000006: fa "));
}

TEST(CrashReport, ShowsAtMostThreeInstructionsBeforeRip) {
  CrashContext ctx = crashed_kernel();
  ctx.code = {0x90, 0x90, 0x90, 0x90, 0x90, 0x0f, 0x0b};
  ctx.regs.rip = kKernelVa + 5;
  const auto code = section(format_crash_report(ctx), "Code:");
  ASSERT_EQ(code.size(), 4u);
  EXPECT_THAT(code[0], StartsWith("   ffffffff81000002: 90 "));
  EXPECT_THAT(code[3], StartsWith("=> ffffffff81000005: 0f 0b "));
}

TEST(CrashReport, StartsAtRipWhenTheForwardDecodeDoesNotLandOnIt) {
  CrashContext ctx = crashed_kernel();
  // 48 b8 begins a 10-byte mov rax, imm64 that would swallow rip.
  ctx.code = {0x90, 0x48, 0xb8, 0x0f, 0x0b};
  ctx.regs.rip = kKernelVa + 3;
  const auto code = section(format_crash_report(ctx), "Code:");
  ASSERT_EQ(code.size(), 1u);
  EXPECT_THAT(code[0], StartsWith("=> ffffffff81000003: 0f 0b "));
  EXPECT_THAT(code[0], EndsWith("  ud2"));
}

TEST(CrashReport, StartsAtRipWhenTheBytesBeforeItAreBad) {
  CrashContext ctx = crashed_kernel();
  ctx.code = {0x06, 0x0f, 0x0b};
  ctx.regs.rip = kKernelVa + 1;
  const auto code = section(format_crash_report(ctx), "Code:");
  ASSERT_EQ(code.size(), 1u);
  EXPECT_THAT(code[0], StartsWith("=> ffffffff81000001: 0f 0b "));
}

TEST(CrashReport, MarksBadBytesAtRip) {
  CrashContext ctx = crashed_kernel();
  ctx.code = {0x06};
  ctx.regs.rip = ctx.code_va;
  EXPECT_THAT(section(format_crash_report(ctx), "Code:"),
              ElementsAre(StartsWith("=> ffffffff81000000: 06 ")));
  EXPECT_THAT(section(format_crash_report(ctx), "Code:"), ElementsAre(EndsWith("(bad)")));
}

TEST(CrashReport, DropsAnInstructionCutOffAfterRip) {
  CrashContext ctx = crashed_kernel();
  ctx.code = {0x0f, 0x0b, 0x48, 0x89};
  ctx.regs.rip = ctx.code_va;
  const auto code = section(format_crash_report(ctx), "Code:");
  ASSERT_EQ(code.size(), 1u);
  EXPECT_THAT(code[0], EndsWith("  ud2"));
}

TEST(CrashReport, SaysWhenCodeIsUnreadable) {
  CrashContext ctx = crashed_kernel();
  ctx.code.clear();
  EXPECT_THAT(section(format_crash_report(ctx), "Code:"),
              ElementsAre("   (code at rip unreadable)"));
}

TEST(CrashReport, SaysCodeIsUnreadableWhenRipIsOutsideTheBytesRead) {
  CrashContext ctx = crashed_kernel();
  ctx.regs.rip = ctx.code_va + ctx.code.size();
  EXPECT_THAT(section(format_crash_report(ctx), "Code:"),
              ElementsAre("   (code at rip unreadable)"));
  ctx.regs.rip = ctx.code_va - 1;
  EXPECT_THAT(section(format_crash_report(ctx), "Code:"),
              ElementsAre("   (code at rip unreadable)"));
}

TEST(CrashReport, DumpsTheStackFourQwordsPerLine) {
  EXPECT_THAT(section(format_crash_report(crashed_kernel()), "Stack:"),
              ElementsAre("   ffffc90000003f00: 0000000000000001 0000000000000002 0000000000000003 "
                          "0000000000000004",
                          "   ffffc90000003f20: 0000000000000005 ffffffff81000000"));
}

TEST(CrashReport, SaysWhenTheStackIsUnreadable) {
  CrashContext ctx = crashed_kernel();
  ctx.stack.clear();
  EXPECT_THAT(section(format_crash_report(ctx), "Stack:"), ElementsAre("   (stack unreadable)"));
}

TEST(CrashReport, ListsTheLastHypercallsOldestFirst) {
  EXPECT_THAT(section(format_crash_report(crashed_kernel()), "Last hypercalls:"),
              ElementsAre("   console_io(write, 12)", "   sched_op(shutdown, crash)"));

  CrashContext ctx = crashed_kernel();
  ctx.last_hypercalls.clear();
  EXPECT_THAT(section(format_crash_report(ctx), "Last hypercalls:"),
              ElementsAre("   (none recorded)"));
}

TEST(CrashReport, PutsTheSectionsInOrder) {
  const std::string report = format_crash_report(crashed_kernel());
  const auto code = report.find("\nCode:\n");
  const auto stack = report.find("\nStack:\n");
  const auto hypercalls = report.find("\nLast hypercalls:\n");
  ASSERT_NE(code, std::string::npos);
  EXPECT_LT(report.find("rip: "), code);
  EXPECT_LT(code, stack);
  EXPECT_LT(stack, hypercalls);
  EXPECT_THAT(report, Not(HasSubstr("(truncated)")));
}

}  // namespace
}  // namespace xpv::vmm
