// Exception and callback entry for guests that take traps (traps.S): an
// entry stub per vector saves the registers as a TrapFrame and calls
// xpv_trap_dispatch(frame), which the guest defines; the registers go
// back as the handler left them, through the iret hypercall, as a PV
// kernel's return does. Guests that use none of it link none of it.
#pragma once

#include <cstdint>

#include "runtime/try.hpp"
#include "runtime/xen.hpp"

namespace xpv::guest {

// What trap_common saves, lowest address first. The bounce frame is the
// tail: rcx and r11 came from its first two slots, then error_code, rip,
// cs, rflags, rsp and ss are the frame itself.
struct TrapFrame {
  // The handler's RFLAGS on entry. (Its CS and SS show in the frame of a
  // nested trap: under KVM's PVM backend, mov from a segment register reads
  // the host's selectors, not the virtual ones.)
  uint64_t entry_rflags;
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector;
  // 0 for vectors without one. On return this slot is iret_context.flags.
  uint64_t error_code;
  uint64_t rip, cs, rflags, rsp, ss;  // the interrupted context

  // The saved upcall mask that the hypervisor put in CS bits 32-39.
  uint8_t saved_upcall_mask() const { return static_cast<uint8_t>(cs >> 32); }
  uint16_t selector() const { return static_cast<uint16_t>(cs); }
};
static_assert(sizeof(TrapFrame) == 23 * 8);

// TrapFrame::vector of the callbacks, which are not exceptions.
constexpr unsigned kEventUpcallVector = 0xe0;  // xpv_trap_entry_0xe0
constexpr unsigned kFailsafeVector = 0xe1;     // xpv_failsafe_entry
constexpr unsigned kSystemCallVector = 0xe2;   // xpv_trap_entry_0xe2

// The exception vectors with an entry stub: 0 to kTrapEntryVectors - 1,
// and 0x80.
constexpr unsigned kTrapEntryVectors = 22;

// The entry stub of an exception vector (0-21 or 0x80), as a trap_info
// address.
uint64_t trap_entry(unsigned vector);
// A trap table entry for vector's stub, code segment FLAT_KERNEL_CS.
// flags (xen.h trap_info): bits 0-1 DPL, bit 2 "mask events on entry".
trap_info_t trap_info_for(unsigned vector, uint8_t flags = 0);
// set_trap_table with `table`, which ends with an entry of address 0.
long set_trap_table(const trap_info_t* table);

// Makes the trap return to the active xpv_try's landing point, which
// returns `value`. Panics outside xpv_try.
void resume_at_try_landing(TrapFrame& frame, long value);

}  // namespace xpv::guest

extern "C" {
// Defined by the guest: called by every entry stub, events as the
// hypervisor left them. Changes to the frame take effect on return.
void xpv_trap_dispatch(xpv::guest::TrapFrame& frame);

// Callback entry points (traps.S) and what the failsafe frame held.
extern const char xpv_trap_entry_0xe0[], xpv_trap_entry_0xe2[], xpv_failsafe_entry[];
extern uint64_t xpv_failsafe_selectors[4];  // ds, es, fs, gs

// Enters guest user mode at rip with rsp, and rdi as its argument, events
// masked (traps.S). Returns only if a handler resumes an xpv_try around it.
void xpv_enter_user(uint64_t rip, uint64_t rsp, uint64_t rdi);
}
