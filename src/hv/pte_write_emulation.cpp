#include "hv/pte_write_emulation.hpp"

#include <Zydis/Zydis.h>

#include <bit>
#include <utility>

namespace xpv::hv {

namespace {

// RFLAGS bits the emulated instructions write (Intel SDM vol. 1, 3.4.3).
namespace flag {
constexpr uint64_t kCf = 1ULL << 0;
constexpr uint64_t kPf = 1ULL << 2;
constexpr uint64_t kAf = 1ULL << 4;
constexpr uint64_t kZf = 1ULL << 6;
constexpr uint64_t kSf = 1ULL << 7;
constexpr uint64_t kOf = 1ULL << 11;
constexpr uint64_t kArithmetic = kCf | kPf | kAf | kZf | kSf | kOf;
}  // namespace flag

constexpr uint64_t width_mask(unsigned size) {
  return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

constexpr uint64_t sign_bit(unsigned size) {
  return 1ULL << (size * 8 - 1);
}

std::optional<PteWriteOp> operation_of(ZydisMnemonic mnemonic) {
  switch (mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
      return PteWriteOp::kStore;
    case ZYDIS_MNEMONIC_XCHG:
      return PteWriteOp::kExchange;
    case ZYDIS_MNEMONIC_CMPXCHG:
      return PteWriteOp::kCompareExchange;
    case ZYDIS_MNEMONIC_AND:
      return PteWriteOp::kAnd;
    case ZYDIS_MNEMONIC_OR:
      return PteWriteOp::kOr;
    case ZYDIS_MNEMONIC_XOR:
      return PteWriteOp::kXor;
    case ZYDIS_MNEMONIC_BTS:
      return PteWriteOp::kBitSet;
    case ZYDIS_MNEMONIC_BTR:
      return PteWriteOp::kBitReset;
    case ZYDIS_MNEMONIC_BTC:
      return PteWriteOp::kBitComplement;
    default:
      return std::nullopt;
  }
}

bool is_bit_op(PteWriteOp op) {
  return op == PteWriteOp::kBitSet || op == PteWriteOp::kBitReset ||
         op == PteWriteOp::kBitComplement;
}

// Zydis numbers each class of general-purpose registers in encoding
// order, except the byte registers: AL-BL, AH-BH, then SPL-DIL, R8B-R15B.
std::optional<RegisterOperand> general_register(ZydisRegister reg) {
  auto in = [reg](ZydisRegister first, ZydisRegister last) { return reg >= first && reg <= last; };
  auto operand = [reg](ZydisRegister first, unsigned base, unsigned size, bool high) {
    return RegisterOperand{static_cast<uint8_t>(reg - first + base), static_cast<uint8_t>(size),
                           high};
  };
  if (in(ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_R15)) return operand(ZYDIS_REGISTER_RAX, 0, 8, false);
  if (in(ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_R15D)) return operand(ZYDIS_REGISTER_EAX, 0, 4, false);
  if (in(ZYDIS_REGISTER_AX, ZYDIS_REGISTER_R15W)) return operand(ZYDIS_REGISTER_AX, 0, 2, false);
  if (in(ZYDIS_REGISTER_AL, ZYDIS_REGISTER_BL)) return operand(ZYDIS_REGISTER_AL, 0, 1, false);
  if (in(ZYDIS_REGISTER_AH, ZYDIS_REGISTER_BH)) return operand(ZYDIS_REGISTER_AH, 0, 1, true);
  if (in(ZYDIS_REGISTER_SPL, ZYDIS_REGISTER_R15B)) return operand(ZYDIS_REGISTER_SPL, 4, 1, false);
  return std::nullopt;
}

uint64_t read_register(const GuestRegisters& regs, RegisterOperand reg) {
  uint64_t value = regs.gpr[reg.index];
  if (reg.high_byte) value >>= 8;
  return value & width_mask(reg.size);
}

// As the CPU writes a register: a 4-byte result clears the upper half, a
// 1- or 2-byte one leaves the rest alone.
void write_register(GuestRegisters& regs, RegisterOperand reg, uint64_t value) {
  uint64_t& full = regs.gpr[reg.index];
  if (reg.size == 8 || reg.size == 4) {
    full = value & width_mask(reg.size);
    return;
  }
  unsigned shift = reg.high_byte ? 8 : 0;
  uint64_t mask = width_mask(reg.size) << shift;
  full = (full & ~mask) | ((value << shift) & mask);
}

// base + index * scale + displacement, in the instruction's address size.
// fs and gs have bases of their own; the other segments are flat.
std::optional<uint64_t> effective_address(const ZydisDecodedInstruction& insn,
                                          const ZydisDecodedOperandMem& mem,
                                          const GuestRegisters& regs) {
  if (mem.type != ZYDIS_MEMOP_TYPE_MEM) return std::nullopt;
  if (mem.segment == ZYDIS_REGISTER_FS || mem.segment == ZYDIS_REGISTER_GS) return std::nullopt;
  auto value_of = [&](ZydisRegister reg) -> std::optional<uint64_t> {
    if (reg == ZYDIS_REGISTER_NONE) return 0;
    if (reg == ZYDIS_REGISTER_RIP) return regs.rip + insn.length;
    if (reg == ZYDIS_REGISTER_EIP) return (regs.rip + insn.length) & width_mask(4);
    auto operand = general_register(reg);
    if (!operand) return std::nullopt;
    return read_register(regs, *operand);
  };
  auto base = value_of(mem.base);
  auto index = value_of(mem.index);
  if (!base || !index) return std::nullopt;
  uint64_t address = *base + *index * mem.scale + static_cast<uint64_t>(mem.disp.value);
  return insn.address_width == 32 ? address & width_mask(4) : address;
}

// CMP accumulator, destination (Intel SDM vol. 2, CMPXCHG): the flags of
// `a - b` in `size` bytes.
uint64_t compare_flags(uint64_t rflags, uint64_t a, uint64_t b, unsigned size) {
  uint64_t result = (a - b) & width_mask(size);
  uint64_t flags = rflags & ~flag::kArithmetic;
  if (a < b) flags |= flag::kCf;
  if (result == 0) flags |= flag::kZf;
  if ((result & sign_bit(size)) != 0) flags |= flag::kSf;
  if (((a ^ b) & (a ^ result) & sign_bit(size)) != 0) flags |= flag::kOf;
  if (((a ^ b ^ result) & 0x10) != 0) flags |= flag::kAf;
  if (std::popcount(result & 0xff) % 2 == 0) flags |= flag::kPf;
  return flags;
}

// AND, OR, XOR: CF and OF clear, SF ZF PF from the result. AF is
// undefined; the CPUs in use clear it.
uint64_t logic_flags(uint64_t rflags, uint64_t result, unsigned size) {
  uint64_t flags = rflags & ~flag::kArithmetic;
  if (result == 0) flags |= flag::kZf;
  if ((result & sign_bit(size)) != 0) flags |= flag::kSf;
  if (std::popcount(result & 0xff) % 2 == 0) flags |= flag::kPf;
  return flags;
}

}  // namespace

std::optional<PteWrite> decode_pte_write(std::span<const uint8_t> code,
                                         const GuestRegisters& regs) {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, code.data(), code.size(), &insn, operands)))
    return std::nullopt;
  auto op = operation_of(insn.mnemonic);
  if (!op || insn.operand_count_visible != 2) return std::nullopt;

  // The memory operand is the destination; xchg names it either way round.
  const ZydisDecodedOperand* memory = &operands[0];
  const ZydisDecodedOperand* other = &operands[1];
  if (*op == PteWriteOp::kExchange && memory->type != ZYDIS_OPERAND_TYPE_MEMORY)
    std::swap(memory, other);
  if (memory->type != ZYDIS_OPERAND_TYPE_MEMORY) return std::nullopt;
  unsigned size = memory->size / 8;
  if (size != 1 && size != 2 && size != 4 && size != 8) return std::nullopt;
  auto address = effective_address(insn, memory->mem, regs);
  if (!address) return std::nullopt;

  std::optional<RegisterOperand> source_register;
  uint64_t source = 0;
  if (other->type == ZYDIS_OPERAND_TYPE_REGISTER) {
    source_register = general_register(other->reg.value);
    if (!source_register) return std::nullopt;
    source = read_register(regs, *source_register);
  } else if (other->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    source = other->imm.value.u;  // sign-extended to 64 bits when the encoding says so
  } else {
    return std::nullopt;
  }
  if ((*op == PteWriteOp::kExchange || *op == PteWriteOp::kCompareExchange) && !source_register)
    return std::nullopt;

  PteWrite write;
  write.op = *op;
  write.address = *address;
  write.size = size;
  write.length = insn.length;
  uint64_t bits = size * 8;
  if (is_bit_op(*op) && source_register) {
    // A register bit offset is signed and may reach outside the operand:
    // the CPU accesses the operand-sized unit that holds the bit.
    uint64_t sign = sign_bit(size);
    auto offset = static_cast<int64_t>((source ^ sign) - sign);
    write.address += static_cast<uint64_t>((offset >> std::countr_zero(bits)) * size);
    write.source = source & (bits - 1);
  } else if (is_bit_op(*op)) {
    write.source = source & (bits - 1);  // an immediate counts modulo the width
  } else {
    write.source = source & width_mask(size);
  }
  if (*op == PteWriteOp::kCompareExchange) write.comparand = regs.gpr[0] & width_mask(size);
  if (*op == PteWriteOp::kExchange) write.exchange = source_register;
  if ((write.address & (size - 1)) != 0) return std::nullopt;
  return write;
}

