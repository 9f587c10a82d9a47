// Guest user mode, as a small PV kernel runs it: two user processes, each
// with its own page-table root (MMUEXT_NEW_USER_BASEPTR) mapping a private
// page at kUserPageVa (plus the image, shared, so both run its code),
// entered through the iret hypercall; system calls come back through the
// syscall callback on the stack given to stack_switch, where this kernel
// switches processes — registers, user root and FPU/SSE state
// (fxsave/fxrstor) — or ends them.
#pragma once

#include <cstdint>

#include "cpu-selftest/traps.hpp"

namespace cpu_selftest {

constexpr uint64_t kUserPageVa = 0x400000;
constexpr uint64_t kUserStackTop = kUserPageVa + 4096;

// System calls (rax; argument in rdi). The same numbers as entry.S.
enum SystemCall : uint64_t { kSysWrite = 1, kSysYield = 2, kSysExit = 3 };

constexpr unsigned kProcesses = 2;
constexpr unsigned kUserLogSize = 8;

struct UserProgram {
  uint64_t entry;  // user-mode code (the image is mapped in both roots)
  uint64_t arg;    // rdi at entry
};

// What one process did.
struct ProcessResult {
  uint64_t log[kUserLogSize];  // SYS_WRITE values
  unsigned writes;
  bool exited;
  uint64_t exit_code;
};

// Builds the page tables (once), registers the syscall callback and the
// kernel stack, runs the programs from the first one until every process
// has exited or an exception ends the run, and returns 0, or kTrapped +
// vector when an exception from user mode ended it (the handler of
// end_user_run). Negative: the setup failed (-errno).
long run_user_programs(const UserProgram* programs, unsigned count);
const ProcessResult& process_result(unsigned index);

// For a test's exception handler: ends the user run, back in kernel mode,
// making run_user_programs return kTrapped + the frame's vector.
void end_user_run(TrapFrame& frame);

// The private page of process `index`, as the kernel sees it.
uint64_t* process_page(unsigned index);
// Where the kernel stack for entries from user mode is (stack_switch).
bool on_user_entry_stack(uint64_t address);

// User-mode helpers (C++ that runs at guest user level).
inline uint64_t user_syscall(uint64_t nr, uint64_t arg) {
  uint64_t result;
  asm volatile("syscall" : "=a"(result) : "a"(nr), "D"(arg) : "rcx", "r11", "memory");
  return result;
}

}  // namespace cpu_selftest

extern "C" {
void xpv_fxsave(void* area);
void xpv_fxrstor(const void* area);
void xpv_user_fpu_program(uint64_t value);
}
