#include "runtime/traps.hpp"
#include "priv-op-selftest/priv_op.hpp"
#include "runtime/runtime.hpp"

namespace priv_op {

namespace {

// The last trap taken: inside an xpv_try, run_trapping reports it.
Trap last_trap;

uint32_t cpuid_vendor_ebx() {
  uint32_t eax = 0, ebx, ecx = 0, edx;
  asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  return ebx;
}

}  // namespace

long install_trap_table() {
  // DPL 0, events left as they are.
  trap_info_t table[] = {xpv::guest::trap_info_for(kInvalidOpcode),
                         xpv::guest::trap_info_for(kGeneralProtection),
                         xpv::guest::trap_info_for(kPageFault), trap_info_t{}};
  return xpv::guest::set_trap_table(table);
}

Trap run_trapping(void (*body)(void*), void* arg) {
  if (xpv_try(body, arg) == 0) return Trap{};
  return last_trap;
}

bool cpu_is_intel() {
  return cpuid_vendor_ebx() == 0x756e6547;
}  // "Genu"
bool cpu_is_amd() {
  uint32_t ebx = cpuid_vendor_ebx();
  return ebx == 0x68747541 || ebx == 0x6f677948;  // "Auth", "Hygo"
}

}  // namespace priv_op

// Called by the runtime's trap entry (runtime/traps.S) for #UD, #GP and
// #PF: records the trap and ends the xpv_try that took it, which returns
// 1; a trap outside one is a bug in the test.
extern "C" void xpv_trap_dispatch(xpv::guest::TrapFrame& frame) {
  using priv_op::last_trap;
  last_trap = {true, frame.vector, frame.error_code, frame.rip};
  if (!xpv::guest::in_try()) {
    xpv::guest::panic("unexpected exception %lu (error code %#lx) at rip %#lx", frame.vector,
                      frame.error_code, frame.rip);
  }
  xpv::guest::resume_at_try_landing(frame, 1);
  // CS carries the saved upcall mask in bits 32-39; iret takes the
  // selector alone.
  frame.cs &= 0xffff;
  frame.error_code = 0;  // iret_context.flags
}
