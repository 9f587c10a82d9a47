#include "hv/instruction.hpp"

#include "vmm/vcpu.hpp"

namespace xpv::hv {

std::optional<Instruction> fetch_instruction(vmm::Vcpu& vcpu, uint64_t va) {
  Instruction insn;
  auto memory = vcpu.guest_memory();
  // Take as many bytes as are readable: an instruction may end just
  // before an unmapped page.
  size_t available = 0;
  while (available < insn.bytes.size() &&
         memory.copy_from(va + available, std::span(insn.bytes.data() + available, 1)))
    ++available;
  if (available == 0) return std::nullopt;

  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction decoded;
  if (!ZYAN_SUCCESS(
          ZydisDecoderDecodeInstruction(&decoder, nullptr, insn.bytes.data(), available, &decoded)))
    return std::nullopt;
  insn.mnemonic = decoded.mnemonic;
  insn.length = decoded.length;
  return insn;
}

std::optional<Instruction> fetch_instruction(vmm::Vcpu& vcpu) {
  return fetch_instruction(vcpu, vcpu.frame().rip);
}

}  // namespace xpv::hv
