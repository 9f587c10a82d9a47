#include "vmm/crash_report.hpp"

#include <Zydis/Zydis.h>
#include <asm/processor-flags.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <string_view>
#include <utility>

#include "base/error.hpp"

namespace xpv::vmm {
namespace {

constexpr size_t kInstructionsBeforeRip = 3;
constexpr size_t kInstructionsFromRip = 4;  // the one at rip and three after it
constexpr size_t kByteColumnBytes = 8;      // longer instructions push the mnemonic right
constexpr size_t kBadBytesShown = 8;
constexpr size_t kRegistersPerLine = 4;
constexpr size_t kStackQwordsPerLine = 4;
constexpr std::string_view kRipMarker = "=> ";
constexpr std::string_view kIndent = "   ";  // as wide as kRipMarker

std::string hex(uint64_t value, size_t digits) {
  std::array<char, 16> buffer{};
  char* end = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value, 16).ptr;
  std::string text(buffer.data(), end);
  if (text.size() < digits) text.insert(0, digits - text.size(), '0');
  return text;
}

std::string hex64(uint64_t value) {
  return hex(value, 16);
}

std::string pad_right(std::string text, size_t width) {
  text.resize(std::max(text.size(), width), ' ');
  return text;
}

std::string pad_left(std::string_view text, size_t width) {
  std::string padded(width > text.size() ? width - text.size() : 0, ' ');
  return padded.append(text);
}

std::string hex_bytes(std::span<const uint8_t> bytes) {
  std::string text;
  for (const uint8_t byte : bytes) {
    if (!text.empty()) text += ' ';
    text += hex(byte, 2);
  }
  return text;
}

std::string listing_line(uint64_t va, std::span<const uint8_t> bytes, std::string_view text) {
  constexpr size_t kByteColumnWidth = kByteColumnBytes * 3 - 1;
  return hex64(va) + ": " + pad_right(hex_bytes(bytes), kByteColumnWidth) + "  " +
         std::string(text);
}

enum class DecodeResult { kInstruction, kBad, kTruncated };

struct ListingEntry {
  uint64_t va = 0;
  size_t length = 0;
  DecodeResult result = DecodeResult::kBad;
  std::string line;
};

bool is_instruction(const ListingEntry& entry) {
  return entry.result == DecodeResult::kInstruction;
}

class Disassembler {
 public:
  Disassembler() {
    if (!ZYAN_SUCCESS(
            ZydisDecoderInit(&decoder_, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)) ||
        !ZYAN_SUCCESS(ZydisFormatterInit(&formatter_, ZYDIS_FORMATTER_STYLE_INTEL)) ||
        !ZYAN_SUCCESS(ZydisFormatterSetProperty(&formatter_, ZYDIS_FORMATTER_PROP_HEX_UPPERCASE,
                                                ZYAN_FALSE))) [[unlikely]] {
      throw Error("crash report: cannot initialise the Zydis decoder and formatter");
    }
  }

  // Decodes the one instruction at the start of `bytes`, which sit at `va`.
  ListingEntry decode(std::span<const uint8_t> bytes, uint64_t va) const {
    ZydisDecodedInstruction instruction{};
    std::array<ZydisDecodedOperand, ZYDIS_MAX_OPERAND_COUNT> operands{};
    const ZyanStatus status = ZydisDecoderDecodeFull(&decoder_, bytes.data(), bytes.size(),
                                                     &instruction, operands.data());
    if (status == ZYDIS_STATUS_NO_MORE_DATA) {
      return {va, 0, DecodeResult::kTruncated, listing_line(va, bytes, "(truncated)")};
    }
    std::array<char, 256> text{};
    // The runtime address makes relative branches print their absolute target.
    if (!ZYAN_SUCCESS(status) ||
        !ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&formatter_, &instruction, operands.data(),
                                                      instruction.operand_count_visible,
                                                      text.data(), text.size(), va, nullptr))) {
      const auto shown = bytes.first(std::min(bytes.size(), kBadBytesShown));
      return {va, 0, DecodeResult::kBad, listing_line(va, shown, "(bad)")};
    }
    const auto encoding = bytes.first(instruction.length);
    return {va, encoding.size(), DecodeResult::kInstruction,
            listing_line(va, encoding, text.data())};
  }

 private:
  ZydisDecoder decoder_{};
  ZydisFormatter formatter_{};
};

