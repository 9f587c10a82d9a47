// What the privileged-instruction tests share: the trap table (the
// runtime's entry stubs, runtime/traps.hpp) and try_run, and each instruction the hypervisor is to
// emulate, as inline assembly executed from guest kernel mode (CPL3).
#pragma once

#include <cstdint>
#include <type_traits>

#include "runtime/hypercall.hpp"
#include "runtime/xen.hpp"
// clang-format off
#include <xen/physdev.h>
// clang-format on

namespace priv_op {

enum Vector : uint64_t { kInvalidOpcode = 6, kGeneralProtection = 13, kPageFault = 14 };

// What ended a try_run: nothing, or the exception the trap table caught.
struct Trap {
  bool taken = false;
  uint64_t vector = 0;
  uint64_t error_code = 0;
  uint64_t rip = 0;
};

// Installs handlers for #UD, #GP and #PF; returns set_trap_table's result.
long install_trap_table();

Trap run_trapping(void (*body)(void*), void* arg);

// Runs body() and reports the exception that ended it, if one did.
template <typename Body>
Trap try_run(Body&& body) {
  using Callable = std::remove_reference_t<Body>;
  return run_trapping([](void* arg) { (*static_cast<Callable*>(arg))(); }, &body);
}

// rdmsr read before the trap table was loaded (main.cpp).
extern uint64_t early_lstar;

bool cpu_is_intel();
bool cpu_is_amd();

// --- The instructions --------------------------------------------------

inline uint64_t rdmsr(uint32_t index) {
  uint32_t low, high;
  asm volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(index));
  return low | static_cast<uint64_t>(high) << 32;
}

inline void wrmsr(uint32_t index, uint64_t value) {
  asm volatile("wrmsr"
               :
               : "c"(index), "a"(static_cast<uint32_t>(value)),
                 "d"(static_cast<uint32_t>(value >> 32))
               : "memory");
}

inline uint64_t rdtsc() {
  uint32_t low, high;
  asm volatile("rdtsc" : "=a"(low), "=d"(high));
  return low | static_cast<uint64_t>(high) << 32;
}

#define PRIV_OP_CR_ACCESSORS(n)                                \
  inline uint64_t read_cr##n() {                               \
    uint64_t value;                                            \
    asm volatile("mov %%cr" #n ", %0" : "=r"(value));          \
    return value;                                              \
  }                                                            \
  inline void write_cr##n(uint64_t value) {                    \
    asm volatile("mov %0, %%cr" #n : : "r"(value) : "memory"); \
  }
PRIV_OP_CR_ACCESSORS(0)
PRIV_OP_CR_ACCESSORS(2)
PRIV_OP_CR_ACCESSORS(3)
PRIV_OP_CR_ACCESSORS(4)
PRIV_OP_CR_ACCESSORS(8)
#undef PRIV_OP_CR_ACCESSORS

inline void clts() {
  asm volatile("clts" ::: "memory");
}

inline uint8_t inb(uint16_t port) {
  uint8_t value;
  asm volatile("inb %w1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
inline uint16_t inw(uint16_t port) {
  uint16_t value;
  asm volatile("inw %w1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
inline uint32_t inl(uint16_t port) {
  uint32_t value;
  asm volatile("inl %w1, %0" : "=a"(value) : "Nd"(port));
  return value;
}
inline void outb(uint16_t port, uint8_t value) {
  asm volatile("outb %0, %w1" : : "a"(value), "Nd"(port));
}
inline void outw(uint16_t port, uint16_t value) {
  asm volatile("outw %0, %w1" : : "a"(value), "Nd"(port));
}
inline void outl(uint16_t port, uint32_t value) {
  asm volatile("outl %0, %w1" : : "a"(value), "Nd"(port));
}

inline void cli() {
  asm volatile("cli" ::: "memory");
}
inline void sti() {
  asm volatile("sti" ::: "memory");
}
inline void wbinvd() {
  asm volatile("wbinvd" ::: "memory");
}
inline void invd() {
  asm volatile("invd" ::: "memory");
}

inline long physdev_call(int cmd, const void* arg) {
  return xpv::guest::hypercall(__HYPERVISOR_physdev_op, static_cast<uint64_t>(cmd),
                               reinterpret_cast<uintptr_t>(arg));
}

inline long set_iopl(uint32_t iopl) {
  physdev_set_iopl request{iopl};
  return physdev_call(PHYSDEVOP_set_iopl, &request);
}

}  // namespace priv_op

extern "C" {
void priv_probe_hlt();
uint64_t priv_probe_rdmsr(uint32_t index);
uint8_t priv_probe_inb_0x80();
void priv_probe_xsetbv();
extern const char priv_probe_hlt_site[], priv_probe_rdmsr_site[], priv_probe_inb_0x80_site[],
    priv_probe_xsetbv_site[];
}