PteWriteResult apply_pte_write(const PteWrite& write, uint64_t old_entry,
                               const GuestRegisters& regs) {
  PteWriteResult result{true, old_entry, regs};
  unsigned shift = static_cast<unsigned>(write.address & 7) * 8;
  uint64_t mask = width_mask(write.size);
  uint64_t old = (old_entry >> shift) & mask;
  uint64_t value = old;
  uint64_t& flags = result.regs.rflags;
  switch (write.op) {
    case PteWriteOp::kStore:
      value = write.source;
      break;
    case PteWriteOp::kExchange:
      value = write.source;
      write_register(result.regs, *write.exchange, old);
      break;
    case PteWriteOp::kCompareExchange:
      flags = compare_flags(flags, write.comparand, old, write.size);
      if (old == write.comparand) {
        value = write.source;
      } else {
        result.stores = false;
        write_register(result.regs, {0, static_cast<uint8_t>(write.size), false}, old);
      }
      break;
    case PteWriteOp::kAnd:
      value = old & write.source;
      flags = logic_flags(flags, value, write.size);
      break;
    case PteWriteOp::kOr:
      value = old | write.source;
      flags = logic_flags(flags, value, write.size);
      break;
    case PteWriteOp::kXor:
      value = old ^ write.source;
      flags = logic_flags(flags, value, write.size);
      break;
    case PteWriteOp::kBitSet:
    case PteWriteOp::kBitReset:
    case PteWriteOp::kBitComplement: {
      // CF takes the old bit; the other flags are undefined and kept.
      uint64_t bit = 1ULL << write.source;
      flags = (old & bit) != 0 ? (flags | flag::kCf) : (flags & ~flag::kCf);
      value = write.op == PteWriteOp::kBitSet     ? (old | bit)
              : write.op == PteWriteOp::kBitReset ? (old & ~bit)
                                                  : (old ^ bit);
      break;
    }
  }
  result.new_entry = (old_entry & ~(mask << shift)) | ((value & mask) << shift);
  result.regs.rip += write.length;
  return result;
}

}  // namespace xpv::hv
