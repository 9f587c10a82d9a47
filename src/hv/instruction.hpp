// Fetching and decoding the guest instruction at rip (Zydis), for the
// emulation paths: privileged operations, the forced-emulation prefix,
// and, later, page-table writes.
#pragma once

#include <Zydis/Zydis.h>

#include <array>
#include <cstdint>
#include <optional>

namespace xpv::vmm {
class Vcpu;
}

namespace xpv::hv {

struct Instruction {
  std::array<uint8_t, ZYDIS_MAX_INSTRUCTION_LENGTH> bytes{};
  ZydisMnemonic mnemonic = ZYDIS_MNEMONIC_INVALID;
  uint8_t length = 0;
};

// Reads up to 15 bytes at `va` through the vCPU's page tables (fewer near
// an unmapped page) and decodes one 64-bit instruction.
std::optional<Instruction> fetch_instruction(vmm::Vcpu& vcpu, uint64_t va);
std::optional<Instruction> fetch_instruction(vmm::Vcpu& vcpu);  // at the guest's rip

}  // namespace xpv::hv
