#include "runtime/traps.hpp"

#include "runtime/hypercall.hpp"
#include "runtime/runtime.hpp"

extern "C" const uint64_t xpv_trap_entries[];  // by vector, 0-21 (traps.S)
extern "C" const char xpv_trap_entry_0x80[];

namespace xpv::guest {

namespace {

constexpr unsigned kSoftwareInterrupt = 0x80;

uint64_t address_of(const void* p) {
  return reinterpret_cast<uintptr_t>(p);
}

}  // namespace

uint64_t trap_entry(unsigned vector) {
  if (vector == kSoftwareInterrupt) return address_of(xpv_trap_entry_0x80);
  if (vector >= kTrapEntryVectors) panic("no trap entry for vector %u", vector);
  return xpv_trap_entries[vector];
}

trap_info_t trap_info_for(unsigned vector, uint8_t flags) {
  trap_info_t entry{};
  entry.vector = static_cast<uint8_t>(vector);
  entry.flags = flags;
  entry.cs = FLAT_KERNEL_CS;
  entry.address = trap_entry(vector);
  return entry;
}

long set_trap_table(const trap_info_t* table) {
  return hypercall(__HYPERVISOR_set_trap_table, address_of(table));
}

void resume_at_try_landing(TrapFrame& frame, long value) {
  if (!in_try()) panic("resume_at_try_landing outside xpv_try");
  frame.rip = address_of(xpv_try_landing);
  frame.rsp = xpv_try_rsp;
  frame.rax = static_cast<uint64_t>(value);
}

}  // namespace xpv::guest
