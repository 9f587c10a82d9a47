// Hypercalls from a 64-bit PV test guest, made through the hypercall page.
//
// The guest names a page in its HYPERCALL_PAGE note (xen_notes.S). Before the
// guest runs, the hypervisor fills that page with 32-byte stubs; stub i is at
// offset 32*i and reads "push rcx; push r11; mov $i, eax; syscall; pop r11;
// pop rcx; ret" (Xen's pv_ring3_init_hypercall_page). The arguments go in rdi,
// rsi, rdx, r10, r8, and the result comes back in rax as a value or a
// negative Xen errno (xen/errno.h).
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/xen.hpp"

namespace xpv::guest {

struct HypercallStub {
  uint8_t code[32];
};
constexpr unsigned kHypercallStubCount = 4096 / sizeof(HypercallStub);

// Defined in entry.S. It starts out as int3 bytes, so a call into a page that
// was never filled traps at once.
extern "C" HypercallStub hypercall_page[kHypercallStubCount];

inline long hypercall(unsigned nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                      uint64_t a4 = 0, uint64_t a5 = 0) {
  if (nr >= kHypercallStubCount) [[unlikely]] {
    return -XEN_ENOSYS;
  }
  // r10 and r8 have no constraint letters, so they have to be register
  // variables.
  register uint64_t arg4 asm("r10") = a4;
  register uint64_t arg5 asm("r8") = a5;
  long result;
  // The argument registers are read-write operands because Xen may clobber
  // them (a debug Xen scribbles on them on purpose). r9 is Xen's sixth
  // argument register, so it is clobbered too. The stub saves rcx and r11
  // around syscall, but they are listed anyway because only the stub's code
  // promises that. "memory" is needed because the hypervisor reads and writes
  // guest buffers through the pointer arguments. The `call` pushes below rsp,
  // which is safe only because guests are built with -mno-red-zone.
  asm volatile("call *%[stub]"
               : "=a"(result), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(arg4), "+r"(arg5)
               : [stub] "r"(&hypercall_page[nr])
               : "rcx", "r9", "r11", "memory", "cc");
  return result;
}

// CONSOLEIO_write: the hypervisor copies `length` bytes from `text`.
inline long console_write(const char* text, size_t length) {
  return hypercall(__HYPERVISOR_console_io, CONSOLEIO_write, length,
                   reinterpret_cast<uintptr_t>(text));
}

// SCHEDOP_shutdown with a SHUTDOWN_* reason (xen/sched.h). On success it does
// not return. Most guests should call shutdown() (runtime.hpp), which flushes
// the console first. Under `using namespace xpv::guest`, the unqualified name
// is ambiguous with Xen's global struct sched_shutdown, so write
// xpv::guest::sched_shutdown.
inline long sched_shutdown(unsigned reason) {
  sched_shutdown_t request{};
  request.reason = reason;
  return hypercall(__HYPERVISOR_sched_op, SCHEDOP_shutdown, reinterpret_cast<uintptr_t>(&request));
}

inline long sched_yield() {
  return hypercall(__HYPERVISOR_sched_op, SCHEDOP_yield, 0);
}

// XENVER_* commands (xen/version.h). XENVER_version takes a null `arg` and
// returns major << 16 | minor.
inline long xen_version(int cmd, void* arg) {
  return hypercall(__HYPERVISOR_xen_version, cmd, reinterpret_cast<uintptr_t>(arg));
}

}  // namespace xpv::guest
