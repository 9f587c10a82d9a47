// The report printed when a guest crashes: registers, the faulting
// instruction disassembled, a stack dump and the last hypercalls, so a
// crash can be diagnosed from the log alone. The caller gathers the
// guest state (reading guest memory through the guest-memory API); this
// module only formats it.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace xpv::vmm {

struct CrashContext {
  std::string reason;  // e.g. "unhandled #GP(0) in guest kernel", "SCHEDOP_shutdown(crash)"
  unsigned vcpu = 0;
  bool guest_kernel_mode = true;  // PV guest kernel vs guest user mode (both run at CPL3)
  kvm_regs regs{};
  kvm_sregs sregs{};  // segment bases/selectors, cr0, cr2, cr3, cr4, efer
  // Bytes read from guest memory starting at code_va; empty if unreadable.
  // code_va is usually a little below rip so that the instructions before
  // rip can be shown when they decode to land exactly on rip.
  std::vector<uint8_t> code;
  uint64_t code_va = 0;
  std::vector<uint64_t> stack;  // qwords read from stack_va; empty if unreadable
  uint64_t stack_va = 0;
  std::vector<std::string> last_hypercalls;  // oldest first, already formatted
};

// The multi-line report, starting "xpv: domain crashed: <reason>".
std::string format_crash_report(const CrashContext& ctx);

// Disassembles up to max_instructions 64-bit instructions starting at va
// (bytes[0] is at va), one Intel-syntax line each:
//   "ffffffff81000000: 48 89 e5                 mov rbp, rsp"
// Stops at bytes that do not decode with a line ending "(bad)", or at an
// instruction cut off by the end of `bytes` with a line ending "(truncated)".
std::vector<std::string> disassemble(std::span<const uint8_t> bytes, uint64_t va,
                                     size_t max_instructions);

}  // namespace xpv::vmm
