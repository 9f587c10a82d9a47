#include "cpu-selftest/traps.hpp"

#include "runtime/runtime.hpp"
#include "runtime/string.hpp"

namespace cpu_selftest {

namespace {

TrapHandler handlers[256];
TrapLogEntry log_entries[kTrapLogSize];
unsigned log_count = 0;
unsigned depth = 0;
uint64_t next_iret_flags = 0;

uint8_t default_flags(unsigned vector) {
  // Like Linux's table (arch/x86/kernel/idt.c): int3 and into may be
  // raised with an instruction from any ring.
  return vector == kBreakpoint || vector == 4 ? 3 : 0;
}

void default_handler(TrapFrame& frame) {
  if (xpv::guest::in_try()) return resume_at_try_landing(frame, kTrapped + frame.vector);
  if (frame.vector == kBreakpoint) return;
  xpv::guest::panic("unexpected exception %lu (error code %#lx) at rip %#lx", frame.vector,
                    frame.error_code, frame.rip);
}

}  // namespace

long install_trap_table() {
  using xpv::guest::kTrapEntryVectors;
  trap_info_t table[kTrapEntryVectors + 2]{};
  unsigned n = 0;
  for (unsigned v = 0; v < kTrapEntryVectors; ++v)
    table[n++] = xpv::guest::trap_info_for(v, default_flags(v));
  table[n++] = xpv::guest::trap_info_for(kSoftwareInterrupt, 0);
  // table[n] stays zero: address 0 ends the list.
  return xpv::guest::set_trap_table(table);
}

long set_trap_flags(unsigned vector, uint8_t flags) {
  trap_info_t table[2] = {xpv::guest::trap_info_for(vector, flags), {}};
  return xpv::guest::set_trap_table(table);
}

ScopedTrapHandler::ScopedTrapHandler(unsigned vector, TrapHandler handler)
    : vector_(vector), previous_(handlers[vector]) {
  handlers[vector] = handler;
}

ScopedTrapHandler::~ScopedTrapHandler() {
  handlers[vector_] = previous_;
}

void clear_trap_log() {
  log_count = 0;
}
unsigned trap_count() {
  return log_count;
}
const TrapLogEntry& trap_log(unsigned index) {
  return log_entries[index % kTrapLogSize];
}
const TrapFrame& last_trap() {
  return trap_log(log_count - 1).frame;
}
unsigned trap_depth() {
  return depth;
}

void set_next_iret_flags(uint64_t flags) {
  next_iret_flags = flags;
}

void set_upcall_mask(bool masked) {
  static bool mask_wanted;
  mask_wanted = masked;
  ScopedTrapHandler handler(kBreakpoint, [](TrapFrame& frame) {
    frame.rflags = mask_wanted ? (frame.rflags & ~rflags::kIf) : (frame.rflags | rflags::kIf);
  });
  xpv_probe_int3();
}

uint8_t upcall_mask() {
  static uint8_t seen;
  ScopedTrapHandler handler(kBreakpoint,
                            [](TrapFrame& frame) { seen = frame.saved_upcall_mask(); });
  xpv_probe_int3();
  return seen;
}

}  // namespace cpu_selftest

// Called by the runtime's trap_common (runtime/traps.S) for every trap.
extern "C" void xpv_trap_dispatch(xpv::guest::TrapFrame& frame) {
  using namespace cpu_selftest;
  TrapLogEntry& entry = log_entries[log_count++ % kTrapLogSize];
  memcpy(&entry.frame, &frame, sizeof frame);
  entry.address = address_of(&frame);
  entry.depth = depth;
  next_iret_flags = 0;
  ++depth;
  TrapHandler handler = handlers[frame.vector & 0xff];
  (handler != nullptr ? handler : default_handler)(frame);
  --depth;
  // The frame goes back as it came, saved upcall mask in CS bits 32-39
  // included, as Linux's xen_iret returns it.
  frame.error_code = next_iret_flags;
  next_iret_flags = 0;
}