// Decodes forward from `va` until max_instructions, the end of `bytes`, or
// the first entry that is not an instruction (which is kept).
std::vector<ListingEntry> decode_listing(std::span<const uint8_t> bytes, uint64_t va,
                                         size_t max_instructions) {
  const Disassembler disassembler;
  std::vector<ListingEntry> listing;
  size_t offset = 0;
  while (offset < bytes.size() && listing.size() < max_instructions) {
    listing.push_back(disassembler.decode(bytes.subspan(offset), va + offset));
    if (!is_instruction(listing.back())) break;
    offset += listing.back().length;
  }
  return listing;
}

// Decoding backwards from rip is ambiguous, so the bytes before rip are
// decoded forward from code_va and shown only if that decode lands exactly
// on rip: a misaligned decode would show plausible but wrong instructions.
std::vector<ListingEntry> instructions_before_rip(std::span<const uint8_t> before_rip,
                                                  uint64_t code_va) {
  auto listing = decode_listing(before_rip, code_va, before_rip.size());
  if (!std::ranges::all_of(listing, is_instruction)) return {};
  const size_t excess = listing.size() - std::min(listing.size(), kInstructionsBeforeRip);
  listing.erase(listing.begin(), listing.begin() + static_cast<std::ptrdiff_t>(excess));
  return listing;
}

std::vector<ListingEntry> instructions_from_rip(std::span<const uint8_t> from_rip, uint64_t rip) {
  auto listing = decode_listing(from_rip, rip, kInstructionsFromRip);
  // Past rip, a cut-off instruction only means the code read ended there.
  if (listing.size() > 1 && listing.back().result == DecodeResult::kTruncated) listing.pop_back();
  return listing;
}

void append_code(std::string& out, const CrashContext& ctx) {
  out += "Code:\n";
  const uint64_t rip = ctx.regs.rip;
  if (rip < ctx.code_va || rip - ctx.code_va >= ctx.code.size()) {
    out.append(kIndent).append("(code at rip unreadable)\n");
    return;
  }
  const std::span<const uint8_t> code(ctx.code);
  const size_t rip_offset = rip - ctx.code_va;
  for (const auto& entry : instructions_before_rip(code.first(rip_offset), ctx.code_va)) {
    out.append(kIndent).append(entry.line).append("\n");
  }
  for (const auto& entry : instructions_from_rip(code.subspan(rip_offset), rip)) {
    out.append(entry.va == rip ? kRipMarker : kIndent).append(entry.line).append("\n");
  }
}

struct NamedRegister {
  std::string_view name;
  decltype(kvm_regs::rax) kvm_regs::*field;
};

constexpr std::array kGeneralRegisters{
    NamedRegister{"rax", &kvm_regs::rax}, NamedRegister{"rbx", &kvm_regs::rbx},
    NamedRegister{"rcx", &kvm_regs::rcx}, NamedRegister{"rdx", &kvm_regs::rdx},
    NamedRegister{"rsi", &kvm_regs::rsi}, NamedRegister{"rdi", &kvm_regs::rdi},
    NamedRegister{"rbp", &kvm_regs::rbp}, NamedRegister{"rsp", &kvm_regs::rsp},
    NamedRegister{"r8", &kvm_regs::r8},   NamedRegister{"r9", &kvm_regs::r9},
    NamedRegister{"r10", &kvm_regs::r10}, NamedRegister{"r11", &kvm_regs::r11},
    NamedRegister{"r12", &kvm_regs::r12}, NamedRegister{"r13", &kvm_regs::r13},
    NamedRegister{"r14", &kvm_regs::r14}, NamedRegister{"r15", &kvm_regs::r15},
};

void append_general_registers(std::string& out, const kvm_regs& regs) {
  for (size_t i = 0; i < kGeneralRegisters.size(); ++i) {
    const auto& reg = kGeneralRegisters[i];
    out += pad_left(reg.name, 3) + ": " + hex64(regs.*reg.field);
    out += (i + 1) % kRegistersPerLine == 0 ? "\n" : "  ";
  }
}

struct RflagsBit {
  std::string_view name;
  uint64_t mask;
};

