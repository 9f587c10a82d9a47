#include "priv-op-selftest/priv_op.hpp"
#include "runtime/runtime.hpp"

extern "C" {
long priv_try(void (*body)(void*), void* arg);
extern uint64_t priv_trap_vector, priv_trap_error_code, priv_trap_rip, priv_trap_count;
extern const char priv_trap_entry_6[], priv_trap_entry_13[], priv_trap_entry_14[];

// Where a trap outside priv_try lands (entry.S).
[[noreturn]] void priv_unexpected_trap() {
  xpv::guest::panic("unexpected exception %lu (error code %#lx) at rip %#lx", priv_trap_vector,
                    priv_trap_error_code, priv_trap_rip);
}
}

namespace priv_op {

namespace {

trap_info_t entry(uint8_t vector, const char* handler) {
  trap_info_t e{};
  e.vector = vector;
  e.flags = 0;  // DPL 0, events left as they are
  e.cs = FLAT_KERNEL_CS;
  e.address = reinterpret_cast<uintptr_t>(handler);
  return e;
}

uint32_t cpuid_vendor_ebx() {
  uint32_t eax = 0, ebx, ecx = 0, edx;
  asm volatile("cpuid" : "+a"(eax), "=b"(ebx), "+c"(ecx), "=d"(edx));
  return ebx;
}

}  // namespace

long install_trap_table() {
  trap_info_t table[] = {entry(kInvalidOpcode, priv_trap_entry_6),
                         entry(kGeneralProtection, priv_trap_entry_13),
                         entry(kPageFault, priv_trap_entry_14), trap_info_t{}};
  return xpv::guest::hypercall(__HYPERVISOR_set_trap_table, reinterpret_cast<uintptr_t>(table));
}

Trap run_trapping(void (*body)(void*), void* arg) {
  Trap trap;
  trap.taken = priv_try(body, arg) != 0;
  if (trap.taken) {
    trap.vector = priv_trap_vector;
    trap.error_code = priv_trap_error_code;
    trap.rip = priv_trap_rip;
  }
  return trap;
}

bool cpu_is_intel() {
  return cpuid_vendor_ebx() == 0x756e6547;
}  // "Genu"
bool cpu_is_amd() {
  uint32_t ebx = cpuid_vendor_ebx();
  return ebx == 0x68747541 || ebx == 0x6f677948;  // "Auth", "Hygo"
}

}  // namespace priv_op
