// The pure half of the writable-pagetable assist (ro_page_fault.cpp):
// which store a guest instruction makes, and what it does to the 8-byte
// page-table entry it lands in and to the guest's registers. No vCPU and
// no guest memory, so the instruction set can be tested on the host.
//
// The stores handled are the ones a PV kernel makes to its pinned L1
// tables (linux-pv-guest.md 6.3), plus their close relatives: mov of a
// register or immediate, xchg, cmpxchg, and/or/xor and bts/btr/btc, of
// 1, 2, 4 or 8 naturally aligned bytes, locked or not.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace xpv::hv {

// The general-purpose registers in encoding order: rax rcx rdx rbx rsp rbp
// rsi rdi r8-r15.
struct GuestRegisters {
  std::array<uint64_t, 16> gpr{};
  uint64_t rip = 0;  // of the instruction
  uint64_t rflags = 0;
};

enum class PteWriteOp {
  kStore,            // mov
  kExchange,         // xchg: the register receives the old value
  kCompareExchange,  // cmpxchg: against the accumulator, ZF and the other CMP flags
  kAnd,
  kOr,
  kXor,
  kBitSet,  // bts, btr, btc: CF receives the old bit
  kBitReset,
  kBitComplement,
};

// A general-purpose register as an instruction names it: its encoding
// index, its width in bytes, and whether it is AH, CH, DH or BH.
struct RegisterOperand {
  uint8_t index = 0;
  uint8_t size = 8;
  bool high_byte = false;
};

struct PteWrite {
  PteWriteOp op = PteWriteOp::kStore;
  uint64_t address = 0;  // linear address of the store, aligned to `size`
  unsigned size = 8;     // 1, 2, 4 or 8 bytes
  uint8_t length = 0;    // of the instruction
  // The value stored, or the second operand of and/or/xor, truncated to
  // `size`; the bit number (below size * 8) for bts/btr/btc.
  uint64_t source = 0;
  uint64_t comparand = 0;                   // cmpxchg: the accumulator, truncated
  std::optional<RegisterOperand> exchange;  // xchg: the register operand
};

// Decodes the instruction in `code` (64-bit mode). nullopt when it is not
// a store this emulation handles, names a segment with a base (fs, gs),
// or is not naturally aligned.
std::optional<PteWrite> decode_pte_write(std::span<const uint8_t> code, const GuestRegisters& regs);

struct PteWriteResult {
  bool stores = true;  // false: a cmpxchg that found another value
  uint64_t new_entry = 0;
  GuestRegisters regs;  // after the instruction, rip past it
};

// Applies `write` to the 8-byte entry that holds it, which held
// `old_entry`: the bytes outside the store keep their value.
PteWriteResult apply_pte_write(const PteWrite& write, uint64_t old_entry,
                               const GuestRegisters& regs);

}  // namespace xpv::hv