constexpr std::array kRflagsBits{
    RflagsBit{"CF", X86_EFLAGS_CF},   RflagsBit{"PF", X86_EFLAGS_PF},
    RflagsBit{"AF", X86_EFLAGS_AF},   RflagsBit{"ZF", X86_EFLAGS_ZF},
    RflagsBit{"SF", X86_EFLAGS_SF},   RflagsBit{"TF", X86_EFLAGS_TF},
    RflagsBit{"IF", X86_EFLAGS_IF},   RflagsBit{"DF", X86_EFLAGS_DF},
    RflagsBit{"OF", X86_EFLAGS_OF},   RflagsBit{"NT", X86_EFLAGS_NT},
    RflagsBit{"RF", X86_EFLAGS_RF},   RflagsBit{"VM", X86_EFLAGS_VM},
    RflagsBit{"AC", X86_EFLAGS_AC},   RflagsBit{"VIF", X86_EFLAGS_VIF},
    RflagsBit{"VIP", X86_EFLAGS_VIP}, RflagsBit{"ID", X86_EFLAGS_ID},
};

// The set flags by name, and IOPL when non-zero: PV guest kernels run at
// CPL3, so IOPL decides whether their port I/O traps.
std::string rflags_names(uint64_t rflags) {
  std::string names;
  const auto append = [&names](std::string_view name) {
    if (!names.empty()) names += ' ';
    names += name;
  };
  for (const auto& bit : kRflagsBits) {
    if ((rflags & bit.mask) != 0) append(bit.name);
  }
  const uint64_t iopl = (rflags & X86_EFLAGS_IOPL) >> X86_EFLAGS_IOPL_BIT;
  if (iopl != 0) append("IOPL=" + std::to_string(iopl));
  return names;
}

void append_segments(std::string& out, const kvm_sregs& sregs) {
  const std::array segments{
      std::pair{"cs", &sregs.cs}, std::pair{"ss", &sregs.ss}, std::pair{"ds", &sregs.ds},
      std::pair{"es", &sregs.es}, std::pair{"fs", &sregs.fs}, std::pair{"gs", &sregs.gs},
  };
  std::string separator;
  for (const auto& [name, segment] : segments) {
    out += separator + name + ": " + hex(segment->selector, 4);
    separator = "  ";
  }
  out += "\nfs_base: " + hex64(sregs.fs.base) + "  gs_base: " + hex64(sregs.gs.base) + "\n";
}

void append_registers(std::string& out, const CrashContext& ctx) {
  append_general_registers(out, ctx.regs);
  out += "rip: " + hex64(ctx.regs.rip) + "  rflags: " + hex64(ctx.regs.rflags) + " [" +
         rflags_names(ctx.regs.rflags) + "]\n";
  append_segments(out, ctx.sregs);
  const kvm_sregs& sregs = ctx.sregs;
  out += "cr0: " + hex64(sregs.cr0) + "  cr2: " + hex64(sregs.cr2) + "  cr3: " + hex64(sregs.cr3) +
         "  cr4: " + hex64(sregs.cr4) + "\nefer: " + hex64(sregs.efer) + "\n";
}

void append_stack(std::string& out, const CrashContext& ctx) {
  out += "Stack:\n";
  if (ctx.stack.empty()) {
    out.append(kIndent).append("(stack unreadable)\n");
    return;
  }
  for (size_t i = 0; i < ctx.stack.size(); ++i) {
    if (i % kStackQwordsPerLine == 0) {
      out.append(kIndent).append(hex64(ctx.stack_va + i * sizeof(uint64_t))).append(":");
    }
    out += " " + hex64(ctx.stack[i]);
    if ((i + 1) % kStackQwordsPerLine == 0 || i + 1 == ctx.stack.size()) out += "\n";
  }
}

void append_last_hypercalls(std::string& out, const CrashContext& ctx) {
  out += "Last hypercalls:\n";
  if (ctx.last_hypercalls.empty()) out.append(kIndent).append("(none recorded)\n");
  for (const auto& hypercall : ctx.last_hypercalls) {
    out.append(kIndent).append(hypercall).append("\n");
  }
}

}  // namespace

std::vector<std::string> disassemble(std::span<const uint8_t> bytes, uint64_t va,
                                     size_t max_instructions) {
  std::vector<std::string> lines;
  for (auto& entry : decode_listing(bytes, va, max_instructions)) {
    lines.push_back(std::move(entry.line));
  }
  return lines;
}

std::string format_crash_report(const CrashContext& ctx) {
  std::string out = "xpv: domain crashed: " + ctx.reason + "\n";
  out += "vCPU " + std::to_string(ctx.vcpu) + " in guest " +
         (ctx.guest_kernel_mode ? "kernel" : "user") + " mode\n";
  append_registers(out, ctx);
  append_code(out, ctx);
  append_stack(out, ctx);
  append_last_hypercalls(out, ctx);
  return out;
}

}  // namespace xpv::vmm
